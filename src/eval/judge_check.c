/* `slm eval judge-check`: how far a judge model can be trusted. The judge
 * grades the outputs people already graded in the suite; agreement and
 * Cohen's kappa on pass/fail (and on the 1-5 score when both gave one)
 * with confusion matrices say whether its grades can stand in for human
 * ones (kappa below the bar: do not trust it). Cases are graded one after
 * another (a judge-check suite is small). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static json_t *grade_json(const slm_eval_grade *g) {
    if (!g->set) return json_null();
    return json_pack("{s:b,s:o}", "pass", g->pass, "score", g->score ? json_integer(g->score) : json_null());
}

static json_t *matrix_json(const size_t *cm, int k) {
    json_t *m = json_array();
    for (int i = 0; i < k; i++) {
        json_t *row = json_array();
        for (int j = 0; j < k; j++) json_array_append_new(row, json_integer((json_int_t)cm[i * k + j]));
        json_array_append_new(m, row);
    }
    return m;
}

/* {n, agreement, kappa, confusion} over ratings a, b in [0, k). */
static json_t *agreement_json(const int *a, const int *b, size_t n, int k, double *kappa_out, slm_error *err) {
    size_t cm[25];
    double kappa, agree;
    if (slm_eval_kappa(a, b, n, k, &kappa, &agree, cm, err)) return NULL;
    if (kappa_out) *kappa_out = kappa;
    return json_pack("{s:I,s:o,s:o,s:o}", "n", (json_int_t)n, "agreement", ev_json_num(agree), "kappa",
                     ev_json_num(kappa), "confusion", matrix_json(cm, k));
}

slm_status slm_eval_judge_check(const slm_eval_suite *s, const slm_eval_target *judge, const slm_eval_run_opts *o,
                                double min_kappa, json_t **out, slm_error *err) {
    *out = NULL;
    if (judge->kind == SLM_TARGET_ROUTER)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "judge: use a model, a tier or a URL, not the router");
    ev_local *local = NULL;
    if (judge->kind == SLM_TARGET_LOCAL && ev_local_open(judge->location, o->n_threads, &local, err))
        return slm_error_prefix(err, "judge %s", judge->label);
    size_t n = s->n_cases, m = 0, ms = 0, failed = 0, eligible = 0;
    int *hp = slm_malloc_array(n, sizeof *hp), *jp = slm_malloc_array(n, sizeof *jp);
    int *hs = slm_malloc_array(n, sizeof *hs), *js = slm_malloc_array(n, sizeof *js);
    json_t *cases = json_array(), *doc = json_object();
    slm_status st = hp && jp && hs && js && cases && doc ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        const slm_eval_case *c = &s->cases[i];
        if (!c->rubric || !c->human.set || !c->graded_output) continue;
        eligible++;
        slm_eval_result r = {0};
        const json_t *msgs = c->messages;
        for (size_t k = json_array_size(msgs); k-- > 0 && !r.input;) {
            const json_t *mm = json_array_get(msgs, k);
            const char *role = json_string_value(json_object_get(mm, "role"));
            if (role && !strcmp(role, "user")) r.input = ev_strdup(json_string_value(json_object_get(mm, "content")));
        }
        r.output = ev_strdup(c->graded_output);
        ev_judge_grade(judge, local, c, o, &r);
        json_array_append_new(cases, json_pack("{s:s,s:o,s:o,s:s?}", "case", c->id, "human", grade_json(&c->human),
                                               "judge", grade_json(&r.judge), "reason", r.judge_why));
        if (!r.judge.set) failed++;
        else {
            hp[m] = c->human.pass ? 0 : 1, jp[m] = r.judge.pass ? 0 : 1;
            m++;
            if (c->human.score && r.judge.score) hs[ms] = c->human.score - 1, js[ms] = r.judge.score - 1, ms++;
        }
        slm_eval_result_clear(&r);
    }
    double kappa = NAN;
    if (!st) {
        json_object_set_new(doc, "judge", json_string(judge->label));
        json_object_set_new(doc, "n_cases", json_integer((json_int_t)eligible));
        json_object_set_new(doc, "n_graded", json_integer((json_int_t)m));
        json_object_set_new(doc, "n_failed", json_integer((json_int_t)failed));
        json_object_set_new(doc, "min_kappa", ev_json_num(min_kappa));
        if (!eligible)
            st = slm_error_set(err, SLM_ERR_INVALID_ARG,
                               "%s: no case has a rubric, a human_grade and the graded output", s->path);
    }
    if (!st && m) {
        json_t *pj = agreement_json(hp, jp, m, 2, &kappa, err);
        json_t *sj = ms ? agreement_json(hs, js, ms, 5, NULL, err) : NULL;
        if (!pj || (ms && !sj)) st = err->code ? err->code : SLM_ERR_NOMEM;
        json_object_set_new(doc, "pass", pj ? pj : json_null());
        json_object_set_new(doc, "score", sj ? sj : json_null());
    }
    if (!st) {
        json_object_set_new(doc, "trusted", json_boolean(m && kappa >= min_kappa));
        json_object_set_new(doc, "cases", json_incref(cases));
        *out = json_incref(doc);
    }
    json_decref(doc);
    json_decref(cases);
    free(hp), free(jp), free(hs), free(js);
    ev_local_close(local);
    return st;
}

