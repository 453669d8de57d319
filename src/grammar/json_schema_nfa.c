/* Regex (JSON Schema `pattern`) and string sets -> DFA over code points.
 *
 * The regex is parsed (same ECMA-262 subset as regex.c) straight into a
 * Thompson NFA: a flat edge list (from, to, code point range or epsilon).
 * Each parsed atom owns a contiguous range of states and edges, so a
 * counted repetition {m,n} copies that range. The subset construction
 * then cuts the alphabet into classes at every range boundary and builds
 * a complete DFA (sdfa), minimized by json_schema_dfa.c. Patterns are
 * searches: an unanchored side of a top-level alternative matches any
 * string. Lone surrogates are never part of the alphabet. */
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_NFA_STATES 60000u
#define MAX_NFA_DEPTH 100
#define CP_END 0x110000u

typedef struct nedge {
    uint32_t from, to, lo, hi;
    uint8_t eps;
} nedge;

typedef struct nfa {
    nedge *e;
    size_t n_e, cap_e;
    uint32_t n_st;
    const char *s;
    size_t n, i;
    int depth;
    slm_error *err;
    slm_status st;
} nfa;

typedef struct frag {
    uint32_t start, end;
} frag;

static int nfail(nfa *a, slm_status code, const char *what) {
    if (a->st == SLM_OK) a->st = slm_error_set(a->err, code, "regex: %s at offset %zu", what, a->i);
    return -1;
}

static uint32_t new_state(nfa *a) {
    if (a->n_st >= MAX_NFA_STATES) {
        nfail(a, SLM_ERR_UNSUPPORTED, "pattern too large for an automaton");
        return 0;
    }
    return a->n_st++;
}

static void add_edge(nfa *a, uint32_t from, uint32_t to, uint32_t lo, uint32_t hi, int eps) {
    if (a->st) return;
    if (grow_array((void **)&a->e, &a->cap_e, a->n_e + 1, sizeof *a->e) != 0) {
        nfail(a, SLM_ERR_NOMEM, "out of memory");
        return;
    }
    a->e[a->n_e++] = (nedge){from, to, lo, hi, (uint8_t)eps};
}

static void eps(nfa *a, uint32_t from, uint32_t to) { add_edge(a, from, to, 1, 0, 1); }

/* Range edges, with the surrogate block cut out. */
static void range_edge(nfa *a, uint32_t from, uint32_t to, uint32_t lo, uint32_t hi) {
    if (lo < 0xD800 && hi >= 0xD800) {
        add_edge(a, from, to, lo, 0xD7FF, 0);
        lo = 0xE000;
    } else if (lo >= 0xD800 && lo <= 0xDFFF) {
        lo = 0xE000;
    }
    if (lo <= hi) add_edge(a, from, to, lo, hi, 0);
}

/* ---- character sets --------------------------------------------------- */

typedef struct rset {
    gb_range *r;
    size_t n, cap;
} rset;

static void rs_add(nfa *a, rset *s, uint32_t lo, uint32_t hi) {
    if (grow_array((void **)&s->r, &s->cap, s->n + 1, sizeof *s->r) != 0) {
        nfail(a, SLM_ERR_NOMEM, "out of memory");
        return;
    }
    s->r[s->n++] = (gb_range){lo, hi};
}

static int cmp_range(const void *x, const void *y) {
    const gb_range *p = x, *q = y;
    return (p->lo > q->lo) - (p->lo < q->lo);
}

/* Sorts and merges in place; with negate, replaces by the complement. */
static void rs_normalize(nfa *a, rset *s, int negate) {
    if (s->n) qsort(s->r, s->n, sizeof *s->r, cmp_range);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (k && s->r[i].lo <= s->r[k - 1].hi + 1) {
            if (s->r[i].hi > s->r[k - 1].hi) s->r[k - 1].hi = s->r[i].hi;
        } else {
            s->r[k++] = s->r[i];
        }
    }
    s->n = k;
    if (!negate) return;
    rset c = {0};
    uint32_t next = 0;
    for (size_t i = 0; i < k; i++) {
        if (s->r[i].lo > next) rs_add(a, &c, next, s->r[i].lo - 1);
        next = s->r[i].hi + 1;
    }
    if (next < CP_END) rs_add(a, &c, next, CP_END - 1);
    free(s->r);
    *s = c;
}

