/* Routing decision latency: slm_route_decide (task inference, PII scan,
 * rules, plan) over a mix of requests, p50/p99 in microseconds.
 * usage: router_bench [slm.yaml] [iterations]. Proxy overhead (decision +
 * upstream hop through `slm serve`) is measured once the server wiring
 * lands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/router.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *REQS[] = {
    "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a support triage bot.\"},"
    "{\"role\":\"user\",\"content\":\"Classify this ticket: the app crashes when I upload a photo from my phone.\"}]}",
    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Write an essay on the history of tides and "
    "their effect on coastal towns, with sources.\"}]}",
    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Extract the amount and IBAN from: please pay "
    "EUR 120 to DE89 3704 0044 0532 0130 00 by Friday, thanks, jo@example.com\"}]}",
    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there, how are you today?\"}]}",
};
#define N_REQS (sizeof REQS / sizeof REQS[0])

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : NULL;
    int iters = argc > 2 ? atoi(argv[2]) : 20000;
    if (iters < 100) iters = 100;
    slm_route_config *c = NULL;
    slm_error err = {0};
    if ((path ? slm_route_config_load(path, &c, &err) : slm_route_config_default(NULL, &c, &err)) != SLM_OK) {
        fprintf(stderr, "router_bench: %s\n", err.msg);
        return 1;
    }
    json_t *bodies[N_REQS];
    for (size_t i = 0; i < N_REQS; i++) bodies[i] = json_loads(REQS[i], 0, NULL);
    double *us = malloc((size_t)iters * sizeof *us);
    if (!us) return 1;
    slm_route_decision d;
    for (int i = 0; i < iters; i++) {
        slm_route_request req = {.body = bodies[(size_t)i % N_REQS]};
        int64_t t0 = slm_now_us();
        slm_route_decide(c, &req, &d, NULL);
        us[i] = (double)(slm_now_us() - t0);
    }
    qsort(us, (size_t)iters, sizeof *us, cmp);
    printf("routing decision (%s, %d requests, %zu kinds): p50 %.1f us  p99 %.1f us  max %.1f us\n",
           path ? path : "default config", iters, N_REQS, us[iters / 2], us[(size_t)iters * 99 / 100], us[iters - 1]);
    free(us);
    for (size_t i = 0; i < N_REQS; i++) json_decref(bodies[i]);
    slm_route_config_free(c);
    return 0;
}
