/* bench_parcels: how fast and how lean the parcel set (lib/scan) is with
 * millions of parcels in flight. See README.md beside this file.
 *
 *   bench_parcels [parcels]     (default 1,000,000)
 *
 * Prints figures only; nothing here is timed against a limit, so it cannot
 * fail on a slow or busy machine. It exits non-zero only when the set gives
 * a wrong answer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "scan.h"

#define SITES 200
#define N_ORIGIN 40
#define N_HUB 40 /* sites 40..79; the rest are delivery sites */
#define T0 INT64_C(1795396500)
#define STALL (INT64_C(168) * 3600)

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: fixed seed, so every run scans in the same order. */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void shuffle(uint32_t *v, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(rng() % i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* A 12-character waybill, "SF" and ten digits. Multiplying by an odd number
 * not divisible by 5 permutes 0..10^10-1, so the waybills are distinct and
 * not in parcel order, like real numbering after a few days of traffic. */
static void waybill(uint32_t k, char out[13])
{
    uint64_t x = (uint64_t)k * UINT64_C(2654435761) % UINT64_C(10000000000);
    out[0] = 'S';
    out[1] = 'F';
    for (int i = 11; i >= 2; i--) {
        out[i] = (char)('0' + x % 10);
        x /= 10;
    }
    out[12] = '\0';
}

static void set_site(char *dst, int site)
{
    dst[0] = 'S';
    dst[1] = (char)('0' + site / 100);
    dst[2] = (char)('0' + site / 10 % 10);
    dst[3] = (char)('0' + site % 10);
    dst[4] = '\0';
}

/* Scan `step` of parcel k: 0 pickup at its origin, 1 depart origin -> hub,
 * 2 arrive at the hub, 3 depart hub -> delivery site. */
static void make_scan(ScanEvent *e, uint32_t k, int step)
{
    int origin = (int)(k % N_ORIGIN);
    int hub = N_ORIGIN + (int)(k / N_ORIGIN % N_HUB);
    int delivery = N_ORIGIN + N_HUB + (int)(k % (SITES - N_ORIGIN - N_HUB));
    waybill(k, e->waybill);
    e->next_site[0] = '\0';
    e->next_site_role = ROLE_NONE;
    switch (step) {
    case 0:
        e->scan_type = SCAN_PICKUP;
        set_site(e->site, origin);
        e->site_role = ROLE_ORIGIN;
        break;
    case 1:
        e->scan_type = SCAN_DEPART;
        set_site(e->site, origin);
        e->site_role = ROLE_ORIGIN;
        set_site(e->next_site, hub);
        e->next_site_role = ROLE_HUB;
        break;
    case 2:
        e->scan_type = SCAN_ARRIVE;
        set_site(e->site, hub);
        e->site_role = ROLE_HUB;
        break;
    default:
        e->scan_type = SCAN_DEPART;
        set_site(e->site, hub);
        e->site_role = ROLE_HUB;
        set_site(e->next_site, delivery);
        e->next_site_role = ROLE_DELIVERY;
        break;
    }
    /* Parcels were picked up over one day; each step takes a few hours. */
    e->occurred_at = T0 + (int64_t)(k % 86400) + (int64_t)step * 4 * 3600;
}

static int fail(const char *what, uint32_t k)
{
    fprintf(stderr, "bench_parcels: %s (parcel %" PRIu32 ")\n", what, k);
    return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    long n_arg = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n_arg < 1 || n_arg > 100000000) {
        fprintf(stderr, "usage: %s [parcels (1..100000000)]\n", argv[0]);
        return EXIT_FAILURE;
    }
    uint32_t n = (uint32_t)n_arg;
    uint32_t *order = malloc((size_t)n * sizeof *order);
    ParcelSet *s = ps_new();
    if (!order || !s)
        return fail("out of memory", 0);
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;

    ScanEvent e;
    memset(&e, 0, sizeof e);
    strcpy(e.event_id, "bench");
    PsResult res;
    bool was_stalled;
    int64_t prev;

    /* Three scans per parcel, each round in a new random order of parcels:
     * the first creates the parcel, the others look it up and re-arm it. */
    double apply_sec = 0;
    for (int step = 0; step < 3; step++) {
        shuffle(order, n);
        double t = now_sec();
        for (uint32_t i = 0; i < n; i++) {
            make_scan(&e, order[i], step);
            if (ps_apply(s, &e, STALL, &res, &was_stalled, &prev) < 0)
                return fail("out of memory", order[i]);
            if (res != PS_LATEST)
                return fail("scan not taken as the latest", order[i]);
        }
        apply_sec += now_sec() - t;
    }
    if (ps_count(s) != n)
        return fail("wrong parcel count", n);
    size_t mem = ps_memory(s);

    /* Lookups, as a complaint about a waybill does. */
    shuffle(order, n);
    double t = now_sec();
    LatestScan l;
    for (uint32_t i = 0; i < n; i++) {
        char wb[13];
        waybill(order[i], wb);
        if (!ps_latest(s, wb, &l) || l.type != SCAN_ARRIVE)
            return fail("lookup", order[i]);
    }
    double lookup_sec = now_sec() - t;

    /* A fourth scan for every parcel: what a re-arm costs, lookup included. */
    shuffle(order, n);
    t = now_sec();
    for (uint32_t i = 0; i < n; i++) {
        make_scan(&e, order[i], 3);
        if (ps_apply(s, &e, STALL, &res, &was_stalled, &prev) < 0 || res != PS_LATEST)
            return fail("re-arm", order[i]);
    }
    double rearm_sec = now_sec() - t;

    /* Every timer falls due: pop them all, in deadline order. */
    t = now_sec();
    uint32_t popped = 0;
    int64_t due, last = INT64_MIN;
    Parcel *p;
    while ((p = ps_next_due(s, &due)) != NULL) {
        if (due < last)
            return fail("timers out of order", popped);
        last = due;
        ps_mark_stalled(s, p);
        popped++;
    }
    double pop_sec = now_sec() - t;
    if (popped != n)
        return fail("wrong number of timers", popped);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux */

    uint64_t scans = (uint64_t)n * 3;
    printf("parcels=%" PRIu32 " scans=%" PRIu64 " scans_per_sec=%.0f bytes_per_parcel=%.1f rss_bytes_per_parcel=%.1f\n",
           n, scans, (double)scans / apply_sec, (double)mem / n, rss / n);
    printf("lookups_per_sec=%.0f rearm_ns=%.1f rearms_per_sec=%.0f pop_ns=%.1f popped=%" PRIu32 "\n",
           (double)n / lookup_sec, rearm_sec * 1e9 / n, (double)n / rearm_sec, pop_sec * 1e9 / n, popped);

    ps_free(s);
    free(order);
    return EXIT_SUCCESS;
}
