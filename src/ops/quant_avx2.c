/* The AVX2+FMA+F16C level of the quant kernels: maps each type to its
 * kernel in quant_dot_avx2.c, quant_kdot_avx2.c, quant_quantize_avx2.c and
 * quant_dequant_avx2.c (NULL: the dispatcher uses the scalar reference). */
#include "ops/quant_x86.h"

slm_vec_dot_fn slm_vec_dot_avx2(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_F32: return slm_x86_dot_f32_avx2;
    case SLM_TYPE_F16: return slm_x86_dot_f16_avx2;
    case SLM_TYPE_BF16: return slm_x86_dot_bf16_avx2;
    case SLM_TYPE_Q4_0: return slm_x86_dot_q4_0_avx2;
    case SLM_TYPE_Q4_1: return slm_x86_dot_q4_1_avx2;
    case SLM_TYPE_Q5_0: return slm_x86_dot_q5_0_avx2;
    case SLM_TYPE_Q5_1: return slm_x86_dot_q5_1_avx2;
    case SLM_TYPE_Q8_0: return slm_x86_dot_q8_0_avx2;
    case SLM_TYPE_Q2_K: return slm_x86_dot_q2_K_avx2;
    case SLM_TYPE_Q3_K: return slm_x86_dot_q3_K_avx2;
    case SLM_TYPE_Q4_K: return slm_x86_dot_q4_K_avx2;
    case SLM_TYPE_Q5_K: return slm_x86_dot_q5_K_avx2;
    case SLM_TYPE_Q6_K: return slm_x86_dot_q6_K_avx2;
    default: return NULL;
    }
}

slm_from_float_fn slm_from_float_avx2(slm_dtype t) { return slm_x86_from_float_avx2(t); }
slm_to_float_fn slm_to_float_avx2(slm_dtype t) { return slm_x86_to_float_avx2(t); }
