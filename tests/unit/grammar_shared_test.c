/* The mask cache shared between matchers (grammar/mask_shared.c).
 *
 * A second matcher of an equal grammar (compiled again from the same
 * schema, the first grammar already freed) gets its masks from the shared
 * cache (hits counted, no new misses) and they equal the masks a vocabulary
 * with sharing off computes, at every step; a different grammar gets its
 * own entry; a small bound evicts and stays correct; 0 turns sharing off;
 * and four threads following different texts through the same grammar at
 * once all get correct masks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/grammar.h"

static const char *SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                            "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5}},"
                            "\"n\":{\"type\":\"integer\"}},\"required\":[\"name\",\"tags\"]}";
static const char *TEXTS[] = {
    "{\"name\":\"ab\\\"c\xc3\xa9\",\"tags\":[\"x\",\"yy\",\"\"],\"n\":-12}",
    "{\"name\":\"\",\"tags\":[]}",
    "{\"name\":\"hello world\",\"tags\":[\"abcde\"],\"n\":0}",
    "{\"name\":\"\\u00e9\",\"tags\":[\"1\",\"2\",\"3\",\"4\"]}",
};

typedef struct tvocab {
    char *bytes[400];
    size_t lens[400];
    int32_t n;
} tvocab;

/* 0 = EOS, 1..256 = single bytes, then multi-byte tokens. */
static void tvocab_init(tvocab *tv) {
    static const char *multi[] = {"{\"", "\":", "\",\"", "\"}", "name", "tags", "\":\"", "[\"", "\"]", "\"],", "abc",
                                  "hello world", "12", "-1", "\",\"n\":", "\\u00", "e9", "\xc3\xa9", "\\\"", "yy"};
    memset(tv, 0, sizeof *tv);
    tv->lens[tv->n++] = 0;
    for (int b = 0; b < 256; b++) {
        tv->bytes[tv->n] = malloc(1);
        tv->bytes[tv->n][0] = (char)b;
        tv->lens[tv->n++] = 1;
    }
    for (size_t i = 0; i < sizeof multi / sizeof *multi; i++) {
        tv->bytes[tv->n] = strdup(multi[i]);
        tv->lens[tv->n++] = strlen(multi[i]);
    }
}

static void tvocab_free(tvocab *tv) {
    for (int32_t i = 0; i < tv->n; i++) free(tv->bytes[i]);
}

static slm_grammar_vocab *vocab(const tvocab *tv) {
    slm_grammar_vocab *v = NULL;
    int32_t eos = 0;
    slm_error err;
    if (slm_grammar_vocab_new(tv->n, (const char *const *)tv->bytes, tv->lens, &eos, 1, &v, &err) != SLM_OK)
        fail_msg("vocab: %s", err.msg);
    return v;
}

static slm_grammar *schema(const char *s) {
    slm_grammar *g = NULL;
    slm_error err;
    if (slm_grammar_compile_json_schema(s, strlen(s), NULL, &g, &err) != SLM_OK) fail_msg("schema: %s", err.msg);
    return g;
}

/* Follows text byte by byte with a matcher on v and one on ref (sharing
 * off), comparing their masks before every byte. Returns NULL, or what
 * went wrong (no cmocka calls: threads run it too). */
static const char *follow_check(const slm_grammar *g, slm_grammar_vocab *v, slm_grammar_vocab *ref,
                                const char *text) {
    slm_grammar_matcher *m = NULL, *r = NULL;
    slm_error err;
    const char *bad = NULL;
    if (slm_grammar_matcher_new(g, v, &m, &err) != SLM_OK || slm_grammar_matcher_new(g, ref, &r, &err) != SLM_OK)
        bad = "matcher_new failed";
    uint32_t a[16], b[16];
    size_t words = slm_grammar_vocab_mask_words(v), len = strlen(text);
    if (words > 16) bad = "vocabulary too large for the test";
    for (size_t i = 0; !bad && i <= len; i++) {
        if (slm_grammar_matcher_fill_mask(m, a, &err) != SLM_OK || slm_grammar_matcher_fill_mask(r, b, &err) != SLM_OK)
            bad = "fill_mask failed";
        else if (memcmp(a, b, words * sizeof *a) != 0)
            bad = "masks differ";
        else if (i < len && (!slm_grammar_matcher_accept_bytes(m, text + i, 1, &err) ||
                             !slm_grammar_matcher_accept_bytes(r, text + i, 1, &err)))
            bad = "byte rejected";
    }
    if (!bad && !slm_grammar_matcher_is_accepting(m)) bad = "not accepting at the end";
    slm_grammar_matcher_free(m);
    slm_grammar_matcher_free(r);
    return bad;
}

