/* Budgets: remote spend (USD) per local calendar day and month, in total
 * and per API key id. The tracker keeps running sums that roll over when a
 * new day/month starts and is seeded from the ledger at start-up, so a
 * restart does not reset a spent budget. Local models cost nothing against
 * budgets (their energy cost is still recorded in the ledger). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"

typedef struct spend {
    double day, month;
} spend;

struct rt_budget {
    pthread_mutex_t mu;
    const slm_route_config *c;
    double day_start, month_start;
    double next_day; /* where the current day ends (a month only ends with a day) */
    spend total;
    spend *keys; /* parallel to c->key_budgets */
};

double rt_day_start(double t) {
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

double rt_month_start(double t) {
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

rt_budget *rt_budget_new(const slm_route_config *c) {
    rt_budget *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->keys = calloc((size_t)c->n_key_budgets + 1, sizeof *b->keys);
    if (!b->keys) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->c = c;
    double now = (double)time(NULL);
    b->day_start = rt_day_start(now);
    b->month_start = rt_month_start(now);
    b->next_day = rt_day_start(b->day_start + 26 * 3600.0);      /* a day is 23-25 h long */
    return b;
}

void rt_budget_free(rt_budget *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b->keys);
    free(b);
}

static int key_index(const rt_budget *b, const char *key) {
    for (int i = 0; key && i < b->c->n_key_budgets; i++)
        if (!strcmp(b->c->key_budgets[i].key, key)) return i;
    return -1;
}

/* Called with mu held. Within the current day nothing is computed: mktime
 * reads the time zone (a stat of /etc/localtime) on every call, which
 * showed up in the proxy's profile. */
static void roll(rt_budget *b, double now) {
    if (now >= b->day_start && now < b->next_day) return;
    double d = rt_day_start(now), m = rt_month_start(now);
    b->next_day = rt_day_start(d + 26 * 3600.0);
    if (d != b->day_start) {
        b->day_start = d;
        b->total.day = 0;
        for (int i = 0; i < b->c->n_key_budgets; i++) b->keys[i].day = 0;
    }
    if (m != b->month_start) {
        b->month_start = m;
        b->total.month = 0;
        for (int i = 0; i < b->c->n_key_budgets; i++) b->keys[i].month = 0;
    }
}

void rt_budget_seed(rt_budget *b, slm_ledger *l) {
    if (!b || !l) return;
    pthread_mutex_lock(&b->mu);
    slm_ledger_spent(l, b->day_start, NULL, &b->total.day, NULL);
    slm_ledger_spent(l, b->month_start, NULL, &b->total.month, NULL);
    for (int i = 0; i < b->c->n_key_budgets; i++) {
        slm_ledger_spent(l, b->day_start, b->c->key_budgets[i].key, &b->keys[i].day, NULL);
        slm_ledger_spent(l, b->month_start, b->c->key_budgets[i].key, &b->keys[i].month, NULL);
    }
    pthread_mutex_unlock(&b->mu);
}

static bool under(double spent, double limit) { return limit <= 0 || spent < limit; }

bool rt_budget_allows(rt_budget *b, const char *key_id, double now) {
    if (!b) return true;
    pthread_mutex_lock(&b->mu);
    roll(b, now);
    bool ok = under(b->total.day, b->c->daily_usd) && under(b->total.month, b->c->monthly_usd);
    int k = key_index(b, key_id);
    if (ok && k >= 0)
        ok = under(b->keys[k].day, b->c->key_budgets[k].daily_usd) &&
             under(b->keys[k].month, b->c->key_budgets[k].monthly_usd);
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void rt_budget_add(rt_budget *b, const char *key_id, double usd, double now) {
    if (!b || usd <= 0) return;
    pthread_mutex_lock(&b->mu);
    roll(b, now);
    b->total.day += usd;
    b->total.month += usd;
    int k = key_index(b, key_id);
    if (k >= 0) {
        b->keys[k].day += usd;
        b->keys[k].month += usd;
    }
    pthread_mutex_unlock(&b->mu);
}

void rt_budget_get(rt_budget *b, const char *key_id, double now, double *day, double *month) {
    *day = *month = 0;
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    roll(b, now);
    int k = key_index(b, key_id);
    *day = k >= 0 ? b->keys[k].day : b->total.day;
    *month = k >= 0 ? b->keys[k].month : b->total.month;
    pthread_mutex_unlock(&b->mu);
}
