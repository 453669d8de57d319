/* Running a generation for an HTTP request: submits one scheduler request
 * per choice, then either waits for them and answers with one JSON object,
 * or streams events as they come through a libmicrohttpd content reader
 * (SSE for OpenAI, NDJSON for Ollama). Both paths poll the socket while
 * they wait: a client that hangs up cancels its requests at the next token,
 * which frees the slots. Main data: gen_job (gen_format.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gen_format.h"

#define POLL_MS 50

static void job_free(gen_job *j) {
    for (int i = 0; i < j->n; i++) {
        slm_request_free(j->ch[i].req); /* cancels a request still running */
        free(j->ch[i].text);
        json_decref(j->ch[i].logprobs);
    }
    if (j->m) models_release(j->srv, j->m);
    free(j->clean);
    free(j->acc);
    slm_toolcall_stream_free(j->tstream);
    free(j->out);
    free(j);
}

static void make_id(gen_job *j) {
    unsigned char r[12] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)slm_now_us();
        memcpy(r, &t, sizeof t);
    }
    const char *prefix = j->kind == API_OA_CHAT ? "chatcmpl-" : "cmpl-";
    int off = snprintf(j->id, sizeof j->id, "%s", prefix);
    for (size_t i = 0; i < sizeof r; i++) off += snprintf(j->id + off, sizeof j->id - (size_t)off, "%02x", r[i]);
}

static bool text_add(gen_choice *ch, const char *s, size_t n) {
    if (ch->len + n + 1 > ch->cap) {
        size_t cap = ch->cap ? ch->cap : 256;
        while (cap < ch->len + n + 1) cap *= 2;
        char *p = realloc(ch->text, cap);
        if (!p) return false;
        ch->text = p;
        ch->cap = cap;
    }
    memcpy(ch->text + ch->len, s, n);
    ch->len += n;
    ch->text[ch->len] = '\0';
    return true;
}

/* Records a finished choice in the log fields and the metrics. */
static void note_done(gen_job *j, const slm_event *d) {
    if (j->c) {
        j->c->tok_in = d->n_prompt;
        j->c->tok_out += d->n_gen;
    }
    metrics_record(j->srv, d);
}

static void cancel_all(gen_job *j) {
    for (int i = 0; i < j->n; i++) slm_request_cancel(j->ch[i].req);
}

/* Makes ev's text valid UTF-8 (JSON needs it); the copy lives in j->clean. */
static bool clean_text(gen_job *j, slm_event *ev) {
    free(j->clean);
    size_t n = 0;
    j->clean = utf8_sanitize(ev->text, ev->text_len, &n);
    if (!j->clean) return false;
    ev->text = j->clean;
    ev->text_len = n;
    return true;
}

/* Waits for one event; cancels when the client left or the server stops. */
static bool next_event(gen_job *j, gen_choice *ch, slm_event *ev, bool *gone) {
    if (slm_request_next(ch->req, ev, POLL_MS)) {
        if (clean_text(j, ev)) return true;
        cancel_all(j); /* out of memory: give up on this request */
        ev->text = "";
        ev->text_len = 0;
        return true;
    }
    if (http_peer_gone(j->fd)) {
        *gone = true;
        cancel_all(j);
    } else if (atomic_load(&j->srv->stopping)) {
        cancel_all(j);
    }
    return false;
}

static enum MHD_Result answer_error(gen_job *j, conn *c, const slm_event *d) {
    bool ol = j->kind == API_OL_CHAT || j->kind == API_OL_GENERATE;
    unsigned status = d->status == SLM_ERR_INVALID_ARG ? 400 : 500;
    if (d->finish == SLM_FINISH_CANCEL) status = 503;
    const char *msg = d->finish == SLM_FINISH_CANCEL ? "the server is shutting down" : d->error;
    return ol ? http_ol_error(c, status, "%s", msg) : http_oa_error(c, status, NULL, NULL, "%s", msg);
}

