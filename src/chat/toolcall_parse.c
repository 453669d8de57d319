/* Tool-call parsing: generated text -> content + OpenAI-style calls
 * [{name, arguments (JSON text)}]. Each format is a list of markers that
 * open a call, the shape of what follows (a JSON call or list of calls, or
 * a function name then JSON arguments, or XML-style parameters) and an
 * optional closing marker. The
 * text between calls is content. When a format's markers are absent (its
 * marker was a control token the output does not show, or the output was
 * constrained to the bare JSON), a text that is as a whole a JSON call or
 * list of calls is taken as calls. Model output never makes parsing fail:
 * what does not parse stays content. Main data: the marker tables and the
 * `parse` state (content buffer + calls array). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "slm/toolcall.h"
#include "toolcall_internal.h"

typedef enum body_kind {
    BODY_JSON,      /* a call object or a list of calls */
    BODY_NAME_NL,   /* NAME "\n" JSON args (Functionary v3.2; "all" = text) */
    BODY_NAME_GT,   /* NAME ">" JSON args (Functionary v3.1 <function=NAME>) */
    BODY_NAME_ARGS, /* NAME "[ARGS]" JSON args (Mistral v11+) */
    BODY_XML_FUNC,  /* <function=NAME><parameter=K>V</parameter>...</function> (Qwen3-Coder, Nemotron) */
} body_kind;

typedef struct marker {
    const char *open, *close;
    body_kind body;
} marker;

static const marker M_HERMES[] = {{"<tool_call>", "</tool_call>", BODY_JSON},
                                   {"<tool_call>", "</tool_call>", BODY_XML_FUNC}, {0}};
static const marker M_LLAMA3[] = {{"<|python_tag|>", "<|eom_id|>", BODY_JSON}, {0}};
static const marker M_MISTRAL[] = {{"[TOOL_CALLS]", NULL, BODY_JSON}, {"[TOOL_CALLS]", NULL, BODY_NAME_ARGS}, {0}};
static const marker M_PHI4[] = {{"<|tool_call|>", "<|/tool_call|>", BODY_JSON}, {"functools", NULL, BODY_JSON}, {0}};
static const marker M_FUNCTIONARY[] = {{">>>", NULL, BODY_NAME_NL}, {"<function=", "</function>", BODY_NAME_GT}, {0}};
static const marker M_COMMANDR[] = {{"Action:", NULL, BODY_JSON}, {0}};
static const marker M_NONE[] = {{0}};

static const marker *markers_of(slm_tool_format f) {
    switch (f) {
    case SLM_TOOL_FMT_HERMES: return M_HERMES;
    case SLM_TOOL_FMT_LLAMA3: return M_LLAMA3;
    case SLM_TOOL_FMT_MISTRAL: return M_MISTRAL;
    case SLM_TOOL_FMT_PHI4: return M_PHI4;
    case SLM_TOOL_FMT_FUNCTIONARY: return M_FUNCTIONARY;
    case SLM_TOOL_FMT_COMMANDR: return M_COMMANDR;
    default: return M_NONE;
    }
}

typedef struct parse {
    const char *text;
    size_t len;
    char *content;
    size_t clen, ccap;
    json_t *calls;
    bool oom;
} parse;

static void content_add(parse *p, const char *s, size_t n) {
    if (p->oom || n == 0) return;
    if (p->clen + n + 1 > p->ccap) {
        size_t cap = p->ccap ? p->ccap : 256;
        while (cap < p->clen + n + 1) cap *= 2;
        char *q = realloc(p->content, cap);
        if (!q) {
            p->oom = true;
            return;
        }
        p->content = q;
        p->ccap = cap;
    }
    memcpy(p->content + p->clen, s, n);
    p->clen += n;
    p->content[p->clen] = '\0';
}

static size_t skip_ws(const char *t, size_t len, size_t i) {
    while (i < len && isspace((unsigned char)t[i])) i++;
    return i;
}

static bool starts(const char *t, size_t len, size_t i, const char *s) {
    size_t n = strlen(s);
    return i <= len && len - i >= n && memcmp(t + i, s, n) == 0;
}

/* A function name t[a..b) has no control bytes (a NUL would cut it short). */
static bool plain_name(const char *t, size_t a, size_t b) {
    for (size_t c = a; c < b; c++)
        if ((unsigned char)t[c] < 0x20 || t[c] == 0x7f) return false;
    return true;
}

/* Parses one JSON value at t[i..); *end is the first byte after it. */
static json_t *json_at(const char *t, size_t len, size_t i, size_t *end) {
    json_error_t je;
    json_t *v = json_loadb(t + i, len - i, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &je);
    if (v) *end = i + (size_t)je.position;
    return v;
}

/* OpenAI's arguments: the JSON text as written, minified (so streaming
 * and whole parsing agree byte for byte). A string is kept as it is (some
 * models write the arguments already encoded); absent or null is {}. */
static char *args_text(const char *t, size_t a, size_t b, const json_t *args) {
    if (!args || json_is_null(args)) return strdup("{}");
    if (json_is_string(args)) return strdup(json_string_value(args));
    return tc_json_minify(t + a, b - a);
}

