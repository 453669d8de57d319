/* The sampler object and its chain (see slm/sample.h).
 *
 * Per token: the raw logits are copied into `buf` (NaN and masked tokens
 * become -inf), logit_bias and the penalties are applied there by token id,
 * then the finite tokens become the candidate array `cand`, which the
 * filters shrink in place before the seeded draw. Every buffer is sized for
 * the vocabulary at creation, so sampling never allocates. */
#include "slm/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/candidates.h"
#include "sample/filters.h"
#include "sample/history.h"
#include "sample/rng.h"

struct slm_sampler {
    slm_sampler_params p; /* bias pointers replaced by our own copies */
    int32_t n_vocab;
    int32_t *bias_tokens;
    float *bias_values;
    uint64_t seed;        /* seed in use */
    slm_rng rng;
    float *buf;           /* [n_vocab] processed logits */
    slm_cand *cand;       /* [n_vocab] candidates */
    slm_typ_entry *typ;   /* [n_vocab] typical scratch, only if typical_p < 1 */
    slm_history hist;
};

void slm_sampler_params_default(slm_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->typical_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = SLM_SEED_RANDOM;
}

static slm_status check_params(const slm_sampler_params *p, int32_t n_vocab, slm_error *err) {
    if (n_vocab <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: n_vocab %d <= 0", (int)n_vocab);
    if (isinf(p->temperature) && p->temperature > 0)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: temperature is infinite");
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->typical_p))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: temperature/top_p/min_p/typical_p is NaN");
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: repeat_penalty %g must be finite and > 0",
                             (double)p->repeat_penalty);
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: presence/frequency penalty not finite");
    if (p->repeat_last_n < -1 || p->repeat_last_n > SLM_SAMPLE_MAX_WINDOW)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: repeat_last_n %d outside [-1, %d]",
                             (int)p->repeat_last_n, SLM_SAMPLE_MAX_WINDOW);
    if (p->n_bias < 0 || (p->n_bias > 0 && (!p->bias_tokens || !p->bias_values)))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: bad logit_bias arrays (n_bias %d)", (int)p->n_bias);
    for (int32_t i = 0; i < p->n_bias; i++) {
        if (p->bias_tokens[i] < 0 || p->bias_tokens[i] >= n_vocab)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: logit_bias token %d outside [0, %d)",
                                 (int)p->bias_tokens[i], (int)n_vocab);
        if (isnan(p->bias_values[i]))
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: logit_bias for token %d is NaN",
                                 (int)p->bias_tokens[i]);
    }
    return SLM_OK;
}

/* typical_p = 0 (a zero-initialised struct) means off, not "keep one". */
static bool typical_on(const slm_sampler_params *p) { return p->typical_p > 0.0f && p->typical_p < 1.0f; }

static bool penalties_on(const slm_sampler *s) {
    return s->p.repeat_last_n != 0 &&
           (s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f || s->p.presence_penalty != 0.0f);
}

static void reseed(slm_sampler *s) {
    s->seed = s->p.seed == SLM_SEED_RANDOM ? slm_rng_clock_seed(s) : s->p.seed;
    slm_rng_seed(&s->rng, s->seed);
}

static slm_status alloc_buffers(slm_sampler *s, slm_error *err) {
    size_t n = (size_t)s->n_vocab, nb = (size_t)s->p.n_bias;
    s->buf = slm_malloc_array(n, sizeof *s->buf);
    s->cand = slm_malloc_array(n, sizeof *s->cand);
    s->bias_tokens = slm_malloc_array(nb, sizeof *s->bias_tokens);
    s->bias_values = slm_malloc_array(nb, sizeof *s->bias_values);
    if (typical_on(&s->p)) s->typ = slm_malloc_array(n, sizeof *s->typ);
    if (!s->buf || !s->cand || !s->bias_tokens || !s->bias_values || (typical_on(&s->p) && !s->typ))
        return slm_error_set(err, SLM_ERR_NOMEM, "sampler: cannot allocate buffers for %d tokens",
                             (int)s->n_vocab);
    /* Window 0 when no penalty is active: accept() then costs nothing. */
    int32_t window = penalties_on(s) ? s->p.repeat_last_n : 0;
    return slm_history_init(&s->hist, s->n_vocab, window, err);
}

slm_status slm_sampler_new(const slm_sampler_params *p, int32_t n_vocab, slm_sampler **out, slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "sampler: out is NULL");
    *out = NULL;
    slm_sampler_params def;
    if (!p) {
        slm_sampler_params_default(&def);
        p = &def;
    }
    slm_status st = check_params(p, n_vocab, err);
    if (st != SLM_OK) return st;
    slm_sampler *s = calloc(1, sizeof *s);
    if (!s) return slm_error_set(err, SLM_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    st = alloc_buffers(s, err);
    if (st != SLM_OK) {
        slm_sampler_free(s);
        return st;
    }
    if (p->n_bias > 0) {
        memcpy(s->bias_tokens, p->bias_tokens, (size_t)p->n_bias * sizeof *s->bias_tokens);
        memcpy(s->bias_values, p->bias_values, (size_t)p->n_bias * sizeof *s->bias_values);
    }
    s->p.bias_tokens = s->bias_tokens;
    s->p.bias_values = s->bias_values;
    reseed(s);
    *out = s;
    return SLM_OK;
}

void slm_sampler_free(slm_sampler *s) {
    if (!s) return;
    free(s->buf);
    free(s->cand);
    free(s->typ);
    free(s->bias_tokens);
    free(s->bias_values);
    slm_history_free(&s->hist);
    free(s);
}

void slm_sampler_accept(slm_sampler *s, int32_t token) {
    if (s) slm_history_push(&s->hist, token);
}

