/* outbox: publishing what PostgreSQL has committed. Alerts and dead letters
 * reach the outbox only once their batch is committed, each with its place
 * in one sequence (`seq`, the rows' column too); it hands them to the
 * idempotent producer in order, keeps every message the producer refuses or
 * fails to deliver and retries it with backoff (never dropping one, never
 * leaving one for a restart), and keeps the acknowledged watermark: every
 * message up to outbox_acked() is on the broker. The watermark goes to
 * PostgreSQL with a later batch, and a start republishes what lies above it.
 *
 * Back-pressure: outbox_room() is the number of places below `outbox_max`
 * (messages not yet acknowledged by the broker); the pipeline builds no new
 * batch, and so stops consuming, while the messages of the batches it has
 * built would fill them. */
#ifndef COMPLAINTD_OUTBOX_H
#define COMPLAINTD_OUTBOX_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "cfg.h"
#include "effects.h"
#include "hist.h"

typedef enum { OUT_ALERT, OUT_DLQ } OutKind;

/* One message for the alerts or the dead-letter topic, with what its
 * PostgreSQL row needs. */
typedef struct OutMsg {
    struct OutMsg *next;      /* in seq order, until acknowledged */
    struct OutMsg *next_send; /* in the queue of messages to hand to the producer */
    int64_t seq;
    OutKind kind;
    char *key;     /* NULL: no key */
    size_t key_len; /* its bytes (a dead letter's may hold NUL) */
    char *key_text; /* a dead letter's key as the table keeps it (dlq_key_text) */
    char *payload; /* NUL-terminated */
    size_t len;
    /* alert */
    char *alert_id;
    AlertStatus status;
    AlertType type;
    char *ticket_id; /* NULL when not about a ticket */
    int64_t condition_at, emitted_at;
    /* dead letter: the source coordinates (its identity), reason and detail */
    char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
    char *reason, *detail;
    bool delivered;
} OutMsg;

typedef struct OutList {
    OutMsg *head, *tail;
    size_t n;
} OutList;

/* An alert transition, encoded as alert.v1 with times at utc_offset_min. */
OutMsg *out_alert(const Alert *a, int utc_offset_min);
/* A dead letter; takes nothing from d. */
OutMsg *out_dead(const EffDead *d);
/* Builders for messages read back from PostgreSQL (payload as stored). */
OutMsg *out_alert_row(int64_t seq, const char *alert_id, const char *status, const char *payload);
OutMsg *out_dead_row(int64_t seq, const char *topic, int32_t partition, int64_t offset, const char *key,
                     const char *payload);
void out_free(OutMsg *m);

void out_list_push(OutList *l, OutMsg *m);
/* Appends every message of src to l; src is left empty. */
void out_list_splice(OutList *l, OutList *src);
void out_list_free(OutList *l);

typedef struct Outbox Outbox;

typedef struct OutboxStats {
    size_t queued;      /* committed, waiting for room in the producer */
    size_t in_producer; /* handed to the producer, not yet acknowledged */
    uint64_t published, retries, refusals;
    int64_t acked; /* the watermark */
    /* firing alerts: from the deadline (wall clock mode; in event mode from
     * when the daemon raised it) to the broker's acknowledgement */
    Hist ack_delay;
    int brokers_up; /* at the producer's last statistics; -1 before */
} OutboxStats;

/* acked: the watermark stored by an earlier run. */
Outbox *outbox_new(struct ev_loop *loop, const Config *cfg, int64_t acked, char *err, size_t errlen);
/* Purges what was not delivered (it stays unsent in PostgreSQL). */
void outbox_free(Outbox *o);

/* Committed messages, in seq order and after every message pushed before;
 * takes all of them. One marked `delivered` (found on its topic at start)
 * is not sent, and counts as acknowledged in its turn. */
void outbox_push(Outbox *o, OutList *msgs);
/* Messages not yet acknowledged: queued here or in the producer. */
size_t outbox_depth(const Outbox *o);
/* Free places below outbox_max (0 when over). */
size_t outbox_room(const Outbox *o);
/* Every message with seq <= this is acknowledged by the broker. */
int64_t outbox_acked(const Outbox *o);
void outbox_stats(const Outbox *o, OutboxStats *s);

#endif