static bool add_call(json_t *out, const char *name, const char *t, size_t a, size_t b, const json_t *args) {
    char *text = args_text(t, a, b, args);
    json_t *c = text ? json_pack("{s:s, s:s}", "name", name, "arguments", text) : NULL;
    free(text);
    return c && json_array_append_new(out, c) == 0;
}

/* Appends the calls a value (spanning t[a..b)) holds; false when it is
 * not (only) calls. */
static bool value_calls(json_t *out, const json_t *v, const char *t, size_t a, size_t b) {
    if (json_is_array(v)) {
        if (json_array_size(v) == 0) return false;
        size_t pos = a + 1, ea, eb, k = 0;
        while (tc_json_next_element(t, b, &pos, &ea, &eb))
            if (!value_calls(out, json_array_get(v, k++), t, ea, eb)) return false;
        return k == json_array_size(v);
    }
    if (!json_is_object(v)) return false;
    size_t va = 0, vb = 0;
    const json_t *tc = json_object_get(v, "tool_calls");
    if (tc) return tc_json_member(t, a, b, "tool_calls", &va, &vb) && value_calls(out, tc, t, va, vb);
    const json_t *fn = json_object_get(v, "function");
    if (json_is_object(fn)) return tc_json_member(t, a, b, "function", &va, &vb) && value_calls(out, fn, t, va, vb);
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name) name = json_string_value(json_object_get(v, "tool_name"));
    if (!name || !*name) return false;
    const char *key = json_object_get(v, "arguments") ? "arguments" : "parameters";
    const json_t *args = json_object_get(v, key);
    if (args && !json_is_object(args) && !json_is_string(args) && !json_is_null(args)) return false;
    if (json_is_object(args) && !tc_json_member(t, a, b, key, &va, &vb)) return false;
    return add_call(out, name, t, va, vb, args);
}

/* Calls from a JSON value at t[i..), skipping a ```json fence; on success
 * *end is after the value (and a closing fence). */
static bool json_body(parse *p, size_t i, size_t *end) {
    const char *t = p->text;
    i = skip_ws(t, p->len, i);
    bool fenced = starts(t, p->len, i, "```");
    if (fenced) {
        i += 3;
        while (i < p->len && t[i] != '\n' && !isspace((unsigned char)t[i]) && t[i] != '[' && t[i] != '{') i++;
        i = skip_ws(t, p->len, i);
    }
    size_t e;
    json_t *v = json_at(t, p->len, i, &e);
    if (!v) return false;
    json_t *calls = json_array();
    bool ok = calls && value_calls(calls, v, t, i, e);
    json_decref(v);
    if (ok) json_array_extend(p->calls, calls);
    json_decref(calls);
    if (!ok) return false;
    if (fenced) {
        size_t k = skip_ws(t, p->len, e);
        if (starts(t, p->len, k, "```")) e = k + 3;
    }
    *end = e;
    return true;
}

/* NAME <sep> JSON-args at t[i..). */
static bool named_body(parse *p, size_t i, const char *sep, size_t *end) {
    const char *t = p->text;
    size_t k = i;
    while (k < p->len && !starts(t, p->len, k, sep) && k - i < 256 && t[k] != '{') k++;
    if (!starts(t, p->len, k, sep) || k == i) return false;
    if (!plain_name(t, i, k)) return false;
    char name[257];
    memcpy(name, t + i, k - i);
    name[k - i] = '\0';
    size_t a = skip_ws(t, p->len, k + strlen(sep)), e;
    if (strcmp(name, "all") == 0 && strcmp(sep, "\n") == 0) { /* Functionary: text, up to the next call */
        size_t stop = a;
        while (stop < p->len && !starts(t, p->len, stop, ">>>")) stop++;
        content_add(p, t + a, stop - a);
        *end = stop;
        return true;
    }
    json_t *args = json_at(t, p->len, a, &e);
    bool ok = json_is_object(args) && add_call(p->calls, name, t, a, e, args);
    json_decref(args);
    if (ok) *end = e;
    return ok;
}

/* Finds s in t[i..len); SIZE_MAX when absent. */
static size_t find(const char *t, size_t len, size_t i, const char *s) {
    for (; i < len; i++)
        if (starts(t, len, i, s)) return i;
    return SIZE_MAX;
}

/* A parameter value: JSON when it parses as a whole, else the raw text
 * (one newline around it trimmed). */
static json_t *xml_value(const char *t, size_t a, size_t b) {
    if (a < b && t[a] == '\n') a++;
    if (b > a && t[b - 1] == '\n') b--;
    json_error_t je;
    json_t *v = json_loadb(t + a, b - a, JSON_DECODE_ANY, &je);
    return v ? v : json_stringn(t + a, b - a);
}

