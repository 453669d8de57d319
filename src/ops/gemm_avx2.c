/* AVX2+FMA instance of the tiled matrix-product kernels (template in
 * gemm_x86.h): tiles of 2 weight rows by 4 tokens, so the accumulators
 * and unpacked weights fit AVX2's 16 vector registers. */
#define GEMM_MR 2
#define GEMM_MT 4
#include "ops/gemm_x86.h"

#define GEMM_TILES_4(KIND, R) GEMM_TILE_FN(KIND, R, 1) GEMM_TILE_FN(KIND, R, 2) \
    GEMM_TILE_FN(KIND, R, 3) GEMM_TILE_FN(KIND, R, 4)
#define GEMM_KIND(KIND)                                                                       \
    GEMM_TILES_4(KIND, 1) GEMM_TILES_4(KIND, 2)                                               \
    static gemm_tile_fn const KIND##_tiles[2][4] = {                                          \
        {KIND##_tile_1x1, KIND##_tile_1x2, KIND##_tile_1x3, KIND##_tile_1x4},                 \
        {KIND##_tile_2x1, KIND##_tile_2x2, KIND##_tile_2x3, KIND##_tile_2x4},                 \
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

slm_gemm_fn slm_gemm_avx2(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_Q4_K: return q4k_gemm;
    case SLM_TYPE_Q6_K: return q6k_gemm;
    case SLM_TYPE_Q8_0: return q8_0_gemm;
    default: return NULL;
    }
}

/* q4k_gemv: about as fast as the AVX2 Q4_K vec_dot (80 against 78
 * GFLOP/s in cache, Zen 4 at the AVX2 level). */
slm_gemm_fn slm_gemv_avx2(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_Q4_K: return q4k_gemv;
    default: return NULL;
    }
}
