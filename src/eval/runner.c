/* The eval runner: every case on every target, results appended to a
 * JSONL file as they finish (so a killed run resumes: cases already
 * answered there are skipped; ones whose request failed are retried), a
 * progress callback with ETA. Local targets run one case at a time on one
 * engine; URL targets run `concurrency` requests in flight on worker
 * threads that pull case indices from a shared counter, and so does the
 * in-process router (`auto`). Rubric cases are graded by the judge as
 * they finish. Results live in a flat array indexed target * n_cases +
 * case. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

typedef struct runner {
    const slm_eval_suite *s;
    const slm_eval_run_opts *o;
    slm_eval_run *run;
    bool *done;
    pthread_mutex_t mu;
    FILE *log;
    size_t total, finished, failed, resumed;
    double t0;
    /* the URL or router target being run */
    const slm_eval_target *target;
    ev_router *router;          /* router target: answers through it */
    ev_local *judge_local;      /* local judge engine (NULL: URL judge or none) */
    pthread_mutex_t judge_mu;   /* one local judge request at a time */
    size_t ti, *todo, n_todo, next;
} runner;

void slm_eval_run_free(slm_eval_run *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_results; i++) slm_eval_result_clear(&r->results[i]);
    free(r->results);
    for (size_t i = 0; i < r->n_targets; i++) free(r->targets[i]);
    free(r->targets);
    free(r->suite_name);
    free(r->suite_path);
    free(r);
}

static void report_progress(runner *R) {
    if (!R->o->on_progress) return;
    slm_eval_progress p = {.done = R->finished + R->resumed, .total = R->total, .failed = R->failed};
    p.elapsed_s = slm_now_s() - R->t0;
    size_t left = R->total - p.done;
    p.eta_s = R->finished ? p.elapsed_s / (double)R->finished * (double)left : (left ? NAN : 0);
    R->o->on_progress(&p, R->o->user);
}

/* The last user message's text, cut to 4 KiB (reports show it). */
static char *last_user(const json_t *messages) {
    for (size_t i = json_array_size(messages); i-- > 0;) {
        const json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *text = json_string_value(json_object_get(m, "content"));
        if (role && text && !strcmp(role, "user")) {
            size_t n = strlen(text);
            if (n > 4096) { /* cut on a UTF-8 boundary */
                n = 4096;
                while (n && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
            }
            return ev_strndup(text, n);
        }
    }
    return NULL;
}

/* Rubric cases: the judge's grade decides along with the other checks. */
static void grade(runner *R, const slm_eval_case *c, slm_eval_result *r) {
    if (!R->o->judge) {
        r->success = false;
        free(r->why);
        r->why = ev_strdup("rubric: no judge to grade it (-j TARGET, or judge: in the suite)");
        return;
    }
    if (R->judge_local) pthread_mutex_lock(&R->judge_mu);
    ev_judge_grade(R->o->judge, R->judge_local, c, R->o, r);
    if (R->judge_local) pthread_mutex_unlock(&R->judge_mu);
    if (r->judge.set && r->judge.pass) return;
    bool first = r->success; /* keep an earlier check's reason */
    r->success = false;
    if (!first) return;
    char why[600];
    if (r->judge.score) snprintf(why, sizeof why, "judge: fail (score %d): %.500s", r->judge.score,
                                 r->judge_why ? r->judge_why : "");
    else snprintf(why, sizeof why, "judge: %.560s", r->judge_why ? r->judge_why : "no grade");
    free(r->why);
    r->why = ev_strdup(why);
}

/* Checks the answer and stores the result (thread-safe). */
static void finish_case(runner *R, size_t ti, size_t ci, ev_answer *a) {
    const slm_eval_case *c = &R->s->cases[ci];
    slm_eval_result r = {0};
    r.target = ev_strdup(R->run->targets[ti]);
    r.case_id = ev_strdup(c->id);
    r.tags = json_incref(c->tags);
    r.input = last_user(c->messages);
    slm_eval_output out = {.text = a->error ? "" : a->text.p, .len = a->error ? 0 : a->text.len,
                           .tool_calls = a->error ? NULL : a->tool_calls, .latency_s = a->latency_s, .cost = a->cost};
    slm_eval_verdict v;
    slm_error err = {0};
    slm_eval_check_case(c, &out, &v, &err);
    r.success = v.pass && !a->error;
    r.exact = v.exact, r.schema_valid = v.schema_valid, r.call_exec = v.call_exec;
    r.output = a->text.p ? ev_strdup(a->text.p) : NULL;
    r.tool_calls = a->tool_calls ? json_incref(a->tool_calls) : NULL;
    r.error = a->error ? ev_strdup(a->error) : NULL;
    r.why = a->error ? ev_strdup(a->error) : (v.pass ? NULL : ev_strdup(v.why));
    r.latency_s = a->latency_s, r.ttft_s = a->ttft_s, r.cost = a->cost;
    r.n_prompt = a->n_prompt, r.n_gen = a->n_gen;
    r.tier = a->tier[0] ? ev_strdup(a->tier) : NULL;
    r.escalated = a->tier[0] ? a->escalated : -1;
    r.has_conf = a->n_lp > 0;
    r.mean_logprob = a->n_lp ? a->sum_lp / (double)a->n_lp : NAN;
    r.min_logprob = a->n_lp ? a->min_lp : NAN;
    r.mean_entropy = a->n_ent ? a->sum_ent / (double)a->n_ent : NAN;
    if (c->rubric && !a->error) grade(R, c, &r);
    json_t *j = slm_eval_result_to_json(&r);
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    pthread_mutex_lock(&R->mu);
    slm_eval_result *slot = &R->run->results[ti * R->s->n_cases + ci];
    slm_eval_result_clear(slot);
    *slot = r;
    R->done[ti * R->s->n_cases + ci] = true;
    if (R->log && line) {
        fprintf(R->log, "%s\n", line);
        fflush(R->log);
    }
    R->finished++;
    R->failed += !r.success;
    report_progress(R);
    pthread_mutex_unlock(&R->mu);
    free(line);
}

static void *url_worker(void *arg) {
    runner *R = arg;
    for (;;) {
        pthread_mutex_lock(&R->mu);
        size_t k = R->next < R->n_todo ? R->next++ : SIZE_MAX;
        pthread_mutex_unlock(&R->mu);
        if (k == SIZE_MAX) return NULL;
        ev_answer a = {0};
        if (R->router) ev_router_answer(R->router, &R->s->cases[R->todo[k]], R->o, &a);
        else ev_http_answer(R->target, &R->s->cases[R->todo[k]], R->o, &a);
        finish_case(R, R->ti, R->todo[k], &a);
        ev_answer_clear(&a);
    }
}

static slm_status run_url(runner *R, const slm_eval_target *t, size_t ti, slm_error *err) {
    R->target = t, R->ti = ti, R->next = 0;
    int n = R->o->concurrency > 0 ? R->o->concurrency : 4;
    if ((size_t)n > R->n_todo) n = (int)R->n_todo;
    pthread_t *th = calloc((size_t)n + 1, sizeof *th);
    if (!th) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, url_worker, R)) break;
    if (started == 0 && n > 0) url_worker(R); /* no threads: run inline */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    return SLM_OK;
}

