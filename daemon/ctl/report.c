/* report: `complaintctl report`, the indicators of contract §12.9 over a
 * range of days from the `indicators` table (docs/indicators.md): on-time
 * rate, satisfaction, repeat rate and breaches by stage, in total or by
 * category, site or day. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "oom.h"
#include "out.h"
#include "timeutil.h"

static const char usage[] = "Usage: " CTL_NAME " report --from DATE --to DATE [--by category|site|day]\n"
                            "                    [--csv] [-c FILE] [--json]\n"
                            "\n"
                            "The complaint desk's indicators (003 评估指标) over the local days DATE to DATE,\n"
                            "both included (YYYY-MM-DD at the calendar's UTC offset):\n"
                            "  on-time rate  (投诉处理及时率)  resolved on time / resolved\n"
                            "  satisfaction  (客户满意度)      satisfied revisits / revisits\n"
                            "  repeat rate   (投诉重复率)      repeat complaints / valid complaints received\n"
                            "and the SLA breaches by stage. Without --by, one line for the whole range;\n"
                            "with it, one line per category, site or day and the total.\n"
                            "\n"
                            "  --from DATE, --to DATE   the range of days (required)\n"
                            "  --by KEY                 category, site or day\n"
                            "  --csv                    CSV (RFC 4180, a header line; rates as fractions)\n"
                            "  --json                   JSON: the rows, the total, rates as fractions or null\n"
                            "\n"
                            "A rate whose denominator is 0 is shown as '-' (empty in CSV, null in JSON).\n"
                            "Exit status: 0 reported (also for a range without data), 1 error, 2 bad usage.\n";

#define CMD "report"

enum { OPT_FROM = 0x200, OPT_TO, OPT_BY, OPT_CSV };

/* The sums, in the order of the query's columns after the key. */
enum {
    C_RECEIVED,
    C_INVALID,
    C_RESOLVED,
    C_ON_TIME,
    C_REVISITS,
    C_SATISFIED,
    C_REPEATS,
    C_REOPENED,
    C_BR_CONTACT,
    C_BR_FIRST_REPLY,
    C_BR_RESOLVE,
    C_BR_REVISIT,
    C__COUNT
};

static const char *const col_names[C__COUNT] = {
    "received", "invalid",  "resolved",         "resolved_on_time",     "revisits",         "satisfied",
    "repeats",  "reopened", "breaches_contact", "breaches_first_reply", "breaches_resolve", "breaches_revisit",
};

typedef struct Row {
    char key[80];
    long long v[C__COUNT];
} Row;

/* numerator / denominator, or -1 when there is none */
static double rate(long long num, long long den)
{
    return den > 0 ? (double)num / (double)den : -1;
}

static void rates(const Row *r, double out[3])
{
    out[0] = rate(r->v[C_ON_TIME], r->v[C_RESOLVED]);
    out[1] = rate(r->v[C_SATISFIED], r->v[C_REVISITS]);
    out[2] = rate(r->v[C_REPEATS], r->v[C_RECEIVED] - r->v[C_INVALID]);
}

