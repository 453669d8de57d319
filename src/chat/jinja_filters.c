/* Jinja filters (`x | name(args)`) and tests (`x is name`), with jinja2's
 * semantics for the subset chat templates use. Each filter is a small
 * function taking the input value and its bound arguments; a table maps
 * names to them. String case mapping is ASCII-only. */
#include "chat/jinja.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*filter_fn)(jctx *c, jv v, jv *a, jv *out);
typedef struct filter_def {
    const char *name;
    filter_fn fn;
    const char *params[5];
} filter_def;

static bool given(jv v) { return v.k != JV_UNDEF; }

static bool want_str(jctx *c, jv v, jv *out) { return jv_to_str(c, v, out); }

static bool want_int(jctx *c, jv v, const char *what, int64_t *out) {
    if (v.k == JV_INT) *out = v.u.i;
    else if (v.k == JV_BOOL) *out = v.u.b;
    else return jfail(c, "%s must be an integer, not %s", what, jv_type_name(v));
    return true;
}

static char ascii_lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }
static char ascii_upper(char ch) { return ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch; }

/* a copy of s with each byte mapped by mode: 'l'ower, 'u'pper,
 * 'c'apitalize, 't'itle (jinja's title filter) */
bool jstr_case(jctx *c, jstr s, char mode, jv *out) {
    char *p = ja_alloc(c->arena, s.n + 1);
    if (!p) return jlimit(c, "memory limit exceeded");
    bool word_start = true;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        switch (mode) {
        case 'l': p[i] = ascii_lower(ch); break;
        case 'u': p[i] = ascii_upper(ch); break;
        case 'c': p[i] = i == 0 ? ascii_upper(ch) : ascii_lower(ch); break;
        default: {
            bool delim = ch == '-' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
                         ch == '\v' || ch == '\f' || ch == '(' || ch == '{' || ch == '[' || ch == '<';
            p[i] = word_start ? ascii_upper(ch) : ascii_lower(ch);
            word_start = delim;
        }
        }
    }
    *out = jv_strn(p, s.n);
    return true;
}

static bool is_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f' ||
           (ch >= 0x1c && ch <= 0x1f);
}

/* strip: which 1 = left, 2 = right, 3 = both; chars NULL = whitespace */
bool jstr_strip(jstr s, const jstr *chars, int which, jstr *out) {
    size_t a = 0, b = s.n;
#define STRIPPABLE(ch) (chars ? memchr(chars->p, (ch), chars->n) != NULL : is_ws(ch))
    if (which & 1)
        while (a < b && STRIPPABLE(s.p[a])) a++;
    if (which & 2)
        while (b > a && STRIPPABLE(s.p[b - 1])) b--;
#undef STRIPPABLE
    *out = (jstr){s.p + a, b - a};
    return true;
}

static bool f_trim(jctx *c, jv v, jv *a, jv *out) {
    jv s, chars;
    if (!want_str(c, v, &s)) return false;
    if (given(a[0]) && a[0].k != JV_NONE && !want_str(c, a[0], &chars)) return false;
    jstr r = {0};
    jstr_strip(s.u.s, given(a[0]) && a[0].k != JV_NONE ? &chars.u.s : NULL, 3, &r);
    *out = jv_strn(r.p, r.n);
    return true;
}

static bool f_tojson(jctx *c, jv v, jv *a, jv *out) {
    jjson_opts o = {.indent = -1, .item_sep = {", ", 2}, .key_sep = {": ", 2}};
    if (given(a[0])) o.ensure_ascii = jv_truthy(a[0]);
    if (given(a[1]) && a[1].k != JV_NONE) {
        if (!want_int(c, a[1], "indent", &o.indent)) return false;
        if (o.indent < 0) o.indent = 0;
        if (o.indent > 64) return jfail(c, "tojson indent too large");
        o.item_sep = (jstr){",", 1};
    }
    if (given(a[2]) && a[2].k != JV_NONE) {
        if (a[2].k != JV_LIST || a[2].u.l->n != 2 || a[2].u.l->v[0].k != JV_STR ||
            a[2].u.l->v[1].k != JV_STR)
            return jfail(c, "tojson separators must be a pair of strings");
        o.item_sep = a[2].u.l->v[0].u.s;
        o.key_sep = a[2].u.l->v[1].u.s;
    }
    if (given(a[3])) o.sort_keys = jv_truthy(a[3]);
    jbuf b = {.limit = c->max_output};
    if (!jv_write_json(c, &b, v, &o, 0)) {
        jb_free(&b);
        return false;
    }
    return jv_str_from_buf(c, &b, out);
}

