/* Tests for the judge: Cohen's kappa on textbook tables, strict parsing of
 * a judge's grade, human grades in every accepted form, rubric cases in
 * suites, the judge prompt, and the grade schema compiling to a grammar
 * (what local judges decode under). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "slm/grammar.h"

/* Ratings from a 2x2 table {yes/yes, yes/no, no/yes, no/no}. */
static size_t from_table(const size_t t[4], int *a, int *b) {
    size_t n = 0;
    for (int cell = 0; cell < 4; cell++)
        for (size_t k = 0; k < t[cell]; k++, n++) a[n] = cell / 2, b[n] = cell % 2;
    return n;
}

static void test_kappa_textbook(void **state) {
    (void)state;
    int a[200], b[200];
    size_t cm[4];
    double kappa, agree;
    /* 50 items: 20 both yes, 5 A-yes/B-no, 10 A-no/B-yes, 15 both no:
     * po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4 */
    size_t n = from_table((const size_t[4]){20, 5, 10, 15}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, cm, NULL), SLM_OK);
    assert_float_equal(agree, 0.7, 1e-12);
    assert_float_equal(kappa, 0.4, 1e-12);
    assert_int_equal(cm[0], 20);
    assert_int_equal(cm[1], 5);
    assert_int_equal(cm[2], 10);
    assert_int_equal(cm[3], 15);
    /* 100 items 45/15/25/15: po 0.60, pe 0.54, kappa 0.1304 */
    n = from_table((const size_t[4]){45, 15, 25, 15}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 0.06 / 0.46, 1e-12);
    /* 25/35/5/35: po 0.60, pe 0.46, kappa 0.2593 */
    n = from_table((const size_t[4]){25, 35, 5, 35}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 0.14 / 0.54, 1e-12);
    /* perfect agreement, and agreement no better than chance */
    n = from_table((const size_t[4]){7, 0, 0, 3}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 1.0, 1e-12);
    n = from_table((const size_t[4]){25, 25, 25, 25}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 0.0, 1e-12);
    /* one category only: pe = 1 */
    n = from_table((const size_t[4]){9, 0, 0, 0}, a, b);
    assert_int_equal(slm_eval_kappa(a, b, n, 2, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 1.0, 0);
    /* three categories: a = [0,0,1,1,2,2], b = [0,1,1,1,2,0]: po 4/6,
     * pe = (2*2 + 2*3 + 2*1)/36 = 1/3, kappa = (2/3 - 1/3)/(2/3) = 0.5 */
    int a3[6] = {0, 0, 1, 1, 2, 2}, b3[6] = {0, 1, 1, 1, 2, 0};
    assert_int_equal(slm_eval_kappa(a3, b3, 6, 3, &kappa, &agree, NULL, NULL), SLM_OK);
    assert_float_equal(kappa, 0.5, 1e-12);
    b3[5] = 3;
    assert_int_equal(slm_eval_kappa(a3, b3, 6, 3, &kappa, &agree, NULL, NULL), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_eval_kappa(a3, b3, 0, 3, &kappa, &agree, NULL, NULL), SLM_ERR_INVALID_ARG);
}

static slm_status parse(const char *s, slm_eval_grade *g, char *why) {
    return slm_eval_grade_parse(s, strlen(s), g, why, 64, NULL);
}

static void test_grade_parse(void **state) {
    (void)state;
    slm_eval_grade g;
    char why[64];
    assert_int_equal(parse(" {\"pass\": true, \"score\": 4, \"reason\": \"fine\"}\n", &g, why), SLM_OK);
    assert_true(g.set && g.pass);
    assert_int_equal(g.score, 4);
    assert_string_equal(why, "fine");
    assert_int_equal(parse("{\"score\":1,\"pass\":false}", &g, why), SLM_OK);
    assert_true(g.set && !g.pass);
    assert_int_equal(g.score, 1);
    /* JSON Schema integers include a zero fraction (what a constrained decoder may write) */
    assert_int_equal(parse("{\"pass\":true,\"score\":5.000,\"reason\":\"\"}", &g, why), SLM_OK);
    assert_int_equal(g.score, 5);
    const char *bad[] = {
        "",                                              /* nothing */
        "PASS",                                          /* prose */
        "{\"pass\": true}",                              /* no score */
        "{\"pass\": \"yes\", \"score\": 3}",              /* not a boolean */
        "{\"pass\": true, \"score\": 6}",                 /* out of range */
        "{\"pass\": true, \"score\": 0}",
        "{\"pass\": true, \"score\": 3.5}",               /* not an integer */
        "{\"pass\": true, \"score\": \"3\"}",
        "{\"pass\": true, \"score\": 3, \"extra\": 1}",   /* unknown key */
        "{\"pass\": true, \"score\": 3, \"reason\": 7}",  /* reason not a string */
        "{\"pass\": true, \"score\": 3} and more",        /* trailing text */
        "{\"pass\": true, \"pass\": false, \"score\": 3}", /* duplicate key */
        "[true, 3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        slm_error err = {0};
        assert_int_equal(slm_eval_grade_parse(bad[i], strlen(bad[i]), &g, why, sizeof why, &err), SLM_ERR_FORMAT);
        assert_false(g.set);
        assert_true(err.msg[0] != 0);
    }
}

