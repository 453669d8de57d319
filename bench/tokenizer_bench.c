/* Tokenizer throughput: tokenizes ../shared/text/war-and-peace.txt with
 * every vocabulary in ../shared/vocab (and stories260K) and prints MB/s,
 * tokens and bytes per token. Usage: tokenizer_bench [shared_dir] [reps].
 * add_special and parse_special are off, as in llama.cpp's
 * test-tokenizer-0 on a text file. Best of `reps` runs (default 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/tokenizer.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static void bench_one(const char *path, const char *text, size_t len, int reps) {
    slm_gguf *g = NULL;
    slm_tokenizer *t = NULL;
    slm_error err = {0};
    double t0 = slm_now_s();
    if (slm_gguf_open(path, &g, &err) || slm_tokenizer_load(g, &t, &err)) {
        printf("%-40s load failed: %s\n", path, err.msg);
        slm_gguf_close(g);
        return;
    }
    double load_ms = (slm_now_s() - t0) * 1e3;
    slm_gguf_close(g);
    double best = 1e30;
    size_t n = 0;
    for (int r = 0; r < reps; r++) {
        int32_t *tok = NULL;
        double s = slm_now_s();
        if (slm_tokenize(t, text, len, false, false, &tok, &n, &err)) {
            printf("%-40s tokenize failed: %s\n", path, err.msg);
            break;
        }
        double e = slm_now_s() - s;
        if (e < best) best = e;
        free(tok);
    }
    const char *base = strrchr(path, '/');
    printf("%-34s %-6s %-15s load %7.1f ms  %8.2f MB/s  %8zu tokens  %.2f bytes/token\n",
           base ? base + 1 : path, slm_tokenizer_type_name(t), slm_tokenizer_pre_name(t), load_ms,
           len / best / 1e6, n, n ? (double)len / n : 0.0);
    slm_tokenizer_free(t);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : getenv("SLM_SHARED_DIR");
    if (!shared) shared = "../shared";
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    char path[1024];
    snprintf(path, sizeof path, "%s/text/war-and-peace.txt", shared);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    printf("text: %s (%zu bytes), best of %d\n", path, len, reps);
    static const char *const vocabs[] = {
        "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-phi-3.gguf", "vocab/ggml-vocab-baichuan.gguf",
        "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-gpt-neox.gguf", "vocab/ggml-vocab-mpt.gguf",
        "vocab/ggml-vocab-falcon.gguf", "vocab/ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-refact.gguf",
        "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-deepseek-coder.gguf",
        "vocab/ggml-vocab-bert-bge.gguf", "models/stories260K.gguf",
    };
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", shared, vocabs[i]);
        bench_one(path, text, len, reps);
    }
    free(text);
    return 0;
}
