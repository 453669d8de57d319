/* BPE pre-tokenization with PCRE2 (JIT): the text is split into words by
 * the pre-tokenizer's regexes, applied one after another, each to every
 * piece the previous left (matches and the gaps between them both become
 * pieces), exactly like llama.cpp's unicode_regex_split.
 *
 * llama.cpp runs std::regex over a codepoint string in which every non-ASCII
 * whitespace is replaced by a vertical tab and invalid UTF-8 bytes by U+FFFD;
 * \d, \w and \b are ASCII-only there. We get the same behaviour from PCRE2 in
 * UTF mode without UCP (ASCII \d \w \b, Unicode \p{..}), with \s / \S
 * rewritten to llama.cpp's whitespace set, on a "subject" copy of the text
 * in which non-ASCII whitespace is replaced by a same-length placeholder
 * (so it cannot match a literal class such as deepseek's U+3000-U+3002) and
 * surrogate code points (which PCRE2 rejects) by U+E000. Words are then
 * taken from the sanitized text itself. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/pretok_table.h"
#include "tokenizer/tok_internal.h"

#define WS_SET "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Rewrites \s and \S into explicit classes; NULL on failure. */
static char *rewrite_ws(const char *re) {
    size_t n = strlen(re), cap = n * 8 + 256, o = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        if (o + sizeof WS_SET + 8 > cap) break; /* cannot happen: cap covers every \s */
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char d = re[++i];
            if (d == 's' || (d == 'S' && !in_class)) {
                o += (size_t)sprintf(out + o, "%s%s%s", in_class ? "" : d == 'S' ? "[^" : "[", WS_SET,
                                     in_class ? "" : "]");
            } else if (d == 'S') {
                free(out);
                return NULL;
            } else {
                out[o++] = c;
                out[o++] = d;
            }
            continue;
        }
        if (c == '[' && !in_class) in_class = true;
        else if (c == ']' && in_class) in_class = false;
        out[o++] = c;
    }
    out[o] = 0;
    return out;
}

static slm_status compile_one(const char *re, pcre2_code **out, slm_error *err) {
    char *pat = rewrite_ws(re);
    if (!pat) return slm_error_set(err, SLM_ERR_INTERNAL, "pre-tokenizer regex rewrite failed: %s", re);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
    free(pat);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return slm_error_set(err, SLM_ERR_INTERNAL, "pre-tokenizer regex does not compile (%s at %zu): %s",
                             (const char *)msg, (size_t)eo, re);
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is absent */
    *out = code;
    return SLM_OK;
}

slm_status tok_pretok_init(tok_pretok *p, const char *pre_name, const char **used_name,
                           bool *ignore_merges, bool *add_bos, slm_error *err) {
    memset(p, 0, sizeof *p);
    const tok_pre_def *def = pre_name && *pre_name ? tok_pre_find(pre_name) : NULL;
    if (!def) {
        fprintf(stderr, "slm: warning: %s pre-tokenizer '%s'; using 'default' (tokenization may differ "
                        "from the model's)\n", pre_name && *pre_name ? "unknown" : "missing",
                pre_name ? pre_name : "");
        def = tok_pre_find("default");
    }
    *used_name = def->name;
    *ignore_merges = def->ignore_merges;
    *add_bos = def->add_bos;
    for (const char *const *re = def->regex; *re && p->n < TOK_MAX_REGEX; re++) {
        slm_status st = compile_one(*re, (pcre2_code **)&p->code[p->n], err);
        if (st) return st;
        p->n++;
    }
    return SLM_OK;
}

void tok_pretok_free(tok_pretok *p) {
    for (int i = 0; i < p->n; i++) pcre2_code_free(p->code[i]);
    memset(p, 0, sizeof *p);
}

void tok_words_free(tok_words *w) {
    free(w->text);
    free(w->w);
    memset(w, 0, sizeof *w);
}

/* Builds the sanitized text (invalid bytes -> U+FFFD, canonical encoding)
 * and the regex subject (same bytes, placeholders as described above). */
