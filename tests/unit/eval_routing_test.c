/* Tests for routed targets on fixed outputs: tier shares and escalation
 * rate in the metrics, the report document, the terminal table and the
 * HTML chart; x-slm-* header parsing; confidence signals from token
 * log-probabilities; tier/auto targets resolved from an slm.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static slm_eval_result mk(const char *target, const char *id, const char *tier, int8_t esc, bool ok, const char *error) {
    slm_eval_result r = {0};
    r.target = ev_strdup(target);
    r.case_id = ev_strdup(id);
    r.tags = json_array();
    r.success = ok;
    r.exact = r.schema_valid = r.call_exec = -1;
    r.tier = tier ? ev_strdup(tier) : NULL;
    r.escalated = esc;
    r.error = error ? ev_strdup(error) : NULL;
    r.output = ev_strdup("x");
    r.latency_s = 0.1;
    return r;
}

/* auto: 10 cases; local answered 6 (5 ok), mid 3 after escalation (3 ok),
 * 1 failed request with no tier. B: a plain target, no tiers. */
static slm_eval_run *fixture(void) {
    slm_eval_run *run = calloc(1, sizeof *run);
    run->suite_name = ev_strdup("s");
    run->suite_path = ev_strdup("s.yaml");
    run->n_targets = 2;
    run->targets = calloc(2, sizeof *run->targets);
    run->targets[0] = ev_strdup("auto");
    run->targets[1] = ev_strdup("B");
    run->n_results = 12;
    run->results = calloc(12, sizeof *run->results);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "c%d", i);
        if (i < 6) run->results[i] = mk("auto", id, "local", 0, i != 0, NULL);
        else if (i < 9) run->results[i] = mk("auto", id, "mid", 1, true, NULL);
        else run->results[i] = mk("auto", id, NULL, -1, false, "HTTP 500: boom");
    }
    run->results[10] = mk("B", "c0", NULL, -1, true, NULL);
    run->results[11] = mk("B", "c1", NULL, -1, false, NULL);
    return run;
}

static void test_metrics_escalation(void **state) {
    (void)state;
    slm_eval_run *run = fixture();
    slm_eval_metrics m;
    assert_int_equal(slm_eval_metrics_compute(run->results, run->n_results, "auto", NULL, &m, NULL), SLM_OK);
    assert_int_equal(m.n, 10);
    assert_int_equal(m.n_routed, 9);
    assert_int_equal(m.n_escalated, 3);
    assert_float_equal(m.escalation_pct, 100.0 * 3 / 9, 1e-9);
    assert_int_equal(m.n_success, 8);
    assert_int_equal(slm_eval_metrics_compute(run->results, run->n_results, "B", NULL, &m, NULL), SLM_OK);
    assert_int_equal(m.n_routed, 0);
    assert_true(isnan(m.escalation_pct));
    slm_eval_run_free(run);
}

static void test_tier_shares(void **state) {
    (void)state;
    slm_eval_run *run = fixture();
    json_t *t = slm_eval_tier_shares(run->results, run->n_results, "auto", NULL);
    assert_non_null(t);
    assert_int_equal(json_object_size(t), 3);
    const json_t *local = json_object_get(t, "local"), *mid = json_object_get(t, "mid"),
                 *failed = json_object_get(t, "(failed)");
    assert_int_equal(json_integer_value(json_object_get(local, "n")), 6);
    assert_float_equal(ev_num(local, "share_pct"), 60.0, 1e-9);
    assert_float_equal(ev_num(local, "success_pct"), 100.0 * 5 / 6, 1e-9);
    assert_float_equal(ev_num(mid, "share_pct"), 30.0, 1e-9);
    assert_float_equal(ev_num(mid, "success_pct"), 100.0, 1e-9);
    assert_float_equal(ev_num(failed, "share_pct"), 10.0, 1e-9);
    json_decref(t);
    assert_null(slm_eval_tier_shares(run->results, run->n_results, "B", NULL)); /* not routed */
    slm_eval_run_free(run);
}

static char *render(const json_t *report, bool html) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (html) assert_int_equal(slm_eval_report_html(report, f, NULL), SLM_OK);
    else slm_eval_report_text(report, f, 5);
    fclose(f);
    return buf;
}

