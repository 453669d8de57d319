/* Memory for the Jinja interpreter: a bump arena of chunks (every value
 * of one render, freed at once; its byte cap is the sandbox's memory
 * limit) and jbuf, a malloc'ed growable byte buffer with a size limit
 * (template output, string building). */
#include "chat/jinja.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jchunk {
    jchunk *next;
    size_t size, used;
    max_align_t data[];
};

enum { JA_CHUNK = 64 * 1024 };

void *ja_alloc(jarena *a, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL;
    jchunk *h = a->head;
    if (!h || h->size - h->used < need) {
        size_t size = need > JA_CHUNK ? need : JA_CHUNK;
        uint64_t total;
        if (!slm_add_ok(a->used, size + sizeof(jchunk), &total)) return NULL;
        if (a->cap && total > a->cap) return NULL;
        h = malloc(sizeof(jchunk) + size);
        if (!h) return NULL;
        h->size = size;
        h->used = 0;
        h->next = a->head;
        a->head = h;
        a->used = (size_t)total;
    }
    void *p = (char *)h->data + h->used;
    h->used += need;
    memset(p, 0, n);
    return p;
}

void ja_free(jarena *a) {
    jchunk *h = a->head;
    while (h) {
        jchunk *next = h->next;
        free(h);
        h = next;
    }
    a->head = NULL;
    a->used = 0;
}

bool jb_put(jbuf *b, const char *s, size_t n) {
    if (b->overflow) return false;
    if (n == 0) {
        if (!b->p) {
            b->p = malloc(16);
            if (!b->p) return !(b->overflow = true);
            b->cap = 16;
            b->p[0] = '\0';
        }
        return true;
    }
    uint64_t need;
    if (!slm_add_ok(b->n, n, &need) || (b->limit && need > b->limit)) {
        b->overflow = true;
        return false;
    }
    if (need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need + 1) {
            if (cap > SIZE_MAX / 2) return !(b->overflow = true);
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) return !(b->overflow = true);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n = (size_t)need;
    b->p[b->n] = '\0';
    return true;
}

bool jb_puts(jbuf *b, const char *s) { return jb_put(b, s, strlen(s)); }

bool jb_putc(jbuf *b, char c) { return jb_put(b, &c, 1); }

bool jb_printf(jbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1; /* callers print short numbers */
    return jb_put(b, tmp, (size_t)n);
}

void jb_free(jbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
