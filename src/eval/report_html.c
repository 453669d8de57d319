/* Self-contained HTML report: inline CSS and inline SVG charts, no
 * scripts and no network assets, so it can be attached to a CI run and
 * opened anywhere. Sections: summary table; success vs cost per target
 * (scatter); success per target (bars); latency distribution per target
 * (dot strip with p50/p95/p99 marks); tier shares of routed targets; the
 * calibration curve (with its table) when the
 * report has one; per-tag breakdown; failed cases with input, output and
 * reason. Every chart is an <svg class="chart" id="..."> for the render
 * test. Built in an ev_buf, written at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

#define W 640
#define H 260
#define PAD 48
#define MAX_FAILED_SHOWN 500

static const char *const COLORS[] = {"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"};
#define N_COLORS (sizeof COLORS / sizeof COLORS[0])

static const char CSS[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}"
    "th{background:#f3f4f6}td.l,th.l{text-align:left}.chart{border:1px solid #e5e7eb;margin:8px 0 20px;background:#fff}"
    "details{border:1px solid #e5e7eb;margin:4px 0;padding:4px 8px}pre{white-space:pre-wrap;background:#f9fafb;"
    "padding:6px;margin:4px 0}.why{color:#b91c1c}h2{margin-top:28px}";

static void fmt_num(ev_buf *b, const json_t *m, const char *k, double scale, const char *fmt) {
    double v = ev_num(m, k);
    if (isfinite(v)) ev_buf_printf(b, fmt, v * scale);
    else ev_buf_puts(b, "-");
}

static void summary_table(ev_buf *b, const json_t *targets) {
    ev_buf_puts(b, "<table id=\"summary\"><tr><th class=l>target</th><th>n</th><th>success</th><th>exact</th>"
                   "<th>schema</th><th>calls</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>TTFT p50 ms</th>"
                   "<th>tok/s</th><th>cost $</th><th>$/success</th><th>errors</th></tr>");
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        const json_t *m = json_object_get(t, "metrics");
        ev_buf_puts(b, "<tr><td class=l>");
        ev_html_escape(b, json_string_value(json_object_get(t, "target")));
        ev_buf_printf(b, "</td><td>%lld</td>", (long long)json_integer_value(json_object_get(m, "n")));
        static const char *const K[] = {"success_pct", "exact_pct", "schema_pct", "call_pct"};
        for (int k = 0; k < 4; k++) {
            ev_buf_puts(b, "<td>");
            fmt_num(b, m, K[k], 1, "%.1f%%");
            ev_buf_puts(b, "</td>");
        }
        static const char *const L[] = {"latency_p50_s", "latency_p95_s", "latency_p99_s", "ttft_p50_s"};
        for (int k = 0; k < 4; k++) {
            ev_buf_puts(b, "<td>");
            fmt_num(b, m, L[k], 1000, "%.0f");
            ev_buf_puts(b, "</td>");
        }
        ev_buf_puts(b, "<td>");
        fmt_num(b, m, "tokens_per_s", 1, "%.1f");
        ev_buf_puts(b, "</td><td>");
        fmt_num(b, m, "cost", 1, "%.4f");
        ev_buf_puts(b, "</td><td>");
        fmt_num(b, m, "cost_per_success", 1, "%.6f");
        ev_buf_printf(b, "</td><td>%lld</td></tr>", (long long)json_integer_value(json_object_get(m, "n_error")));
    }
    ev_buf_puts(b, "</table>");
}

static void svg_open(ev_buf *b, const char *id, const char *title) {
    ev_buf_printf(b, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 %d %d\" role=\"img\"><title>%s</title>",
                  id, W, H, W, H, title);
    ev_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>", PAD, H - PAD, W - 16, H - PAD);
    ev_buf_printf(b, "<line x1=\"%d\" y1=\"16\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>", PAD, PAD, H - PAD);
}

static void axis_labels(ev_buf *b, const char *x, const char *y) {
    ev_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>", (W + PAD) / 2,
                  H - 12, x);
    ev_buf_printf(b, "<text x=\"14\" y=\"%d\" font-size=\"12\" transform=\"rotate(-90 14 %d)\" "
                     "text-anchor=\"middle\">%s</text>",
                  H / 2, H / 2, y);
}

static double sx(double v, double max) { return PAD + (max > 0 ? v / max : 0) * (W - PAD - 32); }
static double sy(double v, double max) { return (H - PAD) - (max > 0 ? v / max : 0) * (H - PAD - 24); }

static void y_ticks_pct(ev_buf *b) {
    for (int p = 0; p <= 100; p += 25)
        ev_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%d%%</text>", PAD - 4,
                      sy(p, 100) + 3, p);
}

static void chart_success_cost(ev_buf *b, const json_t *targets) {
    double max_cost = 0;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        double c = ev_num(json_object_get(t, "metrics"), "cost");
        if (isfinite(c) && c > max_cost) max_cost = c;
    }
    svg_open(b, "chart-success-cost", "success vs cost per target");
    y_ticks_pct(b);
    ev_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">$%.4g</text>", W - 16, H - PAD + 14,
                  max_cost);
    json_array_foreach(targets, i, t) {
        const json_t *m = json_object_get(t, "metrics");
        double s = ev_num(m, "success_pct"), c = ev_num(m, "cost");
        if (!isfinite(s)) continue;
        double x = sx(isfinite(c) ? c : 0, max_cost > 0 ? max_cost : 1), y = sy(s, 100);
        ev_buf_printf(b, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\"/>", x, y,
                      COLORS[i % N_COLORS]);
        ev_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x + 8, y - 6);
        ev_html_escape(b, json_string_value(json_object_get(t, "target")));
        ev_buf_puts(b, "</text>");
    }
    axis_labels(b, "total cost (USD)", "success");
    ev_buf_puts(b, "</svg>");
}

static void chart_success_bars(ev_buf *b, const json_t *targets) {
    size_t n = json_array_size(targets);
    svg_open(b, "chart-success", "task success per target");
    y_ticks_pct(b);
    double slot = n ? (double)(W - PAD - 32) / (double)n : 0;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        double s = ev_num(json_object_get(t, "metrics"), "success_pct");
        if (!isfinite(s)) s = 0;
        double x = PAD + slot * (double)i + slot * 0.15, w = slot * 0.7, y = sy(s, 100);
        ev_buf_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y,
                      w, (H - PAD) - y, COLORS[i % N_COLORS]);
        ev_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.1f%%</text>",
                      x + w / 2, y - 4, s);
        ev_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">", x + w / 2, H - PAD + 14);
        const char *name = json_string_value(json_object_get(t, "target"));
        size_t len = strlen(name);
        ev_html_escape(b, len > 28 ? name + len - 28 : name);
        ev_buf_puts(b, "</text>");
    }
    ev_buf_puts(b, "</svg>");
}

/* One row per target: every answered case's latency as a dot, p50/p95/p99 as ticks. */
static void chart_latency(ev_buf *b, const json_t *targets, const json_t *results) {
    double max = 0;
    size_t i, k;
    json_t *t, *r;
    json_array_foreach(results, k, r) {
        double l = ev_num(r, "latency_s");
        if (isfinite(l) && json_is_null(json_object_get(r, "error")) && l > max) max = l;
    }
    if (max <= 0) max = 1;
    svg_open(b, "chart-latency", "latency distribution per target");
    ev_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%.0f ms</text>", W - 16,
                  H - PAD + 14, max * 1000);
    size_t n = json_array_size(targets);
    double row = n ? (double)(H - PAD - 24) / (double)n : 0;
    json_array_foreach(targets, i, t) {
        const char *name = json_string_value(json_object_get(t, "target"));
        double y = 24 + row * ((double)i + 0.5);
        json_array_foreach(results, k, r) {
            const char *rt = json_string_value(json_object_get(r, "target"));
            double l = ev_num(r, "latency_s");
            if (!rt || strcmp(rt, name) || !isfinite(l) || !json_is_null(json_object_get(r, "error"))) continue;
            ev_buf_printf(b, "<circle class=\"lat\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\" opacity=\"0.5\"/>",
                          sx(l, max), y + (double)(k % 7) - 3, COLORS[i % N_COLORS]);
        }
        static const char *const P[] = {"latency_p50_s", "latency_p95_s", "latency_p99_s"};
        static const char *const PL[] = {"p50", "p95", "p99"};
        for (int p = 0; p < 3; p++) {
            double v = ev_num(json_object_get(t, "metrics"), P[p]);
            if (!isfinite(v)) continue;
            ev_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111\" stroke-width=\"2\"/>",
                          sx(v, max), y - 9, sx(v, max), y + 9);
            ev_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%s</text>", sx(v, max),
                          y - 11, PL[p]);
        }
    }
    axis_labels(b, "latency", "target");
    ev_buf_puts(b, "</svg>");
}

