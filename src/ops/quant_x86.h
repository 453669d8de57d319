/* Internal helpers shared by the x86 SIMD kernel files (*_avx2.c and
 * *_avx512.c only: they need the ISA flags those files are compiled with).
 * Holds the small inline building blocks (8-bit dot products, horizontal
 * sums, half-float scales, k-quant scale unpacking) and the names of the
 * AVX2 kernels, which the AVX-512 level reuses where 512-bit code does not
 * pay.
 *
 * The 8-bit dot primitives use VNNI (vpdpbusd/vpdpwssd) when the including
 * file is compiled with AVX512-VNNI, and maddubs+madd otherwise. maddubs
 * saturates pairs at int16: callers keep |u0*s0 + u1*s1| < 32768, which
 * holds for every format here because activations are in [-127, 127]. */
#ifndef SLM_OPS_QUANT_X86_H
#define SLM_OPS_QUANT_X86_H

#include <immintrin.h>

#include "ops/quant_simd.h"

/* ---- scalar helpers ---------------------------------------------------- */
static inline float slm_x86_f16(slm_f16 h) { return _cvtsh_ss(h); }

static inline float slm_x86_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float slm_x86_hsum4(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i slm_x86_load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* ---- 8-bit dot products (8 int32 lanes, each the sum of 4 products) ----- */
/* u unsigned bytes, s signed bytes. */
static inline __m256i slm_x86_dot_us(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

/* Both signed: |x| times y with x's sign moved onto y. */
static inline __m256i slm_x86_dot_ss(__m256i x, __m256i y) {
    return slm_x86_dot_us(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* acc += pairwise int16 products (madd), fused with VNNI. */
static inline __m256i slm_x86_madd_acc(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpwssd_epi32(acc, a, b);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

/* 32 nibbles of a legacy block: byte j = low nibble of q[j] (j < 16),
 * byte 16 + j = high nibble of q[j]. */
static inline __m256i slm_x86_nibbles32(const uint8_t *q) {
    __m128i t = _mm_loadu_si128((const __m128i *)q);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* Byte i = 0xff where bit i of the 32-bit mask is set, else 0. */
static inline __m256i slm_x86_bits32(uint32_t bits) {
    const __m256i sel = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                          0x0101010101010101, 0x0000000000000000);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), sel);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Unpacked 6-bit scales and mins of Q4_K/Q5_K: bytes 0..7 the scales,
 * bytes 8..15 the mins. */
static inline __m128i slm_x86_k4_scales(const uint8_t *q) {
    uint32_t u[3];
    __builtin_memcpy(u, q, 12);
    const uint32_t m6 = 0x3f3f3f3fu, m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    uint32_t s0 = u[0] & m6;
    uint32_t s1 = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    uint32_t n0 = u[1] & m6;
    uint32_t n1 = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    return _mm_set_epi32((int)n1, (int)n0, (int)s1, (int)s0);
}

/* The 16 signed 6-bit scales of Q3_K (already minus 32). */
static inline __m128i slm_x86_q3k_scales(const uint8_t *q) {
    uint32_t a[3];
    __builtin_memcpy(a, q, 12);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    uint32_t s0 = (a[0] & m4) | (((a[2] >> 0) & m2) << 4);
    uint32_t s1 = (a[1] & m4) | (((a[2] >> 2) & m2) << 4);
    uint32_t s2 = ((a[0] >> 4) & m4) | (((a[2] >> 4) & m2) << 4);
    uint32_t s3 = ((a[1] >> 4) & m4) | (((a[2] >> 6) & m2) << 4);
    __m128i s = _mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0);
    return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

/* From 8 int16 scales s[0..8) in a 128-bit register broadcast to both
 * lanes, the vector [s[k] x8 | s[k+1] x8] (lane 0 / lane 1), k <= 6. */
static inline __m256i slm_x86_scale_pair(__m256i s16x2, int k) {
    const char lo = (char)(2 * k), hi = (char)(2 * k + 1);
    const char lo2 = (char)(2 * k + 2), hi2 = (char)(2 * k + 3);
    __m256i ctl = _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                                   lo2, hi2, lo2, hi2, lo2, hi2, lo2, hi2, lo2, hi2, lo2, hi2,
                                   lo2, hi2, lo2, hi2);
    return _mm256_shuffle_epi8(s16x2, ctl);
}

/* From the same input, s[k] in all 16 int16 lanes (k <= 7). */
static inline __m256i slm_x86_scale_bcast(__m256i s16x2, int k) {
    const char lo = (char)(2 * k), hi = (char)(2 * k + 1);
    __m256i ctl = _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                                   lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi);
    return _mm256_shuffle_epi8(s16x2, ctl);
}

/* ---- AVX2 kernels (quant_dot_avx2.c, quant_kdot_avx2.c) ------------------ */
void slm_x86_dot_f32_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_f16_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_bf16_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q4_0_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q4_1_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_0_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_1_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q2_K_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q3_K_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q4_K_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_K_avx2(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q6_K_avx2(int64_t n, float *s, const void *x, const void *y);

/* AVX-512 kernels (quant_dot_avx512.c, quant_kdot_avx512.c). */
void slm_x86_dot_q4_0_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q4_1_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_0_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_1_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q2_K_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q3_K_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q4_K_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q5_K_avx512(int64_t n, float *s, const void *x, const void *y);
void slm_x86_dot_q6_K_avx512(int64_t n, float *s, const void *x, const void *y);

/* from_float / to_float of the AVX2 level (quant_quantize_avx2.c,
 * quant_dequant_avx2.c); NULL for types they do not cover. */
slm_from_float_fn slm_x86_from_float_avx2(slm_dtype t);
slm_to_float_fn slm_x86_to_float_avx2(slm_dtype t);

#endif