static bool f_length(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    switch (v.k) {
    case JV_STR: *out = jv_int((int64_t)utf8_count(v.u.s.p, v.u.s.n)); return true;
    case JV_LIST:
        if (v.u.l->gen) return jfail(c, "object of type 'generator' has no len()");
        *out = jv_int((int64_t)v.u.l->n);
        return true;
    case JV_DICT: *out = jv_int((int64_t)v.u.d->n); return true;
    case JV_UNDEF: *out = jv_int(0); return true;
    default: return jfail(c, "object of type '%s' has no len()", jv_type_name(v));
    }
}

static bool f_items(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    if (v.k == JV_UNDEF) return jv_list_new(c, 0, out);
    if (v.k != JV_DICT) return jfail(c, "can only get item pairs from a mapping, not %s", jv_type_name(v));
    if (!jv_list_new(c, v.u.d->n, out)) return false;
    for (size_t i = 0; i < v.u.d->n; i++) {
        jv pair;
        if (!jv_list_new(c, 2, &pair)) return false;
        pair.u.l->tuple = true;
        pair.u.l->v[0] = v.u.d->key[i];
        pair.u.l->v[1] = v.u.d->val[i];
        pair.u.l->n = 2;
        out->u.l->v[out->u.l->n++] = pair;
    }
    return true;
}

static bool f_items_gen(jctx *c, jv v, jv *a, jv *out) {
    if (!f_items(c, v, a, out)) return false;
    out->u.l->gen = true; /* jinja's items filter yields */
    return true;
}

static bool f_list(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    jv items;
    if (!jiterate(c, v, &items)) return false;
    if (!jv_list_new(c, items.u.l->n, out)) return false;
    if (items.u.l->n) memcpy(out->u.l->v, items.u.l->v, items.u.l->n * sizeof(jv));
    out->u.l->n = items.u.l->n;
    return true;
}

static bool f_first(jctx *c, jv v, jv *a, jv *out) {
    jv items;
    (void)a;
    if (!jiterate(c, v, &items)) return false;
    *out = items.u.l->n ? items.u.l->v[0] : jv_undef();
    return true;
}

static bool f_last(jctx *c, jv v, jv *a, jv *out) {
    jv items;
    (void)a;
    if (v.k == JV_DICT || (v.k == JV_LIST && v.u.l->gen))
        return jfail(c, "'%s' object is not reversible", jv_type_name(v));
    if (!jiterate(c, v, &items)) return false;
    *out = items.u.l->n ? items.u.l->v[items.u.l->n - 1] : jv_undef();
    return true;
}

/* value of "attr" or "a.b.0" inside item, as jinja's attrgetter */
static bool attr_path(jctx *c, jv item, jv path, jv *out) {
    if (path.k == JV_INT) return jgetitem(c, item, path, out);
    if (path.k != JV_STR) return jfail(c, "attribute name must be a string");
    jstr s = path.u.s;
    *out = item;
    size_t start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i < s.n && s.p[i] != '.') continue;
        jv key = jv_strn(s.p + start, i - start);
        char *end;
        char num[24];
        if (i - start > 0 && i - start < sizeof num) {
            memcpy(num, s.p + start, i - start);
            num[i - start] = '\0';
            long long n = strtoll(num, &end, 10);
            if (*end == '\0' && num[0] >= '0' && num[0] <= '9') key = jv_int(n);
        }
        if (!jgetitem(c, *out, key, out)) return false;
        start = i + 1;
    }
    return true;
}

