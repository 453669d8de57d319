/* The router end to end against a real fake upstream process on a loopback
 * port (tests/router/fake_upstream.py): retries, fallback to the next model
 * then the next tier, a closed port, a hanging upstream (timeout), cooldown,
 * sensitive requests never sent out (the upstream's request log stays
 * empty), confidence escalation, budgets, streaming pass-through, and one
 * ledger row per request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slm/router.h"

static pid_t g_pid;
static int g_port;
static char g_log[1024], g_tmp[512];

static int start_upstream(void **state) {
    (void)state;
    char src[1024], script[1200];
    snprintf(src, sizeof src, "%s", __FILE__);
    snprintf(script, sizeof script, "%s/../router/fake_upstream.py", dirname(src));
    const char *base = getenv("SLM_TEST_TMP") ? getenv("SLM_TEST_TMP") : "/tmp";
    mkdir(base, 0700);
    snprintf(g_tmp, sizeof g_tmp, "%s/router-exec-%d", base, (int)getpid());
    mkdir(g_tmp, 0700);
    snprintf(g_log, sizeof g_log, "%s/upstream.log", g_tmp);
    int fd[2];
    if (pipe(fd)) return -1;
    g_pid = fork();
    if (g_pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        execlp("python3", "python3", script, "--log", g_log, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[32] = {0};
    size_t n = 0; /* read up to the newline: the port may come in pieces */
    while (n < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t k = read(fd[0], buf + n, sizeof buf - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd[0]);
    g_port = atoi(buf);
    return g_port > 0 ? 0 : -1;
}

static int stop_upstream(void **state) {
    (void)state;
    kill(g_pid, SIGKILL);
    waitpid(g_pid, NULL, 0);
    return 0;
}

/* Lines in the upstream log mentioning a string (0 if no log yet). */
static int log_count(const char *needle) {
    FILE *f = fopen(g_log, "r");
    if (!f) return 0;
    char line[65536];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static slm_router *router(const char *tiers_yaml, const char *extra, const char *ledger_name) {
    char text[8192], ledger[700];
    int len = snprintf(text, sizeof text,
                       "reliability: {retries: 2, backoff: 0.01, backoff_max: 0.05, cooldown_failures: 2, cooldown: 60}\n"
                       "%s\n", extra ? extra : "");
    /* tiers with PORT replaced by the fake upstream's port */
    for (const char *p = tiers_yaml; *p && len < (int)sizeof text - 16; p++) {
        if (!strncmp(p, "PORT", 4)) {
            len += snprintf(text + len, sizeof text - (size_t)len, "%d", g_port);
            p += 3;
        } else text[len++] = *p;
    }
    text[len] = '\0';
    slm_route_config *c = NULL;
    slm_error err = {0};
    if (slm_route_config_parse(text, strlen(text), "exec.yaml", &c, &err)) fprintf(stderr, "%s\n", err.msg);
    assert_non_null(c);
    snprintf(ledger, sizeof ledger, "%s/%s.db", g_tmp, ledger_name);
    unlink(ledger);
    slm_router *r = NULL;
    assert_int_equal(slm_router_open(c, ledger, &r, &err), SLM_OK);
    return r;
}

/* The fake local engine: answers with a fixed text and the signals in ctx. */
typedef struct fake_local {
    double mean_logprob;
    int calls;
} fake_local;

static slm_status local_fn(void *ctx, const slm_route_model *m, const json_t *body, bool may_stream, int64_t buf,
                           slm_local_answer *out) {
    (void)body;
    (void)may_stream;
    (void)buf;
    fake_local *f = ctx;
    f->calls++;
    out->response = json_pack("{s:s,s:[{s:{s:s}}]}", "model", m->name, "choices", "message", "content", "local answer");
    out->signals.mean_logprob = f->mean_logprob;
    out->signals.text = "local answer";
    out->signals.text_len = 12;
    out->tokens_in = 5;
    out->tokens_out = 2;
    out->http_status = 200;
    return SLM_OK;
}

static void run(slm_router *r, const char *body_json, fake_local *fl, slm_route_outcome *o) {
    json_t *body = json_loads(body_json, 0, NULL);
    assert_non_null(body);
    slm_route_request req = {.body = body, .key_id = "k1"};
    assert_int_equal(slm_router_handle(r, &req, local_fn, fl, NULL, NULL, o, NULL), SLM_OK);
    json_decref(body);
}

static const char *answer_of(const slm_route_outcome *o) {
    return json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(o->response, "choices"), 0), "message"), "content"));
}

#define MSG(text) "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"" text "\"}]}"

