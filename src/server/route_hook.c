/* The HTTP side of routed chat requests (see route_hook.h): which requests
 * go to the router, running slm_router_handle (on the connection thread, or
 * on a worker thread when the client streams), the x-slm-tier / x-slm-model
 * / x-slm-escalated headers, a buffered local answer sent as SSE, answers
 * in another API's shape through a route_fmt (route_ollama.c), and the
 * per-tier counters behind /metrics. Main data: route_req (one request) and
 * route_hook (per server: counters under a mutex). */
#include "route_hook.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_PENDING (1u << 20) /* stream bytes held for a slow client before the upstream waits */
#define WAIT_MS 50

struct route_hook {
    pthread_mutex_t mu;
    int n_tiers;
    uint64_t *answered, *escalated; /* per tier */
    double *cost;                   /* USD per answering tier */
    uint64_t refused, failed;       /* 4xx decisions, 5xx (nothing could answer) */
};

static slm_router *router_of(slm_server *s) { return (slm_router *)s->cfg.router; }

slm_status route_hook_init(slm_server *s, slm_error *err) {
    s->route = NULL;
    if (!router_of(s)) return SLM_OK;
    int n = slm_router_config(router_of(s))->n_tiers;
    route_hook *h = calloc(1, sizeof *h);
    if (h) {
        h->n_tiers = n;
        h->answered = calloc((size_t)n, sizeof *h->answered);
        h->escalated = calloc((size_t)n, sizeof *h->escalated);
        h->cost = calloc((size_t)n, sizeof *h->cost);
        pthread_mutex_init(&h->mu, NULL);
        s->route = h;
    }
    if (!h || !h->answered || !h->escalated || !h->cost) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

void route_hook_free(slm_server *s) {
    route_hook *h = s->route;
    if (!h) return;
    pthread_mutex_destroy(&h->mu);
    free(h->answered);
    free(h->escalated);
    free(h->cost);
    free(h);
    s->route = NULL;
}

bool route_hook_wants(slm_server *s, const json_t *body) {
    slm_router *r = router_of(s);
    if (!r) return false;
    const slm_route_config *cfg = slm_router_config(r);
    if (cfg->path) return slm_router_wants(r, body);
    /* No slm.yaml: only "auto" routes; everything else is served as before. */
    const char *m = json_string_value(json_object_get(body, "model"));
    return m && !strcmp(m, cfg->router_name);
}

/* ---- the request ---------------------------------------------------------- */

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    route_req *rr = cls;
    if (rr->n_hdrs >= ROUTE_MAX_HEADERS || !key || !value) return MHD_YES;
    route_hdr *h = &rr->hdrs[rr->n_hdrs];
    h->name = strdup(key);
    h->value = strdup(value);
    if (h->name && h->value) rr->n_hdrs++;
    else free(h->name), free(h->value);
    return MHD_YES;
}

static const char *header_fn(void *ctx, const char *name) {
    route_req *rr = ctx;
    for (int i = 0; i < rr->n_hdrs; i++)
        if (!strcasecmp(rr->hdrs[i].name, name)) return rr->hdrs[i].value;
    return NULL;
}

static void rr_free(route_req *rr) {
    for (int i = 0; i < rr->n_hdrs; i++) free(rr->hdrs[i].name), free(rr->hdrs[i].value);
    slm_route_outcome_free(&rr->out);
    json_decref(rr->body);
    free(rr->pend);
    free(rr->local_sse);
    if (rr->fmt) rr->fmt->free(rr->fmt);
    pthread_cond_destroy(&rr->cv);
    pthread_mutex_destroy(&rr->mu);
    free(rr);
}

static route_req *rr_new(conn *c, json_t *body, route_fmt *fmt) {
    route_req *rr = calloc(1, sizeof *rr);
    if (!rr) return NULL;
    rr->fmt = fmt;
    pthread_mutex_init(&rr->mu, NULL);
    pthread_cond_init(&rr->cv, NULL);
    rr->srv = c->srv;
    rr->router = router_of(c->srv);
    rr->body = body;
    rr->stream = json_is_true(json_object_get(body, "stream"));
    rr->fd = http_conn_fd(c);
    rr->out.tier = -1;
    MHD_get_connection_values(c->mc, MHD_HEADER_KIND, copy_header, rr);
    /* Budgets and the ledger group requests by this tag; the server's API
     * key (when set) already authenticated the caller. */
    const char *key = header_fn(rr, "x-slm-key");
    if (key) snprintf(rr->key_id, sizeof rr->key_id, "%s", key);
    rr->rq = (slm_route_request){.body = body, .header = header_fn, .header_ctx = rr,
                                 .key_id = rr->key_id[0] ? rr->key_id : NULL,
                                 .raw_answer = !rr->stream && !fmt, /* a remote answer goes out as received */
                                 .count_tokens = route_count_tokens, .count_ctx = rr,
                                 .classify = route_classify_task, .classify_ctx = rr};
    return rr;
}

