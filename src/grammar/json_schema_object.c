/* JSON Schema -> GBNF for objects: properties in schema order, required
 * and optional properties, additionalProperties, patternProperties,
 * propertyNames and minProperties/maxProperties.
 *
 * Layout: with properties p0..pn-1 two rule chains are built backwards:
 * first_i (nothing written yet, no leading comma) and next_i[c] (c
 * properties written so far, each further one is ", kv"), ending in the
 * tail where additional properties may follow. c counts up to
 * maxProperties (or saturates at minProperties), so the property count
 * is enforced exactly; without those keywords there is one count.
 *
 * Keys outside the listed names: with no patterns and no propertyNames a
 * byte trie of the listed keys gives "any other string". Otherwise the
 * key languages are string DFAs: for each subset T of the patterns, the
 * keys matching exactly the patterns in T (and propertyNames, and none of
 * the listed names) take the value schema allOf(T's schemas), or
 * additionalProperties when T is empty. A listed property whose name
 * matches patterns gets its schema and theirs. */
#include <stdio.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_KEYS 4096
#define MAX_PATTERNS 4
#define MAX_COUNT_RULES 200000
#define rulef js_rulef

/* ---- keys ------------------------------------------------------------ */

static int needs_escape(const char *k) {
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\') return 1;
    return 0;
}

/* One trie level of "any string but these keys": keys[0..n) share the
 * first `depth` bytes. Byte-level trie; a multi-byte character splits over
 * levels, so the "other" class works on bytes via GBNF hex escapes only
 * for ASCII and falls back to: a non-ASCII byte that no key continues with
 * starts a different character (UTF-8 lead bytes differ or continuation
 * bytes differ; both make a different string). */
static unsigned key_level(jsg *j, const char *const *keys, size_t n, size_t depth) {
    gstr body = {0}, other = {0};
    int is_end = 0;
    unsigned char seen[256] = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)keys[i][depth];
        if (!c) is_end = 1;
        else seen[c] = 1;
    }
    int first = 1;
    if (!is_end) {
        gstr_puts(&body, "\"\\\"\"");
        first = 0;
    }
    /* children: one alternative per distinct next byte */
    for (int c = 1; c < 256 && !j->st; c++) {
        if (!seen[c]) continue;
        const char **sub = malloc(n * sizeof *sub);
        size_t m = 0;
        if (!sub) return js_fail(j, SLM_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)keys[i][depth] == c) sub[m++] = keys[i];
        unsigned child = key_level(j, sub, m, depth + 1);
        free(sub);
        gstr_printf(&body, "%s\"\\x%02X\" r%u", first ? "" : " | ", (unsigned)c, child);
        if (c >= 0x80) gstr_free(&body), js_fail(j, SLM_ERR_UNSUPPORTED, "non-ASCII property names with additionalProperties");
        first = 0;
    }
    /* any other character, then anything */
    gstr_puts(&other, "[^\"\\\\\\x00-\\x1F");
    for (int c = 0x20; c < 0x80; c++)
        if (seen[c]) gstr_printf(&other, "\\x%02X", (unsigned)c);
    gstr_puts(&other, "]");
    gstr_printf(&body, "%s%s jchar* \"\\\"\" | jesc jchar* \"\\\"\"", first ? "" : " | ", other.p);
    gstr_free(&other);
    unsigned id = j->st ? 0 : js_rule(j, body.p);
    gstr_free(&body);
    return id;
}

unsigned js_gen_key_except(jsg *j, const char *const *keys, size_t n) {
    if (n == 0) return js_rule(j, "jstr");
    for (size_t i = 0; i < n; i++)
        if (needs_escape(keys[i]))
            return js_fail(j, SLM_ERR_UNSUPPORTED, "property names needing escapes with additionalProperties");
    unsigned rest = key_level(j, keys, n, 0);
    return rest ? rulef(j, "\"\\\"\" r%u", rest) : 0;
}

/* ---- objects --------------------------------------------------------- */

typedef struct prop {
    const char *key;
    unsigned val;
    int required;
} prop;

static int in_required(json_t *req, const char *k) {
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), k)) return 1;
    return 0;
}

