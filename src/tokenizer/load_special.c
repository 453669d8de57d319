/* Special tokens and flags, following llama.cpp's vocab loader: defaults by
 * model type, tokenizer.ggml.*_token_id / add_*_token overrides, EOT/EOM/FIM
 * detection by text, the end-of-generation set, per-model attribute fixes
 * (phi-3 rstrip, mask lstrip) and the list of special tokens that the
 * partitioner matches in text (longest first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "tokenizer/tok_internal.h"

static int32_t find(const slm_tokenizer *t, const char *s) {
    return tok_map_get(&t->text_map, s, strlen(s));
}

static void force_control(slm_tokenizer *t, int32_t id) {
    if (id >= 0) t->tok[id].attr |= TOK_ATTR_CONTROL;
}

/* The first text of `names` present in the vocab (list order; llama.cpp's
 * order is its hash map's and cannot be reproduced). */
static void detect(slm_tokenizer *t, int32_t *id, const char *const *names) {
    if (*id >= 0) return;
    for (; *names; names++) {
        int32_t x = find(t, *names);
        if (x >= 0) {
            *id = x;
            force_control(t, x);
            return;
        }
    }
}

static void set_defaults(slm_tokenizer *t) {
    t->eot = t->eom = t->sep = t->pad = t->mask = -1;
    t->fim_pre = t->fim_suf = t->fim_mid = t->fim_pad = t->fim_rep = t->fim_sep = -1;
    if (t->kind == TOK_SPM) {
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_space_prefix = true, t->add_bos = true;
    } else if (t->kind == TOK_WPM) {
        t->bos = 101, t->eos = -1, t->unk = 100, t->sep = 102, t->pad = 0, t->mask = 103;
        t->add_bos = true, t->add_sep = true;
    } else {
        t->bos = 11, t->eos = 11, t->unk = -1;
        /* add_bos for llama3-style pre-tokenizers was set by tok_bpe_load */
    }
}

static void read_id(slm_tokenizer *t, const slm_gguf *g, const char *key, int32_t *id) {
    if (*id >= t->n_vocab) *id = -1;
    uint64_t v;
    if (slm_gguf_get_uint(g, key, &v) && v < (uint64_t)t->n_vocab) *id = (int32_t)v;
}

static void read_ids(slm_tokenizer *t, const slm_gguf *g) {
    static const char *const keys[] = {
        "bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
        "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep",
        "prefix", "suffix", "middle", "cls",
    };
    int32_t *ids[] = {&t->bos, &t->eos, &t->eot, &t->eom, &t->unk, &t->sep, &t->pad, &t->mask,
                      &t->fim_pre, &t->fim_suf, &t->fim_mid, &t->fim_pad, &t->fim_rep, &t->fim_sep,
                      &t->fim_pre, &t->fim_suf, &t->fim_mid, &t->bos};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (i == 17 && t->kind != TOK_WPM) continue; /* cls is BERT's BOS */
        char key[64];
        snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", keys[i]);
        read_id(t, g, key, ids[i]);
    }
}

static void read_flags(slm_tokenizer *t, const slm_gguf *g) {
    bool b;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) t->add_space_prefix = b;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) t->add_bos = b;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) t->add_eos = b;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.add_sep_token", &b)) t->add_sep = b;
    t->wpm_lowercase = true;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.normalizer.lowercase", &b)) t->wpm_lowercase = b;
    t->wpm_strip_accents = t->wpm_lowercase;
    if (slm_gguf_get_bool(g, "tokenizer.ggml.normalizer.strip_accents", &b)) t->wpm_strip_accents = b;
}

