/* store: complaintd's SQL; see store.h and docs/architecture.md. */
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrations.h"
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
    char *sql; /* owned */
    Buf data;  /* ST_COPY */
} Step;

#define MAX_STEPS 16

/* The commit in progress (encoded, so it can be sent again). */
typedef struct Commit {
    bool active;
    Step steps[MAX_STEPS];
    int n_steps, next;
    size_t effects;
    StoreDone done;
    void *arg;
    ev_tstamp started;
} Commit;

typedef struct Unsent {
    bool active;
    OutKind kind;
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
    bool staged;  /* complaintd_stage() ran on this connection */
    bool sending; /* a statement of ours is out */
    Commit commit;
    Unsent unsent;
    ev_timer retry;
    double backoff;
    uint64_t commits, failures;
    size_t last_effects, max_effects;
    double last_commit_seconds;
};

static void kick(Store *s);

static void db_ready_cb(void *arg)
{
    Store *s = arg;
    s->staged = false;
    kick(s);
}

Store *store_open(struct ev_loop *loop, const Config *cfg, char *err, size_t errlen)
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
    Store *s = oom_check(calloc(1, sizeof *s));
    s->loop = loop;
    s->cfg = cfg;
    s->boot = c;
    char *lit = oom_check(PQescapeLiteral(c, cfg->group_id, strlen(cfg->group_id)));
    s->group_literal = oom_check(strdup(lit));
    PQfreemem(lit);
    s->backoff = RETRY_MIN;
    ev_init(&s->retry, NULL);
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
    free(s->group_literal);
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

/* One field, escaped for COPY's text format. */
static void buf_text(Buf *b, const char *s)
{
    size_t n = strlen(s);
    buf_reserve(b, 2 * n);
    char *o = b->p + b->n;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\': *o++ = '\\', *o++ = '\\'; break;
        case '\n': *o++ = '\\', *o++ = 'n'; break;
        case '\r': *o++ = '\\', *o++ = 'r'; break;
        case '\t': *o++ = '\\', *o++ = 't'; break;
        default: *o++ = c;
        }
    }
    b->n = (size_t)(o - b->p);
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

static void buf_int(Buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    buf_raw(b, t, (size_t)n);
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

static void buf_json(Buf *b, json_t *o)
{
    char *s = oom_check(json_dumps(o, JSON_COMPACT));
    json_decref(o);
    buf_text(b, s);
    free(s);
}

#define TAB(b) buf_ch(b, '\t')
#define EOL(b) buf_ch(b, '\n')

static json_t *jtime(int64_t t, int off)
{
    if (t == TU_NEVER || t == 0)
        return json_null();
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(t, off, buf);
    return json_string(buf);
}

/* json_object_set_new that dies rather than leave a value out. */
static void jset(json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) < 0)
        oom_die();
}

/* The validated fields of an event (no free text). */
static json_t *event_body(const ComplaintEvent *ev, int off)
{
    json_t *o = oom_check(json_object());
    jset(o, "type", json_string(evt_type_name(ev->type)));
    jset(o, "occurred_at", jtime(ev->occurred_at, off));
    if (ev->has & EVF_CHANNEL)
        jset(o, "channel", json_string(evt_channel_name(ev->channel)));
    if (ev->has & EVF_CATEGORY)
        jset(o, "category", json_string(evt_category_name(ev->category)));
    if (ev->has & EVF_WAYBILL)
        jset(o, "waybill", json_string(ev->waybill));
    if (ev->has & EVF_SITE)
        jset(o, "site", json_string(ev->site));
    if (ev->has & EVF_REGION)
        jset(o, "region", json_string(ev->region));
    if (ev->has & EVF_CLAIM)
        jset(o, "claim", json_boolean(ev->claim));
    if (ev->has & EVF_MAJOR)
        jset(o, "major", json_boolean(ev->major));
    if (ev->has & EVF_CUSTOMER_REF)
        jset(o, "customer_ref", json_string(ev->customer_ref));
    if (ev->type == CT_REVISIT)
        jset(o, "satisfied", json_boolean(ev->satisfied));
    if (ev->type == CT_EXTENDED) {
        jset(o, "stage", json_string(evt_ext_stage_name(ev->ext_stage)));
        jset(o, "hours", json_integer(ev->ext_hours));
        if (ev->approved_by[0])
            jset(o, "approved_by", json_string(ev->approved_by));
    }
    return o;
}