static void count(route_req *rr) {
    route_hook *h = rr->srv->route;
    const slm_route_outcome *o = &rr->out;
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    if (o->http_status == 200 && o->tier >= 0 && o->tier < h->n_tiers) {
        h->answered[o->tier]++;
        if (o->escalated) h->escalated[o->tier]++;
        h->cost[o->tier] += o->cost_usd;
    } else if (o->http_status >= 500) {
        h->failed++;
    } else {
        h->refused++;
    }
    pthread_mutex_unlock(&h->mu);
}

/* Runs the router; on the worker thread for a stream. */
static void run(route_req *rr) {
    slm_error err = {0};
    if (slm_router_handle(rr->router, &rr->rq, route_local_run, rr, route_stream_emit, rr, &rr->out, &err) != SLM_OK) {
        rr->out.http_status = err.code == SLM_ERR_NOMEM ? 500 : 400;
        snprintf(rr->out.error, sizeof rr->out.error, "%.200s", err.msg);
    }
    count(rr);
}

/* ---- headers ---------------------------------------------------------------- */

/* Which candidate is running now: replays the trail of attempts so far (each
 * attempted candidate left "tier/model: what"; an escalated local answer
 * skips the rest of its tier, as the router does). -1: none. */
static int current_candidate(const slm_route_config *cfg, const slm_route_outcome *o) {
    const slm_route_decision *d = &o->decision;
    const char *p = o->tried;
    int i = 0;
    while (i >= 0 && i < d->n_plan) {
        const slm_route_tier *t = &cfg->tiers[d->plan[i].tier];
        const slm_route_model *m = &t->models[d->plan[i].model];
        char key[320];
        snprintf(key, sizeof key, "%s/%s: ", t->name, m->name);
        const char *hit = strstr(p, key);
        if (!hit) return i;
        p = hit + strlen(key);
        if (m->local && !strncmp(p, "escalated (", 11)) {
            int k = i + 1;
            while (k < d->n_plan && d->plan[k].tier == d->plan[i].tier) k++;
            i = k;
        } else {
            i++;
        }
    }
    return -1;
}

static void add_route_headers(struct MHD_Response *r, const char *tier, const char *model, bool escalated) {
    if (tier && *tier) MHD_add_response_header(r, "x-slm-tier", tier);
    if (model && *model) MHD_add_response_header(r, "x-slm-model", model);
    MHD_add_response_header(r, "x-slm-escalated", escalated ? "true" : "false");
}

static enum MHD_Result send_routed(conn *c, route_req *rr, unsigned status, const char *type, char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    const slm_route_outcome *o = &rr->out;
    const slm_route_config *cfg = slm_router_config(rr->router);
    MHD_add_response_header(r, "Content-Type", type);
    if (rr->stream && status == 200) MHD_add_response_header(r, "Cache-Control", "no-cache");
    http_common_headers(c, r);
    if (status == 429) MHD_add_response_header(r, "Retry-After", "1");
    add_route_headers(r, o->tier >= 0 ? cfg->tiers[o->tier].name : NULL, o->model ? o->model->name : NULL,
                      o->escalated);
    enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
    MHD_destroy_response(r);
    c->status = status;
    c->answered = true;
    return ret;
}

/* ---- answers ---------------------------------------------------------------- */

static bool sse_add(char **p, size_t *len, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return false;
    size_t n = strlen(s);
    char *q = realloc(*p, *len + n + 9);
    if (!q) {
        free(s);
        return false;
    }
    *p = q;
    *len += (size_t)sprintf(q + *len, "data: %s\n\n", s);
    free(s);
    return true;
}

/* A whole chat.completion as SSE chunks (an answer that was not produced as
 * a stream: the role and content delta, then the finish, then [DONE]). */
