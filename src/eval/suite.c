/* Suite loading: native YAML/JSON documents ({name, defaults, cases}),
 * JSONL (one case per line; a line {"defaults": {...}} sets defaults for
 * the lines after it) and, through suite_promptfoo.c, promptfoo configs.
 * Every case becomes an slm_eval_case: templated chat messages, tools,
 * tags and a flat list of checks. Errors carry file:line of the case. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

#define MAX_SUITE_BYTES (256u << 20)

void ev_check_clear(slm_eval_check *c) {
    free(c->value);
    json_decref(c->json);
    json_decref(c->json_schema);
    memset(c, 0, sizeof *c);
}

void ev_case_clear(slm_eval_case *c) {
    free(c->id);
    json_decref(c->messages);
    json_decref(c->tools);
    json_decref(c->tags);
    for (size_t i = 0; i < c->n_checks; i++) ev_check_clear(&c->checks[i]);
    free(c->checks);
    free(c->graded_output);
    json_decref(c->metadata);
    json_decref(c->response_format);
    memset(c, 0, sizeof *c);
}

slm_eval_check *ev_case_add_check(slm_eval_case *c) {
    slm_eval_check *n = realloc(c->checks, (c->n_checks + 1) * sizeof *n);
    if (!n) return NULL;
    c->checks = n;
    memset(&n[c->n_checks], 0, sizeof *n);
    return &n[c->n_checks++];
}

void slm_eval_suite_free(slm_eval_suite *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_cases; i++) ev_case_clear(&s->cases[i]);
    free(s->cases);
    for (size_t i = 0; i < s->n_targets; i++) free(s->targets[i]);
    free(s->targets);
    free(s->judge);
    free(s->name);
    free(s->path);
    free(s);
}

/* ---- expect: the checks of a native case ---------------------------- */

typedef struct ctx {
    ev_doc *d;
    slm_eval_case *c;
    int line;
    slm_error *err;
} ctx;

static slm_status bad(ctx *x, const char *key, const char *what) {
    return slm_error_set(x->err, SLM_ERR_FORMAT, "%s:%d: case '%s': %s: %s", x->d->name, x->line,
                         x->c->id ? x->c->id : "?", key, what);
}

static slm_status add_text(ctx *x, slm_eval_check_kind kind, bool negate, unsigned norm, const char *key,
                           const json_t *v) {
    if (json_is_array(v)) { /* a list: one check per item */
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) {
            slm_status st = add_text(x, kind, negate, norm, key, it);
            if (st) return st;
        }
        return SLM_OK;
    }
    if (!json_is_string(v) && !json_is_number(v)) return bad(x, key, "expected a string or a list of strings");
    slm_eval_check *k = ev_case_add_check(x->c);
    if (!k) return slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
    k->kind = kind;
    k->negate = negate;
    k->norm = norm;
    k->line = x->line;
    k->value = json_is_string(v) ? ev_strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
    return k->value ? SLM_OK : slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
}

static slm_status add_json(ctx *x, slm_eval_check_kind kind, const json_t *v) {
    slm_eval_check *k = ev_case_add_check(x->c);
    if (!k) return slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
    k->kind = kind;
    k->line = x->line;
    k->json = v ? json_deep_copy(v) : NULL;
    return SLM_OK;
}

static slm_status add_number(ctx *x, slm_eval_check_kind kind, const char *key, const json_t *v) {
    if (!json_is_number(v) || json_number_value(v) < 0) return bad(x, key, "expected a non-negative number");
    slm_eval_check *k = ev_case_add_check(x->c);
    if (!k) return slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
    k->kind = kind;
    k->line = x->line;
    k->number = json_number_value(v);
    return SLM_OK;
}