static void test_retry_then_ok(void **state) {
    (void)state;
    slm_router *r = router("tiers:\n  - name: mid\n    models: [{name: m, base_url: 'http://127.0.0.1:PORT/v1', "
                           "model: flaky2-a, input_cost_per_million: 1000000, output_cost_per_million: 0}]\n",
                           NULL, "retry");
    slm_route_outcome o;
    run(r, MSG("hello"), NULL, &o);
    assert_int_equal(o.http_status, 200);
    assert_string_equal(answer_of(&o), "answer from flaky2-a");
    assert_non_null(strstr(o.tried, "ok after retry"));
    assert_int_equal(log_count("flaky2-a"), 3); /* 2 failures + 1 success */
    assert_true(fabs(o.cost_usd - 10.0) < 1e-9); /* 10 prompt tokens at $1/token */
    slm_route_outcome_free(&o);
    slm_router_close(r);
}

static void test_fallback_model_then_tier(void **state) {
    (void)state;
    slm_router *r = router("tiers:\n"
                           "  - name: mid\n    models:\n"
                           "      - {name: a, base_url: 'http://127.0.0.1:PORT/v1', model: e500-a}\n"
                           "      - {name: b, base_url: 'http://127.0.0.1:1/v1'}\n"
                           "      - {name: c, base_url: 'http://127.0.0.1:PORT/v1', model: close-c}\n"
                           "      - {name: d, base_url: 'http://127.0.0.1:PORT/v1', model: hang-d, timeout: 0.3}\n"
                           "  - name: frontier\n    models: [{name: f, base_url: 'http://127.0.0.1:PORT/v1', model: ok-f}]\n",
                           NULL, "fallback");
    slm_route_outcome o;
    run(r, MSG("hello"), NULL, &o);
    assert_int_equal(o.http_status, 200);
    assert_string_equal(answer_of(&o), "answer from ok-f");
    assert_int_equal(o.tier, 1);
    assert_non_null(strstr(o.tried, "mid/a: HTTP 500"));
    assert_non_null(strstr(o.tried, "mid/b: "));   /* closed port */
    assert_non_null(strstr(o.tried, "mid/c: "));   /* connection closed */
    assert_non_null(strstr(o.tried, "mid/d: "));   /* timeout */
    assert_non_null(strstr(o.tried, "frontier/f: ok"));
    assert_int_equal(log_count("e500-a"), 3); /* retried */
    assert_int_equal(log_count("hang-d"), 3); /* timeouts are retried too */
    slm_route_outcome_free(&o);
    /* cooldown: after 2 failing requests' worth, a and c are skipped */
    run(r, MSG("hello again"), NULL, &o);
    slm_route_outcome_free(&o);
    int before = log_count("e500-a");
    run(r, MSG("third"), NULL, &o);
    assert_int_equal(o.http_status, 200);
    assert_non_null(strstr(o.tried, "mid/a: cooling down"));
    assert_int_equal(log_count("e500-a"), before); /* not contacted */
    slm_route_outcome_free(&o);
    slm_router_close(r);
}

static const char *THREE =
    "tiers:\n"
    "  - name: local\n    models: [{name: small, local: true}]\n"
    "  - name: mid\n    models: [{name: m, base_url: 'http://127.0.0.1:PORT/v1', model: ok-mid, "
    "input_cost_per_million: 100000, output_cost_per_million: 100000}]\n"
    "  - name: frontier\n    models: [{name: f, base_url: 'http://127.0.0.1:PORT/v1', model: ok-front}]\n";

static void test_sensitive_never_sent(void **state) {
    (void)state;
    slm_router *r = router(THREE, NULL, "sensitive");
    fake_local fl = {.mean_logprob = -0.1};
    slm_route_outcome o;
    run(r, MSG("Write an essay about IBAN DE89 3704 0044 0532 0130 00"), &fl, &o);
    assert_int_equal(o.http_status, 200);
    assert_int_equal(o.tier, 0);
    assert_true(o.decision.sensitive);
    assert_string_equal(answer_of(&o), "local answer");
    slm_route_outcome_free(&o);
    /* named remote model + sensitive: refused, never sent */
    run(r, "{\"model\":\"f\",\"messages\":[{\"role\":\"user\",\"content\":\"call +44 20 7946 0958\"}]}", &fl, &o);
    assert_int_equal(o.http_status, 403);
    assert_int_equal(log_count("7946"), 0);
    assert_int_equal(log_count("DE89"), 0);
    slm_route_outcome_free(&o);
    slm_router_close(r);
}

