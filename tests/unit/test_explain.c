/* Unit tests for lib/explain: deadlines laid out step by step.
 *
 * Times are at +08:00. 2025-11-28 is a Friday. The default calendar counts
 * 08:00-12:00 and 14:00-20:00 every day; Xinjiang (region 65) works the same
 * windows 2 h later. The last tests build random tickets through lib/tkt and
 * check that the explanation arrives at the deadline the ticket stores. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "explain.h"
#include "policy.h"
#include "testutil.h"
#include "timeutil.h"
#include "tkt.h"

#define H 3600

static int64_t T(const char *s)
{
    int64_t t = 0;
    ck_assert_msg(tu_parse_rfc3339(s, &t) == 0, "bad test time %s", s);
    return t;
}

static Policy *policy(const char *const *kv)
{
    Policy *p = pol_new();
    ck_assert_ptr_nonnull(p);
    char err[256];
    for (int i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(pol_set(p, kv[i], kv[i + 1], err, sizeof err) == 0, "%s: %s", kv[i], err);
    return p;
}

static char *line(const XplPlan *pl, const char *label)
{
    static char buf[1024];
    int n = xpl_format_plan(pl, label, 480, buf, sizeof buf);
    ck_assert_int_eq(n, (int)strlen(buf));
    return buf;
}

/* ---- plans -------------------------------------------------------------- */

START_TEST(test_friday_night_in_xinjiang)
{
    Policy *p = policy(NULL);
    int shift = (int)pol_region_shift(p, "65");
    ck_assert_int_eq(shift, 2 * H);
    XplPlan pl;
    int64_t due = xpl_plan(&pl, p->cal, CLK_BUSINESS, shift, T("2025-11-28T22:30:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-11-29T12:00:00+08:00"));
    ck_assert_uint_eq(pl.n, 2);
    ck_assert_int_eq(pl.steps[0].kind, XPL_WAIT);
    ck_assert_int_eq(pl.steps[0].to, T("2025-11-29T10:00:00+08:00"));
    ck_assert_int_eq(pl.steps[0].days_off, 0);
    ck_assert_int_eq(pl.steps[1].kind, XPL_RUN);
    ck_assert_int_eq(pl.steps[1].secs, 2 * H);
    ck_assert_str_eq(line(&pl, "received"),
                     "received Fri 22:30 → business clock starts Sat 10:00 → 2 business hours → due Sat 12:00");
    xpl_plan_free(&pl);

    /* the same minute without the shift: 20:00 is long past, 08:00 starts */
    due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-28T22:30:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-11-29T10:00:00+08:00"));
    ck_assert_str_eq(line(&pl, "received"),
                     "received Fri 22:30 → business clock starts Sat 08:00 → 2 business hours → due Sat 10:00");
    xpl_plan_free(&pl);

    /* 19:10 is inside the shifted 16:00-22:00 window: the clock runs at once */
    due = xpl_plan(&pl, p->cal, CLK_BUSINESS, shift, T("2025-11-28T19:10:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-11-28T21:10:00+08:00"));
    ck_assert_str_eq(line(&pl, "received"), "received Fri 19:10 → 2 business hours → due Fri 21:10");
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

START_TEST(test_windows_lunch_and_night)
{
    Policy *p = policy(NULL);
    XplPlan pl;
    int64_t due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-24T09:00:00+08:00"), 10 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-11-25T09:00:00+08:00"));
    char buf[512];
    xpl_format_runs(&pl, 480, buf, sizeof buf);
    ck_assert_str_eq(buf, "Mon 09:00-12:00 (3h), Mon 14:00-20:00 (6h), Tue 08:00-09:00 (1h)");
    ck_assert_str_eq(line(&pl, "received"), "received Mon 09:00 → 10 business hours → due Tue 09:00");
    /* a budget that runs out at the end of a window is due then, not the next morning */
    xpl_plan_free(&pl);
    due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-24T18:00:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-11-24T20:00:00+08:00"));
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

