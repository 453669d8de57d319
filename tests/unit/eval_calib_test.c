/* Tests for calibration over a run's results (each confidence signal,
 * the chosen threshold and the value written) and for writing it into
 * slm.yaml: line edits that keep comments and everything else, refusals
 * for shapes a line edit cannot handle, and the atomic write whose result
 * loads with the router's config loader and carries the new value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval_internal.h"

static slm_eval_result mk(const char *target, const char *id, bool ok, double mean_lp, double min_lp, double ent) {
    slm_eval_result r = {0};
    r.target = ev_strdup(target);
    r.case_id = ev_strdup(id);
    r.tags = json_array();
    r.success = ok;
    r.has_conf = !isnan(mean_lp);
    r.mean_logprob = mean_lp, r.min_logprob = min_lp, r.mean_entropy = ent;
    return r;
}

/* Local L (signals) and frontier F over 5 cases; F succeeds on 4/5. */
static slm_eval_result *fixture(size_t *n) {
    static const double conf[5] = {-0.1, -0.5, -1.0, -2.0, -3.0};
    static const bool lok[5] = {true, true, false, false, true}, fok[5] = {true, true, true, true, false};
    slm_eval_result *rs = calloc(10, sizeof *rs);
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "c%d", i + 1);
        rs[i] = mk("L", id, lok[i], conf[i], 2 * conf[i], 1.0);
        rs[5 + i] = mk("F", id, fok[i], NAN, NAN, NAN);
    }
    *n = 10;
    return rs;
}

static void free_results(slm_eval_result *rs, size_t n) {
    for (size_t i = 0; i < n; i++) slm_eval_result_clear(&rs[i]);
    free(rs);
}

static void test_calibrate_run(void **state) {
    (void)state;
    size_t n;
    slm_eval_result *rs = fixture(&n);
    slm_calib_choice c;
    /* mean_logprob: thresholds -3 (0.6), -2 (0.4), -1 (0.6), -0.5 (0.8 = frontier), -0.1 (0.8), all (0.8) */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.98, SLM_CALIB_MEAN_LOGPROB, &c, NULL), SLM_OK);
    assert_int_equal(c.n_cases, 5);
    assert_float_equal(c.curve.frontier_success, 0.8, 1e-12);
    const slm_calib_point *p = &c.curve.curve[c.curve.chosen];
    assert_float_equal(p->threshold, -0.5, 0);
    assert_float_equal(p->local_share, 0.4, 1e-12);
    assert_float_equal(p->success, 0.8, 1e-12);
    assert_float_equal(c.value, -0.75, 0); /* between -1.0 (escalated) and -0.5 (kept) */
    assert_string_equal(slm_calib_signal_key(c.signal), "min_mean_logprob");
    json_t *j = slm_calib_choice_json(&c, "L", "F");
    assert_string_equal(json_string_value(json_object_get(j, "key")), "min_mean_logprob");
    assert_int_equal(json_array_size(json_object_get(j, "curve")), 6);
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "curve"), 5), "threshold")));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    slm_eval_calibration_text(j, f);
    fclose(f);
    assert_non_null(strstr(buf, "     -0.5000    40.0%    80.0%     100.0%  <- chosen"));
    assert_non_null(strstr(buf, "-> confidence.min_mean_logprob: -0.75"));
    free(buf);
    json_decref(j);
    slm_calib_choice_free(&c);
    /* entropy is 1.0 everywhere: nothing separates, everything escalates */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.98, SLM_CALIB_ENTROPY, &c, NULL), SLM_OK);
    assert_int_equal(c.curve.chosen, c.curve.n_curve - 1);
    assert_float_equal(c.value, 0.5, 0); /* below every entropy seen */
    assert_true(c.note[0] != 0);
    slm_calib_choice_free(&c);
    /* all signals: entropy loses; min_logprob ties mean_logprob, the first wins */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.98, -1, &c, NULL), SLM_OK);
    assert_int_equal(c.signal, SLM_CALIB_MEAN_LOGPROB);
    slm_calib_choice_free(&c);
    /* a looser target keeps everything local: a value below the least confident case */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.75, SLM_CALIB_MEAN_LOGPROB, &c, NULL), SLM_OK);
    assert_int_equal(c.curve.chosen, 0);
    assert_true(c.value < -3.0 && c.value >= -1e6);
    slm_calib_choice_free(&c);
    free_results(rs, n);
}

