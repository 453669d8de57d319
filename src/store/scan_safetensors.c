/* safetensors scanner for `slm scan`. The format holds no code, but a
 * malformed header is how a reader is attacked (huge header lengths,
 * offsets past the end, overlapping tensors that alias each other), so the
 * whole layout is checked:
 *   u64 N (little-endian, bounded), N bytes of JSON: an object mapping
 *   tensor names to {"dtype", "shape", "data_offsets": [begin, end]} plus
 *   an optional "__metadata__" object of strings; then the byte buffer.
 *   Offsets are relative to the buffer; each range must hold exactly
 *   product(shape) x dtype size bytes, and the ranges sorted by begin must
 *   tile the buffer: no overlap, no hole, nothing left over.
 * slm loads GGUF only, so a valid file is UNSUPPORTED, a broken one UNSAFE. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef struct st_range {
    uint64_t begin, end;
    const char *name;
} st_range;

static int dtype_size(const char *d) {
    static const struct { const char *name; int size; } T[] = {
        {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2},
        {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8},
        {"U64", 8}, {"C64", 8},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(T[i].name, d) == 0) return T[i].size;
    return 0;
}

static bool json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Checks one tensor entry; fills r. False with a finding. */
static bool check_tensor(const char *name, const json_t *t, uint64_t data_size, st_range *r, slm_scan_report *rep) {
    const json_t *dt = json_object_get(t, "dtype"), *shape = json_object_get(t, "shape"),
                 *offs = json_object_get(t, "data_offsets");
    if (!json_is_object(t) || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
        json_array_size(offs) != 2)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' lacks dtype/shape/data_offsets",
                              name), false;
    if (json_object_size(t) != 3)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' has unexpected fields", name);
    int es = dtype_size(json_string_value(dt));
    if (!es)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' has unknown dtype '%.20s'", name,
                              json_string_value(dt)), false;
    uint64_t n = 1, d;
    for (size_t i = 0; i < json_array_size(shape); i++)
        if (!json_u64(json_array_get(shape, i), &d) || !slm_mul_ok(n, d, &n))
            return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' has a bad shape", name), false;
    if (!json_u64(json_array_get(offs, 0), &r->begin) || !json_u64(json_array_get(offs, 1), &r->end) ||
        r->end < r->begin || r->end > data_size)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' has offsets outside the data "
                              "(%llu bytes)", name, (unsigned long long)data_size), false;
    uint64_t bytes;
    if (!slm_mul_ok(n, (uint64_t)es, &bytes) || bytes != r->end - r->begin)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s': shape x dtype size != its byte "
                              "range %llu..%llu", name, (unsigned long long)r->begin,
                              (unsigned long long)r->end), false;
    r->name = name;
    return true;
}

static int by_begin(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* The sorted ranges must tile [0, data_size). */
static void check_layout(st_range *r, size_t n, uint64_t data_size, slm_scan_report *rep) {
    qsort(r, n, sizeof *r, by_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].begin < at)
            return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: tensor '%.80s' overlaps the previous one",
                                  r[i].name);
        if (r[i].begin > at)
            return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: %llu unindexed bytes before tensor '%.80s'",
                                  (unsigned long long)(r[i].begin - at), r[i].name);
        at = r[i].end;
    }
    if (at != data_size)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: %llu bytes after the last tensor are not indexed",
                       (unsigned long long)(data_size - at));
}

static void check_metadata(const json_t *m, slm_scan_report *rep) {
    const char *k;
    const json_t *v;
    if (!json_is_object(m)) return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: __metadata__ is not an object");
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: __metadata__ value '%.80s' is not a string", k);
    }
}

static void check_header(const json_t *h, uint64_t data_size, slm_scan_report *rep) {
    size_t cap = json_object_size(h), n = 0;
    st_range *r = calloc(cap ? cap : 1, sizeof *r);
    if (!r) return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: out of memory");
    const char *k;
    const json_t *v;
    bool ok = true;
    json_object_foreach((json_t *)h, k, v) {
        if (strcmp(k, "__metadata__") == 0) check_metadata(v, rep);
        else if (check_tensor(k, v, data_size, &r[n], rep)) n++;
        else ok = false;
    }
    rep->n_tensors = (int64_t)n;
    for (size_t i = 0; i < n; i++) rep->tensor_bytes += r[i].end - r[i].begin;
    if (ok) check_layout(r, n, data_size, rep);
    free(r);
}

void slm_scan_safetensors(const void *data, size_t size, slm_scan_report *rep) {
    const uint8_t *b = data;
    if (size < 8) return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: shorter than its 8-byte header length");
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    if (hl > MAX_HEADER || hl > size - 8)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: header length %llu is past the end of the file or "
                              "over %u MiB", (unsigned long long)hl, MAX_HEADER >> 20);
    if (hl < 2 || b[8] != '{')
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: the header is not a JSON object");
    json_error_t je;
    json_t *h = json_loadb((const char *)b + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!h || !json_is_object(h)) {
        json_decref(h);
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "safetensors: bad header JSON: %.120s", h ? "not an object" : je.text);
    }
    check_header(h, size - 8 - hl, rep);
    json_decref(h);
    store_scan_add(rep, SLM_SCAN_UNSUPPORTED, "safetensors: %lld tensor(s); slm loads GGUF only: convert it to GGUF",
                   (long long)rep->n_tensors);
}