/* The curve's points as a table (every point up to 200, the chosen one bold). */
static void calibration_table(ev_buf *b, const json_t *cal) {
    const json_t *curve = json_object_get(cal, "curve");
    size_t n = json_array_size(curve), chosen = (size_t)json_integer_value(json_object_get(cal, "chosen"));
    size_t step = n > 200 ? (n + 199) / 200 : 1;
    ev_buf_puts(b, "<p>signal ");
    ev_html_escape(b, json_string_value(json_object_get(cal, "signal")));
    ev_buf_printf(b, " (keep local when %s threshold); all-frontier success %.1f%%, target %.0f%% of it; "
                     "chosen: confidence.",
                  json_is_string(json_object_get(cal, "keep_local")) ? (strcmp(json_string_value(json_object_get(cal, "keep_local")), "<=") ? "&ge;" : "&le;") : "&ge;",
                  ev_num(cal, "frontier_success") * 100, ev_num(cal, "target") * 100);
    ev_html_escape(b, json_string_value(json_object_get(cal, "key")));
    ev_buf_printf(b, " = %.6g</p><table id=\"calibration\"><tr><th>threshold</th><th>local share</th>"
                     "<th>success</th></tr>", ev_num(cal, "value"));
    for (size_t k = 0; k < n; k++) {
        if (k % step && k != chosen && k + 1 != n) continue;
        const json_t *p = json_array_get(curve, k);
        ev_buf_printf(b, "<tr%s><td>", k == chosen ? " style=\"font-weight:bold\"" : "");
        fmt_num(b, p, "threshold", 1, "%.4f");
        if (!isfinite(ev_num(p, "threshold"))) ev_buf_puts(b, " (escalate all)");
        ev_buf_printf(b, "</td><td>%.1f%%</td><td>%.1f%%</td></tr>", ev_num(p, "local_share") * 100,
                      ev_num(p, "success") * 100);
    }
    ev_buf_puts(b, "</table>");
}

