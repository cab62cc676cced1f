/* Unit tests for lib/desk: events and deadlines in, effects out, with no
 * daemon around it. Covers what the daemon adds to the ticket state machine:
 * the event clock firing deadlines before an event, deadlines firing in
 * bounded chunks, holding and releasing events, duplicates, eviction, a
 * policy reload in chunks, and the partition merge feeding the desk.
 *
 * Times are at +08:00; 2026-11-23 is a Monday and the default calendar
 * counts 08:00-12:00 and 14:00-20:00 every day, so a `received` on Monday
 * 09:00 is due for contact at 11:00 (warning at 80 %: 10:36). */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "effects.h"
#include "merge.h"
#include "policy.h"
#include "testutil.h"
#include "timeutil.h"

#define MIN 60
#define H 3600
#define DAY 86400
#define BIG ((size_t)1 << 30)

static Desk *desk;
static Effects eff;
static int64_t clock_;
static int seq;

static int64_t T(const char *s)
{
    int64_t t = 0;
    ck_assert_msg(tu_parse_rfc3339(s, &t) == 0, "bad test time %s", s);
    return t;
}

#define MON0900 T("2026-11-23T09:00:00+08:00")
/* A wall clock after every event of these tests (events from the future are
 * dead-lettered, contract §12.10). */
#define LATER (MON0900 + 400 * DAY)

static void setup(void)
{
    desk = desk_new(pol_new());
    ck_assert_ptr_nonnull(desk);
    eff_init(&eff);
    clock_ = 0;
}

static void teardown(void)
{
    eff_free(&eff);
    desk_free(desk);
    desk = NULL;
}

static ComplaintEvent ev_of(const char *ticket, ComplaintType type, int64_t at)
{
    ComplaintEvent ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.event_id, sizeof ev.event_id, "ev-%d", ++seq);
    snprintf(ev.ticket_id, sizeof ev.ticket_id, "%s", ticket);
    ev.type = type;
    ev.occurred_at = at;
    if (type == CT_RECEIVED) {
        ev.has = EVF_CHANNEL | EVF_CATEGORY;
        ev.channel = CH_HOTLINE;
        ev.category = CAT_DAMAGE;
    }
    return ev;
}

static DeskSource src_of(int64_t offset)
{
    return (DeskSource){.topic = "complaints.events", .partition = 0, .offset = offset, .payload = "{}", .len = 2};
}

/* Offers one event in event mode until it is applied (committing nothing:
 * every chunk stays in eff). */
static void offer(const ComplaintEvent *ev, int64_t wall)
{
    DeskSource src = src_of(seq);
    for (int i = 0; i < 1000; i++) {
        int r = desk_offer(desk, ev, NULL, &src, &clock_, wall, BIG, BIG, &eff);
        ck_assert_int_ge(r, 0);
        if (r == DESK_APPLIED)
            return;
    }
    ck_abort_msg("event never applied");
}

static void offer_new(const char *ticket, ComplaintType type, int64_t at)
{
    ComplaintEvent ev = ev_of(ticket, type, at);
    offer(&ev, at);
}

/* A complaint of `cat` about a parcel, received at `at`, with its own site
 * (NULL: none). */
static void offer_about_at(const char *ticket, Category cat, const char *waybill, const char *site, int64_t at)
{
    ComplaintEvent ev = ev_of(ticket, CT_RECEIVED, at);
    ev.category = cat;
    ev.has |= EVF_WAYBILL;
    snprintf(ev.waybill, sizeof ev.waybill, "%s", waybill);
    if (site) {
        ev.has |= EVF_SITE;
        snprintf(ev.site, sizeof ev.site, "%s", site);
    }
    offer(&ev, at);
}

static void offer_about(const char *ticket, Category cat, const char *waybill, int64_t at)
{
    offer_about_at(ticket, cat, waybill, NULL, at);
}

static void reclassify(const char *ticket, Category cat, int64_t at)
{
    ComplaintEvent up = ev_of(ticket, CT_UPDATED, at);
    up.has = EVF_CATEGORY;
    up.category = cat;
    offer(&up, at);
}

/* Index of an alert transition in eff, -1 when absent. */
static int find(const char *id, AlertStatus st)
{
    for (size_t i = 0; i < eff.alerts.n; i++)
        if (strcmp(eff.alerts.v[i].alert_id, id) == 0 && eff.alerts.v[i].status == st)
            return (int)i;
    return -1;
}

/* Index of an event record in eff, -1 when absent. */
static int find_event(ComplaintType type, const char *ticket)
{
    for (size_t i = 0; i < eff.n_events; i++)
        if (eff.events[i].ev.type == type && strcmp(eff.events[i].ev.ticket_id, ticket) == 0)
            return (int)i;
    return -1;
}

/* ---- the event clock ---------------------------------------------------- */

START_TEST(test_event_clock_fires_deadlines_before_an_event)
{
    offer_new("A", CT_RECEIVED, MON0900);
    ck_assert_int_eq(clock_, MON0900);
    /* contact is due at 11:00; an event at 11:30 first fires the warning
     * and the breach, then is applied: the breach resolves, late by 30 min */
    eff_reset(&eff);
    ComplaintEvent c = ev_of("A", CT_CONTACTED, MON0900 + 2 * H + 30 * MIN);
    DeskSource src = src_of(1);
    int r = desk_offer(desk, &c, NULL, &src, &clock_, LATER, BIG, BIG, &eff);
    ck_assert_int_eq(r, DESK_FIRED);
    ck_assert_int_eq(clock_, MON0900); /* the clock waits for the event */
    ck_assert_int_eq(eff.n_events, 0);
    int w = find("sla_warning/A/1/contact", AS_FIRING), b = find("sla_breach/A/1/contact", AS_FIRING);
    ck_assert_int_ge(w, 0);
    ck_assert_int_gt(b, w);
    /* firing changed the alert states only: the snapshot, not the row */
    ck_assert_uint_eq(eff.n_tickets, 1);
    ck_assert(!eff.ticket_full[0]);
    r = desk_offer(desk, &c, NULL, &src, &clock_, LATER, BIG, BIG, &eff);
    ck_assert_int_eq(r, DESK_APPLIED);
    ck_assert_int_eq(clock_, c.occurred_at);
    ck_assert_uint_eq(eff.n_tickets, 1);
    ck_assert(eff.ticket_full[0]); /* the contact changes the row */
    int res = find("sla_breach/A/1/contact", AS_RESOLVED);
    ck_assert_int_gt(res, b);
    ck_assert(eff.alerts.v[res].has_late_by);
    ck_assert_int_eq(eff.alerts.v[res].late_by_seconds, 30 * MIN);
}
END_TEST

START_TEST(test_event_at_the_deadline_is_met)
{
    offer_new("A", CT_RECEIVED, MON0900);
    /* exactly at the deadline: applied before the deadline fires */
    offer_new("A", CT_CONTACTED, MON0900 + 2 * H);
    ck_assert_int_lt(find("sla_breach/A/1/contact", AS_FIRING), 0);
    ck_assert_int_ge(find("sla_warning/A/1/contact", AS_RESOLVED), 0);
    /* a later event fires nothing for contact any more */
    offer_new("B", CT_RECEIVED, MON0900 + 5 * H);
    ck_assert_int_lt(find("sla_breach/A/1/contact", AS_FIRING), 0);
}
END_TEST

START_TEST(test_late_event_does_not_move_the_clock)
{
    offer_new("A", CT_RECEIVED, MON0900 + 3 * H);
    offer_new("B", CT_RECEIVED, MON0900); /* an older event, arriving late */
    ck_assert_int_eq(clock_, MON0900 + 3 * H);
    ck_assert_int_ge(find_event(CT_RECEIVED, "B"), 0);
}
END_TEST

START_TEST(test_wall_mode_applies_at_once)
{
    DeskSource src = src_of(0);
    ComplaintEvent r = ev_of("A", CT_RECEIVED, MON0900);
    ck_assert_int_eq(desk_offer(desk, &r, NULL, &src, NULL, MON0900, BIG, BIG, &eff), DESK_APPLIED);
    /* no event clock: deadlines due by the wall clock are the caller's to fire */
    ComplaintEvent c = ev_of("A", CT_CONTACTED, MON0900 + 3 * H);
    ck_assert_int_eq(desk_offer(desk, &c, NULL, &src, NULL, MON0900 + 3 * H, BIG, BIG, &eff), DESK_APPLIED);
    /* tkt fires the overdue breach as it applies the late event */
    ck_assert_int_ge(find("sla_breach/A/1/contact", AS_FIRING), 0);
    ck_assert_int_ge(find("sla_breach/A/1/contact", AS_RESOLVED), 0);
}
END_TEST

/* ---- bounded batches ---------------------------------------------------- */

START_TEST(test_offer_full_when_no_room)
{
    offer_new("A", CT_RECEIVED, MON0900);
    size_t used = eff_size(&eff);
    ck_assert_uint_gt(used, 0);
    ComplaintEvent r = ev_of("B", CT_RECEIVED, MON0900 + MIN);
    DeskSource src = src_of(2);
    ck_assert_int_eq(desk_offer(desk, &r, NULL, &src, &clock_, LATER, used + 1, BIG, &eff), DESK_FULL);
    ck_assert_uint_eq(eff_size(&eff), used);
    /* an empty batch always takes one event, however small the bound */
    eff_reset(&eff);
    ck_assert_int_eq(desk_offer(desk, &r, NULL, &src, &clock_, LATER, 1, BIG, &eff), DESK_APPLIED);
}
END_TEST

