/* YAML and JSON documents for suites: libyaml's document tree is turned
 * into jansson values, and the start line of every mapping and sequence is
 * kept in a side table (ev_doc.nodes/lines) so that suite errors can name
 * file:line. Aliases are expanded with a depth and a node budget, so an
 * "alias bomb" is an error rather than an out-of-memory. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "eval/eval_internal.h"

#define MAX_DEPTH 64
#define MAX_NODES 2000000

bool ev_doc_note(ev_doc *d, const json_t *node, int line) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        const json_t **nodes = realloc(d->nodes, cap * sizeof *nodes);
        if (!nodes) return false;
        d->nodes = nodes;
        int *lines = realloc(d->lines, cap * sizeof *lines);
        if (!lines) return false;
        d->lines = lines;
        d->cap = cap;
    }
    d->nodes[d->n] = node;
    d->lines[d->n++] = line;
    return true;
}

int ev_doc_line(const ev_doc *d, const json_t *node) {
    for (size_t i = 0; node && i < d->n; i++)
        if (d->nodes[i] == node) return d->lines[i];
    return 0;
}

void ev_doc_free(ev_doc *d) {
    json_decref(d->root);
    free(d->nodes);
    free(d->lines);
    memset(d, 0, sizeof *d);
}

typedef struct conv {
    yaml_document_t *doc;
    ev_doc *d;
    size_t budget;
    slm_error *err;
    slm_status st;
} conv;

static bool is_plain(const yaml_node_t *n) {
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!n->tag || strcmp((const char *)n->tag, YAML_STR_TAG) == 0);
}

/* YAML 1.2 core schema for plain scalars. */
static json_t *plain_scalar(const char *s, size_t len) {
    if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return json_false();
    char *end;
    errno = 0;
    if (strspn(s, "+-0123456789") == len && len < 19) {
        long long v = strtoll(s, &end, 10);
        if (!errno && *end == 0) return json_integer(v);
    }
    if (strspn(s, "+-0123456789.eE") == len && strpbrk(s, "0123456789")) {
        double v = strtod(s, &end);
        if (!errno && *end == 0 && isfinite(v)) return json_real(v);
    }
    return json_stringn(s, len);
}

static json_t *conv_node(conv *c, yaml_node_t *n, int depth);

static json_t *conv_fail(conv *c, yaml_node_t *n, const char *what) {
    if (c->st == SLM_OK)
        c->st = slm_error_set(c->err, SLM_ERR_FORMAT, "%s:%lu: %s", c->d->name,
                              n ? (unsigned long)n->start_mark.line + 1 : 0ul, what);
    return NULL;
}

static json_t *conv_mapping(conv *c, yaml_node_t *n, int depth) {
    json_t *o = json_object();
    if (!o || !ev_doc_note(c->d, o, (int)n->start_mark.line + 1)) {
        json_decref(o);
        return conv_fail(c, n, "out of memory");
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            json_decref(o);
            return conv_fail(c, k ? k : n, "mapping keys must be plain strings");
        }
        const char *key = (const char *)k->data.scalar.value;
        if (strlen(key) != k->data.scalar.length) {
            json_decref(o);
            return conv_fail(c, k, "NUL byte in a key");
        }
        if (json_object_get(o, key)) {
            json_decref(o);
            char msg[200];
            snprintf(msg, sizeof msg, "duplicate key '%.120s'", key);
            return conv_fail(c, k, msg);
        }
        json_t *jv = conv_node(c, v, depth + 1);
        if (!jv || json_object_set_new(o, key, jv)) {
            json_decref(o);
            return conv_fail(c, v, "bad value");
        }
    }
    return o;
}

static json_t *conv_sequence(conv *c, yaml_node_t *n, int depth) {
    json_t *a = json_array();
    if (!a || !ev_doc_note(c->d, a, (int)n->start_mark.line + 1)) {
        json_decref(a);
        return conv_fail(c, n, "out of memory");
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        json_t *jv = conv_node(c, yaml_document_get_node(c->doc, *it), depth + 1);
        if (!jv || json_array_append_new(a, jv)) {
            json_decref(a);
            return conv_fail(c, n, "bad item");
        }
    }
    return a;
}

static json_t *conv_node(conv *c, yaml_node_t *n, int depth) {
    if (!n) return conv_fail(c, NULL, "dangling node");
    if (depth > MAX_DEPTH) return conv_fail(c, n, "nesting deeper than 64 levels");
    if (++c->budget > MAX_NODES) return conv_fail(c, n, "document expands to too many nodes (alias bomb?)");
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;
        json_t *v = is_plain(n) ? plain_scalar(s, len) : json_stringn(s, len);
        return v ? v : conv_fail(c, n, "scalar is not valid UTF-8");
    }
    case YAML_MAPPING_NODE: return conv_mapping(c, n, depth);
    case YAML_SEQUENCE_NODE: return conv_sequence(c, n, depth);
    default: return conv_fail(c, n, "empty node");
    }
}

slm_status ev_yaml_parse(const char *text, size_t len, const char *name, ev_doc *d, slm_error *err) {
    memset(d, 0, sizeof *d);
    d->name = name;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return slm_error_set(err, SLM_ERR_NOMEM, "%s: yaml parser", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&p, &doc)) {
        slm_status st = slm_error_set(err, SLM_ERR_FORMAT, "%s:%lu:%lu: %s", name,
                                      (unsigned long)p.problem_mark.line + 1,
                                      (unsigned long)p.problem_mark.column + 1,
                                      p.problem ? p.problem : "YAML syntax error");
        yaml_parser_delete(&p);
        return st;
    }
    conv c = {.doc = &doc, .d = d, .err = err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) c.st = slm_error_set(err, SLM_ERR_FORMAT, "%s: empty document", name);
    else d->root = conv_node(&c, root, 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    if (c.st != SLM_OK) {
        ev_doc_free(d);
        return c.st;
    }
    return SLM_OK;
}

slm_status ev_json_parse(const char *text, size_t len, const char *name, int line, ev_doc *d, slm_error *err) {
    memset(d, 0, sizeof *d);
    d->name = name;
    json_error_t je;
    d->root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!d->root)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d:%d: %s", name, line + je.line - 1, je.column, je.text);
    if (!ev_doc_note(d, d->root, line)) {
        ev_doc_free(d);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    return SLM_OK;
}
