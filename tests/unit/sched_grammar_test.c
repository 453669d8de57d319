/* Constrained decoding through the scheduler (engine/sched_grammar.c) on
 * the real stories260K model, a base model that never writes JSON by
 * itself: with a JSON-Schema grammar every sampled output (many seeds,
 * temperature 1) is JSON that jansson parses, that the grammar matcher
 * accepts to an accepting state, and whose fields have the schema's types;
 * a choice list yields exactly one label; a lazy constraint lets the model
 * write freely until its trigger and constrains after it; a grammar the
 * text after the trigger cannot fit fails the request (fail closed); mask
 * timings reach the stats. Budget-aware completion: with max_tokens far
 * below what the model would write (unbounded strings and arrays), every
 * output still closes validly before the limit (finish "stop"), and a
 * limit below the shortest valid output ends by length, as short as the
 * vocabulary allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm/grammar.h"
#include "slm/scheduler.h"

static char model_path[4096];

static bool have_model(void) {
    const char *shared = getenv("SLM_SHARED_DIR");
    snprintf(model_path, sizeof model_path, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    if (access(model_path, R_OK) == 0) return true;
    printf("SKIP: %s not found (set SLM_SHARED_DIR)\n", model_path);
    return false;
}

static slm_sched *open_sched(void) {
    slm_sched_params p = {.n_parallel = 4, .max_queue = 64, .n_threads = 2};
    slm_sched *s = NULL;
    slm_error err = {0};
    if (slm_sched_open(model_path, &p, &s, &err) != SLM_OK) fail_msg("slm_sched_open: %s", err.msg);
    return s;
}

typedef struct result {
    char text[8192];
    size_t len;
    slm_event done;
} result;

static void collect(slm_request *r, result *res) {
    memset(res, 0, sizeof *res);
    slm_event ev;
    while (slm_request_next(r, &ev, 60000)) {
        assert_true(res->len + ev.text_len < sizeof res->text);
        memcpy(res->text + res->len, ev.text, ev.text_len);
        res->len += ev.text_len;
        if (ev.kind == SLM_EVENT_DONE) {
            res->done = ev;
            break;
        }
    }
    res->text[res->len] = '\0';
    assert_int_equal(res->done.kind, SLM_EVENT_DONE);
    slm_request_free(r);
}

static slm_request *submit(slm_sched *s, const char *prompt, slm_constraint *c, uint64_t seed, float temp,
                           int32_t n_predict) {
    int32_t *toks = NULL;
    size_t n = 0;
    slm_error err = {0};
    if (slm_tokenize(slm_sched_tokenizer(s), prompt, strlen(prompt), true, false, &toks, &n, &err) != SLM_OK)
        fail_msg("tokenize: %s", err.msg);
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = toks;
    p.n_prompt = n;
    p.n_predict = n_predict;
    p.sampling.temperature = temp;
    p.sampling.seed = seed;
    p.constraint = c;
    slm_request *r = NULL;
    if (slm_sched_submit(s, &p, &r, &err) != SLM_OK) fail_msg("submit: %s", err.msg);
    free(toks);
    return r;
}

static slm_constraint *schema_constraint(const char *schema) {
    slm_grammar *g = NULL;
    slm_constraint *c = NULL;
    slm_error err = {0};
    if (slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err) != SLM_OK)
        fail_msg("schema: %s", err.msg);
    if (slm_constraint_new(g, NULL, 0, &c, &err) != SLM_OK) fail_msg("constraint: %s", err.msg);
    return c;
}

static slm_constraint *gbnf_constraint(const char *gbnf, const char *trigger) {
    slm_grammar *g = NULL;
    slm_constraint *c = NULL;
    slm_error err = {0};
    if (slm_grammar_compile_gbnf(gbnf, strlen(gbnf), NULL, &g, &err) != SLM_OK) fail_msg("gbnf: %s", err.msg);
    if (slm_constraint_new(g, trigger ? &trigger : NULL, trigger ? 1 : 0, &c, &err) != SLM_OK)
        fail_msg("constraint: %s", err.msg);
    return c;
}

/* The grammar's own matcher accepts the whole text and may end there. */
static bool grammar_accepts(const slm_constraint *c, const char *text, size_t len) {
    slm_grammar_matcher *m = NULL;
    slm_error err = {0};
    if (slm_grammar_matcher_new(slm_constraint_grammar(c), NULL, &m, &err) != SLM_OK) fail_msg("%s", err.msg);
    bool ok = slm_grammar_matcher_accept_bytes(m, text, len, &err) && slm_grammar_matcher_is_accepting(m);
    slm_grammar_matcher_free(m);
    return ok;
}

