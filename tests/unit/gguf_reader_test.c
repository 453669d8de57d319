/* Tests for the GGUF reader: the real files in ../shared (models and
 * tokenizer vocabularies), a table of hand-built corrupt inputs (one per
 * class of bug, including the classes behind llama.cpp's GGUF CVEs:
 * oversized string/array lengths, count x size overflow, dims overflow,
 * out-of-bounds tensor data) each checked for its error code, the problem
 * named in the message and the byte offset, and truncation of a writer-made
 * fixture at every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm/gguf.h"

/* ---- a byte builder for hand-made files ---- */
typedef struct bb {
    uint8_t b[4096];
    size_t n;
    uint64_t mark; /* offset the error must name */
} bb;

/* size may exceed 8: the extra bytes are zero */
static void le(bb *x, uint64_t v, int size) {
    for (int i = 0; i < size; i++) x->b[x->n++] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}
static void raw(bb *x, const void *p, size_t n) {
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
static void str(bb *x, const char *s) {
    le(x, strlen(s), 8);
    raw(x, s, strlen(s));
}
static void mark(bb *x) { x->mark = x->n; }
static void header(bb *x, uint32_t version, uint64_t nt, uint64_t nkv) {
    raw(x, "GGUF", 4);
    le(x, version, 4);
    le(x, nt, 8);
    le(x, nkv, 8);
}
static void kv_u32(bb *x, const char *key, uint32_t v) {
    str(x, key);
    le(x, SLM_GGUF_UINT32, 4);
    le(x, v, 4);
}
static void pad_zero(bb *x, size_t align, size_t extra) {
    while (x->n % align) x->b[x->n++] = 0;
    memset(x->b + x->n, 0, extra);
    x->n += extra;
}

/* Tensor info fields, to say which one gets the mark. */
enum { F_NONE, F_NAME, F_NDIMS, F_NE0, F_NE1, F_TYPE = 7, F_OFFSET };

static void tinfo(bb *x, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type,
                  uint64_t off, int mark_field) {
    if (mark_field == F_NAME) mark(x);
    str(x, name);
    if (mark_field == F_NDIMS) mark(x);
    le(x, nd, 4);
    for (uint32_t d = 0; d < nd; d++) {
        if (mark_field == F_NE0 + (int)d) mark(x);
        le(x, ne[d], 8);
    }
    if (mark_field == F_TYPE) mark(x);
    le(x, type, 4);
    if (mark_field == F_OFFSET) mark(x);
    le(x, off, 8);
}

/* One tensor of nd dims, followed by `data` bytes of data section. */
static void one_tensor(bb *x, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off,
                       int mark_field, size_t data) {
    header(x, 3, 1, 0);
    tinfo(x, "t", nd, ne, type, off, mark_field);
    pad_zero(x, 32, data);
}

/* ---- the corrupt-input table ---- */
static void c_bad_magic(bb *x) { raw(x, "GGML", 4), le(x, 3, 4), le(x, 0, 16); }
static void c_too_small(bb *x) { raw(x, "GG", 2); }
static void c_version1(bb *x) { raw(x, "GGUF", 4), mark(x), le(x, 1, 4), le(x, 0, 8), le(x, 0, 8); }
static void c_version4(bb *x) { raw(x, "GGUF", 4), mark(x), le(x, 4, 4), le(x, 0, 16); }
static void c_big_endian(bb *x) { raw(x, "GGUF", 4), mark(x), le(x, 0x03000000, 4), le(x, 0, 16); }
static void c_huge_n_kv(bb *x) { header(x, 3, 0, 1ull << 40), x->mark = 16, le(x, 0, 64); }
static void c_huge_n_tensors(bb *x) { header(x, 3, UINT64_MAX, 0), x->mark = 8, le(x, 0, 64); }
static void c_truncated_header(bb *x) { raw(x, "GGUF", 4), le(x, 3, 4), mark(x), le(x, 0, 4); }
static void c_huge_key_len(bb *x) { header(x, 3, 0, 1), mark(x), le(x, UINT64_MAX, 8), le(x, 0, 8); }
static void c_empty_key(bb *x) { header(x, 3, 0, 1), mark(x), kv_u32(x, "", 1); }
static void c_nul_in_key(bb *x) {
    header(x, 3, 0, 1), mark(x), le(x, 3, 8), raw(x, "a\0b", 3), le(x, SLM_GGUF_UINT8, 4), le(x, 0, 1);
}
static void c_huge_string(bb *x) {
    header(x, 3, 0, 1), str(x, "s"), le(x, SLM_GGUF_STRING, 4), mark(x), le(x, 1ull << 62, 8);
    le(x, 0, 8);
}
static void c_bad_value_type(bb *x) { header(x, 3, 0, 1), str(x, "k"), mark(x), le(x, 13, 4), le(x, 0, 8); }
static void c_huge_value_type(bb *x) {
    header(x, 3, 0, 1), str(x, "k"), mark(x), le(x, 0xffffffffu, 4), le(x, 0, 8);
}
static void c_truncated_value(bb *x) {
    header(x, 3, 0, 1), str(x, "k"), le(x, SLM_GGUF_UINT64, 4), mark(x), le(x, 0, 4);
}
static void c_bad_elem_type(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), mark(x), le(x, 77, 4), le(x, 0, 8);
}
static void c_array_count_overflow(bb *x) { /* (2^61 + 1) * 8 wraps to 8 */
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_UINT64, 4);
    mark(x), le(x, (1ull << 61) + 1, 8), le(x, 0, 16);
}
static void c_array_too_long(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_UINT32, 4);
    mark(x), le(x, 5, 8), le(x, 0, 16); /* 5 x 4 > 16 */
}
static void c_huge_string_array(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_STRING, 4);
    mark(x), le(x, 1ull << 40, 8), le(x, 0, 64);
}
static void c_string_array_elem(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_STRING, 4);
    le(x, 2, 8), str(x, "ab"), mark(x), le(x, 1000, 8), raw(x, "xyz", 3);
}
static void c_huge_nested_array(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_ARRAY, 4);
    mark(x), le(x, UINT64_MAX, 8), le(x, 0, 64);
}
static void c_nested_too_deep(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4);
    for (int level = 0; level <= 8; level++) {
        le(x, SLM_GGUF_ARRAY, 4);
        if (level == 8) mark(x);
        le(x, 1, 8);
    }
    le(x, SLM_GGUF_UINT8, 4), le(x, 0, 8);
}
static void c_nested_bad_inner(bb *x) {
    header(x, 3, 0, 1), str(x, "a"), le(x, SLM_GGUF_ARRAY, 4), le(x, SLM_GGUF_ARRAY, 4);
    le(x, 2, 8), le(x, SLM_GGUF_UINT8, 4), le(x, 1, 8), le(x, 7, 1);
    le(x, SLM_GGUF_UINT16, 4), mark(x), le(x, 100, 8), le(x, 0, 4);
}
static void c_duplicate_key(bb *x) { header(x, 3, 0, 2), kv_u32(x, "a", 1), mark(x), kv_u32(x, "a", 2); }
static void c_duplicate_key_far(bb *x) {
    header(x, 3, 0, 5), kv_u32(x, "b", 1), kv_u32(x, "a", 1), kv_u32(x, "c", 1);
    mark(x), kv_u32(x, "a", 2), kv_u32(x, "c", 2);
}
static void c_align_not_pow2(bb *x) {
    header(x, 3, 0, 1), str(x, "general.alignment"), le(x, SLM_GGUF_UINT32, 4), mark(x), le(x, 48, 4);
}
static void c_align_zero(bb *x) {
    header(x, 3, 0, 1), str(x, "general.alignment"), le(x, SLM_GGUF_UINT32, 4), mark(x), le(x, 0, 4);
}
static void c_align_type(bb *x) {
    header(x, 3, 0, 1), str(x, "general.alignment"), le(x, SLM_GGUF_UINT64, 4), mark(x), le(x, 32, 8);
}
static const uint64_t NE16[] = {16}, NE33[] = {33};
static void c_bad_tensor_type(bb *x) { one_tensor(x, 1, NE16, 4, 0, F_TYPE, 64); }
static void c_huge_tensor_type(bb *x) { one_tensor(x, 1, NE16, 1000, 0, F_TYPE, 64); }
static void c_zero_dim(bb *x) { one_tensor(x, 2, (const uint64_t[]){16, 0}, 0, 0, F_NE1, 64); }
static void c_negative_dim(bb *x) { one_tensor(x, 2, (const uint64_t[]){16, UINT64_MAX}, 0, 0, F_NE1, 64); }
static void c_zero_dims(bb *x) { one_tensor(x, 0, NE16, 0, 0, F_NDIMS, 64); }
static void c_too_many_dims(bb *x) {
    one_tensor(x, 5, (const uint64_t[]){1, 1, 1, 1, 1}, 0, 0, F_NDIMS, 64);
}
static void c_dims_overflow(bb *x) {
    one_tensor(x, 2, (const uint64_t[]){1ull << 32, 1ull << 32}, 0, 0, F_NE1, 64);
}
static void c_row_size_overflow(bb *x) { one_tensor(x, 1, (const uint64_t[]){1ull << 62}, 0, 0, F_TYPE, 64); }
static void c_nbytes_overflow(bb *x) {
    one_tensor(x, 2, (const uint64_t[]){1ull << 31, 1ull << 31}, 0, 0, F_TYPE, 64);
}
static void c_block_size(bb *x) { one_tensor(x, 1, NE33, SLM_TYPE_Q4_0, 0, F_NE0, 64); }
static void c_misaligned(bb *x) { one_tensor(x, 1, NE16, 0, 16, F_OFFSET, 128); }
static void c_out_of_bounds(bb *x) { one_tensor(x, 1, NE16, 0, 0, F_OFFSET, 63); }
static void c_huge_offset(bb *x) { one_tensor(x, 1, NE16, 0, 1ull << 63, F_OFFSET, 64); }
static void c_offset_wraps(bb *x) { one_tensor(x, 1, NE16, 0, UINT64_MAX - 31, F_OFFSET, 64); }
static void c_duplicate_tensor(bb *x) {
    header(x, 3, 2, 0);
    tinfo(x, "t", 1, NE16, 0, 0, F_NONE);
    tinfo(x, "t", 1, NE16, 0, 64, F_NAME);
    pad_zero(x, 32, 128);
}
static void c_overlap(bb *x) {
    header(x, 3, 2, 0);
    tinfo(x, "a", 1, NE16, 0, 0, F_NONE);
    tinfo(x, "b", 1, NE16, 0, 32, F_OFFSET);
    pad_zero(x, 32, 128);
}
static void c_long_tensor_name(bb *x) {
    char name[65];
    memset(name, 'n', 64), name[64] = '\0';
    header(x, 3, 1, 0), mark(x), tinfo(x, name, 1, NE16, 0, 0, F_NONE), pad_zero(x, 32, 64);
}
static void c_empty_tensor_name(bb *x) { one_tensor(x, 1, NE16, 0, 0, F_NAME, 64); x->b[24] = 0; }

