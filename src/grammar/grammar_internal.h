/* Internal representation of a compiled grammar, shared by the GBNF parser
 * (gbnf_parse.c), the lowering pass (grammar_lower.c), the matcher and the
 * mask computation.
 *
 * Two levels:
 *  - gb_* "builder" grammar over Unicode code points, produced by the
 *    parser: rules are flat item lists (llama.cpp style) where GI_ALT
 *    separates alternatives; a GI_CLASS item points at a set of code point
 *    ranges, a GI_REF item at a rule.
 *  - slm_grammar, byte level: one flat element array holding every rule;
 *    GE_BYTES elements test one byte against a 256-bit set, GE_REF calls a
 *    rule, GE_ALT ends an alternative, GE_END ends a rule. A position is an
 *    index into that array; a parse stack is a list of positions. */
#ifndef SLM_GRAMMAR_INTERNAL_H
#define SLM_GRAMMAR_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "slm/grammar.h"

/* ---- growable string buffer (strbuf.c) ---------------------------- */
typedef struct gstr {
    char *p;
    size_t len, cap;
    int oom; /* sticky: an append failed */
} gstr;
void gstr_add(gstr *s, const char *t, size_t n);
void gstr_puts(gstr *s, const char *t);
void gstr_printf(gstr *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends bytes as the inside of a GBNF "..." literal (escaped). */
void gstr_gbnf_lit(gstr *s, const char *t, size_t n);
void gstr_free(gstr *s);

/* Grows *p (elements of size sz, *cap capacity) to hold need elements. */
int grow_array(void **p, size_t *cap, size_t need, size_t sz);

/* ---- builder (code point level) ----------------------------------- */
enum { GI_CLASS = 1, GI_REF = 2, GI_ALT = 3 };
typedef struct gb_item {
    uint8_t kind;
    uint32_t val; /* class index or rule index */
} gb_item;

typedef struct gb_range {
    uint32_t lo, hi;
} gb_range;

typedef struct gb_class {
    gb_range *r;
    size_t n;
} gb_class;

typedef struct gb_rule {
    char *name;
    gb_item *items;
    size_t n, cap;
    int defined;
    uint32_t origin;    /* rule this helper rule was made for (itself if named) */
    int line, col;      /* first reference (for "undefined rule" errors) */
} gb_rule;

typedef struct gb_grammar {
    gb_rule *rules;
    size_t n_rules, cap_rules;
    gb_class *classes;
    size_t n_classes, cap_classes;
    size_t total_items;
    uint32_t *name_hash; /* open addressing: rule index + 1, 0 = empty */
    size_t hash_cap;
} gb_grammar;

void gb_free(gb_grammar *b);
/* Index of the rule called name (created undefined if new), or -1 on OOM. */
int64_t gb_rule_get(gb_grammar *b, const char *name, size_t len);
/* A fresh helper rule named "<origin name>-<n>". */
int64_t gb_rule_new_helper(gb_grammar *b, uint32_t origin);
int gb_push(gb_grammar *b, uint32_t rule, uint8_t kind, uint32_t val);
/* Adds a class (ranges are copied, then sorted and merged); -1 on OOM. */
int64_t gb_class_add(gb_grammar *b, const gb_range *r, size_t n, int negate);

/* Parses GBNF text into b. */
slm_status gbnf_parse(gb_grammar *b, const char *text, size_t len, slm_error *err);

/* ---- compiled (byte level) ---------------------------------------- */
enum { GE_END = 0, GE_ALT = 1, GE_REF = 2, GE_BYTES = 3 };
typedef struct gelem {
    uint32_t type;
    uint32_t val; /* GE_REF: rule; GE_BYTES: byte-set index */
} gelem;

typedef struct gbyteset {
    uint32_t w[8];
} gbyteset;

static inline int gbyteset_has(const gbyteset *s, uint8_t b) {
    return (s->w[b >> 5] >> (b & 31)) & 1;
}

struct slm_grammar {
    gelem *el;
    size_t n_el;
    uint32_t *rule_start; /* first element of each rule */
    uint32_t *alt_off;    /* alternatives of rule r: alt_pos[alt_off[r] .. alt_off[r+1]) */
    uint32_t *alt_pos;    /* start position of each alternative */
    char **rule_name;
    size_t n_rules;
    uint32_t root;
    gbyteset *sets;
    size_t n_sets;
};

/* Lowers the builder grammar to bytes; checks references, left recursion
 * and limits. root_name NULL = "root". */
slm_status grammar_lower(gb_grammar *b, const char *root_name, slm_grammar **out, slm_error *err);

/* Code point range -> UTF-8 byte-range sequences (utf8_ranges.c). The
 * callback gets n (1..4) byte ranges lo[i]..hi[i]. Surrogates excluded. */
typedef int (*utf8_seq_fn)(void *ctx, int n, const uint8_t *lo, const uint8_t *hi);
int utf8_range_split(uint32_t lo, uint32_t hi, utf8_seq_fn fn, void *ctx);
int utf8_encode(uint32_t cp, uint8_t out[4]);

/* Compiles GBNF text already produced by a generator (schema, regex,
 * choice); a failure here is an internal error and says so. */
slm_status grammar_from_generated(const char *gbnf, size_t len, slm_grammar **out,
                                  slm_error *err);

#endif
