/* The matcher's view of a vocabulary: token id -> output bytes, the end
 * tokens, and a byte trie over all tokens in preorder (see
 * matcher_internal.h) so the mask computation can test a shared prefix
 * once for every token that starts with it and skip whole subtrees. Each
 * node also gets the set of bytes used in its subtree (interned; the
 * memoized walk allows a subtree whole when all those bytes loop). The
 * vocabulary also owns the mask cache its matchers share (mask_shared.c). */
#include <string.h>

#include "grammar/matcher_internal.h"
#include "slm/tokenizer.h"

#define MAX_TOKEN_BYTES 65536

typedef struct tok_ref {
    const uint8_t *p;
    uint32_t len;
    int32_t id;
} tok_ref;

static int cmp_tok(const void *a, const void *b) {
    const tok_ref *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Builds the preorder trie from the tokens sorted by bytes: token k adds
 * one node per byte beyond its common prefix with token k-1. */
static slm_status build_trie(slm_grammar_vocab *v, slm_error *err) {
    size_t n_ref = 0;
    tok_ref *refs = slm_malloc_array((size_t)v->n + 1, sizeof *refs);
    if (!refs) return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    for (int32_t t = 0; t < v->n; t++) {
        uint32_t len = v->off[t + 1] - v->off[t];
        if (len) refs[n_ref++] = (tok_ref){v->bytes + v->off[t], len, t};
    }
    qsort(refs, n_ref, sizeof *refs, cmp_tok);
    size_t cap = v->off[v->n] + 1;
    v->node_byte = malloc(cap);
    v->node_depth = slm_malloc_array(cap, sizeof *v->node_depth);
    v->node_end = slm_malloc_array(cap, sizeof *v->node_end);
    v->tok_off = slm_malloc_array(cap + 1, sizeof *v->tok_off);
    v->tok = slm_malloc_array(n_ref + 1, sizeof *v->tok);
    if (!v->node_byte || !v->node_depth || !v->node_end || !v->tok_off || !v->tok) {
        free(refs);
        return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    }
    size_t nn = 1, nt = 0;
    v->node_byte[0] = 0;
    v->node_depth[0] = 0;
    v->tok_off[0] = 0;
    for (size_t k = 0; k < n_ref; k++) {
        uint32_t common = 0;
        if (k > 0) {
            uint32_t lim = refs[k - 1].len < refs[k].len ? refs[k - 1].len : refs[k].len;
            while (common < lim && refs[k - 1].p[common] == refs[k].p[common]) common++;
        }
        for (uint32_t d = common + 1; d <= refs[k].len; d++) {
            v->node_byte[nn] = refs[k].p[d - 1];
            v->node_depth[nn] = d;
            v->tok_off[nn] = (uint32_t)nt;
            nn++;
        }
        v->tok[nt++] = refs[k].id; /* its end node is the newest node */
        if (refs[k].len > v->max_depth) v->max_depth = refs[k].len;
    }
    v->n_nodes = nn;
    v->tok_off[nn] = (uint32_t)nt;
    /* a token is appended right after its end node is created (sorted
     * order makes that node the newest), so node i's tokens are
     * tok[tok_off[i] .. tok_off[i+1]). Subtree ends, scanning backwards: */
    for (size_t i = nn; i-- > 0;) {
        uint32_t d = v->node_depth[i];
        size_t j = i + 1;
        while (j < nn && v->node_depth[j] > d) j = v->node_end[j];
        v->node_end[i] = (uint32_t)j;
    }
    free(refs);
    return SLM_OK;
}

static uint64_t byteset_hash(const gbyteset *b) {
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < 8; k++) h = (h ^ b->w[k]) * 1099511628211ull;
    return h ^ (h >> 31);
}

/* Interns b into v->sub_set (ht: open addressing, index + 1); -1 on OOM. */
static int64_t sub_intern(slm_grammar_vocab *v, const gbyteset *b, uint32_t *ht, size_t ht_cap,
                          size_t *cap) {
    size_t h = (size_t)byteset_hash(b) & (ht_cap - 1);
    for (; ht[h]; h = (h + 1) & (ht_cap - 1))
        if (!memcmp(&v->sub_set[ht[h] - 1], b, sizeof *b)) return ht[h] - 1;
    if (v->n_sub == *cap && grow_array((void **)&v->sub_set, cap, v->n_sub + 1, sizeof *v->sub_set) != 0)
        return -1;
    v->sub_set[v->n_sub] = *b;
    ht[h] = (uint32_t)++v->n_sub;
    return (int64_t)v->n_sub - 1;
}

/* Subtree byte sets, children before parents (reverse preorder). A
 * subtree has no more distinct sets than nodes, so the table (twice the
 * node count) never fills. */
