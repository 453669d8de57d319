/* Token history for the repetition, presence and frequency penalties.
 *
 * Holds the last `window` accepted tokens in a ring (or, for window -1,
 * every token ever accepted, as counts only), a per-token occurrence count
 * over that window, and the list of distinct tokens with a non-zero count.
 * Applying the penalties then touches only the distinct tokens, never the
 * whole vocabulary. All arrays are allocated once. */
#ifndef SLM_SAMPLE_HISTORY_H
#define SLM_SAMPLE_HISTORY_H

#include "slm/base.h"

typedef struct slm_history {
    int32_t n_vocab;
    int32_t window;     /* 0: off, -1: unbounded, else ring capacity */
    int32_t *count;     /* [n_vocab] occurrences inside the window */
    int32_t *distinct;  /* [n_vocab] tokens with count > 0 (first n_distinct) */
    int32_t *pos;       /* [n_vocab] index of a token in distinct */
    int32_t n_distinct;
    int32_t *ring;      /* [window] when window > 0 */
    int32_t ring_len, ring_head;
} slm_history;

slm_status slm_history_init(slm_history *h, int32_t n_vocab, int32_t window, slm_error *err);
void slm_history_free(slm_history *h);
void slm_history_clear(slm_history *h);
/* Ignores ids outside [0, n_vocab) and does nothing when window == 0. */
void slm_history_push(slm_history *h, int32_t token);

/* llama.cpp's penalties on logits indexed by token id: for every token seen
 * c > 0 times in the window, a logit <= 0 is multiplied by `repeat` and a
 * positive one divided by it, then c * frequency + presence is subtracted. */
void slm_history_apply(const slm_history *h, float *logits, float repeat, float frequency,
                       float presence);

#endif
