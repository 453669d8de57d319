/* Jinja evaluator: walks the jnode tree. Statements write into a jbuf;
 * expressions produce jv values in the render arena. Scopes are jframe
 * chains: the root frame holds the inputs and top-level sets, every for
 * iteration and macro call gets a fresh child frame (so `set` inside a
 * loop does not leak, as in jinja2), and names fall back to the few pure
 * built-ins. Every loop iteration and macro call is counted against the
 * limits in jctx. */
#include "chat/jinja.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool set_error(jctx *c, slm_status code, const char *fmt, va_list ap) {
    if (c->failed) return false;
    c->failed = true;
    if (c->err) {
        char msg[900];
        vsnprintf(msg, sizeof msg, fmt, ap);
        slm_error_set(c->err, code, "template %d:%d: %s", c->line, c->col, msg);
    }
    return false;
}

bool jfail(jctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(c, SLM_ERR_FORMAT, fmt, ap);
    va_end(ap);
    return false;
}

bool jlimit(jctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!c->failed) c->limit_hit = true;
    set_error(c, SLM_ERR_RANGE, fmt, ap);
    va_end(ap);
    return false;
}

bool jtick(jctx *c) {
    if (++c->iterations > c->max_iterations)
        return jlimit(c, "loop iteration limit (%llu) exceeded", (unsigned long long)c->max_iterations);
    if ((++c->tick & 255) == 0 && slm_now_s() > c->deadline) return jlimit(c, "time limit exceeded");
    return true;
}

bool jstr_eq(jstr a, const char *s) {
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

static bool name_eq(jstr a, jstr b) { return a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

bool jframe_set(jctx *c, jframe *f, jstr name, jv v) {
    for (size_t i = 0; i < f->n; i++) {
        if (name_eq(f->names[i], name)) {
            f->vals[i] = v;
            return true;
        }
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        jstr *names = ja_alloc(c->arena, cap * sizeof *names);
        jv *vals = ja_alloc(c->arena, cap * sizeof *vals);
        if (!names || !vals) return jlimit(c, "memory limit exceeded");
        if (f->n) {
            memcpy(names, f->names, f->n * sizeof *names);
            memcpy(vals, f->vals, f->n * sizeof *vals);
        }
        f->names = names;
        f->vals = vals;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n] = v;
    f->n++;
    return true;
}

bool jframe_lookup(const jframe *f, jstr name, jv *out) {
    for (; f; f = f->parent)
        for (size_t i = 0; i < f->n; i++)
            if (name_eq(f->names[i], name)) {
                *out = f->vals[i];
                return true;
            }
    return false;
}

static void at(jctx *c, const jnode *n) {
    c->line = n->line;
    c->col = n->col;
}

static jv undef_named(jstr name) {
    jv v = jv_undef();
    v.u.s = name;
    return v;
}

static bool undefined_error(jctx *c, jv v) {
    if (v.u.s.n) return jfail(c, "'%.*s' is undefined", (int)v.u.s.n, v.u.s.p);
    return jfail(c, "value is undefined");
}

/* ---- attribute and item access ---- */

static bool loop_attr(jctx *c, const jloop *l, jstr name, jv *out) {
    if (jstr_eq(name, "index")) *out = jv_int(l->index0 + 1);
    else if (jstr_eq(name, "index0")) *out = jv_int(l->index0);
    else if (jstr_eq(name, "revindex")) *out = jv_int(l->length - l->index0);
    else if (jstr_eq(name, "revindex0")) *out = jv_int(l->length - l->index0 - 1);
    else if (jstr_eq(name, "first")) *out = jv_bool(l->index0 == 0);
    else if (jstr_eq(name, "last")) *out = jv_bool(l->index0 == l->length - 1);
    else if (jstr_eq(name, "length")) *out = jv_int(l->length);
    else if (jstr_eq(name, "depth")) *out = jv_int(l->depth);
    else if (jstr_eq(name, "depth0")) *out = jv_int(l->depth - 1);
    else if (jstr_eq(name, "previtem")) *out = l->has_prev ? l->prev : jv_undef();
    else if (jstr_eq(name, "nextitem")) *out = l->has_next ? l->next : jv_undef();
    else {
        (void)c;
        *out = jv_undef();
    }
    return true;
}

static bool get_attr(jctx *c, jv obj, jstr name, jv *out) {
    bool found = false;
    switch (obj.k) {
    case JV_UNDEF: return undefined_error(c, obj);
    case JV_NS:
        if (!jv_dict_get(obj.u.d, jv_strn(name.p, name.n), out)) *out = undef_named(name);
        return true;
    case JV_LOOP:
        if (jstr_eq(name, "cycle")) break;
        return loop_attr(c, obj.u.loop, name, out);
    case JV_DICT:
        if (!jmethod_lookup(c, obj, name, out, &found)) return false;
        if (found) return true;
        if (!jv_dict_get(obj.u.d, jv_strn(name.p, name.n), out)) *out = undef_named(name);
        return true;
    default: break;
    }
    if (!jmethod_lookup(c, obj, name, out, &found)) return false;
    if (!found) *out = undef_named(name);
    return true;
}

bool jgetitem(jctx *c, jv obj, jv key, jv *out) {
    switch (obj.k) {
    case JV_UNDEF: return undefined_error(c, obj);
    case JV_DICT:
        if (jv_dict_get(obj.u.d, key, out)) return true;
        break;
    case JV_LIST:
    case JV_STR:
        if (obj.k == JV_LIST && obj.u.l->gen) break;
        if (key.k == JV_INT || key.k == JV_BOOL) {
            int64_t i = key.k == JV_BOOL ? key.u.b : key.u.i;
            int64_t n = obj.k == JV_LIST ? (int64_t)obj.u.l->n
                                         : (int64_t)utf8_count(obj.u.s.p, obj.u.s.n);
            if (i < 0) i += n;
            if (i < 0 || i >= n) {
                *out = jv_undef();
                return true;
            }
            if (obj.k == JV_LIST) {
                *out = obj.u.l->v[i];
                return true;
            }
            size_t a = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
            size_t b = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)i + 1);
            *out = jv_strn(obj.u.s.p + a, b - a);
            return true;
        }
        break;
    default: break;
    }
    if (key.k == JV_STR && obj.k != JV_NONE) return get_attr(c, obj, key.u.s, out);
    *out = jv_undef();
    return true;
}

