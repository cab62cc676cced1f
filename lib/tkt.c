/* tkt: the ticket state machine; see tkt.h and docs/events.md. */
#include "tkt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "timeutil.h"

static const char *const stage_names[STG__COUNT] = {"contact", "first_reply", "resolve", "revisit"};

const char *tkt_stage_name(Stage s)
{
    return (unsigned)s < STG__COUNT ? stage_names[s] : "unknown";
}

static bool is_paused(const Ticket *t)
{
    return t->n_pauses > 0 && t->pauses[t->n_pauses - 1].end == TU_NEVER;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- deadlines ---------------------------------------------------------- */

static int64_t measure(ClockKind k, const Calendar *cal, int shift, int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    return k == CLK_BUSINESS ? cal_between(cal, shift, a, b) : b - a;
}

static int64_t advance_by(ClockKind k, const Calendar *cal, int shift, int64_t from, int64_t amount)
{
    if (k == CLK_BUSINESS)
        return cal_add(cal, shift, from, amount);
    return amount > TU_NEVER - from ? TU_NEVER : from + amount;
}

/* The instant `amount` seconds of the clock after `start`, not counting the
 * paused intervals; TU_NEVER when a running pause swallows the rest. */
static int64_t clock_add(ClockKind k, const Calendar *cal, int shift, int64_t start, int64_t amount,
                         const Pause *pauses, int n)
{
    int64_t cursor = start, remaining = amount;
    for (int i = 0; i < n; i++) {
        if (pauses[i].end != TU_NEVER && pauses[i].end <= cursor)
            continue;
        int64_t ps = max64(pauses[i].start, cursor);
        int64_t avail = measure(k, cal, shift, cursor, ps);
        if (avail >= remaining)
            return advance_by(k, cal, shift, cursor, remaining);
        remaining -= avail;
        if (pauses[i].end == TU_NEVER)
            return TU_NEVER;
        cursor = pauses[i].end;
    }
    return advance_by(k, cal, shift, cursor, remaining);
}

static const SlaRule *rule_at(const Ticket *t, Stage s, const Policy *p, PolVariant v)
{
    PolTarget tgt;
    switch (s) {
    case STG_CONTACT: tgt = TGT_CONTACT; break;
    case STG_FIRST_REPLY: tgt = TGT_FIRST_REPLY; break;
    case STG_RESOLVE: tgt = t->claim ? TGT_RESOLVE_CLAIM : TGT_RESOLVE; break;
    default: tgt = TGT_REVISIT; break;
    }
    return &p->sla[tgt][v];
}

static const SlaRule *rule_for(const Ticket *t, Stage s, const Policy *p)
{
    return rule_at(t, s, p, t->round > 1 ? VAR_REOPENED : t->urgent ? VAR_URGENT : VAR_NORMAL);
}

/* Deadline and warn point of stage s under rule r, counted from start. */
static void schedule(const Ticket *t, Stage s, const SlaRule *r, const Policy *p, int64_t start, int64_t *deadline,
                     int64_t *warn)
{
    int64_t budget = r->budget + t->ext[s];
    int64_t warn_off = r->warn >= 0 ? r->warn + t->ext[s] : budget * p->warn_ratio_pct / 100;
    int shift = r->clock == CLK_BUSINESS ? (int)pol_region_shift(p, t->region) : 0;

    *deadline = clock_add(r->clock, p->cal, shift, start, budget, t->pauses, t->n_pauses);
    *warn = clock_add(r->clock, p->cal, shift, start, warn_off, t->pauses, t->n_pauses);
}

static void compute_target(Ticket *t, Stage s, const Policy *p)
{
    Target *tg = &t->tg[s];
    tg->deadline = tg->warn_at = TU_NEVER;
    if (t->closed || tg->done)
        return;
    if (s == STG_REVISIT && !t->tg[STG_RESOLVE].done)
        return;
    int64_t start = s == STG_REVISIT ? t->tg[STG_RESOLVE].done_at : t->round_start;
    int64_t deadline, warn;
    schedule(t, s, rule_for(t, s, p), p, start, &deadline, &warn);
    /* A priority rise never moves a deadline before the moment of the rise,
     * nor past the one the normal budget gave: a target already overdue when
     * the ticket became urgent stays overdue from its own deadline. Only
     * round 1 gets here (later rounds are urgent from their start), so the
     * priority before the rise was normal. */
    if (t->urgent && t->urgent_at > start) {
        int64_t nd, nw;
        schedule(t, s, rule_at(t, s, p, VAR_NORMAL), p, start, &nd, &nw);
        if (deadline != TU_NEVER)
            deadline = max64(deadline, min64(nd, t->urgent_at));
        if (warn != TU_NEVER)
            warn = max64(warn, min64(nw, t->urgent_at));
    }
    /* The statutory limit holds whatever pauses and extensions say. */
    if (s == STG_RESOLVE && t->round == 1 && p->statutory_limit > 0) {
        int64_t cap = t->received_at + p->statutory_limit;
        deadline = min64(deadline, cap);
        warn = min64(warn, deadline);
    }
    tg->deadline = deadline;
    tg->warn_at = warn;
}

/* ---- alerts ------------------------------------------------------------- */

void tkt_fill_alert(const Ticket *t, Alert *a)
{
    snprintf(a->ticket_id, sizeof a->ticket_id, "%s", t->id);
    a->round = t->round;
    a->priority = t->urgent ? 1 : 0;
    a->reasons = t->reasons;
    a->category = (int)t->category;
    snprintf(a->site, sizeof a->site, "%s", t->site);
    snprintf(a->waybill, sizeof a->waybill, "%s", t->waybill);
    snprintf(a->region, sizeof a->region, "%s", t->region);
    if (t->responsible.known && (t->category == CAT_LOSS || t->category == CAT_DELAY))
        a->responsible = t->responsible;
}

static void emit_stage(const Ticket *t, AlertType type, AlertStatus st, Stage s, int64_t deadline,
                       int64_t condition_at, int64_t resolved_at, AlertList *out)
{
    Alert a;
    alert_init(&a, type, st);
    tkt_fill_alert(t, &a);
    a.stage = (int)s;
    a.deadline = deadline;
    a.condition_at = condition_at;
    a.resolved_at = st == AS_FIRING ? 0 : resolved_at;
    alert_make_id(&a);
    if (out)
        alert_list_push(out, &a);
    alert_clear(&a);
}

static void emit_ticket(const Ticket *t, AlertType type, AlertStatus st, int round, int64_t condition_at,
                        int64_t resolved_at, AlertList *out)
{
    Alert a;
    alert_init(&a, type, st);
    tkt_fill_alert(t, &a);
    a.round = round;
    a.condition_at = condition_at;
    a.resolved_at = st == AS_FIRING ? 0 : resolved_at;
    if (type == AL_REPEAT_COMPLAINT)
        snprintf(a.previous_ticket_id, sizeof a.previous_ticket_id, "%s", t->previous_ticket_id);
    alert_make_id(&a);
    if (out)
        alert_list_push(out, &a);
    alert_clear(&a);
}

void tkt_advance(Ticket *t, int64_t now, AlertList *out)
{
    if (t->closed)
        return;
    for (;;) {
        /* Fire in time order; a warning before the breach of the same instant. */
        int best = -1;
        bool best_breach = false;
        int64_t best_at = TU_NEVER;
        for (int s = 0; s < STG__COUNT; s++) {
            Target *tg = &t->tg[s];
            if (tg->done)
                continue;
            if (tg->warn_state == AST_NONE && tg->warn_at <= now && tg->warn_at < best_at) {
                best = s, best_breach = false, best_at = tg->warn_at;
            }
            if (tg->breach_state == AST_NONE && tg->deadline <= now && tg->deadline < best_at) {
                best = s, best_breach = true, best_at = tg->deadline;
            }
        }
        if (best < 0)
            return;
        Target *tg = &t->tg[best];
        if (best_breach) {
            tg->breach_state = AST_FIRING;
            tg->breach_deadline = tg->deadline;
            emit_stage(t, AL_SLA_BREACH, AS_FIRING, (Stage)best, tg->deadline, tg->deadline, 0, out);
        } else {
            tg->warn_state = AST_FIRING;
            tg->warn_fired_deadline = tg->deadline;
            tg->warn_condition_at = tg->warn_at;
            emit_stage(t, AL_SLA_WARNING, AS_FIRING, (Stage)best, tg->deadline, tg->warn_at, 0, out);
        }
    }
}

int64_t tkt_next_due(const Ticket *t)
{
    int64_t due = TU_NEVER;
    if (t->closed)
        return due;
    for (int s = 0; s < STG__COUNT; s++) {
        const Target *tg = &t->tg[s];
        if (tg->done)
            continue;
        if (tg->warn_state == AST_NONE)
            due = min64(due, tg->warn_at);
        if (tg->breach_state == AST_NONE)
            due = min64(due, tg->deadline);
    }
    return due;
}

/* A breach whose deadline moved past `now` is over. */
static void reconcile(Ticket *t, int64_t now, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++) {
        Target *tg = &t->tg[s];
        if (tg->done || tg->breach_state != AST_FIRING || tg->deadline <= now)
            continue;
        tg->breach_state = AST_ENDED;
        emit_stage(t, AL_SLA_BREACH, AS_RESOLVED, (Stage)s, tg->breach_deadline, tg->breach_deadline, now, out);
    }
}

