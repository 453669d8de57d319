/* Internals of the JSON Schema -> GBNF compiler (json_schema*.c) and the
 * regex translator it uses for `pattern` (regex.c).
 *
 * The compiler writes GBNF text: one rule "rN" per schema node (ids from
 * a counter), plus fixed helper rules (jv any value, jstr, jchar, jnum,
 * jint, ws ...) written once in the preamble. $ref targets get a rule id
 * before their body is generated, so recursive schemas become recursive
 * rules. The first error wins and later work is skipped. */
#ifndef SLM_JSON_SCHEMA_INTERNAL_H
#define SLM_JSON_SCHEMA_INTERNAL_H

#include <jansson.h>

#include "grammar/grammar_internal.h"

typedef struct jsref {
    json_t *node; /* the schema a $ref resolved to */
    unsigned id;
} jsref;

typedef struct jsg {
    gstr rules;
    json_t *root;
    slm_json_schema_opts o;
    unsigned next_id;
    jsref *refs;
    size_t n_refs, cap_refs;
    json_t *keep; /* array owning schemas built by merging (allOf) */
    slm_error *err;
    slm_status st;
    int depth;
    int ref_overrides; /* drafts 04-07: $ref ignores its sibling keywords */
} jsg;

/* Emits a rule for schema s and returns its id (0 after an error). */
unsigned js_gen(jsg *j, json_t *s);
/* Records the first error; returns 0 so callers can `return js_fail(...)`. */
unsigned js_fail(jsg *j, slm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new rule with the given body (GBNF alternatives). */
unsigned js_rule(jsg *j, const char *body);
unsigned js_new_id(jsg *j);
void js_define(jsg *j, unsigned id, const char *body);

/* Per-type generators (json_schema_types.c). `s` is the schema, already
 * known to apply to that type. */
unsigned js_gen_object(jsg *j, json_t *s);
unsigned js_gen_array(jsg *j, json_t *s);
unsigned js_gen_string(jsg *j, json_t *s);
unsigned js_gen_number(jsg *j, json_t *s, int integer);
/* Any JSON string except the given keys (exact encoded spelling). */
unsigned js_gen_key_except(jsg *j, const char *const *keys, size_t n);

/* Writes a JSON value's compact serialization as a GBNF literal. */
void js_put_literal(jsg *j, gstr *o, json_t *v);

/* Regex -> GBNF expression (regex.c). json: the regex describes decoded
 * string content and the output matches its JSON-escaped form, with
 * unanchored sides matching any content (needs rule jchar). */
slm_status regex_to_gbnf_expr(const char *re, size_t len, int json, gstr *out, slm_error *err);

#endif
