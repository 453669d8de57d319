/* `slm pull`: the two registry protocols.
 *  Ollama: GET {registry}/v2/{ns}/{model}/manifests/{tag} (an OCI-style
 *    manifest whose layers carry mediaType, digest, size), then each layer
 *    from {registry}/v2/{ns}/{model}/blobs/{digest}; the layer of type
 *    application/vnd.ollama.image.model is the GGUF.
 *  Hugging Face: GET {endpoint}/api/models/{org}/{repo}/tree/main lists the
 *    files with their LFS sha256 and size; the file is chosen by name or by
 *    quantization and fetched from {endpoint}/{org}/{repo}/resolve/main/FILE
 *    (which redirects to a CDN; X-Linked-Etag repeats the sha256).
 * Everything from the network is validated before use (see store.h). */
#include "store_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#define MANIFEST_MAX (1u << 20)
#define LISTING_MAX (16u << 20)
#define SMALL_LAYER_MAX (16u << 20)
#define OCI_ACCEPT "application/vnd.docker.distribution.manifest.v2+json"

static void event(const slm_pull_opts *o, const char *phase, const char *what) {
    if (!o || !o->progress) return;
    slm_pull_event ev = {.phase = phase, .what = what};
    o->progress(&ev, o->progress_ud);
}

/* Base URL from option, environment or default, without a trailing '/'. */
static void base_url(char *out, size_t cap, const char *opt, const char *env, const char *def) {
    const char *v = opt && *opt ? opt : getenv(env);
    snprintf(out, cap, "%s", v && *v ? v : def);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/') out[--n] = '\0';
}

/* GET url and parse JSON; HTTP errors become clear messages. */
static slm_status get_json(store_http *h, const char *url, const char *accept, size_t max, const char *what,
                           json_t **out, slm_error *err) {
    store_resp r;
    *out = NULL;
    slm_status st = store_http_request(h, url, accept, 0, NULL, NULL, max, &r, err);
    if (st == SLM_OK && r.status != 200) st = store_http_status_error(&r, what, err);
    if (st == SLM_OK) {
        json_error_t je;
        *out = json_loadb(r.body ? r.body : "", r.body_len, JSON_REJECT_DUPLICATES, &je);
        if (!*out) st = slm_error_set(err, SLM_ERR_FORMAT, "%s: malformed JSON from %s: %s", what, url, je.text);
    }
    store_resp_free(&r);
    return st;
}

/* The remote header check, unless the blob is already in the store. */
static slm_status preflight(slm_store *s, store_http *h, const char *url, const char *digest, uint64_t size,
                            slm_store_entry *e, slm_error *err) {
    char path[STORE_PATH_MAX];
    const slm_pull_opts *o = h->opts;
    bool have = slm_store_blob_path(s, digest, path, sizeof path, NULL) == SLM_OK && access(path, F_OK) == 0;
    if (have && !(o && o->header_only)) return SLM_OK;
    return store_preflight(h, url, size, e->name, o, e->quant, e->arch, err);
}

static slm_status check_pin(const slm_model_ref *ref, const char *digest, slm_error *err) {
    if (ref->pin[0] && strcmp(ref->pin, digest + 7) != 0)
        return slm_error_set(err, SLM_ERR_FORMAT,
                             "version pinning: %s is now %s in the registry, not the pinned sha256:%s; nothing "
                             "was downloaded", ref->name, digest, ref->pin);
    return SLM_OK;
}

/* ---- Ollama ------------------------------------------------------------- */

typedef struct layer {
    const char *media;
    const char *digest;
    uint64_t size;
} layer;

static slm_status read_layer(json_t *l, size_t i, layer *out, slm_error *err) {
    json_t *size = json_object_get(l, "size");
    out->media = json_string_value(json_object_get(l, "mediaType"));
    out->digest = json_string_value(json_object_get(l, "digest"));
    if (!out->media || !out->digest || !json_is_integer(size) || json_integer_value(size) < 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "malformed manifest: layer %zu lacks mediaType, digest or size", i);
    if (!slm_digest_ok(out->digest))
        return slm_error_set(err, SLM_ERR_FORMAT, "malformed manifest: layer %zu has an unsafe or invalid digest "
                                                  "'%.80s' (expected sha256: and 64 hex digits)", i, out->digest);
    out->size = (uint64_t)json_integer_value(size);
    return SLM_OK;
}

static bool small_layer_type(const char *m) {
    static const char *const kinds[] = {"template", "params", "license", "system", "messages"};
    static const char prefix[] = "application/vnd.ollama.image.";
    size_t n = sizeof prefix - 1;
    if (strncmp(m, prefix, n) != 0) return false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(m + n, kinds[i]) == 0) return true;
    return false;
}

