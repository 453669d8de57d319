/* GGUF tensor infos: name, dimensions, type and data offset, each checked
 * (1..4 dims, every ne > 0, no overflow in the element count or byte size,
 * first dim a multiple of the type's block size, known type, offset
 * aligned, unique name). Then the data section is placed at the header end
 * padded to the alignment, and every tensor must lie inside it without
 * overlapping another. */
#include "gguf/gguf_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static slm_status parse_dims(gguf_rd *r, slm_gguf_tensor *t) {
    uint64_t at = r->pos, total = 1;
    uint32_t nd;
    slm_status st = gguf_read_u32(r, "tensor dimension count", &nd);
    if (st) return st;
    if (nd == 0 || nd > SLM_GGUF_MAX_DIMS)
        return gguf_fail(r, at, "%u dimensions (must be 1 to %d)", nd, SLM_GGUF_MAX_DIMS);
    t->n_dims = nd;
    for (int d = 0; d < SLM_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t dim_at = r->pos, v;
        if ((st = gguf_read_u64(r, "tensor dimension", &v))) return st;
        if (v == 0 || v > INT64_MAX)
            return gguf_fail(r, dim_at, "dimension %u is %" PRId64 " (must be positive)", d,
                             (int64_t)v);
        if (!slm_mul_ok(total, v, &total) || total > INT64_MAX)
            return gguf_fail(r, dim_at, "element count overflows at dimension %u", d);
        t->ne[d] = (int64_t)v;
    }
    return SLM_OK;
}

/* Reads the type id and computes nbytes; ne0_at locates ne[0] for messages. */
static slm_status parse_type(gguf_rd *r, slm_gguf_tensor *t, uint64_t ne0_at) {
    uint64_t at = r->pos, bytes;
    uint32_t type;
    slm_status st = gguf_read_u32(r, "tensor type", &type);
    if (st) return st;
    const slm_dtype_info *info = slm_dtype_get(type);
    if (!info) return gguf_fail(r, at, "unknown tensor type %u", type);
    if ((uint64_t)t->ne[0] % info->block_size != 0)
        return gguf_fail(r, ne0_at, "first dimension %" PRId64 " is not a multiple of the %s "
                         "block size %u", t->ne[0], info->name, info->block_size);
    if (!slm_dtype_row_size(type, (uint64_t)t->ne[0], &bytes))
        return gguf_fail(r, at, "row size of %s x %" PRId64 " overflows", info->name, t->ne[0]);
    for (int d = 1; d < SLM_GGUF_MAX_DIMS; d++)
        if (!slm_mul_ok(bytes, (uint64_t)t->ne[d], &bytes))
            return gguf_fail(r, at, "data size of the %s tensor overflows", info->name);
    t->type = (slm_dtype)type;
    t->nbytes = bytes;
    return SLM_OK;
}

