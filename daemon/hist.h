/* hist: a fixed-bucket histogram for the metrics endpoint (Prometheus
 * cumulative buckets, rendered by daemon/metrics). Loop thread only. */
#ifndef COMPLAINTD_HIST_H
#define COMPLAINTD_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_MAX_BUCKETS 20

typedef struct Hist {
    const double *bounds; /* upper bounds, ascending; +Inf is implicit */
    size_t n;
    uint64_t counts[HIST_MAX_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;                    /* every observation (the +Inf bucket) */
    double sum;
} Hist;

static inline void hist_init(Hist *h, const double *bounds, size_t n)
{
    *h = (Hist){.bounds = bounds, .n = n < HIST_MAX_BUCKETS ? n : HIST_MAX_BUCKETS};
}

static inline void hist_observe(Hist *h, double v)
{
    for (size_t i = 0; i < h->n; i++)
        if (v <= h->bounds[i]) {
            h->counts[i]++;
            break;
        }
    h->count++;
    h->sum += v;
}

#endif
