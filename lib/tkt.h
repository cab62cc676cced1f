/* tkt: the ticket state machine of contract §4-§6, §9 and §12.
 *
 * A ticket records when each stage of the current round was completed, its
 * priority, pauses and extensions, and the state of its alerts: SLA
 * warnings and breaches (which may fire again after their deadline moved,
 * §12.1), pauses past their agreed date (§12.3), progress and response
 * schedules (§12.4), what makes it major (§12.5), its validity (§12.6) and
 * the delay/loss review (§12.7). Every function takes the time it acts at;
 * nothing here reads a clock. Alerts are appended to the caller's AlertList
 * (emitted_at left 0). */
#ifndef COMPLAINTD_TKT_H
#define COMPLAINTD_TKT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alert.h"
#include "evt.h"
#include "policy.h"
#include "theap.h"
#include "timeutil.h"

typedef enum { STG_CONTACT, STG_FIRST_REPLY, STG_RESOLVE, STG_REVISIT, STG__COUNT } Stage;

const char *tkt_stage_name(Stage s);

/* State of one alert of one stage in the current round. */
typedef enum { AST_NONE = 0, AST_FIRING, AST_ENDED } AlertState;

typedef struct Target {
    Tu32 deadline; /* TU_NEVER: not running (paused, not started, done) */
    Tu32 warn_at;  /* TU_NEVER: no warning pending */
    Tu32 done_at;
    Tu32 warn_fired_deadline; /* deadline carried by the firing warning */
    Tu32 warn_condition_at;
    Tu32 breach_deadline; /* deadline at which the breach fired */
    /* bit-fields: the three share a byte, and a ticket keeps four Targets */
    unsigned done : 1;
    unsigned warn_state : 2;   /* AlertState */
    unsigned breach_state : 2; /* AlertState */
    uint8_t warn_n;            /* warnings fired in the round: the id of the 2nd ends in /2 (§12.1) */
    uint8_t breach_n;
} Target;

/* A pause interval, derived from the round's paused and resumed events. */
typedef struct Pause {
    int64_t start;
    int64_t end;     /* when it ended or will end by itself; TU_NEVER: open-ended */
    uint32_t opener; /* the index in pev of the paused event that opened it */
    bool by_itself;  /* no resumed ended it: it ends (or ended) at its agreed date or pause_max */
} Pause;

/* A paused or resumed event of the ticket (of every round), kept in
 * occurred_at order so that the intervals come out the same whatever order
 * the events arrive in. */
typedef struct PauseEv {
    int64_t at;
    int64_t until; /* paused: when it ends by itself (`until`, else at + pause_max), TU_NEVER: never */
    bool resume;
    bool frac;       /* its occurred_at had a fraction: it is after `at`, within that second */
    uint8_t overdue; /* paused: AlertState of its pause_overdue */
    uint16_t n;      /* ...the <n> and <round> of its id once it fired (0: not known, a snapshot from before) */
    uint16_t round;
} PauseEv;

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

/* What most tickets never have, kept out of line so that the many tickets
 * without it do not pay for it: the round's pauses, its approved
 * extensions, and the condition times of fired escalations. A ticket gets it
 * with its first paused or resumed event, extension or escalation. */
typedef struct TktRare {
    PauseEv *pev;  /* the round's paused and resumed events, in occurred_at order */
    Pause *pauses; /* the intervals they make (derived from pev) */
    uint32_t n_pev, cap_pev;
    uint32_t n_pauses, cap_pauses;
    int32_t ext[STG__COUNT]; /* approved extensions of the round, seconds on the stage's clock */
    Tu32 escalated_at[8];    /* condition time of the escalation of rounds 1..8 */
    Tu32 category_at;        /* when an `updated` last changed the category (0: never) */
} TktRare;

