/* Router config and policy: slm.yaml parsing with file:line errors, the
 * default config, task inference, rules in order, sensitivity (header,
 * metadata, PII) never routed to remote tiers unless on_prem, context fit,
 * budgets in the plan, and bypass by model name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "slm/router.h"

static const char *YAML3 =
    "router:\n"
    "  name: auto\n"
    "tiers:\n"
    "  - name: local\n"
    "    models:\n"
    "      - name: small\n"
    "        local: true\n"
    "        context_window: 4096\n"
    "  - name: mid\n"
    "    models:\n"
    "      - name: mid-a\n"
    "        base_url: http://127.0.0.1:1/v1\n"
    "        input_cost_per_million: 0.5\n"
    "        output_cost_per_million: 1.5\n"
    "        context_window: 200000\n"
    "  - name: frontier\n"
    "    models:\n"
    "      - name: big\n"
    "        base_url: http://127.0.0.1:2/v1\n"
    "        model: gpt-big\n"
    "        input_cost_per_million: 5\n"
    "        output_cost_per_million: 15\n";

static slm_route_config *load(const char *text) {
    slm_route_config *c = NULL;
    slm_error err = {0};
    slm_status st = slm_route_config_parse(text, strlen(text), "t.yaml", &c, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, SLM_OK);
    return c;
}

static void expect_error(const char *text, const char *want) {
    slm_route_config *c = NULL;
    slm_error err = {0};
    assert_int_not_equal(slm_route_config_parse(text, strlen(text), "bad.yaml", &c, &err), SLM_OK);
    assert_null(c);
    if (!strstr(err.msg, want)) fprintf(stderr, "got: %s\nwant: %s\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
}

static void test_parse(void **state) {
    (void)state;
    slm_route_config *c = load(YAML3);
    assert_int_equal(c->n_tiers, 3);
    assert_true(c->tiers[0].local);
    assert_false(c->tiers[1].local);
    assert_string_equal(c->tiers[2].models[0].upstream_model, "gpt-big");
    assert_string_equal(c->tiers[1].models[0].upstream_model, "mid-a");
    assert_true(fabs(c->tiers[1].models[0].price_out - 1.5) < 1e-9);
    assert_int_equal(c->tiers[0].models[0].context, 4096);
    assert_int_equal(c->tiers[1].models[0].line, 11);
    assert_true(c->n_rules >= 3); /* built-in rules */
    int t, m;
    assert_true(slm_route_find_model(c, "big", &t, &m));
    assert_int_equal(t, 2);
    assert_false(slm_route_find_model(c, "nope", &t, &m));
    assert_int_equal(c->ledger_queue_rows, 0); /* defaults chosen by the ledger */
    slm_route_config_free(c);
    c = load("tiers:\n  - name: a\n    models: [{name: x, local: true}]\n"
             "ledger: {flush_interval: 0.005, queue_rows: 128}\n");
    assert_true(fabs(c->ledger_flush_s - 0.005) < 1e-12);
    assert_int_equal(c->ledger_queue_rows, 128);
    slm_route_config_free(c);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("tiers:\n  - name: a\n    models:\n      - name: x\n        base_url: ftp://h\n",
                 "bad.yaml:4: tier 'a': model 'x': base_url must start with http");
    expect_error("tiers:\n  - name: a\n    models:\n      - name: x\n", "bad.yaml:4: tier 'a': model 'x': base_url is required");
    expect_error("tiers:\n  - name: a\n    models:\n      - name: x\n        local: true\n        timeout: 30s\n",
                 "bad.yaml:6: timeout: '30s' is not a number");
    expect_error("tiers:\n  - name: a\n    models:\n      - {name: x, local: true}\nrules:\n  - tier: b\n",
                 "bad.yaml:6: rule names tier 'b'");
    expect_error("tierz: []\n", "bad.yaml:1: unknown section 'tierz'");
    expect_error("router: {name: x}\n", "no 'tiers' section");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true, colour: red}]\n", "bad.yaml:3: unknown model key 'colour'");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}]\n  - name: a\n    models: [{name: y, local: true}]\n",
                 "tier name 'a' is used twice");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}, {name: x, local: true}]\n",
                 "model name 'x' is used twice");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}]\nconfidence:\n  refusal_regex: \"([\"\n",
                 "bad.yaml:5: refusal_regex: bad regex");
    expect_error("tiers: [\n", "bad.yaml:2:");
    expect_error("", "bad.yaml:1: the file is empty");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}]\nbudgets:\n  on_exceeded: maybe\n",
                 "bad.yaml:5: on_exceeded must be");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}]\nledger: {flush_interval: 0}\n",
                 "bad.yaml:4: flush_interval");
    expect_error("tiers:\n  - name: a\n    models: [{name: x, local: true}]\nledger: {queue_rows: 0}\n",
                 "bad.yaml:4: queue_rows");
    /* load from a missing file names it */
    slm_route_config *c = NULL;
    slm_error err = {0};
    assert_int_equal(slm_route_config_load("/nonexistent/slm.yaml", &c, &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/slm.yaml"));
}

static const char *hdr_val;
static const char *hdr_name;
static const char *get_header(void *ctx, const char *name) {
    (void)ctx;
    return hdr_name && !strcmp(name, hdr_name) ? hdr_val : NULL;
}

static void decide(const slm_route_config *c, const char *body_json, slm_route_decision *d) {
    json_t *body = json_loads(body_json, 0, NULL);
    assert_non_null(body);
    slm_route_request req = {.body = body, .header = get_header};
    slm_error err = {0};
    assert_int_equal(slm_route_decide(c, &req, d, &err), SLM_OK);
    json_decref(body);
}

static void test_default_config(void **state) {
    (void)state;
    slm_route_config *c = NULL;
    assert_int_equal(slm_route_config_default("m1", &c, NULL), SLM_OK);
    slm_route_decision d;
    decide(c, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"write an essay on rivers\"}]}", &d);
    assert_int_equal(d.http_status, 0);
    assert_int_equal(d.n_plan, 1);
    assert_int_equal(d.plan[0].tier, 0);
    assert_string_equal(d.task, "open_ended");
    slm_route_config_free(c);
}

static void test_rules(void **state) {
    (void)state;
    slm_route_config *c = load(YAML3);
    slm_route_decision d;
    hdr_name = NULL;
    decide(c, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Classify this ticket: my order is late\"}]}", &d);
    assert_string_equal(d.task, "classify");
    assert_string_equal(d.task_source, "inferred");
    assert_string_equal(d.rule, "narrow-local");
    assert_int_equal(d.plan[0].tier, 0);
    assert_int_equal(d.n_plan, 3); /* local, then mid, then frontier for escalation */
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"Write an essay about the sea\"}]}", &d);
    assert_string_equal(d.rule, "open-ended");
    assert_int_equal(d.plan[0].tier, 2);
    assert_int_equal(d.n_plan, 1);
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"task\":\"open_ended\"}}", &d);
    assert_string_equal(d.task_source, "metadata");
    assert_int_equal(d.plan[0].tier, 2);
    hdr_name = "x-slm-task";
    hdr_val = "classify";
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"Write an essay\"}]}", &d);
    assert_string_equal(d.task, "classify");
    assert_string_equal(d.task_source, "header");
    hdr_name = NULL;
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", &d);
    assert_string_equal(d.task, "chat");
    assert_string_equal(d.rule, "default");
    assert_int_equal(d.plan[0].tier, 0);
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\","
              "\"json_schema\":{\"schema\":{\"enum\":[\"a\",\"b\"]}}}}", &d);
    assert_string_equal(d.task, "classify");
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}", &d);
    assert_string_equal(d.task, "tool_use");
    /* bypass: a named model */
    decide(c, "{\"model\":\"big\",\"messages\":[{\"role\":\"user\",\"content\":\"classify this\"}]}", &d);
    assert_false(d.routed);
    assert_string_equal(d.rule, "bypass");
    assert_int_equal(d.n_plan, 1);
    assert_int_equal(d.plan[0].tier, 2);
    slm_route_config_free(c);
}

