/* engine: the daemon's state and its one-transaction-per-batch commit; see
 * engine.h and docs/architecture.md. */
#include "engine.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "bulk.h"
#include "scan.h"
#include "dlq.h"
#include "evt.h"
#include "kq.h"
#include "db.h"
#include "log.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"
#include "tkt.h"

/* A ticket in memory with its place in the deadline heap. */
typedef struct TEntry {
    ThNode node; /* first: the heap hands back &node */
    Ticket *t;
    bool dirty;
} TEntry;

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

typedef struct HeldList {
    Held **v;
    size_t n;
} HeldList;

typedef struct Offset {
    char *topic;
    int32_t partition;
    int64_t next;
    bool dirty;
} Offset;

/* Tickets sharing a repeat key (waybill, or customer_ref + category). */
typedef struct IdxList {
    TEntry **v;
    size_t n;
} IdxList;

/* One bulk issue key (category, site) with its episode-end timer. */
typedef struct BulkKey {
    ThNode node; /* first */
    BulkWin *w;
    Category category;
    char site[EVT_SITE_MAX + 1];
} BulkKey;

/* Complaints up to this much older than the clock still count in their bulk
 * windows; older ones are forgotten. */
#define BULK_LATE_HORIZON (24 * 3600)

enum { OUT_ALERT, OUT_DLQ };

/* A message to publish once its batch is committed. */
typedef struct OutMsg {
    int kind;
    char *key;
    char *payload;
    char *alert_id;      /* alert: (alert_id, status) */
    char *status;
    char *src_topic;     /* dead letter: source coordinates */
    int32_t src_partition;
    int64_t src_offset;
    struct OutMsg *next;
} OutMsg;

typedef struct Batch {
    json_t *doc;         /* the complaintd_apply_batch argument being built */
    size_t n_events;
    size_t n_effects;    /* tickets, alerts, dead letters, held: worth a commit now */
    TEntry **dirty;
    size_t n_dirty, cap_dirty;
    OutMsg *out_head, *out_tail;
    char *sql_arg;       /* the document as sent (kept for retries) */
    rd_kafka_topic_partition_list_t *kafka_offsets;
} Batch;

struct Engine {
    struct ev_loop *loop;
    const Config *cfg;
    Policy *policy;
    Db *db;
    Kq *kq;
    StrMap *tickets;   /* ticket_id -> TEntry */
    StrMap *event_ids; /* set of applied, recorded or held event ids */
    StrMap *held;      /* ticket_id -> HeldList */
    StrMap *offsets;   /* "topic/partition" -> Offset */
    THeap heap;        /* ticket deadlines */
    StrMap *by_waybill;  /* waybill -> IdxList */
    StrMap *by_customer; /* customer_ref \x1f category -> IdxList */
    StrMap *bulk;        /* category/site -> BulkKey */
    THeap bulk_heap;     /* bulk episode ends */
    ParcelSet *parcels;  /* latest scan and stall deadline of every parcel */
    int64_t event_clock;
    AlertList scratch;

    Batch open;
    Batch *inflight;
    ev_tstamp last_flush;
    ev_tstamp last_status;
    int64_t last_prune;
    ev_tstamp retry_at;

    ev_periodic deadline_timer;
    ev_timer housekeeping;
    ev_prepare prepare;

    bool stopping;
    void (*stop_done)(void *);
    void *stop_arg;
    ev_tstamp stop_started;

    /* counters since start */
    uint64_t n_applied, n_history, n_held, n_duplicates, n_dead, n_alerts, n_batches, n_scans;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t wall_now(const Engine *e)
{
    return (int64_t)ev_now(e->loop);
}

static int utc_off(const Engine *e)
{
    return cal_utc_offset(e->policy->cal);
}

static json_t *jtime(const Engine *e, int64_t t)
{
    if (t == TU_NEVER || t == 0)
        return json_null();
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(t, utc_off(e), buf);
    return json_string(buf);
}

static void batch_init(Batch *b)
{
    memset(b, 0, sizeof *b);
    b->doc = json_pack("{s:[],s:[],s:[],s:[],s:[],s:[],s:[],s:[],s:[],s:[]}", "tickets", "events", "held",
                       "released", "alerts", "dead_letters", "sent_alerts", "sent_dead_letters", "offsets", "scans");
}

static void out_free(OutMsg *m)
{
    free(m->key);
    free(m->payload);
    free(m->alert_id);
    free(m->status);
    free(m->src_topic);
    free(m);
}

static void batch_clear(Batch *b)
{
    json_decref(b->doc);
    free(b->dirty);
    for (OutMsg *m = b->out_head, *n; m; m = n) {
        n = m->next;
        out_free(m);
    }
    free(b->sql_arg);
    if (b->kafka_offsets)
        rd_kafka_topic_partition_list_destroy(b->kafka_offsets);
    memset(b, 0, sizeof *b);
}

static json_t *doc_array(Batch *b, const char *k)
{
    return json_object_get(b->doc, k);
}

static void batch_out(Batch *b, OutMsg *m)
{
    if (b->out_tail)
        b->out_tail->next = m;
    else
        b->out_head = m;
    b->out_tail = m;
}

static void touch(Engine *e, TEntry *te)
{
    if (!te->dirty) {
        Batch *b = &e->open;
        if (b->n_dirty == b->cap_dirty) {
            size_t cap = b->cap_dirty ? b->cap_dirty * 2 : 64;
            TEntry **v = realloc(b->dirty, cap * sizeof *v);
            if (!v) {
                log_err("out of memory");
                abort();
            }
            b->dirty = v;
            b->cap_dirty = cap;
        }
        b->dirty[b->n_dirty++] = te;
        te->dirty = true;
        b->n_effects++;
    }
    int64_t due = tkt_next_due(te->t);
    if (due == TU_NEVER)
        th_remove(&e->heap, &te->node);
    else if (th_set(&e->heap, &te->node, due) < 0) {
        log_err("out of memory");
        abort();
    }
}

/* Moves the alerts in e->scratch into the open batch. */
static void take_alerts(Engine *e)
{
    Batch *b = &e->open;
    int64_t now = wall_now(e);
    for (size_t i = 0; i < e->scratch.n; i++) {
        Alert *a = &e->scratch.v[i];
        a->emitted_at = now;
        json_t *o = alert_to_json(a, utc_off(e));
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        OutMsg *m = calloc(1, sizeof *m);
        if (!o || !s || !m) {
            log_err("out of memory");
            abort();
        }
        json_array_append_new(doc_array(b, "alerts"), o);
        m->kind = OUT_ALERT;
        m->key = strdup(a->alert_id);
        m->payload = s;
        m->alert_id = strdup(a->alert_id);
        m->status = strdup(alert_status_name(a->status));
        batch_out(b, m);
        b->n_effects++;
        e->n_alerts++;
        log_info("alert %s %s", a->alert_id, alert_status_name(a->status));
    }
    alert_list_reset(&e->scratch);
}

static void dead_letter(Engine *e, const char *reason, const char *detail, const char *topic, int32_t partition,
                        int64_t offset, const char *key, const void *payload, size_t len)
{
    Batch *b = &e->open;
    char *rec = dlq_encode(reason, detail, topic, partition, offset, payload, len);
    OutMsg *m = calloc(1, sizeof *m);
    if (!rec || !m) {
        log_err("out of memory");
        abort();
    }
    json_array_append_new(doc_array(b, "dead_letters"),
                          json_pack("{s:s,s:i,s:I,s:s,s:s,s:s}", "source_topic", topic, "partition", (int)partition,
                                    "offset", (json_int_t)offset, "reason", reason, "detail", detail ? detail : "",
                                    "record", rec));
    m->kind = OUT_DLQ;
    m->key = key ? strdup(key) : NULL;
    m->payload = rec;
    m->src_topic = strdup(topic);
    m->src_partition = partition;
    m->src_offset = offset;
    batch_out(b, m);
    b->n_effects++;
    e->n_dead++;
    log_info("dead letter %s[%d]@%" PRId64 ": %s: %s", topic, (int)partition, offset, reason, detail ? detail : "");
}

/* ---- deadlines ---------------------------------------------------------- */

static void oom(void)
{
    log_err("out of memory");
    abort();
}

static int64_t rule_now(const Engine *e);

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
        oom();
    for (size_t i = 0; i < ep->n_ids; i++)
        if (!(a.ticket_ids[a.n_ticket_ids++] = strdup(ep->ids[i])))
            oom();
    alert_make_id(&a);
    if (!alert_list_push(&e->scratch, &a))
        oom();
    alert_clear(&a);
}

