/* Template of the k-quant dot products (Q2_K..Q6_K against Q8_K
 * activations), instantiated by quant_kdot_avx2.c and quant_kdot_avx512.c:
 * the same code compiled once per ISA.
 *
 * Per 256-element super-block the quants are unpacked to unsigned bytes,
 * multiplied with the activations into int32 lanes, weighted by the
 * sub-block scales into 8 exact int32 lanes, then scaled once by d_x*d_y
 * in float. Offsets (Q3_K's -4, Q6_K's -32) and mins (Q2_K, Q4_K, Q5_K)
 * are applied through the precomputed 16-element sums of the activations
 * (bsums), never per element.
 *
 * Two ways to weight by the scales:
 * - AVX2: maddubs (byte pairs into int16), then madd with a vector of the
 *   scale broadcast (one shuffle and one madd per sub-block).
 * - AVX512-VNNI (Q4_K, Q6_K, the bulk of a Q4_K_M model): vpdpbusd (byte
 *   quads straight into int32, no int16 saturation), packs of two such
 *   results into int16 (every lane fits: at most 4 * 63 * 128), then one
 *   vpdpwssd with a vector holding four scales: one shuffle and one
 *   multiply-add per two sub-block results instead of two of each. Q6_K's
 *   6-bit values are assembled with one vpternlog each. On Zen 4 this runs
 *   about 1.4x (Q4_K) and 1.1x (Q6_K) the AVX2-style kernel from cache. */
#ifndef SLM_OPS_QUANT_X86_KQUANTS_H
#define SLM_OPS_QUANT_X86_KQUANTS_H

#include "ops/quant_x86.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define SLM_KDOT_VNNI 1
#else
#define SLM_KDOT_VNNI 0
#endif

/* Generation streams every weight row once per token from DRAM (far more
 * than the caches hold), so the kernels are memory-bound: prefetching a few
 * KiB ahead keeps more cache-line misses in flight than the hardware
 * prefetchers do alone, which stop at 4 KiB page boundaries (the model file
 * is mapped in 4 KiB pages). Rows are contiguous, so "ahead" runs into the
 * following rows; prefetches never fault, past the end of a matrix they
 * are only wasted. On Zen 4 this took the Q4_K kernel from about 87 % to
 * 93 % of a plain streaming loop's bandwidth over a mapped model file. */
#define SLM_KQ_PREFETCH_BYTES 4608

/* Prefetch the `size` bytes of a block SLM_KQ_PREFETCH_BYTES ahead of it. */
static inline void kq_prefetch(const void *block, int size) {
    const char *p = (const char *)block + SLM_KQ_PREFETCH_BYTES;
    for (int o = 0; o < size; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* sum_g m[g] * (bsums[2g] + bsums[2g+1]) for the 8 mins of Q4_K/Q5_K, as 4
 * int32 lanes. */
static inline __m128i k4_min_sums(const slm_block_q8_K *y, __m128i mins8) {
    __m256i bs = slm_x86_load32(y->bsums);
    __m128i pair = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    return _mm_madd_epi16(_mm_cvtepu8_epi16(mins8), pair);
}

/* ---- Q4_K --------------------------------------------------------------- */
/* The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K block with
 * vector ops. The 16-byte load ends 4 bytes into qs, inside the block. In
 * dwords, with u0..u2 the packed scale bytes:
 *   scales 0-3 = u0 & 0x3f..       scales 4-7 = (u2 & 0x0f..) | (u0 >> 2 & 0x30..)
 *   mins 0-3   = u1 & 0x3f..       mins 4-7   = (u2 >> 4 & 0x0f..) | (u1 >> 2 & 0x30..) */
static inline __m128i k4_scales_mins(const uint8_t *scales) {
    __m128i v = _mm_loadu_si128((const __m128i *)scales);
    __m128i lo = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)); /* u0 u2 u1 u2 */
    lo = _mm_and_si128(_mm_srlv_epi32(lo, _mm_setr_epi32(0, 0, 0, 4)),
                       _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i hi = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)); /* u0 u0 u1 u1 */
    hi = _mm_and_si128(_mm_srli_epi32(hi, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, hi);
}

static inline __m128i q4k_scales_mins(const slm_block_q4_K *x) { return k4_scales_mins(x->scales); }

#if SLM_KDOT_VNNI
/* Shuffle control: from the scale bytes (in both 128-bit lanes), int16
 * [s[2j] x4, s[2j+1] x4] per lane, the layout of packs(dot lo, dot hi). */