static enum MHD_Result run_whole(gen_job *j, conn *c) {
    bool gone = false;
    for (int i = 0; i < j->n; i++) {
        gen_choice *ch = &j->ch[i];
        while (!ch->finished) {
            slm_event ev;
            if (!next_event(j, ch, &ev, &gone)) continue;
            if (!text_add(ch, ev.text, ev.text_len)) cancel_all(j);
            if (ev.kind == SLM_EVENT_TOKEN) fmt_logprobs_add(j, ch, &ev);
            else {
                ch->done = ev;
                ch->finished = true;
                note_done(j, &ev);
            }
        }
    }
    enum MHD_Result ret;
    if (gone) ret = MHD_NO; /* nobody to answer: close */
    else if (j->ch[0].done.status != SLM_OK || j->ch[0].done.finish == SLM_FINISH_CANCEL)
        ret = answer_error(j, c, &j->ch[0].done);
    else ret = http_json(c, 200, fmt_full_response(j));
    job_free(j);
    return ret;
}

/* MHD content reader: fills buf with the next SSE / NDJSON bytes, blocking
 * (this is a thread-per-connection server) until the engine has some. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    gen_job *j = cls;
    gen_choice *ch = &j->ch[0];
    while (j->out_pos == j->out_len) {
        if (j->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        j->out_pos = j->out_len = 0;
        if (!j->sent_first) {
            j->sent_first = true;
            if (!fmt_stream_start(j)) return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        slm_event ev;
        bool gone = false;
        if (!next_event(j, ch, &ev, &gone)) {
            if (gone) return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        bool ok;
        if (ev.kind == SLM_EVENT_TOKEN) {
            ok = fmt_stream_token(j, &ev);
        } else {
            ch->done = ev;
            j->finished = true;
            note_done(j, &ev);
            ok = ev.finish != SLM_FINISH_CANCEL && fmt_stream_done(j, &ev);
            if (ev.finish == SLM_FINISH_CANCEL) return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (!ok) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = j->out_len - j->out_pos < max ? j->out_len - j->out_pos : max;
    memcpy(buf, j->out + j->out_pos, n);
    j->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) { job_free(cls); }

static enum MHD_Result run_stream(gen_job *j, conn *c) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free);
    if (!r) {
        job_free(j);
        return MHD_NO;
    }
    bool ol = j->kind == API_OL_CHAT || j->kind == API_OL_GENERATE;
    MHD_add_response_header(r, "Content-Type", ol ? "application/x-ndjson" : "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    http_common_headers(c, r);
    enum MHD_Result ret = MHD_queue_response(c->mc, 200, r);
    MHD_destroy_response(r);
    c->status = 200;
    c->answered = true;
    return ret;
}

static enum MHD_Result submit_error(gen_job *j, conn *c, const slm_error *err) {
    bool ol = j->kind == API_OL_CHAT || j->kind == API_OL_GENERATE;
    unsigned status = err->code == SLM_ERR_NOMEM ? 429 : err->code == SLM_ERR_UNSUPPORTED ? 503 : 400;
    const char *code = status == 429 ? "queue_full" : err->code == SLM_ERR_RANGE ? "context_length_exceeded" : NULL;
    job_free(j);
    return ol ? http_ol_error(c, status, "%s", err->msg) : http_oa_error(c, status, NULL, code, "%s", err->msg);
}

enum MHD_Result gen_run(conn *c, srv_model *m, api_kind kind, gen_opts *o, const int32_t *toks, size_t n_toks) {
    gen_job *j = calloc(1, sizeof *j);
    if (!j) {
        models_release(c->srv, m);
        return http_oa_error(c, 500, NULL, NULL, "out of memory");
    }
    *j = (gen_job){.srv = c->srv, .m = m, .c = c, .kind = kind, .created = (int64_t)time(NULL),
                   .t_start = slm_now_s(), .stream = o->stream, .include_usage = o->include_usage,
                   .logprobs = o->logprobs, .fd = http_conn_fd(c)};
    make_id(j);
    j->tools = o->tools && (kind == API_OA_CHAT || kind == API_OL_CHAT);
    j->tools_hold_all = o->tools_hold_all;
    j->tool_fmt = m->tool_fmt;
    o->rp.prompt = toks;
    o->rp.n_prompt = n_toks;
    uint64_t seed = o->rp.sampling.seed;
    for (int i = 0; i < o->n && i < GEN_MAX_CHOICES; i++) {
        /* Distinct choices need distinct seeds; seeded requests stay reproducible. */
        if (seed != SLM_SEED_RANDOM) o->rp.sampling.seed = seed + (uint64_t)i;
        slm_error err = {0};
        if (slm_sched_submit(m->sched, &o->rp, &j->ch[i].req, &err) != SLM_OK) return submit_error(j, c, &err);
        j->n = i + 1;
    }
    return j->stream ? run_stream(j, c) : run_whole(j, c);
}