static void test_escalation_and_budget(void **state) {
    (void)state;
    slm_router *r = router(THREE, "confidence: {min_mean_logprob: -1.0}\nbudgets: {daily_usd: 1.0}\n", "escalate");
    fake_local fl = {.mean_logprob = -3.0};
    slm_route_outcome o;
    run(r, MSG("Classify this ticket"), &fl, &o);
    assert_int_equal(o.http_status, 200);
    assert_true(o.escalated);
    assert_int_equal(o.tier, 1);
    assert_string_equal(answer_of(&o), "answer from ok-mid");
    assert_non_null(strstr(o.tried, "local/small: escalated (mean_logprob -3.000 < -1.000)"));
    assert_true(o.cost_usd > 1.0); /* 13 tokens at $0.1 each */
    slm_route_outcome_free(&o);
    double day, month;
    slm_router_spent(r, "k1", &day, &month);
    assert_true(day > 1.0);
    /* over budget: remote tiers are dropped; the weak local answer stays */
    int before = log_count("ok-mid");
    run(r, MSG("Classify this other ticket"), &fl, &o);
    assert_int_equal(o.http_status, 200);
    assert_int_equal(o.tier, 0);
    assert_false(o.escalated);
    assert_non_null(strstr(o.decision.skipped, "over budget"));
    assert_int_equal(log_count("ok-mid"), before);
    slm_route_outcome_free(&o);
    /* confident local answer: no escalation */
    fl.mean_logprob = -0.2;
    slm_router_close(r);
    r = router(THREE, "confidence: {min_mean_logprob: -1.0}\n", "confident");
    run(r, MSG("Classify this ticket"), &fl, &o);
    assert_false(o.escalated);
    assert_int_equal(o.tier, 0);
    slm_route_outcome_free(&o);
    slm_router_close(r);
}

static void test_budget_fail_mode(void **state) {
    (void)state;
    slm_router *r = router(THREE, "budgets: {daily_usd: 0.5, on_exceeded: fail}\n", "budgetfail");
    slm_route_outcome o;
    run(r, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, &o);
    assert_int_equal(o.http_status, 200);
    slm_route_outcome_free(&o);
    run(r, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"write an essay\"}]}", NULL, &o);
    assert_int_equal(o.http_status, 429);
    assert_non_null(strstr(o.error, "budget"));
    slm_route_outcome_free(&o);
    slm_router_close(r);
}

typedef struct sink {
    char buf[8192];
    size_t len;
} sink;

static bool sink_fn(void *ctx, const char *data, size_t len) {
    sink *s = ctx;
    if (s->len + len < sizeof s->buf) memcpy(s->buf + s->len, data, len), s->len += len;
    return true;
}

static void test_stream_and_ledger(void **state) {
    (void)state;
    slm_router *r = router(THREE, NULL, "stream");
    json_t *body = json_loads("{\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                              "\"content\":\"write an essay\"}]}", 0, NULL);
    slm_route_request req = {.body = body};
    sink s = {.len = 0};
    slm_route_outcome o;
    assert_int_equal(slm_router_handle(r, &req, local_fn, NULL, sink_fn, &s, &o, NULL), SLM_OK);
    json_decref(body);
    s.buf[s.len] = '\0';
    assert_int_equal(o.http_status, 200);
    assert_true(o.streamed);
    assert_null(o.response);
    assert_non_null(strstr(s.buf, "data: "));
    assert_non_null(strstr(s.buf, "ok-front"));
    assert_non_null(strstr(s.buf, "[DONE]"));
    slm_route_outcome_free(&o);
    slm_router_close(r);
    /* the ledger has the row with usage from the stream's usage chunk */
    char path[700];
    snprintf(path, sizeof path, "%s/stream.db", g_tmp);
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open(path, &l, NULL), SLM_OK);
    int64_t n = 0;
    assert_int_equal(slm_ledger_count(l, 0, &n, NULL), SLM_OK);
    assert_int_equal(n, 1);
    json_t *rep = NULL;
    assert_int_equal(slm_usage_report(l, 0, &rep, NULL), SLM_OK);
    json_t *fr = json_object_get(json_object_get(rep, "tiers"), "frontier");
    assert_int_equal(json_integer_value(json_object_get(fr, "requests")), 1);
    assert_int_equal(json_integer_value(json_object_get(fr, "tokens_in")), 7);
    json_decref(rep);
    slm_ledger_close(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_then_ok),       cmocka_unit_test(test_fallback_model_then_tier),
        cmocka_unit_test(test_sensitive_never_sent), cmocka_unit_test(test_escalation_and_budget),
        cmocka_unit_test(test_budget_fail_mode),     cmocka_unit_test(test_stream_and_ledger),
    };
    return cmocka_run_group_tests(tests, start_upstream, stop_upstream);
}
