/* Tests for every eval check type on fixed outputs: exact and its
 * normalizations, label, JSON value, is-JSON, JSON Schema (through the
 * grammar engine, keys in any order), tool calls (structured and written
 * in text, executable or not), contains/icontains/negations, regex (and a
 * broken one), latency and cost; plus the verdict's rate fields and the
 * HTTP body parser (SSE deltas and whole responses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

/* A case from a one-line JSONL suite. */
static slm_eval_suite *suite_of(const char *line) {
    slm_eval_suite *s;
    slm_error err = {0};
    if (slm_eval_suite_parse(line, strlen(line), "t.jsonl", &s, &err)) fail_msg("suite: %s", err.msg);
    return s;
}

static slm_eval_verdict verdict(const char *line, const char *output, const json_t *calls, double lat, double cost) {
    slm_eval_suite *s = suite_of(line);
    slm_eval_output o = {.text = output, .len = strlen(output), .tool_calls = calls, .latency_s = lat, .cost = cost};
    slm_eval_verdict v;
    slm_eval_check_case(&s->cases[0], &o, &v, NULL);
    slm_eval_suite_free(s);
    return v;
}

static bool passes(const char *line, const char *output) { return verdict(line, output, NULL, 0, 0).pass; }

static void test_exact_and_normalized(void **state) {
    (void)state;
    const char *exact = "{\"prompt\":\"p\",\"expect\":{\"exact\":\"Paris\"}}";
    assert_true(passes(exact, "Paris"));
    assert_false(passes(exact, "paris"));
    assert_false(passes(exact, "Paris."));
    const char *norm = "{\"prompt\":\"p\",\"expect\":{\"exact\":\"Paris\",\"normalize\":[\"case\"]}}";
    assert_true(passes(norm, "PARIS"));
    assert_false(passes(norm, " paris"));
    const char *all = "{\"prompt\":\"p\",\"expect\":{\"normalized\":\"New  York\"}}";
    assert_true(passes(all, "  new york.\n"));
    assert_true(passes(all, "\"New York!\""));
    assert_false(passes(all, "New Yorker"));
    slm_eval_verdict v = verdict(exact, "Lyon", NULL, 0, 0);
    assert_int_equal(v.exact, 0);
    assert_non_null(strstr(v.why, "expected 'Paris'"));
    assert_int_equal(v.schema_valid, -1);
    assert_int_equal(verdict(exact, "Paris", NULL, 0, 0).exact, 1);
}

static void test_label(void **state) {
    (void)state;
    const char *l = "{\"prompt\":\"p\",\"expect\":{\"label\":\"billing\"}}";
    assert_true(passes(l, "Billing"));
    assert_true(passes(l, "\n billing.\nBecause the customer was charged twice."));
    assert_false(passes(l, "technical"));
    assert_false(passes(l, "billing issue"));
}

static void test_json_value_and_is_json(void **state) {
    (void)state;
    const char *j = "{\"prompt\":\"p\",\"expect\":{\"json\":{\"a\":1,\"b\":[true,null]}}}";
    assert_true(passes(j, "{\"b\":[true,null],\"a\":1.0}"));
    assert_true(passes(j, "Here:\n```json\n{\"a\": 1, \"b\": [true, null]}\n```"));
    assert_false(passes(j, "{\"a\":2,\"b\":[true,null]}"));
    assert_false(passes(j, "{\"a\":1,\"b\":[true,null],\"c\":0}"));
    assert_false(passes(j, "not json"));
    const char *isj = "{\"prompt\":\"p\",\"expect\":{\"is_json\":true}}";
    assert_true(passes(isj, "[1,2]"));
    assert_false(passes(isj, "{\"a\":"));
}

static const char SCHEMA_CASE[] =
    "{\"prompt\":\"p\",\"expect\":{\"schema\":{\"type\":\"object\",\"properties\":{"
    "\"invoice\":{\"type\":\"string\"},\"total\":{\"type\":\"number\",\"minimum\":0},"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"sku\":{\"type\":\"string\"},"
    "\"qty\":{\"type\":\"integer\"}},\"required\":[\"sku\",\"qty\"]}}},\"required\":[\"invoice\",\"total\"]}}}";

