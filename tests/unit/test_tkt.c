/* Unit tests for lib/tkt: the ticket state machine (contract §4-§6, §9).
 *
 * Every ticket is built through events, as the daemon builds it. Times are
 * written at +08:00, the desk's local time; 2026-11-23 is a Monday and the
 * default calendar counts every weekday (08:00-12:00, 14:00-20:00). Expected
 * instants are worked out by hand, not with cal_add, so that the table checks
 * the policy and the state machine together. */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "cal.h"
#include "evt.h"
#include "policy.h"
#include "timeutil.h"
#include "tkt.h"
#include "testutil.h"

#define H 3600
#define TID "T-100"

/* Monday 09:00, the default instant of a `received`. */
#define MON0900 "2026-11-23T09:00:00+08:00"

static Policy *pol;
static AlertList al;

static void setup(void)
{
    pol = pol_new();
    ck_assert_ptr_nonnull(pol);
    memset(&al, 0, sizeof al);
}

static void teardown(void)
{
    alert_list_free(&al);
    pol_free(pol);
    pol = NULL;
}

static int64_t T(const char *s)
{
    int64_t t = 0;
    ck_assert_msg(tu_parse_rfc3339(s, &t) == 0, "bad test time %s", s);
    return t;
}

static const char *fmt(int64_t t, char *buf)
{
    if (t == TU_NEVER)
        return strcpy(buf, "never");
    tu_format_rfc3339(t, 480, buf);
    return buf;
}

#define ck_time(got, want, what)                                                                                       \
    do {                                                                                                               \
        int64_t g_ = (got), w_ = (want);                                                                               \
        char gb_[TU_RFC3339_LEN], wb_[TU_RFC3339_LEN];                                                                 \
        ck_assert_msg(g_ == w_, "%s: got %s, want %s", (what), fmt(g_, gb_), fmt(w_, wb_));                            \
    } while (0)

/* ---- building tickets through events ------------------------------------ */

static ComplaintEvent mk(ComplaintType type, int64_t at)
{
    static int seq;
    ComplaintEvent ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.event_id, sizeof ev.event_id, "ev-%d", ++seq);
    snprintf(ev.ticket_id, sizeof ev.ticket_id, "%s", TID);
    ev.type = type;
    ev.occurred_at = at;
    return ev;
}

typedef struct Recv {
    const char *at;
    Channel channel;
    Category category;
    bool claim, major;
    const char *region; /* NULL: absent */
} Recv;

static Ticket *receive(Recv r)
{
    ComplaintEvent ev = mk(CT_RECEIVED, T(r.at ? r.at : MON0900));
    ev.channel = r.channel;
    ev.category = r.category;
    ev.has = EVF_CHANNEL | EVF_CATEGORY | EVF_CLAIM | EVF_MAJOR;
    ev.claim = r.claim;
    ev.major = r.major;
    if (r.region) {
        ev.has |= EVF_REGION;
        snprintf(ev.region, sizeof ev.region, "%s", r.region);
    }
    Ticket *t = tkt_new(&ev, pol, &al);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* A plain normal ticket: hotline, delay, no claim, received Monday 09:00. */
static Ticket *receive_normal(void)
{
    return receive((Recv){MON0900, CH_HOTLINE, CAT_DELAY, false, false, NULL});
}

/* pause_max = 0: a pause without `until` lasts until its resumed. */
static void no_pause_max(void)
{
    char err[128];
    ck_assert_int_eq(pol_set(pol, "pause_max", "0", err, sizeof err), 0);
}

static TktResult apply_at(Ticket *t, const ComplaintEvent *ev, int64_t now)
{
    char detail[EVT_DETAIL_MAX];
    return tkt_apply(t, ev, pol, now, &al, detail, sizeof detail);
}

/* Applies an event of `type` at `at` with the daemon's clock at the same instant. */
static TktResult step(Ticket *t, ComplaintType type, int64_t at)
{
    ComplaintEvent ev = mk(type, at);
    return apply_at(t, &ev, at);
}

static void step_ok(Ticket *t, ComplaintType type, int64_t at)
{
    ck_assert_int_eq(step(t, type, at), TKT_APPLIED);
}

static TktResult revisit(Ticket *t, bool satisfied, int64_t at, int64_t now)
{
    ComplaintEvent ev = mk(CT_REVISIT, at);
    ev.has = EVF_SATISFIED;
    ev.satisfied = satisfied;
    return apply_at(t, &ev, now);
}

static TktResult extend(Ticket *t, ExtStage s, int hours, int64_t at, int64_t now)
{
    ComplaintEvent ev = mk(CT_EXTENDED, at);
    ev.ext_stage = s;
    ev.ext_hours = hours;
    return apply_at(t, &ev, now);
}

static TktResult update_major(Ticket *t, bool major, int64_t at)
{
    ComplaintEvent ev = mk(CT_UPDATED, at);
    ev.has = EVF_MAJOR;
    ev.major = major;
    return apply_at(t, &ev, at);
}

static TktResult update_claim(Ticket *t, bool claim, int64_t at)
{
    ComplaintEvent ev = mk(CT_UPDATED, at);
    ev.has = EVF_CLAIM;
    ev.claim = claim;
    return apply_at(t, &ev, at);
}

static TktResult update_validity(Ticket *t, bool invalid, int64_t at)
{
    ComplaintEvent ev = mk(CT_UPDATED, at);
    ev.has = EVF_VALIDITY;
    ev.invalid = invalid;
    return apply_at(t, &ev, at);
}

/* ---- looking at alerts -------------------------------------------------- */

static int count_alerts(AlertType type, AlertStatus st)
{
    int n = 0;
    for (size_t i = 0; i < al.n; i++)
        if (al.v[i].type == type && al.v[i].status == st)
            n++;
    return n;
}

/* The one alert of this type, status and stage (-1: any stage); fails on none or several. */
static const Alert *the_alert(AlertType type, AlertStatus st, int stage)
{
    const Alert *found = NULL;
    for (size_t i = 0; i < al.n; i++) {
        const Alert *a = &al.v[i];
        if (a->type != type || a->status != st || (stage >= 0 && a->stage != stage))
            continue;
        ck_assert_msg(found == NULL, "two %s %s alerts for stage %d", alert_type_name(type), alert_status_name(st),
                      stage);
        found = a;
    }
    ck_assert_msg(found != NULL, "no %s %s alert for stage %d", alert_type_name(type), alert_status_name(st), stage);
    return found;
}

static bool has_alert(AlertType type, AlertStatus st, int stage)
{
    for (size_t i = 0; i < al.n; i++)
        if (al.v[i].type == type && al.v[i].status == st && (stage < 0 || al.v[i].stage == stage))
            return true;
    return false;
}

static json_t *encode(const Alert *a)
{
    char *s = alert_encode(a, 480);
    ck_assert_ptr_nonnull(s);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    ck_assert_msg(j != NULL, "alert_encode gave bad JSON: %s", err.text);
    free(s);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "field %s is not a string", k);
    return json_string_value(v);
}

/* ==== (a) the SLA table of contract §6 ==================================== */

typedef enum { V_NORMAL, V_MAJOR, V_CHANNEL, V_REOPENED } Variant;

/* Reopened rows: round 1 resolved Monday 15:00, revisit unsatisfied Tuesday
 * 11:00, so round 2 starts Tuesday 11:00. */
#define REOPEN_RESOLVED "2026-11-23T15:00:00+08:00"
#define REOPEN_AT "2026-11-24T11:00:00+08:00"

static const struct SlaCase {
    Stage stage;
    Variant var;
    bool claim;
    const char *region;
    const char *received; /* NULL: Monday 09:00 */
    const char *resolved; /* revisit rows: when the round's `resolved` happens */
    const char *deadline;
    const char *warn;
} sla_cases[] = {
    /* contact: 2 business hours, warn at 80 % = 96 business minutes */
    {STG_CONTACT, V_NORMAL, false, NULL, NULL, NULL, "2026-11-23T11:00:00+08:00", "2026-11-23T10:36:00+08:00"},
    {STG_CONTACT, V_MAJOR, false, NULL, NULL, NULL, "2026-11-23T11:00:00+08:00", "2026-11-23T10:36:00+08:00"},
    {STG_CONTACT, V_CHANNEL, false, NULL, NULL, NULL, "2026-11-23T11:00:00+08:00", "2026-11-23T10:36:00+08:00"},
    /* Tuesday 11:00 + 1 h to lunch, then 14:00-15:00 */
    {STG_CONTACT, V_REOPENED, false, NULL, NULL, NULL, "2026-11-24T15:00:00+08:00", "2026-11-24T14:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, true, NULL, NULL, NULL, "2026-11-23T11:00:00+08:00", "2026-11-23T10:36:00+08:00"},

    /* first_reply: calendar 48 h / 24 h / 24 h, warn at 80 % (38h24m, 19h12m) */
    {STG_FIRST_REPLY, V_NORMAL, false, NULL, NULL, NULL, "2026-11-25T09:00:00+08:00", "2026-11-24T23:24:00+08:00"},
    {STG_FIRST_REPLY, V_MAJOR, false, NULL, NULL, NULL, "2026-11-24T09:00:00+08:00", "2026-11-24T04:12:00+08:00"},
    {STG_FIRST_REPLY, V_CHANNEL, false, NULL, NULL, NULL, "2026-11-24T09:00:00+08:00", "2026-11-24T04:12:00+08:00"},
    {STG_FIRST_REPLY, V_REOPENED, false, NULL, NULL, NULL, "2026-11-25T11:00:00+08:00", "2026-11-25T06:12:00+08:00"},
    {STG_FIRST_REPLY, V_NORMAL, true, NULL, NULL, NULL, "2026-11-25T09:00:00+08:00", "2026-11-24T23:24:00+08:00"},

    /* resolve, no claim: 48 h (warn 24 h) / 24 h / 50 business h (warn 40 business h):
     * Tuesday 11:00 gives 7 h that day, Wednesday-Saturday 40 h, then 3 h on Sunday. */
    {STG_RESOLVE, V_NORMAL, false, NULL, NULL, NULL, "2026-11-25T09:00:00+08:00", "2026-11-24T09:00:00+08:00"},
    {STG_RESOLVE, V_MAJOR, false, NULL, NULL, NULL, "2026-11-24T09:00:00+08:00", "2026-11-24T04:12:00+08:00"},
    {STG_RESOLVE, V_CHANNEL, false, NULL, NULL, NULL, "2026-11-24T09:00:00+08:00", "2026-11-24T04:12:00+08:00"},
    {STG_RESOLVE, V_REOPENED, false, NULL, NULL, NULL, "2026-11-29T11:00:00+08:00", "2026-11-28T11:00:00+08:00"},

    /* resolve, claim: 120 h (warn 96 h) / 72 h (warn 57h36m) / 50 business h */
    {STG_RESOLVE, V_NORMAL, true, NULL, NULL, NULL, "2026-11-28T09:00:00+08:00", "2026-11-27T09:00:00+08:00"},
    {STG_RESOLVE, V_MAJOR, true, NULL, NULL, NULL, "2026-11-26T09:00:00+08:00", "2026-11-25T18:36:00+08:00"},
    {STG_RESOLVE, V_CHANNEL, true, NULL, NULL, NULL, "2026-11-26T09:00:00+08:00", "2026-11-25T18:36:00+08:00"},
    {STG_RESOLVE, V_REOPENED, true, NULL, NULL, NULL, "2026-11-29T11:00:00+08:00", "2026-11-28T11:00:00+08:00"},

    /* revisit: 10 business h from `resolved`, warn at 8. Monday 15:00: 5 h that
     * day, 4 h Tuesday morning, 1 h after lunch. */
    {STG_REVISIT, V_NORMAL, false, NULL, NULL, "2026-11-23T15:00:00+08:00", "2026-11-24T15:00:00+08:00",
     "2026-11-24T11:00:00+08:00"},
    {STG_REVISIT, V_MAJOR, false, NULL, NULL, "2026-11-23T15:00:00+08:00", "2026-11-24T15:00:00+08:00",
     "2026-11-24T11:00:00+08:00"},
    {STG_REVISIT, V_CHANNEL, true, NULL, NULL, "2026-11-23T15:00:00+08:00", "2026-11-24T15:00:00+08:00",
     "2026-11-24T11:00:00+08:00"},
    /* Round 2 resolved Wednesday 10:00: the warn point runs out exactly at 20:00. */
    {STG_REVISIT, V_REOPENED, false, NULL, NULL, "2026-11-25T10:00:00+08:00", "2026-11-26T10:00:00+08:00",
     "2026-11-25T20:00:00+08:00"},

    /* Business clock across lunch and night. */
    {STG_CONTACT, V_NORMAL, false, NULL, "2026-11-23T11:00:00+08:00", NULL, "2026-11-23T15:00:00+08:00",
     "2026-11-23T14:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, NULL, "2026-11-23T12:30:00+08:00", NULL, "2026-11-23T16:00:00+08:00",
     "2026-11-23T15:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, NULL, "2026-11-23T18:00:00+08:00", NULL, "2026-11-23T20:00:00+08:00",
     "2026-11-23T19:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, NULL, "2026-11-23T19:00:00+08:00", NULL, "2026-11-24T09:00:00+08:00",
     "2026-11-24T08:36:00+08:00"},
    {STG_CONTACT, V_MAJOR, false, NULL, "2026-11-23T21:00:00+08:00", NULL, "2026-11-24T10:00:00+08:00",
     "2026-11-24T09:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, NULL, "2026-11-28T19:30:00+08:00", NULL, "2026-11-29T09:30:00+08:00",
     "2026-11-29T09:06:00+08:00"}, /* Saturday night into Sunday: weekends work by default */
    {STG_REVISIT, V_NORMAL, false, NULL, NULL, "2026-11-23T20:00:00+08:00", "2026-11-24T20:00:00+08:00",
     "2026-11-24T18:00:00+08:00"},

    /* Xinjiang and Tibet: windows 10:00-14:00, 16:00-22:00. */
    {STG_CONTACT, V_NORMAL, false, "65", NULL, NULL, "2026-11-23T12:00:00+08:00", "2026-11-23T11:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, "xinjiang", NULL, NULL, "2026-11-23T12:00:00+08:00", "2026-11-23T11:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, "Tibet", NULL, NULL, "2026-11-23T12:00:00+08:00", "2026-11-23T11:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, "54", "2026-11-23T13:00:00+08:00", NULL, "2026-11-23T17:00:00+08:00",
     "2026-11-23T16:36:00+08:00"},
    {STG_CONTACT, V_CHANNEL, false, "65", "2026-11-23T21:00:00+08:00", NULL, "2026-11-24T11:00:00+08:00",
     "2026-11-24T10:36:00+08:00"},
    {STG_CONTACT, V_NORMAL, false, "65", "2026-11-23T23:00:00+08:00", NULL, "2026-11-24T12:00:00+08:00",
     "2026-11-24T11:36:00+08:00"},
    {STG_CONTACT, V_REOPENED, false, "65", NULL, NULL, "2026-11-24T13:00:00+08:00", "2026-11-24T12:36:00+08:00"},
    /* resolved Monday 15:00, in the shifted lunch: 16:00-22:00, then Tuesday 10:00-14:00 */
    {STG_REVISIT, V_NORMAL, false, "65", NULL, "2026-11-23T15:00:00+08:00", "2026-11-24T14:00:00+08:00",
     "2026-11-24T12:00:00+08:00"},
    /* Tuesday 11:00: 3 + 6 h, Wednesday-Saturday 40 h, Sunday 10:00-11:00 */
    {STG_RESOLVE, V_REOPENED, false, "65", NULL, NULL, "2026-11-29T11:00:00+08:00", "2026-11-28T11:00:00+08:00"},
    /* a region that is not shifted, and calendar targets that ignore the shift */
    {STG_CONTACT, V_NORMAL, false, "44", NULL, NULL, "2026-11-23T11:00:00+08:00", "2026-11-23T10:36:00+08:00"},
    {STG_FIRST_REPLY, V_NORMAL, false, "65", NULL, NULL, "2026-11-25T09:00:00+08:00", "2026-11-24T23:24:00+08:00"},
    {STG_RESOLVE, V_MAJOR, true, "65", NULL, NULL, "2026-11-26T09:00:00+08:00", "2026-11-25T18:36:00+08:00"},
};

static Ticket *build_case(const struct SlaCase *c)
{
    Ticket *t = receive((Recv){c->received, c->var == V_CHANNEL ? CH_REGULATOR : CH_ONLINE, CAT_DAMAGE, c->claim,
                               c->var == V_MAJOR, c->region});
    if (c->var == V_REOPENED) {
        step_ok(t, CT_RESOLVED, T(REOPEN_RESOLVED));
        ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    }
    if (c->resolved)
        step_ok(t, CT_RESOLVED, T(c->resolved));
    return t;
}

START_TEST(test_sla_table)
{
    const struct SlaCase *c = &sla_cases[_i];
    Ticket *t = build_case(c);
    int round = c->var == V_REOPENED ? 2 : 1;
    ck_assert_int_eq(t->round, round);
    ck_assert(t->urgent == (c->var != V_NORMAL));
    ck_assert_int_eq(t->tg[c->stage].done, false);

    int64_t dl = T(c->deadline), warn = T(c->warn);
    ck_time(tu32_get(t->tg[c->stage].deadline), dl, "deadline");
    ck_time(tu32_get(t->tg[c->stage].warn_at), warn, "warn point");

    /* The alerts fire at those instants, not a second earlier. */
    alert_list_reset(&al);
    tkt_advance(t, warn - 1, &al);
    ck_assert(!has_alert(AL_SLA_WARNING, AS_FIRING, (int)c->stage));
    tkt_advance(t, warn, &al);
    const Alert *a = the_alert(AL_SLA_WARNING, AS_FIRING, (int)c->stage);
    char id[ALERT_ID_MAX + 1];
    snprintf(id, sizeof id, "sla_warning/%s/%d/%s", TID, round, tkt_stage_name(c->stage));
    ck_assert_str_eq(a->alert_id, id);
    ck_time(a->condition_at, warn, "warning condition_at");
    ck_time(a->deadline, dl, "warning deadline");
    ck_assert_int_eq(a->priority, c->var != V_NORMAL);

    tkt_advance(t, dl - 1, &al);
    ck_assert(!has_alert(AL_SLA_BREACH, AS_FIRING, (int)c->stage));
    tkt_advance(t, dl, &al);
    a = the_alert(AL_SLA_BREACH, AS_FIRING, (int)c->stage);
    snprintf(id, sizeof id, "sla_breach/%s/%d/%s", TID, round, tkt_stage_name(c->stage));
    ck_assert_str_eq(a->alert_id, id);
    ck_time(a->condition_at, dl, "breach condition_at");
    ck_time(a->deadline, dl, "breach deadline");
    tkt_free(t);
}
END_TEST

/* Every cell of the default table is what contract §6 says. */
START_TEST(test_policy_defaults_cover_table)
{
    static const struct {
        PolTarget tgt;
        int64_t budget[3];
        ClockKind clock[3];
        int64_t warn[3];
    } rows[] = {
        {TGT_CONTACT, {2 * H, 2 * H, 2 * H}, {CLK_BUSINESS, CLK_BUSINESS, CLK_BUSINESS}, {-1, -1, -1}},
        {TGT_FIRST_REPLY, {48 * H, 24 * H, 24 * H}, {CLK_CALENDAR, CLK_CALENDAR, CLK_CALENDAR}, {-1, -1, -1}},
        {TGT_RESOLVE, {48 * H, 24 * H, 50 * H}, {CLK_CALENDAR, CLK_CALENDAR, CLK_BUSINESS}, {24 * H, -1, -1}},
        {TGT_RESOLVE_CLAIM, {120 * H, 72 * H, 50 * H}, {CLK_CALENDAR, CLK_CALENDAR, CLK_BUSINESS}, {96 * H, -1, -1}},
        {TGT_REVISIT, {10 * H, 10 * H, 10 * H}, {CLK_BUSINESS, CLK_BUSINESS, CLK_BUSINESS}, {-1, -1, -1}},
    };
    for (int i = 0; i < NELEM(rows); i++)
        for (int v = 0; v < 3; v++) {
            const SlaRule *r = &pol->sla[rows[i].tgt][v];
            ck_assert_int_eq(r->budget, rows[i].budget[v]);
            ck_assert_int_eq(r->clock, rows[i].clock[v]);
            ck_assert_int_eq(r->warn, rows[i].warn[v]);
        }
    ck_assert_int_eq(pol->warn_ratio_pct, 80);
    ck_assert_int_eq(pol->statutory_limit, 7 * 24 * H);
}
END_TEST

/* The revisit target waits for `resolved`; nothing runs before it. */
START_TEST(test_revisit_not_before_resolved)
{
    Ticket *t = receive_normal();
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), TU_NEVER, "revisit deadline");
    ck_time(tu32_get(t->tg[STG_REVISIT].warn_at), TU_NEVER, "revisit warn");
    step_ok(t, CT_FIRST_REPLY, T("2026-11-23T10:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), TU_NEVER, "revisit deadline");
    tkt_free(t);
}
END_TEST

/* ==== (b) transitions of contract §4 ====================================== */

START_TEST(test_new_ticket)
{
    Ticket *t = receive((Recv){MON0900, CH_APP, CAT_LOSS, true, false, "65"});
    ck_assert_str_eq(tkt_id(t), TID);
    ck_assert_int_eq(t->round, 1);
    ck_assert(!t->urgent);
    ck_assert_uint_eq(t->reasons, 0);
    ck_assert(t->claim);
    ck_assert_str_eq(tkt_region(t), "65");
    ck_time(tu32_get(t->received_at), T(MON0900), "received_at");
    ck_time(tu32_get(t->round_start), T(MON0900), "round_start");
    ck_assert_str_eq(tkt_status(t), "received");
    ck_assert(tkt_open(t));
    ck_assert_uint_eq(al.n, 0); /* a normal ticket says nothing at birth */
    tkt_free(t);
    tkt_free(NULL);
}
END_TEST

/* A later stage completes the earlier ones at the same instant. */
START_TEST(test_implied_stages)
{
    Ticket *t = receive_normal();
    int64_t at = T("2026-11-23T09:20:00+08:00");
    step_ok(t, CT_RESOLVED, at);
    for (int s = STG_CONTACT; s <= STG_RESOLVE; s++) {
        ck_assert(t->tg[s].done);
        ck_time(tu32_get(t->tg[s].done_at), at, tkt_stage_name((Stage)s));
        ck_time(tu32_get(t->tg[s].deadline), TU_NEVER, "deadline of a done stage");
    }
    ck_assert(!t->tg[STG_REVISIT].done);
    ck_time(tu32_get(t->last_resolved_at), at, "last_resolved_at");
    ck_assert_str_eq(tkt_status(t), "resolved");
    /* Met in time: no alert at all. */
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);

    t = receive_normal();
    step_ok(t, CT_FIRST_REPLY, at);
    ck_assert(t->tg[STG_CONTACT].done && t->tg[STG_FIRST_REPLY].done && !t->tg[STG_RESOLVE].done);
    ck_time(tu32_get(t->tg[STG_CONTACT].done_at), at, "contact");
    ck_assert_str_eq(tkt_status(t), "first_reply");
    tkt_free(t);
}
END_TEST

