/* Jinja lexer: source text -> jtoks (an array of jtok). Text between tags
 * becomes JT_TEXT with HF's whitespace settings already applied:
 * trim_blocks (a newline right after %} or #} is dropped), lstrip_blocks
 * (spaces/tabs before {% or {# on their own line are dropped), and the
 * explicit {%- -%} {{- -}} {#- -#} markers, all as jinja2's lexer does
 * them. Inside tags we produce names, numbers, strings and operators. */
#include "chat/jinja.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    const char *s;
    size_t n, pos;
    size_t cur_pos; /* line/col cursor, moves forward only */
    int line, col;
    jarena *arena;
    jtoks *out;
    slm_error *err;
} lexer;

static void locate(lexer *L, size_t pos, int *line, int *col) {
    while (L->cur_pos < pos) {
        if (L->s[L->cur_pos] == '\n') {
            L->line++;
            L->col = 1;
        } else if (((unsigned char)L->s[L->cur_pos] & 0xc0) != 0x80) {
            L->col++;
        }
        L->cur_pos++;
    }
    *line = L->line;
    *col = L->col;
}

static bool lex_fail(lexer *L, size_t pos, const char *msg) {
    int line, col;
    locate(L, pos, &line, &col);
    slm_error_set(L->err, SLM_ERR_FORMAT, "template %d:%d: %s", line, col, msg);
    return false;
}

