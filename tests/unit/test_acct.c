/* Tests for acct: site accountability (contract §12.8, "当月出现3次(含)或总累计5次以上").
 * The defaults are 3 complaints in a calendar month or 5 within 365 days,
 * months in UTC+08:00; most cases use them so the numbers read like the
 * contract, and give times as RFC 3339 so the month boundaries are visible. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acct.h"
#include "testutil.h"
#include "timeutil.h"

#define OFF 480 /* UTC+08:00 */
#define MTH 3
#define TTH 5
#define DAY INT64_C(86400)
#define WIN (365 * DAY)

static int64_t ts(const char *s)
{
    int64_t t = 0;
    ck_assert_msg(tu_parse_rfc3339(s, &t) == 0, "bad time %s", s);
    return t;
}

/* Adds one complaint; out then holds just the alerts it fired. */
static size_t addx(Acct *a, AcctAlertList *out, const char *site, const char *id, int64_t at, int off, int mth, int tth,
                   int64_t win)
{
    acct_alert_list_reset(out);
    ck_assert_int_eq(acct_add(a, site, id, at, off, mth, tth, win, out), 0);
    ck_assert(!out->failed);
    return out->n;
}

static size_t add(Acct *a, AcctAlertList *out, const char *site, const char *id, const char *when)
{
    return addx(a, out, site, id, ts(when), OFF, MTH, TTH, WIN);
}

/* The month rule alone (the total turned off), for tests of months. */
static size_t addm(Acct *a, AcctAlertList *out, const char *site, const char *id, const char *when)
{
    return addx(a, out, site, id, ts(when), OFF, MTH, INT_MAX, WIN);
}

static int fire_due(Acct *a, AcctAlertList *out, int64_t upto)
{
    acct_alert_list_reset(out);
    int n = acct_fire_due(a, upto, SIZE_MAX, out);
    ck_assert_int_ge(n, 0);
    ck_assert_uint_eq((size_t)n, out->n);
    return n;
}

static const char *idof(const AcctAlert *al)
{
    static char buf[ALERT_ID_MAX + 1];
    acct_alert_id(al, buf, sizeof buf);
    return buf;
}