static char *response_to_sse(const json_t *resp, size_t *len) {
    const json_t *ch = json_array_get(json_object_get(resp, "choices"), 0);
    const json_t *msg = json_object_get(ch, "message");
    json_t *delta = json_pack("{s:s}", "role", "assistant");
    const json_t *content = json_object_get(msg, "content"), *calls = json_object_get(msg, "tool_calls");
    if (json_is_string(content)) json_object_set(delta, "content", (json_t *)content);
    if (json_is_array(calls)) {
        json_t *cc = json_deep_copy(calls);
        size_t i;
        json_t *call;
        json_array_foreach(cc, i, call) json_object_set_new(call, "index", json_integer((json_int_t)i));
        json_object_set_new(delta, "tool_calls", cc);
    }
    const json_t *fr = json_object_get(ch, "finish_reason");
    char *out = NULL;
    *len = 0;
    const char *id = json_string_value(json_object_get(resp, "id")), *model = json_string_value(json_object_get(resp, "model"));
    json_int_t created = json_integer_value(json_object_get(resp, "created"));
    bool ok = sse_add(&out, len, json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:n}]}", "id", id ? id : "chatcmpl-routed",
                                           "object", "chat.completion.chunk", "created", created, "model",
                                           model ? model : "", "choices", "index", 0, "delta", delta, "finish_reason"));
    ok = ok && sse_add(&out, len, json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{},s:s}]}", "id", id ? id : "chatcmpl-routed",
                                            "object", "chat.completion.chunk", "created", created, "model",
                                            model ? model : "", "choices", "index", 0, "delta", "finish_reason",
                                            json_is_string(fr) ? json_string_value(fr) : "stop"));
    char *q = ok ? realloc(out, *len + 15) : NULL;
    if (!q) {
        free(out);
        return NULL;
    }
    memcpy(q + *len, "data: [DONE]\n\n", 15);
    *len += 14;
    return q;
}

static enum MHD_Result send_error(conn *c, route_req *rr) {
    const slm_route_outcome *o = &rr->out;
    unsigned status = o->http_status >= 400 && o->http_status < 600 ? (unsigned)o->http_status : 500;
    if (rr->fmt) {
        size_t n = 0;
        char *b = rr->fmt->error(rr->fmt, o->error[0] ? o->error : "routing failed", &n);
        return b ? send_routed(c, rr, status, "application/json", b, n) : MHD_NO;
    }
    const char *code = status == 403 ? "sensitive_data" : status == 429 ? "budget_exceeded"
                     : status >= 500 ? "upstream_failed" : NULL;
    json_t *e = json_pack("{s:{s:s,s:s,s:n,s:o}}", "error", "message", o->error[0] ? o->error : "routing failed",
                          "type", http_status_type(status), "param", "code", code ? json_string(code) : json_null());
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!s) return MHD_NO;
    return send_routed(c, rr, status, "application/json", s, strlen(s));
}

/* The outcome when nothing was streamed: JSON, a buffered local answer as
 * SSE, or an error. */
static enum MHD_Result answer(conn *c, route_req *rr) {
    slm_route_outcome *o = &rr->out;
    if (o->http_status == 200 && o->raw && !rr->stream) {
        char *raw = o->raw; /* the upstream's bytes, checked to be one JSON object */
        o->raw = NULL;
        return send_routed(c, rr, 200, "application/json", raw, o->raw_len);
    }
    if (o->http_status != 200 || !o->response) return send_error(c, rr);
    if (rr->fmt) {
        size_t n = 0;
        const char *type = NULL;
        char *b = rr->fmt->whole(rr->fmt, o->response, rr->stream, &n, &type);
        return b ? send_routed(c, rr, 200, type, b, n) : MHD_NO;
    }
    if (!rr->stream) {
        char *s = json_dumps(o->response, JSON_COMPACT);
        return s ? send_routed(c, rr, 200, "application/json", s, strlen(s)) : MHD_NO;
    }
    char *sse = NULL;
    size_t n = 0;
    if (rr->local_sse && o->model == rr->local_model) {
        sse = rr->local_sse; /* exactly the chunks a direct stream would have had */
        n = rr->local_sse_len;
        rr->local_sse = NULL;
    } else {
        sse = response_to_sse(o->response, &n);
    }
    return sse ? send_routed(c, rr, 200, "text/event-stream", sse, n) : MHD_NO;
}

/* ---- streaming -------------------------------------------------------------- */

bool route_pend_add(route_req *rr, const char *data, size_t len) {
    if (len > SIZE_MAX / 4 - rr->pend_len) return rr->oom = true, false;
    if (rr->pend_len + len + 1 > rr->pend_cap) {
        size_t cap = rr->pend_cap ? rr->pend_cap : 4096;
        while (cap < rr->pend_len + len + 1) cap *= 2;
        char *p = realloc(rr->pend, cap);
        if (!p) return rr->oom = true, false;
        rr->pend = p, rr->pend_cap = cap;
    }
    memcpy(rr->pend + rr->pend_len, data, len);
    rr->pend_len += len;
    return true;
}

