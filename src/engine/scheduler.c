/* The scheduler's front: loading the model, the bounded waiting queue that
 * callers submit to, statistics, and shutdown. The engine thread that
 * serves the queue lives in sched_loop.c. Main data: slm_sched (see
 * sched_internal.h); the queue is a linked list guarded by slm_sched.mu. */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

#define DEFAULT_PARALLEL 4
#define DEFAULT_QUEUE 64
#define MAX_PARALLEL 256

static slm_status alloc_slots(slm_sched *s, slm_error *err) {
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->b_tok = slm_malloc_array((size_t)s->n_batch, sizeof *s->b_tok);
    s->b_seq = slm_malloc_array((size_t)s->n_batch, sizeof *s->b_seq);
    s->b_logits = slm_malloc_array((size_t)s->n_batch, sizeof *s->b_logits);
    if (!s->slots || !s->b_tok || !s->b_seq || !s->b_logits) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < s->n_slots; i++) {
        s->slots[i].id = i;
        s->slots[i].pending = -1;
        s->slots[i].batch_idx = -1;
        s->slots[i].cache = slm_malloc_array((size_t)s->n_ctx, sizeof(int32_t));
        if (!s->slots[i].cache) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    return SLM_OK;
}

static slm_status load(slm_sched *s, const char *path, const slm_sched_params *p, slm_error *err) {
    int32_t n_par = p->n_parallel > 0 ? p->n_parallel : DEFAULT_PARALLEL;
    if (n_par > MAX_PARALLEL)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "parallel: %d slots requested, at most %d", n_par, MAX_PARALLEL);
    slm_status st = slm_gguf_open(path, &s->gguf, err);
    if (st == SLM_OK) st = slm_model_load(s->gguf, &s->model, err);
    if (st == SLM_OK) st = slm_tokenizer_load(s->gguf, &s->tok, err);
    if (st == SLM_OK) st = slm_ops_create(p->n_threads, &s->ops, err);
    if (st == SLM_OK) st = slm_context_new_multi(s->model, s->ops, p->n_ctx, p->n_batch, n_par, &s->ctx, err);
    if (st != SLM_OK) return st;
    s->n_slots = n_par;
    s->n_ctx = slm_context_n_ctx(s->ctx);
    s->n_batch = slm_context_n_batch(s->ctx);
    s->n_vocab = slm_model_hparams(s->model)->n_vocab;
    s->max_queue = p->max_queue > 0 ? p->max_queue : DEFAULT_QUEUE;
    return alloc_slots(s, err);
}

slm_status slm_sched_open(const char *path, const slm_sched_params *p, slm_sched **out, slm_error *err) {
    double t0 = slm_now_s();
    slm_sched *s = calloc(1, sizeof *s);
    if (!s) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    slm_status st = load(s, path, p, err);
    if (st == SLM_OK && pthread_create(&s->thread, NULL, sched_engine_main, s) != 0)
        st = slm_error_set(err, SLM_ERR_INTERNAL, "cannot start the engine thread");
    if (st != SLM_OK) {
        slm_sched_close(s);
        return st;
    }
    s->thread_started = true;
    s->stats.n_slots = s->n_slots;
    s->t_load_s = slm_now_s() - t0;
    *out = s;
    return SLM_OK;
}

void slm_sched_close(slm_sched *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) pthread_join(s->thread, NULL);
    /* The engine thread is gone: end whatever it left. */
    for (int32_t i = 0; s->slots && i < s->n_slots; i++) {
        if (s->slots[i].req) sched_slot_finish(s, &s->slots[i], SLM_FINISH_CANCEL, SLM_OK, NULL);
        free(s->slots[i].cache);
    }
    while (s->q_head) {
        slm_request *r = s->q_head;
        s->q_head = r->qnext;
        sched_request_finish_unslotted(r, SLM_FINISH_CANCEL, "the server is shutting down");
    }
    free(s->slots);
    free(s->b_tok);
    free(s->b_seq);
    free(s->b_logits);
    slm_grammar_vocab_free(s->gvocab);
    slm_context_free(s->ctx);
    slm_ops_free(s->ops);
    slm_tokenizer_free(s->tok);
    slm_model_free(s->model);
    slm_gguf_close(s->gguf);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const slm_gguf *slm_sched_gguf(const slm_sched *s) { return s->gguf; }
const slm_model *slm_sched_model(const slm_sched *s) { return s->model; }
const slm_tokenizer *slm_sched_tokenizer(const slm_sched *s) { return s->tok; }
int32_t slm_sched_n_ctx(const slm_sched *s) { return s->n_ctx; }
int32_t slm_sched_n_parallel(const slm_sched *s) { return s->n_slots; }
double slm_sched_load_seconds(const slm_sched *s) { return s->t_load_s; }

void slm_sched_get_stats(slm_sched *s, slm_sched_stats *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->n_busy = s->n_busy;
    out->n_queued = s->n_queued;
    pthread_mutex_unlock(&s->mu);
}

static slm_status check_fit(const slm_sched *s, const slm_request_params *p, slm_error *err) {
    if (p->n_prompt >= (size_t)s->n_ctx)
        return slm_error_set(err, SLM_ERR_RANGE, "the prompt is %zu tokens, but a slot's context holds %d", p->n_prompt,
                             s->n_ctx);
    for (size_t i = 0; i < p->n_prompt; i++)
        if (p->prompt[i] < 0 || p->prompt[i] >= s->n_vocab)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "prompt token %d out of range [0, %d)", p->prompt[i],
                                 s->n_vocab);
    for (int32_t i = 0; i < p->sampling.n_bias; i++)
        if (p->sampling.bias_tokens[i] < 0 || p->sampling.bias_tokens[i] >= s->n_vocab)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "logit_bias: token %d out of range [0, %d)",
                                 p->sampling.bias_tokens[i], s->n_vocab);
    return SLM_OK;
}

slm_status slm_sched_submit(slm_sched *s, const slm_request_params *p, slm_request **out, slm_error *err) {
    *out = NULL;
    slm_status st = p->prompt && p->n_prompt ? check_fit(s, p, err) : SLM_OK;
    slm_request *r = NULL;
    if (st == SLM_OK) st = sched_request_new(p, &r, err);
    if (st != SLM_OK) return st;
    pthread_mutex_lock(&s->mu);
    if (s->quit || s->n_queued >= s->max_queue) {
        bool quit = s->quit;
        if (!quit) s->stats.n_rejected++;
        pthread_mutex_unlock(&s->mu);
        r->refs = 1;
        sched_request_unref(r);
        return quit ? slm_error_set(err, SLM_ERR_UNSUPPORTED, "the scheduler is shutting down")
                    : slm_error_set(err, SLM_ERR_NOMEM, "the queue is full (%d requests wait for a slot)", s->max_queue);
    }
    if (s->q_tail) s->q_tail->qnext = r;
    else s->q_head = r;
    s->q_tail = r;
    s->n_queued++;
    s->stats.n_requests++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    *out = r;
    return SLM_OK;
}
