/* Unit tests for lib/cal: the business calendar (contract §6).
 * Times are written at +08:00, the desk's local time, to stay readable. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cal.h"
#include "timeutil.h"
#include "testutil.h"

#define H 3600

static int64_t T(const char *s)
{
    int64_t t = 0;
    ck_assert_msg(tu_parse_rfc3339(s, &t) == 0, "bad test time %s", s);
    return t;
}

static int64_t D(const char *s)
{
    int64_t d = 0;
    ck_assert_msg(tu_parse_date(s, &d) == 0, "bad test date %s", s);
    return d;
}

static Calendar *new_cal(void)
{
    Calendar *cal = cal_new();
    ck_assert_ptr_nonnull(cal);
    return cal;
}

static void set_ok(int rc, const char *err)
{
    ck_assert_msg(rc == 0, "unexpected error: %s", err);
}

static void check_due(const Calendar *cal, int shift, const char *start, int64_t secs, const char *want)
{
    int64_t got = cal_add(cal, shift, T(start), secs);
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(got, 480, buf);
    ck_assert_msg(got == T(want), "shift %d: %s + %llds: got %s, want %s", shift, start, (long long)secs, buf,
                  want);
}

/* ---- Default calendar: 08:00-12:00, 14:00-20:00 every day --------------- */

static const struct {
    int shift;
    const char *start;
    int64_t secs;
    const char *due;
} edges[] = {
    /* contract §6 contact target, 2 business hours, 2026-11-23 is a Monday */
    {0, "2026-11-23T18:00:00+08:00", 2 * H, "2026-11-23T20:00:00+08:00"}, /* runs out at the window end */
    {0, "2026-11-23T19:00:00+08:00", 2 * H, "2026-11-24T09:00:00+08:00"},
    {0, "2026-11-23T11:00:00+08:00", 2 * H, "2026-11-23T15:00:00+08:00"}, /* over lunch */
    {0, "2026-11-23T12:30:00+08:00", 2 * H, "2026-11-23T16:00:00+08:00"}, /* starts in lunch */
    {0, "2026-11-23T21:00:00+08:00", 2 * H, "2026-11-24T10:00:00+08:00"}, /* starts at night */
    {0, "2026-11-23T23:30:00+08:00", 2 * H, "2026-11-24T10:00:00+08:00"},
    {0, "2026-11-23T03:00:00+08:00", 2 * H, "2026-11-23T10:00:00+08:00"},
    {0, "2026-11-23T07:00:00+08:00", 2 * H, "2026-11-23T10:00:00+08:00"},
    {0, "2026-11-23T10:00:00+08:00", 2 * H, "2026-11-23T12:00:00+08:00"}, /* due at lunch start */
    {0, "2026-11-23T12:00:00+08:00", 1 * H, "2026-11-23T15:00:00+08:00"}, /* starts at a window end */
    {0, "2026-11-23T14:00:00+08:00", 1 * H, "2026-11-23T15:00:00+08:00"}, /* starts at a window start */
    {0, "2026-11-23T20:00:00+08:00", 1 * H, "2026-11-24T09:00:00+08:00"},
    {0, "2026-11-23T00:00:00+08:00", 1, "2026-11-23T08:00:01+08:00"},
    {0, "2026-11-23T07:59:59+08:00", 1, "2026-11-23T08:00:01+08:00"},
    {0, "2026-11-23T11:59:59+08:00", 1, "2026-11-23T12:00:00+08:00"},
    {0, "2026-11-23T11:59:59+08:00", 2, "2026-11-23T14:00:01+08:00"},
    {0, "2026-11-23T19:59:59+08:00", 2, "2026-11-24T08:00:01+08:00"},
    {0, "2026-11-23T21:00:00+08:00", 0, "2026-11-23T21:00:00+08:00"}, /* empty budget: due at once */
    {0, "2026-11-23T21:00:00+08:00", -5, "2026-11-23T21:00:00+08:00"},
    /* revisit target, 1 working day = 10 business hours */
    {0, "2026-11-23T08:00:00+08:00", 10 * H, "2026-11-23T20:00:00+08:00"},
    {0, "2026-11-23T20:00:00+08:00", 10 * H, "2026-11-24T20:00:00+08:00"},
    {0, "2026-11-23T15:30:00+08:00", 10 * H, "2026-11-24T15:30:00+08:00"},
    /* reopened resolve target, 50 business hours = 5 working days */
    {0, "2026-11-23T08:00:00+08:00", 50 * H, "2026-11-27T20:00:00+08:00"},
    {0, "2026-11-23T09:15:00+08:00", 50 * H, "2026-11-28T09:15:00+08:00"},
    {0, "2026-11-23T12:45:00+08:00", 50 * H, "2026-11-28T12:00:00+08:00"},
    /* the longest extension: 720 business hours = 72 working days */
    {0, "2026-01-01T08:00:00+08:00", 720 * H, "2026-03-13T20:00:00+08:00"},
    /* other offsets in, same instants */
    {0, "2026-11-23T02:00:00Z", 2 * H, "2026-11-23T04:00:00Z"},
    {0, "2026-11-22T21:00:00-05:00", 2 * H, "2026-11-23T12:00:00+08:00"},
    /* region shift +2 h: 10:00-14:00, 16:00-22:00 */
    {7200, "2026-11-23T18:00:00+08:00", 2 * H, "2026-11-23T20:00:00+08:00"},
    {7200, "2026-11-23T20:00:00+08:00", 2 * H, "2026-11-23T22:00:00+08:00"},
    {7200, "2026-11-23T21:00:00+08:00", 2 * H, "2026-11-24T11:00:00+08:00"},
    {7200, "2026-11-23T23:00:00+08:00", 1 * H, "2026-11-24T11:00:00+08:00"},
    {7200, "2026-11-24T00:30:00+08:00", 1 * H, "2026-11-24T11:00:00+08:00"},
    {7200, "2026-11-23T09:00:00+08:00", 2 * H, "2026-11-23T12:00:00+08:00"},
    {7200, "2026-11-23T13:00:00+08:00", 2 * H, "2026-11-23T17:00:00+08:00"},
    {7200, "2026-11-23T14:30:00+08:00", 2 * H, "2026-11-23T18:00:00+08:00"}, /* shifted lunch */
    {7200, "2026-11-23T08:00:00+08:00", 10 * H, "2026-11-23T22:00:00+08:00"},
    {7200, "2026-11-23T10:00:00+08:00", 50 * H, "2026-11-27T22:00:00+08:00"},
};

