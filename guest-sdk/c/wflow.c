/*
 * The C task SDK: implements the component's `run` export over the
 * wit-bindgen C bindings of wit/task.wit (the generated "task.h") and the
 * helpers declared in wflow.h.
 *
 * Ownership rules of the generated bindings (wit-bindgen 0.61):
 * - `exports_task_run` owns its arguments: the host allocated them with
 *   cabi_realloc, and this file frees them with the generated *_free
 *   functions once the task has returned.
 * - The ok list or error message returned from `exports_task_run` must be
 *   allocated with malloc, because the generated post-return function
 *   (cabi_post_run) frees it after the host has copied it. It frees only a
 *   non-empty one, so this file frees an empty buffer and returns NULL.
 * - Strings passed to the `log` import stay owned by the caller.
 */
#include "wflow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

struct wflow_output {
    uint8_t *data;
    size_t len;
    size_t capacity;
    /* Set when the buffer could not grow, so the task fails even if it
     * ignored the status of the write. */
    bool overflowed;
};

/* The error that the task recorded last. The host runs one call per
 * instance, and an instance is single-threaded, so a global is enough. */
static struct {
    char *message;
    bool retryable;
} pending_error;

static void *allocate_or_abort(size_t size) {
    void *memory = malloc(size);
    if (memory == NULL) {
        fprintf(stderr, "wflow: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return memory;
}

/* Returns the length of the valid UTF-8 sequence at `text[0]`, or 0 when
 * the byte does not start one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_sequence_len(const uint8_t *text, size_t available) {
    uint8_t lead = text[0];
    size_t len;
    uint8_t second_min = 0x80;
    uint8_t second_max = 0xBF;
    if (lead < 0x80) {
        return 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        if (lead == 0xE0) {
            second_min = 0xA0;
        } else if (lead == 0xED) {
            second_max = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        if (lead == 0xF0) {
            second_min = 0x90;
        } else if (lead == 0xF4) {
            second_max = 0x8F;
        }
    } else {
        return 0;
    }
    if (available < len || text[1] < second_min || text[1] > second_max) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (text[i] < 0x80 || text[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

static const char replacement_character[] = "\xEF\xBF\xBD";

/* Copies `text` into a malloc'd component-model string, replacing each
 * invalid UTF-8 byte with U+FFFD: lifting a string that is not UTF-8 makes
 * the host trap. */
static task_string_t utf8_string_copy(const char *text, size_t len) {
    const uint8_t *bytes = (const uint8_t *)text;
    size_t valid_len = 0;
    bool valid = true;
    for (size_t i = 0; i < len;) {
        size_t sequence = utf8_sequence_len(bytes + i, len - i);
        valid = valid && sequence != 0;
        valid_len += sequence != 0 ? sequence : sizeof(replacement_character) - 1;
        i += sequence != 0 ? sequence : 1;
    }
    task_string_t copy = {NULL, valid_len};
    if (valid_len == 0) {
        return copy;
    }
    copy.ptr = allocate_or_abort(valid_len);
    if (valid) {
        memcpy(copy.ptr, bytes, len);
        return copy;
    }
    size_t written = 0;
    for (size_t i = 0; i < len;) {
        size_t sequence = utf8_sequence_len(bytes + i, len - i);
        if (sequence != 0) {
            memcpy(copy.ptr + written, bytes + i, sequence);
            written += sequence;
            i += sequence;
        } else {
            memcpy(copy.ptr + written, replacement_character, sizeof(replacement_character) - 1);
            written += sizeof(replacement_character) - 1;
            i += 1;
        }
    }
    return copy;
}

/* Formats into a malloc'd, NUL-terminated buffer and stores its length in
 * `*len`. */
static char *format_message(size_t *len, const char *format, va_list arguments) {
    va_list measure;
    va_copy(measure, arguments);
    int needed = vsnprintf(NULL, 0, format, measure);
    va_end(measure);
    if (needed < 0) {
        static const char invalid[] = "wflow: invalid printf format string";
        char *message = allocate_or_abort(sizeof(invalid));
        memcpy(message, invalid, sizeof(invalid));
        *len = sizeof(invalid) - 1;
        return message;
    }
    char *message = allocate_or_abort((size_t)needed + 1);
    vsnprintf(message, (size_t)needed + 1, format, arguments);
    *len = (size_t)needed;
    return message;
}

/* Errors */

static void clear_pending_error(void) {
    free(pending_error.message);
    pending_error.message = NULL;
    pending_error.retryable = false;
}

static wflow_status record_error(bool retryable, const char *format, va_list arguments) {
    size_t len;
    char *message = format_message(&len, format, arguments);
    clear_pending_error();
    pending_error.message = message;
    pending_error.retryable = retryable;
    return retryable ? WFLOW_RETRYABLE : WFLOW_FATAL;
}

wflow_status wflow_fatal(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    wflow_status status = record_error(false, format, arguments);
    va_end(arguments);
    return status;
}

wflow_status wflow_retryable(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    wflow_status status = record_error(true, format, arguments);
    va_end(arguments);
    return status;
}

/* Output */

/* Makes room for `extra` more bytes, doubling the capacity so that appends
 * take amortised constant time. */
static wflow_status output_reserve(wflow_output *output, size_t extra) {
    if (output->overflowed) {
        return WFLOW_FATAL;
    }
    if (extra <= output->capacity - output->len) {
        return WFLOW_OK;
    }
    /* A length that overflows size_t becomes SIZE_MAX, a size that no
     * allocation can reach. */
    size_t needed = output->len + extra;
    if (needed < output->len) {
        needed = SIZE_MAX;
    }
    size_t capacity = output->capacity < 256 ? 256 : output->capacity;
    while (capacity < needed && capacity <= SIZE_MAX / 2) {
        capacity *= 2;
    }
    if (capacity < needed) {
        capacity = needed;
    }
    uint8_t *data = needed == SIZE_MAX ? NULL : realloc(output->data, capacity);
    if (data == NULL) {
        output->overflowed = true;
        return wflow_fatal("growing the task output from %zu to %zu bytes failed: out of memory", output->len, needed);
    }
    output->data = data;
    output->capacity = capacity;
    return WFLOW_OK;
}

wflow_status wflow_output_write(wflow_output *output, const void *data, size_t len) {
    if (len == 0) {
        return output->overflowed ? WFLOW_FATAL : WFLOW_OK;
    }
    WFLOW_TRY(output_reserve(output, len));
    memcpy(output->data + output->len, data, len);
    output->len += len;
    return WFLOW_OK;
}

wflow_status wflow_output_printf(wflow_output *output, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    va_list measure;
    va_copy(measure, arguments);
    int needed = vsnprintf(NULL, 0, format, measure);
    va_end(measure);
    if (needed < 0) {
        va_end(arguments);
        return wflow_fatal("wflow_output_printf: invalid format string \"%s\"", format);
    }
    /* vsnprintf writes a terminating NUL, so reserve one byte more than the
     * text and leave the NUL outside the output's length. */
    wflow_status status = output_reserve(output, (size_t)needed + 1);
    if (status == WFLOW_OK) {
        vsnprintf((char *)output->data + output->len, (size_t)needed + 1, format, arguments);
        output->len += (size_t)needed;
    }
    va_end(arguments);
    return status;
}

wflow_status wflow_output_json_string_len(wflow_output *output, const char *text, size_t len) {
    static const char hex_digits[] = "0123456789abcdef";
    const uint8_t *bytes = (const uint8_t *)text;
    WFLOW_TRY(wflow_output_write(output, "\"", 1));
    size_t run_start = 0;
    for (size_t i = 0; i < len;) {
        uint8_t byte = bytes[i];
        size_t sequence = utf8_sequence_len(bytes + i, len - i);
        bool plain = sequence > 1 || (sequence == 1 && byte >= 0x20 && byte != '"' && byte != '\\');
        if (plain) {
            i += sequence;
            continue;
        }
        /* Copy the run of plain bytes before this one in one write. */
        WFLOW_TRY(wflow_output_write(output, bytes + run_start, i - run_start));
        char escape[7];
        size_t escape_len = 2;
        escape[0] = '\\';
        switch (byte) {
        case '"': escape[1] = '"'; break;
        case '\\': escape[1] = '\\'; break;
        case '\b': escape[1] = 'b'; break;
        case '\f': escape[1] = 'f'; break;
        case '\n': escape[1] = 'n'; break;
        case '\r': escape[1] = 'r'; break;
        case '\t': escape[1] = 't'; break;
        default:
            if (sequence == 0) {
                memcpy(escape, replacement_character, sizeof(replacement_character) - 1);
                escape_len = sizeof(replacement_character) - 1;
            } else {
                memcpy(escape, "\\u00", 4);
                escape[4] = hex_digits[byte >> 4];
                escape[5] = hex_digits[byte & 0x0F];
                escape_len = 6;
            }
            break;
        }
        WFLOW_TRY(wflow_output_write(output, escape, escape_len));
        i += 1;
        run_start = i;
    }
    WFLOW_TRY(wflow_output_write(output, bytes + run_start, len - run_start));
    return wflow_output_write(output, "\"", 1);
}

wflow_status wflow_output_json_string(wflow_output *output, const char *text) {
    return wflow_output_json_string_len(output, text, strlen(text));
}

size_t wflow_output_len(const wflow_output *output) {
    return output->len;
}

/* Parameters */

static const char *param_type_name(wflow_param_type type) {
    switch (type) {
    case WFLOW_PARAM_TEXT: return "text";
    case WFLOW_PARAM_INTEGER: return "an integer";
    case WFLOW_PARAM_FLOAT: return "a float";
    case WFLOW_PARAM_BOOLEAN: return "a boolean";
    }
    return "of an unknown type";
}

/* The manifest declaration that makes the host pass a parameter of `type`. */
static const char *param_manifest_type(wflow_param_type type) {
    switch (type) {
    case WFLOW_PARAM_TEXT: return "`type = \"string\"` or `type = \"path\"`";
    case WFLOW_PARAM_INTEGER: return "`type = \"integer\"`";
    case WFLOW_PARAM_FLOAT: return "`type = \"float\"`";
    case WFLOW_PARAM_BOOLEAN: return "`type = \"boolean\"`";
    }
    return "a known type";
}

const wflow_param *wflow_param_find(const wflow_context *context, const char *name) {
    for (size_t i = 0; i < context->param_count; i++) {
        if (strcmp(context->params[i].name, name) == 0) {
            return &context->params[i];
        }
    }
    return NULL;
}

/* Finds parameter `name` of type `type`, or records a fatal error that
 * names the fix in the manifest. */
static wflow_status param_lookup(const wflow_context *context, const char *name, wflow_param_type type,
                                 const wflow_param **found) {
    *found = wflow_param_find(context, name);
    if (*found == NULL) {
        size_t passed_len = 0;
        for (size_t i = 0; i < context->param_count; i++) {
            passed_len += strlen(context->params[i].name) + 2;
        }
        char *passed = allocate_or_abort(passed_len + sizeof("none"));
        strcpy(passed, context->param_count == 0 ? "none" : "");
        for (size_t i = 0; i < context->param_count; i++) {
            if (i > 0) {
                strcat(passed, ", ");
            }
            strcat(passed, context->params[i].name);
        }
        wflow_status status = wflow_fatal(
            "parameter `%s` is not passed to task `%s` (passed: %s); add it to the task's `params` list in the manifest",
            name, context->task, passed);
        free(passed);
        return status;
    }
    /* An integer reads as a float too, as in the Rust SDK. */
    bool widened = type == WFLOW_PARAM_FLOAT && (*found)->type == WFLOW_PARAM_INTEGER;
    if ((*found)->type != type && !widened) {
        wflow_status status = wflow_fatal(
            "parameter `%s` of task `%s` is %s, but the task reads it as %s; declare it with %s in the manifest",
            name, context->task, param_type_name((*found)->type), param_type_name(type), param_manifest_type(type));
        *found = NULL;
        return status;
    }
    return WFLOW_OK;
}

wflow_status wflow_param_text(const wflow_context *context, const char *name, const char **value) {
    const wflow_param *param;
    *value = NULL;
    WFLOW_TRY(param_lookup(context, name, WFLOW_PARAM_TEXT, &param));
    if (strlen(param->text) != param->text_len) {
        return wflow_fatal(
            "parameter `%s` of task `%s` contains a NUL byte at byte %zu, which a C string cannot hold; "
            "read `text` and `text_len` from wflow_param_find(context, \"%s\") instead",
            name, context->task, strlen(param->text), name);
    }
    *value = param->text;
    return WFLOW_OK;
}

wflow_status wflow_param_integer(const wflow_context *context, const char *name, int64_t *value) {
    const wflow_param *param;
    *value = 0;
    WFLOW_TRY(param_lookup(context, name, WFLOW_PARAM_INTEGER, &param));
    *value = param->integer;
    return WFLOW_OK;
}

wflow_status wflow_param_float(const wflow_context *context, const char *name, double *value) {
    const wflow_param *param;
    *value = 0.0;
    WFLOW_TRY(param_lookup(context, name, WFLOW_PARAM_FLOAT, &param));
    *value = param->type == WFLOW_PARAM_INTEGER ? (double)param->integer : param->float_;
    return WFLOW_OK;
}

wflow_status wflow_param_boolean(const wflow_context *context, const char *name, bool *value) {
    const wflow_param *param;
    *value = false;
    WFLOW_TRY(param_lookup(context, name, WFLOW_PARAM_BOOLEAN, &param));
    *value = param->boolean;
    return WFLOW_OK;
}

/* Logging */

static void log_message(wflow_level level, const char *format, va_list arguments) {
    size_t len;
    char *message = format_message(&len, format, arguments);
    task_string_t line = utf8_string_copy(message, len);
    free(message);
    wflow_task_log_log((wflow_task_log_level_t)level, &line);
    task_string_free(&line);
}

void wflow_log(wflow_level level, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    log_message(level, format, arguments);
    va_end(arguments);
}

#define WFLOW_DEFINE_LOG_LEVEL(function, level)                                                                \
    void function(const char *format, ...) {                                                                   \
        va_list arguments;                                                                                     \
        va_start(arguments, format);                                                                           \
        log_message(level, format, arguments);                                                                 \
        va_end(arguments);                                                                                     \
    }

WFLOW_DEFINE_LOG_LEVEL(wflow_trace, WFLOW_TRACE)
WFLOW_DEFINE_LOG_LEVEL(wflow_debug, WFLOW_DEBUG)
WFLOW_DEFINE_LOG_LEVEL(wflow_info, WFLOW_INFO)
WFLOW_DEFINE_LOG_LEVEL(wflow_warn, WFLOW_WARN)
WFLOW_DEFINE_LOG_LEVEL(wflow_error, WFLOW_ERROR)

/* The `run` export */

/* The C copy of a context: one block of NUL-terminated strings after the
 * parameter array, freed with one call. */
typedef struct context_copy {
    wflow_context context;
    void *block;
} context_copy;

static char *copy_string(char **cursor, const task_string_t *source) {
    char *copy = *cursor;
    if (source->len > 0) {
        memcpy(copy, source->ptr, source->len);
    }
    copy[source->len] = '\0';
    *cursor += source->len + 1;
    return copy;
}

static void context_copy_init(context_copy *copy, const task_context_t *raw) {
    size_t count = raw->params.len;
    size_t strings_len = raw->flow.len + raw->task.len + raw->run_id.len + 3;
    for (size_t i = 0; i < count; i++) {
        const wflow_task_types_param_t *param = &raw->params.ptr[i];
        strings_len += param->name.len + 1;
        if (param->value.tag == WFLOW_TASK_TYPES_PARAM_VALUE_TEXT) {
            strings_len += param->value.val.text.len + 1;
        }
    }
    copy->block = allocate_or_abort(count * sizeof(wflow_param) + strings_len);
    wflow_param *params = copy->block;
    char *cursor = (char *)(params + count);

    copy->context.flow = copy_string(&cursor, &raw->flow);
    copy->context.task = copy_string(&cursor, &raw->task);
    copy->context.run_id = copy_string(&cursor, &raw->run_id);
    copy->context.attempt = raw->attempt;
    copy->context.param_count = count;
    copy->context.params = params;
    for (size_t i = 0; i < count; i++) {
        const wflow_task_types_param_t *source = &raw->params.ptr[i];
        wflow_param *param = &params[i];
        memset(param, 0, sizeof(*param));
        param->name = copy_string(&cursor, &source->name);
        switch (source->value.tag) {
        case WFLOW_TASK_TYPES_PARAM_VALUE_TEXT:
            param->type = WFLOW_PARAM_TEXT;
            param->text_len = source->value.val.text.len;
            param->text = copy_string(&cursor, &source->value.val.text);
            break;
        case WFLOW_TASK_TYPES_PARAM_VALUE_INTEGER:
            param->type = WFLOW_PARAM_INTEGER;
            param->integer = source->value.val.integer;
            break;
        case WFLOW_TASK_TYPES_PARAM_VALUE_FLOAT:
            param->type = WFLOW_PARAM_FLOAT;
            param->float_ = source->value.val.float_;
            break;
        default:
            param->type = WFLOW_PARAM_BOOLEAN;
            param->boolean = source->value.val.boolean;
            break;
        }
    }
}

/* Moves the pending error into `error` as a malloc'd, non-empty UTF-8
 * string, which the generated post-return function frees. */
static void take_pending_error(wflow_status status, task_task_error_t *error) {
    static const char no_message[] = "the task failed without a message; return wflow_fatal(...) or wflow_retryable(...)";
    const char *message = pending_error.message;
    if (message == NULL || message[0] == '\0') {
        message = no_message;
    }
    error->message = utf8_string_copy(message, strlen(message));
    error->retryable = status == WFLOW_RETRYABLE;
    clear_pending_error();
}

bool exports_task_run(task_context_t *raw_context, task_list_u8_t *input, task_list_u8_t *ret, task_task_error_t *error) {
    clear_pending_error();
    context_copy copy;
    context_copy_init(&copy, raw_context);
    task_context_free(raw_context);

    wflow_output output = {NULL, 0, 0, false};
    wflow_bytes bytes = {input->ptr, input->len};
    wflow_status status = wflow_task_main(&copy.context, bytes, &output);
    /* A reactor never runs exit(), so without this flush a last line
     * without a newline would stay in the stdio buffer and be lost. */
    fflush(NULL);
    if (status != WFLOW_OK && status != WFLOW_FATAL && status != WFLOW_RETRYABLE) {
        status = wflow_fatal("the task function returned %d, which is not a wflow_status; "
                             "return WFLOW_OK, wflow_fatal(...) or wflow_retryable(...)",
                             (int)status);
    }
    if (status == WFLOW_OK && output.overflowed) {
        /* output_reserve recorded the error, but the task ignored its status. */
        status = WFLOW_FATAL;
    }
    if (status == WFLOW_OK && pending_error.message != NULL) {
        wflow_warn("the task returned WFLOW_OK after recording an error, so the error is dropped: %s",
                   pending_error.message);
        clear_pending_error();
    }

    free(copy.block);
    task_list_u8_free(input);

    if (status != WFLOW_OK) {
        free(output.data);
        take_pending_error(status, error);
        return false;
    }
    if (output.len == 0) {
        free(output.data);
        output.data = NULL;
    }
    ret->ptr = output.data;
    ret->len = output.len;
    return true;
}
