/* Cooldown circuit breaker for remote models: one slot per model holding
 * its consecutive failures and the time until which it is skipped. After
 * `failures` failures in a row the slot opens for cooldown_s; once that
 * passes the next call is let through as a probe, and one more failure
 * reopens it at once (the count is still at the threshold). */
#include <stdlib.h>

#include "router/router_internal.h"

typedef struct breaker_slot {
    int fails;
    double open_until;
} breaker_slot;

struct slm_breaker {
    pthread_mutex_t mu;
    int n, failures;
    double cooldown_s;
    breaker_slot *slots;
};

slm_breaker *slm_breaker_new(int n_slots, int failures, double cooldown_s) {
    if (n_slots < 1) n_slots = 1;
    slm_breaker *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->slots = calloc((size_t)n_slots, sizeof *b->slots);
    if (!b->slots) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->n = n_slots;
    b->failures = failures > 0 ? failures : 1;
    b->cooldown_s = cooldown_s;
    return b;
}

void slm_breaker_free(slm_breaker *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b->slots);
    free(b);
}

bool slm_breaker_allow(slm_breaker *b, int slot, double now_s) {
    if (!b || slot < 0 || slot >= b->n) return true;
    pthread_mutex_lock(&b->mu);
    bool ok = now_s >= b->slots[slot].open_until;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void slm_breaker_report(slm_breaker *b, int slot, bool ok, double now_s) {
    if (!b || slot < 0 || slot >= b->n) return;
    pthread_mutex_lock(&b->mu);
    breaker_slot *s = &b->slots[slot];
    if (ok) {
        s->fails = 0;
        s->open_until = 0;
    } else if (++s->fails >= b->failures) {
        s->fails = b->failures; /* stay at the threshold: a failed probe reopens */
        s->open_until = now_s + b->cooldown_s;
    }
    pthread_mutex_unlock(&b->mu);
}
