/* store: complaintd's SQL; see store.h and docs/architecture.md. */
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cal.h"
#include "db.h"
#include "jw.h"
#include "log.h"
#include "migrations.h"
#include "notify.h"
#include "oom.h"
#include "strmap.h"
#include "timeutil.h"

/* Backoff between attempts of a failed commit. */
#define RETRY_MIN 0.5
#define RETRY_MAX 10.0

/* ---- migrations and the schema check (blocking) ------------------------- */

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* 1 when the migration is recorded, 0 when not, -1 on error. */
static int migration_applied(PGconn *c, const char *name, char *err, size_t errlen)
{
    const char *p[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    PQclear(r);
    return n == 1;
}

static int applied_count(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists)
        return 0;
    int n = 0;
    for (size_t i = 0; i < migrations_count; i++) {
        int a = migration_applied(c, migrations[i].name, err, errlen);
        if (a < 0)
            return -1;
        n += a;
    }
    return n;
}

int store_migrate(const char *conninfo, char *err, size_t errlen)
{
    PGconn *c = db_connect_blocking(conninfo, err, errlen);
    if (!c)
        return -1;
    int rc = -1;
    /* One migrator at a time; every file in its own transaction. */
    if (exec_ok(c, "SELECT pg_advisory_lock(7261031)", err, errlen) < 0 ||
        exec_ok(c,
                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < migrations_count; i++) {
        int a = migration_applied(c, migrations[i].name, err, errlen);
        if (a < 0)
            goto out;
        if (a)
            continue;
        if (exec_ok(c, "BEGIN", err, errlen) < 0)
            goto out;
        const char *p[1] = {migrations[i].name};
        PGresult *r = NULL;
        if (exec_ok(c, migrations[i].sql, err, errlen) < 0 ||
            PQresultStatus(r = PQexecParams(c, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL, p, NULL,
                                            NULL, 0)) != PGRES_COMMAND_OK) {
            if (r)
                snprintf(err, errlen, "%s", PQresultErrorMessage(r));
            PQclear(r);
            char e2[64];
            exec_ok(c, "ROLLBACK", e2, sizeof e2);
            goto out;
        }
        PQclear(r);
        if (exec_ok(c, "COMMIT", err, errlen) < 0)
            goto out;
        fprintf(stderr, "applied %s\n", migrations[i].name);
    }
    rc = exec_ok(c, "SELECT pg_advisory_unlock(7261031)", err, errlen);
out:
    PQfinish(c);
    return rc;
}

/* ---- the store ---------------------------------------------------------- */

/* A growable text buffer in COPY text format. */
typedef struct Buf {
    char *p;
    size_t n, cap;
} Buf;

typedef enum { ST_SQL, ST_COPY } StepKind;

typedef struct Step {
    StepKind kind;
    char *sql;      /* owned */
    char *sql_safe; /* owned; the statement in a staged retry, when it differs */
    Buf data;       /* ST_COPY */
} Step;

#define MAX_STEPS 16

/* Folding (migration 006). Appended rows wait to be folded while the daemon
 * is busy: a burst is committed without updating a ticket row per firing or
 * an indicator row per count, and a ticket whose deadlines fire twice is
 * folded once. Once more than FOLD_KEEP wait, every batch folds the oldest
 * of them, about twice what it appended itself and at least FOLD_MIN: under
 * sustained load the folding keeps up in small slices instead of one long
 * stall. FOLD_KEEP also bounds the fold at start (2.3 s measured). A batch
 * asked to fold when the daemon is idle folds up to FOLD_IDLE_ROWS of the
 * oldest, once a second, so a deadline due then waits a fraction of a
 * second at most. */
#define FOLD_KEEP 300000
#define FOLD_MIN 1000
#define FOLD_IDLE_ROWS 20000

/* The commit in progress (encoded, so it can be sent again). */
typedef struct Commit {
    bool active;
    Step steps[MAX_STEPS];
    int n_steps, next;
    bool staged; /* going through the staging tables (a row was already stored) */
    size_t effects;
    StoreDone done;
    void *arg;
    ev_tstamp started;
    int64_t fold_upto; /* what batches up to this one appended is folded in this one; 0: nothing */
} Commit;

/* A batch that appended rows not yet taken by a fold. */
typedef struct Appended {
    int64_t seq;
    size_t rows;
} Appended;

typedef struct Lookup {
    bool active;
    char *ticket_id; /* owned */
    StoreTicket cb;
    void *arg;
} Lookup;

typedef struct Unsent {
    bool active;
    char after[24], upto[24], limit[24];
    StoreUnsent cb;
    void *arg;
} Unsent;

struct Store {
    struct ev_loop *loop;
    const Config *cfg;
    PGconn *boot;        /* the start-up connection, until the Db takes it */
    char *group_literal; /* group_id quoted as an SQL literal */
    Db *db;
    bool staged;     /* complaintd_stage() ran on this connection */
    char *setup_sql; /* complaintd_stage() and the desk again (hold_desk) */
    /* The server session of the connection, as pg_backend_pid() and its
     * backend_start in microseconds: what a reconnect may end (SESSION_RETAKE). */
    char session_pid[24], session_start[24];
    bool sending; /* a statement of ours is out */
    Commit commit;
    Lookup lookup;
    Unsent unsent;
    ev_timer retry;
    double backoff;
    uint64_t commits, failures;
    size_t last_effects, max_effects;
    double last_commit_seconds;
    Hist commit_seconds, batch_effects;
    /* Indicator counts are added once per batch: this run's key in
     * daemon_state and the number of its last batch (migration 004). */
    char batch_key[64];
    int64_t batch_seq;
    /* Appended snapshots and indicator counts (migration 006). A ticket
     * whose snapshot went to ticket_snapshots in batch n carries
     * unfolded = n; what batches up to `folded` appended is folded and
     * committed. `waiting` lists the batches whose rows no batch built so
     * far folds, oldest first. */
    int64_t folded;
    Appended *waiting;
    size_t n_waiting, cap_waiting, rows_waiting;
};

static void kick(Store *s);

static void db_ready_cb(void *arg)
{
    Store *s = arg;
    s->staged = false;
    kick(s);
}

/* The desk of a consumer group belongs to one daemon: its state is the whole
 * desk's, not its partitions'. A session advisory lock on the group, taken
 * before the state is loaded and kept by the store's connection, makes a
 * second instance of the group on the same database wait as a standby. A
 * reconnected store takes it again before its next statement (setup_done):
 * when another instance has it by then, this one's memory is no longer the
 * desk and it exits. */
#define DESK_LOCK(group) "pg_try_advisory_lock(hashtext('complaintd'), hashtext(" group "))"

/* The server ends this session about 30 s after this machine or its network
 * died (keepalives unanswered, or data unacknowledged), and with it the
 * desk's lock, so that a standby takes over (docs/operations.md "Standby").
 * The server's defaults are the kernel's: two hours. Over a Unix socket the
 * settings do nothing. */
#define SESSION_KEEPALIVE                                                                                              \
    "set_config('tcp_keepalives_idle', '15', false), set_config('tcp_keepalives_interval', '5', false), "              \
    "set_config('tcp_keepalives_count', '3', false), set_config('tcp_user_timeout', '30000', false)"
#define STANDBY_POLL 1 /* seconds between two tries */

/* This session's identity: its server process and when it started (a
 * process id alone may be reused by a later session). */
#define SESSION_ID                                                                                                     \
    "pg_backend_pid()::text, (SELECT (extract(epoch FROM backend_start) * 1000000)::bigint::text "                     \
    "FROM pg_stat_activity WHERE pid = pg_backend_pid())"

/* When a reconnected store finds the desk taken, the holder may be its own
 * previous session: the connection broke on this side (a NAT or firewall
 * dropped it, a proxy restarted) while the server's end lives on, holding
 * the desk until TCP gives up on it. That session ($1, started at $2; see
 * SESSION_ID) is ended, waiting up to 10 s for it to go, and the desk taken
 * again. Another instance's session is never ended: the pid and start must
 * both match. CASE keeps the order: first the lock, then the end, then the
 * lock again. 'held', 'retaken' or 'other'. */
#define OWN_OLD_SESSION_ENDED                                                                                          \
    "(SELECT bool_or(pg_terminate_backend(o.pid, 10000)) FROM (SELECT pid FROM pg_stat_activity "                      \
    "WHERE pid = $1::integer AND pid <> pg_backend_pid() "                                                             \
    "AND (extract(epoch FROM backend_start) * 1000000)::bigint = $2::bigint OFFSET 0) o)"
#define SESSION_RETAKE(group)                                                                                          \
    "CASE WHEN " DESK_LOCK(group) " THEN 'held' WHEN (CASE WHEN " OWN_OLD_SESSION_ENDED                                \
                                  " THEN " DESK_LOCK(group) " ELSE false END) THEN 'retaken' ELSE 'other' END"

static volatile sig_atomic_t standby_stop;

void store_note_stop(void)
{
    standby_stop = 1;
}

/* 0 once held, 1 when stopped while waiting, -1 on error. */
static int hold_desk(PGconn *c, const char *group, void (*on_standby)(void *), void *arg, char *err, size_t errlen)
{
    const char *p[1] = {group};
    bool waiting = false;
    int rc = -1;
    for (;;) {
        PGresult *r = PQexecParams(c, "SELECT " DESK_LOCK("$1"), 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "taking the desk of group %s: %s", group, PQresultErrorMessage(r));
            PQclear(r);
            break;
        }
        bool held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (held) {
            if (waiting)
                log_info("postgres: the desk of group %s is free: this instance takes it over", group);
            rc = 0;
            break;
        }
        if (!waiting) {
            log_warn("postgres: another complaintd holds the desk of group %s in this database; waiting as a "
                     "standby until its session ends",
                     group);
            waiting = true;
            if (on_standby)
                on_standby(arg);
        }
        char status[300];
        snprintf(status, sizeof status, "standby: another complaintd holds the desk of group %s", group);
        /* systemd: still starting, for a while more */
        notify_waiting(status, 10 * STANDBY_POLL);
        if (!standby_stop)
            sleep(STANDBY_POLL);
        if (standby_stop) {
            log_info("stopped while waiting as a standby");
            err[0] = '\0';
            rc = 1;
            break;
        }
    }
    return rc;
}

