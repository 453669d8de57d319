/* Small helpers for eval: a growable string buffer, loose JSON extraction
 * from model output, numeric-tolerant JSON equality, HTML escaping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void ev_buf_put(ev_buf *b, const char *s, size_t n) {
    if (b->cap == 0 && !b->p) b->ok = true;
    if (!b->ok) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->ok = false;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = false;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ev_buf_puts(ev_buf *b, const char *s) { ev_buf_put(b, s, strlen(s)); }

void ev_buf_printf(ev_buf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->ok = false;
        return;
    }
    if ((size_t)n < sizeof small) {
        ev_buf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->ok = false;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ev_buf_put(b, big, (size_t)n);
    free(big);
}

void ev_buf_free(ev_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *ev_strndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *ev_strdup(const char *s) { return s ? ev_strndup(s, strlen(s)) : NULL; }

static json_t *try_json(const char *s, size_t n) {
    while (n && strchr(" \t\r\n", *s)) s++, n--;
    while (n && strchr(" \t\r\n", s[n - 1])) n--;
    if (!n) return NULL;
    return json_loadb(s, n, JSON_DECODE_ANY, NULL);
}

/* The end of the JSON container starting at s[0] ('{' or '['), by bracket
 * counting outside strings; 0 when unbalanced. */
static size_t span_end(const char *s, size_t n) {
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') in_str = true;
        else if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    }
    return 0;
}

json_t *ev_parse_json_loose(const char *text, size_t len) {
    json_t *v = try_json(text, len);
    if (v) return v;
    const char *f = memmem(text, len, "```", 3);
    if (f) {
        const char *body = memchr(f, '\n', len - (size_t)(f - text));
        const char *close = body ? memmem(body, len - (size_t)(body - text), "```", 3) : NULL;
        if (body && close && (v = try_json(body, (size_t)(close - body)))) return v;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '{' && text[i] != '[') continue;
        size_t e = span_end(text + i, len - i);
        if (e && (v = try_json(text + i, e))) return v;
    }
    return NULL;
}

bool ev_json_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x == y || fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
    }
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!ev_json_equal(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !ev_json_equal(v, w)) return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

void ev_html_escape(ev_buf *b, const char *s) {
    for (const char *p = s; p && *p; p++) {
        switch (*p) {
        case '<': ev_buf_puts(b, "&lt;"); break;
        case '>': ev_buf_puts(b, "&gt;"); break;
        case '&': ev_buf_puts(b, "&amp;"); break;
        case '"': ev_buf_puts(b, "&quot;"); break;
        case '\'': ev_buf_puts(b, "&#39;"); break;
        default: ev_buf_put(b, p, 1);
        }
    }
}

json_t *ev_json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

double ev_num(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}
