/* Request parameters: OpenAI and Ollama JSON fields checked for type and
 * range (an error names the field) and mapped onto slm_request_params.
 * Unset fields keep llama.cpp's sampling defaults, like llama-server.
 * Main data: gen_opts (server_internal.h), which also owns the storage the
 * request parameters point into (stop strings, logit_bias arrays). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

typedef struct perr {
    const char **param;
    char *msg;
    size_t cap;
} perr;

static bool bad(perr *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool bad(perr *e, const char *param, const char *fmt, ...) {
    *e->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    return false;
}

/* Present and not null. */
static const json_t *field(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static bool get_num(const json_t *o, const char *key, double lo, double hi, double *out, perr *e) {
    const json_t *v = field(o, key);
    if (!v) return true;
    if (!json_is_number(v)) return bad(e, key, "%s must be a number", key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) return bad(e, key, "%s must be between %g and %g, got %g", key, lo, hi, d);
    *out = d;
    return true;
}

static bool get_float(const json_t *o, const char *key, double lo, double hi, float *out, perr *e) {
    double d = *out;
    if (!get_num(o, key, lo, hi, &d, e)) return false;
    *out = (float)d;
    return true;
}

static bool get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, perr *e) {
    const json_t *v = field(o, key);
    if (!v) return true;
    if (!json_is_integer(v)) return bad(e, key, "%s must be an integer", key);
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(e, key, "%s must be between %lld and %lld, got %lld", key, (long long)lo, (long long)hi,
                   (long long)x);
    *out = x;
    return true;
}

static bool get_bool(const json_t *o, const char *key, bool *out, perr *e) {
    const json_t *v = field(o, key);
    if (!v) return true;
    if (!json_is_boolean(v)) return bad(e, key, "%s must be true or false", key);
    *out = json_is_true(v);
    return true;
}

static bool get_stop(const json_t *o, gen_opts *g, perr *e) {
    const json_t *v = field(o, "stop");
    if (!v) return true;
    if (json_is_string(v)) {
        g->stops[0] = json_string_value(v);
        g->rp.n_stop = json_string_length(v) ? 1 : 0;
    } else if (json_is_array(v)) {
        if (json_array_size(v) > SLM_MAX_STOPS) return bad(e, "stop", "stop: at most %d strings", SLM_MAX_STOPS);
        size_t i;
        const json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s)) return bad(e, "stop", "stop[%zu] must be a string", i);
            if (json_string_length(s)) g->stops[g->rp.n_stop++] = json_string_value(s);
        }
    } else {
        return bad(e, "stop", "stop must be a string or an array of strings");
    }
    g->rp.stop = g->stops;
    return true;
}

static bool get_logit_bias(const json_t *o, const slm_tokenizer *tok, gen_opts *g, perr *e) {
    const json_t *v = field(o, "logit_bias");
    if (!v) return true;
    if (!json_is_object(v)) return bad(e, "logit_bias", "logit_bias must be an object of token id -> bias");
    if (json_object_size(v) > sizeof g->bias_tok / sizeof g->bias_tok[0])
        return bad(e, "logit_bias", "logit_bias: at most %zu entries", sizeof g->bias_tok / sizeof g->bias_tok[0]);
    const char *k;
    const json_t *b;
    int32_t n = 0, n_vocab = slm_tokenizer_n_vocab(tok);
    json_object_foreach((json_t *)v, k, b) {
        char *end;
        long id = strtol(k, &end, 10);
        if (*k == '\0' || *end != '\0' || id < 0 || id >= n_vocab)
            return bad(e, "logit_bias", "logit_bias: '%s' is not a token id in [0, %d)", k, n_vocab);
        if (!json_is_number(b) || !(json_number_value(b) >= -100 && json_number_value(b) <= 100))
            return bad(e, "logit_bias", "logit_bias['%s'] must be a number between -100 and 100", k);
        g->bias_tok[n] = (int32_t)id;
        /* OpenAI: -100 bans the token in practice. */
        g->bias_val[n++] = json_number_value(b) <= -100 ? -INFINITY : (float)json_number_value(b);
    }
    g->rp.sampling.bias_tokens = g->bias_tok;
    g->rp.sampling.bias_values = g->bias_val;
    g->rp.sampling.n_bias = n;
    return true;
}

static bool get_seed(const json_t *o, slm_sampler_params *sp, perr *e) {
    const json_t *v = field(o, "seed");
    if (!v) return true;
    if (!json_is_integer(v)) return bad(e, "seed", "seed must be an integer");
    json_int_t s = json_integer_value(v);
    sp->seed = s < 0 ? SLM_SEED_RANDOM : (uint64_t)s; /* Ollama and llama.cpp: -1 = random */
    return true;
}

/* Fields shared by both APIs' sampling (OpenAI names; Ollama's options use the same). */
static bool get_sampling(const json_t *o, slm_sampler_params *sp, perr *e) {
    int64_t k = sp->top_k, last_n = sp->repeat_last_n;
    bool ok = get_float(o, "temperature", 0, 2, &sp->temperature, e) && get_float(o, "top_p", 0, 1, &sp->top_p, e) &&
              get_float(o, "min_p", 0, 1, &sp->min_p, e) && get_float(o, "typical_p", 0, 1, &sp->typical_p, e) &&
              get_int(o, "top_k", 0, INT32_MAX, &k, e) && get_float(o, "repeat_penalty", 0, 10, &sp->repeat_penalty, e) &&
              get_int(o, "repeat_last_n", -1, 1 << 20, &last_n, e) &&
              get_float(o, "presence_penalty", -2, 2, &sp->presence_penalty, e) &&
              get_float(o, "frequency_penalty", -2, 2, &sp->frequency_penalty, e) && get_seed(o, sp, e);
    sp->top_k = (int32_t)k;
    sp->repeat_last_n = (int32_t)last_n;
    return ok;
}