static jtok *emit(lexer *L, jtok_kind k, size_t pos) {
    if (L->out->n == L->out->cap) {
        size_t cap = L->out->cap ? L->out->cap * 2 : 256;
        jtok *t = ja_alloc(L->arena, cap * sizeof *t);
        if (!t) {
            slm_error_set(L->err, SLM_ERR_NOMEM, "template too large");
            return NULL;
        }
        if (L->out->n) memcpy(t, L->out->t, L->out->n * sizeof *t);
        L->out->t = t;
        L->out->cap = cap;
    }
    jtok *t = &L->out->t[L->out->n++];
    memset(t, 0, sizeof *t);
    t->k = k;
    locate(L, pos, &t->line, &t->col);
    return t;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* finds the next "{{", "{%" or "{#" at or after pos */
static size_t next_tag(const lexer *L, size_t pos) {
    for (size_t i = pos; i + 1 < L->n; i++)
        if (L->s[i] == '{' && (L->s[i + 1] == '{' || L->s[i + 1] == '%' || L->s[i + 1] == '#'))
            return i;
    return L->n;
}

/* Emits text [a, b) followed by a tag of kind `kind` ('{','%','#' or 0 at
 * end) with strip sign `sign`, applying rstrip / lstrip_blocks. */
static bool emit_text(lexer *L, size_t a, size_t b, char kind, char sign, bool line_starting) {
    if (sign == '-') {
        while (b > a && is_space(L->s[b - 1])) b--;
    } else if (sign != '+' && (kind == '%' || kind == '#')) {
        size_t l = b;
        while (l > a && L->s[l - 1] != '\n') l--;
        bool only_ws = true;
        for (size_t i = l; i < b; i++)
            if (L->s[i] != ' ' && L->s[i] != '\t') only_ws = false;
        if ((l > a || line_starting) && only_ws) b = l;
    }
    if (b > a) {
        jtok *t = emit(L, JT_TEXT, a);
        if (!t) return false;
        t->s = (jstr){L->s + a, b - a};
    }
    return true;
}

/* decodes a string literal body with Python's escapes */
static bool decode_string(lexer *L, size_t start, size_t end, jstr *out) {
    char *d = ja_alloc(L->arena, end - start + 1);
    if (!d) return !slm_error_set(L->err, SLM_ERR_NOMEM, "template too large");
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char ch = L->s[i];
        if (ch != '\\' || i + 1 >= end) {
            d[n++] = ch;
            continue;
        }
        char e = L->s[++i];
        unsigned long cp = 0;
        int hex = 0;
        switch (e) {
        case 'n': d[n++] = '\n'; break;
        case 't': d[n++] = '\t'; break;
        case 'r': d[n++] = '\r'; break;
        case 'b': d[n++] = '\b'; break;
        case 'f': d[n++] = '\f'; break;
        case 'v': d[n++] = '\v'; break;
        case 'a': d[n++] = '\a'; break;
        case '\\': d[n++] = '\\'; break;
        case '\'': d[n++] = '\''; break;
        case '"': d[n++] = '"'; break;
        case '\n': break; /* line continuation */
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        case 'U': hex = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                int k = 0;
                while (k < 3 && i < end && L->s[i] >= '0' && L->s[i] <= '7') {
                    cp = cp * 8 + (unsigned long)(L->s[i] - '0');
                    i++;
                    k++;
                }
                i--;
                hex = -1;
            } else {
                d[n++] = '\\';
                d[n++] = e;
            }
        }
        if (hex > 0) {
            if (end - i - 1 < (size_t)hex) return lex_fail(L, i, "truncated \\x/\\u escape");
            for (int k = 0; k < hex; k++) {
                char h = L->s[++i];
                int v = is_digit(h) ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : -1;
                if (v < 0) return lex_fail(L, i, "bad hex digit in escape");
                cp = cp * 16 + (unsigned long)v;
            }
        }
        if (hex != 0) {
            if (cp > 0x10ffff) return lex_fail(L, i, "escape out of Unicode range");
            /* UTF-8 encode; escapes are at most as long as their encoding */
            if (cp < 0x80) d[n++] = (char)cp;
            else if (cp < 0x800) {
                d[n++] = (char)(0xc0 | (cp >> 6));
                d[n++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                d[n++] = (char)(0xe0 | (cp >> 12));
                d[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                d[n++] = (char)(0x80 | (cp & 0x3f));
            } else {
                d[n++] = (char)(0xf0 | (cp >> 18));
                d[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                d[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                d[n++] = (char)(0x80 | (cp & 0x3f));
            }
        }
    }
    d[n] = '\0';
    *out = (jstr){d, n};
    return true;
}

static bool lex_number(lexer *L) {
    size_t a = L->pos, i = a;
    char buf[128];
    size_t bn = 0;
    bool is_float = false;
    bool too_long = false; /* a digit did not fit: the value would be wrong */
#define PUT(c) (bn < sizeof buf - 1 ? (void)(buf[bn++] = (c)) : (void)(too_long = true))
    while (i < L->n && (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n && is_digit(L->s[i + 1])))) {
        if (L->s[i] != '_') PUT(L->s[i]);
        i++;
    }
    if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1]) && !(a > 0 && L->s[a - 1] == '.')) {
        is_float = true;
        PUT('.');
        i++;
        while (i < L->n && (is_digit(L->s[i]) || L->s[i] == '_')) {
            if (L->s[i] != '_') PUT(L->s[i]);
            i++;
        }
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-')) j++;
        if (j < L->n && is_digit(L->s[j])) {
            is_float = true;
            PUT('e');
            for (size_t k = i + 1; k < j; k++) PUT(L->s[k]);
            i = j;
            while (i < L->n && is_digit(L->s[i])) {
                PUT(L->s[i]);
                i++;
            }
        }
    }
#undef PUT
    buf[bn] = '\0';
    if (too_long) return lex_fail(L, a, "number literal too long (over 127 characters)");
    jtok *t = emit(L, is_float ? JT_FLOAT : JT_INT, a);
    if (!t) return false;
    errno = 0;
    if (is_float) t->f = strtod(buf, NULL);
    else {
        t->i = strtoll(buf, NULL, 10);
        if (errno == ERANGE) return lex_fail(L, a, "integer literal too large");
    }
    L->pos = i;
    return true;
}

static const char *const OPS[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%",
                                  "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":",
                                  "|", ",", ";"};

/* Lexes the inside of a {{ }} or {% %} tag up to and including its end.
 * Sets *line_starting when the end marker consumed a trailing newline. */