static void test_report_routing(void **state) {
    (void)state;
    slm_eval_run *run = fixture();
    json_t *rep = slm_eval_report_json(run, NULL);
    assert_non_null(rep);
    const json_t *a = json_array_get(json_object_get(rep, "targets"), 0), *b = json_array_get(json_object_get(rep, "targets"), 1);
    const json_t *routing = json_object_get(a, "routing");
    assert_non_null(routing);
    assert_null(json_object_get(b, "routing"));
    assert_int_equal(json_integer_value(json_object_get(routing, "n_routed")), 9);
    assert_int_equal(json_integer_value(json_object_get(routing, "n_escalated")), 3);
    assert_float_equal(ev_num(routing, "escalation_pct"), 100.0 / 3, 1e-9);
    assert_float_equal(ev_num(json_object_get(json_object_get(routing, "tiers"), "mid"), "share_pct"), 30.0, 1e-9);
    /* results carry tier and escalated; a plain target's do not */
    const json_t *r6 = json_array_get(json_object_get(rep, "results"), 6), *r10 = json_array_get(json_object_get(rep, "results"), 10);
    assert_string_equal(json_string_value(json_object_get(r6, "tier")), "mid");
    assert_true(json_is_true(json_object_get(r6, "escalated")));
    assert_null(json_object_get(r10, "tier"));
    char *text = render(rep, false);
    assert_non_null(strstr(text, "auto routing: local 60.0% (6, success 83.3%), mid 30.0% (3, success 100.0%), "
                                 "(failed) 10.0% (1, success 0.0%); escalated 33.3% (3/9)"));
    assert_null(strstr(text, "B routing"));
    free(text);
    char *html = render(rep, true);
    assert_non_null(strstr(html, "id=\"chart-tiers\""));
    assert_non_null(strstr(html, "<title>mid 30.0%</title>"));
    assert_non_null(strstr(html, "id=\"routing\""));
    free(html);
    json_decref(rep);
    slm_eval_run_free(run);
}

static void test_result_json_routing(void **state) {
    (void)state;
    slm_eval_result r = mk("auto", "c1", "mid", 1, true, NULL);
    r.has_conf = true;
    r.mean_logprob = -0.5, r.min_logprob = -2.0, r.mean_entropy = 0.75;
    json_t *j = slm_eval_result_to_json(&r);
    slm_eval_result back;
    assert_int_equal(slm_eval_result_from_json(j, &back, NULL), SLM_OK);
    assert_string_equal(back.tier, "mid");
    assert_int_equal(back.escalated, 1);
    assert_true(back.has_conf);
    assert_float_equal(back.mean_logprob, -0.5, 0);
    assert_float_equal(back.min_logprob, -2.0, 0);
    assert_float_equal(back.mean_entropy, 0.75, 0);
    slm_eval_result_clear(&back);
    json_decref(j);
    slm_eval_result_clear(&r);
    /* an old result line without the fields */
    j = json_pack("{s:s,s:s,s:b}", "target", "t", "case", "c", "success", 1);
    assert_int_equal(slm_eval_result_from_json(j, &back, NULL), SLM_OK);
    assert_null(back.tier);
    assert_int_equal(back.escalated, -1);
    assert_false(back.has_conf);
    slm_eval_result_clear(&back);
    json_decref(j);
}

