/* dlq: the dead-letter record of contract §10. */
#ifndef COMPLAINTD_DLQ_H
#define COMPLAINTD_DLQ_H

#include <stddef.h>
#include <stdint.h>

#define DLQ_PAYLOAD_MAX 65536

/* Returns a malloc'd JSON object
 * {"schema":"dlq.v1","reason":..,"detail":..,"source_topic":..,"partition":..,
 *  "offset":..,"payload":..} where payload is the original bytes as a string:
 * cut at DLQ_PAYLOAD_MAX bytes (on a character boundary, "payload_truncated":
 * true added), each byte that is not part of valid UTF-8 written as the four
 * characters \xNN. NULL only when out of memory. */
char *dlq_encode(const char *reason, const char *detail, const char *topic, int32_t partition, int64_t offset,
                 const void *payload, size_t len);

/* A message key as text, for the dead_letters table (a text column) and the
 * logs: the key itself when it is well-formed UTF-8 without NUL or
 * backslash, else "\\x" and two lowercase hex digits per byte (PostgreSQL's
 * bytea hex form). The two never collide: a key with a backslash is always
 * written in hex. Malloc'd; NULL only when out of memory. */
char *dlq_key_text(const void *key, size_t len);

/* The key bytes of a text made by dlq_key_text, decoded in place (the bytes
 * are never longer than the text); returns their length. A text that is not
 * in the hex form is its own key. */
size_t dlq_key_bytes(char *text);

#endif
