/* top_k, typical, top_p, min_p and temperature over candidate arrays (see
 * filters.h). */
#include "sample/filters.h"

#include <math.h>
#include <stdlib.h>

void slm_filter_top_k(slm_cand *c, int32_t *n, int32_t k, bool *sorted) {
    if (k <= 0 || k >= *n) return;
    slm_cand_select_top(c, *n, k);
    *n = k;
    *sorted = true;
}

static int cmp_typ(const void *a, const void *b) {
    const slm_typ_entry *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return slm_cand_better(&x->c, &y->c) ? -1 : slm_cand_better(&y->c, &x->c) ? 1 : 0;
}

void slm_filter_typical(slm_cand *c, int32_t *n, float p, bool *sorted, slm_typ_entry *scratch) {
    if (!(p < 1.0f) || *n <= 1) return;
    float max = slm_cand_max(c, *n);
    double z = slm_cand_weight_sum(c, *n, max);
    double entropy = 0.0;
    for (int32_t i = 0; i < *n; i++) {
        double pi = slm_cand_weight(c[i].logit, max) / z;
        scratch[i].c = c[i];
        scratch[i].p = (float)pi;
        if (pi > 0.0) entropy -= pi * log(pi);
    }
    for (int32_t i = 0; i < *n; i++) {
        /* -log(0) = inf: such a token is maximally atypical, sorted last */
        double surprise = scratch[i].p > 0.0f ? -log((double)scratch[i].p) : INFINITY;
        scratch[i].score = (float)fabs(surprise - entropy);
    }
    qsort(scratch, (size_t)*n, sizeof *scratch, cmp_typ);
    double cum = 0.0;
    int32_t keep = *n;
    for (int32_t i = 0; i < *n; i++) {
        cum += scratch[i].p;
        if (cum > p) {
            keep = i + 1;
            break;
        }
    }
    for (int32_t i = 0; i < keep; i++) c[i] = scratch[i].c;
    *n = keep;
    *sorted = false;
}

/* Index after the last token of the nucleus within the sorted prefix
 * c[0..len), or -1 when the prefix does not reach mass p. */
static int32_t nucleus_end(const slm_cand *c, int32_t len, float p, float max, double z) {
    double cum = 0.0;
    for (int32_t i = 0; i < len; i++) {
        cum += slm_cand_weight(c[i].logit, max) / z;
        if (cum >= p) return i + 1;
    }
    return -1;
}

void slm_filter_top_p(slm_cand *c, int32_t *n, float p, float max, double z, bool *sorted) {
    if (!(p < 1.0f) || *n <= 1) return;
    if (*sorted) {
        int32_t end = nucleus_end(c, *n, p, max, z);
        if (end > 0) *n = end;
        return;
    }
    int32_t k = *n < 64 ? *n : 64;
    for (;;) {
        slm_cand_select_top(c, *n, k);
        int32_t end = nucleus_end(c, k, p, max, z);
        if (end > 0) {
            *n = end;
            break;
        }
        if (k == *n) break; /* whole set sorted and mass not reached: keep all */
        k = (k > *n / 8) ? *n : k * 8;
    }
    *sorted = true;
}

void slm_filter_min_p(slm_cand *c, int32_t *n, float min_p) {
    if (!(min_p > 0.0f) || *n <= 1) return;
    float max = slm_cand_max(c, *n);
    float threshold = max + logf(min_p);
    int32_t kept = 0, best = 0;
    for (int32_t i = 0; i < *n; i++) {
        if (slm_cand_better(&c[i], &c[best])) best = i;
        if (c[i].logit >= threshold) c[kept++] = c[i];
    }
    if (kept == 0) { /* min_p > 1: keep the single best (min_keep = 1) */
        c[0] = c[best];
        kept = 1;
    }
    *n = kept;
}

void slm_filter_temperature(slm_cand *c, int32_t n, float t) {
    for (int32_t i = 0; i < n; i++) c[i].logit /= t;
}
