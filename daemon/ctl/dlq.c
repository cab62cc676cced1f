/* dlq: `complaintctl dlq list` and `complaintctl dlq replay`.
 *
 * A replay puts a dead letter's original message (lib/replay rebuilds its
 * bytes from the dlq.v1 record) back on its source topic, with its key,
 * once a fix upstream makes it worth another try. Each replay is a row of
 * dlq_replays (migration 005), keyed by the dead letter's source topic,
 * partition and offset, and the row is what makes it happen once:
 *
 *   BEGIN; INSERT the row (a row already there: refused; a replay of the
 *   same letter running right now: we wait for it, then are refused);
 *   produce; flush until the broker acknowledged it; UPDATE the row with
 *   where the copy landed (or DELETE it when the delivery failed); COMMIT.
 *
 * The window: a copy acknowledged by the broker whose COMMIT does not
 * happen (complaintctl killed, the connection lost) is on the topic without
 * its row, so a later replay would put a second copy there. We take that
 * over the other order (commit, then produce), where a crash in between
 * leaves a row saying "replayed" for a message that never left: a lost
 * replay cannot be noticed, a second copy does no harm. The daemon applies
 * an event once per ticket whatever its copies (event ids), a copy that is
 * still bad is dead-lettered again, and a second scan is a duplicate too.
 * A COMMIT that fails after the deliveries is retried on a new connection,
 * recording the copies that landed; only when that fails too does
 * complaintctl say which copies are on the topic unrecorded. */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "dlq.h"
#include "kc.h"
#include "oom.h"
#include "out.h"
#include "replay.h"
#include "timeutil.h"

static const char list_usage[] = "Usage: " CTL_NAME " dlq list [--reason REASON] [--limit N] [-c FILE] [--json]\n"
                                 "\n"
                                 "Lists dead letters, oldest first (the last N): where the message came from\n"
                                 "(TOPIC:PARTITION:OFFSET, what 'dlq replay --offset' takes), why it was\n"
                                 "dead-lettered, its key, whether its payload was cut at 64 KiB (such a\n"
                                 "message cannot be replayed) and whether and where it was replayed.\n"
                                 "\n"
                                 "  --reason REASON   malformed_json, unknown_schema, missing_field, invalid_field,\n"
                                 "                    too_large, invalid_transition or unknown_ticket\n"
                                 "  --limit N         at most the last N (default 100; 0: all)\n"
                                 "  --json            a JSON array; each message as the dead letter holds it\n"
                                 "\n"
                                 "Exit status: 0 listed, 1 error, 2 bad usage.\n";

static const char replay_usage[] = "Usage: " CTL_NAME " dlq replay --offset TOPIC:PARTITION:OFFSET [--offset ...]\n"
                                   "       " CTL_NAME " dlq replay --reason REASON [--limit N]\n"
                                   "                      [--dry-run] [-c FILE] [--json]\n"
                                   "\n"
                                   "Produces dead-lettered messages again, byte for byte, to their source topic\n"
                                   "and partition with their original key, after the cause was fixed upstream\n"
                                   "(the missing 'received' arrived, a producer bug was fixed, a limit raised).\n"
                                   "Each dead letter is replayed at most once: the replay is recorded in\n"
                                   "dlq_replays in the same transaction that checks for an earlier one, and\n"
                                   "committed once the broker has acknowledged the copy.\n"
                                   "\n"
                                   "  --offset T:P:O   the dead letter of that source message (see dlq list)\n"
                                   "  --reason REASON  every dead letter of that reason not replayed yet\n"
                                   "  --limit N        with --reason: at most the first N\n"
                                   "  --dry-run        say what would be replayed; change nothing\n"
                                   "\n"
                                   "Refused, with a message: a dead letter replayed before, one whose payload was\n"
                                   "cut at 64 KiB (payload_truncated), one whose topic the broker does not have.\n"
                                   "Exit status: 0 every selected dead letter replayed, 1 one was refused or\n"
                                   "failed (or an error), 2 bad usage.\n";

