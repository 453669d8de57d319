/* SentencePiece-style BPE (tokenizer.ggml.model = "llama"), as llama.cpp's
 * llm_tokenizer_spm: spaces become U+2581, the text is split into UTF-8
 * characters (by lead byte, without validation), and the adjacent pair whose
 * concatenation is the highest-scoring vocab token is merged until none is
 * left. Symbols that are not tokens fall back to byte tokens <0xNN>.
 *
 * llama.cpp also keeps a "rev_merge" table to re-split non-token symbols;
 * it is never used in effect, because every merged symbol is a token and a
 * single character can never equal the text of a pair, so it is omitted. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_heap.h"
#include "tokenizer/tok_internal.h"

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t off, n;
} spm_sym;

typedef struct spm_ctx {
    const slm_tokenizer *t;
    const char *s;
    spm_sym *sym;
    tok_heap heap;
} spm_ctx;

static void try_pair(spm_ctx *c, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    uint32_t size = c->sym[l].n + c->sym[r].n;
    int32_t id = tok_map_get(&c->t->text_map, c->s + c->sym[l].off, size);
    if (id < 0) return;
    uint64_t key = tok_score_key(c->t->tok[id].score);
    tok_heap_push(&c->heap, (tok_cand){(key << 32) | (uint32_t)l, l, r, size});
}

/* Escapes spaces and optionally prefixes one; returns a malloc'ed buffer. */
static char *escape(const char *text, size_t len, bool prefix, size_t *out_len) {
    if (len > (SIZE_MAX - 8) / 3) return NULL;
    char *b = malloc(len * 3 + 4);
    if (!b) return NULL;
    size_t n = 0;
    if (prefix) memcpy(b, "\xe2\x96\x81", 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') memcpy(b + n, "\xe2\x96\x81", 3), n += 3;
        else b[n++] = text[i];
    }
    *out_len = n;
    return b;
}

static size_t split_chars(const char *s, size_t n, spm_sym *sym) {
    size_t k = 0;
    for (size_t off = 0; off < n; k++) {
        size_t len = tok_utf8_len((uint8_t)s[off]);
        if (len > n - off) len = n - off;
        sym[k] = (spm_sym){(int32_t)k - 1, off + len == n ? -1 : (int32_t)k + 1, (uint32_t)off,
                           (uint32_t)len};
        off += len;
    }
    return k;
}

static void merge_all(spm_ctx *c) {
    while (c->heap.n) {
        tok_cand b = tok_heap_pop(&c->heap);
        spm_sym *l = &c->sym[b.left], *r = &c->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) c->sym[r->next].prev = b.left;
        try_pair(c, l->prev, b.left);
        try_pair(c, b.left, l->next);
    }
}

static void emit(const spm_ctx *c, size_t n_sym, tok_vec *out) {
    const slm_tokenizer *t = c->t;
    for (int32_t i = n_sym ? 0 : -1; i >= 0; i = c->sym[i].next) {
        const spm_sym *s = &c->sym[i];
        int32_t id = tok_map_get(&t->text_map, c->s + s->off, s->n);
        if (id >= 0) {
            tok_vec_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < s->n; j++) {
            /* llama.cpp throws when the vocab has no byte token; use <unk> */
            int32_t b = t->byte_tok[(uint8_t)c->s[s->off + j]];
            if (b < 0) b = t->unk;
            if (b >= 0) tok_vec_push(out, b);
        }
    }
}

/* Tokenizes s[0..n) (already escaped) as one merge region. */
static bool region(spm_ctx *c, const char *s, size_t n, tok_vec *out) {
    c->s = s;
    size_t n_sym = split_chars(s, n, c->sym);
    c->heap.n = 0;
    for (size_t i = 1; i < n_sym; i++) try_pair(c, (int32_t)i - 1, (int32_t)i);
    merge_all(c);
    if (c->heap.oom) return false;
    emit(c, n_sym, out);
    return true;
}

/* Cuts the text after each barrier character (see spm_barriers) found at a
 * character boundary; regions are independent, so the result is the same as
 * for the whole text, with small heaps instead of one huge one. */
static bool regions(spm_ctx *c, const char *s, size_t n, tok_vec *out) {
    size_t start = 0;
    for (size_t off = 0; off < n;) {
        uint8_t b = (uint8_t)s[off];
        size_t len = tok_utf8_len(b);
        off += len < n - off ? len : n - off;
        if (len == 1 && b < 128 && c->t->spm_barrier[b]) {
            if (off - 1 > start && !region(c, s + start, off - 1 - start, out)) return false;
            if (!region(c, s + off - 1, 1, out)) return false;
            start = off;
        }
    }
    return start >= n || region(c, s + start, n - start, out);
}

slm_status tok_spm_fragment(const slm_tokenizer *t, const char *text, size_t len, bool prefix_space,
                            tok_vec *out, slm_error *err) {
    size_t n;
    char *s = escape(text, len, prefix_space, &n);
    spm_ctx c = {t, s, NULL, {0}};
    c.sym = s ? slm_malloc_array(n ? n : 1, sizeof *c.sym) : NULL;
    if (!c.sym) {
        free(s);
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory (%zu bytes of text)", len);
    }
    bool ok = regions(&c, s, n, out);
    free(c.heap.a);
    free(c.sym);
    free(s);
    if (!ok || out->oom) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    return SLM_OK;
}
