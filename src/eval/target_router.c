/* Router targets (`-t auto`): the slm.yaml router run in this process,
 * through the same slm_router_handle the server calls. Remote tiers go out
 * through the router's upstream client (retries, fallback, cooldown); local
 * tier models run on schedulers opened here on first use, one request at a
 * time under a lock (one slot each). The outcome says which tier answered
 * and whether the answer was escalated. Local answers carry the confidence
 * signals the server measures (token log-probabilities and entropy from
 * the scheduler, the answer text for label sets and refusal patterns), so
 * the same slm.yaml escalates the same way here and behind `slm serve`. No
 * ledger is written. Main data: ev_router (router + model cache). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

#define MAX_ENGINES 8

struct ev_router {
    slm_router *router;
    const slm_eval_run_opts *o;
    pthread_mutex_t mu; /* engines: open and generate one at a time */
    char *paths[MAX_ENGINES];
    ev_local *engines[MAX_ENGINES];
    int n_engines;
};

slm_status ev_router_open(const slm_eval_target *t, const slm_eval_run_opts *o, ev_router **out, slm_error *err) {
    *out = NULL;
    slm_route_config *cfg;
    slm_status st = slm_route_config_load(t->location, &cfg, err);
    if (st) return st;
    ev_router *r = calloc(1, sizeof *r);
    if (!r) {
        slm_route_config_free(cfg);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    st = slm_router_open(cfg, "", &r->router, err); /* "": no ledger; takes cfg */
    if (st) {
        free(r);
        return st;
    }
    r->o = o;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return SLM_OK;
}

void ev_router_close(ev_router *r) {
    if (!r) return;
    slm_router_close(r->router);
    for (int i = 0; i < r->n_engines; i++) {
        ev_local_close(r->engines[i]);
        free(r->paths[i]);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The engine for a path, opened on first use (caller holds mu). */
static ev_local *engine_for(ev_router *r, const char *path, slm_error *err) {
    for (int i = 0; i < r->n_engines; i++)
        if (!strcmp(r->paths[i], path)) return r->engines[i];
    if (r->n_engines == MAX_ENGINES) {
        slm_error_set(err, SLM_ERR_RANGE, "more than %d local models", MAX_ENGINES);
        return NULL;
    }
    ev_local *l;
    if (ev_local_open(path, r->o->n_threads, &l, err)) return NULL;
    if (!(r->paths[r->n_engines] = ev_strdup(path))) {
        ev_local_close(l);
        slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->engines[r->n_engines++] = l;
    return l;
}

/* The engine's answer as the chat.completion the router expects. */
static json_t *completion_json(const slm_route_model *m, const ev_answer *a) {
    json_t *msg = json_pack("{s:s,s:s}", "role", "assistant", "content", a->text.p ? a->text.p : "");
    if (!msg) msg = json_pack("{s:s,s:s}", "role", "assistant", "content", ""); /* output not UTF-8 */
    return json_pack("{s:s,s:s,s:s,s:[{s:i,s:o,s:s}],s:{s:i,s:i,s:i}}", "id", "eval-local", "object",
                     "chat.completion", "model", m->name, "choices", "index", 0, "message", msg, "finish_reason",
                     "stop", "usage", "prompt_tokens", (int)a->n_prompt, "completion_tokens", (int)a->n_gen,
                     "total_tokens", (int)(a->n_prompt + a->n_gen));
}

static slm_status local_fn(void *ctx, const slm_route_model *m, const json_t *body, bool may_stream,
                           int64_t buffer_bytes, slm_local_answer *out) {
    (void)may_stream, (void)buffer_bytes; /* never streamed: eval reads whole answers */
    ev_router *r = ctx;
    slm_conf_signals_init(&out->signals);
    const char *path = m->path ? m->path : r->o->default_model;
    if (!path) {
        out->http_status = 500;
        snprintf(out->error, sizeof out->error, "local model '%s' has no path (add path: in slm.yaml)", m->name);
        return SLM_OK;
    }
    slm_eval_case c = {.messages = json_object_get(body, "messages"), .tools = json_object_get(body, "tools"),
                       .response_format = json_object_get(body, "response_format")};
    json_int_t mt = json_integer_value(json_object_get(body, "max_tokens"));
    c.max_tokens = mt > 0 && mt <= 1000000 ? (int32_t)mt : 0;
    ev_answer a = {0};
    slm_error err = {0};
    pthread_mutex_lock(&r->mu);
    ev_local *l = engine_for(r, path, &err);
    if (l) ev_local_answer(l, &c, r->o, &a);
    pthread_mutex_unlock(&r->mu);
    if (!l || a.error) {
        out->http_status = 500;
        snprintf(out->error, sizeof out->error, "%.250s", l ? a.error : err.msg);
    } else if (!(out->response = completion_json(m, &a))) {
        out->http_status = 500;
        snprintf(out->error, sizeof out->error, "out of memory");
    } else {
        out->http_status = 200;
        out->tokens_in = a.n_prompt, out->tokens_out = a.n_gen;
        out->ttft_s = a.ttft_s;
        const json_t *content = json_object_get(
            json_object_get(json_array_get(json_object_get(out->response, "choices"), 0), "message"), "content");
        out->signals.text = json_string_value(content);
        out->signals.text_len = json_string_length(content);
        if (a.n_lp) out->signals.mean_logprob = a.sum_lp / (double)a.n_lp, out->signals.min_logprob = a.min_lp;
        if (a.n_ent) out->signals.mean_entropy = a.sum_ent / (double)a.n_ent;
    }
    ev_answer_clear(&a);
    return SLM_OK;
}

/* Content and tool calls of the router's chat.completion. */
static void take_response(const json_t *resp, ev_answer *a) {
    const json_t *msg = json_object_get(json_array_get(json_object_get(resp, "choices"), 0), "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    ev_buf_put(&a->text, "", 0);
    if (content) ev_buf_puts(&a->text, content);
    const json_t *calls = json_object_get(msg, "tool_calls");
    if (json_array_size(calls)) a->tool_calls = json_deep_copy(calls);
    const json_t *u = json_object_get(resp, "usage");
    double p = ev_num(u, "prompt_tokens"), g = ev_num(u, "completion_tokens");
    if (p >= 0 && p < INT32_MAX) a->n_prompt = (int32_t)p;
    if (g >= 0 && g < INT32_MAX) a->n_gen = (int32_t)g;
    if (!a->text.ok) ev_answer_fail(a, "out of memory");
}

void ev_router_answer(ev_router *r, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a) {
    const slm_route_config *cfg = slm_router_config(r->router);
    int32_t max = c->max_tokens > 0 ? c->max_tokens : (o->max_tokens > 0 ? o->max_tokens : 256);
    json_t *body = json_pack("{s:s,s:O,s:i,s:f}", "model", cfg->router_name ? cfg->router_name : "auto", "messages",
                             c->messages, "max_tokens", (int)max, "temperature", o->temperature);
    if (body && json_array_size(c->tools)) json_object_set(body, "tools", c->tools);
    if (body && c->response_format) json_object_set(body, "response_format", c->response_format);
    if (body && c->metadata) json_object_set(body, "metadata", c->metadata);
    if (!body) {
        ev_answer_fail(a, "out of memory");
        return;
    }
    slm_route_request req = {.body = body};
    slm_route_outcome out;
    memset(&out, 0, sizeof out);
    slm_error err = {0};
    double t0 = slm_now_s();
    slm_status st = slm_router_handle(r->router, &req, local_fn, r, NULL, NULL, &out, &err);
    a->latency_s = slm_now_s() - t0;
    if (st) ev_answer_fail(a, "router: %s", err.msg);
    else {
        if (out.tier >= 0 && out.tier < cfg->n_tiers)
            snprintf(a->tier, sizeof a->tier, "%s", cfg->tiers[out.tier].name);
        a->escalated = out.escalated;
        a->cost = out.cost_usd > 0 ? out.cost_usd : 0;
        if (out.http_status != 200 || !out.response)
            ev_answer_fail(a, "HTTP %d: %s", out.http_status,
                           out.error[0] ? out.error : out.decision.reason[0] ? out.decision.reason : "no answer");
        else take_response(out.response, a);
    }
    slm_route_outcome_free(&out);
    json_decref(body);
}