void tkt_recompute(Ticket *t, const Policy *p, int64_t now, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++)
        compute_target(t, (Stage)s, p);
    reconcile(t, now, out);
}

/* ---- transitions -------------------------------------------------------- */

static void complete(Ticket *t, Stage s, int64_t at, AlertList *out)
{
    Target *tg = &t->tg[s];
    if (tg->done)
        return;
    tg->done = true;
    tg->done_at = at;
    if (tg->warn_state == AST_FIRING) {
        tg->warn_state = AST_ENDED;
        emit_stage(t, AL_SLA_WARNING, AS_RESOLVED, s, tg->warn_fired_deadline, tg->warn_condition_at, at, out);
    }
    if (tg->breach_state == AST_FIRING) {
        tg->breach_state = AST_ENDED;
        /* Met or late against the deadline in force now: an extension or a
         * pause reported after the breach fired may have moved it (still
         * before `now`, or the breach would have ended then). */
        int64_t due = tg->deadline != TU_NEVER ? tg->deadline : tg->breach_deadline;
        Alert a;
        alert_init(&a, AL_SLA_BREACH, at <= due ? AS_RETRACTED : AS_RESOLVED);
        tkt_fill_alert(t, &a);
        a.stage = (int)s;
        a.deadline = due;
        a.condition_at = tg->breach_deadline;
        a.resolved_at = at;
        if (a.status == AS_RESOLVED) {
            a.has_late_by = true;
            a.late_by_seconds = at - due;
        }
        alert_make_id(&a);
        alert_list_push(out, &a);
        alert_clear(&a);
    }
    tg->deadline = tg->warn_at = TU_NEVER;
}

