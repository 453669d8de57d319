/* The fast mask paths (src/grammar/mask_memo.c: memoized (set, byte)
 * steps, whole subtrees allowed when every byte loops the state back to
 * itself, and the fallback to the plain walk when the memo budget is
 * spent) against brute force: the allowed set must equal the tokens whose
 * bytes can_accept_bytes accepts, with EOS exactly when accepting.
 * Focus: JSON strings with escapes (\" \\ \n \uXXXX) and multi-byte UTF-8
 * split across tokens, fed one byte at a time so every intermediate state
 * (mid-escape, mid-code-point) is checked; GBNF character-class loops; and
 * the deepseek vocabulary (102k tokens) from ../shared/vocab; bounded
 * strings (maxLength / minLength: the root class chain). The cache
 * shared between matchers is turned off here: every mask is walked (it is
 * tested in grammar_shared_test.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/matcher_internal.h"
#include "slm/gguf.h"
#include "slm/grammar.h"
#include "slm/tokenizer.h"

typedef struct tvocab {
    const char *const *bytes;
    const size_t *lens;
    const int32_t *eos;
    size_t n_eos;
} tvocab;

/* fill_mask == brute force in the matcher's current state. */
static void check_mask(slm_grammar_matcher *m, const slm_grammar_vocab *v, const tvocab *tv, const char *where) {
    int32_t n = slm_grammar_vocab_n_tokens(v);
    uint32_t *mask = calloc(slm_grammar_vocab_mask_words(v), sizeof *mask);
    assert_non_null(mask);
    slm_error err;
    if (slm_grammar_matcher_fill_mask(m, mask, &err) != SLM_OK) fail_msg("%s: fill_mask: %s", where, err.msg);
    int accepting = slm_grammar_matcher_is_accepting(m);
    for (int32_t t = 0; t < n; t++) {
        int is_eos = 0;
        for (size_t k = 0; k < tv->n_eos; k++) is_eos |= tv->eos[k] == t;
        int want = is_eos ? accepting
                          : tv->lens[t] > 0 && slm_grammar_matcher_can_accept_bytes(m, tv->bytes[t], tv->lens[t]);
        int got = (mask[t >> 5] >> (t & 31)) & 1;
        if (want != got)
            fail_msg("%s: token %d (%.*s): mask says %d, brute force %d", where, t, (int)tv->lens[t],
                     tv->bytes[t] ? tv->bytes[t] : "", got, want);
    }
    free(mask);
}

/* Feeds text one byte at a time, checking the mask before every byte and
 * at the end (which must be accepting). memo_max_sets: 0 default, else the
 * budget that forces the give-up path. Twice: the second pass meets the
 * per-state cache. */
static void follow_bytes(const slm_grammar *g, const slm_grammar_vocab *v, const tvocab *tv, const char *text,
                         uint32_t memo_max_sets) {
    slm_grammar_matcher *m = NULL;
    slm_error err;
    assert_int_equal(slm_grammar_matcher_new(g, v, &m, &err), SLM_OK);
    m->memo_max_sets = memo_max_sets;
    for (int pass = 0; pass < 2; pass++) {
        size_t len = strlen(text);
        char where[64];
        for (size_t i = 0; i < len; i++) {
            snprintf(where, sizeof where, "pass %d byte %zu budget %u", pass, i, memo_max_sets);
            check_mask(m, v, tv, where);
            if (!slm_grammar_matcher_accept_bytes(m, text + i, 1, &err)) fail_msg("%s: %s", where, err.msg);
        }
        check_mask(m, v, tv, "end");
        assert_true(slm_grammar_matcher_is_accepting(m));
        slm_grammar_matcher_reset(m);
    }
    slm_grammar_matcher_free(m);
}

/* Tokens built to cross every boundary of a JSON string: in-class runs,
 * runs ending in a quote and continuing (or not) validly, escapes split
 * and whole, partial and whole UTF-8 sequences, control bytes. */
static const char *const k_toks[] = {
    "<eos>", "{", "}", "\"", ",", ":", "a", "ab", "abc", "b", "c", "x y", " ", "s", "t", "n",
    "\"s\"", "\"t\"", "\":\"", "\",\"", "\"}", "a\"", "a\",", "a\"}", "a\"x", "\\", "\\\"", "\\\\",
    "\\n", "\\u", "\\u00", "00", "e9", "E9", "\\ue9", "\\x", "\xc3", "\xa9", "\xc3\xa9", "\xc3\xa9\"",
    "\xe2", "\x82", "\xe2\x82", "\xac", "\xe2\x82\xac", "\xf0\x9f", "\x98\x80", "\xf0\x9f\x98\x80",
    "\xff", "\xc0\xaf", "\x01", "\n", "\t", "5", "12", "-", ":5", ",\"n\":", "\"n\"", "\"}}", "é\\\"",
    "\\\"\"", "b\\", "\\\\\"", "\xa9\"", "\xac\",", "x",
    /* non-ASCII characters around the positions a long chain checks */
    "abcdefg\xc3\xa9", "abcdefgh\xc3\xa9", "abcdefghi\xc3\xa9", "abcdefghij", ("\xc3\xa9" "abcdefghi\xc3\xa9")};

