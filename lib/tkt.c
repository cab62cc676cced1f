/* tkt: the ticket state machine; see tkt.h and docs/events.md. */
#include "tkt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "err.h"
#include "timeutil.h"

static const char *const stage_names[STG__COUNT] = {"contact", "first_reply", "resolve", "revisit"};

const char *tkt_stage_name(Stage s)
{
    return (unsigned)s < STG__COUNT ? stage_names[s] : "unknown";
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- strings, pauses, event ids ---------------------------------------- */

/* The size of a string block holding len bytes: small blocks end where
 * malloc's chunk ends (16-byte steps, 8 of header), so that a few more
 * event ids fit without a copy and no room is kept beyond the chunk; from
 * 256 bytes the size steps by half (256, 384, 512, 768, ...), so that a
 * ticket with many events costs amortised linear time. A block is always
 * allocated at exactly this size: its capacity is a function of its length.
 * 0 when len has no such size in 32 bits. */
static uint32_t strs_room(uint64_t len)
{
    if (len + 8 < 256)
        return (uint32_t)(((len + 8 + 15) & ~(uint64_t)15) - 8);
    uint64_t room = 256;
    while (room < len)
        room = (room & (room - 1)) ? (room / 3) * 4 : room + room / 2; /* 2^k -> 1.5 * 2^k -> 2^(k+1) */
    return room <= UINT32_MAX ? (uint32_t)room : 0;
}

/* Rebuilds the block with vals[w] for every string w in mask, the other
 * strings and the event ids as they were. -1 when out of memory (the ticket
 * keeps its block) or when the strings would not fit the 16-bit offset of
 * the ids (only a snapshot can carry such strings: events bound every
 * field). */
static int set_strs(Ticket *t, unsigned mask, const char *const *vals)
{
    const char *src[TS__COUNT];
    size_t len[TS__COUNT], total = 0;
    for (int w = 0; w < TS__COUNT; w++) {
        src[w] = (mask & (1u << w)) ? (vals[w] ? vals[w] : "") : t->strs ? tkt_str(t, (TktStr)w) : "";
        len[w] = strlen(src[w]);
        total += len[w] + 1;
    }
    if (total > UINT16_MAX)
        return -1;
    uint32_t ids = t->strs ? t->strs_len - t->ids_at : 0;
    uint32_t room = strs_room(total + ids);
    char *blk = room ? malloc(room) : NULL;
    if (!blk)
        return -1;
    size_t at = 0;
    for (int w = 0; w < TS__COUNT; w++) {
        memcpy(blk + at, src[w], len[w] + 1);
        at += len[w] + 1;
    }
    if (ids)
        memcpy(blk + at, t->strs + t->ids_at, ids);
    free(t->strs);
    t->strs = blk;
    t->ids_at = (uint16_t)total;
    t->strs_len = (uint32_t)(total + ids);
    return 0;
}

int tkt_set_str(Ticket *t, TktStr which, const char *value)
{
    const char *vals[TS__COUNT] = {0};
    vals[which] = value;
    return set_strs(t, 1u << which, vals);
}

int tkt_set_responsible(Ticket *t, const Responsible *r)
{
    const char *vals[TS__COUNT] = {0};
    vals[TS_RESP_SITE] = r->known ? r->site : "";
    vals[TS_RESP_RULE] = r->known ? r->rule : "";
    if (set_strs(t, (1u << TS_RESP_SITE) | (1u << TS_RESP_RULE), vals) < 0)
        return -1;
    t->resp_role = (int8_t)(r->known ? r->role : -1);
    return 0;
}

void tkt_get_responsible(const Ticket *t, Responsible *out)
{
    memset(out, 0, sizeof *out);
    out->role = -1;
    if (!tkt_responsible_known(t))
        return;
    out->known = true;
    snprintf(out->site, sizeof out->site, "%s", tkt_resp_site(t));
    out->role = t->resp_role;
    snprintf(out->rule, sizeof out->rule, "%s", tkt_resp_rule(t));
}

/* A ticket with these strings (NULL: "") and no state. */
static Ticket *blank_with(const char *const *vals)
{
    Ticket *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    th_node_init(&t->node);
    if (set_strs(t, (1u << TS__COUNT) - 1, vals) < 0) {
        free(t);
        return NULL;
    }
    t->round = 1;
    t->part = -1;
    t->resp_role = -1;
    t->claim_amount = -1; /* not given */
    t->review_suggest = -1;
    t->review_due = tu32_of(TU_NEVER);
    for (int s = 0; s < STG__COUNT; s++)
        t->tg[s].deadline = t->tg[s].warn_at = tu32_of(TU_NEVER);
    return t;
}

Ticket *tkt_blank(const char *id)
{
    const char *vals[TS__COUNT] = {[TS_ID] = id};
    return blank_with(vals);
}

bool tkt_seen(const Ticket *t, const char *event_id)
{
    for (uint32_t i = t->ids_at; i < t->strs_len;) {
        const char *id = t->strs + i;
        if (strcmp(id, event_id) == 0)
            return true;
        i += (uint32_t)strlen(id) + 1;
    }
    return false;
}

int tkt_remember(Ticket *t, const char *event_id)
{
    if (tkt_seen(t, event_id))
        return 0;
    uint32_t n = (uint32_t)strlen(event_id) + 1;
    uint64_t len = (uint64_t)t->strs_len + n;
    if (len > strs_room(t->strs_len)) {
        uint32_t room = strs_room(len);
        char *v = room ? realloc(t->strs, room) : NULL;
        if (!v)
            return -1;
        t->strs = v;
    }
    memcpy(t->strs + t->strs_len, event_id, n);
    t->strs_len += n;
    return 0;
}

/* ---- pauses (§12.3) ----------------------------------------------------- */

/* The ticket's out-of-line part, made at its first use. NULL when out of
 * memory. */
static TktRare *rare_of(Ticket *t)
{
    if (!t->rare)
        t->rare = calloc(1, sizeof *t->rare);
    return t->rare;
}

/* For loading a ticket: false when out of memory. */
static bool set_ext(Ticket *t, Stage s, int32_t v)
{
    TktRare *x = rare_of(t);
    if (x)
        x->ext[s] = v;
    return x != NULL;
}

static bool set_escalated_at(Ticket *t, int round, int64_t at)
{
    TktRare *x = rare_of(t);
    if (x)
        x->escalated_at[round - 1] = tu32_of(at);
    return x != NULL;
}

/* Whether pause event e comes after the second t: dated later, or within t
 * with a fraction. */
static bool pev_after(const PauseEv *e, int64_t t)
{
    return e->at > t || (e->at == t && e->frac);
}

/* Inserts a paused or resumed event in occurred_at order, a fraction of a
 * second included (after events of the same time: arrival order). -1 when
 * out of memory. */
static int add_pause_ev(Ticket *t, int64_t at, bool frac, int64_t until, bool resume)
{
    TktRare *x = rare_of(t);
    if (!x)
        return -1;
    if (x->n_pev == x->cap_pev) {
        uint32_t cap = x->cap_pev ? x->cap_pev * 2 : 2;
        PauseEv *v = realloc(x->pev, cap * sizeof *v);
        if (!v)
            return -1;
        x->pev = v;
        x->cap_pev = cap;
    }
    uint32_t i = x->n_pev;
    while (i > 0 && (x->pev[i - 1].at > at || (!frac && pev_after(&x->pev[i - 1], at)))) {
        x->pev[i] = x->pev[i - 1];
        i--;
    }
    x->pev[i] = (PauseEv){.at = at, .until = until, .resume = resume, .frac = frac, .overdue = AST_NONE};
    x->n_pev++;
    return 0;
}

static int push_pause(TktRare *x, Pause pz)
{
    if (x->n_pauses == x->cap_pauses) {
        uint32_t cap = x->cap_pauses ? x->cap_pauses * 2 : 2;
        Pause *v = realloc(x->pauses, cap * sizeof *v);
        if (!v)
            return -1;
        x->pauses = v;
        x->cap_pauses = cap;
    }
    x->pauses[x->n_pauses++] = pz;
    return 0;
}

/* Keeps an interval as one of the round's: a reopened round keeps the
 * ticket's pause events of every round, and its pauses are their intervals
 * from the round's start on (one running at the revisit goes on from it). */
static int push_in_round(const Ticket *t, TktRare *x, Pause pz)
{
    if (t->round > 1) {
        int64_t from = tu32_get(t->round_start);
        if (pz.end != TU_NEVER && pz.end <= from)
            return 0;
        pz.start = max64(pz.start, from);
    }
    return push_pause(x, pz);
}

/* The intervals from the events: a paused opens one (unless one is open), a
 * resumed closes the open one, and an open one ends by itself at its
 * paused's agreed date (or pause_max) when no resumed comes first. The
 * events are the ticket's, of every round, in occurred_at order, so that
 * which pause runs at a revisit does not depend on the order they came in. */
static int rebuild_pauses(Ticket *t)
{
    TktRare *x = t->rare;
    if (!x)
        return 0;
    x->n_pauses = 0;
    bool open = false;
    Pause cur = {0};
    for (uint32_t i = 0; i < x->n_pev; i++) {
        const PauseEv *e = &x->pev[i];
        /* A paused dated the very second the open pause ends by itself
         * (its until, pause_max) ends it as a resumed of that second would,
         * no pause_overdue, and opens the next pause there. One a fraction
         * of a second later comes after the end, as one a second later. */
        bool renewed = !e->resume && !e->frac && e->at == cur.end;
        if (open && cur.end != TU_NEVER && (pev_after(e, cur.end) || renewed)) {
            cur.by_itself = cur.by_itself && !renewed;
            if (push_in_round(t, x, cur) < 0)
                return -1;
            open = false;
        }
        if (!e->resume && !open) {
            cur = (Pause){.start = e->at, .end = e->until, .opener = i, .by_itself = true};
            open = true;
        } else if (e->resume && open) {
            cur.end = max64(e->at, cur.start);
            cur.by_itself = false;
            if (push_in_round(t, x, cur) < 0)
                return -1;
            open = false;
        }
    }
    return open ? push_in_round(t, x, cur) : 0;
}

/* Paused now: the last interval has no resumed and has not yet ended by
 * itself (its pause_overdue has not fired). */
static bool is_paused(const Ticket *t)
{
    if (tkt_n_pauses(t) == 0)
        return false;
    const Pause *pz = &t->rare->pauses[t->rare->n_pauses - 1];
    return pz->by_itself && t->rare->pev[pz->opener].overdue == AST_NONE;
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
 * paused intervals; TU_NEVER when an open-ended pause swallows the rest. */
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

/* Deadline and warn point under rule r (plus ext seconds), counted from start. */
static void schedule_rule(const Ticket *t, const SlaRule *r, int64_t ext, const Policy *p, int64_t start,
                          int64_t *deadline, int64_t *warn)
{
    int64_t budget = r->budget + ext;
    int64_t warn_off = r->warn >= 0 ? r->warn + ext : budget * p->warn_ratio_pct / 100;
    int shift = r->clock == CLK_BUSINESS ? (int)pol_region_shift(p, tkt_region(t)) : 0;

    *deadline = clock_add(r->clock, p->cal, shift, start, budget, tkt_pauses(t), (int)tkt_n_pauses(t));
    *warn = clock_add(r->clock, p->cal, shift, start, warn_off, tkt_pauses(t), (int)tkt_n_pauses(t));
}

static void schedule(const Ticket *t, Stage s, const SlaRule *r, const Policy *p, int64_t start, int64_t *deadline,
                     int64_t *warn)
{
    schedule_rule(t, r, tkt_ext(t, s), p, start, deadline, warn);
}

static void compute_target(Ticket *t, Stage s, const Policy *p)
{
    Target *tg = &t->tg[s];
    tg->deadline = tg->warn_at = tu32_of(TU_NEVER);
    if (t->closed || tg->done)
        return;
    if (s == STG_REVISIT && !t->tg[STG_RESOLVE].done)
        return;
    int64_t start = s == STG_REVISIT ? tu32_get(t->tg[STG_RESOLVE].done_at) : tu32_get(t->round_start);
    int64_t deadline, warn;
    schedule(t, s, rule_for(t, s, p), p, start, &deadline, &warn);
    /* A priority rise never moves a deadline before the moment of the rise,
     * nor past the one the normal budget gave: a target already overdue when
     * the ticket became urgent stays overdue from its own deadline. Only in
     * round 1: later rounds are urgent from their start (a rise of round 1
     * dated after a revisit that came late is not one of theirs), so the
     * priority before the rise was normal. */
    if (t->round == 1 && t->urgent && tu32_get(t->urgent_at) > start) {
        int64_t nd, nw;
        schedule(t, s, rule_at(t, s, p, VAR_NORMAL), p, start, &nd, &nw);
        if (deadline != TU_NEVER)
            deadline = max64(deadline, min64(nd, tu32_get(t->urgent_at)));
        if (warn != TU_NEVER)
            warn = max64(warn, min64(nw, tu32_get(t->urgent_at)));
    }
    /* The statutory limit holds whatever pauses and extensions say. */
    if (s == STG_RESOLVE && t->round == 1 && p->statutory_limit > 0) {
        int64_t cap = tu32_get(t->received_at) + p->statutory_limit;
        deadline = min64(deadline, cap);
        warn = min64(warn, deadline);
    }
    /* An invalid complaint is closed within its own target from the moment
     * it was found invalid, when that is sooner than the deadline in force,
     * the statutory limit included (§12.6). In a reopened round that
     * target, like the others, starts no earlier than the round. */
    if (s == STG_RESOLVE && t->invalid) {
        int64_t id, iw;
        schedule_rule(t, &p->invalid_resolve, 0, p, max64(tu32_get(t->invalid_at), start), &id, &iw);
        if (id < deadline) {
            deadline = id;
            warn = min64(warn, iw);
        }
    }
    tg->deadline = tu32_of(deadline);
    tg->warn_at = tu32_of(warn);
}

/* ---- alerts ------------------------------------------------------------- */

void tkt_fill_alert(const Ticket *t, Alert *a)
{
    snprintf(a->ticket_id, sizeof a->ticket_id, "%s", tkt_id(t));
    a->round = t->round;
    a->priority = t->urgent ? 1 : 0;
    a->reasons = t->reasons;
    a->category = (int)t->category;
    snprintf(a->site, sizeof a->site, "%s", tkt_site(t));
    snprintf(a->waybill, sizeof a->waybill, "%s", tkt_waybill(t));
    snprintf(a->region, sizeof a->region, "%s", tkt_region(t));
    if (tkt_responsible_known(t) && (t->category == CAT_LOSS || t->category == CAT_DELAY))
        tkt_get_responsible(t, &a->responsible);
}

static void emit_stage(const Ticket *t, AlertType type, AlertStatus st, Stage s, int instance, int64_t deadline,
                       int64_t condition_at, int64_t resolved_at, AlertList *out)
{
    Alert a;
    alert_init(&a, type, st);
    tkt_fill_alert(t, &a);
    a.stage = (int)s;
    a.instance = instance;
    a.deadline = deadline;
    a.condition_at = condition_at;
    a.resolved_at = st == AS_FIRING ? 0 : resolved_at;
    alert_make_id(&a);
    if (out)
        alert_list_push(out, &a);
    alert_clear(&a);
}

/* A ticket alert of no stage: escalation, repeat, pause_overdue,
 * progress_due, response_due, category_review. */
static void emit_ticket_n(const Ticket *t, AlertType type, AlertStatus st, int round, int n, int64_t condition_at,
                          int64_t resolved_at, AlertList *out)
{
    Alert a;
    alert_init(&a, type, st);
    tkt_fill_alert(t, &a);
    a.round = round;
    a.instance = n;
    a.condition_at = condition_at;
    a.resolved_at = st == AS_FIRING ? 0 : resolved_at;
    if (type == AL_REPEAT_COMPLAINT)
        snprintf(a.previous_ticket_id, sizeof a.previous_ticket_id, "%s", tkt_previous_ticket_id(t));
    if (type == AL_TICKET_ESCALATED && (t->reasons & (RSN_MAJOR | RSN_REOPENED)))
        a.major_because = t->major_because;
    if (type == AL_CATEGORY_REVIEW)
        a.suggested_category = t->review_suggest;
    alert_make_id(&a);
    if (out)
        alert_list_push(out, &a);
    alert_clear(&a);
}

static void emit_ticket(const Ticket *t, AlertType type, AlertStatus st, int round, int64_t condition_at,
                        int64_t resolved_at, AlertList *out)
{
    emit_ticket_n(t, type, st, round, 0, condition_at, resolved_at, out);
}

/* ---- §12.3, §12.4, §12.7: the other alerts of a ticket ------------------- */

/* The number in the round (§12.3) of the pause opened by pev[opener]: the
 * intervals opened at or before it. A paused that opened none (a second
 * paused while paused, kept as history) is not a pause of its own. */
static int pause_number(const Ticket *t, uint32_t opener)
{
    int n = 0;
    for (uint32_t i = 0; i < tkt_n_pauses(t) && t->rare->pauses[i].opener <= opener; i++)
        n++;
    return n;
}

/* The number of the pause_overdue of the pause opened by pev[opener], as it
 * fires: the pause's number in the round, or past every number the round's
 * pause_overdue already took (pause events that came late may have moved
 * the pauses' numbers since), so that no id fires twice. */
static int overdue_number(const Ticket *t, uint32_t opener)
{
    int n = pause_number(t, opener), used = 0;
    for (uint32_t i = 0; i < tkt_n_pause_evs(t); i++) {
        const PauseEv *e = &t->rare->pev[i];
        if (!e->resume && e->overdue != AST_NONE && e->round == t->round && e->n > used)
            used = e->n;
    }
    return n > used ? n : used + 1;
}

/* Ends every firing pause_overdue of the round (a resumed, a paused, the
 * completion of a stage, the close), under the id it fired with. */
static bool end_overdue(Ticket *t, int64_t at, AlertList *out)
{
    bool ended = false;
    for (uint32_t i = 0; i < tkt_n_pause_evs(t); i++) {
        PauseEv *e = &t->rare->pev[i];
        if (e->resume || e->overdue != AST_FIRING)
            continue;
        e->overdue = AST_ENDED;
        emit_ticket_n(t, AL_PAUSE_OVERDUE, AS_RESOLVED, e->round ? e->round : t->round,
                      e->n ? e->n : pause_number(t, i), e->until, at, out);
        ended = true;
    }
    return ended;
}

/* What ended, after `end`, a pause_overdue that only fires now: the first
 * paused or resumed, or stage completion, already recorded and dated after
 * the pause's end (events that came before the late paused which opened
 * the pause), TU_NEVER when none. One of that very second does not count:
 * in time order it is applied before the alert fires; a pause event a
 * fraction of a second after it does. (A closed ticket
 * fires nothing: tkt_advance stops there.) */
static int64_t overdue_ended_after(const Ticket *t, int64_t end)
{
    int64_t first = TU_NEVER;
    for (uint32_t i = 0; i < tkt_n_pause_evs(t); i++)
        if (pev_after(&t->rare->pev[i], end) && t->rare->pev[i].at < first)
            first = t->rare->pev[i].at;
    for (int s = 0; s < STG__COUNT; s++) {
        int64_t done = tu32_get(t->tg[s].done_at);
        if (t->tg[s].done && done > end && done < first)
            first = done;
    }
    return first;
}

/* progress_due: the next lapse, TU_NEVER when none is pending. */
static int64_t progress_due_at(const Ticket *t, const Policy *p)
{
    if (t->closed || p->progress_interval <= 0 || t->prog_state == AST_FIRING || !t->tg[STG_FIRST_REPLY].done ||
        t->tg[STG_RESOLVE].done || tu32_get(t->last_cf) == 0)
        return TU_NEVER;
    return clock_add(CLK_CALENDAR, p->cal, 0, tu32_get(t->last_cf), p->progress_interval, tkt_pauses(t),
                     (int)tkt_n_pauses(t));
}

static void end_progress(Ticket *t, int64_t at, AlertList *out)
{
    if (t->prog_state != AST_FIRING)
        return;
    t->prog_state = AST_NONE;
    emit_ticket_n(t, AL_PROGRESS_DUE, AS_RESOLVED, t->round, t->prog_n, tu32_get(t->prog_at), at, out);
}

/* The n-th response of the schedule (1-based) is due at received + offset. */
static int64_t response_due_at(const Ticket *t, const Policy *p, int n)
{
    return tu32_get(t->received_at) + p->response_schedule[n - 1];
}

static bool schedule_running(const Ticket *t)
{
    return t->round == 1 && !t->closed && !t->tg[STG_RESOLVE].done;
}

static void end_responses(Ticket *t, uint16_t mask, int64_t at, const Policy *p, AlertList *out)
{
    for (int n = 1; n <= POL_MAX_SCHEDULE; n++) {
        uint16_t bit = (uint16_t)(1u << (n - 1));
        if (!(mask & bit) || !(t->resp_firing & bit))
            continue;
        t->resp_firing &= (uint16_t)~bit;
        t->resp_done |= bit;
        /* a reload that shortened the schedule took the offset: its
         * condition time is then given as the start of the schedule */
        emit_ticket_n(t, AL_RESPONSE_DUE, AS_RESOLVED, 1, n,
                      n <= p->n_response_schedule ? response_due_at(t, p, n) : tu32_get(t->received_at), at, out);
    }
}

/* A customer-facing event (contacted, first_reply, progress, extended) at `at`. */
static void customer_facing(Ticket *t, int64_t at, const Policy *p, AlertList *out)
{
    if (t->tg[STG_FIRST_REPLY].done && !t->tg[STG_RESOLVE].done) {
        end_progress(t, at, out);
        t->last_cf = tu32_of(max64(tu32_get(t->last_cf), at));
    }
    if (t->round == 1 && t->resp_count < 255) {
        t->resp_count++;
        if (t->resp_count <= POL_MAX_SCHEDULE) {
            uint16_t bit = (uint16_t)(1u << (t->resp_count - 1));
            end_responses(t, bit, at, p, out);
            t->resp_done |= bit;
        }
    }
}

static void end_review(Ticket *t, int64_t at, AlertList *out)
{
    if (t->review_state == AST_FIRING)
        emit_ticket_n(t, AL_CATEGORY_REVIEW, AS_RESOLVED, t->round, 0, tu32_get(t->review_at), at, out);
    if (t->review_state != AST_NONE || tu32_get(t->review_due) != TU_NEVER)
        t->review_state = AST_ENDED;
    t->review_due = tu32_of(TU_NEVER);
}

static void fire_review(Ticket *t, Category suggest, int64_t condition_at, AlertList *out)
{
    /* a condition about the ticket holds from its receipt at the earliest
     * (the parcel may have passed pickup + 168 h before the complaint), from
     * the `updated` that gave it its category, and in a reopened round from
     * the round's start */
    condition_at = max64(condition_at, tu32_get(t->received_at));
    condition_at = max64(condition_at, tkt_category_at(t));
    if (t->round > 1)
        condition_at = max64(condition_at, tu32_get(t->round_start));
    t->review_state = AST_FIRING;
    t->review_suggest = (int8_t)suggest;
    t->review_at = tu32_of(condition_at);
    t->review_due = tu32_of(TU_NEVER);
    emit_ticket_n(t, AL_CATEGORY_REVIEW, AS_FIRING, t->round, 0, condition_at, 0, out);
}

void tkt_review(Ticket *t, int64_t pickup_at, bool parcel_signed, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed || t->review_state == AST_ENDED || !tkt_waybill(t)[0])
        return;
    if (t->review_state == AST_FIRING) {
        /* the suggestion of loss ends when the parcel turns up signed */
        if (t->review_suggest == CAT_LOSS && parcel_signed)
            end_review(t, now, out);
        return;
    }
    t->review_due = tu32_of(TU_NEVER);
    if (pickup_at == 0)
        return;
    int64_t limit = tu_add_sat(pickup_at, p->loss_after);
    if (t->category == CAT_DELAY && !parcel_signed) {
        if (limit <= now)
            fire_review(t, CAT_LOSS, limit, out);
        else
            t->review_due = tu32_of(limit); /* fires at the limit unless signed or reclassified first */
    } else if (t->category == CAT_LOSS && tu32_get(t->received_at) < limit) {
        fire_review(t, CAT_DELAY, tu32_get(t->received_at), out);
    }
}

/* ---- firing ------------------------------------------------------------- */

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
            if (tg->warn_state == AST_NONE && tu32_get(tg->warn_at) <= now && tu32_get(tg->warn_at) < best_at) {
                best = s, best_breach = false, best_at = tu32_get(tg->warn_at);
            }
            if (tg->breach_state == AST_NONE && tu32_get(tg->deadline) <= now && tu32_get(tg->deadline) < best_at) {
                best = s, best_breach = true, best_at = tu32_get(tg->deadline);
            }
        }
        if (best < 0)
            break;
        Target *tg = &t->tg[best];
        if (best_breach) {
            tg->breach_state = AST_FIRING;
            tg->breach_deadline = tg->deadline;
            if (tg->breach_n < 255)
                tg->breach_n++;
            emit_stage(t, AL_SLA_BREACH, AS_FIRING, (Stage)best, tg->breach_n, tu32_get(tg->deadline),
                       tu32_get(tg->deadline), 0, out);
        } else {
            tg->warn_state = AST_FIRING;
            tg->warn_fired_deadline = tg->deadline;
            tg->warn_condition_at = tg->warn_at;
            if (tg->warn_n < 255)
                tg->warn_n++;
            emit_stage(t, AL_SLA_WARNING, AS_FIRING, (Stage)best, tg->warn_n, tu32_get(tg->deadline),
                       tu32_get(tg->warn_at), 0, out);
        }
    }
    /* pauses that ended by themselves at their agreed date */
    for (uint32_t i = 0; i < tkt_n_pauses(t); i++) {
        const Pause *pz = &t->rare->pauses[i];
        PauseEv *e = &t->rare->pev[pz->opener];
        if (pz->by_itself && pz->end != TU_NEVER && pz->end <= now && e->overdue == AST_NONE) {
            int n = overdue_number(t, pz->opener);
            e->overdue = AST_FIRING;
            e->n = (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX);
            e->round = (uint16_t)(t->round < UINT16_MAX ? t->round : UINT16_MAX);
            emit_ticket_n(t, AL_PAUSE_OVERDUE, AS_FIRING, e->round, e->n, pz->end, 0, out);
            int64_t ended = overdue_ended_after(t, pz->end);
            if (ended != TU_NEVER) {
                e->overdue = AST_ENDED;
                emit_ticket_n(t, AL_PAUSE_OVERDUE, AS_RESOLVED, e->round, e->n, pz->end, ended, out);
            }
        }
    }
    if (tu32_get(t->review_due) <= now && t->review_state == AST_NONE)
        fire_review(t, CAT_LOSS, tu32_get(t->review_due), out);
}

