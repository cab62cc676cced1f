/* offsets: `complaintctl offsets`, the consumer offsets complaintd stores in
 * PostgreSQL (consumer_offsets: the next offset to consume, written in the
 * transaction of the batch that applied the message before it) against the
 * topics' end offsets on the broker: the lag per partition. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "kc.h"
#include "oom.h"
#include "out.h"
#include "timeutil.h"

static const char usage[] = "Usage: " CTL_NAME " offsets [--group GROUP] [-c FILE] [--json]\n"
                            "\n"
                            "For each partition of the complaint and scan topics (and any other topic\n"
                            "with a stored offset): the next offset complaintd will consume, as stored\n"
                            "in PostgreSQL with the effects before it, the partition's low and high\n"
                            "watermarks on the broker, and the lag (high - stored: messages not yet\n"
                            "applied). A partition without a stored offset is read from its start:\n"
                            "its lag is high - low.\n"
                            "\n"
                            "  --group GROUP   the consumer group (default: [kafka] group_id)\n"
                            "  --json          JSON: every partition and the total lag\n"
                            "\n"
                            "Exit status: 0 shown, 1 error (PostgreSQL or Kafka unreachable), 2 bad usage.\n";

#define CMD "offsets"

enum { OPT_GROUP = 0x200 };

typedef struct Part {
    char topic[256];
    int32_t partition;
    int64_t stored;    /* -1: none */
    int64_t updated;   /* when it was stored */
    int64_t low, high; /* -1: not known */
    int64_t lag;       /* -1: not known */
    bool on_broker;
} Part;

typedef struct Parts {
    Part *v;
    size_t n, cap;
} Parts;

static Part *find_part(Parts *ps, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].partition == partition && strcmp(ps->v[i].topic, topic) == 0)
            return &ps->v[i];
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->v = oom_check(realloc(ps->v, ps->cap * sizeof *ps->v));
    }
    Part *p = &ps->v[ps->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    p->stored = p->low = p->high = p->lag = -1;
    p->updated = TU_NEVER;
    return p;
}