static bool lex_tag(lexer *L, bool is_block, bool *line_starting) {
    int depth = 0; /* open brackets: the end marker only counts at 0 */
    char close = is_block ? '%' : '}';
    for (;;) {
        while (L->pos < L->n && is_space(L->s[L->pos])) L->pos++;
        if (L->pos >= L->n) return lex_fail(L, L->pos, is_block ? "missing %}" : "missing }}");
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        if (depth == 0) {
            bool minus = left >= 3 && p[0] == '-' && p[1] == close && p[2] == '}';
            bool plus = is_block && left >= 3 && p[0] == '+' && p[1] == close && p[2] == '}';
            bool plain = left >= 2 && p[0] == close && p[1] == '}';
            if (minus || plus || plain) {
                if (!emit(L, is_block ? JT_BLOCK_END : JT_VAR_END, L->pos)) return false;
                L->pos += plain ? 2 : 3;
                *line_starting = false;
                if (minus) {
                    while (L->pos < L->n && is_space(L->s[L->pos])) {
                        *line_starting = L->s[L->pos] == '\n';
                        L->pos++;
                    }
                } else if (plain && is_block && L->pos < L->n && L->s[L->pos] == '\n') {
                    L->pos++; /* trim_blocks */
                    *line_starting = true;
                }
                return true;
            }
        }
        char ch = *p;
        if (is_digit(ch)) {
            if (!lex_number(L)) return false;
        } else if (is_alpha(ch) || (unsigned char)ch >= 0x80) {
            size_t a = L->pos;
            while (L->pos < L->n && (is_alpha(L->s[L->pos]) || is_digit(L->s[L->pos]) ||
                                     (unsigned char)L->s[L->pos] >= 0x80))
                L->pos++;
            jtok *t = emit(L, JT_NAME, a);
            if (!t) return false;
            t->s = (jstr){L->s + a, L->pos - a};
        } else if (ch == '\'' || ch == '"') {
            size_t a = L->pos, i = a + 1;
            while (i < L->n && L->s[i] != ch) i += L->s[i] == '\\' ? 2 : 1;
            if (i >= L->n) return lex_fail(L, a, "unterminated string");
            jtok *t = emit(L, JT_STRING, a);
            if (!t || !decode_string(L, a + 1, i, &t->s)) return false;
            L->pos = i + 1;
        } else {
            size_t k;
            for (k = 0; k < sizeof OPS / sizeof OPS[0]; k++) {
                size_t ol = strlen(OPS[k]);
                if (left >= ol && memcmp(p, OPS[k], ol) == 0) break;
            }
            if (k == sizeof OPS / sizeof OPS[0]) {
                char msg[64];
                snprintf(msg, sizeof msg, "unexpected character '%c'", ch);
                return lex_fail(L, L->pos, msg);
            }
            if (ch == '(' || ch == '[' || ch == '{') depth++;
            if (ch == ')' || ch == ']' || ch == '}') {
                if (depth == 0) return lex_fail(L, L->pos, "unbalanced closing bracket");
                depth--;
            }
            jtok *t = emit(L, JT_OP, L->pos);
            if (!t) return false;
            t->s = (jstr){OPS[k], strlen(OPS[k])};
            L->pos += t->s.n;
        }
    }
}

/* {# ... #}: skipped, with its own strip/trim rules */
static bool lex_comment(lexer *L, size_t start, bool *line_starting) {
    size_t i = start;
    while (i + 1 < L->n && !(L->s[i] == '#' && L->s[i + 1] == '}')) i++;
    if (i + 1 >= L->n) return lex_fail(L, start, "missing end of comment #}");
    bool minus = i > start && L->s[i - 1] == '-';
    bool plus = i > start && L->s[i - 1] == '+';
    L->pos = i + 2;
    *line_starting = false;
    if (minus) {
        while (L->pos < L->n && is_space(L->s[L->pos])) *line_starting = L->s[L->pos++] == '\n';
    } else if (!plus && L->pos < L->n && L->s[L->pos] == '\n') {
        L->pos++;
        *line_starting = true;
    }
    return true;
}

/* matches a block end marker at *k and moves past it */
static bool block_end_at(const lexer *L, size_t *k, bool *line_starting) {
    size_t i = *k;
    *line_starting = false;
    if (L->n - i >= 3 && (L->s[i] == '-' || L->s[i] == '+') && L->s[i + 1] == '%' &&
        L->s[i + 2] == '}') {
        bool minus = L->s[i] == '-';
        i += 3;
        while (minus && i < L->n && is_space(L->s[i])) *line_starting = L->s[i++] == '\n';
    } else if (L->n - i >= 2 && L->s[i] == '%' && L->s[i + 1] == '}') {
        i += 2;
        if (i < L->n && L->s[i] == '\n') {
            i++;
            *line_starting = true;
        }
    } else {
        return false;
    }
    *k = i;
    return true;
}

