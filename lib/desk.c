/* desk: tickets, deadlines and the rules across tickets and parcels; see
 * desk.h and docs/architecture.md. */
#include "desk.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "bloom.h"
#include "bulk.h"
#include "htab.h"
#include "repeat.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"

/* One bulk issue key (category, site) with its episode-end timer. */
typedef struct BulkKey {
    ThNode node; /* first */
    BulkWin *w;
    Category category;
    char site[EVT_SITE_MAX + 1];
} BulkKey;

/* An event waiting for its ticket's `received`. */
typedef struct Held {
    ComplaintEvent ev;
    int64_t held_since; /* processing time */
    char *topic;
    int32_t partition;
    int64_t offset;
    char *payload;
    size_t len;
} Held;

/* The held events of one ticket, with the timer of the oldest. */
typedef struct HeldList {
    ThNode node; /* first */
    char *ticket_id;
    Held **v;
    size_t n;
} HeldList;

struct Desk {
    Policy *policy;
    HTab tickets;           /* by id, read through the ticket */
    HIdx ids;               /* every event id the tickets in memory recorded -> its ticket */
    THeap heap;             /* ticket deadlines: Ticket.node */
    StrMap *held;           /* ticket_id -> HeldList */
    HIdx held_ids;          /* event id -> its Held */
    THeap held_heap;        /* hold expiry, processing time */
    RepeatIndex *repeat;    /* tickets by waybill and by customer_ref + category */
    StrMap *bulk;           /* category/site -> BulkKey */
    THeap bulk_heap;        /* bulk episode ends */
    ParcelSet *parcels;     /* latest scan and stall deadline of every parcel */
    Acct *acct;             /* site accountability (§12.8) */
    Bloom *gone;            /* ids of tickets stored but not in memory (§12.2) */
    char *lookup;           /* the ticket whose row the caller is fetching (DESK_LOOKUP) */
    char *absent;           /* the last ticket looked up and not found: not asked for again */
    AcctAlertList acct_out; /* scratch: what acct fired, before it becomes Alerts */
    size_t n_held;          /* held events (in every HeldList) */
    uint32_t gen;           /* the last generation handed to an Effects */
    int64_t folded;         /* a ticket with unfolded above this is not evicted */
    /* A policy reload in progress: the tickets still to recompute, then
     * the parcels' stall timers when stall_after changed; the tickets'
     * 12.7 reviews are looked at again when loss_after changed. */
    bool recompute;
    size_t recompute_iter;
    bool rearm_parcels, review_again;
    uint32_t rearm_iter;
};

/* Complaints up to this much older than the clock when they are applied
 * still count in their site accountability month and window (a month, the
 * longest there is); older ones never do. The counts keep complaints for
 * this long and an accountability_window more, as for bulk below. */
#define ACCT_LATE_HORIZON (31 * 24 * 3600)
/* Complaints up to this much older than the clock when they are applied
 * still count in their bulk windows; older ones never do. Windows keep
 * their complaints for this long and a bulk_window more (the reach of a
 * window of the oldest that still counts): desk_housekeep forgets the
 * older ones, and a start does not load them, which changes nothing, so
 * that when that happens cannot change an alert. */
#define BULK_LATE_HORIZON (24 * 3600)
/* A `received` up to this much older than the clock still finds the earlier
 * ticket of its repeat (§7) in memory, however long ago the closed tickets
 * of the look-back were swept: they stay this much longer. */
#define REPEAT_LATE_HORIZON (24 * 3600)
/* The most effects one ticket's deadline can add: a warning and a breach
 * for each stage, an overdue pause, a progress and a response lapse, the
 * delay/loss review, and its row. */
#define FIRE_ITEM_MAX (2 * STG__COUNT + 4 + 1)
/* Parcels re-armed in one step after stall_after changed. */
#define REARM_SLICE 65536
/* The most site accountability alerts one complaint fires: its month, and
 * a total for each month of the window it completes (a late complaint). */
#define ACCT_EVENT_MAX 14

static int touch(Desk *d, Ticket *t, Effects *out);

static uint64_t ticket_hash(const void *item)
{
    return ht_hash_str(tkt_id((const Ticket *)item), 0);
}

static bool ticket_match(const void *item, const void *key)
{
    return strcmp(tkt_id((const Ticket *)item), key) == 0;
}

static Ticket *find_ticket(const Desk *d, const char *id)
{
    return ht_get(&d->tickets, ht_hash_str(id, 0), ticket_match, id);
}

/* Whether a ticket in memory recorded this event id (h its hash). Contract
 * §2 makes an event id globally unique: a copy under another ticket is a
 * duplicate too. */
static bool id_recorded(const Desk *d, const char *event_id, uint64_t h)
{
    size_t pos = SIZE_MAX;
    for (const Ticket *t; (t = hx_next(&d->ids, h, &pos));)
        if (tkt_seen(t, event_id))
            return true;
    return false;
}

/* Whether an event held for its ticket has this id, whichever the ticket. */
static bool id_held(const Desk *d, const char *event_id, uint64_t h)
{
    size_t pos = SIZE_MAX;
    for (const Held *x; (x = hx_next(&d->held_ids, h, &pos));)
        if (strcmp(x->ev.event_id, event_id) == 0)
            return true;
    return false;
}

/* Indexes every event id a ticket recorded; -1 when out of memory. */
static int index_ids(Desk *d, Ticket *t)
{
    uint32_t len;
    const char *ids = tkt_event_ids(t, &len);
    for (uint32_t i = 0; i < len; i += (uint32_t)strlen(ids + i) + 1)
        if (hx_add(&d->ids, ht_hash_str(ids + i, 0), t) < 0)
            return -1;
    return 0;
}

/* Takes every id of a ticket that leaves memory out of the index: none may
 * point at it once it is freed. */
static void unindex_ids(Desk *d, const Ticket *t)
{
    uint32_t len;
    const char *ids = tkt_event_ids(t, &len);
    for (uint32_t i = 0; i < len; i += (uint32_t)strlen(ids + i) + 1)
        hx_remove(&d->ids, ht_hash_str(ids + i, 0), t);
}

/* Lists t in out once (as changed throughout when `full`, else only its
 * alert states: its snapshot) and re-arms its deadline. */
static int touch_as(Desk *d, Ticket *t, Effects *out, bool full)
{
    if (out->gen == 0) {
        if (++d->gen == 0) /* 0 means "no generation" */
            d->gen = 1;
        out->gen = d->gen;
    }
    if (t->eff_gen != out->gen) {
        if (eff_ticket(out, t, full) < 0)
            return -1;
        t->eff_gen = out->gen;
        t->eff_index = (uint32_t)(out->n_tickets - 1);
    } else if (full) {
        out->ticket_full[t->eff_index] = true;
    }
    int64_t due = tkt_next_due_p(t, d->policy);
    if (due == TU_NEVER) {
        th_remove(&d->heap, &t->node);
        return 0;
    }
    return th_set(&d->heap, &t->node, due);
}

static int touch(Desk *d, Ticket *t, Effects *out)
{
    return touch_as(d, t, out, true);
}

static bool alerts_failed(const Effects *out)
{
    return out->alerts.failed;
}

/* ---- lifecycle ---------------------------------------------------------- */

Desk *desk_new(Policy *p)
{
    Desk *d = calloc(1, sizeof *d);
    if (!d) {
        pol_free(p);
        return NULL;
    }
    d->policy = p;
    ht_init(&d->tickets, ticket_hash);
    d->held = sm_new();
    d->repeat = rpt_new();
    d->bulk = sm_new();
    d->parcels = ps_new();
    d->acct = acct_new();
    d->gone = bloom_new(1 << 16);
    th_init(&d->heap);
    th_init(&d->held_heap);
    th_init(&d->bulk_heap);
    if (!p || !d->held || !d->repeat || !d->bulk || !d->parcels || !d->acct || !d->gone) {
        desk_free(d);
        return NULL;
    }
    return d;
}

