/* Multi-sequence decoding on a real model (stories260K): sequences decoded
 * together in one batch give the same logits as decoded alone; truncating
 * a sequence and decoding again reproduces the logits (prefix reuse);
 * errors leave the context unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/model.h"

typedef struct fixture {
    slm_gguf *g;
    slm_model *m;
    slm_ops *ops;
    int n_vocab;
} fixture;

static const int32_t PROMPT_A[] = {1, 403, 407, 261, 378, 29, 72};
static const int32_t PROMPT_B[] = {1, 365, 2, 93, 400};

static int setup(void **state) {
    const char *dir = getenv("SLM_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir ? dir : "../shared");
    fixture *f = calloc(1, sizeof *f);
    slm_error err;
    if (slm_gguf_open(path, &f->g, &err) != SLM_OK) {
        fprintf(stderr, "SKIP: %s\n", err.msg);
        free(f);
        *state = NULL;
        return 0;
    }
    assert_int_equal(slm_model_load(f->g, &f->m, &err), SLM_OK);
    assert_int_equal(slm_ops_create(2, &f->ops, &err), SLM_OK);
    f->n_vocab = slm_model_hparams(f->m)->n_vocab;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    slm_ops_free(f->ops);
    slm_model_free(f->m);
    slm_gguf_close(f->g);
    free(f);
    return 0;
}

/* Logits of every position of tokens decoded alone, one call. */
static float *solo_logits(fixture *f, const int32_t *toks, int n) {
    slm_context *c;
    assert_int_equal(slm_context_new(f->m, f->ops, 64, 32, &c, NULL), SLM_OK);
    assert_int_equal(slm_decode(c, toks, n, true, NULL), SLM_OK);
    float *out = malloc((size_t)n * (size_t)f->n_vocab * sizeof(float));
    for (int i = 0; i < n; i++) memcpy(out + (size_t)i * f->n_vocab, slm_context_logits(c, i), (size_t)f->n_vocab * sizeof(float));
    slm_context_free(c);
    return out;
}

static void assert_close(const float *a, const float *b, int n, float tol) {
    float max = 0;
    for (int i = 0; i < n; i++) max = fmaxf(max, fabsf(a[i] - b[i]));
    if (max > tol) fail_msg("max |diff| %g > %g", max, tol);
}

static void test_interleaved_batch_matches_solo(void **state) {
    fixture *f = *state;
    if (!f) skip();
    const int na = 7, nb = 5;
    float *la = solo_logits(f, PROMPT_A, na), *lb = solo_logits(f, PROMPT_B, nb);
    slm_context *c;
    assert_int_equal(slm_context_new_multi(f->m, f->ops, 64, 32, 3, &c, NULL), SLM_OK);
    /* first 3 of A on seq 2 alone, then the rest of A interleaved with all of B on seq 0 */
    slm_batch b1 = {.n = 3, .tokens = PROMPT_A, .seq = (int32_t[]){2, 2, 2}, .logits = NULL};
    assert_int_equal(slm_decode_batch(c, &b1, NULL), SLM_OK);
    assert_close(slm_context_batch_logits(c, 2), la + 2 * f->n_vocab, f->n_vocab, 1e-5f);
    assert_null(slm_context_batch_logits(c, 0));
    int32_t toks[9], seq[9];
    bool want[9];
    int n = 0;
    for (int i = 0; i < nb || i + 3 < na; i++) {
        if (i < nb) { toks[n] = PROMPT_B[i]; seq[n] = 0; want[n++] = true; }
        if (i + 3 < na) { toks[n] = PROMPT_A[i + 3]; seq[n] = 2; want[n++] = true; }
    }
    slm_batch b2 = {.n = n, .tokens = toks, .seq = seq, .logits = want};
    assert_int_equal(slm_decode_batch(c, &b2, NULL), SLM_OK);
    int ia = 3, ib = 0;
    for (int i = 0; i < n; i++) {
        const float *want_l = seq[i] == 0 ? lb + (size_t)ib++ * f->n_vocab : la + (size_t)ia++ * f->n_vocab;
        assert_close(slm_context_batch_logits(c, i), want_l, f->n_vocab, 1e-5f);
    }
    assert_int_equal(slm_context_seq_pos(c, 0), nb);
    assert_int_equal(slm_context_seq_pos(c, 1), 0);
    assert_int_equal(slm_context_seq_pos(c, 2), na);
    slm_context_free(c);
    free(la);
    free(lb);
}

static void test_truncate_reuses_prefix(void **state) {
    fixture *f = *state;
    if (!f) skip();
    float *la = solo_logits(f, PROMPT_A, 7);
    slm_context *c;
    assert_int_equal(slm_context_new(f->m, f->ops, 64, 32, &c, NULL), SLM_OK);
    assert_int_equal(slm_decode(c, PROMPT_B, 5, false, NULL), SLM_OK);
    /* keep B's BOS (same as A's), then decode the rest of A */
    slm_context_truncate(c, 1);
    assert_int_equal(slm_context_n_past(c), 1);
    assert_int_equal(slm_decode(c, PROMPT_A + 1, 6, false, NULL), SLM_OK);
    assert_close(slm_context_logits(c, -1), la + 6 * f->n_vocab, f->n_vocab, 1e-5f);
    slm_context_free(c);
    free(la);
}

static void test_errors_leave_context_unchanged(void **state) {
    fixture *f = *state;
    if (!f) skip();
    slm_context *c;
    slm_error err;
    assert_int_equal(slm_context_new_multi(f->m, f->ops, 8, 4, 2, &c, NULL), SLM_OK);
    assert_int_equal(slm_decode(c, PROMPT_A, 7, false, NULL), SLM_OK);
    /* 7 + 2 > 8 */
    assert_int_equal(slm_decode(c, PROMPT_B, 2, false, &err), SLM_ERR_RANGE);
    assert_non_null(strstr(err.msg, "context"));
    assert_int_equal(slm_context_n_past(c), 7);
    slm_batch big = {.n = 5, .tokens = PROMPT_B, .seq = NULL, .logits = NULL};
    assert_int_equal(slm_decode_batch(c, &big, &err), SLM_ERR_INVALID_ARG); /* > n_batch */
    slm_batch bad_seq = {.n = 1, .tokens = PROMPT_B, .seq = (int32_t[]){2}, .logits = NULL};
    assert_int_equal(slm_decode_batch(c, &bad_seq, &err), SLM_ERR_INVALID_ARG);
    int32_t bad_tok = 100000;
    assert_int_equal(slm_decode(c, &bad_tok, 1, false, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_context_n_past(c), 7);
    assert_int_equal(slm_context_seq_pos(c, 1), 0);
    assert_int_equal(slm_context_seq_pos(c, 5), -1);
    /* still usable */
    assert_int_equal(slm_decode(c, PROMPT_B, 1, false, NULL), SLM_OK);
    assert_non_null(slm_context_logits(c, -1));
    slm_context_free(c);
    assert_int_equal(slm_context_new_multi(f->m, f->ops, 8, 4, 0, &c, &err), SLM_ERR_RANGE);
    assert_int_equal(slm_context_new_multi(f->m, f->ops, 1 << 24, 4, 256, &c, &err), SLM_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "memory"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved_batch_matches_solo),
        cmocka_unit_test(test_truncate_reuses_prefix),
        cmocka_unit_test(test_errors_leave_context_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