/* report.calibration = {curve:[{threshold, local_share, success}], chosen} */
static void chart_calibration(ev_buf *b, const json_t *cal) {
    const json_t *curve = json_object_get(cal, "curve");
    if (!json_array_size(curve)) return;
    ev_buf_puts(b, "<h2>Calibration: local share vs success</h2>");
    svg_open(b, "chart-calibration", "router calibration curve");
    y_ticks_pct(b);
    ev_buf_puts(b, "<polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"");
    size_t i;
    json_t *p;
    json_array_foreach(curve, i, p)
        ev_buf_printf(b, "%.1f,%.1f ", sx(ev_num(p, "local_share"), 1), sy(ev_num(p, "success") * 100, 100));
    ev_buf_puts(b, "\"/>");
    const json_t *c = json_array_get(curve, (size_t)json_integer_value(json_object_get(cal, "chosen")));
    if (c)
        ev_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"#dc2626\"/>", sx(ev_num(c, "local_share"), 1),
                      sy(ev_num(c, "success") * 100, 100));
    axis_labels(b, "share answered locally", "success");
    ev_buf_puts(b, "</svg>");
    calibration_table(b, cal);
}

static void routing_table(ev_buf *b, const json_t *targets);

/* Routed targets: one stacked bar per target of the share each tier
 * answered (colours by tier, legend below), then a table with the
 * escalation rate. */
