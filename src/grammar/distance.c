/* Distance to the end of a grammar: the fewest bytes the output still needs
 * before the grammar accepts. Used by budget-aware completion (budget.c):
 * near max_tokens the mask keeps only tokens after which the output can
 * still be closed in time.
 *
 * Per grammar (computed once, read-only after): rest[pos] = the fewest
 * bytes from element pos to the end of its alternative, where a byte test
 * costs 1 and a rule call costs the rule's shortest sentence. The shortest
 * sentence of every rule is found with Knuth's generalisation of Dijkstra
 * to grammars: an alternative is final once every rule it calls is final,
 * and rules are finalised in increasing order of their best alternative
 * (a binary heap). Rules with no finite sentence stay GDIST_INF.
 *
 * Per stack (memoized per frame in the arena): dist(frame) = rest[pos] +
 * dist(parent): the top's pos is its pending byte test, a parent's pos is
 * the return position after its call. dist(empty stack) = 0. */
#include <string.h>

#include "grammar/matcher_internal.h"

static uint32_t sat_add(uint32_t a, uint32_t b) {
    uint64_t s = (uint64_t)a + b;
    return s >= GDIST_INF ? GDIST_INF : (uint32_t)s;
}

typedef struct heap_ent {
    uint32_t val, rule;
} heap_ent;

typedef struct heap {
    heap_ent *p;
    size_t n;
} heap;