enum { OPT_REASON = 0x200, OPT_LIMIT, OPT_OFFSET, OPT_DRY_RUN };

static const char *const reasons[] = {"malformed_json", "unknown_schema",     "missing_field", "invalid_field",
                                      "too_large",      "invalid_transition", "unknown_ticket"};

static bool known_reason(const char *r)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(r, reasons[i]) == 0)
            return true;
    return false;
}

static int parse_limit(const char *cmd, const char *s, long long *out)
{
    char *end;
    *out = strtoll(s, &end, 10);
    if (!*s || *end || *out < 0)
        return ctl_usage(cmd, "--limit '%s': not a count", s);
    return CTL_OK;
}

/* ---- list --------------------------------------------------------------- */

static int list(Ctl *c, const char *reason, long long limit)
{
    if (!ctl_config(c) || !ctl_pg(c))
        return CTL_ERROR;
    int has = ctl_has_table(c, "dlq_replays");
    if (has <= 0)
        return has < 0 ? CTL_ERROR : ctl_schema_behind(c, "dlq_replays");
    int off = ctl_utc_offset(c);
    char lim[32];
    snprintf(lim, sizeof lim, "%lld", limit > 0 ? limit + 1 : -1);
    const char *params[2] = {reason, lim};
    PGresult *r =
        ctl_query(c, "reading the dead letters",
                  "SELECT d.seq, d.source_topic, d.source_partition, d.source_offset, d.reason, d.detail, d.key, "
                  "extract(epoch FROM d.created_at)::bigint, "
                  "COALESCE((d.payload::json ->> 'payload_truncated') = 'true', false), d.payload::json ->> 'payload', "
                  "extract(epoch FROM x.replayed_at)::bigint, x.replayed_by, x.target_topic, x.target_partition, "
                  "x.target_offset "
                  "FROM dead_letters d LEFT JOIN dlq_replays x USING (source_topic, source_partition, source_offset) "
                  "WHERE ($1::text IS NULL OR d.reason = $1) ORDER BY d.seq DESC "
                  "LIMIT CASE WHEN $2::bigint < 0 THEN NULL ELSE $2::bigint END",
                  2, params);
    if (!r)
        return CTL_ERROR;
    int rows = PQntuples(r);
    bool cut = limit > 0 && rows > limit;
    if (cut)
        rows = (int)limit;
    if (c->json) {
        json_t *arr = json_array();
        for (int i = rows - 1; i >= 0; i--) {
            const char *key = ctl_val(r, i, 6), *msg = ctl_val(r, i, 9);
            json_t *rep = json_null();
            if (!PQgetisnull(r, i, 10))
                rep = json_pack("{s:o,s:s,s:s,s:o,s:o}", "at", out_jtime(ctl_int(r, i, 10, 0), off), "by",
                                PQgetvalue(r, i, 11), "topic", PQgetvalue(r, i, 12), "partition",
                                PQgetisnull(r, i, 13) ? json_null() : json_integer(ctl_int(r, i, 13, 0)), "offset",
                                PQgetisnull(r, i, 14) ? json_null() : json_integer(ctl_int(r, i, 14, 0)));
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:I,s:I,s:s,s:s,s:o,s:o,s:b,s:o,s:o}", "seq", (json_int_t)ctl_int(r, i, 0, 0),
                               "source_topic", PQgetvalue(r, i, 1), "partition", (json_int_t)ctl_int(r, i, 2, 0),
                               "offset", (json_int_t)ctl_int(r, i, 3, 0), "reason", PQgetvalue(r, i, 4), "detail",
                               PQgetvalue(r, i, 5), "key", key ? out_jstr(key, strlen(key)) : json_null(), "created_at",
                               out_jtime(ctl_int(r, i, 7, 0), off), "payload_truncated",
                               strcmp(PQgetvalue(r, i, 8), "t") == 0, "payload", msg ? json_string(msg) : json_null(),
                               "replayed", rep));
        }
        out_json(arr);
    } else {
        Table *tb = tbl_new(8, (const char *const[]){"SEQ", "SOURCE", "REASON", "DETAIL", "KEY", "DEAD-LETTERED",
                                                     "REPLAYED", "MESSAGE"});
        tbl_align_right(tb, 0);
        for (int i = rows - 1; i >= 0; i--) {
            char w[OUT_TIME_LEN], w2[OUT_TIME_LEN], prev[160];
            const char *msg = ctl_val(r, i, 9), *key = ctl_val(r, i, 6);
            out_preview(msg ? msg : "", msg ? strlen(msg) : 0, 48, prev, sizeof prev);
            tbl_row(tb);
            tbl_cell(tb, PQgetvalue(r, i, 0));
            tbl_cellf(tb, "%s:%s:%s", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
            tbl_cell(tb, PQgetvalue(r, i, 4));
            tbl_cell(tb, PQgetvalue(r, i, 5));
            if (key) {
                char kp[96];
                out_preview(key, strlen(key), 24, kp, sizeof kp);
                tbl_cell(tb, kp);
            } else {
                tbl_cell(tb, "-");
            }
            tbl_cell(tb, out_time(ctl_int(r, i, 7, 0), off, w));
            if (!PQgetisnull(r, i, 10))
                tbl_cellf(tb, "%s → %s:%s:%s", out_time(ctl_int(r, i, 10, 0), off, w2), PQgetvalue(r, i, 12),
                          PQgetvalue(r, i, 13), PQgetvalue(r, i, 14));
            else
                tbl_cell(tb, "-");
            tbl_cellf(tb, "%s%s", strcmp(PQgetvalue(r, i, 8), "t") == 0 ? "[cut at 64 KiB] " : "", prev);
        }
        if (rows)
            tbl_print(tb, stdout);
        printf("%d dead letter%s\n", rows, rows == 1 ? "" : "s");
        tbl_free(tb);
    }
    if (cut)
        ctl_warn("only the last %lld are shown; --limit 0 shows all", limit);
    PQclear(r);
    return CTL_OK;
}

