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
 * Root class (root_class): when a large group of bytes all lead the root
 * set to one same set, the tokens made of those bytes up to the length
 * the chain of such sets allows come from a cached per-class set sorted
 * by length, and the walk skips their paths: an unbounded JSON string (a
 * self-loop) or a bounded one (maxLength: a chain of positions) costs a
 * bitmask copy plus the tokens that leave the class. When non-ASCII
 * characters take the chain exactly like the class's bytes (mask_utf8.c
 * checks), the class is a text class: the well-formed UTF-8 tokens join
 * it, counted in characters, and the walk skips their subtrees too.
 *
 * Budget walk (budget.c): with a cost limit, tokens are kept only when
 * the set they lead to can still end within it (cost per set, memoized).
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
#define CLASS_SLOTS 4      /* loop-class token sets kept per matcher */
#define CLASS_MIN_BYTES 64 /* smaller classes: the plain memo walk is cheap */

struct gclass {
    gsh_class c;  /* .bits NULL: slot empty */
    int borrowed; /* the arrays belong to the vocabulary's shared copy */
};

/* A trie path from the root (gmemo_walk): outside the root's class; only
 * class bytes (its set is the chain's); class bytes and non-ASCII
 * characters of a text class (its set is stepped as usual). */
enum { PATH_OUT = 0, PATH_CLASS = 1, PATH_TEXT = 2 };

/* How class paths longer than the chain behave (see root_class). */
enum { CHAIN_LOOP = 0, CHAIN_DEAD = 1, CHAIN_OPEN = 2 };

struct gmemo {
    u32vec pool;
    uint32_t *off, *len, *acc; /* per set; acc: set holds only the empty stack */
    uint64_t *hash;
    gbyteset *loop; /* per set: bytes known to lead back to the same set */
    gbyteset *known; /* per set: bytes whose step is recorded */
    uint32_t *cost; /* per set: tokens still needed to end (budget walk), GDIST_UNKNOWN until asked */
    uint32_t limit, min_cost; /* budget walk: keep sets with cost <= limit; cheapest set seen */
    uint32_t *trans;
    size_t n_sets, cap_sets;
    uint32_t *ht; /* set index + 1, 0 = empty */
    size_t ht_cap;
    uint32_t *sid; /* set at each trie depth */
    uint8_t *in_class;
    uint32_t *chain; /* root class chain: set after k class bytes, k <= chain_len */
    uint32_t chain_len;
    int chain_mode;
    int text;       /* the root class is a text class of this GUTF8_* kind (mask_utf8.c), or 0 */
    uint32_t *tmp; /* a mask's worth of scratch */
    size_t sid_cap;
    struct gclass cls[CLASS_SLOTS]; /* kept across walks: depend on the vocab only */
    int cls_next;
};

static void gclass_release(struct gclass *g) {
    if (!g->borrowed) {
        free(g->c.bits);
    }
    memset(g, 0, sizeof *g);
}

void gmemo_free(gmemo *mm) {
    if (!mm) return;
    free(mm->pool.p);
    free(mm->off);
    free(mm->len);
    free(mm->acc);
    free(mm->hash);
    free(mm->loop);
    free(mm->known);
    free(mm->cost);
    free(mm->trans);
    free(mm->ht);
    free(mm->sid);
    free(mm->in_class);
    free(mm->chain);
    free(mm->tmp);
    for (int e = 0; e < CLASS_SLOTS; e++) gclass_release(&mm->cls[e]);
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
    gbyteset *known = realloc(mm->known, nc * sizeof *known);
    if (!known) return -1;
    mm->known = known;
    uint32_t *cost = realloc(mm->cost, nc * sizeof *cost);
    if (!cost) return -1;
    mm->cost = cost;
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
    memset(&mm->known[s], 0, sizeof mm->known[s]);
    mm->cost[s] = GDIST_UNKNOWN;
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

/* The bytes that every top of set s tests the way it tests byte c (each
 * top accepts both or neither): 8 words per top, where comparing one
 * 64-bit signature per byte cost 256 lookups per top on every miss. */
static void same_bytes(const slm_grammar_matcher *m, const uint32_t *tops, uint32_t n, uint8_t c,
                       gbyteset *same) {
    memset(same->w, 0xff, sizeof same->w);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t t = tops[k];
        if (!t) continue;
        const gbyteset *b = &m->g->sets[m->g->el[m->a.f[t].pos].val];
        uint32_t flip = gbyteset_has(b, c) ? 0u : ~0u;
        for (int w = 0; w < 8; w++) same->w[w] &= b->w[w] ^ flip;
    }
}

