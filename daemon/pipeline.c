/* pipeline: consume, merge, apply, commit, publish; see pipeline.h and
 * docs/architecture.md. */
#include "pipeline.h"

#include <assert.h>

#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "desk.h"
#include "effects.h"
#include "evt.h"
#include "kq.h"
#include "log.h"
#include "merge.h"
#include "oom.h"
#include "outbox.h"
#include "strmap.h"
#include "timeutil.h"

/* Fetched messages buffered for the merge: up to this many batches, and at
 * least PENDING_MIN messages (the merge's horizon must not shrink with a
 * small batch_max). When that many wait, the partitions holding their share
 * are paused (on_message); each is resumed when half its share is left
 * (pop_pending), so that its next fetch arrives before it runs dry, and all
 * are resumed when half the buffer is applied (pump). */
#define PENDING_BATCHES 8
#define PENDING_MIN 4096
/* In event mode the merge waits this long at most for a partition that has
 * nothing buffered but is behind its end (its next messages may be older
 * than what the others offer); then it goes on without it. */
#define MERGE_WAIT 1.0
/* ... and up to this long for a partition's first messages after it was
 * assigned (its offsets are looked up first, and a loaded broker answers
 * the first fetches of a group slowly). */
#define MERGE_WAIT_FIRST 5.0
/* Wall mode: after a start, deadlines fire on the backlog's event time
 * until every partition is applied up to the end it had when first
 * fetched; the catch-up gives up when for CATCHUP_IDLE seconds the
 * partitions were assigned, nothing blocked applying, no message came and
 * nothing fell due (a partition whose end stays beyond its last message, a
 * broker that stops answering). Whether it is over is looked at every CATCHUP_LOOK. */
#define CATCHUP_IDLE 10.0
#define CATCHUP_LOOK 0.1
/* A moved outbox watermark waits this long to share a commit when nothing
 * else is to be committed. What the broker acknowledged and the stored
 * watermark does not say yet is sent again by a start after a kill -9:
 * short, so that few are. */
#define MARKS_LINGER 0.05
/* What the store appended is folded, a slice a second, by batches of their
 * own once no batch was committed for FOLD_IDLE seconds, and at least every
 * FOLD_EVERY seconds (besides the slices the store folds by itself when
 * many rows wait; migration 006). */
#define FOLD_IDLE 1.0
#define FOLD_EVERY 60.0
/* The sweep of signed parcels and closed tickets, on the rule clock. */
#define SWEEP_EVERY 3600
/* A graceful stop gives up on what it cannot finish after this long (the
 * unit's TimeoutStopSec is 60 s). */
#define STOP_GIVE_UP 45.0
/* ... and sooner once what is left waits on a broker that acknowledged
 * nothing for this long, or on a PostgreSQL that was down all that time:
 * the next start finds the rows in PostgreSQL and the events in Kafka all
 * the same. */
#define STOP_STALLED 5.0
/* Rows of the unsent outbox read at once, at most. */
#define BACKLOG_PAGE 1000
/* A start with rows left unsent first reads up to that many last messages
 * of every partition of the alerts and dead-letter topics, for at most
 * TAIL_TIMEOUT seconds each, and does not send again what is there
 * (on_topic). Beyond TAIL_MAX rows it sends them all again. */
#define TAIL_MAX 200000
#define TAIL_TIMEOUT 3.0
/* Steps of building a batch taken in one go before the loop gets a turn:
 * a commit in flight moves on only when the loop runs (its COPY data and
 * each next statement go out from the loop), so building the next batch in
 * slices keeps PostgreSQL and the daemon working at the same time. */
#define PUMP_SLICE 32
/* Effects one step adds at most: deadlines that fall due together fire in
 * steps of this size, within the batch's bound. */
#define STEP_EFFECTS 128

/* A consumed message waiting to be applied, decoded. */
typedef struct Pending {
    MergeItem item;        /* first; at: occurred_at, INT64_MIN when it will be dead-lettered */
    rd_kafka_message_t *m; /* owned */
    struct Part *part;     /* its partition's */
    bool scan;
    EvtStatus st;
    char detail[EVT_DETAIL_MAX];
    union {
        ComplaintEvent c;
        ScanEvent s;
    } u;
} Pending;

typedef struct Offset {
    char *topic;
    int32_t partition;
    int64_t next;
    bool dirty;
} Offset;

/* A partition of the consumer's assignment, as fetched. Kept until the
 * pipeline is freed: fetched messages and the last-fetched cache point to it. */
typedef struct Part {
    int64_t fetched;   /* the offset after the last message fetched; -1: not known (assigned at the beginning) */
    bool paused;       /* back-pressure stopped its fetcher */
    bool brought;      /* a message came since it was assigned or resumed */
    bool assigned;     /* in the consumer's assignment now */
    int64_t start_end; /* wall mode's catch-up: its end when first fetched; -1: not known yet */
} Part;

/* The batch being committed. */
typedef struct Inflight {
    bool active;
    OutList out;   /* its alerts and dead letters, published once it is committed */
    int64_t acked; /* the outbox watermark it stores, -1 when none */
    rd_kafka_topic_partition_list_t *kafka_offsets;
} Inflight;

struct Pipeline {
    int64_t indicators[CAT__COUNT][IND__COUNT]; /* totals by category (§12.9) */
    uint64_t alerts_by[AL__COUNT][3];
    uint64_t dead_by[PIPELINE_DLQ_REASONS];
    /* the status page: today's indicator counts and breaches by hour */
    int32_t today;
    int64_t today_ind[CAT__COUNT][IND__COUNT];
    int64_t br_hour; /* the hour of br[23] */
    uint32_t br[24];
    struct ev_loop *loop;
    const Config *cfg;
    Desk *desk;
    Store *store;
    Outbox *outbox;
    KqConsumer *consumer;
    StrMap *offsets; /* "topic/partition" -> Offset */
    StrMap *parts;   /* "topic/partition" -> Part, of the assignment */

    Merge *fetched;  /* fetched, not yet applied, per partition */
    ev_timer linger; /* holds a fetch for the other partitions' messages */
    bool linger_done;
    ev_timer merge_wait;     /* bounds the wait for a partition behind its end */
    ev_tstamp blocked_since; /* 0: no partition holds the merge back */
    bool wait_expired;       /* ... and it held it back for MERGE_WAIT */
    /* no partition held the merge back when it last looked, and none has
     * run dry (merge_emptied) nor has anything been fetched since */
    bool merge_clear;
    uint64_t merge_clear_emptied;
    /* The partitions read of each topic (complaints, scans), the group
     * member's share of them, and when to compare the two (a second member
     * in the group gets the others; group_shared says so) */
    int assigned[2];
    int member_parts[2];
    ev_tstamp check_assignment_at;
    bool group_shared;
    /* the partition of the last message fetched */
    const rd_kafka_topic_t *last_rkt;
    int32_t last_partition;
    struct Part *last_part;
    uint64_t n_merge_waits, n_merge_wait_expired;
    /* Held events expire once the backlog found at the start was read
     * (holds_may_expire), or at the latest from: */
    bool holds_open;
    int64_t holds_open_at; /* wall time, 0: not set yet */

    int64_t event_clock;
    /* Wall mode, after a start: the backlog is being read (caught_up is
     * false), and deadlines fire on the largest occurred_at applied, as in
     * event mode, instead of the wall clock (docs/events.md) */
    bool caught_up;
    bool ever_assigned;
    int64_t catchup_clock;
    uint64_t catchup_read;
    ev_tstamp catchup_active; /* when the catch-up was last not idle (pump, catching_up) */
    ev_tstamp catchup_looked;
    ev_timer catchup_timer; /* wakes the loop to look again */

    Effects eff; /* the open batch */
    /* its alerts and dead letters encoded so far (as they are made, so that
     * the work overlaps the commit in flight), in the order they were made */
    OutList open_out;
    size_t alerts_out, dead_out;
    Inflight inflight;
    size_t handing; /* the messages of the batch just committed, until they are in the outbox */
    ev_tstamp last_commit;