/* The §12.4 deadlines need the policy: tkt_advance_policy fires them. */
static void advance_schedules(Ticket *t, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed)
        return;
    int64_t due = progress_due_at(t, p);
    if (due <= now) {
        t->prog_state = AST_FIRING;
        t->prog_at = tu32_of(due);
        if (t->prog_n < UINT16_MAX)
            t->prog_n++;
        emit_ticket_n(t, AL_PROGRESS_DUE, AS_FIRING, t->round, t->prog_n, due, 0, out);
    }
    if (schedule_running(t)) {
        for (int n = t->resp_count + 1; n <= p->n_response_schedule; n++) {
            uint16_t bit = (uint16_t)(1u << (n - 1));
            if ((t->resp_firing | t->resp_done) & bit)
                continue;
            int64_t at = response_due_at(t, p, n);
            if (at > now)
                break;
            t->resp_firing |= bit;
            emit_ticket_n(t, AL_RESPONSE_DUE, AS_FIRING, 1, n, at, 0, out);
        }
    }
}

void tkt_fire(Ticket *t, const Policy *p, int64_t now, AlertList *out)
{
    tkt_advance(t, now, out);
    advance_schedules(t, p, now, out);
}

static int64_t next_due_of(const Ticket *t, const Policy *p)
{
    int64_t due = TU_NEVER;
    if (t->closed)
        return due;
    for (int s = 0; s < STG__COUNT; s++) {
        const Target *tg = &t->tg[s];
        if (tg->done)
            continue;
        if (tg->warn_state == AST_NONE)
            due = min64(due, tu32_get(tg->warn_at));
        if (tg->breach_state == AST_NONE)
            due = min64(due, tu32_get(tg->deadline));
    }
    for (uint32_t i = 0; i < tkt_n_pauses(t); i++) {
        const Pause *pz = &t->rare->pauses[i];
        if (pz->by_itself && t->rare->pev[pz->opener].overdue == AST_NONE)
            due = min64(due, pz->end);
    }
    if (t->review_state == AST_NONE)
        due = min64(due, tu32_get(t->review_due));
    if (p) {
        due = min64(due, progress_due_at(t, p));
        if (schedule_running(t))
            for (int n = t->resp_count + 1; n <= p->n_response_schedule; n++)
                if (!((t->resp_firing | t->resp_done) & (1u << (n - 1)))) {
                    due = min64(due, response_due_at(t, p, n));
                    break;
                }
    }
    return due;
}