START_TEST(test_edges)
{
    Calendar *cal = new_cal();
    check_due(cal, edges[_i].shift, edges[_i].start, edges[_i].secs, edges[_i].due);
    if (edges[_i].secs >= 0)
        ck_assert_int_eq(cal_between(cal, edges[_i].shift, T(edges[_i].start), T(edges[_i].due)), edges[_i].secs);
    cal_free(cal);
}
END_TEST

START_TEST(test_between_basic)
{
    Calendar *cal = new_cal();
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T08:00:00+08:00"), T("2026-11-23T20:00:00+08:00")), 10 * H);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T00:00:00+08:00"), T("2026-11-24T00:00:00+08:00")), 10 * H);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T12:00:00+08:00"), T("2026-11-23T14:00:00+08:00")), 0);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T20:00:00+08:00"), T("2026-11-24T08:00:00+08:00")), 0);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T11:00:00+08:00"), T("2026-11-23T15:00:00+08:00")), 2 * H);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T19:00:00+08:00"), T("2026-11-30T09:00:00+08:00")),
                     2 * H + 60 * H);
    ck_assert_int_eq(cal_between(cal, 7200, T("2026-11-23T08:00:00+08:00"), T("2026-11-23T20:00:00+08:00")), 8 * H);
    /* empty and reversed spans */
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T09:00:00+08:00"), T("2026-11-23T09:00:00+08:00")), 0);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T10:00:00+08:00"), T("2026-11-23T09:00:00+08:00")), 0);
    /* a whole (non-leap) year of every-day working dates */
    ck_assert_int_eq(cal_between(cal, 0, T("2026-01-01T00:00:00+08:00"), T("2027-01-01T00:00:00+08:00")),
                     365LL * 10 * H);
    cal_free(cal);
}
END_TEST

/* ---- Working dates ------------------------------------------------------ */