/* Python slice semantics on n elements: fills the chosen indices */
static bool slice_indices(jctx *c, int64_t n, jv start, jv stop, jv step, int64_t *idx,
                          int64_t *count) {
    int64_t st = 1;
    if (step.k != JV_NONE && step.k != JV_UNDEF) {
        if (step.k != JV_INT) return jfail(c, "slice step must be an integer");
        st = step.u.i;
        if (st == 0) return jfail(c, "slice step cannot be zero");
    }
    int64_t lo, hi;
    jv bounds[2] = {start, stop};
    int64_t res[2];
    for (int k = 0; k < 2; k++) {
        jv b = bounds[k];
        if (b.k == JV_NONE || b.k == JV_UNDEF) {
            if (k == 0) res[k] = st > 0 ? 0 : n - 1;
            else res[k] = st > 0 ? n : -1;
            continue;
        }
        if (b.k != JV_INT) return jfail(c, "slice indices must be integers");
        int64_t v = b.u.i;
        if (v < 0) v += n;
        if (st > 0) v = v < 0 ? 0 : v > n ? n : v;
        else v = v < -1 ? -1 : v > n - 1 ? n - 1 : v;
        res[k] = v;
    }
    lo = res[0];
    hi = res[1];
    int64_t m = 0;
    if (idx) {
        if (st > 0)
            for (int64_t i = lo; i < hi; i += st) idx[m++] = i;
        else
            for (int64_t i = lo; i > hi; i += st) idx[m++] = i;
    }
    *count = m;
    return true;
}

