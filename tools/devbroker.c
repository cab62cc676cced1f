/*
 * complaintd-devbroker: a throw-away Kafka-protocol broker for development,
 * the demo and the integration tests.
 *
 * It is librdkafka's mock cluster (rdkafka_mock.h) listening on loopback, so
 * no JVM, ZooKeeper or KRaft is needed. The mock cluster speaks enough of the
 * protocol for everything complaintd does: produce (idempotent too), fetch,
 * metadata, consumer groups with offset commits.
 *
 * Its limits, which matter when reading test results:
 *   - everything lives in memory and is gone when the process exits;
 *   - the port is chosen by the kernel (random), hence --bootstrap-file;
 *   - each partition keeps at most ~5 MiB / 100000 record batches, older
 *     batches are dropped silently (fine for tests, not for load runs);
 *   - topics that are not created here are auto-created on first use with
 *     4 partitions, whatever --partitions says.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifndef COMPLAINTD_VERSION
#define COMPLAINTD_VERSION "dev"
#endif

#define MAX_TOPICS 64

static const char *const default_topics[] = {
    "complaints.events",
    "parcels.scans",
    "complaints.alerts",
    "complaints.dlq",
};

static void usage(FILE *out) {
    fprintf(out,
            "Usage: complaintd-devbroker [OPTIONS]\n"
            "\n"
            "Runs an in-memory Kafka-protocol broker (librdkafka mock cluster)\n"
            "on 127.0.0.1 for development and tests, prints its bootstrap\n"
            "address on stdout and serves until SIGTERM or SIGINT.\n"
            "\n"
            "Options:\n"
            "  -p, --partitions N        partitions per topic (default 4)\n"
            "  -t, --topic NAME          create NAME; repeatable; replaces the\n"
            "                            default list (complaints.events,\n"
            "                            parcels.scans, complaints.alerts,\n"
            "                            complaints.dlq)\n"
            "  -f, --bootstrap-file FILE also write the address to FILE (atomically,\n"
            "                            once the topics exist); removed on exit\n"
            "  -d, --debug CONTEXTS      librdkafka debug contexts (e.g. mock,protocol)\n"
            "  -h, --help                show this help\n"
            "  -V, --version             show the version\n");
}

/* Write-then-rename so a reader polling for FILE never sees a partial line. */
static int write_bootstrap_file(const char *path, const char *bootstraps) {
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    FILE *f = NULL;

    if (!tmp)
        return -1;
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());

    f = fopen(tmp, "w");
    if (!f)
        goto fail;
    if (fprintf(f, "%s\n", bootstraps) < 0)
        goto fail;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto fail;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    f = NULL;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;

fail: {
    int saved = errno;
    if (f)
        fclose(f);
    unlink(tmp);
    free(tmp);
    errno = saved;
    return -1;
}
}

static int parse_partitions(const char *s, int *out) {
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < 1 || v > 1000)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"debug", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *topics[MAX_TOPICS];
    int ntopics = 0;
    int partitions = 4;
    const char *bootstrap_file = NULL;
    bool wrote_file = false;
    const char *debug = NULL;
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    const char *bootstraps;
    sigset_t stopset;
    int sig = 0;
    int rc = 1;
    int opt;

    while ((opt = getopt_long(argc, argv, "p:t:f:d:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (parse_partitions(optarg, &partitions) != 0) {
                fprintf(stderr, "complaintd-devbroker: invalid --partitions '%s' (1..1000)\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
            if (ntopics == MAX_TOPICS) {
                fprintf(stderr, "complaintd-devbroker: too many topics (max %d)\n", MAX_TOPICS);
                return 2;
            }
            if (optarg[0] == '\0') {
                fprintf(stderr, "complaintd-devbroker: empty topic name\n");
                return 2;
            }
            topics[ntopics++] = optarg;
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'd':
            debug = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("complaintd-devbroker %s (librdkafka %s)\n", COMPLAINTD_VERSION,
                   rd_kafka_version_str());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "complaintd-devbroker: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (ntopics == 0) {
        for (size_t i = 0; i < sizeof(default_topics) / sizeof(default_topics[0]); i++)
            topics[ntopics++] = default_topics[i];
    }

    /*
     * Block the stop signals before librdkafka starts its threads: they
     * inherit the mask, so the signals stay pending for sigwait() below
     * instead of killing the process from some broker thread.
     */
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stopset, NULL) != 0) {
        fprintf(stderr, "complaintd-devbroker: pthread_sigmask failed\n");
        return 1;
    }
    /* A reader of stdout that went away must not kill the broker. */
    signal(SIGPIPE, SIG_IGN);

    /*
     * The mock cluster needs a client handle for its bookkeeping only; this
     * producer never connects anywhere. rd_kafka_mock_cluster_new() is all it
     * takes (test.mock.num.brokers would also spawn one, but then the handle
     * would bootstrap against it and we could not choose topics first).
     */
    conf = rd_kafka_conf_new();
    /* Hush the notice that this bookkeeping handle has no bootstrap.servers. */
    if (!debug)
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
    if (debug && rd_kafka_conf_set(conf, "debug", debug, errstr, sizeof(errstr)) !=
                     RD_KAFKA_CONF_OK) {
        fprintf(stderr, "complaintd-devbroker: --debug: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "complaintd-devbroker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    conf = NULL; /* owned by rk now */

    mcluster = rd_kafka_mock_cluster_new(rk, 1);
    if (!mcluster) {
        fprintf(stderr, "complaintd-devbroker: cannot create the mock cluster\n");
        goto out;
    }

    for (int i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, topics[i], partitions, 1);
        if (err) {
            fprintf(stderr, "complaintd-devbroker: topic %s: %s\n", topics[i],
                    rd_kafka_err2str(err));
            goto out;
        }
    }

    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    printf("%s\n", bootstraps);
    fflush(stdout);
    fprintf(stderr, "complaintd-devbroker: serving %d topic(s) x %d partition(s) on %s\n",
            ntopics, partitions, bootstraps);

    if (bootstrap_file && write_bootstrap_file(bootstrap_file, bootstraps) != 0) {
        fprintf(stderr, "complaintd-devbroker: cannot write %s: %s\n", bootstrap_file,
                strerror(errno));
        goto out;
    }
    wrote_file = bootstrap_file != NULL;

    /* The mock cluster runs on its own thread; this one only waits. */
    for (;;) {
        int err = sigwait(&stopset, &sig);
        if (err == 0)
            break;
        if (err != EINTR) {
            fprintf(stderr, "complaintd-devbroker: sigwait: %s\n", strerror(err));
            goto out;
        }
    }
    fprintf(stderr, "complaintd-devbroker: %s, shutting down\n", strsignal(sig));
    rc = 0;

out:
    /* A stale address would send the next reader to a dead port. */
    if (wrote_file)
        unlink(bootstrap_file);
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}