static void bulk_rearm(Engine *e, BulkKey *bk)
{
    int64_t due = bulk_end_at(bk->w, e->policy->bulk_threshold, e->policy->bulk_window, rule_now(e));
    if (due == TU_NEVER)
        th_remove(&e->bulk_heap, &bk->node);
    else if (th_set(&e->bulk_heap, &bk->node, due) < 0)
        oom();
}

static BulkKey *bulk_key(Engine *e, Category cat, const char *site)
{
    char k[EVT_SITE_MAX + 32];
    snprintf(k, sizeof k, "%s/%s", evt_category_name(cat), site);
    BulkKey *bk = sm_get(e->bulk, k);
    if (bk)
        return bk;
    bk = calloc(1, sizeof *bk);
    if (!bk || !(bk->w = bulk_new()) || sm_put(e->bulk, k, bk) < 0)
        oom();
    th_node_init(&bk->node);
    bk->category = cat;
    snprintf(bk->site, sizeof bk->site, "%s", site);
    return bk;
}

static void touch(Engine *e, TEntry *te);

/* Counts a new ticket in its issue key's window (contract §7). */
static void bulk_count(Engine *e, TEntry *te, int threshold)
{
    Ticket *t = te->t;
    if (!t->issue_site[0])
        return;
    BulkKey *bk = bulk_key(e, t->category, t->issue_site);
    BulkOutcome oc;
    BulkEpisode ep;
    if (bulk_add(bk->w, t->received_at, t->id, threshold, e->policy->bulk_window, &oc, &ep) < 0)
        oom();
    if (oc == BULK_STARTED) {
        bulk_alert(e, bk, AS_FIRING, &ep, 0);
        take_alerts(e);
        for (size_t i = 0; i < ep.n_ids; i++) {
            TEntry *m = sm_get(e->tickets, ep.ids[i]);
            if (m && tkt_open(m->t)) {
                tkt_make_urgent(m->t, RSN_BULK, ep.condition_at, e->policy, rule_now(e), &e->scratch);
                take_alerts(e);
                touch(e, m);
            }
        }
    } else if (oc == BULK_JOINED) {
        int64_t at = t->received_at > ep.condition_at ? t->received_at : ep.condition_at;
        tkt_make_urgent(t, RSN_BULK, at, e->policy, rule_now(e), &e->scratch);
        take_alerts(e);
        touch(e, te);
    }
    bulk_rearm(e, bk);
}

/* ---- repeat complaints -------------------------------------------------- */

static void idx_add(StrMap *m, const char *key, TEntry *te)
{
    IdxList *l = sm_get(m, key);
    if (!l && (!(l = calloc(1, sizeof *l)) || sm_put(m, key, l) < 0))
        oom();
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == te)
            return;
    TEntry **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        oom();
    l->v = v;
    l->v[l->n++] = te;
}

static void customer_key(const Ticket *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s\x1f%s", t->customer_ref, evt_category_name(t->category));
}

static void index_ticket(Engine *e, TEntry *te)
{
    if (te->t->waybill[0])
        idx_add(e->by_waybill, te->t->waybill, te);
    if (te->t->customer_ref[0]) {
        char k[EVT_REF_MAX + 32];
        customer_key(te->t, k, sizeof k);
        idx_add(e->by_customer, k, te);
    }
}

/* A new ticket matching one resolved within repeat_lookback (contract §7):
 * by waybill, or without a waybill by customer_ref + category. */