/* ---- replay ------------------------------------------------------------- */

typedef enum { L_PENDING, L_REFUSED, L_INSERTED, L_SENT, L_FAILED, L_UNKNOWN } LetterState;

typedef struct Letter {
    char topic[RPL_TOPIC_MAX + 1];
    int32_t part;
    int64_t off;
    char *reason, *key; /* key NULL: none */
    char *key_bytes;    /* the key decoded (dlq_key_bytes) */
    size_t key_len;
    RplMessage msg;
    LetterState state;
    char why[512];
    int32_t dst_part;
    int64_t dst_off;
} Letter;

typedef struct Replay {
    Ctl *c;
    Letter *v;
    size_t n, cap;
    bool dry_run;
    char by[160];
    rd_kafka_t *rk;
} Replay;

static Letter *add_letter(Replay *rp)
{
    if (rp->n == rp->cap) {
        rp->cap = rp->cap ? rp->cap * 2 : 16;
        rp->v = oom_check(realloc(rp->v, rp->cap * sizeof *rp->v));
    }
    Letter *l = &rp->v[rp->n++];
    memset(l, 0, sizeof *l);
    return l;
}

__attribute__((format(printf, 3, 4))) static void set_why(Letter *l, LetterState st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->why, sizeof l->why, fmt, ap);
    va_end(ap);
    l->state = st;
}

#define SELECT_LETTERS                                                                                                 \
    "SELECT d.source_topic, d.source_partition, d.source_offset, d.reason, d.key, d.payload, "                         \
    "extract(epoch FROM x.replayed_at)::bigint, x.replayed_by, x.target_topic, x.target_partition, x.target_offset "   \
    "FROM dead_letters d LEFT JOIN dlq_replays x USING (source_topic, source_partition, source_offset) "