static inline __m256i q4k_pair_ctl(int j) {
    const char a = (char)(2 * j), b = (char)(2 * j + 1), z = (char)0x80;
    return _mm256_setr_epi8(a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z,
                            a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z);
}

/* sum over the super-block of scale[j] * dot(sub-block j), 8 int32 lanes;
 * two accumulators halve the dependency chain. */
static inline __m256i q4k_isum(const slm_block_q4_K *x, const slm_block_q8_K *y, __m256i sb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i a0 = zero, a1 = zero;
    for (int j = 0; j < 4; j++) {
        __m256i q = slm_x86_load32(x->qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        __m256i plo = _mm256_dpbusd_epi32(zero, lo, slm_x86_load32(y->qs + 64 * j));
        __m256i phi = _mm256_dpbusd_epi32(zero, hi, slm_x86_load32(y->qs + 64 * j + 32));
        __m256i p = _mm256_packs_epi32(plo, phi);
        __m256i sc = _mm256_shuffle_epi8(sb, q4k_pair_ctl(j));
        if (j & 1)
            a1 = _mm256_dpwssd_epi32(a1, p, sc);
        else
            a0 = _mm256_dpwssd_epi32(a0, p, sc);
    }
    return _mm256_add_epi32(a0, a1);
}
#else
static inline __m256i q4k_isum(const slm_block_q4_K *x, const slm_block_q8_K *y, __m256i sb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m128i s16 = _mm_cvtepu8_epi16(_mm256_castsi256_si128(sb));
    __m256i sc = _mm256_set_m128i(s16, s16);
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        __m256i q = slm_x86_load32(x->qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        __m256i plo = _mm256_maddubs_epi16(lo, slm_x86_load32(y->qs + 64 * j));
        __m256i phi = _mm256_maddubs_epi16(hi, slm_x86_load32(y->qs + 64 * j + 32));
        acc = slm_x86_madd_acc(acc, plo, slm_x86_scale_bcast(sc, 2 * j));
        acc = slm_x86_madd_acc(acc, phi, slm_x86_scale_bcast(sc, 2 * j + 1));
    }
    return acc;
}
#endif

/* [d, dmin] of a Q4_K/Q5_K block (adjacent halves) times the activation
 * scale, in lanes 0 and 1. */
static inline __m128 k4_d_dmin(const slm_f16 *d_dmin, const float *dy) {
    int32_t both;
    __builtin_memcpy(&both, d_dmin, sizeof both);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(both)), _mm_broadcast_ss(dy));
}

static inline void slm_x86_kdot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q4_K *x = vx;
    const slm_block_q8_K *y = vy;
    const int64_t nb = n / SLM_QK_K;
    const char z = (char)0x80; /* pshufb: zero byte */
    /* mins (bytes 8..15) as int16 pairs m0 m0 m1 m1 .., against the 16 bsums */
    const __m256i mins_ctl = _mm256_setr_epi8(8, z, 8, z, 9, z, 9, z, 10, z, 10, z, 11, z, 11, z,
                                              12, z, 12, z, 13, z, 13, z, 14, z, 14, z, 15, z, 15, z);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        kq_prefetch(x + i, (int)sizeof *x);
        __m256i sb = _mm256_broadcastsi128_si256(q4k_scales_mins(x + i));
        __m256i msum = _mm256_madd_epi16(_mm256_shuffle_epi8(sb, mins_ctl), slm_x86_load32(y[i].bsums));
        __m128 dd = k4_d_dmin(&x[i].d, &y[i].d);
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(q4k_isum(x + i, y + i, sb)), acc);
        accm = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(msum), accm);
    }
    *s = slm_x86_hsum8(_mm256_sub_ps(acc, accm));
}

/* ---- Q5_K --------------------------------------------------------------- */
/* Q4_K plus a fifth bit per value from qh (bits 2j, 2j+1 of byte l for
 * sub-blocks 2j, 2j+1); the scales/mins block has Q4_K's layout (the
 * 16-byte load of k4_scales_mins ends in qh, inside the block). */
#if SLM_KDOT_VNNI
/* As q4k_isum: values up to 31, so a packed lane holds at most
 * 4 * 31 * 128 < 32768. */
