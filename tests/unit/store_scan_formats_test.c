/* Tests for the non-GGUF scanners of `slm scan`, on bytes built here:
 * pickles (protocols 0-4: GLOBAL, STACK_GLOBAL through the memo, INST,
 * EXT, the broken-pickle trick, truncation, benign tensor imports), zip
 * archives (stored and deflated data.pkl, CRC, bad directories, duplicate
 * names) and safetensors (valid, overlap, hole, bad dtype, shape/range
 * mismatch, offsets past the end, huge header length, duplicate keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "slm/store.h"

static slm_scan_report scan(const void *data, size_t n) {
    slm_scan_report r;
    void *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, data, n);
    slm_scan_memory(copy, n, &r);
    free(copy);
    return r;
}
#define SCAN_LIT(s) scan(s, sizeof s - 1)

static bool has_finding(const slm_scan_report *r, const char *needle) {
    for (int i = 0; i < r->n_findings; i++)
        if (strstr(r->findings[i], needle)) return true;
    return false;
}

static bool has_import(const slm_scan_report *r, const char *name) {
    for (int i = 0; i < r->n_imports && i < SLM_SCAN_MAX_IMPORTS; i++)
        if (!strcmp(r->imports[i], name)) return true;
    return false;
}

/* pickle.dumps(OrderedDict(a=1), protocol=2) */
static const char BENIGN[] = "\x80\x02\x63\x63ollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00"
                             "aq\x02K\x01s.";
/* protocol 4: os.system('id') via STACK_GLOBAL */
static const char EVIL4[] = "\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94"
                            "\x8c\x02id\x94\x85\x94R\x94.";

static void test_pickle_imports(void **state) {
    (void)state;
    slm_scan_report r = SCAN_LIT(BENIGN);
    assert_string_equal(r.format, "pickle");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED); /* harmless, but slm never loads pickles */
    assert_int_equal(r.n_imports, 1);
    assert_string_equal(r.imports[0], "collections.OrderedDict");
    r = SCAN_LIT(EVIL4);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_import(&r, "os.system"));
    assert_true(has_finding(&r, "dangerous import os.system"));
    /* protocol 0: cos\nsystem\n(S'id'\ntR. */
    r = SCAN_LIT("cos\nsystem\n(S'id'\ntR.");
    assert_string_equal(r.format, "pickle");
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_import(&r, "os.system"));
    /* INST: (S'id'\nisubprocess\ncheck_output\n. */
    r = SCAN_LIT("\x80\x02(S'id'\nisubprocess\ncheck_output\n.");
    assert_true(has_import(&r, "subprocess.check_output"));
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    /* builtins.eval, builtins.getattr; builtins.set is fine */
    r = SCAN_LIT("\x80\x04\x8c\x08\x62uiltins\x8c\x04\x65val\x93\x8c\x04\x31+1 \x85R.");
    assert_true(has_finding(&r, "dangerous import builtins.eval"));
    r = SCAN_LIT("\x80\x02\x63__builtin__\nset\n)R.");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED);
    /* an import outside the allowlist is not trusted either */
    r = SCAN_LIT("\x80\x02\x63mylib\nhelper\n)R.");
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "not on the allowlist"));
}

static void test_pickle_memo_and_stack(void **state) {
    (void)state;
    /* "os" memoized once, fetched back by BINGET for the second import */
    slm_scan_report r = SCAN_LIT("\x80\x04\x8c\x02os\x94\x8c\x04path\x94\x93\x94h\x00\x8c\x06system\x94\x93"
                                 "\x8c\x02id\x85R.");
    assert_true(has_import(&r, "os.system"));
    assert_true(has_import(&r, "os.path"));
    /* LONG_BINPUT / LONG_BINGET and protocol-0 PUT / GET */
    r = SCAN_LIT("\x80\x02X\x02\x00\x00\x00ntr\x07\x00\x00\x00" "0" "j\x07\x00\x00\x00"
                 "X\x06\x00\x00\x00system\x93)R.");
    assert_true(has_import(&r, "nt.system"));
    r = SCAN_LIT("(Vposix\np3\n0g3\nVsystem\n\x93.");
    assert_true(has_import(&r, "posix.system"));
    /* operands that are not strings: unresolvable, so unsafe */
    r = SCAN_LIT("\x80\x04K\x01K\x02\x93)R.");
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "cannot resolve"));
    /* EXT1 imports through copyreg's registry */
    r = SCAN_LIT("\x80\x02\x82\x01)R.");
    assert_true(has_finding(&r, "extension-registry"));
}

