/* Jinja parser: jtoks -> a tree of jnode, by recursive descent with
 * jinja2's operator precedence (condexpr < or < and < not < compare <
 * + - < ~ < * / // % < ** < unary < postfix/filters/tests). Statements:
 * if/elif/else, for (targets, loop filter, else), set (expression, tuple,
 * ns.attr, block form), macro, filter blocks, break/continue and HF's
 * generation block. Nesting depth is bounded so hostile input cannot
 * overflow the C stack. */
#include "chat/jinja.h"

#include <stdio.h>
#include <string.h>

enum { MAX_PARSE_DEPTH = 200 };

typedef struct parser {
    const jtoks *toks;
    size_t i;
    jarena *arena;
    slm_error *err;
    int depth;
    int loops;   /* enclosing for loops (for break/continue) */
} parser;

typedef struct nodevec {
    jnode **v;
    jstr *names;
    int *ops;
    size_t n, cap;
} nodevec;

static const jtok *cur(parser *P) { return &P->toks->t[P->i]; }
static const jtok *peek(parser *P, size_t k) {
    size_t j = P->i + k;
    return &P->toks->t[j < P->toks->n ? j : P->toks->n - 1];
}
static void advance(parser *P) {
    if (P->i + 1 < P->toks->n) P->i++;
}

static const char *tok_desc(const jtok *t, char *buf, size_t n) {
    switch (t->k) {
    case JT_EOF: return "end of template";
    case JT_TEXT: return "text";
    case JT_VAR_BEGIN: return "'{{'";
    case JT_VAR_END: return "'}}'";
    case JT_BLOCK_BEGIN: return "'{%'";
    case JT_BLOCK_END: return "'%}'";
    case JT_STRING: return "string";
    case JT_INT: case JT_FLOAT: return "number";
    default:
        snprintf(buf, n, "'%.*s'", (int)(t->s.n > 40 ? 40 : t->s.n), t->s.p);
        return buf;
    }
}

static bool pfail(parser *P, const char *what) {
    char buf[64];
    const jtok *t = cur(P);
    slm_error_set(P->err, SLM_ERR_FORMAT, "template %d:%d: expected %s, got %s", t->line, t->col,
                  what, tok_desc(t, buf, sizeof buf));
    return false;
}

static bool pmsg(parser *P, const char *msg) {
    const jtok *t = cur(P);
    slm_error_set(P->err, SLM_ERR_FORMAT, "template %d:%d: %s", t->line, t->col, msg);
    return false;
}

static bool is_op(const jtok *t, const char *op) {
    return t->k == JT_OP && t->s.n == strlen(op) && memcmp(t->s.p, op, t->s.n) == 0;
}
static bool is_name(const jtok *t, const char *name) {
    return t->k == JT_NAME && jstr_eq(t->s, name);
}
static bool expect_op(parser *P, const char *op) {
    if (!is_op(cur(P), op)) {
        char what[16];
        snprintf(what, sizeof what, "'%s'", op);
        return pfail(P, what);
    }
    advance(P);
    return true;
}

static jnode *mk(parser *P, jn_kind k, const jtok *at) {
    jnode *n = ja_alloc(P->arena, sizeof *n);
    if (!n) {
        slm_error_set(P->err, SLM_ERR_NOMEM, "template too large");
        return NULL;
    }
    n->k = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static bool vec_push(parser *P, nodevec *v, jnode *n, jstr name, int op) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        jnode **nv = ja_alloc(P->arena, cap * sizeof *nv);
        jstr *nn = ja_alloc(P->arena, cap * sizeof *nn);
        int *no = ja_alloc(P->arena, cap * sizeof *no);
        if (!nv || !nn || !no) return !slm_error_set(P->err, SLM_ERR_NOMEM, "template too large");
        if (v->n) {
            memcpy(nv, v->v, v->n * sizeof *nv);
            memcpy(nn, v->names, v->n * sizeof *nn);
            memcpy(no, v->ops, v->n * sizeof *no);
        }
        v->v = nv;
        v->names = nn;
        v->ops = no;
        v->cap = cap;
    }
    v->v[v->n] = n;
    v->names[v->n] = name;
    v->ops[v->n] = op;
    v->n++;
    return true;
}

static void vec_attach(jnode *n, nodevec *v) {
    n->kids = v->v;
    n->argnames = v->names;
    n->ops = v->ops;
    n->nkids = v->n;
}