/* An event for a stage already completed is history; the state never moves back. */
START_TEST(test_completed_stage_is_history)
{
    Ticket *t = receive_normal();
    int64_t at = T("2026-11-23T10:00:00+08:00");
    step_ok(t, CT_FIRST_REPLY, at);
    ck_assert_int_eq(step(t, CT_CONTACTED, at + 60), TKT_HISTORY);
    ck_assert_int_eq(step(t, CT_FIRST_REPLY, at + 60), TKT_HISTORY);
    ck_time(tu32_get(t->tg[STG_CONTACT].done_at), at, "contact keeps its first completion");
    step_ok(t, CT_RESOLVED, at + 120);
    ck_assert_int_eq(step(t, CT_RESOLVED, at + 180), TKT_HISTORY);
    ck_assert_int_eq(step(t, CT_CONTACTED, at + 180), TKT_HISTORY);
    /* A second `received` is history too. */
    ck_assert_int_eq(step(t, CT_RECEIVED, at + 200), TKT_HISTORY);
    ck_assert_str_eq(tkt_status(t), "resolved");
    tkt_free(t);
}
END_TEST

START_TEST(test_revisit_before_resolved_invalid)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_FIRST_REPLY, T("2026-11-23T10:00:00+08:00"));
    ComplaintEvent ev = mk(CT_REVISIT, T("2026-11-23T11:00:00+08:00"));
    ev.has = EVF_SATISFIED;
    ev.satisfied = true;
    char detail[EVT_DETAIL_MAX] = "x";
    ck_assert_int_eq(tkt_apply(t, &ev, pol, ev.occurred_at, &al, detail, sizeof detail), TKT_INVALID);
    ck_assert_msg(detail[0] != '\0', "an invalid transition says why");
    ck_assert(tkt_open(t));
    ck_assert_int_eq(t->round, 1);
    ck_assert_str_eq(tkt_status(t), "first_reply");
    tkt_free(t);

    /* closed without ever being resolved: still no revisit */
    t = receive_normal();
    step_ok(t, CT_CLOSED, T("2026-11-23T10:00:00+08:00"));
    ev = mk(CT_REVISIT, T("2026-11-23T11:00:00+08:00"));
    ev.has = EVF_SATISFIED;
    ck_assert_int_eq(tkt_apply(t, &ev, pol, ev.occurred_at, &al, detail, sizeof detail), TKT_INVALID);
    ck_assert(strstr(detail, "revisit") != NULL);
    tkt_free(t);
    /* resolved, then closed: a revisit is history, as any event of a closed ticket */
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T10:00:00+08:00"));
    step_ok(t, CT_CLOSED, T("2026-11-23T10:30:00+08:00"));
    ev = mk(CT_REVISIT, T("2026-11-23T11:00:00+08:00"));
    ev.has = EVF_SATISFIED;
    ck_assert_int_eq(tkt_apply(t, &ev, pol, ev.occurred_at, &al, detail, sizeof detail), TKT_HISTORY);
    tkt_free(t);
}
END_TEST

START_TEST(test_revisit_satisfied_closes)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    alert_list_reset(&al); /* the late contact's breach */
    int64_t at = T("2026-11-24T10:00:00+08:00");
    ck_assert_int_eq(revisit(t, true, at, at), TKT_APPLIED);
    ck_assert(!tkt_open(t));
    ck_assert(t->tg[STG_REVISIT].done);
    ck_time(tu32_get(t->closed_at), at, "closed_at");
    ck_assert_str_eq(tkt_status(t), "closed");
    ck_time(tkt_next_due(t), TU_NEVER, "next due of a closed ticket");
    for (int s = 0; s < STG__COUNT; s++)
        ck_time(tu32_get(t->tg[s].deadline), TU_NEVER, "no clock after close");
    ck_assert_uint_eq(al.n, 0);
    /* Everything after the close is history. */
    ck_assert_int_eq(revisit(t, false, at + 60, at + 60), TKT_HISTORY);
    ck_assert_int_eq(step(t, CT_PAUSED, at + 60), TKT_HISTORY);
    ck_assert_int_eq(update_major(t, true, at + 60), TKT_HISTORY);
    ck_assert(!t->urgent);
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);
}
END_TEST

START_TEST(test_revisit_unsatisfied_reopens)
{
    Ticket *t = receive((Recv){MON0900, CH_HOTLINE, CAT_LOSS, true, false, NULL});
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    alert_list_reset(&al); /* the late contact's breach */
    int64_t v = T(REOPEN_AT);
    ck_assert_int_eq(revisit(t, false, v, v), TKT_APPLIED);

    ck_assert(tkt_open(t));
    ck_assert_int_eq(t->round, 2);
    ck_time(tu32_get(t->round_start), v, "round_start");
    ck_time(tu32_get(t->received_at), T(MON0900), "received_at stays the first one");
    ck_assert(t->urgent);
    ck_assert_uint_eq(t->reasons, RSN_REOPENED);
    ck_assert_str_eq(tkt_status(t), "reopened");
    for (int s = 0; s < STG__COUNT; s++)
        ck_assert_msg(!t->tg[s].done, "stage %d starts afresh", s);

    const Alert *a = the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1);
    ck_assert_str_eq(a->alert_id, "ticket_escalated/" TID "/2");
    ck_assert_int_eq(a->round, 2);
    ck_time(a->condition_at, v, "escalation condition_at");
    ck_assert_int_eq(a->priority, 1);
    ck_assert_uint_eq(a->reasons, RSN_REOPENED);
    ck_assert_uint_eq(al.n, 1);

    /* Reopened budgets run from the revisit (claim or not: 50 business h). */
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-24T15:00:00+08:00"), "contact");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T11:00:00+08:00"), "first_reply");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-29T11:00:00+08:00"), "resolve");
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), TU_NEVER, "revisit");

    /* The statutory cap is round 1's alone: round 2 may run past received + 7 d. */
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 100, v + 60, v + 60), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), cal_add(pol->cal, 0, v, 150 * H), "round 2 resolve, 150 business h");
    ck_assert(tu32_get(t->tg[STG_RESOLVE].deadline) > tu32_get(t->received_at) + pol->statutory_limit);

    /* A third round escalates again, with its own id. */
    step_ok(t, CT_RESOLVED, T("2026-11-25T10:00:00+08:00"));
    alert_list_reset(&al);
    ck_assert_int_eq(revisit(t, false, T("2026-11-25T16:00:00+08:00"), T("2026-11-25T16:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(t->round, 3);
    ck_assert_str_eq(the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1)->alert_id, "ticket_escalated/" TID "/3");

    /* The close ends both escalations. */
    alert_list_reset(&al);
    step_ok(t, CT_CLOSED, T("2026-11-25T17:00:00+08:00"));
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_RESOLVED), 2);
    tkt_free(t);
}
END_TEST

/* A reopened round of a ticket that was urgent already keeps every reason. */
START_TEST(test_reopen_keeps_reasons)
{
    Ticket *t = receive((Recv){MON0900, CH_MEDIA, CAT_DAMAGE, false, true, NULL});
    ck_assert_uint_eq(t->reasons, RSN_MAJOR | RSN_CHANNEL);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 1);
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    ck_assert_uint_eq(t->reasons, RSN_MAJOR | RSN_CHANNEL | RSN_REOPENED);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 2);
    /* reopened budgets, not the urgent ones */
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-29T11:00:00+08:00"), "resolve");
    tkt_free(t);
}
END_TEST

START_TEST(test_closed_resolves_firing_alerts)
{
    Ticket *t = receive((Recv){MON0900, CH_REGULATOR, CAT_LOSS, false, false, NULL});
    int64_t now = T("2026-11-24T06:00:00+08:00");
    tkt_advance(t, now, &al);
    /* contact breached, first_reply and resolve warned (urgent: 04:12) */
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 1);
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_FIRING), 3);
    ck_assert_int_eq(tkt_mark_repeat(t, "T-099", now, pol, now, &al), 0);
    ck_assert_int_eq(count_alerts(AL_REPEAT_COMPLAINT, AS_FIRING), 1);

    alert_list_reset(&al);
    int64_t at = T("2026-11-24T07:00:00+08:00");
    step_ok(t, CT_CLOSED, at);
    ck_assert(!tkt_open(t));
    ck_assert_str_eq(tkt_status(t), "closed");
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_RESOLVED), 3);
    const Alert *b = the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_CONTACT);
    ck_assert_str_eq(b->alert_id, "sla_breach/" TID "/1/contact");
    ck_assert(!b->has_late_by); /* closed, not completed */
    ck_time(b->condition_at, T("2026-11-23T11:00:00+08:00"), "breach condition_at");
    const Alert *e = the_alert(AL_TICKET_ESCALATED, AS_RESOLVED, -1);
    ck_assert_str_eq(e->alert_id, "ticket_escalated/" TID "/1");
    ck_time(e->condition_at, T(MON0900), "escalation condition_at");
    const Alert *r = the_alert(AL_REPEAT_COMPLAINT, AS_RESOLVED, -1);
    ck_assert_str_eq(r->alert_id, "repeat_complaint/" TID);
    ck_assert_str_eq(r->previous_ticket_id, "T-099");
    ck_assert_uint_eq(al.n, 6);
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_FIRING) + count_alerts(AL_SLA_BREACH, AS_FIRING), 0);

    /* Closed: nothing more fires, whatever time passes, and events are history. */
    alert_list_reset(&al);
    tkt_advance(t, T("2026-12-31T00:00:00+08:00"), &al);
    ck_assert_uint_eq(al.n, 0);
    ck_time(tkt_next_due(t), TU_NEVER, "next due");
    ck_assert_int_eq(step(t, CT_RESOLVED, at + 60), TKT_HISTORY);
    ck_assert_int_eq(step(t, CT_CLOSED, at + 60), TKT_HISTORY);
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 5, at + 60, at + 60), TKT_HISTORY);
    ck_assert(!tkt_make_urgent(t, RSN_BULK, at + 60, pol, at + 60, &al));
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);
}
END_TEST

/* updated: deadlines recomputed from the round's start. */
START_TEST(test_updated_claim_recomputes)
{
    Ticket *t = receive_normal();
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T09:00:00+08:00"), "48 h");
    ck_assert_int_eq(update_claim(t, true, T("2026-11-23T12:00:00+08:00")), TKT_APPLIED);
    ck_assert(t->claim);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-28T09:00:00+08:00"), "120 h from received");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-27T09:00:00+08:00"), "96 h from received");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T09:00:00+08:00"), "first_reply unchanged");
    /* and back */
    ck_assert_int_eq(update_claim(t, false, T("2026-11-23T13:00:00+08:00")), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T09:00:00+08:00"), "48 h again");

    /* Other fields are taken as given. */
    ComplaintEvent ev = mk(CT_UPDATED, T("2026-11-23T13:30:00+08:00"));
    ev.has = EVF_CATEGORY | EVF_SITE | EVF_WAYBILL | EVF_REGION;
    ev.category = CAT_FEE;
    strcpy(ev.site, "SZ-9");
    strcpy(ev.waybill, "WB-1");
    strcpy(ev.region, "65");
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ck_assert_int_eq(t->category, CAT_FEE);
    ck_assert_str_eq(tkt_site(t), "SZ-9");
    ck_assert_str_eq(tkt_waybill(t), "WB-1");
    ck_assert_str_eq(tkt_region(t), "65");
    /* the region shift moves the business contact target: 10:00-12:00 */
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T12:00:00+08:00"), "shifted contact");
    ck_assert(!t->urgent);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 0);
    tkt_free(t);
}
END_TEST

START_TEST(test_updated_major_escalates_once)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    int64_t at = T("2026-11-23T12:00:00+08:00");
    ck_assert_int_eq(update_major(t, true, at), TKT_APPLIED);
    ck_assert(t->urgent && t->major);
    ck_assert_uint_eq(t->reasons, RSN_MAJOR);
    ck_time(tu32_get(t->urgent_at), at, "urgent_at");
    const Alert *a = the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1);
    ck_assert_str_eq(a->alert_id, "ticket_escalated/" TID "/1");
    ck_time(a->condition_at, at, "escalation condition_at");
    ck_assert_uint_eq(a->reasons, RSN_MAJOR);
    /* urgent budgets from the round's start (not clamped: still ahead) */
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-24T09:00:00+08:00"), "first_reply 24 h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-24T09:00:00+08:00"), "resolve 24 h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-24T04:12:00+08:00"), "resolve warn 80 %");

    /* Never twice, and priority never goes down. */
    ck_assert_int_eq(update_major(t, true, at + 60), TKT_APPLIED);
    ck_assert_int_eq(update_major(t, false, at + 120), TKT_APPLIED);
    ck_assert(t->urgent);
    ck_assert_uint_eq(t->reasons, RSN_MAJOR);
    ck_time(tu32_get(t->urgent_at), at, "urgent_at keeps the first rise");
    ck_assert_int_eq(update_major(t, true, at + 180), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 1);
    ck_assert_uint_eq(al.n, 1);

    /* claim on an urgent ticket: 72 h */
    ck_assert_int_eq(update_claim(t, true, at + 240), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-26T09:00:00+08:00"), "urgent claim 72 h");
    ck_assert(t->urgent);
    tkt_free(t);
}
END_TEST

