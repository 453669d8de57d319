/* Python methods reachable from templates (str: startswith, split,
 * strip...; dict: items, keys, values, get; loop.cycle) and the global
 * functions (range, namespace, dict, raise_exception, strftime_now). A
 * method access yields a JV_FUNC bound to its object; calling it lands in
 * jfunc_call. Nothing here can reach outside the data given to render:
 * mutating methods (append, update, pop...) do not exist, as in HF's
 * ImmutableSandboxedEnvironment. */
#include "chat/jinja.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

bool jstr_case(jctx *c, jstr s, char mode, jv *out);
bool jstr_strip(jstr s, const jstr *chars, int which, jstr *out);
bool jstr_replace(jctx *c, jstr s, jstr old, jstr rep, int64_t count, jv *out);

enum {
    M_STARTSWITH, M_ENDSWITH, M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_UPPER, M_LOWER,
    M_TITLE, M_CAPITALIZE, M_REPLACE, M_JOIN, M_FIND, M_COUNT, M_SPLITLINES, M_ISDIGIT,
    M_ISALPHA, M_ISSPACE, M_ISALNUM, M_ISUPPER, M_ISLOWER,
    M_ITEMS, M_KEYS, M_VALUES, M_GET,
    M_CYCLE,
    G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME,
};

static const char *const STR_METHODS[] = {
    "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "upper", "lower",
    "title", "capitalize", "replace", "join", "find", "count", "splitlines", "isdigit",
    "isalpha", "isspace", "isalnum", "isupper", "islower"};
static const char *const DICT_METHODS[] = {"items", "keys", "values", "get"};
static const char *const GLOBALS[] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};

static bool make_func(jctx *c, int id, jv self, jv *out) {
    jfunc *fn = ja_alloc(c->arena, sizeof *fn);
    if (!fn) return jlimit(c, "memory limit exceeded");
    fn->id = id;
    fn->self = self;
    out->k = JV_FUNC;
    out->u.fn = fn;
    return true;
}

static int find_name(jstr name, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (jstr_eq(name, names[i])) return (int)i;
    return -1;
}

bool jmethod_lookup(jctx *c, jv obj, jstr name, jv *out, bool *found) {
    int i = -1, base = 0;
    if (obj.k == JV_STR) i = find_name(name, STR_METHODS, sizeof STR_METHODS / sizeof *STR_METHODS);
    else if (obj.k == JV_DICT) {
        i = find_name(name, DICT_METHODS, sizeof DICT_METHODS / sizeof *DICT_METHODS);
        base = M_ITEMS;
    } else if (obj.k == JV_LOOP && jstr_eq(name, "cycle")) {
        i = 0;
        base = M_CYCLE;
    }
    *found = i >= 0;
    return i < 0 || make_func(c, base + i, obj, out);
}

bool jglobal_lookup(jctx *c, jstr name, jv *out) {
    int i = find_name(name, GLOBALS, sizeof GLOBALS / sizeof *GLOBALS);
    return i >= 0 && make_func(c, G_RANGE + i, jv_undef(), out);
}

bool jiterate(jctx *c, jv v, jv *out) {
    switch (v.k) {
    case JV_LIST: *out = v; return true;
    case JV_UNDEF: return jv_list_new(c, 0, out);
    case JV_DICT:
        if (!jv_list_new(c, v.u.d->n, out)) return false;
        if (v.u.d->n) memcpy(out->u.l->v, v.u.d->key, v.u.d->n * sizeof(jv));
        out->u.l->n = v.u.d->n;
        return true;
    case JV_STR: {
        size_t n = utf8_count(v.u.s.p, v.u.s.n);
        if (!jv_list_new(c, n, out)) return false;
        for (size_t i = 0, k = 0; i < v.u.s.n; k++) {
            size_t len = 1;
            while (i + len < v.u.s.n && ((unsigned char)v.u.s.p[i + len] & 0xc0) == 0x80) len++;
            out->u.l->v[k] = jv_strn(v.u.s.p + i, len);
            out->u.l->n++;
            i += len;
        }
        return true;
    }
    default: return jfail(c, "'%s' object is not iterable", jv_type_name(v));
    }
}

