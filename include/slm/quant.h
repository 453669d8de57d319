/* slm quantized formats: block layouts and per-type kernels.
 *
 * Block layouts are those of the GGUF files users download (ggml's formats),
 * byte for byte. Each weight type has a scalar reference implementation and,
 * where written, AVX2 and AVX-512 versions picked at run time by CPUID.
 *
 * Dot products take the weight row in its own type and the activation row in
 * the type's `vec_dot_type` (e.g. Q4_K weights x Q8_K activations; F16
 * weights x F16 activations), exactly like llama.cpp's CPU backend, so that
 * results match it: activations are quantized with `from_float` of the
 * vec_dot_type before the product. */
#ifndef SLM_QUANT_H
#define SLM_QUANT_H

#include "slm/base.h"
#include "slm/dtype.h"

/* ---- Block layouts ---------------------------------------------------- */
typedef struct { slm_f16 d; uint8_t qs[SLM_QK / 2]; } slm_block_q4_0;             /* 18 B */
typedef struct { slm_f16 d, m; uint8_t qs[SLM_QK / 2]; } slm_block_q4_1;          /* 20 B */
typedef struct { slm_f16 d; uint8_t qh[4]; uint8_t qs[SLM_QK / 2]; } slm_block_q5_0;   /* 22 B */
typedef struct { slm_f16 d, m; uint8_t qh[4]; uint8_t qs[SLM_QK / 2]; } slm_block_q5_1; /* 24 B */
typedef struct { slm_f16 d; int8_t qs[SLM_QK]; } slm_block_q8_0;                  /* 34 B */
typedef struct { slm_f16 d, s; int8_t qs[SLM_QK]; } slm_block_q8_1;               /* 36 B: s = d * sum(qs) */

typedef struct {
    uint8_t scales[SLM_QK_K / 16]; /* 4-bit scale | 4-bit min per 16 */
    uint8_t qs[SLM_QK_K / 4];      /* 2-bit quants */
    slm_f16 d, dmin;
} slm_block_q2_K; /* 84 B */
typedef struct {
    uint8_t hmask[SLM_QK_K / 8]; /* high bit */
    uint8_t qs[SLM_QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];          /* 16 x 6-bit scales */
    slm_f16 d;
} slm_block_q3_K; /* 110 B */
typedef struct {
    slm_f16 d, dmin;
    uint8_t scales[12];          /* 8 x (6-bit scale, 6-bit min) */
    uint8_t qs[SLM_QK_K / 2];
} slm_block_q4_K; /* 144 B */
typedef struct {
    slm_f16 d, dmin;
    uint8_t scales[12];
    uint8_t qh[SLM_QK_K / 8];
    uint8_t qs[SLM_QK_K / 2];
} slm_block_q5_K; /* 176 B */
typedef struct {
    uint8_t ql[SLM_QK_K / 2];
    uint8_t qh[SLM_QK_K / 4];
    int8_t scales[SLM_QK_K / 16];
    slm_f16 d;
} slm_block_q6_K; /* 210 B */
typedef struct {
    float d;
    int8_t qs[SLM_QK_K];
    int16_t bsums[SLM_QK_K / 16]; /* sums of qs in groups of 16 */
} slm_block_q8_K; /* 292 B */

/* ---- Kernels ---------------------------------------------------------- */
typedef void (*slm_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*slm_from_float_fn)(const float *x, void *y, int64_t n);
/* *s = dot(x[0..n), y[0..n)); n a multiple of the block size. */
typedef void (*slm_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

typedef struct slm_type_traits {
    slm_dtype type;
    slm_dtype vec_dot_type;     /* activation format for vec_dot */
    slm_to_float_fn to_float;   /* dequantize */
    slm_from_float_fn from_float; /* quantize (reference quality) */
    slm_vec_dot_fn vec_dot;     /* x: this type, y: vec_dot_type */
} slm_type_traits;

typedef enum slm_simd_level {
    SLM_SIMD_SCALAR = 0,
    SLM_SIMD_AVX2 = 1,   /* AVX2 + FMA + F16C */
    SLM_SIMD_AVX512 = 2, /* AVX-512 F/BW/VL/DQ/VNNI */
} slm_simd_level;

/* The best level this CPU supports (CPUID), capped by the environment
 * variable SLM_SIMD=scalar|avx2|avx512 when set. */
slm_simd_level slm_simd_detect(void);
const char *slm_simd_name(slm_simd_level l);

/* Kernels for type t at the active level (slm_simd_detect()); NULL when the
 * type has no kernels. Thread-safe after first call. */
const slm_type_traits *slm_type_traits_get(slm_dtype t);
/* Kernels for type t at an explicit level; fields the level lacks fall back
 * to the next lower level. NULL when the type has no kernels. Tests use this
 * to compare SIMD paths with the scalar reference. */
const slm_type_traits *slm_type_traits_at(slm_dtype t, slm_simd_level level);

#endif
