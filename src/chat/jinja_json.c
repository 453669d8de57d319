/* JSON in and out of the interpreter: jansson values become jv (objects
 * keep their key order), and jv is written the way Python's json.dumps
 * writes it, which is what HF's tojson filter calls: separators ", " and
 * ": " (or "," with indent), ensure_ascii optional, floats as repr(). */
#include "chat/jinja.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool from_json(jctx *c, const json_t *j, jv *out, int depth) {
    if (depth > 512) return jfail(c, "input JSON nested too deeply");
    switch (json_typeof(j)) {
    case JSON_NULL: *out = jv_none(); return true;
    case JSON_TRUE: *out = jv_bool(true); return true;
    case JSON_FALSE: *out = jv_bool(false); return true;
    case JSON_INTEGER: *out = jv_int((int64_t)json_integer_value(j)); return true;
    case JSON_REAL: *out = jv_float(json_real_value(j)); return true;
    case JSON_STRING: return jv_str_copy(c, json_string_value(j), json_string_length(j), out);
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        if (!jv_list_new(c, n, out)) return false;
        for (size_t i = 0; i < n; i++) {
            jv item;
            if (!from_json(c, json_array_get(j, i), &item, depth + 1)) return false;
            if (!jv_list_push(c, out->u.l, item)) return false;
        }
        return true;
    }
    case JSON_OBJECT: {
        if (!jv_dict_new(c, out)) return false;
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, key, klen, val) {
            jv k, v;
            if (!jv_str_copy(c, key, klen, &k)) return false;
            if (!from_json(c, val, &v, depth + 1)) return false;
            if (!jv_dict_set(c, out->u.d, k, v)) return false;
        }
        return true;
    }
    }
    return jfail(c, "unknown JSON type");
}

bool jv_from_json(jctx *c, const json_t *j, jv *out) { return from_json(c, j, out, 0); }

static void put_u16(jbuf *b, unsigned u) { jb_printf(b, "\\u%04x", u); }

/* decodes one UTF-8 sequence at p (n bytes left); invalid bytes map to
 * themselves so nothing is lost */
static unsigned utf8_decode(const unsigned char *p, size_t n, size_t *len) {
    unsigned ch = p[0];
    size_t need = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;
    if (need > n) need = 1;
    if (need == 1) {
        *len = 1;
        return ch;
    }
    unsigned cp = ch & (0x3f >> (need - 1));
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *len = 1;
            return ch;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    *len = need;
    return cp;
}

static void write_json_string(jbuf *b, jstr s, bool ensure_ascii) {
    jb_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.n;) {
        unsigned char ch = p[i];
        if (ch == '"') jb_puts(b, "\\\"");
        else if (ch == '\\') jb_puts(b, "\\\\");
        else if (ch == '\n') jb_puts(b, "\\n");
        else if (ch == '\r') jb_puts(b, "\\r");
        else if (ch == '\t') jb_puts(b, "\\t");
        else if (ch == '\b') jb_puts(b, "\\b");
        else if (ch == '\f') jb_puts(b, "\\f");
        else if (ch < 0x20) put_u16(b, ch);
        else if (ch >= 0x80 && ensure_ascii) {
            size_t len;
            unsigned cp = utf8_decode(p + i, s.n - i, &len);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                put_u16(b, 0xd800 + (cp >> 10));
                put_u16(b, 0xdc00 + (cp & 0x3ff));
            } else {
                put_u16(b, cp);
            }
            i += len;
            continue;
        } else jb_putc(b, (char)ch);
        i++;
    }
    jb_putc(b, '"');
}

static void newline_indent(jbuf *b, const jjson_opts *o, int64_t level) {
    jb_putc(b, '\n');
    for (int64_t i = 0; i < o->indent * level; i++) jb_putc(b, ' ');
}

