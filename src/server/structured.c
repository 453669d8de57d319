/* Structured output for the server: turns OpenAI's response_format
 * (json_object, json_schema), llama.cpp's `grammar` extension (GBNF),
 * Ollama's `format` ("json" or a schema) and tools + tool_choice (also
 * honoured on Ollama's /api/chat) into one
 * compiled constraint for the scheduler (gen_opts.cons), and says whether
 * the output is to be parsed for tool calls. Fail closed: a schema or
 * grammar that does not compile is a 400 naming the reason (e.g. the
 * unsupported JSON Schema keyword), never unconstrained output.
 * Main data: gen_opts (server_internal.h); tool definitions are checked
 * here and each function's parameters schema becomes its argument grammar
 * inside the model family's call syntax (chat/toolcall_gbnf.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

#define MAX_TOOLS 128
#define MAX_PARALLEL_CALLS 8

typedef struct serr {
    const char **param;
    char *msg;
    size_t cap;
} serr;

static bool bad(serr *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool bad(serr *e, const char *param, const char *fmt, ...) {
    *e->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    return false;
}

static const json_t *field(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Takes g (freed on failure). */
static bool set_constraint(gen_opts *o, slm_grammar *g, const char *const *triggers, serr *e, const char *param) {
    int32_t n = 0;
    while (triggers && triggers[n]) n++;
    slm_error err = {0};
    if (slm_constraint_new(g, triggers, n, &o->cons, &err) != SLM_OK) return bad(e, param, "%s", err.msg);
    o->rp.constraint = o->cons;
    return true;
}

/* strict or not, an object may not carry properties its schema does not
 * list (OpenAI strict mode, and what most engines do; a small model
 * invents keys otherwise). */
static bool schema_constraint(gen_opts *o, const json_t *schema, serr *e, const char *param) {
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return bad(e, param, "out of memory");
    slm_json_schema_opts opts = {.allow_whitespace = false, .loose_additional = false};
    slm_grammar *g = NULL;
    slm_error err = {0};
    slm_status st = slm_grammar_compile_json_schema(text, strlen(text), &opts, &g, &err);
    free(text);
    if (st != SLM_OK) return bad(e, param, "%s: %s", param, err.msg);
    return set_constraint(o, g, NULL, e, param);
}

static bool json_object_constraint(gen_opts *o, serr *e, const char *param) {
    slm_grammar *g = NULL;
    slm_error err = {0};
    if (slm_grammar_compile_json_object(NULL, &g, &err) != SLM_OK) return bad(e, param, "%s", err.msg);
    return set_constraint(o, g, NULL, e, param);
}

static bool response_format(gen_opts *o, const json_t *rf, serr *e) {
    if (!json_is_object(rf)) return bad(e, "response_format", "response_format must be an object");
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (!type) return bad(e, "response_format", "response_format.type must be a string");
    if (strcmp(type, "text") == 0) return true;
    if (strcmp(type, "json_object") == 0) return json_object_constraint(o, e, "response_format");
    if (strcmp(type, "json_schema") != 0)
        return bad(e, "response_format", "response_format.type must be text, json_object or json_schema, not %s", type);
    const json_t *js = json_object_get(rf, "json_schema");
    if (!json_is_object(js)) return bad(e, "response_format", "response_format.json_schema must be an object");
    const json_t *name = field(js, "name"), *strict = field(js, "strict"), *schema = field(js, "schema");
    if (name && !json_is_string(name)) return bad(e, "response_format", "response_format.json_schema.name must be a string");
    if (strict && !json_is_boolean(strict))
        return bad(e, "response_format", "response_format.json_schema.strict must be true or false");
    if (!schema) return json_object_constraint(o, e, "response_format");
    if (!json_is_object(schema) && !json_is_boolean(schema))
        return bad(e, "response_format", "response_format.json_schema.schema must be a JSON Schema object");
    return schema_constraint(o, schema, e, "response_format.json_schema.schema");
}

static bool gbnf_constraint(gen_opts *o, const json_t *gr, serr *e) {
    if (!json_is_string(gr)) return bad(e, "grammar", "grammar must be a string (GBNF)");
    slm_grammar *g = NULL;
    slm_error err = {0};
    if (slm_grammar_compile_gbnf(json_string_value(gr), json_string_length(gr), NULL, &g, &err) != SLM_OK)
        return bad(e, "grammar", "grammar: %s", err.msg);
    return set_constraint(o, g, NULL, e, "grammar");
}

