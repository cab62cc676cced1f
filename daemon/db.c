/* db: asynchronous libpq on libev; see db.h. */
#include "db.h"

#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"

/* BUSY: a statement is out and its results are coming; COPYING: the server
 * asked for COPY data and we are still sending it. */
typedef enum { DB_DOWN, DB_CONNECTING, DB_IDLE, DB_BUSY, DB_COPYING } DbState;

struct Db {
    struct ev_loop *loop;
    char *conninfo;
    PGconn *conn;
    DbState state;
    ev_io io;
    ev_timer retry;
    DbReady ready;
    void *ready_arg;
    DbDone cb;
    void *cb_arg;
    PGresult *result;
    const char *copy_data; /* COPY data of the statement in flight, the caller's */
    size_t copy_len, copy_pos;
    bool copy_ended;
};

/* Bytes per PQputCopyData call. */
#define COPY_CHUNK 65536

/* The connection parameters: the operator's conninfo, over our defaults
 * (application_name names the daemon in pg_stat_activity). */
static const char *const conn_keys[] = {"application_name", "dbname", NULL};

/* Errors of statements carry their primary message only: the DETAIL and
 * CONTEXT of an error may quote row data (a failing row, a line of COPY
 * data), and they would end up in the daemon's log. PostgreSQL's own log
 * keeps them. */
static void terse_errors(PGconn *c)
{
    PQsetErrorVerbosity(c, PQERRORS_TERSE);
    PQsetErrorContextVisibility(c, PQSHOW_CONTEXT_NEVER);
}

PGconn *db_connect_blocking(const char *conninfo, char *err, size_t errlen)
{
    const char *const values[] = {"complaintd", conninfo, NULL};
    PGconn *c = PQconnectdbParams(conn_keys, values, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        /* libpq may quote the connection string, password and all. */
        cfg_redact_conninfo(conninfo, c ? PQerrorMessage(c) : "out of memory", err, errlen);
        size_t n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        PQfinish(c);
        return NULL;
    }
    terse_errors(c);
    return c;
}

static void watch(Db *db, int events)
{
    ev_io_stop(db->loop, &db->io);
    int fd = PQsocket(db->conn);
    if (fd < 0)
        return;
    ev_io_set(&db->io, fd, events);
    ev_io_start(db->loop, &db->io);
}

static void go_down(Db *db, const char *why)
{
    ev_io_stop(db->loop, &db->io);
    if (db->conn)
        log_warn("postgres: %s; reconnecting", why);
    PQfinish(db->conn);
    db->conn = NULL;
    db->state = DB_DOWN;
    db->copy_data = NULL;
    if (db->result) {
        PQclear(db->result);
        db->result = NULL;
    }
    DbDone cb = db->cb;
    db->cb = NULL;
    if (cb)
        cb(db->cb_arg, false, NULL, why);
    ev_timer_set(&db->retry, 1.0, 0.0);
    ev_timer_start(db->loop, &db->retry);
}

static void connect_poll(Db *db)
{
    switch (PQconnectPoll(db->conn)) {
    case PGRES_POLLING_READING:
        watch(db, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        watch(db, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(db->conn, 1) != 0) {
            go_down(db, "cannot make the connection non-blocking");
            break;
        }
        terse_errors(db->conn);
        db->state = DB_IDLE;
        watch(db, EV_READ);
        log_info("postgres: connected");
        if (db->ready)
            db->ready(db->ready_arg);
        break;
    default:
        go_down(db, "connection failed");
        break;
    }
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Db *db = w->data;
    const char *const values[] = {"complaintd", db->conninfo, NULL};
    db->conn = PQconnectStartParams(conn_keys, values, 1);
    if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
        PQfinish(db->conn);
        db->conn = NULL;
        ev_timer_set(&db->retry, 2.0, 0.0);
        ev_timer_start(db->loop, &db->retry);
        return;
    }
    db->state = DB_CONNECTING;
    connect_poll(db);
}

static void finish_query(Db *db)
{
    PGresult *res = db->result;
    db->result = NULL;
    DbDone cb = db->cb;
    void *arg = db->cb_arg;
    db->cb = NULL;
    db->copy_data = NULL;
    db->state = DB_IDLE;
    watch(db, EV_READ);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (cb)
        cb(arg, ok, res, ok ? NULL : (res ? PQresultErrorMessage(res) : "no result"));
    PQclear(res);
}