static bool f_join(jctx *c, jv v, jv *a, jv *out) {
    jv items, sep = jv_strn("", 0);
    if (given(a[0]) && !want_str(c, a[0], &sep)) return false;
    if (!jiterate(c, v, &items)) return false;
    jbuf b = {.limit = c->max_output};
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv item = items.u.l->v[i];
        if (given(a[1]) && !attr_path(c, item, a[1], &item)) goto fail;
        if (i) jb_put(&b, sep.u.s.p, sep.u.s.n);
        if (!jv_write_str(c, &b, item)) goto fail;
    }
    return jv_str_from_buf(c, &b, out);
fail:
    jb_free(&b);
    return false;
}

static bool f_lower(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    return want_str(c, v, &v) && jstr_case(c, v.u.s, 'l', out);
}
static bool f_upper(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    return want_str(c, v, &v) && jstr_case(c, v.u.s, 'u', out);
}
static bool f_capitalize(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    return want_str(c, v, &v) && jstr_case(c, v.u.s, 'c', out);
}
static bool f_title(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    return want_str(c, v, &v) && jstr_case(c, v.u.s, 't', out);
}

bool jstr_replace(jctx *c, jstr s, jstr old, jstr rep, int64_t count, jv *out) {
    jbuf b = {.limit = c->max_output};
    size_t i = 0;
    int64_t done = 0;
    if (old.n == 0) { /* Python inserts rep between every character */
        size_t cps = utf8_count(s.p, s.n);
        for (size_t k = 0; k <= cps; k++) {
            if (count < 0 || done < count) {
                jb_put(&b, rep.p, rep.n);
                done++;
            }
            size_t a0 = utf8_offset(s.p, s.n, k), a1 = utf8_offset(s.p, s.n, k + 1);
            jb_put(&b, s.p + a0, a1 - a0);
        }
        return jv_str_from_buf(c, &b, out);
    }
    while (i < s.n) {
        const char *hit = (count < 0 || done < count) ? memmem(s.p + i, s.n - i, old.p, old.n) : NULL;
        if (!hit) {
            jb_put(&b, s.p + i, s.n - i);
            break;
        }
        jb_put(&b, s.p + i, (size_t)(hit - (s.p + i)));
        jb_put(&b, rep.p, rep.n);
        i = (size_t)(hit - s.p) + old.n;
        done++;
    }
    return jv_str_from_buf(c, &b, out);
}

static bool f_replace(jctx *c, jv v, jv *a, jv *out) {
    jv s, old, rep;
    int64_t count = -1;
    if (!want_str(c, v, &s) || !want_str(c, a[0], &old) || !want_str(c, a[1], &rep)) return false;
    if (given(a[2]) && a[2].k != JV_NONE && !want_int(c, a[2], "count", &count)) return false;
    return jstr_replace(c, s.u.s, old.u.s, rep.u.s, count, out);
}

static bool f_default(jctx *c, jv v, jv *a, jv *out) {
    (void)c;
    bool use = v.k == JV_UNDEF || (given(a[1]) && jv_truthy(a[1]) && !jv_truthy(v));
    *out = use ? (given(a[0]) ? a[0] : jv_strn("", 0)) : v;
    return true;
}

static bool f_string(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    return jv_to_str(c, v, out);
}

static bool f_safe(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    if (!jv_to_str(c, v, out)) return false;
    out->safe = true;
    return true;
}

static bool parse_number(jstr s, bool want_int, jv *out) {
    char buf[64];
    jstr t = {0};
    jstr_strip(s, NULL, 3, &t);
    if (t.n == 0 || t.n >= sizeof buf) return false;
    size_t n = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] != '_') buf[n++] = t.p[i];
    buf[n] = '\0';
    char *end;
    if (want_int) {
        long long i = strtoll(buf, &end, 10);
        if (*end == '\0') {
            *out = jv_int(i);
            return true;
        }
    }
    double f = strtod(buf, &end);
    if (*end != '\0') return false;
    *out = want_int ? jv_int((int64_t)f) : jv_float(f);
    return want_int ? isfinite(f) && fabs(f) < 9.2e18 : true;
}