static void test_json_schema(void **state) {
    (void)state;
    assert_true(passes(SCHEMA_CASE, "{\"invoice\":\"A-1\",\"total\":12.5}"));
    /* keys in another order than the schema's, nested too */
    assert_true(passes(SCHEMA_CASE, "{\"items\":[{\"qty\":2,\"sku\":\"X\"}],\"total\":3,\"invoice\":\"B\"}"));
    /* extra keys are allowed (no additionalProperties) */
    assert_true(passes(SCHEMA_CASE, "{\"invoice\":\"A\",\"total\":1,\"note\":\"hi\"}"));
    slm_eval_verdict v = verdict(SCHEMA_CASE, "{\"invoice\":\"A\"}", NULL, 0, 0);
    assert_false(v.pass);
    assert_int_equal(v.schema_valid, 0);
    assert_non_null(strstr(v.why, "schema"));
    assert_false(passes(SCHEMA_CASE, "{\"invoice\":\"A\",\"total\":-1}"));
    assert_false(passes(SCHEMA_CASE, "{\"invoice\":\"A\",\"total\":1,\"items\":[{\"sku\":\"X\",\"qty\":1.5}]}"));
    assert_int_equal(verdict(SCHEMA_CASE, "{\"invoice\":\"A\",\"total\":0}", NULL, 0, 0).schema_valid, 1);
    /* direct API */
    json_t *schema = json_pack("{s:s,s:i}", "type", "string", "maxLength", 3);
    json_t *ok = json_string("abc"), *bad = json_string("abcd");
    bool valid = false;
    assert_int_equal(slm_eval_schema_valid(schema, ok, &valid, NULL), SLM_OK);
    assert_true(valid);
    assert_int_equal(slm_eval_schema_valid(schema, bad, &valid, NULL), SLM_OK);
    assert_false(valid);
    json_decref(schema);
    json_decref(ok);
    json_decref(bad);
}

static const char TOOL_CASE[] =
    "{\"prompt\":\"p\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"enum\":[\"c\",\"f\"]}},"
    "\"required\":[\"city\"]}}}],\"expect\":{\"tool_call\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}}}";

static void test_tool_calls(void **state) {
    (void)state;
    json_t *calls = json_pack("[{s:s,s:{s:s,s:s}}]", "type", "function", "function", "name", "get_weather",
                              "arguments", "{\"city\":\"Oslo\"}");
    slm_eval_verdict v = verdict(TOOL_CASE, "", calls, 0, 0);
    assert_true(v.pass);
    assert_int_equal(v.call_exec, 1);
    json_decref(calls);
    /* written in the text: Hermes tags, bare JSON, fenced */
    assert_true(passes(TOOL_CASE, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
    assert_true(passes(TOOL_CASE, "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Oslo\"}}"));
    /* wrong arguments: executable but not the expected call */
    v = verdict(TOOL_CASE, "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}", NULL, 0, 0);
    assert_false(v.pass);
    assert_int_equal(v.call_exec, 1);
    /* arguments violating the tool's schema: not executable */
    v = verdict(TOOL_CASE, "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"unit\":\"k\"}}", NULL, 0, 0);
    assert_false(v.pass);
    assert_int_equal(v.call_exec, 0);
    /* undeclared tool; no call at all */
    v = verdict(TOOL_CASE, "{\"name\":\"book_flight\",\"arguments\":{}}", NULL, 0, 0);
    assert_false(v.pass);
    assert_int_equal(v.call_exec, 0);
    assert_non_null(strstr(v.why, "not a declared tool"));
    v = verdict(TOOL_CASE, "It is sunny.", NULL, 0, 0);
    assert_false(v.pass);
    assert_int_equal(v.call_exec, 0);
    /* arguments_schema instead of exact arguments; tools_valid */
    const char *sch = "{\"prompt\":\"p\",\"expect\":{\"tool_call\":{\"name\":\"f\",\"arguments_schema\":"
                      "{\"type\":\"object\",\"required\":[\"x\"]}}}}";
    assert_true(passes(sch, "{\"name\":\"f\",\"arguments\":{\"x\":1,\"y\":2}}"));
    assert_false(passes(sch, "{\"name\":\"f\",\"arguments\":{\"y\":2}}"));
    const char *tv = "{\"prompt\":\"p\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                     "\"expect\":{\"tools_valid\":true}}";
    assert_true(passes(tv, "{\"name\":\"f\",\"arguments\":{}}"));
    assert_false(passes(tv, "{\"name\":\"f\",\"arguments\":\"{not json\"}"));
    json_t *two = slm_eval_tool_calls_from_text("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>"
                                                "<tool_call>{\"name\":\"b\",\"arguments\":{\"k\":1}}</tool_call>",
                                                strlen("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>"
                                                       "<tool_call>{\"name\":\"b\",\"arguments\":{\"k\":1}}</tool_call>"));
    assert_int_equal(json_array_size(two), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(two, 1), "function"), "arguments")),
                        "{\"k\":1}");
    json_decref(two);
}

