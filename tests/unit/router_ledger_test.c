/* Ledger durability and the checks that feed routing: a writer process
 * killed with SIGKILL mid-load loses no committed row (WAL); usage report
 * figures; --since parsing; PII detectors (Luhn, IBAN mod-97, national IDs,
 * emails, phones, custom patterns) with true and false cases; the
 * confidence rule (any/all/count, labels, refusal, incomplete). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slm/router.h"

static void tmp_path(char *out, size_t cap, const char *name) {
    const char *base = getenv("SLM_TEST_TMP") ? getenv("SLM_TEST_TMP") : "/tmp";
    mkdir(base, 0700);
    snprintf(out, cap, "%s/ledger-%d-%s", base, (int)getpid(), name);
    char side[1100];
    unlink(out);
    snprintf(side, sizeof side, "%s-wal", out);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", out);
    unlink(side);
}

static slm_ledger_row row_at(double ts, const char *tier, double latency, bool esc) {
    return (slm_ledger_row){.ts = ts, .key_id = "k", .task = "classify", .tier = tier, .model = "m", .rule = "r",
                            .tried = "t", .escalated = esc, .escalation_reason = esc ? "mean_logprob -3 < -1; refusal" : NULL,
                            .tokens_in = 10, .tokens_out = 5, .latency_ms = latency, .cost_usd = 0.5,
                            .remote_cost_usd = 0.5, .frontier_cost_usd = 2.0, .status = 200};
}

static void test_kill9_durability(void **state) {
    (void)state;
    char path[1024];
    tmp_path(path, sizeof path, "kill.db");
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* writer: one row per record call, reports each commit */
        close(fd[0]);
        slm_ledger *l = NULL;
        if (slm_ledger_open(path, &l, NULL)) _exit(2);
        for (int i = 1;; i++) {
            slm_ledger_row r = row_at(1000 + i, "local", i, false);
            if (slm_ledger_record(l, &r, NULL)) _exit(3);
            if (write(fd[1], &i, sizeof i) != sizeof i) _exit(4);
        }
    }
    close(fd[1]);
    int last = 0, v;
    while (last < 300 && read(fd[0], &v, sizeof v) == sizeof v) last = v;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    while (read(fd[0], &v, sizeof v) == sizeof v) last = v; /* reports already in the pipe */
    close(fd[0]);
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open(path, &l, NULL), SLM_OK);
    int64_t n = 0;
    assert_int_equal(slm_ledger_count(l, 0, &n, NULL), SLM_OK);
    assert_true(n >= last); /* every reported commit is there */
    assert_true(n <= last + 1); /* at most the one in flight */
    double spent = 0;
    assert_int_equal(slm_ledger_spent(l, 0, "k", &spent, NULL), SLM_OK);
    assert_true(fabs(spent - 0.5 * (double)n) < 1e-6);
    slm_ledger_close(l);
}

static void test_usage_report(void **state) {
    (void)state;
    char path[1024];
    tmp_path(path, sizeof path, "usage.db");
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open(path, &l, NULL), SLM_OK);
    for (int i = 1; i <= 7; i++) {
        slm_ledger_row r = row_at(5000, "local", i, false);
        assert_int_equal(slm_ledger_record(l, &r, NULL), SLM_OK);
    }
    for (int i = 1; i <= 2; i++) {
        slm_ledger_row r = row_at(5000, "mid", 100 * i, true);
        assert_int_equal(slm_ledger_record(l, &r, NULL), SLM_OK);
    }
    slm_ledger_row r = row_at(10, "frontier", 1, false); /* before --since */
    assert_int_equal(slm_ledger_record(l, &r, NULL), SLM_OK);
    json_t *rep = NULL;
    assert_int_equal(slm_usage_report(l, 100, &rep, NULL), SLM_OK);
    assert_int_equal(json_integer_value(json_object_get(rep, "requests")), 9);
    assert_int_equal(json_integer_value(json_object_get(rep, "escalations")), 2);
    assert_true(fabs(json_real_value(json_object_get(rep, "all_frontier_cost_usd")) - 18.0) < 1e-9);
    json_t *reasons = json_object_get(rep, "escalation_reasons");
    assert_int_equal(json_integer_value(json_object_get(reasons, "mean_logprob")), 2);
    assert_int_equal(json_integer_value(json_object_get(reasons, "refusal")), 2);
    json_t *loc = json_object_get(json_object_get(rep, "tiers"), "local");
    assert_int_equal(json_integer_value(json_object_get(loc, "requests")), 7);
    assert_true(fabs(json_real_value(json_object_get(loc, "share")) - 7.0 / 9) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(loc, "p50_ms")) - 4) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(loc, "p95_ms")) - 7) < 1e-9);
    assert_null(json_object_get(json_object_get(rep, "tiers"), "frontier"));
    json_decref(rep);
    slm_ledger_close(l);
}

