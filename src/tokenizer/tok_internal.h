/* Internal shape of slm_tokenizer shared by the tokenizer/ files.
 *
 * The vocabulary is an array of tok_token (text, score, attributes) whose
 * texts live in one pool; `text_map` finds a token by its stored text.
 * Byte-level BPE works on raw bytes rather than on the GPT-2 byte-to-unicode
 * alphabet: `raw_map` maps each token's decoded bytes to its id and
 * `merges` maps a decoded (left, right) pair to its rank. The mapping is a
 * bijection, so the merge order is exactly llama.cpp's. */
#ifndef SLM_TOK_INTERNAL_H
#define SLM_TOK_INTERNAL_H

#include "slm/tokenizer.h"
#include "tokenizer/tok_map.h"

/* llama.cpp's token attributes (bit flags). */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_LSTRIP = 1 << 7,
    TOK_ATTR_RSTRIP = 1 << 8,
};

typedef enum tok_kind { TOK_SPM, TOK_BPE, TOK_WPM } tok_kind;

typedef struct tok_token {
    uint32_t off, len;       /* text in text_pool */
    uint32_t piece_off, piece_len; /* rendered piece (special=true) in piece_pool */
    float score;
    uint32_t attr;
} tok_token;

/* A growable vector of token ids. */
typedef struct tok_vec {
    int32_t *v;
    size_t n, cap;
    bool oom;
} tok_vec;

void tok_vec_push(tok_vec *v, int32_t x);

#define TOK_MAX_REGEX 8

typedef struct tok_pretok {
    int n;
    void *code[TOK_MAX_REGEX]; /* pcre2_code_8 * */
} tok_pretok;

struct slm_tokenizer {
    tok_kind kind;
    char type_name[16];
    char pre_name[48];
    int32_t n_vocab;
    tok_token *tok;
    char *text_pool;
    char *piece_pool;
    tok_map text_map;
    int max_token_len;

    /* BPE */
    tok_map raw_map;
    tok_map merges;
    char *merge_pool;
    char *raw_pool;
    tok_pretok pre;
    bool ignore_merges;

    /* special ids (-1 = none) and flags */
    int32_t bos, eos, eot, eom, unk, sep, pad, mask;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_sep, add_space_prefix;
    bool wpm_lowercase, wpm_strip_accents;
    int32_t *eog;
    size_t n_eog;
    int32_t *special; /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    int32_t byte_tok[256]; /* SPM byte fallback: <0xNN> or the raw byte; -1 */
    bool spm_barrier[128]; /* SPM: ASCII bytes no multi-byte token contains */
};

static inline const char *tok_text(const slm_tokenizer *t, int32_t id) {
    return t->text_pool + t->tok[id].off;
}

/* load_*.c */
slm_status tok_load_vocab(slm_tokenizer *t, const slm_gguf *g, slm_error *err);
slm_status tok_load_specials(slm_tokenizer *t, const slm_gguf *g, slm_error *err);
slm_status tok_bpe_load(slm_tokenizer *t, const slm_gguf *g, slm_error *err);
slm_status tok_build_pieces(slm_tokenizer *t, slm_error *err);

/* pretok.c: compile the regexes for a pre name (unknown -> default, with a
 * warning); split text into words (byte ranges in the sanitized copy). */
slm_status tok_pretok_init(tok_pretok *p, const char *pre_name, const char **used_name,
                           bool *ignore_merges, bool *add_bos, slm_error *err);
void tok_pretok_free(tok_pretok *p);
typedef struct tok_span {
    uint32_t off, len;
} tok_span;
typedef struct tok_words {
    char *text; /* sanitized UTF-8 (invalid bytes -> U+FFFD) */
    size_t len;
    tok_span *w;
    size_t n, cap;
} tok_words;
slm_status tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_words *out,
                            slm_error *err);
void tok_words_free(tok_words *w);

/* spm.c, bpe.c, wpm.c: tokenize one raw-text fragment, appending to out. */
slm_status tok_spm_fragment(const slm_tokenizer *t, const char *text, size_t len, bool prefix_space,
                            tok_vec *out, slm_error *err);
slm_status tok_bpe_fragment(const slm_tokenizer *t, const char *text, size_t len, tok_vec *out,
                            slm_error *err);
slm_status tok_wpm_fragment(const slm_tokenizer *t, const char *text, size_t len, tok_vec *out,
                            slm_error *err);

/* special.c: split text into raw fragments and special tokens. */
typedef struct tok_frag {
    size_t off, len; /* raw text when id < 0 */
    int32_t id;
} tok_frag;
typedef struct tok_frags {
    tok_frag *f;
    size_t n, cap;
} tok_frags;
slm_status tok_partition(const slm_tokenizer *t, const char *text, size_t len, bool parse_special,
                         tok_frags *out, slm_error *err);

/* utf8.c */
size_t tok_utf8_len(uint8_t lead); /* llama.cpp's unicode_len_utf8 */
/* Lenient decode as llama.cpp: returns the code point and advances *i, or
 * returns UINT32_MAX (invalid; *i advanced by one). */
uint32_t tok_utf8_decode(const char *s, size_t n, size_t *i);
size_t tok_utf8_encode(uint32_t cp, char *out); /* 1..4 bytes */
bool tok_is_whitespace(uint32_t cp);

/* byte-level BPE alphabet */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp); /* -1 if not in the alphabet */

#endif