    /* The outbox rows an earlier run committed and did not see delivered,
     * (backlog_after, backlog_upto], paged in before anything new is built. */
    int64_t backlog_after, backlog_upto;
    bool backlog_reading;
    /* of those, what the topics already had at start (tail_key); NULL when
     * not known */
    StrMap *on_topic;
    size_t backlog_skipped, backlog_rows;
    bool lookup_pending;  /* reading back a ticket that left memory (§12.2) */
    int64_t next_seq;     /* of the next alert or dead letter */
    int64_t acked_stored; /* the outbox watermark PostgreSQL has */

    ev_periodic deadline_timer;
    ev_timer housekeeping;
    ev_timer marks;   /* wakes the loop when a lingering watermark is due */
    bool fold_wanted; /* the next batch folds, empty or not */
    ev_tstamp last_fold;
    ev_prepare prepare;
    ev_idle more; /* another slice of building to do */
    int64_t last_sweep;
    ev_tstamp last_status;
    bool pumping;

    bool stopping;
    void (*stop_done)(void *);
    void *stop_arg;
    ev_tstamp stop_started;
    ev_tstamp stop_progress; /* when the outbox's acknowledgements last moved */
    ev_tstamp stop_pg_seen;  /* when PostgreSQL was last seen up */
    int64_t stop_acked;

    uint64_t n_applied, n_history, n_held, n_duplicates, n_dead, n_alerts, n_scans;
    uint64_t n_off_partition, off_partition_logged; /* and when the last warning was */
    ev_tstamp off_partition_warned;
};

static void pump(Pipeline *p);

/* ---- clocks ------------------------------------------------------------- */

static int64_t wall_now(const Pipeline *p)
{
    return (int64_t)ev_now(p->loop);
}

/* The clock the rules run on: the wall clock, or the event clock. */
static int64_t rule_now(const Pipeline *p)
{
    return p->cfg->clock_mode == CLOCK_WALL ? wall_now(p) : p->event_clock;
}

/* ---- offsets ------------------------------------------------------------ */

static Offset *offset_of(Pipeline *p, const char *topic, int32_t partition, bool create)
{
    char k[512];
    snprintf(k, sizeof k, "%s/%d", topic, (int)partition);
    Offset *o = sm_get(p->offsets, k);
    if (o || !create)
        return o;
    o = oom_check(calloc(1, sizeof *o));
    o->topic = oom_check(strdup(topic));
    o->partition = partition;
    oom_rc(sm_put(p->offsets, k, o));
    return o;
}

static Part *part_of(Pipeline *p, const char *topic, int32_t partition, bool create)
{
    char k[512];
    snprintf(k, sizeof k, "%s/%d", topic, (int)partition);
    Part *f = sm_get(p->parts, k);
    if (f || !create)
        return f;
    f = oom_check(calloc(1, sizeof *f));
    f->fetched = -1;
    oom_rc(sm_put(p->parts, k, f));
    return f;
}

/* ---- fetched messages --------------------------------------------------- */

static size_t pending_max(const Pipeline *p)
{
    size_t n = PENDING_BATCHES * (size_t)p->cfg->batch_max;
    return n > PENDING_MIN ? n : PENDING_MIN;
}

/* A partition's share of the buffer: it is paused when it holds that much
 * of a full buffer, and resumed when half of it is left. */
static size_t part_share(const Pipeline *p)
{
    return pending_max(p) / sm_count(p->parts);
}

static void pending_free(Pending *x)
{
    rd_kafka_message_destroy(x->m);
    free(x);
}

/* Takes one consumed message (and its ownership): decoded now, applied in
 * merge order by pump(). */
static void on_message(void *arg, rd_kafka_message_t *m)
{
    Pipeline *p = arg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    bool scan = strcmp(topic, p->cfg->scans_topic) == 0;
    if (!scan && strcmp(topic, p->cfg->complaints_topic) != 0) {
        rd_kafka_message_destroy(m);
        return;
    }
    if (p->last_rkt != m->rkt || p->last_partition != m->partition) {
        p->last_part = part_of(p, topic, m->partition, true);
        p->last_rkt = m->rkt;
        p->last_partition = m->partition;
    }
    Part *f = p->last_part;
    if (f->fetched >= 0 && m->offset < f->fetched) {
        /* brought before: a fetch that started over must not apply twice */
        log_debug("kafka: %s/%d: offset %lld was fetched before; skipped", topic, (int)m->partition,
                  (long long)m->offset);
        rd_kafka_message_destroy(m);
        return;
    }
    Pending *x = oom_check(calloc(1, sizeof *x));
    x->m = m;
    x->part = f;
    x->scan = scan;
    const char *payload = m->payload ? (const char *)m->payload : "";
    size_t max = (size_t)p->cfg->max_event_bytes;
    /* The merge's order: event time to the nanosecond, then at one instant
     * everything before a `received`, so that a stage completed, a ticket
     * resolved or a scan made at that instant is seen by the new ticket
     * (and its deadlines) whatever partitions they came on. */
    if (scan) {
        x->st = evt_decode_scan(payload, m->len, max, &x->u.s, x->detail, sizeof x->detail);
        x->item.at = x->st == EVT_OK ? x->u.s.occurred_at : INT64_MIN;
        x->item.ns = x->st == EVT_OK ? x->u.s.occurred_ns : 0;
    } else {
        x->st = evt_decode_complaint(payload, m->len, max, &x->u.c, x->detail, sizeof x->detail);
        x->item.at = x->st == EVT_OK ? x->u.c.occurred_at : INT64_MIN;
        x->item.ns = x->st == EVT_OK ? x->u.c.occurred_ns : 0;
        x->item.rank = x->st == EVT_OK && x->u.c.type == CT_RECEIVED;
    }
    /* what will be dead-lettered goes first: an event dated 2099 must not
     * hold its partition back behind every other partition's events */
    if (x->st == EVT_OK && !desk_time_plausible(p->desk, x->item.at, wall_now(p)))
        x->item = (MergeItem){.at = INT64_MIN};
    oom_rc(merge_push(p->fetched, topic, m->partition, &x->item));
    if (m->offset + 1 > f->fetched)
        f->fetched = m->offset + 1;
    f->brought = true;
    /* A full buffer pauses a partition that brings more and holds its share
     * of the buffer; one holding less keeps fetching, so that the merge sees
     * its next messages (the buffer then holds about twice its size at most). A
     * partition paused on its first message would be resumed by the merge
     * as soon as that message is applied, a message a fetch. */
    size_t full = pending_max(p);
    if (!f->paused && merge_count(p->fetched) >= full &&
        merge_count_of(p->fetched, topic, m->partition) >= part_share(p)) {
        kq_consumer_pause(p->consumer, topic, m->partition);
        f->paused = true;
    }
    if (!p->linger_done && !ev_is_active(&p->linger) && p->cfg->batch_linger_ms > 0) {
        ev_timer_set(&p->linger, (double)p->cfg->batch_linger_ms / 1000.0, 0.0);
        ev_timer_start(p->loop, &p->linger);
    }
}

static void on_drained(void *arg)
{
    /* a fetch may have moved a partition's end: look for blockers again;
     * pump() runs before the loop sleeps again */
    ((Pipeline *)arg)->merge_clear = false;
}

static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Pipeline *p = w->data;
    /* what the rest of the fetch brought may still sit in the consumer's queue */
    kq_consumer_drain(p->consumer);
    p->linger_done = true;
}

static void merge_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Pipeline *p = w->data;
    kq_consumer_drain(p->consumer); /* pump() runs before the loop sleeps again */
}

/* Whether a partition of the assignment may still bring messages older
 * than what is buffered: nothing of it is buffered and librdkafka's last
 * fetch response put its end beyond what was fetched (or there was no
 * response yet). That includes a partition paused by a full buffer whose
 * buffered messages have all been applied since: merge_held_back resumes
 * it rather than going on without it. */