typedef struct Ticket {
    ThNode node; /* lib/desk's deadline heap; first, so the heap finds the ticket */
    /* The ticket's strings and the ids of its events, in one block owned by
     * the ticket: the strings NUL-terminated in TktStr order (tkt_str walks
     * to string w: they are short, and the id, the one looked up most, comes
     * first), then from ids_at the ids of the events recorded for it,
     * NUL-terminated one after the other, for the duplicate check (an event
     * id is unique, and a copy of an event names the same ticket). The block
     * is always strs_room(strs_len) bytes long (lib/tkt.c), so its capacity
     * needs no field. One pointer and two offsets: 14 bytes instead of 88 for nine
     * pointers and a list of ids. */
    char *strs;
    uint32_t strs_len;
    uint16_t ids_at;
    /* what the complaint is about; updated by `updated` */
    uint8_t channel;  /* Channel */
    uint8_t category; /* Category */
    bool claim : 1;
    bool major : 1;
    bool urgent : 1;
    bool closed : 1;
    bool repeat_firing : 1;
    bool stored : 1; /* the store's: it has a row in PostgreSQL (not stored) */
    /* §12.5, with claim_amount and complainants below */
    bool injury : 1, vip : 1, executive : 1;
    bool invalid : 1;          /* §12.6 */
    unsigned prog_state : 2;   /* §12.4: AlertState of the current lapse */
    unsigned review_state : 2; /* §12.7: AlertState of category_review in the round */
    int8_t resp_role;          /* SiteRole of the responsible site, -1 = null */
    uint8_t reasons;           /* RSN_* */
    uint16_t prog_n;           /* §12.4: progress_due lapses in the round */
    uint8_t major_because;     /* §12.5: MB_* */
    uint8_t resp_count;        /* §12.4: customer-facing events of round 1 */

    /* The fields are ordered by size, leaving no holes to speak of, and the
     * flags are bits: one is kept per open ticket, a million of them on a
     * busy desk, and 248 bytes make a 256-byte malloc chunk. Every time a
     * ticket keeps is a 32-bit Tu32, deadlines included (TU_NEVER kept). */
    Tu32 received_at; /* the first `received` */
    Tu32 round_start;
    Target tg[STG__COUNT];

    Tu32 urgent_at; /* when priority became urgent */
    Tu32 closed_at;
    Tu32 last_resolved_at; /* latest completion of `resolve` in any round; 0 = never */
    int32_t round;

    TktRare *rare; /* pauses, extensions, escalation times; NULL: none */

    /* §12.5: what the complaint says about itself */
    double claim_amount;
    int32_t complainants;
    int8_t review_suggest;  /* §12.7: Category suggested, -1 = none */
    uint8_t issue_category; /* the category of its bulk issue key: as received, whatever updated says since */
    /* lib/desk: the partition its `received` came on in this run, -1 when
     * not known (loaded from PostgreSQL); not stored */
    int16_t part;
    Tu32 invalid_at; /* §12.6: when it was found invalid */
    /* §12.4: progress after the first reply, and the response schedule */
    Tu32 last_cf;         /* the latest customer-facing event since the first reply */
    Tu32 prog_at;         /* its condition time */
    uint16_t resp_firing; /* bit n-1: response_due/<id>/<n> firing */
    uint16_t resp_done;   /* bit n-1: ended, or never to fire */
    /* §12.7, with review_state and review_suggest above */
    Tu32 review_at;  /* condition time of the firing review */
    Tu32 review_due; /* when the delay ticket's parcel passes loss_after, TU_NEVER when not pending */

    uint32_t escalated_rounds; /* bit r-1: ticket_escalated/<id>/<r> fired and not yet resolved */
    Tu32 repeat_at;

    uint32_t eff_gen; /* lib/desk: the Effects that lists this ticket, and where (not stored) */
    uint32_t eff_index;
    /* The store's: while this is above the desk's `folded`, its newest
     * snapshot is stored only where it waits to be folded (not stored). */
    int64_t unfolded;
} Ticket;

/* The round's pause intervals (NULL when none) and paused/resumed events. */
static inline uint32_t tkt_n_pauses(const Ticket *t)
{
    return t->rare ? t->rare->n_pauses : 0;
}
static inline const Pause *tkt_pauses(const Ticket *t)
{
    return t->rare ? t->rare->pauses : NULL;
}
static inline uint32_t tkt_n_pause_evs(const Ticket *t)
{
    return t->rare ? t->rare->n_pev : 0;
}
static inline const PauseEv *tkt_pause_evs(const Ticket *t)
{
    return t->rare ? t->rare->pev : NULL;
}
/* The round's approved extension of stage s, seconds. */
static inline int32_t tkt_ext(const Ticket *t, Stage s)
{
    return t->rare ? t->rare->ext[s] : 0;
}
/* The condition time of the escalation of round r (1..8); 0 when none. */
static inline int64_t tkt_escalated_at(const Ticket *t, int r)
{
    return t->rare && r >= 1 && r <= 8 ? tu32_get(t->rare->escalated_at[r - 1]) : 0;
}

