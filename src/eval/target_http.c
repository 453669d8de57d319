/* URL targets: one OpenAI-compatible chat completion per case through
 * libcurl (a running `slm serve`, the router behind it, or any provider).
 * Requests stream (SSE) so time to first token can be measured; the body
 * is parsed incrementally line by line, assembling content and tool-call
 * deltas. A server that ignores `stream` and answers one JSON object works
 * too. Failures (connection, HTTP status, error events, no answer) become
 * the answer's error, never a crash. The x-slm-tier / x-slm-escalated
 * headers of an slm router say which tier answered; token log-probabilities
 * (asked for when the target wants confidence signals) are summed into the
 * router's signals as they stream. */
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval/eval_internal.h"

#define MAX_BODY (64u << 20)

typedef struct stream {
    ev_answer *a;
    ev_buf body;   /* everything received */
    size_t parsed; /* bytes of body consumed as SSE lines */
    bool sse;
    double t0;
    json_t *usage;
} stream;

static void append_json_str(ev_buf *b, const json_t *v) {
    if (json_is_string(v)) ev_buf_put(b, json_string_value(v), json_string_length(v));
}

/* Merges one streamed tool-call delta into a->tool_calls by index. */
static void merge_tool_delta(ev_answer *a, const json_t *d) {
    if (!a->tool_calls) a->tool_calls = json_array();
    json_int_t idx = json_integer_value(json_object_get(d, "index"));
    if (idx < 0 || idx > 64) return;
    while ((json_int_t)json_array_size(a->tool_calls) <= idx)
        json_array_append_new(a->tool_calls,
                              json_pack("{s:s,s:{s:s,s:s}}", "type", "function", "function", "name", "", "arguments", ""));
    json_t *fn = json_object_get(json_array_get(a->tool_calls, (size_t)idx), "function");
    const json_t *dfn = json_object_get(d, "function");
    static const char *const KEYS[] = {"name", "arguments"};
    for (int k = 0; k < 2; k++) {
        const json_t *piece = json_object_get(dfn, KEYS[k]);
        if (!json_is_string(piece)) continue;
        ev_buf b = {0};
        append_json_str(&b, json_object_get(fn, KEYS[k]));
        append_json_str(&b, piece);
        json_object_set_new(fn, KEYS[k], json_string(b.p ? b.p : ""));
        ev_buf_free(&b);
    }
}

static void take_usage(ev_answer *a, const json_t *u) {
    if (!json_is_object(u)) return;
    double p = ev_num(u, "prompt_tokens"), c = ev_num(u, "completion_tokens"), cost = ev_num(u, "cost");
    if (isfinite(p) && p >= 0 && p < INT32_MAX) a->n_prompt = (int32_t)p;
    if (isfinite(c) && c >= 0 && c < INT32_MAX) a->n_gen = (int32_t)c;
    if (isfinite(cost) && cost >= 0) a->cost = cost; /* a router may report its own cost */
}

static const char *error_message(const json_t *o) {
    const json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : json_string_value(e);
}

/* Token log-probabilities of a chunk or response (choices[0].logprobs.content
 * = [{logprob, top_logprobs: [{logprob}]}]) -> confidence signals. */
static void take_logprobs(ev_answer *a, const json_t *ch) {
    const json_t *content = json_object_get(json_object_get(ch, "logprobs"), "content");
    size_t i;
    json_t *e;
    json_array_foreach(content, i, e) {
        const json_t *lp = json_object_get(e, "logprob");
        if (!json_is_number(lp)) continue;
        double top[20];
        int n_top = 0;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(e, "top_logprobs"), k, t) {
            if (n_top < 20 && json_is_number(json_object_get(t, "logprob")))
                top[n_top++] = json_number_value(json_object_get(t, "logprob"));
        }
        ev_answer_add_logprob(a, json_number_value(lp), top, n_top);
    }
}

/* One SSE event's data (a chunk) or a whole non-streamed response. */
static void take_object(stream *s, const json_t *o) {
    ev_answer *a = s->a;
    const char *em = error_message(o);
    if (em) {
        ev_answer_fail(a, "server error: %s", em);
        return;
    }
    take_usage(a, json_object_get(o, "usage"));
    const json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
    if (!ch) return;
    take_logprobs(a, ch);
    const json_t *msg = json_object_get(ch, "delta");
    bool delta = msg != NULL;
    if (!msg) msg = json_object_get(ch, "message");
    const json_t *content = json_object_get(msg, "content");
    const json_t *calls = json_object_get(msg, "tool_calls");
    if ((json_is_string(content) && json_string_length(content)) || json_array_size(calls))
        if (a->ttft_s <= 0) a->ttft_s = slm_now_s() - s->t0;
    if (!a->text.p) ev_buf_put(&a->text, "", 0);
    append_json_str(&a->text, content);
    size_t i;
    json_t *c;
    if (delta) json_array_foreach(calls, i, c) merge_tool_delta(a, c);
    else if (json_array_size(calls)) {
        json_decref(a->tool_calls);
        a->tool_calls = json_deep_copy(calls);
    }
}

static void take_sse_lines(stream *s) {
    for (;;) {
        const char *start = s->body.p + s->parsed;
        const char *nl = memchr(start, '\n', s->body.len - s->parsed);
        if (!nl) return;
        size_t n = (size_t)(nl - start);
        s->parsed += n + 1;
        if (n && start[n - 1] == '\r') n--;
        if (n < 5 || strncmp(start, "data:", 5)) continue;
        const char *d = start + 5;
        size_t dn = n - 5;
        while (dn && *d == ' ') d++, dn--;
        s->sse = true;
        if (dn == 6 && !strncmp(d, "[DONE]", 6)) continue;
        json_t *o = json_loadb(d, dn, 0, NULL);
        if (o) take_object(s, o);
        else ev_answer_fail(s->a, "unparsable stream event: %.100s", d);
        json_decref(o);
    }
}