/* Takes the rows of SELECT_LETTERS as letters to replay. */
static void take_rows(Replay *rp, PGresult *r)
{
    int off = ctl_utc_offset(rp->c);
    for (int i = 0; i < PQntuples(r); i++) {
        Letter *l = add_letter(rp);
        snprintf(l->topic, sizeof l->topic, "%s", PQgetvalue(r, i, 0));
        l->part = (int32_t)ctl_int(r, i, 1, 0);
        l->off = ctl_int(r, i, 2, 0);
        l->reason = oom_check(strdup(PQgetvalue(r, i, 3)));
        l->key = PQgetisnull(r, i, 4) ? NULL : oom_check(strdup(PQgetvalue(r, i, 4)));
        /* the bytes the producer sent; l->key stays the text shown */
        l->key_bytes = l->key ? oom_check(strdup(l->key)) : NULL;
        l->key_len = l->key_bytes ? dlq_key_bytes(l->key_bytes) : 0;
        if (!PQgetisnull(r, i, 6)) {
            char w[OUT_TIME_LEN];
            set_why(l, L_REFUSED, "already replayed %s by %s (the copy is at %s:%s:%s): a dead letter is replayed once",
                    out_time(ctl_int(r, i, 6, 0), off, w), PQgetvalue(r, i, 7), PQgetvalue(r, i, 8),
                    PQgetisnull(r, i, 9) ? "?" : PQgetvalue(r, i, 9),
                    PQgetisnull(r, i, 10) ? "?" : PQgetvalue(r, i, 10));
            continue;
        }
        char err[256];
        const char *rec = PQgetvalue(r, i, 5);
        RplStatus st = rpl_decode(rec, (size_t)PQgetlength(r, i, 5), &l->msg, err, sizeof err);
        if (st == RPL_NOMEM)
            oom_die();
        if (st != RPL_OK)
            set_why(l, L_REFUSED, "cannot be replayed: %s", err);
    }
}

static int select_letters(Replay *rp, const char *const *coords, int ncoords, const char *reason, long long limit)
{
    char err[256];
    for (int i = 0; i < ncoords; i++) {
        char topic[RPL_TOPIC_MAX + 1], p[16], o[24];
        int32_t part;
        int64_t off;
        if (rpl_parse_coord(coords[i], topic, &part, &off, err, sizeof err) < 0)
            return ctl_error("--offset %s", err); /* checked before */
        snprintf(p, sizeof p, "%d", (int)part);
        snprintf(o, sizeof o, "%lld", (long long)off);
        const char *params[3] = {topic, p, o};
        PGresult *r = ctl_query(rp->c, "reading the dead letter",
                                SELECT_LETTERS "WHERE d.source_topic = $1 AND d.source_partition = $2 "
                                               "AND d.source_offset = $3",
                                3, params);
        if (!r)
            return CTL_ERROR;
        if (PQntuples(r) == 0) {
            Letter *l = add_letter(rp);
            snprintf(l->topic, sizeof l->topic, "%s", topic);
            l->part = part, l->off = off;
            l->reason = oom_check(strdup(""));
            set_why(l, L_REFUSED, "no dead letter of that message (see dlq list)");
        }
        take_rows(rp, r);
        PQclear(r);
    }
    if (reason) {
        char lim[32];
        snprintf(lim, sizeof lim, "%lld", limit > 0 ? limit : -1);
        const char *params[2] = {reason, lim};
        PGresult *r = ctl_query(rp->c, "reading the dead letters",
                                SELECT_LETTERS "WHERE d.reason = $1 AND x.source_topic IS NULL ORDER BY d.seq "
                                               "LIMIT CASE WHEN $2::bigint < 0 THEN NULL ELSE $2::bigint END",
                                2, params);
        if (!r)
            return CTL_ERROR;
        take_rows(rp, r);
        PQclear(r);
    }
    return CTL_OK;
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    Letter *l = m->_private;
    if (!l)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        l->state = L_SENT;
        l->dst_part = m->partition;
        l->dst_off = m->offset;
    } else if (m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT || m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
        set_why(l, L_UNKNOWN, "the broker did not confirm the copy in time (%s): it may or may not be on the topic",
                rd_kafka_err2str(m->err));
    } else {
        set_why(l, L_FAILED, "delivery failed: %s", rd_kafka_err2str(m->err));
    }
}