static int part_behind(void *arg, const char *topic, int32_t partition)
{
    Pipeline *p = arg;
    Part *f = part_of(p, topic, partition, false);
    if (!f)
        return 0;
    int64_t lo, hi;
    if (!kq_consumer_watermarks(p->consumer, topic, partition, &lo, &hi))
        return 1;
    if (f->fetched < 0 && lo < 0)
        return hi > 0; /* from the beginning, whose offset is not known yet */
    return (f->fetched >= 0 ? f->fetched : lo) < hi;
}

/* In event mode, whether the merge waits for a partition behind its end,
 * for MERGE_WAIT at most (MERGE_WAIT_FIRST for its first messages): a backlog over several partitions and topics is
 * then applied in event-time order whatever order the fetches arrive in
 * (docs/events.md). A partition that stays behind without bringing
 * anything (a broker that does not answer for it; a transaction marker at
 * its end) costs one wait, until it has messages again. */
static bool merge_held_back(Pipeline *p)
{
    if (p->cfg->clock_mode != CLOCK_EVENT && p->caught_up)
        return false;
    /* Looking is a watermark lookup per partition with nothing buffered,
     * which was 40% of the daemon's time when done for every message. A
     * partition starts holding the merge back only when a pop empties it
     * or a fetch moves its end, and every fetch is drained (on_drained). */
    if (p->merge_clear && merge_emptied(p->fetched) == p->merge_clear_emptied)
        return false;
    int32_t part;
    const char *topic = merge_blocker(p->fetched, part_behind, p, &part);
    if (!topic) {
        p->blocked_since = 0;
        p->wait_expired = false;
        ev_timer_stop(p->loop, &p->merge_wait);
        p->merge_clear = true;
        p->merge_clear_emptied = merge_emptied(p->fetched);
        return false;
    }
    p->merge_clear = false;
    Part *f = part_of(p, topic, part, false);
    if (f && f->paused) {
        /* emptied while the others still fill the buffer: it must fetch
         * again (its prefetch was dropped) for the merge to see its next
         * message, and the wait for it starts now, as after an assignment */
        kq_consumer_resume_one(p->consumer, topic, part);
        f->paused = false;
        f->brought = false;
        p->blocked_since = 0;
        ev_timer_stop(p->loop, &p->merge_wait);
    }
    double bound = f && f->brought ? MERGE_WAIT : MERGE_WAIT_FIRST;
    ev_tstamp now = ev_now(p->loop);
    if (p->blocked_since == 0) {
        p->blocked_since = now;
        p->n_merge_waits++;
        log_debug("the merge waits for %s/%d (%zu buffered)", topic, (int)part, merge_count(p->fetched));
    }
    if (now - p->blocked_since < bound) {
        /* wakes the loop when the wait runs out (the blocker may change) */
        if (!ev_is_active(&p->merge_wait)) {
            ev_timer_set(&p->merge_wait, p->blocked_since + bound - now, 0.0);
            ev_timer_start(p->loop, &p->merge_wait);
        }
        return true;
    }
    if (!p->wait_expired) {
        p->wait_expired = true;
        p->n_merge_wait_expired++;
        log_info("the merge waited %.1fs for %s/%d, which is behind its end and brings nothing; going on without it",
                 bound, topic, (int)part);
    }
    return false;
}

/* Whether fetched messages may be applied now: a fetch waits
 * batch_linger_ms for the other partitions' messages of the same fetch,
 * unless half the buffer is already full, and (event mode) for partitions
 * behind their end. */
static bool pending_ready(Pipeline *p)
{
    if (p->lookup_pending)
        return false; /* the next message waits for its ticket's row */
    size_t n = merge_count(p->fetched);
    if (n == 0)
        return false;
    if (p->stopping)
        return true;
    if (!p->linger_done && p->cfg->batch_linger_ms > 0 && n < pending_max(p) / 2)
        return false;
    return !merge_held_back(p);
}

static Pending *pop_pending(Pipeline *p)
{
    Pending *x = (Pending *)merge_pop(p->fetched);
    Part *f = x->part;
    if (f->paused) {
        const char *topic = rd_kafka_topic_name(x->m->rkt);
        if (merge_count_of(p->fetched, topic, x->m->partition) <= part_share(p) / 2) {
            kq_consumer_resume_one(p->consumer, topic, x->m->partition);
            f->paused = false;
        }
    }
    if (merge_count(p->fetched) == 0)
        p->linger_done = false;
    return x;
}

/* Forgets what was fetched and not applied (a stop): the next start
 * fetches it again from the offset after the last one applied. */
static void drop_pending(Pipeline *p)
{
    for (MergeItem *it = merge_take(p->fetched, NULL, 0), *n; it; it = n) {
        n = it->next;
        pending_free((Pending *)it);
    }
    p->linger_done = false;
}

/* ---- applying ----------------------------------------------------------- */

static bool backlog_pending(const Pipeline *p)
{
    return p->backlog_after < p->backlog_upto;
}

/* ---- wall mode's catch-up after a start ---------------------------------- */

static size_t msgs_ahead(const Pipeline *p);

static void end_catchup(Pipeline *p, const char *why)
{
    p->caught_up = true;
    p->merge_clear = false;
    ev_timer_stop(p->loop, &p->catchup_timer);
    log_info("wall clock: %s (%" PRIu64 " message(s) applied since the start); deadlines fire on the wall clock "
             "from now",
             why, p->catchup_read);
}

/* Whether a partition is applied up to the end it had when it was first
 * fetched (an empty one as soon as that end is known). */
static bool part_caught_up(Pipeline *p, const char *key, Part *f)
{
    const char *slash = strrchr(key, '/');
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)(slash - key), key);
    int32_t partition = (int32_t)atoi(slash + 1);
    int64_t lo, hi;
    if (!kq_consumer_watermarks(p->consumer, topic, partition, &lo, &hi))
        return false;
    if (f->start_end < 0)
        f->start_end = hi;
    const Offset *o = offset_of(p, topic, partition, false);
    int64_t at = o ? o->next : 0;
    return (at > lo ? at : lo) >= f->start_end;
}

/* Wall mode: whether the backlog found at the start is still being read.
 * Until it is, deadlines fire on the event time it has reached, so that
 * the events that waited in Kafka while the daemon was stopped are judged
 * before the deadlines they meet, as a run that never stopped would have. */
static bool catching_up(Pipeline *p)
{
    if (p->caught_up)
        return false;
    ev_tstamp t = ev_now(p->loop);
    if (t - p->catchup_looked < CATCHUP_LOOK)
        return true;
    p->catchup_looked = t;
    /* Idle time counts only while messages could be applied. Before the
     * first assignment it does not: after a crash the group keeps the dead
     * instance's partitions for session.timeout.ms, and while the broker is
     * down nothing could be published anyway (on_assign starts it). Nor
     * while a commit, a full outbox, the unsent backlog or a lookup holds
     * applying back (PostgreSQL slow or down). */
    if (!p->ever_assigned || p->inflight.active || p->lookup_pending || backlog_pending(p) ||
        (p->outbox && outbox_room(p->outbox) <= msgs_ahead(p)))
        p->catchup_active = t;
    if (t - p->catchup_active >= CATCHUP_IDLE) {
        end_catchup(p, "nothing came for 10 s");
        return false;
    }
    if (p->stopping || p->assigned[0] + p->assigned[1] == 0)
        return true;
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(p->parts, &it, &k, &v);)
        if (((Part *)v)->assigned && !part_caught_up(p, k, v))
            return true;
    end_catchup(p, "read the backlog");
    return false;
}

static void catchup_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents, (void)w; /* pump() looks */
}

typedef enum {
    STEP_NONE, /* nothing to do now, or not allowed to build */
    STEP_DONE, /* something went into the open batch */
    STEP_FULL, /* the open batch has no room for the next thing */
} Step;