typedef struct bad_case {
    const char *name;
    void (*build)(bb *x);
    const char *what; /* must appear in the message */
} bad_case;

static const bad_case CASES[] = {
    {"bad magic", c_bad_magic, "bad magic"},
    {"too small", c_too_small, "too small"},
    {"version 1", c_version1, "version 1 is not supported"},
    {"version 4", c_version4, "unsupported GGUF version 4"},
    {"big endian", c_big_endian, "big-endian"},
    {"truncated header", c_truncated_header, "tensor count"},
    {"huge n_kv", c_huge_n_kv, "key/value count 1099511627776"},
    {"huge n_tensors", c_huge_n_tensors, "tensor count 18446744073709551615"},
    {"huge key length", c_huge_key_len, "key length 18446744073709551615 exceeds"},
    {"empty key", c_empty_key, "key is empty"},
    {"NUL in key", c_nul_in_key, "NUL byte"},
    {"huge string", c_huge_string, "string value length 4611686018427387904 exceeds"},
    {"bad value type", c_bad_value_type, "unknown value type 13"},
    {"huge value type", c_huge_value_type, "unknown value type 4294967295"},
    {"truncated value", c_truncated_value, "uint64"},
    {"bad array element type", c_bad_elem_type, "unknown array element type 77"},
    {"array count overflow", c_array_count_overflow, "does not fit"},
    {"array too long", c_array_too_long, "array of 5 uint32 elements does not fit"},
    {"huge string array", c_huge_string_array, "strings cannot fit"},
    {"string array element", c_string_array_elem, "array string length 1000 exceeds"},
    {"huge nested array", c_huge_nested_array, "arrays cannot fit"},
    {"nesting too deep", c_nested_too_deep, "nested deeper"},
    {"nested bad inner", c_nested_bad_inner, "array of 100 uint16"},
    {"duplicate key", c_duplicate_key, "duplicate key 'a'"},
    {"duplicate key, far apart", c_duplicate_key_far, "duplicate key 'a'"},
    {"alignment 48", c_align_not_pow2, "general.alignment 48 is not a power of two"},
    {"alignment 0", c_align_zero, "general.alignment 0 is not a power of two"},
    {"alignment type", c_align_type, "must be uint32"},
    {"tensor type 4", c_bad_tensor_type, "unknown tensor type 4"},
    {"tensor type 1000", c_huge_tensor_type, "unknown tensor type 1000"},
    {"zero dim", c_zero_dim, "dimension 1 is 0"},
    {"negative dim", c_negative_dim, "dimension 1 is -1"},
    {"no dims", c_zero_dims, "0 dimensions"},
    {"too many dims", c_too_many_dims, "5 dimensions"},
    {"dims overflow", c_dims_overflow, "element count overflows"},
    {"row size overflow", c_row_size_overflow, "overflows"},
    {"nbytes overflow", c_nbytes_overflow, "data size of the F32 tensor overflows"},
    {"block size", c_block_size, "33 is not a multiple of the Q4_0 block size 32"},
    {"misaligned offset", c_misaligned, "data offset 16 is not a multiple of the alignment 32"},
    {"out of bounds", c_out_of_bounds, "outside the data section"},
    {"huge offset", c_huge_offset, "outside the data section"},
    {"offset wraps", c_offset_wraps, "outside the data section"},
    {"duplicate tensor", c_duplicate_tensor, "duplicate tensor name 't'"},
    {"overlap", c_overlap, "tensor 'b' data [32, 96) overlaps tensor 'a'"},
    {"long tensor name", c_long_tensor_name, "is too long"},
    {"empty tensor name", c_empty_tensor_name, "tensor name is empty"},
};

