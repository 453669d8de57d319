/* Scalar kernels for the 32-element "legacy" block formats: Q4_0, Q4_1,
 * Q5_0, Q5_1 (weights) and Q8_0, Q8_1 (activations).
 *
 * Layout reminder: within a block, byte j of qs holds element j in its low
 * nibble and element j+16 in its high nibble; Q5 types keep the fifth bit
 * of element j in bit j of the little-endian 32-bit qh. Quantizers follow
 * ggml's quantize_row_*_ref exactly (truncating casts after +0.5 / +8.5,
 * roundf for Q8), dot products sum each block in integers and scale in
 * float in ggml's operation order. */
#include <float.h>
#include <math.h>

#include "ops/quant_scalar.h"

#define QK SLM_QK

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void store_qh(uint8_t qh[4], uint32_t v) {
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(v >> (8 * i));
}

/* The value of largest magnitude (sign kept; the first one on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* ---- Q4_0: d * (q - 8) ---- */
void slm_scalar_to_float_q4_0(const void *vx, float *y, int64_t n) {
    const slm_block_q4_0 *x = vx;
    slm_base_init();
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = ((x[i].qs[j] & 0xF) - 8) * d;
            y[j + QK / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void slm_scalar_from_float_q4_0(const float *x, void *vy, int64_t n) {
    slm_block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = signed_absmax(x, QK) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = slm_f32_to_f16(d);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = imin(15, (int8_t)(x[j] * id + 8.5f));
            int q1 = imin(15, (int8_t)(x[j + QK / 2] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void slm_scalar_vec_dot_q4_0(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q4_0 *x = vx;
    const slm_block_q8_0 *y = vy;
    slm_base_init();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            s0 += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
            s1 += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK / 2];
        }
        sum += (float)(s0 + s1) * slm_h2f(x[i].d) * slm_h2f(y[i].d);
    }
    *s = sum;
}

/* ---- Q4_1: d * q + m ---- */
void slm_scalar_to_float_q4_1(const void *vx, float *y, int64_t n) {
    const slm_block_q4_1 *x = vx;
    slm_base_init();
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d), m = slm_h2f(x[i].m);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (x[i].qs[j] & 0xF) * d + m;
            y[j + QK / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void slm_scalar_from_float_q4_1(const float *x, void *vy, int64_t n) {
    slm_block_q4_1 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float mn, mx;
        min_max(x, QK, &mn, &mx);
        const float d = (mx - mn) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = slm_f32_to_f16(d);
        y[i].m = slm_f32_to_f16(mn);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = imin(15, (int8_t)((x[j] - mn) * id + 0.5f));
            int q1 = imin(15, (int8_t)((x[j + QK / 2] - mn) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void slm_scalar_vec_dot_q4_1(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q4_1 *x = vx;
    const slm_block_q8_1 *y = vy;
    slm_base_init();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            s0 += (x[i].qs[j] & 0xF) * y[i].qs[j];
            s1 += (x[i].qs[j] >> 4) * y[i].qs[j + QK / 2];
        }
        sum += (slm_h2f(x[i].d) * slm_h2f(y[i].d)) * (float)(s0 + s1) +
               slm_h2f(x[i].m) * slm_h2f(y[i].s);
    }
    *s = sum;
}

/* ---- Q5_0: d * (q - 16), q = nibble | fifth bit ---- */
static void q5_unpack(const uint8_t *qs, const uint8_t qh4[4], int q[QK]) {
    const uint32_t qh = load_qh(qh4);
    for (int j = 0; j < QK / 2; j++) {
        q[j] = (int)((qs[j] & 0xF) | (((qh >> j) & 1) << 4));
        q[j + QK / 2] = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
}

static void q5_pack(const int q[QK], uint8_t *qs, uint8_t qh4[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + QK / 2] & 0xF) << 4));
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + QK / 2] >> 4) & 1) << (j + 16);
    }
    store_qh(qh4, qh);
}

void slm_scalar_to_float_q5_0(const void *vx, float *y, int64_t n) {
    const slm_block_q5_0 *x = vx;
    slm_base_init();
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d);
        q5_unpack(x[i].qs, x[i].qh, q);
        for (int j = 0; j < QK; j++) y[j] = (q[j] - 16) * d;
    }
}

void slm_scalar_from_float_q5_0(const float *x, void *vy, int64_t n) {
    slm_block_q5_0 *y = vy;
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = signed_absmax(x, QK) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = slm_f32_to_f16(d);
        for (int j = 0; j < QK; j++) q[j] = imin(31, (int8_t)(x[j] * id + 16.5f));
        q5_pack(q, y[i].qs, y[i].qh);
    }
}