static bool str_arg(jctx *c, jv v, const char *what, jstr *out) {
    if (v.k != JV_STR) return jfail(c, "%s must be a string, not %s", what, jv_type_name(v));
    *out = v.u.s;
    return true;
}

static bool affix(jctx *c, jstr s, jv arg, bool prefix, bool *out) {
    *out = false;
    if (arg.k == JV_LIST) {
        for (size_t i = 0; i < arg.u.l->n && !*out; i++)
            if (!affix(c, s, arg.u.l->v[i], prefix, out)) return false;
        return true;
    }
    jstr a = {0};
    if (!str_arg(c, arg, prefix ? "startswith argument" : "endswith argument", &a)) return false;
    *out = a.n <= s.n && memcmp(prefix ? s.p : s.p + s.n - a.n, a.p, a.n) == 0;
    return true;
}

static bool is_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f' ||
           (ch >= 0x1c && ch <= 0x1f);
}

static bool push_str(jctx *c, jv list, const char *p, size_t n) {
    return jv_list_push(c, list.u.l, jv_strn(p, n));
}

/* str.split / str.rsplit */
static bool split(jctx *c, jstr s, jv sepv, jv maxv, bool from_right, jv *out) {
    int64_t maxsplit = -1;
    if (maxv.k == JV_INT) maxsplit = maxv.u.i;
    else if (maxv.k != JV_UNDEF) return jfail(c, "maxsplit must be an integer");
    if (!jv_list_new(c, 0, out)) return false;
    if (sepv.k == JV_UNDEF || sepv.k == JV_NONE) {
        /* runs of whitespace; ends trimmed (rsplit: from the right) */
        jv parts;
        if (!jv_list_new(c, 0, &parts)) return false;
        if (!from_right) {
            size_t i = 0;
            int64_t done = 0;
            while (i < s.n) {
                while (i < s.n && is_ws(s.p[i])) i++;
                if (i >= s.n) break;
                if (maxsplit >= 0 && done >= maxsplit) {
                    size_t e = s.n;
                    return push_str(c, *out, s.p + i, e - i);
                }
                size_t j = i;
                while (j < s.n && !is_ws(s.p[j])) j++;
                if (!push_str(c, *out, s.p + i, j - i)) return false;
                done++;
                i = j;
            }
            return true;
        }
        size_t j = s.n;
        int64_t done = 0;
        while (j > 0) {
            while (j > 0 && is_ws(s.p[j - 1])) j--;
            if (j == 0) break;
            size_t i = j;
            if (maxsplit >= 0 && done >= maxsplit) i = 0;
            else
                while (i > 0 && !is_ws(s.p[i - 1])) i--;
            if (!push_str(c, parts, s.p + i, j - i)) return false;
            done++;
            j = i;
        }
        for (size_t k = parts.u.l->n; k > 0; k--)
            if (!jv_list_push(c, out->u.l, parts.u.l->v[k - 1])) return false;
        return true;
    }
    jstr sep = {0};
    if (!str_arg(c, sepv, "separator", &sep)) return false;
    if (sep.n == 0) return jfail(c, "empty separator");
    if (!from_right) {
        size_t i = 0;
        int64_t done = 0;
        for (;;) {
            const char *hit = (maxsplit < 0 || done < maxsplit) ? memmem(s.p + i, s.n - i, sep.p, sep.n) : NULL;
            if (!hit) return push_str(c, *out, s.p + i, s.n - i);
            if (!push_str(c, *out, s.p + i, (size_t)(hit - s.p) - i)) return false;
            i = (size_t)(hit - s.p) + sep.n;
            done++;
            if (!jtick(c)) return false;
        }
    }
    jv parts;
    if (!jv_list_new(c, 0, &parts)) return false;
    size_t end = s.n;
    int64_t done = 0;
    for (;;) {
        size_t hit = SIZE_MAX;
        if (maxsplit < 0 || done < maxsplit)
            for (size_t k = end >= sep.n ? end - sep.n + 1 : 0; k-- > 0;)
                if (memcmp(s.p + k, sep.p, sep.n) == 0) {
                    hit = k;
                    break;
                }
        if (hit == SIZE_MAX) {
            if (!push_str(c, parts, s.p, end)) return false;
            break;
        }
        if (!push_str(c, parts, s.p + hit + sep.n, end - hit - sep.n)) return false;
        end = hit;
        done++;
        if (!jtick(c)) return false;
    }
    for (size_t k = parts.u.l->n; k > 0; k--)
        if (!jv_list_push(c, out->u.l, parts.u.l->v[k - 1])) return false;
    return true;
}