static slm_status add_tool_call(ctx *x, const json_t *v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!json_is_object(v) || !name) return bad(x, "tool_call", "expected {name, arguments | arguments_schema}");
    json_t *args = json_object_get(v, "arguments"), *schema = json_object_get(v, "arguments_schema");
    if (schema && !json_is_object(schema) && !json_is_boolean(schema))
        return bad(x, "tool_call", "arguments_schema must be a JSON Schema");
    slm_eval_check *k = ev_case_add_check(x->c);
    if (!k) return slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
    k->kind = SLM_CHECK_TOOL_CALL;
    k->line = x->line;
    k->value = ev_strdup(name);
    k->json = args ? json_deep_copy(args) : NULL;
    k->json_schema = schema ? json_deep_copy(schema) : NULL;
    return k->value ? SLM_OK : slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
}

static slm_status parse_norm(ctx *x, const json_t *v, unsigned *norm) {
    *norm = 0;
    if (!v) return SLM_OK;
    if (json_is_true(v)) return *norm = SLM_NORM_ALL, SLM_OK;
    if (json_is_string(v)) {
        json_t *a = json_pack("[O]", v);
        slm_status st = parse_norm(x, a, norm);
        json_decref(a);
        return st;
    }
    if (!json_is_array(v)) return bad(x, "normalize", "expected a list of case/space/punct");
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        const char *s = json_string_value(it);
        if (s && !strcmp(s, "case")) *norm |= SLM_NORM_CASE;
        else if (s && !strcmp(s, "space")) *norm |= SLM_NORM_SPACE;
        else if (s && !strcmp(s, "punct")) *norm |= SLM_NORM_PUNCT;
        else return bad(x, "normalize", "expected case, space or punct");
    }
    return SLM_OK;
}

static slm_status parse_expect_key(ctx *x, const char *k, const json_t *v, unsigned norm) {
    if (!strcmp(k, "exact")) return add_text(x, SLM_CHECK_EXACT, false, norm, k, v);
    if (!strcmp(k, "normalized")) return add_text(x, SLM_CHECK_NORMALIZED, false, SLM_NORM_ALL, k, v);
    if (!strcmp(k, "label")) return add_text(x, SLM_CHECK_LABEL, false, SLM_NORM_ALL, k, v);
    if (!strcmp(k, "contains")) return add_text(x, SLM_CHECK_CONTAINS, false, 0, k, v);
    if (!strcmp(k, "icontains")) return add_text(x, SLM_CHECK_ICONTAINS, false, 0, k, v);
    if (!strcmp(k, "not_contains")) return add_text(x, SLM_CHECK_CONTAINS, true, 0, k, v);
    if (!strcmp(k, "not_icontains")) return add_text(x, SLM_CHECK_ICONTAINS, true, 0, k, v);
    if (!strcmp(k, "regex")) return add_text(x, SLM_CHECK_REGEX, false, 0, k, v);
    if (!strcmp(k, "not_regex")) return add_text(x, SLM_CHECK_REGEX, true, 0, k, v);
    if (!strcmp(k, "json")) return add_json(x, SLM_CHECK_JSON_VALUE, v);
    if (!strcmp(k, "is_json")) return json_is_true(v) ? add_json(x, SLM_CHECK_IS_JSON, NULL) : SLM_OK;
    if (!strcmp(k, "tools_valid")) return json_is_true(v) ? add_json(x, SLM_CHECK_TOOLS_VALID, NULL) : SLM_OK;
    if (!strcmp(k, "schema")) {
        if (!json_is_object(v) && !json_is_boolean(v)) return bad(x, k, "expected a JSON Schema object");
        return add_json(x, SLM_CHECK_JSON_SCHEMA, v);
    }
    if (!strcmp(k, "tool_call")) return add_tool_call(x, v);
    if (!strcmp(k, "max_latency_ms")) return add_number(x, SLM_CHECK_LATENCY, k, v);
    if (!strcmp(k, "max_cost")) return add_number(x, SLM_CHECK_COST, k, v);
    if (!strcmp(k, "normalize")) return SLM_OK;
    if (!strcmp(k, "rubric")) {
        if (!json_is_string(v) || !json_string_length(v)) return bad(x, k, "expected the rubric text");
        return add_text(x, SLM_CHECK_RUBRIC, false, 0, k, v);
    }
    return bad(x, k, "unknown expectation");
}

