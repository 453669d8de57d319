/* Unicode tables for WordPiece (generated into unicode_tables.c). */
#ifndef SLM_UNICODE_TABLES_H
#define SLM_UNICODE_TABLES_H

#include <stdint.h>

enum { TOK_UC_NONE, TOK_UC_LETTER, TOK_UC_NUMBER, TOK_UC_PUNCT, TOK_UC_SYMBOL, TOK_UC_MARK,
       TOK_UC_SEPARATOR, TOK_UC_CONTROL };

typedef struct tok_uc_range { uint32_t start; uint8_t cls; } tok_uc_range; /* until the next start */
typedef struct tok_uc_pair { uint32_t cp, to; } tok_uc_pair;
typedef struct tok_uc_nfd { uint32_t first, last, to; } tok_uc_nfd;

extern const tok_uc_range tok_uc_class[];
extern const unsigned tok_uc_class_n;
extern const tok_uc_pair tok_uc_lower[];
extern const unsigned tok_uc_lower_n;
extern const tok_uc_nfd tok_uc_nfd_first[];
extern const unsigned tok_uc_nfd_n;

int tok_uc_class_of(uint32_t cp);
uint32_t tok_uc_tolower(uint32_t cp);
uint32_t tok_uc_nfd_first_of(uint32_t cp);

#endif
