/* alerts: `complaintctl alerts`, the alert transitions of the alerts table
 * (the outbox of the alerts topic: every firing, resolved and retracted,
 * with the alert.v1 payload as published). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "ctl.h"
#include "explain.h"
#include "oom.h"
#include "out.h"
#include "timeutil.h"

static const char usage[] = "Usage: " CTL_NAME " alerts [--firing] [--type TYPE] [--site SITE] [--ticket ID]\n"
                            "                    [--since TIME] [--limit N] [-c FILE] [--json]\n"
                            "\n"
                            "Lists alert transitions (firing, resolved, retracted) in the order they were\n"
                            "committed, the last N of them.\n"
                            "\n"
                            "  --firing        only alerts still firing: a firing with no resolved or\n"
                            "                  retracted of the same alert_id\n"
                            "  --type TYPE     sla_warning, sla_breach, bulk_complaint, repeat_complaint,\n"
                            "                  parcel_stalled, ticket_escalated, pause_overdue, progress_due,\n"
                            "                  response_due, category_review or site_accountability\n"
                            "  --site SITE     alerts whose site or responsible site is SITE\n"
                            "  --ticket ID     alerts of one ticket\n"
                            "  --since TIME    transitions that happened at or after TIME (event time: the\n"
                            "                  resolved_at of an ended alert, else its condition_at). TIME is\n"
                            "                  RFC 3339, a date (YYYY-MM-DD, local midnight) or a duration\n"
                            "                  back from now (24h, 7d)\n"
                            "  --limit N       at most the last N (default 1000; 0: all)\n"
                            "  --json          a JSON array of the alert.v1 payloads\n"
                            "\n"
                            "Exit status: 0 listed (also when none match), 1 error, 2 bad usage.\n";

#define CMD "alerts"

enum { OPT_FIRING = 0x200, OPT_TYPE, OPT_SITE, OPT_SINCE, OPT_LIMIT, OPT_TICKET };

static bool known_type(const char *s)
{
    for (int i = 0; i < AL__COUNT; i++)
        if (strcmp(s, alert_type_name((AlertType)i)) == 0)
            return true;
    return false;
}

/* What one alert says besides its id, status and type. */
static void detail(json_t *a, int off, char *buf, size_t len)
{
    size_t n = 0;
    char w[OUT_TIME_LEN];
    buf[0] = '\0';
    json_t *v;
    const char *str;
    int64_t t;
    if ((str = json_string_value(json_object_get(a, "priority"))))
        ctl_appendf(buf, len, &n, "%s", str);
    if ((str = json_string_value(json_object_get(a, "deadline"))) && tu_parse_rfc3339(str, &t) == 0)
        ctl_appendf(buf, len, &n, "%sdeadline %s", n ? ", " : "", out_time(t, off, w));
    if ((v = json_object_get(a, "late_by_seconds")) && json_is_integer(v)) {
        char d[32];
        xpl_format_duration(json_integer_value(v), d, sizeof d);
        ctl_appendf(buf, len, &n, "%slate by %s", n ? ", " : "", d);
    }
    if ((v = json_object_get(a, "count")) && json_is_integer(v))
        ctl_appendf(buf, len, &n, "%scount %lld", n ? ", " : "", (long long)json_integer_value(v));
    static const char *const words[] = {"previous_ticket_id", "suggested_category", "reason", "month", "waybill"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if ((str = json_string_value(json_object_get(a, words[i]))))
            ctl_appendf(buf, len, &n, "%s%s %s", n ? ", " : "", words[i], str);
}

static int list(Ctl *c, bool firing, const char *type, const char *site, const char *ticket, const char *since,
                long long limit)
{
    if (!ctl_config(c) || !ctl_pg(c))
        return CTL_ERROR;
    int off = ctl_utc_offset(c);
    char sql[2048], lim[32], sincebuf[32];
    const char *params[6];
    int np = 0;
    size_t n = 0;
    ctl_appendf(
        sql, sizeof sql, &n,
        "SELECT seq, payload::text, "
        "extract(epoch FROM COALESCE(CASE WHEN status <> 'firing' THEN (payload->>'resolved_at')::timestamptz END, "
        "condition_at, emitted_at))::bigint, status, type, alert_id, "
        "COALESCE(payload->>'site', payload->'responsible'->>'site'), ticket_id "
        "FROM alerts a WHERE true");
    if (firing)
        ctl_appendf(sql, sizeof sql, &n,
                    " AND status = 'firing' AND NOT EXISTS (SELECT 1 FROM alerts e "
                    "WHERE e.alert_id = a.alert_id AND e.status <> 'firing')");
    if (type) {
        params[np++] = type;
        ctl_appendf(sql, sizeof sql, &n, " AND type = $%d", np);
    }
    if (site) {
        params[np++] = site;
        ctl_appendf(sql, sizeof sql, &n, " AND (payload->>'site' = $%d OR payload->'responsible'->>'site' = $%d)", np,
                    np);
    }
    if (ticket) {
        params[np++] = ticket;
        ctl_appendf(sql, sizeof sql, &n, " AND ticket_id = $%d", np);
    }
    if (since) {
        int64_t t;
        if (ctl_parse_time(since, off, &t) < 0)
            return ctl_error("--since '%s': not a time", since); /* checked before */
        snprintf(sincebuf, sizeof sincebuf, "%lld", (long long)t);
        params[np++] = sincebuf;
        ctl_appendf(sql, sizeof sql, &n,
                    " AND COALESCE(CASE WHEN status <> 'firing' THEN (payload->>'resolved_at')::timestamptz END, "
                    "condition_at, emitted_at) >= to_timestamp($%d)",
                    np);
    }
    ctl_appendf(sql, sizeof sql, &n, " ORDER BY seq DESC");
    if (limit > 0) {
        /* one more than asked: whether the list was cut */
        snprintf(lim, sizeof lim, "%lld", limit + 1);
        params[np++] = lim;
        ctl_appendf(sql, sizeof sql, &n, " LIMIT $%d", np);
    }
    PGresult *r = ctl_query(c, "reading the alerts", sql, np, params);
    if (!r)
        return CTL_ERROR;
    int rows = PQntuples(r);
    bool cut = limit > 0 && rows > limit;
    if (cut)
        rows = (int)limit;
    /* newest first from the query; shown oldest first */
    if (c->json) {
        json_t *arr = json_array();
        for (int i = rows - 1; i >= 0; i--) {
            json_t *j = json_loads(PQgetvalue(r, i, 1), 0, NULL);
            json_array_append_new(arr, j ? j : json_null());
        }
        out_json(arr);
    } else {
        Table *tb =
            tbl_new(8, (const char *const[]){"SEQ", "WHEN", "STATUS", "TYPE", "ALERT ID", "SITE", "TICKET", "DETAIL"});
        tbl_align_right(tb, 0);
        for (int i = rows - 1; i >= 0; i--) {
            char w[OUT_TIME_LEN], d[256];
            json_t *a = json_loads(PQgetvalue(r, i, 1), 0, NULL);
            detail(a, off, d, sizeof d);
            json_decref(a);
            tbl_row(tb);
            tbl_cell(tb, PQgetvalue(r, i, 0));
            tbl_cell(tb, out_time(ctl_int(r, i, 2, TU_NEVER), off, w));
            tbl_cell(tb, PQgetvalue(r, i, 3));
            tbl_cell(tb, PQgetvalue(r, i, 4));
            tbl_cell(tb, PQgetvalue(r, i, 5));
            tbl_cell(tb, PQgetisnull(r, i, 6) ? "-" : PQgetvalue(r, i, 6));
            tbl_cell(tb, PQgetisnull(r, i, 7) ? "-" : PQgetvalue(r, i, 7));
            tbl_cell(tb, d);
        }
        if (rows)
            tbl_print(tb, stdout);
        printf("%d %s%s\n", rows, firing ? "firing alert" : "alert transition", rows == 1 ? "" : "s");
        tbl_free(tb);
    }
    if (cut)
        ctl_warn("only the last %lld are shown; --limit 0 shows all", limit);
    PQclear(r);
    return CTL_OK;
}

int cmd_alerts(Ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_COMMON_LONGOPTS,
        {"firing", no_argument, NULL, OPT_FIRING},
        {"type", required_argument, NULL, OPT_TYPE},
        {"site", required_argument, NULL, OPT_SITE},
        {"ticket", required_argument, NULL, OPT_TICKET},
        {"since", required_argument, NULL, OPT_SINCE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {NULL, 0, NULL, 0},
    };
    bool firing = false;
    const char *type = NULL, *site = NULL, *since = NULL, *ticket = NULL;
    long long limit = 1000;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (ctl_common_opt(c, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(usage, stdout); return CTL_OK;
        case OPT_FIRING: firing = true; break;
        case OPT_TYPE:
            if (!known_type(optarg))
                return ctl_usage(CMD, "--type '%s': not an alert type", optarg);
            type = optarg;
            break;
        case OPT_SITE: site = optarg; break;
        case OPT_TICKET: ticket = optarg; break;
        case OPT_SINCE: {
            int64_t t;
            if (ctl_parse_time(optarg, 0, &t) < 0)
                return ctl_usage(CMD, "--since '%s': not a time (RFC 3339, YYYY-MM-DD or a duration like 24h)", optarg);
            since = optarg;
            break;
        }
        case OPT_LIMIT: {
            char *end;
            limit = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end || limit < 0)
                return ctl_usage(CMD, "--limit '%s': not a count", optarg);
            break;
        }
        default: return ctl_bad_option(CMD, o, argv);
        }
    }
    if (optind < argc)
        return ctl_usage(CMD, "alerts: unexpected argument '%s'", argv[optind]);
    return list(c, firing, type, site, ticket, since, limit);
}
