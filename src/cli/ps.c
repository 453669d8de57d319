/* `slm ps`: the models a running `slm serve` has loaded, from its Ollama
 * endpoint GET /api/ps ({"models":[{name, size, details, expires_at}]}):
 * name, size, quantization, parameter size and when it unloads. The server
 * is $SLM_HOST or --host (default http://127.0.0.1:11434); --api-key or
 * $SLM_API_KEY is sent as a bearer token. Exit 0 with or without models,
 * 1 when the server cannot be reached or answers with an error. */
#include "cli.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PS_MAX_BODY (4u << 20)

typedef struct body_buf {
    char *p;
    size_t n;
    bool too_big;
} body_buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    body_buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n > PS_MAX_BODY) return b->too_big = true, 0;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    memcpy(q + b->n, data, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static void ps_usage(FILE *f) {
    fprintf(f, "usage: slm ps [--host URL] [--api-key KEY] [--json]\n"
               "  Models loaded in a running slm serve (GET /api/ps): name, size, quantization, parameters\n"
               "  and when each unloads. --host default: $SLM_HOST or http://127.0.0.1:11434.\n");
}

/* GET base/api/ps into *out; prints the error and returns false. */
static bool fetch_ps(const char *host, const char *key, json_t **out) {
    char base[1024], url[1100], auth[600];
    snprintf(base, sizeof base, "%s", host);
    for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--) base[n - 1] = '\0';
    snprintf(url, sizeof url, "%s%s/api/ps", strstr(base, "://") ? "" : "http://", base);
    CURL *c = curl_easy_init();
    if (!c) return fprintf(stderr, "slm ps: cannot create an HTTP handle\n"), false;
    body_buf b = {0};
    struct curl_slist *h = NULL;
    if (key && *key && strlen(key) < 512) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    bool ok = false;
    json_error_t je;
    if (rc != CURLE_OK)
        fprintf(stderr, "slm ps: cannot reach %s: %s (is slm serve running?)\n", url,
                b.too_big ? "response too large" : curl_easy_strerror(rc));
    else if (status != 200)
        fprintf(stderr, "slm ps: %s answered HTTP %ld: %.300s\n", url, status, b.p ? b.p : "");
    else if (!(*out = json_loadb(b.p ? b.p : "", b.n, 0, &je)) || !json_is_array(json_object_get(*out, "models")))
        fprintf(stderr, "slm ps: %s: not an /api/ps answer (%s)\n", url, *out ? "no models array" : je.text);
    else
        ok = true;
    free(b.p);
    return ok;
}

/* "4 minutes from now" from an RFC 3339 UTC time; "never" when empty. */
static void until(const char *ts, char *out, size_t cap) {
    struct tm tm = {0};
    if (!ts || !*ts) return (void)snprintf(out, cap, "never (kept loaded)");
    if (!strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)) return (void)snprintf(out, cap, "%s", ts);
    double left = difftime(timegm(&tm), time(NULL));
    if (left < 0) snprintf(out, cap, "expired");
    else if (left < 120) snprintf(out, cap, "%.0f seconds from now", left);
    else if (left < 7200) snprintf(out, cap, "%.0f minutes from now", left / 60);
    else snprintf(out, cap, "%.1f hours from now", left / 3600);
}

static void print_table(json_t *models) {
    if (json_array_size(models) == 0) return (void)printf("no models loaded\n");
    printf("%-32s %10s  %-8s %-8s %s\n", "NAME", "SIZE", "QUANT", "PARAMS", "UNTIL");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        json_t *d = json_object_get(m, "details");
        const char *q = json_string_value(json_object_get(d, "quantization_level"));
        const char *ps = json_string_value(json_object_get(d, "parameter_size"));
        char b[32], u[64];
        until(json_string_value(json_object_get(m, "expires_at")), u, sizeof u);
        const char *name = json_string_value(json_object_get(m, "name"));
        printf("%-32s %10s  %-8s %-8s %s\n", name ? name : "?",
               cli_bytes((uint64_t)json_integer_value(json_object_get(m, "size")), b, sizeof b), q ? q : "-",
               ps ? ps : "-", u);
    }
}

int cli_ps(int argc, char **argv) {
    const char *host = getenv("SLM_HOST"), *key = getenv("SLM_API_KEY");
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return ps_usage(stdout), 0;
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--host")) { if (!(host = cli_value("ps", argc, argv, &i))) return 2; }
        else if (!strcmp(argv[i], "--api-key")) { if (!(key = cli_value("ps", argc, argv, &i))) return 2; }
        else return fprintf(stderr, "slm ps: unknown option %s\n", argv[i]), 2;
    }
    if (!host || !*host) host = "http://127.0.0.1:11434";
    if (strlen(host) > 1000) return fprintf(stderr, "slm ps: --host is too long\n"), 2;
    json_t *o = NULL;
    if (!fetch_ps(host, key, &o)) return json_decref(o), 1;
    if (json) {
        char *t = json_dumps(json_object_get(o, "models"), JSON_INDENT(2));
        if (t) printf("%s\n", t);
        free(t);
    } else {
        print_table(json_object_get(o, "models"));
    }
    json_decref(o);
    return 0;
}
