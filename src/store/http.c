/* HTTP client for pulls (libcurl) with the safety policy that registry
 * clients have got wrong before (CVE-2024-37032, SSRF):
 *  - one configured origin (the registry or HF endpoint the user chose) may
 *    be plain HTTP and may live on a private/loopback address;
 *  - every other URL, including every redirect target, must be HTTPS and
 *    must not connect to a loopback/private/link-local address (checked on
 *    the resolved socket address, so DNS tricks do not help);
 *  - redirects are followed by hand, at most 8, each one checked;
 *  - the token is sent only to the configured origin. */
#include "store_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_REDIRECTS 8
#define ERR_BODY_MAX 4096

bool store_url_origin(const char *url, char *out, size_t cap) {
    const char *scheme = strncmp(url, "https://", 8) == 0 ? "https" : strncmp(url, "http://", 7) == 0 ? "http" : NULL;
    if (!scheme) return false;
    const char *host = url + strlen(scheme) + 3;
    size_t n = strcspn(host, "/?#");
    if (n == 0 || n > 255) return false;
    char auth[256];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == '@' || c == '\\' || c >= 0x7f) return false; /* no userinfo, no odd bytes */
        auth[i] = (char)tolower(c);
    }
    auth[n] = '\0';
    bool has_port = strchr(auth, ':') && auth[n - 1] != ']';
    int w = snprintf(out, cap, "%s://%s%s", scheme, auth, has_port ? "" : strcmp(scheme, "https") == 0 ? ":443" : ":80");
    return w > 0 && (size_t)w < cap;
}

bool store_redirect_ok(const store_http *h, const char *to, char *why, size_t cap) {
    char origin[512];
    if (!store_url_origin(to, origin, sizeof origin)) {
        snprintf(why, cap, "redirect to an unusable URL '%.200s'", to);
        return false;
    }
    if (strcmp(origin, h->origin) == 0) return true;
    if (strncmp(origin, "https://", 8) != 0) {
        snprintf(why, cap, "redirect to non-HTTPS URL '%.200s' refused", to);
        return false;
    }
    return true;
}

bool store_addr_private(const void *sa, int family) {
    if (family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
               (a[0] == 100 && (a[1] & 0xc0) == 64) || a[0] >= 224;
    }
    if (family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        const unsigned char *b = a->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            struct sockaddr_in v4 = {.sin_family = AF_INET};
            memcpy(&v4.sin_addr, b + 12, 4);
            return store_addr_private(&v4, AF_INET);
        }
        return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
               (b[0] & 0xfe) == 0xfc || b[0] == 0xff;
    }
    return true; /* unknown families are not allowed */
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void store_http_init(store_http *h, const char *base_url, const char *token, const slm_pull_opts *opts) {
    memset(h, 0, sizeof *h);
    pthread_once(&curl_once, curl_init_once);
    if (!store_url_origin(base_url, h->origin, sizeof h->origin)) h->origin[0] = '\0';
    if (token && *token && strlen(token) < 512 && !strpbrk(token, "\r\n"))
        snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", token);
    h->stall_s = opts && opts->timeout_s > 0 ? opts->timeout_s : 60;
    h->opts = opts;
}

void store_resp_free(store_resp *r) {
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* Per-request state handed to curl's callbacks. */
typedef struct req_ctx {
    CURL *c;
    store_resp *r;
    store_sink sink;
    void *ud;
    size_t max;
    bool allow_private;
    bool blocked;    /* opensocket refused a private address */
    bool too_big;
    bool sink_abort;
} req_ctx;

/* Lets a cancelled pull stop even while a transfer is stalled. */
static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    const slm_pull_opts *o = ud;
    return o && o->cancelled && o->cancelled(o->cancel_ud) ? 1 : 0;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
    req_ctx *q = ud;
    (void)purpose;
    if (!q->allow_private && store_addr_private(&a->addr, a->family)) {
        q->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static bool append_body(store_resp *r, const char *data, size_t n, size_t max) {
    if (r->body_len + n > max) return false;
    char *nb = realloc(r->body, r->body_len + n + 1);
    if (!nb) return false;
    memcpy(nb + r->body_len, data, n);
    r->body = nb;
    r->body_len += n;
    nb[r->body_len] = '\0';
    return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    req_ctx *q = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(q->c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code < 400) return n; /* redirect bodies are ignored */
    if (code >= 200 && code < 300 && q->sink) {
        q->r->status = code; /* lets the sink tell 200 from 206 */
        if (!q->sink(data, n, q->ud)) {
            q->sink_abort = true;
            return 0;
        }
        return n;
    }
    if (code >= 200 && code < 300) {
        if (!append_body(q->r, data, n, q->max)) {
            q->too_big = true;
            return 0;
        }
        return n;
    }
    if (q->r->body_len < ERR_BODY_MAX) append_body(q->r, data, n < ERR_BODY_MAX ? n : ERR_BODY_MAX, ERR_BODY_MAX * 2);
    return n;
}

/* Value of header `name` in line, or NULL; *len gets its length without CRLF. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *len) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return NULL;
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    *len = (size_t)(end - v);
    return v;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
    req_ctx *q = ud;
    size_t n = size * nmemb, len;
    const char *v;
    if ((v = header_value(line, n, "X-Linked-Etag", &len)) != NULL) {
        if (len >= 2 && v[0] == '"') v++, len -= 2; /* strip the quotes */
        if (len < sizeof q->r->linked_etag) {
            memcpy(q->r->linked_etag, v, len);
            q->r->linked_etag[len] = '\0';
        }
    } else if ((v = header_value(line, n, "X-Linked-Size", &len)) != NULL) {
        q->r->linked_size = strtoull(v, NULL, 10);
    } else if ((v = header_value(line, n, "Content-Range", &len)) != NULL) {
        if (len > 6 && strncasecmp(v, "bytes ", 6) == 0) q->r->range_start = strtoull(v + 6, NULL, 10);
    }
    return n;
}

