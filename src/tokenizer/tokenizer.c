/* The tokenizer's entry points: loading (model type, vocab, BPE data,
 * special tokens), accessors, and slm_tokenize, which partitions the text
 * around special tokens and hands each raw fragment to the SentencePiece,
 * BPE or WordPiece tokenizer with llama.cpp's BOS/EOS rules. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "tokenizer/tok_internal.h"

static slm_status read_model(slm_tokenizer *t, const slm_gguf *g, slm_error *err) {
    slm_str m;
    if (!slm_gguf_get_str(g, "tokenizer.ggml.model", &m))
        return slm_error_set(err, SLM_ERR_FORMAT, "tokenizer.ggml.model missing or not a string");
    static const struct { const char *name; tok_kind kind; } models[] = {
        {"llama", TOK_SPM}, {"gpt2", TOK_BPE}, {"bert", TOK_WPM},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        if (m.len == strlen(models[i].name) && memcmp(m.ptr, models[i].name, m.len) == 0) {
            t->kind = models[i].kind;
            snprintf(t->type_name, sizeof t->type_name, "%s", models[i].name);
            snprintf(t->pre_name, sizeof t->pre_name, "default");
            return SLM_OK;
        }
    }
    return slm_error_set(err, SLM_ERR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported",
                         (int)(m.len > 64 ? 64 : m.len), m.ptr);
}

slm_status slm_tokenizer_load(const slm_gguf *g, slm_tokenizer **out, slm_error *err) {
    *out = NULL;
    if (!g) return slm_error_set(err, SLM_ERR_INVALID_ARG, "tokenizer: no GGUF file");
    slm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return slm_error_set(err, SLM_ERR_NOMEM, "tokenizer: out of memory");
    slm_status st = read_model(t, g, err);
    if (!st) st = tok_load_vocab(t, g, err);
    if (!st && t->kind == TOK_BPE) st = tok_bpe_load(t, g, err);
    if (!st) st = tok_load_specials(t, g, err);
    if (st) {
        slm_error_prefix(err, "%s", slm_gguf_path(g) ? slm_gguf_path(g) : "tokenizer");
        slm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SLM_OK;
}

void slm_tokenizer_free(slm_tokenizer *t) {
    if (!t) return;
    tok_map_free(&t->text_map);
    tok_map_free(&t->raw_map);
    tok_map_free(&t->merges);
    tok_pretok_free(&t->pre);
    free(t->tok);
    free(t->text_pool);
    free(t->piece_pool);
    free(t->merge_pool);
    free(t->raw_pool);
    free(t->eog);
    free(t->special);
    free(t);
}

int32_t slm_tokenizer_n_vocab(const slm_tokenizer *t) { return t->n_vocab; }
int32_t slm_tokenizer_bos(const slm_tokenizer *t) { return t->bos; }
int32_t slm_tokenizer_eos(const slm_tokenizer *t) { return t->eos; }
int32_t slm_tokenizer_eot(const slm_tokenizer *t) { return t->eot; }
int32_t slm_tokenizer_unk(const slm_tokenizer *t) { return t->unk; }
int32_t slm_tokenizer_pad(const slm_tokenizer *t) { return t->pad; }
int32_t slm_tokenizer_sep(const slm_tokenizer *t) { return t->sep; }
bool slm_tokenizer_add_bos(const slm_tokenizer *t) { return t->add_bos; }
bool slm_tokenizer_add_eos(const slm_tokenizer *t) { return t->add_eos; }
const char *slm_tokenizer_type_name(const slm_tokenizer *t) { return t->type_name; }
const char *slm_tokenizer_pre_name(const slm_tokenizer *t) { return t->pre_name; }

bool slm_tokenizer_is_eog(const slm_tokenizer *t, int32_t tok) {
    if (tok < 0) return false;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == tok) return true;
    return false;
}

bool slm_tokenizer_is_control(const slm_tokenizer *t, int32_t tok) {
    return tok >= 0 && tok < t->n_vocab &&
           (t->tok[tok].attr & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

const char *slm_tokenizer_token_text(const slm_tokenizer *t, int32_t tok, size_t *len) {
    if (tok < 0 || tok >= t->n_vocab) return NULL;
    if (len) *len = t->tok[tok].len;
    return tok_text(t, tok);
}

int32_t slm_tokenizer_find_token(const slm_tokenizer *t, const char *text, size_t len) {
    return tok_map_get(&t->text_map, text, len);
}

static slm_status run_fragments(const slm_tokenizer *t, const char *text, const tok_frags *fr,
                                tok_vec *out, slm_error *err) {
    bool prev_special = true; /* SentencePiece: a space before the first text */
    for (size_t i = 0; i < fr->n; i++) {
        const tok_frag *f = &fr->f[i];
        slm_status st = SLM_OK;
        if (f->id >= 0) {
            tok_vec_push(out, f->id);
            prev_special = true;
            continue;
        }
        if (t->kind == TOK_SPM)
            st = tok_spm_fragment(t, text + f->off, f->len, t->add_space_prefix && prev_special, out, err);
        else if (t->kind == TOK_BPE)
            st = tok_bpe_fragment(t, text + f->off, f->len, out, err);
        else
            st = tok_wpm_fragment(t, text + f->off, f->len, out, err);
        if (st) return st;
        prev_special = false;
    }
    return SLM_OK;
}

slm_status slm_tokenize(const slm_tokenizer *t, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t **tokens, size_t *n_tokens, slm_error *err) {
    *tokens = NULL;
    *n_tokens = 0;
    if (!t || (!text && len)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "tokenize: no tokenizer or text");
    if (len > (size_t)INT32_MAX / 4)
        return slm_error_set(err, SLM_ERR_RANGE, "tokenize: text of %zu bytes is too long", len);
    tok_frags fr = {0};
    tok_vec out = {0};
    slm_status st = tok_partition(t, text, len, parse_special, &fr, err);
    bool wpm = t->kind == TOK_WPM;
    if (!st && add_special && (t->add_bos || wpm) && t->bos >= 0) tok_vec_push(&out, t->bos);
    if (!st) st = run_fragments(t, text, &fr, &out, err);
    if (!st && add_special && wpm && t->sep >= 0) tok_vec_push(&out, t->sep);
    if (!st && add_special && !wpm && t->add_eos && t->eos >= 0) tok_vec_push(&out, t->eos);
    free(fr.f);
    if (!st && out.oom) st = slm_error_set(err, SLM_ERR_NOMEM, "tokenize: out of memory");
    if (st) {
        free(out.v);
        return st;
    }
    *tokens = out.v;
    *n_tokens = out.n;
    return SLM_OK;
}
