/* The upstream client: one OpenAI-compatible chat completion against a
 * remote model through libcurl, with retries and exponential backoff on
 * 429, 5xx, timeouts and dropped connections (Retry-After honoured up to
 * backoff_max). A streaming 200 answer is passed through to the caller's
 * callback as raw SSE bytes while the "data:" lines are parsed on the side
 * for the usage chunk; once bytes went out nothing is retried.
 *
 * Main structure: up_call, the state of one HTTP exchange (status, body
 * buffer or SSE line buffer, usage, timings). Easy handles (and with them
 * their kept-alive connections) live in a pool per base_url: a request
 * takes one, uses it and gives it back, so any thread reuses the open
 * connections to that upstream. Options are set in full on every use, so
 * a handle needs no curl_easy_reset between requests. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "router/router_internal.h"

#define MAX_BODY (16u << 20)
#define MAX_SSE_LINE (1u << 20)
#define POOL_KEEP 64 /* idle handles kept per upstream */

typedef struct up_call {
    slm_stream_fn cb;
    void *cb_ctx;
    bool stream, streamed, aborted, overflow;
    long status;
    CURL *h;
    char *buf; /* whole body (non-streaming or error), or the current SSE line */
    size_t len, cap;
    int64_t t0_us;
    double ttft_s, retry_after_s;
    int64_t tin, tout, tcached, n_chunks;
} up_call;

/* Idle easy handles of one upstream (base_url). */
typedef struct up_pool {
    char *base_url;
    CURL *idle[POOL_KEEP];
    int n_idle;
    struct up_pool *next;
} up_pool;

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static up_pool *g_pools;

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void rt_curl_init(void) { pthread_once(&g_curl_once, curl_init_once); }

static up_pool *pool_of(const char *base_url) { /* with g_pool_mu held */
    for (up_pool *p = g_pools; p; p = p->next)
        if (!strcmp(p->base_url, base_url)) return p;
    up_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->base_url = strdup(base_url))) {
        free(p);
        return NULL;
    }
    p->next = g_pools;
    g_pools = p;
    return p;
}

static CURL *handle_take(const char *base_url) {
    rt_curl_init();
    pthread_mutex_lock(&g_pool_mu);
    up_pool *p = pool_of(base_url);
    CURL *h = p && p->n_idle ? p->idle[--p->n_idle] : NULL;
    pthread_mutex_unlock(&g_pool_mu);
    return h ? h : curl_easy_init();
}

/* A handle whose transfer failed is fine to reuse: libcurl closes a
 * connection it cannot trust before the next request. */
static void handle_give(const char *base_url, CURL *h) {
    if (!h) return;
    pthread_mutex_lock(&g_pool_mu);
    up_pool *p = pool_of(base_url);
    if (p && p->n_idle < POOL_KEEP) {
        p->idle[p->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&g_pool_mu);
    if (h) curl_easy_cleanup(h);
}

static bool append(up_call *u, const char *p, size_t n) {
    if (u->len + n + 1 > u->cap) {
        size_t cap = u->cap ? u->cap : 4096;
        while (cap < u->len + n + 1) cap *= 2;
        if (cap > MAX_BODY + 1) return false;
        char *b = realloc(u->buf, cap);
        if (!b) return false;
        u->buf = b;
        u->cap = cap;
    }
    memcpy(u->buf + u->len, p, n);
    u->len += n;
    u->buf[u->len] = '\0';
    return true;
}

static void take_usage(up_call *u, const json_t *usage) {
    if (!json_is_object(usage)) return;
    u->tin = json_integer_value(json_object_get(usage, "prompt_tokens"));
    u->tout = json_integer_value(json_object_get(usage, "completion_tokens"));
    u->tcached = json_integer_value(json_object_get(json_object_get(usage, "prompt_tokens_details"), "cached_tokens"));
}

/* One complete SSE line (without the newline). */
static void sse_line(up_call *u, const char *line, size_t n) {
    if (n < 6 || strncmp(line, "data:", 5)) return;
    const char *p = line + 5;
    while (*p == ' ') p++;
    if (!strncmp(p, "[DONE]", 6)) return;
    json_t *j = json_loadb(p, n - (size_t)(p - line), 0, NULL);
    if (!j) return;
    take_usage(u, json_object_get(j, "usage"));
    if (json_array_size(json_object_get(j, "choices")) > 0) u->n_chunks++;
    json_decref(j);
}

static void sse_scan(up_call *u, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (!u->overflow && !append(u, &p[i], 1)) u->overflow = true; /* over-long line: skipped */
            continue;
        }
        if (!u->overflow) sse_line(u, u->buf ? u->buf : "", u->len);
        u->len = 0;
        u->overflow = false;
    }
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx) {
    up_call *u = ctx;
    size_t n = size * nmemb;
    if (!u->status) curl_easy_getinfo(u->h, CURLINFO_RESPONSE_CODE, &u->status);
    if (u->ttft_s == 0) u->ttft_s = (double)(slm_now_us() - u->t0_us) / 1e6;
    if (u->stream && u->status == 200 && u->cb) {
        u->streamed = true;
        if (!u->cb(u->cb_ctx, p, n)) {
            u->aborted = true;
            return 0;
        }
        sse_scan(u, p, n);
        return n;
    }
    return append(u, p, n) ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx) {
    up_call *u = ctx;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(p, "retry-after:", 12)) u->retry_after_s = strtod(p + 12, NULL);
    return n;
}

