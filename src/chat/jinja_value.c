/* Jinja values: construction in the arena, Python semantics for truth,
 * equality and ordering, and str()/repr() exactly as CPython prints them
 * (floats in shortest round-trip form, lists as ['a', 1], dicts as
 * {'k': v}, None/True/False). */
#include "chat/jinja.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool jv_str_copy(jctx *c, const char *p, size_t n, jv *out) {
    char *q = ja_alloc(c->arena, n + 1);
    if (!q) return jlimit(c, "memory limit exceeded");
    if (n) memcpy(q, p, n);
    *out = jv_strn(q, n);
    return true;
}

bool jv_str_from_buf(jctx *c, jbuf *b, jv *out) {
    if (b->overflow) {
        jb_free(b);
        return jlimit(c, "output limit exceeded");
    }
    bool ok = jv_str_copy(c, b->p ? b->p : "", b->n, out);
    jb_free(b);
    return ok;
}

bool jv_list_new(jctx *c, size_t cap, jv *out) {
    jlist *l = ja_alloc(c->arena, sizeof *l);
    if (!l) return jlimit(c, "memory limit exceeded");
    if (cap) {
        if (cap > SIZE_MAX / sizeof(jv)) return jlimit(c, "memory limit exceeded");
        l->v = ja_alloc(c->arena, cap * sizeof(jv));
        if (!l->v) return jlimit(c, "memory limit exceeded");
        l->cap = cap;
    }
    out->k = JV_LIST;
    out->u.l = l;
    return true;
}

static bool grow(jctx *c, jv **arr, size_t n, size_t *cap) {
    if (n < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / sizeof(jv)) return jlimit(c, "memory limit exceeded");
    jv *p = ja_alloc(c->arena, ncap * sizeof(jv));
    if (!p) return jlimit(c, "memory limit exceeded");
    if (n) memcpy(p, *arr, n * sizeof(jv));
    *arr = p;
    *cap = ncap;
    return true;
}

bool jv_list_push(jctx *c, jlist *l, jv v) {
    if (!grow(c, &l->v, l->n, &l->cap)) return false;
    l->v[l->n++] = v;
    return true;
}

bool jv_dict_new(jctx *c, jv *out) {
    jdict *d = ja_alloc(c->arena, sizeof *d);
    if (!d) return jlimit(c, "memory limit exceeded");
    out->k = JV_DICT;
    out->u.d = d;
    return true;
}

static bool dict_find(const jdict *d, jv key, size_t *idx) {
    for (size_t i = 0; i < d->n; i++) {
        if (jv_equal(d->key[i], key)) {
            *idx = i;
            return true;
        }
    }
    return false;
}

bool jv_dict_set(jctx *c, jdict *d, jv key, jv val) {
    size_t i;
    if (dict_find(d, key, &i)) {
        d->val[i] = val;
        return true;
    }
    size_t kcap = d->cap;
    if (!grow(c, &d->key, d->n, &kcap)) return false;
    if (!grow(c, &d->val, d->n, &d->cap)) return false;
    d->key[d->n] = key;
    d->val[d->n] = val;
    d->n++;
    return true;
}

bool jv_dict_get(const jdict *d, jv key, jv *out) {
    size_t i;
    if (!dict_find(d, key, &i)) return false;
    *out = d->val[i];
    return true;
}

bool jv_dict_gets(const jdict *d, const char *key, jv *out) {
    return jv_dict_get(d, jv_strn(key, strlen(key)), out);
}

