/* Internal structures shared by the GGUF reader files: the parse cursor
 * (gguf_rd), the validated array index (gguf_arr), key/value entries, the
 * sorted name index and struct slm_gguf itself. Nothing here is public. */
#ifndef SLM_GGUF_INTERNAL_H
#define SLM_GGUF_INTERNAL_H

#include "slm/gguf.h"

#define GGUF_MAX_NESTING 8      /* depth limit for arrays of arrays */
#define GGUF_MAX_KEY_LEN 65535  /* bytes in a metadata key */
#define GGUF_MAX_NAME_LEN 63    /* bytes in a tensor name (ggml: 64 with NUL) */
#define GGUF_HEADER_SIZE 24     /* magic, version, n_tensors, n_kv */
#define GGUF_MIN_KV_SIZE 13     /* key length (8) + value type (4) + 1 byte */
#define GGUF_MIN_TENSOR_SIZE 32 /* name length, n_dims, one ne, type, offset */
#define GGUF_MIN_STR_SIZE 8     /* a string is at least its length */
#define GGUF_MIN_ARR_SIZE 12    /* a nested array is at least type + count */

/* A parse cursor over untrusted bytes; every read checks the bounds. */
typedef struct gguf_rd {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    const char *name; /* file name for messages */
    const char *ctx;  /* "key 'x'" or "tensor 'y'" for messages, or NULL */
    slm_error *err;
} gguf_rd;

/* Sets r->err to "NAME: offset OFF: [CTX: ]message" with SLM_ERR_FORMAT. */
slm_status gguf_fail(gguf_rd *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
slm_status gguf_read_u32(gguf_rd *r, const char *what, uint32_t *out);
slm_status gguf_read_u64(gguf_rd *r, const char *what, uint64_t *out);
/* Reads a length-prefixed string whose bytes lie inside the buffer. */
slm_status gguf_read_str(gguf_rd *r, const char *what, slm_str *out);
/* Writes a printable, truncated copy of s into buf for messages. */
const char *gguf_quote(char *buf, size_t size, const char *s, uint64_t len);
static inline uint64_t gguf_left(const gguf_rd *r) { return r->size - r->pos; }

uint32_t gguf_le32(const uint8_t *p);
uint64_t gguf_le64(const uint8_t *p);
/* Bytes of one element of a fixed-size value type; 0 for STRING, ARRAY and
 * unknown types. */
size_t gguf_vtype_size(uint32_t t);

/* A validated array. STRING arrays carry n+1 offsets (relative to data) of
 * each element's length prefix, so element i is O(1); ARRAY arrays carry
 * their n nested arrays. */
typedef struct gguf_arr {
    uint32_t elem_type;
    uint64_t n;
    const uint8_t *data;
    uint64_t *str_off; /* STRING only */
    struct gguf_arr *sub; /* ARRAY only */
} gguf_arr;

/* Parses an array value (element type, count, elements) at r->pos. On
 * failure *a is left empty (nothing to free). */
slm_status gguf_parse_array(gguf_rd *r, gguf_arr *a, int depth);
void gguf_arr_free(gguf_arr *a);

typedef struct gguf_kv {
    char *key; /* NUL-terminated copy */
    slm_gguf_vtype type;
    uint64_t key_off;   /* file offset of the entry, for messages */
    uint64_t val_off;   /* file offset of the value, for messages */
    const uint8_t *val; /* scalar bytes inside the buffer */
    slm_str str;        /* STRING */
    gguf_arr arr;       /* ARRAY */
} gguf_kv;

/* A name -> entry-number index (sorted array, binary search). The names
 * are owned elsewhere and must outlive the index. Use: init, add each
 * entry in order, build once, then find. */
typedef struct gguf_index_entry {
    const char *name;
    int64_t i;
} gguf_index_entry;

typedef struct gguf_index {
    gguf_index_entry *entries;
    int64_t n;
} gguf_index;

slm_status gguf_index_init(gguf_index *ix, int64_t capacity);
void gguf_index_add(gguf_index *ix, const char *name); /* entry number = order added */
/* Sorts; returns the entry number of the first (in file order) entry whose
 * name repeats an earlier one, or -1 when all names are distinct. */
int64_t gguf_index_build(gguf_index *ix);
int64_t gguf_index_find(const gguf_index *ix, const char *name);
void gguf_index_free(gguf_index *ix);

struct slm_gguf {
    char *path;
    const uint8_t *base;
    uint64_t size;
    void *map; /* mmap'ed region, NULL for open_memory */
    size_t map_len;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    gguf_index kv_index;
    int64_t n_tensors;
    slm_gguf_tensor *tensors;
    gguf_index tensor_index;
};

/* Parses and validates the tensor infos at r->pos, then places the data
 * section; fills g->tensors, g->tensor_index and g->data_offset. */
slm_status gguf_parse_tensors(gguf_rd *r, slm_gguf *g);
/* Parses one value of type t at r->pos into kv. */
slm_status gguf_parse_value(gguf_rd *r, uint32_t t, gguf_kv *kv);
/* Checks a key or tensor name: length limits and no NUL bytes. */
slm_status gguf_check_name(gguf_rd *r, uint64_t at, const char *what, slm_str s,
                           uint64_t max_len);

#endif
