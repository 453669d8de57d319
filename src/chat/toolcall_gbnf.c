/* Tool-call grammars: GBNF for "a valid call of one of these functions"
 * in a family's syntax. The caller gives each function's argument grammar
 * (GBNF with root rule "root", from the JSON-Schema translation); their
 * rule names are prefixed apart ("t0-", "t1-", ...) and a wrapper in the
 * family's syntax chooses the function by its name. Main data: a growing
 * text buffer (gbuf) the rules are written into. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/toolcall.h"

#define MAX_FNS 128

typedef struct gbuf {
    char *s;
    size_t len, cap;
    bool oom;
} gbuf;

static void put(gbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->s, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->s = q;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(gbuf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(gbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(gbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) b->oom = true;
    else put(b, tmp, (size_t)n);
}

static bool word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Copies a GBNF text with every rule name prefixed: names are the words
 * outside "literals", [classes], {counts} and # comments. */
static void put_renamed(gbuf *b, const char *g, const char *prefix) {
    size_t n = strlen(g);
    for (size_t i = 0; i < n;) {
        char c = g[i];
        if (c == '"' || c == '[') {
            char close = c == '"' ? '"' : ']';
            size_t k = i + 1;
            while (k < n && g[k] != close) k += g[k] == '\\' && k + 1 < n ? 2 : 1;
            k = k < n ? k + 1 : n;
            put(b, g + i, k - i);
            i = k;
        } else if (c == '{' || c == '#') {
            size_t k = i;
            while (k < n && g[k] != (c == '{' ? '}' : '\n')) k++;
            k = k < n ? k + 1 : n;
            put(b, g + i, k - i);
            i = k;
        } else if (word_char(c)) {
            size_t k = i;
            while (k < n && word_char(g[k])) k++;
            puts_(b, prefix);
            put(b, g + i, k - i);
            i = k;
        } else {
            put(b, g + i, 1);
            i++;
        }
    }
    puts_(b, "\n");
}

/* A GBNF string literal for the text s. */
static void put_lit(gbuf *b, const char *s) {
    puts_(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') putf(b, "\\%c", c);
        else if (c == '\n') puts_(b, "\\n");
        else if (c < 0x20) putf(b, "\\x%02X", c);
        else put(b, s, 1);
    }
    puts_(b, "\"");
}

/* A GBNF literal for a JSON string holding name. */
static void put_json_name(gbuf *b, const char *name) {
    json_t *j = json_string(name);
    char *s = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!s) {
        b->oom = true;
        return;
    }
    put_lit(b, s);
    free(s);
}

static const char *name_key(slm_tool_format f) { return f == SLM_TOOL_FMT_COMMANDR ? "tool_name" : "name"; }
static const char *args_key(slm_tool_format f) {
    return f == SLM_TOOL_FMT_LLAMA3 || f == SLM_TOOL_FMT_COMMANDR ? "parameters" : "arguments";
}

/* tc-call ::= {"name": N, "arguments": A} over every function. */
static void put_call_rule(gbuf *b, slm_tool_format f, const slm_tool_gbnf_fn *fns, size_t n) {
    putf(b, "tc-call ::= \"{\" tc-ws \"\\\"%s\\\"\" tc-ws \":\" tc-ws (", name_key(f));
    for (size_t i = 0; i < n; i++) {
        puts_(b, i ? " | " : " ");
        put_json_name(b, fns[i].name);
        putf(b, " tc-ws \",\" tc-ws \"\\\"%s\\\"\" tc-ws \":\" tc-ws t%zu-root", args_key(f), i);
    }
    puts_(b, " ) tc-ws \"}\"\n");
}

/* Functionary: tc-fn ::= ">>>" ( "name\n" args | ... ). */
static void put_functionary_rule(gbuf *b, const slm_tool_gbnf_fn *fns, size_t n, bool lazy) {
    puts_(b, "tc-fn ::= \">>>\" (");
    for (size_t i = 0; i < n; i++) {
        puts_(b, i ? " | " : " ");
        char *line = malloc(strlen(fns[i].name) + 2);
        if (!line) {
            b->oom = true;
            return;
        }
        sprintf(line, "%s\n", fns[i].name);
        put_lit(b, line);
        free(line);
        putf(b, " t%zu-root", i);
    }
    if (lazy) puts_(b, " | \"all\\n\" [^>]*"); /* text between calls */
    puts_(b, " )\n");
}

