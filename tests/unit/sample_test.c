/* Tests for sample/: greedy, each filter alone on hand-made logits, the
 * penalties' exact arithmetic, logit_bias bans, seeding, the empirical
 * distribution of draws, log-probabilities, bad parameters and NaN/inf
 * logits. Reference results for the larger cases come from brute force
 * (full sort + cumulative sums) written here independently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/rng.h"
#include "slm/sample.h"

/* All filters off, temperature 1, fixed seed: a plain softmax draw. */
static slm_sampler_params plain_params(void) {
    slm_sampler_params p;
    slm_sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    return p;
}

static slm_sampler *make(const slm_sampler_params *p, int32_t n_vocab) {
    slm_sampler *s = NULL;
    slm_error err;
    slm_status st = slm_sampler_new(p, n_vocab, &s, &err);
    if (st != SLM_OK) fail_msg("slm_sampler_new: %s", err.msg);
    return s;
}

/* Logits whose softmax is exactly proportional to probs. */
static void logits_from_probs(const float *probs, int32_t n, float *out) {
    for (int32_t i = 0; i < n; i++) out[i] = logf(probs[i]);
}

/* Sorted list of candidate ids (for set comparisons). */
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int32_t candidate_ids(slm_sampler *s, const float *logits, int32_t *ids, int32_t cap) {
    slm_candidate *c = calloc((size_t)cap, sizeof *c);
    assert_non_null(c);
    int32_t n = slm_sampler_candidates(s, logits, c, cap);
    assert_true(n <= cap);
    for (int32_t i = 0; i < n; i++) ids[i] = c[i].token;
    free(c);
    qsort(ids, (size_t)n, sizeof *ids, cmp_i32);
    return n;
}

static void expect_set(slm_sampler *s, const float *logits, const int32_t *want, int32_t n_want) {
    int32_t got[64];
    int32_t n = candidate_ids(s, logits, got, 64);
    assert_int_equal(n, n_want);
    for (int32_t i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
}

/* ---- greedy ----------------------------------------------------------- */

static void test_greedy(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    p.temperature = 0.0f;
    slm_sampler *s = make(&p, 6);
    float l1[6] = { 0.1f, 2.0f, -1.0f, 1.9f, 0.0f, 1.0f };
    assert_int_equal(slm_sampler_sample(s, l1), 1);
    float ties[6] = { 0.0f, 3.0f, 1.0f, 3.0f, 3.0f, -5.0f };
    for (int i = 0; i < 5; i++) assert_int_equal(slm_sampler_sample(s, ties), 1);
    float nan_first[6] = { NAN, 1.0f, NAN, 4.0f, 2.0f, NAN };
    assert_int_equal(slm_sampler_sample(s, nan_first), 3);
    slm_candidate c[2];
    assert_int_equal(slm_sampler_candidates(s, ties, c, 2), 1);
    assert_int_equal(c[0].token, 1);
    assert_true(c[0].p == 1.0f);
    slm_sampler_free(s);
    /* negative temperature is greedy too */
    p.temperature = -1.0f;
    s = make(&p, 6);
    assert_int_equal(slm_sampler_sample(s, l1), 1);
    slm_sampler_free(s);
}

/* ---- filters, one at a time ------------------------------------------- */

static void test_top_k(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    p.top_k = 2;
    slm_sampler *s = make(&p, 5);
    float l[5] = { 1.0f, 5.0f, 3.0f, 4.0f, 2.0f };
    expect_set(s, l, (int32_t[]){ 1, 3 }, 2);
    slm_sampler_free(s);
    /* ties at the boundary: lower id wins */
    p.top_k = 2;
    s = make(&p, 4);
    float t[4] = { 1.0f, 2.0f, 2.0f, 2.0f };
    expect_set(s, t, (int32_t[]){ 1, 2 }, 2);
    slm_sampler_free(s);
    /* top_k larger than the vocabulary is the same as off */
    p.top_k = 100;
    s = make(&p, 5);
    expect_set(s, l, (int32_t[]){ 0, 1, 2, 3, 4 }, 5);
    slm_sampler_free(s);
}

static void test_top_p(void **state) {
    (void)state;
    float probs[4] = { 0.4f, 0.3f, 0.2f, 0.1f }, l[4];
    logits_from_probs(probs, 4, l);
    slm_sampler_params p = plain_params();
    p.top_p = 0.5f;
    slm_sampler *s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1 }, 2);
    /* surviving probabilities are renormalised: 0.4/0.7, 0.3/0.7 */
    slm_candidate c[4];
    assert_int_equal(slm_sampler_candidates(s, l, c, 4), 2);
    assert_int_equal(c[0].token, 0);
    assert_float_equal(c[0].p, 0.4f / 0.7f, 1e-5);
    assert_float_equal(c[1].p, 0.3f / 0.7f, 1e-5);
    slm_sampler_free(s);
    p.top_p = 0.75f;
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1, 2 }, 3);
    slm_sampler_free(s);
    p.top_p = 0.1f; /* the best token alone already has the mass */
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0 }, 1);
    slm_sampler_free(s);
    /* mass exactly at the boundary: >= p stops there (four equal logits
     * give exactly 0.25 each) */
    float flat[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    p.top_p = 0.5f;
    s = make(&p, 4);
    expect_set(s, flat, (int32_t[]){ 0, 1 }, 2);
    slm_sampler_free(s);
    /* after top_k the set is sorted: the other code path */
    p.top_p = 0.5f;
    p.top_k = 3;
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1 }, 2);
    slm_sampler_free(s);
}