static void synth_vocab(slm_grammar_vocab **v, tvocab *tv, size_t *lens, int32_t *eos) {
    size_t n = sizeof k_toks / sizeof *k_toks;
    for (size_t i = 0; i < n; i++) lens[i] = i ? strlen(k_toks[i]) : 0;
    *eos = 0;
    assert_int_equal(slm_grammar_vocab_new((int32_t)n, k_toks, lens, eos, 1, v, NULL), SLM_OK);
    slm_grammar_vocab_set_mask_cache(*v, 0);
    *tv = (tvocab){k_toks, lens, eos, 1};
}

static void test_json_strings(void **state) {
    (void)state;
    size_t lens[128];
    int32_t eos;
    slm_grammar_vocab *v = NULL;
    tvocab tv;
    synth_vocab(&v, &tv, lens, &eos);
    const char *schema = "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},"
                         "\"t\":{\"type\":\"string\",\"maxLength\":3},\"n\":{\"type\":\"integer\"}},"
                         "\"required\":[\"s\"]}";
    slm_grammar *g = NULL;
    slm_error err;
    if (slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err)) fail_msg("%s", err.msg);
    const char *text = "{\"s\":\"a\\\"b\\\\c\\n\\u00e9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 x\","
                       "\"t\":\"\xc3\xa9\\\"b\",\"n\":-12}";
    follow_bytes(g, v, &tv, text, 0);
    follow_bytes(g, v, &tv, text, 1); /* memo gives up at once: plain walk */
    follow_bytes(g, v, &tv, text, 3); /* gives up mid-walk: partial + plain */
    slm_grammar_free(g);
    /* bounded strings: class chains that die (maxLength), end in a loop
     * (minLength), or both; every position checked byte by byte */
    const char *bounded = "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"maxLength\":4},"
                          "\"t\":{\"type\":\"string\",\"minLength\":3},\"n\":{\"type\":\"string\",\"minLength\":1,"
                          "\"maxLength\":6}},\"required\":[\"s\",\"t\",\"n\"]}";
    if (slm_grammar_compile_json_schema(bounded, strlen(bounded), NULL, &g, &err)) fail_msg("%s", err.msg);
    follow_bytes(g, v, &tv, "{\"s\":\"ab\xc3\xa9\",\"t\":\"abc x y\",\"n\":\"\\n12 s\"}", 0);
    follow_bytes(g, v, &tv, "{\"s\":\"\",\"t\":\"x y\",\"n\":\"a\"}", 0);
    slm_grammar_free(g);
    /* non-ASCII characters allowed only in the first nine: a chain longer
     * than the positions the text class checks, ending in a loop (only
     * near text tokens may join its class) */
    const char *nine = "{\"type\":\"string\",\"pattern\":\"^([^\\\\u0001]{0,9}|[^\\\\u0001]{9}[ -\\\\u007f]+)$\"}";
    if (slm_grammar_compile_json_schema(nine, strlen(nine), NULL, &g, &err)) fail_msg("%s", err.msg);
    follow_bytes(g, v, &tv, "\"ab\xc3\xa9" "cdefgh xyz\"", 0);
    follow_bytes(g, v, &tv, "\"abcdefgh\xc3\xa9 abc\"", 0);
    slm_grammar_free(g);
    /* any JSON object: strings as keys and values, nested */
    assert_int_equal(slm_grammar_compile_json_object(NULL, &g, &err), SLM_OK);
    follow_bytes(g, v, &tv, "{\"\xc3\xa9\\\\\":{\"x y\":\"\\u00E9\\\"\"},\"n\":[\"\",\"ab\"]}", 0);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
}

static void test_gbnf_class_loops(void **state) {
    (void)state;
    size_t lens[128];
    int32_t eos;
    slm_grammar_vocab *v = NULL;
    tvocab tv;
    synth_vocab(&v, &tv, lens, &eos);
    /* a loop that may end without a delimiter, one that needs "\"" to end,
     * and a nested loop whose body is itself a loop */
    const char *gbnf = "root ::= [a-c]* (\"\\\"\" [^\"\\\\]* \"\\\"\")? ( \",\" ([a-c]+ \" \")* )?\n";
    slm_grammar *g = NULL;
    slm_error err;
    if (slm_grammar_compile_gbnf(gbnf, strlen(gbnf), NULL, &g, &err)) fail_msg("%s", err.msg);
    follow_bytes(g, v, &tv, "abca\"x y\xc3\xa9\n\x01\",ab c ", 0);
    follow_bytes(g, v, &tv, "ab", 2);
    slm_grammar_free(g);
    slm_grammar_vocab_free(v);
}

/* The largest vocabulary in ../shared: follow a JSON text with escapes and
 * UTF-8 token by token (deepseek tokenization), brute force at each step. */