static void held_free(Held *h)
{
    free(h->topic);
    free(h->payload);
    free(h);
}

static void unhold(Desk *d, Held *h)
{
    hx_remove(&d->held_ids, ht_hash_str(h->ev.event_id, 0), h);
    held_free(h);
}

static void held_list_free(HeldList *l)
{
    for (size_t i = 0; i < l->n; i++)
        held_free(l->v[i]);
    free(l->v);
    free(l->ticket_id);
    free(l);
}

void desk_free(Desk *d)
{
    if (!d)
        return;
    const char *k;
    void *v;
    /* The heaps point into what the maps own: empty them first. */
    th_free(&d->heap);
    th_free(&d->held_heap);
    th_free(&d->bulk_heap);
    rpt_free(d->repeat);
    for (size_t i = 0; (v = ht_each(&d->tickets, &i));)
        tkt_free(v);
    ht_free(&d->tickets);
    hx_free(&d->ids);
    hx_free(&d->held_ids);
    if (d->held) {
        for (size_t it = 0; sm_next(d->held, &it, &k, &v);)
            held_list_free(v);
        sm_free(d->held);
    }
    if (d->bulk) {
        for (size_t it = 0; sm_next(d->bulk, &it, &k, &v);) {
            BulkKey *bk = v;
            bulk_free(bk->w);
            free(bk);
        }
        sm_free(d->bulk);
    }
    ps_free(d->parcels);
    acct_free(d->acct);
    acct_alert_list_free(&d->acct_out);
    bloom_free(d->gone);
    free(d->lookup);
    free(d->absent);

    pol_free(d->policy);
    free(d);
}

const Policy *desk_policy(const Desk *d)
{
    return d->policy;
}

int64_t desk_keep_closed_since(const Desk *d, int64_t now)
{
    return tu_add_sat(now, -(d->policy->repeat_lookback + REPEAT_LATE_HORIZON));
}

size_t desk_event_effects_max(const Desk *d)
{
    /* The event and its ticket, every alert of the ticket, an escalation, a
     * repeat, a bulk alert, the tickets a starting bulk episode makes
     * urgent, and site accountability. */
    int th = d->policy->bulk_threshold > 0 ? d->policy->bulk_threshold : 1;
    return 8 + FIRE_ITEM_MAX + (size_t)th + ACCT_EVENT_MAX;
}

/* ---- bulk complaints (contract §7) -------------------------------------- */

static int bulk_alert(Effects *out, const BulkKey *bk, AlertStatus st, const BulkEpisode *ep, int64_t resolved_at)
{
    Alert a;
    alert_init(&a, AL_BULK_COMPLAINT, st);
    a.category = (int)bk->category;
    snprintf(a.site, sizeof a.site, "%s", bk->site);
    a.count = ep->count;
    a.window_start = ep->window_start;
    a.window_end = ep->window_end;
    a.condition_at = ep->condition_at;
    a.resolved_at = resolved_at;
    a.ticket_ids = calloc(ep->n_ids ? ep->n_ids : 1, sizeof *a.ticket_ids);
    if (!a.ticket_ids)
        return -1;
    for (size_t i = 0; i < ep->n_ids; i++) {
        if (!(a.ticket_ids[a.n_ticket_ids] = strdup(ep->ids[i]))) {
            alert_clear(&a);
            return -1;
        }
        a.n_ticket_ids++;
    }
    alert_make_id(&a);
    return alert_list_push(&out->alerts, &a) ? 0 : -1;
}

static int bulk_end_episode(Desk *d, BulkKey *bk, int64_t at, Effects *out);

/* Schedules the end of the key's episode, if one runs. With at_once, an
 * end already due (the count at the clock is below the threshold) is not
 * scheduled but taken now, with the event being applied, instead of
 * waiting for a later event as a deadline does in event mode. */
static int bulk_rearm(Desk *d, BulkKey *bk, int64_t now, bool at_once, Effects *out)
{
    int64_t due = bulk_end_at(bk->w, d->policy->bulk_threshold, d->policy->bulk_window, now);
    if (due == TU_NEVER) {
        th_remove(&d->bulk_heap, &bk->node);
        return 0;
    }
    if (at_once && due == now)
        return bulk_end_episode(d, bk, now, out);
    return th_set(&d->bulk_heap, &bk->node, due);
}

static BulkKey *bulk_key(Desk *d, Category cat, const char *site)
{
    char k[EVT_SITE_MAX + 32];
    snprintf(k, sizeof k, "%s/%s", evt_category_name(cat), site);
    BulkKey *bk = sm_get(d->bulk, k);
    if (bk)
        return bk;
    if (!(bk = calloc(1, sizeof *bk)))
        return NULL;
    if (!(bk->w = bulk_new()) || sm_put(d->bulk, k, bk) < 0) {
        bulk_free(bk->w);
        free(bk);
        return NULL;
    }
    th_node_init(&bk->node);
    bk->category = cat;
    snprintf(bk->site, sizeof bk->site, "%s", site);
    return bk;
}

/* Counts a new ticket in its issue key's window. */
static int bulk_count(Desk *d, Ticket *t, int64_t now, Effects *out)
{
    if (!tkt_issue_site(t)[0] || tu32_get(t->received_at) < tu_add_sat(now, -BULK_LATE_HORIZON))
        return 0;
    const Policy *p = d->policy;
    BulkKey *bk = bulk_key(d, (Category)t->issue_category, tkt_issue_site(t));
    BulkOutcome oc;
    BulkEpisode ep;
    if (!bk || bulk_add(bk->w, tu32_get(t->received_at), tkt_id(t), p->bulk_threshold, p->bulk_window, &oc, &ep) < 0)
        return -1;
    if (oc == BULK_STARTED) {
        if (bulk_alert(out, bk, AS_FIRING, &ep, 0) < 0)
            return -1;
        for (size_t i = 0; i < ep.n_ids; i++) {
            Ticket *m = find_ticket(d, ep.ids[i]);
            if (m && tkt_open(m)) {
                tkt_make_urgent(m, RSN_BULK, ep.condition_at, p, now, &out->alerts);
                if (touch(d, m, out) < 0)
                    return -1;
            }
        }
    } else if (oc == BULK_JOINED) {
        int64_t at = tu32_get(t->received_at) > ep.condition_at ? tu32_get(t->received_at) : ep.condition_at;
        tkt_make_urgent(t, RSN_BULK, at, p, now, &out->alerts);
        if (touch(d, t, out) < 0)
            return -1;
    }
    /* A late complaint (dated before the clock) that leaves the episode's
     * count below the threshold at the clock, most often the one that made
     * a burst long past, ends it now, as a late event's passed deadlines
     * fire at once. */
    return bulk_rearm(d, bk, now, tu32_get(t->received_at) < now, out);
}

/* Takes an invalid ticket out of its issue key's count (§12.6): under the
 * key it was counted in (a ticket loaded from a snapshot older than
 * issue_category may have been counted under a category since changed: then
 * any key of its site that holds it). A count that falls below the threshold
 * with it resolves the episode with this event, as a completion resolves its
 * warning: in event mode too, where a deadline would wait for a later event. */