static void test_min_p(void **state) {
    (void)state;
    float probs[4] = { 0.25f, 0.5f, 0.05f, 0.2f }, l[4];
    logits_from_probs(probs, 4, l);
    slm_sampler_params p = plain_params();
    p.min_p = 0.3f; /* keeps p >= 0.15 */
    slm_sampler *s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1, 3 }, 3);
    slm_sampler_free(s);
    p.min_p = 0.45f; /* keeps p >= 0.225 */
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1 }, 2);
    slm_sampler_free(s);
    p.min_p = 2.0f; /* nothing passes: the best is kept */
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 1 }, 1);
    slm_sampler_free(s);
}

static void test_typical(void **state) {
    (void)state;
    /* H = 1.2799 nats; |surprise - H| = .364, .076, .329, 1.023, so the
     * order is token 1, 2, 0, 3 and mass 0.45 needs tokens 1 and 2: the
     * most likely token is dropped as atypical. */
    float probs[4] = { 0.4f, 0.3f, 0.2f, 0.1f }, l[4];
    logits_from_probs(probs, 4, l);
    slm_sampler_params p = plain_params();
    p.typical_p = 0.45f;
    slm_sampler *s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 1, 2 }, 2);
    slm_sampler_free(s);
    p.typical_p = 0.95f;
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1, 2, 3 }, 4);
    slm_sampler_free(s);
    p.typical_p = 0.0f; /* zero-initialised field: off */
    s = make(&p, 4);
    expect_set(s, l, (int32_t[]){ 0, 1, 2, 3 }, 4);
    slm_sampler_free(s);
}

static void test_temperature(void **state) {
    (void)state;
    float l[3] = { 1.0f, 2.0f, 0.5f };
    slm_sampler_params p = plain_params();
    p.temperature = 0.5f;
    slm_sampler *s = make(&p, 3);
    slm_candidate c[3];
    assert_int_equal(slm_sampler_candidates(s, l, c, 3), 3);
    double z = exp(2.0) + exp(4.0) + exp(1.0);
    assert_int_equal(c[0].token, 1);
    assert_int_equal(c[1].token, 0);
    assert_int_equal(c[2].token, 2);
    assert_float_equal(c[0].p, exp(4.0) / z, 1e-5);
    assert_float_equal(c[1].p, exp(2.0) / z, 1e-5);
    assert_float_equal(c[2].p, exp(1.0) / z, 1e-5);
    slm_sampler_free(s);
    /* a tiny temperature is (nearly) greedy, not an overflowed tie */
    p.temperature = 1e-37f; /* 50 / t overflows float */
    s = make(&p, 3);
    float close[3] = { 50.0f, 49.0f, 49.5f };
    for (int i = 0; i < 200; i++) assert_int_equal(slm_sampler_sample(s, close), 0);
    slm_sampler_free(s);
}