static void add_class_letter(nfa *a, rset *s, int letter) {
    rset t = {0};
    switch (letter | 0x20) {
    case 'd': rs_add(a, &t, '0', '9'); break;
    case 'w':
        rs_add(a, &t, '0', '9'), rs_add(a, &t, 'A', 'Z'), rs_add(a, &t, 'a', 'z'), rs_add(a, &t, '_', '_');
        break;
    default: /* s */
        rs_add(a, &t, '\t', '\r'), rs_add(a, &t, ' ', ' '), rs_add(a, &t, 0xA0, 0xA0);
        rs_add(a, &t, 0x1680, 0x1680), rs_add(a, &t, 0x2000, 0x200A), rs_add(a, &t, 0x2028, 0x2029);
        rs_add(a, &t, 0x202F, 0x202F), rs_add(a, &t, 0x205F, 0x205F), rs_add(a, &t, 0x3000, 0x3000);
        rs_add(a, &t, 0xFEFF, 0xFEFF);
    }
    rs_normalize(a, &t, letter < 'a');
    for (size_t i = 0; i < t.n; i++) rs_add(a, s, t.r[i].lo, t.r[i].hi);
    free(t.r);
}

static int peekc(nfa *a) { return a->i < a->n ? (unsigned char)a->s[a->i] : -1; }

static int64_t next_utf8(nfa *a) {
    const unsigned char *p = (const unsigned char *)a->s + a->i;
    size_t avail = a->n - a->i;
    unsigned c = p[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > avail) return nfail(a, SLM_ERR_FORMAT, "invalid UTF-8");
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80) return nfail(a, SLM_ERR_FORMAT, "invalid UTF-8");
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if (cp >= CP_END) return nfail(a, SLM_ERR_FORMAT, "invalid UTF-8");
    a->i += (size_t)len;
    return cp;
}

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* After '\\': a code point, or -2 with *letter set for \d \w \s \D \W \S. */
static int64_t escape(nfa *a, int in_class, int *letter) {
    int c = peekc(a);
    if (c < 0) return nfail(a, SLM_ERR_FORMAT, "trailing backslash");
    a->i++;
    switch (c) {
    case 'd': case 'w': case 's': case 'D': case 'W': case 'S': *letter = c; return -2;
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    case 'b':
        if (in_class) return 8;
        return nfail(a, SLM_ERR_UNSUPPORTED, "word boundary \\b");
    case 'x': case 'u': {
        uint32_t v = 0;
        if (c == 'u' && peekc(a) == '{') return nfail(a, SLM_ERR_UNSUPPORTED, "\\u{...}");
        for (int k = 0; k < (c == 'x' ? 2 : 4); k++) {
            int h = hexval(peekc(a));
            if (h < 0) return nfail(a, SLM_ERR_FORMAT, "bad hex escape");
            v = v * 16 + (uint32_t)h;
            a->i++;
        }
        if (v >= 0xD800 && v <= 0xDFFF) return nfail(a, SLM_ERR_UNSUPPORTED, "surrogate escape");
        return v;
    }
    case 'B': return nfail(a, SLM_ERR_UNSUPPORTED, "\\B");
    case 'p': case 'P': return nfail(a, SLM_ERR_UNSUPPORTED, "Unicode property escape \\p");
    case 'c': return nfail(a, SLM_ERR_UNSUPPORTED, "control escape \\c");
    case 'k': return nfail(a, SLM_ERR_UNSUPPORTED, "named backreference");
    default:
        if (c >= '1' && c <= '9') return nfail(a, SLM_ERR_UNSUPPORTED, "backreference");
        if (c >= 0x80) {
            a->i--;
            return next_utf8(a);
        }
        return c;
    }
}