Store *store_open(struct ev_loop *loop, const Config *cfg, void (*on_standby)(void *), void *arg, char *err,
                  size_t errlen)
{
    PGconn *c = db_connect_blocking(cfg->conninfo, err, errlen);
    if (!c)
        return NULL;
    int n = applied_count(c, err, errlen);
    if (n < 0) {
        PQfinish(c);
        return NULL;
    }
    if ((size_t)n < migrations_count) {
        snprintf(err, errlen,
                 "database schema is behind: %d of %zu migrations applied; run 'complaintd -c CONFIG migrate' with "
                 "this configuration",
                 n, migrations_count);
        PQfinish(c);
        return NULL;
    }
    PGresult *ka = PQexec(c, "SELECT " SESSION_ID ", " SESSION_KEEPALIVE);
    if (PQresultStatus(ka) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "setting the session's TCP keepalive: %s", PQresultErrorMessage(ka));
        PQclear(ka);
        PQfinish(c);
        return NULL;
    }
    char pid[24], start[24];
    snprintf(pid, sizeof pid, "%s", PQgetvalue(ka, 0, 0));
    snprintf(start, sizeof start, "%s", PQgetvalue(ka, 0, 1));
    PQclear(ka);
    if (hold_desk(c, cfg->group_id, on_standby, arg, err, errlen) != 0) {
        PQfinish(c);
        return NULL;
    }
    Store *s = oom_check(calloc(1, sizeof *s));
    memcpy(s->session_pid, pid, sizeof pid);
    memcpy(s->session_start, start, sizeof start);
    s->loop = loop;
    s->cfg = cfg;
    s->boot = c;
    char *lit = oom_check(PQescapeLiteral(c, cfg->group_id, strlen(cfg->group_id)));
    s->group_literal = oom_check(strdup(lit));
    PQfreemem(lit);
#define SETUP_SQL "SELECT complaintd_stage(), " SESSION_RETAKE("%s") ", " SESSION_ID ", " SESSION_KEEPALIVE
    size_t n_setup = sizeof SETUP_SQL + 2 * strlen(s->group_literal);
    s->setup_sql = oom_check(malloc(n_setup));
    snprintf(s->setup_sql, n_setup, SETUP_SQL, s->group_literal, s->group_literal);
#undef SETUP_SQL
    s->backoff = RETRY_MIN;
    ev_init(&s->retry, NULL);
    static const double secs[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static const double effects[] = {1, 10, 100, 1000, 5000, 10000, 50000, 100000};
    hist_init(&s->commit_seconds, secs, sizeof secs / sizeof *secs);
    hist_init(&s->batch_effects, effects, sizeof effects / sizeof *effects);
    snprintf(s->batch_key, sizeof s->batch_key, "indicator_batch/%llx-%lx", (unsigned long long)(ev_time() * 1e6),
             (unsigned long)getpid());
    return s;
}

static void buf_free(Buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void commit_clear(Commit *c)
{
    for (int i = 0; i < c->n_steps; i++) {
        free(c->steps[i].sql);
        free(c->steps[i].sql_safe);
        buf_free(&c->steps[i].data);
    }
    memset(c, 0, sizeof *c);
}

void store_free(Store *s)
{
    if (!s)
        return;
    ev_timer_stop(s->loop, &s->retry);
    /* A statement still out is dropped with the connection: a commit is
     * then either in or not, and the next start reads which. */
    db_free(s->db);
    PQfinish(s->boot);
    commit_clear(&s->commit);
    free(s->lookup.ticket_id);
    free(s->group_literal);
    free(s->setup_sql);
    free(s->waiting);
    free(s);
}

/* ---- COPY text ---------------------------------------------------------- */

static void buf_reserve(Buf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more)
        cap *= 2;
    b->p = oom_check(realloc(b->p, cap));
    b->cap = cap;
}

static void buf_raw(Buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void buf_ch(Buf *b, char c)
{
    buf_reserve(b, 1);
    b->p[b->n++] = c;
}

/* One field, escaped for COPY's text format. The runs between the bytes to
 * escape are copied whole: event bodies and alert payloads are hundreds of
 * bytes with few of them, and a byte-by-byte loop after a strlen() was the
 * largest part of a batch's encoding (docs/performance.md). */
static void buf_text(Buf *b, const char *s)
{
    for (;;) {
        size_t run = strcspn(s, "\\\n\r\t");
        buf_raw(b, s, run);
        s += run;
        if (!*s)
            return;
        char e[2] = {'\\', *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s == '\t' ? 't' : '\\'};
        buf_raw(b, e, 2);
        s++;
    }
}

static void buf_null(Buf *b)
{
    buf_raw(b, "\\N", 2);
}

/* "" and NULL are NULL */
static void buf_text_or_null(Buf *b, const char *s)
{
    if (s && *s)
        buf_text(b, s);
    else
        buf_null(b);
}

/* Without snprintf, which took a tenth of a batch's encoding. */
static void buf_int(Buf *b, int64_t v)
{
    char t[24];
    char *e = t + sizeof t, *o = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--o = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *--o = '-';
    buf_raw(b, o, (size_t)(e - o));
}

static void buf_bool(Buf *b, bool v)
{
    buf_ch(b, v ? 't' : 'f');
}

/* A time; 0 and TU_NEVER are NULL. */
static void buf_time(Buf *b, int64_t t)
{
    if (t == 0 || t == TU_NEVER) {
        buf_null(b);
        return;
    }
    char s[TU_RFC3339_LEN];
    tu_format_rfc3339(t, 0, s);
    buf_raw(b, s, strlen(s));
}

/* bytea in hex, for COPY's text format (its backslash doubled). */
static void buf_bytea(Buf *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, 3 + 2 * n);
    char *o = b->p + b->n;
    *o++ = '\\', *o++ = '\\', *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    b->n = (size_t)(o - b->p);
}

#define TAB(b) buf_ch(b, '\t')
#define EOL(b) buf_ch(b, '\n')

