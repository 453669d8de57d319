/* Tool calls in model output. Servers return them structured (OpenAI's
 * message.tool_calls); a local model writes them as text. This file turns
 * the common text forms into OpenAI's form
 * [{type:"function", function:{name, arguments: "<JSON text>"}}]:
 * <tool_call>{...}</tool_call> blocks (Hermes/Qwen), or a JSON value in the
 * text (alone or fenced) that is a call {name, arguments|parameters}, a
 * list of calls, {"tool_calls": [...]} or {"function": {...}}. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static json_t *openai_call(const char *name, const json_t *args) {
    char *text = args ? (json_is_string(args) ? ev_strdup(json_string_value(args)) : json_dumps(args, JSON_COMPACT))
                      : ev_strdup("{}");
    json_t *c = text ? json_pack("{s:s,s:{s:s,s:s}}", "type", "function", "function", "name", name, "arguments", text)
                     : NULL;
    free(text);
    return c;
}

/* One call-shaped value -> appended to out; false when it is not a call. */
static bool add_value(json_t *out, const json_t *v) {
    if (json_is_array(v)) {
        bool any = false;
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) any |= add_value(out, it);
        return any;
    }
    if (!json_is_object(v)) return false;
    json_t *tc = json_object_get(v, "tool_calls");
    if (tc) return add_value(out, tc);
    json_t *fn = json_object_get(v, "function");
    if (json_is_object(fn)) return add_value(out, fn);
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name) return false;
    const json_t *args = json_object_get(v, "arguments");
    if (!args) args = json_object_get(v, "parameters");
    json_t *c = openai_call(name, args);
    return c && !json_array_append_new(out, c);
}

json_t *slm_eval_tool_calls_from_text(const char *text, size_t len) {
    json_t *out = json_array();
    if (!out || !text) return out;
    static const char OPEN[] = "<tool_call>", CLOSE[] = "</tool_call>";
    const char *p = text, *end = text + len;
    bool tagged = false;
    while (p < end) {
        const char *o = memmem(p, (size_t)(end - p), OPEN, sizeof OPEN - 1);
        if (!o) break;
        const char *body = o + sizeof OPEN - 1;
        const char *c = memmem(body, (size_t)(end - body), CLOSE, sizeof CLOSE - 1);
        size_t n = c ? (size_t)(c - body) : (size_t)(end - body);
        json_t *v = ev_parse_json_loose(body, n);
        if (v) add_value(out, v);
        json_decref(v);
        tagged = true;
        p = c ? c + sizeof CLOSE - 1 : end;
    }
    if (!tagged) {
        json_t *v = ev_parse_json_loose(text, len);
        if (v) add_value(out, v);
        json_decref(v);
    }
    return out;
}