static frag set_frag(nfa *a, rset *s) {
    frag f = {new_state(a), new_state(a)};
    for (size_t i = 0; i < s->n && !a->st; i++) range_edge(a, f.start, f.end, s->r[i].lo, s->r[i].hi);
    free(s->r);
    return f;
}

static int parse_class(nfa *a, frag *out) {
    a->i++; /* [ */
    int negate = peekc(a) == '^';
    if (negate) a->i++;
    rset s = {0};
    while (peekc(a) != ']') {
        if (peekc(a) < 0) {
            free(s.r);
            return nfail(a, SLM_ERR_FORMAT, "unterminated class");
        }
        int letter = 0;
        int64_t lo = peekc(a) == '\\' ? (a->i++, escape(a, 1, &letter)) : next_utf8(a);
        if (lo == -2) {
            add_class_letter(a, &s, letter);
            continue;
        }
        int64_t hi = lo;
        if (lo >= 0 && peekc(a) == '-' && a->i + 1 < a->n && a->s[a->i + 1] != ']') {
            a->i++;
            hi = peekc(a) == '\\' ? (a->i++, escape(a, 1, &letter)) : next_utf8(a);
            if (hi == -2) nfail(a, SLM_ERR_UNSUPPORTED, "class escape as range end");
            else if (hi >= 0 && hi < lo) nfail(a, SLM_ERR_FORMAT, "reversed range in class");
        }
        if (lo < 0 || hi < 0 || a->st) {
            free(s.r);
            return -1;
        }
        rs_add(a, &s, (uint32_t)lo, (uint32_t)hi);
    }
    a->i++;
    rs_normalize(a, &s, negate);
    *out = set_frag(a, &s);
    return a->st ? -1 : 0;
}

static int parse_alt(nfa *a, int top, frag *out);

static int parse_atom(nfa *a, frag *out) {
    int c = peekc(a);
    rset s = {0};
    if (c == '(') {
        a->i++;
        if (peekc(a) == '?') {
            a->i++;
            int d = peekc(a);
            if (d == ':') a->i++;
            else if (d == '<' && a->i + 1 < a->n && a->s[a->i + 1] != '=' && a->s[a->i + 1] != '!') {
                while (peekc(a) >= 0 && peekc(a) != '>') a->i++;
                if (peekc(a) != '>') return nfail(a, SLM_ERR_FORMAT, "unterminated group name");
                a->i++;
            } else {
                return nfail(a, SLM_ERR_UNSUPPORTED, "lookaround or inline flags (?...)");
            }
        }
        if (++a->depth > MAX_NFA_DEPTH) return nfail(a, SLM_ERR_UNSUPPORTED, "regex nested too deeply");
        if (parse_alt(a, 0, out) != 0) return -1;
        if (peekc(a) != ')') return nfail(a, SLM_ERR_FORMAT, "expected ')'");
        a->i++;
        a->depth--;
        return 0;
    }
    if (c == '[') return parse_class(a, out);
    if (c == '.') {
        a->i++;
        rs_add(a, &s, '\n', '\n'), rs_add(a, &s, '\r', '\r'), rs_add(a, &s, 0x2028, 0x2029);
        rs_normalize(a, &s, 1);
        *out = set_frag(a, &s);
        return a->st ? -1 : 0;
    }
    int64_t cp;
    int letter = 0;
    if (c == '\\') {
        a->i++;
        cp = escape(a, 0, &letter);
    } else if (c == '*' || c == '+' || c == '?') {
        return nfail(a, SLM_ERR_FORMAT, "nothing to repeat");
    } else {
        cp = next_utf8(a);
    }
    if (cp == -1) return -1;
    if (cp == -2) add_class_letter(a, &s, letter);
    else rs_add(a, &s, (uint32_t)cp, (uint32_t)cp);
    rs_normalize(a, &s, 0);
    *out = set_frag(a, &s);
    return a->st ? -1 : 0;
}