/* When an `updated` last changed the category; 0 when none did. */
static inline int64_t tkt_category_at(const Ticket *t)
{
    return t->rare ? tu32_get(t->rare->category_at) : 0;
}

/* The ticket's strings: "" when absent, never NULL. A pointer stays valid
 * until the next tkt_set_str, tkt_set_responsible, tkt_remember or change of
 * the ticket by an event. */
static inline const char *tkt_str(const Ticket *t, TktStr w)
{
    const char *s = t->strs;
    for (int i = 0; i < (int)w; i++)
        s += strlen(s) + 1;
    return s;
}
/* tkt_id(t), tkt_waybill(t), ... : one accessor a string. */
#define TKT_STR_ACCESSOR(name, which)                                                                                  \
    static inline const char *tkt_##name(const Ticket *t)                                                              \
    {                                                                                                                  \
        return tkt_str(t, which);                                                                                      \
    }
TKT_STR_ACCESSOR(id, TS_ID)
TKT_STR_ACCESSOR(waybill, TS_WAYBILL)
TKT_STR_ACCESSOR(site, TS_SITE)
TKT_STR_ACCESSOR(region, TS_REGION)
TKT_STR_ACCESSOR(customer_ref, TS_CUSTOMER_REF)
TKT_STR_ACCESSOR(previous_ticket_id, TS_PREVIOUS_TICKET_ID)
TKT_STR_ACCESSOR(issue_site, TS_ISSUE_SITE)
TKT_STR_ACCESSOR(resp_site, TS_RESP_SITE)
TKT_STR_ACCESSOR(resp_rule, TS_RESP_RULE)
#undef TKT_STR_ACCESSOR

/* The recorded event ids: *len bytes of NUL-terminated ids. */
static inline const char *tkt_event_ids(const Ticket *t, uint32_t *len)
{
    *len = t->strs_len - t->ids_at;
    return t->strs + t->ids_at;
}

/* The responsibility attached to the ticket, as an alert carries it. */
static inline bool tkt_responsible_known(const Ticket *t)
{
    return tkt_resp_rule(t)[0] != '\0';
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

/* Fires every alert of the ticket due at or before `now`: warnings and
 * breaches, pauses past their agreed date, the delay review, and (they need
 * the policy) progress and response schedules. */
void tkt_fire(Ticket *t, const Policy *p, int64_t now, AlertList *out);
/* The same without the policy's schedules (§12.4). */
void tkt_advance(Ticket *t, int64_t now, AlertList *out);

/* The earliest moment something of the ticket falls due, TU_NEVER when
 * none; tkt_next_due leaves out the schedules of §12.4. */
int64_t tkt_next_due_p(const Ticket *t, const Policy *p);
int64_t tkt_next_due(const Ticket *t);

/* Adds the ticket's firing alerts to counts, by type. */
void tkt_count_firing(const Ticket *t, unsigned counts[AL__COUNT]);

/* Paused now: a pause open without a resumed and not yet past its agreed date. */
bool tkt_paused(const Ticket *t);

/* Recomputes every open target (policy reload, responsibility change). */
void tkt_recompute(Ticket *t, const Policy *p, int64_t now, AlertList *out);

/* Fills the ticket fields of an alert (id, round, priority, reasons, category, ...). */
void tkt_fill_alert(const Ticket *t, Alert *a);

/* §12.7: the delay/loss review of a ticket with a waybill, from its parcel:
 * pickup_at (0 when no pickup scan is known) and whether it is signed.
 * Fires, re-arms or ends category_review; the caller calls it when the
 * ticket is received or reclassified and when its parcel's pickup or
 * signature arrives. */
void tkt_review(Ticket *t, int64_t pickup_at, bool parcel_signed, const Policy *p, int64_t now, AlertList *out);

/* Whether the ticket counts as a valid complaint (§12.6). */
static inline bool tkt_valid(const Ticket *t)
{
    return !t->invalid;
}

/* The site a valid complaint counts against for site accountability
 * (§12.8): the responsible site where contract §8 attributes one (a loss or
 * delay ticket), else the ticket's own; NULL when neither, or when the
 * complaint is invalid. */
static inline const char *tkt_acct_site(const Ticket *t)
{
    if (t->invalid)
        return NULL;
    if (tkt_responsible_known(t) && (t->category == CAT_LOSS || t->category == CAT_DELAY) && tkt_resp_site(t)[0])
        return tkt_resp_site(t);
    return tkt_site(t)[0] ? tkt_site(t) : NULL;
}

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
