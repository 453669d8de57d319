/* The AVX-512 (F/BW/VL/DQ/VNNI) level of the quant kernels: the VNNI
 * instances of the legacy and k-quant dot templates (quant_dot_avx512.c,
 * quant_kdot_avx512.c). Float dots, from_float and to_float return NULL
 * here, so the dispatcher keeps their AVX2 versions (512-bit versions were
 * not faster on the Zen 4 this was measured on). */
#include "ops/quant_x86.h"

slm_vec_dot_fn slm_vec_dot_avx512(slm_dtype t) {
    switch (t) {
    case SLM_TYPE_Q4_0: return slm_x86_dot_q4_0_avx512;
    case SLM_TYPE_Q4_1: return slm_x86_dot_q4_1_avx512;
    case SLM_TYPE_Q5_0: return slm_x86_dot_q5_0_avx512;
    case SLM_TYPE_Q5_1: return slm_x86_dot_q5_1_avx512;
    case SLM_TYPE_Q8_0: return slm_x86_dot_q8_0_avx512;
    case SLM_TYPE_Q2_K: return slm_x86_dot_q2_K_avx512;
    case SLM_TYPE_Q3_K: return slm_x86_dot_q3_K_avx512;
    case SLM_TYPE_Q4_K: return slm_x86_dot_q4_K_avx512;
    case SLM_TYPE_Q5_K: return slm_x86_dot_q5_K_avx512;
    case SLM_TYPE_Q6_K: return slm_x86_dot_q6_K_avx512;
    default: return NULL;
    }
}

slm_from_float_fn slm_from_float_avx512(slm_dtype t) { (void)t; return NULL; }
slm_to_float_fn slm_to_float_avx512(slm_dtype t) { (void)t; return NULL; }
