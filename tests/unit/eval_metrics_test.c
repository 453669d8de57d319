/* Tests for eval metric arithmetic on fixed results (rates, percentiles,
 * decode speed, cost per success, per-target and per-tag slicing), the
 * calibration sweep, result JSON round trip, the report document and
 * diff's regression count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static slm_eval_result mk(const char *target, const char *id, const char *tag, bool ok, int8_t exact, int8_t schema,
                          int8_t call, double lat, double ttft, int32_t gen, double cost, const char *error) {
    slm_eval_result r = {0};
    r.target = ev_strdup(target);
    r.case_id = ev_strdup(id);
    r.tags = tag ? json_pack("[s]", tag) : json_array();
    r.success = ok;
    r.exact = exact, r.schema_valid = schema, r.call_exec = call;
    r.latency_s = lat, r.ttft_s = ttft, r.n_gen = gen, r.cost = cost;
    r.error = error ? ev_strdup(error) : NULL;
    r.output = ev_strdup("out");
    return r;
}

/* 5 results for A, 2 for B. */
static slm_eval_result *fixture(size_t *n) {
    slm_eval_result *rs = calloc(7, sizeof *rs);
    rs[0] = mk("A", "1", "x", true, 1, -1, -1, 1.0, 0.25, 30, 0.01, NULL);
    rs[1] = mk("A", "2", "x", false, 0, -1, -1, 2.0, 0.5, 15, 0.02, NULL);
    rs[2] = mk("A", "3", "y", true, -1, 1, 1, 3.0, 0, 20, 0.03, NULL);
    rs[3] = mk("A", "4", "y", false, -1, 0, 0, 4.0, 1.0, 0, 0.04, NULL);
    rs[4] = mk("A", "5", "y", false, 0, -1, -1, 9.0, 0, 0, 0.0, "HTTP 500");
    rs[5] = mk("B", "1", "x", true, 1, -1, -1, 0.5, 0.1, 10, 0, NULL);
    rs[6] = mk("B", "2", "x", true, 1, -1, -1, 0.7, 0.1, 10, 0, NULL);
    *n = 7;
    return rs;
}

static void free_fixture(slm_eval_result *rs, size_t n) {
    for (size_t i = 0; i < n; i++) slm_eval_result_clear(&rs[i]);
    free(rs);
}

static void test_percentile(void **state) {
    (void)state;
    double v[] = {4, 1, 3, 2};
    assert_float_equal(slm_eval_percentile(v, 4, 50), 2.5, 1e-12);
    assert_float_equal(slm_eval_percentile(v, 4, 0), 1, 1e-12);
    assert_float_equal(slm_eval_percentile(v, 4, 100), 4, 1e-12);
    /* rank 0.95 * 3 = 2.85: 3 + 0.85 * (4 - 3) */
    assert_float_equal(slm_eval_percentile(v, 4, 95), 3.85, 1e-12);
    double one[] = {7};
    assert_float_equal(slm_eval_percentile(one, 1, 99), 7, 1e-12);
    assert_true(isnan(slm_eval_percentile(one, 0, 50)));
}

static void test_target_metrics(void **state) {
    (void)state;
    size_t n;
    slm_eval_result *rs = fixture(&n);
    slm_eval_metrics m;
    assert_int_equal(slm_eval_metrics_compute(rs, n, "A", NULL, &m, NULL), SLM_OK);
    assert_int_equal(m.n, 5);
    assert_int_equal(m.n_success, 2);
    assert_int_equal(m.n_error, 1);
    assert_float_equal(m.success_pct, 40.0, 1e-9);
    assert_int_equal(m.n_exact, 3); /* the failed request still counts against exact */
    assert_float_equal(m.exact_pct, 100.0 / 3.0, 1e-9);
    assert_float_equal(m.schema_pct, 50.0, 1e-9);
    assert_float_equal(m.call_pct, 50.0, 1e-9);
    /* latencies of answered cases only: 1 2 3 4 */
    assert_float_equal(m.lat_p50, 2.5, 1e-9);
    assert_float_equal(m.lat_p95, 3.85, 1e-9);
    assert_float_equal(m.lat_p99, 3.97, 1e-9);
    /* TTFT known for 3 cases: .25 .5 1 */
    assert_float_equal(m.ttft_p50, 0.5, 1e-9);
    /* decode: 30/(1-.25) + 15/(2-.5) + 20/3 (no ttft: whole latency); case 4 has no tokens */
    assert_float_equal(m.tokens_per_s, 65.0 / (0.75 + 1.5 + 3.0), 1e-9);
    assert_float_equal(m.cost, 0.10, 1e-12);
    assert_float_equal(m.cost_per_success, 0.05, 1e-12);
    free_fixture(rs, n);
}