/* Fires everything due by `upto` in chunks of max_effects, committing
 * (resetting) between chunks, and returns every alert id with its status in
 * order, one string. */
static char *fire_all(int64_t upto, size_t max_effects, size_t *max_seen)
{
    size_t cap = 1 << 20, len = 0;
    char *s = calloc(1, cap);
    ck_assert_ptr_nonnull(s);
    for (int guard = 0; guard < 100000; guard++) {
        int n = desk_fire_due(desk, upto, max_effects, &eff);
        ck_assert_int_ge(n, 0);
        if (eff_size(&eff) > *max_seen)
            *max_seen = eff_size(&eff);
        for (size_t i = 0; i < eff.alerts.n; i++)
            len +=
                (size_t)snprintf(s + len, cap - len, "%s:%d\n", eff.alerts.v[i].alert_id, (int)eff.alerts.v[i].status);
        eff_reset(&eff);
        if (desk_next_due(desk) > upto)
            return s;
        ck_assert_int_gt(n, 0);
    }
    ck_abort_msg("firing never ended");
    return s;
}

static void load_many(int n)
{
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%04d", i);
        offer_new(id, CT_RECEIVED, MON0900 + i);
    }
    eff_reset(&eff);
}

START_TEST(test_fire_due_in_bounded_chunks)
{
    load_many(200);
    size_t seen = 0;
    int64_t far = MON0900 + 40 * DAY;
    char *chunked = fire_all(far, 25, &seen);
    ck_assert_uint_le(seen, 25);
    ck_assert_uint_gt(seen, 0);
    /* contact, first reply and resolve each warned and breached (revisit
     * only starts at resolve) */
    int lines = 0;
    for (const char *p = chunked; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 200 * 3 * 2);

    /* the same desk state fired in one go gives the same alerts in the same order */
    teardown();
    setup();
    seq = 0;
    load_many(200);
    size_t seen2 = 0;
    char *whole = fire_all(far, BIG, &seen2);
    ck_assert_str_eq(chunked, whole);
    free(chunked);
    free(whole);
}
END_TEST

START_TEST(test_fire_due_makes_progress_with_a_tiny_bound)
{
    load_many(3);
    size_t seen = 0;
    char *s = fire_all(MON0900 + 40 * DAY, 1, &seen);
    /* one item per chunk: a ticket's whole firing (up to 9 effects) at once */
    ck_assert_uint_le(seen, 9);
    ck_assert_ptr_nonnull(strstr(s, "sla_breach/T0002/1/resolve:0"));
    free(s);
}
END_TEST

/* ---- held events -------------------------------------------------------- */

START_TEST(test_hold_and_release_in_event_time_order)
{
    /* resolved and contacted arrive before their ticket, in reverse order */
    offer_new("H", CT_RESOLVED, MON0900 + 2 * H);
    offer_new("H", CT_CONTACTED, MON0900 + 1 * H);
    ck_assert_uint_eq(eff.n_held, 2);
    ck_assert_uint_eq(eff.n_events, 0);
    DeskStats st;
    desk_stats(desk, &st);
    ck_assert_uint_eq(st.held, 2);
    ck_assert_ptr_null(desk_ticket(desk, "H"));
    eff_reset(&eff);
    /* an older received (a late arrival) releases them */
    offer_new("H", CT_RECEIVED, MON0900);
    ck_assert_uint_eq(eff.n_released, 2);
    int rcv = find_event(CT_RECEIVED, "H"), con = find_event(CT_CONTACTED, "H"), res = find_event(CT_RESOLVED, "H");
    ck_assert_int_ge(rcv, 0);
    ck_assert_int_gt(con, rcv);
    ck_assert_int_gt(res, con);
    ck_assert(eff.events[con].applied);
    ck_assert(eff.events[res].applied);
    const Ticket *t = desk_ticket(desk, "H");
    ck_assert_ptr_nonnull(t);
    ck_assert(t->tg[STG_RESOLVE].done);
    desk_stats(desk, &st);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_int_eq(desk_next_hold_expiry(desk), TU_NEVER);
}
END_TEST

START_TEST(test_held_events_expire_into_dead_letters)
{
    int64_t wall = LATER;
    ComplaintEvent a = ev_of("X", CT_CONTACTED, MON0900), b = ev_of("X", CT_RESOLVED, MON0900 + H);
    offer(&a, wall);
    offer(&b, wall + 10);
    eff_reset(&eff);
    int64_t timeout = desk_policy(desk)->hold_timeout;
    ck_assert_int_eq(desk_next_hold_expiry(desk), wall + timeout);
    /* one second early: nothing */
    ck_assert_int_eq(desk_expire_held(desk, wall + timeout - 1, BIG, &eff), 0);
    /* the first one goes; the second is 10 s younger */
    ck_assert_int_eq(desk_expire_held(desk, wall + timeout, BIG, &eff), 1);
    ck_assert_uint_eq(eff.n_dead, 1);
    ck_assert_str_eq(eff.dead[0].reason, "unknown_ticket");
    ck_assert_ptr_nonnull(strstr(eff.dead[0].detail, "ticket_id"));
    ck_assert_uint_eq(eff.n_released, 1);
    ck_assert_str_eq(eff.released[0].ticket_id, "X");
    ck_assert_str_eq(eff.released[0].event_id, a.event_id);
    ck_assert_int_eq(desk_next_hold_expiry(desk), wall + 10 + timeout);
    ck_assert_int_eq(desk_expire_held(desk, wall + 10 + timeout, BIG, &eff), 1);
    ck_assert_int_eq(desk_next_hold_expiry(desk), TU_NEVER);
    /* a received after that finds nothing held */
    eff_reset(&eff);
    offer_new("X", CT_RECEIVED, MON0900 + 2 * H);
    ck_assert_uint_eq(eff.n_released, 0);
}
END_TEST

/* Event ids are global (contract §2): one event_id on two unknown tickets
 * is held once, for the first. A start may still load two such rows
 * (stored before ids were global): each release names its own ticket's
 * (the held row is keyed by both), and the second is a duplicate. */
START_TEST(test_one_event_id_held_for_two_tickets)
{
    ComplaintEvent a = ev_of("X1", CT_CONTACTED, MON0900), b = ev_of("X2", CT_CONTACTED, MON0900 + H);
    snprintf(b.event_id, sizeof b.event_id, "%s", a.event_id);
    offer(&a, MON0900);
    offer(&b, MON0900 + H);
    ck_assert_uint_eq(eff.n_held, 1);
    ck_assert_uint_eq(eff.n_duplicates, 1);
    DeskSource src = src_of(99);
    ck_assert_int_eq(desk_load_held(desk, &b, &src, MON0900 + H), 0);
    eff_reset(&eff);
    offer_new("X2", CT_RECEIVED, MON0900);
    ck_assert_uint_eq(eff.n_released, 1);
    ck_assert_str_eq(eff.released[0].ticket_id, "X2");
    ck_assert_str_eq(eff.released[0].event_id, a.event_id);
    ck_assert_int_eq(tu32_get(desk_ticket(desk, "X2")->tg[STG_CONTACT].done_at), MON0900 + H);
    eff_reset(&eff);
    offer_new("X1", CT_RECEIVED, MON0900);
    ck_assert_uint_eq(eff.n_released, 1);
    ck_assert_str_eq(eff.released[0].ticket_id, "X1");
    ck_assert_uint_eq(eff.n_duplicates, 1);
    ck_assert(!desk_ticket(desk, "X1")->tg[STG_CONTACT].done);
}
END_TEST

START_TEST(test_held_expiry_is_bounded)
{
    for (int i = 0; i < 10; i++) {
        char id[8];
        snprintf(id, sizeof id, "X%d", i);
        ComplaintEvent a = ev_of(id, CT_CONTACTED, MON0900);
        offer(&a, LATER);
    }
    eff_reset(&eff);
    int64_t when = LATER + desk_policy(desk)->hold_timeout;
    int total = 0;
    for (int guard = 0; guard < 100 && desk_next_hold_expiry(desk) <= when; guard++) {
        int n = desk_expire_held(desk, when, 4, &eff);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_le(eff_size(&eff), 4);
        total += n;
        eff_reset(&eff);
    }
    ck_assert_int_eq(total, 10);
}
END_TEST

/* More held events than hold_max: the oldest are dead-lettered at once,
 * whatever their time, even when none may run out of time yet
 * (INT64_MIN); the rest stay held and are applied when their ticket comes. */
