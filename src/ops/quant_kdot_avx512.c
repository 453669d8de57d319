/* AVX-512 instance of the k-quant dot products (Q2_K..Q6_K x Q8_K;
 * template in quant_x86_kquants.h), compiled with AVX512-VNNI so the
 * scale-weighted accumulation is one vpdpwssd. 256-bit registers: on the
 * Zen 4 this was tuned on, zmm integer ops issue as two halves, and a
 * 512-bit layout only added shuffles. */
#include "ops/quant_x86_kquants.h"

SLM_X86_KQUANT_KERNELS(avx512)
