/* kq: librdkafka on libev; see kq.h. */
#include "kq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

/* ---- shared ------------------------------------------------------------- */

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", k, e);
        return -1;
    }
    return 0;
}

/* Our defaults, then the operator's rdkafka.* keys over them. */
static int base_conf(rd_kafka_conf_t *conf, const Config *cfg, const char *const *defaults, char *err, size_t errlen)
{
    if (set_conf(conf, "bootstrap.servers", cfg->brokers, err, errlen) < 0 ||
        set_conf(conf, "client.id", "complaintd", err, errlen) < 0)
        return -1;
    for (size_t i = 0; defaults[i]; i += 2)
        if (set_conf(conf, defaults[i], defaults[i + 1], err, errlen) < 0)
            return -1;
    for (int i = 0; i < cfg->n_rdkafka; i++)
        if (set_conf(conf, cfg->rdkafka[i].key, cfg->rdkafka[i].value, err, errlen) < 0)
            return -1;
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* the client's name: the reading consumer, the group's member or the producer */
    LogLevel l = level <= 3 ? LOG_ERR : level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_msg(l, "kafka %s (%s): %s", fac, rd_kafka_name(rk), buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)opaque;
    /* Broker-down and transport errors are retried by librdkafka itself. */
    log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- statistics: broker state ------------------------------------------- */

/* What the last statistics (statistics.interval.ms) said. */
typedef struct Stats {
    int brokers_up; /* -1 before the first report */
} Stats;

static void stats_parse(Stats *st, const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root)
        return;
    int up = 0;
    const char *name;
    json_t *b;
    json_object_foreach(json_object_get(root, "brokers"), name, b)
    {
        /* the bootstrap entries and real brokers; internal ones are not connections */
        const char *state = json_string_value(json_object_get(b, "state"));
        const char *source = json_string_value(json_object_get(b, "source"));
        if (state && strcmp(state, "UP") == 0 && !(source && strcmp(source, "internal") == 0))
            up++;
    }
    st->brokers_up = up;
    json_decref(root);
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

/* A librdkafka queue that wakes the loop through a pipe. */
typedef struct Wake {
    rd_kafka_queue_t *q;
    int pipe[2];
    ev_io io;
    ev_timer tick;
} Wake;

static int wake_start(Wake *w, struct ev_loop *loop, rd_kafka_queue_t *q, void (*io_cb)(struct ev_loop *, ev_io *, int),
                      void (*tick_cb)(struct ev_loop *, ev_timer *, int), void *data, char *err, size_t errlen)
{
    w->q = q;
    if (make_pipe(w->pipe) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    rd_kafka_queue_io_event_enable(q, w->pipe[1], "1", 1);
    ev_io_init(&w->io, io_cb, w->pipe[0], EV_READ);
    w->io.data = data;
    ev_io_start(loop, &w->io);
    /* The backstop: a paused consumer is still polled. */
    ev_timer_init(&w->tick, tick_cb, 0.2, 0.2);
    w->tick.data = data;
    ev_timer_start(loop, &w->tick);
    return 0;
}

static void wake_stop(Wake *w, struct ev_loop *loop)
{
    ev_io_stop(loop, &w->io);
    ev_timer_stop(loop, &w->tick);
    if (w->q) {
        rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
        rd_kafka_queue_destroy(w->q);
        w->q = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (w->pipe[i] >= 0)
            close(w->pipe[i]);
    w->pipe[0] = w->pipe[1] = -1;
}

/* ---- consumer ----------------------------------------------------------- */

struct KqConsumer {
    struct ev_loop *loop;
    const Config *cfg;
    KqConsumerHandlers h;
    rd_kafka_t *rk;
    Wake wake;
    ev_idle more; /* the queue holds more than one slice: take the rest next turn */
    /* the partitions paused by kq_consumer_pause: only these are resumed.
     * librdkafka bumps a partition's version on any resume, paused or not,
     * and a partition never paused then fetches again from its assigned
     * offset: resuming the whole assignment re-delivered what was applied. */
    rd_kafka_topic_partition_list_t *paused;
    /* every partition given to rk, by kq_consumer_assign_all */
    rd_kafka_topic_partition_list_t *assigned;
    /* The group's member (kq_consumer_start): a second client that joins
     * the consumer group and reads nothing. What the group gives it tells
     * whether another member shares the group, and it commits the offsets
     * there for lag monitoring. */
    rd_kafka_t *member;
    ev_timer member_tick;
    bool member_in; /* it holds an assignment of the group's current generation */
    bool member_closed;
    /* the latest offset committed of each partition, for the group, and
     * whether the group has not been sent it yet */
    rd_kafka_topic_partition_list_t *to_group;
    bool to_group_dirty;
    bool closed;
    Stats stats;
};

/* librdkafka's prefetch (up to 100,000 messages a partition, 64 MiB in all)
 * keeps fetches flowing while a batch commits; a smaller queued.min.messages
 * made the consumer wait for fetches between batches. The byte bound is
 * halved: the pipeline holds its own merge buffer too. A resumed partition
 * joins the next fetch request, which waits for the one in flight: with
 * every partition that has data paused, that one is a long poll, so
 * fetch.wait.max.ms is how long a resumed partition stays dry. A scan
 * backlog ran at 2,750/s with librdkafka's 500 ms, 12,500/s with 100 ms,
 * and 23,600-29,600/s with the 20 ms here; an idle consumer then sends at
 * most 50 fetch requests a second to each broker. With no fetch in flight
 * at all (every partition paused), a resume alone does not fetch soon:
 * wake_fetch. */
static const char *const consumer_defaults[] = {
    "enable.auto.commit",
    "false",
    "enable.auto.offset.store",
    "false",
    "auto.offset.reset",
    "earliest",
    "queued.max.messages.kbytes",
    "32768",
    "statistics.interval.ms",
    "5000",
    "fetch.wait.max.ms",
    "20",
    NULL,
};

/* The member's protocol, over an operator's rdkafka.partition.assignment.strategy
 * (kq_consumer_new says so): the daemon assigns itself its partitions, and
 * librdkafka 2.0.2 aborts (rd_kafka_sticky_assignor_state_destroy) when a
 * cooperative-sticky consumer is closed before its first assignment, as a
 * stop while the group forms does. */
#define MEMBER_STRATEGY "range,roundrobin"

/* The group's member fetches nothing (its partitions stay paused) and
 * commits only what the daemon gives it. */
static const char *const member_defaults[] = {
    "enable.auto.commit", "false", "enable.auto.offset.store", "false", "auto.offset.reset", "latest", NULL,
};

/* Resuming a partition in librdkafka 2.0.2 does not wake the thread of
 * its broker: when every partition the broker serves was paused, no fetch
 * is in flight, and the thread sleeps up to a second (its fixed longest
 * block) before it fetches the resumed ones. A seek does wake it; each
 * resumed partition is sought to its own position, where the resume would
 * fetch from anyway (the position of a paused partition is the offset after
 * the last message handed to the daemon, and a pause drops what was fetched
 * beyond it). One that has no position yet is left to the resume, which
 * looks its offset up and wakes the thread itself. */
static void wake_fetch(KqConsumer *c, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_position(c->rk, at) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(at->cnt);
        for (int i = 0; i < at->cnt; i++)
            if (at->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(seek, at->elems[i].topic, at->elems[i].partition)->offset =
                    at->elems[i].offset;
        if (seek->cnt > 0) {
            rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, seek, 0); /* 0: asynchronous */
            if (e) {
                log_debug("kafka: seeking resumed partitions: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        }
        rd_kafka_topic_partition_list_destroy(seek);
    }
    rd_kafka_topic_partition_list_destroy(at);
}

static void set_paused(KqConsumer *c, rd_kafka_topic_partition_list_t *parts, bool pause)
{
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(c->rk, parts) : rd_kafka_resume_partitions(c->rk, parts);
    if (e)
        log_warn("kafka: %s partitions: %s", pause ? "pausing" : "resuming", rd_kafka_err2str(e));
    else if (!pause)
        wake_fetch(c, parts);
}

/* pausing stores a reference to each partition in the list's elements:
 * the list is destroyed, not truncated, or rd_kafka_destroy waits forever */
static void clear_paused(KqConsumer *c)
{
    rd_kafka_topic_partition_list_destroy(c->paused);
    c->paused = rd_kafka_topic_partition_list_new(8);
}

/* The group's offsets are sent from the member's tick, at most every half
 * second: the latest offset of every partition committed so far, so that
 * what was committed while the member had no assignment (before the group
 * formed, during a rebalance) is carried by the next commit. A commit the
 * group refuses (a rebalance moved its generation on) is not sent again
 * at once: that would keep the member rejoining. The assignment that ends
 * the rebalance sends them all again. */
static void member_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
    (void)rk, (void)offsets, (void)opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_debug("kafka: offsets not committed to the group: %s", rd_kafka_err2str(err));
}

/* The member's partitions are assigned paused: the group holds them for it,
 * and the reading client (rk, assigned by the daemon) fetches them. Its
 * protocol is always the eager one (new_consumer): each assignment is the
 * whole. The callback asks librdkafka nothing. rd_kafka_assignment() and
 * rd_kafka_rebalance_protocol() wait for the group's thread to answer, and
 * in the callback that rd_kafka_consumer_close() serves that thread may
 * have finished the group once the assign call is made: a SIGTERM just
 * before the group gave the member its partitions hung the stop there. */
static void member_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                                void *opaque)
{
    KqConsumer *c = opaque;
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->member_in = false;
        rd_kafka_assign(rk, NULL);
        return;
    }
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, parts);
    c->member_in = true;
    if (c->member_closed)
        return; /* served by its close: the group only waits for the assign call */
    rd_kafka_pause_partitions(rk, parts);
    int n[2] = {0, 0};
    for (int i = 0; i < parts->cnt; i++)
        n[strcmp(parts->elems[i].topic, c->cfg->scans_topic) == 0]++;
    log_info("kafka: group %s gave its member %d partitions", c->cfg->group_id, n[0] + n[1]);
    c->to_group_dirty = c->to_group->cnt > 0;
    if (c->h.member)
        c->h.member(c->h.arg, n[0], n[1]);
}

static void member_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    KqConsumer *c = w->data;
    if (c->member_closed)
        return;
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(c->member, 0))) {
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("kafka group member: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    if (c->member_in && c->to_group_dirty) {
        c->to_group_dirty = false;
        rd_kafka_commit(c->member, c->to_group, 1);
    }
}