static void close_ticket(Ticket *t, int64_t at, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++) {
        Target *tg = &t->tg[s];
        if (tg->warn_state == AST_FIRING) {
            tg->warn_state = AST_ENDED;
            emit_stage(t, AL_SLA_WARNING, AS_RESOLVED, (Stage)s, tg->warn_fired_deadline, tg->warn_condition_at,
                       at, out);
        }
        if (tg->breach_state == AST_FIRING) {
            tg->breach_state = AST_ENDED;
            emit_stage(t, AL_SLA_BREACH, AS_RESOLVED, (Stage)s, tg->breach_deadline, tg->breach_deadline, at, out);
        }
        tg->deadline = tg->warn_at = TU_NEVER;
    }
    for (int r = 1; r <= 32; r++) {
        if (t->escalated_rounds & (1u << (r - 1)))
            emit_ticket(t, AL_TICKET_ESCALATED, AS_RESOLVED, r, r <= 8 ? t->escalated_at[r - 1] : at, at, out);
    }
    t->escalated_rounds = 0;
    if (t->repeat_firing) {
        t->repeat_firing = false;
        emit_ticket(t, AL_REPEAT_COMPLAINT, AS_RESOLVED, t->round, t->repeat_at, at, out);
    }
    t->closed = true;
    t->closed_at = at;
}