static void check_alert(const AcctAlert *al, const char *id, AlertStatus status, int64_t condition_at,
                        int64_t resolved_at, const char *const *ids, int n)
{
    ck_assert_str_eq(idof(al), id);
    ck_assert_int_eq(al->status, status);
    ck_assert_int_eq(al->condition_at, condition_at);
    ck_assert_int_eq(al->resolved_at, resolved_at);
    ck_assert_int_eq(al->count, n);
    ck_assert_int_eq(al->n_ticket_ids, n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(al->ticket_ids[i], ids[i]);
}

#define IDS(...) (const char *const[]){__VA_ARGS__}, NELEM(((const char *const[]){__VA_ARGS__}))
#define FIRING(al, id, cond, ...) check_alert(al, id, AS_FIRING, cond, 0, IDS(__VA_ARGS__))
#define RESOLVED(al, id, cond, res, ...) check_alert(al, id, AS_RESOLVED, cond, res, IDS(__VA_ARGS__))

/* ---- the month rule ----------------------------------------------------- */

/* For thresholds 1..6: the threshold-th complaint of the month fires, none
 * before it (one below stays quiet) and none after it. */
START_TEST(test_month_threshold)
{
    int th = _i;
    Acct *a = acct_new();
    AcctAlertList out = {0};
    const char *ids[8];
    char names[8][16];
    int64_t t0 = ts("2026-11-02T09:00:00+08:00");
    for (int i = 0; i < th + 2; i++) {
        snprintf(names[i], sizeof names[i], "T%d", i + 1);
        ids[i] = names[i];
        size_t n = addx(a, &out, "S1", ids[i], t0 + i * DAY, OFF, th, INT_MAX, WIN);
        if (i + 1 != th) {
            ck_assert_msg(n == 0, "complaint %d of threshold %d fired", i + 1, th);
            continue;
        }
        ck_assert_uint_eq(n, 1);
        check_alert(&out.v[0], "site_accountability/S1/2026-11", AS_FIRING, t0 + i * DAY, 0, ids, th);
        ck_assert(!out.v[0].total);
        ck_assert_str_eq(out.v[0].site, "S1");
        ck_assert_int_eq(out.v[0].year, 2026);
        ck_assert_int_eq(out.v[0].month, 11);
    }
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* Complaints of one second are listed by ticket id, whatever order they
 * are added in (arrival on several partitions, or a restart's load), so
 * the firing and its resolution list them alike. */
START_TEST(test_equal_times_in_id_order)
{
    const char *orders[2][3] = {{"TB", "TA", "TC"}, {"TA", "TC", "TB"}};
    for (int o = 0; o < 2; o++) {
        Acct *a = acct_new();
        AcctAlertList out = {0};
        int64_t t0 = ts("2026-11-02T09:00:00+08:00");
        size_t n = 0;
        for (int i = 0; i < 3; i++)
            n += addm(a, &out, "S1", orders[o][i], "2026-11-02T09:00:00+08:00");
        ck_assert_uint_eq(n, 1);
        FIRING(&out.v[0], "site_accountability/S1/2026-11", t0, "TA", "TB", "TC");
        ck_assert_int_eq(fire_due(a, &out, ts("2026-12-01T00:00:00+08:00")), 1);
        RESOLVED(&out.v[0], "site_accountability/S1/2026-11", t0, ts("2026-12-01T00:00:00+08:00"), "TA", "TB", "TC");
        acct_alert_list_free(&out);
        acct_free(a);
    }
}
END_TEST

START_TEST(test_month_defaults)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-11-03T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-10T10:00:00+08:00"), 0);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-20T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-20T10:00:00+08:00"), "T1", "T2", "T3");
    /* The 4th and 5th of the month fire nothing more (and 5 in one month
     * are not 5 "in total" either way: see test_total_same_month). */
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-21T10:00:00+08:00"), 0);
    /* Other sites count apart. */
    ck_assert_uint_eq(add(a, &out, "S2", "U1", "2026-11-20T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S2", "U2", "2026-11-20T11:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S1"), 4);
    ck_assert_uint_eq(acct_site_count(a, "S2"), 2);
    ck_assert_uint_eq(acct_sites(a), 2);
    ck_assert_uint_eq(acct_size(a), 6);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* Month boundaries are local: in UTC+08:00 23:59:59 on the 30th is
 * November, 00:00:00 on the 1st is December, and so is 16:30Z on the 30th. */
START_TEST(test_month_boundary_local)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(addm(a, &out, "S1", "T1", "2026-11-10T12:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T2", "2026-11-30T23:59:59+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T3", "2026-12-01T00:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T4", "2026-11-30T16:30:00Z"), 0); /* 2026-12-01T00:30+08:00 */
    /* The same second as T2, so November: its 3rd. Equal times keep the
     * order they were added in. */
    ck_assert_uint_eq(addm(a, &out, "S1", "T5", "2026-11-30T15:59:59Z"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-30T23:59:59+08:00"), "T1", "T2", "T5");
    ck_assert_uint_eq(addm(a, &out, "S1", "T6", "2026-12-15T12:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-12", ts("2026-12-15T12:00:00+08:00"), "T3", "T4", "T6");
    acct_free(a);

    /* The same instants at UTC: 16:30Z on the 30th is still November. */
    a = acct_new();
    ck_assert_uint_eq(addx(a, &out, "S1", "T1", ts("2026-11-10T12:00:00Z"), 0, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T3", ts("2026-12-01T00:00:00Z"), 0, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T4", ts("2026-11-30T16:30:00Z"), 0, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T5", ts("2026-11-30T23:59:59Z"), 0, MTH, TTH, WIN), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-30T23:59:59Z"), "T1", "T4", "T5");
    ck_assert_int_eq(acct_next_due(a), ts("2026-12-01T00:00:00Z"));
    acct_free(a);

    /* West of UTC (-05:00): 03:00Z on December 1st is November 30th. */
    a = acct_new();
    ck_assert_uint_eq(addx(a, &out, "S1", "T1", ts("2026-11-05T12:00:00-05:00"), -300, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T2", ts("2026-12-01T05:00:00Z"), -300, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T3", ts("2026-12-01T03:00:00Z"), -300, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T4", ts("2026-11-30T12:00:00-05:00"), -300, MTH, TTH, WIN), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-30T22:00:00-05:00"), "T1", "T4", "T3");
    ck_assert_int_eq(acct_next_due(a), ts("2026-12-01T00:00:00-05:00"));
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_year_end)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(addm(a, &out, "S1", "T1", "2026-12-01T00:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T2", "2026-12-31T23:59:59+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T3", "2026-12-31T16:00:00Z"), 0); /* 2027-01-01T00:00+08:00 */
    ck_assert_uint_eq(addm(a, &out, "S1", "T4", "2026-12-20T00:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-12", ts("2026-12-31T23:59:59+08:00"), "T1", "T4", "T2");
    ck_assert_int_eq(out.v[0].year, 2026);
    ck_assert_int_eq(out.v[0].month, 12);
    ck_assert_int_eq(acct_next_due(a), ts("2027-01-01T00:00:00+08:00"));
    ck_assert_uint_eq(addm(a, &out, "S1", "T5", "2027-01-02T00:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T6", "2027-01-03T00:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2027-01", ts("2027-01-03T00:00:00+08:00"), "T3", "T5", "T6");
    ck_assert_int_eq(out.v[0].year, 2027);
    ck_assert_int_eq(out.v[0].month, 1);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- the total rule ----------------------------------------------------- */

START_TEST(test_total_across_months)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-01-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-03-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-06-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-09-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-12-15T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-12/total", ts("2026-12-15T10:00:00+08:00"), "T1", "T2", "T3", "T4",
           "T5");
    ck_assert(out.v[0].total);
    ck_assert_int_eq(out.v[0].year, 2026);
    ck_assert_int_eq(out.v[0].month, 12);
    ck_assert_int_eq(acct_next_due(a), ts("2027-01-01T00:00:00+08:00"));
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* The window is half-open, like bulk's: the 5th complaint 365 days less a
 * second after the 1st fires; 365 days or 366 days after it, the 1st has
 * left the window and only 4 count. Table: the 5th's offset from the 1st. */
static const struct {
    int64_t last;
    const char *id; /* NULL: no alert */
} edge[] = {
    {365 * DAY - 1, "site_accountability/S1/2027-01/total"},
    {365 * DAY, NULL},
    {366 * DAY, NULL},
    {300 * DAY, "site_accountability/S1/2026-11/total"},
};

START_TEST(test_total_window_edge)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    int64_t t0 = ts("2026-01-15T10:00:00+08:00");
    ck_assert_uint_eq(addx(a, &out, "S1", "T1", t0, OFF, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T2", t0 + 60 * DAY, OFF, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T3", t0 + 120 * DAY, OFF, MTH, TTH, WIN), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "T4", t0 + 180 * DAY, OFF, MTH, TTH, WIN), 0);
    size_t n = addx(a, &out, "S1", "T5", t0 + edge[_i].last, OFF, MTH, TTH, WIN);
    if (edge[_i].id) {
        ck_assert_uint_eq(n, 1);
        ck_assert(out.v[0].total);
        check_alert(&out.v[0], edge[_i].id, AS_FIRING, t0 + edge[_i].last, 0, IDS("T1", "T2", "T3", "T4", "T5"));
    } else {
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    }
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_total_ids_within_window)
{
    /* Seven in a year and a half: the alert lists the window's five only. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2025-01-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2025-04-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-01-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-02-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-03-10T10:00:00+08:00"), 0); /* T1 is out: 4 */
    ck_assert_uint_eq(add(a, &out, "S1", "T6", "2026-04-11T10:00:00+08:00"), 0); /* T2 is out: 4 */
    ck_assert_uint_eq(add(a, &out, "S1", "T7", "2026-05-10T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-05/total", ts("2026-05-10T10:00:00+08:00"), "T3", "T4", "T5", "T6",
           "T7");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* The total fires at most once a month; a complaint of a later month that
 * is again at least the 5th within the window fires that month's. */
START_TEST(test_total_once_per_month)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-01-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-03-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-06-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-09-15T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-12-05T10:00:00+08:00"), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-12/total");
    ck_assert_uint_eq(add(a, &out, "S1", "T6", "2026-12-10T10:00:00+08:00"), 0);
    /* The 7th is December's 3rd: the month rule fires, the total does not. */
    ck_assert_uint_eq(add(a, &out, "S1", "T7", "2026-12-20T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-12", ts("2026-12-20T10:00:00+08:00"), "T5", "T6", "T7");
    /* January: 8 within 365 days (T1 is 360 days back). */
    ck_assert_uint_eq(add(a, &out, "S1", "T8", "2027-01-10T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2027-01/total", ts("2027-01-10T10:00:00+08:00"), "T1", "T2", "T3", "T4",
           "T5", "T6", "T7", "T8");
    ck_assert_uint_eq(add(a, &out, "S1", "T9", "2027-01-20T10:00:00+08:00"), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_total_same_month)
{
    /* Five in one month: the month alert at the 3rd, the total at the 5th,
     * two alerts with two ids. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-03T10:00:00+08:00"), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-11");
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-04T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-11-05T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11/total", ts("2026-11-05T10:00:00+08:00"), "T1", "T2", "T3", "T4",
           "T5");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_month_and_total_at_once)
{
    /* One complaint completing both rules: the month alert comes first. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-08-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-09-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-11-03T10:00:00+08:00"), 2);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-03T10:00:00+08:00"), "T3", "T4", "T5");
    FIRING(&out.v[1], "site_accountability/S1/2026-11/total", ts("2026-11-03T10:00:00+08:00"), "T1", "T2", "T3", "T4",
           "T5");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_thresholds_clamped)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    int64_t t = ts("2026-11-01T10:00:00+08:00");
    /* Below 1 counts as 1: the first complaint fires both. */
    ck_assert_uint_eq(addx(a, &out, "S1", "T1", t, OFF, 0, -3, WIN), 2);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-11");
    ck_assert_str_eq(idof(&out.v[1]), "site_accountability/S1/2026-11/total");
    /* INT_MAX turns the rules off. */
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "U%d", i);
        ck_assert_uint_eq(addx(a, &out, "S2", id, t + i, OFF, INT_MAX, INT_MAX, WIN), 0);
    }
    /* A window below a second is one second: only complaints of the same
     * second count together. */
    ck_assert_uint_eq(addx(a, &out, "S3", "V1", t, OFF, INT_MAX, 2, 0), 0);
    ck_assert_uint_eq(addx(a, &out, "S3", "V2", t + 1, OFF, INT_MAX, 2, 0), 0);
    ck_assert_uint_eq(addx(a, &out, "S3", "V3", t + 1, OFF, INT_MAX, 2, -5), 1);
    FIRING(&out.v[0], "site_accountability/S3/2026-11/total", t + 1, "V2", "V3");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- late complaints ---------------------------------------------------- */

START_TEST(test_late_month)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(addm(a, &out, "S1", "T1", "2026-11-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T2", "2026-11-20T10:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T3", "2026-12-02T10:00:00+08:00"), 0);
    /* Dated November 5th, arriving in December: November's 3rd. The
     * condition became true at the 3rd in time order, T2. */
    ck_assert_uint_eq(addm(a, &out, "S1", "T4", "2026-11-05T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-20T10:00:00+08:00"), "T4", "T1", "T2");
    /* Its month is over: the month end is already due. */
    ck_assert_int_eq(acct_next_due(a), ts("2026-12-01T00:00:00+08:00"));
    /* December is counted on its own: T3 and two more. */
    ck_assert_uint_eq(addm(a, &out, "S1", "T5", "2026-12-03T10:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T6", "2026-12-01T00:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-12", ts("2026-12-03T10:00:00+08:00"), "T6", "T3", "T5");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_late_total)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-02-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-04-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-06-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-08-10T10:00:00+08:00"), 0);
    /* Late, dated before all of them: the total is reached at T4, in
     * August, not at the late complaint (which is only the 1st of its
     * window). */
    ck_assert_uint_eq(add(a, &out, "S1", "T0", "2025-12-10T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-08/total", ts("2026-08-10T10:00:00+08:00"), "T0", "T1", "T2", "T3",
           "T4");
    /* A late complaint too old for the window of the others fires nothing. */
    ck_assert_uint_eq(add(a, &out, "S2", "U1", "2026-02-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S2", "U2", "2026-04-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S2", "U3", "2026-06-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S2", "U4", "2026-08-10T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S2", "U0", "2025-02-10T10:00:00+08:00"), 0);
    ck_assert_int_eq(acct_next_due(a), ts("2026-09-01T00:00:00+08:00"));
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_late_total_two_months)
{
    /* 3 within 60 days. One late complaint completes the windows ending at
     * two later complaints in two months: both months fire, in time order. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    const int64_t w = 60 * DAY;
    ck_assert_uint_eq(addx(a, &out, "S1", "A", ts("2026-01-05T10:00:00+08:00"), OFF, INT_MAX, 3, w), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "B", ts("2026-02-20T10:00:00+08:00"), OFF, INT_MAX, 3, w), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "C", ts("2026-03-25T10:00:00+08:00"), OFF, INT_MAX, 3, w), 0);
    ck_assert_uint_eq(addx(a, &out, "S1", "L", ts("2026-02-01T10:00:00+08:00"), OFF, INT_MAX, 3, w), 2);
    FIRING(&out.v[0], "site_accountability/S1/2026-02/total", ts("2026-02-20T10:00:00+08:00"), "A", "L", "B");
    FIRING(&out.v[1], "site_accountability/S1/2026-03/total", ts("2026-03-25T10:00:00+08:00"), "L", "B", "C");
    /* Another late one in February: both months have fired. */
    ck_assert_uint_eq(addx(a, &out, "S1", "M", ts("2026-02-02T10:00:00+08:00"), OFF, INT_MAX, 3, w), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- duplicates and removal --------------------------------------------- */

START_TEST(test_same_ticket_twice)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    /* Redelivered, even with another time: counted once. */
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-03T10:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S1"), 2);
    /* The same ticket at another site counts there. */
    ck_assert_uint_eq(add(a, &out, "S2", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S2"), 1);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-04T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-04T10:00:00+08:00"), "T1", "T2", "T3");
    /* And after firing: nothing again. */
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-04T10:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_size(a), 4);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_remove)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_int_eq(acct_remove(a, "S1", "T2"), 1);
    ck_assert_int_eq(acct_remove(a, "S1", "T2"), 0);
    ck_assert_int_eq(acct_remove(a, "S1", "nope"), 0);
    ck_assert_int_eq(acct_remove(a, "S9", "T1"), 0);
    /* Only two count now. */
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-03T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-04T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-04T10:00:00+08:00"), "T1", "T3", "T4");
    /* Invalidated after firing: the alert stays firing until the month
     * ends, and the month does not fire a second time. */
    int64_t due = acct_next_due(a);
    ck_assert_int_eq(due, ts("2026-12-01T00:00:00+08:00"));
    ck_assert_int_eq(acct_remove(a, "S1", "T1"), 1);
    ck_assert_int_eq(acct_next_due(a), due);
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-11-05T10:00:00+08:00"), 0);
    /* A removed ticket added back counts again. */
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S1"), 4);
    /* The resolved alert lists what counts at the month's end. */
    ck_assert_int_eq(fire_due(a, &out, due), 1);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-04T10:00:00+08:00"), due, "T2", "T3", "T4", "T5");

    /* A site whose last complaint goes is forgotten. */
    ck_assert_uint_eq(add(a, &out, "S2", "U1", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_sites(a), 2);
    ck_assert_int_eq(acct_remove(a, "S2", "U1"), 1);
    ck_assert_uint_eq(acct_sites(a), 1);
    ck_assert_uint_eq(acct_size(a), 4);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_remove_below_threshold_before_resolution)
{
    /* Every complaint of a firing month removed: it still resolves, with
     * no ids, and the site is kept for it. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_uint_eq(add(a, &out, "S1", "T1", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T3", "2026-11-03T10:00:00+08:00"), 1);
    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%d", i);
        ck_assert_int_eq(acct_remove(a, "S1", id), 1);
    }
    ck_assert_uint_eq(acct_sites(a), 1);
    ck_assert_int_eq(fire_due(a, &out, ts("2026-12-01T00:00:00+08:00")), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-11");
    ck_assert_int_eq(out.v[0].status, AS_RESOLVED);
    ck_assert_int_eq(out.v[0].count, 0);
    ck_assert_int_eq(out.v[0].n_ticket_ids, 0);
    ck_assert_int_eq(out.v[0].condition_at, ts("2026-11-03T10:00:00+08:00"));
    /* Three new November complaints do not fire it again. */
    for (int i = 4; i <= 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%d", i);
        ck_assert_uint_eq(addx(a, &out, "S1", id, ts("2026-11-20T10:00:00+08:00") + i, OFF, MTH, TTH, WIN), 0);
    }
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- month end ---------------------------------------------------------- */

START_TEST(test_month_end)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    ck_assert_int_eq(fire_due(a, &out, TU_NEVER), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T1", "2026-11-01T10:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T2", "2026-11-02T10:00:00+08:00"), 0);
    ck_assert_uint_eq(addm(a, &out, "S1", "T3", "2026-11-30T23:00:00+08:00"), 1);
    /* The first instant of December in UTC+08:00: 16:00Z on the 30th. */
    int64_t end = ts("2026-12-01T00:00:00+08:00");
    ck_assert_int_eq(end, ts("2026-11-30T16:00:00Z"));
    ck_assert_int_eq(acct_next_due(a), end);
    ck_assert_int_eq(fire_due(a, &out, end - 1), 0);
    ck_assert_int_eq(acct_next_due(a), end);
    /* A late one before the end is in the resolved alert. */
    ck_assert_uint_eq(addm(a, &out, "S1", "T4", "2026-11-15T10:00:00+08:00"), 0);
    ck_assert_int_eq(fire_due(a, &out, end), 1);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-30T23:00:00+08:00"), end, "T1", "T2", "T4", "T3");
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    ck_assert_int_eq(fire_due(a, &out, TU_NEVER), 0);
    /* Resolved means done: November never fires again. */
    ck_assert_uint_eq(addm(a, &out, "S1", "T5", "2026-11-16T10:00:00+08:00"), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* Every site's episodes end at one instant: acct_fire_due resolves them in
 * chunks of at most `max` alerts, at least one site's each time. */
START_TEST(test_month_end_bounded)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    char site[8], id[16];
    for (int s = 0; s < 5; s++)
        for (int i = 0; i < 3; i++) {
            snprintf(site, sizeof site, "S%d", s);
            snprintf(id, sizeof id, "T%d-%d", s, i);
            addm(a, &out, site, id, "2026-11-10T10:00:00+08:00");
        }
    int64_t end = ts("2026-12-01T00:00:00+08:00");
    int total = 0;
    for (int round = 0; round < 10 && acct_next_due(a) <= end; round++) {
        acct_alert_list_reset(&out);
        int n = acct_fire_due(a, end, 2, &out);
        ck_assert_int_ge(n, 1);
        ck_assert_int_le(n, 2);
        total += n;
    }
    ck_assert_int_eq(total, 5);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_month_end_order)
{
    /* Several sites and months: resolved in order of month end, a month
     * alert before the total of the same month; each at its own end. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    const char *s2[] = {"2026-12-01T10:00:00+08:00", "2026-12-02T10:00:00+08:00", "2026-12-03T10:00:00+08:00"};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "U%d", i + 1);
        add(a, &out, "S2", id, s2[i]);
    }
    ck_assert_uint_eq(out.n, 1);
    add(a, &out, "S1", "T1", "2026-08-01T10:00:00+08:00");
    add(a, &out, "S1", "T2", "2026-09-01T10:00:00+08:00");
    add(a, &out, "S1", "T3", "2026-11-01T10:00:00+08:00");
    add(a, &out, "S1", "T4", "2026-11-02T10:00:00+08:00");
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-11-03T10:00:00+08:00"), 2);
    /* February 2028 (leap year) ends on March 1st. */
    add(a, &out, "S3", "V1", "2028-02-01T10:00:00+08:00");
    add(a, &out, "S3", "V2", "2028-02-29T10:00:00+08:00");
    ck_assert_uint_eq(add(a, &out, "S3", "V3", "2028-02-29T23:59:59+08:00"), 1);

    int64_t nov = ts("2026-12-01T00:00:00+08:00"), dec = ts("2027-01-01T00:00:00+08:00");
    int64_t feb = ts("2028-03-01T00:00:00+08:00");
    ck_assert_int_eq(acct_next_due(a), nov);
    ck_assert_int_eq(fire_due(a, &out, feb), 4);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-03T10:00:00+08:00"), nov, "T3", "T4", "T5");
    RESOLVED(&out.v[1], "site_accountability/S1/2026-11/total", ts("2026-11-03T10:00:00+08:00"), nov, "T1", "T2", "T3",
             "T4", "T5");
    RESOLVED(&out.v[2], "site_accountability/S2/2026-12", ts("2026-12-03T10:00:00+08:00"), dec, "U1", "U2", "U3");
    RESOLVED(&out.v[3], "site_accountability/S3/2028-02", ts("2028-02-29T23:59:59+08:00"), feb, "V1", "V2", "V3");
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_month_end_partial)
{
    /* fire_due up to a time resolves only the months ended by then. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%d", i);
        addx(a, &out, "S1", id, ts("2026-11-10T10:00:00+08:00") + i, OFF, MTH, INT_MAX, WIN);
        snprintf(id, sizeof id, "U%d", i);
        addx(a, &out, "S1", id, ts("2026-12-10T10:00:00+08:00") + i, OFF, MTH, INT_MAX, WIN);
    }
    int64_t nov = ts("2026-12-01T00:00:00+08:00"), dec = ts("2027-01-01T00:00:00+08:00");
    ck_assert_int_eq(acct_next_due(a), nov);
    ck_assert_int_eq(fire_due(a, &out, dec - 1), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-11");
    ck_assert_int_eq(out.v[0].resolved_at, nov);
    ck_assert_int_eq(acct_next_due(a), dec);
    ck_assert_int_eq(fire_due(a, &out, dec), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-12");
    ck_assert_int_eq(out.v[0].resolved_at, dec);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- restart ------------------------------------------------------------ */

static void quiet3(Acct *a)
{
    ck_assert_int_eq(acct_add_quiet(a, "S1", "T1", ts("2026-11-01T10:00:00+08:00")), 0);
    ck_assert_int_eq(acct_add_quiet(a, "S1", "T2", ts("2026-11-02T10:00:00+08:00")), 0);
    ck_assert_int_eq(acct_add_quiet(a, "S1", "T3", ts("2026-11-03T10:00:00+08:00")), 0);
    ck_assert_int_eq(acct_add_quiet(a, "S1", "T3", ts("2026-11-03T10:00:00+08:00")), 0);
    ck_assert_uint_eq(acct_site_count(a, "S1"), 3);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
}

START_TEST(test_restore_firing)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    quiet3(a);
    int64_t cond = ts("2026-11-03T10:00:00+08:00"), end = ts("2026-12-01T00:00:00+08:00");
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 11, false, cond, false, OFF, WIN), 0);
    ck_assert_int_eq(acct_next_due(a), end);
    /* The 4th after the restart: no second firing. */
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-04T10:00:00+08:00"), 0);
    ck_assert_int_eq(fire_due(a, &out, end), 1);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-11", cond, end, "T1", "T2", "T3", "T4");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_restore_needed)
{
    /* Quiet adds fire nothing and mark nothing: without acct_restore the
     * next complaint fires the month. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    quiet3(a);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-04T10:00:00+08:00"), 1);
    FIRING(&out.v[0], "site_accountability/S1/2026-11", ts("2026-11-03T10:00:00+08:00"), "T1", "T2", "T3", "T4");
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_restore_ended)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    quiet3(a);
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 11, false, ts("2026-11-03T10:00:00+08:00"), true, OFF, WIN), 0);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    ck_assert_uint_eq(add(a, &out, "S1", "T4", "2026-11-04T10:00:00+08:00"), 0);
    ck_assert_int_eq(fire_due(a, &out, TU_NEVER), 0);
    /* Firing then ended: ended wins. */
    int64_t cond = ts("2026-12-03T10:00:00+08:00");
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 12, false, cond, false, OFF, WIN), 0);
    ck_assert_int_eq(acct_next_due(a), ts("2027-01-01T00:00:00+08:00"));
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 12, false, cond, true, OFF, WIN), 0);
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 12, false, cond, false, OFF, WIN), 0);
    ck_assert_int_eq(acct_next_due(a), TU_NEVER);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_restore_total)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    const char *at[] = {"2026-01-15T10:00:00+08:00", "2026-03-15T10:00:00+08:00", "2026-06-15T10:00:00+08:00",
                        "2026-09-15T10:00:00+08:00", "2026-12-15T10:00:00+08:00"};
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%d", i + 1);
        ck_assert_int_eq(acct_add_quiet(a, "S1", id, ts(at[i])), 0);
    }
    int64_t cond = ts(at[4]), end = ts("2027-01-01T00:00:00+08:00");
    /* Restoring the month episode does not cover the total. */
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 12, false, cond, true, OFF, WIN), 0);
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 12, true, cond, false, OFF, WIN), 0);
    ck_assert_int_eq(acct_next_due(a), end);
    ck_assert_uint_eq(add(a, &out, "S1", "T6", "2026-12-20T10:00:00+08:00"), 0);
    /* The resolved total lists the window ending at its condition_at. */
    ck_assert_int_eq(fire_due(a, &out, end), 1);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-12/total", cond, end, "T1", "T2", "T3", "T4", "T5");
    ck_assert_uint_eq(add(a, &out, "S1", "T7", "2026-12-21T10:00:00+08:00"), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_restore_past_and_bad)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    /* A restored episode of an unknown site, its month long over: due at
     * once. */
    ck_assert_int_eq(acct_restore(a, "S7", 2026, 2, false, ts("2026-02-10T10:00:00+08:00"), false, OFF, WIN), 0);
    ck_assert_uint_eq(acct_sites(a), 1);
    ck_assert_int_eq(acct_next_due(a), ts("2026-03-01T00:00:00+08:00"));
    ck_assert_int_eq(fire_due(a, &out, ts("2026-11-01T00:00:00+08:00")), 1);
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S7/2026-02");
    ck_assert_int_eq(out.v[0].count, 0);
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 0, false, 0, false, OFF, WIN), -2);
    ck_assert_int_eq(acct_restore(a, "S1", 2026, 13, true, 0, false, OFF, WIN), -2);
    ck_assert_int_eq(acct_restore(a, "S1", -1, 1, true, 0, false, OFF, WIN), -2);
    ck_assert_int_eq(acct_restore(a, "S1", 10000, 1, true, 0, false, OFF, WIN), -2);
    ck_assert_uint_eq(acct_sites(a), 1);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- prune -------------------------------------------------------------- */

