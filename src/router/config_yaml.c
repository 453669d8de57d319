/* Typed getters over a libyaml document (see config_yaml.h). Numbers are
 * parsed with strtod/strtoll and must consume the whole scalar, so "30s" is
 * an error naming the line rather than a silent 30. */
#include "router/config_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int y_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

yaml_node_t *y_node(ycx *y, int index) { return yaml_document_get_node(y->doc, index); }

slm_status y_fail(ycx *y, const yaml_node_t *n, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return slm_error_set(y->err, SLM_ERR_FORMAT, "%s:%d: %s", y->path, y_line(n), msg);
}

slm_status y_want_map(ycx *y, const yaml_node_t *n, const char *what) {
    if (n && n->type == YAML_MAPPING_NODE) return SLM_OK;
    return y_fail(y, n, "%s must be a mapping (key: value)", what);
}

slm_status y_want_seq(ycx *y, const yaml_node_t *n, const char *what) {
    if (n && n->type == YAML_SEQUENCE_NODE) return SLM_OK;
    return y_fail(y, n, "%s must be a list", what);
}

const char *y_key(ycx *y, const yaml_node_pair_t *p) {
    yaml_node_t *k = y_node(y, p->key);
    return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

slm_status y_str(ycx *y, const yaml_node_t *n, const char *what, char **out) {
    const char *s = scalar(n);
    if (!s) return y_fail(y, n, "%s must be a string", what);
    if (strlen(s) != n->data.scalar.length) return y_fail(y, n, "%s contains a NUL byte", what);
    char *d = strdup(s);
    if (!d) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    free(*out);
    *out = d;
    return SLM_OK;
}

slm_status y_num(ycx *y, const yaml_node_t *n, const char *what, double lo, double hi, double *out) {
    const char *s = scalar(n);
    if (!s || !*s) return y_fail(y, n, "%s must be a number", what);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v)) return y_fail(y, n, "%s: '%s' is not a number", what, s);
    if (v < lo || v > hi) return y_fail(y, n, "%s: %g is out of range [%g, %g]", what, v, lo, hi);
    *out = v;
    return SLM_OK;
}

slm_status y_int(ycx *y, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi, int64_t *out) {
    const char *s = scalar(n);
    if (!s || !*s) return y_fail(y, n, "%s must be an integer", what);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return y_fail(y, n, "%s: '%s' is not an integer", what, s);
    if (v < lo || v > hi) return y_fail(y, n, "%s: %lld is out of range [%lld, %lld]", what, v, (long long)lo,
                                        (long long)hi);
    *out = v;
    return SLM_OK;
}

slm_status y_bool(ycx *y, const yaml_node_t *n, const char *what, bool *out) {
    const char *s = scalar(n);
    if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))) {
        *out = true;
        return SLM_OK;
    }
    if (s && (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))) {
        *out = false;
        return SLM_OK;
    }
    return y_fail(y, n, "%s must be true or false", what);
}

slm_status y_strs(ycx *y, const yaml_node_t *n, const char *what, char ***out, int *count) {
    int cap = n && n->type == YAML_SEQUENCE_NODE ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
                                                 : 1;
    char **v = calloc((size_t)cap + 1, sizeof *v);
    if (!v) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    *out = v;
    *count = 0;
    if (n && n->type == YAML_SEQUENCE_NODE) {
        Y_FOREACH_ITEM(n, it) {
            slm_status st = y_str(y, y_node(y, *it), what, &v[*count]);
            if (st != SLM_OK) return st;
            (*count)++;
        }
        return SLM_OK;
    }
    slm_status st = y_str(y, n, what, &v[0]);
    if (st == SLM_OK) *count = 1;
    return st;
}