/* <function=NAME> (<parameter=KEY>VALUE</parameter>)* </function> */
static bool xml_body(parse *p, size_t i, size_t *end) {
    const char *t = p->text;
    i = skip_ws(t, p->len, i);
    if (!starts(t, p->len, i, "<function=")) return false;
    size_t ns = i + 10, ne = find(t, p->len, ns, ">");
    if (ne == SIZE_MAX || ne == ns || ne - ns > 256 || !plain_name(t, ns, ne)) return false;
    json_t *args = json_object();
    size_t k = skip_ws(t, p->len, ne + 1);
    while (args && starts(t, p->len, k, "<parameter=")) {
        size_t ks = k + 11, ke = find(t, p->len, ks, ">");
        size_t ve = ke == SIZE_MAX ? SIZE_MAX : find(t, p->len, ke + 1, "</parameter>");
        if (ve == SIZE_MAX || ke == ks) break;
        char key[257];
        size_t kl = ke - ks < 256 ? ke - ks : 256;
        memcpy(key, t + ks, kl);
        key[kl] = '\0';
        json_object_set_new(args, key, xml_value(t, ke + 1, ve));
        k = skip_ws(t, p->len, ve + 12);
    }
    bool ok = args && starts(t, p->len, k, "</function>");
    if (ok) {
        char name[257];
        memcpy(name, t + ns, ne - ns);
        name[ne - ns] = '\0';
        char *text = json_dumps(args, JSON_COMPACT); /* built, not written: no raw text to keep */
        json_t *c = text ? json_pack("{s:s, s:s}", "name", name, "arguments", text) : NULL;
        free(text);
        ok = c && json_array_append_new(p->calls, c) == 0;
        *end = k + 11;
    }
    json_decref(args);
    return ok;
}

static bool body_at(parse *p, const marker *m, size_t i, size_t *end) {
    switch (m->body) {
    case BODY_JSON: return json_body(p, i, end);
    case BODY_NAME_NL: return named_body(p, i, "\n", end);
    case BODY_NAME_GT: return named_body(p, i, ">", end);
    case BODY_NAME_ARGS: return named_body(p, i, "[ARGS]", end);
    case BODY_XML_FUNC: return xml_body(p, i, end);
    }
    return false;
}

/* The earliest opening marker at or after i that parses. */
static bool next_call(parse *p, const marker *ms, size_t i, size_t *at, size_t *end) {
    for (size_t k = i; k < p->len; k++) {
        for (const marker *m = ms; m->open; m++) {
            if (!starts(p->text, p->len, k, m->open)) continue;
            size_t e;
            if (!body_at(p, m, k + strlen(m->open), &e)) continue;
            if (m->close) {
                size_t c = skip_ws(p->text, p->len, e);
                if (starts(p->text, p->len, c, m->close)) e = c + strlen(m->close);
            }
            *at = k;
            *end = e;
            return true;
        }
    }
    return false;
}

/* GENERIC: any '{' or '[' where a call (or list of calls) parses. */
static bool next_json_call(parse *p, size_t i, size_t *at, size_t *end) {
    for (size_t k = i; k < p->len; k++) {
        if (p->text[k] != '{' && p->text[k] != '[') continue;
        if (json_body(p, k, end)) {
            *at = k;
            return true;
        }
    }
    return false;
}

static void scan(parse *p, slm_tool_format f) {
    const marker *ms = markers_of(f);
    size_t i = 0, at, end;
    for (;;) {
        bool found = f == SLM_TOOL_FMT_GENERIC ? next_json_call(p, i, &at, &end) : next_call(p, ms, i, &at, &end);
        if (!found) break;
        content_add(p, p->text + i, at - i);
        i = end;
    }
    content_add(p, p->text + i, p->len - i);
}

/* The whole text (trimmed) is one JSON call or list of calls. */
static bool whole_json(parse *p) {
    size_t i = skip_ws(p->text, p->len, 0), end;
    if (i >= p->len || (p->text[i] != '{' && p->text[i] != '[')) return false;
    size_t n = json_array_size(p->calls);
    if (!json_body(p, i, &end)) return false;
    if (skip_ws(p->text, p->len, end) == p->len) return true;
    while (json_array_size(p->calls) > n) json_array_remove(p->calls, n); /* text follows: not a bare call */
    return false;
}

static void trim(parse *p) {
    size_t a = 0, b = p->clen;
    while (a < b && isspace((unsigned char)p->content[a])) a++;
    while (b > a && isspace((unsigned char)p->content[b - 1])) b--;
    memmove(p->content, p->content + a, b - a);
    p->clen = b - a;
    p->content[p->clen] = '\0';
}

slm_status slm_toolcall_parse(slm_tool_format f, const char *text, size_t len, char **content,
                              json_t **calls, slm_error *err) {
    *content = NULL;
    *calls = NULL;
    parse p = {.text = text ? text : "", .len = text ? len : 0, .calls = json_array()};
    p.content = malloc(1);
    if (!p.calls || !p.content) goto oom;
    p.content[0] = '\0';
    p.ccap = 1;
    if (!whole_json(&p)) scan(&p, f);
    if (p.oom) goto oom;
    trim(&p);
    *content = p.content;
    *calls = p.calls;
    return SLM_OK;
oom:
    free(p.content);
    json_decref(p.calls);
    return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
}
