/* Special-token partitioning, as llama.cpp's tokenizer_st_partition: for
 * each special token, longest text first, every raw-text fragment is split
 * around each occurrence (leftmost first), honouring the token's lstrip /
 * rstrip attributes. Control and unknown-type tokens take part only when
 * parse_special; user-defined tokens always do.
 *
 * To stay fast with vocabularies holding thousands of special tokens, one
 * pass over the text first finds which special tokens occur at all (bucketed
 * by first byte); the exact llama.cpp procedure then runs over those only,
 * which gives the same result. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static bool eligible(const slm_tokenizer *t, int32_t id, bool parse_special) {
    return parse_special || !(t->tok[id].attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

static bool frags_push(tok_frags *f, size_t off, size_t len, int32_t id) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        tok_frag *p = cap > SIZE_MAX / sizeof *p ? NULL : realloc(f->f, cap * sizeof *p);
        if (!p) return false;
        f->f = p;
        f->cap = cap;
    }
    f->f[f->n++] = (tok_frag){off, len, id};
    return true;
}

/* Marks in `present` (indexed like t->special) every eligible special token
 * that occurs somewhere in text. Returns how many, or SIZE_MAX when out of
 * memory. Candidates are bucketed by first byte (counting sort). */
static size_t find_present(const slm_tokenizer *t, const char *text, size_t len,
                           bool parse_special, uint8_t *present) {
    size_t start[257] = {0};
    for (size_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (eligible(t, id, parse_special)) start[(uint8_t)tok_text(t, id)[0] + 1]++;
    }
    for (int c = 0; c < 256; c++) start[c + 1] += start[c];
    if (start[256] == 0) return 0;
    size_t *bucket = slm_malloc_array(start[256], sizeof *bucket), fill[256];
    if (!bucket) return SIZE_MAX;
    memcpy(fill, start, sizeof fill);
    for (size_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (eligible(t, id, parse_special)) bucket[fill[(uint8_t)tok_text(t, id)[0]]++] = k;
    }
    size_t found = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)text[i];
        for (size_t j = start[c]; j < start[c + 1]; j++) {
            size_t k = bucket[j];
            const tok_token *tk = &t->tok[t->special[k]];
            if (present[k] || tk->len > len - i) continue;
            if (memcmp(t->text_pool + tk->off, text + i, tk->len) == 0) {
                present[k] = 1;
                found++;
            }
        }
    }
    free(bucket);
    return found;
}

/* Splits raw fragment [o, o+l) of text around every occurrence of token id. */
static bool split_one(const slm_tokenizer *t, int32_t id, const char *text, size_t o, size_t l,
                      tok_frags *out) {
    const char *tt = tok_text(t, id);
    size_t tl = t->tok[id].len;
    uint32_t attr = t->tok[id].attr;
    for (;;) {
        const char *m = l >= tl ? memmem(text + o, l, tt, tl) : NULL;
        if (!m) return l == 0 || frags_push(out, o, l, -1);
        size_t mo = (size_t)(m - text), left = mo - o;
        if (attr & TOK_ATTR_LSTRIP)
            while (left > 0 && isspace((unsigned char)text[o + left - 1])) left--;
        if (left > 0 && !frags_push(out, o, left, -1)) return false;
        if (!frags_push(out, 0, 0, id)) return false;
        size_t end = o + l, ro = mo + tl;
        if (ro >= end) return true;
        if (attr & TOK_ATTR_RSTRIP)
            while (ro < end && isspace((unsigned char)text[ro])) ro++;
        o = ro;
        l = end - ro;
        if (l == 0) return true;
    }
}

static slm_status partition_present(const slm_tokenizer *t, const char *text, const uint8_t *present,
                                    tok_frags *out, slm_error *err) {
    tok_frags next = {0};
    for (size_t k = 0; k < t->n_special; k++) {
        if (!present[k]) continue;
        next.n = 0;
        for (size_t i = 0; i < out->n; i++) {
            tok_frag f = out->f[i];
            bool ok = f.id >= 0 ? frags_push(&next, f.off, f.len, f.id)
                                : split_one(t, t->special[k], text, f.off, f.len, &next);
            if (!ok) {
                free(next.f);
                return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
            }
        }
        tok_frags tmp = *out;
        *out = next;
        next = tmp;
    }
    free(next.f);
    return SLM_OK;
}

slm_status tok_partition(const slm_tokenizer *t, const char *text, size_t len, bool parse_special,
                         tok_frags *out, slm_error *err) {
    out->n = 0;
    if (len == 0) return SLM_OK;
    if (!frags_push(out, 0, len, -1)) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    if (t->n_special == 0) return SLM_OK;
    uint8_t *present = calloc(t->n_special, 1);
    if (!present) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    slm_status st = SLM_OK;
    size_t found = find_present(t, text, len, parse_special, present);
    if (found == SIZE_MAX) st = slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    else if (found) st = partition_present(t, text, present, out, err);
    free(present);
    return st;
}