static void chart_tiers(ev_buf *b, const json_t *targets) {
    size_t i, n = 0;
    json_t *t;
    json_array_foreach(targets, i, t) n += json_object_get(t, "routing") != NULL;
    if (!n) return;
    json_t *names = json_array(); /* tier names in first-seen order -> colour index */
    ev_buf_puts(b, "<h2>Routing: share answered per tier</h2>");
    svg_open(b, "chart-tiers", "share of cases answered per tier");
    double row = (double)(H - PAD - 24) / (double)n, y = 20;
    json_array_foreach(targets, i, t) {
        const json_t *r = json_object_get(t, "routing");
        if (!r) continue;
        double x = PAD;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(r, "tiers"), k, v) {
            size_t c = 0;
            while (c < json_array_size(names) && strcmp(json_string_value(json_array_get(names, c)), k)) c++;
            if (c == json_array_size(names)) json_array_append_new(names, json_string(k));
            double share = ev_num(v, "share_pct"), w = (isfinite(share) ? share : 0) / 100.0 * (W - PAD - 32);
            ev_buf_printf(b, "<rect class=\"tier\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                             "fill=\"%s\"><title>",
                          x, y + row * 0.2, w, row * 0.6, COLORS[c % N_COLORS]);
            ev_html_escape(b, k);
            ev_buf_printf(b, " %.1f%%</title></rect>", isfinite(share) ? share : 0);
            x += w;
        }
        ev_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">", PAD - 4, y + row * 0.55);
        const char *name = json_string_value(json_object_get(t, "target"));
        size_t len = strlen(name);
        ev_html_escape(b, len > 8 ? name + len - 8 : name);
        ev_buf_puts(b, "</text>");
        y += row;
    }
    for (size_t c = 0; c < json_array_size(names); c++) {
        double lx = PAD + 110.0 * (double)c;
        ev_buf_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>", lx, H - PAD + 8,
                      COLORS[c % N_COLORS]);
        ev_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">", lx + 14, H - PAD + 17);
        ev_html_escape(b, json_string_value(json_array_get(names, c)));
        ev_buf_puts(b, "</text>");
    }
    ev_buf_puts(b, "</svg>");
    routing_table(b, targets);
    json_decref(names);
}

static void routing_table(ev_buf *b, const json_t *targets) {
    size_t i;
    json_t *t;
    ev_buf_puts(b, "<table id=\"routing\"><tr><th class=l>target</th><th class=l>tier</th><th>n</th>"
                   "<th>share</th><th>success</th><th>escalated</th></tr>");
    json_array_foreach(targets, i, t) {
        const json_t *r = json_object_get(t, "routing");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(r, "tiers"), k, v) {
            ev_buf_puts(b, "<tr><td class=l>");
            ev_html_escape(b, json_string_value(json_object_get(t, "target")));
            ev_buf_puts(b, "</td><td class=l>");
            ev_html_escape(b, k);
            ev_buf_printf(b, "</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(v, "n")));
            fmt_num(b, v, "share_pct", 1, "%.1f%%");
            ev_buf_puts(b, "</td><td>");
            fmt_num(b, v, "success_pct", 1, "%.1f%%");
            ev_buf_puts(b, "</td><td>");
            fmt_num(b, r, "escalation_pct", 1, "%.1f%%");
            ev_buf_puts(b, "</td></tr>");
        }
    }
    ev_buf_puts(b, "</table>");
}

static void tag_tables(ev_buf *b, const json_t *targets) {
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t) {
        const json_t *tags = json_object_get(t, "tags");
        if (!json_object_size(tags)) continue;
        ev_buf_puts(b, "<h3>");
        ev_html_escape(b, json_string_value(json_object_get(t, "target")));
        ev_buf_puts(b, "</h3><table class=\"tags\"><tr><th class=l>tag</th><th>n</th><th>success</th><th></th>"
                       "<th>p95 ms</th></tr>");
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)tags, k, m) {
            double s = ev_num(m, "success_pct");
            ev_buf_puts(b, "<tr><td class=l>");
            ev_html_escape(b, k);
            ev_buf_printf(b, "</td><td>%lld</td><td>", (long long)json_integer_value(json_object_get(m, "n")));
            fmt_num(b, m, "success_pct", 1, "%.1f%%");
            ev_buf_printf(b, "</td><td><svg width=\"120\" height=\"10\"><rect width=\"%.0f\" height=\"10\" "
                             "fill=\"#16a34a\"/><rect x=\"%.0f\" width=\"%.0f\" height=\"10\" fill=\"#fca5a5\"/></svg>"
                             "</td><td>",
                          isfinite(s) ? 1.2 * s : 0, isfinite(s) ? 1.2 * s : 0, isfinite(s) ? 120 - 1.2 * s : 120);
            fmt_num(b, m, "latency_p95_s", 1000, "%.0f");
            ev_buf_puts(b, "</td></tr>");
        }
        ev_buf_puts(b, "</table>");
    }
}

