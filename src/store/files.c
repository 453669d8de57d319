/* File helpers for the store: directory creation, atomic writes (temp +
 * fsync + rename + directory fsync), SHA-256 of files (OpenSSL EVP), free
 * disk space, and the GGUF check that every stored model passes. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "slm/gguf.h"

slm_status store_mkdir(const char *path, slm_error *err) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return SLM_OK;
        return slm_error_set(err, SLM_ERR_IO, "%s: exists and is not a directory", path);
    }
    return slm_error_set(err, SLM_ERR_IO, "cannot create %s: %s", path, strerror(errno));
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
}

slm_status store_write_atomic(const char *dir, const char *file, const char *data, size_t n, slm_error *err) {
    char path[STORE_PATH_MAX * 2], tmp[STORE_PATH_MAX * 2 + 16];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return slm_error_set(err, SLM_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    bool ok = off == n && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        return slm_error_set(err, SLM_ERR_IO, "cannot write %s: %s", path, strerror(saved));
    }
    fsync_dir(dir);
    return SLM_OK;
}

void store_hex(const unsigned char *bytes, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

slm_status store_sha256_file(const char *path, char hex[SLM_DIGEST_HEX + 1], uint64_t *size, slm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        fclose(f);
        EVP_MD_CTX_free(ctx);
        return slm_error_set(err, SLM_ERR_INTERNAL, "sha256: OpenSSL init failed");
    }
    static _Thread_local unsigned char buf[1 << 16];
    uint64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        total += n;
    }
    bool bad = ferror(f);
    fclose(f);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (bad) return slm_error_set(err, SLM_ERR_IO, "%s: read error", path);
    store_hex(md, 32, hex);
    if (size) *size = total;
    return SLM_OK;
}

slm_status store_free_bytes(const char *path, uint64_t *out, slm_error *err) {
    struct statvfs v;
    if (statvfs(path, &v) != 0) return slm_error_set(err, SLM_ERR_IO, "statvfs %s: %s", path, strerror(errno));
    uint64_t b;
    *out = slm_mul_ok((uint64_t)v.f_bavail, (uint64_t)v.f_frsize, &b) ? b : UINT64_MAX;
    return SLM_OK;
}

/* general.file_type values as llama.cpp writes them (LLAMA_FTYPE_*). */
static const char *ftype_name(uint64_t t) {
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",     [2] = "Q4_0",    [3] = "Q4_1",     [7] = "Q8_0",   [8] = "Q5_0",
        [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",  [13] = "Q3_K_L", [14] = "Q4_K_S",
        [15] = "Q4_K_M",  [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",
        [21] = "Q2_K_S",  [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S",  [25] = "IQ4_NL", [26] = "IQ3_S",
        [27] = "IQ3_M",   [28] = "IQ2_S",  [29] = "IQ2_M",  [30] = "IQ4_XS",  [31] = "IQ1_M",  [32] = "BF16",
        [36] = "TQ1_0",   [37] = "TQ2_0",
    };
    return t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

/* Without general.file_type: the tensor type holding the most bytes. */
static const char *dominant_type(const slm_gguf *g) {
    uint64_t bytes[SLM_TYPE_COUNT] = {0};
    int best = -1;
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        bytes[t->type] += t->nbytes;
        if (best < 0 || bytes[t->type] > bytes[best]) best = (int)t->type;
    }
    return best < 0 ? "" : slm_dtype_name((uint32_t)best);
}

void store_gguf_describe(const slm_gguf *g, char quant[32], char arch[32]) {
    uint64_t ft;
    const char *q = slm_gguf_get_uint(g, "general.file_type", &ft) ? ftype_name(ft) : NULL;
    snprintf(quant, 32, "%s", q ? q : dominant_type(g));
    slm_str a;
    if (slm_gguf_get_str(g, "general.architecture", &a))
        snprintf(arch, 32, "%.*s", (int)(a.len < 31 ? a.len : 31), a.ptr);
    else
        arch[0] = '\0';
}

void slm_store_describe_gguf(const slm_gguf *g, char quant[32], char arch[32]) { store_gguf_describe(g, quant, arch); }

slm_status store_gguf_info(const char *path, char quant[32], char arch[32], slm_error *err) {
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open(path, &g, err);
    if (st != SLM_OK)
        return slm_error_prefix(err, "not a valid GGUF file (slm stores and loads only GGUF; run 'slm scan' on it)");
    store_gguf_describe(g, quant, arch);
    slm_gguf_close(g);
    return SLM_OK;
}