static void detect_by_text(slm_tokenizer *t) {
    static const char *const eot[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
        "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>", NULL};
    static const char *const eom[] = {"<|eom_id|>", NULL};
    static const char *const pre[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
        "<|code_prefix|>", "<|prefix|>", NULL};
    static const char *const suf[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
        "<|code_suffix|>", "<|suffix|>", NULL};
    static const char *const mid[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
        "<|code_middle|>", "<|middle|>", NULL};
    static const char *const pad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
    static const char *const rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
        "<reponame>", NULL};
    static const char *const sep[] = {"<|file_sep|>", NULL};
    detect(t, &t->eot, eot);
    detect(t, &t->eom, eom);
    detect(t, &t->fim_pre, pre);
    detect(t, &t->fim_suf, suf);
    detect(t, &t->fim_mid, mid);
    detect(t, &t->fim_pad, pad);
    detect(t, &t->fim_rep, rep);
    detect(t, &t->fim_sep, sep);
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->tok[i].attr & TOK_ATTR_CONTROL) && strstr(tok_text(t, i), "unused"))
            t->tok[i].attr |= TOK_ATTR_UNUSED;
}

static void eog_add(slm_tokenizer *t, int32_t id) {
    if (id < 0) return;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return;
    t->eog[t->n_eog++] = id;
}

static void eog_remove(slm_tokenizer *t, int32_t id) {
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) t->eog[i] = t->eog[--t->n_eog];
}

static bool eog_has_text(const slm_tokenizer *t, const char *s) {
    int32_t id = find(t, s);
    if (id < 0) return false;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

static void build_eog(slm_tokenizer *t) {
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
        "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};
    eog_add(t, t->fim_pad);
    eog_add(t, t->fim_rep);
    eog_add(t, t->fim_sep);
    for (const char *const *n = names; *n; n++) {
        int32_t id = find(t, *n);
        eog_add(t, id);
        force_control(t, id);
    }
    static const char *const gpt_oss[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (const char *const *n = gpt_oss; *n; n++) {
        int32_t id = find(t, *n);
        if (id >= 0) t->tok[id].attr = TOK_ATTR_USER_DEFINED;
    }
    eog_add(t, t->eos);
    eog_add(t, t->eot);
    eog_add(t, t->eom);
    bool has_end = eog_has_text(t, "<|end|>"), has_ret = eog_has_text(t, "<|return|>");
    bool has_call = eog_has_text(t, "<|call|>") || eog_has_text(t, "<|calls|>");
    bool has_flush = eog_has_text(t, "<|flush|>");
    if (has_end && has_call && (has_ret || has_flush)) {
        int32_t id = find(t, "<|end|>");
        eog_remove(t, id);
        t->tok[id].attr = TOK_ATTR_USER_DEFINED;
    }
    if (eog_has_text(t, "<|tool_response>") && eog_has_text(t, "</s>")) {
        int32_t id = find(t, "</s>");
        eog_remove(t, id);
        t->tok[id].attr = TOK_ATTR_NORMAL;
    }
}

typedef struct len_id {
    uint32_t len;
    int32_t id;
} len_id;

static int by_length_desc(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static bool is_special_attr(uint32_t attr) {
    return attr & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN);
}

/* Longest first, as llama.cpp sorts them (ties by id: its sort is unstable). */
static slm_status build_special_list(slm_tokenizer *t, slm_error *err) {
    size_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) n += is_special_attr(t->tok[i].attr);
    t->special = slm_malloc_array(n ? n : 1, sizeof *t->special);
    len_id *tmp = slm_malloc_array(n ? n : 1, sizeof *tmp);
    if (!t->special || !tmp) {
        free(tmp);
        return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory");
    }
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (is_special_attr(t->tok[i].attr)) tmp[t->n_special++] = (len_id){t->tok[i].len, i};
    qsort(tmp, t->n_special, sizeof *tmp, by_length_desc);
    for (size_t i = 0; i < t->n_special; i++) t->special[i] = tmp[i].id;
    free(tmp);
    return SLM_OK;
}

static bool contains_any(const char *s, const char *const *subs) {
    for (; *subs; subs++)
        if (strstr(s, *subs)) return true;
    return false;
}

static void copy_lower(const slm_gguf *g, const char *key, char *out, size_t cap) {
    slm_str s = {0};
    out[0] = 0;
    if (!slm_gguf_get_str(g, key, &s)) return;
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)s.ptr[i]);
    out[n] = 0;
}