static void test_corrupt_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        bb *x = calloc(1, sizeof *x);
        assert_non_null(x);
        CASES[i].build(x);
        /* an exact-size copy, so ASan catches any overread */
        uint8_t *copy = malloc(x->n);
        memcpy(copy, x->b, x->n);
        slm_gguf *g = NULL;
        slm_error err = {0};
        slm_status st = slm_gguf_open_memory(copy, x->n, "bad.gguf", &g, &err);
        char want_off[64];
        snprintf(want_off, sizeof want_off, "bad.gguf: offset %" PRIu64 ": ", x->mark);
        if (st != SLM_ERR_FORMAT || g != NULL || err.code != SLM_ERR_FORMAT ||
            strncmp(err.msg, want_off, strlen(want_off)) != 0 || !strstr(err.msg, CASES[i].what))
            fail_msg("case '%s': status %d, message '%s' (want '%s...%s')", CASES[i].name, st,
                     err.msg, want_off, CASES[i].what);
        free(copy);
        free(x);
    }
}

/* A writer-made fixture with every kind of value and two tensors. */
static void *make_fixture(size_t *size) {
    slm_gguf_writer *w = slm_gguf_writer_new();
    const char *toks[] = {"<unk>", "", "hello"};
    const float sc[] = {0.0f, -1.0f, 2.5f};
    const uint8_t nested[] = {SLM_GGUF_STRING, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                              2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'};
    const uint8_t outer[4 + 8] = {SLM_GGUF_ARRAY, 0, 0, 0, 1};
    uint8_t payload[sizeof outer + sizeof nested];
    memcpy(payload, outer, sizeof outer);
    memcpy(payload + sizeof outer, nested, sizeof nested);
    slm_gguf_writer_set_str(w, "general.architecture", "llama");
    slm_gguf_writer_set_uint(w, "llama.block_count", SLM_GGUF_UINT32, 2);
    slm_gguf_writer_set_bool(w, "flag", true);
    slm_gguf_writer_set_f64(w, "eps", 1e-6);
    slm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    slm_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SLM_GGUF_FLOAT32, sc, 3);
    slm_gguf_writer_set_raw(w, "nested", SLM_GGUF_ARRAY, payload, sizeof payload);
    float t1[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t t2[34] = {1};
    slm_gguf_writer_add_tensor(w, "t1", SLM_TYPE_F32, 2, (const int64_t[]){4, 2}, t1, sizeof t1);
    slm_gguf_writer_add_tensor(w, "t2", SLM_TYPE_Q8_0, 1, (const int64_t[]){32}, t2, sizeof t2);
    void *buf;
    assert_int_equal(slm_gguf_writer_write_memory(w, &buf, size, NULL), SLM_OK);
    slm_gguf_writer_free(w);
    return buf;
}

static void test_truncate_every_byte(void **state) {
    (void)state;
    size_t size;
    uint8_t *buf = make_fixture(&size);
    slm_gguf *g = NULL;
    slm_error err;
    assert_int_equal(slm_gguf_open_memory(buf, size, "fixture", &g, &err), SLM_OK);
    assert_int_equal(slm_gguf_n_kv(g), 7);
    const slm_gguf_tensor *last = slm_gguf_find_tensor(g, "t2");
    assert_non_null(last);
    uint64_t end = slm_gguf_data_offset(g) + last->offset + last->nbytes;
    assert_true(end <= size);
    slm_gguf_close(g);
    int failures = 0;
    for (size_t cut = 0; cut <= size; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        g = NULL;
        slm_status st = slm_gguf_open_memory(copy, cut, "trunc", &g, &err);
        if (cut >= end) {
            if (st != SLM_OK) fail_msg("cut %zu of %zu failed: %s", cut, size, err.msg);
            slm_gguf_close(g);
        } else {
            if (st != SLM_ERR_FORMAT || g || strncmp(err.msg, "trunc: offset ", 14) != 0)
                fail_msg("cut %zu: status %d, '%s'", cut, st, err.msg);
            failures++;
        }
        free(copy);
    }
    assert_int_equal(failures, (int)end);
    free(buf);
}

/* Flipping each byte of the fixture must never crash; when the result is
 * accepted it must still be self-consistent. */
static void test_flip_every_byte(void **state) {
    (void)state;
    size_t size;
    uint8_t *buf = make_fixture(&size);
    for (size_t i = 0; i < size; i++) {
        for (int v = 0; v < 3; v++) {
            uint8_t *copy = malloc(size);
            memcpy(copy, buf, size);
            copy[i] = (uint8_t)(v == 0 ? 0xff : v == 1 ? 0x00 : copy[i] ^ 0x80);
            slm_gguf *g = NULL;
            slm_error err;
            if (slm_gguf_open_memory(copy, size, "flip", &g, &err) == SLM_OK) {
                for (int64_t t = 0; t < slm_gguf_n_tensors(g); t++) {
                    const slm_gguf_tensor *ti = slm_gguf_tensor_at(g, t);
                    assert_true((const uint8_t *)ti->data + ti->nbytes <= copy + size);
                }
                slm_gguf_close(g);
            } else {
                assert_int_equal(strncmp(err.msg, "flip: offset ", 13), 0);
            }
            free(copy);
        }
    }
    free(buf);
}

static void test_io_errors(void **state) {
    (void)state;
    slm_gguf *g = (slm_gguf *)1;
    slm_error err;
    assert_int_equal(slm_gguf_open("/nonexistent/model.gguf", &g, &err), SLM_ERR_IO);
    assert_null(g);
    assert_int_equal(err.code, SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
    assert_int_equal(slm_gguf_open("/", &g, &err), SLM_ERR_IO);
    assert_int_equal(slm_gguf_open_memory(NULL, 0, "empty", &g, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "empty: offset 0: file is too small"));
    /* an empty file on disk */
    const char *tmp = getenv("SLM_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/gguf_empty_test.gguf", tmp ? tmp : "/tmp");
    mkdir(tmp ? tmp : "/tmp", 0755);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(slm_gguf_open(path, &g, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "too small"));
    remove(path);
}

/* ---- the real files ---- */
static const char *shared_dir(void) {
    const char *d = getenv("SLM_SHARED_DIR");
    return d ? d : "../shared";
}

static slm_gguf *open_shared(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", shared_dir(), rel);
    struct stat st;
    if (stat(path, &st) != 0) {
        print_message("skipping: %s not found (../shared missing)\n", path);
        return NULL;
    }
    slm_gguf *g = NULL;
    slm_error err;
    if (slm_gguf_open(path, &g, &err) != SLM_OK) fail_msg("%s", err.msg);
    return g;
}

static void test_stories260k(void **state) {
    (void)state;
    slm_gguf *g = open_shared("models/stories260K.gguf");
    if (!g) skip();
    slm_str s;
    int64_t v;
    double f;
    assert_true(slm_gguf_get_str(g, "general.architecture", &s));
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "llama", 5);
    assert_true(slm_gguf_get_int(g, "llama.block_count", &v) && v == 5);
    assert_true(slm_gguf_get_int(g, "llama.embedding_length", &v) && v == 64);
    assert_true(slm_gguf_get_int(g, "llama.attention.head_count", &v) && v == 8);
    assert_true(slm_gguf_get_int(g, "llama.attention.head_count_kv", &v) && v == 4);
    assert_true(slm_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &f));
    assert_true(f > 0.9e-5 && f < 1.1e-5);
    slm_gguf_array toks;
    assert_true(slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks));
    assert_int_equal(toks.elem_type, SLM_GGUF_STRING);
    assert_int_equal(toks.n, 512);
    assert_true(slm_gguf_arr_str(&toks, 1, &s));
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "<s>", 3);
    assert_true(slm_gguf_arr_str(&toks, 3, &s));
    assert_memory_equal(s.ptr, "<0x00>", 6);
    assert_int_equal(slm_gguf_version(g), 3);
    assert_int_equal(slm_gguf_alignment(g), 32);
    assert_int_equal(slm_gguf_n_tensors(g), 48);
    const slm_gguf_tensor *t = slm_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->type, SLM_TYPE_F32);
    assert_int_equal(t->nbytes, 64 * 512 * 4);
    t = slm_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    assert_null(slm_gguf_find_tensor(g, "blk.5.ffn_down.weight"));
    slm_gguf_close(g);
}

