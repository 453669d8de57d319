/* Load generator for OpenAI-compatible servers (slm serve and llama.cpp's
 * llama-server): one thread and one keep-alive libcurl handle per stream,
 * streaming /v1/completions (SSE), measuring time to first token (TTFT) and
 * tokens/s per stream and in aggregate. Two more modes: a prefix-cache test
 * (TTFT of a cold ~1000-token prefix vs a second request sharing it with a
 * different suffix) and per-request overhead (max_tokens=1 latency minus the
 * engine time the server reports, p50/p99). Main data: one req_result per
 * request, filled by the SSE/JSON parser in the curl write callback.
 *
 * usage: serve_load_bench URL MODE [options]; see usage() below. */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
    const char *url, *mode, *model, *api; /* api: "completions" or "ollama" */
    int streams[16], n_streams;
    int requests, max_tokens, prompt_words, prefix_words, suffix_words, reps;
    bool fresh_conn; /* a new TCP connection per request instead of keep-alive */
    int server_pid; /* > 0: also report the server's CPU time (robust on a shared, busy machine) */
} bench_opts;

/* What one request measured (times in seconds on CLOCK_MONOTONIC). */
typedef struct req_result {
    double t_start, t_first, t_last, t_end;
    int n_events;                     /* streamed events carrying text */
    int completion_tokens, prompt_tokens, cached_tokens; /* -1: not reported */
    double engine_ms;                 /* server-reported engine time, -1 if none */
    long http_status;
    bool error;
    char *buf;                        /* unparsed bytes (SSE) or the whole body */
    size_t len, cap;
    bool stream;
} req_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* User + system CPU seconds of a process so far (/proc/PID/stat), -1 if unknown. */
static double proc_cpu_s(int pid) {
    if (pid <= 0) return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* q-quantile of v[0..n) (sorts v). */
static double quantile(double *v, int n, double q) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* ---- prompts: deterministic word salad, distinct per seed ---- */

static const char *WORDS[] = {
    "the",   "little", "cat",    "sat",    "on",     "a",      "warm",   "mat",   "and",    "looked", "at",
    "bird",  "in",     "tree",   "while",  "sun",    "went",   "down",   "over",  "quiet",  "town",   "where",
    "old",   "man",    "told",   "story",  "about",  "river",  "that",   "ran",   "past",   "his",    "house",
    "every", "day",    "when",   "children","played", "near",   "water",  "they",  "found",  "stone",  "shaped",
    "like",  "heart",  "kept",   "it",     "for",    "many",   "years",  "until", "one",    "morning","small",
    "dog",   "came",   "home",   "with",   "bright", "red",    "ball",   "happy", "green",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

/* Appends n words chosen by a seeded LCG to dst (malloc'ed, grows). */
static char *words(char *dst, unsigned seed, int n) {
    size_t len = dst ? strlen(dst) : 0, cap = len + (size_t)n * 10 + 2;
    char *out = realloc(dst, cap);
    if (!out) return dst;
    out[len] = '\0';
    unsigned x = seed * 2654435761u + 12345u;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        const char *w = WORDS[(x >> 16) % N_WORDS];
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", w);
    }
    return out;
}

/* ---- one HTTP request ---- */

static int json_int_or(const json_t *o, const char *key, int dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? (int)json_number_value(v) : dflt;
}

/* Counts, cached tokens and engine time from any of the shapes: OpenAI
 * usage, llama.cpp timings, Ollama durations (ns). */
static void parse_stats(req_result *r, const json_t *o) {
    const json_t *u = json_object_get(o, "usage");
    if (json_is_object(u)) {
        r->completion_tokens = json_int_or(u, "completion_tokens", r->completion_tokens);
        r->prompt_tokens = json_int_or(u, "prompt_tokens", r->prompt_tokens);
        const json_t *d = json_object_get(u, "prompt_tokens_details");
        if (json_is_object(d)) r->cached_tokens = json_int_or(d, "cached_tokens", r->cached_tokens);
    }
    const json_t *t = json_object_get(o, "timings"); /* llama-server */
    if (json_is_object(t)) {
        double pm = json_number_value(json_object_get(t, "prompt_ms"));
        double gm = json_number_value(json_object_get(t, "predicted_ms"));
        r->engine_ms = pm + gm;
        int pn = json_int_or(t, "prompt_n", -1);
        if (pn >= 0 && r->prompt_tokens >= 0) r->cached_tokens = r->prompt_tokens - pn;
        if (r->completion_tokens < 0) r->completion_tokens = json_int_or(t, "predicted_n", -1);
    }
    if (json_is_number(json_object_get(o, "eval_duration"))) { /* Ollama */
        double pd = json_number_value(json_object_get(o, "prompt_eval_duration"));
        double ed = json_number_value(json_object_get(o, "eval_duration"));
        r->engine_ms = (pd + ed) * 1e-6;
        r->completion_tokens = json_int_or(o, "eval_count", r->completion_tokens);
        int pe = json_int_or(o, "prompt_eval_count", -1);
        if (pe >= 0) r->prompt_tokens = pe; /* tokens evaluated; the cached ones are not counted */
    }
}

/* One SSE event's JSON: a text-bearing choice counts as a token. */
static void on_event(req_result *r, const char *data, size_t n) {
    json_t *o = json_loadb(data, n, 0, NULL);
    if (!o) return;
    if (json_object_get(o, "error")) r->error = true;
    const json_t *c = json_array_get(json_object_get(o, "choices"), 0);
    const json_t *text = json_object_get(c, "text");
    if (!text) text = json_object_get(json_object_get(c, "delta"), "content");
    bool final = json_is_string(json_object_get(c, "finish_reason"));
    if (json_is_string(text) && (!final || json_string_length(text) > 0)) {
        double t = now_s();
        if (r->n_events++ == 0) r->t_first = t;
        r->t_last = t;
    }
    parse_stats(r, o);
    json_decref(o);
}

/* Consumes complete "data: ..." lines from the buffer. */
static void parse_sse(req_result *r) {
    size_t start = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->buf[i] != '\n') continue;
        const char *line = r->buf + start;
        size_t n = i - start;
        if (n > 0 && line[n - 1] == '\r') n--;
        if (n > 6 && strncmp(line, "data: ", 6) == 0 && !(n == 12 && strncmp(line + 6, "[DONE]", 6) == 0))
            on_event(r, line + 6, n - 6);
        start = i + 1;
    }
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud) {
    req_result *r = ud;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        size_t cap = (r->len + n + 1) * 2;
        char *b = realloc(r->buf, cap);
        if (!b) return 0;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    if (r->stream) parse_sse(r);
    return n;
}