static void check_repeat(Engine *e, TEntry *te)
{
    Ticket *t = te->t;
    IdxList *l = NULL;
    char k[EVT_REF_MAX + 32];
    if (t->waybill[0]) {
        l = sm_get(e->by_waybill, t->waybill);
    } else if (t->customer_ref[0]) {
        customer_key(t, k, sizeof k);
        l = sm_get(e->by_customer, k);
    }
    const Ticket *prev = NULL;
    for (size_t i = 0; l && i < l->n; i++) {
        const Ticket *c = l->v[i]->t;
        if (c == t || c->last_resolved_at == 0 || c->last_resolved_at > t->received_at ||
            c->last_resolved_at < t->received_at - e->policy->repeat_lookback)
            continue;
        if (t->waybill[0] && strcmp(c->waybill, t->waybill) != 0)
            continue;
        if (!prev || c->last_resolved_at > prev->last_resolved_at)
            prev = c;
    }
    if (prev) {
        tkt_mark_repeat(t, prev->id, t->received_at, e->policy, rule_now(e), &e->scratch);
        take_alerts(e);
    }
}

/* ---- parcels ------------------------------------------------------------ */

/* Responsibility of a loss or delay ticket from its parcel's latest scan. */
static bool update_responsible(Engine *e, Ticket *t)
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
        oom();
    alert_clear(&a);
    take_alerts(e);
}

/* ---- deadlines ---------------------------------------------------------- */

/* Fires every deadline due at or before `limit` — tickets, bulk episode ends,
 * parcel stalls — in time order. */
static void fire_due(Engine *e, int64_t limit)
{
    for (;;) {
        ThNode *tn = th_peek(&e->heap);
        ThNode *bn = th_peek(&e->bulk_heap);
        int64_t pdue = TU_NEVER;
        Parcel *p = ps_next_due(e->parcels, &pdue);
        int64_t tdue = tn ? tn->due : TU_NEVER, bdue = bn ? bn->due : TU_NEVER;
        int64_t due = tdue < bdue ? tdue : bdue;
        if (pdue < due)
            due = pdue;
        if (due == TU_NEVER || due > limit)
            return;
        if (due == tdue) {
            TEntry *te = (TEntry *)tn;
            tkt_advance(te->t, due, &e->scratch);
            take_alerts(e);
            if (tkt_next_due(te->t) <= due) {
                /* Nothing moved: never spin on a stuck entry. */
                log_warn("ticket %s: deadline at %" PRId64 " did not fire", te->t->id, due);
                th_remove(&e->heap, &te->node);
            }
            touch(e, te);
        } else if (due == bdue) {
            BulkKey *bk = (BulkKey *)bn;
            BulkEpisode ep;
            bulk_end(bk->w, due, e->policy->bulk_window, &ep);
            bulk_alert(e, bk, AS_RESOLVED, &ep, due);
            take_alerts(e);
            th_remove(&e->bulk_heap, &bk->node);
            e->open.n_effects++;
        } else {
            LatestScan ls;
            ps_parcel_latest(e->parcels, p, &ls);
            stall_alert(e, ps_waybill(e->parcels, p), AS_FIRING, &ls, ls.at, 0);
            ps_mark_stalled(e->parcels, p);
        }
    }
}

/* The clock the rules run on, after seeing an event of time `at`. */
static int64_t clock_for_event(Engine *e, int64_t at)
{
    if (e->cfg->clock_mode == CLOCK_WALL)
        return wall_now(e);
    if (at > e->event_clock) {
        /* Deadlines that fall before this event fire before it is applied. */
        fire_due(e, at - 1);
        e->event_clock = at;
    }
    return e->event_clock;
}

static int64_t rule_now(const Engine *e)
{
    return e->cfg->clock_mode == CLOCK_WALL ? wall_now(e) : e->event_clock;
}

/* ---- events ------------------------------------------------------------- */

static json_t *event_body(const Engine *e, const ComplaintEvent *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(evt_type_name(ev->type)));
    json_object_set_new(o, "occurred_at", jtime(e, ev->occurred_at));
    if (ev->has & EVF_CHANNEL)
        json_object_set_new(o, "channel", json_string(evt_channel_name(ev->channel)));
    if (ev->has & EVF_CATEGORY)
        json_object_set_new(o, "category", json_string(evt_category_name(ev->category)));
    if (ev->has & EVF_WAYBILL)
        json_object_set_new(o, "waybill", json_string(ev->waybill));
    if (ev->has & EVF_SITE)
        json_object_set_new(o, "site", json_string(ev->site));
    if (ev->has & EVF_REGION)
        json_object_set_new(o, "region", json_string(ev->region));
    if (ev->has & EVF_CLAIM)
        json_object_set_new(o, "claim", json_boolean(ev->claim));
    if (ev->has & EVF_MAJOR)
        json_object_set_new(o, "major", json_boolean(ev->major));
    if (ev->has & EVF_CUSTOMER_REF)
        json_object_set_new(o, "customer_ref", json_string(ev->customer_ref));
    if (ev->type == CT_REVISIT)
        json_object_set_new(o, "satisfied", json_boolean(ev->satisfied));
    if (ev->type == CT_EXTENDED) {
        json_object_set_new(o, "stage", json_string(ev->ext_stage == EXT_FIRST_REPLY ? "first_reply" : "resolve"));
        json_object_set_new(o, "hours", json_integer(ev->ext_hours));
        if (ev->approved_by[0])
            json_object_set_new(o, "approved_by", json_string(ev->approved_by));
    }
    return o;
}

static void remember_id(Engine *e, const char *id)
{
    if (sm_put(e->event_ids, id, (void *)1) < 0) {
        log_err("out of memory");
        abort();
    }
}

static void record_event(Engine *e, const ComplaintEvent *ev, const char *effect, const char *topic,
                         int32_t partition, int64_t offset)
{
    json_array_append_new(doc_array(&e->open, "events"),
                          json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:i,s:I,s:o}", "event_id", ev->event_id, "ticket_id",
                                    ev->ticket_id, "type", evt_type_name(ev->type), "occurred_at",
                                    jtime(e, ev->occurred_at), "effect", effect, "source_topic", topic,
                                    "source_partition", (int)partition, "source_offset", (json_int_t)offset,
                                    "body", event_body(e, ev)));
    remember_id(e, ev->event_id);
    if (strcmp(effect, "applied") == 0)
        e->n_applied++;
    else
        e->n_history++;
}

