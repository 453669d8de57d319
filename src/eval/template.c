/* {{ var }} templating for suite prompts (the part of Nunjucks that
 * promptfoo's deterministic configs use): names are looked up in the
 * case's vars; strings are inserted as-is, other values as compact JSON.
 * Filters, expressions and unknown names are errors, never blanks. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static bool valid_name(const char *s, size_t n) {
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return false;
    return true;
}

/* vars.a.b lookup for dotted names. */
static const json_t *lookup(const json_t *vars, const char *name, size_t n) {
    char key[128];
    const json_t *cur = vars;
    size_t i = 0;
    while (i < n && cur) {
        size_t j = i;
        while (j < n && name[j] != '.') j++;
        if (j - i >= sizeof key) return NULL;
        memcpy(key, name + i, j - i);
        key[j - i] = 0;
        cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        i = j + 1;
    }
    return cur;
}

slm_status ev_template(const char *tpl, const json_t *vars, char **out, slm_error *err) {
    ev_buf b = {0};
    ev_buf_put(&b, "", 0);
    const char *p = tpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) break;
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            ev_buf_free(&b);
            return slm_error_set(err, SLM_ERR_FORMAT, "template: '{{' without '}}'");
        }
        ev_buf_put(&b, p, (size_t)(open - p));
        const char *s = open + 2, *e = close;
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        if (!valid_name(s, (size_t)(e - s))) {
            ev_buf_free(&b);
            return slm_error_set(err, SLM_ERR_UNSUPPORTED,
                                 "template: only {{ name }} is supported, not '{{%.*s}}'", (int)(close - open - 2),
                                 open + 2);
        }
        const json_t *v = lookup(vars, s, (size_t)(e - s));
        if (!v) {
            ev_buf_free(&b);
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "template: unknown variable '%.*s'", (int)(e - s), s);
        }
        if (json_is_string(v)) ev_buf_put(&b, json_string_value(v), json_string_length(v));
        else {
            char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (txt) ev_buf_puts(&b, txt);
            else b.ok = false;
            free(txt);
        }
        p = close + 2;
    }
    ev_buf_puts(&b, p);
    if (!b.ok) {
        ev_buf_free(&b);
        return slm_error_set(err, SLM_ERR_NOMEM, "template: out of memory");
    }
    *out = b.p;
    return SLM_OK;
}

slm_status ev_template_json(const json_t *in, const json_t *vars, json_t **out, slm_error *err) {
    if (json_is_string(in)) {
        char *s;
        slm_status st = ev_template(json_string_value(in), vars, &s, err);
        if (st) return st;
        *out = json_string(s);
        free(s);
        return *out ? SLM_OK : slm_error_set(err, SLM_ERR_FORMAT, "template: result is not UTF-8");
    }
    if (json_is_array(in) || json_is_object(in)) {
        json_t *copy = json_is_array(in) ? json_array() : json_object();
        size_t i;
        json_t *v;
        const char *k;
        if (json_is_array(in)) {
            json_array_foreach(in, i, v) {
                json_t *nv;
                slm_status st = ev_template_json(v, vars, &nv, err);
                if (st) return json_decref(copy), st;
                json_array_append_new(copy, nv);
            }
        } else {
            json_object_foreach((json_t *)in, k, v) {
                json_t *nv;
                slm_status st = ev_template_json(v, vars, &nv, err);
                if (st) return json_decref(copy), st;
                json_object_set_new(copy, k, nv);
            }
        }
        *out = copy;
        return SLM_OK;
    }
    *out = json_deep_copy(in);
    return SLM_OK;
}
