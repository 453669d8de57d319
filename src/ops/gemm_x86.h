/* Template of the tiled matrix-product kernels (see gemm.h), included by
 * gemm_avx2.c and gemm_avx512.c, which set the largest tile first:
 * GEMM_MR weight rows by GEMM_MT tokens (4x4 with AVX-512's 32 vector
 * registers, smaller with AVX2's 16).
 *
 * Each tile function is written once for R rows by T tokens and forced
 * inline into wrappers with constant R and T, so the compiler unrolls the
 * loops and keeps the R*T integer accumulators in registers. Per block the
 * weights are unpacked once per row and reused for the T tokens; the
 * activations are loaded once per token and reused for the R rows.
 *
 *   Q4_K: 4-bit quants times Q8_K bytes by maddubs, weighted by the
 *         sub-block scales with (vp)dpwssd, one float scale per super-block;
 *         mins through the activations' bsums.
 *   Q6_K: the same with 6-bit quants, the -32 offset through the bsums.
 *   Q8_0: with VNNI, weights are biased by +128 to unsigned bytes so one
 *         vpdpbusd does a block; the bias (128 * sum of the activation
 *         block) is subtracted by starting the accumulator at minus it.
 *         Without VNNI, the sign trick of the vec_dot kernels. */
#ifndef SLM_OPS_GEMM_X86_H
#define SLM_OPS_GEMM_X86_H

#include "ops/gemm.h"
#include "ops/quant_x86.h"

#include <stdlib.h>

#define GEMM_INLINE static inline __attribute__((always_inline))

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define GEMM_VNNI 1
#else
#define GEMM_VNNI 0
#endif

/* The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K block,
 * unpacked with vector ops (the 16-byte load reads 4 bytes of qs, which
 * follow the scales inside the block). As dwords, with u = the 3 packed
 * dwords: s0 = u0 & 0x3f.., s1 = (u2 & 0x0f..) | (u0 >> 2 & 0x30..),
 * n0 = u1 & 0x3f.., n1 = (u2 >> 4 & 0x0f..) | (u1 >> 2 & 0x30..). */
GEMM_INLINE __m128i q4k_scales_mins(const slm_block_q4_K *x) {
    __m128i v = _mm_loadu_si128((const __m128i *)x->scales);
    __m128i p = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)); /* u0 u2 u1 u2 */
    __m128i q = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0)); /* u0 u0 u1 u1 */
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(p, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi32(q, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm_or_si128(lo, hi);
}

/* One Q4_K row against one Q8_K activation row (generation): like the
 * vec_dot kernel, with the scales unpacked by vector ops, the mins summed
 * by one 256-bit madd, and two integer accumulators per block so the
 * dpwssd chain is half as long. */
GEMM_INLINE float q4k_row(int64_t nb, const slm_block_q4_K *x, const slm_block_q8_K *y) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m128i sm = q4k_scales_mins(x + i);
        __m128i s16 = _mm_cvtepu8_epi16(sm);
        __m256i sc = _mm256_set_m128i(s16, s16);
        __m256i mins2 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m0 m0 m1 m1 .. */
        __m256i msum = _mm256_madd_epi16(mins2, slm_x86_load32(y[i].bsums));
        __m256i i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i q = slm_x86_load32(x[i].qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            i0 = slm_x86_madd_acc(i0, _mm256_maddubs_epi16(lo, slm_x86_load32(y[i].qs + 64 * j)),
                                  slm_x86_scale_bcast(sc, 2 * j));
            i1 = slm_x86_madd_acc(i1, _mm256_maddubs_epi16(hi, slm_x86_load32(y[i].qs + 64 * j + 32)),
                                  slm_x86_scale_bcast(sc, 2 * j + 1));
        }
        const __m256 dy = _mm256_broadcast_ss(&y[i].d);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(dy, _mm256_set1_ps(slm_x86_f16(x[i].d))),
                              _mm256_cvtepi32_ps(_mm256_add_epi32(i0, i1)), acc);
        accm = _mm256_fmadd_ps(_mm256_mul_ps(dy, _mm256_set1_ps(slm_x86_f16(x[i].dmin))),
                               _mm256_cvtepi32_ps(msum), accm);
    }
    return slm_x86_hsum8(_mm256_sub_ps(acc, accm));
}

