/* WordPiece (tokenizer.ggml.model = "bert"), as llama.cpp's
 * llm_tokenizer_wpm_session. Pre-processing: accents are stripped (each code
 * point replaced by the first character of its NFD form, marks dropped),
 * text is lower-cased, split at whitespace, and every punctuation mark,
 * ASCII symbol and CJK ideograph becomes its own word; control characters,
 * NUL and U+FFFD vanish. Each word, prefixed with U+2581 (the GGUF form of
 * a word start), is then matched greedily longest-first against the vocab;
 * a word with an unmatched remainder becomes the unknown token. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode_tables.h"

int tok_uc_class_of(uint32_t cp) {
    unsigned lo = 0, hi = tok_uc_class_n;
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (tok_uc_class[mid].start <= cp) lo = mid;
        else hi = mid;
    }
    return cp < 0x110000 ? tok_uc_class[lo].cls : TOK_UC_NONE;
}

uint32_t tok_uc_tolower(uint32_t cp) {
    unsigned lo = 0, hi = tok_uc_lower_n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (tok_uc_lower[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < tok_uc_lower_n && tok_uc_lower[lo].cp == cp ? tok_uc_lower[lo].to : cp;
}

uint32_t tok_uc_nfd_first_of(uint32_t cp) {
    unsigned lo = 0, hi = tok_uc_nfd_n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (tok_uc_nfd_first[mid].last < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < tok_uc_nfd_n && tok_uc_nfd_first[lo].first <= cp) return tok_uc_nfd_first[lo].to;
    return cp;
}

static bool is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct wpm_buf {
    char *b; /* words, each "▁" + text, separated by word_end offsets */
    size_t n;
    size_t *ends;
    size_t n_words;
} wpm_buf;

static void end_word(wpm_buf *w, size_t *start) {
    if (w->n > *start + 3) {
        w->ends[w->n_words++] = w->n;
        *start = w->n;
        memcpy(w->b + w->n, "\xe2\x96\x81", 3);
        w->n += 3;
    }
}

/* Splits text into "▁word" strings in w (capacity sized by the caller). */
static void preprocess(const slm_tokenizer *t, const char *text, size_t len, wpm_buf *w) {
    size_t start = 0;
    memcpy(w->b, "\xe2\x96\x81", 3);
    w->n = 3;
    for (size_t i = 0; i < len;) {
        uint32_t cp = tok_utf8_decode(text, len, &i);
        if (cp == UINT32_MAX) cp = 0xFFFD;
        if (t->wpm_strip_accents) cp = tok_uc_nfd_first_of(cp);
        if (tok_is_whitespace(cp)) {
            end_word(w, &start);
            continue;
        }
        int cls = tok_uc_class_of(cp);
        if (cp == 0 || cp == 0xFFFD || cls == TOK_UC_CONTROL) continue;
        if (t->wpm_strip_accents && cls == TOK_UC_MARK) continue;
        uint32_t out = t->wpm_lowercase ? tok_uc_tolower(cp) : cp;
        bool alone = cls == TOK_UC_PUNCT || (cp < 0x7F && cls == TOK_UC_SYMBOL) || is_chinese(cp);
        if (alone) end_word(w, &start);
        w->n += tok_utf8_encode(out, w->b + w->n);
        if (alone) end_word(w, &start);
    }
    end_word(w, &start);
}

static void match_word(const slm_tokenizer *t, const char *s, size_t n, tok_vec *out) {
    size_t before = out->n;
    for (size_t i = 0; i < n;) {
        size_t j = n - i > (size_t)t->max_token_len ? i + (size_t)t->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = tok_map_get(&t->text_map, s + i, j - i)) >= 0) break;
        if (id < 0) {
            out->n = before; /* discard the partial word */
            break;
        }
        tok_vec_push(out, id);
        i = j;
    }
    if (out->n == before && t->unk >= 0) tok_vec_push(out, t->unk);
}

slm_status tok_wpm_fragment(const slm_tokenizer *t, const char *text, size_t len, tok_vec *out,
                            slm_error *err) {
    /* each input byte yields at most 4 output bytes plus 3 for a word start */
    wpm_buf w = {0};
    if (len < SIZE_MAX / 16) {
        w.b = malloc(len * 10 + 16);
        w.ends = slm_malloc_array(len * 2 + 2, sizeof *w.ends);
    }
    if (!w.b || !w.ends) {
        free(w.b);
        free(w.ends);
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    }
    preprocess(t, text, len, &w);
    size_t start = 0;
    for (size_t k = 0; k < w.n_words; k++) {
        match_word(t, w.b + start, w.ends[k] - start, out);
        start = w.ends[k];
    }
    free(w.b);
    free(w.ends);
    return out->oom ? slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory") : SLM_OK;
}
