/* Internal pieces shared by the router's files: string and regex helpers,
 * the built-in defaults, the budget tracker and the prompt-text walk.
 * Public API and data structures: include/slm/router.h. */
#ifndef SLM_ROUTER_INTERNAL_H
#define SLM_ROUTER_INTERNAL_H

#include <pthread.h>

#include "slm/router.h"

/* strdup that tolerates NULL (returns NULL) */
char *rt_strdup(const char *s);
/* snprintf for messages where truncation is acceptable. */
void rt_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Compiles a case-insensitive UTF-8 PCRE2 pattern; NULL + why on error. */
void *rt_regex_compile(const char *pattern, bool caseless, char *why, size_t cap);
bool rt_regex_match(const void *code, const char *text, size_t len);
void rt_regex_free(void *code);

/* Fills the defaults every config starts from (before slm.yaml is read). */
void rt_config_defaults(slm_route_config *c);
/* Adds the built-in rules/task patterns when the file set none. */
slm_status rt_config_finish(slm_route_config *c, slm_error *err);

/* Calls fn on each piece of user-visible text in a chat request (message
 * contents, text parts, legacy "prompt"), the last user message last. */
typedef void (*rt_text_fn)(void *ctx, const char *role, const char *text, size_t len);
void rt_request_texts(const json_t *body, rt_text_fn fn, void *ctx);
/* Total characters of all message text. */
size_t rt_request_chars(const json_t *body);

/* Cost in USD of tokens at a model's prices. */
double rt_cost(const slm_route_model *m, int64_t tin, int64_t tout);

/* Budget tracker: remote spend per day/month, total and per key. */
typedef struct rt_budget rt_budget;
rt_budget *rt_budget_new(const slm_route_config *c);
void rt_budget_free(rt_budget *b);
/* Seeds the counters from the ledger (spend so far today/this month). */
void rt_budget_seed(rt_budget *b, slm_ledger *l);
bool rt_budget_allows(rt_budget *b, const char *key_id, double now_unix);
void rt_budget_add(rt_budget *b, const char *key_id, double usd, double now_unix);
void rt_budget_get(rt_budget *b, const char *key_id, double now_unix, double *day, double *month);
/* Start of the local day / month containing t (unix seconds). */
double rt_day_start(double t);
double rt_month_start(double t);

/* Decision with an extra predicate: remote tiers over budget. */
slm_status rt_decide(const slm_route_config *c, const slm_route_request *req, bool budget_ok,
                     slm_route_decision *d, slm_error *err);

/* The ledger's SQLite connection (usage.c). */
struct sqlite3;
struct sqlite3 *rt_ledger_db(slm_ledger *l);

/* Finds the top-level member key of the JSON object in buf (json_scan.c):
 * false when buf is not one object; *val NULL when the key is absent. */
bool rt_json_member(const char *buf, size_t len, const char *key, const char **val, size_t *vlen);

/* Once per process: curl_global_init (upstream.c). */
void rt_curl_init(void);

#endif