static bool do_slice(jctx *c, jv obj, jv start, jv stop, jv step, jv *out) {
    if (obj.k == JV_UNDEF) return undefined_error(c, obj);
    if ((obj.k != JV_LIST && obj.k != JV_STR) || (obj.k == JV_LIST && obj.u.l->gen))
        return jfail(c, "'%s' object is not subscriptable", jv_type_name(obj));
    size_t n = obj.k == JV_LIST ? obj.u.l->n : utf8_count(obj.u.s.p, obj.u.s.n);
    int64_t *idx = ja_alloc(c->arena, (n + 1) * sizeof *idx);
    int64_t m;
    if (!idx) return jlimit(c, "memory limit exceeded");
    if (!slice_indices(c, (int64_t)n, start, stop, step, idx, &m)) return false;
    if (obj.k == JV_LIST) {
        if (!jv_list_new(c, (size_t)m, out)) return false;
        for (int64_t i = 0; i < m; i++) out->u.l->v[i] = obj.u.l->v[idx[i]];
        out->u.l->n = (size_t)m;
        return true;
    }
    size_t *off = ja_alloc(c->arena, (n + 1) * sizeof *off); /* code point offsets */
    if (!off) return jlimit(c, "memory limit exceeded");
    size_t k = 0;
    for (size_t i = 0; i < obj.u.s.n; i++)
        if (((unsigned char)obj.u.s.p[i] & 0xc0) != 0x80) off[k++] = i;
    off[k] = obj.u.s.n;
    jbuf b = {.limit = c->max_output};
    for (int64_t i = 0; i < m; i++) jb_put(&b, obj.u.s.p + off[idx[i]], off[idx[i] + 1] - off[idx[i]]);
    return jv_str_from_buf(c, &b, out);
}

/* ---- operators ---- */

static bool arith_error(jctx *c, const char *op, jv a, jv b) {
    if (a.k == JV_UNDEF) return undefined_error(c, a);
    if (b.k == JV_UNDEF) return undefined_error(c, b);
    return jfail(c, "unsupported operand types for %s: '%s' and '%s'", op, jv_type_name(a),
                 jv_type_name(b));
}

static int64_t as_int(jv v) { return v.k == JV_BOOL ? v.u.b : v.u.i; }

static bool repeat(jctx *c, jv seq, int64_t times, jv *out) {
    if (times < 0) times = 0;
    if (seq.k == JV_STR) {
        uint64_t total;
        if (!slm_mul_ok(seq.u.s.n, (uint64_t)times, &total) || total > c->max_output)
            return jlimit(c, "string repetition exceeds the output limit");
        jbuf b = {0};
        for (int64_t i = 0; i < times; i++) jb_put(&b, seq.u.s.p, seq.u.s.n);
        return jv_str_from_buf(c, &b, out);
    }
    uint64_t total;
    if (!slm_mul_ok(seq.u.l->n, (uint64_t)times, &total) || total > c->max_iterations)
        return jlimit(c, "list repetition too large");
    if (!jv_list_new(c, (size_t)total, out)) return false;
    for (int64_t i = 0; i < times; i++)
        for (size_t j = 0; j < seq.u.l->n; j++) out->u.l->v[out->u.l->n++] = seq.u.l->v[j];
    return true;
}