static int bulk_uncount(Desk *d, const Ticket *t, int64_t now, Effects *out)
{
    /* a complaint older than what windows keep has no say in any window
     * that can change, whether it is still there or not */
    if (!tkt_issue_site(t)[0] ||
        tu32_get(t->received_at) < tu_add_sat(now, -(BULK_LATE_HORIZON + d->policy->bulk_window)))
        return 0;
    char k[EVT_SITE_MAX + 32];
    snprintf(k, sizeof k, "%s/%s", evt_category_name((Category)t->issue_category), tkt_issue_site(t));
    BulkKey *bk = sm_get(d->bulk, k);
    if (!bk || !bulk_remove(bk->w, tkt_id(t))) {
        const char *key;
        void *v;
        bk = NULL;
        for (size_t it = 0; !bk && sm_next(d->bulk, &it, &key, &v);)
            if (strcmp(((BulkKey *)v)->site, tkt_issue_site(t)) == 0 && bulk_remove(((BulkKey *)v)->w, tkt_id(t)))
                bk = v;
    }
    if (!bk)
        return 0;
    return bulk_rearm(d, bk, now, true, out);
}

static int bulk_end_episode(Desk *d, BulkKey *bk, int64_t at, Effects *out)
{
    BulkEpisode ep;
    bulk_end(bk->w, at, d->policy->bulk_window, &ep);
    th_remove(&d->bulk_heap, &bk->node);
    return bulk_alert(out, bk, AS_RESOLVED, &ep, at);
}

/* ---- indicators (§12.9) -------------------------------------------------- */

static int indic(const Desk *d, Effects *out, int64_t at, const Ticket *t, IndField f, int delta)
{
    return indic_add(&out->indic, at, cal_utc_offset(d->policy->cal), t->category, tkt_site(t), f, delta);
}

/* A count of the day of receipt (received, repeats, invalid), filed under
 * the issue key the complaint was received with (its category then, and its
 * site or its parcel's latest scan's), whatever was reclassified since: an
 * invalid finding lands in the row that counted the complaint. */
static int indic_received(const Desk *d, Effects *out, const Ticket *t, IndField f, int delta)
{
    return indic_add(&out->indic, tu32_get(t->received_at), cal_utc_offset(d->policy->cal), (Category)t->issue_category,
                     tkt_issue_site(t), f, delta);
}

/* Breaches fired since alert `from` of out, by stage, less those retracted:
 * a breach that turned out met was no breach. A retraction carries its
 * firing's condition_at, so it lands on the firing's day. */
static int indic_breaches(const Desk *d, Effects *out, size_t from)
{
    for (size_t i = from; i < out->alerts.n; i++) {
        const Alert *a = &out->alerts.v[i];
        /* a breach retracted (met after all) or ended by its deadline moving
         * past now (§12.1: a pause, extension or reclassification) is taken
         * back on its firing's day; a /2 that fires after counts again */
        bool back = a->status == AS_RETRACTED || (a->status == AS_RESOLVED && a->moved);
        if (a->type != AL_SLA_BREACH || (a->status != AS_FIRING && !back) || a->stage < 0 || a->stage >= STG__COUNT ||
            a->category < 0)
            continue;
        if (indic_add(&out->indic, a->condition_at, cal_utc_offset(d->policy->cal), (Category)a->category, a->site,
                      (IndField)(IND_BREACH_CONTACT + a->stage), back ? -1 : 1) < 0)
            return -1;
    }
    return 0;
}

/* What one applied event counts (resolved, revisits; validity), from the
 * ticket before (round, resolve done and its deadline) and after it. */
static int indic_event(const Desk *d, Effects *out, const Ticket *t, const ComplaintEvent *ev, int round_before,
                       bool resolve_done_before, int64_t resolve_deadline, bool was_valid)
{
    /* a repeat counts as one while its complaint is valid: repeat rate =
     * repeats ÷ valid received (§12.9) */
    int found = was_valid && !tkt_valid(t) ? 1 : !was_valid && tkt_valid(t) ? -1 : 0;
    if (found && (indic_received(d, out, t, IND_INVALID, found) < 0 ||
                  (tkt_previous_ticket_id(t)[0] && indic_received(d, out, t, IND_REPEATS, -found) < 0)))
        return -1;
    if (!tkt_valid(t))
        return 0;
    if (ev->type == CT_RESOLVED && round_before == 1 && !resolve_done_before) {
        if (indic(d, out, ev->occurred_at, t, IND_RESOLVED, 1) < 0 ||
            (ev->occurred_at <= resolve_deadline && indic(d, out, ev->occurred_at, t, IND_ON_TIME, 1) < 0))
            return -1;
    } else if (ev->type == CT_REVISIT) {
        if (indic(d, out, ev->occurred_at, t, IND_REVISITS, 1) < 0 ||
            indic(d, out, ev->occurred_at, t, ev->satisfied ? IND_SATISFIED : IND_REOPENED, 1) < 0)
            return -1;
    }
    return 0;
}

/* ---- site accountability (§12.8) ----------------------------------------- */

/* Moves what acct fired into out as alerts. */
static int acct_flush(Desk *d, Effects *out)
{
    int rc = d->acct_out.failed ? -1 : 0;
    for (size_t i = 0; i < d->acct_out.n; i++) {
        AcctAlert *x = &d->acct_out.v[i];
        Alert a;
        alert_init(&a, AL_SITE_ACCOUNTABILITY, x->status);
        snprintf(a.site, sizeof a.site, "%s", x->site);
        a.year = x->year;
        a.month = x->month;
        a.total = x->total;
        a.count = x->count;
        a.ticket_ids = x->ticket_ids; /* moved */
        a.n_ticket_ids = x->n_ticket_ids;
        x->ticket_ids = NULL;
        x->n_ticket_ids = 0;
        a.condition_at = x->condition_at;
        a.resolved_at = x->resolved_at;
        alert_make_id(&a);
        if (!alert_list_push(&out->alerts, &a))
            rc = -1;
    }
    acct_alert_list_reset(&d->acct_out);
    return rc;
}

static int acct_count(Desk *d, const Ticket *t, const char *site, int64_t now, Effects *out)
{
    const Policy *p = d->policy;
    if (tu32_get(t->received_at) < tu_add_sat(now, -ACCT_LATE_HORIZON))
        return 0;
    if (acct_add(d->acct, site, tkt_id(t), tu32_get(t->received_at), cal_utc_offset(p->cal), p->accountability_month,
                 p->accountability_total, p->accountability_window, &d->acct_out) < 0) {
        acct_alert_list_reset(&d->acct_out);
        return -1;
    }
    return acct_flush(d, out);
}

/* A ticket's standing changed (validity, site or responsibility): it counts
 * against its current site when valid, and no longer against the one it was
 * counted under before (`old_site`, NULL when it was not counted). */
static int acct_follow(Desk *d, const Ticket *t, const char *old_site, int64_t now, Effects *out)
{
    const char *now_site = tkt_acct_site(t);
    if (old_site && now_site && strcmp(old_site, now_site) == 0)
        return 0;
    /* one older than what the counts keep has no say, kept or not */
    if (old_site &&
        tu32_get(t->received_at) >= tu_add_sat(now, -(d->policy->accountability_window + ACCT_LATE_HORIZON)))
        acct_remove(d->acct, old_site, tkt_id(t));
    return now_site ? acct_count(d, t, now_site, now, out) : 0;
}

/* ---- parcels (contract §8) ---------------------------------------------- */

/* A parcel's latest scan as the ticket rules see it at `now`. A parcel
 * signed longer than the look-back ago is forgotten: desk_housekeep drops
 * it from memory hourly, and this keeps the answer from depending on when
 * that last ran (or whether the daemon restarted since), so that a replay
 * gives what the live run gave. */
static bool parcel_seen(const Desk *d, const char *waybill, int64_t now, LatestScan *ls)
{
    return waybill[0] && ps_latest(d->parcels, waybill, ls) &&
           !(ls->type == SCAN_SIGNED && ls->at < tu_add_sat(now, -d->policy->repeat_lookback));
}

/* Responsibility of a loss or delay ticket from its parcel's latest scan:
 * 1 when it changed, 0 when not, -1 when out of memory. */
