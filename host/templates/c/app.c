/*
 * The wflow task `{{name}}`: greets the name in its input.
 *
 * Input: {"name": "..."}. Output: {"greeting": "..."}. The greeting word
 * comes from the flow parameter `greeting`. sdk/wflow.h documents the SDK.
 */
/* For memmem. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflow.h"

/*
 * Copies the string value of `"name"` in a flat JSON object into `name`.
 * It reads only this skeleton's input shape; a task with real JSON input
 * would use a JSON library built for wasm32-wasi.
 */
static wflow_status read_name(wflow_bytes input, char *name, size_t capacity) {
    const char *text = (const char *)input.data;
    const char *key = "\"name\"";
    const char *found = memmem(text, input.len, key, strlen(key));
    if (found == NULL) {
        return wflow_fatal("input has no field `name`; give {\"name\": \"...\"}");
    }
    const char *end = text + input.len;
    const char *cursor = found + strlen(key);
    while (cursor < end && (*cursor == ' ' || *cursor == ':' || *cursor == '\n' || *cursor == '\t')) {
        cursor++;
    }
    if (cursor == end || *cursor != '"') {
        return wflow_fatal("input field `name` is not a string; give {\"name\": \"...\"}");
    }
    cursor++;
    size_t length = 0;
    while (cursor < end && *cursor != '"') {
        if (*cursor == '\\' || length + 1 == capacity) {
            return wflow_fatal("input field `name` has escapes or more than %zu bytes; give a short plain name",
                               capacity - 1);
        }
        name[length++] = *cursor++;
    }
    name[length] = '\0';
    return WFLOW_OK;
}

static wflow_status greet(const wflow_context *context, wflow_bytes input, wflow_output *output) {
    char name[256];
    WFLOW_TRY(read_name(input, name, sizeof name));
    if (strspn(name, " \t") == strlen(name)) {
        /* Fatal: the same input would fail again. Return wflow_retryable(...)
         * for a failure that a retry could help. */
        return wflow_fatal("input field `name` is empty; give a name to greet");
    }
    const char *word;
    WFLOW_TRY(wflow_param_text(context, "greeting", &word));
    wflow_info("%s: greeting %s", context->task, name);

    size_t size = strlen(word) + strlen(name) + sizeof(", !");
    char *greeting = malloc(size);
    if (greeting == NULL) {
        return wflow_fatal("out of memory for a greeting of %zu bytes", size);
    }
    snprintf(greeting, size, "%s, %s!", word, name);
    wflow_status status = wflow_output_printf(output, "{\"greeting\": ");
    if (status == WFLOW_OK) {
        status = wflow_output_json_string(output, greeting);
    }
    free(greeting);
    WFLOW_TRY(status);
    return wflow_output_printf(output, "}");
}

WFLOW_TASK(greet)