static inline __m256i q5k_isum(const slm_block_q5_K *x, const slm_block_q8_K *y, __m256i sb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10), zero = _mm256_setzero_si256();
    __m256i h = slm_x86_load32(x->qh);
    __m256i a0 = zero, a1 = zero;
    for (int j = 0; j < 4; j++) {
        __m256i q = slm_x86_load32(x->qs + 32 * j);
        /* ternlog 0xE4 (m4 ? A : B): low nibble from A, bit 4 from B */
        __m256i lo = _mm256_ternarylogic_epi32(q, _mm256_and_si256(_mm256_slli_epi16(h, 4), b4), m4, 0xE4);
        __m256i hi = _mm256_ternarylogic_epi32(_mm256_srli_epi16(q, 4), _mm256_and_si256(_mm256_slli_epi16(h, 3), b4),
                                               m4, 0xE4);
        h = _mm256_srli_epi16(h, 2);
        __m256i plo = _mm256_dpbusd_epi32(zero, lo, slm_x86_load32(y->qs + 64 * j));
        __m256i phi = _mm256_dpbusd_epi32(zero, hi, slm_x86_load32(y->qs + 64 * j + 32));
        __m256i p = _mm256_packs_epi32(plo, phi);
        __m256i sc = _mm256_shuffle_epi8(sb, q4k_pair_ctl(j));
        if (j & 1)
            a1 = _mm256_dpwssd_epi32(a1, p, sc);
        else
            a0 = _mm256_dpwssd_epi32(a0, p, sc);
    }
    return _mm256_add_epi32(a0, a1);
}
#else
static inline __m256i q5k_isum(const slm_block_q5_K *x, const slm_block_q8_K *y, __m256i sb) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    __m128i s16 = _mm_cvtepu8_epi16(_mm256_castsi256_si128(sb));
    __m256i sc = _mm256_set_m128i(s16, s16);
    __m256i h = slm_x86_load32(x->qh); /* bits 2j, 2j+1 of byte l: sub-blocks 2j, 2j+1 */
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        __m256i q = slm_x86_load32(x->qs + 32 * j);
        __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4),
                                     _mm256_and_si256(_mm256_slli_epi16(h, 4), b4));
        __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                     _mm256_and_si256(_mm256_slli_epi16(h, 3), b4));
        h = _mm256_srli_epi16(h, 2);
        __m256i plo = _mm256_maddubs_epi16(lo, slm_x86_load32(y->qs + 64 * j));
        __m256i phi = _mm256_maddubs_epi16(hi, slm_x86_load32(y->qs + 64 * j + 32));
        acc = slm_x86_madd_acc(acc, plo, slm_x86_scale_bcast(sc, 2 * j));
        acc = slm_x86_madd_acc(acc, phi, slm_x86_scale_bcast(sc, 2 * j + 1));
    }
    return acc;
}
#endif

/* The same outer loop as Q4_K's. */
static inline void slm_x86_kdot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q5_K *x = vx;
    const slm_block_q8_K *y = vy;
    const int64_t nb = n / SLM_QK_K;
    const char z = (char)0x80;
    const __m256i mins_ctl = _mm256_setr_epi8(8, z, 8, z, 9, z, 9, z, 10, z, 10, z, 11, z, 11, z,
                                              12, z, 12, z, 13, z, 13, z, 14, z, 14, z, 15, z, 15, z);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        kq_prefetch(x + i, (int)sizeof *x);
        __m256i sb = _mm256_broadcastsi128_si256(k4_scales_mins(x[i].scales));
        __m256i msum = _mm256_madd_epi16(_mm256_shuffle_epi8(sb, mins_ctl), slm_x86_load32(y[i].bsums));
        __m128 dd = k4_d_dmin(&x[i].d, &y[i].d);
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(q5k_isum(x + i, y + i, sb)), acc);
        accm = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(msum), accm);
    }
    *s = slm_x86_hsum8(_mm256_sub_ps(acc, accm));
}

/* ---- Q6_K --------------------------------------------------------------- */
/* Quants are q - 32 with q in [0, 63]: dot with q, minus 32 * scale * bsum. */
#if SLM_KDOT_VNNI
/* vpermw index: int16 [s[a] x4, s[b] x4 | s[c] x4, s[d] x4] from the 16
 * scales. */
static inline __m256i q6k_quad_idx(int a, int b, int c, int d) {
    return _mm256_setr_epi16((short)a, (short)a, (short)a, (short)a, (short)b, (short)b, (short)b, (short)b,
                             (short)c, (short)c, (short)c, (short)c, (short)d, (short)d, (short)d, (short)d);
}

