/* Scalar dequantization and dot products for the k-quants (256-element
 * super-blocks): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K against Q8_K activations,
 * plus Q8_K itself (quantizer and a Q8_K x Q8_K dot).
 *
 * Element e of a super-block uses scale e/16 (Q2/Q3/Q6) or e/32 (Q4/Q5).
 * Low bits sit in byte (e/128)*32 + e%32 of qs at bit 2*((e%128)/32)
 * (2-bit types) or in the e/64-th 32-byte chunk, low nibble for the first
 * 32 elements (4-bit types); Q6_K is laid out per 128 as described below.
 * Dot products accumulate per super-block in integers; Q3..Q6 keep ggml's
 * 8 lane sums so the float rounding matches its scalar code. */
#include <math.h>

#include "ops/quant_scalar.h"

#define QKK SLM_QK_K

/* ---- unpacking helpers: the integer quant of every element ---- */
static void q2k_unpack(const slm_block_q2_K *b, int8_t q[QKK]) {
    for (int e = 0; e < QKK; e++)
        q[e] = (int8_t)((b->qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3);
}

static void q3k_unpack(const slm_block_q3_K *b, int8_t q[QKK]) {
    for (int e = 0; e < QKK; e++) {
        const int group = e / 32; /* 0..7: which 2-bit field / hmask bit */
        int v = (b->qs[(e / 128) * 32 + e % 32] >> (2 * (group % 4))) & 3;
        if (!(b->hmask[e % 32] & (1u << group))) v -= 4;
        q[e] = (int8_t)v;
    }
}

static void q4k_unpack(const uint8_t *qs, int8_t q[QKK]) {
    for (int e = 0; e < QKK; e++) {
        const uint8_t byte = qs[(e / 64) * 32 + e % 32];
        q[e] = (int8_t)((e % 64) < 32 ? byte & 0xF : byte >> 4);
    }
}

static void q5k_unpack(const slm_block_q5_K *b, int8_t q[QKK]) {
    q4k_unpack(b->qs, q);
    for (int e = 0; e < QKK; e++) q[e] = (int8_t)(q[e] + (((b->qh[e % 32] >> (e / 32)) & 1) << 4));
}

/* Q6_K, per 128 elements: element l (0..31) + 32k takes its low nibble
 * from ql[l + 32*(k&1)] (low nibble for k<2, high for k>=2) and its two
 * high bits from qh[l] at bit 2k. Result minus 32. */
static void q6k_unpack(const slm_block_q6_K *b, int8_t q[QKK]) {
    for (int e = 0; e < QKK; e++) {
        const int half = e / 128, r = e % 128, k = r / 32, l = r % 32;
        const uint8_t lb = b->ql[half * 64 + l + 32 * (k & 1)];
        const int lo = k < 2 ? (lb & 0xF) : (lb >> 4);
        const int hi = (b->qh[half * 32 + l] >> (2 * k)) & 3;
        q[e] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* Q4_K/Q5_K 6-bit scales and mins of all 8 sub-blocks. */
static void k4_scales(const uint8_t *packed, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 8; j++) slm_k4_scale_min(j, packed, &sc[j], &mn[j]);
}

/* ggml's scalar k-quant dot: 8 integer lanes per super-block (element e
 * goes to lane e % 8), each later scaled into its own float lane sum.
 * scale[j] is the integer scale of the j-th group of `group` elements. */
static inline void lanes_accumulate(const int8_t *q8, const int8_t *a, const int *scale, int group,
                                    int32_t lanes[8]) {
    for (int j = 0; j < QKK / group; j++, q8 += group, a += group) {
        const int sc = scale[j];
        for (int l = 0; l < group; l += 8)
            for (int k = 0; k < 8; k++) lanes[k] += sc * (int16_t)(q8[l + k] * a[l + k]);
    }
}

/* ---- Q2_K ---- */
void slm_scalar_to_float_q2_K(const void *vx, float *y, int64_t n) {
    const slm_block_q2_K *x = vx;
    int8_t q[QKK];
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++, y += QKK) {
        const float d = slm_h2f(x[i].d), dmin = slm_h2f(x[i].dmin);
        q2k_unpack(&x[i], q);
        for (int e = 0; e < QKK; e++) {
            const uint8_t sc = x[i].scales[e / 16];
            const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
            y[e] = dl * q[e] - ml;
        }
    }
}

void slm_scalar_vec_dot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q2_K *x = vx;
    const slm_block_q8_K *y = vy;
    int8_t q[QKK];
    slm_base_init();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QKK; i++) {
        q2k_unpack(&x[i], q);
        int summs = 0, isum = 0;
        for (int j = 0; j < 16; j++) {
            summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
            int part = 0;
            for (int l = 0; l < 16; l++) part += y[i].qs[16 * j + l] * q[16 * j + l];
            isum += (x[i].scales[j] & 0xF) * part;
        }
        const float dall = y[i].d * slm_h2f(x[i].d);
        const float dmin = y[i].d * slm_h2f(x[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

/* ---- Q3_K ---- */
void slm_scalar_to_float_q3_K(const void *vx, float *y, int64_t n) {
    const slm_block_q3_K *x = vx;
    int8_t q[QKK];
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++, y += QKK) {
        const float d = slm_h2f(x[i].d);
        q3k_unpack(&x[i], q);
        for (int e = 0; e < QKK; e++) {
            const float dl = d * slm_q3k_scale(e / 16, x[i].scales);
            y[e] = dl * q[e];
        }
    }
}

void slm_scalar_vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q3_K *x = vx;
    const slm_block_q8_K *y = vy;
    int8_t q[QKK];
    int scale[16];
    float sums[8] = {0};
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++) {
        q3k_unpack(&x[i], q);
        for (int j = 0; j < 16; j++) scale[j] = slm_q3k_scale(j, x[i].scales);
        int32_t lanes[8] = {0};
        lanes_accumulate(y[i].qs, q, scale, 16, lanes);
        const float d = slm_h2f(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)lanes[l];
    }
    float sum = 0.0f;
    for (int l = 0; l < 8; l++) sum += sums[l];
    *s = sum;
}