/* X{1,max}: "X" then up to max-1 more, each after sep. */
static void put_repeat(gbuf *b, const char *item, const char *sep, int max_calls) {
    puts_(b, item);
    if (max_calls > 1) putf(b, " ( %s %s ){0,%d}", sep, item, max_calls - 1);
}

static void put_root(gbuf *b, slm_tool_format f, bool lazy, int max) {
    const char *sep = lazy ? "tc-ws" : "";
    switch (f) {
    case SLM_TOOL_FMT_HERMES:
        puts_(b, "root ::= ");
        put_repeat(b, "tc-block", lazy ? "tc-ws" : "\"\\n\"", max);
        puts_(b, lazy ? "\ntc-block ::= \"<tool_call>\" tc-ws tc-call tc-ws \"</tool_call>\"\n"
                      : "\ntc-block ::= \"<tool_call>\\n\" tc-call \"\\n</tool_call>\"\n");
        break;
    case SLM_TOOL_FMT_LLAMA3:
        puts_(b, lazy ? "root ::= ( \"<|python_tag|>\" tc-ws )? tc-call\n" : "root ::= tc-call\n");
        break;
    case SLM_TOOL_FMT_MISTRAL:
    case SLM_TOOL_FMT_PHI4:
    case SLM_TOOL_FMT_COMMANDR:
        putf(b, "tc-list ::= \"[\" %s ", sep);
        put_repeat(b, "tc-call", lazy ? "tc-ws \",\" tc-ws" : "\",\"", max);
        putf(b, " %s \"]\"\n", sep);
        if (!lazy) puts_(b, f == SLM_TOOL_FMT_COMMANDR ? "root ::= \"Action:\\n```json\\n\" tc-list \"\\n```\"\n"
                                                         : "root ::= tc-list\n");
        else if (f == SLM_TOOL_FMT_MISTRAL) puts_(b, "root ::= \"[TOOL_CALLS]\" tc-ws tc-list\n");
        else if (f == SLM_TOOL_FMT_PHI4)
            puts_(b, "root ::= \"<|tool_call|>\" tc-ws tc-list tc-ws \"<|/tool_call|>\" | \"functools\" tc-list\n");
        else puts_(b, "root ::= \"Action:\" tc-ws \"```json\" tc-ws tc-list tc-ws \"```\"\n");
        break;
    case SLM_TOOL_FMT_FUNCTIONARY:
        puts_(b, "root ::= ");
        put_repeat(b, "tc-fn", lazy ? "tc-ws" : "", max);
        puts_(b, "\n");
        break;
    default:
        puts_(b, "root ::= tc-call\n");
        break;
    }
}

slm_status slm_toolcall_gbnf(slm_tool_format f, const slm_tool_gbnf_fn *fns, size_t n, bool lazy,
                             int max_calls, char **gbnf, slm_error *err) {
    *gbnf = NULL;
    if (n == 0 || !fns) return slm_error_set(err, SLM_ERR_INVALID_ARG, "tools: no function to call");
    if (n > MAX_FNS) return slm_error_set(err, SLM_ERR_INVALID_ARG, "tools: at most %d functions", MAX_FNS);
    if (max_calls < 1) max_calls = 1;
    if (max_calls > 64) max_calls = 64;
    for (size_t i = 0; i < n; i++)
        if (!fns[i].name || !fns[i].name[0] || strlen(fns[i].name) > 256 || !fns[i].args_gbnf)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "tools[%zu]: a function needs a name (1-256 bytes) and arguments", i);
    gbuf b = {0};
    put_root(&b, f, lazy, max_calls);
    if (f == SLM_TOOL_FMT_FUNCTIONARY) put_functionary_rule(&b, fns, n, lazy);
    else put_call_rule(&b, f, fns, n);
    puts_(&b, lazy ? "tc-ws ::= [ \\t\\n]{0,8}\n" : "tc-ws ::= \"\"\n");
    for (size_t i = 0; i < n; i++) {
        char prefix[24];
        snprintf(prefix, sizeof prefix, "t%zu-", i);
        put_renamed(&b, fns[i].args_gbnf, prefix);
    }
    if (b.oom) {
        free(b.s);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    *gbnf = b.s;
    return SLM_OK;
}
