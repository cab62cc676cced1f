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
#include "theap.h"

typedef enum { STG_CONTACT, STG_FIRST_REPLY, STG_RESOLVE, STG_REVISIT, STG__COUNT } Stage;

const char *tkt_stage_name(Stage s);

/* State of one alert of one stage in the current round. */
typedef enum { AST_NONE = 0, AST_FIRING, AST_ENDED } AlertState;

typedef struct Target {
    int64_t deadline; /* TU_NEVER: not running (paused, not started, done) */
    int64_t warn_at;  /* TU_NEVER: no warning pending */
    int64_t done_at;
    int64_t warn_fired_deadline; /* deadline carried by the firing warning */
    int64_t warn_condition_at;
    int64_t breach_deadline; /* deadline at which the breach fired */
    bool done;
    uint8_t warn_state;   /* AlertState */
    uint8_t breach_state; /* AlertState */
} Target;

typedef struct Pause {
    int64_t start;
    int64_t end; /* TU_NEVER while running */
} Pause;

/* The ticket's strings. They live in one block owned by the ticket; set
 * them with tkt_set_str. Every one is "" when absent, never NULL. */
typedef enum {
    TS_ID,
    TS_WAYBILL,
    TS_SITE,
    TS_REGION,
    TS_CUSTOMER_REF,
    TS_PREVIOUS_TICKET_ID, /* the ticket this one repeats */
    TS_ISSUE_SITE,         /* the site of the bulk issue key ("" = not counted) */
    TS_RESP_SITE,          /* responsible.site ("" = null) */
    TS_RESP_RULE,          /* responsible.rule ("" = no responsibility attached) */
    TS__COUNT
} TktStr;

typedef struct Ticket {
    ThNode node; /* lib/desk's deadline heap; first, so the heap finds the ticket */
    const char *id, *waybill, *site, *region, *customer_ref, *previous_ticket_id, *issue_site;
    const char *resp_site, *resp_rule;
    char *strs; /* the block the strings point into */
    /* what the complaint is about; updated by `updated` */
    uint8_t channel;  /* Channel */
    uint8_t category; /* Category */
    bool claim;
    bool major;
    bool urgent;
    bool closed;
    bool repeat_firing;
    int8_t resp_role; /* SiteRole of the responsible site, -1 = null */
    uint8_t reasons;  /* RSN_* */

    int round;
    int64_t received_at; /* the first `received` */
    int64_t round_start;
    Target tg[STG__COUNT];

    int64_t urgent_at; /* when priority became urgent */
    int64_t closed_at;
    int64_t last_resolved_at; /* latest completion of `resolve` in any round; 0 = never */

    Pause *pauses; /* pauses of the current round, in arrival order */
    uint32_t n_pauses, cap_pauses;
    int32_t ext[STG__COUNT]; /* approved extensions of the round, seconds on the stage's clock */

    uint32_t escalated_rounds; /* bit r-1: ticket_escalated/<id>/<r> fired and not yet resolved */
    int64_t escalated_at[8];   /* condition time of the escalation of rounds 1..8 */
    int64_t repeat_at;

    /* The ids of the events recorded for this ticket, NUL-terminated one
     * after the other: the duplicate check (an event id is unique, and a
     * copy of an event names the same ticket). */
    char *event_ids;
    uint32_t event_ids_len, event_ids_cap;

    uint32_t eff_gen; /* lib/desk: the Effects that lists this ticket, and where (not stored) */
    uint32_t eff_index;
} Ticket;

/* The responsibility attached to the ticket, as an alert carries it. */
static inline bool tkt_responsible_known(const Ticket *t)
{
    return t->resp_rule[0] != '\0';
}
void tkt_get_responsible(const Ticket *t, Responsible *out);

/* Sets one string (copied; NULL counts as ""). -1 when out of memory: the
 * ticket keeps its strings. */
__attribute__((warn_unused_result)) int tkt_set_str(Ticket *t, TktStr which, const char *value);
/* Sets the responsibility (site, role, rule); -1 when out of memory. */
__attribute__((warn_unused_result)) int tkt_set_responsible(Ticket *t, const Responsible *r);

/* Whether an event id was recorded for this ticket, and recording one. */
bool tkt_seen(const Ticket *t, const char *event_id);
__attribute__((warn_unused_result)) int tkt_remember(Ticket *t, const char *event_id);

/* A ticket with every string "" but its id and no state: the start of
 * tkt_new and tkt_unpack, and of tests that build tickets by hand. NULL
 * when out of memory. */
Ticket *tkt_blank(const char *id);

typedef enum {
    TKT_APPLIED, /* state changed */
    TKT_HISTORY, /* recorded, no effect (stage already completed, ticket closed, ...) */
    TKT_INVALID, /* invalid_transition: dead letter */
    TKT_NOMEM,   /* out of memory: the ticket may be half-changed */
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
 * RSN_REPEAT and a firing repeat_complaint alert. -1 when out of memory. */
__attribute__((warn_unused_result)) int tkt_mark_repeat(Ticket *t, const char *previous, int64_t at, const Policy *p,
                                                        int64_t now, AlertList *out);

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

/* The full state as bytes, for PostgreSQL (malloc'd; NULL when out of
 * memory), and back (NULL with err set when the bytes are not a ticket). */
uint8_t *tkt_pack(const Ticket *t, size_t *len);
Ticket *tkt_unpack(const void *data, size_t len, char *err, size_t errlen);
/* A ticket from the JSON state migration 001 stored (the `state` column of
 * rows written before migration 003); its event ids are not in it. */
Ticket *tkt_from_json(const json_t *j, char *err, size_t errlen);

#endif
