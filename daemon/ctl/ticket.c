/* ticket: `complaintctl ticket show ID`, one ticket as the desk sees it.
 *
 * The ticket's state is its row in `tickets`: the packed snapshot (lib/tkt)
 * or, for a row not written since migration 003, the JSON state. Every
 * deadline is explained by lib/explain from that state and the policy of
 * the configuration file; the timeline, held events and alerts come from
 * their tables. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "ctl.h"
#include "evt.h"
#include "explain.h"
#include "oom.h"
#include "out.h"
#include "timeutil.h"
#include "tkt.h"

static const char usage[] = "Usage: " CTL_NAME " ticket show ID [-c FILE] [--json]\n"
                            "\n"
                            "Shows one ticket: what it is about, its priority and why, each stage's\n"
                            "deadline with the calendar arithmetic behind it (the SLA rule, the business\n"
                            "windows of its region, pauses, extensions, a priority rise, the statutory\n"
                            "limit), its pauses and extensions, the responsible site, every event of its\n"
                            "timeline (applied or history) and every alert about it.\n"
                            "\n"
                            "  ID           the ticket_id\n"
                            "  -c FILE      the daemon's configuration (its [policy] explains the deadlines)\n"
                            "  --json       one JSON document instead of text\n"
                            "\n"
                            "Exit status: 0 shown, 1 no such ticket or an error, 2 bad usage.\n";

#define CMD "ticket show"

/* What the tables say about the ticket besides its state. */
typedef struct Show {
    Ctl *c;
    const Policy *p;
    int off;
    const char *id;
    Ticket *t;
    int64_t now; /* the daemon's clock: the event clock, or the wall clock */
    bool event_clock;
    PGresult *events; /* event_id, type, occurred_at, effect, topic, partition, offset, body, processed_at */
    PGresult *alerts; /* seq, payload */
    PGresult *group;  /* seq, payload: bulk and accountability alerts that list the ticket */
    XplTarget x[STG__COUNT];
} Show;

/* ---- loading ------------------------------------------------------------ */

/* Its newest snapshot: the last one appended and not yet folded into the
 * row, if any (migration 006). */
#define TICKET_SQL                                                                                                     \
    "SELECT COALESCE((SELECT l.snapshot FROM ticket_snapshots l WHERE l.ticket_id = t.ticket_id "                      \
    "ORDER BY l.gen DESC LIMIT 1), t.snapshot), t.state::text FROM tickets t WHERE t.ticket_id = $1"

static Ticket *load_ticket(Show *s, int *rc)
{
    const char *p[1] = {s->id};
    PGresult *r = ctl_query(s->c, "reading the ticket", TICKET_SQL, 1, p);
    if (!r) {
        *rc = CTL_ERROR;
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        PGresult *h =
            ctl_query(s->c, "reading held events", "SELECT count(*) FROM held_events WHERE ticket_id = $1", 1, p);
        int64_t held = h ? ctl_int(h, 0, 0, 0) : 0;
        PQclear(h);
        if (held > 0)
            *rc = ctl_error("no ticket '%s': its received has not been seen; %lld event%s held, waiting for it", s->id,
                            (long long)held, held == 1 ? " is" : "s are");
        else
            *rc = ctl_error("no ticket '%s'", s->id);
        return NULL;
    }
    char err[256] = "";
    Ticket *t = NULL;
    if (!PQgetisnull(r, 0, 0)) {
        size_t n = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
        t = b ? tkt_unpack(b, n, err, sizeof err) : NULL;
        PQfreemem(b);
    } else if (!PQgetisnull(r, 0, 1)) {
        json_t *j = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        t = j ? tkt_from_json(j, err, sizeof err) : NULL;
        json_decref(j);
    }
    PQclear(r);
    if (!t)
        *rc = ctl_error("ticket '%s' is stored but its state cannot be read: %s", s->id, err[0] ? err : "no state");
    return t;
}