/* Messages taken from the queue in one turn of the loop. A fetch queues
 * thousands, each decoded as it is taken: drained in one callback, they kept
 * PostgreSQL's replies (and the broker's delivery reports) waiting behind
 * them. What is left is taken on the loop's next turns (`more`, an idle
 * watcher: after any I/O that is ready), before it sleeps, so the queue is
 * still drained fully after every wake-up. */
#define DRAIN_SLICE 128

void kq_consumer_drain(KqConsumer *c)
{
    if (c->closed)
        return;
    for (int n = 0;; n++) {
        if (n == DRAIN_SLICE) {
            ev_idle_start(c->loop, &c->more);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
        if (!m) {
            ev_idle_stop(c->loop, &c->more);
            break;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        c->h.message(c->h.arg, m);
    }
    c->h.drained(c->h.arg);
}

static void consumer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    KqConsumer *c = w->data;
    empty_pipe(c->wake.pipe[0]);
    kq_consumer_drain(c);
}

static void consumer_more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop, (void)revents;
    kq_consumer_drain(w->data);
}

static void consumer_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    kq_consumer_drain(w->data);
}

static int consumer_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    stats_parse(&((KqConsumer *)opaque)->stats, json, len);
    return 0; /* librdkafka frees json */
}

/* The reading client (client_id NULL: statistics, no rebalance callback) or the
 * group's member, both in the daemon's group and polled as consumers. */
