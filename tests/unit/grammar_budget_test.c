/* Budget-aware completion (grammar/distance.c, budget.c).
 *
 * Distance: on fixed grammars the value is the hand-counted shortest
 * completion; along random walks through JSON-Schema and recursive GBNF
 * grammars it satisfies the defining recurrence of a shortest distance
 * (0 exactly when accepting; every accepted byte lowers it by at most 1;
 * some accepted byte lowers it by exactly 1), checked byte by byte.
 *
 * Budget: random generations over a vocabulary with every single byte as
 * a token plus multi-byte tokens, sampling uniformly among the allowed
 * tokens with the scheduler's check (token_fits, then budget_mask when
 * the sampled token does not fit), always end in an accepting state
 * within the budget once the budget covers the start's cost; budget_mask
 * keeps exactly the allowed tokens that token_fits accepts; with a budget
 * below the shortest output, the mask keeps the cheapest tokens (never
 * empty): every kept token is one after which the distance is smallest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/matcher_internal.h"
#include "slm/grammar.h"

static slm_grammar *schema(const char *s) {
    slm_grammar *g = NULL;
    slm_error err;
    if (slm_grammar_compile_json_schema(s, strlen(s), NULL, &g, &err) != SLM_OK) fail_msg("schema: %s", err.msg);
    return g;
}

static slm_grammar *gbnf(const char *s) {
    slm_grammar *g = NULL;
    slm_error err;
    if (slm_grammar_compile_gbnf(s, strlen(s), NULL, &g, &err) != SLM_OK) fail_msg("gbnf: %s", err.msg);
    return g;
}

static slm_grammar_matcher *matcher(const slm_grammar *g, const slm_grammar_vocab *v) {
    slm_grammar_matcher *m = NULL;
    slm_error err;
    if (slm_grammar_matcher_new(g, v, &m, &err) != SLM_OK) fail_msg("matcher: %s", err.msg);
    return m;
}

static size_t dist_after(slm_grammar_matcher *m, const char *text) {
    slm_error err;
    slm_grammar_matcher_reset(m);
    if (!slm_grammar_matcher_accept_bytes(m, text, strlen(text), &err)) fail_msg("rejected: %s", text);
    return slm_grammar_matcher_distance(m);
}

static const char *OBJ = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                         "\"n\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
                         "\"minItems\":2}},\"required\":[\"name\",\"tags\"],\"additionalProperties\":false}";

static void test_distance_values(void **state) {
    (void)state;
    slm_grammar *g = schema(OBJ);
    slm_grammar_matcher *m = matcher(g, NULL);
    /* shortest: {"name":"","tags":["",""]} = 26 bytes */
    assert_int_equal(slm_grammar_matcher_distance(m), 26);
    assert_int_equal(dist_after(m, "{\"name\":\"abc"), 17);         /* ","tags":["",""]} */
    assert_int_equal(dist_after(m, "{\"name\":\"abc\",\"n\":12"), 16); /* ,"tags":["",""]} */
    assert_int_equal(dist_after(m, "{\"name\":\"\",\"tags\":[\"x\""), 5); /* ,""]} */
    assert_int_equal(dist_after(m, "{\"name\":\"\",\"tags\":[\"x\",\"y\""), 2);
    assert_int_equal(dist_after(m, "{\"name\":\"\",\"tags\":[\"x\",\"y\"]}"), 0);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    /* recursion: the shortest sentence of a nested rule */
    g = gbnf("root ::= \"(\" inner \")\"\ninner ::= \"ab\" | \"[\" inner \"]\" | \"xyz\" inner");
    m = matcher(g, NULL);
    assert_int_equal(slm_grammar_matcher_distance(m), 4);
    assert_int_equal(dist_after(m, "([["), 5); /* ab]]) */
    assert_int_equal(dist_after(m, "(xyzx"), 5); /* yz ab ) */
    assert_int_equal(dist_after(m, "(ab"), 1);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    /* a rule with no finite sentence can never end */
    g = gbnf("root ::= \"a\" | \"b\" loop\nloop ::= \"c\" loop");
    m = matcher(g, NULL);
    assert_int_equal(slm_grammar_matcher_distance(m), 1);
    assert_int_equal(dist_after(m, "b"), SIZE_MAX);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

/* Checks distance 0 <=> accepting at the current state and lists the
 * accepted bytes (the walk's choices). */
static int accepted_bytes(slm_grammar_matcher *m, uint8_t *ok_bytes) {
    size_t d = slm_grammar_matcher_distance(m);
    assert_true(d != SIZE_MAX);
    assert_int_equal(d == 0, slm_grammar_matcher_is_accepting(m));
    int n_ok = 0;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (slm_grammar_matcher_can_accept_bytes(m, &c, 1)) ok_bytes[n_ok++] = (uint8_t)b;
    }
    return n_ok;
}