static void encode_ticket(Buf *b, const Ticket *t)
{
    buf_text(b, t->id), TAB(b);
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
    buf_text_or_null(b, t->waybill), TAB(b);
    buf_text_or_null(b, t->site), TAB(b);
    buf_text_or_null(b, t->region), TAB(b);
    buf_text_or_null(b, t->customer_ref), TAB(b);
    buf_time(b, t->received_at), TAB(b);
    buf_time(b, t->round_start), TAB(b);
    for (int s = 0; s < STG__COUNT; s++)
        buf_time(b, t->tg[s].done ? t->tg[s].done_at : 0), TAB(b);
    for (int s = 0; s < STG__COUNT; s++)
        buf_time(b, t->tg[s].deadline), TAB(b);
    buf_bool(b, t->n_pauses > 0 && t->pauses[t->n_pauses - 1].end == TU_NEVER), TAB(b);
    buf_time(b, t->closed ? t->closed_at : 0), TAB(b);
    buf_time(b, t->last_resolved_at), TAB(b);
    if (t->responsible.known) {
        json_t *r = oom_check(json_object());
        jset(r, "site", t->responsible.site[0] ? json_string(t->responsible.site) : json_null());
        jset(r, "role",
             t->responsible.role >= 0 ? json_string(evt_role_name((SiteRole)t->responsible.role)) : json_null());
        jset(r, "rule", json_string(t->responsible.rule));
        buf_json(b, r);
    } else {
        buf_null(b);
    }
    TAB(b);
    buf_json(b, oom_check(tkt_to_json(t)));
    EOL(b);
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
    buf_json(b, event_body(&e->ev, off));
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
    int ord = 0;
    for (const OutMsg *m = out->head; m; m = m->next, ord++) {
        if (m->kind == OUT_ALERT) {
            buf_int(alerts, ord), TAB(alerts);
            buf_text(alerts, m->alert_id), TAB(alerts);
            buf_text(alerts, alert_status_name(m->status)), TAB(alerts);
            buf_text(alerts, alert_type_name(m->type)), TAB(alerts);
            buf_text_or_null(alerts, m->ticket_id), TAB(alerts);
            buf_time(alerts, m->condition_at), TAB(alerts);
            buf_time(alerts, m->emitted_at), TAB(alerts);
            buf_text(alerts, m->payload);
            EOL(alerts);
        } else {
            buf_int(dead, ord), TAB(dead);
            buf_text(dead, m->src_topic), TAB(dead);
            buf_int(dead, m->src_partition), TAB(dead);
            buf_int(dead, m->src_offset), TAB(dead);
            buf_text_or_null(dead, m->key), TAB(dead);
            buf_text(dead, m->reason ? m->reason : ""), TAB(dead);
            buf_text(dead, m->detail ? m->detail : ""), TAB(dead);
            buf_text(dead, m->payload);
            EOL(dead);
        }
    }
}

static void encode_marks(Buf *alerts, Buf *dead, const OutList *marks)
{
    for (const OutMsg *m = marks->head; m; m = m->next) {
        if (m->kind == OUT_ALERT) {
            buf_text(alerts, m->alert_id), TAB(alerts);
            buf_text(alerts, alert_status_name(m->status));
            EOL(alerts);
        } else {
            buf_text(dead, m->src_topic), TAB(dead);
            buf_int(dead, m->src_partition), TAB(dead);
            buf_int(dead, m->src_offset);
            EOL(dead);
        }
    }
}

/* ---- running statements ------------------------------------------------- */

static void add_sql(Commit *c, const char *sql)
{
    Step *st = &c->steps[c->n_steps++];
    st->kind = ST_SQL;
    st->sql = oom_check(strdup(sql));
}

/* A COPY step, when the buffer holds rows (it is moved into the step). */
static void add_copy(Commit *c, const char *table, Buf *data)
{
    if (data->n == 0) {
        buf_free(data);
        return;
    }
    Step *st = &c->steps[c->n_steps++];
    st->kind = ST_COPY;
    char sql[128];
    snprintf(sql, sizeof sql, "COPY pg_temp.%s FROM STDIN", table);
    st->sql = oom_check(strdup(sql));
    st->data = *data;
    memset(data, 0, sizeof *data);
}

static void step_done(void *arg, bool ok, PGresult *res, const char *err);
static void unsent_done(void *arg, bool ok, PGresult *res, const char *err);
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
    log_err("postgres: %s failed: %s; retrying in %.1fs", what, err ? err : "?", s->backoff);
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
    if (!s->staged && (s->commit.active || s->unsent.active)) {
        if (db_send(s->db, "SELECT complaintd_stage()", 0, NULL, setup_done, s) == 0)
            s->sending = true;
        return;
    }
    if (s->commit.active) {
        Commit *c = &s->commit;
        Step *st = &c->steps[c->next];
        if (c->next == 0)
            c->started = ev_time();
        int rc = st->kind == ST_COPY ? db_send_copy(s->db, st->sql, st->data.p, st->data.n, step_done, s)
                                     : db_send(s->db, st->sql, 0, NULL, step_done, s);
        if (rc == 0)
            s->sending = true;
        return;
    }
    if (s->unsent.active) {
        Unsent *u = &s->unsent;
        const char *p[3] = {u->after, u->upto, u->limit};
        const char *sql =
            u->kind == OUT_ALERT
                ? "SELECT seq, alert_id, status, payload::text FROM alerts WHERE sent_at IS NULL "
                  "AND seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
                : "SELECT seq, source_topic, source_partition, source_offset, key, payload FROM dead_letters "
                  "WHERE sent_at IS NULL AND seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
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
    s->staged = true;
    kick(s);
}