/* The validated fields of an event (no free text), as JSON into b. */
static void encode_body(Buf *b, const ComplaintEvent *ev, int off)
{
    Jw w;
    jw_init(&w);
    char t[TU_RFC3339_LEN];
    tu_format_rfc3339(ev->occurred_at, off, t);
    jw_obj(&w);
    jw_key(&w, "type"), jw_str(&w, evt_type_name(ev->type));
    jw_key(&w, "occurred_at"), jw_str(&w, t);
    if (ev->has & EVF_CHANNEL)
        jw_key(&w, "channel"), jw_str(&w, evt_channel_name(ev->channel));
    if (ev->has & EVF_CATEGORY)
        jw_key(&w, "category"), jw_str(&w, evt_category_name(ev->category));
    if (ev->has & EVF_WAYBILL)
        jw_key(&w, "waybill"), jw_str(&w, ev->waybill);
    if (ev->has & EVF_SITE)
        jw_key(&w, "site"), jw_str(&w, ev->site);
    if (ev->has & EVF_REGION)
        jw_key(&w, "region"), jw_str(&w, ev->region);
    if (ev->has & EVF_CLAIM)
        jw_key(&w, "claim"), jw_bool(&w, ev->claim);
    if (ev->has & EVF_MAJOR)
        jw_key(&w, "major"), jw_bool(&w, ev->major);
    if (ev->has & EVF_CUSTOMER_REF)
        jw_key(&w, "customer_ref"), jw_str(&w, ev->customer_ref);
    if (ev->type == CT_REVISIT)
        jw_key(&w, "satisfied"), jw_bool(&w, ev->satisfied);
    if (ev->type == CT_EXTENDED) {
        jw_key(&w, "stage"), jw_str(&w, evt_ext_stage_name(ev->ext_stage));
        jw_key(&w, "hours"), jw_int(&w, ev->ext_hours);
        if (ev->approved_by[0])
            jw_key(&w, "approved_by"), jw_str(&w, ev->approved_by);
    }
    jw_end_obj(&w);
    char *text = oom_check(jw_take(&w, NULL));
    buf_text(b, text);
    free(text);
}

static void encode_snapshot(Buf *b, const Ticket *t)
{
    size_t n;
    uint8_t *snap = oom_check(tkt_pack(t, &n));
    buf_bytea(b, snap, n);
    free(snap);
}

static void encode_ticket(Buf *b, const Ticket *t)
{
    buf_text(b, tkt_id(t)), TAB(b);
    buf_text(b, tkt_status(t)), TAB(b);
    buf_int(b, t->round), TAB(b);
    buf_text(b, t->urgent ? "urgent" : "normal"), TAB(b);
    buf_ch(b, '{');
    bool first = true;
    for (int r = 0; r < RSN__COUNT; r++)
        if (t->reasons & (1u << r)) {
            if (!first)
                buf_ch(b, ',');
            buf_text(b, alert_reason_name(1u << r));
            first = false;
        }
    buf_ch(b, '}'), TAB(b);
    buf_text(b, evt_channel_name(t->channel)), TAB(b);
    buf_text(b, evt_category_name(t->category)), TAB(b);
    buf_bool(b, t->claim), TAB(b);
    buf_bool(b, t->major), TAB(b);
    buf_text_or_null(b, tkt_waybill(t)), TAB(b);
    buf_text_or_null(b, tkt_site(t)), TAB(b);
    buf_text_or_null(b, tkt_region(t)), TAB(b);
    buf_text_or_null(b, tkt_customer_ref(t)), TAB(b);
    buf_time(b, tu32_get(t->received_at)), TAB(b);
    buf_time(b, tu32_get(t->round_start)), TAB(b);
    for (int s = 0; s < STG__COUNT; s++)
        buf_time(b, t->tg[s].done ? tu32_get(t->tg[s].done_at) : 0), TAB(b);
    for (int s = 0; s < STG__COUNT; s++)
        buf_time(b, tu32_get(t->tg[s].deadline)), TAB(b);
    buf_bool(b, tkt_paused(t)), TAB(b);
    buf_time(b, t->closed ? tu32_get(t->closed_at) : 0), TAB(b);
    buf_time(b, tu32_get(t->last_resolved_at)), TAB(b);
    if (tkt_responsible_known(t)) {
        Jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "site");
        if (tkt_resp_site(t)[0])
            jw_str(&w, tkt_resp_site(t));
        else
            jw_null(&w);
        jw_key(&w, "role");
        if (t->resp_role >= 0)
            jw_str(&w, evt_role_name((SiteRole)t->resp_role));
        else
            jw_null(&w);
        jw_key(&w, "rule"), jw_str(&w, tkt_resp_rule(t));
        jw_end_obj(&w);
        char *text = oom_check(jw_take(&w, NULL));
        buf_text(b, text);
        free(text);
    } else {
        buf_null(b);
    }
    TAB(b);
    buf_bool(b, tkt_valid(t)), TAB(b);
    buf_text_or_null(b, tkt_acct_site(t)), TAB(b);
    encode_snapshot(b, t);
    EOL(b);
}

static void encode_indicators(Buf *b, const IndicSet *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const IndicRow *r = set->v[i];
        char day[11];
        indic_day_text(r->day, day);
        buf_text(b, day), TAB(b);
        buf_text(b, evt_category_name(r->category)), TAB(b);
        buf_text(b, r->site);
        for (int f = 0; f < IND__COUNT; f++)
            TAB(b), buf_int(b, r->n[f]);
        EOL(b);
    }
}

static void encode_event(Buf *b, const EffEvent *e, int off)
{
    buf_text(b, e->ev.event_id), TAB(b);
    buf_text(b, e->ev.ticket_id), TAB(b);
    buf_text(b, evt_type_name(e->ev.type)), TAB(b);
    buf_time(b, e->ev.occurred_at), TAB(b);
    buf_text(b, e->applied ? "applied" : "history"), TAB(b);
    buf_text(b, e->src.topic), TAB(b);
    buf_int(b, e->src.partition), TAB(b);
    buf_int(b, e->src.offset), TAB(b);
    encode_body(b, &e->ev, off);
    EOL(b);
}

static void encode_held(Buf *b, const EffHeld *h)
{
    buf_text(b, h->ev.event_id), TAB(b);
    buf_text(b, h->ev.ticket_id), TAB(b);
    buf_time(b, h->ev.occurred_at), TAB(b);
    buf_time(b, h->held_since), TAB(b);
    buf_text(b, h->src.topic), TAB(b);
    buf_int(b, h->src.partition), TAB(b);
    buf_int(b, h->src.offset), TAB(b);
    buf_text(b, h->payload);
    EOL(b);
}

static void encode_scan(Buf *b, const EffScan *x)
{
    const ScanEvent *sc = &x->sc;
    buf_text(b, sc->event_id), TAB(b);
    buf_text(b, sc->waybill), TAB(b);
    buf_text(b, evt_scan_type_name(sc->scan_type)), TAB(b);
    buf_text(b, sc->site), TAB(b);
    buf_text(b, evt_role_name(sc->site_role)), TAB(b);
    buf_text_or_null(b, sc->next_site), TAB(b);
    buf_text_or_null(b, sc->next_site_role != ROLE_NONE ? evt_role_name(sc->next_site_role) : NULL), TAB(b);
    buf_time(b, sc->occurred_at), TAB(b);
    buf_text(b, x->src.topic), TAB(b);
    buf_int(b, x->src.partition), TAB(b);
    buf_int(b, x->src.offset);
    EOL(b);
}

static void encode_out(Buf *alerts, Buf *dead, const OutList *out)
{
    for (const OutMsg *m = out->head; m; m = m->next) {
        if (m->kind == OUT_ALERT) {
            buf_int(alerts, m->seq), TAB(alerts);
            buf_text(alerts, m->alert_id), TAB(alerts);
            buf_text(alerts, alert_status_name(m->status)), TAB(alerts);
            buf_text(alerts, alert_type_name(m->type)), TAB(alerts);
            buf_text_or_null(alerts, m->ticket_id), TAB(alerts);
            buf_time(alerts, m->condition_at), TAB(alerts);
            buf_time(alerts, m->emitted_at), TAB(alerts);
            buf_text(alerts, m->payload);
            EOL(alerts);
        } else {
            buf_int(dead, m->seq), TAB(dead);
            buf_text(dead, m->src_topic), TAB(dead);
            buf_int(dead, m->src_partition), TAB(dead);
            buf_int(dead, m->src_offset), TAB(dead);
            buf_text_or_null(dead, m->key_text), TAB(dead);
            buf_text(dead, m->reason ? m->reason : ""), TAB(dead);
            buf_text(dead, m->detail ? m->detail : ""), TAB(dead);
            buf_text(dead, m->payload);
            EOL(dead);
        }
    }
}

/* ---- running statements ------------------------------------------------- */

static void add_sql(Commit *c, const char *sql, const char *sql_safe)
{
    Step *st = &c->steps[c->n_steps++];
    st->kind = ST_SQL;
    st->sql = oom_check(strdup(sql));
    st->sql_safe = sql_safe ? oom_check(strdup(sql_safe)) : NULL;
}

