/* Router threshold calibration as a pure function. Given, per case, the
 * local model's confidence and whether the local and the escalated answer
 * succeeded, every candidate threshold t (each distinct confidence, plus
 * +inf = escalate everything) keeps the cases with confidence >= t local
 * and escalates the rest. The curve is (t, local share, success); the
 * chosen point is the one with the largest local share whose success is
 * at least target x the all-escalated success (ties: lower threshold). */
#include <math.h>
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
