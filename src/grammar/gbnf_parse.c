/* GBNF parser (llama.cpp's grammar format) into the code point builder
 * (builder.c). Recursive descent over the text with a cursor; groups and
 * repetitions become helper rules:
 *   x*      R ::= x R |            (right recursion: constant stack depth)
 *   x+      x R*
 *   x?      O ::= x |
 *   x{m,n}  m copies of x, then n-m nested optionals O_k ::= x O_k-1 |
 * Errors carry line:col of the offending character. A rule ends at the
 * next `name ::=` or at the end of the text, so continuation lines are
 * allowed anywhere (a superset of llama.cpp's layout rules). */
#include <stdio.h>
#include <string.h>

#include "grammar/grammar_internal.h"

#define MAX_REPEAT 100000
#define MAX_NEST 256

typedef struct parser {
    gb_grammar *b;
    const char *s;
    size_t n, i;
    slm_error *err;
    int depth;
    size_t lc_at; /* line/col cache: position lc_at is at lc_line:lc_col */
    int lc_line, lc_col;
} parser;

/* line:col of the cursor, advancing a cache (the cursor only moves
 * forward), so reporting positions stays linear in the text size. */
static void linecol(parser *p, int *line, int *col) {
    if (p->lc_at > p->i || p->lc_line == 0) p->lc_at = 0, p->lc_line = 1, p->lc_col = 1;
    for (; p->lc_at < p->i && p->lc_at < p->n; p->lc_at++) {
        if (p->s[p->lc_at] == '\n') p->lc_line++, p->lc_col = 1;
        else p->lc_col++;
    }
    *line = p->lc_line;
    *col = p->lc_col;
}

static slm_status fail(parser *p, slm_status code, const char *what) {
    int line, col;
    linecol(p, &line, &col);
    return slm_error_set(p->err, code, "gbnf:%d:%d: %s", line, col, what);
}

static slm_status oom(parser *p) { return fail(p, SLM_ERR_NOMEM, "grammar too large / out of memory"); }

static int peek(parser *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

static int is_name_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static void skip_space(parser *p, int newline_ok) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == '#') {
            while (p->i < p->n && p->s[p->i] != '\n') p->i++;
        } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
            p->i++;
        } else {
            break;
        }
    }
}

static size_t name_len_at(parser *p, size_t at) {
    size_t k = at;
    while (k < p->n && is_name_char((unsigned char)p->s[k])) k++;
    return k - at;
}

/* True if the cursor is at `name ::=` (the start of the next rule). */
static int at_rule_start(parser *p) {
    size_t len = name_len_at(p, p->i);
    if (len == 0) return 0;
    size_t k = p->i + len;
    while (k < p->n && (p->s[k] == ' ' || p->s[k] == '\t')) k++;
    return k + 3 <= p->n && memcmp(p->s + k, "::=", 3) == 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes one UTF-8 character at the cursor; -1 if invalid. */
static int64_t decode_utf8(parser *p) {
    const unsigned char *s = (const unsigned char *)p->s + p->i;
    size_t avail = p->n - p->i;
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > avail) return -1;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    p->i += (size_t)len;
    return cp;
}

/* One character of a literal or class, with escapes; -1 on error (set). */
static int64_t parse_char(parser *p) {
    if (p->i >= p->n) return fail(p, SLM_ERR_FORMAT, "unexpected end of text"), -1;
    if (p->s[p->i] != '\\') {
        int64_t cp = decode_utf8(p);
        if (cp < 0) fail(p, SLM_ERR_FORMAT, "invalid UTF-8");
        return cp;
    }
    p->i++;
    int c = peek(p);
    if (c < 0) return fail(p, SLM_ERR_FORMAT, "unfinished escape"), -1;
    p->i++;
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            int h = p->i < p->n ? hexval((unsigned char)p->s[p->i]) : -1;
            if (h < 0) return fail(p, SLM_ERR_FORMAT, "bad hex digit in escape"), -1;
            v = v * 16 + (uint32_t)h;
            p->i++;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return fail(p, SLM_ERR_FORMAT, "escape is not a Unicode scalar value"), -1;
        return v;
    }
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '0': return 0;
    default:
        if (c < 0x80 && c > 0x20 && !is_name_char(c)) return c; /* \\ \" \[ \] \- \^ ... */
        p->i--;
        return fail(p, SLM_ERR_FORMAT, "unknown escape"), -1;
    }
}