/* A copy of the states [s0, s1) and edges [e0, e1) of a fragment. */
static frag copy_frag(nfa *a, frag f, uint32_t s0, uint32_t s1, size_t e0, size_t e1) {
    uint32_t off = a->n_st - s0;
    for (uint32_t k = s0; k < s1; k++) new_state(a);
    for (size_t k = e0; k < e1 && !a->st; k++) {
        nedge x = a->e[k];
        add_edge(a, x.from + off, x.to + off, x.lo, x.hi, x.eps);
    }
    return (frag){f.start + off, f.end + off};
}

/* {m,n} (n < 0: unbounded) of the fragment just parsed. */
static frag repeat(nfa *a, frag f, uint32_t s0, size_t e0, long m, long n) {
    uint32_t s1 = a->n_st;
    size_t e1 = a->n_e;
    if (n < 0 && m == 0) { /* X* */
        frag r = {new_state(a), new_state(a)};
        eps(a, r.start, f.start), eps(a, f.end, f.start), eps(a, f.end, r.end), eps(a, r.start, r.end);
        return r;
    }
    if (n == 0) {
        uint32_t x = new_state(a);
        return (frag){x, x};
    }
    frag r = f, last = f;
    long count = n < 0 ? m : n;
    uint32_t end = n < 0 ? 0 : new_state(a);
    for (long k = 1; k < count && !a->st; k++) {
        last = copy_frag(a, f, s0, s1, e0, e1);
        if (k >= m) eps(a, last.start, end); /* stop before optional copy k */
        eps(a, r.end, last.start);
        r.end = last.end;
    }
    if (n < 0) {
        eps(a, last.end, last.start); /* X{m-1} X+ */
    } else {
        eps(a, r.end, end);
        r.end = end;
        if (m == 0) eps(a, r.start, end);
    }
    return r;
}

static int parse_quant(nfa *a, long *m, long *n) {
    int c = peekc(a);
    if (c == '*') *m = 0, *n = -1;
    else if (c == '+') *m = 1, *n = -1;
    else if (c == '?') *m = 0, *n = 1;
    else if (c == '{') {
        size_t k = a->i + 1;
        long x = 0, y = -1;
        int dx = 0, dy = 0, comma = 0;
        while (k < a->n && a->s[k] >= '0' && a->s[k] <= '9' && dx < 7) x = x * 10 + (a->s[k++] - '0'), dx++;
        if (k < a->n && a->s[k] == ',') {
            comma = 1, k++;
            y = 0;
            while (k < a->n && a->s[k] >= '0' && a->s[k] <= '9' && dy < 7) y = y * 10 + (a->s[k++] - '0'), dy++;
        }
        if (!dx || k >= a->n || a->s[k] != '}') return 0; /* a literal '{' */
        if (!comma) y = x;
        else if (!dy) y = -1;
        if (y >= 0 && y < x) return nfail(a, SLM_ERR_FORMAT, "{m,n} with n < m");
        if (x > 10000 || y > 10000) return nfail(a, SLM_ERR_UNSUPPORTED, "repetition count above 10000");
        *m = x, *n = y;
        a->i = k;
    } else {
        return 0;
    }
    a->i++;
    if (peekc(a) == '?') a->i++;
    else if (peekc(a) == '+') return nfail(a, SLM_ERR_UNSUPPORTED, "possessive quantifier");
    return 1;
}

static frag any_star(nfa *a) {
    uint32_t x = new_state(a);
    range_edge(a, x, x, 0, CP_END - 1);
    return (frag){x, x};
}

