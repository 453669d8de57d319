/* Tool calls in answers: the generated text is parsed with the model
 * family's tool-call syntax (chat/toolcall_parse.c) into content and
 * calls, shaped as OpenAI tool_calls (id, type "function", function{name,
 * arguments as a JSON string}, finish_reason "tool_calls") or Ollama's
 * message.tool_calls (function{name, arguments object}). When streaming,
 * text is released as content only up to where a call could start (a
 * trigger string, or a prefix of one at the end), so call syntax never
 * leaks into content deltas. OpenAI's tool_calls deltas go out while the
 * call is generated (chat/toolcall_stream.c: id, type and name as soon as
 * the name is known, then the arguments as they grow); calls in a syntax
 * the follower does not know are sent whole at the end; Ollama's calls
 * are sent whole at the end. Main data: gen_job's acc buffer (text so
 * far), streamed (how much of it went out as content) and fed (how much
 * the call follower has seen). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gen_format.h"

#define ARGS_PIECE 24 /* bytes of arguments per streamed delta */

static bool is_ollama(const gen_job *j) { return j->kind == API_OL_CHAT || j->kind == API_OL_GENERATE; }

/* "call_" + 24 hex digits; Mistral's templates insist on 9 alphanumerics
 * (the id comes back in the tool message of the next turn). */
static void call_id(const gen_job *j, char *buf, size_t cap) {
    unsigned char r[12] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)slm_now_us();
        memcpy(r, &t, sizeof t);
    }
    if (j->tool_fmt == SLM_TOOL_FMT_MISTRAL && cap > 9) {
        static const char an[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for (int i = 0; i < 9; i++) buf[i] = an[r[i] % (sizeof an - 1)];
        buf[9] = '\0';
        return;
    }
    int off = snprintf(buf, cap, "call_");
    for (size_t i = 0; i < sizeof r && off > 0 && (size_t)off < cap; i++)
        off += snprintf(buf + off, cap - (size_t)off, "%02x", r[i]);
}

/* {name, arguments} -> the API's call object. */
static json_t *api_call(const gen_job *j, const json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *args = json_string_value(json_object_get(c, "arguments"));
    if (is_ollama(j)) {
        json_t *obj = json_loads(args, 0, NULL);
        if (!json_is_object(obj)) { /* Ollama's arguments are an object */
            json_decref(obj);
            obj = json_object();
        }
        return json_pack("{s:{s:s, s:o}}", "function", "name", name, "arguments", obj);
    }
    char id[64];
    call_id(j, id, sizeof id);
    return json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name", name, "arguments",
                     args);
}

json_t *tools_parse(const gen_job *j, const char *text, size_t len, char **content) {
    json_t *calls = NULL;
    if (slm_toolcall_parse(j->tool_fmt, text ? text : "", text ? len : 0, content, &calls, NULL) != SLM_OK) {
        *content = NULL;
        return NULL;
    }
    if (json_array_size(calls) == 0) {
        json_decref(calls);
        return NULL;
    }
    if (j->tools_hold_all && *content) **content = '\0'; /* only calls were allowed: the rest is a cut-off call */
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) json_array_append_new(out, api_call(j, c));
    json_decref(calls);
    return out;
}

static bool acc_add(gen_job *j, const char *s, size_t n) {
    if (j->acc_len + n + 1 > j->acc_cap) {
        size_t cap = j->acc_cap ? j->acc_cap : 256;
        while (cap < j->acc_len + n + 1) cap *= 2;
        char *p = realloc(j->acc, cap);
        if (!p) return false;
        j->acc = p;
        j->acc_cap = cap;
    }
    memcpy(j->acc + j->acc_len, s, n);
    j->acc_len += n;
    j->acc[j->acc_len] = '\0';
    return true;
}

/* Call starts to watch for: the family's triggers, and the bare JSON call
 * forms (control-token markers do not show in the text). */
static size_t n_starts(const gen_job *j, const char **out, size_t cap) {
    static const char *const extra[] = {"{\"name\"", "[{\"name\"", "<tool_call>"};
    size_t n = 0;
    for (const char *const *t = slm_tool_format_triggers(j->tool_fmt); *t && n < cap; t++) out[n++] = *t;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0] && n < cap; i++) out[n++] = extra[i];
    return n;
}

/* How much of acc can go out as content now. */
static size_t releasable(gen_job *j) {
    if (j->tools_hold_all || j->in_call) return j->streamed;
    const char *starts[16];
    size_t ns = n_starts(j, starts, 16), safe = j->acc_len;
    for (size_t s = 0; s < ns; s++) {
        size_t k = strlen(starts[s]);
        const char *hit = memmem(j->acc + j->streamed, j->acc_len - j->streamed, starts[s], k);
        if (hit && (size_t)(hit - j->acc) < safe) {
            safe = (size_t)(hit - j->acc);
            j->in_call = true;
        }
    }
    if (j->in_call) return safe;
    for (size_t s = 0; s < ns; s++) { /* a suffix that may grow into a start */
        size_t k = strlen(starts[s]);
        for (size_t h = k - 1; h > 0; h--)
            if (h <= j->acc_len - j->streamed && memcmp(j->acc + j->acc_len - h, starts[s], h) == 0) {
                if (j->acc_len - h < safe) safe = j->acc_len - h;
                break;
            }
    }
    return safe;
}

