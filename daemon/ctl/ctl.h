/* ctl: what every complaintctl command shares: the command line's common
 * options, the configuration (the daemon's file, read with lib/cfg), one
 * blocking PostgreSQL connection, and the exit codes.
 *
 * complaintctl is a short-lived operator's tool, not part of the loop: it
 * blocks on libpq and librdkafka, prints, and exits. Errors go to stderr as
 * "complaintctl: what is wrong"; results go to stdout. */
#ifndef COMPLAINTCTL_CTL_H
#define COMPLAINTCTL_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define CTL_NAME "complaintctl"
#define CTL_DEFAULT_CONFIG "/etc/complaintd/complaintd.conf"

enum { CTL_OK = 0, CTL_ERROR = 1, CTL_USAGE = 2 };

typedef struct Ctl {
    const char *config_path;
    bool json;
    Config *cfg; /* ctl_config() */
    PGconn *pg;  /* ctl_pg() */
} Ctl;

/* "complaintctl: <message>" on stderr; returns CTL_ERROR. */
__attribute__((format(printf, 1, 2))) int ctl_error(const char *fmt, ...);
/* "complaintctl: <message>" and where to find the usage, on stderr;
 * returns CTL_USAGE. `cmd` names the command ("dlq replay"), or NULL. */
__attribute__((format(printf, 2, 3))) int ctl_usage(const char *cmd, const char *fmt, ...);
/* A warning on stderr that does not change the exit status. */
__attribute__((format(printf, 1, 2))) void ctl_warn(const char *fmt, ...);

/* The common options every command takes. Returns true when it handled o
 * (-c FILE, --json). */
#define CTL_OPT_JSON 0x100
#define CTL_COMMON_LONGOPTS                                                                                            \
    {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, CTL_OPT_JSON},                               \
    {                                                                                                                  \
        "help", no_argument, NULL, 'h'                                                                                 \
    }
bool ctl_common_opt(Ctl *c, int o, const char *arg);
/* The usage error for what getopt_long returned ('?' or ':', with the
 * optstring starting with ':'); returns CTL_USAGE. */
int ctl_bad_option(const char *cmd, int o, char **argv);

/* The configuration, read on first use (the file, then its policy file);
 * NULL after printing why. */
const Config *ctl_config(Ctl *c);
/* The calendar's UTC offset in minutes: times are shown at it, as in alerts. */
int ctl_utc_offset(Ctl *c);

/* The PostgreSQL connection of [postgres] conninfo, made on first use
 * (application_name=complaintctl); NULL after printing why. */
PGconn *ctl_pg(Ctl *c);
/* A statement with text parameters; the result, or NULL after printing
 * "what: the server's message". Results of commands and queries are both
 * fine. */
PGresult *ctl_query(Ctl *c, const char *what, const char *sql, int n, const char *const *params);
/* Whether a table exists; -1 after printing an error. */
int ctl_has_table(Ctl *c, const char *table);
/* Prints that the schema is behind (missing `table`) and returns CTL_ERROR. */
int ctl_schema_behind(Ctl *c, const char *table);

/* Column helpers: NULL or the value. */
static inline const char *ctl_val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}
int64_t ctl_int(const PGresult *r, int row, int col, int64_t if_null);

/* Appends to a NUL-terminated text of at most len bytes; *n is its length.
 * What does not fit is dropped. */
__attribute__((format(printf, 4, 5))) void ctl_appendf(char *buf, size_t len, size_t *n, const char *fmt, ...);

/* Parses a time given on the command line: RFC 3339, a date (YYYY-MM-DD,
 * midnight at utc_offset_min), or a duration back from now ("24h", "7d").
 * -1 when it is none of these. */
int ctl_parse_time(const char *s, int utc_offset_min, int64_t *out);

void ctl_close(Ctl *c);

/* The commands (argv[0] is the command's name). */
int cmd_ticket(Ctl *c, int argc, char **argv);
int cmd_alerts(Ctl *c, int argc, char **argv);
int cmd_report(Ctl *c, int argc, char **argv);
int cmd_dlq(Ctl *c, int argc, char **argv);
int cmd_offsets(Ctl *c, int argc, char **argv);

#endif