START_TEST(test_prune)
{
    Acct *a = acct_new();
    AcctAlertList out = {0};
    /* S1: old complaints only. S2: a firing November with old neighbours.
     * S3: a total window across the cut. */
    add(a, &out, "S1", "A1", "2025-06-01T10:00:00+08:00");
    add(a, &out, "S1", "A2", "2025-07-01T10:00:00+08:00");
    add(a, &out, "S2", "B0", "2025-10-01T10:00:00+08:00");
    add(a, &out, "S2", "B1", "2026-11-01T10:00:00+08:00");
    add(a, &out, "S2", "B2", "2026-11-02T10:00:00+08:00");
    ck_assert_uint_eq(add(a, &out, "S2", "B3", "2026-11-03T10:00:00+08:00"), 1);
    add(a, &out, "S3", "C1", "2026-02-01T10:00:00+08:00");
    add(a, &out, "S3", "C2", "2026-05-01T10:00:00+08:00");
    add(a, &out, "S3", "C3", "2026-08-01T10:00:00+08:00");
    ck_assert_uint_eq(acct_size(a), 9);

    /* Everything before 2026-11-02 goes, except what the firing November
     * lists. */
    int64_t before = ts("2026-11-02T00:00:00+08:00");
    acct_prune(a, before);
    ck_assert_uint_eq(acct_site_count(a, "S1"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S2"), 3);
    ck_assert_uint_eq(acct_site_count(a, "S3"), 0);
    ck_assert_uint_eq(acct_sites(a), 1);
    ck_assert_uint_eq(acct_size(a), 3);
    /* Complaints dated before the cut are ignored from now on. */
    ck_assert_uint_eq(add(a, &out, "S3", "C0", "2026-11-01T23:59:59+08:00"), 0);
    ck_assert_uint_eq(acct_site_count(a, "S3"), 0);
    ck_assert_uint_eq(acct_size(a), 3);
    /* An earlier cut changes nothing. */
    acct_prune(a, before - 100 * DAY);
    ck_assert_uint_eq(add(a, &out, "S3", "C0", "2026-10-01T00:00:00+08:00"), 0);
    ck_assert_uint_eq(acct_size(a), 3);
    /* From the cut on, counting goes on. */
    add(a, &out, "S3", "C4", "2026-11-02T00:00:00+08:00");
    ck_assert_uint_eq(acct_site_count(a, "S3"), 1);

    int64_t end = ts("2026-12-01T00:00:00+08:00");
    ck_assert_int_eq(fire_due(a, &out, end), 1);
    RESOLVED(&out.v[0], "site_accountability/S2/2026-11", ts("2026-11-03T10:00:00+08:00"), end, "B1", "B2", "B3");
    /* Once resolved and its month is before the cut, the episode and its
     * complaints go too. */
    acct_prune(a, ts("2026-12-01T00:00:00+08:00"));
    ck_assert_uint_eq(acct_size(a), 0);
    ck_assert_uint_eq(acct_sites(a), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_prune_keeps_total_window)
{
    /* A firing total keeps the complaints of its window, and a resolved
     * episode whose month is not over by the cut is kept: it does not
     * fire again. */
    Acct *a = acct_new();
    AcctAlertList out = {0};
    add(a, &out, "S1", "T1", "2026-01-15T10:00:00+08:00");
    add(a, &out, "S1", "T2", "2026-03-15T10:00:00+08:00");
    add(a, &out, "S1", "T3", "2026-06-15T10:00:00+08:00");
    add(a, &out, "S1", "T4", "2026-09-15T10:00:00+08:00");
    ck_assert_uint_eq(add(a, &out, "S1", "T5", "2026-12-15T10:00:00+08:00"), 1);
    acct_prune(a, ts("2026-12-01T00:00:00+08:00"));
    ck_assert_uint_eq(acct_site_count(a, "S1"), 5);
    int64_t end = ts("2027-01-01T00:00:00+08:00");
    ck_assert_int_eq(fire_due(a, &out, end), 1);
    RESOLVED(&out.v[0], "site_accountability/S1/2026-12/total", ts("2026-12-15T10:00:00+08:00"), end, "T1", "T2", "T3",
             "T4", "T5");
    acct_prune(a, ts("2026-12-10T00:00:00+08:00"));
    ck_assert_uint_eq(acct_site_count(a, "S1"), 1);
    /* December's total has ended but its month is not before the cut: T9,
     * again the 5th within the window (T5..T9), does not fire it anew. */
    ck_assert_uint_eq(add(a, &out, "S1", "T6", "2026-12-16T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T7", "2026-12-17T10:00:00+08:00"), 1); /* December's 3rd */
    ck_assert_str_eq(idof(&out.v[0]), "site_accountability/S1/2026-12");
    ck_assert_uint_eq(add(a, &out, "S1", "T8", "2026-12-18T10:00:00+08:00"), 0);
    ck_assert_uint_eq(add(a, &out, "S1", "T9", "2026-12-19T10:00:00+08:00"), 0);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

/* ---- alert ids and lists ------------------------------------------------ */

START_TEST(test_alert_id)
{
    AcctAlert al;
    memset(&al, 0, sizeof al);
    strcpy(al.site, "SZ-001");
    al.year = 2027;
    al.month = 1;
    char buf[ALERT_ID_MAX + 1];
    acct_alert_id(&al, buf, sizeof buf);
    ck_assert_str_eq(buf, "site_accountability/SZ-001/2027-01");
    al.total = true;
    al.month = 12;
    acct_alert_id(&al, buf, sizeof buf);
    ck_assert_str_eq(buf, "site_accountability/SZ-001/2027-12/total");
    /* Truncated, never overrun. */
    char small[11];
    memset(small, 'x', sizeof small);
    acct_alert_id(&al, small, 10);
    ck_assert_str_eq(small, "site_acco");
    ck_assert_int_eq(small[10], 'x');
    acct_alert_id(&al, small, 0);
    ck_assert_str_eq(small, "site_acco");
    /* The longest site fits. */
    memset(al.site, 'z', ACCT_SITE_MAX);
    al.site[ACCT_SITE_MAX] = '\0';
    acct_alert_id(&al, buf, sizeof buf);
    ck_assert_uint_eq(strlen(buf), strlen("site_accountability//2027-12/total") + ACCT_SITE_MAX);
}
END_TEST

START_TEST(test_long_site)
{
    /* Longer than an alert can carry: counted under the whole name,
     * reported truncated. */
    char site[100];
    memset(site, 's', sizeof site - 1);
    site[sizeof site - 1] = '\0';
    Acct *a = acct_new();
    AcctAlertList out = {0};
    add(a, &out, site, "T1", "2026-11-01T10:00:00+08:00");
    site[98] = 't'; /* another site, the same first 64 bytes */
    add(a, &out, site, "T2", "2026-11-01T10:00:00+08:00");
    ck_assert_uint_eq(acct_sites(a), 2);
    site[98] = 's';
    add(a, &out, site, "T3", "2026-11-01T10:00:00+08:00");
    ck_assert_uint_eq(add(a, &out, site, "T4", "2026-11-01T10:00:00+08:00"), 1);
    ck_assert_uint_eq(strlen(out.v[0].site), ACCT_SITE_MAX);
    ck_assert_int_eq(out.v[0].count, 3);
    acct_alert_list_free(&out);
    acct_free(a);
}
END_TEST

START_TEST(test_alert_list)
{
    AcctAlertList l = {0};
    for (int i = 0; i < 40; i++) {
        AcctAlert al;
        memset(&al, 0, sizeof al);
        al.month = i % 12 + 1;
        al.ticket_ids = malloc(sizeof *al.ticket_ids);
        ck_assert_ptr_nonnull(al.ticket_ids);
        al.ticket_ids[0] = strdup("T");
        al.n_ticket_ids = al.count = 1;
        AcctAlert *p = acct_alert_list_push(&l, &al);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_null(al.ticket_ids); /* ownership moved */
        ck_assert_int_eq(al.n_ticket_ids, 0);
        ck_assert_int_eq(p->month, i % 12 + 1);
    }
    ck_assert_uint_eq(l.n, 40);
    ck_assert(!l.failed);
    acct_alert_list_reset(&l);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_uint_ge(l.cap, 40);
    acct_alert_list_free(&l);
    ck_assert_ptr_null(l.v);
    acct_free(NULL);
}
END_TEST

/* ---- a model ------------------------------------------------------------ */

/* Random complaints, up to 30 days late, removals, redeliveries, month ends
 * and prunes against a brute-force model that recomputes every month and
 * every window from scratch and finds months with gmtime_r. Small numbers
 * (4 a month, 5 within 40 days) so that both rules fire, and fail to, often. */
#define MM_N 160
#define MM_W (40 * DAY)
#define MM_MTH 4
#define MM_TTH 5

typedef struct MComplaint {
    int64_t at;
    int ym; /* local month */
    bool live;
    char id[16];
} MComplaint;

typedef struct MEpisode {
    int ym;
    bool total, ended;
    int64_t cond, start, end;
} MEpisode;

typedef struct Model {
    MComplaint c[MM_N];
    int n;
    MEpisode ep[MM_N * 2];
    int nep;
    int off;
    int fired, resolved; /* to see that the run exercised both */
} Model;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int m_month(const Model *m, int64_t t, int64_t *start, int64_t *end)
{
    time_t local = (time_t)(t + m->off * 60);
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&local, &tm));
    int y = tm.tm_year + 1900, mo = tm.tm_mon + 1;
    int ny = mo == 12 ? y + 1 : y, nm = mo == 12 ? 1 : mo + 1;
    *start = tu_days_from_civil(y, mo, 1) * DAY - m->off * 60;
    *end = tu_days_from_civil(ny, nm, 1) * DAY - m->off * 60;
    return y * 12 + mo - 1;
}

static bool m_before(const MComplaint *x, const MComplaint *y)
{
    return x->at < y->at || (x->at == y->at && strcmp(x->id, y->id) < 0);
}

/* The live complaints sorted by (at, id). */
static int m_sorted(Model *m, MComplaint **v)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        if (m->c[i].live)
            v[n++] = &m->c[i];
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && m_before(v[j], v[j - 1]); j--) {
            MComplaint *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n;
}

static MEpisode *m_find(Model *m, int ym, bool total)
{
    for (int i = 0; i < m->nep; i++)
        if (m->ep[i].ym == ym && m->ep[i].total == total)
            return &m->ep[i];
    return NULL;
}

static void m_check_ids(const AcctAlert *al, MComplaint **v, int n)
{
    REQUIRE(al->count == n);
    REQUIRE(al->n_ticket_ids == n);
    for (int i = 0; i < n; i++)
        REQUIRE(strcmp(al->ticket_ids[i], v[i]->id) == 0);
}

/* The alerts an add must fire: every month and every window recomputed. */
static void m_expect_add(Model *m, const AcctAlertList *out)
{
    MComplaint *v[MM_N], *sel[MM_N];
    int n = m_sorted(m, v);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        int ym = v[i]->ym, cnt = 0;
        if (m_find(m, ym, false))
            continue;
        int64_t cond = 0, start, end;
        for (int j = 0; j < n; j++) {
            if (v[j]->ym == ym) {
                sel[cnt++] = v[j];
                if (cnt == MM_MTH)
                    cond = v[j]->at;
            }
        }
        if (cnt < MM_MTH)
            continue;
        REQUIRE(k < out->n);
        const AcctAlert *al = &out->v[k++];
        REQUIRE(!al->total && al->status == AS_FIRING);
        REQUIRE(al->year * 12 + al->month - 1 == ym);
        REQUIRE(al->condition_at == cond);
        REQUIRE(al->resolved_at == 0);
        m_check_ids(al, sel, cnt);
        m_month(m, cond, &start, &end);
        m->ep[m->nep++] = (MEpisode){.ym = ym, .total = false, .cond = cond, .start = start, .end = end};
        m->fired++;
    }
    for (int i = 0; i < n; i++) {
        int ym = v[i]->ym, cnt = 0;
        if (m_find(m, ym, true))
            continue;
        for (int j = 0; j <= i; j++)
            if (v[j]->at > v[i]->at - MM_W)
                sel[cnt++] = v[j];
        if (cnt < MM_TTH)
            continue;
        REQUIRE(k < out->n);
        const AcctAlert *al = &out->v[k++];
        REQUIRE(al->total && al->status == AS_FIRING);
        REQUIRE(al->year * 12 + al->month - 1 == ym);
        REQUIRE(al->condition_at == v[i]->at);
        m_check_ids(al, sel, cnt);
        int64_t start, end;
        m_month(m, v[i]->at, &start, &end);
        m->ep[m->nep++] = (MEpisode){.ym = ym, .total = true, .cond = v[i]->at, .start = start, .end = end};
        m->fired++;
    }
    REQUIRE(k == out->n);
}

