/* Loading byte-level BPE data: the pre-tokenizer named by tokenizer.ggml.pre,
 * the merges (tokenizer.ggml.merges, "left right" in the byte-to-unicode
 * alphabet, rank = index, first occurrence wins) and the raw-bytes view of
 * the vocabulary. Parts or tokens with characters outside the alphabet can
 * never match a pre-tokenized word, so they are left out of both maps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Decodes alphabet text into raw bytes (out has room for n bytes); false if
 * some character is not in the alphabet. */
static bool decode_alphabet(const char *s, size_t n, char *out, size_t *out_len) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = tok_utf8_decode(s, n, &i);
        int b = cp == UINT32_MAX ? -1 : tok_cp_to_byte(cp);
        if (b < 0) return false;
        out[o++] = (char)b;
    }
    *out_len = o;
    return true;
}

static slm_status load_merges(slm_tokenizer *t, const slm_gguf *g, slm_error *err) {
    slm_gguf_array m;
    if (!slm_gguf_get_arr(g, "tokenizer.ggml.merges", &m) || m.elem_type != SLM_GGUF_STRING)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.merges missing or not a string array");
    if (m.n > INT32_MAX) return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.merges: too many merges");
    uint64_t total = 0;
    for (uint64_t i = 0; i < m.n; i++) {
        slm_str s;
        slm_gguf_arr_str(&m, i, &s);
        if (!slm_add_ok(total, s.len, &total) || total > UINT32_MAX)
            return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.merges: too large");
    }
    t->merge_pool = malloc(total ? total : 1);
    if (!t->merge_pool || !tok_map_init(&t->merges, m.n))
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory for %llu merges",
                             (unsigned long long)m.n);
    size_t used = 0;
    for (uint64_t i = 0; i < m.n; i++) {
        slm_str s;
        slm_gguf_arr_str(&m, i, &s);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        size_t ll = sp ? (size_t)(sp - s.ptr) : 0, rl = sp ? s.len - ll - 1 : 0;
        size_t dl, dr;
        char *dst = t->merge_pool + used;
        if (!decode_alphabet(s.ptr, ll, dst, &dl) || !decode_alphabet(s.ptr + ll + (sp ? 1 : 0), rl, dst + dl, &dr))
            continue;
        tok_map_put(&t->merges, dst, (uint32_t)(dl + dr), (uint32_t)dl, (int32_t)i);
        used += dl + dr;
    }
    return SLM_OK;
}

static slm_status load_raw_vocab(slm_tokenizer *t, slm_error *err) {
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += t->tok[i].len;
    t->raw_pool = malloc(total ? total : 1);
    if (!t->raw_pool || !tok_map_init(&t->raw_map, (size_t)t->n_vocab))
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory");
    size_t used = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t n;
        char *dst = t->raw_pool + used;
        if (!decode_alphabet(tok_text(t, i), t->tok[i].len, dst, &n)) continue;
        tok_map_put(&t->raw_map, dst, (uint32_t)n, 0, i);
        used += n;
    }
    return SLM_OK;
}

slm_status tok_bpe_load(slm_tokenizer *t, const slm_gguf *g, slm_error *err) {
    char pre[48] = "";
    slm_str s;
    if (slm_gguf_get_str(g, "tokenizer.ggml.pre", &s))
        snprintf(pre, sizeof pre, "%.*s", (int)(s.len < 47 ? s.len : 47), s.ptr);
    const char *used_name;
    slm_status st = tok_pretok_init(&t->pre, pre, &used_name, &t->ignore_merges, &t->add_bos, err);
    if (st) return st;
    snprintf(t->pre_name, sizeof t->pre_name, "%s", used_name);
    st = load_merges(t, g, err);
    if (!st) st = load_raw_vocab(t, err);
    return st;
}
