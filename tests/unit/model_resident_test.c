/* Weight residency (src/model/resident.c) on a real model (stories260K):
 * creating a context moves the matrices out of the file mapping into the
 * model's own anonymous buffer, once; the logits are bit-identical to those
 * computed with the weights left in the mapping (SLM_WEIGHTS=mmap) and to
 * those of a model opened from a memory buffer (copied from the buffer
 * instead of read from the file); the token embedding of an untied model
 * stays in the mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 29, 72, 365, 93};
#define N_PROMPT ((int)(sizeof PROMPT / sizeof PROMPT[0]))

static char g_path[4096];

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("SLM_SHARED_DIR");
    snprintf(g_path, sizeof g_path, "%s/models/stories260K.gguf", dir ? dir : "../shared");
    FILE *f = fopen(g_path, "rb");
    if (!f) {
        fprintf(stderr, "SKIP: %s not found\n", g_path);
        g_path[0] = 0;
        return 0;
    }
    fclose(f);
    return 0;
}

static bool in_range(const void *p, const void *lo, size_t len) {
    return (const uint8_t *)p >= (const uint8_t *)lo && (const uint8_t *)p < (const uint8_t *)lo + len;
}

/* All logits of the prompt with the model of g; *resident tells whether the
 * matrices moved into the model's buffer (checked on every layer). */
static float *prompt_logits(const slm_gguf *g, bool *resident) {
    slm_model *m = NULL;
    slm_ops *ops = NULL;
    slm_context *c = NULL, *c2 = NULL;
    assert_int_equal(slm_model_load(g, &m, NULL), SLM_OK);
    assert_int_equal(slm_ops_create(2, &ops, NULL), SLM_OK);
    const void *wq_before = m->layers[0].wq.data;
    assert_int_equal(slm_context_new(m, ops, 32, 16, &c, NULL), SLM_OK);
    void *map = m->resident_map;
    *resident = map != NULL;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const slm_layer *L = &m->layers[il];
        const void *ws[] = {L->wq.data, L->wk.data, L->wv.data, L->wo.data, L->w_gate.data, L->w_up.data,
                            L->w_down.data};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            assert_true(!ws[i] || in_range(ws[i], map, m->resident_len) == *resident);
    }
    assert_true(in_range(m->output.data, map, m->resident_len) == *resident);
    if (!m->hp.tied_output) assert_false(in_range(m->tok_embd.data, map, m->resident_len));
    assert_true((m->layers[0].wq.data != wq_before) == *resident);
    /* a second context changes nothing */
    const void *wq_after = m->layers[0].wq.data;
    assert_int_equal(slm_context_new(m, ops, 32, 16, &c2, NULL), SLM_OK);
    assert_ptr_equal(m->layers[0].wq.data, wq_after);
    assert_ptr_equal(m->resident_map, map);
    assert_int_equal(slm_decode(c, PROMPT, N_PROMPT, true, NULL), SLM_OK);
    const size_t nv = (size_t)m->hp.n_vocab;
    float *out = malloc(nv * N_PROMPT * sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < N_PROMPT; i++) memcpy(out + i * nv, slm_context_logits(c, i), nv * sizeof *out);
    slm_context_free(c2);
    slm_context_free(c);
    slm_ops_free(ops);
    slm_model_free(m);
    return out;
}

static size_t n_logits(const slm_gguf *g) {
    slm_model *m = NULL;
    assert_int_equal(slm_model_load(g, &m, NULL), SLM_OK);
    size_t n = (size_t)m->hp.n_vocab * N_PROMPT;
    slm_model_free(m);
    return n;
}

static void test_resident_same_logits(void **state) {
    (void)state;
    if (!g_path[0]) skip();
    slm_gguf *g = NULL;
    assert_int_equal(slm_gguf_open(g_path, &g, NULL), SLM_OK);
    bool resident;
    float *moved = prompt_logits(g, &resident);
    assert_true(resident); /* a tiny model always fits */

    setenv("SLM_WEIGHTS", "mmap", 1);
    float *mapped = prompt_logits(g, &resident);
    unsetenv("SLM_WEIGHTS");
    assert_false(resident);
    const size_t n = n_logits(g);
    assert_memory_equal(moved, mapped, n * sizeof(float));

    /* from a memory buffer: copied from the buffer, same logits */
    FILE *f = fopen(g_path, "rb");
    assert_non_null(f);
    uint64_t size = slm_gguf_file_size(g);
    uint8_t *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    slm_gguf *gm = NULL;
    assert_int_equal(slm_gguf_open_memory(buf, (size_t)size, "no-such-file.gguf", &gm, NULL), SLM_OK);
    float *from_mem = prompt_logits(gm, &resident);
    assert_true(resident);
    assert_memory_equal(moved, from_mem, n * sizeof(float));

    slm_gguf_close(gm);
    free(buf);
    free(moved);
    free(mapped);
    free(from_mem);
    slm_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resident_same_logits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