static void set_attr(slm_tokenizer *t, const char *text, uint32_t attr, bool on) {
    int32_t id = find(t, text);
    if (id < 0) return;
    if (on) t->tok[id].attr |= attr;
    else t->tok[id].attr &= ~attr;
}

/* llama.cpp's per-model attribute fixes (GGUF has no per-token flags). */
static void model_attrs(slm_tokenizer *t, const slm_gguf *g) {
    char name[256], pre[64], arch[64];
    copy_lower(g, "general.name", name, sizeof name);
    slm_str s = {0};
    pre[0] = arch[0] = 0;
    if (slm_gguf_get_str(g, "tokenizer.ggml.pre", &s))
        snprintf(pre, sizeof pre, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    if (slm_gguf_get_str(g, "general.architecture", &s))
        snprintf(arch, sizeof arch, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    static const char *const jina[] = {"jina-v2-de", "jina-v2-es", "jina-v2-code", NULL};
    static const char *const moe[] = {"nomic-bert-moe", "jina-bert-v3", NULL};
    static const char *const phi3[] = {"phi-3", "phi3", NULL};
    static const char *const mbert[] = {"modern-bert", NULL};
    if (contains_any(pre, jina) || contains_any(arch, moe)) {
        set_attr(t, "<mask>", TOK_ATTR_LSTRIP, true);
    } else if (contains_any(name, phi3)) {
        for (size_t i = 0; i < t->n_special; i++) t->tok[t->special[i]].attr |= TOK_ATTR_RSTRIP;
        set_attr(t, "</s>", TOK_ATTR_RSTRIP, true);
        set_attr(t, "<unk>", TOK_ATTR_RSTRIP, false);
        set_attr(t, "<s>", TOK_ATTR_RSTRIP, false);
        set_attr(t, "<|endoftext|>", TOK_ATTR_RSTRIP, false);
    } else if (contains_any(name, mbert)) {
        set_attr(t, "[MASK]", TOK_ATTR_LSTRIP, true);
    }
}

static void byte_tokens(slm_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = find(t, buf);
        if (id < 0) {
            char one = (char)b;
            id = tok_map_get(&t->text_map, &one, 1);
        }
        t->byte_tok[b] = id;
    }
}

/* SentencePiece merges can never join a character that no multi-byte token
 * contains, so the text can be cut there without changing the result. */
static void spm_barriers(slm_tokenizer *t) {
    for (int c = 1; c < 128; c++) t->spm_barrier[c] = true;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = tok_text(t, i);
        if (t->tok[i].len < 2) continue;
        for (uint32_t k = 0; k < t->tok[i].len; k++)
            if ((uint8_t)s[k] < 128) t->spm_barrier[(uint8_t)s[k]] = false;
    }
}

slm_status tok_load_specials(slm_tokenizer *t, const slm_gguf *g, slm_error *err) {
    bool bos_default = t->add_bos; /* BPE: set from the pre-tokenizer */
    set_defaults(t);
    if (t->kind == TOK_BPE) t->add_bos = bos_default;
    read_ids(t, g);
    read_flags(t, g);
    if (t->add_bos && t->bos < 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
    if (t->add_eos && t->eos < 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.add_eos_token is true, but there is no EOS token");
    if (t->add_sep && t->sep < 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.add_sep_token is true, but there is no SEP token");
    detect_by_text(t);
    t->eog = slm_malloc_array(64, sizeof *t->eog);
    if (!t->eog) return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory");
    build_eog(t);
    slm_status st = build_special_list(t, err);
    if (st) return st;
    st = tok_build_pieces(t, err);
    if (st) return st;
    model_attrs(t, g);
    byte_tokens(t);
    spm_barriers(t);
    return SLM_OK;
}
