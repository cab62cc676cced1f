/* outbox: committed alerts and dead letters on their way to Kafka; see
 * outbox.h and docs/architecture.md. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

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
    OutList queue; /* committed, not yet in the producer */
    size_t in_producer;
    OutList delivered; /* acknowledged, waiting for their sent marks */
    ev_timer retry;
    double backoff;
    bool full; /* the producer's queue refused the head */
    bool closing;
    uint64_t published, retries, refusals;
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
    m->status = a->status;
    m->type = a->type;
    m->ticket_id = a->ticket_id[0] ? dup_or_null(a->ticket_id) : NULL;
    m->condition_at = a->condition_at;
    m->emitted_at = a->emitted_at;
    return m;
}

OutMsg *out_dead(const EffDead *d)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->kind = OUT_DLQ;
    m->payload = dup_or_null(d->record);
    m->len = strlen(m->payload);
    m->key = dup_or_null(d->key);
    m->src_topic = dup_or_null(d->src.topic);
    m->src_partition = d->src.partition;
    m->src_offset = d->src.offset;
    m->reason = dup_or_null(d->reason);
    m->detail = dup_or_null(d->detail);
    return m;
}

OutMsg *out_alert_row(const char *alert_id, const char *status, const char *payload)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->kind = OUT_ALERT;
    m->alert_id = dup_or_null(alert_id);
    m->key = dup_or_null(alert_id);
    m->status = strcmp(status, "firing") == 0     ? AS_FIRING
                : strcmp(status, "resolved") == 0 ? AS_RESOLVED
                                                  : AS_RETRACTED;
    m->payload = dup_or_null(payload);
    m->len = strlen(payload);
    return m;
}

OutMsg *out_dead_row(const char *topic, int32_t partition, int64_t offset, const char *key, const char *payload)
{
    OutMsg *m = oom_check(calloc(1, sizeof *m));
    m->kind = OUT_DLQ;
    m->src_topic = dup_or_null(topic);
    m->src_partition = partition;
    m->src_offset = offset;
    m->key = dup_or_null(key);
    m->payload = dup_or_null(payload);
    m->len = strlen(payload);
    return m;
}

void out_free(OutMsg *m)
{
    if (!m)
        return;
    free(m->key);
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

static void push_front(OutList *l, OutMsg *m)
{
    m->next = l->head;
    l->head = m;
    if (!l->tail)
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

/* Hands queued messages to the producer while it takes them. */
static void pump(Outbox *o)
{
    if (o->closing)
        return;
    while (o->queue.head) {
        OutMsg *m = o->queue.head;
        KqProduceResult r = kq_produce(o->kp, topic_of(o, m), m->key, m->payload, m->len, m);
        if (r == KQ_FULL) {
            if (!o->full)
                log_debug("outbox: the producer's queue is full; %zu messages wait", o->queue.n);
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
        pop_front(&o->queue);
        o->in_producer++;
        o->full = false;
        o->backoff = BACKOFF_MIN;
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
    if (o->closing) {
        /* purged at shutdown: its row stays unsent, the next start sends it */
        out_free(m);
        return;
    }
    if (ok) {
        out_list_push(&o->delivered, m);
        o->published++;
        if (o->full)
            pump(o);
        return;
    }
    /* The idempotent producer gave up on it: the outbox never does. */
    log_warn("outbox: delivery of %s failed (%s); retrying", m->alert_id ? m->alert_id : "a dead letter",
             err ? err : "?");
    o->retries++;
    push_front(&o->queue, m);
    arm_retry(o, o->backoff);
    o->backoff = o->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : o->backoff * 2;
}

Outbox *outbox_new(struct ev_loop *loop, const Config *cfg, char *err, size_t errlen)
{
    Outbox *o = oom_check(calloc(1, sizeof *o));
    o->loop = loop;
    o->cfg = cfg;
    o->backoff = BACKOFF_MIN;
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
    size_t left = o->queue.n + o->in_producer;
    if (left)
        log_warn("outbox: %zu messages unpublished; they stay in PostgreSQL for the next start", left);
    /* The producer's delivery reports free what it still holds. */
    kq_producer_free(o->kp);
    out_list_free(&o->queue);
    out_list_free(&o->delivered);
    free(o);
}

void outbox_push(Outbox *o, OutList *msgs)
{
    out_list_splice(&o->queue, msgs);
    if (!ev_is_active(&o->retry))
        pump(o);
}

size_t outbox_depth(const Outbox *o)
{
    return o->queue.n + o->in_producer;
}

bool outbox_over(const Outbox *o)
{
    return outbox_depth(o) >= (size_t)o->cfg->outbox_max;
}

size_t outbox_room(const Outbox *o)
{
    size_t d = outbox_depth(o), max = (size_t)o->cfg->outbox_max;
    return d < max ? max - d : 0;
}

size_t outbox_take_delivered(Outbox *o, size_t max, OutList *out)
{
    size_t n = 0;
    while (n < max && o->delivered.head) {
        out_list_push(out, pop_front(&o->delivered));
        n++;
    }
    return n;
}

size_t outbox_delivered(const Outbox *o)
{
    return o->delivered.n;
}

void outbox_stats(const Outbox *o, OutboxStats *s)
{
    s->queued = o->queue.n;
    s->in_producer = o->in_producer;
    s->delivered = o->delivered.n;
    s->published = o->published;
    s->retries = o->retries;
    s->refusals = o->refusals;
}
