/* engine: the daemon's state, the events applied to it and its deadlines;
 * see engine.h and docs/architecture.md. The open batch and the outbox are in
 * batch.c, start-up in restore.c, the rules across tickets in rules.c. */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "bulk.h"
#include "cal.h"
#include "db.h"
#include "engine_int.h"
#include "evt.h"
#include "kq.h"
#include "log.h"
#include "repeat.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"
#include "tkt.h"

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

/* ---- small helpers ------------------------------------------------------ */

int64_t eng_wall_now(const Engine *e)
{
    return (int64_t)ev_now(e->loop);
}

int eng_utc_off(const Engine *e)
{
    return cal_utc_offset(e->policy->cal);
}

json_t *eng_jtime(const Engine *e, int64_t t)
{
    if (t == TU_NEVER || t == 0)
        return json_null();
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(t, eng_utc_off(e), buf);
    return json_string(buf);
}

void eng_oom(void)
{
    log_err("out of memory");
    abort();
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
            batch_take_alerts(e);
            if (tkt_next_due(te->t) <= due) {
                /* Nothing moved: never spin on a stuck entry. */
                log_warn("ticket %s: deadline at %" PRId64 " did not fire", te->t->id, due);
                th_remove(&e->heap, &te->node);
            }
            batch_touch(e, te);
        } else if (due == bdue) {
            rule_bulk_end(e, (BulkKey *)bn, due);
        } else {
            rule_stall(e, p);
        }
    }
}

/* The clock the rules run on, after seeing an event of time `at`. */
static int64_t clock_for_event(Engine *e, int64_t at)
{
    if (e->cfg->clock_mode == CLOCK_WALL)
        return eng_wall_now(e);
    if (at > e->event_clock) {
        /* Deadlines that fall before this event fire before it is applied. */
        fire_due(e, at - 1);
        e->event_clock = at;
    }
    return e->event_clock;
}

int64_t eng_rule_now(const Engine *e)
{
    return e->cfg->clock_mode == CLOCK_WALL ? eng_wall_now(e) : e->event_clock;
}

/* ---- events ------------------------------------------------------------- */

static json_t *event_body(const Engine *e, const ComplaintEvent *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(evt_type_name(ev->type)));
    json_object_set_new(o, "occurred_at", eng_jtime(e, ev->occurred_at));
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

void eng_remember_id(Engine *e, const char *id)
{
    if (sm_put(e->event_ids, id, (void *)1) < 0) {
        log_err("out of memory");
        abort();
    }
}

static void record_event(Engine *e, const ComplaintEvent *ev, const char *effect, const char *topic,
                         int32_t partition, int64_t offset)
{
    json_array_append_new(batch_doc(&e->open, "events"),
                          json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:i,s:I,s:o}", "event_id", ev->event_id, "ticket_id",
                                    ev->ticket_id, "type", evt_type_name(ev->type), "occurred_at",
                                    eng_jtime(e, ev->occurred_at), "effect", effect, "source_topic", topic,
                                    "source_partition", (int)partition, "source_offset", (json_int_t)offset,
                                    "body", event_body(e, ev)));
    eng_remember_id(e, ev->event_id);
    if (strcmp(effect, "applied") == 0)
        e->n_applied++;
    else
        e->n_history++;
}

static void apply_to_ticket(Engine *e, TEntry *te, const ComplaintEvent *ev, const char *topic, int32_t partition,
                            int64_t offset, const char *key, const char *payload, size_t len)
{
    char detail[EVT_DETAIL_MAX];
    /* A reclassified ticket is indexed for repeats under its new keys only. */
    bool reindex = ev->type == CT_UPDATED;
    if (reindex)
        rpt_remove(e->repeat, te->t);
    TktResult r = tkt_apply(te->t, ev, e->policy, eng_rule_now(e), &e->scratch, detail, sizeof detail);
    if (reindex)
        rule_index_ticket(e, te);
    batch_take_alerts(e);
    if (r == TKT_INVALID) {
        batch_dead_letter(e, "invalid_transition", detail, topic, partition, offset, key, payload, len);
        return;
    }
    record_event(e, ev, r == TKT_APPLIED ? "applied" : "history", topic, partition, offset);
    if (r == TKT_APPLIED && ev->type == CT_UPDATED) {
        if (rule_update_responsible(e, te->t))
            log_debug("ticket %s: responsibility %s", te->t->id, te->t->responsible.rule);
    }
    batch_touch(e, te);
}