START_TEST(test_days_off)
{
    const char *kv[] = {"workdays", "mon,tue,wed,thu,fri", "holidays", "2025-12-01", NULL};
    Policy *p = policy(kv);
    XplPlan pl;
    /* Friday 19:00: one hour that day, then Saturday, Sunday and the
     * Monday holiday pass, and Tuesday 08:00-09:00 */
    int64_t due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-28T19:00:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, T("2025-12-02T09:00:00+08:00"));
    ck_assert_uint_eq(pl.n, 3);
    ck_assert_int_eq(pl.steps[1].kind, XPL_WAIT);
    ck_assert_int_eq(pl.steps[1].days_off, 3);
    ck_assert_int_eq(pl.steps[1].first_off, tu_days_from_civil(2025, 11, 29));
    ck_assert_str_eq(line(&pl, "received"),
                     "received Fri 19:00 → 2 business hours (3 days off not counted) → due Tue 09:00");
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

START_TEST(test_calendar_clock_and_pauses)
{
    Policy *p = policy(NULL);
    Pause pz[2] = {
        {.start = T("2025-11-24T13:00:00+08:00"), .end = T("2025-11-24T16:00:00+08:00")},
        {.start = T("2025-11-27T09:00:00+08:00"), .end = TU_NEVER},
    };
    XplPlan pl;
    int64_t due = xpl_plan(&pl, p->cal, CLK_CALENDAR, 0, T("2025-11-24T09:00:00+08:00"), 48 * H, pz, 2);
    ck_assert_int_eq(due, T("2025-11-26T12:00:00+08:00"));
    ck_assert_str_eq(line(&pl, "received"), "received Mon 09:00 → 4 calendar hours → paused Mon 13:00–Mon 16:00 "
                                            "(3h) → 44 calendar hours → due Wed 12:00");
    xpl_plan_free(&pl);
    /* a pause not resumed before the budget runs out: no deadline */
    due = xpl_plan(&pl, p->cal, CLK_CALENDAR, 0, T("2025-11-24T09:00:00+08:00"), 96 * H, pz, 2);
    ck_assert_int_eq(due, TU_NEVER);
    ck_assert_str_eq(line(&pl, "received"), "received Mon 09:00 → 4 calendar hours → paused Mon 13:00–Mon 16:00 "
                                            "(3h) → 65 calendar hours → paused Thu 09:00, not resumed → no deadline");
    xpl_plan_free(&pl);
    /* a business clock paused over the lunch break loses no working time */
    Pause lunch = {.start = T("2025-11-24T12:30:00+08:00"), .end = T("2025-11-24T13:30:00+08:00")};
    due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-24T11:00:00+08:00"), 2 * H, &lunch, 1);
    ck_assert_int_eq(due, T("2025-11-24T15:00:00+08:00"));
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

START_TEST(test_no_working_time)
{
    const char *kv[] = {"workdays", "", NULL};
    Policy *p = policy(kv);
    XplPlan pl;
    int64_t due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, T("2025-11-24T09:00:00+08:00"), 2 * H, NULL, 0);
    ck_assert_int_eq(due, TU_NEVER);
    ck_assert_str_eq(line(&pl, "received"), "received Mon 09:00 → no working time ahead → no deadline");
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

/* Ten years of business hours: the steps stop at XPL_MAX_STEPS and the rest
 * is one step; the deadline is still cal_add's. */
START_TEST(test_long_plan)
{
    Policy *p = policy(NULL);
    XplPlan pl;
    int64_t start = T("2025-11-24T09:00:00+08:00"), budget = 3650LL * 24 * H;
    int64_t due = xpl_plan(&pl, p->cal, CLK_BUSINESS, 0, start, budget, NULL, 0);
    ck_assert_int_eq(due, cal_add(p->cal, 0, start, budget));
    ck_assert_uint_le(pl.n, XPL_MAX_STEPS);
    ck_assert_int_eq(pl.steps[pl.n - 1].kind, XPL_MORE);
    int64_t sum = 0;
    for (size_t i = 0; i < pl.n; i++)
        sum += pl.steps[i].kind == XPL_RUN || pl.steps[i].kind == XPL_MORE ? pl.steps[i].secs : 0;
    ck_assert_int_eq(sum, budget);
    char buf[1024];
    xpl_format_runs(&pl, 480, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "more …") && strstr(buf, "over more windows"), "%s", buf);
    xpl_plan_free(&pl);
    pol_free(p);
}
END_TEST

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* Every plan is a gap-free walk from start to due; runs count every second,
 * waits none, and the runs add up to the budget. */