static void test_since(void **state) {
    (void)state;
    double t;
    assert_true(slm_usage_parse_since("24h", 100000, &t));
    assert_true(fabs(t - (100000 - 86400)) < 1e-9);
    assert_true(slm_usage_parse_since("7d", 1e6, &t));
    assert_true(fabs(t - (1e6 - 7 * 86400)) < 1e-9);
    assert_true(slm_usage_parse_since("1700000000", 0, &t));
    assert_true(fabs(t - 1700000000) < 1e-9);
    assert_true(slm_usage_parse_since("2025-01-31", 0, &t));
    assert_false(slm_usage_parse_since("yesterday", 0, &t));
    assert_false(slm_usage_parse_since("5x", 0, &t));
    assert_false(slm_usage_parse_since("2025-01-31junk", 0, &t));
}

static unsigned scan(const char *s) {
    slm_route_pii p = {.email = true, .phone = true, .credit_card = true, .iban = true, .national_id = true};
    return slm_pii_scan(&p, s, strlen(s));
}

static void test_pii(void **state) {
    (void)state;
    assert_true(slm_luhn_ok("4111111111111111", 16));
    assert_false(slm_luhn_ok("4111111111111112", 16));
    assert_false(slm_luhn_ok("0000000000000", 13));
    assert_true(slm_iban_ok("DE89370400440532013000", 22));
    assert_true(slm_iban_ok("GB82WEST12345698765432", 22));
    assert_false(slm_iban_ok("DE89370400440532013001", 22));
    assert_int_equal(scan("pay with 4111 1111 1111 1111 today"), SLM_PII_CARD);
    assert_int_equal(scan("card 4111-1111-1111-1111"), SLM_PII_CARD);
    assert_int_equal(scan("order 4111 1111 1111 1112 shipped"), 0); /* fails Luhn */
    assert_int_equal(scan("IBAN DE89 3704 0044 0532 0130 00 please"), SLM_PII_IBAN);
    assert_int_equal(scan("iban GB82WEST12345698765432"), SLM_PII_IBAN);
    assert_int_equal(scan("ref DE88 3704 0044 0532 0130 00"), 0); /* bad check digits */
    assert_int_equal(scan("write to a.b+c@mail.example.org"), SLM_PII_EMAIL);
    assert_int_equal(scan("the @ sign and foo@bar are not emails"), 0);
    assert_int_equal(scan("call +44 20 7946 0958"), SLM_PII_PHONE);
    assert_int_equal(scan("call (415) 555-2671"), SLM_PII_PHONE);
    assert_int_equal(scan("SSN 123-45-6789"), SLM_PII_NATIONAL_ID);
    assert_int_equal(scan("SSN 000-45-6789"), 0);
    assert_int_equal(scan("NI number QQ 12 34 56 C"), 0); /* QQ is not a valid prefix */
    assert_int_equal(scan("NI number AB 12 34 56 C"), SLM_PII_NATIONAL_ID);
    assert_int_equal(scan("on 2024-01-15 we sold 3 units for 19.99"), 0);
    char names[64];
    slm_pii_names(SLM_PII_EMAIL | SLM_PII_IBAN, names, sizeof names);
    assert_string_equal(names, "email,iban");
    /* a disabled detector is not run; a custom pattern via config */
    slm_route_pii off = {0};
    assert_int_equal(slm_pii_scan(&off, "a@b.com", 7), 0);
    const char *y = "tiers: [{name: l, models: [{name: m, local: true}]}]\n"
                    "sensitivity: {detect: [email], patterns: [{name: emp, regex: 'EMP-[0-9]{6}'}]}\n";
    slm_route_config *c = NULL;
    assert_int_equal(slm_route_config_parse(y, strlen(y), "p.yaml", &c, NULL), SLM_OK);
    assert_int_equal(slm_pii_scan(&c->pii, "id emp-123456", 13), SLM_PII_CUSTOM);
    assert_int_equal(slm_pii_scan(&c->pii, "SSN 123-45-6789", 15), 0); /* national_id not listed */
    slm_route_config_free(c);
}

