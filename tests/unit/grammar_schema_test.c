/* JSON Schema -> grammar acceptance over ../shared/jsonschema: the
 * official draft 2020-12 suite and MaskBench (dev half). For every schema
 * the compiler accepts, each valid instance (compact JSON, keys put in the
 * schema's property order) must be accepted byte by byte and end in an
 * accepting state, and each invalid instance must be rejected in both the
 * schema order and its original order. Schemas the compiler declares
 * unsupported are counted with their reasons. The test asserts 100% on
 * the supported ones and a minimum supported count per suite.
 * Set SLM_GRAMMAR_VERBOSE=1 to list every failure and unsupported reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/grammar.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

typedef struct stats {
    int schemas, supported, unsupported, errors, pass, fail;
    int valid_checked, invalid_checked;
    char reasons[64][96];
    int reason_n[64], n_reasons;
} stats;

static int verbose;

static void note_reason(stats *st, const char *msg) {
    char r[96];
    snprintf(r, sizeof r, "%.95s", msg);
    char *q = strstr(r, " at offset"); /* group regex errors by kind */
    if (q) *q = '\0';
    for (int i = 0; i < st->n_reasons; i++)
        if (!strcmp(st->reasons[i], r)) {
            st->reason_n[i]++;
            return;
        }
    if (st->n_reasons < 64) {
        memcpy(st->reasons[st->n_reasons], r, sizeof r);
        st->reason_n[st->n_reasons++] = 1;
    }
}

/* ---- key order ----------------------------------------------------- */

/* The target of a local "#/..." reference, or NULL. */
static json_t *pointer(json_t *root, const char *ref) {
    if (ref[0] != '#') return NULL;
    const char *p = ref + 1;
    json_t *cur = root;
    while (*p == '/' && cur) {
        p++;
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/' && n < 255) {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1')) c = *p++ == '0' ? '~' : '/';
            tok[n++] = c;
        }
        tok[n] = 0;
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(tok, NULL, 10)) : json_object_get(cur, tok);
    }
    return *p ? NULL : cur;
}

/* Follows a schema made only of a $ref (with siblings the compiler merges
 * target first, which collect_keys handles). */
static json_t *resolve(json_t *root, json_t *s) {
    for (int hops = 0; hops < 16 && json_is_object(s) && json_object_size(s) == 1; hops++) {
        json_t *ref = json_object_get(s, "$ref");
        json_t *t = json_is_string(ref) ? pointer(root, json_string_value(ref)) : NULL;
        if (!t || t == s) return s;
        s = t;
    }
    return s;
}

static int overlap(json_t *order, json_t *inst) {
    int n = 0;
    size_t i;
    json_t *k;
    json_array_foreach(order, i, k) n += json_object_get(inst, json_string_value(k)) != NULL;
    return n;
}

/* Appends property names in the order the compiler writes them: its own
 * and allOf properties first (allOf is merged), then those of the
 * anyOf/oneOf branch sharing most keys with inst (alternatives are
 * expanded after merging); required names go to reqs (the compiler
 * writes required names that no merged schema declares last). */
static void collect_plain(json_t *root, json_t *s, json_t *order, json_t *reqs, int depth, json_t *deferred) {
    if (depth > 12 || !json_is_object(s)) return;
    json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        json_t *t = pointer(root, json_string_value(ref));
        if (t && t != s) collect_plain(root, resolve(root, t), order, reqs, depth + 1, deferred);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "properties"), k, v) json_array_append_new(order, json_string(k));
    json_object_foreach(json_object_get(s, "const"), k, v) json_array_append_new(order, json_string(k));
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(s, "allOf"), i, sub) collect_plain(root, resolve(root, sub), order, reqs, depth + 1, deferred);
    if (json_object_get(s, "anyOf")) json_array_append(deferred, json_object_get(s, "anyOf"));
    if (json_object_get(s, "oneOf")) json_array_append(deferred, json_object_get(s, "oneOf"));
    json_array_foreach(json_object_get(s, "required"), i, v) json_array_append(reqs, v);
    static const char *const deps[] = {"dependentRequired", "dependencies"};
    for (int d = 0; d < 2; d++) /* the compiler writes [trigger, dependents...] as required */
        json_object_foreach(json_object_get(s, deps[d]), k, v) if (json_is_array(v)) {
            json_array_append_new(reqs, json_string(k));
            json_array_extend(reqs, v);
        }
}

