/* slm grammar: constrained decoding. A grammar (from GBNF, JSON Schema, a
 * regular expression or a list of choices) is compiled once into a
 * byte-level pushdown grammar; a matcher follows one generation through it
 * and tells, before each token, which tokens of the vocabulary may come
 * next (a bitmask for slm_sampler_sample_masked).
 *
 * Fail closed: every compile function either returns SLM_OK with a grammar
 * that enforces everything the input asked for, or an error whose message
 * says what is wrong (with line:col for GBNF) or which feature is not
 * supported. Nothing is silently dropped.
 *
 * Typical use:
 *
 *   slm_grammar *g; slm_grammar_vocab *v; slm_grammar_matcher *m;
 *   slm_grammar_compile_json_schema(schema, len, NULL, &g, &err);
 *   slm_grammar_vocab_from_tokenizer(tok, &v, &err);     (once per model)
 *   slm_grammar_matcher_new(g, v, &m, &err);
 *   loop: slm_grammar_matcher_fill_mask(m, mask, &err);
 *         t = slm_sampler_sample_masked(s, logits, mask);
 *         slm_grammar_matcher_accept_token(m, t, &err);
 *         stop when slm_grammar_matcher_is_done(m)
 *
 * Ownership: a grammar and a vocabulary are immutable after creation and
 * may be shared by any number of matchers on any threads; they must outlive
 * the matchers made from them. A matcher serves one sequence and is not
 * thread-safe. */
#ifndef SLM_GRAMMAR_H
#define SLM_GRAMMAR_H

#include "slm/base.h"

typedef struct slm_grammar slm_grammar;
typedef struct slm_grammar_vocab slm_grammar_vocab;
typedef struct slm_grammar_matcher slm_grammar_matcher;
struct slm_tokenizer;

/* ---- compiling ------------------------------------------------------- */

/* GBNF as llama.cpp writes it: `name ::= alternatives`, "literals" with
 * escapes (\n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH), [classes] with ranges
 * and ^ negation, `.` (any character), ( groups ), * + ? {m} {m,} {m,n}, and
 * # comments. Rules are matched over UTF-8 text. `root` names the start
 * rule (NULL: "root"). Left-recursive grammars are rejected (the message
 * names the rule); so are references to undefined rules. */
slm_status slm_grammar_compile_gbnf(const char *text, size_t len, const char *root,
                                    slm_grammar **out, slm_error *err);

typedef struct slm_json_schema_opts {
    /* Whitespace between JSON tokens: false (default) = none at all
     * (compact, like JSON.stringify without indent); true = any run of
     * spaces/newlines/tabs (at most 20 bytes) where JSON allows it. */
    bool allow_whitespace;
    /* true: an object may carry properties the schema does not list when
     * additionalProperties is absent (JSON Schema's semantics). false
     * (default, as OpenAI strict mode and most engines do): absent
     * additionalProperties means no extra properties. */
    bool loose_additional;
    /* true: oneOf is compiled as anyOf (exclusivity not enforced; what
     * other grammar engines do). false (default): oneOf is supported only
     * when its branches provably cannot overlap (distinct types or
     * distinct const/enum values), otherwise SLM_ERR_UNSUPPORTED. */
    bool one_of_as_any_of;
} slm_json_schema_opts;

/* JSON Schema (draft 2020-12 and draft-07 spellings) -> grammar for the
 * JSON texts valid under it. opts may be NULL (defaults). An unsupported
 * keyword gives SLM_ERR_UNSUPPORTED naming it. */
slm_status slm_grammar_compile_json_schema(const char *schema, size_t len,
                                           const slm_json_schema_opts *opts, slm_grammar **out,
                                           slm_error *err);
/* The same translation, returned as GBNF text (malloc'ed, NUL-terminated;
 * the caller frees it). Useful to inspect or to hand-edit. */
slm_status slm_grammar_json_schema_to_gbnf(const char *schema, size_t len,
                                           const slm_json_schema_opts *opts, char **gbnf,
                                           slm_error *err);
/* Any JSON object ({"type":"json_object"} / Ollama format "json"). */
slm_status slm_grammar_compile_json_object(const slm_json_schema_opts *opts, slm_grammar **out,
                                           slm_error *err);