/* The router in process: URL-style workers, since remote tiers are slow
 * and the local engines serialise themselves. */
static slm_status run_router(runner *R, const slm_eval_target *t, size_t ti, slm_error *err) {
    slm_status st = ev_router_open(t, R->o, &R->router, err);
    if (st) return slm_error_prefix(err, "target %s", t->label);
    st = run_url(R, t, ti, err);
    ev_router_close(R->router);
    R->router = NULL;
    return st;
}

static slm_status run_local(runner *R, const slm_eval_target *t, size_t ti, slm_error *err) {
    ev_local *l;
    slm_status st = ev_local_open(t->location, R->o->n_threads, &l, err);
    if (st) return slm_error_prefix(err, "target %s", t->label);
    for (size_t k = 0; k < R->n_todo; k++) {
        ev_answer a = {0};
        ev_local_answer(l, &R->s->cases[R->todo[k]], R->o, &a);
        finish_case(R, ti, R->todo[k], &a);
        ev_answer_clear(&a);
    }
    ev_local_close(l);
    return SLM_OK;
}

static long find_target(const slm_eval_run *run, const char *label) {
    for (size_t i = 0; i < run->n_targets; i++)
        if (!strcmp(run->targets[i], label)) return (long)i;
    return -1;
}

static long find_case(const slm_eval_suite *s, const char *id) {
    for (size_t i = 0; i < s->n_cases; i++)
        if (!strcmp(s->cases[i].id, id)) return (long)i;
    return -1;
}

/* Loads answered results from the JSONL log; unparsable lines (a line cut
 * by a kill) and failed requests are ignored so they run again. */
static slm_status resume(runner *R, const char *path, slm_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? SLM_OK : slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        slm_eval_result r;
        if (!j || slm_eval_result_from_json(j, &r, NULL)) {
            json_decref(j);
            continue;
        }
        json_decref(j);
        long ti = find_target(R->run, r.target), ci = find_case(R->s, r.case_id);
        if (ti < 0 || ci < 0 || r.error) {
            slm_eval_result_clear(&r);
            continue;
        }
        size_t slot = (size_t)ti * R->s->n_cases + (size_t)ci;
        if (!R->done[slot]) R->resumed++;
        slm_eval_result_clear(&R->run->results[slot]);
        R->run->results[slot] = r;
        R->done[slot] = true;
    }
    free(line);
    fclose(f);
    return SLM_OK;
}

