/* JSON Schema -> grammar: per-keyword tests (accept / reject lists through
 * the matcher, and errors naming what is refused), then acceptance over
 * ../shared/jsonschema: the official draft 2020-12 suite and MaskBench
 * (dev half). For every schema the compiler accepts, each valid instance
 * (compact JSON as JSON.stringify writes it, keys put in the schema's
 * property order) must be accepted byte by byte and end in an accepting
 * state, and each invalid instance must be rejected in both the schema
 * order and its original order. Schemas the compiler declares unsupported
 * are counted with their reasons. The test asserts 100% on the supported
 * ones and a minimum supported count per suite (so coverage cannot
 * silently drop). Set SLM_GRAMMAR_VERBOSE=1 to list every failure and
 * unsupported reason; SLM_GRAMMAR_MASKBENCH_LIMIT=N checks only N files. */
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

/* How many of an object value's keys schema s lists (0 for other values). */
static int fit(json_t *root, json_t *s, json_t *val) {
    if (!s || !json_is_object(val)) return 0;
    json_t *o = json_array(), *r = json_array();
    collect_keys(root, resolve(root, s), o, r, 0, val);
    int n = overlap(o, val) + overlap(r, val);
    json_decref(o), json_decref(r);
    return n;
}

/* The schema of property key: its own properties, patternProperties, a
 * combination's branch (the one listing most of val's keys, when val is
 * an object), additionalProperties. */
static json_t *sub_schema_for(json_t *root, json_t *s, const char *key, int depth, json_t *val) {
    if (depth > 12 || !json_is_object(s)) return NULL;
    s = resolve(root, s);
    json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        json_t *t = pointer(root, json_string_value(ref));
        json_t *r = t && t != s ? sub_schema_for(root, t, key, depth + 1, val) : NULL;
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
    json_t *best = NULL;
    int best_n = -1;
    for (int c = 0; c < 3; c++) {
        size_t i;
        json_t *sub;
        json_array_foreach(json_object_get(s, combos[c]), i, sub) {
            json_t *r = sub_schema_for(root, sub, key, depth + 1, val);
            int n = r ? fit(root, r, val) : -1;
            if (n > best_n) best = r, best_n = n;
        }
    }
    if (best) return best;
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
                json_object_set_new(out, key, reorder(root, sub_schema_for(root, s, key, 0, v), v, depth + 1));
        }
        const char *key;
        json_t *v;
        json_object_foreach(inst, key, v) if (!json_object_get(out, key))
            json_object_set_new(out, key, reorder(root, sub_schema_for(root, s, key, 0, v), v, depth + 1));
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

/* Feeds v to m, choosing each object's next key as the first of the
 * instance's remaining keys the grammar takes there (objects are
 * unordered; the reordering above cannot see through every combination
 * of anyOf/oneOf/allOf). 1 when all of v was taken. */
static int feed_some_order(slm_grammar_matcher *m, json_t *v) {
    if (json_is_array(v)) {
        if (!slm_grammar_matcher_accept_bytes(m, "[", 1, NULL)) return 0;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if ((i && !slm_grammar_matcher_accept_bytes(m, ",", 1, NULL)) ||
                                        !feed_some_order(m, x)) return 0;
        return slm_grammar_matcher_accept_bytes(m, "]", 1, NULL);
    }
    if (!json_is_object(v)) {
        char *t = to_text(v);
        int ok = slm_grammar_matcher_accept_bytes(m, t, strlen(t), NULL);
        free(t);
        return ok;
    }
    if (!slm_grammar_matcher_accept_bytes(m, "{", 1, NULL)) return 0;
    json_t *left = json_copy(v);
    int ok = 1;
    for (int first = 1; ok && json_object_size(left); first = 0) {
        const char *k, *pick = NULL;
        json_t *x;
        char *head = NULL;
        json_object_foreach(left, k, x) {
            json_t *ks = json_string(k);
            char *kt = to_text(ks);
            json_decref(ks);
            size_t n = strlen(kt) + 3;
            char *h = malloc(n + 1);
            snprintf(h, n + 1, "%s%s:", first ? "" : ",", kt);
            free(kt);
            if (slm_grammar_matcher_can_accept_bytes(m, h, strlen(h))) {
                pick = k, head = h;
                break;
            }
            free(h);
        }
        if (!pick) {
            ok = 0;
            break;
        }
        ok = slm_grammar_matcher_accept_bytes(m, head, strlen(head), NULL) && feed_some_order(m, json_object_get(left, pick));
        free(head);
        json_object_del(left, pick);
    }
    json_decref(left);
    return ok && slm_grammar_matcher_accept_bytes(m, "}", 1, NULL);
}