static slm_status push(parser *p, uint32_t rule, uint8_t kind, uint32_t val) {
    return gb_push(p->b, rule, kind, val) == 0 ? SLM_OK : oom(p);
}

static slm_status push_class(parser *p, uint32_t rule, const gb_range *r, size_t n, int neg) {
    int64_t c = gb_class_add(p->b, r, n, neg);
    if (c < 0) return oom(p);
    return push(p, rule, GI_CLASS, (uint32_t)c);
}

static slm_status parse_literal(parser *p, uint32_t rule) {
    p->i++; /* opening quote */
    while (peek(p) != '"') {
        if (peek(p) < 0 || peek(p) == '\n') return fail(p, SLM_ERR_FORMAT, "unterminated string literal");
        int64_t cp = parse_char(p);
        if (cp < 0) return p->err ? p->err->code : SLM_ERR_FORMAT;
        gb_range r = {(uint32_t)cp, (uint32_t)cp};
        slm_status st = push_class(p, rule, &r, 1, 0);
        if (st) return st;
    }
    p->i++;
    return SLM_OK;
}

static slm_status parse_class(parser *p, uint32_t rule) {
    p->i++; /* [ */
    int neg = 0;
    if (peek(p) == '^') {
        neg = 1;
        p->i++;
    }
    gb_range *r = NULL;
    size_t n = 0, cap = 0;
    slm_status st = SLM_OK;
    while (peek(p) != ']') {
        if (peek(p) < 0 || peek(p) == '\n') {
            st = fail(p, SLM_ERR_FORMAT, "unterminated character class");
            break;
        }
        int64_t lo = parse_char(p), hi = lo;
        if (lo < 0) {
            st = p->err ? p->err->code : SLM_ERR_FORMAT;
            break;
        }
        if (peek(p) == '-' && p->i + 1 < p->n && p->s[p->i + 1] != ']' && p->s[p->i + 1] != '\n') {
            p->i++;
            hi = parse_char(p);
            if (hi < 0) {
                st = p->err ? p->err->code : SLM_ERR_FORMAT;
                break;
            }
            if (hi < lo) {
                st = fail(p, SLM_ERR_FORMAT, "character range is reversed");
                break;
            }
        }
        if (grow_array((void **)&r, &cap, n + 1, sizeof *r) != 0) {
            st = oom(p);
            break;
        }
        r[n++] = (gb_range){(uint32_t)lo, (uint32_t)hi};
    }
    if (st == SLM_OK) {
        p->i++;
        st = push_class(p, rule, r, n, neg);
    }
    free(r);
    return st;
}

static slm_status parse_alternates(parser *p, uint32_t rule, int nested);

/* Moves items [start, end) of rule into a new helper rule and puts a
 * reference to it in their place. */
static slm_status wrap_span(parser *p, uint32_t rule, size_t start) {
    int64_t h = gb_rule_new_helper(p->b, p->b->rules[rule].origin);
    if (h < 0) return oom(p);
    gb_rule *r = &p->b->rules[rule];
    for (size_t k = start; k < r->n; k++) {
        gb_item it = r->items[k];
        if (gb_push(p->b, (uint32_t)h, it.kind, it.val) != 0) return oom(p);
        r = &p->b->rules[rule];
    }
    p->b->total_items -= r->n - start;
    r->n = start;
    return push(p, rule, GI_REF, (uint32_t)h);
}

