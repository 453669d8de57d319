/* libFuzzer target for the GBNF parser and the matcher. Input: GBNF text,
 * optionally followed by a NUL byte and bytes to feed. Checks: no crash,
 * compile errors carry a message, and for compiled grammars the token mask
 * over a small fixed vocabulary agrees with feeding each token's bytes
 * (brute force) at every step while the input bytes are fed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/grammar.h"

/* Non-ASCII tokens cover the mask walk's text class (mask_utf8.c):
 * whole and cut characters of each UTF-8 length, invalid sequences
 * (overlong, surrogate, stray continuation), and characters past the
 * positions it checks (GUTF8_TEXT_POS). */
static const char *const TOKS[] = {"<eos>", "a", "b", "ab", "{", "}", "\"", "[", "]", ",", ":", " ", "0",
                                   "12", "x", "\xc3\xa9", "\xc3", "\xa9", "true", "\n", "-", "aa", "\"a\"",
                                   "\xe2\x82\xac", "\xe2\x82", "\xf0\x9f\x98\x80", "\xf0\x9f", "a\xc3\xa9\x62",
                                   "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abcdefgh\xc3\xa9",
                                   "abcdefg\xc3\xa9", "\xc3\xa9\"", "\xe4\xb8\x96\xe7\x95\x8c", "\xff", "ba"};
#define N_TOKS (sizeof TOKS / sizeof *TOKS)

static slm_grammar_vocab *vocab(void) {
    static slm_grammar_vocab *v;
    if (!v) {
        size_t lens[N_TOKS];
        for (size_t i = 0; i < N_TOKS; i++) lens[i] = i ? strlen(TOKS[i]) : 0;
        int32_t eos = 0;
        if (slm_grammar_vocab_new((int32_t)N_TOKS, TOKS, lens, &eos, 1, &v, NULL) != SLM_OK) abort();
    }
    return v;
}

static void check_mask(slm_grammar_matcher *m) {
    uint32_t mask[2];
    if (slm_grammar_matcher_fill_mask(m, mask, NULL) != SLM_OK) return; /* a limit: fails closed */
    for (size_t t = 1; t < N_TOKS; t++) {
        int got = (mask[t >> 5] >> (t & 31)) & 1;
        int want = slm_grammar_matcher_can_accept_bytes(m, TOKS[t], strlen(TOKS[t]));
        if (got != want) {
            fprintf(stderr, "mask mismatch on token %zu\n", t);
            abort();
        }
    }
    if ((mask[0] & 1) != (uint32_t)slm_grammar_matcher_is_accepting(m)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t glen = nul ? (size_t)(nul - data) : size;
    slm_grammar *g = NULL;
    slm_error err;
    err.msg[0] = '\0';
    if (slm_grammar_compile_gbnf((const char *)data, glen, NULL, &g, &err) != SLM_OK) {
        if (!err.msg[0] || g) abort();
        return 0;
    }
    slm_grammar_matcher *m = NULL;
    if (slm_grammar_matcher_new(g, vocab(), &m, NULL) == SLM_OK) {
        check_mask(m);
        const uint8_t *feed = nul ? nul + 1 : data + size;
        size_t n = nul ? size - glen - 1 : 0;
        for (size_t i = 0; i < n && i < 256; i++) {
            if (!slm_grammar_matcher_accept_bytes(m, (const char *)feed + i, 1, NULL)) break;
            check_mask(m);
        }
        slm_grammar_matcher_free(m);
    }
    slm_grammar_free(g);
    return 0;
}