/* Channel and major at once escalate once; bulk and repeat have their own alerts. */
START_TEST(test_escalation_reasons)
{
    Ticket *t = receive((Recv){MON0900, CH_SUPERVISOR_HOTLINE, CAT_DELAY, false, true, NULL});
    ck_assert_uint_eq(t->reasons, RSN_MAJOR | RSN_CHANNEL);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 1);
    ck_assert_uint_eq(al.n, 1);
    ck_assert_uint_eq(al.v[0].reasons, RSN_MAJOR | RSN_CHANNEL);
    tkt_free(t);

    static const Channel esc[] = {CH_REGULATOR, CH_CONSUMER_ASSOCIATION, CH_MEDIA, CH_SUPERVISOR_HOTLINE};
    static const Channel plain[] = {CH_HOTLINE, CH_ONLINE, CH_APP, CH_WECHAT, CH_EMAIL, CH_LETTER, CH_WALK_IN};
    for (int i = 0; i < NELEM(esc); i++) {
        alert_list_reset(&al);
        t = receive((Recv){MON0900, esc[i], CAT_DELAY, false, false, NULL});
        ck_assert(t->urgent);
        ck_assert_uint_eq(t->reasons, RSN_CHANNEL);
        ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 1);
        tkt_free(t);
    }
    for (int i = 0; i < NELEM(plain); i++) {
        alert_list_reset(&al);
        t = receive((Recv){MON0900, plain[i], CAT_DELAY, false, false, NULL});
        ck_assert(!t->urgent);
        ck_assert_uint_eq(al.n, 0);
        tkt_free(t);
    }

    /* bulk: urgent, no ticket_escalated */
    alert_list_reset(&al);
    t = receive_normal();
    int64_t at = T("2026-11-23T10:00:00+08:00");
    ck_assert(tkt_make_urgent(t, RSN_BULK, at, pol, at, &al));
    ck_assert(!tkt_make_urgent(t, RSN_BULK, at + 5, pol, at + 5, &al));
    ck_assert(t->urgent);
    ck_assert_uint_eq(t->reasons, RSN_BULK);
    ck_assert_uint_eq(al.n, 0);
    /* repeat: urgent and one repeat_complaint naming the earlier ticket */
    ck_assert_int_eq(tkt_mark_repeat(t, "T-001", at + 10, pol, at + 10, &al), 0);
    ck_assert_int_eq(tkt_mark_repeat(t, "T-002", at + 20, pol, at + 20, &al), 0);
    ck_assert_uint_eq(t->reasons, RSN_BULK | RSN_REPEAT);
    ck_assert_uint_eq(al.n, 1);
    const Alert *a = the_alert(AL_REPEAT_COMPLAINT, AS_FIRING, -1);
    ck_assert_str_eq(a->alert_id, "repeat_complaint/" TID);
    ck_assert_str_eq(a->previous_ticket_id, "T-001");
    ck_time(a->condition_at, at + 10, "repeat condition_at");
    /* a later major still escalates: it is its own reason */
    ck_assert_int_eq(update_major(t, true, at + 30), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 1);
    tkt_free(t);
}
END_TEST

/* §5: urgent budgets from the round's start, but never earlier than the rise. */
START_TEST(test_upgrade_clamp)
{
    /* Rise at Tuesday 05:00 (20 h): the urgent deadlines (Tuesday 09:00) are
     * ahead; the urgent warn points (04:12) are not and move to 05:00. */
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    int64_t up = T("2026-11-24T05:00:00+08:00");
    ck_assert_int_eq(update_major(t, true, up), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-24T09:00:00+08:00"), "first_reply");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].warn_at), up, "first_reply warn clamped");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-24T09:00:00+08:00"), "resolve");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), up, "resolve warn clamped");
    alert_list_reset(&al);
    tkt_advance(t, up, &al);
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_FIRING), 2);
    ck_time(the_alert(AL_SLA_WARNING, AS_FIRING, STG_RESOLVE)->condition_at, up, "warning at the rise");
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 0);
    tkt_free(t);

    /* Rise at Tuesday 15:00 (30 h): both urgent deadlines (24 h) lie before it. */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    up = T("2026-11-24T15:00:00+08:00");
    tkt_advance(t, up - 1, &al); /* the normal resolve warning (24 h) fired at 09:00 */
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_FIRING), 1);
    alert_list_reset(&al);
    ck_assert(tkt_make_urgent(t, RSN_BULK, up, pol, up, &al));
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), up, "first_reply clamped");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), up, "resolve clamped");
    ck_assert_uint_eq(al.n, 0); /* nothing fires retroactively */
    tkt_advance(t, up, &al);
    const Alert *b = the_alert(AL_SLA_BREACH, AS_FIRING, STG_FIRST_REPLY);
    ck_time(b->condition_at, up, "breach at the rise");
    ck_time(the_alert(AL_SLA_BREACH, AS_FIRING, STG_RESOLVE)->deadline, up, "resolve breach deadline");
    tkt_free(t);

    /* A target already overdue under the normal budget stays overdue at its
     * own deadline: the rise never makes a deadline later. Contact has the
     * same 2 h in both columns. */
    alert_list_reset(&al);
    t = receive_normal();
    tkt_advance(t, up - 1, &al);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 1);
    ck_assert_int_eq(update_major(t, true, up), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T11:00:00+08:00"), "overdue contact unchanged");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), up, "first_reply clamped");
    alert_list_reset(&al);
    step_ok(t, CT_CONTACTED, T("2026-11-24T14:00:00+08:00")); /* an hour before the rise, still late */
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_RETRACTED), 0);
    b = the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_CONTACT);
    ck_assert(b->has_late_by);
    ck_assert_int_eq(b->late_by_seconds, 27 * H);
    tkt_free(t);

    /* The revisit clock starts at `resolved`: a rise after it clamps there too
     * (same 10 h budget both ways, so nothing moves). */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    up = T("2026-11-23T17:00:00+08:00");
    ck_assert(tkt_make_urgent(t, RSN_BULK, up, pol, up, &al));
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), T("2026-11-24T15:00:00+08:00"), "revisit");
    tkt_free(t);
}
END_TEST

/* §6: paused time does not count; on resume deadlines move by the paused time
 * of their own clock. */
START_TEST(test_pause_resume_calendar_and_lunch)
{
    no_pause_max(); /* open-ended pauses: the §6 rules alone */
    Ticket *t = receive_normal();
    int64_t p0 = T("2026-11-23T10:00:00+08:00");
    step_ok(t, CT_PAUSED, p0);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), TU_NEVER, "contact while paused");
    ck_time(tu32_get(t->tg[STG_CONTACT].warn_at), TU_NEVER, "contact warn while paused");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), TU_NEVER, "first_reply while paused");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].warn_at), TU_NEVER, "first_reply warn while paused");
    /* the statutory limit does not stop */
    int64_t cap = T("2026-11-30T09:00:00+08:00");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), cap, "resolve while paused: the statutory cap");
    ck_assert(tu32_get(t->tg[STG_RESOLVE].warn_at) <= cap);
    ck_assert_int_eq(step(t, CT_PAUSED, p0 + 60), TKT_HISTORY); /* already paused */
    alert_list_reset(&al);
    tkt_advance(t, T("2026-11-26T00:00:00+08:00"), &al);
    ck_assert_uint_eq(al.n, 0); /* nothing is due while paused */

    /* Resume 13:00: 3 calendar hours paused, 2 business hours (10-12; lunch is free). */
    step_ok(t, CT_RESUMED, T("2026-11-23T13:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T15:00:00+08:00"), "contact: 1 h left, after lunch");
    ck_time(tu32_get(t->tg[STG_CONTACT].warn_at), T("2026-11-23T14:36:00+08:00"), "contact warn");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T12:00:00+08:00"), "first_reply +3 h");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].warn_at), T("2026-11-25T02:24:00+08:00"), "first_reply warn +3 h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T12:00:00+08:00"), "resolve +3 h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-24T12:00:00+08:00"), "resolve warn +3 h");
    ck_assert_int_eq(step(t, CT_RESUMED, T("2026-11-23T13:30:00+08:00")), TKT_HISTORY);

    /* A second pause adds up: 1 h more. */
    step_ok(t, CT_PAUSED, T("2026-11-24T08:00:00+08:00"));
    step_ok(t, CT_RESUMED, T("2026-11-24T09:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T13:00:00+08:00"), "first_reply +4 h");
    ck_assert_int_eq(tkt_n_pauses(t), 2);
    tkt_free(t);

    /* Pause across lunch only: received 11:00, paused 11:30-14:30. */
    alert_list_reset(&al);
    t = receive((Recv){"2026-11-23T11:00:00+08:00", CH_HOTLINE, CAT_DELAY, false, false, NULL});
    step_ok(t, CT_PAUSED, T("2026-11-23T11:30:00+08:00"));
    step_ok(t, CT_RESUMED, T("2026-11-23T14:30:00+08:00"));
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T16:00:00+08:00"), "contact, 90 min after 14:30");
    ck_time(tu32_get(t->tg[STG_CONTACT].warn_at), T("2026-11-23T15:36:00+08:00"), "contact warn");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T14:00:00+08:00"), "first_reply +3 h");
    tkt_free(t);
}
END_TEST

START_TEST(test_pause_across_night)
{
    no_pause_max(); /* open-ended pauses: the §6 rules alone */
    /* Received Monday 19:00 (due Tuesday 09:00); paused 19:30 to Tuesday 09:00:
     * 30 business minutes used, 90 left from 09:00. */
    Ticket *t = receive((Recv){"2026-11-23T19:00:00+08:00", CH_HOTLINE, CAT_DELAY, false, false, NULL});
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-24T09:00:00+08:00"), "contact before the pause");
    step_ok(t, CT_PAUSED, T("2026-11-23T19:30:00+08:00"));
    step_ok(t, CT_RESUMED, T("2026-11-24T09:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-24T10:30:00+08:00"), "contact");
    ck_time(tu32_get(t->tg[STG_CONTACT].warn_at), T("2026-11-24T10:06:00+08:00"), "contact warn");
    /* the calendar clock moves by the full 13.5 h */
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-26T08:30:00+08:00"), "first_reply");
    tkt_free(t);

    /* Revisit (business, from `resolved`), in a reopened round: paused over a
     * night costs only the business time inside the pause. */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T(REOPEN_RESOLVED));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    step_ok(t, CT_RESOLVED, T("2026-11-25T10:00:00+08:00")); /* revisit due Thursday 10:00 */
    step_ok(t, CT_PAUSED, T("2026-11-25T19:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), TU_NEVER, "revisit while paused (no cap in round 2)");
    step_ok(t, CT_RESUMED, T("2026-11-26T09:00:00+08:00")); /* 1 h + 1 h of business time paused */
    ck_time(tu32_get(t->tg[STG_REVISIT].deadline), T("2026-11-26T12:00:00+08:00"), "revisit");
    tkt_free(t);
}
END_TEST

/* A pause only stops what is still running: a deadline before the pause stays put. */
START_TEST(test_pause_after_deadline)
{
    Ticket *t = receive_normal();
    int64_t now = T("2026-11-23T11:30:00+08:00");
    tkt_advance(t, now, &al);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 1);
    alert_list_reset(&al);
    step_ok(t, CT_PAUSED, now);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T11:00:00+08:00"), "passed deadline kept");
    ck_assert_uint_eq(al.n, 0); /* the breach stays firing */
    step_ok(t, CT_RESUMED, now + H);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T11:00:00+08:00"), "passed deadline kept");
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);
}
END_TEST

START_TEST(test_extended)
{
    Ticket *t = receive_normal();
    int64_t at = T("2026-11-23T10:00:00+08:00");
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 10, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T19:00:00+08:00"), "first_reply 48 + 10 h");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].warn_at), T("2026-11-25T07:24:00+08:00"), "80 % of 58 h");
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 10, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T19:00:00+08:00"), "resolve 48 + 10 h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-24T19:00:00+08:00"), "explicit warn moves with it");
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 2, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T21:00:00+08:00"), "extensions add up");
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T11:00:00+08:00"), "contact untouched");
    step_ok(t, CT_FIRST_REPLY, at + 60);
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 10, at + 120, at + 120), TKT_HISTORY);
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);

    /* On the business clock of a reopened round: 50 + 5 business h from Tuesday
     * 11:00 runs to Sunday 18:00; the warn point (80 % = 44 h) to Saturday 17:00. */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T(REOPEN_RESOLVED));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    at = T("2026-11-24T12:00:00+08:00");
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 5, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-29T18:00:00+08:00"), "reopened resolve 55 business h");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-28T17:00:00+08:00"), "warn 44 business h");
    /* first_reply stays on the calendar clock in a reopened round */
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 3, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T14:00:00+08:00"), "reopened first_reply 27 h");
    tkt_free(t);
}
END_TEST

/* §6: round 1 resolve is due by received + 7 days whatever pauses and extensions say. */
START_TEST(test_statutory_cap)
{
    int64_t cap = T("2026-11-30T09:00:00+08:00");

    /* claim, 120 h + 60 h extension = 180 h > 168 h */
    Ticket *t = receive((Recv){MON0900, CH_HOTLINE, CAT_LOSS, true, false, NULL});
    int64_t at = T("2026-11-24T09:00:00+08:00");
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 60, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), cap, "capped");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-29T21:00:00+08:00"), "warn 96 + 60 h");
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 720, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), cap, "capped");
    ck_assert(tu32_get(t->tg[STG_RESOLVE].warn_at) <= cap);
    /* first_reply has no cap */
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 720, at, at), TKT_APPLIED);
    ck_assert(tu32_get(t->tg[STG_FIRST_REPLY].deadline) > cap);
    alert_list_reset(&al);
    tkt_advance(t, cap, &al);
    ck_time(the_alert(AL_SLA_BREACH, AS_FIRING, STG_RESOLVE)->condition_at, cap, "breach at the cap");
    tkt_free(t);

    /* no claim, paused 132 h: 48 + 132 = 180 h > 168 h */
    alert_list_reset(&al);
    no_pause_max();
    t = receive_normal();
    step_ok(t, CT_PAUSED, T("2026-11-23T10:00:00+08:00"));
    step_ok(t, CT_RESUMED, T("2026-11-28T22:00:00+08:00"));
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), cap, "capped");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-29T21:00:00+08:00"), "warn 24 + 132 h");
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-30T21:00:00+08:00"), "first_reply not capped");
    tkt_free(t);

    /* a cap earlier than the budget: statutory_limit = 1d */
    alert_list_reset(&al);
    char err[128];
    ck_assert_int_eq(pol_set(pol, "statutory_limit", "1d", err, sizeof err), 0);
    t = receive_normal();
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-24T09:00:00+08:00"), "capped at 1 d");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-24T09:00:00+08:00"), "warn 24 h, not after the cap");
    tkt_free(t);
    /* 0 disables it */
    ck_assert_int_eq(pol_set(pol, "statutory_limit", "0", err, sizeof err), 0);
    t = receive((Recv){MON0900, CH_HOTLINE, CAT_LOSS, true, false, NULL});
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 60, at, at), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-30T21:00:00+08:00"), "180 h, no cap");
    tkt_free(t);
}
END_TEST

/* A policy reload recomputes open targets. */
START_TEST(test_recompute_policy)
{
    Ticket *t = receive_normal();
    char err[128];
    ck_assert_int_eq(pol_set(pol, "sla.first_reply.normal", "12h calendar", err, sizeof err), 0);
    tkt_recompute(t, pol, T(MON0900), &al);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-23T21:00:00+08:00"), "first_reply 12 h");
    ck_assert_int_eq(pol_set(pol, "warn_ratio", "50%", err, sizeof err), 0);
    tkt_recompute(t, pol, T(MON0900), &al);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].warn_at), T("2026-11-23T15:00:00+08:00"), "warn 50 %");
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);
}
END_TEST

/* ==== (c) alerts ========================================================== */

START_TEST(test_advance_time_order)
{
    Ticket *t = receive_normal();
    tkt_advance(t, T("2026-11-25T10:00:00+08:00"), &al);
    static const struct {
        AlertType type;
        Stage stage;
        const char *at;
    } want[] = {
        {AL_SLA_WARNING, STG_CONTACT, "2026-11-23T10:36:00+08:00"},
        {AL_SLA_BREACH, STG_CONTACT, "2026-11-23T11:00:00+08:00"},
        {AL_SLA_WARNING, STG_RESOLVE, "2026-11-24T09:00:00+08:00"},
        {AL_SLA_WARNING, STG_FIRST_REPLY, "2026-11-24T23:24:00+08:00"},
        {AL_SLA_BREACH, STG_FIRST_REPLY, "2026-11-25T09:00:00+08:00"},
        {AL_SLA_BREACH, STG_RESOLVE, "2026-11-25T09:00:00+08:00"},
    };
    ck_assert_uint_eq(al.n, (size_t)NELEM(want));
    for (int i = 0; i < NELEM(want); i++) {
        const Alert *a = &al.v[i];
        char id[ALERT_ID_MAX + 1];
        snprintf(id, sizeof id, "%s/%s/1/%s", alert_type_name(want[i].type), TID, tkt_stage_name(want[i].stage));
        ck_assert_str_eq(a->alert_id, id);
        ck_assert_int_eq(a->status, AS_FIRING);
        ck_assert_int_eq(a->stage, (int)want[i].stage);
        ck_time(a->condition_at, T(want[i].at), id);
        ck_assert_int_eq(a->round, 1);
        ck_assert_int_eq(a->priority, 0);
        ck_assert_int_eq(a->category, CAT_DELAY);
        ck_assert_int_eq(a->resolved_at, 0);
        ck_assert(!a->has_late_by);
    }
    /* Nothing fires twice. */
    alert_list_reset(&al);
    tkt_advance(t, T("2026-12-25T10:00:00+08:00"), &al);
    ck_assert_uint_eq(al.n, 0);
    tkt_free(t);
}
END_TEST

