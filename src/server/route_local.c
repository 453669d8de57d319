/* The router's local callback: runs a routed chat request on a served model
 * through the scheduler, like /v1/chat/completions does, and measures the
 * confidence signals the router checks (mean and lowest chosen-token
 * log-probability, mean entropy of the top-k distribution, whether a
 * constrained output completed). A streamed request produces the usual SSE
 * chunks (gen_format.c), held back up to buffer_bytes so the answer can
 * still be escalated, or sent at once when the router allows it. Also the
 * router's two other uses of a local model: the exact prompt-token count
 * (chat template + tokenizer) and the task classifier (a greedy generation
 * under a choice grammar of the configured labels). Main data: local_run
 * (one call), around a gen_job (gen_format.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gen_format.h"
#include "route_hook.h"

#define ENTROPY_TOP_K 10 /* top-k the entropy signal is computed over */
#define POLL_MS 50

typedef struct local_run {
    route_req *rr;
    slm_local_answer *ans;
    gen_job *j;
    gen_opts *o;
    int32_t *toks;
    size_t n_toks;
    int user_top;          /* top logprobs the client asked for (-1: none) */
    bool live;             /* SSE goes straight to the client */
    int64_t buffer_bytes;
    char *held;            /* SSE held back while not live */
    size_t held_len, held_cap;
    double sum_lp, min_lp, sum_ent;
    int64_t n_lp, n_ent;
} local_run;

static void fail(local_run *x, int status, const char *msg) {
    x->ans->http_status = status;
    snprintf(x->ans->error, sizeof x->ans->error, "%.250s", msg);
}

/* The served model a route model stands for: same name, else its path as a
 * served name or file, else (no path) the first served model. */
static srv_model *resolve(slm_server *s, const slm_route_model *m, unsigned *status, slm_error *err) {
    const char *name = models_find(s, m->name) ? m->name : NULL;
    for (int i = 0; !name && m->path && i < s->n_models; i++)
        if (!strcmp(s->models[i].name, m->path) || !strcmp(s->models[i].path, m->path)) name = s->models[i].name;
    if (!name && !m->path && s->n_models > 0) name = s->models[0].name;
    if (!name) {
        *status = 404;
        slm_error_set(err, SLM_ERR_INVALID_ARG, "local model '%s' is not served (add --model %s=PATH)", m->name, m->name);
        return NULL;
    }
    return models_acquire(s, name, status, err);
}

static void make_id(gen_job *j) {
    unsigned char r[12] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)slm_now_us();
        memcpy(r, &t, sizeof t);
    }
    int off = snprintf(j->id, sizeof j->id, "chatcmpl-");
    for (size_t i = 0; i < sizeof r; i++) off += snprintf(j->id + off, sizeof j->id - (size_t)off, "%02x", r[i]);
}

static bool buf_add(char **p, size_t *len, size_t *cap, const char *s, size_t n) {
    if (n > SIZE_MAX / 2 - *len) return false;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *q = realloc(*p, c);
        if (!q) return false;
        *p = q;
        *cap = c;
    }
    memcpy(*p + *len, s, n);
    *len += n;
    (*p)[*len] = '\0';
    return true;
}

/* Passes the job's pending SSE on: to the client when live, else into the
 * held buffer, which is committed (sent, no escalation any more) once it
 * outgrows buffer_bytes. False: the client went away or out of memory. */
static bool flush_out(local_run *x) {
    gen_job *j = x->j;
    bool ok = true;
    if (j->out_len && x->live) {
        ok = route_stream_emit(x->rr, j->out, j->out_len);
    } else if (j->out_len) {
        ok = buf_add(&x->held, &x->held_len, &x->held_cap, j->out, j->out_len);
        if (ok && (int64_t)x->held_len > x->buffer_bytes) {
            x->live = true;
            x->ans->streamed = true;
            ok = route_stream_emit(x->rr, x->held, x->held_len);
            x->held_len = 0;
        }
    }
    j->out_len = j->out_pos = 0;
    return ok;
}

