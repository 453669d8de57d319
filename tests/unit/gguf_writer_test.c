/* Tests for the GGUF writer, by round trip through the reader: every value
 * type, arrays of every fixed type, string arrays (large ones included),
 * nested arrays via set_raw, tensors and their alignment, version and
 * alignment settings, typed-getter mismatches and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"

/* Serialises the writer and opens the bytes; *buf must be freed after
 * slm_gguf_close. */
static slm_gguf *roundtrip(slm_gguf_writer *w, void **buf) {
    size_t size;
    slm_error err;
    assert_int_equal(slm_gguf_writer_write_memory(w, buf, &size, &err), SLM_OK);
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open_memory(*buf, size, "roundtrip", &g, &err);
    if (st) fail_msg("%s", err.msg);
    assert_non_null(g);
    return g;
}

static void assert_str(slm_str s, const char *want) {
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_scalars(void **state) {
    (void)state;
    slm_gguf_writer *w = slm_gguf_writer_new();
    assert_int_equal(slm_gguf_writer_set_uint(w, "u8", SLM_GGUF_UINT8, 200), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_int(w, "i8", SLM_GGUF_INT8, -100), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_uint(w, "u16", SLM_GGUF_UINT16, 65535), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_int(w, "i16", SLM_GGUF_INT16, -32768), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_uint(w, "u32", SLM_GGUF_UINT32, 4000000000u), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_int(w, "i32", SLM_GGUF_INT32, -2000000000), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_uint(w, "u64", SLM_GGUF_UINT64, UINT64_MAX), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_int(w, "i64", SLM_GGUF_INT64, INT64_MIN), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_f32(w, "f32", 1.5f), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_f64(w, "f64", -2.25e100), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_bool(w, "b", true), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_str(w, "s", "hello"), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_str(w, "empty", ""), SLM_OK);
    void *buf;
    slm_gguf *g = roundtrip(w, &buf);
    assert_int_equal(slm_gguf_n_kv(g), 13);
    assert_int_equal(slm_gguf_version(g), 3);
    assert_int_equal(slm_gguf_alignment(g), 32);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    slm_str s;
    assert_true(slm_gguf_get_int(g, "u8", &i) && i == 200);
    assert_true(slm_gguf_get_int(g, "i8", &i) && i == -100);
    assert_true(slm_gguf_get_int(g, "u16", &i) && i == 65535);
    assert_true(slm_gguf_get_int(g, "i16", &i) && i == -32768);
    assert_true(slm_gguf_get_uint(g, "u32", &u) && u == 4000000000u);
    assert_true(slm_gguf_get_int(g, "i32", &i) && i == -2000000000);
    assert_true(slm_gguf_get_uint(g, "u64", &u) && u == UINT64_MAX);
    assert_false(slm_gguf_get_int(g, "u64", &i)); /* above INT64_MAX */
    assert_true(slm_gguf_get_int(g, "i64", &i) && i == INT64_MIN);
    assert_false(slm_gguf_get_uint(g, "i64", &u)); /* negative */
    assert_true(slm_gguf_get_float(g, "f32", &f) && f == 1.5);
    assert_true(slm_gguf_get_float(g, "f64", &f) && f == -2.25e100);
    assert_true(slm_gguf_get_bool(g, "b", &b) && b);
    assert_true(slm_gguf_get_str(g, "s", &s));
    assert_str(s, "hello");
    assert_true(slm_gguf_get_str(g, "empty", &s) && s.len == 0);
    /* type mismatches and absent keys */
    assert_false(slm_gguf_get_float(g, "u8", &f));
    assert_false(slm_gguf_get_int(g, "f32", &i));
    assert_false(slm_gguf_get_str(g, "b", &s));
    assert_false(slm_gguf_get_bool(g, "s", &b));
    assert_false(slm_gguf_get_int(g, "missing", &i));
    assert_int_equal(slm_gguf_find_key(g, "missing"), -1);
    int64_t k = slm_gguf_find_key(g, "f64");
    assert_string_equal(slm_gguf_kv_key(g, k), "f64");
    assert_int_equal(slm_gguf_kv_type(g, k), SLM_GGUF_FLOAT64);
    assert_null(slm_gguf_kv_key(g, 13));
    assert_null(slm_gguf_kv_key(g, -1));
    assert_int_equal(slm_gguf_kv_type(g, 99), SLM_GGUF_VTYPE_COUNT);
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
}

static void test_fixed_arrays(void **state) {
    (void)state;
    slm_gguf_writer *w = slm_gguf_writer_new();
    const int16_t i16[] = {-1, 2, -32768};
    const uint64_t u64[] = {UINT64_MAX, 0};
    const float f32[] = {0.5f, -3.0f};
    const double f64[] = {1e300};
    const uint8_t bools[] = {1, 0, 1};
    const int32_t i32[] = {7, -7};
    assert_int_equal(slm_gguf_writer_set_arr(w, "i16", SLM_GGUF_INT16, i16, 3), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "u64", SLM_GGUF_UINT64, u64, 2), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "f32", SLM_GGUF_FLOAT32, f32, 2), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "f64", SLM_GGUF_FLOAT64, f64, 1), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "b", SLM_GGUF_BOOL, bools, 3), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "i32", SLM_GGUF_INT32, i32, 2), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "none", SLM_GGUF_UINT8, NULL, 0), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_arr(w, "bad", SLM_GGUF_STRING, i16, 1),
                     SLM_ERR_INVALID_ARG);
    void *buf;
    slm_gguf *g = roundtrip(w, &buf);
    slm_gguf_array a;
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    assert_true(slm_gguf_get_arr(g, "i16", &a));
    assert_int_equal(a.elem_type, SLM_GGUF_INT16);
    assert_int_equal(a.n, 3);
    assert_true(slm_gguf_arr_int(&a, 2, &i) && i == -32768);
    assert_false(slm_gguf_arr_int(&a, 3, &i)); /* out of range */
    assert_false(slm_gguf_arr_uint(&a, 0, &u)); /* negative */
    assert_false(slm_gguf_arr_float(&a, 0, &f));
    int16_t copy[3];
    memcpy(copy, slm_gguf_arr_data(&a), sizeof copy);
    assert_memory_equal(copy, i16, sizeof copy);
    assert_true(slm_gguf_get_arr(g, "u64", &a));
    assert_true(slm_gguf_arr_uint(&a, 0, &u) && u == UINT64_MAX);
    assert_false(slm_gguf_arr_int(&a, 0, &i));
    assert_true(slm_gguf_get_arr(g, "f32", &a));
    assert_true(slm_gguf_arr_float(&a, 1, &f) && f == -3.0);
    assert_true(slm_gguf_get_arr(g, "f64", &a));
    assert_true(slm_gguf_arr_float(&a, 0, &f) && f == 1e300);
    assert_true(slm_gguf_get_arr(g, "b", &a));
    assert_true(slm_gguf_arr_bool(&a, 0, &b) && b);
    assert_true(slm_gguf_arr_bool(&a, 1, &b) && !b);
    assert_false(slm_gguf_arr_int(&a, 0, &i)); /* bool is not an integer */
    assert_true(slm_gguf_get_arr(g, "i32", &a));
    assert_true(slm_gguf_arr_int(&a, 1, &i) && i == -7);
    assert_true(slm_gguf_get_arr(g, "none", &a));
    assert_int_equal(a.n, 0);
    assert_false(slm_gguf_arr_int(&a, 0, &i));
    assert_false(slm_gguf_get_arr(g, "bad", &a));
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
}

