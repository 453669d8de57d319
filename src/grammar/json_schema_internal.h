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
    unsigned long work;   /* js_gen calls: bounds the expansion of not/oneOf/if */
} jsg;

/* Emits a rule for schema s and returns its id (0 after an error). */
unsigned js_gen(jsg *j, json_t *s);
/* Records the first error; returns 0 so callers can `return js_fail(...)`. */
unsigned js_fail(jsg *j, slm_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new rule with the given body (GBNF alternatives). */
unsigned js_rule(jsg *j, const char *body);
/* The same with a printf-style body (short rules). */
unsigned js_rulef(jsg *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned js_new_id(jsg *j);
/* s with a top-level $ref resolved and merged with its siblings, booleans
 * as objects (NULL after an error). The result lives as long as j. */
json_t *js_deref(jsg *j, json_t *s);
/* The branches of a oneOf can never both match (json_schema_disjoint.c):
 * 1, or 0 when not proven (j->st set on an error). */
int js_branches_disjoint(jsg *j, json_t *arr);
/* A number x satisfies s's number keywords (json_schema.c). */
int js_num_ok(json_t *s, double x);
/* Value v has a type s allows (type, nullable; no type: any). */
int js_value_type_ok(json_t *s, json_t *v);
/* JSON values equal, numbers by value (json_schema_value.c). */
int js_values_equal(json_t *a, json_t *b);
/* Value v is valid under schema s: 1, 0, or -1 (j->st set) when s has a
 * keyword this cannot check on a value. */
int js_value_valid(jsg *j, json_t *s, json_t *v);
/* Keeps v alive as long as j (returns v). */
json_t *js_keep(jsg *j, json_t *v);
/* Annotation keywords (no effect on validity). */
int js_is_annotation(const char *k);
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

/* `not`, if/then/else and dependencies (json_schema_not.c). */
int js_has_logic(json_t *s);
/* s as allOf[s without those keywords, their equivalent schemas] (kept
 * by j), or NULL after an error naming what cannot be expressed. */
json_t *js_rewrite_logic(jsg *j, json_t *s);
/* A schema for the instances s rejects (kept by j), or NULL. */
json_t *js_negate(jsg *j, json_t *s);

/* Writes a set of decoded code points (sorted, merged ranges) as one GBNF
 * item matching their spelling inside a JSON string (regex.c). */
void regex_json_set(gstr *o, const gb_range *r, size_t n);

/* ---- string automata (json_schema_nfa.c, json_schema_dfa.c) --------- */

/* A complete DFA over decoded code points (the content of a JSON string).
 * The alphabet is cut into classes: class c is [cut[c], cut[c+1]) (the
 * last one ends at 0x110000). next[s * n_cls + c] is the next state; the
 * start is state 0. Used where a grammar needs boolean operations on
 * string languages: keys not matching a pattern, pattern and lengths,
 * `not` of string constraints. */
typedef struct sdfa {
    uint32_t *cut;
    uint32_t n_cls;
    uint32_t *next;
    uint8_t *acc;
    uint32_t n_st;
} sdfa;

#define SDFA_MAX_STATES 50000

/* ECMA-262 regex as JSON Schema `pattern` (a search: unanchored sides
 * match anything) -> DFA. */
slm_status sdfa_from_regex(const char *re, size_t len, sdfa *out, slm_error *err);
/* Exactly the given strings (UTF-8). */
slm_status sdfa_from_strings(const char *const *s, size_t n, sdfa *out, slm_error *err);
/* Every string whose length in code points is in [lo, hi] (hi < 0: no
 * upper bound) and that a accepts (a NULL: any string). */
slm_status sdfa_length(const sdfa *a, long long lo, long long hi, sdfa *out, slm_error *err);
enum { SDFA_AND, SDFA_AND_NOT, SDFA_OR };
slm_status sdfa_product(const sdfa *a, const sdfa *b, int op, sdfa *out, slm_error *err);
void sdfa_complement(sdfa *a);
int sdfa_match(const sdfa *d, const char *utf8, size_t len);
int sdfa_is_empty(const sdfa *d);
void sdfa_free(sdfa *d);
/* Moore minimization in place (the start stays state 0). */
slm_status sdfa_minimize(sdfa *d, slm_error *err);
/* Rule for the JSON strings ("..." with their quotes) whose content d
 * accepts; 2 (never) when d is empty. */
unsigned js_gen_sdfa(jsg *j, const sdfa *d);
/* The same without quotes (number spellings). */
unsigned js_gen_sdfa_raw(jsg *j, const sdfa *d);
/* Numbers with non-integer bounds / multipleOf (json_schema_number.c). */
unsigned js_gen_number_dfa(jsg *j, json_t *s, int integer);
/* The strings valid under schema s (json_schema_strdfa.c); 0 or -1 with
 * the error recorded in j. */
int js_string_dfa(jsg *j, json_t *s, sdfa *out);
/* Whether format f has a regex form (json_schema_strdfa.c). */
int js_format_regex_known(const char *f);

#endif
