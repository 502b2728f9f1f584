/*
 * Write wflow tasks in C.
 *
 * A task is one function from its input bytes to its output bytes, marked
 * with WFLOW_TASK:
 *
 *     #include "wflow.h"
 *
 *     static wflow_status count(const wflow_context *context, wflow_bytes input, wflow_output *output) {
 *         int64_t limit;
 *         WFLOW_TRY(wflow_param_integer(context, "limit", &limit));
 *         if (input.len == 0) {
 *             return wflow_fatal("input is empty; expected at least one byte");
 *         }
 *         wflow_info("%s: %zu bytes", context->task, input.len);
 *         return wflow_output_printf(output, "{\"bytes\": %zu}", input.len);
 *     }
 *
 *     WFLOW_TASK(count)
 *
 * Build it from the repository root into a component:
 *
 *     ./scripts/install-guest-tools c                   # once
 *     ./scripts/build-c-task count.c target/c/count.wasm
 *
 * The build generates the wit-bindgen C bindings of wit/task.wit, compiles
 * the sources with this SDK for wasm32-wasi and wraps the module into a
 * component with the WASI preview 1 reactor adapter.
 *
 * Memory: the context, its strings and the input bytes stay valid until the
 * task function returns, and the SDK frees them afterwards. The output
 * buffer belongs to the SDK, which hands it to the host. A task frees only
 * what it allocated itself.
 *
 * Errors: return wflow_fatal(...) for a failure that running the task again
 * cannot help, such as invalid input, and wflow_retryable(...) for one that
 * a retry could help. The host retries only retryable errors, as the
 * manifest's `retry` table allows. abort() and other traps end the attempt
 * as a trap, which the host also retries.
 *
 * Text passed to the host (log lines and error messages) must be UTF-8: the
 * SDK replaces each invalid byte with U+FFFD, because the host rejects a
 * string that is not UTF-8.
 *
 * printf and fprintf(stderr, ...) also work: the host copies stdout and
 * stderr into the run log, up to a size cap per task. The SDK flushes both
 * when the task function returns.
 */
#ifndef WFLOW_H
#define WFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WFLOW_PRINTF(format_index, first_argument) __attribute__((format(printf, format_index, first_argument)))
#define WFLOW_MUST_USE __attribute__((warn_unused_result))
#else
#define WFLOW_PRINTF(format_index, first_argument)
#define WFLOW_MUST_USE
#endif

/* The outcome of a task or of an SDK call. */
typedef enum wflow_status {
    WFLOW_OK = 0,
    /* A failure that running the task again cannot help. */
    WFLOW_FATAL = 1,
    /* A failure that running the task again could help. */
    WFLOW_RETRYABLE = 2,
} wflow_status;

/* Returns the status of `expression` from the calling function unless it is WFLOW_OK. */
#define WFLOW_TRY(expression)                                                                                  \
    do {                                                                                                       \
        wflow_status wflow_try_status_ = (expression);                                                         \
        if (wflow_try_status_ != WFLOW_OK) {                                                                   \
            return wflow_try_status_;                                                                          \
        }                                                                                                      \
    } while (0)

/* A read-only byte range, such as the task's input. */
typedef struct wflow_bytes {
    const uint8_t *data;
    size_t len;
} wflow_bytes;

/* The type of a parameter's value. A manifest `string` or `path` parameter
 * arrives as text, and a path arrives absolute. */
typedef enum wflow_param_type {
    WFLOW_PARAM_TEXT,
    WFLOW_PARAM_INTEGER,
    WFLOW_PARAM_FLOAT,
    WFLOW_PARAM_BOOLEAN,
} wflow_param_type;

/* One parameter that the manifest passes to the task. Only the field that
 * matches `type` is set; the others are zero. */
typedef struct wflow_param {
    const char *name;
    wflow_param_type type;
    /* NUL-terminated. `text_len` counts the bytes before the terminator,
     * so it is the full length even when the text contains a NUL byte. */
    const char *text;
    size_t text_len;
    int64_t integer;
    /* The trailing underscore avoids the C keyword `float`. */
    double float_;
    bool boolean;
} wflow_param;

