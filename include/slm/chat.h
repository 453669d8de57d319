/* slm chat templates: a small, sandboxed Jinja interpreter that renders a
 * model's `tokenizer.chat_template` the way Hugging Face transformers does
 * (jinja2 ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks,
 * loop controls, HF's tojson / raise_exception / strftime_now globals).
 *
 * The template sees only the data given to render: messages, tools,
 * add_generation_prompt, bos_token, eos_token, the keys of `extra`, and a
 * few pure built-ins (range, namespace, dict, raise_exception,
 * strftime_now). Rendering is bounded by slm_chat_limits; every failure is
 * an slm_status with a "line:column: what" message, never a crash. */
#ifndef SLM_CHAT_H
#define SLM_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm/base.h"

typedef struct slm_chat_template slm_chat_template;

/* Parses a template (UTF-8, `len` bytes, need not be NUL-terminated).
 * Errors: SLM_ERR_FORMAT with "line:col: message". */
slm_status slm_chat_template_parse(const char *src, size_t len, slm_chat_template **out,
                                   slm_error *err);
void slm_chat_template_free(slm_chat_template *t);

/* Bounds on one render. A zero field takes its default:
 * max_output_bytes 32 MiB, max_loop_iterations 1,000,000 (all loops and
 * range() together), max_recursion_depth 64 (macro calls), max_seconds 5.
 * Memory used for intermediate values is bounded too (64 x output limit,
 * at least 256 MiB). Exceeding any bound gives SLM_ERR_RANGE. */
typedef struct slm_chat_limits {
    uint64_t max_output_bytes;
    uint64_t max_loop_iterations;
    uint64_t max_recursion_depth;
    double max_seconds;
} slm_chat_limits;

/* Renders the template.
 * messages: JSON array of objects {role, content (string, null, or array of
 *   parts {type:"text", text}), tool_calls, name, tool_call_id, ...}; passed
 *   to the template as-is.
 * tools: JSON array or NULL (NULL is seen as `none`, as HF passes it).
 * extra: JSON object of keyword extras (e.g. {"enable_thinking": false})
 *   or NULL; its keys become template variables and override the others.
 * bos_token/eos_token: NULL means "".
 * limits: NULL for all defaults.
 * On success *out is a malloc'ed NUL-terminated string (free() it) and
 * *out_len (if non-NULL) its length. raise_exception() in the template
 * gives SLM_ERR_INVALID_ARG with the template's message; resource limits
 * SLM_ERR_RANGE; other template errors SLM_ERR_FORMAT. */
slm_status slm_chat_template_render(const slm_chat_template *t, const json_t *messages,
                                    const json_t *tools, bool add_generation_prompt,
                                    const char *bos_token, const char *eos_token,
                                    const json_t *extra, const slm_chat_limits *limits,
                                    char **out, size_t *out_len, slm_error *err);

/* Built-in templates for models that ship none: "chatml", "llama3",
 * "gemma", "phi3". Source text, or NULL for an unknown name. */
const char *slm_chat_builtin_source(const char *name);
/* The built-in that fits a model: the first whose marker token the
 * vocabulary has (has_token(text, user)) or whose architecture matches;
 * NULL when none does (a base model: complete, do not chat). */
const char *slm_chat_builtin_pick(const char *arch, bool (*has_token)(const char *text, void *user), void *user);

#endif