/* A COPY step, when the buffer holds rows (it is moved into the step):
 * straight into `table` (its columns as listed), or into a staging table
 * (NULL table: always; else in a staged retry, unless staging is NULL too)
 * whose columns are the same. */
static void add_copy(Commit *c, const char *table, const char *columns, const char *staging, Buf *data)
{
    if (data->n == 0) {
        buf_free(data);
        return;
    }
    Step *st = &c->steps[c->n_steps++];
    st->kind = ST_COPY;
    char sql[512];
    if (staging) {
        snprintf(sql, sizeof sql, "COPY pg_temp.%s FROM STDIN", staging);
        if (table)
            st->sql_safe = oom_check(strdup(sql));
    }
    if (table)
        snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table, columns);
    st->sql = oom_check(strdup(sql));
    st->data = *data;
    memset(data, 0, sizeof *data);
}

/* BEGIN goes in the first statement's query string: a round trip less a
 * batch. Whatever fails in that string ends it, BEGIN included, and the
 * rollback is the same. */
static void begin_with(Step *st)
{
    char *both[2] = {st->sql, st->sql_safe};
    for (int i = 0; i < 2; i++) {
        if (!both[i])
            continue;
        size_t n = strlen(both[i]);
        char *s = oom_check(malloc(n + 8));
        memcpy(s, "BEGIN; ", 7);
        memcpy(s + 7, both[i], n + 1);
        free(both[i]);
        both[i] = s;
    }
    st->sql = both[0];
    st->sql_safe = both[1];
}

static void step_done(void *arg, bool ok, PGresult *res, const char *err);
static void unsent_done(void *arg, bool ok, PGresult *res, const char *err);
static void lookup_done(void *arg, bool ok, PGresult *res, const char *err);
static void setup_done(void *arg, bool ok, PGresult *res, const char *err);

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    kick(w->data);
}

/* After a failed statement: roll back when the connection is still up, and
 * try again after the backoff. */
static void failed(Store *s, const char *what, const char *err)
{
    s->failures++;
    /* The first line only: the error itself, never a DETAIL that quotes row data. */
    log_err("postgres: %s failed: %.*s; retrying in %.1fs", what, err ? (int)strcspn(err, "\n") : 1, err ? err : "?",
            s->backoff);
    s->commit.next = 0;
    /* When this send fails the connection is going down, and the server
     * rolls back by itself. */
    if (db_ready(s->db))
        (void)db_send(s->db, "ROLLBACK", 0, NULL, NULL, NULL);
    ev_timer_stop(s->loop, &s->retry);
    ev_timer_init(&s->retry, retry_cb, s->backoff, 0.0);
    s->retry.data = s;
    ev_timer_start(s->loop, &s->retry);
    s->backoff = s->backoff * 2 > RETRY_MAX ? RETRY_MAX : s->backoff * 2;
}

/* Sends the next statement of whatever is pending, when the connection is free. */
static void kick(Store *s)
{
    if (!s->db || s->sending || ev_is_active(&s->retry) || !db_ready(s->db))
        return;
    if (!s->staged && (s->commit.active || s->unsent.active || s->lookup.active)) {
        /* a session of its own again after a reconnect: the desk too */
        const char *p[2] = {s->session_pid[0] ? s->session_pid : NULL, s->session_start[0] ? s->session_start : NULL};
        if (db_send(s->db, s->setup_sql, 2, p, setup_done, s) == 0)
            s->sending = true;
        return;
    }
    if (s->commit.active) {
        Commit *c = &s->commit;
        Step *st = &c->steps[c->next];
        if (c->next == 0)
            c->started = ev_time();
        const char *sql = c->staged && st->sql_safe ? st->sql_safe : st->sql;
        int rc = st->kind == ST_COPY ? db_send_copy(s->db, sql, st->data.p, st->data.n, step_done, s)
                                     : db_send(s->db, sql, 0, NULL, step_done, s);
        if (rc == 0)
            s->sending = true;
        return;
    }
    if (s->lookup.active) {
        /* Rows of before migration 003 have a JSON state and keep their
         * event ids in ticket_events. */
        static const char sql[] =
            "SELECT snapshot, CASE WHEN snapshot IS NULL THEN state::text END, "
            "CASE WHEN snapshot IS NULL THEN array_to_json(ARRAY(SELECT event_id FROM ticket_events e "
            "WHERE e.ticket_id = t.ticket_id))::text END FROM tickets t WHERE ticket_id = $1";
        const char *p[1] = {s->lookup.ticket_id};
        if (db_send(s->db, sql, 1, p, lookup_done, s) == 0)
            s->sending = true;
        return;
    }
    if (s->unsent.active) {
        Unsent *u = &s->unsent;
        const char *p[3] = {u->after, u->upto, u->limit};
        static const char sql[] =
            "(SELECT seq, 'a', alert_id, status, NULL::integer, NULL::bigint, NULL, payload::text FROM alerts "
            "WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3) UNION ALL "
            "(SELECT seq, 'd', source_topic, NULL, source_partition, source_offset, key, payload FROM dead_letters "
            "WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3) ORDER BY 1 LIMIT $3";
        if (db_send(s->db, sql, 3, p, unsent_done, s) == 0)
            s->sending = true;
    }
}

static void setup_done(void *arg, bool ok, PGresult *res, const char *err)
{
    (void)res;
    Store *s = arg;
    s->sending = false;
    if (!ok) {
        failed(s, "preparing the staging tables", err);
        return;
    }
    const char *desk = PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "";
    if (strcmp(desk, "held") != 0 && strcmp(desk, "retaken") != 0) {
        /* Another instance took the desk while the connection was down: it
         * loaded what was committed and goes on from there. Nothing of
         * this one's is lost by stopping here (the batch in flight was
         * rolled back with the connection), but anything it committed from
         * now on would be the same effects twice. */
        log_err("postgres: another complaintd took the desk of group %s while the connection was down; stopping "
                "(this instance's memory is no longer the desk's)",
                s->cfg->group_id);
        _exit(1);
    }
    if (strcmp(desk, "retaken") == 0)
        log_warn("postgres: this instance's previous session (server process %s) still held the desk of group %s "
                 "after its connection broke; ended it and took the desk again",
                 s->session_pid, s->cfg->group_id);
    snprintf(s->session_pid, sizeof s->session_pid, "%s", PQgetvalue(res, 0, 2));
    snprintf(s->session_start, sizeof s->session_start, "%s", PQgetvalue(res, 0, 3));
    s->staged = true;
    kick(s);
}

static void rolled_back(void *arg, bool ok, PGresult *res, const char *err)
{
    (void)ok, (void)res, (void)err; /* a failed ROLLBACK leaves nothing behind to undo either */
    Store *s = arg;
    s->sending = false;
    kick(s);
}

static void step_done(void *arg, bool ok, PGresult *res, const char *err)
{
    Store *s = arg;
    Commit *c = &s->commit;
    s->sending = false;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!ok && !c->staged && state && strcmp(state, "23505") == 0) {
        /* A row of the batch is already stored (its commit reply was lost,
         * or a message came twice): again, through the staging tables. */
        log_warn("postgres: a row of the batch is already stored; committing it again through the staging tables");
        c->staged = true;
        c->next = 0;
        if (db_send(s->db, "ROLLBACK", 0, NULL, rolled_back, s) == 0)
            s->sending = true;
        return;
    }
    if (!ok) {
        failed(s, "batch commit", err);
        return;
    }
    if (++c->next < c->n_steps) {
        kick(s);
        return;
    }
    s->backoff = RETRY_MIN;
    s->commits++;
    s->last_effects = c->effects;
    if (c->effects > s->max_effects)
        s->max_effects = c->effects;
    s->last_commit_seconds = ev_time() - c->started;
    hist_observe(&s->commit_seconds, s->last_commit_seconds);
    hist_observe(&s->batch_effects, (double)c->effects);
    log_debug("committed in %.1f ms (%d statements)", s->last_commit_seconds * 1000, c->n_steps);
    if (c->fold_upto > s->folded)
        s->folded = c->fold_upto;
    StoreDone done = c->done;
    void *darg = c->arg;
    commit_clear(c);
    done(darg);
    kick(s);
}

/* Records that batch `seq` appended `rows`, and chooses what it folds: the
 * number of the last batch whose rows it takes, 0 for none. */
