/* Tool calls while they are being generated: a small state machine over
 * the text of the call region that announces each call as soon as its
 * name is known and then passes its arguments on piece by piece (the
 * whitespace outside strings dropped, exactly as slm_toolcall_parse
 * reports them), for OpenAI's streamed tool_calls deltas. It recognises
 * {"name"|"tool_name": N, "arguments"|"parameters": {...}} anywhere (the
 * JSON formats, in lists or tags), and Functionary's >>>N\n{...} and
 * <function=N>{...}. Main data: slm_toolcall_stream, the bytes not yet
 * decided (buf) and the nesting state inside an arguments object. */
#include <stdlib.h>
#include <string.h>

#include "slm/toolcall.h"

#define MAX_NAME 256

struct slm_toolcall_stream {
    slm_tool_format f;
    char *buf;
    size_t len, cap;
    size_t n_calls;
    bool in_args, in_str, esc;
    int depth;
};

slm_status slm_toolcall_stream_new(slm_tool_format f, slm_toolcall_stream **out, slm_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    (*out)->f = f;
    return SLM_OK;
}

void slm_toolcall_stream_free(slm_toolcall_stream *s) {
    if (!s) return;
    free(s->buf);
    free(s);
}

size_t slm_toolcall_stream_n_calls(const slm_toolcall_stream *s) { return s->n_calls; }

enum { NO = 0, YES = 1, MORE = -1 };

static void ws(const char *b, size_t n, size_t *i) {
    while (*i < n && (b[*i] == ' ' || b[*i] == '\t' || b[*i] == '\n' || b[*i] == '\r')) (*i)++;
}

/* The literal s at b[*i]: YES (advanced), NO, or MORE (b ends inside it). */
static int lit(const char *b, size_t n, size_t *i, const char *s) {
    size_t k = strlen(s), have = n - *i < k ? n - *i : k;
    if (memcmp(b + *i, s, have) != 0) return NO;
    if (have < k) return MORE;
    *i += k;
    return YES;
}

static int either(const char *b, size_t n, size_t *i, const char *x, const char *y) {
    int r = lit(b, n, i, x);
    return r == NO ? lit(b, n, i, y) : r;
}

/* A name up to the terminator: no quotes, backslashes or control bytes
 * (a NUL would cut it short; the parser refuses them too). */
static int name(const char *b, size_t n, size_t *i, char term, size_t *ns, size_t *ne) {
    *ns = *i;
    for (size_t k = *i; k < n; k++) {
        if (b[k] == term) {
            if (k == *ns || k - *ns > MAX_NAME) return NO;
            *ne = k;
            *i = k + 1;
            return YES;
        }
        if (b[k] == '"' || b[k] == '\\' || (unsigned char)b[k] < 0x20 || b[k] == 0x7f || k - *ns > MAX_NAME) return NO;
    }
    return MORE;
}

/* {"name": N, "arguments": { at b[i]; *args is the '{'. */
static int json_start(const char *b, size_t n, size_t i, size_t *ns, size_t *ne, size_t *args) {
    int r;
    if ((r = either(b, n, &i, "\"name\"", "\"tool_name\"")) != YES) return r;
    ws(b, n, &i);
    if ((r = lit(b, n, &i, ":")) != YES) return r;
    ws(b, n, &i);
    if ((r = lit(b, n, &i, "\"")) != YES) return r;
    if ((r = name(b, n, &i, '"', ns, ne)) != YES) return r;
    ws(b, n, &i);
    if ((r = lit(b, n, &i, ",")) != YES) return r;
    ws(b, n, &i);
    if ((r = either(b, n, &i, "\"arguments\"", "\"parameters\"")) != YES) return r;
    ws(b, n, &i);
    if ((r = lit(b, n, &i, ":")) != YES) return r;
    ws(b, n, &i);
    if ((r = lit(b, n, &i, "{")) != YES) return r;
    *args = i - 1;
    return YES;
}

/* >>>N\n{ or <function=N>{ at b[i] (Functionary). */
static int fn_start(const char *b, size_t n, size_t i, size_t *ns, size_t *ne, size_t *args) {
    bool v32 = b[i] == '>';
    int r = lit(b, n, &i, v32 ? ">>>" : "<function=");
    if (r != YES) return r;
    if ((r = name(b, n, &i, v32 ? '\n' : '>', ns, ne)) != YES) return r;
    if (*ne - *ns == 3 && memcmp(b + *ns, "all", 3) == 0) return NO; /* text, not a call */
    ws(b, n, &i);
    if ((r = lit(b, n, &i, "{")) != YES) return r;
    *args = i - 1;
    return YES;
}

/* The earliest call start in buf: YES with the name and where the
 * arguments begin; MORE with *keep = where a start may be beginning; NO. */
static int find_start(const slm_toolcall_stream *s, size_t *ns, size_t *ne, size_t *args, size_t *keep) {
    for (size_t i = 0; i < s->len; i++) {
        int r = NO;
        if (s->buf[i] == '"') r = json_start(s->buf, s->len, i, ns, ne, args);
        else if (s->f == SLM_TOOL_FMT_FUNCTIONARY && (s->buf[i] == '>' || s->buf[i] == '<'))
            r = fn_start(s->buf, s->len, i, ns, ne, args);
        if (r == YES) return YES;
        if (r == MORE) {
            *keep = i;
            return MORE;
        }
    }
    return NO;
}

static void drop(slm_toolcall_stream *s, size_t n) {
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
}

/* Consumes argument bytes, writing the minified ones over the buffer's
 * start; stops after the closing brace. Returns the bytes consumed and
 * the count written in *out_n. */
static size_t args_bytes(slm_toolcall_stream *s, size_t *out_n) {
    size_t o = 0, i = 0;
    for (; i < s->len && s->in_args; i++) {
        char c = s->buf[i];
        if (s->in_str) {
            if (s->esc) s->esc = false;
            else if (c == '\\') s->esc = true;
            else if (c == '"') s->in_str = false;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            s->in_str = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if ((c == '}' || c == ']') && --s->depth == 0) {
            s->in_args = false;
        }
        s->buf[o++] = c;
    }
    *out_n = o;
    return i;
}

static bool grow(slm_toolcall_stream *s, size_t need) {
    if (need <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = realloc(s->buf, cap);
    if (!p) return false;
    s->buf = p;
    s->cap = cap;
    return true;
}

bool slm_toolcall_stream_feed(slm_toolcall_stream *s, const char *text, size_t len, slm_toolcall_delta_fn fn,
                              void *user) {
    if (len > SIZE_MAX - s->len || !grow(s, s->len + len)) return false;
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    while (s->len > 0) {
        if (s->in_args) {
            size_t n_out, used = args_bytes(s, &n_out);
            if (n_out && !fn(user, s->n_calls - 1, NULL, s->buf, n_out)) return false;
            drop(s, used);
            continue;
        }
        size_t ns, ne, args, keep = 0;
        int r = find_start(s, &ns, &ne, &args, &keep);
        if (r == MORE) {
            drop(s, keep);
            break;
        }
        if (r == NO) { /* an unfinished start would have been MORE */
            s->len = 0;
            break;
        }
        char nm[MAX_NAME + 1];
        memcpy(nm, s->buf + ns, ne - ns);
        nm[ne - ns] = '\0';
        s->n_calls++;
        if (!fn(user, s->n_calls - 1, nm, "", 0)) return false;
        s->in_args = true;
        s->in_str = s->esc = false;
        s->depth = 0;
        drop(s, args);
    }
    return true;
}