/* Random byte walks; at each state every accepted byte's next distance is
 * measured by replaying the prefix (matchers have no undo). */
static void walk_recurrence(const slm_grammar *g, const char *const *prefixes, int n_prefixes, unsigned seed) {
    slm_grammar_matcher *m = matcher(g, NULL);
    slm_grammar_matcher *probe = matcher(g, NULL);
    srand(seed);
    char text[512];
    for (int w = 0; w < 12; w++) {
        slm_grammar_matcher_reset(m);
        size_t len = 0;
        const char *p = prefixes[w % n_prefixes];
        slm_error err;
        if (!slm_grammar_matcher_accept_bytes(m, p, strlen(p), &err)) fail_msg("prefix rejected: %s", p);
        memcpy(text, p, strlen(p));
        len = strlen(p);
        for (int step = 0; step < 60 && len + 1 < sizeof text; step++) {
            uint8_t ok[256];
            int n_ok = accepted_bytes(m, ok);
            if (n_ok == 0) break;
            size_t d = slm_grammar_matcher_distance(m);
            int lowers = 0;
            for (int k = 0; k < n_ok; k++) {
                slm_grammar_matcher_reset(probe);
                assert_true(slm_grammar_matcher_accept_bytes(probe, text, len, &err));
                assert_true(slm_grammar_matcher_accept_bytes(probe, (const char *)&ok[k], 1, &err));
                size_t d2 = slm_grammar_matcher_distance(probe);
                if (d2 != SIZE_MAX && d2 + 1 < d) fail_msg("byte 0x%02x lowers distance %zu to %zu", ok[k], d, d2);
                lowers += d > 0 && d2 + 1 == d;
            }
            if (d > 0 && !lowers) fail_msg("distance %zu at %.*s but no byte lowers it", d, (int)len, text);
            /* go on with a random accepted byte, biased to printable ones */
            uint8_t b = ok[rand() % n_ok];
            for (int tries = 0; tries < 4 && (b < 0x20 || b > 0x7e); tries++) b = ok[rand() % n_ok];
            assert_true(slm_grammar_matcher_accept_bytes(m, (const char *)&b, 1, &err));
            text[len++] = (char)b;
        }
    }
    slm_grammar_matcher_free(probe);
    slm_grammar_matcher_free(m);
}

static void test_distance_recurrence(void **state) {
    (void)state;
    const char *pre[] = {"", "{\"name\":\"", "{\"name\":\"q\",\"n\":-", "{\"name\":\"\",\"tags\":[\"a\","};
    slm_grammar *g = schema(OBJ);
    walk_recurrence(g, pre, 4, 7);
    slm_grammar_free(g);
    const char *nested = "{\"$defs\":{\"t\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"},"
                         "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/t\"}}},\"required\":[\"v\"]}},"
                         "\"$ref\":\"#/$defs/t\"}";
    const char *pre2[] = {"", "{\"v\":1.5e", "{\"v\":0,\"kids\":[{\"v\":3,\"kids\":["};
    g = schema(nested);
    walk_recurrence(g, pre2, 3, 11);
    slm_grammar_free(g);
    const char *pre3[] = {"", "(xyz[[", "([xyz"};
    g = gbnf("root ::= \"(\" inner \")\"\ninner ::= \"ab\" | \"[\" inner \"]\" | \"xyz\" inner");
    walk_recurrence(g, pre3, 3, 3);
    slm_grammar_free(g);
}

/* ---- budget ---- */

typedef struct tvocab {
    slm_grammar_vocab *v;
    char *bytes[400];
    size_t lens[400];
    int32_t n, eos;
} tvocab;

/* Token 0 = EOS, 1..256 = single bytes 0..255, then multi-byte tokens. */
static void tvocab_init(tvocab *tv) {
    static const char *multi[] = {"{\"", "\":", "\",\"", "\"}", "name", "tags", "\":\"", "[\"", "\"]", "\"]}", "abc",
                                  "hello world", "12", "345", "true", "false", "null", ",\"", "\":[", "}]", "\"}]}",
                                  "\",", "xyz", "kids", "\":{\"", "v\":", "e+1", ".5"};
    memset(tv, 0, sizeof *tv);
    tv->n = 0;
    tv->bytes[tv->n] = NULL;
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
    slm_error err;
    tv->eos = 0;
    if (slm_grammar_vocab_new(tv->n, (const char *const *)tv->bytes, tv->lens, &tv->eos, 1, &tv->v, &err) != SLM_OK)
        fail_msg("vocab: %s", err.msg);
}

static void tvocab_free(tvocab *tv) {
    for (int32_t i = 0; i < tv->n; i++) free(tv->bytes[i]);
    slm_grammar_vocab_free(tv->v);
}