static void looked_up(void *arg, Ticket *t)
{
    Pipeline *p = arg;
    p->lookup_pending = false;
    oom_rc(desk_lookup_done(p->desk, t));
    pump(p);
}

/* Offers the next fetched message to the desk, or dead-letters it. */
static Step apply_next(Pipeline *p, size_t max)
{
    Pending *x = (Pending *)merge_peek(p->fetched);
    const rd_kafka_message_t *m = x->m;
    DeskSource src = {
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .key = m->key,
        .key_len = m->key_len,
        .payload = m->payload ? (const char *)m->payload : "",
        .len = m->len,
    };
    if (x->st != EVT_OK) {
        if (!eff_empty(&p->eff) && eff_size(&p->eff) + 1 > max)
            return STEP_FULL;
        oom_rc(eff_dead_letter(&p->eff, evt_status_name(x->st), x->detail, src.topic, src.partition, src.offset,
                               src.key, src.key_len, src.payload, src.len));
    } else {
        int64_t *clock = p->cfg->clock_mode == CLOCK_EVENT ? &p->event_clock : p->caught_up ? NULL : &p->catchup_clock;
        /* dated after the wall clock (a producer's clock ahead, within
         * max_future_skew): applied on the wall clock, which the catch-up's
         * clock must not pass, and the catch-up goes on with the older
         * events behind it */
        if (clock == &p->catchup_clock && x->item.at > wall_now(p))
            clock = NULL;
        int r = oom_rc(desk_offer(p->desk, x->scan ? NULL : &x->u.c, x->scan ? &x->u.s : NULL, &src, clock, wall_now(p),
                                  max, STEP_EFFECTS, &p->eff));
        if (r == DESK_FULL)
            return STEP_FULL;
        if (r == DESK_FIRED)
            return STEP_DONE;
        if (r == DESK_LOOKUP) {
            log_debug("ticket %s is not in memory: reading it back", desk_lookup_id(p->desk));
            p->lookup_pending = true;
            store_lookup(p->store, desk_lookup_id(p->desk), looked_up, p);
            return STEP_NONE;
        }
    }
    Offset *o = offset_of(p, src.topic, src.partition, true);
    if (m->offset + 1 > o->next)
        o->next = m->offset + 1;
    o->dirty = true;
    if (!p->caught_up)
        p->catchup_read++;
    pending_free(pop_pending(p));
    return STEP_DONE;
}

/* Whether held events may expire now. Their hold_timeout is processing
 * time, but the time the daemon was stopped is not: a `received` produced
 * meanwhile waits in the backlog and must release them, not find them
 * dead-lettered as unknown_ticket (contract 12.2). So after a start they
 * expire only once the partitions are assigned and what was fetched is
 * applied, and then every partition is at its end, or one hold_timeout has
 * passed since the first such moment (a partition whose end stays beyond
 * its last message). From then on they expire as they fall due. */
static bool holds_may_expire(Pipeline *p)
{
    if (p->holds_open)
        return true;
    if (p->assigned[0] + p->assigned[1] == 0 || merge_count(p->fetched) > 0)
        return false;
    int64_t now = wall_now(p);
    if (p->holds_open_at == 0)
        p->holds_open_at = tu_add_sat(now, desk_policy(p->desk)->hold_timeout);
    int32_t part;
    if (now >= p->holds_open_at || !merge_blocker(p->fetched, part_behind, p, &part)) {
        p->holds_open = true;
        log_debug("held events may expire: %s", now >= p->holds_open_at ? "hold_timeout passed" : "caught up");
    }
    return p->holds_open;
}

/* Alerts and dead letters not yet in the outbox: those of the batch just
 * committed (while the next one is sent), of the batch being committed and
 * of the open batch. */
static size_t msgs_ahead(const Pipeline *p)
{
    return p->handing + p->inflight.out.n + p->eff.alerts.n + p->eff.n_dead;
}

/* Puts the next piece of work into the open batch, in this order: a policy
 * reload's recompute, deadlines due on the rule clock, expired held events,
 * then the next fetched message (in event mode after the deadlines that fall
 * before it). */
static Step build_step(Pipeline *p)
{
    /* New effects wait while the outbox is full, counting the messages of
     * the batch being committed and of this one, which it will take, and
     * until what an earlier run left unsent is queued ahead of them. */
    if (outbox_room(p->outbox) <= msgs_ahead(p) || backlog_pending(p))
        return STEP_NONE;
    size_t max = (size_t)p->cfg->batch_max;
    /* a firing step adds at most STEP_EFFECTS, so that the loop gets its turns */
    size_t fire_max = eff_size(&p->eff) + STEP_EFFECTS < max ? eff_size(&p->eff) + STEP_EFFECTS : max;
    bool wall = p->cfg->clock_mode == CLOCK_WALL;
    /* in wall mode's catch-up, deadlines fire as in event mode, on the
     * backlog's time; a reload's recompute waits for the wall clock */
    bool on_events = !wall || catching_up(p);
    int64_t now = !wall ? p->event_clock : on_events ? p->catchup_clock : wall_now(p);
    if (desk_recompute_pending(p->desk) && !(wall && on_events)) {
        int n = oom_rc(desk_recompute(p->desk, now, max, &p->eff));
        return n > 0 || !desk_recompute_pending(p->desk) ? STEP_DONE : STEP_FULL;
    }
    /* event mode: a deadline at the clock's second fires once an input
     * after that second comes (desk_offer), so that every event dated at
     * it, in whatever order, is applied first (contract §11) */
    int64_t upto = on_events ? now - 1 : now;
    if (!(wall && p->stopping) && desk_next_due(p->desk) <= upto)
        return oom_rc(desk_fire_due(p->desk, upto, fire_max, &p->eff)) > 0 ? STEP_DONE : STEP_FULL;
    /* held events that ran out of time; and while more than hold_max are
     * held, the oldest, even before any may run out of time after a start,
     * so that a flood of them is bounded */
    bool timed_out = !p->stopping && desk_next_hold_expiry(p->desk) <= wall_now(p) && holds_may_expire(p);
    if (timed_out || (!p->stopping && desk_held_over(p->desk))) {
        int64_t by = timed_out ? wall_now(p) : INT64_MIN;
        return oom_rc(desk_expire_held(p->desk, by, max, &p->eff)) > 0 ? STEP_DONE : STEP_FULL;
    }
    if (!pending_ready(p))
        return STEP_NONE;
    return apply_next(p, max);
}

/* ---- committing --------------------------------------------------------- */

static void count_effects(Pipeline *p, const Effects *e)
{
    for (size_t i = 0; i < e->n_events; i++) {
        if (e->events[i].applied)
            p->n_applied++;
        else
            p->n_history++;
    }
    p->n_held += e->n_held;
    p->n_duplicates += e->n_duplicates;
    p->n_off_partition += e->n_off_partition;
    if (p->n_off_partition > p->off_partition_logged &&
        (p->off_partition_logged == 0 || ev_now(p->loop) - p->off_partition_warned >= 60)) {
        log_warn("%" PRIu64 " complaint event(s) came on another partition than their ticket's received (%" PRIu64
                 " since the start); they are applied, but a desk spread over several instances would need "
                 "complaint events keyed by ticket_id (docs/events.md)",
                 p->n_off_partition - p->off_partition_logged, p->n_off_partition);
        p->off_partition_logged = p->n_off_partition;
        p->off_partition_warned = ev_now(p->loop);
    }
    p->n_dead += e->n_dead;
    p->n_alerts += e->alerts.n;
    p->n_scans += e->n_scans;
    for (size_t i = 0; i < e->indic.n; i++)
        for (int f = 0; f < IND__COUNT; f++)
            p->indicators[e->indic.v[i]->category][f] += e->indic.v[i]->n[f];
    for (size_t i = 0; i < e->alerts.n; i++) {
        const Alert *a = &e->alerts.v[i];
        if (a->type >= 0 && a->type < AL__COUNT && a->status >= 0 && a->status <= AS_RETRACTED)
            p->alerts_by[a->type][a->status]++;
    }
    for (size_t i = 0; i < e->n_dead; i++) {
        size_t r = 0;
        while (r + 1 < PIPELINE_DLQ_REASONS && strcmp(pipeline_dlq_reason(r), e->dead[i].reason) != 0)
            r++;
        p->dead_by[r]++;
    }
}