/* ---- Q4_K / Q5_K (same scale layout, Q5 adds a fifth bit) ---- */
static void k4_dequant(const int8_t *q, const uint8_t *packed, float d, float dmin, float *y) {
    uint8_t sc[8], mn[8];
    k4_scales(packed, sc, mn);
    for (int e = 0; e < QKK; e++) {
        const float dl = d * sc[e / 32], ml = dmin * mn[e / 32];
        y[e] = dl * q[e] - ml;
    }
}

/* Shared Q4_K/Q5_K dot of one super-block; *min_part gets ggml's
 * dmin * sum(bsums * mins) term, lanes the scaled integer lane sums. */
static void k4_dot_block(const int8_t *q, const uint8_t *packed, const slm_block_q8_K *y,
                         int32_t lanes[8], int *min_sum) {
    uint8_t sc[8], mn[8];
    int scale[8];
    k4_scales(packed, sc, mn);
    for (int j = 0; j < 8; j++) scale[j] = sc[j];
    int sumi = 0;
    for (int j = 0; j < 16; j++) sumi += y->bsums[j] * mn[j / 2];
    *min_sum = sumi;
    lanes_accumulate(y->qs, q, scale, 32, lanes);
}

void slm_scalar_to_float_q4_K(const void *vx, float *y, int64_t n) {
    const slm_block_q4_K *x = vx;
    int8_t q[QKK];
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++, y += QKK) {
        q4k_unpack(x[i].qs, q);
        k4_dequant(q, x[i].scales, slm_h2f(x[i].d), slm_h2f(x[i].dmin), y);
    }
}

void slm_scalar_vec_dot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q4_K *x = vx;
    const slm_block_q8_K *y = vy;
    int8_t q[QKK];
    float sums[8] = {0}, sum = 0.0f;
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++) {
        int32_t lanes[8] = {0};
        int min_sum;
        q4k_unpack(x[i].qs, q);
        k4_dot_block(q, x[i].scales, &y[i], lanes, &min_sum);
        const float d = slm_h2f(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)lanes[l];
        sum -= slm_h2f(x[i].dmin) * y[i].d * (float)min_sum;
    }
    for (int l = 0; l < 8; l++) sum += sums[l];
    *s = sum;
}

