/* Scalar kernels for the plain float formats F32, F16 and BF16.
 *
 * Dot products multiply element pairs in float (exact for F16/BF16 pairs)
 * and sum in double, like ggml's scalar ggml_vec_dot_{f32,f16,bf16}.
 * Conversions round to nearest even (slm_f32_to_f16 / slm_f32_to_bf16),
 * as F16C and ggml's reference do. */
#include "ops/quant_scalar.h"

/* ---- F32 ---- */
void slm_scalar_to_float_f32(const void *x, float *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

void slm_scalar_from_float_f32(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

void slm_scalar_vec_dot_f32(int64_t n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * y[i]);
    *s = (float)sum;
}

/* ---- F16 ---- */
void slm_scalar_to_float_f16(const void *vx, float *y, int64_t n) {
    const slm_f16 *x = vx;
    slm_base_init();
    for (int64_t i = 0; i < n; i++) y[i] = slm_h2f(x[i]);
}

void slm_scalar_from_float_f16(const float *x, void *vy, int64_t n) {
    slm_f16 *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = slm_f32_to_f16(x[i]);
}

void slm_scalar_vec_dot_f16(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_f16 *x = vx, *y = vy;
    slm_base_init();
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(slm_h2f(x[i]) * slm_h2f(y[i]));
    *s = (float)sum;
}

/* ---- BF16 ---- */
void slm_scalar_to_float_bf16(const void *vx, float *y, int64_t n) {
    const slm_bf16 *x = vx;
    for (int64_t i = 0; i < n; i++) y[i] = slm_bf16_to_f32(x[i]);
}

void slm_scalar_from_float_bf16(const float *x, void *vy, int64_t n) {
    slm_bf16 *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = slm_f32_to_bf16(x[i]);
}

void slm_scalar_vec_dot_bf16(int64_t n, float *s, const void *vx, const void *vy) {
    const slm_bf16 *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(slm_bf16_to_f32(x[i]) * slm_bf16_to_f32(y[i]));
    *s = (float)sum;
}
