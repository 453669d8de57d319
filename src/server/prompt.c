/* Prompts for the server: chat messages (OpenAI content parts flattened to
 * text) rendered with the model's chat template, and prompt tokenization
 * that adds BOS unless the rendered template already starts with it.
 * Tools go to templates that render a `tools` list (with the extras some
 * read, and tool-call arguments as objects, or as JSON text for the few
 * that concatenate them); for other templates a system message describes
 * the tools and the family's call syntax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_internal.h"

/* Joins the text parts of an OpenAI content array. */
static slm_status flatten_parts(const json_t *parts, size_t i, json_t **out, slm_error *err) {
    size_t total = 0, j;
    json_t *p;
    json_array_foreach(parts, j, p) {
        const char *type = json_string_value(json_object_get(p, "type"));
        const json_t *text = json_object_get(p, "text");
        if (!type || strcmp(type, "text") != 0)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu].content[%zu]: only parts of type 'text' are supported%s%s",
                                 i, j, type ? ", not " : "", type ? type : "");
        if (!json_is_string(text))
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu].content[%zu].text must be a string", i, j);
        total += json_string_length(text);
    }
    char *buf = malloc(total + 1);
    if (!buf) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t off = 0;
    json_array_foreach(parts, j, p) {
        const json_t *text = json_object_get(p, "text");
        memcpy(buf + off, json_string_value(text), json_string_length(text));
        off += json_string_length(text);
    }
    *out = json_stringn_nocheck(buf, off);
    free(buf);
    return *out ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
}

static slm_status check_message(const json_t *msg, size_t i, json_t **out, slm_error *err) {
    if (!json_is_object(msg)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu] must be an object", i);
    if (!json_is_string(json_object_get(msg, "role")))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu].role must be a string", i);
    const json_t *images = json_object_get(msg, "images");
    if (images && !json_is_null(images) && !(json_is_array(images) && json_array_size(images) == 0))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu].images: images are not supported", i);
    json_t *copy = json_deep_copy(msg);
    if (!copy) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    const json_t *content = json_object_get(msg, "content");
    slm_status st = SLM_OK;
    if (json_is_array(content)) {
        json_t *flat = NULL;
        st = flatten_parts(content, i, &flat, err);
        if (st == SLM_OK) json_object_set_new(copy, "content", flat);
    } else if (content && !json_is_string(content) && !json_is_null(content)) {
        st = slm_error_set(err, SLM_ERR_INVALID_ARG, "messages[%zu].content must be a string or an array of parts", i);
    } else if (!content) {
        json_object_set_new(copy, "content", json_string(""));
    }
    if (st != SLM_OK) {
        json_decref(copy);
        return st;
    }
    *out = copy;
    return SLM_OK;
}

/* Templates read tool_calls[].function.arguments as an object (they apply
 * tojson to it); OpenAI clients send a JSON string. */
static int args_to_objects(json_t *msg) {
    json_t *calls = json_object_get(msg, "tool_calls");
    size_t i;
    json_t *c;
    int n = 0;
    json_array_foreach(calls, i, c) {
        json_t *fn = json_object_get(c, "function");
        const char *a = json_string_value(json_object_get(fn, "arguments"));
        json_t *obj = a ? json_loads(a, 0, NULL) : NULL;
        if (json_is_object(obj)) {
            json_object_set_new(fn, "arguments", obj);
            n++;
        } else {
            json_decref(obj);
        }
    }
    return n;
}

/* How to write a call, for templates that do not describe tools themselves. */
static const char *call_instruction(slm_tool_format f) {
    switch (f) {
    case SLM_TOOL_FMT_HERMES:
        return "For each function call, return a JSON object with the function name and arguments within "
               "<tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
               "<args-json-object>}\n</tool_call>";
    case SLM_TOOL_FMT_LLAMA3:
        return "To call a function, respond only with a JSON object {\"name\": <function-name>, \"parameters\": "
               "<args-json-object>}.";
    case SLM_TOOL_FMT_MISTRAL:
        return "To call functions, respond with [TOOL_CALLS] followed by a JSON list "
               "[{\"name\": <function-name>, \"arguments\": <args-json-object>}].";
    case SLM_TOOL_FMT_PHI4:
        return "To call functions, respond with <|tool_call|>[{\"name\": <function-name>, \"arguments\": "
               "<args-json-object>}]<|/tool_call|>.";
    case SLM_TOOL_FMT_FUNCTIONARY:
        return "To call a function, write >>> then the function name, a newline and the JSON arguments.";
    case SLM_TOOL_FMT_COMMANDR:
        return "To call functions, write Action: ```json\n[{\"tool_name\": <function-name>, \"parameters\": "
               "<args-json-object>}]\n```";
    default:
        return "To call a function, respond only with a JSON object {\"name\": <function-name>, \"arguments\": "
               "<args-json-object>}.";
    }
}

