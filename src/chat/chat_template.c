/* Public face of the Jinja interpreter (slm/chat.h): parse once into a
 * slm_chat_template (its arena holds the normalised source, tokens and
 * syntax tree), render many times, each render in a fresh capped arena
 * with the inputs converted from JSON into the root scope. */
#include "slm/chat.h"

#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"

struct slm_chat_template {
    jarena arena;
    jnode *root;
};

slm_status slm_chat_template_parse(const char *src, size_t len, slm_chat_template **out,
                                   slm_error *err) {
    if (!out || (!src && len)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "chat template: no source");
    *out = NULL;
    if (len > 16u * 1024 * 1024)
        return slm_error_set(err, SLM_ERR_RANGE, "chat template: %zu bytes is too large", len);
    slm_chat_template *t = calloc(1, sizeof *t);
    if (!t) return slm_error_set(err, SLM_ERR_NOMEM, "chat template: out of memory");
    t->arena.cap = 64u * len + (16u << 20);
    jtoks toks = {0};
    slm_error local;
    slm_error *e = err ? err : &local;
    if (!jlex(src ? src : "", len, &t->arena, &toks, e) || !jparse(&toks, &t->arena, &t->root, e)) {
        slm_status st = e->code;
        slm_chat_template_free(t);
        return st;
    }
    *out = t;
    return SLM_OK;
}

void slm_chat_template_free(slm_chat_template *t) {
    if (!t) return;
    ja_free(&t->arena);
    free(t);
}

static bool set_json(jctx *c, jframe *f, const char *name, const json_t *j) {
    jv v;
    if (!jv_from_json(c, j, &v)) return false;
    return jframe_set(c, f, (jstr){name, strlen(name)}, v);
}

static bool set_str(jctx *c, jframe *f, const char *name, const char *s) {
    jv v;
    if (!jv_str_copy(c, s ? s : "", s ? strlen(s) : 0, &v)) return false;
    return jframe_set(c, f, (jstr){name, strlen(name)}, v);
}

static bool bind_inputs(jctx *c, jframe *g, const json_t *messages, const json_t *tools,
                        bool add_generation_prompt, const char *bos, const char *eos,
                        const json_t *extra) {
    json_t *none = json_null();
    bool ok = set_json(c, g, "messages", messages) && set_json(c, g, "tools", tools ? tools : none) &&
              set_json(c, g, "documents", none) &&
              jframe_set(c, g, (jstr){"add_generation_prompt", 21}, jv_bool(add_generation_prompt)) &&
              set_str(c, g, "bos_token", bos) && set_str(c, g, "eos_token", eos);
    if (!ok || !extra) return ok;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)extra, key, val) {
        char *name = ja_alloc(c->arena, strlen(key) + 1);
        if (!name) return jlimit(c, "memory limit exceeded");
        memcpy(name, key, strlen(key));
        if (!set_json(c, g, name, val)) return false;
    }
    return true;
}

static void apply_defaults(const slm_chat_limits *in, slm_chat_limits *l) {
    slm_chat_limits d = {0};
    if (in) d = *in;
    l->max_output_bytes = d.max_output_bytes ? d.max_output_bytes : 32u << 20;
    l->max_loop_iterations = d.max_loop_iterations ? d.max_loop_iterations : 1000000;
    l->max_recursion_depth = d.max_recursion_depth ? d.max_recursion_depth : 64;
    l->max_seconds = d.max_seconds > 0 ? d.max_seconds : 5.0;
}

slm_status slm_chat_template_render(const slm_chat_template *t, const json_t *messages,
                                    const json_t *tools, bool add_generation_prompt,
                                    const char *bos_token, const char *eos_token,
                                    const json_t *extra, const slm_chat_limits *limits,
                                    char **out, size_t *out_len, slm_error *err) {
    if (!t || !out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "chat template: missing argument");
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!messages || !json_is_array(messages))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "chat template: messages must be a JSON array");
    if (tools && !json_is_array(tools) && !json_is_null(tools))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "chat template: tools must be a JSON array");
    if (extra && !json_is_object(extra))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "chat template: extra must be a JSON object");
    slm_chat_limits lim;
    apply_defaults(limits, &lim);
    uint64_t mem = lim.max_output_bytes * 64;
    if (mem / 64 != lim.max_output_bytes || mem < (256u << 20)) mem = 256u << 20;
    jarena arena = {.cap = (size_t)mem};
    slm_error local;
    jctx c = {.arena = &arena,
              .err = err ? err : &local,
              .max_iterations = lim.max_loop_iterations,
              .max_depth = lim.max_recursion_depth,
              .max_output = lim.max_output_bytes,
              .deadline = slm_now_s() + lim.max_seconds};
    jframe root = {0};
    c.globals = c.frame = &root;
    jbuf buf = {.limit = lim.max_output_bytes};
    bool ok = bind_inputs(&c, &root, messages, tools, add_generation_prompt, bos_token, eos_token, extra) &&
              jexec(&c, t->root, &root, &buf);
    if (ok && buf.overflow) ok = jlimit(&c, "output limit exceeded");
    ja_free(&arena);
    if (!ok) {
        jb_free(&buf);
        if (!c.failed) slm_error_set(c.err, SLM_ERR_INTERNAL, "chat template: render failed");
        return c.err->code;
    }
    if (!buf.p && !jb_put(&buf, "", 0)) return slm_error_set(err, SLM_ERR_NOMEM, "chat template: out of memory");
    *out = buf.p;
    if (out_len) *out_len = buf.n;
    return SLM_OK;
}
