/* Test helper: copies a GGUF file's metadata and tensors into a writer, so
 * a test can take a real model and add or change keys (e.g. give it a
 * chat template). Header-only; include from one *_test.c. */
#ifndef SLM_TESTS_GGUF_COPY_H
#define SLM_TESTS_GGUF_COPY_H

#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"

static char *gc_strdup(slm_str s) {
    char *p = malloc(s.len + 1);
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

static bool gc_copy_array(slm_gguf_writer *w, const char *key, const slm_gguf_array *a) {
    if (a->elem_type == SLM_GGUF_ARRAY) return false; /* nested: not needed by the tests */
    if (a->elem_type != SLM_GGUF_STRING)
        return slm_gguf_writer_set_arr(w, key, a->elem_type, slm_gguf_arr_data(a), a->n) == SLM_OK;
    char **strs = calloc(a->n ? a->n : 1, sizeof *strs);
    for (uint64_t i = 0; i < a->n; i++) {
        slm_str s;
        slm_gguf_arr_str(a, i, &s);
        strs[i] = gc_strdup(s);
    }
    bool ok = slm_gguf_writer_set_arr_str(w, key, (const char *const *)strs, a->n) == SLM_OK;
    for (uint64_t i = 0; i < a->n; i++) free(strs[i]);
    free(strs);
    return ok;
}

static bool gc_copy_kv(slm_gguf_writer *w, const slm_gguf *g, int64_t i) {
    const char *key = slm_gguf_kv_key(g, i);
    slm_gguf_vtype t = slm_gguf_kv_type(g, i);
    int64_t iv;
    uint64_t uv;
    double fv;
    bool bv;
    slm_str sv;
    slm_gguf_array av;
    switch (t) {
    case SLM_GGUF_UINT8: case SLM_GGUF_UINT16: case SLM_GGUF_UINT32: case SLM_GGUF_UINT64:
        return slm_gguf_kv_uint(g, i, &uv) && slm_gguf_writer_set_uint(w, key, t, uv) == SLM_OK;
    case SLM_GGUF_INT8: case SLM_GGUF_INT16: case SLM_GGUF_INT32: case SLM_GGUF_INT64:
        return slm_gguf_kv_int(g, i, &iv) && slm_gguf_writer_set_int(w, key, t, iv) == SLM_OK;
    case SLM_GGUF_FLOAT32:
        return slm_gguf_kv_float(g, i, &fv) && slm_gguf_writer_set_f32(w, key, (float)fv) == SLM_OK;
    case SLM_GGUF_FLOAT64:
        return slm_gguf_kv_float(g, i, &fv) && slm_gguf_writer_set_f64(w, key, fv) == SLM_OK;
    case SLM_GGUF_BOOL:
        return slm_gguf_kv_bool(g, i, &bv) && slm_gguf_writer_set_bool(w, key, bv) == SLM_OK;
    case SLM_GGUF_STRING: {
        if (!slm_gguf_kv_str(g, i, &sv)) return false;
        char *s = gc_strdup(sv);
        bool ok = slm_gguf_writer_set_str(w, key, s) == SLM_OK;
        free(s);
        return ok;
    }
    case SLM_GGUF_ARRAY:
        return slm_gguf_kv_arr(g, i, &av) && gc_copy_array(w, key, &av);
    default:
        return false;
    }
}

/* A writer holding everything in g (general.alignment is re-derived). */
static slm_gguf_writer *gguf_copy(const slm_gguf *g) {
    slm_gguf_writer *w = slm_gguf_writer_new();
    for (int64_t i = 0; i < slm_gguf_n_kv(g); i++) {
        if (strcmp(slm_gguf_kv_key(g, i), "general.alignment") == 0) continue;
        if (!gc_copy_kv(w, g, i)) {
            slm_gguf_writer_free(w);
            return NULL;
        }
    }
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        if (slm_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes) != SLM_OK) {
            slm_gguf_writer_free(w);
            return NULL;
        }
    }
    return w;
}

#endif