void slm_sampler_reset(slm_sampler *s) {
    if (!s) return;
    slm_history_clear(&s->hist);
    reseed(s);
}

uint64_t slm_sampler_seed(const slm_sampler *s) { return s ? s->seed : 0; }

/* Copy + NaN cleaning + mask, then bias and penalties, into out. */
static void process(slm_sampler *s, const float *logits, const uint32_t *allow, float *out) {
    if (allow) {
        for (int32_t t = 0; t < s->n_vocab; t++) {
            float x = logits[t];
            bool allowed = (allow[t >> 5] >> (t & 31)) & 1u;
            out[t] = (x != x || !allowed) ? -INFINITY : x;
        }
    } else {
        for (int32_t t = 0; t < s->n_vocab; t++) {
            float x = logits[t];
            out[t] = x != x ? -INFINITY : x; /* NaN test the compiler vectorises */
        }
    }
    for (int32_t i = 0; i < s->p.n_bias; i++) out[s->bias_tokens[i]] += s->bias_values[i];
    /* -inf + inf bias is NaN: a masked token stays banned */
    for (int32_t i = 0; i < s->p.n_bias; i++)
        if (isnan(out[s->bias_tokens[i]])) out[s->bias_tokens[i]] = -INFINITY;
    if (penalties_on(s))
        slm_history_apply(&s->hist, out, s->p.repeat_penalty, s->p.frequency_penalty, s->p.presence_penalty);
}

void slm_sampler_process(slm_sampler *s, const float *logits, float *out) {
    if (s && logits && out) process(s, logits, NULL, out);
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = -1;
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (x[i] > m) { /* strict: the lowest id wins ties */
            m = x[i];
            best = i;
        }
    return best;
}

static bool is_greedy(const slm_sampler *s) { return !(s->p.temperature > 0.0f); }

/* Runs the filters and the temperature on s->buf; returns the candidate
 * count left in s->cand (0 if every token is banned). */
static int32_t run_chain(slm_sampler *s) {
    int32_t n = 0;
    for (int32_t t = 0; t < s->n_vocab; t++)
        if (s->buf[t] > -INFINITY) s->cand[n++] = (slm_cand){ t, s->buf[t] };
    if (n == 0) return 0;
    bool sorted = false, min_p_done = false;
    slm_cand *c = s->cand;
    slm_filter_top_k(c, &n, s->p.top_k, &sorted);
    if (s->typ) slm_filter_typical(c, &n, s->p.typical_p, &sorted, s->typ);
    if (s->p.top_p < 1.0f && n > 1) {
        float max = slm_cand_max(c, n);
        double z = slm_cand_weight_sum(c, n, max);
        /* min_p and top_p each keep a best-first prefix of the same order
         * and min_p's threshold depends only on the max, which top_p keeps:
         * cutting min_p's tail first gives the same set with less sorting,
         * as long as top_p still normalises over the uncut set (z). */
        if (!sorted && s->p.min_p > 0.0f) {
            slm_filter_min_p(c, &n, s->p.min_p);
            min_p_done = true;
        }
        slm_filter_top_p(c, &n, s->p.top_p, max, z, &sorted);
    }
    if (!min_p_done) slm_filter_min_p(c, &n, s->p.min_p);
    slm_filter_temperature(c, n, s->p.temperature);
    return n;
}

/* Draws from softmax(c[0..n)) with the seeded generator. The weights are
 * cached in buf, which is free once the candidates are built. */
static int32_t draw(slm_sampler *s, int32_t n) {
    const slm_cand *c = s->cand;
    float *w = s->buf;
    float max = slm_cand_max(c, n);
    double z = 0.0;
    for (int32_t i = 0; i < n; i++) {
        w[i] = slm_cand_weight(c[i].logit, max);
        z += w[i];
    }
    double u = slm_rng_uniform(&s->rng) * z, acc = 0.0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (w[i] <= 0.0f) continue;
        acc += w[i];
        last = i;
        if (u < acc) return c[i].id;
    }
    return c[last].id; /* rounding left u just above the sum */
}

int32_t slm_sampler_sample_masked(slm_sampler *s, const float *logits, const uint32_t *allow) {
    if (!s || !logits) return -1;
    if (is_greedy(s) && !allow && s->p.n_bias == 0 && !penalties_on(s))
        return argmax(logits, s->n_vocab); /* NaN never compares greater */
    process(s, logits, allow, s->buf);
    if (is_greedy(s)) return argmax(s->buf, s->n_vocab);
    int32_t n = run_chain(s);
    return n > 0 ? draw(s, n) : -1;
}

int32_t slm_sampler_sample(slm_sampler *s, const float *logits) {
    return slm_sampler_sample_masked(s, logits, NULL);
}

int32_t slm_sampler_candidates(slm_sampler *s, const float *logits, slm_candidate *out, int32_t cap) {
    if (!s || !logits) return 0;
    process(s, logits, NULL, s->buf);
    if (is_greedy(s)) {
        int32_t best = argmax(s->buf, s->n_vocab);
        if (best < 0) return 0;
        if (out && cap > 0) out[0] = (slm_candidate){ best, 1.0f };
        return 1;
    }
    int32_t n = run_chain(s);
    if (n == 0) return 0;
    float max = slm_cand_max(s->cand, n);
    double z = slm_cand_weight_sum(s->cand, n, max);
    /* Logit order is probability order (temperature > 0 is monotonic),
     * with the same id tie-break as slm_candidate's contract. */
    slm_cand_select_top(s->cand, n, n);
    for (int32_t i = 0; i < n && out && i < cap; i++)
        out[i] = (slm_candidate){ s->cand[i].id, (float)(slm_cand_weight(s->cand[i].logit, max) / z) };
    return n;
}