/* The alerts acct_fire_due(now) must resolve: by month end, month first. */
static void m_expect_due(Model *m, int64_t now, const AcctAlertList *out)
{
    MComplaint *v[MM_N], *sel[MM_N];
    int n = m_sorted(m, v);
    size_t k = 0;
    for (;;) {
        MEpisode *e = NULL;
        for (int i = 0; i < m->nep; i++) {
            MEpisode *x = &m->ep[i];
            if (x->ended || x->end > now)
                continue;
            if (!e || x->end < e->end || (x->end == e->end && !x->total && e->total))
                e = x;
        }
        if (!e)
            break;
        int cnt = 0;
        for (int j = 0; j < n; j++)
            if (e->total ? (v[j]->at > e->cond - MM_W && v[j]->at <= e->cond) : v[j]->ym == e->ym)
                sel[cnt++] = v[j];
        REQUIRE(k < out->n);
        const AcctAlert *al = &out->v[k++];
        REQUIRE(al->status == AS_RESOLVED && al->total == e->total);
        REQUIRE(al->year * 12 + al->month - 1 == e->ym);
        REQUIRE(al->condition_at == e->cond);
        REQUIRE(al->resolved_at == e->end);
        m_check_ids(al, sel, cnt);
        e->ended = true;
        m->resolved++;
    }
    REQUIRE(k == out->n);
}