static int cmp_part(const void *a, const void *b)
{
    const Part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int offsets(Ctl *c, const char *group)
{
    const Config *cfg = ctl_config(c);
    if (!cfg || !ctl_pg(c))
        return CTL_ERROR;
    if (!group)
        group = cfg->group_id;
    int off = ctl_utc_offset(c);
    const char *params[1] = {group};
    PGresult *r = ctl_query(c, "reading the stored offsets",
                            "SELECT topic, partition, next_offset, extract(epoch FROM updated_at)::bigint "
                            "FROM consumer_offsets WHERE group_id = $1 ORDER BY topic, partition",
                            1, params);
    if (!r)
        return CTL_ERROR;
    Parts ps = {0};
    /* the topics: the daemon's inputs and whatever has a stored offset */
    const char **topics = oom_check(calloc((size_t)PQntuples(r) + 2, sizeof *topics));
    size_t nt = 0;
    topics[nt++] = cfg->complaints_topic;
    if (strcmp(cfg->scans_topic, cfg->complaints_topic) != 0)
        topics[nt++] = cfg->scans_topic;
    for (int i = 0; i < PQntuples(r); i++) {
        Part *p = find_part(&ps, PQgetvalue(r, i, 0), (int32_t)ctl_int(r, i, 1, 0));
        p->stored = ctl_int(r, i, 2, -1);
        p->updated = ctl_int(r, i, 3, TU_NEVER);
        bool seen = false;
        for (size_t k = 0; k < nt; k++)
            seen |= strcmp(topics[k], p->topic) == 0;
        if (!seen)
            topics[nt++] = PQgetvalue(r, i, 0);
    }
    char err[512];
    int rc = CTL_OK;
    rd_kafka_t *rk = kc_open(cfg, NULL, err, sizeof err);
    if (!rk) {
        rc = ctl_error("%s", err);
        goto out;
    }
    for (size_t k = 0; k < nt; k++) {
        int n = kc_partitions(rk, topics[k], err, sizeof err);
        if (n < 0) {
            rc = ctl_error("%s", err);
            goto out;
        }
        if (n == 0)
            ctl_warn("the broker has no topic %s", topics[k]);
        for (int32_t i = 0; i < n; i++) {
            Part *p = find_part(&ps, topics[k], i);
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topics[k], i, &lo, &hi, KC_TIMEOUT_MS);
            if (e) {
                rc = ctl_error("kafka: the end offsets of %s [%d]: %s", topics[k], (int)i, rd_kafka_err2str(e));
                goto out;
            }
            p->on_broker = true;
            p->low = lo, p->high = hi;
            p->lag = p->stored >= 0 ? hi - p->stored : hi - lo;
        }
    }
    qsort(ps.v, ps.n, sizeof *ps.v, cmp_part);
    int64_t total = 0;
    for (size_t i = 0; i < ps.n; i++)
        total += ps.v[i].lag > 0 ? ps.v[i].lag : 0;
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < ps.n; i++) {
            const Part *p = &ps.v[i];
#define NUM(x) ((x) >= 0 ? json_integer(x) : json_null())
            json_array_append_new(arr, json_pack("{s:s,s:i,s:o,s:o,s:o,s:o,s:o}", "topic", p->topic, "partition",
                                                 (int)p->partition, "stored", NUM(p->stored), "low", NUM(p->low),
                                                 "high", NUM(p->high), "lag", NUM(p->lag), "stored_at",
                                                 p->stored >= 0 ? out_jtime(p->updated, off) : json_null()));
#undef NUM
        }
        out_json(json_pack("{s:s,s:o,s:I}", "group", group, "partitions", arr, "total_lag", (json_int_t)total));
    } else {
        Table *tb =
            tbl_new(7, (const char *const[]){"TOPIC", "PARTITION", "STORED", "LOW", "HIGH", "LAG", "STORED AT"});
        for (int i = 1; i <= 5; i++)
            tbl_align_right(tb, i);
        for (size_t i = 0; i < ps.n; i++) {
            const Part *p = &ps.v[i];
            char w[OUT_TIME_LEN];
            tbl_row(tb);
            tbl_cell(tb, p->topic);
            tbl_cellf(tb, "%d", (int)p->partition);
            if (p->stored >= 0)
                tbl_cellf(tb, "%lld", (long long)p->stored);
            else
                tbl_cell(tb, "-");
            if (p->on_broker) {
                tbl_cellf(tb, "%lld", (long long)p->low);
                tbl_cellf(tb, "%lld", (long long)p->high);
                tbl_cellf(tb, "%lld", (long long)p->lag);
            } else {
                tbl_cell(tb, "-");
                tbl_cell(tb, "-");
                tbl_cell(tb, "not on the broker");
            }
            tbl_cell(tb, p->stored >= 0 ? out_time(p->updated, off, w) : "never");
        }
        printf("Consumer group %s (offsets stored in PostgreSQL)\n", group);
        tbl_print(tb, stdout);
        printf("total lag: %lld message%s\n", (long long)total, total == 1 ? "" : "s");
        tbl_free(tb);
        for (size_t i = 0; i < ps.n; i++)
            if (ps.v[i].on_broker && ps.v[i].stored >= 0 && ps.v[i].stored < ps.v[i].low)
                ctl_warn("%s [%d]: the stored offset %lld is below the low watermark %lld: messages were deleted "
                         "before complaintd read them",
                         ps.v[i].topic, (int)ps.v[i].partition, (long long)ps.v[i].stored, (long long)ps.v[i].low);
    }
out:
    if (rk)
        rd_kafka_destroy(rk);
    free(topics);
    free(ps.v);
    PQclear(r);
    return rc;
}

int cmd_offsets(Ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_COMMON_LONGOPTS,
        {"group", required_argument, NULL, OPT_GROUP},
        {NULL, 0, NULL, 0},
    };
    const char *group = NULL;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (ctl_common_opt(c, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(usage, stdout); return CTL_OK;
        case OPT_GROUP: group = optarg; break;
        default: return ctl_bad_option(CMD, o, argv);
        }
    }
    if (optind < argc)
        return ctl_usage(CMD, "offsets: unexpected argument '%s'", argv[optind]);
    return offsets(c, group);
}
