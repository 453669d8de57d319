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
    if (!(p > 0.0f && p < 1.0f) || *n <= 1) return;
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
 * c[0..len), whose preceding tokens already hold mass cum0; -1 when the
 * prefix does not reach mass p. */
static int32_t nucleus_end(const slm_cand *c, int32_t len, float p, float max, double z, double cum0) {
    double cum = cum0;
    for (int32_t i = 0; i < len; i++) {
        cum += slm_cand_weight(c[i].logit, max) / z;
        if (cum >= p) return i + 1;
    }
    return -1;
}

enum { TOP_P_FIRST = 64, TOP_P_BUCKETS = 1024 };

/* Bucket 0 holds the highest logits; scale = TOP_P_BUCKETS / (max - min). */
static int32_t bucket_of(float l, float max, float scale) {
    int32_t b = (int32_t)((max - l) * scale);
    return b < TOP_P_BUCKETS ? b : TOP_P_BUCKETS - 1;
}

static void swap_cand(slm_cand *a, slm_cand *b) {
    slm_cand t = *a;
    *a = *b;
    *b = t;
}

/* Large nucleus without a full sort: histogram the mass by logit bucket,
 * find the bucket where the cumulative mass crosses p, keep every bucket
 * above it whole and sort only the boundary bucket to place the exact cut.
 * The kept set is the same as with a full sort; its order is not. Returns
 * false (nothing done) when the logit range is degenerate. */
static bool top_p_buckets(slm_cand *c, int32_t *n, float p, float max, double z) {
    float min = c[0].logit;
    for (int32_t i = 1; i < *n; i++)
        if (c[i].logit < min) min = c[i].logit;
    float range = max - min;
    if (!isfinite(range) || !(range > 1e-6f)) return false;
    float scale = (float)TOP_P_BUCKETS / range;
    double mass[TOP_P_BUCKETS] = { 0 };
    for (int32_t i = 0; i < *n; i++) mass[bucket_of(c[i].logit, max, scale)] += slm_cand_weight(c[i].logit, max);
    int32_t boundary = -1;
    double above = 0.0; /* mass of the buckets before the boundary */
    for (int32_t b = 0; b < TOP_P_BUCKETS; b++) {
        if ((above + mass[b]) / z >= p) {
            boundary = b;
            break;
        }
        above += mass[b];
    }
    if (boundary < 0) return true; /* rounding: the mass never reaches p, keep all */
    int32_t m = 0;
    for (int32_t i = 0; i < *n; i++)
        if (bucket_of(c[i].logit, max, scale) < boundary) swap_cand(&c[m++], &c[i]);
    int32_t e = m;
    for (int32_t i = m; i < *n; i++)
        if (bucket_of(c[i].logit, max, scale) == boundary) swap_cand(&c[e++], &c[i]);
    slm_cand_select_top(c + m, e - m, e - m);
    int32_t end = nucleus_end(c + m, e - m, p, max, z, above / z);
    *n = end > 0 ? m + end : e;
    return true;
}

void slm_filter_top_p(slm_cand *c, int32_t *n, float p, float max, double z, bool *sorted) {
    if (!(p < 1.0f) || *n <= 1) return;
    if (*sorted) {
        int32_t end = nucleus_end(c, *n, p, max, z, 0.0);
        if (end > 0) *n = end;
        return;
    }
    /* A peaked distribution has a small nucleus: one cheap bounded-heap
     * pass finds it. Otherwise bucket, and only as a last resort sort. */
    int32_t k = *n < TOP_P_FIRST ? *n : TOP_P_FIRST;
    slm_cand_select_top(c, *n, k);
    int32_t end = nucleus_end(c, k, p, max, z, 0.0);
    if (end > 0 || k == *n) {
        if (end > 0) *n = end;
        *sorted = true;
        return;
    }
    if (top_p_buckets(c, n, p, max, z)) return;
    slm_cand_select_top(c, *n, *n);
    end = nucleus_end(c, *n, p, max, z, 0.0);
    if (end > 0) *n = end;
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
    /* Shift by the max first (softmax does not change): with a tiny t,
     * l / t would overflow several logits to +inf and tie them, while
     * (l - max) / t keeps the max at 0 and sends the rest towards -inf. */
    float max = slm_cand_max(c, n);
    if (isinf(max)) return; /* +inf logits already take all the mass */
    for (int32_t i = 0; i < n; i++) c[i].logit = (c[i].logit - max) / t;
}