/* Opens the log for appending, first ending a cut-off last line. */
static slm_status open_log(runner *R, const char *path, slm_error *err) {
    R->log = fopen(path, "a+");
    if (!R->log) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    if (fseek(R->log, -1, SEEK_END) == 0 && fgetc(R->log) != '\n') {
        fseek(R->log, 0, SEEK_END);
        fputc('\n', R->log);
    }
    fseek(R->log, 0, SEEK_END);
    return SLM_OK;
}

static slm_status new_run(const slm_eval_suite *s, const slm_eval_target *t, size_t nt, slm_eval_run **out,
                          slm_error *err) {
    slm_eval_run *r = calloc(1, sizeof *r);
    size_t n;
    if (!r || __builtin_mul_overflow(nt, s->n_cases, &n)) {
        free(r);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    r->suite_name = ev_strdup(s->name);
    r->suite_path = ev_strdup(s->path);
    r->targets = slm_calloc_array(nt, sizeof *r->targets);
    r->results = slm_calloc_array(n ? n : 1, sizeof *r->results);
    r->n_results = n;
    bool ok = r->suite_name && r->suite_path && r->targets && r->results;
    for (size_t i = 0; ok && i < nt; i++) {
        ok = (r->targets[i] = ev_strdup(t[i].label)) != NULL;
        r->n_targets += ok;
        for (size_t j = 0; j < i && ok; j++)
            if (!strcmp(t[j].label, t[i].label)) {
                slm_eval_run_free(r);
                return slm_error_set(err, SLM_ERR_INVALID_ARG, "two targets are labelled '%s'", t[i].label);
            }
    }
    if (!ok) {
        slm_eval_run_free(r);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return SLM_OK;
}

static bool needs_judge(const slm_eval_suite *s) {
    for (size_t i = 0; i < s->n_cases; i++)
        if (s->cases[i].rubric) return true;
    return false;
}

slm_status slm_eval_run_suite(const slm_eval_suite *s, const slm_eval_target *targets, size_t n_targets,
                              const slm_eval_run_opts *o, slm_eval_run **out, slm_error *err) {
    *out = NULL;
    if (!s || !targets || !n_targets || !o) return slm_error_set(err, SLM_ERR_INVALID_ARG, "eval: nothing to run");
    runner R = {.s = s, .o = o, .t0 = slm_now_s()};
    slm_status st = new_run(s, targets, n_targets, &R.run, err);
    if (st) return st;
    R.done = slm_calloc_array(R.run->n_results ? R.run->n_results : 1, sizeof *R.done);
    R.todo = slm_calloc_array(s->n_cases, sizeof *R.todo);
    if (!R.done || !R.todo) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&R.mu, NULL);
    pthread_mutex_init(&R.judge_mu, NULL);
    if (!st && o->judge && o->judge->kind == SLM_TARGET_ROUTER)
        st = slm_error_set(err, SLM_ERR_INVALID_ARG, "judge: use a model, a tier or a URL, not the router");
    if (!st && o->judge && o->judge->kind == SLM_TARGET_LOCAL && needs_judge(s)) {
        st = ev_local_open(o->judge->location, o->n_threads, &R.judge_local, err);
        if (st) slm_error_prefix(err, "judge %s", o->judge->label);
    }
    if (!st && o->results_path) st = resume(&R, o->results_path, err);
    if (!st && o->results_path) st = open_log(&R, o->results_path, err);
    R.total = R.run->n_results;
    R.run->n_resumed = R.resumed;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    report_progress(&R);
    for (size_t ti = 0; !st && ti < n_targets; ti++) {
        R.n_todo = 0;
        for (size_t ci = 0; ci < s->n_cases; ci++)
            if (!R.done[ti * s->n_cases + ci]) R.todo[R.n_todo++] = ci;
        if (!R.n_todo) continue;
        st = targets[ti].kind == SLM_TARGET_URL      ? run_url(&R, &targets[ti], ti, err)
             : targets[ti].kind == SLM_TARGET_ROUTER ? run_router(&R, &targets[ti], ti, err)
                                                     : run_local(&R, &targets[ti], ti, err);
    }
    R.run->wall_s = slm_now_s() - R.t0;
    if (R.log) fclose(R.log);
    ev_local_close(R.judge_local);
    pthread_mutex_destroy(&R.judge_mu);
    pthread_mutex_destroy(&R.mu);
    free(R.done);
    free(R.todo);
    if (st) {
        slm_eval_run_free(R.run);
        return st;
    }
    *out = R.run;
    return SLM_OK;
}