static bool exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

static bool row_cmd(PGconn *pg, const char *sql, int n, const char *const *params, int *rows, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok && rows)
        *rows = atoi(PQcmdTuples(r));
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

#define INSERT_REPLAY                                                                                                  \
    "INSERT INTO dlq_replays (source_topic, source_partition, source_offset, reason, replayed_by, target_topic, "      \
    "target_partition, target_offset) VALUES ($1, $2, $3, $4, $5, $1, $6, $7) ON CONFLICT DO NOTHING"

/* Records the copies that landed, after a COMMIT that failed: a new
 * connection, one statement each (autocommit). */
static void record_after_the_fact(Replay *rp, Letter *v, size_t n)
{
    PGconn *pg = rp->c->pg;
    PQreset(pg);
    char err[512] = "";
    bool ok = PQstatus(pg) == CONNECTION_OK;
    if (!ok)
        snprintf(err, sizeof err, "%s", PQerrorMessage(pg));
    for (size_t i = 0; i < n; i++) {
        Letter *l = &v[i];
        if (l->state != L_SENT)
            continue;
        char p[16], o[24], dp[16], dof[24];
        snprintf(p, sizeof p, "%d", (int)l->part);
        snprintf(o, sizeof o, "%lld", (long long)l->off);
        snprintf(dp, sizeof dp, "%d", (int)l->dst_part);
        snprintf(dof, sizeof dof, "%lld", (long long)l->dst_off);
        const char *params[7] = {l->topic, p, o, l->reason, rp->by, dp, dof};
        if (ok && row_cmd(pg, INSERT_REPLAY, 7, params, NULL, err, sizeof err))
            continue;
        ok = false;
        set_why(l, L_FAILED,
                "the copy is on the topic at %s:%d:%lld but its replay could not be recorded (%s): do not replay it "
                "again",
                l->topic, (int)l->dst_part, (long long)l->dst_off, err);
    }
    if (ok)
        ctl_warn("the transaction recording the replays failed after the broker acknowledged them; they were "
                 "recorded again on a new connection");
}

/* One transaction: insert the rows, produce, flush, update or delete the
 * rows, commit. -1 when the database failed before anything was produced
 * (the run stops). */
