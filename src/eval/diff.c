/* placeholder, replaced below */
#include "eval/eval_internal.h"
slm_status slm_eval_diff(const json_t *a, const json_t *b, double tol_pct, FILE *f, size_t *regressions,
                         slm_error *err) {
    (void)a; (void)b; (void)tol_pct; (void)f; *regressions = 0;
    return slm_error_set(err, SLM_ERR_UNSUPPORTED, "diff: not yet");
}
