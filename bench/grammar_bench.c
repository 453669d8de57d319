/* Grammar engine benchmark: mask time per token and compile time over
 * MaskBench (dev) schemas, single thread.
 *
 *   grammar_bench [VOCAB.gguf] [N_SCHEMAS]
 *
 * For each of the first N supported schemas: compile it (time to first
 * mask = compile + matcher + first mask), then follow its first valid
 * instance (compact JSON, tokenized with the vocabulary) token by token,
 * timing fill_mask before every token. Reports mean / p50 / p99 / max
 * mask time in microseconds and the compile times. Defaults:
 * $SLM_SHARED_DIR/vocab/ggml-vocab-deepseek-llm.gguf (the largest
 * vocabulary in ../shared, ~100k tokens) and 300 schemas.
 * SLM_BENCH_SLOW_US=N logs every mask slower than N us to stderr;
 * SLM_BENCH_CPU=1 times with thread CPU time (shared machines). */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm/gguf.h"
#include "slm/grammar.h"
#include "slm/tokenizer.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct dvec {
    double *p;
    size_t n, cap;
} dvec;

static void push(dvec *v, double x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->p = realloc(v->p, v->cap * sizeof *v->p);
        if (!v->p) exit(1);
    }
    v->p[v->n++] = x;
}

static void summary(const char *name, dvec *v) {
    if (!v->n) return;
    qsort(v->p, v->n, sizeof *v->p, cmp_d);
    double sum = 0;
    for (size_t i = 0; i < v->n; i++) sum += v->p[i];
    printf("%-22s n=%-7zu mean %9.1f  p50 %9.1f  p99 %9.1f  max %10.1f (us)\n", name, v->n, sum / (double)v->n,
           v->p[v->n / 2], v->p[(size_t)((double)v->n * 0.99)], v->p[v->n - 1]);
}

/* SLM_BENCH_CPU=1: thread CPU time instead of wall time, for comparing
 * builds on a machine shared with other jobs (wall time then mostly
 * measures the other jobs). */
static int g_cpu_clock;

static int64_t clock_us(void) {
    if (!g_cpu_clock) return slm_now_us();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Bytes of the first k tokens (for the slow-mask log). */
static size_t prefix_bytes(const slm_tokenizer *tk, const int32_t *ids, size_t k) {
    size_t n = 0;
    char buf[256];
    for (size_t i = 0; i < k; i++) n += slm_token_to_piece(tk, ids[i], false, buf, sizeof buf);
    return n;
}

int main(int argc, char **argv) {
    const char *sh = getenv("SLM_SHARED_DIR");
    const char *slow_env = getenv("SLM_BENCH_SLOW_US"); /* log masks slower than this */
    double slow_us = slow_env ? atof(slow_env) : 0;
    g_cpu_clock = getenv("SLM_BENCH_CPU") && atoi(getenv("SLM_BENCH_CPU")) > 0;
    char root[1024], vpath[1200], dir[1200];
    snprintf(root, sizeof root, "%s", sh && *sh ? sh : "../shared");
    snprintf(vpath, sizeof vpath, "%s/vocab/ggml-vocab-deepseek-llm.gguf", root);
    const char *vocab_path = argc > 1 && argv[1][0] ? argv[1] : vpath;
    int want = argc > 2 ? atoi(argv[2]) : 300;
    snprintf(dir, sizeof dir, "%s/jsonschema/maskbench-dev", root);

    slm_gguf *gg = NULL;
    slm_tokenizer *tk = NULL;
    slm_grammar_vocab *v = NULL;
    slm_error err;
    if (slm_gguf_open(vocab_path, &gg, &err) || slm_tokenizer_load(gg, &tk, &err) ||
        slm_grammar_vocab_from_tokenizer(tk, &v, &err)) {
        fprintf(stderr, "grammar_bench: %s\n", err.msg);
        return 1;
    }
    printf("vocabulary: %s (%d tokens)\n", vocab_path, slm_grammar_vocab_n_tokens(v));
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "grammar_bench: %s missing\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".json")) continue;
        if (n_names == cap) names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *names);
        names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, cmp_str);
    uint32_t *mask = calloc(slm_grammar_vocab_mask_words(v), sizeof *mask);
    dvec masks = {0}, first = {0}, compile = {0};
    int done = 0, unsupported = 0;
    for (size_t f = 0; f < n_names && done < want; f++) {
        char path[2600];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        json_t *c = json_load_file(path, 0, NULL);
        if (!c) continue;
        json_t *tests = json_object_get(c, "tests"), *inst = NULL, *t;
        size_t i;
        json_array_foreach(tests, i, t) if (json_is_true(json_object_get(t, "valid")) && !inst) inst = json_object_get(t, "data");
        char *schema = json_dumps(json_object_get(c, "schema"), JSON_COMPACT);
        slm_grammar *g = NULL;
        slm_grammar_matcher *m = NULL;
        int64_t t0 = clock_us();
        if (!inst || slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err)) {
            unsupported += inst != NULL;
            goto next;
        }
        int64_t t1 = clock_us();
        if (slm_grammar_matcher_new(g, v, &m, &err) || slm_grammar_matcher_fill_mask(m, mask, &err)) goto next;
        int64_t t2 = clock_us();
        push(&compile, (double)(t1 - t0));
        push(&first, (double)(t2 - t0));
        char *text = json_dumps(inst, JSON_COMPACT | JSON_ENCODE_ANY);
        int32_t *ids = NULL;
        size_t nt = 0;
        if (text && slm_tokenize(tk, text, strlen(text), false, false, &ids, &nt, &err) == SLM_OK) {
            for (size_t k = 0; k < nt; k++) {
                if (k) {
                    int64_t a = clock_us();
                    if (slm_grammar_matcher_fill_mask(m, mask, &err)) break;
                    double us = (double)(clock_us() - a);
                    push(&masks, us);
                    if (slow_us > 0 && us >= slow_us) /* where the time goes */
                        fprintf(stderr, "slow mask %.0f us: %s token %zu at byte %zu of %.60s\n", us,
                                names[f], k, prefix_bytes(tk, ids, k), text);
                }
                /* the instance may list keys in another order than the
                 * grammar: stop following it at the first refusal */
                if (slm_grammar_matcher_accept_token(m, ids[k], NULL)) break;
            }
        }
        free(ids);
        free(text);
        done++;
    next:
        slm_grammar_matcher_free(m);
        slm_grammar_free(g);
        free(schema);
        json_decref(c);
    }
    printf("schemas: %d measured, %d unsupported skipped\n", done, unsupported);
    summary("mask per token", &masks);
    summary("compile", &compile);
    summary("time to first mask", &first);
    for (size_t f = 0; f < n_names; f++) free(names[f]);
    free(names);
    free(mask);
    free(masks.p);
    free(first.p);
    free(compile.p);
    slm_grammar_vocab_free(v);
    slm_tokenizer_free(tk);
    slm_gguf_close(gg);
    return 0;
}