bool tkt_make_urgent(Ticket *t, unsigned reason, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed)
        return false;
    bool added = !(t->reasons & reason);
    t->reasons |= reason;
    if (!t->urgent) {
        t->urgent = true;
        t->urgent_at = at;
    }
    unsigned bit = t->round <= 32 ? 1u << (t->round - 1) : 0;
    if ((reason & (RSN_MAJOR | RSN_CHANNEL | RSN_REOPENED)) && bit && !(t->escalated_rounds & bit) &&
        (added || reason == RSN_REOPENED)) {
        t->escalated_rounds |= bit;
        if (t->round <= 8)
            t->escalated_at[t->round - 1] = at;
        emit_ticket(t, AL_TICKET_ESCALATED, AS_FIRING, t->round, at, 0, out);
    }
    tkt_recompute(t, p, now, out);
    return added;
}

static bool escalating_channel(Channel c)
{
    return c == CH_REGULATOR || c == CH_CONSUMER_ASSOCIATION || c == CH_MEDIA || c == CH_SUPERVISOR_HOTLINE;
}

Ticket *tkt_new(const ComplaintEvent *ev, const Policy *p, AlertList *out)
{
    Ticket *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    snprintf(t->id, sizeof t->id, "%s", ev->ticket_id);
    t->channel = ev->channel;
    t->category = ev->category;
    t->claim = (ev->has & EVF_CLAIM) ? ev->claim : false;
    t->major = (ev->has & EVF_MAJOR) ? ev->major : false;
    if (ev->has & EVF_WAYBILL)
        snprintf(t->waybill, sizeof t->waybill, "%s", ev->waybill);
    if (ev->has & EVF_SITE)
        snprintf(t->site, sizeof t->site, "%s", ev->site);
    if (ev->has & EVF_REGION)
        snprintf(t->region, sizeof t->region, "%s", ev->region);
    if (ev->has & EVF_CUSTOMER_REF)
        snprintf(t->customer_ref, sizeof t->customer_ref, "%s", ev->customer_ref);
    t->round = 1;
    t->received_at = t->round_start = ev->occurred_at;
    t->responsible.role = -1;
    for (int s = 0; s < STG__COUNT; s++)
        t->tg[s].deadline = t->tg[s].warn_at = TU_NEVER;
    tkt_recompute(t, p, ev->occurred_at, out);
    /* Both reasons at once, so that the one ticket_escalated names both. */
    unsigned reasons = (t->major ? RSN_MAJOR : 0) | (escalating_channel(t->channel) ? RSN_CHANNEL : 0);
    if (reasons)
        tkt_make_urgent(t, reasons, ev->occurred_at, p, ev->occurred_at, out);
    return t;
}

void tkt_free(Ticket *t)
{
    free(t);
}

static void reopen(Ticket *t, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    bool paused = is_paused(t);
    t->round++;
    t->round_start = at;
    memset(t->tg, 0, sizeof t->tg);
    for (int s = 0; s < STG__COUNT; s++)
        t->tg[s].deadline = t->tg[s].warn_at = TU_NEVER;
    memset(t->ext, 0, sizeof t->ext);
    t->n_pauses = 0;
    if (paused) {
        t->pauses[0].start = at;
        t->pauses[0].end = TU_NEVER;
        t->n_pauses = 1;
    }
    tkt_make_urgent(t, RSN_REOPENED, at, p, now, out);
}

