/* Parsing of GGUF metadata values. Fixed-size values and arrays of them
 * are only bounds-checked (their bytes stay in the mapping); arrays of
 * strings get an index of n+1 element offsets and arrays of arrays get one
 * gguf_arr per element. Before allocating, the element count is checked
 * against the bytes left divided by the smallest possible element, so an
 * index is never larger than a small multiple of the file. */
#include "gguf/gguf_internal.h"

#include <inttypes.h>
#include <stdlib.h>

static slm_status nomem(gguf_rd *r, uint64_t at, uint64_t n) {
    return slm_error_set(r->err, SLM_ERR_NOMEM, "%s: offset %" PRIu64
                         ": cannot allocate an index for %" PRIu64 " elements", r->name, at, n);
}

static slm_status parse_str_array(gguf_rd *r, gguf_arr *a, uint64_t at) {
    uint64_t n = a->n;
    if (n > gguf_left(r) / GGUF_MIN_STR_SIZE)
        return gguf_fail(r, at, "array of %" PRIu64 " strings cannot fit in the %" PRIu64
                         " bytes left", n, gguf_left(r));
    uint64_t *off = slm_malloc_array((size_t)n + 1, sizeof *off);
    if (!off) return nomem(r, at, n);
    uint64_t start = r->pos;
    for (uint64_t i = 0; i < n; i++) {
        slm_str s;
        off[i] = r->pos - start;
        slm_status st = gguf_read_str(r, "array string", &s);
        if (st) {
            free(off);
            return st;
        }
    }
    off[n] = r->pos - start;
    a->str_off = off;
    return SLM_OK;
}

static slm_status parse_nested(gguf_rd *r, gguf_arr *a, uint64_t at, int depth) {
    uint64_t n = a->n;
    if (depth >= GGUF_MAX_NESTING)
        return gguf_fail(r, at, "arrays nested deeper than %d levels", GGUF_MAX_NESTING);
    if (n > gguf_left(r) / GGUF_MIN_ARR_SIZE)
        return gguf_fail(r, at, "array of %" PRIu64 " arrays cannot fit in the %" PRIu64
                         " bytes left", n, gguf_left(r));
    gguf_arr *sub = slm_calloc_array((size_t)n, sizeof *sub);
    if (!sub) return nomem(r, at, n);
    for (uint64_t i = 0; i < n; i++) {
        slm_status st = gguf_parse_array(r, &sub[i], depth + 1);
        if (st) {
            for (uint64_t j = 0; j < i; j++) gguf_arr_free(&sub[j]);
            free(sub);
            return st;
        }
    }
    a->sub = sub;
    return SLM_OK;
}

slm_status gguf_parse_array(gguf_rd *r, gguf_arr *a, int depth) {
    uint64_t at = r->pos, n;
    uint32_t et;
    *a = (gguf_arr){0};
    slm_status st = gguf_read_u32(r, "array element type", &et);
    if (st) return st;
    if (et >= SLM_GGUF_VTYPE_COUNT) return gguf_fail(r, at, "unknown array element type %u", et);
    uint64_t count_at = r->pos;
    if ((st = gguf_read_u64(r, "array length", &n))) return st;
    gguf_arr tmp = {.elem_type = et, .n = n, .data = r->base + r->pos};
    size_t es = gguf_vtype_size(et);
    if (es) {
        uint64_t bytes;
        if (!slm_mul_ok(n, es, &bytes) || bytes > gguf_left(r))
            return gguf_fail(r, count_at, "array of %" PRIu64 " %s elements does not fit in the %"
                             PRIu64 " bytes left", n, slm_gguf_vtype_name(et), gguf_left(r));
        r->pos += bytes;
    } else if (et == SLM_GGUF_STRING) {
        st = parse_str_array(r, &tmp, count_at);
    } else {
        st = parse_nested(r, &tmp, count_at, depth);
    }
    if (st == SLM_OK) *a = tmp;
    return st;
}

void gguf_arr_free(gguf_arr *a) {
    if (a->sub)
        for (uint64_t i = 0; i < a->n; i++) gguf_arr_free(&a->sub[i]);
    free(a->sub);
    free(a->str_off);
    a->sub = NULL;
    a->str_off = NULL;
}

slm_status gguf_parse_value(gguf_rd *r, uint32_t t, gguf_kv *kv) {
    kv->type = (slm_gguf_vtype)t;
    kv->val_off = r->pos;
    kv->val = r->base + r->pos;
    size_t size = gguf_vtype_size(t);
    if (size) {
        if (size > gguf_left(r))
            return gguf_fail(r, r->pos, "file ends inside a %s value", slm_gguf_vtype_name(t));
        r->pos += size;
        return SLM_OK;
    }
    if (t == SLM_GGUF_STRING) return gguf_read_str(r, "string value", &kv->str);
    return gguf_parse_array(r, &kv->arr, 0);
}
