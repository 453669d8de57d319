/* The router: owns a config, the ledger, the budget tracker and the
 * cooldown breaker, and runs one request end to end (slm_router_handle):
 * decide -> try each planned candidate (local through the caller's
 * callback + confidence check, remote through slm_upstream_chat) -> write
 * one ledger row. Main structure: rt_run, the per-request state (attempt
 * trail, costs, the best answer so far). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"

struct slm_router {
    slm_route_config *cfg;
    slm_ledger *ledger;
    rt_budget *budget;
    slm_breaker *breaker;
    int slot_base[17]; /* breaker slot of each tier's first model */
};

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

slm_status slm_router_open(slm_route_config *cfg, const char *ledger_path, slm_router **out, slm_error *err) {
    *out = NULL;
    slm_router *r = calloc(1, sizeof *r);
    if (!r) {
        slm_route_config_free(cfg);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    r->cfg = cfg;
    int slots = 0;
    for (int t = 0; t < cfg->n_tiers && t < 16; t++) {
        r->slot_base[t] = slots;
        slots += cfg->tiers[t].n_models;
    }
    rt_curl_init();
    r->budget = rt_budget_new(cfg);
    r->breaker = slm_breaker_new(slots, cfg->cooldown_failures, cfg->cooldown_s);
    slm_status st = r->budget && r->breaker ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    const char *path = ledger_path ? ledger_path : cfg->ledger_path;
    slm_ledger_options lo = {.queue_rows = cfg->ledger_queue_rows, .flush_interval_s = cfg->ledger_flush_s};
    if (!st && !(path && !*path)) st = slm_ledger_open_opts(path, &lo, &r->ledger, err);
    if (st) {
        slm_router_close(r);
        return st;
    }
    rt_budget_seed(r->budget, r->ledger);
    *out = r;
    return SLM_OK;
}

void slm_router_close(slm_router *r) {
    if (!r) return;
    slm_ledger_close(r->ledger);
    rt_budget_free(r->budget);
    slm_breaker_free(r->breaker);
    slm_route_config_free(r->cfg);
    free(r);
}

const slm_route_config *slm_router_config(const slm_router *r) { return r->cfg; }

bool slm_router_wants(const slm_router *r, const json_t *body) {
    const char *m = json_string_value(json_object_get(body, "model"));
    int t, i;
    return !m || !strcmp(m, r->cfg->router_name) || slm_route_find_model(r->cfg, m, &t, &i);
}

slm_status slm_router_decide(slm_router *r, const slm_route_request *req, slm_route_decision *d, slm_error *err) {
    bool ok = rt_budget_allows(r->budget, req ? req->key_id : NULL, unix_now());
    return rt_decide(r->cfg, req, ok, d, err);
}

void slm_router_spent(slm_router *r, const char *key_id, double *day_usd, double *month_usd) {
    rt_budget_get(r->budget, key_id, unix_now(), day_usd, month_usd);
}

/* ---- one request -------------------------------------------------------------- */

typedef struct rt_run {
    slm_router *r;
    const slm_route_request *req;
    slm_route_outcome *out;
    bool stream;
    int64_t tin, tout, tcached;
    double ttft_s, cost, remote_cost;
    char esc_reason[160];
    json_t *conf;          /* signals of the checked local answer */
    slm_local_answer held; /* a local answer kept while escalating */
    bool have_held;
    const slm_route_model *held_model;
    int held_tier;
} rt_run;

static void trail(rt_run *x, int t, int m, const char *what) {
    slm_route_outcome *o = x->out;
    const slm_route_config *c = x->r->cfg;
    size_t at = strlen(o->tried);
    if (at < sizeof o->tried - 1)
        rt_fmt(o->tried + at, sizeof o->tried - at, "%s%s/%s: %s", at ? " > " : "", c->tiers[t].name,
               c->tiers[t].models[m].name, what);
}

static void answered(rt_run *x, int t, const slm_route_model *m, json_t *resp, bool streamed) {
    x->out->http_status = 200;
    x->out->tier = t;
    x->out->model = m;
    x->out->response = resp;
    x->out->streamed = streamed;
}

static json_t *signals_json(const slm_conf_signals *s, const slm_conf_result *cr) {
    json_t *j = json_object();
    if (!isnan(s->mean_logprob)) json_object_set_new(j, "mean_logprob", json_real(s->mean_logprob));
    if (!isnan(s->min_logprob)) json_object_set_new(j, "min_logprob", json_real(s->min_logprob));
    if (!isnan(s->mean_entropy)) json_object_set_new(j, "entropy", json_real(s->mean_entropy));
    if (s->complete >= 0) json_object_set_new(j, "complete", json_boolean(s->complete));
    json_object_set_new(j, "pass", json_boolean(cr->pass));
    if (cr->reason[0]) json_object_set_new(j, "reason", json_string(cr->reason));
    return j;
}

/* Is there a candidate after index i in another tier (somewhere to escalate)? */
static int next_tier_index(const slm_route_decision *d, int i) {
    for (int k = i + 1; k < d->n_plan; k++)
        if (d->plan[k].tier != d->plan[i].tier) return k;
    return -1;
}

/* Returns the next plan index to try, or -1 when done. */
static int try_local(rt_run *x, slm_local_fn local, void *lctx, int i) {
    const slm_route_decision *d = &x->out->decision;
    const slm_route_config *c = x->r->cfg;
    int t = d->plan[i].tier, mi = d->plan[i].model;
    const slm_route_model *m = &c->tiers[t].models[mi];
    if (!local) {
        trail(x, t, mi, "no local engine");
        return i + 1;
    }
    int next = next_tier_index(d, i);
    bool checkable = c->confidence.enabled && next >= 0;
    bool may_stream = x->stream && (!checkable || c->stream_mode == SLM_STREAM_LOCAL_ONLY);
    slm_local_answer a = {0};
    slm_conf_signals_init(&a.signals);
    slm_status st = local(lctx, m, x->req->body, may_stream, c->stream_buffer_bytes, &a);
    if (st != SLM_OK || a.http_status != 200) {
        trail(x, t, mi, a.error[0] ? a.error : "local model failed");
        json_decref(a.response);
        return i + 1;
    }
    x->tin = a.tokens_in, x->tout = a.tokens_out, x->tcached = a.tokens_cached, x->ttft_s = a.ttft_s;
    x->cost += rt_cost(m, a.tokens_in, a.tokens_out);
    const char *labels[64];
    if (!a.signals.labels) {
        a.signals.n_labels = slm_route_request_labels(x->req->body, labels, 64);
        a.signals.labels = a.signals.n_labels ? labels : NULL;
    }
    slm_conf_result cr = {.pass = true};
    if (c->confidence.enabled) slm_confidence_eval(&c->confidence, &a.signals, &cr);
    json_decref(x->conf);
    x->conf = c->confidence.enabled ? signals_json(&a.signals, &cr) : NULL;
    if (cr.pass || a.streamed || !checkable) {
        trail(x, t, mi, cr.pass ? "ok" : "low confidence, nowhere to escalate");
        answered(x, t, m, a.response, a.streamed);
        return -1;
    }
    char what[200];
    rt_fmt(what, sizeof what, "escalated (%s)", cr.reason);
    trail(x, t, mi, what);
    x->out->escalated = true;
    rt_fmt(x->esc_reason, sizeof x->esc_reason, "%s", cr.reason);
    json_decref(x->held.response);
    x->held = a; /* answer with it if every later tier fails */
    x->have_held = true;
    x->held_model = m;
    x->held_tier = t;
    return next;
}

static int try_remote(rt_run *x, slm_stream_fn cb, void *cbctx, int i) {
    const slm_route_decision *d = &x->out->decision;
    slm_router *r = x->r;
    int t = d->plan[i].tier, mi = d->plan[i].model;
    const slm_route_model *m = &r->cfg->tiers[t].models[mi];
    int slot = r->slot_base[t] + mi;
    if (!slm_breaker_allow(r->breaker, slot, slm_now_s())) {
        trail(x, t, mi, "cooling down");
        return i + 1;
    }
    slm_upstream_result res;
    slm_status st = x->req->raw_answer && !x->stream
                        ? slm_upstream_chat_raw(r->cfg, m, x->req->body, NULL, NULL, &res, NULL)
                        : slm_upstream_chat(r->cfg, m, x->req->body, x->stream ? cb : NULL, cbctx, &res, NULL);
    slm_breaker_report(r->breaker, slot, st == SLM_OK, slm_now_s());
    double cost = rt_cost(m, res.tokens_in, res.tokens_out);
    x->cost += cost;
    x->remote_cost += cost;
    if (st != SLM_OK) {
        char what[300];
        rt_fmt(what, sizeof what, "%s (%d tries)", res.error, res.attempts);
        trail(x, t, mi, what);
        slm_upstream_result_free(&res);
        if (!res.streamed) return i + 1;
        x->out->http_status = 502; /* part of a stream went out: no fallback possible */
        x->out->streamed = true;
        rt_fmt(x->out->error, sizeof x->out->error, "upstream %s failed mid-stream", m->name);
        return -1;
    }
    trail(x, t, mi, res.attempts > 1 ? "ok after retry" : "ok");
    x->tin = res.tokens_in, x->tout = res.tokens_out, x->tcached = res.tokens_cached;
    x->ttft_s = res.ttft_s;
    answered(x, t, m, res.response, res.streamed);
    x->out->raw = res.raw;
    x->out->raw_len = res.raw_len;
    res.response = NULL;
    res.raw = NULL;
    return -1;
}

/* Every candidate failed: the held local answer, or an error. */
static void no_answer(rt_run *x) {
    if (x->have_held) {
        answered(x, x->held_tier, x->held_model, x->held.response, false);
        x->held.response = NULL;
        x->tin = x->held.tokens_in, x->tout = x->held.tokens_out, x->tcached = x->held.tokens_cached;
        size_t at = strlen(x->out->tried);
        rt_fmt(x->out->tried + at, sizeof x->out->tried - at, " > returned the local answer");
        return;
    }
    x->out->http_status = 502;
    rt_fmt(x->out->error, sizeof x->out->error, "every candidate failed: %s", x->out->tried);
}

static void record(rt_run *x, double t_start_unix, int64_t t0_us) {
    slm_router *r = x->r;
    const slm_route_config *c = r->cfg;
    slm_route_outcome *o = x->out;
    const slm_route_decision *d = &o->decision;
    const slm_route_tier *last = &c->tiers[c->n_tiers - 1];
    char *conf = x->conf ? json_dumps(x->conf, JSON_COMPACT) : NULL;
    char *content = NULL;
    if (c->log_content) {
        json_t *resp = o->raw ? json_loadb(o->raw, o->raw_len, 0, NULL) : json_incref(o->response);
        json_t *j = json_pack("{s:O,s:o?}", "request", x->req->body, "response", resp);
        content = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
    }
    slm_ledger_row row = {
        .ts = t_start_unix, .key_id = x->req->key_id, .task = d->task,
        .tier = o->tier >= 0 ? c->tiers[o->tier].name : NULL, .model = o->model ? o->model->name : NULL,
        .rule = d->rule, .tried = o->tried, .escalated = o->escalated,
        .escalation_reason = x->esc_reason[0] ? x->esc_reason : NULL, .tokens_in = x->tin, .tokens_out = x->tout,
        .tokens_cached = x->tcached, .latency_ms = (double)(slm_now_us() - t0_us) / 1e3, .ttft_ms = x->ttft_s * 1e3,
        .cost_usd = x->cost, .remote_cost_usd = x->remote_cost,
        .frontier_cost_usd = rt_cost(&last->models[0], x->tin, x->tout), .confidence = conf,
        .sensitive = d->sensitive, .status = o->http_status, .error = o->error[0] ? o->error : NULL,
        .content = content,
    };
    /* Queued for the ledger's writer thread: SQLite stays off the request
     * path (durable within the flush interval); a ledger failure must not
     * fail the answer. */
    slm_ledger_enqueue(r->ledger, &row, NULL);
    rt_budget_add(r->budget, x->req->key_id, x->remote_cost, t_start_unix);
    o->cost_usd = x->cost;
    free(conf);
    free(content);
}

slm_status slm_router_handle(slm_router *r, const slm_route_request *req, slm_local_fn local, void *local_ctx,
                             slm_stream_fn stream_cb, void *stream_ctx, slm_route_outcome *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    out->tier = -1;
    double t_unix = unix_now();
    int64_t t0 = slm_now_us();
    slm_status st = slm_router_decide(r, req, &out->decision, err);
    if (st) return st;
    rt_run x = {.r = r, .req = req, .out = out, .stream = json_is_true(json_object_get(req->body, "stream"))};
    const slm_route_decision *d = &out->decision;
    if (d->http_status) {
        out->http_status = d->http_status;
        rt_fmt(out->error, sizeof out->error, "%s", d->reason);
    } else {
        int i = 0;
        while (i >= 0 && i < d->n_plan) {
            bool is_local = r->cfg->tiers[d->plan[i].tier].models[d->plan[i].model].local;
            i = is_local ? try_local(&x, local, local_ctx, i) : try_remote(&x, stream_cb, stream_ctx, i);
        }
        if (out->http_status == 0) no_answer(&x);
    }
    record(&x, t_unix, t0);
    json_decref(x.conf);
    json_decref(x.held.response);
    return SLM_OK;
}

void slm_route_outcome_free(slm_route_outcome *o) {
    if (!o) return;
    json_decref(o->response);
    o->response = NULL;
    free(o->raw);
    o->raw = NULL;
    o->raw_len = 0;
}
