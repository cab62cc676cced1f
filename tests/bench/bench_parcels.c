/* bench_parcels: how fast and how lean the parcel set (lib/scan) is with
 * millions of parcels in flight. See README.md beside this file.
 *
 *   bench_parcels [parcels]     (default 1,000,000)
 *
 * Prints figures only; nothing here is timed against a limit, so it cannot
 * fail on a slow or busy machine. It exits non-zero only when the set gives
 * a wrong answer.
 *
 * The figures are also given as ratios against ceilings measured in the same
 * run: the naive layout (one malloc'd ScanEvent + ThNode per parcel in a
 * StrMap, timers in a THeap). Ratios compare the code, not the machine. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "evt.h"
#include "scan.h"
#include "strmap.h"
#include "theap.h"

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

/* ---- The ceiling: the naive layout ----
 *
 * What a daemon would write without care: a whole ScanEvent per parcel in its
 * own malloc'd block, the timer node beside it, the waybill as a StrMap key
 * and a THeap of timers. Its memory is the ceiling for ours; a lookup plus a
 * th_set on it is the least work any map + heap design does per scan, so
 * its rate is the ceiling for our scans. */

typedef struct NaiveParcel {
    ScanEvent latest;
    ThNode timer;
} NaiveParcel;

/* Above this many parcels the ceiling is measured on a sample of this size
 * (about 1 GB); the memory figure is scaled back to N exactly (see below). */
#define NAIVE_MAX 2000000u

/* strmap.c's Slot: key pointer, value pointer, 32-bit hash, padded to 24. */
#define SM_SLOT_BYTES (2 * sizeof(void *) + 8)

/* What malloc takes for a block of `size` bytes, as a model of glibc on
 * 64-bit Linux: the size rounded up to its 16-byte granularity plus 16 bytes
 * of header and alignment. It matches glibc's chunk size for the blocks used
 * here (368 -> 384, a 13-byte key -> 32). */
static size_t malloc_cost(size_t size)
{
    return (size + 15) / 16 * 16 + 16;
}

/* Slots of a StrMap holding n keys: 16, doubled while more than 3/4 full
 * (sm_put's rule). */
static size_t strmap_slots(size_t n)
{
    size_t cap = 16;
    while (n * 4 > cap * 3)
        cap *= 2;
    return cap;
}

/* Capacity of a THeap holding n nodes: 64, doubled when full (th_set's rule). */
static size_t theap_cap(size_t n)
{
    size_t cap = n ? 64 : 0;
    while (cap < n)
        cap *= 2;
    return cap;
}

typedef struct NaiveResult {
    uint32_t parcels;        /* how many the ceiling was measured on */
    double bytes_per_parcel; /* scaled to the benchmark's parcel count */
    double scans_per_sec;
} NaiveResult;

static void naive_free(StrMap *m, THeap *h)
{
    void *v;
    th_free(h);
    if (!m)
        return;
    for (size_t it = 0; sm_next(m, &it, NULL, &v);)
        free(v);
    sm_free(m);
}

/* Fills the naive layout with `m` parcels in random order (untimed), then
 * times 3 rounds of lookup + th_set over them, each in a new random order,
 * as the benchmark's scan rounds. `n` is the benchmark's parcel count, to
 * which the memory figure is scaled: the per-parcel blocks are the same for
 * every parcel, the map's slot array and the heap array are sized for n by
 * their own growth rules. Returns -1 on a wrong answer or out of memory. */
static int naive_ceiling(uint32_t n, uint32_t m, uint32_t *order, NaiveResult *out)
{
    StrMap *map = sm_new();
    THeap heap;
    th_init(&heap);
    if (!map)
        return -1;
    size_t blocks = 0; /* malloc_cost of every per-parcel block */

    for (uint32_t i = 0; i < m; i++)
        order[i] = i;
    shuffle(order, m);
    for (uint32_t i = 0; i < m; i++) {
        NaiveParcel *p = malloc(sizeof *p);
        if (!p)
            goto fail;
        memset(p, 0, sizeof *p);
        make_scan(&p->latest, order[i], 0);
        strcpy(p->latest.event_id, "bench");
        th_node_init(&p->timer);
        if (sm_put(map, p->latest.waybill, p) < 0) {
            free(p);
            goto fail;
        }
        blocks += malloc_cost(sizeof *p) + malloc_cost(strlen(p->latest.waybill) + 1); /* + sm_put's strdup */
        if (th_set(&heap, &p->timer, p->latest.occurred_at + STALL) < 0)
            goto fail;
    }
    if (sm_count(map) != m || heap.cap != theap_cap(m))
        goto fail;

    /* Steps 1..3 move every timer later, as the benchmark's rounds do. */
    double sec = 0;
    for (int step = 1; step <= 3; step++) {
        shuffle(order, m);
        double t = now_sec();
        for (uint32_t i = 0; i < m; i++) {
            uint32_t k = order[i];
            char wb[13];
            waybill(k, wb);
            NaiveParcel *p = sm_get(map, wb);
            if (!p)
                goto fail;
            int64_t at = T0 + (int64_t)(k % 86400) + (int64_t)step * 4 * 3600;
            if (th_set(&heap, &p->timer, at + STALL) < 0)
                goto fail;
        }
        sec += now_sec() - t;
    }

    double per_parcel = (double)blocks / m;
    double containers = (double)(strmap_slots(n) * SM_SLOT_BYTES + theap_cap(n) * sizeof(ThNode *));
    out->parcels = m;
    out->bytes_per_parcel = per_parcel + containers / n;
    out->scans_per_sec = (double)m * 3 / sec;
    naive_free(map, &heap);
    return 0;

fail:
    naive_free(map, &heap);
    return -1;
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

    /* Peak RSS before the ceiling runs: it is about our set only. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux */

    uint64_t scans = (uint64_t)n * 3;
    double scans_per_sec = (double)scans / apply_sec;
    double bytes_per_parcel = (double)mem / n;
    printf("parcels=%" PRIu32 " scans=%" PRIu64 " scans_per_sec=%.0f bytes_per_parcel=%.1f rss_bytes_per_parcel=%.1f\n",
           n, scans, scans_per_sec, bytes_per_parcel, rss / n);
    printf("lookups_per_sec=%.0f rearm_ns=%.1f rearms_per_sec=%.0f pop_ns=%.1f popped=%" PRIu32 "\n",
           (double)n / lookup_sec, rearm_sec * 1e9 / n, (double)n / rearm_sec, pop_sec * 1e9 / n, popped);
    fflush(stdout);
    ps_free(s);

    NaiveResult naive;
    if (naive_ceiling(n, n < NAIVE_MAX ? n : NAIVE_MAX, order, &naive) < 0)
        return fail("naive ceiling: lookup failed or out of memory", 0);
    printf("naive_parcels=%" PRIu32 " naive_bytes_per_parcel=%.1f naive_scans_per_sec=%.0f memory_ratio=%.3f "
           "speed_ratio=%.3f\n",
           naive.parcels, naive.bytes_per_parcel, naive.scans_per_sec, bytes_per_parcel / naive.bytes_per_parcel,
           scans_per_sec / naive.scans_per_sec);

    free(order);
    return EXIT_SUCCESS;
}