START_TEST(test_held_events_over_hold_max_go_oldest_first)
{
    Policy *p = pol_new();
    char err[128];
    ck_assert_int_eq(pol_set(p, "hold_max", "3", err, sizeof err), 0);
    desk_set_policy(desk, p);
    while (desk_recompute_pending(desk))
        ck_assert_int_ge(desk_recompute(desk, MON0900, BIG, &eff), 0);
    ComplaintEvent v[5];
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "X%d", i);
        v[i] = ev_of(id, CT_CONTACTED, MON0900);
        offer(&v[i], LATER + i);
        ck_assert(desk_held_over(desk) == (i >= 3));
    }
    eff_reset(&eff);
    ck_assert_int_eq(desk_expire_held(desk, INT64_MIN, BIG, &eff), 2);
    ck_assert(!desk_held_over(desk));
    ck_assert_uint_eq(eff.n_dead, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(eff.dead[i].reason, "unknown_ticket");
        ck_assert_ptr_nonnull(strstr(eff.dead[i].detail, "hold_max = 3"));
        ck_assert_str_eq(eff.released[i].event_id, v[i].event_id);
    }
    /* nothing more goes until it is over again or runs out of time */
    eff_reset(&eff);
    ck_assert_int_eq(desk_expire_held(desk, INT64_MIN, BIG, &eff), 0);
    ck_assert_int_eq(desk_expire_held(desk, LATER + 2, BIG, &eff), 0);
    DeskStats st;
    desk_stats(desk, &st);
    ck_assert_uint_eq(st.held, 3);
    /* X2 is still held: its received releases and applies it */
    offer_new("X2", CT_RECEIVED, MON0900 - H);
    ck_assert_uint_eq(eff.n_released, 1);
    ck_assert_str_eq(eff.released[0].event_id, v[2].event_id);
    ck_assert(desk_ticket(desk, "X2")->tg[STG_CONTACT].done);
    /* X0 was dead-lettered: its received finds nothing */
    eff_reset(&eff);
    offer_new("X0", CT_RECEIVED, MON0900 - H);
    ck_assert_uint_eq(eff.n_released, 0);
    ck_assert(!desk_ticket(desk, "X0")->tg[STG_CONTACT].done);
}
END_TEST

/* ---- duplicates --------------------------------------------------------- */

START_TEST(test_duplicates_change_nothing)
{
    ComplaintEvent r = ev_of("D", CT_RECEIVED, MON0900);
    offer(&r, LATER);
    ComplaintEvent c = ev_of("D", CT_CONTACTED, MON0900 + MIN);
    offer(&c, LATER);
    size_t events = eff.n_events, alerts = eff.alerts.n;
    offer(&c, LATER);
    offer(&r, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 2);
    ck_assert_uint_eq(eff.n_events, events);
    ck_assert_uint_eq(eff.alerts.n, alerts);
    /* a held event is a duplicate too, also after its release */
    ComplaintEvent h = ev_of("E", CT_CONTACTED, MON0900);
    offer(&h, LATER);
    offer(&h, LATER);
    ck_assert_uint_eq(eff.n_held, 1);
    ck_assert_uint_eq(eff.n_duplicates, 3);
    ComplaintEvent e = ev_of("E", CT_RECEIVED, MON0900 + MIN);
    offer(&e, LATER);
    ck_assert_uint_eq(eff.n_released, 1);
    offer(&h, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 4);
    /* ids loaded for a ticket of an older format count as seen */
    ck_assert_int_eq(desk_load_event_id(desk, "D", "old-1"), 0);
    ck_assert_int_eq(desk_load_event_id(desk, "nobody", "old-2"), 0);
    ComplaintEvent o = ev_of("D", CT_RESOLVED, MON0900 + 2 * MIN);
    snprintf(o.event_id, sizeof o.event_id, "old-1");
    offer(&o, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 5);
    ck_assert(!desk_ticket(desk, "D")->tg[STG_RESOLVE].done);
    /* contract §2: event ids are global. The same id for another ticket
     * is a duplicate, whether that ticket is known or not */
    ComplaintEvent other = ev_of("G", CT_RECEIVED, MON0900);
    snprintf(other.event_id, sizeof other.event_id, "%s", r.event_id);
    offer(&other, LATER);
    ck_assert_ptr_null(desk_ticket(desk, "G"));
    ck_assert_uint_eq(eff.n_duplicates, 6);
    ComplaintEvent dc = ev_of("E", CT_RESOLVED, MON0900 + 3 * MIN);
    snprintf(dc.event_id, sizeof dc.event_id, "%s", c.event_id);
    offer(&dc, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 7);
    ck_assert(!desk_ticket(desk, "E")->tg[STG_RESOLVE].done);
    ComplaintEvent dh = ev_of("H", CT_CONTACTED, MON0900);
    snprintf(dh.event_id, sizeof dh.event_id, "old-1");
    size_t held = eff.n_held;
    offer(&dh, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 8);
    ck_assert_uint_eq(eff.n_held, held);
}
END_TEST

/* A held event's id is taken while it waits: the same id under another
 * ticket is a duplicate. Rows a start loads may hold an id a ticket
 * recorded (stored before ids were global): that one is a duplicate on
 * its release. */
