/* Reference quantizers (float -> block) for the k-quant weight formats
 * Q2_K, Q3_K, Q4_K, Q5_K and Q6_K.
 *
 * These reproduce ggml's quantize_row_*_ref (the path used when no
 * importance matrix is given): each 16- or 32-element sub-block gets a
 * least-squares fitted scale (and min) by a small search over candidate
 * scales, the sub-block scales are themselves quantized to 4 or 6 bits
 * against a per-super-block f16 scale, and finally every element is
 * re-quantized with the scales actually stored. Float operations are kept
 * in ggml's order so the produced bytes match. */
#include <math.h>

#include "ops/quant_scalar.h"

#define QKK SLM_QK_K
#define GROUP_MAX_EPS 1e-15f

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- Scale searches ---------------------------------------------------- */

/* Asymmetric fit x ~ scale * L + min with L in 0..nmax, min <= 0, minimizing
 * the weighted error (|.| when use_mad, else squared). Tries iscales
 * (rmin + rdelta*k + nmax) / (max - min) for k = 0..nstep, solving the
 * weighted least-squares scale/min for each. Returns scale; *neg_min = -min. */
typedef struct {
    int nmax;
    float rmin, rdelta;
    int nstep;
    bool use_mad;
} affine_search;

static float weighted_error(int n, const float *x, const float *w, const uint8_t *L, float scale,
                            float min, bool use_mad) {
    float err = 0;
    for (int i = 0; i < n; i++) {
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        err += w[i] * diff;
    }
    return err;
}

