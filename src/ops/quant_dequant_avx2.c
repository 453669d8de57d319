/* AVX2 dequantizers (to_float) for the weight types, used for embedding
 * rows and tests. Each block is unpacked to signed bytes in element order,
 * widened to floats and scaled with the same float operations, in the same
 * order, as the scalar reference (a separate multiply and subtract, never a
 * fused one), so the results are bit-identical. */
#include "ops/quant_x86.h"

/* y[0..16) = q * d - m for 16 int8 values. */
static inline void put16(float *y, __m128i q, float d, float m) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(q, q)));
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(a, vd), vm));
    _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(b, vd), vm));
}

/* y[0..16) = q * d (no subtraction: the reference has none). */
static inline void put16_nomin(float *y, __m128i q, float d) {
    const __m256 vd = _mm256_set1_ps(d);
    __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(q, q)));
    _mm256_storeu_ps(y, _mm256_mul_ps(a, vd));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(b, vd));
}

static inline void put32_nomin(float *y, __m256i q, float d) {
    put16_nomin(y, _mm256_castsi256_si128(q), d);
    put16_nomin(y + 16, _mm256_extracti128_si256(q, 1), d);
}

/* q * d + m (Q4_1/Q5_1 order). */
static inline void put32_addmin(float *y, __m256i q, float d, float m) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    for (int k = 0; k < 4; k++) {
        __m128i part = k < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
        if (k & 1) part = _mm_unpackhi_epi64(part, part);
        __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
        _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(f, vd), vm));
    }
}

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static void to_float_q4_0(const void *vx, float *y, int64_t n) {
    const slm_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        __m256i q = _mm256_sub_epi8(slm_x86_nibbles32(x[i].qs), _mm256_set1_epi8(8));
        put32_nomin(y + i * SLM_QK, q, slm_x86_f16(x[i].d));
    }
}

static void to_float_q4_1(const void *vx, float *y, int64_t n) {
    const slm_block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / SLM_QK; i++)
        put32_addmin(y + i * SLM_QK, slm_x86_nibbles32(x[i].qs), slm_x86_f16(x[i].d), slm_x86_f16(x[i].m));
}

static void to_float_q5_0(const void *vx, float *y, int64_t n) {
    const slm_block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        __m256i hi = slm_x86_bits32(load_u32(x[i].qh));
        __m256i q = _mm256_or_si256(slm_x86_nibbles32(x[i].qs),
                                    _mm256_andnot_si256(hi, _mm256_set1_epi8((char)0xf0)));
        put32_nomin(y + i * SLM_QK, q, slm_x86_f16(x[i].d));
    }
}

static void to_float_q5_1(const void *vx, float *y, int64_t n) {
    const slm_block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / SLM_QK; i++) {
        __m256i hi = _mm256_and_si256(slm_x86_bits32(load_u32(x[i].qh)), _mm256_set1_epi8(0x10));
        __m256i q = _mm256_or_si256(slm_x86_nibbles32(x[i].qs), hi);
        put32_addmin(y + i * SLM_QK, q, slm_x86_f16(x[i].d), slm_x86_f16(x[i].m));
    }
}

static void to_float_q8_0(const void *vx, float *y, int64_t n) {
    const slm_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / SLM_QK; i++)
        put32_nomin(y + i * SLM_QK, _mm256_loadu_si256((const __m256i *)x[i].qs), slm_x86_f16(x[i].d));
}

static void to_float_q2_K(const void *vx, float *y, int64_t n) {
    const slm_block_q2_K *x = vx;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, y += SLM_QK_K) {
        const float d = slm_x86_f16(x[i].d), mn = slm_x86_f16(x[i].dmin);
        for (int h = 0; h < 2; h++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int k = 0; k < 4; k++) {
                __m256i u = _mm256_and_si256(qs, _mm256_set1_epi8(3));
                qs = _mm256_srli_epi16(qs, 2);
                for (int half = 0; half < 2; half++) {
                    const int g = 8 * h + 2 * k + half;
                    const uint8_t sc = x[i].scales[g];
                    __m128i q = half ? _mm256_extracti128_si256(u, 1) : _mm256_castsi256_si128(u);
                    put16(y + 16 * g, q, d * (float)(sc & 0xf), mn * (float)(sc >> 4));
                }
            }
        }
    }
}