static int bit(const uint32_t *mask, int32_t t) { return (mask[t >> 5] >> (t & 31)) & 1; }

/* A uniformly random allowed token (the model stand-in), -1 if none. */
static int32_t pick(const uint32_t *mask, int32_t n) {
    int32_t cand[400], k = 0;
    for (int32_t t = 0; t < n; t++)
        if (bit(mask, t)) cand[k++] = t;
    return k ? cand[rand() % k] : -1;
}

/* One generation with `budget` tokens; returns the number used, or -1 if
 * it ran out before ending. text gets the output. */
static int generate(slm_grammar_matcher *m, tvocab *tv, int budget, char *text, size_t cap) {
    uint32_t mask[16];
    slm_error err;
    size_t len = 0;
    slm_grammar_matcher_reset(m);
    size_t d0 = slm_grammar_matcher_distance(m);
    int fits_start = d0 < (size_t)budget;
    for (int used = 0; used < budget; used++) {
        if (slm_grammar_matcher_is_done(m)) return used;
        assert_int_equal(slm_grammar_matcher_fill_mask(m, mask, &err), SLM_OK);
        int32_t t = pick(mask, tv->n);
        assert_true(t >= 0);
        int left = budget - used;
        if (!slm_grammar_matcher_token_fits(m, t, left)) {
            assert_int_equal(slm_grammar_matcher_budget_mask(m, mask, left, &err), SLM_OK);
            t = pick(mask, tv->n);
            assert_true(t >= 0); /* never emptied */
            /* within budget the kept tokens fit; over it they only close fastest */
            if (fits_start) assert_true(slm_grammar_matcher_token_fits(m, t, left));
        }
        if (t == tv->eos) return used + 1;
        assert_true(len + tv->lens[t] < cap);
        memcpy(text + len, tv->bytes[t], tv->lens[t]);
        len += tv->lens[t];
        text[len] = '\0';
        assert_int_equal(slm_grammar_matcher_accept_token(m, t, &err), SLM_OK);
    }
    return slm_grammar_matcher_is_done(m) ? budget : -1;
}

static void budget_runs(const slm_grammar *g, tvocab *tv, int min_budget, unsigned seed) {
    slm_grammar_matcher *m = matcher(g, tv->v);
    srand(seed);
    char text[4096];
    int short_runs = 0;
    for (int budget = min_budget; budget < min_budget + 40; budget += 3)
        for (int r = 0; r < 6; r++) {
            int used = generate(m, tv, budget, text, sizeof text);
            if (used < 0) fail_msg("budget %d: ran out at %s", budget, text);
            assert_true(used <= budget);
            short_runs += used < budget;
            /* the output is a sentence of the grammar */
            slm_grammar_matcher *chk = matcher(g, NULL);
            slm_error err;
            assert_true(slm_grammar_matcher_accept_bytes(chk, text, strlen(text), &err));
            assert_true(slm_grammar_matcher_is_accepting(chk));
            slm_grammar_matcher_free(chk);
        }
    assert_true(short_runs > 0);
    slm_grammar_matcher_free(m);
}

static void test_budget_generations_end_in_time(void **state) {
    (void)state;
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar *g = schema(OBJ);
    /* 26 bytes; ends with "}" (done: no end token) */
    budget_runs(g, &tv, 26, 1);
    slm_grammar_free(g);
    g = gbnf("root ::= \"(\" inner \")\" [0-9]*\ninner ::= \"ab\" | \"[\" inner \"]\" | \"xyz\" inner");
    budget_runs(g, &tv, 5, 2); /* 4 bytes + the end token */
    slm_grammar_free(g);
    tvocab_free(&tv);
}

/* budget_mask keeps exactly the allowed tokens that fit, and
 * accept_token_budget takes exactly those (else SLM_ERR_RANGE, state
 * unchanged: the next token still sees the same mask). Both walks: the
 * memoized one with a cost limit and the plain fallback. */