int64_t tkt_next_due(const Ticket *t)
{
    return next_due_of(t, NULL);
}

int64_t tkt_next_due_p(const Ticket *t, const Policy *p)
{
    return next_due_of(t, p);
}

/* A warning or breach whose deadline moved past `now` is over; it may fire
 * again, under the next number, when the stage misses its new deadline
 * (§12.1). */
static void reconcile(Ticket *t, int64_t now, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++) {
        Target *tg = &t->tg[s];
        if (tg->done)
            continue;
        if (tg->breach_state == AST_FIRING && tu32_get(tg->deadline) > now) {
            tg->breach_state = AST_NONE;
            emit_stage(t, AL_SLA_BREACH, AS_RESOLVED, (Stage)s, tg->breach_n, tu32_get(tg->breach_deadline),
                       tu32_get(tg->breach_deadline), now, out);
            if (out && !out->failed)
                out->v[out->n - 1].moved = true;
        }
        if (tg->warn_state == AST_FIRING && tu32_get(tg->warn_at) > now) {
            tg->warn_state = AST_NONE;
            emit_stage(t, AL_SLA_WARNING, AS_RESOLVED, (Stage)s, tg->warn_n, tu32_get(tg->warn_fired_deadline),
                       tu32_get(tg->warn_condition_at), now, out);
        }
    }
}