static void held_free(Held *h)
{
    free(h->topic);
    free(h->payload);
    free(h);
}

void eng_hold(Engine *e, const ComplaintEvent *ev, const char *topic, int32_t partition, int64_t offset,
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
    eng_remember_id(e, ev->event_id);
    if (persist) {
        json_array_append_new(batch_doc(&e->open, "held"),
                              json_pack("{s:s,s:s,s:o,s:o,s:s,s:i,s:I,s:s%}", "event_id", ev->event_id, "ticket_id",
                                        ev->ticket_id, "occurred_at", eng_jtime(e, ev->occurred_at), "held_since",
                                        eng_jtime(e, held_since), "source_topic", topic, "source_partition",
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
        json_array_append_new(batch_doc(&e->open, "released"), json_string(h->ev.event_id));
        /* The held id was remembered; applying records it for good. */
        sm_del(e->event_ids, h->ev.event_id);
        apply_to_ticket(e, te, &h->ev, h->topic, h->partition, h->offset, h->ev.ticket_id, h->payload, h->len);
        held_free(h);
    }
    free(l->v);
    free(l);
}

TEntry *eng_new_entry(Engine *e, Ticket *t)
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

static void handle_complaint(Engine *e, const Pending *p, const char *topic, const char *key)
{
    const rd_kafka_message_t *m = p->m;
    const ComplaintEvent ev = p->u.c;
    const char *payload = m->payload ? (const char *)m->payload : "";
    if (p->st != EVT_OK) {
        batch_dead_letter(e, evt_status_name(p->st), p->detail, topic, m->partition, m->offset, key, payload, m->len);
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
            eng_hold(e, &ev, topic, m->partition, m->offset, payload, m->len, eng_wall_now(e), true);
            return;
        }
        Ticket *t = tkt_new(&ev, e->policy, &e->scratch);
        if (!t) {
            log_err("out of memory");
            abort();
        }
        te = eng_new_entry(e, t);
        /* The bulk issue key: the complaint's site, else its parcel's latest scan. */
        LatestScan ls;
        if (t->site[0])
            snprintf(t->issue_site, sizeof t->issue_site, "%s", t->site);
        else if (t->waybill[0] && ps_latest(e->parcels, t->waybill, &ls) && ls.site)
            snprintf(t->issue_site, sizeof t->issue_site, "%s", ls.site);
        /* The escalation tkt_new raised carries the responsibility too. */
        if (rule_update_responsible(e, t))
            for (size_t i = 0; i < e->scratch.n; i++)
                tkt_fill_alert(t, &e->scratch.v[i]);
        batch_take_alerts(e);
        record_event(e, &ev, "applied", topic, m->partition, m->offset);
        rule_check_repeat(e, te);
        rule_index_ticket(e, te);
        rule_bulk_count(e, te, e->policy->bulk_threshold);
        batch_touch(e, te);
        release_held(e, te);
    } else {
        apply_to_ticket(e, te, &ev, topic, m->partition, m->offset, key, payload, m->len);
    }
    if (e->cfg->clock_mode == CLOCK_EVENT)
        fire_due(e, now);
}

static void handle_scan(Engine *e, const Pending *p, const char *topic, const char *key)
{
    const rd_kafka_message_t *m = p->m;
    const ScanEvent sc = p->u.s;
    const char *payload = m->payload ? (const char *)m->payload : "";
    if (p->st != EVT_OK) {
        batch_dead_letter(e, evt_status_name(p->st), p->detail, topic, m->partition, m->offset, key, payload, m->len);
        return;
    }
    int64_t now = clock_for_event(e, sc.occurred_at);
    json_array_append_new(
        batch_doc(&e->open, "scans"),
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:i,s:I}", "event_id", sc.event_id, "waybill", sc.waybill,
                  "scan_type", evt_scan_type_name(sc.scan_type), "site", sc.site, "site_role",
                  evt_role_name(sc.site_role), "next_site", sc.next_site[0] ? json_string(sc.next_site) : json_null(),
                  "next_site_role",
                  sc.next_site_role != ROLE_NONE ? json_string(evt_role_name(sc.next_site_role)) : json_null(),
                  "occurred_at", eng_jtime(e, sc.occurred_at), "source_topic", topic, "source_partition",
                  (int)m->partition, "source_offset", (json_int_t)m->offset));
    e->open.n_effects++;
    e->n_scans++;
    PsResult res;
    bool was_stalled = false;
    int64_t prev_at = 0;
    if (ps_apply(e->parcels, &sc, e->policy->stall_after, &res, &was_stalled, &prev_at) < 0)
        eng_oom();
    if (res == PS_LATEST)
        rule_scan_latest(e, &sc, was_stalled, prev_at);
    if (e->cfg->clock_mode == CLOCK_EVENT)
        fire_due(e, now);
}