static int accepts_some_order(slm_grammar_matcher *m, json_t *v) {
    slm_grammar_matcher_reset(m);
    return feed_some_order(m, v) && slm_grammar_matcher_is_accepting(m);
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
        /* a third order: each object's keys as the grammar takes them */
        int acc_c = (valid && (acc_a || acc_b)) ? 1 : accepts_some_order(m, data);
        int good = valid ? (acc_a || acc_b || acc_c) : (!acc_a && !acc_b && !acc_c);
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
    assert_true(st.supported >= 205);
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
    assert_true(st.supported >= (limit < n ? 0 : 4950));
}

/* ---- per-keyword tests ------------------------------------------------ */

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Compiles schema (loose additionalProperties, as the suites) and checks
 * every good text is accepted and every bad one rejected. */
static void expect(const char *schema, const char *const *good, const char *const *bad) {
    slm_json_schema_opts o = {.loose_additional = true};
    slm_grammar *g = NULL;
    slm_error err = {0};
    slm_status rc = slm_grammar_compile_json_schema(schema, strlen(schema), &o, &g, &err);
    if (rc != SLM_OK) printf("compile failed: %s\n  %s\n", schema, err.msg);
    assert_int_equal(rc, SLM_OK);
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    for (; *good; good++) {
        if (!accepts(m, *good)) printf("valid rejected: %s\n  schema %s\n", *good, schema);
        assert_true(accepts(m, *good));
    }
    for (; *bad; bad++) {
        if (accepts(m, *bad)) printf("invalid accepted: %s\n  schema %s\n", *bad, schema);
        assert_false(accepts(m, *bad));
    }
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

/* The schema is refused with SLM_ERR_UNSUPPORTED and a message naming what. */
static void expect_unsupported(const char *schema, const char *what) {
    slm_grammar *g = NULL;
    slm_error err = {0};
    assert_int_equal(slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, &err), SLM_ERR_UNSUPPORTED);
    assert_null(g);
    if (!strstr(err.msg, what)) printf("message '%s' does not name '%s'\n", err.msg, what);
    assert_non_null(strstr(err.msg, what));
}

static void test_pattern_properties(void **state) {
    (void)state;
    expect("{\"properties\":{\"a\":{\"type\":\"string\"}},\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}},"
           "\"additionalProperties\":false}",
           LIST("{}", "{\"a\":\"s\"}", "{\"a\":\"s\",\"x-1\":2}", "{\"x-q\":1,\"x-r\":2}"),
           LIST("{\"b\":1}", "{\"x-1\":\"s\"}", "{\"a\":1}", "{\"x\":1}"));
    /* absent additionalProperties: other keys take anything, matching ones the pattern's schema */
    expect("{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}}}",
           LIST("{\"y\":\"s\"}", "{\"x-a\":1}", "{\"x\":\"s\",\"x-\":3}"), LIST("{\"x-a\":\"s\"}", "{\"y\":1,\"x-b\":[]}"));
    /* a listed property whose name matches gets both schemas */
    expect("{\"properties\":{\"x-a\":{\"minimum\":5}},\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}}}",
           LIST("{\"x-a\":7}", "{\"x-b\":1}"), LIST("{\"x-a\":7.5}", "{\"x-a\":3}"));
    /* a key matching two patterns must satisfy both */
    expect("{\"patternProperties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"minimum\":10}},\"additionalProperties\":false}",
           LIST("{\"ab\":12}", "{\"a\":1}", "{\"b\":11.5}"), LIST("{\"ab\":5}", "{\"ab\":11.5}", "{\"c\":1}"));
    /* additionalProperties as a schema for keys matching no pattern */
    expect("{\"patternProperties\":{\"^[0-9]+$\":{\"type\":\"boolean\"}},\"additionalProperties\":{\"type\":\"string\"}}",
           LIST("{\"12\":true,\"k\":\"v\"}"), LIST("{\"12\":\"v\"}", "{\"k\":true}", "{\"1a\":true}"));
}