TktResult tkt_apply(Ticket *t, const ComplaintEvent *ev, const Policy *p, int64_t now, AlertList *out,
                    char *detail, size_t detaillen)
{
    int64_t at = ev->occurred_at;
    if (detaillen)
        detail[0] = '\0';
    if (t->closed || ev->type == CT_RECEIVED)
        return TKT_HISTORY;
    /* Whatever fell due before this event happened fires first. */
    tkt_advance(t, at - 1, out);

    switch (ev->type) {
    case CT_CONTACTED:
    case CT_FIRST_REPLY:
    case CT_RESOLVED: {
        Stage s = ev->type == CT_CONTACTED ? STG_CONTACT : ev->type == CT_FIRST_REPLY ? STG_FIRST_REPLY : STG_RESOLVE;
        /* A stage already done, or one done before this round began (an
         * earlier round's event arriving late), is history. */
        if (t->tg[s].done || (t->round > 1 && at < t->round_start))
            return TKT_HISTORY;
        for (int i = 0; i <= (int)s; i++)
            complete(t, (Stage)i, at, out);
        if (s == STG_RESOLVE)
            t->last_resolved_at = at;
        tkt_recompute(t, p, now, out);
        return TKT_APPLIED;
    }
    case CT_REVISIT:
        if (!t->tg[STG_RESOLVE].done) {
            snprintf(detail, detaillen, "type: revisit before resolved in round %d", t->round);
            return TKT_INVALID;
        }
        complete(t, STG_REVISIT, at, out);
        if (ev->satisfied)
            close_ticket(t, at, out);
        else
            reopen(t, at, p, now, out);
        return TKT_APPLIED;
    case CT_UPDATED:
        if (ev->has & EVF_CATEGORY)
            t->category = ev->category;
        if (ev->has & EVF_CLAIM)
            t->claim = ev->claim;
        if (ev->has & EVF_SITE)
            snprintf(t->site, sizeof t->site, "%s", ev->site);
        if (ev->has & EVF_WAYBILL)
            snprintf(t->waybill, sizeof t->waybill, "%s", ev->waybill);
        if (ev->has & EVF_REGION)
            snprintf(t->region, sizeof t->region, "%s", ev->region);
        if ((ev->has & EVF_MAJOR) && ev->major && !t->major) {
            t->major = true;
            tkt_make_urgent(t, RSN_MAJOR, at, p, now, out);
        } else if (ev->has & EVF_MAJOR) {
            /* Priority never goes back down: major=false only records the flag. */
            t->major = t->major || ev->major;
        }
        tkt_recompute(t, p, now, out);
        return TKT_APPLIED;
    case CT_CLOSED:
        close_ticket(t, at, out);
        return TKT_APPLIED;
    case CT_PAUSED:
        if (is_paused(t) || t->n_pauses >= TKT_MAX_PAUSES)
            return TKT_HISTORY;
        t->pauses[t->n_pauses].start = at;
        t->pauses[t->n_pauses].end = TU_NEVER;
        t->n_pauses++;
        tkt_recompute(t, p, now, out);
        return TKT_APPLIED;
    case CT_RESUMED:
        if (!is_paused(t))
            return TKT_HISTORY;
        t->pauses[t->n_pauses - 1].end = max64(at, t->pauses[t->n_pauses - 1].start);
        tkt_recompute(t, p, now, out);
        return TKT_APPLIED;
    case CT_EXTENDED: {
        Stage s = ev->ext_stage == EXT_FIRST_REPLY ? STG_FIRST_REPLY : STG_RESOLVE;
        if (t->tg[s].done)
            return TKT_HISTORY;
        t->ext[s] += (int64_t)ev->ext_hours * 3600;
        tkt_recompute(t, p, now, out);
        return TKT_APPLIED;
    }
    default:
        return TKT_HISTORY;
    }
}

const char *tkt_status(const Ticket *t)
{
    if (t->closed)
        return "closed";
    static const char *const done_names[STG__COUNT] = {"contacted", "first_reply", "resolved", "revisit"};
    for (int s = STG__COUNT - 1; s >= 0; s--)
        if (t->tg[s].done)
            return done_names[s];
    return t->round > 1 ? "reopened" : "received";
}

void tkt_mark_repeat(Ticket *t, const char *previous, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed || t->repeat_firing || t->previous_ticket_id[0])
        return;
    snprintf(t->previous_ticket_id, sizeof t->previous_ticket_id, "%s", previous);
    tkt_make_urgent(t, RSN_REPEAT, at, p, now, out);
    t->repeat_firing = true;
    t->repeat_at = at;
    emit_ticket(t, AL_REPEAT_COMPLAINT, AS_FIRING, t->round, at, 0, out);
}

/* ---- serialisation ------------------------------------------------------ */

static json_t *time_or_null(int64_t t)
{
    return t == TU_NEVER ? json_null() : json_integer(t);
}