static void to_float_q3_K(const void *vx, float *y, int64_t n) {
    const slm_block_q3_K *x = vx;
    for (int64_t i = 0; i < n / SLM_QK_K; i++, y += SLM_QK_K) {
        const float d = slm_x86_f16(x[i].d);
        int8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, slm_x86_q3k_scales(x[i].scales));
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        for (int h = 0; h < 2; h++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int k = 0; k < 4; k++) {
                __m256i low = _mm256_and_si256(qs, _mm256_set1_epi8(3));
                __m256i off = _mm256_andnot_si256(_mm256_slli_epi16(hm, 2), _mm256_set1_epi8(4));
                __m256i q = _mm256_sub_epi8(low, off);
                qs = _mm256_srli_epi16(qs, 2);
                hm = _mm256_srli_epi16(hm, 1);
                const int g = 8 * h + 2 * k;
                put16_nomin(y + 16 * g, _mm256_castsi256_si128(q), d * (float)sc[g]);
                put16_nomin(y + 16 * g + 16, _mm256_extracti128_si256(q, 1), d * (float)sc[g + 1]);
            }
        }
    }
}

/* Q4_K and Q5_K: y = d * scale * q - dmin * min per 32-element sub-block. */
static void put_k4(float *y, __m256i q, float d1, float m1) {
    put16(y, _mm256_castsi256_si128(q), d1, m1);
    put16(y + 16, _mm256_extracti128_si256(q, 1), d1, m1);
}

static void to_float_q4_K(const void *vx, float *y, int64_t n) {
    const slm_block_q4_K *x = vx;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / SLM_QK_K; i++, y += SLM_QK_K) {
        const float d = slm_x86_f16(x[i].d), mn = slm_x86_f16(x[i].dmin);
        uint8_t sm[16];
        _mm_storeu_si128((__m128i *)sm, slm_x86_k4_scales(x[i].scales));
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            put_k4(y + 64 * j, _mm256_and_si256(q, m4), d * (float)sm[2 * j], mn * (float)sm[8 + 2 * j]);
            put_k4(y + 64 * j + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                   d * (float)sm[2 * j + 1], mn * (float)sm[8 + 2 * j + 1]);
        }
    }
}

static void to_float_q5_K(const void *vx, float *y, int64_t n) {
    const slm_block_q5_K *x = vx;
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / SLM_QK_K; i++, y += SLM_QK_K) {
        const float d = slm_x86_f16(x[i].d), mn = slm_x86_f16(x[i].dmin);
        uint8_t sm[16];
        _mm_storeu_si128((__m128i *)sm, slm_x86_k4_scales(x[i].scales));
        __m256i h = _mm256_loadu_si256((const __m256i *)x[i].qh);
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), b4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                         _mm256_and_si256(_mm256_slli_epi16(h, 3), b4));
            h = _mm256_srli_epi16(h, 2);
            put_k4(y + 64 * j, lo, d * (float)sm[2 * j], mn * (float)sm[8 + 2 * j]);
            put_k4(y + 64 * j + 32, hi, d * (float)sm[2 * j + 1], mn * (float)sm[8 + 2 * j + 1]);
        }
    }
}

static void to_float_q6_K(const void *vx, float *y, int64_t n) {
    const slm_block_q6_K *x = vx;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30), c32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / SLM_QK_K; i++, y += SLM_QK_K) {
        const float d = slm_x86_f16(x[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const int8_t *sc = x[i].scales + 8 * h;
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_sub_epi8(q[k], c32);
                float *out = y + 128 * h + 32 * k;
                put16_nomin(out, _mm256_castsi256_si128(v), d * (float)sc[2 * k]);
                put16_nomin(out + 16, _mm256_extracti128_si256(v, 1), d * (float)sc[2 * k + 1]);
            }
        }
    }
}

static void to_float_f16(const void *vx, float *y, int64_t n) {
    const slm_f16 *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = slm_x86_f16(x[i]);
}

static void to_float_bf16(const void *vx, float *y, int64_t n) {
    const slm_bf16 *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) y[i] = slm_bf16_to_f32(x[i]);
}

slm_to_float_fn slm_x86_to_float_avx2(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_F16: return to_float_f16;
    case SLM_TYPE_BF16: return to_float_bf16;
    case SLM_TYPE_Q4_0: return to_float_q4_0;
    case SLM_TYPE_Q4_1: return to_float_q4_1;
    case SLM_TYPE_Q5_0: return to_float_q5_0;
    case SLM_TYPE_Q5_1: return to_float_q5_1;
    case SLM_TYPE_Q8_0: return to_float_q8_0;
    case SLM_TYPE_Q2_K: return to_float_q2_K;
    case SLM_TYPE_Q3_K: return to_float_q3_K;
    case SLM_TYPE_Q4_K: return to_float_q4_K;
    case SLM_TYPE_Q5_K: return to_float_q5_K;
    case SLM_TYPE_Q6_K: return to_float_q6_K;
    default: return NULL;
    }
}
