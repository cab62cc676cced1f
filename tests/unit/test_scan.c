/* Tests for scan: the order of scans, the responsibility table of contract
 * §8 row by row, and the parcel set (latest scan, stall timers, interning,
 * memory) — the last also against a plain model with 200,000 parcels. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "testutil.h"

/* 2026-11-23T09:15:00+08:00 */
#define T0 1795396500
#define HOUR 3600
#define STALL (168 * HOUR)

static ScanEvent mk(const char *wb, ScanType t, const char *site, SiteRole role, const char *next, SiteRole next_role,
                    int64_t at)
{
    ScanEvent e;
    memset(&e, 0, sizeof e);
    snprintf(e.event_id, sizeof e.event_id, "e-%s-%lld", wb, (long long)at);
    snprintf(e.waybill, sizeof e.waybill, "%s", wb);
    e.scan_type = t;
    snprintf(e.site, sizeof e.site, "%s", site);
    e.site_role = role;
    snprintf(e.next_site, sizeof e.next_site, "%s", next ? next : "");
    e.next_site_role = next_role;
    e.occurred_at = at;
    return e;
}

static PsResult apply(ParcelSet *s, const ScanEvent *e, bool *was_stalled, int64_t *prev_at)
{
    PsResult res;
    bool ws;
    int64_t pa;
    REQUIRE(ps_apply(s, e, STALL, &res, was_stalled ? was_stalled : &ws, prev_at ? prev_at : &pa) == 0);
    return res;
}

/* ---- names and order ---------------------------------------------------- */

static const char *const rule_want[RULE__COUNT] = {
    "no_scan",
    "pickup_no_depart",
    "origin_depart_no_arrive",
    "hub_depart_no_arrive",
    "hub_arrive_no_depart",
    "delivery_arrive_no_deliver_scan",
    "deliver_not_signed",
    "problem_at_site",
    "signed",
};

START_TEST(test_rule_names)
{
    for (int r = 0; r < RULE__COUNT; r++)
        ck_assert_str_eq(scan_rule_name((RespRule)r), rule_want[r]);
    ck_assert_ptr_null(scan_rule_name(RULE__COUNT));
    ck_assert_ptr_null(scan_rule_name((RespRule)-1));
}
END_TEST

#define O ROLE_ORIGIN
#define H ROLE_HUB
#define D ROLE_DELIVERY

static const struct LaterCase {
    ScanType at;
    SiteRole ar;
    int64_t aat;
    ScanType bt;
    SiteRole br;
    int64_t bat;
    bool later;
} later_cases[] = {
    /* occurred_at decides first, whatever the rows */
    {SCAN_PICKUP, O, T0 + 1, SCAN_SIGNED, D, T0, true},
    {SCAN_SIGNED, D, T0, SCAN_PICKUP, O, T0 + 1, false},
    {SCAN_DEPART, H, T0 + 1, SCAN_ARRIVE, H, T0, true},
    {SCAN_ARRIVE, H, T0 - 1, SCAN_DEPART, H, T0, false},
    /* equal times: the later row of the table wins */
    {SCAN_DEPART, O, T0, SCAN_PICKUP, O, T0, true},
    {SCAN_PICKUP, O, T0, SCAN_DEPART, O, T0, false},
    {SCAN_DEPART, H, T0, SCAN_DEPART, O, T0, true},
    {SCAN_DEPART, O, T0, SCAN_DEPART, H, T0, false},
    {SCAN_DEPART, D, T0, SCAN_DEPART, O, T0, true},
    {SCAN_DEPART, D, T0, SCAN_DEPART, H, T0, false}, /* same rank */
    {SCAN_ARRIVE, H, T0, SCAN_DEPART, H, T0, true},  /* depart and arrive in one second: arrive wins */
    {SCAN_DEPART, H, T0, SCAN_ARRIVE, H, T0, false},
    {SCAN_ARRIVE, O, T0, SCAN_DEPART, H, T0, true},
    {SCAN_ARRIVE, O, T0, SCAN_ARRIVE, H, T0, false}, /* same rank */
    {SCAN_ARRIVE, D, T0, SCAN_ARRIVE, H, T0, true},
    {SCAN_ARRIVE, H, T0, SCAN_ARRIVE, D, T0, false},
    {SCAN_DELIVER, D, T0, SCAN_ARRIVE, D, T0, true},
    {SCAN_ARRIVE, D, T0, SCAN_DELIVER, D, T0, false},
    {SCAN_PROBLEM, D, T0, SCAN_DELIVER, D, T0, true},
    {SCAN_RETURN, D, T0, SCAN_DELIVER, D, T0, true},
    {SCAN_PROBLEM, H, T0, SCAN_RETURN, H, T0, false}, /* one row */
    {SCAN_RETURN, H, T0, SCAN_PROBLEM, H, T0, false},
    {SCAN_SIGNED, D, T0, SCAN_PROBLEM, D, T0, true}, /* signed ties win */
    {SCAN_SIGNED, D, T0, SCAN_RETURN, D, T0, true},
    {SCAN_SIGNED, D, T0, SCAN_DELIVER, D, T0, true},
    {SCAN_PROBLEM, D, T0, SCAN_SIGNED, D, T0, false},
    {SCAN_DELIVER, D, T0, SCAN_SIGNED, D, T0, false},
    /* fully equal: not later */
    {SCAN_SIGNED, D, T0, SCAN_SIGNED, D, T0, false},
    {SCAN_PICKUP, O, T0, SCAN_PICKUP, O, T0, false},
    {SCAN_ARRIVE, H, T0, SCAN_ARRIVE, H, T0, false},
};

