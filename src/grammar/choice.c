/* Choice list: the output is exactly one of N labels (classification).
 * Written as a one-rule GBNF grammar of literal alternatives; labels must
 * be non-empty valid UTF-8. */
#include <string.h>

#include "grammar/grammar_internal.h"

slm_status slm_grammar_compile_choice(const char *const *labels, size_t n, slm_grammar **out, slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "choice: NULL out");
    *out = NULL;
    if (n == 0 || !labels) return slm_error_set(err, SLM_ERR_INVALID_ARG, "choice: no labels");
    gstr g = {0};
    gstr_puts(&g, "root ::= ");
    for (size_t i = 0; i < n; i++) {
        if (!labels[i] || !labels[i][0]) {
            gstr_free(&g);
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "choice: label %zu is empty", i);
        }
        gstr_puts(&g, i ? " | \"" : "\"");
        gstr_gbnf_lit(&g, labels[i], strlen(labels[i]));
        gstr_puts(&g, "\"");
    }
    gstr_puts(&g, "\n");
    if (g.oom) {
        gstr_free(&g);
        return slm_error_set(err, SLM_ERR_NOMEM, "choice: out of memory");
    }
    slm_status st = slm_grammar_compile_gbnf(g.p, g.len, "root", out, err);
    if (st) slm_error_prefix(err, "choice");
    gstr_free(&g);
    return st;
}