static jnode *parse_expr(parser *P, bool with_condexpr);
static jnode *parse_unary(parser *P, bool with_filter);
static jnode *parse_or(parser *P);

static bool enter(parser *P) {
    if (++P->depth > MAX_PARSE_DEPTH) return pmsg(P, "template nested too deeply");
    return true;
}

/* (args) of a call, filter or test: positional and name=value */
static bool parse_args(parser *P, jnode *n) {
    nodevec v = {0};
    if (!expect_op(P, "(")) return false;
    while (!is_op(cur(P), ")")) {
        if (v.n && !expect_op(P, ",")) return false;
        if (is_op(cur(P), ")")) break;
        jstr name = {0};
        if (cur(P)->k == JT_NAME && is_op(peek(P, 1), "=")) {
            name = cur(P)->s;
            advance(P);
            advance(P);
        } else if (is_op(cur(P), "*")) {
            return pmsg(P, "*args and **kwargs are not supported");
        }
        jnode *arg = parse_expr(P, true);
        if (!arg || !vec_push(P, &v, arg, name, 0)) return false;
    }
    advance(P);
    vec_attach(n, &v);
    return true;
}

static jnode *parse_list_or_tuple(parser *P, const char *close, jn_kind k, const jtok *at) {
    jnode *n = mk(P, k, at);
    nodevec v = {0};
    bool comma = false;
    if (!n) return NULL;
    while (!is_op(cur(P), close)) {
        if (v.n && !expect_op(P, ",")) return NULL;
        if (v.n) comma = true;
        if (is_op(cur(P), close)) break;
        jnode *item = parse_expr(P, true);
        if (!item || !vec_push(P, &v, item, (jstr){0}, 0)) return NULL;
    }
    advance(P);
    vec_attach(n, &v);
    /* "(x)" is just x; "(x,)" and "()" are tuples */
    if (k == JN_TUPLE && v.n == 1 && !comma) return v.v[0];
    return n;
}

static jnode *parse_dict(parser *P, const jtok *at) {
    jnode *n = mk(P, JN_DICT, at);
    nodevec v = {0};
    if (!n) return NULL;
    while (!is_op(cur(P), "}")) {
        if (v.n && !expect_op(P, ",")) return NULL;
        if (is_op(cur(P), "}")) break;
        jnode *key = parse_expr(P, true);
        if (!key || !expect_op(P, ":")) return NULL;
        jnode *val = parse_expr(P, true);
        if (!val || !vec_push(P, &v, key, (jstr){0}, 0) || !vec_push(P, &v, val, (jstr){0}, 0))
            return NULL;
    }
    advance(P);
    vec_attach(n, &v);
    return n;
}

static jnode *parse_primary(parser *P) {
    const jtok *t = cur(P);
    jnode *n;
    switch (t->k) {
    case JT_NAME:
        n = mk(P, JN_NAME, t);
        if (!n) return NULL;
        if (jstr_eq(t->s, "true") || jstr_eq(t->s, "True")) n->k = JN_LIT, n->lit = jv_bool(true);
        else if (jstr_eq(t->s, "false") || jstr_eq(t->s, "False")) n->k = JN_LIT, n->lit = jv_bool(false);
        else if (jstr_eq(t->s, "none") || jstr_eq(t->s, "None")) n->k = JN_LIT, n->lit = jv_none();
        n->name = t->s;
        advance(P);
        return n;
    case JT_STRING: {
        n = mk(P, JN_LIT, t);
        if (!n) return NULL;
        n->lit = jv_strn(t->s.p, t->s.n);
        advance(P);
        while (cur(P)->k == JT_STRING) { /* "a" "b" concatenates */
            jstr s2 = cur(P)->s;
            char *p = ja_alloc(P->arena, n->lit.u.s.n + s2.n + 1);
            if (!p) return slm_error_set(P->err, SLM_ERR_NOMEM, "template too large"), NULL;
            memcpy(p, n->lit.u.s.p, n->lit.u.s.n);
            memcpy(p + n->lit.u.s.n, s2.p, s2.n);
            n->lit = jv_strn(p, n->lit.u.s.n + s2.n);
            advance(P);
        }
        return n;
    }
    case JT_INT:
    case JT_FLOAT:
        n = mk(P, JN_LIT, t);
        if (!n) return NULL;
        n->lit = t->k == JT_INT ? jv_int(t->i) : jv_float(t->f);
        advance(P);
        return n;
    case JT_OP:
        if (is_op(t, "(")) {
            advance(P);
            return parse_list_or_tuple(P, ")", JN_TUPLE, t);
        }
        if (is_op(t, "[")) {
            advance(P);
            return parse_list_or_tuple(P, "]", JN_LIST, t);
        }
        if (is_op(t, "{")) {
            advance(P);
            return parse_dict(P, t);
        }
        break;
    default: break;
    }
    pfail(P, "an expression");
    return NULL;
}

