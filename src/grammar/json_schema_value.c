/* Whether a JSON value is valid under a schema: for const/enum values that
 * are objects or arrays, which the grammar writes literally, so sibling
 * keywords (properties, items, required...) must be checked on the value
 * here or the output could break them. A validator for the keywords the
 * compiler supports; a keyword it cannot check on a value is an error
 * (never a value let through unchecked). Numbers compare by value (1 and
 * 1.0 are one value), as JSON Schema says. */
#include <math.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_VALUE_DEPTH 64
#define MAX_VALUE_STEPS 100000 /* schema visits per value: anyOf of $refs to itself would branch without end */

static _Thread_local unsigned long steps; /* per js_value_valid call; compiles run on many threads */

static int valid(jsg *j, json_t *s, json_t *v, int depth);

static int unsupported(jsg *j, const char *k) {
    js_fail(j, SLM_ERR_UNSUPPORTED, "enum/const with object or array values together with '%s'", k);
    return -1;
}

/* JSON equality with numbers by value. */
int js_values_equal(json_t *a, json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!js_values_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        json_t *x;
        json_object_foreach(a, k, x) {
            json_t *y = json_object_get(b, k);
            if (!y || !js_values_equal(x, y)) return 0;
        }
        return 1;
    }
    return json_equal(a, b);
}

static int has_type(json_t *v, const char *t) {
    if (!strcmp(t, "null")) return json_is_null(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "integer")) return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    return 0;
}

int js_value_type_ok(json_t *s, json_t *v) {
    json_t *t = json_object_get(s, "type");
    if (!t || (json_is_null(v) && json_is_true(json_object_get(s, "nullable")))) return 1;
    if (json_is_string(t)) return has_type(v, json_string_value(t));
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) if (json_is_string(x) && has_type(v, json_string_value(x))) return 1;
    return 0;
}

static int in_list(json_t *list, json_t *v) {
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (js_values_equal(x, v)) return 1;
    return 0;
}

/* Key k matches regex pat (JSON Schema: found anywhere): 1, 0, -1. */
static int key_matches(jsg *j, const char *pat, const char *k) {
    sdfa d;
    slm_status st = sdfa_from_regex(pat, strlen(pat), &d, j->err);
    if (st) {
        if (j->st == SLM_OK) j->st = st;
        return -1;
    }
    int m = sdfa_match(&d, k, strlen(k));
    sdfa_free(&d);
    return m;
}

/* -1 (an error) when s has one of the NULL-terminated keywords. */
static int refuse(jsg *j, json_t *s, const char *const *kw) {
    for (; *kw; kw++)
        if (json_object_get(s, *kw)) return unsupported(j, *kw);
    return 0;
}

/* n is within s's lo / hi count keywords. */
static int count_ok(json_t *s, const char *lo, const char *hi, size_t n) {
    json_t *x;
    if ((x = json_object_get(s, lo)) && json_is_number(x) && (double)n < json_number_value(x)) return 0;
    return !((x = json_object_get(s, hi)) && json_is_number(x) && (double)n > json_number_value(x));
}

static int object_ok(jsg *j, json_t *s, json_t *v, int depth) {
    static const char *const no[] = {"propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
                                     "unevaluatedProperties", NULL};
    if (refuse(j, s, no)) return -1;
    json_t *x, *props = json_object_get(s, "properties"), *ap = json_object_get(s, "additionalProperties");
    if (!count_ok(s, "minProperties", "maxProperties", json_object_size(v))) return 0;
    size_t i;
    json_array_foreach(json_object_get(s, "required"), i, x) if (json_is_string(x) && !json_object_get(v, json_string_value(x))) return 0;
    const char *k, *pat;
    json_t *pp = json_object_get(s, "patternProperties"), *ps;
    json_object_foreach(v, k, x) {
        int covered = 0, r = 1;
        if ((ps = json_object_get(props, k))) covered = 1, r = valid(j, ps, x, depth + 1);
        json_object_foreach(pp, pat, ps) {
            if (r != 1) break;
            int m = key_matches(j, pat, k);
            if (m < 0) return -1;
            if (m) covered = 1, r = valid(j, ps, x, depth + 1);
        }
        if (r == 1 && !covered && ap) r = valid(j, ap, x, depth + 1);
        if (r != 1) return r;
    }
    return 1;
}