static __attribute__((unused)) void q4k_gemv(int64_t cols, const void *w, size_t ws, int64_t n_rows, const void *a, size_t as,
                     int64_t n_tok, float *y, int64_t ldy) {
    const int64_t nb = cols / SLM_QK_K;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < n_rows; r++)
            y[t * ldy + r] = q4k_row(nb, (const slm_block_q4_K *)((const uint8_t *)w + (size_t)r * ws),
                                     (const slm_block_q8_K *)((const uint8_t *)a + (size_t)t * as));
}

/* ---- Q4_K x Q8_K ------------------------------------------------------- */
GEMM_INLINE void q4k_tile(const int R, const int T, int64_t nb, const uint8_t *w, size_t ws,
                          const uint8_t *a, size_t as, float *y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[GEMM_MR][GEMM_MT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const slm_block_q4_K *x[GEMM_MR];
        const slm_block_q8_K *yb[GEMM_MT];
        __m256i sc[GEMM_MR];
        __m128i mins[GEMM_MR];
        for (int r = 0; r < R; r++) {
            x[r] = (const slm_block_q4_K *)(w + (size_t)r * ws) + i;
            __m128i sm = q4k_scales_mins(x[r]);
            __m128i s16 = _mm_cvtepu8_epi16(sm);
            sc[r] = _mm256_set_m128i(s16, s16);
            mins[r] = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
        }
        for (int t = 0; t < T; t++) yb[t] = (const slm_block_q8_K *)(a + (size_t)t * as) + i;
        __m256i is[GEMM_MR][GEMM_MT];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) is[r][t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            for (int r = 0; r < R; r++) {
                __m256i q = slm_x86_load32(x[r]->qs + 32 * j);
                __m256i lo = _mm256_and_si256(q, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                __m256i slo = slm_x86_scale_bcast(sc[r], 2 * j);
                __m256i shi = slm_x86_scale_bcast(sc[r], 2 * j + 1);
                for (int t = 0; t < T; t++) {
                    __m256i plo = _mm256_maddubs_epi16(lo, slm_x86_load32(yb[t]->qs + 64 * j));
                    __m256i phi = _mm256_maddubs_epi16(hi, slm_x86_load32(yb[t]->qs + 64 * j + 32));
                    is[r][t] = slm_x86_madd_acc(is[r][t], plo, slo);
                    is[r][t] = slm_x86_madd_acc(is[r][t], phi, shi);
                }
            }
        }
        /* acc += d_y * (d_x * isum - dmin_x * sum_g min[g] * bsum pair[g]) */
        __m128i pair[GEMM_MT];
        __m256 dy[GEMM_MT];
        for (int t = 0; t < T; t++) {
            __m256i bs = slm_x86_load32(yb[t]->bsums);
            pair[t] = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            dy[t] = _mm256_broadcast_ss(&yb[t]->d);
        }
        for (int r = 0; r < R; r++) {
            const __m256 dx = _mm256_set1_ps(slm_x86_f16(x[r]->d));
            const __m256 mx = _mm256_set1_ps(slm_x86_f16(x[r]->dmin));
            for (int t = 0; t < T; t++) {
                __m128 m = _mm_cvtepi32_ps(_mm_madd_epi16(mins[r], pair[t]));
                __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(is[r][t]), dx, _mm256_mul_ps(_mm256_zextps128_ps256(m), mx));
                acc[r][t] = _mm256_fmadd_ps(v, dy[t], acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = slm_x86_hsum8(acc[r][t]);
}

/* ---- Q6_K x Q8_K ------------------------------------------------------- */
/* Sub-block group k (0..3) of half h of a Q6_K block as unsigned 6-bit
 * values: low nibbles from ql, the two high bits from qh. */
GEMM_INLINE __m256i q6k_quants(const slm_block_q6_K *x, int h, int k) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m256i l = slm_x86_load32(x->ql + 64 * h + 32 * (k & 1));
    __m256i qh = slm_x86_load32(x->qh + 32 * h);
    if (k >= 2) l = _mm256_srli_epi16(l, 4);
    switch (k) {
    case 0: qh = _mm256_slli_epi16(qh, 4); break;
    case 1: qh = _mm256_slli_epi16(qh, 2); break;
    case 3: qh = _mm256_srli_epi16(qh, 2); break;
    default: break;
    }
    return _mm256_or_si256(_mm256_and_si256(l, m4), _mm256_and_si256(qh, m2));
}

GEMM_INLINE void q6k_tile(const int R, const int T, int64_t nb, const uint8_t *w, size_t ws,
                          const uint8_t *a, size_t as, float *y, int64_t ldy) {
    __m256 acc[GEMM_MR][GEMM_MT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const slm_block_q6_K *x[GEMM_MR];
        const slm_block_q8_K *yb[GEMM_MT];
        __m256i is[GEMM_MR][GEMM_MT];
        for (int t = 0; t < T; t++) yb[t] = (const slm_block_q8_K *)(a + (size_t)t * as) + i;
        /* the -32 offset: start at -32 * sum_g scale[g] * bsums[g] */
        for (int r = 0; r < R; r++) {
            x[r] = (const slm_block_q6_K *)(w + (size_t)r * ws) + i;
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[r]->scales));
            __m256i neg = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc16, 5));
            for (int t = 0; t < T; t++) is[r][t] = _mm256_madd_epi16(neg, slm_x86_load32(yb[t]->bsums));
        }
        for (int h = 0; h < 2; h++) {
            __m256i sc[GEMM_MR];
            for (int r = 0; r < R; r++) {
                __m128i s16 = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(x[r]->scales + 8 * h)));
                sc[r] = _mm256_set_m128i(s16, s16);
            }
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                for (int r = 0; r < R; r++) {
                    __m256i q = q6k_quants(x[r], h, k);
                    __m256i sp = slm_x86_scale_pair(sc[r], 2 * k);
                    for (int t = 0; t < T; t++) {
                        __m256i p = _mm256_maddubs_epi16(q, slm_x86_load32(yb[t]->qs + 128 * h + 32 * k));
                        is[r][t] = slm_x86_madd_acc(is[r][t], p, sp);
                    }
                }
            }
        }
        for (int r = 0; r < R; r++) {
            const float dx = slm_x86_f16(x[r]->d);
            for (int t = 0; t < T; t++)
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(yb[t]->d * dx), _mm256_cvtepi32_ps(is[r][t]), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = slm_x86_hsum8(acc[r][t]);
}

