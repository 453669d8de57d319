/* Microbenchmark of the quant vec_dot kernels: for each weight type and each
 * SIMD level the CPU has, a matrix-vector product (rows x 4096, one vec_dot
 * per row, single thread) over a weight matrix that fits in cache ("hot",
 * 256 KiB: kernel speed) and one that does not ("cold", 64 MiB: memory
 * bound, like generation). Prints GB/s of weight bytes read.
 *
 * Times are this process's CPU time, best of several runs: on a shared
 * machine wall time mostly measures how long the process was descheduled,
 * while CPU time still includes the memory stalls that matter here.
 *
 * Usage: quant_bench [TYPE...]   e.g. quant_bench Q4_K Q8_0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm/quant.h"

#define NCOLS 4096

static const slm_dtype TYPES[] = {
    SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
    SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q8_0, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
    SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
};

static double cpu_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random weights built by quantizing random floats (so scales are sane);
 * 16 distinct rows tiled, since reference quantizers are slow. */
static uint8_t *make_weights(const slm_type_traits *tt, size_t row_bytes, int64_t rows) {
    uint8_t *w = malloc(row_bytes * (size_t)rows);
    float *f = malloc(NCOLS * sizeof *f);
    if (!w || !f) {
        free(w);
        free(f);
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++) {
        if (r >= 16) {
            memcpy(w + (size_t)r * row_bytes, w + (size_t)(r % 16) * row_bytes, row_bytes);
            continue;
        }
        for (int i = 0; i < NCOLS; i++) f[i] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-3f;
        tt->from_float(f, w + (size_t)r * row_bytes, NCOLS);
    }
    free(f);
    return w;
}

/* Best-of-reps GB/s of one level over `rows` rows. */
static double run(const slm_type_traits *tt, const uint8_t *w, size_t row_bytes, int64_t rows,
                  const void *act, int passes, int reps) {
    float *out = malloc((size_t)rows * sizeof *out);
    if (!out) return 0.0;
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = cpu_now_s();
        for (int p = 0; p < passes; p++)
            for (int64_t r = 0; r < rows; r++) tt->vec_dot(NCOLS, &out[r], w + (size_t)r * row_bytes, act);
        double dt = (cpu_now_s() - t0) / passes;
        if (dt < best) best = dt;
    }
    volatile float sink = out[0];
    (void)sink;
    free(out);
    return (double)row_bytes * (double)rows / best / 1e9;
}

static void bench_type(slm_dtype t) {
    const slm_type_traits *ref = slm_type_traits_at(t, SLM_SIMD_SCALAR);
    if (!ref) return;
    uint64_t rb = 0;
    if (!slm_dtype_row_size(t, NCOLS, &rb)) return;
    const int64_t hot_rows = (int64_t)(256 * 1024 / rb) + 1;
    const int64_t cold_rows = (int64_t)(64 * 1024 * 1024 / rb) + 1;
    uint8_t *w = make_weights(ref, rb, cold_rows);
    const slm_type_traits *at = slm_type_traits_at(ref->vec_dot_type, SLM_SIMD_SCALAR);
    uint64_t ab = 0;
    slm_dtype_row_size(ref->vec_dot_type, NCOLS, &ab);
    void *act = malloc(ab);
    float *f = malloc(NCOLS * sizeof *f);
    if (!w || !act || !f) goto done;
    for (int i = 0; i < NCOLS; i++) f[i] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-3f;
    at->from_float(f, act, NCOLS);
    printf("%-5s", slm_dtype_name(t));
    for (int l = SLM_SIMD_SCALAR; l <= SLM_SIMD_AVX512; l++) {
        if ((int)slm_simd_detect() < l) {
            printf("  %6s hot      -  cold      -", slm_simd_name((slm_simd_level)l));
            continue;
        }
        const slm_type_traits *tt = slm_type_traits_at(t, (slm_simd_level)l);
        double hot = run(tt, w, rb, hot_rows, act, l == 0 ? 4 : 40, 3);
        double cold = run(tt, w, rb, cold_rows, act, 1, l == 0 ? 1 : 7);
        printf("  %6s hot %6.1f cold %6.1f", slm_simd_name((slm_simd_level)l), hot, cold);
    }
    printf("   GB/s\n");
done:
    free(w);
    free(act);
    free(f);
}

int main(int argc, char **argv) {
    slm_base_init();
    printf("quant vec_dot, %d columns, single thread, weight GB/s (CPU level %s)\n", NCOLS,
           slm_simd_name(slm_simd_detect()));
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        bool want = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], slm_dtype_name(TYPES[i])) == 0) want = true;
        if (want) bench_type(TYPES[i]);
    }
    return 0;
}
