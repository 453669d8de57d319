/* Router threshold calibration. The sweep is a pure function: Given, per case, the
 * local model's confidence and whether the local and the escalated answer
 * succeeded, every candidate threshold t (each distinct confidence, plus
 * +inf = escalate everything) keeps the cases with confidence >= t local
 * and escalates the rest. The curve is (t, local share, success); the
 * chosen point is the one with the largest local share whose success is
 * at least target x the all-escalated success (ties: lower threshold).
 * On a run, each confidence signal of the local target's results is swept
 * against the frontier target's results; the threshold written to slm.yaml
 * lies between the chosen point and the next lower confidence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

typedef struct item {
    double conf;
    bool local_ok, frontier_ok;
} item;

static int by_conf(const void *a, const void *b) {
    double x = ((const item *)a)->conf, y = ((const item *)b)->conf;
    return (x > y) - (x < y);
}

void slm_calib_result_free(slm_calib_result *r) {
    if (!r) return;
    free(r->curve);
    memset(r, 0, sizeof *r);
}

slm_status slm_eval_calibrate(const double *confidence, const bool *local_ok, const bool *frontier_ok, size_t n,
                              double target, slm_calib_result *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    if (n == 0 || !confidence || !local_ok || !frontier_ok)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: no cases");
    if (!(target > 0 && target <= 1)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: target must be in (0, 1]");
    item *it = slm_malloc_array(n, sizeof *it);
    out->curve = slm_malloc_array(n + 1, sizeof *out->curve);
    if (!it || !out->curve) {
        free(it);
        slm_calib_result_free(out);
        return slm_error_set(err, SLM_ERR_NOMEM, "calibrate: out of memory");
    }
    size_t frontier_total = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(confidence[i])) {
            free(it);
            slm_calib_result_free(out);
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: confidence of case %zu is NaN", i + 1);
        }
        it[i] = (item){confidence[i], local_ok[i], frontier_ok[i]};
        frontier_total += frontier_ok[i];
    }
    qsort(it, n, sizeof *it, by_conf);
    /* Walking thresholds upwards moves cases from local to escalated: keep
     * running counts instead of recounting (O(n log n) overall). */
    size_t local_success = 0, i = 0;
    for (size_t k = 0; k < n; k++) local_success += it[k].local_ok;
    size_t esc_success = 0;
    double nn = (double)n;
    while (i < n) {
        double t = it[i].conf;
        out->curve[out->n_curve++] = (slm_calib_point){t, (double)(n - i) / nn, (double)(local_success + esc_success) / nn};
        while (i < n && it[i].conf == t) {
            local_success -= it[i].local_ok;
            esc_success += it[i].frontier_ok;
            i++;
        }
    }
    out->curve[out->n_curve++] = (slm_calib_point){INFINITY, 0.0, (double)frontier_total / nn};
    out->frontier_success = (double)frontier_total / nn;
    out->target = target;
    out->chosen = out->n_curve - 1;
    double bar = target * out->frontier_success - 1e-12;
    for (size_t k = 0; k < out->n_curve; k++) {
        if (out->curve[k].success >= bar) {
            out->chosen = k; /* local share decreases along the curve: the first hit has the most */
            break;
        }
    }
    free(it);
    return SLM_OK;
}

/* ---- calibration over a run's results -------------------------------- */

#define FAILED_CONF (-1e9) /* a failed local request: below any real signal */

static const char *const SIGNAL_KEYS[] = {"min_mean_logprob", "min_token_logprob", "max_entropy"};
static const char *const SIGNAL_NAMES[] = {"mean_logprob", "min_logprob", "entropy"};

const char *slm_calib_signal_key(slm_calib_signal s) { return s < SLM_CALIB_N_SIGNALS ? SIGNAL_KEYS[s] : "?"; }
const char *slm_calib_signal_name(slm_calib_signal s) { return s < SLM_CALIB_N_SIGNALS ? SIGNAL_NAMES[s] : "?"; }

void slm_calib_choice_free(slm_calib_choice *c) {
    if (!c) return;
    slm_calib_result_free(&c->curve);
    memset(c, 0, sizeof *c);
}