/* Each 32-byte vector k of a half holds the 16-element sub-blocks 2k (low
 * lane) and 2k+1 (high lane); packs(dot k, dot k+1) puts sub-blocks 2k and
 * 2k+2 in the low lane, 2k+1 and 2k+3 in the high lane, and one vpermw
 * lays the scales out the same way. */
static inline __m256i q6k_isum(const slm_block_q6_K *x, const slm_block_q8_K *y) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    const __m256i m33 = _mm256_set1_epi8(0x33), mcc = _mm256_set1_epi8((char)0xcc);
    __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    __m256i off = _mm256_madd_epi16(sc, slm_x86_load32(y->bsums));
    __m256i a0 = _mm256_sub_epi32(zero, _mm256_slli_epi32(off, 5)), a1 = zero;
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h;
        const int8_t *q8 = y->qs + 128 * h;
        __m256i qh = slm_x86_load32(x->qh + 32 * h);
        __m256i l0 = slm_x86_load32(ql), l1 = slm_x86_load32(ql + 32);
        /* high-bit pairs masked so the 16-bit shifts cannot carry a stray
         * bit into bits 6-7; the ternlog (0xE4: m4 ? A : B) takes the low
         * nibble from A and bits 4-7 from B. */
        __m256i h33 = _mm256_and_si256(qh, m33), hcc = _mm256_and_si256(qh, mcc);
        __m256i q0 = _mm256_ternarylogic_epi32(l0, _mm256_slli_epi16(h33, 4), m4, 0xE4);
        __m256i q1 = _mm256_ternarylogic_epi32(l1, _mm256_slli_epi16(hcc, 2), m4, 0xE4);
        __m256i q2 = _mm256_ternarylogic_epi32(_mm256_srli_epi16(l0, 4), h33, m4, 0xE4);
        __m256i q3 = _mm256_ternarylogic_epi32(_mm256_srli_epi16(l1, 4), _mm256_srli_epi16(hcc, 2), m4, 0xE4);
        __m256i p0 = _mm256_dpbusd_epi32(zero, q0, slm_x86_load32(q8));
        __m256i p1 = _mm256_dpbusd_epi32(zero, q1, slm_x86_load32(q8 + 32));
        __m256i p2 = _mm256_dpbusd_epi32(zero, q2, slm_x86_load32(q8 + 64));
        __m256i p3 = _mm256_dpbusd_epi32(zero, q3, slm_x86_load32(q8 + 96));
        const int b = 8 * h;
        __m256i s01 = _mm256_permutexvar_epi16(q6k_quad_idx(b, b + 2, b + 1, b + 3), sc);
        __m256i s23 = _mm256_permutexvar_epi16(q6k_quad_idx(b + 4, b + 6, b + 5, b + 7), sc);
        a0 = _mm256_dpwssd_epi32(a0, _mm256_packs_epi32(p0, p1), s01);
        a1 = _mm256_dpwssd_epi32(a1, _mm256_packs_epi32(p2, p3), s23);
    }
    return _mm256_add_epi32(a0, a1);
}
#else
static inline __m256i q6k_isum(const slm_block_q6_K *x, const slm_block_q8_K *y) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
    __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    __m256i acc = _mm256_madd_epi16(sc16, slm_x86_load32(y->bsums));
    acc = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(acc, 5));
    for (int h = 0; h < 2; h++) {
        __m128i s16 = _mm_cvtepi8_epi16(h ? _mm_unpackhi_epi64(sc8, sc8) : sc8);
        __m256i sc = _mm256_set_m128i(s16, s16);
        const uint8_t *ql = x->ql + 64 * h;
        const int8_t *q8 = y->qs + 128 * h;
        __m256i qh = slm_x86_load32(x->qh + 32 * h);
        __m256i l0 = slm_x86_load32(ql), l1 = slm_x86_load32(ql + 32);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m2));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
        for (int k = 0; k < 4; k++) {
            __m256i p = _mm256_maddubs_epi16(q[k], slm_x86_load32(q8 + 32 * k));
            acc = slm_x86_madd_acc(acc, p, slm_x86_scale_pair(sc, 2 * k));
        }
    }
    return acc;
}
#endif

static inline void slm_x86_kdot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q6_K *x = vx;
    const slm_block_q8_K *y = vy;
    const int64_t nb = n / SLM_QK_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        kq_prefetch(x + i, (int)sizeof *x);
        const float d = y[i].d * slm_x86_f16(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q6k_isum(x + i, y + i)), acc);
    }
    *s = slm_x86_hsum8(acc);
}

