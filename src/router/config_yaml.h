/* Typed access to a parsed libyaml document for the slm.yaml reader: every
 * getter checks the node's kind and reports "FILE:LINE: what" on mismatch.
 * A ycx carries the document, the file name for messages and the error. */
#ifndef SLM_ROUTER_CONFIG_YAML_H
#define SLM_ROUTER_CONFIG_YAML_H

#include <yaml.h>

#include "router/router_internal.h"

typedef struct ycx {
    yaml_document_t *doc;
    const char *path;
    slm_error *err;
} ycx;

int y_line(const yaml_node_t *n);
yaml_node_t *y_node(ycx *y, int index);
slm_status y_fail(ycx *y, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
slm_status y_want_map(ycx *y, const yaml_node_t *n, const char *what);
slm_status y_want_seq(ycx *y, const yaml_node_t *n, const char *what);
/* Key text of a mapping pair (NULL if the key is not a scalar). */
const char *y_key(ycx *y, const yaml_node_pair_t *p);
slm_status y_str(ycx *y, const yaml_node_t *n, const char *what, char **out);
slm_status y_num(ycx *y, const yaml_node_t *n, const char *what, double lo, double hi, double *out);
slm_status y_int(ycx *y, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi, int64_t *out);
slm_status y_bool(ycx *y, const yaml_node_t *n, const char *what, bool *out);
/* A scalar or a sequence of scalars -> a string array. */
slm_status y_strs(ycx *y, const yaml_node_t *n, const char *what, char ***out, int *count);

#define Y_FOREACH_PAIR(node, p) \
    for (yaml_node_pair_t *p = (node)->data.mapping.pairs.start; p < (node)->data.mapping.pairs.top; p++)
#define Y_FOREACH_ITEM(node, it) \
    for (yaml_node_item_t *it = (node)->data.sequence.items.start; it < (node)->data.sequence.items.top; it++)

/* Sections (config_tiers.c, config_sections.c). */
slm_status y_tiers(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_rules(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_router(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_tasks(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_sensitivity(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_confidence(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_reliability(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_budgets(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_ledger(ycx *y, const yaml_node_t *n, slm_route_config *c);
slm_status y_classifier(ycx *y, const yaml_node_t *n, slm_route_config *c);

#endif