static void follow(const slm_grammar *g, slm_grammar_vocab *v, slm_grammar_vocab *ref, const char *text) {
    const char *bad = follow_check(g, v, ref, text);
    if (bad) fail_msg("%s: %s", text, bad);
}

static slm_grammar_cache_stats stats(const slm_grammar_vocab *v) {
    slm_grammar_cache_stats s;
    slm_grammar_vocab_mask_cache_stats(v, &s);
    return s;
}

static void test_second_matcher_is_warm(void **state) {
    (void)state;
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar_vocab *v = vocab(&tv), *ref = vocab(&tv);
    slm_grammar_vocab_set_mask_cache(ref, 0);
    slm_grammar *g = schema(SCHEMA);
    follow(g, v, ref, TEXTS[0]);
    slm_grammar_free(g); /* the cache keeps its own copy of the content */
    slm_grammar_cache_stats s1 = stats(v);
    assert_true(s1.misses > 10);
    assert_true(s1.n_masks > 10);
    assert_int_equal(s1.n_grammars, 1);
    assert_int_equal(stats(ref).n_masks, 0);
    /* the same schema compiled again: every state is known already */
    g = schema(SCHEMA);
    follow(g, v, ref, TEXTS[0]);
    slm_grammar_cache_stats s2 = stats(v);
    assert_int_equal(s2.misses, s1.misses);
    assert_true(s2.hits >= s1.misses);
    assert_int_equal(s2.n_grammars, 1);
    slm_grammar_free(g);
    /* a different grammar: its own entry, its own misses */
    g = schema("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}");
    follow(g, v, ref, "[\"ab\",\"\"]");
    slm_grammar_cache_stats s3 = stats(v);
    assert_int_equal(s3.n_grammars, 2);
    assert_true(s3.misses > s2.misses);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
    slm_grammar_vocab_free(ref);
    tvocab_free(&tv);
}

static void test_bound_and_off(void **state) {
    (void)state;
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar_vocab *v = vocab(&tv), *ref = vocab(&tv);
    slm_grammar_vocab_set_mask_cache(ref, 0);
    slm_grammar_vocab_set_mask_cache(v, 2048); /* a few masks only */
    slm_grammar *g = schema(SCHEMA);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) follow(g, v, ref, TEXTS[i]);
    slm_grammar_cache_stats s = stats(v);
    assert_true(s.bytes <= 2048);
    assert_true(s.evictions > 0);
    assert_true(s.hits > 0);
    /* off: nothing stored, nothing looked up */
    slm_grammar_vocab_set_mask_cache(v, 0);
    assert_int_equal(stats(v).n_masks, 0);
    assert_int_equal(stats(v).n_grammars, 0); /* no matcher uses it: its copy is dropped too */
    uint64_t lookups = stats(v).hits + stats(v).misses;
    follow(g, v, ref, TEXTS[1]);
    assert_int_equal(stats(v).hits + stats(v).misses, lookups);
    assert_int_equal(stats(v).n_masks, 0);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
    slm_grammar_vocab_free(ref);
    tvocab_free(&tv);
}

typedef struct job {
    slm_grammar_vocab *v, *ref;
    int id;
    const char *bad;
} job;

static void *worker(void *arg) {
    job *j = arg;
    /* each thread compiles its own (equal) grammar, as requests do */
    for (int round = 0; round < 3 && !j->bad; round++) {
        slm_grammar *g = NULL;
        slm_error err;
        if (slm_grammar_compile_json_schema(SCHEMA, strlen(SCHEMA), NULL, &g, &err) != SLM_OK) {
            j->bad = "compile failed";
            break;
        }
        j->bad = follow_check(g, j->v, j->ref, TEXTS[(size_t)(j->id + round) % (sizeof TEXTS / sizeof *TEXTS)]);
        slm_grammar_free(g);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar_vocab *v = vocab(&tv), *ref = vocab(&tv);
    slm_grammar_vocab_set_mask_cache(ref, 0);
    enum { NT = 4 };
    pthread_t th[NT];
    job jobs[NT];
    for (int i = 0; i < NT; i++) {
        jobs[i] = (job){v, ref, i, NULL};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NT; i++)
        if (jobs[i].bad) fail_msg("thread %d: %s", i, jobs[i].bad);
    slm_grammar_cache_stats s = stats(v);
    assert_int_equal(s.n_grammars, 1);
    assert_true(s.hits > s.misses);
    slm_grammar_vocab_free(v);
    slm_grammar_vocab_free(ref);
    tvocab_free(&tv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_matcher_is_warm),
        cmocka_unit_test(test_bound_and_off),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