START_TEST(test_holidays)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_holidays(cal, "2026-10-01..2026-10-07", err, sizeof(err)), err);

    ck_assert(cal_is_workday(cal, D("2026-09-30")));
    ck_assert(!cal_is_workday(cal, D("2026-10-01")));
    ck_assert(!cal_is_workday(cal, D("2026-10-07")));
    ck_assert(cal_is_workday(cal, D("2026-10-08")));

    check_due(cal, 0, "2026-09-30T19:00:00+08:00", 2 * H, "2026-10-08T09:00:00+08:00");
    check_due(cal, 0, "2026-10-03T10:00:00+08:00", 1 * H, "2026-10-08T09:00:00+08:00");
    check_due(cal, 7200, "2026-09-30T21:00:00+08:00", 2 * H, "2026-10-08T11:00:00+08:00");
    ck_assert_int_eq(cal_between(cal, 0, T("2026-09-30T00:00:00+08:00"), T("2026-10-09T00:00:00+08:00")), 20 * H);

    /* each call replaces the list; "" clears it */
    set_ok(cal_set_holidays(cal, " 2026-10-02 , 2026-10-02,2026-10-01 ", err, sizeof(err)), err);
    ck_assert(!cal_is_workday(cal, D("2026-10-01")));
    ck_assert(cal_is_workday(cal, D("2026-10-03")));
    set_ok(cal_set_holidays(cal, "", err, sizeof(err)), err);
    ck_assert(cal_is_workday(cal, D("2026-10-01")));
    cal_free(cal);
}
END_TEST

START_TEST(test_weekdays)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_workdays(cal, "mon,tue,wed,thu,fri", err, sizeof(err)), err);

    ck_assert(cal_is_workday(cal, D("2026-11-27")));  /* Friday */
    ck_assert(!cal_is_workday(cal, D("2026-11-28"))); /* Saturday */
    ck_assert(!cal_is_workday(cal, D("2026-11-29"))); /* Sunday */

    check_due(cal, 0, "2026-11-27T19:00:00+08:00", 2 * H, "2026-11-30T09:00:00+08:00");
    check_due(cal, 0, "2026-11-28T10:00:00+08:00", 2 * H, "2026-11-30T10:00:00+08:00");
    check_due(cal, 0, "2026-11-27T08:00:00+08:00", 50 * H, "2026-12-03T20:00:00+08:00");
    check_due(cal, 0, "2026-11-23T08:00:00+08:00", 50 * H, "2026-11-27T20:00:00+08:00");
    /* 720 business hours = 72 working days = 14 weeks and 2 days */
    check_due(cal, 0, "2026-11-23T08:00:00+08:00", 720 * H, "2027-03-02T20:00:00+08:00");

    set_ok(cal_set_workdays(cal, " SAT , Sun ", err, sizeof(err)), err);
    ck_assert(!cal_is_workday(cal, D("2026-11-27")));
    ck_assert(cal_is_workday(cal, D("2026-11-28")));
    ck_assert(cal_is_workday(cal, D("2026-11-29")));
    cal_free(cal);
}
END_TEST

/* The National Day pattern: a week off, with weekend days made working
 * dates around it (调休). */
START_TEST(test_extra_workdays)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_workdays(cal, "mon,tue,wed,thu,fri", err, sizeof(err)), err);
    set_ok(cal_set_holidays(cal, "2026-10-01..2026-10-07", err, sizeof(err)), err);
    set_ok(cal_set_extra_workdays(cal, "2026-09-27,2026-10-10", err, sizeof(err)), err);

    ck_assert(cal_is_workday(cal, D("2026-09-27")));  /* Sunday, extra */
    ck_assert(!cal_is_workday(cal, D("2026-09-26"))); /* Saturday */
    ck_assert(cal_is_workday(cal, D("2026-10-10")));  /* Saturday, extra */

    check_due(cal, 0, "2026-09-25T19:00:00+08:00", 2 * H, "2026-09-27T09:00:00+08:00");
    check_due(cal, 0, "2026-09-30T08:00:00+08:00", 50 * H, "2026-10-12T20:00:00+08:00");
    ck_assert_int_eq(cal_between(cal, 0, T("2026-09-21T00:00:00+08:00"), T("2026-10-19T00:00:00+08:00")),
                     (5 + 1 + 3 + 2 + 1 + 5) * 10 * H);

    /* A date that is both a holiday and an extra working date works. */
    set_ok(cal_set_extra_workdays(cal, "2026-10-05", err, sizeof(err)), err);
    ck_assert(cal_is_workday(cal, D("2026-10-05")));
    check_due(cal, 0, "2026-09-30T19:00:00+08:00", 2 * H, "2026-10-05T09:00:00+08:00");
    cal_free(cal);
}
END_TEST

