/* Built-in chat templates for GGUF files that ship none: ChatML, Llama 3,
 * Gemma and Phi-3, chosen by architecture and by the special tokens the
 * vocabulary has (a model can only have been trained on a format whose
 * markers are tokens of its vocabulary). Base models with none of these
 * markers get no template: they are completed, not chatted with. */
#include "slm/chat.h"

#include <string.h>

static const char CHATML[] =
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

static const char LLAMA3[] =
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";

/* Gemma has no system role: the system text opens the first user turn. */
static const char GEMMA[] =
    "{{ bos_token }}{% set ns = namespace(sys='') %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.sys = m['content'] | trim + '\n\n' %}{% else %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ ns.sys }}{{ m['content'] | trim }}<end_of_turn>\n{% set ns.sys = '' %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";

static const char PHI3[] =
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

typedef struct builtin {
    const char *name, *source;
    const char *marker; /* a token the vocabulary must have */
    const char *arch;   /* or an architecture that implies it */
} builtin;

static const builtin BUILTINS[] = {
    {"llama3", LLAMA3, "<|start_header_id|>", NULL},
    {"gemma", GEMMA, "<start_of_turn>", "gemma"},
    {"phi3", PHI3, "<|assistant|>", "phi3"},
    {"chatml", CHATML, "<|im_start|>", NULL},
};

const char *slm_chat_builtin_source(const char *name) {
    for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
        if (strcmp(BUILTINS[i].name, name) == 0) return BUILTINS[i].source;
    return NULL;
}

const char *slm_chat_builtin_pick(const char *arch, bool (*has_token)(const char *text, void *user), void *user) {
    for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++) {
        const builtin *b = &BUILTINS[i];
        if (has_token(b->marker, user) || (arch && b->arch && strcmp(arch, b->arch) == 0)) return b->name;
    }
    return NULL;
}