/* Sends COPY data while the socket takes it, then the end of the copy. */
static void copy_pump(Db *db)
{
    while (db->copy_pos < db->copy_len) {
        size_t n = db->copy_len - db->copy_pos;
        if (n > COPY_CHUNK)
            n = COPY_CHUNK;
        int r = PQputCopyData(db->conn, db->copy_data + db->copy_pos, (int)n);
        if (r < 0) {
            go_down(db, "copy failed");
            return;
        }
        if (r == 0) {
            watch(db, EV_READ | EV_WRITE);
            return;
        }
        db->copy_pos += n;
    }
    if (!db->copy_ended) {
        int r = PQputCopyEnd(db->conn, NULL);
        if (r < 0) {
            go_down(db, "copy failed");
            return;
        }
        if (r == 0) {
            watch(db, EV_READ | EV_WRITE);
            return;
        }
        db->copy_ended = true;
    }
    db->state = DB_BUSY;
    int r = PQflush(db->conn);
    if (r < 0) {
        go_down(db, "send failed");
        return;
    }
    watch(db, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    Db *db = w->data;
    if (db->state == DB_CONNECTING) {
        connect_poll(db);
        return;
    }
    if (db->state == DB_COPYING) {
        if (revents & EV_READ && !PQconsumeInput(db->conn)) {
            go_down(db, "connection lost");
            return;
        }
        copy_pump(db);
        if (db->state != DB_BUSY)
            return;
    } else if (revents & EV_WRITE) {
        int r = PQflush(db->conn);
        if (r < 0) {
            go_down(db, "send failed");
            return;
        }
        if (r == 0)
            watch(db, EV_READ);
    }
    if (!(revents & EV_READ) && db->state != DB_BUSY)
        return;
    if (!PQconsumeInput(db->conn)) {
        go_down(db, "connection lost");
        return;
    }
    if (db->state != DB_BUSY) {
        /* Notices or a server-side close while idle. */
        if (PQstatus(db->conn) == CONNECTION_BAD)
            go_down(db, "connection lost");
        return;
    }
    while (!PQisBusy(db->conn)) {
        PGresult *r = PQgetResult(db->conn);
        if (!r) {
            finish_query(db);
            return;
        }
        if (PQresultStatus(r) == PGRES_COPY_IN) {
            PQclear(r);
            if (!db->copy_data) {
                /* a COPY sent with db_send: end it with an error */
                PQputCopyEnd(db->conn, "no data");
                continue;
            }
            db->state = DB_COPYING;
            copy_pump(db);
            return;
        }
        if (db->result)
            PQclear(db->result);
        db->result = r;
    }
}

Db *db_new(struct ev_loop *loop, const char *conninfo, PGconn *conn, DbReady ready, void *arg)
{
    Db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->loop = loop;
    db->conninfo = strdup(conninfo);
    db->conn = conn;
    db->ready = ready;
    db->ready_arg = arg;
    ev_init(&db->io, io_cb);
    /* The server waits for the daemon between the statements of a batch:
     * its replies come before any other work that is ready at once. */
    ev_set_priority(&db->io, EV_MAXPRI);
    db->io.data = db;
    ev_init(&db->retry, retry_cb);
    db->retry.data = db;
    if (!db->conninfo) {
        free(db);
        return NULL;
    }
    db->state = DB_IDLE;
    if (PQsetnonblocking(conn, 1) != 0) {
        go_down(db, "cannot make the connection non-blocking");
        return db;
    }
    watch(db, EV_READ);
    return db;
}

void db_free(Db *db)
{
    if (!db)
        return;
    ev_io_stop(db->loop, &db->io);
    ev_timer_stop(db->loop, &db->retry);
    if (db->result)
        PQclear(db->result);
    PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

bool db_ready(const Db *db)
{
    return db->state == DB_IDLE;
}

bool db_connected(const Db *db)
{
    return db->state == DB_IDLE || db->state == DB_BUSY || db->state == DB_COPYING;
}

PGconn *db_conn(Db *db)
{
    return db->conn;
}

static int sent(Db *db, DbDone cb, void *arg)
{
    db->state = DB_BUSY;
    db->cb = cb;
    db->cb_arg = arg;
    int r = PQflush(db->conn);
    if (r < 0) {
        db->cb = NULL;
        go_down(db, "send failed");
        return -1;
    }
    watch(db, r == 1 ? EV_READ | EV_WRITE : EV_READ);
    return 0;
}

int db_send(Db *db, const char *sql, int nparams, const char *const *params, DbDone cb, void *arg)
{
    if (db->state != DB_IDLE)
        return -1;
    db->copy_data = NULL;
    /* Without parameters the simple protocol: several statements may go at once. */
    int ok = nparams == 0 ? PQsendQuery(db->conn, sql)
                          : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!ok) {
        go_down(db, "send failed");
        return -1;
    }
    return sent(db, cb, arg);
}

int db_send_copy(Db *db, const char *sql, const char *data, size_t len, DbDone cb, void *arg)
{
    if (db->state != DB_IDLE)
        return -1;
    if (!PQsendQuery(db->conn, sql)) {
        go_down(db, "send failed");
        return -1;
    }
    db->copy_data = data ? data : "";
    db->copy_len = data ? len : 0;
    db->copy_pos = 0;
    db->copy_ended = false;
    return sent(db, cb, arg);
}

void db_wait(Db *db)
{
    while (db->state == DB_BUSY || db->state == DB_COPYING || db->state == DB_CONNECTING)
        ev_run(db->loop, EVRUN_ONCE);
}
