/* JSON Schema -> GBNF, per type (objects are in json_schema_object.c):
 * arrays (prefixItems/items with min/max counts, contains with
 * minContains/maxContains, uniqueItems over a finite item set), strings
 * (lengths, pattern, formats; pattern with lengths and negations through
 * the string DFA) and numbers (integer ranges written digit by digit;
 * number ranges with integer bounds, without exponents; other bounds and
 * multipleOf in json_schema_number.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_KEYS 4096
#define MAX_BOUND 1000000000000000000LL /* 1e18: integer bounds beyond are unsupported */

#define rulef js_rulef

/* ---- arrays ---------------------------------------------------------- */

static int get_count(jsg *j, json_t *s, const char *k, long long dflt, long long *out) {
    json_t *v = json_object_get(s, k);
    *out = dflt;
    if (!v) return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d) || d > 1e9) {
        js_fail(j, SLM_ERR_FORMAT, "%s must be a non-negative integer", k);
        return -1;
    }
    *out = (long long)d;
    return 0;
}

/* contains with minContains m / maxContains M over items I: elements are
 * C = allOf[I, contains] or (when M bounds the count) N = allOf[I, not
 * contains]; rules count the C elements. Without M, "at least m" needs
 * no negation: any element may be an I, m of them must be C. */
static unsigned gen_contains(jsg *j, json_t *s, json_t *contains) {
    long long m, M;
    if (get_count(j, s, "minContains", 1, &m) || get_count(j, s, "maxContains", -1, &M)) return 0;
    json_t *items = json_object_get(s, "items");
    if (json_object_get(s, "prefixItems") || json_is_array(items) || json_object_get(s, "minItems") ||
        json_object_get(s, "maxItems"))
        return js_fail(j, SLM_ERR_UNSUPPORTED, "contains together with prefixItems or minItems/maxItems");
    if (M >= 0 && m > M) return 2;
    if (m > 1000 || M > 1000) return js_fail(j, SLM_ERR_UNSUPPORTED, "minContains/maxContains above 1000");
    json_t *rest = js_keep(j, json_copy(s));
    json_object_del(rest, "contains");
    if (m == 0 && M < 0) return js_gen_array(j, rest);
    json_t *item = items ? items : json_true();
    unsigned x = js_gen(j, item), c = js_gen(j, js_keep(j, json_pack("{s:[O,O]}", "allOf", item, contains)));
    if (!x || !c) return 0;
    if (M < 0) {
        unsigned t = rulef(j, "( ws \",\" ws r%u )*", x), st = rulef(j, "r%u r%u | \"\"", x, t);
        for (long long k = 1; k <= m && !j->st; k++) {
            unsigned nt = js_new_id(j);
            char body[160];
            snprintf(body, sizeof body, "ws \",\" ws r%u r%u | ws \",\" ws r%u r%u", x, nt, c, t);
            js_define(j, nt, body);
            st = rulef(j, "r%u r%u | r%u r%u", x, nt, c, t);
            t = nt;
        }
        return rulef(j, "\"[\" ws r%u ws \"]\"", st);
    }
    json_t *nc = js_negate(j, contains);
    unsigned n = nc ? js_gen(j, js_keep(j, json_pack("{s:[O,O]}", "allOf", item, nc))) : 0;
    if (!n) return 0;
    unsigned *t = calloc((size_t)M + 1, sizeof *t);
    if (!t) return js_fail(j, SLM_ERR_NOMEM, "out of memory");
    for (long long k = 0; k <= M; k++) t[k] = js_new_id(j);
    for (long long k = 0; k <= M && !j->st; k++) {
        gstr b = {0};
        gstr_printf(&b, "ws \",\" ws r%u r%u", n, t[k]);
        if (k < M) gstr_printf(&b, " | ws \",\" ws r%u r%u", c, t[k + 1]);
        if (k >= m) gstr_puts(&b, " | \"\"");
        js_define(j, t[k], b.p);
        gstr_free(&b);
    }
    gstr b = {0};
    gstr_printf(&b, "r%u r%u", n, t[0]);
    if (M > 0) gstr_printf(&b, " | r%u r%u", c, t[1]);
    if (m == 0) gstr_puts(&b, " | \"\"");
    unsigned first = j->st ? 0 : js_rule(j, b.p);
    gstr_free(&b);
    free(t);
    return first ? rulef(j, "\"[\" ws r%u ws \"]\"", first) : 0;
}