static CURL *make_handle(store_http *h, req_ctx *q, const char *url, const char *accept, uint64_t range_from,
                         struct curl_slist **hdrs, char *errbuf) {
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    char origin[512] = "";
    store_url_origin(url, origin, sizeof origin);
    bool own = h->origin[0] && strcmp(origin, h->origin) == 0;
    q->allow_private = own;
    if (accept) {
        char a[300];
        snprintf(a, sizeof a, "Accept: %s", accept);
        *hdrs = curl_slist_append(*hdrs, a);
    }
    if (own && h->auth[0]) *hdrs = curl_slist_append(*hdrs, h->auth);
    if (range_from > 0 || h->range_to > 0) {
        char rg[80];
        if (h->range_to > 0) /* a bounded prefix (the remote GGUF header) */
            snprintf(rg, sizeof rg, "Range: bytes=%llu-%llu", (unsigned long long)range_from,
                     (unsigned long long)h->range_to);
        else
            snprintf(rg, sizeof rg, "Range: bytes=%llu-", (unsigned long long)range_from);
        *hdrs = curl_slist_append(*hdrs, rg);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, own ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "slm/0.1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->stall_s);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, q);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (h->opts && h->opts->cancelled) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)h->opts);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    return c;
}

/* One hop: performs the request, fills r, sets *next to the redirect
 * target (malloc'ed) when the response is a redirect. */
static slm_status one_hop(store_http *h, req_ctx *q, const char *url, const char *accept, uint64_t range_from,
                          char **next, slm_error *err) {
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    CURL *c = make_handle(h, q, url, accept, range_from, &hdrs, errbuf);
    if (!c) return slm_error_set(err, SLM_ERR_NOMEM, "curl: cannot create a handle");
    q->c = c;
    CURLcode rc = curl_easy_perform(c);
    store_resp *r = q->r;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_off_t cl = -1;
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r->content_length = cl > 0 ? (uint64_t)cl : 0;
    char *loc = NULL;
    if (rc == CURLE_OK && r->status >= 300 && r->status < 400) curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
    if (loc) *next = strdup(loc);
    slm_status st = SLM_OK;
    if (q->blocked) {
        r->refused = true;
        st = slm_error_set(err, SLM_ERR_IO, "%s: refused to connect to a loopback/private address (only the "
                                            "configured registry may be local)", url);
    } else if (q->too_big) {
        r->refused = true;
        st = slm_error_set(err, SLM_ERR_FORMAT, "%s: response larger than %zu bytes", url, q->max);
    } else if (q->sink_abort) {
        r->refused = true; /* the sink's own error (filled in err): not worth a retry */
        st = err && err->code != SLM_OK ? err->code : SLM_ERR_IO;
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        r->refused = true;
        st = slm_error_set(err, SLM_ERR_IO, "cancelled (partial download kept for a later resume)");
    } else if (rc != CURLE_OK) {
        if (rc == CURLE_UNSUPPORTED_PROTOCOL) r->refused = true;
        st = slm_error_set(err, SLM_ERR_IO, "%s: network error: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return st;
}

slm_status store_http_request(store_http *h, const char *url, const char *accept, uint64_t range_from,
                              store_sink sink, void *ud, size_t max, store_resp *r, slm_error *err) {
    memset(r, 0, sizeof *r);
    char why[300];
    if (!store_redirect_ok(h, url, why, sizeof why)) {
        r->refused = true;
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "%s: only HTTPS is allowed (or the configured registry)", url);
    }
    char *cur = strdup(url);
    for (int hop = 0; cur; hop++) {
        snprintf(r->final_url, sizeof r->final_url, "%s", cur);
        req_ctx q = {.r = r, .sink = sink, .ud = ud, .max = max};
        char *next = NULL;
        store_resp_free(r);
        slm_status st = one_hop(h, &q, cur, accept, range_from, &next, err);
        free(cur);
        cur = NULL;
        if (st != SLM_OK || !next) {
            free(next);
            return st;
        }
        if (hop + 1 >= MAX_REDIRECTS || !store_redirect_ok(h, next, why, sizeof why)) {
            r->refused = true;
            if (hop + 1 >= MAX_REDIRECTS) snprintf(why, sizeof why, "too many redirects");
            free(next);
            return slm_error_set(err, SLM_ERR_IO, "%s: %s", r->final_url, why);
        }
        cur = next;
    }
    return slm_error_set(err, SLM_ERR_INTERNAL, "redirect loop");
}

slm_status store_http_status_error(const store_resp *r, const char *what, slm_error *err) {
    const char *hint = "";
    slm_status code = SLM_ERR_IO;
    if (r->status == 404) hint = ": not found (check the name and tag)";
    else if (r->status == 401 || r->status == 403)
        hint = ": access denied: the repository may be gated or private (set HF_TOKEN)";
    else if (r->status == 416) hint = ": range not satisfiable";
    else if (r->status >= 500) hint = ": server error (try again later)";
    else if (r->status == 0) hint = ": no response";
    return slm_error_set(err, code, "%s: HTTP %ld%s (%s)", what, r->status, hint, r->final_url);
}