static int64_t get_time(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : TU_NEVER;
}

static int64_t get_int(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void get_str(const json_t *o, const char *k, char *dst, size_t n)
{
    const json_t *v = json_object_get(o, k);
    snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

json_t *tkt_to_json(const Ticket *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "channel", json_string(evt_channel_name(t->channel)));
    json_object_set_new(o, "category", json_string(evt_category_name(t->category)));
    json_object_set_new(o, "claim", json_boolean(t->claim));
    json_object_set_new(o, "major", json_boolean(t->major));
    json_object_set_new(o, "waybill", json_string(t->waybill));
    json_object_set_new(o, "site", json_string(t->site));
    json_object_set_new(o, "region", json_string(t->region));
    json_object_set_new(o, "customer_ref", json_string(t->customer_ref));
    json_object_set_new(o, "round", json_integer(t->round));
    json_object_set_new(o, "received_at", json_integer(t->received_at));
    json_object_set_new(o, "round_start", json_integer(t->round_start));
    json_t *tgs = json_array();
    for (int s = 0; s < STG__COUNT; s++) {
        const Target *tg = &t->tg[s];
        json_t *x = json_object();
        json_object_set_new(x, "deadline", time_or_null(tg->deadline));
        json_object_set_new(x, "warn_at", time_or_null(tg->warn_at));
        json_object_set_new(x, "done", json_boolean(tg->done));
        json_object_set_new(x, "done_at", json_integer(tg->done_at));
        json_object_set_new(x, "warn_state", json_integer(tg->warn_state));
        json_object_set_new(x, "breach_state", json_integer(tg->breach_state));
        json_object_set_new(x, "warn_fired_deadline", time_or_null(tg->warn_fired_deadline));
        json_object_set_new(x, "warn_condition_at", json_integer(tg->warn_condition_at));
        json_object_set_new(x, "breach_deadline", time_or_null(tg->breach_deadline));
        json_array_append_new(tgs, x);
    }
    json_object_set_new(o, "targets", tgs);
    json_object_set_new(o, "urgent", json_boolean(t->urgent));
    json_object_set_new(o, "reasons", json_integer(t->reasons));
    json_object_set_new(o, "urgent_at", json_integer(t->urgent_at));
    json_object_set_new(o, "closed", json_boolean(t->closed));
    json_object_set_new(o, "closed_at", json_integer(t->closed_at));
    json_object_set_new(o, "last_resolved_at", json_integer(t->last_resolved_at));
    json_t *ps = json_array();
    for (int i = 0; i < t->n_pauses; i++)
        json_array_append_new(ps, json_pack("[I,o]", (json_int_t)t->pauses[i].start, time_or_null(t->pauses[i].end)));
    json_object_set_new(o, "pauses", ps);
    json_object_set_new(o, "ext", json_pack("[I,I,I,I]", (json_int_t)t->ext[0], (json_int_t)t->ext[1],
                                            (json_int_t)t->ext[2], (json_int_t)t->ext[3]));
    json_object_set_new(o, "escalated_rounds", json_integer(t->escalated_rounds));
    json_t *ea = json_array();
    for (int i = 0; i < 8; i++)
        json_array_append_new(ea, json_integer(t->escalated_at[i]));
    json_object_set_new(o, "escalated_at", ea);
    json_object_set_new(o, "repeat_firing", json_boolean(t->repeat_firing));
    json_object_set_new(o, "repeat_at", json_integer(t->repeat_at));
    json_object_set_new(o, "previous_ticket_id", json_string(t->previous_ticket_id));
    json_object_set_new(o, "issue_site", json_string(t->issue_site));
    if (t->responsible.known) {
        json_object_set_new(o, "responsible",
                            json_pack("{s:s,s:i,s:s}", "site", t->responsible.site, "role", t->responsible.role,
                                      "rule", t->responsible.rule));
    }
    return o;
}

Ticket *tkt_from_json(const json_t *o, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "ticket state is not an object");
        return NULL;
    }
    Ticket *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    get_str(o, "id", t->id, sizeof t->id);
    const json_t *v = json_object_get(o, "channel");
    int ch = json_is_string(v) ? evt_channel_from_name(json_string_value(v)) : -1;
    v = json_object_get(o, "category");
    int cat = json_is_string(v) ? evt_category_from_name(json_string_value(v)) : -1;
    const json_t *tgs = json_object_get(o, "targets");
    if (!t->id[0] || ch < 0 || cat < 0 || !json_is_array(tgs) || json_array_size(tgs) != STG__COUNT) {
        snprintf(err, errlen, "ticket state is incomplete");
        free(t);
        return NULL;
    }
    t->channel = (Channel)ch;
    t->category = (Category)cat;
    t->claim = json_is_true(json_object_get(o, "claim"));
    t->major = json_is_true(json_object_get(o, "major"));
    get_str(o, "waybill", t->waybill, sizeof t->waybill);
    get_str(o, "site", t->site, sizeof t->site);
    get_str(o, "region", t->region, sizeof t->region);
    get_str(o, "customer_ref", t->customer_ref, sizeof t->customer_ref);
    t->round = (int)get_int(o, "round");
    t->received_at = get_int(o, "received_at");
    t->round_start = get_int(o, "round_start");
    for (int s = 0; s < STG__COUNT; s++) {
        const json_t *x = json_array_get(tgs, (size_t)s);
        Target *tg = &t->tg[s];
        tg->deadline = get_time(x, "deadline");
        tg->warn_at = get_time(x, "warn_at");
        tg->done = json_is_true(json_object_get(x, "done"));
        tg->done_at = get_int(x, "done_at");
        tg->warn_state = (uint8_t)get_int(x, "warn_state");
        tg->breach_state = (uint8_t)get_int(x, "breach_state");
        tg->warn_fired_deadline = get_time(x, "warn_fired_deadline");
        tg->warn_condition_at = get_int(x, "warn_condition_at");
        tg->breach_deadline = get_time(x, "breach_deadline");
    }
    t->urgent = json_is_true(json_object_get(o, "urgent"));
    t->reasons = (unsigned)get_int(o, "reasons");
    t->urgent_at = get_int(o, "urgent_at");
    t->closed = json_is_true(json_object_get(o, "closed"));
    t->closed_at = get_int(o, "closed_at");
    t->last_resolved_at = get_int(o, "last_resolved_at");
    const json_t *ps = json_object_get(o, "pauses");
    for (size_t i = 0; i < json_array_size(ps) && i < TKT_MAX_PAUSES; i++) {
        const json_t *pr = json_array_get(ps, i);
        const json_t *a = json_array_get(pr, 0), *b = json_array_get(pr, 1);
        t->pauses[i].start = json_is_integer(a) ? json_integer_value(a) : 0;
        t->pauses[i].end = json_is_integer(b) ? json_integer_value(b) : TU_NEVER;
        t->n_pauses++;
    }
    const json_t *ext = json_object_get(o, "ext");
    for (int s = 0; s < STG__COUNT; s++) {
        const json_t *e = json_array_get(ext, (size_t)s);
        t->ext[s] = json_is_integer(e) ? json_integer_value(e) : 0;
    }
    t->escalated_rounds = (uint32_t)get_int(o, "escalated_rounds");
    const json_t *ea = json_object_get(o, "escalated_at");
    for (int i = 0; i < 8; i++) {
        const json_t *e = json_array_get(ea, (size_t)i);
        t->escalated_at[i] = json_is_integer(e) ? json_integer_value(e) : 0;
    }
    t->repeat_firing = json_is_true(json_object_get(o, "repeat_firing"));
    t->repeat_at = get_int(o, "repeat_at");
    get_str(o, "previous_ticket_id", t->previous_ticket_id, sizeof t->previous_ticket_id);
    get_str(o, "issue_site", t->issue_site, sizeof t->issue_site);
    t->responsible.role = -1;
    const json_t *r = json_object_get(o, "responsible");
    if (json_is_object(r)) {
        t->responsible.known = true;
        get_str(r, "site", t->responsible.site, sizeof t->responsible.site);
        t->responsible.role = (int)get_int(r, "role");
        get_str(r, "rule", t->responsible.rule, sizeof t->responsible.rule);
    }
    if (t->round < 1)
        t->round = 1;
    return t;
}