START_TEST(test_duplicate_of_a_held_event)
{
    ComplaintEvent h = ev_of("W", CT_CONTACTED, MON0900 + MIN);
    offer(&h, LATER);
    ck_assert_uint_eq(eff.n_held, 1);
    ComplaintEvent x = ev_of("X", CT_RECEIVED, MON0900);
    snprintf(x.event_id, sizeof x.event_id, "%s", h.event_id);
    offer(&x, LATER);
    ck_assert_ptr_null(desk_ticket(desk, "X"));
    ck_assert_uint_eq(eff.n_duplicates, 1);
    ComplaintEvent w = ev_of("W", CT_RECEIVED, MON0900);
    offer(&w, LATER);
    ck_assert_uint_eq(eff.n_released, 1);
    ck_assert(desk_ticket(desk, "W")->tg[STG_CONTACT].done);
    /* released: its id is the ticket's now */
    offer(&x, LATER);
    ck_assert_uint_eq(eff.n_duplicates, 2);
    ck_assert_ptr_null(desk_ticket(desk, "X"));

    ComplaintEvent y = ev_of("Y", CT_CONTACTED, MON0900 + MIN);
    snprintf(y.event_id, sizeof y.event_id, "%s", w.event_id);
    DeskSource src = src_of(99);
    ck_assert_int_eq(desk_load_held(desk, &y, &src, LATER), 0);
    ComplaintEvent yr = ev_of("Y", CT_RECEIVED, MON0900);
    offer(&yr, LATER);
    ck_assert_uint_eq(eff.n_released, 2);
    ck_assert_uint_eq(eff.n_duplicates, 3);
    ck_assert(!desk_ticket(desk, "Y")->tg[STG_CONTACT].done);
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

START_TEST(test_eviction_of_old_closed_tickets)
{
    offer_new("C", CT_RECEIVED, MON0900);
    offer_new("C", CT_CLOSED, MON0900 + H);
    offer_new("O", CT_RECEIVED, MON0900);
    eff_reset(&eff);
    /* the look-back and the day a late `received` may still need it */
    int64_t lookback = desk_policy(desk)->repeat_lookback + 24 * H;
    DeskSwept sw;
    /* not yet past the look-back */
    desk_housekeep(desk, MON0900 + H + lookback, true, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 0);
    /* listed in the open batch: kept until it is written */
    offer_new("P", CT_RECEIVED, MON0900 + 2 * H);
    ComplaintEvent u = ev_of("C", CT_UPDATED, MON0900 + 2 * H);
    offer(&u, LATER); /* history: the ticket is closed, but it is listed */
    desk_housekeep(desk, MON0900 + 2 * H + lookback + 1, true, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 0);
    ck_assert_ptr_nonnull(desk_ticket(desk, "C"));
    /* once the batch is gone, it waits while its newest snapshot is not
     * where a read-back finds it (the store's Ticket.unfolded) */
    eff_reset(&eff);
    ((Ticket *)desk_ticket(desk, "C"))->unfolded = 7; /* as daemon/store sets it */
    desk_set_folded(desk, 6);
    desk_housekeep(desk, MON0900 + 2 * H + lookback + 1, true, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 0);
    ck_assert_ptr_nonnull(desk_ticket(desk, "C"));
    /* folded: it goes; the open ticket stays */
    desk_set_folded(desk, 7);
    desk_housekeep(desk, MON0900 + 2 * H + lookback + 1, true, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 1);
    ck_assert_ptr_null(desk_ticket(desk, "C"));
    ck_assert_ptr_nonnull(desk_ticket(desk, "O"));
    /* its event ids went with it (docs/events.md: ids are known while
     * their ticket is in memory) */
    ComplaintEvent z = ev_of("Z", CT_RECEIVED, MON0900 + 3 * H);
    snprintf(z.event_id, sizeof z.event_id, "%s", u.event_id);
    offer(&z, LATER);
    ck_assert_ptr_nonnull(desk_ticket(desk, "Z"));
    /* without the sweep flag nothing is evicted */
    offer_new("Q", CT_RECEIVED, MON0900 + 3 * H);
    offer_new("Q", CT_CLOSED, MON0900 + 3 * H);
    eff_reset(&eff);
    desk_housekeep(desk, MON0900 + 10 * lookback, false, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 0);
}
END_TEST

/* §12.2: an event for a ticket that left memory reads its row back first;
 * a `received` of it again is history, not a new ticket. */
START_TEST(test_forgotten_ticket_is_read_back)
{
    offer_new("C", CT_RECEIVED, MON0900);
    offer_new("C", CT_CLOSED, MON0900 + H);
    uint8_t *snap;
    size_t len;
    ck_assert_ptr_nonnull(snap = tkt_pack(desk_ticket(desk, "C"), &len)); /* what PostgreSQL holds */
    eff_reset(&eff);
    DeskSwept sw;
    desk_housekeep(desk, MON0900 + H + desk_policy(desk)->repeat_lookback + 24 * H + 1, true, &eff, &sw);
    ck_assert_uint_eq(sw.tickets, 1);
    ck_assert_ptr_null(desk_ticket(desk, "C"));

    ComplaintEvent again = ev_of("C", CT_RECEIVED, MON0900 + 2 * H);
    DeskSource src = src_of(99);
    ck_assert_int_eq(desk_offer(desk, &again, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_LOOKUP);
    ck_assert_str_eq(desk_lookup_id(desk), "C");
    ck_assert(eff_empty(&eff));
    char err[64];
    Ticket *t = tkt_unpack(snap, len, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    free(snap);
    ck_assert_int_eq(desk_lookup_done(desk, t), 0);
    ck_assert_int_eq(desk_offer(desk, &again, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    int e = find_event(CT_RECEIVED, "C");
    ck_assert_int_ge(e, 0);
    ck_assert(!eff.events[e].applied); /* history */
    ck_assert(desk_ticket(desk, "C")->closed);
    ck_assert_uint_eq(eff.n_held, 0);

    /* an id the filter only thinks it saw: looked up once, then an unknown ticket */
    ck_assert_int_eq(desk_load_gone(desk, "N"), 0);
    ComplaintEvent c = ev_of("N", CT_CONTACTED, MON0900 + 3 * H);
    ck_assert_int_eq(desk_offer(desk, &c, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_LOOKUP);
    ck_assert_int_eq(desk_lookup_done(desk, NULL), 0);
    ck_assert_int_eq(desk_offer(desk, &c, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_held, 1);
    /* ids never stored need no lookup */
    ComplaintEvent r = ev_of("NEW", CT_RECEIVED, MON0900 + 3 * H);
    ck_assert_int_eq(desk_offer(desk, &r, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);

    /* N, not stored then, is received, closed and evicted: an event for it
     * reads it back, the earlier "not found" notwithstanding (audit K) */
    offer_new("N", CT_RECEIVED, MON0900 + 3 * H);
    offer_new("N", CT_CLOSED, MON0900 + 4 * H);
    ck_assert(desk_ticket(desk, "N")->closed);
    eff_reset(&eff);
    desk_housekeep(desk, MON0900 + 4 * H + desk_policy(desk)->repeat_lookback + 24 * H + 1, true, &eff, &sw);
    ck_assert_ptr_null(desk_ticket(desk, "N"));
    ComplaintEvent n2 = ev_of("N", CT_CONTACTED, MON0900 + 5 * H);
    ck_assert_int_eq(desk_offer(desk, &n2, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_LOOKUP);
    ck_assert_str_eq(desk_lookup_id(desk), "N");
}
END_TEST

/* The status page's summary: open tickets by stage and priority, firing
 * alerts by type. */
START_TEST(test_summary)
{
    offer_new("A", CT_RECEIVED, MON0900);
    offer_new("B", CT_RECEIVED, MON0900);
    offer_new("B", CT_CONTACTED, MON0900 + 30 * MIN);
    offer_new("C", CT_RECEIVED, MON0900);
    offer_new("C", CT_CLOSED, MON0900 + 40 * MIN);
    ComplaintEvent u = ev_of("A", CT_UPDATED, MON0900 + 50 * MIN);
    u.has = EVF_MAJOR;
    u.major = true;
    offer(&u, LATER);
    offer_new("D", CT_RECEIVED, MON0900 + 3 * H); /* A's contact breached at 10:00 (urgent), B's warning... */
    DeskSummary s;
    desk_summary(desk, &s);
    ck_assert_uint_eq(s.open[0][1], 1); /* A: received, urgent */
    ck_assert_uint_eq(s.open[0][0], 1); /* D */
    ck_assert_uint_eq(s.open[1][0], 1); /* B: contacted */
    ck_assert_uint_eq(s.firing[AL_TICKET_ESCALATED], 1);
    ck_assert_uint_eq(s.firing[AL_SLA_BREACH], 1); /* A's contact */
    unsigned all = 0;
    for (int t = 0; t < AL__COUNT; t++)
        all += s.firing[t];
    /* every firing transition in the effects and not ended there */
    unsigned fired = 0;
    for (size_t i = 0; i < eff.alerts.n; i++)
        fired += eff.alerts.v[i].status == AS_FIRING ? 1u : 0u;
    unsigned ended = 0;
    for (size_t i = 0; i < eff.alerts.n; i++)
        ended += eff.alerts.v[i].status != AS_FIRING ? 1u : 0u;
    ck_assert_uint_eq(all, fired - ended);
}
END_TEST

/* ---- policy reload ------------------------------------------------------ */

START_TEST(test_policy_reload_recomputes_in_chunks)
{
    load_many(50);
    Policy *p = pol_new();
    char err[128];
    ck_assert_int_eq(pol_set(p, "sla.contact.normal", "4h business", err, sizeof err), 0);
    desk_set_policy(desk, p);
    ck_assert(desk_recompute_pending(desk));
    int total = 0;
    for (int guard = 0; guard < 100 && desk_recompute_pending(desk); guard++) {
        int n = desk_recompute(desk, MON0900, 10, &eff);
        ck_assert_int_ge(n, 0);
        ck_assert_uint_le(eff_size(&eff), 10);
        total += n;
        eff_reset(&eff);
    }
    ck_assert(!desk_recompute_pending(desk));
    ck_assert_int_eq(total, 50);
    const Ticket *t = desk_ticket(desk, "T0000");
    ck_assert_int_eq(tu32_get(t->tg[STG_CONTACT].deadline), MON0900 + 4 * H + 2 * H); /* 09:00 + 4 h crosses lunch */
}
END_TEST

static void scan(const char *id, const char *waybill, ScanType type, int64_t at);

/* A reload that shortens stall_after and loss_after reaches the parcel
 * already tracked and the ticket already reviewed: both fire at the new
 * times, not at the old ones. */
START_TEST(test_policy_reload_rearms_stalls_and_reviews)
{
    scan("s-1", "W1", SCAN_PICKUP, MON0900);
    offer_about("D", CAT_DELAY, "W1", MON0900 + H);
    eff_reset(&eff);
    Policy *p = pol_new();
    char err[128];
    ck_assert_int_eq(pol_set(p, "stall_after", "2h", err, sizeof err), 0);
    ck_assert_int_eq(pol_set(p, "loss_after", "3h", err, sizeof err), 0);
    ck_assert_int_eq(pol_set(p, "sla.contact.normal", "5d calendar", err, sizeof err), 0); /* out of the way */
    ck_assert_int_eq(pol_set(p, "sla.first_reply.normal", "5d calendar", err, sizeof err), 0);
    ck_assert_int_eq(pol_set(p, "sla.resolve.normal", "5d calendar", err, sizeof err), 0);
    desk_set_policy(desk, p);
    for (int guard = 0; guard < 100 && desk_recompute_pending(desk); guard++) {
        ck_assert_int_ge(desk_recompute(desk, MON0900 + H, BIG, &eff), 0);
        eff_reset(&eff);
    }
    ck_assert(!desk_recompute_pending(desk));
    ck_assert_int_eq(desk_next_due(desk), MON0900 + 2 * H); /* the stall, on the new timer */
    size_t seen = 0;
    char *s = fire_all(MON0900 + 3 * H, BIG, &seen);
    char stall[64];
    snprintf(stall, sizeof stall, "parcel_stalled/W1/%lld:%d\n", (long long)MON0900, (int)AS_FIRING);
    ck_assert_msg(strstr(s, stall) != NULL, "%s", s);
    ck_assert_msg(strstr(s, "category_review/D/1:0\n") != NULL, "%s", s);
    free(s);
}
END_TEST

/* A late complaint that makes a burst long past fires it, and since the
 * trailing count at the clock is below the threshold, the end is already
 * due: it resolves at once, at the clock's time, without waiting for a later
 * event (event mode). One dated the clock's second leaves the end to wait. */
START_TEST(test_bulk_made_by_a_late_complaint_ends_at_once)
{
    for (int i = 0; i < 9; i++) {
        char id[8];
        snprintf(id, sizeof id, "K%d", i);
        offer_about_at(id, CAT_DAMAGE, "W", "S1", MON0900 + 5 * i * MIN);
    }
    offer_new("Z", CT_RECEIVED, MON0900 + 3 * H);
    eff_reset(&eff);
    offer_about_at("K-late", CAT_DAMAGE, "W", "S1", MON0900 + 2 * MIN);
    ck_assert_int_ge(find("bulk_complaint/damage/S1/1795395600", AS_FIRING), 0);
    int r = find("bulk_complaint/damage/S1/1795395600", AS_RESOLVED);
    ck_assert_int_ge(r, 0);
    ck_assert_int_eq(eff.alerts.v[r].resolved_at, MON0900 + 3 * H);
    ck_assert_int_eq(eff.alerts.v[r].n_ticket_ids, 10);
}
END_TEST

/* A bulk episode whose end passed while the daemon was stopped ends, at the
 * start, at the time its trailing count fell below the threshold. */
START_TEST(test_bulk_end_passed_while_stopped)
{
    char ids[10][8];
    const char *idv[10];
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "K%d", i);
        idv[i] = ids[i];
        ComplaintEvent ev = ev_of(ids[i], CT_RECEIVED, MON0900 + i * MIN);
        ev.category = CAT_DAMAGE;
        ev.has |= EVF_SITE;
        snprintf(ev.site, sizeof ev.site, "S1");
        offer(&ev, MON0900 + i * MIN);
    }
    ck_assert_int_ge(find("bulk_complaint/damage/S1/1795395600", AS_FIRING), 0);
    /* the start, three hours on: the tickets and the running episode back;
     * then thirty hours on, when the tickets are older than what windows
     * keep: the members come back all the same, and the episode, whose
     * complaints of then are not all back, ends at the start */
    for (int pass = 0; pass < 2; pass++) {
        int64_t base = MON0900 + (pass ? 30 : 3) * H;
        Desk *b = desk_new(pol_new());
        for (int i = 0; i < 10; i++) {
            size_t len;
            uint8_t *snap = tkt_pack(desk_ticket(desk, ids[i]), &len);
            char err[128];
            Ticket *t = tkt_unpack(snap, len, err, sizeof err);
            free(snap);
            ck_assert_int_eq(desk_load_ticket(b, t, base), 0);
        }
        ck_assert_int_eq(desk_load_bulk(b, CAT_DAMAGE, "S1", MON0900, MON0900 + 9 * MIN, idv, 10, false, base), 0);
        eff_reset(&eff);
        ck_assert_int_ge(desk_fire_due(b, base, BIG, &eff), 1);
        int r = find("bulk_complaint/damage/S1/1795395600", AS_RESOLVED);
        ck_assert_int_ge(r, 0);
        /* K0 leaves the window at 10:00: nine are left */
        ck_assert_int_eq(eff.alerts.v[r].resolved_at, pass ? base : MON0900 + H);
        ck_assert_int_eq(eff.alerts.v[r].n_ticket_ids, 10);
        desk_free(b);
    }
}
END_TEST

/* ---- the merge feeding the desk ----------------------------------------- */

typedef struct Msg {
    MergeItem item;
    ComplaintEvent ev;
} Msg;

START_TEST(test_merge_orders_partitions_for_the_event_clock)
{
    /* partition 0 runs ahead: B's contact at 12:00; partition 1 still holds
     * A's contact at 10:00. Merged, A's contact is applied before the clock
     * passes A's deadline (11:00), so no breach fires for A. */
    Msg m[4];
    m[0].ev = ev_of("A", CT_RECEIVED, MON0900);
    m[1].ev = ev_of("B", CT_RECEIVED, MON0900 + 2 * H + 30 * MIN);
    m[2].ev = ev_of("B", CT_CONTACTED, MON0900 + 3 * H);
    m[3].ev = ev_of("A", CT_CONTACTED, MON0900 + 1 * H);
    Merge *mg = merge_new();
    ck_assert_ptr_nonnull(mg);
    int part[4] = {1, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        m[i].item.at = m[i].ev.occurred_at;
        ck_assert_int_eq(merge_push(mg, "complaints.events", part[i], &m[i].item), 0);
    }
    for (MergeItem *it; (it = merge_peek(mg));) {
        Msg *x = (Msg *)it;
        offer(&x->ev, LATER);
        merge_pop(mg);
    }
    merge_free(mg);
    ck_assert_int_lt(find("sla_breach/A/1/contact", AS_FIRING), 0);
    ck_assert_int_lt(find("sla_breach/B/1/contact", AS_FIRING), 0);
    /* partition by partition instead, the clock runs past A's deadline
     * first: the breach fires, and is retracted when the contact arrives */
    teardown();
    setup();
    for (int i = 0; i < 4; i++)
        offer(&m[i].ev, LATER);
    ck_assert_int_ge(find("sla_breach/A/1/contact", AS_FIRING), 0);
    ck_assert_int_ge(find("sla_breach/A/1/contact", AS_RETRACTED), 0);
}
END_TEST

/* ---- the second wave (contract §12) ------------------------------------- */

/* §12.10: an event from the future or before 2000 is dead-lettered and moves
 * nothing, in both clock modes; a scan the same. */
START_TEST(test_implausible_times_are_dead_lettered)
{
    int64_t wall = MON0900;
    /* what the partition merge asks before it orders an event */
    ck_assert(desk_time_plausible(desk, wall + 5 * MIN, wall));
    ck_assert(!desk_time_plausible(desk, wall + 5 * MIN + 1, wall));
    ck_assert(desk_time_plausible(desk, T("2000-01-01T00:00:00Z"), wall));
    ck_assert(!desk_time_plausible(desk, T("1999-12-31T23:59:59Z"), wall));
    DeskSource src = src_of(1);
    ComplaintEvent ev = ev_of("F", CT_RECEIVED, wall + 5 * MIN + 1);
    ck_assert_int_eq(desk_offer(desk, &ev, NULL, &src, &clock_, wall, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_dead, 1);
    ck_assert_str_eq(eff.dead[0].reason, "invalid_field");
    ck_assert_msg(strncmp(eff.dead[0].detail, "occurred_at", 11) == 0, "detail: %s", eff.dead[0].detail);
    ck_assert_int_eq(clock_, 0); /* the event clock did not move */
    ck_assert_ptr_null(desk_ticket(desk, "F"));
    /* at the limit it is applied */
    ev = ev_of("F", CT_RECEIVED, wall + 5 * MIN);
    ck_assert_int_eq(desk_offer(desk, &ev, NULL, &src, NULL, wall, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_ptr_nonnull(desk_ticket(desk, "F"));
    /* before 2000 */
    ev = ev_of("G", CT_RECEIVED, T("1999-12-31T23:59:59Z"));
    ck_assert_int_eq(desk_offer(desk, &ev, NULL, &src, NULL, wall, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_dead, 2);
    ck_assert_msg(strstr(eff.dead[1].detail, "before 2000") != NULL, "detail: %s", eff.dead[1].detail);
    /* a scan */
    ScanEvent sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.event_id, sizeof sc.event_id, "s-1");
    snprintf(sc.waybill, sizeof sc.waybill, "W1");
    snprintf(sc.site, sizeof sc.site, "S1");
    sc.scan_type = SCAN_PICKUP;
    sc.site_role = ROLE_ORIGIN;
    sc.occurred_at = wall + DAY;
    ck_assert_int_eq(desk_offer(desk, NULL, &sc, &src, NULL, wall, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_dead, 3);
    ck_assert_uint_eq(eff.n_scans, 0);
    /* the detail names neither the time nor how far ahead: a replay gives the same one */
    ck_assert_str_eq(eff.dead[2].detail, "occurred_at: later than the wall clock plus max_future_skew (300s)");
    ck_assert_str_eq(eff.dead[0].detail, eff.dead[2].detail);
    /* max_future_skew = 0 turns the future check off */
    Policy *p = pol_new();
    char err[128];
    ck_assert_int_eq(pol_set(p, "max_future_skew", "0", err, sizeof err), 0);
    desk_set_policy(desk, p);
    ck_assert(desk_time_plausible(desk, wall + DAY, wall));
    ck_assert_int_eq(desk_offer(desk, NULL, &sc, &src, NULL, wall, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_scans, 1);
}
END_TEST

static ComplaintEvent received_at_site(const char *ticket, int64_t at, const char *site)
{
    ComplaintEvent ev = ev_of(ticket, CT_RECEIVED, at);
    ev.has |= EVF_SITE;
    snprintf(ev.site, sizeof ev.site, "%s", site);
    return ev;
}

static bool any_fired(const char *prefix)
{
    for (size_t i = 0; i < eff.alerts.n; i++)
        if (strncmp(eff.alerts.v[i].alert_id, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

/* Ten complaints against one site (one bulk key), 5 minutes apart,
 * `behind` before the event clock (moved there by another ticket first);
 * desk_housekeep, which forgets old complaints on the daemon's wall-clock
 * timer, runs between them or not. Whether `prefix` fired. */
static bool late_burst_fires(int64_t behind, bool housekeep, const char *prefix)
{
    int64_t start = MON0900 + 10 * DAY;
    offer_new("CLOCK", CT_RECEIVED, start + behind);
    for (int i = 0; i < 10; i++) {
        char id[8];
        snprintf(id, sizeof id, "LB%d", i);
        ComplaintEvent ev = received_at_site(id, start + i * 5 * MIN, "S1");
        offer(&ev, start + behind);
        if (housekeep) {
            DeskSwept sw;
            desk_housekeep(desk, clock_, false, &eff, &sw);
        }
    }
    return any_fired(prefix);
}

/* Complaints more than 24 h behind the clock never count toward a bulk
 * window, and more than 31 days behind toward a site's accountability,
 * whether or not the housekeeping timer forgot the older ones in between:
 * that timer is wall time, and a replay must give the alerts the live run
 * gave (contract §11). Closer to the clock, they count. */
START_TEST(test_late_horizons_do_not_depend_on_housekeeping)
{
    static const struct {
        int64_t behind;
        const char *prefix;
        bool fires;
    } cases[] = {
        {3 * DAY, "bulk_complaint/", false},        {23 * H, "bulk_complaint/", true},
        {400 * DAY, "site_accountability/", false}, {40 * DAY, "site_accountability/", false},
        {30 * DAY, "site_accountability/", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int hk = 0; hk < 2; hk++) {
            teardown(), setup();
            ck_assert_msg(late_burst_fires(cases[i].behind, hk, cases[i].prefix) == cases[i].fires,
                          "%s %lld s behind, housekeeping %d", cases[i].prefix, (long long)cases[i].behind, hk);
        }
}
END_TEST

/* §12.6: an invalid complaint leaves its bulk window; the episode ends when
 * the count falls below the threshold: with the update itself, which does
 * not wait for a later event. */
START_TEST(test_invalid_leaves_bulk)
{
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "B%d", i);
        ComplaintEvent ev = received_at_site(id, MON0900 + i * MIN, "SZ");
        offer(&ev, MON0900 + i * MIN);
    }
    char bulk_id[64];
    snprintf(bulk_id, sizeof bulk_id, "bulk_complaint/damage/SZ/%lld", (long long)MON0900);
    ck_assert_int_ge(find(bulk_id, AS_FIRING), 0);
    ComplaintEvent up = ev_of("B3", CT_UPDATED, MON0900 + 20 * MIN);
    up.has = EVF_VALIDITY;
    up.invalid = true;
    offer(&up, up.occurred_at);
    int r = find(bulk_id, AS_RESOLVED);
    ck_assert_int_ge(r, 0);
    ck_assert_int_eq(eff.alerts.v[r].count, 9);
    ck_assert_int_eq(eff.alerts.v[r].resolved_at, MON0900 + 20 * MIN);

    /* Reclassified, then valid again: it counts again under the key it was
     * received with (damage/SZ), not its new category's: nine loss
     * complaints at SZ stay nine. */
    reclassify("B3", CAT_LOSS, MON0900 + 21 * MIN);
    ComplaintEvent rc = ev_of("B3", CT_UPDATED, MON0900 + 22 * MIN);
    rc.has = EVF_VALIDITY;
    rc.invalid = false;
    offer(&rc, rc.occurred_at);
    for (int i = 0; i < 9; i++) {
        snprintf(id, sizeof id, "L%d", i);
        ComplaintEvent ev = received_at_site(id, MON0900 + (23 + i) * MIN, "SZ");
        ev.category = CAT_LOSS;
        offer(&ev, ev.occurred_at);
    }
    for (size_t i = 0; i < eff.alerts.n; i++)
        ck_assert_msg(strncmp(eff.alerts.v[i].alert_id, "bulk_complaint/loss/", 20) != 0, "%s fired",
                      eff.alerts.v[i].alert_id);
    /* ...and a snapshot keeps the key's category */
    size_t len;
    uint8_t *b = tkt_pack(desk_ticket(desk, "B3"), &len);
    ck_assert_ptr_nonnull(b);
    char err[128];
    Ticket *u = tkt_unpack(b, len, err, sizeof err);
    ck_assert_msg(u != NULL, "%s", err);
    ck_assert_int_eq(u->category, CAT_LOSS);
    ck_assert_int_eq(u->issue_category, CAT_DAMAGE);
    tkt_free(u);
    free(b);
}
END_TEST

static void scan(const char *id, const char *waybill, ScanType type, int64_t at)
{
    ScanEvent sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.event_id, sizeof sc.event_id, "%s", id);
    snprintf(sc.waybill, sizeof sc.waybill, "%s", waybill);
    snprintf(sc.site, sizeof sc.site, "SITE");
    sc.scan_type = type;
    sc.site_role = type == SCAN_PICKUP ? ROLE_ORIGIN : ROLE_DELIVERY;
    sc.occurred_at = at;
    DeskSource src = src_of(++seq);
    for (int i = 0; i < 1000; i++) {
        int r = desk_offer(desk, NULL, &sc, &src, &clock_, at, BIG, BIG, &eff);
        ck_assert_int_ge(r, 0);
        if (r == DESK_APPLIED)
            return;
    }
    ck_abort_msg("scan never applied");
}

/* Contract §3: a scan's event_id is its idempotency key. The latest scan of
 * a parcel sent again, or another scan under its id, is a duplicate: no row,
 * no effect (the stall of the first scan still fires), counted. */
START_TEST(test_scan_sent_again_is_a_duplicate)
{
    scan("d-1", "WD", SCAN_PICKUP, MON0900);
    ck_assert_uint_eq(eff.n_scans, 1);
    scan("d-1", "WD", SCAN_PICKUP, MON0900);
    scan("d-1", "WD", SCAN_ARRIVE, MON0900 + H);
    ck_assert_uint_eq(eff.n_scans, 1);
    ck_assert_uint_eq(eff.n_duplicates, 2);
    offer_new("X", CT_RECEIVED, MON0900 + 7 * DAY + MIN);
    char id[64];
    snprintf(id, sizeof id, "parcel_stalled/WD/%lld", (long long)MON0900);
    int f = find(id, AS_FIRING);
    ck_assert_msg(f >= 0, "the stall of the first scan fired");
    ck_assert_int_eq(eff.alerts.v[f].condition_at, MON0900 + 7 * DAY);
    scan("d-2", "WD", SCAN_ARRIVE, MON0900 + 7 * DAY + 2 * MIN); /* a new id: applied */
    ck_assert_uint_eq(eff.n_scans, 2);
    ck_assert_int_ge(find(id, AS_RESOLVED), 0);
}
END_TEST

/* §12.7 through the desk: the parcel keeps its pickup time (even from a scan
 * arriving late), a delay ticket gets the loss review at pickup + 168 h, and
 * the signature ends it. */
START_TEST(test_category_review_from_scans)
{
    int64_t pickup = MON0900 - 6 * DAY;
    scan("s-2", "W7", SCAN_DEPART, pickup + H);
    scan("s-1", "W7", SCAN_PICKUP, pickup); /* late: not the latest, still the pickup */
    offer_about("D", CAT_DELAY, "W7", MON0900);
    ck_assert_int_lt(find("category_review/D/1", AS_FIRING), 0);
    /* a day later the event clock passes pickup + 168 h */
    offer_new("X", CT_RECEIVED, MON0900 + DAY + MIN);
    int f = find("category_review/D/1", AS_FIRING);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(eff.alerts.v[f].suggested_category, CAT_LOSS);
    ck_assert_int_eq(eff.alerts.v[f].condition_at, pickup + 7 * DAY);
    scan("s-3", "W7", SCAN_SIGNED, MON0900 + DAY + 2 * MIN);
    ck_assert_int_ge(find("category_review/D/1", AS_RESOLVED), 0);
}
END_TEST

/* §12.8: only a loss or delay ticket counts against the site §8 makes
 * responsible; reclassified to damage, it counts against its own site. */
START_TEST(test_accountability_follows_the_category)
{
    scan("s-1", "AW", SCAN_PICKUP, MON0900 - DAY);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "TA%d", i);
        offer_about_at(id, CAT_LOSS, "AW", "AX", MON0900 + i * H);
        reclassify(id, CAT_DAMAGE, MON0900 + i * H + 30 * MIN);
    }
    ck_assert_int_ge(find("site_accountability/AX/2026-11", AS_FIRING), 0);
    ck_assert_int_lt(find("site_accountability/SITE/2026-11", AS_FIRING), 0);
}
END_TEST

/* A scan that moves a ticket's responsibility and reviews it (§12.7): the
 * review's alert carries the responsibility that scan gives. */
START_TEST(test_review_carries_the_scans_responsibility)
{
    offer_about_at("TQ", CAT_LOSS, "QC", "QX", MON0900);
    scan("s-1", "QC", SCAN_PICKUP, MON0900 + H);
    int f = find("category_review/TQ/1", AS_FIRING);
    ck_assert_int_ge(f, 0);
    const Responsible *r = &eff.alerts.v[f].responsible;
    ck_assert(r->known);
    ck_assert_str_eq(r->site, "SITE");
    ck_assert_str_eq(r->rule, "pickup_no_depart");
}
END_TEST

/* §12.7: an updated that sets the category before the review is due does
 * not end it; the review then fires at pickup + 168 h whether the pickup
 * scan came before that updated or after it. */
START_TEST(test_review_pending_is_not_ended_by_an_updated)
{
    int64_t pickup = MON0900 - DAY;
    scan("s-1", "QA", SCAN_PICKUP, pickup);
    offer_about_at("TQA", CAT_DELAY, "QA", "QX", MON0900);
    offer_about_at("TQB", CAT_DELAY, "QB", "QX", MON0900);
    reclassify("TQA", CAT_DELAY, MON0900 + H);
    reclassify("TQB", CAT_DELAY, MON0900 + H);
    scan("s-2", "QB", SCAN_PICKUP, pickup);
    offer_new("X", CT_RECEIVED, pickup + 7 * DAY + MIN);
    ck_assert_int_ge(find("category_review/TQA/1", AS_FIRING), 0);
    ck_assert_int_ge(find("category_review/TQB/1", AS_FIRING), 0);
    /* fired, then reclassified: done for the round */
    reclassify("TQA", CAT_LOSS, pickup + 7 * DAY + 2 * MIN);
    ck_assert_int_ge(find("category_review/TQA/1", AS_RESOLVED), 0);
    reclassify("TQA", CAT_DELAY, pickup + 7 * DAY + 3 * MIN);
    int n = 0;
    for (size_t i = 0; i < eff.alerts.n; i++)
        n += strcmp(eff.alerts.v[i].alert_id, "category_review/TQA/1") == 0;
    ck_assert_int_eq(n, 2);
}
END_TEST

/* One scan moving several tickets to a site counts them in the order of
 * their received, whatever order the desk holds them in. */
START_TEST(test_one_scan_moves_tickets_in_received_order)
{
    /* two at SITE already (their own site: damage) */
    offer_about_at("Z1", CAT_DAMAGE, "W-1", "SITE", MON0900);
    offer_about_at("Z2", CAT_DAMAGE, "W-2", "SITE", MON0900 + MIN);
    /* delay tickets of one parcel, arriving in an order unlike that of
     * their received times (M7 is the earliest, and arrives last) */
    static const char *const ids[] = {"M3", "M9", "M1", "M6", "M2", "M5", "M4", "M7"};
    for (int i = 0; i < 8; i++)
        offer_about_at(ids[i], CAT_DELAY, "WM", "OWN", MON0900 + (10 - i) * MIN);
    ck_assert_int_ge(find("site_accountability/OWN/2026-11", AS_FIRING), 0);
    scan("s-1", "WM", SCAN_PICKUP, MON0900 + 20 * MIN); /* all of them now at SITE */
    int f = find("site_accountability/SITE/2026-11", AS_FIRING);
    ck_assert_int_ge(f, 0);
    const Alert *a = &eff.alerts.v[f];
    ck_assert_int_eq(a->n_ticket_ids, 3);
    ck_assert_str_eq(a->ticket_ids[2], "M7");
    ck_assert_int_eq(a->condition_at, MON0900 + 3 * MIN);
}
END_TEST

/* The net count of one indicator in eff under (category, site). */
static int indic_net(Category cat, const char *site, IndField f)
{
    int n = 0;
    for (size_t i = 0; i < eff.indic.n; i++)
        if (eff.indic.v[i]->category == cat && strcmp(eff.indic.v[i]->site, site) == 0)
            n += eff.indic.v[i]->n[f];
    return n;
}

/* §12.9: the counts of the day of receipt are filed under the issue key the
 * complaint was received with, so `invalid` lands in the row that counted
 * it whatever was reclassified since; a complaint without a site counts
 * under its parcel's latest scan's, as for bulk. */
START_TEST(test_invalid_counted_where_received)
{
    ComplaintEvent ev = received_at_site("I1", MON0900, "SZ");
    offer(&ev, MON0900);
    ComplaintEvent up = ev_of("I1", CT_UPDATED, MON0900 + 60 * MIN);
    up.has = EVF_CATEGORY | EVF_VALIDITY | EVF_SITE;
    up.category = CAT_LOSS;
    up.invalid = true;
    snprintf(up.site, sizeof up.site, "GZ");
    offer(&up, up.occurred_at);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_RECEIVED), 1);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_INVALID), 1);
    ck_assert_int_eq(indic_net(CAT_LOSS, "GZ", IND_INVALID), 0);
    up = ev_of("I1", CT_UPDATED, MON0900 + 120 * MIN);
    up.has = EVF_CATEGORY | EVF_VALIDITY;
    up.category = CAT_FEE;
    up.invalid = false;
    offer(&up, up.occurred_at);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_INVALID), 0);
    ck_assert_int_eq(indic_net(CAT_FEE, "GZ", IND_INVALID), 0);

    scan("sc-1", "WB-IND", SCAN_PICKUP, MON0900 + 180 * MIN);
    offer_about("I2", CAT_DELAY, "WB-IND", MON0900 + 240 * MIN);
    ck_assert_int_eq(indic_net(CAT_DELAY, "SITE", IND_RECEIVED), 1);
    ck_assert_int_eq(indic_net(CAT_DELAY, "", IND_RECEIVED), 0);
}
END_TEST

static void set_validity(const char *ticket, bool invalid, int64_t at)
{
    ComplaintEvent up = ev_of(ticket, CT_UPDATED, at);
    up.has = EVF_VALIDITY;
    up.invalid = invalid;
    offer(&up, at);
}

/* §12.9 repeat rate = repeats ÷ valid received: a repeat complaint found
 * invalid leaves `repeats` as it leaves the valid count, and comes back
 * when it is valid again. */
START_TEST(test_invalid_repeat_leaves_repeats)
{
    offer_about_at("R1", CAT_FEE, "WB-R", "RQ", MON0900);
    offer_new("R1", CT_RESOLVED, MON0900 + 10 * MIN);
    offer_about_at("R2", CAT_FEE, "WB-R", "RQ", MON0900 + 20 * MIN);
    ck_assert_str_eq(tkt_previous_ticket_id(desk_ticket(desk, "R2")), "R1");
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_REPEATS), 1);
    set_validity("R2", true, MON0900 + 30 * MIN);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_INVALID), 1);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_REPEATS), 0);
    /* invalid again changes nothing; valid again counts it back */
    set_validity("R2", true, MON0900 + 40 * MIN);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_REPEATS), 0);
    set_validity("R2", false, MON0900 + 50 * MIN);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_INVALID), 0);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_REPEATS), 1);
    /* a complaint that is no repeat leaves `repeats` alone */
    set_validity("R1", true, MON0900 + 60 * MIN);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_INVALID), 1);
    ck_assert_int_eq(indic_net(CAT_FEE, "RQ", IND_REPEATS), 1);
}
END_TEST