/* Records trans[s][c] = r, and the same for every byte that the tops of s
 * test the same way: a step depends on the byte only through which tops
 * accept it, so a string state needs a handful of real steps, not 256. */
static void record(slm_grammar_matcher *m, gmemo *mm, uint32_t s, uint8_t c, uint32_t r) {
    uint32_t *row = mm->trans + (size_t)s * 256;
    gbyteset same;
    same_bytes(m, mm->pool.p + mm->off[s], mm->len[s], c, &same);
    same.w[c >> 5] |= 1u << (c & 31);
    /* only the bytes not recorded yet: a set's row fills in a handful of
     * misses, each touching its own bytes, not all 256 */
    for (int w = 0; w < 8; w++) {
        uint32_t todo = same.w[w] & ~mm->known[s].w[w];
        mm->known[s].w[w] |= todo;
        if (r == s + 2) mm->loop[s].w[w] |= todo;
        for (; todo; todo &= todo - 1) row[w * 32 + __builtin_ctz(todo)] = r;
    }
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
    record(m, mm, s, c, r);
    return r;
}

uint32_t gmemo_step(slm_grammar_matcher *m, gmemo *mm, uint32_t s, uint8_t c, size_t mark0) {
    return step(m, mm, s, c, mark0);
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
        free(mm->in_class);
        free(mm->chain);
        mm->sid = slm_malloc_array(need, sizeof *mm->sid);
        mm->in_class = malloc(need);
        mm->chain = slm_malloc_array(need + 1, sizeof *mm->chain);
        if (!mm->sid || !mm->in_class || !mm->chain) {
            mm->sid_cap = 0;
            return -1;
        }
        mm->sid_cap = need;
    }
    if (!mm->tmp && !(mm->tmp = calloc(slm_grammar_vocab_mask_words(m->v), sizeof *mm->tmp))) return -1;
    memo_reset(mm);
    return 0;
}

/* b is a subset of l. */
static int byteset_within(const gbyteset *b, const gbyteset *l) {
    uint32_t out = 0;
    for (int k = 0; k < 8; k++) out |= b->w[k] & ~l->w[k];
    return out == 0;
}

/* Every byte of node i's subtree loops set s back to itself. */
static int subtree_loops(const slm_grammar_vocab *v, const gmemo *mm, size_t i, uint32_t s) {
    return byteset_within(&v->sub_set[v->node_sub[i]], &mm->loop[s]);
}


/* bits = the tokens made only of bytes in l (trie walk pruned on the
 * first byte outside l). */
