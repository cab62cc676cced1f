/* batch: the open batch of effects (ticket rows, events, alerts, dead
 * letters, offsets), its commit to PostgreSQL in one transaction, and the
 * outbox published once the commit returns; see docs/architecture.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "db.h"
#include "dlq.h"
#include "engine_int.h"
#include "evt.h"
#include "kq.h"
#include "log.h"
#include "strmap.h"
#include "theap.h"
#include "timeutil.h"
#include "tkt.h"

void batch_init(Batch *b)
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

void batch_clear(Batch *b)
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

json_t *batch_doc(Batch *b, const char *k)
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

void batch_touch(Engine *e, TEntry *te)
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
void batch_take_alerts(Engine *e)
{
    Batch *b = &e->open;
    int64_t now = eng_wall_now(e);
    for (size_t i = 0; i < e->scratch.n; i++) {
        Alert *a = &e->scratch.v[i];
        a->emitted_at = now;
        json_t *o = alert_to_json(a, eng_utc_off(e));
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        OutMsg *m = calloc(1, sizeof *m);
        if (!o || !s || !m) {
            log_err("out of memory");
            abort();
        }
        json_array_append_new(batch_doc(b, "alerts"), o);
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

void batch_dead_letter(Engine *e, const char *reason, const char *detail, const char *topic, int32_t partition,
                       int64_t offset, const char *key, const void *payload, size_t len)
{
    Batch *b = &e->open;
    char *rec = dlq_encode(reason, detail, topic, partition, offset, payload, len);
    OutMsg *m = calloc(1, sizeof *m);
    if (!rec || !m) {
        log_err("out of memory");
        abort();
    }
    json_array_append_new(batch_doc(b, "dead_letters"),
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

/* ---- commit and publish ------------------------------------------------- */

void batch_publish(Engine *e, OutMsg *m)
{
    const char *topic = m->kind == OUT_ALERT ? e->cfg->alerts_topic : e->cfg->dlq_topic;
    if (kq_produce(e->kq, topic, m->key, m->payload, strlen(m->payload), m) < 0) {
        /* Local queue trouble: it stays unsent in the outbox and goes out at the next start. */
        out_free(m);
    }
}

void batch_delivered(void *arg, void *opaque, bool ok, const char *err)
{
    Engine *e = arg;
    OutMsg *m = opaque;
    if (!ok) {
        log_warn("publish failed (%s); retrying", err ? err : "?");
        batch_publish(e, m);
        return;
    }
    if (m->kind == OUT_ALERT)
        json_array_append_new(batch_doc(&e->open, "sent_alerts"), json_pack("[s,s]", m->alert_id, m->status));
    else
        json_array_append_new(batch_doc(&e->open, "sent_dead_letters"),
                              json_pack("[s,i,I]", m->src_topic, (int)m->src_partition, (json_int_t)m->src_offset));
    out_free(m);
}

bool batch_empty(Engine *e)
{
    Batch *b = &e->open;
    return b->n_events == 0 && b->n_effects == 0 && json_array_size(batch_doc(b, "sent_alerts")) == 0 &&
           json_array_size(batch_doc(b, "sent_dead_letters")) == 0;
}

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
        batch_publish(e, m);
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

void batch_send_inflight(Engine *e)
{
    const char *params[1] = {e->inflight->sql_arg};
    if (db_send(e->db, "SELECT complaintd_apply_batch($1::jsonb)", 1, params, on_committed, e) < 0)
        e->retry_at = ev_now(e->loop) + 1.0;
    else
        e->retry_at = 0;
}

void batch_flush(Engine *e)
{
    Batch *b = malloc(sizeof *b);
    if (!b) {
        log_err("out of memory");
        abort();
    }
    *b = e->open;
    batch_init(&e->open);
    json_t *tickets = batch_doc(b, "tickets");
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
        json_object_set_new(row, "received_at", eng_jtime(e, t->received_at));
        json_object_set_new(row, "round_started_at", eng_jtime(e, t->round_start));
        static const char *const done_cols[STG__COUNT] = {"contacted_at", "first_reply_at", "resolved_at",
                                                          "revisit_at"};
        static const char *const dl_cols[STG__COUNT] = {"contact_deadline", "first_reply_deadline",
                                                        "resolve_deadline", "revisit_deadline"};
        for (int s = 0; s < STG__COUNT; s++) {
            json_object_set_new(row, done_cols[s], t->tg[s].done ? eng_jtime(e, t->tg[s].done_at) : json_null());
            json_object_set_new(row, dl_cols[s], eng_jtime(e, t->tg[s].deadline));
        }
        json_object_set_new(row, "paused", json_boolean(t->n_pauses > 0 && t->pauses[t->n_pauses - 1].end == TU_NEVER));
        json_object_set_new(row, "closed_at", t->closed ? eng_jtime(e, t->closed_at) : json_null());
        json_object_set_new(row, "last_resolved_at", eng_jtime(e, t->last_resolved_at));
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
    json_t *offs = batch_doc(b, "offsets");
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
              json_array_size(batch_doc(b, "alerts")));
    e->inflight = b;
    e->last_flush = ev_now(e->loop);
    batch_send_inflight(e);
}