static bool send_content(gen_job *j, const char *s, size_t n) {
    if (n == 0) return true;
    if (is_ollama(j)) return fmt_append_json(j, fmt_ol_object(j, s, n, false), false);
    return fmt_append_json(j, fmt_oa_chunk(j, s, n, false, NULL, NULL), true);
}

static json_t *delta_chunk(const gen_job *j, json_t *tool_call) {
    json_t *o = fmt_oa_base(j, "chat.completion.chunk");
    json_t *choice = json_pack("{s:i, s:{s:[o]}, s:n, s:n}", "index", 0, "delta", "tool_calls", tool_call, "logprobs",
                               "finish_reason");
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    if (j->include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

/* A call starts (name) or its arguments grow: one OpenAI delta. */
static bool on_call_delta(void *user, size_t index, const char *name, const char *args, size_t n) {
    gen_job *j = user;
    json_t *d;
    if (name) {
        char id[64];
        call_id(j, id, sizeof id);
        d = json_pack("{s:I, s:s, s:s, s:{s:s, s:s}}", "index", (json_int_t)index, "id", id, "type", "function",
                      "function", "name", name, "arguments", "");
    } else {
        d = json_pack("{s:I, s:{s:s%}}", "index", (json_int_t)index, "function", "arguments", args, n);
    }
    return d && fmt_append_json(j, delta_chunk(j, d), true);
}

/* Gives the call region's new text to the call follower (OpenAI only:
 * Ollama sends each call whole). */
static bool follow_calls(gen_job *j) {
    if (is_ollama(j) || !(j->tools_hold_all || j->in_call)) return true;
    if (!j->tstream && slm_toolcall_stream_new(j->tool_fmt, &j->tstream, NULL) != SLM_OK) return false;
    size_t from = j->fed > j->streamed ? j->fed : j->streamed;
    j->fed = j->acc_len;
    return from >= j->acc_len || slm_toolcall_stream_feed(j->tstream, j->acc + from, j->acc_len - from, on_call_delta, j);
}

bool tools_stream_token(gen_job *j, const char *text, size_t len) {
    if (!acc_add(j, text, len)) return false;
    size_t upto = releasable(j);
    bool ok = true;
    if (upto > j->streamed) ok = send_content(j, j->acc + j->streamed, upto - j->streamed);
    if (upto > j->streamed) j->streamed = upto;
    return ok && follow_calls(j);
}

/* Content the parser found that has not been streamed yet: what follows
 * the streamed prefix (compared without leading whitespace). */
static bool send_rest_of_content(gen_job *j, const char *content) {
    const char *t = j->acc;
    size_t s = j->streamed;
    while (s > 0 && isspace((unsigned char)*t)) {
        t++;
        s--;
    }
    size_t cl = strlen(content);
    if (s <= cl && memcmp(content, t, s) == 0) return send_content(j, content + s, cl - s);
    return true; /* already sent differently; nothing can be taken back */
}

/* One call as deltas: id, type and name first, then the arguments in pieces
 * (cut between UTF-8 characters). */
static bool send_call_deltas(gen_job *j, size_t index, const json_t *call) {
    const json_t *fn = json_object_get(call, "function");
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    json_t *head = json_pack("{s:I, s:O, s:O, s:{s:O, s:s}}", "index", (json_int_t)index, "id", json_object_get(call, "id"),
                             "type", json_object_get(call, "type"), "function", "name", json_object_get(fn, "name"),
                             "arguments", "");
    if (!fmt_append_json(j, delta_chunk(j, head), true)) return false;
    size_t n = strlen(args);
    for (size_t i = 0; i < n;) {
        size_t k = i + ARGS_PIECE < n ? i + ARGS_PIECE : n;
        while (k < n && ((unsigned char)args[k] & 0xC0) == 0x80) k++;
        json_t *piece = json_pack("{s:I, s:{s:s%}}", "index", (json_int_t)index, "function", "arguments", args + i, k - i);
        if (!fmt_append_json(j, delta_chunk(j, piece), true)) return false;
        i = k;
    }
    return true;
}

bool tools_stream_done(gen_job *j, const slm_event *d, const char **finish) {
    if (d->text_len && !acc_add(j, d->text, d->text_len)) return false;
    (void)releasable(j); /* the last text may complete a call start */
    if (!follow_calls(j)) return false;
    size_t sent = j->tstream ? slm_toolcall_stream_n_calls(j->tstream) : 0;
    char *content = NULL;
    json_t *calls = tools_parse(j, j->acc, j->acc_len, &content);
    bool ok = true;
    if (!calls && sent == 0) ok = send_content(j, j->acc + j->streamed, j->acc_len - j->streamed); /* all text */
    else if (calls) ok = send_rest_of_content(j, content ? content : "");
    /* (a call announced but cut off before it was complete cannot be taken back) */
    if (ok && calls) {
        if (!is_ollama(j)) *finish = "tool_calls"; /* Ollama says "stop" */
        if (is_ollama(j)) {
            json_t *o = fmt_ol_object(j, "", 0, false);
            json_object_set(json_object_get(o, "message"), "tool_calls", calls);
            ok = fmt_append_json(j, o, false);
        } else {
            size_t i; /* the calls the follower did not announce (other syntaxes) */
            json_t *c;
            json_array_foreach(calls, i, c) if (ok && i >= sent) ok = send_call_deltas(j, i, c);
        }
    }
    free(content);
    json_decref(calls);
    return ok;
}