static void test_long_context(void **state) {
    (void)state;
    slm_route_config *c = load(YAML3);
    char *big = malloc(100000);
    memset(big, 'a', 99999);
    big[99999] = '\0';
    json_t *body = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", big);
    slm_route_request req = {.body = body};
    slm_route_decision d;
    assert_int_equal(slm_route_decide(c, &req, &d, NULL), SLM_OK);
    assert_string_equal(d.rule, "long-context"); /* 25000 tokens > 4096 local context */
    assert_int_equal(d.plan[0].tier, 1);
    req.prompt_tokens = 300000; /* exact count: fits nobody but the frontier (no context limit) */
    assert_int_equal(slm_route_decide(c, &req, &d, NULL), SLM_OK);
    assert_int_equal(d.http_status, 0);
    assert_int_equal(d.plan[0].tier, 2);
    assert_non_null(strstr(d.skipped, "mid: prompt exceeds context"));
    json_decref(body);
    free(big);
    slm_route_config_free(c);
}

static void test_sensitive(void **state) {
    (void)state;
    slm_route_config *c = load(YAML3);
    slm_route_decision d;
    hdr_name = NULL;
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"Classify: mail me at jane.doe@example.com\"}]}", &d);
    assert_true(d.sensitive);
    assert_string_equal(d.sensitive_why, "pii:email");
    assert_int_equal(d.n_plan, 1); /* only local: no escalation to remote */
    assert_int_equal(d.plan[0].tier, 0);
    /* open-ended + sensitive: frontier refused, answered locally */
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"Write an essay\"}],\"metadata\":{\"sensitive\":true}}", &d);
    assert_int_equal(d.http_status, 0);
    assert_int_equal(d.n_plan, 1);
    assert_int_equal(d.plan[0].tier, 0);
    assert_non_null(strstr(d.skipped, "frontier: sensitive"));
    /* named remote model + sensitive: 403, never sent */
    hdr_name = "x-slm-sensitive";
    hdr_val = "true";
    decide(c, "{\"model\":\"big\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &d);
    assert_int_equal(d.http_status, 403);
    assert_int_equal(d.n_plan, 0);
    assert_non_null(strstr(d.reason, "not sent out"));
    hdr_name = NULL;
    slm_route_config_free(c);
    /* remote-only config: sensitive request fails; on_prem tier is allowed */
    const char *remote_only = "tiers:\n  - name: r\n    models: [{name: a, base_url: 'http://h/v1'}]\n";
    c = load(remote_only);
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"card 4111 1111 1111 1111\"}]}", &d);
    assert_int_equal(d.http_status, 403);
    slm_route_config_free(c);
    c = load("tiers:\n  - name: r\n    on_prem: true\n    models: [{name: a, base_url: 'http://h/v1'}]\n");
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"card 4111 1111 1111 1111\"}]}", &d);
    assert_int_equal(d.http_status, 0);
    assert_true(d.sensitive);
    slm_route_config_free(c);
}

static void test_custom_rules(void **state) {
    (void)state;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", YAML3,
             "rules:\n  - name: code-mid\n    task: code\n    tier: mid\n  - name: rest\n    tier: frontier\n"
             "tasks:\n  code: ['\\bdef\\b', 'segfault']\n");
    slm_route_config *c = load(buf);
    slm_route_decision d;
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"why does this segfault\"}]}", &d);
    assert_string_equal(d.task, "code");
    assert_string_equal(d.rule, "code-mid");
    assert_int_equal(d.plan[0].tier, 1);
    decide(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"classify this\"}]}", &d);
    assert_string_equal(d.task, "chat"); /* custom tasks replace the built-in patterns */
    assert_string_equal(d.rule, "rest");
    slm_route_config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),          cmocka_unit_test(test_errors),    cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_rules),          cmocka_unit_test(test_long_context), cmocka_unit_test(test_sensitive),
        cmocka_unit_test(test_custom_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
