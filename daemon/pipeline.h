/* pipeline: the flow of the loop. It consumes the input topics, merges each
 * drain's partitions by event time, runs the two clocks (wall and event),
 * applies events and fires deadlines through lib/desk in bounded batches,
 * commits each batch through daemon/store and hands the committed alerts
 * and dead letters to daemon/outbox. Calls go one way: pipeline -> desk,
 * store, outbox (and kq's consumer); none of them calls back up except
 * through the callbacks the pipeline hands them.
 *
 * Back-pressure, from the far end back: an outbox that the messages of the
 * batches built so far would take above outbox_max, or a
 * batch full while the previous one is still being committed, stops the
 * building of batches; fetched messages then pile up to a bound, and the
 * consumer is paused until they are applied. */
#ifndef COMPLAINTD_PIPELINE_H
#define COMPLAINTD_PIPELINE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "hist.h"
#include "kq.h"
#include "policy.h"
#include "store.h"

typedef struct Pipeline Pipeline;

/* Loads the committed state from the store (blocking) and takes ownership
 * of it; cfg stays the caller's and must outlive the pipeline. */
Pipeline *pipeline_new(struct ev_loop *loop, const Config *cfg, Store *store, char *err, size_t errlen);
void pipeline_free(Pipeline *p);

/* Connects to Kafka and joins the group. */
__attribute__((warn_unused_result)) int pipeline_start(Pipeline *p, char *err, size_t errlen);

/* Replaces the policy (takes ownership); open tickets are recomputed in
 * bounded batches before anything else is applied. */
void pipeline_set_policy(Pipeline *p, Policy *pol);

/* Graceful stop: leave the group (what was fetched and not applied yet is
 * dropped: Kafka redelivers it to the next start), commit the open batch,
 * publish what was committed and commit the last sent marks; `done` runs
 * when finished, or after 45 s when something cannot finish. */
void pipeline_stop(Pipeline *p, void (*done)(void *arg), void *arg);

/* Counters since start and current sizes, for the metrics endpoint. */
#define PIPELINE_DLQ_REASONS 8

typedef struct PipelineCounters {
    uint64_t applied, history, held_total, duplicates, dead_letters, alerts, scans, batches;
    uint64_t commit_failures, publish_retries, publish_refusals;
    uint64_t merge_waits, merge_waits_expired; /* event mode: waits for a partition behind its end */
    uint64_t off_partition; /* complaint events on another partition than their ticket's received */
    uint64_t tickets, held, pending_deadlines, parcels, bulk_keys;
    int64_t event_clock;
    uint64_t outbox;  /* committed messages not yet acknowledged by the broker */
    uint64_t fetched; /* consumed messages not yet applied */
    uint64_t batch_effects_max;
    uint64_t fold_waiting; /* appended rows waiting to be folded (migration 006) */
    bool batch_in_flight, consumer_paused, postgres_up;
    bool group_shared; /* the group gave this instance part of a topic's partitions */
    bool catching_up;  /* wall mode: the backlog found at the start is being read */
    /* Indicator totals by category (§12.9), as committed. */
    int64_t indicators[CAT__COUNT][IND__COUNT];
    /* Alert transitions by type and status; dead letters by reason
     * (pipeline_dlq_reason names them; the last is "other"). */
    uint64_t alerts_by[AL__COUNT][3];
    uint64_t dead_by[PIPELINE_DLQ_REASONS];
    /* Histograms: batch commits and sizes, deadline to broker acknowledgement. */
    Hist commit_seconds, batch_effects, ack_delay;
    /* Kafka: brokers connected at the last statistics (-1 before them) of
     * the consumer and the producer, and the consumer lag per partition. */
    int consumer_brokers_up, producer_brokers_up;
    KqLag lag[KQ_LAG_MAX];
    size_t n_lag;
    /* clock.mode = event: wall clock minus the event clock, in seconds. */
    int64_t event_clock_lag;
} PipelineCounters;

/* The dead-letter reasons counted apart, by index; "other" is the last. */
const char *pipeline_dlq_reason(size_t i);

void pipeline_counters(const Pipeline *p, PipelineCounters *c);

/* What the status page at / shows (daemon/metrics renders it). */
typedef struct PipelineStatusPage {
    DeskSummary desk;
    int64_t now;        /* the rule clock: wall, or the event clock */
    bool event_mode;
    int utc_offset_min;
    int32_t today;      /* local date of `now`, days since 1970-01-01 */
    int64_t today_indicators[CAT__COUNT][IND__COUNT];
    int64_t hour;          /* the hour of `now` (Unix time / 3600) */
    uint32_t breaches[24]; /* sla_breach firings by hour of condition_at; [23] is `hour` */
    bool postgres_up;
    int kafka_up;       /* 1, 0; -1 before librdkafka's first statistics */
} PipelineStatusPage;

/* O(tickets in memory): call it every few seconds, not per event. */
void pipeline_status_page(Pipeline *p, PipelineStatusPage *out);

/* One status line for logs and systemd. */
void pipeline_status(const Pipeline *p, char *buf, size_t len);

#endif