/* Finds the single model layer; collects the small layers' digests. */
static slm_status scan_layers(json_t *man, layer *model, json_t *extra, slm_error *err) {
    json_t *layers = json_object_get(man, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0 || json_array_size(layers) > 64)
        return slm_error_set(err, SLM_ERR_FORMAT, "malformed manifest: no layers array");
    int n_model = 0;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        layer l;
        slm_status st = read_layer(json_array_get(layers, i), i, &l, err);
        if (st != SLM_OK) return st;
        if (strcmp(l.media, "application/vnd.ollama.image.model") == 0) {
            *model = l;
            n_model++;
        } else if (small_layer_type(l.media) && l.size <= SMALL_LAYER_MAX) {
            json_array_append_new(extra, json_pack("{s:s,s:s,s:I}", "mediaType", l.media, "digest", l.digest,
                                                   "size", (json_int_t)l.size));
        }
    }
    if (n_model != 1)
        return slm_error_set(err, SLM_ERR_FORMAT, "manifest has %d model layers (application/vnd.ollama.image.model), "
                                                  "expected exactly 1", n_model);
    return SLM_OK;
}

static slm_status pull_layers(slm_store *s, store_http *h, const char *blob_base, const layer *model, json_t *extra,
                              slm_store_entry *e, slm_error *err) {
    char url[2600];
    size_t i;
    json_t *v;
    snprintf(url, sizeof url, "%s/%s", blob_base, model->digest);
    slm_status st = preflight(s, h, url, model->digest, model->size, e, err);
    if (st != SLM_OK || (h->opts && h->opts->header_only)) return st;
    json_array_foreach(extra, i, v) {
        const char *d = json_string_value(json_object_get(v, "digest"));
        snprintf(url, sizeof url, "%s/%s", blob_base, d);
        store_blob_req b = {.url = url, .digest = d, .what = json_string_value(json_object_get(v, "mediaType")),
                            .size = (uint64_t)json_integer_value(json_object_get(v, "size"))};
        if ((st = store_download_blob(s, h, &b, err)) != SLM_OK) return st;
    }
    snprintf(url, sizeof url, "%s/%s", blob_base, model->digest);
    store_blob_req b = {.url = url, .digest = model->digest, .size = model->size, .what = e->name, .gguf = true,
                        .quant = e->quant, .arch = e->arch};
    return store_download_blob(s, h, &b, err);
}

static slm_status pull_ollama(slm_store *s, const slm_model_ref *ref, const slm_pull_opts *o, slm_store_entry *e,
                              slm_error *err) {
    char base[1024], url[2400], blob_base[2400];
    base_url(base, sizeof base, o ? o->registry : NULL, "SLM_REGISTRY", "https://registry.ollama.ai");
    store_http h;
    store_http_init(&h, base, NULL, o);
    snprintf(url, sizeof url, "%s/v2/%s/%s/manifests/%s", base, ref->ns, ref->repo, ref->tag);
    snprintf(blob_base, sizeof blob_base, "%s/v2/%s/%s/blobs", base, ref->ns, ref->repo);
    event(o, "manifest", ref->name);
    json_t *man = NULL, *extra = json_array();
    layer model = {0};
    slm_status st = get_json(&h, url, OCI_ACCEPT, MANIFEST_MAX, ref->name, &man, err);
    if (st == SLM_OK) st = scan_layers(man, &model, extra, err);
    if (st == SLM_OK) st = check_pin(ref, model.digest, err);
    if (st == SLM_OK) {
        snprintf(e->digest, sizeof e->digest, "%s", model.digest);
        e->size = model.size;
        snprintf(e->source, sizeof e->source, "%.511s", url); /* informational */
        st = pull_layers(s, &h, blob_base, &model, extra, e, err);
    }
    json_t *digests = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(extra, i, v) json_array_append(digests, json_object_get(v, "digest"));
    if (st == SLM_OK && !(o && o->header_only)) st = store_put_manifest(s, e, digests, err);
    json_decref(digests);
    json_decref(extra);
    json_decref(man);
    return st;
}

/* ---- Hugging Face ------------------------------------------------------- */

/* True when `quant` appears in file name f as a whole token
 * (e.g. "model-Q4_K_M.gguf", "model.q4_k_m.gguf"; not "IQ4_K_M"). */
static bool name_has_quant(const char *f, const char *quant) {
    size_t qn = strlen(quant), fn = strlen(f);
    for (size_t i = 0; i + qn <= fn; i++) {
        if (strncasecmp(f + i, quant, qn) != 0) continue;
        bool left = i == 0 || !isalnum((unsigned char)f[i - 1]);
        bool right = !isalnum((unsigned char)f[i + qn]) && f[i + qn] != '_';
        if (left && right) return true;
    }
    return false;
}

static bool is_gguf_name(const char *p) {
    size_t n = strlen(p);
    return n > 5 && strcasecmp(p + n - 5, ".gguf") == 0;
}