static unsigned key_value_rule(jsg *j, const char *key, unsigned val) {
    gstr b = {0};
    json_t *ks = json_string(key);
    if (!ks) return js_fail(j, SLM_ERR_FORMAT, "property name is not UTF-8");
    js_put_literal(j, &b, ks);
    json_decref(ks);
    gstr_printf(&b, " ws \":\" ws r%u", val);
    unsigned id = js_rule(j, b.p);
    gstr_free(&b);
    return id;
}

typedef struct counts {
    long long lo, hi, top; /* minProperties, maxProperties (-1: none), last count state */
} counts;

/* The count after one more property, or -1 when that exceeds the max. */
static long long inc(const counts *k, long long c) {
    if (c < k->top) return c + 1;
    return k->hi < 0 ? k->top : -1;
}

static void alt(gstr *b, int *first, const char *fmt, unsigned x, unsigned y) {
    gstr_puts(b, *first ? "" : " | ");
    gstr_printf(b, fmt, x, y);
    *first = 0;
}

static unsigned finish(jsg *j, gstr *b, int first, unsigned id) {
    if (first) gstr_puts(b, "[^\\x00-\\U0010FFFF]");
    if (b->oom) js_fail(j, SLM_ERR_NOMEM, "out of memory");
    else if (id) js_define(j, id, b->p);
    else id = js_rule(j, b->p);
    gstr_free(b);
    return j->st ? 0 : id;
}

static unsigned object_chain(jsg *j, prop *p, size_t n, unsigned extra, const counts *k) {
    size_t nc = (size_t)k->top + 1;
    unsigned *next = calloc(nc, sizeof *next), *nn = calloc(nc, sizeof *nn), first = 0;
    if (!next || !nn) {
        free(next), free(nn);
        return js_fail(j, SLM_ERR_NOMEM, "out of memory");
    }
    for (size_t c = 0; c < nc; c++) next[c] = js_new_id(j);
    for (size_t c = 0; c < nc && !j->st; c++) { /* the tail: c written */
        gstr b = {0};
        int f = 1;
        long long t = inc(k, (long long)c);
        if (extra && t >= 0) alt(&b, &f, "ws \",\" ws r%u r%u", extra, next[t]);
        if ((long long)c >= k->lo) gstr_puts(&b, f ? "\"\"" : " | \"\""), f = 0;
        finish(j, &b, f, next[c]);
    }
    {
        gstr b = {0};
        int f = 1;
        long long t = inc(k, 0);
        if (extra && t >= 0) alt(&b, &f, "r%u r%u", extra, next[t]);
        if (k->lo <= 0) gstr_puts(&b, f ? "\"\"" : " | \"\""), f = 0;
        first = finish(j, &b, f, 0);
    }
    for (size_t i = n; i-- > 0 && !j->st;) {
        unsigned kv = key_value_rule(j, p[i].key, p[i].val);
        for (size_t c = 0; c < nc && !j->st; c++) {
            gstr b = {0};
            int f = 1;
            long long t = inc(k, (long long)c);
            if (t >= 0) alt(&b, &f, "ws \",\" ws r%u r%u", kv, next[t]);
            if (!p[i].required) alt(&b, &f, "r%u%.0u", next[c], 0);
            nn[c] = finish(j, &b, f, 0);
        }
        gstr b = {0};
        int f = 1;
        long long t = inc(k, 0);
        if (t >= 0) alt(&b, &f, "r%u r%u", kv, next[t]);
        if (!p[i].required) alt(&b, &f, "r%u%.0u", first, 0);
        first = finish(j, &b, f, 0);
        unsigned *sw = next;
        next = nn, nn = sw;
    }
    free(next), free(nn);
    return j->st ? 0 : rulef(j, "\"{\" ws r%u ws \"}\"", first);
}

/* ---- property name languages ------------------------------------------ */

typedef struct keyset {
    sdfa pat[MAX_PATTERNS];
    json_t *pat_schema[MAX_PATTERNS];
    size_t n_pat;
    sdfa names;
    int has_names;
} keyset;

static void keyset_free(keyset *ks) {
    for (size_t i = 0; i < ks->n_pat; i++) sdfa_free(&ks->pat[i]);
    sdfa_free(&ks->names);
}