static int load(Show *s)
{
    const char *p[1] = {s->id};
    s->events = ctl_query(s->c, "reading the timeline",
                          "SELECT event_id, type, extract(epoch FROM occurred_at)::bigint, effect, source_topic, "
                          "source_partition, source_offset, body::text, extract(epoch FROM processed_at)::bigint "
                          "FROM ticket_events WHERE ticket_id = $1 "
                          "ORDER BY occurred_at, processed_at, source_topic, source_partition, source_offset",
                          1, p);
    if (!s->events)
        return -1;
    s->alerts = ctl_query(s->c, "reading the alerts",
                          "SELECT seq, payload::text FROM alerts WHERE ticket_id = $1 ORDER BY seq", 1, p);
    if (!s->alerts)
        return -1;
    /* Bulk episodes and site accountability name their tickets in the
     * payload only (no index: a scan of those two types). */
    s->group = ctl_query(s->c, "reading bulk and accountability alerts",
                         "SELECT seq, payload::text FROM alerts "
                         "WHERE type IN ('bulk_complaint', 'site_accountability') "
                         "AND (payload::jsonb -> 'ticket_ids') ? $1 ORDER BY seq",
                         1, p);
    if (!s->group)
        return -1;
    PGresult *r = ctl_query(s->c, "reading the event clock",
                            "SELECT (value #>> '{}')::bigint FROM daemon_state WHERE key = 'event_clock'", 0, NULL);
    if (!r)
        return -1;
    const Config *cfg = ctl_config(s->c);
    s->event_clock = cfg->clock_mode == CLOCK_EVENT;
    s->now = s->event_clock ? (PQntuples(r) ? ctl_int(r, 0, 0, 0) : 0) : (int64_t)time(NULL);
    PQclear(r);
    return 0;
}

/* ---- words -------------------------------------------------------------- */

static const char *variant_words(PolVariant v)
{
    return v == VAR_URGENT ? "priority urgent" : v == VAR_REOPENED ? "a reopened round" : "priority normal";
}

/* "65 (Xinjiang)". */
static void region_words(const char *region, char *buf, size_t len)
{
    const char *name = xpl_region_name(region);
    if (!region[0])
        snprintf(buf, len, "-");
    else if (name)
        snprintf(buf, len, "%s (%s)", region, name);
    else
        snprintf(buf, len, "%s", region);
}

static void windows_of(const Policy *p, int64_t shift, char *buf, size_t len)
{
    if (xpl_shift_windows(p->business_hours, shift, buf, len) < 0)
        snprintf(buf, len, "%s", p->business_hours);
}

static void rule_key(const XplTarget *x, char *buf, size_t len)
{
    snprintf(buf, len, "sla.%s.%s", pol_target_name(x->target), pol_variant_name(x->variant));
}

static const char *start_label(const Ticket *t, const XplTarget *x)
{
    if (x->stage == STG_REVISIT)
        return "resolved";
    return t->round > 1 ? "round began" : "received";
}

static void reasons_json(json_t *arr, unsigned bits, int count, const char *(*name)(unsigned))
{
    for (int i = 0; i < count; i++)
        if (bits & (1u << i))
            json_array_append_new(arr, json_string(name(1u << i)));
}

static void reasons_text(char *buf, size_t len, unsigned bits, int count, const char *(*name)(unsigned))
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++)
        if (bits & (1u << i))
            ctl_appendf(buf, len, &n, "%s%s", n ? ", " : "", name(1u << i));
}

/* The state of one stage in words, for the text and the JSON. */
static const char *state_name(XplState st)
{
    static const char *const names[] = {"not_started", "open", "done", "stopped"};
    return names[st];
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *plan_json(const XplPlan *pl, int off)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < pl->n; i++) {
        const XplStep *st = &pl->steps[i];
        static const char *const kinds[] = {"wait", "count", "pause", "count_more"};
        json_t *o = json_pack("{s:s,s:o,s:o}", "kind", kinds[st->kind], "from", out_jtime(st->from, off), "to",
                              out_jtime(st->to, off));
        if (st->kind == XPL_RUN || st->kind == XPL_MORE)
            json_object_set_new(o, "seconds", json_integer(st->secs));
        if (st->kind == XPL_WAIT && st->days_off)
            json_object_set_new(o, "days_off", json_integer(st->days_off));
        json_array_append_new(steps, o);
    }
    return json_pack("{s:s,s:o,s:I,s:I,s:o,s:o}", "clock", pl->clock == CLK_BUSINESS ? "business" : "calendar", "start",
                     out_jtime(pl->start, off), "budget_seconds", (json_int_t)pl->budget, "shift_seconds",
                     (json_int_t)pl->shift, "due", out_jtime(pl->due, off), "steps", steps);
}