static void step_done(void *arg, bool ok, PGresult *res, const char *err)
{
    (void)res;
    Store *s = arg;
    Commit *c = &s->commit;
    s->sending = false;
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
    StoreDone done = c->done;
    void *darg = c->arg;
    commit_clear(c);
    done(darg);
    kick(s);
}

void store_commit(Store *s, const StoreBatch *b, StoreDone done, void *arg)
{
    Commit *c = &s->commit;
    commit_clear(c);
    const Effects *e = b->eff;
    Buf t = {0}, ev = {0}, held = {0}, rel = {0}, scans = {0}, alerts = {0}, dead = {0}, sa = {0}, sd = {0}, offs = {0};
    for (size_t i = 0; i < e->n_tickets; i++)
        encode_ticket(&t, e->tickets[i]);
    for (size_t i = 0; i < e->n_events; i++)
        encode_event(&ev, &e->events[i], b->utc_offset_min);
    for (size_t i = 0; i < e->n_held; i++)
        encode_held(&held, &e->held[i]);
    for (size_t i = 0; i < e->n_released; i++)
        buf_text(&rel, e->released[i]), EOL(&rel);
    for (size_t i = 0; i < e->n_scans; i++)
        encode_scan(&scans, &e->scans[i]);
    encode_out(&alerts, &dead, b->out);
    encode_marks(&sa, &sd, b->marks);
    for (size_t i = 0; i < b->n_offsets; i++) {
        buf_text(&offs, b->offsets[i].topic), TAB(&offs);
        buf_int(&offs, b->offsets[i].partition), TAB(&offs);
        buf_int(&offs, b->offsets[i].next), EOL(&offs);
    }
    add_sql(c, "BEGIN");
    add_copy(c, "s_tickets", &t);
    add_copy(c, "s_events", &ev);
    add_copy(c, "s_held", &held);
    add_copy(c, "s_released", &rel);
    add_copy(c, "s_scans", &scans);
    add_copy(c, "s_alerts", &alerts);
    add_copy(c, "s_dead", &dead);
    add_copy(c, "s_sent_alerts", &sa);
    add_copy(c, "s_sent_dead", &sd);
    add_copy(c, "s_offsets", &offs);
    /* The last two statements go together: one round trip. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT complaintd_apply_staged(%s, %" PRId64 "); COMMIT", s->group_literal,
             b->event_clock);
    add_sql(c, sql);
    c->active = true;
    c->effects = eff_size(e);
    c->done = done;
    c->arg = arg;
    log_debug("committing batch: %zu events, %zu tickets, %zu alerts, %zu dead letters, %zu scans, %zu held; %zu "
              "effects; %zu sent marks",
              e->n_events, e->n_tickets, e->alerts.n, e->n_dead, e->n_scans, e->n_held, eff_size(e), b->marks->n);
    kick(s);
}

bool store_committing(const Store *s)
{
    return s->commit.active;
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
        if (u->kind == OUT_ALERT)
            out_list_push(&msgs, out_alert_row(PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3)));
        else
            out_list_push(&msgs,
                          out_dead_row(PQgetvalue(res, i, 1), (int32_t)atoi(PQgetvalue(res, i, 2)),
                                       strtoll(PQgetvalue(res, i, 3), NULL, 10),
                                       PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4), PQgetvalue(res, i, 5)));
    }
    u->active = false;
    u->cb(u->arg, &msgs, last);
    out_list_free(&msgs); /* what the callback did not take */
    kick(s);
}

void store_unsent(Store *s, OutKind kind, int64_t after, int64_t upto, size_t limit, StoreUnsent cb, void *arg)
{
    Unsent *u = &s->unsent;
    u->active = true;
    u->kind = kind;
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

static int64_t json_time(const json_t *o, const char *k)
{
    int64_t t = 0;
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || tu_parse_rfc3339(json_string_value(v), &t) < 0)
        return 0;
    return t;
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
                   "SELECT payload->>'category', payload->>'site', max(payload->>'window_start') FROM alerts "
                   "WHERE type = 'bulk_complaint' AND status = 'resolved' GROUP BY 1, 2",
                   0, NULL, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int ci = evt_category_from_name(PQgetvalue(r, i, 0));
        int64_t ws;
        if (ci >= 0 && tu_parse_rfc3339(PQgetvalue(r, i, 2), &ws) == 0)
            oom_rc(desk_load_bulk(d, (Category)ci, PQgetvalue(r, i, 1), ws, 0, NULL, 0, true, base));
    }
    PQclear(r);
    return 0;
}

