/* Accessors of an opened GGUF: header fields, metadata by index or key,
 * array elements and tensors. Everything they read was validated by the
 * reader, and every index is range-checked here, so they cannot read
 * outside the buffer. Integers are decoded from little-endian bytes with
 * no alignment assumption. */
#include "gguf/gguf_internal.h"

#include <string.h>

const char *slm_gguf_path(const slm_gguf *g) { return g ? g->path : NULL; }
uint32_t slm_gguf_version(const slm_gguf *g) { return g ? g->version : 0; }
uint64_t slm_gguf_file_size(const slm_gguf *g) { return g ? g->size : 0; }
uint32_t slm_gguf_alignment(const slm_gguf *g) { return g ? g->alignment : 0; }
uint64_t slm_gguf_data_offset(const slm_gguf *g) { return g ? g->data_offset : 0; }
int64_t slm_gguf_n_kv(const slm_gguf *g) { return g ? g->n_kv : 0; }
int64_t slm_gguf_n_tensors(const slm_gguf *g) { return g ? g->n_tensors : 0; }

static const gguf_kv *kv_at(const slm_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const char *slm_gguf_kv_key(const slm_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

slm_gguf_vtype slm_gguf_kv_type(const slm_gguf *g, int64_t i) {
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : SLM_GGUF_VTYPE_COUNT;
}

int64_t slm_gguf_find_key(const slm_gguf *g, const char *key) {
    return g ? gguf_index_find(&g->kv_index, key) : -1;
}

/* An integer decoded from any integer value type: signed types fill s,
 * unsigned types fill u. */
typedef struct int_val {
    bool is_signed;
    int64_t s;
    uint64_t u;
} int_val;

static bool decode_int(uint32_t t, const uint8_t *p, int_val *v) {
    *v = (int_val){0};
    switch (t) {
    case SLM_GGUF_UINT8: v->u = p[0]; return true;
    case SLM_GGUF_UINT16: v->u = (uint64_t)p[0] | (uint64_t)p[1] << 8; return true;
    case SLM_GGUF_UINT32: v->u = gguf_le32(p); return true;
    case SLM_GGUF_UINT64: v->u = gguf_le64(p); return true;
    case SLM_GGUF_INT8: v->s = (int8_t)p[0]; break;
    case SLM_GGUF_INT16: v->s = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case SLM_GGUF_INT32: v->s = (int32_t)gguf_le32(p); break;
    case SLM_GGUF_INT64: v->s = (int64_t)gguf_le64(p); break;
    default: return false;
    }
    v->is_signed = true;
    return true;
}

static bool as_int(uint32_t t, const uint8_t *p, int64_t *out) {
    int_val v;
    if (!decode_int(t, p, &v)) return false;
    if (!v.is_signed && v.u > INT64_MAX) return false;
    *out = v.is_signed ? v.s : (int64_t)v.u;
    return true;
}

static bool as_uint(uint32_t t, const uint8_t *p, uint64_t *out) {
    int_val v;
    if (!decode_int(t, p, &v)) return false;
    if (v.is_signed && v.s < 0) return false;
    *out = v.is_signed ? (uint64_t)v.s : v.u;
    return true;
}

static bool as_float(uint32_t t, const uint8_t *p, double *out) {
    if (t == SLM_GGUF_FLOAT32) {
        uint32_t u = gguf_le32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        *out = f;
        return true;
    }
    if (t == SLM_GGUF_FLOAT64) {
        uint64_t u = gguf_le64(p);
        memcpy(out, &u, sizeof *out);
        return true;
    }
    return false;
}

bool slm_gguf_kv_int(const slm_gguf *g, int64_t i, int64_t *out) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && as_int(kv->type, kv->val, out);
}

bool slm_gguf_kv_uint(const slm_gguf *g, int64_t i, uint64_t *out) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && as_uint(kv->type, kv->val, out);
}

bool slm_gguf_kv_float(const slm_gguf *g, int64_t i, double *out) {
    const gguf_kv *kv = kv_at(g, i);
    return kv && as_float(kv->type, kv->val, out);
}

bool slm_gguf_kv_bool(const slm_gguf *g, int64_t i, bool *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != SLM_GGUF_BOOL) return false;
    *out = kv->val[0] != 0;
    return true;
}

bool slm_gguf_kv_str(const slm_gguf *g, int64_t i, slm_str *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != SLM_GGUF_STRING) return false;
    *out = kv->str;
    return true;
}

bool slm_gguf_kv_arr(const slm_gguf *g, int64_t i, slm_gguf_array *out) {
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || kv->type != SLM_GGUF_ARRAY) return false;
    *out = (slm_gguf_array){(slm_gguf_vtype)kv->arr.elem_type, kv->arr.n, &kv->arr};
    return true;
}

