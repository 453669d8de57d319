/* Forward pass of every supported architecture (llama, qwen2, qwen3, phi3)
 * against an independent double-precision reference (model_ref.c) on tiny
 * random models built in memory (model_fixture.h).
 *
 * Bounds (max |engine - reference| over all logits of all positions;
 * logits have magnitude ~1-6):
 *   F32 weights vs the exact reference ........ EXACT_TOL
 *   F32 weights vs the F16-attention reference  F16_TOL (slm rounds Q, K,
 *     V and the softmax weights to F16 like llama.cpp; the reference can
 *     do the same, which leaves only float-vs-double rounding)
 *   Q8_0 / Q4_K weights vs the reference on the dequantized weights:
 *     Q8_0_TOL / Q4_K_TOL (activations are quantized to Q8_0 / Q8_K
 *     before each product, like llama.cpp).
 * The values measured when this was written are printed by each test
 * and noted beside the bounds. Also tested: token-by-token decoding equals
 * batched prefill, tied vs separate output, internal batch splitting, and
 * the load/decode error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/model.h"
#include "unit/model_fixture.h"
#include "unit/model_ref.c"

/* Measured maxima (x86-64 AVX-512 and scalar, seed 1234) in comments. */
#define EXACT_TOL 2e-2      /* F32 weights vs exact: 0.0085 */
#define F16_TOL 5e-3        /* F32 weights vs like-engine: 0.0017 (1e-6 unless an F16 rounding flips) */
#define F16W_TOL 3e-2       /* F16 weights vs exact: 0.011 */
#define F16W_LIKE_TOL 1e-2  /* F16 weights vs like-engine: 0.0037 */
#define Q8_0_TOL 0.4        /* Q8_0 vs exact on dequantized weights: 0.19 */
#define Q8_0_LIKE_TOL 0.4   /* vs like-engine: 1e-6, or ~0.09 once a rounding flips */
#define Q4_K_TOL 0.5        /* Q4_K (n_embd 256) vs exact: 0.23 */
#define Q4_K_LIKE_TOL 0.5   /* vs like-engine: 2e-6, or ~0.14 once a rounding flips */
#define STEP_TOL 1e-4 /* token-by-token vs batched */

#define N_TOK 12
static const int32_t TOKENS[N_TOK] = {1, 17, 299, 42, 42, 5, 250, 128, 7, 0, 33, 180};
static const char *const ARCHS[] = {"llama", "qwen2", "qwen3", "phi3"};
#define N_ARCHS 4

static slm_ops *OPS;

static int setup(void **state) {
    (void)state;
    slm_error err;
    return slm_ops_create(2, &OPS, &err) == SLM_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    slm_ops_free(OPS);
    return 0;
}

/* ---- helpers ------------------------------------------------------ */
static void build(const fx_config *c, fx_model *fm) {
    if (!fx_build(c, fm)) fail_msg("cannot build the %s fixture", c->arch);
}

static slm_model *load_ok(const fx_model *fm) {
    slm_model *m = NULL;
    slm_error err;
    if (slm_model_load(fm->g, &m, &err) != SLM_OK) fail_msg("%s: %s", fm->cfg.arch, err.msg);
    return m;
}

static slm_context *context_ok(const slm_model *m, int n_ctx, int n_batch) {
    slm_context *c = NULL;
    slm_error err;
    if (slm_context_new(m, OPS, n_ctx, n_batch, &c, &err) != SLM_OK) fail_msg("%s", err.msg);
    return c;
}

static void decode_ok(slm_context *c, const int32_t *tok, int n, bool all) {
    slm_error err;
    if (slm_decode(c, tok, n, all, &err) != SLM_OK) fail_msg("decode: %s", err.msg);
}

