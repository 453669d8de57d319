/* Log-probabilities of the raw logits for the OpenAI logprobs fields (see
 * slm/sample.h). Each value is logit - logsumexp with the subtraction in
 * double, so a token 60 nats below the best still gets an accurate, finite
 * value. */
#include "slm/sample.h"

#include <math.h>

static float clean(float x) { return isnan(x) ? -INFINITY : x; }

double slm_logsumexp(const float *logits, int32_t n_vocab) {
    if (!logits || n_vocab <= 0) return -INFINITY;
    float max = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) {
        float x = clean(logits[i]);
        if (x > max) max = x;
    }
    if (isinf(max)) return max; /* all -inf, or a +inf that takes all mass */
    /* expf terms (each within 1 ulp) summed in double: accurate to ~1e-7
     * relative, and several times faster than double exp */
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += expf(clean(logits[i]) - max);
    return (double)max + log(sum);
}

float slm_logprob_with_lse(const float *logits, int32_t n_vocab, int32_t token, double lse) {
    if (!logits || token < 0 || token >= n_vocab || isnan(lse)) return -INFINITY;
    float x = clean(logits[token]);
    if (isinf(lse)) {
        /* lse = +inf: the +inf logits share the mass; lse = -inf: no mass */
        if (lse < 0 || !isinf(x) || x < 0) return -INFINITY;
        int32_t n_inf = 0;
        for (int32_t i = 0; i < n_vocab; i++) n_inf += clean(logits[i]) == INFINITY;
        return (float)-log((double)n_inf);
    }
    return (float)((double)x - lse);
}

float slm_logprob_of(const float *logits, int32_t n_vocab, int32_t token) {
    if (!logits || token < 0 || token >= n_vocab) return -INFINITY;
    return slm_logprob_with_lse(logits, n_vocab, token, slm_logsumexp(logits, n_vocab));
}

/* "a ranks below b": lower logit, then higher id. out[] is used as a heap
 * of the best n seen so far with the worst at the root. */
static int lp_worse(const slm_logprob *a, const slm_logprob *b) {
    return a->logprob < b->logprob || (a->logprob == b->logprob && a->token > b->token);
}

static void lp_sift(slm_logprob *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && lp_worse(&h[l], &h[w])) w = l;
        if (r < n && lp_worse(&h[r], &h[w])) w = r;
        if (w == i) return;
        slm_logprob t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

int32_t slm_logprobs_top(const float *logits, int32_t n_vocab, int32_t n, slm_logprob *out) {
    if (!logits || !out || n_vocab <= 0 || n <= 0) return 0;
    if (n > n_vocab) n = n_vocab;
    /* Select on the raw logits (stored in .logprob), convert at the end. */
    for (int32_t i = 0; i < n; i++) out[i] = (slm_logprob){ i, clean(logits[i]) };
    for (int32_t i = n / 2 - 1; i >= 0; i--) lp_sift(out, n, i);
    for (int32_t t = n; t < n_vocab; t++) {
        slm_logprob c = { t, clean(logits[t]) };
        if (lp_worse(&out[0], &c)) {
            out[0] = c;
            lp_sift(out, n, 0);
        }
    }
    for (int32_t end = n - 1; end > 0; end--) {
        slm_logprob t = out[0];
        out[0] = out[end];
        out[end] = t;
        lp_sift(out, end, 0);
    }
    double lse = slm_logsumexp(logits, n_vocab);
    for (int32_t i = 0; i < n; i++)
        out[i].logprob = slm_logprob_with_lse(logits, n_vocab, out[i].token, lse);
    return n;
}