/* ---- Q8_0 x Q8_0 ------------------------------------------------------- */
GEMM_INLINE void q8_0_tile(const int R, const int T, int64_t nb, const uint8_t *w, size_t ws,
                           const uint8_t *a, size_t as, float *y, int64_t ldy) {
    __m256 acc[GEMM_MR][GEMM_MT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i yq[GEMM_MT];
        __m256 dy[GEMM_MT];
#if GEMM_VNNI
        __m256i bias[GEMM_MT];
#endif
        for (int t = 0; t < T; t++) {
            const slm_block_q8_0 *yb = (const slm_block_q8_0 *)(a + (size_t)t * as) + i;
            yq[t] = slm_x86_load32(yb->qs);
            dy[t] = _mm256_set1_ps(slm_x86_f16(yb->d));
#if GEMM_VNNI
            __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), yq[t]);
            bias[t] = _mm256_sub_epi32(_mm256_setzero_si256(), s);
#endif
        }
        for (int r = 0; r < R; r++) {
            const slm_block_q8_0 *xb = (const slm_block_q8_0 *)(w + (size_t)r * ws) + i;
            const __m256 dx = _mm256_set1_ps(slm_x86_f16(xb->d));
            const __m256i xq = slm_x86_load32(xb->qs);
#if GEMM_VNNI
            const __m256i xu = _mm256_xor_si256(xq, _mm256_set1_epi8((char)0x80));
#else
            const __m256i xa = _mm256_abs_epi8(xq);
#endif
            for (int t = 0; t < T; t++) {
#if GEMM_VNNI
                __m256i d = _mm256_dpbusd_epi32(bias[t], xu, yq[t]);
#else
                __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(yq[t], xq)),
                                              _mm256_set1_epi16(1));
