/* Memoized trie walk for allowed-token masks (the fast path of mask.c).
 *
 * The plain walk advances a stack set by one byte at every trie node and
 * rolls frames back per depth, so frame ids are reused and nothing can be
 * remembered. Here frames created during the walk are kept until it ends
 * (hash-consing then gives equal stacks equal ids for the whole walk), so
 * a stack set can be interned as a small integer and the step
 * (set, byte) -> set memoized in a dense 256-entry row per set. Inside a
 * JSON string nearly every byte leads from the string state back to
 * itself: after the first few nodes the walk is one table lookup per trie
 * node, with no stack manipulation; and a subtree whose bytes (the
 * vocabulary's per-node subtree byte sets) all loop back to the same set
 * is allowed whole without visiting its nodes.
 *
 * Main data structure (gmemo): set contents in one pool (off/len per set),
 * an open-addressing table from contents to set index, and trans[set*256 +
 * byte] = 0 unknown, 1 dead (empty set), k + 2 = set k.
 *
 * Budgets: if the walk creates too many frames or sets (a grammar whose
 * stacks do not repeat), it stops, rolls back and reports GMEMO_GIVE_UP;
 * mask.c then runs the plain walk, which keeps the old memory bound. */
#include <string.h>

#include "grammar/matcher_internal.h"

#define MEMO_MAX_SETS 4096
#define MEMO_FRAME_BUDGET (1u << 20)
#define TRANS_UNKNOWN 0u
#define TRANS_DEAD 1u

struct gmemo {
    u32vec pool;
    uint32_t *off, *len, *acc; /* per set; acc: set holds only the empty stack */
    uint64_t *hash;
    gbyteset *loop; /* per set: bytes known to lead back to the same set */
    uint32_t *trans;
    size_t n_sets, cap_sets;
    uint32_t *ht; /* set index + 1, 0 = empty */
    size_t ht_cap;
    uint32_t *sid; /* set at each trie depth */
    size_t sid_cap;
};

void gmemo_free(gmemo *mm) {
    if (!mm) return;
    free(mm->pool.p);
    free(mm->off);
    free(mm->len);
    free(mm->acc);
    free(mm->hash);
    free(mm->loop);
    free(mm->trans);
    free(mm->ht);
    free(mm->sid);
    free(mm);
}

