/* Tests for the parallel download's chunk state file (no network needed):
 * when chunking is chosen (size threshold, connections, an existing state
 * file), how much a valid state says is done, and that a damaged, foreign
 * or oversized state file counts for nothing (the download starts over and
 * the whole-file hash still decides). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

static char g_path[4096];

static void write_state(const char *magic, uint64_t size, uint64_t chunk, uint64_t n, const uint64_t *done,
                        size_t n_done) {
    FILE *f = fopen(g_path, "wb");
    assert_non_null(f);
    uint64_t v[3] = {size, chunk, n};
    assert_int_equal(fwrite(magic, 1, 8, f), 8);
    assert_int_equal(fwrite(v, sizeof v, 1, f), 1);
    if (n_done) assert_int_equal(fwrite(done, sizeof *done, n_done, f), n_done);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("SLM_TEST_TMP");
    snprintf(g_path, sizeof g_path, "%.3000s/store_chunks_test.%d.chunks", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(g_path, "wb"); /* the directory may not exist yet under ctest */
    if (!f) snprintf(g_path, sizeof g_path, "/tmp/store_chunks_test.%d.chunks", (int)getpid());
    else fclose(f);
    unlink(g_path);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(g_path);
    return 0;
}

static void test_wanted(void **state) {
    (void)state;
    slm_pull_opts o = {0};
    assert_false(store_chunks_wanted(&o, 0, g_path));              /* size unknown */
    assert_false(store_chunks_wanted(&o, (64ull << 20) - 1, g_path)); /* below the default 64 MiB */
    assert_true(store_chunks_wanted(&o, 64ull << 20, g_path));
    assert_true(store_chunks_wanted(NULL, 1ull << 30, g_path));
    o.connections = 1;
    assert_false(store_chunks_wanted(&o, 1ull << 30, g_path));     /* one connection: one stream */
    o.connections = 4;
    o.parallel_min_bytes = 1000;
    assert_true(store_chunks_wanted(&o, 1000, g_path));
    assert_false(store_chunks_wanted(&o, 999, g_path));
    write_state("SLMCHNK1", 999, 500, 2, (uint64_t[]){0, 0}, 2);
    o.connections = 1;
    assert_true(store_chunks_wanted(&o, 999, g_path));             /* a chunked pull to resume */
}

static void test_done_valid(void **state) {
    (void)state;
    assert_int_equal(store_chunks_done(g_path, 1000, 300), 300); /* no state: the sequential prefix */
    assert_int_equal(store_chunks_done(g_path, 1000, 2000), 0);  /* longer than the file: nothing */
    write_state("SLMCHNK1", 1000, 400, 3, (uint64_t[]){400, 17, 200}, 3);
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 617);
}

static void test_done_rejects_bad_state(void **state) {
    (void)state;
    write_state("SLMCHNK0", 1000, 400, 3, (uint64_t[]){400, 17, 200}, 3); /* magic */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    write_state("SLMCHNK1", 999, 400, 3, (uint64_t[]){400, 17, 199}, 3); /* another file size */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    write_state("SLMCHNK1", 1000, 400, 2, (uint64_t[]){400, 17}, 2);     /* count does not fit */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    write_state("SLMCHNK1", 1000, 400, 3, (uint64_t[]){400, 17, 201}, 3); /* more than the last chunk */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    write_state("SLMCHNK1", 1000, 400, 3, (uint64_t[]){400, 17}, 2);     /* truncated */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    write_state("SLMCHNK1", 1000, 0, 0, NULL, 0);                        /* zero chunk size */
    assert_int_equal(store_chunks_done(g_path, 1000, 0), 0);
    uint64_t big = 1ull << 40; /* 2^40 chunks of 1 byte: refused before any allocation */
    write_state("SLMCHNK1", big, 1, big, NULL, 0);
    assert_int_equal(store_chunks_done(g_path, big, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wanted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_rejects_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
