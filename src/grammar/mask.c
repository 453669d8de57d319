/* Allowed-token masks: a preorder walk of the vocabulary's byte trie
 * against the parse-stack set. Each trie node advances its parent's stack
 * set by one byte; an empty set prunes the whole subtree (every token with
 * that prefix), and a node reached with a live set allows the tokens that
 * end there. Frames created during the walk are rolled back per depth, so
 * the arena ends the walk as it started. */
#include <string.h>

#include "grammar/matcher_internal.h"

struct gmask_cache {
    int unused;
};

void gmask_cache_free(gmask_cache *c) { free(c); }

static int only_accept(const uint32_t *tops, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tops[i]) return 0;
    return 1;
}

slm_status gmask_fill(slm_grammar_matcher *m, uint32_t *mask, slm_error *err) {
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
        if (m->scratch.n == 0) {
            i = v->node_end[i];
            continue;
        }
        for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++)
            mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
        if (only_accept(m->scratch.p, m->scratch.n)) {
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
