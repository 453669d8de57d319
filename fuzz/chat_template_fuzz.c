/* Fuzz target for the chat template interpreter: the input is a template.
 * It is parsed and, when it parses, rendered against a small fixed
 * conversation with tight limits. Any input must end in SLM_OK or a clean
 * error: no crash, no sanitizer report, no hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm/chat.h"

static const char CONVERSATION[] =
    "[{\"role\":\"system\",\"content\":\"sys\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi \\u00e9\"}]},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"abc123XYZ\",\"type\":\"function\","
    "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1.5,\"y\":[true,null]}}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"abc123XYZ\",\"content\":\"42\"}]";
static const char TOOLS[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"}}}}}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *messages, *tools, *extra;
    if (!messages) {
        messages = json_loads(CONVERSATION, 0, NULL);
        tools = json_loads(TOOLS, 0, NULL);
        extra = json_pack("{s:b}", "enable_thinking", 1);
    }
    if (size > 1 << 20) return 0;
    slm_chat_template *t = NULL;
    slm_error err;
    if (slm_chat_template_parse((const char *)data, size, &t, &err) != SLM_OK) return 0;
    slm_chat_limits lim = {.max_output_bytes = 1 << 16, .max_loop_iterations = 20000,
                           .max_recursion_depth = 16, .max_seconds = 1.0};
    char *out = NULL;
    size_t len = 0;
    if (slm_chat_template_render(t, messages, tools, true, "<s>", "</s>", extra, &lim, &out, &len, &err) == SLM_OK) {
        if (strlen(out) > len) abort(); /* the length must cover the string */
        free(out);
    }
    slm_chat_template_free(t);
    return 0;
}