static void collect_keys(json_t *root, json_t *s, json_t *order, json_t *reqs, int depth, json_t *inst) {
    if (depth > 12) return;
    json_t *deferred = json_array();
    collect_plain(root, s, order, reqs, depth, deferred);
    size_t a;
    json_t *alts;
    json_array_foreach(deferred, a, alts) {
        json_t *best = NULL, *best_r = NULL;
        int best_n = -1;
        size_t i;
        json_t *sub;
        json_array_foreach(alts, i, sub) {
            json_t *o = json_array(), *r = json_array(), *both = json_array();
            collect_keys(root, resolve(root, sub), o, r, depth + 1, inst);
            json_array_extend(both, o);
            json_array_extend(both, r);
            int n = overlap(both, inst);
            json_decref(both);
            if (n > best_n) {
                json_decref(best), json_decref(best_r);
                best = o, best_r = r, best_n = n;
            } else {
                json_decref(o), json_decref(r);
            }
        }
        if (best) json_array_extend(order, best), json_array_extend(reqs, best_r);
        json_decref(best), json_decref(best_r);
    }
    json_decref(deferred);
}

static json_t *sub_schema_for(json_t *root, json_t *s, const char *key, int depth) {
    if (depth > 12 || !json_is_object(s)) return NULL;
    s = resolve(root, s);
    json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        json_t *t = pointer(root, json_string_value(ref));
        json_t *r = t && t != s ? sub_schema_for(root, t, key, depth + 1) : NULL;
        if (r) return r;
    }
    json_t *p = json_object_get(json_object_get(s, "properties"), key);
    if (p) return p;
    const char *pk;
    json_object_foreach(json_object_get(s, "patternProperties"), pk, p) { /* POSIX ERE approximates */
        regex_t re;
        if (regcomp(&re, pk, REG_EXTENDED | REG_NOSUB) != 0) continue;
        int hit = regexec(&re, key, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit) return p;
    }
    static const char *const combos[] = {"allOf", "anyOf", "oneOf"};
    for (int c = 0; c < 3; c++) {
        size_t i;
        json_t *sub;
        json_array_foreach(json_object_get(s, combos[c]), i, sub) {
            json_t *r = sub_schema_for(root, sub, key, depth + 1);
            if (r) return r;
        }
    }
    json_t *ap = json_object_get(s, "additionalProperties");
    return json_is_object(ap) ? ap : NULL;
}

static json_t *item_schema_for(json_t *root, json_t *s, size_t idx) {
    if (!s) return NULL;
    s = resolve(root, s);
    if (!json_is_object(s)) return NULL;
    json_t *pre = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    if (!pre && json_is_array(items)) return json_array_get(items, idx) ? json_array_get(items, idx) : json_object_get(s, "additionalItems");
    if (pre && idx < json_array_size(pre)) return json_array_get(pre, idx);
    if (json_is_object(items)) return items;
    static const char *const alts[] = {"anyOf", "oneOf", "allOf"};
    for (int c = 0; c < 3; c++) { /* the first branch that describes items */
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(s, alts[c]), i, b) {
            json_t *r = item_schema_for(root, b, idx);
            if (r) return r;
        }
    }
    return NULL;
}

/* A copy of inst with object keys in the schema's order (new reference). */
static json_t *reorder(json_t *root, json_t *s, json_t *inst, int depth) {
    if (depth > 40) return json_incref(inst);
    s = resolve(root, s);
    if (json_is_object(inst)) {
        json_t *order = json_array(), *reqs = json_array(), *out = json_object();
        collect_keys(root, s, order, reqs, 0, inst);
        json_array_extend(order, reqs);
        json_decref(reqs);
        size_t i;
        json_t *k;
        json_array_foreach(order, i, k) {
            const char *key = json_string_value(k);
            json_t *v = json_object_get(inst, key);
            if (v && !json_object_get(out, key))
                json_object_set_new(out, key, reorder(root, sub_schema_for(root, s, key, 0), v, depth + 1));
        }
        const char *key;
        json_t *v;
        json_object_foreach(inst, key, v) if (!json_object_get(out, key))
            json_object_set_new(out, key, reorder(root, sub_schema_for(root, s, key, 0), v, depth + 1));
        json_decref(order);
        return out;
    }
    if (json_is_array(inst)) {
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(inst, i, v) json_array_append_new(out, reorder(root, item_schema_for(root, s, i), v, depth + 1));
        return out;
    }
    return json_incref(inst);
}