static char *request_body(const bench_opts *o, const char *prompt, int max_tokens, bool stream) {
    json_t *b;
    if (strcmp(o->api, "ollama") == 0)
        b = json_pack("{s:s, s:s, s:b, s:b, s:{s:i, s:f}}", "model", o->model, "prompt", prompt, "raw", 1, "stream",
                      stream, "options", "num_predict", max_tokens, "temperature", 0.0);
    else
        b = json_pack("{s:s, s:s, s:i, s:f, s:b, s:b, s:i}", "model", o->model, "prompt", prompt, "max_tokens",
                      max_tokens, "temperature", 0.0, "stream", stream, "cache_prompt", 1, "seed", 1);
    if (b && stream && strcmp(o->api, "ollama") != 0)
        json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return s;
}

/* POSTs one request on the handle (kept alive between calls). */
static void do_request(CURL *h, const bench_opts *o, const char *prompt, int max_tokens, bool stream,
                       req_result *r) {
    memset(r, 0, sizeof *r);
    r->completion_tokens = r->prompt_tokens = r->cached_tokens = -1;
    r->engine_ms = -1;
    r->stream = stream;
    char url[1024];
    snprintf(url, sizeof url, "%s%s", o->url, strcmp(o->api, "ollama") == 0 ? "/api/generate" : "/v1/completions");
    char *body = request_body(o, prompt, max_tokens, stream);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    r->t_start = now_s();
    CURLcode rc = curl_easy_perform(h);
    r->t_end = now_s();
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->http_status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL); /* the handle outlives hd and body */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (rc != CURLE_OK || r->http_status != 200) r->error = true;
    if (!stream && r->buf) {
        json_t *j = json_loadb(r->buf, r->len, 0, NULL);
        if (j) parse_stats(r, j);
        else r->error = true;
        json_decref(j);
    }
    if (r->error && r->buf && r->len) fprintf(stderr, "request failed (%ld): %.*s\n", r->http_status, (int)r->len, r->buf);
    free(r->buf);
    r->buf = NULL;
    curl_slist_free_all(hd);
    free(body);
}