static void test_confidence(void **state) {
    (void)state;
    slm_route_confidence c = {.enabled = true, .min_mean_logprob = -1, .min_token_logprob = -5, .max_entropy = NAN,
                              .require_complete = true, .check_labels = true, .min_failures = 2};
    slm_conf_signals s;
    slm_conf_signals_init(&s);
    s.mean_logprob = -0.5;
    s.min_logprob = -2;
    slm_conf_result r;
    slm_confidence_eval(&c, &s, &r);
    assert_true(r.pass);
    s.mean_logprob = -1.5;
    slm_confidence_eval(&c, &s, &r);
    assert_false(r.pass);
    assert_non_null(strstr(r.reason, "mean_logprob -1.500 < -1.000"));
    c.combine = SLM_CONF_ALL; /* only one of two fails */
    slm_confidence_eval(&c, &s, &r);
    assert_true(r.pass);
    s.min_logprob = -9;
    slm_confidence_eval(&c, &s, &r);
    assert_false(r.pass);
    assert_int_equal(r.n_failed, 2);
    c.combine = SLM_CONF_COUNT;
    s.min_logprob = -2;
    slm_confidence_eval(&c, &s, &r);
    assert_true(r.pass); /* 1 failure < min_failures 2 */
    c.combine = SLM_CONF_ANY;
    s.mean_logprob = -0.1;
    s.complete = 0;
    slm_confidence_eval(&c, &s, &r);
    assert_false(r.pass);
    assert_string_equal(r.reason, "constrained output incomplete");
    s.complete = 1;
    const char *labels[] = {"positive", "negative"};
    s.labels = labels;
    s.n_labels = 2;
    s.text = " \"Positive\".\n";
    s.text_len = strlen(s.text);
    slm_confidence_eval(&c, &s, &r);
    assert_true(r.pass);
    s.text = "neutral";
    s.text_len = 7;
    slm_confidence_eval(&c, &s, &r);
    assert_false(r.pass);
    assert_string_equal(r.reason, "answer outside the label set");
    c.enabled = false;
    slm_confidence_eval(&c, &s, &r);
    assert_true(r.pass);
    /* labels implied by a request */
    json_t *b = json_loads("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":"
                           "{\"enum\":[\"a\",\"b\",3]}}}}", 0, NULL);
    const char *got[4];
    assert_int_equal(slm_route_request_labels(b, got, 4), 2);
    assert_string_equal(got[1], "b");
    json_decref(b);
}

static void test_breaker(void **state) {
    (void)state;
    slm_breaker *b = slm_breaker_new(2, 2, 10);
    assert_true(slm_breaker_allow(b, 0, 0));
    slm_breaker_report(b, 0, false, 0);
    assert_true(slm_breaker_allow(b, 0, 1));
    slm_breaker_report(b, 0, false, 1);
    assert_false(slm_breaker_allow(b, 0, 2)); /* open */
    assert_true(slm_breaker_allow(b, 1, 2));  /* other slot unaffected */
    assert_true(slm_breaker_allow(b, 0, 11.5)); /* probe after cooldown */
    slm_breaker_report(b, 0, false, 11.5);
    assert_false(slm_breaker_allow(b, 0, 12)); /* failed probe reopens at once */
    slm_breaker_report(b, 0, true, 30);
    assert_true(slm_breaker_allow(b, 0, 30));
    slm_breaker_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_durability), cmocka_unit_test(test_usage_report), cmocka_unit_test(test_since),
        cmocka_unit_test(test_pii),              cmocka_unit_test(test_confidence),   cmocka_unit_test(test_breaker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