/* §7 counts the look-back from the new complaint's `received`: one that
 * comes late still finds a ticket resolved within the look-back before it,
 * after a sweep on a clock already past that ticket's look-back (audit P5).
 * A day late at most: closed tickets stay that long after the look-back. */
START_TEST(test_late_repeat_after_a_sweep)
{
    int64_t lookback = desk_policy(desk)->repeat_lookback;
    offer_about_at("E1", CAT_FEE, "WB-E", "EQ", MON0900);
    offer_new("E1", CT_RESOLVED, MON0900 + 10 * MIN);
    offer_new("E1", CT_CLOSED, MON0900 + 20 * MIN);
    int64_t clock = MON0900 + lookback + 20 * H;
    offer_new("X", CT_RECEIVED, clock);
    eff_reset(&eff);
    DeskSwept sw;
    desk_housekeep(desk, clock, true, &eff, &sw);
    ck_assert_ptr_nonnull(desk_ticket(desk, "E1"));
    /* received at the last second of E1's look-back, 20 h behind the clock */
    offer_about_at("E2", CAT_FEE, "WB-E", "EQ", MON0900 + 10 * MIN + lookback);
    ck_assert_str_eq(tkt_previous_ticket_id(desk_ticket(desk, "E2")), "E1");
    ck_assert_int_ge(find("repeat_complaint/E2", AS_FIRING), 0);
    /* a day past the look-back it goes */
    eff_reset(&eff);
    desk_housekeep(desk, MON0900 + 20 * MIN + lookback + 24 * H + 1, true, &eff, &sw);
    ck_assert_ptr_null(desk_ticket(desk, "E1"));
}
END_TEST

