/* Bounded-heap top-k selection and softmax helpers (see candidates.h).
 * The heap keeps the worst of the current best k at its root, so most of a
 * long tail is rejected with a single comparison. */
#include "sample/candidates.h"

#include <math.h>

static void swap_cand(slm_cand *a, slm_cand *b) {
    slm_cand t = *a;
    *a = *b;
    *b = t;
}

/* Restores the "worst at the root" heap property below index i. */
static void sift_down(slm_cand *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && slm_cand_better(&h[w], &h[l])) w = l;
        if (r < n && slm_cand_better(&h[w], &h[r])) w = r;
        if (w == i) return;
        swap_cand(&h[i], &h[w]);
        i = w;
    }
}

void slm_cand_select_top(slm_cand *c, int32_t n, int32_t k) {
    if (k > n) k = n;
    if (k <= 0) return;
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (slm_cand_better(&c[i], &c[0])) {
            swap_cand(&c[i], &c[0]);
            sift_down(c, k, 0);
        }
    }
    /* Heap sort: the worst goes to the end each time, leaving best first. */
    for (int32_t end = k - 1; end > 0; end--) {
        swap_cand(&c[0], &c[end]);
        sift_down(c, end, 0);
    }
}

float slm_cand_max(const slm_cand *c, int32_t n) {
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (c[i].logit > m) m = c[i].logit;
    return m;
}

float slm_cand_weight(float l, float max) {
    return l == max ? 1.0f : expf(l - max);
}

double slm_cand_weight_sum(const slm_cand *c, int32_t n, float max) {
    double z = 0.0;
    for (int32_t i = 0; i < n; i++) z += slm_cand_weight(c[i].logit, max);
    return z;
}
