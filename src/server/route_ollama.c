/* Ollama's /api/chat and /api/generate through the tiered router: the
 * Ollama request becomes the router's OpenAI chat request (options ->
 * sampling fields, num_predict -> max_tokens, format -> response_format,
 * generate's system + prompt -> messages, tool calls' object arguments ->
 * JSON strings with ids that the tool answers refer to, images -> content
 * parts with data URLs), and the OpenAI answer goes back in Ollama's shape: one
 * object, or NDJSON lines ({"message"|"response", "done": false} per piece,
 * then a "done": true line with done_reason, prompt_eval_count and
 * eval_count). Main data: ol_fmt, the route_fmt of one request (its SSE
 * line buffer and what the final line needs: counts, reason, tool calls). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route_hook.h"

#define MAX_SSE_LINE (1u << 20)

typedef struct ol_fmt {
    route_fmt base;
    bool chat;
    char model[256];     /* the model the client named (Ollama echoes it) */
    double t_start;
    char *line;          /* the SSE line being assembled */
    size_t len, cap;
    bool overflow, done_sent;
    char reason[16];
    int64_t n_prompt, n_gen, n_pieces;
    json_t *calls;       /* streamed tool calls, by index: {name, arguments} */
} ol_fmt;

/* ---- the request ---------------------------------------------------------- */

bool route_ollama_wants(slm_server *s, const json_t *body) {
    const json_t *m = json_object_get(body, "model");
    if (!m) m = json_object_get(body, "name");
    json_t *probe = json_is_string(m) ? json_pack("{s:O}", "model", m) : json_object();
    bool yes = probe && route_hook_wants(s, probe);
    json_decref(probe);
    return yes;
}

static void copy_field(json_t *to, const char *name, const json_t *from, const char *from_name) {
    json_t *v = json_object_get(from, from_name);
    if (v) json_object_set(to, name, v);
}

/* options{} -> the OpenAI request's sampling fields (same names where they exist). */
static void map_options(const json_t *opts, json_t *oa) {
    static const char *same[] = {"temperature", "top_p", "top_k", "min_p", "typical_p", "repeat_penalty",
                                 "repeat_last_n", "presence_penalty", "frequency_penalty", "seed", "stop"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) copy_field(oa, same[i], opts, same[i]);
    json_t *np = json_object_get(opts, "num_predict");
    if (json_is_integer(np) && json_integer_value(np) >= 0) json_object_set(oa, "max_tokens", np);
}

/* format: "json" or a JSON schema -> response_format. */
static bool map_format(const json_t *format, json_t *oa, char *why, size_t cap) {
    if (!format || json_is_null(format) || (json_is_string(format) && !json_string_length(format))) return true;
    if (json_is_string(format) && !strcmp(json_string_value(format), "json"))
        return !json_object_set_new(oa, "response_format", json_pack("{s:s}", "type", "json_object"));
    if (json_is_object(format))
        return !json_object_set_new(oa, "response_format", json_pack("{s:s, s:{s:s, s:O}}", "type", "json_schema",
                                                                     "json_schema", "name", "format", "schema", format));
    snprintf(why, cap, "format must be \"json\" or a JSON schema object");
    return false;
}

/* The ids an assistant message's tool calls got ("call_<message>_<i>"),
 * handed out in order to the tool messages that answer them (OpenAI
 * servers require tool_call_id; Ollama's messages do not carry one). */
typedef struct call_ids {
    size_t msg, n, next;
} call_ids;

static json_t *map_calls(const json_t *calls, size_t msg) {
    json_t *oc = json_array();
    size_t i;
    const json_t *call;
    json_array_foreach(calls, i, call) {
        const json_t *fn = json_object_get(call, "function");
        const json_t *args = json_object_get(fn, "arguments");
        char *a = json_is_string(args) ? strdup(json_string_value(args))
                  : args               ? json_dumps(args, JSON_COMPACT)
                                       : strdup("{}");
        const char *name = json_string_value(json_object_get(fn, "name"));
        char id[48];
        snprintf(id, sizeof id, "call_%zu_%zu", msg, i);
        json_array_append_new(oc, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function",
                                            "name", name ? name : "", "arguments", a ? a : "{}"));
        free(a);
    }
    return oc;
}

/* Ollama images are bare base64; OpenAI wants data URLs with a type,
 * guessed from the first bytes' encoding (PNG, JPEG, GIF, WebP). */
static const char *image_type(const char *b64) {
    if (!strncmp(b64, "/9j/", 4)) return "image/jpeg";
    if (!strncmp(b64, "R0lGOD", 6)) return "image/gif";
    if (!strncmp(b64, "UklGR", 5)) return "image/webp";
    return "image/png";
}

