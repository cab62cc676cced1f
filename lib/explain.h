/* explain: how a deadline comes out of the SLA table and the business
 * calendar, step by step, for people (complaintctl ticket show).
 *
 * xpl_plan lays out one clock run: from a start, a budget on the calendar
 * or the business clock, skipping paused intervals, it lists the stretches
 * the clock waited (night, lunch, days off), counted and stood still, and
 * the instant the budget runs out. xpl_target does for one stage of a
 * ticket what lib/tkt does when it schedules it (the rule of the round and
 * priority, extensions, region shift, pauses, a priority rise, an invalid
 * complaint, the statutory limit) and keeps every step of the way, so that
 * it can be shown. The deadline it arrives at is the one lib/tkt stores for
 * an open stage (tests/unit/test_explain.c checks that on random tickets);
 * for a completed stage it is the deadline the ticket's final state gives.
 *
 * Nothing here reads a clock or allocates beyond the plans' step lists. */
#ifndef COMPLAINTD_EXPLAIN_H
#define COMPLAINTD_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal.h"
#include "policy.h"
#include "tkt.h"

typedef enum {
    XPL_WAIT,  /* business clock: [from, to) outside the working windows */
    XPL_RUN,   /* [from, to): the clock counted secs */
    XPL_PAUSE, /* [from, to): paused, the clock stood still; to = TU_NEVER: not resumed */
    XPL_MORE,  /* [from, to): secs counted over windows not listed one by one (a very long plan) */
} XplKind;

typedef struct XplStep {
    XplKind kind;
    int64_t from, to;
    int64_t secs;      /* XPL_RUN, XPL_MORE: seconds counted */
    int days_off;      /* XPL_WAIT: whole non-working dates it passes over */
    int64_t first_off; /* ... the first of them (days since the epoch, the calendar's local date) */
} XplStep;

/* Plans longer than this list the rest of their time as one XPL_MORE step. */
#define XPL_MAX_STEPS 512

typedef struct XplPlan {
    ClockKind clock;
    int shift; /* region shift of the business clock, seconds */
    int64_t start;
    int64_t budget; /* seconds on the clock */
    int64_t due;    /* when the budget runs out; TU_NEVER: never (a pause not resumed, no working time) */
    XplStep *steps; /* owned */
    size_t n, cap;
    bool failed; /* out of memory: steps are incomplete (due is still right) */
} XplPlan;

/* Lays out `budget` seconds of the clock from `start`, not counting the
 * pause intervals (in time order, as a Ticket keeps them; n may be 0),
 * exactly as lib/tkt counts them. Returns pl->due. Free with xpl_plan_free. */
int64_t xpl_plan(XplPlan *pl, const Calendar *cal, ClockKind clock, int shift, int64_t start, int64_t budget,
                 const Pause *pauses, uint32_t n);
void xpl_plan_free(XplPlan *pl);

typedef enum {
    XPL_NOT_STARTED, /* revisit before resolved */
    XPL_OPEN,        /* running (or paused) */
    XPL_DONE,        /* completed at done_at */
    XPL_STOPPED,     /* the ticket was closed before the stage completed */
} XplState;

typedef struct XplTarget {
    Stage stage;
    XplState state;
    int64_t done_at;    /* XPL_DONE */
    PolTarget target;   /* the row of the SLA table (resolve_claim for a claim) */
    PolVariant variant; /* normal, urgent, reopened */
    SlaRule rule;
    int64_t ext;         /* approved extensions, seconds on the rule's clock */
    int shift;           /* region shift of a business clock (0 on the calendar clock) */
    int64_t start;       /* the round's start, or resolved for revisit */
    XplPlan plan;        /* rule.budget + ext from start */
    int64_t warn_offset; /* seconds of the clock from start to the warning */
    bool warn_explicit;  /* the rule's own warn point (else warn_ratio) */
    /* A priority rise during the round (contract §5): the urgent budget from
     * the start, but never before the rise nor after the normal deadline. */
    bool rise;
    int64_t rise_at;
    int64_t normal_due;   /* the deadline of the normal budget */
    int64_t after_rise;   /* the deadline the rise leaves */
    /* An invalid complaint's resolve (§12.6), when sooner. */
    bool invalid;         /* the ticket is invalid and this is resolve */
    bool invalid_applied; /* ... and its target is the sooner one */
    XplPlan invalid_plan; /* invalid_resolve from invalid_at */
    /* The statutory limit on round 1's resolve (contract §6). */
    bool statutory; /* a limit applies to this stage */
    bool statutory_applied;
    int64_t statutory_cap; /* received + statutory_limit */
    int64_t due;           /* the deadline */
    int64_t warn_at;       /* the warning point */
} XplTarget;

/* Explains stage s of t's current round under policy p. Returns 0, or -1
 * when out of memory (x is then still safe to free). */
__attribute__((warn_unused_result)) int xpl_target(XplTarget *x, const Ticket *t, Stage s, const Policy *p);
void xpl_target_free(XplTarget *x);

/* ---- words -------------------------------------------------------------- */

/* The province (省级行政区) of a region code or pinyin name as a ticket carries
 * it ("65", "xinjiang", "Xinjiang"): "Xinjiang", "Tibet", "Guangdong", ...;
 * NULL when unknown. */
const char *xpl_region_name(const char *region);

/* The working windows "08:00-12:00,14:00-20:00" moved `shift` seconds
 * later, written the same way ("10:00-14:00,16:00-22:00"); a time past
 * midnight gets "+1d". snprintf-style: returns the full length, -1 for a
 * spec it cannot read. */
int xpl_shift_windows(const char *spec, int64_t shift, char *buf, size_t buflen);

/* A duration for people: "2h", "1h30m", "3d 4h", "45s". */
void xpl_format_duration(int64_t secs, char *buf, size_t buflen);

/* An instant at the calendar's offset, short: "Sat 12:00" when its local
 * date is less than 6 days after ref's, else "Sat 12-06 12:00". */
void xpl_format_when(int64_t t, int64_t ref, int utc_offset_min, char *buf, size_t buflen);

/* The plan on one line, e.g. "received Fri 22:30 → business clock starts
 * Sat 10:00 → 2 business hours → due Sat 12:00": start, where a business
 * clock starts counting, how much it counts between pauses, each pause, and
 * the deadline. snprintf-style. */
int xpl_format_plan(const XplPlan *pl, const char *start_label, int utc_offset_min, char *buf, size_t buflen);

/* The stretches a plan counted, e.g. "Sat 10:00-14:00 (4h), Sat 16:00-22:00
 * (6h)"; long lists keep the first and last few and say how many are left
 * out. snprintf-style. */
int xpl_format_runs(const XplPlan *pl, int utc_offset_min, char *buf, size_t buflen);

#endif
