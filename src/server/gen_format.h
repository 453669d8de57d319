/* The generation job shared by gen.c (running, waiting, streaming) and
 * gen_format.c (turning events into OpenAI / Ollama JSON). One job serves
 * one HTTP request with n choices; each choice is one scheduler request. */
#ifndef SLM_SERVER_GEN_FORMAT_H
#define SLM_SERVER_GEN_FORMAT_H

#include "server_internal.h"

#define GEN_MAX_CHOICES 8

typedef struct gen_choice {
    slm_request *req;
    char *text;           /* accumulated output (non-streaming) */
    size_t len, cap;
    json_t *logprobs;     /* chat: array of entries; completions: object of arrays */
    size_t text_offset;   /* completions logprobs text_offset */
    slm_event done;
    bool finished;
} gen_choice;

typedef struct gen_job {
    slm_server *srv;
    srv_model *m;
    conn *c;              /* valid while MHD still calls us for this request */
    api_kind kind;
    char id[64];
    int64_t created;
    double t_start;
    bool stream, include_usage, logprobs;
    int fd;
    int n;
    gen_choice ch[GEN_MAX_CHOICES];
    /* streaming output buffer */
    char *out;
    size_t out_len, out_pos, out_cap;
    bool sent_first, finished;
    char *clean;          /* UTF-8-clean copy of the current event's text */
    /* tool calls (gen_tools.c) */
    bool tools, tools_hold_all;
    slm_tool_format tool_fmt;
    char *acc;            /* streamed output so far (tools only) */
    size_t acc_len, acc_cap, streamed;
    bool in_call;         /* a call started: no more content is streamed */
    slm_toolcall_stream *tstream; /* OpenAI: calls followed as they are generated */
    size_t fed;           /* acc bytes given to tstream */
} gen_job;

/* Accumulates a token event's logprobs into the choice (both APIs' shapes). */
void fmt_logprobs_add(gen_job *j, gen_choice *ch, const slm_event *ev);
/* The whole (non-streaming) answer. */
json_t *fmt_full_response(gen_job *j);
/* Streaming pieces appended to the job's output buffer; false when out of memory. */
bool fmt_stream_start(gen_job *j);
bool fmt_stream_token(gen_job *j, const slm_event *ev);
bool fmt_stream_done(gen_job *j, const slm_event *done);
bool fmt_append(gen_job *j, const char *s, size_t n);
const char *fmt_finish_reason(const slm_event *done);
json_t *fmt_oa_base(const gen_job *j, const char *object);
json_t *fmt_oa_chunk(const gen_job *j, const char *text, size_t len, bool role, json_t *lp, const char *finish);
json_t *fmt_ol_object(const gen_job *j, const char *text, size_t len, bool done);
/* Appends one JSON value as an SSE data line or an NDJSON line (steals v). */
bool fmt_append_json(gen_job *j, json_t *v, bool sse);

/* ---- gen_tools.c: tool calls in the output ---- */
/* Parses a finished text: *content (malloc'ed) and the calls in the API's
 * shape (OpenAI: id/type/function{name, arguments string}; Ollama:
 * function{name, arguments object}); NULL when there is no call. */
json_t *tools_parse(const gen_job *j, const char *text, size_t len, char **content);
/* Streaming with tools: text is released as content only where no call
 * can start; the rest is held until the end. */
bool tools_stream_token(gen_job *j, const char *text, size_t len);
/* The end: held content, then the calls (OpenAI tool_calls deltas, or an
 * Ollama message with tool_calls); *finish becomes "tool_calls" when
 * there were calls. */
bool tools_stream_done(gen_job *j, const slm_event *d, const char **finish);

#endif
