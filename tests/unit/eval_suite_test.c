/* Tests for suite parsing: native YAML (defaults, vars templating,
 * system prompt, tags, every expect key), JSONL with a defaults line,
 * promptfoo configs (prompts x tests, defaultTest, providers as targets,
 * assert types, chat-message prompts), target specs, and errors that name
 * file:line (syntax, unknown keys, bad values, duplicate ids, unsupported
 * promptfoo asserts, unknown template variables). Also the shipped
 * examples/evals suites parse with at least 100 cases each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static slm_eval_suite *parse_ok(const char *text, const char *name) {
    slm_eval_suite *s;
    slm_error err = {0};
    if (slm_eval_suite_parse(text, strlen(text), name, &s, &err)) fail_msg("%s: %s", name, err.msg);
    return s;
}

static void parse_bad(const char *text, const char *name, const char *msg_part) {
    slm_eval_suite *s;
    slm_error err = {0};
    if (slm_eval_suite_parse(text, strlen(text), name, &s, &err) == SLM_OK) {
        slm_eval_suite_free(s);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err.msg, msg_part)) fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
}

static const char *msg_content(const slm_eval_case *c, size_t i, const char *role) {
    const json_t *m = json_array_get(c->messages, i);
    assert_string_equal(json_string_value(json_object_get(m, "role")), role);
    return json_string_value(json_object_get(m, "content"));
}

static void test_native_yaml(void **state) {
    (void)state;
    const char *y = "name: triage\n"
                    "defaults:\n"
                    "  system: You sort tickets.\n"
                    "  max_tokens: 8\n"
                    "  tags: [all]\n"
                    "cases:\n"
                    "  - id: t1\n"
                    "    prompt: \"Ticket: {{text}} ({{meta.n}})\"\n"
                    "    vars: {text: card charged twice, meta: {n: 3}}\n"
                    "    tags: [billing]\n"
                    "    expect: {label: billing, max_latency_ms: 900}\n"
                    "  - messages:\n"
                    "      - {role: user, content: hi}\n"
                    "    max_tokens: 20\n"
                    "    expect:\n"
                    "      exact: Hello\n"
                    "      normalize: [case, space]\n"
                    "      contains: [a, b]\n"
                    "      not_icontains: sorry\n"
                    "      regex: '^H'\n"
                    "      json: {a: 1}\n"
                    "      schema: {type: object}\n"
                    "      is_json: true\n"
                    "      tool_call: {name: f, arguments: {x: 1}}\n"
                    "      tools_valid: true\n"
                    "      max_cost: 0.5\n";
    slm_eval_suite *s = parse_ok(y, "triage.yaml");
    assert_string_equal(s->name, "triage");
    assert_int_equal(s->n_cases, 2);
    slm_eval_case *c = &s->cases[0];
    assert_string_equal(c->id, "t1");
    assert_int_equal(c->line, 7);
    assert_string_equal(msg_content(c, 0, "system"), "You sort tickets.");
    assert_string_equal(msg_content(c, 1, "user"), "Ticket: card charged twice (3)");
    assert_int_equal(c->max_tokens, 8);
    assert_int_equal(json_array_size(c->tags), 2);
    assert_string_equal(json_string_value(json_array_get(c->tags, 1)), "billing");
    assert_int_equal(c->n_checks, 2);
    assert_int_equal(c->checks[0].kind, SLM_CHECK_LABEL);
    assert_int_equal(c->checks[1].kind, SLM_CHECK_LATENCY);
    assert_float_equal(c->checks[1].number, 900, 0);
    c = &s->cases[1];
    assert_string_equal(c->id, "case-2");
    assert_int_equal(c->max_tokens, 20);
    assert_string_equal(msg_content(c, 0, "system"), "You sort tickets.");
    /* exact, contains x2, not_icontains, regex, json, schema, is_json, tool_call, tools_valid, max_cost */
    assert_int_equal(c->n_checks, 11);
    assert_int_equal(c->checks[0].kind, SLM_CHECK_EXACT);
    assert_int_equal(c->checks[0].norm, SLM_NORM_CASE | SLM_NORM_SPACE);
    assert_true(c->checks[3].negate);
    assert_int_equal(c->checks[8].kind, SLM_CHECK_TOOL_CALL);
    assert_string_equal(c->checks[8].value, "f");
    assert_int_equal(json_integer_value(json_object_get(c->checks[8].json, "x")), 1);
    slm_eval_suite_free(s);
}