/* content + images -> OpenAI content parts. */
static json_t *image_parts(const json_t *content, const json_t *images) {
    json_t *parts = json_array();
    if (json_is_string(content) && json_string_length(content))
        json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "text", content));
    size_t i;
    const json_t *img;
    json_array_foreach(images, i, img) {
        const char *b = json_string_value(img);
        if (!b) continue;
        const char *type = image_type(b);
        size_t n = strlen(b) + strlen(type) + 16;
        char *url = malloc(n);
        if (!url) continue;
        snprintf(url, n, "data:%s;base64,%s", type, b);
        json_array_append_new(parts, json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", url));
        free(url);
    }
    return parts;
}

/* One Ollama message -> OpenAI's: tool calls with ids and string
 * arguments, tool answers with the id they answer, images as content
 * parts; Ollama-only fields dropped. */
static json_t *map_message(const json_t *m, size_t idx, call_ids *ids) {
    json_t *o = json_copy((json_t *)m);
    if (!o) return NULL;
    const json_t *calls = json_object_get(m, "tool_calls"), *images = json_object_get(m, "images");
    const char *role = json_string_value(json_object_get(m, "role"));
    if (json_is_array(calls)) {
        json_object_set_new(o, "tool_calls", map_calls(calls, idx));
        *ids = (call_ids){.msg = idx, .n = json_array_size(calls)};
    }
    if (role && !strcmp(role, "tool") && !json_object_get(m, "tool_call_id") && ids->next < ids->n) {
        char id[48];
        snprintf(id, sizeof id, "call_%zu_%zu", ids->msg, ids->next++);
        json_object_set_new(o, "tool_call_id", json_string(id));
    }
    if (json_array_size(images)) json_object_set_new(o, "content", image_parts(json_object_get(m, "content"), images));
    json_object_del(o, "images");
    json_object_del(o, "tool_name");
    json_object_del(o, "thinking");
    return o;
}

static json_t *map_messages(const json_t *body, bool chat) {
    json_t *msgs = json_array();
    if (!chat) {
        const char *sys = json_string_value(json_object_get(body, "system"));
        const json_t *prompt = json_object_get(body, "prompt");
        if (sys && *sys) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys));
        json_t *user = json_pack("{s:s, s:O}", "role", "user", "content", prompt);
        const json_t *images = json_object_get(body, "images");
        if (user && json_array_size(images)) json_object_set_new(user, "content", image_parts(prompt, images));
        json_array_append_new(msgs, user);
        return msgs;
    }
    call_ids ids = {0};
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(body, "messages"), i, m) json_array_append_new(msgs, map_message(m, i, &ids));
    return msgs;
}

/* The router's OpenAI request, or NULL with why. */
static json_t *to_openai(const json_t *body, bool chat, char *why, size_t cap) {
    const json_t *msgs = json_object_get(body, "messages"), *prompt = json_object_get(body, "prompt");
    const json_t *opts = json_object_get(body, "options"), *st = json_object_get(body, "stream");
    if (chat && !json_is_array(msgs)) return snprintf(why, cap, "messages must be an array"), NULL;
    if (chat && json_array_size(msgs) == 0) return snprintf(why, cap, "messages must not be empty"), NULL;
    if (!chat && (!json_is_string(prompt) || !json_string_length(prompt)))
        return snprintf(why, cap, "prompt must be a non-empty string"), NULL;
    if (!chat && json_is_string(json_object_get(body, "suffix")) && json_string_length(json_object_get(body, "suffix")))
        return snprintf(why, cap, "suffix (fill-in-the-middle) is not supported"), NULL;
    if (opts && !json_is_object(opts)) return snprintf(why, cap, "options must be an object"), NULL;
    if (st && !json_is_boolean(st)) return snprintf(why, cap, "stream must be a boolean"), NULL;
    bool stream = !json_is_false(st); /* Ollama streams unless told not to */
    const json_t *m = json_object_get(body, "model");
    if (!m) m = json_object_get(body, "name"); /* older clients */
    if (m && !json_is_string(m)) return snprintf(why, cap, "model must be a string"), NULL;
    json_t *oa = json_object();
    if (!oa) return snprintf(why, cap, "out of memory"), NULL;
    if (m) json_object_set(oa, "model", (json_t *)m); /* absent: routed, as for /v1 */
    json_object_set_new(oa, "messages", map_messages(body, chat));
    json_object_set_new(oa, "stream", json_boolean(stream));
    if (stream) json_object_set_new(oa, "stream_options", json_pack("{s:b}", "include_usage", 1)); /* eval_count */
    map_options(opts, oa);
    copy_field(oa, "tools", body, "tools");
    copy_field(oa, "metadata", body, "metadata"); /* routing hints (task, sensitive, labels) */
    if (!map_format(json_object_get(body, "format"), oa, why, cap)) {
        json_decref(oa);
        return NULL;
    }
    return oa;
}

/* ---- the answer ------------------------------------------------------------- */

