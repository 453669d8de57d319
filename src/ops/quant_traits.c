/* Run-time kernel dispatch for the quantized formats.
 *
 * Main data structure: TABLES[level][type], one slm_type_traits per SIMD
 * level and type, built once (pthread_once). Level 0 holds the scalar
 * reference kernels; each higher level starts as a copy of the level below
 * and overrides whatever fields its SIMD file provides (quant_simd.h), so a
 * missing SIMD kernel silently falls back to the next lower one.
 *
 * The CPU's level comes from CPUID plus XGETBV (the OS must save the
 * YMM/ZMM state, or AVX instructions fault even when CPUID lists them).
 * SLM_SIMD=scalar|avx2|avx512 can only lower it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/quant_scalar.h"
#include "ops/quant_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SLM_X86 1
#endif

#define NLEVELS 3

static slm_type_traits TABLES[NLEVELS][SLM_TYPE_COUNT];
static bool HAS_KERNELS[SLM_TYPE_COUNT];
static slm_simd_level CPU_LEVEL;
static slm_simd_level ACTIVE_LEVEL;

/* ---- CPU detection ----------------------------------------------------- */
#ifdef SLM_X86
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static slm_simd_level probe_cpu(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return SLM_SIMD_SCALAR;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
    const bool fma = c & (1u << 12), f16c = c & (1u << 29);
    if (!osxsave || !avx || !fma || !f16c) return SLM_SIMD_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return SLM_SIMD_SCALAR; /* XMM + YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return SLM_SIMD_SCALAR;
    if (!(b & (1u << 5))) return SLM_SIMD_SCALAR; /* AVX2 */
    const bool f = b & (1u << 16), dq = b & (1u << 17);
    const bool bw = b & (1u << 30), vl = b & (1u << 31);
    const bool vnni = c & (1u << 11);
    const bool zmm_state = (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM hi256, hi16 ZMM */
    if (f && dq && bw && vl && vnni && zmm_state) return SLM_SIMD_AVX512;
    return SLM_SIMD_AVX2;
}
#else
static slm_simd_level probe_cpu(void) { return SLM_SIMD_SCALAR; }
#endif

/* The cap requested by SLM_SIMD; avx512 (no cap) when unset or unknown. */
static slm_simd_level env_cap(void) {
    const char *v = getenv("SLM_SIMD");
    if (!v) return SLM_SIMD_AVX512;
    if (strcmp(v, "scalar") == 0) return SLM_SIMD_SCALAR;
    if (strcmp(v, "avx2") == 0) return SLM_SIMD_AVX2;
    return SLM_SIMD_AVX512;
}

static slm_simd_level min_level(slm_simd_level a, slm_simd_level b) { return a < b ? a : b; }

static pthread_once_t CPU_ONCE = PTHREAD_ONCE_INIT;
static void cpu_init(void) { CPU_LEVEL = probe_cpu(); }

slm_simd_level slm_simd_cpu_level(void) {
    pthread_once(&CPU_ONCE, cpu_init);
    return CPU_LEVEL;
}

slm_simd_level slm_simd_detect(void) { return min_level(slm_simd_cpu_level(), env_cap()); }

const char *slm_simd_name(slm_simd_level l) {
    switch (l) {
    case SLM_SIMD_SCALAR: return "scalar";
    case SLM_SIMD_AVX2: return "avx2";
    case SLM_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

/* ---- Tables ------------------------------------------------------------ */
static void apply_level(slm_type_traits *t, slm_simd_level l) {
    slm_vec_dot_fn dot = l == SLM_SIMD_AVX2 ? slm_vec_dot_avx2(t->type) : slm_vec_dot_avx512(t->type);
    slm_from_float_fn from = l == SLM_SIMD_AVX2 ? slm_from_float_avx2(t->type)
                                                : slm_from_float_avx512(t->type);
    slm_to_float_fn to = l == SLM_SIMD_AVX2 ? slm_to_float_avx2(t->type) : slm_to_float_avx512(t->type);
    if (dot) t->vec_dot = dot;
    if (from) t->from_float = from;
    if (to) t->to_float = to;
}

static void build_tables(void) {
    slm_base_init();
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        HAS_KERNELS[t] = slm_scalar_traits((slm_dtype)t, &TABLES[0][t]);
        if (!HAS_KERNELS[t]) continue;
        for (int l = 1; l < NLEVELS; l++) {
            TABLES[l][t] = TABLES[l - 1][t];
            apply_level(&TABLES[l][t], (slm_simd_level)l);
        }
    }
    ACTIVE_LEVEL = slm_simd_detect();
}

static pthread_once_t TABLES_ONCE = PTHREAD_ONCE_INIT;

const slm_type_traits *slm_type_traits_at(slm_dtype t, slm_simd_level level) {
    pthread_once(&TABLES_ONCE, build_tables);
    if ((unsigned)t >= SLM_TYPE_COUNT || !HAS_KERNELS[t]) return NULL;
    if ((int)level < 0) level = SLM_SIMD_SCALAR;
    level = min_level(level, slm_simd_cpu_level()); /* never run what the CPU lacks */
    return &TABLES[level][t];
}

/* The active level is fixed at the first call: SLM_SIMD changes made
 * later are seen by slm_simd_detect() but not here. */
const slm_type_traits *slm_type_traits_get(slm_dtype t) {
    pthread_once(&TABLES_ONCE, build_tables);
    return slm_type_traits_at(t, ACTIVE_LEVEL);
}