static const char *PERSON =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":16},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},"
    "\"mood\":{\"enum\":[\"happy\",\"sad\"]},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"maxItems\":3}},"
    "\"required\":[\"name\",\"age\",\"mood\",\"tags\"],\"additionalProperties\":false}";

static void check_person(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("not JSON (%s): %s", je.text, text);
    assert_true(json_is_object(v));
    assert_int_equal(json_object_size(v), 4);
    assert_true(json_is_string(json_object_get(v, "name")));
    assert_true(json_string_length(json_object_get(v, "name")) <= 16 * 4);
    json_t *age = json_object_get(v, "age");
    /* JSON Schema's integer is a number with no fractional part (95.0 counts) */
    double a = json_number_value(age);
    if (!json_is_number(age) || a != (double)(long long)a) fail_msg("age is not an integer: %s", text);
    assert_true(a >= 0 && a <= 120);
    const char *mood = json_string_value(json_object_get(v, "mood"));
    assert_non_null(mood);
    assert_true(strcmp(mood, "happy") == 0 || strcmp(mood, "sad") == 0);
    json_t *tags = json_object_get(v, "tags");
    assert_true(json_is_array(tags) && json_array_size(tags) <= 3);
    json_decref(v);
}

static void test_json_schema_many_seeds(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    slm_constraint *c = schema_constraint(PERSON);
    enum { N = 24 };
    slm_request *r[N];
    for (int i = 0; i < N; i++) r[i] = submit(s, "Once upon a time", c, 1000 + (uint64_t)i, 1.0f, 400);
    slm_constraint_unref(c); /* the requests hold their own references */
    int valid = 0;
    for (int i = 0; i < N; i++) {
        result res;
        collect(r[i], &res);
        assert_int_equal(res.done.status, SLM_OK);
        assert_int_equal(res.done.finish, SLM_FINISH_STOP); /* stopped because the grammar was done */
        check_person(res.text);
        valid++;
    }
    assert_int_equal(valid, N);
    slm_sched_stats st;
    slm_sched_get_stats(s, &st);
    assert_true(st.n_masked_tokens > (uint64_t)N * 10);
    assert_true(st.mask_seconds > 0);
    assert_true(st.mask_max_seconds > 0 && st.mask_max_seconds <= st.mask_seconds);
    slm_sched_close(s);
}

static void test_greedy_schema_text_fits_grammar(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    slm_constraint *c = schema_constraint(PERSON);
    result res;
    collect(submit(s, "Lily", c, 1, 0, 400), &res);
    assert_int_equal(res.done.status, SLM_OK);
    check_person(res.text);
    assert_true(grammar_accepts(c, res.text, res.len));
    slm_constraint_unref(c);
    slm_sched_close(s);
}

/* Unbounded strings and an unbounded array: unconstrained by length, a
 * temperature-1.5 model rambles on well past any small max_tokens. */
static const char *LONG =
    "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
    "{\"k\":{\"type\":\"string\"},\"v\":{\"type\":\"number\"}},\"required\":[\"k\",\"v\"]}}},"
    "\"required\":[\"title\",\"items\"],\"additionalProperties\":false}";