const char *pipeline_dlq_reason(size_t i)
{
    static const char *const names[PIPELINE_DLQ_REASONS] = {
        "too_large",      "malformed_json",     "missing_field",  "invalid_field",
        "unknown_schema", "invalid_transition", "unknown_ticket", "other",
    };
    return i < PIPELINE_DLQ_REASONS ? names[i] : "other";
}

/* ---- the status page's day and hours -------------------------------------- */

static int32_t local_day(const Pipeline *p, int64_t t)
{
    int64_t l = t + (int64_t)cal_utc_offset(desk_policy(p->desk)->cal) * 60;
    return (int32_t)(l / 86400 - (l % 86400 < 0));
}

static int64_t hour_of(int64_t t)
{
    return t / 3600 - (t % 3600 < 0);
}

/* Moves the breach ring up to `hour` (older hours fall off). */
static void ring_advance(Pipeline *p, int64_t hour)
{
    if (hour <= p->br_hour)
        return;
    int64_t shift = hour - p->br_hour;
    if (shift >= 24) {
        memset(p->br, 0, sizeof p->br);
    } else {
        memmove(p->br, p->br + shift, (size_t)(24 - shift) * sizeof *p->br);
        memset(p->br + 24 - shift, 0, (size_t)shift * sizeof *p->br);
    }
    p->br_hour = hour;
}

/* The status page's counts of one batch. */
static void count_status(Pipeline *p, const Effects *e)
{
    int32_t today = local_day(p, rule_now(p));
    if (today > p->today) {
        memset(p->today_ind, 0, sizeof p->today_ind);
        p->today = today;
    }
    for (size_t i = 0; i < e->indic.n; i++)
        if (e->indic.v[i]->day == p->today)
            for (int f = 0; f < IND__COUNT; f++)
                p->today_ind[e->indic.v[i]->category][f] += e->indic.v[i]->n[f];
    ring_advance(p, hour_of(rule_now(p)));
    for (size_t i = 0; i < e->alerts.n; i++) {
        const Alert *a = &e->alerts.v[i];
        int64_t h = hour_of(a->condition_at);
        if (a->type == AL_SLA_BREACH && a->status == AS_FIRING && h > p->br_hour - 24 && h <= p->br_hour)
            p->br[23 - (p->br_hour - h)]++;
    }
}

void pipeline_status_page(Pipeline *p, PipelineStatusPage *out)
{
    memset(out, 0, sizeof *out);
    desk_summary(p->desk, &out->desk);
    out->now = rule_now(p);
    out->event_mode = p->cfg->clock_mode == CLOCK_EVENT;
    out->utc_offset_min = cal_utc_offset(desk_policy(p->desk)->cal);
    out->today = local_day(p, out->now);
    if (out->today == p->today)
        memcpy(out->today_indicators, p->today_ind, sizeof out->today_indicators);
    ring_advance(p, hour_of(out->now));
    out->hour = p->br_hour;
    memcpy(out->breaches, p->br, sizeof out->breaches);
    PipelineCounters c;
    pipeline_counters(p, &c);
    out->postgres_up = c.postgres_up;
    out->kafka_up = c.consumer_brokers_up < 0 || c.producer_brokers_up < 0
                        ? -1
                        : c.consumer_brokers_up > 0 && c.producer_brokers_up > 0;
}

static void committed(void *arg)
{
    Pipeline *p = arg;
    Inflight *f = &p->inflight;
    /* The next batch goes to PostgreSQL first, and this one's messages to
     * the producer after: the session works on the one while the daemon
     * hands over the other (docs/performance.md). A stop hands them over
     * first, since pump() may end it. */
    OutList done = {0};
    out_list_splice(&done, &f->out);
    if (f->acked > p->acked_stored)
        p->acked_stored = f->acked;
    if (f->kafka_offsets) {
        if (p->consumer)
            kq_consumer_commit(p->consumer, f->kafka_offsets);
        rd_kafka_topic_partition_list_destroy(f->kafka_offsets);
        f->kafka_offsets = NULL;
    }
    f->active = false;
    p->last_commit = ev_now(p->loop);
    desk_set_folded(p->desk, store_folded(p->store));
    if (p->stopping) {
        outbox_push(p->outbox, &done);
        pump(p);
        return;
    }
    p->handing = done.n;
    pump(p);
    p->handing = 0;
    outbox_push(p->outbox, &done);
}

/* Encodes the open batch's new alerts and dead letters into messages. */
static void encode_new(Pipeline *p)
{
    Effects *e = &p->eff;
    if (p->alerts_out == e->alerts.n && p->dead_out == e->n_dead)
        return;
    int off = cal_utc_offset(desk_policy(p->desk)->cal);
    int64_t wall = wall_now(p);
    for (; p->alerts_out < e->alerts.n; p->alerts_out++) {
        Alert *a = &e->alerts.v[p->alerts_out];
        a->emitted_at = wall;
        out_list_push(&p->open_out, out_alert(a, off));
        log_debug("alert %s %s", a->alert_id, alert_status_name(a->status));
    }
    for (; p->dead_out < e->n_dead; p->dead_out++) {
        const EffDead *d = &e->dead[p->dead_out];
        out_list_push(&p->open_out, out_dead(d));
        log_info("dead letter %s[%d]@%" PRId64 ": %s: %s", d->src.topic, (int)d->src.partition, d->src.offset,
                 d->reason, d->detail);
    }
}

/* Sends the open batch to PostgreSQL when nothing else is being committed. */
static void maybe_commit(Pipeline *p)
{
    Inflight *f = &p->inflight;
    if (f->active || store_committing(p->store))
        return;
    int64_t acked = outbox_acked(p->outbox);
    StoreFold fold = p->fold_wanted && !p->stopping ? STORE_FOLD_IDLE : STORE_FOLD_AUTO;
    if (eff_empty(&p->eff) && acked <= p->acked_stored && fold == STORE_FOLD_AUTO)
        return;
    /* The watermark alone waits a little to share a transaction. */
    if (eff_empty(&p->eff) && !p->stopping && fold == STORE_FOLD_AUTO &&
        ev_now(p->loop) - p->last_commit < MARKS_LINGER) {
        if (!ev_is_active(&p->marks)) {
            ev_timer_set(&p->marks, p->last_commit + MARKS_LINGER - ev_now(p->loop), 0.0);
            ev_timer_start(p->loop, &p->marks);
        }
        return;
    }
    if (fold != STORE_FOLD_AUTO) {
        p->fold_wanted = false;
        p->last_fold = ev_now(p->loop);
    }
    f->acked = acked > p->acked_stored ? acked : -1;
    Effects *e = &p->eff;
    int off = cal_utc_offset(desk_policy(p->desk)->cal);
    encode_new(p);
    for (OutMsg *m = p->open_out.head; m; m = m->next)
        m->seq = p->next_seq++;
    out_list_splice(&f->out, &p->open_out);
    p->alerts_out = p->dead_out = 0;

    StoreOffset *offs = NULL;
    size_t n_offs = 0;
    const char *k;
    void *v;
    for (size_t it = 0; sm_next(p->offsets, &it, &k, &v);) {
        Offset *o = v;
        if (!o->dirty)
            continue;
        o->dirty = false;
        offs = oom_check(realloc(offs, (n_offs + 1) * sizeof *offs));
        offs[n_offs++] = (StoreOffset){.topic = o->topic, .partition = o->partition, .next = o->next};
        if (!f->kafka_offsets)
            f->kafka_offsets = oom_check(rd_kafka_topic_partition_list_new(8));
        rd_kafka_topic_partition_list_add(f->kafka_offsets, o->topic, o->partition)->offset = o->next;
    }
    StoreBatch b = {
        .eff = e,
        .out = &f->out,
        .outbox_acked = f->acked,
        .offsets = offs,
        .n_offsets = n_offs,
        .event_clock = p->event_clock,
        .utc_offset_min = off,
        .fold = fold,
    };
    f->active = true;
    count_effects(p, e);
    count_status(p, e);
    store_commit(p->store, &b, committed, p);
    free(offs);
    eff_reset(e);
}