static struct curl_slist *build_headers(const slm_route_model *m, bool stream) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (stream) h = curl_slist_append(h, "Accept: text/event-stream");
    const char *key = m->api_key_env ? getenv(m->api_key_env) : NULL;
    if (key && *key && !strpbrk(key, "\r\n")) {
        char auth[2048];
        if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) < sizeof auth)
            h = curl_slist_append(h, auth);
    }
    return h;
}

/* The body sent upstream: "model" renamed, routing hints dropped, usage
 * requested when streaming. A shallow copy: only the top-level object is
 * new, every value is shared with the request. */
static char *upstream_body(const slm_route_config *c, const slm_route_model *m, const json_t *body, bool stream) {
    json_t *b = json_copy((json_t *)body); /* json_copy does not modify its argument */
    if (!b) return NULL;
    json_object_set_new(b, "model", json_string(m->upstream_model ? m->upstream_model : m->name));
    json_object_del(b, "metadata");
    if (stream && c->stream_usage && !json_object_get(b, "stream_options"))
        json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

/* Every option a request depends on, so a pooled handle carries nothing
 * over from the previous request. */
static void setup(CURL *h, const slm_route_model *m, const char *url, const char *body, struct curl_slist *hdr,
                  bool stream, up_call *u) {
    long ms = (long)(m->timeout_s > 0 ? m->timeout_s * 1000 : 60000);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms < 10000 ? ms : 10000L);
    /* a long stream is fine while bytes keep coming; a whole answer has a deadline */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, stream ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stream ? (long)ceil((double)ms / 1000) : 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, stream ? 0L : ms);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, u);
}

static bool retryable(CURLcode rc, long status) {
    if (rc == CURLE_OK) return status == 429 || status >= 500;
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE;
}