START_TEST(test_random_plans_add_up)
{
    const char *variants[][8] = {
        {NULL},
        {"workdays", "mon,tue,wed,thu,fri", "holidays", "2025-12-01..2025-12-03", "extra_workdays", "2025-12-06", NULL},
        {"business_hours", "09:00-12:00,13:30-18:00,19:00-24:00", "region_shift", "3h", NULL},
        {"business_hours", "00:00-24:00", NULL},
        {"utc_offset", "-05:00", "business_hours", "08:30-17:15", NULL},
    };
    for (int v = 0; v < NELEM(variants); v++) {
        Policy *p = policy(variants[v]);
        for (int it = 0; it < 400; it++) {
            int shift = rnd() % 2 ? (int)p->region_shift : 0;
            ClockKind k = rnd() % 3 ? CLK_BUSINESS : CLK_CALENDAR;
            int64_t start = T("2025-11-20T00:00:00+08:00") + rnd_in(0, 20 * 86400);
            int64_t budget = rnd_in(0, 200) * 600 + (rnd() % 4 == 0 ? rnd_in(0, 599) : 0);
            Pause pz[4];
            uint32_t n = (uint32_t)(rnd() % 5);
            int64_t at = start - 3 * H;
            for (uint32_t i = 0; i < n; i++) {
                at += rnd_in(0, 40 * H);
                pz[i].start = at;
                at += rnd_in(0, 30 * H);
                pz[i].end = (i == n - 1 && rnd() % 4 == 0) ? TU_NEVER : at;
            }
            XplPlan pl;
            int64_t due = xpl_plan(&pl, p->cal, k, shift, start, budget, pz, n);
            REQUIRE(!pl.failed);
            int64_t cursor = start, counted = 0;
            for (size_t i = 0; i < pl.n; i++) {
                const XplStep *st = &pl.steps[i];
                if (st->kind != XPL_PAUSE)
                    REQUIRE(st->from == cursor);
                REQUIRE(st->from >= cursor);
                if (st->kind == XPL_RUN) {
                    int64_t worked =
                        k == CLK_BUSINESS ? cal_between(p->cal, shift, st->from, st->to) : st->to - st->from;
                    REQUIRE(worked == st->secs && st->secs == st->to - st->from);
                    counted += st->secs;
                } else if (st->kind == XPL_WAIT) {
                    REQUIRE(k == CLK_BUSINESS);
                    REQUIRE(cal_between(p->cal, shift, st->from, st->to) == 0);
                }
                cursor = st->to;
            }
            if (due != TU_NEVER) {
                REQUIRE(counted == budget);
                REQUIRE(cursor == due || (budget == 0 && due == start));
            }
            if (n == 0)
                REQUIRE(due == (k == CLK_BUSINESS ? cal_add(p->cal, shift, start, budget) : start + budget));
            char buf[2048];
            REQUIRE(xpl_format_plan(&pl, "received", cal_utc_offset(p->cal), buf, sizeof buf) < (int)sizeof buf);
            xpl_plan_free(&pl);
        }
        pol_free(p);
    }
}
END_TEST

/* ---- targets against lib/tkt -------------------------------------------- */

static ComplaintEvent mk(const char *tid, ComplaintType type, int64_t at)
{
    static int seq;
    ComplaintEvent ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.event_id, sizeof ev.event_id, "x-%d", ++seq);
    snprintf(ev.ticket_id, sizeof ev.ticket_id, "%s", tid);
    ev.type = type;
    ev.occurred_at = at;
    return ev;
}

static const char *const regions[] = {"", "65", "xinjiang", "11", "54"};