static bool f_int(jctx *c, jv v, jv *a, jv *out) {
    (void)c;
    jv dflt = given(a[0]) ? a[0] : jv_int(0);
    if (v.k == JV_INT) *out = v;
    else if (v.k == JV_BOOL) *out = jv_int(v.u.b);
    else if (v.k == JV_FLOAT && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) *out = jv_int((int64_t)v.u.f);
    else if (v.k == JV_STR && parse_number(v.u.s, true, out)) return true;
    else *out = dflt;
    return true;
}

static bool f_float(jctx *c, jv v, jv *a, jv *out) {
    (void)c;
    jv dflt = given(a[0]) ? a[0] : jv_float(0);
    if (jv_is_number(v)) *out = jv_float(jv_num(v));
    else if (v.k == JV_STR && parse_number(v.u.s, false, out)) return true;
    else *out = dflt;
    return true;
}

static bool f_abs(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    if (v.k == JV_FLOAT) *out = jv_float(fabs(v.u.f));
    else if (v.k == JV_INT && v.u.i != INT64_MIN) *out = jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    else if (v.k == JV_BOOL) *out = jv_int(v.u.b);
    else return jfail(c, "bad operand type for abs(): '%s'", jv_type_name(v));
    return true;
}

static bool f_round(jctx *c, jv v, jv *a, jv *out) {
    int64_t prec = 0;
    if (!jv_is_number(v)) return jfail(c, "round needs a number, not %s", jv_type_name(v));
    if (given(a[0]) && !want_int(c, a[0], "precision", &prec)) return false;
    if (prec < -300 || prec > 300) return jfail(c, "round precision out of range");
    double scale = pow(10.0, (double)prec), x = jv_num(v) * scale, r;
    jv method = given(a[1]) ? a[1] : jv_strn("common", 6);
    if (method.k == JV_STR && jstr_eq(method.u.s, "ceil")) r = ceil(x);
    else if (method.k == JV_STR && jstr_eq(method.u.s, "floor")) r = floor(x);
    else if (method.k == JV_STR && jstr_eq(method.u.s, "common")) r = nearbyint(x); /* half-even, as Python */
    else return jfail(c, "method must be common, ceil or floor");
    *out = jv_float(r / scale);
    return true;
}

static bool f_indent(jctx *c, jv v, jv *a, jv *out) {
    jv s, ind;
    if (!want_str(c, v, &s)) return false;
    if (given(a[0]) && a[0].k == JV_STR) ind = a[0];
    else {
        int64_t w = 4;
        if (given(a[0]) && !want_int(c, a[0], "width", &w)) return false;
        if (w < 0) w = 0;
        if (w > 1024) return jfail(c, "indent width too large");
        char *sp = ja_alloc(c->arena, (size_t)w + 1);
        if (!sp) return jlimit(c, "memory limit exceeded");
        memset(sp, ' ', (size_t)w);
        ind = jv_strn(sp, (size_t)w);
    }
    bool first = given(a[1]) && jv_truthy(a[1]), blank = given(a[2]) && jv_truthy(a[2]);
    jbuf b = {.limit = c->max_output};
    if (first) jb_put(&b, ind.u.s.p, ind.u.s.n);
    /* lines as Python's splitlines on s + "\n" */
    /* (s + "\n").splitlines() is s.split("\n") */
    size_t i = 0, line = 0;
    for (;;) {
        const char *nl = memchr(s.u.s.p + i, '\n', s.u.s.n - i);
        size_t end = nl ? (size_t)(nl - s.u.s.p) : s.u.s.n;
        if (line > 0) {
            jb_putc(&b, '\n');
            if (blank || end > i) jb_put(&b, ind.u.s.p, ind.u.s.n);
        }
        jb_put(&b, s.u.s.p + i, end - i);
        line++;
        if (!nl) break;
        i = end + 1;
    }
    return jv_str_from_buf(c, &b, out);
}

