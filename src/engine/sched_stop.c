/* Stop strings for the scheduler. Generated text is appended to a hold
 * buffer; text is released once no stop string can begin inside it, so a
 * stop string split over several tokens is still caught and never shown.
 * Main data: sched_stop.buf (held text) and .out (text being released). */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

void sched_stop_init(sched_stop *s, char *const *stop, int32_t n_stop) {
    *s = (sched_stop){.stop = stop, .n_stop = n_stop};
}

void sched_stop_free(sched_stop *s) {
    free(s->buf);
    free(s->out);
    *s = (sched_stop){0};
}

static bool reserve(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2) return false;
        n *= 2;
    }
    char *q = realloc(*p, n);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* Moves the first n held bytes to out. */
static bool release(sched_stop *s, size_t n, const char **out, size_t *out_len) {
    if (!reserve(&s->out, &s->out_cap, n + 1)) return false;
    memcpy(s->out, s->buf, n);
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
    *out = s->out;
    *out_len = n;
    return true;
}

/* Earliest position of any stop string in the buffer, or SIZE_MAX. */
static size_t find_stop(const sched_stop *s) {
    size_t best = SIZE_MAX;
    for (int32_t i = 0; i < s->n_stop; i++) {
        size_t n = strlen(s->stop[i]);
        if (n == 0 || n > s->len) continue;
        for (size_t p = 0; p + n <= s->len && p < best; p++)
            if (memcmp(s->buf + p, s->stop[i], n) == 0) best = p;
    }
    return best;
}

/* Length of the longest buffer suffix that is a proper prefix of a stop string. */
static size_t held_suffix(const sched_stop *s) {
    size_t keep = 0;
    for (int32_t i = 0; i < s->n_stop; i++) {
        size_t n = strlen(s->stop[i]);
        if (n == 0) continue;
        for (size_t k = n - 1 < s->len ? n - 1 : s->len; k > keep; k--)
            if (memcmp(s->buf + s->len - k, s->stop[i], k) == 0) {
                keep = k;
                break;
            }
    }
    return keep;
}

int sched_stop_push(sched_stop *s, const char *text, size_t len, const char **out, size_t *out_len) {
    *out = "";
    *out_len = 0;
    if (s->n_stop == 0) {
        *out = text;
        *out_len = len;
        return 0;
    }
    if (len > SIZE_MAX - s->len - 1 || !reserve(&s->buf, &s->cap, s->len + len + 1)) return -1;
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    size_t at = find_stop(s);
    if (at != SIZE_MAX) {
        if (!release(s, at, out, out_len)) return -1;
        s->len = 0;
        return 1;
    }
    return release(s, s->len - held_suffix(s), out, out_len) ? 0 : -1;
}

void sched_stop_flush(sched_stop *s, const char **out, size_t *out_len) {
    *out = "";
    *out_len = 0;
    if (s->len > 0 && !release(s, s->len, out, out_len)) s->len = 0;
}
