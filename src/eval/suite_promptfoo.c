/* promptfoo configs, deterministic subset: prompts x tests become cases;
 * providers become suggested targets; defaultTest's vars and asserts apply
 * to every test. Supported asserts: equals, contains, icontains, regex,
 * contains-all, is-json (with an optional schema value),
 * is-valid-openai-tools-call, latency, cost, and the not- forms of the
 * text ones; llm-rubric becomes a rubric for the judge. Anything else
 * (javascript, python, similar, file:// references) is
 * an error naming the line, so a partly-understood config never runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static slm_status pf_err(ev_doc *d, const json_t *node, int fallback, const char *fmt, const char *arg,
                         slm_error *err) {
    int line = ev_doc_line(d, node);
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg);
    return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: %s", d->name, line ? line : fallback, msg);
}

static slm_status add_text(slm_eval_case *c, slm_eval_check_kind kind, bool neg, const json_t *v, int line) {
    slm_eval_check *k = ev_case_add_check(c);
    if (!k) return SLM_ERR_NOMEM;
    k->kind = kind;
    k->negate = neg;
    k->line = line;
    k->value = json_is_string(v) ? ev_strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
    return k->value ? SLM_OK : SLM_ERR_NOMEM;
}

static slm_status one_assert(ev_doc *d, const json_t *a, int line, slm_eval_case *c, slm_error *err) {
    const char *type = json_string_value(json_object_get(a, "type"));
    if (!json_is_object(a) || !type) return pf_err(d, a, line, "%s", "an assert needs a type", err);
    int al = ev_doc_line(d, a);
    if (al) line = al;
    bool neg = !strncmp(type, "not-", 4);
    const char *t = neg ? type + 4 : type;
    const json_t *v = json_object_get(a, "value"), *th = json_object_get(a, "threshold");
    slm_eval_check *k;
    if (json_is_string(v) && !strncmp(json_string_value(v), "file://", 7))
        return pf_err(d, a, line, "assert '%s': file:// values are not supported", type, err);
    if (!strcmp(t, "equals") && v) {
        if (json_is_string(v)) return add_text(c, SLM_CHECK_EXACT, neg, v, line) ? slm_error_set(err, SLM_ERR_NOMEM, "oom") : SLM_OK;
        if (neg) return pf_err(d, a, line, "%s", "not-equals with a JSON value is not supported", err);
        if (!(k = ev_case_add_check(c))) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        k->kind = SLM_CHECK_JSON_VALUE, k->json = json_deep_copy(v), k->line = line;
        return SLM_OK;
    }
    slm_eval_check_kind kind;
    if (!strcmp(t, "contains") || !strcmp(t, "contains-all")) kind = SLM_CHECK_CONTAINS;
    else if (!strcmp(t, "icontains") || !strcmp(t, "icontains-all")) kind = SLM_CHECK_ICONTAINS;
    else if (!strcmp(t, "regex")) kind = SLM_CHECK_REGEX;
    else kind = SLM_CHECK_EXACT; /* marker: not a text assert */
    if (kind != SLM_CHECK_EXACT) {
        if (!v) return pf_err(d, a, line, "assert '%s' needs a value", type, err);
        bool all = strstr(t, "-all") != NULL;
        if (all != json_is_array(v))
            return pf_err(d, a, line, "assert '%s': value must be a list exactly for the -all forms", type, err);
        if (all && neg) return pf_err(d, a, line, "assert '%s' is not supported", type, err);
        size_t n = all ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++)
            if (add_text(c, kind, neg, all ? json_array_get(v, i) : v, line))
                return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        return SLM_OK;
    }
    if (neg) return pf_err(d, a, line, "assert type '%s' is not supported (deterministic subset only)", type, err);
    if (!(k = ev_case_add_check(c))) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    k->line = line;
    if (!strcmp(t, "is-json")) {
        if (v && !json_is_object(v)) return pf_err(d, a, line, "%s", "is-json: value must be a JSON Schema object", err);
        k->kind = v ? SLM_CHECK_JSON_SCHEMA : SLM_CHECK_IS_JSON;
        k->json = v ? json_deep_copy(v) : NULL;
    } else if (!strcmp(t, "llm-rubric")) { /* graded by the judge (-j TARGET) */
        if (!json_is_string(v) || !json_string_length(v))
            return pf_err(d, a, line, "%s", "llm-rubric needs the rubric as its value", err);
        if (c->rubric) return pf_err(d, a, line, "%s", "one llm-rubric per test", err);
        k->kind = SLM_CHECK_RUBRIC;
        if (!(k->value = ev_strdup(json_string_value(v)))) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        c->rubric = k->value;
    } else if (!strcmp(t, "is-valid-openai-tools-call")) {
        k->kind = SLM_CHECK_TOOLS_VALID;
    } else if (!strcmp(t, "latency") || !strcmp(t, "cost")) {
        if (!json_is_number(th) || json_number_value(th) < 0)
            return pf_err(d, a, line, "assert '%s' needs a non-negative threshold", type, err);
        k->kind = !strcmp(t, "latency") ? SLM_CHECK_LATENCY : SLM_CHECK_COST;
        k->number = json_number_value(th);
    } else {
        return pf_err(d, a, line, "assert type '%s' is not supported (deterministic subset only)", type, err);
    }
    return SLM_OK;
}