START_TEST(test_next_due)
{
    Ticket *t = receive_normal();
    ck_time(tkt_next_due(t), T("2026-11-23T10:36:00+08:00"), "contact warning");
    tkt_advance(t, T("2026-11-23T10:36:00+08:00"), &al);
    ck_time(tkt_next_due(t), T("2026-11-23T11:00:00+08:00"), "contact deadline");
    tkt_advance(t, T("2026-11-23T11:00:00+08:00"), &al);
    ck_time(tkt_next_due(t), T("2026-11-24T09:00:00+08:00"), "resolve warning");
    step_ok(t, CT_FIRST_REPLY, T("2026-11-23T12:00:00+08:00"));
    ck_time(tkt_next_due(t), T("2026-11-24T09:00:00+08:00"), "resolve warning");
    tkt_advance(t, T("2026-11-24T09:00:00+08:00"), &al);
    ck_time(tkt_next_due(t), T("2026-11-25T09:00:00+08:00"), "resolve deadline");
    step_ok(t, CT_PAUSED, T("2026-11-24T10:00:00+08:00"));
    ck_time(tkt_next_due(t), T("2026-11-27T10:00:00+08:00"), "while paused: the pause ends by itself after pause_max");
    step_ok(t, CT_RESUMED, T("2026-11-24T11:00:00+08:00"));
    step_ok(t, CT_RESOLVED, T("2026-11-24T12:00:00+08:00"));
    /* revisit: 10 business h from 12:00 -> 14:00-20:00 (6), Wednesday 08:00-12:00 */
    ck_time(tkt_next_due(t), T("2026-11-25T10:00:00+08:00"), "revisit warning at 8 h");
    ck_assert_int_eq(revisit(t, true, T("2026-11-24T15:00:00+08:00"), T("2026-11-24T15:00:00+08:00")), TKT_APPLIED);
    ck_time(tkt_next_due(t), TU_NEVER, "closed");
    tkt_free(t);
}
END_TEST

START_TEST(test_completion_after_deadline)
{
    Ticket *t = receive_normal();
    int64_t dl = T("2026-11-23T11:00:00+08:00");
    tkt_advance(t, dl + 600, &al);
    alert_list_reset(&al);
    int64_t at = T("2026-11-23T11:25:00+08:00");
    step_ok(t, CT_CONTACTED, at);
    ck_assert_uint_eq(al.n, 2);
    /* the warning ends first, then the breach */
    ck_assert_int_eq(al.v[0].type, AL_SLA_WARNING);
    ck_assert_int_eq(al.v[0].status, AS_RESOLVED);
    ck_assert_str_eq(al.v[0].alert_id, "sla_warning/" TID "/1/contact");
    ck_time(al.v[0].condition_at, T("2026-11-23T10:36:00+08:00"), "warning condition_at");
    ck_time(al.v[0].resolved_at, at, "warning resolved_at");
    const Alert *b = &al.v[1];
    ck_assert_int_eq(b->type, AL_SLA_BREACH);
    ck_assert_int_eq(b->status, AS_RESOLVED);
    ck_assert_str_eq(b->alert_id, "sla_breach/" TID "/1/contact");
    ck_assert(b->has_late_by);
    ck_assert_int_eq(b->late_by_seconds, at - dl);
    ck_time(b->deadline, dl, "deadline");
    ck_time(b->condition_at, dl, "condition_at");
    ck_time(b->resolved_at, at, "resolved_at");
    tkt_free(t);

    /* Not yet fired: the completion event after the deadline fires it first
     * (the event-time rule of §11), then resolves it. */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_CONTACTED, at);
    ck_assert_uint_eq(al.n, 4);
    ck_assert_int_eq(al.v[0].status, AS_FIRING);
    ck_assert_int_eq(al.v[1].status, AS_FIRING);
    ck_assert_int_eq(al.v[1].type, AL_SLA_BREACH);
    ck_assert_int_eq(al.v[3].status, AS_RESOLVED);
    ck_assert_int_eq(al.v[3].late_by_seconds, 25 * 60);
    tkt_free(t);

    /* A resolved event late for three stages at once ends each of them. */
    alert_list_reset(&al);
    t = receive_normal();
    at = T("2026-11-25T10:00:00+08:00");
    step_ok(t, CT_RESOLVED, at);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_RESOLVED), 3);
    ck_assert_int_eq(the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_CONTACT)->late_by_seconds,
                     at - T("2026-11-23T11:00:00+08:00"));
    ck_assert_int_eq(the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_FIRST_REPLY)->late_by_seconds, H);
    ck_assert_int_eq(the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_RESOLVE)->late_by_seconds, H);
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_RESOLVED), 3);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), count_alerts(AL_SLA_BREACH, AS_RESOLVED));
    tkt_free(t);
}
END_TEST

/* §6: met when occurred_at <= deadline, whenever it arrives. */
START_TEST(test_completion_at_deadline_met)
{
    Ticket *t = receive_normal();
    int64_t dl = T("2026-11-23T11:00:00+08:00");
    step_ok(t, CT_CONTACTED, dl);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 0);
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_FIRING), 1); /* the warning did fire at 10:36 */
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_RESOLVED), 1);
    tkt_free(t);

    /* The completing event arrives after the breach fired: retracted. */
    alert_list_reset(&al);
    t = receive_normal();
    int64_t now = T("2026-11-23T12:00:00+08:00");
    tkt_advance(t, now, &al);
    alert_list_reset(&al);
    ComplaintEvent ev = mk(CT_CONTACTED, dl);
    ck_assert_int_eq(apply_at(t, &ev, now), TKT_APPLIED);
    const Alert *b = the_alert(AL_SLA_BREACH, AS_RETRACTED, STG_CONTACT);
    ck_assert_str_eq(b->alert_id, "sla_breach/" TID "/1/contact");
    ck_assert(!b->has_late_by);
    ck_time(b->condition_at, dl, "condition_at");
    ck_assert_int_eq(count_alerts(AL_SLA_WARNING, AS_RESOLVED), 1);
    tkt_free(t);

    /* One second early, arriving an hour late: retracted too. */
    alert_list_reset(&al);
    t = receive_normal();
    tkt_advance(t, now, &al);
    alert_list_reset(&al);
    ev = mk(CT_CONTACTED, dl - 1);
    ck_assert_int_eq(apply_at(t, &ev, now), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_RETRACTED), 1);
    tkt_free(t);
}
END_TEST

START_TEST(test_warning_resolves_on_completion)
{
    Ticket *t = receive_normal();
    tkt_advance(t, T("2026-11-24T09:30:00+08:00"), &al); /* resolve warning at 09:00 */
    ck_assert(has_alert(AL_SLA_WARNING, AS_FIRING, STG_RESOLVE));
    alert_list_reset(&al);
    step_ok(t, CT_FIRST_REPLY, T("2026-11-24T10:00:00+08:00"));
    ck_assert(!has_alert(AL_SLA_WARNING, AS_RESOLVED, STG_RESOLVE));
    ck_assert(has_alert(AL_SLA_WARNING, AS_RESOLVED, STG_CONTACT));
    alert_list_reset(&al);
    int64_t at = T("2026-11-24T11:00:00+08:00");
    step_ok(t, CT_RESOLVED, at);
    const Alert *w = the_alert(AL_SLA_WARNING, AS_RESOLVED, STG_RESOLVE);
    ck_assert_str_eq(w->alert_id, "sla_warning/" TID "/1/resolve");
    ck_time(w->condition_at, T("2026-11-24T09:00:00+08:00"), "condition_at");
    ck_time(w->deadline, T("2026-11-25T09:00:00+08:00"), "deadline");
    ck_time(w->resolved_at, at, "resolved_at");
    ck_assert_uint_eq(al.n, 1);
    tkt_free(t);
}
END_TEST

/* Moving a fired breach's deadline past `now` ends it. */
START_TEST(test_moved_deadline_resolves_breach)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    int64_t now = T("2026-11-25T10:00:00+08:00");
    tkt_advance(t, now, &al);
    ck_assert(has_alert(AL_SLA_BREACH, AS_FIRING, STG_FIRST_REPLY));
    alert_list_reset(&al);
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 5, T("2026-11-25T09:30:00+08:00"), now), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T14:00:00+08:00"), "extended");
    const Alert *b = the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_FIRST_REPLY);
    ck_assert_str_eq(b->alert_id, "sla_breach/" TID "/1/first_reply");
    ck_assert(!b->has_late_by);
    ck_assert_uint_eq(al.n, 1); /* the resolve breach stays firing */
    /* missing the new deadline fires a new breach with its own id (§12.1) */
    alert_list_reset(&al);
    tkt_advance(t, T("2026-11-26T00:00:00+08:00"), &al);
    b = the_alert(AL_SLA_BREACH, AS_FIRING, STG_FIRST_REPLY);
    ck_assert_str_eq(b->alert_id, "sla_breach/" TID "/1/first_reply/2");
    ck_time(b->condition_at, T("2026-11-25T14:00:00+08:00"), "the moved deadline");
    tkt_free(t);

    /* A pause that happened before the deadline, reported after the breach
     * fired: the clock was stopped, so the breach is over; resume (after lunch)
     * sets the real deadline. */
    alert_list_reset(&al);
    t = receive_normal();
    now = T("2026-11-23T11:30:00+08:00");
    tkt_advance(t, now, &al);
    ck_assert(has_alert(AL_SLA_BREACH, AS_FIRING, STG_CONTACT));
    alert_list_reset(&al);
    ComplaintEvent ev = mk(CT_PAUSED, T("2026-11-23T10:30:00+08:00"));
    ck_assert_int_eq(apply_at(t, &ev, now), TKT_APPLIED);
    ck_assert(has_alert(AL_SLA_BREACH, AS_RESOLVED, STG_CONTACT));
    ck_assert(has_alert(AL_SLA_WARNING, AS_RESOLVED, STG_CONTACT)); /* its warn point moved too */
    ck_assert_uint_eq(al.n, 2);
    ev = mk(CT_RESUMED, T("2026-11-23T12:30:00+08:00"));
    ck_assert_int_eq(apply_at(t, &ev, T("2026-11-23T12:30:00+08:00")), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T14:30:00+08:00"), "30 min left, after lunch");
    tkt_free(t);

    /* An extension on a business clock (reopened round) moving the breach past now. */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T(REOPEN_RESOLVED));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    step_ok(t, CT_FIRST_REPLY, T("2026-11-24T12:00:00+08:00"));
    now = T("2026-11-29T11:30:00+08:00");
    tkt_advance(t, now, &al);
    ck_assert(has_alert(AL_SLA_BREACH, AS_FIRING, STG_RESOLVE));
    alert_list_reset(&al);
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 2, now, now), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-29T15:00:00+08:00"), "52 business h: over lunch");
    ck_assert_str_eq(the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_RESOLVE)->alert_id, "sla_breach/" TID "/2/resolve");
    tkt_free(t);
}
END_TEST

/* An extension that arrives after its new deadline passed leaves the breach
 * firing; the completion is then judged against the extended deadline. */
START_TEST(test_late_extension_then_completion)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    int64_t now = T("2026-11-25T20:00:00+08:00");
    tkt_advance(t, now, &al);
    alert_list_reset(&al);
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 10, T("2026-11-25T08:00:00+08:00"), now), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T19:00:00+08:00"), "extended, already past");
    ck_assert_uint_eq(al.n, 0);
    ComplaintEvent ev = mk(CT_FIRST_REPLY, T("2026-11-25T18:00:00+08:00"));
    ck_assert_int_eq(apply_at(t, &ev, now), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_RETRACTED), 1);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_RESOLVED), 0);
    tkt_free(t);

    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00"));
    tkt_advance(t, now, &al);
    alert_list_reset(&al);
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 10, T("2026-11-25T08:00:00+08:00"), now), TKT_APPLIED);
    ev = mk(CT_FIRST_REPLY, T("2026-11-25T19:30:00+08:00"));
    ck_assert_int_eq(apply_at(t, &ev, now), TKT_APPLIED);
    const Alert *b = the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_FIRST_REPLY);
    ck_assert_int_eq(b->late_by_seconds, 30 * 60); /* late against the extended deadline */
    tkt_free(t);
}
END_TEST

START_TEST(test_revisit_alerts)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    tkt_advance(t, T("2026-11-24T16:00:00+08:00"), &al);
    ck_assert_str_eq(the_alert(AL_SLA_WARNING, AS_FIRING, STG_REVISIT)->alert_id, "sla_warning/" TID "/1/revisit");
    ck_assert_str_eq(the_alert(AL_SLA_BREACH, AS_FIRING, STG_REVISIT)->alert_id, "sla_breach/" TID "/1/revisit");
    alert_list_reset(&al);
    int64_t v = T("2026-11-24T17:00:00+08:00");
    ck_assert_int_eq(revisit(t, false, v, v), TKT_APPLIED);
    /* round 1's revisit alerts end (late by 2 h) before round 2 escalates */
    ck_assert_uint_eq(al.n, 3);
    ck_assert_int_eq(al.v[0].type, AL_SLA_WARNING);
    ck_assert_int_eq(al.v[0].round, 1);
    ck_assert_int_eq(al.v[1].type, AL_SLA_BREACH);
    ck_assert_int_eq(al.v[1].round, 1);
    ck_assert_int_eq(al.v[1].late_by_seconds, 2 * H);
    ck_assert_int_eq(al.v[2].type, AL_TICKET_ESCALATED);
    ck_assert_int_eq(al.v[2].round, 2);
    /* round 2 alerts carry round 2 */
    alert_list_reset(&al);
    tkt_advance(t, T("2026-11-24T19:00:00+08:00"), &al);
    const Alert *w = the_alert(AL_SLA_WARNING, AS_FIRING, STG_CONTACT);
    ck_assert_str_eq(w->alert_id, "sla_warning/" TID "/2/contact");
    ck_time(w->condition_at, T("2026-11-24T18:36:00+08:00"), "round 2 contact warning");
    ck_assert_int_eq(w->priority, 1);
    ck_assert_uint_eq(w->reasons, RSN_REOPENED);
    tkt_free(t);
}
END_TEST

/* alert_encode of ticket alerts: schema, priority, reasons in order, +08:00. */
START_TEST(test_alert_json)
{
    Ticket *t = receive((Recv){MON0900, CH_MEDIA, CAT_LOSS, false, true, NULL});
    ck_assert_int_eq(tkt_set_str(t, TS_SITE, "SH-01"), 0);
    ck_assert_int_eq(tkt_set_str(t, TS_WAYBILL, "YT123"), 0);
    ck_assert_int_eq(tkt_set_str(t, TS_REGION, "31"), 0);
    Responsible hub = {.known = true, .site = "HUB-7", .role = ROLE_HUB, .rule = "hub_arrive_no_depart"};
    ck_assert_int_eq(tkt_set_responsible(t, &hub), 0);
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    int64_t v = T(REOPEN_AT);
    ck_assert_int_eq(revisit(t, false, v, v), TKT_APPLIED);
    ck_assert(tkt_make_urgent(t, RSN_BULK, v + 1, pol, v + 1, &al));
    ck_assert_int_eq(tkt_mark_repeat(t, "T-007", v + 2, pol, v + 2, &al), 0);
    alert_list_reset(&al);
    tkt_advance(t, T("2026-11-24T16:00:00+08:00"), &al);
    const Alert *b = the_alert(AL_SLA_BREACH, AS_FIRING, STG_CONTACT);
    Alert copy = *b;
    copy.emitted_at = T("2026-11-24T16:00:05+08:00");
    json_t *j = encode(&copy);
    ck_assert_str_eq(jstr(j, "schema"), "alert.v1");
    ck_assert_str_eq(jstr(j, "alert_id"), "sla_breach/" TID "/2/contact");
    ck_assert_str_eq(jstr(j, "type"), "sla_breach");
    ck_assert_str_eq(jstr(j, "status"), "firing");
    ck_assert_str_eq(jstr(j, "ticket_id"), TID);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "round")), 2);
    ck_assert_str_eq(jstr(j, "stage"), "contact");
    ck_assert_str_eq(jstr(j, "priority"), "urgent");
    const json_t *r = json_object_get(j, "reasons");
    static const char *const order[] = {"major", "channel", "repeat", "bulk", "reopened"};
    ck_assert_uint_eq(json_array_size(r), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(json_string_value(json_array_get(r, i)), order[i]);
    ck_assert_str_eq(jstr(j, "deadline"), "2026-11-24T15:00:00+08:00");
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-24T15:00:00+08:00");
    ck_assert_str_eq(jstr(j, "emitted_at"), "2026-11-24T16:00:05+08:00");
    ck_assert_str_eq(jstr(j, "category"), "loss");
    ck_assert_str_eq(jstr(j, "site"), "SH-01");
    ck_assert_str_eq(jstr(j, "waybill"), "YT123");
    ck_assert_str_eq(jstr(j, "region"), "31");
    const json_t *resp = json_object_get(j, "responsible");
    ck_assert_str_eq(jstr(resp, "site"), "HUB-7");
    ck_assert_str_eq(jstr(resp, "role"), "hub");
    ck_assert_str_eq(jstr(resp, "rule"), "hub_arrive_no_depart");
    ck_assert_ptr_null(json_object_get(j, "late_by_seconds"));
    ck_assert_ptr_null(json_object_get(j, "ticket_ids"));
    ck_assert_ptr_null(json_object_get(j, "previous_ticket_id"));
    json_decref(j);

    /* the resolved breach carries late_by_seconds */
    alert_list_reset(&al);
    step_ok(t, CT_CONTACTED, T("2026-11-24T16:30:00+08:00"));
    j = encode(the_alert(AL_SLA_BREACH, AS_RESOLVED, STG_CONTACT));
    ck_assert_str_eq(jstr(j, "status"), "resolved");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "late_by_seconds")), 90 * 60);
    json_decref(j);

    /* the repeat alert names the earlier ticket */
    alert_list_reset(&al);
    step_ok(t, CT_CLOSED, T("2026-11-24T17:00:00+08:00"));
    j = encode(the_alert(AL_REPEAT_COMPLAINT, AS_RESOLVED, -1));
    ck_assert_str_eq(jstr(j, "alert_id"), "repeat_complaint/" TID);
    ck_assert_str_eq(jstr(j, "previous_ticket_id"), "T-007");
    json_decref(j);
    tkt_free(t);

    /* A normal ticket of a category without responsibility: no responsible,
     * empty reasons. */
    alert_list_reset(&al);
    t = receive((Recv){MON0900, CH_HOTLINE, CAT_FEE, false, false, NULL});
    Responsible none = {.known = true, .role = -1, .rule = "no_scan"};
    ck_assert_int_eq(tkt_set_responsible(t, &none), 0);
    tkt_advance(t, T("2026-11-23T10:40:00+08:00"), &al);
    j = encode(the_alert(AL_SLA_WARNING, AS_FIRING, STG_CONTACT));
    ck_assert_str_eq(jstr(j, "priority"), "normal");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "reasons")), 0);
    ck_assert_ptr_null(json_object_get(j, "responsible"));
    ck_assert_ptr_null(json_object_get(j, "site"));
    ck_assert_str_eq(jstr(j, "deadline"), "2026-11-23T11:00:00+08:00");
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-23T10:36:00+08:00");
    json_decref(j);
    tkt_free(t);
}
END_TEST