/* All positions' logits of TOKENS from a fresh context, into out[N_TOK][V]. */
static void engine_logits(const fx_model *fm, float *out) {
    slm_model *m = load_ok(fm);
    slm_context *c = context_ok(m, 32, 0);
    decode_ok(c, TOKENS, N_TOK, true);
    const int V = fm->cfg.n_vocab;
    for (int t = 0; t < N_TOK; t++) {
        const float *l = slm_context_logits(c, t);
        assert_non_null(l);
        memcpy(out + (size_t)t * V, l, (size_t)V * sizeof(float));
    }
    assert_null(slm_context_logits(c, N_TOK));
    slm_context_free(c);
    slm_model_free(m);
}

/* llama.cpp's rounding: F16 attention inputs, quantized activations. */
#define REF_LIKE_ENGINE (REF_F16_ATTN | REF_QUANT_ACT)

static double *reference(const fx_model *fm, unsigned flags) {
    double *r = malloc((size_t)N_TOK * fm->cfg.n_vocab * sizeof *r);
    assert_non_null(r);
    assert_true(ref_forward(fm, TOKENS, N_TOK, flags, r));
    return r;
}

static int argmax_f(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Largest and second-largest of x. */
static void top2_d(const double *x, int n, int *best, double *gap) {
    int b = 0, s = -1;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[b]) {
            s = b;
            b = i;
        } else if (s < 0 || x[i] > x[s]) {
            s = i;
        }
    }
    *best = b;
    *gap = x[b] - x[s];
}

/* Max |engine - ref| over all positions, asserted below tol. Top-1:
 * the engine's argmax must equal the reference's wherever the reference's
 * top-2 gap exceeds 2 tol (the bound guarantees it there), and at least
 * min_agree positions must agree overall. */
static double compare(const char *what, const float *eng, const double *ref, int n_tok, int V, double tol,
                      int min_agree) {
    double worst = 0.0, max_abs = 0.0, sq = 0.0;
    int agree = 0;
    for (int t = 0; t < n_tok; t++) {
        const float *e = eng + (size_t)t * V;
        const double *r = ref + (size_t)t * V;
        for (int j = 0; j < V; j++) {
            const double d = fabs((double)e[j] - r[j]);
            if (!(d <= worst)) worst = d; /* NaN propagates */
            sq += d * d;
            if (fabs(r[j]) > max_abs) max_abs = fabs(r[j]);
        }
        int best;
        double gap;
        top2_d(r, V, &best, &gap);
        const int got = argmax_f(e, V);
        agree += got == best;
        if (gap > 2 * tol && got != best) fail_msg("%s: position %d top-1 %d, reference %d", what, t, got, best);
    }
    printf("  %-24s max|diff| %.3g (bound %.3g), rms %.2g, max|logit| %.2f, top-1 equal %d/%d\n", what, worst,
           tol, sqrt(sq / ((double)n_tok * V)), max_abs, agree, n_tok);
    if (!(worst < tol)) fail_msg("%s: max |diff| %g exceeds %g", what, worst, tol);
    /* Rounding noise is spread thin: the rms error stays well below the max. */
    if (!(sqrt(sq / ((double)n_tok * V)) < tol / 4)) fail_msg("%s: rms error above %g", what, tol / 4);
    if (agree < min_agree) fail_msg("%s: top-1 equal at %d positions, want >= %d", what, agree, min_agree);
    /* The fixture must give logits that make the comparison meaningful. */
    assert_true(max_abs > 1.0 && max_abs < 50.0);
    return worst;
}

/* Engine vs both references for one fixture. */
static void check_against_reference(const fx_config *cfg, double tol_exact, double tol_like, int min_agree) {
    fx_model fm;
    build(cfg, &fm);
    const int V = cfg->n_vocab;
    float *eng = malloc((size_t)N_TOK * V * sizeof *eng);
    assert_non_null(eng);
    engine_logits(&fm, eng);
    double *r = reference(&fm, REF_EXACT), *r16 = reference(&fm, REF_LIKE_ENGINE);
    char what[64];
    snprintf(what, sizeof what, "%s %s exact", cfg->arch, slm_dtype_name(cfg->wtype));
    compare(what, eng, r, N_TOK, V, tol_exact, min_agree);
    snprintf(what, sizeof what, "%s %s like-engine", cfg->arch, slm_dtype_name(cfg->wtype));
    compare(what, eng, r16, N_TOK, V, tol_like, min_agree);
    free(r);
    free(r16);
    free(eng);
    fx_free(&fm);
}

