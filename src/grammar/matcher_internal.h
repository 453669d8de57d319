/* Matcher internals shared by stacks.c (parse-stack arena and the byte
 * step), matcher.c (public API), vocab.c (token trie) and mask.c (allowed
 * token computation).
 *
 * Parse stacks form a graph-structured stack: a frame is (pos, parent),
 * hash-consed in an arena so that equal stacks have equal ids and sets of
 * stacks deduplicate by id. Frame 0 is the empty stack (the grammar is
 * complete). A stack set is an array of top frame ids whose positions are
 * all GE_BYTES elements (or 0). Frames are only appended; rollback to a
 * mark removes the newest ones (used while walking the token trie), and a
 * compaction copies the live frames when the arena has grown. */
#ifndef SLM_GRAMMAR_MATCHER_INTERNAL_H
#define SLM_GRAMMAR_MATCHER_INTERNAL_H

#include "grammar/grammar_internal.h"

typedef struct gframe {
    uint32_t pos, parent, next; /* next: hash bucket chain */
} gframe;

typedef struct u32vec {
    uint32_t *p;
    size_t n, cap;
} u32vec;

int u32vec_push(u32vec *v, uint32_t x);

typedef struct garena {
    gframe *f;
    size_t n, cap; /* f[0] is the empty stack */
    uint32_t *bucket;
    size_t n_bucket; /* power of two */
    uint32_t *seen_exp, *seen_set; /* per-frame epoch stamps */
    uint32_t *dist; /* per frame: distance.c's memo (GDIST_UNKNOWN until computed) */
    uint32_t epoch;
    int depth;    /* expansion recursion depth */
    int failed;   /* a limit was hit: fail closed */
    slm_status fail_code;
    char fail_msg[160];
} garena;

int garena_init(garena *a);
void garena_free(garena *a);
/* The id of frame (pos, parent), created if new; 0 and a failure on limit. */
uint32_t garena_intern(garena *a, uint32_t pos, uint32_t parent);
void garena_rollback(garena *a, size_t mark);

/* Starts a new step (new dedupe epoch). */
void gstep_begin(garena *a);
/* Adds to out every stack reachable from the start of the grammar. */
void gstep_start(garena *a, const slm_grammar *g, u32vec *out);
/* out = the stacks of `in` (n ids) advanced by byte c (out is appended to;
 * dedupe is per gstep_begin epoch). */
void gstep_advance(garena *a, const slm_grammar *g, const uint32_t *in, size_t n, uint8_t c,
                   u32vec *out);
/* Copies the frames reachable from tops[] into a fresh arena, rewriting
 * tops[] in place. Returns 0 or -1 (arena unchanged). */
int garena_compact(garena *a, uint32_t *tops, size_t n);

typedef struct gshared gshared;
typedef struct gsh_entry gsh_entry;

/* ---- vocabulary + token trie (vocab.c) ---------------------------- */
/* Trie nodes in preorder: node i (>= 1) adds byte[i] at depth[i] (root
 * is node 0, depth 0); its subtree is [i, end[i]); the tokens whose bytes
 * end exactly there are tok[tok_off[i] .. tok_off[i+1]). */
struct slm_grammar_vocab {
    int32_t n;
    uint8_t *bytes;
    uint32_t *off; /* token t: bytes[off[t] .. off[t+1]) */
    int32_t *eos;
    size_t n_eos;
    size_t n_nodes;
    uint8_t *node_byte;
    uint32_t *node_depth, *node_end, *tok_off;
    int32_t *tok;
    uint32_t max_depth;
    /* bytes used anywhere in node i's subtree (i >= 1, node i's own byte
     * included) = sub_set[node_sub[i]]; distinct sets are interned */
    uint32_t *node_sub;
    gbyteset *sub_set;
    size_t n_sub;
    /* GUTF8_* bits that every token in node i's subtree has (gutf8_text) */
    uint8_t *node_wf;
    /* the tokens sorted by length, in bytes (order[0]) and in characters
     * (order[1], gutf8_units): length k is order[u][order_off[u][k] ..
     * order_off[u][k+1]), k <= max_depth (vocab_utf8.c) */
    int32_t *order[2];
    uint32_t *order_off[2];
    gshared *shared; /* mask cache shared by matchers (mask_shared.c) */
};

/* ---- matcher ------------------------------------------------------- */
typedef struct gmask_cache gmask_cache;
typedef struct gmemo gmemo;