static void test_string_arrays(void **state) {
    (void)state;
    enum { N = 150000 };
    char **strs = calloc(N, sizeof *strs);
    assert_non_null(strs);
    for (int i = 0; i < N; i++) {
        strs[i] = malloc(16);
        snprintf(strs[i], 16, "tok%d", i);
        if (i % 7 == 0) strs[i][0] = '\0'; /* some empty strings */
    }
    slm_gguf_writer *w = slm_gguf_writer_new();
    assert_int_equal(slm_gguf_writer_set_arr_str(w, "vocab", (const char *const *)strs, N), SLM_OK);
    const char *few[] = {"a", "", "\xe2\x96\x81the"};
    assert_int_equal(slm_gguf_writer_set_arr_str(w, "few", few, 3), SLM_OK);
    void *buf;
    slm_gguf *g = roundtrip(w, &buf);
    slm_gguf_array a;
    slm_str s;
    assert_true(slm_gguf_get_arr(g, "vocab", &a));
    assert_int_equal(a.elem_type, SLM_GGUF_STRING);
    assert_int_equal(a.n, N);
    assert_null(slm_gguf_arr_data(&a));
    for (int i = N - 1; i >= 0; i--) { /* any order: the index is O(1) */
        assert_true(slm_gguf_arr_str(&a, (uint64_t)i, &s));
        assert_int_equal(s.len, strlen(strs[i]));
        assert_memory_equal(s.ptr, strs[i], s.len);
    }
    assert_false(slm_gguf_arr_str(&a, N, &s));
    int64_t iv;
    assert_false(slm_gguf_arr_int(&a, 0, &iv));
    assert_true(slm_gguf_get_arr(g, "few", &a));
    assert_true(slm_gguf_arr_str(&a, 2, &s));
    assert_str(s, "\xe2\x96\x81the");
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
    for (int i = 0; i < N; i++) free(strs[i]);
    free(strs);
}