static bool int_arith(jctx *c, int op, int64_t x, int64_t y, jv *out) {
    int64_t r;
    switch (op) {
    case JOP_ADD: if (__builtin_add_overflow(x, y, &r)) goto overflow; break;
    case JOP_SUB: if (__builtin_sub_overflow(x, y, &r)) goto overflow; break;
    case JOP_MUL: if (__builtin_mul_overflow(x, y, &r)) goto overflow; break;
    case JOP_FLOORDIV:
    case JOP_MOD:
        if (y == 0) return jfail(c, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) goto overflow;
        r = op == JOP_FLOORDIV ? x / y : x % y;
        if (op == JOP_FLOORDIV && (x % y != 0) && ((x < 0) != (y < 0))) r--;
        if (op == JOP_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    case JOP_POW:
        if (y < 0) {
            *out = jv_float(pow((double)x, (double)y));
            return true;
        }
        r = 1;
        for (int64_t i = 0; i < y; i++) {
            if (__builtin_mul_overflow(r, x, &r)) goto overflow;
            if (r == 0 || r == 1) break;
        }
        break;
    default: return jfail(c, "bad integer operator");
    }
    *out = jv_int(r);
    return true;
overflow:
    return jfail(c, "integer overflow");
}

/* Markup + str escapes the plain side, as markupsafe does */
static bool markup_add(jctx *c, jv a, jv b, jv *out) {
    jbuf buf = {.limit = c->max_output};
    jv parts[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        jstr s = parts[k].u.s;
        for (size_t i = 0; i < s.n; i++) {
            char ch = s.p[i];
            const char *rep = parts[k].safe ? NULL : ch == '&' ? "&amp;" : ch == '<' ? "&lt;"
                            : ch == '>' ? "&gt;" : ch == '"' ? "&#34;" : ch == '\'' ? "&#39;" : NULL;
            if (rep) jb_puts(&buf, rep);
            else jb_putc(&buf, ch);
        }
    }
    if (!jv_str_from_buf(c, &buf, out)) return false;
    out->safe = true;
    return true;
}

static bool binop(jctx *c, int op, jv a, jv b, jv *out) {
    static const char *const names[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    if (op == JOP_CONCAT) {
        jbuf buf = {.limit = c->max_output};
        if (!jv_write_str(c, &buf, a) || !jv_write_str(c, &buf, b)) {
            jb_free(&buf);
            return false;
        }
        return jv_str_from_buf(c, &buf, out);
    }
    if (jv_is_number(a) && jv_is_number(b)) {
        if (op == JOP_DIV) {
            if (jv_num(b) == 0) return jfail(c, "division by zero");
            *out = jv_float(jv_num(a) / jv_num(b));
            return true;
        }
        if (a.k != JV_FLOAT && b.k != JV_FLOAT) return int_arith(c, op, as_int(a), as_int(b), out);
        double x = jv_num(a), y = jv_num(b), r;
        switch (op) {
        case JOP_ADD: r = x + y; break;
        case JOP_SUB: r = x - y; break;
        case JOP_MUL: r = x * y; break;
        case JOP_FLOORDIV:
            if (y == 0) return jfail(c, "float floor division by zero");
            r = floor(x / y);
            break;
        case JOP_MOD:
            if (y == 0) return jfail(c, "float modulo");
            r = fmod(x, y);
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            break;
        default: r = pow(x, y); break;
        }
        *out = jv_float(r);
        return true;
    }
    if (op == JOP_ADD && a.k == JV_STR && b.k == JV_STR) {
        if (a.safe || b.safe) return markup_add(c, a, b, out);
        return binop(c, JOP_CONCAT, a, b, out);
    }
    if (op == JOP_ADD && a.k == JV_LIST && b.k == JV_LIST) {
        if (!jv_list_new(c, a.u.l->n + b.u.l->n, out)) return false;
        for (size_t i = 0; i < a.u.l->n; i++) out->u.l->v[out->u.l->n++] = a.u.l->v[i];
        for (size_t i = 0; i < b.u.l->n; i++) out->u.l->v[out->u.l->n++] = b.u.l->v[i];
        out->u.l->tuple = a.u.l->tuple;
        return true;
    }
    if (op == JOP_MUL && (a.k == JV_STR || a.k == JV_LIST) && (b.k == JV_INT || b.k == JV_BOOL))
        return repeat(c, a, as_int(b), out);
    if (op == JOP_MUL && (b.k == JV_STR || b.k == JV_LIST) && (a.k == JV_INT || a.k == JV_BOOL))
        return repeat(c, b, as_int(a), out);
    return arith_error(c, names[op], a, b);
}

static bool contains(jctx *c, jv needle, jv hay, bool *out) {
    switch (hay.k) {
    case JV_STR:
        if (needle.k != JV_STR)
            return jfail(c, "'in <string>' requires string as left operand, not %s",
                         jv_type_name(needle));
        *out = needle.u.s.n == 0 ||
               memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n) != NULL;
        return true;
    case JV_LIST:
        *out = false;
        for (size_t i = 0; i < hay.u.l->n && !*out; i++) *out = jv_equal(hay.u.l->v[i], needle);
        return true;
    case JV_DICT: {
        jv tmp;
        *out = jv_dict_get(hay.u.d, needle, &tmp);
        return true;
    }
    case JV_UNDEF: *out = false; return true;
    default: return jfail(c, "argument of type '%s' is not iterable", jv_type_name(hay));
    }
}

static bool compare(jctx *c, int op, jv a, jv b, bool *out) {
    int cmp;
    switch (op) {
    case JOP_EQ: *out = jv_equal(a, b); return true;
    case JOP_NE: *out = !jv_equal(a, b); return true;
    case JOP_IN: return contains(c, a, b, out);
    case JOP_NOTIN:
        if (!contains(c, a, b, out)) return false;
        *out = !*out;
        return true;
    default:
        if (a.k == JV_UNDEF) return undefined_error(c, a);
        if (b.k == JV_UNDEF) return undefined_error(c, b);
        if (!jv_compare(c, a, b, &cmp)) return false;
        *out = op == JOP_LT ? cmp < 0 : op == JOP_LE ? cmp <= 0 : op == JOP_GT ? cmp > 0 : cmp >= 0;
        return true;
    }
}

/* ---- calls ---- */

static bool eval_args(jctx *c, const jnode *n, jv **args) {
    *args = NULL;
    if (!n->nkids) return true;
    *args = ja_alloc(c->arena, n->nkids * sizeof(jv));
    if (!*args) return jlimit(c, "memory limit exceeded");
    for (size_t i = 0; i < n->nkids; i++)
        if (!jeval(c, n->kids[i], &(*args)[i])) return false;
    return true;
}

static bool call_macro(jctx *c, const jnode *def, jv *args, jstr *names, size_t nargs, jv *out) {
    if (c->depth >= c->max_depth)
        return jlimit(c, "recursion limit (%llu) exceeded calling macro '%.*s'",
                      (unsigned long long)c->max_depth, (int)def->name.n, def->name.p);
    jframe f = {.parent = c->globals};
    size_t npos = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (names && names[i].n) {
            size_t k;
            for (k = 0; k < def->nkids && !name_eq(def->kids[k]->name, names[i]); k++) {}
            if (k == def->nkids)
                return jfail(c, "macro '%.*s' has no parameter '%.*s'", (int)def->name.n,
                             def->name.p, (int)names[i].n, names[i].p);
            if (!jframe_set(c, &f, names[i], args[i])) return false;
        } else {
            if (npos >= def->nkids)
                return jfail(c, "macro '%.*s' takes at most %zu arguments", (int)def->name.n,
                             def->name.p, def->nkids);
            if (!jframe_set(c, &f, def->kids[npos]->name, args[i])) return false;
            npos++;
        }
    }
    jframe *saved = c->frame;
    c->frame = &f;
    for (size_t k = 0; k < def->nkids; k++) { /* defaults, evaluated in the macro's scope */
        bool bound = false;
        for (size_t j = 0; j < f.n; j++) bound |= name_eq(f.names[j], def->kids[k]->name);
        if (bound) continue;
        jv v = undef_named(def->kids[k]->name);
        if ((def->kids[k]->a && !jeval(c, def->kids[k]->a, &v)) ||
            !jframe_set(c, &f, def->kids[k]->name, v)) {
            c->frame = saved;
            return false;
        }
    }
    jbuf buf = {.limit = c->max_output};
    c->depth++;
    bool ok = jexec(c, def->b, &f, &buf);
    c->depth--;
    c->frame = saved;
    if (!ok) {
        jb_free(&buf);
        return false;
    }
    return jv_str_from_buf(c, &buf, out);
}