/* ---- the outbox an earlier run left ------------------------------------- */

/* What tells a message on the alerts or dead-letter topic: an alert's id
 * and status, a dead letter's source coordinates. */
static void tail_key(char *buf, size_t len, bool alert, const char *a, const char *b, int64_t partition, int64_t offset)
{
    if (alert)
        snprintf(buf, len, "a\x1f%s\x1f%s", a, b);
    else
        snprintf(buf, len, "d\x1f%s\x1f%" PRId64 "\x1f%" PRId64, a, partition, offset);
}

static void tail_msg(void *arg, const char *payload, size_t len)
{
    Pipeline *p = arg;
    json_t *j = json_loadb(payload, len, 0, NULL);
    if (!j)
        return;
    const char *schema = json_string_value(json_object_get(j, "schema"));
    char k[1024];
    k[0] = '\0';
    if (schema && strcmp(schema, "alert.v1") == 0) {
        const char *id = json_string_value(json_object_get(j, "alert_id"));
        const char *st = json_string_value(json_object_get(j, "status"));
        if (id && st)
            tail_key(k, sizeof k, true, id, st, 0, 0);
    } else if (schema && strcmp(schema, "dlq.v1") == 0) {
        const char *topic = json_string_value(json_object_get(j, "source_topic"));
        json_t *part = json_object_get(j, "partition"), *off = json_object_get(j, "offset");
        if (topic && json_is_integer(part) && json_is_integer(off))
            tail_key(k, sizeof k, false, topic, NULL, json_integer_value(part), json_integer_value(off));
    }
    if (k[0])
        oom_rc(sm_put(p->on_topic, k, p));
    json_decref(j);
}

/* After a kill -9 the rows above the stored watermark include what the
 * broker had acknowledged just before: what the topics' tails hold of them
 * is not sent again. Anything not read (a broker down, a timeout) is sent
 * again, as before: delivery stays at least once. */
static void read_tails(Pipeline *p, int64_t rows)
{
    if (rows <= 0 || rows > TAIL_MAX)
        return;
    p->on_topic = oom_check(sm_new());
    const char *topics[] = {p->cfg->alerts_topic, p->cfg->dlq_topic};
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++) {
        char err[512];
        if (kq_read_tail(p->cfg, topics[i], rows, TAIL_TIMEOUT, tail_msg, p, err, sizeof err) < 0) {
            log_warn("kafka: could not read the tail of %s (%s): what was left unsent is sent again", topics[i], err);
            sm_free(p->on_topic);
            p->on_topic = NULL;
            return;
        }
    }
}

/* Whether the topic had m at start. */
static bool on_topic(const Pipeline *p, const OutMsg *m)
{
    char k[1024];
    if (m->kind == OUT_ALERT)
        tail_key(k, sizeof k, true, m->alert_id, alert_status_name(m->status), 0, 0);
    else
        tail_key(k, sizeof k, false, m->src_topic, NULL, m->src_partition, m->src_offset);
    return sm_has(p->on_topic, k);
}

static void backlog_read(void *arg, OutList *msgs, int64_t last_seq)
{
    Pipeline *p = arg;
    p->backlog_reading = false;
    if (msgs->n == 0) {
        p->backlog_after = p->backlog_upto;
    } else {
        size_t skipped = 0;
        for (OutMsg *m = msgs->head; p->on_topic && m; m = m->next)
            if (on_topic(p, m))
                m->delivered = true, skipped++;
        p->backlog_skipped += skipped;
        p->backlog_rows += msgs->n;
        p->backlog_after = last_seq;
        outbox_push(p->outbox, msgs);
    }
    if (p->backlog_after >= p->backlog_upto) {
        log_info("republishing %zu alerts and dead letters left unsent; %zu more were on their topics already",
                 p->backlog_rows - p->backlog_skipped, p->backlog_skipped);
        sm_free(p->on_topic);
        p->on_topic = NULL;
    }
    pump(p);
}

static void backlog_step(Pipeline *p)
{
    if (p->backlog_reading || !backlog_pending(p))
        return;
    size_t room = outbox_room(p->outbox);
    if (room == 0)
        return;
    p->backlog_reading = true;
    store_unsent(p->store, p->backlog_after, p->backlog_upto, room < BACKLOG_PAGE ? room : BACKLOG_PAGE, backlog_read,
                 p);
}

/* ---- the loop ----------------------------------------------------------- */

static void check_stopped(Pipeline *p)
{
    if (!p->stopping || !p->stop_done)
        return;
    ev_tstamp now = ev_now(p->loop);
    int64_t acked = outbox_acked(p->outbox);
    if (acked != p->stop_acked)
        p->stop_acked = acked, p->stop_progress = now;
    StoreStats st;
    store_stats(p->store, &st);
    if (st.connected)
        p->stop_pg_seen = now;
    /* what waits on PostgreSQL, and what waits on the broker */
    bool applying = merge_count(p->fetched) > 0 || !eff_empty(&p->eff) || p->inflight.active || acked > p->acked_stored;
    bool publishing = outbox_depth(p->outbox) > 0;
    if (applying || publishing) {
        bool pg_stalled = !applying || now - p->stop_pg_seen >= STOP_STALLED;
        bool broker_stalled = !publishing || now - p->stop_progress >= STOP_STALLED;
        if (pg_stalled && broker_stalled)
            log_warn("stopping with work left: %s%s%s for %.0f s; PostgreSQL and Kafka keep it for the next start",
                     applying ? "PostgreSQL was down with a commit to make" : "", applying && publishing ? " and " : "",
                     publishing ? "the broker acknowledged nothing" : "", STOP_STALLED);
        else if (now - p->stop_started < STOP_GIVE_UP)
            return;
        else
            log_warn("stopping with work left after %.0f s: %zu fetched, %zu unpublished; PostgreSQL and Kafka "
                     "keep it for the next start",
                     STOP_GIVE_UP, merge_count(p->fetched), outbox_depth(p->outbox));
    }
    void (*done)(void *) = p->stop_done;
    p->stop_done = NULL;
    done(p->stop_arg);
}

/* Re-arms the wall-clock deadline timer at the earliest future deadline
 * (one already due is fired by pump() as soon as the batch has room). */
static void arm_deadline_timer(Pipeline *p)
{
    if (p->cfg->clock_mode != CLOCK_WALL || p->stopping)
        return;
    int64_t due = desk_next_due(p->desk);
    ev_periodic_stop(p->loop, &p->deadline_timer);
    if (due != TU_NEVER && due > wall_now(p)) {
        ev_periodic_set(&p->deadline_timer, (ev_tstamp)due, 0, 0);
        ev_periodic_start(p->loop, &p->deadline_timer);
    }
}

/* Builds and commits batches until there is nothing to do, or a gate is
 * closed: the outbox is full, or a full batch waits for the one in flight. */