static void backoff_sleep(const slm_route_config *c, int attempt, double retry_after) {
    double d = c->backoff_s * pow(2, attempt);
    d *= 0.75 + 0.5 * ((double)rand() / RAND_MAX); /* jitter: spread synchronized retries */
    if (retry_after > d) d = retry_after;
    if (d > c->backoff_max_s) d = c->backoff_max_s;
    if (d <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - floor(d)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One HTTP exchange; fills u. */
static CURLcode attempt(CURL *h, const slm_route_model *m, const char *url, const char *body, bool stream,
                        up_call *u) {
    struct curl_slist *hdr = build_headers(m, stream);
    u->len = 0;
    u->status = 0;
    u->h = h;
    u->t0_us = slm_now_us();
    u->ttft_s = u->retry_after_s = 0;
    setup(h, m, url, body, hdr, stream, u);
    CURLcode rc = curl_easy_perform(h);
    if (!u->status) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &u->status);
    curl_slist_free_all(hdr);
    return rc;
}

static slm_status finish_ok(up_call *u, bool raw, slm_upstream_result *res, slm_error *err) {
    if (u->stream && u->streamed) {
        res->tokens_in = u->tin;
        res->tokens_out = u->tout ? u->tout : u->n_chunks; /* no usage chunk: one token per chunk */
        res->tokens_cached = u->tcached;
        return SLM_OK;
    }
    const char *usage = NULL;
    size_t ulen = 0;
    if (raw) { /* the bytes go to the client as they are; only "usage" is parsed */
        if (!u->buf || !rt_json_member(u->buf, u->len, "usage", &usage, &ulen)) {
            rt_fmt(res->error, sizeof res->error, "upstream answered 200 with a body that is not a JSON object");
            return slm_error_set(err, SLM_ERR_FORMAT, "%s", res->error);
        }
        json_t *uj = usage ? json_loadb(usage, ulen, 0, NULL) : NULL;
        take_usage(u, uj);
        json_decref(uj);
        res->raw = u->buf;
        res->raw_len = u->len;
        u->buf = NULL;
        u->len = u->cap = 0;
    } else {
        res->response = u->buf ? json_loadb(u->buf, u->len, 0, NULL) : NULL;
        if (!json_is_object(res->response)) {
            json_decref(res->response);
            res->response = NULL;
            rt_fmt(res->error, sizeof res->error, "upstream answered 200 with a body that is not a JSON object");
            return slm_error_set(err, SLM_ERR_FORMAT, "%s", res->error);
        }
        take_usage(u, json_object_get(res->response, "usage"));
    }
    res->tokens_in = u->tin;
    res->tokens_out = u->tout;
    res->tokens_cached = u->tcached;
    return SLM_OK;
}

static void describe_failure(CURLcode rc, const up_call *u, slm_upstream_result *res) {
    if (rc != CURLE_OK && !u->aborted) rt_fmt(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
    else if (u->aborted) rt_fmt(res->error, sizeof res->error, "client went away during the stream");
    else rt_fmt(res->error, sizeof res->error, "HTTP %ld: %.180s", u->status, u->buf ? u->buf : "");
}

static slm_status chat(const slm_route_config *c, const slm_route_model *m, const json_t *body, slm_stream_fn stream_cb,
                       void *stream_ctx, bool raw, slm_upstream_result *res, slm_error *err) {
    memset(res, 0, sizeof *res);
    if (!m || !m->base_url) return slm_error_set(err, SLM_ERR_INVALID_ARG, "upstream: model has no base_url");
    char url[2048];
    size_t bl = strlen(m->base_url);
    while (bl && m->base_url[bl - 1] == '/') bl--;
    if ((size_t)snprintf(url, sizeof url, "%.*s/chat/completions", (int)bl, m->base_url) >= sizeof url)
        return slm_error_set(err, SLM_ERR_RANGE, "upstream: base_url too long");
    bool stream = json_is_true(json_object_get(body, "stream")) && stream_cb;
    char *payload = upstream_body(c, m, body, stream);
    CURL *h = payload ? handle_take(m->base_url) : NULL;
    if (!h) {
        free(payload);
        return slm_error_set(err, SLM_ERR_NOMEM, "upstream: out of memory");
    }
    up_call u = {.cb = stream_cb, .cb_ctx = stream_ctx, .stream = stream};
    int64_t t0 = slm_now_us();
    slm_status st = SLM_ERR_IO;
    for (int a = 0; a <= c->retries; a++) {
        CURLcode rc = attempt(h, m, url, payload, stream, &u);
        res->attempts = a + 1;
        res->http_status = (int)u.status;
        res->ttft_s = (double)(u.t0_us - t0) / 1e6 + u.ttft_s;
        if (rc == CURLE_OK && u.status == 200) {
            st = finish_ok(&u, raw, res, err);
            break;
        }
        describe_failure(rc, &u, res);
        if (u.streamed || u.aborted || !retryable(rc, u.status) || a == c->retries) break;
        backoff_sleep(c, a, u.retry_after_s);
    }
    res->streamed = u.streamed;
    res->latency_s = (double)(slm_now_us() - t0) / 1e6;
    handle_give(m->base_url, h);
    free(u.buf);
    free(payload);
    if (st == SLM_ERR_IO) slm_error_set(err, SLM_ERR_IO, "upstream %s: %s", m->name, res->error);
    return st;
}

slm_status slm_upstream_chat(const slm_route_config *c, const slm_route_model *m, const json_t *body,
                             slm_stream_fn stream_cb, void *stream_ctx, slm_upstream_result *res, slm_error *err) {
    return chat(c, m, body, stream_cb, stream_ctx, false, res, err);
}

slm_status slm_upstream_chat_raw(const slm_route_config *c, const slm_route_model *m, const json_t *body,
                                 slm_stream_fn stream_cb, void *stream_ctx, slm_upstream_result *res,
                                 slm_error *err) {
    return chat(c, m, body, stream_cb, stream_ctx, true, res, err);
}

void slm_upstream_result_free(slm_upstream_result *r) {
    if (!r) return;
    json_decref(r->response);
    r->response = NULL;
    free(r->raw);
    r->raw = NULL;
    r->raw_len = 0;
}