static int update_responsible(Desk *d, Ticket *t, int64_t now)
{
    if (t->category != CAT_LOSS && t->category != CAT_DELAY)
        return 0;
    LatestScan ls;
    bool known = parcel_seen(d, tkt_waybill(t), now, &ls);
    Responsible r;
    scan_responsible(known ? &ls : NULL, tkt_site(t), &r);
    if (tkt_responsible_known(t) && strcmp(tkt_resp_site(t), r.site) == 0 && t->resp_role == r.role &&
        strcmp(tkt_resp_rule(t), r.rule) == 0)
        return 0;
    return tkt_set_responsible(t, &r) < 0 ? -1 : 1;
}

/* §12.7: the delay/loss review of a ticket from its parcel's pickup and
 * signature. */
static int review(Desk *d, Ticket *t, int64_t now, Effects *out)
{
    if (!tkt_waybill(t)[0] || !tkt_open(t))
        return 0;
    LatestScan ls;
    bool known = parcel_seen(d, tkt_waybill(t), now, &ls);
    tkt_review(t, known ? ls.pickup : 0, known && ls.type == SCAN_SIGNED, d->policy, now, &out->alerts);
    return alerts_failed(out) ? -1 : 0;
}

static int stall_alert(Desk *d, const char *waybill, AlertStatus st, const LatestScan *ls, int64_t last_at,
                       int64_t resolved_at, Effects *out)
{
    Alert a;
    alert_init(&a, AL_PARCEL_STALLED, st);
    snprintf(a.waybill, sizeof a.waybill, "%s", waybill);
    a.last_scan_at = last_at;
    a.condition_at = last_at + d->policy->stall_after;
    a.resolved_at = resolved_at;
    if (ls) {
        a.last_scan_type = (int)ls->type;
        snprintf(a.last_scan_site, sizeof a.last_scan_site, "%s", ls->site ? ls->site : "");
        scan_responsible(ls, NULL, &a.responsible);
        snprintf(a.site, sizeof a.site, "%s", ls->site ? ls->site : "");
    }
    alert_make_id(&a);
    return alert_list_push(&out->alerts, &a) ? 0 : -1;
}

static int fire_stall(Desk *d, Parcel *p, Effects *out)
{
    LatestScan ls;
    ps_parcel_latest(d->parcels, p, &ls);
    ps_mark_stalled(d->parcels, p);
    return stall_alert(d, ps_waybill(d->parcels, p), AS_FIRING, &ls, ls.at, 0, out);
}

static int by_received(const void *a, const void *b)
{
    const Ticket *x = *(Ticket *const *)a, *y = *(Ticket *const *)b;
    int64_t tx = tu32_get(x->received_at), ty = tu32_get(y->received_at);
    return tx != ty ? (tx < ty ? -1 : 1) : strcmp(tkt_id(x), tkt_id(y));
}

/* The open tickets of a waybill, by received time then id (malloc'd; *n
 * of them; NULL with *n = 0 when none), so that what a scan does to
 * several tickets comes out alike in a replay whatever the index's order. */
static Ticket **waybill_tickets(const Desk *d, const char *waybill, size_t *n, bool *failed)
{
    Ticket **v = NULL;
    size_t cap = 0;
    *n = 0;
    *failed = false;
    size_t pos = SIZE_MAX;
    for (Ticket *t; (t = rpt_next_by_waybill(d->repeat, waybill, &pos));) {
        if (!tkt_open(t))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            Ticket **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                *n = 0;
                *failed = true;
                return NULL;
            }
            v = nv;
        }
        v[(*n)++] = t;
    }
    if (*n > 1)
        qsort(v, *n, sizeof *v, by_received);
    return v;
}

static int apply_scan(Desk *d, const ScanEvent *sc, const DeskSource *src, int64_t now, Effects *out)
{
    LatestScan before;
    bool known = ps_latest(d->parcels, sc->waybill, &before);
    /* contract §3: the event_id is the idempotency key; the latest scan of
     * its parcel sent again (or another scan under its id) changes nothing
     * and is not stored */
    if (known && ps_latest_id_is(&before, sc)) {
        out->n_duplicates++;
        return 0;
    }
    if (eff_scan(out, sc, src->topic, src->partition, src->offset) < 0)
        return -1;
    PsResult res;
    bool was_stalled = false;
    int64_t prev_at = 0;
    int64_t pickup_before = known ? before.pickup : 0;
    if (ps_apply(d->parcels, sc, d->policy->stall_after, &res, &was_stalled, &prev_at) < 0)
        return -1;
    LatestScan after;
    ps_latest(d->parcels, sc->waybill, &after);
    /* A new pickup time or a signature: the tickets of the parcel are reviewed. */
    bool reviewing = after.pickup != pickup_before || (res == PS_LATEST && sc->scan_type == SCAN_SIGNED);
    if (res != PS_LATEST && !reviewing)
        return 0;
    /* the resolved stall names the scan it was about, as its firing did */
    if (res == PS_LATEST && was_stalled &&
        stall_alert(d, sc->waybill, AS_RESOLVED, &before, prev_at, sc->occurred_at, out) < 0)
        return -1;
    size_t n;
    bool failed;
    Ticket **v = waybill_tickets(d, sc->waybill, &n, &failed);
    if (failed)
        return -1;
    int rc = 0;
    /* Open loss/delay tickets of this parcel follow its scan chain, one by
     * one in the order of their received; then they are reviewed, so that a
     * review's alert carries the responsibility this scan gives. */
    for (size_t i = 0; res == PS_LATEST && rc == 0 && i < n; i++) {
        Ticket *t = v[i];
        char old[EVT_SITE_MAX + 1];
        const char *o = tkt_acct_site(t);
        if (o)
            snprintf(old, sizeof old, "%s", o);
        int changed = update_responsible(d, t, now);
        if (changed < 0 || (changed && (acct_follow(d, t, o ? old : NULL, now, out) < 0 || touch(d, t, out) < 0)))
            rc = -1;
    }
    for (size_t i = 0; reviewing && rc == 0 && i < n; i++)
        if (review(d, v[i], now, out) < 0 || touch_as(d, v[i], out, false) < 0)
            rc = -1;
    free(v);
    return rc;
}

/* ---- held events (contract §4) ------------------------------------------ */

static int held_rearm(Desk *d, HeldList *l)
{
    int64_t oldest = TU_NEVER;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i]->held_since < oldest)
            oldest = l->v[i]->held_since;
    if (oldest == TU_NEVER) {
        th_remove(&d->held_heap, &l->node);
        return 0;
    }
    return th_set(&d->held_heap, &l->node, tu_add_sat(oldest, d->policy->hold_timeout));
}

static int hold(Desk *d, const ComplaintEvent *ev, const DeskSource *src, int64_t held_since)
{
    HeldList *l = sm_get(d->held, ev->ticket_id);
    if (!l) {
        if (!(l = calloc(1, sizeof *l)))
            return -1;
        th_node_init(&l->node);
        if (!(l->ticket_id = strdup(ev->ticket_id)) || sm_put(d->held, ev->ticket_id, l) < 0) {
            free(l->ticket_id);
            free(l);
            return -1;
        }
    }
    Held *h = calloc(1, sizeof *h);
    Held **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!h || !v) {
        free(h);
        return -1;
    }
    l->v = v;
    h->ev = *ev;
    h->held_since = held_since;
    h->topic = strdup(src->topic);
    h->partition = src->partition;
    h->offset = src->offset;
    h->payload = malloc(src->len + 1);
    h->len = src->len;
    if (!h->topic || !h->payload) {
        held_free(h);
        return -1;
    }
    memcpy(h->payload, src->payload, src->len);
    h->payload[src->len] = '\0';
    if (hx_add(&d->held_ids, ht_hash_str(ev->event_id, 0), h) < 0) {
        held_free(h);
        return -1;
    }
    l->v[l->n++] = h;
    d->n_held++;
    return held_rearm(d, l);
}