START_TEST(test_scan_later)
{
    const struct LaterCase *c = &later_cases[_i];
    ck_assert_msg(scan_later(c->at, c->ar, c->aat, c->bt, c->br, c->bat) == c->later, "case %d", _i);
}
END_TEST

/* ---- the responsibility table ------------------------------------------- */

/* One row per line of §8 (and the role variants of the rows that have
 * them). type -1: no scan at all. */
static const struct {
    int type;
    const char *site;
    SiteRole role;
    const char *next;
    SiteRole next_role;
    const char *complaint_site;
    const char *want_site; /* "" = null */
    int want_role;         /* -1 = null */
    RespRule rule;
} resp_rows[] = {
    {-1, NULL, ROLE_NONE, NULL, ROLE_NONE, "S9", "S9", O, RULE_NO_SCAN},
    {-1, NULL, ROLE_NONE, NULL, ROLE_NONE, NULL, "", O, RULE_NO_SCAN},
    {-1, NULL, ROLE_NONE, NULL, ROLE_NONE, "", "", O, RULE_NO_SCAN},
    {SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, "X", "O1", O, RULE_PICKUP_NO_DEPART},
    {SCAN_DEPART, "O1", O, "H1", H, "X", "O1", O, RULE_ORIGIN_DEPART_NO_ARRIVE},
    {SCAN_DEPART, "H1", H, "H2", H, "X", "H2", H, RULE_HUB_DEPART_NO_ARRIVE},          /* hub to hub */
    {SCAN_DEPART, "H1", H, "D1", D, "X", "D1", D, RULE_HUB_DEPART_NO_ARRIVE},          /* hub to delivery */
    {SCAN_DEPART, "H1", H, "N1", ROLE_NONE, "X", "N1", -1, RULE_HUB_DEPART_NO_ARRIVE}, /* role not given */
    {SCAN_DEPART, "D1", D, "H1", H, "X", "H1", H, RULE_HUB_DEPART_NO_ARRIVE},          /* station sends back */
    {SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, "X", "H1", H, RULE_HUB_ARRIVE_NO_DEPART},
    {SCAN_ARRIVE, "O1", O, NULL, ROLE_NONE, "X", "O1", O, RULE_HUB_ARRIVE_NO_DEPART},
    {SCAN_ARRIVE, "D1", D, NULL, ROLE_NONE, "X", "D1", D, RULE_DELIVERY_ARRIVE_NO_DELIVER_SCAN},
    {SCAN_DELIVER, "D1", D, NULL, ROLE_NONE, "X", "D1", D, RULE_DELIVER_NOT_SIGNED},
    {SCAN_PROBLEM, "H1", H, NULL, ROLE_NONE, "X", "H1", H, RULE_PROBLEM_AT_SITE},
    {SCAN_RETURN, "D1", D, NULL, ROLE_NONE, "X", "D1", D, RULE_PROBLEM_AT_SITE},
    {SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, "X", "D1", D, RULE_SIGNED},
};

static void check_resp(const Responsible *r, int row)
{
    ck_assert(r->known);
    ck_assert_msg(strcmp(r->site, resp_rows[row].want_site) == 0, "row %d: site %s", row, r->site);
    ck_assert_msg(r->role == resp_rows[row].want_role, "row %d: role %d", row, r->role);
    ck_assert_str_eq(r->rule, rule_want[resp_rows[row].rule]);
}

/* Straight from a LatestScan. */
START_TEST(test_responsible_direct)
{
    Responsible r;
    memset(&r, 0x55, sizeof r);
    if (resp_rows[_i].type < 0) {
        scan_responsible(NULL, resp_rows[_i].complaint_site, &r);
    } else {
        LatestScan l = {.type = (ScanType)resp_rows[_i].type,
                        .role = resp_rows[_i].role,
                        .next_role = resp_rows[_i].next_role,
                        .at = T0,
                        .site = resp_rows[_i].site,
                        .next_site = resp_rows[_i].next};
        scan_responsible(&l, resp_rows[_i].complaint_site, &r);
    }
    check_resp(&r, _i);
}
END_TEST

