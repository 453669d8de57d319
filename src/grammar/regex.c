/* Regular expression -> GBNF expression. Covers the ECMA-262 subset that
 * JSON Schema `pattern` uses: literals and escapes, ., classes with ranges
 * and negation, \d \w \s \D \W \S, groups ((...), (?:...), (?<name>...)),
 * alternation, * + ? {m} {m,} {m,n} (lazy forms match the same language),
 * and ^ / $ at the ends of top-level alternatives. Lookarounds,
 * backreferences, \b and anchors elsewhere are SLM_ERR_UNSUPPORTED.
 *
 * The translation is syntax-directed: GBNF has the same operators, so each
 * regex construct becomes the GBNF construct of the same shape. Character
 * sets are collected as code point ranges and written out either raw (for
 * a whole-output regex) or in "JSON string" mode, where the set describes
 * decoded characters and the grammar must match their escaped form inside
 * a JSON string ("\"" for ", \n for newline, ...). In JSON mode an
 * unanchored side matches any string content (`jchar*`, a rule the schema
 * compiler defines), because JSON Schema patterns are searches. */
#include <string.h>

#include "grammar/grammar_internal.h"
#include "grammar/json_schema_internal.h"

#define MAX_RE_DEPTH 100

typedef struct rx {
    const char *s;
    size_t n, i;
    int json;
    gstr *out;
    slm_error *err;
    slm_status st;
    int depth;
} rx;

static int rx_fail(rx *r, slm_status code, const char *what) {
    if (r->st == SLM_OK)
        r->st = slm_error_set(r->err, code, "regex: %s at offset %zu", what, r->i);
    return -1;
}

static int rpeek(rx *r) { return r->i < r->n ? (unsigned char)r->s[r->i] : -1; }

static int64_t rx_utf8(rx *r) {
    const unsigned char *s = (const unsigned char *)r->s + r->i;
    size_t avail = r->n - r->i;
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > avail) return rx_fail(r, SLM_ERR_FORMAT, "invalid UTF-8");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return rx_fail(r, SLM_ERR_FORMAT, "invalid UTF-8");
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return rx_fail(r, SLM_ERR_FORMAT, "invalid UTF-8");
    r->i += (size_t)len;
    return cp;
}

/* ---- code point sets ------------------------------------------------ */
typedef struct cset {
    gb_range r[64];
    size_t n;
    int overflow;
} cset;

static void cs_add(cset *c, uint32_t lo, uint32_t hi) {
    if (c->n == 64) c->overflow = 1;
    else c->r[c->n++] = (gb_range){lo, hi};
}

static int cmp_r(const void *a, const void *b) {
    const gb_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Sorted, merged, optionally complemented copy in out (capacity 65). */
static size_t cs_normalize(const cset *c, int negate, gb_range *out) {
    gb_range t[64];
    memcpy(t, c->r, c->n * sizeof *t);
    qsort(t, c->n, sizeof *t, cmp_r);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (k && t[i].lo <= t[k - 1].hi + 1) {
            if (t[i].hi > t[k - 1].hi) t[k - 1].hi = t[i].hi;
        } else {
            t[k++] = t[i];
        }
    }
    if (!negate) {
        memcpy(out, t, k * sizeof *t);
        return k;
    }
    size_t m = 0;
    uint32_t next = 0;
    for (size_t i = 0; i < k; i++) {
        if (t[i].lo > next) out[m++] = (gb_range){next, t[i].lo - 1};
        next = t[i].hi + 1;
    }
    if (next <= 0x10FFFF) out[m++] = (gb_range){next, 0x10FFFF};
    return m;
}

static void put_cp(gstr *o, uint32_t cp) { gstr_printf(o, "\\U%08X", cp); }

/* Writes a GBNF [class] of the ranges clipped to [lo_lim, hi_lim] minus
 * the JSON specials when json; returns 0 if the result is empty. */