/* ---- serializing ---------------------------------------------------- */

typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf;

static void oput(obuf *o, const char *t, size_t n) {
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->p = realloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, t, n);
    o->len += n;
    o->p[o->len] = 0;
}

/* A real as JSON.stringify writes it: the shortest digits that read back
 * to the same double, positional between 1e-7 and 1e21. */
static void put_real(obuf *o, double x) {
    char e[64], out[400];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    snprintf(e, sizeof e, "%.*e", p - 1, x);
    char *ep = strchr(e, 'e');
    int exp = atoi(ep + 1);
    if (exp < -7 || exp >= 21) {
        oput(o, e, strlen(e));
        return;
    }
    char digits[40];
    size_t nd = 0;
    for (char *q = e; q < ep; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    size_t n = 0;
    if (x < 0) out[n++] = '-';
    if (exp < 0) {
        out[n++] = '0', out[n++] = '.';
        for (int k = -1; k > exp; k--) out[n++] = '0';
        for (size_t k = 0; k < nd; k++) out[n++] = digits[k];
    } else {
        for (int k = 0; k <= exp; k++) out[n++] = (size_t)k < nd ? digits[k] : '0';
        if (nd > (size_t)exp + 1) {
            out[n++] = '.';
            for (size_t k = (size_t)exp + 1; k < nd; k++) out[n++] = digits[k];
        }
    }
    oput(o, out, n);
}

static void put_json(obuf *o, json_t *v) {
    if (json_is_real(v)) {
        put_real(o, json_real_value(v));
    } else if (json_is_array(v)) {
        oput(o, "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i) oput(o, ",", 1);
            put_json(o, x);
        }
        oput(o, "]", 1);
    } else if (json_is_object(v)) {
        oput(o, "{", 1);
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(v, k, x) {
            if (!first) oput(o, ",", 1);
            json_t *ks = json_string(k);
            put_json(o, ks);
            json_decref(ks);
            oput(o, ":", 1);
            put_json(o, x);
            first = 0;
        }
        oput(o, "}", 1);
    } else {
        char *t = json_dumps(v, DUMP_FLAGS);
        oput(o, t, strlen(t));
        free(t);
    }
}

static char *to_text(json_t *v) {
    obuf o = {0};
    oput(&o, "", 0);
    put_json(&o, v);
    return o.p;
}

/* ---- matching ------------------------------------------------------ */

static int accepts(slm_grammar_matcher *m, const char *text) {
    slm_grammar_matcher_reset(m);
    for (size_t i = 0; text[i]; i++)
        if (!slm_grammar_matcher_accept_bytes(m, text + i, 1, NULL)) return 0;
    return slm_grammar_matcher_is_accepting(m);
}

static void run_schema(stats *st, const char *where, json_t *schema, json_t *tests) {
    st->schemas++;
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    slm_json_schema_opts o = {.allow_whitespace = false, .loose_additional = true};
    slm_grammar *g = NULL;
    slm_error err;
    slm_status rc = slm_grammar_compile_json_schema(text, strlen(text), &o, &g, &err);
    free(text);
    if (rc != SLM_OK) {
        if (rc == SLM_ERR_UNSUPPORTED) st->unsupported++;
        else st->errors++;
        note_reason(st, err.msg);
        if (verbose) printf("  unsupported %s: %s\n", where, err.msg);
        return;
    }
    st->supported++;
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    int ok = 1;
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t) {
        json_t *data = json_object_get(t, "data");
        int valid = json_is_true(json_object_get(t, "valid"));
        json_t *ordered = reorder(schema, schema, data, 0);
        char *a = to_text(ordered), *b = to_text(data);
        json_decref(ordered);
        int acc_a = accepts(m, a), acc_b = accepts(m, b);
        int good = valid ? (acc_a || acc_b) : (!acc_a && !acc_b);
        if (valid) st->valid_checked++;
        else st->invalid_checked++;
        if (!good && verbose) printf("  FAIL %s test %zu (%s): %s\n", where, i, valid ? "valid rejected" : "invalid accepted", a);
        ok &= good;
        free(a);
        free(b);
    }
    if (ok) st->pass++;
    else st->fail++;
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

static void report(const char *name, stats *st) {
    printf("%s: %d schemas, %d supported (%d pass, %d fail), %d unsupported, %d other errors; "
           "%d valid + %d invalid instances checked\n",
           name, st->schemas, st->supported, st->pass, st->fail, st->unsupported, st->errors, st->valid_checked,
           st->invalid_checked);
    for (int round = 0; round < 12; round++) { /* top reasons */
        int best = -1;
        for (int i = 0; i < st->n_reasons; i++)
            if (st->reason_n[i] > 0 && (best < 0 || st->reason_n[i] > st->reason_n[best])) best = i;
        if (best < 0) break;
        printf("  %5d  %s\n", st->reason_n[best], st->reasons[best]);
        st->reason_n[best] = -st->reason_n[best];
    }
}

static int list_dir(const char *dir, char ***names) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
        if (n == cap) *names = realloc(*names, (size_t)(cap = cap ? cap * 2 : 64) * sizeof **names);
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    return n;
}