/* contains with minContains (default 1) and maxContains. */
static int contains_ok(jsg *j, json_t *s, json_t *v, int depth) {
    json_t *c = json_object_get(s, "contains"), *lo = json_object_get(s, "minContains"), *hi = json_object_get(s, "maxContains");
    if (!c) return 1;
    double n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        int r = valid(j, c, x, depth + 1);
        if (r < 0) return r;
        n += r;
    }
    if (n < (json_is_number(lo) ? json_number_value(lo) : 1)) return 0;
    return !(json_is_number(hi) && n > json_number_value(hi));
}

static int array_ok(jsg *j, json_t *s, json_t *v, int depth) {
    static const char *const no[] = {"unevaluatedItems", NULL};
    if (refuse(j, s, no)) return -1;
    json_t *x, *pre = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    if (!count_ok(s, "minItems", "maxItems", json_array_size(v))) return 0;
    json_t *rest = items;
    if (json_is_array(items)) pre = items, rest = json_object_get(s, "additionalItems"); /* drafts before 2020-12 */
    size_t i;
    json_array_foreach(v, i, x) {
        json_t *is = i < json_array_size(pre) ? json_array_get(pre, i) : rest;
        int r = is ? valid(j, is, x, depth + 1) : 1;
        if (r != 1) return r;
    }
    if (json_is_true(json_object_get(s, "uniqueItems")))
        for (size_t a = 0; a < json_array_size(v); a++)
            for (size_t b = a + 1; b < json_array_size(v); b++)
                if (js_values_equal(json_array_get(v, a), json_array_get(v, b))) return 0;
    return contains_ok(j, s, v, depth);
}

/* The string keywords, through the string automaton the compiler uses. */
static int string_ok(jsg *j, json_t *s, json_t *v) {
    static const char *const kw[] = {"pattern", "minLength", "maxLength", "format", "$slm_not_string"};
    json_t *only = json_object();
    for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
        if (json_object_get(s, kw[i])) json_object_set(only, kw[i], json_object_get(s, kw[i]));
    if (!json_object_size(only)) return json_decref(only), 1;
    sdfa d;
    if (js_string_dfa(j, js_keep(j, only), &d)) return -1;
    int ok = sdfa_match(&d, json_string_value(v), json_string_length(v));
    sdfa_free(&d);
    return ok;
}

static int combos_ok(jsg *j, json_t *s, json_t *v, int depth) {
    json_t *x;
    size_t i;
    int r;
    json_array_foreach(json_object_get(s, "allOf"), i, x) if ((r = valid(j, x, v, depth + 1)) != 1) return r;
    json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf");
    if (any) {
        int hit = 0;
        json_array_foreach(any, i, x) {
            if ((r = valid(j, x, v, depth + 1)) < 0) return r;
            hit |= r;
        }
        if (!hit) return 0;
    }
    if (one) {
        int hits = 0;
        json_array_foreach(one, i, x) {
            if ((r = valid(j, x, v, depth + 1)) < 0) return r;
            hits += r;
        }
        if (hits != 1) return 0;
    }
    if ((x = json_object_get(s, "not"))) {
        if ((r = valid(j, x, v, depth + 1)) < 0) return r;
        if (r) return 0;
    }
    if ((x = json_object_get(s, "if"))) {
        if ((r = valid(j, x, v, depth + 1)) < 0) return r;
        json_t *next = json_object_get(s, r ? "then" : "else");
        if (next && (r = valid(j, next, v, depth + 1)) != 1) return r;
    }
    return 1;
}

static int valid(jsg *j, json_t *s, json_t *v, int depth) {
    if (depth > MAX_VALUE_DEPTH || ++steps > MAX_VALUE_STEPS) {
        js_fail(j, SLM_ERR_UNSUPPORTED, "enum/const with object or array values checked against a recursive schema");
        return -1;
    }
    json_t *d = js_deref(j, s);
    if (!d) return -1;
    if (json_object_get(d, "$dynamicRef")) return unsupported(j, "$dynamicRef");
    if (!js_value_type_ok(d, v)) return 0;
    json_t *c = json_object_get(d, "const"), *e = json_object_get(d, "enum");
    if ((c && !js_values_equal(c, v)) || (json_is_array(e) && !in_list(e, v))) return 0;
    if (json_is_number(v) && !js_num_ok(d, json_number_value(v))) return 0;
    int r = json_is_string(v) ? string_ok(j, d, v)
            : json_is_object(v) ? object_ok(j, d, v, depth)
            : json_is_array(v) ? array_ok(j, d, v, depth)
                               : 1;
    return r != 1 ? r : combos_ok(j, d, v, depth);
}

int js_value_valid(jsg *j, json_t *s, json_t *v) {
    steps = 0;
    return valid(j, s, v, 0);
}