/* {% raw %}...{% endraw %}: the body is text, verbatim */
static bool try_raw(lexer *L, size_t tag, bool *handled, bool *line_starting) {
    size_t i = tag + 2;
    if (i < L->n && (L->s[i] == '-' || L->s[i] == '+')) i++;
    while (i < L->n && is_space(L->s[i])) i++;
    *handled = false;
    if (L->n - i < 3 || memcmp(L->s + i, "raw", 3) != 0) return true;
    i += 3;
    while (i < L->n && is_space(L->s[i])) i++;
    if (L->n - i >= 3 && L->s[i] == '-' && L->s[i + 1] == '%' && L->s[i + 2] == '}') {
        i += 3;
        while (i < L->n && is_space(L->s[i])) i++;
    } else if (L->n - i >= 2 && L->s[i] == '%' && L->s[i + 1] == '}') {
        i += 2;
    } else {
        return true;
    }
    *handled = true;
    for (size_t j = i; j + 1 < L->n; j++) {
        if (L->s[j] != '{' || L->s[j + 1] != '%') continue;
        size_t k = j + 2;
        char sign = 0;
        if (k < L->n && (L->s[k] == '-' || L->s[k] == '+')) sign = L->s[k++];
        while (k < L->n && is_space(L->s[k])) k++;
        if (L->n - k < 6 || memcmp(L->s + k, "endraw", 6) != 0) continue;
        k += 6;
        while (k < L->n && is_space(L->s[k])) k++;
        if (!block_end_at(L, &k, line_starting)) continue;
        if (!emit_text(L, i, j, '%', sign, false)) return false;
        L->pos = k;
        return true;
    }
    return lex_fail(L, tag, "missing {% endraw %}");
}

/* normalises newlines like jinja2 (CRLF and CR become LF, and one trailing
 * newline is dropped since keep_trailing_newline is off) */
static bool normalise(const char *src, size_t len, jarena *arena, jstr *out, slm_error *err) {
    char *d = ja_alloc(arena, len + 1);
    if (!d) return !slm_error_set(err, SLM_ERR_NOMEM, "template too large");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            d[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            d[n++] = src[i];
        }
    }
    if (n > 0 && d[n - 1] == '\n') n--;
    d[n] = '\0';
    *out = (jstr){d, n};
    return true;
}

bool jlex(const char *src, size_t len, jarena *arena, jtoks *out, slm_error *err) {
    jstr norm = {0};
    if (!normalise(src, len, arena, &norm, err)) return false;
    lexer L = {.s = norm.p, .n = norm.n, .line = 1, .col = 1, .arena = arena, .out = out, .err = err};
    bool line_starting = true;
    while (L.pos < L.n) {
        size_t tag = next_tag(&L, L.pos);
        if (tag >= L.n) {
            if (!emit_text(&L, L.pos, L.n, 0, 0, line_starting)) return false;
            break;
        }
        char kind = L.s[tag + 1];
        char sign = tag + 2 < L.n && (L.s[tag + 2] == '-' || L.s[tag + 2] == '+') ? L.s[tag + 2] : 0;
        if (kind == '%') {
            bool handled;
            size_t text_start = L.pos;
            if (!emit_text(&L, text_start, tag, kind, sign, line_starting)) return false;
            if (!try_raw(&L, tag, &handled, &line_starting)) return false;
            if (handled) continue;
        } else if (!emit_text(&L, L.pos, tag, kind, sign, line_starting)) {
            return false;
        }
        L.pos = tag + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            if (!lex_comment(&L, L.pos, &line_starting)) return false;
        } else {
            if (!emit(&L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, tag)) return false;
            if (!lex_tag(&L, kind == '%', &line_starting)) return false;
        }
    }
    return emit(&L, JT_EOF, L.n) != NULL;
}