static void matrix_text(FILE *f, const json_t *cm, const char *const *names, int k) {
    fprintf(f, "  %14s", "human \\ judge");
    for (int j = 0; j < k; j++) fprintf(f, " %6s", names[j]);
    fprintf(f, "\n");
    for (int i = 0; i < k; i++) {
        fprintf(f, "  %14s", names[i]);
        for (int j = 0; j < k; j++)
            fprintf(f, " %6lld", (long long)json_integer_value(json_array_get(json_array_get(cm, (size_t)i), (size_t)j)));
        fprintf(f, "\n");
    }
}

void slm_eval_judge_check_text(const json_t *r, FILE *f) {
    static const char *const PF[] = {"pass", "fail"}, *const SC[] = {"1", "2", "3", "4", "5"};
    fprintf(f, "judge %s: %lld cases with human grades, %lld graded, %lld not graded (judge errors)\n",
            json_string_value(json_object_get(r, "judge")), (long long)json_integer_value(json_object_get(r, "n_cases")),
            (long long)json_integer_value(json_object_get(r, "n_graded")),
            (long long)json_integer_value(json_object_get(r, "n_failed")));
    const json_t *p = json_object_get(r, "pass"), *s = json_object_get(r, "score");
    if (json_is_object(p)) {
        fprintf(f, "pass/fail: agreement %.1f%%, Cohen's kappa %.3f\n", ev_num(p, "agreement") * 100, ev_num(p, "kappa"));
        matrix_text(f, json_object_get(p, "confusion"), PF, 2);
    }
    if (json_is_object(s)) {
        fprintf(f, "score 1-5 (%lld cases): agreement %.1f%%, Cohen's kappa %.3f\n",
                (long long)json_integer_value(json_object_get(s, "n")), ev_num(s, "agreement") * 100, ev_num(s, "kappa"));
        matrix_text(f, json_object_get(s, "confusion"), SC, 5);
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "cases"), i, c) {
        const json_t *h = json_object_get(c, "human"), *j = json_object_get(c, "judge");
        if (json_is_object(j) && json_equal(json_object_get(h, "pass"), json_object_get(j, "pass"))) continue;
        const char *why = json_string_value(json_object_get(c, "reason"));
        fprintf(f, "  disagree %s: human %s, judge %s%s%.200s\n", json_string_value(json_object_get(c, "case")),
                json_is_true(json_object_get(h, "pass")) ? "pass" : "fail",
                !json_is_object(j) ? "no grade" : json_is_true(json_object_get(j, "pass")) ? "pass" : "fail",
                why ? ": " : "", why ? why : "");
    }
}
