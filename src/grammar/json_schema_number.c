/* Numbers with non-integer bounds or multipleOf, exactly, as regular
 * languages over the decimal spelling (no exponent, like every ranged
 * number here): each bound is written as its shortest decimal, "x >= b"
 * etc. become regexes over the digits (integer part longer / equal with a
 * larger digit / equal and the fraction compared digit by digit), and
 * multipleOf p/10^q becomes a remainder automaton: the digits of x*10^q
 * taken mod p, at most q fraction digits that count, zeros after them.
 * The pieces are string DFAs (json_schema_dfa.c) intersected and written
 * out without quotes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_MULT_STATES 20000

typedef struct dec {
    int neg;
    char i[32]; /* integer digits, no leading zeros ("0" for zero) */
    char f[32]; /* fraction digits, no trailing zeros (may be empty) */
} dec;

/* The shortest decimal that reads back as x; -1 beyond 1e21 / tiny. */
static int to_dec(double x, dec *d) {
    char e[64];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    snprintf(e, sizeof e, "%.*e", p - 1, x);
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    if (exp >= 21 || exp < -20) return -1;
    char dg[40];
    size_t nd = 0;
    for (char *q = e; q < ep; q++)
        if (*q >= '0' && *q <= '9') dg[nd++] = *q;
    memset(d, 0, sizeof *d);
    d->neg = x < 0;
    size_t ni = 0, nf = 0;
    if (exp < 0) {
        d->i[ni++] = '0';
        for (int k = -1; k > exp; k--) d->f[nf++] = '0';
        for (size_t k = 0; k < nd; k++) d->f[nf++] = dg[k];
    } else {
        for (int k = 0; k <= exp; k++) d->i[ni++] = (size_t)k < nd ? dg[k] : '0';
        for (size_t k = (size_t)exp + 1; k < nd; k++) d->f[nf++] = dg[k];
    }
    while (nf && d->f[nf - 1] == '0') d->f[--nf] = 0;
    if (x == 0) d->neg = 0;
    return 0;
}

/* ---- regexes over the magnitude -------------------------------------- */

enum { GT, GE, LT, LE };

/* Integers (no leading zeros) greater / less than the digit string I. */
static void int_cmp(gstr *o, const char *I, int greater) {
    size_t n = strlen(I);
    int first = 1;
    gstr_puts(o, "(?:");
    if (greater) {
        gstr_printf(o, "[1-9][0-9]{%zu,}", n), first = 0;
    } else if (n > 1) {
        gstr_printf(o, "0|[1-9][0-9]{0,%zu}", n - 2), first = 0;
    }
    for (size_t p = 0; p < n; p++) {
        int d = I[p] - '0';
        int lo = greater ? d + 1 : (p == 0 && n > 1 ? 1 : 0), hi = greater ? 9 : d - 1;
        if (lo > hi) continue;
        gstr_printf(o, "%s%.*s[%d-%d][0-9]{%zu}", first ? "" : "|", (int)p, I, lo, hi, n - 1 - p);
        first = 0;
    }
    if (first) gstr_puts(o, "[^\\s\\S]");
    gstr_puts(o, ")");
}

/* The optional fraction ("." digits) compared with 0.F. */
static void frac_cmp(gstr *o, const char *F, int rel) {
    size_t n = strlen(F);
    int less = rel == LT || rel == LE;
    if (n == 0) {
        if (rel == GE) gstr_puts(o, "(?:\\.[0-9]+)?");
        else if (rel == GT) gstr_puts(o, "\\.[0-9]*[1-9][0-9]*");
        else if (rel == LE) gstr_puts(o, "(?:\\.0+)?");
        else gstr_puts(o, "[^\\s\\S]");
        return;
    }
    /* EQ_k: the first k digits equal F's; closing parens at the end */
    gstr_puts(o, less ? "(?:\\.(?:" : "\\.(?:");
    for (size_t k = 0; k < n; k++) {
        int d = F[k] - '0';
        if (k) gstr_puts(o, less ? "|" : ""); /* less: ending here (shorter, so smaller) */
        if (less && d > 0) gstr_printf(o, "[0-%d][0-9]*|", d - 1);
        if (!less && d < 9) gstr_printf(o, "[%d-9][0-9]*|", d + 1);
        gstr_printf(o, "%c(?:", F[k]);
    }
    if (rel == GE) gstr_puts(o, "[0-9]*");
    else if (rel == GT) gstr_puts(o, "[0-9]*[1-9][0-9]*");
    else if (rel == LE) gstr_puts(o, "0*");
    else gstr_puts(o, "[^\\s\\S]");
    for (size_t k = 0; k <= n; k++) gstr_puts(o, ")");
    if (less) gstr_puts(o, ")?");
    /* the "less" branch: no fraction at all is 0 < 0.F */
}