static void pump(Pipeline *p)
{
    if (p->pumping)
        return;
    p->pumping = true;
    for (int steps = 0;;) {
        Step r = STEP_NONE;
        while (steps < PUMP_SLICE && (r = build_step(p)) == STEP_DONE)
            steps++;
        if (!p->caught_up && (steps > 0 || r == STEP_FULL))
            p->catchup_active = ev_now(p->loop); /* not idle: applying, or firing what fell due */
        encode_new(p);
        bool sending = p->inflight.active;
        maybe_commit(p);
        /* a batch just went to PostgreSQL: its replies come first, and the
         * next batch is built on the loop's next turns */
        if (steps >= PUMP_SLICE || (!sending && p->inflight.active)) {
            ev_idle_start(p->loop, &p->more);
            break;
        }
        if (r == STEP_NONE || !eff_empty(&p->eff))
            break;
    }
    backlog_step(p);
    if (p->consumer && kq_consumer_paused(p->consumer) && merge_count(p->fetched) <= pending_max(p) / 2) {
        kq_consumer_resume(p->consumer);
        const char *k;
        void *v;
        for (size_t it = 0; sm_next(p->parts, &it, &k, &v);)
            ((Part *)v)->paused = false;
    }
    arm_deadline_timer(p);
    p->pumping = false;
    check_stopped(p);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop, (void)revents;
    pump(w->data);
}

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
    pump(w->data);
}

static void marks_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents, (void)w; /* pump() commits it */
}

static void deadline_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
    (void)loop, (void)revents, (void)w; /* pump() fires them */
}

/* The daemon reads every partition of both topics itself; its consumer
 * group has one member per instance that holds a desk. When the group
 * gives this instance's member fewer partitions than it reads, another
 * instance shares the group: a copy of the configuration pointed at
 * another database, where nothing makes it wait as a standby, and both
 * raise every alert (docs/architecture.md, "Scaling"). Said once per
 * assignment of the member, a second after it, and kept in
 * complaintd_group_shared. */
static void check_assignment(Pipeline *p)
{
    p->check_assignment_at = 0;
    const char *topics[2] = {p->cfg->complaints_topic, p->cfg->scans_topic};
    bool shared = false;
    for (int t = 0; t < 2; t++) {
        if (p->member_parts[t] < p->assigned[t]) {
            log_err("kafka: group %s assigned %d of the %d partitions of %s to this instance: another member "
                    "shares the group, and each instance reads every partition and raises every alert on its "
                    "own database; run one complaintd per group (a second one on the same database waits as a "
                    "standby)",
                    p->cfg->group_id, p->member_parts[t], p->assigned[t], topics[t]);
            shared = true;
        }
    }
    p->group_shared = shared;
}

static void housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Pipeline *p = w->data;
    /* a topic of which nothing is read: the broker did not answer at the
     * start, or the topic does not exist yet; looked up again every second
     * (briefly: the loop waits for the answer) */
    if (p->consumer && !p->stopping && ((p->assigned[0] == 0 && p->cfg->role != ROLE_PARCELS) || p->assigned[1] == 0))
        kq_consumer_assign_all(p->consumer, 200);
    if (p->check_assignment_at > 0 && ev_now(p->loop) >= p->check_assignment_at && p->consumer)
        check_assignment(p);
    int64_t now = rule_now(p);
    bool sweep = now - p->last_sweep >= SWEEP_EVERY;
    if (sweep)
        p->last_sweep = now;
    DeskSwept swept;
    desk_housekeep(p->desk, now, sweep, &p->eff, &swept);
    if (swept.parcels)
        log_info("forgot %zu parcels signed more than the look-back ago", swept.parcels);
    if (swept.tickets)
        log_info("evicted %zu tickets closed more than the look-back ago", swept.tickets);
    ev_tstamp t = ev_now(p->loop);
    if (store_unfolded(p->store) && (t - p->last_commit >= FOLD_IDLE || t - p->last_fold >= FOLD_EVERY)) {
        p->fold_wanted = true;
        pump(p);
    }
    if (ev_now(p->loop) - p->last_status >= 60.0) {
        p->last_status = ev_now(p->loop);
        char s[512];
        pipeline_status(p, s, sizeof s);
        log_info("%s", s);
    }
}

/* Partitions added to what the daemon reads: all of them at the start,
 * then any that the topics gain. */
static void on_assign(void *arg, rd_kafka_topic_partition_list_t *parts)
{
    Pipeline *p = arg;
    p->merge_clear = false;
    p->catchup_active = ev_now(p->loop);
    p->ever_assigned = true;
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        int32_t partition = parts->elems[i].partition;
        Offset *o = offset_of(p, topic, partition, false);
        parts->elems[i].offset = o ? o->next : RD_KAFKA_OFFSET_BEGINNING;
        Part *f = part_of(p, topic, partition, true);
        if (!f->assigned)
            p->assigned[strcmp(topic, p->cfg->scans_topic) == 0]++;
        f->fetched = o ? o->next : -1;
        f->paused = false;
        f->brought = false;
        f->assigned = true;
        f->start_end = -1;
        oom_rc(merge_track(p->fetched, topic, partition));
    }
}

/* The group formed or changed: partitions the topics gained are read too,
 * and the member's share is compared with them a second later. */
static void on_member(void *arg, int complaints, int scans)
{
    Pipeline *p = arg;
    p->member_parts[0] = complaints;
    p->member_parts[1] = scans;
    kq_consumer_assign_all(p->consumer, 1000);
    p->check_assignment_at = ev_now(p->loop) + 1.0;
}

/* ---- lifecycle ---------------------------------------------------------- */

Pipeline *pipeline_new(struct ev_loop *loop, const Config *cfg, Store *store, char *err, size_t errlen)
{
    Pipeline *p = oom_check(calloc(1, sizeof *p));
    p->loop = loop;
    p->cfg = cfg;
    p->store = store;
    p->offsets = oom_check(sm_new());
    p->parts = oom_check(sm_new());
    p->fetched = oom_check(merge_new());
    p->desk = oom_check(desk_new(oom_check(pol_clone(cfg->policy))));
    eff_init(&p->eff);
    ev_periodic_init(&p->deadline_timer, deadline_cb, 0, 0, 0);
    p->deadline_timer.data = p;
    ev_timer_init(&p->housekeeping, housekeeping_cb, 1.0, 1.0);
    p->housekeeping.data = p;
    ev_prepare_init(&p->prepare, prepare_cb);
    p->prepare.data = p;
    ev_timer_init(&p->linger, linger_cb, 0.0, 0.0);
    p->linger.data = p;
    ev_timer_init(&p->marks, marks_cb, 0.0, 0.0);
    ev_timer_init(&p->merge_wait, merge_wait_cb, 0.0, 0.0);
    p->merge_wait.data = p;
    ev_idle_init(&p->more, more_cb);
    p->more.data = p;
    ev_timer_init(&p->catchup_timer, catchup_cb, CATCHUP_LOOK, CATCHUP_LOOK);
    p->caught_up = cfg->clock_mode == CLOCK_EVENT;

    StoreLoaded l;
    if (store_load(store, p->desk, (int64_t)ev_time(), &l, err, errlen) < 0) {
        pipeline_free(p);
        return NULL;
    }
    p->event_clock = l.event_clock;
    memcpy(p->indicators, l.indicators, sizeof p->indicators);
    p->today = l.today;
    memcpy(p->today_ind, l.today_indicators, sizeof p->today_ind);
    p->br_hour = hour_of(p->cfg->clock_mode == CLOCK_WALL ? (int64_t)ev_time() : l.event_clock);
    memcpy(p->br, l.breaches, sizeof p->br);
    p->last_sweep = rule_now(p);
    for (size_t i = 0; i < l.n_offsets; i++)
        offset_of(p, l.offsets[i].topic, l.offsets[i].partition, true)->next = l.offsets[i].next;
    p->backlog_after = p->acked_stored = l.outbox_acked;
    p->backlog_upto = l.outbox_upto;
    p->next_seq = (l.outbox_upto > l.outbox_acked ? l.outbox_upto : l.outbox_acked) + 1;
    read_tails(p, l.outbox_upto - l.outbox_acked);
    int64_t acked = l.outbox_acked;
    store_loaded_free(&l);
    p->outbox = outbox_new(loop, cfg, acked, err, errlen);
    if (!p->outbox) {
        pipeline_free(p);
        return NULL;
    }
    return p;
}

