/* Response shapes: OpenAI chat.completion / text_completion objects and
 * their streaming chunks (SSE "data: {...}" lines ending with
 * "data: [DONE]"), and Ollama's /api/chat and /api/generate objects
 * (NDJSON lines, the last with done: true and timings in nanoseconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_format.h"

#define FINGERPRINT "slm-" SRV_VERSION

static bool is_chat(const gen_job *j) { return j->kind == API_OA_CHAT || j->kind == API_OL_CHAT; }
static bool is_ollama(const gen_job *j) { return j->kind == API_OL_CHAT || j->kind == API_OL_GENERATE; }

const char *fmt_finish_reason(const slm_event *done) {
    return done->finish == SLM_FINISH_LENGTH ? "length" : "stop";
}

bool fmt_append(gen_job *j, const char *s, size_t n) {
    if (j->out_len + n + 1 > j->out_cap) {
        size_t cap = j->out_cap ? j->out_cap : 1024;
        while (cap < j->out_len + n + 1) cap *= 2;
        char *p = realloc(j->out, cap);
        if (!p) return false;
        j->out = p;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, s, n);
    j->out_len += n;
    return true;
}

/* The text of one token for logprobs, and its UTF-8 bytes. */
static json_t *token_json(const gen_job *j, int32_t tok, float logprob, bool with_bytes) {
    char buf[256];
    size_t n = slm_token_to_piece(slm_sched_tokenizer(j->m->sched), tok, false, buf, sizeof buf);
    if (n > sizeof buf) n = sizeof buf;
    size_t cn = 0;
    char *clean = utf8_sanitize(buf, n, &cn); /* a lone byte token is not valid UTF-8 */
    json_t *o = json_pack("{s:s%, s:f}", "token", clean ? clean : "", clean ? cn : 0, "logprob", (double)logprob);
    free(clean);
    if (with_bytes && o) {
        json_t *bytes = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(bytes, json_integer((unsigned char)buf[i]));
        json_object_set_new(o, "bytes", bytes);
    }
    return o;
}

static json_t *chat_logprob_entry(const gen_job *j, const slm_event *ev) {
    json_t *e = token_json(j, ev->token, ev->logprob, true);
    json_t *top = json_array();
    for (int32_t i = 0; i < ev->n_top; i++) json_array_append_new(top, token_json(j, ev->top[i].token, ev->top[i].logprob, true));
    json_object_set_new(e, "top_logprobs", top);
    return e;
}

/* Legacy completions logprobs: parallel arrays and a token -> logprob map per position. */
static void completion_logprob_add(const gen_job *j, gen_choice *ch, const slm_event *ev) {
    if (!ch->logprobs)
        ch->logprobs = json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
    json_t *t = token_json(j, ev->token, ev->logprob, false);
    json_array_append(json_object_get(ch->logprobs, "tokens"), json_object_get(t, "token"));
    json_array_append_new(json_object_get(ch->logprobs, "token_logprobs"), json_real(ev->logprob));
    json_t *top = json_object();
    for (int32_t i = 0; i < ev->n_top; i++) {
        json_t *x = token_json(j, ev->top[i].token, ev->top[i].logprob, false);
        json_object_set(top, json_string_value(json_object_get(x, "token")), json_object_get(x, "logprob"));
        json_decref(x);
    }
    json_array_append_new(json_object_get(ch->logprobs, "top_logprobs"), top);
    json_array_append_new(json_object_get(ch->logprobs, "text_offset"), json_integer((json_int_t)ch->text_offset));
    ch->text_offset += json_string_length(json_object_get(t, "token"));
    json_decref(t);
}

void fmt_logprobs_add(gen_job *j, gen_choice *ch, const slm_event *ev) {
    if (!j->logprobs) return;
    if (j->kind == API_OA_COMPLETION) {
        completion_logprob_add(j, ch, ev);
        return;
    }
    if (!ch->logprobs) ch->logprobs = json_array();
    json_array_append_new(ch->logprobs, chat_logprob_entry(j, ev));
}