/* A ticket through a random life; returns it with the time of its last event. */
static Ticket *random_ticket(const Policy *p, AlertList *al, int64_t *now)
{
    int64_t at = T("2025-11-21T00:00:00+08:00") + rnd_in(0, 7 * 86400);
    ComplaintEvent ev = mk("R-1", CT_RECEIVED, at);
    ev.channel = rnd() % 8 == 0 ? CH_REGULATOR : CH_HOTLINE;
    ev.category = (Category)(rnd() % CAT__COUNT);
    ev.has = EVF_CHANNEL | EVF_CATEGORY;
    const char *region = regions[rnd() % NELEM(regions)];
    if (*region) {
        snprintf(ev.region, sizeof ev.region, "%s", region);
        ev.has |= EVF_REGION;
    }
    if (rnd() % 3 == 0) {
        ev.claim = true;
        ev.has |= EVF_CLAIM;
    }
    Ticket *t = tkt_new(&ev, p, al);
    ck_assert_ptr_nonnull(t);
    *now = at;
    int steps = (int)rnd_in(0, 12);
    for (int i = 0; i < steps && !t->closed; i++) {
        at += rnd_in(0, 30 * H);
        int64_t when = rnd() % 6 == 0 ? at - rnd_in(0, 10 * H) : at; /* sometimes late */
        int what = (int)(rnd() % 12);
        if (what == 11) {
            tkt_make_urgent(t, RSN_BULK, when, p, at, al);
            continue;
        }
        static const ComplaintType types[] = {CT_CONTACTED, CT_FIRST_REPLY, CT_PAUSED,   CT_RESUMED,
                                              CT_PAUSED,    CT_RESUMED,     CT_EXTENDED, CT_UPDATED,
                                              CT_UPDATED,   CT_RESOLVED,    CT_REVISIT};
        ev = mk("R-1", types[what], when);
        switch (ev.type) {
        case CT_PAUSED:
            if (rnd() % 2) {
                ev.until = when + rnd_in(1, 80) * H;
                ev.has |= EVF_UNTIL;
            }
            break;
        case CT_EXTENDED:
            ev.ext_stage = rnd() % 2 ? EXT_RESOLVE : EXT_FIRST_REPLY;
            ev.ext_hours = (int)rnd_in(1, 72);
            break;
        case CT_UPDATED:
            switch (rnd() % 4) {
            case 0: ev.invalid = rnd() % 4 != 0, ev.has |= EVF_VALIDITY; break;
            case 1: ev.major = true, ev.has |= EVF_MAJOR; break;
            case 2:
                snprintf(ev.region, sizeof ev.region, "%s", regions[rnd() % NELEM(regions)]);
                ev.has |= EVF_REGION;
                break;
            default: ev.claim = rnd() % 2, ev.has |= EVF_CLAIM; break;
            }
            break;
        case CT_REVISIT: ev.satisfied = rnd() % 3 == 0; break;
        default: break;
        }
        char detail[128];
        tkt_apply(t, &ev, p, at, al, detail, sizeof detail);
        *now = at;
    }
    return t;
}

START_TEST(test_targets_agree_with_tkt)
{
    const char *variants[][8] = {
        {NULL},
        {"workdays", "mon,tue,wed,thu,fri", "holidays", "2025-11-27..2025-11-28", NULL},
        {"sla.contact.urgent", "1h business warn 30m", "warn_ratio", "50%", "statutory_limit", "2d", NULL},
        {"sla.resolve.reopened", "20h calendar", "invalid_resolve", "4h calendar", "pause_max", "0", NULL},
    };
    int compared = 0, rises = 0, invalids = 0, capped = 0;
    for (int v = 0; v < NELEM(variants); v++) {
        Policy *p = policy(variants[v]);
        for (int it = 0; it < 1500; it++) {
            AlertList al = {0};
            int64_t now;
            Ticket *t = random_ticket(p, &al, &now);
            for (int s = 0; s < STG__COUNT; s++) {
                XplTarget x;
                REQUIRE(xpl_target(&x, t, (Stage)s, p) == 0);
                if (x.state == XPL_OPEN) {
                    if (x.due != tu32_get(t->tg[s].deadline) || x.warn_at != tu32_get(t->tg[s].warn_at)) {
                        char a[TU_RFC3339_LEN], b[TU_RFC3339_LEN];
                        tu_format_rfc3339(x.due, 480, a);
                        tu_format_rfc3339(tu32_get(t->tg[s].deadline), 480, b);
                        ck_abort_msg("variant %d, iteration %d, stage %s: explained %s, stored %s", v, it,
                                     tkt_stage_name((Stage)s), x.due == TU_NEVER ? "never" : a,
                                     tu32_get(t->tg[s].deadline) == TU_NEVER ? "never" : b);
                    }
                    compared++;
                    rises += x.rise;
                    invalids += x.invalid_applied;
                    capped += x.statutory_applied;
                    /* the plan is the rule's deadline before the adjustments */
                    REQUIRE(x.plan.due >= x.due || x.rise);
                }
                xpl_target_free(&x);
            }
            tkt_free(t);
            alert_list_free(&al);
        }
        pol_free(p);
    }
    /* the random lives reach every adjustment */
    ck_assert_int_gt(compared, 3000);
    ck_assert_int_gt(rises, 20);
    ck_assert_int_gt(invalids, 20);
    ck_assert_int_gt(capped, 5);
}
END_TEST