static void test_property_names(void **state) {
    (void)state;
    expect("{\"propertyNames\":{\"pattern\":\"^[a-z]+$\",\"maxLength\":3}}", LIST("{}", "{\"abc\":1}", "{\"a\":1,\"b\":2}"),
           LIST("{\"abcd\":1}", "{\"A\":1}", "{\"\":1}"));
    expect("{\"propertyNames\":false}", LIST("{}", "1"), LIST("{\"a\":1}"));
    expect("{\"properties\":{\"long\":{}},\"propertyNames\":{\"maxLength\":3}}", LIST("{\"abc\":1}"), LIST("{\"long\":1}"));
    expect("{\"propertyNames\":{\"enum\":[\"a\",\"b\"]}}", LIST("{\"a\":1,\"b\":2}"), LIST("{\"c\":1}"));
}

static void test_min_max_properties(void **state) {
    (void)state;
    expect("{\"minProperties\":1,\"maxProperties\":2}", LIST("{\"a\":1}", "{\"a\":1,\"b\":2}", "[]"),
           LIST("{}", "{\"a\":1,\"b\":2,\"c\":3}"));
    expect("{\"properties\":{\"a\":{},\"b\":{}},\"minProperties\":2}", LIST("{\"a\":1,\"b\":2}", "{\"a\":1,\"z\":2}", "{\"x\":1,\"y\":2}"),
           LIST("{\"a\":1}", "{}", "{\"z\":1}"));
    expect("{\"properties\":{\"a\":{}},\"required\":[\"a\"],\"maxProperties\":1}", LIST("{\"a\":1}"), LIST("{\"a\":1,\"b\":2}", "{}"));
}

static void test_number_bounds(void **state) {
    (void)state;
    expect("{\"type\":\"number\",\"minimum\":0.5,\"exclusiveMaximum\":2.25}", LIST("0.5", "0.51", "1", "2.24999", "1.0"),
           LIST("0.49", "0.4999", "2.25", "2.250", "2.3", "-1", "0", "-0.5"));
    expect("{\"type\":\"number\",\"minimum\":-2.5,\"maximum\":-0.25}", LIST("-2.5", "-0.25", "-0.3", "-1"),
           LIST("-2.51", "-3", "-0.2", "0", "-0", "1"));
    expect("{\"type\":\"integer\",\"exclusiveMinimum\":1.5,\"maximum\":3.7}", LIST("2", "3", "3.0"), LIST("1", "4", "2.5"));
    expect("{\"type\":\"number\",\"exclusiveMinimum\":0.1}", LIST("0.10001", "1", "100"), LIST("0.1", "0.09", "0", "-1"));
}

static void test_multiple_of(void **state) {
    (void)state;
    expect("{\"type\":\"integer\",\"multipleOf\":7,\"minimum\":10}", LIST("14", "21", "140", "14.0"), LIST("7", "0", "-7", "141", "15"));
    expect("{\"type\":\"integer\",\"multipleOf\":12}", LIST("0", "-12", "120", "1200000000000"), LIST("6", "-13", "1.5"));
    expect("{\"type\":\"number\",\"multipleOf\":0.01}", LIST("1", "1.5", "1.25", "-3.10", "1.250", "0"),
           LIST("1.255", "0.001", "1.2500001"));
    expect("{\"type\":\"number\",\"multipleOf\":2.5,\"maximum\":10}", LIST("2.5", "5", "7.50", "-2.5", "10"), LIST("3", "12.5", "1.25"));
}

static void test_unique_items(void **state) {
    (void)state;
    expect("{\"items\":{\"enum\":[\"a\",\"b\",\"c\"]},\"uniqueItems\":true}", LIST("[]", "[\"a\"]", "[\"a\",\"b\",\"c\"]", "[\"c\",\"a\"]"),
           LIST("[\"a\",\"a\"]", "[\"a\",\"b\",\"a\"]", "[\"d\"]"));
    expect("{\"items\":{\"type\":\"boolean\"},\"uniqueItems\":true,\"minItems\":2}", LIST("[true,false]", "[false,true]"),
           LIST("[true,true]", "[true]", "[true,false,true]"));
    expect("{\"items\":{\"enum\":[1,2]},\"uniqueItems\":true}", LIST("[1,2]", "[2]"), LIST("[1,1.0]", "[2,2]"));
    expect("{\"uniqueItems\":false}", LIST("[1,1]"), LIST("[1,"));
    expect_unsupported("{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true}", "uniqueItems");
}

