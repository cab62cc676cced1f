/* desk: the complaint desk's state and rules, pure. It holds the tickets and
 * their deadline heap, the bulk windows, the repeat index, the parcels, the
 * events held for a ticket not yet received and the set of event ids already
 * seen. Each call takes an event or a time and appends what changed to the
 * caller's Effects; nothing here reads a clock, logs or does I/O.
 *
 * Clocks: `now` is the rule clock the caller runs on (the wall clock, or the
 * event clock in replay); `wall` is processing time, used only for held
 * events (contract §4: held for an hour of processing time).
 *
 * Bounded work: desk_fire_due, desk_expire_held and desk_recompute stop
 * before `out` would hold more than `max_effects` effects (each makes
 * progress by at least one item), so a caller commits what fell due together
 * in chunks. One event's own effects are never split: at most
 * desk_event_effects_max() of them, plus the held events it releases.
 *
 * Errors: -1 means out of memory; the desk may then be half-changed and the
 * caller must stop (the daemon's state is in PostgreSQL). */
#ifndef COMPLAINTD_DESK_H
#define COMPLAINTD_DESK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "effects.h"
#include "evt.h"
#include "policy.h"
#include "tkt.h"

typedef struct Desk Desk;

/* Where a message came from, for records and dead letters. */
typedef struct DeskSource {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* its bytes, NULL when the message had none */
    size_t key_len;
    const char *payload; /* the original bytes */
    size_t len;
} DeskSource;

/* Takes ownership of p. NULL when out of memory. */
Desk *desk_new(Policy *p);
void desk_free(Desk *d);
const Policy *desk_policy(const Desk *d);
/* Closed tickets last resolved or closed at or after this time stay in
 * memory at `now` (and a start loads them): the repeat look-back and a day
 * more, so that a `received` up to a day late still finds its earlier
 * ticket whenever the sweep ran. */
int64_t desk_keep_closed_since(const Desk *d, int64_t now);

/* ---- events ------------------------------------------------------------- */

typedef enum {
    DESK_APPLIED, /* the input was applied */
    DESK_FIRED,   /* deadlines due before it fired first: offer it again */
    DESK_FULL,    /* out has no room for it: commit out, then offer it again */
    DESK_LOOKUP,  /* its ticket may be stored but not in memory: read the row of
                   * desk_lookup_id(), pass it to desk_lookup_done, then offer it again */
} DeskStep;

/* Whether an event time is one the desk accepts (contract §12.10): not
 * before 2000-01-01 and not past `wall` plus max_future_skew. desk_offer
 * dead-letters the others; the partition merge puts them first. */
bool desk_time_plausible(const Desk *d, int64_t at, int64_t wall);

/* Applies one decoded input: a complaint event (sc NULL) or a scan (ev
 * NULL).
 *
 * In event mode, event_clock points at the event clock: every deadline due
 * before the input's time fires first, in chunks of at most fire_step
 * effects that keep out within max_effects (DESK_FIRED), and only then is
 * the input applied, with the clock moved up to its time; so a replay gives
 * the alerts a live run gave. A deadline at the clock's own second is the
 * caller's to fire once the clock has passed it (desk_fire_due up to the
 * clock less one): an input within that second is applied first, one a
 * fraction of a second later fires it here.
 * In wall mode event_clock is NULL and the rule clock is `wall`.
 *
 * A complaint: a duplicate event id changes nothing (out->n_duplicates
 * counts it); an event of an unknown ticket other than `received` is held
 * (for hold_timeout of processing time, `wall`); a `received` creates the
 * ticket and applies what was held for it, in event-time order. An event
 * of a ticket received in this run on another partition is applied as
 * usual and counted (out->n_off_partition). A scan
 * updates its parcel (contract §8). Returns -1 when out of memory. */
__attribute__((warn_unused_result)) int desk_offer(Desk *d, const ComplaintEvent *ev, const ScanEvent *sc,
                                                   const DeskSource *src, int64_t *event_clock, int64_t wall,
                                                   size_t max_effects, size_t fire_step, Effects *out);
/* §12.2, no ticket is forgotten: the ticket whose stored row an offer that
 * returned DESK_LOOKUP needs. */
const char *desk_lookup_id(const Desk *d);
/* The row read for it: the ticket (taken), or NULL when none is stored (the
 * event is then handled as for a ticket never received). -1 when out of
 * memory. */
__attribute__((warn_unused_result)) int desk_lookup_done(Desk *d, Ticket *t);
/* The id of a ticket that is stored but not loaded at start. */
__attribute__((warn_unused_result)) int desk_load_gone(Desk *d, const char *ticket_id);

/* The most effects one input can add besides the held events it releases. */
size_t desk_event_effects_max(const Desk *d);

/* ---- deadlines ---------------------------------------------------------- */

/* The earliest ticket deadline, bulk episode end or parcel stall; TU_NEVER
 * when none is pending. */