static int put_class(gstr *o, const gb_range *r, size_t n, int json) {
    gstr tmp = {0};
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t lo = r[i].lo, hi = r[i].hi;
        /* in JSON mode, 0x00-0x1F, '"' and '\\' need escapes: emitted apart */
        uint32_t cuts[][2] = {{0x00, 0x1F}, {'"', '"'}, {'\\', '\\'}};
        uint32_t segs[8][2];
        size_t ns = 0;
        segs[ns][0] = lo;
        segs[ns][1] = hi;
        ns = 1;
        if (json) {
            for (size_t c = 0; c < 3; c++) {
                size_t nn = 0;
                uint32_t out2[8][2];
                for (size_t s = 0; s < ns; s++) {
                    uint32_t a = segs[s][0], b = segs[s][1];
                    if (b < cuts[c][0] || a > cuts[c][1]) {
                        out2[nn][0] = a, out2[nn][1] = b, nn++;
                        continue;
                    }
                    if (a < cuts[c][0]) out2[nn][0] = a, out2[nn][1] = cuts[c][0] - 1, nn++;
                    if (b > cuts[c][1]) out2[nn][0] = cuts[c][1] + 1, out2[nn][1] = b, nn++;
                }
                memcpy(segs, out2, nn * sizeof segs[0]);
                ns = nn;
            }
        }
        for (size_t s = 0; s < ns; s++) {
            put_cp(&tmp, segs[s][0]);
            if (segs[s][1] != segs[s][0]) {
                gstr_puts(&tmp, "-");
                put_cp(&tmp, segs[s][1]);
            }
            any = 1;
        }
    }
    if (any) {
        gstr_puts(o, "[");
        if (tmp.p) gstr_puts(o, tmp.p);
        gstr_puts(o, "]");
    }
    gstr_free(&tmp);
    return any;
}

static int in_ranges(const gb_range *r, size_t n, uint32_t cp) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi) return 1;
    return 0;
}

/* The escaped spellings of the JSON specials a set contains. */
static void put_json_escapes(gstr *o, const gb_range *r, size_t n, int *first) {
    static const char *const short_esc[32] = {[8] = "b", [9] = "t", [10] = "n", [12] = "f", [13] = "r"};
    for (uint32_t cp = 0; cp < 0x20; cp++) {
        if (!in_ranges(r, n, cp)) continue;
        gstr_puts(o, *first ? "" : " | ");
        *first = 0;
        if (short_esc[cp]) gstr_printf(o, "\"\\\\%s\"", short_esc[cp]);
        else gstr_printf(o, "\"\\\\u00%02x\"", cp);
    }
    if (in_ranges(r, n, '"')) gstr_puts(o, *first ? "\"\\\\\\\"\"" : " | \"\\\\\\\"\""), *first = 0;
    if (in_ranges(r, n, '\\')) gstr_puts(o, *first ? "\"\\\\\\\\\"" : " | \"\\\\\\\\\""), *first = 0;
}

void regex_json_set(gstr *o, const gb_range *r, size_t n) {
    gstr_puts(o, "(");
    int first = 1;
    gstr cls = {0};
    if (put_class(&cls, r, n, 1)) {
        gstr_puts(o, cls.p);
        first = 0;
    }
    if (cls.oom) o->oom = 1;
    gstr_free(&cls);
    put_json_escapes(o, r, n, &first);
    if (first) gstr_puts(o, "[^\\x00-\\U0010FFFF]");
    gstr_puts(o, ")");
}

/* Emits a set as one GBNF item (parenthesised when it has alternatives). */
static int emit_set(rx *r, const cset *c, int negate) {
    if (c->overflow) return rx_fail(r, SLM_ERR_UNSUPPORTED, "character class too large");
    gb_range rr[65];
    size_t n = cs_normalize(c, negate, rr);
    gstr *o = r->out;
    if (!r->json) {
        if (!put_class(o, rr, n, 0)) gstr_puts(o, "[^\\x00-\\U0010FFFF]");
        return 0;
    }
    regex_json_set(o, rr, n);
    return 0;
}

static void add_class_escape(cset *c, int e) {
    switch (e) {
    case 'd': cs_add(c, '0', '9'); break;
    case 'w':
        cs_add(c, '0', '9'), cs_add(c, 'A', 'Z'), cs_add(c, 'a', 'z'), cs_add(c, '_', '_');
        break;
    case 's':
        cs_add(c, '\t', '\r'), cs_add(c, ' ', ' '), cs_add(c, 0xA0, 0xA0), cs_add(c, 0x1680, 0x1680);
        cs_add(c, 0x2000, 0x200A), cs_add(c, 0x2028, 0x2029), cs_add(c, 0x202F, 0x202F);
        cs_add(c, 0x205F, 0x205F), cs_add(c, 0x3000, 0x3000), cs_add(c, 0xFEFF, 0xFEFF);
        break;
    }
}

