/* rules: the rules that look across tickets and parcels (contract §7):
 * bulk complaints per issue key, repeat complaints through lib/repeat, the
 * responsibility of loss and delay tickets from their parcel's scans, and
 * stalled parcels. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "bulk.h"
#include "engine_int.h"
#include "evt.h"
#include "repeat.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"
#include "tkt.h"

/* ---- bulk complaints ---------------------------------------------------- */

static void bulk_alert(Engine *e, const BulkKey *bk, AlertStatus st, const BulkEpisode *ep, int64_t resolved_at)
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
        eng_oom();
    for (size_t i = 0; i < ep->n_ids; i++)
        if (!(a.ticket_ids[a.n_ticket_ids++] = strdup(ep->ids[i])))
            eng_oom();
    alert_make_id(&a);
    if (!alert_list_push(&e->scratch, &a))
        eng_oom();
    alert_clear(&a);
}

void rule_bulk_rearm(Engine *e, BulkKey *bk)
{
    int64_t due = bulk_end_at(bk->w, e->policy->bulk_threshold, e->policy->bulk_window, eng_rule_now(e));
    if (due == TU_NEVER)
        th_remove(&e->bulk_heap, &bk->node);
    else if (th_set(&e->bulk_heap, &bk->node, due) < 0)
        eng_oom();
}

BulkKey *rule_bulk_key(Engine *e, Category cat, const char *site)
{
    char k[EVT_SITE_MAX + 32];
    snprintf(k, sizeof k, "%s/%s", evt_category_name(cat), site);
    BulkKey *bk = sm_get(e->bulk, k);
    if (bk)
        return bk;
    bk = calloc(1, sizeof *bk);
    if (!bk || !(bk->w = bulk_new()) || sm_put(e->bulk, k, bk) < 0)
        eng_oom();
    th_node_init(&bk->node);
    bk->category = cat;
    snprintf(bk->site, sizeof bk->site, "%s", site);
    return bk;
}

/* Counts a new ticket in its issue key's window (contract §7). */
void rule_bulk_count(Engine *e, TEntry *te, int threshold)
{
    Ticket *t = te->t;
    if (!t->issue_site[0])
        return;
    BulkKey *bk = rule_bulk_key(e, t->category, t->issue_site);
    BulkOutcome oc;
    BulkEpisode ep;
    if (bulk_add(bk->w, t->received_at, t->id, threshold, e->policy->bulk_window, &oc, &ep) < 0)
        eng_oom();
    if (oc == BULK_STARTED) {
        bulk_alert(e, bk, AS_FIRING, &ep, 0);
        batch_take_alerts(e);
        for (size_t i = 0; i < ep.n_ids; i++) {
            TEntry *m = sm_get(e->tickets, ep.ids[i]);
            if (m && tkt_open(m->t)) {
                tkt_make_urgent(m->t, RSN_BULK, ep.condition_at, e->policy, eng_rule_now(e), &e->scratch);
                batch_take_alerts(e);
                batch_touch(e, m);
            }
        }
    } else if (oc == BULK_JOINED) {
        int64_t at = t->received_at > ep.condition_at ? t->received_at : ep.condition_at;
        tkt_make_urgent(t, RSN_BULK, at, e->policy, eng_rule_now(e), &e->scratch);
        batch_take_alerts(e);
        batch_touch(e, te);
    }
    rule_bulk_rearm(e, bk);
}

void rule_bulk_end(Engine *e, BulkKey *bk, int64_t at)
{
    BulkEpisode ep;
    bulk_end(bk->w, at, e->policy->bulk_window, &ep);
    bulk_alert(e, bk, AS_RESOLVED, &ep, at);
    batch_take_alerts(e);
    th_remove(&e->bulk_heap, &bk->node);
    e->open.n_effects++;
}

/* ---- repeat complaints -------------------------------------------------- */

void rule_index_ticket(Engine *e, TEntry *te)
{
    if (rpt_add(e->repeat, te->t) < 0)
        eng_oom();
}

/* A new ticket matching one resolved within repeat_lookback (contract §7):
 * by waybill, or without a waybill by customer_ref + category. */
void rule_check_repeat(Engine *e, TEntry *te)
{
    Ticket *t = te->t;
    const Ticket *prev = rpt_match(e->repeat, t, e->policy->repeat_lookback);
    if (prev) {
        tkt_mark_repeat(t, prev->id, t->received_at, e->policy, eng_rule_now(e), &e->scratch);
        batch_take_alerts(e);
    }
}

/* ---- parcels ------------------------------------------------------------ */

/* Responsibility of a loss or delay ticket from its parcel's latest scan. */
bool rule_update_responsible(Engine *e, Ticket *t)
{
    if (t->category != CAT_LOSS && t->category != CAT_DELAY)
        return false;
    LatestScan ls;
    bool known = t->waybill[0] && ps_latest(e->parcels, t->waybill, &ls);
    Responsible r;
    scan_responsible(known ? &ls : NULL, t->site, &r);
    if (t->responsible.known && strcmp(t->responsible.site, r.site) == 0 && t->responsible.role == r.role &&
        strcmp(t->responsible.rule, r.rule) == 0)
        return false;
    t->responsible = r;
    return true;
}

static void stall_alert(Engine *e, const char *waybill, AlertStatus st, const LatestScan *ls, int64_t last_at,
                        int64_t resolved_at)
{
    Alert a;
    alert_init(&a, AL_PARCEL_STALLED, st);
    snprintf(a.waybill, sizeof a.waybill, "%s", waybill);
    a.last_scan_at = last_at;
    a.condition_at = last_at + e->policy->stall_after;
    a.resolved_at = resolved_at;
    if (ls) {
        a.last_scan_type = (int)ls->type;
        snprintf(a.last_scan_site, sizeof a.last_scan_site, "%s", ls->site ? ls->site : "");
        scan_responsible(ls, NULL, &a.responsible);
        snprintf(a.site, sizeof a.site, "%s", ls->site ? ls->site : "");
    }
    alert_make_id(&a);
    if (!alert_list_push(&e->scratch, &a))
        eng_oom();
    alert_clear(&a);
    batch_take_alerts(e);
}

void rule_stall(Engine *e, Parcel *p)
{
    LatestScan ls;
    ps_parcel_latest(e->parcels, p, &ls);
    stall_alert(e, ps_waybill(e->parcels, p), AS_FIRING, &ls, ls.at, 0);
    ps_mark_stalled(e->parcels, p);
}

void rule_scan_latest(Engine *e, const ScanEvent *sc, bool was_stalled, int64_t prev_at)
{
    if (was_stalled)
        stall_alert(e, sc->waybill, AS_RESOLVED, NULL, prev_at, sc->occurred_at);
    /* Open loss/delay tickets of this parcel follow its scan chain. */
    Ticket *const *v;
    size_t n = rpt_by_waybill(e->repeat, sc->waybill, &v);
    for (size_t i = 0; i < n; i++) {
        Ticket *t = v[i];
        if (tkt_open(t) && strcmp(t->waybill, sc->waybill) == 0 && rule_update_responsible(e, t)) {
            TEntry *te = sm_get(e->tickets, t->id);
            if (te)
                batch_touch(e, te);
        }
    }
}