static CURL *new_handle(const bench_opts *o) {
    CURL *h = curl_easy_init();
    if (h) {
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        if (o->fresh_conn) curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    return h;
}

static int tokens_of(const req_result *r) {
    return r->completion_tokens >= 0 ? r->completion_tokens : r->n_events;
}

/* ---- mode load: N concurrent streams ---- */

typedef struct stream_job {
    const bench_opts *o;
    int id;
    pthread_barrier_t *go;
    req_result *res; /* o->requests entries */
} stream_job;

static void *stream_main(void *arg) {
    stream_job *j = arg;
    CURL *h = new_handle(j->o);
    char *prompt = NULL;
    pthread_barrier_wait(j->go);
    for (int k = 0; k < j->o->requests; k++) {
        free(prompt);
        prompt = words(NULL, 100u + (unsigned)(j->id * 1000 + k), j->o->prompt_words);
        if (h && prompt) do_request(h, j->o, prompt, j->o->max_tokens, true, &j->res[k]);
        else j->res[k].error = true;
    }
    free(prompt);
    curl_easy_cleanup(h);
    return NULL;
}

static int run_load(const bench_opts *o, int n) {
    int nr = o->requests, total = n * nr, errors = 0, n_tok = 0;
    req_result *res = calloc((size_t)total, sizeof *res);
    stream_job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double *ttft = calloc((size_t)total, sizeof *ttft), *rate = calloc((size_t)total, sizeof *rate);
    pthread_barrier_t go;
    if (!res || !jobs || !th || !ttft || !rate || pthread_barrier_init(&go, NULL, (unsigned)n)) return 1;
    double cpu0 = proc_cpu_s(o->server_pid);
    for (int i = 0; i < n; i++) {
        jobs[i] = (stream_job){.o = o, .id = i, .go = &go, .res = res + i * nr};
        pthread_create(&th[i], NULL, stream_main, &jobs[i]);
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    double cpu = cpu0 >= 0 ? proc_cpu_s(o->server_pid) - cpu0 : -1;
    double t0 = 1e300, t1 = 0;
    int n_rate = 0;
    for (int i = 0; i < total; i++) {
        req_result *r = &res[i];
        if (r->error || r->n_events == 0) {
            errors++;
            continue;
        }
        t0 = r->t_start < t0 ? r->t_start : t0;
        t1 = r->t_end > t1 ? r->t_end : t1;
        n_tok += tokens_of(r);
        ttft[i - errors] = (r->t_first - r->t_start) * 1e3;
        if (r->n_events > 1 && r->t_last > r->t_first) rate[n_rate++] = (r->n_events - 1) / (r->t_last - r->t_first);
    }
    int ok = total - errors;
    double wall = t1 > t0 ? t1 - t0 : 0, mean_rate = 0;
    for (int i = 0; i < n_rate; i++) mean_rate += rate[i] / n_rate;
    printf("load streams=%d requests=%d errors=%d tokens=%d wall_s=%.2f agg_tok_s=%.2f stream_tok_s_mean=%.2f "
           "stream_tok_s_min=%.2f ttft_ms_p50=%.1f ttft_ms_max=%.1f server_cpu_s=%.2f cpu_ms_per_tok=%.1f\n",
           n, total, errors, n_tok, wall, wall > 0 ? n_tok / wall : 0, mean_rate, quantile(rate, n_rate, 0),
           quantile(ttft, ok, 0.5), quantile(ttft, ok, 1), cpu, cpu >= 0 && n_tok ? cpu * 1e3 / n_tok : -1.0);
    fflush(stdout);
    free(res), free(jobs), free(th), free(ttft), free(rate);
    return errors ? 1 : 0;
}

/* ---- mode prefix: cold shared prefix, then a hit with another suffix ---- */

static int run_prefix(const bench_opts *o) {
    CURL *h = new_handle(o);
    int errors = 0;
    double *ratio = calloc((size_t)o->reps, sizeof *ratio);
    if (!h || !ratio) return 1;
    for (int rep = 0; rep < o->reps; rep++) {
        req_result r[2];
        /* A fresh prefix per repetition (and per run), so the first request is always cold. */
        unsigned seed = 7000u + (unsigned)rep + (unsigned)(time(NULL) % 100000) * 64u;
        for (int k = 0; k < 2; k++) {
            char *p = words(NULL, seed, o->prefix_words);
            p = words(p, 9000u + (unsigned)k, o->suffix_words);
            if (p) do_request(h, o, p, 4, true, &r[k]);
            free(p);
        }
        if (r[0].error || r[1].error || !r[0].n_events || !r[1].n_events) {
            errors++;
            continue;
        }
        double a = (r[0].t_first - r[0].t_start) * 1e3, b = (r[1].t_first - r[1].t_start) * 1e3;
        ratio[rep] = a / b;
        printf("prefix rep=%d prompt_tokens=%d,%d cached_tokens=%d,%d ttft_cold_ms=%.1f ttft_hit_ms=%.1f ratio=%.1f\n",
               rep, r[0].prompt_tokens, r[1].prompt_tokens, r[0].cached_tokens, r[1].cached_tokens, a, b, a / b);
        fflush(stdout);
    }
    int ok = o->reps - errors;
    if (ok > 0) printf("prefix ratio_p50=%.1f ratio_min=%.1f\n", quantile(ratio, ok, 0.5), quantile(ratio, ok, 0));
    curl_easy_cleanup(h);
    free(ratio);
    return errors ? 1 : 0;
}

/* ---- mode overhead: sequential max_tokens=1 requests ---- */

static void health_latency(const bench_opts *o, CURL *h, int n) {
    double *lat = calloc((size_t)n, sizeof *lat);
    char url[1024];
    snprintf(url, sizeof url, "%s/health", o->url);
    req_result r = {0};
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    for (int i = 0; lat && i < n; i++) {
        r.len = 0;
        double t = now_s();
        curl_easy_perform(h);
        lat[i] = (now_s() - t) * 1e3;
    }
    free(r.buf);
    if (lat) printf("health n=%d latency_ms_p50=%.3f latency_ms_p99=%.3f\n", n, quantile(lat, n, 0.5), quantile(lat, n, 0.99));
    free(lat);
}

static int run_overhead(const bench_opts *o) {
    CURL *h = new_handle(o);
    int n = o->reps, m = 0, errors = 0;
    double *lat = calloc((size_t)n, sizeof *lat), *eng = calloc((size_t)n, sizeof *eng);
    double *ovh = calloc((size_t)n, sizeof *ovh);
    char *prompt = words(NULL, 42u, o->prompt_words);
    if (!h || !lat || !eng || !ovh || !prompt) return 1;
    /* Steady state only: on a busy machine a freshly started server's
     * threads wait tens of ms for a CPU during its first second or so. */
    for (double t_end = now_s() + 2.0; now_s() < t_end;) {
        req_result w;
        do_request(h, o, prompt, 1, false, &w);
    }
    health_latency(o, h, n);
    double cpu0 = proc_cpu_s(o->server_pid);
    for (int i = 0; i < n; i++) {
        req_result r;
        do_request(h, o, prompt, 1, false, &r);
        if (r.error) {
            errors++;
            continue;
        }
        lat[m] = (r.t_end - r.t_start) * 1e3;
        eng[m] = r.engine_ms;
        ovh[m] = r.engine_ms >= 0 ? lat[m] - r.engine_ms : lat[m];
        m++;
    }
    double cpu = cpu0 >= 0 ? proc_cpu_s(o->server_pid) - cpu0 : -1;
    bool have_engine = m > 0 && eng[0] >= 0;
    printf("overhead n=%d errors=%d latency_ms_p50=%.3f latency_ms_p99=%.3f engine_ms_p50=%s%.3f "
           "overhead_ms_p50=%.3f overhead_ms_p99=%.3f server_cpu_ms_per_req=%.3f\n",
           m, errors, quantile(lat, m, 0.5), quantile(lat, m, 0.99), have_engine ? "" : "(none)",
           have_engine ? quantile(eng, m, 0.5) : 0.0, quantile(ovh, m, 0.5), quantile(ovh, m, 0.99),
           cpu >= 0 && m ? cpu * 1e3 / m : -1.0);
    curl_easy_cleanup(h);
    free(lat), free(eng), free(ovh), free(prompt);
    return errors ? 1 : 0;
}

/* ---- command line ---- */

static void usage(void) {
    fprintf(stderr,
            "usage: serve_load_bench URL MODE [options]   (URL like http://127.0.0.1:8080)\n"
            "  MODE load:     streams of streaming /v1/completions; TTFT and tokens/s\n"
            "  MODE prefix:   TTFT of a cold shared prefix vs a second request reusing it\n"
            "  MODE overhead: sequential max_tokens=1 requests, latency minus reported engine time\n"
            "options:\n"
            "  --model NAME         model field (default: default)\n"
            "  --api completions|ollama  /v1/completions (default) or /api/generate (raw)\n"
            "  --streams LIST       load: concurrent streams, e.g. 1,4,8 (default 1,4,8)\n"
            "  --requests N         load: requests per stream (default 2)\n"
            "  --max-tokens N       load: max_tokens (default 64)\n"
            "  --prompt-words N     load/overhead: prompt length in words (default 24 / 4)\n"
            "  --prefix-words N     prefix: shared prefix length in words (default 970, ~1000 tokens)\n"
            "  --suffix-words N     prefix: suffix length in words (default 12)\n"
            "  --reps N             prefix: repetitions (default 3); overhead: requests (default 1000)\n"
            "  --fresh-conn 1       a new TCP connection per request (default: keep-alive)\n"
            "  --server-pid PID     also report the server process's CPU time (load, overhead)\n");
}

static bool parse_args(int argc, char **argv, bench_opts *o) {
    if (argc < 3) return false;
    *o = (bench_opts){.url = argv[1], .mode = argv[2], .model = "default", .api = "completions", .requests = 2,
                      .max_tokens = 64, .prompt_words = -1, .prefix_words = 970, .suffix_words = 12, .reps = -1};
    const char *list = "1,4,8";
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return false;
        i++;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--api")) o->api = v;
        else if (!strcmp(a, "--streams")) list = v;
        else if (!strcmp(a, "--requests")) o->requests = atoi(v);
        else if (!strcmp(a, "--max-tokens")) o->max_tokens = atoi(v);
        else if (!strcmp(a, "--prompt-words")) o->prompt_words = atoi(v);
        else if (!strcmp(a, "--prefix-words")) o->prefix_words = atoi(v);
        else if (!strcmp(a, "--suffix-words")) o->suffix_words = atoi(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--server-pid")) o->server_pid = atoi(v);
        else if (!strcmp(a, "--fresh-conn")) o->fresh_conn = atoi(v) != 0;
        else return false;
    }
    bool overhead = !strcmp(o->mode, "overhead");
    if (o->prompt_words < 0) o->prompt_words = overhead ? 4 : 24;
    if (o->reps < 0) o->reps = overhead ? 1000 : 3;
    for (const char *p = list; *p && o->n_streams < 16; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p)) {
        int s = atoi(p);
        if (s < 1 || s > 256) return false;
        o->streams[o->n_streams++] = s;
    }
    return o->requests > 0 && o->max_tokens > 0 && o->reps > 0 && o->n_streams > 0;
}

int main(int argc, char **argv) {
    bench_opts o;
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Warm-up: slm loads a model on first use; neither server is timed cold. */
    CURL *h = new_handle(&o);
    req_result w;
    if (h) do_request(h, &o, "warm up", 2, false, &w);
    curl_easy_cleanup(h);
    if (!h || w.error) {
        fprintf(stderr, "serve_load_bench: warm-up request to %s failed\n", o.url);
        return 1;
    }
    int rc = 0;
    if (!strcmp(o.mode, "load"))
        for (int i = 0; i < o.n_streams; i++) rc |= run_load(&o, o.streams[i]);
    else if (!strcmp(o.mode, "prefix")) rc = run_prefix(&o);
    else if (!strcmp(o.mode, "overhead")) rc = run_overhead(&o);
    else {
        usage();
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