static void test_calibrate_errors(void **state) {
    (void)state;
    size_t n;
    slm_eval_result *rs = fixture(&n);
    slm_calib_choice c;
    slm_error err = {0};
    rs[2].has_conf = false; /* c3 measured nothing */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.98, -1, &c, &err), SLM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "case 'c3'"));
    rs[2].error = ev_strdup("HTTP 500"); /* a failed request is least confident, not an error */
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "F", 0.98, SLM_CALIB_MEAN_LOGPROB, &c, NULL), SLM_OK);
    assert_float_equal(c.curve.curve[0].threshold, -1e9, 0);
    assert_true(c.value >= -1e6);
    slm_calib_choice_free(&c);
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "L", 0.98, -1, &c, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_eval_calibrate_run(rs, n, "L", "nobody", 0.98, -1, &c, &err), SLM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "no case answered by both"));
    free_results(rs, n);
}

#define TIERS "tiers:\n  - name: local\n    models: [{name: small, path: /m.gguf}]\n"

static const char BASE[] = "# my router\n"
                           "tiers:\n"
                           "  - name: local\n"
                           "    models: [{name: small, path: /m.gguf}]\n"
                           "\n"
                           "confidence:\n"
                           "  check_labels: true   # keep\n"
                           "  min_mean_logprob: -1.5  # tuned by hand\n"
                           "  combine: any\n"
                           "# about the router\n"
                           "router: {stream: buffer}\n";

static char *edit(const char *text, const char *key, const char *value, slm_status want) {
    char *out = NULL;
    slm_error err = {0};
    assert_int_equal(slm_eval_yaml_set_confidence(text, strlen(text), key, value, &out, &err), want);
    return out;
}

static char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    assert_non_null(at);
    char *r = malloc(strlen(s) + strlen(to) + 1);
    size_t k = (size_t)(at - s);
    memcpy(r, s, k);
    strcpy(r + k, to);
    strcat(r, at + strlen(from));
    return r;
}

