/* JSON Schema validation for eval checks, through the grammar engine: the
 * schema is compiled to a byte-level grammar (loose additionalProperties,
 * as JSON Schema means it) and the value, re-serialised compactly, is fed
 * to a matcher. Because the grammar wants object properties in the order
 * the schema lists them, the value's keys are first reordered after the
 * schema (properties, items/prefixItems, local $ref, and the properties of
 * allOf/anyOf/oneOf branches merged in order); keys the schema does not
 * name go last. This keeps one definition of "valid" in the project: what
 * constrained decoding would have produced. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "slm/grammar.h"

#define MAX_REORDER_DEPTH 64

/* "#/a/b" against the root schema (JSON pointer, ~0 ~1 escapes). */
static const json_t *resolve_ref(const json_t *root, const char *ref) {
    if (!ref || ref[0] != '#') return NULL;
    const json_t *cur = root;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof tok) {
            if (p[0] == '~' && p[1] == '1') tok[n++] = '/', p += 2;
            else if (p[0] == '~' && p[1] == '0') tok[n++] = '~', p += 2;
            else tok[n++] = *p++;
        }
        tok[n] = 0;
        if (json_is_array(cur)) cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
        else cur = json_object_get(cur, tok);
    }
    return *p ? NULL : cur;
}

/* Collects (key -> subschema) in schema order from s and its branches. */
static void collect_props(const json_t *root, const json_t *s, json_t *order, int depth) {
    if (!json_is_object(s) || depth > MAX_REORDER_DEPTH) return;
    const json_t *r = resolve_ref(root, json_string_value(json_object_get(s, "$ref")));
    if (r && r != s) collect_props(root, r, order, depth + 1);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "properties"), k, v) if (!json_object_get(order, k))
        json_object_set(order, k, v);
    static const char *const BRANCHES[] = {"allOf", "anyOf", "oneOf"};
    for (int b = 0; b < 3; b++) {
        size_t i;
        json_t *sub;
        json_array_foreach(json_object_get(s, BRANCHES[b]), i, sub) collect_props(root, sub, order, depth + 1);
    }
}

static const json_t *items_schema(const json_t *root, const json_t *s, size_t i, int depth) {
    if (!json_is_object(s) || depth > MAX_REORDER_DEPTH) return NULL;
    const json_t *prefix = json_object_get(s, "prefixItems");
    if (json_is_array(prefix) && i < json_array_size(prefix)) return json_array_get(prefix, i);
    const json_t *items = json_object_get(s, "items");
    if (json_is_array(items)) return json_array_get(items, i); /* draft-07 tuple form */
    if (json_is_object(items)) return items;
    const json_t *r = resolve_ref(root, json_string_value(json_object_get(s, "$ref")));
    return r && r != s ? items_schema(root, r, i, depth + 1) : NULL;
}

static json_t *reorder(const json_t *root, const json_t *schema, const json_t *v, int depth) {
    if (depth > MAX_REORDER_DEPTH) return json_deep_copy(v);
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(a, reorder(root, items_schema(root, schema, i, 0), json_array_get(v, i), depth + 1));
        return a;
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    json_t *order = json_object();
    collect_props(root, schema, order, 0);
    json_t *o = json_object();
    const char *k;
    json_t *sub;
    json_object_foreach(order, k, sub) {
        json_t *x = json_object_get(v, k);
        if (x) json_object_set_new(o, k, reorder(root, sub, x, depth + 1));
    }
    const json_t *extra = json_object_get(schema, "additionalProperties");
    json_object_foreach((json_t *)v, k, sub) if (!json_object_get(o, k))
        json_object_set_new(o, k, reorder(root, json_is_object(extra) ? extra : NULL, sub, depth + 1));
    json_decref(order);
    return o;
}

slm_status slm_eval_schema_valid(const json_t *schema, const json_t *value, bool *valid, slm_error *err) {
    *valid = false;
    if (!schema || !value) return slm_error_set(err, SLM_ERR_INVALID_ARG, "schema check: NULL argument");
    char *stext = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *ordered = reorder(schema, schema, value, 0);
    char *vtext = ordered ? json_dumps(ordered, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ordered);
    slm_status st = SLM_OK;
    slm_grammar *g = NULL;
    slm_grammar_matcher *m = NULL;
    slm_json_schema_opts opts = {.allow_whitespace = false, .loose_additional = true};
    if (!stext || !vtext) st = slm_error_set(err, SLM_ERR_NOMEM, "schema check: out of memory");
    if (!st) st = slm_grammar_compile_json_schema(stext, strlen(stext), &opts, &g, err);
    if (!st) st = slm_grammar_matcher_new(g, NULL, &m, err);
    if (!st) {
        slm_error lim = {0};
        bool ok = slm_grammar_matcher_accept_bytes(m, vtext, strlen(vtext), &lim);
        /* a mismatch may come with a message too; only limits are errors */
        if (lim.code == SLM_ERR_NOMEM) st = slm_error_set(err, lim.code, "%s", lim.msg);
        *valid = ok && slm_grammar_matcher_is_accepting(m);
    }
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
    free(stext);
    free(vtext);
    return st;
}