bool route_stream_emit(void *ctx, const char *data, size_t len) {
    route_req *rr = ctx;
    pthread_mutex_lock(&rr->mu);
    if (!rr->started) {
        const slm_route_config *cfg = slm_router_config(rr->router);
        int i = current_candidate(cfg, &rr->out);
        if (i >= 0) {
            const slm_route_tier *t = &cfg->tiers[rr->out.decision.plan[i].tier];
            snprintf(rr->hdr_tier, sizeof rr->hdr_tier, "%s", t->name);
            snprintf(rr->hdr_model, sizeof rr->hdr_model, "%s", t->models[rr->out.decision.plan[i].model].name);
        }
        rr->hdr_escalated = strstr(rr->out.tried, ": escalated (") != NULL;
        rr->started = true;
    }
    while (!rr->gone && rr->pend_len - rr->pend_pos > MAX_PENDING) { /* back-pressure from a slow client */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&rr->cv, &rr->mu, &ts);
    }
    bool ok = !rr->gone;
    if (ok) ok = rr->fmt ? rr->fmt->stream(rr->fmt, rr, data, len) : route_pend_add(rr, data, len);
    pthread_cond_broadcast(&rr->cv);
    pthread_mutex_unlock(&rr->mu);
    return ok;
}

static void *worker_main(void *arg) {
    route_req *rr = arg;
    run(rr);
    if (rr->started && rr->out.http_status != 200) { /* failed mid-stream: say so, then end */
        json_t *e = json_pack("{s:{s:s,s:s}}", "error", "message", rr->out.error[0] ? rr->out.error : "stream failed",
                              "type", "server_error");
        char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        char line[600];
        int n = snprintf(line, sizeof line, "data: %s\n\ndata: [DONE]\n\n", s ? s : "{}");
        free(s);
        if (n > 0 && (size_t)n < sizeof line) route_stream_emit(rr, line, (size_t)n);
    }
    pthread_mutex_lock(&rr->mu);
    rr->done = true;
    pthread_cond_broadcast(&rr->cv);
    pthread_mutex_unlock(&rr->mu);
    return NULL;
}

static void wait_cv(route_req *rr) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WAIT_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&rr->cv, &rr->mu, &ts);
}

static void stop_worker(route_req *rr) {
    pthread_mutex_lock(&rr->mu);
    rr->gone = !rr->done;
    pthread_cond_broadcast(&rr->cv);
    pthread_mutex_unlock(&rr->mu);
    if (rr->worker_running) pthread_join(rr->worker, NULL);
    rr->worker_running = false;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    route_req *rr = cls;
    pthread_mutex_lock(&rr->mu);
    while (rr->pend_pos == rr->pend_len && !rr->done && !atomic_load(&rr->srv->stopping)) wait_cv(rr);
    ssize_t n;
    if (rr->pend_pos < rr->pend_len) {
        size_t k = rr->pend_len - rr->pend_pos < max ? rr->pend_len - rr->pend_pos : max;
        memcpy(buf, rr->pend + rr->pend_pos, k);
        rr->pend_pos += k;
        if (rr->pend_pos == rr->pend_len) rr->pend_pos = rr->pend_len = 0;
        n = (ssize_t)k;
        pthread_cond_broadcast(&rr->cv);
    } else {
        n = rr->done && !rr->oom ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    pthread_mutex_unlock(&rr->mu);
    return n;
}

static void stream_free(void *cls) {
    route_req *rr = cls;
    stop_worker(rr);
    rr_free(rr);
}

static enum MHD_Result stream_live(conn *c, route_req *rr) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, rr, stream_free);
    if (!r) {
        stream_free(rr);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", rr->fmt ? rr->fmt->stream_type : "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    http_common_headers(c, r);
    pthread_mutex_lock(&rr->mu);
    add_route_headers(r, rr->hdr_tier, rr->hdr_model, rr->hdr_escalated);
    pthread_mutex_unlock(&rr->mu);
    enum MHD_Result ret = MHD_queue_response(c->mc, 200, r);
    MHD_destroy_response(r);
    c->status = 200;
    c->answered = true;
    return ret;
}

/* Streams: the router runs on a worker; headers go out with the first bytes
 * (then the rest is drained by stream_read), or the whole outcome is sent
 * when it ends without having streamed. */
