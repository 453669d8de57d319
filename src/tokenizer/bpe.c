/* Byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe_session: each pre-tokenized word starts as one symbol
 * per byte; the adjacent pair with the lowest merge rank (leftmost on ties)
 * is merged until no ranked pair is left; each final symbol becomes its
 * token, or single-character tokens of its encoded bytes when it is none.
 * Everything works on raw bytes (see tok_internal.h). Words repeat a lot in
 * real text, so results are memoized per call in a small word cache. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_heap.h"
#include "tokenizer/tok_internal.h"

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t off, n;
} bpe_sym;

typedef struct bpe_ctx {
    const slm_tokenizer *t;
    const char *w; /* current word */
    bpe_sym *sym;
    size_t cap;
    tok_heap heap;
} bpe_ctx;

static void add_pair(bpe_ctx *c, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const bpe_sym *a = &c->sym[l], *b = &c->sym[r];
    int32_t rank = tok_map_get_pair(&c->t->merges, c->w + a->off, a->n, c->w + b->off, b->n);
    if (rank < 0) return;
    tok_heap_push(&c->heap, (tok_cand){((uint64_t)(uint32_t)rank << 32) | (uint32_t)l, l, r, a->n + b->n});
}

/* Tokens for a symbol that is not in the vocab: the single-byte tokens of
 * its alphabet encoding (usually none exist beyond printable ASCII). */
static void emit_unknown(const slm_tokenizer *t, const char *s, size_t n, tok_vec *out) {
    for (size_t i = 0; i < n; i++) {
        char enc[4];
        size_t el = tok_utf8_encode(tok_byte_to_cp((uint8_t)s[i]), enc);
        for (size_t k = 0; k < el; k++) {
            int32_t id = tok_map_get(&t->text_map, enc + k, 1);
            if (id >= 0) tok_vec_push(out, id);
        }
    }
}

static bool word(bpe_ctx *c, const char *w, size_t n, tok_vec *out) {
    const slm_tokenizer *t = c->t;
    if (t->ignore_merges) {
        int32_t id = tok_map_get(&t->raw_map, w, n);
        if (id >= 0) {
            tok_vec_push(out, id);
            return true;
        }
    }
    if (n > c->cap) {
        bpe_sym *p = slm_malloc_array(n, sizeof *p);
        if (!p) return false;
        free(c->sym);
        c->sym = p;
        c->cap = n;
    }
    c->w = w;
    for (size_t i = 0; i < n; i++)
        c->sym[i] = (bpe_sym){(int32_t)i - 1, i + 1 == n ? -1 : (int32_t)i + 1, (uint32_t)i, 1};
    c->heap.n = 0;
    for (size_t i = 1; i < n; i++) add_pair(c, (int32_t)i - 1, (int32_t)i);
    while (c->heap.n) {
        tok_cand b = tok_heap_pop(&c->heap);
        bpe_sym *l = &c->sym[b.left], *r = &c->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) c->sym[r->next].prev = b.left;
        add_pair(c, l->prev, b.left);
        add_pair(c, b.left, l->next);
    }
    if (c->heap.oom) return false;
    for (int32_t i = 0; i >= 0; i = c->sym[i].next) {
        const bpe_sym *s = &c->sym[i];
        int32_t id = tok_map_get(&t->raw_map, w + s->off, s->n);
        if (id >= 0) tok_vec_push(out, id);
        else emit_unknown(t, w + s->off, s->n, out);
    }
    return true;
}

/* Per-call memo: word bytes -> [start, start+count) in `cached`. */
typedef struct word_cache {
    tok_map map;
    tok_vec spans; /* pairs (start, count) */
    tok_vec cached;
} word_cache;

static bool cached_word(bpe_ctx *c, word_cache *wc, const char *w, size_t n, tok_vec *out) {
    int32_t k = tok_map_get(&wc->map, w, n);
    if (k >= 0) {
        for (int32_t i = 0; i < wc->spans.v[2 * k + 1]; i++) tok_vec_push(out, wc->cached.v[wc->spans.v[2 * k] + i]);
        return true;
    }
    size_t before = out->n;
    if (!word(c, w, n, out)) return false;
    if (wc->map.n * 2 + 2 >= wc->map.cap || n > 64 || out->oom) return true; /* cache full: just skip */
    int32_t start = (int32_t)wc->cached.n;
    for (size_t i = before; i < out->n; i++) tok_vec_push(&wc->cached, out->v[i]);
    tok_vec_push(&wc->spans, start);
    tok_vec_push(&wc->spans, (int32_t)(out->n - before));
    if (!wc->cached.oom && !wc->spans.oom)
        tok_map_put(&wc->map, w, (uint32_t)n, 0, (int32_t)(wc->spans.n / 2 - 1));
    return true;
}

slm_status tok_bpe_fragment(const slm_tokenizer *t, const char *text, size_t len, tok_vec *out,
                            slm_error *err) {
    tok_words ws;
    slm_status st = tok_pretok_split(&t->pre, text, len, &ws, err);
    if (st) return st;
    bpe_ctx c = {t, NULL, NULL, 0, {0}};
    word_cache wc = {0};
    bool use_cache = ws.n > 256 && tok_map_init(&wc.map, ws.n < 65536 ? ws.n : 65536);
    bool ok = true;
    for (size_t i = 0; i < ws.n && ok; i++) {
        const char *w = ws.text + ws.w[i].off;
        ok = use_cache ? cached_word(&c, &wc, w, ws.w[i].len, out) : word(&c, w, ws.w[i].len, out);
    }
    free(c.sym);
    free(c.heap.a);
    tok_map_free(&wc.map);
    free(wc.spans.v);
    free(wc.cached.v);
    tok_words_free(&ws);
    if (!ok || out->oom) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    return SLM_OK;
}