static void test_deepseek_strings(void **state) {
    (void)state;
    const char *sh = getenv("SLM_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-deepseek-llm.gguf", sh && *sh ? sh : "../shared");
    slm_gguf *gg = NULL;
    if (slm_gguf_open(path, &gg, NULL) != SLM_OK) {
        printf("SKIP: %s missing\n", path);
        skip();
    }
    slm_tokenizer *tk = NULL;
    slm_error err;
    if (slm_tokenizer_load(gg, &tk, &err)) fail_msg("tokenizer: %s", err.msg);
    slm_grammar_vocab *v = NULL;
    if (slm_grammar_vocab_from_tokenizer(tk, &v, &err)) fail_msg("vocab: %s", err.msg);
    slm_grammar_vocab_set_mask_cache(v, 0);
    int32_t n = slm_tokenizer_n_vocab(tk);
    char **bytes = calloc((size_t)n, sizeof *bytes);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int32_t *eos = calloc((size_t)n, sizeof *eos);
    assert_true(bytes && lens && eos);
    size_t n_eos = 0;
    for (int32_t t = 0; t < n; t++) {
        if (slm_tokenizer_is_eog(tk, t)) eos[n_eos++] = t;
        if (slm_tokenizer_is_control(tk, t)) continue;
        char buf[256];
        lens[t] = slm_token_to_piece(tk, t, false, buf, sizeof buf);
        bytes[t] = malloc(lens[t] + 1);
        assert_non_null(bytes[t]);
        memcpy(bytes[t], buf, lens[t] < sizeof buf ? lens[t] : sizeof buf);
    }
    tvocab tv = {(const char *const *)bytes, lens, eos, n_eos};
    /* an unbounded string (the class loops), then bounded ones (maxLength:
     * a chain of positions that dies; minLength: a chain that ends in a
     * loop), with long tokens that cross the limits */
    const char *schemas[] = {
        "{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"},"
        "\"k\":{\"type\":\"integer\"}},\"required\":[\"q\",\"k\"]}",
        "{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\",\"maxLength\":12},"
        "\"r\":{\"type\":\"string\",\"minLength\":5},\"s\":{\"type\":\"string\",\"minLength\":2,"
        "\"maxLength\":4}},\"required\":[\"q\",\"r\",\"s\"]}",
        /* text classes (mask_utf8.c): non-ASCII characters counted as
         * characters around the positions it checks (GUTF8_TEXT_POS), and
         * classes where they must not join: only ASCII, all but one
         * character, a few non-ASCII characters */
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":8},"
        "\"b\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":9},\"c\":{\"type\":\"string\","
        "\"pattern\":\"^[ -~]*$\"},\"d\":{\"type\":\"string\",\"pattern\":\"^[^\u00e9]*$\"},"
        "\"e\":{\"type\":\"string\",\"maxLength\":1},\"f\":{\"type\":\"string\","
        "\"pattern\":\"^[ -~\u00e4\u00f6\u00fc]*$\"},\"g\":{\"type\":\"string\",\"minLength\":10}},"
        "\"required\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]}",
    };
    const char *texts[] = {
        "{\"q\":\"Zo\xc3\xab said \\\"hi\\\"\\n\xe2\x82\xac 5 \\u00e9!\",\"k\":7}",
        "{\"q\":\"hello world!\",\"r\":\"international\",\"s\":\"ab\xc3\xa9\"}",
        "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88\","
        "\"b\":\"\xc3\xbc" "ber na\xc3\xaf\",\"c\":\"plain ascii ~\",\"d\":\"Zo\xc3\xab \xc3\xa7" "a "
        "\xf0\x9f\x99\x82\",\"e\":\"\xc3\xbc\",\"f\":\"sch\xc3\xb6n gr\xc3\xbc" "n\","
        "\"g\":\"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xb8\x96\xe7\x95\x8c!\"}",
    };
    for (int sc = 0; sc < 3; sc++) {
        slm_grammar *g = NULL;
        if (slm_grammar_compile_json_schema(schemas[sc], strlen(schemas[sc]), NULL, &g, &err)) fail_msg("%s", err.msg);
        slm_grammar_matcher *m = NULL;
        assert_int_equal(slm_grammar_matcher_new(g, v, &m, &err), SLM_OK);
        int32_t *ids = NULL;
        size_t nt = 0;
        assert_int_equal(slm_tokenize(tk, texts[sc], strlen(texts[sc]), false, false, &ids, &nt, &err), SLM_OK);
        char where[48];
        for (size_t i = 0; i < nt; i++) {
            snprintf(where, sizeof where, "schema %d token %zu", sc, i);
            check_mask(m, v, &tv, where);
            if (slm_grammar_matcher_accept_token(m, ids[i], &err)) fail_msg("%s: %s", where, err.msg);
        }
        check_mask(m, v, &tv, "end");
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_gbnf_class_loops),
        cmocka_unit_test(test_deepseek_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