static slm_status add_asserts(ev_doc *d, const json_t *list, int line, slm_eval_case *c, slm_error *err) {
    if (!list) return SLM_OK;
    if (!json_is_array(list)) return pf_err(d, list, line, "%s", "assert must be a list", err);
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        slm_status st = one_assert(d, a, line, c, err);
        if (st) return st;
    }
    return SLM_OK;
}

/* A prompt text -> messages: a JSON list of {role, content} is a chat;
 * anything else one user message. Templated with the test's vars. */
static slm_status prompt_messages(const char *prompt, const json_t *vars, json_t **out, slm_error *err) {
    json_t *raw = json_loads(prompt, 0, NULL);
    bool chat = json_is_array(raw) && json_array_size(raw) > 0 &&
                json_is_string(json_object_get(json_array_get(raw, 0), "role"));
    if (!chat) {
        json_decref(raw);
        raw = json_pack("[{s:s,s:s}]", "role", "user", "content", prompt);
        if (!raw) return slm_error_set(err, SLM_ERR_FORMAT, "prompt is not valid UTF-8");
    }
    slm_status st = ev_template_json(raw, vars, out, err);
    json_decref(raw);
    return st;
}

static slm_status read_prompts(ev_doc *d, const json_t *prompts, json_t **out, slm_error *err) {
    json_t *list = json_array();
    const json_t *src = json_is_string(prompts) ? NULL : prompts;
    if (json_is_string(prompts)) json_array_append(list, (json_t *)prompts);
    size_t i;
    json_t *p;
    json_array_foreach(src, i, p) {
        const json_t *raw = json_is_object(p) ? json_object_get(p, "raw") : p;
        const char *s = json_string_value(raw);
        if (!s || !strncmp(s, "file://", 7)) {
            json_decref(list);
            return pf_err(d, p, ev_doc_line(d, prompts), "%s",
                          "prompts must be inline strings (or {raw: ...}); file:// is not supported", err);
        }
        json_array_append(list, (json_t *)raw);
    }
    if (!json_array_size(list)) {
        json_decref(list);
        return pf_err(d, prompts, 1, "%s", "prompts must be a string or a non-empty list", err);
    }
    *out = list;
    return SLM_OK;
}

/* Providers -> suggested targets; the first provider's config.tools are
 * the tools every case offers. */