bool jcall(jctx *c, jv callee, jv *args, jstr *names, size_t nargs, jv *out) {
    switch (callee.k) {
    case JV_MACRO: return call_macro(c, callee.u.m->def, args, names, nargs, out);
    case JV_FUNC: return jfunc_call(c, callee.u.fn, args, names, nargs, out);
    case JV_UNDEF: return undefined_error(c, callee);
    default: return jfail(c, "'%s' object is not callable", jv_type_name(callee));
    }
}

/* a filter chain whose innermost operand is NULL gets `input` there */
static bool apply_filters(jctx *c, const jnode *f, jv input, jv *out) {
    jv v = input;
    if (f->a && !apply_filters(c, f->a, input, &v)) return false;
    jv *args;
    if (!eval_args(c, f, &args)) return false;
    at(c, f);
    return jfilter(c, f->name, v, args, f->argnames, f->nkids, out);
}

/* ---- expressions ---- */

static bool eval_seq(jctx *c, const jnode *n, jv *out) {
    if (!jv_list_new(c, n->nkids, out)) return false;
    for (size_t i = 0; i < n->nkids; i++)
        if (!jeval(c, n->kids[i], &out->u.l->v[i])) return false;
    out->u.l->n = n->nkids;
    out->u.l->tuple = n->k == JN_TUPLE;
    return true;
}

