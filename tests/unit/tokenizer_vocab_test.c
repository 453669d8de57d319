/* Golden tests for the tokenizer against llama.cpp's test vectors in
 * ../shared/vocab: every ggml-vocab-NAME.gguf with .inp/.out files must
 * reproduce every expected token sequence (inputs split on
 * "\n__ggml_vocab_test__\n", tokenized with add_special = false and
 * parse_special = false, as llama.cpp's test-tokenizer-0 does; a repeated
 * input keeps its last expected output, as its std::map does). For BPE
 * vocabularies, detokenizing the result must give the input back. Also the
 * stories260K prompt the engine depends on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/tokenizer.h"

static const char *shared_dir(void) {
    const char *d = getenv("SLM_SHARED_DIR");
    return d && *d ? d : "../shared";
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0, *len = (size_t)n;
    return b;
}

static slm_tokenizer *load(const char *path) {
    slm_gguf *g = NULL;
    slm_tokenizer *t = NULL;
    slm_error err = {0};
    if (slm_gguf_open(path, &g, &err) != SLM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    if (slm_tokenizer_load(g, &t, &err) != SLM_OK) fprintf(stderr, "%s\n", err.msg);
    slm_gguf_close(g);
    return t;
}

typedef struct vec_case {
    const char *inp;
    size_t len;
    int32_t exp[1024];
    size_t n_exp;
} vec_case;

/* Splits the .inp text in place; returns the number of inputs. */
static size_t split_inputs(char *raw, size_t len, vec_case *c, size_t max) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0, pos = 0, sl = sizeof sep - 1;
    while (pos < len && n < max) {
        char *next = memmem(raw + pos, len - pos, sep, sl);
        size_t end = next ? (size_t)(next - raw) : len;
        c[n].inp = raw + pos;
        c[n++].len = end - pos;
        pos = next ? end + sl : len;
    }
    return n;
}

/* One line per input, as std::getline reads them (no line after a final
 * newline). */