static void test_contains(void **state) {
    (void)state;
    expect("{\"contains\":{\"type\":\"string\"}}", LIST("[\"a\"]", "[1,\"a\",2]", "{}"), LIST("[]", "[1,2]"));
    expect("{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", LIST("[1,1]", "[1,2,1,1]"),
           LIST("[1]", "[1,1,1,1]", "[2,3]"));
    expect("{\"items\":{\"type\":\"integer\"},\"contains\":{\"minimum\":5},\"minContains\":2}", LIST("[5,1,6]", "[9,9]"),
           LIST("[5]", "[5,\"x\",6]", "[1,2]"));
    expect("{\"contains\":{\"const\":1},\"minContains\":0}", LIST("[]", "[2]"), LIST("[2,"));
}

static void test_dependencies(void **state) {
    (void)state;
    expect("{\"dependentRequired\":{\"a\":[\"b\"]}}", LIST("{}", "{\"b\":1}", "{\"a\":1,\"b\":2}", "3"), LIST("{\"a\":1}"));
    expect("{\"properties\":{\"a\":{},\"b\":{}},\"dependentSchemas\":{\"a\":{\"properties\":{\"b\":{\"type\":\"integer\"}}}}}",
           LIST("{\"a\":1,\"b\":2}", "{\"b\":\"x\"}", "{\"a\":1}"), LIST("{\"a\":1,\"b\":\"x\"}"));
    expect("{\"properties\":{\"a\":{},\"b\":{},\"c\":{},\"d\":{}},\"dependencies\":{\"a\":[\"b\"],\"c\":{\"required\":[\"d\"]}}}",
           LIST("{\"a\":1,\"b\":2}", "{\"c\":1,\"d\":2}", "{\"d\":1}"), LIST("{\"a\":1}", "{\"c\":1}", "{\"a\":1,\"c\":1,\"d\":1}"));
}

static void test_not_and_if(void **state) {
    (void)state;
    expect("{\"not\":{\"type\":\"string\"}}", LIST("1", "null", "{}", "[\"a\"]"), LIST("\"x\""));
    expect("{\"type\":\"string\",\"not\":{\"enum\":[\"a\",\"b\"]}}", LIST("\"c\"", "\"ab\"", "\"\""), LIST("\"a\"", "\"b\"", "1"));
    expect("{\"type\":\"object\",\"not\":{\"required\":[\"a\"]}}", LIST("{\"b\":1}", "{}"), LIST("{\"a\":1}", "{\"b\":1,\"a\":2}"));
    expect("{\"type\":\"integer\",\"not\":{\"minimum\":5}}", LIST("4", "-10"), LIST("5", "100"));
    expect("{\"type\":\"string\",\"not\":{\"pattern\":\"^a\"}}", LIST("\"ba\"", "\"\""), LIST("\"a\"", "\"abc\""));
    expect("{\"not\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"boolean\"}]}}", LIST("1", "\"s\""), LIST("null", "true"));
    expect("{\"if\":{\"properties\":{\"k\":{\"const\":\"n\"}}},\"then\":{\"properties\":{\"k\":{},\"v\":{\"type\":\"number\"}}},"
           "\"else\":{\"properties\":{\"k\":{},\"v\":{\"type\":\"string\"}}}}",
           LIST("{\"k\":\"n\",\"v\":1}", "{\"k\":\"s\",\"v\":\"s\"}", "{\"v\":1}"), /* no k: "if" holds */
           LIST("{\"k\":\"n\",\"v\":\"s\"}", "{\"k\":\"s\",\"v\":1}", "{\"v\":\"s\"}"));
    expect("{\"not\":{\"type\":\"integer\"}}", LIST("1.5", "-0.01", "\"s\"", "null"), LIST("1", "-3", "2.0"));
    expect("{\"type\":\"integer\",\"not\":{\"multipleOf\":3}}", LIST("1", "-4", "10"), LIST("3", "-9", "0"));
    expect("{\"type\":\"number\",\"not\":{\"enum\":[0,1.5]}}", LIST("1", "-1.5", "0.5", "15"), LIST("0", "0.0", "1.5", "1.50"));
    expect_unsupported("{\"not\":{\"uniqueItems\":true}}", "uniqueItems");
    expect_unsupported("{\"not\":{\"propertyNames\":{\"maxLength\":2}}}", "propertyNames");
    /* a schema that includes itself at the same position: named as such,
     * not as the generated grammar's rule */
    expect_unsupported("{\"$defs\":{\"a\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"},{\"type\":\"integer\"}]}},"
                       "\"$ref\":\"#/$defs/a\"}",
                       "$ref cycle");
}

