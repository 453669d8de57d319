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
 * SLM_BENCH_SLOW_US=N logs every mask slower than N us to stderr (with
 * how many tokens it allows); SLM_BENCH_ONLY=TEXT measures only the
 * schemas whose file name contains TEXT;
 * SLM_BENCH_CPU=1 times with thread CPU time (shared machines).
 *
 * SLM_BENCH_UNION=A.gguf,B.gguf,... SLM_BENCH_VOCAB_N=128256: a synthetic
 * vocabulary of that size (../shared has none over 102k tokens): VOCAB's
 * tokens first (its tokenizer still tokenizes the instances), then the
 * distinct tokens of the other real vocabularies in order, until N.
 * SLM_BENCH_SHARED=0 turns off the mask cache shared between matchers.
 * SLM_BENCH_REPEAT=1: each schema a second time (compiled again, a new
 * matcher, as a second request with the same schema), timed apart. */
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

/* ---- synthetic union vocabulary ---- */
typedef struct uvocab {
    char **bytes;
    size_t *lens;
    int32_t n, cap, *eos;
    size_t n_eos;
    uint32_t *ht; /* index + 1 by content, open addressing */
    size_t ht_cap;
} uvocab;

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

/* Adds a token; dedup: 0 when the content is already there (unless
 * force: the base vocabulary keeps its ids, duplicates included). */
static int uv_add(uvocab *u, const char *p, size_t n, int force) {
    size_t h = (size_t)hash_bytes(p, n) & (u->ht_cap - 1);
    for (; u->ht[h]; h = (h + 1) & (u->ht_cap - 1)) {
        uint32_t k = u->ht[h] - 1;
        if (n && u->lens[k] == n && !memcmp(u->bytes[k], p, n)) {
            if (!force) return 0;
            break;
        }
    }
    if (u->n == u->cap) return 0;
    u->bytes[u->n] = malloc(n ? n : 1);
    if (!u->bytes[u->n]) exit(1);
    if (n) memcpy(u->bytes[u->n], p, n);
    u->lens[u->n] = n;
    if (n && !u->ht[h]) u->ht[h] = (uint32_t)u->n + 1;
    u->n++;
    return 1;
}

static void uv_add_tokenizer(uvocab *u, const slm_tokenizer *tk, int base) {
    char buf[512];
    for (int32_t i = 0; i < slm_tokenizer_n_vocab(tk) && u->n < u->cap; i++) {
        if (base && slm_tokenizer_is_eog(tk, i)) u->eos[u->n_eos++] = u->n;
        size_t len = slm_tokenizer_is_control(tk, i) ? 0 : slm_token_to_piece(tk, i, false, buf, sizeof buf);
        if (len > sizeof buf) len = 0; /* very long pieces: not in the union */
        if (base || len) uv_add(u, buf, len, base);
    }
}

static slm_grammar_vocab *union_vocab(const slm_tokenizer *base, const char *list, int32_t n_want) {
    uvocab u = {0};
    u.cap = n_want;
    u.bytes = calloc((size_t)n_want, sizeof *u.bytes);
    u.lens = calloc((size_t)n_want, sizeof *u.lens);
    u.eos = calloc((size_t)n_want, sizeof *u.eos);
    for (u.ht_cap = 1; u.ht_cap < (size_t)n_want * 2; u.ht_cap <<= 1) {}
    u.ht = calloc(u.ht_cap, sizeof *u.ht);
    if (!u.bytes || !u.lens || !u.eos || !u.ht) exit(1);
    uv_add_tokenizer(&u, base, 1);
    char *copy = strdup(list);
    for (char *path = strtok(copy, ","); path && u.n < u.cap; path = strtok(NULL, ",")) {
        slm_gguf *gg = NULL;
        slm_tokenizer *tk = NULL;
        slm_error err;
        if (slm_gguf_open(path, &gg, &err) || slm_tokenizer_load(gg, &tk, &err)) {
            fprintf(stderr, "grammar_bench: %s: %s\n", path, err.msg);
            exit(1);
        }
        int32_t before = u.n;
        uv_add_tokenizer(&u, tk, 0);
        printf("union: +%d distinct tokens from %s\n", u.n - before, path);
        slm_tokenizer_free(tk);
        slm_gguf_close(gg);
    }
    free(copy);
    slm_grammar_vocab *v = NULL;
    slm_error err;
    if (slm_grammar_vocab_new(u.n, (const char *const *)u.bytes, u.lens, u.eos, u.n_eos, &v, &err)) {
        fprintf(stderr, "grammar_bench: union vocab: %s\n", err.msg);
        exit(1);
    }
    for (int32_t i = 0; i < u.n; i++) free(u.bytes[i]);
    free(u.bytes);
    free(u.lens);
    free(u.eos);
    free(u.ht);
    return v;
}

