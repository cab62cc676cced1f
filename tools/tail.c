/*
 * complaintd-tail: print alerts and dead letters as they arrive, one line
 * each, for people watching a demo or a test run.
 *
 * It reads with plain partition assignment, not a consumer group: a tail
 * must never steal partitions from a real consumer or leave committed
 * offsets behind.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#ifndef COMPLAINTD_VERSION
#define COMPLAINTD_VERSION "dev"
#endif

#define MAX_TOPICS 32
/* How long to wait for a topic to show up in the metadata before giving up. */
#define METADATA_WAIT_MS 15000

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "Usage: complaintd-tail -b BOOTSTRAP -t TOPIC [-t TOPIC...] [OPTIONS]\n"
            "\n"
            "Prints the messages of the given topics, one line each: alerts\n"
            "(alert.v1) and dead letters (dlq.v1) in a readable form, anything\n"
            "else as it is. Reads every partition directly (no consumer group).\n"
            "\n"
            "Options:\n"
            "  -b, --bootstrap HOST:PORT  Kafka bootstrap servers\n"
            "  -t, --topic NAME           topic to read; repeatable\n"
            "      --from-beginning       start at the oldest message (default: new only)\n"
            "      --idle-exit SECONDS    exit 0 after SECONDS without a message\n"
            "      --json                 print each message's JSON as it is\n"
            "  -X, --property KEY=VALUE   extra librdkafka consumer property\n"
            "  -h, --help                 show this help\n"
            "  -V, --version              show the version\n");
}

static double now_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scalars as text; NULL for absent, null and composite values. */
static const char *scalar(json_t *obj, const char *key, char *buf, size_t len) {
    json_t *v = json_object_get(obj, key);

    if (!v)
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, len, "%g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return NULL;
    }
}

static void put_field(FILE *out, json_t *obj, const char *key, const char *label) {
    char buf[64];
    const char *s = scalar(obj, key, buf, sizeof(buf));

    if (s)
        fprintf(out, " %s=%s", label, s);
}

/* Arrays of strings as a,b,c (reasons, ticket_ids). */
static void put_list(FILE *out, json_t *obj, const char *key, const char *label) {
    json_t *arr = json_object_get(obj, key);
    size_t i;
    json_t *v;
    char buf[64];

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return;
    fprintf(out, " %s=", label);
    json_array_foreach(arr, i, v) {
        const char *s = NULL;
        if (json_is_string(v))
            s = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = buf;
        }
        fprintf(out, "%s%s", i ? "," : "", s ? s : "?");
    }
}

/* 5400 -> 1h30m: late_by is read by people, not parsed. */
static void put_duration(FILE *out, json_t *obj, const char *key, const char *label) {
    json_t *v = json_object_get(obj, key);
    json_int_t secs, d, h, m, s;

    if (!json_is_integer(v))
        return;
    secs = json_integer_value(v);
    fprintf(out, " %s=", label);
    if (secs < 0) {
        fputc('-', out);
        secs = -secs;
    }
    d = secs / 86400;
    h = secs % 86400 / 3600;
    m = secs % 3600 / 60;
    s = secs % 60;
    if (d)
        fprintf(out, "%" JSON_INTEGER_FORMAT "d", d);
    if (h)
        fprintf(out, "%" JSON_INTEGER_FORMAT "h", h);
    if (m)
        fprintf(out, "%" JSON_INTEGER_FORMAT "m", m);
    if (s || secs == 0)
        fprintf(out, "%" JSON_INTEGER_FORMAT "s", s);
}

static void put_responsible(FILE *out, json_t *obj) {
    json_t *r = json_object_get(obj, "responsible");
    char b1[64], b2[64], b3[64];
    const char *site, *role, *rule;

    if (!json_is_object(r))
        return;
    site = scalar(r, "site", b1, sizeof(b1));
    role = scalar(r, "role", b2, sizeof(b2));
    rule = scalar(r, "rule", b3, sizeof(b3));
    fprintf(out, " responsible=%s/%s/%s", site ? site : "-", role ? role : "-",
            rule ? rule : "-");
}