/* The same rows through a ParcelSet: what the daemon does. */
START_TEST(test_responsible_via_set)
{
    ParcelSet *s = ps_new();
    LatestScan l;
    Responsible r;
    if (resp_rows[_i].type < 0) {
        ck_assert(!ps_latest(s, "WB-none", &l));
        scan_responsible(NULL, resp_rows[_i].complaint_site, &r);
    } else {
        /* A pickup first, so the row's scan has something to be later than. */
        ScanEvent e = mk("WB-1", SCAN_PICKUP, "O0", O, NULL, ROLE_NONE, T0 - HOUR);
        ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
        e = mk("WB-1", (ScanType)resp_rows[_i].type, resp_rows[_i].site, resp_rows[_i].role, resp_rows[_i].next,
               resp_rows[_i].next_role, T0);
        ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
        ck_assert(ps_latest(s, "WB-1", &l));
        ck_assert_int_eq(l.at, T0);
        scan_responsible(&l, resp_rows[_i].complaint_site, &r);
    }
    check_resp(&r, _i);
    ps_free(s);
}
END_TEST

/* ---- the parcel set ----------------------------------------------------- */

START_TEST(test_ties_through_set)
{
    ParcelSet *s = ps_new();
    LatestScan l;
    /* Depart and arrive at the same second, in either arrival order: the
     * arrive is the latest. */
    ScanEvent dep = mk("A", SCAN_DEPART, "H1", H, "H2", H, T0);
    ScanEvent arr = mk("A", SCAN_ARRIVE, "H2", H, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &arr, NULL, NULL), PS_LATEST);
    ck_assert_int_eq(apply(s, &dep, NULL, NULL), PS_OLDER);
    ck_assert(ps_latest(s, "A", &l));
    ck_assert_int_eq(l.type, SCAN_ARRIVE);

    dep = mk("B", SCAN_DEPART, "H1", H, "H2", H, T0);
    arr = mk("B", SCAN_ARRIVE, "H2", H, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &dep, NULL, NULL), PS_LATEST);
    ck_assert_int_eq(apply(s, &arr, NULL, NULL), PS_LATEST);
    ck_assert(ps_latest(s, "B", &l));
    ck_assert_int_eq(l.type, SCAN_ARRIVE);
    ck_assert_str_eq(l.site, "H2");

    /* Signed wins ties too, and then nothing is pending. */
    ScanEvent sig = mk("C", SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0);
    ScanEvent prob = mk("C", SCAN_PROBLEM, "D1", D, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &sig, NULL, NULL), PS_LATEST);
    ck_assert_int_eq(apply(s, &prob, NULL, NULL), PS_OLDER);
    ck_assert(ps_latest(s, "C", &l));
    ck_assert_int_eq(l.type, SCAN_SIGNED);

    /* The very same scan twice (a redelivery): not later. */
    ck_assert_int_eq(apply(s, &sig, NULL, NULL), PS_OLDER);
    ck_assert_uint_eq(ps_count(s), 3);
    ps_free(s);
}
END_TEST

START_TEST(test_out_of_order)
{
    ParcelSet *s = ps_new();
    bool ws;
    int64_t prev;
    ScanEvent arr = mk("A", SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, T0 + 100);
    ck_assert_int_eq(apply(s, &arr, &ws, &prev), PS_LATEST);
    ck_assert(!ws);
    ck_assert_int_eq(prev, PS_NO_PREV);
    /* The pickup and the depart arrive after the arrive they led to. */
    ScanEvent pick = mk("A", SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0);
    ScanEvent dep = mk("A", SCAN_DEPART, "O1", O, "H1", H, T0 + 50);
    ck_assert_int_eq(apply(s, &pick, &ws, &prev), PS_OLDER);
    ck_assert_int_eq(apply(s, &dep, &ws, &prev), PS_OLDER);
    LatestScan l;
    ck_assert(ps_latest(s, "A", &l));
    ck_assert_int_eq(l.type, SCAN_ARRIVE);
    ck_assert_int_eq(l.at, T0 + 100);
    ck_assert_str_eq(l.site, "H1");
    ck_assert_ptr_null(l.next_site);
    int64_t due;
    Parcel *p = ps_next_due(s, &due);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(due, T0 + 100 + STALL);
    ck_assert_str_eq(ps_waybill(s, p), "A");

    /* A later one moves the latest and the deadline. */
    ScanEvent dep2 = mk("A", SCAN_DEPART, "H1", H, "D1", D, T0 + 200);
    ck_assert_int_eq(apply(s, &dep2, &ws, &prev), PS_LATEST);
    ck_assert(!ws);
    ck_assert_int_eq(prev, T0 + 100);
    ck_assert_ptr_eq(ps_next_due(s, &due), p);
    ck_assert_int_eq(due, T0 + 200 + STALL);
    ps_free(s);
}
END_TEST

