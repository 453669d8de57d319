/* The scheduler's engine thread: admits waiting requests into free slots
 * (choosing the slot whose cached tokens share the longest prefix with the
 * prompt), builds one batch per step from every busy slot (one pending
 * token each for generating slots, prompt chunks for the others), runs
 * slm_decode_batch, then samples and streams a token for every slot whose
 * logits came back. Only this thread touches slots, samplers and the
 * context; the queue and counters are shared under slm_sched.mu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

static void fill_done(slm_event *ev, slm_finish why, slm_status st, const char *msg) {
    memset(ev, 0, sizeof *ev);
    ev->kind = SLM_EVENT_DONE;
    ev->finish = why;
    ev->status = st;
    if (msg) { /* long messages are cut to the event's buffer */
        size_t n = strnlen(msg, sizeof ev->error - 1);
        memcpy(ev->error, msg, n);
        ev->error[n] = '\0';
    }
}

void sched_request_finish_unslotted(slm_request *r, slm_finish why, const char *msg) {
    slm_event ev;
    fill_done(&ev, why, SLM_OK, msg);
    ev.n_prompt = (int32_t)r->n_prompt;
    ev.t_queue_s = slm_now_s() - r->t_submit;
    sched_request_push(r, &ev, NULL, 0);
    sched_request_unref(r);
}

/* The output still held at the end: the detokenizer's incomplete bytes
 * and the stop matcher's partial match (malloc'ed; NULL when none). */
static char *held_text(sched_slot *sl, size_t *len) {
    char tail[SLM_DETOK_MAX_PIECE + 8];
    size_t n = slm_detok_flush(&sl->detok, tail, sizeof tail);
    const char *a = "", *b = "";
    size_t na = 0, nb = 0;
    int m = n > 0 ? sched_stop_push(&sl->stop, tail, n, &a, &na) : 0;
    char *out = malloc(na + 1);
    if (!out) return NULL;
    memcpy(out, a, na); /* a points into the matcher, which flush reuses */
    if (m == 0) sched_stop_flush(&sl->stop, &b, &nb);
    char *all = realloc(out, na + nb + 1);
    if (!all) {
        free(out);
        return NULL;
    }
    memcpy(all + na, b, nb);
    *len = na + nb;
    return all;
}

void sched_slot_finish(slm_sched *s, sched_slot *sl, slm_finish why, slm_status st, const char *msg) {
    slm_request *r = sl->req;
    slm_event ev;
    fill_done(&ev, why, st, msg);
    char *text = NULL;
    size_t len = 0;
    /* After a stop string, whatever the detokenizer holds lies beyond it. */
    if (why != SLM_FINISH_CANCEL && st == SLM_OK && !sl->matched_stop) text = held_text(sl, &len);
    double now = slm_now_s();
    ev.n_prompt = (int32_t)r->n_prompt;
    ev.n_cached = sl->n_cached;
    ev.n_gen = sl->n_gen;
    ev.t_queue_s = now - r->t_submit;
    ev.ttft_s = sl->t_first > 0 ? sl->t_first - r->t_submit : 0;
    ev.t_prompt_s = sl->t_prompt_done > 0 ? sl->t_prompt_done - r->t_submit : 0;
    ev.t_gen_s = sl->t_first > 0 ? now - sl->t_first : 0;
    /* The slot is free before the caller sees DONE. */
    sched_grammar_end(s, sl);
    slm_sampler_free(sl->smp);
    sched_stop_free(&sl->stop);
    sl->smp = NULL;
    sl->req = NULL;
    sl->pending = -1;
    sl->batch_idx = -1;
    sl->last_used = ++s->use_counter;
    pthread_mutex_lock(&s->mu);
    s->n_busy--;
    s->stats.n_gen_tokens += (uint64_t)sl->n_gen;
    pthread_mutex_unlock(&s->mu);
    sched_request_push(r, &ev, text ? text : "", text ? len : 0);
    free(text);
    sched_request_unref(r);
}

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, size_t nb) {
    int32_t i = 0;
    while (i < na && (size_t)i < nb && a[i] == b[i]) i++;
    return i;
}

/* The free slot with the longest shared prefix; ties go to the least
 * recently used, so other cached prefixes survive longer. */