static slm_status prepare(local_run *x, srv_model *m, const json_t *body) {
    slm_server *s = x->rr->srv;
    const char *param = NULL;
    char msg[512];
    int32_t cap = s->cfg.max_tokens > 0 ? s->cfg.max_tokens : slm_sched_n_ctx(m->sched);
    if (!params_openai(body, true, slm_sched_tokenizer(m->sched), cap, x->o, &param, msg, sizeof msg) ||
        !structured_openai(m, body, true, x->o, &param, msg, sizeof msg)) {
        char why[256];
        snprintf(why, sizeof why, "%s: %.200s", param ? param : "request", msg);
        fail(x, 400, why);
        return SLM_ERR_INVALID_ARG;
    }
    slm_error err = {0};
    char *text = NULL;
    slm_status st = prompt_render_chat_tools(m, json_object_get(body, "messages"), x->o->tool_defs, &text, &err);
    if (st == SLM_OK) st = prompt_tokenize(m, text, true, &x->toks, &x->n_toks, &err);
    free(text);
    if (st != SLM_OK) fail(x, st == SLM_ERR_NOMEM ? 500 : 400, err.msg);
    return st;
}

static slm_status submit(local_run *x) {
    gen_job *j = x->j;
    gen_opts *o = x->o;
    x->user_top = o->rp.n_logprobs;
    if (o->rp.n_logprobs < ENTROPY_TOP_K) o->rp.n_logprobs = ENTROPY_TOP_K; /* the signals need them */
    o->rp.prompt = x->toks;
    o->rp.n_prompt = x->n_toks;
    int n = j->stream ? 1 : (o->n < GEN_MAX_CHOICES ? o->n : GEN_MAX_CHOICES);
    uint64_t seed = o->rp.sampling.seed;
    for (int i = 0; i < n; i++) {
        if (seed != SLM_SEED_RANDOM) o->rp.sampling.seed = seed + (uint64_t)i;
        slm_error err = {0};
        if (slm_sched_submit(j->m->sched, &o->rp, &j->ch[i].req, &err) != SLM_OK) {
            fail(x, err.code == SLM_ERR_NOMEM ? 429 : err.code == SLM_ERR_UNSUPPORTED ? 503 : 400, err.msg);
            return err.code;
        }
        j->n = i + 1;
    }
    return SLM_OK;
}

static void add_signals(local_run *x, const slm_event *ev) {
    double lp = ev->logprob;
    if (!isfinite(lp)) return;
    x->sum_lp += lp;
    x->min_lp = x->n_lp++ ? fmin(x->min_lp, lp) : lp;
    if (ev->n_top <= 0) return;
    double z = 0, h = 0;
    for (int32_t i = 0; i < ev->n_top; i++) z += exp(ev->top[i].logprob);
    if (!(z > 0)) return;
    for (int32_t i = 0; i < ev->n_top; i++) {
        double p = exp(ev->top[i].logprob) / z;
        if (p > 0) h -= p * log(p);
    }
    x->sum_ent += h;
    x->n_ent++;
}

static bool client_left(route_req *rr) {
    pthread_mutex_lock(&rr->mu);
    bool gone = rr->gone;
    pthread_mutex_unlock(&rr->mu);
    return gone || http_peer_gone(rr->fd) || atomic_load(&rr->srv->stopping);
}

static void cancel_all(gen_job *j) {
    for (int i = 0; i < j->n; i++) slm_request_cancel(j->ch[i].req);
}

