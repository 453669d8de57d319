/* libFuzzer target for the pickle and zip scanners of `slm scan`: the input
 * goes through slm_scan_pickle (opcode walk, stack and memo model) and
 * slm_scan_zip (central directory, local headers, inflate of *.pkl
 * members). Neither may crash, read outside the input, or call a broken
 * stream SAFE. */
#include <stdint.h>
#include <stdlib.h>

#include "slm/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slm_scan_report r = {0};
    slm_scan_pickle(data, size, "fuzz", &r);
    if (r.verdict == SLM_SCAN_SAFE && r.n_findings == 0 && size == 0) abort(); /* empty is broken */
    if (r.n_findings > SLM_SCAN_MAX_FINDINGS || r.n_imports < 0) abort();
    slm_scan_report z = {0};
    slm_scan_zip(data, size, &z);
    if (z.verdict == SLM_SCAN_SAFE) abort(); /* a zip is never loadable */
    return 0;
}