bool jv_truthy(jv v) {
    switch (v.k) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->gen || v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

bool jv_is_number(jv v) { return v.k == JV_INT || v.k == JV_FLOAT || v.k == JV_BOOL; }

double jv_num(jv v) {
    if (v.k == JV_INT) return (double)v.u.i;
    if (v.k == JV_FLOAT) return v.u.f;
    if (v.k == JV_BOOL) return v.u.b;
    return 0;
}

static bool num_equal(jv a, jv b) {
    if (a.k != JV_FLOAT && b.k != JV_FLOAT) {
        int64_t x = a.k == JV_BOOL ? a.u.b : a.u.i, y = b.k == JV_BOOL ? b.u.b : b.u.i;
        return x == y;
    }
    return jv_num(a) == jv_num(b);
}

bool jv_equal(jv a, jv b) {
    if (jv_is_number(a) && jv_is_number(b)) return num_equal(a, b);
    if (a.k != b.k) return false;
    if (a.k == JV_LIST && (a.u.l->gen || b.u.l->gen)) return a.u.l == b.u.l;
    switch (a.k) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv other;
            if (!jv_dict_get(b.u.d, a.u.d->key[i], &other)) return false;
            if (!jv_equal(a.u.d->val[i], other)) return false;
        }
        return true;
    case JV_NS: return a.u.d == b.u.d;
    case JV_LOOP: return a.u.loop == b.u.loop;
    case JV_MACRO: return a.u.m == b.u.m;
    case JV_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

const char *jv_type_name(jv v) {
    static const char *const names[] = {"undefined", "NoneType", "bool", "int", "float", "str",
                                        "list", "dict", "Namespace", "LoopContext", "Macro",
                                        "builtin_function_or_method"};
    if (v.k == JV_LIST && v.u.l->tuple) return "tuple";
    if (v.k == JV_LIST && v.u.l->gen) return "generator";
    return names[v.k];
}

bool jv_compare(jctx *c, jv a, jv b, int *cmp) {
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.k != JV_FLOAT && b.k != JV_FLOAT) {
            int64_t x = a.k == JV_BOOL ? a.u.b : a.u.i, y = b.k == JV_BOOL ? b.u.b : b.u.i;
            *cmp = (x > y) - (x < y);
        } else {
            double x = jv_num(a), y = jv_num(b);
            *cmp = (x > y) - (x < y);
        }
        return true;
    }
    if (a.k == JV_STR && b.k == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        if (r == 0) r = (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
        *cmp = (r > 0) - (r < 0);
        return true;
    }
    if (a.k == JV_LIST && b.k == JV_LIST) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a.u.l->v[i], b.u.l->v[i])) continue;
            return jv_compare(c, a.u.l->v[i], b.u.l->v[i], cmp);
        }
        *cmp = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return true;
    }
    return jfail(c, "ordering not supported between '%s' and '%s'", jv_type_name(a),
                 jv_type_name(b));
}

/* Python repr(float): the shortest digits that read back to the same
 * double; fixed notation when the exponent is in [-4, 16). */
void jv_write_float(jbuf *b, double f) {
    if (isnan(f)) { jb_puts(b, "nan"); return; }
    if (isinf(f)) { jb_puts(b, f < 0 ? "-inf" : "inf"); return; }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) jb_putc(b, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            jb_puts(b, "0.");
            for (int i = -1; i > exp; i--) jb_putc(b, '0');
            jb_put(b, digits, nd);
        } else {
            for (int i = 0; i <= exp; i++) jb_putc(b, (size_t)i < nd ? digits[i] : '0');
            jb_putc(b, '.');
            if ((size_t)exp + 1 < nd) jb_put(b, digits + exp + 1, nd - (size_t)exp - 1);
            else jb_putc(b, '0');
        }
    } else {
        jb_putc(b, digits[0]);
        if (nd > 1) {
            jb_putc(b, '.');
            jb_put(b, digits + 1, nd - 1);
        }
        jb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

static void write_str_repr(jbuf *b, jstr s) {
    bool has_sq = memchr(s.p, '\'', s.n) != NULL, has_dq = memchr(s.p, '"', s.n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jb_putc(b, q);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch == (unsigned char)q || ch == '\\') {
            jb_putc(b, '\\');
            jb_putc(b, (char)ch);
        } else if (ch == '\n') jb_puts(b, "\\n");
        else if (ch == '\r') jb_puts(b, "\\r");
        else if (ch == '\t') jb_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f) jb_printf(b, "\\x%02x", ch);
        else if (ch == 0xc2 && i + 1 < s.n && (unsigned char)s.p[i + 1] >= 0x80 &&
                 (unsigned char)s.p[i + 1] <= 0xa0) {
            jb_printf(b, "\\x%02x", (unsigned char)s.p[++i]); /* C1 controls, NBSP */
        } else jb_putc(b, (char)ch);
    }
    jb_putc(b, q);
}