/* Magnitudes m (no sign) with m rel b. */
static void mag_cmp(gstr *o, const dec *b, int rel) {
    int greater = rel == GT || rel == GE;
    gstr_puts(o, "(?:");
    int_cmp(o, b->i, greater);
    gstr_puts(o, "(?:\\.[0-9]+)?|");
    gstr_puts(o, b->i);
    frac_cmp(o, b->f, rel);
    gstr_puts(o, ")");
}

static int dfa_of(jsg *j, gstr *re, sdfa *out) {
    if (re->oom) return js_fail(j, SLM_ERR_NOMEM, "out of memory"), -1;
    slm_status st = sdfa_from_regex(re->p, re->len, out, j->err);
    if (st && !j->st) j->st = st, slm_error_prefix(j->err, "json schema: number range");
    return st ? -1 : 0;
}

typedef struct nbound {
    int has, excl;
    dec d;
} nbound;

/* part &= the spellings "<sign>m" with m rel b. */
static int constrain(jsg *j, sdfa *part, const char *sign, const dec *b, int rel) {
    gstr re = {0};
    gstr_printf(&re, "^%s", sign);
    mag_cmp(&re, b, rel);
    gstr_puts(&re, "$");
    sdfa t, r;
    int rc = dfa_of(j, &re, &t);
    gstr_free(&re);
    if (rc) return -1;
    slm_status st = sdfa_product(part, &t, SDFA_AND, &r, j->err);
    sdfa_free(&t);
    if (st) {
        if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema");
        return -1;
    }
    sdfa_free(part);
    *part = r;
    return 0;
}

/* Spellings of the numbers in [lo, hi]: non-negative ones without a sign
 * (m compared with the bound), negative ones as "-m" with m > 0 (-0 is
 * written 0) and the comparisons turned around. */
static int range_dfa(jsg *j, const nbound *lo, const nbound *hi, int integer, sdfa *out) {
    const char *mag = integer ? "(?:0|[1-9][0-9]*)(?:\\.0+)?" : "(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?";
    gstr re = {0};
    sdfa pos, neg;
    memset(&neg, 0, sizeof neg);
    gstr_printf(&re, "^%s$", mag);
    int rc = dfa_of(j, &re, &pos);
    re.len = 0;
    gstr_printf(&re, "^-%s$", mag);
    rc = rc ? rc : dfa_of(j, &re, &neg);
    gstr_free(&re);
    int pos_ok = 1, neg_ok = 1;
    dec zero = {.i = "0"};
    if (!rc && lo->has && !lo->d.neg) rc = constrain(j, &pos, "", &lo->d, lo->excl ? GT : GE);
    if (!rc && hi->has && hi->d.neg) pos_ok = 0;
    else if (!rc && hi->has) rc = constrain(j, &pos, "", &hi->d, hi->excl ? LT : LE);
    if (!rc) rc = constrain(j, &neg, "-", &zero, GT);
    if (!rc && lo->has && !lo->d.neg) neg_ok = 0;
    else if (!rc && lo->has) rc = constrain(j, &neg, "-", &lo->d, lo->excl ? LT : LE);
    if (!rc && hi->has && hi->d.neg) rc = constrain(j, &neg, "-", &hi->d, hi->excl ? GT : GE);
    if (!rc) {
        slm_status st;
        if (pos_ok && neg_ok) st = sdfa_product(&pos, &neg, SDFA_OR, out, j->err);
        else if (pos_ok || neg_ok) st = sdfa_product(pos_ok ? &pos : &neg, pos_ok ? &pos : &neg, SDFA_AND, out, j->err);
        else st = sdfa_product(&pos, &neg, SDFA_AND, out, j->err); /* disjoint: empty */
        if (st && !j->st) j->st = st, slm_error_prefix(j->err, "json schema");
        rc = st ? -1 : 0;
    }
    sdfa_free(&pos), sdfa_free(&neg);
    return rc;
}