Offset *eng_offset(Engine *e, const char *topic, int32_t partition, bool create)
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

/* Fetched messages buffered for the merge: up to this many batches. */
#define PENDING_BATCHES 8

/* Applies one consumed message and advances its partition's offset. */
static void apply_pending_one(Engine *e, const Pending *p)
{
    const rd_kafka_message_t *m = p->m;
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
    if (p->scan)
        handle_scan(e, p, topic, k);
    else
        handle_complaint(e, p, topic, k);
    Offset *o = eng_offset(e, topic, m->partition, true);
    if (m->offset + 1 > o->next)
        o->next = m->offset + 1;
    o->dirty = true;
    e->open.n_events++;
}

/* Applies everything the last drain fetched, merging the partitions by
 * event time: each partition keeps its own order, and among the partitions'
 * next messages the earliest occurred_at goes first (one that will be
 * dead-lettered goes at once). Kafka leaves the order across partitions
 * open; this one keeps a backlog from running the event clock ahead on one
 * partition while another still holds older events. */
static void apply_pending(Engine *e, size_t limit)
{
    for (; e->n_pending > 0 && limit > 0; limit--) {
        PendQ *best = NULL;
        for (size_t i = 0; i < e->n_pq; i++) {
            PendQ *q = &e->pq[i];
            if (q->head && (!best || q->head->at < best->head->at))
                best = q;
        }
        Pending *p = best->head;
        best->head = p->next;
        if (!best->head)
            best->tail = NULL;
        e->n_pending--;
        apply_pending_one(e, p);
        rd_kafka_message_destroy(p->m);
        free(p);
    }
}

static void drop_pending(Engine *e)
{
    for (size_t i = 0; i < e->n_pq; i++) {
        for (Pending *p = e->pq[i].head, *n; p; p = n) {
            n = p->next;
            rd_kafka_message_destroy(p->m);
            free(p);
        }
        free(e->pq[i].topic);
    }
    free(e->pq);
    e->pq = NULL;
    e->n_pq = e->n_pending = 0;
}

static PendQ *pending_queue(Engine *e, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < e->n_pq; i++)
        if (e->pq[i].partition == partition && strcmp(e->pq[i].topic, topic) == 0)
            return &e->pq[i];
    PendQ *v = realloc(e->pq, (e->n_pq + 1) * sizeof *v);
    if (!v)
        eng_oom();
    e->pq = v;
    PendQ *q = &e->pq[e->n_pq++];
    memset(q, 0, sizeof *q);
    if (!(q->topic = strdup(topic)))
        eng_oom();
    q->partition = partition;
    return q;
}

/* Takes one consumed message (and its ownership): decoded now, applied when
 * the drain is over. */