/* With a shift, a window keeps the date of the schedule that defines it,
 * even when the shift moves it past local midnight: with 14:00-24:00 and
 * +2 h, date D works from D 16:00 to D+1 02:00. */
START_TEST(test_shift_across_midnight_dates)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_windows(cal, "14:00-24:00", err, sizeof(err)), err);

    set_ok(cal_set_holidays(cal, "2026-11-24", err, sizeof(err)), err);
    check_due(cal, 7200, "2026-11-23T23:00:00+08:00", 3 * H, "2026-11-24T02:00:00+08:00");
    ck_assert_int_eq(cal_between(cal, 7200, T("2026-11-24T00:00:00+08:00"), T("2026-11-24T12:00:00+08:00")), 2 * H);
    /* then nothing until the 25th's window at 16:00 */
    check_due(cal, 7200, "2026-11-24T01:00:00+08:00", 2 * H, "2026-11-25T17:00:00+08:00");

    /* Now the 23rd is the holiday: the first hours of the 24th are its. */
    set_ok(cal_set_holidays(cal, "2026-11-23", err, sizeof(err)), err);
    ck_assert_int_eq(cal_between(cal, 7200, T("2026-11-24T00:00:00+08:00"), T("2026-11-24T12:00:00+08:00")), 0);
    check_due(cal, 7200, "2026-11-24T00:30:00+08:00", 1 * H, "2026-11-24T17:00:00+08:00");

    /* A negative shift moves the window to the evening before. */
    set_ok(cal_set_windows(cal, "00:00-02:00", err, sizeof(err)), err);
    set_ok(cal_set_holidays(cal, "2026-11-24", err, sizeof(err)), err);
    check_due(cal, -7200, "2026-11-23T22:00:00+08:00", 1 * H, "2026-11-24T23:00:00+08:00");
    cal_free(cal);
}
END_TEST

START_TEST(test_utc_offset)
{
    Calendar *cal = new_cal();
    ck_assert_int_eq(cal_utc_offset(cal), 480);

    ck_assert_int_eq(cal_set_utc_offset(cal, 0), 0);
    ck_assert_int_eq(cal_utc_offset(cal), 0);
    check_due(cal, 0, "2026-11-23T18:00:00Z", 2 * H, "2026-11-23T20:00:00Z");
    check_due(cal, 0, "2026-11-23T18:00:00+08:00", 2 * H, "2026-11-23T12:00:00Z");

    ck_assert_int_eq(cal_set_utc_offset(cal, -300), 0);
    check_due(cal, 0, "2026-11-23T19:00:00-05:00", 2 * H, "2026-11-24T09:00:00-05:00");
    check_due(cal, 7200, "2026-11-23T21:00:00-05:00", 2 * H, "2026-11-24T11:00:00-05:00");

    ck_assert_int_eq(cal_set_utc_offset(cal, 14 * 60 + 1), -1);
    ck_assert_int_eq(cal_set_utc_offset(cal, -14 * 60 - 1), -1);
    ck_assert_int_eq(cal_utc_offset(cal), -300);
    ck_assert_int_eq(cal_set_utc_offset(cal, 14 * 60), 0);
    ck_assert_int_eq(cal_set_utc_offset(cal, -14 * 60), 0);
    cal_free(cal);
}
END_TEST

/* ---- Never -------------------------------------------------------------- */

START_TEST(test_never)
{
    char err[128] = "";
    Calendar *cal = new_cal();

    ck_assert(cal_add(cal, 0, TU_NEVER, 2 * H) == TU_NEVER);
    ck_assert(cal_add(cal, 0, T("2026-11-23T08:00:00+08:00"), INT64_MAX) == TU_NEVER);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T00:00:00+08:00"), TU_NEVER) > 0, 1);

    /* no working weekday at all */
    set_ok(cal_set_workdays(cal, "", err, sizeof(err)), err);
    ck_assert(cal_add(cal, 0, T("2026-11-23T08:00:00+08:00"), 1) == TU_NEVER);
    ck_assert_int_eq(cal_between(cal, 0, T("2026-11-23T00:00:00+08:00"), T("2036-11-23T00:00:00+08:00")), 0);

    /* only an extra date, about four years ahead: still found */
    set_ok(cal_set_extra_workdays(cal, "2031-01-01", err, sizeof(err)), err);
    check_due(cal, 0, "2026-11-23T08:00:00+08:00", 1, "2031-01-01T08:00:01+08:00");
    ck_assert(cal_add(cal, 0, T("2026-11-23T08:00:00+08:00"), 10 * H + 1) == TU_NEVER);

    /* more than 3660 days ahead: never */
    set_ok(cal_set_extra_workdays(cal, "2037-01-01", err, sizeof(err)), err);
    ck_assert(cal_add(cal, 0, T("2026-11-23T08:00:00+08:00"), 1) == TU_NEVER);
    cal_free(cal);
}
END_TEST