struct slm_grammar_matcher {
    const slm_grammar *g;
    const slm_grammar_vocab *v;
    garena a;
    u32vec cur;     /* current stack tops */
    u32vec scratch; /* next set while stepping */
    int done;       /* EOS accepted */
    size_t live_after_gc;
    /* trie walk scratch: sets per depth in one buffer */
    u32vec walk;
    size_t *walk_start, *walk_len, *walk_mark;
    gmask_cache *cache;
    gmemo *memo;    /* memoized walk tables (mask_memo.c), reused per walk */
    uint32_t memo_max_sets; /* 0: the default budget; tests lower it to
                             * exercise the give-up path */
    size_t arena_gen; /* bumped when frame ids change (compaction, reset) */
    /* distance to the end (distance.c, budget.c), computed on first use */
    const uint32_t *rest; /* per element; own_rest or a shared table */
    uint32_t *own_rest;
    u32vec dist_chain;    /* scratch for frame_dist */
    uint32_t *tcost;      /* per token: tokens still needed after it (budget walk) */
    gsh_entry *sh;        /* this grammar's entry in the vocabulary's shared cache, or NULL */
    u32vec key, key_pool; /* state key and its scratch (mask_shared.c) */
    struct stack_ref *key_refs;
    size_t key_refs_cap;
};

/* Runs bytes from the current set (matcher.c). Returns 1 if all were
 * accepted; the new set is then in m->scratch. Frames created are kept:
 * the caller rolls back (unless m->a.failed) or commits. */
int gmatch_run_bytes(slm_grammar_matcher *m, const uint8_t *b, size_t len);
int gmatch_is_eos(const slm_grammar_vocab *v, int32_t tok);
/* Makes m->scratch (a run_bytes result) the current set. */
void gmatch_commit(slm_grammar_matcher *m);

/* Plain trie walk (mask.c): calls visit for every trie node whose bytes
 * the grammar accepts from the current state, with the stack set after
 * them (m->scratch). visit returns 1 to descend into the node's subtree,
 * 0 to skip it. The arena ends as it started. */
typedef int (*gwalk_visit)(slm_grammar_matcher *m, size_t node, const uint32_t *tops, size_t n, void *ctx);
slm_status gwalk_plain(slm_grammar_matcher *m, gwalk_visit visit, void *ctx, slm_error *err);

/* ---- mask cache shared across matchers (mask_shared.c) ------------ */
int gshared_init(slm_grammar_vocab *v);
void gshared_free(gshared *s);
/* The entry for g's content (created if new), with a reference; NULL when
 * sharing is off or out of memory (the matcher then works alone). */
gsh_entry *gshared_attach(const slm_grammar_vocab *v, const slm_grammar *g);
void gshared_detach(const slm_grammar_vocab *v, gsh_entry *e);
/* The entry's distance table (computed on first use), NULL on OOM. */
const uint32_t *gshared_rest(const slm_grammar_vocab *v, gsh_entry *e, const slm_grammar *g);
/* The current state's key (frame-number free) into m->key; -1: no key. */
int gshared_state_key(slm_grammar_matcher *m);
/* 1 and the mask in out (overwritten) on a hit, 0 on a miss. */
int gshared_lookup(const slm_grammar_vocab *v, const gsh_entry *e, const uint32_t *key, size_t n, uint32_t *out);
/* Stores a mask (scratch: any vector, for the token list). */
void gshared_insert(const slm_grammar_vocab *v, const gsh_entry *e, const uint32_t *key, size_t n,
                    const uint32_t *mask, u32vec *scratch);

/* Token set of a byte class (mask_memo.c's root class): the tokens made
 * only of bytes in key, as bits. A text class (utf8 = GUTF8_TEXT or
 * GUTF8_NEAR) also holds the tokens with that gutf8_text bit whose ASCII
 * bytes are all in key; its lengths count characters (a cut last
 * character counts as one). */
typedef struct gsh_class {
    gbyteset key;
    int utf8;
    uint32_t *bits;
} gsh_class;
/* The vocabulary's shared copy of class (l, utf8) into *out (its arrays
 * are borrowed and live as long as the vocabulary): 1, or 0 when absent. */
int gshared_class_find(const slm_grammar_vocab *v, const gbyteset *l, int utf8, gsh_class *out);
/* Whether the vocabulary would take a new class now (sharing on, room). */
int gshared_class_wanted(const slm_grammar_vocab *v);
/* Offers a computed class; 1 when the vocabulary took ownership of its
 * arrays, 0 when the caller keeps them (sharing off, full, or a race). */