static bool on_message(void *arg, rd_kafka_message_t *m)
{
    Engine *e = arg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    bool scan = strcmp(topic, e->cfg->scans_topic) == 0;
    if (!scan && strcmp(topic, e->cfg->complaints_topic) != 0) {
        rd_kafka_message_destroy(m);
        return true;
    }
    Pending *p = calloc(1, sizeof *p);
    if (!p)
        eng_oom();
    p->m = m;
    p->scan = scan;
    const char *payload = m->payload ? (const char *)m->payload : "";
    size_t max = (size_t)e->cfg->max_event_bytes;
    if (scan) {
        p->st = evt_decode_scan(payload, m->len, max, &p->u.s, p->detail, sizeof p->detail);
        p->at = p->st == EVT_OK ? p->u.s.occurred_at : INT64_MIN;
    } else {
        p->st = evt_decode_complaint(payload, m->len, max, &p->u.c, p->detail, sizeof p->detail);
        p->at = p->st == EVT_OK ? p->u.c.occurred_at : INT64_MIN;
    }
    PendQ *q = pending_queue(e, topic, m->partition);
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    e->n_pending++;
    /* The merge sees further with more fetched; a full buffer stops the
     * drain, and commits drain again. */
    return e->n_pending < PENDING_BATCHES * (size_t)e->cfg->batch_max;
}

/* How many more events the open batch takes; when it is full the next
 * commit makes room, and its drain applies more. */
static size_t batch_room(const Engine *e)
{
    size_t max = (size_t)e->cfg->batch_max;
    return e->open.n_events < max ? max - e->open.n_events : 0;
}

/* The end of a drain. What it fetched waits batch_linger_ms for the other
 * partitions' messages of the same fetch, so the merge above can order them;
 * a full batch, a stop or a zero linger applies at once. */
static void on_drained(void *arg)
{
    Engine *e = arg;
    if (e->n_pending == 0 || e->in_linger)
        return;
    size_t room = batch_room(e);
    if (e->n_pending >= room || e->stopping || e->cfg->batch_linger_ms == 0) {
        ev_timer_stop(e->loop, &e->linger);
        apply_pending(e, e->stopping ? SIZE_MAX : room);
    } else if (!ev_is_active(&e->linger)) {
        ev_timer_set(&e->linger, (double)e->cfg->batch_linger_ms / 1000.0, 0.0);
        ev_timer_start(e->loop, &e->linger);
    }
}

static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Engine *e = w->data;
    e->in_linger = true;
    kq_drain(e->kq);
    e->in_linger = false;
    apply_pending(e, batch_room(e));
}

static void on_assign(void *arg, rd_kafka_topic_partition_list_t *parts)
{
    Engine *e = arg;
    for (int i = 0; i < parts->cnt; i++) {
        Offset *o = eng_offset(e, parts->elems[i].topic, parts->elems[i].partition, false);
        parts->elems[i].offset = o ? o->next : RD_KAFKA_OFFSET_BEGINNING;
    }
}

static void on_revoke(void *arg, const rd_kafka_topic_partition_list_t *parts)
{
    (void)parts;
    /* What was fetched is applied before the partitions go; its offsets go to
     * PostgreSQL with the open batch. */
    apply_pending(arg, SIZE_MAX);
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
            batch_send_inflight(e);
    } else if (!batch_empty(e) && db_ready(e->db)) {
        bool only_marks = e->open.n_events == 0 && e->open.n_effects == 0;
        /* Delivery marks alone wait a little to share a transaction. */
        if (!only_marks || now - e->last_flush >= 0.5 || e->stopping)
            batch_flush(e);
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
    fire_due(e, eng_wall_now(e));
}

