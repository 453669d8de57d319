/* Small helpers for the grammar code: a growable string (gstr) with a
 * sticky out-of-memory flag, so generators can append freely and check
 * once at the end, and a generic array grower. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grammar/grammar_internal.h"

int grow_array(void **p, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    size_t bytes;
    if (__builtin_mul_overflow(nc, sz, &bytes)) return -1;
    void *q = realloc(*p, bytes);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void gstr_add(gstr *s, const char *t, size_t n) {
    if (s->oom) return;
    if (grow_array((void **)&s->p, &s->cap, s->len + n + 1, 1) != 0) {
        s->oom = 1;
        return;
    }
    memcpy(s->p + s->len, t, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void gstr_puts(gstr *s, const char *t) { gstr_add(s, t, strlen(t)); }

void gstr_printf(gstr *s, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->oom = 1;
        return;
    }
    if ((size_t)n < sizeof buf) {
        gstr_add(s, buf, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        s->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    gstr_add(s, big, (size_t)n);
    free(big);
}

/* Printable ASCII stays as is (bar " and \), control bytes become \xHH,
 * bytes >= 0x80 go through raw: the parser decodes the text as UTF-8, so a
 * literal holds code points (invalid UTF-8 is a parse error). */
void gstr_gbnf_lit(gstr *s, const char *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            gstr_add(s, e, 2);
        } else if (c >= 0x20 && c != 0x7f) { /* includes raw UTF-8 bytes */
            gstr_add(s, (const char *)&c, 1);
        } else {
            gstr_printf(s, "\\x%02X", c);
        }
    }
}

void gstr_free(gstr *s) {
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}