static int cmp_held(const void *a, const void *b)
{
    const Held *x = *(Held *const *)a, *y = *(Held *const *)b;
    if (x->ev.occurred_at != y->ev.occurred_at)
        return x->ev.occurred_at < y->ev.occurred_at ? -1 : 1;
    /* same time: arrival order */
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return 0;
}

int64_t desk_next_hold_expiry(const Desk *d)
{
    ThNode *n = th_peek(&d->held_heap);
    return n ? n->due : TU_NEVER;
}

bool desk_held_over(const Desk *d)
{
    return d->n_held > (size_t)d->policy->hold_max;
}

int desk_expire_held(Desk *d, int64_t wall, size_t max_effects, Effects *out)
{
    int done = 0;
    int64_t timeout = d->policy->hold_timeout;
    for (;;) {
        ThNode *n = th_peek(&d->held_heap);
        if (!n || (n->due > wall && !desk_held_over(d)))
            return done;
        /* the heap's first list has the oldest held event: over hold_max,
         * its events go first, oldest first */
        HeldList *l = (HeldList *)n;
        size_t keep = 0;
        for (size_t i = 0; i < l->n; i++) {
            Held *h = l->v[i];
            /* two effects each: the dead letter and the release */
            bool room = eff_size(out) + 2 <= max_effects || (done == 0 && eff_empty(out));
            bool timed_out = wall != INT64_MIN && tu_add_sat(h->held_since, timeout) <= wall;
            bool over = desk_held_over(d);
            if (!(timed_out || over) || !room) {
                l->v[keep++] = h;
                continue;
            }
            char detail[EVT_DETAIL_MAX];
            if (timed_out)
                snprintf(detail, sizeof detail, "ticket_id: no received event for %s within %llds", h->ev.ticket_id,
                         (long long)timeout);
            else
                snprintf(detail, sizeof detail,
                         "ticket_id: no received event for %s; the oldest of more than hold_max = %d held events",
                         h->ev.ticket_id, d->policy->hold_max);
            if (eff_released(out, h->ev.ticket_id, h->ev.event_id) < 0 ||
                eff_dead_letter(out, "unknown_ticket", detail, h->topic, h->partition, h->offset, h->ev.ticket_id,
                                strlen(h->ev.ticket_id), h->payload, h->len) < 0)
                return -1;
            unhold(d, h);
            d->n_held--;
            done++;
        }
        l->n = keep;
        if (keep == 0) {
            th_remove(&d->held_heap, &l->node);
            sm_del(d->held, l->ticket_id);
            held_list_free(l);
        } else if (held_rearm(d, l) < 0) {
            return -1;
        }
        if (eff_size(out) + 2 > max_effects)
            return done;
    }
}

/* ---- complaint events --------------------------------------------------- */

/* Records an event id for t and indexes it, unless t had it already. */
static int remember(Desk *d, Ticket *t, const char *event_id)
{
    uint32_t before = t->strs_len;
    if (tkt_remember(t, event_id) < 0)
        return -1;
    return t->strs_len == before || hx_add(&d->ids, ht_hash_str(event_id, 0), t) == 0 ? 0 : -1;
}

static int record(Desk *d, Ticket *t, const ComplaintEvent *ev, bool applied, const char *topic, int32_t partition,
                  int64_t offset, Effects *out)
{
    if (eff_event(out, ev, applied, topic, partition, offset) < 0)
        return -1;
    return remember(d, t, ev->event_id);
}

/* §12.9: a breach still firing when an `updated` files its ticket under
 * another category or site moves there with it (on its firing's day), so
 * that a take-back lands in the row that counts it. firing_at: each stage's
 * firing breach's deadline before the event, TU_NEVER for none. */
static int breaches_follow(const Desk *d, Effects *out, const Ticket *t, const int64_t *firing_at, int old_cat,
                           const char *old_site)
{
    if (old_cat == t->category && strcmp(old_site, tkt_site(t)) == 0)
        return 0;
    int off = cal_utc_offset(d->policy->cal);
    for (int s = 0; s < STG__COUNT; s++) {
        if (firing_at[s] == TU_NEVER)
            continue;
        if (indic_add(&out->indic, firing_at[s], off, (Category)old_cat, old_site, (IndField)(IND_BREACH_CONTACT + s),
                      -1) < 0 ||
            indic_add(&out->indic, firing_at[s], off, t->category, tkt_site(t), (IndField)(IND_BREACH_CONTACT + s), 1) <
                0)
            return -1;
    }
    return 0;
}

static int apply_to_ticket(Desk *d, Ticket *t, const ComplaintEvent *ev, const DeskSource *src, int64_t now,
                           Effects *out)
{
    char detail[EVT_DETAIL_MAX];
    /* One partition a ticket is what a desk spread over several instances
     * would need (docs/events.md): counted, never refused; a held event
     * when its received releases it. */
    if (t->part >= 0 && src->partition != t->part)
        out->n_off_partition++;
    /* A reclassified ticket is indexed for repeats under its new keys only. */
    bool reindex = ev->type == CT_UPDATED;
    if (reindex)
        rpt_remove(d->repeat, t);
    bool was_valid = tkt_valid(t);
    int round_before = t->round;
    bool resolve_done_before = t->tg[STG_RESOLVE].done;
    int64_t resolve_deadline = tu32_get(t->tg[STG_RESOLVE].deadline);
    char old[EVT_SITE_MAX + 1], old_site[EVT_SITE_MAX + 1];
    const char *o = tkt_acct_site(t);
    if (o)
        snprintf(old, sizeof old, "%s", o);
    /* what breaches_follow needs, for an `updated` only */
    int old_cat = t->category;
    int64_t firing_at[STG__COUNT];
    old_site[0] = '\0';
    for (int s = 0; s < STG__COUNT; s++)
        firing_at[s] = reindex && t->tg[s].breach_state == AST_FIRING ? tu32_get(t->tg[s].breach_deadline) : TU_NEVER;
    if (reindex)
        snprintf(old_site, sizeof old_site, "%s", tkt_site(t));
    TktResult r = tkt_apply(t, ev, d->policy, now, &out->alerts, detail, sizeof detail);
    if (r == TKT_NOMEM || (reindex && rpt_add(d->repeat, t) < 0) || alerts_failed(out))
        return -1;
    /* Only valid complaints count toward bulk keys (§12.6). */
    if (was_valid && !tkt_valid(t) && bulk_uncount(d, t, now, out) < 0)
        return -1;
    if (!was_valid && tkt_valid(t) && bulk_count(d, t, now, out) < 0)
        return -1;
    if (r == TKT_INVALID)
        return eff_dead_letter(out, "invalid_transition", detail, src->topic, src->partition, src->offset, src->key,
                               src->key_len, src->payload, src->len);
    if (r == TKT_APPLIED &&
        indic_event(d, out, t, ev, round_before, resolve_done_before, resolve_deadline, was_valid) < 0)
        return -1;
    if (record(d, t, ev, r == TKT_APPLIED, src->topic, src->partition, src->offset, out) < 0)
        return -1;
    if (r == TKT_APPLIED && ev->type == CT_UPDATED &&
        (update_responsible(d, t, now) < 0 || acct_follow(d, t, o ? old : NULL, now, out) < 0 ||
         breaches_follow(d, out, t, firing_at, old_cat, old_site) < 0))
        return -1;
    if (r == TKT_APPLIED && (ev->type == CT_UPDATED || ev->type == CT_REVISIT) && review(d, t, now, out) < 0)
        return -1;
    return touch(d, t, out);
}

