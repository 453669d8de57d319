/* Router proxy overhead: the latency `slm serve` adds when it routes a chat
 * request to a remote tier (parse, routing decision, ledger row, upstream
 * hop through libcurl) against an upstream that answers instantly.
 *
 * Runs in one process: a tiny keep-alive HTTP responder (the "remote tier"),
 * a real slm_server with a router whose only rule sends everything to that
 * responder, and a paced load generator (C connections, R requests/s in
 * total). Each phase measures per-request latency, first straight to the
 * responder, then through the server; the added latency is the difference
 * of the percentiles. Phases: ledger off, ledger on (SQLite WAL).
 *
 * Several rounds (each: direct, no ledger, ledger) give the spread on a
 * shared machine; the summary is the median and range of the added p50/p99.
 *
 * usage: router_proxy_bench [model.gguf] [requests/s] [seconds] [connections] [rounds] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "slm/router.h"
#include "slm/server.h"

static const char ANSWER[] =
    "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"up\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,"
    "\"completion_tokens\":1,\"total_tokens\":11}}";
static const char BODY[] = "{\"model\":\"auto\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"Write an essay about the tides of the north sea\"}]}";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one HTTP message (headers + Content-Length body) from fd into buf. */
static bool read_message(int fd, char *buf, size_t cap) {
    size_t len = 0;
    char *end = NULL;
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        if (len + 1 >= cap) return false;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) return false;
        len += (size_t)n;
        buf[len] = '\0';
    }
    const char *cl = strcasestr(buf, "content-length:");
    size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    while (len < want) {
        if (want >= cap) return false;
        ssize_t n = read(fd, buf + len, want - len);
        if (n <= 0) return false;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return true;
}

/* ---- the instant upstream ---- */

static void *responder_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[65536], head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      sizeof ANSWER - 1);
    for (;;) {
        buf[0] = '\0';
        if (!read_message(fd, buf, sizeof buf)) break;
        char out[1024];
        memcpy(out, head, (size_t)hn);
        memcpy(out + hn, ANSWER, sizeof ANSWER - 1);
        if (write(fd, out, (size_t)hn + sizeof ANSWER - 1) < 0) break;
    }
    close(fd);
    return NULL;
}

static void *responder_main(void *arg) {
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, responder_conn, (void *)(intptr_t)fd) == 0) pthread_detach(t);
        else close(fd);
    }
}

static int listen_any(uint16_t *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128) ||
        getsockname(s, (struct sockaddr *)&a, &al))
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

/* ---- load ---- */

typedef struct load {
    uint16_t port;
    double interval, t_start, t_end;
    double *lat;
    size_t n, cap;
    int errors;
} load;

static void *load_main(void *arg) {
    load *l = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        l->errors++;
        close(fd);
        return NULL;
    }
    char req[2048], buf[65536];
    int rn = snprintf(req, sizeof req,
                      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s", sizeof BODY - 1, BODY);
    for (double next = l->t_start; next < l->t_end && l->n < l->cap; next += l->interval) {
        double t = now_s();
        if (next > t) usleep((useconds_t)((next - t) * 1e6));
        double t0 = now_s();
        buf[0] = '\0';
        if (write(fd, req, (size_t)rn) != rn || !read_message(fd, buf, sizeof buf) || !strstr(buf, " 200 ")) {
            l->errors++;
            break;
        }
        l->lat[l->n++] = now_s() - t0;
    }
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stats {
    double p50, p99, rate;
    size_t n;
    int errors;
} stats;

static stats run_load(uint16_t port, double rate, double secs, int conns) {
    load l[64];
    size_t cap = (size_t)(rate * secs / conns) + 16;
    double t0 = now_s() + 0.05;
    pthread_t th[64];
    for (int i = 0; i < conns; i++) {
        l[i] = (load){.port = port, .interval = conns / rate, .t_start = t0 + i * (1.0 / rate), .t_end = t0 + secs,
                      .lat = malloc(cap * sizeof(double)), .cap = cap};
        pthread_create(&th[i], NULL, load_main, &l[i]);
    }
    stats s = {0};
    double *all = malloc((size_t)conns * cap * sizeof(double));
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + s.n, l[i].lat, l[i].n * sizeof(double));
        s.n += l[i].n;
        s.errors += l[i].errors;
        free(l[i].lat);
    }
    qsort(all, s.n, sizeof(double), cmp);
    if (s.n) {
        s.p50 = all[s.n / 2] * 1e3;
        s.p99 = all[(size_t)((double)s.n * 0.99)] * 1e3;
    }
    s.rate = (double)s.n / secs;
    free(all);
    return s;
}