static int parse_seq(nfa *a, int top, frag *out) {
    uint32_t start = new_state(a), cur = start;
    int first = 1, as = 0, ae = 0;
    for (;;) {
        int c = peekc(a);
        if (c < 0 || c == '|' || c == ')' || a->st) break;
        if (c == '^') {
            if (!(top && first)) return nfail(a, SLM_ERR_UNSUPPORTED, "'^' not at the start");
            as = 1, a->i++;
            continue;
        }
        if (c == '$') {
            a->i++;
            if (!top || (peekc(a) >= 0 && peekc(a) != '|')) return nfail(a, SLM_ERR_UNSUPPORTED, "'$' not at the end");
            ae = 1;
            continue;
        }
        if (first && top && !as) { /* a search: anything before */
            frag s = any_star(a);
            eps(a, cur, s.start);
            cur = s.end;
        }
        first = 0;
        uint32_t s0 = a->n_st;
        size_t e0 = a->n_e;
        frag f;
        if (parse_atom(a, &f) != 0) return -1;
        long m, n;
        int q;
        while ((q = parse_quant(a, &m, &n)) == 1) {
            f = repeat(a, f, s0, e0, m, n);
            if (a->st) return -1;
            /* a repeated repetition repeats the whole thing so far */
        }
        if (q < 0) return -1;
        eps(a, cur, f.start);
        cur = f.end;
    }
    if (top && !ae) {
        frag s = any_star(a);
        eps(a, cur, s.start);
        cur = s.end;
    }
    *out = (frag){start, cur};
    return a->st ? -1 : 0;
}

static int parse_alt(nfa *a, int top, frag *out) {
    frag r = {new_state(a), new_state(a)};
    for (;;) {
        frag b;
        if (parse_seq(a, top, &b) != 0) return -1;
        eps(a, r.start, b.start), eps(a, b.end, r.end);
        if (peekc(a) != '|') break;
        a->i++;
    }
    *out = r;
    return a->st ? -1 : 0;
}

/* ---- subset construction ------------------------------------------------ */

typedef struct subset {
    const nfa *a;
    uint32_t *off; /* edges of state s: sorted[off[s] .. off[s+1]) */
    nedge *sorted;
    uint32_t *cut;
    uint32_t n_cls;
    uint32_t final;
    /* DFA states as sets of NFA states */
    uint32_t *pool;
    size_t n_pool, cap_pool;
    size_t *set_off; /* set k = pool[set_off[k] .. set_off[k+1]) */
    size_t cap_sets;
    uint32_t n_sets;
    uint32_t *hash;
    size_t hash_cap;
    uint32_t *mark, gen;
    uint32_t *stack, *tmp;
    slm_error *err;
} subset;

static int cmp_u32(const void *x, const void *y) {
    uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;
    return (p > q) - (p < q);
}

static int cmp_from(const void *x, const void *y) {
    const nedge *p = x, *q = y;
    return (p->from > q->from) - (p->from < q->from);
}

