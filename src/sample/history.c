/* Windowed token counts with a distinct-token list (see history.h). */
#include "sample/history.h"

#include <stdlib.h>
#include <string.h>

slm_status slm_history_init(slm_history *h, int32_t n_vocab, int32_t window, slm_error *err) {
    memset(h, 0, sizeof *h);
    h->n_vocab = n_vocab;
    h->window = window;
    if (window == 0) return SLM_OK;
    h->count = slm_calloc_array((size_t)n_vocab, sizeof *h->count);
    h->distinct = slm_malloc_array((size_t)n_vocab, sizeof *h->distinct);
    h->pos = slm_malloc_array((size_t)n_vocab, sizeof *h->pos);
    if (window > 0) h->ring = slm_malloc_array((size_t)window, sizeof *h->ring);
    if (!h->count || !h->distinct || !h->pos || (window > 0 && !h->ring)) {
        slm_history_free(h);
        return slm_error_set(err, SLM_ERR_NOMEM, "sampler history: cannot allocate for %d tokens",
                             (int)n_vocab);
    }
    return SLM_OK;
}

void slm_history_free(slm_history *h) {
    free(h->count);
    free(h->distinct);
    free(h->pos);
    free(h->ring);
    memset(h, 0, sizeof *h);
}

void slm_history_clear(slm_history *h) {
    if (h->window == 0) return;
    /* Only the distinct tokens have non-zero counts: clear those. */
    for (int32_t i = 0; i < h->n_distinct; i++) h->count[h->distinct[i]] = 0;
    h->n_distinct = 0;
    h->ring_len = h->ring_head = 0;
}

static void count_up(slm_history *h, int32_t t) {
    if (h->count[t] == INT32_MAX) return; /* saturate: cannot happen in practice */
    if (h->count[t]++ == 0) {
        h->pos[t] = h->n_distinct;
        h->distinct[h->n_distinct++] = t;
    }
}

static void count_down(slm_history *h, int32_t t) {
    if (--h->count[t] > 0) return;
    int32_t last = h->distinct[--h->n_distinct];
    h->distinct[h->pos[t]] = last;
    h->pos[last] = h->pos[t];
}

void slm_history_push(slm_history *h, int32_t token) {
    if (h->window == 0 || token < 0 || token >= h->n_vocab) return;
    if (h->window > 0) {
        if (h->ring_len == h->window) count_down(h, h->ring[h->ring_head]);
        else h->ring_len++;
        h->ring[h->ring_head] = token;
        h->ring_head = (h->ring_head + 1) % h->window;
    }
    count_up(h, token);
}

void slm_history_apply(const slm_history *h, float *logits, float repeat, float frequency,
                       float presence) {
    for (int32_t i = 0; i < h->n_distinct; i++) {
        int32_t t = h->distinct[i];
        float l = logits[t];
        l = l <= 0.0f ? l * repeat : l / repeat;
        logits[t] = l - ((float)h->count[t] * frequency + presence);
    }
}