START_TEST(test_target_of_an_urgent_ticket)
{
    Policy *p = policy(NULL);
    AlertList al = {0};
    ComplaintEvent ev = mk("U-1", CT_RECEIVED, T("2025-11-24T09:00:00+08:00"));
    ev.has = EVF_CHANNEL | EVF_CATEGORY | EVF_REGION;
    snprintf(ev.region, sizeof ev.region, "65");
    Ticket *t = tkt_new(&ev, p, &al);
    ck_assert_ptr_nonnull(t);
    /* bulk at 10:00: first_reply's urgent 24 h from 09:00, never before 10:00 */
    tkt_make_urgent(t, RSN_BULK, T("2025-11-24T10:00:00+08:00"), p, T("2025-11-24T10:00:00+08:00"), &al);
    XplTarget x;
    ck_assert_int_eq(xpl_target(&x, t, STG_FIRST_REPLY, p), 0);
    ck_assert_int_eq(x.variant, VAR_URGENT);
    ck_assert(x.rise);
    ck_assert_int_eq(x.normal_due, T("2025-11-26T09:00:00+08:00"));
    ck_assert_int_eq(x.due, T("2025-11-25T09:00:00+08:00"));
    ck_assert_int_eq(x.due, tu32_get(t->tg[STG_FIRST_REPLY].deadline));
    xpl_target_free(&x);
    /* the contact target runs on Xinjiang's business clock: 10:00-12:00 */
    ck_assert_int_eq(xpl_target(&x, t, STG_CONTACT, p), 0);
    ck_assert_int_eq(x.shift, 2 * H);
    ck_assert_int_eq(x.due, T("2025-11-24T12:00:00+08:00"));
    ck_assert_int_eq(x.state, XPL_OPEN);
    xpl_target_free(&x);
    /* revisit has not started */
    ck_assert_int_eq(xpl_target(&x, t, STG_REVISIT, p), 0);
    ck_assert_int_eq(x.state, XPL_NOT_STARTED);
    xpl_target_free(&x);
    /* resolved 72 h after received: late against the urgent 24 h, well inside the statutory 7 days */
    ev = mk("U-1", CT_RESOLVED, T("2025-11-27T09:00:00+08:00"));
    char d[64];
    ck_assert_int_eq(tkt_apply(t, &ev, p, ev.occurred_at, &al, d, sizeof d), TKT_APPLIED);
    ck_assert_int_eq(xpl_target(&x, t, STG_RESOLVE, p), 0);
    ck_assert_int_eq(x.state, XPL_DONE);
    ck_assert_int_eq(x.done_at, T("2025-11-27T09:00:00+08:00"));
    ck_assert_int_eq(x.due, T("2025-11-25T09:00:00+08:00"));
    ck_assert(x.statutory && !x.statutory_applied);
    xpl_target_free(&x);
    /* revisit runs from resolved on the business clock, shifted */
    ck_assert_int_eq(xpl_target(&x, t, STG_REVISIT, p), 0);
    ck_assert_int_eq(x.start, T("2025-11-27T09:00:00+08:00"));
    ck_assert_int_eq(x.due, tu32_get(t->tg[STG_REVISIT].deadline));
    xpl_target_free(&x);
    tkt_free(t);
    alert_list_free(&al);
    pol_free(p);
}
END_TEST