static json_t *row_json(const Row *r, const char *by)
{
    double rt[3];
    rates(r, rt);
    json_t *o = json_object();
    if (by)
        json_object_set_new(o, by, json_string(r->key));
    for (int i = 0; i < C__COUNT; i++) {
        json_object_set_new(o, col_names[i], json_integer(r->v[i]));
        if (i == C_INVALID)
            json_object_set_new(o, "valid_received", json_integer(r->v[C_RECEIVED] - r->v[C_INVALID]));
    }
    static const char *const names[3] = {"on_time_rate", "satisfaction", "repeat_rate"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(o, names[i], rt[i] < 0 ? json_null() : json_real(rt[i]));
    return o;
}

static void fmt_rate(double r, bool csv, char *buf, size_t len)
{
    if (r < 0)
        snprintf(buf, len, "%s", csv ? "" : "-");
    else if (csv)
        snprintf(buf, len, "%.4f", r);
    else
        snprintf(buf, len, "%.1f%%", r * 100);
}

static void add_row(Table *tb, const Row *r, const char *key, bool csv)
{
    double rt[3];
    char b[3][32];
    rates(r, rt);
    for (int i = 0; i < 3; i++)
        fmt_rate(rt[i], csv, b[i], sizeof b[i]);
    tbl_row(tb);
    if (key)
        tbl_cell(tb, key);
    tbl_cellf(tb, "%lld", r->v[C_RECEIVED]);
    tbl_cellf(tb, "%lld", r->v[C_INVALID]);
    tbl_cellf(tb, "%lld", r->v[C_RECEIVED] - r->v[C_INVALID]);
    tbl_cellf(tb, "%lld", r->v[C_RESOLVED]);
    tbl_cellf(tb, "%lld", r->v[C_ON_TIME]);
    tbl_cell(tb, b[0]);
    tbl_cellf(tb, "%lld", r->v[C_REVISITS]);
    tbl_cellf(tb, "%lld", r->v[C_SATISFIED]);
    tbl_cell(tb, b[1]);
    tbl_cellf(tb, "%lld", r->v[C_REPEATS]);
    tbl_cell(tb, b[2]);
    tbl_cellf(tb, "%lld", r->v[C_REOPENED]);
    if (csv) {
        for (int i = C_BR_CONTACT; i <= C_BR_REVISIT; i++)
            tbl_cellf(tb, "%lld", r->v[i]);
    } else {
        /* one column for the four stages: the table stays readable */
        tbl_cellf(tb, "%lld/%lld/%lld/%lld", r->v[C_BR_CONTACT], r->v[C_BR_FIRST_REPLY], r->v[C_BR_RESOLVE],
                  r->v[C_BR_REVISIT]);
    }
}

static int report(Ctl *c, const char *from, const char *to, const char *by, bool csv)
{
    if (!ctl_config(c) || !ctl_pg(c))
        return CTL_ERROR;
    int has = ctl_has_table(c, "indicators");
    if (has <= 0)
        return has < 0 ? CTL_ERROR : ctl_schema_behind(c, "indicators");
    const char *key = !by ? "''" : strcmp(by, "day") == 0 ? "day::text" : by;
    char sql[1024];
    size_t n = 0;
    ctl_appendf(sql, sizeof sql, &n, "SELECT %s", key);
    for (int i = 0; i < C__COUNT; i++)
        ctl_appendf(sql, sizeof sql, &n, ", sum(%s)::bigint", col_names[i]);
    ctl_appendf(sql, sizeof sql, &n, " FROM indicators WHERE day BETWEEN $1::date AND $2::date GROUP BY 1 ORDER BY 1");
    const char *params[2] = {from, to};
    PGresult *r = ctl_query(c, "reading the indicators", sql, 2, params);
    if (!r)
        return CTL_ERROR;
    int rows = PQntuples(r);
    Row *v = oom_check(calloc((size_t)rows + 1, sizeof *v));
    Row total = {0};
    snprintf(total.key, sizeof total.key, "total");
    for (int i = 0; i < rows; i++) {
        snprintf(v[i].key, sizeof v[i].key, "%s", PQgetvalue(r, i, 0));
        for (int k = 0; k < C__COUNT; k++) {
            v[i].v[k] = ctl_int(r, i, k + 1, 0);
            total.v[k] += v[i].v[k];
        }
    }
    PQclear(r);

    if (c->json) {
        json_t *arr = json_array();
        for (int i = 0; by && i < rows; i++)
            json_array_append_new(arr, row_json(&v[i], by));
        json_t *doc = json_pack("{s:s,s:s,s:o,s:o,s:o}", "from", from, "to", to, "by",
                                by ? json_string(by) : json_null(), "rows", arr, "total", row_json(&total, NULL));
        out_json(doc);
    } else {
        static const char *const heads[] = {
            "received",  "invalid",      "valid",   "resolved",    "on time",  "on-time rate",        "revisits",
            "satisfied", "satisfaction", "repeats", "repeat rate", "reopened", "breaches c/fr/rs/rv",
        };
        static const char *const csv_heads[] = {
            "received",         "invalid",
            "valid_received",   "resolved",
            "resolved_on_time", "on_time_rate",
            "revisits",         "satisfied",
            "satisfaction",     "repeats",
            "repeat_rate",      "reopened",
            "breaches_contact", "breaches_first_reply",
            "breaches_resolve", "breaches_revisit",
        };
        const int nh = csv ? (int)(sizeof csv_heads / sizeof csv_heads[0]) : (int)(sizeof heads / sizeof heads[0]);
        const char *h[1 + sizeof csv_heads / sizeof csv_heads[0]];
        h[0] = by ? by : "period";
        for (int i = 0; i < nh; i++)
            h[i + 1] = csv ? csv_heads[i] : heads[i];
        Table *tb = tbl_new(nh + 1, h);
        for (int i = 1; i <= nh; i++)
            tbl_align_right(tb, i);
        for (int i = 0; by && i < rows; i++)
            add_row(tb, &v[i], strcmp(by, "site") == 0 && !v[i].key[0] && !csv ? "(none)" : v[i].key, csv);
        /* CSV: the total only when it is the one row (no --by) */
        if (!csv || !by) {
            char range[64];
            snprintf(range, sizeof range, "%s..%s", from, to);
            add_row(tb, &total, by ? "total" : range, csv);
        }
        if (csv) {
            tbl_csv(tb, stdout);
        } else {
            printf("Indicators %s to %s%s%s (local days; docs/indicators.md)\n", from, to, by ? ", by " : "",
                   by ? by : "");
            tbl_print(tb, stdout);
            printf("breaches c/fr/rs/rv: sla_breach alerts fired for contact, first_reply, resolve, revisit\n");
        }
        tbl_free(tb);
    }
    free(v);
    return CTL_OK;
}

int cmd_report(Ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_COMMON_LONGOPTS,
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"by", required_argument, NULL, OPT_BY},
        {"csv", no_argument, NULL, OPT_CSV},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL, *by = NULL;
    bool csv = false;
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (ctl_common_opt(c, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(usage, stdout); return CTL_OK;
        case OPT_FROM: from = optarg; break;
        case OPT_TO: to = optarg; break;
        case OPT_BY:
            if (strcmp(optarg, "category") && strcmp(optarg, "site") && strcmp(optarg, "day"))
                return ctl_usage(CMD, "--by '%s': category, site or day", optarg);
            by = optarg;
            break;
        case OPT_CSV: csv = true; break;
        default: return ctl_bad_option(CMD, o, argv);
        }
    }
    if (optind < argc)
        return ctl_usage(CMD, "report: unexpected argument '%s'", argv[optind]);
    if (!from || !to)
        return ctl_usage(CMD, "report: --from DATE and --to DATE are both needed");
    int64_t d1, d2;
    if (tu_parse_date(from, &d1) < 0)
        return ctl_usage(CMD, "--from '%s': not a date (YYYY-MM-DD)", from);
    if (tu_parse_date(to, &d2) < 0)
        return ctl_usage(CMD, "--to '%s': not a date (YYYY-MM-DD)", to);
    if (d2 < d1)
        return ctl_usage(CMD, "report: --to %s is before --from %s", to, from);
    if (csv && c->json)
        return ctl_usage(CMD, "report: --csv or --json, not both");
    return report(c, from, to, by, csv);
}