/* One token: text, signals, the client's logprobs (only the top it asked for), SSE. */
static bool on_token(local_run *x, gen_choice *ch, int i, slm_event *ev) {
    gen_job *j = x->j;
    if (!buf_add(&ch->text, &ch->len, &ch->cap, ev->text, ev->text_len)) return false;
    if (i == 0) add_signals(x, ev);
    slm_event shown = *ev;
    shown.n_top = x->user_top < 0 ? 0 : (shown.n_top < x->user_top ? shown.n_top : x->user_top);
    fmt_logprobs_add(j, ch, &shown);
    return !j->stream || (fmt_stream_token(j, &shown) && flush_out(x));
}

static bool clean(gen_job *j, slm_event *ev) {
    free(j->clean);
    size_t n = 0;
    if (!(j->clean = utf8_sanitize(ev->text, ev->text_len, &n))) return false;
    ev->text = j->clean;
    ev->text_len = n;
    return true;
}

static void run_events(local_run *x) {
    gen_job *j = x->j;
    if (j->stream && !(fmt_stream_start(j) && flush_out(x))) cancel_all(j);
    for (int i = 0; i < j->n; i++) {
        gen_choice *ch = &j->ch[i];
        while (!ch->finished) {
            slm_event ev;
            if (!slm_request_next(ch->req, &ev, POLL_MS)) {
                if (client_left(x->rr)) cancel_all(j);
                continue;
            }
            bool ok = clean(j, &ev);
            if (ok && ev.kind == SLM_EVENT_TOKEN) {
                ok = on_token(x, ch, i, &ev);
            } else if (ok) {
                ok = buf_add(&ch->text, &ch->len, &ch->cap, ev.text, ev.text_len);
                ch->done = ev;
                ch->finished = true;
                metrics_record(j->srv, &ev);
                if (j->stream && ev.status == SLM_OK && ev.finish != SLM_FINISH_CANCEL)
                    ok = ok && fmt_stream_done(j, &ev) && flush_out(x);
            } else {
                ch->done = ev; /* out of memory on the last event: give up */
                ch->finished = ev.kind == SLM_EVENT_DONE;
            }
            if (!ok) cancel_all(j);
        }
    }
}

static void fill_answer(local_run *x) {
    gen_job *j = x->j;
    slm_local_answer *a = x->ans;
    const slm_event *d = &j->ch[0].done;
    if (d->status != SLM_OK || d->finish == SLM_FINISH_CANCEL) {
        fail(x, d->finish == SLM_FINISH_CANCEL ? 503 : d->status == SLM_ERR_INVALID_ARG ? 400 : 500,
             d->finish == SLM_FINISH_CANCEL ? "cancelled (client gone or server stopping)" : d->error);
        return;
    }
    a->response = fmt_full_response(j);
    if (!a->response) {
        fail(x, 500, "out of memory");
        return;
    }
    a->http_status = 200;
    a->tokens_in = d->n_prompt;
    a->tokens_out = d->n_gen;
    a->tokens_cached = d->n_cached;
    a->ttft_s = d->ttft_s;
    slm_conf_signals *s = &a->signals;
    if (x->n_lp) s->mean_logprob = x->sum_lp / (double)x->n_lp, s->min_logprob = x->min_lp;
    if (x->n_ent) s->mean_entropy = x->sum_ent / (double)x->n_ent;
    s->complete = x->o->cons ? d->finish == SLM_FINISH_STOP : -1;
    const json_t *msg = json_object_get(json_array_get(json_object_get(a->response, "choices"), 0), "message");
    const json_t *content = json_object_get(msg, "content");
    s->text = json_is_string(content) ? json_string_value(content) : "";
    s->text_len = json_is_string(content) ? json_string_length(content) : 0;
}

/* Keeps the held SSE of a successful buffered run: the server sends it if
 * the router returns this answer. */
static void keep_held(local_run *x, const slm_route_model *m) {
    route_req *rr = x->rr;
    if (!x->j->stream || x->ans->streamed || x->ans->http_status != 200) return;
    free(rr->local_sse);
    rr->local_sse = x->held;
    rr->local_sse_len = x->held_len;
    rr->local_model = m;
    x->held = NULL;
}

