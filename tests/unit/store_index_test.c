/* Tests for the store index without a network: open creates the layout,
 * put/list/lookup round trip, canonical lookup ("m" finds "m:latest"),
 * pins checked on lookup and on resolve (a changed blob fails loudly),
 * verify, rm with garbage collection of unreferenced blobs only, resolve of
 * paths vs names, atomic manifest writes leave no temp files, a broken
 * manifest is skipped by list, sha256 of a known file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slm/store.h"
#include "store/store_internal.h"

#define HEX_A "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" /* sha256("hello") */

static char home[1024];

static void write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("SLM_TEST_TMP");
    if (!tmp) tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(home, sizeof home, "%s/store_index_XXXXXX", tmp);
    return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : -1;
}

/* Puts a blob with content `data` (whose digest is hex) and a manifest. */
static slm_store_entry add_model(slm_store *s, const char *name, const char *data, const char *hex, bool pinned) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s/incoming", home);
    write_file(tmp, data);
    slm_error err = {0};
    char digest[72];
    snprintf(digest, sizeof digest, "sha256:%.64s", hex);
    assert_int_equal(slm_store_adopt_blob(s, tmp, digest, &err), SLM_OK);
    slm_store_entry e = {.size = strlen(data), .modified = 1700000000, .pinned = pinned};
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.digest, sizeof e.digest, "%s", digest);
    snprintf(e.quant, sizeof e.quant, "Q4_K_M");
    if (slm_store_put(s, &e, &err) != SLM_OK) fail_msg("%s", err.msg);
    return e;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_sha256(void **state) {
    (void)state;
    char path[1200], hex[65];
    uint64_t size;
    snprintf(path, sizeof path, "%s/hello", home);
    write_file(path, "hello");
    assert_int_equal(store_sha256_file(path, hex, &size, NULL), SLM_OK);
    assert_string_equal(hex, HEX_A);
    assert_int_equal(size, 5);
    slm_error err = {0};
    assert_int_equal(store_sha256_file("/nonexistent/x", hex, NULL, &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/x"));
}

static void test_put_list_lookup_rm(void **state) {
    (void)state;
    slm_store *s;
    slm_error err = {0};
    assert_int_equal(slm_store_open(home, &s, &err), SLM_OK);
    add_model(s, "m:latest", "hello", HEX_A, false);
    add_model(s, "hf.co/o/r:Q4_K_M", "hello", HEX_A, false); /* same blob, two names */
    slm_store_entry *v;
    size_t n;
    assert_int_equal(slm_store_list(s, &v, &n, &err), SLM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "hf.co/o/r:Q4_K_M"); /* sorted */
    assert_string_equal(v[1].name, "m:latest");
    assert_string_equal(v[1].quant, "Q4_K_M");
    assert_int_equal(v[1].size, 5);
    free(v);
    slm_store_entry e;
    assert_int_equal(slm_store_lookup(s, "m", &e, &err), SLM_OK); /* canonicalised */
    assert_string_equal(e.digest, "sha256:" HEX_A);
    assert_int_equal(slm_store_lookup(s, "other", &e, &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "not in the store"));
    char blobs[1200];
    snprintf(blobs, sizeof blobs, "%s/blobs", home);
    assert_int_equal(slm_store_remove(s, "m:latest", &err), SLM_OK);
    assert_int_equal(count_files(blobs), 1); /* still used by the HF name */
    assert_int_equal(slm_store_remove(s, "hf.co/o/r", &err), SLM_OK);
    assert_int_equal(count_files(blobs), 0);
    assert_int_equal(slm_store_remove(s, "m:latest", &err), SLM_ERR_IO);
    char man[1200];
    snprintf(man, sizeof man, "%s/manifests", home);
    assert_int_equal(count_files(man), 0); /* no temp files left behind */
    slm_store_close(s);
}

static void test_pins_and_verify(void **state) {
    (void)state;
    slm_store *s;
    slm_error err = {0};
    assert_int_equal(slm_store_open(home, &s, &err), SLM_OK);
    slm_store_entry e = add_model(s, "p:1", "hello", HEX_A, true);
    assert_int_equal(slm_store_verify(s, &e, &err), SLM_OK);
    slm_store_entry got;
    assert_int_equal(slm_store_lookup(s, "p:1@sha256:" HEX_A, &got, &err), SLM_OK);
    assert_int_equal(slm_store_lookup(s, "p:1@sha256:" "0000000000000000000000000000000000000000000000000000000000000000",
                                      &got, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "version pinning"));
    char path[4200];
    assert_int_equal(slm_store_resolve(s, "p:1", path, sizeof path, &err), SLM_OK);
    assert_non_null(strstr(path, "/blobs/sha256-" HEX_A));
    write_file(path, "HELLO"); /* swap the model under the pin */
    assert_int_equal(slm_store_verify(s, &e, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "no longer matches"));
    assert_int_not_equal(slm_store_resolve(s, "p:1", path, sizeof path, &err), SLM_OK);
    assert_non_null(strstr(err.msg, "version pinning"));
    assert_int_equal(slm_store_remove(s, "p:1", &err), SLM_OK);
    slm_store_close(s);
}

static void test_resolve_paths_and_bad_manifests(void **state) {
    (void)state;
    slm_store *s;
    slm_error err = {0};
    assert_int_equal(slm_store_open(home, &s, &err), SLM_OK);
    char file[1200], path[4200];
    snprintf(file, sizeof file, "%s/model.gguf", home);
    write_file(file, "x");
    assert_int_equal(slm_store_resolve(s, file, path, sizeof path, &err), SLM_OK);
    assert_string_equal(path, file); /* an existing path is used as is */
    assert_int_equal(slm_store_resolve(s, "absent:tag", path, sizeof path, &err), SLM_ERR_IO);
    /* a broken manifest and a foreign file are skipped by list */
    char bad[1300];
    snprintf(bad, sizeof bad, "%s/manifests/broken.json", home);
    write_file(bad, "{\"name\": 3");
    snprintf(bad, sizeof bad, "%s/manifests/evil.json", home);
    write_file(bad, "{\"name\":\"x\",\"digest\":\"sha256:../../etc/passwd\"}");
    slm_store_entry *v;
    size_t n;
    assert_int_equal(slm_store_list(s, &v, &n, &err), SLM_OK);
    assert_int_equal(n, 0);
    free(v);
    slm_store_entry e = {.size = 1};
    snprintf(e.name, sizeof e.name, "x:1");
    snprintf(e.digest, sizeof e.digest, "sha256:../../../etc/passwd");
    assert_int_equal(slm_store_put(s, &e, &err), SLM_ERR_FORMAT);
    assert_int_equal(slm_store_blob_path(s, e.digest, path, sizeof path, &err), SLM_ERR_FORMAT);
    slm_store_close(s);
}

static void test_open_errors(void **state) {
    (void)state;
    slm_store *s;
    slm_error err = {0};
    char file[1200];
    snprintf(file, sizeof file, "%s/plainfile", home);
    write_file(file, "x");
    assert_int_equal(slm_store_open(file, &s, &err), SLM_ERR_IO);
    assert_non_null(strstr(err.msg, "not a directory"));
    assert_null(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_put_list_lookup_rm),
        cmocka_unit_test(test_pins_and_verify),
        cmocka_unit_test(test_resolve_paths_and_bad_manifests),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