static size_t parse_outputs(char *raw, vec_case *c, size_t max) {
    size_t n = 0;
    char *save = NULL;
    for (char *line = raw; line && *line && n < max; n++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        c[n].n_exp = 0;
        for (char *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save))
            if (c[n].n_exp < 1024) c[n].exp[c[n].n_exp++] = (int32_t)atoi(tok);
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

static bool later_duplicate(const vec_case *c, size_t i, size_t n) {
    for (size_t j = i + 1; j < n; j++)
        if (c[j].len == c[i].len && memcmp(c[j].inp, c[i].inp, c[i].len) == 0) return true;
    return false;
}

static void print_case(const char *name, const vec_case *c, const int32_t *got, size_t n_got) {
    fprintf(stderr, "%s: input '%.*s'\n  expected:", name, (int)c->len, c->inp);
    for (size_t k = 0; k < c->n_exp; k++) fprintf(stderr, " %d", c->exp[k]);
    fprintf(stderr, "\n  got:     ");
    for (size_t k = 0; k < n_got; k++) fprintf(stderr, " %d", got[k]);
    fprintf(stderr, "\n");
}

static void check_roundtrip(const slm_tokenizer *t, const vec_case *c, const int32_t *tok, size_t n,
                            int *failures) {
    size_t need = slm_detokenize(t, tok, n, false, NULL, 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(slm_detokenize(t, tok, n, false, buf, need), need);
    if (need != c->len || memcmp(buf, c->inp, need) != 0) {
        fprintf(stderr, "round trip differs for '%.*s': '%.*s'\n", (int)c->len, c->inp, (int)need, buf);
        (*failures)++;
    }
    free(buf);
}

static void run_vocab(const char *name) {
    char path[1024], pinp[1100], pout[1100];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", shared_dir(), name);
    snprintf(pinp, sizeof pinp, "%s.inp", path);
    snprintf(pout, sizeof pout, "%s.out", path);
    size_t li, lo;
    char *inp = read_file(pinp, &li), *out = read_file(pout, &lo);
    if (!inp || !out) {
        free(inp);
        free(out);
        fprintf(stderr, "skipping %s: %s not found (no ../shared?)\n", name, pinp);
        skip();
    }
    slm_tokenizer *t = load(path);
    assert_non_null(t);
    static vec_case cases[256];
    size_t n = split_inputs(inp, li, cases, 256);
    assert_int_equal(parse_outputs(out, cases, 256), n);
    bool bpe = strcmp(slm_tokenizer_type_name(t), "gpt2") == 0;
    int failures = 0, checked = 0;
    for (size_t i = 0; i < n; i++) {
        if (later_duplicate(cases, i, n)) continue;
        int32_t *tok = NULL;
        size_t nt = 0;
        slm_error err = {0};
        assert_int_equal(slm_tokenize(t, cases[i].inp, cases[i].len, false, false, &tok, &nt, &err), SLM_OK);
        checked++;
        if (nt != cases[i].n_exp || (nt && memcmp(tok, cases[i].exp, nt * sizeof *tok) != 0)) {
            print_case(name, &cases[i], tok, nt);
            failures++;
        }
        if (bpe) check_roundtrip(t, &cases[i], tok, nt, &failures);
        free(tok);
    }
    fprintf(stderr, "%s: %d inputs, %d failures\n", name, checked, failures);
    slm_tokenizer_free(t);
    free(inp);
    free(out);
    assert_int_equal(failures, 0);
}

#define VOCAB_TEST(fn, name) \
    static void fn(void **state) { (void)state; run_vocab(name); }
VOCAB_TEST(test_llama_spm, "llama-spm")
VOCAB_TEST(test_phi_3, "phi-3")
VOCAB_TEST(test_gpt_2, "gpt-2")
VOCAB_TEST(test_deepseek_llm, "deepseek-llm")
VOCAB_TEST(test_deepseek_coder, "deepseek-coder")
VOCAB_TEST(test_falcon, "falcon")
VOCAB_TEST(test_mpt, "mpt")
VOCAB_TEST(test_refact, "refact")
VOCAB_TEST(test_starcoder, "starcoder")
VOCAB_TEST(test_bert_bge, "bert-bge")

static void test_stories260k_prompt(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared_dir());
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "skipping: %s not found (no ../shared?)\n", path);
        skip();
    }
    fclose(f);
    slm_tokenizer *t = load(path);
    assert_non_null(t);
    assert_string_equal(slm_tokenizer_type_name(t), "llama");
    assert_int_equal(slm_tokenizer_n_vocab(t), 512);
    assert_int_equal(slm_tokenizer_bos(t), 1);
    assert_int_equal(slm_tokenizer_eos(t), 2);
    assert_true(slm_tokenizer_add_bos(t));
    assert_true(slm_tokenizer_is_eog(t, 2));
    assert_false(slm_tokenizer_is_eog(t, 1));
    int32_t *tok;
    size_t n;
    const char *prompt = "Once upon a time";
    assert_int_equal(slm_tokenize(t, prompt, strlen(prompt), true, false, &tok, &n, NULL), SLM_OK);
    int32_t exp[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(tok, exp, sizeof exp);
    /* the pieces render the text back, with SentencePiece's leading space */
    char buf[64];
    size_t len = slm_detokenize(t, tok, n, false, buf, sizeof buf);
    assert_int_equal(len, strlen(" Once upon a time"));
    assert_memory_equal(buf, " Once upon a time", len);
    free(tok);
    slm_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_prompt),
        cmocka_unit_test(test_llama_spm),
        cmocka_unit_test(test_phi_3),
        cmocka_unit_test(test_gpt_2),
        cmocka_unit_test(test_deepseek_llm),
        cmocka_unit_test(test_deepseek_coder),
        cmocka_unit_test(test_falcon),
        cmocka_unit_test(test_mpt),
        cmocka_unit_test(test_refact),
        cmocka_unit_test(test_starcoder),
        cmocka_unit_test(test_bert_bge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