/* ==== (d) serialisation =================================================== */

static void assert_same_ticket(const Ticket *a, const Ticket *b)
{
    ck_assert_str_eq(tkt_id(a), tkt_id(b));
    ck_assert_int_eq(a->channel, b->channel);
    ck_assert_int_eq(a->category, b->category);
    ck_assert_int_eq(a->claim, b->claim);
    ck_assert_int_eq(a->major, b->major);
    ck_assert_str_eq(tkt_waybill(a), tkt_waybill(b));
    ck_assert_str_eq(tkt_site(a), tkt_site(b));
    ck_assert_str_eq(tkt_region(a), tkt_region(b));
    ck_assert_str_eq(tkt_customer_ref(a), tkt_customer_ref(b));
    ck_assert_int_eq(a->round, b->round);
    ck_assert_int_eq(tu32_get(a->received_at), tu32_get(b->received_at));
    ck_assert_int_eq(tu32_get(a->round_start), tu32_get(b->round_start));
    for (int s = 0; s < STG__COUNT; s++) {
        const Target *x = &a->tg[s], *y = &b->tg[s];
        ck_assert_int_eq(tu32_get(x->deadline), tu32_get(y->deadline));
        ck_assert_int_eq(tu32_get(x->warn_at), tu32_get(y->warn_at));
        ck_assert_int_eq(x->done, y->done);
        ck_assert_int_eq(tu32_get(x->done_at), tu32_get(y->done_at));
        ck_assert_int_eq(x->warn_state, y->warn_state);
        ck_assert_int_eq(x->breach_state, y->breach_state);
        ck_assert_int_eq(tu32_get(x->warn_fired_deadline), tu32_get(y->warn_fired_deadline));
        ck_assert_int_eq(tu32_get(x->warn_condition_at), tu32_get(y->warn_condition_at));
        ck_assert_int_eq(tu32_get(x->breach_deadline), tu32_get(y->breach_deadline));
    }
    ck_assert_int_eq(a->urgent, b->urgent);
    ck_assert_uint_eq(a->reasons, b->reasons);
    ck_assert_int_eq(tu32_get(a->urgent_at), tu32_get(b->urgent_at));
    ck_assert_int_eq(a->closed, b->closed);
    ck_assert_int_eq(tu32_get(a->closed_at), tu32_get(b->closed_at));
    ck_assert_int_eq(tu32_get(a->last_resolved_at), tu32_get(b->last_resolved_at));
    ck_assert_uint_eq(tkt_n_pauses(a), tkt_n_pauses(b));
    for (uint32_t i = 0; i < tkt_n_pauses(a); i++) {
        ck_assert_int_eq(tkt_pauses(a)[i].start, tkt_pauses(b)[i].start);
        ck_assert_int_eq(tkt_pauses(a)[i].end, tkt_pauses(b)[i].end);
    }
    ck_assert_uint_eq(tkt_n_pause_evs(a), tkt_n_pause_evs(b));
    for (uint32_t i = 0; i < tkt_n_pause_evs(a); i++) {
        const PauseEv *x = &tkt_pause_evs(a)[i], *y = &tkt_pause_evs(b)[i];
        ck_assert(x->at == y->at && x->until == y->until && x->resume == y->resume && x->frac == y->frac);
        ck_assert(x->overdue == y->overdue && x->n == y->n && x->round == y->round);
    }
    for (int s = 0; s < STG__COUNT; s++)
        ck_assert_int_eq(tkt_ext(a, (Stage)s), tkt_ext(b, (Stage)s));
    ck_assert_uint_eq(a->escalated_rounds, b->escalated_rounds);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(tkt_escalated_at(a, i + 1), tkt_escalated_at(b, i + 1));
    ck_assert_int_eq(tkt_category_at(a), tkt_category_at(b));
    ck_assert_int_eq(a->repeat_firing, b->repeat_firing);
    ck_assert_int_eq(tu32_get(a->repeat_at), tu32_get(b->repeat_at));
    ck_assert_str_eq(tkt_previous_ticket_id(a), tkt_previous_ticket_id(b));
    ck_assert_str_eq(tkt_issue_site(a), tkt_issue_site(b));
    ck_assert_str_eq(tkt_resp_site(a), tkt_resp_site(b));
    ck_assert_int_eq(a->resp_role, b->resp_role);
    ck_assert_str_eq(tkt_resp_rule(a), tkt_resp_rule(b));
    uint32_t na, nb;
    const char *ia = tkt_event_ids(a, &na), *ib = tkt_event_ids(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(ia, ib, na), 0);
}

/* Through the packed form, as it goes to PostgreSQL and back. */
static Ticket *round_trip(const Ticket *t)
{
    size_t n = 0;
    uint8_t *b = tkt_pack(t, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_gt(n, 10);
    ck_assert_uint_lt(n, 400);
    char err[128] = "";
    Ticket *u = tkt_unpack(b, n, err, sizeof err);
    free(b);
    ck_assert_msg(u != NULL, "tkt_unpack: %s", err);
    assert_same_ticket(t, u);
    return u;
}

START_TEST(test_pack_round_trip)
{
    ComplaintEvent ev = mk(CT_RECEIVED, T(MON0900));
    ev.has = EVF_CHANNEL | EVF_CATEGORY | EVF_CLAIM | EVF_WAYBILL | EVF_SITE | EVF_REGION | EVF_CUSTOMER_REF;
    ev.channel = CH_WECHAT;
    ev.category = CAT_DELAY;
    ev.claim = true;
    strcpy(ev.waybill, "SF-0001");
    strcpy(ev.site, "GZ-12");
    strcpy(ev.region, "xinjiang");
    strcpy(ev.customer_ref, "c0ffee");
    Ticket *t = tkt_new(&ev, pol, &al);
    ck_assert_ptr_nonnull(t);
    Ticket *u = round_trip(t); /* a fresh ticket */
    tkt_free(u);

    Responsible resp = {.known = true, .role = ROLE_NONE, .rule = "no_scan"};
    ck_assert_int_eq(tkt_set_responsible(t, &resp), 0);
    ck_assert_int_eq(tkt_set_str(t, TS_ISSUE_SITE, "GZ-12"), 0);
    ck_assert_int_eq(tkt_remember(t, "ev-a"), 0);
    ck_assert_int_eq(tkt_remember(t, "ev-b"), 0);
    ComplaintEvent pz = mk(CT_PAUSED, T("2026-11-23T10:00:00+08:00"));
    pz.occurred_ns = 250000000; /* its fraction goes through the packed form */
    ck_assert_int_eq(apply_at(t, &pz, pz.occurred_at), TKT_APPLIED);
    ck_assert(tkt_pause_evs(t)[0].frac);
    step_ok(t, CT_RESUMED, T("2026-11-23T11:00:00+08:00"));
    ck_assert_int_eq(extend(t, EXT_FIRST_REPLY, 7, T("2026-11-23T11:10:00+08:00"), T("2026-11-23T11:10:00+08:00")),
                     TKT_APPLIED);
    tkt_advance(t, T("2026-11-23T14:00:00+08:00"), &al); /* contact warns and breaches */
    ck_assert_int_eq(update_major(t, true, T("2026-11-23T15:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(tkt_mark_repeat(t, "T-050", T("2026-11-23T15:10:00+08:00"), pol, T("2026-11-23T15:10:00+08:00"), &al), 0);
    step_ok(t, CT_RESOLVED, T("2026-11-24T09:00:00+08:00"));
    ck_assert_int_eq(revisit(t, false, T("2026-11-24T15:00:00+08:00"), T("2026-11-24T15:00:00+08:00")), TKT_APPLIED);
    step_ok(t, CT_CONTACTED, T("2026-11-24T16:00:00+08:00"));
    ck_assert_int_eq(extend(t, EXT_RESOLVE, 4, T("2026-11-24T16:10:00+08:00"), T("2026-11-24T16:10:00+08:00")),
                     TKT_APPLIED);
    step_ok(t, CT_PAUSED, T("2026-11-24T17:00:00+08:00")); /* left open */
    tkt_advance(t, T("2026-11-25T20:00:00+08:00"), &al);
    ck_assert_int_eq(t->round, 2);
    ck_assert_int_eq(tkt_n_pauses(t), 1);
    ck_assert_int_eq(t->tg[STG_CONTACT].warn_state, AST_NONE); /* contacted in time in round 2 */

    u = round_trip(t);
    /* the copy behaves as the original from here on */
    AlertList al2 = {0};
    step_ok(t, CT_RESUMED, T("2026-11-26T09:00:00+08:00"));
    ComplaintEvent rs = mk(CT_RESUMED, T("2026-11-26T09:00:00+08:00"));
    char detail[EVT_DETAIL_MAX];
    ck_assert_int_eq(tkt_apply(u, &rs, pol, rs.occurred_at, &al2, detail, sizeof detail), TKT_APPLIED);
    assert_same_ticket(t, u);
    alert_list_reset(&al);
    tkt_advance(t, T("2026-12-31T00:00:00+08:00"), &al);
    tkt_advance(u, T("2026-12-31T00:00:00+08:00"), &al2);
    ck_assert_uint_eq(al.n, al2.n);
    ck_assert_uint_gt(al.n, 0);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_str_eq(al.v[i].alert_id, al2.v[i].alert_id);
    alert_list_free(&al2);
    tkt_free(u);

    /* closed */
    step_ok(t, CT_CLOSED, T("2026-12-31T01:00:00+08:00"));
    u = round_trip(t);
    tkt_free(u);
    tkt_free(t);
}
END_TEST

START_TEST(test_unpack_bad_input)
{
    char err[128] = "";
    ck_assert_ptr_null(tkt_unpack("", 0, err, sizeof err));
    ck_assert(err[0] != '\0');
    ck_assert_ptr_null(tkt_unpack("\x07zzz", 4, err, sizeof err)); /* an unknown version */

    Ticket *t = receive_normal();
    ck_assert_int_eq(tkt_remember(t, "ev-1"), 0);
    size_t n;
    uint8_t *b = tkt_pack(t, &n);
    ck_assert_ptr_nonnull(b);
    /* every truncation is refused, never read past */
    for (size_t cut = 0; cut < n; cut++) {
        err[0] = '\0';
        Ticket *u = tkt_unpack(b, cut, err, sizeof err);
        ck_assert_msg(u == NULL, "a ticket from %zu of %zu bytes", cut, n);
        ck_assert(err[0] != '\0');
    }
    /* trailing bytes too */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    ck_assert_ptr_null(tkt_unpack(longer, n + 1, err, sizeof err));
    free(longer);
    /* any single byte changed: refused or a ticket, never a crash */
    for (size_t i = 1; i < n; i++) {
        uint8_t saved = b[i];
        b[i] ^= 0xff;
        tkt_free(tkt_unpack(b, n, err, sizeof err));
        b[i] = saved;
    }
    free(b);
    tkt_free(t);
}
END_TEST

/* Rows written before migration 003 hold the JSON state. */
START_TEST(test_json_state_of_migration_001)
{
    const char *text =
        "{\"id\":\"T-9\",\"channel\":\"media\",\"category\":\"loss\",\"claim\":true,\"major\":false,"
        "\"waybill\":\"SF1\",\"site\":\"GZ-1\",\"region\":\"\",\"customer_ref\":\"c1\",\"round\":2,"
        "\"received_at\":1795395600,\"round_start\":1795400000,\"targets\":["
        "{\"deadline\":1795407200,\"warn_at\":1795405760,\"done\":false,\"done_at\":0,\"warn_state\":1,"
        "\"breach_state\":0,\"warn_fired_deadline\":1795407200,\"warn_condition_at\":1795405760,"
        "\"breach_deadline\":null},{\"deadline\":null,\"warn_at\":null,\"done\":false,\"done_at\":0},"
        "{\"deadline\":null,\"warn_at\":null,\"done\":false,\"done_at\":0},"
        "{\"deadline\":null,\"warn_at\":null,\"done\":false,\"done_at\":0}],"
        "\"urgent\":true,\"reasons\":18,\"urgent_at\":1795400000,\"closed\":false,\"closed_at\":0,"
        "\"last_resolved_at\":1795399000,\"pauses\":[[1795401000,null]],\"ext\":[0,3600,0,0],"
        "\"escalated_rounds\":2,\"escalated_at\":[0,1795400000,0,0,0,0,0,0],\"repeat_firing\":false,"
        "\"repeat_at\":0,\"previous_ticket_id\":\"\",\"issue_site\":\"GZ-1\","
        "\"responsible\":{\"site\":\"GZ-1\",\"role\":0,\"rule\":\"no_scan\"}}";
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    char err[128] = "";
    Ticket *t = tkt_from_json(j, err, sizeof err);
    json_decref(j);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_str_eq(tkt_id(t), "T-9");
    ck_assert_int_eq(t->channel, CH_MEDIA);
    ck_assert_int_eq(t->round, 2);
    ck_assert_str_eq(tkt_waybill(t), "SF1");
    ck_assert_str_eq(tkt_issue_site(t), "GZ-1");
    ck_assert_str_eq(tkt_resp_rule(t), "no_scan");
    ck_assert_int_eq(t->resp_role, ROLE_ORIGIN);
    ck_assert_uint_eq(tkt_n_pauses(t), 1);
    ck_assert_int_eq(tkt_pauses(t)[0].end, TU_NEVER);
    ck_assert_int_eq(tkt_ext(t, STG_FIRST_REPLY), 3600);
    ck_assert_int_eq(t->tg[STG_CONTACT].warn_state, AST_FIRING);
    ck_assert_int_eq(tkt_escalated_at(t, 2), 1795400000);
    /* and it packs like any other */
    tkt_free(round_trip(t));
    tkt_free(t);

    j = json_array();
    ck_assert_ptr_null(tkt_from_json(j, err, sizeof err));
    json_decref(j);
    j = json_loads("{\"id\":\"T-1\",\"channel\":\"pigeon\",\"category\":\"loss\",\"targets\":[{},{},{},{}]}", 0,
                   NULL);
    ck_assert_ptr_null(tkt_from_json(j, err, sizeof err));
    json_decref(j);
}
END_TEST

/* ==== random histories: the §9 life cycle of every alert id ============== */

static uint64_t lcg_state;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

typedef struct IdState {
    char id[ALERT_ID_MAX + 1];
    int state; /* 1 firing, 2 ended */
} IdState;

/* For one alert id, firing comes first and exactly one end follows it. */
static void track(IdState *ids, int *n, int cap, const AlertList *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const Alert *a = &l->v[i];
        int k = 0;
        while (k < *n && strcmp(ids[k].id, a->alert_id) != 0)
            k++;
        if (k == *n) {
            ck_assert_int_lt(*n, cap);
            snprintf(ids[k].id, sizeof ids[k].id, "%s", a->alert_id);
            ids[k].state = 0;
            (*n)++;
        }
        if (a->status == AS_FIRING) {
            ck_assert_msg(ids[k].state == 0, "%s fired twice", a->alert_id);
            ids[k].state = 1;
        } else {
            ck_assert_msg(ids[k].state == 1, "%s ended without firing", a->alert_id);
            ids[k].state = 2;
            if (a->type == AL_SLA_BREACH && a->status == AS_RESOLVED && a->has_late_by)
                ck_assert_int_gt(a->late_by_seconds, 0);
        }
        if (a->status == AS_RETRACTED)
            ck_assert_int_eq(a->type, AL_SLA_BREACH);
    }
}

static void random_history(uint64_t seed)
{
    lcg_state = 0x5eed0000u + seed;
    static IdState ids[1024];
    int nids = 0;
    alert_list_reset(&al);
    char err[128];
    ck_assert_int_eq(pol_set(pol, "response_schedule", seed % 3 == 0 ? "2h,24h,48h,5d" : "", err, sizeof err), 0);
    bool claim = lcg() & 1, major = (lcg() % 4) == 0;
    Channel ch = (Channel)(lcg() % CH__COUNT);
    static const char *const regions[] = {NULL, "65", "54", "11"};
    Ticket *t = receive((Recv){MON0900, ch, CAT_LOSS, claim, major, regions[lcg() % 4]});
    int64_t at = T(MON0900), now = at;
    for (int step_no = 0; step_no < 60 && tkt_open(t); step_no++) {
        at += (int64_t)(lcg() % (30 * H));
        /* wall clock: the daemon may see the event late; its clock never goes back */
        int64_t lag = (lcg() % 3 == 0) ? (int64_t)(lcg() % (12 * H)) : 0;
        if (at + lag > now)
            now = at + lag;
        track(ids, &nids, NELEM(ids), &al);
        alert_list_reset(&al);
        /* the daemon's timers may have run up to `now` before the event is applied */
        if (lcg() & 1)
            tkt_fire(t, pol, now, &al);
        int kind = (int)(lcg() % 15);
        ComplaintEvent ev;
        switch (kind) {
        case 0: ev = mk(CT_CONTACTED, at); break;
        case 1: ev = mk(CT_FIRST_REPLY, at); break;
        case 2: ev = mk(CT_RESOLVED, at); break;
        case 3:
            ev = mk(CT_REVISIT, at);
            ev.has = EVF_SATISFIED;
            ev.satisfied = (lcg() % 4) == 0;
            break;
        case 4: ev = mk(CT_PAUSED, at); break;
        case 5: ev = mk(CT_RESUMED, at); break;
        case 6:
            ev = mk(CT_EXTENDED, at);
            ev.ext_stage = (lcg() & 1) ? EXT_RESOLVE : EXT_FIRST_REPLY;
            ev.ext_hours = 1 + (int)(lcg() % 72);
            break;
        case 7:
            ev = mk(CT_UPDATED, at);
            ev.has = EVF_CLAIM | EVF_MAJOR;
            ev.claim = lcg() & 1;
            ev.major = (lcg() % 3) == 0;
            break;
        case 8:
            if (lcg() % 8 == 0) {
                ev = mk(CT_CLOSED, at);
                break;
            }
            /* fall through */
        default: tkt_fire(t, pol, now, &al); continue;
        /* the second wave (§12) */
        case 9: ev = mk(CT_PROGRESS, at); break;
        case 10:
            ev = mk(CT_PAUSED, at);
            if (lcg() & 1) {
                ev.has = EVF_UNTIL;
                ev.until = at + (int64_t)(lcg() % (96 * H));
            }
            break;
        case 11:
            ev = mk(CT_UPDATED, at);
            ev.has = EVF_VALIDITY | EVF_CLAIM_AMOUNT;
            ev.invalid = (lcg() % 3) == 0;
            ev.claim_amount = (double)(lcg() % 80000);
            break;
        }
        char detail[EVT_DETAIL_MAX];
        TktResult r = tkt_apply(t, &ev, pol, now, &al, detail, sizeof detail);
        if (r == TKT_INVALID)
            ck_assert(ev.type == CT_REVISIT && !t->tg[STG_RESOLVE].done);
        tkt_fire(t, pol, now, &al);
        /* invariants of the state */
        for (int s = 0; s < STG__COUNT; s++) {
            const Target *tg = &t->tg[s];
            if (tg->done || t->closed)
                ck_assert_int_eq(tu32_get(tg->deadline), TU_NEVER);
            if (tu32_get(tg->deadline) != TU_NEVER && tu32_get(tg->warn_at) != TU_NEVER)
                ck_assert_int_le(tu32_get(tg->warn_at), tu32_get(tg->deadline));
            if (tg->breach_state == AST_NONE && !tg->done && !t->closed)
                ck_assert_int_gt(tu32_get(tg->deadline), now);
        }
        if (t->round == 1 && !t->closed && !t->tg[STG_RESOLVE].done)
            ck_assert_int_le(tu32_get(t->tg[STG_RESOLVE].deadline), tu32_get(t->received_at) + pol->statutory_limit);
        if (step_no % 7 == 3) {
            Ticket *u = round_trip(t);
            tkt_free(t);
            t = u;
        }
    }
    if (tkt_open(t)) {
        at += H;
        step_ok(t, CT_CLOSED, at);
    }
    track(ids, &nids, NELEM(ids), &al);
    for (int k = 0; k < nids; k++)
        ck_assert_msg(ids[k].state == 2, "seed %llu: %s still firing after close", (unsigned long long)seed, ids[k].id);
    tkt_free(t);
}

/* 25 histories per test: a fork per history would cost more than the history. */
START_TEST(test_random_histories)
{
    for (int k = 0; k < 25; k++)
        random_history((uint64_t)_i * 25 + (uint64_t)k);
}
END_TEST

/* ==== (e) the second wave of rules (contract §12) ========================= */

/* The ids of the alerts emitted, in order, joined by spaces, with status. */
static const char *ids_of(char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < al.n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s:%s", i ? " " : "", al.v[i].alert_id,
                                 alert_status_name(al.v[i].status));
    return buf;
}

/* The one alert with this id and status. */
static const Alert *by_id(const char *id, AlertStatus st)
{
    char buf[2048];
    for (size_t i = 0; i < al.n; i++)
        if (strcmp(al.v[i].alert_id, id) == 0 && al.v[i].status == st)
            return &al.v[i];
    ck_abort_msg("no %s %s among: %s", id, alert_status_name(st), ids_of(buf, sizeof buf));
    return NULL;
}

static TktResult pause_until(Ticket *t, int64_t at, int64_t until)
{
    ComplaintEvent ev = mk(CT_PAUSED, at);
    if (until != 0) {
        ev.has = EVF_UNTIL;
        ev.until = until;
    }
    return apply_at(t, &ev, at);
}

/* A paused dated the very second the running pause ends by itself opens
 * the next pause (it is not a paused while paused), and that pause ended
 * on time, as a resumed of that second would have ended it: no
 * pause_overdue for it. The deadlines move by the new pause. */
START_TEST(test_paused_at_the_end_of_a_pause)
{
    Ticket *t = receive_normal();
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), T("2026-11-23T15:00:00+08:00")), TKT_APPLIED);
    int64_t before = tu32_get(t->tg[STG_FIRST_REPLY].deadline);
    alert_list_reset(&al);
    ck_assert_int_eq(pause_until(t, T("2026-11-23T15:00:00+08:00"), T("2026-11-24T10:00:00+08:00")), TKT_APPLIED);
    ck_assert(tkt_paused(t));
    ck_assert_uint_eq(tkt_n_pauses(t), 2);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), before + 19 * 3600, "moved by the second pause's 19 h");
    tkt_fire(t, pol, T("2026-11-24T10:00:00+08:00") - 1, &al);
    ck_assert_int_eq(count_alerts(AL_PAUSE_OVERDUE, AS_FIRING), 0);
    tkt_fire(t, pol, T("2026-11-24T10:00:00+08:00"), &al);
    ck_assert_int_eq(count_alerts(AL_PAUSE_OVERDUE, AS_FIRING), 1);
    by_id("pause_overdue/" TID "/1/2", AS_FIRING);
    tkt_free(t);
}
END_TEST

