/* The store index: one JSON manifest per model name in manifests/, blobs
 * by digest in blobs/. Manifest fields: name, digest, size, quant, arch,
 * source, modified, pinned, blobs (every digest the model references, for
 * garbage collection on rm). */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

slm_status slm_store_open(const char *home, slm_store **out, slm_error *err) {
    *out = NULL;
    char def[STORE_PATH_MAX];
    if (!home || !*home) home = getenv("SLM_HOME");
    if (!home || !*home) {
        const char *h = getenv("HOME");
        if (!h || !*h) return slm_error_set(err, SLM_ERR_INVALID_ARG, "neither SLM_HOME nor HOME is set");
        snprintf(def, sizeof def, "%s/.slm", h);
        home = def;
    }
    slm_store *s = calloc(1, sizeof *s);
    if (!s) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (strlen(home) >= sizeof s->home) {
        free(s);
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "store path too long: %s", home);
    }
    strcpy(s->home, home);
    snprintf(s->blobs, sizeof s->blobs, "%s/blobs", s->home);
    snprintf(s->manifests, sizeof s->manifests, "%s/manifests", s->home);
    snprintf(s->partial, sizeof s->partial, "%s/partial", s->home);
    slm_status st = store_mkdir(s->home, err);
    if (st == SLM_OK) st = store_mkdir(s->blobs, err);
    if (st == SLM_OK) st = store_mkdir(s->manifests, err);
    if (st == SLM_OK) st = store_mkdir(s->partial, err);
    if (st != SLM_OK) {
        free(s);
        return st;
    }
    *out = s;
    return SLM_OK;
}

void slm_store_close(slm_store *s) { free(s); }
const char *slm_store_home(const slm_store *s) { return s->home; }

slm_status slm_store_blob_path(const slm_store *s, const char *digest, char *path, size_t cap, slm_error *err) {
    if (!slm_digest_ok(digest)) return slm_error_set(err, SLM_ERR_FORMAT, "bad digest '%.80s'", digest);
    if ((size_t)snprintf(path, cap, "%s/sha256-%s", s->blobs, digest + 7) >= cap)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "path too long");
    return SLM_OK;
}

slm_status slm_store_adopt_blob(slm_store *s, const char *tmp_path, const char *digest, slm_error *err) {
    char path[STORE_PATH_MAX + 80];
    slm_status st = slm_store_blob_path(s, digest, path, sizeof path, err);
    if (st != SLM_OK) return st;
    int fd = open(tmp_path, O_RDONLY);
    if (fd < 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", tmp_path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 || rename(tmp_path, path) != 0)
        return slm_error_set(err, SLM_ERR_IO, "cannot move %s into the store: %s", tmp_path, strerror(errno));
    fd = open(s->blobs, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return SLM_OK;
}

static json_t *entry_to_json(const slm_store_entry *e, json_t *extra_blobs) {
    json_t *blobs = json_array();
    json_array_append_new(blobs, json_string(e->digest));
    size_t i;
    json_t *v;
    json_array_foreach(extra_blobs, i, v) json_array_append(blobs, v);
    return json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:b,s:o}", "name", e->name, "digest", e->digest, "size",
                     (json_int_t)e->size, "quant", e->quant, "arch", e->arch, "source", e->source, "modified",
                     (json_int_t)e->modified, "pinned", e->pinned, "blobs", blobs);
}

slm_status store_put_manifest(slm_store *s, const slm_store_entry *e, json_t *extra_blobs, slm_error *err) {
    char file[SLM_NAME_MAX * 3 + 8];
    if (!slm_digest_ok(e->digest)) return slm_error_set(err, SLM_ERR_FORMAT, "bad digest '%.80s'", e->digest);
    if (!store_encode_name(e->name, file, sizeof file - 5))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad model name '%s'", e->name);
    strcat(file, ".json");
    json_t *o = entry_to_json(e, extra_blobs);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_status st = store_write_atomic(s->manifests, file, text, strlen(text), err);
    free(text);
    return st;
}

