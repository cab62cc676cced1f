/* engine_int: what the engine's files share. engine.h is the public API;
 * this header is for engine.c (lifecycle, events, deadlines), batch.c (the
 * open batch, commit and outbox), restore.c (loading the state at start) and
 * rules.c (bulk, repeat and parcel rules) only. */
#ifndef COMPLAINTD_ENGINE_INT_H
#define COMPLAINTD_ENGINE_INT_H

#include <ev.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "bulk.h"
#include "cfg.h"
#include "db.h"
#include "engine.h"
#include "evt.h"
#include "kq.h"
#include "policy.h"
#include "repeat.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"
#include "tkt.h"

/* A ticket in memory with its place in the deadline heap. */
typedef struct TEntry {
    ThNode node; /* first: the heap hands back &node */
    Ticket *t;
    bool dirty;
} TEntry;

typedef struct Offset {
    char *topic;
    int32_t partition;
    int64_t next;
    bool dirty;
} Offset;

/* One bulk issue key (category, site) with its episode-end timer. */
typedef struct BulkKey {
    ThNode node; /* first */
    BulkWin *w;
    Category category;
    char site[EVT_SITE_MAX + 1];
} BulkKey;

/* Complaints up to this much older than the clock still count in their bulk
 * windows; older ones are forgotten. */
#define BULK_LATE_HORIZON (24 * 3600)

enum { OUT_ALERT, OUT_DLQ };

/* A message to publish once its batch is committed. */
typedef struct OutMsg {
    int kind;
    char *key;
    char *payload;
    char *alert_id;      /* alert: (alert_id, status) */
    char *status;
    char *src_topic;     /* dead letter: source coordinates */
    int32_t src_partition;
    int64_t src_offset;
    struct OutMsg *next;
} OutMsg;

typedef struct Batch {
    json_t *doc;         /* the complaintd_apply_batch argument being built */
    size_t n_events;
    size_t n_effects;    /* tickets, alerts, dead letters, held: worth a commit now */
    TEntry **dirty;
    size_t n_dirty, cap_dirty;
    OutMsg *out_head, *out_tail;
    char *sql_arg;       /* the document as sent (kept for retries) */
    rd_kafka_topic_partition_list_t *kafka_offsets;
} Batch;

/* A consumed message waiting for the end of its drain, decoded. */
typedef struct Pending {
    rd_kafka_message_t *m;  /* owned */
    struct Pending *next;   /* FIFO within its partition */
    int64_t at;             /* occurred_at; INT64_MIN when it will be dead-lettered */
    bool scan;
    EvtStatus st;
    char detail[EVT_DETAIL_MAX];
    union {
        ComplaintEvent c;
        ScanEvent s;
    } u;
} Pending;

typedef struct PendQ {
    char *topic;
    int32_t partition;
    Pending *head, *tail;
} PendQ;

struct Engine {
    PendQ *pq;           /* per partition: what the current drain fetched */
    size_t n_pq;
    size_t n_pending;
    ev_timer linger;     /* holds a drain's messages for the other partitions' */
    bool in_linger;
    struct ev_loop *loop;
    const Config *cfg;
    Policy *policy;
    Db *db;
    Kq *kq;
    StrMap *tickets;     /* ticket_id -> TEntry */
    StrMap *event_ids;   /* set of applied, recorded or held event ids */
    StrMap *held;        /* ticket_id -> HeldList (engine.c) */
    StrMap *offsets;     /* "topic/partition" -> Offset */
    THeap heap;          /* ticket deadlines */
    RepeatIndex *repeat; /* tickets by waybill and by customer_ref + category */
    StrMap *bulk;        /* category/site -> BulkKey */
    THeap bulk_heap;     /* bulk episode ends */
    ParcelSet *parcels;  /* latest scan and stall deadline of every parcel */
    int64_t event_clock;
    AlertList scratch;

    Batch open;
    Batch *inflight;
    ev_tstamp last_flush;
    ev_tstamp last_status;
    int64_t last_prune;
    ev_tstamp retry_at;

    ev_periodic deadline_timer;
    ev_timer housekeeping;
    ev_prepare prepare;

    bool stopping;
    void (*stop_done)(void *);
    void *stop_arg;
    ev_tstamp stop_started;

    /* counters since start */
    uint64_t n_applied, n_history, n_held, n_duplicates, n_dead, n_alerts, n_batches, n_scans;
};

/* ---- engine.c ----------------------------------------------------------- */

int64_t eng_wall_now(const Engine *e);
/* The clock the rules run on: the wall clock, or the event clock. */
int64_t eng_rule_now(const Engine *e);
int eng_utc_off(const Engine *e);
/* An instant as RFC 3339 in the calendar's offset; null for 0 and TU_NEVER. */
json_t *eng_jtime(const Engine *e, int64_t t);
__attribute__((noreturn)) void eng_oom(void);

TEntry *eng_new_entry(Engine *e, Ticket *t);
void eng_remember_id(Engine *e, const char *id);
/* Keeps an event until its ticket's `received` arrives. persist: record it in
 * the open batch too (false when loading it from PostgreSQL at start). */
void eng_hold(Engine *e, const ComplaintEvent *ev, const char *topic, int32_t partition, int64_t offset,
              const char *payload, size_t len, int64_t held_since, bool persist);
/* The next offset to consume of a partition; create: add it when unknown. */
Offset *eng_offset(Engine *e, const char *topic, int32_t partition, bool create);

/* ---- batch.c: the open batch, its commit, the outbox -------------------- */

void batch_init(Batch *b);
void batch_clear(Batch *b);
/* One of the arrays of the batch's document ("tickets", "alerts", ...). */
json_t *batch_doc(Batch *b, const char *k);
/* After a ticket changed: its row goes into the open batch, its deadline
 * into the heap. */
void batch_touch(Engine *e, TEntry *te);
void batch_take_alerts(Engine *e);
void batch_dead_letter(Engine *e, const char *reason, const char *detail, const char *topic, int32_t partition,
                       int64_t offset, const char *key, const void *payload, size_t len);
/* Produces a committed alert or dead letter; takes ownership of m. */
void batch_publish(Engine *e, OutMsg *m);
/* kq's delivery report. */
void batch_delivered(void *arg, void *opaque, bool ok, const char *err);
bool batch_empty(Engine *e);
/* Closes the open batch and sends it to PostgreSQL (no batch in flight). */
void batch_flush(Engine *e);
/* Sends the batch in flight (again, after a failure). */
void batch_send_inflight(Engine *e);

/* ---- restore.c: start-up (engine_load is in engine.h) -------------------- */

/* Publishes what an earlier run committed but did not see delivered. */
__attribute__((warn_unused_result)) int restore_publish_unsent(Engine *e, char *err, size_t errlen);

/* ---- rules.c: bulk, repeat and parcel rules ------------------------------ */

BulkKey *rule_bulk_key(Engine *e, Category cat, const char *site);
void rule_bulk_rearm(Engine *e, BulkKey *bk);
void rule_bulk_count(Engine *e, TEntry *te, int threshold);
/* The episode of a bulk key ended at `at`. */
void rule_bulk_end(Engine *e, BulkKey *bk, int64_t at);
void rule_index_ticket(Engine *e, TEntry *te);
void rule_check_repeat(Engine *e, TEntry *te);
bool rule_update_responsible(Engine *e, Ticket *t);
/* A parcel's stall deadline passed. */
void rule_stall(Engine *e, Parcel *p);
/* A scan became its parcel's latest. */
void rule_scan_latest(Engine *e, const ScanEvent *sc, bool was_stalled, int64_t prev_at);

#endif
