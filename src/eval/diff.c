/* Comparing two reports (A = baseline, B = candidate) to catch
 * regressions in CI: per target present in both, the rates and p95
 * latency side by side, and the cases that passed in A and fail in B. A
 * rate that drops by more than tol points, or a newly failing case, is a
 * regression; targets or cases present in only one report are listed but
 * not counted. */
#include <math.h>
#include <string.h>

#include "eval/eval_internal.h"

static const json_t *find_target(const json_t *report, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(report, "targets"), i, t) {
        const char *n = json_string_value(json_object_get(t, "target"));
        if (n && !strcmp(n, name)) return t;
    }
    return NULL;
}

static const json_t *find_result(const json_t *report, const char *target, const char *id) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(report, "results"), i, r) {
        const char *t = json_string_value(json_object_get(r, "target")), *c = json_string_value(json_object_get(r, "case"));
        if (t && c && !strcmp(t, target) && !strcmp(c, id)) return r;
    }
    return NULL;
}

static size_t compare_metric(FILE *f, const char *label, const json_t *ma, const json_t *mb, const char *k,
                             double tol) {
    double a = ev_num(ma, k), b = ev_num(mb, k);
    if (!isfinite(a) && !isfinite(b)) return 0;
    bool reg = isfinite(a) && (!isfinite(b) || b < a - tol);
    fprintf(f, "  %-16s %8.1f%% -> %8.1f%%  %+6.1f%s\n", label, isfinite(a) ? a : 0, isfinite(b) ? b : 0,
            (isfinite(b) ? b : 0) - (isfinite(a) ? a : 0), reg ? "  REGRESSION" : "");
    return reg;
}

slm_status slm_eval_diff(const json_t *a, const json_t *b, double tol_pct, FILE *f, size_t *regressions,
                         slm_error *err) {
    *regressions = 0;
    if (!a || !b || !f) return slm_error_set(err, SLM_ERR_INVALID_ARG, "diff: NULL argument");
    size_t i;
    json_t *ta;
    json_array_foreach(json_object_get(a, "targets"), i, ta) {
        const char *name = json_string_value(json_object_get(ta, "target"));
        const json_t *tb = name ? find_target(b, name) : NULL;
        if (!tb) {
            fprintf(f, "%s: only in A\n", name ? name : "?");
            continue;
        }
        const json_t *ma = json_object_get(ta, "metrics"), *mb = json_object_get(tb, "metrics");
        fprintf(f, "%s:\n", name);
        *regressions += compare_metric(f, "success", ma, mb, "success_pct", tol_pct);
        *regressions += compare_metric(f, "exact match", ma, mb, "exact_pct", tol_pct);
        *regressions += compare_metric(f, "schema valid", ma, mb, "schema_pct", tol_pct);
        *regressions += compare_metric(f, "executable calls", ma, mb, "call_pct", tol_pct);
        double la = ev_num(ma, "latency_p95_s"), lb = ev_num(mb, "latency_p95_s");
        if (isfinite(la) && isfinite(lb))
            fprintf(f, "  %-16s %8.0fms -> %7.0fms  %+6.0f%%\n", "p95 latency", la * 1000, lb * 1000,
                    la > 0 ? 100 * (lb - la) / la : 0);
        size_t k;
        json_t *ra;
        json_array_foreach(json_object_get(a, "results"), k, ra) {
            const char *t = json_string_value(json_object_get(ra, "target"));
            const char *id = json_string_value(json_object_get(ra, "case"));
            if (!t || !id || strcmp(t, name) || !json_is_true(json_object_get(ra, "success"))) continue;
            const json_t *rb = find_result(b, name, id);
            if (!rb || json_is_true(json_object_get(rb, "success"))) continue;
            const char *why = json_string_value(json_object_get(rb, "why"));
            fprintf(f, "  newly failing: %s (%.200s)\n", id, why ? why : "failed");
            (*regressions)++;
        }
    }
    json_array_foreach(json_object_get(b, "targets"), i, ta) {
        const char *name = json_string_value(json_object_get(ta, "target"));
        if (name && !find_target(a, name)) fprintf(f, "%s: only in B\n", name);
    }
    fprintf(f, "%zu regression(s)\n", *regressions);
    return SLM_OK;
}
