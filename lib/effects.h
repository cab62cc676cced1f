/* effects: what applying events and firing deadlines changed, returned by
 * lib/desk for the caller to commit and publish: the ticket rows to write,
 * alert transitions, dead letters, event records, held and released events
 * and scans. Nothing is left in a side channel: the caller takes an Effects,
 * writes it out, and resets it.
 *
 * Effects hold copies of everything except the changed tickets, which point
 * into the desk that changed them; those pointers stay valid until the next
 * call that changes the desk with another Effects, or desk_housekeep, which
 * never frees a ticket listed in the Effects it is given. */
#ifndef COMPLAINTD_EFFECTS_H
#define COMPLAINTD_EFFECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "evt.h"
#include "indic.h"
#include "tkt.h"

/* Where a message came from. */
typedef struct EffSource {
    char *topic;
    int32_t partition;
    int64_t offset;
} EffSource;

/* A complaint event recorded for its ticket (ticket_events). */
typedef struct EffEvent {
    ComplaintEvent ev;
    bool applied; /* false: history only */
    EffSource src;
} EffEvent;

/* An event kept until its ticket's `received` arrives (held_events). */
typedef struct EffHeld {
    ComplaintEvent ev;
    int64_t held_since; /* processing time */
    EffSource src;
    char *payload; /* the original bytes, NUL-terminated */
    size_t len;
} EffHeld;

/* A message that cannot be applied (contract §10). */
typedef struct EffDead {
    char *reason;
    char *detail;
    EffSource src;
    char *key;    /* the message's key, NULL when it had none */
    char *record; /* the dlq.v1 record as published */
} EffDead;

/* A valid scan. */
typedef struct EffScan {
    ScanEvent sc;
    EffSource src;
} EffScan;

/* A held event no longer held; its row is told by both (docs/events.md:
 * duplicates are per ticket). One allocation: event_id points into it. */
typedef struct EffReleased {
    char *ticket_id;
    const char *event_id;
} EffReleased;

typedef struct Effects {
    uint32_t gen; /* set by the desk that fills it; 0 after a reset */
    Ticket **tickets;
    bool *ticket_full; /* false: only the ticket's alert states changed (its snapshot) */
    size_t n_tickets, cap_tickets;
    AlertList alerts;
    EffEvent *events;
    size_t n_events, cap_events;
    EffHeld *held;
    size_t n_held, cap_held;
    EffReleased *released; /* held events applied or dead-lettered */
    size_t n_released, cap_released;
    EffDead *dead;
    size_t n_dead, cap_dead;
    EffScan *scans;
    size_t n_scans, cap_scans;
    /* inputs that changed nothing */
    size_t n_duplicates;
    /* complaint events that came on another partition than their ticket's
     * `received` (counted, applied as usual: contract §1) */
    size_t n_off_partition;
    IndicSet indic; /* indicator counts of the batch (§12.9); not effects of their own */
} Effects;

void eff_init(Effects *e);
/* Empties e for the next batch (keeps its buffers). */
void eff_reset(Effects *e);
void eff_free(Effects *e);

/* Every effect counts one: ticket rows, alerts, events, held and released
 * events, dead letters, scans and duplicates. */
size_t eff_size(const Effects *e);
static inline bool eff_empty(const Effects *e)
{
    return eff_size(e) == 0;
}

/* Adders; each copies what it is given. -1 when out of memory. */
__attribute__((warn_unused_result)) int eff_ticket(Effects *e, Ticket *t, bool full);
__attribute__((warn_unused_result)) int eff_event(Effects *e, const ComplaintEvent *ev, bool applied, const char *topic,
                                                  int32_t partition, int64_t offset);
__attribute__((warn_unused_result)) int eff_held(Effects *e, const ComplaintEvent *ev, int64_t held_since,
                                                 const char *topic, int32_t partition, int64_t offset,
                                                 const char *payload, size_t len);
__attribute__((warn_unused_result)) int eff_released(Effects *e, const char *ticket_id, const char *event_id);
/* Builds the dlq.v1 record from the original bytes. */
__attribute__((warn_unused_result)) int eff_dead_letter(Effects *e, const char *reason, const char *detail,
                                                        const char *topic, int32_t partition, int64_t offset,
                                                        const void *key, size_t key_len, const void *payload,
                                                        size_t len);
__attribute__((warn_unused_result)) int eff_scan(Effects *e, const ScanEvent *sc, const char *topic, int32_t partition,
                                                 int64_t offset);

#endif