/* Holidays covering years: the day-by-day search stops after ~10 years. */
START_TEST(test_never_holidays)
{
    char err[128] = "", spec[1024] = "";
    Calendar *cal = new_cal();

    for (int y = 2027; y <= 2037; y++) {
        char item[64];
        snprintf(item, sizeof(item), "%s%d-01-01..%d-12-31", y > 2027 ? "," : "", y, y);
        strcat(spec, item);
    }
    set_ok(cal_set_holidays(cal, spec, err, sizeof(err)), err);
    ck_assert(cal_add(cal, 0, T("2026-12-31T21:00:00+08:00"), 1) == TU_NEVER);
    check_due(cal, 0, "2026-12-31T19:00:00+08:00", 1 * H, "2026-12-31T20:00:00+08:00");

    /* nine years off is still within reach */
    spec[0] = '\0';
    for (int y = 2027; y <= 2035; y++) {
        char item[64];
        snprintf(item, sizeof(item), "%s%d-01-01..%d-12-31", y > 2027 ? "," : "", y, y);
        strcat(spec, item);
    }
    set_ok(cal_set_holidays(cal, spec, err, sizeof(err)), err);
    check_due(cal, 0, "2026-12-31T21:00:00+08:00", 1, "2036-01-01T08:00:01+08:00");
    cal_free(cal);
}
END_TEST

/* Very long budgets are skipped a week at a time, not walked. */
START_TEST(test_long_budget)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_workdays(cal, "mon,tue,wed,thu,fri", err, sizeof(err)), err);
    int64_t a = T("2026-11-23T09:00:00+08:00");

    /* 100,000 working days: about 383 years of business time */
    int64_t s = 100000LL * 10 * H;
    int64_t due = cal_add(cal, 0, a, s);
    ck_assert(due != TU_NEVER);
    ck_assert_int_eq(cal_between(cal, 0, a, due), s);
    ck_assert_int_eq(cal_between(cal, 0, a, due - 1), s - 1);
    cal_free(cal);
}
END_TEST

/* ---- Properties over random calendars and instants ---------------------- */

typedef struct {
    const char *windows, *workdays, *holidays, *extras;
    int offset_min;
} CalSpec;

static const CalSpec specs[] = {
    {"08:00-12:00,14:00-20:00", "mon,tue,wed,thu,fri,sat,sun", "", "", 480},
    {"08:00-12:00,14:00-20:00", "mon,tue,wed,thu,fri",
     "2026-01-01..2026-01-03,2026-02-16..2026-02-22,2026-10-01..2026-10-07,2027-02-05..2027-02-11",
     "2026-01-04,2026-02-14,2026-02-28,2026-09-27,2026-10-10,2027-02-06", 480},
    {"00:00-03:00,09:00-09:01,14:00-24:00", "tue,thu,sat", "2026-03-03,2026-03-05..2026-03-20,2027-01-02",
     "2026-03-04,2026-03-08,2026-06-01..2026-06-03", -300},
    {"08:00-12:00,12:00-13:00", "wed", "", "2026-12-25", 345},
    {"00:00-24:00", "mon,fri", "2026-05-01..2026-05-31", "2026-05-02,2026-05-03", 0},
};

static Calendar *build(const CalSpec *cs)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_windows(cal, cs->windows, err, sizeof(err)), err);
    set_ok(cal_set_workdays(cal, cs->workdays, err, sizeof(err)), err);
    set_ok(cal_set_holidays(cal, cs->holidays, err, sizeof(err)), err);
    set_ok(cal_set_extra_workdays(cal, cs->extras, err, sizeof(err)), err);
    ck_assert_int_eq(cal_set_utc_offset(cal, cs->offset_min), 0);
    return cal;
}

/* A fixed-seed LCG (Knuth's MMIX constants) so failures reproduce. */
static uint64_t next_rand(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 17;
}