static void job_free(gen_job *j, slm_server *s) {
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        slm_request_free(j->ch[i].req);
        free(j->ch[i].text);
        json_decref(j->ch[i].logprobs);
    }
    if (j->m) models_release(s, j->m);
    free(j->clean);
    free(j->acc);
    free(j->out);
    free(j);
}

static gen_job *job_new(route_req *rr, srv_model *m, const gen_opts *o) {
    gen_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    *j = (gen_job){.srv = rr->srv, .m = m, .kind = API_OA_CHAT, .created = (int64_t)time(NULL), .t_start = slm_now_s(),
                   .stream = rr->stream, .include_usage = o->include_usage, .logprobs = o->logprobs, .fd = rr->fd};
    make_id(j);
    j->tools = o->tools;
    j->tools_hold_all = o->tools_hold_all;
    j->tool_fmt = m->tool_fmt;
    return j;
}

slm_status route_local_run(void *ctx, const slm_route_model *m, const json_t *body, bool may_stream,
                           int64_t buffer_bytes, slm_local_answer *out) {
    route_req *rr = ctx;
    local_run x = {.rr = rr, .ans = out, .live = may_stream, .buffer_bytes = buffer_bytes};
    out->streamed = may_stream && rr->stream;
    unsigned status = 500;
    slm_error err = {0};
    srv_model *sm = resolve(rr->srv, m, &status, &err);
    if (!sm) {
        fail(&x, (int)status, err.msg);
        return SLM_OK;
    }
    x.o = calloc(1, sizeof *x.o);
    if (!x.o || prepare(&x, sm, body) != SLM_OK || !(x.j = job_new(rr, sm, x.o))) {
        if (!x.o || !out->http_status) fail(&x, 500, "out of memory");
        models_release(rr->srv, sm);
    } else if (submit(&x) == SLM_OK) {
        run_events(&x);
        fill_answer(&x);
        keep_held(&x, m);
    }
    job_free(x.j, rr->srv); /* releases sm */
    params_free(x.o); /* frees x.o too */
    free(x.toks);
    free(x.held);
    return SLM_OK;
}

/* slm_token_count_fn: the prompt as the first local model would see it
 * (chat template, tool definitions unless tool_choice is "none"), counted
 * with its tokenizer. -1 when no local model is served or it cannot render
 * the request (the router then estimates). */
int64_t route_count_tokens(void *ctx, const json_t *body) {
    route_req *rr = ctx;
    const slm_route_config *cfg = slm_router_config(rr->router);
    const slm_route_model *lm = NULL;
    for (int t = 0; !lm && t < cfg->n_tiers; t++)
        for (int i = 0; !lm && i < cfg->tiers[t].n_models; i++)
            if (cfg->tiers[t].models[i].local) lm = &cfg->tiers[t].models[i];
    unsigned status = 0;
    slm_error err = {0};
    srv_model *sm = lm ? resolve(rr->srv, lm, &status, &err) : NULL;
    if (!sm) return -1;
    const json_t *tools = json_object_get(body, "tools"), *tc = json_object_get(body, "tool_choice");
    bool tools_on = json_array_size(tools) > 0 && !(json_is_string(tc) && !strcmp(json_string_value(tc), "none"));
    char *text = NULL;
    int32_t *toks = NULL;
    size_t n = 0;
    slm_status st = prompt_render_chat_tools(sm, json_object_get(body, "messages"), tools_on ? tools : NULL, &text, &err);
    if (st == SLM_OK) st = prompt_tokenize(sm, text, true, &toks, &n, &err);
    models_release(rr->srv, sm);
    free(text);
    free(toks);
    return st == SLM_OK ? (int64_t)n : -1;
}

/* ---- task classification (slm.yaml classifier:) ---- */

#define CLASSIFY_MAX_TEXT 4000 /* bytes of the request shown to the classifier */

