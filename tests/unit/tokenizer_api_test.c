/* Tests for the tokenizer API beyond the golden vectors: special-token
 * parsing only on request, BOS/EOS/CLS/SEP rules, pieces and streaming
 * detokenization of split UTF-8, invalid UTF-8, end-of-generation tokens,
 * and load errors on malformed metadata (GGUF files built in memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/tokenizer.h"

static slm_tokenizer *load_vocab(const char *name) {
    const char *d = getenv("SLM_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", d && *d ? d : "../shared", name);
    slm_gguf *g = NULL;
    slm_tokenizer *t = NULL;
    if (slm_gguf_open(path, &g, NULL) != SLM_OK) {
        fprintf(stderr, "skipping: %s not found (no ../shared?)\n", path);
        return NULL;
    }
    assert_int_equal(slm_tokenizer_load(g, &t, NULL), SLM_OK);
    slm_gguf_close(g);
    return t;
}

#define LOAD_OR_SKIP(var, name)            \
    slm_tokenizer *var = load_vocab(name); \
    if (!var) skip()

static size_t tokenize(const slm_tokenizer *t, const char *s, bool add, bool parse, int32_t *out, size_t cap) {
    int32_t *tok;
    size_t n;
    assert_int_equal(slm_tokenize(t, s, strlen(s), add, parse, &tok, &n, NULL), SLM_OK);
    assert_true(n <= cap);
    if (n) memcpy(out, tok, n * sizeof *tok);
    free(tok);
    return n;
}

static void test_parse_special_only_on_request(void **state) {
    (void)state;
    LOAD_OR_SKIP(t, "gpt-2");
    int32_t tok[64];
    size_t n = tokenize(t, "a<|endoftext|>b", false, true, tok, 64);
    assert_int_equal(n, 3);
    assert_int_equal(tok[1], 50256);
    n = tokenize(t, "a<|endoftext|>b", false, false, tok, 64);
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(tok[i], 50256);
    assert_true(slm_tokenizer_is_eog(t, 50256));
    assert_true(slm_tokenizer_is_control(t, 50256));
    /* a control token renders only when asked */
    char buf[32];
    assert_int_equal(slm_token_to_piece(t, 50256, false, buf, sizeof buf), 0);
    assert_int_equal(slm_token_to_piece(t, 50256, true, buf, sizeof buf), 13);
    assert_memory_equal(buf, "<|endoftext|>", 13);
    /* truncation reports the full length */
    assert_int_equal(slm_token_to_piece(t, 50256, true, buf, 4), 13);
    assert_memory_equal(buf, "<|en", 4);
    assert_int_equal(slm_token_to_piece(t, -1, true, buf, sizeof buf), 0);
    assert_int_equal(slm_token_to_piece(t, 1 << 30, true, buf, sizeof buf), 0);
    slm_tokenizer_free(t);
}

static void test_bos_eos_rules(void **state) {
    (void)state;
    LOAD_OR_SKIP(spm, "llama-spm");
    int32_t tok[64];
    assert_true(slm_tokenizer_add_bos(spm));
    assert_int_equal(tokenize(spm, "", true, false, tok, 64), 1);
    assert_int_equal(tok[0], 1);
    assert_int_equal(tokenize(spm, "", false, false, tok, 64), 0);
    size_t n = tokenize(spm, "Hello", true, false, tok, 64);
    assert_int_equal(tok[0], 1);
    assert_int_not_equal(tok[n - 1], 2); /* add_eos_token is false */
    slm_tokenizer_free(spm);

    LOAD_OR_SKIP(gpt2, "gpt-2");
    assert_false(slm_tokenizer_add_bos(gpt2));
    n = tokenize(gpt2, "Hello", true, false, tok, 64);
    assert_int_equal(n, 1);
    assert_int_equal(tok[0], 15496);
    slm_tokenizer_free(gpt2);

    LOAD_OR_SKIP(dsc, "deepseek-coder");
    assert_true(slm_tokenizer_add_bos(dsc));
    n = tokenize(dsc, "Hello", true, false, tok, 64);
    assert_int_equal(tok[0], 32013);
    assert_int_equal(slm_tokenizer_bos(dsc), 32013);
    assert_int_equal(slm_tokenizer_eos(dsc), 32014);
    slm_tokenizer_free(dsc);

    LOAD_OR_SKIP(bert, "bert-bge");
    n = tokenize(bert, "Hello", true, false, tok, 64);
    assert_int_equal(tok[0], 101);
    assert_int_equal(tok[n - 1], 102);
    int32_t a[64], b[64];
    size_t na = tokenize(bert, "HELLO world", false, false, a, 64);
    size_t nb = tokenize(bert, "hello   WORLD", false, false, b, 64);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    slm_tokenizer_free(bert);
}