static int64_t choose_fold(Store *s, int64_t seq, size_t rows, StoreFold how)
{
    if (rows > 0) {
        if (s->n_waiting == s->cap_waiting) {
            s->cap_waiting = s->cap_waiting ? 2 * s->cap_waiting : 64;
            s->waiting = oom_check(realloc(s->waiting, s->cap_waiting * sizeof *s->waiting));
        }
        s->waiting[s->n_waiting++] = (Appended){seq, rows};
        s->rows_waiting += rows;
    }
    size_t budget;
    if (how == STORE_FOLD_IDLE)
        budget = FOLD_IDLE_ROWS;
    else if (s->rows_waiting - rows > FOLD_KEEP)
        budget = 2 * rows > FOLD_MIN ? 2 * rows : FOLD_MIN;
    else
        return 0;
    size_t n = 0, taken = 0;
    while (n < s->n_waiting && (n == 0 || taken + s->waiting[n].rows <= budget))
        taken += s->waiting[n++].rows;
    if (n == 0)
        return 0;
    int64_t upto = s->waiting[n - 1].seq;
    memmove(s->waiting, s->waiting + n, (s->n_waiting - n) * sizeof *s->waiting);
    s->n_waiting -= n;
    s->rows_waiting -= taken;
    return upto;
}

void store_commit(Store *s, const StoreBatch *b, StoreDone done, void *arg)
{
    Commit *c = &s->commit;
    commit_clear(c);
    const Effects *e = b->eff;
    Buf t = {0}, tnew = {0}, snaps = {0}, ev = {0}, held = {0}, rel = {0}, scans = {0}, alerts = {0}, dead = {0},
        offs = {0}, ind = {0};
    /* A ticket whose deadlines fired appends its snapshot; so does every
     * later write of it until a fold, so that its latest appended snapshot
     * is always its newest (migration 006). */
    int64_t seq = ++s->batch_seq; /* kept by a retry of this commit: its counts go in once */
    size_t rows = e->indic.n;
    for (size_t i = 0; i < e->n_tickets; i++) {
        Ticket *tk = e->tickets[i];
        if (e->ticket_full[i]) {
            /* a ticket without a row goes straight into tickets */
            encode_ticket(tk->stored ? &t : &tnew, tk);
            tk->stored = true;
        }
        if (!e->ticket_full[i] || tk->unfolded > s->folded) {
            buf_text(&snaps, tkt_id(tk)), TAB(&snaps);
            buf_int(&snaps, seq), TAB(&snaps);
            encode_snapshot(&snaps, tk);
            EOL(&snaps);
            tk->unfolded = seq;
            rows++;
        }
    }
    c->fold_upto = choose_fold(s, seq, rows, b->fold);
    for (size_t i = 0; i < e->n_events; i++)
        encode_event(&ev, &e->events[i], b->utc_offset_min);
    for (size_t i = 0; i < e->n_held; i++)
        encode_held(&held, &e->held[i]);
    for (size_t i = 0; i < e->n_released; i++)
        buf_text(&rel, e->released[i].ticket_id), TAB(&rel), buf_text(&rel, e->released[i].event_id), EOL(&rel);
    for (size_t i = 0; i < e->n_scans; i++)
        encode_scan(&scans, &e->scans[i]);
    encode_out(&alerts, &dead, b->out);
    encode_indicators(&ind, &e->indic);
    for (size_t i = 0; i < b->n_offsets; i++) {
        buf_text(&offs, b->offsets[i].topic), TAB(&offs);
        buf_int(&offs, b->offsets[i].partition), TAB(&offs);
        buf_int(&offs, b->offsets[i].next), EOL(&offs);
    }
    add_copy(c, NULL, NULL, "s_tickets_v4", &t);
    add_copy(c, "tickets",
             "ticket_id, status, round, priority, reasons, channel, category, claim, major, waybill, site, region, "
             "customer_ref, received_at, round_started_at, contacted_at, first_reply_at, resolved_at, revisit_at, "
             "contact_deadline, first_reply_deadline, resolve_deadline, revisit_deadline, paused, closed_at, "
             "last_resolved_at, responsible, valid, acct_site, snapshot",
             "s_tickets_v4", &tnew);
    /* no staged form: appending twice folds the same */
    add_copy(c, "ticket_snapshots", "ticket_id, gen, snapshot", NULL, &snaps);
    add_copy(c, "ticket_events",
             "event_id, ticket_id, type, occurred_at, effect, source_topic, source_partition, source_offset, body",
             "s_events_v3", &ev);
    add_copy(c, "held_events",
             "event_id, ticket_id, occurred_at, held_since, source_topic, source_partition, source_offset, payload",
             "s_held", &held);
    add_copy(c, NULL, NULL, "s_released", &rel);
    add_copy(c, "parcel_scans",
             "event_id, waybill, scan_type, site, site_role, next_site, next_site_role, occurred_at, source_topic, "
             "source_partition, source_offset",
             "s_scans", &scans);
    add_copy(c, "alerts", "seq, alert_id, status, type, ticket_id, condition_at, emitted_at, payload", "s_alerts_v3",
             &alerts);
    add_copy(c, "dead_letters", "seq, source_topic, source_partition, source_offset, key, reason, detail, payload",
             "s_dead_v3", &dead);
    add_copy(c, NULL, NULL, "s_offsets", &offs);
    add_copy(c, NULL, NULL, "s_indicators", &ind);
    /* The last statements go together: one round trip. complaintd_unstage()
     * empties the staging tables, which keep their rows across commits
     * (migration 007). */
    char sql[512], safe[512];
    char acked[24] = "NULL";
    if (b->outbox_acked >= 0)
        snprintf(acked, sizeof acked, "%" PRId64, b->outbox_acked);
    char fold[24] = "NULL";
    if (c->fold_upto > 0)
        snprintf(fold, sizeof fold, "%" PRId64, c->fold_upto);
    snprintf(sql, sizeof sql,
             "SELECT complaintd_apply(%s, %" PRId64 ", %s, false, '%s', %" PRId64
             ", %s); SELECT complaintd_unstage(); COMMIT",
             s->group_literal, b->event_clock, acked, s->batch_key, seq, fold);
    snprintf(safe, sizeof safe,
             "SELECT complaintd_apply(%s, %" PRId64 ", %s, true, '%s', %" PRId64
             ", %s); SELECT complaintd_unstage(); COMMIT",
             s->group_literal, b->event_clock, acked, s->batch_key, seq, fold);
    add_sql(c, sql, safe);
    begin_with(&c->steps[0]);
    c->active = true;
    c->effects = eff_size(e);
    c->done = done;
    c->arg = arg;
    log_debug("committing batch: %zu events, %zu tickets, %zu alerts, %zu dead letters, %zu scans, %zu held; %zu "
              "effects; outbox acknowledged up to %" PRId64,
              e->n_events, e->n_tickets, e->alerts.n, e->n_dead, e->n_scans, e->n_held, eff_size(e), b->outbox_acked);
    kick(s);
}

bool store_committing(const Store *s)
{
    return s->commit.active;
}

bool store_unfolded(const Store *s)
{
    return s->n_waiting > 0;
}

int64_t store_folded(const Store *s)
{
    return s->folded;
}

static void unsent_done(void *arg, bool ok, PGresult *res, const char *err)
{
    Store *s = arg;
    Unsent *u = &s->unsent;
    s->sending = false;
    if (!ok) {
        failed(s, "reading the unsent outbox", err);
        return;
    }
    OutList msgs = {0};
    int64_t last = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        last = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (PQgetvalue(res, i, 1)[0] == 'a')
            out_list_push(&msgs,
                          out_alert_row(last, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 7)));
        else
            out_list_push(&msgs,
                          out_dead_row(last, PQgetvalue(res, i, 2), (int32_t)atoi(PQgetvalue(res, i, 4)),
                                       strtoll(PQgetvalue(res, i, 5), NULL, 10),
                                       PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6), PQgetvalue(res, i, 7)));
    }
    u->active = false;
    u->cb(u->arg, &msgs, last);
    out_list_free(&msgs); /* what the callback did not take */
    kick(s);
}

/* A row of tickets, as text: the snapshot (bytea) or the JSON state and
 * its event ids. NULL when unreadable. */