int64_t desk_next_due(const Desk *d);
/* Fires what is due at or before `upto`, in time order, as long as out
 * stays within max_effects. Returns how many items fired, -1 when out of
 * memory. */
__attribute__((warn_unused_result)) int desk_fire_due(Desk *d, int64_t upto, size_t max_effects, Effects *out);

/* When the oldest held event runs out of time (processing time), TU_NEVER
 * when none is held. */
int64_t desk_next_hold_expiry(const Desk *d);
/* Whether more events are held than the policy's hold_max. */
bool desk_held_over(const Desk *d);
/* Dead-letters (unknown_ticket) held events held for hold_timeout by
 * `wall` (INT64_MIN: none runs out of time), and, while more than hold_max are
 * held, the oldest ones whatever their time. Returns how many, -1 when out
 * of memory. */
__attribute__((warn_unused_result)) int desk_expire_held(Desk *d, int64_t wall, size_t max_effects, Effects *out);

/* ---- policy ------------------------------------------------------------- */

/* Replaces the policy (takes ownership). Open tickets are then recomputed
 * with desk_recompute, in chunks, before anything else is applied. */
void desk_set_policy(Desk *d, Policy *p);
bool desk_recompute_pending(const Desk *d);
/* Recomputes open tickets under the new policy; returns how many tickets
 * were done, -1 when out of memory. */
__attribute__((warn_unused_result)) int desk_recompute(Desk *d, int64_t now, size_t max_effects, Effects *out);

/* ---- memory ------------------------------------------------------------- */

typedef struct DeskSwept {
    size_t parcels; /* signed parcels forgotten */
    size_t tickets; /* closed tickets evicted */
} DeskSwept;

/* Forgets what no rule needs any more: complaints too old for any bulk
 * window; every `sweep`: parcels signed and tickets closed more than the
 * repeat look-back before `now` (they stay in PostgreSQL, and an event for
 * one reads it back: DESK_LOOKUP). Tickets listed in `open` are kept. */
void desk_housekeep(Desk *d, int64_t now, bool sweep, const Effects *open, DeskSwept *swept);
/* The caller's store keeps some tickets' newest state where a read-back
 * does not find it yet: those with Ticket.unfolded > folded are not evicted. */
void desk_set_folded(Desk *d, int64_t folded);

/* ---- start-up ----------------------------------------------------------- */

/* Loading the state a previous run committed, in this order: tickets (with
 * their event ids), bulk episodes, parcels, site accountability, held
 * events. `base` is the
 * clock at start. */
__attribute__((warn_unused_result)) int desk_load_ticket(Desk *d, Ticket *t, int64_t base); /* takes t */
/* A bulk episode still firing, or the latest ended one (ended = true; its
 * condition_at is then when it ended, its resolved_at, 0 when not known). */
__attribute__((warn_unused_result)) int desk_load_bulk(Desk *d, Category cat, const char *site, int64_t window_start,
                                                       int64_t condition_at, const char *const *ids, size_t n_ids,
                                                       bool ended, int64_t base);
/* A parcel's latest scan and earliest pickup (0: none). */
__attribute__((warn_unused_result)) int desk_load_parcel(Desk *d, const ScanEvent *latest, int64_t pickup,
                                                         bool stalled);
/* An event id of a loaded ticket whose state did not carry its ids (rows of
 * migration 001); ignored for a ticket not loaded. */
__attribute__((warn_unused_result)) int desk_load_event_id(Desk *d, const char *ticket_id, const char *event_id);
/* Site accountability (§12.8): each valid complaint counted against a site
 * within the window, then each episode that fired (ended: and resolved). */
__attribute__((warn_unused_result)) int desk_load_acct_complaint(Desk *d, const char *site, const char *ticket_id,
                                                                 int64_t received_at);
__attribute__((warn_unused_result)) int desk_load_acct_episode(Desk *d, const char *site, int year, int month,
                                                               bool total, int64_t condition_at, bool ended);
__attribute__((warn_unused_result)) int desk_load_held(Desk *d, const ComplaintEvent *ev, const DeskSource *src,
                                                       int64_t held_since);

/* ---- inspection --------------------------------------------------------- */

typedef struct DeskStats {
    size_t tickets, held /* events */, deadlines, parcels, bulk_keys;
} DeskStats;

void desk_stats(const Desk *d, DeskStats *s);

/* What the status page shows: open tickets by stage (0 received, then the
 * last stage done: contacted, first_reply, resolved, revisit; 5 reopened
 * rounds not yet past received) and priority (0 normal, 1 urgent), and
 * firing alerts by type. O(tickets in memory). */
typedef struct DeskSummary {
    unsigned open[6][2];
    unsigned firing[AL__COUNT];
} DeskSummary;
void desk_summary(const Desk *d, DeskSummary *s);
/* A ticket in memory, NULL when not. */
const Ticket *desk_ticket(const Desk *d, const char *ticket_id);

#endif