static void print_alert(FILE *out, json_t *a) {
    char b1[64], b2[64];
    const char *status = scalar(a, "status", b1, sizeof(b1));
    const char *type = scalar(a, "type", b2, sizeof(b2));
    const char *ticket = json_string_value(json_object_get(a, "ticket_id"));
    const char *waybill = json_string_value(json_object_get(a, "waybill"));
    const char *category = json_string_value(json_object_get(a, "category"));
    const char *site = json_string_value(json_object_get(a, "site"));
    const char *alert_id = json_string_value(json_object_get(a, "alert_id"));

    /* "retracted" is the longest status; padding keeps the columns aligned. */
    fprintf(out, "%-9s %s", status ? status : "?", type ? type : "?");
    if (ticket)
        fprintf(out, " %s", ticket);
    else if (waybill)
        fprintf(out, " %s", waybill);
    else if (category || site)
        fprintf(out, " %s/%s", category ? category : "-", site ? site : "-");
    put_field(out, a, "round", "round");
    put_field(out, a, "stage", "stage");
    put_field(out, a, "priority", "priority");
    put_list(out, a, "reasons", "reasons");
    put_list(out, a, "major_because", "major_because");
    put_field(out, a, "suggested_category", "suggested");
    put_field(out, a, "reason", "reason");
    put_field(out, a, "month", "month");
    put_field(out, a, "deadline", "deadline");
    put_duration(out, a, "late_by_seconds", "late_by");
    put_responsible(out, a);
    put_field(out, a, "count", "count");
    put_field(out, a, "previous_ticket_id", "previous");
    if (alert_id)
        fprintf(out, " (%s)", alert_id);
    fputc('\n', out);
}

static void print_dlq(FILE *out, json_t *d) {
    char b1[64], b2[64], b3[64], b4[64], b5[64];
    const char *reason = scalar(d, "reason", b1, sizeof(b1));
    const char *detail = scalar(d, "detail", b2, sizeof(b2));
    const char *topic = scalar(d, "source_topic", b3, sizeof(b3));
    const char *part = scalar(d, "partition", b4, sizeof(b4));
    const char *off = scalar(d, "offset", b5, sizeof(b5));

    fprintf(out, "DLQ %s %s %s[%s]@%s\n", reason ? reason : "?", detail ? detail : "-",
            topic ? topic : "?", part ? part : "?", off ? off : "?");
}

/* Raw payloads stay on one line, control bytes shown as '.'. */
static void print_raw(FILE *out, const rd_kafka_message_t *m) {
    const unsigned char *p = m->payload;

    for (size_t i = 0; i < m->len; i++)
        fputc(p[i] < 0x20 || p[i] == 0x7f ? '.' : p[i], out);
    fputc('\n', out);
}

static void print_message(FILE *out, const rd_kafka_message_t *m, bool as_json) {
    json_t *doc;
    const char *schema;

    if (as_json || !m->payload) {
        print_raw(out, m);
        return;
    }
    doc = json_loadb(m->payload, m->len, 0, NULL);
    schema = json_string_value(json_object_get(doc, "schema"));
    if (json_is_object(doc) && schema && strcmp(schema, "alert.v1") == 0)
        print_alert(out, doc);
    else if (json_is_object(doc) && schema && strcmp(schema, "dlq.v1") == 0)
        print_dlq(out, doc);
    else
        print_raw(out, m);
    json_decref(doc);
}

/*
 * Adds every partition of topic to parts. Retries while the topic is not yet
 * known: the tail is often started next to a broker that is still coming up.
 */
static int add_partitions(rd_kafka_t *rk, const char *topic, int64_t start,
                          rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double deadline = now_monotonic() + METADATA_WAIT_MS / 1000.0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    int rc = -1;

    if (!rkt) {
        fprintf(stderr, "complaintd-tail: topic %s: %s\n", topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    while (!stop_requested) {
        const struct rd_kafka_metadata *md = NULL;

        err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (!err && md->topic_cnt == 1) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            err = t->err;
            if (!err && t->partition_cnt > 0) {
                for (int i = 0; i < t->partition_cnt; i++)
                    rd_kafka_topic_partition_list_add(parts, topic, t->partitions[i].id)
                        ->offset = start;
                rc = 0;
            }
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rc == 0 || now_monotonic() > deadline)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 250 * 1000 * 1000}, NULL);
    }
    if (rc != 0 && !stop_requested)
        fprintf(stderr, "complaintd-tail: no partitions for topic %s: %s\n", topic,
                rd_kafka_err2str(err));
    rd_kafka_topic_destroy(rkt);
    return rc;
}