/* ---- sorting ---- */

static bool sort_key(jctx *c, jv item, jv attr, bool case_sensitive, jv *key) {
    *key = item;
    if (given(attr) && attr.k != JV_NONE && !attr_path(c, item, attr, key)) return false;
    if (!case_sensitive && key->k == JV_STR) return jstr_case(c, key->u.s, 'l', key);
    return true;
}

/* stable merge sort of idx[0..n) by keys */
static bool merge_sort(jctx *c, const jv *keys, size_t *idx, size_t *tmp, size_t n, bool reverse) {
    if (n < 2) return true;
    size_t h = n / 2;
    if (!merge_sort(c, keys, idx, tmp, h, reverse) || !merge_sort(c, keys, idx + h, tmp, n - h, reverse))
        return false;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int cmp;
        if (!jv_compare(c, keys[idx[j]], keys[idx[i]], &cmp)) return false;
        bool take_right = reverse ? cmp > 0 : cmp < 0;
        tmp[k++] = take_right ? idx[j++] : idx[i++];
    }
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
    return true;
}

static bool sorted(jctx *c, jv items, jv *keys, bool reverse, jv *out) {
    size_t n = items.u.l->n;
    size_t *idx = ja_alloc(c->arena, (n + 1) * sizeof *idx), *tmp = ja_alloc(c->arena, (n + 1) * sizeof *tmp);
    if (!idx || !tmp) return jlimit(c, "memory limit exceeded");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    if (!merge_sort(c, keys, idx, tmp, n, reverse)) return false;
    if (!jv_list_new(c, n, out)) return false;
    for (size_t i = 0; i < n; i++) out->u.l->v[i] = items.u.l->v[idx[i]];
    out->u.l->n = n;
    return true;
}

static bool f_sort(jctx *c, jv v, jv *a, jv *out) {
    jv items;
    if (!jiterate(c, v, &items)) return false;
    jv *keys = ja_alloc(c->arena, (items.u.l->n + 1) * sizeof *keys);
    if (!keys) return jlimit(c, "memory limit exceeded");
    bool cs = given(a[1]) && jv_truthy(a[1]);
    for (size_t i = 0; i < items.u.l->n; i++)
        if (!sort_key(c, items.u.l->v[i], a[2], cs, &keys[i])) return false;
    return sorted(c, items, keys, given(a[0]) && jv_truthy(a[0]), out);
}

static bool f_dictsort(jctx *c, jv v, jv *a, jv *out) {
    jv pairs;
    if (v.k != JV_DICT) return jfail(c, "dictsort needs a mapping, not %s", jv_type_name(v));
    if (!f_items(c, v, a, &pairs)) return false;
    bool by_value = given(a[1]) && a[1].k == JV_STR && jstr_eq(a[1].u.s, "value");
    jv *keys = ja_alloc(c->arena, (pairs.u.l->n + 1) * sizeof *keys);
    if (!keys) return jlimit(c, "memory limit exceeded");
    bool cs = given(a[0]) && jv_truthy(a[0]);
    for (size_t i = 0; i < pairs.u.l->n; i++)
        if (!sort_key(c, pairs.u.l->v[i].u.l->v[by_value ? 1 : 0], jv_undef(), cs, &keys[i]))
            return false;
    return sorted(c, pairs, keys, given(a[2]) && jv_truthy(a[2]), out);
}

