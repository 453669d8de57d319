/* Applying a case's checks to one answer. Each check returns pass/fail
 * and a short reason; the case passes when all pass. Besides pass/fail the
 * verdict records the three rates the report tracks: exact match
 * (exact/normalized/label/JSON value checks), schema validity (JSON Schema
 * checks) and executable tool calls (the call parses, names a declared
 * tool, and its arguments satisfy that tool's parameter schema). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "eval/eval_internal.h"

#define REGEX_MATCH_LIMIT 1000000

/* Normalised copy of s[0..n) (malloc'ed). */
static char *normalize(const char *s, size_t n, unsigned norm) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((norm & SLM_NORM_SPACE) && isspace(c)) {
            space = k > 0;
            continue;
        }
        if (space) o[k++] = ' ';
        space = false;
        o[k++] = (norm & SLM_NORM_CASE) ? (char)tolower(c) : (char)c;
    }
    o[k] = 0;
    if (norm & SLM_NORM_PUNCT) {
        static const char P[] = ".,;:!?\"'`*()[]{}<> \t\n";
        size_t a = 0;
        while (o[a] && strchr(P, o[a])) a++;
        while (k > a && strchr(P, o[k - 1])) k--;
        memmove(o, o + a, k - a);
        o[k - a] = 0;
    }
    return o;
}

static bool fail(slm_eval_verdict *v, const slm_eval_check *c, const char *fmt, const char *arg) {
    if (v->why[0] == 0) {
        char msg[400];
        snprintf(msg, sizeof msg, fmt, arg ? arg : "");
        snprintf(v->why, sizeof v->why, "%s%s", c->negate ? "not: " : "", msg);
    }
    return false;
}

static bool text_equal(const slm_eval_check *c, const slm_eval_output *o, unsigned norm, bool first_line) {
    size_t n = o->len;
    const char *t = o->text;
    if (first_line) { /* labels: the first non-blank line */
        while (n && isspace((unsigned char)*t)) t++, n--;
        const char *nl = memchr(t, '\n', n);
        if (nl) n = (size_t)(nl - t);
    }
    char *a = normalize(t, n, norm), *b = normalize(c->value, strlen(c->value), norm);
    bool eq = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return eq;
}

static bool contains(const char *hay, size_t n, const char *needle, bool icase) {
    size_t m = strlen(needle);
    if (m == 0) return true;
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && (icase ? tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j])
                               : hay[i + j] == needle[j]))
            j++;
        if (j == m) return true;
    }
    return false;
}