static json_t *usage_json(const gen_job *j) {
    int64_t prompt = 0, gen = 0, cached = 0;
    for (int i = 0; i < j->n; i++) {
        prompt = j->ch[i].done.n_prompt; /* the same prompt for every choice */
        gen += j->ch[i].done.n_gen;
        if (j->ch[i].done.n_cached > cached) cached = j->ch[i].done.n_cached;
    }
    return json_pack("{s:I, s:I, s:I, s:{s:I}, s:{s:i}}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)gen, "total_tokens", (json_int_t)(prompt + gen), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)cached, "completion_tokens_details", "reasoning_tokens", 0);
}

static json_t *oa_choice_full(const gen_job *j, int i) {
    const gen_choice *ch = &j->ch[i];
    json_t *lp = json_null();
    if (j->logprobs && j->kind == API_OA_CHAT)
        lp = json_pack("{s:O, s:[]}", "content", ch->logprobs ? ch->logprobs : json_array(), "refusal");
    else if (j->logprobs && ch->logprobs)
        lp = json_incref(ch->logprobs);
    if (j->kind == API_OA_CHAT && j->tools) {
        char *content = NULL;
        json_t *calls = tools_parse(j, ch->text, ch->len, &content);
        if (calls) {
            json_t *msg = json_pack("{s:s, s:o, s:n, s:o}", "role", "assistant", "content",
                                    content && *content ? json_string(content) : json_null(), "refusal", "tool_calls",
                                    calls);
            free(content);
            return json_pack("{s:i, s:o, s:o, s:s}", "index", i, "message", msg, "logprobs", lp, "finish_reason",
                             "tool_calls");
        }
        free(content);
    }
    if (j->kind == API_OA_CHAT)
        return json_pack("{s:i, s:{s:s, s:s%, s:n}, s:o, s:s}", "index", i, "message", "role", "assistant", "content",
                         ch->text ? ch->text : "", ch->len, "refusal", "logprobs", lp, "finish_reason",
                         fmt_finish_reason(&ch->done));
    return json_pack("{s:s%, s:i, s:o, s:s}", "text", ch->text ? ch->text : "", ch->len, "index", i, "logprobs", lp,
                     "finish_reason", fmt_finish_reason(&ch->done));
}

json_t *fmt_oa_base(const gen_job *j, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", j->id, "object", object, "created", (json_int_t)j->created,
                     "model", j->m->name, "system_fingerprint", FINGERPRINT);
}

/* Ollama's final fields: counts and durations in nanoseconds. */
static void ol_add_stats(const gen_job *j, json_t *o, const slm_event *d) {
    double total = slm_now_s() - j->t_start;
    json_object_set_new(o, "done_reason", json_string(fmt_finish_reason(d)));
    json_object_set_new(o, "total_duration", json_integer((json_int_t)(total * 1e9)));
    json_object_set_new(o, "load_duration", json_integer(0));
    json_object_set_new(o, "prompt_eval_count", json_integer(d->n_prompt - d->n_cached));
    json_object_set_new(o, "prompt_eval_duration", json_integer((json_int_t)(d->t_prompt_s * 1e9)));
    json_object_set_new(o, "eval_count", json_integer(d->n_gen));
    json_object_set_new(o, "eval_duration", json_integer((json_int_t)(d->t_gen_s * 1e9)));
}

json_t *fmt_ol_object(const gen_job *j, const char *text, size_t len, bool done) {
    char ts[48];
    http_rfc3339((double)j->created + (slm_now_s() - j->t_start), ts, sizeof ts);
    if (j->kind == API_OL_CHAT)
        return json_pack("{s:s, s:s, s:{s:s, s:s%}, s:b}", "model", j->m->name, "created_at", ts, "message", "role",
                         "assistant", "content", text, len, "done", done);
    return json_pack("{s:s, s:s, s:s%, s:b}", "model", j->m->name, "created_at", ts, "response", text, len, "done", done);
}

json_t *fmt_full_response(gen_job *j) {
    if (is_ollama(j)) {
        json_t *o = fmt_ol_object(j, j->ch[0].text ? j->ch[0].text : "", j->ch[0].len, true);
        char *content = NULL;
        json_t *calls = j->tools ? tools_parse(j, j->ch[0].text, j->ch[0].len, &content) : NULL;
        if (calls) {
            json_t *msg = json_object_get(o, "message");
            json_object_set_new(msg, "content", json_string(content ? content : ""));
            json_object_set_new(msg, "tool_calls", calls);
        }
        free(content);
        ol_add_stats(j, o, &j->ch[0].done);
        return o;
    }
    json_t *o = fmt_oa_base(j, is_chat(j) ? "chat.completion" : "text_completion");
    json_t *choices = json_array();
    for (int i = 0; i < j->n; i++) json_array_append_new(choices, oa_choice_full(j, i));
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", usage_json(j));
    return o;
}

