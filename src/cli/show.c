/* `slm show MODEL.gguf`: what a model is and what it needs, as text or
 * JSON (--json): architecture, parameters, quantization mix, context,
 * tokenizer, chat template, memory at a given context size. */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/engine.h"
#include "slm/gguf.h"
#include "slm/model.h"

static void show_usage(FILE *f) {
    fprintf(f, "usage: slm show MODEL [--json] [-c|--ctx N]\n"
               "  Describes a GGUF model; --ctx sets the context size for the memory estimate\n"
               "  (default: the model's training context, max 4096).\n");
}

static json_t *str_or_null(const slm_gguf *g, const char *key) {
    slm_str s;
    if (!slm_gguf_get_str(g, key, &s)) return json_null();
    return json_stringn_nocheck(s.ptr, (size_t)s.len);
}

static json_t *quant_mix(const slm_gguf *g) {
    uint64_t count[SLM_TYPE_COUNT] = {0}, bytes[SLM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        count[t->type]++;
        bytes[t->type] += t->nbytes;
    }
    json_t *mix = json_object();
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        if (!count[t]) continue;
        json_object_set_new(mix, slm_dtype_name((uint32_t)t),
                            json_pack("{s:I,s:I}", "tensors", (json_int_t)count[t], "bytes", (json_int_t)bytes[t]));
    }
    return mix;
}

static json_t *tokenizer_info(const slm_gguf *g) {
    slm_gguf_array tokens;
    json_int_t n = slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) ? (json_int_t)tokens.n : 0;
    return json_pack("{s:o,s:o,s:I}", "model", str_or_null(g, "tokenizer.ggml.model"), "pre",
                     str_or_null(g, "tokenizer.ggml.pre"), "vocab_size", n);
}

/* "model", "builtin:NAME" or null (see slm_chat_template_for). */
static json_t *chat_template_info(const slm_gguf *g, const slm_tokenizer *tok) {
    const char *name = tok ? slm_chat_template_for(g, tok) : NULL;
    if (!name) return json_null();
    if (strcmp(name, "model") == 0) return json_string("model");
    char buf[64];
    snprintf(buf, sizeof buf, "builtin:%s", name);
    return json_string(buf);
}

static json_t *describe(const slm_gguf *g, const slm_model *m, const slm_tokenizer *tok, int32_t n_ctx) {
    const slm_hparams *hp = slm_model_hparams(m);
    if (n_ctx <= 0) n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    uint64_t ctx_bytes = slm_model_context_bytes(m, n_ctx, n_ctx < 512 ? n_ctx : 512);
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(slm_gguf_path(g)));
    json_object_set_new(o, "name", str_or_null(g, "general.name"));
    json_object_set_new(o, "architecture", json_string(hp->arch_name));
    json_object_set_new(o, "parameters", json_integer((json_int_t)slm_model_n_params(m)));
    json_object_set_new(o, "gguf_version", json_integer(slm_gguf_version(g)));
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)slm_gguf_file_size(g)));
    json_object_set_new(o, "quantization", quant_mix(g));
    json_object_set_new(o, "context_length", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "embedding_length", json_integer(hp->n_embd));
    json_object_set_new(o, "layers", json_integer(hp->n_layer));
    json_object_set_new(o, "heads", json_integer(hp->n_head));
    json_object_set_new(o, "kv_heads", json_integer(hp->n_head_kv));
    json_object_set_new(o, "head_dim", json_integer(hp->head_dim));
    json_object_set_new(o, "feed_forward_length", json_integer(hp->n_ff));
    json_object_set_new(o, "vocab_size", json_integer(hp->n_vocab));
    json_object_set_new(o, "rope_freq_base", json_real(hp->rope.freq_base));
    json_object_set_new(o, "tied_embeddings", json_boolean(hp->tied_output));
    json_object_set_new(o, "tokenizer", tokenizer_info(g));
    json_object_set_new(o, "chat_template", chat_template_info(g, tok));
    json_object_set_new(o, "memory", json_pack("{s:i,s:I,s:I,s:I}", "context", n_ctx, "weights_bytes",
                                               (json_int_t)slm_model_weight_bytes(m), "context_bytes",
                                               (json_int_t)ctx_bytes, "total_bytes",
                                               (json_int_t)(slm_model_weight_bytes(m) + ctx_bytes)));
    return o;
}

