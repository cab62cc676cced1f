/* kq: librdkafka on libev. A consumer-group member for the input topics
 * (daemon/pipeline's) and an idempotent producer for alerts and dead letters
 * (daemon/outbox's), each joined to the loop through
 * rd_kafka_queue_io_event_enable on a pipe and drained fully on every
 * wake-up, with a timer as a backstop (the io event fires only when a queue
 * goes from empty to non-empty). */
#ifndef COMPLAINTD_KQ_H
#define COMPLAINTD_KQ_H

#include <ev.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* ---- statistics --------------------------------------------------------- */

/* A partition's consumer lag, as the pipeline counts it (at most KQ_LAG_MAX
 * partitions are shown). */
#define KQ_LAG_MAX 64
typedef struct KqLag {
    char topic[128];
    int32_t partition;
    int64_t lag; /* messages between what was applied and the end */
} KqLag;

/* ---- consumer ----------------------------------------------------------- */

typedef struct KqConsumer KqConsumer;

typedef struct KqConsumerHandlers {
    /* One consumed message; its ownership passes to the handler. */
    void (*message)(void *arg, rd_kafka_message_t *m);
    /* A drain is over: the queue is empty. */
    void (*drained)(void *arg);
    /* Partitions added to the assignment: set each one's offset (BEGINNING
     * when unknown). Partitions are never taken away before the close. */
    void (*assign)(void *arg, rd_kafka_topic_partition_list_t *parts);
    /* The group gave its member (kq_consumer_start) this many partitions of
     * the complaint and the scan topic: fewer than the topics have means
     * another member shares the group. */
    void (*member)(void *arg, int complaints, int scans);
    void *arg;
} KqConsumerHandlers;

KqConsumer *kq_consumer_new(struct ev_loop *loop, const Config *cfg, const KqConsumerHandlers *h, char *err,
                            size_t errlen);
void kq_consumer_free(KqConsumer *c);

/* Starts consuming every partition of the complaint and scan topics: the
 * daemon assigns them itself (the desk it holds in PostgreSQL is the whole
 * group's, and its offsets are there), so reading begins without waiting
 * for a group to form, or for a crashed predecessor's session to expire.
 * The group's member joins meanwhile (KqConsumerHandlers.member). */
__attribute__((warn_unused_result)) int kq_consumer_start(KqConsumer *c, char *err, size_t errlen);
/* Assigns the partitions of the two topics not assigned yet (the broker's
 * metadata of every topic, blocking up to timeout_ms; a topic that does not
 * exist is not created): topics created or grown since. Returns how many
 * were added. */
int kq_consumer_assign_all(KqConsumer *c, int timeout_ms);
/* Polls until the queue is empty, handing every message to the handler. */
void kq_consumer_drain(KqConsumer *c);
/* Back-pressure, one partition at a time: pausing stops its fetcher and
 * drops what it prefetched (the caller pauses a partition once); resuming
 * (every paused partition at once, or one) fetches again from the next
 * offset not yet handed over; a partition that is not paused is never
 * resumed (librdkafka would fetch it again from its assigned offset). The
 * consumer keeps being polled meanwhile. A partition added to the
 * assignment starts unpaused. */
void kq_consumer_pause(KqConsumer *c, const char *topic, int32_t partition);
void kq_consumer_resume(KqConsumer *c);
void kq_consumer_resume_one(KqConsumer *c, const char *topic, int32_t partition);
bool kq_consumer_paused(const KqConsumer *c); /* any partition */
/* The partition's offsets as librdkafka last saw them, without a request:
 * the end (high watermark) from its last fetch response, the start (low)
 * from the last statistics; each RD_KAFKA_OFFSET_INVALID when not known.
 * Returns whether the end is known. */
bool kq_consumer_watermarks(KqConsumer *c, const char *topic, int32_t partition, int64_t *lo, int64_t *hi);
/* Stops reading (blocking; shutdown only). The group's member commits what
 * is committed after this, and leaves the group in kq_consumer_free. */
void kq_consumer_close(KqConsumer *c);
/* Commits offsets to the group too, through its member, for lag
 * monitoring only (the offsets that count are in PostgreSQL); nothing
 * while the member has no assignment. */
void kq_consumer_commit(KqConsumer *c, const rd_kafka_topic_partition_list_t *offsets);

/* Brokers connected at the last statistics, -1 before the first. */
int kq_consumer_brokers_up(const KqConsumer *c);

/* ---- producer ----------------------------------------------------------- */

typedef struct KqProducer KqProducer;

/* Delivery report of kq_produce; ok false: the message was not stored. */
typedef void (*KqDelivered)(void *arg, void *opaque, bool ok, const char *err);

KqProducer *kq_producer_new(struct ev_loop *loop, const Config *cfg, KqDelivered delivered, void *arg, char *err,
                            size_t errlen);
/* Purges what is not delivered yet (each gets a failed delivery report)
 * and frees p. */
void kq_producer_free(KqProducer *p);

typedef enum {
    KQ_QUEUED,  /* its delivery report will follow */
    KQ_FULL,    /* the local queue is full: try again after some deliveries */
    KQ_REFUSED, /* refused for another reason: try again later */
} KqProduceResult;

/* Copies payload and key; opaque comes back in the delivery report. */
KqProduceResult kq_produce(KqProducer *p, const char *topic, const char *key, size_t key_len, const char *payload,
                           size_t len, void *opaque);
/* Messages not yet acknowledged by the broker. */
int kq_outq_len(KqProducer *p);
/* Serves delivery reports (never blocks). */
void kq_producer_poll(KqProducer *p);

/* Brokers connected at the last statistics, -1 before the first. */
int kq_producer_brokers_up(const KqProducer *p);

/* ---- a topic's tail, read once (blocking) --------------------------------- */

typedef void (*KqTailMsg)(void *arg, const char *payload, size_t len);

/* Reads the last `last_n` messages of every partition of `topic` (fewer
 * where it holds fewer) with a consumer of its own, outside any group, and
 * calls fn for each. Blocks for at most `timeout` seconds. 0 when every
 * partition was read to its end; -1 with err set otherwise (fn may have
 * been called for some). */
int kq_read_tail(const Config *cfg, const char *topic, int64_t last_n, double timeout, KqTailMsg fn, void *arg,
                 char *err, size_t errlen);

#endif