static void test_jsonl(void **state) {
    (void)state;
    const char *j = "# a comment\n"
                    "{\"defaults\": {\"system\": \"S\", \"tags\": [\"d\"]}}\n"
                    "\n"
                    "{\"id\": 7, \"prompt\": \"p\", \"expect\": {\"contains\": \"x\"}}\n"
                    "{\"id\": \"b\", \"prompt\": \"q\", \"expect\": {\"icontains\": \"y\"}}\n";
    slm_eval_suite *s = parse_ok(j, "dir/my-suite.jsonl");
    assert_string_equal(s->name, "my-suite");
    assert_int_equal(s->n_cases, 2);
    assert_string_equal(s->cases[0].id, "7");
    assert_int_equal(s->cases[0].line, 4);
    assert_int_equal(s->cases[1].line, 5);
    assert_string_equal(msg_content(&s->cases[1], 0, "system"), "S");
    slm_eval_suite_free(s);
    parse_bad("{\"prompt\":\"p\",\"expect\":{\"contains\":\"x\"}}\n{\"prompt\": oops}\n", "x.jsonl", "x.jsonl:2:");
}

static void test_promptfoo(void **state) {
    (void)state;
    const char *y = "description: pf suite\n"
                    "prompts:\n"
                    "  - 'Translate {{word}} to French'\n"
                    "  - '[{\"role\": \"system\", \"content\": \"Be brief\"}, {\"role\": \"user\", \"content\": \"{{word}}?\"}]'\n"
                    "providers:\n"
                    "  - http://127.0.0.1:1/v1\n"
                    "  - id: local.gguf\n"
                    "    config:\n"
                    "      tools: [{type: function, function: {name: f}}]\n"
                    "defaultTest:\n"
                    "  assert:\n"
                    "    - type: latency\n"
                    "      threshold: 2000\n"
                    "tests:\n"
                    "  - vars: {word: cat}\n"
                    "    assert:\n"
                    "      - type: icontains\n"
                    "        value: chat\n"
                    "      - type: not-contains\n"
                    "        value: dog\n"
                    "      - type: regex\n"
                    "        value: '^[A-Za-z]'\n"
                    "      - type: equals\n"
                    "        value: {a: 1}\n"
                    "      - type: is-json\n"
                    "        value: {type: object}\n"
                    "      - type: is-valid-openai-tools-call\n"
                    "      - type: cost\n"
                    "        threshold: 0.01\n"
                    "      - type: contains-all\n"
                    "        value: [c, h]\n"
                    "  - vars: {word: dog}\n"
                    "    assert: [{type: equals, value: chien}]\n";
    slm_eval_suite *s = parse_ok(y, "promptfooconfig.yaml");
    assert_string_equal(s->name, "pf suite");
    assert_int_equal(s->n_cases, 4); /* 2 prompts x 2 tests */
    assert_int_equal(s->n_targets, 2);
    assert_string_equal(s->targets[0], "http://127.0.0.1:1/v1");
    assert_string_equal(s->targets[1], "local.gguf");
    slm_eval_case *c = &s->cases[0];
    assert_string_equal(c->id, "t1-p1");
    assert_string_equal(msg_content(c, 0, "user"), "Translate cat to French");
    assert_non_null(c->tools);
    /* latency (default) + 9 */
    assert_int_equal(c->n_checks, 10);
    assert_int_equal(c->checks[0].kind, SLM_CHECK_LATENCY);
    assert_int_equal(c->checks[2].kind, SLM_CHECK_CONTAINS);
    assert_true(c->checks[2].negate);
    assert_int_equal(c->checks[4].kind, SLM_CHECK_JSON_VALUE);
    assert_int_equal(c->checks[5].kind, SLM_CHECK_JSON_SCHEMA);
    assert_int_equal(c->checks[6].kind, SLM_CHECK_TOOLS_VALID);
    assert_int_equal(c->checks[7].kind, SLM_CHECK_COST);
    c = &s->cases[1];
    assert_string_equal(c->id, "t1-p2");
    assert_string_equal(msg_content(c, 0, "system"), "Be brief");
    assert_string_equal(msg_content(c, 1, "user"), "cat?");
    assert_int_equal(s->cases[3].checks[1].kind, SLM_CHECK_EXACT);
    slm_eval_suite_free(s);
    parse_bad("prompts: [p]\ntests:\n  - assert:\n      - type: javascript\n        value: x\n", "pf.yaml",
              "pf.yaml:4: assert type 'javascript' is not supported");
    parse_bad("prompts: [p]\ntests:\n  - assert:\n      - type: llm-rubric\n", "pf.yaml",
              "pf.yaml:4: llm-rubric needs the rubric as its value");
    parse_bad("prompts: ['file://p.txt']\ntests: [{assert: [{type: equals, value: x}]}]\n", "pf.yaml", "file://");
    parse_bad("prompts: ['{{nope}}']\ntests:\n  - assert: [{type: equals, value: x}]\n", "pf.yaml",
              "unknown variable 'nope'");
    parse_bad("prompts: ['{{ x | upper }}']\ntests:\n  - vars: {x: a}\n    assert: [{type: equals, value: x}]\n",
              "pf.yaml", "only {{ name }}");
}

