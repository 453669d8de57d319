/* Internals of the tool-call module: spans of raw JSON text. Arguments
 * are reported as the model wrote them with the whitespace outside strings
 * removed (not re-serialised), so a call streamed piece by piece and the
 * same call parsed whole give byte-identical argument strings. */
#ifndef SLM_TOOLCALL_INTERNAL_H
#define SLM_TOOLCALL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* End (one past) of the JSON value starting at t[i] (no leading
 * whitespace), or SIZE_MAX when it is not complete in t[0..len). Meant for
 * text jansson already accepted: it checks nesting and strings only. */
size_t tc_json_skip(const char *t, size_t len, size_t i);

/* Span [*va, *vb) of member `key` of the object spanning t[a..b); false
 * when absent. Keys are compared as written (no unescaping). */
bool tc_json_member(const char *t, size_t a, size_t b, const char *key, size_t *va, size_t *vb);

/* Next element of the array spanning t[a..b): *pos starts at a + 1; each call
 * sets [*ea, *eb) and advances *pos; false after the last. */
bool tc_json_next_element(const char *t, size_t b, size_t *pos, size_t *ea, size_t *eb);

/* Whitespace outside strings removed (malloc'ed, NUL-terminated). */
char *tc_json_minify(const char *t, size_t n);

#endif
