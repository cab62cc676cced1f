/* db: one asynchronous PostgreSQL connection joined to the libev loop.
 *
 * One statement at a time; the caller queues. Connecting and reconnecting use
 * PQconnectStart/PQconnectPoll, queries PQsendQueryParams and PQflush, and the
 * loop only ever waits on PQsocket. */
#ifndef COMPLAINTD_DB_H
#define COMPLAINTD_DB_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Db Db;

/* res is the last result (an error result when !ok; NULL when the connection
 * went down); it is freed after the callback returns. */
typedef void (*DbDone)(void *arg, bool ok, PGresult *res, const char *err);
/* Called each time the connection becomes usable (after a reconnect too). */
typedef void (*DbReady)(void *arg);

/* Blocking connect, for start-up and the command-line tools only. */
PGconn *db_connect_blocking(const char *conninfo, char *err, size_t errlen);

/* Takes ownership of conn (connected, idle). */
Db *db_new(struct ev_loop *loop, const char *conninfo, PGconn *conn, DbReady ready, void *arg);
void db_free(Db *db);

/* Whether a statement can be sent now (connected and nothing in flight). */
bool db_ready(const Db *db);
/* Sends one statement with text parameters (without any: one or more
 * statements, separated by semicolons; cb sees the last result). -1 when
 * not ready or the send failed at once (a reconnect is then under way; cb
 * is not called). */
int db_send(Db *db, const char *sql, int nparams, const char *const *params, DbDone cb, void *arg);

/* Sends `sql`, a COPY ... FROM STDIN, then `len` bytes of data (the caller
 * keeps `data` alive until cb runs) and the end of the copy. Same contract
 * as db_send. */
int db_send_copy(Db *db, const char *sql, const char *data, size_t len, DbDone cb, void *arg);
/* Whether the connection is up (idle or busy). */
bool db_connected(const Db *db);

/* Blocking: waits for the statement in flight (shutdown only). */
void db_wait(Db *db);
PGconn *db_conn(Db *db);

#endif
