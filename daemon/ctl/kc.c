/* kc: complaintctl's Kafka client; see kc.h. */
#include "kc.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* librdkafka's own errors; its warnings (a consumer property of the
 * daemon's rdkafka.* keys ignored by a producer, a broker that is still
 * connecting) would only be noise in a tool's output. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        fprintf(stderr, CTL_NAME ": kafka %s: %s\n", fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", k, e);
        return -1;
    }
    return 0;
}

rd_kafka_t *kc_open(const Config *cfg, KcDelivered dr, char *err, size_t errlen)
{
    static const struct {
        const char *key, *value;
    } defaults[] = {
        /* a replay is produced once: the broker drops the producer's retries */
        {"enable.idempotence", "true"},
        /* give up on a delivery in time for the transaction that records it */
        {"message.timeout.ms", "30000"},
        {"linger.ms", "5"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set(conf, "bootstrap.servers", cfg->brokers, err, errlen) < 0 ||
        set(conf, "client.id", CTL_NAME, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (set(conf, defaults[i].key, defaults[i].value, err, errlen) < 0)
            goto fail;
    for (int i = 0; i < cfg->n_rdkafka; i++)
        if (set(conf, cfg->rdkafka[i].key, cfg->rdkafka[i].value, err, errlen) < 0)
            goto fail;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (dr)
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e); /* takes conf when it succeeds */
    if (!rk) {
        snprintf(err, errlen, "kafka: %s", e);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int kc_partitions(rd_kafka_t *rk, const char *topic, char *err, size_t errlen)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t) {
        snprintf(err, errlen, "kafka: topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, KC_TIMEOUT_MS);
    int n = -1;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: cannot read the metadata of %s: %s", topic, rd_kafka_err2str(e));
    } else if (md->topic_cnt < 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        n = 0;
    } else if (md->topics[0].err) {
        snprintf(err, errlen, "kafka: topic %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}