/* The run that the task is part of. Strings are NUL-terminated UTF-8. */
typedef struct wflow_context {
    /* The flow's name from its manifest. */
    const char *flow;
    /* The task's id in the manifest. */
    const char *task;
    /* The id of this flow run, unique per run. */
    const char *run_id;
    /* The attempt number, starting at 1. */
    uint32_t attempt;
    /* The parameters listed in the task's `params`, sorted by name. */
    size_t param_count;
    const wflow_param *params;
} wflow_context;

/* The task's output buffer, which grows as the task writes to it. */
typedef struct wflow_output wflow_output;

/* The signature of a task function. */
typedef wflow_status wflow_task_function(const wflow_context *context, wflow_bytes input, wflow_output *output);

/* Defines the component's task as `function`. Use it exactly once per
 * component: a missing WFLOW_TASK makes the link fail with "undefined
 * symbol: wflow_task_main". */
#define WFLOW_TASK(function)                                                                                   \
    wflow_status wflow_task_main(const wflow_context *context, wflow_bytes input, wflow_output *output) {     \
        return (function)(context, input, output);                                                             \
    }

wflow_status wflow_task_main(const wflow_context *context, wflow_bytes input, wflow_output *output);

/* Errors. Each records `format` as the task's error message and returns the
 * status to return from the task. A later call replaces the message. */
wflow_status wflow_fatal(const char *format, ...) WFLOW_PRINTF(1, 2);
wflow_status wflow_retryable(const char *format, ...) WFLOW_PRINTF(1, 2);

/* Output. Each call appends to the output. When the buffer cannot grow, the
 * call records an error and returns WFLOW_FATAL, and the task fails even if
 * it ignores that status. */
wflow_status wflow_output_write(wflow_output *output, const void *data, size_t len);
wflow_status wflow_output_printf(wflow_output *output, const char *format, ...) WFLOW_PRINTF(2, 3);
/* Appends `text` as a quoted JSON string: quotes, backslashes and control
 * characters are escaped, and each invalid UTF-8 byte becomes U+FFFD. */
wflow_status wflow_output_json_string(wflow_output *output, const char *text);
wflow_status wflow_output_json_string_len(wflow_output *output, const char *text, size_t len);
/* Returns the number of bytes written so far. */
size_t wflow_output_len(const wflow_output *output);

/* Parameters. wflow_param_find returns NULL when the manifest does not pass
 * parameter `name` to the task, which suits optional parameters. The typed
 * getters store the value in `*value`. When the parameter is missing or has
 * another type, they record an error that names the parameter and the fix
 * in the manifest, set `*value` to zero and return WFLOW_FATAL.
 * wflow_param_float also reads an integer parameter. */
const wflow_param *wflow_param_find(const wflow_context *context, const char *name);
wflow_status wflow_param_text(const wflow_context *context, const char *name, const char **value) WFLOW_MUST_USE;
wflow_status wflow_param_integer(const wflow_context *context, const char *name, int64_t *value) WFLOW_MUST_USE;
wflow_status wflow_param_float(const wflow_context *context, const char *name, double *value) WFLOW_MUST_USE;
wflow_status wflow_param_boolean(const wflow_context *context, const char *name, bool *value) WFLOW_MUST_USE;

/* Log levels, from the most detailed to the most severe. */
typedef enum wflow_level {
    WFLOW_TRACE,
    WFLOW_DEBUG,
    WFLOW_INFO,
    WFLOW_WARN,
    WFLOW_ERROR,
} wflow_level;

/* Logging. Each call appends one line to the host's run log for this
 * attempt. */
void wflow_log(wflow_level level, const char *format, ...) WFLOW_PRINTF(2, 3);
void wflow_trace(const char *format, ...) WFLOW_PRINTF(1, 2);
void wflow_debug(const char *format, ...) WFLOW_PRINTF(1, 2);
void wflow_info(const char *format, ...) WFLOW_PRINTF(1, 2);
void wflow_warn(const char *format, ...) WFLOW_PRINTF(1, 2);
void wflow_error(const char *format, ...) WFLOW_PRINTF(1, 2);

#ifdef __cplusplus
}
#endif

#endif