slm_status slm_store_put(slm_store *s, const slm_store_entry *e, slm_error *err) {
    return store_put_manifest(s, e, NULL, err);
}

static void copy_str(char *dst, size_t cap, json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Parses one manifest file; a malformed one is an error naming the file. */
static slm_status read_manifest(const char *path, slm_store_entry *e, json_t **blobs, slm_error *err) {
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o) return slm_error_set(err, SLM_ERR_FORMAT, "%s: line %d: %s", path, je.line, je.text);
    memset(e, 0, sizeof *e);
    copy_str(e->name, sizeof e->name, o, "name");
    copy_str(e->digest, sizeof e->digest, o, "digest");
    copy_str(e->quant, sizeof e->quant, o, "quant");
    copy_str(e->arch, sizeof e->arch, o, "arch");
    copy_str(e->source, sizeof e->source, o, "source");
    json_int_t size = json_integer_value(json_object_get(o, "size"));
    e->size = size > 0 ? (uint64_t)size : 0;
    e->modified = (int64_t)json_integer_value(json_object_get(o, "modified"));
    e->pinned = json_is_true(json_object_get(o, "pinned"));
    if (blobs) *blobs = json_incref(json_object_get(o, "blobs"));
    json_decref(o);
    if (!e->name[0] || !slm_digest_ok(e->digest))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: manifest lacks a valid name or digest", path);
    return SLM_OK;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const slm_store_entry *)a)->name, ((const slm_store_entry *)b)->name);
}

static bool is_manifest_file(const char *n) {
    size_t len = strlen(n);
    return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".json") == 0;
}

slm_status slm_store_list(slm_store *s, slm_store_entry **out, size_t *n_out, slm_error *err) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(s->manifests);
    if (!d) return slm_error_set(err, SLM_ERR_IO, "%s: %s", s->manifests, strerror(errno));
    size_t n = 0, cap = 0;
    slm_store_entry *v = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_manifest_file(de->d_name)) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            slm_store_entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv) break;
            v = nv;
            cap = nc;
        }
        char path[STORE_PATH_MAX + 512];
        snprintf(path, sizeof path, "%s/%s", s->manifests, de->d_name);
        if (read_manifest(path, &v[n], NULL, NULL) == SLM_OK) n++; /* skip foreign/broken files */
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp_entry);
    *out = v;
    *n_out = n;
    return SLM_OK;
}

/* Manifest path for a user-typed name (canonicalised). */
static slm_status manifest_path(const slm_store *s, const char *name, char *path, size_t cap, slm_model_ref *ref,
                                slm_error *err) {
    slm_status st = slm_ref_parse(name, ref, err);
    if (st != SLM_OK) return st;
    char file[SLM_NAME_MAX * 3 + 8];
    if (!store_encode_name(ref->name, file, sizeof file))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad model name '%s'", name);
    snprintf(path, cap, "%s/%s.json", s->manifests, file);
    return SLM_OK;
}

slm_status slm_store_lookup(slm_store *s, const char *name, slm_store_entry *out, slm_error *err) {
    char path[STORE_PATH_MAX + SLM_NAME_MAX * 3 + 16];
    slm_model_ref ref;
    slm_status st = manifest_path(s, name, path, sizeof path, &ref, err);
    if (st != SLM_OK) return st;
    if (access(path, F_OK) != 0)
        return slm_error_set(err, SLM_ERR_IO, "model '%s' is not in the store (%s); try 'slm pull %s' or 'slm list'",
                             ref.name, s->home, ref.name);
    st = read_manifest(path, out, NULL, err);
    if (st == SLM_OK && ref.pin[0] && strcmp(out->digest + 7, ref.pin) != 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "version pinning: '%s' is %s in the store, not the pinned sha256:%s",
                             ref.name, out->digest, ref.pin);
    return st;
}