static void test_pattern_with_lengths(void **state) {
    (void)state;
    expect("{\"type\":\"string\",\"pattern\":\"^[a-z]+$\",\"minLength\":2,\"maxLength\":3}", LIST("\"ab\"", "\"abc\""),
           LIST("\"a\"", "\"abcd\"", "\"AB\""));
    /* lengths count characters, not bytes or escapes */
    expect("{\"type\":\"string\",\"pattern\":\"b\",\"maxLength\":2}", LIST("\"\u00e9b\"", "\"\\nb\"", "\"b\""),
           LIST("\"abc\"", "\"\u00e9\u00e9b\""));
}

/* A format alone (GBNF body) and with a length limit (the DFA's regex
 * form) must agree on every sample. */
static void test_format_with_lengths(void **state) {
    (void)state;
    static const char *const fmts[] = {"uri", "uri-reference", "email", "uuid", "hostname", "ipv4", "date", "time", "date-time"};
    static const char *const samples[] = {
        "\"http://a.b/c?d#e\"", "\"mailto:x@y\"", "\"a b\"", "\"/rel/path\"", "\"x:y\"", "\"\"", "\"#frag\"",
        "\"a@b.co\"", "\"a.b@c-d.e\"", "\"a@-b\"", "\"@b\"", "\"123e4567-e89b-12d3-a456-426614174000\"",
        "\"123e4567-e89b-12d3-a456-42661417400\"", "\"host-1.example\"", "\"-bad\"", "\"192.168.0.255\"",
        "\"256.1.1.1\"", "\"01.2.3.4\"", "\"2024-02-29\"", "\"2023-02-29\"", "\"1900-02-29\"", "\"2000-02-29\"",
        "\"2024-04-31\"", "\"12:30:59Z\"", "\"24:00:00Z\"", "\"12:30:59.5+01:00\"", "\"2024-01-01T00:00:00Z\"",
        "\"2024-01-01t23:59:60-23:59\"", "\"2024-01-01 00:00:00Z\""};
    for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
        char a[160], b[160];
        snprintf(a, sizeof a, "{\"type\":\"string\",\"format\":\"%s\"}", fmts[f]);
        snprintf(b, sizeof b, "{\"type\":\"string\",\"format\":\"%s\",\"maxLength\":100}", fmts[f]);
        slm_grammar *ga = NULL, *gb = NULL;
        slm_json_schema_opts o = {0};
        assert_int_equal(slm_grammar_compile_json_schema(a, strlen(a), &o, &ga, NULL), SLM_OK);
        assert_int_equal(slm_grammar_compile_json_schema(b, strlen(b), &o, &gb, NULL), SLM_OK);
        slm_grammar_matcher *ma = NULL, *mb = NULL;
        assert_int_equal(slm_grammar_matcher_new(ga, NULL, &ma, NULL), SLM_OK);
        assert_int_equal(slm_grammar_matcher_new(gb, NULL, &mb, NULL), SLM_OK);
        int n_ok = 0;
        for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
            int x = accepts(ma, samples[k]), y = accepts(mb, samples[k]);
            if (x != y) printf("format %s: %s gbnf %d dfa %d\n", fmts[f], samples[k], x, y);
            assert_int_equal(x, y);
            n_ok += x;
        }
        assert_true(n_ok > 0); /* every format accepts some sample */
        slm_grammar_matcher_free(ma), slm_grammar_matcher_free(mb);
        slm_grammar_free(ga), slm_grammar_free(gb);
    }
    expect("{\"type\":\"string\",\"format\":\"email\",\"maxLength\":6}", LIST("\"a@b.c\""), LIST("\"ab@cd.e\"", "\"abc\""));
}

