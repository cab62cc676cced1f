/* replay: the original message inside a dead letter (contract §10), for
 * putting it back on its source topic (complaintctl dlq replay).
 *
 * A dlq.v1 record carries the message as a JSON string: the original bytes
 * where they were UTF-8, every other byte (and NUL) as the four characters
 * \xNN (lib/dlq), cut at 64 KiB with "payload_truncated": true. Decoding
 * turns the \xNN back into bytes. A JSON text never holds a backslash
 * outside an escape pair (\\, \", \n, \uXXXX, ...), so the decoder reads
 * the payload pair by pair and takes \x only where a pair starts: the
 * bytes come back exactly for every message that was JSON, valid or not,
 * except a lone backslash right before a non-UTF-8 byte. A truncated
 * record cannot give the message back at all. */
#ifndef COMPLAINTD_REPLAY_H
#define COMPLAINTD_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RPL_OK = 0,
    RPL_BAD,       /* not a dlq.v1 record, or no payload */
    RPL_TRUNCATED, /* payload_truncated: the original is lost beyond 64 KiB */
    RPL_NOMEM,
} RplStatus;

typedef struct RplMessage {
    char *payload; /* the original bytes (malloc'd, NUL after them) */
    size_t len;
    size_t escaped;     /* bytes that came back from \xNN */
    char *source_topic; /* as the record says (malloc'd; "" when absent) */
    int32_t partition;  /* -1 when absent */
    int64_t offset;     /* -1 when absent */
    char reason[64];
} RplMessage;

/* Reads a dlq.v1 record (the text published on the dead-letter topic).
 * On RPL_BAD and RPL_TRUNCATED err says why; out holds nothing to free
 * unless RPL_OK (free it with rpl_message_free; rpl_message_free on a
 * zeroed RplMessage is a no-op). */
__attribute__((warn_unused_result)) RplStatus rpl_decode(const char *record, size_t len, RplMessage *out, char *err,
                                                         size_t errlen);
void rpl_message_free(RplMessage *m);

/* The \xNN decoding alone: writes the bytes of the escaped text s (n
 * bytes) to out, which must hold n bytes; returns how many, and the count
 * of bytes that were escaped in *escaped (may be NULL). */
size_t rpl_unescape(const char *s, size_t n, char *out, size_t *escaped);

/* Parses "TOPIC:PARTITION:OFFSET" (a topic name has no ':'): -1 with err
 * set when it is not one. topic must hold 250 bytes. */
#define RPL_TOPIC_MAX 249
__attribute__((warn_unused_result)) int rpl_parse_coord(const char *s, char *topic, int32_t *partition, int64_t *offset,
                                                        char *err, size_t errlen);

#endif