static int replay_chunk(Replay *rp, Letter *v, size_t n, const int *partitions)
{
    PGconn *pg = rp->c->pg;
    char err[512];
    if (!exec_ok(pg, "BEGIN", err, sizeof err)) {
        ctl_error("starting the transaction: %s", err);
        return -1;
    }
    size_t inserted = 0;
    for (size_t i = 0; i < n; i++) {
        Letter *l = &v[i];
        if (l->state != L_PENDING)
            continue;
        char p[16], o[24];
        snprintf(p, sizeof p, "%d", (int)l->part);
        snprintf(o, sizeof o, "%lld", (long long)l->off);
        const char *params[7] = {l->topic, p, o, l->reason, rp->by, NULL, NULL};
        int rows = 0;
        if (!row_cmd(pg, INSERT_REPLAY, 7, params, &rows, err, sizeof err)) {
            exec_ok(pg, "ROLLBACK", err + 256, 256);
            ctl_error("recording the replay of %s:%d:%lld: %s", l->topic, (int)l->part, (long long)l->off, err);
            return -1;
        }
        if (rows == 0) {
            /* another complaintctl replayed it since we looked (we waited for its commit) */
            set_why(l, L_REFUSED, "already replayed (by another run, just now): a dead letter is replayed once");
            continue;
        }
        l->state = L_INSERTED;
        inserted++;
    }
    /* produce */
    for (size_t i = 0; i < n; i++) {
        Letter *l = &v[i];
        if (l->state != L_INSERTED)
            continue;
        int32_t part = l->part < partitions[i] ? l->part : RD_KAFKA_PARTITION_UA;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rp->rk, RD_KAFKA_V_TOPIC(l->topic), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_KEY(l->key_bytes, l->key_len), RD_KAFKA_V_VALUE(l->msg.payload, l->msg.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(l), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rp->rk, 100);
                continue;
            }
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                set_why(l, L_FAILED, "cannot produce: %s", rd_kafka_err2str(e));
            break;
        }
        rd_kafka_poll(rp->rk, 0);
    }
    if (inserted) {
        rd_kafka_flush(rp->rk, 2 * KC_TIMEOUT_MS + 30000);
        if (rd_kafka_outq_len(rp->rk) > 0) {
            rd_kafka_purge(rp->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(rp->rk, 1000);
        }
    }
    /* where each copy landed, or no row */
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        Letter *l = &v[i];
        if (l->state == L_INSERTED)
            set_why(l, L_UNKNOWN, "no delivery report: the copy may or may not be on the topic");
        if (l->state != L_SENT && l->state != L_FAILED && l->state != L_UNKNOWN)
            continue;
        char p[16], o[24], dp[16], dof[24];
        snprintf(p, sizeof p, "%d", (int)l->part);
        snprintf(o, sizeof o, "%lld", (long long)l->off);
        snprintf(dp, sizeof dp, "%d", (int)l->dst_part);
        snprintf(dof, sizeof dof, "%lld", (long long)l->dst_off);
        const char *params[5] = {l->topic, p, o, dp, dof};
        bool ok = l->state == L_SENT
                      ? row_cmd(pg,
                                "UPDATE dlq_replays SET target_partition = $4, target_offset = $5 "
                                "WHERE source_topic = $1 AND source_partition = $2 AND source_offset = $3",
                                5, params, NULL, err, sizeof err)
                      : row_cmd(pg,
                                "DELETE FROM dlq_replays "
                                "WHERE source_topic = $1 AND source_partition = $2 AND source_offset = $3",
                                3, params, NULL, err, sizeof err);
        if (!ok)
            break; /* the transaction is lost: COMMIT below fails too */
        sent += l->state == L_SENT;
    }
    if (!exec_ok(pg, "COMMIT", err, sizeof err) || PQtransactionStatus(pg) != PQTRANS_IDLE) {
        ctl_warn("committing the replays failed: %s", err);
        if (sent)
            record_after_the_fact(rp, v, n);
        return 0;
    }
    return 0;
}

static const char *whoami(char *buf, size_t len)
{
    struct passwd *pw = getpwuid(geteuid());
    char host[128] = "";
    if (gethostname(host, sizeof host - 1) < 0)
        host[0] = '\0';
    if (pw)
        snprintf(buf, len, "%s@%s", pw->pw_name, host[0] ? host : "localhost");
    else
        snprintf(buf, len, "uid %d@%s", (int)geteuid(), host[0] ? host : "localhost");
    return buf;
}

