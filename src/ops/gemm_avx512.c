/* AVX-512 (VNNI, 256-bit registers) instance of the tiled matrix-product
 * kernels (template in gemm_x86.h): tiles of 4 weight rows by 4 tokens,
 * which the 32 vector registers of AVX-512VL hold without spilling. */
#define GEMM_MR 4
#define GEMM_MT 4
#include "ops/gemm_x86.h"

#define GEMM_TILES_4(KIND, R) GEMM_TILE_FN(KIND, R, 1) GEMM_TILE_FN(KIND, R, 2) \
    GEMM_TILE_FN(KIND, R, 3) GEMM_TILE_FN(KIND, R, 4)
#define GEMM_KIND(KIND)                                                                       \
    GEMM_TILES_4(KIND, 1) GEMM_TILES_4(KIND, 2) GEMM_TILES_4(KIND, 3) GEMM_TILES_4(KIND, 4)   \
    static gemm_tile_fn const KIND##_tiles[4][4] = {                                          \
        {KIND##_tile_1x1, KIND##_tile_1x2, KIND##_tile_1x3, KIND##_tile_1x4},                 \
        {KIND##_tile_2x1, KIND##_tile_2x2, KIND##_tile_2x3, KIND##_tile_2x4},                 \
        {KIND##_tile_3x1, KIND##_tile_3x2, KIND##_tile_3x3, KIND##_tile_3x4},                 \
        {KIND##_tile_4x1, KIND##_tile_4x2, KIND##_tile_4x3, KIND##_tile_4x4},                 \
    };                                                                                        \
    static void KIND##_gemm(int64_t cols, const void *w, size_t ws, int64_t n_rows,           \
                            const void *a, size_t as, int64_t n_tok, float *y, int64_t ldy) { \
        gemm_sweep(KIND##_tiles, cols / KIND##_QK, w, ws, n_rows, a, as, n_tok, y, ldy);      \
    }

#define q4k_QK SLM_QK_K
#define q6k_QK SLM_QK_K
#define q8_0_QK SLM_QK
GEMM_KIND(q4k)
GEMM_KIND(q6k)
GEMM_KIND(q8_0)

/* Q8_0 with the hoisted per-block work (gemm_x86.h), the plain tiles as
 * the fallback when its scratch cannot be allocated. */
#define Q8P_FN(R, T)                                                                          \
    static void q8_0p_tile_##R##x##T(int64_t nb, const q8_0_prep *p, const uint8_t *a, size_t as, \
                                     float *y, int64_t ldy) {                                 \
        q8_0p_tile(R, T, nb, p, a, as, y, ldy);                                               \
    }
#define Q8P_ROW(R) Q8P_FN(R, 1) Q8P_FN(R, 2) Q8P_FN(R, 3) Q8P_FN(R, 4)
Q8P_ROW(1) Q8P_ROW(2) Q8P_ROW(3) Q8P_ROW(4)
static q8_0p_tile_fn const q8_0p_tiles[4][4] = {
    {q8_0p_tile_1x1, q8_0p_tile_1x2, q8_0p_tile_1x3, q8_0p_tile_1x4},
    {q8_0p_tile_2x1, q8_0p_tile_2x2, q8_0p_tile_2x3, q8_0p_tile_2x4},
    {q8_0p_tile_3x1, q8_0p_tile_3x2, q8_0p_tile_3x3, q8_0p_tile_3x4},
    {q8_0p_tile_4x1, q8_0p_tile_4x2, q8_0p_tile_4x3, q8_0p_tile_4x4},
};

static void q8_0p_gemm(int64_t cols, const void *w, size_t ws, int64_t n_rows, const void *a, size_t as,
                       int64_t n_tok, float *y, int64_t ldy) {
    if (!q8_0p_sweep(q8_0p_tiles, cols / SLM_QK, w, ws, n_rows, a, as, n_tok, y, ldy))
        q8_0_gemm(cols, w, ws, n_rows, a, as, n_tok, y, ldy);
}

slm_gemm_fn slm_gemm_avx512(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_Q4_K: return q4k_gemm;
    case SLM_TYPE_Q6_K: return q6k_gemm;
    case SLM_TYPE_Q8_0: return q8_0p_gemm;
    default: return NULL;
    }
}

/* No one-token kernels at this level: the AVX512-VNNI Q4_K vec_dot
 * (quant_kdot_avx512.c) measured faster than q4k_gemv here (93 against 80
 * GFLOP/s on 2048x2048, Zen 4), so generation uses vec_dot. */
slm_gemm_fn slm_gemv_avx512(slm_dtype t) {
    (void)t;
    return NULL;
}
