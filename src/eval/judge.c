/* The judge: a grader model for rubric cases. It gets the rubric, the
 * case's input and the answer, and must reply with one JSON object
 * {"pass": bool, "score": 1-5, "reason": "..."}: URL judges are sent the
 * schema as response_format (json_schema, strict), local judges decode
 * under the same schema as a grammar, and the reply is parsed strictly
 * (any other shape is a grading error, never a guess). Also human grades
 * from suites and Cohen's kappa for `slm eval judge-check`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

#define JUDGE_MAX_TOKENS 256 /* a grade with a 120-character reason fits */

static const char JUDGE_SYSTEM[] =
    "You are a strict grader. Judge whether the answer satisfies the rubric for the given input. "
    "Reply with only a JSON object: {\"pass\": true or false, \"score\": an integer from 1 (useless) to 5 "
    "(perfect), \"reason\": one short sentence}.";

json_t *slm_eval_judge_messages(const char *rubric, const char *input, const char *output) {
    ev_buf b = {0};
    ev_buf_printf(&b, "Rubric:\n%s\n\nInput:\n%s\n\nAnswer to grade:\n%s\n", rubric ? rubric : "",
                  input ? input : "", output ? output : "");
    json_t *m = b.ok ? json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", JUDGE_SYSTEM, "role", "user",
                                 "content", b.p)
                     : NULL;
    ev_buf_free(&b);
    return m;
}

json_t *slm_eval_grade_schema(void) {
    return json_pack("{s:s,s:{s:{s:s},s:{s:s,s:i,s:i},s:{s:s,s:i}},s:[s,s,s],s:b}", "type", "object", "properties",
                     "pass", "type", "boolean", "score", "type", "integer", "minimum", 1, "maximum", 5, "reason",
                     "type", "string", "maxLength", 120, "required", "pass", "score", "reason",
                     "additionalProperties", 0);
}

/* JSON Schema's integers: 4 and 4.0 alike (a schema-constrained decoder may
 * write the zero fraction), nothing else. */
static bool score_ok(const json_t *v) {
    double x = json_number_value(v);
    return json_is_number(v) && x >= 1 && x <= 5 && x == (double)(int)x;
}

slm_status slm_eval_grade_parse(const char *text, size_t len, slm_eval_grade *g, char *reason, size_t cap,
                                slm_error *err) {
    memset(g, 0, sizeof *g);
    if (reason && cap) reason[0] = 0;
    json_error_t je;
    json_t *o = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    slm_status st = SLM_OK;
    const json_t *pass = json_object_get(o, "pass"), *score = json_object_get(o, "score"),
                 *why = json_object_get(o, "reason");
    size_t known = (pass != NULL) + (score != NULL) + (why != NULL);
    if (!json_is_object(o)) st = slm_error_set(err, SLM_ERR_FORMAT, "grade is not a JSON object: %.80s", text ? text : "");
    else if (!json_is_boolean(pass)) st = slm_error_set(err, SLM_ERR_FORMAT, "grade: pass must be true or false");
    else if (!score_ok(score)) st = slm_error_set(err, SLM_ERR_FORMAT, "grade: score must be an integer from 1 to 5");
    else if (why && !json_is_string(why)) st = slm_error_set(err, SLM_ERR_FORMAT, "grade: reason must be a string");
    else if (json_object_size(o) != known)
        st = slm_error_set(err, SLM_ERR_FORMAT, "grade: only pass, score and reason are allowed");
    if (!st) {
        g->set = true;
        g->pass = json_is_true(pass);
        g->score = (int8_t)json_number_value(score);
        if (why && reason && cap) snprintf(reason, cap, "%s", json_string_value(why));
    }
    json_decref(o);
    return st;
}

slm_status slm_eval_grade_from_json(const json_t *v, slm_eval_grade *g, slm_error *err) {
    memset(g, 0, sizeof *g);
    const char *s = json_string_value(v);
    if (json_is_boolean(v) || (s && (!strcmp(s, "pass") || !strcmp(s, "fail")))) {
        g->set = true;
        g->pass = json_is_true(v) || (s && !strcmp(s, "pass"));
        return SLM_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 5) {
        g->set = true;
        g->score = (int8_t)json_integer_value(v);
        g->pass = g->score >= 3;
        return SLM_OK;
    }
    if (json_is_object(v)) {
        const json_t *p = json_object_get(v, "pass"), *sc = json_object_get(v, "score");
        bool score_ok = !sc || (json_is_integer(sc) && json_integer_value(sc) >= 1 && json_integer_value(sc) <= 5);
        if (json_is_boolean(p) && score_ok) {
            g->set = true;
            g->pass = json_is_true(p);
            g->score = sc ? (int8_t)json_integer_value(sc) : 0;
            return SLM_OK;
        }
    }
    return slm_error_set(err, SLM_ERR_FORMAT, "expected pass, fail, true, false, 1-5 or {pass, score}");
}

