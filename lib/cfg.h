/* cfg: the daemon's INI configuration (contract §11), driven by one
 * declarative table of keys (name, type, default, reloadable). */
#ifndef COMPLAINTD_CFG_H
#define COMPLAINTD_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

typedef enum { CLOCK_WALL, CLOCK_EVENT } ClockMode;

/* What a daemon does (docs/architecture.md, "Roles"): the whole desk, or the
 * scan path alone (the scans topic, the parcels and their stalls). */
typedef enum { ROLE_ALL, ROLE_PARCELS } DaemonRole;

#define CFG_MAX_RDKAFKA 64

typedef struct CfgKv {
    char *key;   /* librdkafka property name, without the "rdkafka." prefix */
    char *value;
} CfgKv;

typedef struct Config {
    /* [kafka] */
    char *brokers;            /* 127.0.0.1:9092 */
    char *group_id;           /* complaintd */
    char *complaints_topic;   /* complaints.events */
    char *scans_topic;        /* parcels.scans */
    char *alerts_topic;       /* complaints.alerts */
    char *dlq_topic;          /* complaints.dlq */
    int n_rdkafka;
    CfgKv rdkafka[CFG_MAX_RDKAFKA]; /* rdkafka.<property> = value, passed through */
    /* [postgres] */
    char *conninfo;           /* postgresql:///complaintd */
    /* [clock] */
    ClockMode clock_mode;     /* wall */
    /* [daemon] */
    char *log_level;          /* info: error, warning, info, debug */
    char *log_format;         /* text: text, json */
    int batch_max;            /* 2000 effects per transaction at most */
    int outbox_max;           /* 20000: above this many unacknowledged messages, stop consuming */
    int64_t batch_linger_ms;  /* 20: how long fetched events wait for the rest of a fetch */
    DaemonRole role;          /* all: all, parcels */
    int64_t max_event_bytes;  /* 1048576: larger messages are dead-lettered as too_large */
    char *metrics_listen;     /* "": off; else host:port of a plain-text metrics endpoint */
    /* [policy] */
    char *policy_file;        /* "": none; else an INI file whose [policy] keys override these */
    Policy *policy;
} Config;

Config *cfg_new(void); /* every default */

/* "all" or "parcels": the [daemon] role value of `role`. */
const char *cfg_role_name(DaemonRole role);
void cfg_free(Config *cfg);

/* Parses INI text into cfg (which holds the defaults or earlier values).
 * `#` and `;` start comments, also after a value when preceded by white space.
 * On the first error returns -1 and writes "name:line: what is wrong" to err;
 * errors include unknown sections or keys, bad values, and lines that are not
 * `key = value`. `only_policy` accepts only the [policy] section (for the
 * policy file). A key given twice keeps its last value. After an error cfg
 * may hold part of the text's values: parse into a fresh Config and drop it
 * on failure. */
__attribute__((warn_unused_result)) int cfg_parse(Config *cfg, const char *text, const char *name, bool only_policy,
                                                  char *err, size_t errlen);

/* The keys that differ between a and b and cannot change on reload (SIGHUP):
 * writes them comma-separated to out; returns how many. */
int cfg_nonreloadable_changes(const Config *a, const Config *b, char *out, size_t outlen);

/* Writes the effective configuration, one "section.key = value" a line, to a
 * malloc'd string (for --check-config -v and the logs). */
char *cfg_dump(const Config *cfg);

/* Copies text to out (outlen bytes, always terminated, cut to fit) with
 * every password of the libpq connection string conninfo, as written there,
 * replaced by "***": the ones cfg_dump masks. For libpq's messages, which may
 * quote the connection string or a part of it (a URI it cannot parse, a bad
 * percent-encoding, a word that is not keyword = value). */
void cfg_redact_conninfo(const char *conninfo, const char *text, char *out, size_t outlen);

#endif
