/* AVX2+FMA instance of the k-quant dot products (Q2_K..Q6_K x Q8_K;
 * template in quant_x86_kquants.h). */
#include "ops/quant_x86_kquants.h"

SLM_X86_KQUANT_KERNELS(avx2)