/* The signal as a confidence (higher = keep local): entropy is negated. */
static double signal_conf(const slm_eval_result *r, slm_calib_signal s) {
    if (r->error) return FAILED_CONF;
    if (!r->has_conf) return NAN;
    return s == SLM_CALIB_MEAN_LOGPROB ? r->mean_logprob : s == SLM_CALIB_MIN_LOGPROB ? r->min_logprob : -r->mean_entropy;
}

/* The shortest decimal that still lies in (lo, hi]: what slm.yaml gets. */
static double round_between(double v, double lo, double hi) {
    char buf[40];
    for (int p = 2; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        double r = strtod(buf, NULL);
        if (r > lo && r <= hi) return r;
    }
    return v;
}

/* The value to write in confidence space: between the chosen threshold and
 * the next lower confidence, so every case stays on its side. Logprobs and
 * negated entropy are <= 0; slm.yaml accepts down to -1e6. */
static double write_value(const slm_calib_result *c, char *note, size_t cap) {
    size_t k = c->chosen;
    double hi = k + 1 < c->n_curve ? c->curve[k].threshold : 0.0; /* all escalated: up to 0 */
    double lo = k > 0 ? c->curve[k - 1].threshold : -1e6;
    if (k + 1 == c->n_curve) {
        if (lo >= 0) snprintf(note, cap, "every case must escalate but some local answer has confidence 0: "
                                         "route this task to the frontier tier with a rule instead");
        else snprintf(note, cap, "no threshold keeps any traffic local within the target");
        return lo >= 0 ? 0.0 : round_between(lo / 2, lo, 0.0);
    }
    if (k == 0) lo = hi - 1.0 - fabs(hi); /* everything local: a margin below the least confident */
    if (lo < -1e6) lo = -1e6;
    if (hi <= lo) return lo; /* only failed local requests below: they escalate anyway */
    return round_between((lo + hi) / 2, lo, hi);
}

static slm_status sweep(const slm_eval_result *rs, size_t n, const char *local, const char *frontier,
                        slm_calib_signal sig, double target, slm_calib_choice *out, slm_error *err) {
    double *conf = slm_malloc_array(n ? n : 1, sizeof *conf);
    bool *lok = slm_malloc_array(n ? n : 1, sizeof *lok), *fok = slm_malloc_array(n ? n : 1, sizeof *fok);
    slm_status st = conf && lok && fok ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "calibrate: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const slm_eval_result *l = &rs[i];
        if (!l->target || strcmp(l->target, local)) continue;
        const slm_eval_result *f = NULL;
        for (size_t j = 0; j < n && !f; j++)
            if (rs[j].target && !strcmp(rs[j].target, frontier) && !strcmp(rs[j].case_id, l->case_id)) f = &rs[j];
        if (!f) continue;
        conf[m] = signal_conf(l, sig);
        if (isnan(conf[m]))
            st = slm_error_set(err, SLM_ERR_INVALID_ARG,
                               "calibrate: case '%s': target '%s' reported no %s (local models and servers "
                               "returning OpenAI logprobs do)",
                               l->case_id, local, SIGNAL_NAMES[sig]);
        lok[m] = l->success, fok[m] = f->success;
        m++;
    }
    if (!st && !m) st = slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: no case answered by both '%s' and '%s'",
                                      local, frontier);
    memset(out, 0, sizeof *out);
    if (!st) st = slm_eval_calibrate(conf, lok, fok, m, target, &out->curve, err);
    if (!st) {
        out->signal = sig;
        out->n_cases = m;
        out->value = write_value(&out->curve, out->note, sizeof out->note);
        if (sig == SLM_CALIB_ENTROPY) { /* back to entropy units: keep local when entropy <= threshold */
            out->value = out->value == 0 ? 0 : -out->value;
            for (size_t k = 0; k < out->curve.n_curve; k++)
                if (isfinite(out->curve.curve[k].threshold)) out->curve.curve[k].threshold = -out->curve.curve[k].threshold;
        }
    }
    free(conf);
    free(lok);
    free(fok);
    return st;
}

