/* avx512 kernels for the quantized formats (placeholder: none yet, the
 * dispatcher falls back to the scalar reference). */
#include "ops/quant_simd.h"

slm_vec_dot_fn slm_vec_dot_avx512(slm_dtype t) { (void)t; return NULL; }
slm_from_float_fn slm_from_float_avx512(slm_dtype t) { (void)t; return NULL; }
slm_to_float_fn slm_to_float_avx512(slm_dtype t) { (void)t; return NULL; }