slm_status slm_eval_kappa(const int *a, const int *b, size_t n, int k, double *kappa, double *agreement,
                          size_t *confusion, slm_error *err) {
    if (n == 0 || k < 1 || k > 64) return slm_error_set(err, SLM_ERR_INVALID_ARG, "kappa: no ratings");
    size_t *cm = confusion ? confusion : slm_calloc_array((size_t)k * (size_t)k, sizeof *cm);
    if (!cm) return slm_error_set(err, SLM_ERR_NOMEM, "kappa: out of memory");
    memset(cm, 0, (size_t)k * (size_t)k * sizeof *cm);
    slm_status st = SLM_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (a[i] < 0 || a[i] >= k || b[i] < 0 || b[i] >= k)
            st = slm_error_set(err, SLM_ERR_INVALID_ARG, "kappa: rating %zu out of range", i + 1);
        else cm[(size_t)a[i] * (size_t)k + (size_t)b[i]]++;
    }
    if (!st) {
        double nn = (double)n, po = 0, pe = 0;
        for (int i = 0; i < k; i++) {
            double row = 0, col = 0;
            for (int j = 0; j < k; j++) {
                row += (double)cm[(size_t)i * (size_t)k + (size_t)j];
                col += (double)cm[(size_t)j * (size_t)k + (size_t)i];
            }
            po += (double)cm[(size_t)i * (size_t)k + (size_t)i] / nn;
            pe += row / nn * (col / nn);
        }
        *agreement = po;
        /* pe == 1: both raters used one and the same category throughout */
        *kappa = pe >= 1.0 - 1e-12 ? (po >= 1.0 - 1e-12 ? 1.0 : 0.0) : (po - pe) / (1.0 - pe);
    }
    if (!confusion) free(cm);
    return st;
}

/* A case asking the judge for a grade of r's output. */
static slm_status judge_case(const slm_eval_case *c, const slm_eval_result *r, slm_eval_case *jc) {
    memset(jc, 0, sizeof *jc);
    jc->id = c->id;
    jc->messages = slm_eval_judge_messages(c->rubric, r->input, r->output);
    json_t *schema = slm_eval_grade_schema();
    jc->response_format = schema ? json_pack("{s:s,s:{s:s,s:b,s:o}}", "type", "json_schema", "json_schema", "name",
                                             "grade", "strict", 1, "schema", schema)
                                 : NULL;
    jc->max_tokens = JUDGE_MAX_TOKENS;
    return jc->messages && jc->response_format ? SLM_OK : SLM_ERR_NOMEM;
}

void ev_judge_grade(const slm_eval_target *judge, ev_local *local_judge, const slm_eval_case *c,
                    const slm_eval_run_opts *o, slm_eval_result *r) {
    slm_eval_case jc;
    ev_answer a = {0};
    slm_eval_run_opts jo = *o;
    jo.temperature = 0; /* grading is greedy: the same answer gets the same grade */
    if (judge_case(c, r, &jc)) ev_answer_fail(&a, "out of memory");
    else if (judge->kind == SLM_TARGET_URL) ev_http_answer(judge, &jc, &jo, &a);
    else if (local_judge) ev_local_answer(local_judge, &jc, &jo, &a);
    else ev_answer_fail(&a, "judge %s cannot be run", judge->label);
    char why[320] = "";
    slm_error err = {0};
    free(r->judge_why);
    r->judge_why = NULL;
    memset(&r->judge, 0, sizeof r->judge);
    if (a.error) snprintf(why, sizeof why, "judge request failed: %.280s", a.error);
    else if (slm_eval_grade_parse(a.text.p, a.text.len, &r->judge, why, sizeof why, &err))
        snprintf(why, sizeof why, "judge answer rejected: %.150s (answer: %.100s)", err.msg, a.text.p ? a.text.p : "");
    r->judge_why = why[0] ? ev_strdup(why) : NULL;
    json_decref(jc.messages);
    json_decref(jc.response_format);
    ev_answer_clear(&a);
}
