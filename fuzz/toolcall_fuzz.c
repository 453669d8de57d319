/* libFuzzer target for the tool-call parser (chat/toolcall_parse.c), which
 * reads untrusted model output. Input: one byte choosing the format, then
 * the text. Checks: no crash; every call has a non-empty name and string
 * arguments; the content is never longer than the text; parsing the same
 * text twice gives the same result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/toolcall.h"

static char *run(slm_tool_format f, const char *text, size_t len, json_t **calls) {
    char *content = NULL;
    if (slm_toolcall_parse(f, text, len, &content, calls, NULL) != SLM_OK) abort();
    if (!content || !json_is_array(*calls) || strlen(content) > len) abort();
    size_t i;
    json_t *c;
    json_array_foreach(*calls, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name || !*name || !json_is_string(json_object_get(c, "arguments"))) abort();
    }
    return content;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    slm_tool_format f = (slm_tool_format)(data[0] % 7);
    const char *text = (const char *)data + 1;
    json_t *a = NULL, *b = NULL;
    char *ca = run(f, text, size - 1, &a);
    char *cb = run(f, text, size - 1, &b);
    if (strcmp(ca, cb) != 0 || !json_equal(a, b)) abort();
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);
    return 0;
}