/* ---- Q3_K --------------------------------------------------------------- */
/* Quants are u - 4 with u = low 2 bits | high bit << 2 in [0, 7]. The
 * 32-byte vector k of half h holds sub-blocks 8h + 2k (low lane) and
 * 8h + 2k + 1 (high lane), the layout of Q6_K: the VNNI form is Q6_K's. */
#if SLM_KDOT_VNNI
static inline __m256i q3k_isum(const slm_block_q3_K *x, const slm_block_q8_K *y) {
    const __m256i m3 = _mm256_set1_epi8(3), m7 = _mm256_set1_epi8(7), zero = _mm256_setzero_si256();
    __m256i sc = _mm256_cvtepi8_epi16(slm_x86_q3k_scales(x->scales));
    __m256i off = _mm256_madd_epi16(sc, slm_x86_load32(y->bsums));
    __m256i a0 = _mm256_sub_epi32(zero, _mm256_slli_epi32(off, 2)), a1 = zero;
    __m256i hm = slm_x86_load32(x->hmask);
    for (int h = 0; h < 2; h++) {
        __m256i qs = slm_x86_load32(x->qs + 32 * h), p[4];
        for (int k = 0; k < 4; k++) {
            /* bits 0-1 from qs, bit 2 from the high-bit mask (ternlog 0xE4: m3 ? A : B) */
            __m256i u = _mm256_and_si256(_mm256_ternarylogic_epi32(qs, _mm256_slli_epi16(hm, 2), m3, 0xE4), m7);
            qs = _mm256_srli_epi16(qs, 2);
            hm = _mm256_srli_epi16(hm, 1);
            p[k] = _mm256_dpbusd_epi32(zero, u, slm_x86_load32(y->qs + 128 * h + 32 * k));
        }
        const int b = 8 * h;
        __m256i s01 = _mm256_permutexvar_epi16(q6k_quad_idx(b, b + 2, b + 1, b + 3), sc);
        __m256i s23 = _mm256_permutexvar_epi16(q6k_quad_idx(b + 4, b + 6, b + 5, b + 7), sc);
        a0 = _mm256_dpwssd_epi32(a0, _mm256_packs_epi32(p[0], p[1]), s01);
        a1 = _mm256_dpwssd_epi32(a1, _mm256_packs_epi32(p[2], p[3]), s23);
    }
    return _mm256_add_epi32(a0, a1);
}
#else
static inline __m256i q3k_isum(const slm_block_q3_K *x, const slm_block_q8_K *y) {
    const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
    __m128i sc8 = slm_x86_q3k_scales(x->scales);
    __m256i acc = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), slm_x86_load32(y->bsums));
    acc = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(acc, 2));
    __m256i hm = slm_x86_load32(x->hmask);
    for (int h = 0; h < 2; h++) {
        __m128i s16 = _mm_cvtepi8_epi16(h ? _mm_unpackhi_epi64(sc8, sc8) : sc8);
        __m256i sc = _mm256_set_m128i(s16, s16);
        __m256i qs = slm_x86_load32(x->qs + 32 * h);
        for (int k = 0; k < 4; k++) {
            __m256i u = _mm256_or_si256(_mm256_and_si256(qs, m3),
                                        _mm256_and_si256(_mm256_slli_epi16(hm, 2), b2));
            qs = _mm256_srli_epi16(qs, 2);
            hm = _mm256_srli_epi16(hm, 1);
            __m256i p = _mm256_maddubs_epi16(u, slm_x86_load32(y->qs + 128 * h + 32 * k));
            acc = slm_x86_madd_acc(acc, p, slm_x86_scale_pair(sc, 2 * k));
        }
    }
    return acc;
}
#endif

static inline void slm_x86_kdot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q3_K *x = vx;
    const slm_block_q8_K *y = vy;
    const int64_t nb = n / SLM_QK_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        kq_prefetch(x + i, (int)sizeof *x);
        const float d = y[i].d * slm_x86_f16(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q3k_isum(x + i, y + i)), acc);
    }
    *s = slm_x86_hsum8(acc);
}

/* ---- Q2_K --------------------------------------------------------------- */
/* Values 0..3 with 4-bit scales (low nibbles) and mins (high nibbles); the
 * sub-block layout is Q3_K's, so is the VNNI form. */