static int hexv(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* An escape after '\\' giving one code point (-1 error, -2 class escape
 * written to *cls_letter). */
static int64_t parse_escape(rx *r, int in_class, int *cls_letter) {
    int c = rpeek(r);
    if (c < 0) return rx_fail(r, SLM_ERR_FORMAT, "trailing backslash");
    r->i++;
    switch (c) {
    case 'd': case 'w': case 's': case 'D': case 'W': case 'S':
        *cls_letter = c;
        return -2;
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    case 'b':
        if (in_class) return 8;
        return rx_fail(r, SLM_ERR_UNSUPPORTED, "word boundary \\b");
    case 'B': return rx_fail(r, SLM_ERR_UNSUPPORTED, "\\B");
    case 'x': case 'u': {
        int digits = c == 'x' ? 2 : 4;
        uint32_t v = 0;
        if (c == 'u' && rpeek(r) == '{') return rx_fail(r, SLM_ERR_UNSUPPORTED, "\\u{...}");
        for (int k = 0; k < digits; k++) {
            int h = hexv(rpeek(r));
            if (h < 0) return rx_fail(r, SLM_ERR_FORMAT, "bad hex escape");
            v = v * 16 + (uint32_t)h;
            r->i++;
        }
        if (v >= 0xD800 && v <= 0xDFFF) return rx_fail(r, SLM_ERR_UNSUPPORTED, "surrogate escape");
        return v;
    }
    case 'p': case 'P': return rx_fail(r, SLM_ERR_UNSUPPORTED, "Unicode property escape \\p");
    case 'c': return rx_fail(r, SLM_ERR_UNSUPPORTED, "control escape \\c");
    case 'k': return rx_fail(r, SLM_ERR_UNSUPPORTED, "named backreference");
    default:
        if (c >= '1' && c <= '9') return rx_fail(r, SLM_ERR_UNSUPPORTED, "backreference");
        if (c >= 0x80) {
            r->i--;
            return rx_utf8(r);
        }
        return c; /* identity escape: \. \/ \- ... */
    }
}

static void add_letter_class(cset *c, int letter, int *neg_letter) {
    if (letter >= 'a') add_class_escape(c, letter);
    else *neg_letter = letter + ('a' - 'A');
}

static int parse_class(rx *r) {
    r->i++; /* [ */
    int negate = 0;
    if (rpeek(r) == '^') negate = 1, r->i++;
    cset c = {0};
    int first = 1;
    int neg_letter = 0;
    while (rpeek(r) != ']' || (first && 0)) {
        first = 0;
        if (rpeek(r) < 0) return rx_fail(r, SLM_ERR_FORMAT, "unterminated class");
        int64_t lo;
        int letter = 0;
        if (rpeek(r) == '\\') {
            r->i++;
            lo = parse_escape(r, 1, &letter);
        } else {
            lo = rx_utf8(r);
        }
        if (lo == -1) return -1;
        if (lo == -2) {
            if (neg_letter && letter < 'a') return rx_fail(r, SLM_ERR_UNSUPPORTED, "two negated escapes in a class");
            add_letter_class(&c, letter, &neg_letter);
            continue;
        }
        int64_t hi = lo;
        if (rpeek(r) == '-' && r->i + 1 < r->n && r->s[r->i + 1] != ']') {
            r->i++;
            if (rpeek(r) == '\\') {
                r->i++;
                hi = parse_escape(r, 1, &letter);
                if (hi == -2) return rx_fail(r, SLM_ERR_UNSUPPORTED, "class escape as range end");
            } else {
                hi = rx_utf8(r);
            }
            if (hi < 0) return -1;
            if (hi < lo) return rx_fail(r, SLM_ERR_FORMAT, "reversed range in class");
        }
        cs_add(&c, (uint32_t)lo, (uint32_t)hi);
    }
    r->i++;
    if (neg_letter) {
        /* [\D...] = complement of (\d minus the other members); handled only
         * alone: [\D], [^\D] */
        if (c.n) return rx_fail(r, SLM_ERR_UNSUPPORTED, "negated class escape mixed with other members");
        add_class_escape(&c, neg_letter);
        negate = !negate;
    }
    return emit_set(r, &c, negate);
}

static int parse_alt(rx *r, int top, int *unused_s, int *unused_e);

static int parse_group(rx *r) {
    r->i++; /* ( */
    if (rpeek(r) == '?') {
        r->i++;
        int c = rpeek(r);
        if (c == ':') r->i++;
        else if (c == '<' && r->i + 1 < r->n && r->s[r->i + 1] != '=' && r->s[r->i + 1] != '!') {
            while (rpeek(r) >= 0 && rpeek(r) != '>') r->i++;
            if (rpeek(r) != '>') return rx_fail(r, SLM_ERR_FORMAT, "unterminated group name");
            r->i++;
        } else {
            return rx_fail(r, SLM_ERR_UNSUPPORTED, "lookaround or inline flags (?...)");
        }
    }
    if (++r->depth > MAX_RE_DEPTH) return rx_fail(r, SLM_ERR_UNSUPPORTED, "regex nested too deeply");
    gstr_puts(r->out, "(");
    if (parse_alt(r, 0, NULL, NULL) != 0) return -1;
    if (rpeek(r) != ')') return rx_fail(r, SLM_ERR_FORMAT, "expected ')'");
    r->i++;
    r->depth--;
    gstr_puts(r->out, ")");
    return 0;
}

static int parse_atom(rx *r) {
    int c = rpeek(r);
    if (c == '(') return parse_group(r);
    if (c == '[') return parse_class(r);
    cset s = {0};
    if (c == '.') {
        r->i++;
        cs_add(&s, '\n', '\n'), cs_add(&s, '\r', '\r'), cs_add(&s, 0x2028, 0x2029);
        return emit_set(r, &s, 1);
    }
    int64_t cp;
    int letter = 0;
    if (c == '\\') {
        r->i++;
        cp = parse_escape(r, 0, &letter);
    } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (c == '{') { /* a literal '{' when not a valid quantifier */
            r->i++;
            cp = '{';
        } else {
            return rx_fail(r, SLM_ERR_FORMAT, "nothing to repeat");
        }
    } else {
        cp = rx_utf8(r);
    }
    if (cp == -1) return -1;
    if (cp == -2) {
        int neg = 0;
        add_letter_class(&s, letter, &neg);
        if (neg) add_class_escape(&s, neg);
        return emit_set(r, &s, neg != 0);
    }
    cs_add(&s, (uint32_t)cp, (uint32_t)cp);
    return emit_set(r, &s, 0);
}