static bool sanitize(const char *in, size_t len, char **text, char **subj, size_t *out_len) {
    if (len > SIZE_MAX / 3 - 4) return false;
    char *t = malloc(len * 3 + 4), *s = malloc(len * 3 + 4);
    if (!t || !s) {
        free(t);
        free(s);
        return false;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = tok_utf8_decode(in, len, &i);
        if (cp == UINT32_MAX) cp = 0xFFFD;
        size_t n = tok_utf8_encode(cp, t + o);
        uint32_t sc = cp;
        if (cp >= 0x80 && tok_is_whitespace(cp)) sc = n == 2 ? 0xA0 : 0x2000;
        else if (cp >= 0xD800 && cp <= 0xDFFF) sc = 0xE000;
        if (sc == cp) memcpy(s + o, t + o, n);
        else tok_utf8_encode(sc, s + o);
        o += n;
    }
    *text = t;
    *subj = s;
    *out_len = o;
    return true;
}

static bool push_span(tok_span **v, size_t *n, size_t *cap, size_t off, size_t len) {
    if (len == 0) return true;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        tok_span *p = c > SIZE_MAX / sizeof *p ? NULL : realloc(*v, c * sizeof *p);
        if (!p) return false;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = (tok_span){(uint32_t)off, (uint32_t)len};
    return true;
}

typedef struct split_ctx {
    const char *subj;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    tok_span *out;
    size_t n, cap;
} split_ctx;

static size_t next_char(const char *s, size_t n, size_t i) {
    size_t l = tok_utf8_len((uint8_t)s[i]);
    return i + l <= n ? i + l : n;
}

/* Splits one piece with one regex; < 0 on a PCRE2 error. */
static int split_piece(split_ctx *c, const pcre2_code *code, tok_span sp) {
    PCRE2_SPTR s = (PCRE2_SPTR)(c->subj + sp.off);
    size_t n = sp.len, pos = 0, last = 0;
    uint32_t opts = 0;
    while (pos <= n) {
        int rc = pcre2_match(code, s, n, pos, opts | PCRE2_NO_UTF_CHECK, c->md, c->mc);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts) break;
            /* no non-empty match at an empty match's position: move on */
            if (pos >= n) break;
            pos = next_char((const char *)s, n, pos);
            opts = 0;
            continue;
        }
        if (rc < 0) return rc;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t ms = ov[0], me = ov[1];
        if (ms > last && !push_span(&c->out, &c->n, &c->cap, sp.off + last, ms - last)) return -1000;
        if (!push_span(&c->out, &c->n, &c->cap, sp.off + ms, me - ms)) return -1000;
        last = me;
        pos = me;
        opts = me == ms ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
    }
    if (last < n && !push_span(&c->out, &c->n, &c->cap, sp.off + last, n - last)) return -1000;
    return 0;
}

static slm_status run_regexes(const tok_pretok *p, size_t len, tok_words *w,
                              split_ctx *c, slm_error *err) {
    tok_span *cur = NULL;
    size_t n_cur = 0, cap_cur = 0;
    if (!push_span(&cur, &n_cur, &cap_cur, 0, len)) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    for (int r = 0; r < p->n; r++) {
        c->n = 0;
        for (size_t i = 0; i < n_cur; i++) {
            int rc = split_piece(c, p->code[r], cur[i]);
            if (rc < 0) {
                free(cur);
                if (rc == -1000) return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return slm_error_set(err, SLM_ERR_INTERNAL, "pre-tokenizer regex failed: %s", (const char *)msg);
            }
        }
        tok_span *tmp = cur;
        size_t tcap = cap_cur;
        cur = c->out, n_cur = c->n, cap_cur = c->cap;
        c->out = tmp, c->cap = tcap, c->n = 0;
    }
    free(c->out);
    w->w = cur;
    w->n = n_cur;
    w->cap = cap_cur;
    return SLM_OK;
}

slm_status tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_words *w,
                            slm_error *err) {
    memset(w, 0, sizeof *w);
    char *subj = NULL;
    if (!sanitize(text, len, &w->text, &subj, &w->len))
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    split_ctx c = {subj, NULL, NULL, NULL, 0, 0};
    pcre2_jit_stack *js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    c.mc = pcre2_match_context_create(NULL);
    c.md = pcre2_match_data_create(1, NULL);
    slm_status st;
    if (!c.mc || !c.md || !js) {
        st = slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    } else {
        pcre2_jit_stack_assign(c.mc, NULL, js);
        st = run_regexes(p, w->len, w, &c, err);
    }
    pcre2_match_data_free(c.md);
    pcre2_match_context_free(c.mc);
    pcre2_jit_stack_free(js);
    free(subj);
    if (st) tok_words_free(w);
    return st;
}