static json_t *stage_json(const Show *s, const XplTarget *x)
{
    const Ticket *t = s->t;
    const Target *tg = &t->tg[x->stage];
    char key[64], val[128], line[2048];
    json_t *o = json_pack("{s:s,s:s}", "stage", tkt_stage_name(x->stage), "state", state_name(x->state));
    rule_key(x, key, sizeof key);
    if (pol_get(s->p, key, val, sizeof val) < 0)
        val[0] = '\0';
    json_object_set_new(o, "rule",
                        json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "key", key, "value", val, "variant",
                                  pol_variant_name(x->variant), "budget_seconds", (json_int_t)x->rule.budget, "clock",
                                  x->rule.clock == CLK_BUSINESS ? "business" : "calendar", "extension_seconds",
                                  (json_int_t)x->ext));
    if (x->state == XPL_NOT_STARTED)
        return o;
    json_object_set_new(o, "deadline", out_jtime(x->due, s->off));
    json_object_set_new(o, "warn_at", out_jtime(x->warn_at, s->off));
    if (x->state == XPL_DONE) {
        json_object_set_new(o, "completed_at", out_jtime(x->done_at, s->off));
        if (x->due != TU_NEVER) {
            json_object_set_new(o, "met", json_boolean(x->done_at <= x->due));
            if (x->done_at > x->due)
                json_object_set_new(o, "late_by_seconds", json_integer(x->done_at - x->due));
        }
    }
    if (x->state == XPL_OPEN) {
        json_object_set_new(o, "stored_deadline", out_jtime(tu32_get(tg->deadline), s->off));
        json_object_set_new(o, "breach", json_string(tg->breach_state == AST_FIRING ? "firing" : "none"));
        if (tg->breach_state == AST_FIRING)
            json_object_set_new(o, "breach_deadline", out_jtime(tu32_get(tg->breach_deadline), s->off));
        json_object_set_new(o, "warning", json_string(tg->warn_state == AST_FIRING ? "firing" : "none"));
    }
    json_object_set_new(o, "start", out_jtime(x->start, s->off));
    json_object_set_new(o, "start_label", json_string(start_label(t, x)));
    json_object_set_new(o, "plan", plan_json(&x->plan, s->off));
    xpl_format_plan(&x->plan, start_label(t, x), s->off, line, sizeof line);
    json_object_set_new(o, "explanation", json_string(line));
    json_t *adj = json_array();
    if (x->rise)
        json_array_append_new(
            adj, json_pack("{s:s,s:o,s:o,s:o,s:b}", "kind", "priority_rise", "at", out_jtime(x->rise_at, s->off),
                           "normal_deadline", out_jtime(x->normal_due, s->off), "deadline",
                           out_jtime(x->after_rise, s->off), "applied", x->after_rise != x->plan.due));
    if (x->invalid) {
        xpl_format_plan(&x->invalid_plan, "found invalid", s->off, line, sizeof line);
        json_array_append_new(adj, json_pack("{s:s,s:o,s:o,s:s,s:b}", "kind", "invalid", "at",
                                             out_jtime(tu32_get(t->invalid_at), s->off), "plan",
                                             plan_json(&x->invalid_plan, s->off), "explanation", line, "applied",
                                             x->invalid_applied));
    }
    if (x->statutory)
        json_array_append_new(adj, json_pack("{s:s,s:o,s:b}", "kind", "statutory_limit", "cap",
                                             out_jtime(x->statutory_cap, s->off), "applied", x->statutory_applied));
    json_object_set_new(o, "adjustments", adj);
    return o;
}

static json_t *pauses_json(const Show *s)
{
    const Ticket *t = s->t;
    json_t *a = json_array();
    for (uint32_t i = 0; i < tkt_n_pauses(t); i++) {
        const Pause *pz = &tkt_pauses(t)[i];
        const PauseEv *e = &tkt_pause_evs(t)[pz->opener];
        const char *how = !pz->by_itself           ? "resumed"
                          : pz->end == TU_NEVER    ? "open"
                          : e->overdue != AST_NONE ? "ended_by_itself"
                                                   : "until";
        json_array_append_new(a, json_pack("{s:i,s:o,s:o,s:s,s:s}", "number", (int)i + 1, "start",
                                           out_jtime(pz->start, s->off), "end", out_jtime(pz->end, s->off), "ended",
                                           how, "overdue",
                                           e->overdue == AST_FIRING ? "firing"
                                           : e->overdue             ? "ended"
                                                                    : "none"));
    }
    return a;
}

static json_t *payloads_json(const PGresult *r)
{
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *j = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        json_array_append_new(a, j ? j : json_null());
    }
    return a;
}

