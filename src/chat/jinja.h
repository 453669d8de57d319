/* Internal interface of the Jinja interpreter behind slm/chat.h.
 *
 * Data flow: jinja_lex.c turns the source into tokens (whitespace control
 * applied), jinja_parse.c builds a tree of jnode, jinja_eval.c walks it.
 * Values (jv) are small tagged structs passed by value; anything bigger
 * (strings, lists, dicts) lives in an arena (jarena) that is freed in one
 * go when the render ends, so there is no reference counting. The arena
 * has a byte cap: it is the sandbox's memory limit. */
#ifndef SLM_CHAT_JINJA_H
#define SLM_CHAT_JINJA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm/base.h"

/* ---- arena and string builder (jinja_arena.c) ---- */
typedef struct jchunk jchunk;
typedef struct jarena {
    jchunk *head;
    size_t used;  /* bytes handed out plus chunk overhead */
    size_t cap;   /* 0 = unlimited */
} jarena;
void *ja_alloc(jarena *a, size_t n); /* zeroed; NULL when over cap */
void ja_free(jarena *a);

typedef struct jbuf { /* malloc'ed growable byte buffer */
    char *p;
    size_t n, cap, limit; /* limit 0 = unlimited */
    bool overflow;        /* an append was refused (limit or malloc) */
} jbuf;
bool jb_put(jbuf *b, const char *s, size_t n);
bool jb_puts(jbuf *b, const char *s);
bool jb_putc(jbuf *b, char c);
bool jb_printf(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jb_free(jbuf *b);

/* ---- values (jinja_value.c) ---- */
typedef struct jstr {
    const char *p;
    size_t n;
} jstr;

typedef enum jv_kind {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR,
    JV_LIST,  /* list or tuple (jlist.tuple) */
    JV_DICT,  /* insertion-ordered mapping */
    JV_NS,    /* namespace(): a mutable dict with attribute access */
    JV_LOOP,  /* the `loop` variable of a for loop */
    JV_MACRO, /* a {% macro %} */
    JV_FUNC,  /* a built-in function or bound method */
} jv_kind;

struct jlist;
struct jdict;
struct jloop;
struct jnode;
struct jframe;
struct jfunc;

typedef struct jv {
    jv_kind k;
    bool safe; /* JV_STR marked |safe (Markup): `+` escapes the other side */
    union {
        bool b;
        int64_t i;
        double f;
        jstr s;
        struct jlist *l;
        struct jdict *d;
        struct jloop *loop;
        struct jmacro *m;
        struct jfunc *fn;
    } u;
} jv;

typedef struct jlist {
    jv *v;
    size_t n, cap;
    bool tuple;
    bool gen; /* a generator (map, select, ...): no len, no JSON, always true */
} jlist;

typedef struct jdict {
    jv *key, *val;
    size_t n, cap;
} jdict;

typedef struct jloop {
    int64_t index0, length, depth;
    jv prev, next;
    bool has_prev, has_next;
} jloop;

typedef struct jmacro {
    const struct jnode *def;
} jmacro;

typedef struct jfunc {
    int id;  /* jinja_methods.c's function id */
    jv self; /* bound object for methods (JV_UNDEF for globals) */
} jfunc;

/* the render context: everything evaluation needs */
typedef struct jctx {
    jarena *arena;
    slm_error *err;
    bool failed;      /* err holds the first error; later ones are dropped */
    bool raised;      /* raise_exception was called */
    int jump;         /* pending break (1) / continue (2) */
    bool limit_hit;   /* a resource limit stopped the render */
    uint64_t iterations, max_iterations;
    uint64_t depth, max_depth;
    uint64_t max_output;
    double deadline;  /* slm_now_s() value */
    uint32_t tick;
    struct jframe *globals;
    struct jframe *frame; /* innermost scope, where names are looked up */
    int line, col;    /* position of the node being evaluated */
} jctx;

/* error helpers: set ctx->err with "line:col: " prefix, return false */
bool jfail(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool jlimit(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool jtick(jctx *c); /* counts one iteration; checks iteration and time limits */

static inline jv jv_undef(void) { jv v = {.k = JV_UNDEF}; return v; }
static inline jv jv_none(void) { jv v = {.k = JV_NONE}; return v; }
static inline jv jv_bool(bool b) { jv v = {.k = JV_BOOL, .u.b = b}; return v; }
static inline jv jv_int(int64_t i) { jv v = {.k = JV_INT, .u.i = i}; return v; }
static inline jv jv_float(double f) { jv v = {.k = JV_FLOAT, .u.f = f}; return v; }
static inline jv jv_strn(const char *p, size_t n) {
    jv v = {.k = JV_STR, .u.s = {p, n}};
    return v;
}

bool jv_str_copy(jctx *c, const char *p, size_t n, jv *out);
bool jv_str_from_buf(jctx *c, jbuf *b, jv *out); /* copies and frees b */
bool jv_list_new(jctx *c, size_t cap, jv *out);
bool jv_list_push(jctx *c, jlist *l, jv v);
bool jv_dict_new(jctx *c, jv *out);
bool jv_dict_set(jctx *c, jdict *d, jv key, jv val);
bool jv_dict_get(const jdict *d, jv key, jv *out);  /* false when missing */
bool jv_dict_gets(const jdict *d, const char *key, jv *out);

bool jv_truthy(jv v);
bool jv_equal(jv a, jv b);
bool jv_is_number(jv v); /* int, float or bool */
double jv_num(jv v);
/* Python ordering; false with error on incomparable types */
bool jv_compare(jctx *c, jv a, jv b, int *cmp);
const char *jv_type_name(jv v);
/* str() and repr() as Python prints them */
bool jv_write_str(jctx *c, jbuf *b, jv v);
bool jv_write_repr(jctx *c, jbuf *b, jv v);
bool jv_to_str(jctx *c, jv v, jv *out); /* a JV_STR value */
void jv_write_float(jbuf *b, double f);  /* Python repr(float) */
size_t utf8_count(const char *p, size_t n);
/* byte offset of code point `cp` (clamped to n) */
size_t utf8_offset(const char *p, size_t n, size_t cp);

/* ---- JSON (jinja_json.c) ---- */
bool jv_from_json(jctx *c, const json_t *j, jv *out);
typedef struct jjson_opts {
    int64_t indent; /* < 0: none */
    bool ensure_ascii, sort_keys;
    jstr item_sep, key_sep;
} jjson_opts;
bool jv_write_json(jctx *c, jbuf *b, jv v, const jjson_opts *o, int64_t level);

/* ---- lexer (jinja_lex.c) ---- */
typedef enum jtok_kind {
    JT_EOF, JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP,
} jtok_kind;

typedef struct jtok {
    jtok_kind k;
    int line, col;
    jstr s;        /* text, name, decoded string, or operator spelling */
    int64_t i;
    double f;
} jtok;

typedef struct jtoks {
    jtok *t;
    size_t n, cap;
} jtoks;

/* The source is normalised (CRLF -> LF, one trailing newline dropped) and
 * decoded strings are stored in `arena`. */
bool jlex(const char *src, size_t len, jarena *arena, jtoks *out, slm_error *err);

/* ---- syntax tree (jinja_parse.c) ---- */
typedef enum jn_kind {
    /* expressions */
    JN_LIT, JN_NAME, JN_LIST, JN_TUPLE, JN_DICT, JN_ATTR, JN_ITEM, JN_SLICE,
    JN_CALL, JN_FILTER, JN_TEST, JN_NEG, JN_POS, JN_NOT, JN_AND, JN_OR,
    JN_BINOP, JN_COMPARE, JN_COND,
    /* statements */
    JN_BODY, JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SETBLOCK,
    JN_MACRO, JN_FILTERBLOCK, JN_BREAK, JN_CONTINUE,
} jn_kind;

typedef struct jnode {
    jn_kind k;
    int line, col;
    int op;            /* operator spelling's first chars packed, see JOP */
    bool negate;       /* `is not` */
    jstr name;         /* name, attribute, filter/test/macro name, text */
    jv lit;            /* literal value */
    struct jnode *a, *b, *c, *d;
    struct jnode **kids; /* list items, args, statements, dict keys/vals */
    jstr *argnames;      /* keyword names parallel to kids (n == 0: positional) */
    int *ops;            /* JN_COMPARE: operator before each kid */
    size_t nkids;
} jnode;

/* binary operator codes */
enum {
    JOP_ADD = 1, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW,
    JOP_CONCAT, JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOTIN,
};

bool jparse(const jtoks *toks, jarena *arena, jnode **root, slm_error *err);

/* ---- evaluation (jinja_eval.c) ---- */
typedef struct jframe {
    struct jframe *parent;
    jstr *names;
    jv *vals;
    size_t n, cap;
} jframe;
bool jframe_set(jctx *c, jframe *f, jstr name, jv v);
bool jframe_lookup(const jframe *f, jstr name, jv *out);

bool jeval(jctx *c, const jnode *n, jv *out);
bool jexec(jctx *c, const jnode *n, jframe *f, jbuf *out);
/* obj[key] as jinja2 does it (item, then attribute; missing -> undefined) */
bool jgetitem(jctx *c, jv obj, jv key, jv *out);
bool jcall(jctx *c, jv callee, jv *args, jstr *names, size_t nargs, jv *out);

/* ---- filters, tests, methods, globals ---- */
bool jfilter(jctx *c, jstr name, jv v, jv *args, jstr *names, size_t nargs, jv *out);
bool jtest(jctx *c, jstr name, jv v, jv *args, size_t nargs, bool *out);
/* `obj.name` when it names a method; false with *found=false otherwise */
bool jmethod_lookup(jctx *c, jv obj, jstr name, jv *out, bool *found);
bool jglobal_lookup(jctx *c, jstr name, jv *out);
bool jfunc_call(jctx *c, const jfunc *fn, jv *args, jstr *names, size_t nargs, jv *out);
/* shared helpers */
bool jiterate(jctx *c, jv v, jv *out_list); /* list of items for `for` */
bool jstr_eq(jstr a, const char *s);
bool jargs_pick(jctx *c, const char *fname, jv *args, jstr *names, size_t nargs,
                const char *const *params, size_t nparams, jv *out);

#endif