/* The quantized variants hold the same tensors with the same shapes. */
static void test_stories_variants(void **state) {
    (void)state;
    slm_gguf *ref = open_shared("models/stories260K.gguf");
    if (!ref) skip();
    const char *variants[] = {"models/stories260K-F16.gguf", "models/stories260K-BF16.gguf",
                              "models/stories260K-mixQ5_0-from-Q4_K_M.gguf",
                              "models/stories260K-mixQ8_0-from-Q6_K.gguf"};
    bool seen_q5 = false;
    for (size_t k = 0; k < 4; k++) {
        slm_gguf *g = open_shared(variants[k]);
        assert_non_null(g);
        assert_int_equal(slm_gguf_n_tensors(g), slm_gguf_n_tensors(ref));
        for (int64_t i = 0; i < slm_gguf_n_tensors(ref); i++) {
            const slm_gguf_tensor *a = slm_gguf_tensor_at(ref, i);
            const slm_gguf_tensor *b = slm_gguf_find_tensor(g, a->name);
            assert_non_null(b);
            assert_int_equal(a->n_dims, b->n_dims);
            assert_memory_equal(a->ne, b->ne, sizeof a->ne);
            seen_q5 |= b->type == SLM_TYPE_Q5_0;
        }
        slm_gguf_close(g);
    }
    assert_true(seen_q5);
    slm_gguf_close(ref);
}

