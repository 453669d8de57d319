/* The candidate filters of the sampling chain, each working in place on a
 * candidate prefix c[0..*n). `*sorted` tracks whether c[0..*n) is known to
 * be in "better" order (see candidates.h); filters that need order create
 * it as cheaply as they can and report it. Every filter keeps at least one
 * candidate (llama.cpp's min_keep = 1). Semantics follow llama.cpp's
 * llama-sampling.cpp. */
#ifndef SLM_SAMPLE_FILTERS_H
#define SLM_SAMPLE_FILTERS_H

#include "sample/candidates.h"

/* Scratch entry for typical sampling (sorted by a non-logit key). */
typedef struct slm_typ_entry {
    slm_cand c;
    float p;
    float score;
} slm_typ_entry;

/* Keeps the k best; k <= 0 or k >= *n is a no-op. */
void slm_filter_top_k(slm_cand *c, int32_t *n, int32_t k, bool *sorted);

/* Locally typical sampling (Meister et al.): sorts by |-log p - H| and keeps
 * the smallest prefix whose mass exceeds p. p <= 0 or >= 1 is a no-op. `scratch`
 * must hold *n entries. Leaves the set unsorted (logit order lost). */
void slm_filter_typical(slm_cand *c, int32_t *n, float p, bool *sorted, slm_typ_entry *scratch);

/* Nucleus: keeps the smallest best-first prefix whose probability mass is
 * >= p, where probabilities are slm_cand_weight(l, max) / z. max and z
 * normally describe c[0..*n) itself; the chain passes the statistics of a
 * larger set when min_p has already cut the tail (same result, less
 * sorting). p >= 1 is a no-op. Sorts only as much as it needs: one
 * bounded-heap pass for the top 64 (enough for peaked distributions), else
 * a logit-bucket histogram that sorts only the bucket holding the cut (the
 * result is then unsorted), else a full sort. */
void slm_filter_top_p(slm_cand *c, int32_t *n, float p, float max, double z, bool *sorted);

/* Keeps candidates whose probability is >= min_p times the largest:
 * logit >= max + log(min_p). min_p <= 0 is a no-op. Order is preserved. */
void slm_filter_min_p(slm_cand *c, int32_t *n, float min_p);

/* Scales to (logit - max) / t (t > 0): the same softmax as logit / t,
 * without overflow for tiny t. */
void slm_filter_temperature(slm_cand *c, int32_t n, float t);

#endif