static json_t *timeline_json(const Show *s)
{
    json_t *a = json_array();
    const PGresult *r = s->events;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *body = json_loads(PQgetvalue(r, i, 7), 0, NULL);
        char src[320];
        snprintf(src, sizeof src, "%s:%s:%s", PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
        json_array_append_new(a, json_pack("{s:s,s:s,s:o,s:s,s:s,s:o,s:o}", "event_id", PQgetvalue(r, i, 0), "type",
                                           PQgetvalue(r, i, 1), "occurred_at", out_jtime(ctl_int(r, i, 2, 0), s->off),
                                           "effect", PQgetvalue(r, i, 3), "source", src, "processed_at",
                                           out_jtime(ctl_int(r, i, 8, 0), s->off), "body", body ? body : json_null()));
    }
    return a;
}

static json_t *ticket_json(const Show *s)
{
    const Ticket *t = s->t;
    const Policy *p = s->p;
    int64_t shift = pol_region_shift(p, tkt_region(t));
    char win[160];
    windows_of(p, shift, win, sizeof win);
    const char *rname = xpl_region_name(tkt_region(t));
    json_t *region = tkt_region(t)[0] ? json_pack("{s:s,s:o,s:b,s:I,s:s}", "code", tkt_region(t), "name",
                                                  rname ? json_string(rname) : json_null(), "shifted", shift != 0,
                                                  "shift_seconds", (json_int_t)shift, "business_hours", win)
                                      : json_null();
    json_t *reasons = json_array(), *because = json_array();
    reasons_json(reasons, t->reasons, RSN__COUNT, alert_reason_name);
    reasons_json(because, t->major_because, MB__COUNT, alert_major_because_name);
    json_t *resp = json_null();
    if (tkt_responsible_known(t)) {
        const char *role = t->resp_role >= 0 ? evt_role_name((SiteRole)t->resp_role) : NULL;
        resp = json_pack("{s:o,s:o,s:s}", "site", tkt_resp_site(t)[0] ? json_string(tkt_resp_site(t)) : json_null(),
                         "role", role ? json_string(role) : json_null(), "rule", tkt_resp_rule(t));
    }
    const char *acct = tkt_acct_site(t);
    json_t *stages = json_array();
    for (int i = 0; i < STG__COUNT; i++)
        json_array_append_new(stages, stage_json(s, &s->x[i]));
    json_t *ext = json_pack("{s:I,s:I}", "first_reply_seconds", (json_int_t)tkt_ext(t, STG_FIRST_REPLY),
                            "resolve_seconds", (json_int_t)tkt_ext(t, STG_RESOLVE));
    json_t *o = json_object();
    json_object_set_new(o, "ticket_id", json_string(tkt_id(t)));
    json_object_set_new(o, "status", json_string(tkt_status(t)));
    json_object_set_new(o, "round", json_integer(t->round));
    json_object_set_new(o, "priority", json_string(t->urgent ? "urgent" : "normal"));
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "urgent_since", t->urgent ? out_jtime(tu32_get(t->urgent_at), s->off) : json_null());
    json_object_set_new(o, "major", json_boolean(t->major));
    json_object_set_new(o, "major_because", because);
    json_object_set_new(o, "channel", json_string(evt_channel_name((Channel)t->channel)));
    json_object_set_new(o, "category", json_string(evt_category_name((Category)t->category)));
    json_object_set_new(o, "claim", json_boolean(t->claim));
    json_object_set_new(o, "valid", json_boolean(tkt_valid(t)));
    json_object_set_new(o, "invalid_since", t->invalid ? out_jtime(tu32_get(t->invalid_at), s->off) : json_null());
    json_object_set_new(o, "waybill", tkt_waybill(t)[0] ? json_string(tkt_waybill(t)) : json_null());
    json_object_set_new(o, "site", tkt_site(t)[0] ? json_string(tkt_site(t)) : json_null());
    json_object_set_new(o, "region", region);
    json_object_set_new(o, "received_at", out_jtime(tu32_get(t->received_at), s->off));
    json_object_set_new(o, "round_started_at", out_jtime(tu32_get(t->round_start), s->off));
    json_object_set_new(o, "closed_at", t->closed ? out_jtime(tu32_get(t->closed_at), s->off) : json_null());
    json_object_set_new(o, "paused", json_boolean(tkt_paused(t)));
    json_object_set_new(o, "responsible", resp);
    json_object_set_new(o, "accountability_site", acct ? json_string(acct) : json_null());
    json_object_set_new(o, "previous_ticket_id",
                        tkt_previous_ticket_id(t)[0] ? json_string(tkt_previous_ticket_id(t)) : json_null());
    json_object_set_new(o, "clock",
                        json_pack("{s:s,s:o}", "mode", s->event_clock ? "event" : "wall", "now",
                                  out_jtime(s->now ? s->now : TU_NEVER, s->off)));
    json_object_set_new(o, "stages", stages);
    json_object_set_new(o, "pauses", pauses_json(s));
    json_object_set_new(o, "extensions", ext);
    json_object_set_new(o, "timeline", timeline_json(s));
    json_object_set_new(o, "alerts", payloads_json(s->alerts));
    json_object_set_new(o, "group_alerts", payloads_json(s->group));
    return o;
}