static void test_spm_pieces(void **state) {
    (void)state;
    LOAD_OR_SKIP(t, "llama-spm");
    char buf[16];
    int32_t nl = slm_tokenizer_find_token(t, "<0x0A>", 6);
    assert_true(nl >= 0);
    assert_int_equal(slm_token_to_piece(t, nl, false, buf, sizeof buf), 1);
    assert_int_equal(buf[0], '\n');
    int32_t w = slm_tokenizer_find_token(t, "\xe2\x96\x81the", 6);
    assert_true(w >= 0);
    assert_int_equal(slm_token_to_piece(t, w, false, buf, sizeof buf), 4);
    assert_memory_equal(buf, " the", 4);
    /* invalid UTF-8 falls back to byte tokens and renders back exactly */
    int32_t tok[16];
    size_t n = tokenize(t, "\xff", false, false, tok, 16);
    char out[16];
    size_t len = slm_detokenize(t, tok, n, false, out, sizeof out);
    assert_int_equal(len, 2);
    assert_memory_equal(out, " \xff", 2);
    slm_tokenizer_free(t);
}

static void test_stream_holds_partial_utf8(void **state) {
    (void)state;
    LOAD_OR_SKIP(t, "gpt-2");
    const char *text = "llama \xf0\x9f\xa6\x99 caf\xc3\xa9 \xe4\xb8\xad";
    int32_t tok[64];
    size_t n = tokenize(t, text, false, false, tok, 64);
    slm_detok d;
    slm_detok_init(&d, t, false);
    char out[256], chunk[SLM_DETOK_MAX_PIECE + 4];
    size_t o = 0;
    int held = 0;
    for (size_t i = 0; i < n; i++) {
        char piece[64];
        size_t pl = slm_token_to_piece(t, tok[i], false, piece, sizeof piece);
        size_t k = slm_detok_push(&d, tok[i], chunk, sizeof chunk);
        if (k < pl) held++;
        /* every chunk ends on a character boundary */
        if (k) assert_true(((unsigned char)chunk[k - 1] & 0xC0) != 0xC0);
        memcpy(out + o, chunk, k);
        o += k;
    }
    o += slm_detok_flush(&d, out + o, sizeof out - o);
    assert_true(held > 0); /* the emoji is split over byte-level tokens */
    assert_int_equal(o, strlen(text));
    assert_memory_equal(out, text, o);
    /* an incomplete tail is flushed at the end */
    slm_detok_init(&d, t, false);
    int32_t first[8];
    size_t nf = tokenize(t, "\xf0\x9f\xa6\x99", false, false, first, 8);
    assert_true(nf > 1);
    assert_int_equal(slm_detok_push(&d, first[0], chunk, sizeof chunk), 0);
    assert_true(slm_detok_flush(&d, chunk, sizeof chunk) > 0);
    slm_tokenizer_free(t);
}

static void test_bpe_invalid_utf8(void **state) {
    (void)state;
    LOAD_OR_SKIP(t, "gpt-2");
    int32_t tok[16];
    size_t n = tokenize(t, "a\xff", false, false, tok, 16);
    char out[16];
    size_t len = slm_detokenize(t, tok, n, false, out, sizeof out);
    /* llama.cpp replaces an invalid byte by U+FFFD before byte-level BPE */
    assert_int_equal(len, 4);
    assert_memory_equal(out, "a\xef\xbf\xbd", 4);
    slm_tokenizer_free(t);
}