static void test_pickle_broken(void **state) {
    (void)state;
    /* the nullifAI trick: payload, then a break instead of STOP */
    char buf[128];
    size_t n = sizeof EVIL4 - 2; /* without the STOP */
    memcpy(buf, EVIL4, n);
    buf[n++] = '\xff';
    static const char more[] = "\x8c\x08\x62uiltins\x8c\x04\x65xec\x93.";
    memcpy(buf + n, more, sizeof more - 1);
    slm_scan_report r = scan(buf, n + sizeof more - 1);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "broken pickle stream"));
    assert_true(has_import(&r, "os.system"));
    assert_true(has_import(&r, "builtins.exec")); /* the walk goes on past the break */
    /* a harmless pickle that breaks is still never UNSUPPORTED-at-best */
    r = scan(BENIGN, sizeof BENIGN - 2);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "without a STOP"));
    /* truncation inside an argument, stack underflow */
    r = SCAN_LIT("\x80\x04\x8c\x40os");
    assert_true(has_finding(&r, "past the end"));
    r = SCAN_LIT("\x80\x02R.");
    assert_true(has_finding(&r, "stack underflow"));
    /* every truncation of a real pickle: never SAFE, never a crash */
    for (size_t k = 0; k < sizeof EVIL4 - 1; k++) {
        r = scan(EVIL4, k);
        assert_int_not_equal(r.verdict, SLM_SCAN_SAFE);
    }
}

/* ---- zip ------------------------------------------------------------------ */

typedef struct zbuf {
    unsigned char b[4096];
    size_t n;
} zbuf;

static void put(zbuf *z, uint64_t v, int k) {
    for (int i = 0; i < k; i++) z->b[z->n++] = (unsigned char)(v >> (8 * i));
}
static void put_bytes(zbuf *z, const void *p, size_t n) {
    memcpy(z->b + z->n, p, n);
    z->n += n;
}

typedef struct zfile {
    const char *name;
    const void *data;
    size_t n;
    bool deflate;
} zfile;

/* A zip archive of the files, written by hand the way zipfile does. */
static void make_zip(zbuf *z, const zfile *f, int nf) {
    uint64_t offs[8], csz[8];
    unsigned char comp[8][1024];
    z->n = 0;
    for (int i = 0; i < nf; i++) {
        const void *data = f[i].data;
        csz[i] = f[i].n;
        if (f[i].deflate) {
            z_stream s = {0};
            assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
            s.next_in = (Bytef *)(uintptr_t)f[i].data;
            s.avail_in = (uInt)f[i].n;
            s.next_out = comp[i];
            s.avail_out = sizeof comp[i];
            assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
            csz[i] = s.total_out;
            deflateEnd(&s);
            data = comp[i];
        }
        offs[i] = z->n;
        put_bytes(z, "PK\3\4", 4);
        put(z, 20, 2), put(z, 0, 2), put(z, f[i].deflate ? 8 : 0, 2), put(z, 0, 4);
        put(z, crc32(0, f[i].data, (uInt)f[i].n), 4), put(z, csz[i], 4), put(z, f[i].n, 4);
        put(z, strlen(f[i].name), 2), put(z, 0, 2);
        put_bytes(z, f[i].name, strlen(f[i].name));
        put_bytes(z, data, csz[i]);
    }
    uint64_t cd = z->n;
    for (int i = 0; i < nf; i++) {
        put_bytes(z, "PK\1\2", 4);
        put(z, 20, 2), put(z, 20, 2), put(z, 0, 2), put(z, f[i].deflate ? 8 : 0, 2), put(z, 0, 4);
        put(z, crc32(0, f[i].data, (uInt)f[i].n), 4), put(z, csz[i], 4), put(z, f[i].n, 4);
        put(z, strlen(f[i].name), 2), put(z, 0, 2), put(z, 0, 2), put(z, 0, 2), put(z, 0, 2), put(z, 0, 4);
        put(z, offs[i], 4);
        put_bytes(z, f[i].name, strlen(f[i].name));
    }
    put_bytes(z, "PK\5\6", 4);
    put(z, 0, 2), put(z, 0, 2), put(z, (uint64_t)nf, 2), put(z, (uint64_t)nf, 2);
    put(z, z->n - cd - 0, 4), put(z, cd, 4), put(z, 0, 2);
}