static Ticket *ticket_of_row(PGresult *res, char *err, size_t errlen)
{
    Ticket *t = NULL;
    if (!PQgetisnull(res, 0, 0)) {
        size_t n = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
        if (b)
            t = tkt_unpack(b, n, err, errlen);
        PQfreemem(b);
        return t;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    t = j ? tkt_from_json(j, err, errlen) : NULL;
    json_decref(j);
    json_t *ids = t ? json_loads(PQgetvalue(res, 0, 2), 0, NULL) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (json_is_string(v))
            oom_rc(tkt_remember(t, json_string_value(v)));
    }
    json_decref(ids);
    return t;
}

static void lookup_done(void *arg, bool ok, PGresult *res, const char *err)
{
    Store *s = arg;
    Lookup *l = &s->lookup;
    s->sending = false;
    if (!ok) {
        failed(s, "reading a ticket back", err);
        return;
    }
    Ticket *t = NULL;
    if (PQntuples(res) == 1) {
        char terr[128] = "";
        t = ticket_of_row(res, terr, sizeof terr);
        if (t)
            t->stored = true;
        else
            log_err("postgres: ticket %s is stored but unreadable (%s): its event is handled as for an unknown ticket",
                    l->ticket_id, terr);
    }
    l->active = false;
    free(l->ticket_id);
    l->ticket_id = NULL;
    l->cb(l->arg, t);
    kick(s);
}

void store_lookup(Store *s, const char *ticket_id, StoreTicket cb, void *arg)
{
    Lookup *l = &s->lookup;
    free(l->ticket_id);
    l->ticket_id = oom_check(strdup(ticket_id));
    l->active = true;
    l->cb = cb;
    l->arg = arg;
    kick(s);
}

void store_unsent(Store *s, int64_t after, int64_t upto, size_t limit, StoreUnsent cb, void *arg)
{
    Unsent *u = &s->unsent;
    u->active = true;
    snprintf(u->after, sizeof u->after, "%" PRId64, after);
    snprintf(u->upto, sizeof u->upto, "%" PRId64, upto);
    snprintf(u->limit, sizeof u->limit, "%zu", limit);
    u->cb = cb;
    u->arg = arg;
    kick(s);
}

void store_stats(const Store *s, StoreStats *st)
{
    st->connected = s->db ? db_connected(s->db) : s->boot != NULL;
    st->commits = s->commits;
    st->failures = s->failures;
    st->last_effects = s->last_effects;
    st->max_effects = s->max_effects;
    st->last_commit_seconds = s->last_commit_seconds;
    st->fold_waiting = s->rows_waiting;
    st->commit_seconds = s->commit_seconds;
    st->batch_effects = s->batch_effects;
}

/* ---- loading at start (blocking) ---------------------------------------- */

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

/* One row of a binary COPY: nfields values, NULL ones with len -1. */
typedef int (*CopyRow)(void *arg, int nfields, const char *const *vals, const int *lens, char *err, size_t errlen);

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Runs `COPY (query) TO STDOUT (FORMAT binary)` and hands each row to cb,
 * row by row: the result is never held whole, whatever its size. */
static int copy_out(PGconn *c, const char *query, CopyRow cb, void *arg, char *err, size_t errlen)
{
    enum { MAXF = 12 };
    char sql[2048];
    snprintf(sql, sizeof sql, "COPY (%s) TO STDOUT (FORMAT binary)", query);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        snprintf(err, errlen, "loading state: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int rc = 0;
    bool header = true;
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(c, &buf, 0);
        if (n == -1)
            break;
        if (n < 0) {
            snprintf(err, errlen, "loading state: %s", PQerrorMessage(c));
            return -1;
        }
        /* libpq hands over one row per call; the first carries the 19-byte header */
        const char *p = buf, *end = buf + n;
        if (header) {
            p += 19; /* signature, flags, header extension length (0) */
            header = false;
        }
        if (rc == 0 && end - p >= 2) {
            int nf = (int16_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]);
            p += 2;
            const char *vals[MAXF];
            int lens[MAXF];
            for (int i = 0; i < nf && i < MAXF && rc == 0; i++) {
                if (end - p < 4) {
                    rc = -1;
                    break;
                }
                int32_t len = (int32_t)be32(p);
                p += 4;
                if (len > end - p) {
                    rc = -1;
                    break;
                }
                vals[i] = len < 0 ? NULL : p;
                lens[i] = len;
                p += len < 0 ? 0 : len;
            }
            if (rc < 0)
                snprintf(err, errlen, "loading state: a row of COPY is cut short");
            else if (nf > 0)
                rc = cb(arg, nf, vals, lens, err, errlen);
        }
        PQfreemem(buf);
    }
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
        snprintf(err, errlen, "loading state: %s", PQresultErrorMessage(r));
        rc = -1;
    }
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    return rc;
}

typedef struct TicketLoad {
    Desk *d;
    int64_t base;
    size_t n, old;
} TicketLoad;

/* A ticket row: its snapshot, or the JSON state of a row from before
 * migration 003. */
static int load_ticket_row(void *arg, int nf, const char *const *vals, const int *lens, char *err, size_t errlen)
{
    TicketLoad *l = arg;
    char terr[128] = "";
    Ticket *t = NULL;
    if (nf >= 2 && vals[0]) {
        t = tkt_unpack(vals[0], (size_t)lens[0], terr, sizeof terr);
    } else if (nf >= 2 && vals[1]) {
        /* jsonb in binary: a version byte, then the text */
        json_t *j = lens[1] > 1 ? json_loadb(vals[1] + 1, (size_t)lens[1] - 1, 0, NULL) : NULL;
        t = j ? tkt_from_json(j, terr, sizeof terr) : NULL;
        json_decref(j);
        l->old++;
    }
    if (!t) {
        snprintf(err, errlen, "loading state: ticket row %zu is unreadable: %s", l->n + 1, terr);
        return -1;
    }
    t->stored = true;
    l->n++;
    oom_rc(desk_load_ticket(l->d, t, l->base));
    return 0;
}

static int64_t json_time(const json_t *o, const char *k)
{
    int64_t t = 0;
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || tu_parse_rfc3339(json_string_value(v), &t) < 0)
        return 0;
    return t;
}

/* A binary COPY field as a C string (fields are not NUL-terminated). */
static void field(char *dst, size_t size, const char *v, int len)
{
    size_t n = v && len > 0 ? (size_t)len : 0;
    if (n >= size)
        n = size - 1;
    memcpy(dst, v ? v : "", n);
    dst[n] = '\0';
}

static int load_gone_row(void *arg, int nf, const char *const *vals, const int *lens, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    char id[EVT_TICKET_MAX + 1];
    if (nf < 1 || !vals[0])
        return 0;
    field(id, sizeof id, vals[0], lens[0]);
    oom_rc(desk_load_gone(arg, id));
    return 0;
}

static int load_acct_row(void *arg, int nf, const char *const *vals, const int *lens, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (nf < 3 || !vals[0] || !vals[1] || !vals[2])
        return 0;
    char site[EVT_SITE_MAX + 1], id[EVT_TICKET_MAX + 1], at[24];
    field(site, sizeof site, vals[0], lens[0]);
    field(id, sizeof id, vals[1], lens[1]);
    field(at, sizeof at, vals[2], lens[2]);
    oom_rc(desk_load_acct_complaint(arg, site, id, strtoll(at, NULL, 10)));
    return 0;
}

/* Site accountability (§12.8): the valid complaints of the window (and the
 * month before it, for late ones), then the episodes that fired. */
static int load_acct(PGconn *c, Desk *d, int64_t base, char *err, size_t errlen)
{
    const Policy *p = desk_policy(d);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT acct_site, ticket_id, extract(epoch FROM received_at)::bigint::text FROM tickets "
             "WHERE acct_site IS NOT NULL AND received_at >= to_timestamp(%" PRId64 ") "
             "ORDER BY received_at, ticket_id COLLATE \"C\"",
             base - p->accountability_window - 31 * 86400);
    if (copy_out(c, sql, load_acct_row, d, err, errlen) < 0)
        return -1;
    PGresult *r = load_query(c,
                             "SELECT payload->>'site', payload->>'month', payload->>'reason', "
                             "extract(epoch FROM condition_at)::bigint, EXISTS (SELECT 1 FROM alerts e "
                             "WHERE e.alert_id = a.alert_id AND e.status <> 'firing') "
                             "FROM alerts a WHERE type = 'site_accountability' AND status = 'firing'",
                             0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int year = 0, month = 0;
        if (sscanf(PQgetvalue(r, i, 1), "%d-%d", &year, &month) != 2)
            continue;
        oom_rc(desk_load_acct_episode(d, PQgetvalue(r, i, 0), year, month, strcmp(PQgetvalue(r, i, 2), "total") == 0,
                                      strtoll(PQgetvalue(r, i, 3), NULL, 10), PQgetvalue(r, i, 4)[0] == 't'));
    }
    PQclear(r);
    return 0;
}

