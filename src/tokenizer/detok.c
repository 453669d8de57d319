/* Detokenization: every token's piece is rendered once at load (as
 * llama.cpp's token_to_piece cache, with special = true) into piece_pool;
 * token_to_piece copies it, hiding control/unknown tokens unless asked.
 * The streaming detokenizer holds back an incomplete UTF-8 tail (at most 3
 * bytes) until the next piece completes it. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "tokenizer/tok_internal.h"

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* SentencePiece: U+2581 -> ' '. */
static void unescape_spaces(sbuf *b, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if (s[i] == '\xe2' && s[i + 1] == '\x96' && s[i + 2] == '\x81') {
            sb_put(b, s + start, i - start);
            sb_put(b, " ", 1);
            i += 2;
            start = i + 1;
        }
    }
    sb_put(b, s + start, n - start);
}

/* Byte-level BPE: each alphabet character -> its byte; anything else is
 * rendered the way llama.cpp's llama_decode_text does. */
static void decode_bytes(sbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp = tok_utf8_decode(s, n, &i);
        if (cp == UINT32_MAX) cp = 0xFFFD;
        int byte = tok_cp_to_byte(cp);
        if (byte >= 0) {
            char c = (char)byte;
            sb_put(b, &c, 1);
            continue;
        }
        char u[4], hex[16];
        size_t un = tok_utf8_encode(cp, u);
        sb_put(b, "[UNK_BYTE_0x", 12);
        for (size_t k = 0; k < un; k++) {
            snprintf(hex, sizeof hex, "%02x", (uint8_t)u[k]);
            sb_put(b, hex, 2);
        }
        sb_put(b, s, n);
        sb_put(b, "]", 1);
    }
}

static char byte_of(const char *text, size_t len) {
    char hex[3] = {0};
    if (len >= 5) memcpy(hex, text + 3, 2);
    return (char)strtol(hex, NULL, 16);
}

static void render(const slm_tokenizer *t, int32_t id, sbuf *b) {
    const tok_token *tk = &t->tok[id];
    const char *s = tok_text(t, id);
    if (tk->attr & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED)) {
        sb_put(b, s, tk->len);
    } else if (tk->attr & TOK_ATTR_NORMAL) {
        if (t->kind == TOK_BPE) decode_bytes(b, s, tk->len);
        else unescape_spaces(b, s, tk->len);
    } else if (tk->attr & TOK_ATTR_BYTE) {
        char c = byte_of(s, tk->len);
        sb_put(b, &c, 1);
    }
}

slm_status tok_build_pieces(slm_tokenizer *t, slm_error *err) {
    sbuf b = {0};
    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t start = b.n;
        render(t, i, &b);
        if (b.n > UINT32_MAX) b.oom = true;
        t->tok[i].piece_off = (uint32_t)start;
        t->tok[i].piece_len = (uint32_t)(b.n - start);
    }
    if (b.oom) {
        free(b.p);
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory for pieces");
    }
    t->piece_pool = b.p ? b.p : malloc(1);
    return t->piece_pool ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory");
}

static const char *piece(const slm_tokenizer *t, int32_t tok, bool special, size_t *len) {
    *len = 0;
    if (!t || tok < 0 || tok >= t->n_vocab) return "";
    const tok_token *tk = &t->tok[tok];
    if (!special && (tk->attr & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL))) return "";
    *len = tk->piece_len;
    return t->piece_pool + tk->piece_off;
}

size_t slm_token_to_piece(const slm_tokenizer *t, int32_t tok, bool special, char *buf, size_t cap) {
    size_t n;
    const char *p = piece(t, tok, special, &n);
    if (buf) memcpy(buf, p, n < cap ? n : cap);
    return n;
}

size_t slm_detokenize(const slm_tokenizer *t, const int32_t *tokens, size_t n, bool special,
                      char *buf, size_t cap) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = piece(t, tokens[i], special, &len);
        if (buf && total < cap) memcpy(buf + total, p, len < cap - total ? len : cap - total);
        total += len;
    }
    return total;
}

void slm_detok_init(slm_detok *d, const slm_tokenizer *t, bool special) {
    memset(d, 0, sizeof *d);
    d->t = t;
    d->special = special;
}

/* Length of the longest prefix of s that does not end inside a possibly
 * incomplete UTF-8 sequence. */
static size_t complete_prefix(const uint8_t *s, size_t n) {
    size_t back = n < 3 ? n : 3;
    for (size_t k = 1; k <= back; k++) {
        uint8_t c = s[n - k];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t need = c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC0 && c < 0xE0 ? 2 : 1;
        return need > k ? n - k : n;
    }
    return n;
}

static size_t emit(const uint8_t *s, size_t n, char *out, size_t cap) {
    size_t m = n < cap ? n : cap;
    if (out && m) memcpy(out, s, m);
    return m;
}

size_t slm_detok_push(slm_detok *d, int32_t tok, char *out, size_t cap) {
    size_t len;
    const char *p = piece(d->t, tok, d->special, &len);
    uint8_t buf[SLM_DETOK_MAX_PIECE + 4];
    size_t written = 0;
    /* pieces are processed in chunks so no piece length overflows buf */
    size_t off = 0;
    do {
        size_t take = len - off < SLM_DETOK_MAX_PIECE ? len - off : SLM_DETOK_MAX_PIECE;
        memcpy(buf, d->pending, d->n_pending);
        memcpy(buf + d->n_pending, p + off, take);
        size_t n = d->n_pending + take;
        off += take;
        size_t ok = complete_prefix(buf, n);
        written += emit(buf, ok, out ? out + written : NULL, cap - written);
        d->n_pending = (uint8_t)(n - ok);
        memcpy(d->pending, buf + ok, d->n_pending);
    } while (off < len);
    return written;
}

size_t slm_detok_flush(slm_detok *d, char *out, size_t cap) {
    size_t n = emit(d->pending, d->n_pending, out, cap);
    d->n_pending = 0;
    return n;
}