static void apply_to_ticket(Engine *e, TEntry *te, const ComplaintEvent *ev, const char *topic, int32_t partition,
                            int64_t offset, const char *key, const char *payload, size_t len)
{
    char detail[EVT_DETAIL_MAX];
    TktResult r = tkt_apply(te->t, ev, e->policy, rule_now(e), &e->scratch, detail, sizeof detail);
    take_alerts(e);
    if (r == TKT_INVALID) {
        dead_letter(e, "invalid_transition", detail, topic, partition, offset, key, payload, len);
        return;
    }
    record_event(e, ev, r == TKT_APPLIED ? "applied" : "history", topic, partition, offset);
    if (r == TKT_APPLIED && ev->type == CT_UPDATED) {
        index_ticket(e, te);
        if (update_responsible(e, te->t))
            log_debug("ticket %s: responsibility %s", te->t->id, te->t->responsible.rule);
    }
    touch(e, te);
}

static void held_free(Held *h)
{
    free(h->topic);
    free(h->payload);
    free(h);
}

static void hold(Engine *e, const ComplaintEvent *ev, const char *topic, int32_t partition, int64_t offset,
                 const char *payload, size_t len, int64_t held_since, bool persist)
{
    HeldList *l = sm_get(e->held, ev->ticket_id);
    Held *h = calloc(1, sizeof *h);
    Held **v = NULL;
    if (!l && (!(l = calloc(1, sizeof *l)) || sm_put(e->held, ev->ticket_id, l) < 0))
        goto oom;
    if (!h || !(v = realloc(l->v, (l->n + 1) * sizeof *v)))
        goto oom;
    l->v = v;
    h->ev = *ev;
    h->held_since = held_since;
    h->topic = strdup(topic);
    h->partition = partition;
    h->offset = offset;
    h->payload = strndup(payload, len);
    h->len = len;
    l->v[l->n++] = h;
    remember_id(e, ev->event_id);
    if (persist) {
        json_array_append_new(doc_array(&e->open, "held"),
                              json_pack("{s:s,s:s,s:o,s:o,s:s,s:i,s:I,s:s%}", "event_id", ev->event_id, "ticket_id",
                                        ev->ticket_id, "occurred_at", jtime(e, ev->occurred_at), "held_since",
                                        jtime(e, held_since), "source_topic", topic, "source_partition",
                                        (int)partition, "source_offset", (json_int_t)offset, "payload", payload,
                                        len));
        e->open.n_effects++;
        e->n_held++;
        log_debug("held %s for unknown ticket %s", ev->event_id, ev->ticket_id);
    }
    return;
oom:
    log_err("out of memory");
    abort();
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

/* The ticket's `received` arrived: apply what waited for it, in event-time order. */
static void release_held(Engine *e, TEntry *te)
{
    HeldList *l = sm_del(e->held, te->t->id);
    if (!l)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_held);
    for (size_t i = 0; i < l->n; i++) {
        Held *h = l->v[i];
        json_array_append_new(doc_array(&e->open, "released"), json_string(h->ev.event_id));
        /* The held id was remembered; applying records it for good. */
        sm_del(e->event_ids, h->ev.event_id);
        apply_to_ticket(e, te, &h->ev, h->topic, h->partition, h->offset, h->ev.ticket_id, h->payload, h->len);
        held_free(h);
    }
    free(l->v);
    free(l);
}

static TEntry *new_entry(Engine *e, Ticket *t)
{
    TEntry *te = calloc(1, sizeof *te);
    if (!te || sm_put(e->tickets, t->id, te) < 0) {
        log_err("out of memory");
        abort();
    }
    th_node_init(&te->node);
    te->t = t;
    return te;
}

static void handle_complaint(Engine *e, const rd_kafka_message_t *m, const char *topic, const char *key)
{
    ComplaintEvent ev;
    char detail[EVT_DETAIL_MAX];
    const char *payload = m->payload ? (const char *)m->payload : "";
    EvtStatus st = evt_decode_complaint(payload, m->len, (size_t)e->cfg->max_event_bytes, &ev, detail, sizeof detail);
    if (st != EVT_OK) {
        dead_letter(e, evt_status_name(st), detail, topic, m->partition, m->offset, key, payload, m->len);
        return;
    }
    if (sm_has(e->event_ids, ev.event_id)) {
        e->n_duplicates++;
        log_debug("duplicate event %s", ev.event_id);
        return;
    }
    int64_t now = clock_for_event(e, ev.occurred_at);
    TEntry *te = sm_get(e->tickets, ev.ticket_id);
    if (!te) {
        if (ev.type != CT_RECEIVED) {
            hold(e, &ev, topic, m->partition, m->offset, payload, m->len, wall_now(e), true);
            return;
        }
        Ticket *t = tkt_new(&ev, e->policy, &e->scratch);
        if (!t) {
            log_err("out of memory");
            abort();
        }
        te = new_entry(e, t);
        /* The bulk issue key: the complaint's site, else its parcel's latest scan. */
        LatestScan ls;
        if (t->site[0])
            snprintf(t->issue_site, sizeof t->issue_site, "%s", t->site);
        else if (t->waybill[0] && ps_latest(e->parcels, t->waybill, &ls) && ls.site)
            snprintf(t->issue_site, sizeof t->issue_site, "%s", ls.site);
        /* The escalation tkt_new raised carries the responsibility too. */
        if (update_responsible(e, t))
            for (size_t i = 0; i < e->scratch.n; i++)
                tkt_fill_alert(t, &e->scratch.v[i]);
        take_alerts(e);
        record_event(e, &ev, "applied", topic, m->partition, m->offset);
        check_repeat(e, te);
        index_ticket(e, te);
        bulk_count(e, te, e->policy->bulk_threshold);
        touch(e, te);
        release_held(e, te);
    } else {
        apply_to_ticket(e, te, &ev, topic, m->partition, m->offset, key, payload, m->len);
    }
    if (e->cfg->clock_mode == CLOCK_EVENT)
        fire_due(e, now);
}

