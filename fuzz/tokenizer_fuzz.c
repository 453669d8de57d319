/* libFuzzer target for the tokenizer: random bytes in, tokenized with one of
 * the vocabularies in ../shared/vocab (and stories260K). The first input
 * byte picks the vocabulary (low 4 bits) and the flags (bit 4: add_special,
 * bit 5: parse_special); the rest, up to 4 KiB, is the text. Checks: no
 * crash, every id in range, the streaming detokenizer emits exactly what
 * slm_detokenize does, and for byte-level BPE on valid UTF-8 without
 * add_special the detokenized text (special tokens rendered when they were
 * parsed) equals the input (round trip).
 * Vocabularies are loaded once from $SLM_SHARED_DIR or, failing that, from
 * the shared/ directory next to this source tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/tokenizer.h"

#define MAX_TEXT 4096

static const char *const names[] = {
    "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-phi-3.gguf",
    "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-deepseek-llm.gguf",
    "vocab/ggml-vocab-deepseek-coder.gguf", "vocab/ggml-vocab-falcon.gguf",
    "vocab/ggml-vocab-mpt.gguf", "vocab/ggml-vocab-refact.gguf",
    "vocab/ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-bert-bge.gguf",
    "models/stories260K.gguf",
};
#define N_NAMES (sizeof names / sizeof names[0])

static slm_tokenizer *toks[N_NAMES];
static bool byte_ok[N_NAMES][256]; /* some token renders as exactly this byte */
static size_t n_toks;
static int loaded;

static void shared_root(char *out, size_t cap) {
    const char *env = getenv("SLM_SHARED_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    /* __FILE__ is .../fuzz/tokenizer_fuzz.c; shared/ sits beside the repo */
    snprintf(out, cap, "%s", __FILE__);
    char *slash = strrchr(out, '/');
    if (slash) snprintf(slash, cap - (size_t)(slash - out), "/../../shared");
    else snprintf(out, cap, "../shared");
}

static void load_all(void) {
    loaded = 1;
    char root[1024], path[1200];
    shared_root(root, sizeof root);
    for (size_t i = 0; i < N_NAMES; i++) {
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        slm_gguf *g = NULL;
        if (slm_gguf_open(path, &g, NULL) != SLM_OK) continue;
        if (slm_tokenizer_load(g, &toks[n_toks], NULL) == SLM_OK) {
            for (int32_t id = 0; id < slm_tokenizer_n_vocab(toks[n_toks]); id++) {
                char c;
                if (slm_token_to_piece(toks[n_toks], id, false, &c, 1) == 1) byte_ok[n_toks][(uint8_t)c] = true;
            }
            n_toks++;
        }
        slm_gguf_close(g);
    }
    if (!n_toks) fprintf(stderr, "tokenizer_fuzz: no vocabularies under %s; nothing to fuzz\n", root);
}

/* Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF). */
static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n) return 0;
        uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static void check_stream(const slm_tokenizer *t, bool special, const int32_t *tok, size_t n,
                         const char *whole, size_t whole_len) {
    slm_detok d;
    slm_detok_init(&d, t, special);
    char *buf = malloc(whole_len + 8), chunk[SLM_DETOK_MAX_PIECE + 4];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = slm_detok_push(&d, tok[i], chunk, sizeof chunk);
        if (o + k > whole_len) abort();
        memcpy(buf + o, chunk, k);
        o += k;
    }
    o += slm_detok_flush(&d, buf + o, whole_len + 8 - o);
    if (o != whole_len || memcmp(buf, whole, o) != 0) abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loaded) load_all();
    if (!n_toks || size == 0) return 0;
    size_t which = (data[0] & 15) % n_toks;
    const slm_tokenizer *t = toks[which];
    bool add_special = data[0] & 16, parse_special = data[0] & 32;
    const char *text = (const char *)data + 1;
    size_t len = size - 1 > MAX_TEXT ? MAX_TEXT : size - 1;
    int32_t *tok = NULL;
    size_t n = 0;
    if (slm_tokenize(t, text, len, add_special, parse_special, &tok, &n, NULL) != SLM_OK) abort();
    for (size_t i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= slm_tokenizer_n_vocab(t)) abort();
    /* special tokens taken from the text are rendered back as text */
    size_t dl = slm_detokenize(t, tok, n, parse_special, NULL, 0);
    char *out = malloc(dl + 1);
    if (slm_detokenize(t, tok, n, parse_special, out, dl) != dl) abort();
    check_stream(t, parse_special, tok, n, out, dl);
    bool bpe = strcmp(slm_tokenizer_type_name(t), "gpt2") == 0;
    /* (some vocabularies, e.g. falcon, lack tokens for a few bytes, which
     * llama.cpp then drops: the round trip only holds without those) */
    bool all_bytes = true;
    for (size_t i = 0; i < len; i++) all_bytes = all_bytes && byte_ok[which][(uint8_t)text[i]];
    if (bpe && !add_special && all_bytes && valid_utf8((const uint8_t *)text, len) &&
        (dl != len || memcmp(out, text, len) != 0))
        abort();
    free(out);
    free(tok);
    return 0;
}