/* Python str.title(): a letter after a non-letter is upper-cased */
static bool py_title(jctx *c, jstr s, jv *out) {
    char *p = ja_alloc(c->arena, s.n + 1);
    if (!p) return jlimit(c, "memory limit exceeded");
    bool prev_letter = false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (letter && !prev_letter && ch >= 'a') ch = (char)(ch - 32);
        else if (letter && prev_letter && ch <= 'Z') ch = (char)(ch + 32);
        p[i] = ch;
        prev_letter = letter;
    }
    *out = jv_strn(p, s.n);
    return true;
}

static bool char_class(jstr s, int id) {
    if (s.n == 0) return false;
    bool cased = false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        bool d = ch >= '0' && ch <= '9', lo = ch >= 'a' && ch <= 'z', up = ch >= 'A' && ch <= 'Z';
        switch (id) {
        case M_ISDIGIT: if (!d) return false; break;
        case M_ISALPHA: if (!lo && !up) return false; break;
        case M_ISALNUM: if (!lo && !up && !d) return false; break;
        case M_ISSPACE: if (!is_ws(ch)) return false; break;
        case M_ISUPPER: if (lo) return false; cased |= up; break;
        default: if (up) return false; cased |= lo; break;
        }
    }
    return id == M_ISUPPER || id == M_ISLOWER ? cased : true;
}

