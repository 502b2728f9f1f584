/*
 * Size, row count and CRC-32 of a JSON array of rows, as a wflow task in C.
 *
 * Input: a JSON array, such as the output of the flights extract task.
 * Output: {"bytes": N, "rows": R, "crc32": "xxxxxxxx"}, where crc32 is the
 * CRC-32 of the input bytes as zlib's crc32() computes it (IEEE 802.3
 * polynomial, reflected), in lowercase hex.
 *
 * Build: ./scripts/build-c-task examples/hello-c/checksum.c target/c/checksum.wasm
 */
#include <inttypes.h>
#include <stdio.h>

#include "wflow.h"

/* 512 levels of nesting fit in a 64-byte stack of bits, far more than rows
 * of a data file need. */
#define MAX_DEPTH 512

static uint32_t crc32_table[256];

static void crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        crc32_table[i] = crc;
    }
}

static uint32_t crc32(const uint8_t *data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc = crc32_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

static int is_json_whitespace(uint8_t byte) {
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

static int ends_scalar(uint8_t byte) {
    return is_json_whitespace(byte) || byte == ',' || byte == ']' || byte == '}' || byte == '[' || byte == '{' ||
           byte == '"';
}

/* Shows a byte in an error message: printable ASCII as itself, anything
 * else as a hex escape. */
static const char *describe_byte(uint8_t byte, char buffer[8]) {
    if (byte >= 0x20 && byte < 0x7F) {
        snprintf(buffer, 8, "`%c`", byte);
    } else {
        snprintf(buffer, 8, "0x%02x", byte);
    }
    return buffer;
}

/*
 * Counts the elements of the top-level JSON array in `input`.
 *
 * The scanner tracks strings, escapes and bracket nesting, checks that the
 * brackets match and that the array's own commas separate values, but does
 * not validate the values themselves: a malformed number inside a row goes
 * unnoticed.
 */
static wflow_status count_rows(wflow_bytes input, size_t *rows) {
    const uint8_t *data = input.data;
    size_t len = input.len;
    size_t i = 0;
    char shown[8];
    *rows = 0;

    while (i < len && is_json_whitespace(data[i])) {
        i++;
    }
    if (i == len) {
        return wflow_fatal("input is empty; expected a JSON array of rows, such as the output of the extract task");
    }
    if (data[i] != '[') {
        return wflow_fatal("input is not a JSON array: it starts with %s at byte %zu; "
                           "pass a JSON array of rows, such as the output of the extract task",
                           describe_byte(data[i], shown), i);
    }

    /* Bit d of `is_object` is set when the bracket at depth d + 1 is `{`. */
    uint8_t is_object[MAX_DEPTH / 8] = {0};
    size_t depth = 0;
    int in_string = 0;
    int escaped = 0;
    /* At depth 1: 1 after `[` or a comma, where an element must follow. */
    int expect_element = 1;
    /* At depth 1: 1 right after `[`, where `]` may close an empty array. */
    int array_empty = 1;

    for (; i < len; i++) {
        uint8_t byte = data[i];
        if (in_string) {
            if (escaped) {
                escaped = 0;
            } else if (byte == '\\') {
                escaped = 1;
            } else if (byte == '"') {
                in_string = 0;
            }
            continue;
        }
        if (is_json_whitespace(byte)) {
            continue;
        }
        if (depth == 1 && byte != ']' && byte != '}') {
            if (byte == ',') {
                if (expect_element) {
                    return wflow_fatal("input is not a valid JSON array: `,` at byte %zu follows no element", i);
                }
                expect_element = 1;
                continue;
            }
            if (!expect_element) {
                return wflow_fatal("input is not a valid JSON array: a `,` is missing before byte %zu", i);
            }
            *rows += 1;
            expect_element = 0;
            array_empty = 0;
            if (byte != '[' && byte != '{' && byte != '"') {
                /* A number, true, false or null: skip to its end, so that a
                 * second scalar without a comma shows up as an error. */
                while (i + 1 < len && !ends_scalar(data[i + 1])) {
                    i++;
                }
                continue;
            }
        }
        if (depth == 1 && byte == ']' && expect_element && !array_empty) {
            return wflow_fatal("input is not a valid JSON array: a trailing `,` comes before `]` at byte %zu", i);
        }
        if (byte == '"') {
            in_string = 1;
        } else if (byte == '[' || byte == '{') {
            if (depth == MAX_DEPTH) {
                return wflow_fatal("input nests brackets deeper than %d levels, the most this task supports, at byte %zu",
                                   MAX_DEPTH, i);
            }
            if (byte == '{') {
                is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
            } else {
                is_object[depth / 8] &= (uint8_t)~(1u << (depth % 8));
            }
            depth++;
        } else if (byte == ']' || byte == '}') {
            if (depth == 0) {
                return wflow_fatal("input is not a valid JSON array: %s at byte %zu closes no bracket",
                                   describe_byte(byte, shown), i);
            }
            depth--;
            int opened_object = (is_object[depth / 8] >> (depth % 8)) & 1;
            if (opened_object != (byte == '}')) {
                return wflow_fatal("input is not a valid JSON array: %s at byte %zu closes a `%c`",
                                   describe_byte(byte, shown), i, opened_object ? '{' : '[');
            }
            if (depth == 0) {
                i++;
                break;
            }
        }
    }

    if (depth > 0 || in_string) {
        return wflow_fatal("input ends inside the JSON array after %zu bytes; the file may be truncated", len);
    }
    while (i < len && is_json_whitespace(data[i])) {
        i++;
    }
    if (i < len) {
        return wflow_fatal("input has data after the JSON array: %s at byte %zu", describe_byte(data[i], shown), i);
    }
    return WFLOW_OK;
}

static wflow_status checksum(const wflow_context *context, wflow_bytes input, wflow_output *output) {
    size_t rows;
    WFLOW_TRY(count_rows(input, &rows));
    crc32_init();
    uint32_t crc = crc32(input.data, input.len);
    wflow_info("%s: %zu bytes, %zu rows", context->task, input.len, rows);
    return wflow_output_printf(output, "{\"bytes\": %zu, \"rows\": %zu, \"crc32\": \"%08" PRIx32 "\"}", input.len,
                               rows, crc);
}

WFLOW_TASK(checksum)