static bool write_value(jctx *c, jbuf *b, jv v, bool repr, int depth) {
    if (depth > 200) return jfail(c, "value nested too deeply to print");
    switch (v.k) {
    case JV_UNDEF: break;
    case JV_NONE: jb_puts(b, "None"); break;
    case JV_BOOL: jb_puts(b, v.u.b ? "True" : "False"); break;
    case JV_INT: jb_printf(b, "%lld", (long long)v.u.i); break;
    case JV_FLOAT: jv_write_float(b, v.u.f); break;
    case JV_STR:
        if (repr) write_str_repr(b, v.u.s);
        else jb_put(b, v.u.s.p, v.u.s.n);
        break;
    case JV_LIST: {
        const jlist *l = v.u.l;
        if (l->gen) {
            jb_puts(b, "<generator object>");
            break;
        }
        jb_putc(b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jb_puts(b, ", ");
            if (!write_value(c, b, l->v[i], true, depth + 1)) return false;
        }
        if (l->tuple && l->n == 1) jb_putc(b, ',');
        jb_putc(b, l->tuple ? ')' : ']');
        break;
    }
    case JV_DICT: {
        const jdict *d = v.u.d;
        jb_putc(b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jb_puts(b, ", ");
            if (!write_value(c, b, d->key[i], true, depth + 1)) return false;
            jb_puts(b, ": ");
            if (!write_value(c, b, d->val[i], true, depth + 1)) return false;
        }
        jb_putc(b, '}');
        break;
    }
    case JV_NS: {
        const jdict *d = v.u.d;
        jb_puts(b, "<Namespace {");
        for (size_t i = 0; i < d->n; i++) {
            if (i) jb_puts(b, ", ");
            if (!write_value(c, b, d->key[i], true, depth + 1)) return false;
            jb_puts(b, ": ");
            if (!write_value(c, b, d->val[i], true, depth + 1)) return false;
        }
        jb_puts(b, "}>");
        break;
    }
    case JV_LOOP: jb_puts(b, "<LoopContext>"); break;
    case JV_MACRO: jb_puts(b, "<Macro>"); break;
    case JV_FUNC: jb_puts(b, "<built-in function>"); break;
    }
    if (b->overflow) return jlimit(c, "output limit exceeded");
    return true;
}

bool jv_write_str(jctx *c, jbuf *b, jv v) { return write_value(c, b, v, false, 0); }
bool jv_write_repr(jctx *c, jbuf *b, jv v) { return write_value(c, b, v, true, 0); }

bool jv_to_str(jctx *c, jv v, jv *out) {
    if (v.k == JV_STR) {
        *out = v;
        return true;
    }
    jbuf b = {.limit = c->max_output};
    if (!jv_write_str(c, &b, v)) {
        jb_free(&b);
        return false;
    }
    return jv_str_from_buf(c, &b, out);
}

size_t utf8_count(const char *p, size_t n) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xc0) != 0x80) cnt++;
    return cnt;
}

size_t utf8_offset(const char *p, size_t n, size_t cp) {
    size_t i = 0, seen = 0;
    while (i < n) {
        if (((unsigned char)p[i] & 0xc0) != 0x80) {
            if (seen == cp) return i;
            seen++;
        }
        i++;
    }
    return n;
}
