/* Scheduler requests: a copy of the caller's parameters and the queue of
 * events between the engine thread (producer) and the caller (consumer).
 * Main data: slm_request (see sched_internal.h), a singly linked list of
 * ev_node under a mutex, with a condition variable for waiting readers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched_internal.h"

void slm_request_params_default(slm_request_params *p) {
    memset(p, 0, sizeof *p);
    p->n_predict = -1;
    p->n_logprobs = -1;
    slm_sampler_params_default(&p->sampling);
}

static slm_status copy_params(slm_request *r, const slm_request_params *p, slm_error *err) {
    r->prompt = slm_malloc_array(p->n_prompt, sizeof *r->prompt);
    if (!r->prompt) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    memcpy(r->prompt, p->prompt, p->n_prompt * sizeof *r->prompt);
    r->n_prompt = p->n_prompt;
    r->n_predict = p->n_predict;
    r->n_logprobs = p->n_logprobs;
    r->sampling = p->sampling;
    r->cons = slm_constraint_ref(p->constraint);
    if (p->sampling.n_bias > 0) {
        size_t n = (size_t)p->sampling.n_bias;
        r->bias_tokens = slm_malloc_array(n, sizeof *r->bias_tokens);
        r->bias_values = slm_malloc_array(n, sizeof *r->bias_values);
        if (!r->bias_tokens || !r->bias_values) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        memcpy(r->bias_tokens, p->sampling.bias_tokens, n * sizeof *r->bias_tokens);
        memcpy(r->bias_values, p->sampling.bias_values, n * sizeof *r->bias_values);
    }
    r->sampling.bias_tokens = r->bias_tokens;
    r->sampling.bias_values = r->bias_values;
    for (int32_t i = 0; i < p->n_stop; i++) {
        r->stop[i] = strdup(p->stop[i]);
        if (!r->stop[i]) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        r->n_stop = i + 1;
    }
    return SLM_OK;
}

static slm_status check_params(const slm_request_params *p, slm_error *err) {
    if (!p->prompt || p->n_prompt == 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "the prompt is empty (no tokens)");
    if (p->n_stop < 0 || p->n_stop > SLM_MAX_STOPS)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "stop: at most %d stop strings", SLM_MAX_STOPS);
    for (int32_t i = 0; i < p->n_stop; i++)
        if (!p->stop[i]) return slm_error_set(err, SLM_ERR_INVALID_ARG, "stop: string %d is NULL", i);
    if (p->n_logprobs < -1 || p->n_logprobs > SLM_MAX_TOP_LOGPROBS)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "top_logprobs must be between 0 and %d", SLM_MAX_TOP_LOGPROBS);
    return SLM_OK;
}

slm_status sched_request_new(const slm_request_params *p, slm_request **out, slm_error *err) {
    slm_status st = check_params(p, err);
    if (st != SLM_OK) return st;
    slm_request *r = calloc(1, sizeof *r);
    if (!r) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->refs = 2;
    atomic_init(&r->cancel, false);
    r->t_submit = slm_now_s();
    st = copy_params(r, p, err);
    if (st != SLM_OK) {
        r->refs = 1;
        sched_request_unref(r);
        return st;
    }
    *out = r;
    return SLM_OK;
}

bool sched_request_push(slm_request *r, const slm_event *ev, const char *text, size_t len) {
    ev_node *n = malloc(sizeof *n + len + 1);
    if (!n) return false;
    n->next = NULL;
    n->ev = *ev;
    if (len) memcpy(n->text, text, len);
    n->text[len] = '\0';
    n->ev.text = n->text;
    n->ev.text_len = len;
    pthread_mutex_lock(&r->mu);
    if (r->tail) r->tail->next = n;
    else r->head = n;
    r->tail = n;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return true;
}

static void free_events(ev_node *n) {
    while (n) {
        ev_node *next = n->next;
        free(n);
        n = next;
    }
}

void sched_request_unref(slm_request *r) {
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left > 0) return;
    free_events(r->head);
    free(r->cur);
    free(r->prompt);
    free(r->bias_tokens);
    free(r->bias_values);
    for (int32_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    slm_constraint_unref(r->cons);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void deadline_after(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool slm_request_next(slm_request *r, slm_event *ev, int timeout_ms) {
    struct timespec until;
    if (timeout_ms >= 0) deadline_after(&until, timeout_ms);
    pthread_mutex_lock(&r->mu);
    free(r->cur);
    r->cur = NULL;
    while (!r->head && !r->done_read) {
        if (timeout_ms < 0) pthread_cond_wait(&r->cv, &r->mu);
        else if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) break;
    }
    ev_node *n = r->head;
    if (n) {
        r->head = n->next;
        if (!r->head) r->tail = NULL;
        r->cur = n;
        if (n->ev.kind == SLM_EVENT_DONE) r->done_read = true;
        *ev = n->ev;
    }
    pthread_mutex_unlock(&r->mu);
    return n != NULL;
}

void slm_request_cancel(slm_request *r) {
    if (r) atomic_store(&r->cancel, true);
}

void slm_request_free(slm_request *r) {
    if (!r) return;
    slm_request_cancel(r);
    sched_request_unref(r);
}