static const char *shared(void) {
    const char *s = getenv("SLM_SHARED_DIR");
    return s && *s ? s : "../shared";
}

static void test_official_suite(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/jsonschema/test-suite-draft2020-12", shared());
    char **names = NULL;
    int n = list_dir(dir, &names);
    if (n < 0) {
        printf("SKIP: %s missing\n", dir);
        skip();
    }
    stats st = {0};
    for (int f = 0; f < n; f++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        json_error_t je;
        if (!strcmp(names[f], "format.json")) {
            /* 2020-12 makes format an annotation (every instance there is
             * valid); we assert formats, as optional/format/ tests */
            printf("  skipping format.json (format is asserted here, annotation-only there)\n");
            free(names[f]);
            continue;
        }
        json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &je);
        if (!groups) { /* jansson limits (e.g. huge numbers): counted, not fatal */
            printf("  cannot load %s: %s\n", names[f], je.text);
            free(names[f]);
            continue;
        }
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g) {
            char where[512];
            snprintf(where, sizeof where, "%s#%zu %s", names[f], i, json_string_value(json_object_get(g, "description")));
            run_schema(&st, where, json_object_get(g, "schema"), json_object_get(g, "tests"));
        }
        json_decref(groups);
        free(names[f]);
    }
    free(names);
    report("JSON-Schema-Test-Suite draft2020-12", &st);
    assert_int_equal(st.fail, 0);
    assert_true(st.supported >= 130);
}

static void test_maskbench(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/jsonschema/maskbench-dev", shared());
    char **names = NULL;
    int n = list_dir(dir, &names);
    if (n < 0) {
        printf("SKIP: %s missing\n", dir);
        skip();
    }
    const char *lim = getenv("SLM_GRAMMAR_MASKBENCH_LIMIT");
    int limit = lim ? atoi(lim) : n;
    stats st = {0};
    for (int f = 0; f < n; f++) {
        if (f < limit) {
            char path[1300];
            snprintf(path, sizeof path, "%s/%s", dir, names[f]);
            json_error_t je;
            json_t *c = json_load_file(path, JSON_ALLOW_NUL, &je);
            if (!c) {
                printf("  cannot load %s: %s\n", names[f], je.text);
                free(names[f]);
                continue;
            }
            run_schema(&st, names[f], json_object_get(c, "schema"), json_object_get(c, "tests"));
            json_decref(c);
        }
        free(names[f]);
    }
    free(names);
    report("MaskBench (dev)", &st);
    assert_int_equal(st.fail, 0);
    assert_true(st.supported >= (limit < n ? 0 : 2500));
}

int main(void) {
    verbose = getenv("SLM_GRAMMAR_VERBOSE") != NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_suite),
        cmocka_unit_test(test_maskbench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
