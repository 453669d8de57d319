/* Tests for `slm scan`: a real model is SAFE, all 25 real chat templates of
 * ../shared/chat-templates pass, sandbox-escape templates (dunder access,
 * |attr, cycler/lipsum globals, escaped underscores, import) are UNSAFE,
 * formats are identified from bytes (pickle, zip, safetensors, unknown),
 * and truncated or tensor-less GGUF is UNSAFE. The pickle, zip and
 * safetensors scanners have their own tests in store_scan_formats_test.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm/gguf.h"
#include "slm/store.h"

static char dir[1024];

static int setup(void **state) {
    (void)state;
    const char *tmp = getenv("SLM_TEST_TMP");
    if (!tmp) tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(dir, sizeof dir, "%s/store_scan_XXXXXX", tmp);
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static slm_scan_report scan_bytes(const char *name, const void *data, size_t n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    slm_scan_report r;
    slm_error err = {0};
    if (slm_scan_file(path, &r, &err) != SLM_OK) fail_msg("%s", err.msg);
    return r;
}

static slm_scan_verdict template_verdict(const char *t) {
    slm_scan_report r = {0};
    slm_scan_template(t, strlen(t), "tokenizer.chat_template", &r);
    return r.verdict;
}

static void test_shared_model_safe(void **state) {
    (void)state;
    const char *shared = getenv("SLM_SHARED_DIR");
    char path[1200];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("SKIP: %s is absent\n", path);
        skip();
    }
    fclose(f);
    slm_scan_report r;
    assert_int_equal(slm_scan_file(path, &r, NULL), SLM_OK);
    assert_int_equal(r.verdict, SLM_SCAN_SAFE);
    assert_string_equal(r.format, "gguf");
    assert_true(r.n_tensors > 0);
    assert_true(r.tensor_bytes > 0 && r.tensor_bytes < 1185376);
}

static void test_real_templates_pass(void **state) {
    (void)state;
    const char *shared = getenv("SLM_SHARED_DIR");
    char path[1200];
    snprintf(path, sizeof path, "%s/chat-templates", shared ? shared : "../shared");
    DIR *d = opendir(path);
    if (!d) {
        print_message("SKIP: %s is absent\n", path);
        skip();
    }
    int n = 0;
    struct dirent *de;
    static char buf[1 << 20];
    while ((de = readdir(d)) != NULL) {
        if (!strstr(de->d_name, ".jinja")) continue;
        char p[2400];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        slm_scan_report r = {0};
        slm_scan_template(buf, len, de->d_name, &r);
        if (r.verdict != SLM_SCAN_SAFE) fail_msg("%s flagged: %s", de->d_name, r.findings[0]);
        n++;
    }
    closedir(d);
    assert_true(n >= 20);
}

static void test_escape_templates_flagged(void **state) {
    (void)state;
    const char *bad[] = {
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% for m in messages %}{{ lipsum.__globals__['os'].popen('id') }}{% endfor %}",
        "{{ self._TemplateReference__context }}",
        "{{ messages|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ ()|attr('__cla' ~ 'ss__') }}",
        "{% set x = namespace() %}{{ x.__init__ }}",
        "{{ config.items() }}",
        "{% import 'os' as os %}",
        "{{ joiner.__init__ }}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (template_verdict(bad[i]) != SLM_SCAN_UNSAFE) fail_msg("not flagged: %s", bad[i]);
    /* outside code blocks text is harmless output; comments are ignored */
    assert_int_equal(template_verdict("Say __class__ and import os {# __globals__ #}{{ messages[0]['content'] }}"),
                     SLM_SCAN_SAFE);
    assert_int_equal(template_verdict("{{ '}}' }}{{ bos_token }}"), SLM_SCAN_SAFE);
    assert_int_equal(template_verdict("{{ unterminated"), SLM_SCAN_SAFE);
    assert_int_equal(template_verdict("{{ '__"), SLM_SCAN_UNSAFE);
}

static void test_gguf_with_evil_template(void **state) {
    (void)state;
    slm_gguf_writer *w = slm_gguf_writer_new();
    slm_gguf_writer_set_str(w, "general.architecture", "llama");
    slm_gguf_writer_set_str(w, "tokenizer.chat_template.tool_use", "{{ cycler.__init__.__globals__.os }}");
    float data[4] = {1, 2, 3, 4};
    int64_t ne[1] = {4};
    assert_int_equal(slm_gguf_writer_add_tensor(w, "t", SLM_TYPE_F32, 1, ne, data, sizeof data), SLM_OK);
    void *buf;
    size_t n;
    assert_int_equal(slm_gguf_writer_write_memory(w, &buf, &n, NULL), SLM_OK);
    slm_scan_report r = scan_bytes("evil.gguf", buf, n);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_non_null(strstr(r.findings[0], "tokenizer.chat_template.tool_use"));
    /* the same file truncated: the reader refuses it */
    r = scan_bytes("trunc.gguf", buf, n / 2);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    if (!strstr(r.findings[0], "invalid GGUF")) fail_msg("%s", r.findings[0]);
    free(buf);
    slm_gguf_writer_free(w);
    /* no tensors, no architecture */
    w = slm_gguf_writer_new();
    assert_int_equal(slm_gguf_writer_write_memory(w, &buf, &n, NULL), SLM_OK);
    r = scan_bytes("empty.gguf", buf, n);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_int_equal(r.n_findings, 2);
    free(buf);
    slm_gguf_writer_free(w);
}

static void test_formats_from_bytes(void **state) {
    (void)state;
    /* a pickle that would call os.system("id") if unpickled */
    static const char pk[] = "\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94"
                             "\x93\x94\x8c\x02id\x94\x85\x94R\x94.";
    slm_scan_report r = scan_bytes("model.gguf", pk, sizeof pk - 1); /* the name lies */
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_string_equal(r.format, "pickle");
    assert_int_equal(r.n_imports, 1);
    assert_string_equal(r.imports[0], "posix.system");
    static const char zip[] = "PK\x03\x04\x14\x00\x00\x00archive/data.pkl"; /* no central directory */
    r = scan_bytes("model.bin", zip, sizeof zip - 1);
    assert_string_equal(r.format, "zip");
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_non_null(strstr(r.findings[0], "end-of-central-directory"));
    static const char st[] = "\x02\x00\x00\x00\x00\x00\x00\x00{}";
    r = scan_bytes("model.safetensors", st, sizeof st - 1);
    assert_string_equal(r.format, "safetensors");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED);
    static const char st_bad[] = "\xff\xff\x00\x00\x00\x00\x00\x00{}";
    r = scan_bytes("bad.safetensors", st_bad, sizeof st_bad - 1); /* header length past the end */
    assert_string_equal(r.format, "unknown");
    r = scan_bytes("empty", "", 0);
    assert_string_equal(r.format, "unknown");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED);
    slm_error err = {0};
    assert_int_equal(slm_scan_file("/nonexistent/file", &r, &err), SLM_ERR_IO);
    assert_int_equal(slm_scan_file(dir, &r, &err), SLM_ERR_IO); /* a directory */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model_safe),      cmocka_unit_test(test_real_templates_pass),
        cmocka_unit_test(test_escape_templates_flagged), cmocka_unit_test(test_gguf_with_evil_template),
        cmocka_unit_test(test_formats_from_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
