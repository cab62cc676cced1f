/* kc: complaintctl's Kafka client. One idempotent producer handle, which
 * also answers metadata and watermark queries; every call blocks with a
 * timeout. Properties: bootstrap.servers from [kafka] brokers, client.id
 * complaintctl, our defaults, then the operator's rdkafka.* keys over them
 * (as the daemon does, so security settings apply here too). */
#ifndef COMPLAINTCTL_KC_H
#define COMPLAINTCTL_KC_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* How long complaintctl waits for Kafka at most, per call. */
#define KC_TIMEOUT_MS 15000

/* dr: the delivery report callback of produced messages, or NULL. */
typedef void (*KcDelivered)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
rd_kafka_t *kc_open(const Config *cfg, KcDelivered dr, char *err, size_t errlen);

/* The partition count of a topic: 0 when the broker does not know the
 * topic, -1 with err set when the broker cannot be asked. */
int kc_partitions(rd_kafka_t *rk, const char *topic, char *err, size_t errlen);

#endif
