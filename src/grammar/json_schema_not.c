/* `not`, if/then/else and the dependency keywords, rewritten into the
 * keywords the generator handles (allOf, anyOf, type, bounds...).
 *
 * not(S) is pushed down keyword by keyword: a schema is the conjunction
 * of its keywords and each keyword constrains one type only, so
 * not(S) = (a type S excludes) or, for each keyword K of type t,
 * (type t and not K). Each not K is again a plain keyword where one
 * exists (not minimum x = exclusiveMaximum x, not required [k] = property
 * k absent, not enum = per type what is left, not anyOf = allOf of the
 * negations ...); string constraints go to the string DFA as
 * "$slm_not_string", number ones to the number DFA ("$slm_fraction",
 * "$slm_not_multipleOf", "$slm_not_numbers"). Keywords whose negation
 * no grammar can express (uniqueItems, additionalProperties,
 * propertyNames ...) are errors naming them.
 *
 * if/then/else = anyOf[allOf[if, then], allOf[not if, else]];
 * dependentRequired / dependentSchemas / draft-07 dependencies: for each
 * trigger k, anyOf[allOf[required [k], what k needs], not required [k]]. */
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_NOT_DEPTH 24

static const char *const ALL_TYPES[] = {"null", "boolean", "object", "array", "string", "number"};

static json_t *neg(jsg *j, json_t *s, int depth);

static json_t *fail_null(jsg *j, const char *what, const char *k) {
    js_fail(j, SLM_ERR_UNSUPPORTED, "'not' of %s'%.60s' (its negation is not expressible as a grammar)", what, k);
    return NULL;
}

static json_t *typed(const char *t, const char *k, json_t *v) {
    return json_pack("{s:s,s:O}", "type", t, k, v);
}

/* The types a `type` value (plus nullable) lists; integer without number
 * is reported in *int_only. */
static int type_set(json_t *s, int *has, int *int_only) {
    json_t *t = json_object_get(s, "type");
    if (!t) return 0;
    json_t *arr = json_is_string(t) ? json_pack("[O]", t) : json_incref(t);
    size_t i;
    json_t *x;
    int any_int = 0;
    json_array_foreach(arr, i, x) {
        const char *n = json_string_value(x);
        if (!n) continue;
        if (!strcmp(n, "integer")) any_int = 1;
        for (int k = 0; k < 6; k++) has[k] |= !strcmp(n, ALL_TYPES[k]);
    }
    json_decref(arr);
    if (json_is_true(json_object_get(s, "nullable"))) has[0] = 1;
    *int_only = any_int && !has[5];
    return 1;
}

/* Everything not in the enum, one part per type. */
static int neg_values(jsg *j, json_t *vals, json_t *parts) {
    json_t *strs = json_array();
    int has_null = 0, has_true = 0, has_false = 0, has_num = 0, has_obj = 0, has_arr = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        if (json_is_null(v)) has_null = 1;
        else if (json_is_true(v)) has_true = 1;
        else if (json_is_false(v)) has_false = 1;
        else if (json_is_number(v)) has_num = 1;
        else if (json_is_object(v)) has_obj = 1;
        else if (json_is_array(v)) has_arr = 1;
        else json_array_append(strs, v);
    }
    if (has_obj || has_arr) {
        json_decref(strs);
        return fail_null(j, "enum/const with ", "object or array values") ? 0 : -1;
    }
    if (!has_null) json_array_append_new(parts, json_pack("{s:s}", "type", "null"));
    if (!has_true && !has_false) json_array_append_new(parts, json_pack("{s:s}", "type", "boolean"));
    else if (!has_true || !has_false) json_array_append_new(parts, json_pack("{s:[b]}", "enum", !has_true));
    if (has_num) { /* numbers other than these: spelled out by the number DFA */
        json_t *nums = json_array();
        json_array_foreach(vals, i, v) if (json_is_number(v)) json_array_append(nums, v);
        json_array_append_new(parts, json_pack("{s:s,s:o}", "type", "number", "$slm_not_numbers", nums));
    } else {
        json_array_append_new(parts, json_pack("{s:s}", "type", "number"));
    }
    json_array_append_new(parts, json_pack("{s:s}", "type", "object"));
    json_array_append_new(parts, json_pack("{s:s}", "type", "array"));
    if (json_array_size(strs))
        json_array_append_new(parts, json_pack("{s:s,s:{s:o}}", "type", "string", "$slm_not_string", "enum", strs));
    else
        json_decref(strs), json_array_append_new(parts, json_pack("{s:s}", "type", "string"));
    return 0;
}

static int is_string_kw(const char *k) {
    return !strcmp(k, "pattern") || !strcmp(k, "minLength") || !strcmp(k, "maxLength") || !strcmp(k, "format");
}

