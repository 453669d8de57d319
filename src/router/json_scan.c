/* A light pass over a JSON object's bytes that finds one top-level member
 * without building a tree: the proxy passes a remote answer to the client
 * as the bytes it received and only needs its "usage" member, so parsing
 * (and re-serialising) the whole answer would be wasted work on the
 * request path. The pass checks the shape it walks (an object, strings
 * closed, brackets balanced, nothing after the end) but is no validator:
 * the value it returns is parsed by jansson. */
#include <string.h>

#include "router/router_internal.h"

typedef struct scan {
    const char *p, *end;
} scan;

static void ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

/* At an opening quote: moves past the closing one. */
static bool skip_string(scan *s) {
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\') {
            s->p++;
            continue;
        }
        if (*s->p == '"') {
            s->p++;
            return true;
        }
    }
    return false;
}

/* Moves past one value (string, number, literal, object or array). */
static bool skip_value(scan *s) {
    int depth = 0;
    ws(s);
    do {
        if (s->p >= s->end) return false;
        char c = *s->p;
        if (c == '"') {
            if (!skip_string(s)) return false;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') {
            if (--depth < 0) return false;
        } else if (depth == 0 && (c == ',' || c == ':')) {
            return false;
        }
        s->p++;
        if (depth == 0 && c != '{' && c != '[' && c != '}' && c != ']') { /* a scalar: to its end */
            while (s->p < s->end && !strchr(",}] \t\r\n", *s->p)) s->p++;
        }
    } while (depth > 0);
    return true;
}

bool rt_json_member(const char *buf, size_t len, const char *key, const char **val, size_t *vlen) {
    scan s = {buf, buf + len};
    size_t klen = strlen(key);
    *val = NULL;
    *vlen = 0;
    ws(&s);
    if (s.p >= s.end || *s.p != '{') return false;
    s.p++;
    ws(&s);
    if (s.p < s.end && *s.p == '}') s.p++;
    else
        for (;;) {
            ws(&s);
            if (s.p >= s.end || *s.p != '"') return false;
            const char *k = s.p + 1;
            if (!skip_string(&s)) return false;
            bool hit = (size_t)(s.p - 1 - k) == klen && !memcmp(k, key, klen);
            ws(&s);
            if (s.p >= s.end || *s.p != ':') return false;
            s.p++;
            ws(&s);
            const char *v = s.p;
            if (!skip_value(&s)) return false;
            if (hit) *val = v, *vlen = (size_t)(s.p - v);
            ws(&s);
            if (s.p < s.end && *s.p == ',') {
                s.p++;
                continue;
            }
            if (s.p < s.end && *s.p == '}') {
                s.p++;
                break;
            }
            return false;
        }
    ws(&s);
    return s.p == s.end;
}
