/* The UTF-8 shape of the vocabulary's tokens, for the mask walk's text
 * class (mask_utf8.c): which tokens are well-formed UTF-8 text, how many
 * characters they hold, and per trie node whether its whole subtree is
 * well-formed; and the tokens sorted by length in bytes and in
 * characters (a bounded string's class allows those up to a length). A byte-level BPE vocabulary of 128k tokens has tens of
 * thousands of tokens with non-ASCII characters; inside a JSON string
 * they all behave alike, and knowing their shape lets the walk allow
 * them as one set instead of stepping each of their bytes. */
#include <string.h>

#include "grammar/matcher_internal.h"

/* The valid second bytes after lead byte b, and how many continuation
 * bytes b needs in all (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF); 0 when b cannot start a multi-byte character. */
int gutf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) return 1;
    if (b == 0xE0) *lo = 0xA0;
    if (b == 0xED) *hi = 0x9F;
    if (b >= 0xE0 && b <= 0xEF) return 2;
    if (b == 0xF0) *lo = 0x90;
    if (b == 0xF4) *hi = 0x8F;
    if (b >= 0xF0 && b <= 0xF4) return 3;
    return 0;
}

uint32_t gutf8_units(const uint8_t *p, uint32_t n) {
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++) u += p[i] < 0x80 || p[i] >= 0xC0; /* not a continuation byte */
    return u;
}

/* Token t's length in bytes (u = 0) or characters (u = 1); tokens longer
 * than the trie (none: max_depth is the longest) are capped at it. */
static uint32_t token_len(const slm_grammar_vocab *v, int u, int32_t t) {
    uint32_t n = v->off[t + 1] - v->off[t];
    if (u) n = gutf8_units(v->bytes + v->off[t], n);
    return n < v->max_depth ? n : v->max_depth;
}

int gutf8_text(const uint8_t *p, uint32_t n) {
    uint32_t u = 0, i = 0, hi_end = 0;
    while (i < n) {
        uint8_t lo, hi;
        if (p[i] < 0x80) {
            i++;
            u++;
            continue;
        }
        int need = gutf8_lead(p[i], &lo, &hi);
        if (!need) return 0;
        for (i++; need > 0 && i < n; need--, i++) {
            if (p[i] < lo || p[i] > hi) return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        hi_end = ++u;
    }
    return hi_end <= GUTF8_TEXT_POS ? GUTF8_TEXT | GUTF8_NEAR : GUTF8_TEXT;
}

/* order[u]: the tokens by length (counting sort); -1 on OOM. */
static int build_order(slm_grammar_vocab *v, int u) {
    uint32_t *off = calloc((size_t)v->max_depth + 2, sizeof *off);
    int32_t *ord = slm_malloc_array((size_t)v->n + 1, sizeof *ord);
    v->order_off[u] = off;
    v->order[u] = ord;
    if (!off || !ord) return -1;
    for (int32_t t = 0; t < v->n; t++) off[token_len(v, u, t) + 1]++;
    for (uint32_t k = 0; k <= v->max_depth; k++) off[k + 1] += off[k];
    uint32_t *fill = slm_malloc_array((size_t)v->max_depth + 1, sizeof *fill);
    if (!fill) return -1;
    memcpy(fill, off, ((size_t)v->max_depth + 1) * sizeof *fill);
    for (int32_t t = 0; t < v->n; t++) ord[fill[token_len(v, u, t)]++] = t;
    free(fill);
    return 0;
}

slm_status gvocab_build_text(slm_grammar_vocab *v, slm_error *err) {
    v->node_wf = malloc(v->n_nodes ? v->n_nodes : 1);
    if (!v->node_wf || build_order(v, 0) != 0 || build_order(v, 1) != 0)
        return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    /* children before parents: the bits that a node's own tokens and
     * every child's subtree have */
    for (size_t i = v->n_nodes; i-- > 0;) {
        uint8_t wf = GUTF8_TEXT | GUTF8_NEAR;
        for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1] && wf; k++) {
            int32_t t = v->tok[k];
            wf &= (uint8_t)gutf8_text(v->bytes + v->off[t], v->off[t + 1] - v->off[t]);
        }
        for (size_t j = i + 1; j < v->node_end[i] && wf; j = v->node_end[j]) wf &= v->node_wf[j];
        v->node_wf[i] = wf;
    }
    return SLM_OK;
}