static size_t on_data(char *p, size_t size, size_t n, void *user) {
    stream *s = user;
    size_t len = size * n;
    if (s->body.len + len > MAX_BODY) return 0; /* aborts the transfer */
    ev_buf_put(&s->body, p, len);
    if (!s->body.ok) return 0;
    take_sse_lines(s);
    return len;
}

void ev_http_parse_body(const char *body, size_t len, ev_answer *a) {
    stream s = {.a = a, .t0 = slm_now_s()};
    ev_buf_put(&s.body, body, len);
    if (!s.body.ok) {
        ev_answer_fail(a, "out of memory");
        return;
    }
    ev_buf_put(&s.body, "\n", 1);
    take_sse_lines(&s);
    if (!s.sse) {
        json_t *o = json_loadb(body, len, 0, NULL);
        if (o) take_object(&s, o);
        else ev_answer_fail(a, "response is not JSON: %.120s", body);
        json_decref(o);
    }
    ev_buf_free(&s.body);
}

static char *endpoint(const char *loc) {
    ev_buf b = {0};
    size_t n = strlen(loc);
    while (n && loc[n - 1] == '/') n--;
    ev_buf_put(&b, loc, n);
    if (n >= 17 && !strncmp(loc + n - 17, "/chat/completions", 17)) return b.p;
    if (n >= 3 && !strncmp(loc + n - 3, "/v1", 3)) ev_buf_puts(&b, "/chat/completions");
    else ev_buf_puts(&b, "/v1/chat/completions");
    if (!b.ok) ev_buf_free(&b);
    return b.p;
}

static char *request_body(const slm_eval_target *t, const slm_eval_case *c, const slm_eval_run_opts *o) {
    int32_t max = c->max_tokens > 0 ? c->max_tokens : (o->max_tokens > 0 ? o->max_tokens : 256);
    json_t *req = json_pack("{s:s,s:O,s:i,s:f,s:b,s:{s:b}}", "model", t->model, "messages", c->messages, "max_tokens",
                            (int)max, "temperature", o->temperature, "stream", 1, "stream_options", "include_usage", 1);
    if (req && json_array_size(c->tools)) json_object_set(req, "tools", c->tools);
    if (req && c->response_format) json_object_set(req, "response_format", c->response_format);
    if (req && c->metadata) json_object_set(req, "metadata", c->metadata);
    if (req && t->logprobs) { /* confidence signals, as the router measures them */
        json_object_set_new(req, "logprobs", json_true());
        json_object_set_new(req, "top_logprobs", json_integer(10));
    }
    char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return s;
}

/* Usage-based cost when the server reported none. */
static void price(const slm_eval_target *t, ev_answer *a) {
    if (a->cost > 0) return;
    a->cost = (a->n_prompt * t->price_in + a->n_gen * t->price_out) / 1e6;
}

void ev_http_header_line(const char *line, size_t len, ev_answer *a) {
    const char *colon = memchr(line, ':', len);
    if (!colon) return;
    size_t kn = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vn = len - kn - 1;
    while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
    while (vn && strchr(" \t\r\n", v[vn - 1])) vn--;
    if (kn == 10 && !strncasecmp(line, "x-slm-tier", 10)) {
        if (vn >= sizeof a->tier) vn = sizeof a->tier - 1;
        memcpy(a->tier, v, vn);
        a->tier[vn] = 0;
    } else if (kn == 15 && !strncasecmp(line, "x-slm-escalated", 15)) {
        a->escalated = (vn == 4 && !strncasecmp(v, "true", 4)) || (vn == 1 && *v == '1');
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *user) {
    stream *s = user;
    size_t len = size * n;
    if (len >= 7 && !strncmp(p, "HTTP/", 5)) { /* a new response (redirect, 100): forget the last one's */
        s->a->tier[0] = 0;
        s->a->escalated = false;
    }
    ev_http_header_line(p, len, s->a);
    return len;
}

void ev_http_answer(const slm_eval_target *t, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a) {
    char *url = endpoint(t->location), *body = request_body(t, c, o);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[600];
    const char *key = t->api_key_env ? getenv(t->api_key_env) : o->api_key;
    if (key && hdr) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hdr = curl_slist_append(hdr, auth);
    }
    stream s = {.a = a, .t0 = slm_now_s()};
    if (!url || !body || !h || !hdr) {
        ev_answer_fail(a, "out of memory");
    } else {
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((o->timeout_s > 0 ? o->timeout_s : 120) * 1000));
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        CURLcode rc = curl_easy_perform(h);
        a->latency_s = slm_now_s() - s.t0;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            ev_answer_fail(a, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        } else if (status >= 400) {
            json_t *o2 = s.body.p ? json_loads(s.body.p, 0, NULL) : NULL;
            const char *m = error_message(o2);
            ev_answer_fail(a, "HTTP %ld: %.300s", status, m ? m : (s.body.p ? s.body.p : ""));
            json_decref(o2);
        } else if (!s.sse) {
            json_t *o2 = s.body.p ? json_loads(s.body.p, 0, NULL) : NULL;
            if (o2) take_object(&s, o2);
            else ev_answer_fail(a, "response is not JSON");
            json_decref(o2);
        }
        if (!a->error && !a->text.p && !a->tool_calls) ev_answer_fail(a, "no answer in the response");
    }
    price(t, a);
    ev_buf_free(&s.body);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(url);
    free(body);
}