slm_status slm_store_verify(slm_store *s, const slm_store_entry *e, slm_error *err) {
    char path[STORE_PATH_MAX + 80], hex[SLM_DIGEST_HEX + 1];
    slm_status st = slm_store_blob_path(s, e->digest, path, sizeof path, err);
    if (st == SLM_OK) st = store_sha256_file(path, hex, NULL, err);
    if (st != SLM_OK) return slm_error_prefix(err, "verifying '%s'", e->name);
    if (strcmp(hex, e->digest + 7) != 0)
        return slm_error_set(err, SLM_ERR_FORMAT,
                             "'%s': blob %s no longer matches its digest (it hashes to sha256:%s): the file was "
                             "modified or corrupted; run 'slm rm %s' and pull it again",
                             e->name, e->digest, hex, e->name);
    return SLM_OK;
}

/* Every digest referenced by any manifest, as one JSON object (a set). */
static json_t *referenced_digests(slm_store *s) {
    json_t *set = json_object();
    DIR *d = opendir(s->manifests);
    if (!d) return set;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_manifest_file(de->d_name)) continue;
        char path[STORE_PATH_MAX + 512];
        snprintf(path, sizeof path, "%s/%s", s->manifests, de->d_name);
        slm_store_entry e;
        json_t *blobs = NULL;
        if (read_manifest(path, &e, &blobs, NULL) == SLM_OK) json_object_set_new(set, e.digest, json_true());
        size_t i;
        json_t *v;
        json_array_foreach(blobs, i, v) if (json_is_string(v)) json_object_set_new(set, json_string_value(v), json_true());
        json_decref(blobs);
    }
    closedir(d);
    return set;
}

/* Removes blobs no manifest references. */
static void collect_garbage(slm_store *s) {
    json_t *keep = referenced_digests(s);
    DIR *d = opendir(s->blobs);
    if (!d) {
        json_decref(keep);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "sha256-", 7) != 0) continue;
        char digest[80];
        snprintf(digest, sizeof digest, "sha256:%.70s", de->d_name + 7);
        if (json_object_get(keep, digest)) continue;
        char path[STORE_PATH_MAX + 512];
        snprintf(path, sizeof path, "%s/%s", s->blobs, de->d_name);
        unlink(path);
    }
    closedir(d);
    json_decref(keep);
}

slm_status slm_store_remove(slm_store *s, const char *name, slm_error *err) {
    char path[STORE_PATH_MAX + SLM_NAME_MAX * 3 + 16];
    slm_model_ref ref;
    slm_status st = manifest_path(s, name, path, sizeof path, &ref, err);
    if (st != SLM_OK) return st;
    if (unlink(path) != 0)
        return slm_error_set(err, SLM_ERR_IO, "model '%s' is not in the store (%s)", ref.name,
                             errno == ENOENT ? "no such name" : strerror(errno));
    collect_garbage(s);
    return SLM_OK;
}

slm_status slm_store_resolve(slm_store *s, const char *name_or_path, char *path, size_t cap, slm_error *err) {
    struct stat st_;
    if (stat(name_or_path, &st_) == 0) {
        if ((size_t)snprintf(path, cap, "%s", name_or_path) >= cap)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "path too long");
        return SLM_OK;
    }
    slm_store_entry e;
    slm_status st = slm_store_lookup(s, name_or_path, &e, err);
    if (st != SLM_OK) return st;
    if (e.pinned && (st = slm_store_verify(s, &e, err)) != SLM_OK)
        return slm_error_prefix(err, "version pinning: refusing to load '%s'", e.name);
    st = slm_store_blob_path(s, e.digest, path, cap, err);
    if (st == SLM_OK && access(path, R_OK) != 0)
        return slm_error_set(err, SLM_ERR_IO, "'%s': blob %s is missing from the store; pull it again", e.name,
                             e.digest);
    return st;
}