static void failed_cases(ev_buf *b, const json_t *results) {
    size_t i, shown = 0, failed = 0;
    json_t *r;
    json_array_foreach(results, i, r) {
        if (json_is_true(json_object_get(r, "success"))) continue;
        if (failed++ >= MAX_FAILED_SHOWN) continue;
        shown++;
        ev_buf_puts(b, "<details class=\"failed\"><summary>");
        ev_html_escape(b, json_string_value(json_object_get(r, "target")));
        ev_buf_puts(b, " / <b>");
        ev_html_escape(b, json_string_value(json_object_get(r, "case")));
        ev_buf_puts(b, "</b>: <span class=why>");
        const char *why = json_string_value(json_object_get(r, "why"));
        if (!why) why = json_string_value(json_object_get(r, "error"));
        ev_html_escape(b, why ? why : "failed");
        ev_buf_puts(b, "</span></summary><div>input</div><pre>");
        ev_html_escape(b, json_string_value(json_object_get(r, "input")));
        ev_buf_puts(b, "</pre><div>output</div><pre>");
        ev_html_escape(b, json_string_value(json_object_get(r, "output")));
        ev_buf_puts(b, "</pre>");
        const json_t *jg = json_object_get(r, "judge");
        if (jg) {
            ev_buf_printf(b, "<div>judge: %s, score %lld</div><pre>",
                          json_is_true(json_object_get(jg, "pass")) ? "pass" : "fail",
                          (long long)json_integer_value(json_object_get(jg, "score")));
            ev_html_escape(b, json_string_value(json_object_get(jg, "reason")));
            ev_buf_puts(b, "</pre>");
        }
        const json_t *tc = json_object_get(r, "tool_calls");
        if (json_array_size(tc)) {
            char *s = json_dumps(tc, JSON_INDENT(1));
            ev_buf_puts(b, "<div>tool calls</div><pre>");
            ev_html_escape(b, s);
            ev_buf_puts(b, "</pre>");
            free(s);
        }
        ev_buf_puts(b, "</details>");
    }
    if (!failed) ev_buf_puts(b, "<p>No failed cases.</p>");
    else if (failed > shown) ev_buf_printf(b, "<p>... and %zu more in the JSON report.</p>", failed - shown);
}

slm_status slm_eval_report_html(const json_t *report, FILE *f, slm_error *err) {
    const json_t *targets = json_object_get(report, "targets"), *results = json_object_get(report, "results");
    const char *suite = json_string_value(json_object_get(report, "suite"));
    ev_buf b = {0};
    ev_buf_puts(&b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>slm eval: ");
    ev_html_escape(&b, suite ? suite : "");
    ev_buf_printf(&b, "</title><style>%s</style></head><body><h1>slm eval: ", CSS);
    ev_html_escape(&b, suite ? suite : "");
    ev_buf_printf(&b, "</h1><p>%zu results from %zu target(s).</p><h2>Summary</h2>", json_array_size(results),
                  json_array_size(targets));
    summary_table(&b, targets);
    ev_buf_puts(&b, "<h2>Success vs cost</h2>");
    chart_success_cost(&b, targets);
    chart_success_bars(&b, targets);
    ev_buf_puts(&b, "<h2>Latency</h2>");
    chart_latency(&b, targets, results);
    chart_tiers(&b, targets);
    chart_calibration(&b, json_object_get(report, "calibration"));
    ev_buf_puts(&b, "<h2>By tag</h2>");
    tag_tables(&b, targets);
    ev_buf_puts(&b, "<h2>Failed cases</h2>");
    failed_cases(&b, results);
    ev_buf_puts(&b, "</body></html>\n");
    slm_status st = SLM_OK;
    if (!b.ok) st = slm_error_set(err, SLM_ERR_NOMEM, "html: out of memory");
    else if (fwrite(b.p, 1, b.len, f) != b.len) st = slm_error_set(err, SLM_ERR_IO, "html: write failed");
    ev_buf_free(&b);
    return st;
}