void tkt_recompute(Ticket *t, const Policy *p, int64_t now, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++)
        compute_target(t, (Stage)s, p);
    reconcile(t, now, out);
}

/* ---- transitions -------------------------------------------------------- */

/* The deadline a stage's alert ending now carries: the one in force, or the
 * one it fired with when none is (a policy reload may leave none). */
static int64_t in_force(const Target *tg, Tu32 fired)
{
    return tu32_get(tg->deadline) != TU_NEVER ? tu32_get(tg->deadline) : tu32_get(fired);
}

/* frac: the completing event's time had a fraction of a second, so it is
 * after `at`: late when `at` is the deadline itself (§6: met only at or
 * before it), by one second as late_by_seconds counts. */
static void complete(Ticket *t, Stage s, int64_t at, bool frac, AlertList *out)
{
    Target *tg = &t->tg[s];
    if (tg->done)
        return;
    tg->done = true;
    tg->done_at = tu32_of(at);
    /* Both alerts carry the deadline in force now: an extension, a pause or
     * a rise reported after they fired may have moved it (still before
     * `now` for a breach, or it would have ended then). */
    if (tg->warn_state == AST_FIRING) {
        tg->warn_state = AST_ENDED;
        emit_stage(t, AL_SLA_WARNING, AS_RESOLVED, s, tg->warn_n, in_force(tg, tg->warn_fired_deadline),
                   tu32_get(tg->warn_condition_at), at, out);
    }
    if (tg->breach_state == AST_FIRING) {
        tg->breach_state = AST_ENDED;
        /* met or late against that deadline */
        int64_t due = in_force(tg, tg->breach_deadline);
        Alert a;
        int64_t when = at + frac;
        alert_init(&a, AL_SLA_BREACH, when <= due ? AS_RETRACTED : AS_RESOLVED);
        tkt_fill_alert(t, &a);
        a.stage = (int)s;
        a.instance = tg->breach_n;
        a.deadline = due;
        a.condition_at = tu32_get(tg->breach_deadline);
        a.resolved_at = at;
        if (a.status == AS_RESOLVED) {
            a.has_late_by = true;
            a.late_by_seconds = when - due;
        }
        alert_make_id(&a);
        alert_list_push(out, &a);
        alert_clear(&a);
    }
    tg->deadline = tg->warn_at = tu32_of(TU_NEVER);
}

static void close_ticket(Ticket *t, int64_t at, const Policy *p, AlertList *out)
{
    for (int s = 0; s < STG__COUNT; s++) {
        Target *tg = &t->tg[s];
        if (tg->warn_state == AST_FIRING) {
            tg->warn_state = AST_ENDED;
            emit_stage(t, AL_SLA_WARNING, AS_RESOLVED, (Stage)s, tg->warn_n, in_force(tg, tg->warn_fired_deadline),
                       tu32_get(tg->warn_condition_at), at, out);
        }
        if (tg->breach_state == AST_FIRING) {
            tg->breach_state = AST_ENDED;
            emit_stage(t, AL_SLA_BREACH, AS_RESOLVED, (Stage)s, tg->breach_n, in_force(tg, tg->breach_deadline),
                       tu32_get(tg->breach_deadline), at, out);
        }
        tg->deadline = tg->warn_at = tu32_of(TU_NEVER);
    }
    end_overdue(t, at, out);
    end_progress(t, at, out);
    end_responses(t, t->resp_firing, at, p, out);
    end_review(t, at, out);
    for (int r = 1; r <= 32; r++) {
        if (t->escalated_rounds & (1u << (r - 1)))
            emit_ticket(t, AL_TICKET_ESCALATED, AS_RESOLVED, r, r <= 8 ? tkt_escalated_at(t, r) : at, at, out);
    }
    t->escalated_rounds = 0;
    if (t->repeat_firing) {
        t->repeat_firing = false;
        emit_ticket(t, AL_REPEAT_COMPLAINT, AS_RESOLVED, t->round, tu32_get(t->repeat_at), at, out);
    }
    t->closed = true;
    t->closed_at = tu32_of(at);
}

