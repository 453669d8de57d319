/* Tool-call formats: their names, how a model's family is recognised
 * (markers in the chat template's text, then marker tokens in the
 * vocabulary), and the strings that start a call in each (lazy grammar
 * triggers). Main data: the static tables below, one row per format. */
#include <string.h>

#include "slm/toolcall.h"

static const char *const NAMES[] = {"generic", "hermes", "llama3", "mistral", "phi4", "functionary", "commandr"};

const char *slm_tool_format_name(slm_tool_format f) {
    return (unsigned)f < sizeof NAMES / sizeof NAMES[0] ? NAMES[f] : "generic";
}

static const char *const TRIG_GENERIC[] = {"{\"name\"", NULL};
static const char *const TRIG_HERMES[] = {"<tool_call>", NULL};
static const char *const TRIG_LLAMA3[] = {"<|python_tag|>", "{\"name\"", NULL};
static const char *const TRIG_MISTRAL[] = {"[TOOL_CALLS]", NULL};
static const char *const TRIG_PHI4[] = {"<|tool_call|>", "functools[", NULL};
static const char *const TRIG_FUNCTIONARY[] = {">>>", "<function=", NULL};
static const char *const TRIG_COMMANDR[] = {"Action:", NULL};

const char *const *slm_tool_format_triggers(slm_tool_format f) {
    switch (f) {
    case SLM_TOOL_FMT_HERMES: return TRIG_HERMES;
    case SLM_TOOL_FMT_LLAMA3: return TRIG_LLAMA3;
    case SLM_TOOL_FMT_MISTRAL: return TRIG_MISTRAL;
    case SLM_TOOL_FMT_PHI4: return TRIG_PHI4;
    case SLM_TOOL_FMT_FUNCTIONARY: return TRIG_FUNCTIONARY;
    case SLM_TOOL_FMT_COMMANDR: return TRIG_COMMANDR;
    default: return TRIG_GENERIC;
    }
}

/* A marker and the format it reveals; checked in order, so the more
 * specific markers come first (Functionary templates are Llama 3 ones). */
typedef struct sign {
    const char *marker;
    slm_tool_format f;
} sign;

static const sign TEMPLATE_SIGNS[] = {
    {">>>", SLM_TOOL_FMT_FUNCTIONARY},
    {"<|START_ACTION|>", SLM_TOOL_FMT_COMMANDR},
    {"Action: ```json", SLM_TOOL_FMT_COMMANDR},
    {"[TOOL_CALLS]", SLM_TOOL_FMT_MISTRAL},
    {"<|tool_call|>", SLM_TOOL_FMT_PHI4},
    {"<|tool|>", SLM_TOOL_FMT_PHI4},
    {"<tool_call>", SLM_TOOL_FMT_HERMES}, /* also Qwen3-Coder's <tool_call><function=...> */
    {"<function=", SLM_TOOL_FMT_FUNCTIONARY},
    {"functools[", SLM_TOOL_FMT_PHI4}, /* Firefunction v2 writes Phi-4's functools[...] */
    {"<|python_tag|>", SLM_TOOL_FMT_LLAMA3},
    {"<|start_header_id|>", SLM_TOOL_FMT_LLAMA3},
    {"<|im_start|>", SLM_TOOL_FMT_HERMES},
    {"<|START_OF_TURN_TOKEN|>", SLM_TOOL_FMT_COMMANDR},
};

static const sign TOKEN_SIGNS[] = {
    {"[TOOL_CALLS]", SLM_TOOL_FMT_MISTRAL},
    {"<|tool_call|>", SLM_TOOL_FMT_PHI4},
    {"<tool_call>", SLM_TOOL_FMT_HERMES},
    {"<|python_tag|>", SLM_TOOL_FMT_LLAMA3},
    {"<|START_ACTION|>", SLM_TOOL_FMT_COMMANDR},
    {"<|im_start|>", SLM_TOOL_FMT_HERMES},
};

static bool contains(const char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0) return true;
    return false;
}

slm_tool_format slm_tool_format_detect(const char *tmpl, size_t tmpl_len,
                                       bool (*has_token)(const char *text, void *user), void *user) {
    for (size_t i = 0; tmpl && i < sizeof TEMPLATE_SIGNS / sizeof TEMPLATE_SIGNS[0]; i++)
        if (contains(tmpl, tmpl_len, TEMPLATE_SIGNS[i].marker)) return TEMPLATE_SIGNS[i].f;
    for (size_t i = 0; has_token && i < sizeof TOKEN_SIGNS / sizeof TOKEN_SIGNS[0]; i++)
        if (has_token(TOKEN_SIGNS[i].marker, user)) return TOKEN_SIGNS[i].f;
    return SLM_TOOL_FMT_GENERIC;
}