/* ---- hyper-parameters --------------------------------------------- */
static void test_hparams(void **state) {
    (void)state;
    const slm_arch want[N_ARCHS] = {SLM_ARCH_LLAMA, SLM_ARCH_QWEN2, SLM_ARCH_QWEN3, SLM_ARCH_PHI3};
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_for(ARCHS[a]);
        fx_model fm;
        build(&cfg, &fm);
        slm_model *m = load_ok(&fm);
        const slm_hparams *hp = slm_model_hparams(m);
        assert_int_equal(hp->arch, want[a]);
        assert_string_equal(hp->arch_name, ARCHS[a]);
        assert_int_equal(hp->n_vocab, cfg.n_vocab);
        assert_int_equal(hp->n_embd, cfg.n_embd);
        assert_int_equal(hp->n_layer, cfg.n_layer);
        assert_int_equal(hp->n_head, cfg.n_head);
        assert_int_equal(hp->n_head_kv, cfg.n_head_kv);
        assert_int_equal(hp->head_dim, cfg.head_dim); /* qwen3: 32 from key_length, not 64/4 */
        assert_int_equal(hp->n_ff, cfg.n_ff);
        assert_int_equal(hp->n_ctx_train, cfg.n_ctx_train);
        assert_true(hp->rope.neox == cfg.neox);
        assert_int_equal(hp->rope.n_dims, cfg.head_dim);
        assert_float_equal(hp->rope.freq_base, cfg.rope_base, 1e-3);
        assert_float_equal(hp->norm_eps, cfg.norm_eps, 1e-12);
        assert_false(hp->tied_output);
        slm_model_free(m);
        fx_free(&fm);
    }
}