static void heap_push(heap *h, uint32_t val, uint32_t rule) {
    size_t i = h->n++;
    while (i > 0 && h->p[(i - 1) / 2].val > val) {
        h->p[i] = h->p[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->p[i] = (heap_ent){val, rule};
}

static heap_ent heap_pop(heap *h) {
    heap_ent top = h->p[0], last = h->p[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->p[c + 1].val < h->p[c].val) c++;
        if (h->p[c].val >= last.val) break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->n) h->p[i] = last;
    return top;
}

typedef struct knuth {
    uint32_t *alt_rule;  /* rule of each alternative */
    uint32_t *sum;       /* bytes + finished calls so far, per alternative */
    uint32_t *pending;   /* calls to rules not final yet, per alternative */
    uint32_t *use_off;   /* alternatives calling rule r: use[use_off[r] .. use_off[r+1]) */
    uint32_t *use;
    uint32_t *minlen;    /* result per rule */
    heap h;
} knuth;

static void knuth_free(knuth *k) {
    free(k->alt_rule);
    free(k->sum);
    free(k->pending);
    free(k->use_off);
    free(k->use);
    free(k->h.p);
}

/* Fills alt_rule, sum, pending and the use lists; -1 on OOM. */
static int knuth_init(knuth *k, const slm_grammar *g, size_t n_alts) {
    k->alt_rule = slm_malloc_array(n_alts + 1, sizeof *k->alt_rule);
    k->sum = calloc(n_alts + 1, sizeof *k->sum);
    k->pending = calloc(n_alts + 1, sizeof *k->pending);
    k->use_off = calloc(g->n_rules + 2, sizeof *k->use_off);
    k->h.p = slm_malloc_array(n_alts + 1, sizeof *k->h.p);
    if (!k->alt_rule || !k->sum || !k->pending || !k->use_off || !k->h.p) return -1;
    size_t n_calls = 0;
    for (uint32_t r = 0; r < g->n_rules; r++)
        for (uint32_t a = g->alt_off[r]; a < g->alt_off[r + 1]; a++) {
            k->alt_rule[a] = r;
            for (uint32_t p = g->alt_pos[a]; g->el[p].type > GE_ALT; p++) {
                if (g->el[p].type == GE_BYTES) {
                    k->sum[a] = sat_add(k->sum[a], 1);
                } else {
                    k->pending[a]++;
                    k->use_off[g->el[p].val + 1]++;
                    n_calls++;
                }
            }
        }
    for (uint32_t r = 0; r < g->n_rules; r++) k->use_off[r + 1] += k->use_off[r];
    k->use = slm_malloc_array(n_calls + 1, sizeof *k->use);
    uint32_t *fill = slm_malloc_array(g->n_rules + 1, sizeof *fill);
    if (!k->use || !fill) {
        free(fill);
        return -1;
    }
    memcpy(fill, k->use_off, g->n_rules * sizeof *fill);
    for (uint32_t a = 0; a < n_alts; a++)
        for (uint32_t p = g->alt_pos[a]; g->el[p].type > GE_ALT; p++)
            if (g->el[p].type == GE_REF) k->use[fill[g->el[p].val]++] = a;
    free(fill);
    return 0;
}

/* Shortest sentence of every rule into minlen (GDIST_INF: none). */
static int rule_minlen(const slm_grammar *g, uint32_t *minlen) {
    size_t n_alts = g->alt_off[g->n_rules];
    knuth k = {0};
    int rc = knuth_init(&k, g, n_alts);
    if (rc == 0) {
        for (size_t r = 0; r < g->n_rules; r++) minlen[r] = GDIST_INF;
        for (uint32_t a = 0; a < n_alts; a++)
            if (k.pending[a] == 0) heap_push(&k.h, k.sum[a], k.alt_rule[a]);
        uint8_t *final = calloc(g->n_rules + 1, 1);
        if (!final) rc = -1;
        while (rc == 0 && k.h.n) {
            heap_ent e = heap_pop(&k.h);
            if (final[e.rule]) continue;
            final[e.rule] = 1;
            minlen[e.rule] = e.val;
            for (uint32_t u = k.use_off[e.rule]; u < k.use_off[e.rule + 1]; u++) {
                uint32_t a = k.use[u];
                k.sum[a] = sat_add(k.sum[a], e.val);
                /* each alternative is pushed once, when its last call is final */
                if (--k.pending[a] == 0) heap_push(&k.h, k.sum[a], k.alt_rule[a]);
            }
        }
        free(final);
    }
    knuth_free(&k);
    return rc;
}

uint32_t *gdist_rest_new(const slm_grammar *g) {
    uint32_t *minlen = slm_malloc_array(g->n_rules + 1, sizeof *minlen);
    uint32_t *rest = slm_malloc_array(g->n_el + 1, sizeof *rest);
    if (!minlen || !rest || rule_minlen(g, minlen) != 0) {
        free(minlen);
        free(rest);
        return NULL;
    }
    /* backwards: an ALT/END element ends its alternative */
    for (size_t p = g->n_el; p-- > 0;) {
        gelem e = g->el[p];
        if (e.type <= GE_ALT) rest[p] = 0;
        else rest[p] = sat_add(e.type == GE_BYTES ? 1 : minlen[e.val], rest[p + 1]);
    }
    free(minlen);
    return rest;
}

/* dist of frame t, filling the memo for it and the frames below it. */
static uint32_t frame_dist(slm_grammar_matcher *m, uint32_t t) {
    garena *a = &m->a;
    if (t == 0) return 0;
    if (a->dist[t] != GDIST_UNKNOWN) return a->dist[t];
    /* collect the chain up to the first known frame, then fill downwards */
    m->dist_chain.n = 0;
    uint32_t f = t;
    while (f && a->dist[f] == GDIST_UNKNOWN) {
        if (u32vec_push(&m->dist_chain, f) != 0) return GDIST_INF; /* OOM: unknown, treat as far */
        f = a->f[f].parent;
    }
    uint32_t below = f ? a->dist[f] : 0;
    while (m->dist_chain.n) {
        uint32_t id = m->dist_chain.p[--m->dist_chain.n];
        below = sat_add(m->rest[a->f[id].pos], below);
        a->dist[id] = below;
    }
    return below;
}

int gdist_ensure(slm_grammar_matcher *m) {
    if (m->rest) return 0;
    if (m->sh) {
        m->rest = gshared_rest(m->v, m->sh, m->g);
        return m->rest ? 0 : -1;
    }
    m->own_rest = gdist_rest_new(m->g);
    m->rest = m->own_rest;
    return m->rest ? 0 : -1;
}

uint32_t gdist_set_bytes(slm_grammar_matcher *m, const uint32_t *tops, size_t n) {
    uint32_t best = GDIST_INF;
    for (size_t i = 0; i < n && best; i++) {
        uint32_t d = frame_dist(m, tops[i]);
        if (d < best) best = d;
    }
    return best;
}

uint32_t gdist_set_cost(slm_grammar_matcher *m, const uint32_t *tops, size_t n) {
    int done = n > 0;
    for (size_t i = 0; i < n && done; i++) done = tops[i] == 0;
    if (done) return 0;
    return sat_add(gdist_set_bytes(m, tops, n), 1);
}
