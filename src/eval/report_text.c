/* Terminal report: a table per target (rates, latency, speed, cost), a
 * per-tag success table, then the failed cases with the reason. Reads the
 * report document so saved reports print the same way. */
#include <math.h>
#include <string.h>

#include "eval/eval_internal.h"

static void cell_pct(FILE *f, const json_t *m, const char *k) {
    double v = ev_num(m, k);
    if (isfinite(v)) fprintf(f, " %7.1f%%", v);
    else fprintf(f, " %8s", "-");
}

static void cell_ms(FILE *f, const json_t *m, const char *k) {
    double v = ev_num(m, k);
    if (isfinite(v)) fprintf(f, " %8.0f", v * 1000.0);
    else fprintf(f, " %8s", "-");
}

static const char *short_name(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n < cap) return s;
    snprintf(buf, cap, "...%s", s + n - (cap - 4));
    return buf;
}

/* "auto routing: local 60.0% (6), mid 40.0% (4); escalated 30.0% (3/10)" */
static void routing_text(FILE *f, const json_t *t, char *buf, size_t cap) {
    const json_t *r = json_object_get(t, "routing");
    if (!r) return;
    fprintf(f, "\n%s routing:", short_name(json_string_value(json_object_get(t, "target")), buf, cap));
    const char *k;
    json_t *v;
    const char *sep = " ";
    json_object_foreach((json_t *)json_object_get(r, "tiers"), k, v) {
        fprintf(f, "%s%s %.1f%% (%lld, success %.1f%%)", sep, k, ev_num(v, "share_pct"),
                (long long)json_integer_value(json_object_get(v, "n")),
                isfinite(ev_num(v, "success_pct")) ? ev_num(v, "success_pct") : 0.0);
        sep = ", ";
    }
    double e = ev_num(r, "escalation_pct");
    fprintf(f, "; escalated %.1f%% (%lld/%lld)\n", isfinite(e) ? e : 0.0,
            (long long)json_integer_value(json_object_get(r, "n_escalated")),
            (long long)json_integer_value(json_object_get(r, "n_routed")));
}

void slm_eval_report_text(const json_t *report, FILE *f, size_t max_failures) {
    const json_t *targets = json_object_get(report, "targets");
    fprintf(f, "suite %s: %zu results\n\n", json_string_value(json_object_get(report, "suite")),
            json_array_size(json_object_get(report, "results")));
    fprintf(f, "%-28s %5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %10s %10s\n", "target", "n", "success", "exact",
            "schema", "calls", "p50 ms", "p95 ms", "p99 ms", "ttft50", "tok/s", "cost $", "$/success");
    size_t i;
    json_t *t;
    char buf[29];
    json_array_foreach(targets, i, t) {
        const json_t *m = json_object_get(t, "metrics");
        fprintf(f, "%-28s %5lld", short_name(json_string_value(json_object_get(t, "target")), buf, sizeof buf),
                (long long)json_integer_value(json_object_get(m, "n")));
        cell_pct(f, m, "success_pct");
        cell_pct(f, m, "exact_pct");
        cell_pct(f, m, "schema_pct");
        cell_pct(f, m, "call_pct");
        cell_ms(f, m, "latency_p50_s");
        cell_ms(f, m, "latency_p95_s");
        cell_ms(f, m, "latency_p99_s");
        cell_ms(f, m, "ttft_p50_s");
        double tps = ev_num(m, "tokens_per_s"), cost = ev_num(m, "cost"), cps = ev_num(m, "cost_per_success");
        if (isfinite(tps)) fprintf(f, " %8.1f", tps);
        else fprintf(f, " %8s", "-");
        fprintf(f, " %10.4f", isfinite(cost) ? cost : 0.0);
        if (isfinite(cps)) fprintf(f, " %10.6f\n", cps);
        else fprintf(f, " %10s\n", "-");
        long long errors = json_integer_value(json_object_get(m, "n_error"));
        if (errors) fprintf(f, "%-28s %lld request(s) failed\n", "", errors);
    }
    json_array_foreach(targets, i, t) routing_text(f, t, buf, sizeof buf);
    json_array_foreach(targets, i, t) {
        const json_t *tags = json_object_get(t, "tags");
        if (!json_object_size(tags)) continue;
        fprintf(f, "\n%s by tag:\n", short_name(json_string_value(json_object_get(t, "target")), buf, sizeof buf));
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)tags, k, m) {
            fprintf(f, "  %-24s %5lld", k, (long long)json_integer_value(json_object_get(m, "n")));
            cell_pct(f, m, "success_pct");
            cell_ms(f, m, "latency_p95_s");
            fprintf(f, "\n");
        }
    }
    size_t shown = 0, failed = 0;
    json_array_foreach(json_object_get(report, "results"), i, t) {
        if (json_is_true(json_object_get(t, "success"))) continue;
        if (failed++ == 0) fprintf(f, "\nfailed cases:\n");
        if (shown >= max_failures) continue;
        shown++;
        const char *why = json_string_value(json_object_get(t, "why"));
        if (!why) why = json_string_value(json_object_get(t, "error"));
        fprintf(f, "  %s / %s: %.200s\n", json_string_value(json_object_get(t, "target")),
                json_string_value(json_object_get(t, "case")), why ? why : "failed");
    }
    if (failed > shown) fprintf(f, "  ... and %zu more (see --json or --html)\n", failed - shown);
    const json_t *cal = json_object_get(report, "calibration");
    if (cal) slm_eval_calibration_text(cal, f);
}