/* What acct_prune keeps: complaints from `before` on, and those a firing
 * episode lists. */
static void m_prune(Model *m, int64_t before)
{
    int64_t cut = before;
    for (int i = 0; i < m->nep; i++) {
        const MEpisode *e = &m->ep[i];
        int64_t keep = e->total ? e->cond - MM_W + 1 : e->start;
        if (!e->ended && keep < cut)
            cut = keep;
    }
    for (int i = 0; i < m->n; i++)
        if (m->c[i].at < cut)
            m->c[i].live = false;
}

static size_t m_live(const Model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n; i++)
        n += m->c[i].live;
    return n;
}

START_TEST(test_model)
{
    static const int offs[] = {480, 0, -300, 330, 480, 480};
    int fired = 0, resolved = 0;
    for (uint32_t seed = 1; seed <= 24; seed++) {
        uint32_t s = seed;
        Model *m = calloc(1, sizeof *m);
        ck_assert_ptr_nonnull(m);
        m->off = offs[seed % (uint32_t)NELEM(offs)];
        Acct *a = acct_new();
        AcctAlertList out = {0};
        int64_t now = ts("2026-01-01T00:00:00Z"), last_prune = INT64_MIN;
        while (m->n < MM_N) {
            now += (int64_t)(lcg(&s) % (8 * DAY));
            uint32_t r = lcg(&s) % 100;
            if (r < 10 && m->n > 0) {
                /* Invalidate one (perhaps again, perhaps pruned). */
                MComplaint *c = &m->c[lcg(&s) % (uint32_t)m->n];
                REQUIRE(acct_remove(a, "S", c->id) == (c->live ? 1 : 0));
                c->live = false;
            } else if (r < 15 && m->n > 0) {
                /* A redelivery: nothing happens. */
                MComplaint *c = &m->c[lcg(&s) % (uint32_t)m->n];
                if (c->live)
                    REQUIRE(addx(a, &out, "S", c->id, c->at, m->off, MM_MTH, MM_TTH, MM_W) == 0);
            } else {
                /* Mostly on time, some up to 30 days late, some in the
                 * second of another, some on the last or first second of
                 * a month. */
                int64_t at = now, start, end;
                if (r < 40)
                    at -= (int64_t)(lcg(&s) % (30 * DAY));
                else if (r < 45 && m->n > 0 && m->c[m->n - 1].at >= now - 30 * DAY)
                    at = m->c[m->n - 1].at;
                else if (r < 50) {
                    m_month(m, now - 20 * DAY, &start, &end);
                    at = end - (int64_t)(lcg(&s) % 2);
                    if (at > now)
                        at = now;
                }
                MComplaint *c = &m->c[m->n++];
                *c = (MComplaint){.at = at, .ym = m_month(m, at, &start, &end), .live = true};
                snprintf(c->id, sizeof c->id, "t%d", m->n);
                addx(a, &out, "S", c->id, at, m->off, MM_MTH, MM_TTH, MM_W);
                m_expect_add(m, &out);
            }
            if (lcg(&s) % 4 == 0) {
                acct_alert_list_reset(&out);
                REQUIRE(acct_fire_due(a, now, SIZE_MAX, &out) == (int)out.n);
                m_expect_due(m, now, &out);
            }
            int64_t next = TU_NEVER;
            for (int i = 0; i < m->nep; i++)
                if (!m->ep[i].ended && m->ep[i].end < next)
                    next = m->ep[i].end;
            REQUIRE(acct_next_due(a) == next);
            if (lcg(&s) % 8 == 0 && now - MM_W - 31 * DAY > last_prune) {
                last_prune = now - MM_W - 31 * DAY;
                acct_prune(a, last_prune);
                m_prune(m, last_prune);
            }
            REQUIRE(acct_size(a) == m_live(m));
        }
        /* Memory: once every episode has resolved, a prune far ahead
         * forgets everything. */
        acct_alert_list_reset(&out);
        REQUIRE(acct_fire_due(a, TU_NEVER, SIZE_MAX, &out) == (int)out.n);
        m_expect_due(m, TU_NEVER, &out);
        REQUIRE(acct_next_due(a) == TU_NEVER);
        acct_prune(a, now + 400 * DAY);
        REQUIRE(acct_size(a) == 0);
        REQUIRE(acct_sites(a) == 0);
        fired += m->fired;
        resolved += m->resolved;
        acct_alert_list_free(&out);
        acct_free(a);
        free(m);
    }
    /* The runs did fire (and resolve) episodes of both kinds. */
    ck_assert_int_gt(fired, 100);
    ck_assert_int_eq(resolved, fired);
}
END_TEST