static json_t *ol_object(ol_fmt *f, const char *text, size_t len, bool done) {
    char ts[48];
    http_rfc3339((double)time(NULL), ts, sizeof ts);
    if (f->chat)
        return json_pack("{s:s, s:s, s:{s:s, s:s%}, s:b}", "model", f->model, "created_at", ts, "message", "role",
                         "assistant", "content", text, len, "done", done);
    return json_pack("{s:s, s:s, s:s%, s:b}", "model", f->model, "created_at", ts, "response", text, len, "done", done);
}

static void add_stats(ol_fmt *f, json_t *o) {
    json_object_set_new(o, "done_reason", json_string(f->reason[0] ? f->reason : "stop"));
    json_object_set_new(o, "total_duration", json_integer((json_int_t)((slm_now_s() - f->t_start) * 1e9)));
    json_object_set_new(o, "load_duration", json_integer(0));
    json_object_set_new(o, "prompt_eval_count", json_integer(f->n_prompt));
    json_object_set_new(o, "eval_count", json_integer(f->n_gen ? f->n_gen : f->n_pieces));
}

static void take_reason(ol_fmt *f, const json_t *fr) {
    const char *r = json_string_value(fr);
    if (r) snprintf(f->reason, sizeof f->reason, "%s", !strcmp(r, "length") ? "length" : "stop");
}

static void take_usage(ol_fmt *f, const json_t *u) {
    if (!json_is_object(u)) return;
    f->n_prompt = json_integer_value(json_object_get(u, "prompt_tokens"));
    f->n_gen = json_integer_value(json_object_get(u, "completion_tokens"));
}

/* OpenAI tool calls -> Ollama's (arguments as an object). */
static json_t *ol_calls(const json_t *calls) {
    json_t *out = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(calls, i, c) {
        const json_t *fn = json_object_get(c, "function");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        json_t *a = args ? json_loads(args, 0, NULL) : NULL;
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_array_append_new(out, json_pack("{s:{s:s, s:o}}", "function", "name", name ? name : "", "arguments",
                                             a ? a : json_object()));
    }
    return out;
}

static bool add_line(route_req *rr, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    bool ok = s && route_pend_add(rr, s, strlen(s)) && route_pend_add(rr, "\n", 1);
    free(s);
    return ok;
}

/* Streamed tool-call pieces, merged by index. */
static void merge_calls(ol_fmt *f, const json_t *deltas) {
    size_t i;
    const json_t *d;
    if (!f->calls) f->calls = json_array();
    json_array_foreach(deltas, i, d) {
        json_int_t at = json_is_integer(json_object_get(d, "index")) ? json_integer_value(json_object_get(d, "index"))
                                                                     : (json_int_t)i;
        if (at < 0 || at > 64) continue;
        while ((json_int_t)json_array_size(f->calls) <= at)
            json_array_append_new(f->calls, json_pack("{s:{s:s, s:s}}", "function", "name", "", "arguments", ""));
        json_t *fn = json_object_get(json_array_get(f->calls, (size_t)at), "function");
        const json_t *dfn = json_object_get(d, "function");
        const char *name = json_string_value(json_object_get(dfn, "name"));
        const char *args = json_string_value(json_object_get(dfn, "arguments"));
        if (name && *name) json_object_set_new(fn, "name", json_string(name));
        if (args) {
            const char *old = json_string_value(json_object_get(fn, "arguments"));
            size_t n = strlen(old) + strlen(args) + 1;
            char *cat = malloc(n);
            if (cat) {
                snprintf(cat, n, "%s%s", old, args);
                json_object_set_new(fn, "arguments", json_string(cat));
                free(cat);
            }
        }
    }
}

static bool finish_stream(ol_fmt *f, route_req *rr) {
    if (f->done_sent) return true;
    f->done_sent = true;
    bool ok = true;
    if (json_array_size(f->calls) && f->chat) {
        json_t *o = ol_object(f, "", 0, false);
        json_object_set_new(json_object_get(o, "message"), "tool_calls", ol_calls(f->calls));
        ok = add_line(rr, o);
    }
    json_t *last = ol_object(f, "", 0, true);
    add_stats(f, last);
    return ok && add_line(rr, last);
}

