/* Candidate arrays for the sampler: (token id, logit) pairs that the
 * filters shrink in place. Everything here works on a prefix c[0..n) and
 * never allocates.
 *
 * Order: "better" means a higher logit, then a lower id, so every sort and
 * selection is deterministic even with tied logits. */
#ifndef SLM_SAMPLE_CANDIDATES_H
#define SLM_SAMPLE_CANDIDATES_H

#include <stdbool.h>
#include <stdint.h>

typedef struct slm_cand {
    int32_t id;
    float logit;
} slm_cand;

static inline bool slm_cand_better(const slm_cand *a, const slm_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Moves the k best of c[0..n) to c[0..k), sorted best first; the others
 * stay (permuted) in c[k..n). O(n log k) with a bounded heap, so a small k
 * on a 150k vocabulary costs one pass. k is clamped to [0, n]. */
void slm_cand_select_top(slm_cand *c, int32_t n, int32_t k);

/* Largest logit of c[0..n) (-INFINITY when n == 0). */
float slm_cand_max(const slm_cand *c, int32_t n);

/* Unnormalised softmax weight of logit l given the maximum: 1 for the
 * maximum itself (so +inf logits work), exp(l - max) otherwise. */
float slm_cand_weight(float l, float max);

/* Sum of slm_cand_weight over c[0..n), in double. */
double slm_cand_weight_sum(const slm_cand *c, int32_t n, float max);

#endif