bool tkt_make_urgent(Ticket *t, unsigned reason, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed)
        return false;
    bool added = !(t->reasons & reason);
    t->reasons |= (uint8_t)reason;
    if (!t->urgent) {
        t->urgent = true;
        t->urgent_at = tu32_of(at);
    }
    unsigned bit = t->round <= 32 ? 1u << (t->round - 1) : 0;
    if ((reason & (RSN_MAJOR | RSN_CHANNEL | RSN_REOPENED)) && bit && !(t->escalated_rounds & bit) &&
        (added || reason == RSN_REOPENED)) {
        t->escalated_rounds |= bit;
        if (t->round <= 8) {
            TktRare *x = rare_of(t);
            if (!x) {
                out->failed = true; /* lib/desk treats it as out of memory */
                return added;
            }
            x->escalated_at[t->round - 1] = tu32_of(at);
        }
        emit_ticket(t, AL_TICKET_ESCALATED, AS_FIRING, t->round, at, 0, out);
    }
    tkt_recompute(t, p, now, out);
    return added;
}

static bool escalating_channel(Channel c)
{
    return c == CH_REGULATOR || c == CH_CONSUMER_ASSOCIATION || c == CH_MEDIA || c == CH_SUPERVISOR_HOTLINE;
}

/* Takes the §12.5 facts an event carries; the MB_* bits they make major. */
static unsigned take_facts(Ticket *t, const ComplaintEvent *ev, const Policy *p)
{
    if (ev->has & EVF_MAJOR)
        t->major_because |= ev->major ? MB_FLAG : 0;
    if (ev->has & EVF_CLAIM_AMOUNT)
        t->claim_amount = ev->claim_amount;
    if (ev->has & EVF_COMPLAINANTS)
        t->complainants = ev->complainants;
    if (ev->has & EVF_INJURY)
        t->injury = t->injury || ev->injury;
    if (ev->has & EVF_VIP)
        t->vip = t->vip || ev->vip;
    if (ev->has & EVF_EXECUTIVE)
        t->executive = t->executive || ev->executive;
    unsigned b = t->major_because & (MB_FLAG | MB_REOPENED);
    if (t->claim_amount >= 0 && t->claim_amount >= (double)p->major_claim_amount)
        b |= MB_CLAIM_AMOUNT;
    if (t->complainants >= p->major_complainants)
        b |= MB_COMPLAINANTS;
    if (t->injury)
        b |= MB_INJURY;
    if (t->vip)
        b |= MB_VIP;
    if (t->executive)
        b |= MB_EXECUTIVE;
    /* what made it major stays on record, like priority */
    t->major_because |= (uint8_t)b;
    return t->major_because;
}

Ticket *tkt_new(const ComplaintEvent *ev, const Policy *p, AlertList *out)
{
    Ticket *t = tkt_blank(ev->ticket_id);
    if (!t)
        return NULL;
    const char *vals[TS__COUNT] = {
        [TS_WAYBILL] = (ev->has & EVF_WAYBILL) ? ev->waybill : "",
        [TS_SITE] = (ev->has & EVF_SITE) ? ev->site : "",
        [TS_REGION] = (ev->has & EVF_REGION) ? ev->region : "",
        [TS_CUSTOMER_REF] = (ev->has & EVF_CUSTOMER_REF) ? ev->customer_ref : "",
    };
    unsigned mask = 1u << TS_WAYBILL | 1u << TS_SITE | 1u << TS_REGION | 1u << TS_CUSTOMER_REF;
    if (set_strs(t, mask, vals) < 0) {
        tkt_free(t);
        return NULL;
    }
    t->channel = (uint8_t)ev->channel;
    t->category = t->issue_category = (uint8_t)ev->category;
    t->claim = (ev->has & EVF_CLAIM) ? ev->claim : false;
    t->major = take_facts(t, ev, p) != 0;
    t->received_at = t->round_start = tu32_of(ev->occurred_at);
    tkt_recompute(t, p, ev->occurred_at, out);
    /* Both reasons at once, so that the one ticket_escalated names both. */
    unsigned reasons = (t->major ? RSN_MAJOR : 0) | (escalating_channel((Channel)t->channel) ? RSN_CHANNEL : 0);
    if (reasons)
        tkt_make_urgent(t, reasons, ev->occurred_at, p, ev->occurred_at, out);
    return t;
}

void tkt_free(Ticket *t)
{
    if (!t)
        return;
    free(t->strs);
    if (t->rare) {
        free(t->rare->pauses);
        free(t->rare->pev);
        free(t->rare);
    }
    free(t);
}

static int reopen(Ticket *t, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    /* the round's alerts end with it, as at a close; the new round's are
     * its own (ids with the new round) */
    end_overdue(t, at, out);
    end_progress(t, at, out);
    end_responses(t, t->resp_firing, at, p, out);
    end_review(t, at, out);
    t->round++;
    t->round_start = tu32_of(at);
    memset(t->tg, 0, sizeof t->tg);
    for (int s = 0; s < STG__COUNT; s++)
        t->tg[s].deadline = t->tg[s].warn_at = tu32_of(TU_NEVER);
    if (t->rare)
        memset(t->rare->ext, 0, sizeof t->rare->ext);
    t->prog_n = 0;
    t->prog_state = AST_NONE;
    t->last_cf = tu32_of(0);
    t->review_state = AST_NONE; /* looked at again for the new round (tkt_review) */
    t->review_due = tu32_of(TU_NEVER);
    /* 004: an unsatisfied revisit turns the complaint into a major one; its
     * escalation names `reopened` among what made it major */
    t->major = true;
    t->major_because |= MB_REOPENED;
    /* A pause running at the revisit goes on in the new round with its
     * agreed date, and pauses dated after it are the new round's
     * (rebuild_pauses); their pause_overdue is the new round's too (the
     * round before ended its own above). */
    if (rebuild_pauses(t) < 0)
        return -1;
    for (uint32_t i = 0; i < tkt_n_pauses(t); i++)
        t->rare->pev[t->rare->pauses[i].opener].overdue = AST_NONE;
    tkt_make_urgent(t, RSN_REOPENED, at, p, now, out);
    return 0;
}

static bool customer_facing_type(ComplaintType type)
{
    return type == CT_CONTACTED || type == CT_FIRST_REPLY || type == CT_PROGRESS || type == CT_EXTENDED;
}

/* The first stage of the round not done yet, STG__COUNT when none. */
static int open_stage(const Ticket *t)
{
    for (int s = 0; s < STG__COUNT; s++)
        if (!t->tg[s].done)
            return s;
    return STG__COUNT;
}