static slm_server *start_front(const char *model, uint16_t up, const char *ledger, slm_router **rout) {
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "tiers:\n  - name: local\n    models: [{name: small, path: '%s'}]\n"
             "  - name: remote\n    models: [{name: up, base_url: 'http://127.0.0.1:%u/v1', input_cost_per_million: 1}]\n"
             "rules:\n  - {name: all-remote, tier: remote}\n",
             model, (unsigned)up);
    slm_route_config *rc = NULL;
    slm_router *r = NULL;
    slm_error err = {0};
    if (slm_route_config_parse(yaml, strlen(yaml), "bench.yaml", &rc, &err) || slm_router_open(rc, ledger, &r, &err)) {
        fprintf(stderr, "router: %s\n", err.msg);
        return NULL;
    }
    slm_server_model m = {.name = "small", .path = model};
    slm_server_config c = {.models = &m, .n_models = 1, .router = r, .max_connections = 256};
    slm_server *s = NULL;
    if (slm_server_start(&c, &s, &err)) {
        fprintf(stderr, "server: %s\n", err.msg);
        slm_router_close(r);
        return NULL;
    }
    *rout = r;
    return s;
}

static int cmp_d(const void *a, const void *b) { return cmp(a, b); }

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "../shared/models/stories260K.gguf";
    double rate = argc > 2 ? atof(argv[2]) : 1000, secs = argc > 3 ? atof(argv[3]) : 5;
    int conns = argc > 4 ? atoi(argv[4]) : 8, rounds = argc > 5 ? atoi(argv[5]) : 1;
    if (conns < 1 || conns > 64 || rate <= 0 || secs <= 0 || rounds < 1 || rounds > 50) {
        fprintf(stderr, "usage: router_proxy_bench [model.gguf] [requests/s] [seconds] [connections 1-64] [rounds 1-50]\n");
        return 2;
    }
    uint16_t up = 0;
    int ls = listen_any(&up);
    pthread_t rt;
    if (ls < 0 || pthread_create(&rt, NULL, responder_main, (void *)(intptr_t)ls)) return 1;
    char ledger[] = "/tmp/router_proxy_bench.XXXXXX";
    if (!mkdtemp(ledger)) return 1;
    char ledger_db[sizeof ledger + 16];
    snprintf(ledger_db, sizeof ledger_db, "%s/ledger.db", ledger);
    printf("rate %.0f req/s, %.0f s, %d connections, %d round(s)\n", rate, secs, conns, rounds);
    printf("%-28s %8s %9s %9s %7s\n", "phase", "requests", "p50 ms", "p99 ms", "errors");
    const char *ledgers[2] = {"", ledger_db};
    const char *names[2] = {"via slm serve, no ledger", "via slm serve, ledger (WAL)"};
    double add50[2][50], add99[2][50];
    for (int round = 0; round < rounds; round++) {
        /* each round measures the direct path again: the machine's load drifts */
        stats direct = run_load(up, rate, secs, conns);
        printf("%-28s %8zu %9.3f %9.3f %7d\n", "direct to upstream", direct.n, direct.p50, direct.p99, direct.errors);
        for (int i = 0; i < 2; i++) {
            slm_router *r = NULL;
            slm_server *s = start_front(model, up, ledgers[i], &r);
            if (!s) return 1;
            run_load(slm_server_port(s), rate, 0.5, conns); /* warm-up: connections, curl handles */
            stats v = run_load(slm_server_port(s), rate, secs, conns);
            add50[i][round] = v.p50 - direct.p50;
            add99[i][round] = v.p99 - direct.p99;
            printf("%-28s %8zu %9.3f %9.3f %7d   added: p50 %.3f ms, p99 %.3f ms\n", names[i], v.n, v.p50, v.p99,
                   v.errors, add50[i][round], add99[i][round]);
            slm_server_shutdown(s, 1);
            slm_server_free(s);
            slm_router_close(r);
        }
    }
    if (rounds > 1)
        for (int i = 0; i < 2; i++) {
            double lo50 = add50[i][0], hi50 = lo50, lo99 = add99[i][0], hi99 = lo99;
            for (int k = 1; k < rounds; k++) {
                lo50 = add50[i][k] < lo50 ? add50[i][k] : lo50, hi50 = add50[i][k] > hi50 ? add50[i][k] : hi50;
                lo99 = add99[i][k] < lo99 ? add99[i][k] : lo99, hi99 = add99[i][k] > hi99 ? add99[i][k] : hi99;
            }
            printf("median of %d rounds, %s: added p50 %.3f ms (%.3f-%.3f), p99 %.3f ms (%.3f-%.3f)\n", rounds,
                   names[i], median(add50[i], rounds), lo50, hi50, median(add99[i], rounds), lo99, hi99);
        }
    unlink(ledger_db);
    char side[sizeof ledger_db + 8];
    snprintf(side, sizeof side, "%s-wal", ledger_db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", ledger_db);
    unlink(side);
    rmdir(ledger);
    return 0;
}