/* Picks the listing entry for ref (by file name or quantization). */
static slm_status pick_file(json_t *tree, const slm_model_ref *ref, json_t **out, slm_error *err) {
    if (!json_is_array(tree)) return slm_error_set(err, SLM_ERR_FORMAT, "malformed repository listing (not an array)");
    char seen[512] = "";
    for (size_t i = 0; i < json_array_size(tree); i++) {
        json_t *f = json_array_get(tree, i);
        const char *path = json_string_value(json_object_get(f, "path"));
        if (!path || !is_gguf_name(path)) continue;
        bool match = ref->file[0] ? strcmp(path, ref->file) == 0 : name_has_quant(path, ref->tag);
        if (match) {
            *out = f;
            return SLM_OK;
        }
        if (strlen(seen) + strlen(path) + 3 < sizeof seen) {
            strcat(seen, seen[0] ? ", " : "");
            strcat(seen, path);
        }
    }
    return slm_error_set(err, SLM_ERR_IO, "%s: no GGUF file %s%s in the repository (GGUF files there: %s)", ref->name,
                         ref->file[0] ? "named " : "for quantization ", ref->file[0] ? ref->file : ref->tag,
                         seen[0] ? seen : "none");
}

/* Validates the chosen entry: a plain file name and an LFS sha256. */
static slm_status hf_entry(json_t *f, char *file, size_t cap, char *digest, uint64_t *size, slm_error *err) {
    const char *path = json_string_value(json_object_get(f, "path"));
    if (!slm_name_component_ok(path, cap - 1))
        return slm_error_set(err, SLM_ERR_FORMAT, "refusing unsafe file name '%.200s' from the repository listing", path);
    snprintf(file, cap, "%s", path);
    json_t *lfs = json_object_get(f, "lfs");
    const char *oid = json_string_value(json_object_get(lfs, "oid"));
    json_t *sz = json_object_get(lfs, "size");
    snprintf(digest, 80, "sha256:%.70s", oid ? oid : "");
    if (!oid || !slm_digest_ok(digest) || !json_is_integer(sz) || json_integer_value(sz) < 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: the hub reports no valid LFS sha256/size; refusing an "
                                                  "unverifiable download", path);
    *size = (uint64_t)json_integer_value(sz);
    return SLM_OK;
}

static slm_status pull_hf(slm_store *s, const slm_model_ref *ref, const slm_pull_opts *o, slm_store_entry *e,
                          slm_error *err) {
    char base[1024], url[2400], file[160];
    base_url(base, sizeof base, o ? o->hf_endpoint : NULL, "HF_ENDPOINT", "https://huggingface.co");
    const char *token = o && o->hf_token ? o->hf_token : getenv("HF_TOKEN");
    store_http h;
    store_http_init(&h, base, token, o);
    snprintf(url, sizeof url, "%s/api/models/%s/%s/tree/main", base, ref->ns, ref->repo);
    event(o, "manifest", ref->name);
    json_t *tree = NULL, *f = NULL;
    slm_status st = get_json(&h, url, "application/json", LISTING_MAX, ref->name, &tree, err);
    if (st == SLM_OK) st = pick_file(tree, ref, &f, err);
    if (st == SLM_OK) st = hf_entry(f, file, sizeof file, e->digest, &e->size, err);
    if (st == SLM_OK) st = check_pin(ref, e->digest, err);
    if (st == SLM_OK) {
        snprintf(url, sizeof url, "%s/%s/%s/resolve/main/%s", base, ref->ns, ref->repo, file);
        snprintf(e->source, sizeof e->source, "%.511s", url); /* informational */
        st = preflight(s, &h, url, e->digest, e->size, e, err);
        store_blob_req b = {.url = url, .digest = e->digest, .size = e->size, .what = e->name, .gguf = true,
                            .quant = e->quant, .arch = e->arch};
        if (st == SLM_OK && !(o && o->header_only)) st = store_download_blob(s, &h, &b, err);
    }
    if (st == SLM_OK && !(o && o->header_only)) st = store_put_manifest(s, e, NULL, err);
    json_decref(tree);
    return st;
}

slm_status slm_store_pull(slm_store *s, const char *text, const slm_pull_opts *opts, slm_store_entry *out,
                          slm_error *err) {
    slm_model_ref ref;
    slm_store_entry e;
    memset(&e, 0, sizeof e);
    slm_status st = slm_ref_parse(text, &ref, err);
    if (st != SLM_OK) return st;
    snprintf(e.name, sizeof e.name, "%s", ref.name);
    e.pinned = ref.pin[0] != '\0';
    e.modified = (int64_t)time(NULL);
    st = ref.kind == SLM_REF_HF ? pull_hf(s, &ref, opts, &e, err) : pull_ollama(s, &ref, opts, &e, err);
    if (st != SLM_OK) return slm_error_prefix(err, "pull %s", ref.name);
    if (!(opts && opts->header_only)) event(opts, "done", e.name);
    if (out) *out = e;
    return SLM_OK;
}

static uint64_t env_u64(const char *name) {
    const char *v = getenv(name);
    char *end = NULL;
    unsigned long long x = v && *v ? strtoull(v, &end, 10) : 0;
    return end && *end == '\0' ? (uint64_t)x : 0;
}

void slm_pull_env_opts(slm_pull_opts *o) {
    uint64_t c = env_u64("SLM_PULL_CONNECTIONS");
    if (!o->connections && c > 0 && c <= 64) o->connections = (int)c;
    if (!o->parallel_min_bytes) o->parallel_min_bytes = env_u64("SLM_PULL_PARALLEL_MIN");
    if (!o->chunk_bytes) o->chunk_bytes = env_u64("SLM_PULL_CHUNK_BYTES");
}