/* Brute-force reference for top_p then min_p over a whole vocabulary. */
typedef struct ref_entry { int32_t id; float l; } ref_entry;
static int cmp_ref(const void *a, const void *b) {
    const ref_entry *x = a, *y = b;
    if (x->l != y->l) return x->l > y->l ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int32_t reference_set(const float *l, int32_t n, float top_p, float min_p, int32_t *ids) {
    ref_entry *e = malloc((size_t)n * sizeof *e);
    assert_non_null(e);
    for (int32_t i = 0; i < n; i++) e[i] = (ref_entry){ i, l[i] };
    qsort(e, (size_t)n, sizeof *e, cmp_ref);
    double z = 0.0, cum = 0.0;
    for (int32_t i = 0; i < n; i++) z += exp((double)e[i].l - e[0].l);
    int32_t keep = n;
    for (int32_t i = 0; i < n; i++) {
        cum += exp((double)e[i].l - e[0].l) / z;
        if (cum >= top_p) {
            keep = i + 1;
            break;
        }
    }
    int32_t k = 0;
    for (int32_t i = 0; i < keep; i++)
        if (min_p <= 0.0f || e[i].l >= e[0].l + logf(min_p)) ids[k++] = e[i].id;
    free(e);
    qsort(ids, (size_t)k, sizeof *ids, cmp_i32);
    return k;
}

/* top_p's incremental sort (64, 512, ...) and the min_p-first shortcut
 * must give exactly the brute-force set on a larger vocabulary. */
static void test_top_p_min_p_large(void **state) {
    (void)state;
    enum { N = 5000 };
    float *l = malloc(N * sizeof *l);
    int32_t *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    assert_true(l && want && got);
    slm_rng r;
    slm_rng_seed(&r, 99);
    for (int i = 0; i < N; i++) l[i] = (float)(slm_rng_uniform(&r) * 4.0); /* flat: big nucleus */
    const float cases[][2] = { { 0.9f, 0.0f }, { 0.3f, 0.0f }, { 0.9f, 0.5f }, { 0.95f, 0.05f }, { 1.0f, 0.2f } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        slm_sampler_params p = plain_params();
        p.top_p = cases[c][0];
        p.min_p = cases[c][1];
        slm_sampler *s = make(&p, N);
        int32_t nw = reference_set(l, N, p.top_p, p.min_p, want);
        int32_t ng = candidate_ids(s, l, got, N);
        assert_true(nw > 64); /* the incremental path really grew */
        assert_int_equal(ng, nw);
        assert_memory_equal(got, want, (size_t)nw * sizeof *got);
        slm_sampler_free(s);
    }
    /* equal logits: the bucket histogram cannot split them, the full sort
     * fallback runs; 1/256 sums exactly, ties go to the lower ids */
    enum { F = 256 };
    for (int i = 0; i < F; i++) l[i] = 1.5f;
    slm_sampler_params p = plain_params();
    p.top_p = 0.5f;
    slm_sampler *s = make(&p, F);
    assert_int_equal(candidate_ids(s, l, got, F), F / 2);
    for (int i = 0; i < F / 2; i++) assert_int_equal(got[i], i);
    slm_sampler_free(s);
    free(l);
    free(want);
    free(got);
}

/* ---- penalties and bias ----------------------------------------------- */

static void test_penalties_exact(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.repeat_last_n = 64;
    slm_sampler *s = make(&p, 5);
    const float l[5] = { 2.0f, -2.0f, 1.0f, 0.0f, 3.0f };
    float out[5];
    slm_sampler_accept(s, 0);
    slm_sampler_accept(s, 1);
    slm_sampler_accept(s, 1);
    slm_sampler_accept(s, 3);
    slm_sampler_accept(s, 99); /* out of range: ignored */
    slm_sampler_accept(s, -1);
    slm_sampler_process(s, l, out);
    assert_true(out[0] == 2.0f / 2.0f - 0.5f - 0.25f);         /* positive: divided */
    assert_true(out[1] == -2.0f * 2.0f - 2 * 0.5f - 0.25f);    /* negative: multiplied, count 2 */
    assert_true(out[2] == 1.0f);                               /* unseen: untouched */
    assert_true(out[3] == 0.0f * 2.0f - 0.5f - 0.25f);         /* zero: either rule gives 0 */
    assert_true(out[4] == 3.0f);
    /* reset clears the history */
    slm_sampler_reset(s);
    slm_sampler_process(s, l, out);
    assert_memory_equal(out, l, sizeof l);
    slm_sampler_free(s);
}

static void test_penalty_window(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    slm_sampler *s = make(&p, 3);
    const float l[3] = { 4.0f, 4.0f, 4.0f };
    float out[3];
    slm_sampler_accept(s, 0);
    slm_sampler_accept(s, 1);
    slm_sampler_accept(s, 2); /* evicts 0 */
    slm_sampler_process(s, l, out);
    assert_true(out[0] == 4.0f && out[1] == 2.0f && out[2] == 2.0f);
    slm_sampler_accept(s, 2);
    slm_sampler_accept(s, 2); /* window is now [2, 2] */
    slm_sampler_process(s, l, out);
    assert_true(out[0] == 4.0f && out[1] == 4.0f && out[2] == 2.0f);
    slm_sampler_free(s);

    /* -1: the whole history counts */
    p.repeat_last_n = -1;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 1.0f;
    s = make(&p, 3);
    for (int i = 0; i < 1000; i++) slm_sampler_accept(s, i % 2);
    slm_sampler_process(s, l, out);
    assert_true(out[0] == 4.0f - 500.0f && out[1] == 4.0f - 500.0f && out[2] == 4.0f);
    slm_sampler_free(s);

    /* 0: off */
    p.repeat_last_n = 0;
    s = make(&p, 3);
    slm_sampler_accept(s, 0);
    slm_sampler_process(s, l, out);
    assert_memory_equal(out, l, sizeof l);
    slm_sampler_free(s);
}

static void test_penalty_changes_greedy(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    slm_sampler *s = make(&p, 3);
    float l[3] = { 3.0f, 2.5f, 0.0f };
    assert_int_equal(slm_sampler_sample(s, l), 0);
    slm_sampler_accept(s, 0); /* 3 / 1.5 = 2 < 2.5 */
    assert_int_equal(slm_sampler_sample(s, l), 1);
    slm_sampler_free(s);
}

static void test_logit_bias(void **state) {
    (void)state;
    float l[4] = { 5.0f, 4.0f, 4.5f, 0.0f };
    int32_t tok[2] = { 0, 3 };
    float val[2] = { -INFINITY, 1.0f };
    slm_sampler_params p = plain_params();
    p.bias_tokens = tok;
    p.bias_values = val;
    p.n_bias = 2;
    slm_sampler *s = make(&p, 4);
    val[0] = 0.0f; /* the sampler keeps its own copy */
    float out[4];
    slm_sampler_process(s, l, out);
    assert_true(isinf(out[0]) && out[0] < 0 && out[3] == 1.0f && out[1] == 4.0f);
    int counts[4] = { 0 };
    for (int i = 0; i < 10000; i++) {
        int32_t t = slm_sampler_sample(s, l);
        assert_true(t >= 1 && t < 4);
        counts[t]++;
    }
    assert_int_equal(counts[0], 0);
    assert_true(counts[1] > 0 && counts[2] > 0);
    slm_sampler_free(s);
    /* a positive bias moves greedy */
    p.temperature = 0.0f;
    val[0] = -INFINITY;
    val[1] = 10.0f;
    s = make(&p, 4);
    assert_int_equal(slm_sampler_sample(s, l), 3);
    slm_sampler_free(s);
    /* everything banned: -1, never a banned token */
    int32_t all[4] = { 0, 1, 2, 3 };
    float ban[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    p.bias_tokens = all;
    p.bias_values = ban;
    p.n_bias = 4;
    s = make(&p, 4);
    assert_int_equal(slm_sampler_sample(s, l), -1);
    slm_sampler_free(s);
    p.temperature = 1.0f;
    s = make(&p, 4);
    assert_int_equal(slm_sampler_sample(s, l), -1);
    assert_int_equal(slm_sampler_candidates(s, l, NULL, 0), 0);
    slm_sampler_free(s);
}

static void test_mask(void **state) {
    (void)state;
    enum { N = 70 };
    float l[N];
    for (int i = 0; i < N; i++) l[i] = (float)i * 0.01f;
    uint32_t allow[3] = { 0, 0, 0 };
    allow[0] |= 1u << 3;
    allow[2] |= 1u << (65 - 64);
    slm_sampler_params p = plain_params();
    slm_sampler *s = make(&p, N);
    int seen3 = 0, seen65 = 0;
    for (int i = 0; i < 2000; i++) {
        int32_t t = slm_sampler_sample_masked(s, l, allow);
        assert_true(t == 3 || t == 65);
        seen3 += t == 3;
        seen65 += t == 65;
    }
    assert_true(seen3 > 0 && seen65 > 0);
    slm_sampler_free(s);
    p.temperature = 0.0f;
    s = make(&p, N);
    assert_int_equal(slm_sampler_sample_masked(s, l, allow), 65);
    assert_int_equal(slm_sampler_sample(s, l), 69);
    slm_sampler_free(s);
}

/* ---- randomness -------------------------------------------------------- */

static void test_rng_known_answers(void **state) {
    (void)state;
    /* xoshiro256** from state {1, 2, 3, 4} (reference outputs) */
    slm_rng r = { { 1, 2, 3, 4 } };
    assert_true(slm_rng_next(&r) == 11520ULL);
    assert_true(slm_rng_next(&r) == 0ULL);
    assert_true(slm_rng_next(&r) == 1509978240ULL);
    assert_true(slm_rng_next(&r) == 1215971899390074240ULL);
    /* splitmix64(0) first output seeds s[0] */
    slm_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    double u = slm_rng_uniform(&r);
    assert_true(u >= 0.0 && u < 1.0);
}

static void draw_sequence(uint64_t seed, int32_t *out, int n) {
    enum { V = 50 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = sinf((float)i) * 2.0f;
    slm_sampler_params p;
    slm_sampler_params_default(&p);
    p.seed = seed;
    p.repeat_penalty = 1.1f; /* history feeds back into the draws */
    slm_sampler *s = make(&p, V);
    assert_true(slm_sampler_seed(s) == seed);
    for (int i = 0; i < n; i++) {
        out[i] = slm_sampler_sample(s, l);
        slm_sampler_accept(s, out[i]);
    }
    /* reset replays the same sequence */
    slm_sampler_reset(s);
    for (int i = 0; i < n; i++) {
        int32_t t = slm_sampler_sample(s, l);
        assert_int_equal(t, out[i]);
        slm_sampler_accept(s, t);
    }
    slm_sampler_free(s);
}

static void test_seed(void **state) {
    (void)state;
    enum { N = 300 };
    int32_t a[N], b[N], c[N];
    draw_sequence(42, a, N);
    draw_sequence(42, b, N);
    draw_sequence(43, c, N);
    assert_memory_equal(a, b, sizeof a);
    int diff = 0;
    for (int i = 0; i < N; i++) diff += a[i] != c[i];
    assert_true(diff > N / 10);
    /* random seeds: real values, and two samplers differ */
    slm_sampler *s1 = make(NULL, 10), *s2 = make(NULL, 10);
    assert_true(slm_sampler_seed(s1) != SLM_SEED_RANDOM);
    assert_true(slm_sampler_seed(s1) != slm_sampler_seed(s2));
    slm_sampler_free(s1);
    slm_sampler_free(s2);
}

static void check_distribution(float temperature) {
    enum { V = 8, DRAWS = 100000 };
    const float l[V] = { 1.0f, 0.5f, 2.0f, -1.0f, 0.0f, 1.5f, -0.5f, 0.25f };
    slm_sampler_params p = plain_params();
    p.temperature = temperature;
    p.seed = 7;
    slm_sampler *s = make(&p, V);
    int counts[V] = { 0 };
    for (int i = 0; i < DRAWS; i++) counts[slm_sampler_sample(s, l)]++;
    double z = 0.0;
    for (int i = 0; i < V; i++) z += exp(l[i] / temperature);
    for (int i = 0; i < V; i++) {
        double want = exp(l[i] / temperature) / z, got = (double)counts[i] / DRAWS;
        /* 5 standard deviations, about 0.7 percentage points at most */
        double tol = 5.0 * sqrt(want * (1.0 - want) / DRAWS) + 1e-4;
        if (fabs(got - want) > tol)
            fail_msg("T=%g token %d: got %.4f want %.4f", (double)temperature, i, got, want);
    }
    slm_sampler_free(s);
}

static void test_distribution(void **state) {
    (void)state;
    check_distribution(1.0f);
    check_distribution(0.5f);
    check_distribution(2.0f);
}

/* ---- logprobs ---------------------------------------------------------- */

static void test_logprobs(void **state) {
    (void)state;
    enum { V = 100 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = cosf((float)i * 0.7f) * 5.0f;
    l[17] = l[3]; /* a tie */
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        float lp = slm_logprob_of(l, V, i);
        assert_true(lp <= 0.0f);
        sum += exp(lp);
    }
    assert_float_equal(sum, 1.0, 1e-5);
    slm_logprob top[V + 5];
    assert_int_equal(slm_logprobs_top(l, V, V + 5, top), V); /* clamped */
    for (int i = 0; i < V; i++) {
        assert_float_equal(top[i].logprob, slm_logprob_of(l, V, top[i].token), 1e-6);
        if (i > 0) {
            assert_true(top[i - 1].logprob >= top[i].logprob);
            if (top[i - 1].logprob == top[i].logprob) assert_true(top[i - 1].token < top[i].token);
        }
    }
    slm_logprob t5[5];
    assert_int_equal(slm_logprobs_top(l, V, 5, t5), 5);
    assert_memory_equal(t5, top, sizeof t5);
    /* exact value on a hand case: log_softmax([0, log 3]) = log .25, log .75 */
    float two[2] = { 0.0f, logf(3.0f) };
    assert_float_equal(slm_logprob_of(two, 2, 0), logf(0.25f), 1e-6);
    assert_float_equal(slm_logprob_of(two, 2, 1), logf(0.75f), 1e-6);
    /* precision far below the best token */
    float far[2] = { 0.0f, -60.0f };
    assert_float_equal(slm_logprob_of(far, 2, 1), -60.0f, 1e-4);
    assert_true(slm_logprob_of(far, 2, 0) == 0.0f);
    /* bad arguments */
    assert_true(isinf(slm_logprob_of(l, V, V)) && slm_logprob_of(l, V, -1) < 0);
    assert_int_equal(slm_logprobs_top(l, 0, 5, t5), 0);
    assert_int_equal(slm_logprobs_top(l, V, 0, t5), 0);
    assert_int_equal(slm_logprobs_top(NULL, V, 5, t5), 0);
    assert_float_equal(slm_logprob_with_lse(l, V, 4, slm_logsumexp(l, V)), slm_logprob_of(l, V, 4), 0);
}

static void test_logprobs_nonfinite(void **state) {
    (void)state;
    float l[4] = { NAN, 1.0f, -INFINITY, 1.0f };
    assert_true(isinf(slm_logprob_of(l, 4, 0)) && slm_logprob_of(l, 4, 0) < 0);
    assert_float_equal(slm_logprob_of(l, 4, 1), logf(0.5f), 1e-6);
    slm_logprob top[4];
    assert_int_equal(slm_logprobs_top(l, 4, 4, top), 4);
    assert_int_equal(top[0].token, 1);
    assert_int_equal(top[1].token, 3);
    assert_true(isinf(top[2].logprob) && isinf(top[3].logprob));
    float inf2[3] = { INFINITY, 0.0f, INFINITY };
    assert_float_equal(slm_logprob_of(inf2, 3, 0), logf(0.5f), 1e-6);
    assert_true(isinf(slm_logprob_of(inf2, 3, 1)));
    float none[2] = { -INFINITY, NAN };
    assert_true(isinf(slm_logsumexp(none, 2)) && slm_logsumexp(none, 2) < 0);
    assert_true(isinf(slm_logprob_of(none, 2, 0)));
}

/* ---- bad input ----------------------------------------------------------- */

static void expect_invalid(const slm_sampler_params *p, int32_t n_vocab) {
    slm_sampler *s = (slm_sampler *)(uintptr_t)1;
    slm_error err = { 0 };
    assert_int_equal(slm_sampler_new(p, n_vocab, &s, &err), SLM_ERR_INVALID_ARG);
    assert_null(s);
    assert_true(strlen(err.msg) > 0);
}

static void test_invalid_params(void **state) {
    (void)state;
    slm_sampler_params p = plain_params();
    expect_invalid(&p, 0);
    expect_invalid(&p, -5);
    p.temperature = NAN;
    expect_invalid(&p, 10);
    p = plain_params();
    p.top_p = NAN;
    expect_invalid(&p, 10);
    p = plain_params();
    p.repeat_penalty = 0.0f;
    expect_invalid(&p, 10);
    p = plain_params();
    p.repeat_last_n = -2;
    expect_invalid(&p, 10);
    p.repeat_last_n = SLM_SAMPLE_MAX_WINDOW + 1;
    expect_invalid(&p, 10);
    p = plain_params();
    p.frequency_penalty = INFINITY;
    expect_invalid(&p, 10);
    p = plain_params();
    int32_t tok = 10;
    float val = 1.0f;
    p.bias_tokens = &tok;
    p.bias_values = &val;
    p.n_bias = 1;
    expect_invalid(&p, 10); /* token 10 in a vocabulary of 10 */
    tok = 2;
    val = NAN;
    expect_invalid(&p, 10);
    p = plain_params();
    p.n_bias = 3; /* NULL arrays */
    expect_invalid(&p, 10);
    assert_int_equal(slm_sampler_new(&p, 10, NULL, NULL), SLM_ERR_INVALID_ARG);
    /* top_k beyond the vocabulary is fine */
    p = plain_params();
    p.top_k = 1000000;
    slm_sampler *s = make(&p, 10);
    float l[10] = { 0 };
    int32_t t = slm_sampler_sample(s, l);
    assert_true(t >= 0 && t < 10);
    slm_sampler_free(s);
    /* NULL arguments */
    assert_int_equal(slm_sampler_sample(NULL, l), -1);
    slm_sampler_free(NULL);
    slm_sampler_accept(NULL, 1);
    slm_sampler_reset(NULL);
}

static void test_nonfinite_logits(void **state) {
    (void)state;
    slm_sampler_params p;
    slm_sampler_params_default(&p);
    p.seed = 5;
    p.repeat_penalty = 1.2f;
    slm_sampler *s = make(&p, 6);
    float nan_all[6] = { NAN, NAN, NAN, NAN, NAN, NAN };
    assert_int_equal(slm_sampler_sample(s, nan_all), -1);
    float mixed[6] = { NAN, 1.0f, NAN, 1.5f, -INFINITY, 0.5f };
    for (int i = 0; i < 1000; i++) {
        int32_t t = slm_sampler_sample(s, mixed);
        assert_true(t == 1 || t == 3 || t == 5);
        slm_sampler_accept(s, t);
    }
    float one_inf[6] = { 1.0f, INFINITY, NAN, 1e30f, -1e30f, 0.0f };
    for (int i = 0; i < 100; i++) assert_int_equal(slm_sampler_sample(s, one_inf), 1);
    float two_inf[6] = { INFINITY, 0.0f, INFINITY, 1.0f, 2.0f, 3.0f };
    int c0 = 0, c2 = 0;
    for (int i = 0; i < 1000; i++) {
        int32_t t = slm_sampler_sample(s, two_inf);
        assert_true(t == 0 || t == 2);
        c0 += t == 0;
        c2 += t == 2;
    }
    assert_true(c0 > 300 && c2 > 300);
    float huge[6] = { 3e38f, -3e38f, 3e38f, 0.0f, 1.0f, 2.0f };
    for (int i = 0; i < 100; i++) {
        int32_t t = slm_sampler_sample(s, huge);
        assert_true(t == 0 || t == 2);
    }
    slm_sampler_free(s);
}

/* Default settings on a Qwen-sized vocabulary: every draw is among the top
 * 40 (top_k 40 is first in the chain). */
static void test_large_vocab_defaults(void **state) {
    (void)state;
    enum { V = 151936 };
    float *l = malloc(V * sizeof *l);
    assert_non_null(l);
    slm_rng r;
    slm_rng_seed(&r, 3);
    for (int i = 0; i < V; i++) l[i] = (float)(slm_rng_uniform(&r) * 20.0 - 10.0);
    slm_logprob top[40];
    assert_int_equal(slm_logprobs_top(l, V, 40, top), 40);
    slm_sampler_params p;
    slm_sampler_params_default(&p);
    p.seed = 11;
    slm_sampler *s = make(&p, V);
    for (int i = 0; i < 50; i++) {
        int32_t t = slm_sampler_sample(s, l);
        bool in_top = false;
        for (int j = 0; j < 40; j++) in_top |= top[j].token == t;
        assert_true(in_top);
        assert_true(slm_logprob_of(l, V, t) >= top[39].logprob);
    }
    slm_sampler_free(s);
    free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_typical),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_p_min_p_large),
        cmocka_unit_test(test_penalties_exact),
        cmocka_unit_test(test_penalty_window),
        cmocka_unit_test(test_penalty_changes_greedy),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_rng_known_answers),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_logprobs_nonfinite),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_nonfinite_logits),
        cmocka_unit_test(test_large_vocab_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
