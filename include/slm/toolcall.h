/* slm toolcall: the text forms in which model families write tool
 * (function) calls, and the way back to OpenAI's structured form.
 *
 * Each family has its own syntax around a JSON call; this module
 *   - picks the family from the chat template's text and the vocabulary's
 *     marker tokens (slm_tool_format_detect),
 *   - parses generated text into content + calls (slm_toolcall_parse),
 *   - writes the GBNF grammar of a valid call for constrained decoding
 *     (slm_toolcall_gbnf), from per-tool argument grammars the caller
 *     compiled from the tools' JSON Schemas (grammar/ does that), and
 *   - names the strings that start a call (lazy grammar triggers, and what
 *     a streaming server must hold back), and
 *   - follows calls while they are generated, for streamed deltas
 *     (slm_toolcall_stream).
 *
 * Formats (what the model writes):
 *   GENERIC      {"name": N, "arguments": {...}} (or a list of such, or
 *                {"tool_calls": [...]}), anywhere in the text
 *   HERMES       <tool_call>{"name": N, "arguments": {...}}</tool_call>
 *                (Qwen 2/2.5/3, Hermes 2/3, ChatML models)
 *   LLAMA3       <|python_tag|>{"name": N, "parameters": {...}} or the
 *                bare JSON object (Llama 3.1-3.3 JSON tool calling)
 *   MISTRAL      [TOOL_CALLS][{"name": N, "arguments": {...}}, ...] or
 *                [TOOL_CALLS]N[ARGS]{...} (v11+ tokenizers)
 *   PHI4         <|tool_call|>[{"name": N, "arguments": {...}}]<|/tool_call|>
 *                (also functools[...])
 *   FUNCTIONARY  >>>N\n{...} (v3.2; ">>>all\n" is text), or
 *                <function=N>{...}</function> (v3.1)
 *   COMMANDR     Action: ```json\n[{"tool_name": N, "parameters": {...}}]\n```
 *
 * Parsed calls are a JSON array of {"name": string, "arguments": string}
 * where arguments is the JSON text the model wrote with the whitespace
 * outside strings removed (OpenAI's function.arguments). */
#ifndef SLM_TOOLCALL_H
#define SLM_TOOLCALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "slm/base.h"

typedef enum slm_tool_format {
    SLM_TOOL_FMT_GENERIC = 0,
    SLM_TOOL_FMT_HERMES,
    SLM_TOOL_FMT_LLAMA3,
    SLM_TOOL_FMT_MISTRAL,
    SLM_TOOL_FMT_PHI4,
    SLM_TOOL_FMT_FUNCTIONARY,
    SLM_TOOL_FMT_COMMANDR,
} slm_tool_format;

/* "generic", "hermes", "llama3", "mistral", "phi4", "functionary", "commandr". */
const char *slm_tool_format_name(slm_tool_format f);

/* The family of a chat template (its source text, may be NULL) and a
 * vocabulary (has_token(text) says whether a token with exactly this text
 * exists; may be NULL). Template markers win over vocabulary markers; a
 * ChatML template ("<|im_start|>") is HERMES; nothing known: GENERIC. */
slm_tool_format slm_tool_format_detect(const char *tmpl, size_t tmpl_len,
                                       bool (*has_token)(const char *text, void *user), void *user);

/* Strings that start a call in this format, NULL-terminated list (static).
 * Used as lazy-grammar triggers and as what a streaming server holds back
 * before deciding between content and a call. */
const char *const *slm_tool_format_triggers(slm_tool_format f);

/* Splits text into the content outside the calls (malloc'ed, NUL-terminated,
 * trimmed; "" when none) and the calls (a new JSON array, possibly empty).
 * Text that looks like a call but is not valid JSON stays in the content:
 * parsing never fails on model output; errors are only out of memory. */
slm_status slm_toolcall_parse(slm_tool_format f, const char *text, size_t len, char **content,
                              json_t **calls, slm_error *err);

/* One declared function for slm_toolcall_gbnf: its name and the GBNF of
 * its arguments (root rule "root", as grammar/'s JSON-Schema translation
 * writes it). */
typedef struct slm_tool_gbnf_fn {
    const char *name;
    const char *args_gbnf;
} slm_tool_gbnf_fn;

/* GBNF (malloc'ed) for tool calls of this format over the n functions:
 * the call wrapper in the family's syntax around {"name": one of the
 * names, <arguments key>: arguments valid for that function}.
 * lazy = false: the whole output is the call(s) (tool_choice required or
 *   a named function); markers that are control tokens in the family's
 *   vocabulary are left out (a mask cannot emit them), the parser does not
 *   need them.
 * lazy = true: the grammar starts at one of slm_tool_format_triggers
 *   (tool_choice auto), and allows whitespace around JSON tokens.
 * max_calls: 1, or more for parallel calls (formats with a list).
 * Rule names of the argument grammars are renamed apart. */
slm_status slm_toolcall_gbnf(slm_tool_format f, const slm_tool_gbnf_fn *fns, size_t n, bool lazy,
                             int max_calls, char **gbnf, slm_error *err);

/* ---- streaming ----
 * Calls announced while they are generated: feed the text of the call
 * region as it grows; fn is called when a call starts (name set, args "")
 * and as its arguments grow (name NULL, the new argument bytes). The
 * argument pieces concatenate to exactly the `arguments` string
 * slm_toolcall_parse reports for the same text (minified as written).
 * Recognised: {"name"|"tool_name": N, "arguments"|"parameters": {...}}
 * (every JSON format) and Functionary's >>>N / <function=N>; other forms
 * (Mistral [ARGS], XML parameters) are left to the parser at the end.
 * fn returns false to stop (feed then returns false). */
typedef struct slm_toolcall_stream slm_toolcall_stream;
typedef bool (*slm_toolcall_delta_fn)(void *user, size_t index, const char *name, const char *args, size_t n);
slm_status slm_toolcall_stream_new(slm_tool_format f, slm_toolcall_stream **out, slm_error *err);
void slm_toolcall_stream_free(slm_toolcall_stream *s);
bool slm_toolcall_stream_feed(slm_toolcall_stream *s, const char *text, size_t len, slm_toolcall_delta_fn fn,
                              void *user);
/* Calls announced so far. */
size_t slm_toolcall_stream_n_calls(const slm_toolcall_stream *s);

#endif
