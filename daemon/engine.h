/* engine: applies consumed events to the in-memory state (tickets, held
 * events, deadlines), collects their effects into batches and commits each
 * batch to PostgreSQL in one transaction together with the consumed offsets;
 * publishes the batch's alerts and dead letters once it is committed. */
#ifndef COMPLAINTD_ENGINE_H
#define COMPLAINTD_ENGINE_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

typedef struct Engine Engine;

/* cfg stays the caller's and must outlive the engine. */
Engine *engine_new(struct ev_loop *loop, const Config *cfg);
void engine_free(Engine *e);

/* Start-up (blocking): loads tickets, held events, offsets, the event clock
 * and the unsent outbox from conn, then takes ownership of conn. */
__attribute__((warn_unused_result)) int engine_load(Engine *e, PGconn *conn, char *err, size_t errlen);
/* Connects to Kafka, publishes the unsent outbox and joins the group. */
__attribute__((warn_unused_result)) int engine_start(Engine *e, char *err, size_t errlen);

/* Replaces the policy (takes ownership) and recomputes open deadlines. */
void engine_set_policy(Engine *e, Policy *p);

/* Graceful stop: stop consuming, commit, publish; `done` runs when finished. */
void engine_stop(Engine *e, void (*done)(void *arg), void *arg);

/* Counters since start and current sizes, for the metrics endpoint. */
typedef struct EngineCounters {
    uint64_t applied, history, held_total, duplicates, dead_letters, alerts, scans, batches;
    uint64_t tickets, held, pending_deadlines, parcels, bulk_keys;
    int64_t event_clock;
    int outq;           /* messages not yet acknowledged by the broker */
    bool batch_in_flight;
} EngineCounters;

void engine_counters(const Engine *e, EngineCounters *c);

/* One status line for logs and systemd. */
void engine_status(const Engine *e, char *buf, size_t len);

#endif