static int parse_seconds(const char *s, double *out) {
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    enum { OPT_FROM_BEGINNING = 256, OPT_IDLE_EXIT, OPT_JSON };
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"idle-exit", required_argument, NULL, OPT_IDLE_EXIT},
        {"json", no_argument, NULL, OPT_JSON},
        {"property", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *topics[MAX_TOPICS];
    int ntopics = 0;
    const char *bootstrap = NULL;
    bool from_beginning = false, as_json = false;
    double idle_exit = 0, last_activity;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err;
    struct sigaction sa;
    int rc = 1;
    int opt;

    /*
     * librdkafka refuses assign() without a group.id even though nothing is
     * joined or committed; a per-process name keeps it out of real groups.
     */
    snprintf(errstr, sizeof(errstr), "complaintd-tail-%ld", (long)getpid());
    rd_kafka_conf_set(conf, "group.id", errstr, NULL, 0);

    while ((opt = getopt_long(argc, argv, "b:t:X:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "complaintd-tail: too many topics (max %d)\n", MAX_TOPICS);
                goto usage_error;
            }
            topics[ntopics++] = optarg;
            break;
        case OPT_FROM_BEGINNING:
            from_beginning = true;
            break;
        case OPT_IDLE_EXIT:
            if (parse_seconds(optarg, &idle_exit) != 0) {
                fprintf(stderr, "complaintd-tail: invalid --idle-exit '%s'\n", optarg);
                goto usage_error;
            }
            break;
        case OPT_JSON:
            as_json = true;
            break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "complaintd-tail: -X expects KEY=VALUE\n");
                goto usage_error;
            }
            *eq = '\0';
            if (rd_kafka_conf_set(conf, optarg, eq + 1, errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK) {
                fprintf(stderr, "complaintd-tail: -X %s: %s\n", optarg, errstr);
                goto usage_error;
            }
            break;
        }
        case 'h':
            usage(stdout);
            rd_kafka_conf_destroy(conf);
            return 0;
        case 'V':
            printf("complaintd-tail %s (librdkafka %s)\n", COMPLAINTD_VERSION,
                   rd_kafka_version_str());
            rd_kafka_conf_destroy(conf);
            return 0;
        default:
            goto usage_error;
        }
    }
    if (optind < argc || !bootstrap || ntopics == 0) {
        if (optind < argc)
            fprintf(stderr, "complaintd-tail: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "complaintd-tail: -b and at least one -t are required\n");
        goto usage_error;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* `complaintd-tail | head` should end quietly. */
    signal(SIGPIPE, SIG_IGN);

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "complaintd-tail: %s\n", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "complaintd-tail: %s\n", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk now */

    parts = rd_kafka_topic_partition_list_new(ntopics * 4);
    for (int i = 0; i < ntopics; i++) {
        if (add_partitions(rk, topics[i], from_beginning ? RD_KAFKA_OFFSET_BEGINNING
                                                         : RD_KAFKA_OFFSET_END,
                           parts) != 0) {
            if (stop_requested)
                rc = 0;
            goto out;
        }
    }
    err = rd_kafka_assign(rk, parts);
    if (err) {
        fprintf(stderr, "complaintd-tail: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }

    last_activity = now_monotonic();
    while (!stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

        if (!m) {
            if (idle_exit > 0 && now_monotonic() - last_activity >= idle_exit)
                break;
            continue;
        }
        if (m->err) {
            /* Transient broker errors are retried by librdkafka; only report. */
            fprintf(stderr, "complaintd-tail: %s\n", rd_kafka_message_errstr(m));
        } else {
            print_message(stdout, m, as_json);
            fflush(stdout);
            last_activity = now_monotonic();
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;

out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;

usage_error:
    usage(stderr);
    rd_kafka_conf_destroy(conf);
    return 2;
}
