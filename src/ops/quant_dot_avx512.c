/* AVX-512 instance of the legacy-quant dot products (Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_0; template in quant_x86_legacy.h). Compiled with AVX512-VNNI,
 * so each block's bytes are multiplied and summed by one vpdpbusd instead
 * of maddubs+madd. The kernels keep 256-bit registers: on the AMD Zen 4
 * this was measured on, 512-bit versions (two blocks per zmm) were no
 * faster, since zmm integer ops issue as two 256-bit halves there. */
#include "ops/quant_x86_legacy.h"

SLM_X86_LEGACY_KERNELS(avx512)