slm_status slm_eval_calibrate_run(const slm_eval_result *rs, size_t n, const char *local, const char *frontier,
                                  double target, int signal, slm_calib_choice *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    if (!local || !frontier || !strcmp(local, frontier))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: needs two different targets (local, frontier)");
    if (signal >= SLM_CALIB_N_SIGNALS) return slm_error_set(err, SLM_ERR_INVALID_ARG, "calibrate: unknown signal");
    int first = signal < 0 ? 0 : signal, last = signal < 0 ? SLM_CALIB_N_SIGNALS - 1 : signal;
    for (int s = first; s <= last; s++) {
        slm_calib_choice c;
        slm_status st = sweep(rs, n, local, frontier, (slm_calib_signal)s, target, &c, err);
        if (st) {
            slm_calib_choice_free(out);
            return st;
        }
        const slm_calib_point *a = &c.curve.curve[c.curve.chosen];
        const slm_calib_point *b = out->curve.curve ? &out->curve.curve[out->curve.chosen] : NULL;
        if (!b || a->local_share > b->local_share || (a->local_share == b->local_share && a->success > b->success)) {
            slm_calib_choice_free(out);
            *out = c;
        } else slm_calib_choice_free(&c);
    }
    return SLM_OK;
}

json_t *slm_calib_choice_json(const slm_calib_choice *c, const char *local, const char *frontier) {
    json_t *curve = json_array();
    for (size_t k = 0; curve && k < c->curve.n_curve; k++) {
        const slm_calib_point *p = &c->curve.curve[k];
        json_array_append_new(curve, json_pack("{s:o,s:o,s:o}", "threshold", ev_json_num(p->threshold), "local_share",
                                               ev_json_num(p->local_share), "success", ev_json_num(p->success)));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:s,s:o}", "local", local, "frontier", frontier,
                     "signal", slm_calib_signal_name(c->signal), "key", slm_calib_signal_key(c->signal), "keep_local",
                     c->signal == SLM_CALIB_ENTROPY ? "<=" : ">=", "value", ev_json_num(c->value), "target",
                     ev_json_num(c->curve.target), "frontier_success", ev_json_num(c->curve.frontier_success),
                     "n_cases", (json_int_t)c->n_cases, "chosen", (json_int_t)c->curve.chosen, "note", c->note,
                     "curve", curve);
}

void slm_eval_calibration_text(const json_t *cal, FILE *f) {
    const json_t *curve = json_object_get(cal, "curve");
    size_t n = json_array_size(curve), chosen = (size_t)json_integer_value(json_object_get(cal, "chosen"));
    double fs = ev_num(cal, "frontier_success"), target = ev_num(cal, "target");
    fprintf(f, "\ncalibration (%s local, %s frontier, %lld cases): signal %s, keep local when %s threshold\n",
            json_string_value(json_object_get(cal, "local")), json_string_value(json_object_get(cal, "frontier")),
            (long long)json_integer_value(json_object_get(cal, "n_cases")),
            json_string_value(json_object_get(cal, "signal")), json_string_value(json_object_get(cal, "keep_local")));
    fprintf(f, "  all-frontier success %.1f%%, target %.0f%% of it = %.1f%%\n", fs * 100, target * 100, fs * target * 100);
    fprintf(f, "  %12s %8s %8s %10s\n", "threshold", "local", "success", "of front.");
    size_t step = n > 60 ? (n + 59) / 60 : 1; /* long curves: every step-th row, plus the ends and the choice */
    for (size_t k = 0; k < n; k++) {
        if (k % step && k != chosen && k + 1 != n) continue;
        const json_t *p = json_array_get(curve, k);
        double t = ev_num(p, "threshold"), s = ev_num(p, "success");
        if (isfinite(t)) fprintf(f, "  %12.4f", t);
        else fprintf(f, "  %12s", "escalate all");
        fprintf(f, " %7.1f%% %7.1f%% %9.1f%%%s\n", ev_num(p, "local_share") * 100, s * 100,
                fs > 0 ? s / fs * 100 : 100.0, k == chosen ? "  <- chosen" : "");
    }
    fprintf(f, "  -> confidence.%s: %.6g\n", json_string_value(json_object_get(cal, "key")), ev_num(cal, "value"));
    const char *note = json_string_value(json_object_get(cal, "note"));
    if (note && *note) fprintf(f, "  note: %s\n", note);
}