/* Held events whose ticket never arrived become dead letters. */
static void expire_held(Engine *e)
{
    int64_t now = eng_wall_now(e);
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
            json_array_append_new(batch_doc(&e->open, "released"), json_string(h->ev.event_id));
            batch_dead_letter(e, "unknown_ticket", detail, h->topic, h->partition, h->offset, h->ev.ticket_id,
                              h->payload, h->len);
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

/* Closed tickets older than the repeat look-back leave memory (they stay in
 * PostgreSQL); a start would not load them either. */
static size_t evict_closed(Engine *e, int64_t before)
{
    const char *k;
    void *v;
    char **ids = NULL;
    size_t n = 0, cap = 0;
    for (size_t it = 0; sm_next(e->tickets, &it, &k, &v);) {
        const TEntry *te = v;
        const Ticket *t = te->t;
        int64_t last = t->closed_at > t->last_resolved_at ? t->closed_at : t->last_resolved_at;
        if (!t->closed || te->dirty || th_queued(&te->node) || last >= before)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **x = realloc(ids, cap * sizeof *x);
            if (!x)
                break;
            ids = x;
        }
        if (!(ids[n] = strdup(k)))
            break;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        TEntry *te = sm_del(e->tickets, ids[i]);
        rpt_remove(e->repeat, te->t);
        tkt_free(te->t);
        free(te);
        free(ids[i]);
    }
    free(ids);
    return n;
}

static void housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Engine *e = w->data;
    expire_held(e);
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(e->bulk, &it, &k, &v);)
        bulk_prune(((BulkKey *)v)->w, eng_rule_now(e) - BULK_LATE_HORIZON - e->policy->bulk_window);
    /* Delivered parcels are kept for complaints about them for the look-back;
     * the sweep is O(parcels), so hourly (on the rule clock) is enough. */
    if (eng_rule_now(e) - e->last_prune >= 3600) {
        e->last_prune = eng_rule_now(e);
        size_t n = ps_prune_signed(e->parcels, eng_rule_now(e) - e->policy->repeat_lookback);
        if (n)
            log_info("forgot %zu parcels signed more than the look-back ago", n);
        n = evict_closed(e, eng_rule_now(e) - e->policy->repeat_lookback);
        if (n)
            log_info("evicted %zu tickets closed more than the look-back ago", n);
    }
    if (e->cfg->clock_mode == CLOCK_WALL)
        fire_due(e, eng_wall_now(e));
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
    e->repeat = rpt_new();
    e->bulk = sm_new();
    e->parcels = ps_new();
    th_init(&e->heap);
    th_init(&e->bulk_heap);
    batch_init(&e->open);
    if (!e->policy || !e->tickets || !e->event_ids || !e->held || !e->offsets || !e->open.doc || !e->repeat ||
        !e->bulk || !e->parcels) {
        engine_free(e);
        return NULL;
    }
    ev_periodic_init(&e->deadline_timer, deadline_cb, 0, 0, 0);
    e->deadline_timer.data = e;
    ev_timer_init(&e->housekeeping, housekeeping_cb, 1.0, 1.0);
    e->housekeeping.data = e;
    ev_prepare_init(&e->prepare, prepare_cb);
    e->prepare.data = e;
    ev_timer_init(&e->linger, linger_cb, 0.0, 0.0);
    e->linger.data = e;
    return e;
}

int engine_start(Engine *e, char *err, size_t errlen)
{
    KqHandlers h = {
        .message = on_message,
        .drained = on_drained,
        .assign = on_assign,
        .revoke = on_revoke,
        .delivered = batch_delivered,
        .arg = e,
    };
    e->kq = kq_new(e->loop, e->cfg, &h, err, errlen);
    if (!e->kq)
        return -1;
    if (restore_publish_unsent(e, err, errlen) < 0)
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
    int64_t now = eng_rule_now(e);
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(e->tickets, &it, &k, &v);) {
        TEntry *te = v;
        if (!tkt_open(te->t))
            continue;
        tkt_recompute(te->t, p, now, &e->scratch);
        batch_take_alerts(e);
        batch_touch(e, te);
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
    ev_timer_stop(e->loop, &e->linger);
    apply_pending(e, SIZE_MAX);
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
    ev_timer_stop(e->loop, &e->linger);
    drop_pending(e); /* messages belong to the consumer: before it goes */
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
    rpt_free(e->repeat);
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
