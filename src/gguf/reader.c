/* GGUF reader: maps a file read-only (or takes a caller's buffer), parses
 * and validates the whole header, and builds the lookup indexes. The
 * structures (struct slm_gguf, gguf_kv, gguf_arr, gguf_index) are in
 * gguf_internal.h; values.c parses metadata values, tensors.c tensor infos,
 * access.c holds the accessors, writer.c the writer.
 *
 * Format notes (GGUF v2 and v3; every integer little-endian):
 *   header  "GGUF" (4 bytes), u32 version, u64 n_tensors, u64 n_kv.
 *           Version 1 had u32 counts and is rejected; v3 only added
 *           big-endian files, which show up as a byte-swapped version and
 *           are rejected too.
 *   kv      string key, u32 value type, value.
 *   string  u64 length, then that many bytes (no NUL, any bytes).
 *   value   by type id: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32,
 *           7 bool (1 byte), 8 string, 9 array, 10 u64, 11 i64, 12 f64.
 *   array   u32 element type, u64 count, the elements back to back; an
 *           element of type array is itself type + count + elements.
 *   tensor  string name, u32 n_dims, u64 ne[n_dims] (ne[0] varies
 *           fastest), u32 ggml type id, u64 offset into the data section.
 *   padding to the alignment: general.alignment (u32, a power of two) or
 *           32. The data section starts at the header end rounded up to
 *           it; every tensor offset is a multiple of it.
 * Validation bounds every count by the bytes left in the file before
 * allocating anything, so a hostile header cannot force a big allocation.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static slm_status parse_version(gguf_rd *r, slm_gguf *g) {
    uint32_t v;
    slm_status st = gguf_read_u32(r, "version", &v);
    if (st) return st;
    uint32_t swapped = __builtin_bswap32(v);
    if (v == 1)
        return gguf_fail(r, 4, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (v != 2 && v != 3 && (swapped == 2 || swapped == 3))
        return gguf_fail(r, 4, "big-endian GGUF (version %u byte-swapped) is not supported",
                         swapped);
    if (v != 2 && v != 3)
        return gguf_fail(r, 4, "unsupported GGUF version %u (only versions 2 and 3)", v);
    g->version = v;
    return SLM_OK;
}

/* Formats people try to load instead of GGUF, for a clearer error. */
static const char *other_format(const uint8_t *b, uint64_t n) {
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return "a Python pickle (unsafe to load)";
    if (memcmp(b, "PK\003\004", 4) == 0) return "a zip archive (a PyTorch checkpoint holds pickles)";
    if (n >= 9 && b[8] == '{' && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0) return "a safetensors file";
    return NULL;
}

static slm_status parse_header(gguf_rd *r, slm_gguf *g) {
    if (r->size < 4)
        return gguf_fail(r, 0, "file is too small to be GGUF (%" PRIu64 " bytes)", r->size);
    if (memcmp(r->base, "GGUF", 4) != 0) {
        char q[16];
        const char *kind = other_format(r->base, r->size);
        return gguf_fail(r, 0, "bad magic '%s' (expected 'GGUF')%s%s%s",
                         gguf_quote(q, sizeof q, (const char *)r->base, 4), kind ? ": this is " : "",
                         kind ? kind : "", kind ? ", not GGUF; slm loads GGUF only (check it with `slm scan`)" : "");
    }
    r->pos = 4;
    uint64_t nt, nkv;
    slm_status st = parse_version(r, g);
    if (!st) st = gguf_read_u64(r, "tensor count", &nt);
    if (!st) st = gguf_read_u64(r, "key/value count", &nkv);
    if (st) return st;
    uint64_t left = gguf_left(r);
    if (nt > left / GGUF_MIN_TENSOR_SIZE)
        return gguf_fail(r, 8, "tensor count %" PRIu64 " cannot fit in the %" PRIu64
                         " bytes left (%d bytes each at least)", nt, left, GGUF_MIN_TENSOR_SIZE);
    if (nkv > left / GGUF_MIN_KV_SIZE || nkv * GGUF_MIN_KV_SIZE > left - nt * GGUF_MIN_TENSOR_SIZE)
        return gguf_fail(r, 16, "key/value count %" PRIu64 " cannot fit in the %" PRIu64
                         " bytes left (%d bytes each at least)", nkv, left, GGUF_MIN_KV_SIZE);
    g->n_tensors = (int64_t)nt;
    g->n_kv = (int64_t)nkv;
    return SLM_OK;
}

