/* Tests for base/: half-precision conversions, checked allocation, dtype
 * table, error formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slm/base.h"
#include "slm/dtype.h"

static void test_f16_roundtrip_all(void **state) {
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        float f = slm_f16_to_f32((slm_f16)i);
        if (isnan(f)) continue;
        assert_int_equal(slm_f32_to_f16(f), i);
    }
}

static void test_f16_rounding(void **state) {
    (void)state;
    assert_int_equal(slm_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(slm_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(slm_f32_to_f16(65520.0f), 0x7c00);   /* rounds to inf */
    assert_int_equal(slm_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
    assert_int_equal(slm_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    assert_int_equal(slm_f32_to_f16(5.9604644775390625e-8f), 0x0001);
    assert_int_equal(slm_f32_to_f16(2.98e-8f), 0x0000);
    assert_int_equal(slm_f32_to_f16(-2.0f), 0xc000);
    slm_base_init();
    assert_true(slm_f16_lookup(0x3c00) == 1.0f);
}

static void test_bf16(void **state) {
    (void)state;
    assert_int_equal(slm_f32_to_bf16(1.0f), 0x3f80);
    assert_true(slm_bf16_to_f32(0x3f80) == 1.0f);
    assert_int_equal(slm_f32_to_bf16(1.00390625f), 0x3f80);  /* tie to even */
    assert_int_equal(slm_f32_to_bf16(1.01171875f), 0x3f82);
}

static void test_alloc_overflow(void **state) {
    (void)state;
    assert_null(slm_malloc_array(SIZE_MAX / 2, 4));
    assert_null(slm_calloc_array(SIZE_MAX / 2, 4));
    void *p = slm_malloc_array(0, 8);
    assert_non_null(p);
    free(p);
}

static void test_dtype_table(void **state) {
    (void)state;
    assert_string_equal(slm_dtype_name(SLM_TYPE_Q4_K), "Q4_K");
    assert_null(slm_dtype_get(4));
    assert_null(slm_dtype_get(1000));
    uint64_t b;
    assert_true(slm_dtype_row_size(SLM_TYPE_Q4_K, 512, &b));
    assert_int_equal(b, 288);
    assert_false(slm_dtype_row_size(SLM_TYPE_Q4_K, 100, &b));
    assert_false(slm_dtype_row_size(SLM_TYPE_F32, UINT64_MAX / 2, &b));
}

static void test_error(void **state) {
    (void)state;
    slm_error e;
    assert_int_equal(slm_error_set(&e, SLM_ERR_IO, "x %d", 5), SLM_ERR_IO);
    slm_error_prefix(&e, "file %s", "a.gguf");
    assert_string_equal(e.msg, "file a.gguf: x 5");
    assert_int_equal(slm_error_set(NULL, SLM_ERR_FORMAT, "ignored"), SLM_ERR_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_roundtrip_all), cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16), cmocka_unit_test(test_alloc_overflow),
        cmocka_unit_test(test_dtype_table), cmocka_unit_test(test_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