static void handle_scan(Engine *e, const rd_kafka_message_t *m, const char *topic, const char *key)
{
    ScanEvent sc;
    char detail[EVT_DETAIL_MAX];
    const char *payload = m->payload ? (const char *)m->payload : "";
    EvtStatus st = evt_decode_scan(payload, m->len, (size_t)e->cfg->max_event_bytes, &sc, detail, sizeof detail);
    if (st != EVT_OK) {
        dead_letter(e, evt_status_name(st), detail, topic, m->partition, m->offset, key, payload, m->len);
        return;
    }
    int64_t now = clock_for_event(e, sc.occurred_at);
    json_array_append_new(
        doc_array(&e->open, "scans"),
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:i,s:I}", "event_id", sc.event_id, "waybill", sc.waybill,
                  "scan_type", evt_scan_type_name(sc.scan_type), "site", sc.site, "site_role",
                  evt_role_name(sc.site_role), "next_site", sc.next_site[0] ? json_string(sc.next_site) : json_null(),
                  "next_site_role",
                  sc.next_site_role != ROLE_NONE ? json_string(evt_role_name(sc.next_site_role)) : json_null(),
                  "occurred_at", jtime(e, sc.occurred_at), "source_topic", topic, "source_partition",
                  (int)m->partition, "source_offset", (json_int_t)m->offset));
    e->open.n_effects++;
    e->n_scans++;
    PsResult res;
    bool was_stalled = false;
    int64_t prev_at = 0;
    if (ps_apply(e->parcels, &sc, e->policy->stall_after, &res, &was_stalled, &prev_at) < 0)
        oom();
    if (res == PS_LATEST) {
        if (was_stalled)
            stall_alert(e, sc.waybill, AS_RESOLVED, NULL, prev_at, sc.occurred_at);
        /* Open loss/delay tickets of this parcel follow its scan chain. */
        IdxList *l = sm_get(e->by_waybill, sc.waybill);
        for (size_t i = 0; l && i < l->n; i++) {
            TEntry *te = l->v[i];
            if (tkt_open(te->t) && strcmp(te->t->waybill, sc.waybill) == 0 && update_responsible(e, te->t))
                touch(e, te);
        }
    }
    if (e->cfg->clock_mode == CLOCK_EVENT)
        fire_due(e, now);
}

static Offset *offset_entry(Engine *e, const char *topic, int32_t partition, bool create)
{
    char k[512];
    snprintf(k, sizeof k, "%s/%d", topic, (int)partition);
    Offset *o = sm_get(e->offsets, k);
    if (o || !create)
        return o;
    o = calloc(1, sizeof *o);
    if (!o || !(o->topic = strdup(topic)) || sm_put(e->offsets, k, o) < 0) {
        log_err("out of memory");
        abort();
    }
    o->partition = partition;
    return o;
}