static int replay(Ctl *c, const char *const *coords, int ncoords, const char *reason, long long limit, bool dry_run)
{
    const Config *cfg = ctl_config(c);
    if (!cfg || !ctl_pg(c))
        return CTL_ERROR;
    int has = ctl_has_table(c, "dlq_replays");
    if (has <= 0)
        return has < 0 ? CTL_ERROR : ctl_schema_behind(c, "dlq_replays");
    Replay rp = {.c = c, .dry_run = dry_run};
    whoami(rp.by, sizeof rp.by);
    int rc = select_letters(&rp, coords, ncoords, reason, limit);
    int *partitions = NULL;
    if (rc != CTL_OK)
        goto out;
    /* Kafka first: nothing is recorded unless the broker can take it */
    size_t pending = 0;
    for (size_t i = 0; i < rp.n; i++)
        pending += rp.v[i].state == L_PENDING;
    partitions = oom_check(calloc(rp.n + 1, sizeof *partitions));
    if (pending && !dry_run) {
        char err[512];
        rp.rk = kc_open(cfg, delivered, err, sizeof err);
        if (!rp.rk) {
            rc = ctl_error("%s", err);
            goto out;
        }
    }
    for (size_t i = 0; i < rp.n && rp.rk; i++) {
        Letter *l = &rp.v[i];
        if (l->state != L_PENDING)
            continue;
        int known = -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(rp.v[j].topic, l->topic) == 0 && partitions[j] > 0)
                known = partitions[j];
        if (known < 0) {
            char err[512];
            known = kc_partitions(rp.rk, l->topic, err, sizeof err);
            if (known < 0) {
                rc = ctl_error("%s; nothing was replayed", err);
                goto out;
            }
        }
        partitions[i] = known;
        if (known == 0)
            set_why(l, L_REFUSED, "the broker has no topic %s", l->topic);
    }
    if (!dry_run) {
        for (size_t i = 0; i < rp.n;) {
            size_t n = rp.n - i < 500 ? rp.n - i : 500;
            if (replay_chunk(&rp, rp.v + i, n, partitions + i) < 0) {
                rc = CTL_ERROR;
                goto out;
            }
            i += n;
        }
    }

    /* the outcome */
    json_t *done = json_array(), *refused = json_array();
    size_t nok = 0, nbad = 0;
    for (size_t i = 0; i < rp.n; i++) {
        Letter *l = &rp.v[i];
        char src[300];
        snprintf(src, sizeof src, "%s:%d:%lld", l->topic, (int)l->part, (long long)l->off);
        if (l->state == L_SENT || (dry_run && l->state == L_PENDING)) {
            nok++;
            char dst[300] = "";
            if (!dry_run)
                snprintf(dst, sizeof dst, "%s:%d:%lld", l->topic, (int)l->dst_part, (long long)l->dst_off);
            if (c->json) {
                json_t *o =
                    json_pack("{s:s,s:s,s:o,s:I}", "source", src, "reason", l->reason, "key",
                              l->key ? out_jstr(l->key, strlen(l->key)) : json_null(), "bytes", (json_int_t)l->msg.len);
                json_object_set_new(o, "target", dry_run ? json_null() : json_string(dst));
                json_array_append_new(done, o);
            } else {
                printf("%s %s (%s, key %s, %zu bytes)%s%s\n", dry_run ? "would replay" : "replayed", src, l->reason,
                       l->key ? l->key : "none", l->msg.len, dry_run ? "" : " → ", dst);
            }
        } else {
            nbad++;
            if (c->json)
                json_array_append_new(refused, json_pack("{s:s,s:s}", "source", src, "why", l->why));
            ctl_error("%s: %s", src, l->why);
        }
    }
    if (c->json) {
        out_json(json_pack("{s:b,s:o,s:o}", "dry_run", dry_run, "replayed", done, "refused", refused));
    } else {
        json_decref(done);
        json_decref(refused);
        if (rp.n == 0)
            printf("nothing to replay%s%s%s\n", reason ? ": no dead letter with reason " : "", reason ? reason : "",
                   reason ? " is waiting for a replay" : "");
        else
            printf("%zu %sreplayed, %zu refused or failed\n", nok, dry_run ? "to be " : "", nbad);
    }
    rc = nbad ? CTL_ERROR : CTL_OK;
