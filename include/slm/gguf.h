/* slm GGUF: a fully validated, mmap-based reader and a writer for GGUF v2/v3.
 *
 * The reader checks everything before anything is used: magic, version,
 * counts against file size, string and array lengths, element-count x
 * type-size overflow, tensor data inside the file and aligned, known type
 * ids, duplicate keys and tensor names. A failure is an slm_error naming the
 * file, the byte offset and what was wrong. After a successful open every
 * accessor below is safe: it never reads outside the mapping. */
#ifndef SLM_GGUF_H
#define SLM_GGUF_H

#include "slm/base.h"
#include "slm/dtype.h"

typedef enum slm_gguf_vtype {
    SLM_GGUF_UINT8 = 0,
    SLM_GGUF_INT8 = 1,
    SLM_GGUF_UINT16 = 2,
    SLM_GGUF_INT16 = 3,
    SLM_GGUF_UINT32 = 4,
    SLM_GGUF_INT32 = 5,
    SLM_GGUF_FLOAT32 = 6,
    SLM_GGUF_BOOL = 7,
    SLM_GGUF_STRING = 8,
    SLM_GGUF_ARRAY = 9,
    SLM_GGUF_UINT64 = 10,
    SLM_GGUF_INT64 = 11,
    SLM_GGUF_FLOAT64 = 12,
    SLM_GGUF_VTYPE_COUNT
} slm_gguf_vtype;

#define SLM_GGUF_MAX_DIMS 4
#define SLM_GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the file: not NUL-terminated, may contain any bytes. */
typedef struct slm_str {
    const char *ptr;
    uint64_t len;
} slm_str;

/* An array value (possibly nested). Elements are read with the
 * slm_gguf_arr_* accessors, which check the index and element type. */
typedef struct slm_gguf_array {
    slm_gguf_vtype elem_type;
    uint64_t n;
    const void *impl; /* reader-private */
} slm_gguf_array;

typedef struct slm_gguf_tensor {
    const char *name;        /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[SLM_GGUF_MAX_DIMS]; /* elements per dim, unused dims = 1 */
    slm_dtype type;
    uint64_t offset;  /* relative to the data section */
    uint64_t nbytes;
    const void *data; /* inside the mapping, aligned */
} slm_gguf_tensor;

typedef struct slm_gguf slm_gguf;

/* Opens and validates a file (mmapped read-only). */
slm_status slm_gguf_open(const char *path, slm_gguf **out, slm_error *err);
/* Parses a buffer the caller keeps alive (fuzzing, tests). `name` is used
 * in error messages. */
slm_status slm_gguf_open_memory(const void *data, size_t size, const char *name,
                                slm_gguf **out, slm_error *err);
void slm_gguf_close(slm_gguf *g);

const char *slm_gguf_path(const slm_gguf *g);
uint32_t slm_gguf_version(const slm_gguf *g);
uint64_t slm_gguf_file_size(const slm_gguf *g);
uint32_t slm_gguf_alignment(const slm_gguf *g);
uint64_t slm_gguf_data_offset(const slm_gguf *g);

/* Metadata. Index-based access plus lookup by key (-1 when absent). */
int64_t slm_gguf_n_kv(const slm_gguf *g);
const char *slm_gguf_kv_key(const slm_gguf *g, int64_t i); /* NUL-terminated */
slm_gguf_vtype slm_gguf_kv_type(const slm_gguf *g, int64_t i);
int64_t slm_gguf_find_key(const slm_gguf *g, const char *key);

/* Typed getters by key: false when the key is absent or of another type.
 * get_int accepts any integer type whose value fits int64_t (UINT64 above
 * INT64_MAX fails); get_uint any non-negative integer; get_float FLOAT32
 * or FLOAT64. */
bool slm_gguf_get_int(const slm_gguf *g, const char *key, int64_t *out);
bool slm_gguf_get_uint(const slm_gguf *g, const char *key, uint64_t *out);
bool slm_gguf_get_float(const slm_gguf *g, const char *key, double *out);
bool slm_gguf_get_bool(const slm_gguf *g, const char *key, bool *out);
bool slm_gguf_get_str(const slm_gguf *g, const char *key, slm_str *out);
bool slm_gguf_get_arr(const slm_gguf *g, const char *key, slm_gguf_array *out);
/* The same by index. */
bool slm_gguf_kv_int(const slm_gguf *g, int64_t i, int64_t *out);
bool slm_gguf_kv_float(const slm_gguf *g, int64_t i, double *out);
bool slm_gguf_kv_bool(const slm_gguf *g, int64_t i, bool *out);
bool slm_gguf_kv_str(const slm_gguf *g, int64_t i, slm_str *out);
bool slm_gguf_kv_arr(const slm_gguf *g, int64_t i, slm_gguf_array *out);
bool slm_gguf_kv_uint(const slm_gguf *g, int64_t i, uint64_t *out); /* as get_uint */