static sched_slot *pick_slot(slm_sched *s, const slm_request *r, int32_t *keep) {
    sched_slot *best = NULL;
    int32_t best_keep = -1;
    for (int32_t i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        if (sl->req) continue;
        int32_t k = common_prefix(sl->cache, sl->n_cache, r->prompt, r->n_prompt);
        if (k > best_keep || (k == best_keep && sl->last_used < best->last_used)) {
            best = sl;
            best_keep = k;
        }
    }
    *keep = best_keep;
    return best;
}

static slm_status start_slot(slm_sched *s, sched_slot *sl, slm_request *r, int32_t keep, slm_error *err) {
    slm_status st = slm_sampler_new(&r->sampling, s->n_vocab, &sl->smp, err);
    if (st != SLM_OK) return st;
    /* The last prompt token is always decoded again: its logits start generation. */
    if ((size_t)keep >= r->n_prompt) keep = (int32_t)r->n_prompt - 1;
    slm_context_seq_truncate(s->ctx, sl->id, keep);
    sl->n_cache = keep;
    sl->req = r;
    sl->pending = -1;
    sl->n_gen = 0;
    sl->n_cached = keep;
    sl->batch_idx = -1;
    sl->t_first = sl->t_prompt_done = 0;
    sl->matched_stop = false;
    for (size_t i = 0; i < r->n_prompt; i++) slm_sampler_accept(sl->smp, r->prompt[i]);
    slm_detok_init(&sl->detok, s->tok, false);
    sched_stop_init(&sl->stop, r->stop, r->n_stop);
    st = sched_grammar_start(s, sl, err);
    if (st != SLM_OK) {
        sched_grammar_end(s, sl);
        sched_stop_free(&sl->stop);
        slm_sampler_free(sl->smp);
        sl->smp = NULL;
        sl->req = NULL;
    }
    return st;
}

/* Pops the next waiting request that was not cancelled (under mu). */
static slm_request *pop_waiting(slm_sched *s) {
    while (s->q_head) {
        slm_request *r = s->q_head;
        s->q_head = r->qnext;
        if (!s->q_head) s->q_tail = NULL;
        s->n_queued--;
        r->qnext = NULL;
        if (!atomic_load(&r->cancel)) return r;
        sched_request_finish_unslotted(r, SLM_FINISH_CANCEL, NULL);
    }
    return NULL;
}

static bool queue_wants_vocab(const slm_sched *s) {
    for (const slm_request *r = s->q_head; r; r = r->qnext)
        if (r->cons) return true;
    return false;
}

/* Moves waiting requests into free slots. Returns false when told to quit. */
static bool admit(slm_sched *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->quit && s->n_busy == 0 && !s->q_head) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->gvocab && queue_wants_vocab(s)) {
        /* The first constrained request: build the grammar vocabulary (slow
         * for a large vocabulary) without holding submitters up. A failure
         * is reported by sched_grammar_start, which tries again. */
        pthread_mutex_unlock(&s->mu);
        slm_grammar_vocab_from_tokenizer(s->tok, &s->gvocab, NULL);
        pthread_mutex_lock(&s->mu);
    }
    bool quit = s->quit;
    while (!quit && s->n_busy < s->n_slots) {
        slm_request *r = pop_waiting(s);
        if (!r) break;
        int32_t keep;
        sched_slot *sl = pick_slot(s, r, &keep);
        slm_error err = {0};
        if (start_slot(s, sl, r, keep, &err) != SLM_OK) {
            slm_event ev;
            fill_done(&ev, SLM_FINISH_STOP, err.code, err.msg);
            sched_request_push(r, &ev, NULL, 0);
            sched_request_unref(r);
            continue;
        }
        s->n_busy++;
        s->stats.n_prompt_tokens += r->n_prompt;
        s->stats.n_cached_tokens += (uint64_t)sl->n_cached;
    }
    pthread_mutex_unlock(&s->mu);
    return !quit;
}

static void add_entry(slm_sched *s, int32_t *n, sched_slot *sl, int32_t tok, bool logits) {
    s->b_tok[*n] = tok;
    s->b_seq[*n] = sl->id;
    s->b_logits[*n] = logits;
    if (logits) sl->batch_idx = *n;
    (*n)++;
}

/* Generating slots first (one token each, so they never starve), then
 * prompt chunks while the batch has room. */