TktResult tkt_apply(Ticket *t, const ComplaintEvent *ev, const Policy *p, int64_t now, AlertList *out, char *detail,
                    size_t detaillen)
{
    int64_t at = ev->occurred_at;
    if (detaillen)
        detail[0] = '\0';
    /* §4: a revisit before any resolved is invalid, also once the ticket was
     * closed without one */
    if (t->closed && ev->type == CT_REVISIT && !t->tg[STG_RESOLVE].done && tu32_get(t->last_resolved_at) == 0) {
        snprintf(detail, detaillen, "type: revisit of a ticket closed before it was ever resolved");
        return TKT_INVALID;
    }
    if (t->closed || ev->type == CT_RECEIVED)
        return TKT_HISTORY;
    /* Whatever fell due before this event happened fires first (an event
     * within a second has that second's deadlines behind it). */
    tkt_fire(t, p, at - 1 + (ev->occurred_ns != 0), out);
    int stage_before = open_stage(t);
    if (customer_facing_type(ev->type) && !(t->round > 1 && at < tu32_get(t->round_start)))
        customer_facing(t, at, p, out);
    TktResult r = TKT_HISTORY;

    switch (ev->type) {
    case CT_CONTACTED:
    case CT_FIRST_REPLY:
    case CT_RESOLVED: {
        Stage s = ev->type == CT_CONTACTED ? STG_CONTACT : ev->type == CT_FIRST_REPLY ? STG_FIRST_REPLY : STG_RESOLVE;
        /* A stage already done, or one done before this round began (an
         * earlier round's event arriving late), is history. */
        if (t->tg[s].done || (t->round > 1 && at < tu32_get(t->round_start)))
            break;
        for (int i = 0; i <= (int)s; i++)
            complete(t, (Stage)i, at, ev->occurred_ns != 0, out);
        if (s == STG_FIRST_REPLY)
            t->last_cf = tu32_of(at);
        if (s == STG_RESOLVE) {
            t->last_resolved_at = tu32_of(at);
            end_progress(t, at, out);
            end_responses(t, t->resp_firing, at, p, out);
        }
        tkt_recompute(t, p, now, out);
        r = TKT_APPLIED;
        break;
    }
    case CT_PROGRESS: r = TKT_APPLIED; break;
    case CT_REVISIT:
        if (!t->tg[STG_RESOLVE].done) {
            snprintf(detail, detaillen, "type: revisit before resolved in round %d", t->round);
            return TKT_INVALID;
        }
        complete(t, STG_REVISIT, at, ev->occurred_ns != 0, out);
        if (ev->satisfied)
            close_ticket(t, at, p, out);
        else if (reopen(t, at, p, now, out) < 0)
            return TKT_NOMEM;
        return TKT_APPLIED;
    case CT_UPDATED: {
        if (ev->has & EVF_CATEGORY) {
            if (t->category != ev->category) { /* when it changed: §12.7's condition_at */
                TktRare *x = rare_of(t);
                if (!x)
                    return TKT_NOMEM;
                x->category_at = tu32_of(at);
            }
            t->category = (uint8_t)ev->category;
            /* The desk reclassified it: a review that fired is done for the
             * round. One not yet due is looked at again from the new
             * category (lib/desk calls tkt_review after this event), so that
             * the order of this event and the pickup scan does not matter. */
            if (t->review_state == AST_FIRING)
                end_review(t, at, out);
        }
        if (ev->has & EVF_CLAIM)
            t->claim = ev->claim;
        if (ev->has & (EVF_SITE | EVF_WAYBILL | EVF_REGION)) {
            const char *vals[TS__COUNT] = {[TS_SITE] = ev->site, [TS_WAYBILL] = ev->waybill, [TS_REGION] = ev->region};
            unsigned mask = ((ev->has & EVF_SITE) ? 1u << TS_SITE : 0) |
                            ((ev->has & EVF_WAYBILL) ? 1u << TS_WAYBILL : 0) |
                            ((ev->has & EVF_REGION) ? 1u << TS_REGION : 0);
            if (set_strs(t, mask, vals) < 0)
                return TKT_NOMEM;
        }
        if (ev->has & EVF_VALIDITY) {
            if (ev->invalid && !t->invalid)
                t->invalid_at = tu32_of(at);
            t->invalid = ev->invalid;
        }
        /* A reopen made the ticket major (§12.5) without the reason
         * `major`; a fact that makes it major still adds that reason. */
        bool facts = (take_facts(t, ev, p) & ~(unsigned)MB_REOPENED) != 0;
        t->major = t->major || facts;
        if (facts && !(t->reasons & RSN_MAJOR))
            tkt_make_urgent(t, RSN_MAJOR, at, p, now, out);
        tkt_recompute(t, p, now, out);
        r = TKT_APPLIED;
        break;
    }
    case CT_CLOSED: close_ticket(t, at, p, out); return TKT_APPLIED;
    case CT_PAUSED:
    case CT_RESUMED: {
        bool resume = ev->type == CT_RESUMED;
        int64_t until = TU_NEVER;
        if (!resume)
            until = (ev->has & EVF_UNTIL) ? ev->until : p->pause_max > 0 ? tu_add_sat(at, p->pause_max) : TU_NEVER;
        uint32_t n_before = tkt_n_pauses(t);
        int64_t last_end = n_before ? t->rare->pauses[n_before - 1].end : 0;
        bool last_by_itself = n_before && t->rare->pauses[n_before - 1].by_itself;
        if (add_pause_ev(t, at, ev->occurred_ns != 0, until, resume) < 0 || rebuild_pauses(t) < 0)
            return TKT_NOMEM;
        bool ended = end_overdue(t, at, out);
        tkt_recompute(t, p, now, out);
        /* history when the intervals did not change (and no overdue pause ended): a second paused while
         * paused, a resumed with nothing to resume (kept: its paused may
         * still arrive, later than itself). A resumed at the very instant a
         * pause would have ended by itself ends it (no pause_overdue): applied. */
        r = (ended || t->rare->n_pauses != n_before ||
             (n_before && (t->rare->pauses[n_before - 1].end != last_end ||
                           t->rare->pauses[n_before - 1].by_itself != last_by_itself)))
                ? TKT_APPLIED
                : TKT_HISTORY;
        break;
    }
    case CT_EXTENDED: {
        Stage s = ev->ext_stage == EXT_FIRST_REPLY ? STG_FIRST_REPLY : STG_RESOLVE;
        if (t->tg[s].done)
            break;
        TktRare *x = rare_of(t);
        if (!x)
            return TKT_NOMEM;
        x->ext[s] += ev->ext_hours * 3600;
        tkt_recompute(t, p, now, out);
        r = TKT_APPLIED;
        break;
    }
    default: break;
    }
    /* completing the open stage ends an overdue pause (§12.3) */
    if (open_stage(t) != stage_before)
        end_overdue(t, at, out);
    return r;
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

void tkt_count_firing(const Ticket *t, unsigned counts[AL__COUNT])
{
    for (int s = 0; s < STG__COUNT; s++) {
        counts[AL_SLA_WARNING] += t->tg[s].warn_state == AST_FIRING;
        counts[AL_SLA_BREACH] += t->tg[s].breach_state == AST_FIRING;
    }
    counts[AL_TICKET_ESCALATED] += (unsigned)__builtin_popcount(t->escalated_rounds);
    counts[AL_REPEAT_COMPLAINT] += t->repeat_firing;
    for (uint32_t i = 0; i < tkt_n_pause_evs(t); i++)
        counts[AL_PAUSE_OVERDUE] += !t->rare->pev[i].resume && t->rare->pev[i].overdue == AST_FIRING;
    counts[AL_PROGRESS_DUE] += t->prog_state == AST_FIRING;
    counts[AL_RESPONSE_DUE] += (unsigned)__builtin_popcount(t->resp_firing);
    counts[AL_CATEGORY_REVIEW] += t->review_state == AST_FIRING;
}

bool tkt_paused(const Ticket *t)
{
    return is_paused(t);
}

int tkt_mark_repeat(Ticket *t, const char *previous, int64_t at, const Policy *p, int64_t now, AlertList *out)
{
    if (t->closed || t->repeat_firing || tkt_previous_ticket_id(t)[0])
        return 0;
    if (tkt_set_str(t, TS_PREVIOUS_TICKET_ID, previous) < 0)
        return -1;
    tkt_make_urgent(t, RSN_REPEAT, at, p, now, out);
    t->repeat_firing = true;
    t->repeat_at = tu32_of(at);
    emit_ticket(t, AL_REPEAT_COMPLAINT, AS_FIRING, t->round, at, 0, out);
    return 0;
}

/* ---- serialisation ------------------------------------------------------ */

/* The stored form: a version byte, then every field in a fixed order.
 * Integers are LEB128 varints, signed ones zig-zagged; times are relative
 * to received_at, with TU_NEVER and 0 ("none") as their own codes, so a
 * ticket packs into ~100-200 bytes. */
#define PACK_VERSION 4 /* 1: before §12, 2: before issue_category, 3: before category_at (all read still) */

typedef struct Wr {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} Wr;

static void wr_bytes(Wr *w, const void *b, size_t n)
{
    if (w->failed || n == 0) /* n == 0: b may be NULL, which memcpy must not see */
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *v = realloc(w->p, cap);
        if (!v) {
            w->failed = true;
            return;
        }
        w->p = v;
        w->cap = cap;
    }
    memcpy(w->p + w->n, b, n);
    w->n += n;
}

static void wr_u(Wr *w, uint64_t v)
{
    /* the usual case, straight into the buffer: a ticket packs about 80 of
     * these, and a batch commits hundreds of tickets */
    if (!w->failed && w->cap - w->n >= 10) {
        uint8_t *o = w->p + w->n;
        for (; v >= 0x80; v >>= 7)
            *o++ = (uint8_t)(v | 0x80);
        *o++ = (uint8_t)v;
        w->n = (size_t)(o - w->p);
        return;
    }
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = v & 0x7f;
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    wr_bytes(w, b, n);
}