/* ---- tools ---- */

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static bool check_tools(const json_t *tools, serr *e) {
    if (!json_is_array(tools)) return bad(e, "tools", "tools must be an array");
    if (json_array_size(tools) > MAX_TOOLS) return bad(e, "tools", "tools: at most %d functions", MAX_TOOLS);
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *type = json_object_get(t, "type"), *fn = json_object_get(t, "function");
        if (!json_is_object(t) || (type && !(json_is_string(type) && strcmp(json_string_value(type), "function") == 0)))
            return bad(e, "tools", "tools[%zu] must be an object with type \"function\"", i);
        if (!json_is_object(fn)) return bad(e, "tools", "tools[%zu].function must be an object", i);
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name || !valid_name(name))
            return bad(e, "tools", "tools[%zu].function.name must be 1-64 characters of a-z, A-Z, 0-9, _, - or .", i);
        const json_t *params = field(fn, "parameters");
        if (params && !json_is_object(params)) return bad(e, "tools", "tools[%zu].function.parameters must be an object", i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(name, json_string_value(json_object_get(json_object_get(json_array_get(tools, k), "function"),
                                                               "name"))) == 0)
                return bad(e, "tools", "tools: the function name '%s' is declared twice", name);
    }
    return true;
}

typedef enum choice { CHOICE_AUTO, CHOICE_NONE, CHOICE_REQUIRED, CHOICE_NAMED } choice;

static bool tool_choice(const json_t *tc, const json_t *tools, choice *c, const char **named, serr *e) {
    *c = CHOICE_AUTO;
    if (!tc) return true;
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (strcmp(s, "auto") == 0) *c = CHOICE_AUTO;
        else if (strcmp(s, "none") == 0) *c = CHOICE_NONE;
        else if (strcmp(s, "required") == 0) *c = CHOICE_REQUIRED;
        else return bad(e, "tool_choice", "tool_choice must be none, auto, required or {\"type\": \"function\", ...}, not %s", s);
        return true;
    }
    const json_t *fn = json_object_get(tc, "function");
    const char *name = json_string_value(json_object_get(fn, "name"));
    if (!json_is_object(tc) || !name)
        return bad(e, "tool_choice", "tool_choice must be a string or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) if (strcmp(json_string_value(json_object_get(json_object_get(t, "function"), "name")), name) == 0) {
        *c = CHOICE_NAMED;
        *named = name;
        return true;
    }
    return bad(e, "tool_choice", "tool_choice: no function named '%s' in tools", name);
}

/* Each chosen function's parameters schema -> argument GBNF (fns[i].args_gbnf malloc'ed). */
static bool tool_arg_grammars(const json_t *tools, const char *named, bool lazy, slm_tool_gbnf_fn *fns, size_t *n,
                              serr *e) {
    *n = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (named && strcmp(name, named) != 0) continue;
        const json_t *params = field(fn, "parameters");
        char *schema = params ? json_dumps(params, JSON_COMPACT) : strdup("{\"type\":\"object\"}");
        if (!schema) return bad(e, "tools", "out of memory");
        /* no argument the schema does not list: small models invent them otherwise */
        slm_json_schema_opts opts = {.allow_whitespace = lazy, .loose_additional = false};
        char *gbnf = NULL;
        slm_error err = {0};
        slm_status st = slm_grammar_json_schema_to_gbnf(schema, strlen(schema), &opts, &gbnf, &err);
        free(schema);
        if (st != SLM_OK) return bad(e, "tools", "tools[%zu].function.parameters: %s", i, err.msg);
        fns[*n].name = name;
        fns[(*n)++].args_gbnf = gbnf;
    }
    return true;
}

static bool tools_constraint(srv_model *m, gen_opts *o, const json_t *tools, choice c, const char *named, int max_calls,
                             serr *e) {
    slm_tool_gbnf_fn fns[MAX_TOOLS];
    size_t n = 0;
    bool lazy = c == CHOICE_AUTO;
    bool ok = tool_arg_grammars(tools, named, lazy, fns, &n, e);
    char *gbnf = NULL;
    slm_error err = {0};
    if (ok && slm_toolcall_gbnf(m->tool_fmt, fns, n, lazy, max_calls, &gbnf, &err) != SLM_OK)
        ok = bad(e, "tools", "tools: %s", err.msg);
    for (size_t i = 0; i < n; i++) free((char *)fns[i].args_gbnf);
    slm_grammar *g = NULL;
    if (ok && slm_grammar_compile_gbnf(gbnf, strlen(gbnf), NULL, &g, &err) != SLM_OK)
        ok = bad(e, "tools", "tools: the tool-call grammar does not compile: %s", err.msg);
    free(gbnf);
    if (!ok) return false;
    return set_constraint(o, g, lazy ? slm_tool_format_triggers(m->tool_fmt) : NULL, e, "tools");
}