START_TEST(test_legs)
{
    /* A parcel through two hubs to a delivery site: who answers for it at
     * every step. */
    static const struct {
        ScanType t;
        const char *site;
        SiteRole role;
        const char *next;
        SiteRole next_role;
        const char *who;
        int who_role;
        RespRule rule;
    } legs[] = {
        {SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, "O1", O, RULE_PICKUP_NO_DEPART},
        {SCAN_DEPART, "O1", O, "H1", H, "O1", O, RULE_ORIGIN_DEPART_NO_ARRIVE},
        {SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, "H1", H, RULE_HUB_ARRIVE_NO_DEPART},
        {SCAN_DEPART, "H1", H, "H2", H, "H2", H, RULE_HUB_DEPART_NO_ARRIVE},
        {SCAN_ARRIVE, "H2", H, NULL, ROLE_NONE, "H2", H, RULE_HUB_ARRIVE_NO_DEPART},
        {SCAN_DEPART, "H2", H, "D1", D, "D1", D, RULE_HUB_DEPART_NO_ARRIVE},
        {SCAN_ARRIVE, "D1", D, NULL, ROLE_NONE, "D1", D, RULE_DELIVERY_ARRIVE_NO_DELIVER_SCAN},
        {SCAN_DELIVER, "D1", D, NULL, ROLE_NONE, "D1", D, RULE_DELIVER_NOT_SIGNED},
        {SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, "D1", D, RULE_SIGNED},
    };
    ParcelSet *s = ps_new();
    int64_t due;
    for (size_t i = 0; i < sizeof legs / sizeof legs[0]; i++) {
        ScanEvent e = mk("SF1234567890", legs[i].t, legs[i].site, legs[i].role, legs[i].next, legs[i].next_role,
                         T0 + (int64_t)i * HOUR);
        ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
        LatestScan l;
        ck_assert(ps_latest(s, "SF1234567890", &l));
        Responsible r;
        scan_responsible(&l, "X", &r);
        ck_assert_msg(strcmp(r.site, legs[i].who) == 0, "leg %zu: %s", i, r.site);
        ck_assert_int_eq(r.role, legs[i].who_role);
        ck_assert_str_eq(r.rule, rule_want[legs[i].rule]);
        if (legs[i].t == SCAN_SIGNED) {
            ck_assert_ptr_null(ps_next_due(s, &due));
        } else {
            ck_assert_ptr_nonnull(ps_next_due(s, &due));
            ck_assert_int_eq(due, T0 + (int64_t)i * HOUR + STALL);
        }
    }
    ps_free(s);
}
END_TEST