/* A paused a fraction of a second after a pause's end comes after it: the
 * pause ended by itself, its pause_overdue fires, and the paused ends it
 * and opens the next pause. The same whichever of the two pauseds comes
 * first (a late one fires and resolves the overdue at once). */
START_TEST(test_paused_a_fraction_after_the_end)
{
    int64_t end = T("2026-11-23T15:00:00+08:00"), now = T("2026-11-23T16:30:00+08:00");
    ComplaintEvent p1 = mk(CT_PAUSED, T("2026-11-23T10:00:00+08:00")), p2 = mk(CT_PAUSED, end);
    p1.has = p2.has = EVF_UNTIL;
    p1.until = end;
    p2.until = T("2026-11-24T10:00:00+08:00");
    p2.occurred_ns = 500000000;
    for (int late = 0; late < 2; late++) {
        Ticket *t = receive_normal();
        alert_list_reset(&al);
        if (late) {
            ck_assert_int_eq(apply_at(t, &p2, end), TKT_APPLIED);
            ck_assert_int_eq(apply_at(t, &p1, now), TKT_APPLIED);
            tkt_fire(t, pol, now, &al); /* the desk fires what fell due */
        } else {
            ck_assert_int_eq(apply_at(t, &p1, p1.occurred_at), TKT_APPLIED);
            tkt_fire(t, pol, end, &al); /* the clock reaches 15:00:00.5 */
            ck_assert_int_eq(apply_at(t, &p2, end), TKT_APPLIED);
        }
        ck_time(by_id("pause_overdue/" TID "/1/1", AS_FIRING)->condition_at, end, "the first pause's end");
        ck_time(by_id("pause_overdue/" TID "/1/1", AS_RESOLVED)->resolved_at, end, "ended by the second paused");
        ck_assert_uint_eq(tkt_n_pauses(t), 2);
        ck_assert(tkt_paused(t));
        tkt_free(t);
    }
}
END_TEST

/* §12.3: a pause without `until` ends by itself after pause_max; one with
 * `until` at that date; either way pause_overdue fires and ends at the next
 * resumed, paused or completed stage. */
START_TEST(test_pause_overdue)
{
    Ticket *t = receive_normal();
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), 0), TKT_APPLIED);
    ck_assert(tkt_paused(t));
    /* 1 business hour of contact used; the rest runs from the end of pause_max */
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-26T11:00:00+08:00"), "contact after the 72 h pause");
    ck_time(tkt_next_due_p(t, pol), T("2026-11-26T10:00:00+08:00"), "the pause's end");
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-26T10:00:00+08:00") - 1, &al);
    ck_assert_uint_eq(al.n, 0);
    tkt_fire(t, pol, T("2026-11-26T10:00:00+08:00"), &al);
    const Alert *a = by_id("pause_overdue/" TID "/1/1", AS_FIRING);
    ck_time(a->condition_at, T("2026-11-26T10:00:00+08:00"), "at pause_max");
    ck_assert(!tkt_paused(t));
    /* the late resumed ends it and changes nothing else */
    alert_list_reset(&al);
    ck_assert_int_eq(step(t, CT_RESUMED, T("2026-11-26T10:30:00+08:00")), TKT_APPLIED);
    by_id("pause_overdue/" TID "/1/1", AS_RESOLVED);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-26T11:00:00+08:00"), "contact unchanged");
    /* nothing fires twice */
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-26T10:59:00+08:00"), &al);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_int_ne(al.v[i].type, AL_PAUSE_OVERDUE);

    /* The second pause of the round, with an agreed date; completing the open
     * stage ends its overdue alert. */
    ck_assert_int_eq(pause_until(t, T("2026-11-26T10:40:00+08:00"), T("2026-11-26T15:00:00+08:00")), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-26T15:20:00+08:00"), "20 min left after the agreed date");
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-26T15:00:00+08:00"), &al);
    by_id("pause_overdue/" TID "/1/2", AS_FIRING);
    alert_list_reset(&al);
    step_ok(t, CT_CONTACTED, T("2026-11-26T15:10:00+08:00"));
    by_id("pause_overdue/" TID "/1/2", AS_RESOLVED);
    tkt_free(t);

    /* A paused while paused is history, not a pause of its own: the next
     * pause of the round is the 2nd (§12.3: n = the pause's number). */
    alert_list_reset(&al);
    t = receive_normal();
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), T("2026-11-23T11:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:10:00+08:00"), T("2026-11-23T10:50:00+08:00")), TKT_HISTORY);
    step_ok(t, CT_RESUMED, T("2026-11-23T10:20:00+08:00"));
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:30:00+08:00"), T("2026-11-23T11:00:00+08:00")), TKT_APPLIED);
    tkt_fire(t, pol, T("2026-11-23T11:00:00+08:00"), &al);
    ck_assert_int_eq(count_alerts(AL_PAUSE_OVERDUE, AS_FIRING), 1);
    by_id("pause_overdue/" TID "/1/2", AS_FIRING);
    alert_list_reset(&al);
    step_ok(t, CT_RESUMED, T("2026-11-23T11:10:00+08:00"));
    by_id("pause_overdue/" TID "/1/2", AS_RESOLVED);
    tkt_free(t);

    /* A resumed before the agreed date: nothing fires. */
    alert_list_reset(&al);
    t = receive_normal();
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), T("2026-11-24T10:00:00+08:00")), TKT_APPLIED);
    step_ok(t, CT_RESUMED, T("2026-11-23T12:00:00+08:00"));
    tkt_fire(t, pol, T("2026-11-24T10:00:00+08:00"), &al);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_int_ne(al.v[i].type, AL_PAUSE_OVERDUE);
    tkt_free(t);
}
END_TEST

/* §12.4: after first_reply a customer-facing event is due every
 * progress_interval until resolved. */
START_TEST(test_progress_due)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_FIRST_REPLY, T("2026-11-23T12:00:00+08:00"));
    ck_assert(tkt_next_due_p(t, pol) <= T("2026-11-24T12:00:00+08:00"));
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-24T12:00:00+08:00"), &al);
    const Alert *a = by_id("progress_due/" TID "/1/1", AS_FIRING);
    ck_time(a->condition_at, T("2026-11-24T12:00:00+08:00"), "24 h after first_reply");
    /* a progress report ends it; the next one is due 24 h after it */
    alert_list_reset(&al);
    step_ok(t, CT_PROGRESS, T("2026-11-24T13:00:00+08:00"));
    by_id("progress_due/" TID "/1/1", AS_RESOLVED);
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-25T12:59:59+08:00"), &al);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_int_ne(al.v[i].type, AL_PROGRESS_DUE);
    tkt_fire(t, pol, T("2026-11-25T13:00:00+08:00"), &al);
    by_id("progress_due/" TID "/1/2", AS_FIRING);
    /* resolved ends it, and nothing is due after */
    alert_list_reset(&al);
    step_ok(t, CT_RESOLVED, T("2026-11-25T14:00:00+08:00"));
    by_id("progress_due/" TID "/1/2", AS_RESOLVED);
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-27T14:00:00+08:00"), &al);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_int_ne(al.v[i].type, AL_PROGRESS_DUE);
    tkt_free(t);

    /* progress_interval = 0 disables it */
    char err[128];
    ck_assert_int_eq(pol_set(pol, "progress_interval", "0", err, sizeof err), 0);
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_FIRST_REPLY, T("2026-11-23T12:00:00+08:00"));
    tkt_fire(t, pol, T("2026-11-26T12:00:00+08:00"), &al);
    for (size_t i = 0; i < al.n; i++)
        ck_assert_int_ne(al.v[i].type, AL_PROGRESS_DUE);
    tkt_free(t);
}
END_TEST

/* §12.4: response_schedule, the n-th customer-facing event of round 1 due at
 * received + the n-th offset. */
START_TEST(test_response_schedule)
{
    char err[128];
    ck_assert_int_eq(pol_set(pol, "response_schedule", "2h,24h,48h,5d", err, sizeof err), 0);
    ck_assert_int_eq(pol_set(pol, "progress_interval", "0", err, sizeof err), 0);
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:00:00+08:00")); /* 1st, due 11:00 */
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-24T09:00:00+08:00"), &al); /* 2nd due received + 24 h */
    const Alert *a = by_id("response_due/" TID "/2", AS_FIRING);
    ck_time(a->condition_at, T("2026-11-24T09:00:00+08:00"), "received + 24 h");
    ck_assert_uint_eq((size_t)count_alerts(AL_RESPONSE_DUE, AS_FIRING), 1);
    alert_list_reset(&al);
    step_ok(t, CT_FIRST_REPLY, T("2026-11-24T10:00:00+08:00")); /* the 2nd response, late */
    by_id("response_due/" TID "/2", AS_RESOLVED);
    step_ok(t, CT_PROGRESS, T("2026-11-24T11:00:00+08:00")); /* the 3rd, before received + 48 h */
    alert_list_reset(&al);
    tkt_fire(t, pol, T("2026-11-28T09:00:00+08:00"), &al); /* the 4th is due at received + 5 d */
    by_id("response_due/" TID "/4", AS_FIRING);
    ck_assert_int_eq(count_alerts(AL_RESPONSE_DUE, AS_FIRING), 1);
    /* the close ends it, with the condition time it fired with */
    alert_list_reset(&al);
    step_ok(t, CT_CLOSED, T("2026-11-28T10:00:00+08:00"));
    a = by_id("response_due/" TID "/4", AS_RESOLVED);
    ck_time(a->condition_at, T("2026-11-28T09:00:00+08:00"), "received + 5 d");
    ck_time(a->resolved_at, T("2026-11-28T10:00:00+08:00"), "the close");
    tkt_free(t);

    /* bad schedules are refused */
    ck_assert_int_ne(pol_set(pol, "response_schedule", "2h,,3h", err, sizeof err), 0);
    ck_assert_int_ne(pol_set(pol, "response_schedule", "5h,2h", err, sizeof err), 0);
    ck_assert_int_ne(pol_set(pol, "response_schedule", "soon", err, sizeof err), 0);
}
END_TEST

static Ticket *receive_facts(const char *tid, double amount, int complainants, bool injury, bool vip, bool exec)
{
    ComplaintEvent ev = mk(CT_RECEIVED, T(MON0900));
    snprintf(ev.ticket_id, sizeof ev.ticket_id, "%s", tid);
    ev.channel = CH_HOTLINE;
    ev.category = CAT_DAMAGE;
    ev.has = EVF_CHANNEL | EVF_CATEGORY;
    if (amount >= 0) {
        ev.has |= EVF_CLAIM_AMOUNT;
        ev.claim_amount = amount;
    }
    if (complainants > 0) {
        ev.has |= EVF_COMPLAINANTS;
        ev.complainants = complainants;
    }
    ev.has |= (injury ? EVF_INJURY : 0) | (vip ? EVF_VIP : 0) | (exec ? EVF_EXECUTIVE : 0);
    ev.injury = injury;
    ev.vip = vip;
    ev.executive = exec;
    Ticket *t = tkt_new(&ev, pol, &al);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void ck_because(const Alert *a, const char *want)
{
    char got[256] = "";
    for (unsigned bit = 1; bit < (1u << MB__COUNT); bit <<= 1)
        if (a->major_because & bit)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", got[0] ? "," : "",
                     alert_major_because_name(bit));
    ck_assert_str_eq(got, want);
}

/* §12.5: a ticket is major from its facts, with major_because. */
START_TEST(test_major_from_facts)
{
    Ticket *t = receive_facts("F1", 49999.99, 4, false, false, false);
    ck_assert(!t->major);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 0);
    tkt_free(t);

    alert_list_reset(&al);
    t = receive_facts("F2", 50000, 5, false, false, false);
    ck_assert(t->major && t->urgent);
    ck_because(the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1), "claim_amount,complainants");
    
    tkt_free(t);

    alert_list_reset(&al);
    t = receive_facts("F3", -1, 0, true, true, true);
    ck_because(the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1), "injury,vip,executive");
    json_t *j = encode(the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1));
    const json_t *mb = json_object_get(j, "major_because");
    ck_assert_uint_eq(json_array_size(mb), 3);
    ck_assert_str_eq(json_string_value(json_array_get(mb, 0)), "injury");
    json_decref(j);
    tkt_free(t);

    /* an updated with a fact escalates a normal ticket once */
    alert_list_reset(&al);
    t = receive_normal();
    ComplaintEvent ev = mk(CT_UPDATED, T("2026-11-23T09:30:00+08:00"));
    ev.has = EVF_VIP;
    ev.vip = true;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ck_because(the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1), "vip");
    alert_list_reset(&al);
    ev = mk(CT_UPDATED, T("2026-11-23T09:40:00+08:00"));
    ev.has = EVF_MAJOR;
    ev.major = true;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 0);
    tkt_free(t);

    /* an unsatisfied revisit makes the ticket major: major_because reopened */
    alert_list_reset(&al);
    t = receive_normal();
    step_ok(t, CT_RESOLVED, T(REOPEN_RESOLVED));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    ck_assert(t->major);
    const Alert *e = the_alert(AL_TICKET_ESCALATED, AS_FIRING, -1);
    ck_because(e, "reopened");
    tkt_free(t);
}
END_TEST