/* Validation keywords whose negation is not handled here (an error);
 * other unknown keys are ignored, as the generator ignores them. */
static int is_known_keyword(const char *k) {
    static const char *const kw[] = {"additionalProperties", "patternProperties", "propertyNames", "uniqueItems",
                                     "contains", "minContains", "maxContains", "prefixItems", "items", "additionalItems",
                                     "oneOf", "dependentRequired", "dependentSchemas", "dependencies",
                                     "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
                                     "exclusiveMinimum", "exclusiveMaximum", "$slm_not_multipleOf", "$slm_fraction",
                                     "$slm_not_numbers"};
    for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
        if (!strcmp(k, kw[i])) return 1;
    return k[0] == '$' && strcmp(k, "$schema") && strcmp(k, "$id") && strcmp(k, "$comment");
}

static json_t *count_part(const char *t, const char *k, long long n) {
    return n < 0 ? NULL : json_pack("{s:s,s:I}", "type", t, k, (json_int_t)n);
}

/* not K for one keyword: parts appended; -1 on error. */
static int neg_keyword(jsg *j, const char *k, json_t *v, json_t *s, json_t *parts, int depth) {
    json_t *p = NULL;
    long long n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!strcmp(k, "enum") || !strcmp(k, "const")) {
        if (!strcmp(k, "enum") && !json_is_array(v)) return js_fail(j, SLM_ERR_FORMAT, "enum must be an array"), -1;
        json_t *vals = !strcmp(k, "enum") ? json_incref(v) : json_pack("[O]", v);
        int rc = neg_values(j, vals, parts);
        json_decref(vals);
        return rc;
    }
    if (!strcmp(k, "minimum")) p = typed("number", "exclusiveMaximum", v);
    else if (!strcmp(k, "maximum")) p = typed("number", "exclusiveMinimum", v);
    else if (!strcmp(k, "exclusiveMinimum") && json_is_number(v)) p = typed("number", "maximum", v);
    else if (!strcmp(k, "exclusiveMaximum") && json_is_number(v)) p = typed("number", "minimum", v);
    else if (!strcmp(k, "multipleOf")) p = typed("number", "$slm_not_multipleOf", v);
    else if (!strcmp(k, "minItems")) p = count_part("array", "maxItems", n - 1);
    else if (!strcmp(k, "maxItems")) p = count_part("array", "minItems", n < 0 ? -1 : n + 1);
    else if (!strcmp(k, "minProperties")) p = count_part("object", "maxProperties", n - 1);
    else if (!strcmp(k, "maxProperties")) p = count_part("object", "minProperties", n < 0 ? -1 : n + 1);
    else if (!strcmp(k, "required")) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (json_is_string(x))
            json_array_append_new(parts, json_pack("{s:s,s:{s:b}}", "type", "object", "properties", json_string_value(x), 0));
        return 0;
    } else if (!strcmp(k, "properties")) {
        const char *pk;
        json_t *ps;
        json_object_foreach(v, pk, ps) {
            json_t *np = neg(j, ps, depth + 1);
            if (!np) return -1;
            json_array_append_new(parts, json_pack("{s:s,s:[s],s:{s:O}}", "type", "object", "required", pk, "properties", pk, np));
        }
        return 0;
    } else if (!strcmp(k, "items") && !json_object_get(s, "prefixItems") && !json_is_array(v)) {
        json_t *ni = neg(j, v, depth + 1);
        if (!ni) return -1;
        p = typed("array", "contains", ni);
    } else if (!strcmp(k, "anyOf") || !strcmp(k, "allOf")) {
        json_t *all = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *nx = neg(j, x, depth + 1);
            if (!nx) return json_decref(all), -1;
            json_array_append(!strcmp(k, "anyOf") ? all : parts, nx);
        }
        if (!strcmp(k, "anyOf")) p = json_pack("{s:o}", "allOf", all);
        else json_decref(all);
    } else if (!strcmp(k, "not")) {
        p = json_incref(v);
    } else if (!strcmp(k, "if")) {
        json_t *t = json_object_get(s, "then"), *e = json_object_get(s, "else");
        if (t) json_array_append_new(parts, json_pack("{s:[O,{s:O}]}", "allOf", v, "not", t));
        if (e) json_array_append_new(parts, json_pack("{s:[{s:O},{s:O}]}", "allOf", "not", v, "not", e));
        return 0;
    } else if (!strcmp(k, "then") || !strcmp(k, "else")) {
        return 0; /* with "if" */
    } else if (is_known_keyword(k)) {
        return fail_null(j, "", k) ? 0 : -1;
    } /* else: an unknown keyword constrains nothing, so its negation adds nothing */
    if (p) json_array_append_new(parts, p);
    return 0;
}