static void test_tag_and_empty_metrics(void **state) {
    (void)state;
    size_t n;
    slm_eval_result *rs = fixture(&n);
    slm_eval_metrics m;
    assert_int_equal(slm_eval_metrics_compute(rs, n, "A", "y", &m, NULL), SLM_OK);
    assert_int_equal(m.n, 3);
    assert_float_equal(m.success_pct, 100.0 / 3.0, 1e-9);
    assert_int_equal(slm_eval_metrics_compute(rs, n, NULL, "x", &m, NULL), SLM_OK);
    assert_int_equal(m.n, 4); /* both targets */
    assert_int_equal(slm_eval_metrics_compute(rs, n, "B", NULL, &m, NULL), SLM_OK);
    assert_true(isnan(m.schema_pct));
    assert_true(isnan(m.cost_per_success) == false);
    assert_float_equal(m.cost_per_success, 0.0, 1e-12);
    assert_int_equal(slm_eval_metrics_compute(rs, n, "nobody", NULL, &m, NULL), SLM_OK);
    assert_int_equal(m.n, 0);
    assert_true(isnan(m.success_pct) && isnan(m.lat_p50) && isnan(m.cost_per_success) && isnan(m.tokens_per_s));
    free_fixture(rs, n);
}

static void test_calibration(void **state) {
    (void)state;
    /* conf:   .9  .8  .8  .5  .2
     * local:  1   1   0   1   0
     * front:  1   1   1   1   1 */
    double conf[] = {0.8, 0.2, 0.9, 0.5, 0.8};
    bool local[] = {1, 0, 1, 1, 0};
    bool front[] = {1, 1, 1, 1, 1};
    slm_calib_result r;
    assert_int_equal(slm_eval_calibrate(conf, local, front, 5, 0.98, &r, NULL), SLM_OK);
    assert_int_equal(r.n_curve, 5); /* .2 .5 .8 .9 inf */
    assert_float_equal(r.curve[0].threshold, 0.2, 1e-12);
    assert_float_equal(r.curve[0].local_share, 1.0, 1e-12);
    assert_float_equal(r.curve[0].success, 3.0 / 5, 1e-12);
    assert_float_equal(r.curve[1].threshold, 0.5, 1e-12);
    assert_float_equal(r.curve[1].success, 4.0 / 5, 1e-12); /* .2 escalated and fixed */
    assert_float_equal(r.curve[2].threshold, 0.8, 1e-12);
    assert_float_equal(r.curve[2].local_share, 3.0 / 5, 1e-12);
    assert_float_equal(r.curve[3].success, 1.0, 1e-12);
    assert_float_equal(r.curve[3].local_share, 0.2, 1e-12);
    assert_true(isinf(r.curve[4].threshold));
    assert_float_equal(r.curve[4].local_share, 0.0, 1e-12);
    assert_float_equal(r.frontier_success, 1.0, 1e-12);
    assert_int_equal(r.chosen, 3); /* first point with success >= 0.98 */
    slm_calib_result_free(&r);
    /* a looser target keeps more local */
    assert_int_equal(slm_eval_calibrate(conf, local, front, 5, 0.8, &r, NULL), SLM_OK);
    assert_int_equal(r.chosen, 1);
    slm_calib_result_free(&r);
    slm_error err = {0};
    assert_int_equal(slm_eval_calibrate(conf, local, front, 0, 0.98, &r, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_eval_calibrate(conf, local, front, 5, 1.5, &r, &err), SLM_ERR_INVALID_ARG);
    double bad[] = {NAN};
    assert_int_equal(slm_eval_calibrate(bad, local, front, 1, 0.9, &r, &err), SLM_ERR_INVALID_ARG);
}

static void test_result_round_trip(void **state) {
    (void)state;
    slm_eval_result r = mk("A", "c1", "t", false, 0, 1, -1, 1.5, 0.2, 7, 0.003, "boom");
    r.why = ev_strdup("boom");
    r.input = ev_strdup("hello");
    json_t *j = slm_eval_result_to_json(&r);
    slm_eval_result back;
    assert_int_equal(slm_eval_result_from_json(j, &back, NULL), SLM_OK);
    assert_string_equal(back.target, "A");
    assert_string_equal(back.case_id, "c1");
    assert_string_equal(back.error, "boom");
    assert_string_equal(back.input, "hello");
    assert_int_equal(back.exact, 0);
    assert_int_equal(back.schema_valid, 1);
    assert_int_equal(back.call_exec, -1);
    assert_int_equal(back.n_gen, 7);
    assert_float_equal(back.cost, 0.003, 1e-12);
    assert_false(back.success);
    json_decref(j);
    slm_eval_result_clear(&back);
    slm_eval_result_clear(&r);
    json_t *bad = json_pack("{s:s}", "target", "A");
    assert_int_equal(slm_eval_result_from_json(bad, &back, NULL), SLM_ERR_FORMAT);
    json_decref(bad);
}

static json_t *report_of(slm_eval_result *rs, size_t n) {
    slm_eval_run run = {.suite_name = "s", .suite_path = "s.yaml", .results = rs, .n_results = n};
    char *targets[] = {"A", "B"};
    run.targets = targets;
    run.n_targets = 2;
    json_t *doc = slm_eval_report_json(&run, NULL);
    assert_non_null(doc);
    return doc;
}

static void test_report_and_diff(void **state) {
    (void)state;
    size_t n;
    slm_eval_result *rs = fixture(&n);
    json_t *a = report_of(rs, n);
    const json_t *ta = json_array_get(json_object_get(a, "targets"), 0);
    assert_string_equal(json_string_value(json_object_get(ta, "target")), "A");
    assert_float_equal(ev_num(json_object_get(ta, "metrics"), "success_pct"), 40.0, 1e-9);
    assert_true(json_is_null(json_object_get(json_object_get(json_array_get(json_object_get(a, "targets"), 1),
                                                             "metrics"),
                                             "schema_pct")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(ta, "tags"), "y"), "n")), 3);
    assert_int_equal(json_array_size(json_object_get(a, "results")), 7);
    /* B regresses: case A/1 now fails */
    rs[0].success = false;
    json_t *b = report_of(rs, n);
    FILE *f = tmpfile();
    size_t reg = 99;
    assert_int_equal(slm_eval_diff(a, a, 1.0, f, &reg, NULL), SLM_OK);
    assert_int_equal(reg, 0);
    assert_int_equal(slm_eval_diff(a, b, 1.0, f, &reg, NULL), SLM_OK);
    assert_int_equal(reg, 2); /* success 40 -> 20, and newly failing case 1 */
    assert_int_equal(slm_eval_diff(a, b, 50.0, f, &reg, NULL), SLM_OK);
    assert_int_equal(reg, 1); /* tolerance hides the rate, not the case */
    /* html renders with every chart */
    rewind(f);
    assert_int_equal(slm_eval_report_html(b, f, NULL), SLM_OK);
    long len = ftell(f);
    rewind(f);
    char *html = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(html, 1, (size_t)len, f), (size_t)len);
    assert_non_null(strstr(html, "id=\"chart-success-cost\""));
    assert_non_null(strstr(html, "id=\"chart-latency\""));
    assert_non_null(strstr(html, "HTTP 500"));
    assert_null(strstr(html, "<script"));
    free(html);
    fclose(f);
    json_decref(a);
    json_decref(b);
    free_fixture(rs, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile),        cmocka_unit_test(test_target_metrics),
        cmocka_unit_test(test_tag_and_empty_metrics), cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_result_round_trip), cmocka_unit_test(test_report_and_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