/* The ticket's `received` arrived: apply what waited for it, in event-time order. */
static int release_held(Desk *d, Ticket *t, int64_t now, Effects *out)
{
    HeldList *l = sm_del(d->held, tkt_id(t));
    if (!l)
        return 0;
    th_remove(&d->held_heap, &l->node);
    d->n_held -= l->n;
    qsort(l->v, l->n, sizeof *l->v, cmp_held);
    for (size_t i = 0; i < l->n; i++)
        hx_remove(&d->held_ids, ht_hash_str(l->v[i]->ev.event_id, 0), l->v[i]);
    int rc = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        Held *h = l->v[i];
        if (eff_released(out, h->ev.ticket_id, h->ev.event_id) < 0)
            rc = -1;
        else if (id_recorded(d, h->ev.event_id, ht_hash_str(h->ev.event_id, 0)))
            out->n_duplicates++; /* a ticket has its id: rows a start loaded, stored before ids were global */
        else
            rc = apply_to_ticket(d, t, &h->ev,
                                 &(DeskSource){.topic = h->topic,
                                               .partition = h->partition,
                                               .offset = h->offset,
                                               .key = h->ev.ticket_id, /* its own key is not kept */
                                               .key_len = strlen(h->ev.ticket_id),
                                               .payload = h->payload,
                                               .len = h->len},
                                 now, out);
    }
    held_list_free(l);
    return rc;
}

static int receive(Desk *d, const ComplaintEvent *ev, const DeskSource *src, int64_t now, Effects *out)
{
    size_t first_alert = out->alerts.n;
    Ticket *t = tkt_new(ev, d->policy, &out->alerts);
    if (!t || alerts_failed(out) || ht_add(&d->tickets, t) < 0) {
        tkt_free(t);
        return -1;
    }
    if (src->partition >= 0 && src->partition <= INT16_MAX)
        t->part = (int16_t)src->partition;
    /* The bulk issue key: the complaint's site, else its parcel's latest scan. */
    LatestScan ls;
    const char *issue = tkt_site(t)[0]                                        ? tkt_site(t)
                        : parcel_seen(d, tkt_waybill(t), now, &ls) && ls.site ? ls.site
                                                                              : "";
    if (issue[0] && tkt_set_str(t, TS_ISSUE_SITE, issue) < 0)
        return -1;
    /* The escalation tkt_new raised carries the responsibility too. */
    int changed = update_responsible(d, t, now);
    if (changed < 0)
        return -1;
    if (changed)
        for (size_t i = first_alert; i < out->alerts.n; i++)
            tkt_fill_alert(t, &out->alerts.v[i]);
    if (review(d, t, now, out) < 0)
        return -1;
    const char *site = tkt_acct_site(t);
    if (site && acct_count(d, t, site, now, out) < 0)
        return -1;
    if (record(d, t, ev, true, src->topic, src->partition, src->offset, out) < 0)
        return -1;
    const Ticket *prev = rpt_match(d->repeat, t, d->policy->repeat_lookback);
    if (prev && tkt_mark_repeat(t, tkt_id(prev), tu32_get(t->received_at), d->policy, now, &out->alerts) < 0)
        return -1;
    if (indic_received(d, out, t, IND_RECEIVED, 1) < 0 || (prev && indic_received(d, out, t, IND_REPEATS, 1) < 0))
        return -1;
    if (alerts_failed(out) || rpt_add(d->repeat, t) < 0 || bulk_count(d, t, now, out) < 0 || alerts_failed(out) ||
        touch(d, t, out) < 0)
        return -1;
    return release_held(d, t, now, out);
}

/* Whether the event's ticket may be stored without being in memory (it was
 * evicted, or not loaded at start): then its row must be read first. */
static bool needs_lookup(const Desk *d, const char *ticket_id)
{
    return bloom_maybe(d->gone, ticket_id) && !(d->absent && strcmp(d->absent, ticket_id) == 0);
}

static int apply_complaint(Desk *d, const ComplaintEvent *ev, const DeskSource *src, int64_t now, int64_t wall,
                           Effects *out)
{
    Ticket *t = find_ticket(d, ev->ticket_id);
    uint64_t h = ht_hash_str(ev->event_id, 0);
    if (id_recorded(d, ev->event_id, h) || id_held(d, ev->event_id, h)) {
        out->n_duplicates++;
        return 0;
    }
    if (t) {
        return apply_to_ticket(d, t, ev, src, now, out);
    }
    if (ev->type == CT_RECEIVED)
        return receive(d, ev, src, now, out);
    if (hold(d, ev, src, wall) < 0)
        return -1;
    return eff_held(out, ev, wall, src->topic, src->partition, src->offset, src->payload, src->len);
}

/* ---- deadlines ---------------------------------------------------------- */

int64_t desk_next_due(const Desk *d)
{
    ThNode *tn = th_peek(&d->heap), *bn = th_peek(&d->bulk_heap);
    int64_t pdue = TU_NEVER, adue = acct_next_due(d->acct);
    ps_next_due(d->parcels, &pdue);
    int64_t due = tn ? tn->due : TU_NEVER;
    if (bn && bn->due < due)
        due = bn->due;
    if (adue < due)
        due = adue;
    return pdue < due ? pdue : due;
}

static int fire_due(Desk *d, int64_t upto, size_t max_effects, Effects *out);

int desk_fire_due(Desk *d, int64_t upto, size_t max_effects, Effects *out)
{
    size_t from = out->alerts.n;
    int fired = fire_due(d, upto, max_effects, out);
    return fired < 0 || indic_breaches(d, out, from) < 0 ? -1 : fired;
}

static int fire_due(Desk *d, int64_t upto, size_t max_effects, Effects *out)
{
    int fired = 0;
    for (;;) {
        ThNode *tn = th_peek(&d->heap), *bn = th_peek(&d->bulk_heap);
        int64_t pdue = TU_NEVER;
        Parcel *p = ps_next_due(d->parcels, &pdue);
        int64_t tdue = tn ? tn->due : TU_NEVER, bdue = bn ? bn->due : TU_NEVER, adue = acct_next_due(d->acct);
        int64_t due = tdue < bdue ? tdue : bdue;
        if (pdue < due)
            due = pdue;
        if (adue < due)
            due = adue;
        if (due == TU_NEVER || due > upto)
            return fired;
        if (eff_size(out) + FIRE_ITEM_MAX > max_effects && !(fired == 0 && eff_empty(out)))
            return fired;
        if (due == tdue) {
            Ticket *t = (Ticket *)tn;
            bool paused = tkt_paused(t);
            tkt_fire(t, d->policy, due, &out->alerts);
            if (alerts_failed(out))
                return -1;
            if (tkt_next_due_p(t, d->policy) <= due)
                th_remove(&d->heap, &t->node); /* nothing moved: never spin on a stuck entry */
            /* firing changes the alert states only, and the row keeps its
             * columns, unless a pause ended by itself (§12.3) */
            if (touch_as(d, t, out, tkt_paused(t) != paused) < 0)
                return -1;
        } else if (due == bdue) {
            if (bulk_end_episode(d, (BulkKey *)bn, due, out) < 0)
                return -1;
        } else if (due == adue) {
            /* month ends: every site's episodes end at once, so in chunks */
            size_t room = max_effects > eff_size(out) ? max_effects - eff_size(out) : 0;
            if (acct_fire_due(d->acct, due, room, &d->acct_out) < 0 || acct_flush(d, out) < 0)
                return -1;
        } else if (fire_stall(d, p, out) < 0) {
            return -1;
        }
        fired++;
    }
}

/* 2000-01-01T00:00:00Z: nothing the desk handles happened before it. */
#define EARLIEST_PLAUSIBLE 946684800LL