static void test_errors_name_lines(void **state) {
    (void)state;
    parse_bad("cases:\n  - prompt: p\n    expect: {colour: red}\n", "s.yaml", "s.yaml:3: case 'case-1': colour: unknown");
    parse_bad("cases:\n  - prompt: p\n    expect: {max_latency_ms: -1}\n", "s.yaml", "s.yaml:3");
    parse_bad("cases:\n  - prompt: p\n", "s.yaml", "s.yaml:2: case 'case-1': expect: a case needs at least one check");
    parse_bad("cases:\n  - {id: a, prompt: p, expect: {contains: x}}\n  - {id: a, prompt: q, expect: {contains: x}}\n",
              "s.yaml", "s.yaml:3: duplicate case id 'a' (first at line 2)");
    parse_bad("cases:\n  - id: a\n    prompt: [p\n", "s.yaml", "s.yaml:");
    parse_bad("cases:\n  - expect: {contains: x}\n", "s.yaml", "needs prompt");
    parse_bad("cases:\n  - prompt: p\n    max_tokens: 0\n    expect: {contains: x}\n", "s.yaml", "max_tokens");
    parse_bad("cases:\n  - prompt: p\n    expect: {rubric: \"\"}\n", "s.yaml", "s.yaml:3: case 'case-1': rubric: expected the rubric text");
    parse_bad("cases:\n  - prompt: p\n    human_grade: maybe\n    expect: {rubric: nice}\n", "s.yaml", "human_grade: expected pass");
    parse_bad("cases: []\n", "s.yaml", "no cases");
    parse_bad("a: 1\n", "s.yaml", "needs a 'cases' list");
    parse_bad("cases:\n  - prompt: p\n    expect: {contains: x}\n    expect: {contains: y}\n", "s.yaml",
              "duplicate key 'expect'");
    /* an alias bomb is refused, not expanded */
    parse_bad("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
              "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
              "bomb.yaml", "too many nodes");
    slm_eval_suite *s;
    slm_error err = {0};
    assert_int_equal(slm_eval_suite_load("/nonexistent/suite.yaml", &s, &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/suite.yaml"));
}

static void test_targets(void **state) {
    (void)state;
    slm_eval_target t;
    slm_error err = {0};
    assert_int_equal(slm_eval_target_parse("small=http://h:1/v1,model=qwen,price=0.5/1.5", &t, &err), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_URL);
    assert_string_equal(t.label, "small");
    assert_string_equal(t.location, "http://h:1/v1");
    assert_string_equal(t.model, "qwen");
    assert_float_equal(t.price_in, 0.5, 1e-12);
    assert_float_equal(t.price_out, 1.5, 1e-12);
    slm_eval_target_clear(&t);
    assert_int_equal(slm_eval_target_parse("http://h/x?a=b", &t, &err), SLM_OK);
    assert_string_equal(t.label, "http://h/x?a=b");
    assert_string_equal(t.model, "default");
    slm_eval_target_clear(&t);
    assert_int_equal(slm_eval_target_parse("models/a.gguf", &t, &err), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_LOCAL);
    slm_eval_target_clear(&t);
    assert_int_equal(slm_eval_target_parse("x=a.gguf,price=cheap", &t, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_eval_target_parse("", &t, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_eval_target_parse("x=", &t, &err), SLM_ERR_INVALID_ARG);
}

static void test_example_suites(void **state) {
    (void)state;
    static const char *const NAMES[] = {"ticket_triage.yaml", "invoice_extraction.yaml", "tool_calls.yaml",
                                        "summaries.jsonl"};
    for (size_t i = 0; i < 4; i++) {
        /* the repository root from this file's path (CMake compiles with absolute paths) */
        char path[1024];
        const char *me = __FILE__, *cut = strstr(me, "tests/unit/");
        if (!cut) skip();
        snprintf(path, sizeof path, "%.*sexamples/evals/%s", (int)(cut - me), me, NAMES[i]);
        slm_eval_suite *s;
        slm_error err = {0};
        if (slm_eval_suite_load(path, &s, &err)) fail_msg("%s", err.msg);
        if (s->n_cases < 100) fail_msg("%s has %zu cases", path, s->n_cases);
        for (size_t k = 0; i == 1 && k < s->n_cases; k++) { /* invoices: the expected JSON passes its schema */
            const slm_eval_case *c = &s->cases[k];
            char *text = NULL;
            for (size_t j = 0; j < c->n_checks; j++)
                if (c->checks[j].kind == SLM_CHECK_JSON_VALUE) text = json_dumps(c->checks[j].json, JSON_COMPACT);
            assert_non_null(text);
            slm_eval_output o = {.text = text, .len = strlen(text)};
            slm_eval_verdict v;
            assert_int_equal(slm_eval_check_case(c, &o, &v, &err), SLM_OK);
            if (!v.pass) fail_msg("%s: expected answer fails: %s", c->id, v.why);
            free(text);
        }
        slm_eval_suite_free(s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_yaml),       cmocka_unit_test(test_jsonl),   cmocka_unit_test(test_promptfoo),
        cmocka_unit_test(test_errors_name_lines), cmocka_unit_test(test_targets), cmocka_unit_test(test_example_suites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