/* A straightforward reference: every window of every date near [a, b). */
static int64_t reference_between(const Calendar *cal, const CalSpec *cs, int shift, int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    int64_t base = (int64_t)cs->offset_min * 60 - shift;
    int64_t sum = 0;
    for (int64_t d = tu_floordiv(a + base, 86400) - 1; d <= tu_floordiv(b + base, 86400) + 1; d++) {
        if (!cal_is_workday(cal, d))
            continue;
        const char *p = cs->windows;
        while (*p != '\0') {
            int sh = (p[0] - '0') * 10 + (p[1] - '0'), sm = (p[3] - '0') * 10 + (p[4] - '0');
            int eh = (p[6] - '0') * 10 + (p[7] - '0'), em = (p[9] - '0') * 10 + (p[10] - '0');
            int64_t ws = d * 86400 + sh * 3600 + sm * 60 - base;
            int64_t we = d * 86400 + eh * 3600 + em * 60 - base;
            int64_t lo = ws > a ? ws : a, hi = we < b ? we : b;
            if (hi > lo)
                sum += hi - lo;
            p += p[11] == ',' ? 12 : 11;
        }
    }
    return sum;
}

/* cal_between(a, cal_add(a, s)) == s, and cal_add gives the earliest such
 * instant: one second earlier holds one business second less. */
START_TEST(test_add_between_inverse)
{
    static const int shifts[] = {0, 7200, -7200, 3600};
    const CalSpec *cs = &specs[_i];
    Calendar *cal = build(cs);
    uint64_t x = 20261123u + (uint64_t)_i;
    int64_t lo = T("2025-12-20T00:00:00+08:00"), span = T("2027-03-01T00:00:00+08:00") - lo;

    for (int n = 0; n < 4000; n++) {
        int shift = shifts[n % NELEM(shifts)];
        int64_t a = lo + (int64_t)(next_rand(&x) % (uint64_t)span);
        if (n % 5 == 0)
            a -= a % 1800; /* land on window edges often */
        int64_t s;
        switch (n % 4) {
        case 0:
            s = (int64_t)(next_rand(&x) % (3 * H));
            break;
        case 1:
            s = (int64_t)(next_rand(&x) % (60 * H));
            break;
        case 2:
            s = (int64_t)(next_rand(&x) % 50) * H; /* whole hours: window ends */
            break;
        default:
            s = (int64_t)(next_rand(&x) % (1500 * H));
            break;
        }
        /* plain ifs: every ck_assert records a checkpoint, too slow in a loop */
        int64_t due = cal_add(cal, shift, a, s);
        if (due == TU_NEVER || due < a)
            ck_abort_msg("spec %d shift %d: a=%lld s=%lld: due=%lld", _i, shift, (long long)a, (long long)s,
                         (long long)due);
        int64_t back = cal_between(cal, shift, a, due);
        if (back != s)
            ck_abort_msg("spec %d shift %d: a=%lld s=%lld due=%lld: between gives %lld", _i, shift, (long long)a,
                         (long long)s, (long long)due, (long long)back);
        if (s > 0 && cal_between(cal, shift, a, due - 1) != s - 1)
            ck_abort_msg("spec %d shift %d: a=%lld s=%lld: due=%lld is not the earliest", _i, shift, (long long)a,
                         (long long)s, (long long)due);
        if (s == 0 && due != a)
            ck_abort_msg("spec %d: empty budget not due at once", _i);
    }
    cal_free(cal);
}
END_TEST

/* cal_between agrees with the window-by-window reference, and
 * cal_add(a, cal_between(a, b)) never lands after b. */
START_TEST(test_between_reference)
{
    static const int shifts[] = {0, 7200, -3600};
    const CalSpec *cs = &specs[_i];
    Calendar *cal = build(cs);
    uint64_t x = 77u + (uint64_t)_i;
    int64_t lo = T("2025-12-20T00:00:00+08:00"), span = T("2027-03-01T00:00:00+08:00") - lo;

    for (int n = 0; n < 3000; n++) {
        int shift = shifts[n % NELEM(shifts)];
        int64_t a = lo + (int64_t)(next_rand(&x) % (uint64_t)span);
        int64_t b = a + (int64_t)(next_rand(&x) % (uint64_t)(n % 2 ? 3 * 86400 : 60 * 86400));
        int64_t got = cal_between(cal, shift, a, b);
        int64_t want = reference_between(cal, cs, shift, a, b);
        if (got != want)
            ck_abort_msg("spec %d shift %d: [%lld, %lld): got %lld, want %lld", _i, shift, (long long)a, (long long)b,
                         (long long)got, (long long)want);
        if (cal_add(cal, shift, a, got) > b)
            ck_abort_msg("spec %d shift %d: [%lld, %lld): adding back lands after b", _i, shift, (long long)a,
                         (long long)b);
        if (b > a && cal_between(cal, shift, b, a) != 0)
            ck_abort_msg("spec %d: reversed span not empty", _i);
    }
    cal_free(cal);
}
END_TEST