static bool eval_dict(jctx *c, const jnode *n, jv *out) {
    if (!jv_dict_new(c, out)) return false;
    for (size_t i = 0; i + 1 < n->nkids; i += 2) {
        jv k, v;
        if (!jeval(c, n->kids[i], &k) || !jeval(c, n->kids[i + 1], &v)) return false;
        if (k.k == JV_LIST && !k.u.l->tuple) return jfail(c, "unhashable type: 'list'");
        if (k.k == JV_DICT) return jfail(c, "unhashable type: 'dict'");
        if (!jv_dict_set(c, out->u.d, k, v)) return false;
    }
    return true;
}

static bool eval_compare(jctx *c, const jnode *n, jv *out) {
    jv left;
    if (!jeval(c, n->a, &left)) return false;
    for (size_t i = 0; i < n->nkids; i++) {
        jv right;
        bool r;
        if (!jeval(c, n->kids[i], &right)) return false;
        at(c, n);
        if (!compare(c, n->ops[i], left, right, &r)) return false;
        if (!r) {
            *out = jv_bool(false);
            return true;
        }
        left = right;
    }
    *out = jv_bool(true);
    return true;
}

static bool eval_call(jctx *c, const jnode *n, jv *out) {
    jv callee, *args;
    if (!jeval(c, n->a, &callee) || !eval_args(c, n, &args)) return false;
    at(c, n);
    return jcall(c, callee, args, n->argnames, n->nkids, out);
}

static bool eval_test(jctx *c, const jnode *n, jv *out) {
    jv v, *args;
    bool r;
    if (!jeval(c, n->a, &v) || !eval_args(c, n, &args)) return false;
    at(c, n);
    if (!jtest(c, n->name, v, args, n->nkids, &r)) return false;
    *out = jv_bool(r != n->negate);
    return true;
}

static bool eval_unary(jctx *c, const jnode *n, jv *out) {
    jv v;
    if (!jeval(c, n->a, &v)) return false;
    at(c, n);
    if (n->k == JN_NOT) {
        *out = jv_bool(!jv_truthy(v));
        return true;
    }
    if (!jv_is_number(v)) return arith_error(c, n->k == JN_NEG ? "unary -" : "unary +", v, v);
    if (n->k == JN_POS) *out = v.k == JV_BOOL ? jv_int(v.u.b) : v;
    else if (v.k == JV_FLOAT) *out = jv_float(-v.u.f);
    else if (as_int(v) == INT64_MIN) return jfail(c, "integer overflow");
    else *out = jv_int(-as_int(v));
    return true;
}

static bool eval_item(jctx *c, const jnode *n, jv *out) {
    jv obj, key;
    if (!jeval(c, n->a, &obj) || !jeval(c, n->b, &key)) return false;
    at(c, n);
    return jgetitem(c, obj, key, out);
}

static bool eval_slice(jctx *c, const jnode *n, jv *out) {
    jv obj, parts[3] = {jv_none(), jv_none(), jv_none()};
    const jnode *pn[3] = {n->b, n->c, n->d};
    if (!jeval(c, n->a, &obj)) return false;
    for (int i = 0; i < 3; i++)
        if (pn[i] && !jeval(c, pn[i], &parts[i])) return false;
    at(c, n);
    return do_slice(c, obj, parts[0], parts[1], parts[2], out);
}