/* Each parcel's latest scan, ties broken by the responsibility table's row order. */
static int load_parcels(PGconn *c, Desk *d, char *err, size_t errlen)
{
    const char *p2[1] = {"parcel_stalled"};
    PGresult *st = load_query(c, OPEN_ALERTS, 1, p2, err, errlen);
    if (!st)
        return -1;
    StrMap *stalled = oom_check(sm_new());
    for (int i = 0; i < PQntuples(st); i++)
        oom_rc(sm_put(stalled, PQgetvalue(st, i, 0), (void *)1));
    PQclear(st);
    PGresult *r =
        load_query(c,
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
        int type = evt_scan_type_from_name(PQgetvalue(r, i, 2));
        int role = evt_role_from_name(PQgetvalue(r, i, 4));
        if (type < 0 || role < 0)
            continue;
        sc.scan_type = (ScanType)type;
        snprintf(sc.site, sizeof sc.site, "%s", PQgetvalue(r, i, 3));
        sc.site_role = (SiteRole)role;
        snprintf(sc.next_site, sizeof sc.next_site, "%s", PQgetvalue(r, i, 5));
        sc.next_site_role = (SiteRole)evt_role_from_name(PQgetvalue(r, i, 6));
        sc.occurred_at = strtoll(PQgetvalue(r, i, 7), NULL, 10);
        char id[ALERT_ID_MAX + 1];
        snprintf(id, sizeof id, "parcel_stalled/%s/%" PRId64, sc.waybill, sc.occurred_at);
        oom_rc(desk_load_parcel(d, &sc, sm_has(stalled, id)));
    }
    PQclear(r);
    sm_free(stalled);
    return 0;
}

int store_load(Store *s, Desk *d, int64_t base, StoreLoaded *out, char *err, size_t errlen)
{
    PGconn *c = s->boot;
    memset(out, 0, sizeof *out);
    PGresult *r = load_query(c, "SELECT value::text FROM daemon_state WHERE key = 'event_clock'", 0, NULL, err, errlen);
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

    /* Open tickets, and closed ones young enough for the repeat look-back. */
    char cutoff[32];
    snprintf(cutoff, sizeof cutoff, "%" PRId64, base - desk_policy(d)->repeat_lookback);
    const char *cp[1] = {cutoff};
    static const char *const keep =
        "status <> 'closed' OR COALESCE(last_resolved_at, closed_at) >= to_timestamp($1::bigint)";
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT state::text FROM tickets WHERE %s", keep);
    r = load_query(c, sql, 1, cp, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *j = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        char terr[128];
        Ticket *t = j ? tkt_from_json(j, terr, sizeof terr) : NULL;
        json_decref(j);
        if (!t) {
            snprintf(err, errlen, "loading state: a ticket's state is unreadable (row %d)", i);
            PQclear(r);
            return -1;
        }
        oom_rc(desk_load_ticket(d, t, base));
    }
    size_t n_tickets = (size_t)PQntuples(r);
    PQclear(r);
    if (load_bulk(c, d, base, err, errlen) < 0 || load_parcels(c, d, err, errlen) < 0)
        return -1;

    snprintf(sql, sizeof sql, "SELECT e.event_id FROM ticket_events e JOIN tickets USING (ticket_id) WHERE %s", keep);
    r = load_query(c, sql, 1, cp, err, errlen);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        oom_rc(desk_load_event_id(d, PQgetvalue(r, i, 0)));
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
        DeskSource src = {.topic = PQgetvalue(r, i, 2),
                          .partition = (int32_t)atoi(PQgetvalue(r, i, 3)),
                          .offset = strtoll(PQgetvalue(r, i, 4), NULL, 10),
                          .key = ev.ticket_id,
                          .payload = p,
                          .len = len};
        oom_rc(desk_load_held(d, &ev, &src, strtoll(PQgetvalue(r, i, 1), NULL, 10)));
    }
    int n_held = PQntuples(r);
    PQclear(r);

    r = load_query(
        c, "SELECT (SELECT COALESCE(max(seq), 0) FROM alerts), (SELECT COALESCE(max(seq), 0) FROM dead_letters)", 0,
        NULL, err, errlen);
    if (!r)
        return -1;
    out->alerts_upto = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->dead_upto = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);

    DeskStats ds;
    desk_stats(d, &ds);
    log_info("loaded %zu tickets, %zu event ids, %d held events, %zu parcels, %zu bulk keys, event clock %" PRId64,
             n_tickets, ds.event_ids, n_held, ds.parcels, ds.bulk_keys, out->event_clock);

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