/* The tools described in a system message (first one, or a new one). */
static slm_status add_tools_message(srv_model *m, json_t *norm, const json_t *tools, slm_error *err) {
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    fputs("# Tools\n\nYou may call one or more functions to assist with the user query. The functions, as JSON "
          "signatures within <tools></tools> tags:\n<tools>\n", f);
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char *s = json_dumps(t, JSON_COMPACT);
        if (s) fprintf(f, "%s\n", s);
        free(s);
    }
    fprintf(f, "</tools>\n\n%s", call_instruction(m->tool_fmt));
    fclose(f);
    if (!list) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    json_t *first = json_array_get(norm, 0);
    const char *role = json_string_value(json_object_get(first, "role"));
    const char *sys = json_string_value(json_object_get(first, "content"));
    if (role && strcmp(role, "system") == 0 && sys) {
        char *joined = NULL;
        if (asprintf(&joined, "%s\n\n%s", sys, list) < 0) joined = NULL;
        if (joined) json_object_set_new(first, "content", json_string(joined));
        free(joined);
    } else {
        json_array_insert_new(norm, 0, json_pack("{s:s, s:s}", "role", "system", "content", list));
    }
    free(list);
    return SLM_OK;
}

/* Variables some tool templates read besides `tools` (Firefunction v2:
 * `functions` as JSON text and today's `datetime`), as llama.cpp passes. */
static json_t *tool_extras(const json_t *tools) {
    char *fns = json_dumps(tools, JSON_COMPACT);
    char date[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(date, sizeof date, "%b %d %Y", &tm);
    json_t *extra = fns ? json_pack("{s:s, s:s}", "functions", fns, "datetime", date) : NULL;
    free(fns);
    return extra;
}

/* The messages checked and copied; tool-call arguments as objects when
 * as_objects (returns how many were converted in *converted). */
static slm_status normalize(srv_model *m, const json_t *messages, const json_t *tools, bool as_objects, json_t **out,
                            int *converted, slm_error *err) {
    json_t *norm = json_array();
    if (!norm) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *msg;
    slm_status st = SLM_OK;
    *converted = 0;
    json_array_foreach(messages, i, msg) {
        json_t *copy = NULL;
        st = check_message(msg, i, &copy, err);
        if (st != SLM_OK) break;
        if (as_objects) *converted += args_to_objects(copy);
        json_array_append_new(norm, copy);
    }
    if (st == SLM_OK && tools && json_array_size(tools) > 0 && !m->tmpl_tools) st = add_tools_message(m, norm, tools, err);
    if (st != SLM_OK) {
        json_decref(norm);
        return st;
    }
    *out = norm;
    return SLM_OK;
}

static slm_status render(srv_model *m, const json_t *messages, const json_t *tools, bool as_objects, char **out,
                         int *converted, slm_error *err) {
    json_t *norm = NULL;
    slm_status st = normalize(m, messages, tools, as_objects, &norm, converted, err);
    if (st != SLM_OK) return st;
    bool pass_tools = tools && json_array_size(tools) > 0 && m->tmpl_tools;
    json_t *extra = pass_tools ? tool_extras(tools) : NULL;
    st = slm_chat_template_render(m->tmpl, norm, pass_tools ? tools : NULL, true, m->bos_text, m->eos_text, extra, NULL,
                                  out, NULL, err);
    json_decref(extra);
    json_decref(norm);
    return st;
}

slm_status prompt_render_chat_tools(srv_model *m, const json_t *messages, const json_t *tools, char **out,
                                    slm_error *err) {
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages must be a non-empty array");
    int converted = 0;
    slm_status st = render(m, messages, tools, true, out, &converted, err);
    /* Most templates want arguments as an object (they apply tojson);
     * a few concatenate the JSON text (Firefunction): try that too. */
    if (st != SLM_OK && st != SLM_ERR_NOMEM && converted > 0) st = render(m, messages, tools, false, out, &converted, err);
    if (st != SLM_OK && st != SLM_ERR_NOMEM) {
        slm_error_prefix(err, "chat template");
        if (err) err->code = SLM_ERR_INVALID_ARG; /* the template refused these messages */
        return SLM_ERR_INVALID_ARG;
    }
    return st;
}

slm_status prompt_render_chat(srv_model *m, const json_t *messages, char **out, slm_error *err) {
    return prompt_render_chat_tools(m, messages, NULL, out, err);
}

slm_status prompt_tokenize(srv_model *m, const char *text, bool special, int32_t **toks, size_t *n, slm_error *err) {
    const slm_tokenizer *t = slm_sched_tokenizer(m->sched);
    size_t bl = strlen(m->bos_text);
    bool has_bos = special && bl > 0 && strncmp(text, m->bos_text, bl) == 0;
    return slm_tokenize(t, text, strlen(text), !has_bos, special, toks, n, err);
}
