/* A binary min-heap of merge candidates shared by the SentencePiece and BPE
 * merge loops. `prio` orders candidates: the best merge has the smallest
 * value (score or rank in the high 32 bits, the left symbol's index in the
 * low 32, so ties go to the leftmost pair as in llama.cpp). */
#ifndef SLM_TOK_HEAP_H
#define SLM_TOK_HEAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tok_cand {
    uint64_t prio;
    int32_t left, right;
    uint32_t size; /* byte length of the merged text when pushed */
} tok_cand;

typedef struct tok_heap {
    tok_cand *a;
    size_t n, cap;
    bool oom;
} tok_heap;

static inline void tok_heap_push(tok_heap *h, tok_cand c) {
    if (h->oom) return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        tok_cand *p = cap > SIZE_MAX / sizeof *p ? NULL : realloc(h->a, cap * sizeof *p);
        if (!p) {
            h->oom = true;
            return;
        }
        h->a = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->a[parent].prio <= c.prio) break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = c;
}

static inline tok_cand tok_heap_pop(tok_heap *h) {
    tok_cand top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1].prio < h->a[c].prio) c++;
        if (last.prio <= h->a[c].prio) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}

/* Higher score first: maps a float to a key that sorts descending. */
static inline uint32_t tok_score_key(float f) {
    if (f == 0.0f) f = 0.0f; /* -0 ties with +0, as the float compare does */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending order */
    return ~u;
}

#endif
