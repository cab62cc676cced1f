/* metrics: the metrics endpoint and the status page ([daemon]
 * metrics_listen). libmicrohttpd serves GET /metrics and GET / from its own
 * thread; the loop thread renders the Prometheus text format
 * (metrics_update) and the HTML status page (metrics_update_status) and
 * swaps them in, so a request only ever copies a finished page and never
 * touches the engine. */
#ifndef COMPLAINTD_METRICS_H
#define COMPLAINTD_METRICS_H

#include <stddef.h>

#include "pipeline.h"

typedef struct Metrics Metrics;

/* listen is "host:port" or "[v6]:port" (checked by cfg). Binds the first
 * address the host resolves to that can be bound, and only that one.
 * NULL with err filled when it cannot listen. */
__attribute__((warn_unused_result)) Metrics *metrics_start(const char *listen, char *err, size_t errlen);

/* While waiting as a standby (before the loop runs): /metrics says
 * complaintd_standby 1, and / says whose desk it waits for. */
void metrics_standby(Metrics *m, const char *group);
/* Loop thread only: renders c and makes it the page that scrapes see. */
void metrics_update(Metrics *m, const PipelineCounters *c);

/* Loop thread only: renders the status page served at / (HTML, no
 * external assets). */
void metrics_update_status(Metrics *m, const PipelineStatusPage *s);

/* Stops the server thread and frees m; NULL is a no-op. */
void metrics_stop(Metrics *m);

#endif