static int keyset_init(jsg *j, json_t *pats, json_t *names, keyset *ks) {
    memset(ks, 0, sizeof *ks);
    if (pats && !json_is_object(pats)) return js_fail(j, SLM_ERR_FORMAT, "patternProperties must be an object"), -1;
    if (json_object_size(pats) > MAX_PATTERNS)
        return js_fail(j, SLM_ERR_UNSUPPORTED, "patternProperties with more than %d patterns", MAX_PATTERNS), -1;
    const char *k;
    json_t *v;
    json_object_foreach(pats, k, v) {
        slm_status st = sdfa_from_regex(k, strlen(k), &ks->pat[ks->n_pat], j->err);
        if (st) {
            if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema: patternProperties");
            return -1;
        }
        ks->pat_schema[ks->n_pat++] = v;
    }
    int trivial = !names || json_is_true(names) || (json_is_object(names) && json_object_size(names) == 0);
    if (!trivial) {
        if (js_string_dfa(j, names, &ks->names)) return -1;
        ks->has_names = 1;
    }
    return 0;
}

static int name_allowed(const keyset *ks, const char *k) {
    return !ks->has_names || sdfa_match(&ks->names, k, strlen(k));
}

/* allOf(base, schemas of the patterns k matches); base NULL: only those,
 * or NULL when none match. */
static json_t *with_patterns(jsg *j, const keyset *ks, const char *k, json_t *base) {
    json_t *all = json_array();
    if (base) json_array_append(all, base);
    for (size_t i = 0; i < ks->n_pat; i++)
        if (sdfa_match(&ks->pat[i], k, strlen(k))) json_array_append(all, ks->pat_schema[i]);
    size_t n = json_array_size(all);
    if (n <= 1) {
        json_t *r = n ? json_array_get(all, 0) : NULL;
        json_decref(all);
        return r;
    }
    return js_keep(j, json_pack("{s:o}", "allOf", all));
}

/* Extra keys as a union over pattern subsets (see the file comment). */
static unsigned extra_by_dfa(jsg *j, const keyset *ks, const char *const *keys, size_t nk, unsigned extra_val, int open) {
    sdfa listed, base;
    slm_status st = sdfa_from_strings(keys, nk, &listed, j->err);
    if (!st) st = sdfa_length(ks->has_names ? &ks->names : NULL, 0, -1, &base, j->err);
    if (st) {
        sdfa_free(&listed);
        if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema");
        return 0;
    }
    gstr b = {0};
    int first = 1;
    for (unsigned t = 0; t < (1u << ks->n_pat) && !j->st; t++) {
        if (!t && !open) continue;
        sdfa cur;
        st = sdfa_product(&base, &listed, SDFA_AND_NOT, &cur, j->err);
        json_t *all = json_array();
        for (size_t i = 0; i < ks->n_pat && !st; i++) {
            sdfa nx;
            st = sdfa_product(&cur, &ks->pat[i], t >> i & 1 ? SDFA_AND : SDFA_AND_NOT, &nx, j->err);
            sdfa_free(&cur);
            cur = nx;
            if (t >> i & 1) json_array_append(all, ks->pat_schema[i]);
        }
        if (st) {
            json_decref(all);
            if (!j->st) j->st = st, slm_error_prefix(j->err, "json schema: patternProperties");
            break;
        }
        if (!sdfa_is_empty(&cur)) {
            unsigned key = js_gen_sdfa(j, &cur);
            size_t na = json_array_size(all);
            unsigned val = !t ? extra_val : na == 1 ? js_gen(j, json_array_get(all, 0))
                                                    : js_gen(j, js_keep(j, json_pack("{s:O}", "allOf", all)));
            if (key && val) alt(&b, &first, "r%u ws \":\" ws r%u", key, val);
        }
        json_decref(all);
        sdfa_free(&cur);
    }
    sdfa_free(&listed), sdfa_free(&base);
    if (j->st || first) {
        gstr_free(&b);
        return 0;
    }
    return finish(j, &b, first, 0);
}

