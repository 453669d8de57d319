/* Request admission before any handler runs: the Host header must name
 * this server (a DNS-rebinding page gets its own host name in Host, as in
 * Ollama's CVE-2024-28224), a browser Origin must be the configured CORS
 * origin, and when an API key is set it must come as
 * "Authorization: Bearer KEY" (compared in constant time). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server_internal.h"

bool auth_is_loopback(const char *host) {
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* Host header without the port and the IPv6 brackets, lower-cased. */
static void host_name(const char *h, char *out, size_t cap) {
    size_t n = 0;
    if (*h == '[') {
        h++;
        while (*h && *h != ']' && n + 1 < cap) out[n++] = *h++;
    } else {
        while (*h && *h != ':' && n + 1 < cap) out[n++] = (char)tolower((unsigned char)*h++);
    }
    out[n] = '\0';
}

static bool host_allowed(slm_server *s, const char *hdr) {
    if (!hdr) return true; /* HTTP/1.0 without Host: nothing for a browser to rebind */
    char h[256];
    host_name(hdr, h, sizeof h);
    for (int i = 0; i < s->cfg.n_allowed_hosts; i++)
        if (strcasecmp(h, s->allowed_hosts[i]) == 0 || strcmp(s->allowed_hosts[i], "*") == 0) return true;
    if (auth_is_loopback(h) || strcasecmp(h, s->host) == 0) return true;
    /* Bound off loopback (with a key): any name the network routes here. */
    return !s->loopback && s->cfg.n_allowed_hosts == 0;
}

static bool origin_allowed(slm_server *s, const char *origin) {
    if (!origin) return true; /* not a browser, or a same-origin GET */
    if (!s->cors_origin) return false;
    return strcmp(s->cors_origin, "*") == 0 || strcmp(s->cors_origin, origin) == 0;
}

static bool key_matches(const char *want, const char *got) {
    size_t a = strlen(want), b = strlen(got);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < a; i++) diff |= (unsigned char)(want[i] ^ (i < b ? got[i] : 0));
    return diff == 0;
}

static bool key_ok(conn *c) {
    const char *want = c->srv->api_key;
    /* Preflights carry no credentials; they only learn what CORS allows. */
    if (!want || strcmp(c->url, "/health") == 0 || strcmp(c->url, "/") == 0 || strcmp(c->method, "OPTIONS") == 0)
        return true;
    const char *h = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    return key_matches(want, h);
}

static bool is_ollama(const conn *c) { return strncmp(c->url, "/api/", 5) == 0; }

static enum MHD_Result refuse(conn *c, unsigned status, const char *code, const char *msg) {
    if (is_ollama(c)) return http_ol_error(c, status, "%s", msg);
    return http_oa_error(c, status, NULL, code, "%s", msg);
}

bool auth_check(conn *c, enum MHD_Result *ret) {
    slm_server *s = c->srv;
    const char *host = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Host");
    if (!host_allowed(s, host)) {
        *ret = refuse(c, 403, "host_not_allowed",
                      "the Host header names a host this server does not answer for (use --allow-host)");
        return false;
    }
    const char *origin = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Origin");
    if (!origin_allowed(s, origin)) {
        *ret = refuse(c, 403, "origin_not_allowed", "cross-origin requests are refused (CORS is off; use --cors-origin)");
        return false;
    }
    if (!key_ok(c)) {
        *ret = refuse(c, 401, "invalid_api_key", "a valid API key is required (Authorization: Bearer KEY)");
        return false;
    }
    return true;
}