int gshared_class_add(const slm_grammar_vocab *v, const gsh_class *c);

/* ---- distance to the end (distance.c) ---------------------------- */
#define GDIST_INF (UINT32_MAX - 1) /* cannot reach the end */
#define GDIST_UNKNOWN UINT32_MAX   /* frame memo not filled yet */
/* The per-element table rest[] of grammar g (malloc'ed), NULL on OOM. */
uint32_t *gdist_rest_new(const slm_grammar *g);
/* Makes m->rest available; -1 on OOM. */
int gdist_ensure(slm_grammar_matcher *m);
/* Fewest bytes before the stacks tops[0..n) accept (0: one is empty). */
uint32_t gdist_set_bytes(slm_grammar_matcher *m, const uint32_t *tops, size_t n);
/* Tokens still needed to end from this set, assuming one token per byte:
 * 0 when every stack is empty (done, generation stops by itself), else
 * bytes + 1 (the end-of-text token). */
uint32_t gdist_set_cost(slm_grammar_matcher *m, const uint32_t *tops, size_t n);

/* Fills mask for the current state (mask.c). */
slm_status gmask_fill(slm_grammar_matcher *m, uint32_t *mask, slm_error *err);
void gmask_cache_free(gmask_cache *c);

/* Memoized trie walk (mask_memo.c): ORs the allowed tokens into mask.
 * GMEMO_GIVE_UP: a budget was spent, the arena is as before and mask may
 * hold part of the result (only allowed tokens, so the caller simply
 * walks the plain way on top of it);
 * GMEMO_FAILED: the arena hit a limit (m->a.failed is set). */
enum { GMEMO_OK = 0, GMEMO_GIVE_UP = 1, GMEMO_FAILED = 2 };
/* limit: GDIST_UNKNOWN for a plain mask; else a budget walk: only tokens
 * whose next state costs <= limit (distance.c), and *min_cost (may be
 * NULL) gets the cheapest cost among all allowed tokens. */
int gmemo_walk(slm_grammar_matcher *m, uint32_t *mask, uint32_t limit, uint32_t *min_cost);
void gmemo_free(gmemo *mm);
/* The memoized step of set s by byte c: 1 dead, k + 2 set k, 0 give up
 * (a budget, OOM). mark0: the arena mark the walk started at. */
uint32_t gmemo_step(slm_grammar_matcher *m, gmemo *mm, uint32_t s, uint8_t c, size_t mark0);

/* ---- UTF-8 text (vocab_utf8.c, mask_utf8.c) ------------------------ */
/* How many continuation bytes lead byte b needs (0: not a lead byte),
 * and the valid range of the first one (RFC 3629). */
int gutf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi);
/* Text: well-formed UTF-8 (the last character may be cut). Near text:
 * text whose non-ASCII characters all start within its first
 * GUTF8_TEXT_POS characters (99% of a 128k vocabulary's tokens with such
 * characters), which is all a long chain (maxLength) checks. */
#define GUTF8_TEXT 1
#define GUTF8_NEAR 2
#define GUTF8_TEXT_POS 8
/* The GUTF8_* bits of p[0..n) (0: not text). */
int gutf8_text(const uint8_t *p, uint32_t n);
/* Characters in p[0..n) of a text token (a cut one counts). */
uint32_t gutf8_units(const uint8_t *p, uint32_t n);
/* Fills v->node_wf and the length orders. */
slm_status gvocab_build_text(slm_grammar_vocab *v, slm_error *err);
/* Whether every non-ASCII character takes the chain like one class byte:
 * from chain[k] to chain[k+1] for k < n, then from chain[n] back to
 * itself when loop, or nowhere when not; each prefix of such a character
 * live. Only the first GUTF8_TEXT_POS positions are checked: GUTF8_TEXT
 * when that covers the whole chain, GUTF8_NEAR when not (near text
 * tokens only), 0 no, -1 give up (gmemo_step). */
int gutf8_chain_ok(slm_grammar_matcher *m, gmemo *mm, const uint32_t *chain, uint32_t n, int loop, size_t mark0);
/* bits |= the text class's tokens for ASCII bytes l (kind: GUTF8_*). */
void gutf8_class_tokens(const slm_grammar_vocab *v, const gbyteset *l, int kind, uint32_t *bits);

#endif
