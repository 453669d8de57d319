/* Dispatch of the tiled matrix-product kernels (gemm.h) by SIMD level:
 * the AVX-512 table first, then AVX2; no scalar level (callers fall back
 * to vec_dot per output). The active level is read once, like the quant
 * kernels' (slm_type_traits_get). */
#include "ops/gemm.h"
#include "ops/quant_scalar.h"

#include <pthread.h>

static slm_simd_level ACTIVE;
static pthread_once_t ONCE = PTHREAD_ONCE_INIT;
static void detect(void) { ACTIVE = slm_simd_detect(); }

slm_gemm_fn slm_gemm_kernel_at(slm_dtype t, slm_simd_level level) {
#if defined(__x86_64__) || defined(__i386__)
    slm_simd_level cpu = slm_simd_cpu_level();
    if (level > cpu) level = cpu; /* never run what the CPU lacks */
    slm_gemm_fn f = NULL;
    if (level >= SLM_SIMD_AVX512) f = slm_gemm_avx512(t);
    if (!f && level >= SLM_SIMD_AVX2) f = slm_gemm_avx2(t);
    return f;
#else
    (void)t;
    (void)level;
    return NULL;
#endif
}

slm_gemm_fn slm_gemm_kernel(slm_dtype t) {
    pthread_once(&ONCE, detect);
    return slm_gemm_kernel_at(t, ACTIVE);
}

slm_gemm_fn slm_gemv_kernel_at(slm_dtype t, slm_simd_level level) {
#if defined(__x86_64__) || defined(__i386__)
    slm_simd_level cpu = slm_simd_cpu_level();
    if (level > cpu) level = cpu;
    /* no fallback to the level below: a one-token kernel only replaces
     * the vec_dot of its own level, where it was measured faster */
    if (level >= SLM_SIMD_AVX512) return slm_gemv_avx512(t);
    if (level >= SLM_SIMD_AVX2) return slm_gemv_avx2(t);
    return NULL;
#else
    (void)t;
    (void)level;
    return NULL;
#endif
}

slm_gemm_fn slm_gemv_kernel(slm_dtype t) {
    pthread_once(&ONCE, detect);
    return slm_gemv_kernel_at(t, ACTIVE);
}