/* Two tickets received at site SZ at MON0900, and a third, tick, received
 * `after` later, past their deadlines of stage field f: both breaches count. */
static void two_breached(const char *a, const char *b, const char *tick, int64_t after, IndField f)
{
    ComplaintEvent r1 = received_at_site(a, MON0900, "SZ"), r2 = received_at_site(b, MON0900, "SZ");
    offer(&r1, MON0900);
    offer(&r2, MON0900);
    offer_new(tick, CT_RECEIVED, MON0900 + after);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", f), 2);
}

/* No row of eff holds a negative count of f. */
static void no_negative(IndField f)
{
    for (size_t i = 0; i < eff.indic.n; i++)
        ck_assert_int_ge(eff.indic.v[i]->n[f], 0);
}

/* §12.9: a breach that turned out met (retracted) was no breach: its count
 * is taken back, on the firing's day; one completed late stays counted. */
START_TEST(test_retracted_breach_not_counted)
{
    two_breached("RB1", "RB2", "RB9", 4 * H, IND_BREACH_CONTACT); /* past both contact deadlines (11:00) */
    ComplaintEvent met = ev_of("RB1", CT_CONTACTED, MON0900 + H), late = ev_of("RB2", CT_CONTACTED, MON0900 + 3 * H);
    offer(&met, MON0900 + 4 * H);
    offer(&late, MON0900 + 4 * H);
    ck_assert_int_ge(find("sla_breach/RB1/1/contact", AS_RETRACTED), 0);
    ck_assert_int_ge(find("sla_breach/RB2/1/contact", AS_RESOLVED), 0);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_BREACH_CONTACT), 1);
    no_negative(IND_BREACH_CONTACT);
}
END_TEST