static bool str_method(jctx *c, int id, jstr s, jv *a, jv *out) {
    jstr x = {0}, r = {0};
    bool b;
    switch (id) {
    case M_STARTSWITH:
    case M_ENDSWITH:
        if (!affix(c, s, a[0], id == M_STARTSWITH, &b)) return false;
        *out = jv_bool(b);
        return true;
    case M_STRIP: case M_LSTRIP: case M_RSTRIP: {
        bool has = a[0].k != JV_UNDEF && a[0].k != JV_NONE;
        if (has && !str_arg(c, a[0], "strip argument", &x)) return false;
        jstr_strip(s, has ? &x : NULL, id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2, &r);
        *out = jv_strn(r.p, r.n);
        return true;
    }
    case M_SPLIT: case M_RSPLIT: return split(c, s, a[0], a[1], id == M_RSPLIT, out);
    case M_UPPER: return jstr_case(c, s, 'u', out);
    case M_LOWER: return jstr_case(c, s, 'l', out);
    case M_CAPITALIZE: return jstr_case(c, s, 'c', out);
    case M_TITLE: return py_title(c, s, out);
    case M_REPLACE: {
        jstr old = {0}, rep = {0};
        int64_t count = a[2].k == JV_INT ? a[2].u.i : -1;
        if (!str_arg(c, a[0], "replace argument", &old) || !str_arg(c, a[1], "replace argument", &rep))
            return false;
        return jstr_replace(c, s, old, rep, count, out);
    }
    case M_JOIN: {
        jv items;
        if (!jiterate(c, a[0], &items)) return false;
        jbuf buf = {.limit = c->max_output};
        for (size_t i = 0; i < items.u.l->n; i++) {
            if (items.u.l->v[i].k != JV_STR) {
                jb_free(&buf);
                return jfail(c, "join: sequence item %zu is %s, not str", i, jv_type_name(items.u.l->v[i]));
            }
            if (i) jb_put(&buf, s.p, s.n);
            jb_put(&buf, items.u.l->v[i].u.s.p, items.u.l->v[i].u.s.n);
        }
        return jv_str_from_buf(c, &buf, out);
    }
    case M_FIND: case M_COUNT: {
        if (!str_arg(c, a[0], "argument", &x)) return false;
        if (id == M_FIND) {
            const char *hit = x.n ? memmem(s.p, s.n, x.p, x.n) : s.p;
            *out = jv_int(hit ? (int64_t)utf8_count(s.p, (size_t)(hit - s.p)) : -1);
            return true;
        }
        int64_t n = 0;
        if (x.n == 0) n = (int64_t)utf8_count(s.p, s.n) + 1;
        else
            for (const char *p = s.p; (p = memmem(p, s.n - (size_t)(p - s.p), x.p, x.n)); p += x.n) n++;
        *out = jv_int(n);
        return true;
    }
    case M_SPLITLINES: {
        if (!jv_list_new(c, 0, out)) return false;
        size_t i = 0;
        while (i < s.n) {
            size_t j = i;
            while (j < s.n && s.p[j] != '\n' && s.p[j] != '\r') j++;
            if (!push_str(c, *out, s.p + i, j - i)) return false;
            if (j < s.n && s.p[j] == '\r' && j + 1 < s.n && s.p[j + 1] == '\n') j++;
            i = j + 1;
        }
        return true;
    }
    default:
        *out = jv_bool(char_class(s, id));
        return true;
    }
}

static bool dict_method(jctx *c, int id, const jdict *d, jv *a, size_t nargs, jv *out) {
    switch (id) {
    case M_GET:
        if (nargs < 1) return jfail(c, "get expected at least 1 argument");
        if (!jv_dict_get(d, a[0], out)) *out = nargs > 1 ? a[1] : jv_none();
        return true;
    case M_KEYS:
    case M_VALUES:
        if (!jv_list_new(c, d->n, out)) return false;
        if (d->n) memcpy(out->u.l->v, id == M_KEYS ? d->key : d->val, d->n * sizeof(jv));
        out->u.l->n = d->n;
        return true;
    default: { /* items */
        jv self = {.k = JV_DICT, .u.d = (jdict *)d};
        jv args[1];
        jstr names[1] = {{0}};
        return jfilter(c, (jstr){"items", 5}, self, args, names, 0, out);
    }
    }
}

static bool g_range(jctx *c, jv *args, size_t nargs, jv *out) {
    int64_t v[3] = {0, 0, 1};
    if (nargs < 1 || nargs > 3) return jfail(c, "range expected 1 to 3 arguments");
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].k != JV_INT && args[i].k != JV_BOOL) return jfail(c, "range arguments must be integers");
        v[nargs == 1 ? 1 : i] = args[i].k == JV_BOOL ? args[i].u.b : args[i].u.i;
    }
    if (v[2] == 0) return jfail(c, "range step must not be zero");
    /* count without overflow, then charge it to the iteration budget */
    double span = ((double)v[1] - (double)v[0]) / (double)v[2];
    uint64_t n = span > 0 ? (uint64_t)(span + 0.999999999) : 0;
    if (n > c->max_iterations - (c->iterations < c->max_iterations ? c->iterations : c->max_iterations))
        return jlimit(c, "range of %llu items exceeds the loop iteration limit", (unsigned long long)n);
    c->iterations += n;
    if (!jv_list_new(c, (size_t)n, out)) return false;
    int64_t x = v[0];
    for (uint64_t i = 0; i < n; i++, x += v[2]) out->u.l->v[i] = jv_int(x);
    out->u.l->n = (size_t)n;
    return true;
}