static int get_count(jsg *j, json_t *s, const char *k, long long dflt, long long *out) {
    json_t *v = json_object_get(s, k);
    *out = dflt;
    if (!v) return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != (double)(long long)d || d > 1e9)
        return js_fail(j, SLM_ERR_FORMAT, "%s must be a non-negative integer", k), -1;
    *out = (long long)d;
    return 0;
}

static int read_counts(jsg *j, json_t *s, size_t n_rules, counts *k) {
    if (get_count(j, s, "minProperties", 0, &k->lo) || get_count(j, s, "maxProperties", -1, &k->hi)) return -1;
    k->top = k->hi >= 0 ? k->hi : k->lo;
    if (k->top > 10000 || (double)(k->top + 1) * (double)(n_rules + 2) > MAX_COUNT_RULES)
        return js_fail(j, SLM_ERR_UNSUPPORTED, "minProperties/maxProperties too large for %zu properties", n_rules), -1;
    return 0;
}

unsigned js_gen_object(jsg *j, json_t *s) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties"), *pats = json_object_get(s, "patternProperties");
    json_t *names = json_object_get(s, "propertyNames");
    if ((props && !json_is_object(props)) || (req && !json_is_array(req)))
        return js_fail(j, SLM_ERR_FORMAT, "properties must be an object and required an array");
    size_t np = json_object_size(props), nr = json_array_size(req);
    counts cnt;
    if (read_counts(j, s, np + nr, &cnt)) return 0;
    if (np == 0 && nr == 0 && (!addl || json_is_true(addl)) && !json_object_size(pats) && !names && cnt.lo == 0 && cnt.hi < 0)
        return js_rule(j, "jobj");
    if (np + nr > MAX_KEYS) return js_fail(j, SLM_ERR_UNSUPPORTED, "more than %d properties", MAX_KEYS);
    if (cnt.hi >= 0 && cnt.lo > cnt.hi) return 2;
    keyset ks;
    if (keyset_init(j, pats, names, &ks)) {
        keyset_free(&ks);
        return 0;
    }
    prop *p = calloc(np + nr + 1, sizeof *p);
    const char **keys = calloc(np + nr + 1, sizeof *keys);
    unsigned id = 0;
    if (!p || !keys) {
        js_fail(j, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* additional properties: absent = per options (closed by default when
     * properties are listed) */
    int open = addl ? !json_is_false(addl) : (j->o.loose_additional || np == 0);
    unsigned extra_val = open ? (addl && !json_is_true(addl) ? js_gen(j, addl) : 1) : 0;
    size_t n = 0, nk = 0;
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
        keys[nk++] = k;
        int r = in_required(req, k);
        json_t *eff = name_allowed(&ks, k) ? with_patterns(j, &ks, k, v) : json_false();
        if (json_is_false(eff)) {
            if (r) goto never;
            continue;
        }
        p[n++] = (prop){k, js_gen(j, eff), r};
    }
    size_t i;
    json_array_foreach(req, i, v) {
        if (!json_is_string(v)) {
            js_fail(j, SLM_ERR_FORMAT, "required must list strings");
            goto done;
        }
        const char *rk = json_string_value(v);
        if (json_object_get(props, rk)) continue;
        int dup = 0;
        for (size_t q = 0; q < n; q++) dup |= !strcmp(p[q].key, rk);
        if (dup) continue;
        json_t *eff = name_allowed(&ks, rk) ? with_patterns(j, &ks, rk, NULL) : json_false();
        if (json_is_false(eff) || (!eff && !open)) goto never;
        keys[nk++] = rk;
        p[n++] = (prop){rk, eff ? js_gen(j, eff) : extra_val, 1};
    }
    unsigned extra = 0;
    if (!j->st && (ks.n_pat || ks.has_names) && (open || ks.n_pat)) {
        extra = extra_by_dfa(j, &ks, keys, nk, extra_val, open);
    } else if (open && !j->st) {
        unsigned key = js_gen_key_except(j, keys, nk);
        extra = key ? rulef(j, "r%u ws \":\" ws r%u", key, extra_val) : 0;
    }
    id = j->st ? 0 : object_chain(j, p, n, extra, &cnt);
    goto done;
never:
    id = 2;
done:
    keyset_free(&ks);
    free(p);
    free(keys);
    return j->st ? 0 : id;
}