/* Alerts of one type that fired and never ended: running bulk episodes and
 * parcels still stalled. */
#define OPEN_ALERTS                                                                                                    \
    "SELECT alert_id, payload::text FROM alerts a WHERE type = $1 AND status = 'firing' AND NOT EXISTS "               \
    "(SELECT 1 FROM alerts r WHERE r.alert_id = a.alert_id AND r.status <> 'firing')"

static int load_bulk(PGconn *c, Desk *d, int64_t base, char *err, size_t errlen)
{
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
            size_t n = json_array_size(ids);
            const char **idv = oom_check(calloc(n ? n : 1, sizeof *idv));
            for (size_t j = 0; j < n; j++)
                idv[j] = json_string_value(json_array_get(ids, j));
            oom_rc(desk_load_bulk(d, (Category)ci, json_string_value(site), json_time(o, "window_start"),
                                  json_time(o, "condition_at"), idv, n, false, base));
            free(idv);
        }
        json_decref(o);
    }
    PQclear(r);
    r = load_query(c,
                   "SELECT payload->>'category', payload->>'site', max(payload->>'window_start'), "
                   "COALESCE(max(payload->>'resolved_at'), '') FROM alerts "
                   "WHERE type = 'bulk_complaint' AND status = 'resolved' GROUP BY 1, 2",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int ci = evt_category_from_name(PQgetvalue(r, i, 0));
        int64_t ws, ended = 0;
        if (tu_parse_rfc3339(PQgetvalue(r, i, 3), &ended) != 0)
            ended = 0;
        if (ci >= 0 && tu_parse_rfc3339(PQgetvalue(r, i, 2), &ws) == 0)
            oom_rc(desk_load_bulk(d, (Category)ci, PQgetvalue(r, i, 1), ws, ended, NULL, 0, true, base));
    }
    PQclear(r);
    return 0;
}

typedef struct ParcelLoad {
    Desk *d;
    StrMap *stalled;
} ParcelLoad;

static int load_parcel_row(void *arg, int nf, const char *const *vals, const int *lens, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    ParcelLoad *l = arg;
    if (nf < 9)
        return 0;
    char type_name[16], role_name[16], next_role_name[16], at[24], pickup[24];
    ScanEvent sc;
    memset(&sc, 0, sizeof sc);
    field(sc.event_id, sizeof sc.event_id, vals[0], lens[0]);
    field(sc.waybill, sizeof sc.waybill, vals[1], lens[1]);
    field(type_name, sizeof type_name, vals[2], lens[2]);
    field(sc.site, sizeof sc.site, vals[3], lens[3]);
    field(role_name, sizeof role_name, vals[4], lens[4]);
    field(sc.next_site, sizeof sc.next_site, vals[5], lens[5]);
    field(next_role_name, sizeof next_role_name, vals[6], lens[6]);
    field(at, sizeof at, vals[7], lens[7]);
    field(pickup, sizeof pickup, vals[8], lens[8]);
    int type = evt_scan_type_from_name(type_name);
    int role = evt_role_from_name(role_name);
    if (type < 0 || role < 0)
        return 0;
    sc.scan_type = (ScanType)type;
    sc.site_role = (SiteRole)role;
    sc.next_site_role = (SiteRole)evt_role_from_name(next_role_name);
    sc.occurred_at = strtoll(at, NULL, 10);
    char id[ALERT_ID_MAX + 1];
    snprintf(id, sizeof id, "parcel_stalled/%s/%" PRId64, sc.waybill, sc.occurred_at);
    oom_rc(desk_load_parcel(l->d, &sc, strtoll(pickup, NULL, 10), sm_has(l->stalled, id)));
    return 0;
}

typedef struct HeldLoad {
    Desk *d;
    size_t n;
} HeldLoad;

/* A held event: its message, decoded again, and where it came from. */
static int load_held_row(void *arg, int nf, const char *const *vals, const int *lens, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    HeldLoad *l = arg;
    if (nf < 5 || !vals[0])
        return 0;
    char since[24], topic[256], part[16], off[24];
    field(since, sizeof since, vals[1], lens[1]);
    field(topic, sizeof topic, vals[2], lens[2]);
    field(part, sizeof part, vals[3], lens[3]);
    field(off, sizeof off, vals[4], lens[4]);
    ComplaintEvent ev;
    char detail[EVT_DETAIL_MAX];
    size_t len = (size_t)lens[0];
    if (evt_decode_complaint(vals[0], len, SIZE_MAX, &ev, detail, sizeof detail) != EVT_OK)
        return 0; /* it was valid when held; a changed decoder must not stop the start */
    DeskSource src = {.topic = topic,
                      .partition = (int32_t)atoi(part),
                      .offset = strtoll(off, NULL, 10),
                      .key = ev.ticket_id,
                      .key_len = strlen(ev.ticket_id),
                      .payload = vals[0],
                      .len = len};
    oom_rc(desk_load_held(l->d, &ev, &src, strtoll(since, NULL, 10)));
    l->n++;
    return 0;
}

/* Each parcel's latest scan, ties broken by the responsibility table's row order,
 * then by the message (the one applied first stayed the latest); streamed row
 * by row, as the tickets are: millions of parcels are in flight. */
static int load_parcels(PGconn *c, Desk *d, char *err, size_t errlen)
{
    const char *p2[1] = {"parcel_stalled"};
    PGresult *st = load_query(c, OPEN_ALERTS, 1, p2, err, errlen);
    if (!st)
        return -1;
    ParcelLoad l = {.d = d, .stalled = oom_check(sm_new())};
    for (int i = 0; i < PQntuples(st); i++)
        oom_rc(sm_put(l.stalled, PQgetvalue(st, i, 0), (void *)1));
    PQclear(st);
    int rc = copy_out(c,
                      "SELECT DISTINCT ON (waybill) event_id, waybill, scan_type, site, site_role, "
                      "COALESCE(next_site, ''), COALESCE(next_site_role, ''), "
                      "extract(epoch FROM occurred_at)::bigint::text, "
                      "COALESCE(extract(epoch FROM min(occurred_at) FILTER (WHERE scan_type = 'pickup') "
                      "OVER (PARTITION BY waybill))::bigint, 0)::text "
                      "FROM parcel_scans ORDER BY waybill, occurred_at DESC, CASE scan_type WHEN 'pickup' THEN 0 "
                      "WHEN 'depart' THEN CASE site_role WHEN 'origin' THEN 1 ELSE 2 END "
                      "WHEN 'arrive' THEN CASE site_role WHEN 'delivery' THEN 4 ELSE 3 END "
                      "WHEN 'deliver' THEN 5 WHEN 'signed' THEN 7 ELSE 6 END DESC, source_partition, source_offset",
                      load_parcel_row, &l, err, errlen);
    sm_free(l.stalled);
    return rc;
}

/* The status page's day and last 24 hours, as of `base`. */
static int load_status(PGconn *c, Desk *d, int64_t base, StoreLoaded *out, char *err, size_t errlen)
{
    int off = cal_utc_offset(desk_policy(d)->cal);
    int64_t local = base + (int64_t)off * 60;
    out->today = (int32_t)(local / 86400 - (local % 86400 < 0));
    char day[11], sql[1024];
    indic_day_text(out->today, day);
    char sums[600] = "";
    for (int f = 0; f < IND__COUNT; f++)
        snprintf(sums + strlen(sums), sizeof sums - strlen(sums), "%ssum(%s)", f ? ", " : "",
                 indic_field_name((IndField)f));
    snprintf(sql, sizeof sql, "SELECT category, %s FROM indicators WHERE day = '%s' GROUP BY category", sums, day);
    PGresult *r = load_query(c, sql, 0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int cat = evt_category_from_name(PQgetvalue(r, i, 0));
        for (int f = 0; cat >= 0 && f < IND__COUNT; f++)
            out->today_indicators[cat][f] = strtoll(PQgetvalue(r, i, 1 + f), NULL, 10);
    }
    PQclear(r);
    int64_t hour = base / 3600 - (base % 3600 < 0);
    snprintf(sql, sizeof sql,
             "SELECT floor(extract(epoch FROM condition_at) / 3600)::bigint, count(*) FROM alerts "
             "WHERE type = 'sla_breach' AND status = 'firing' AND condition_at >= to_timestamp(%" PRId64
             ") AND condition_at < to_timestamp(%" PRId64 ") GROUP BY 1",
             (hour - 23) * 3600, (hour + 1) * 3600);
    if (!(r = load_query(c, sql, 0, NULL, err, errlen)))
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t h = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (h > hour - 24 && h <= hour)
            out->breaches[23 - (hour - h)] = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
    }
    PQclear(r);
    return 0;
}