static void test_human_grades(void **state) {
    (void)state;
    slm_eval_grade g;
    json_t *v;
    const char *forms[] = {"\"pass\"", "true", "4", "{\"pass\": true, \"score\": 5}", "{\"pass\": true}"};
    for (size_t i = 0; i < 5; i++) {
        v = json_loads(forms[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(slm_eval_grade_from_json(v, &g, NULL), SLM_OK);
        assert_true(g.set && g.pass);
        json_decref(v);
    }
    v = json_integer(2);
    assert_int_equal(slm_eval_grade_from_json(v, &g, NULL), SLM_OK);
    assert_true(g.set && !g.pass);
    assert_int_equal(g.score, 2);
    json_decref(v);
    const char *bad[] = {"\"maybe\"", "0", "6", "{\"score\": 3}", "{\"pass\": true, \"score\": 9}", "null"};
    for (size_t i = 0; i < 6; i++) {
        v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(slm_eval_grade_from_json(v, &g, NULL), SLM_ERR_FORMAT);
        json_decref(v);
    }
}

static void test_rubric_suite(void **state) {
    (void)state;
    const char *y = "judge: http://127.0.0.1:9/v1\n"
                    "cases:\n"
                    "  - id: a\n"
                    "    prompt: Summarise the memo\n"
                    "    output: The memo says hello.\n"
                    "    human_grade: {pass: true, score: 4}\n"
                    "    expect: {rubric: 'Three bullets, no invented facts', contains: memo}\n"
                    "  - id: b\n"
                    "    prompt: Hi\n"
                    "    expect: {contains: x}\n";
    slm_eval_suite *s;
    slm_error err = {0};
    assert_int_equal(slm_eval_suite_parse(y, strlen(y), "j.yaml", &s, &err), SLM_OK);
    assert_string_equal(s->judge, "http://127.0.0.1:9/v1");
    assert_string_equal(s->cases[0].rubric, "Three bullets, no invented facts");
    assert_string_equal(s->cases[0].graded_output, "The memo says hello.");
    assert_true(s->cases[0].human.set && s->cases[0].human.pass);
    assert_int_equal(s->cases[0].human.score, 4);
    assert_null(s->cases[1].rubric);
    assert_false(s->cases[1].human.set);
    /* the rubric itself does not fail a case: the judge decides */
    slm_eval_output o = {.text = "the memo", .len = 8};
    slm_eval_verdict v;
    assert_int_equal(slm_eval_check_case(&s->cases[0], &o, &v, NULL), SLM_OK);
    assert_true(v.pass);
    slm_eval_suite_free(s);
}

static void test_judge_prompt_and_schema(void **state) {
    (void)state;
    json_t *m = slm_eval_judge_messages("Be polite", "Say hi", "Hello!");
    assert_int_equal(json_array_size(m), 2);
    const char *user = json_string_value(json_object_get(json_array_get(m, 1), "content"));
    assert_non_null(strstr(user, "Rubric:\nBe polite"));
    assert_non_null(strstr(user, "Input:\nSay hi"));
    assert_non_null(strstr(user, "Answer to grade:\nHello!"));
    json_decref(m);
    json_t *schema = slm_eval_grade_schema();
    char *text = json_dumps(schema, JSON_COMPACT);
    /* the schema agrees with the strict parser */
    bool valid;
    json_t *ok = json_loads("{\"pass\":false,\"score\":2,\"reason\":\"r\"}", 0, NULL);
    json_t *extra = json_loads("{\"pass\":false,\"score\":2,\"reason\":\"r\",\"x\":1}", 0, NULL);
    assert_int_equal(slm_eval_schema_valid(schema, ok, &valid, NULL), SLM_OK);
    assert_true(valid);
    assert_int_equal(slm_eval_schema_valid(schema, extra, &valid, NULL), SLM_OK);
    assert_false(valid);
    /* a local judge decodes under it */
    slm_grammar *g = NULL;
    slm_error err = {0};
    slm_json_schema_opts opts = {.allow_whitespace = true};
    assert_int_equal(slm_grammar_compile_json_schema(text, strlen(text), &opts, &g, &err), SLM_OK);
    slm_grammar_free(g);
    free(text);
    json_decref(ok);
    json_decref(extra);
    json_decref(schema);
}

/* examples/evals/summaries_judged.jsonl is ready for judge-check. */
static void test_example_judged_suite(void **state) {
    (void)state;
    char path[1024];
    const char *me = __FILE__, *cut = strstr(me, "tests/unit/");
    if (!cut) skip();
    snprintf(path, sizeof path, "%.*sexamples/evals/summaries_judged.jsonl", (int)(cut - me), me);
    slm_eval_suite *s;
    slm_error err = {0};
    if (slm_eval_suite_load(path, &s, &err)) fail_msg("%s", err.msg);
    assert_true(s->n_cases >= 100);
    size_t n_pass = 0;
    for (size_t i = 0; i < s->n_cases; i++) {
        const slm_eval_case *c = &s->cases[i];
        assert_non_null(c->rubric);
        assert_non_null(c->graded_output);
        assert_true(c->human.set && c->human.score >= 1 && c->human.score <= 5);
        assert_int_equal(c->human.pass, c->human.score >= 4);
        n_pass += c->human.pass;
    }
    assert_true(n_pass > 0 && n_pass < s->n_cases); /* both classes, or kappa says nothing */
    slm_eval_suite_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kappa_textbook), cmocka_unit_test(test_grade_parse),
        cmocka_unit_test(test_human_grades),   cmocka_unit_test(test_rubric_suite),
        cmocka_unit_test(test_judge_prompt_and_schema), cmocka_unit_test(test_example_judged_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