#define MAX_UNIQUE_VALUES 10

/* The finite value set of an items schema (enum/const, boolean, null),
 * or NULL when it is not one. */
static json_t *finite_values(jsg *j, json_t *items) {
    json_t *d = items ? js_deref(j, items) : NULL;
    if (!d) return NULL;
    json_t *e = json_object_get(d, "enum"), *c = json_object_get(d, "const"), *t = json_object_get(d, "type");
    if (c) return json_pack("[O]", c);
    if (json_is_array(e)) return json_incref(e);
    if (json_is_string(t) && !strcmp(json_string_value(t), "boolean")) return json_pack("[bb]", 1, 0);
    if (json_is_string(t) && !strcmp(json_string_value(t), "null")) return json_pack("[n]");
    return NULL;
}

/* uniqueItems over a finite item set: the state is the set of values
 * used so far (a bitmask), so no value can repeat; the count is the
 * bitmask's size, checked against minItems/maxItems. */
static unsigned gen_unique(jsg *j, json_t *s, long long lo, long long hi) {
    json_t *items = json_object_get(s, "items");
    if (json_object_get(s, "prefixItems") || json_is_array(items) || json_object_get(s, "contains"))
        return js_fail(j, SLM_ERR_UNSUPPORTED, "uniqueItems together with prefixItems or contains");
    json_t *vals = finite_values(j, items);
    if (!vals || json_array_size(vals) > MAX_UNIQUE_VALUES) {
        json_decref(vals);
        return j->st ? 0 : js_fail(j, SLM_ERR_UNSUPPORTED, "uniqueItems (decidable only when items is an enum/const/boolean of at most %d values)", MAX_UNIQUE_VALUES);
    }
    unsigned v[MAX_UNIQUE_VALUES], nv = 0;
    size_t i;
    json_t *x;
    json_array_foreach(vals, i, x) { /* each value as far as items allows it */
        unsigned id = js_gen(j, js_keep(j, json_pack("{s:[O,{s:O}]}", "allOf", items ? items : json_true(), "const", x)));
        if (id && id != 2) v[nv++] = id;
    }
    json_decref(vals);
    if (j->st) return 0;
    unsigned *u = calloc((size_t)1 << nv, sizeof *u);
    if (!u) return js_fail(j, SLM_ERR_NOMEM, "out of memory");
    for (unsigned m = 0; m < (1u << nv); m++) u[m] = js_new_id(j);
    for (unsigned m = 0; m < (1u << nv) && !j->st; m++) {
        int cnt = __builtin_popcount(m), first = 1;
        gstr b = {0};
        if (cnt >= lo && m) gstr_puts(&b, "\"\""), first = 0;
        if (!m && lo <= 0) gstr_puts(&b, "\"\""), first = 0;
        for (unsigned k = 0; k < nv && (hi < 0 || cnt < hi); k++) {
            if (m >> k & 1) continue;
            gstr_printf(&b, "%s%sr%u r%u", first ? "" : " | ", m ? "ws \",\" ws " : "", v[k], u[m | 1u << k]);
            first = 0;
        }
        if (first) gstr_puts(&b, "[^\\x00-\\U0010FFFF]");
        js_define(j, u[m], b.p);
        gstr_free(&b);
    }
    unsigned start = u[0];
    free(u);
    return j->st ? 0 : rulef(j, "\"[\" ws r%u ws \"]\"", start);
}