/* The formats accept only what validators (ajv-formats, RFC 3339/3986)
 * accept, so a generated value always validates: an email domain with a
 * dot, a URI with something after "scheme:" and only RFC 3986 characters
 * in their places, a leap second only at 23:59:60 UTC. Each in both
 * forms: alone (GBNF) and with a length limit (the DFA's regex form). */
static void expect_format(const char *fmt, const char *const *good, const char *const *bad) {
    char a[160], b[160];
    snprintf(a, sizeof a, "{\"type\":\"string\",\"format\":\"%s\"}", fmt);
    snprintf(b, sizeof b, "{\"type\":\"string\",\"format\":\"%s\",\"maxLength\":300}", fmt);
    expect(a, good, bad);
    expect(b, good, bad);
}

static void test_format_validators(void **state) {
    (void)state;
    expect_format("email", LIST("\"a@b.co\"", "\"first.last+tag@mail.example.org\""),
                  LIST("\"x@y\"", "\"a@b.\"", "\"a@.b\"", "\".a@b.c\"", "\"a@b_c.d\""));
    expect_format("uri",
                  LIST("\"http://a.b/c?d#e\"", "\"urn:isbn:0451450523\"", "\"mailto:x@y.z\"", "\"file:///tmp/x\"",
                       "\"https://user:pw@host.example:8080/p/q?x=1&y=%20#top\"", "\"http://192.168.0.1/\"", "\"x:/\"",
                       "\"tel:+1-816-555-1212\""),
                  LIST("\"x:\"", "\"http:?q\"", "\"http://a b\"", "\"http://a/%zz\"", "\"http://\u00e9.com\"",
                       "\"http://a/b|c\"", "\"1http://a\"", "\"http://a:8x/\"", "\"http://[::1]/\"", "\"//a/b\""));
    expect_format("uri-reference", LIST("\"\"", "\"#frag\"", "\"/rel/path\"", "\"a/b?c=d\"", "\"//host/p\"", "\"http://a.b/\""),
                  LIST("\"a b\"", "\"%zz\"", "\"x:\"", "\"a:b/c:\\\\\"", "\"{x}\""));
    expect_format("time", LIST("\"23:59:60Z\"", "\"23:59:60.5+00:00\"", "\"12:30:59-05:00\""),
                  LIST("\"12:30:60Z\"", "\"23:59:60+01:00\"", "\"23:58:60Z\""));
    expect_format("date-time", LIST("\"2016-12-31T23:59:60Z\"", "\"2024-02-29t00:00:00.123Z\""),
                  LIST("\"2024-01-01T12:00:60Z\"", "\"2023-02-29T00:00:00Z\""));
    /* formats with only a regex form */
    expect_format("ipv6",
                  LIST("\"::1\"", "\"2001:db8::8a2e:370:7334\"", "\"::ffff:192.168.0.1\"", "\"1:2:3:4:5:6:7:8\"",
                       "\"1::\"", "\"::\""),
                  LIST("\"1:2:3:4:5:6:7:8:9\"", "\":::1\"", "\"1::2::3\"", "\"g::1\"", "\"12345::\"", "\"::256.1.1.1\""));
    expect_format("duration", LIST("\"P1Y2M3DT4H5M6S\"", "\"PT1S\"", "\"P3W\"", "\"P1D\"", "\"P1MT2M\""),
                  LIST("\"P\"", "\"PT\"", "\"P1S\"", "\"1Y\"", "\"P1.5Y\"", "\"P1W2D\"", "\"P1D1Y\""));
    expect_format("json-pointer", LIST("\"\"", "\"/a/b\"", "\"/a~0b/~1\"", "\"/\"", "\"/a\\\"b\""),
                  LIST("\"a\"", "\"/a~2\"", "\"/~\""));
    expect_format("relative-json-pointer", LIST("\"0\"", "\"1/a\"", "\"2#\"", "\"10/x~1y\""),
                  LIST("\"01\"", "\"-1\"", "\"a\"", "\"1a\"", "\"1#/a\""));
    expect_format("uri-template",
                  LIST("\"http://example.com/{id}\"", "\"/search{?q,lang}\"", "\"{+path:6}/x\"", "\"plain\"",
                       "\"{list*}\""),
                  LIST("\"{}\"", "\"{a b}\"", "\"a b\"", "\"{x:0}\"", "\"%zz\"", "\"{x\""));
}