/* The classifier's conversation: instructions naming the labels, then the
 * last user message (cut to CLASSIFY_MAX_TEXT at a UTF-8 boundary). */
static json_t *classify_messages(const json_t *body, const char *const *labels, int n, const char *instructions) {
    const char *text = "";
    size_t len = 0, i;
    const json_t *msg;
    json_array_foreach(json_object_get(body, "messages"), i, msg) {
        const json_t *content = json_object_get(msg, "content");
        const char *role = json_string_value(json_object_get(msg, "role"));
        if (role && !strcmp(role, "user") && json_is_string(content))
            text = json_string_value(content), len = json_string_length(content);
    }
    if (len > CLASSIFY_MAX_TEXT) {
        len = CLASSIFY_MAX_TEXT;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) len--;
    }
    char sys[2048];
    int at = snprintf(sys, sizeof sys, "%s",
                      instructions ? instructions : "Decide which kind of task the user's request is. Answer with "
                                                    "exactly one of these words:");
    for (int k = 0; k < n && at > 0 && (size_t)at < sizeof sys; k++)
        at += snprintf(sys + at, sizeof sys - (size_t)at, "%s%s", k ? ", " : " ", labels[k]);
    return json_pack("[{s:s, s:s}, {s:s, s:s%}]", "role", "system", "content", sys, "role", "user", "content", text,
                     len);
}

/* Runs one greedy, choice-constrained generation; the output is the label. */
static bool classify_run(route_req *rr, srv_model *sm, const int32_t *toks, size_t n_toks, const char *const *labels, int n,
                         char *out, size_t cap) {
    slm_grammar *g = NULL;
    slm_constraint *cons = NULL;
    if (slm_grammar_compile_choice(labels, (size_t)n, &g, NULL) != SLM_OK ||
        slm_constraint_new(g, NULL, 0, &cons, NULL) != SLM_OK) /* takes g, also on failure */
        return false;
    slm_request_params rp;
    slm_request_params_default(&rp);
    rp.prompt = toks;
    rp.n_prompt = n_toks;
    rp.n_predict = 32; /* labels are at most 31 bytes */
    rp.sampling.temperature = 0;
    rp.constraint = cons;
    slm_request *req = NULL;
    bool ok = slm_sched_submit(sm->sched, &rp, &req, NULL) == SLM_OK;
    slm_constraint_unref(cons); /* the request holds its own reference */
    size_t len = 0;
    for (bool done = !ok; !done;) {
        slm_event ev;
        if (!slm_request_next(req, &ev, POLL_MS)) {
            if (client_left(rr)) slm_request_cancel(req);
            continue;
        }
        if (ev.text_len && len + ev.text_len < cap) memcpy(out + len, ev.text, ev.text_len), len += ev.text_len;
        if (ev.kind == SLM_EVENT_DONE) done = true, ok = ev.status == SLM_OK && ev.finish == SLM_FINISH_STOP;
    }
    slm_request_free(req);
    out[len < cap ? len : cap - 1] = '\0';
    return ok;
}

bool route_classify_task(void *ctx, const slm_route_model *m, const json_t *body, const char *const *labels,
                         int n_labels, const char *instructions, char *out, size_t cap) {
    route_req *rr = ctx;
    unsigned status = 0;
    slm_error err = {0};
    srv_model *sm = resolve(rr->srv, m, &status, &err);
    if (!sm) return false;
    json_t *msgs = classify_messages(body, labels, n_labels, instructions);
    char *text = NULL;
    int32_t *toks = NULL;
    size_t n = 0;
    bool ok = msgs && prompt_render_chat(sm, msgs, &text, &err) == SLM_OK &&
              prompt_tokenize(sm, text, true, &toks, &n, &err) == SLM_OK &&
              classify_run(rr, sm, toks, n, labels, n_labels, out, cap);
    json_decref(msgs);
    free(text);
    free(toks);
    models_release(rr->srv, sm);
    return ok;
}