void slm_scalar_vec_dot_q5_0(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q5_0 *x = vx;
    const slm_block_q8_0 *y = vy;
    slm_base_init();
    int q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        q5_unpack(x[i].qs, x[i].qh, q);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            s0 += (q[j] - 16) * y[i].qs[j];
            s1 += (q[j + QK / 2] - 16) * y[i].qs[j + QK / 2];
        }
        sum += (slm_h2f(x[i].d) * slm_h2f(y[i].d)) * (float)(s0 + s1);
    }
    *s = sum;
}

/* ---- Q5_1: d * q + m ---- */
void slm_scalar_to_float_q5_1(const void *vx, float *y, int64_t n) {
    const slm_block_q5_1 *x = vx;
    slm_base_init();
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d), m = slm_h2f(x[i].m);
        q5_unpack(x[i].qs, x[i].qh, q);
        for (int j = 0; j < QK; j++) y[j] = q[j] * d + m;
    }
}

void slm_scalar_from_float_q5_1(const float *x, void *vy, int64_t n) {
    slm_block_q5_1 *y = vy;
    int q[QK];
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float mn, mx;
        min_max(x, QK, &mn, &mx);
        const float d = (mx - mn) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = slm_f32_to_f16(d);
        y[i].m = slm_f32_to_f16(mn);
        for (int j = 0; j < QK; j++) q[j] = (uint8_t)((x[j] - mn) * id + 0.5f);
        q5_pack(q, y[i].qs, y[i].qh);
    }
}

void slm_scalar_vec_dot_q5_1(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q5_1 *x = vx;
    const slm_block_q8_1 *y = vy;
    slm_base_init();
    int q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        q5_unpack(x[i].qs, x[i].qh, q);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            s0 += q[j] * y[i].qs[j];
            s1 += q[j + QK / 2] * y[i].qs[j + QK / 2];
        }
        sum += (slm_h2f(x[i].d) * slm_h2f(y[i].d)) * (float)(s0 + s1) +
               slm_h2f(x[i].m) * slm_h2f(y[i].s);
    }
    *s = sum;
}

/* ---- Q8_0: d * q, d = absmax / 127, q = roundf(x / d) ---- */
void slm_scalar_to_float_q8_0(const void *vx, float *y, int64_t n) {
    const slm_block_q8_0 *x = vx;
    slm_base_init();
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d);
        for (int j = 0; j < QK; j++) y[j] = x[i].qs[j] * d;
    }
}

/* Shared by Q8_0 and Q8_1: returns d (unrounded) and writes qs. */
static float q8_block(const float *x, int8_t *qs) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK; j++) qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

void slm_scalar_from_float_q8_0(const float *x, void *vy, int64_t n) {
    slm_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) y[i].d = slm_f32_to_f16(q8_block(x, y[i].qs));
}

void slm_scalar_vec_dot_q8_0(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q8_0 *x = vx, *y = vy;
    slm_base_init();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        int si = 0;
        for (int j = 0; j < QK; j++) si += x[i].qs[j] * y[i].qs[j];
        sum += (float)si * (slm_h2f(x[i].d) * slm_h2f(y[i].d));
    }
    *s = sum;
}

/* ---- Q8_1: Q8_0 plus s = d * sum(q) (used against Q4_1/Q5_1 mins) ---- */
void slm_scalar_to_float_q8_1(const void *vx, float *y, int64_t n) {
    const slm_block_q8_1 *x = vx;
    slm_base_init();
    for (int64_t i = 0; i < n / QK; i++, y += QK) {
        const float d = slm_h2f(x[i].d);
        for (int j = 0; j < QK; j++) y[j] = x[i].qs[j] * d;
    }
}

void slm_scalar_from_float_q8_1(const float *x, void *vy, int64_t n) {
    slm_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = q8_block(x, y[i].qs);
        int sum = 0;
        for (int j = 0; j < QK; j++) sum += y[i].qs[j];
        y[i].d = slm_f32_to_f16(d);
        y[i].s = slm_f32_to_f16((float)sum * d);
    }
}

/* Not used by llama.cpp (Q8_1 is only an activation format); provided so
 * every type has a complete set. */
void slm_scalar_vec_dot_q8_1(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_block_q8_1 *x = vx, *y = vy;
    slm_base_init();
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        int si = 0;
        for (int j = 0; j < QK; j++) si += x[i].qs[j] * y[i].qs[j];
        sum += (float)si * (slm_h2f(x[i].d) * slm_h2f(y[i].d));
    }
    *s = sum;
}