static void check_long(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("not JSON (%s): %s", je.text, text);
    assert_true(json_is_string(json_object_get(v, "title")));
    json_t *items = json_object_get(v, "items");
    assert_true(json_is_array(items));
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        assert_true(json_is_string(json_object_get(it, "k")));
        assert_true(json_is_number(json_object_get(it, "v")));
    }
    json_decref(v);
}

static void test_budget_closes_output_in_time(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    slm_constraint *c = schema_constraint(LONG);
    /* {"title":"","items":[]} is 24 bytes: from 26 tokens on (24 + end
     * token, one spare) every output can close */
    static const int32_t limits[] = {26, 27, 30, 40, 64, 100};
    enum { SEEDS = 8, NL = sizeof limits / sizeof *limits };
    slm_request *r[NL * SEEDS];
    for (int l = 0; l < NL; l++)
        for (int i = 0; i < SEEDS; i++)
            r[l * SEEDS + i] = submit(s, "Once upon a time", c, 77 + (uint64_t)i, 1.5f, limits[l]);
    int closed_early = 0;
    for (int k = 0; k < NL * SEEDS; k++) {
        result res;
        collect(r[k], &res);
        assert_int_equal(res.done.status, SLM_OK);
        if (res.done.finish != SLM_FINISH_STOP)
            fail_msg("limit %d seed %d: finish %d, text %s", limits[k / SEEDS], k % SEEDS, res.done.finish, res.text);
        check_long(res.text);
        assert_true(grammar_accepts(c, res.text, res.len));
        assert_true(res.done.n_gen <= limits[k / SEEDS]);
        closed_early += res.done.n_gen < limits[k / SEEDS] - 1;
    }
    assert_true(closed_early > 0); /* not every output needed the whole budget */
    slm_constraint_unref(c);
    slm_sched_close(s);
}

static void test_budget_too_small_ends_by_length(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    slm_constraint *c = schema_constraint(LONG);
    result res;
    collect(submit(s, "Once upon a time", c, 5, 1.5f, 6), &res);
    assert_int_equal(res.done.status, SLM_OK);
    assert_int_equal(res.done.finish, SLM_FINISH_LENGTH);
    assert_int_equal(res.done.n_gen, 6);
    /* the cheapest tokens were taken: the output is a prefix of the
     * shortest valid one */
    assert_true(strncmp(res.text, "{\"title\":\"\",\"items\":[]}", res.len) == 0);
    slm_constraint_unref(c);
    slm_sched_close(s);
}

static void test_choice_gives_one_label(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    const char *labels[] = {"positive", "negative", "neutral", "mixed feelings"};
    int seen[4] = {0};
    for (int i = 0; i < 16; i++) {
        slm_grammar *g = NULL;
        slm_constraint *c = NULL;
        slm_error err = {0};
        assert_int_equal(slm_grammar_compile_choice(labels, 4, &g, &err), SLM_OK);
        assert_int_equal(slm_constraint_new(g, NULL, 0, &c, &err), SLM_OK);
        result res;
        collect(submit(s, "The dog was", c, 7 + (uint64_t)i, 1.5f, 50), &res);
        slm_constraint_unref(c);
        assert_int_equal(res.done.status, SLM_OK);
        assert_int_equal(res.done.finish, SLM_FINISH_STOP);
        int hit = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(res.text, labels[k]) == 0) hit = k;
        if (hit < 0) fail_msg("not a label: '%s'", res.text);
        seen[hit]++;
    }
    assert_true(seen[0] + seen[1] + seen[2] + seen[3] == 16);
    slm_sched_close(s);
}

/* Greedy output is ", there was a little girl named Lily. ...": free until
 * " there", then the grammar decides what follows. */
static void test_lazy_trigger(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    slm_constraint *c = gbnf_constraint("root ::= \" there\" \" lived [\" [0-9] \"]\"", " there");
    result res;
    collect(submit(s, "Once upon a time", c, 1, 0, 60), &res);
    slm_constraint_unref(c);
    assert_int_equal(res.done.status, SLM_OK);
    assert_int_equal(res.done.finish, SLM_FINISH_STOP);
    assert_int_equal(strncmp(res.text, ", there lived [", 15), 0);
    assert_true(res.len == 17 && res.text[15] >= '0' && res.text[15] <= '9' && res.text[16] == ']');
    slm_sched_close(s);
}