static void test_eog_by_text(void **state) {
    (void)state;
    LOAD_OR_SKIP(t, "phi-3");
    int32_t end = slm_tokenizer_find_token(t, "<|end|>", 7);
    assert_true(end >= 0);
    assert_true(slm_tokenizer_is_eog(t, end));
    assert_int_equal(slm_tokenizer_eot(t), end);
    assert_true(slm_tokenizer_is_eog(t, slm_tokenizer_eos(t)));
    assert_false(slm_tokenizer_is_eog(t, slm_tokenizer_bos(t)));
    assert_false(slm_tokenizer_is_eog(t, -1));
    slm_tokenizer_free(t);
}

/* ---- malformed metadata ------------------------------------------------ */

static slm_status load_mem(slm_gguf_writer *w, slm_tokenizer **t, slm_error *err) {
    void *buf;
    size_t size;
    assert_int_equal(slm_gguf_writer_write_memory(w, &buf, &size, NULL), SLM_OK);
    slm_gguf *g = NULL;
    assert_int_equal(slm_gguf_open_memory(buf, size, "mem.gguf", &g, NULL), SLM_OK);
    slm_status st = slm_tokenizer_load(g, t, err);
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
    return st;
}

static slm_gguf_writer *tiny(const char *model, bool merges) {
    static const char *const toks[] = {"a", "b", "ab", "<s>", "</s>", "\xc4\xa0"};
    slm_gguf_writer *w = slm_gguf_writer_new();
    if (model) slm_gguf_writer_set_str(w, "tokenizer.ggml.model", model);
    slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
    static const char *const m[] = {"a b"};
    if (merges) slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", m, 1);
    return w;
}

static void test_load_errors(void **state) {
    (void)state;
    slm_tokenizer *t = NULL;
    slm_error err = {0};
    assert_int_equal(load_mem(tiny(NULL, false), &t, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tokenizer.ggml.model"));
    assert_null(t);
    assert_int_equal(load_mem(tiny("t5", false), &t, &err), SLM_ERR_UNSUPPORTED);
    assert_int_equal(load_mem(tiny("gpt2", false), &t, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "merges"));

    slm_gguf_writer *w = tiny("llama", false);
    float scores[3] = {0};
    slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, scores, 3);
    assert_int_equal(load_mem(w, &t, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "scores"));

    w = slm_gguf_writer_new();
    slm_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    int32_t notstr[2] = {1, 2};
    slm_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", SLM_GGUF_INT32, notstr, 2);
    assert_int_equal(load_mem(w, &t, &err), SLM_ERR_FORMAT);

    w = tiny("llama", false);
    slm_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    slm_gguf_writer_set_uint(w, "tokenizer.ggml.bos_token_id", SLM_GGUF_UINT32, 4000000000u);
    /* an out-of-range id keeps the default (1 here) as llama.cpp does */
    assert_int_equal(load_mem(w, &t, &err), SLM_OK);
    assert_int_equal(slm_tokenizer_bos(t), 1);
    slm_tokenizer_free(t);
}

static void test_unknown_pre_uses_default(void **state) {
    (void)state;
    slm_tokenizer *t = NULL;
    slm_gguf_writer *w = tiny("gpt2", true);
    slm_gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre");
    assert_int_equal(load_mem(w, &t, NULL), SLM_OK);
    assert_string_equal(slm_tokenizer_pre_name(t), "default");
    assert_string_equal(slm_tokenizer_type_name(t), "gpt2");
    int32_t tok[8];
    size_t n = tokenize(t, "ab a", false, false, tok, 8);
    int32_t exp[] = {2, 5, 0}; /* "ab" merged, then "Ġ", "a" (no "Ġa" merge) */
    assert_int_equal(n, 3);
    assert_memory_equal(tok, exp, sizeof exp);
    slm_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_special_only_on_request),
        cmocka_unit_test(test_bos_eos_rules),
        cmocka_unit_test(test_spm_pieces),
        cmocka_unit_test(test_stream_holds_partial_utf8),
        cmocka_unit_test(test_bpe_invalid_utf8),
        cmocka_unit_test(test_eog_by_text),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_unknown_pre_uses_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