static bool on_message(void *arg, const rd_kafka_message_t *m)
{
    Engine *e = arg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    char key[256] = "";
    if (m->key && m->key_len) {
        size_t n = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
        memcpy(key, m->key, n);
        key[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (key[i] == '\0')
                key[i] = '?';
    }
    const char *k = m->key ? key : NULL;
    if (strcmp(topic, e->cfg->complaints_topic) == 0)
        handle_complaint(e, m, topic, k);
    else if (strcmp(topic, e->cfg->scans_topic) == 0)
        handle_scan(e, m, topic, k);
    Offset *o = offset_entry(e, topic, m->partition, true);
    if (m->offset + 1 > o->next)
        o->next = m->offset + 1;
    o->dirty = true;
    e->open.n_events++;
    /* Hold back while a full batch waits for the one in flight. */
    return !(e->inflight && e->open.n_events >= (size_t)e->cfg->batch_max);
}

static void on_assign(void *arg, rd_kafka_topic_partition_list_t *parts)
{
    Engine *e = arg;
    for (int i = 0; i < parts->cnt; i++) {
        Offset *o = offset_entry(e, parts->elems[i].topic, parts->elems[i].partition, false);
        parts->elems[i].offset = o ? o->next : RD_KAFKA_OFFSET_BEGINNING;
    }
}

static void on_revoke(void *arg, const rd_kafka_topic_partition_list_t *parts)
{
    (void)arg, (void)parts;
    /* Nothing is queued locally: every consumed message is already applied,
     * and its offset goes to PostgreSQL with the open batch. */
}

/* ---- commit and publish ------------------------------------------------- */

static void publish(Engine *e, OutMsg *m)
{
    const char *topic = m->kind == OUT_ALERT ? e->cfg->alerts_topic : e->cfg->dlq_topic;
    if (kq_produce(e->kq, topic, m->key, m->payload, strlen(m->payload), m) < 0) {
        /* Local queue trouble: it stays unsent in the outbox and goes out at the next start. */
        out_free(m);
    }
}

static void on_delivered(void *arg, void *opaque, bool ok, const char *err)
{
    Engine *e = arg;
    OutMsg *m = opaque;
    if (!ok) {
        log_warn("publish failed (%s); retrying", err ? err : "?");
        publish(e, m);
        return;
    }
    if (m->kind == OUT_ALERT)
        json_array_append_new(doc_array(&e->open, "sent_alerts"), json_pack("[s,s]", m->alert_id, m->status));
    else
        json_array_append_new(doc_array(&e->open, "sent_dead_letters"),
                              json_pack("[s,i,I]", m->src_topic, (int)m->src_partition, (json_int_t)m->src_offset));
    out_free(m);
}

static bool batch_empty(Engine *e)
{
    Batch *b = &e->open;
    return b->n_events == 0 && b->n_effects == 0 && json_array_size(doc_array(b, "sent_alerts")) == 0 &&
           json_array_size(doc_array(b, "sent_dead_letters")) == 0;
}

static void send_inflight(Engine *e);

static void on_committed(void *arg, bool ok, PGresult *res, const char *err)
{
    (void)res;
    Engine *e = arg;
    Batch *b = e->inflight;
    if (!ok) {
        log_err("batch commit failed: %s; will retry", err ? err : "?");
        e->retry_at = ev_now(e->loop) + 1.0;
        return;
    }
    e->n_batches++;
    for (OutMsg *m = b->out_head, *n; m; m = n) {
        n = m->next;
        publish(e, m);
    }
    b->out_head = b->out_tail = NULL;
    if (b->kafka_offsets)
        kq_commit_async(e->kq, b->kafka_offsets);
    batch_clear(b);
    free(b);
    e->inflight = NULL;
    /* A full batch may have held back consumption. */
    kq_drain(e->kq);
}

static void send_inflight(Engine *e)
{
    const char *params[1] = {e->inflight->sql_arg};
    if (db_send(e->db, "SELECT complaintd_apply_batch($1::jsonb)", 1, params, on_committed, e) < 0)
        e->retry_at = ev_now(e->loop) + 1.0;
    else
        e->retry_at = 0;
}

static void flush(Engine *e)
{
    Batch *b = malloc(sizeof *b);
    if (!b) {
        log_err("out of memory");
        abort();
    }
    *b = e->open;
    batch_init(&e->open);
    json_t *tickets = doc_array(b, "tickets");
    for (size_t i = 0; i < b->n_dirty; i++) {
        TEntry *te = b->dirty[i];
        const Ticket *t = te->t;
        te->dirty = false;
        json_t *reasons = json_array();
        for (int r = 0; r < RSN__COUNT; r++)
            if (t->reasons & (1u << r))
                json_array_append_new(reasons, json_string(alert_reason_name(1u << r)));
        json_t *row = json_object();
        json_object_set_new(row, "ticket_id", json_string(t->id));
        json_object_set_new(row, "status", json_string(tkt_status(t)));
        json_object_set_new(row, "round", json_integer(t->round));
        json_object_set_new(row, "priority", json_string(t->urgent ? "urgent" : "normal"));
        json_object_set_new(row, "reasons", reasons);
        json_object_set_new(row, "channel", json_string(evt_channel_name(t->channel)));
        json_object_set_new(row, "category", json_string(evt_category_name(t->category)));
        json_object_set_new(row, "claim", json_boolean(t->claim));
        json_object_set_new(row, "major", json_boolean(t->major));
        json_object_set_new(row, "waybill", t->waybill[0] ? json_string(t->waybill) : json_null());
        json_object_set_new(row, "site", t->site[0] ? json_string(t->site) : json_null());
        json_object_set_new(row, "region", t->region[0] ? json_string(t->region) : json_null());
        json_object_set_new(row, "customer_ref", t->customer_ref[0] ? json_string(t->customer_ref) : json_null());
        json_object_set_new(row, "received_at", jtime(e, t->received_at));
        json_object_set_new(row, "round_started_at", jtime(e, t->round_start));
        static const char *const done_cols[STG__COUNT] = {"contacted_at", "first_reply_at", "resolved_at",
                                                          "revisit_at"};
        static const char *const dl_cols[STG__COUNT] = {"contact_deadline", "first_reply_deadline",
                                                        "resolve_deadline", "revisit_deadline"};
        for (int s = 0; s < STG__COUNT; s++) {
            json_object_set_new(row, done_cols[s], t->tg[s].done ? jtime(e, t->tg[s].done_at) : json_null());
            json_object_set_new(row, dl_cols[s], jtime(e, t->tg[s].deadline));
        }
        json_object_set_new(row, "paused", json_boolean(t->n_pauses > 0 && t->pauses[t->n_pauses - 1].end == TU_NEVER));
        json_object_set_new(row, "closed_at", t->closed ? jtime(e, t->closed_at) : json_null());
        json_object_set_new(row, "last_resolved_at", jtime(e, t->last_resolved_at));
        json_object_set_new(row, "responsible",
                            t->responsible.known
                                ? json_pack("{s:o,s:o,s:s}", "site",
                                            t->responsible.site[0] ? json_string(t->responsible.site) : json_null(),
                                            "role",
                                            t->responsible.role >= 0
                                                ? json_string(evt_role_name((SiteRole)t->responsible.role))
                                                : json_null(),
                                            "rule", t->responsible.rule)
                                : json_null());
        json_object_set_new(row, "state", tkt_to_json(t));
        json_array_append_new(tickets, row);
    }
    json_t *offs = doc_array(b, "offsets");
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(e->offsets, &it, &k, &v);) {
        Offset *o = v;
        if (!o->dirty)
            continue;
        o->dirty = false;
        json_array_append_new(offs, json_pack("{s:s,s:i,s:I}", "topic", o->topic, "partition", (int)o->partition,
                                              "next_offset", (json_int_t)o->next));
        if (!b->kafka_offsets)
            b->kafka_offsets = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(b->kafka_offsets, o->topic, o->partition)->offset = o->next;
    }
    json_object_set_new(b->doc, "group_id", json_string(e->cfg->group_id));
    json_object_set_new(b->doc, "state", json_pack("{s:I}", "event_clock", (json_int_t)e->event_clock));
    b->sql_arg = json_dumps(b->doc, JSON_COMPACT);
    if (!b->sql_arg) {
        log_err("out of memory");
        abort();
    }
    log_debug("committing batch: %zu events, %zu tickets, %zu alerts", b->n_events, b->n_dirty,
              json_array_size(doc_array(b, "alerts")));
    e->inflight = b;
    e->last_flush = ev_now(e->loop);
    send_inflight(e);
}

static void check_stopped(Engine *e)
{
    if (!e->stopping || e->inflight || !batch_empty(e))
        return;
    if (kq_outq_len(e->kq) > 0 && ev_now(e->loop) - e->stop_started < 30.0)
        return;
    if (kq_outq_len(e->kq) > 0)
        log_warn("stopping with %d alerts unpublished; they stay in the outbox", kq_outq_len(e->kq));
    void (*done)(void *) = e->stop_done;
    e->stop_done = NULL;
    if (done)
        done(e->stop_arg);
}

/* Runs once per loop iteration, after the callbacks: commit what they did. */
static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop, (void)revents;
    Engine *e = w->data;
    ev_tstamp now = ev_now(e->loop);
    if (e->inflight) {
        if (e->retry_at > 0 && now >= e->retry_at && db_ready(e->db))
            send_inflight(e);
    } else if (!batch_empty(e) && db_ready(e->db)) {
        bool only_marks = e->open.n_events == 0 && e->open.n_effects == 0;
        /* Delivery marks alone wait a little to share a transaction. */
        if (!only_marks || now - e->last_flush >= 0.5 || e->stopping)
            flush(e);
    }
    /* Re-arm the wall-clock deadline timer at the earliest deadline. */
    if (e->cfg->clock_mode == CLOCK_WALL) {
        ThNode *n = th_peek(&e->heap);
        ev_periodic_stop(e->loop, &e->deadline_timer);
        if (n) {
            ev_periodic_set(&e->deadline_timer, (ev_tstamp)n->due, 0, 0);
            ev_periodic_start(e->loop, &e->deadline_timer);
        }
    }
    check_stopped(e);
}

static void deadline_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
    (void)loop, (void)revents;
    Engine *e = w->data;
    fire_due(e, wall_now(e));
}