/* §12.9 with §12.1: a breach ended by an extension that moved its deadline
 * past the clock was no breach either; the stage counts once when it
 * misses the new deadline too (its /2), and not at all when it meets it. */
START_TEST(test_moved_breach_counted_once)
{
    two_breached("MB1", "MB2", "MB9", 49 * H, IND_BREACH_FIRST_REPLY); /* past both first_reply deadlines (+48 h) */
    for (int i = 0; i < 2; i++) {
        ComplaintEvent ext = ev_of(i ? "MB2" : "MB1", CT_EXTENDED, MON0900 + 49 * H);
        ext.ext_stage = EXT_FIRST_REPLY;
        ext.ext_hours = 24;
        offer(&ext, ext.occurred_at);
    }
    ck_assert_int_ge(find("sla_breach/MB1/1/first_reply", AS_RESOLVED), 0);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_BREACH_FIRST_REPLY), 0);
    offer_new("MB2", CT_FIRST_REPLY, MON0900 + 70 * H);
    offer_new("MB8", CT_RECEIVED, MON0900 + 73 * H); /* past MB1's new deadline (+72 h) */
    ck_assert_int_ge(find("sla_breach/MB1/1/first_reply/2", AS_FIRING), 0);
    ck_assert_int_lt(find("sla_breach/MB2/1/first_reply/2", AS_FIRING), 0);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_BREACH_FIRST_REPLY), 1);
}
END_TEST

