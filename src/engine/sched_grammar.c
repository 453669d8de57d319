/* Constrained decoding in the scheduler. A request may carry an
 * slm_constraint (a shared, reference-counted compiled grammar plus
 * optional lazy triggers); its slot then holds a grammar matcher and a
 * token mask. Each step: fill_mask -> sample_masked -> accept_token, with
 * end-of-generation allowed only where the grammar may end. A lazy
 * constraint first watches the output (special tokens rendered) for a
 * trigger, then starts the matcher on the text from the trigger on.
 * Everything fails closed: a grammar error ends the request with an error.
 * Budget-aware completion: the sampled token is taken by the matcher in
 * the same step as the check that the output can still end before
 * max_tokens (or the context) runs out; when it cannot, the mask is
 * narrowed to the tokens that still fit and the token is sampled again.
 * Main data: slm_constraint (below) and the grammar fields of sched_slot. */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

struct slm_constraint {
    atomic_int refs;
    slm_grammar *grammar;
    char *triggers[SLM_MAX_TRIGGERS];
    int32_t n_triggers;
};

slm_status slm_constraint_new(slm_grammar *g, const char *const *triggers, int32_t n_triggers,
                              slm_constraint **out, slm_error *err) {
    *out = NULL;
    if (!g) return slm_error_set(err, SLM_ERR_INVALID_ARG, "constraint: no grammar");
    if (n_triggers < 0 || n_triggers > SLM_MAX_TRIGGERS || (n_triggers > 0 && !triggers)) {
        slm_grammar_free(g);
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "constraint: at most %d triggers", SLM_MAX_TRIGGERS);
    }
    slm_constraint *c = calloc(1, sizeof *c);
    if (!c) {
        slm_grammar_free(g);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    atomic_init(&c->refs, 1);
    c->grammar = g;
    for (int32_t i = 0; i < n_triggers; i++) {
        if (!triggers[i] || !triggers[i][0]) {
            slm_constraint_unref(c);
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "constraint: trigger %d is empty", i);
        }
        c->triggers[i] = strdup(triggers[i]);
        if (!c->triggers[i]) {
            slm_constraint_unref(c);
            return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        }
        c->n_triggers = i + 1;
    }
    *out = c;
    return SLM_OK;
}