static void class_tokens(const slm_grammar_vocab *v, const gbyteset *l, uint32_t *bits) {
    size_t i = 1;
    while (i < v->n_nodes) {
        if (!gbyteset_has(l, v->node_byte[i])) {
            i = v->node_end[i];
            continue;
        }
        int whole = byteset_within(&v->sub_set[v->node_sub[i]], l);
        uint32_t end = whole ? v->tok_off[v->node_end[i]] : v->tok_off[i + 1];
        for (uint32_t k = v->tok_off[i]; k < end; k++) bits[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
        i = whole ? v->node_end[i] : i + 1;
    }
}

/* The token set of class (l, utf8): this matcher's slots, else the
 * vocabulary's shared copy, else computed (bits and lengths) and offered
 * to it. NULL on OOM. */
static gsh_class *class_get(const slm_grammar_vocab *v, gmemo *mm, const gbyteset *l, int utf8) {
    for (int e = 0; e < CLASS_SLOTS; e++)
        if (mm->cls[e].c.bits && mm->cls[e].c.utf8 == utf8 && !memcmp(&mm->cls[e].c.key, l, sizeof *l))
            return &mm->cls[e].c;
    struct gclass *g = &mm->cls[mm->cls_next];
    mm->cls_next = (mm->cls_next + 1) % CLASS_SLOTS;
    gclass_release(g);
    if (gshared_class_find(v, l, utf8, &g->c)) {
        g->borrowed = 1;
        return &g->c;
    }
    g->c.key = *l;
    g->c.utf8 = utf8;
    g->c.bits = calloc(slm_grammar_vocab_mask_words(v), sizeof *g->c.bits);
    if (!g->c.bits) return NULL;
    if (utf8) gutf8_class_tokens(v, l, utf8, g->c.bits);
    else class_tokens(v, l, g->c.bits);
    if (gshared_class_wanted(v)) g->borrowed = gshared_class_add(v, &g->c);
    return &g->c;
}

/* ORs into mask the class's tokens of length <= n (in its units): the
 * vocabulary's tokens up to n tested against the class, or the class
 * without the longer ones, whichever touches fewer. */
static void class_up_to(const slm_grammar_vocab *v, const gsh_class *c, uint32_t n, uint32_t *mask,
                        uint32_t *tmp) {
    size_t words = slm_grammar_vocab_mask_words(v);
    if (n >= v->max_depth) { /* every class token */
        for (size_t w = 0; w < words; w++) mask[w] |= c->bits[w];
        return;
    }
    const int32_t *ord = v->order[c->utf8 != 0];
    uint32_t k = v->order_off[c->utf8 != 0][n + 1], total = (uint32_t)v->n; /* k: tokens of length <= n */
    if (k <= total - k) {
        for (uint32_t i = 0; i < k; i++) {
            int32_t t = ord[i];
            mask[t >> 5] |= c->bits[t >> 5] & (1u << (t & 31));
        }
    } else {
        memcpy(tmp, c->bits, words * sizeof *tmp);
        for (uint32_t i = k; i < total; i++) tmp[ord[i] >> 5] &= ~(1u << (ord[i] & 31));
        for (size_t w = 0; w < words; w++) mask[w] |= tmp[w];
    }
}

/* Whether the tokens leading to set s go in the mask: always, except in a
 * budget walk, where the set's cost must be within the limit (the
 * cheapest cost of any set reached is recorded either way). */
static int keep(slm_grammar_matcher *m, gmemo *mm, uint32_t s) {
    if (mm->limit == GDIST_UNKNOWN) return 1;
    if (mm->cost[s] == GDIST_UNKNOWN)
        mm->cost[s] = mm->acc[s] ? 0 : gdist_set_cost(m, mm->pool.p + mm->off[s], mm->len[s]);
    if (mm->cost[s] < mm->min_cost) mm->min_cost = mm->cost[s];
    return mm->cost[s] <= mm->limit;
}

/* The root's class chain for the bytes l that all lead s0 to the same set
 * s1: chain[k] = the set after k bytes of l, as long as every byte of l
 * leads chain[k] to one set. Ends in a loop (chain[k+1] == chain[k]: a
 * string with no more length limit), dead (a maxLength reached) or open
 * (the bytes of l part ways: walked node by node from there). 0, or -1 to
 * give up. */
static int build_chain(slm_grammar_matcher *m, gmemo *mm, uint32_t s0, const gbyteset *l, size_t mark0) {
    mm->chain[0] = s0;
    mm->chain_len = 0;
    mm->chain_mode = CHAIN_OPEN;
    for (uint32_t k = 0; k < m->v->max_depth; k++) {
        uint32_t s = mm->chain[k], r = TRANS_UNKNOWN;
        for (int c = 0; c < 256; c++) {
            if (!gbyteset_has(l, (uint8_t)c)) continue;
            uint32_t rc = step(m, mm, s, (uint8_t)c, mark0);
            if (rc == 0) return -1;
            if (r == TRANS_UNKNOWN) r = rc;
            if (rc != r) return 0; /* open from here */
        }
        if (r == TRANS_DEAD) {
            mm->chain_mode = CHAIN_DEAD;
            return 0;
        }
        if (r - 2 == s) {
            mm->chain_mode = CHAIN_LOOP;
            return 0;
        }
        mm->chain[k + 1] = r - 2;
        mm->chain_len = k + 1;
    }
    mm->chain_mode = CHAIN_DEAD; /* no token is longer */
    return 0;
}

#define TEXT_GIVE_UP ((gsh_class *)&text_give_up)
static const char text_give_up = 0;

/* The root class's token set: the text class when non-ASCII characters
 * follow the chain like the class bytes (not in budget walks, whose
 * costs count bytes), else the byte class. NULL on OOM, TEXT_GIVE_UP. */
static gsh_class *text_class(slm_grammar_matcher *m, gmemo *mm, const gbyteset *l, size_t mark0) {
    mm->text = 0;
    if (mm->chain_mode != CHAIN_OPEN && mm->limit == GDIST_UNKNOWN) {
        int rc = gutf8_chain_ok(m, mm, mm->chain, mm->chain_len, mm->chain_mode == CHAIN_LOOP, mark0);
        if (rc < 0) return TEXT_GIVE_UP;
        if (rc > 0) {
            mm->text = rc;
            return class_get(m->v, mm, l, rc);
        }
    }
    return class_get(m->v, mm, l, 0);
}

/* Steps the root set by every byte (the walk would try nearly all of them
 * anyway). A large group of bytes that lead the root to one same set (a
 * JSON string body: to itself when the string is unbounded, to the next
 * position when it has a maxLength) is a class: its tokens up to the
 * chain's length are ORed in from a cached set and the walk skips the
 * paths that stay inside it. Returns 1 with the class in *l0, 0: no
 * shortcut; -1: give up. Budget walks use only the self-loop case (every
 * class token then leads to the root set, one cost). */
static int root_class(slm_grammar_matcher *m, gmemo *mm, uint32_t s0, size_t mark0, uint32_t *mask,
                      gbyteset *l0) {
    for (int c = 0; c < 256; c++)
        if (step(m, mm, s0, (uint8_t)c, mark0) == 0) return -1;
    const uint32_t *row = mm->trans + (size_t)s0 * 256;
    /* the most common live target (rows have few distinct targets; past
     * 16 the rest are not counted) */
    uint32_t tgt[16], cnt[16], n_tgt = 0, best = 0, best_n = 0;
    for (int c = 0; c < 256; c++) {
        if (row[c] < 2) continue;
        uint32_t k = 0;
        while (k < n_tgt && tgt[k] != row[c]) k++;
        if (k == n_tgt) {
            if (n_tgt == 16) continue;
            tgt[n_tgt] = row[c];
            cnt[n_tgt++] = 0;
        }
        if (++cnt[k] > best_n) best_n = cnt[k], best = tgt[k];
    }
    if (best_n < CLASS_MIN_BYTES) return 0;
    if (best - 2 != s0 && mm->limit != GDIST_UNKNOWN) return 0;
    gbyteset l = {{0}};
    for (int c = 0; c < 256; c++)
        if (row[c] == best) l.w[c >> 5] |= 1u << (c & 31);
    if (best - 2 == s0) {
        mm->chain[0] = s0;
        mm->chain_len = 0;
        mm->chain_mode = CHAIN_LOOP;
    } else if (build_chain(m, mm, s0, &l, mark0) != 0) {
        return -1;
    }
    gsh_class *c = text_class(m, mm, &l, mark0);
    if (c == TEXT_GIVE_UP) return -1;
    uint32_t upto = mm->chain_mode == CHAIN_LOOP ? UINT32_MAX - 1 : mm->chain_len;
    if (!c) return 0;
    *l0 = l;
    if (!keep(m, mm, s0)) return 1; /* budget walk: the class's tokens stay in s0, which is too far */
    uint32_t *tmp = mm->tmp;
    class_up_to(m->v, c, upto, mask, tmp);
    return 1;
}

/* Every token of node i's subtree is in the root class's set (given a
 * path of class bytes to it): its bytes are in lx, and for a text class
 * the tokens are well-formed UTF-8. */
static int in_text_class(const slm_grammar_vocab *v, const gmemo *mm, size_t i, const gbyteset *lx) {
    return byteset_within(&v->sub_set[v->node_sub[i]], lx) && (!mm->text || (v->node_wf[i] & mm->text));
}

int gmemo_walk(slm_grammar_matcher *m, uint32_t *mask, uint32_t limit, uint32_t *min_cost) {
    const slm_grammar_vocab *v = m->v;
    garena *a = &m->a;
    size_t mark0 = a->n;
    if (ensure_memo(m) != 0) return GMEMO_GIVE_UP;
    gmemo *mm = m->memo;
    mm->limit = limit;
    mm->min_cost = GDIST_UNKNOWN;
    int64_t s0 = memo_intern(mm, m->cur.p, m->cur.n, max_sets(m));
    if (s0 < 0) return GMEMO_GIVE_UP;
    gbyteset l0 = {{0}};
    mm->text = 0;
    int rc = root_class(m, mm, (uint32_t)s0, mark0, mask, &l0);
    if (rc < 0) goto give_up;
    /* a text class also covers the non-ASCII bytes of well-formed tokens */
    gbyteset lx = l0;
    if (mm->text) memset(&lx.w[4], 0xff, 4 * sizeof lx.w[0]);
    uint32_t *sid = mm->sid;
    uint8_t *in_class = mm->in_class; /* PATH_*: how the path from the root relates to the root's class */
    sid[0] = (uint32_t)s0;
    in_class[0] = rc ? PATH_CLASS : PATH_OUT;
    size_t i = 1;
    while (i < v->n_nodes) {
        uint32_t d = v->node_depth[i], s = sid[d - 1];
        uint8_t b = v->node_byte[i], path = in_class[d - 1];
        if (path == PATH_CLASS && gbyteset_has(&l0, b)) {
            if (d <= mm->chain_len || mm->chain_mode == CHAIN_LOOP) {
                /* its tokens are in the class set already */
                if (mm->chain_mode != CHAIN_OPEN && in_text_class(v, mm, i, &lx)) {
                    i = v->node_end[i]; /* deeper class tokens: in the set too, or dead */
                } else {
                    sid[d] = d <= mm->chain_len ? mm->chain[d] : mm->chain[mm->chain_len];
                    in_class[d] = PATH_CLASS;
                    i++;
                }
                continue;
            }
            if (mm->chain_mode == CHAIN_DEAD) { /* past the length limit */
                i = v->node_end[i];
                continue;
            }
            /* open: past the uniform part, walk it node by node */
        }
        /* text: class bytes and non-ASCII characters so far; a subtree of
         * text tokens is in the text class's set (or dead) */
        uint8_t next = PATH_OUT;
        if (path != PATH_OUT && mm->text && (b >= 0x80 || (path == PATH_TEXT && gbyteset_has(&l0, b)))) {
            if (in_text_class(v, mm, i, &lx)) {
                i = v->node_end[i];
                continue;
            }
            next = PATH_TEXT;
        }
        uint32_t r = mm->trans[(size_t)s * 256 + b]; /* the hit, inline */
        if (r == TRANS_UNKNOWN) r = step(m, mm, s, b, mark0);
        if (r == s + 2 && subtree_loops(v, mm, i, s)) {
            /* the whole subtree stays in s: all its tokens are allowed */
            if (keep(m, mm, s))
                for (uint32_t k = v->tok_off[i]; k < v->tok_off[v->node_end[i]]; k++)
                    mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
            i = v->node_end[i];
            continue;
        }
        if (r == 0) goto give_up;
        if (r == TRANS_DEAD) {
            i = v->node_end[i];
            continue;
        }
        if (v->tok_off[i] < v->tok_off[i + 1] && keep(m, mm, r - 2))
            for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++)
                mask[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
        if (mm->acc[r - 2]) {
            i = v->node_end[i];
            continue;
        }
        sid[d] = r - 2;
        in_class[d] = next;
        i++;
    }
    garena_rollback(a, mark0);
    if (min_cost) *min_cost = mm->min_cost;
    return GMEMO_OK;
give_up:
    if (a->failed) return GMEMO_FAILED; /* sticky; the caller reports it */
    garena_rollback(a, mark0);
    return GMEMO_GIVE_UP;
}
