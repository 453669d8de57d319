/* AVX2+FMA dot products for the float types (F32, F16, BF16) and the
 * legacy 32-element block quants (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 against
 * Q8_0/Q8_1 activations). Each block gives exact int32 partial sums in 8
 * lanes that are scaled by d_x*d_y with one FMA into float accumulators; two
 * blocks per iteration with two accumulators hide the FMA latency. The only
 * horizontal sum is at the end. */
#include "ops/quant_x86.h"

/* ---- float types ------------------------------------------------------- */
void slm_x86_dot_f32_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float sum = slm_x86_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

static inline __m256 load_f16x8(const slm_f16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

void slm_x86_dot_f16_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_f16 *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), load_f16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), load_f16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), load_f16x8(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
    float sum = slm_x86_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += slm_x86_f16(x[i]) * slm_x86_f16(y[i]);
    *s = sum;
}

static inline __m256 load_bf16x8(const slm_bf16 *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

void slm_x86_dot_bf16_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_bf16 *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_bf16x8(x + i + 8), load_bf16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_bf16x8(x + i + 16), load_bf16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_bf16x8(x + i + 24), load_bf16x8(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
    float sum = slm_x86_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += slm_bf16_to_f32(x[i]) * slm_bf16_to_f32(y[i]);
    *s = sum;
}

/* ---- legacy quants: one block -> 8 int32 lanes as floats ---------------- */
static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline __m256 blk_q8_0(const slm_block_q8_0 *x, const slm_block_q8_0 *y) {
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(load32(x->qs), load32(y->qs)));
}

static inline __m256 blk_q4_0(const slm_block_q4_0 *x, const slm_block_q8_0 *y) {
    __m256i q = _mm256_sub_epi8(slm_x86_nibbles32(x->qs), _mm256_set1_epi8(8));
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(q, load32(y->qs)));
}

static inline __m256 blk_q4_1(const slm_block_q4_1 *x, const slm_block_q8_1 *y) {
    return _mm256_cvtepi32_ps(slm_x86_dot_us(slm_x86_nibbles32(x->qs), load32(y->qs)));
}

static inline uint32_t load_qh(const uint8_t *qh) {
    uint32_t v;
    __builtin_memcpy(&v, qh, 4);
    return v;
}

/* Q5_0 value = (nibble | high << 4) - 16 = nibble - 16 where the high bit
 * is clear, i.e. the nibble with 0xf0 or-ed in as a signed byte. */
static inline __m256 blk_q5_0(const slm_block_q5_0 *x, const slm_block_q8_0 *y) {
    __m256i hi = slm_x86_bits32(load_qh(x->qh));
    __m256i q = _mm256_or_si256(slm_x86_nibbles32(x->qs),
                                _mm256_andnot_si256(hi, _mm256_set1_epi8((char)0xf0)));
    return _mm256_cvtepi32_ps(slm_x86_dot_ss(q, load32(y->qs)));
}

static inline __m256 blk_q5_1(const slm_block_q5_1 *x, const slm_block_q8_1 *y) {
    __m256i hi = _mm256_and_si256(slm_x86_bits32(load_qh(x->qh)), _mm256_set1_epi8(0x10));
    __m256i q = _mm256_or_si256(slm_x86_nibbles32(x->qs), hi);
    return _mm256_cvtepi32_ps(slm_x86_dot_us(q, load32(y->qs)));
}

static inline float dd(slm_f16 a, slm_f16 b) { return slm_x86_f16(a) * slm_x86_f16(b); }

/* Kernels for formats with a single scale: sum_i d_x[i] d_y[i] dot_i. */
#define SLM_DOT_SCALED(NAME, XT, YT, BLK)                                        \
    void NAME(int64_t n, float *s, const void *vx, const void *vy) {             \
        const XT *x = vx;                                                        \
        const YT *y = vy;                                                        \
        const int64_t nb = n / SLM_QK;                                           \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                \
        int64_t i = 0;                                                           \
        for (; i + 2 <= nb; i += 2) {                                            \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i].d, y[i].d)),             \
                                 BLK(x + i, y + i), a0);                         \
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i + 1].d, y[i + 1].d)),     \
                                 BLK(x + i + 1, y + i + 1), a1);                 \
        }                                                                        \
        if (i < nb)                                                              \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i].d, y[i].d)),             \
                                 BLK(x + i, y + i), a0);                         \
        *s = slm_x86_hsum8(_mm256_add_ps(a0, a1));                               \
    }

SLM_DOT_SCALED(slm_x86_dot_q8_0_avx2, slm_block_q8_0, slm_block_q8_0, blk_q8_0)
SLM_DOT_SCALED(slm_x86_dot_q4_0_avx2, slm_block_q4_0, slm_block_q8_0, blk_q4_0)
SLM_DOT_SCALED(slm_x86_dot_q5_0_avx2, slm_block_q5_0, slm_block_q8_0, blk_q5_0)

/* Formats with a min: sum_i d_x d_y dot_i + m_x s_y (s_y = d_y sum(q_y)). */
#define SLM_DOT_MIN(NAME, XT, BLK)                                               \
    void NAME(int64_t n, float *s, const void *vx, const void *vy) {             \
        const XT *x = vx;                                                        \
        const slm_block_q8_1 *y = vy;                                            \
        const int64_t nb = n / SLM_QK;                                           \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                \
        float mins = 0.0f;                                                       \
        int64_t i = 0;                                                           \
        for (; i + 2 <= nb; i += 2) {                                            \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i].d, y[i].d)),             \
                                 BLK(x + i, y + i), a0);                         \
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i + 1].d, y[i + 1].d)),     \
                                 BLK(x + i + 1, y + i + 1), a1);                 \
            mins += dd(x[i].m, y[i].s) + dd(x[i + 1].m, y[i + 1].s);             \
        }                                                                        \
        if (i < nb) {                                                            \
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(dd(x[i].d, y[i].d)),             \
                                 BLK(x + i, y + i), a0);                         \
            mins += dd(x[i].m, y[i].s);                                          \
        }                                                                        \
        *s = slm_x86_hsum8(_mm256_add_ps(a0, a1)) + mins;                        \
    }

SLM_DOT_MIN(slm_x86_dot_q4_1_avx2, slm_block_q4_1, blk_q4_1)
SLM_DOT_MIN(slm_x86_dot_q5_1_avx2, slm_block_q5_1, blk_q5_1)
