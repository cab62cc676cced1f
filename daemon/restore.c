/* restore: start-up. Loads the state a previous run committed (tickets,
 * event ids, held events, offsets, the event clock), rebuilds what derives
 * from it, and republishes the outbox it left unsent. Blocking: start-up only. */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bulk.h"
#include "db.h"
#include "engine.h"
#include "engine_int.h"
#include "evt.h"
#include "log.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"
#include "tkt.h"

/* Alerts of one type that fired and never ended: running bulk episodes and
 * parcels still stalled. */
#define OPEN_ALERTS                                                                                         \
    "SELECT alert_id, payload::text FROM alerts a WHERE type = $1 AND status = 'firing' AND NOT EXISTS " \
    "(SELECT 1 FROM alerts r WHERE r.alert_id = a.alert_id AND r.status <> 'firing')"

static PGresult *load_query(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "loading state: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static void db_ready_cb(void *arg)
{
    (void)arg;
}

static int64_t json_time(const json_t *o, const char *k)
{
    int64_t t = 0;
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || tu_parse_rfc3339(json_string_value(v), &t) < 0)
        return 0;
    return t;
}

/* What is derived from the tickets and scans: the repeat indexes, the bulk
 * windows and their running episodes, the parcels and their stalls. */
static int load_derived(Engine *e, PGconn *c, int64_t base, char *err, size_t errlen)
{
    const char *k;
    void *v;
    int64_t horizon = base - BULK_LATE_HORIZON - e->policy->bulk_window;
    for (size_t it = 0; sm_next(e->tickets, &it, &k, &v);) {
        TEntry *te = v;
        rule_index_ticket(e, te);
        if (te->t->issue_site[0] && te->t->received_at >= horizon) {
            BulkKey *bk = rule_bulk_key(e, te->t->category, te->t->issue_site);
            BulkOutcome oc;
            BulkEpisode ep;
            if (bulk_add(bk->w, te->t->received_at, te->t->id, INT_MAX, e->policy->bulk_window, &oc, &ep) < 0)
                eng_oom();
        }
    }
    const char *p1[1] = {"bulk_complaint"};
    PGresult *r = load_query(c, OPEN_ALERTS, 1, p1, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        const json_t *cat = json_object_get(o, "category"), *site = json_object_get(o, "site");
        const json_t *ids = json_object_get(o, "ticket_ids");
        int ci = json_is_string(cat) ? evt_category_from_name(json_string_value(cat)) : -1;
        if (ci >= 0 && json_is_string(site) && json_is_array(ids)) {
            BulkKey *bk = rule_bulk_key(e, (Category)ci, json_string_value(site));
            size_t n = json_array_size(ids);
            const char **idv = calloc(n ? n : 1, sizeof *idv);
            if (!idv)
                eng_oom();
            for (size_t j = 0; j < n; j++)
                idv[j] = json_string_value(json_array_get(ids, j));
            if (bulk_restore(bk->w, json_time(o, "window_start"), json_time(o, "condition_at"), idv, n) < 0)
                eng_oom();
            free(idv);
            rule_bulk_rearm(e, bk);
        }
        json_decref(o);
    }
    PQclear(r);
    /* A window whose episode already ended must not fire again. */
    r = load_query(c, "SELECT payload->>'category', payload->>'site', max(payload->>'window_start') FROM alerts "
                      "WHERE type = 'bulk_complaint' AND status = 'resolved' GROUP BY 1, 2",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int ci = evt_category_from_name(PQgetvalue(r, i, 0));
        int64_t ws;
        if (ci < 0 || tu_parse_rfc3339(PQgetvalue(r, i, 2), &ws) < 0)
            continue;
        BulkKey *bk = rule_bulk_key(e, (Category)ci, PQgetvalue(r, i, 1));
        int64_t cur;
        if (!bulk_last_start(bk->w, &cur) || cur < ws)
            bulk_restore_last_start(bk->w, ws);
    }
    PQclear(r);

    /* Parcels: each one's latest scan, ties broken by the table's row order. */
    StrMap *stalled = sm_new();
    if (!stalled)
        eng_oom();
    const char *p2[1] = {"parcel_stalled"};
    r = load_query(c, OPEN_ALERTS, 1, p2, err, errlen);
    if (!r) {
        sm_free(stalled);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (sm_put(stalled, PQgetvalue(r, i, 0), (void *)1) < 0)
            eng_oom();
    PQclear(r);
    r = load_query(c,
                   "SELECT DISTINCT ON (waybill) event_id, waybill, scan_type, site, site_role, "
                   "COALESCE(next_site, ''), COALESCE(next_site_role, ''), extract(epoch FROM occurred_at)::bigint "
                   "FROM parcel_scans ORDER BY waybill, occurred_at DESC, CASE scan_type WHEN 'pickup' THEN 0 "
                   "WHEN 'depart' THEN CASE site_role WHEN 'origin' THEN 1 ELSE 2 END "
                   "WHEN 'arrive' THEN CASE site_role WHEN 'delivery' THEN 4 ELSE 3 END "
                   "WHEN 'deliver' THEN 5 WHEN 'signed' THEN 7 ELSE 6 END DESC",
                   0, NULL, err, errlen);
    if (!r) {
        sm_free(stalled);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        ScanEvent sc;
        memset(&sc, 0, sizeof sc);
        snprintf(sc.event_id, sizeof sc.event_id, "%s", PQgetvalue(r, i, 0));
        snprintf(sc.waybill, sizeof sc.waybill, "%s", PQgetvalue(r, i, 1));
        sc.scan_type = (ScanType)evt_scan_type_from_name(PQgetvalue(r, i, 2));
        snprintf(sc.site, sizeof sc.site, "%s", PQgetvalue(r, i, 3));
        sc.site_role = (SiteRole)evt_role_from_name(PQgetvalue(r, i, 4));
        snprintf(sc.next_site, sizeof sc.next_site, "%s", PQgetvalue(r, i, 5));
        sc.next_site_role = (SiteRole)evt_role_from_name(PQgetvalue(r, i, 6));
        sc.occurred_at = strtoll(PQgetvalue(r, i, 7), NULL, 10);
        char id[ALERT_ID_MAX + 1];
        snprintf(id, sizeof id, "parcel_stalled/%s/%" PRId64, sc.waybill, sc.occurred_at);
        if ((int)sc.scan_type < 0 || (int)sc.site_role < 0)
            continue;
        if (ps_restore(e->parcels, &sc, sm_has(stalled, id), e->policy->stall_after) < 0)
            eng_oom();
    }
    log_info("loaded %zu parcels, %zu bulk keys", ps_count(e->parcels), sm_count(e->bulk));
    PQclear(r);
    sm_free(stalled);
    return 0;
}

int engine_load(Engine *e, PGconn *c, char *err, size_t errlen)
{
    PGresult *r = load_query(c, "SELECT value::text FROM daemon_state WHERE key = 'event_clock'", 0, NULL, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 1)
        e->event_clock = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);

    const char *gp[1] = {e->cfg->group_id};
    r = load_query(c, "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1", 1, gp, err,
                   errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        Offset *o = eng_offset(e, PQgetvalue(r, i, 0), (int32_t)atoi(PQgetvalue(r, i, 1)), true);
        o->next = strtoll(PQgetvalue(r, i, 2), NULL, 10);
    }
    PQclear(r);

    /* Open tickets, and closed ones young enough for the repeat look-back. */
    char cutoff[32];
    int64_t base = e->cfg->clock_mode == CLOCK_EVENT ? e->event_clock : (int64_t)ev_time();
    snprintf(cutoff, sizeof cutoff, "%" PRId64, base - e->policy->repeat_lookback);
    const char *cp[1] = {cutoff};
    static const char *const keep =
        "status <> 'closed' OR COALESCE(last_resolved_at, closed_at) >= to_timestamp($1::bigint)";
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT state::text FROM tickets WHERE %s", keep);
    r = load_query(c, sql, 1, cp, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_error_t je;
        json_t *j = json_loads(PQgetvalue(r, i, 0), 0, &je);
        char terr[128];
        Ticket *t = j ? tkt_from_json(j, terr, sizeof terr) : NULL;
        json_decref(j);
        if (!t) {
            snprintf(err, errlen, "loading state: a ticket's state is unreadable (row %d)", i);
            PQclear(r);
            return -1;
        }
        TEntry *te = eng_new_entry(e, t);
        int64_t due = tkt_next_due(t);
        if (due != TU_NEVER && th_set(&e->heap, &te->node, due) < 0) {
            snprintf(err, errlen, "out of memory");
            PQclear(r);
            return -1;
        }
    }
    size_t n_tickets = (size_t)PQntuples(r);
    PQclear(r);
    if (load_derived(e, c, base, err, errlen) < 0)
        return -1;

    snprintf(sql, sizeof sql,
             "SELECT e.event_id FROM ticket_events e JOIN tickets USING (ticket_id) WHERE %s", keep);
    r = load_query(c, sql, 1, cp, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        eng_remember_id(e, PQgetvalue(r, i, 0));
    PQclear(r);

    r = load_query(c,
                   "SELECT payload, extract(epoch FROM held_since)::bigint, source_topic, source_partition, "
                   "source_offset FROM held_events ORDER BY source_topic, source_partition, source_offset",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        ComplaintEvent ev;
        char detail[EVT_DETAIL_MAX];
        const char *p = PQgetvalue(r, i, 0);
        size_t len = (size_t)PQgetlength(r, i, 0);
        if (evt_decode_complaint(p, len, SIZE_MAX, &ev, detail, sizeof detail) != EVT_OK)
            continue; /* it was valid when held; a changed decoder must not stop the start */
        eng_hold(e, &ev, PQgetvalue(r, i, 2), (int32_t)atoi(PQgetvalue(r, i, 3)),
                 strtoll(PQgetvalue(r, i, 4), NULL, 10), p, len, strtoll(PQgetvalue(r, i, 1), NULL, 10), false);
    }
    log_info("loaded %zu tickets, %zu event ids, %d held events, event clock %" PRId64, n_tickets,
             sm_count(e->event_ids), PQntuples(r), e->event_clock);
    PQclear(r);

    e->db = db_new(e->loop, e->cfg->conninfo, c, db_ready_cb, e);
    if (!e->db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Publishes what an earlier run committed but did not see delivered. */
int restore_publish_unsent(Engine *e, char *err, size_t errlen)
{
    PGconn *c = db_conn(e->db);
    PGresult *r = load_query(c,
                             "SELECT alert_id, status, payload::text FROM alerts WHERE sent_at IS NULL ORDER BY seq",
                             0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        OutMsg *m = calloc(1, sizeof *m);
        if (!m)
            break;
        m->kind = OUT_ALERT;
        m->alert_id = strdup(PQgetvalue(r, i, 0));
        m->key = strdup(m->alert_id);
        m->status = strdup(PQgetvalue(r, i, 1));
        m->payload = strdup(PQgetvalue(r, i, 2));
        batch_publish(e, m);
    }
    int na = PQntuples(r);
    PQclear(r);
    r = load_query(c,
                   "SELECT source_topic, source_partition, source_offset, payload FROM dead_letters "
                   "WHERE sent_at IS NULL ORDER BY seq",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        OutMsg *m = calloc(1, sizeof *m);
        if (!m)
            break;
        m->kind = OUT_DLQ;
        m->src_topic = strdup(PQgetvalue(r, i, 0));
        m->src_partition = (int32_t)atoi(PQgetvalue(r, i, 1));
        m->src_offset = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        m->payload = strdup(PQgetvalue(r, i, 3));
        batch_publish(e, m);
    }
    if (na + PQntuples(r) > 0)
        log_info("republishing %d alerts and %d dead letters left unsent", na, PQntuples(r));
    PQclear(r);
    return 0;
}