/* {m}, {m,}, {m,n} at the cursor: 1 and the text copied, 0 if not one. */
static int parse_quant_braces(rx *r) {
    size_t k = r->i + 1;
    unsigned long m = 0, n = 0;
    int dm = 0, dn = 0, comma = 0;
    while (k < r->n && r->s[k] >= '0' && r->s[k] <= '9' && dm < 7) m = m * 10 + (unsigned long)(r->s[k++] - '0'), dm++;
    if (k < r->n && r->s[k] == ',') {
        comma = 1;
        k++;
        while (k < r->n && r->s[k] >= '0' && r->s[k] <= '9' && dn < 7) n = n * 10 + (unsigned long)(r->s[k++] - '0'), dn++;
    }
    if (!dm || k >= r->n || r->s[k] != '}') return 0;
    if (comma && dn && n < m) return rx_fail(r, SLM_ERR_FORMAT, "{m,n} with n < m");
    if (m > 10000 || n > 10000) return rx_fail(r, SLM_ERR_UNSUPPORTED, "repetition count above 10000");
    if (!comma) gstr_printf(r->out, "{%lu}", m);
    else if (!dn) gstr_printf(r->out, "{%lu,}", m);
    else gstr_printf(r->out, "{%lu,%lu}", m, n);
    r->i = k + 1;
    return 1;
}