/* Parses tensor info i; records where it starts and where its offset is. */
static slm_status parse_one(gguf_rd *r, slm_gguf *g, int64_t i, uint64_t *at_out,
                            uint64_t *off_at) {
    slm_gguf_tensor *t = &g->tensors[i];
    uint64_t at = r->pos;
    *at_out = at;
    slm_str name;
    slm_status st = gguf_read_str(r, "tensor name", &name);
    if (!st) st = gguf_check_name(r, at, "tensor name", name, GGUF_MAX_NAME_LEN);
    if (st) return st;
    char *copy = malloc(name.len + 1);
    if (!copy) return slm_error_set(r->err, SLM_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(copy, name.ptr, name.len);
    copy[name.len] = '\0';
    t->name = copy;
    gguf_index_add(&g->tensor_index, copy);
    char q[72], ctx[96];
    snprintf(ctx, sizeof ctx, "tensor '%s'", gguf_quote(q, sizeof q, copy, name.len));
    r->ctx = ctx;
    uint64_t ne0_at = r->pos + 4;
    if ((st = parse_dims(r, t)) || (st = parse_type(r, t, ne0_at))) goto out;
    *off_at = r->pos;
    if ((st = gguf_read_u64(r, "tensor data offset", &t->offset))) goto out;
    if (t->offset % g->alignment != 0)
        st = gguf_fail(r, *off_at, "data offset %" PRIu64 " is not a multiple of the alignment %u",
                       t->offset, g->alignment);
out:
    r->ctx = NULL;
    return st;
}

typedef struct span {
    uint64_t begin, end;
    int64_t i;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static slm_status check_overlap(gguf_rd *r, slm_gguf *g, const uint64_t *off_at) {
    int64_t n = g->n_tensors;
    if (n < 2) return SLM_OK;
    span *s = slm_malloc_array((size_t)n, sizeof *s);
    if (!s) return slm_error_set(r->err, SLM_ERR_NOMEM, "%s: out of memory", r->name);
    for (int64_t i = 0; i < n; i++)
        s[i] = (span){g->tensors[i].offset, g->tensors[i].offset + g->tensors[i].nbytes, i};
    qsort(s, (size_t)n, sizeof *s, cmp_span);
    slm_status st = SLM_OK;
    for (int64_t k = 1; k < n && !st; k++) {
        if (s[k].begin >= s[k - 1].end) continue;
        char a[72], b[72];
        const slm_gguf_tensor *x = &g->tensors[s[k - 1].i], *y = &g->tensors[s[k].i];
        st = gguf_fail(r, off_at[s[k].i], "tensor '%s' data [%" PRIu64 ", %" PRIu64 ") overlaps "
                       "tensor '%s' data [%" PRIu64 ", %" PRIu64 ")",
                       gguf_quote(b, sizeof b, y->name, strlen(y->name)), s[k].begin, s[k].end,
                       gguf_quote(a, sizeof a, x->name, strlen(x->name)), s[k - 1].begin,
                       s[k - 1].end);
    }
    free(s);
    return st;
}

/* Places the data section and binds every tensor's data pointer. */
static slm_status place_data(gguf_rd *r, slm_gguf *g, const uint64_t *off_at) {
    uint64_t rem = r->pos % g->alignment;
    if (!slm_add_ok(r->pos, rem ? g->alignment - rem : 0, &g->data_offset))
        return gguf_fail(r, r->pos, "data offset overflows");
    uint64_t data_size = g->data_offset <= r->size ? r->size - g->data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        slm_gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            char q[72];
            return gguf_fail(r, off_at[i], "tensor '%s': data at %" PRIu64 " + %" PRIu64
                             " bytes lies outside the data section (%" PRIu64 " bytes at file "
                             "offset %" PRIu64 ")", gguf_quote(q, sizeof q, t->name,
                             strlen(t->name)), t->offset, t->nbytes, data_size, g->data_offset);
        }
        t->data = r->base + g->data_offset + t->offset;
    }
    return check_overlap(r, g, off_at);
}

slm_status gguf_parse_tensors(gguf_rd *r, slm_gguf *g) {
    int64_t n = g->n_tensors;
    g->tensors = slm_calloc_array((size_t)n, sizeof *g->tensors);
    /* file offsets of each info and of its data offset field, for messages */
    uint64_t *at = slm_malloc_array((size_t)n, 2 * sizeof *at);
    slm_status st = SLM_ERR_NOMEM;
    if (!g->tensors || !at || gguf_index_init(&g->tensor_index, n) != SLM_OK) {
        slm_error_set(r->err, st, "%s: out of memory for %" PRId64 " tensor infos", r->name, n);
        goto out;
    }
    uint64_t *off_at = at + n;
    st = SLM_OK;
    for (int64_t i = 0; i < n && !st; i++) st = parse_one(r, g, i, &at[i], &off_at[i]);
    if (st) goto out;
    int64_t dup = gguf_index_build(&g->tensor_index);
    if (dup >= 0) {
        char q[72];
        const char *name = g->tensors[dup].name;
        st = gguf_fail(r, at[dup], "duplicate tensor name '%s'",
                       gguf_quote(q, sizeof q, name, strlen(name)));
        goto out;
    }
    st = place_data(r, g, off_at);
out:
    free(at);
    return st;
}