bool jeval(jctx *c, const jnode *n, jv *out) {
    at(c, n);
    switch (n->k) {
    case JN_LIT: *out = n->lit; return true;
    case JN_NAME:
        if (jframe_lookup(c->frame, n->name, out)) return true;
        if (!jglobal_lookup(c, n->name, out)) *out = undef_named(n->name);
        return true;
    case JN_LIST: case JN_TUPLE: return eval_seq(c, n, out);
    case JN_DICT: return eval_dict(c, n, out);
    case JN_ATTR: {
        jv obj;
        if (!jeval(c, n->a, &obj)) return false;
        at(c, n);
        return get_attr(c, obj, n->name, out);
    }
    case JN_ITEM: return eval_item(c, n, out);
    case JN_SLICE: return eval_slice(c, n, out);
    case JN_CALL: return eval_call(c, n, out);
    case JN_FILTER: {
        jv v;
        if (!jeval(c, n->a, &v)) return false;
        jv *args;
        if (!eval_args(c, n, &args)) return false;
        at(c, n);
        return jfilter(c, n->name, v, args, n->argnames, n->nkids, out);
    }
    case JN_TEST: return eval_test(c, n, out);
    case JN_NEG: case JN_POS: case JN_NOT: return eval_unary(c, n, out);
    case JN_AND: case JN_OR: {
        jv a;
        if (!jeval(c, n->a, &a)) return false;
        if (jv_truthy(a) == (n->k == JN_OR)) {
            *out = a;
            return true;
        }
        return jeval(c, n->b, out);
    }
    case JN_BINOP: {
        jv a, b;
        if (!jeval(c, n->a, &a) || !jeval(c, n->b, &b)) return false;
        at(c, n);
        return binop(c, n->op, a, b, out);
    }
    case JN_COMPARE: return eval_compare(c, n, out);
    case JN_COND: {
        jv cond;
        if (!jeval(c, n->b, &cond)) return false;
        if (jv_truthy(cond)) return jeval(c, n->a, out);
        if (n->c) return jeval(c, n->c, out);
        *out = jv_undef();
        return true;
    }
    default: return jfail(c, "statement used as an expression");
    }
}

/* ---- statements ---- */

static bool assign(jctx *c, const jnode *target, jv v, jframe *f) {
    if (target->k == JN_NAME) return jframe_set(c, f, target->name, v);
    if (target->k == JN_ATTR) {
        jv ns;
        if (!jframe_lookup(f, target->a->name, &ns) || ns.k != JV_NS)
            return jfail(c, "cannot assign attribute '%.*s' on a non-namespace object",
                         (int)target->name.n, target->name.p);
        jv key;
        if (!jv_str_copy(c, target->name.p, target->name.n, &key)) return false;
        return jv_dict_set(c, ns.u.d, key, v);
    }
    /* tuple unpacking */
    jv items;
    if (v.k == JV_LIST) items = v;
    else if (!jiterate(c, v, &items)) return false;
    if (items.u.l->n != target->nkids)
        return jfail(c, "cannot unpack %zu values into %zu names", items.u.l->n, target->nkids);
    for (size_t i = 0; i < target->nkids; i++)
        if (!jframe_set(c, f, target->kids[i]->name, items.u.l->v[i])) return false;
    return true;
}