static slm_status parse_kv(gguf_rd *r, slm_gguf *g, int64_t i) {
    gguf_kv *kv = &g->kv[i];
    uint64_t at = r->pos;
    slm_str key;
    kv->key_off = at;
    slm_status st = gguf_read_str(r, "key", &key);
    if (!st) st = gguf_check_name(r, at, "key", key, GGUF_MAX_KEY_LEN);
    if (st) return st;
    if (!(kv->key = malloc(key.len + 1)))
        return slm_error_set(r->err, SLM_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(kv->key, key.ptr, key.len);
    kv->key[key.len] = '\0';
    gguf_index_add(&g->kv_index, kv->key);
    char q[72], ctx[96];
    snprintf(ctx, sizeof ctx, "key '%s'", gguf_quote(q, sizeof q, key.ptr, key.len));
    r->ctx = ctx;
    uint64_t type_at = r->pos;
    uint32_t t;
    if ((st = gguf_read_u32(r, "value type", &t))) goto out;
    if (t >= SLM_GGUF_VTYPE_COUNT) {
        st = gguf_fail(r, type_at, "unknown value type %u", t);
        goto out;
    }
    st = gguf_parse_value(r, t, kv);
out:
    r->ctx = NULL;
    return st;
}

static slm_status parse_kvs(gguf_rd *r, slm_gguf *g) {
    g->kv = slm_calloc_array((size_t)g->n_kv, sizeof *g->kv);
    if (!g->kv || gguf_index_init(&g->kv_index, g->n_kv) != SLM_OK)
        return slm_error_set(r->err, SLM_ERR_NOMEM, "%s: out of memory for %" PRId64 " keys",
                             r->name, g->n_kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        slm_status st = parse_kv(r, g, i);
        if (st) return st;
    }
    int64_t dup = gguf_index_build(&g->kv_index);
    if (dup >= 0) {
        char q[72];
        const char *k = g->kv[dup].key;
        return gguf_fail(r, g->kv[dup].key_off, "duplicate key '%s'",
                         gguf_quote(q, sizeof q, k, strlen(k)));
    }
    return SLM_OK;
}

static slm_status read_alignment(gguf_rd *r, slm_gguf *g) {
    g->alignment = SLM_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_index_find(&g->kv_index, "general.alignment");
    if (i < 0) return SLM_OK;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type != SLM_GGUF_UINT32)
        return gguf_fail(r, kv->val_off, "general.alignment must be uint32, not %s",
                         slm_gguf_vtype_name(kv->type));
    uint32_t a = gguf_le32(kv->val);
    if (a == 0 || (a & (a - 1)) != 0)
        return gguf_fail(r, kv->val_off, "general.alignment %u is not a power of two", a);
    g->alignment = a;
    return SLM_OK;
}

/* Parses base[0..size); on success *out owns map (may be NULL). */
static slm_status parse(const uint8_t *base, uint64_t size, const char *name, void *map,
                        slm_gguf **out, slm_error *err) {
    slm_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(name))) {
        free(g);
        return slm_error_set(err, SLM_ERR_NOMEM, "%s: out of memory", name);
    }
    g->base = base;
    g->size = size;
    gguf_rd r = {.base = base, .size = size, .name = name, .err = err};
    slm_status st = parse_header(&r, g);
    if (!st) st = parse_kvs(&r, g);
    if (!st) st = read_alignment(&r, g);
    if (!st) st = gguf_parse_tensors(&r, g);
    if (st) {
        slm_gguf_close(g);
        return st;
    }
    g->map = map;
    g->map_len = (size_t)size;
    *out = g;
    return SLM_OK;
}

slm_status slm_gguf_open_memory(const void *data, size_t size, const char *name,
                                slm_gguf **out, slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "gguf: no output pointer");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && size)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "%s: NULL buffer", name);
    static const uint8_t empty[1];
    return parse(data ? data : empty, size, name, NULL, out, err);
}

slm_status slm_gguf_open(const char *path, slm_gguf **out, slm_error *err) {
    if (!out || !path) return slm_error_set(err, SLM_ERR_INVALID_ARG, "gguf: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return slm_error_set(err, SLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    int e = fstat(fd, &sb) != 0 ? errno : 0;
    if (e || !S_ISREG(sb.st_mode)) {
        close(fd);
        return slm_error_set(err, SLM_ERR_IO, "%s: not a readable regular file%s%s", path,
                             e ? ": " : "", e ? strerror(e) : "");
    }
    void *map = NULL;
    uint64_t size = (uint64_t)sb.st_size;
    if (size > 0) {
        map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            e = errno;
            close(fd);
            return slm_error_set(err, SLM_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
    }
    close(fd);
    static const uint8_t empty[1];
    slm_status st = parse(map ? map : empty, size, path, map, out, err);
    if (st && map) munmap(map, (size_t)size);
    return st;
}

void slm_gguf_close(slm_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; g->kv && i < g->n_kv; i++) {
        free(g->kv[i].key);
        gguf_arr_free(&g->kv[i].arr);
    }
    for (int64_t i = 0; g->tensors && i < g->n_tensors; i++) free((void *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    gguf_index_free(&g->kv_index);
    gguf_index_free(&g->tensor_index);
    if (g->map) munmap(g->map, g->map_len);
    free(g->path);
    free(g);
}
