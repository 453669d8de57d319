/* Internal state of the engine, shared by its files. */
#ifndef SLM_ENGINE_INTERNAL_H
#define SLM_ENGINE_INTERNAL_H

#include "slm/engine.h"

struct slm_engine {
    slm_gguf *gguf;
    slm_model *model;
    slm_tokenizer *tok;
    slm_ops *ops;
    slm_context *ctx;
    slm_chat_template *chat; /* parsed on first use */
    slm_grammar_vocab *gvocab; /* token bytes for grammar masks, built on first use */
    int32_t *hist;           /* tokens in the context (sequence 0) */
    size_t n_hist, cap_hist;
    double t_load_s;
};

#endif
