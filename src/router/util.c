/* Small helpers for the router: NULL-tolerant strdup, PCRE2 wrappers used
 * by task patterns, PII custom patterns and the refusal check, the walk
 * over a chat request's text, and token prices. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"

char *rt_strdup(const char *s) { return s ? strdup(s) : NULL; }

void *rt_regex_compile(const char *pattern, bool caseless, char *why, size_t cap) {
    int code = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (caseless ? PCRE2_CASELESS : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(why, cap, "bad regex '%s' at offset %zu: %s", pattern, (size_t)off, (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* where JIT is unavailable pcre2_match interprets */
    return re;
}

/* One match-data block per thread, reused for every match (a request runs
 * several patterns; allocating one per call showed in the profile). */
static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_md_key;
static void md_free(void *md) { pcre2_match_data_free(md); }
static void md_key_init(void) { pthread_key_create(&g_md_key, md_free); }

static pcre2_match_data *thread_match_data(void) {
    pthread_once(&g_md_once, md_key_init);
    pcre2_match_data *md = pthread_getspecific(g_md_key);
    if (!md && (md = pcre2_match_data_create(1, NULL))) pthread_setspecific(g_md_key, md);
    return md;
}

bool rt_regex_match(const void *code, const char *text, size_t len) {
    if (!code) return false;
    pcre2_match_data *md = thread_match_data();
    if (!md) return false;
    /* invalid UTF-8 in a request must not make the check fail open silently:
     * PCRE2_NO_UTF_CHECK is not used, an error simply counts as no match */
    int rc = pcre2_match((const pcre2_code *)code, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter has no such limit: ask it */
        rc = pcre2_match((const pcre2_code *)code, (PCRE2_SPTR)text, len, 0, PCRE2_NO_JIT, md, NULL);
    return rc >= 0;
}

void rt_regex_free(void *code) { pcre2_code_free((pcre2_code *)code); }

/* Text of one message "content": a string or an array of {type:text} parts. */
static void content_texts(const char *role, const json_t *content, rt_text_fn fn, void *ctx) {
    if (json_is_string(content)) {
        fn(ctx, role, json_string_value(content), json_string_length(content));
        return;
    }
    if (!json_is_array(content)) return;
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part) {
        const json_t *t = json_object_get(part, "text");
        if (json_is_string(t)) fn(ctx, role, json_string_value(t), json_string_length(t));
    }
}

void rt_request_texts(const json_t *body, rt_text_fn fn, void *ctx) {
    const json_t *prompt = json_object_get(body, "prompt");
    if (json_is_string(prompt)) fn(ctx, "user", json_string_value(prompt), json_string_length(prompt));
    const json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs)) return;
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        content_texts(role ? role : "user", json_object_get(m, "content"), fn, ctx);
    }
}

static void add_len(void *ctx, const char *role, const char *text, size_t len) {
    (void)role;
    (void)text;
    *(size_t *)ctx += len;
}

size_t rt_request_chars(const json_t *body) {
    size_t n = 0;
    rt_request_texts(body, add_len, &n);
    return n;
}

double rt_cost(const slm_route_model *m, int64_t tin, int64_t tout) {
    if (!m) return 0;
    return ((double)tin * m->price_in + (double)tout * m->price_out) / 1e6;
}

void rt_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap); /* truncating a human-readable message is fine */
    va_end(ap);
}