/* ---- Parsing the specs -------------------------------------------------- */

static const struct {
    const char *spec, *msg;
} bad_windows[] = {
    {"", "no working windows"},
    {"   ", "no working windows"},
    {"08:00-12:00,11:00-20:00", "\"11:00-20:00\" overlaps"},
    {"14:00-20:00,08:00-12:00", "\"08:00-12:00\" overlaps"},
    {"12:00-08:00", "\"12:00-08:00\" is empty or reversed"},
    {"08:00-08:00", "is empty or reversed"},
    {"24:00-24:00", "is empty or reversed"},
    {"8:00-12:00", "bad window \"8:00-12:00\""},
    {"08:00-25:00", "bad window \"08:00-25:00\""},
    {"08:00-24:01", "bad window"},
    {"08:60-09:00", "bad window"},
    {"08:00 - 12:00", "bad window"},
    {"08:00-12:00,", "bad window \"\""},
    {"08:00-12:00,,14:00-20:00", "bad window \"\""},
    {"08:00-12:00x", "bad window"},
    {"01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00,11:00-12:00,13:00-14:00,15:00-16:00,"
     "17:00-18:00",
     "too many windows"},
};

START_TEST(test_bad_windows)
{
    char err[160] = "";
    Calendar *cal = new_cal();
    ck_assert_int_eq(cal_set_windows(cal, bad_windows[_i].spec, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_windows[_i].msg) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
                  bad_windows[_i].spec, err, bad_windows[_i].msg);
    /* the calendar is unchanged */
    check_due(cal, 0, "2026-11-23T19:00:00+08:00", 2 * H, "2026-11-24T09:00:00+08:00");
    cal_free(cal);
}
END_TEST

START_TEST(test_good_windows)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_windows(cal, " 09:00-12:00 , 13:00-18:00 ", err, sizeof(err)), err);
    check_due(cal, 0, "2026-11-23T11:00:00+08:00", 2 * H, "2026-11-23T14:00:00+08:00");
    set_ok(cal_set_windows(cal, "00:00-24:00", err, sizeof(err)), err);
    check_due(cal, 0, "2026-11-23T23:00:00+08:00", 25 * H, "2026-11-25T00:00:00+08:00");
    set_ok(cal_set_windows(cal, "01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00,11:00-12:00,"
                                "13:00-14:00,15:00-16:00",
                           err, sizeof(err)),
           err);
    check_due(cal, 0, "2026-11-23T00:00:00+08:00", 8 * H, "2026-11-23T16:00:00+08:00");
    cal_free(cal);
}
END_TEST

START_TEST(test_bad_workdays)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    ck_assert_int_eq(cal_set_workdays(cal, "mon,funday", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad weekday \"funday\""));
    ck_assert_int_eq(cal_set_workdays(cal, "mon,,tue", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad weekday \"\""));
    ck_assert_int_eq(cal_set_workdays(cal, "monday", err, sizeof(err)), -1);
    ck_assert_int_eq(cal_set_workdays(cal, "mon tue", err, sizeof(err)), -1);
    /* unchanged: Saturday still works */
    ck_assert(cal_is_workday(cal, D("2026-11-28")));
    cal_free(cal);
}
END_TEST

static const struct {
    const char *spec, *msg;
} bad_dates[] = {
    {"2026-02-30", "bad date \"2026-02-30\""},
    {"2025-02-29", "bad date"},
    {"2026-10-01,2026-10-1", "bad date \"2026-10-1\""},
    {"2026-10-01,,2026-10-02", "bad date \"\""},
    {"2026-10-01,", "bad date \"\""},
    {"2026/10/01", "bad date"},
    {"2026-10-01..", "bad date"},
    {"2026-10-01...2026-10-02", "bad date"},
    {"2026-10-07..2026-10-01", "\"2026-10-07..2026-10-01\" ends before it starts"},
    {"2026-01-01..2027-01-02", "longer than 366 days"},
    {"2026-01-01..2027-01-01x", "bad date"},
};