static bool g_mapping(jctx *c, bool ns, jv *args, jstr *names, size_t nargs, jv *out) {
    if (!jv_dict_new(c, out)) return false;
    if (ns) out->k = JV_NS;
    for (size_t i = 0; i < nargs; i++) {
        if (names && names[i].n) {
            if (!jv_dict_set(c, out->u.d, jv_strn(names[i].p, names[i].n), args[i])) return false;
        } else if (args[i].k == JV_DICT) {
            for (size_t k = 0; k < args[i].u.d->n; k++)
                if (!jv_dict_set(c, out->u.d, args[i].u.d->key[k], args[i].u.d->val[k])) return false;
        } else {
            return jfail(c, "%s() takes keyword arguments or a mapping", ns ? "namespace" : "dict");
        }
    }
    return true;
}

static bool g_strftime(jctx *c, jv *args, size_t nargs, jv *out) {
    if (nargs != 1 || args[0].k != JV_STR) return jfail(c, "strftime_now expects one format string");
    char fmt[256], buf[512];
    if (args[0].u.s.n >= sizeof fmt) return jfail(c, "strftime_now format too long");
    memcpy(fmt, args[0].u.s.p, args[0].u.s.n);
    fmt[args[0].u.s.n] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(buf, sizeof buf, fmt, &tm);
    return jv_str_copy(c, buf, n, out);
}

/* argument slot of a keyword argument of a str method, -1 if none */
static int kw_slot(int id, jstr name) {
    if ((id == M_SPLIT || id == M_RSPLIT) && jstr_eq(name, "sep")) return 0;
    if ((id == M_SPLIT || id == M_RSPLIT) && jstr_eq(name, "maxsplit")) return 1;
    if ((id == M_STRIP || id == M_LSTRIP || id == M_RSTRIP) && jstr_eq(name, "chars")) return 0;
    if (id == M_REPLACE && jstr_eq(name, "count")) return 2;
    return -1;
}

bool jfunc_call(jctx *c, const jfunc *fn, jv *args, jstr *names, size_t nargs, jv *out) {
    jv a[3] = {jv_undef(), jv_undef(), jv_undef()};
    if (fn->id == M_CYCLE) {
        if (nargs == 0) return jfail(c, "no items for cycling given");
        *out = args[fn->self.u.loop->index0 % (int64_t)nargs];
        return true;
    }
    if (fn->id <= M_ISLOWER) {
        size_t pos = 0;
        for (size_t i = 0; i < nargs; i++) {
            int slot = names && names[i].n ? kw_slot(fn->id, names[i]) : (int)pos++;
            if (slot < 0) return jfail(c, "unexpected keyword argument '%.*s'", (int)names[i].n, names[i].p);
            if (slot > 2) return jfail(c, "too many arguments");
            a[slot] = args[i];
        }
        return str_method(c, fn->id, fn->self.u.s, a, out);
    }
    if (fn->id <= M_GET) {
        for (size_t i = 0; i < nargs && i < 3; i++) a[i] = args[i];
        return dict_method(c, fn->id, fn->self.u.d, a, nargs, out);
    }
    switch (fn->id) {
    case G_RANGE: return g_range(c, args, nargs, out);
    case G_NAMESPACE: return g_mapping(c, true, args, names, nargs, out);
    case G_DICT: return g_mapping(c, false, args, names, nargs, out);
    case G_STRFTIME: return g_strftime(c, args, nargs, out);
    case G_RAISE: {
        jv msg = nargs ? args[0] : jv_strn("", 0);
        if (!jv_to_str(c, msg, &msg)) return false;
        if (!c->failed) {
            c->failed = c->raised = true;
            slm_error_set(c->err, SLM_ERR_INVALID_ARG, "template %d:%d: raise_exception: %.*s",
                          c->line, c->col, (int)(msg.u.s.n > 900 ? 900 : msg.u.s.n), msg.u.s.p);
        }
        return false;
    }
    default: return jfail(c, "unknown function");
    }
}