static bool write_key(jctx *c, jbuf *b, jv k, const jjson_opts *o) {
    switch (k.k) {
    case JV_STR: write_json_string(b, k.u.s, o->ensure_ascii); return true;
    case JV_NONE: jb_puts(b, "\"null\""); return true;
    case JV_BOOL: jb_puts(b, k.u.b ? "\"true\"" : "\"false\""); return true;
    case JV_INT: jb_printf(b, "\"%lld\"", (long long)k.u.i); return true;
    case JV_FLOAT:
        jb_putc(b, '"');
        jv_write_float(b, k.u.f);
        jb_putc(b, '"');
        return true;
    default: return jfail(c, "keys must be str, int, float, bool or None, not %s",
                          jv_type_name(k));
    }
}

/* order of dict entries: insertion order, or sorted keys */
static bool entry_order(jctx *c, const jdict *d, bool sort, size_t *idx) {
    for (size_t i = 0; i < d->n; i++) idx[i] = i;
    if (!sort) return true;
    for (size_t i = 1; i < d->n; i++) { /* insertion sort: stable, dicts are small */
        size_t cur = idx[i], j = i;
        while (j > 0) {
            int cmp;
            if (!jv_compare(c, d->key[idx[j - 1]], d->key[cur], &cmp)) return false;
            if (cmp <= 0) break;
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = cur;
    }
    return true;
}

static bool write_dict(jctx *c, jbuf *b, const jdict *d, const jjson_opts *o, int64_t level) {
    if (d->n == 0) {
        jb_puts(b, "{}");
        return true;
    }
    size_t *idx = ja_alloc(c->arena, d->n * sizeof *idx);
    if (!idx) return jlimit(c, "memory limit exceeded");
    if (!entry_order(c, d, o->sort_keys, idx)) return false;
    jb_putc(b, '{');
    for (size_t i = 0; i < d->n; i++) {
        if (i) jb_put(b, o->item_sep.p, o->item_sep.n);
        if (o->indent >= 0) newline_indent(b, o, level + 1);
        if (!write_key(c, b, d->key[idx[i]], o)) return false;
        jb_put(b, o->key_sep.p, o->key_sep.n);
        if (!jv_write_json(c, b, d->val[idx[i]], o, level + 1)) return false;
    }
    if (o->indent >= 0) newline_indent(b, o, level);
    jb_putc(b, '}');
    return true;
}

bool jv_write_json(jctx *c, jbuf *b, jv v, const jjson_opts *o, int64_t level) {
    if (level > 200) return jfail(c, "value nested too deeply for tojson");
    switch (v.k) {
    case JV_NONE: jb_puts(b, "null"); break;
    case JV_BOOL: jb_puts(b, v.u.b ? "true" : "false"); break;
    case JV_INT: jb_printf(b, "%lld", (long long)v.u.i); break;
    case JV_FLOAT:
        if (isnan(v.u.f)) jb_puts(b, "NaN");
        else if (isinf(v.u.f)) jb_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else jv_write_float(b, v.u.f);
        break;
    case JV_STR: write_json_string(b, v.u.s, o->ensure_ascii); break;
    case JV_LIST: {
        const jlist *l = v.u.l;
        if (l->gen) return jfail(c, "Object of type generator is not JSON serializable");
        if (l->n == 0) {
            jb_puts(b, "[]");
            break;
        }
        jb_putc(b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jb_put(b, o->item_sep.p, o->item_sep.n);
            if (o->indent >= 0) newline_indent(b, o, level + 1);
            if (!jv_write_json(c, b, l->v[i], o, level + 1)) return false;
        }
        if (o->indent >= 0) newline_indent(b, o, level);
        jb_putc(b, ']');
        break;
    }
    case JV_DICT:
        if (!write_dict(c, b, v.u.d, o, level)) return false;
        break;
    default:
        return jfail(c, "Object of type %s is not JSON serializable", jv_type_name(v));
    }
    if (b->overflow) return jlimit(c, "output limit exceeded");
    return true;
}
