/* metrics: the plain-text metrics endpoint ([daemon] metrics_listen).
 * libmicrohttpd serves GET /metrics from its own thread; the loop thread
 * renders the Prometheus text format with metrics_update and swaps it in, so
 * a scrape only ever copies a finished page and never touches the engine. */
#ifndef COMPLAINTD_METRICS_H
#define COMPLAINTD_METRICS_H

#include <stddef.h>

#include "pipeline.h"

typedef struct Metrics Metrics;

/* listen is "host:port" or "[v6]:port" (checked by cfg). Binds the first
 * address the host resolves to that can be bound, and only that one.
 * NULL with err filled when it cannot listen. */
__attribute__((warn_unused_result)) Metrics *metrics_start(const char *listen, char *err, size_t errlen);

/* Loop thread only: renders c and makes it the page that scrapes see. */
void metrics_update(Metrics *m, const PipelineCounters *c);

/* Stops the server thread and frees m; NULL is a no-op. */
void metrics_stop(Metrics *m);

#endif
