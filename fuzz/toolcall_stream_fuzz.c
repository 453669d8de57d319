/* libFuzzer target for the streaming tool-call parser
 * (chat/toolcall_stream.c), which reads untrusted model output as it is
 * generated. Input: one byte choosing the format, one byte seeding the
 * chunk sizes, then the text. Checks: no crash; a call starts with a
 * non-empty name at the next index, argument pieces only for a started
 * call; and the same text fed whole and fed in chunks of 1 to 16 bytes
 * announces the same calls with the same arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/toolcall.h"

#define MAX_CALLS 64

typedef struct seen {
    size_t n_calls;
    char *name[MAX_CALLS];
    char *args[MAX_CALLS];
    size_t args_len[MAX_CALLS];
} seen;

static bool on_delta(void *user, size_t index, const char *name, const char *args, size_t n) {
    seen *s = user;
    if (name) {
        if (index != s->n_calls || !*name) abort(); /* calls start in order, named */
        if (s->n_calls == MAX_CALLS) return false;
        s->name[s->n_calls] = strdup(name);
        s->args[s->n_calls] = calloc(1, 1);
        s->args_len[s->n_calls++] = 0;
        if (n) abort(); /* a start carries no argument bytes */
        return true;
    }
    if (index + 1 != s->n_calls || (n && !args)) abort(); /* pieces only for the newest call */
    char *grown = realloc(s->args[index], s->args_len[index] + n + 1);
    if (!grown) abort();
    memcpy(grown + s->args_len[index], args, n);
    s->args_len[index] += n;
    grown[s->args_len[index]] = '\0';
    s->args[index] = grown;
    return true;
}

static void feed(slm_tool_format f, const char *text, size_t len, uint8_t seed, seen *out) {
    slm_toolcall_stream *st = NULL;
    if (slm_toolcall_stream_new(f, &st, NULL) != SLM_OK) abort();
    size_t at = 0;
    uint32_t r = seed ? seed : 1;
    while (at < len) {
        size_t n = len - at;
        if (seed) { /* chunks of 1..16 bytes from a small xorshift */
            r ^= r << 13, r ^= r >> 17, r ^= r << 5;
            size_t k = 1 + r % 16;
            if (k < n) n = k;
        }
        if (!slm_toolcall_stream_feed(st, text + at, n, on_delta, out)) break;
        at += n;
    }
    if (slm_toolcall_stream_n_calls(st) != out->n_calls && out->n_calls < MAX_CALLS) abort();
    slm_toolcall_stream_free(st);
}

static void clear(seen *s) {
    for (size_t i = 0; i < s->n_calls; i++) free(s->name[i]), free(s->args[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 4096) return 0;
    slm_tool_format f = (slm_tool_format)(data[0] % 7);
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    seen whole = {0}, chunked = {0};
    feed(f, text, len, 0, &whole);
    feed(f, text, len, data[1], &chunked);
    if (whole.n_calls < MAX_CALLS && chunked.n_calls < MAX_CALLS) {
        if (whole.n_calls != chunked.n_calls) abort();
        for (size_t i = 0; i < whole.n_calls; i++)
            if (strcmp(whole.name[i], chunked.name[i]) || whole.args_len[i] != chunked.args_len[i] ||
                memcmp(whole.args[i], chunked.args[i], whole.args_len[i]))
                abort();
    }
    clear(&whole);
    clear(&chunked);
    return 0;
}