unsigned js_gen_array(jsg *j, json_t *s) {
    json_t *contains = json_object_get(s, "contains");
    json_t *uniq = json_object_get(s, "uniqueItems");
    if (json_is_true(uniq)) {
        long long ulo, uhi;
        if (get_count(j, s, "minItems", 0, &ulo) || get_count(j, s, "maxItems", -1, &uhi)) return 0;
        if (uhi < 0 || uhi > 1) return gen_unique(j, s, ulo, uhi);
    }
    if (contains) return gen_contains(j, s, contains);
    json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    json_t *rest = items;
    if (!prefix && json_is_array(items)) { /* draft-07 tuple form */
        prefix = items;
        rest = json_object_get(s, "additionalItems");
    }
    if (prefix && !json_is_array(prefix)) return js_fail(j, SLM_ERR_FORMAT, "prefixItems must be an array");
    if (json_object_get(s, "uniqueItems") && json_is_true(json_object_get(s, "uniqueItems"))) {
        /* only reached when maxItems <= 1 (checked as trivial) */
    }
    long long lo, hi;
    if (get_count(j, s, "minItems", 0, &lo) || get_count(j, s, "maxItems", -1, &hi)) return 0;
    long long np = (long long)json_array_size(prefix);
    if (json_is_false(rest) && (hi < 0 || hi > np)) hi = np;
    if (!prefix && !json_object_get(s, "minItems") && hi < 0 && (!rest || json_is_true(rest)))
        return js_rule(j, "jarr");
    if (hi >= 0 && lo > hi) return 2;
    if (hi > 100000 || lo > 100000) return js_fail(j, SLM_ERR_UNSUPPORTED, "minItems/maxItems above 100000");
    unsigned item = json_is_false(rest) ? 2 : rest ? js_gen(j, rest) : 1;
    if (!item) return 0;
    /* tail after the prefix: count in [max(0, lo-np), hi-np] */
    long long tlo = lo > np ? lo - np : 0, thi = hi < 0 ? -1 : hi - np;
    unsigned tail;
    char rep[64];
    if (thi == 0 || (hi >= 0 && np >= hi)) tail = rulef(j, "\"\"");
    else if (np == 0) {
        if (thi < 0 && tlo <= 1) snprintf(rep, sizeof rep, "*");
        else if (thi < 0) snprintf(rep, sizeof rep, "{%lld,}", tlo - 1);
        else snprintf(rep, sizeof rep, "{%lld,%lld}", tlo > 0 ? tlo - 1 : 0, thi - 1);
        tail = tlo > 0 ? rulef(j, "r%u ( ws \",\" ws r%u )%s", item, item, rep)
                       : rulef(j, "( r%u ( ws \",\" ws r%u )%s )?", item, item, rep);
    } else {
        if (thi < 0) snprintf(rep, sizeof rep, "{%lld,}", tlo);
        else snprintf(rep, sizeof rep, "{%lld,%lld}", tlo, thi);
        tail = rulef(j, "( ws \",\" ws r%u )%s", item, rep);
    }
    unsigned next = tail;
    long long last = hi >= 0 && hi < np ? hi : np;
    for (long long k = last; k-- > 0 && !j->st;) {
        unsigned el = js_gen(j, json_array_get(prefix, (size_t)k));
        const char *sep = k ? "ws \",\" ws " : "";
        next = k >= lo ? rulef(j, "%sr%u r%u | \"\"", sep, el, next) : rulef(j, "%sr%u r%u", sep, el, next);
    }
    return rulef(j, "\"[\" ws r%u ws \"]\"", next);
}

/* ---- strings --------------------------------------------------------- */

static const char *format_body(const char *f) {
    static const struct {
        const char *name, *body;
    } formats[] = {
        {"date", "jdate"},
        {"time", "jtime"},
        {"date-time", "jdate [Tt] jtime"},
        {"uuid", "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" "
                 "[0-9a-fA-F]{12}"},
        /* a dot in the domain: RFC 5321 allows a bare host, validators
         * (ajv-formats) do not */
        {"email", "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+ ( \".\" [a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+ )* \"@\" "
                  "[a-zA-Z0-9] ( [a-zA-Z0-9-]* [a-zA-Z0-9] )? ( \".\" [a-zA-Z0-9] ( [a-zA-Z0-9-]* [a-zA-Z0-9] )? )+"},
        {"ipv4", "joct \".\" joct \".\" joct \".\" joct"},
        {"uri", "juri"},
        /* absolute URI, or a relative reference whose first segment has no ':' */
        {"uri-reference", "juriref"},
    };
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(formats[i].name, f)) return formats[i].body;
    return NULL;
}