/* §12.6: an invalid complaint is resolved within 10 business hours of being
 * found invalid, when that is sooner. */
START_TEST(test_invalid_resolve)
{
    Ticket *t = receive_normal();
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-25T09:00:00+08:00"), "48 h");
    ck_assert_int_eq(update_validity(t, true, T("2026-11-23T10:00:00+08:00")), TKT_APPLIED);
    ck_assert(!tkt_valid(t));
    /* 10-12, 14-20, Tuesday 08-10 */
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-24T10:00:00+08:00"), "10 business hours");
    /* later than the current target: no change */
    tkt_free(t);
    t = receive((Recv){MON0900, CH_MEDIA, CAT_DELAY, false, false, NULL}); /* urgent: resolve in 24 h */
    ck_assert_int_eq(update_validity(t, true, T("2026-11-23T20:00:00+08:00")), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-24T09:00:00+08:00"), "the urgent 24 h stays");
    /* valid again: the usual target */
    ck_assert_int_eq(update_validity(t, false, T("2026-11-23T21:00:00+08:00")), TKT_APPLIED);
    ck_assert(tkt_valid(t));
    tkt_free(t);

    /* Reopened, an invalid ticket's target runs from the new round's start,
     * not from the updated of round 1 (which would put it before the round) */
    t = receive_normal();
    ck_assert_int_eq(update_validity(t, true, T("2026-11-23T10:00:00+08:00")), TKT_APPLIED);
    step_ok(t, CT_RESOLVED, T("2026-11-23T11:00:00+08:00"));
    alert_list_reset(&al);
    ck_assert_int_eq(revisit(t, false, T("2026-11-25T09:00:00+08:00"), T("2026-11-25T09:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(t->round, 2);
    /* Wednesday 09-12, 14-20, Thursday 08-09: 10 business hours */
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-26T09:00:00+08:00"), "10 business hours of round 2");
    for (size_t i = 0; i < al.n; i++) /* (the revisit came late: its own breach fired) */
        ck_assert_msg(al.v[i].round != 2 || al.v[i].stage != STG_RESOLVE, "%s fired at the reopening", al.v[i].alert_id);
    tkt_free(t);
}
END_TEST

/* §6: met only at or before the deadline. A completion a fraction of a
 * second after it (11:00:00.5 for 11:00:00) is late: the breach fires before
 * it and resolves with late_by_seconds 1 (whole seconds, rounded up). */
START_TEST(test_fraction_after_the_deadline)
{
    Ticket *t = receive_normal(); /* contact due 11:00 */
    alert_list_reset(&al);
    ComplaintEvent ev = mk(CT_CONTACTED, T("2026-11-23T11:00:00+08:00"));
    ev.occurred_ns = 500000000;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    by_id("sla_breach/" TID "/1/contact", AS_FIRING);
    const Alert *a = by_id("sla_breach/" TID "/1/contact", AS_RESOLVED);
    ck_assert(a->has_late_by);
    ck_assert_int_eq(a->late_by_seconds, 1);
    tkt_free(t);
    /* at the deadline's very second, no fraction: met, nothing fires */
    t = receive_normal();
    alert_list_reset(&al);
    ev = mk(CT_CONTACTED, T("2026-11-23T11:00:00+08:00"));
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ck_assert_int_eq(count_alerts(AL_SLA_BREACH, AS_FIRING), 0);
    tkt_free(t);
}
END_TEST

static Ticket *receive_waybill(Category cat, const char *at)
{
    Ticket *t = receive((Recv){at, CH_HOTLINE, cat, false, false, NULL});
    ck_assert_int_eq(tkt_set_str(t, TS_WAYBILL, "YT9"), 0);
    return t;
}

/* §12.7: delay or loss, 7 days from pickup. */
/* A pause running at an unsatisfied revisit goes on in the new round, told
 * by occurred_at: the same round-2 deadline whether the revisit and the
 * resumed come in time, late (after the pause's agreed date passed on the
 * clock), or the resumed before the revisit. Round 2 starts 12:00, paused
 * until the resumed at 15:00; 2 business hours of contact: 15:00-17:00. */
START_TEST(test_reopen_carries_pause_by_event_time)
{
    int64_t paused = T("2026-11-23T11:00:00+08:00"), until = T("2026-11-23T20:00:00+08:00");
    int64_t rv = T("2026-11-23T12:00:00+08:00"), res = T("2026-11-23T15:00:00+08:00");
    int64_t late = T("2026-11-23T21:00:00+08:00");
    for (int order = 0; order < 3; order++) {
        Ticket *t = receive_normal();
        step_ok(t, CT_RESOLVED, T("2026-11-23T10:00:00+08:00"));
        ck_assert_int_eq(pause_until(t, paused, until), TKT_APPLIED);
        ComplaintEvent r = mk(CT_RESUMED, res);
        if (order == 0) { /* in time */
            ck_assert_int_eq(revisit(t, false, rv, rv), TKT_APPLIED);
            ck_assert_int_eq(apply_at(t, &r, res), TKT_APPLIED);
        } else if (order == 1) { /* both after the clock passed `until` */
            tkt_advance(t, late, &al);
            ck_assert_int_eq(revisit(t, false, rv, late), TKT_APPLIED);
            ck_assert_int_eq(apply_at(t, &r, late), TKT_APPLIED);
        } else { /* the resumed first */
            ck_assert_int_eq(apply_at(t, &r, res), TKT_APPLIED);
            ck_assert_int_eq(revisit(t, false, rv, res), TKT_APPLIED);
        }
        ck_assert_int_eq(t->round, 2);
        ck_assert_uint_eq(tkt_n_pauses(t), 1);
        ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T17:00:00+08:00"), "round 2 contact");
        ck_assert(!tkt_paused(t));
        tkt_free(t);
    }
}
END_TEST

/* An unsatisfied revisit makes the ticket major without the reason `major`;
 * a major fact later adds it, and `flag` to major_because, without a second
 * escalation of the round. */
START_TEST(test_major_fact_after_reopen)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    ck_assert_int_eq(revisit(t, false, T(REOPEN_AT), T(REOPEN_AT)), TKT_APPLIED);
    ck_assert_uint_eq(t->reasons, RSN_REOPENED);
    ck_assert_uint_eq(t->major_because, MB_REOPENED);
    alert_list_reset(&al);
    ck_assert_int_eq(update_major(t, true, T(REOPEN_AT) + 60), TKT_APPLIED);
    ck_assert_uint_eq(t->reasons, RSN_REOPENED | RSN_MAJOR);
    ck_assert_uint_eq(t->major_because, MB_REOPENED | MB_FLAG);
    ck_assert_int_eq(count_alerts(AL_TICKET_ESCALATED, AS_FIRING), 0);
    /* a second fact adds no reason twice */
    ck_assert_int_eq(update_major(t, true, T(REOPEN_AT) + 120), TKT_APPLIED);
    ck_assert_uint_eq(t->reasons, RSN_REOPENED | RSN_MAJOR);
    tkt_free(t);
}
END_TEST

/* §12.6: the invalid target applies when it is earlier than the deadline in
 * force, the statutory limit included. Received Monday 09:00, paused 10:00
 * to Sunday 10:00: the own resolve target would be Tuesday 12-01 09:00, the
 * limit makes it Monday 11-30 09:00, warning at the same instant. Found
 * invalid Sunday 10:30: its target, Monday 10:30, is later than the limit,
 * so the deadline and the warning stay (80 % of it would be Monday 08:30). */
START_TEST(test_invalid_after_statutory_limit)
{
    Ticket *t = receive_normal();
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), T("2026-11-29T10:00:00+08:00")), TKT_APPLIED);
    tkt_advance(t, T("2026-11-29T10:30:00+08:00"), &al);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-30T09:00:00+08:00"), "the limit");
    ck_assert_int_eq(update_validity(t, true, T("2026-11-29T10:30:00+08:00")), TKT_APPLIED);
    ck_time(tu32_get(t->tg[STG_RESOLVE].deadline), T("2026-11-30T09:00:00+08:00"), "still the limit");
    ck_time(tu32_get(t->tg[STG_RESOLVE].warn_at), T("2026-11-30T09:00:00+08:00"), "warning");
    tkt_free(t);
}
END_TEST

/* A warning and a breach ending at their stage's completion both carry the
 * deadline in force then. Contact Monday 09:30; first_reply due Wednesday
 * 09:00, warned Tuesday 23:24; made major Wednesday 01:00, which makes it
 * due at 01:00 (never before the rise); answered 02:00. */
START_TEST(test_ended_alerts_carry_deadline_in_force)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T09:30:00+08:00"));
    tkt_advance(t, T("2026-11-25T00:00:00+08:00"), &al);
    ck_time(by_id("sla_warning/" TID "/1/first_reply", AS_FIRING)->deadline, T("2026-11-25T09:00:00+08:00"),
            "fired with");
    ck_assert_int_eq(update_major(t, true, T("2026-11-25T01:00:00+08:00")), TKT_APPLIED);
    alert_list_reset(&al);
    step_ok(t, CT_FIRST_REPLY, T("2026-11-25T02:00:00+08:00"));
    int64_t due = T("2026-11-25T01:00:00+08:00");
    ck_time(by_id("sla_warning/" TID "/1/first_reply", AS_RESOLVED)->deadline, due, "warning resolved");
    const Alert *b = by_id("sla_breach/" TID "/1/first_reply", AS_RESOLVED);
    ck_time(b->deadline, due, "breach resolved");
    ck_assert_int_eq(b->late_by_seconds, 3600);
    tkt_free(t);
}
END_TEST

/* A resumed at the very instant its pause would end by itself ends it: it
 * is applied, and no pause_overdue fires. */
START_TEST(test_resumed_at_the_agreed_date)
{
    Ticket *t = receive_normal();
    int64_t until = T("2026-11-23T15:00:00+08:00");
    ck_assert_int_eq(pause_until(t, T("2026-11-23T10:00:00+08:00"), until), TKT_APPLIED);
    alert_list_reset(&al);
    ck_assert_int_eq(step(t, CT_RESUMED, until), TKT_APPLIED);
    tkt_advance(t, until + H, &al);
    ck_assert_int_eq(count_alerts(AL_PAUSE_OVERDUE, AS_FIRING), 0);
    tkt_free(t);
}
END_TEST

/* Pause events around an unsatisfied revisit that arrive out of order are
 * told by occurred_at too. A resumed of 11:30 arriving after the revisit of
 * 12:00 ended the pause before it: round 2 runs unpaused (contact 14:00 to
 * 16:00). A paused of 13:00 (until 18:00) that arrived before the revisit
 * belongs to round 2: contact runs 18:00-20:00; its pause_overdue is round
 * 2's. */
START_TEST(test_pause_events_around_a_late_revisit)
{
    int64_t rv = T("2026-11-23T12:00:00+08:00");
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T10:00:00+08:00"));
    ck_assert_int_eq(pause_until(t, T("2026-11-23T11:00:00+08:00"), T("2026-11-23T20:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(revisit(t, false, rv, rv), TKT_APPLIED);
    ck_assert_uint_eq(tkt_n_pauses(t), 1);
    ComplaintEvent r = mk(CT_RESUMED, T("2026-11-23T11:30:00+08:00"));
    ck_assert_int_eq(apply_at(t, &r, rv + 60), TKT_APPLIED);
    ck_assert_uint_eq(tkt_n_pauses(t), 0);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T16:00:00+08:00"), "round 2 contact, unpaused");
    tkt_free(t);

    t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T10:00:00+08:00"));
    int64_t until = T("2026-11-23T18:00:00+08:00");
    ck_assert_int_eq(pause_until(t, T("2026-11-23T13:00:00+08:00"), until), TKT_APPLIED);
    ck_assert_int_eq(revisit(t, false, rv, T("2026-11-23T13:00:00+08:00")), TKT_APPLIED);
    ck_assert_uint_eq(tkt_n_pauses(t), 1);
    ck_time(tu32_get(t->tg[STG_CONTACT].deadline), T("2026-11-23T20:00:00+08:00"), "round 2 contact, paused 13-18");
    alert_list_reset(&al);
    tkt_advance(t, until, &al);
    ck_assert_str_eq(the_alert(AL_PAUSE_OVERDUE, AS_FIRING, -1)->alert_id, "pause_overdue/" TID "/2/1");
    tkt_free(t);
}
END_TEST

static int count_id(const char *id, AlertStatus st)
{
    int n = 0;
    for (size_t i = 0; i < al.n; i++)
        n += strcmp(al.v[i].alert_id, id) == 0 && al.v[i].status == st;
    return n;
}

/* A pause_overdue ends under the id it fired with, and no id fires twice,
 * whatever pause events come late: a resumed that takes its pause out of
 * the round, a paused that moves the pauses' numbers. */
START_TEST(test_pause_overdue_ids_with_late_pause_events)
{
    /* round 2's carried pause runs out and fires; a late resumed dated before
     * the revisit then ends that pause before the round */
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-23T10:00:00+08:00"));
    ck_assert_int_eq(pause_until(t, T("2026-11-23T11:00:00+08:00"), T("2026-11-24T11:00:00+08:00")), TKT_APPLIED);
    int64_t rv = T("2026-11-23T12:00:00+08:00");
    ck_assert_int_eq(revisit(t, false, rv, rv), TKT_APPLIED);
    int64_t now = T("2026-11-25T00:00:00+08:00");
    alert_list_reset(&al);
    tkt_advance(t, now, &al);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/2/1", AS_FIRING), 1);
    /* (and a snapshot keeps the id it fired with) */
    Ticket *u = round_trip(t);
    tkt_free(t);
    t = u;
    ComplaintEvent r = mk(CT_RESUMED, T("2026-11-23T11:30:00+08:00"));
    ck_assert_int_eq(apply_at(t, &r, now), TKT_APPLIED);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/2/1", AS_RESOLVED), 1);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/2/0", AS_RESOLVED), 0);
    tkt_free(t);

    /* a paused dated before a pause whose overdue fired, and running out
     * itself: its overdue takes the next number, not the one already used,
     * and the paused that followed it in time ends it at once (§12.3) */
    t = receive_normal();
    step_ok(t, CT_CONTACTED, T("2026-11-23T10:30:00+08:00"));
    ck_assert_int_eq(step(t, CT_PAUSED, T("2026-11-27T17:30:00+08:00")), TKT_APPLIED); /* pause_max: to 11-30 */
    alert_list_reset(&al);
    ck_assert_int_eq(step(t, CT_RESUMED, T("2026-11-30T23:00:00+08:00")), TKT_APPLIED);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/1", AS_FIRING), 1);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/1", AS_RESOLVED), 1);
    now = T("2026-12-01T00:00:00+08:00");
    ComplaintEvent p = mk(CT_PAUSED, T("2026-11-24T13:00:00+08:00")); /* ran out 11-27 13:00 */
    ck_assert_int_eq(apply_at(t, &p, now), TKT_APPLIED);
    tkt_advance(t, now, &al);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/1", AS_FIRING), 1);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/2", AS_FIRING), 1);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/2", AS_RESOLVED), 1);
    const Alert *end = &al.v[al.n - 1];
    ck_assert_str_eq(end->alert_id, "pause_overdue/" TID "/1/2");
    ck_assert_int_eq(end->status, AS_RESOLVED);
    ck_assert_int_eq(end->condition_at, T("2026-11-27T13:00:00+08:00"));
    ck_assert_int_eq(end->resolved_at, T("2026-11-27T17:30:00+08:00"));
    /* nothing is left firing: a later resumed ends nothing */
    alert_list_reset(&al);
    ComplaintEvent r2 = mk(CT_RESUMED, T("2026-12-01T01:00:00+08:00"));
    ck_assert_int_eq(apply_at(t, &r2, r2.occurred_at), TKT_HISTORY);
    ck_assert_int_eq(count_id("pause_overdue/" TID "/1/2", AS_RESOLVED), 0);
    tkt_free(t);
}
END_TEST

/* A paused that comes late, its agreed date past, after what ended its
 * pause in time order was recorded (a resumed, recorded as history then, or
 * the open stage's completion): its pause_overdue fires and resolves at
 * once, at that event's time, as in time order (§12.3). */
START_TEST(test_pause_overdue_of_a_late_paused_ends_at_once)
{
    int64_t now = T("2026-11-28T00:00:00+08:00"), end = T("2026-11-26T18:12:09+08:00");
    for (int shape = 0; shape < 2; shape++) {
        Ticket *t = receive_normal();
        step_ok(t, CT_CONTACTED, T("2026-11-23T10:30:00+08:00"));
        int64_t ender = shape == 0 ? T("2026-11-26T19:47:07+08:00") : T("2026-11-26T19:00:00+08:00");
        if (shape == 0)
            ck_assert_int_eq(step(t, CT_RESUMED, ender), TKT_HISTORY); /* nothing to resume yet */
        else
            step_ok(t, CT_FIRST_REPLY, ender);
        alert_list_reset(&al);
        ComplaintEvent p = mk(CT_PAUSED, T("2026-11-25T00:45:34+08:00"));
        p.has = EVF_UNTIL;
        p.until = end;
        ck_assert_int_eq(apply_at(t, &p, now), TKT_APPLIED);
        tkt_advance(t, now, &al);
        ck_assert_int_eq(count_id("pause_overdue/" TID "/1/1", AS_FIRING), 1);
        const Alert *a = the_alert(AL_PAUSE_OVERDUE, AS_RESOLVED, -1);
        ck_assert_str_eq(a->alert_id, "pause_overdue/" TID "/1/1");
        ck_assert_int_eq(a->condition_at, end);
        ck_assert_int_eq(a->resolved_at, ender);
        tkt_free(t);
    }
}
END_TEST