static slm_status read_providers(ev_doc *d, const json_t *providers, slm_eval_suite *s, json_t **tools,
                                 slm_error *err) {
    *tools = NULL;
    if (!providers) return SLM_OK;
    json_t *list = json_is_array(providers) ? json_incref((json_t *)providers) : json_pack("[O]", providers);
    s->targets = slm_calloc_array(json_array_size(list) + 1, sizeof *s->targets);
    if (!s->targets) return json_decref(list), slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *id = json_string_value(json_is_object(p) ? json_object_get(p, "id") : p);
        if (!id) {
            json_decref(list);
            return pf_err(d, p, ev_doc_line(d, providers), "%s", "a provider needs an id", err);
        }
        s->targets[s->n_targets++] = ev_strdup(id);
        json_t *t = json_object_get(json_object_get(p, "config"), "tools");
        if (json_is_array(t) && !*tools) *tools = json_deep_copy(t);
    }
    json_decref(list);
    return SLM_OK;
}

static slm_status build_case(ev_doc *d, const json_t *test, const json_t *dflt, const char *prompt, size_t ti,
                             size_t pi, size_t np, const json_t *tools, slm_eval_case *c, slm_error *err) {
    memset(c, 0, sizeof *c);
    int line = ev_doc_line(d, test);
    c->line = line;
    char id[48];
    if (np > 1) snprintf(id, sizeof id, "t%zu-p%zu", ti + 1, pi + 1);
    else snprintf(id, sizeof id, "t%zu", ti + 1);
    c->id = ev_strdup(id);
    c->tags = json_array();
    json_t *tags = json_object_get(json_object_get(test, "metadata"), "tags");
    if (json_is_array(tags)) json_array_extend(c->tags, tags);
    if (np > 1) {
        snprintf(id, sizeof id, "prompt-%zu", pi + 1);
        json_array_append_new(c->tags, json_string(id));
    }
    if (tools) c->tools = json_deep_copy(tools);
    json_t *vars = json_object();
    if (json_is_object(json_object_get(dflt, "vars"))) json_object_update(vars, json_object_get(dflt, "vars"));
    if (json_is_object(json_object_get(test, "vars"))) json_object_update(vars, json_object_get(test, "vars"));
    slm_status st = prompt_messages(prompt, vars, &c->messages, err);
    json_decref(vars);
    if (st) st = slm_error_prefix(err, "%s:%d: test %zu", d->name, line, ti + 1);
    if (!st) st = add_asserts(d, json_object_get(dflt, "assert"), ev_doc_line(d, dflt), c, err);
    if (!st) st = add_asserts(d, json_object_get(test, "assert"), line, c, err);
    if (!st && !c->n_checks)
        st = slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: test %zu has no asserts", d->name, line, ti + 1);
    return st;
}

slm_status ev_suite_promptfoo(ev_doc *d, slm_eval_suite *s, slm_error *err) {
    const json_t *tests = json_object_get(d->root, "tests");
    const json_t *dflt = json_object_get(d->root, "defaultTest");
    const char *desc = json_string_value(json_object_get(d->root, "description"));
    if (!json_is_array(tests))
        return pf_err(d, tests, 1, "%s", "tests must be a list (file:// references are not supported)", err);
    if (desc) s->name = ev_strdup(desc);
    json_t *prompts = NULL, *tools = NULL;
    slm_status st = read_prompts(d, json_object_get(d->root, "prompts"), &prompts, err);
    if (st) return st;
    st = read_providers(d, json_object_get(d->root, "providers"), s, &tools, err);
    size_t np = json_array_size(prompts), nt = json_array_size(tests), total;
    if (!st && (__builtin_mul_overflow(np, nt, &total) || !(s->cases = slm_calloc_array(total + 1, sizeof *s->cases))))
        st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (size_t ti = 0; !st && ti < nt; ti++) {
        const json_t *t = json_array_get(tests, ti);
        if (!json_is_object(t)) {
            st = pf_err(d, t, ev_doc_line(d, tests), "%s", "each test must be a mapping", err);
            break;
        }
        for (size_t pi = 0; !st && pi < np; pi++) {
            slm_eval_case *c = &s->cases[s->n_cases];
            st = build_case(d, t, dflt, json_string_value(json_array_get(prompts, pi)), ti, pi, np, tools, c, err);
            if (st) ev_case_clear(c);
            else s->n_cases++;
        }
    }
    json_decref(prompts);
    json_decref(tools);
    return st;
}
