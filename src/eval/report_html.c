/* placeholder, replaced below */
#include "eval/eval_internal.h"
slm_status slm_eval_report_html(const json_t *report, FILE *f, slm_error *err) {
    (void)report; (void)f;
    return slm_error_set(err, SLM_ERR_UNSUPPORTED, "html: not yet");
}