int pipeline_start(Pipeline *p, char *err, size_t errlen)
{
    KqConsumerHandlers h = {
        .message = on_message,
        .drained = on_drained,
        .assign = on_assign,
        .member = on_member,
        .arg = p,
    };
    p->consumer = kq_consumer_new(p->loop, p->cfg, &h, err, errlen);
    if (!p->consumer || kq_consumer_start(p->consumer, err, errlen) < 0)
        return -1;
    ev_prepare_start(p->loop, &p->prepare);
    if (!p->caught_up)
        ev_timer_start(p->loop, &p->catchup_timer);
    p->last_fold = ev_now(p->loop);
    ev_timer_start(p->loop, &p->housekeeping);
    p->last_status = ev_now(p->loop);
    return 0;
}

void pipeline_set_policy(Pipeline *p, Policy *pol)
{
    desk_set_policy(p->desk, pol);
}

void pipeline_stop(Pipeline *p, void (*done)(void *), void *arg)
{
    if (p->stopping)
        return;
    p->stopping = true;
    p->stop_done = done;
    p->stop_arg = arg;
    p->stop_started = p->stop_progress = p->stop_pg_seen = ev_now(p->loop);
    p->stop_acked = outbox_acked(p->outbox);
    ev_timer_stop(p->loop, &p->linger);
    ev_timer_stop(p->loop, &p->merge_wait);
    ev_periodic_stop(p->loop, &p->deadline_timer);
    /* Reading stops: what was fetched and not applied is dropped, and
     * fetched again by the next start. */
    if (p->consumer)
        kq_consumer_close(p->consumer);
    drop_pending(p);
    pump(p);
}

/* Messages between what the daemon applied (committed with its batch) and
 * the end of each partition it reads, the end as of its last fetch; a
 * partition whose end is not known yet is left out. Messages fetched and
 * waiting in the merge buffer count: they are not applied. */
static size_t consumer_lag(const Pipeline *p, KqLag *out, size_t max)
{
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t it = 0; p->consumer && n < max && sm_next(p->parts, &it, &k, &v);) {
        const char *slash = strrchr(k, '/');
        if (!((Part *)v)->assigned || !slash || (size_t)(slash - k) >= sizeof out[n].topic)
            continue;
        KqLag *l = &out[n];
        memcpy(l->topic, k, (size_t)(slash - k));
        l->topic[slash - k] = '\0';
        l->partition = (int32_t)atoi(slash + 1);
        int64_t lo, hi;
        if (!kq_consumer_watermarks(p->consumer, l->topic, l->partition, &lo, &hi))
            continue;
        const Offset *o = sm_get(p->offsets, k); /* keyed as the parts are */
        int64_t from = o ? o->next : lo > 0 ? lo : 0;
        l->lag = hi > from ? hi - from : 0;
        n++;
    }
    return n;
}

void pipeline_counters(const Pipeline *p, PipelineCounters *c)
{
    static_assert(sizeof c->indicators == sizeof p->indicators, "indicator tables differ");
    DeskStats ds;
    desk_stats(p->desk, &ds);
    OutboxStats os = {0};
    if (p->outbox)
        outbox_stats(p->outbox, &os);
    StoreStats ss;
    store_stats(p->store, &ss);
    *c = (PipelineCounters){
        .applied = p->n_applied,
        .history = p->n_history,
        .held_total = p->n_held,
        .duplicates = p->n_duplicates,
        .off_partition = p->n_off_partition,
        .dead_letters = p->n_dead,
        .alerts = p->n_alerts,
        .scans = p->n_scans,
        .batches = ss.commits,
        .commit_failures = ss.failures,
        .publish_retries = os.retries,
        .publish_refusals = os.refusals,
        .merge_waits = p->n_merge_waits,
        .merge_waits_expired = p->n_merge_wait_expired,
        .tickets = ds.tickets,
        .held = ds.held,
        .pending_deadlines = ds.deadlines,
        .parcels = ds.parcels,
        .bulk_keys = ds.bulk_keys,
        .event_clock = p->event_clock,
        .outbox = os.queued + os.in_producer,
        .fetched = merge_count(p->fetched),
        .batch_effects_max = ss.max_effects,
        .fold_waiting = ss.fold_waiting,
        .batch_in_flight = p->inflight.active,
        .consumer_paused = p->consumer && kq_consumer_paused(p->consumer),
        .group_shared = p->group_shared,
        .catching_up = !p->caught_up,
        .postgres_up = ss.connected,
    };
    memcpy(c->indicators, p->indicators, sizeof c->indicators);
    memcpy(c->alerts_by, p->alerts_by, sizeof c->alerts_by);
    memcpy(c->dead_by, p->dead_by, sizeof c->dead_by);
    c->commit_seconds = ss.commit_seconds;
    c->batch_effects = ss.batch_effects;
    c->ack_delay = os.ack_delay;
    c->producer_brokers_up = p->outbox ? os.brokers_up : -1;
    c->consumer_brokers_up = p->consumer ? kq_consumer_brokers_up(p->consumer) : -1;
    c->n_lag = consumer_lag(p, c->lag, KQ_LAG_MAX);
    c->event_clock_lag = p->cfg->clock_mode == CLOCK_EVENT && p->event_clock > 0 ? wall_now(p) - p->event_clock : 0;
}

void pipeline_status(const Pipeline *p, char *buf, size_t len)
{
    PipelineCounters c;
    pipeline_counters(p, &c);
    snprintf(buf, len,
             "tickets=%" PRIu64 " held=%" PRIu64 " pending_deadlines=%" PRIu64 " applied=%" PRIu64 " history=%" PRIu64
             " duplicates=%" PRIu64 " dead_letters=%" PRIu64 " alerts=%" PRIu64 " scans=%" PRIu64 " batches=%" PRIu64
             " outbox=%" PRIu64 " fetched=%" PRIu64 " postgres=%s%s",
             c.tickets, c.held, c.pending_deadlines, c.applied, c.history, c.duplicates, c.dead_letters, c.alerts,
             c.scans, c.batches, c.outbox, c.fetched, c.postgres_up ? "up" : "down",
             c.consumer_paused ? " consumer=paused" : "");
}

void pipeline_free(Pipeline *p)
{
    if (!p)
        return;
    ev_prepare_stop(p->loop, &p->prepare);
    ev_idle_stop(p->loop, &p->more);
    ev_timer_stop(p->loop, &p->housekeeping);
    ev_periodic_stop(p->loop, &p->deadline_timer);
    ev_timer_stop(p->loop, &p->linger);
    ev_timer_stop(p->loop, &p->marks);
    ev_timer_stop(p->loop, &p->merge_wait);
    ev_timer_stop(p->loop, &p->catchup_timer);
    if (p->fetched)
        drop_pending(p); /* messages belong to the consumer: before it goes */
    merge_free(p->fetched);
    kq_consumer_free(p->consumer);
    /* A batch still in flight is dropped: it is committed or not, and the
     * next start finds out from PostgreSQL. */
    store_free(p->store);
    out_list_free(&p->inflight.out);
    out_list_free(&p->open_out);
    if (p->inflight.kafka_offsets)
        rd_kafka_topic_partition_list_destroy(p->inflight.kafka_offsets);
    outbox_free(p->outbox);
    sm_free(p->on_topic);
    eff_free(&p->eff);
    desk_free(p->desk);
    if (p->offsets) {
        const char *k;
        void *v;
        for (size_t it = 0; sm_next(p->offsets, &it, &k, &v);) {
            Offset *o = v;
            free(o->topic);
            free(o);
        }
        sm_free(p->offsets);
    }
    if (p->parts) {
        const char *k;
        void *v;
        for (size_t it = 0; sm_next(p->parts, &it, &k, &v);)
            free(v);
        sm_free(p->parts);
    }
    free(p);
}