/* Helper rule STAR ::= x STAR | (empty). */
static int64_t make_star(parser *p, uint32_t origin, gb_item x) {
    int64_t h = gb_rule_new_helper(p->b, origin);
    if (h < 0) return -1;
    if (gb_push(p->b, (uint32_t)h, x.kind, x.val) || gb_push(p->b, (uint32_t)h, GI_REF, (uint32_t)h) ||
        gb_push(p->b, (uint32_t)h, GI_ALT, 0))
        return -1;
    return h;
}

static slm_status parse_braces(parser *p, uint64_t *m, uint64_t *n, int *unbounded) {
    p->i++;
    skip_space(p, 1);
    uint64_t a = 0, b;
    int digits = 0;
    while (peek(p) >= '0' && peek(p) <= '9') {
        a = a * 10 + (uint64_t)(p->s[p->i++] - '0');
        if (a > MAX_REPEAT) return fail(p, SLM_ERR_UNSUPPORTED, "repetition count too large");
        digits++;
    }
    if (!digits) return fail(p, SLM_ERR_FORMAT, "expected a number in {m,n}");
    skip_space(p, 1);
    b = a;
    *unbounded = 0;
    if (peek(p) == ',') {
        p->i++;
        skip_space(p, 1);
        if (peek(p) >= '0' && peek(p) <= '9') {
            b = 0;
            while (peek(p) >= '0' && peek(p) <= '9') {
                b = b * 10 + (uint64_t)(p->s[p->i++] - '0');
                if (b > MAX_REPEAT) return fail(p, SLM_ERR_UNSUPPORTED, "repetition count too large");
            }
            skip_space(p, 1);
        } else {
            *unbounded = 1;
        }
    }
    if (peek(p) != '}') return fail(p, SLM_ERR_FORMAT, "expected '}'");
    p->i++;
    if (!*unbounded && b < a) return fail(p, SLM_ERR_FORMAT, "repetition {m,n} with n < m");
    *m = a;
    *n = b;
    return SLM_OK;
}

/* Applies a postfix operator to the element occupying items [start..). */
static slm_status apply_postfix(parser *p, uint32_t rule, size_t start) {
    int op = peek(p);
    uint64_t m = 0, n = 0;
    int unbounded = 0;
    slm_status st;
    if (op == '{') {
        if ((st = parse_braces(p, &m, &n, &unbounded))) return st;
    } else {
        p->i++;
        m = op == '+' ? 1 : 0;
        n = op == '?' ? 1 : 0;
        unbounded = op != '?';
    }
    if (p->b->rules[rule].n - start != 1 && (st = wrap_span(p, rule, start))) return st;
    uint32_t origin = p->b->rules[rule].origin;
    gb_item x = p->b->rules[rule].items[start];
    p->b->rules[rule].n--; /* drop x; re-added m times below */
    p->b->total_items--;
    for (uint64_t k = 0; k < m; k++)
        if ((st = push(p, rule, x.kind, x.val))) return st;
    if (unbounded) {
        int64_t h = make_star(p, origin, x);
        if (h < 0) return oom(p);
        return push(p, rule, GI_REF, (uint32_t)h);
    }
    int64_t prev = -1; /* nested optionals, innermost first */
    for (uint64_t k = m; k < n; k++) {
        int64_t h = gb_rule_new_helper(p->b, origin);
        if (h < 0 || gb_push(p->b, (uint32_t)h, x.kind, x.val)) return oom(p);
        if (prev >= 0 && gb_push(p->b, (uint32_t)h, GI_REF, (uint32_t)prev)) return oom(p);
        if (gb_push(p->b, (uint32_t)h, GI_ALT, 0)) return oom(p);
        prev = h;
    }
    return prev >= 0 ? push(p, rule, GI_REF, (uint32_t)prev) : SLM_OK;
}