unsigned js_gen_string(jsg *j, json_t *s) {
    json_t *pat = json_object_get(s, "pattern"), *fmt = json_object_get(s, "format");
    long long lo, hi;
    if (get_count(j, s, "minLength", 0, &lo) || get_count(j, s, "maxLength", -1, &hi)) return 0;
    int has_len = lo > 0 || hi >= 0;
    if (hi >= 0 && lo > hi) return 2;
    /* formats with only a regex form go through the automaton too */
    int fmt_dfa_only = json_is_string(fmt) && !format_body(json_string_value(fmt)) &&
                       js_format_regex_known(json_string_value(fmt));
    if ((pat && has_len) || (fmt && (has_len || pat)) || fmt_dfa_only || json_object_get(s, "$slm_not_string")) {
        sdfa d;
        if (js_string_dfa(j, s, &d)) return 0;
        unsigned id = js_gen_sdfa(j, &d);
        sdfa_free(&d);
        return id;
    }
    if (pat) {
        if (!json_is_string(pat)) return js_fail(j, SLM_ERR_FORMAT, "pattern must be a string");
        if (fmt) return js_fail(j, SLM_ERR_UNSUPPORTED, "pattern together with format");
        gstr b = {0};
        gstr_puts(&b, "\"\\\"\" ");
        slm_status st = regex_to_gbnf_expr(json_string_value(pat), json_string_length(pat), 1, &b, j->err);
        gstr_puts(&b, " \"\\\"\"");
        unsigned id = 0;
        if (st) {
            if (j->st == SLM_OK) {
                j->st = st;
                slm_error_prefix(j->err, "json schema: pattern");
            }
        } else {
            id = js_rule(j, b.p);
        }
        gstr_free(&b);
        return id;
    }
    if (fmt) {
        if (!json_is_string(fmt)) return js_fail(j, SLM_ERR_FORMAT, "format must be a string");
        const char *body = format_body(json_string_value(fmt));
        if (!body) return js_fail(j, SLM_ERR_UNSUPPORTED, "format '%.100s' is not supported", json_string_value(fmt));
        if (has_len) return js_fail(j, SLM_ERR_UNSUPPORTED, "format together with minLength/maxLength");
        gstr b = {0};
        gstr_printf(&b, "\"\\\"\" ( %s ) \"\\\"\"", body);
        unsigned id = js_rule(j, b.p);
        gstr_free(&b);
        return id;
    }
    if (!has_len) return js_rule(j, "jstr");
    if (lo > 100000 || hi > 100000) return js_fail(j, SLM_ERR_UNSUPPORTED, "string lengths above 100000");
    if (hi < 0) return rulef(j, "\"\\\"\" jchar{%lld,} \"\\\"\"", lo);
    return rulef(j, "\"\\\"\" jchar{%lld,%lld} \"\\\"\"", lo, hi);
}

/* ---- numbers --------------------------------------------------------- */

/* Same-length digit strings a <= b: the strings in between. */
static void digits_between(gstr *o, const char *a, const char *b, size_t n) {
    if (n == 0) {
        gstr_puts(o, "\"\"");
        return;
    }
    if (a[0] == b[0]) {
        gstr_printf(o, "\"%c\" ", a[0]);
        digits_between(o, a + 1, b + 1, n - 1);
        return;
    }
    char nines[24], zeros[24];
    memset(nines, '9', n - 1), memset(zeros, '0', n - 1);
    nines[n - 1] = zeros[n - 1] = '\0';
    int lo_d = a[0], hi_d = b[0], first = 1;
    gstr_puts(o, "( ");
    if (strncmp(a + 1, zeros, n - 1) != 0) {
        gstr_printf(o, "\"%c\" ( ", a[0]);
        digits_between(o, a + 1, nines, n - 1);
        gstr_puts(o, " )");
        lo_d++, first = 0;
    }
    if (strncmp(b + 1, nines, n - 1) != 0) {
        gstr_printf(o, "%s\"%c\" ( ", first ? "" : " | ", b[0]);
        digits_between(o, zeros, b + 1, n - 1);
        gstr_puts(o, " )");
        hi_d--, first = 0;
    }
    if (lo_d <= hi_d) {
        gstr_printf(o, "%s[%c-%c]", first ? "" : " | ", lo_d, hi_d);
        if (n > 1) gstr_printf(o, " [0-9]{%zu}", n - 1);
    }
    gstr_puts(o, " )");
}