/* ---- multipleOf ------------------------------------------------------- */

/* x is a multiple of p / 10^q: the digits of x*10^q mod p. States:
 * 0 start, 1 after '-', INT(r) in the integer part, FR(r, k) after k
 * fraction digits (k = q: only zeros may follow), and a dead state.
 * Accepting where the remainder, padded with the missing fraction
 * zeros, is 0. The range DFA it is intersected with checks the syntax.
 * Classes: other, '-', other, '.', other, '0'..'9', other. */
static int mult_dfa(jsg *j, long long p, int q, sdfa *out) {
    memset(out, 0, sizeof *out);
    size_t n = 2 + (size_t)p + (size_t)p * ((size_t)q + 1) + 1;
    if (n > MAX_MULT_STATES) return js_fail(j, SLM_ERR_UNSUPPORTED, "multipleOf needs more than %d states", MAX_MULT_STATES), -1;
    static const uint32_t cut[] = {0, '-', '-' + 1, '.', '.' + 1, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '9' + 1, 0xD800, 0xE000};
    const size_t nc = sizeof cut / sizeof *cut, D0 = 5; /* class of '0' */
    out->cut = malloc(sizeof cut);
    out->next = malloc(n * nc * sizeof *out->next);
    out->acc = calloc(n, 1);
    if (!out->cut || !out->next || !out->acc) {
        sdfa_free(out);
        return js_fail(j, SLM_ERR_NOMEM, "out of memory"), -1;
    }
    memcpy(out->cut, cut, sizeof cut);
    out->n_cls = (uint32_t)nc, out->n_st = (uint32_t)n;
    uint32_t dead = (uint32_t)n - 1;
#define INT(r) (uint32_t)(2 + (size_t)(r))
#define FR(r, k) (uint32_t)(2 + (size_t)p + (size_t)(r) * ((size_t)q + 1) + (size_t)(k))
    for (size_t x = 0; x < n * nc; x++) out->next[x] = dead;
    out->next[0 * nc + 1] = 1;
    for (size_t c = 0; c < 10; c++) {
        out->next[0 * nc + D0 + c] = INT((long long)c % p);
        out->next[1 * nc + D0 + c] = INT((long long)c % p);
    }
    for (long long r = 0; r < p; r++) {
        long long pad = r; /* r * 10^(q - k) mod p, k counting down */
        for (int z = 0; z < q; z++) pad = pad * 10 % p;
        out->acc[INT(r)] = pad == 0;
        out->next[(size_t)INT(r) * nc + 3] = FR(r, 0);
        for (size_t c = 0; c < 10; c++) out->next[(size_t)INT(r) * nc + D0 + c] = INT((r * 10 + (long long)c) % p);
        for (int k = 0; k <= q; k++) {
            long long pk = r;
            for (int z = k; z < q; z++) pk = pk * 10 % p;
            out->acc[FR(r, k)] = pk == 0;
            if (k == q) out->next[(size_t)FR(r, k) * nc + D0] = FR(r, k);
            else
                for (size_t c = 0; c < 10; c++) out->next[(size_t)FR(r, k) * nc + D0 + c] = FR((r * 10 + (long long)c) % p, k + 1);
        }
    }
#undef INT
#undef FR
    slm_status st = sdfa_minimize(out, j->err);
    if (st) sdfa_free(out), js_fail(j, st, "out of memory");
    return st ? -1 : 0;
}

/* p / 10^q = m exactly (shortest decimal), or -1. */
static int mult_parts(double m, long long *p, int *q) {
    dec d;
    if (to_dec(m, &d) || d.neg || strlen(d.i) + strlen(d.f) > 15) return -1;
    char all[64];
    snprintf(all, sizeof all, "%s%s", d.i, d.f);
    *p = atoll(all);
    *q = (int)strlen(d.f);
    return *p > 0 ? 0 : -1;
}