START_TEST(test_next_site_role_missing)
{
    ParcelSet *s = ps_new();
    ScanEvent e = mk("A", SCAN_DEPART, "H1", H, "N7", ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    LatestScan l;
    ck_assert(ps_latest(s, "A", &l));
    ck_assert_int_eq(l.next_role, ROLE_NONE);
    ck_assert_str_eq(l.next_site, "N7");
    Responsible r;
    scan_responsible(&l, NULL, &r);
    ck_assert_str_eq(r.site, "N7");
    ck_assert_int_eq(r.role, -1);
    ck_assert_str_eq(r.rule, "hub_depart_no_arrive");

    /* No next_site at all (the decoder requires one for depart; be safe):
     * the site is null. */
    e = mk("B", SCAN_DEPART, "H1", H, NULL, ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    ck_assert(ps_latest(s, "B", &l));
    ck_assert_ptr_null(l.next_site);
    scan_responsible(&l, "X", &r);
    ck_assert_str_eq(r.site, "");
    ck_assert_int_eq(r.role, -1);
    ps_free(s);
}
END_TEST

START_TEST(test_stall_then_move)
{
    ParcelSet *s = ps_new();
    ScanEvent e = mk("A", SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    e = mk("B", SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, T0 + HOUR);
    apply(s, &e, NULL, NULL);

    int64_t due;
    Parcel *p = ps_next_due(s, &due);
    ck_assert_str_eq(ps_waybill(s, p), "A");
    ck_assert_int_eq(due, T0 + STALL);
    ck_assert(!ps_stalled(p));
    ps_mark_stalled(s, p);
    ck_assert(ps_stalled(p));
    LatestScan l;
    ps_parcel_latest(s, p, &l);
    ck_assert_int_eq(l.at, T0);
    ck_assert_str_eq(l.site, "H1");
    /* B is next; A has no deadline while it is stalled. */
    Parcel *q = ps_next_due(s, &due);
    ck_assert_str_eq(ps_waybill(s, q), "B");
    ck_assert_int_eq(due, T0 + HOUR + STALL);
    ps_mark_stalled(s, q);
    ck_assert_ptr_null(ps_next_due(s, &due));

    /* An older scan of A changes nothing: still stalled. */
    bool ws = true;
    int64_t prev = 0;
    e = mk("A", SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0 - HOUR);
    ck_assert_int_eq(apply(s, &e, &ws, &prev), PS_OLDER);
    ck_assert(!ws);
    ck_assert(ps_stalled(p));

    /* A later row of the same second as the stalled scan (a tie arriving
     * late) becomes the latest scan but does not end the stall: its id
     * would fire again. */
    ScanEvent tie = mk("C", SCAN_DEPART, "H1", H, "H2", H, T0);
    apply(s, &tie, NULL, NULL);
    Parcel *c = ps_next_due(s, &due);
    ck_assert_str_eq(ps_waybill(s, c), "C");
    ps_mark_stalled(s, c);
    tie = mk("C", SCAN_ARRIVE, "H2", H, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &tie, &ws, &prev), PS_LATEST);
    ck_assert(!ws);
    ck_assert(ps_stalled(c));
    ck_assert_ptr_null(ps_next_due(s, &due));
    ps_parcel_latest(s, c, &l);
    ck_assert_int_eq(l.type, SCAN_ARRIVE);
    /* a signature of the same second does end it */
    tie = mk("C", SCAN_SIGNED, "H2", H, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &tie, &ws, &prev), PS_LATEST);
    ck_assert(ws);
    ck_assert_int_eq(prev, T0);
    ck_assert(!ps_stalled(c));

    /* Eight days later A moves again: the stall alert of the old scan is to
     * be resolved (its id used T0), the deadline is armed anew. */
    e = mk("A", SCAN_DEPART, "H1", H, "D1", D, T0 + 8 * 24 * HOUR);
    ck_assert_int_eq(apply(s, &e, &ws, &prev), PS_LATEST);
    ck_assert(ws);
    ck_assert_int_eq(prev, T0);
    ck_assert(!ps_stalled(p));
    ck_assert_ptr_eq(ps_next_due(s, &due), p);
    ck_assert_int_eq(due, T0 + 8 * 24 * HOUR + STALL);

    /* The next move of A reports no stall. */
    e = mk("A", SCAN_ARRIVE, "D1", D, NULL, ROLE_NONE, T0 + 9 * 24 * HOUR);
    ck_assert_int_eq(apply(s, &e, &ws, &prev), PS_LATEST);
    ck_assert(!ws);
    ck_assert_int_eq(prev, T0 + 8 * 24 * HOUR);

    /* B is signed while stalled: resolved, and no deadline after it. */
    e = mk("B", SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0 + 10 * 24 * HOUR);
    ck_assert_int_eq(apply(s, &e, &ws, &prev), PS_LATEST);
    ck_assert(ws);
    ck_assert_int_eq(prev, T0 + HOUR);
    ck_assert(!ps_stalled(q));
    ck_assert_ptr_eq(ps_next_due(s, &due), p);
    ps_mark_stalled(s, p);
    ck_assert_ptr_null(ps_next_due(s, &due));
    ps_free(s);
}
END_TEST

START_TEST(test_signed_no_deadline)
{
    ParcelSet *s = ps_new();
    int64_t due;
    ScanEvent e = mk("A", SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
    ck_assert_ptr_null(ps_next_due(s, &due));

    e = mk("B", SCAN_DELIVER, "D1", D, NULL, ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    ck_assert_ptr_nonnull(ps_next_due(s, &due));
    e = mk("B", SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0 + HOUR);
    apply(s, &e, NULL, NULL);
    ck_assert_ptr_null(ps_next_due(s, &due));

    /* After signed, a return scan (the customer sent it back) is a parcel in
     * flight again. */
    e = mk("B", SCAN_RETURN, "D1", D, NULL, ROLE_NONE, T0 + 2 * HOUR);
    ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
    ck_assert_ptr_nonnull(ps_next_due(s, &due));
    ck_assert_int_eq(due, T0 + 2 * HOUR + STALL);
    ps_free(s);
}
END_TEST

START_TEST(test_restore)
{
    ParcelSet *s = ps_new();
    int64_t due;
    ScanEvent e = mk("A", SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(ps_restore(s, &e, 0, true, STALL), 0);
    ck_assert_ptr_null(ps_next_due(s, &due)); /* its alert already fired */
    e = mk("B", SCAN_ARRIVE, "H1", H, NULL, ROLE_NONE, T0 + 5);
    ck_assert_int_eq(ps_restore(s, &e, 0, false, STALL), 0);
    e = mk("C", SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(ps_restore(s, &e, 0, true, STALL), 0);
    ck_assert_uint_eq(ps_count(s), 3);

    Parcel *p = ps_next_due(s, &due);
    ck_assert_str_eq(ps_waybill(s, p), "B");
    ck_assert_int_eq(due, T0 + 5 + STALL);
    ck_assert(!ps_stalled(p));
    ps_mark_stalled(s, p);
    ck_assert_ptr_null(ps_next_due(s, &due)); /* C: signed, never stalled */

    /* The stalled A moves: resolve with the restored time. */
    bool ws;
    int64_t prev;
    e = mk("A", SCAN_DEPART, "H1", H, "H2", H, T0 + 9 * 24 * HOUR);
    ck_assert_int_eq(apply(s, &e, &ws, &prev), PS_LATEST);
    ck_assert(ws);
    ck_assert_int_eq(prev, T0);

    /* Restoring a waybill the set holds replaces its state. */
    e = mk("A", SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0 - HOUR);
    ck_assert_int_eq(ps_restore(s, &e, 0, false, STALL), 0);
    LatestScan l;
    ck_assert(ps_latest(s, "A", &l));
    ck_assert_int_eq(l.type, SCAN_PICKUP);
    ck_assert_str_eq(ps_waybill(s, ps_next_due(s, &due)), "A");
    ck_assert_int_eq(due, T0 - HOUR + STALL);
    ck_assert_uint_eq(ps_count(s), 3);
    ps_free(s);
}
END_TEST

START_TEST(test_interning)
{
    ParcelSet *s = ps_new();
    ScanEvent e = mk("A", SCAN_DEPART, "HUB-SZ", H, "HUB-GZ", H, T0);
    apply(s, &e, NULL, NULL);
    e = mk("B", SCAN_DEPART, "HUB-GZ", H, "HUB-SZ", H, T0);
    apply(s, &e, NULL, NULL);
    e = mk("C", SCAN_ARRIVE, "HUB-BJ", H, NULL, ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    LatestScan a, b, c;
    ck_assert(ps_latest(s, "A", &a));
    ck_assert(ps_latest(s, "B", &b));
    ck_assert(ps_latest(s, "C", &c));
    /* One copy per code, wherever it appears. */
    ck_assert_ptr_eq(a.site, b.next_site);
    ck_assert_ptr_eq(a.next_site, b.site);
    ck_assert_ptr_ne(a.site, c.site);
    ck_assert_str_eq(a.site, "HUB-SZ");
    ck_assert_str_eq(c.site, "HUB-BJ");

    /* Many parcels over a few sites: the site table does not grow with them,
     * and a site string stays where it was while the table grows. */
    const char *sz = a.site;
    size_t before = ps_memory(s);
    char wb[32], site[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(wb, sizeof wb, "P%06d", i);
        snprintf(site, sizeof site, "S%d", i % 300);
        e = mk(wb, SCAN_ARRIVE, site, H, NULL, ROLE_NONE, T0 + i);
        apply(s, &e, NULL, NULL);
    }
    ck_assert_ptr_eq(ps_latest(s, "A", &a) ? a.site : NULL, sz);
    ck_assert(ps_latest(s, "P002999", &c));
    ck_assert_str_eq(c.site, "S299");
    ck_assert(ps_latest(s, "P000299", &b));
    ck_assert_ptr_eq(b.site, c.site);
    ck_assert_uint_gt(ps_memory(s), before);
    ps_free(s);
}
END_TEST

START_TEST(test_long_waybill_and_unknown)
{
    ParcelSet *s = ps_new();
    char wb[EVT_WAYBILL_MAX + 1];
    memset(wb, 'W', EVT_WAYBILL_MAX);
    wb[EVT_WAYBILL_MAX] = '\0';
    ScanEvent e = mk(wb, SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0);
    apply(s, &e, NULL, NULL);
    LatestScan l;
    ck_assert(ps_latest(s, wb, &l));
    int64_t due;
    ck_assert_str_eq(ps_waybill(s, ps_next_due(s, &due)), wb);
    ck_assert(!ps_latest(s, "nope", &l));
    wb[10] = '\0';
    ck_assert(!ps_latest(s, wb, &l)); /* a prefix is another waybill */
    ps_free(s);
    ps_free(NULL);

    s = ps_new();
    ck_assert_uint_eq(ps_count(s), 0);
    ck_assert_ptr_null(ps_next_due(s, &due));
    ck_assert(!ps_latest(s, "A", &l));
    ck_assert_uint_eq(ps_prune_signed(s, T0), 0);
    ps_free(s);
}
END_TEST

START_TEST(test_prune_signed)
{
    ParcelSet *s = ps_new();
    char wb[32];
    enum { N = 60000 };
    /* Even parcels signed at T0 + i, odd ones in flight. */
    for (int i = 0; i < N; i++) {
        snprintf(wb, sizeof wb, "JD%010d", i);
        ScanEvent e = mk(wb, i % 2 ? SCAN_ARRIVE : SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0 + i);
        apply(s, &e, NULL, NULL);
    }
    size_t mem = ps_memory(s);
    ck_assert_uint_eq(ps_prune_signed(s, T0 + N / 2), N / 4);
    ck_assert_uint_eq(ps_count(s), N - N / 4);
    LatestScan l;
    for (int i = 0; i < N; i++) {
        snprintf(wb, sizeof wb, "JD%010d", i);
        bool gone = i % 2 == 0 && i < N / 2;
        REQUIRE(ps_latest(s, wb, &l) == !gone);
        if (!gone)
            REQUIRE(l.at == T0 + i);
    }
    /* The timers are untouched: every odd parcel in order. */
    int64_t due, last = 0;
    int n = 0;
    Parcel *p;
    while ((p = ps_next_due(s, &due)) != NULL) {
        REQUIRE(due >= last);
        last = due;
        int i = atoi(ps_waybill(s, p) + 2);
        REQUIRE(i % 2 == 1);
        REQUIRE(due == T0 + i + STALL);
        ps_mark_stalled(s, p);
        n++;
    }
    ck_assert_int_eq(n, N / 2);
    /* Dropped waybills come back as new parcels, in the freed records. */
    for (int i = 0; i < N / 2; i += 2) {
        snprintf(wb, sizeof wb, "JD%010d", i);
        ScanEvent e = mk(wb, SCAN_RETURN, "D1", D, NULL, ROLE_NONE, T0 + N + i);
        bool ws;
        int64_t prev;
        REQUIRE(apply(s, &e, &ws, &prev) == PS_LATEST);
        REQUIRE(prev == PS_NO_PREV);
    }
    ck_assert_uint_eq(ps_count(s), N);
    /* They took the freed records: only their waybills are new (the arena
     * is append-only between compactions). */
    ck_assert_uint_le(ps_memory(s), mem + 4 * 65536);

    /* The even half signed and dropped: now half the arena is garbage and
     * it is compacted, which moves every waybill that stays. */
    for (int i = 0; i < N; i += 2) {
        snprintf(wb, sizeof wb, "JD%010d", i);
        ScanEvent e = mk(wb, SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0 + 3 * N);
        apply(s, &e, NULL, NULL);
    }
    ck_assert_uint_eq(ps_prune_signed(s, T0 + 3 * N), 0); /* not older than `before` */
    size_t before_compact = ps_memory(s);
    ck_assert_uint_eq(ps_prune_signed(s, T0 + 3 * N + 1), N / 2);
    ck_assert_uint_lt(ps_memory(s), before_compact);
    for (int i = 0; i < N; i++) {
        snprintf(wb, sizeof wb, "JD%010d", i);
        REQUIRE(ps_latest(s, wb, &l) == (i % 2 == 1));
    }
    /* A new parcel after the compaction. */
    ScanEvent e = mk("JD-new", SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_LATEST);
    ck_assert_str_eq(ps_waybill(s, ps_next_due(s, &due)), "JD-new");
    ck_assert(ps_latest(s, "JD0000000001", &l));

    /* Then everything: the odd half and the even half again (new parcels
     * now, as the scans of dropped waybills are). */
    for (int i = -1; i < N; i++) {
        if (i >= 0)
            snprintf(wb, sizeof wb, "JD%010d", i);
        e = mk(i < 0 ? "JD-new" : wb, SCAN_SIGNED, "D1", D, NULL, ROLE_NONE, T0 + 4 * N);
        apply(s, &e, NULL, NULL);
    }
    ck_assert_uint_eq(ps_prune_signed(s, T0 + 4 * N + 1), N + 1);
    ck_assert_uint_eq(ps_count(s), 0);
    ck_assert(!ps_latest(s, "JD0000000001", &l));
    ck_assert_uint_lt(ps_memory(s), mem);
    ps_free(s);
}
END_TEST

/* ---- against a model ---------------------------------------------------- */

#define MODEL_N 200000
#define MODEL_SITES 200

typedef struct MParcel {
    bool present, stalled;
    ScanType type;
    SiteRole role, next_role;
    int64_t at;
    int site, next; /* next: -1 = none */
} MParcel;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Rows of §8 written out again, independently of scan.c. */
static int model_rank(ScanType t, SiteRole r)
{
    static const int depart[] = {1, 2, 2}, arrive[] = {3, 3, 4};
    switch (t) {
    case SCAN_PICKUP: return 0;
    case SCAN_DEPART: return depart[r];
    case SCAN_ARRIVE: return arrive[r];
    case SCAN_DELIVER: return 5;
    case SCAN_PROBLEM: return 6;
    case SCAN_RETURN: return 6;
    case SCAN_SIGNED: return 7;
    default: return -1;
    }
}

static bool model_armed(const MParcel *m)
{
    return m->present && !m->stalled && m->type != SCAN_SIGNED;
}

static void pop_due(ParcelSet *s, MParcel *model, int64_t now, size_t *popped)
{
    int64_t due, last = INT64_MIN;
    Parcel *p;
    while ((p = ps_next_due(s, &due)) != NULL && due <= now) {
        REQUIRE((due) >= (last));
        last = due;
        int k = atoi(ps_waybill(s, p) + 2);
        REQUIRE(k >= 0 && k < MODEL_N);
        MParcel *m = &model[k];
        REQUIRE(model_armed(m));
        REQUIRE((due) == (m->at + STALL));
        REQUIRE(!ps_stalled(p));
        ps_mark_stalled(s, p);
        m->stalled = true;
        (*popped)++;
    }
}

START_TEST(test_model)
{
    MParcel *model = calloc(MODEL_N, sizeof *model);
    ck_assert_ptr_nonnull(model);
    char sites[MODEL_SITES][16];
    for (int i = 0; i < MODEL_SITES; i++)
        snprintf(sites[i], sizeof sites[i], "S%03d", i);
    ParcelSet *s = ps_new();
    uint32_t seed = 20261123;
    size_t count = 0, popped = 0, latest = 0;
    const int ops = 3 * MODEL_N;
    for (int op = 0; op < ops; op++) {
        int k = (int)(lcg(&seed) % MODEL_N);
        ScanType t = (ScanType)(lcg(&seed) % SCAN__COUNT);
        SiteRole role = (SiteRole)(lcg(&seed) % ROLE__COUNT);
        int site = (int)(lcg(&seed) % MODEL_SITES), next = -1;
        SiteRole next_role = ROLE_NONE;
        if (t == SCAN_DEPART) {
            next = (int)(lcg(&seed) % MODEL_SITES);
            next_role = (SiteRole)((int)(lcg(&seed) % (ROLE__COUNT + 1)) - 1);
        }
        /* Coarse times, so that ties are common; the clock drifts forward. */
        int64_t at = T0 + (int64_t)(op / 1000) * HOUR + (int64_t)(lcg(&seed) % 48) * HOUR;
        char wb[16];
        snprintf(wb, sizeof wb, "WB%010d", k);
        ScanEvent e = mk(wb, t, sites[site], role, next >= 0 ? sites[next] : NULL, next_role, at);

        PsResult res;
        bool ws;
        int64_t prev;
        REQUIRE(ps_apply(s, &e, STALL, &res, &ws, &prev) == 0);

        MParcel *m = &model[k];
        bool later = !m->present || at > m->at || (at == m->at && model_rank(t, role) > model_rank(m->type, m->role));
        if (res != (later ? PS_LATEST : PS_OLDER))
            ck_abort_msg("op %d: result %d, model says later=%d", op, res, later);
        if (!later) {
            REQUIRE(!ws);
            continue;
        }
        latest++;
        REQUIRE(ws == (m->present && m->stalled));
        REQUIRE((prev) == (m->present ? m->at : PS_NO_PREV));
        count += !m->present;
        *m = (MParcel){
            .present = true, .type = t, .role = role, .next_role = next_role, .at = at, .site = site, .next = next};
        if (op % 20000 == 19999)
            pop_due(s, model, T0 + (int64_t)(op / 1000) * HOUR - STALL / 2 + 20 * HOUR, &popped);
    }
    ck_assert_uint_eq(ps_count(s), count);
    ck_assert_uint_gt(popped, 0);
    ck_assert_uint_lt(latest, (size_t)ops);

    /* Every parcel as the model has it. */
    size_t armed = 0;
    for (int k = 0; k < MODEL_N; k++) {
        char wb[16];
        snprintf(wb, sizeof wb, "WB%010d", k);
        LatestScan l;
        const MParcel *m = &model[k];
        REQUIRE(ps_latest(s, wb, &l) == m->present);
        if (!m->present)
            continue;
        armed += model_armed(m);
        REQUIRE((l.type) == (m->type));
        REQUIRE((l.role) == (m->role));
        REQUIRE((l.at) == (m->at));
        REQUIRE(strcmp(l.site, sites[m->site]) == 0);
        if (m->next < 0) {
            REQUIRE((l.next_site) == NULL);
        } else {
            REQUIRE(strcmp(l.next_site, sites[m->next]) == 0);
            REQUIRE((l.next_role) == (m->next_role));
        }
    }
    /* ...and every pending timer. */
    size_t before = popped;
    pop_due(s, model, INT64_MAX, &popped);
    ck_assert_uint_eq(popped - before, armed);

    /* Memory: about 40 bytes of record, 13 of waybill, the index and the
     * heap slots; far from the hundreds a malloc per parcel would cost. */
    double per = (double)ps_memory(s) / (double)ps_count(s);
    ck_assert_msg(per > 53 && per < 100, "%.1f bytes per parcel", per);
    ps_free(s);
    free(model);
}
END_TEST

START_TEST(test_memory_accounting)
{
    ParcelSet *s = ps_new();
    size_t empty = ps_memory(s);
    ck_assert_uint_gt(empty, 0);
    size_t last = empty;
    char wb[16];
    for (int i = 0; i < 50000; i++) {
        snprintf(wb, sizeof wb, "YT%010d", i);
        ScanEvent e = mk(wb, SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0 + i);
        apply(s, &e, NULL, NULL);
        size_t m = ps_memory(s);
        REQUIRE(m >= last); /* nothing is given back while growing */
        last = m;
    }
    /* At least the record's parts and the waybill of every parcel... */
    ck_assert_uint_ge(last - empty, (size_t)50000 * (12 + 8 + 4 + 13));
    /* ...and at most what the doubling of index and heap allows. */
    ck_assert_uint_le(last - empty, (size_t)50000 * 100 + 256 * 1024);
    /* An older scan allocates nothing. */
    ScanEvent e = mk("YT0000000007", SCAN_PICKUP, "O1", O, NULL, ROLE_NONE, T0);
    ck_assert_int_eq(apply(s, &e, NULL, NULL), PS_OLDER);
    ck_assert_uint_eq(ps_memory(s), last);
    ps_free(s);
}
END_TEST

Suite *suite_scan(void)
{
    Suite *s = suite_create("scan");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_rule_names);
    tcase_add_loop_test(tc, test_scan_later, 0, (int)(sizeof later_cases / sizeof later_cases[0]));
    tcase_add_loop_test(tc, test_responsible_direct, 0, (int)(sizeof resp_rows / sizeof resp_rows[0]));
    tcase_add_loop_test(tc, test_responsible_via_set, 0, (int)(sizeof resp_rows / sizeof resp_rows[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("parcels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ties_through_set);
    tcase_add_test(tc, test_out_of_order);
    tcase_add_test(tc, test_legs);
    tcase_add_test(tc, test_next_site_role_missing);
    tcase_add_test(tc, test_stall_then_move);
    tcase_add_test(tc, test_signed_no_deadline);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_interning);
    tcase_add_test(tc, test_long_waybill_and_unknown);
    tcase_add_test(tc, test_prune_signed);
    tcase_add_test(tc, test_model);
    tcase_add_test(tc, test_memory_accounting);
    suite_add_tcase(s, tc);
    return s;
}
