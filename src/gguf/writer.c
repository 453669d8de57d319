/* GGUF writer: collects metadata values (already serialised, one byte
 * string per key) and tensors (copied), then lays out a GGUF file in
 * memory: header, key/values, tensor infos, padding, and each tensor's data
 * at an offset that is a multiple of the alignment. Used to build test
 * fixtures, so it checks its arguments but lets a caller write unusual
 * files on purpose (any version number, any alignment, raw values). */
#include "slm/gguf.h"
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val; /* serialised value (what follows the type in the file) */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t n_dims;
    int64_t ne[SLM_GGUF_MAX_DIMS];
    uint32_t type;
    uint8_t *data;
    uint64_t nbytes;
} wtensor;

struct slm_gguf_writer {
    uint32_t version, alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

/* A growable byte buffer; after an allocation failure it only sets oom. */
typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->oom || n == 0) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) { b->oom = true; return; }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    if (src) memcpy(b->p + b->len, src, n);
    else memset(b->p + b->len, 0, n);
    b->len += n;
}

static void put_le(wbuf *b, uint64_t v, size_t size) {
    uint8_t bytes[8];
    for (size_t i = 0; i < size; i++) bytes[i] = (uint8_t)(v >> (8 * i));
    put(b, bytes, size);
}

static void put_str(wbuf *b, const char *s, size_t len) {
    put_le(b, len, 8);
    put(b, s, len);
}

static void pad_to(wbuf *b, uint32_t align) {
    size_t rem = b->len % align;
    if (rem) put(b, NULL, align - rem);
}

slm_gguf_writer *slm_gguf_writer_new(void) {
    slm_gguf_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->version = 3;
        w->alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    }
    return w;
}

void slm_gguf_writer_free(slm_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].val);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name), free(w->t[i].data);
    free(w->kv);
    free(w->t);
    free(w);
}

void slm_gguf_writer_set_version(slm_gguf_writer *w, uint32_t version) {
    if (w) w->version = version;
}

void slm_gguf_writer_set_alignment(slm_gguf_writer *w, uint32_t alignment) {
    if (w && alignment) w->alignment = alignment;
}

/* Grows a dynamic array of `size`-byte items to hold one more. */
static bool grow(void **items, size_t n, size_t *cap, size_t size) {
    if (n < *cap) return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = slm_malloc_array(nc, size);
    if (!p) return false;
    if (n) memcpy(p, *items, n * size);
    free(*items);
    *items = p;
    *cap = nc;
    return true;
}

slm_status slm_gguf_writer_set_raw(slm_gguf_writer *w, const char *key, slm_gguf_vtype type,
                                   const void *payload, size_t size) {
    if (!w || !key || (!payload && size)) return SLM_ERR_INVALID_ARG;
    uint8_t *val = malloc(size ? size : 1);
    if (!val) return SLM_ERR_NOMEM;
    if (size) memcpy(val, payload, size);
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) != 0) continue;
        free(w->kv[i].val);
        w->kv[i] = (wkv){w->kv[i].key, (uint32_t)type, val, size};
        return SLM_OK;
    }
    char *k = strdup(key);
    if (!k || !grow((void **)&w->kv, w->n_kv, &w->cap_kv, sizeof *w->kv)) {
        free(k);
        free(val);
        return SLM_ERR_NOMEM;
    }
    w->kv[w->n_kv++] = (wkv){k, (uint32_t)type, val, size};
    return SLM_OK;
}

/* The largest value of an integer type, for range checks. */
static bool int_range(slm_gguf_vtype t, bool *is_signed, uint64_t *max) {
    size_t size = gguf_vtype_size(t);
    if (!size || t == SLM_GGUF_BOOL || t == SLM_GGUF_FLOAT32 || t == SLM_GGUF_FLOAT64)
        return false;
    *is_signed = t == SLM_GGUF_INT8 || t == SLM_GGUF_INT16 || t == SLM_GGUF_INT32 ||
                 t == SLM_GGUF_INT64;
    *max = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
    if (*is_signed) *max >>= 1;
    return true;
}