/* ---- text --------------------------------------------------------------- */

#define IND "               " /* the indent of a stage's detail lines */

static void print_stage(const Show *s, const XplTarget *x)
{
    const Ticket *t = s->t;
    const Target *tg = &t->tg[x->stage];
    int off = s->off;
    char a[OUT_TIME_LEN], b[OUT_TIME_LEN], d[64], key[64], val[128], line[4096];
    printf("  %-12s ", tkt_stage_name(x->stage));
    rule_key(x, key, sizeof key);
    if (pol_get(s->p, key, val, sizeof val) < 0)
        val[0] = '\0';
    if (x->state == XPL_NOT_STARTED) {
        printf("not started: runs from resolved (%s = %s)\n", key, val);
        return;
    }
    if (x->due == TU_NEVER)
        printf("no deadline now (the clock is paused)");
    else
        printf("due %s", out_wtime(x->due, off, a));
    switch (x->state) {
    case XPL_DONE:
        printf(" — completed %s", out_wtime(x->done_at, off, b));
        if (x->due != TU_NEVER) {
            xpl_format_duration(x->done_at > x->due ? x->done_at - x->due : x->due - x->done_at, d, sizeof d);
            printf(x->done_at <= x->due ? ", met (%s to spare)" : ", %s late", d);
        }
        break;
    case XPL_STOPPED:
        printf(" — not completed: the ticket was closed %s", out_wtime(tu32_get(t->closed_at), off, b));
        break;
    default:
        printf(" — open");
        if (tg->breach_state == AST_FIRING)
            printf(", breached (sla_breach firing)");
        else if (tg->warn_state == AST_FIRING)
            printf(", warned (sla_warning firing)");
        if (s->now && x->due != TU_NEVER) {
            xpl_format_duration(x->due >= s->now ? x->due - s->now : s->now - x->due, d, sizeof d);
            printf(x->due >= s->now ? ", %s left" : ", overdue by %s", d);
            printf(" at the %s clock's %s", s->event_clock ? "event" : "wall", out_wtime(s->now, off, b));
        }
        break;
    }
    printf("\n");
    printf(IND "rule     %s = %s (%s)", key, val, variant_words(x->variant));
    if (x->ext) {
        xpl_format_duration(x->ext, d, sizeof d);
        printf(", + %s of approved extensions", d);
    }
    printf("\n");
    if (x->rule.clock == CLK_BUSINESS) {
        char win[160], reg[96];
        windows_of(s->p, x->shift, win, sizeof win);
        region_words(tkt_region(t), reg, sizeof reg);
        if (x->shift) {
            xpl_format_duration(x->shift, d, sizeof d);
            printf(IND "clock    business hours %s: region %s is a shifted region, its windows are %s later\n", win,
                   reg, d);
        } else {
            printf(IND "clock    business hours %s\n", win);
        }
    } else {
        printf(IND "clock    calendar: every hour counts\n");
    }
    xpl_format_plan(&x->plan, start_label(t, x), off, line, sizeof line);
    printf(IND "how      %s\n", line);
    if (x->rule.clock == CLK_BUSINESS && x->plan.n > 0) {
        xpl_format_runs(&x->plan, off, line, sizeof line);
        printf(IND "counted  %s\n", line);
    }
    if (x->rise) {
        printf(IND "urgent   priority rose %s: the urgent budget gives ", out_wtime(x->rise_at, off, a));
        xpl_format_when(x->plan.due, x->start, off, line, sizeof line);
        printf("%s, never before the rise nor after the normal deadline ", line);
        xpl_format_when(x->normal_due, x->start, off, line, sizeof line);
        printf("%s", line);
        xpl_format_when(x->after_rise, x->start, off, line, sizeof line);
        printf(" → %s\n", line);
    }
    if (x->statutory) {
        pol_get(s->p, "statutory_limit", val, sizeof val);
        xpl_format_when(x->statutory_cap, x->start, off, line, sizeof line);
        printf(IND "limit    statutory_limit: received + %s = %s (%s)\n", val, line,
               x->statutory_applied ? "sooner: it applies" : "later: not reached");
    }
    if (x->invalid) {
        char plan[2048];
        xpl_format_plan(&x->invalid_plan, "found invalid", off, plan, sizeof plan);
        pol_get(s->p, "invalid_resolve", val, sizeof val);
        printf(IND "invalid  invalid_resolve = %s: %s (%s)\n", val, plan,
               x->invalid_applied ? "sooner: it applies" : "later: the own target stays");
    }
    if (x->warn_at != TU_NEVER && x->state != XPL_DONE) {
        xpl_format_when(x->warn_at, x->start, off, line, sizeof line);
        if (x->warn_explicit)
            printf(IND "warning  %s (the rule's warn point)\n", line);
        else
            printf(IND "warning  %s (warn_ratio %d%% of the budget)\n", line, s->p->warn_ratio_pct);
    }
    if (x->state == XPL_OPEN && tg->breach_state == AST_FIRING && tu32_get(tg->breach_deadline) != x->due) {
        xpl_format_when(tu32_get(tg->breach_deadline), x->start, off, line, sizeof line);
        printf(IND "breach   the firing sla_breach is for the deadline in force when it fired, %s; the deadline "
                   "moved since (a priority rise or a late event)\n",
               line);
    }
    if (x->state == XPL_OPEN && tu32_get(tg->deadline) != x->due) {
        xpl_format_when(tu32_get(tg->deadline), x->start, off, line, sizeof line);
        printf(IND "note     the daemon holds %s for this stage: its policy differs from this file's "
                   "(a change not yet applied with SIGHUP?)\n",
               line);
    }
}