/* [i], [a:b:c] */
static jnode *parse_subscript(parser *P, jnode *obj, const jtok *at) {
    jnode *parts[3] = {0};
    int nparts = 0;
    bool is_slice = false;
    for (;;) {
        if (is_op(cur(P), ":")) {
            is_slice = true;
            if (++nparts > 2) return pmsg(P, "too many ':' in slice"), NULL;
            advance(P);
            continue;
        }
        if (is_op(cur(P), "]")) break;
        if (parts[nparts]) return pfail(P, "']'"), NULL;
        parts[nparts] = parse_expr(P, true);
        if (!parts[nparts]) return NULL;
    }
    advance(P);
    jnode *n = mk(P, is_slice ? JN_SLICE : JN_ITEM, at);
    if (!n) return NULL;
    if (!is_slice && !parts[0]) return pmsg(P, "empty subscript"), NULL;
    n->a = obj;
    n->b = parts[0];
    n->c = parts[1];
    n->d = parts[2];
    return n;
}

static jnode *parse_postfix(parser *P, jnode *n) {
    for (;;) {
        const jtok *t = cur(P);
        if (is_op(t, ".")) {
            advance(P);
            const jtok *nt = cur(P);
            jnode *m = mk(P, nt->k == JT_INT ? JN_ITEM : JN_ATTR, t);
            if (!m) return NULL;
            m->a = n;
            if (nt->k == JT_NAME) {
                m->name = nt->s;
            } else if (nt->k == JT_INT) {
                jnode *idx = mk(P, JN_LIT, nt);
                if (!idx) return NULL;
                idx->lit = jv_int(nt->i);
                m->b = idx;
            } else {
                return pfail(P, "an attribute name"), NULL;
            }
            advance(P);
            n = m;
        } else if (is_op(t, "[")) {
            advance(P);
            if (!(n = parse_subscript(P, n, t))) return NULL;
        } else if (is_op(t, "(")) {
            jnode *m = mk(P, JN_CALL, t);
            if (!m) return NULL;
            m->a = n;
            m->line = n->line; /* errors point at the callee */
            m->col = n->col;
            if (!parse_args(P, m)) return NULL;
            n = m;
        } else {
            return n;
        }
    }
}

static bool parse_dotted_name(parser *P, jstr *out) {
    if (cur(P)->k != JT_NAME) return pfail(P, "a name");
    const char *start = cur(P)->s.p;
    const char *end = start + cur(P)->s.n;
    advance(P);
    while (is_op(cur(P), ".") && peek(P, 1)->k == JT_NAME) {
        advance(P);
        end = cur(P)->s.p + cur(P)->s.n;
        advance(P);
    }
    *out = (jstr){start, (size_t)(end - start)};
    return true;
}

static jnode *parse_filter(parser *P, jnode *operand) {
    jnode *f = mk(P, JN_FILTER, cur(P));
    if (!f) return NULL;
    f->a = operand;
    if (!parse_dotted_name(P, &f->name)) return NULL;
    if (is_op(cur(P), "(") && !parse_args(P, f)) return NULL;
    return f;
}

static bool can_start_test_arg(const jtok *t) {
    if (t->k == JT_NAME)
        return !(jstr_eq(t->s, "else") || jstr_eq(t->s, "or") || jstr_eq(t->s, "and") ||
                 jstr_eq(t->s, "if") || jstr_eq(t->s, "in") || jstr_eq(t->s, "not") ||
                 jstr_eq(t->s, "is"));
    return t->k == JT_STRING || t->k == JT_INT || t->k == JT_FLOAT || is_op(t, "[") ||
           is_op(t, "{");
}