static json_t *neg(jsg *j, json_t *s, int depth) {
    if (depth > MAX_NOT_DEPTH) return js_fail(j, SLM_ERR_UNSUPPORTED, "'not' nested too deeply"), NULL;
    json_t *d = js_deref(j, s);
    if (!d) return NULL;
    json_t *parts = json_array(), *strk = json_object();
    int has[6] = {0}, int_only = 0, rc = 0;
    if (type_set(d, has, &int_only)) {
        json_t *comp = json_array();
        for (int k = 0; k < 6; k++)
            if (!has[k] && !(k == 5 && int_only)) json_array_append_new(comp, json_string(ALL_TYPES[k]));
        if (int_only) /* numbers that are not integers: a non-zero fraction digit */
            json_array_append_new(parts, json_pack("{s:s,s:b}", "type", "number", "$slm_fraction", 1));
        if (json_array_size(comp)) json_array_append_new(parts, json_pack("{s:O}", "type", comp));
        json_decref(comp);
    }
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        if (rc || js_is_annotation(k) || !strcmp(k, "type") || !strcmp(k, "nullable")) continue;
        if (is_string_kw(k) || !strcmp(k, "$slm_not_string")) json_object_set(strk, !strcmp(k, "$slm_not_string") ? "not" : k, v);
        else rc = neg_keyword(j, k, v, d, parts, depth);
    }
    if (!rc && json_object_size(strk))
        json_array_append_new(parts, json_pack("{s:s,s:O}", "type", "string", "$slm_not_string", strk));
    json_decref(strk);
    if (rc || j->st) {
        json_decref(parts);
        return NULL;
    }
    size_t n = json_array_size(parts);
    json_t *r = n == 0 ? json_pack("{s:{}}", "not") : n == 1 ? json_incref(json_array_get(parts, 0)) : json_pack("{s:O}", "anyOf", parts);
    json_decref(parts);
    return js_keep(j, r);
}

json_t *js_negate(jsg *j, json_t *s) { return neg(j, s, 0); }

/* ---- the rewriting of a whole schema ---------------------------------- */

static int nontrivial_not(json_t *v) { return v && !(json_is_object(v) && json_object_size(v) == 0); }

int js_has_logic(json_t *s) {
    json_t *c = json_object_get(s, "if");
    return nontrivial_not(json_object_get(s, "not")) ||
           (c && (json_object_get(s, "then") || json_object_get(s, "else"))) ||
           json_object_size(json_object_get(s, "dependentRequired")) ||
           json_object_size(json_object_get(s, "dependentSchemas")) ||
           json_object_size(json_object_get(s, "dependencies"));
}

/* anyOf[allOf[required [k], need], not required [k]] for each trigger. */
static void add_dependencies(json_t *deps, json_t *parts) {
    const char *k;
    json_t *v;
    json_object_foreach(deps, k, v) {
        json_t *need;
        if (json_is_array(v)) {
            need = json_pack("{s:[s]}", "required", k);
            json_array_extend(json_object_get(need, "required"), v);
        } else {
            need = json_pack("{s:[{s:[s]},O]}", "allOf", "required", k, v);
        }
        json_array_append_new(parts, json_pack("{s:[o,{s:{s:[s]}}]}", "anyOf", need, "not", "required", k));
    }
}

json_t *js_rewrite_logic(jsg *j, json_t *s) {
    static const char *const logic[] = {"not", "if", "then", "else", "dependentRequired", "dependentSchemas", "dependencies"};
    json_t *rest = json_copy(s), *all = json_array(); /* shallow: children are shared, never changed */
    for (size_t i = 0; i < sizeof logic / sizeof *logic; i++) json_object_del(rest, logic[i]);
    json_array_append_new(all, rest);
    json_t *n = json_object_get(s, "not");
    if (nontrivial_not(n)) {
        json_t *nn = js_negate(j, n);
        if (!nn) return json_decref(all), NULL;
        json_array_append(all, nn);
    }
    json_t *c = json_object_get(s, "if"), *t = json_object_get(s, "then"), *e = json_object_get(s, "else");
    if (c && (t || e)) {
        json_t *yes = t ? json_pack("{s:[O,O]}", "allOf", c, t) : json_incref(c);
        json_t *no = e ? json_pack("{s:[{s:O},O]}", "allOf", "not", c, e) : json_pack("{s:O}", "not", c);
        json_array_append_new(all, json_pack("{s:[o,o]}", "anyOf", yes, no));
    }
    add_dependencies(json_object_get(s, "dependentRequired"), all);
    add_dependencies(json_object_get(s, "dependentSchemas"), all);
    add_dependencies(json_object_get(s, "dependencies"), all);
    return js_keep(j, json_pack("{s:o}", "allOf", all));
}
