/* libFuzzer target for the GGUF reader: parses the input with
 * slm_gguf_open_memory and, when it is accepted, walks every key/value,
 * every array element (nested arrays included) and every tensor, touching
 * the first and last byte of each tensor's data, so ASan sees any access
 * the reader's validation let through. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"

static volatile uint64_t sink;

static void walk_array(const slm_gguf_array *a, int depth) {
    for (uint64_t i = 0; i < a->n; i++) {
        int64_t iv;
        uint64_t uv;
        double fv;
        bool bv;
        slm_str s;
        slm_gguf_array sub;
        if (slm_gguf_arr_int(a, i, &iv)) sink += (uint64_t)iv;
        if (slm_gguf_arr_uint(a, i, &uv)) sink += uv;
        if (slm_gguf_arr_float(a, i, &fv)) sink += fv == fv;
        if (slm_gguf_arr_bool(a, i, &bv)) sink += bv;
        if (slm_gguf_arr_str(a, i, &s) && s.len)
            sink += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
        if (slm_gguf_arr_arr(a, i, &sub)) walk_array(&sub, depth + 1);
    }
    slm_gguf_array bad;
    if (slm_gguf_arr_arr(a, a->n, &bad)) abort(); /* index n must be rejected */
    const uint8_t *raw = slm_gguf_arr_data(a);
    if (raw && a->n) sink += raw[0];
}

static void walk_kv(const slm_gguf *g, int64_t i) {
    const char *key = slm_gguf_kv_key(g, i);
    if (!key || slm_gguf_find_key(g, key) != i) abort(); /* keys are unique */
    int64_t iv;
    double fv;
    bool bv;
    slm_str s;
    slm_gguf_array a;
    if (slm_gguf_kv_int(g, i, &iv)) sink += (uint64_t)iv;
    if (slm_gguf_kv_float(g, i, &fv)) sink += fv == fv;
    if (slm_gguf_kv_bool(g, i, &bv)) sink += bv;
    if (slm_gguf_kv_str(g, i, &s) && s.len) sink += (uint8_t)s.ptr[s.len - 1];
    if (slm_gguf_kv_arr(g, i, &a)) walk_array(&a, 0);
}

static void walk_tensor(const slm_gguf *g, int64_t i) {
    const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
    if (!t || slm_gguf_find_tensor(g, t->name) != t) abort();
    const uint8_t *d = t->data;
    if (t->nbytes) sink += d[0] + d[t->nbytes - 1];
    sink += slm_gguf_tensor_n_elements(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slm_gguf *g = NULL;
    slm_error err;
    if (slm_gguf_open_memory(data, size, "fuzz", &g, &err) != SLM_OK) {
        if (strncmp(err.msg, "fuzz: ", 6) != 0) abort(); /* messages name the input */
        return 0;
    }
    for (int64_t i = 0; i < slm_gguf_n_kv(g); i++) walk_kv(g, i);
    /* lookups of keys the engine asks for, present or not */
    int64_t iv;
    slm_str s;
    slm_gguf_array a;
    if (slm_gguf_get_int(g, "llama.block_count", &iv)) sink += (uint64_t)iv;
    if (slm_gguf_get_str(g, "general.architecture", &s) && s.len) sink += (uint8_t)s.ptr[0];
    if (slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &a)) sink += a.n;
    if (slm_gguf_find_key(g, "") != -1 || slm_gguf_find_tensor(g, "") != NULL) abort();
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) walk_tensor(g, i);
    slm_gguf_close(g);
    return 0;
}