/* §12.9: a breach still firing moves with its ticket when an `updated`
 * files it under another category or site, so that its take-back (here a
 * §12.1 move by a claim) lands in the row that counted it: no row is left
 * at -1 and another at +1. */
START_TEST(test_firing_breach_follows_a_reclassification)
{
    two_breached("RC1", "RC2", "RC9", 49 * H, IND_BREACH_RESOLVE); /* past both resolve deadlines (+48 h) */
    for (int i = 0; i < 2; i++) {
        ComplaintEvent up = ev_of(i ? "RC2" : "RC1", CT_UPDATED, MON0900 + 49 * H);
        up.has = EVF_CATEGORY | EVF_SITE | (i ? 0 : EVF_CLAIM);
        up.category = CAT_LOSS;
        up.claim = true; /* RC1 only: its resolve budget becomes 120 h */
        snprintf(up.site, sizeof up.site, "GZ");
        offer(&up, up.occurred_at);
    }
    ck_assert_int_ge(find("sla_breach/RC1/1/resolve", AS_RESOLVED), 0);
    ck_assert_int_lt(find("sla_breach/RC2/1/resolve", AS_RESOLVED), 0);
    ck_assert_int_eq(indic_net(CAT_DAMAGE, "SZ", IND_BREACH_RESOLVE), 0);
    ck_assert_int_eq(indic_net(CAT_LOSS, "GZ", IND_BREACH_RESOLVE), 1); /* RC2's, still firing */
    no_negative(IND_BREACH_RESOLVE);
}
END_TEST

/* A parcel signed longer than the look-back ago is forgotten by the ticket
 * rules whether or not the hourly sweep dropped it yet (a fast replay may
 * not run one in between): the same complaint sees the same parcel in a
 * live run, a replay and after a restart. */
START_TEST(test_old_signed_parcel_forgotten_without_a_sweep)
{
    int64_t lookback = desk_policy(desk)->repeat_lookback;
    scan("s-9", "W9", SCAN_SIGNED, MON0900);
    offer_about("L", CAT_LOSS, "W9", MON0900 + lookback + DAY);
    ck_assert_str_eq(tkt_resp_rule(desk_ticket(desk, "L")), "no_scan");
    /* within the look-back it is still the signed parcel */
    scan("s-8", "W8", SCAN_SIGNED, MON0900 + lookback);
    offer_about("M", CAT_LOSS, "W8", MON0900 + lookback + DAY);
    ck_assert_str_eq(tkt_resp_rule(desk_ticket(desk, "M")), "signed");
}
END_TEST

/* Events of a ticket on another partition than its `received`: applied as
 * usual (contract §1: keys only spread load) and counted. A ticket read
 * back from PostgreSQL has no known partition: nothing is counted for it. */
START_TEST(test_off_partition_counted)
{
    ComplaintEvent rcv = ev_of("P", CT_RECEIVED, MON0900);
    DeskSource src = src_of(1);
    src.partition = 3;
    ck_assert_int_eq(desk_offer(desk, &rcv, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_off_partition, 0);

    ComplaintEvent same = ev_of("P", CT_CONTACTED, MON0900 + MIN);
    src.offset = 2;
    ck_assert_int_eq(desk_offer(desk, &same, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_off_partition, 0);

    ComplaintEvent other = ev_of("P", CT_FIRST_REPLY, MON0900 + 2 * MIN);
    src.partition = 5;
    ck_assert_int_eq(desk_offer(desk, &other, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_off_partition, 1);
    ck_assert(desk_ticket(desk, "P")->tg[STG_FIRST_REPLY].done); /* applied all the same */
    /* a duplicate is only a duplicate */
    ck_assert_int_eq(desk_offer(desk, &other, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_off_partition, 1);

    /* held until their received: counted when released */
    ComplaintEvent early = ev_of("Q", CT_CONTACTED, MON0900 + MIN), early2 = ev_of("Q", CT_RESOLVED, MON0900 + H);
    src.partition = 2;
    ck_assert_int_eq(desk_offer(desk, &early, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    src.partition = 4;
    ck_assert_int_eq(desk_offer(desk, &early2, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_held, 2);
    ck_assert_uint_eq(eff.n_off_partition, 1);
    ComplaintEvent rq = ev_of("Q", CT_RECEIVED, MON0900);
    ck_assert_int_eq(desk_offer(desk, &rq, NULL, &src, &clock_, LATER, BIG, BIG, &eff), DESK_APPLIED);
    ck_assert_uint_eq(eff.n_released, 2);
    ck_assert_uint_eq(eff.n_off_partition, 2); /* the contacted, on 2; the resolved came on 4, as the received */
    ck_assert(desk_ticket(desk, "Q")->tg[STG_RESOLVE].done);

    /* loaded from a snapshot: the partition is not known */
    uint8_t *snap;
    size_t len;
    ck_assert_ptr_nonnull(snap = tkt_pack(desk_ticket(desk, "P"), &len));
    char err[64];
    Ticket *t = tkt_unpack(snap, len, err, sizeof err);
    free(snap);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->part, -1);
    tkt_free(t);
}
END_TEST

Suite *suite_desk(void)
{
    Suite *s = suite_create("desk");
    TCase *tc = tcase_create("desk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_event_clock_fires_deadlines_before_an_event);
    tcase_add_test(tc, test_off_partition_counted);
    tcase_add_test(tc, test_event_at_the_deadline_is_met);
    tcase_add_test(tc, test_late_event_does_not_move_the_clock);
    tcase_add_test(tc, test_wall_mode_applies_at_once);
    tcase_add_test(tc, test_offer_full_when_no_room);
    tcase_add_test(tc, test_fire_due_in_bounded_chunks);
    tcase_add_test(tc, test_fire_due_makes_progress_with_a_tiny_bound);
    tcase_add_test(tc, test_hold_and_release_in_event_time_order);
    tcase_add_test(tc, test_held_events_expire_into_dead_letters);
    tcase_add_test(tc, test_one_event_id_held_for_two_tickets);
    tcase_add_test(tc, test_held_expiry_is_bounded);
    tcase_add_test(tc, test_held_events_over_hold_max_go_oldest_first);
    tcase_add_test(tc, test_duplicates_change_nothing);
    tcase_add_test(tc, test_duplicate_of_a_held_event);
    tcase_add_test(tc, test_eviction_of_old_closed_tickets);
    tcase_add_test(tc, test_forgotten_ticket_is_read_back);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_policy_reload_recomputes_in_chunks);
    tcase_add_test(tc, test_policy_reload_rearms_stalls_and_reviews);
    tcase_add_test(tc, test_bulk_end_passed_while_stopped);
    tcase_add_test(tc, test_bulk_made_by_a_late_complaint_ends_at_once);
    tcase_add_test(tc, test_merge_orders_partitions_for_the_event_clock);
    tcase_add_test(tc, test_implausible_times_are_dead_lettered);
    tcase_add_test(tc, test_invalid_leaves_bulk);
    tcase_add_test(tc, test_late_horizons_do_not_depend_on_housekeeping);
    tcase_add_test(tc, test_category_review_from_scans);
    tcase_add_test(tc, test_old_signed_parcel_forgotten_without_a_sweep);
    tcase_add_test(tc, test_invalid_counted_where_received);
    tcase_add_test(tc, test_invalid_repeat_leaves_repeats);
    tcase_add_test(tc, test_late_repeat_after_a_sweep);
    tcase_add_test(tc, test_retracted_breach_not_counted);
    tcase_add_test(tc, test_moved_breach_counted_once);
    tcase_add_test(tc, test_firing_breach_follows_a_reclassification);
    tcase_add_test(tc, test_scan_sent_again_is_a_duplicate);
    tcase_add_test(tc, test_accountability_follows_the_category);
    tcase_add_test(tc, test_review_carries_the_scans_responsibility);
    tcase_add_test(tc, test_review_pending_is_not_ended_by_an_updated);
    tcase_add_test(tc, test_one_scan_moves_tickets_in_received_order);
    suite_add_tcase(s, tc);
    return s;
}