static void test_zip(void **state) {
    (void)state;
    zbuf z;
    zfile benign[] = {{"archive/data.pkl", BENIGN, sizeof BENIGN - 1, false}, {"archive/version", "3\n", 2, false},
                      {"archive/data/0", "\0\0\0\0", 4, false}};
    make_zip(&z, benign, 3);
    slm_scan_report r = scan(z.b, z.n);
    assert_string_equal(r.format, "pytorch-zip");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED);
    assert_true(has_import(&r, "collections.OrderedDict"));
    zfile evil[] = {{"archive/version", "3\n", 2, true}, {"archive/data.pkl", EVIL4, sizeof EVIL4 - 1, true}};
    make_zip(&z, evil, 2);
    r = scan(z.b, z.n);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "archive/data.pkl: dangerous import os.system"));
    /* a second pickle hidden in another *.pkl member is scanned too */
    zfile hidden[] = {{"archive/data.pkl", BENIGN, sizeof BENIGN - 1, true},
                      {"archive/constants.pkl", EVIL4, sizeof EVIL4 - 1, false}};
    make_zip(&z, hidden, 2);
    r = scan(z.b, z.n);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    /* duplicate names: readers may pick either */
    zfile dup[] = {{"archive/data.pkl", BENIGN, sizeof BENIGN - 1, false},
                   {"archive/data.pkl", BENIGN, sizeof BENIGN - 1, false}};
    make_zip(&z, dup, 2);
    r = scan(z.b, z.n);
    assert_true(has_finding(&r, "duplicate member"));
    /* corrupt data: CRC mismatch (stored) and bad deflate */
    make_zip(&z, benign, 1);
    z.b[30 + strlen("archive/data.pkl") + 5] ^= 1;
    r = scan(z.b, z.n);
    assert_true(has_finding(&r, "CRC mismatch"));
    make_zip(&z, evil + 1, 1);
    memset(z.b + 30 + strlen("archive/data.pkl"), 0xff, 4);
    r = scan(z.b, z.n);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    /* a central directory pointing outside the file; every truncation */
    make_zip(&z, benign, 3);
    z.b[z.n - 4] = 0x7f; /* third byte of the directory offset */
    r = scan(z.b, z.n);
    assert_true(has_finding(&r, "does not fit"));
    make_zip(&z, evil, 2);
    for (size_t k = 0; k < z.n; k += 7) {
        r = scan(z.b, k);
        assert_int_not_equal(r.verdict, SLM_SCAN_SAFE);
    }
    zfile none[] = {{"readme.txt", "hi", 2, false}};
    make_zip(&z, none, 1);
    r = scan(z.b, z.n);
    assert_string_equal(r.format, "zip");
    assert_true(has_finding(&r, "no *.pkl member"));
}

/* ---- safetensors ---------------------------------------------------------- */

static slm_scan_report st(const char *json, size_t data_bytes, uint64_t len_override) {
    size_t hl = strlen(json), n = 8 + hl + data_bytes;
    unsigned char *b = calloc(1, n);
    uint64_t l = len_override ? len_override : hl;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(l >> (8 * i));
    memcpy(b + 8, json, hl);
    slm_scan_report r = scan(b, n);
    free(b);
    return r;
}

static void test_safetensors(void **state) {
    (void)state;
    const char *good = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[2],"
                       "\"data_offsets\":[16,20]},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    slm_scan_report r = st(good, 20, 0);
    assert_string_equal(r.format, "safetensors");
    assert_int_equal(r.verdict, SLM_SCAN_UNSUPPORTED);
    assert_int_equal(r.n_tensors, 2);
    assert_int_equal(r.tensor_bytes, 20);
    r = st(good, 24, 0);
    assert_true(has_finding(&r, "not indexed"));
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&r, "overlaps"));
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0);
    assert_true(has_finding(&r, "unindexed bytes"));
    r = st("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0);
    assert_true(has_finding(&r, "unknown dtype"));
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0);
    assert_true(has_finding(&r, "shape x dtype size"));
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", 0, 0);
    assert_int_equal(r.verdict, SLM_SCAN_UNSAFE);
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4000000]}}", 4, 0);
    assert_true(has_finding(&r, "outside the data"));
    r = st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0);
    assert_true(has_finding(&r, "bad header JSON"));
    /* huge header lengths are refused before any allocation */
    slm_scan_report big = {0};
    static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    slm_scan_safetensors(huge, sizeof huge, &big);
    assert_int_equal(big.verdict, SLM_SCAN_UNSAFE);
    assert_true(has_finding(&big, "header length"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickle_imports), cmocka_unit_test(test_pickle_memo_and_stack),
        cmocka_unit_test(test_pickle_broken),  cmocka_unit_test(test_zip),
        cmocka_unit_test(test_safetensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