bool fmt_append_json(gen_job *j, json_t *v, bool sse) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return false;
    bool ok = (!sse || fmt_append(j, "data: ", 6)) && fmt_append(j, s, strlen(s)) && fmt_append(j, sse ? "\n\n" : "\n", sse ? 2 : 1);
    free(s);
    return ok;
}

/* One OpenAI chunk with a delta (chat) or text (completions). */
json_t *fmt_oa_chunk(const gen_job *j, const char *text, size_t len, bool role, json_t *lp, const char *finish) {
    json_t *o = fmt_oa_base(j, is_chat(j) ? "chat.completion.chunk" : "text_completion");
    json_t *choice;
    if (is_chat(j)) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", json_stringn(text, len));
        choice = json_pack("{s:i, s:o}", "index", 0, "delta", delta);
    } else {
        choice = json_pack("{s:s%, s:i}", "text", text ? text : "", text ? len : 0, "index", 0);
    }
    json_object_set_new(choice, "logprobs", lp ? lp : json_null());
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    if (j->include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

bool fmt_stream_start(gen_job *j) {
    if (j->kind != API_OA_CHAT) return true;
    return fmt_append_json(j, fmt_oa_chunk(j, "", 0, true, NULL, NULL), true);
}

bool fmt_stream_token(gen_job *j, const slm_event *ev) {
    if (j->tools) return tools_stream_token(j, ev->text, ev->text_len);
    if (ev->text_len == 0 && !j->logprobs) return true; /* held back: nothing to say yet */
    if (is_ollama(j)) return fmt_append_json(j, fmt_ol_object(j, ev->text, ev->text_len, false), false);
    json_t *lp = NULL;
    if (j->logprobs && j->kind == API_OA_CHAT) {
        lp = json_pack("{s:[o], s:n}", "content", chat_logprob_entry(j, ev), "refusal");
    } else if (j->logprobs) {
        gen_choice tmp = {0};
        completion_logprob_add(j, &tmp, ev);
        lp = tmp.logprobs;
    }
    return fmt_append_json(j, fmt_oa_chunk(j, ev->text, ev->text_len, false, lp, NULL), true);
}

static bool stream_error(gen_job *j, const slm_event *d) {
    if (is_ollama(j)) return fmt_append_json(j, json_pack("{s:s}", "error", d->error), false);
    json_t *e = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", d->error, "type", "server_error", "param", "code");
    return fmt_append_json(j, e, true) && fmt_append(j, "data: [DONE]\n\n", 14);
}

bool fmt_stream_done(gen_job *j, const slm_event *d) {
    if (d->status != SLM_OK) return stream_error(j, d);
    const char *finish = fmt_finish_reason(d);
    if (j->tools && !tools_stream_done(j, d, &finish)) return false;
    bool held = d->text_len && !j->tools; /* the last held-back text */
    if (is_ollama(j)) {
        if (held && !fmt_append_json(j, fmt_ol_object(j, d->text, d->text_len, false), false)) return false;
        json_t *o = fmt_ol_object(j, "", 0, true);
        ol_add_stats(j, o, d);
        return fmt_append_json(j, o, false);
    }
    if (held && !fmt_append_json(j, fmt_oa_chunk(j, d->text, d->text_len, false, NULL, NULL), true)) return false;
    if (!fmt_append_json(j, fmt_oa_chunk(j, is_chat(j) ? NULL : "", 0, false, NULL, finish), true)) return false;
    if (j->include_usage) {
        json_t *u = fmt_oa_base(j, is_chat(j) ? "chat.completion.chunk" : "text_completion");
        json_object_set_new(u, "choices", json_array());
        json_object_set_new(u, "usage", usage_json(j));
        if (!fmt_append_json(j, u, true)) return false;
    }
    return fmt_append(j, "data: [DONE]\n\n", 14);
}