/* A tiny serialiser for nested array payloads. */
typedef struct bytes {
    uint8_t b[512];
    size_t n;
} bytes;

static void put_le(bytes *x, uint64_t v, int size) {
    for (int i = 0; i < size; i++) x->b[x->n++] = (uint8_t)(v >> (8 * i));
}

static void put_str(bytes *x, const char *s) {
    put_le(x, strlen(s), 8);
    memcpy(x->b + x->n, s, strlen(s));
    x->n += strlen(s);
}

static void test_nested_arrays(void **state) {
    (void)state;
    /* [[1, 2, 3] as u16, ["x", "yz"], [[-5] as i8], []] */
    bytes p = {.n = 0};
    put_le(&p, SLM_GGUF_ARRAY, 4);
    put_le(&p, 4, 8);
    put_le(&p, SLM_GGUF_UINT16, 4), put_le(&p, 3, 8);
    put_le(&p, 1, 2), put_le(&p, 2, 2), put_le(&p, 3, 2);
    put_le(&p, SLM_GGUF_STRING, 4), put_le(&p, 2, 8);
    put_str(&p, "x"), put_str(&p, "yz");
    put_le(&p, SLM_GGUF_ARRAY, 4), put_le(&p, 1, 8);
    put_le(&p, SLM_GGUF_INT8, 4), put_le(&p, 1, 8), put_le(&p, (uint8_t)-5, 1);
    put_le(&p, SLM_GGUF_FLOAT32, 4), put_le(&p, 0, 8);
    slm_gguf_writer *w = slm_gguf_writer_new();
    assert_int_equal(slm_gguf_writer_set_raw(w, "nested", SLM_GGUF_ARRAY, p.b, p.n), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_str(w, "after", "ok"), SLM_OK);
    void *buf;
    slm_gguf *g = roundtrip(w, &buf);
    slm_gguf_array a, sub, subsub;
    slm_str s;
    int64_t i;
    assert_true(slm_gguf_get_arr(g, "nested", &a));
    assert_int_equal(a.elem_type, SLM_GGUF_ARRAY);
    assert_int_equal(a.n, 4);
    assert_null(slm_gguf_arr_data(&a));
    assert_true(slm_gguf_arr_arr(&a, 0, &sub));
    assert_int_equal(sub.elem_type, SLM_GGUF_UINT16);
    assert_true(slm_gguf_arr_int(&sub, 2, &i) && i == 3);
    assert_true(slm_gguf_arr_arr(&a, 1, &sub));
    assert_true(slm_gguf_arr_str(&sub, 1, &s));
    assert_str(s, "yz");
    assert_true(slm_gguf_arr_arr(&a, 2, &sub));
    assert_true(slm_gguf_arr_arr(&sub, 0, &subsub));
    assert_true(slm_gguf_arr_int(&subsub, 0, &i) && i == -5);
    assert_true(slm_gguf_arr_arr(&a, 3, &sub));
    assert_int_equal(sub.n, 0);
    assert_false(slm_gguf_arr_arr(&a, 4, &sub));
    assert_false(slm_gguf_arr_str(&a, 0, &s));
    assert_true(slm_gguf_get_str(g, "after", &s)); /* parsing resumed after the array */
    assert_str(s, "ok");
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
}