/* Held events whose ticket never arrived become dead letters. */
static void expire_held(Engine *e)
{
    int64_t now = wall_now(e);
    const char *k;
    void *v;
    char **expired = NULL;
    size_t n_expired = 0;
    for (size_t it = 0; sm_next(e->held, &it, &k, &v);) {
        HeldList *l = v;
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i]->held_since + e->policy->hold_timeout <= now) {
                char **x = realloc(expired, (n_expired + 1) * sizeof *x);
                if (!x)
                    return;
                expired = x;
                expired[n_expired++] = strdup(k);
                break;
            }
        }
    }
    for (size_t j = 0; j < n_expired; j++) {
        HeldList *l = sm_get(e->held, expired[j]);
        size_t keep = 0;
        for (size_t i = 0; l && i < l->n; i++) {
            Held *h = l->v[i];
            if (h->held_since + e->policy->hold_timeout > now) {
                l->v[keep++] = h;
                continue;
            }
            char detail[EVT_DETAIL_MAX];
            snprintf(detail, sizeof detail, "ticket_id: no received event for %s within %" PRId64 "s",
                     h->ev.ticket_id, e->policy->hold_timeout);
            json_array_append_new(doc_array(&e->open, "released"), json_string(h->ev.event_id));
            dead_letter(e, "unknown_ticket", detail, h->topic, h->partition, h->offset, h->ev.ticket_id, h->payload,
                        h->len);
            held_free(h);
        }
        if (l) {
            l->n = keep;
            if (keep == 0) {
                sm_del(e->held, expired[j]);
                free(l->v);
                free(l);
            }
        }
        free(expired[j]);
    }
    free(expired);
}

static void housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Engine *e = w->data;
    expire_held(e);
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(e->bulk, &it, &k, &v);)
        bulk_prune(((BulkKey *)v)->w, rule_now(e) - BULK_LATE_HORIZON - e->policy->bulk_window);
    /* Delivered parcels are kept for complaints about them for the look-back;
     * the sweep is O(parcels), so hourly (on the rule clock) is enough. */
    if (rule_now(e) - e->last_prune >= 3600) {
        e->last_prune = rule_now(e);
        size_t n = ps_prune_signed(e->parcels, rule_now(e) - e->policy->repeat_lookback);
        if (n)
            log_info("forgot %zu parcels signed more than the look-back ago", n);
    }
    if (e->cfg->clock_mode == CLOCK_WALL)
        fire_due(e, wall_now(e));
    if (ev_now(e->loop) - e->last_status >= 60.0) {
        e->last_status = ev_now(e->loop);
        char s[256];
        engine_status(e, s, sizeof s);
        log_info("%s", s);
    }
}

/* ---- lifecycle ---------------------------------------------------------- */

Engine *engine_new(struct ev_loop *loop, const Config *cfg)
{
    Engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->loop = loop;
    e->cfg = cfg;
    e->policy = pol_clone(cfg->policy);
    e->tickets = sm_new();
    e->event_ids = sm_new();
    e->held = sm_new();
    e->offsets = sm_new();
    e->by_waybill = sm_new();
    e->by_customer = sm_new();
    e->bulk = sm_new();
    e->parcels = ps_new();
    th_init(&e->heap);
    th_init(&e->bulk_heap);
    batch_init(&e->open);
    if (!e->policy || !e->tickets || !e->event_ids || !e->held || !e->offsets || !e->open.doc || !e->by_waybill ||
        !e->by_customer || !e->bulk || !e->parcels) {
        engine_free(e);
        return NULL;
    }
    ev_periodic_init(&e->deadline_timer, deadline_cb, 0, 0, 0);
    e->deadline_timer.data = e;
    ev_timer_init(&e->housekeeping, housekeeping_cb, 1.0, 1.0);
    e->housekeeping.data = e;
    ev_prepare_init(&e->prepare, prepare_cb);
    e->prepare.data = e;
    return e;
}

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

static PGresult *load_query(PGconn *c, const char *sql, int n, const char *const *params, char *err,
                            size_t errlen);

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
        index_ticket(e, te);
        if (te->t->issue_site[0] && te->t->received_at >= horizon) {
            BulkKey *bk = bulk_key(e, te->t->category, te->t->issue_site);
            BulkOutcome oc;
            BulkEpisode ep;
            if (bulk_add(bk->w, te->t->received_at, te->t->id, INT_MAX, e->policy->bulk_window, &oc, &ep) < 0)
                oom();
        }
    }
    static const char *const open_alerts =
        "SELECT payload::text FROM alerts a WHERE type = $1 AND status = 'firing' AND NOT EXISTS "
        "(SELECT 1 FROM alerts r WHERE r.alert_id = a.alert_id AND r.status <> 'firing')";
    const char *p1[1] = {"bulk_complaint"};
    PGresult *r = load_query(c, open_alerts, 1, p1, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        const json_t *cat = json_object_get(o, "category"), *site = json_object_get(o, "site");
        const json_t *ids = json_object_get(o, "ticket_ids");
        int ci = json_is_string(cat) ? evt_category_from_name(json_string_value(cat)) : -1;
        if (ci >= 0 && json_is_string(site) && json_is_array(ids)) {
            BulkKey *bk = bulk_key(e, (Category)ci, json_string_value(site));
            size_t n = json_array_size(ids);
            const char **idv = calloc(n ? n : 1, sizeof *idv);
            if (!idv)
                oom();
            for (size_t j = 0; j < n; j++)
                idv[j] = json_string_value(json_array_get(ids, j));
            if (bulk_restore(bk->w, json_time(o, "window_start"), json_time(o, "condition_at"), idv, n) < 0)
                oom();
            free(idv);
            bulk_rearm(e, bk);
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
        BulkKey *bk = bulk_key(e, (Category)ci, PQgetvalue(r, i, 1));
        int64_t cur;
        if (!bulk_last_start(bk->w, &cur) || cur < ws)
            bulk_restore_last_start(bk->w, ws);
    }
    PQclear(r);

    /* Parcels: each one's latest scan, ties broken by the table's row order. */
    StrMap *stalled = sm_new();
    if (!stalled)
        oom();
    const char *p2[1] = {"parcel_stalled"};
    r = load_query(c, "SELECT alert_id FROM alerts a WHERE type = $1 AND status = 'firing' AND NOT EXISTS "
                      "(SELECT 1 FROM alerts r WHERE r.alert_id = a.alert_id AND r.status <> 'firing')",
                   1, p2, err, errlen);
    if (!r) {
        sm_free(stalled);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (sm_put(stalled, PQgetvalue(r, i, 0), (void *)1) < 0)
            oom();
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
            oom();
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
        Offset *o = offset_entry(e, PQgetvalue(r, i, 0), (int32_t)atoi(PQgetvalue(r, i, 1)), true);
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
        TEntry *te = new_entry(e, t);
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
        remember_id(e, PQgetvalue(r, i, 0));
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
        hold(e, &ev, PQgetvalue(r, i, 2), (int32_t)atoi(PQgetvalue(r, i, 3)), strtoll(PQgetvalue(r, i, 4), NULL, 10),
             p, len, strtoll(PQgetvalue(r, i, 1), NULL, 10), false);
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
static int publish_unsent(Engine *e, char *err, size_t errlen)
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
        publish(e, m);
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
        publish(e, m);
    }
    if (na + PQntuples(r) > 0)
        log_info("republishing %d alerts and %d dead letters left unsent", na, PQntuples(r));
    PQclear(r);
    return 0;
}

