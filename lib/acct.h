/* acct: site accountability (网点考核, contract §12.8): valid complaints
 * counted against their responsible site by calendar month and over a
 * sliding window ("当月出现3次(含)或总累计5次以上").
 *
 * Months are calendar months in the desk's local time, a UTC offset in
 * minutes (+480 for UTC+08:00), of each complaint's `received` time.
 *
 * - month: the month_threshold-th complaint of a site in one month fires
 *   site_accountability/<site>/<YYYY-MM>.
 * - total: a complaint that is at least the total_threshold-th within the
 *   window ending at it fires site_accountability/<site>/<YYYY-MM>/total,
 *   YYYY-MM being that complaint's month; at most once per site and month.
 *   Windows are half-open like bulk's: complaints at t0 and t0+window-1 share
 *   a window, t0 and t0+window do not.
 *
 * Each (site, month, kind) fires at most once, ever: removing complaints or
 * a month end does not let it fire again. A firing episode resolves at the
 * end of its month (the first instant of the next month, local time); the
 * caller drives that time, event clock or wall clock, with acct_next_due and
 * acct_fire_due.
 *
 * Complaints are ordered by received time, equal times by ticket id (byte
 * order): the same whatever order they are added in. A late complaint (dated
 * before ones already counted) counts in its own month and in the windows it
 * belongs to: it may complete its month, and complaints after it (up to one
 * window later) may now reach the total, each in its own month. An episode
 * fired by a late complaint may belong to a month that has already ended;
 * its month end is then already due.
 *
 * Thresholds below 1 count as 1 (INT_MAX turns a rule off), a window below
 * one second as one second. Local times outside the years 0000..9999 count
 * in the first or last month of that range. */
#ifndef COMPLAINTD_ACCT_H
#define COMPLAINTD_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

typedef struct Acct Acct;

/* Site names are stored whole; an alert carries at most this many bytes of
 * one (decoded events never have longer ones, EVT_SITE_MAX). */
#define ACCT_SITE_MAX 64

/* One firing or resolved site_accountability alert; the caller turns it into
 * an Alert. */
typedef struct AcctAlert {
    char site[ACCT_SITE_MAX + 1];
    int year, month;    /* the local calendar month of the episode, month 1..12 */
    bool total;         /* reason "total" (.../total) rather than "month" */
    AlertStatus status; /* AS_FIRING or AS_RESOLVED */
    int count;          /* n_ticket_ids */
    char **ticket_ids;  /* owned; in time order, equal times by id */
    int n_ticket_ids;
    int64_t condition_at; /* received_at of the complaint that reached the threshold */
    int64_t resolved_at;  /* the month's end when resolved; 0 while firing */
} AcctAlert;

/* What each alert lists:
 * - firing, month: every complaint of the site counted in that month;
 *   condition_at is the month_threshold-th of them.
 * - firing, total: the complaints in the window ending at the complaint that
 *   reached the total (condition_at), that one included and complaints of the
 *   same second added after it excluded.
 * - resolved: the same sets as they stand at resolution (complaints removed
 *   since firing left out, late ones added), so count may be below the
 *   threshold; a total lists the complaints in
 *   (condition_at - window, condition_at]. condition_at is the firing one. */

/* A growable list of AcctAlerts, in emission order. */
typedef struct AcctAlertList {
    AcctAlert *v;
    size_t n, cap;
    bool failed; /* a push ran out of memory (and lost its alert) */
} AcctAlertList;

void acct_alert_clear(AcctAlert *a); /* frees ticket_ids */
/* Appends a copy, taking ownership of a->ticket_ids. Returns the stored
 * alert, or NULL when out of memory: then a's ids are freed and l->failed is
 * set. A zeroed AcctAlertList is an empty list. */
AcctAlert *acct_alert_list_push(AcctAlertList *l, AcctAlert *a);
void acct_alert_list_reset(AcctAlertList *l); /* clears every alert and `failed`, keeps the buffer */
void acct_alert_list_free(AcctAlertList *l);

/* Writes site_accountability/<site>/<YYYY-MM>, plus /total for a total
 * alert, truncated to len - 1 bytes. ALERT_ID_MAX + 1 bytes always suffice. */
void acct_alert_id(const AcctAlert *a, char *buf, size_t len);

Acct *acct_new(void);
void acct_free(Acct *a);

/* Counts one complaint of `site` and appends the alerts it fires to out: the
 * month alert first, then total alerts in time order. A ticket id is counted
 * once per site: adding it again changes nothing (and fires nothing).
 * Complaints received before the horizon of acct_prune are ignored: their
 * months were forgotten, and counting them could fire an episode twice.
 * Returns 0, or -1 when out of memory: then nothing changed (out included;
 * out->failed keeps its value). */
__attribute__((warn_unused_result)) int acct_add(Acct *a, const char *site, const char *ticket_id, int64_t received_at,
                                                 int utc_offset_min, int month_threshold, int total_threshold,
                                                 int64_t window, AcctAlertList *out);

/* Counts a complaint without firing anything: for restoring the state after
 * a restart. Re-add the complaints this way, then mark the episodes that had
 * fired with acct_restore. Returns 0 or -1 when out of memory (nothing
 * changed). */
__attribute__((warn_unused_result)) int acct_add_quiet(Acct *a, const char *site, const char *ticket_id,
                                                       int64_t received_at);

/* Stops counting an invalidated complaint. Returns 1 when it was counted, 0
 * when not. An alert it helped fire stays firing until its month ends (and
 * its episode still never fires again); the resolved alert no longer lists
 * the complaint. */
int acct_remove(Acct *a, const char *site, const char *ticket_id);

/* Marks the episode (site, year-month, total?) as fired before a restart.
 * ended = false: it fired and has not resolved; it is firing again, due at its
 * month's end (local time at utc_offset_min; window as given to acct_add, for
 * the resolved total alert's ids). ended = true: it fired and resolved; it
 * never fires again. Marking an episode already known keeps its condition_at
 * when firing; ended wins over firing. Returns 0, -1 when out of memory,
 * -2 when month is not 1..12 or year not 0..9999 (nothing changed on
 * either). */
__attribute__((warn_unused_result)) int acct_restore(Acct *a, const char *site, int year, int month, bool total,
                                                     int64_t condition_at, bool ended, int utc_offset_min,
                                                     int64_t window);

/* The earliest month end of a firing episode, TU_NEVER when none fires. */
int64_t acct_next_due(const Acct *a);

/* Resolves firing episodes whose month ended at or before upto, site by
 * site, as long as out gets at most `max` alerts (at least one site's), in
 * order of month end (at one month end site by site, a site's month alert
 * before its total), with resolved_at = the month's end. Returns the number resolved, or -1 when out of memory:
 * the episodes already appended to out are resolved, the others stay due. */
__attribute__((warn_unused_result)) int acct_fire_due(Acct *a, int64_t upto, size_t max, AcctAlertList *out);

/* Forgets complaints received before `before` (except those a firing
 * episode still lists) and resolved episodes whose month ended by then, and
 * from now on ignores complaints received before it. Pass now - window - one
 * month or earlier: then a complaint up to a month late still finds its whole
 * month and window; the further back, the later it may be. A `before` at or
 * below an earlier one changes nothing. */
void acct_prune(Acct *a, int64_t before);

/* Episodes firing now (fired, not yet resolved). O(sites). */
size_t acct_firing(const Acct *a);

/* Complaints counted, for one site and in all; sites held. */
size_t acct_site_count(const Acct *a, const char *site);
size_t acct_size(const Acct *a);
size_t acct_sites(const Acct *a);

#endif
