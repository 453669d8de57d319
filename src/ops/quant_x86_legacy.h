/* Template of the legacy-quant dot products (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
 * against Q8_0/Q8_1 activations), instantiated by quant_dot_avx2.c and
 * quant_dot_avx512.c: the same code compiled once per ISA, so the AVX-512
 * level gets VNNI (vpdpbusd) through the primitives of quant_x86.h.
 *
 * Each block gives exact int32 partial sums in 8 lanes, scaled by d_x*d_y
 * with one FMA into one of four float accumulators. The scales of four
 * blocks are converted from f16 together (one vcvtph2ps per operand instead
 * of two per block: measured 5-10% faster) and broadcast with a permute.
 * Only one horizontal sum, at the end. */
#ifndef SLM_OPS_QUANT_X86_LEGACY_H
#define SLM_OPS_QUANT_X86_LEGACY_H

#include "ops/quant_x86.h"

/* ---- one block -> 8 int32 lanes as floats -------------------------------- */

static inline __m256 slm_x86_blk_q8_0(const slm_block_q8_0 *x, const slm_block_q8_0 *y) {
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(slm_x86_load32(x->qs), slm_x86_load32(y->qs)));
}

static inline __m256 slm_x86_blk_q4_0(const slm_block_q4_0 *x, const slm_block_q8_0 *y) {
    __m256i q = _mm256_sub_epi8(slm_x86_nibbles32(x->qs), _mm256_set1_epi8(8));
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(q, slm_x86_load32(y->qs)));
}

static inline __m256 slm_x86_blk_q4_1(const slm_block_q4_1 *x, const slm_block_q8_1 *y) {
    return _mm256_cvtepi32_ps(slm_x86_dot_us(slm_x86_nibbles32(x->qs), slm_x86_load32(y->qs)));
}

static inline uint32_t slm_x86_load_qh(const uint8_t *qh) {
    uint32_t v;
    __builtin_memcpy(&v, qh, 4);
    return v;
}

/* Q5_0 value = (nibble | high << 4) - 16 = nibble - 16 where the high bit
 * is clear, i.e. the nibble with 0xf0 or-ed in as a signed byte. */
static inline __m256 slm_x86_blk_q5_0(const slm_block_q5_0 *x, const slm_block_q8_0 *y) {
    __m256i hi = slm_x86_bits32(slm_x86_load_qh(x->qh));
    __m256i q = _mm256_or_si256(slm_x86_nibbles32(x->qs),
                                _mm256_andnot_si256(hi, _mm256_set1_epi8((char)0xf0)));
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(q, slm_x86_load32(y->qs)));
}

static inline __m256 slm_x86_blk_q5_1(const slm_block_q5_1 *x, const slm_block_q8_1 *y) {
    __m256i hi = _mm256_and_si256(slm_x86_bits32(slm_x86_load_qh(x->qh)), _mm256_set1_epi8(0x10));
    __m256i q = _mm256_or_si256(slm_x86_nibbles32(x->qs), hi);
    return _mm256_cvtepi32_ps(slm_x86_dot_us(q, slm_x86_load32(y->qs)));
}

/* d_x*d_y (or m_x*s_y with FIELD_X=m, FIELD_Y=s) of blocks i..i+3. */
#define SLM_X86_SCALES4(x, y, i, FX, FY)                                                       \
    _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)x[i].FX, (short)x[i + 1].FX,                 \
                                           (short)x[i + 2].FX, (short)x[i + 3].FX, 0, 0, 0, 0)), \
               _mm_cvtph_ps(_mm_setr_epi16((short)y[i].FY, (short)y[i + 1].FY,                 \
                                           (short)y[i + 2].FY, (short)y[i + 3].FY, 0, 0, 0, 0)))

static inline __m256 slm_x86_lane(__m128 v, int k) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(k));
}

static inline float slm_x86_dd(slm_f16 a, slm_f16 b) { return slm_x86_f16(a) * slm_x86_f16(b); }

