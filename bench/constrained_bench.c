/* constrained_bench: generation speed with and without a grammar, through
 * the scheduler (the path slm serve uses), on the same model.
 *
 *   constrained_bench MODEL.gguf [ROUNDS] [N_PREDICT]
 *
 * Each round runs one unconstrained request and one request constrained
 * by a JSON Schema (a list of records with free strings, numbers, enums
 * and nested arrays, so the parser state changes often), in alternating
 * order (AB, BA, ...), same prompt and seed. Speed is the decode rate of
 * the request: (generated tokens - 1) / time from the first sampled token
 * to the end, so the prompt and the one-time grammar vocabulary build do
 * not count (a warm-up pair runs first). Reports per round and the median
 * and spread of constrained / unconstrained, plus the mean mask time.
 * SLM_BENCH_THREADS (default 2), SLM_BENCH_SCHEMA=FILE replaces the
 * schema. SLM_BENCH_CPU=1: speed = generated tokens / process CPU time of
 * the whole request (prompt included, the same in both), which is what to
 * compare on a machine shared with other jobs (use 1 thread: a pool's
 * spinning would count too). SLM_BENCH_ONLY=A or B runs one side only
 * (to profile it). Random-weight models (bench/gen_model_bench.c) are fine: the
 * point is the cost of the mask, not the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm/grammar.h"
#include "slm/scheduler.h"
#include "slm/tokenizer.h"

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
    "\"records\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"kind\":{\"enum\":[\"person\",\"place\",\"thing\"]},"
    "\"score\":{\"type\":\"number\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"kind\",\"score\",\"tags\",\"ok\"]}}},"
    "\"required\":[\"title\",\"records\"]}";

typedef struct run {
    int32_t n_gen;
    double tok_s;
} run;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int g_cpu;

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static run one(slm_sched *s, const char *schema, int32_t n_predict) {
    run out = {0, 0};
    slm_error err = {0};
    int32_t *toks = NULL;
    size_t n = 0;
    const char *prompt = "Once upon a time";
    if (slm_tokenize(slm_sched_tokenizer(s), prompt, strlen(prompt), true, false, &toks, &n, &err) != SLM_OK) {
        fprintf(stderr, "tokenize: %s\n", err.msg);
        exit(1);
    }
    slm_constraint *c = NULL;
    if (schema) {
        slm_grammar *g = NULL;
        if (slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err) != SLM_OK ||
            slm_constraint_new(g, NULL, 0, &c, &err) != SLM_OK) {
            fprintf(stderr, "schema: %s\n", err.msg);
            exit(1);
        }
    }
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = toks;
    p.n_prompt = n;
    p.n_predict = n_predict;
    p.sampling.temperature = 1.0f;
    p.sampling.seed = 42;
    p.constraint = c;
    slm_request *r = NULL;
    double c0 = cpu_s();
    if (slm_sched_submit(s, &p, &r, &err) != SLM_OK) {
        fprintf(stderr, "submit: %s\n", err.msg);
        exit(1);
    }
    slm_event ev;
    while (slm_request_next(r, &ev, -1))
        if (ev.kind == SLM_EVENT_DONE) {
            if (ev.status != SLM_OK) fprintf(stderr, "request failed: %s\n", ev.error);
            out.n_gen = ev.n_gen;
            out.tok_s = ev.n_gen > 1 && ev.t_gen_s > 0 ? (ev.n_gen - 1) / ev.t_gen_s : 0;
            if (g_cpu) out.tok_s = ev.n_gen / (cpu_s() - c0);
            break;
        }
    slm_request_free(r);
    slm_constraint_unref(c);
    free(toks);
    return out;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = '\0';
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: constrained_bench MODEL.gguf [ROUNDS] [N_PREDICT]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 6;
    int32_t n_predict = argc > 3 ? atoi(argv[3]) : 128;
    const char *th = getenv("SLM_BENCH_THREADS");
    g_cpu = getenv("SLM_BENCH_CPU") && atoi(getenv("SLM_BENCH_CPU")) > 0;
    const char *only = getenv("SLM_BENCH_ONLY"); /* A or B: one side only (for perf) */
    char *schema_file = getenv("SLM_BENCH_SCHEMA") ? read_file(getenv("SLM_BENCH_SCHEMA")) : NULL;
    const char *schema = schema_file ? schema_file : SCHEMA;
    slm_sched_params sp = {.n_parallel = 1, .max_queue = 4, .n_threads = th ? atoi(th) : 2, .n_ctx = 1024};
    slm_sched *s = NULL;
    slm_error err = {0};
    if (slm_sched_open(argv[1], &sp, &s, &err) != SLM_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    one(s, NULL, 8); /* warm-up: caches, the grammar vocabulary */
    one(s, schema, 8);
    slm_sched_stats st0;
    slm_sched_get_stats(s, &st0);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    double sum_a = 0, sum_b = 0;
    printf("model %s, %d threads, n_predict %d, %s\n", argv[1], sp.n_threads, n_predict,
           g_cpu ? "process CPU time" : "wall time from the first token");
    printf("round  order  free tok/s (n)   constrained tok/s (n)   ratio\n");
    for (int i = 0; i < rounds; i++) {
        run a = {0, 0}, b = {0, 0};
        if (only) { /* profiling one side */
            if (*only == 'A') a = one(s, NULL, n_predict);
            else b = one(s, schema, n_predict);
        } else if (i % 2 == 0) {
            a = one(s, NULL, n_predict);
            b = one(s, schema, n_predict);
        } else {
            b = one(s, schema, n_predict);
            a = one(s, NULL, n_predict);
        }
        ratio[i] = a.tok_s > 0 ? b.tok_s / a.tok_s : 0;
        sum_a += a.tok_s;
        sum_b += b.tok_s;
        printf("%5d  %s     %8.2f (%3d)     %8.2f (%3d)          %.3f\n", i + 1, i % 2 ? "BA" : "AB", a.tok_s,
               a.n_gen, b.tok_s, b.n_gen, ratio[i]);
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_d);
    slm_sched_stats st;
    slm_sched_get_stats(s, &st);
    uint64_t nm = st.n_masked_tokens - st0.n_masked_tokens;
    double ms = st.mask_seconds - st0.mask_seconds;
    printf("mean free %.2f tok/s, constrained %.2f tok/s (ratio of means %.3f); per-round ratio median %.3f "
           "(min %.3f, max %.3f)\n",
           sum_a / rounds, sum_b / rounds, sum_a > 0 ? sum_b / sum_a : 0, ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
    printf("mask + sample time per constrained token: mean %.1f us over %llu tokens (max %.1f us)\n",
           nm ? ms / (double)nm * 1e6 : 0, (unsigned long long)nm, st.mask_max_seconds * 1e6);
    free(ratio);
    free(schema_file);
    slm_sched_close(s);
    return 0;
}