/* A rise of round 1 dated after a revisit that came late is no floor for
 * round 2, which is urgent from its start: first_reply is due 24 h after
 * the revisit, as when the events come in time order. */
START_TEST(test_rise_before_a_late_revisit)
{
    Ticket *t = receive_normal();
    step_ok(t, CT_RESOLVED, T("2026-11-24T10:00:00+08:00"));
    int64_t rise = T("2026-11-25T20:52:44+08:00");
    ck_assert_int_eq(update_major(t, true, rise), TKT_APPLIED);
    int64_t rv = T("2026-11-24T20:00:01+08:00");
    ck_assert_int_eq(revisit(t, false, rv, rise), TKT_APPLIED);
    ck_assert_int_eq(t->round, 2);
    ck_time(tu32_get(t->tg[STG_FIRST_REPLY].deadline), T("2026-11-25T20:00:01+08:00"), "round 2 first_reply");
    tkt_free(t);
}
END_TEST

START_TEST(test_category_review)
{
    int64_t pickup = T("2026-11-18T09:00:00+08:00"); /* + 168 h = 11-25 09:00 */
    Ticket *t = receive_waybill(CAT_DELAY, MON0900);
    int64_t now = T(MON0900);
    tkt_review(t, pickup, false, pol, now, &al);
    ck_assert_uint_eq(al.n, 0);
    ck_assert(tkt_next_due_p(t, pol) <= T("2026-11-25T09:00:00+08:00")); /* something is due by then */
    tkt_fire(t, pol, T("2026-11-25T09:00:00+08:00"), &al);
    const Alert *a = by_id("category_review/" TID "/1", AS_FIRING);
    ck_assert_int_eq(a->suggested_category, CAT_LOSS);
    ck_time(a->condition_at, T("2026-11-25T09:00:00+08:00"), "pickup + 168 h");
    json_t *j = encode(a);
    ck_assert_str_eq(jstr(j, "suggested_category"), "loss");
    json_decref(j);
    /* the parcel turns up signed: the suggestion of loss ends */
    alert_list_reset(&al);
    tkt_review(t, pickup, true, pol, T("2026-11-25T10:00:00+08:00"), &al);
    by_id("category_review/" TID "/1", AS_RESOLVED);
    tkt_free(t);

    /* signed before the limit: nothing */
    alert_list_reset(&al);
    t = receive_waybill(CAT_DELAY, MON0900);
    tkt_review(t, pickup, false, pol, now, &al);
    tkt_review(t, pickup, true, pol, T("2026-11-24T09:00:00+08:00"), &al);
    tkt_fire(t, pol, T("2026-11-26T09:00:00+08:00"), &al);
    ck_assert_int_eq(count_alerts(AL_CATEGORY_REVIEW, AS_FIRING), 0);
    tkt_free(t);

    /* loss received before pickup + 168 h: suggest delay; the desk's
     * reclassification ends it */
    alert_list_reset(&al);
    t = receive_waybill(CAT_LOSS, MON0900);
    tkt_review(t, pickup, false, pol, now, &al);
    a = by_id("category_review/" TID "/1", AS_FIRING);
    ck_assert_int_eq(a->suggested_category, CAT_DELAY);
    alert_list_reset(&al);
    ComplaintEvent ev = mk(CT_UPDATED, T("2026-11-23T10:00:00+08:00"));
    ev.has = EVF_CATEGORY;
    ev.category = CAT_DELAY;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    by_id("category_review/" TID "/1", AS_RESOLVED);
    tkt_free(t);

    /* An unsatisfied revisit ends the round's review with the round; the
     * new round's review fires with the round's id, from its start. */
    alert_list_reset(&al);
    t = receive_waybill(CAT_DELAY, MON0900);
    tkt_review(t, pickup, false, pol, now, &al);
    tkt_fire(t, pol, T("2026-11-25T09:00:00+08:00"), &al);
    by_id("category_review/" TID "/1", AS_FIRING);
    step_ok(t, CT_RESOLVED, T("2026-11-25T10:00:00+08:00"));
    alert_list_reset(&al);
    ck_assert_int_eq(revisit(t, false, T("2026-11-26T10:00:00+08:00"), T("2026-11-26T10:00:00+08:00")), TKT_APPLIED);
    a = by_id("category_review/" TID "/1", AS_RESOLVED);
    ck_time(a->resolved_at, T("2026-11-26T10:00:00+08:00"), "the reopening");
    ck_assert_int_eq(t->round, 2);
    alert_list_reset(&al);
    tkt_review(t, pickup, false, pol, T("2026-11-26T10:00:00+08:00"), &al);
    a = by_id("category_review/" TID "/2", AS_FIRING);
    ck_time(a->condition_at, T("2026-11-26T10:00:00+08:00"), "the start of round 2");
    alert_list_reset(&al);
    step_ok(t, CT_CLOSED, T("2026-11-27T10:00:00+08:00"));
    by_id("category_review/" TID "/2", AS_RESOLVED);
    ck_assert_int_eq(count_alerts(AL_CATEGORY_REVIEW, AS_RESOLVED), 1);
    tkt_free(t);

    /* delay received after pickup + 168 h: the review fires at once, its
     * condition true from the receipt, not from the limit before it */
    alert_list_reset(&al);
    t = receive_waybill(CAT_DELAY, "2026-11-26T09:00:00+08:00");
    tkt_review(t, pickup, false, pol, T("2026-11-26T09:00:00+08:00"), &al);
    a = by_id("category_review/" TID "/1", AS_FIRING);
    ck_time(a->condition_at, T("2026-11-26T09:00:00+08:00"), "the receipt");
    tkt_free(t);

    /* A ticket made a delay ticket by an `updated` after the limit: the
     * condition holds from that update (§9 condition_at), not from the
     * limit or the receipt before it; kept through the packed form. */
    alert_list_reset(&al);
    t = receive_waybill(CAT_DAMAGE, MON0900);
    tkt_review(t, pickup, false, pol, now, &al);
    ev = mk(CT_UPDATED, T("2026-11-26T10:00:00+08:00"));
    ev.has = EVF_CATEGORY;
    ev.category = CAT_DELAY;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ck_time(tkt_category_at(t), T("2026-11-26T10:00:00+08:00"), "the reclassification");
    Ticket *u = round_trip(t);
    tkt_review(u, pickup, false, pol, T("2026-11-26T10:00:00+08:00"), &al);
    a = by_id("category_review/" TID "/1", AS_FIRING);
    ck_assert_int_eq(a->suggested_category, CAT_LOSS);
    ck_time(a->condition_at, T("2026-11-26T10:00:00+08:00"), "the update");
    tkt_free(u);
    tkt_free(t);

    /* ... and a loss ticket made so before the limit: suggest delay, from the
     * update; an update that leaves the category as it was moves nothing */
    alert_list_reset(&al);
    t = receive_waybill(CAT_DAMAGE, MON0900);
    ev = mk(CT_UPDATED, T("2026-11-24T10:00:00+08:00"));
    ev.has = EVF_CATEGORY;
    ev.category = CAT_LOSS;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    ev = mk(CT_UPDATED, T("2026-11-24T11:00:00+08:00"));
    ev.has = EVF_CATEGORY;
    ev.category = CAT_LOSS;
    ck_assert_int_eq(apply_at(t, &ev, ev.occurred_at), TKT_APPLIED);
    tkt_review(t, pickup, false, pol, T("2026-11-24T11:00:00+08:00"), &al);
    a = by_id("category_review/" TID "/1", AS_FIRING);
    ck_assert_int_eq(a->suggested_category, CAT_DELAY);
    ck_time(a->condition_at, T("2026-11-24T10:00:00+08:00"), "the update that made it loss");
    tkt_free(t);

    /* loss received after the 168 h: no review; no pickup known: none */
    alert_list_reset(&al);
    t = receive_waybill(CAT_LOSS, "2026-11-25T09:00:00+08:00");
    tkt_review(t, pickup, false, pol, T("2026-11-25T09:00:00+08:00"), &al);
    tkt_review(t, 0, false, pol, T("2026-11-25T09:00:00+08:00"), &al);
    ck_assert_int_eq(count_alerts(AL_CATEGORY_REVIEW, AS_FIRING), 0);
    tkt_free(t);
}
END_TEST

/* The strings and the event ids share one block: recording ids grows it,
 * setting a string rebuilds it, and neither loses the other. */
START_TEST(test_string_block)
{
    Ticket *t = tkt_blank("T-BLOCK");
    ck_assert_ptr_nonnull(t);
    char id[64];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        ck_assert_int_eq(tkt_remember(t, id), 0);
        if (i % 50 == 0) {
            char site[16];
            snprintf(site, sizeof site, "S-%d", i);
            ck_assert_int_eq(tkt_set_str(t, TS_SITE, site), 0);
            ck_assert_str_eq(tkt_site(t), site);
        }
    }
    ck_assert_int_eq(tkt_remember(t, "ev-7"), 0); /* already there: nothing added */
    ck_assert_int_eq(tkt_set_str(t, TS_WAYBILL, "WB-77"), 0);
    ck_assert_str_eq(tkt_id(t), "T-BLOCK");
    ck_assert_str_eq(tkt_site(t), "S-150");
    ck_assert_str_eq(tkt_waybill(t), "WB-77");
    ck_assert_str_eq(tkt_region(t), "");
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        ck_assert_msg(tkt_seen(t, id), "%s lost", id);
    }
    ck_assert(!tkt_seen(t, "ev-200"));
    ck_assert(!tkt_seen(t, "T-BLOCK")); /* a string is not an event id */
    uint32_t n;
    tkt_event_ids(t, &n);
    ck_assert_uint_eq(n, 10 * 5 + 90 * 6 + 100 * 7);

    size_t len;
    uint8_t *b = tkt_pack(t, &len);
    ck_assert_ptr_nonnull(b);
    char err[128];
    Ticket *u = tkt_unpack(b, len, err, sizeof err);
    ck_assert_msg(u != NULL, "%s", err);
    ck_assert_str_eq(tkt_waybill(u), "WB-77");
    ck_assert(tkt_seen(u, "ev-199"));
    ck_assert_int_eq(tkt_remember(u, "ev-200"), 0);
    ck_assert(tkt_seen(u, "ev-200") && tkt_seen(u, "ev-0"));
    ck_assert_str_eq(tkt_id(u), "T-BLOCK");
    free(b);
    tkt_free(u);
    tkt_free(t);

    /* Ids of every length from 1 to 60 bytes, the block passing each of
     * its sizes (chunk ends, then steps by half) in small steps: with
     * no capacity field, each write must land inside the block (ASan). */
    t = tkt_blank("T");
    ck_assert_ptr_nonnull(t);
    uint32_t want = 0;
    for (int k = 1; k <= 60; k++) {
        snprintf(id, sizeof id, "%0*d", k, k); /* "1", "02", "003", ... */
        ck_assert_int_eq(tkt_remember(t, id), 0);
        want += (uint32_t)k + 1;
        tkt_event_ids(t, &n);
        ck_assert_uint_eq(n, want);
        if (k % 20 == 0)
            ck_assert_int_eq(tkt_set_str(t, TS_REGION, k == 40 ? "" : "a region"), 0);
    }
    ck_assert_str_eq(tkt_id(t), "T");
    ck_assert_str_eq(tkt_region(t), "a region");
    snprintf(id, sizeof id, "%0*d", 60, 60);
    ck_assert(tkt_seen(t, "1") && tkt_seen(t, "02") && tkt_seen(t, id));
    ck_assert(!tkt_seen(t, "01") && !tkt_seen(t, "61"));
    tkt_free(t);
}
END_TEST

/* One Ticket is kept per open ticket, a million on a busy desk:
 * docs/performance.md counts on its size. A field that grows it past this
 * must say so there. */
START_TEST(test_ticket_size)
{
    ck_assert_uint_le(sizeof(Ticket), 248);
    ck_assert_uint_le(sizeof(Target), 28);
}
END_TEST

/* Pauses, extensions and escalation times live out of line, made only for
 * the tickets that have them, kept through a snapshot, and the round's part
 * of them cleared when a revisit reopens the ticket. */
START_TEST(test_rare_part)
{
    Ticket *t = receive((Recv){MON0900, CH_HOTLINE, CAT_LOSS, true, false, NULL});
    ck_assert_ptr_null(t->rare);
    step_ok(t, CT_CONTACTED, T("2026-11-23T09:30:00+08:00"));
    Ticket *u = round_trip(t);
    ck_assert_ptr_null(u->rare); /* loading a plain ticket does not make one */
    tkt_free(u);

    ck_assert_int_eq(extend(t, EXT_RESOLVE, 24, T("2026-11-23T10:00:00+08:00"), T("2026-11-23T10:00:00+08:00")),
                     TKT_APPLIED);
    ck_assert_ptr_nonnull(t->rare);
    ck_assert_int_eq(tkt_ext(t, STG_RESOLVE), 24 * 3600);
    ck_assert_uint_eq(tkt_n_pauses(t), 0);
    step_ok(t, CT_PAUSED, T("2026-11-23T11:00:00+08:00"));
    step_ok(t, CT_RESUMED, T("2026-11-23T12:00:00+08:00"));
    ck_assert_uint_eq(tkt_n_pauses(t), 1);
    ck_assert_uint_eq(tkt_n_pause_evs(t), 2);
    u = round_trip(t);
    ck_assert_int_eq(tkt_ext(u, STG_RESOLVE), 24 * 3600);
    ck_assert_uint_eq(tkt_n_pause_evs(u), 2);
    tkt_free(u);

    step_ok(t, CT_RESOLVED, T("2026-11-23T15:00:00+08:00"));
    int64_t v = T(REOPEN_AT);
    ck_assert_int_eq(revisit(t, false, v, v), TKT_APPLIED);
    ck_assert_uint_eq(tkt_n_pauses(t), 0);
    ck_assert_uint_eq(tkt_n_pause_evs(t), 2); /* the ticket's, of every round; round 2 has none of its own */
    ck_assert_int_eq(tkt_ext(t, STG_RESOLVE), 0);
    ck_time(tkt_escalated_at(t, 2), v, "escalation of round 2");
    ck_assert_int_eq(tkt_escalated_at(t, 1), 0);
    u = round_trip(t);
    ck_assert_uint_eq(tkt_n_pauses(u), 0);
    ck_time(tkt_escalated_at(u, 2), v, "escalation of round 2 after a load");
    tkt_free(u);
    tkt_free(t);
}
END_TEST

Suite *suite_tkt(void)
{
    Suite *s = suite_create("tkt");
    TCase *tc = tcase_create("sla_table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_sla_table, 0, NELEM(sla_cases));
    tcase_add_test(tc, test_policy_defaults_cover_table);
    tcase_add_test(tc, test_revisit_not_before_resolved);
    tcase_add_test(tc, test_ticket_size);
    tcase_add_test(tc, test_rare_part);
    tcase_add_test(tc, test_string_block);
    suite_add_tcase(s, tc);

    tc = tcase_create("transitions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_ticket);
    tcase_add_test(tc, test_implied_stages);
    tcase_add_test(tc, test_completed_stage_is_history);
    tcase_add_test(tc, test_revisit_before_resolved_invalid);
    tcase_add_test(tc, test_revisit_satisfied_closes);
    tcase_add_test(tc, test_revisit_unsatisfied_reopens);
    tcase_add_test(tc, test_reopen_keeps_reasons);
    tcase_add_test(tc, test_closed_resolves_firing_alerts);
    tcase_add_test(tc, test_updated_claim_recomputes);
    tcase_add_test(tc, test_updated_major_escalates_once);
    tcase_add_test(tc, test_escalation_reasons);
    tcase_add_test(tc, test_upgrade_clamp);
    tcase_add_test(tc, test_pause_resume_calendar_and_lunch);
    tcase_add_test(tc, test_pause_across_night);
    tcase_add_test(tc, test_pause_after_deadline);
    tcase_add_test(tc, test_extended);
    tcase_add_test(tc, test_statutory_cap);
    tcase_add_test(tc, test_recompute_policy);
    suite_add_tcase(s, tc);

    tc = tcase_create("alerts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_advance_time_order);
    tcase_add_test(tc, test_next_due);
    tcase_add_test(tc, test_completion_after_deadline);
    tcase_add_test(tc, test_completion_at_deadline_met);
    tcase_add_test(tc, test_warning_resolves_on_completion);
    tcase_add_test(tc, test_moved_deadline_resolves_breach);
    tcase_add_test(tc, test_late_extension_then_completion);
    tcase_add_test(tc, test_revisit_alerts);
    tcase_add_test(tc, test_alert_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("second_wave");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pause_overdue);
    tcase_add_test(tc, test_paused_at_the_end_of_a_pause);
    tcase_add_test(tc, test_paused_a_fraction_after_the_end);
    tcase_add_test(tc, test_progress_due);
    tcase_add_test(tc, test_response_schedule);
    tcase_add_test(tc, test_major_from_facts);
    tcase_add_test(tc, test_invalid_resolve);
    tcase_add_test(tc, test_fraction_after_the_deadline);
    tcase_add_test(tc, test_category_review);
    tcase_add_test(tc, test_reopen_carries_pause_by_event_time);
    tcase_add_test(tc, test_major_fact_after_reopen);
    tcase_add_test(tc, test_invalid_after_statutory_limit);
    tcase_add_test(tc, test_ended_alerts_carry_deadline_in_force);
    tcase_add_test(tc, test_resumed_at_the_agreed_date);
    tcase_add_test(tc, test_pause_events_around_a_late_revisit);
    tcase_add_test(tc, test_pause_overdue_ids_with_late_pause_events);
    tcase_add_test(tc, test_pause_overdue_of_a_late_paused_ends_at_once);
    tcase_add_test(tc, test_rise_before_a_late_revisit);
    suite_add_tcase(s, tc);

    tc = tcase_create("serialisation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pack_round_trip);
    tcase_add_test(tc, test_unpack_bad_input);
    tcase_add_test(tc, test_json_state_of_migration_001);
    tcase_add_loop_test(tc, test_random_histories, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}