/* Follows the instance's tokens, timing fill_mask before every token but
 * the first (whose time is part of the time to first mask). */
static size_t allowed(const uint32_t *mask, size_t words) {
    size_t n = 0;
    for (size_t w = 0; w < words; w++) n += (size_t)__builtin_popcount(mask[w]);
    return n;
}

static void follow(slm_grammar_matcher *m, size_t words, const slm_tokenizer *tk, const int32_t *ids, size_t nt,
                   uint32_t *mask, dvec *out, double slow_us, const char *name, const char *text) {
    slm_error err;
    for (size_t k = 0; k < nt; k++) {
        if (k) {
            int64_t a = clock_us();
            if (slm_grammar_matcher_fill_mask(m, mask, &err)) break;
            double us = (double)(clock_us() - a);
            push(out, us);
            if (slow_us > 0 && us >= slow_us) /* where the time goes */
                fprintf(stderr, "slow mask %.0f us: %s token %zu at byte %zu of %.60s (%zu allowed)\n", us, name,
                        k, prefix_bytes(tk, ids, k), text, allowed(mask, words));
        }
        /* the instance may list keys in another order than the grammar:
         * stop following it at the first refusal */
        if (slm_grammar_matcher_accept_token(m, ids[k], NULL)) break;
    }
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
    const char *uni = getenv("SLM_BENCH_UNION"), *uni_n = getenv("SLM_BENCH_VOCAB_N");
    if (slm_gguf_open(vocab_path, &gg, &err) || slm_tokenizer_load(gg, &tk, &err) ||
        (!uni && slm_grammar_vocab_from_tokenizer(tk, &v, &err))) {
        fprintf(stderr, "grammar_bench: %s\n", err.msg);
        return 1;
    }
    if (uni) v = union_vocab(tk, uni, uni_n ? atoi(uni_n) : 128256);
    int shared = !getenv("SLM_BENCH_SHARED") || atoi(getenv("SLM_BENCH_SHARED")) != 0;
    const char *only = getenv("SLM_BENCH_ONLY");
    int repeat = getenv("SLM_BENCH_REPEAT") && atoi(getenv("SLM_BENCH_REPEAT")) > 0;
    if (!shared) slm_grammar_vocab_set_mask_cache(v, 0);
    printf("shared mask cache: %s\n", shared ? "on" : "off");
    printf("vocabulary: %s (%d tokens)\n", vocab_path, slm_grammar_vocab_n_tokens(v));
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "grammar_bench: %s missing\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".json") || (only && !strstr(e->d_name, only))) continue;
        if (n_names == cap) names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *names);
        names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, cmp_str);
    uint32_t *mask = calloc(slm_grammar_vocab_mask_words(v), sizeof *mask);
    dvec masks = {0}, first = {0}, compile = {0}, masks2 = {0}, first2 = {0};
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
            follow(m, slm_grammar_vocab_mask_words(v), tk, ids, nt, mask, &masks, slow_us, names[f], text);
            if (repeat) { /* the same schema again: a second request */
                slm_grammar *g2 = NULL;
                slm_grammar_matcher *m2 = NULL;
                int64_t r0 = clock_us();
                if (!slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g2, &err) &&
                    !slm_grammar_matcher_new(g2, v, &m2, &err) && !slm_grammar_matcher_fill_mask(m2, mask, &err)) {
                    push(&first2, (double)(clock_us() - r0));
                    follow(m2, slm_grammar_vocab_mask_words(v), tk, ids, nt, mask, &masks2, 0, names[f], text);
                }
                slm_grammar_matcher_free(m2);
                slm_grammar_free(g2);
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
    summary("repeat: mask per token", &masks2);
    summary("repeat: first mask", &first2);
    if (repeat) {
        slm_grammar_cache_stats cs;
        slm_grammar_vocab_mask_cache_stats(v, &cs);
        printf("shared cache: %llu hits, %llu misses, %zu masks, %.1f MiB (limit %.0f MiB), %llu evicted\n",
               (unsigned long long)cs.hits, (unsigned long long)cs.misses, cs.n_masks, (double)cs.bytes / 1048576.0,
               (double)cs.limit / 1048576.0, (unsigned long long)cs.evictions);
    }
    for (size_t f = 0; f < n_names; f++) free(names[f]);
    free(names);
    free(mask);
    free(masks.p);
    free(first.p);
    free(compile.p);
    free(masks2.p);
    free(first2.p);
    slm_grammar_vocab_free(v);
    slm_tokenizer_free(tk);
    slm_gguf_close(gg);
    return 0;
}
