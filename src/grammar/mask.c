/* Allowed-token masks: a preorder walk of the vocabulary's byte trie
 * against the parse-stack set. Each trie node advances its parent's stack
 * set by one byte; an empty set prunes the whole subtree (every token with
 * that prefix), and a node reached with a live set allows the tokens that
 * end there. Frames created during the walk are rolled back per depth, so
 * the arena ends the walk as it started.
 *
 * Masks are cached by state: frames are hash-consed, so the same set of
 * stack tops is the same parser state (inside a long string every
 * character leads back to the same set), and its mask is reused. The
 * cache maps the sorted top ids to a mask; it is cleared when full and
 * whenever the arena is compacted (ids change). On a miss, the cache the
 * vocabulary shares between matchers of equal grammars is asked next
 * (mask_shared.c: keyed by stack contents, not frame ids), and only then
 * is the trie walked.
 *
 * The walk itself is mask_memo.c's memoized one; the plain walk below is
 * its fallback for grammars whose stacks never repeat. */
#include <string.h>

#include "grammar/matcher_internal.h"

#define CACHE_SLOTS 64

typedef struct centry {
    uint64_t hash;
    uint32_t *tops; /* sorted */
    size_t n;
    uint32_t *mask;
} centry;

struct gmask_cache {
    centry e[CACHE_SLOTS];
    size_t used, words;
    size_t arena_gen;
};

static void cache_clear(gmask_cache *c) {
    for (size_t i = 0; i < c->used; i++) {
        free(c->e[i].tops);
        free(c->e[i].mask);
    }
    c->used = 0;
}

void gmask_cache_free(gmask_cache *c) {
    if (!c) return;
    cache_clear(c);
    free(c);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint64_t tops_hash(const uint32_t *t, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ t[i]) * 1099511628211ull;
    return h;
}

/* Sorted copy of the current tops (caller frees), NULL on OOM. */
static uint32_t *sorted_tops(const slm_grammar_matcher *m) {
    uint32_t *t = slm_malloc_array(m->cur.n ? m->cur.n : 1, sizeof *t);
    if (!t) return NULL;
    memcpy(t, m->cur.p, m->cur.n * sizeof *t);
    qsort(t, m->cur.n, sizeof *t, cmp_u32);
    return t;
}

static centry *cache_find(gmask_cache *c, const uint32_t *t, size_t n, uint64_t h) {
    for (size_t i = 0; i < c->used; i++)
        if (c->e[i].hash == h && c->e[i].n == n && !memcmp(c->e[i].tops, t, n * sizeof *t)) return &c->e[i];
    return NULL;
}

static int only_accept(const uint32_t *tops, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tops[i]) return 0;
    return 1;
}

static slm_status walk_fill(slm_grammar_matcher *m, uint32_t *mask, slm_error *err);

slm_status gmask_fill(slm_grammar_matcher *m, uint32_t *mask, slm_error *err) {
    size_t words = slm_grammar_vocab_mask_words(m->v);
    if (!m->cache) {
        m->cache = calloc(1, sizeof *m->cache);
        if (!m->cache) return walk_fill(m, mask, err);
        m->cache->words = words;
    }
    gmask_cache *c = m->cache;
    if (c->arena_gen != m->arena_gen) {
        cache_clear(c);
        c->arena_gen = m->arena_gen;
    }
    uint32_t *t = sorted_tops(m);
    if (!t) return walk_fill(m, mask, err);
    uint64_t h = tops_hash(t, m->cur.n);
    centry *e = cache_find(c, t, m->cur.n, h);
    if (e) {
        free(t);
        for (size_t i = 0; i < words; i++) mask[i] |= e->mask[i];
        return SLM_OK;
    }
    /* into a zeroed buffer so the cached mask holds tokens only: from the
     * cache shared with other matchers of the same grammar, or a walk */
    uint32_t *fresh = calloc(words, sizeof *fresh);
    if (!fresh) {
        free(t);
        return walk_fill(m, mask, err);
    }
    int have_key = m->sh && gshared_state_key(m) == 0;
    if (!have_key || !gshared_lookup(m->v, m->sh, m->key.p, m->key.n, fresh)) {
        slm_status st = walk_fill(m, fresh, err);
        if (st) {
            free(t);
            free(fresh);
            return st;
        }
        if (have_key) gshared_insert(m->v, m->sh, m->key.p, m->key.n, fresh, &m->key_pool);
    }
    for (size_t i = 0; i < words; i++) mask[i] |= fresh[i];
    if (c->used == CACHE_SLOTS) cache_clear(c);
    c->e[c->used++] = (centry){h, t, m->cur.n, fresh};
    return SLM_OK;
}

static slm_status plain_walk(slm_grammar_matcher *m, uint32_t *mask, slm_error *err);

/* The memoized walk first; the plain one when it gives up. */
static slm_status walk_fill(slm_grammar_matcher *m, uint32_t *mask, slm_error *err) {
    int rc = gmemo_walk(m, mask, GDIST_UNKNOWN, NULL);
    if (rc == GMEMO_OK) return SLM_OK;
    if (rc == GMEMO_FAILED) return slm_error_set(err, m->a.fail_code, "%s", m->a.fail_msg);
    return plain_walk(m, mask, err);
}

slm_status gwalk_plain(slm_grammar_matcher *m, gwalk_visit visit, void *ctx, slm_error *err) {
    const slm_grammar_vocab *v = m->v;
    garena *a = &m->a;
    size_t mark0 = a->n;
    m->walk.n = 0;
    for (size_t i = 0; i < m->cur.n; i++)
        if (u32vec_push(&m->walk, m->cur.p[i]) != 0) return slm_error_set(err, SLM_ERR_NOMEM, "grammar mask: out of memory");
    m->walk_start[0] = 0;
    m->walk_len[0] = m->cur.n;
    m->walk_mark[0] = mark0;
    size_t i = 1;
    while (i < v->n_nodes) {
        uint32_t d = v->node_depth[i];
        garena_rollback(a, m->walk_mark[d - 1]);
        size_t ps = m->walk_start[d - 1], pl = m->walk_len[d - 1];
        m->walk.n = ps + pl;
        m->scratch.n = 0;
        gstep_begin(a);
        gstep_advance(a, m->g, m->walk.p + ps, pl, v->node_byte[i], &m->scratch);
        if (a->failed) break;
        if (m->scratch.n == 0 || !visit(m, i, m->scratch.p, m->scratch.n, ctx) ||
            only_accept(m->scratch.p, m->scratch.n)) {
            i = v->node_end[i];
            continue;
        }
        m->walk_start[d] = m->walk.n;
        m->walk_len[d] = m->scratch.n;
        for (size_t k = 0; k < m->scratch.n; k++)
            if (u32vec_push(&m->walk, m->scratch.p[k]) != 0) {
                garena_rollback(a, mark0);
                return slm_error_set(err, SLM_ERR_NOMEM, "grammar mask: out of memory");
            }
        m->walk_mark[d] = a->n;
        i++;
    }
    if (a->failed) return slm_error_set(err, a->fail_code, "%s", a->fail_msg);
    garena_rollback(a, mark0);
    return SLM_OK;
}

/* Sets the tokens that end at a live node. */
static int visit_mask(slm_grammar_matcher *m, size_t i, const uint32_t *tops, size_t n, void *ctx) {
    (void)tops;
    (void)n;
    uint32_t *mask = ctx;
    const slm_grammar_vocab *v = m->v;
    for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
    return 1;
}

static slm_status plain_walk(slm_grammar_matcher *m, uint32_t *mask, slm_error *err) {
    return gwalk_plain(m, visit_mask, mask, err);
}