Suite *suite_acct(void)
{
    Suite *s = suite_create("acct");
    TCase *tc = tcase_create("month");
    tcase_add_loop_test(tc, test_month_threshold, 1, 7);
    tcase_add_test(tc, test_month_defaults);
    tcase_add_test(tc, test_equal_times_in_id_order);
    tcase_add_test(tc, test_month_boundary_local);
    tcase_add_test(tc, test_year_end);
    suite_add_tcase(s, tc);

    tc = tcase_create("total");
    tcase_add_test(tc, test_total_across_months);
    tcase_add_loop_test(tc, test_total_window_edge, 0, NELEM(edge));
    tcase_add_test(tc, test_total_ids_within_window);
    tcase_add_test(tc, test_total_once_per_month);
    tcase_add_test(tc, test_total_same_month);
    tcase_add_test(tc, test_month_and_total_at_once);
    tcase_add_test(tc, test_thresholds_clamped);
    suite_add_tcase(s, tc);

    tc = tcase_create("late");
    tcase_add_test(tc, test_late_month);
    tcase_add_test(tc, test_late_total);
    tcase_add_test(tc, test_late_total_two_months);
    tcase_add_test(tc, test_same_ticket_twice);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_remove_below_threshold_before_resolution);
    suite_add_tcase(s, tc);

    tc = tcase_create("month_end");
    tcase_add_test(tc, test_month_end);
    tcase_add_test(tc, test_month_end_order);
    tcase_add_test(tc, test_month_end_partial);
    tcase_add_test(tc, test_restore_firing);
    tcase_add_test(tc, test_restore_needed);
    tcase_add_test(tc, test_restore_ended);
    tcase_add_test(tc, test_restore_total);
    tcase_add_test(tc, test_restore_past_and_bad);
    tcase_add_test(tc, test_prune);
    tcase_add_test(tc, test_prune_keeps_total_window);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_test(tc, test_alert_id);
    tcase_add_test(tc, test_long_site);
    tcase_add_test(tc, test_alert_list);
    tcase_add_test(tc, test_model);
    tcase_add_test(tc, test_month_end_bounded);
    suite_add_tcase(s, tc);
    return s;
}