static enum MHD_Result route_stream(conn *c, route_req *rr) {
    if (pthread_create(&rr->worker, NULL, worker_main, rr) != 0) {
        bool ol = rr->fmt != NULL;
        rr_free(rr);
        return ol ? http_ol_error(c, 503, "cannot start a routing thread")
                  : http_oa_error(c, 503, NULL, NULL, "cannot start a routing thread");
    }
    rr->worker_running = true;
    bool gone = false;
    pthread_mutex_lock(&rr->mu);
    while (!rr->started && !rr->done && !gone) {
        wait_cv(rr);
        gone = http_peer_gone(rr->fd);
    }
    bool started = rr->started;
    pthread_mutex_unlock(&rr->mu);
    if (started && !gone) return stream_live(c, rr);
    stop_worker(rr);
    enum MHD_Result ret = gone ? MHD_NO : answer(c, rr);
    rr_free(rr);
    return ret;
}

enum MHD_Result route_hook_chat(conn *c, json_t *body) { return route_hook_run(c, body, NULL); }

enum MHD_Result route_hook_run(conn *c, json_t *body, route_fmt *fmt) {
    const char *m = json_string_value(json_object_get(body, "model"));
    snprintf(c->model, sizeof c->model, "%s", m ? m : "(router)");
    route_req *rr = rr_new(c, body, fmt);
    if (!rr) {
        bool ol = fmt != NULL;
        json_decref(body);
        if (fmt) fmt->free(fmt);
        return ol ? http_ol_error(c, 500, "out of memory") : http_oa_error(c, 500, NULL, NULL, "out of memory");
    }
    if (rr->stream) return route_stream(c, rr);
    run(rr);
    enum MHD_Result ret = answer(c, rr);
    rr_free(rr);
    return ret;
}

/* ---- /metrics ---------------------------------------------------------------- */

static void put(char **p, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char **p, size_t *len, size_t *cap, const char *fmt, ...) {
    for (int tries = 0; tries < 2 && *p; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*p + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        size_t c = *cap * 2 + (size_t)n + 1;
        char *q = realloc(*p, c);
        if (!q) {
            free(*p);
            *p = NULL;
            return;
        }
        *p = q;
        *cap = c;
    }
}

char *route_hook_metrics(slm_server *s) {
    route_hook *h = s->route;
    if (!h) return NULL;
    const slm_route_config *cfg = slm_router_config(router_of(s));
    size_t len = 0, cap = 2048;
    char *p = malloc(cap);
    if (!p) return NULL;
    p[0] = '\0';
    put(&p, &len, &cap, "# HELP slm_router_requests_total Routed requests answered, by tier.\n"
                        "# TYPE slm_router_requests_total counter\n");
    pthread_mutex_lock(&h->mu);
    for (int t = 0; t < h->n_tiers; t++)
        put(&p, &len, &cap, "slm_router_requests_total{tier=\"%s\"} %llu\n", cfg->tiers[t].name,
            (unsigned long long)h->answered[t]);
    put(&p, &len, &cap, "# HELP slm_router_escalated_total Routed requests answered by a tier after a local "
                        "answer failed the confidence check.\n# TYPE slm_router_escalated_total counter\n");
    for (int t = 0; t < h->n_tiers; t++)
        put(&p, &len, &cap, "slm_router_escalated_total{tier=\"%s\"} %llu\n", cfg->tiers[t].name,
            (unsigned long long)h->escalated[t]);
    put(&p, &len, &cap, "# HELP slm_router_cost_usd_total Cost of routed requests, by answering tier.\n"
                        "# TYPE slm_router_cost_usd_total counter\n");
    for (int t = 0; t < h->n_tiers; t++)
        put(&p, &len, &cap, "slm_router_cost_usd_total{tier=\"%s\"} %.9g\n", cfg->tiers[t].name, h->cost[t]);
    put(&p, &len, &cap, "# HELP slm_router_refused_total Routed requests refused (sensitive data, budget, bad "
                        "request).\n# TYPE slm_router_refused_total counter\nslm_router_refused_total %llu\n"
                        "# HELP slm_router_failed_total Routed requests no candidate could answer.\n"
                        "# TYPE slm_router_failed_total counter\nslm_router_failed_total %llu\n",
        (unsigned long long)h->refused, (unsigned long long)h->failed);
    pthread_mutex_unlock(&h->mu);
    double day = 0, month = 0;
    slm_router_spent(router_of(s), NULL, &day, &month);
    put(&p, &len, &cap, "# HELP slm_router_remote_spend_usd Remote spend counted against budgets.\n"
                        "# TYPE slm_router_remote_spend_usd gauge\nslm_router_remote_spend_usd{period=\"day\"} %.9g\n"
                        "slm_router_remote_spend_usd{period=\"month\"} %.9g\n", day, month);
    return p;
}
