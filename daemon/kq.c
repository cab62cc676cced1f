/* kq: librdkafka on libev; see kq.h. */
#include "kq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct Kq {
    struct ev_loop *loop;
    const Config *cfg;
    KqHandlers h;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_queue_t *cq;
    rd_kafka_queue_t *pq;
    int cpipe[2];
    int ppipe[2];
    ev_io cio;
    ev_io pio;
    ev_timer tick;
    bool closed;
};

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", k, e);
        return -1;
    }
    return 0;
}

static int common_conf(rd_kafka_conf_t *conf, const Config *cfg, char *err, size_t errlen)
{
    if (set_conf(conf, "bootstrap.servers", cfg->brokers, err, errlen) < 0)
        return -1;
    if (set_conf(conf, "client.id", "complaintd", err, errlen) < 0)
        return -1;
    for (int i = 0; i < cfg->n_rdkafka; i++)
        if (set_conf(conf, cfg->rdkafka[i].key, cfg->rdkafka[i].value, err, errlen) < 0)
            return -1;
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    LogLevel l = level <= 3 ? LOG_ERR : level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_msg(l, "kafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)opaque;
    /* Broker-down and transport errors are retried by librdkafka itself. */
    log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    Kq *kq = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        kq->h.assign(kq->h.arg, parts);
        rd_kafka_assign(rk, parts);
        log_info("kafka: assigned %d partitions", parts->cnt);
    } else {
        kq->h.revoke(kq->h.arg, parts);
        rd_kafka_assign(rk, NULL);
        log_info("kafka: revoked %d partitions", parts->cnt);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    Kq *kq = opaque;
    kq->h.delivered(kq->h.arg, m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    m->err ? rd_kafka_err2str(m->err) : NULL);
}

static int make_pipe(int p[2])
{
    if (pipe(p) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void empty_pipe(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

void kq_drain(Kq *kq)
{
    if (kq->closed)
        return;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(kq->consumer, 0);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!kq->h.message(kq->h.arg, m))
            break;
    }
    kq->h.drained(kq->h.arg);
}

void kq_poll_producer(Kq *kq)
{
    while (rd_kafka_poll(kq->producer, 0) > 0)
        ;
}

static void cio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    Kq *kq = w->data;
    empty_pipe(kq->cpipe[0]);
    kq_drain(kq);
}

static void pio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    Kq *kq = w->data;
    empty_pipe(kq->ppipe[0]);
    kq_poll_producer(kq);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    /* The io event only fires on an empty-to-non-empty transition; a periodic
     * poll also keeps the group membership alive while we hold back. */
    Kq *kq = w->data;
    kq_drain(kq);
    kq_poll_producer(kq);
}

Kq *kq_new(struct ev_loop *loop, const Config *cfg, const KqHandlers *h, char *err, size_t errlen)
{
    Kq *kq = calloc(1, sizeof *kq);
    if (!kq) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    kq->loop = loop;
    kq->cfg = cfg;
    kq->h = *h;
    kq->cpipe[0] = kq->cpipe[1] = kq->ppipe[0] = kq->ppipe[1] = -1;

    char e[512];
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    if (common_conf(cc, cfg, err, errlen) < 0 || set_conf(cc, "group.id", cfg->group_id, err, errlen) < 0 ||
        set_conf(cc, "enable.auto.commit", "false", err, errlen) < 0 ||
        set_conf(cc, "enable.auto.offset.store", "false", err, errlen) < 0 ||
        set_conf(cc, "auto.offset.reset", "earliest", err, errlen) < 0) {
        rd_kafka_conf_destroy(cc);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(cc, log_cb);
    rd_kafka_conf_set_error_cb(cc, error_cb);
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
    rd_kafka_conf_set_opaque(cc, kq);
    kq->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    if (!kq->consumer) {
        rd_kafka_conf_destroy(cc);
        snprintf(err, errlen, "kafka consumer: %s", e);
        goto fail;
    }

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    if (common_conf(pc, cfg, err, errlen) < 0 || set_conf(pc, "enable.idempotence", "true", err, errlen) < 0 ||
        set_conf(pc, "message.timeout.ms", "0", err, errlen) < 0 ||
        set_conf(pc, "linger.ms", "5", err, errlen) < 0) {
        rd_kafka_conf_destroy(pc);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(pc, log_cb);
    rd_kafka_conf_set_error_cb(pc, error_cb);
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    rd_kafka_conf_set_opaque(pc, kq);
    kq->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    if (!kq->producer) {
        rd_kafka_conf_destroy(pc);
        snprintf(err, errlen, "kafka producer: %s", e);
        goto fail;
    }

    if (make_pipe(kq->cpipe) < 0 || make_pipe(kq->ppipe) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    rd_kafka_poll_set_consumer(kq->consumer);
    kq->cq = rd_kafka_queue_get_consumer(kq->consumer);
    kq->pq = rd_kafka_queue_get_main(kq->producer);
    rd_kafka_queue_io_event_enable(kq->cq, kq->cpipe[1], "1", 1);
    rd_kafka_queue_io_event_enable(kq->pq, kq->ppipe[1], "1", 1);
    ev_io_init(&kq->cio, cio_cb, kq->cpipe[0], EV_READ);
    kq->cio.data = kq;
    ev_io_start(loop, &kq->cio);
    ev_io_init(&kq->pio, pio_cb, kq->ppipe[0], EV_READ);
    kq->pio.data = kq;
    ev_io_start(loop, &kq->pio);
    ev_timer_init(&kq->tick, tick_cb, 0.2, 0.2);
    kq->tick.data = kq;
    ev_timer_start(loop, &kq->tick);
    return kq;
fail:
    kq_free(kq);
    return NULL;
}

int kq_subscribe(Kq *kq, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(t, kq->cfg->complaints_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(t, kq->cfg->scans_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(kq->consumer, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void kq_close_consumer(Kq *kq)
{
    if (kq->closed || !kq->consumer)
        return;
    kq->closed = true;
    rd_kafka_consumer_close(kq->consumer);
}

int kq_produce(Kq *kq, const char *topic, const char *key, const char *payload, size_t len, void *opaque)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        kq->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
        RD_KAFKA_V_END);
    if (e) {
        log_warn("kafka produce to %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int kq_outq_len(Kq *kq)
{
    return rd_kafka_outq_len(kq->producer);
}

void kq_commit_async(Kq *kq, const rd_kafka_topic_partition_list_t *offsets)
{
    if (!kq->closed && offsets->cnt > 0)
        rd_kafka_commit(kq->consumer, offsets, 1);
}

void kq_free(Kq *kq)
{
    if (!kq)
        return;
    ev_io_stop(kq->loop, &kq->cio);
    ev_io_stop(kq->loop, &kq->pio);
    ev_timer_stop(kq->loop, &kq->tick);
    if (kq->cq) {
        rd_kafka_queue_io_event_enable(kq->cq, -1, NULL, 0);
        rd_kafka_queue_destroy(kq->cq);
    }
    if (kq->pq) {
        rd_kafka_queue_io_event_enable(kq->pq, -1, NULL, 0);
        rd_kafka_queue_destroy(kq->pq);
    }
    if (kq->consumer) {
        kq_close_consumer(kq);
        rd_kafka_destroy(kq->consumer);
    }
    if (kq->producer)
        rd_kafka_destroy(kq->producer);
    for (int i = 0; i < 2; i++) {
        if (kq->cpipe[i] >= 0)
            close(kq->cpipe[i]);
        if (kq->ppipe[i] >= 0)
            close(kq->ppipe[i]);
    }
    free(kq);
}