/* sum_i d_x[i] d_y[i] dot_i. */
#define SLM_X86_DOT_SCALED(NAME, XT, YT, BLK)                                                   \
    void NAME(int64_t n, float *s, const void *vx, const void *vy) {                            \
        const XT *x = vx;                                                                       \
        const YT *y = vy;                                                                       \
        const int64_t nb = n / SLM_QK;                                                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                             \
        int64_t i = 0;                                                                          \
        for (; i + 4 <= nb; i += 4) {                                                           \
            __m128 d4 = SLM_X86_SCALES4(x, y, i, d, d);                                         \
            a0 = _mm256_fmadd_ps(slm_x86_lane(d4, 0), BLK(x + i, y + i), a0);                   \
            a1 = _mm256_fmadd_ps(slm_x86_lane(d4, 1), BLK(x + i + 1, y + i + 1), a1);           \
            a2 = _mm256_fmadd_ps(slm_x86_lane(d4, 2), BLK(x + i + 2, y + i + 2), a2);           \
            a3 = _mm256_fmadd_ps(slm_x86_lane(d4, 3), BLK(x + i + 3, y + i + 3), a3);           \
        }                                                                                       \
        for (; i < nb; i++)                                                                     \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(slm_x86_dd(x[i].d, y[i].d)), BLK(x + i, y + i), a0); \
        *s = slm_x86_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));        \
    }

/* Formats with a min: sum_i d_x d_y dot_i + m_x s_y (s_y = d_y sum(q_y)). */
#define SLM_X86_DOT_MIN(NAME, XT, BLK)                                                          \
    void NAME(int64_t n, float *s, const void *vx, const void *vy) {                            \
        const XT *x = vx;                                                                       \
        const slm_block_q8_1 *y = vy;                                                           \
        const int64_t nb = n / SLM_QK;                                                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                             \
        __m128 mins = _mm_setzero_ps();                                                         \
        int64_t i = 0;                                                                          \
        for (; i + 4 <= nb; i += 4) {                                                           \
            __m128 d4 = SLM_X86_SCALES4(x, y, i, d, d);                                         \
            mins = _mm_add_ps(mins, SLM_X86_SCALES4(x, y, i, m, s));                            \
            a0 = _mm256_fmadd_ps(slm_x86_lane(d4, 0), BLK(x + i, y + i), a0);                   \
            a1 = _mm256_fmadd_ps(slm_x86_lane(d4, 1), BLK(x + i + 1, y + i + 1), a1);           \
            a2 = _mm256_fmadd_ps(slm_x86_lane(d4, 2), BLK(x + i + 2, y + i + 2), a2);           \
            a3 = _mm256_fmadd_ps(slm_x86_lane(d4, 3), BLK(x + i + 3, y + i + 3), a3);           \
        }                                                                                       \
        float m = slm_x86_hsum4(mins);                                                          \
        for (; i < nb; i++) {                                                                   \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(slm_x86_dd(x[i].d, y[i].d)), BLK(x + i, y + i), a0); \
            m += slm_x86_dd(x[i].m, y[i].s);                                                    \
        }                                                                                       \
        *s = slm_x86_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + m;    \
    }

#define SLM_X86_LEGACY_KERNELS(SUFFIX)                                                         \
    SLM_X86_DOT_SCALED(slm_x86_dot_q8_0_##SUFFIX, slm_block_q8_0, slm_block_q8_0, slm_x86_blk_q8_0) \
    SLM_X86_DOT_SCALED(slm_x86_dot_q4_0_##SUFFIX, slm_block_q4_0, slm_block_q8_0, slm_x86_blk_q4_0) \
    SLM_X86_DOT_SCALED(slm_x86_dot_q5_0_##SUFFIX, slm_block_q5_0, slm_block_q8_0, slm_x86_blk_q5_0) \
    SLM_X86_DOT_MIN(slm_x86_dot_q4_1_##SUFFIX, slm_block_q4_1, slm_x86_blk_q4_1)                  \
    SLM_X86_DOT_MIN(slm_x86_dot_q5_1_##SUFFIX, slm_block_q5_1, slm_x86_blk_q5_1)

#endif
