/* matmul_bench: speed of slm_matmul per weight type, against the plain
 * per-output vec_dot loop (what slm_matmul did before the tiled kernels).
 * Weights are random (random quant bytes, sane scales), rows x cols like
 * a 1B model's projections. Reports the best of N runs in GFLOP/s (2 flops
 * per weight and token) measured in process CPU time, which a busy shared
 * machine disturbs much less than wall time; with threads > 1 it reports
 * wall time instead (CPU time would count the spinning). The tiled
 * kernel alone (single thread, all tokens at once) is shown too.
 *
 * usage: matmul_bench [--rows N] [--cols N] [--tokens N[,N...]] [--threads N] [--reps N] [TYPE...] */
#include "slm/ops.h"

#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
    int64_t rows, cols;
    int64_t toks[8];
    int n_toks, threads, reps;
} opts;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(bool cpu) {
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Random bytes, then every f16 field that is a scale set to a small value:
 * good enough for speed (the values do not change the work). Float types
 * get small random floats. */
static void *rand_weights(slm_dtype t, int64_t rows, int64_t cols, size_t *row_bytes) {
    uint64_t rb = 0;
    if (!slm_dtype_row_size(t, (uint64_t)cols, &rb)) return NULL;
    size_t n = (size_t)rb * (size_t)rows;
    uint8_t *p = malloc(n);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rnd() & 0x3f); /* f16 fields stay small and finite */
    *row_bytes = (size_t)rb;
    return p;
}

/* The old matmul inner loop: one vec_dot per output, single thread. */
static void vecdot_loop(const slm_type_traits *tt, const slm_matrix *w, const uint8_t *act, size_t act_row,
                        int64_t n_tok, float *y) {
    for (int64_t rb = 0; rb < w->rows; rb += 8)
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = rb; r < rb + 8 && r < w->rows; r++)
                tt->vec_dot(w->cols, &y[t * w->rows + r], (const uint8_t *)w->data + (size_t)r * w->row_bytes,
                            act + (size_t)t * act_row);
}