/* One SSE line of the OpenAI stream. */
static bool sse_line(ol_fmt *f, route_req *rr, const char *line, size_t n) {
    if (n < 5 || strncmp(line, "data:", 5)) return true;
    const char *p = line + 5;
    while (*p == ' ') p++;
    if (!strncmp(p, "[DONE]", 6)) return finish_stream(f, rr);
    json_t *j = json_loadb(p, n - (size_t)(p - line), 0, NULL);
    if (!j) return true;
    bool ok = true;
    const json_t *err = json_object_get(j, "error");
    if (err) {
        const char *msg = json_string_value(json_object_get(err, "message"));
        ok = add_line(rr, json_pack("{s:s}", "error", msg ? msg : "stream failed"));
        f->done_sent = true; /* the stream ends with the error */
    }
    take_usage(f, json_object_get(j, "usage"));
    const json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    const json_t *delta = json_object_get(ch, "delta");
    const json_t *content = json_object_get(delta, "content");
    if (json_is_array(json_object_get(delta, "tool_calls"))) merge_calls(f, json_object_get(delta, "tool_calls"));
    if (json_is_string(content) && json_string_length(content) && !f->done_sent) {
        f->n_pieces++;
        ok = ok && add_line(rr, ol_object(f, json_string_value(content), json_string_length(content), false));
    }
    take_reason(f, json_object_get(ch, "finish_reason"));
    json_decref(j);
    return ok;
}

static bool fmt_stream(route_fmt *base, route_req *rr, const char *data, size_t len) {
    ol_fmt *f = (ol_fmt *)base;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (f->overflow) continue;
            if (f->len + 2 > f->cap) {
                size_t cap = f->cap ? f->cap * 2 : 1024;
                char *l = cap <= MAX_SSE_LINE ? realloc(f->line, cap) : NULL;
                if (!l) {
                    f->overflow = true; /* an over-long line is skipped */
                    continue;
                }
                f->line = l;
                f->cap = cap;
            }
            f->line[f->len++] = data[i];
            continue;
        }
        bool ok = f->overflow || sse_line(f, rr, f->line ? f->line : "", f->len);
        f->len = 0;
        f->overflow = false;
        if (!ok) return false;
    }
    return true;
}

static char *dump_line(json_t *v, bool newline, size_t *len) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return NULL;
    *len = strlen(s);
    if (!newline) return s;
    char *t = realloc(s, *len + 2);
    if (!t) return free(s), NULL;
    t[(*len)++] = '\n';
    t[*len] = '\0';
    return t;
}

static char *fmt_whole(route_fmt *base, const json_t *resp, bool stream, size_t *len, const char **type) {
    ol_fmt *f = (ol_fmt *)base;
    const json_t *ch = json_array_get(json_object_get(resp, "choices"), 0);
    const json_t *msg = json_object_get(ch, "message");
    const json_t *content = json_object_get(msg, "content");
    take_usage(f, json_object_get(resp, "usage"));
    take_reason(f, json_object_get(ch, "finish_reason"));
    json_t *o = ol_object(f, json_is_string(content) ? json_string_value(content) : "",
                          json_is_string(content) ? json_string_length(content) : 0, !stream);
    if (f->chat && json_array_size(json_object_get(msg, "tool_calls")))
        json_object_set_new(json_object_get(o, "message"), "tool_calls", ol_calls(json_object_get(msg, "tool_calls")));
    *type = stream ? base->stream_type : "application/json";
    if (!stream) {
        add_stats(f, o);
        return dump_line(o, false, len);
    }
    size_t n1 = 0, n2 = 0; /* the answer as a stream: all of it, then the done line */
    char *a = dump_line(o, true, &n1);
    json_t *last = ol_object(f, "", 0, true);
    add_stats(f, last);
    char *b = dump_line(last, true, &n2);
    char *out = a && b ? realloc(a, n1 + n2 + 1) : NULL;
    if (!out) {
        free(a);
        free(b);
        return NULL;
    }
    memcpy(out + n1, b, n2 + 1);
    free(b);
    *len = n1 + n2;
    return out;
}

static char *fmt_error(route_fmt *base, const char *msg, size_t *len) {
    (void)base;
    return dump_line(json_pack("{s:s}", "error", msg), false, len);
}

static void fmt_free(route_fmt *base) {
    ol_fmt *f = (ol_fmt *)base;
    free(f->line);
    json_decref(f->calls);
    free(f);
}

enum MHD_Result route_ollama(conn *c, json_t *body, bool chat) {
    char why[256] = "";
    json_t *oa = to_openai(body, chat, why, sizeof why);
    const json_t *m = json_object_get(body, "model");
    if (!m) m = json_object_get(body, "name");
    snprintf(c->model, sizeof c->model, "%s", json_is_string(m) ? json_string_value(m) : "(router)");
    json_decref(body);
    if (!oa) return http_ol_error(c, 400, "%s", why);
    ol_fmt *f = calloc(1, sizeof *f);
    if (!f) {
        json_decref(oa);
        return http_ol_error(c, 500, "out of memory");
    }
    f->base = (route_fmt){.stream_type = "application/x-ndjson", .stream = fmt_stream, .whole = fmt_whole,
                          .error = fmt_error, .free = fmt_free};
    f->chat = chat;
    f->t_start = slm_now_s();
    snprintf(f->model, sizeof f->model, "%s", c->model);
    return route_hook_run(c, oa, &f->base);
}