/* The deprecated functions[] as tools[]. */
static json_t *functions_as_tools(const json_t *fns) {
    json_t *tools = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(fns, i, f) json_array_append_new(tools, json_pack("{s:s, s:O}", "type", "function", "function", f));
    return tools;
}

static bool setup_tools(srv_model *m, gen_opts *o, const json_t *tools, const json_t *tc, int max_calls, serr *e) {
    if (!check_tools(tools, e)) return false;
    choice c;
    const char *named = NULL;
    if (!tool_choice(tc, tools, &c, &named, e)) return false;
    if (json_array_size(tools) == 0) {
        if (c == CHOICE_REQUIRED || c == CHOICE_NAMED) return bad(e, "tool_choice", "tool_choice needs tools");
        return true;
    }
    if (c == CHOICE_NONE) return true; /* no tools at all: plain chat */
    o->tools = true;
    o->tools_hold_all = c != CHOICE_AUTO;
    o->tool_defs = json_incref((json_t *)tools);
    return tools_constraint(m, o, tools, c, named, max_calls, e);
}

static int count_constraints(const json_t *rf, const json_t *grammar, const json_t *tools, const json_t *tc) {
    const char *type = json_string_value(json_object_get(rf, "type"));
    bool tools_on = json_array_size(tools) > 0 && !(json_is_string(tc) && strcmp(json_string_value(tc), "none") == 0);
    return (rf && !(type && strcmp(type, "text") == 0)) + (grammar != NULL) + tools_on;
}

bool structured_openai(srv_model *m, const json_t *body, bool chat, gen_opts *o, const char **param, char *msg,
                       size_t cap) {
    serr e = {param, msg, cap};
    const json_t *rf = field(body, "response_format"), *grammar = field(body, "grammar");
    const json_t *tools = field(body, "tools"), *tc = field(body, "tool_choice");
    json_t *converted = NULL, *tc_conv = NULL;
    if (!tools && field(body, "functions")) {
        if (!json_is_array(field(body, "functions"))) return bad(&e, "functions", "functions must be an array");
        tools = converted = functions_as_tools(field(body, "functions"));
        const json_t *fc = field(body, "function_call");
        if (fc && json_is_object(fc)) tc = tc_conv = json_pack("{s:s, s:O}", "type", "function", "function", fc);
        else if (fc) tc = fc;
    }
    bool ok = true;
    if ((tools || tc) && !chat) ok = bad(&e, tools ? "tools" : "tool_choice", "tools are only supported by /v1/chat/completions");
    else if (count_constraints(rf, grammar, tools, tc) > 1)
        ok = bad(&e, grammar ? "grammar" : "response_format",
                 "use only one of response_format (json), grammar and tools in one request");
    else if (rf) ok = response_format(o, rf, &e);
    if (ok && grammar) ok = gbnf_constraint(o, grammar, &e);
    const json_t *ptc = field(body, "parallel_tool_calls");
    if (ok && ptc && !json_is_boolean(ptc)) ok = bad(&e, "parallel_tool_calls", "parallel_tool_calls must be true or false");
    int max_calls = json_is_false(ptc) ? 1 : MAX_PARALLEL_CALLS;
    if (ok && (tools || tc)) {
        json_t *none = tools ? NULL : json_array();
        ok = setup_tools(m, o, tools ? tools : none, tc, max_calls, &e);
        json_decref(none);
    }
    json_decref(converted);
    json_decref(tc_conv);
    return ok;
}

bool structured_ollama(srv_model *m, const json_t *body, bool chat, gen_opts *o, const char **param, char *msg,
                       size_t cap) {
    serr e = {param, msg, cap};
    const json_t *fmt = field(body, "format"), *tools = field(body, "tools");
    if (tools && json_array_size(tools) == 0) tools = NULL;
    if (tools && !chat) return bad(&e, "tools", "tools are only supported by /api/chat");
    if (fmt && tools) return bad(&e, "format", "use either format or tools in one request");
    if (fmt && json_is_string(fmt)) {
        if (json_string_length(fmt) == 0) return true;
        if (strcmp(json_string_value(fmt), "json") != 0)
            return bad(&e, "format", "format must be \"json\" or a JSON Schema object, not \"%s\"", json_string_value(fmt));
        return json_object_constraint(o, &e, "format");
    }
    if (fmt && !json_is_object(fmt)) return bad(&e, "format", "format must be \"json\" or a JSON Schema object");
    if (fmt) return schema_constraint(o, fmt, &e, "format");
    /* Ollama itself ignores tool_choice (ollama#17921); we honour it when given */
    const json_t *tc = field(body, "tool_choice");
    if (tc && !tools) return bad(&e, "tool_choice", "tool_choice needs tools");
    if (tools) return setup_tools(m, o, tools, tc, MAX_PARALLEL_CALLS, &e);
    return true;
}