/* The fields of an event body but type and occurred_at, as k=v. */
static void body_words(const char *text, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    json_t *o = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "type") == 0 || strcmp(k, "occurred_at") == 0)
            continue;
        char *val = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        ctl_appendf(buf, len, &n, "%s%s=%s", n ? " " : "", k, val ? val : "?");
        free(val);
    }
    json_decref(o);
}

/* An alert of the ticket, for the text: when it happened on the event
 * clock (resolved_at of an ended alert, else condition_at). */
typedef struct AlertLine {
    int64_t when, seq;
    json_t *a;
} AlertLine;

static int64_t alert_when(json_t *a)
{
    const char *status = json_string_value(json_object_get(a, "status"));
    const char *key =
        status && strcmp(status, "firing") != 0 && json_object_get(a, "resolved_at") ? "resolved_at" : "condition_at";
    const char *when = json_string_value(json_object_get(a, key));
    int64_t t;
    return when && tu_parse_rfc3339(when, &t) == 0 ? t : TU_NEVER;
}

static int cmp_lines(const void *x, const void *y)
{
    const AlertLine *a = x, *b = y;
    if (a->when != b->when)
        return a->when < b->when ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* One alert on one line: when, status, id and what matters of it. */
static void alert_row(Table *tb, const AlertLine *l, int off)
{
    json_t *a = l->a;
    char w[OUT_TIME_LEN], detail[256] = "";
    size_t n = 0;
    json_t *v;
    int64_t dl;
    if ((v = json_object_get(a, "deadline")) && json_is_string(v) && tu_parse_rfc3339(json_string_value(v), &dl) == 0)
        ctl_appendf(detail, sizeof detail, &n, "deadline %s", out_time(dl, off, w));
    if ((v = json_object_get(a, "late_by_seconds")) && json_is_integer(v)) {
        char d[32];
        xpl_format_duration(json_integer_value(v), d, sizeof d);
        ctl_appendf(detail, sizeof detail, &n, "%slate by %s", n ? ", " : "", d);
    }
    if ((v = json_object_get(a, "count")) && json_is_integer(v))
        ctl_appendf(detail, sizeof detail, &n, "%scount %lld", n ? ", " : "", (long long)json_integer_value(v));
    static const char *const words[] = {"previous_ticket_id", "suggested_category", "reason", "month"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if ((v = json_object_get(a, words[i])) && json_is_string(v))
            ctl_appendf(detail, sizeof detail, &n, "%s%s %s", n ? ", " : "", words[i], json_string_value(v));
    tbl_row(tb);
    tbl_cellf(tb, "  %s", out_time(l->when, off, w));
    tbl_cell(tb, json_string_value(json_object_get(a, "status")));
    tbl_cell(tb, json_string_value(json_object_get(a, "alert_id")));
    tbl_cell(tb, detail);
}

static void print_ticket(const Show *s)
{
    const Ticket *t = s->t;
    const Policy *p = s->p;
    int off = s->off;
    char a[OUT_TIME_LEN], b[512], reg[96], win[160], d[64];
    char offs[16] = "";
    if (off)
        snprintf(offs, sizeof offs, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);

    printf("Ticket %s: %s, round %d%s\n", tkt_id(t), tkt_status(t), t->round, tkt_paused(t) ? ", paused" : "");
    printf("  about        %s, %s, channel %s%s%s\n", evt_category_name((Category)t->category),
           t->claim ? "with a claim (理赔)" : "no claim", evt_channel_name((Channel)t->channel),
           tkt_valid(t) ? "" : ", INVALID since ", tkt_valid(t) ? "" : out_wtime(tu32_get(t->invalid_at), off, a));
    printf("  waybill      %s\n", tkt_waybill(t)[0] ? tkt_waybill(t) : "-");
    printf("  site         %s\n", tkt_site(t)[0] ? tkt_site(t) : "-");
    region_words(tkt_region(t), reg, sizeof reg);
    int64_t shift = pol_region_shift(p, tkt_region(t));
    if (shift) {
        windows_of(p, shift, win, sizeof win);
        xpl_format_duration(shift, d, sizeof d);
        printf("  region       %s: shifted region, business windows %s later (%s)\n", reg, d, win);
    } else {
        printf("  region       %s%s\n", reg, tkt_region(t)[0] ? ": not shifted" : "");
    }
    printf("  received     %s (times at UTC%s)\n", out_wtime(tu32_get(t->received_at), off, a), offs);
    if (t->round > 1)
        printf("  round %-2d     began %s (unsatisfied revisit)\n", t->round,
               out_wtime(tu32_get(t->round_start), off, a));
    if (t->closed)
        printf("  closed       %s\n", out_wtime(tu32_get(t->closed_at), off, a));
    if (tkt_previous_ticket_id(t)[0])
        printf("  repeats      %s\n", tkt_previous_ticket_id(t));

    printf("\nPriority: %s", t->urgent ? "urgent" : "normal");
    if (t->urgent) {
        reasons_text(b, sizeof b, t->reasons, RSN__COUNT, alert_reason_name);
        printf(" since %s, because of: %s", out_wtime(tu32_get(t->urgent_at), off, a), b[0] ? b : "-");
    }
    printf("\n");
    if (t->major_because) {
        reasons_text(b, sizeof b, t->major_because, MB__COUNT, alert_major_because_name);
        printf("  major complaint (重大投诉) because of: %s\n", b);
    }

    printf("\nResponsible: ");
    if (tkt_responsible_known(t)) {
        const char *role = t->resp_role >= 0 ? evt_role_name((SiteRole)t->resp_role) : NULL;
        printf("site %s%s%s%s, rule %s\n", tkt_resp_site(t)[0] ? tkt_resp_site(t) : "unknown", role ? " (" : "",
               role ? role : "", role ? ")" : "", tkt_resp_rule(t));
    } else {
        printf("none attributed (only delay and loss tickets get one)\n");
    }
    const char *acct = tkt_acct_site(t);
    printf("  site accountability counts it against %s\n", acct ? acct : "no site");

    printf("\nDeadlines of round %d", t->round);
    if (s->now)
        printf(" (the daemon's %s clock is at %s)", s->event_clock ? "event" : "wall", out_wtime(s->now, off, a));
    printf(":\n");
    for (int i = 0; i < STG__COUNT; i++)
        print_stage(s, &s->x[i]);

    printf("\nPauses of round %d:", t->round);
    if (tkt_n_pauses(t) == 0)
        printf(" none\n");
    else
        printf("\n");
    for (uint32_t i = 0; i < tkt_n_pauses(t); i++) {
        const Pause *pz = &tkt_pauses(t)[i];
        const PauseEv *e = &tkt_pause_evs(t)[pz->opener];
        printf("  %u. %s", i + 1, out_wtime(pz->start, off, a));
        if (pz->end == TU_NEVER) {
            printf(" – not resumed, no agreed date\n");
            continue;
        }
        xpl_format_duration(pz->end - pz->start, d, sizeof d);
        printf(" – %s (%s)", out_wtime(pz->end, off, a), d);
        if (!pz->by_itself)
            printf(", resumed\n");
        else if (e->overdue != AST_NONE)
            printf(", ended by itself at its agreed date or pause_max: pause_overdue %s\n",
                   e->overdue == AST_FIRING ? "firing" : "ended");
        else
            printf(", paused until then\n");
    }

    printf("\nExtensions:");
    int n_ext = 0;
    const PGresult *r = s->events;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 1), "extended") != 0)
            continue;
        body_words(PQgetvalue(r, i, 7), b, sizeof b);
        printf("\n  %s  %s (%s)", out_wtime(ctl_int(r, i, 2, 0), off, a), b, PQgetvalue(r, i, 3));
        n_ext++;
    }
    printf("%s\n", n_ext ? "" : " none");
    if (tkt_ext(t, STG_FIRST_REPLY) || tkt_ext(t, STG_RESOLVE)) {
        printf("  in force this round:");
        for (int st = STG_FIRST_REPLY; st <= STG_RESOLVE; st++)
            if (tkt_ext(t, (Stage)st)) {
                xpl_format_duration(tkt_ext(t, (Stage)st), d, sizeof d);
                printf(" %s +%s", tkt_stage_name((Stage)st), d);
            }
        printf("\n");
    }

    printf("\nTimeline (%d event%s):\n", PQntuples(r), PQntuples(r) == 1 ? "" : "s");
    Table *tb = tbl_new(5, (const char *const[]){"  OCCURRED", "TYPE", "EFFECT", "FIELDS", "FROM"});
    for (int i = 0; i < PQntuples(r); i++) {
        char src[320];
        body_words(PQgetvalue(r, i, 7), b, sizeof b);
        snprintf(src, sizeof src, "%s:%s:%s", PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
        tbl_row(tb);
        tbl_cellf(tb, "  %s", out_wtime(ctl_int(r, i, 2, 0), off, a));
        tbl_cell(tb, PQgetvalue(r, i, 1));
        tbl_cell(tb, PQgetvalue(r, i, 3));
        tbl_cell(tb, b);
        tbl_cell(tb, src);
    }
    tbl_print(tb, stdout);
    tbl_free(tb);

    int na = PQntuples(s->alerts), ng = PQntuples(s->group);
    printf("\nAlerts (%d):%s\n", na + ng, na + ng ? "" : " none");
    if (na + ng) {
        tb = tbl_new(4, (const char *const[]){"  WHEN", "STATUS", "ALERT", "DETAIL"});
        /* both lists, in the order things happened */
        AlertLine *lines = oom_check(calloc((size_t)(na + ng), sizeof *lines));
        int nl = 0;
        for (int i = 0; i < na + ng; i++) {
            const PGresult *res = i < na ? s->alerts : s->group;
            int row = i < na ? i : i - na;
            json_t *j = json_loads(PQgetvalue(res, row, 1), 0, NULL);
            if (!j)
                continue;
            lines[nl++] = (AlertLine){.when = alert_when(j), .seq = ctl_int(res, row, 0, 0), .a = j};
        }
        qsort(lines, (size_t)nl, sizeof *lines, cmp_lines);
        for (int i = 0; i < nl; i++) {
            alert_row(tb, &lines[i], off);
            json_decref(lines[i].a);
        }
        free(lines);
        tbl_print(tb, stdout);
        tbl_free(tb);
    }
}

