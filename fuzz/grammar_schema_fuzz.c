/* libFuzzer target for the JSON Schema compiler (and the regex translator
 * it calls for `pattern`). Input: a schema, optionally followed by a NUL
 * byte and text to match. Options come from the schema length's low bits.
 * Checks: no crash, errors carry a message, and a compiled grammar can be
 * matched against the text without failing (except on limits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    slm_json_schema_opts o = {.allow_whitespace = slen & 1, .loose_additional = (slen >> 1) & 1,
                              .one_of_as_any_of = (slen >> 2) & 1};
    slm_grammar *g = NULL;
    slm_error err;
    err.msg[0] = '\0';
    if (slm_grammar_compile_json_schema((const char *)data, slen, &o, &g, &err) != SLM_OK) {
        if (!err.msg[0] || g) abort();
        /* the same text as a regex exercises regex.c directly */
        if (slen < 512 && slm_grammar_compile_regex((const char *)data, slen, &g, NULL) == SLM_OK) slm_grammar_free(g);
        return 0;
    }
    slm_grammar_matcher *m = NULL;
    if (slm_grammar_matcher_new(g, NULL, &m, NULL) == SLM_OK) {
        size_t n = nul ? size - slen - 1 : 0;
        if (n) slm_grammar_matcher_accept_bytes(m, (const char *)nul + 1, n, NULL);
        (void)slm_grammar_matcher_is_accepting(m);
        slm_grammar_matcher_free(m);
    }
    slm_grammar_free(g);
    return 0;
}