/* ---- words -------------------------------------------------------------- */

START_TEST(test_words)
{
    ck_assert_str_eq(xpl_region_name("65"), "Xinjiang");
    ck_assert_str_eq(xpl_region_name("XinJiang"), "Xinjiang");
    ck_assert_str_eq(xpl_region_name("54"), "Tibet");
    ck_assert_str_eq(xpl_region_name("xizang"), "Tibet");
    ck_assert_str_eq(xpl_region_name("44"), "Guangdong");
    ck_assert_ptr_null(xpl_region_name("99"));
    ck_assert_ptr_null(xpl_region_name(""));
    ck_assert_ptr_null(xpl_region_name(NULL));

    char buf[128];
    ck_assert_int_eq(xpl_shift_windows("08:00-12:00,14:00-20:00", 2 * H, buf, sizeof buf), 23);
    ck_assert_str_eq(buf, "10:00-14:00,16:00-22:00");
    xpl_shift_windows("14:00-24:00", 2 * H, buf, sizeof buf);
    ck_assert_str_eq(buf, "16:00-02:00+1d");
    xpl_shift_windows(" 08:00-12:00 , 13:30-24:00", 0, buf, sizeof buf);
    ck_assert_str_eq(buf, "08:00-12:00,13:30-24:00");
    xpl_shift_windows("08:00-12:00", 90 * 60 + 5, buf, sizeof buf);
    ck_assert_str_eq(buf, "09:30:05-13:30:05");
    ck_assert_int_eq(xpl_shift_windows("8-12", 0, buf, sizeof buf), -1);
    /* snprintf-style when the buffer is short */
    char small[8];
    ck_assert_int_eq(xpl_shift_windows("08:00-12:00", 0, small, sizeof small), 11);
    ck_assert_str_eq(small, "08:00-1");

    xpl_format_duration(2 * H, buf, sizeof buf);
    ck_assert_str_eq(buf, "2h");
    xpl_format_duration(5400, buf, sizeof buf);
    ck_assert_str_eq(buf, "1h30m");
    xpl_format_duration(45, buf, sizeof buf);
    ck_assert_str_eq(buf, "45s");
    xpl_format_duration(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0s");
    xpl_format_duration(-1800, buf, sizeof buf);
    ck_assert_str_eq(buf, "-30m");
    xpl_format_duration(122 * H, buf, sizeof buf);
    ck_assert_str_eq(buf, "122h");

    int64_t ref = T("2025-11-28T22:30:00+08:00");
    xpl_format_when(T("2025-11-29T12:00:00+08:00"), ref, 480, buf, sizeof buf);
    ck_assert_str_eq(buf, "Sat 12:00");
    xpl_format_when(T("2025-12-05T12:00:30+08:00"), ref, 480, buf, sizeof buf);
    ck_assert_str_eq(buf, "Fri 12-05 12:00:30");
    xpl_format_when(T("2025-11-28T14:30:00Z"), ref, 0, buf, sizeof buf);
    ck_assert_str_eq(buf, "Fri 14:30");
    xpl_format_when(TU_NEVER, ref, 480, buf, sizeof buf);
    ck_assert_str_eq(buf, "never");
}
END_TEST

Suite *suite_explain(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("explain");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_friday_night_in_xinjiang);
    tcase_add_test(tc, test_windows_lunch_and_night);
    tcase_add_test(tc, test_days_off);
    tcase_add_test(tc, test_calendar_clock_and_pauses);
    tcase_add_test(tc, test_no_working_time);
    tcase_add_test(tc, test_long_plan);
    tcase_add_test(tc, test_random_plans_add_up);
    tcase_add_test(tc, test_targets_agree_with_tkt);
    tcase_add_test(tc, test_target_of_an_urgent_ticket);
    tcase_add_test(tc, test_words);
    suite_add_tcase(s, tc);
    return s;
}
