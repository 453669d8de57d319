/* Token masks against brute force: at every step of a generation, the set
 * of tokens fill_mask allows must equal the set of tokens whose bytes the
 * matcher accepts one by one (can_accept_bytes), with EOS exactly when
 * the state is accepting. Checked on a synthetic vocabulary (multi-byte
 * UTF-8 split across tokens, duplicates, empty tokens) and on the real
 * llama SentencePiece vocabulary from ../shared/vocab with JSON Schema
 * grammars, following tokenized valid outputs token by token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/grammar.h"
#include "slm/tokenizer.h"

/* Compares fill_mask with brute force in the matcher's current state;
 * the bytes of token t are bytes[t] (lens[t]). */
static void check_mask(slm_grammar_matcher *m, const slm_grammar_vocab *v, const char *const *bytes,
                       const size_t *lens, const int32_t *eos, size_t n_eos) {
    int32_t n = slm_grammar_vocab_n_tokens(v);
    uint32_t *mask = calloc(slm_grammar_vocab_mask_words(v), sizeof *mask);
    assert_non_null(mask);
    slm_error err;
    if (slm_grammar_matcher_fill_mask(m, mask, &err) != SLM_OK) fail_msg("fill_mask: %s", err.msg);
    int accepting = slm_grammar_matcher_is_accepting(m);
    for (int32_t t = 0; t < n; t++) {
        int is_eos = 0;
        for (size_t k = 0; k < n_eos; k++) is_eos |= eos[k] == t;
        int want = is_eos ? accepting : lens[t] > 0 && slm_grammar_matcher_can_accept_bytes(m, bytes[t], lens[t]);
        int got = (mask[t >> 5] >> (t & 31)) & 1;
        if (want != got) fail_msg("token %d (%.*s): mask says %d, brute force %d", t, (int)lens[t], bytes[t] ? bytes[t] : "", got, want);
    }
    free(mask);
}

static void test_synthetic(void **state) {
    (void)state;
    const char *toks[] = {"</s>", "{", "}", "\"", "\"a", "a", "ab", "abc", "\":", ":", ",", "1", "12", "123",
                          "\xc3", "\xa9", "\xc3\xa9", "\xc3\xa9\"", "true", "tr", "ue", "", "{\"", "\"}", "ab",
                          " ", "x", "\"a\":1}"};
    size_t n = sizeof toks / sizeof *toks;
    size_t lens[64];
    for (size_t i = 0; i < n; i++) lens[i] = strlen(toks[i]);
    lens[0] = 0; /* EOS renders as nothing */
    int32_t eos = 0;
    slm_grammar_vocab *v = NULL;
    slm_error err;
    assert_int_equal(slm_grammar_vocab_new((int32_t)n, toks, lens, &eos, 1, &v, &err), SLM_OK);
    const char *schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                         "\"\xc3\xa9\":{\"type\":\"boolean\"}},\"required\":[\"a\"]}";
    slm_grammar *g = NULL;
    if (slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err)) fail_msg("%s", err.msg);
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, v, &m, &err), SLM_OK);
    /* {"a":12,"é":true} as tokens */
    int32_t path[] = {22, 5, 8, 12, 10, 3, 16, 8, 19, 20, 2};
    for (size_t i = 0; i < sizeof path / sizeof *path; i++) {
        check_mask(m, v, toks, lens, &eos, 1);
        if (slm_grammar_matcher_accept_token(m, path[i], &err)) fail_msg("step %zu: %s", i, err.msg);
    }
    check_mask(m, v, toks, lens, &eos, 1);
    assert_true(slm_grammar_matcher_is_accepting(m));
    /* a disallowed token is refused and changes nothing */
    assert_int_equal(slm_grammar_matcher_accept_token(m, 5, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 0, &err), SLM_OK);
    assert_true(slm_grammar_matcher_is_done(m));
    uint32_t mask[1];
    assert_int_equal(slm_grammar_matcher_fill_mask(m, mask, &err), SLM_OK);
    assert_int_equal(mask[0], 1u); /* only EOS after done */
    /* EOS is refused before the grammar can end */
    slm_grammar_matcher_reset(m);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 0, &err), SLM_ERR_INVALID_ARG);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
}

static void test_choice_and_regex(void **state) {
    (void)state;
    const char *toks[] = {"<eos>", "pos", "positive", "neg", "ative", "neutral", "p", "o", "s", "i", "t", "v",
                          "e", "n", "u", "r", "a", "l", "g", "-", "1", "2", "3"};
    size_t n = sizeof toks / sizeof *toks, lens[32];
    for (size_t i = 0; i < n; i++) lens[i] = i ? strlen(toks[i]) : 0;
    int32_t eos = 0;
    slm_grammar_vocab *v = NULL;
    assert_int_equal(slm_grammar_vocab_new((int32_t)n, toks, lens, &eos, 1, &v, NULL), SLM_OK);
    const char *labels[] = {"positive", "negative", "neutral"};
    slm_grammar *g = NULL;
    assert_int_equal(slm_grammar_compile_choice(labels, 3, &g, NULL), SLM_OK);
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, v, &m, NULL), SLM_OK);
    check_mask(m, v, toks, lens, &eos, 1);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 3, NULL), SLM_OK);
    check_mask(m, v, toks, lens, &eos, 1);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 4, NULL), SLM_OK);
    assert_true(slm_grammar_matcher_is_done(m));
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    const char *re = "-?[1-3]{2,3}";
    assert_int_equal(slm_grammar_compile_regex(re, strlen(re), &g, NULL), SLM_OK);
    assert_int_equal(slm_grammar_matcher_new(g, v, &m, NULL), SLM_OK);
    check_mask(m, v, toks, lens, &eos, 1);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 19, NULL), SLM_OK);
    assert_int_equal(slm_grammar_matcher_accept_token(m, 20, NULL), SLM_OK);
    check_mask(m, v, toks, lens, &eos, 1);
    assert_false(slm_grammar_matcher_is_accepting(m));
    assert_int_equal(slm_grammar_matcher_accept_token(m, 22, NULL), SLM_OK);
    check_mask(m, v, toks, lens, &eos, 1);
    assert_true(slm_grammar_matcher_is_accepting(m));
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
}