/* The token completing the trigger carries bytes the grammar refuses: the
 * request fails instead of going on unconstrained. */
static void test_lazy_trigger_fails_closed(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    /* " there" is one token here, so " ther" is completed with an "e" that "X" refuses */
    slm_constraint *c = gbnf_constraint("root ::= \" ther\" \"X\"", " ther");
    result res;
    collect(submit(s, "Once upon a time", c, 1, 0, 60), &res);
    slm_constraint_unref(c);
    assert_int_not_equal(res.done.status, SLM_OK);
    assert_non_null(strstr(res.done.error, "grammar"));
    assert_null(strstr(res.text, "there"));
    slm_sched_close(s);
}

/* logit_bias bans every token but the grammar's: the request fails with a
 * message instead of producing something the grammar does not allow. */
static void test_banned_grammar_tokens_fail(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched();
    const slm_tokenizer *t = slm_sched_tokenizer(s);
    int32_t n_vocab = slm_tokenizer_n_vocab(t);
    int32_t *ids = calloc((size_t)n_vocab, sizeof *ids);
    float *vals = calloc((size_t)n_vocab, sizeof *vals);
    int32_t nb = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        char buf[64];
        size_t n = slm_token_to_piece(t, i, false, buf, sizeof buf);
        if (n > 0 && n < sizeof buf && memchr(buf, 'Q', n)) { /* every token that spells a Q */
            ids[nb] = i;
            vals[nb++] = -INFINITY;
        }
    }
    assert_true(nb > 0);
    slm_constraint *c = gbnf_constraint("root ::= \"Q\"+", NULL);
    int32_t *toks = NULL;
    size_t n = 0;
    slm_error err = {0};
    assert_int_equal(slm_tokenize(t, "Hi", 2, true, false, &toks, &n, &err), SLM_OK);
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = toks;
    p.n_prompt = n;
    p.n_predict = 10;
    p.sampling.bias_tokens = ids;
    p.sampling.bias_values = vals;
    p.sampling.n_bias = nb;
    p.constraint = c;
    slm_request *r = NULL;
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_OK);
    result res;
    collect(r, &res);
    assert_int_equal(res.done.status, SLM_ERR_INVALID_ARG);
    assert_non_null(strstr(res.done.error, "grammar"));
    assert_int_equal(res.len, 0);
    slm_constraint_unref(c);
    free(toks);
    free(ids);
    free(vals);
    slm_sched_close(s);
}

static void test_constraint_args(void **state) {
    (void)state;
    slm_error err = {0};
    slm_constraint *c = (slm_constraint *)1;
    assert_int_equal(slm_constraint_new(NULL, NULL, 0, &c, &err), SLM_ERR_INVALID_ARG);
    assert_null(c);
    slm_grammar *g = NULL;
    assert_int_equal(slm_grammar_compile_gbnf("root ::= \"a\"", 12, NULL, &g, &err), SLM_OK);
    const char *empty = "";
    assert_int_equal(slm_constraint_new(g, &empty, 1, &c, &err), SLM_ERR_INVALID_ARG); /* g freed */
    assert_null(c);
    slm_constraint_unref(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constraint_args),
        cmocka_unit_test(test_json_schema_many_seeds),
        cmocka_unit_test(test_greedy_schema_text_fits_grammar),
        cmocka_unit_test(test_budget_closes_output_in_time),
        cmocka_unit_test(test_budget_too_small_ends_by_length),
        cmocka_unit_test(test_choice_gives_one_label),
        cmocka_unit_test(test_lazy_trigger),
        cmocka_unit_test(test_lazy_trigger_fails_closed),
        cmocka_unit_test(test_banned_grammar_tokens_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