static bool f_unique(jctx *c, jv v, jv *a, jv *out) {
    jv items;
    if (!jiterate(c, v, &items) || !jv_list_new(c, items.u.l->n, out)) return false;
    jv *seen = ja_alloc(c->arena, (items.u.l->n + 1) * sizeof *seen);
    if (!seen) return jlimit(c, "memory limit exceeded");
    size_t nseen = 0;
    bool cs = given(a[0]) && jv_truthy(a[0]);
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv key;
        if (!sort_key(c, items.u.l->v[i], a[1], cs, &key)) return false;
        bool dup = false;
        for (size_t j = 0; j < nseen && !dup; j++) dup = jv_equal(seen[j], key);
        if (dup) continue;
        if (!jtick(c)) return false;
        seen[nseen++] = key;
        out->u.l->v[out->u.l->n++] = items.u.l->v[i];
    }
    out->u.l->gen = true;
    return true;
}

static bool f_reverse(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    if (v.k == JV_STR) {
        char *p = ja_alloc(c->arena, v.u.s.n + 1);
        if (!p) return jlimit(c, "memory limit exceeded");
        size_t n = v.u.s.n, i = 0;
        while (i < n) { /* reverse by code point */
            size_t len = 1;
            while (i + len < n && ((unsigned char)v.u.s.p[i + len] & 0xc0) == 0x80) len++;
            memcpy(p + n - i - len, v.u.s.p + i, len);
            i += len;
        }
        *out = jv_strn(p, n);
        return true;
    }
    jv items;
    if (!jiterate(c, v, &items) || !jv_list_new(c, items.u.l->n, out)) return false;
    if (v.k == JV_LIST && v.u.l->gen) return jfail(c, "'generator' object is not reversible");
    for (size_t i = 0; i < items.u.l->n; i++) out->u.l->v[i] = items.u.l->v[items.u.l->n - 1 - i];
    out->u.l->n = items.u.l->n;
    out->u.l->gen = true;
    return true;
}

static bool f_wordcount(jctx *c, jv v, jv *a, jv *out) {
    (void)a;
    if (!want_str(c, v, &v)) return false;
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < v.u.s.n; i++) {
        bool w = !is_ws(v.u.s.p[i]);
        if (w && !in_word) n++;
        in_word = w;
    }
    *out = jv_int(n);
    return true;
}

static const filter_def FILTERS[] = {
    {"trim", f_trim, {"chars"}},
    {"tojson", f_tojson, {"ensure_ascii", "indent", "separators", "sort_keys"}},
    {"length", f_length, {0}},
    {"count", f_length, {0}},
    {"items", f_items_gen, {0}},
    {"list", f_list, {0}},
    {"first", f_first, {0}},
    {"last", f_last, {0}},
    {"join", f_join, {"d", "attribute"}},
    {"lower", f_lower, {0}},
    {"upper", f_upper, {0}},
    {"capitalize", f_capitalize, {0}},
    {"title", f_title, {0}},
    {"replace", f_replace, {"old", "new", "count"}},
    {"default", f_default, {"default_value", "boolean"}},
    {"d", f_default, {"default_value", "boolean"}},
    {"string", f_string, {0}},
    {"safe", f_safe, {0}},
    {"int", f_int, {"default", "base"}},
    {"float", f_float, {"default"}},
    {"abs", f_abs, {0}},
    {"round", f_round, {"precision", "method"}},
    {"indent", f_indent, {"width", "first", "blank"}},
    {"sort", f_sort, {"reverse", "case_sensitive", "attribute"}},
    {"dictsort", f_dictsort, {"case_sensitive", "by", "reverse"}},
    {"unique", f_unique, {"case_sensitive", "attribute"}},
    {"reverse", f_reverse, {0}},
    {"wordcount", f_wordcount, {0}},
};

static size_t nparams(const filter_def *f) {
    size_t n = 0;
    while (n < 5 && f->params[n]) n++;
    return n;
}

bool jargs_pick(jctx *c, const char *fname, jv *args, jstr *names, size_t nargs,
                const char *const *params, size_t np, jv *out) {
    for (size_t i = 0; i < np; i++) out[i] = jv_undef();
    size_t pos = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (names && names[i].n) {
            size_t k;
            for (k = 0; k < np && !jstr_eq(names[i], params[k]); k++) {}
            if (k == np)
                return jfail(c, "%s got an unexpected keyword argument '%.*s'", fname,
                             (int)names[i].n, names[i].p);
            out[k] = args[i];
        } else {
            if (pos >= np) return jfail(c, "%s takes at most %zu arguments", fname, np);
            out[pos++] = args[i];
        }
    }
    return true;
}