static int get_nbound(jsg *j, json_t *s, const char *inc, const char *exc, int lower, nbound *b) {
    json_t *vi = json_object_get(s, inc), *ve = json_object_get(s, exc);
    memset(b, 0, sizeof *b);
    double v = 0;
    if (vi) {
        if (!json_is_number(vi)) return js_fail(j, SLM_ERR_FORMAT, "%s must be a number", inc), -1;
        b->has = 1, v = json_number_value(vi);
    }
    if (json_is_true(ve) && b->has) b->excl = 1; /* draft-04 */
    else if (ve && !json_is_boolean(ve)) {
        if (!json_is_number(ve)) return js_fail(j, SLM_ERR_FORMAT, "%s must be a number", exc), -1;
        double e = json_number_value(ve);
        if (!b->has || (lower ? e >= v : e <= v)) b->has = 1, b->excl = 1, v = e;
    }
    if (b->has && to_dec(v, &b->d)) return js_fail(j, SLM_ERR_UNSUPPORTED, "%s %g is too large or too small", inc, v), -1;
    return 0;
}

/* d minus the spellings of the given numbers (from `not` of an enum):
 * the value's shortest decimal with any trailing zeros. d is freed on
 * error. */
static int exclude_values(jsg *j, json_t *vals, sdfa *d) {
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        dec x;
        if (to_dec(json_number_value(v), &x)) {
            sdfa_free(d);
            return js_fail(j, SLM_ERR_UNSUPPORTED, "'not' of the number %g", json_number_value(v)), -1;
        }
        gstr re = {0};
        gstr_printf(&re, "^%s%s%s%s%s$", x.neg ? "-" : "", x.i, x.f[0] ? "\\." : "", x.f, x.f[0] ? "0*" : "(?:\\.0+)?");
        sdfa t, r;
        if (dfa_of(j, &re, &t)) {
            gstr_free(&re), sdfa_free(d);
            return -1;
        }
        gstr_free(&re);
        slm_status st = sdfa_product(d, &t, SDFA_AND_NOT, &r, j->err);
        sdfa_free(&t), sdfa_free(d);
        if (st) {
            if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema");
            return -1;
        }
        *d = r;
    }
    return 0;
}

/* d &= the multiples of s[key] (negate: the non-multiples). d is freed on
 * error. */
static int with_multiple(jsg *j, json_t *s, const char *key, int negate, sdfa *d) {
    json_t *mult = json_object_get(s, key);
    if (!mult) return 0;
    long long p;
    int q;
    if (!json_is_number(mult) || json_number_value(mult) <= 0) {
        sdfa_free(d);
        return js_fail(j, SLM_ERR_FORMAT, "multipleOf must be positive"), -1;
    }
    if (mult_parts(json_number_value(mult), &p, &q)) {
        sdfa_free(d);
        return js_fail(j, SLM_ERR_UNSUPPORTED, "multipleOf %g (more than 15 significant digits)", json_number_value(mult)), -1;
    }
    sdfa m, r;
    if (mult_dfa(j, p, q, &m)) return sdfa_free(d), -1;
    slm_status st = sdfa_product(d, &m, negate ? SDFA_AND_NOT : SDFA_AND, &r, j->err);
    sdfa_free(d), sdfa_free(&m);
    if (st) {
        if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema: multipleOf");
        return -1;
    }
    *d = r;
    return 0;
}

unsigned js_gen_number_dfa(jsg *j, json_t *s, int integer) {
    nbound lo, hi;
    if (get_nbound(j, s, "minimum", "exclusiveMinimum", 1, &lo) || get_nbound(j, s, "maximum", "exclusiveMaximum", 0, &hi))
        return 0;
    sdfa d;
    if (range_dfa(j, &lo, &hi, integer, &d)) return 0;
    if (json_is_true(json_object_get(s, "$slm_fraction"))) { /* not an integer */
        gstr re = {0};
        gstr_puts(&re, "^-?[0-9]+\\.[0-9]*[1-9][0-9]*$");
        sdfa t, r;
        int rc = dfa_of(j, &re, &t);
        gstr_free(&re);
        if (rc) return sdfa_free(&d), 0;
        slm_status st = sdfa_product(&d, &t, SDFA_AND, &r, j->err);
        sdfa_free(&t), sdfa_free(&d);
        if (st) return js_fail(j, st, "number range too complex");
        d = r;
    }
    if (with_multiple(j, s, "multipleOf", 0, &d) || with_multiple(j, s, "$slm_not_multipleOf", 1, &d)) return 0;
    if (exclude_values(j, json_object_get(s, "$slm_not_numbers"), &d)) return 0;
    unsigned id = js_gen_sdfa_raw(j, &d);
    sdfa_free(&d);
    return id;
}