static uint64_t set_hash(const uint32_t *t, size_t n) {
    uint64_t h = 1469598103934665603ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ t[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int grow_sets(gmemo *mm) {
    size_t nc = mm->cap_sets ? mm->cap_sets * 2 : 64;
    uint32_t *off = realloc(mm->off, nc * sizeof *off);
    if (!off) return -1;
    mm->off = off;
    uint32_t *len = realloc(mm->len, nc * sizeof *len);
    if (!len) return -1;
    mm->len = len;
    uint32_t *acc = realloc(mm->acc, nc * sizeof *acc);
    if (!acc) return -1;
    mm->acc = acc;
    uint64_t *hash = realloc(mm->hash, nc * sizeof *hash);
    if (!hash) return -1;
    mm->hash = hash;
    gbyteset *loop = realloc(mm->loop, nc * sizeof *loop);
    if (!loop) return -1;
    mm->loop = loop;
    uint32_t *tr = realloc(mm->trans, nc * 256 * sizeof *tr);
    if (!tr) return -1;
    mm->trans = tr;
    /* the table stays at most half full */
    free(mm->ht);
    mm->ht_cap = nc * 2;
    mm->ht = calloc(mm->ht_cap, sizeof *mm->ht);
    if (!mm->ht) return -1;
    for (size_t s = 0; s < mm->n_sets; s++) {
        size_t h = (size_t)mm->hash[s] & (mm->ht_cap - 1);
        while (mm->ht[h]) h = (h + 1) & (mm->ht_cap - 1);
        mm->ht[h] = (uint32_t)s + 1;
    }
    mm->cap_sets = nc;
    return 0;
}

/* Index of the set with these tops (in this order), created if new;
 * -1 on OOM or when the set budget is spent. */
static int64_t memo_intern(gmemo *mm, const uint32_t *t, size_t n, size_t limit) {
    uint64_t hv = set_hash(t, n);
    if (mm->ht_cap) {
        for (size_t h = (size_t)hv & (mm->ht_cap - 1); mm->ht[h]; h = (h + 1) & (mm->ht_cap - 1)) {
            uint32_t s = mm->ht[h] - 1;
            if (mm->hash[s] == hv && mm->len[s] == n && !memcmp(mm->pool.p + mm->off[s], t, n * sizeof *t))
                return s;
        }
    }
    if (mm->n_sets >= limit) return -1;
    if (mm->n_sets == mm->cap_sets && grow_sets(mm) != 0) return -1;
    size_t s = mm->n_sets++;
    mm->off[s] = (uint32_t)mm->pool.n;
    mm->len[s] = (uint32_t)n;
    mm->hash[s] = hv;
    mm->acc[s] = 1;
    for (size_t i = 0; i < n; i++) {
        if (t[i]) mm->acc[s] = 0;
        if (u32vec_push(&mm->pool, t[i]) != 0) return -1;
    }
    memset(mm->trans + s * 256, 0, 256 * sizeof *mm->trans);
    memset(&mm->loop[s], 0, sizeof mm->loop[s]);
    size_t h = (size_t)hv & (mm->ht_cap - 1);
    while (mm->ht[h]) h = (h + 1) & (mm->ht_cap - 1);
    mm->ht[h] = (uint32_t)s + 1;
    return (int64_t)s;
}

static void memo_reset(gmemo *mm) {
    mm->n_sets = 0;
    mm->pool.n = 0;
    if (mm->ht) memset(mm->ht, 0, mm->ht_cap * sizeof *mm->ht);
}

static size_t max_sets(const slm_grammar_matcher *m) {
    return m->memo_max_sets ? m->memo_max_sets : MEMO_MAX_SETS;
}

/* trans[s][c], computing it on a miss; 0 = give up (budget, OOM, limit). */
static uint32_t step(slm_grammar_matcher *m, gmemo *mm, uint32_t s, uint8_t c, size_t mark0) {
    uint32_t r = mm->trans[(size_t)s * 256 + c];
    if (r != TRANS_UNKNOWN) return r;
    garena *a = &m->a;
    if (a->n - mark0 > MEMO_FRAME_BUDGET || a->n > SLM_GRAMMAR_MAX_FRAMES / 2) return 0;
    m->scratch.n = 0;
    gstep_begin(a);
    gstep_advance(a, m->g, mm->pool.p + mm->off[s], mm->len[s], c, &m->scratch);
    if (a->failed) return 0;
    if (m->scratch.n == 0) {
        r = TRANS_DEAD;
    } else {
        int64_t k = memo_intern(mm, m->scratch.p, m->scratch.n, max_sets(m));
        if (k < 0) return 0;
        r = (uint32_t)k + 2;
    }
    mm->trans[(size_t)s * 256 + c] = r;
    if (r == s + 2) mm->loop[s].w[c >> 5] |= 1u << (c & 31);
    return r;
}

static int ensure_memo(slm_grammar_matcher *m) {
    if (!m->memo) {
        m->memo = calloc(1, sizeof *m->memo);
        if (!m->memo) return -1;
    }
    gmemo *mm = m->memo;
    size_t need = (size_t)m->v->max_depth + 1;
    if (mm->sid_cap < need) {
        free(mm->sid);
        mm->sid = slm_malloc_array(need, sizeof *mm->sid);
        if (!mm->sid) {
            mm->sid_cap = 0;
            return -1;
        }
        mm->sid_cap = need;
    }
    memo_reset(mm);
    return 0;
}

/* Every byte of node i's subtree loops set s back to itself. */
static int subtree_loops(const slm_grammar_vocab *v, const gmemo *mm, size_t i, uint32_t s) {
    const gbyteset *b = &v->sub_set[v->node_sub[i]], *l = &mm->loop[s];
    uint32_t out = 0;
    for (int k = 0; k < 8; k++) out |= b->w[k] & ~l->w[k];
    return out == 0;
}

int gmemo_walk(slm_grammar_matcher *m, uint32_t *mask) {
    const slm_grammar_vocab *v = m->v;
    garena *a = &m->a;
    size_t mark0 = a->n;
    if (ensure_memo(m) != 0) return GMEMO_GIVE_UP;
    gmemo *mm = m->memo;
    int64_t s0 = memo_intern(mm, m->cur.p, m->cur.n, max_sets(m));
    if (s0 < 0) return GMEMO_GIVE_UP;
    uint32_t *sid = mm->sid;
    sid[0] = (uint32_t)s0;
    size_t i = 1;
    while (i < v->n_nodes) {
        uint32_t s = sid[v->node_depth[i] - 1];
        uint32_t r = step(m, mm, s, v->node_byte[i], mark0);
        if (r == s + 2 && subtree_loops(v, mm, i, s)) {
            /* the whole subtree stays in s: all its tokens are allowed */
            for (uint32_t k = v->tok_off[i]; k < v->tok_off[v->node_end[i]]; k++)
                mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
            i = v->node_end[i];
            continue;
        }
        if (r == 0) {
            if (a->failed) return GMEMO_FAILED; /* sticky; the caller reports it */
            garena_rollback(a, mark0);
            return GMEMO_GIVE_UP;
        }
        if (r == TRANS_DEAD) {
            i = v->node_end[i];
            continue;
        }
        for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++)
            mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
        if (mm->acc[r - 2]) {
            i = v->node_end[i];
            continue;
        }
        sid[v->node_depth[i]] = r - 2;
        i++;
    }
    garena_rollback(a, mark0);
    return GMEMO_OK;
}