static void test_headers_and_logprobs(void **state) {
    (void)state;
    ev_answer a = {0};
    const char *h1 = "X-SLM-Tier: mid\r\n", *h2 = "x-slm-escalated: true\r\n", *h3 = "content-type: text/plain\r\n";
    ev_http_header_line(h1, strlen(h1), &a);
    ev_http_header_line(h2, strlen(h2), &a);
    ev_http_header_line(h3, strlen(h3), &a);
    assert_string_equal(a.tier, "mid");
    assert_true(a.escalated);
    /* two tokens: logprobs -0.1 and -0.9; the first with a uniform top-2 (entropy ln 2) */
    double top[2] = {log(0.5), log(0.5)};
    ev_answer_add_logprob(&a, -0.1, top, 2);
    ev_answer_add_logprob(&a, -0.9, NULL, 0);
    ev_answer_add_logprob(&a, NAN, NULL, 0); /* ignored */
    assert_int_equal(a.n_lp, 2);
    assert_float_equal(a.sum_lp / (double)a.n_lp, -0.5, 1e-12);
    assert_float_equal(a.min_lp, -0.9, 1e-12);
    assert_int_equal(a.n_ent, 1);
    assert_float_equal(a.sum_ent, log(2.0), 1e-12);
    ev_answer_clear(&a);
    /* a streamed body with logprobs */
    const char *body = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":"
                       "[{\"token\":\"a\",\"logprob\":-0.25,\"top_logprobs\":[{\"token\":\"a\",\"logprob\":-0.25}]}]}}]}\n"
                       "data: [DONE]\n";
    ev_http_parse_body(body, strlen(body), &a);
    assert_null(a.error);
    assert_int_equal(a.n_lp, 1);
    assert_float_equal(a.sum_lp, -0.25, 1e-12);
    assert_float_equal(a.sum_ent, 0.0, 1e-12); /* one alternative: no uncertainty */
    ev_answer_clear(&a);
}

static const char YAML[] = "tiers:\n"
                           "  - name: local\n"
                           "    models: [{name: small, path: /m/small.gguf}]\n"
                           "  - name: edge\n"
                           "    models: [{name: nopath, local: true}]\n"
                           "  - name: mid\n"
                           "    models:\n"
                           "      - {name: mid-a, base_url: 'http://127.0.0.1:9/v1', model: up-a, api_key_env: MID_KEY,\n"
                           "         input_cost_per_million: 1, output_cost_per_million: 2}\n";

static void test_targets_from_config(void **state) {
    (void)state;
    slm_route_config *c;
    slm_error err = {0};
    assert_int_equal(slm_route_config_parse(YAML, strlen(YAML), "slm.yaml", &c, &err), SLM_OK);
    slm_eval_target t;
    assert_int_equal(slm_eval_target_parse("mid", &t, NULL), SLM_OK);
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", NULL, NULL), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_URL);
    assert_string_equal(t.label, "mid");
    assert_string_equal(t.location, "http://127.0.0.1:9/v1");
    assert_string_equal(t.model, "up-a");
    assert_string_equal(t.api_key_env, "MID_KEY");
    assert_float_equal(t.price_in, 1, 0);
    assert_float_equal(t.price_out, 2, 0);
    slm_eval_target_clear(&t);
    assert_int_equal(slm_eval_target_parse("a=auto", &t, NULL), SLM_OK);
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", NULL, NULL), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_ROUTER);
    assert_string_equal(t.location, "/x/slm.yaml");
    assert_string_equal(t.label, "a");
    slm_eval_target_clear(&t);
    assert_int_equal(slm_eval_target_parse("local", &t, NULL), SLM_OK);
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", NULL, NULL), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_LOCAL);
    assert_string_equal(t.location, "/m/small.gguf");
    slm_eval_target_clear(&t);
    /* a local model without a path: the default model, else a clear error */
    assert_int_equal(slm_eval_target_parse("edge", &t, NULL), SLM_OK);
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", NULL, &err), SLM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "has no path"));
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", "/m/d.gguf", NULL), SLM_OK);
    assert_string_equal(t.location, "/m/d.gguf");
    slm_eval_target_clear(&t);
    /* not a tier: unchanged */
    assert_int_equal(slm_eval_target_parse("other.gguf", &t, NULL), SLM_OK);
    assert_int_equal(slm_eval_target_from_config(&t, c, "/x/slm.yaml", NULL, NULL), SLM_OK);
    assert_int_equal(t.kind, SLM_TARGET_LOCAL);
    assert_string_equal(t.location, "other.gguf");
    slm_eval_target_clear(&t);
    slm_route_config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_escalation), cmocka_unit_test(test_tier_shares),
        cmocka_unit_test(test_report_routing),     cmocka_unit_test(test_result_json_routing),
        cmocka_unit_test(test_headers_and_logprobs), cmocka_unit_test(test_targets_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