static long long pow10ll(int e) {
    long long r = 1;
    while (e-- > 0) r *= 10;
    return r;
}

static int ndigits(long long v) {
    int n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

/* Non-negative integers in [lo, hi] (hi < 0: unbounded) without leading
 * zeros; appends alternatives. */
static void urange(gstr *o, long long lo, long long hi) {
    int nl = ndigits(lo), nh = hi < 0 ? nl : ndigits(hi);
    int first = 1;
    gstr_puts(o, "( ");
    for (int L = nl; L <= nh; L++) {
        long long a = L == nl ? lo : pow10ll(L - 1);
        long long b = hi >= 0 && L == nh ? hi : pow10ll(L) - 1;
        if (a > b) continue;
        char sa[24], sb[24];
        snprintf(sa, sizeof sa, "%lld", a);
        snprintf(sb, sizeof sb, "%lld", b);
        gstr_puts(o, first ? "" : " | ");
        digits_between(o, sa, sb, (size_t)L);
        first = 0;
    }
    if (hi < 0) gstr_printf(o, "%s[1-9] [0-9]{%d,}", first ? "" : " | ", nl), first = 0;
    if (first) gstr_puts(o, "[^\\x00-\\U0010FFFF]");
    gstr_puts(o, " )");
}

/* Integers in [lo, hi]; has_lo/has_hi false = unbounded on that side. */
static void int_range(gstr *o, int has_lo, long long lo, int has_hi, long long hi) {
    int first = 1;
    gstr_puts(o, "( ");
    if (!has_lo || lo < 0) { /* negatives: magnitudes in [max(1,-hi), -lo] */
        long long mlo = has_hi && hi < 0 ? -hi : 1;
        gstr_puts(o, "\"-\" ");
        urange(o, mlo, has_lo ? -lo : -1);
        first = 0;
    }
    if (!has_hi || hi >= 0) {
        gstr_puts(o, first ? "" : " | ");
        urange(o, has_lo && lo > 0 ? lo : 0, has_hi ? hi : -1);
        first = 0;
    }
    if (first) gstr_puts(o, "[^\\x00-\\U0010FFFF]");
    gstr_puts(o, " )");
}

typedef struct bound {
    int has;
    double v;
    int excl;
} bound;

static int get_bound(jsg *j, json_t *s, const char *inc, const char *exc, bound *b) {
    json_t *vi = json_object_get(s, inc), *ve = json_object_get(s, exc);
    b->has = 0;
    if (vi && !json_is_number(vi)) return js_fail(j, SLM_ERR_FORMAT, "%s must be a number", inc), -1;
    if (vi) b->has = 1, b->v = json_number_value(vi), b->excl = 0;
    if (json_is_boolean(ve)) { /* draft-04 */
        if (json_is_true(ve) && b->has) b->excl = 1;
    } else if (ve) {
        if (!json_is_number(ve)) return js_fail(j, SLM_ERR_FORMAT, "%s must be a number", exc), -1;
        double d = json_number_value(ve);
        int lower = inc[1] == 'i'; /* minimum */
        if (!b->has || (lower ? d >= b->v : d <= b->v)) b->has = 1, b->v = d, b->excl = 1;
    }
    if (b->has && fabs(b->v) > (double)MAX_BOUND)
        return js_fail(j, SLM_ERR_UNSUPPORTED, "%s beyond 1e18", inc), -1;
    return 0;
}

/* Non-negative decimals in a range with integer bounds, no exponent:
 * integer part, optional fraction. */
static void pos_decimal(gstr *o, long long lo, int lo_excl, int has_hi, long long hi, int hi_excl) {
    int first = 1;
    gstr_puts(o, "( ");
    if (lo_excl && (!has_hi || lo < hi)) {
        gstr_printf(o, "\"%lld\" \".\" \"0\"* [1-9] [0-9]*", lo);
        first = 0;
    }
    long long start = lo_excl ? lo + 1 : lo;
    if (!has_hi || start <= hi - 1) {
        gstr_puts(o, first ? "" : " | ");
        urange(o, start, has_hi ? hi - 1 : -1);
        gstr_puts(o, " ( \".\" [0-9]+ )?");
        first = 0;
    }
    if (has_hi && !hi_excl && hi >= start) {
        gstr_printf(o, "%s\"%lld\" ( \".\" \"0\"{1,8} )?", first ? "" : " | ", hi);
        first = 0;
    }
    if (first) gstr_puts(o, "[^\\x00-\\U0010FFFF]");
    gstr_puts(o, " )");
}

static unsigned gen_decimal_range(jsg *j, bound lo, bound hi) {
    if ((lo.has && lo.v != floor(lo.v)) || (hi.has && hi.v != floor(hi.v)))
        return js_fail(j, SLM_ERR_UNSUPPORTED, "number bounds that are not integers");
    gstr b = {0};
    int first = 1;
    long long L = (long long)lo.v, H = (long long)hi.v;
    if (!lo.has || L < 0) { /* negative values v: |v| in (max(0,-H) or [-H..), -L] */
        int has_mhi = lo.has;
        long long mlo = hi.has && H < 0 ? -H : 0;
        int mlo_excl = hi.has && H < 0 ? hi.excl : 1;
        gstr_puts(&b, "\"-\" ");
        pos_decimal(&b, mlo, mlo_excl, has_mhi, lo.has ? -L : 0, lo.excl);
        first = 0;
    }
    if (!hi.has || H > 0 || (H == 0 && !hi.excl)) {
        gstr_puts(&b, first ? "" : " | ");
        pos_decimal(&b, lo.has && L > 0 ? L : 0, lo.has && L >= 0 ? lo.excl : 0, hi.has, H, hi.excl);
    }
    unsigned id = js_rule(j, b.p);
    gstr_free(&b);
    return id;
}

unsigned js_gen_number(jsg *j, json_t *s, int integer) {
    bound lo = {0}, hi = {0}; /* get_bound may fail before filling both */
    if (get_bound(j, s, "minimum", "exclusiveMinimum", &lo) || get_bound(j, s, "maximum", "exclusiveMaximum", &hi))
        return 0;
    json_t *mult = json_object_get(s, "multipleOf");
    if (json_object_get(s, "$slm_not_numbers") || json_object_get(s, "$slm_fraction") ||
        json_object_get(s, "$slm_not_multipleOf")) /* from `not` */
        return js_gen_number_dfa(j, s, integer);
    if (mult) {
        double m = json_number_value(mult);
        if (!json_is_number(mult) || m <= 0) return js_fail(j, SLM_ERR_FORMAT, "multipleOf must be positive");
        if (!(integer && m == 1.0)) return js_gen_number_dfa(j, s, integer);
    }
    if (!integer && ((lo.has && lo.v != floor(lo.v)) || (hi.has && hi.v != floor(hi.v))))
        return js_gen_number_dfa(j, s, 0);
    if (!integer) return lo.has || hi.has ? gen_decimal_range(j, lo, hi) : js_rule(j, "jnum");
    if (!lo.has && !hi.has) return js_rule(j, "jint");
    long long L = 0, H = 0;
    if (lo.has) L = (long long)(lo.excl ? floor(lo.v) + 1 : ceil(lo.v));
    if (hi.has) H = (long long)(hi.excl ? ceil(hi.v) - 1 : floor(hi.v));
    if (lo.has && hi.has && L > H) return 2;
    gstr b = {0};
    int_range(&b, lo.has, L, hi.has, H);
    gstr_puts(&b, " ( \".\" \"0\"{1,8} )?");
    unsigned id = js_rule(j, b.p);
    gstr_free(&b);
    return id;
}