static void print_text(json_t *o) {
    char b1[32], b2[32], b3[32];
    json_t *mem = json_object_get(o, "memory"), *tok = json_object_get(o, "tokenizer");
    printf("  file             %s\n", json_string_value(json_object_get(o, "file")));
    if (json_is_string(json_object_get(o, "name"))) printf("  name             %s\n", json_string_value(json_object_get(o, "name")));
    printf("  architecture     %s\n", json_string_value(json_object_get(o, "architecture")));
    printf("  parameters       %.2fM\n", (double)json_integer_value(json_object_get(o, "parameters")) / 1e6);
    printf("  context length   %lld\n", json_integer_value(json_object_get(o, "context_length")));
    printf("  embedding        %lld, %lld layers, %lld heads (%lld kv), head dim %lld, ffn %lld\n",
           json_integer_value(json_object_get(o, "embedding_length")), json_integer_value(json_object_get(o, "layers")),
           json_integer_value(json_object_get(o, "heads")), json_integer_value(json_object_get(o, "kv_heads")),
           json_integer_value(json_object_get(o, "head_dim")), json_integer_value(json_object_get(o, "feed_forward_length")));
    printf("  quantization    ");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "quantization"), k, v)
        printf(" %s x%lld (%s)", k, json_integer_value(json_object_get(v, "tensors")),
               cli_bytes((uint64_t)json_integer_value(json_object_get(v, "bytes")), b1, sizeof b1));
    printf("\n");
    json_t *tm = json_object_get(tok, "model"), *tp = json_object_get(tok, "pre");
    printf("  tokenizer        %s%s%s, %lld tokens\n", json_is_string(tm) ? json_string_value(tm) : "none",
           json_is_string(tp) ? " / " : "", json_is_string(tp) ? json_string_value(tp) : "",
           json_integer_value(json_object_get(tok, "vocab_size")));
    const char *ct = json_string_value(json_object_get(o, "chat_template"));
    if (!ct) printf("  chat template    none (a base model: text is completed, not chatted with)\n");
    else if (strcmp(ct, "model") == 0) printf("  chat template    the model's own\n");
    else printf("  chat template    built-in %s (the model has none; chosen by its vocabulary)\n", ct + 8);
    printf("  memory at ctx %lld: %s weights + %s KV cache and buffers = %s\n",
           json_integer_value(json_object_get(mem, "context")),
           cli_bytes((uint64_t)json_integer_value(json_object_get(mem, "weights_bytes")), b1, sizeof b1),
           cli_bytes((uint64_t)json_integer_value(json_object_get(mem, "context_bytes")), b2, sizeof b2),
           cli_bytes((uint64_t)json_integer_value(json_object_get(mem, "total_bytes")), b3, sizeof b3));
}

int cli_show(int argc, char **argv) {
    const char *path = NULL;
    bool as_json = false;
    int64_t n_ctx = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            show_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--ctx") == 0 || strcmp(argv[i], "-c") == 0) {
            if (!(v = cli_value("show", argc, argv, &i)) || !cli_parse_int("show", argv[i - 1], v, 1, 1 << 24, &n_ctx))
                return 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "slm show: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "slm show: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        show_usage(stderr);
        return 2;
    }
    slm_error err = {0};
    slm_gguf *g = NULL;
    slm_model *m = NULL;
    char resolved[4096];
    if (!cli_resolve_model("show", path, resolved, sizeof resolved)) return 1;
    if (slm_gguf_open(resolved, &g, &err) != SLM_OK || slm_model_load(g, &m, &err) != SLM_OK) {
        fprintf(stderr, "slm show: %s\n", err.msg);
        slm_gguf_close(g);
        return 1;
    }
    slm_tokenizer *tok = NULL;
    if (slm_tokenizer_load(g, &tok, &err) != SLM_OK)
        fprintf(stderr, "slm show: warning: %s\n", err.msg);
    json_t *o = describe(g, m, tok, (int32_t)n_ctx);
    slm_tokenizer_free(tok);
    if (as_json) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
    } else {
        print_text(o);
    }
    json_decref(o);
    slm_model_free(m);
    slm_gguf_close(g);
    return 0;
}