static int bench_type(const opts *o, slm_ops *ops, slm_dtype type) {
    const slm_type_traits *tt = slm_type_traits_get(type);
    if (!tt || !tt->vec_dot) return fprintf(stderr, "no kernels for %s\n", slm_dtype_name(type)), 1;
    slm_matrix w = {.type = type, .cols = o->cols, .rows = o->rows};
    void *data = rand_weights(type, o->rows, o->cols, &w.row_bytes);
    int64_t max_tok = 1;
    for (int i = 0; i < o->n_toks; i++) max_tok = o->toks[i] > max_tok ? o->toks[i] : max_tok;
    float *x = malloc(sizeof(float) * (size_t)(o->cols * max_tok));
    float *y = malloc(sizeof(float) * (size_t)(o->rows * max_tok));
    uint64_t ar = 0;
    slm_dtype vt = tt->vec_dot_type;
    if (!slm_dtype_row_size(vt, (uint64_t)o->cols, &ar)) ar = 0;
    uint8_t *act = malloc((size_t)ar * (size_t)max_tok + 1);
    if (!data || !x || !y || !act || !ar) return fprintf(stderr, "out of memory or bad shape\n"), 1;
    w.data = data;
    for (int64_t i = 0; i < o->cols * max_tok; i++) x[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
    const slm_type_traits *vtt = slm_type_traits_get(vt);
    for (int64_t t = 0; t < max_tok; t++) {
        if (vt == SLM_TYPE_F32) memcpy(act + (size_t)t * ar, x + t * o->cols, (size_t)ar);
        else vtt->from_float(x + t * o->cols, act + (size_t)t * ar, o->cols);
    }
    const bool cpu = o->threads == 1;
    for (int k = 0; k < o->n_toks; k++) {
        const int64_t nt = o->toks[k];
        const double flops = 2.0 * (double)o->rows * (double)o->cols * (double)nt;
        double best_mm = 1e30, best_vd = 1e30, best_gm = 1e30;
        slm_gemm_fn gemm = slm_gemm_kernel(type);
        for (int r = 0; r < o->reps; r++) {
            slm_error err = {0};
            double t0 = now(cpu);
            if (slm_matmul(ops, &w, x, nt, y, &err) != SLM_OK) return fprintf(stderr, "%s\n", err.msg), 1;
            double t1 = now(cpu);
            vecdot_loop(tt, &w, act, (size_t)ar, nt, y);
            double t2 = now(cpu);
            if (gemm) {
                double g0 = now(cpu);
                gemm(w.cols, w.data, w.row_bytes, w.rows, act, (size_t)ar, nt, y, w.rows);
                double g1 = now(cpu);
                best_gm = g1 - g0 < best_gm ? g1 - g0 : best_gm;
            }
            best_mm = t1 - t0 < best_mm ? t1 - t0 : best_mm;
            best_vd = t2 - t1 < best_vd ? t2 - t1 : best_vd;
        }
        printf("%-5s %5lld x %5lld  tok %4lld  matmul(t=%d) %7.1f GFLOP/s  vec_dot loop %7.1f  gemm %7.1f"
               "  (%.1f GB/s of weights)  %.2fx\n",
               slm_dtype_name(type), (long long)o->rows, (long long)o->cols, (long long)nt, o->threads,
               flops / best_mm * 1e-9, flops / best_vd * 1e-9, gemm ? flops / best_gm * 1e-9 : 0.0,
               (double)w.row_bytes * (double)w.rows / best_mm * 1e-9, best_vd / best_mm);
    }
    free(data);
    free(x);
    free(y);
    free(act);
    return 0;
}

static slm_dtype parse_type(const char *s) {
    for (uint32_t t = 0; t < SLM_TYPE_COUNT; t++) {
        const slm_dtype_info *i = slm_dtype_get(t);
        if (i && i->name && strcmp(i->name, s) == 0) return (slm_dtype)t;
    }
    return SLM_TYPE_COUNT;
}

int main(int argc, char **argv) {
    opts o = {.rows = 2048, .cols = 2048, .toks = {1, 512}, .n_toks = 2, .threads = 1, .reps = 5};
    slm_dtype types[SLM_TYPE_COUNT];
    int n_types = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--rows") == 0 && v) o.rows = atoll(argv[++i]);
        else if (strcmp(a, "--cols") == 0 && v) o.cols = atoll(argv[++i]);
        else if (strcmp(a, "--threads") == 0 && v) o.threads = atoi(argv[++i]);
        else if (strcmp(a, "--reps") == 0 && v) o.reps = atoi(argv[++i]);
        else if (strcmp(a, "--tokens") == 0 && v) {
            o.n_toks = 0;
            for (char *s = argv[++i]; *s && o.n_toks < 8;) {
                o.toks[o.n_toks++] = strtoll(s, &s, 10);
                if (*s == ',') s++;
                else break;
            }
        } else {
            slm_dtype t = parse_type(a);
            if (t == SLM_TYPE_COUNT || n_types >= SLM_TYPE_COUNT) {
                fprintf(stderr, "usage: matmul_bench [--rows N] [--cols N] [--tokens N,N] [--threads N] [--reps N] [TYPE...]\n");
                return 2;
            }
            types[n_types++] = t;
        }
    }
    if (o.rows <= 0 || o.cols <= 0 || o.reps <= 0 || o.threads <= 0) return fprintf(stderr, "bad option\n"), 2;
    for (int i = 0; i < o.n_toks; i++)
        if (o.toks[i] <= 0) return fprintf(stderr, "bad --tokens\n"), 2;
    if (n_types == 0) {
        const slm_dtype def[] = {SLM_TYPE_Q4_K, SLM_TYPE_Q6_K, SLM_TYPE_Q8_0, SLM_TYPE_F16};
        for (size_t i = 0; i < sizeof def / sizeof def[0]; i++) types[n_types++] = def[i];
    }
    slm_ops *ops = NULL;
    slm_error err = {0};
    if (slm_ops_create(o.threads, &ops, &err) != SLM_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    printf("SIMD level %s\n", slm_simd_name(slm_simd_detect()));
    int rc = 0;
    for (int i = 0; i < n_types && rc == 0; i++) rc = bench_type(&o, ops, types[i]);
    slm_ops_free(ops);
    return rc;
}