/* response_format, grammar, tools and functions are structured.c's. */
static bool reject_unsupported(const json_t *o, perr *e) {
    int64_t best_of = 1;
    if (!get_int(o, "best_of", 1, 1, &best_of, e)) return false;
    if (field(o, "suffix")) return bad(e, "suffix", "suffix (fill-in-the-middle) is not supported");
    if (field(o, "echo") && json_is_true(field(o, "echo"))) return bad(e, "echo", "echo is not supported");
    return true;
}

static bool get_openai_logprobs(const json_t *o, bool chat, gen_opts *g, perr *e) {
    if (chat) {
        bool lp = false;
        int64_t top = 0;
        if (!get_bool(o, "logprobs", &lp, e) || !get_int(o, "top_logprobs", 0, SLM_MAX_TOP_LOGPROBS, &top, e))
            return false;
        if (field(o, "top_logprobs") && !lp) return bad(e, "top_logprobs", "top_logprobs requires logprobs: true");
        g->logprobs = lp;
        g->rp.n_logprobs = lp ? (int32_t)top : -1;
    } else {
        int64_t n = -1;
        if (!get_int(o, "logprobs", 0, 5, &n, e)) return false;
        g->logprobs = n >= 0;
        g->rp.n_logprobs = (int32_t)n;
    }
    return true;
}

void params_free(gen_opts *g) {
    if (!g) return;
    slm_constraint_unref(g->cons);
    json_decref(g->tool_defs);
    free(g);
}

static void opts_init(gen_opts *g) {
    memset(g, 0, sizeof *g);
    slm_request_params_default(&g->rp);
    g->n = 1;
}

bool params_openai(const json_t *body, bool chat, const slm_tokenizer *tok, int32_t max_tokens, gen_opts *g,
                   const char **param, char *msg, size_t cap) {
    perr e = {param, msg, cap};
    opts_init(g);
    int64_t n_pred = -1, n = 1;
    if (!reject_unsupported(body, &e) || !get_sampling(body, &g->rp.sampling, &e) || !get_stop(body, g, &e) ||
        !get_logit_bias(body, tok, g, &e) || !get_openai_logprobs(body, chat, g, &e) ||
        !get_int(body, "max_tokens", 0, INT32_MAX, &n_pred, &e) ||
        !get_int(body, "max_completion_tokens", 0, INT32_MAX, &n_pred, &e) || !get_int(body, "n", 1, 8, &n, &e) ||
        !get_bool(body, "stream", &g->stream, &e))
        return false;
    const json_t *user = field(body, "user");
    if (user && !json_is_string(user)) return bad(&e, "user", "user must be a string");
    const json_t *so = field(body, "stream_options");
    if (so) {
        if (!json_is_object(so)) return bad(&e, "stream_options", "stream_options must be an object");
        if (!g->stream) return bad(&e, "stream_options", "stream_options is only allowed with stream: true");
        if (!get_bool(so, "include_usage", &g->include_usage, &e)) {
            *param = "stream_options.include_usage";
            return false;
        }
    }
    if (n > 1 && g->stream) return bad(&e, "n", "n > 1 is not supported with stream: true");
    g->n = (int)n;
    /* Past the server's cap (a slot's context by default) generation ends with "length". */
    g->rp.n_predict = n_pred < 0 || n_pred > max_tokens ? max_tokens : (int32_t)n_pred;
    return true;
}

static bool get_ollama_stop(const json_t *opt, gen_opts *g, perr *e) {
    const json_t *v = field(opt, "stop");
    if (v && !json_is_array(v) && !json_is_string(v)) return bad(e, "options.stop", "options.stop must be an array of strings");
    return get_stop(opt, g, e);
}

bool params_ollama(const json_t *body, int32_t max_tokens, gen_opts *g, const char **param, char *msg, size_t cap) {
    perr e = {param, msg, cap};
    opts_init(g);
    g->stream = true; /* Ollama streams unless told otherwise */
    if (!get_bool(body, "stream", &g->stream, &e)) return false;
    if (field(body, "images") && json_array_size(field(body, "images")) > 0)
        return bad(&e, "images", "images are not supported");
    const json_t *opt = field(body, "options");
    int64_t n_pred = -1, n_ctx = 0;
    if (opt) {
        if (!json_is_object(opt)) return bad(&e, "options", "options must be an object");
        if (!get_sampling(opt, &g->rp.sampling, &e) || !get_ollama_stop(opt, g, &e) ||
            !get_int(opt, "num_predict", -2, INT32_MAX, &n_pred, &e) || !get_int(opt, "num_ctx", 0, INT32_MAX, &n_ctx, &e))
            return false;
    }
    /* num_predict -1/-2 mean "until done" in Ollama; the server cap still applies. */
    g->rp.n_predict = n_pred < 0 || n_pred > max_tokens ? max_tokens : (int32_t)n_pred;
    return true;
}
