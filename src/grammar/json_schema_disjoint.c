/* Whether the branches of a oneOf can never match the same instance, so
 * that oneOf is exactly anyOf (json_schema.c). A proof from each pair's
 * own keywords; "maybe" sends the oneOf to the exact rewriting, which
 * needs every branch's negation (and fails on keywords such as
 * additionalProperties, whose negation no grammar expresses).
 *
 * Two schemas are disjoint when: one is false; their types (with
 * nullable, and the types of their const/enum values) share nothing;
 * one's values all fail the other's type or value list; or they share
 * no type but object and an object cannot match both: a property one
 * requires is forbidden by the other (absent from a closed object), or
 * both require a property whose two schemas are disjoint (a
 * discriminator, checked the same way, a few levels deep). Keywords a
 * schema adds beyond these only shrink it, so ignoring them is sound. */
#include <math.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_DEPTH 3
#define MAX_PAIRWISE 32 /* branches compared pairwise */

enum { T_NULL = 1, T_BOOL = 2, T_OBJECT = 4, T_ARRAY = 8, T_STRING = 16, T_INT = 32, T_FRAC = 64, T_ALL = 127 };

static int type_bit(const char *t) {
    if (!strcmp(t, "null")) return T_NULL;
    if (!strcmp(t, "boolean")) return T_BOOL;
    if (!strcmp(t, "object")) return T_OBJECT;
    if (!strcmp(t, "array")) return T_ARRAY;
    if (!strcmp(t, "string")) return T_STRING;
    if (!strcmp(t, "integer")) return T_INT;
    if (!strcmp(t, "number")) return T_INT | T_FRAC;
    return T_ALL; /* unknown: assume anything */
}

static int value_bit(json_t *v) {
    if (json_is_null(v)) return T_NULL;
    if (json_is_boolean(v)) return T_BOOL;
    if (json_is_object(v)) return T_OBJECT;
    if (json_is_array(v)) return T_ARRAY;
    if (json_is_string(v)) return T_STRING;
    if (json_is_integer(v)) return T_INT;
    double x = json_number_value(v);
    return x == floor(x) ? T_INT | T_FRAC : T_FRAC; /* 1.0 is an integer too */
}

/* The instance types s allows, from type, nullable and const/enum. */
static int types_of(json_t *s) {
    json_t *t = json_object_get(s, "type");
    int m = T_ALL;
    if (json_is_string(t)) m = type_bit(json_string_value(t));
    else if (json_is_array(t)) {
        m = 0;
        size_t i;
        json_t *x;
        json_array_foreach(t, i, x) m |= json_is_string(x) ? type_bit(json_string_value(x)) : T_ALL;
    }
    if (json_is_true(json_object_get(s, "nullable"))) m |= T_NULL;
    json_t *c = json_object_get(s, "const"), *e = json_object_get(s, "enum");
    if (c) return m & value_bit(c);
    if (json_is_array(e)) {
        int v = 0;
        size_t i;
        json_t *x;
        json_array_foreach(e, i, x) v |= value_bit(x);
        return m & v;
    }
    return m;
}

/* The listed values (const or enum) as a new array, or NULL. */
static json_t *values_of(json_t *s) {
    json_t *c = json_object_get(s, "const"), *e = json_object_get(s, "enum");
    if (c) return json_pack("[O]", c);
    return json_is_array(e) ? json_incref(e) : NULL;
}

/* x and y may be the same JSON value: numbers by value (1 and 1.0 are one
 * value), scalars exactly, containers always maybe (numbers inside them
 * compare by value too, which json_equal does not do). */
static int maybe_equal(json_t *x, json_t *y) {
    if (json_is_number(x) && json_is_number(y)) return json_number_value(x) == json_number_value(y);
    if (json_is_object(x) || json_is_array(x)) return json_typeof(x) == json_typeof(y);
    return json_equal(x, y);
}

/* Every value a lists is outside b (b's types or b's value list). */
static int values_outside(json_t *a, json_t *b) {
    json_t *va = values_of(a), *vb = values_of(b);
    int out = va != NULL, tb = types_of(b);
    size_t i, k;
    json_t *x, *y;
    json_array_foreach(va, i, x) {
        int in = (value_bit(x) & tb) != 0;
        if (in && vb) {
            in = 0;
            json_array_foreach(vb, k, y) in |= maybe_equal(x, y);
        }
        if (in) out = 0;
    }
    json_decref(va);
    json_decref(vb);
    return out;
}

static int is_false_schema(json_t *s) {
    json_t *n = json_object_get(s, "not");
    return json_is_false(s) || (json_is_object(n) && json_object_size(n) == 0);
}

static int has_name(json_t *arr, const char *p) {
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), p)) return 1;
    return 0;
}

/* An object valid under s never has property p. */
static int forbids(jsg *j, json_t *s, const char *p) {
    json_t *props = json_object_get(s, "properties"), *ps = json_object_get(props, p);
    if (ps) {
        json_t *d = js_deref(j, ps);
        return d && is_false_schema(d);
    }
    json_t *ap = json_object_get(s, "additionalProperties");
    if (!ap || json_object_get(s, "patternProperties")) return 0;
    json_t *d = js_deref(j, ap);
    return d && is_false_schema(d);
}

static int disjoint(jsg *j, json_t *a, json_t *b, int depth);

/* Objects valid under both a and b do not exist: a required property
 * the other forbids, or a required discriminator with disjoint values. */
static int objects_disjoint(jsg *j, json_t *a, json_t *b, int depth) {
    json_t *ra = json_object_get(a, "required"), *rb = json_object_get(b, "required");
    size_t i;
    json_t *x;
    json_array_foreach(ra, i, x) {
        if (!json_is_string(x)) continue;
        const char *p = json_string_value(x);
        if (forbids(j, b, p)) return 1;
        json_t *pa = json_object_get(json_object_get(a, "properties"), p);
        json_t *pb = json_object_get(json_object_get(b, "properties"), p);
        if (has_name(rb, p) && pa && pb && depth < MAX_DEPTH && disjoint(j, pa, pb, depth + 1)) return 1;
    }
    json_array_foreach(rb, i, x) if (json_is_string(x) && forbids(j, a, json_string_value(x))) return 1;
    return 0;
}

static int disjoint(jsg *j, json_t *a, json_t *b, int depth) {
    json_t *da = js_deref(j, a), *db = da ? js_deref(j, b) : NULL;
    if (!da || !db) return 0;
    if (is_false_schema(da) || is_false_schema(db)) return 1;
    int common = types_of(da) & types_of(db);
    if (!common || values_outside(da, db) || values_outside(db, da)) return 1;
    return common == T_OBJECT && objects_disjoint(j, da, db, depth);
}

int js_branches_disjoint(jsg *j, json_t *arr) {
    size_t n = json_array_size(arr);
    if (n > MAX_PAIRWISE) return 0;
    for (size_t x = 0; x < n; x++)
        for (size_t y = x + 1; y < n; y++)
            if (!disjoint(j, json_array_get(arr, x), json_array_get(arr, y), 0) || j->st) return 0;
    return 1;
}
