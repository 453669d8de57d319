/* Chat-template check for `slm scan`: Jinja templates ship inside GGUF
 * metadata and run on every request, so a template that reaches for
 * Python internals (the classic sandbox escape: ''.__class__.__mro__,
 * cycler.__init__.__globals__.os.popen, |attr('__globals__'), escaped
 * underscores) is flagged. Only code inside {{ }} and {% %} is examined;
 * text outside is output and harmless. The walk is a small lexer: string
 * literals and identifiers, nothing else matters for these patterns. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "slm/store.h"

/* Identifiers no chat template needs and sandbox escapes rely on. */
static const char *const DENY[] = {
    "import", "popen", "subprocess", "eval", "exec", "getattr", "setattr", "globals", "builtins", "mro",
    "subclasses", "lipsum", "cycler", "joiner", "self", "config", "request", "os", "sys", "attr", "compile",
    "func_globals", "f_globals", "gi_frame", "breakpoint", "url_for", "get_flashed_messages",
};

static void add(slm_scan_report *rep, const char *key, const char *what, const char *tok, size_t n, size_t at) {
    if (rep->n_findings >= SLM_SCAN_MAX_FINDINGS) return;
    snprintf(rep->findings[rep->n_findings++], sizeof rep->findings[0], "chat template %s: %s '%.*s' at byte %zu",
             key, what, (int)(n > 60 ? 60 : n), tok, at);
    rep->verdict = SLM_SCAN_UNSAFE;
}

static bool denied(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof DENY / sizeof DENY[0]; i++)
        if (strlen(DENY[i]) == n && memcmp(DENY[i], s, n) == 0) return true;
    return false;
}

static bool has(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return true;
    return false;
}

/* A string literal starting at t[i] (a quote); returns the index after it. */
static size_t literal(const char *t, size_t i, size_t end, const char *key, size_t base, slm_scan_report *rep) {
    char q = t[i];
    size_t j = i + 1;
    while (j < end && t[j] != q) j += (t[j] == '\\' && j + 1 < end) ? 2 : 1;
    size_t n = j - i - 1;
    const char *s = t + i + 1;
    if (has(s, n, "__")) add(rep, key, "dunder name in a string", s, n, base + i);
    else if (has(s, n, "\\x5f") || has(s, n, "\\u005f") || has(s, n, "\\137") || has(s, n, "\\x5F"))
        add(rep, key, "escaped underscore (obfuscation) in", s, n, base + i);
    return j < end ? j + 1 : end;
}

/* Scans one code region t[start, end). */
static void code(const char *t, size_t start, size_t end, const char *key, slm_scan_report *rep) {
    size_t i = start;
    while (i < end) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\'' || c == '"') {
            i = literal(t, i, end, key, 0, rep);
        } else if (isalpha(c) || c == '_') {
            size_t j = i;
            while (j < end && (isalnum((unsigned char)t[j]) || t[j] == '_')) j++;
            if (has(t + i, j - i, "__")) add(rep, key, "accesses Python internals", t + i, j - i, i);
            else if (denied(t + i, j - i)) add(rep, key, "uses", t + i, j - i, i);
            i = j;
        } else {
            i++;
        }
    }
}

void slm_scan_template(const char *t, size_t n, const char *key, slm_scan_report *rep) {
    size_t i = 0;
    while (i + 1 < n) {
        if (t[i] != '{' || (t[i + 1] != '{' && t[i + 1] != '%' && t[i + 1] != '#')) {
            i++;
            continue;
        }
        char close = t[i + 1] == '{' ? '}' : t[i + 1];
        size_t j = i + 2;
        while (j + 1 < n && !(t[j] == close && t[j + 1] == '}')) {
            if (close != '#' && (t[j] == '\'' || t[j] == '"')) {
                char q = t[j++]; /* skip literals so "}}" inside one does not end the block */
                while (j < n && t[j] != q) j += (t[j] == '\\' && j + 1 < n) ? 2 : 1;
            }
            j++;
        }
        if (j > n) j = n;
        if (close != '#') code(t, i + 2, j, key, rep);
        i = j + 2;
    }
}