static bool exec_for(jctx *c, const jnode *n, jframe *f, jbuf *out) {
    jv seq, items;
    c->frame = f;
    if (!jeval(c, n->b, &seq)) return false;
    at(c, n);
    if (!jiterate(c, seq, &items)) return false;
    jframe it = {.parent = f};
    if (n->d) { /* loop filter: keep items for which the condition holds */
        jv kept;
        if (!jv_list_new(c, items.u.l->n, &kept)) return false;
        for (size_t i = 0; i < items.u.l->n; i++) {
            jv cond;
            it.n = 0;
            if (!jtick(c) || !assign(c, n->a, items.u.l->v[i], &it)) return false;
            c->frame = &it;
            if (!jeval(c, n->d, &cond)) return false;
            if (jv_truthy(cond)) kept.u.l->v[kept.u.l->n++] = items.u.l->v[i];
        }
        items = kept;
    }
    const jlist *l = items.u.l;
    if (l->n == 0) {
        if (!n->c) return true;
        it.n = 0;
        return jexec(c, n->c, &it, out);
    }
    jloop *loop = ja_alloc(c->arena, sizeof *loop);
    if (!loop) return jlimit(c, "memory limit exceeded");
    loop->length = (int64_t)l->n;
    loop->depth = 1;
    jv loopv = {.k = JV_LOOP, .u.loop = loop};
    for (size_t i = 0; i < l->n; i++) {
        loop->index0 = (int64_t)i;
        loop->has_prev = i > 0;
        loop->prev = i > 0 ? l->v[i - 1] : jv_undef();
        loop->has_next = i + 1 < l->n;
        loop->next = i + 1 < l->n ? l->v[i + 1] : jv_undef();
        it.n = 0;
        at(c, n);
        if (!jtick(c)) return false;
        if (!jframe_set(c, &it, (jstr){"loop", 4}, loopv) || !assign(c, n->a, l->v[i], &it))
            return false;
        if (!jexec(c, n->kids[0], &it, out)) return false;
        if (c->jump == 1) {
            c->jump = 0;
            break;
        }
        c->jump = 0;
    }
    return true;
}

static bool capture(jctx *c, const jnode *body, jframe *f, jv *out) {
    jbuf buf = {.limit = c->max_output};
    if (!jexec(c, body, f, &buf)) {
        jb_free(&buf);
        return false;
    }
    return jv_str_from_buf(c, &buf, out);
}

static bool write_value(jctx *c, jbuf *out, jv v) {
    if (!jv_write_str(c, out, v)) return false;
    if (out->overflow) return jlimit(c, "output limit (%llu bytes) exceeded", (unsigned long long)c->max_output);
    return true;
}

static bool exec_stmt(jctx *c, const jnode *n, jframe *f, jbuf *out) {
    jv v;
    c->frame = f;
    at(c, n);
    switch (n->k) {
    case JN_TEXT:
        if (!jb_put(out, n->name.p, n->name.n))
            return jlimit(c, "output limit (%llu bytes) exceeded", (unsigned long long)c->max_output);
        return true;
    case JN_OUTPUT:
        return jeval(c, n->a, &v) && write_value(c, out, v);
    case JN_IF: {
        if (!jeval(c, n->a, &v)) return false;
        const jnode *branch = jv_truthy(v) ? n->b : n->c;
        return branch ? jexec(c, branch, f, out) : true;
    }
    case JN_FOR: {
        bool ok = exec_for(c, n, f, out);
        c->frame = f; /* the iteration frame is gone */
        return ok;
    }
    case JN_SET:
        if (!jeval(c, n->b, &v)) return false;
        at(c, n);
        return assign(c, n->a, v, f);
    case JN_SETBLOCK:
        if (!capture(c, n->b, f, &v)) return false;
        if (n->c && !apply_filters(c, n->c, v, &v)) return false;
        return assign(c, n->a, v, f);
    case JN_MACRO: {
        jmacro *m = ja_alloc(c->arena, sizeof *m);
        if (!m) return jlimit(c, "memory limit exceeded");
        m->def = n;
        return jframe_set(c, f, n->name, (jv){.k = JV_MACRO, .u.m = m});
    }
    case JN_FILTERBLOCK:
        if (!capture(c, n->b, f, &v) || !apply_filters(c, n->c, v, &v)) return false;
        return write_value(c, out, v);
    case JN_BREAK: c->jump = 1; return true;
    case JN_CONTINUE: c->jump = 2; return true;
    case JN_BODY: return jexec(c, n, f, out);
    default: return jfail(c, "expression used as a statement");
    }
}

bool jexec(jctx *c, const jnode *n, jframe *f, jbuf *out) {
    if (n->k != JN_BODY) return exec_stmt(c, n, f, out);
    for (size_t i = 0; i < n->nkids && !c->jump; i++) {
        if (!exec_stmt(c, n->kids[i], f, out)) return false;
    }
    c->frame = f;
    return true;
}
