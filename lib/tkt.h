/* tkt: the ticket state machine of contract §4-§6 and §9.
 *
 * A ticket records when each stage of the current round was completed, its
 * priority, pauses and extensions, and the state of its SLA alerts. Every
 * function takes the time it acts at; nothing here reads a clock. Alerts are
 * appended to the caller's AlertList (emitted_at left 0). */
#ifndef COMPLAINTD_TKT_H
#define COMPLAINTD_TKT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "evt.h"
#include "policy.h"

typedef enum { STG_CONTACT, STG_FIRST_REPLY, STG_RESOLVE, STG_REVISIT, STG__COUNT } Stage;

const char *tkt_stage_name(Stage s);

/* State of one alert of one stage in the current round. */
typedef enum { AST_NONE = 0, AST_FIRING, AST_ENDED } AlertState;

typedef struct Target {
    int64_t deadline;   /* TU_NEVER: not running (paused, not started, done) */
    int64_t warn_at;    /* TU_NEVER: no warning pending */
    bool done;
    int64_t done_at;
    uint8_t warn_state;   /* AlertState */
    uint8_t breach_state; /* AlertState */
    int64_t warn_fired_deadline;   /* deadline carried by the firing warning */
    int64_t warn_condition_at;
    int64_t breach_deadline;       /* deadline at which the breach fired */
} Target;

typedef struct Pause {
    int64_t start;
    int64_t end; /* TU_NEVER while running */
} Pause;

#define TKT_MAX_PAUSES 32

typedef struct Ticket {
    char id[EVT_TICKET_MAX + 1];
    /* what the complaint is about; updated by `updated` */
    Channel channel;
    Category category;
    bool claim;
    bool major;
    char waybill[EVT_WAYBILL_MAX + 1];
    char site[EVT_SITE_MAX + 1];
    char region[EVT_REGION_MAX + 1];
    char customer_ref[EVT_REF_MAX + 1];

    int round;
    int64_t received_at;  /* the first `received` */
    int64_t round_start;
    Target tg[STG__COUNT];

    bool urgent;
    unsigned reasons;     /* RSN_* */
    int64_t urgent_at;    /* when priority became urgent */

    bool closed;
    int64_t closed_at;
    int64_t last_resolved_at; /* latest completion of `resolve` in any round; 0 = never */

    int n_pauses;         /* pauses of the current round */
    Pause pauses[TKT_MAX_PAUSES];
    int64_t ext[STG__COUNT]; /* approved extensions of the round, seconds on the stage's clock */

    uint32_t escalated_rounds; /* bit r-1: ticket_escalated/<id>/<r> fired and not yet resolved */
    int64_t escalated_at[8];   /* condition time of the escalation of rounds 1..8 */
    bool repeat_firing;
    int64_t repeat_at;
    char previous_ticket_id[EVT_TICKET_MAX + 1];
    Responsible responsible;   /* for loss/delay tickets */
    char issue_site[EVT_SITE_MAX + 1]; /* the site of the bulk issue key ("" = not counted) */
    uint32_t eff_gen;          /* lib/desk: the Effects that lists this ticket (not stored) */
} Ticket;

typedef enum {
    TKT_APPLIED,  /* state changed */
    TKT_HISTORY,  /* recorded, no effect (stage already completed, ticket closed, ...) */
    TKT_INVALID,  /* invalid_transition: dead letter */
} TktResult;

/* A ticket from its `received` event. Priority follows `major` and `channel`
 * (ticket_escalated fires for them). Returns NULL when out of memory. */
Ticket *tkt_new(const ComplaintEvent *received, const Policy *p, AlertList *out);
void tkt_free(Ticket *t);

/* Applies a later event of the ticket. `now` is the daemon's clock (wall or
 * event); moved deadlines that are already past stay firing, those now later
 * resolve their breach. On TKT_INVALID, detail says why. */
TktResult tkt_apply(Ticket *t, const ComplaintEvent *ev, const Policy *p, int64_t now, AlertList *out, char *detail,
                    size_t detaillen);

/* Raises priority (bulk, repeat: RSN_BULK / RSN_REPEAT; or any reason) at
 * `at`: urgent budgets from the round's start, never earlier than `at`.
 * Returns true when the reasons changed. */
bool tkt_make_urgent(Ticket *t, unsigned reason, int64_t at, const Policy *p, int64_t now, AlertList *out);

/* Marks the ticket a repeat complaint of `previous` (contract §7): urgent for
 * RSN_REPEAT and a firing repeat_complaint alert. */
void tkt_mark_repeat(Ticket *t, const char *previous, int64_t at, const Policy *p, int64_t now, AlertList *out);

/* Fires every warning and breach due at or before `now`. */
void tkt_advance(Ticket *t, int64_t now, AlertList *out);

/* The earliest pending warning or deadline, TU_NEVER when none. */
int64_t tkt_next_due(const Ticket *t);

/* Recomputes every open target (policy reload, responsibility change). */
void tkt_recompute(Ticket *t, const Policy *p, int64_t now, AlertList *out);

/* Fills the ticket fields of an alert (id, round, priority, reasons, category, ...). */
void tkt_fill_alert(const Ticket *t, Alert *a);

/* Whether the ticket is open (not closed). */
static inline bool tkt_open(const Ticket *t)
{
    return !t->closed;
}

/* The ticket's stage name for the tables: the latest completed stage of the
 * round ("received" when none) or "closed". */
const char *tkt_status(const Ticket *t);

/* Serialisation for PostgreSQL: the full state as a JSON object, and back. */
json_t *tkt_to_json(const Ticket *t);
Ticket *tkt_from_json(const json_t *j, char *err, size_t errlen);

#endif