/* oneOf is compiled as anyOf only when no two branches can both match
 * (json_schema_disjoint.c); every case here must keep oneOf's meaning,
 * whichever way it is compiled. */
static void test_one_of_disjoint(void **state) {
    (void)state;
    /* discriminator: a required property with disjoint enums */
    expect("{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"k\":{\"enum\":[\"a\",\"b\"]},\"x\":{\"type\":\"integer\"}},"
           "\"required\":[\"k\"],\"additionalProperties\":false},{\"type\":\"object\",\"properties\":{\"k\":{\"const\":\"c\"},"
           "\"y\":{\"type\":\"string\"}},\"required\":[\"k\",\"y\"],\"additionalProperties\":false}]}",
           LIST("{\"k\":\"a\",\"x\":1}", "{\"k\":\"c\",\"y\":\"s\"}"),
           LIST("{\"k\":\"c\",\"x\":1}", "{\"k\":\"a\",\"y\":\"s\"}", "\"a\""));
    /* a key one branch requires and the other (closed) forbids */
    expect("{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"a\"],\"additionalProperties\":false},"
           "{\"type\":\"object\",\"properties\":{\"b\":{}},\"additionalProperties\":false}]}",
           LIST("{\"a\":1}", "{\"b\":1}", "{}"), LIST("{\"a\":1,\"b\":1}", "[]"));
    /* not disjoint: null is in both nullable branches */
    expect("{\"oneOf\":[{\"type\":\"string\",\"nullable\":true},{\"type\":\"integer\",\"nullable\":true}]}",
           LIST("\"a\"", "1"), LIST("null", "true"));
    /* not disjoint: 1 and 1.0 are one value (the enum is filtered by the
     * negation's numbers) */
    expect("{\"oneOf\":[{\"enum\":[1,2]},{\"enum\":[1.0]}]}", LIST("2"), LIST("1", "1.0", "3"));
    expect("{\"enum\":[1,2,2.5,3],\"not\":{\"multipleOf\":2}}", LIST("1", "2.5", "3"), LIST("2"));
    expect("{\"enum\":[1,2.5],\"not\":{\"type\":\"integer\"}}", LIST("2.5"), LIST("1"));
    /* not disjoint: a value in both lists */
    expect("{\"oneOf\":[{\"enum\":[1,\"x\"]},{\"enum\":[\"x\",3]}]}", LIST("1", "3"), LIST("\"x\"", "2"));
    /* not disjoint: without a type, any non-object matches both */
    expect("{\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"b\"]}]}", LIST("{\"a\":1}", "{\"b\":1}"),
           LIST("\"x\"", "{\"a\":1,\"b\":2}", "{}"));
}

/* const/enum objects and arrays are written literally: every sibling
 * keyword must hold for each listed value (json_schema_value.c). */
static void test_enum_containers(void **state) {
    (void)state;
    expect("{\"enum\":[{\"a\":1},{\"b\":2}],\"required\":[\"a\"]}", LIST("{\"a\":1}"), LIST("{\"b\":2}"));
    expect("{\"enum\":[[1],[1,2]],\"maxItems\":1}", LIST("[1]"), LIST("[1,2]"));
    expect("{\"enum\":[{\"a\":1},{\"a\":\"x\"}],\"properties\":{\"a\":{\"type\":\"string\"}}}", LIST("{\"a\":\"x\"}"),
           LIST("{\"a\":1}"));
    expect("{\"enum\":[{\"ab\":1},{\"cd\":1}],\"patternProperties\":{\"^a\":{\"type\":\"string\"}}}",
           LIST("{\"cd\":1}"), LIST("{\"ab\":1}"));
    expect("{\"enum\":[[1,\"x\"],[2,3]],\"contains\":{\"type\":\"string\"}}", LIST("[1,\"x\"]"), LIST("[2,3]"));
    expect("{\"enum\":[{\"a\":[1,1.0]},{\"a\":[1,2]}],\"properties\":{\"a\":{\"uniqueItems\":true}}}",
           LIST("{\"a\":[1,2]}"), LIST("{\"a\":[1,1.0]}"));
    expect("{\"enum\":[{\"k\":\"ab\"},{\"k\":\"abc\"}],\"properties\":{\"k\":{\"maxLength\":2}}}",
           LIST("{\"k\":\"ab\"}"), LIST("{\"k\":\"abc\"}"));
    expect_unsupported("{\"enum\":[{\"a\":1}],\"propertyNames\":{\"maxLength\":3}}", "propertyNames");
    /* a recursive schema cannot make the check run without end */
    expect_unsupported("{\"$defs\":{\"r\":{\"anyOf\":[{\"$ref\":\"#/$defs/r\"},{\"$ref\":\"#/$defs/r\"}]}},"
                       "\"enum\":[{\"x\":1}],\"properties\":{\"x\":{\"$ref\":\"#/$defs/r\"}}}",
                       "recursive schema");
}