out:
    if (rp.rk)
        rd_kafka_destroy(rp.rk);
    for (size_t i = 0; i < rp.n; i++) {
        rpl_message_free(&rp.v[i].msg);
        free(rp.v[i].reason);
        free(rp.v[i].key);
        free(rp.v[i].key_bytes);
    }
    free(rp.v);
    free(partitions);
    return rc;
}

/* ---- the command -------------------------------------------------------- */

static const char dlq_usage[] =
    "Usage: " CTL_NAME " dlq list [--reason REASON] [--limit N]\n"
    "       " CTL_NAME " dlq replay --offset TOPIC:PARTITION:OFFSET | --reason REASON [--dry-run]\n"
    "\n"
    "Dead letters: messages complaintd could not apply (docs/events.md).\n"
    "'" CTL_NAME " dlq list --help' and '" CTL_NAME " dlq replay --help' say more.\n";

int cmd_dlq(Ctl *c, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage("dlq", "dlq: say what to do: list or replay");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(dlq_usage, stdout);
        return CTL_OK;
    }
    bool is_list = strcmp(argv[1], "list") == 0;
    if (!is_list && strcmp(argv[1], "replay") != 0)
        return ctl_usage("dlq", "dlq: unknown subcommand '%s' (there are: list, replay)", argv[1]);
    const char *cmd = is_list ? "dlq list" : "dlq replay";
    static const struct option list_opts[] = {
        CTL_COMMON_LONGOPTS,
        {"reason", required_argument, NULL, OPT_REASON},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {NULL, 0, NULL, 0},
    };
    static const struct option replay_opts[] = {
        CTL_COMMON_LONGOPTS,
        {"reason", required_argument, NULL, OPT_REASON},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0},
    };
    const char *reason = NULL;
    const char **coords = oom_check(calloc((size_t)argc + 1, sizeof *coords));
    int ncoords = 0, rc = CTL_OK, o;
    long long limit = is_list ? 100 : 0;
    bool dry_run = false, limited = false;
    argc--, argv++;
    optind = 0;
    while ((o = getopt_long(argc, argv, ":c:h", is_list ? list_opts : replay_opts, NULL)) != -1) {
        if (ctl_common_opt(c, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(is_list ? list_usage : replay_usage, stdout); goto out;
        case OPT_REASON:
            if (!known_reason(optarg)) {
                rc = ctl_usage(cmd, "--reason '%s': not a dead-letter reason", optarg);
                goto out;
            }
            reason = optarg;
            break;
        case OPT_LIMIT:
            if ((rc = parse_limit(cmd, optarg, &limit)) != CTL_OK)
                goto out;
            limited = true;
            break;
        case OPT_OFFSET: {
            char topic[RPL_TOPIC_MAX + 1], err[300];
            int32_t part;
            int64_t off;
            if (rpl_parse_coord(optarg, topic, &part, &off, err, sizeof err) < 0) {
                rc = ctl_usage(cmd, "--offset %s", err);
                goto out;
            }
            coords[ncoords++] = optarg;
            break;
        }
        case OPT_DRY_RUN: dry_run = true; break;
        default: rc = ctl_bad_option(cmd, o, argv); goto out;
        }
    }
    if (optind < argc) {
        rc = ctl_usage(cmd, "%s: unexpected argument '%s'", cmd, argv[optind]);
        goto out;
    }
    if (is_list) {
        rc = list(c, reason, limit);
        goto out;
    }
    if ((ncoords > 0) == (reason != NULL)) {
        rc = ctl_usage(cmd, "dlq replay: give --offset TOPIC:PARTITION:OFFSET or --reason REASON (one of them)");
        goto out;
    }
    if (limited && !reason) {
        rc = ctl_usage(cmd, "dlq replay: --limit goes with --reason");
        goto out;
    }
    rc = replay(c, coords, ncoords, reason, limit, dry_run);
out:
    free(coords);
    return rc;
}