/* map/select/reject/selectattr/rejectattr: the ones that call other
 * filters or tests by name */
static bool f_map(jctx *c, jv v, jv *args, jstr *names, size_t nargs, jv *out) {
    jv items;
    if (!jv_truthy(v)) v = jv_undef(); /* jinja: `if value:` before iterating */
    if (!jiterate(c, v, &items) || !jv_list_new(c, items.u.l->n, out)) return false;
    out->u.l->gen = true;
    jv attr = jv_undef(), dflt = jv_undef();
    for (size_t i = 0; i < nargs; i++) {
        if (names && jstr_eq(names[i], "attribute")) attr = args[i];
        else if (names && jstr_eq(names[i], "default")) dflt = args[i];
    }
    bool by_attr = given(attr);
    if (!by_attr && (nargs == 0 || args[0].k != JV_STR || (names && names[0].n)))
        return jfail(c, "map needs a filter name or attribute=");
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv r;
        if (!jtick(c)) return false;
        if (by_attr) {
            if (!attr_path(c, items.u.l->v[i], attr, &r)) return false;
            if (r.k == JV_UNDEF && given(dflt)) r = dflt;
        } else if (!jfilter(c, args[0].u.s, items.u.l->v[i], args + 1, names ? names + 1 : NULL,
                            nargs - 1, &r)) {
            return false;
        }
        out->u.l->v[out->u.l->n++] = r;
    }
    return true;
}

static bool f_select(jctx *c, jv v, jv *args, size_t nargs, bool by_attr, bool keep, jv *out) {
    jv items;
    if (!jv_truthy(v)) v = jv_undef(); /* jinja: `if seq:` before iterating */
    if (!jiterate(c, v, &items) || !jv_list_new(c, items.u.l->n, out)) return false;
    out->u.l->gen = true;
    size_t skip = by_attr ? 1 : 0;
    if (by_attr && nargs == 0) return jfail(c, "selectattr/rejectattr need an attribute name");
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv item = items.u.l->v[i];
        bool r;
        if (!jtick(c)) return false;
        if (by_attr && !attr_path(c, item, args[0], &item)) return false;
        if (nargs <= skip) r = jv_truthy(item);
        else if (args[skip].k != JV_STR) return jfail(c, "test name must be a string");
        else if (!jtest(c, args[skip].u.s, item, args + skip + 1, nargs - skip - 1, &r)) return false;
        if (r == keep) out->u.l->v[out->u.l->n++] = items.u.l->v[i];
    }
    return true;
}

bool jfilter(jctx *c, jstr name, jv v, jv *args, jstr *names, size_t nargs, jv *out) {
    if (jstr_eq(name, "map")) return f_map(c, v, args, names, nargs, out);
    if (jstr_eq(name, "select")) return f_select(c, v, args, nargs, false, true, out);
    if (jstr_eq(name, "reject")) return f_select(c, v, args, nargs, false, false, out);
    if (jstr_eq(name, "selectattr")) return f_select(c, v, args, nargs, true, true, out);
    if (jstr_eq(name, "rejectattr")) return f_select(c, v, args, nargs, true, false, out);
    for (size_t i = 0; i < sizeof FILTERS / sizeof FILTERS[0]; i++) {
        const filter_def *f = &FILTERS[i];
        if (!jstr_eq(name, f->name)) continue;
        jv a[5];
        if (!jargs_pick(c, f->name, args, names, nargs, f->params, nparams(f), a)) return false;
        for (size_t k = nparams(f); k < 5; k++) a[k] = jv_undef();
        return f->fn(c, v, a, out);
    }
    return jfail(c, "no filter named '%.*s'", (int)name.n, name.p);
}

/* ---- tests ---- */