/* §12.10: an event from the future (past the wall clock plus
 * max_future_skew) or from before 2000 would move the event clock or a
 * window to where nothing else is; it is dead-lettered instead. 1 when it
 * was, 0 when the time is plausible, -1 when out of memory. */
bool desk_time_plausible(const Desk *d, int64_t at, int64_t wall)
{
    int64_t skew = d->policy->max_future_skew;
    return at >= EARLIEST_PLAUSIBLE && !(skew > 0 && at > tu_add_sat(wall, skew));
}

static int implausible(const Desk *d, int64_t at, int64_t wall, const DeskSource *src, Effects *out)
{
    /* the detail never quotes the message's value (docs/events.md) */
    char detail[EVT_DETAIL_MAX];
    int64_t skew = d->policy->max_future_skew;
    if (at < EARLIEST_PLAUSIBLE)
        snprintf(detail, sizeof detail, "occurred_at: before 2000-01-01");
    else if (skew > 0 && at > tu_add_sat(wall, skew))
        /* not how far ahead: a replay of the same stream gets the same detail */
        snprintf(detail, sizeof detail, "occurred_at: later than the wall clock plus max_future_skew (%llds)",
                 (long long)skew);
    else
        return 0;
    if (eff_dead_letter(out, "invalid_field", detail, src->topic, src->partition, src->offset, src->key, src->key_len,
                        src->payload, src->len) < 0)
        return -1;
    return 1;
}

int desk_offer(Desk *d, const ComplaintEvent *ev, const ScanEvent *sc, const DeskSource *src, int64_t *event_clock,
               int64_t wall, size_t max_effects, size_t fire_step, Effects *out)
{
    int64_t at = ev ? ev->occurred_at : sc->occurred_at;
    /* an event within a second (a fraction) comes after that second's deadlines */
    int64_t before = at - 1 + ((ev ? ev->occurred_ns : sc->occurred_ns) != 0);
    if (!eff_empty(out) && eff_size(out) + 1 > max_effects)
        return DESK_FULL;
    int bad = implausible(d, at, wall, src, out);
    if (bad != 0)
        return bad < 0 ? -1 : DESK_APPLIED;
    bool moves = event_clock && at > *event_clock;
    /* in event mode the deadlines of the clock's second wait for an input
     * after that second (a fraction of it included): every event dated at a
     * deadline is applied before it, whatever their order */
    if (event_clock && desk_next_due(d) <= before) {
        size_t step = eff_size(out) + fire_step;
        int n = desk_fire_due(d, before, step < max_effects ? step : max_effects, out); /* counts its breaches */
        return n < 0 ? -1 : n > 0 ? DESK_FIRED : DESK_FULL;
    }
    if (!eff_empty(out) && eff_size(out) + desk_event_effects_max(d) > max_effects)
        return DESK_FULL;
    /* §12.2: a ticket that left memory is read back before its event. */
    if (ev && !find_ticket(d, ev->ticket_id) && needs_lookup(d, ev->ticket_id)) {
        free(d->lookup);
        if (!(d->lookup = strdup(ev->ticket_id)))
            return -1;
        return DESK_LOOKUP;
    }
    if (moves)
        *event_clock = at;
    int64_t now = event_clock ? *event_clock : wall;
    size_t from = out->alerts.n;
    int rc = ev ? apply_complaint(d, ev, src, now, wall, out) : apply_scan(d, sc, src, now, out);
    return rc < 0 || indic_breaches(d, out, from) < 0 ? -1 : DESK_APPLIED;
}

/* ---- policy ------------------------------------------------------------- */

void desk_set_policy(Desk *d, Policy *p)
{
    d->rearm_parcels |= p->stall_after != d->policy->stall_after;
    d->rearm_iter = 0;
    d->review_again |= p->loss_after != d->policy->loss_after;
    pol_free(d->policy);
    d->policy = p;
    d->recompute = true;
    d->recompute_iter = 0;
}

bool desk_recompute_pending(const Desk *d)
{
    return d->recompute || d->rearm_parcels;
}

static int recompute(Desk *d, int64_t now, size_t max_effects, Effects *out);

int desk_recompute(Desk *d, int64_t now, size_t max_effects, Effects *out)
{
    size_t from = out->alerts.n;
    int done = recompute(d, now, max_effects, out);
    return done < 0 || indic_breaches(d, out, from) < 0 ? -1 : done;
}

static int recompute(Desk *d, int64_t now, size_t max_effects, Effects *out)
{
    int done = 0;
    bool finished = false;
    const char *k;
    void *v;
    while (d->recompute) {
        if (eff_size(out) + FIRE_ITEM_MAX > max_effects && !(done == 0 && eff_empty(out)))
            return done;
        Ticket *t = ht_each(&d->tickets, &d->recompute_iter);
        if (!t) {
            d->recompute = false;
            finished = true;
            break;
        }
        if (!tkt_open(t))
            continue;
        tkt_recompute(t, d->policy, now, &out->alerts);
        if (alerts_failed(out) || (d->review_again && review(d, t, now, out) < 0) || touch(d, t, out) < 0)
            return -1;
        done++;
    }
    if (finished) {
        d->review_again = false;
        /* Hold expiry and bulk episode ends follow the new values. */
        for (size_t it = 0; sm_next(d->held, &it, &k, &v);)
            if (held_rearm(d, v) < 0)
                return -1;
        for (size_t it = 0; sm_next(d->bulk, &it, &k, &v);)
            if (bulk_active(((BulkKey *)v)->w) && bulk_rearm(d, v, now, false, NULL) < 0)
                return -1;
    }
    /* then the parcels' stall timers, a slice a step: no effects, only the
     * heap (a stall that falls due fires as any deadline does) */
    if (!d->recompute && d->rearm_parcels) {
        int more = ps_rearm(d->parcels, d->policy->stall_after, &d->rearm_iter, REARM_SLICE);
        if (more < 0)
            return -1;
        d->rearm_parcels = more > 0;
        done++;
    }
    return done;
}

/* ---- memory ------------------------------------------------------------- */

/* Closed tickets older than the repeat look-back leave memory (they stay in
 * PostgreSQL); a start would not load them either. One whose newest state
 * is not yet where a read-back finds it (Ticket.unfolded) waits. */
static size_t evict_closed(Desk *d, int64_t before, const Effects *open)
{
    Ticket **gone = NULL;
    size_t n = 0, cap = 0;
    Ticket *t;
    for (size_t i = 0; (t = ht_each(&d->tickets, &i));) {
        int64_t last = tu32_get(t->closed_at) > tu32_get(t->last_resolved_at) ? tu32_get(t->closed_at)
                                                                              : tu32_get(t->last_resolved_at);
        bool listed = open && open->gen != 0 && t->eff_gen == open->gen;
        if (!t->closed || listed || th_queued(&t->node) || last >= before || t->unfolded > d->folded)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            Ticket **x = realloc(gone, cap * sizeof *x);
            if (!x)
                break; /* evict what was found; the rest next time */
            gone = x;
        }
        gone[n++] = t;
    }
    for (size_t i = 0; i < n; i++) {
        /* remembered as stored: an event for it reads it back (§12.2); when
         * that cannot be remembered, the ticket stays in memory */
        if (bloom_add(d->gone, tkt_id(gone[i])) < 0)
            continue;
        /* "looked up and not found" no longer holds for it */
        if (d->absent && strcmp(d->absent, tkt_id(gone[i])) == 0) {
            free(d->absent);
            d->absent = NULL;
        }
        ht_remove(&d->tickets, gone[i]);
        rpt_remove(d->repeat, gone[i]);
        unindex_ids(d, gone[i]);
        tkt_free(gone[i]);
    }
    free(gone);
    return n;
}

