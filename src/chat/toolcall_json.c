/* Raw JSON spans for tool-call parsing: where a value ends, where an
 * object's member or an array's element lies, and minifying (dropping the
 * whitespace outside strings). These walk text jansson has already
 * accepted, so they only track strings, escapes and nesting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toolcall_internal.h"

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t ws(const char *t, size_t b, size_t i) {
    while (i < b && is_ws(t[i])) i++;
    return i;
}

size_t tc_json_skip(const char *t, size_t len, size_t i) {
    if (i >= len) return SIZE_MAX;
    if (t[i] == '"') {
        for (size_t k = i + 1; k < len; k++) {
            if (t[k] == '\\') k++;
            else if (t[k] == '"') return k + 1;
        }
        return SIZE_MAX;
    }
    if (t[i] != '{' && t[i] != '[') { /* number, true, false, null */
        size_t k = i;
        while (k < len && !is_ws(t[k]) && t[k] != ',' && t[k] != '}' && t[k] != ']') k++;
        return k;
    }
    int depth = 0;
    bool in_str = false;
    for (size_t k = i; k < len; k++) {
        char c = t[k];
        if (in_str) {
            if (c == '\\') k++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return k + 1;
        }
    }
    return SIZE_MAX;
}

bool tc_json_member(const char *t, size_t a, size_t b, const char *key, size_t *va, size_t *vb) {
    if (a >= b || t[a] != '{') return false;
    size_t kl = strlen(key), i = ws(t, b, a + 1);
    while (i < b && t[i] == '"') {
        size_t ke = tc_json_skip(t, b, i);
        if (ke == SIZE_MAX) return false;
        bool match = ke - i == kl + 2 && memcmp(t + i + 1, key, kl) == 0;
        i = ws(t, b, ke);
        if (i >= b || t[i] != ':') return false;
        i = ws(t, b, i + 1);
        size_t ve = tc_json_skip(t, b, i);
        if (ve == SIZE_MAX) return false;
        if (match) {
            *va = i;
            *vb = ve;
            return true;
        }
        i = ws(t, b, ve);
        if (i < b && t[i] == ',') i = ws(t, b, i + 1);
    }
    return false;
}

bool tc_json_next_element(const char *t, size_t b, size_t *pos, size_t *ea, size_t *eb) {
    size_t i = ws(t, b, *pos);
    if (i >= b || t[i] == ']') return false;
    size_t e = tc_json_skip(t, b, i);
    if (e == SIZE_MAX) return false;
    *ea = i;
    *eb = e;
    i = ws(t, b, e);
    if (i < b && t[i] == ',') i++;
    *pos = i;
    return true;
}

char *tc_json_minify(const char *t, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < n) out[o++] = t[++i];
            else if (c == '"') in_str = false;
        } else if (!is_ws(c)) {
            out[o++] = c;
            in_str = c == '"';
        }
    }
    out[o] = '\0';
    return out;
}