static slm_status parse_expect(ctx *x, const json_t *e) {
    if (!e) return SLM_OK;
    if (!json_is_object(e)) return bad(x, "expect", "expected a mapping");
    int l = ev_doc_line(x->d, e);
    if (l) x->line = l;
    unsigned norm;
    slm_status st = parse_norm(x, json_object_get(e, "normalize"), &norm);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v) {
        if (st) break;
        st = parse_expect_key(x, k, v, norm);
    }
    return st;
}

/* ---- a native case -------------------------------------------------- */

static slm_status build_messages(ctx *x, const json_t *c, const json_t *defaults, const json_t *vars) {
    const json_t *msgs = json_object_get(c, "messages");
    const json_t *prompt = json_object_get(c, "prompt");
    if (!prompt && !msgs) prompt = json_object_get(defaults, "prompt");
    const json_t *sys = json_object_get(c, "system");
    if (!sys) sys = json_object_get(defaults, "system");
    if (sys && !json_is_string(sys)) return bad(x, "system", "expected a string");
    json_t *raw;
    if (msgs) {
        if (!json_is_array(msgs) || !json_array_size(msgs)) return bad(x, "messages", "expected a non-empty list");
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")))
            return bad(x, "messages", "each message needs a role and content");
        raw = json_deep_copy(msgs);
    } else if (json_is_string(prompt)) {
        raw = json_pack("[{s:s,s:O}]", "role", "user", "content", prompt);
    } else return bad(x, "prompt", "a case needs prompt (string) or messages (list)");
    const char *first = json_string_value(json_object_get(json_array_get(raw, 0), "role"));
    if (sys && first && strcmp(first, "system"))
        json_array_insert_new(raw, 0, json_pack("{s:s,s:O}", "role", "system", "content", sys));
    slm_status st = ev_template_json(raw, vars, &x->c->messages, x->err);
    json_decref(raw);
    if (st) return slm_error_prefix(x->err, "%s:%d: case '%s'", x->d->name, x->line, x->c->id);
    return SLM_OK;
}

static slm_status merge_tags(ctx *x, const json_t *c, const json_t *defaults) {
    x->c->tags = json_array();
    const json_t *srcs[2] = {json_object_get(defaults, "tags"), json_object_get(c, "tags")};
    for (int s = 0; s < 2; s++) {
        if (!srcs[s]) continue;
        if (json_is_string(srcs[s])) {
            json_array_append(x->c->tags, (json_t *)srcs[s]);
            continue;
        }
        if (!json_is_array(srcs[s])) return bad(x, "tags", "expected a list of strings");
        size_t i;
        json_t *t;
        json_array_foreach(srcs[s], i, t) {
            if (!json_is_string(t)) return bad(x, "tags", "expected a list of strings");
            json_array_append(x->c->tags, t);
        }
    }
    return SLM_OK;
}

