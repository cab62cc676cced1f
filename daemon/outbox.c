/* outbox: committed alerts and dead letters on their way to Kafka; see
 * outbox.h and docs/architecture.md. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "kq.h"
#include "log.h"
#include "oom.h"

/* Backoff after a refusal other than a full queue, or a failed delivery. */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 5.0
/* A full local queue is retried at the next delivery report, or after this. */
#define FULL_RETRY 0.05

struct Outbox {
    struct ev_loop *loop;
    const Config *cfg;
    KqProducer *kp;
    OutList pending;               /* every message not yet below the watermark, in seq order */
    OutMsg *send_head, *send_tail; /* to hand to the producer (next_send) */
    size_t n_send, in_producer;
    int64_t acked;
    ev_timer retry;
    double backoff;
    bool full; /* the producer's queue refused the head */
    bool closing;
    uint64_t published, retries, refusals;
    Hist ack_delay;
};

/* ---- messages ----------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? oom_check(strdup(s)) : NULL;
}

OutMsg *out_alert(const Alert *a, int utc_offset_min)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->kind = OUT_ALERT;
    m->payload = oom_check(alert_encode(a, utc_offset_min));
    m->len = strlen(m->payload);
    m->alert_id = dup_or_null(a->alert_id);
    m->key = dup_or_null(a->alert_id);
    m->key_len = strlen(m->key);
    m->status = a->status;
    m->type = a->type;
    m->ticket_id = a->ticket_id[0] ? dup_or_null(a->ticket_id) : NULL;
    m->condition_at = a->condition_at;
    m->emitted_at = a->emitted_at;
    return m;
}

/* The key of a dead letter: its bytes again, from the text the table and
 * the effects hold (dlq_key_text). */
static void set_dead_key(OutMsg *m, const char *text)
{
    m->key_text = dup_or_null(text);
    m->key = dup_or_null(text);
    if (m->key)
        m->key_len = dlq_key_bytes(m->key);
}

OutMsg *out_dead(const EffDead *d)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->kind = OUT_DLQ;
    m->payload = dup_or_null(d->record);
    m->len = strlen(m->payload);
    set_dead_key(m, d->key);
    m->src_topic = dup_or_null(d->src.topic);
    m->src_partition = d->src.partition;
    m->src_offset = d->src.offset;
    m->reason = dup_or_null(d->reason);
    m->detail = dup_or_null(d->detail);
    return m;
}

OutMsg *out_alert_row(int64_t seq, const char *alert_id, const char *status, const char *payload)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->seq = seq;
    m->kind = OUT_ALERT;
    m->alert_id = dup_or_null(alert_id);
    m->key = dup_or_null(alert_id);
    m->key_len = strlen(m->key);
    m->status = strcmp(status, "firing") == 0     ? AS_FIRING
                : strcmp(status, "resolved") == 0 ? AS_RESOLVED
                                                  : AS_RETRACTED;
    m->payload = dup_or_null(payload);
    m->len = strlen(payload);
    return m;
}

OutMsg *out_dead_row(int64_t seq, const char *topic, int32_t partition, int64_t offset, const char *key,
                     const char *payload)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->seq = seq;
    m->kind = OUT_DLQ;
    m->src_topic = dup_or_null(topic);
    m->src_partition = partition;
    m->src_offset = offset;
    set_dead_key(m, key);
    m->payload = dup_or_null(payload);
    m->len = strlen(payload);
    return m;
}

void out_free(OutMsg *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->key_text);
    free(m->payload);
    free(m->alert_id);
    free(m->ticket_id);
    free(m->src_topic);
    free(m->reason);
    free(m->detail);
    free(m);
}