static void wr_s(Wr *w, int64_t v)
{
    wr_u(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void wr_time(Wr *w, int64_t t, int64_t base)
{
    if (t == TU_NEVER)
        wr_u(w, 0);
    else if (t == 0)
        wr_u(w, 1);
    else
        wr_u(w, ((((uint64_t)(t - base)) << 1) ^ (uint64_t)((t - base) >> 63)) + 2);
}

static void wr_str(Wr *w, const char *s)
{
    size_t n = strlen(s);
    wr_u(w, n);
    wr_bytes(w, s, n);
}

uint8_t *tkt_pack(const Ticket *t, size_t *len)
{
    Wr w = {0};
    uint8_t v = PACK_VERSION;
    wr_bytes(&w, &v, 1);
    for (int i = 0; i < TS__COUNT; i++)
        wr_str(&w, tkt_str(t, (TktStr)i));
    wr_u(&w, t->channel);
    wr_u(&w, t->category);
    wr_u(&w, (unsigned)t->claim | (unsigned)t->major << 1 | (unsigned)t->urgent << 2 | (unsigned)t->closed << 3 |
                 (unsigned)t->repeat_firing << 4);
    wr_s(&w, t->resp_role);
    wr_u(&w, t->reasons);
    wr_u(&w, (uint64_t)t->round);
    int64_t base = tu32_get(t->received_at);
    wr_s(&w, base);
    wr_time(&w, tu32_get(t->round_start), base);
    wr_time(&w, tu32_get(t->urgent_at), base);
    wr_time(&w, tu32_get(t->closed_at), base);
    wr_time(&w, tu32_get(t->last_resolved_at), base);
    wr_time(&w, tu32_get(t->repeat_at), base);
    for (int s = 0; s < STG__COUNT; s++) {
        const Target *tg = &t->tg[s];
        wr_time(&w, tu32_get(tg->deadline), base);
        wr_time(&w, tu32_get(tg->warn_at), base);
        wr_time(&w, tu32_get(tg->done_at), base);
        wr_time(&w, tu32_get(tg->warn_fired_deadline), base);
        wr_time(&w, tu32_get(tg->warn_condition_at), base);
        wr_time(&w, tu32_get(tg->breach_deadline), base);
        wr_u(&w, (unsigned)tg->done | (unsigned)tg->warn_state << 1 | (unsigned)tg->breach_state << 3);
        wr_s(&w, tkt_ext(t, (Stage)s));
        wr_u(&w, tg->warn_n);
        wr_u(&w, tg->breach_n);
    }
    wr_u(&w, tkt_n_pause_evs(t));
    for (uint32_t i = 0; i < tkt_n_pause_evs(t); i++) {
        const PauseEv *e = &t->rare->pev[i];
        wr_time(&w, e->at, base);
        wr_time(&w, e->until, base);
        /* the id of its pause_overdue in the same number (0 in a snapshot from before) */
        wr_u(&w, (uint64_t)e->resume | (uint64_t)e->overdue << 1 | (uint64_t)e->n << 3 | (uint64_t)e->round << 19 |
                     (uint64_t)e->frac << 35);
    }
    wr_u(&w, t->escalated_rounds);
    for (int i = 0; i < 8; i++)
        wr_time(&w, tkt_escalated_at(t, i + 1), base);
    /* §12 */
    int64_t amount;
    memcpy(&amount, &t->claim_amount, sizeof amount);
    wr_u(&w, (uint64_t)amount);
    wr_u(&w, (uint64_t)t->complainants);
    wr_u(&w, (unsigned)t->injury | (unsigned)t->vip << 1 | (unsigned)t->executive << 2 | (unsigned)t->invalid << 3);
    wr_u(&w, t->major_because);
    wr_time(&w, tu32_get(t->invalid_at), base);
    wr_time(&w, tu32_get(t->last_cf), base);
    wr_u(&w, t->prog_n);
    wr_u(&w, t->prog_state);
    wr_time(&w, tu32_get(t->prog_at), base);
    wr_u(&w, t->resp_count);
    wr_u(&w, t->resp_firing);
    wr_u(&w, t->resp_done);
    wr_u(&w, t->review_state);
    wr_s(&w, t->review_suggest);
    wr_time(&w, tu32_get(t->review_due), base);
    wr_time(&w, tu32_get(t->review_at), base);
    wr_u(&w, t->issue_category);
    wr_time(&w, tkt_category_at(t), base);
    uint32_t il;
    const char *ids = tkt_event_ids(t, &il);
    wr_u(&w, il);
    wr_bytes(&w, ids, il);
    if (w.failed) {
        free(w.p);
        return NULL;
    }
    *len = w.n;
    return w.p;
}

typedef struct Rd {
    const uint8_t *p;
    size_t n, i;
    bool bad;
} Rd;

static uint64_t rd_u(Rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->i >= r->n) {
            r->bad = true;
            return 0;
        }
        uint8_t b = r->p[r->i++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t rd_s(Rd *r)
{
    uint64_t u = rd_u(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int64_t rd_time(Rd *r, int64_t base)
{
    uint64_t u = rd_u(r);
    if (u == 0)
        return TU_NEVER;
    if (u == 1)
        return 0;
    u -= 2;
    return tu_add_sat(base, (int64_t)(u >> 1) ^ -(int64_t)(u & 1));
}

/* A string read in place: *len bytes at the returned pointer. */
static const char *rd_str(Rd *r, size_t *len)
{
    uint64_t n = rd_u(r);
    if (r->bad || n > r->n - r->i) {
        r->bad = true;
        *len = 0;
        return "";
    }
    const char *s = (const char *)r->p + r->i;
    r->i += n;
    *len = (size_t)n;
    return s;
}

Ticket *tkt_unpack(const void *data, size_t len, char *err, size_t errlen)
{
    Rd r = {.p = data, .n = len};
    if (len < 1 || r.p[0] < 1 || r.p[0] > PACK_VERSION) {
        err_set(err, errlen, "ticket state: unknown format %d", len ? r.p[0] : -1);
        return NULL;
    }
    int version = r.p[0];
    r.i = 1;
    /* the strings, NUL-terminated copies */
    char *copies[TS__COUNT] = {0};
    const char *vals[TS__COUNT];
    size_t total = 0;
    for (int i = 0; i < TS__COUNT; i++) {
        size_t n;
        const char *s = rd_str(&r, &n);
        copies[i] = r.bad ? NULL : strndup(s, n);
        vals[i] = copies[i] ? copies[i] : "";
        if (!r.bad && (!copies[i] || strlen(copies[i]) != n))
            r.bad = true;
        total += n + 1;
    }
    if (total > UINT16_MAX) /* more than any event can give a ticket */
        r.bad = true;
    Ticket *t = r.bad || !vals[TS_ID][0] ? NULL : blank_with(vals);
    for (int i = 0; i < TS__COUNT; i++)
        free(copies[i]);
    if (!t) {
        err_set(err, errlen, r.bad ? "ticket state: truncated or corrupt" : "out of memory");
        return NULL;
    }
    uint64_t ch = rd_u(&r), cat = rd_u(&r), flags = rd_u(&r);
    t->resp_role = (int8_t)rd_s(&r);
    t->reasons = (uint8_t)rd_u(&r);
    t->round = (int)rd_u(&r);
    if (ch >= CH__COUNT || cat >= CAT__COUNT || t->round < 1)
        r.bad = true;
    t->channel = (uint8_t)ch;
    t->category = (uint8_t)cat;
    t->claim = flags & 1, t->major = flags >> 1 & 1, t->urgent = flags >> 2 & 1;
    t->closed = flags >> 3 & 1, t->repeat_firing = flags >> 4 & 1;
    t->received_at = tu32_of(rd_s(&r));
    int64_t base = tu32_get(t->received_at);
    t->round_start = tu32_of(rd_time(&r, base));
    t->urgent_at = tu32_of(rd_time(&r, base));
    t->closed_at = tu32_of(rd_time(&r, base));
    t->last_resolved_at = tu32_of(rd_time(&r, base));
    t->repeat_at = tu32_of(rd_time(&r, base));
    bool nomem = false;
    for (int s = 0; s < STG__COUNT; s++) {
        Target *tg = &t->tg[s];
        tg->deadline = tu32_of(rd_time(&r, base));
        tg->warn_at = tu32_of(rd_time(&r, base));
        tg->done_at = tu32_of(rd_time(&r, base));
        tg->warn_fired_deadline = tu32_of(rd_time(&r, base));
        tg->warn_condition_at = tu32_of(rd_time(&r, base));
        tg->breach_deadline = tu32_of(rd_time(&r, base));
        uint64_t f = rd_u(&r);
        tg->done = f & 1;
        tg->warn_state = (uint8_t)(f >> 1 & 3);
        tg->breach_state = (uint8_t)(f >> 3 & 3);
        int32_t ext = (int32_t)rd_s(&r);
        if (ext && !set_ext(t, (Stage)s, ext))
            nomem = true;
        if (version >= 2) {
            tg->warn_n = (uint8_t)rd_u(&r);
            tg->breach_n = (uint8_t)rd_u(&r);
        } else {
            tg->warn_n = tg->warn_state != AST_NONE;
            tg->breach_n = tg->breach_state != AST_NONE;
        }
    }
    uint64_t np = rd_u(&r);
    if (np > r.n)
        r.bad = true;
    for (uint64_t i = 0; i < np && !r.bad && !nomem; i++) {
        int64_t a = rd_time(&r, base), b = rd_time(&r, base);
        if (version >= 2) {
            uint64_t f = rd_u(&r);
            nomem = add_pause_ev(t, a, f >> 35 & 1, b, f & 1) < 0;
            if (!nomem) {
                PauseEv *e = &t->rare->pev[t->rare->n_pev - 1];
                e->overdue = (uint8_t)(f >> 1 & 3);
                e->n = (uint16_t)(f >> 3 & 0xffff);
                e->round = (uint16_t)(f >> 19 & 0xffff);
            }
        } else {
            /* an interval: its paused, and its resumed when it ended */
            nomem = add_pause_ev(t, a, false, TU_NEVER, false) < 0 ||
                    (b != TU_NEVER && add_pause_ev(t, b, false, 0, true) < 0);
        }
    }
    if (nomem || rebuild_pauses(t) < 0) {
        tkt_free(t);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    t->escalated_rounds = (uint32_t)rd_u(&r);
    for (int i = 0; i < 8; i++) {
        int64_t at = rd_time(&r, base);
        if (at && !set_escalated_at(t, i + 1, at)) {
            tkt_free(t);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
    }
    if (version >= 2) {
        uint64_t amount = rd_u(&r);
        memcpy(&t->claim_amount, &amount, sizeof amount);
        t->complainants = (int32_t)rd_u(&r);
        uint64_t f = rd_u(&r);
        t->injury = f & 1, t->vip = f >> 1 & 1, t->executive = f >> 2 & 1, t->invalid = f >> 3 & 1;
        t->major_because = (uint8_t)rd_u(&r);
        t->invalid_at = tu32_of(rd_time(&r, base));
        t->last_cf = tu32_of(rd_time(&r, base));
        t->prog_n = (uint16_t)rd_u(&r);
        t->prog_state = (uint8_t)rd_u(&r);
        t->prog_at = tu32_of(rd_time(&r, base));
        t->resp_count = (uint8_t)rd_u(&r);
        t->resp_firing = (uint16_t)rd_u(&r);
        t->resp_done = (uint16_t)rd_u(&r);
        t->review_state = (uint8_t)rd_u(&r);
        t->review_suggest = (int8_t)rd_s(&r);
        t->review_due = tu32_of(rd_time(&r, base));
        t->review_at = tu32_of(rd_time(&r, base));
        if (t->claim_amount != t->claim_amount) /* NaN from a corrupt snapshot */
            t->claim_amount = -1;
    } else if (t->major) {
        t->major_because = MB_FLAG;
    }
    /* before version 3 the key's category was not kept: the current one */
    uint64_t icat = version >= 3 ? rd_u(&r) : t->category;
    if (icat >= CAT__COUNT)
        r.bad = true;
    t->issue_category = (uint8_t)icat;
    int64_t cat_at = version >= 4 ? rd_time(&r, base) : 0;
    if (cat_at && !r.bad) {
        TktRare *x = rare_of(t);
        if (!x) {
            tkt_free(t);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
        x->category_at = tu32_of(cat_at);
    }
    uint64_t il = rd_u(&r);
    if (!r.bad && il > 0) {
        uint32_t room = il <= r.n - r.i ? strs_room(t->strs_len + il) : 0;
        if (!room || r.p[r.i + il - 1] != '\0') {
            r.bad = true;
        } else {
            char *blk = realloc(t->strs, room);
            if (!blk) {
                tkt_free(t);
                err_set(err, errlen, "out of memory");
                return NULL;
            }
            memcpy(blk + t->strs_len, r.p + r.i, il);
            t->strs = blk;
            t->strs_len += (uint32_t)il;
            r.i += il;
        }
    }
    if (r.bad || r.i != r.n) {
        tkt_free(t);
        err_set(err, errlen, "ticket state: truncated or corrupt");
        return NULL;
    }
    return t;
}

/* ---- the JSON state of migration 001, for upgrades ---------------------- */

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

static const char *get_str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

Ticket *tkt_from_json(const json_t *o, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, "channel");
    int ch = json_is_string(v) ? evt_channel_from_name(json_string_value(v)) : -1;
    v = json_object_get(o, "category");
    int cat = json_is_string(v) ? evt_category_from_name(json_string_value(v)) : -1;
    const json_t *tgs = json_object_get(o, "targets");
    if (!json_is_object(o) || !get_str(o, "id")[0] || ch < 0 || cat < 0 || !json_is_array(tgs) ||
        json_array_size(tgs) != STG__COUNT) {
        err_set(err, errlen, "ticket state is incomplete");
        return NULL;
    }
    Ticket *t = tkt_blank(get_str(o, "id"));
    const json_t *r = json_object_get(o, "responsible");
    const char *vals[TS__COUNT] = {
        [TS_WAYBILL] = get_str(o, "waybill"),
        [TS_SITE] = get_str(o, "site"),
        [TS_REGION] = get_str(o, "region"),
        [TS_CUSTOMER_REF] = get_str(o, "customer_ref"),
        [TS_PREVIOUS_TICKET_ID] = get_str(o, "previous_ticket_id"),
        [TS_ISSUE_SITE] = get_str(o, "issue_site"),
        [TS_RESP_SITE] = json_is_object(r) ? get_str(r, "site") : "",
        [TS_RESP_RULE] = json_is_object(r) ? get_str(r, "rule") : "",
    };
    if (!t || set_strs(t, ((1u << TS__COUNT) - 1) & ~1u, vals) < 0) {
        tkt_free(t);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    t->resp_role = (int8_t)(json_is_object(r) ? get_int(r, "role") : -1);
    t->channel = (uint8_t)ch;
    t->category = t->issue_category = (uint8_t)cat;
    t->claim = json_is_true(json_object_get(o, "claim"));
    t->major = json_is_true(json_object_get(o, "major"));
    t->round = (int)get_int(o, "round");
    if (t->round < 1)
        t->round = 1;
    t->received_at = tu32_of(get_int(o, "received_at"));
    t->round_start = tu32_of(get_int(o, "round_start"));
    for (int s = 0; s < STG__COUNT; s++) {
        const json_t *x = json_array_get(tgs, (size_t)s);
        Target *tg = &t->tg[s];
        tg->deadline = tu32_of(get_time(x, "deadline"));
        tg->warn_at = tu32_of(get_time(x, "warn_at"));
        tg->done = json_is_true(json_object_get(x, "done"));
        tg->done_at = tu32_of(get_int(x, "done_at"));
        tg->warn_state = (uint8_t)get_int(x, "warn_state");
        tg->breach_state = (uint8_t)get_int(x, "breach_state");
        tg->warn_fired_deadline = tu32_of(get_time(x, "warn_fired_deadline"));
        tg->warn_condition_at = tu32_of(get_int(x, "warn_condition_at"));
        tg->breach_deadline = tu32_of(get_time(x, "breach_deadline"));
    }
    t->urgent = json_is_true(json_object_get(o, "urgent"));
    t->reasons = (uint8_t)get_int(o, "reasons");
    t->urgent_at = tu32_of(get_int(o, "urgent_at"));
    t->closed = json_is_true(json_object_get(o, "closed"));
    t->closed_at = tu32_of(get_int(o, "closed_at"));
    t->last_resolved_at = tu32_of(get_int(o, "last_resolved_at"));
    const json_t *ps = json_object_get(o, "pauses");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        const json_t *pr = json_array_get(ps, i);
        const json_t *a = json_array_get(pr, 0), *b = json_array_get(pr, 1);
        if (add_pause_ev(t, json_is_integer(a) ? json_integer_value(a) : 0, false, TU_NEVER, false) < 0 ||
            (json_is_integer(b) && add_pause_ev(t, json_integer_value(b), false, 0, true) < 0)) {
            tkt_free(t);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
    }
    if (rebuild_pauses(t) < 0) {
        tkt_free(t);
        err_set(err, errlen, "out of memory");
        return NULL;
    }
    const json_t *ext = json_object_get(o, "ext");
    for (int s = 0; s < STG__COUNT; s++) {
        const json_t *e = json_array_get(ext, (size_t)s);
        int32_t secs = (int32_t)(json_is_integer(e) ? json_integer_value(e) : 0);
        if (secs && !set_ext(t, (Stage)s, secs)) {
            tkt_free(t);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
    }
    t->escalated_rounds = (uint32_t)get_int(o, "escalated_rounds");
    const json_t *ea = json_object_get(o, "escalated_at");
    for (int i = 0; i < 8; i++) {
        const json_t *e = json_array_get(ea, (size_t)i);
        int64_t at = json_is_integer(e) ? json_integer_value(e) : 0;
        if (at && !set_escalated_at(t, i + 1, at)) {
            tkt_free(t);
            err_set(err, errlen, "out of memory");
            return NULL;
        }
    }
    t->repeat_firing = json_is_true(json_object_get(o, "repeat_firing"));
    t->repeat_at = tu32_of(get_int(o, "repeat_at"));
    for (int s = 0; s < STG__COUNT; s++) {
        t->tg[s].warn_n = t->tg[s].warn_state != AST_NONE;
        t->tg[s].breach_n = t->tg[s].breach_state != AST_NONE;
    }
    if (t->major)
        t->major_because = MB_FLAG;
    return t;
}