static void test_real_vocab(void **state) {
    (void)state;
    const char *sh = getenv("SLM_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-spm.gguf", sh && *sh ? sh : "../shared");
    slm_gguf *gg = NULL;
    slm_tokenizer *tk = NULL;
    if (slm_gguf_open(path, &gg, NULL) != SLM_OK) {
        printf("SKIP: %s missing\n", path);
        skip();
    }
    slm_error err;
    if (slm_tokenizer_load(gg, &tk, &err)) fail_msg("tokenizer: %s", err.msg);
    slm_grammar_vocab *v = NULL;
    if (slm_grammar_vocab_from_tokenizer(tk, &v, &err)) fail_msg("vocab: %s", err.msg);
    int32_t n = slm_tokenizer_n_vocab(tk);
    char **bytes = calloc((size_t)n, sizeof *bytes);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int32_t *eos = calloc((size_t)n, sizeof *eos);
    size_t n_eos = 0;
    for (int32_t t = 0; t < n; t++) {
        if (slm_tokenizer_is_eog(tk, t)) eos[n_eos++] = t;
        if (slm_tokenizer_is_control(tk, t)) continue;
        char buf[256];
        lens[t] = slm_token_to_piece(tk, t, false, buf, sizeof buf);
        bytes[t] = malloc(lens[t] + 1);
        memcpy(bytes[t], buf, lens[t]);
    }
    static const struct {
        const char *schema, *text;
    } cases[] = {
        {"{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},\"age\":{\"type\":"
         "\"integer\",\"minimum\":0,\"maximum\":150},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]}}},"
         "\"required\":[\"name\",\"age\"]}",
         "{\"name\":\"Zo\xc3\xab \\\"Q\\\"\",\"age\":42,\"tags\":[\"a\",\"b\"]}"},
        {"{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-29\""},
        {"{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"null\"}]}", "-12.5e3"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        slm_grammar *g = NULL;
        if (slm_grammar_compile_json_schema(cases[c].schema, strlen(cases[c].schema), NULL, &g, &err))
            fail_msg("schema %zu: %s", c, err.msg);
        slm_grammar_matcher *m = NULL;
        assert_int_equal(slm_grammar_matcher_new(g, v, &m, &err), SLM_OK);
        int32_t *ids = NULL;
        size_t nt = 0;
        assert_int_equal(slm_tokenize(tk, cases[c].text, strlen(cases[c].text), false, false, &ids, &nt, &err), SLM_OK);
        /* SentencePiece adds a leading space to the first piece: feed the
         * text through pieces that match it exactly (skip a lone "▁") */
        for (size_t i = 0; i < nt; i++) {
            check_mask(m, v, (const char *const *)bytes, lens, eos, n_eos);
            if (lens[ids[i]] && bytes[ids[i]][0] == ' ' && i == 0) {
                /* "▁{" style first piece: feed its bytes without the space */
                assert_true(slm_grammar_matcher_accept_bytes(m, bytes[ids[i]] + 1, lens[ids[i]] - 1, NULL));
                continue;
            }
            if (slm_grammar_matcher_accept_token(m, ids[i], &err)) fail_msg("case %zu token %zu: %s", c, i, err.msg);
        }
        check_mask(m, v, (const char *const *)bytes, lens, eos, n_eos);
        assert_true(slm_grammar_matcher_is_accepting(m));
        free(ids);
        slm_grammar_matcher_free(m);
        slm_grammar_free(g);
    }
    for (int32_t t = 0; t < n; t++) free(bytes[t]);
    free(bytes);
    free(lens);
    free(eos);
    slm_grammar_vocab_free(v);
    slm_tokenizer_free(tk);
    slm_gguf_close(gg);
}

static void test_bad_vocab(void **state) {
    (void)state;
    const char *toks[] = {"a"};
    size_t lens[] = {1};
    int32_t bad_eos = 5;
    slm_grammar_vocab *v = NULL;
    slm_error err;
    assert_int_equal(slm_grammar_vocab_new(1, toks, lens, &bad_eos, 1, &v, &err), SLM_ERR_INVALID_ARG);
    assert_null(v);
    assert_int_equal(slm_grammar_vocab_new(0, toks, lens, NULL, 0, &v, &err), SLM_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_choice_and_regex),
        cmocka_unit_test(test_real_vocab),
        cmocka_unit_test(test_bad_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