static uint32_t cls_of(const subset *b, uint32_t cp) {
    uint32_t lo = 0, hi = b->n_cls; /* last cut <= cp */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (b->cut[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return lo;
}

static uint64_t set_hash(const uint32_t *s, size_t n) {
    uint64_t h = 1469598103934665603ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Epsilon closure of tmp[0..n) (marks), sorted, into tmp; returns size. */
static size_t closure(subset *b, size_t n) {
    b->gen++;
    size_t sp = 0, out = 0;
    for (size_t i = 0; i < n; i++)
        if (b->mark[b->tmp[i]] != b->gen) b->mark[b->tmp[i]] = b->gen, b->stack[sp++] = b->tmp[i];
    while (sp) {
        uint32_t s = b->stack[--sp];
        b->tmp[out++] = s;
        for (uint32_t k = b->off[s]; k < b->off[s + 1]; k++) {
            uint32_t t = b->sorted[k].to;
            if (b->sorted[k].eps && b->mark[t] != b->gen) b->mark[t] = b->gen, b->stack[sp++] = t;
        }
    }
    qsort(b->tmp, out, sizeof *b->tmp, cmp_u32);
    return out;
}

static int rehash_sets(subset *b) {
    size_t cap = b->hash_cap ? b->hash_cap * 2 : 1024;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t k = 0; k < b->n_sets; k++) {
        size_t h = set_hash(b->pool + b->set_off[k], b->set_off[k + 1] - b->set_off[k]) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = k + 1;
    }
    free(b->hash);
    b->hash = t;
    b->hash_cap = cap;
    return 0;
}

/* Id of the set tmp[0..n), added if new; -1 on a limit / OOM. */
static int64_t intern(subset *b, size_t n) {
    if ((b->n_sets + 1) * 2 > b->hash_cap && rehash_sets(b) != 0) return -1;
    size_t h = set_hash(b->tmp, n) & (b->hash_cap - 1);
    while (b->hash[h]) {
        uint32_t k = b->hash[h] - 1;
        size_t len = b->set_off[k + 1] - b->set_off[k];
        if (len == n && !memcmp(b->pool + b->set_off[k], b->tmp, n * sizeof *b->tmp)) return k;
        h = (h + 1) & (b->hash_cap - 1);
    }
    if (b->n_sets >= SDFA_MAX_STATES) return -2;
    if (grow_array((void **)&b->pool, &b->cap_pool, b->n_pool + n + 1, sizeof *b->pool) != 0 ||
        grow_array((void **)&b->set_off, &b->cap_sets, b->n_sets + 2, sizeof *b->set_off) != 0)
        return -1;
    memcpy(b->pool + b->n_pool, b->tmp, n * sizeof *b->tmp);
    b->n_pool += n;
    b->set_off[b->n_sets + 1] = b->n_pool;
    b->hash[h] = b->n_sets + 1;
    return b->n_sets++;
}

static int setup(subset *b, const nfa *a, uint32_t final) {
    b->a = a;
    b->final = final;
    uint32_t n = a->n_st;
    b->off = calloc((size_t)n + 1, sizeof *b->off);
    b->sorted = malloc((a->n_e + 1) * sizeof *b->sorted);
    b->mark = calloc(n, sizeof *b->mark);
    b->stack = malloc(((size_t)n + 1) * sizeof *b->stack);
    b->tmp = malloc(((size_t)n + 1) * sizeof *b->tmp);
    b->cut = malloc((2 * a->n_e + 4) * sizeof *b->cut);
    b->set_off = calloc(2, sizeof *b->set_off);
    b->cap_sets = 2;
    if (!b->off || !b->sorted || !b->mark || !b->stack || !b->tmp || !b->cut || !b->set_off) return -1;
    if (a->n_e) memcpy(b->sorted, a->e, a->n_e * sizeof *b->sorted);
    qsort(b->sorted, a->n_e, sizeof *b->sorted, cmp_from);
    for (size_t k = 0; k < a->n_e; k++) b->off[b->sorted[k].from + 1]++;
    for (uint32_t s = 0; s < n; s++) b->off[s + 1] += b->off[s];
    size_t nc = 0;
    b->cut[nc++] = 0;
    b->cut[nc++] = 0xD800;
    b->cut[nc++] = 0xE000;
    for (size_t k = 0; k < a->n_e; k++) {
        if (a->e[k].eps) continue;
        b->cut[nc++] = a->e[k].lo;
        if (a->e[k].hi + 1 < CP_END) b->cut[nc++] = a->e[k].hi + 1;
    }
    qsort(b->cut, nc, sizeof *b->cut, cmp_u32);
    size_t u = 0;
    for (size_t k = 0; k < nc; k++)
        if (!u || b->cut[k] != b->cut[u - 1]) b->cut[u++] = b->cut[k];
    b->n_cls = (uint32_t)u;
    return 0;
}

static void teardown(subset *b) {
    free(b->off), free(b->sorted), free(b->mark), free(b->stack), free(b->tmp);
    free(b->cut), free(b->pool), free(b->set_off), free(b->hash);
}

/* One DFA state's row: for each class, the closure of its targets. The
 * member states' range edges are first turned into class intervals. */
static int build_row(subset *b, uint32_t k, uint32_t *tgt_cls) {
    size_t np = 0;
    for (size_t i = b->set_off[k]; i < b->set_off[k + 1]; i++) {
        uint32_t s = b->pool[i];
        for (uint32_t e = b->off[s]; e < b->off[s + 1]; e++)
            if (!b->sorted[e].eps) np++;
    }
    uint32_t *pc = malloc((np + 1) * 3 * sizeof *pc); /* class lo, class hi, to */
    if (!pc) return -1;
    np = 0;
    for (size_t i = b->set_off[k]; i < b->set_off[k + 1]; i++) {
        uint32_t s = b->pool[i];
        for (uint32_t e = b->off[s]; e < b->off[s + 1]; e++) {
            const nedge *x = &b->sorted[e];
            if (x->eps) continue;
            pc[3 * np] = cls_of(b, x->lo), pc[3 * np + 1] = cls_of(b, x->hi), pc[3 * np + 2] = x->to;
            np++;
        }
    }
    int rc = 0;
    for (uint32_t c = 0; c < b->n_cls && !rc; c++) {
        size_t n = 0;
        b->gen++;
        for (size_t q = 0; q < np; q++) {
            uint32_t t = pc[3 * q + 2];
            if (pc[3 * q] <= c && c <= pc[3 * q + 1] && b->mark[t] != b->gen) b->mark[t] = b->gen, b->tmp[n++] = t;
        }
        n = closure(b, n);
        int64_t id = intern(b, n);
        if (id < 0) rc = (int)id;
        else tgt_cls[c] = (uint32_t)id;
    }
    free(pc);
    return rc;
}

static slm_status determinize(nfa *a, uint32_t start, uint32_t final, sdfa *out, slm_error *err) {
    subset b = {0};
    b.err = err;
    memset(out, 0, sizeof *out);
    slm_status st = SLM_OK;
    size_t cap_next = 0, cap_acc = 0;
    if (setup(&b, a, final) != 0) {
        st = slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
        goto done;
    }
    b.tmp[0] = start;
    if (intern(&b, closure(&b, 1)) < 0) {
        st = slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
        goto done;
    }
    for (uint32_t k = 0; k < b.n_sets; k++) {
        if (grow_array((void **)&out->next, &cap_next, ((size_t)k + 1) * b.n_cls, sizeof *out->next) != 0 ||
            grow_array((void **)&out->acc, &cap_acc, (size_t)k + 1, 1) != 0) {
            st = slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
            goto done;
        }
        int rc = build_row(&b, k, out->next + (size_t)k * b.n_cls);
        if (rc) {
            st = rc == -2 ? slm_error_set(err, SLM_ERR_UNSUPPORTED, "pattern needs more than %d automaton states", SDFA_MAX_STATES)
                          : slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
            goto done;
        }
        out->acc[k] = 0;
        for (size_t i = b.set_off[k]; i < b.set_off[k + 1]; i++) out->acc[k] |= b.pool[i] == final;
    }
    out->n_st = b.n_sets;
    out->n_cls = b.n_cls;
    out->cut = b.cut;
    b.cut = NULL;
done:
    teardown(&b);
    if (st) sdfa_free(out);
    else st = sdfa_minimize(out, err);
    return st;
}

slm_status sdfa_from_regex(const char *re, size_t len, sdfa *out, slm_error *err) {
    nfa a = {.s = re, .n = len, .err = err};
    frag f;
    memset(out, 0, sizeof *out);
    if (parse_alt(&a, 1, &f) == 0 && a.i < a.n) nfail(&a, SLM_ERR_FORMAT, "unmatched ')'");
    slm_status st = a.st ? a.st : determinize(&a, f.start, f.end, out, err);
    free(a.e);
    return st;
}

slm_status sdfa_from_strings(const char *const *s, size_t n, sdfa *out, slm_error *err) {
    nfa a = {.err = err};
    memset(out, 0, sizeof *out);
    uint32_t start = new_state(&a), final = new_state(&a);
    for (size_t k = 0; k < n && !a.st; k++) {
        a.s = s[k], a.n = strlen(s[k]), a.i = 0;
        uint32_t cur = start;
        while (a.i < a.n && !a.st) {
            int64_t cp = next_utf8(&a);
            uint32_t nx = new_state(&a);
            if (cp >= 0) range_edge(&a, cur, nx, (uint32_t)cp, (uint32_t)cp);
            cur = nx;
        }
        eps(&a, cur, final);
    }
    slm_status st = a.st ? a.st : determinize(&a, start, final, out, err);
    free(a.e);
    return st;
}
