/* The text class of the memoized mask walk (mask_memo.c's root class).
 *
 * Inside a JSON string every ASCII text byte leads the parser to the same
 * set (or, under maxLength, to the next position), and the walk already
 * allows those tokens as one cached set. Non-ASCII characters are the
 * rest of the cost: a 128k byte-level vocabulary has tens of thousands of
 * tokens with them, and stepping their bytes node by node was most of a
 * string mask's time. Here the automaton is checked once per mask: if
 * every well-formed character (each of the RFC 3629 byte ranges, prefix
 * by prefix) takes each chain position to the next exactly as a class
 * byte does, the well-formed text tokens join the class set, counted in
 * characters, and the walk skips their subtrees. The check costs a few
 * hundred memoized table lookups per position, not one per trie node.
 * Anything else (a pattern that tests non-ASCII characters, a cut
 * character where the grammar would end) fails the check and the walk
 * stays byte by byte, so masks are unchanged either way. */
#include <string.h>

#include "grammar/matcher_internal.h"

#define TRANS_DEAD 1u
#define MAX_PENDING 64 /* distinct mid-character sets per position */

typedef struct pending {
    uint32_t s;
    uint8_t lo, hi, need;
} pending;

/* Queues (s, lo, hi, need) unless queued already; 0 when full. */
static int enqueue(pending *q, int *n, uint32_t s, uint8_t lo, uint8_t hi, uint8_t need) {
    for (int k = 0; k < *n; k++)
        if (q[k].s == s && q[k].lo == lo && q[k].hi == hi && q[k].need == need) return 1;
    if (*n == MAX_PENDING) return 0;
    q[(*n)++] = (pending){s, lo, hi, need};
    return 1;
}

/* Every well-formed non-ASCII character leads set s to set t, through
 * live sets only: 1, 0 no, -1 give up. */
static int chars_lead(slm_grammar_matcher *m, gmemo *mm, uint32_t s, uint32_t t, size_t mark0) {
    pending q[MAX_PENDING];
    int n = 0;
    for (int b = 0xC2; b <= 0xF4; b++) {
        uint8_t lo, hi;
        int need = gutf8_lead((uint8_t)b, &lo, &hi);
        uint32_t x = gmemo_step(m, mm, s, (uint8_t)b, mark0);
        if (x == 0) return -1;
        if (x == TRANS_DEAD || !enqueue(q, &n, x - 2, lo, hi, (uint8_t)need)) return 0;
    }
    for (int k = 0; k < n; k++) {
        pending p = q[k];
        for (int c = p.lo; c <= p.hi; c++) {
            uint32_t y = gmemo_step(m, mm, p.s, (uint8_t)c, mark0);
            if (y == 0) return -1;
            if (y == TRANS_DEAD) return 0;
            if (p.need == 1 ? y - 2 != t : !enqueue(q, &n, y - 2, 0x80, 0xBF, (uint8_t)(p.need - 1))) return 0;
        }
    }
    return 1;
}

/* No non-ASCII character can start from set s. */
static int chars_dead(slm_grammar_matcher *m, gmemo *mm, uint32_t s, size_t mark0) {
    for (int b = 0xC2; b <= 0xF4; b++) {
        uint32_t x = gmemo_step(m, mm, s, (uint8_t)b, mark0);
        if (x == 0) return -1;
        if (x != TRANS_DEAD) return 0;
    }
    return 1;
}

int gutf8_chain_ok(slm_grammar_matcher *m, gmemo *mm, const uint32_t *chain, uint32_t n, int loop, size_t mark0) {
    const uint32_t upto = GUTF8_TEXT_POS;
    for (uint32_t k = 0; k < n && k < upto; k++) {
        int rc = chars_lead(m, mm, chain[k], chain[k + 1], mark0);
        if (rc != 1) return rc;
    }
    if (n >= upto) return GUTF8_NEAR;
    int rc = loop ? chars_lead(m, mm, chain[n], chain[n], mark0) : chars_dead(m, mm, chain[n], mark0);
    return rc == 1 ? GUTF8_TEXT : rc;
}

/* b is a subset of l. */
static int within(const gbyteset *b, const gbyteset *l) {
    uint32_t out = 0;
    for (int k = 0; k < 8; k++) out |= b->w[k] & ~l->w[k];
    return out == 0;
}

static void add_tokens(const slm_grammar_vocab *v, uint32_t from, uint32_t to, uint32_t *bits) {
    for (uint32_t k = from; k < to; k++) bits[v->tok[k] >> 5] |= 1u << (v->tok[k] & 31);
}

/* A trie walk pruned at the first ASCII byte outside l: subtrees of text
 * tokens whole, other nodes token by token. */
void gutf8_class_tokens(const slm_grammar_vocab *v, const gbyteset *l, int kind, uint32_t *bits) {
    gbyteset lx = *l;
    memset(&lx.w[4], 0xff, 4 * sizeof lx.w[0]);
    size_t i = 1;
    while (i < v->n_nodes) {
        uint8_t b = v->node_byte[i];
        if (b < 0x80 && !gbyteset_has(l, b)) {
            i = v->node_end[i];
            continue;
        }
        if ((v->node_wf[i] & kind) && within(&v->sub_set[v->node_sub[i]], &lx)) {
            add_tokens(v, v->tok_off[i], v->tok_off[v->node_end[i]], bits);
            i = v->node_end[i];
            continue;
        }
        for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) {
            int32_t t = v->tok[k];
            if (gutf8_text(v->bytes + v->off[t], v->off[t + 1] - v->off[t]) & kind)
                bits[t >> 5] |= 1u << (t & 31);
        }
        i++;
    }
}