/* A regular expression (the ECMA-262 subset JSON Schema `pattern` uses:
 * literals, escapes, ., [classes], \d \w \s \D \W \S, groups (capturing,
 * (?:...)), |, * + ? {m} {m,} {m,n} (lazy forms treated as greedy), ^ and
 * $ at the ends) matched against the WHOLE output. Lookarounds and
 * backreferences are SLM_ERR_UNSUPPORTED. */
slm_status slm_grammar_compile_regex(const char *re, size_t len, slm_grammar **out,
                                     slm_error *err);
/* The same, as GBNF text (malloc'ed). */
slm_status slm_grammar_regex_to_gbnf(const char *re, size_t len, char **gbnf, slm_error *err);

/* The output is exactly one of the n labels (bytes, any content). */
slm_status slm_grammar_compile_choice(const char *const *labels, size_t n, slm_grammar **out,
                                      slm_error *err);

void slm_grammar_free(slm_grammar *g);

/* Size of the compiled byte-level grammar (for reports and limits). */
size_t slm_grammar_n_rules(const slm_grammar *g);
size_t slm_grammar_n_elements(const slm_grammar *g);

/* ---- vocabulary ------------------------------------------------------ */

/* A vocabulary as the matcher sees it: token id -> the exact bytes the
 * token adds to the output. Tokens with no bytes (control tokens) are never
 * allowed by a mask, except the end tokens `eos` which are allowed exactly
 * when the grammar may end. Bytes are copied. */
slm_status slm_grammar_vocab_new(int32_t n_tokens, const char *const *bytes, const size_t *lens,
                                 const int32_t *eos, size_t n_eos, slm_grammar_vocab **out,
                                 slm_error *err);
/* From a tokenizer: bytes = slm_token_to_piece(special = false); end
 * tokens = every token slm_tokenizer_is_eog says ends generation. */
slm_status slm_grammar_vocab_from_tokenizer(const struct slm_tokenizer *t,
                                            slm_grammar_vocab **out, slm_error *err);
void slm_grammar_vocab_free(slm_grammar_vocab *v);
int32_t slm_grammar_vocab_n_tokens(const slm_grammar_vocab *v);
/* Words of a mask for this vocabulary: (n_tokens + 31) / 32. */
size_t slm_grammar_vocab_mask_words(const slm_grammar_vocab *v);

/* Mask cache shared by the matchers of this vocabulary: a request whose
 * grammar equals (same compiled content as) an earlier one's, e.g. the
 * same JSON Schema sent again, reuses the masks computed for it instead of
 * walking the vocabulary again. Thread-safe (one mutex per vocabulary; a
 * lookup copies the mask out). On by default with a 64 MiB bound on the
 * stored masks (sparse masks are stored as token lists); the masks of up
 * to 32 grammars no matcher uses are kept (their copies within 16 MiB;
 * grammars over 1M elements are not shared). max_bytes = 0 turns sharing
 * off for matchers created afterwards and drops what is stored. */
void slm_grammar_vocab_set_mask_cache(slm_grammar_vocab *v, size_t max_bytes);

typedef struct slm_grammar_cache_stats {
    uint64_t hits, misses;  /* shared lookups (after a matcher's own cache missed) */
    uint64_t evictions;     /* masks dropped to stay under the bound */
    size_t n_masks, bytes, limit;
    size_t n_grammars;      /* distinct grammars known */
} slm_grammar_cache_stats;
void slm_grammar_vocab_mask_cache_stats(const slm_grammar_vocab *v, slm_grammar_cache_stats *out);

/* ---- matching -------------------------------------------------------- */

/* A matcher at the start of the grammar. v may be NULL for byte-only use
 * (accept_bytes / can_accept_bytes); the token functions then fail. */
slm_status slm_grammar_matcher_new(const slm_grammar *g, const slm_grammar_vocab *v,
                                   slm_grammar_matcher **out, slm_error *err);
void slm_grammar_matcher_free(slm_grammar_matcher *m);
/* Back to the start of the grammar (keeps caches). */
void slm_grammar_matcher_reset(slm_grammar_matcher *m);

/* Writes the allowed-token bitmask (slm_grammar_vocab_mask_words words; bit
 * t = mask[t >> 5] >> (t & 31) & 1). EOS tokens are set only when the
 * grammar may end here. After is_done, only EOS is set. Fails (and writes
 * an all-zero mask) if the matcher hit a limit earlier. */