static slm_status set_le(slm_gguf_writer *w, const char *key, slm_gguf_vtype t, uint64_t v) {
    wbuf b = {0};
    put_le(&b, v, gguf_vtype_size(t));
    slm_status st = b.oom ? SLM_ERR_NOMEM : slm_gguf_writer_set_raw(w, key, t, b.p, b.len);
    free(b.p);
    return st;
}

slm_status slm_gguf_writer_set_uint(slm_gguf_writer *w, const char *key, slm_gguf_vtype t,
                                    uint64_t v) {
    bool is_signed;
    uint64_t max;
    if (!int_range(t, &is_signed, &max) || v > max) return SLM_ERR_INVALID_ARG;
    return set_le(w, key, t, v);
}

slm_status slm_gguf_writer_set_int(slm_gguf_writer *w, const char *key, slm_gguf_vtype t,
                                   int64_t v) {
    bool is_signed;
    uint64_t max;
    if (!int_range(t, &is_signed, &max)) return SLM_ERR_INVALID_ARG;
    if (v >= 0 ? (uint64_t)v > max : (!is_signed || (uint64_t)(-(v + 1)) > max))
        return SLM_ERR_INVALID_ARG;
    return set_le(w, key, t, (uint64_t)v);
}

slm_status slm_gguf_writer_set_f32(slm_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return set_le(w, key, SLM_GGUF_FLOAT32, u);
}

slm_status slm_gguf_writer_set_f64(slm_gguf_writer *w, const char *key, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return set_le(w, key, SLM_GGUF_FLOAT64, u);
}

slm_status slm_gguf_writer_set_bool(slm_gguf_writer *w, const char *key, bool v) {
    return set_le(w, key, SLM_GGUF_BOOL, v ? 1 : 0);
}

slm_status slm_gguf_writer_set_str(slm_gguf_writer *w, const char *key, const char *v) {
    if (!v) return SLM_ERR_INVALID_ARG;
    wbuf b = {0};
    put_str(&b, v, strlen(v));
    slm_status st = b.oom ? SLM_ERR_NOMEM : slm_gguf_writer_set_raw(w, key, SLM_GGUF_STRING,
                                                                      b.p, b.len);
    free(b.p);
    return st;
}

slm_status slm_gguf_writer_set_arr(slm_gguf_writer *w, const char *key, slm_gguf_vtype elem,
                                   const void *data, uint64_t n) {
    size_t es = gguf_vtype_size(elem);
    uint64_t bytes;
    if (!es || !slm_mul_ok(n, es, &bytes) || bytes > SIZE_MAX - 12 || (!data && n))
        return SLM_ERR_INVALID_ARG;
    wbuf b = {0};
    put_le(&b, elem, 4);
    put_le(&b, n, 8);
    put(&b, data, (size_t)bytes);
    slm_status st = b.oom ? SLM_ERR_NOMEM : slm_gguf_writer_set_raw(w, key, SLM_GGUF_ARRAY,
                                                                      b.p, b.len);
    free(b.p);
    return st;
}

slm_status slm_gguf_writer_set_arr_str(slm_gguf_writer *w, const char *key,
                                       const char *const *strs, uint64_t n) {
    if (!strs && n) return SLM_ERR_INVALID_ARG;
    for (uint64_t i = 0; i < n; i++)
        if (!strs[i]) return SLM_ERR_INVALID_ARG;
    wbuf b = {0};
    put_le(&b, SLM_GGUF_STRING, 4);
    put_le(&b, n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(&b, strs[i], strlen(strs[i]));
    slm_status st = b.oom ? SLM_ERR_NOMEM : slm_gguf_writer_set_raw(w, key, SLM_GGUF_ARRAY,
                                                                      b.p, b.len);
    free(b.p);
    return st;
}

static bool tensor_args_ok(const slm_gguf_writer *w, const char *name, slm_dtype type,
                           uint32_t n_dims, const int64_t *ne, uint64_t nbytes) {
    if (!w || !name || !ne || !*name || strlen(name) > GGUF_MAX_NAME_LEN) return false;
    if (n_dims == 0 || n_dims > SLM_GGUF_MAX_DIMS || !slm_dtype_get((uint32_t)type)) return false;
    uint64_t bytes;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] <= 0) return false;
    if (!slm_dtype_row_size((uint32_t)type, (uint64_t)ne[0], &bytes)) return false;
    for (uint32_t d = 1; d < n_dims; d++)
        if (!slm_mul_ok(bytes, (uint64_t)ne[d], &bytes)) return false;
    if (bytes != nbytes || nbytes > SIZE_MAX) return false;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return false;
    return true;
}