/* The official suite's optional format tests (optional/format/): every
 * string it calls invalid must be refused, so a generated value is never
 * one of them. Valid strings may be refused only where the compiler is
 * deliberately stricter than the RFC, as validators (ajv-formats) are or
 * because a grammar cannot check the rule; the counts are pinned:
 * date-time and time: leap seconds other than 23:59:60 UTC; email:
 * quoted local parts and address literals; hostname: A-labels ("xn--"
 * Punycode); uri and iri: IP literal hosts (and astral characters in
 * iri); uri-template: dotted variable names and apostrophes, as ajv. */
static void test_official_formats(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int valid_refused;
    } fmts[] = {{"date", 0}, {"date-time", 1}, {"time", 4}, {"duration", 0}, {"email", 5}, {"hostname", 15},
                {"ipv4", 0}, {"ipv6", 0}, {"uuid", 0}, {"uri", 1}, {"uri-reference", 0}, {"iri", 5},
                {"uri-template", 2}, {"json-pointer", 0}, {"relative-json-pointer", 0}};
    int files = 0;
    for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
        char path[1200], schema[160];
        snprintf(path, sizeof path, "%s/jsonschema/test-suite-draft2020-12/optional/format/%s.json", shared(),
                 fmts[f].name);
        json_t *root = json_load_file(path, JSON_ALLOW_NUL, NULL);
        if (!root) continue;
        files++;
        snprintf(schema, sizeof schema, "{\"type\":\"string\",\"format\":\"%s\"}", fmts[f].name);
        slm_grammar *g = NULL;
        slm_grammar_matcher *m = NULL;
        assert_int_equal(slm_grammar_compile_json_schema(schema, strlen(schema), NULL, &g, NULL), SLM_OK);
        assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
        int refused = 0, n = 0;
        size_t i, k;
        json_t *group, *t;
        json_array_foreach(root, i, group) json_array_foreach(json_object_get(group, "tests"), k, t) {
            json_t *data = json_object_get(t, "data");
            if (!json_is_string(data)) continue; /* formats apply to strings only */
            char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
            int valid = json_is_true(json_object_get(t, "valid")), ok = accepts(m, text);
            if (!valid && ok) fail_msg("format %s: invalid %s accepted", fmts[f].name, text);
            refused += valid && !ok;
            n++;
            free(text);
        }
        printf("  format %s: %d strings, %d valid refused\n", fmts[f].name, n, refused);
        assert_int_equal(refused, fmts[f].valid_refused);
        slm_grammar_matcher_free(m);
        slm_grammar_free(g);
        json_decref(root);
    }
    if (!files) skip();
}

int main(void) {
    verbose = getenv("SLM_GRAMMAR_VERBOSE") != NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_properties),
        cmocka_unit_test(test_property_names),
        cmocka_unit_test(test_min_max_properties),
        cmocka_unit_test(test_number_bounds),
        cmocka_unit_test(test_multiple_of),
        cmocka_unit_test(test_unique_items),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_not_and_if),
        cmocka_unit_test(test_pattern_with_lengths),
        cmocka_unit_test(test_format_with_lengths),
        cmocka_unit_test(test_format_validators),
        cmocka_unit_test(test_official_formats),
        cmocka_unit_test(test_one_of_disjoint),
        cmocka_unit_test(test_enum_containers),
        cmocka_unit_test(test_official_suite),
        cmocka_unit_test(test_maskbench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
