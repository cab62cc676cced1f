/* kq: the Kafka side. A consumer-group member for the input topics and an
 * idempotent producer for alerts and dead letters, both joined to the libev
 * loop through rd_kafka_queue_io_event_enable on a pipe. */
#ifndef COMPLAINTD_KQ_H
#define COMPLAINTD_KQ_H

#include <ev.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

typedef struct Kq Kq;

typedef struct KqHandlers {
    /* One consumed message, whose ownership passes to the handler; return
     * false to stop draining for now (the engine calls kq_drain again when
     * it can take more). */
    bool (*message)(void *arg, rd_kafka_message_t *m);
    /* The drain is over (queue empty or stopped). */
    void (*drained)(void *arg);
    /* New assignment: set each partition's offset (BEGINNING when unknown). */
    void (*assign)(void *arg, rd_kafka_topic_partition_list_t *parts);
    void (*revoke)(void *arg, const rd_kafka_topic_partition_list_t *parts);
    /* Delivery report of kq_produce; ok false: the message was not stored. */
    void (*delivered)(void *arg, void *opaque, bool ok, const char *err);
    void *arg;
} KqHandlers;

Kq *kq_new(struct ev_loop *loop, const Config *cfg, const KqHandlers *h, char *err, size_t errlen);
void kq_free(Kq *kq);

/* Joins the group and starts consuming the complaint and scan topics. */
int kq_subscribe(Kq *kq, char *err, size_t errlen);
/* Polls the consumer until its queue is empty or the handler says stop. */
void kq_drain(Kq *kq);
/* Leaves the group (blocking; shutdown only). */
void kq_close_consumer(Kq *kq);

/* Copies payload and key; opaque comes back in the delivery report. */
int kq_produce(Kq *kq, const char *topic, const char *key, const char *payload, size_t len, void *opaque);
/* Messages not yet acknowledged by the broker. */
int kq_outq_len(Kq *kq);
/* Serves delivery reports (never blocks). */
void kq_poll_producer(Kq *kq);

/* Commits offsets to the group too, for lag monitoring only (the offsets
 * that count are in PostgreSQL). */
void kq_commit_async(Kq *kq, const rd_kafka_topic_partition_list_t *offsets);

#endif