static jnode *parse_test(parser *P, jnode *operand) {
    jnode *n = mk(P, JN_TEST, cur(P));
    if (!n) return NULL;
    n->a = operand;
    if (is_name(cur(P), "not")) {
        n->negate = true;
        advance(P);
    }
    if (!parse_dotted_name(P, &n->name)) return NULL;
    if (is_op(cur(P), "(")) {
        if (!parse_args(P, n)) return NULL;
    } else if (can_start_test_arg(cur(P))) {
        jnode *arg = parse_primary(P);
        if (!arg || !(arg = parse_postfix(P, arg))) return NULL;
        nodevec v = {0};
        if (!vec_push(P, &v, arg, (jstr){0}, 0)) return NULL;
        vec_attach(n, &v);
    }
    return n;
}

static jnode *parse_filter_expr(parser *P, jnode *n) {
    for (;;) {
        if (is_op(cur(P), "|")) {
            advance(P);
            if (!(n = parse_filter(P, n))) return NULL;
        } else if (is_name(cur(P), "is")) {
            advance(P);
            if (!(n = parse_test(P, n))) return NULL;
        } else {
            return n;
        }
    }
}

static jnode *parse_unary(parser *P, bool with_filter) {
    const jtok *t = cur(P);
    jnode *n;
    if (!enter(P)) return NULL;
    if (is_op(t, "-") || is_op(t, "+")) {
        advance(P);
        n = mk(P, is_op(t, "-") ? JN_NEG : JN_POS, t);
        if (!n || !(n->a = parse_unary(P, false))) return NULL;
    } else if (!(n = parse_primary(P))) {
        return NULL;
    }
    n = parse_postfix(P, n);
    if (n && with_filter) n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static jnode *binop(parser *P, const jtok *at, int op, jnode *l, jnode *r) {
    if (!r) return NULL;
    jnode *n = mk(P, JN_BINOP, at);
    if (!n) return NULL;
    n->op = op;
    n->a = l;
    n->b = r;
    return n;
}

static jnode *parse_pow(parser *P) {
    jnode *n = parse_unary(P, true);
    while (n && is_op(cur(P), "**")) {
        const jtok *t = cur(P);
        advance(P);
        n = binop(P, t, JOP_POW, n, parse_unary(P, true));
    }
    return n;
}

static jnode *parse_math2(parser *P) {
    jnode *n = parse_pow(P);
    for (;;) {
        const jtok *t = cur(P);
        int op = is_op(t, "*") ? JOP_MUL : is_op(t, "/") ? JOP_DIV : is_op(t, "//") ? JOP_FLOORDIV
               : is_op(t, "%") ? JOP_MOD : 0;
        if (!n || !op) return n;
        advance(P);
        n = binop(P, t, op, n, parse_pow(P));
    }
}

static jnode *parse_concat(parser *P) {
    jnode *n = parse_math2(P);
    while (n && is_op(cur(P), "~")) {
        const jtok *t = cur(P);
        advance(P);
        n = binop(P, t, JOP_CONCAT, n, parse_math2(P));
    }
    return n;
}

static jnode *parse_math1(parser *P) {
    jnode *n = parse_concat(P);
    for (;;) {
        const jtok *t = cur(P);
        int op = is_op(t, "+") ? JOP_ADD : is_op(t, "-") ? JOP_SUB : 0;
        if (!n || !op) return n;
        advance(P);
        n = binop(P, t, op, n, parse_concat(P));
    }
}

static int compare_op(parser *P) {
    const jtok *t = cur(P);
    if (is_op(t, "==")) return JOP_EQ;
    if (is_op(t, "!=")) return JOP_NE;
    if (is_op(t, "<")) return JOP_LT;
    if (is_op(t, "<=")) return JOP_LE;
    if (is_op(t, ">")) return JOP_GT;
    if (is_op(t, ">=")) return JOP_GE;
    if (is_name(t, "in")) return JOP_IN;
    if (is_name(t, "not") && is_name(peek(P, 1), "in")) return JOP_NOTIN;
    return 0;
}

static jnode *parse_compare(parser *P) {
    const jtok *at = cur(P);
    jnode *n = parse_math1(P);
    if (!n || !compare_op(P)) return n;
    jnode *c = mk(P, JN_COMPARE, at);
    nodevec v = {0};
    if (!c) return NULL;
    c->a = n;
    int op;
    while ((op = compare_op(P)) != 0) {
        advance(P);
        if (op == JOP_NOTIN) advance(P);
        jnode *r = parse_math1(P);
        if (!r || !vec_push(P, &v, r, (jstr){0}, op)) return NULL;
    }
    vec_attach(c, &v);
    return c;
}

static jnode *parse_not(parser *P) {
    const jtok *t = cur(P);
    if (is_name(t, "not")) {
        if (!enter(P)) return NULL;
        advance(P);
        jnode *n = mk(P, JN_NOT, t);
        if (!n || !(n->a = parse_not(P))) return NULL;
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static jnode *parse_and(parser *P) {
    jnode *n = parse_not(P);
    while (n && is_name(cur(P), "and")) {
        const jtok *t = cur(P);
        advance(P);
        jnode *m = mk(P, JN_AND, t);
        if (!m || !(m->b = parse_not(P))) return NULL;
        m->a = n;
        n = m;
    }
    return n;
}

static jnode *parse_or(parser *P) {
    jnode *n = parse_and(P);
    while (n && is_name(cur(P), "or")) {
        const jtok *t = cur(P);
        advance(P);
        jnode *m = mk(P, JN_OR, t);
        if (!m || !(m->b = parse_and(P))) return NULL;
        m->a = n;
        n = m;
    }
    return n;
}

/* x if cond [else y] */
static jnode *parse_expr(parser *P, bool with_condexpr) {
    if (!enter(P)) return NULL;
    jnode *n = parse_or(P);
    while (n && with_condexpr && is_name(cur(P), "if")) {
        const jtok *t = cur(P);
        advance(P);
        jnode *c = mk(P, JN_COND, t);
        if (!c || !(c->b = parse_or(P))) return NULL;
        c->a = n;
        if (is_name(cur(P), "else")) {
            advance(P);
            if (!(c->c = parse_expr(P, true))) return NULL;
        }
        n = c;
    }
    P->depth--;
    return n;
}

/* an expression, or a tuple "a, b" without parentheses */
static jnode *parse_tuple(parser *P, bool with_condexpr, const char *stop_name) {
    const jtok *at = cur(P);
    jnode *first = parse_expr(P, with_condexpr);
    if (!first || !is_op(cur(P), ",")) return first;
    jnode *t = mk(P, JN_TUPLE, at);
    nodevec v = {0};
    if (!t || !vec_push(P, &v, first, (jstr){0}, 0)) return NULL;
    while (is_op(cur(P), ",")) {
        advance(P);
        const jtok *c = cur(P);
        if (c->k == JT_VAR_END || c->k == JT_BLOCK_END || (stop_name && is_name(c, stop_name)))
            break;
        jnode *e = parse_expr(P, with_condexpr);
        if (!e || !vec_push(P, &v, e, (jstr){0}, 0)) return NULL;
    }
    vec_attach(t, &v);
    return t;
}

/* ---- statements ---- */

static jnode *parse_body(parser *P, const char *const *ends, size_t nends);

static bool expect_block_end(parser *P) {
    if (cur(P)->k != JT_BLOCK_END) return pfail(P, "'%}'");
    advance(P);
    return true;
}

/* after parse_body: the current token is the end name; consume it and %} */
static bool end_tag(parser *P) {
    advance(P);
    return expect_block_end(P);
}

/* for/set target: name, ns.attr, or names separated by commas */
static jnode *parse_target(parser *P, bool allow_attr, const char *stop_name) {
    const jtok *at = cur(P);
    nodevec v = {0};
    bool paren = is_op(at, "(");
    if (paren) advance(P);
    for (;;) {
        const jtok *t = cur(P);
        if (t->k != JT_NAME) return pfail(P, "a variable name"), NULL;
        jnode *n = mk(P, JN_NAME, t);
        if (!n) return NULL;
        n->name = t->s;
        advance(P);
        if (allow_attr && v.n == 0 && is_op(cur(P), ".")) {
            advance(P);
            if (cur(P)->k != JT_NAME) return pfail(P, "an attribute name"), NULL;
            jnode *a = mk(P, JN_ATTR, t);
            if (!a) return NULL;
            a->a = n;
            a->name = cur(P)->s;
            advance(P);
            return a;
        }
        if (!vec_push(P, &v, n, (jstr){0}, 0)) return NULL;
        if (!is_op(cur(P), ",")) break;
        advance(P);
        if (stop_name && is_name(cur(P), stop_name)) break;
    }
    if (paren && !expect_op(P, ")")) return NULL;
    if (v.n == 1 && !paren) return v.v[0];
    jnode *t = mk(P, JN_TUPLE, at);
    if (!t) return NULL;
    vec_attach(t, &v);
    return t;
}

static jnode *parse_if(parser *P, const jtok *at) {
    static const char *const ends[] = {"elif", "else", "endif"};
    jnode *n = mk(P, JN_IF, at);
    if (!n || !(n->a = parse_tuple(P, true, NULL)) || !expect_block_end(P)) return NULL;
    if (!(n->b = parse_body(P, ends, 3))) return NULL;
    const jtok *t = cur(P);
    if (is_name(t, "elif")) {
        advance(P);
        return (n->c = parse_if(P, t)) ? n : NULL;
    }
    if (is_name(t, "else")) {
        if (!end_tag(P) || !(n->c = parse_body(P, ends + 2, 1))) return NULL;
    }
    return end_tag(P) ? n : NULL;
}

static jnode *parse_for(parser *P, const jtok *at) {
    static const char *const ends[] = {"else", "endfor"};
    jnode *n = mk(P, JN_FOR, at);
    if (!n || !(n->a = parse_target(P, false, "in"))) return NULL;
    if (!is_name(cur(P), "in")) return pfail(P, "'in'"), NULL;
    advance(P);
    if (!(n->b = parse_tuple(P, false, "recursive"))) return NULL;
    if (is_name(cur(P), "if")) {
        advance(P);
        if (!(n->d = parse_expr(P, true))) return NULL;
    }
    if (is_name(cur(P), "recursive")) return pmsg(P, "recursive loops are not supported"), NULL;
    if (!expect_block_end(P)) return NULL;
    P->loops++;
    jnode *body = parse_body(P, ends, 2);
    P->loops--;
    if (!body) return NULL;
    nodevec v = {0};
    if (!vec_push(P, &v, body, (jstr){0}, 0)) return NULL;
    vec_attach(n, &v); /* kids[0] = body */
    if (is_name(cur(P), "else")) {
        if (!end_tag(P) || !(n->c = parse_body(P, ends + 1, 1))) return NULL;
    }
    return end_tag(P) ? n : NULL;
}

static jnode *parse_set(parser *P, const jtok *at) {
    static const char *const ends[] = {"endset"};
    jnode *n = mk(P, JN_SET, at);
    if (!n || !(n->a = parse_target(P, true, NULL))) return NULL;
    if (is_op(cur(P), "=")) {
        advance(P);
        if (!(n->b = parse_tuple(P, true, NULL))) return NULL;
        return expect_block_end(P) ? n : NULL;
    }
    n->k = JN_SETBLOCK;
    if (n->a->k == JN_TUPLE) return pmsg(P, "block set needs a single name"), NULL;
    jnode *filters = NULL; /* chain on a NULL operand, applied to the body */
    while (is_op(cur(P), "|")) {
        advance(P);
        if (!(filters = parse_filter(P, filters))) return NULL;
    }
    n->c = filters;
    if (!expect_block_end(P) || !(n->b = parse_body(P, ends, 1))) return NULL;
    return end_tag(P) ? n : NULL;
}

static jnode *parse_macro(parser *P, const jtok *at) {
    static const char *const ends[] = {"endmacro"};
    jnode *n = mk(P, JN_MACRO, at);
    nodevec params = {0};
    if (!n) return NULL;
    if (cur(P)->k != JT_NAME) return pfail(P, "a macro name"), NULL;
    n->name = cur(P)->s;
    advance(P);
    if (!expect_op(P, "(")) return NULL;
    bool need_default = false;
    while (!is_op(cur(P), ")")) {
        if (params.n && !expect_op(P, ",")) return NULL;
        if (cur(P)->k != JT_NAME) return pfail(P, "a parameter name"), NULL;
        jnode *pn = mk(P, JN_NAME, cur(P));
        if (!pn) return NULL;
        pn->name = cur(P)->s;
        advance(P);
        if (is_op(cur(P), "=")) {
            advance(P);
            if (!(pn->a = parse_expr(P, true))) return NULL;
            need_default = true;
        } else if (need_default) {
            return pmsg(P, "non-default parameter follows default parameter"), NULL;
        }
        if (!vec_push(P, &params, pn, pn->name, 0)) return NULL;
    }
    advance(P);
    vec_attach(n, &params);
    if (!expect_block_end(P)) return NULL;
    int loops = P->loops;
    P->loops = 0;
    n->b = parse_body(P, ends, 1);
    P->loops = loops;
    return n->b && end_tag(P) ? n : NULL;
}

static jnode *parse_filter_block(parser *P, const jtok *at) {
    static const char *const ends[] = {"endfilter"};
    jnode *n = mk(P, JN_FILTERBLOCK, at);
    jnode *filters = NULL;
    if (!n) return NULL;
    do {
        if (filters) advance(P);
        if (!(filters = parse_filter(P, filters))) return NULL;
    } while (is_op(cur(P), "|"));
    n->c = filters;
    if (!expect_block_end(P) || !(n->b = parse_body(P, ends, 1))) return NULL;
    return end_tag(P) ? n : NULL;
}

static jnode *parse_statement(parser *P) {
    const jtok *t = cur(P);
    if (t->k != JT_NAME) return pfail(P, "a statement name"), NULL;
    advance(P);
    if (jstr_eq(t->s, "if")) return parse_if(P, t);
    if (jstr_eq(t->s, "for")) return parse_for(P, t);
    if (jstr_eq(t->s, "set")) return parse_set(P, t);
    if (jstr_eq(t->s, "macro")) return parse_macro(P, t);
    if (jstr_eq(t->s, "filter")) return parse_filter_block(P, t);
    if (jstr_eq(t->s, "break") || jstr_eq(t->s, "continue")) {
        if (P->loops == 0) {
            P->i--;
            return pmsg(P, "break/continue outside of a loop"), NULL;
        }
        jnode *n = mk(P, jstr_eq(t->s, "break") ? JN_BREAK : JN_CONTINUE, t);
        return n && expect_block_end(P) ? n : NULL;
    }
    if (jstr_eq(t->s, "generation")) { /* HF's assistant-mask marker: renders its body */
        static const char *const ends[] = {"endgeneration"};
        if (!expect_block_end(P)) return NULL;
        jnode *b = parse_body(P, ends, 1);
        return b && end_tag(P) ? b : NULL;
    }
    P->i--;
    char msg[96];
    snprintf(msg, sizeof msg, "unknown or unexpected statement '%.*s'",
             (int)(t->s.n > 40 ? 40 : t->s.n), t->s.p);
    pmsg(P, msg);
    return NULL;
}

/* Statements until "{% <one of ends>" (left as current token) or EOF
 * (only when ends is empty). */
static jnode *parse_body(parser *P, const char *const *ends, size_t nends) {
    jnode *body = mk(P, JN_BODY, cur(P));
    nodevec v = {0};
    if (!body || !enter(P)) return NULL;
    for (;;) {
        const jtok *t = cur(P);
        jnode *n = NULL;
        if (t->k == JT_EOF) {
            if (nends) {
                char what[48];
                snprintf(what, sizeof what, "'{%% %s %%}'", ends[nends - 1]);
                return pfail(P, what), NULL;
            }
            break;
        }
        if (t->k == JT_TEXT) {
            if (!(n = mk(P, JN_TEXT, t))) return NULL;
            n->name = t->s;
            advance(P);
        } else if (t->k == JT_VAR_BEGIN) {
            advance(P);
            if (!(n = mk(P, JN_OUTPUT, t)) || !(n->a = parse_tuple(P, true, NULL))) return NULL;
            if (cur(P)->k != JT_VAR_END) return pfail(P, "'}}'"), NULL;
            advance(P);
        } else if (t->k == JT_BLOCK_BEGIN) {
            const jtok *name = peek(P, 1);
            for (size_t i = 0; i < nends; i++) {
                if (is_name(name, ends[i])) {
                    advance(P);
                    vec_attach(body, &v);
                    P->depth--;
                    return body;
                }
            }
            advance(P);
            if (!(n = parse_statement(P))) return NULL;
        } else {
            return pfail(P, "text or a tag"), NULL;
        }
        if (!vec_push(P, &v, n, (jstr){0}, 0)) return NULL;
    }
    vec_attach(body, &v);
    P->depth--;
    return body;
}

bool jparse(const jtoks *toks, jarena *arena, jnode **root, slm_error *err) {
    parser P = {.toks = toks, .arena = arena, .err = err};
    *root = parse_body(&P, NULL, 0);
    return *root != NULL;
}