void slm_scalar_to_float_q5_K(const void *vx, float *y, int64_t n) {
    const slm_block_q5_K *x = vx;
    int8_t q[QKK];
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++, y += QKK) {
        q5k_unpack(&x[i], q);
        k4_dequant(q, x[i].scales, slm_h2f(x[i].d), slm_h2f(x[i].dmin), y);
    }
}

void slm_scalar_vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q5_K *x = vx;
    const slm_block_q8_K *y = vy;
    int8_t q[QKK];
    float sums[8] = {0}, sum = 0.0f;
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++) {
        int32_t lanes[8] = {0};
        int min_sum;
        q5k_unpack(&x[i], q);
        k4_dot_block(q, x[i].scales, &y[i], lanes, &min_sum);
        const float d = slm_h2f(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)lanes[l];
        sum -= slm_h2f(x[i].dmin) * y[i].d * (float)min_sum;
    }
    for (int l = 0; l < 8; l++) sum += sums[l];
    *s = sum;
}

/* ---- Q6_K ---- */
void slm_scalar_to_float_q6_K(const void *vx, float *y, int64_t n) {
    const slm_block_q6_K *x = vx;
    int8_t q[QKK];
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++, y += QKK) {
        const float d = slm_h2f(x[i].d);
        q6k_unpack(&x[i], q);
        for (int e = 0; e < QKK; e++) y[e] = d * x[i].scales[e / 16] * q[e];
    }
}

void slm_scalar_vec_dot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q6_K *x = vx;
    const slm_block_q8_K *y = vy;
    int8_t q[QKK];
    int scale[16];
    float sums[8] = {0};
    slm_base_init();
    for (int64_t i = 0; i < n / QKK; i++) {
        int32_t lanes[8] = {0};
        q6k_unpack(&x[i], q);
        for (int j = 0; j < 16; j++) scale[j] = x[i].scales[j];
        lanes_accumulate(y[i].qs, q, scale, 16, lanes);
        const float d = slm_h2f(x[i].d) * y[i].d;
        for (int l = 0; l < 8; l++) sums[l] += d * (float)lanes[l];
    }
    float sum = 0.0f;
    for (int l = 0; l < 8; l++) sum += sums[l];
    *s = sum;
}

/* ---- Q8_K: d * q, d = max / -127 keeping the sign of the largest-
 * magnitude value, so that value maps to exactly -127 ---- */
void slm_scalar_to_float_q8_K(const void *vx, float *y, int64_t n) {
    const slm_block_q8_K *x = vx;
    for (int64_t i = 0; i < n / QKK; i++, y += QKK)
        for (int e = 0; e < QKK; e++) y[e] = x[i].d * x[i].qs[e];
}

void slm_scalar_from_float_q8_K(const float *x, void *vy, int64_t n) {
    slm_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QKK; i++, x += QKK) {
        float amax = 0.0f, max = 0.0f;
        for (int e = 0; e < QKK; e++) {
            if (fabsf(x[e]) > amax) {
                amax = fabsf(x[e]);
                max = x[e];
            }
        }
        if (!amax) {
            /* ggml leaves bsums untouched here; we zero them (d = 0 makes
             * them irrelevant) so the block is fully defined. */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int e = 0; e < QKK; e++) {
            const int v = slm_nearest_int(iscale * x[e]);
            y[i].qs[e] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QKK / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

/* Not used by llama.cpp (Q8_K is only an activation format). */
void slm_scalar_vec_dot_q8_K(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q8_K *x = vx, *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QKK; i++) {
        int si = 0;
        for (int e = 0; e < QKK; e++) si += x[i].qs[e] * y[i].qs[e];
        sum += (float)si * (x[i].d * y[i].d);
    }
    *s = sum;
}