#if SLM_KDOT_VNNI
static inline __m256i q2k_isum(const slm_block_q2_K *x, const slm_block_q8_K *y) {
    const __m256i m3 = _mm256_set1_epi8(3), zero = _mm256_setzero_si256();
    __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    __m256i sc = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
    __m256i a0 = zero, a1 = zero;
    for (int h = 0; h < 2; h++) {
        __m256i qs = slm_x86_load32(x->qs + 32 * h), p[4];
        for (int k = 0; k < 4; k++) {
            p[k] = _mm256_dpbusd_epi32(zero, _mm256_and_si256(qs, m3), slm_x86_load32(y->qs + 128 * h + 32 * k));
            qs = _mm256_srli_epi16(qs, 2);
        }
        const int b = 8 * h;
        __m256i s01 = _mm256_permutexvar_epi16(q6k_quad_idx(b, b + 2, b + 1, b + 3), sc);
        __m256i s23 = _mm256_permutexvar_epi16(q6k_quad_idx(b + 4, b + 6, b + 5, b + 7), sc);
        a0 = _mm256_dpwssd_epi32(a0, _mm256_packs_epi32(p[0], p[1]), s01);
        a1 = _mm256_dpwssd_epi32(a1, _mm256_packs_epi32(p[2], p[3]), s23);
    }
    return _mm256_add_epi32(a0, a1);
}
#else
static inline __m256i q2k_isum(const slm_block_q2_K *x, const slm_block_q8_K *y) {
    const __m256i m3 = _mm256_set1_epi8(3);
    __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    __m128i sc8 = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        __m128i s16 = _mm_cvtepu8_epi16(h ? _mm_unpackhi_epi64(sc8, sc8) : sc8);
        __m256i sc = _mm256_set_m128i(s16, s16);
        __m256i qs = slm_x86_load32(x->qs + 32 * h);
        for (int k = 0; k < 4; k++) {
            __m256i u = _mm256_and_si256(qs, m3);
            qs = _mm256_srli_epi16(qs, 2);
            __m256i p = _mm256_maddubs_epi16(u, slm_x86_load32(y->qs + 128 * h + 32 * k));
            acc = slm_x86_madd_acc(acc, p, slm_x86_scale_pair(sc, 2 * k));
        }
    }
    return acc;
}
#endif

/* sum_g (scale byte g >> 4) * bsums[g], 8 int32 lanes. */
static inline __m256i q2k_min_sums(const slm_block_q2_K *x, const slm_block_q8_K *y) {
    __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    __m128i mins = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
    return _mm256_madd_epi16(_mm256_cvtepu8_epi16(mins), slm_x86_load32(y->bsums));
}

static inline void slm_x86_kdot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q2_K *x = vx;
    const slm_block_q8_K *y = vy;
    const int64_t nb = n / SLM_QK_K;
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        kq_prefetch(x + i, (int)sizeof *x);
        const float d = y[i].d * slm_x86_f16(x[i].d);
        const float dmin = y[i].d * slm_x86_f16(x[i].dmin);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(q2k_min_sums(x + i, y + i)), accm);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(q2k_isum(x + i, y + i)), acc);
    }
    *s = slm_x86_hsum8(acc) - slm_x86_hsum8(accm);
}

#define SLM_X86_KQUANT_KERNELS(SUFFIX)                                                   \
    void slm_x86_dot_q2_K_##SUFFIX(int64_t n, float *s, const void *x, const void *y) { \
        slm_x86_kdot_q2_K(n, s, x, y);                                                   \
    }                                                                                    \
    void slm_x86_dot_q3_K_##SUFFIX(int64_t n, float *s, const void *x, const void *y) { \
        slm_x86_kdot_q3_K(n, s, x, y);                                                   \
    }                                                                                    \
    void slm_x86_dot_q4_K_##SUFFIX(int64_t n, float *s, const void *x, const void *y) { \
        slm_x86_kdot_q4_K(n, s, x, y);                                                   \
    }                                                                                    \
    void slm_x86_dot_q5_K_##SUFFIX(int64_t n, float *s, const void *x, const void *y) { \
        slm_x86_kdot_q5_K(n, s, x, y);                                                   \
    }                                                                                    \
    void slm_x86_dot_q6_K_##SUFFIX(int64_t n, float *s, const void *x, const void *y) { \
        slm_x86_kdot_q6_K(n, s, x, y);                                                   \
    }

#endif