static slm_status build_subsets(slm_grammar_vocab *v, slm_error *err) {
    size_t nn = v->n_nodes, ht_cap = 1, cap = 0;
    while (ht_cap < 2 * nn) ht_cap <<= 1;
    uint32_t *ht = calloc(ht_cap, sizeof *ht);
    v->node_sub = slm_malloc_array(nn, sizeof *v->node_sub);
    if (!ht || !v->node_sub) {
        free(ht);
        return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    }
    v->node_sub[0] = 0;
    for (size_t i = nn; i-- > 1;) {
        gbyteset b = {{0}};
        b.w[v->node_byte[i] >> 5] |= 1u << (v->node_byte[i] & 31);
        for (size_t j = i + 1; j < v->node_end[i]; j = v->node_end[j])
            for (int k = 0; k < 8; k++) b.w[k] |= v->sub_set[v->node_sub[j]].w[k];
        int64_t id = sub_intern(v, &b, ht, ht_cap, &cap);
        if (id < 0) {
            free(ht);
            return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
        }
        v->node_sub[i] = (uint32_t)id;
    }
    free(ht);
    return SLM_OK;
}

slm_status slm_grammar_vocab_new(int32_t n_tokens, const char *const *bytes, const size_t *lens,
                                 const int32_t *eos, size_t n_eos, slm_grammar_vocab **out,
                                 slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: NULL out");
    *out = NULL;
    if (n_tokens <= 0 || n_tokens > (1 << 24) || (!bytes && n_tokens) || !lens || (n_eos && !eos))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: bad arguments (n_tokens %d)", n_tokens);
    uint64_t total = 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        if (lens[t] > MAX_TOKEN_BYTES || (lens[t] && !bytes[t]))
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: token %d has bad bytes", t);
        total += lens[t];
    }
    if (total >= UINT32_MAX / 2) return slm_error_set(err, SLM_ERR_RANGE, "grammar vocab: too many bytes");
    for (size_t i = 0; i < n_eos; i++)
        if (eos[i] < 0 || eos[i] >= n_tokens)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: eos id %d out of range", eos[i]);
    slm_grammar_vocab *v = calloc(1, sizeof *v);
    if (!v) return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    v->n = n_tokens;
    v->bytes = malloc(total ? total : 1);
    v->off = slm_malloc_array((size_t)n_tokens + 1, sizeof *v->off);
    v->eos = slm_malloc_array(n_eos ? n_eos : 1, sizeof *v->eos);
    if (!v->bytes || !v->off || !v->eos) {
        slm_grammar_vocab_free(v);
        return slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    }
    uint32_t o = 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        v->off[t] = o;
        if (lens[t]) memcpy(v->bytes + o, bytes[t], lens[t]);
        o += (uint32_t)lens[t];
    }
    v->off[n_tokens] = o;
    if (n_eos) memcpy(v->eos, eos, n_eos * sizeof *eos);
    v->n_eos = n_eos;
    slm_status st = build_trie(v, err);
    if (st == SLM_OK) st = build_subsets(v, err);
    if (st == SLM_OK) st = gvocab_build_text(v, err);
    if (st == SLM_OK && gshared_init(v) != 0) st = slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    if (st) {
        slm_grammar_vocab_free(v);
        return st;
    }
    *out = v;
    return SLM_OK;
}

slm_status slm_grammar_vocab_from_tokenizer(const struct slm_tokenizer *t, slm_grammar_vocab **out,
                                            slm_error *err) {
    if (!t || !out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: NULL tokenizer");
    int32_t n = slm_tokenizer_n_vocab(t);
    if (n <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar vocab: empty tokenizer");
    char **bytes = calloc((size_t)n, sizeof *bytes);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int32_t *eos = calloc((size_t)n, sizeof *eos);
    size_t n_eos = 0;
    slm_status st = SLM_OK;
    if (!bytes || !lens || !eos) st = slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
    char buf[256];
    for (int32_t i = 0; i < n && st == SLM_OK; i++) {
        if (slm_tokenizer_is_eog(t, i)) eos[n_eos++] = i;
        if (slm_tokenizer_is_control(t, i)) continue;
        size_t len = slm_token_to_piece(t, i, false, buf, sizeof buf);
        bytes[i] = malloc(len ? len : 1);
        if (!bytes[i]) {
            st = slm_error_set(err, SLM_ERR_NOMEM, "grammar vocab: out of memory");
            break;
        }
        if (len > sizeof buf) slm_token_to_piece(t, i, false, bytes[i], len);
        else memcpy(bytes[i], buf, len);
        lens[i] = len;
    }
    if (st == SLM_OK)
        st = slm_grammar_vocab_new(n, (const char *const *)bytes, lens, eos, n_eos, out, err);
    for (int32_t i = 0; bytes && i < n; i++) free(bytes[i]);
    free(bytes);
    free(lens);
    free(eos);
    return st;
}

void slm_grammar_vocab_free(slm_grammar_vocab *v) {
    if (!v) return;
    free(v->bytes);
    free(v->off);
    free(v->eos);
    free(v->node_byte);
    free(v->node_depth);
    free(v->node_end);
    free(v->tok_off);
    free(v->tok);
    free(v->node_sub);
    free(v->sub_set);
    free(v->node_wf);
    for (int u = 0; u < 2; u++) {
        free(v->order[u]);
        free(v->order_off[u]);
    }
    gshared_free(v->shared);
    free(v);
}

int32_t slm_grammar_vocab_n_tokens(const slm_grammar_vocab *v) { return v ? v->n : 0; }

size_t slm_grammar_vocab_mask_words(const slm_grammar_vocab *v) {
    return v ? ((size_t)v->n + 31) / 32 : 0;
}