/* ---- F32: every arch against the reference ------------------------ */
static void test_llama_f32(void **state) {
    (void)state;
    fx_config c = fx_config_for("llama");
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

static void test_qwen2_f32(void **state) {
    (void)state;
    fx_config c = fx_config_for("qwen2");
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

static void test_qwen3_f32(void **state) {
    (void)state;
    fx_config c = fx_config_for("qwen3");
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

static void test_phi3_f32(void **state) {
    (void)state;
    fx_config c = fx_config_for("phi3");
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

/* phi3 written with separate attn_q/k/v and ffn_gate/up also loads. */
static void test_phi3_unfused(void **state) {
    (void)state;
    fx_config c = fx_config_for("phi3");
    c.fused = false;
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

/* Multi-head attention (no GQA) and a different seed, for llama. */
static void test_llama_mha(void **state) {
    (void)state;
    fx_config c = fx_config_for("llama");
    c.n_head_kv = c.n_head;
    c.seed = 99;
    c.key_length = true;
    check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
}

/* Partial rotary: rope.dimension_count 8 < head_dim 16, both pairings. */
static void test_partial_rope(void **state) {
    (void)state;
    const char *archs[2] = {"llama", "qwen2"};
    for (int a = 0; a < 2; a++) {
        fx_config c = fx_config_for(archs[a]);
        c.n_rot = 8;
        check_against_reference(&c, EXACT_TOL, F16_TOL, N_TOK);
    }
}

/* ---- incremental decoding ----------------------------------------- */
/* One token at a time, and in uneven chunks, equals the batched prefill. */
static void test_incremental_matches_batch(void **state) {
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_for(ARCHS[a]);
        fx_model fm;
        build(&cfg, &fm);
        const int V = cfg.n_vocab;
        float *batch = malloc((size_t)N_TOK * V * sizeof *batch);
        assert_non_null(batch);
        engine_logits(&fm, batch);
        slm_model *m = load_ok(&fm);
        slm_context *c = context_ok(m, 32, 0);
        double worst = 0.0;
        for (int t = 0; t < N_TOK; t++) {
            decode_ok(c, TOKENS + t, 1, false);
            assert_int_equal(slm_context_n_past(c), t + 1);
            const float *l = slm_context_logits(c, -1);
            assert_non_null(l);
            for (int j = 0; j < V; j++) {
                const double d = fabs((double)l[j] - batch[(size_t)t * V + j]);
                if (!(d <= worst)) worst = d;
            }
        }
        /* Chunks 5 + 7 with all_logits: the second chunk's rows are positions 5..11. */
        slm_context_truncate(c, 0);
        assert_int_equal(slm_context_n_past(c), 0);
        decode_ok(c, TOKENS, 5, false);
        decode_ok(c, TOKENS + 5, N_TOK - 5, true);
        for (int t = 5; t < N_TOK; t++) {
            const float *l = slm_context_logits(c, t - 5);
            assert_non_null(l);
            for (int j = 0; j < V; j++) {
                const double d = fabs((double)l[j] - batch[(size_t)t * V + j]);
                if (!(d <= worst)) worst = d;
            }
        }
        printf("  %-6s token-by-token vs batched max|diff| %.3g (bound %.3g)\n", ARCHS[a], worst, STEP_TOL);
        if (!(worst < STEP_TOL)) fail_msg("%s: incremental differs from batched by %g", ARCHS[a], worst);
        slm_context_free(c);
        slm_model_free(m);
        free(batch);
        fx_free(&fm);
    }
}

/* A context with n_batch 5 splits a 12-token prompt internally: the last
 * logits still match the reference; all_logits beyond n_batch is refused;
 * a bad token in a later chunk fails the whole call and changes nothing. */
static void test_internal_batches(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("qwen2");
    fx_model fm;
    build(&cfg, &fm);
    double *r = reference(&fm, REF_LIKE_ENGINE);
    slm_model *m = load_ok(&fm);
    slm_context *c = context_ok(m, 32, 5);
    slm_error err;
    assert_int_equal(slm_decode(c, TOKENS, N_TOK, true, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_context_n_past(c), 0);
    int32_t bad[N_TOK];
    memcpy(bad, TOKENS, sizeof bad);
    bad[8] = cfg.n_vocab;
    assert_int_equal(slm_decode(c, bad, N_TOK, false, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_context_n_past(c), 0);
    decode_ok(c, TOKENS, N_TOK, false);
    assert_int_equal(slm_context_n_past(c), N_TOK);
    const float *l = slm_context_logits(c, -1);
    assert_non_null(l);
    compare("qwen2 n_batch=5 last", l, r + (size_t)(N_TOK - 1) * cfg.n_vocab, 1, cfg.n_vocab, F16_TOL, 1);
    /* TODO(model, known bug): after an slm_decode that was split into
     * chunks, slm_context_logits(c, i >= 0) indexes the entries of the
     * last internal chunk (context.c: slm_context_logits ->
     * slm_context_batch_logits), not the i-th token of the slm_decode call
     * as model.h documents: here i = 1 returns token 11's logits and
     * i = N_TOK - 1 returns NULL. Enable when fixed. */
#define CHECK_SPLIT_DECODE_LOGIT_INDEX 1
#if CHECK_SPLIT_DECODE_LOGIT_INDEX
    assert_null(slm_context_logits(c, 1));
    assert_ptr_equal(slm_context_logits(c, N_TOK - 1), l);
#endif
    slm_context_free(c);
    slm_model_free(m);
    free(r);
    fx_free(&fm);
}

/* Truncating the context and decoding other tokens overwrites the cache:
 * the logits equal a fresh run of the new sequence. */
static void test_truncate_redecode(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("phi3");
    fx_model fm;
    build(&cfg, &fm);
    int32_t seq[N_TOK];
    memcpy(seq, TOKENS, sizeof seq);
    for (int t = 6; t < N_TOK; t++) seq[t] = (TOKENS[t] * 7 + 11) % cfg.n_vocab;
    double *r = malloc((size_t)N_TOK * cfg.n_vocab * sizeof *r);
    assert_non_null(r);
    assert_true(ref_forward(&fm, seq, N_TOK, REF_LIKE_ENGINE, r));
    slm_model *m = load_ok(&fm);
    slm_context *c = context_ok(m, 32, 0);
    decode_ok(c, TOKENS, N_TOK, false);
    slm_context_truncate(c, 6);
    assert_int_equal(slm_context_n_past(c), 6);
    assert_null(slm_context_logits(c, -1));
    slm_context_truncate(c, 9); /* cannot grow */
    assert_int_equal(slm_context_n_past(c), 6);
    decode_ok(c, seq + 6, N_TOK - 6, true);
    compare("phi3 truncated + redecoded", slm_context_logits(c, 0), r + (size_t)6 * cfg.n_vocab, N_TOK - 6,
            cfg.n_vocab, F16_TOL, N_TOK - 6);
    slm_context_free(c);
    slm_model_free(m);
    free(r);
    fx_free(&fm);
}

/* Every output is one dot product whichever thread computes it, so the
 * thread count does not change a single bit. */
static void test_thread_count_invariance(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("qwen3");
    cfg.wtype = SLM_TYPE_Q8_0;
    fx_model fm;
    build(&cfg, &fm);
    slm_model *m = load_ok(&fm);
    float *first = malloc((size_t)N_TOK * cfg.n_vocab * sizeof *first);
    assert_non_null(first);
    const int threads[3] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        slm_ops *ops = NULL;
        slm_error err;
        assert_int_equal(slm_ops_create(threads[i], &ops, &err), SLM_OK);
        slm_context *c = NULL;
        assert_int_equal(slm_context_new(m, ops, 16, 0, &c, &err), SLM_OK);
        decode_ok(c, TOKENS, N_TOK, true);
        for (int t = 0; t < N_TOK; t++) {
            float *row = first + (size_t)t * cfg.n_vocab;
            if (i == 0) memcpy(row, slm_context_logits(c, t), (size_t)cfg.n_vocab * sizeof(float));
            else assert_memory_equal(row, slm_context_logits(c, t), (size_t)cfg.n_vocab * sizeof(float));
        }
        slm_context_free(c);
        slm_ops_free(ops);
    }
    free(first);
    slm_model_free(m);
    fx_free(&fm);
}

/* ---- output head -------------------------------------------------- */
static void test_tied_output(void **state) {
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_for(ARCHS[a]);
        cfg.tied = true;
        check_against_reference(&cfg, EXACT_TOL, F16_TOL, N_TOK);
        /* The flag, and that tied and separate heads really differ. */
        fx_model tied, sep;
        build(&cfg, &tied);
        cfg.tied = false;
        build(&cfg, &sep);
        slm_model *mt = load_ok(&tied), *ms = load_ok(&sep);
        assert_true(slm_model_hparams(mt)->tied_output);
        assert_false(slm_model_hparams(ms)->tied_output);
        /* One output matrix fewer in the parameter count. */
        assert_int_equal(slm_model_n_params(ms) - slm_model_n_params(mt), (uint64_t)cfg.n_vocab * cfg.n_embd);
        slm_context *ct = context_ok(mt, 16, 0), *cs = context_ok(ms, 16, 0);
        decode_ok(ct, TOKENS, 4, false);
        decode_ok(cs, TOKENS, 4, false);
        const float *lt = slm_context_logits(ct, -1), *ls = slm_context_logits(cs, -1);
        double diff = 0.0;
        for (int j = 0; j < cfg.n_vocab; j++) diff += fabs((double)lt[j] - ls[j]);
        assert_true(diff / cfg.n_vocab > 0.1);
        slm_context_free(ct);
        slm_context_free(cs);
        slm_model_free(mt);
        slm_model_free(ms);
        fx_free(&tied);
        fx_free(&sep);
    }
}

/* ---- quantized weights -------------------------------------------- */
static void test_f16(void **state) {
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_for(ARCHS[a]);
        cfg.wtype = SLM_TYPE_F16;
        check_against_reference(&cfg, F16W_TOL, F16W_LIKE_TOL, N_TOK - 1);
    }
}

static void test_q8_0(void **state) {
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_for(ARCHS[a]);
        cfg.wtype = SLM_TYPE_Q8_0;
        check_against_reference(&cfg, Q8_0_TOL, Q8_0_LIKE_TOL, N_TOK - 3);
    }
}

static void test_q4_k(void **state) {
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        fx_config cfg = fx_config_k_for(ARCHS[a]);
        cfg.wtype = SLM_TYPE_Q4_K;
        check_against_reference(&cfg, Q4_K_TOL, Q4_K_LIKE_TOL, N_TOK - 3);
    }
}

/* ---- load errors -------------------------------------------------- */
/* Loading fails with `code` and a message containing every `needles`. */
static void expect_load_error(const fx_config *cfg, slm_status code, const char *const *needles, int n) {
    fx_model fm;
    build(cfg, &fm);
    slm_model *m = NULL;
    slm_error err = {0};
    slm_status st = slm_model_load(fm.g, &m, &err);
    if (st != code) fail_msg("%s: status %s, want %s (%s)", cfg->arch, slm_status_name(st), slm_status_name(code), err.msg);
    assert_null(m);
    for (int i = 0; i < n; i++)
        if (!strstr(err.msg, needles[i])) fail_msg("error '%s' does not mention '%s'", err.msg, needles[i]);
    fx_free(&fm);
}

static void test_unsupported_arch(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("llama");
    cfg.arch = "gpt2";
    const char *n[] = {"gpt2", "llama", "qwen2", "qwen3", "phi3"};
    expect_load_error(&cfg, SLM_ERR_UNSUPPORTED, n, 5);
}

static void test_bad_head_counts(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("llama");
    cfg.n_head_kv = 3; /* 4 heads cannot share 3 KV heads */
    const char *n1[] = {"head_count_kv"};
    expect_load_error(&cfg, SLM_ERR_FORMAT, n1, 1);
    cfg = fx_config_for("qwen3");
    cfg.key_length = false; /* head_dim falls back to 64/4 = 16: tensor shapes disagree */
    cfg.n_rot = 16;
    const char *n2[] = {"blk.0.attn_q.weight"};
    expect_load_error(&cfg, SLM_ERR_FORMAT, n2, 1);
}

static void test_missing_tensor(void **state) {
    (void)state;
    struct { const char *arch, *name; } cases[] = {
        {"llama", "blk.2.ffn_down.weight"},
        {"llama", "token_embd.weight"},
        {"llama", "output_norm.weight"},
        {"qwen2", "blk.1.attn_k.bias"},      /* qwen2 needs its biases */
        {"qwen3", "blk.0.attn_k_norm.weight"}, /* qwen3 needs its q/k norms */
        {"phi3", "blk.1.attn_qkv.weight"},  /* neither fused nor separate */
        {"phi3", "blk.0.ffn_up.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_config cfg = fx_config_for(cases[i].arch);
        cfg.omit = cases[i].name;
        /* phi3 without attn_qkv falls back to attn_q, which is what is reported missing. */
        const char *want = strcmp(cases[i].name, "blk.1.attn_qkv.weight") == 0 ? "blk.1.attn_q" : cases[i].name;
        const char *n[] = {want, "missing"};
        expect_load_error(&cfg, SLM_ERR_FORMAT, n, 2);
    }
}

static void test_wrong_shape(void **state) {
    (void)state;
    struct { const char *arch, *name; } cases[] = {
        {"llama", "blk.0.attn_k.weight"},
        {"llama", "blk.1.ffn_gate.weight"},
        {"llama", "output.weight"},
        {"llama", "blk.2.attn_norm.weight"},
        {"qwen2", "blk.0.attn_v.bias"},
        {"qwen3", "blk.1.attn_q_norm.weight"},
        {"phi3", "blk.0.attn_qkv.weight"},
        {"phi3", "blk.2.ffn_up.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_config cfg = fx_config_for(cases[i].arch);
        cfg.misshape = cases[i].name;
        const char *n[] = {cases[i].name};
        expect_load_error(&cfg, SLM_ERR_FORMAT, n, 1);
    }
}

/* ---- decode errors ------------------------------------------------ */
static void test_context_overflow(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("qwen3");
    fx_model fm;
    build(&cfg, &fm);
    double *r = reference(&fm, REF_LIKE_ENGINE);
    slm_model *m = load_ok(&fm);
    slm_context *c = context_ok(m, 8, 0);
    assert_int_equal(slm_context_n_ctx(c), 8);
    slm_error err;
    /* 12 tokens into 8: refused, nothing changes. */
    assert_int_equal(slm_decode(c, TOKENS, N_TOK, false, &err), SLM_ERR_RANGE);
    assert_int_equal(slm_context_n_past(c), 0);
    /* 5 fit, then 4 more do not; the context stays at 5 and goes on. */
    decode_ok(c, TOKENS, 5, false);
    assert_int_equal(slm_decode(c, TOKENS + 5, 4, false, &err), SLM_ERR_RANGE);
    assert_int_equal(slm_context_n_past(c), 5);
    decode_ok(c, TOKENS + 5, 3, true);
    assert_int_equal(slm_context_n_past(c), 8);
    for (int t = 5; t < 8; t++)
        compare("qwen3 after overflow", slm_context_logits(c, t - 5), r + (size_t)t * cfg.n_vocab, 1, cfg.n_vocab, F16_TOL, 1);
    /* Full: even one token is refused. */
    assert_int_equal(slm_decode(c, TOKENS, 1, false, &err), SLM_ERR_RANGE);
    assert_int_equal(slm_context_n_past(c), 8);
    slm_context_free(c);
    slm_model_free(m);
    free(r);
    fx_free(&fm);
}

static void test_token_out_of_range(void **state) {
    (void)state;
    fx_config cfg = fx_config_for("llama");
    fx_model fm;
    build(&cfg, &fm);
    slm_model *m = load_ok(&fm);
    slm_context *c = context_ok(m, 16, 0);
    slm_error err;
    const int32_t bad_hi[3] = {1, cfg.n_vocab, 2}, bad_lo[2] = {-1, 3};
    assert_int_equal(slm_decode(c, bad_hi, 3, false, &err), SLM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "300"));
    assert_int_equal(slm_decode(c, bad_lo, 2, false, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_context_n_past(c), 0);
    assert_int_equal(slm_decode(c, TOKENS, 0, false, &err), SLM_ERR_INVALID_ARG);
    const int32_t last = cfg.n_vocab - 1;
    decode_ok(c, &last, 1, false);
    assert_int_equal(slm_context_n_past(c), 1);
    slm_context_free(c);
    slm_model_free(m);
    fx_free(&fm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hparams),
        cmocka_unit_test(test_llama_f32),
        cmocka_unit_test(test_qwen2_f32),
        cmocka_unit_test(test_qwen3_f32),
        cmocka_unit_test(test_phi3_f32),
        cmocka_unit_test(test_phi3_unfused),
        cmocka_unit_test(test_llama_mha),
        cmocka_unit_test(test_partial_rope),
        cmocka_unit_test(test_incremental_matches_batch),
        cmocka_unit_test(test_truncate_redecode),
        cmocka_unit_test(test_thread_count_invariance),
        cmocka_unit_test(test_internal_batches),
        cmocka_unit_test(test_tied_output),
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q4_k),
        cmocka_unit_test(test_unsupported_arch),
        cmocka_unit_test(test_bad_head_counts),
        cmocka_unit_test(test_missing_tensor),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_context_overflow),
        cmocka_unit_test(test_token_out_of_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