static float fit_affine(int n, const float *x, const float *w, uint8_t *L, float *neg_min,
                        const affine_search *p) {
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.f;
    }
    float iscale = p->nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)clampi(slm_nearest_int(iscale * (x[i] - min)), 0, p->nmax);
    float best = weighted_error(n, x, w, L, scale, min, p->use_mad);
    for (int is = 0; is <= p->nstep; is++) {
        iscale = (p->rmin + p->rdelta * is + p->nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(slm_nearest_int(iscale * (x[i] - min)), 0, p->nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue; /* also skips NaN */
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = weighted_error(n, x, w, Laux, this_scale, this_min, p->use_mad);
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* Largest-magnitude value, sign kept (first one on ties). */
static float signed_absmax(int n, const float *x, float *amax_out) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    *amax_out = amax;
    return max;
}

/* Symmetric fit x ~ scale * (L - nmax), L - nmax in [-nmax, nmax-1],
 * weights x^2; tries iscales -(nmax + 0.1*is)/max for is = -9..9 and keeps
 * the best least-squares scale (ggml's make_qx_quants, rmse_type 1). */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float amax, max = signed_absmax(n, x, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(slm_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(slm_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(slm_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's symmetric fit: start from round(x * -nmax/max), then up to five
 * passes of per-element coordinate descent on the x^2-weighted error
 * (ggml's make_q3_quants with do_rmse). L gets l + nmax. */
static float fit_q3(int n, int nmax, const float *x, int8_t *L) {
    float amax, max = signed_absmax(n, x, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(slm_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int new_l = clampi(slm_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Packs 2-bit values: byte (e/128)*32 + e%32, bits 2*((e%128)/32). */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QKK; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* ---- Q2_K ---- */
void slm_scalar_from_float_q2_K(const float *x, void *vy, int64_t n) {
    slm_block_q2_K *y = vy;
    const affine_search p = {3, -0.5f, 0.1f, 15, true};
    uint8_t L[QKK];
    float w[16], mins[16], scales[16];
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_affine(16, x + 16 * j, w, L + 16 * j, &mins[j], &p);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        memset(y[i].scales, 0, sizeof y[i].scales);
        y[i].d = slm_f32_to_f16(0.f);
        if (max_scale > 0) {
            const float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)slm_nearest_int(iscale * scales[j]);
            y[i].d = slm_f32_to_f16(max_scale / 15.f);
        }
        y[i].dmin = slm_f32_to_f16(0.f);
        if (max_min > 0) {
            const float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++)
                y[i].scales[j] |= (uint8_t)(slm_nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = slm_f32_to_f16(max_min / 15.f);
        }
        for (int j = 0; j < 16; j++) {
            const float d = slm_f16_to_f32(y[i].d) * (y[i].scales[j] & 0xF);
            if (!d) continue;
            const float dm = slm_f16_to_f32(y[i].dmin) * (y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)clampi(slm_nearest_int((x[16 * j + l] + dm) / d), 0, 3);
        }
        pack_2bit(L, y[i].qs);
    }
}

/* ---- Q3_K ---- */
static void q3k_store_scale(uint8_t *s, int j, int l) {
    if (j < 8) s[j] = (uint8_t)(l & 0xF);
    else s[j - 8] |= (uint8_t)((l & 0xF) << 4);
    s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

void slm_scalar_from_float_q3_K(const float *x, void *vy, int64_t n) {
    slm_block_q3_K *y = vy;
    int8_t L[QKK];
    float scales[16];
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, 12);
        y[i].d = slm_f32_to_f16(0.f);
        if (max_scale) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = (int8_t)slm_nearest_int(iscale * scales[j]);
                q3k_store_scale(y[i].scales, j, clampi(l, -32, 31) + 32);
            }
            y[i].d = slm_f32_to_f16(1 / iscale);
        }
        for (int j = 0; j < 16; j++) {
            const float d = slm_f16_to_f32(y[i].d) * slm_q3k_scale(j, y[i].scales);
            if (!d) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(slm_nearest_int(x[16 * j + l] / d), -4, 3) + 4);
        }
        /* high bit of element e goes to hmask[e % 32], bit e / 32 */
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        uint8_t low[QKK];
        for (int e = 0; e < QKK; e++) {
            int v = L[e];
            if (v > 3) {
                y[i].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
                v -= 4;
            }
            low[e] = (uint8_t)v;
        }
        pack_2bit(low, y[i].qs);
    }
}

/* ---- Q4_K / Q5_K ---- */
/* Quantizes the 8 sub-block scales and mins to 6 bits, packs them, sets
 * d/dmin, then re-quantizes every element to 0..nmax into L. */
static void k4_finish(const float *x, const float *scales, const float *mins, int nmax,
                      uint8_t *packed, slm_f16 *d_out, slm_f16 *dmin_out, uint8_t *L) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)slm_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)slm_nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
            packed[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d_out = slm_f32_to_f16(max_scale / 63.f);
    *dmin_out = slm_f32_to_f16(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        slm_k4_scale_min(j, packed, &sc, &m);
        const float d = slm_f16_to_f32(*d_out) * sc;
        if (!d) continue;
        const float dm = slm_f16_to_f32(*dmin_out) * m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(slm_nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

/* Per-sub-block affine fits with weights rms(sub-block) + |x|. */
static void k4_fit(const float *x, const affine_search *p, uint8_t *L, float *scales, float *mins) {
    float w[32];
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = fit_affine(32, xs, w, L + 32 * j, &mins[j], p);
    }
}

void slm_scalar_from_float_q4_K(const float *x, void *vy, int64_t n) {
    slm_block_q4_K *y = vy;
    const affine_search p = {15, -1.f, 0.1f, 20, false};
    uint8_t L[QKK];
    float scales[8], mins[8];
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        k4_fit(x, &p, L, scales, mins);
        memset(y[i].scales, 0, sizeof y[i].scales);
        k4_finish(x, scales, mins, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int j = 0; j < QKK; j += 64)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void slm_scalar_from_float_q5_K(const float *x, void *vy, int64_t n) {
    slm_block_q5_K *y = vy;
    const affine_search p = {31, -0.5f, 0.1f, 15, false};
    uint8_t L[QKK];
    float scales[8], mins[8];
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        k4_fit(x, &p, L, scales, mins);
        memset(y[i].scales, 0, sizeof y[i].scales);
        k4_finish(x, scales, mins, 31, y[i].scales, &y[i].d, &y[i].dmin, L);
        /* low nibbles as Q4_K; fifth bit of element e in qh[e % 32], bit e / 32 */
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int e = 0; e < QKK; e++) {
            if (L[e] > 15) {
                y[i].qh[e % 32] |= (uint8_t)(1u << (e / 32));
                L[e] = (uint8_t)(L[e] - 16);
            }
        }
        for (int j = 0; j < QKK; j += 64)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

/* ---- Q6_K ---- */
void slm_scalar_from_float_q6_K(const float *x, void *vy, int64_t n) {
    slm_block_q6_K *y = vy;
    int8_t L[QKK];
    float scales[16];
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        float max_scale = 0, max_abs = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_symmetric(16, 32, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > max_abs) {
                max_abs = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (max_abs < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = slm_f32_to_f16(1 / iscale);
        for (int j = 0; j < 16; j++) {
            int v = slm_nearest_int(iscale * scales[j]);
            y[i].scales[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            const float d = slm_f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(slm_nearest_int(x[16 * j + l] / d), -32, 31) + 32);
        }
        /* see q6k_unpack in quant_scalar_kquants.c for the layout */
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                  ((Lh[l + 96] >> 4) << 6));
            }
        }
    }
}