/* Array elements: false when i >= n or the element type does not match. */
bool slm_gguf_arr_int(const slm_gguf_array *a, uint64_t i, int64_t *out);
bool slm_gguf_arr_uint(const slm_gguf_array *a, uint64_t i, uint64_t *out); /* as get_uint */
bool slm_gguf_arr_float(const slm_gguf_array *a, uint64_t i, double *out);
bool slm_gguf_arr_bool(const slm_gguf_array *a, uint64_t i, bool *out);
bool slm_gguf_arr_str(const slm_gguf_array *a, uint64_t i, slm_str *out);
bool slm_gguf_arr_arr(const slm_gguf_array *a, uint64_t i, slm_gguf_array *out);
/* Raw pointer to the elements of a fixed-size-element array (not STRING or
 * ARRAY), little-endian as in the file; NULL otherwise. The pointer is not
 * necessarily aligned for the element type: copy with memcpy. */
const void *slm_gguf_arr_data(const slm_gguf_array *a);

/* Tensors. */
int64_t slm_gguf_n_tensors(const slm_gguf *g);
const slm_gguf_tensor *slm_gguf_tensor_at(const slm_gguf *g, int64_t i);
const slm_gguf_tensor *slm_gguf_find_tensor(const slm_gguf *g, const char *name);
uint64_t slm_gguf_tensor_n_elements(const slm_gguf_tensor *t);

const char *slm_gguf_vtype_name(slm_gguf_vtype t);

/* ---- Writer ---------------------------------------------------------- */
typedef struct slm_gguf_writer slm_gguf_writer;

slm_gguf_writer *slm_gguf_writer_new(void); /* version 3, alignment 32 */
void slm_gguf_writer_free(slm_gguf_writer *w);
void slm_gguf_writer_set_version(slm_gguf_writer *w, uint32_t version);
void slm_gguf_writer_set_alignment(slm_gguf_writer *w, uint32_t alignment); /* also writes general.alignment when != 32 */
/* (set_version and set_alignment take any value, 0 alignment excepted, so
 * tests can write invalid files; a general.alignment key set explicitly
 * replaces the automatic one.) Setters return SLM_ERR_INVALID_ARG for bad
 * arguments: a value out of the type's range, a tensor whose nbytes does
 * not match, a duplicate tensor name, a name over 63 bytes. */

/* Scalars (keys are copied; setting a key twice replaces the value). */
slm_status slm_gguf_writer_set_uint(slm_gguf_writer *w, const char *key, slm_gguf_vtype t, uint64_t v);
slm_status slm_gguf_writer_set_int(slm_gguf_writer *w, const char *key, slm_gguf_vtype t, int64_t v);
slm_status slm_gguf_writer_set_f32(slm_gguf_writer *w, const char *key, float v);
slm_status slm_gguf_writer_set_f64(slm_gguf_writer *w, const char *key, double v);
slm_status slm_gguf_writer_set_bool(slm_gguf_writer *w, const char *key, bool v);
slm_status slm_gguf_writer_set_str(slm_gguf_writer *w, const char *key, const char *v);
/* Arrays of fixed-size elements (data in host order, little-endian). */
slm_status slm_gguf_writer_set_arr(slm_gguf_writer *w, const char *key, slm_gguf_vtype elem,
                                   const void *data, uint64_t n);
slm_status slm_gguf_writer_set_arr_str(slm_gguf_writer *w, const char *key,
                                       const char *const *strs, uint64_t n);
/* Tensors: data is copied; nbytes must equal the size implied by ne/type. */
/* Any value, given as the bytes that follow the value type in the file
 * (for an array: u32 element type, u64 count, elements). Not validated:
 * this is how tests write nested arrays and deliberately malformed values. */
slm_status slm_gguf_writer_set_raw(slm_gguf_writer *w, const char *key, slm_gguf_vtype type,
                                   const void *payload, size_t size);
slm_status slm_gguf_writer_add_tensor(slm_gguf_writer *w, const char *name, slm_dtype type,
                                      uint32_t n_dims, const int64_t *ne, const void *data,
                                      uint64_t nbytes);
slm_status slm_gguf_writer_write_file(slm_gguf_writer *w, const char *path, slm_error *err);
/* Serialises to a malloc'ed buffer the caller frees. */
slm_status slm_gguf_writer_write_memory(slm_gguf_writer *w, void **buf, size_t *size, slm_error *err);

#endif