static char *case_id(const json_t *c, size_t index) {
    const json_t *id = json_object_get(c, "id");
    if (json_is_string(id)) return ev_strdup(json_string_value(id));
    char buf[32];
    if (json_is_integer(id)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
    else snprintf(buf, sizeof buf, "case-%zu", index + 1);
    return ev_strdup(buf);
}

/* The rubric (one per case), the human grade and the graded output
 * (judge-check). */
static slm_status parse_grading(ctx *x, const json_t *c) {
    slm_eval_case *k = x->c;
    for (size_t i = 0; i < k->n_checks; i++) {
        if (k->checks[i].kind != SLM_CHECK_RUBRIC) continue;
        if (k->rubric) return bad(x, "rubric", "a case has one rubric");
        k->rubric = k->checks[i].value;
    }
    const json_t *hg = json_object_get(c, "human_grade");
    if (hg) {
        slm_error e = {0};
        if (slm_eval_grade_from_json(hg, &k->human, &e)) return bad(x, "human_grade", e.msg);
    }
    const json_t *meta = json_object_get(c, "metadata");
    if (meta && !json_is_object(meta)) return bad(x, "metadata", "expected a mapping");
    if (meta) k->metadata = json_deep_copy(meta);
    const json_t *out = json_object_get(c, "output");
    if (out && !json_is_string(out)) return bad(x, "output", "expected the graded answer as a string");
    if (out && !(k->graded_output = ev_strdup(json_string_value(out))))
        return slm_error_set(x->err, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

slm_status ev_case_native(ev_doc *d, const json_t *c, const json_t *defaults, size_t index, slm_eval_case *out,
                          slm_error *err) {
    memset(out, 0, sizeof *out);
    ctx x = {.d = d, .c = out, .line = ev_doc_line(d, c), .err = err};
    out->line = x.line;
    if (!json_is_object(c))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: case %zu is not a mapping", d->name, x.line, index + 1);
    out->id = case_id(c, index);
    if (!out->id) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    const json_t *vars = json_object_get(c, "vars");
    json_t *merged = json_object();
    if (json_is_object(json_object_get(defaults, "vars"))) json_object_update(merged, json_object_get(defaults, "vars"));
    if (vars && !json_is_object(vars)) {
        json_decref(merged);
        return bad(&x, "vars", "expected a mapping");
    }
    if (vars) json_object_update(merged, (json_t *)vars);
    slm_status st = build_messages(&x, c, defaults, merged);
    json_decref(merged);
    if (!st) st = merge_tags(&x, c, defaults);
    const json_t *tools = json_object_get(c, "tools");
    if (!tools) tools = json_object_get(defaults, "tools");
    if (!st && tools && !json_is_array(tools)) st = bad(&x, "tools", "expected a list of OpenAI tool objects");
    if (!st && tools) out->tools = json_deep_copy(tools);
    const json_t *mt = json_object_get(c, "max_tokens");
    if (!mt) mt = json_object_get(defaults, "max_tokens");
    if (!st && mt && (!json_is_integer(mt) || json_integer_value(mt) < 1 || json_integer_value(mt) > 1000000))
        st = bad(&x, "max_tokens", "expected an integer in [1, 1000000]");
    if (!st && mt) out->max_tokens = (int32_t)json_integer_value(mt);
    if (!st) st = parse_expect(&x, json_object_get(defaults, "expect"));
    if (!st) st = parse_expect(&x, json_object_get(c, "expect"));
    if (!st && out->n_checks == 0) st = bad(&x, "expect", "a case needs at least one check");
    if (!st) st = parse_grading(&x, c);
    if (st) ev_case_clear(out);
    return st;
}

static slm_status check_unique_ids(const slm_eval_suite *s, slm_error *err) {
    for (size_t i = 1; i < s->n_cases; i++)
        for (size_t j = 0; j < i; j++) /* quadratic but suites are small (< 10^4) */
            if (!strcmp(s->cases[i].id, s->cases[j].id))
                return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: duplicate case id '%s' (first at line %d)",
                                     s->path, s->cases[i].line, s->cases[i].id, s->cases[j].line);
    return SLM_OK;
}

slm_status ev_suite_native(ev_doc *d, slm_eval_suite *s, slm_error *err) {
    const json_t *cases = json_object_get(d->root, "cases");
    if (!json_is_array(cases))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: a suite needs a 'cases' list (or promptfoo's prompts+tests)",
                             d->name, ev_doc_line(d, d->root));
    const json_t *defaults = json_object_get(d->root, "defaults");
    const char *name = json_string_value(json_object_get(d->root, "name"));
    if (name) s->name = ev_strdup(name);
    const json_t *judge = json_object_get(d->root, "judge");
    if (judge && !json_is_string(judge))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: judge: expected a target (model, tier or URL)", d->name);
    if (judge && !(s->judge = ev_strdup(json_string_value(judge))))
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t n = json_array_size(cases);
    s->cases = slm_calloc_array(n ? n : 1, sizeof *s->cases);
    if (!s->cases) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        slm_status st = ev_case_native(d, json_array_get(cases, i), defaults, i, &s->cases[i], err);
        if (st) return st;
        s->n_cases++;
    }
    return SLM_OK;
}

/* JSONL: every non-blank line is a case (or {"defaults": ...}). */
static slm_status parse_jsonl(const char *text, size_t len, const char *name, slm_eval_suite *s, slm_error *err) {
    json_t *defaults = NULL;
    size_t cap = 0;
    int line = 0;
    slm_status st = SLM_OK;
    for (size_t pos = 0; pos < len && !st;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        const char *l = text + pos;
        line++;
        pos = end + 1;
        size_t sp = 0;
        while (sp < n && strchr(" \t\r", l[sp])) sp++;
        if (sp == n || l[sp] == '#') continue;
        ev_doc d;
        st = ev_json_parse(l, n, name, line, &d, err);
        if (st) break;
        bool is_defaults = json_is_object(d.root) && json_object_size(d.root) == 1 &&
                           json_object_get(d.root, "defaults");
        if (is_defaults) {
            json_decref(defaults);
            defaults = json_incref(json_object_get(d.root, "defaults"));
        } else {
            if (s->n_cases == cap) {
                cap = cap ? cap * 2 : 64;
                slm_eval_case *nc = realloc(s->cases, cap * sizeof *nc);
                if (!nc) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
                else s->cases = nc;
            }
            if (!st) st = ev_case_native(&d, d.root, defaults, s->n_cases, &s->cases[s->n_cases], err);
            if (!st) s->n_cases++;
        }
        ev_doc_free(&d);
    }
    json_decref(defaults);
    return st;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

slm_status slm_eval_suite_parse(const char *text, size_t len, const char *name, slm_eval_suite **out,
                                slm_error *err) {
    *out = NULL;
    if (!text || !name) return slm_error_set(err, SLM_ERR_INVALID_ARG, "suite: NULL argument");
    slm_eval_suite *s = calloc(1, sizeof *s);
    if (!s || !(s->path = ev_strdup(name))) {
        free(s);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    slm_status st;
    if (has_suffix(name, ".jsonl")) st = parse_jsonl(text, len, s->path, s, err);
    else {
        ev_doc d;
        st = ev_yaml_parse(text, len, s->path, &d, err); /* JSON is YAML */
        if (!st && !json_is_object(d.root))
            st = slm_error_set(err, SLM_ERR_FORMAT, "%s:1: a suite must be a mapping", name);
        else if (!st && json_object_get(d.root, "tests") && json_object_get(d.root, "prompts"))
            st = ev_suite_promptfoo(&d, s, err);
        else if (!st) st = ev_suite_native(&d, s, err);
        if (d.root || d.nodes) ev_doc_free(&d);
    }
    if (!st && s->n_cases == 0) st = slm_error_set(err, SLM_ERR_FORMAT, "%s: the suite has no cases", name);
    if (!st) st = check_unique_ids(s, err);
    if (!st && !s->name) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *dot = strchr(base, '.');
        s->name = ev_strndup(base, dot ? (size_t)(dot - base) : strlen(base));
    }
    if (st) {
        slm_eval_suite_free(s);
        return st;
    }
    *out = s;
    return SLM_OK;
}

slm_status slm_eval_suite_load(const char *path, slm_eval_suite **out, slm_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    ev_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        ev_buf_put(&b, chunk, n);
        if (b.len > MAX_SUITE_BYTES) b.ok = false;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (rerr || !b.ok) {
        ev_buf_free(&b);
        return slm_error_set(err, rerr ? SLM_ERR_IO : SLM_ERR_RANGE, "%s: %s", path,
                             rerr ? "read error" : "larger than 256 MiB");
    }
    slm_status st = slm_eval_suite_parse(b.p ? b.p : "", b.len, path, out, err);
    ev_buf_free(&b);
    return st;
}