#endif
                /* (cvt * dx) * dy: vector multiplies (a scalar dx * dy would
                 * need a broadcast per output) */
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(d), dx), dy[t], acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = slm_x86_hsum8(acc[r][t]);
}

#if GEMM_VNNI
/* Q8_0 with the per-block work hoisted out of the tiles: before the tiles
 * run, each token's blocks get their bias (-128 * sum of the bytes, as an
 * int32) and float scale, and each row tile's weights are copied biased to
 * unsigned bytes with float scales. A tile then does per row, token and
 * block only vpdpbusd (started at the bias), a convert and two float
 * multiplies: no f16 conversions, broadcasts or bias sums. */
typedef struct q8_0_prep {
    const uint8_t *xu;   /* [R][nb][32] weights + 128 */
    const float *dx;     /* [R][nb] */
    const int32_t *bias; /* [T][nb] */
    const float *dy;     /* [T][nb] */
} q8_0_prep;

GEMM_INLINE void q8_0p_tile(const int R, const int T, int64_t nb, const q8_0_prep *p, const uint8_t *a,
                            size_t as, float *y, int64_t ldy) {
    __m256 acc[GEMM_MR][GEMM_MT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i yq[GEMM_MT], bias[GEMM_MT];
        for (int t = 0; t < T; t++) {
            yq[t] = slm_x86_load32(((const slm_block_q8_0 *)(a + (size_t)t * as) + i)->qs);
            bias[t] = _mm256_zextsi128_si256(_mm_cvtsi32_si128(p->bias[t * nb + i]));
        }
        for (int r = 0; r < R; r++) {
            const __m256i xu = slm_x86_load32(p->xu + ((size_t)r * (size_t)nb + (size_t)i) * SLM_QK);
            const __m256 dx = _mm256_broadcast_ss(&p->dx[r * nb + i]);
            for (int t = 0; t < T; t++) {
                __m256i d = _mm256_dpbusd_epi32(bias[t], xu, yq[t]);
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(d), dx),
                                            _mm256_broadcast_ss(&p->dy[t * nb + i]), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ldy + r] = slm_x86_hsum8(acc[r][t]);
}

typedef void (*q8_0p_tile_fn)(int64_t nb, const q8_0_prep *p, const uint8_t *a, size_t as, float *y,
                              int64_t ldy);

/* Per-token bias and scale of n_tok activation rows. */
static void q8_0_prep_tokens(int64_t nb, const uint8_t *a, size_t as, int64_t n_tok, int32_t *bias, float *dy) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t t = 0; t < n_tok; t++) {
        const slm_block_q8_0 *yb = (const slm_block_q8_0 *)(a + (size_t)t * as);
        for (int64_t i = 0; i < nb; i++) {
            __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, slm_x86_load32(yb[i].qs));
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
            bias[t * nb + i] = -128 * _mm_cvtsi128_si32(h);
            dy[t * nb + i] = slm_x86_f16(yb[i].d);
        }
    }
}