void out_list_push(OutList *l, OutMsg *m)
{
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

static OutMsg *pop_front(OutList *l)
{
    OutMsg *m = l->head;
    if (!m)
        return NULL;
    l->head = m->next;
    if (!l->head)
        l->tail = NULL;
    l->n--;
    m->next = NULL;
    return m;
}

void out_list_splice(OutList *l, OutList *src)
{
    if (!src->head)
        return;
    if (l->tail)
        l->tail->next = src->head;
    else
        l->head = src->head;
    l->tail = src->tail;
    l->n += src->n;
    src->head = src->tail = NULL;
    src->n = 0;
}

void out_list_free(OutList *l)
{
    for (OutMsg *m = l->head, *n; m; m = n) {
        n = m->next;
        out_free(m);
    }
    l->head = l->tail = NULL;
    l->n = 0;
}

/* ---- publishing --------------------------------------------------------- */

static const char *topic_of(const Outbox *o, const OutMsg *m)
{
    return m->kind == OUT_ALERT ? o->cfg->alerts_topic : o->cfg->dlq_topic;
}

static void arm_retry(Outbox *o, double after)
{
    if (ev_is_active(&o->retry))
        return;
    ev_timer_set(&o->retry, after, 0.0);
    ev_timer_start(o->loop, &o->retry);
}

static void send_push(Outbox *o, OutMsg *m, bool front)
{
    m->next_send = NULL;
    if (!o->send_head) {
        o->send_head = o->send_tail = m;
    } else if (front) {
        m->next_send = o->send_head;
        o->send_head = m;
    } else {
        o->send_tail->next_send = m;
        o->send_tail = m;
    }
    o->n_send++;
}

static void send_pop(Outbox *o)
{
    OutMsg *m = o->send_head;
    o->send_head = m->next_send;
    if (!o->send_head)
        o->send_tail = NULL;
    m->next_send = NULL;
    o->n_send--;
}

/* Hands queued messages to the producer while it takes them. */
static void pump(Outbox *o)
{
    if (o->closing)
        return;
    while (o->send_head) {
        OutMsg *m = o->send_head;
        KqProduceResult r = kq_produce(o->kp, topic_of(o, m), m->key, m->key_len, m->payload, m->len, m);
        if (r == KQ_FULL) {
            if (!o->full)
                log_debug("outbox: the producer's queue is full; %zu messages wait", o->n_send);
            o->full = true;
            o->refusals++;
            arm_retry(o, FULL_RETRY);
            return;
        }
        if (r == KQ_REFUSED) {
            o->refusals++;
            arm_retry(o, o->backoff);
            o->backoff = o->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : o->backoff * 2;
            return;
        }
        send_pop(o);
        o->in_producer++;
        o->full = false;
        o->backoff = BACKOFF_MIN;
    }
}

/* Frees the acknowledged messages at the head and moves the watermark. */
static void advance(Outbox *o)
{
    while (o->pending.head && o->pending.head->delivered) {
        OutMsg *m = pop_front(&o->pending);
        if (m->seq > o->acked)
            o->acked = m->seq;
        out_free(m);
    }
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    pump(w->data);
}

static void delivered_cb(void *arg, void *opaque, bool ok, const char *err)
{
    Outbox *o = arg;
    OutMsg *m = opaque;
    o->in_producer--;
    if (o->closing)
        return; /* purged at shutdown: it stays above the watermark, the next start sends it */
    if (ok) {
        m->delivered = true;
        o->published++;
        int64_t from = o->cfg->clock_mode == CLOCK_WALL ? m->condition_at : m->emitted_at;
        if (m->kind == OUT_ALERT && m->status == AS_FIRING && from > 0)
            hist_observe(&o->ack_delay, ev_time() - (double)from);
        advance(o);
        if (o->full)
            pump(o);
        return;
    }
    /* The idempotent producer gave up on it: the outbox never does. */
    log_warn("outbox: delivery of %s failed (%s); retrying", m->alert_id ? m->alert_id : "a dead letter",
             err ? err : "?");
    o->retries++;
    send_push(o, m, true);
    arm_retry(o, o->backoff);
    o->backoff = o->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : o->backoff * 2;
}

Outbox *outbox_new(struct ev_loop *loop, const Config *cfg, int64_t acked, char *err, size_t errlen)
{
    Outbox *o = oom_check(calloc(1, sizeof *o));
    o->loop = loop;
    o->cfg = cfg;
    o->acked = acked;
    o->backoff = BACKOFF_MIN;
    /* fine below a second, where a deadline's alert should land */
    static const double secs[] = {0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4,
                                  0.5,   0.75, 1,     2.5, 5,    10,  30,   60,  300};
    hist_init(&o->ack_delay, secs, sizeof secs / sizeof *secs);
    ev_timer_init(&o->retry, retry_cb, 0.0, 0.0);
    o->retry.data = o;
    o->kp = kq_producer_new(loop, cfg, delivered_cb, o, err, errlen);
    if (!o->kp) {
        free(o);
        return NULL;
    }
    return o;
}

void outbox_free(Outbox *o)
{
    if (!o)
        return;
    o->closing = true;
    ev_timer_stop(o->loop, &o->retry);
    size_t left = o->n_send + o->in_producer;
    if (left)
        log_warn("outbox: %zu messages unpublished; they stay in PostgreSQL for the next start", left);
    kq_producer_free(o->kp); /* purges: its delivery reports come back here, closing */
    out_list_free(&o->pending);
    free(o);
}

void outbox_push(Outbox *o, OutList *msgs)
{
    for (OutMsg *m = msgs->head; m; m = m->next)
        if (!m->delivered)
            send_push(o, m, false);
    out_list_splice(&o->pending, msgs);
    advance(o);
    if (!ev_is_active(&o->retry))
        pump(o);
}

/* Everything not below the watermark, delivered or not: a message stuck at
 * the head holds the ones behind it in memory too. */
size_t outbox_depth(const Outbox *o)
{
    return o->pending.n;
}

size_t outbox_room(const Outbox *o)
{
    size_t d = outbox_depth(o), max = (size_t)o->cfg->outbox_max;
    return d < max ? max - d : 0;
}

int64_t outbox_acked(const Outbox *o)
{
    return o->acked;
}

void outbox_stats(const Outbox *o, OutboxStats *s)
{
    s->queued = o->n_send;
    s->in_producer = o->in_producer;
    s->published = o->published;
    s->retries = o->retries;
    s->refusals = o->refusals;
    s->acked = o->acked;
    s->ack_delay = o->ack_delay;
    s->brokers_up = kq_producer_brokers_up(o->kp);
}
