/* ctl: the configuration, PostgreSQL and errors of complaintctl; see ctl.h. */
#include "ctl.h"

#include "confload.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cal.h"
#include "confload.h"
#include "oom.h"
#include "timeutil.h"

/* daemon/oom.h's policy for a command-line tool: say so and exit. */
void oom_die(void)
{
    fputs(CTL_NAME ": out of memory\n", stderr);
    exit(CTL_ERROR);
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s%s", CTL_NAME ": ", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int ctl_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    return CTL_ERROR;
}

void ctl_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '" CTL_NAME " %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return CTL_USAGE;
}

bool ctl_common_opt(Ctl *c, int o, const char *arg)
{
    switch (o) {
    case 'c': c->config_path = arg; return true;
    case CTL_OPT_JSON: c->json = true; return true;
    default: return false;
    }
}

int ctl_bad_option(const char *cmd, int o, char **argv)
{
    const char *what = optind > 0 ? argv[optind - 1] : "?";
    if (o == ':')
        return ctl_usage(cmd, "option '%s' needs a value", what);
    if (optopt && !(what[0] == '-' && what[1] == optopt && what[2] == '\0'))
        return ctl_usage(cmd, "unknown option '-%c'", optopt);
    return ctl_usage(cmd, "unknown option '%s'", what);
}

/* ---- configuration ------------------------------------------------------ */

const Config *ctl_config(Ctl *c)
{
    if (c->cfg)
        return c->cfg;
    char err[1024];
    const char *path = c->config_path ? c->config_path : CTL_DEFAULT_CONFIG;
    Config *cfg = config_load(path, err, sizeof err);
    if (!cfg) {
        ctl_error("%s", err);
        return NULL;
    }
    c->cfg = cfg;
    return cfg;
}

int ctl_utc_offset(Ctl *c)
{
    const Config *cfg = ctl_config(c);
    return cfg ? cal_utc_offset(cfg->policy->cal) : 480;
}

/* ---- PostgreSQL --------------------------------------------------------- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

PGconn *ctl_pg(Ctl *c)
{
    if (c->pg)
        return c->pg;
    const Config *cfg = ctl_config(c);
    if (!cfg)
        return NULL;
    /* the operator's conninfo over our application_name, as the daemon does */
    static const char *const keys[] = {"application_name", "dbname", NULL};
    const char *const values[] = {CTL_NAME, cfg->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        /* libpq may quote the connection string, password and all */
        char msg[1024];
        cfg_redact_conninfo(cfg->conninfo, pg ? PQerrorMessage(pg) : "out of memory", msg, sizeof msg);
        trim(msg);
        PQfinish(pg);
        ctl_error("cannot connect to PostgreSQL: %s", msg);
        return NULL;
    }
    /* the primary message of an error only: its DETAIL may quote row data */
    PQsetErrorVerbosity(pg, PQERRORS_TERSE);
    PQsetErrorContextVisibility(pg, PQSHOW_CONTEXT_NEVER);
    c->pg = pg;
    return pg;
}

PGresult *ctl_query(Ctl *c, const char *what, const char *sql, int n, const char *const *params)
{
    PGconn *pg = ctl_pg(c);
    if (!pg)
        return NULL;
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    trim(msg);
    PQclear(r);
    ctl_error("%s: %s", what, msg);
    return NULL;
}

int ctl_has_table(Ctl *c, const char *table)
{
    const char *p[1] = {table};
    PGresult *r = ctl_query(c, "reading the schema", "SELECT to_regclass($1) IS NOT NULL", 1, p);
    if (!r)
        return -1;
    int yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return yes;
}

int ctl_schema_behind(Ctl *c, const char *table)
{
    return ctl_error("the database schema is behind (no table %s): run 'complaintd -c %s migrate' first", table,
                     c->config_path ? c->config_path : CTL_DEFAULT_CONFIG);
}

int64_t ctl_int(const PGresult *r, int row, int col, int64_t if_null)
{
    if (PQgetisnull(r, row, col))
        return if_null;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void ctl_appendf(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
    if (len == 0 || *n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf + *n, len - *n, fmt, ap);
    va_end(ap);
    if (r > 0)
        *n += (size_t)r < len - *n ? (size_t)r : len - *n - 1;
}

int ctl_parse_time(const char *s, int utc_offset_min, int64_t *out)
{
    int64_t days, d;
    if (tu_parse_rfc3339(s, out) == 0)
        return 0;
    if (tu_parse_date(s, &days) == 0) {
        *out = days * 86400 - (int64_t)utc_offset_min * 60;
        return 0;
    }
    /* a duration back from now; a bare number is not one */
    if (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789") < strlen(s) && tu_parse_duration(s, &d) == 0) {
        *out = (int64_t)time(NULL) - d;
        return 0;
    }
    return -1;
}

void ctl_close(Ctl *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
    cfg_free(c->cfg);
    c->cfg = NULL;
}