/* Biased weights and float scales of rows [0, R) starting at w. */
static void q8_0_prep_rows(int64_t nb, const uint8_t *w, size_t ws, int R, uint8_t *xu, float *dx) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    for (int r = 0; r < R; r++) {
        const slm_block_q8_0 *xb = (const slm_block_q8_0 *)(w + (size_t)r * ws);
        for (int64_t i = 0; i < nb; i++) {
            _mm256_storeu_si256((__m256i *)(xu + ((size_t)r * (size_t)nb + (size_t)i) * SLM_QK),
                                _mm256_xor_si256(slm_x86_load32(xb[i].qs), bias));
            dx[r * nb + i] = slm_x86_f16(xb[i].d);
        }
    }
}

/* The sweep of gemm_sweep, with the preparation; false (nothing done)
 * when the scratch cannot be allocated. */
static bool q8_0p_sweep(q8_0p_tile_fn const tiles[GEMM_MR][GEMM_MT], int64_t nb, const uint8_t *w, size_t ws,
                        int64_t n_rows, const uint8_t *a, size_t as, int64_t n_tok, float *y, int64_t ldy) {
    const size_t tok_bytes = (size_t)n_tok * (size_t)nb * (sizeof(int32_t) + sizeof(float));
    const size_t row_bytes = (size_t)GEMM_MR * (size_t)nb * (SLM_QK + sizeof(float));
    uint8_t *mem = aligned_alloc(32, (tok_bytes + row_bytes + 31) / 32 * 32);
    if (!mem) return false;
    uint8_t *xu = mem;
    float *dx = (float *)(mem + (size_t)GEMM_MR * (size_t)nb * SLM_QK);
    int32_t *bias = (int32_t *)(mem + row_bytes);
    float *dy = (float *)(bias + (size_t)n_tok * (size_t)nb);
    q8_0_prep_tokens(nb, a, as, n_tok, bias, dy);
    for (int64_t r = 0; r < n_rows; r += GEMM_MR) {
        const int R = (int)(n_rows - r < GEMM_MR ? n_rows - r : GEMM_MR);
        q8_0_prep_rows(nb, w + (size_t)r * ws, ws, R, xu, dx);
        for (int64_t t = 0; t < n_tok; t += GEMM_MT) {
            const int T = (int)(n_tok - t < GEMM_MT ? n_tok - t : GEMM_MT);
            q8_0_prep p = {xu, dx, bias + t * nb, dy + t * nb};
            tiles[R - 1][T - 1](nb, &p, a + (size_t)t * as, as, y + t * ldy + r, ldy);
        }
    }
    free(mem);
    return true;
}
#endif

/* ---- tiling ------------------------------------------------------------- */
typedef void (*gemm_tile_fn)(int64_t nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                             float *y, int64_t ldy);

#define GEMM_TILE_FN(KIND, R, T)                                                                 \
    static void KIND##_tile_##R##x##T(int64_t nb, const uint8_t *w, size_t ws, const uint8_t *a, \
                                      size_t as, float *y, int64_t ldy) {                        \
        KIND##_tile(R, T, nb, w, ws, a, as, y, ldy);                                             \
    }

/* Sweeps the tiles: rows outer (a tile's weights stay in L1 while all the
 * tokens pass), tokens inner; edge tiles use the smaller instances. */
static void gemm_sweep(gemm_tile_fn const tiles[GEMM_MR][GEMM_MT], int64_t nb, const uint8_t *w,
                       size_t ws, int64_t n_rows, const uint8_t *a, size_t as, int64_t n_tok, float *y,
                       int64_t ldy) {
    for (int64_t r = 0; r < n_rows; r += GEMM_MR) {
        const int R = (int)(n_rows - r < GEMM_MR ? n_rows - r : GEMM_MR);
        for (int64_t t = 0; t < n_tok; t += GEMM_MT) {
            const int T = (int)(n_tok - t < GEMM_MT ? n_tok - t : GEMM_MT);
            tiles[R - 1][T - 1](nb, w + (size_t)r * ws, ws, a + (size_t)t * as, as, y + t * ldy + r, ldy);
        }
    }
}

#endif