static rd_kafka_t *new_consumer(KqConsumer *c, const char *const *defaults, const char *client_id, const char *what,
                                char *err, size_t errlen)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (base_conf(conf, c->cfg, defaults, err, errlen) < 0 ||
        set_conf(conf, "group.id", c->cfg->group_id, err, errlen) < 0 ||
        (client_id && set_conf(conf, "client.id", client_id, err, errlen) < 0) ||
        (client_id && set_conf(conf, "partition.assignment.strategy", MEMBER_STRATEGY, err, errlen) < 0)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (client_id) {
        rd_kafka_conf_set_rebalance_cb(conf, member_rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, member_commit_cb);
    } else
        rd_kafka_conf_set_stats_cb(conf, consumer_stats_cb);
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "%s: %s", what, e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

KqConsumer *kq_consumer_new(struct ev_loop *loop, const Config *cfg, const KqConsumerHandlers *h, char *err,
                            size_t errlen)
{
    KqConsumer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = cfg;
    c->h = *h;
    c->wake.pipe[0] = c->wake.pipe[1] = -1;
    ev_idle_init(&c->more, consumer_more_cb);
    c->more.data = c;
    c->stats.brokers_up = -1;
    c->paused = rd_kafka_topic_partition_list_new(8);
    c->assigned = rd_kafka_topic_partition_list_new(16);
    c->to_group = rd_kafka_topic_partition_list_new(16);
    c->rk = new_consumer(c, consumer_defaults, NULL, "kafka consumer", err, errlen);
    if (!c->rk || wake_start(&c->wake, loop, rd_kafka_queue_get_consumer(c->rk), consumer_io_cb, consumer_tick_cb, c,
                             err, errlen) < 0)
        goto fail;
    c->member = new_consumer(c, member_defaults, "complaintd-member", "kafka group member", err, errlen);
    if (!c->member)
        goto fail;
    for (int i = 0; i < cfg->n_rdkafka; i++)
        if (strcmp(cfg->rdkafka[i].key, "partition.assignment.strategy") == 0 &&
            strcmp(cfg->rdkafka[i].value, MEMBER_STRATEGY) != 0)
            log_info("kafka: rdkafka.partition.assignment.strategy is not used: the daemon assigns itself its "
                     "partitions, and the group's member takes " MEMBER_STRATEGY);
    ev_timer_init(&c->member_tick, member_tick_cb, 0.5, 0.5);
    c->member_tick.data = c;
    ev_timer_start(loop, &c->member_tick);
    return c;
fail:
    kq_consumer_free(c);
    return NULL;
}

/* The topics the daemon reads, complaints then scans; role = parcels reads
 * the scans alone (NULL for the complaints). */
static void read_topics(const KqConsumer *c, const char *topics[2])
{
    topics[0] = c->cfg->role == ROLE_PARCELS ? NULL : c->cfg->complaints_topic;
    topics[1] = c->cfg->scans_topic;
}

int kq_consumer_start(KqConsumer *c, char *err, size_t errlen)
{
    kq_consumer_assign_all(c, 2000);
    const char *topics[2];
    read_topics(c, topics);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(2);
    for (int i = 0; i < 2; i++)
        if (topics[i])
            rd_kafka_topic_partition_list_add(t, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->member, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int kq_consumer_assign_all(KqConsumer *c, int timeout_ms)
{
    if (c->closed)
        return 0;
    const char *topics[2];
    read_topics(c, topics);
    /* every topic's metadata: a request naming a topic that does not exist
     * creates it on a broker that creates topics on first use */
    const rd_kafka_metadata_t *md = NULL;
    int parts[2] = {0, 0};
    if (rd_kafka_metadata(c->rk, 1, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; i++)
            for (int t = 0; t < 2; t++)
                if (topics[t] && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    strcmp(md->topics[i].topic, topics[t]) == 0)
                    parts[t] = md->topics[i].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(16);
    for (int t = 0; t < 2; t++) {
        for (int32_t i = 0; i < parts[t]; i++)
            if (!rd_kafka_topic_partition_list_find(c->assigned, topics[t], i))
                rd_kafka_topic_partition_list_add(add, topics[t], i);
    }
    int n = add->cnt;
    if (n > 0) {
        c->h.assign(c->h.arg, add);
        rd_kafka_error_t *e = rd_kafka_incremental_assign(c->rk, add);
        if (e) {
            log_err("kafka: assigning %d partitions: %s", n, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            n = 0;
        } else {
            for (int i = 0; i < add->cnt; i++)
                rd_kafka_topic_partition_list_add(c->assigned, add->elems[i].topic, add->elems[i].partition);
            log_info("kafka: assigned %d partitions", n);
        }
    }
    rd_kafka_topic_partition_list_destroy(add);
    return n;
}

static void set_paused_one(KqConsumer *c, const char *topic, int32_t partition, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition);
    set_paused(c, parts, pause);
    rd_kafka_topic_partition_list_destroy(parts);
}

void kq_consumer_pause(KqConsumer *c, const char *topic, int32_t partition)
{
    if (c->closed || rd_kafka_topic_partition_list_find(c->paused, topic, partition))
        return;
    set_paused_one(c, topic, partition, true);
    rd_kafka_topic_partition_list_add(c->paused, topic, partition);
    log_debug("kafka: %s/%d paused", topic, (int)partition);
}

void kq_consumer_resume_one(KqConsumer *c, const char *topic, int32_t partition)
{
    if (c->closed || !rd_kafka_topic_partition_list_del(c->paused, topic, partition))
        return;
    set_paused_one(c, topic, partition, false);
    log_debug("kafka: %s/%d resumed", topic, (int)partition);
}

void kq_consumer_resume(KqConsumer *c)
{
    if (c->closed || c->paused->cnt == 0)
        return;
    set_paused(c, c->paused, false);
    log_debug("kafka: %d paused partitions resumed", c->paused->cnt);
    clear_paused(c);
}

bool kq_consumer_paused(const KqConsumer *c)
{
    return c->paused->cnt > 0;
}

bool kq_consumer_watermarks(KqConsumer *c, const char *topic, int32_t partition, int64_t *lo, int64_t *hi)
{
    *lo = *hi = RD_KAFKA_OFFSET_INVALID;
    if (c->closed)
        return false;
    rd_kafka_get_watermark_offsets(c->rk, topic, partition, lo, hi);
    return *hi >= 0;
}

void kq_consumer_close(KqConsumer *c)
{
    if (c->closed || !c->rk)
        return;
    c->closed = true;
    ev_idle_stop(c->loop, &c->more);
    rd_kafka_consumer_close(c->rk);
}

void kq_consumer_commit(KqConsumer *c, const rd_kafka_topic_partition_list_t *offsets)
{
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *o = &offsets->elems[i];
        rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(c->to_group, o->topic, o->partition);
        if (!t)
            t = rd_kafka_topic_partition_list_add(c->to_group, o->topic, o->partition);
        if (o->offset > t->offset)
            t->offset = o->offset;
    }
    if (offsets->cnt > 0)
        c->to_group_dirty = true;
}

void kq_consumer_free(KqConsumer *c)
{
    if (!c)
        return;
    wake_stop(&c->wake, c->loop);
    ev_idle_stop(c->loop, &c->more);
    if (c->rk) {
        kq_consumer_close(c);
        rd_kafka_destroy(c->rk);
    }
    ev_timer_stop(c->loop, &c->member_tick);
    if (c->member) {
        /* after the last batch's commit: sent, then it leaves the group */
        if (c->member_in && c->to_group_dirty)
            rd_kafka_commit(c->member, c->to_group, 1); /* the close waits for it */
        c->member_closed = true;
        rd_kafka_consumer_close(c->member);
        rd_kafka_destroy(c->member);
    }
    if (c->to_group)
        rd_kafka_topic_partition_list_destroy(c->to_group);
    if (c->paused)
        rd_kafka_topic_partition_list_destroy(c->paused);
    if (c->assigned)
        rd_kafka_topic_partition_list_destroy(c->assigned);
    free(c);
}

/* ---- producer ----------------------------------------------------------- */

struct KqProducer {
    struct ev_loop *loop;
    rd_kafka_t *rk;
    Wake wake;
    KqDelivered delivered;
    void *arg;
    Stats stats;
    /* The topics it writes to, looked up at start: a topic's first message
     * otherwise waits for that lookup, the first alerts after every start. */
    rd_kafka_topic_t *topics[2];
};

/* Never give up on a message: the outbox holds it until the broker has it. */
static const char *const producer_defaults[] = {
    "enable.idempotence", "true", "message.timeout.ms", "0", "linger.ms", "5", "statistics.interval.ms", "5000", NULL,
};

static int producer_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    stats_parse(&((KqProducer *)opaque)->stats, json, len);
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    KqProducer *p = opaque;
    p->delivered(p->arg, m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->err ? rd_kafka_err2str(m->err) : NULL);
}

void kq_producer_poll(KqProducer *p)
{
    while (rd_kafka_poll(p->rk, 0) > 0)
        ;
}

static void producer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    KqProducer *p = w->data;
    empty_pipe(p->wake.pipe[0]);
    kq_producer_poll(p);
}

static void producer_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    kq_producer_poll(w->data);
}

