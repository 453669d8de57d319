/* Table of BPE pre-tokenizers by tokenizer.ggml.pre name (pretok_table.c). */
#ifndef SLM_PRETOK_TABLE_H
#define SLM_PRETOK_TABLE_H

#include <stdbool.h>

typedef struct tok_pre_def {
    const char *name;
    const char *const *regex; /* NULL-terminated, applied in order */
    bool ignore_merges;       /* a word that is a whole token skips merging */
    bool add_bos;             /* default for tokenizer.ggml.add_bos_token */
} tok_pre_def;

/* NULL for a name llama.cpp does not know (or we do not support). */
const tok_pre_def *tok_pre_find(const char *name);

#endif
