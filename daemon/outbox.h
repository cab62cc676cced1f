/* outbox: publishing what PostgreSQL has committed. Alerts and dead letters
 * reach the outbox only once their batch is committed; it hands them to the
 * idempotent producer in order, keeps every message the producer refuses or
 * fails to deliver and retries it with backoff (never dropping one, never
 * leaving one for a restart), and hands back the delivered ones so that
 * their rows can be marked sent.
 *
 * Back-pressure: outbox_over() is true while `outbox_max` or more messages
 * are not yet acknowledged by the broker; the pipeline then builds no new
 * batch, and so stops consuming, until the outbox drains below it. */
#ifndef COMPLAINTD_OUTBOX_H
#define COMPLAINTD_OUTBOX_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "cfg.h"
#include "effects.h"

typedef enum { OUT_ALERT, OUT_DLQ } OutKind;

/* One message for the alerts or the dead-letter topic, with what its
 * PostgreSQL row needs. */
typedef struct OutMsg {
    struct OutMsg *next;
    OutKind kind;
    char *key;     /* NULL: no key */
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
OutMsg *out_alert_row(const char *alert_id, const char *status, const char *payload);
OutMsg *out_dead_row(const char *topic, int32_t partition, int64_t offset, const char *key, const char *payload);
void out_free(OutMsg *m);

void out_list_push(OutList *l, OutMsg *m);
/* Appends every message of src to l; src is left empty. */
void out_list_splice(OutList *l, OutList *src);
void out_list_free(OutList *l);

typedef struct Outbox Outbox;

typedef struct OutboxStats {
    size_t queued;      /* committed, waiting for room in the producer */
    size_t in_producer; /* handed to the producer, not yet acknowledged */
    size_t delivered;   /* acknowledged, not yet marked sent */
    uint64_t published, retries, refusals;
} OutboxStats;

Outbox *outbox_new(struct ev_loop *loop, const Config *cfg, char *err, size_t errlen);
/* Purges what was not delivered (it stays unsent in PostgreSQL). */
void outbox_free(Outbox *o);

/* Committed messages, in order; takes all of them. */
void outbox_push(Outbox *o, OutList *msgs);
/* Messages not yet acknowledged: queued here or in the producer. */
size_t outbox_depth(const Outbox *o);
bool outbox_over(const Outbox *o);
/* Free places below outbox_max (0 when over). */
size_t outbox_room(const Outbox *o);
/* Moves up to max delivered messages to out, for their sent marks. */
size_t outbox_take_delivered(Outbox *o, size_t max, OutList *out);
size_t outbox_delivered(const Outbox *o);
void outbox_stats(const Outbox *o, OutboxStats *s);

#endif
