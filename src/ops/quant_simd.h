/* Internal contract between the dispatcher (quant_traits.c) and the SIMD
 * kernel files. Each level returns its kernel for a weight type, or NULL
 * when it has none (the dispatcher then uses the lower level). The SIMD
 * versions must give the same results as the scalar reference up to float
 * summation order. */
#ifndef SLM_OPS_QUANT_SIMD_H
#define SLM_OPS_QUANT_SIMD_H

#include "slm/quant.h"

/* vec_dot for weight type t (activations in t's vec_dot_type). */
slm_vec_dot_fn slm_vec_dot_avx2(slm_dtype t);
slm_vec_dot_fn slm_vec_dot_avx512(slm_dtype t);
/* from_float for activation types (F16, BF16, Q8_0, Q8_1, Q8_K). */
slm_from_float_fn slm_from_float_avx2(slm_dtype t);
slm_from_float_fn slm_from_float_avx512(slm_dtype t);
/* to_float (dequantize) for weight types. */
slm_to_float_fn slm_to_float_avx2(slm_dtype t);
slm_to_float_fn slm_to_float_avx512(slm_dtype t);

#endif