/* memo_max_sets 1: the memoized walk gives up at once (plain fallback) */
static void budget_mask_check(uint32_t memo_max_sets) {
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar *g = schema(OBJ);
    slm_grammar_matcher *m = matcher(g, tv.v);
    m->memo_max_sets = memo_max_sets;
    const char *states[] = {"", "{\"name\":\"ab", "{\"name\":\"\",\"tags\":[\"x\"", "{\"name\":\"\",\"n\":1"};
    slm_error err;
    for (size_t s = 0; s < sizeof states / sizeof *states; s++)
        for (int budget = 1; budget < 40; budget++) {
            slm_grammar_matcher_reset(m);
            assert_true(slm_grammar_matcher_accept_bytes(m, states[s], strlen(states[s]), &err));
            uint32_t full[16], lim[16];
            assert_int_equal(slm_grammar_matcher_fill_mask(m, full, &err), SLM_OK);
            memcpy(lim, full, sizeof lim);
            assert_int_equal(slm_grammar_matcher_budget_mask(m, lim, budget, &err), SLM_OK);
            int n_fit = 0, n_lim = 0;
            for (int32_t t = 0; t < tv.n; t++) {
                int fits = bit(full, t) && slm_grammar_matcher_token_fits(m, t, budget);
                n_fit += fits;
                n_lim += bit(lim, t);
                assert_true(!bit(lim, t) || bit(full, t)); /* only narrows */
                if (fits) assert_true(bit(lim, t));
            }
            assert_true(n_lim > 0);
            if (n_fit > 0) assert_int_equal(n_lim, n_fit);
            /* accept_token_budget takes exactly the tokens that fit */
            for (int32_t t = 0; t < tv.n; t++) {
                if (!bit(full, t)) continue;
                int fits = slm_grammar_matcher_token_fits(m, t, budget);
                slm_status st = slm_grammar_matcher_accept_token_budget(m, t, budget, &err);
                assert_int_equal(st, fits ? SLM_OK : SLM_ERR_RANGE);
                if (st == SLM_OK) { /* moved: back to the state */
                    slm_grammar_matcher_reset(m);
                    assert_true(slm_grammar_matcher_accept_bytes(m, states[s], strlen(states[s]), &err));
                }
            }
        }
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    tvocab_free(&tv);
}

static void test_budget_mask_matches_token_fits(void **state) {
    (void)state;
    budget_mask_check(0);
    budget_mask_check(1);
}

/* Distance after text + token t (a replay: matchers have no undo);
 * SIZE_MAX - 1 for the end token. */
static size_t dist_with(slm_grammar_matcher *probe, const tvocab *tv, const char *text, int32_t t) {
    slm_error err;
    slm_grammar_matcher_reset(probe);
    assert_true(slm_grammar_matcher_accept_bytes(probe, text, strlen(text), &err));
    if (t == tv->eos) return SIZE_MAX - 1;
    assert_true(slm_grammar_matcher_accept_bytes(probe, tv->bytes[t], tv->lens[t], &err));
    return slm_grammar_matcher_distance(probe);
}

static void test_budget_too_small_takes_cheapest(void **state) {
    (void)state;
    tvocab tv;
    tvocab_init(&tv);
    slm_grammar *g = schema(OBJ);
    slm_grammar_matcher *m = matcher(g, tv.v), *probe = matcher(g, NULL);
    srand(5);
    char text[512] = "";
    size_t len = 0;
    slm_error err;
    for (int left = 8; left > 0; left--) { /* 8 tokens for a 26-byte output */
        uint32_t full[16], lim[16];
        assert_int_equal(slm_grammar_matcher_fill_mask(m, full, &err), SLM_OK);
        memcpy(lim, full, sizeof lim);
        assert_int_equal(slm_grammar_matcher_budget_mask(m, lim, left, &err), SLM_OK);
        size_t best = SIZE_MAX;
        for (int32_t t = 0; t < tv.n; t++)
            if (bit(full, t) && dist_with(probe, &tv, text, t) < best) best = dist_with(probe, &tv, text, t);
        /* the kept tokens are exactly the cheapest ones */
        for (int32_t t = 0; t < tv.n; t++)
            if (bit(full, t)) assert_int_equal(bit(lim, t), dist_with(probe, &tv, text, t) == best);
        int32_t t = pick(lim, tv.n);
        assert_int_equal(slm_grammar_matcher_accept_token(m, t, &err), SLM_OK);
        memcpy(text + len, tv.bytes[t], tv.lens[t]);
        len += tv.lens[t];
        text[len] = '\0';
    }
    /* multi-byte steps: 8 tokens covered well over 8 bytes */
    assert_true(len > 16);
    assert_true(slm_grammar_matcher_distance(m) <= 26 - 16);
    slm_grammar_matcher_free(probe);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    tvocab_free(&tv);
}

static void test_budget_args(void **state) {
    (void)state;
    slm_grammar *g = schema(OBJ);
    slm_grammar_matcher *m = matcher(g, NULL);
    uint32_t mask[4] = {0};
    slm_error err;
    assert_false(slm_grammar_matcher_token_fits(NULL, 0, 5));
    assert_false(slm_grammar_matcher_token_fits(m, 0, 5)); /* no vocabulary */
    assert_int_equal(slm_grammar_matcher_budget_mask(m, mask, 5, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_grammar_matcher_distance(NULL), SIZE_MAX);
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance_values),
        cmocka_unit_test(test_distance_recurrence),
        cmocka_unit_test(test_budget_generations_end_in_time),
        cmocka_unit_test(test_budget_mask_matches_token_fits),
        cmocka_unit_test(test_budget_too_small_takes_cheapest),
        cmocka_unit_test(test_budget_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
