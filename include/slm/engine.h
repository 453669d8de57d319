/* slm engine: the one door into inference. It owns a loaded model (GGUF
 * file, weights, tokenizer), the kernel thread pool and a context, and
 * turns a prompt into streamed text. The CLI (and later the server's
 * scheduler and eval) go through here, never to model/ directly. */
#ifndef SLM_ENGINE_H
#define SLM_ENGINE_H

#include <jansson.h>

#include "slm/base.h"
#include "slm/chat.h"
#include "slm/gguf.h"
#include "slm/grammar.h"
#include "slm/model.h"
#include "slm/sample.h"
#include "slm/tokenizer.h"

typedef struct slm_engine_params {
    const char *model_path;
    int n_threads;   /* <= 0: all cores */
    int32_t n_ctx;   /* <= 0: model's training context, capped at 4096 */
    int32_t n_batch; /* <= 0: 512 */
} slm_engine_params;

typedef struct slm_engine slm_engine;

slm_status slm_engine_open(const slm_engine_params *p, slm_engine **out, slm_error *err);
void slm_engine_close(slm_engine *e);
const slm_gguf *slm_engine_gguf(const slm_engine *e);
const slm_model *slm_engine_model(const slm_engine *e);
const slm_tokenizer *slm_engine_tokenizer(const slm_engine *e);
slm_context *slm_engine_context(slm_engine *e);
int slm_engine_threads(const slm_engine *e);

typedef enum slm_finish {
    SLM_FINISH_STOP = 0, /* end-of-generation token */
    SLM_FINISH_LENGTH,   /* n_predict reached or context full */
    SLM_FINISH_CANCEL,   /* callback asked to stop */
} slm_finish;

typedef struct slm_gen_params {
    int32_t n_predict;        /* < 0: until EOS or the context is full */
    slm_sampler_params sampling;
    bool echo_prompt;         /* emit the prompt's tokens first (special ones rendered) */
    bool parse_special;       /* match special-token texts in the prompt */
    const slm_grammar *grammar; /* constrain the output (NULL: free text); it
                                   ends when the grammar is complete */
} slm_gen_params;

void slm_gen_params_default(slm_gen_params *p);

typedef struct slm_gen_stats {
    int32_t n_prompt, n_gen;
    int32_t n_cached;         /* prompt tokens reused from the previous call */
    double t_load_s, t_prompt_s, t_gen_s, ttft_s;
    slm_finish finish;
} slm_gen_stats;

/* Called with each complete UTF-8 piece of output; return false to stop. */
typedef bool (*slm_piece_fn)(const char *piece, size_t len, void *user);

/* Generates from the prompt. Prompt tokens that repeat the start of what
 * the context already holds (the previous prompt + output) are reused, not
 * recomputed. The tokenizer adds BOS as the model asks. */
slm_status slm_engine_generate(slm_engine *e, const char *prompt, size_t prompt_len, const slm_gen_params *p,
                               slm_piece_fn on_piece, void *user, slm_gen_stats *stats, slm_error *err);

/* Which chat template a model gets: "model" (its tokenizer.chat_template),
 * a built-in name ("llama3", "gemma", "phi3", "chatml") chosen by
 * architecture and vocabulary, or NULL for a base model (no chat). */
const char *slm_chat_template_for(const slm_gguf *g, const slm_tokenizer *tok);
const char *slm_engine_chat_template_name(const slm_engine *e);
/* True when slm_engine_chat_template_name() is not NULL. */
bool slm_engine_has_chat_template(const slm_engine *e);
/* Renders messages (JSON array of {role, content, ...}) with the model's
 * template, the built-in one that fits it, or ChatML; extra: keyword
 * variables (e.g. enable_thinking) or NULL. *out is malloc'ed. The result
 * contains special-token texts: tokenize it with parse_special. */
slm_status slm_engine_render_chat(slm_engine *e, const json_t *messages, const json_t *tools,
                                  bool add_generation_prompt, const json_t *extra, char **out,
                                  size_t *out_len, slm_error *err);

#endif
