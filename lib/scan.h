/* scan: parcels in flight — the latest scan of each parcel, its stall
 * deadline, and responsibility (责任判定) from the scan chain (contract §8).
 *
 * Millions of parcels are in flight, so a parcel costs a few tens of bytes:
 * waybills live in an arena, site codes are interned (a courier network has
 * thousands of sites, not millions), and the parcel records sit in fixed-size
 * chunks so the timer heap can point into them. */
#ifndef COMPLAINTD_SCAN_H
#define COMPLAINTD_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "evt.h"
#include "theap.h"

/* Rules of the responsibility table, in the contract's row order. */
typedef enum {
    RULE_NO_SCAN,
    RULE_PICKUP_NO_DEPART,
    RULE_ORIGIN_DEPART_NO_ARRIVE,
    RULE_HUB_DEPART_NO_ARRIVE,
    RULE_HUB_ARRIVE_NO_DEPART,
    RULE_DELIVERY_ARRIVE_NO_DELIVER_SCAN,
    RULE_DELIVER_NOT_SIGNED,
    RULE_PROBLEM_AT_SITE,
    RULE_SIGNED,
    RULE__COUNT
} RespRule;

const char *scan_rule_name(RespRule r);

/* The latest scan of a parcel, as kept in memory. */
typedef struct LatestScan {
    ScanType type;
    SiteRole role;
    SiteRole next_role;   /* ROLE_NONE when not given */
    int64_t at;
    const char *site;     /* interned; valid while the ParcelSet lives */
    const char *next_site; /* interned, NULL when none */
    int64_t pickup;        /* the parcel's earliest pickup scan, 0 when none is known (§12.7) */
    uint64_t id;           /* a hash of its event_id (ps_latest_id_is) */
} LatestScan;

/* Whether scan a is later than b: by occurred_at, ties by table row order
 * (pickup < depart < arrive(hub) < arrive(delivery) < deliver < problem/return < signed). */
bool scan_later(ScanType a_type, SiteRole a_role, int64_t a_at, ScanType b_type, SiteRole b_role, int64_t b_at);

/* Responsibility from a latest scan (NULL: no scan; then complaint_site,
 * possibly NULL or "", with role origin). */
void scan_responsible(const LatestScan *latest, const char *complaint_site, Responsible *out);

typedef struct Parcel Parcel;
typedef struct ParcelSet ParcelSet;

ParcelSet *ps_new(void);
void ps_free(ParcelSet *s);
size_t ps_count(const ParcelSet *s);
/* Bytes held by the set (records, index, arena, interned sites, heap). */
size_t ps_memory(const ParcelSet *s);

typedef enum {
    PS_OLDER,  /* not later than the parcel's latest scan: nothing changes */
    PS_LATEST, /* became the latest scan */
} PsResult;

/* *prev_at of a scan that is the first of its parcel. */
#define PS_NO_PREV INT64_MIN

/* Applies one scan; a pickup earlier than the parcel's known one becomes its
 * pickup time, whatever its place in the chain. On PS_LATEST, *was_stalled tells whether a stall alert of
 * the previous latest scan was firing (it must be resolved: its id used
 * *prev_at) and the stall deadline is re-armed (last + stall_after, none
 * after `signed`). A waybill not seen before is a new parcel: PS_LATEST, not
 * stalled, *prev_at = PS_NO_PREV. -1 when out of memory (nothing changed). */
int ps_apply(ParcelSet *s, const ScanEvent *sc, int64_t stall_after, PsResult *res, bool *was_stalled,
             int64_t *prev_at);

/* Whether sc carries the event_id of the latest scan `latest` (of sc's
 * parcel; compared by a 64-bit hash): the same scan sent again, which has no
 * effect. The ids of earlier scans are not kept. */
bool ps_latest_id_is(const LatestScan *latest, const ScanEvent *sc);

/* The latest scan of a waybill; false when the parcel is unknown. */
bool ps_latest(const ParcelSet *s, const char *waybill, LatestScan *out);

/* The stall timers: the parcel whose deadline is earliest, or NULL. The
 * Parcel pointer stays valid until the parcel is pruned. */
Parcel *ps_next_due(const ParcelSet *s, int64_t *due);
/* Marks the parcel stalled (its stall alert fired) and removes its deadline. */
void ps_mark_stalled(ParcelSet *s, Parcel *p);
const char *ps_waybill(const ParcelSet *s, const Parcel *p);
void ps_parcel_latest(const ParcelSet *s, const Parcel *p, LatestScan *out);
bool ps_stalled(const Parcel *p);
/* Parcels whose stall alert is firing. */
size_t ps_stalled_count(const ParcelSet *s);

/* Restores a parcel at start-up from its stored latest scan and earliest
 * pickup (0: none); it replaces whatever the set held for that waybill. A stalled parcel gets no deadline
 * (its alert already fired); `stalled` is ignored for a signed scan. */
int ps_restore(ParcelSet *s, const ScanEvent *latest, int64_t pickup, bool stalled, int64_t stall_after);

/* After stall_after changed (a policy reload): re-arms the stall timers of
 * the parcels that are neither signed nor stalled, from record *iter on, at
 * most max records; returns 1 while records remain, 0 when the last was
 * done, -1 when out of memory. A stall already firing stays (it ends with a
 * new scan). */
__attribute__((warn_unused_result)) int ps_rearm(ParcelSet *s, int64_t stall_after, uint32_t *iter, size_t max);

/* Forgets parcels whose latest scan is `signed` and older than `before`;
 * without it every parcel ever scanned stays in memory. Signed parcels have
 * no timer, so no alert is lost, but a later complaint about one finds no
 * scan (rule no_scan): keep them as long as complaints about delivered
 * parcels still come in. Returns how many were dropped. Parcel pointers of
 * dropped parcels become invalid; the others stay valid. O(parcels). */
size_t ps_prune_signed(ParcelSet *s, int64_t before);

#endif