static slm_status regex_search(const char *re, const char *s, size_t n, bool *hit, slm_error *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *rc = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
                                   &off, NULL);
    if (!rc) {
        PCRE2_UCHAR msg[200];
        pcre2_get_error_message(code, msg, sizeof msg);
        return slm_error_set(err, SLM_ERR_FORMAT, "regex '%s' at offset %zu: %s", re, (size_t)off, (char *)msg);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(rc, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    slm_status st = SLM_OK;
    if (!md || !mc) st = slm_error_set(err, SLM_ERR_NOMEM, "regex: out of memory");
    else {
        pcre2_set_match_limit(mc, REGEX_MATCH_LIMIT);
        int r = pcre2_match(rc, (PCRE2_SPTR)s, n, 0, 0, md, mc);
        *hit = r >= 0;
        if (r < 0 && r != PCRE2_ERROR_NOMATCH)
            st = slm_error_set(err, SLM_ERR_RANGE, "regex '%s': match failed (error %d)", re, r);
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    pcre2_code_free(rc);
    return st;
}

static const json_t *tool_schema(const json_t *tools, const char *name, bool *declared) {
    size_t i;
    json_t *t;
    *declared = false;
    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        if (!fn) fn = t;
        const char *n = json_string_value(json_object_get(fn, "name"));
        if (n && !strcmp(n, name)) {
            *declared = true;
            return json_object_get(fn, "parameters");
        }
    }
    return NULL;
}

/* One call: parses, names a declared tool (any name when none are
 * declared), arguments valid under its parameters. *args gets the parsed
 * arguments (owned by the caller) when they parse. */
static bool call_executable(const json_t *call, const json_t *tools, json_t **args, char *why, size_t cap,
                            slm_error *err) {
    const json_t *fn = json_object_get(call, "function");
    const char *name = json_string_value(json_object_get(fn, "name"));
    const char *text = json_string_value(json_object_get(fn, "arguments"));
    *args = text ? json_loads(text, 0, NULL) : NULL;
    if (!name) return snprintf(why, cap, "tool call without a name"), false;
    if (!json_is_object(*args)) return snprintf(why, cap, "arguments of %.100s are not a JSON object", name), false;
    bool declared;
    const json_t *schema = tool_schema(tools, name, &declared);
    if (json_array_size(tools) && !declared) return snprintf(why, cap, "%.100s is not a declared tool", name), false;
    if (!schema) return true;
    bool ok;
    if (slm_eval_schema_valid(schema, *args, &ok, err) != SLM_OK)
        return snprintf(why, cap, "schema of %.100s: %.200s", name, err ? err->msg : "unsupported"), false;
    if (!ok) snprintf(why, cap, "arguments of %.100s do not satisfy its schema", name);
    return ok;
}

static json_t *calls_of(const slm_eval_output *o) {
    if (json_array_size(o->tool_calls)) return json_incref((json_t *)o->tool_calls);
    return slm_eval_tool_calls_from_text(o->text, o->len);
}

/* Tool checks: *exec is 1 when there is at least one call and every call
 * is executable. */
static bool check_tools(const slm_eval_check *c, const slm_eval_case *k, const slm_eval_output *o,
                        slm_eval_verdict *v, int *exec, slm_error *err) {
    json_t *calls = calls_of(o);
    char exec_why[400] = "no tool call in the output", call_why[400] = "";
    bool all_exec = json_array_size(calls) > 0, found = false;
    if (c->kind == SLM_CHECK_TOOL_CALL) snprintf(call_why, sizeof call_why, "no call to %.100s", c->value);
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call) {
        json_t *args;
        char w[400] = "";
        if (!call_executable(call, k->tools, &args, w, sizeof w, err)) {
            if (all_exec) snprintf(exec_why, sizeof exec_why, "%s", w); /* the first reason */
            all_exec = false;
        }
        const char *name = json_string_value(json_object_get(json_object_get(call, "function"), "name"));
        if (c->kind == SLM_CHECK_TOOL_CALL && name && !strcmp(name, c->value) && !found) {
            bool ok = json_is_object(args);
            if (ok && c->json) ok = ev_json_equal(args, c->json);
            if (ok && c->json_schema) {
                bool valid = false;
                ok = slm_eval_schema_valid(c->json_schema, args, &valid, err) == SLM_OK && valid;
            }
            found = ok;
            if (!ok) snprintf(call_why, sizeof call_why, "%.100s called with other arguments", c->value);
        }
        json_decref(args);
    }
    json_decref(calls);
    *exec = all_exec;
    if (!all_exec) return fail(v, c, "%s", exec_why);
    if (c->kind == SLM_CHECK_TOOL_CALL && !found) return fail(v, c, "%s", call_why);
    return true;
}

static bool check_json(const slm_eval_check *c, const slm_eval_output *o, slm_eval_verdict *v, slm_error *err,
                       slm_status *st) {
    json_t *val = ev_parse_json_loose(o->text, o->len);
    bool ok = val != NULL;
    if (!ok) fail(v, c, "%s", "output is not JSON");
    else if (c->kind == SLM_CHECK_JSON_VALUE) {
        ok = ev_json_equal(val, c->json);
        if (!ok) fail(v, c, "%s", "JSON value differs from the expected one");
    } else if (c->kind == SLM_CHECK_JSON_SCHEMA) {
        *st = slm_eval_schema_valid(c->json, val, &ok, err);
        if (*st) fail(v, c, "schema: %.300s", err ? err->msg : "unsupported");
        else if (!ok) fail(v, c, "%s", "output does not satisfy the schema");
    }
    json_decref(val);
    return ok;
}