static int32_t build_batch(slm_sched *s) {
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        sl->batch_idx = -1;
        if (sl->req && atomic_load(&sl->req->cancel)) sched_slot_finish(s, sl, SLM_FINISH_CANCEL, SLM_OK, NULL);
        else if (sl->req && sl->pending >= 0 && n < s->n_batch) add_entry(s, &n, sl, sl->pending, true);
    }
    for (int32_t i = 0; i < s->n_slots && n < s->n_batch; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->req || sl->pending >= 0) continue;
        int32_t np = (int32_t)sl->req->n_prompt;
        for (int32_t p = sl->n_cache; p < np && n < s->n_batch; p++)
            add_entry(s, &n, sl, sl->req->prompt[p], p == np - 1);
    }
    return n;
}

static void emit_token(slm_sched *s, sched_slot *sl, int32_t tok, const float *logits, bool *stopped) {
    slm_request *r = sl->req;
    slm_event ev = {.kind = SLM_EVENT_TOKEN, .token = tok};
    if (r->n_logprobs >= 0) {
        double lse = slm_logsumexp(logits, s->n_vocab);
        ev.logprob = slm_logprob_with_lse(logits, s->n_vocab, tok, lse);
        if (r->n_logprobs > 0) ev.n_top = slm_logprobs_top(logits, s->n_vocab, r->n_logprobs, ev.top);
    }
    char piece[SLM_DETOK_MAX_PIECE + 8];
    size_t n = slm_detok_push(&sl->detok, tok, piece, sizeof piece);
    const char *out;
    size_t out_len;
    int m = sched_stop_push(&sl->stop, piece, n, &out, &out_len);
    *stopped = sl->matched_stop = m == 1;
    if (m < 0 || !sched_request_push(r, &ev, out, out_len)) atomic_store(&r->cancel, true);
}

/* Samples the next token of a slot whose logits are ready. */
static void step_slot(slm_sched *s, sched_slot *sl, const float *logits) {
    slm_request *r = sl->req;
    if (sl->t_prompt_done == 0) sl->t_prompt_done = slm_now_s();
    if (sl->n_cache >= s->n_ctx || r->n_predict == 0) {
        sched_slot_finish(s, sl, SLM_FINISH_LENGTH, SLM_OK, NULL);
        return;
    }
    slm_error err = {0};
    int32_t tok = sched_grammar_sample(s, sl, logits, &err);
    if (tok < 0) {
        sched_slot_finish(s, sl, SLM_FINISH_STOP, err.code, err.msg);
        return;
    }
    if (sl->t_first == 0) sl->t_first = slm_now_s();
    if (slm_tokenizer_is_eog(s->tok, tok)) {
        sched_slot_finish(s, sl, SLM_FINISH_STOP, SLM_OK, NULL);
        return;
    }
    /* Fail closed: a token the grammar refuses never reaches the output. */
    if (sched_grammar_accept(s, sl, tok, &err) != SLM_OK) {
        sched_slot_finish(s, sl, SLM_FINISH_STOP, err.code, err.msg);
        return;
    }
    slm_sampler_accept(sl->smp, tok);
    sl->n_gen++;
    bool stopped = false;
    emit_token(s, sl, tok, logits, &stopped);
    if (stopped || sched_grammar_done(sl)) sched_slot_finish(s, sl, SLM_FINISH_STOP, SLM_OK, NULL);
    else if (r->n_predict >= 0 && sl->n_gen >= r->n_predict) sched_slot_finish(s, sl, SLM_FINISH_LENGTH, SLM_OK, NULL);
    else sl->pending = tok;
}

static void fail_batch(slm_sched *s, const slm_error *err) {
    for (int32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].req) sched_slot_finish(s, &s->slots[i], SLM_FINISH_STOP, err->code, err->msg);
}

static void run_step(slm_sched *s) {
    int32_t n = build_batch(s);
    if (n == 0) return;
    slm_batch b = {.n = n, .tokens = s->b_tok, .seq = s->b_seq, .logits = s->b_logits};
    slm_error err = {0};
    if (slm_decode_batch(s->ctx, &b, &err) != SLM_OK) {
        fail_batch(s, &err);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stats.n_batches++;
    pthread_mutex_unlock(&s->mu);
    for (int32_t i = 0; i < n; i++) {
        sched_slot *sl = &s->slots[s->b_seq[i]];
        sl->cache[sl->n_cache++] = s->b_tok[i];
    }
    for (int32_t i = 0; i < s->n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        if (!sl->req || sl->batch_idx < 0) continue;
        sl->pending = -1;
        step_slot(s, sl, slm_context_batch_logits(s->ctx, sl->batch_idx));
    }
}

void *sched_engine_main(void *arg) {
    slm_sched *s = arg;
    while (admit(s)) run_step(s);
    return NULL;
}
