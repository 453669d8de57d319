/* HTTP response helpers: JSON bodies, the OpenAI and Ollama error shapes,
 * common headers, request body parsing, and a non-blocking check for a
 * client that went away. Main data: conn (server_internal.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server_internal.h"

void http_common_headers(conn *c, struct MHD_Response *r) {
    MHD_add_response_header(r, "Server", "slm/" SRV_VERSION);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    const char *origin = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Origin");
    if (c->srv->cors_origin && origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin",
                                strcmp(c->srv->cors_origin, "*") == 0 ? "*" : c->srv->cors_origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

enum MHD_Result http_send(conn *c, unsigned status, const char *type, char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(r, "Content-Type", type);
    http_common_headers(c, r);
    if (status == 429) MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
    MHD_destroy_response(r);
    c->status = status;
    c->answered = true;
    return ret;
}

enum MHD_Result http_json(conn *c, unsigned status, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return http_send(c, 500, "text/plain", strdup("out of memory"), 13);
    size_t n = strlen(s);
    /* A trailing newline, as curl users and NDJSON readers expect. */
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return MHD_NO;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return http_send(c, status, "application/json", t, n + 1);
}

const char *http_status_type(unsigned status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 501: return "not_implemented_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

enum MHD_Result http_oa_error(conn *c, unsigned status, const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "message", msg, "type", http_status_type(status), "param",
                          param ? json_string(param) : json_null(), "code", code ? json_string(code) : json_null());
    return http_json(c, status, json_pack("{s:o}", "error", e));
}

enum MHD_Result http_ol_error(conn *c, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_json(c, status, json_pack("{s:s}", "error", msg));
}

int http_conn_fd(conn *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

bool http_peer_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

json_t *http_parse_body(conn *c, bool ollama, enum MHD_Result *ret) {
    json_error_t je;
    json_t *v = c->len ? json_loadb(c->body, c->len, 0, &je) : NULL;
    if (!c->len) snprintf(je.text, sizeof je.text, "the request body is empty"), je.line = je.column = 0;
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
        snprintf(je.text, sizeof je.text, "the request body must be a JSON object");
        je.line = je.column = 0;
    }
    if (v) return v;
    char where[64] = "";
    if (je.line > 0) snprintf(where, sizeof where, " at line %d, column %d", je.line, je.column);
    *ret = ollama ? http_ol_error(c, 400, "invalid JSON%s: %s", where, je.text)
                  : http_oa_error(c, 400, NULL, "invalid_json", "invalid JSON%s: %s", where, je.text);
    return NULL;
}

void http_rfc3339(double t, char *buf, size_t cap) {
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06ldZ", base, (long)((t - (double)sec) * 1e6));
}