static int parse_seq(rx *r, int top, int *anch_start, int *anch_end) {
    int first = 1;
    gstr_puts(r->out, "(");
    for (;;) {
        int c = rpeek(r);
        if (c < 0 || c == '|' || c == ')') break;
        if (c == '^') {
            if (!(top && first)) return rx_fail(r, SLM_ERR_UNSUPPORTED, "'^' not at the start");
            *anch_start = 1;
            r->i++;
            continue;
        }
        if (c == '$') {
            r->i++;
            int nc = rpeek(r);
            if (!top || (nc >= 0 && nc != '|')) return rx_fail(r, SLM_ERR_UNSUPPORTED, "'$' not at the end");
            *anch_end = 1;
            continue;
        }
        first = 0;
        gstr_puts(r->out, " ");
        if (parse_atom(r) != 0) return -1;
        for (;;) {
            c = rpeek(r);
            if (c == '*' || c == '+' || c == '?') {
                char q[2] = {(char)c, 0};
                gstr_puts(r->out, q);
                r->i++;
            } else if (c == '{') {
                int q = parse_quant_braces(r);
                if (q < 0) return -1;
                if (q == 0) break;
            } else {
                break;
            }
            if (rpeek(r) == '?') r->i++; /* lazy: same language */
            else if (rpeek(r) == '+') return rx_fail(r, SLM_ERR_UNSUPPORTED, "possessive quantifier");
            if (rpeek(r) == '*' || rpeek(r) == '+' || rpeek(r) == '{') {
                /* a repeated repetition: wrap the previous item */
                return rx_fail(r, SLM_ERR_UNSUPPORTED, "nested quantifier");
            }
        }
    }
    gstr_puts(r->out, " )");
    return 0;
}

/* One alternative per branch; at the top level each branch tracks its own
 * anchors and, in JSON mode, gets jchar* on unanchored sides. */
static int parse_alt(rx *r, int top, int *unused_s, int *unused_e) {
    (void)unused_s, (void)unused_e;
    for (int first = 1;; first = 0) {
        if (!first) gstr_puts(r->out, " | ");
        int as = 0, ae = 0;
        gstr *outer = r->out, branch = {0};
        r->out = &branch;
        int rc = parse_seq(r, top, &as, &ae);
        r->out = outer;
        if (rc == 0) {
            int pad = top && r->json;
            gstr_puts(outer, "(");
            if (pad && !as) gstr_puts(outer, " jchar*");
            if (branch.p) gstr_puts(outer, branch.p);
            if (pad && !ae) gstr_puts(outer, " jchar*");
            gstr_puts(outer, ")");
            if (branch.oom) outer->oom = 1;
        }
        gstr_free(&branch);
        if (rc != 0) return -1;
        if (rpeek(r) != '|') break;
        r->i++;
    }
    return 0;
}

slm_status regex_to_gbnf_expr(const char *re, size_t len, int json, gstr *out, slm_error *err) {
    rx r = {.s = re, .n = len, .json = json, .out = out, .err = err};
    gstr_puts(out, "(");
    if (parse_alt(&r, 1, NULL, NULL) != 0) return r.st;
    if (r.i < r.n) {
        rx_fail(&r, SLM_ERR_FORMAT, "unmatched ')'");
        return r.st;
    }
    gstr_puts(out, ")");
    if (out->oom) return slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
    return SLM_OK;
}

slm_status slm_grammar_regex_to_gbnf(const char *re, size_t len, char **gbnf, slm_error *err) {
    if (!gbnf || (!re && len)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "regex: NULL argument");
    *gbnf = NULL;
    gstr o = {0};
    gstr_puts(&o, "root ::= ");
    slm_status st = regex_to_gbnf_expr(re, len, 0, &o, err);
    gstr_puts(&o, "\n");
    if (st == SLM_OK && o.oom) st = slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
    if (st) {
        gstr_free(&o);
        return st;
    }
    *gbnf = o.p;
    return SLM_OK;
}

slm_status slm_grammar_compile_regex(const char *re, size_t len, slm_grammar **out, slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "regex: NULL out");
    *out = NULL;
    char *g = NULL;
    slm_status st = slm_grammar_regex_to_gbnf(re, len, &g, err);
    if (st == SLM_OK) st = grammar_from_generated(g, strlen(g), out, err);
    free(g);
    return st;
}
