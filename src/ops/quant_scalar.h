/* Scalar reference kernels for every quantized format (internal).
 *
 * One to_float / from_float / vec_dot triple per type, named
 * slm_scalar_{to_float,from_float,vec_dot}_<type>. Their results define
 * what the SIMD versions must reproduce, and they follow llama.cpp's ggml
 * CPU reference code operation by operation (same integer accumulation
 * per block, same float operation order) so that logits match it.
 *
 * vec_dot_<t>(n, s, x, y): x is a row of type t, y a row of t's
 * vec_dot_type (see slm_scalar_traits); n a multiple of the block size.
 *
 * The kernels call slm_base_init() themselves (half->float table), so
 * tests may call them directly. */
#ifndef SLM_OPS_QUANT_SCALAR_H
#define SLM_OPS_QUANT_SCALAR_H

#include <string.h>

#include "slm/quant.h"

/* ---- Shared helpers ---------------------------------------------------- */

/* Round to nearest, ties to even, for |f| < 2^22: adding 1.5*2^23 pushes
 * the integer part into the low mantissa bits (ggml's nearest_int). */
static inline int slm_nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline float slm_h2f(slm_f16 h) { return slm_f16_table[h]; }

/* Fills *out with the scalar kernels of t; false when t has none. */
bool slm_scalar_traits(slm_dtype t, slm_type_traits *out);

/* The best level this CPU and OS support (CPUID/XGETBV), ignoring the
 * SLM_SIMD variable. slm_type_traits_at() never goes above it, so asking
 * for a level the CPU lacks is safe (you get the lower one). */
slm_simd_level slm_simd_cpu_level(void);

/* 6-bit scale and min j (0..7) of a Q4_K/Q5_K block's packed scales. */
static inline void slm_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* 6-bit scale j (0..15) of a Q3_K block, already minus 32. */
static inline int slm_q3k_scale(int j, const uint8_t *s) {
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* ---- Declarations ------------------------------------------------------ */
#define SLM_SCALAR_DECL(name)                                                 \
    void slm_scalar_to_float_##name(const void *x, float *y, int64_t n);     \
    void slm_scalar_from_float_##name(const float *x, void *y, int64_t n);   \
    void slm_scalar_vec_dot_##name(int64_t n, float *s, const void *x, const void *y);

SLM_SCALAR_DECL(f32)
SLM_SCALAR_DECL(f16)
SLM_SCALAR_DECL(bf16)
SLM_SCALAR_DECL(q4_0)
SLM_SCALAR_DECL(q4_1)
SLM_SCALAR_DECL(q5_0)
SLM_SCALAR_DECL(q5_1)
SLM_SCALAR_DECL(q8_0)
SLM_SCALAR_DECL(q8_1)
SLM_SCALAR_DECL(q2_K)
SLM_SCALAR_DECL(q3_K)
SLM_SCALAR_DECL(q4_K)
SLM_SCALAR_DECL(q5_K)
SLM_SCALAR_DECL(q6_K)
SLM_SCALAR_DECL(q8_K)

#undef SLM_SCALAR_DECL

#endif
