/* `slm bench MODEL.gguf`: prompt-processing and generation throughput,
 * time to first token and peak memory, per thread count. Measures the
 * same things as llama-bench (pp: a batch of p random tokens; tg: n
 * single-token decodes) so the numbers can be set side by side. */
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "slm/engine.h"

typedef struct bench_opts {
    const char *model;
    int64_t n_prompt, n_gen, reps;
    int threads[16];
    int n_threads;
    bool json;
} bench_opts;

typedef struct bench_result {
    int threads;
    double pp_tps, pp_sd, tg_tps, tg_sd, ttft_s;
} bench_result;

static void bench_usage(FILE *f) {
    fprintf(f, "usage: slm bench MODEL [-p N] [-n N] [-t N[,N...]] [-r N] [--json]\n"
               "  -p N   prompt tokens for the prompt-processing test (default 512)\n"
               "  -n N   tokens for the generation test (default 128)\n"
               "  -t N   thread counts, comma-separated (default: all cores)\n"
               "  -r N   repetitions, mean and standard deviation reported (default 3)\n");
}

static bool parse_threads(const char *s, bench_opts *o) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_threads = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int64_t v;
        if (o->n_threads == 16 || !cli_parse_int("bench", "-t", tok, 1, 512, &v)) return false;
        o->threads[o->n_threads++] = (int)v;
    }
    return o->n_threads > 0;
}

static int parse_args(int argc, char **argv, bench_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(stdout);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "-p") == 0) {
            if (!(v = cli_value("bench", argc, argv, &i)) || !cli_parse_int("bench", a, v, 1, 1 << 20, &o->n_prompt)) return 2;
        } else if (strcmp(a, "-n") == 0) {
            if (!(v = cli_value("bench", argc, argv, &i)) || !cli_parse_int("bench", a, v, 1, 1 << 20, &o->n_gen)) return 2;
        } else if (strcmp(a, "-r") == 0) {
            if (!(v = cli_value("bench", argc, argv, &i)) || !cli_parse_int("bench", a, v, 1, 1000, &o->reps)) return 2;
        } else if (strcmp(a, "-t") == 0) {
            if (!(v = cli_value("bench", argc, argv, &i)) || !parse_threads(v, o)) return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "slm bench: unknown option '%s'\n", a);
            return 2;
        } else if (!o->model) {
            o->model = a;
        } else {
            fprintf(stderr, "slm bench: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!o->model) {
        bench_usage(stderr);
        return 2;
    }
    return 0;
}

static void mean_sd(const double *x, int64_t n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (double)(n - 1)) : 0.0;
}

/* Decodes `n` tokens as one prompt; returns seconds or -1. */
static double time_prompt(slm_context *c, const int32_t *toks, int64_t n, slm_error *err) {
    slm_context_truncate(c, 0);
    double t0 = slm_now_s();
    if (slm_decode(c, toks, (int32_t)n, false, err) != SLM_OK) return -1;
    return slm_now_s() - t0;
}

static double time_generate(slm_context *c, const int32_t *toks, int64_t n, slm_error *err) {
    slm_context_truncate(c, 0);
    double t0 = slm_now_s();
    for (int64_t i = 0; i < n; i++)
        if (slm_decode(c, &toks[i], 1, false, err) != SLM_OK) return -1;
    return slm_now_s() - t0;
}

static int bench_threads(const bench_opts *o, int threads, bench_result *r, slm_error *err) {
    slm_engine_params ep = {.model_path = o->model, .n_threads = threads,
                            .n_ctx = (int32_t)(o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen) + 1};
    slm_engine *e;
    if (slm_engine_open(&ep, &e, err) != SLM_OK) return 1;
    slm_context *c = slm_engine_context(e);
    const int32_t n_vocab = slm_model_hparams(slm_engine_model(e))->n_vocab;
    int64_t n_toks = o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen;
    int32_t *toks = malloc((size_t)n_toks * sizeof *toks);
    double *pp = malloc((size_t)o->reps * sizeof *pp), *tg = malloc((size_t)o->reps * sizeof *tg);
    int rc = 1;
    if (!toks || !pp || !tg) goto out;
    uint64_t x = 42;
    for (int64_t i = 0; i < n_toks; i++) { /* fixed pseudo-random tokens */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((x >> 33) % (uint64_t)n_vocab);
    }
    if (time_generate(c, toks, 4, err) < 0) goto out; /* warm-up */
    double ttft = 0;
    for (int64_t k = 0; k < o->reps; k++) {
        double tp = time_prompt(c, toks, o->n_prompt, err);
        double t1 = slm_now_s();
        if (tp < 0 || slm_decode(c, toks, 1, false, err) != SLM_OK) goto out;
        ttft += tp + (slm_now_s() - t1);
        double tgs = time_generate(c, toks, o->n_gen, err);
        if (tgs < 0) goto out;
        pp[k] = (double)o->n_prompt / tp;
        tg[k] = (double)o->n_gen / tgs;
    }
    r->threads = slm_engine_threads(e);
    mean_sd(pp, o->reps, &r->pp_tps, &r->pp_sd);
    mean_sd(tg, o->reps, &r->tg_tps, &r->tg_sd);
    r->ttft_s = ttft / (double)o->reps;
    rc = 0;
out:
    free(toks);
    free(pp);
    free(tg);
    slm_engine_close(e);
    return rc;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void report(const bench_opts *o, const bench_result *res, int n) {
    if (o->json) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:f,s:f,s:I,s:f,s:f,s:f,s:f}", "model", o->model,
                "threads", res[i].threads, "n_prompt", (json_int_t)o->n_prompt, "pp_tokens_per_s", res[i].pp_tps,
                "pp_stddev", res[i].pp_sd, "n_gen", (json_int_t)o->n_gen, "tg_tokens_per_s", res[i].tg_tps,
                "tg_stddev", res[i].tg_sd, "ttft_s", res[i].ttft_s, "peak_rss_mib", peak_rss_mib()));
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(arr);
        return;
    }
    printf("| model | threads | test | tokens/s | TTFT (ms) |\n|---|---:|---|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        printf("| %s | %d | pp%lld | %.2f ± %.2f | %.2f |\n", o->model, res[i].threads, (long long)o->n_prompt,
               res[i].pp_tps, res[i].pp_sd, res[i].ttft_s * 1e3);
        printf("| %s | %d | tg%lld | %.2f ± %.2f | |\n", o->model, res[i].threads, (long long)o->n_gen,
               res[i].tg_tps, res[i].tg_sd);
    }
    printf("peak memory (RSS): %.1f MiB\n", peak_rss_mib());
}

int cli_bench(int argc, char **argv) {
    bench_opts o = {.n_prompt = 512, .n_gen = 128, .reps = 3};
    int r = parse_args(argc, argv, &o);
    if (r != 0) return r == 1 ? 0 : r;
    if (o.n_threads == 0) o.threads[o.n_threads++] = 0;
    char path[4096];
    if (!cli_resolve_model("bench", o.model, path, sizeof path)) return 1;
    o.model = path;
    bench_result res[16];
    for (int i = 0; i < o.n_threads; i++) {
        slm_error err = {0};
        if (bench_threads(&o, o.threads[i], &res[i], &err) != 0) {
            fprintf(stderr, "slm bench: %s\n", err.msg);
            return 1;
        }
    }
    report(&o, res, o.n_threads);
    return 0;
}
