/* Chat prompts: renders a conversation with the model's own Jinja chat
 * template (parsed once, lazily), or with a built-in one (chat/builtin.c)
 * chosen by architecture and vocabulary for models that ship none. BOS/EOS
 * texts come from the vocabulary. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

static bool vocab_has(const char *text, void *user) {
    return slm_tokenizer_find_token(user, text, strlen(text)) >= 0;
}

const char *slm_chat_template_for(const slm_gguf *g, const slm_tokenizer *tok) {
    if (slm_gguf_find_key(g, "tokenizer.chat_template") >= 0) return "model";
    slm_str arch;
    char name[32] = "";
    if (slm_gguf_get_str(g, "general.architecture", &arch) && arch.len < sizeof name) {
        memcpy(name, arch.ptr, arch.len);
        name[arch.len] = '\0';
    }
    return slm_chat_builtin_pick(name, vocab_has, (void *)tok);
}

bool slm_engine_has_chat_template(const slm_engine *e) { return slm_chat_template_for(e->gguf, e->tok) != NULL; }

const char *slm_engine_chat_template_name(const slm_engine *e) { return slm_chat_template_for(e->gguf, e->tok); }

static slm_status load_template(slm_engine *e, slm_error *err) {
    if (e->chat) return SLM_OK;
    /* no template and no known markers: ChatML, the commonest format */
    const char *name = slm_chat_template_for(e->gguf, e->tok);
    const char *builtin = slm_chat_builtin_source(name && strcmp(name, "model") != 0 ? name : "chatml");
    slm_str src = {builtin, strlen(builtin)};
    if (name && strcmp(name, "model") == 0) slm_gguf_get_str(e->gguf, "tokenizer.chat_template", &src);
    slm_status st = slm_chat_template_parse(src.ptr, (size_t)src.len, &e->chat, err);
    if (st != SLM_OK) return slm_error_prefix(err, "%s: chat template", slm_gguf_path(e->gguf));
    return SLM_OK;
}

/* NUL-terminated copy of a token's text, "" when the token is absent. */
static char *token_text(const slm_tokenizer *t, int32_t id) {
    size_t len = 0;
    const char *s = id >= 0 ? slm_tokenizer_token_text(t, id, &len) : NULL;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    if (s) memcpy(out, s, len);
    out[s ? len : 0] = '\0';
    return out;
}

slm_status slm_engine_render_chat(slm_engine *e, const json_t *messages, const json_t *tools,
                                  bool add_generation_prompt, const json_t *extra, char **out,
                                  size_t *out_len, slm_error *err) {
    if (!json_is_array(messages))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "messages must be a JSON array");
    slm_status st = load_template(e, err);
    if (st != SLM_OK) return st;
    char *bos = token_text(e->tok, slm_tokenizer_bos(e->tok));
    char *eos = token_text(e->tok, slm_tokenizer_eos(e->tok));
    if (!bos || !eos) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    else st = slm_chat_template_render(e->chat, messages, tools, add_generation_prompt, bos, eos, extra, NULL,
                                       out, out_len, err);
    free(bos);
    free(eos);
    return st;
}