/* Every real file opens, and every value and tensor is inside it. */
static void check_whole_file(slm_gguf *g, const char *name) {
    const uint8_t *lo = NULL, *hi = NULL;
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        const uint8_t *p = t->data;
        if (!lo) lo = p - slm_gguf_data_offset(g) - t->offset;
        hi = lo + slm_gguf_file_size(g);
        assert_true(p >= lo + slm_gguf_data_offset(g) && p + t->nbytes <= hi);
        assert_int_equal(t->offset % slm_gguf_alignment(g), 0);
    }
    uint64_t strings = 0;
    for (int64_t i = 0; i < slm_gguf_n_kv(g); i++) {
        slm_gguf_array a;
        slm_str s;
        assert_int_equal(slm_gguf_find_key(g, slm_gguf_kv_key(g, i)), i);
        if (!slm_gguf_kv_arr(g, i, &a) || a.elem_type != SLM_GGUF_STRING) continue;
        for (uint64_t j = 0; j < a.n; j++) {
            assert_true(slm_gguf_arr_str(&a, j, &s));
            assert_true(s.len < slm_gguf_file_size(g));
            strings++;
        }
    }
    if (strcmp(name, "ggml-vocab-bert-bge.gguf") != 0) assert_true(strings > 0);
}

static void test_all_shared_files(void **state) {
    (void)state;
    const char *dirs[] = {"models", "vocab"};
    int opened = 0;
    for (int k = 0; k < 2; k++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", shared_dir(), dirs[k]);
        DIR *d = opendir(dir);
        if (!d) {
            print_message("skipping: %s not found\n", dir);
            skip();
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0) continue;
            char rel[600];
            snprintf(rel, sizeof rel, "%s/%s", dirs[k], e->d_name);
            slm_gguf *g = open_shared(rel);
            assert_non_null(g);
            check_whole_file(g, e->d_name);
            slm_gguf_close(g);
            opened++;
        }
        closedir(d);
    }
    assert_true(opened >= 17);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_table),   cmocka_unit_test(test_truncate_every_byte),
        cmocka_unit_test(test_flip_every_byte), cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_stories260k),     cmocka_unit_test(test_stories_variants),
        cmocka_unit_test(test_all_shared_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