void desk_set_folded(Desk *d, int64_t folded)
{
    d->folded = folded;
}

void desk_housekeep(Desk *d, int64_t now, bool sweep, const Effects *open, DeskSwept *swept)
{
    memset(swept, 0, sizeof *swept);
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(d->bulk, &it, &k, &v);)
        bulk_prune(((BulkKey *)v)->w, now - BULK_LATE_HORIZON - d->policy->bulk_window);
    /* A complaint up to a month late still finds its month and window. */
    acct_prune(d->acct, tu_add_sat(now, -(d->policy->accountability_window + ACCT_LATE_HORIZON)));
    if (!sweep || d->recompute)
        return;
    /* Delivered parcels are kept for complaints about them for the look-back. */
    swept->parcels = ps_prune_signed(d->parcels, now - d->policy->repeat_lookback);
    swept->tickets = evict_closed(d, desk_keep_closed_since(d, now), open);
}

/* ---- start-up ----------------------------------------------------------- */

int desk_load_ticket(Desk *d, Ticket *t, int64_t base)
{
    if (ht_add(&d->tickets, t) < 0) {
        tkt_free(t);
        return -1;
    }
    if (index_ids(d, t) < 0)
        return -1;
    int64_t due = tkt_next_due_p(t, d->policy);
    if (due != TU_NEVER && th_set(&d->heap, &t->node, due) < 0)
        return -1;
    if (rpt_add(d->repeat, t) < 0)
        return -1;
    /* Young complaints count in their bulk windows again; the episodes
     * themselves come back with desk_load_bulk. */
    if (tkt_issue_site(t)[0] && tkt_valid(t) &&
        tu32_get(t->received_at) >= base - BULK_LATE_HORIZON - d->policy->bulk_window) {
        BulkKey *bk = bulk_key(d, (Category)t->issue_category, tkt_issue_site(t));
        BulkOutcome oc;
        BulkEpisode ep;
        if (!bk || bulk_add(bk->w, tu32_get(t->received_at), tkt_id(t), INT_MAX, d->policy->bulk_window, &oc, &ep) < 0)
            return -1;
    }
    return 0;
}

static bool joined_bulk(void *arg, const char *id)
{
    const Ticket *t = find_ticket(arg, id);
    return t && (t->reasons & RSN_BULK);
}

int desk_load_bulk(Desk *d, Category cat, const char *site, int64_t window_start, int64_t condition_at,
                   const char *const *ids, size_t n_ids, bool ended, int64_t base)
{
    BulkKey *bk = bulk_key(d, cat, site);
    if (!bk)
        return -1;
    if (ended) {
        /* A window whose episode already ended must not fire again, nor
         * the burst it reported. */
        bulk_restore_last(bk->w, window_start, condition_at);
        return 0;
    }
    /* Members older than what desk_load_ticket loads back (an episode that
     * has run for over a day) are in the window of a live run, which never
     * forgets a member: back with them, so that the episode lists them
     * when it ends. */
    int64_t loaded_from = base - BULK_LATE_HORIZON - d->policy->bulk_window;
    for (size_t k = 0; k < n_ids; k++) {
        const Ticket *t = find_ticket(d, ids[k]);
        BulkOutcome oc;
        BulkEpisode ep;
        if (t && tkt_valid(t) && tu32_get(t->received_at) < loaded_from &&
            bulk_add(bk->w, tu32_get(t->received_at), tkt_id(t), INT_MAX, d->policy->bulk_window, &oc, &ep) < 0)
            return -1;
    }
    if (bulk_restore(bk->w, window_start, condition_at, ids, n_ids) < 0)
        return -1;
    /* the firing alert lists the members it had; those that joined later
     * are known by their tickets */
    bulk_restore_joined(bk->w, window_start, joined_bulk, d);
    /* Its end is the first time after its condition that the trailing
     * count falls below the threshold, which may have passed while the
     * daemon was stopped: it then ends at once, at that time, not at the
     * start. (Its complaints are loaded back for BULK_LATE_HORIZON; an
     * older episode ends at the start.) */
    return bulk_rearm(d, bk, condition_at >= base - BULK_LATE_HORIZON ? condition_at : base, false, NULL);
}

int desk_load_parcel(Desk *d, const ScanEvent *latest, int64_t pickup, bool stalled)
{
    return ps_restore(d->parcels, latest, pickup, stalled, d->policy->stall_after);
}

int desk_load_event_id(Desk *d, const char *ticket_id, const char *event_id)
{
    Ticket *t = find_ticket(d, ticket_id);
    return t ? remember(d, t, event_id) : 0;
}

int desk_load_gone(Desk *d, const char *ticket_id)
{
    return bloom_add(d->gone, ticket_id);
}

const char *desk_lookup_id(const Desk *d)
{
    return d->lookup;
}

int desk_lookup_done(Desk *d, Ticket *t)
{
    char *id = d->lookup;
    d->lookup = NULL;
    if (!t || !id || strcmp(tkt_id(t), id) != 0 || find_ticket(d, tkt_id(t))) {
        tkt_free(t);
        free(d->absent);
        d->absent = id; /* not stored after all: the event goes on as for any unknown ticket */
        return 0;
    }
    free(id);
    if (ht_add(&d->tickets, t) < 0) {
        tkt_free(t);
        return -1;
    }
    if (index_ids(d, t) < 0)
        return -1;
    int64_t due = tkt_next_due_p(t, d->policy);
    if ((due != TU_NEVER && th_set(&d->heap, &t->node, due) < 0) || rpt_add(d->repeat, t) < 0)
        return -1;
    return 0;
}

int desk_load_acct_complaint(Desk *d, const char *site, const char *ticket_id, int64_t received_at)
{
    return acct_add_quiet(d->acct, site, ticket_id, received_at);
}

int desk_load_acct_episode(Desk *d, const char *site, int year, int month, bool total, int64_t condition_at, bool ended)
{
    const Policy *p = d->policy;
    int rc = acct_restore(d->acct, site, year, month, total, condition_at, ended, cal_utc_offset(p->cal),
                          p->accountability_window);
    return rc == -2 ? 0 : rc; /* a month out of range cannot come from an alert we wrote */
}

int desk_load_held(Desk *d, const ComplaintEvent *ev, const DeskSource *src, int64_t held_since)
{
    return hold(d, ev, src, held_since);
}

/* ---- inspection --------------------------------------------------------- */

void desk_stats(const Desk *d, DeskStats *s)
{
    s->tickets = d->tickets.n;
    s->held = d->n_held;

    s->deadlines = (size_t)d->heap.n + d->bulk_heap.n;
    s->parcels = ps_count(d->parcels);
    s->bulk_keys = sm_count(d->bulk);
}

void desk_summary(const Desk *d, DeskSummary *s)
{
    memset(s, 0, sizeof *s);
    const Ticket *t;
    for (size_t i = 0; (t = ht_each(&d->tickets, &i));) {
        if (!tkt_open(t))
            continue;
        int stage = 0;
        for (int k = STG__COUNT - 1; k >= 0; k--)
            if (t->tg[k].done) {
                stage = k + 1;
                break;
            }
        if (stage == 0 && t->round > 1)
            stage = 5;
        s->open[stage][t->urgent ? 1 : 0]++;
        tkt_count_firing(t, s->firing);
    }
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(d->bulk, &it, &k, &v);)
        s->firing[AL_BULK_COMPLAINT] += bulk_active(((BulkKey *)v)->w);
    s->firing[AL_PARCEL_STALLED] = (unsigned)ps_stalled_count(d->parcels);
    s->firing[AL_SITE_ACCOUNTABILITY] = (unsigned)acct_firing(d->acct);
}

const Ticket *desk_ticket(const Desk *d, const char *ticket_id)
{
    return find_ticket(d, ticket_id);
}
