/* AVX2 activation quantizers (from_float) for the vec_dot activation types:
 * Q8_0, Q8_1, Q8_K, F16 and BF16. They produce exactly the bytes of the
 * scalar reference: the same float operations in the same order, Q8_0/Q8_1
 * rounding half away from zero (roundf), Q8_K rounding half to even
 * (nearest_int), F16 via F16C round-to-nearest-even, BF16 with the
 * reference's integer rounding and NaN rule. */
#include <string.h>

#include "ops/quant_x86.h"

static inline __m256 abs_ps(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf(): trunc(v) plus the sign of v where |frac(v)| >= 0.5. Both the
 * fraction and its double are exact, so this is exact for any float. */
static inline __m256i round_away_epi32(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(v, t);
    __m256 r = _mm256_add_ps(t, _mm256_round_ps(_mm256_add_ps(f, f), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
    return _mm256_cvttps_epi32(r);
}

/* 4 x 8 int32 (each in [-128, 127]) -> 32 int8 in order. */
static inline __m256i pack32_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One 32-element block with d = amax/127, q = roundf(x/d); returns d and
 * writes the quants; *sum gets the sum of the quants when non-NULL. */
static float quant_block32(const float *x, int8_t *q, int *sum) {
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(m, abs_ps(v[k]));
    }
    const float amax = hmax8(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256i r[4];
    for (int k = 0; k < 4; k++) r[k] = round_away_epi32(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
    _mm256_storeu_si256((__m256i *)q, pack32_i8(r[0], r[1], r[2], r[3]));
    if (sum) {
        __m256i t = _mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
        __m128i u = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        u = _mm_add_epi32(u, _mm_shuffle_epi32(u, 0x4e));
        u = _mm_add_epi32(u, _mm_shuffle_epi32(u, 0xb1));
        *sum = _mm_cvtsi128_si32(u);
    }
    return d;
}

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    slm_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        float d = quant_block32(x + i * SLM_QK, y[i].qs, NULL);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    }
}

static void from_float_q8_1(const float *x, void *vy, int64_t n) {
    slm_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        int sum = 0;
        float d = quant_block32(x + i * SLM_QK, y[i].qs, &sum);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        y[i].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
    }
}

/* Q8_K: scale from the signed value of largest magnitude (first one on
 * ties), iscale = -127/max, q = min(127, round-half-even(iscale * x)). */
static float first_max(const float *x, float amax) {
    const __m256 a = _mm256_set1_ps(amax);
    for (int j = 0; j < SLM_QK_K; j += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), a, _CMP_EQ_OQ));
        if (mask) return x[j + __builtin_ctz((unsigned)mask)];
    }
    return 0.0f;
}

static void quant_block_q8_K(const float *x, slm_block_q8_K *y) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < SLM_QK_K; j += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
    const float amax = hmax8(m);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    const float iscale = -127.0f / first_max(x, amax);
    const __m256 is = _mm256_set1_ps(iscale);
    const __m256i hi = _mm256_set1_epi32(127);
    for (int j = 0; j < SLM_QK_K; j += 32) {
        __m256i r[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 8 * k)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            r[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), hi);
        }
        _mm256_storeu_si256((__m256i *)(y->qs + j), pack32_i8(r[0], r[1], r[2], r[3]));
    }
    for (int g = 0; g < SLM_QK_K / 16; g++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += y->qs[16 * g + l];
        y->bsums[g] = (int16_t)s;
    }
    y->d = 1.0f / iscale;
}

static void from_float_q8_K(const float *x, void *vy, int64_t n) {
    slm_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / SLM_QK_K; i++) quant_block_q8_K(x + i * SLM_QK_K, y + i);
}

static void from_float_f16(const float *x, void *vy, int64_t n) {
    slm_f16 *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = slm_f32_to_f16(x[i]);
}

/* bf16 = (u + 0x7fff + ((u >> 16) & 1)) >> 16; NaN -> (u >> 16) | 64. */
static inline __m128i bf16x8(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i top = _mm256_srli_epi32(u, 16);
    __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(top, _mm256_set1_epi32(1)));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    __m256i absu = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(absu, _mm256_set1_epi32(0x7f800000));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(top, _mm256_set1_epi32(64)), nan);
    __m256i p = _mm256_packus_epi32(r, r); /* lane-wise: [r0..3 r0..3 | r4..7 r4..7] */
    p = _mm256_permute4x64_epi64(p, 0x08);
    return _mm256_castsi256_si128(p);
}

static void from_float_bf16(const float *x, void *vy, int64_t n) {
    slm_bf16 *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(y + i), bf16x8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = slm_f32_to_bf16(x[i]);
}

slm_from_float_fn slm_x86_from_float_avx2(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_Q8_0: return from_float_q8_0;
    case SLM_TYPE_Q8_1: return from_float_q8_1;
    case SLM_TYPE_Q8_K: return from_float_q8_K;
    case SLM_TYPE_F16: return from_float_f16;
    case SLM_TYPE_BF16: return from_float_bf16;
    default: return NULL;
    }
}
