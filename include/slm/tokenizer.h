/* slm tokenizer: text <-> token ids from a GGUF file's tokenizer.ggml.*
 * metadata, matching llama.cpp token for token.
 *
 * Supported tokenizer.ggml.model values:
 *   "llama" SentencePiece BPE (scores, byte fallback <0xNN>, leading space)
 *   "gpt2"  byte-level BPE (merge ranks) with the pre-tokenizer chosen by
 *           tokenizer.ggml.pre (regexes run with PCRE2 + JIT); an unknown
 *           or missing pre name logs a warning and uses llama.cpp's default
 *   "bert"  WordPiece (lower-casing, accent stripping, punctuation split)
 *
 * Special tokens: control and unknown-type token texts are matched in the
 * input only when parse_special is true. User-defined tokens are always
 * matched, as llama.cpp and Hugging Face tokenizers do (they are added
 * vocabulary, not control tokens).
 *
 * A loaded tokenizer is immutable: any number of threads may use it at once.
 * It copies what it needs, so the slm_gguf may be closed after loading. */
#ifndef SLM_TOKENIZER_H
#define SLM_TOKENIZER_H

#include "slm/base.h"
#include "slm/gguf.h"

typedef struct slm_tokenizer slm_tokenizer;

/* Builds the tokenizer from tokenizer.ggml.* metadata. */
slm_status slm_tokenizer_load(const slm_gguf *g, slm_tokenizer **out, slm_error *err);
void slm_tokenizer_free(slm_tokenizer *t);

int32_t slm_tokenizer_n_vocab(const slm_tokenizer *t);
int32_t slm_tokenizer_bos(const slm_tokenizer *t); /* -1 if none */
int32_t slm_tokenizer_eos(const slm_tokenizer *t); /* -1 if none */
int32_t slm_tokenizer_eot(const slm_tokenizer *t); /* -1 if none */
int32_t slm_tokenizer_unk(const slm_tokenizer *t); /* -1 if none */
int32_t slm_tokenizer_pad(const slm_tokenizer *t); /* -1 if none */
int32_t slm_tokenizer_sep(const slm_tokenizer *t); /* -1 if none */
/* tokenizer.ggml.add_bos_token, or the model type's default. */
bool slm_tokenizer_add_bos(const slm_tokenizer *t);
bool slm_tokenizer_add_eos(const slm_tokenizer *t);
/* End of generation: eos, eot, eom and the other tokens llama.cpp treats as
 * EOG (<|im_end|>, <|endoftext|>, <end_of_turn>, FIM pad/repo/sep ...). */
bool slm_tokenizer_is_eog(const slm_tokenizer *t, int32_t tok);
/* Control or unknown-type token (never produced from text unless
 * parse_special). */
bool slm_tokenizer_is_control(const slm_tokenizer *t, int32_t tok);

/* The stored text of a token (as in the vocab: '▁' or byte-level
 * encoded), not NUL-terminated; NULL for an id out of range. */
const char *slm_tokenizer_token_text(const slm_tokenizer *t, int32_t tok, size_t *len);
/* The id whose stored text is exactly text[0..len), or -1. */
int32_t slm_tokenizer_find_token(const slm_tokenizer *t, const char *text, size_t len);

/* Tokenizes text (len bytes, any bytes). add_special: add BOS/EOS (WordPiece:
 * CLS/SEP) as the vocab says; parse_special: match control token texts in
 * text. The result is malloc'ed into *tokens (caller frees; may be NULL when
 * *n_tokens is 0). Invalid UTF-8 is never an error: BPE treats each invalid
 * byte as U+FFFD like llama.cpp, SentencePiece falls back to byte tokens. */
slm_status slm_tokenize(const slm_tokenizer *t, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t **tokens, size_t *n_tokens, slm_error *err);

/* The bytes of one token as llama.cpp's token_to_piece renders them
 * (SentencePiece: '▁' -> ' ', <0xNN> -> that byte; BPE: byte decoding).
 * Control/unknown tokens are rendered as their text only when `special`,
 * otherwise as nothing. Returns the piece's full length; writes at most
 * cap bytes (no NUL). An id out of range renders as nothing. */
size_t slm_token_to_piece(const slm_tokenizer *t, int32_t tok, bool special, char *buf, size_t cap);

/* Detokenizes a whole sequence as the concatenation of the pieces (no
 * whitespace clean-up, so BPE round trips exactly). Returns the full length;
 * writes at most cap bytes. */
size_t slm_detokenize(const slm_tokenizer *t, const int32_t *tokens, size_t n, bool special,
                      char *buf, size_t cap);

/* Streaming detokenizer: feed tokens, get back only complete UTF-8
 * characters; an incomplete multi-byte sequence is held until the bytes
 * that complete it arrive. A byte that can never become valid UTF-8 is
 * passed through as is (so nothing is lost). */
#define SLM_DETOK_MAX_PIECE 256
typedef struct slm_detok {
    const slm_tokenizer *t;
    bool special;
    uint8_t pending[4]; /* bytes of an incomplete UTF-8 sequence */
    uint8_t n_pending;
} slm_detok;

void slm_detok_init(slm_detok *d, const slm_tokenizer *t, bool special);
/* Appends the newly completed text to out (at most cap bytes) and returns
 * the number of bytes written. cap >= SLM_DETOK_MAX_PIECE + 4 never
 * truncates for pieces up to SLM_DETOK_MAX_PIECE bytes; longer pieces and
 * smaller buffers are truncated (the return value is what was written). */
size_t slm_detok_push(slm_detok *d, int32_t tok, char *out, size_t cap);
/* Emits any held bytes (an incomplete sequence at the end of the stream). */
size_t slm_detok_flush(slm_detok *d, char *out, size_t cap);

/* "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece):
 * the tokenizer.ggml.model value. */
const char *slm_tokenizer_type_name(const slm_tokenizer *t);
/* The pre-tokenizer in use: tokenizer.ggml.pre when known, "default"
 * otherwise (also for SentencePiece and WordPiece). */
const char *slm_tokenizer_pre_name(const slm_tokenizer *t);

#endif