static void test_tensors_and_alignment(void **state) {
    (void)state;
    slm_gguf_writer *w = slm_gguf_writer_new();
    slm_gguf_writer_set_alignment(w, 64);
    slm_gguf_writer_set_version(w, 2);
    float f[3 * 5];
    for (int i = 0; i < 15; i++) f[i] = (float)i * 0.25f;
    uint8_t q[2 * 34];
    for (int i = 0; i < 68; i++) q[i] = (uint8_t)(i * 7);
    const int64_t ne_f[] = {3, 5}, ne_q[] = {64};
    assert_int_equal(slm_gguf_writer_add_tensor(w, "a.weight", SLM_TYPE_F32, 2, ne_f, f, sizeof f),
                     SLM_OK);
    assert_int_equal(slm_gguf_writer_add_tensor(w, "b.weight", SLM_TYPE_Q8_0, 1, ne_q, q, sizeof q),
                     SLM_OK);
    /* argument checks */
    assert_int_equal(slm_gguf_writer_add_tensor(w, "a.weight", SLM_TYPE_F32, 2, ne_f, f, sizeof f),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_add_tensor(w, "c", SLM_TYPE_F32, 2, ne_f, f, 4),
                     SLM_ERR_INVALID_ARG);
    const int64_t odd[] = {33};
    assert_int_equal(slm_gguf_writer_add_tensor(w, "d", SLM_TYPE_Q8_0, 1, odd, q, 34),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_add_tensor(w, "e", (slm_dtype)4, 1, ne_q, q, 34),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_uint(w, "x", SLM_GGUF_UINT8, 256), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_int(w, "x", SLM_GGUF_INT8, -129), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_int(w, "x", SLM_GGUF_UINT32, -1), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_gguf_writer_set_uint(w, "x", SLM_GGUF_STRING, 1), SLM_ERR_INVALID_ARG);
    /* setting a key twice replaces it */
    assert_int_equal(slm_gguf_writer_set_str(w, "name", "first"), SLM_OK);
    assert_int_equal(slm_gguf_writer_set_uint(w, "name", SLM_GGUF_UINT32, 9), SLM_OK);
    void *buf;
    slm_gguf *g = roundtrip(w, &buf);
    assert_int_equal(slm_gguf_version(g), 2);
    assert_int_equal(slm_gguf_alignment(g), 64);
    uint64_t align;
    assert_true(slm_gguf_get_uint(g, "general.alignment", &align) && align == 64);
    assert_int_equal(slm_gguf_n_kv(g), 2);
    int64_t nv;
    assert_true(slm_gguf_get_int(g, "name", &nv) && nv == 9);
    assert_int_equal(slm_gguf_data_offset(g) % 64, 0);
    assert_int_equal(slm_gguf_n_tensors(g), 2);
    const slm_gguf_tensor *a = slm_gguf_find_tensor(g, "a.weight");
    const slm_gguf_tensor *b = slm_gguf_find_tensor(g, "b.weight");
    assert_non_null(a);
    assert_non_null(b);
    assert_null(slm_gguf_find_tensor(g, "c"));
    assert_ptr_equal(slm_gguf_tensor_at(g, 1), b);
    assert_null(slm_gguf_tensor_at(g, 2));
    assert_int_equal(a->n_dims, 2);
    assert_int_equal(a->ne[0], 3);
    assert_int_equal(a->ne[1], 5);
    assert_int_equal(a->ne[2], 1);
    assert_int_equal(a->type, SLM_TYPE_F32);
    assert_int_equal(a->nbytes, sizeof f);
    assert_int_equal(slm_gguf_tensor_n_elements(a), 15);
    assert_memory_equal(a->data, f, sizeof f);
    assert_int_equal(b->type, SLM_TYPE_Q8_0);
    assert_int_equal(b->offset % 64, 0);
    assert_true(b->offset >= a->nbytes);
    assert_memory_equal(b->data, q, sizeof q);
    assert_int_equal(((const uint8_t *)b->data - (const uint8_t *)buf) % 64, 0);
    slm_gguf_close(g);
    free(buf);
    slm_gguf_writer_free(w);
}

static void test_write_file(void **state) {
    (void)state;
    const char *tmp = getenv("SLM_TEST_TMP");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", tmp ? tmp : "/tmp");
    snprintf(path, sizeof path, "mkdir -p '%s'", dir);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, "%s/gguf_writer_test.gguf", dir);
    slm_gguf_writer *w = slm_gguf_writer_new();
    const int64_t ne[] = {4};
    const float data[4] = {1, 2, 3, 4};
    assert_int_equal(slm_gguf_writer_set_str(w, "general.architecture", "llama"), SLM_OK);
    assert_int_equal(slm_gguf_writer_add_tensor(w, "t", SLM_TYPE_F32, 1, ne, data, sizeof data),
                     SLM_OK);
    slm_error err;
    assert_int_equal(slm_gguf_writer_write_file(w, path, &err), SLM_OK);
    slm_gguf *g = NULL;
    if (slm_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
    assert_string_equal(slm_gguf_path(g), path);
    slm_str s;
    assert_true(slm_gguf_get_str(g, "general.architecture", &s));
    assert_str(s, "llama");
    const slm_gguf_tensor *t = slm_gguf_find_tensor(g, "t");
    assert_non_null(t);
    assert_memory_equal(t->data, data, sizeof data);
    assert_int_equal(slm_gguf_file_size(g), slm_gguf_data_offset(g) + 32); /* padded data */
    slm_gguf_close(g);
    remove(path);
    assert_int_equal(slm_gguf_writer_write_file(w, "/nonexistent-dir/x.gguf", &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.gguf"));
    slm_gguf_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_fixed_arrays),
        cmocka_unit_test(test_string_arrays),
        cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_tensors_and_alignment),
        cmocka_unit_test(test_write_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