slm_status slm_gguf_writer_add_tensor(slm_gguf_writer *w, const char *name, slm_dtype type,
                                      uint32_t n_dims, const int64_t *ne, const void *data,
                                      uint64_t nbytes) {
    if (!tensor_args_ok(w, name, type, n_dims, ne, nbytes)) return SLM_ERR_INVALID_ARG;
    wtensor t = {.name = strdup(name), .n_dims = n_dims, .type = (uint32_t)type,
                 .data = malloc((size_t)nbytes), .nbytes = nbytes};
    if (!t.name || !t.data || !grow((void **)&w->t, w->n_t, &w->cap_t, sizeof *w->t)) {
        free(t.name);
        free(t.data);
        return SLM_ERR_NOMEM;
    }
    for (uint32_t d = 0; d < SLM_GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    if (data) memcpy(t.data, data, (size_t)nbytes);
    else memset(t.data, 0, (size_t)nbytes);
    w->t[w->n_t++] = t;
    return SLM_OK;
}

static bool has_key(const slm_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return true;
    return false;
}

static void put_header(const slm_gguf_writer *w, wbuf *b) {
    bool add_align = w->alignment != SLM_GGUF_DEFAULT_ALIGNMENT &&
                     !has_key(w, "general.alignment");
    put(b, "GGUF", 4);
    put_le(b, w->version, 4);
    put_le(b, w->n_t, 8);
    put_le(b, w->n_kv + (add_align ? 1 : 0), 8);
    if (add_align) {
        put_str(b, "general.alignment", strlen("general.alignment"));
        put_le(b, SLM_GGUF_UINT32, 4);
        put_le(b, w->alignment, 4);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(b, w->kv[i].key, strlen(w->kv[i].key));
        put_le(b, w->kv[i].type, 4);
        put(b, w->kv[i].val, w->kv[i].len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(b, t->name, strlen(t->name));
        put_le(b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) put_le(b, (uint64_t)t->ne[d], 8);
        put_le(b, t->type, 4);
        put_le(b, off, 8);
        off += t->nbytes;
        off += (w->alignment - off % w->alignment) % w->alignment;
    }
}

slm_status slm_gguf_writer_write_memory(slm_gguf_writer *w, void **buf, size_t *size,
                                        slm_error *err) {
    if (!w || !buf || !size)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "gguf writer: NULL argument");
    wbuf b = {0};
    put_header(w, &b);
    pad_to(&b, w->alignment);
    for (size_t i = 0; i < w->n_t; i++) {
        put(&b, w->t[i].data, (size_t)w->t[i].nbytes);
        pad_to(&b, w->alignment);
    }
    if (b.oom) {
        free(b.p);
        return slm_error_set(err, SLM_ERR_NOMEM, "gguf writer: out of memory");
    }
    *buf = b.p ? b.p : malloc(1);
    *size = b.len;
    return *buf ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "gguf writer: out of memory");
}

slm_status slm_gguf_writer_write_file(slm_gguf_writer *w, const char *path, slm_error *err) {
    if (!path) return slm_error_set(err, SLM_ERR_INVALID_ARG, "gguf writer: NULL path");
    void *buf;
    size_t size;
    slm_status st = slm_gguf_writer_write_memory(w, &buf, &size, err);
    if (st) return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return slm_error_set(err, SLM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    bool ok = fwrite(buf, 1, size, f) == size;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    free(buf);
    if (!ok) return slm_error_set(err, SLM_ERR_IO, "%s: write failed: %s", path, strerror(e));
    return SLM_OK;
}
