/* dlq: the dead-letter record.
 *
 * A dead letter must always be writable, whatever the message was: the
 * payload is forced into valid UTF-8 (JSON strings cannot carry raw bytes)
 * and cut so that one huge message cannot make an even larger record. The
 * \xNN form is chosen over U+FFFD so that an operator can still see, and
 * rebuild, the exact bytes the producer sent. */
#include "dlq.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 character at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when the byte at p
 * does not start one within the n bytes available. */
static size_t utf8_char_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c == 0xe0) {
        need = 3;
        lo = 0xa0;
    } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
        need = 3;
    } else if (c == 0xed) {
        need = 3;
        hi = 0x9f;
    } else if (c == 0xf0) {
        need = 4;
        lo = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
        need = 4;
    } else if (c == 0xf4) {
        need = 4;
        hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return need;
}

/* Builds a JSON string from the first `limit` bytes of p, never splitting a
 * character. Bytes outside well-formed UTF-8, and NUL (which too many
 * consumers read as the end of the string), become the four characters
 * \xNN. *cut says whether anything was left out. */
static json_t *escaped_string(const void *src, size_t len, size_t limit, bool *cut)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = src;
    size_t i = 0, k = 0;

    if (p == NULL)
        len = 0;
    if (limit > len)
        limit = len;
    char *out = malloc(4 * limit + 1);
    if (out == NULL)
        return NULL;
    while (i < limit) {
        size_t n = p[i] == 0 ? 0 : utf8_char_len(p + i, len - i);
        if (n == 0) {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[p[i] >> 4];
            out[k++] = hex[p[i] & 0x0f];
            i++;
        } else if (i + n > limit) {
            break; /* a whole character that does not fit */
        } else {
            for (size_t j = 0; j < n; j++)
                out[k++] = (char)p[i + j];
            i += n;
        }
    }
    *cut = i < len;
    json_t *s = json_stringn(out, k);
    free(out);
    return s;
}

static json_t *text(const char *s)
{
    bool cut;
    return escaped_string(s, s != NULL ? strlen(s) : 0, SIZE_MAX, &cut);
}

/* json_object_set_new takes the value even on failure, and a NULL value
 * (an allocation that failed) makes it fail. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0;
}

char *dlq_encode(const char *reason, const char *detail, const char *topic, int32_t partition, int64_t offset,
                 const void *payload, size_t len)
{
    bool cut = false;
    char *res = NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;

    /* reason, detail and topic come from our own code and configuration,
     * but go through the same escaping so a bad byte can never make the
     * record unwritable. Insertion order is the key order of the output. */
    if (!put(o, "schema", json_string("dlq.v1")) || !put(o, "reason", text(reason)) ||
        !put(o, "detail", text(detail)) || !put(o, "source_topic", text(topic)) ||
        !put(o, "partition", json_integer(partition)) || !put(o, "offset", json_integer(offset)) ||
        !put(o, "payload", escaped_string(payload, len, DLQ_PAYLOAD_MAX, &cut)))
        goto fail;
    if (cut && !put(o, "payload_truncated", json_true()))
        goto fail;
    res = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

fail:
    json_decref(o);
    return res;
}

char *dlq_key_text(const void *key, size_t len)
{
    const unsigned char *k = key;
    bool plain = true;
    for (size_t i = 0, c; plain && i < len; i += c) {
        c = k[i] == 0 || k[i] == '\\' ? 0 : utf8_char_len(k + i, len - i);
        plain = c > 0;
    }
    size_t need = plain ? len : 2 + 2 * len;
    char *out = malloc(need + 1);
    if (!out)
        return NULL;
    if (plain) {
        memcpy(out, k, len);
    } else {
        static const char hex[] = "0123456789abcdef";
        out[0] = '\\';
        out[1] = 'x';
        for (size_t i = 0; i < len; i++) {
            out[2 + 2 * i] = hex[k[i] >> 4];
            out[3 + 2 * i] = hex[k[i] & 15];
        }
    }
    out[need] = '\0';
    return out;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

size_t dlq_key_bytes(char *text)
{
    size_t n = strlen(text);
    if (n < 2 || text[0] != '\\' || text[1] != 'x' || n % 2 != 0)
        return n;
    for (size_t i = 2; i < n; i++)
        if (hex_digit(text[i]) < 0)
            return n;
    size_t m = (n - 2) / 2;
    for (size_t i = 0; i < m; i++)
        text[i] = (char)(hex_digit(text[2 + 2 * i]) << 4 | hex_digit(text[3 + 2 * i]));
    text[m] = '\0';
    return m;
}
