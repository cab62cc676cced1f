/* store: every statement complaintd sends to PostgreSQL. Migrations and the
 * schema check, loading the state a previous run committed (blocking, at
 * start), the batch commit (asynchronous: COPY into per-connection staging
 * tables, then one function that moves the rows in, all in one transaction)
 * and paging through the outbox rows an earlier run left unsent.
 *
 * A commit that fails, for any reason, is retried with backoff until it
 * succeeds; a lost connection is re-established. The caller only ever hears
 * of success. */
#ifndef COMPLAINTD_STORE_H
#define COMPLAINTD_STORE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "desk.h"
#include "effects.h"
#include "hist.h"
#include "outbox.h"

typedef struct Store Store;

/* `complaintd migrate`: brings the schema up to date (blocking). */
__attribute__((warn_unused_result)) int store_migrate(const char *conninfo, char *err, size_t errlen);

/* Connects (blocking), checks that the schema is up to date and takes the
 * desk of the consumer group: a session advisory lock that the store's
 * connection keeps. While another daemon of the same group holds it in this
 * database, waits as a standby (docs/architecture.md, "Scaling"), and calls
 * on_standby(arg) once when it starts waiting (NULL: none). NULL with
 * `err` empty: stopped while waiting (store_note_stop). */
Store *store_open(struct ev_loop *loop, const Config *cfg, void (*on_standby)(void *), void *arg, char *err,
                  size_t errlen);
/* A stop was asked for (async-signal-safe: the caller's SIGTERM and SIGINT
 * handler calls it): a standby wait ends at once, or does not begin. */
void store_note_stop(void);
void store_free(Store *s);

/* The next offset to consume of one partition. */
typedef struct StoreOffset {
    char *topic;
    int32_t partition;
    int64_t next;
} StoreOffset;

typedef struct StoreLoaded {
    int64_t event_clock;
    StoreOffset *offsets;
    size_t n_offsets;
    /* The outbox: every row up to outbox_acked is on the broker; the rows
     * above it, up to outbox_upto (the last one committed before this
     * start), are paged in with store_unsent. */
    int64_t outbox_acked, outbox_upto;
    /* The indicator counts committed so far, by category (§12.9). */
    int64_t indicators[CAT__COUNT][IND__COUNT];
    /* For the status page: the counts of the local day of `base`, and the
     * breaches fired in the 24 hours up to it (by hour: [23] is base's). */
    int32_t today;
    int64_t today_indicators[CAT__COUNT][IND__COUNT];
    uint32_t breaches[24];
} StoreLoaded;

/* Loads the committed state into d (blocking; start-up only): tickets that
 * are open or young enough for the repeat look-back before `base`, bulk
 * episodes, parcels, event ids and held events. */
__attribute__((warn_unused_result)) int store_load(Store *s, Desk *d, int64_t base, StoreLoaded *out, char *err,
                                                   size_t errlen);
void store_loaded_free(StoreLoaded *l);

/* What a batch folds besides what the store chooses (migration 006). */
typedef enum {
    STORE_FOLD_AUTO, /* a slice of the oldest rows once enough wait */
    STORE_FOLD_IDLE, /* the daemon is idle: a bigger slice */
} StoreFold;

typedef struct StoreBatch {
    const Effects *eff;
    const OutList *out;   /* the batch's alerts and dead letters, in seq order */
    int64_t outbox_acked; /* the outbox's watermark; -1 when it has not moved */
    const StoreOffset *offsets;
    size_t n_offsets;
    int64_t event_clock;
    int utc_offset_min; /* for the times inside event bodies */
    StoreFold fold;
} StoreBatch;

typedef void (*StoreDone)(void *arg);

/* Encodes b at once (nothing of it is used after the call) and commits it
 * in one transaction; done runs once it is committed. One commit at a time:
 * only when !store_committing(). */
void store_commit(Store *s, const StoreBatch *b, StoreDone done, void *arg);
bool store_committing(const Store *s);

/* Snapshots of fired tickets and indicator counts are appended, and folded
 * into their rows by later batches (migration 006). store_unfolded: rows
 * were appended that no batch built so far folds. store_folded: a ticket
 * with unfolded > store_folded() has its newest snapshot only in
 * ticket_snapshots (it must stay in memory). */
bool store_unfolded(const Store *s);
int64_t store_folded(const Store *s);

/* Outbox rows (alerts and dead letters) with after < seq <= upto, in seq
 * order, at most `limit`; cb gets them (taking them) and the seq of the
 * last one (and an empty list when none are left). Retried like a commit. */
typedef void (*StoreUnsent)(void *arg, OutList *msgs, int64_t last_seq);
void store_unsent(Store *s, int64_t after, int64_t upto, size_t limit, StoreUnsent cb, void *arg);

/* §12.2: reads back the stored row of a ticket no longer in memory; cb gets
 * the ticket (taking it), or NULL when no row has that id. Sent after the
 * commit in progress, retried like a commit. One at a time. */
typedef void (*StoreTicket)(void *arg, Ticket *t);
void store_lookup(Store *s, const char *ticket_id, StoreTicket cb, void *arg);

typedef struct StoreStats {
    bool connected;
    uint64_t commits, failures;
    size_t last_effects, max_effects; /* effects per committed batch */
    double last_commit_seconds;       /* from the first statement to COMMIT */
    size_t fold_waiting;              /* rows appended that no batch built so far folds */
    Hist commit_seconds, batch_effects;
} StoreStats;

void store_stats(const Store *s, StoreStats *st);

#endif
