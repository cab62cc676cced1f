/* policy: the SLA table of contract §6 and the other policy values (§7, §8),
 * with the business calendar they use. Every value has a default and a
 * `[policy]` key; docs/configuration.md lists them. */
#ifndef COMPLAINTD_POLICY_H
#define COMPLAINTD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cal.h"

typedef enum { CLK_CALENDAR, CLK_BUSINESS } ClockKind;

/* Rows of the SLA table. resolve_claim is the resolve target of a claim ticket. */
typedef enum { TGT_CONTACT, TGT_FIRST_REPLY, TGT_RESOLVE, TGT_RESOLVE_CLAIM, TGT_REVISIT, TGT__COUNT } PolTarget;
/* Columns: reopened applies to every round after the first. */
typedef enum { VAR_NORMAL, VAR_URGENT, VAR_REOPENED, VAR__COUNT } PolVariant;

typedef struct SlaRule {
    int64_t budget;  /* seconds on `clock` */
    ClockKind clock;
    int64_t warn;    /* explicit warn point in seconds from the start, or -1: warn_ratio of the budget */
} SlaRule;

#define POL_MAX_REGIONS 16
#define POL_MAX_SCHEDULE 16
#define POL_REGION_LEN 32

typedef struct Policy {
    SlaRule sla[TGT__COUNT][VAR__COUNT];
    int warn_ratio_pct;          /* warn_ratio = 80%  */
    int64_t statutory_limit;     /* statutory_limit = 7d; 0 disables */
    int bulk_threshold;          /* bulk_threshold = 10 */
    int64_t bulk_window;         /* bulk_window = 60m */
    int64_t stall_after;         /* stall_after = 168h */
    int64_t repeat_lookback;     /* repeat_lookback = 90d */
    int64_t hold_timeout;        /* hold_timeout = 1h (processing time) */
    int hold_max;                /* hold_max = 100000 held events at most */
    int64_t region_shift;        /* region_shift = 2h */
    /* §12: the second wave */
    int64_t max_future_skew;     /* max_future_skew = 5m; 0 disables (§12.10) */
    int64_t pause_max;           /* pause_max = 72h; 0: no automatic resume (§12.3) */
    int64_t progress_interval;   /* progress_interval = 24h; 0 disables (§12.4) */
    int n_response_schedule;     /* response_schedule = "" (2485: 2h,24h,48h,5d) */
    int64_t response_schedule[POL_MAX_SCHEDULE];
    int major_claim_amount;      /* major_claim_amount = 50000 (CNY, §12.5) */
    int major_complainants;      /* major_complainants = 5 */
    SlaRule invalid_resolve;     /* invalid_resolve = 10h business (§12.6) */
    int64_t loss_after;          /* loss_after = 168h (§12.7) */
    int accountability_month;    /* accountability_month = 3 (§12.8) */
    int accountability_total;    /* accountability_total = 5 */
    int64_t accountability_window; /* accountability_window = 365d */
    int n_shifted_regions;       /* shifted_regions = 65,54,xinjiang,tibet */
    char shifted_regions[POL_MAX_REGIONS][POL_REGION_LEN + 1];
    Calendar *cal;               /* business_hours, utc_offset, workdays, holidays, extra_workdays */
    /* The calendar keys as last set (owned, never NULL), because a
     * Calendar cannot print itself back; pol_get and cfg_dump show them. */
    char *business_hours;        /* 08:00-12:00,14:00-20:00 */
    char *workdays;              /* mon,tue,wed,thu,fri,sat,sun */
    char *holidays;              /* "" */
    char *extra_workdays;        /* "" */
} Policy;

Policy *pol_new(void);                 /* the defaults of contract §6-§8 */
Policy *pol_clone(const Policy *p);
void pol_free(Policy *p);

/* Sets one `[policy]` key. Returns 0, -1 with err set for a bad value, or 1
 * when the key is not a policy key (err set too). Keys:
 *   sla.<target>.<variant> = <duration> <calendar|business> [warn <duration>]
 *     target: contact first_reply resolve resolve_claim revisit
 *     variant: normal urgent reopened
 *   warn_ratio, statutory_limit, bulk_threshold, bulk_window, stall_after,
 *   repeat_lookback, hold_timeout, hold_max, region_shift, shifted_regions,
 *   business_hours, utc_offset, workdays, holidays, extra_workdays
 * A rejected value leaves p as it was. Durations need a unit ("90d", "1h30m"):
 * a bare number other than 0 is rejected as a likely slip. */
__attribute__((warn_unused_result)) int pol_set(Policy *p, const char *key, const char *value, char *err,
                                                size_t errlen);

/* Region shift in seconds for a ticket's region ("" or NULL: none). Matching is
 * case-insensitive. */
int64_t pol_region_shift(const Policy *p, const char *region);

const char *pol_target_name(PolTarget t);
const char *pol_variant_name(PolVariant v);

/* The names of every `[policy]` key in documentation order, the SLA
 * keys first; NULL when i is past the last one. */
const char *pol_key_name(size_t i);

/* Writes the value of a `[policy]` key in the form pol_set accepts
 * ("48h calendar warn 24h", "80%", "7d"), snprintf-style: returns the length
 * of the full value (the output is cut to buflen), or -1 for an unknown key. */
int pol_get(const Policy *p, const char *key, char *buf, size_t buflen);

#endif