static void test_yaml_edit(void **state) {
    (void)state;
    /* the key's line: value replaced, comment and indentation kept */
    char *out = edit(BASE, "min_mean_logprob", "-0.75", SLM_OK);
    char *want = replace(BASE, "min_mean_logprob: -1.5  #", "min_mean_logprob: -0.75  #");
    assert_string_equal(out, want);
    free(out), free(want);
    /* absent key: added as the block's last entry, before the column-0 comment */
    out = edit(BASE, "max_entropy", "0.5", SLM_OK);
    want = replace(BASE, "  combine: any\n", "  combine: any\n  max_entropy: 0.5\n");
    assert_string_equal(out, want);
    free(out), free(want);
    /* deeper indentation is followed */
    out = edit("confidence:\n    combine: any\n", "min_token_logprob", "-3", SLM_OK);
    assert_string_equal(out, "confidence:\n    combine: any\n    min_token_logprob: -3\n");
    free(out);
    /* no section: appended (a missing final newline is added first) */
    out = edit("tiers: []", "min_mean_logprob", "-1", SLM_OK);
    assert_string_equal(out, "tiers: []\nconfidence:\n  min_mean_logprob: -1\n");
    free(out);
    /* a key that only starts the same is not the key */
    out = edit("confidence:\n  min_mean_logprob_x: 1\n", "min_mean_logprob", "-1", SLM_OK);
    assert_string_equal(out, "confidence:\n  min_mean_logprob_x: 1\n  min_mean_logprob: -1\n");
    free(out);
    /* CRLF files keep CRLF */
    out = edit("confidence:\r\n  combine: any\r\nrouter: {}\r\n", "max_entropy", "2", SLM_OK);
    assert_string_equal(out, "confidence:\r\n  combine: any\r\n  max_entropy: 2\r\nrouter: {}\r\n");
    free(out);
    /* shapes a line edit cannot handle safely */
    assert_null(edit("confidence: {combine: any}\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence: &c\n  combine: any\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence:\n  max_entropy: *e\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence:\n  <<: *base\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence:\n  max_entropy:\n    1\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence:\n\tmax_entropy: 1\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("a: 1\n---\nconfidence:\n  max_entropy: 1\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
    assert_null(edit("confidence:\n  combine: any\nconfidence:\n  combine: all\n", "max_entropy", "1", SLM_ERR_UNSUPPORTED));
}

static char *tmp_path(const char *name) {
    const char *dir = getenv("SLM_TEST_TMP");
    if (dir && *dir) mkdir(dir, 0755); /* ctest names it; it may not exist yet */
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/eval_calib_%d_%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *b = calloc(1, 65536);
    size_t n = fread(b, 1, 65535, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static void test_config_write(void **state) {
    (void)state;
    char *path = tmp_path("slm.yaml");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(BASE, f);
    fclose(f);
    chmod(path, 0640);
    slm_error err = {0};
    assert_int_equal(slm_eval_config_set_confidence(path, "min_mean_logprob", -0.8125, &err), SLM_OK);
    slm_route_config *c;
    assert_int_equal(slm_route_config_load(path, &c, &err), SLM_OK);
    assert_true(c->confidence.enabled);
    assert_float_equal(c->confidence.min_mean_logprob, -0.8125, 0);
    assert_true(c->confidence.check_labels);
    assert_int_equal(c->n_tiers, 1);
    slm_route_config_free(c);
    char *text = slurp(path), *want = replace(BASE, "-1.5  #", "-0.8125  #");
    assert_string_equal(text, want); /* every other byte, comments included */
    free(text), free(want);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    /* a new key in the file */
    assert_int_equal(slm_eval_config_set_confidence(path, "max_entropy", 1.25, &err), SLM_OK);
    assert_int_equal(slm_route_config_load(path, &c, &err), SLM_OK);
    assert_float_equal(c->confidence.max_entropy, 1.25, 0);
    assert_float_equal(c->confidence.min_mean_logprob, -0.8125, 0);
    slm_route_config_free(c);
    /* refusals leave the file as it was */
    text = slurp(path);
    assert_int_not_equal(slm_eval_config_set_confidence(path, "min_mean_logprob", 0.5, &err), SLM_OK);
    assert_non_null(strstr(err.msg, "would not load"));
    assert_int_equal(slm_eval_config_set_confidence(path, "bogus", -1, &err), SLM_ERR_INVALID_ARG);
    char *after = slurp(path);
    assert_string_equal(text, after);
    free(text), free(after);
    f = fopen(path, "wb");
    fputs(TIERS "confidence: {combine: any}\n", f);
    fclose(f);
    assert_int_equal(slm_eval_config_set_confidence(path, "max_entropy", 1, &err), SLM_ERR_UNSUPPORTED);
    text = slurp(path);
    assert_string_equal(text, TIERS "confidence: {combine: any}\n");
    free(text);
    f = fopen(path, "wb");
    fputs(TIERS "confidence:\n  bogus_key: 1\n", f);
    fclose(f);
    assert_int_equal(slm_eval_config_set_confidence(path, "max_entropy", 1, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "does not load as it is"));
    assert_non_null(strstr(err.msg, "bogus_key"));
    unlink(path);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibrate_run), cmocka_unit_test(test_calibrate_errors),
        cmocka_unit_test(test_yaml_edit),     cmocka_unit_test(test_config_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