bool slm_gguf_get_int(const slm_gguf *g, const char *key, int64_t *out) {
    return slm_gguf_kv_int(g, slm_gguf_find_key(g, key), out);
}
bool slm_gguf_get_uint(const slm_gguf *g, const char *key, uint64_t *out) {
    return slm_gguf_kv_uint(g, slm_gguf_find_key(g, key), out);
}
bool slm_gguf_get_float(const slm_gguf *g, const char *key, double *out) {
    return slm_gguf_kv_float(g, slm_gguf_find_key(g, key), out);
}
bool slm_gguf_get_bool(const slm_gguf *g, const char *key, bool *out) {
    return slm_gguf_kv_bool(g, slm_gguf_find_key(g, key), out);
}
bool slm_gguf_get_str(const slm_gguf *g, const char *key, slm_str *out) {
    return slm_gguf_kv_str(g, slm_gguf_find_key(g, key), out);
}
bool slm_gguf_get_arr(const slm_gguf *g, const char *key, slm_gguf_array *out) {
    return slm_gguf_kv_arr(g, slm_gguf_find_key(g, key), out);
}

/* The element i of a fixed-size-element array, or NULL. */
static const uint8_t *elem_at(const slm_gguf_array *a, uint64_t i) {
    if (!a || !a->impl) return NULL;
    const gguf_arr *x = a->impl;
    size_t es = gguf_vtype_size(x->elem_type);
    return es && i < x->n ? x->data + i * es : NULL;
}

bool slm_gguf_arr_int(const slm_gguf_array *a, uint64_t i, int64_t *out) {
    const uint8_t *p = elem_at(a, i);
    return p && as_int(((const gguf_arr *)a->impl)->elem_type, p, out);
}

bool slm_gguf_arr_uint(const slm_gguf_array *a, uint64_t i, uint64_t *out) {
    const uint8_t *p = elem_at(a, i);
    return p && as_uint(((const gguf_arr *)a->impl)->elem_type, p, out);
}

bool slm_gguf_arr_float(const slm_gguf_array *a, uint64_t i, double *out) {
    const uint8_t *p = elem_at(a, i);
    return p && as_float(((const gguf_arr *)a->impl)->elem_type, p, out);
}

bool slm_gguf_arr_bool(const slm_gguf_array *a, uint64_t i, bool *out) {
    const uint8_t *p = elem_at(a, i);
    if (!p || ((const gguf_arr *)a->impl)->elem_type != SLM_GGUF_BOOL) return false;
    *out = p[0] != 0;
    return true;
}

bool slm_gguf_arr_str(const slm_gguf_array *a, uint64_t i, slm_str *out) {
    if (!a || !a->impl) return false;
    const gguf_arr *x = a->impl;
    if (x->elem_type != SLM_GGUF_STRING || i >= x->n) return false;
    out->ptr = (const char *)x->data + x->str_off[i] + GGUF_MIN_STR_SIZE;
    out->len = x->str_off[i + 1] - x->str_off[i] - GGUF_MIN_STR_SIZE;
    return true;
}

bool slm_gguf_arr_arr(const slm_gguf_array *a, uint64_t i, slm_gguf_array *out) {
    if (!a || !a->impl) return false;
    const gguf_arr *x = a->impl;
    if (x->elem_type != SLM_GGUF_ARRAY || i >= x->n) return false;
    const gguf_arr *s = &x->sub[i];
    *out = (slm_gguf_array){(slm_gguf_vtype)s->elem_type, s->n, s};
    return true;
}

const void *slm_gguf_arr_data(const slm_gguf_array *a) {
    if (!a || !a->impl) return NULL;
    const gguf_arr *x = a->impl;
    return gguf_vtype_size(x->elem_type) ? x->data : NULL;
}

const slm_gguf_tensor *slm_gguf_tensor_at(const slm_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const slm_gguf_tensor *slm_gguf_find_tensor(const slm_gguf *g, const char *name) {
    return g ? slm_gguf_tensor_at(g, gguf_index_find(&g->tensor_index, name)) : NULL;
}

uint64_t slm_gguf_tensor_n_elements(const slm_gguf_tensor *t) {
    if (!t) return 0;
    uint64_t n = 1;
    for (int d = 0; d < SLM_GGUF_MAX_DIMS; d++) n *= (uint64_t)t->ne[d]; /* checked at open */
    return n;
}

const char *slm_gguf_vtype_name(slm_gguf_vtype t) {
    static const char *const names[SLM_GGUF_VTYPE_COUNT] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    return (unsigned)t < SLM_GGUF_VTYPE_COUNT ? names[t] : "unknown";
}