static bool is_lower_str(jstr s, bool upper) {
    bool cased = false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            cased = true;
            if ((ch >= 'a' && ch <= 'z') == upper) return false;
        }
    }
    return cased;
}

bool jtest(jctx *c, jstr name, jv v, jv *args, size_t nargs, bool *out) {
    jv arg = nargs ? args[0] : jv_undef();
#define T(s) jstr_eq(name, s)
    if (T("defined")) *out = v.k != JV_UNDEF;
    else if (T("undefined")) *out = v.k == JV_UNDEF;
    else if (T("none")) *out = v.k == JV_NONE;
    else if (T("string")) *out = v.k == JV_STR;
    else if (T("number")) *out = jv_is_number(v);
    else if (T("integer")) *out = v.k == JV_INT;
    else if (T("float")) *out = v.k == JV_FLOAT;
    else if (T("boolean")) *out = v.k == JV_BOOL;
    else if (T("true")) *out = v.k == JV_BOOL && v.u.b;
    else if (T("false")) *out = v.k == JV_BOOL && !v.u.b;
    else if (T("mapping")) *out = v.k == JV_DICT;
    else if (T("iterable")) *out = v.k == JV_STR || v.k == JV_LIST || v.k == JV_DICT || v.k == JV_UNDEF;
    else if (T("sequence")) *out = v.k == JV_STR || v.k == JV_LIST || v.k == JV_DICT || v.k == JV_UNDEF;
    else if (T("callable")) *out = v.k == JV_MACRO || v.k == JV_FUNC;
    else if (T("lower")) *out = v.k == JV_STR && is_lower_str(v.u.s, false);
    else if (T("upper")) *out = v.k == JV_STR && is_lower_str(v.u.s, true);
    else if (T("odd") || T("even")) {
        if (v.k != JV_INT && v.k != JV_BOOL) return jfail(c, "odd/even need an integer");
        int64_t i = v.k == JV_BOOL ? v.u.b : v.u.i;
        *out = ((i % 2) != 0) == T("odd");
    } else if (T("divisibleby")) {
        int64_t x = 0, y = 1;
        if (!want_int(c, v, "value", &x) || !want_int(c, arg, "divisor", &y)) return false;
        if (y == 0) return jfail(c, "divisibleby zero");
        *out = y == -1 || x % y == 0;
    } else if (T("eq") || T("equalto") || T("==")) *out = jv_equal(v, arg);
    else if (T("ne") || T("!=")) *out = !jv_equal(v, arg);
    else if (T("sameas")) {
        *out = v.k == arg.k && (v.k == JV_NONE || v.k == JV_UNDEF ||
                                (v.k == JV_BOOL && v.u.b == arg.u.b) || (v.k >= JV_STR && jv_equal(v, arg)));
    } else if (T("lt") || T("lessthan") || T("<") || T("le") || T("<=") || T("gt") ||
               T("greaterthan") || T(">") || T("ge") || T(">=")) {
        int cmp;
        if (!jv_compare(c, v, arg, &cmp)) return false;
        *out = T("lt") || T("lessthan") || T("<") ? cmp < 0 : T("le") || T("<=") ? cmp <= 0
             : T("gt") || T("greaterthan") || T(">") ? cmp > 0 : cmp >= 0;
    } else if (T("in")) {
        jv r;
        jv pair[1] = {arg};
        (void)pair;
        if (arg.k == JV_STR) *out = v.k == JV_STR && (v.u.s.n == 0 || memmem(arg.u.s.p, arg.u.s.n, v.u.s.p, v.u.s.n));
        else if (arg.k == JV_LIST) {
            *out = false;
            for (size_t i = 0; i < arg.u.l->n && !*out; i++) *out = jv_equal(arg.u.l->v[i], v);
        } else if (arg.k == JV_DICT) *out = jv_dict_get(arg.u.d, v, &r);
        else return jfail(c, "'in' test needs a container");
    } else {
        return jfail(c, "no test named '%.*s'", (int)name.n, name.p);
    }
#undef T
    return true;
}