START_TEST(test_bad_dates)
{
    char err[160] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_holidays(cal, "2026-11-23", err, sizeof(err)), err);

    ck_assert_int_eq(cal_set_holidays(cal, bad_dates[_i].spec, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_dates[_i].msg) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
                  bad_dates[_i].spec, err, bad_dates[_i].msg);
    err[0] = '\0';
    ck_assert_int_eq(cal_set_extra_workdays(cal, bad_dates[_i].spec, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_dates[_i].msg) != NULL, "\"%s\": message \"%s\"", bad_dates[_i].spec, err);

    /* the previous list stays */
    ck_assert(!cal_is_workday(cal, D("2026-11-23")));
    cal_free(cal);
}
END_TEST

START_TEST(test_err_buffer)
{
    char err[8];
    Calendar *cal = new_cal();
    /* no room or no buffer: the error is still reported */
    ck_assert_int_eq(cal_set_windows(cal, "bogus", NULL, 0), -1);
    ck_assert_int_eq(cal_set_workdays(cal, "bogus", NULL, 0), -1);
    ck_assert_int_eq(cal_set_holidays(cal, "bogus", NULL, 0), -1);
    ck_assert_int_eq(cal_set_windows(cal, "bogus", err, sizeof(err)), -1);
    ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
    cal_free(cal);
}
END_TEST

START_TEST(test_clone)
{
    char err[128] = "";
    Calendar *cal = new_cal();
    set_ok(cal_set_holidays(cal, "2026-11-23", err, sizeof(err)), err);
    set_ok(cal_set_extra_workdays(cal, "2026-11-29", err, sizeof(err)), err);

    Calendar *c2 = cal_clone(cal);
    ck_assert_ptr_nonnull(c2);
    set_ok(cal_set_holidays(c2, "2026-11-24", err, sizeof(err)), err);
    ck_assert_int_eq(cal_set_utc_offset(c2, 0), 0);

    ck_assert(!cal_is_workday(cal, D("2026-11-23")));
    ck_assert(cal_is_workday(cal, D("2026-11-24")));
    ck_assert_int_eq(cal_utc_offset(cal), 480);
    ck_assert(cal_is_workday(c2, D("2026-11-23")));
    ck_assert(!cal_is_workday(c2, D("2026-11-24")));
    ck_assert(cal_is_workday(c2, D("2026-11-29")));

    cal_free(cal);
    /* the clone outlives its source */
    ck_assert(!cal_is_workday(c2, D("2026-11-24")));
    cal_free(c2);
    cal_free(NULL);

    Calendar *empty = new_cal();
    Calendar *c3 = cal_clone(empty);
    ck_assert_ptr_nonnull(c3);
    cal_free(empty);
    cal_free(c3);
}
END_TEST

Suite *suite_cal(void)
{
    Suite *s = suite_create("cal");

    TCase *tc = tcase_create("clock");
    tcase_add_loop_test(tc, test_edges, 0, NELEM(edges));
    tcase_add_test(tc, test_between_basic);
    tcase_add_test(tc, test_utc_offset);
    tcase_add_test(tc, test_never);
    tcase_add_test(tc, test_never_holidays);
    tcase_add_test(tc, test_long_budget);
    suite_add_tcase(s, tc);

    tc = tcase_create("dates");
    tcase_add_test(tc, test_holidays);
    tcase_add_test(tc, test_weekdays);
    tcase_add_test(tc, test_extra_workdays);
    tcase_add_test(tc, test_shift_across_midnight_dates);
    suite_add_tcase(s, tc);

    tc = tcase_create("properties");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_add_between_inverse, 0, NELEM(specs));
    tcase_add_loop_test(tc, test_between_reference, 0, NELEM(specs));
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_bad_windows, 0, NELEM(bad_windows));
    tcase_add_test(tc, test_good_windows);
    tcase_add_test(tc, test_bad_workdays);
    tcase_add_loop_test(tc, test_bad_dates, 0, NELEM(bad_dates));
    tcase_add_test(tc, test_err_buffer);
    tcase_add_test(tc, test_clone);
    suite_add_tcase(s, tc);

    return s;
}