static slm_status parse_group(parser *p, uint32_t rule) {
    if (++p->depth > MAX_NEST) return fail(p, SLM_ERR_UNSUPPORTED, "groups nested too deeply");
    p->i++;
    int64_t h = gb_rule_new_helper(p->b, p->b->rules[rule].origin);
    if (h < 0) return oom(p);
    skip_space(p, 1);
    slm_status st = parse_alternates(p, (uint32_t)h, 1);
    if (st) return st;
    if (peek(p) != ')') return fail(p, SLM_ERR_FORMAT, "expected ')'");
    p->i++;
    p->depth--;
    return push(p, rule, GI_REF, (uint32_t)h);
}

static slm_status parse_ref(parser *p, uint32_t rule) {
    size_t len = name_len_at(p, p->i);
    int line, col;
    linecol(p, &line, &col);
    int64_t r = gb_rule_get(p->b, p->s + p->i, len);
    if (r < 0) return oom(p);
    if (!p->b->rules[r].line) {
        p->b->rules[r].line = line;
        p->b->rules[r].col = col;
    }
    p->i += len;
    return push(p, rule, GI_REF, (uint32_t)r);
}

static slm_status parse_element(parser *p, uint32_t rule) {
    int c = peek(p);
    if (c == '"') return parse_literal(p, rule);
    if (c == '[') return parse_class(p, rule);
    if (c == '(') return parse_group(p, rule);
    if (c == '.') {
        p->i++;
        gb_range r = {0, 0x10FFFF};
        return push_class(p, rule, &r, 1, 0);
    }
    if (is_name_char(c)) return parse_ref(p, rule);
    return fail(p, SLM_ERR_FORMAT, "expected a literal, [class], ( group ) or rule name");
}

static slm_status parse_sequence(parser *p, uint32_t rule, int nested) {
    for (;;) {
        skip_space(p, 1);
        int c = peek(p);
        if (c < 0 || c == '|' || c == ')') return SLM_OK;
        if (!nested && at_rule_start(p)) return SLM_OK;
        size_t start = p->b->rules[rule].n;
        slm_status st = parse_element(p, rule);
        if (st) return st;
        skip_space(p, 0);
        while (peek(p) == '*' || peek(p) == '+' || peek(p) == '?' || peek(p) == '{') {
            if ((st = apply_postfix(p, rule, start))) return st;
            skip_space(p, 0);
        }
    }
}

static slm_status parse_alternates(parser *p, uint32_t rule, int nested) {
    slm_status st = parse_sequence(p, rule, nested);
    while (st == SLM_OK && peek(p) == '|') {
        p->i++;
        if ((st = push(p, rule, GI_ALT, 0))) return st;
        st = parse_sequence(p, rule, nested);
    }
    if (st == SLM_OK && !nested && peek(p) == ')') return fail(p, SLM_ERR_FORMAT, "unmatched ')'");
    return st;
}

static slm_status parse_rule(parser *p) {
    size_t len = name_len_at(p, p->i);
    if (len == 0) return fail(p, SLM_ERR_FORMAT, "expected a rule name");
    int64_t r = gb_rule_get(p->b, p->s + p->i, len);
    if (r < 0) return oom(p);
    if (p->b->rules[r].defined) return fail(p, SLM_ERR_FORMAT, "rule defined twice");
    p->b->rules[r].defined = 1;
    p->i += len;
    skip_space(p, 0);
    if (p->n - p->i < 3 || memcmp(p->s + p->i, "::=", 3) != 0) return fail(p, SLM_ERR_FORMAT, "expected '::='");
    p->i += 3;
    return parse_alternates(p, (uint32_t)r, 0);
}

slm_status gbnf_parse(gb_grammar *b, const char *text, size_t len, slm_error *err) {
    parser p = {.b = b, .s = text, .n = len, .err = err};
    if (!text && len) return slm_error_set(err, SLM_ERR_INVALID_ARG, "gbnf: NULL text");
    for (;;) {
        skip_space(&p, 1);
        if (p.i >= p.n) break;
        slm_status st = parse_rule(&p);
        if (st) return st;
    }
    if (b->n_rules == 0) return slm_error_set(err, SLM_ERR_FORMAT, "gbnf: no rules");
    return SLM_OK;
}
