/* slm sample: turns one row of logits into the next token, and computes
 * log-probabilities for the OpenAI `logprobs` / `top_logprobs` fields.
 *
 * The chain follows llama.cpp's default order:
 *
 *   mask -> logit_bias -> penalties -> top_k -> typical -> top_p -> min_p
 *        -> temperature -> draw (seeded xoshiro256**)
 *
 * temperature <= 0 is greedy: the argmax of the biased, penalised logits,
 * the lowest token id winning ties. The filters never change the argmax, so
 * greedy skips them.
 *
 * An slm_sampler owns every buffer it needs (sized for n_vocab at creation),
 * so sampling does no allocation. One sampler serves one sequence and is not
 * thread-safe; distinct samplers may be used from distinct threads.
 *
 * Log-probabilities are computed on the RAW logits (before bias, penalties,
 * filters and temperature), as OpenAI reports them: they describe what the
 * model predicted, not what the sampler did with it. */
#ifndef SLM_SAMPLE_H
#define SLM_SAMPLE_H

#include "slm/base.h"

typedef struct slm_sampler_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0: off; >= n_vocab is the same as off */
    float top_p;             /* >= 1: off; keeps the smallest prefix with mass >= top_p */
    float min_p;             /* <= 0: off; keeps p >= min_p * p_max */
    float typical_p;         /* <= 0 or >= 1: off; locally typical sampling */
    float repeat_penalty;    /* 1: off; positive logits divided, negative multiplied */
    int32_t repeat_last_n;   /* window for all penalties; 0 off, -1 = whole history */
    float presence_penalty;  /* 0: off; subtracted once from every token in the window */
    float frequency_penalty; /* 0: off; subtracted once per occurrence in the window */
    uint64_t seed;           /* SLM_SEED_RANDOM: seeded from the clock */
    /* logit_bias (copied by slm_sampler_new): logit[bias_tokens[i]] +=
     * bias_values[i]; -INFINITY bans the token. Out-of-range ids are an
     * error; a NaN value is an error. */
    const int32_t *bias_tokens;
    const float *bias_values;
    int32_t n_bias;
} slm_sampler_params;

#define SLM_SEED_RANDOM UINT64_MAX

/* Largest accepted repeat_last_n (larger windows are rejected). */
#define SLM_SAMPLE_MAX_WINDOW (1 << 24)

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, typical_p 1 (off),
 * repeat_penalty 1.0 (off) over the last 64 tokens, presence/frequency 0,
 * seed random, no bias: llama.cpp's defaults. */
void slm_sampler_params_default(slm_sampler_params *p);

typedef struct slm_sampler slm_sampler;

/* Validates p (NaN values, repeat_last_n < -1 or too large, bias ids out of
 * [0, n_vocab), n_vocab <= 0 are SLM_ERR_INVALID_ARG) and allocates every
 * buffer. *out is NULL on failure. */
slm_status slm_sampler_new(const slm_sampler_params *p, int32_t n_vocab, slm_sampler **out,
                           slm_error *err);
void slm_sampler_free(slm_sampler *s);

/* Picks the next token from logits[n_vocab]. The logits are not modified.
 * NaN logits are treated as -inf (never chosen); +inf wins. Returns -1 only
 * when s or logits is NULL or every token is banned (-inf/NaN/masked).
 * Does not add the token to the history: call slm_sampler_accept. */
int32_t slm_sampler_sample(slm_sampler *s, const float *logits);

/* As slm_sampler_sample, but only tokens whose bit is set in `allow`
 * (bit t = allow[t / 32] >> (t % 32) & 1; NULL = all allowed) may be
 * chosen. For grammar-constrained decoding. */
int32_t slm_sampler_sample_masked(slm_sampler *s, const float *logits, const uint32_t *allow);

/* Adds a token to the history the penalties look at (feed prompt tokens
 * too). Ids outside [0, n_vocab) are ignored. */
void slm_sampler_accept(slm_sampler *s, int32_t token);

/* Clears the history and reseeds: with the same seed when one was given
 * (so the token sequence repeats), with a fresh clock seed otherwise. */
void slm_sampler_reset(slm_sampler *s);

/* The seed actually in use (the clock-derived one for SLM_SEED_RANDOM). */
uint64_t slm_sampler_seed(const slm_sampler *s);

/* Writes logits after NaN-cleaning, logit_bias and penalties (in token-id
 * order) to out[n_vocab]: what the filters start from. */
void slm_sampler_process(slm_sampler *s, const float *logits, float *out);

/* ---- diagnostics ---------------------------------------------------- */

/* Candidate with its final sampling probability. */
typedef struct slm_candidate {
    int32_t token;
    float p;
} slm_candidate;

/* Runs the whole chain except the random draw and writes the surviving
 * candidates (the set the draw picks from), sorted by p descending then id,
 * with their final probabilities. Writes at most `cap` entries and returns
 * the full size of the set (0 if everything is banned). Greedy (temperature
 * <= 0) yields the single argmax with p = 1. Allocation-free but sorts:
 * meant for tests and debugging, not for every token. */
int32_t slm_sampler_candidates(slm_sampler *s, const float *logits, slm_candidate *out,
                               int32_t cap);

/* ---- log-probabilities (raw logits) -------------------------------- */

typedef struct slm_logprob {
    int32_t token;
    float logprob;
} slm_logprob;

/* log(sum(exp(logits))), computed stably in double; NaN logits count as
 * -inf. -INFINITY when every logit is -inf/NaN, +INFINITY if one is +inf. */
double slm_logsumexp(const float *logits, int32_t n_vocab);

/* The n most probable tokens of log_softmax(logits), written to out[n]
 * sorted by logprob descending (ties: lower id first). Returns the count
 * written: min(n, n_vocab), 0 on bad arguments. */
int32_t slm_logprobs_top(const float *logits, int32_t n_vocab, int32_t n, slm_logprob *out);

/* log_softmax(logits)[token]; -INFINITY for an out-of-range token, a NaN
 * logit, or when every logit is -inf. O(n_vocab). */
float slm_logprob_of(const float *logits, int32_t n_vocab, int32_t token);

/* Same, reusing a slm_logsumexp result (saves a pass over the vocabulary
 * when the engine needs both the chosen token and the top alternatives). */
float slm_logprob_with_lse(const float *logits, int32_t n_vocab, int32_t token, double lse);

#endif