static void test_text_checks(void **state) {
    (void)state;
    const char *c = "{\"prompt\":\"p\",\"expect\":{\"contains\":[\"refund\",\"days\"],\"not_icontains\":\"SORRY\"}}";
    assert_true(passes(c, "A refund takes 5 days."));
    assert_false(passes(c, "A Refund takes 5 days."));
    assert_false(passes(c, "Sorry, a refund takes 5 days."));
    const char *ic = "{\"prompt\":\"p\",\"expect\":{\"icontains\":\"ERROR CODE\"}}";
    assert_true(passes(ic, "the error code is 7"));
    const char *re = "{\"prompt\":\"p\",\"expect\":{\"regex\":\"^(- .+\\\\n?){3}$\"}}";
    assert_true(passes(re, "- a\n- b\n- c"));
    assert_false(passes(re, "- a\n- b"));
    const char *nre = "{\"prompt\":\"p\",\"expect\":{\"not_regex\":\"\\\\d\"}}";
    assert_true(passes(nre, "no digits"));
    assert_false(passes(nre, "4 digits"));
    /* a broken regex fails the case and reports the error */
    slm_eval_suite *s = suite_of("{\"prompt\":\"p\",\"expect\":{\"regex\":\"(unclosed\"}}");
    slm_eval_output o = {.text = "x", .len = 1};
    slm_eval_verdict v;
    slm_error err = {0};
    assert_int_equal(slm_eval_check_case(&s->cases[0], &o, &v, &err), SLM_ERR_FORMAT);
    assert_false(v.pass);
    assert_non_null(strstr(err.msg, "regex"));
    slm_eval_suite_free(s);
}

static void test_latency_and_cost(void **state) {
    (void)state;
    const char *l = "{\"prompt\":\"p\",\"expect\":{\"max_latency_ms\":500,\"max_cost\":0.01}}";
    assert_true(verdict(l, "x", NULL, 0.4, 0.005).pass);
    slm_eval_verdict v = verdict(l, "x", NULL, 0.6, 0.005);
    assert_false(v.pass);
    assert_non_null(strstr(v.why, "latency 600 ms > 500 ms"));
    v = verdict(l, "x", NULL, 0.1, 0.02);
    assert_false(v.pass);
    assert_non_null(strstr(v.why, "cost"));
}

static void test_http_body(void **state) {
    (void)state;
    const char sse[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    ev_answer a = {0};
    ev_http_parse_body(sse, strlen(sse), &a);
    assert_null(a.error);
    assert_string_equal(a.text.p, "Hello");
    assert_int_equal(a.n_prompt, 5);
    assert_int_equal(a.n_gen, 2);
    assert_true(a.ttft_s >= 0);
    const json_t *fn = json_object_get(json_array_get(a.tool_calls, 0), "function");
    assert_string_equal(json_string_value(json_object_get(fn, "name")), "f");
    assert_string_equal(json_string_value(json_object_get(fn, "arguments")), "{\"a\":1}");
    ev_answer_clear(&a);
    const char whole[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}],"
                         "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"cost\":0.5}}";
    ev_http_parse_body(whole, strlen(whole), &a);
    assert_string_equal(a.text.p, "hi");
    assert_float_equal(a.cost, 0.5, 1e-12);
    ev_answer_clear(&a);
    const char err[] = "data: {\"error\":{\"message\":\"model overloaded\"}}\n\n";
    ev_http_parse_body(err, strlen(err), &a);
    assert_non_null(a.error);
    assert_non_null(strstr(a.error, "model overloaded"));
    ev_answer_clear(&a);
    ev_http_parse_body("<html>", 6, &a);
    assert_non_null(a.error);
    ev_answer_clear(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_normalized), cmocka_unit_test(test_label),
        cmocka_unit_test(test_json_value_and_is_json), cmocka_unit_test(test_json_schema),
        cmocka_unit_test(test_tool_calls),            cmocka_unit_test(test_text_checks),
        cmocka_unit_test(test_latency_and_cost),      cmocka_unit_test(test_http_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