slm_constraint *slm_constraint_ref(slm_constraint *c) {
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

void slm_constraint_unref(slm_constraint *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    slm_grammar_free(c->grammar);
    for (int32_t i = 0; i < c->n_triggers; i++) free(c->triggers[i]);
    free(c);
}

const slm_grammar *slm_constraint_grammar(const slm_constraint *c) { return c ? c->grammar : NULL; }

static slm_status start_matcher(slm_sched *s, sched_slot *sl, slm_error *err) {
    size_t words = slm_grammar_vocab_mask_words(s->gvocab);
    sl->mask = slm_malloc_array(words, sizeof *sl->mask);
    if (!sl->mask) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    return slm_grammar_matcher_new(sl->req->cons->grammar, s->gvocab, &sl->matcher, err);
}

slm_status sched_grammar_start(slm_sched *s, sched_slot *sl, slm_error *err) {
    const slm_constraint *c = sl->req->cons;
    sl->n_masked = 0;
    sl->grammar_taken = false;
    sl->mask_s = sl->mask_max_s = 0;
    sl->trig_len = 0;
    if (!c) return SLM_OK;
    if (!s->gvocab) {
        slm_status st = slm_grammar_vocab_from_tokenizer(s->tok, &s->gvocab, err);
        if (st != SLM_OK) return slm_error_prefix(err, "grammar vocabulary");
    }
    if (slm_grammar_vocab_n_tokens(s->gvocab) > s->n_vocab)
        return slm_error_set(err, SLM_ERR_INTERNAL, "grammar vocabulary is larger than the model's");
    return c->n_triggers == 0 ? start_matcher(s, sl, err) : SLM_OK;
}

/* Tokens the slot may still sample, this one included: max_tokens and the
 * context both end the generation (step_slot stops at n_cache == n_ctx). */
static int32_t tokens_left(const slm_sched *s, const sched_slot *sl) {
    int64_t left = (int64_t)s->n_ctx - sl->n_cache;
    int32_t n_predict = sl->req->n_predict;
    if (n_predict >= 0 && (int64_t)n_predict - sl->n_gen < left) left = (int64_t)n_predict - sl->n_gen;
    if (left < 1) left = 1;
    return left > INT32_MAX ? INT32_MAX : (int32_t)left;
}

int32_t sched_grammar_sample(slm_sched *s, sched_slot *sl, const float *logits, slm_error *err) {
    if (!sl->matcher) {
        int32_t tok = slm_sampler_sample(sl->smp, logits);
        if (tok < 0) slm_error_set(err, SLM_ERR_INVALID_ARG, "no token can be sampled (all are banned)");
        return tok;
    }
    double t0 = slm_now_s();
    if (slm_grammar_matcher_fill_mask(sl->matcher, sl->mask, err) != SLM_OK) {
        slm_error_prefix(err, "grammar");
        return -1;
    }
    int32_t tok = slm_sampler_sample_masked(sl->smp, logits, sl->mask);
    if (tok >= 0) {
        /* taken here, in one step with the budget check; accept skips it */
        int32_t left = tokens_left(s, sl);
        slm_status st = slm_grammar_matcher_accept_token_budget(sl->matcher, tok, left, err);
        if (st == SLM_ERR_RANGE) {
            /* near the limit: only tokens that still let the output end in time */
            st = slm_grammar_matcher_budget_mask(sl->matcher, sl->mask, left, err);
            tok = st == SLM_OK ? slm_sampler_sample_masked(sl->smp, logits, sl->mask) : -1;
            if (tok >= 0) st = slm_grammar_matcher_accept_token(sl->matcher, tok, err);
        }
        if (st != SLM_OK) {
            slm_error_prefix(err, "grammar");
            return -1;
        }
        sl->grammar_taken = tok >= 0;
    }
    double dt = slm_now_s() - t0;
    sl->n_masked++;
    sl->mask_s += dt;
    if (dt > sl->mask_max_s) sl->mask_max_s = dt;
    if (tok < 0)
        slm_error_set(err, SLM_ERR_INVALID_ARG,
                      "grammar: no token the grammar allows can be sampled (banned by logit_bias, or the "
                      "vocabulary cannot spell what the grammar needs)");
    return tok;
}

static bool trig_append(sched_slot *sl, const char *p, size_t n) {
    if (sl->trig_len + n + 1 > sl->trig_cap) {
        size_t cap = sl->trig_cap ? sl->trig_cap : 256;
        while (cap < sl->trig_len + n + 1) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        char *q = realloc(sl->trig, cap);
        if (!q) return false;
        sl->trig = q;
        sl->trig_cap = cap;
    }
    memcpy(sl->trig + sl->trig_len, p, n);
    sl->trig_len += n;
    sl->trig[sl->trig_len] = '\0';
    return true;
}

/* Earliest position of a trigger in the watched text, or SIZE_MAX. Only
 * the tail a new piece could complete is searched again. */
static size_t find_trigger(const slm_constraint *c, const char *text, size_t len, size_t from) {
    size_t best = SIZE_MAX;
    for (int32_t i = 0; i < c->n_triggers; i++) {
        size_t n = strlen(c->triggers[i]);
        size_t start = from > n ? from - n : 0;
        for (size_t p = start; p + n <= len && p < best; p++)
            if (memcmp(text + p, c->triggers[i], n) == 0) best = p;
    }
    return best;
}

static slm_status watch_triggers(slm_sched *s, sched_slot *sl, int32_t tok, slm_error *err) {
    char piece[SLM_DETOK_MAX_PIECE + 8];
    size_t n = slm_token_to_piece(s->tok, tok, true, piece, sizeof piece);
    if (n > sizeof piece) n = sizeof piece;
    size_t before = sl->trig_len;
    if (!trig_append(sl, piece, n)) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t at = find_trigger(sl->req->cons, sl->trig, sl->trig_len, before);
    if (at == SIZE_MAX) return SLM_OK;
    slm_status st = start_matcher(s, sl, err);
    if (st != SLM_OK) return st;
    slm_error e2 = {0};
    if (!slm_grammar_matcher_accept_bytes(sl->matcher, sl->trig + at, sl->trig_len - at, &e2))
        return slm_error_set(err, e2.code ? e2.code : SLM_ERR_INVALID_ARG,
                             "grammar: the text from the trigger on does not fit the grammar%s%s",
                             e2.msg[0] ? ": " : "", e2.msg);
    return SLM_OK;
}

slm_status sched_grammar_accept(slm_sched *s, sched_slot *sl, int32_t tok, slm_error *err) {
    if (sl->matcher && sl->grammar_taken) { /* sched_grammar_sample took it already */
        sl->grammar_taken = false;
        return SLM_OK;
    }
    if (sl->matcher) {
        slm_status st = slm_grammar_matcher_accept_token(sl->matcher, tok, err);
        return st == SLM_OK ? SLM_OK : slm_error_prefix(err, "grammar");
    }
    if (sl->req->cons && sl->req->cons->n_triggers > 0) return watch_triggers(s, sl, tok, err);
    return SLM_OK;
}

bool sched_grammar_done(const sched_slot *sl) { return sl->matcher && slm_grammar_matcher_is_done(sl->matcher); }

void sched_grammar_end(slm_sched *s, sched_slot *sl) {
    slm_grammar_matcher_free(sl->matcher);
    free(sl->mask);
    free(sl->trig);
    sl->matcher = NULL;
    sl->mask = NULL;
    sl->trig = NULL;
    sl->trig_len = sl->trig_cap = 0;
    if (sl->n_masked == 0) return;
    pthread_mutex_lock(&s->mu);
    s->stats.n_masked_tokens += sl->n_masked;
    s->stats.mask_seconds += sl->mask_s;
    if (sl->mask_max_s > s->stats.mask_max_seconds) s->stats.mask_max_seconds = sl->mask_max_s;
    pthread_mutex_unlock(&s->mu);
    sl->n_masked = 0;
}