slm_status slm_grammar_matcher_fill_mask(slm_grammar_matcher *m, uint32_t *mask, slm_error *err);

/* Advances by one token. A token the grammar does not allow is
 * SLM_ERR_INVALID_ARG and leaves the state unchanged. An EOS token is
 * allowed when accepting and makes the matcher done. */
slm_status slm_grammar_matcher_accept_token(slm_grammar_matcher *m, int32_t tok, slm_error *err);

/* Advances by raw bytes: true if all were accepted (state moved), false
 * if not (state unchanged; err says why when it is a limit, not a
 * mismatch). */
bool slm_grammar_matcher_accept_bytes(slm_grammar_matcher *m, const char *bytes, size_t len,
                                      slm_error *err);
/* Whether the bytes could be accepted now (state unchanged). */
bool slm_grammar_matcher_can_accept_bytes(slm_grammar_matcher *m, const char *bytes, size_t len);

/* The text so far is a complete sentence of the grammar (EOS allowed). */
bool slm_grammar_matcher_is_accepting(const slm_grammar_matcher *m);
/* Generation should stop: an EOS token was accepted, or the text is
 * complete and no further byte could extend it. */
bool slm_grammar_matcher_is_done(const slm_grammar_matcher *m);

/* ---- budget-aware completion ----------------------------------------
 * A generation capped at max_tokens can be cut inside a string or an
 * array, leaving output the schema rejects. These functions let the
 * caller close the output in time. The distance of a state is the fewest
 * bytes the output still needs before the grammar accepts (computed from
 * each rule's shortest sentence; per stack and memoized). The cost of a
 * state, in tokens, is 0 when the output is done, else distance + 1 (the
 * end-of-text token): one token per byte is an upper bound when the
 * vocabulary spells every byte as a single token (SentencePiece with byte
 * fallback and byte-level BPE do), so a generation that keeps
 * cost <= tokens left always ends validly. With other vocabularies it is
 * a good estimate, not a guarantee.
 *
 * Typical use, with `left` = tokens the caller may still sample (this one
 * included):
 *
 *   fill_mask(m, mask); t = sample_masked(mask);
 *   if (accept_token_budget(m, t, left) == SLM_ERR_RANGE) {  (one step)
 *       budget_mask(m, mask, left); t = sample_masked(mask);
 *       accept_token(m, t);
 *   }
 *
 * slm_engine's scheduler does this with left = min(max_tokens - generated,
 * context left). */

/* Fewest bytes the output still needs before the grammar accepts: 0 when
 * accepting; SIZE_MAX when it can never end or the matcher failed. */
size_t slm_grammar_matcher_distance(slm_grammar_matcher *m);

/* Whether token tok (allowed by the mask), sampled with `budget` tokens
 * left (tok included, budget >= 1), leaves a state whose cost is at most
 * budget - 1. An EOS token fits when the grammar may end here. false for
 * a token the grammar refuses. State unchanged. */
bool slm_grammar_matcher_token_fits(slm_grammar_matcher *m, int32_t tok, int32_t budget);

/* accept_token, but only if tok fits `budget` (as token_fits), in one
 * step: SLM_ERR_RANGE (state unchanged) when it does not. The cheap way
 * to check every sampled token. */
slm_status slm_grammar_matcher_accept_token_budget(slm_grammar_matcher *m, int32_t tok, int32_t budget,
                                                  slm_error *err);

/* Restricts a mask that fill_mask wrote for the current state to the
 * tokens that fit `budget` (as token_fits). If none fits (the budget was
 * too small from the start), keeps instead the tokens after which the
 * cost is smallest, so the output closes as fast as the vocabulary
 * allows; the generation may then still end by length. Never empties a
 * non-empty mask. Walks the whole vocabulary trie (slower than a cached
 * mask): call it only when the sampled token does not fit. */
slm_status slm_grammar_matcher_budget_mask(slm_grammar_matcher *m, uint32_t *mask, int32_t budget,
                                           slm_error *err);

/* Limits (fail closed with SLM_ERR_NOMEM and a message when exceeded). */
#define SLM_GRAMMAR_MAX_STACKS 4096     /* parse stacks alive at once */
#define SLM_GRAMMAR_MAX_FRAMES (1 << 22) /* stack frames held by one matcher */
#define SLM_GRAMMAR_MAX_ELEMENTS (1 << 22) /* compiled grammar size */

#endif