/* A database is one desk, and a daemon with role = parcels keeps the scan
 * path of it only: it refuses a database whose tickets another daemon kept
 * (it would neither load nor answer them), and the first daemon to start on
 * a database records its role there, so that a daemon of the other role is
 * refused too (docs/architecture.md, "Roles"). A database from before roles
 * that holds tickets is recorded as a whole desk's. The role is read after
 * it is written: of two first daemons at once, the one whose role went in
 * wins. */
static int check_role(PGconn *c, DaemonRole role, char *err, size_t errlen)
{
    const char *mine[1] = {cfg_role_name(role)};
    PGresult *r = load_query(c,
                             "INSERT INTO daemon_state (key, value) SELECT 'role', to_jsonb(CASE WHEN "
                             "EXISTS (SELECT 1 FROM tickets) OR EXISTS (SELECT 1 FROM held_events) "
                             "THEN 'all' ELSE $1::text END) ON CONFLICT (key) DO NOTHING RETURNING key",
                             1, mine, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    r = load_query(c,
                   "SELECT value #>> '{}', EXISTS (SELECT 1 FROM tickets) OR EXISTS (SELECT 1 FROM held_events) "
                   "FROM daemon_state WHERE key = 'role'",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "recording the role: daemon_state has no role after it was written");
        rc = -1;
    } else if (strcmp(PQgetvalue(r, 0, 0), mine[0]) != 0) {
        snprintf(err, errlen,
                 "this database is the desk of a complaintd with [daemon] role = %s%s; one with role = %s needs a "
                 "database of its own (docs/architecture.md, \"Roles\")",
                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)[0] == 't' ? ", and it holds tickets" : "", mine[0]);
        rc = -1;
    }
    PQclear(r);
    return rc;
}

int store_load(Store *s, Desk *d, int64_t base, StoreLoaded *out, char *err, size_t errlen)
{
    PGconn *c = s->boot;
    memset(out, 0, sizeof *out);
    if (check_role(c, s->cfg->role, err, errlen) < 0)
        return -1;
    /* What the last run appended and did not fold (a stop leaves it, and
     * so does a crash) goes into its rows first: this run's batch numbers
     * start again from 1. */
    PGresult *r = load_query(c, "SELECT complaintd_fold(NULL)", 0, NULL, err, errlen);
    if (!r)
        return -1;
    PQclear(r);
    r = load_query(c, "SELECT value::text FROM daemon_state WHERE key = 'event_clock'", 0, NULL, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 1)
        out->event_clock = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (s->cfg->clock_mode == CLOCK_EVENT)
        base = out->event_clock;

    const char *gp[1] = {s->cfg->group_id};
    r = load_query(c, "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1", 1, gp, err,
                   errlen);
    if (!r)
        return -1;
    out->n_offsets = (size_t)PQntuples(r);
    out->offsets = oom_check(calloc(out->n_offsets ? out->n_offsets : 1, sizeof *out->offsets));
    for (size_t i = 0; i < out->n_offsets; i++) {
        out->offsets[i].topic = oom_check(strdup(PQgetvalue(r, (int)i, 0)));
        out->offsets[i].partition = (int32_t)atoi(PQgetvalue(r, (int)i, 1));
        out->offsets[i].next = strtoll(PQgetvalue(r, (int)i, 2), NULL, 10);
    }
    PQclear(r);

    /* Open tickets, and closed ones young enough for the repeat look-back
     * (and the day more of desk_keep_closed_since);
     * read in two parts that the indexes tickets_open and tickets_recent
     * (migration 009) answer without reading the closed tickets of all time. */
    char since[64], keep[256], sql[512];
    snprintf(since, sizeof since, "to_timestamp(%" PRId64 ")", desk_keep_closed_since(d, base));
    snprintf(keep, sizeof keep, "status <> 'closed' OR COALESCE(last_resolved_at, closed_at) >= %s", since);
    snprintf(sql, sizeof sql,
             "SELECT snapshot, CASE WHEN snapshot IS NULL THEN state END FROM tickets WHERE status <> 'closed' "
             "UNION ALL SELECT snapshot, CASE WHEN snapshot IS NULL THEN state END FROM tickets "
             "WHERE status = 'closed' AND COALESCE(last_resolved_at, closed_at) >= %s",
             since);
    TicketLoad tl = {.d = d, .base = base};
    if (copy_out(c, sql, load_ticket_row, &tl, err, errlen) < 0)
        return -1;
    /* The others stay stored; an event for one reads it back (§12.2). */
    /* (COALESCE(last_resolved_at, closed_at) < since, spelt out so that it
     * reads tickets_closed alone, not tickets_recent and every row) */
    snprintf(sql, sizeof sql,
             "SELECT ticket_id FROM tickets WHERE status = 'closed' AND (last_resolved_at < %s OR "
             "(last_resolved_at IS NULL AND closed_at < %s))",
             since, since);
    if (copy_out(c, sql, load_gone_row, d, err, errlen) < 0)
        return -1;
    if (load_bulk(c, d, base, err, errlen) < 0 || load_parcels(c, d, err, errlen) < 0 ||
        load_acct(c, d, base, err, errlen) < 0)
        return -1;
    /* Rows from before migration 003 do not carry their event ids. */
    if (tl.old) {
        snprintf(sql, sizeof sql,
                 "SELECT e.ticket_id, e.event_id FROM ticket_events e JOIN tickets USING (ticket_id) "
                 "WHERE snapshot IS NULL AND (%s)",
                 keep);
        r = load_query(c, sql, 0, NULL, err, errlen);
        if (!r)
            return -1;
        for (int i = 0; i < PQntuples(r); i++)
            oom_rc(desk_load_event_id(d, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)));
        PQclear(r);
    }

    HeldLoad hl = {.d = d};
    if (copy_out(c,
                 "SELECT payload, extract(epoch FROM held_since)::bigint::text, source_topic, "
                 "source_partition::text, source_offset::text FROM held_events "
                 "ORDER BY source_topic, source_partition, source_offset",
                 load_held_row, &hl, err, errlen) < 0)
        return -1;
    size_t n_held = hl.n;

    r = load_query(c,
                   "SELECT complaintd_outbox_acked(), GREATEST((SELECT COALESCE(max(seq), 0) FROM alerts), "
                   "(SELECT COALESCE(max(seq), 0) FROM dead_letters))",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    out->outbox_acked = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->outbox_upto = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);

    char cols[512] = "category";
    for (int f = 0; f < IND__COUNT; f++)
        snprintf(cols + strlen(cols), sizeof cols - strlen(cols), ", %s", indic_field_name((IndField)f));
    snprintf(sql, sizeof sql, "SELECT %s FROM indicator_totals", cols);
    r = load_query(c, sql, 0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int cat = evt_category_from_name(PQgetvalue(r, i, 0));
        for (int f = 0; cat >= 0 && f < IND__COUNT; f++)
            out->indicators[cat][f] = strtoll(PQgetvalue(r, i, 1 + f), NULL, 10);
    }
    PQclear(r);
    if (load_status(c, d, base, out, err, errlen) < 0)
        return -1;

    DeskStats ds;
    desk_stats(d, &ds);
    log_info("loaded %zu tickets, %zu held events, %zu parcels, %zu bulk keys, event clock %" PRId64, tl.n, n_held,
             ds.parcels, ds.bulk_keys, out->event_clock);

    /* The connection now serves the loop. */
    s->db = db_new(s->loop, s->cfg->conninfo, s->boot, db_ready_cb, s);
    s->boot = NULL;
    oom_check(s->db);
    return 0;
}

void store_loaded_free(StoreLoaded *l)
{
    for (size_t i = 0; i < l->n_offsets; i++)
        free(l->offsets[i].topic);
    free(l->offsets);
    memset(l, 0, sizeof *l);
}