static int show(Ctl *c, const char *id)
{
    const Config *cfg = ctl_config(c);
    if (!cfg || !ctl_pg(c))
        return CTL_ERROR;
    Show s = {.c = c, .p = cfg->policy, .off = ctl_utc_offset(c), .id = id};
    int rc = CTL_OK;
    s.t = load_ticket(&s, &rc);
    if (!s.t)
        return rc;
    if (load(&s) < 0) {
        rc = CTL_ERROR;
        goto out;
    }
    for (int i = 0; i < STG__COUNT; i++)
        oom_rc(xpl_target(&s.x[i], s.t, (Stage)i, s.p));
    if (c->json)
        out_json(ticket_json(&s));
    else
        print_ticket(&s);
out:
    for (int i = 0; i < STG__COUNT; i++)
        xpl_target_free(&s.x[i]);
    PQclear(s.events);
    PQclear(s.alerts);
    PQclear(s.group);
    tkt_free(s.t);
    return rc;
}

int cmd_ticket(Ctl *c, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("ticket", "ticket: say what to do: ticket show ID");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return CTL_OK;
    }
    if (strcmp(argv[1], "show") != 0)
        return ctl_usage("ticket", "ticket: unknown subcommand '%s' (there is: show)", argv[1]);
    static const struct option opts[] = {CTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    argc--, argv++;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (ctl_common_opt(c, o, optarg))
            continue;
        if (o == 'h') {
            fputs(usage, stdout);
            return CTL_OK;
        }
        return ctl_bad_option(CMD, o, argv);
    }
    if (optind >= argc)
        return ctl_usage(CMD, "ticket show: which ticket? give its ID");
    if (optind + 1 < argc)
        return ctl_usage(CMD, "ticket show: one ticket at a time ('%s' is one too many)", argv[optind + 1]);
    return show(c, argv[optind]);
}
