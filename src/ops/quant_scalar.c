/* The table of scalar reference kernels: for each type its vec_dot_type
 * (the activation format llama.cpp's CPU backend pairs it with) and its
 * to_float / from_float / vec_dot functions (quant_scalar_*.c). */
#include "ops/quant_scalar.h"

#define ROW(T, name, dot_type)                                                              \
    [SLM_TYPE_##T] = {SLM_TYPE_##T, SLM_TYPE_##dot_type, slm_scalar_to_float_##name,        \
                      slm_scalar_from_float_##name, slm_scalar_vec_dot_##name}

static const slm_type_traits SCALAR[SLM_TYPE_COUNT] = {
    ROW(F32, f32, F32),
    ROW(F16, f16, F16),
    ROW(BF16, bf16, BF16),
    ROW(Q4_0, q4_0, Q8_0),
    ROW(Q4_1, q4_1, Q8_1),
    ROW(Q5_0, q5_0, Q8_0),
    ROW(Q5_1, q5_1, Q8_1),
    ROW(Q8_0, q8_0, Q8_0),
    ROW(Q8_1, q8_1, Q8_1),
    ROW(Q2_K, q2_K, Q8_K),
    ROW(Q3_K, q3_K, Q8_K),
    ROW(Q4_K, q4_K, Q8_K),
    ROW(Q5_K, q5_K, Q8_K),
    ROW(Q6_K, q6_K, Q8_K),
    ROW(Q8_K, q8_K, Q8_K),
};

bool slm_scalar_traits(slm_dtype t, slm_type_traits *out) {
    if ((unsigned)t >= SLM_TYPE_COUNT || SCALAR[t].to_float == NULL) return false;
    *out = SCALAR[t];
    return true;
}
