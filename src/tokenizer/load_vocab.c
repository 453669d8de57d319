/* Loading the vocabulary: tokenizer.ggml.tokens / scores / token_type into
 * the tok_token array and its text pool, and the text -> id map. Sizes come
 * from the file, so every count and total is checked before allocating. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "tokenizer/tok_internal.h"

#define TOK_MAX_VOCAB (1u << 24)

static uint32_t attr_from_type(int64_t type) {
    switch (type) {
    case 1: return TOK_ATTR_NORMAL;
    case 2: return TOK_ATTR_UNKNOWN;
    case 3: return TOK_ATTR_CONTROL;
    case 4: return TOK_ATTR_USER_DEFINED;
    case 5: return TOK_ATTR_UNUSED;
    case 6: return TOK_ATTR_BYTE;
    default: return TOK_ATTR_UNDEFINED;
    }
}

/* Total pool size for the texts (empty tokens get "[EMPTY_<id>]"). */
static slm_status pool_size(const slm_gguf_array *arr, uint64_t *total, slm_error *err) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < arr->n; i++) {
        slm_str s;
        if (!slm_gguf_arr_str(arr, i, &s))
            return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.tokens[%llu] is not a string",
                                 (unsigned long long)i);
        if (s.len > UINT32_MAX / 4)
            return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.tokens[%llu] is too long",
                                 (unsigned long long)i);
        if (!slm_add_ok(sum, (s.len ? s.len : 32) + 1, &sum) || sum > UINT32_MAX)
            return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.tokens: texts too large");
    }
    *total = sum;
    return SLM_OK;
}

static slm_status check_parallel(const slm_gguf *g, const char *key, slm_gguf_array *a,
                                 uint64_t n, bool *present, slm_error *err) {
    *present = slm_gguf_get_arr(g, key, a);
    if (!*present) {
        if (slm_gguf_find_key(g, key) >= 0)
            return slm_error_set(err, SLM_ERR_FORMAT, "%s is not an array", key);
        return SLM_OK;
    }
    if (a->n < n)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s has %llu entries for %llu tokens", key,
                             (unsigned long long)a->n, (unsigned long long)n);
    return SLM_OK;
}

static void read_one(slm_tokenizer *t, uint32_t i, const slm_gguf_array *tokens,
                     const slm_gguf_array *scores, bool has_scores, const slm_gguf_array *types,
                     bool has_types, uint32_t *pool_used) {
    slm_str s;
    slm_gguf_arr_str(tokens, i, &s);
    char *dst = t->text_pool + *pool_used;
    uint32_t len = (uint32_t)s.len;
    if (len == 0)
        len = (uint32_t)snprintf(dst, 32, "[EMPTY_%u]", i);
    else
        memcpy(dst, s.ptr, len);
    dst[len] = 0;
    tok_token *tk = &t->tok[i];
    tk->off = *pool_used;
    tk->len = len;
    *pool_used += len + 1;
    double sc = 0;
    int64_t isc;
    if (has_scores && !slm_gguf_arr_float(scores, i, &sc) && slm_gguf_arr_int(scores, i, &isc))
        sc = (double)isc;
    tk->score = (float)sc;
    int64_t ty = 1;
    tk->attr = TOK_ATTR_NORMAL;
    if (has_types && slm_gguf_arr_int(types, i, &ty)) tk->attr = attr_from_type(ty);
    if ((int)len > t->max_token_len) t->max_token_len = (int)len;
}

slm_status tok_load_vocab(slm_tokenizer *t, const slm_gguf *g, slm_error *err) {
    slm_gguf_array tokens, scores, types;
    if (!slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) || tokens.elem_type != SLM_GGUF_STRING)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.tokens missing or not a string array");
    if (tokens.n == 0 || tokens.n > TOK_MAX_VOCAB)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.tokens: %llu tokens (1..%u allowed)",
                             (unsigned long long)tokens.n, TOK_MAX_VOCAB);
    uint64_t n = tokens.n, total = 0;
    bool has_scores, has_types;
    slm_status st = pool_size(&tokens, &total, err);
    if (!st) st = check_parallel(g, "tokenizer.ggml.scores", &scores, n, &has_scores, err);
    if (!st) st = check_parallel(g, "tokenizer.ggml.token_type", &types, n, &has_types, err);
    if (st) return st;
    t->n_vocab = (int32_t)n;
    t->tok = slm_calloc_array(n, sizeof *t->tok);
    t->text_pool = malloc(total ? total : 1);
    if (!t->tok || !t->text_pool || !tok_map_init(&t->text_map, n))
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory for %llu tokens",
                             (unsigned long long)n);
    uint32_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        read_one(t, i, &tokens, &scores, has_scores, &types, has_types, &used);
        /* duplicates: the first id keeps the text (llama.cpp rejects them) */
        tok_map_put(&t->text_map, tok_text(t, (int32_t)i), t->tok[i].len, 0, (int32_t)i);
    }
    return SLM_OK;
}

void tok_vec_push(tok_vec *v, int32_t x) {
    if (v->oom) return;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = cap > SIZE_MAX / sizeof *p ? NULL : realloc(v->v, cap * sizeof *p);
        if (!p) {
            v->oom = true;
            return;
        }
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}