int engine_start(Engine *e, char *err, size_t errlen)
{
    KqHandlers h = {
        .message = on_message,
        .assign = on_assign,
        .revoke = on_revoke,
        .delivered = on_delivered,
        .arg = e,
    };
    e->kq = kq_new(e->loop, e->cfg, &h, err, errlen);
    if (!e->kq)
        return -1;
    if (publish_unsent(e, err, errlen) < 0)
        return -1;
    if (kq_subscribe(e->kq, err, errlen) < 0)
        return -1;
    ev_prepare_start(e->loop, &e->prepare);
    ev_timer_start(e->loop, &e->housekeeping);
    return 0;
}

void engine_set_policy(Engine *e, Policy *p)
{
    pol_free(e->policy);
    e->policy = p;
    int64_t now = rule_now(e);
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(e->tickets, &it, &k, &v);) {
        TEntry *te = v;
        if (!tkt_open(te->t))
            continue;
        tkt_recompute(te->t, p, now, &e->scratch);
        take_alerts(e);
        touch(e, te);
    }
}

void engine_stop(Engine *e, void (*done)(void *), void *arg)
{
    if (e->stopping)
        return;
    e->stopping = true;
    e->stop_done = done;
    e->stop_arg = arg;
    e->stop_started = ev_now(e->loop);
    if (e->kq)
        kq_close_consumer(e->kq);
    ev_periodic_stop(e->loop, &e->deadline_timer);
}

void engine_counters(const Engine *e, EngineCounters *c)
{
    c->applied = e->n_applied;
    c->history = e->n_history;
    c->held_total = e->n_held;
    c->duplicates = e->n_duplicates;
    c->dead_letters = e->n_dead;
    c->alerts = e->n_alerts;
    c->scans = e->n_scans;
    c->batches = e->n_batches;
    c->tickets = sm_count(e->tickets);
    c->held = sm_count(e->held);
    c->pending_deadlines = e->heap.n + e->bulk_heap.n;
    c->parcels = ps_count(e->parcels);
    c->bulk_keys = sm_count(e->bulk);
    c->event_clock = e->event_clock;
    c->outq = e->kq ? kq_outq_len(e->kq) : 0;
    c->batch_in_flight = e->inflight != NULL;
}

void engine_status(const Engine *e, char *buf, size_t len)
{
    snprintf(buf, len,
             "tickets=%zu held=%zu pending_deadlines=%u applied=%" PRIu64 " history=%" PRIu64 " duplicates=%" PRIu64
             " dead_letters=%" PRIu64 " alerts=%" PRIu64 " scans=%" PRIu64 " batches=%" PRIu64,
             sm_count(e->tickets), sm_count(e->held), e->heap.n, e->n_applied, e->n_history, e->n_duplicates,
             e->n_dead, e->n_alerts, e->n_scans, e->n_batches);
}

void engine_free(Engine *e)
{
    if (!e)
        return;
    ev_prepare_stop(e->loop, &e->prepare);
    ev_timer_stop(e->loop, &e->housekeeping);
    ev_periodic_stop(e->loop, &e->deadline_timer);
    kq_free(e->kq);
    db_free(e->db);
    const char *k;
    void *v;
    /* The heaps point into tickets and bulk keys: empty them first. */
    th_free(&e->heap);
    th_free(&e->bulk_heap);
    if (e->tickets) {
        for (size_t it = 0; sm_next(e->tickets, &it, &k, &v);) {
            TEntry *te = v;
            tkt_free(te->t);
            free(te);
        }
        sm_free(e->tickets);
    }
    if (e->held) {
        for (size_t it = 0; sm_next(e->held, &it, &k, &v);) {
            HeldList *l = v;
            for (size_t i = 0; i < l->n; i++)
                held_free(l->v[i]);
            free(l->v);
            free(l);
        }
        sm_free(e->held);
    }
    if (e->offsets) {
        for (size_t it = 0; sm_next(e->offsets, &it, &k, &v);) {
            Offset *o = v;
            free(o->topic);
            free(o);
        }
        sm_free(e->offsets);
    }
    StrMap *idx[2] = {e->by_waybill, e->by_customer};
    for (int j = 0; j < 2; j++) {
        if (!idx[j])
            continue;
        for (size_t it = 0; sm_next(idx[j], &it, &k, &v);) {
            IdxList *l = v;
            free(l->v);
            free(l);
        }
        sm_free(idx[j]);
    }
    if (e->bulk) {
        for (size_t it = 0; sm_next(e->bulk, &it, &k, &v);) {
            BulkKey *bk = v;
            bulk_free(bk->w);
            free(bk);
        }
        sm_free(e->bulk);
    }
    th_free(&e->bulk_heap);
    ps_free(e->parcels);
    sm_free(e->event_ids);
    th_free(&e->heap);
    batch_clear(&e->open);
    if (e->inflight) {
        batch_clear(e->inflight);
        free(e->inflight);
    }
    alert_list_free(&e->scratch);
    pol_free(e->policy);
    free(e);
}