KqProducer *kq_producer_new(struct ev_loop *loop, const Config *cfg, KqDelivered delivered, void *arg, char *err,
                            size_t errlen)
{
    KqProducer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->delivered = delivered;
    p->arg = arg;
    p->wake.pipe[0] = p->wake.pipe[1] = -1;
    p->stats.brokers_up = -1;
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (base_conf(conf, cfg, producer_defaults, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_stats_cb(conf, producer_stats_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka producer: %s", e);
        goto fail;
    }
    if (wake_start(&p->wake, loop, rd_kafka_queue_get_main(p->rk), producer_io_cb, producer_tick_cb, p, err, errlen) <
        0)
        goto fail;
    const char *names[] = {cfg->alerts_topic, cfg->dlq_topic};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        p->topics[i] = rd_kafka_topic_new(p->rk, names[i], NULL); /* NULL: no harm, looked up when used */
    return p;
fail:
    kq_producer_free(p);
    return NULL;
}

KqProduceResult kq_produce(KqProducer *p, const char *topic, const char *key, size_t key_len, const char *payload,
                           size_t len, void *opaque)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_VALUE((void *)payload, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return KQ_QUEUED;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return KQ_FULL;
    log_warn("kafka produce to %s: %s", topic, rd_kafka_err2str(e));
    return KQ_REFUSED;
}

int kq_outq_len(KqProducer *p)
{
    return rd_kafka_outq_len(p->rk);
}

void kq_producer_free(KqProducer *p)
{
    if (!p)
        return;
    if (p->rk) {
        /* Every message still held gets its delivery report (purged), so
         * that the owner of its opaque can free it. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 2000);
        for (size_t i = 0; i < sizeof p->topics / sizeof *p->topics; i++)
            if (p->topics[i])
                rd_kafka_topic_destroy(p->topics[i]);
    }
    wake_stop(&p->wake, p->loop);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
}

int kq_consumer_brokers_up(const KqConsumer *c)
{
    return c->stats.brokers_up;
}

int kq_producer_brokers_up(const KqProducer *p)
{
    return p->stats.brokers_up;
}

/* ---- a topic's tail ------------------------------------------------------ */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until `end`, at least 1 while any is. */
static int ms_left(double end)
{
    double left = end - mono_now();
    return left <= 0 ? 0 : left * 1000 < 1 ? 1 : (int)(left * 1000);
}

static const char *const tail_defaults[] = {"enable.auto.commit", "false", "enable.partition.eof", "true", NULL};

int kq_read_tail(const Config *cfg, const char *topic, int64_t last_n, double timeout, KqTailMsg fn, void *arg,
                 char *err, size_t errlen)
{
    double end = mono_now() + timeout;
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (base_conf(conf, cfg, tail_defaults, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* assign() wants a group; the daemon's own, which it never joins with
     * this consumer nor commits for (no ACL beyond the daemon's) */
    if (set_conf(conf, "group.id", cfg->group_id, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka consumer: %s", e);
        return -1;
    }
    int rc = -1;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t x = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, ms_left(end)) : RD_KAFKA_RESP_ERR__FAIL;
    if (x != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "%s: no metadata (%s)", topic,
                 rd_kafka_err2str(x != RD_KAFKA_RESP_ERR_NO_ERROR ? x : md->topics[0].err));
        goto out;
    }
    const rd_kafka_metadata_topic_t *t = &md->topics[0];
    parts = rd_kafka_topic_partition_list_new(t->partition_cnt > 0 ? t->partition_cnt : 1);
    int waiting = 0;
    for (int i = 0; i < t->partition_cnt; i++) {
        int64_t lo, hi;
        x = rd_kafka_query_watermark_offsets(rk, topic, t->partitions[i].id, &lo, &hi, ms_left(end));
        if (x != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "%s/%d: no offsets (%s)", topic, (int)t->partitions[i].id, rd_kafka_err2str(x));
            goto out;
        }
        if (hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(parts, topic, t->partitions[i].id)->offset =
            hi - last_n > lo ? hi - last_n : lo;
        waiting++;
    }
    if (waiting > 0 && (x = rd_kafka_assign(rk, parts)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s: assign: %s", topic, rd_kafka_err2str(x));
        goto out;
    }
    /* each partition says once that it is at its end */
    while (waiting > 0) {
        int ms = ms_left(end);
        if (ms == 0) {
            snprintf(err, errlen, "%s: not read to its end within %.0f s", topic, timeout);
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, ms < 100 ? ms : 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            waiting--;
        else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            fn(arg, m->payload, m->len);
        else
            log_debug("kafka: reading the tail of %s: %s", topic, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    rc = 0;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