/* Runs one check; *st gets a broken-check error. */
static bool run_check(const slm_eval_check *c, const slm_eval_case *k, const slm_eval_output *o,
                      slm_eval_verdict *v, slm_error *err, slm_status *st) {
    bool ok = false, hit = false;
    int exec = 0;
    slm_eval_verdict scratch = {0};
    slm_eval_verdict *w = c->negate ? &scratch : v; /* a negated check's reasons are inverted below */
    switch (c->kind) {
    case SLM_CHECK_EXACT:
    case SLM_CHECK_NORMALIZED:
    case SLM_CHECK_LABEL:
        ok = text_equal(c, o, c->norm, c->kind == SLM_CHECK_LABEL);
        if (!ok) fail(w, c, "expected '%.300s'", c->value);
        if (v->exact != 0) v->exact = ok != c->negate;
        break;
    case SLM_CHECK_JSON_VALUE:
        ok = check_json(c, o, w, err, st);
        if (v->exact != 0) v->exact = ok;
        break;
    case SLM_CHECK_IS_JSON: ok = check_json(c, o, w, err, st); break;
    case SLM_CHECK_JSON_SCHEMA:
        ok = check_json(c, o, w, err, st);
        if (v->schema_valid != 0) v->schema_valid = ok;
        break;
    case SLM_CHECK_TOOL_CALL:
    case SLM_CHECK_TOOLS_VALID:
        ok = check_tools(c, k, o, w, &exec, err);
        if (v->call_exec != 0) v->call_exec = (int8_t)exec;
        break;
    case SLM_CHECK_CONTAINS:
    case SLM_CHECK_ICONTAINS:
        ok = contains(o->text, o->len, c->value, c->kind == SLM_CHECK_ICONTAINS);
        if (!ok) fail(w, c, "does not contain '%.300s'", c->value);
        break;
    case SLM_CHECK_REGEX:
        *st = regex_search(c->value, o->text, o->len, &hit, err);
        ok = !*st && hit;
        if (*st) fail(w, c, "%.300s", err ? err->msg : "bad regex");
        else if (!ok) fail(w, c, "does not match /%.300s/", c->value);
        break;
    case SLM_CHECK_LATENCY:
        ok = o->latency_s * 1000.0 <= c->number;
        if (!ok) {
            char b[64];
            snprintf(b, sizeof b, "%.0f ms > %.0f ms", o->latency_s * 1000.0, c->number);
            fail(w, c, "latency %s", b);
        }
        break;
    case SLM_CHECK_RUBRIC: ok = true; break; /* graded by the judge after the checks */
    case SLM_CHECK_COST:
        ok = o->cost <= c->number;
        if (!ok) {
            char b[64];
            snprintf(b, sizeof b, "%.6g > %.6g", o->cost, c->number);
            fail(w, c, "cost %s", b);
        }
        break;
    }
    if (*st) return false; /* a broken check fails even when negated */
    if (c->negate) {
        if (ok) {
            char b[40];
            snprintf(b, sizeof b, "check at line %d", c->line);
            fail(v, c, "%s passed", b);
        }
        return !ok;
    }
    return ok;
}

slm_status slm_eval_check_case(const slm_eval_case *c, const slm_eval_output *o, slm_eval_verdict *v,
                               slm_error *err) {
    memset(v, 0, sizeof *v);
    v->exact = v->schema_valid = v->call_exec = -1;
    if (!c || !o) return slm_error_set(err, SLM_ERR_INVALID_ARG, "check: NULL argument");
    slm_eval_output safe = *o;
    if (!safe.text) safe.text = "", safe.len = 0;
    slm_status first = SLM_OK;
    v->pass = true;
    for (size_t i = 0; i < c->n_checks; i++) {
        slm_status st = SLM_OK;
        if (!run_check(&c->checks[i], c, &safe, v, err, &st)) v->pass = false;
        if (st && !first) first = st;
    }
    return first;
}
