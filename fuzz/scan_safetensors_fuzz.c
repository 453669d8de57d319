/* libFuzzer target for the safetensors scanner of `slm scan` and the
 * format dispatch: slm_scan_safetensors on the raw input (header length,
 * JSON, dtypes, shapes, offsets, layout) and slm_scan_memory, which picks a
 * scanner from the first bytes. Only valid GGUF may come out SAFE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slm_scan_report r = {0};
    slm_scan_safetensors(data, size, &r);
    if (r.verdict == SLM_SCAN_SAFE) abort(); /* safetensors is never loadable */
    if (r.n_findings > SLM_SCAN_MAX_FINDINGS || r.n_tensors < 0) abort();
    slm_scan_memory(data, size, &r);
    if (r.verdict == SLM_SCAN_SAFE && strcmp(r.format, "gguf") != 0) abort();
    return 0;
}
