/* merge: the partition merge. What a drain fetched waits in one FIFO per
 * partition, and leaves in event-time order: each partition keeps its own
 * order, and among the partitions' next items the earliest time goes first
 * (ties: by topic name, then partition number). Kafka leaves the order across partitions
 * open; this one keeps a backlog from running the event clock ahead on one
 * partition while another still holds older events.
 *
 * Items are the caller's: embed a MergeItem (first, or find the container
 * back from it) and keep the item alive until it leaves. */
#ifndef COMPLAINTD_MERGE_H
#define COMPLAINTD_MERGE_H

#include <stddef.h>
#include <stdint.h>

/* Items go in the order of (at, ns, rank); among equals, the lower topic
 * name, then the lower partition, goes first. */
typedef struct MergeItem {
    struct MergeItem *next;
    int64_t at;   /* INT64_MIN: goes before everything (a message to dead-letter) */
    uint32_t ns;  /* the fraction of its second */
    uint8_t rank; /* at one instant, lower first */
} MergeItem;

typedef struct Merge Merge;

Merge *merge_new(void);
void merge_free(Merge *m); /* items still in it stay the caller's */

/* Appends it to its partition's FIFO. -1 when out of memory. */
__attribute__((warn_unused_result)) int merge_push(Merge *m, const char *topic, int32_t partition, MergeItem *it);
/* The next item in merge order, NULL when empty. */
MergeItem *merge_peek(const Merge *m);
MergeItem *merge_pop(Merge *m);
size_t merge_count(const Merge *m);
/* How many pops have left a partition with nothing buffered: a caller that
 * found no blocker need not look again until this moves (or more is
 * fetched). */
uint64_t merge_emptied(const Merge *m);
/* Takes every item of one partition out (a revoked partition), as a list
 * linked by `next`; NULL when none. topic NULL: every partition. */
MergeItem *merge_take(Merge *m, const char *topic, int32_t partition);

/* The partitions being consumed (the assignment). A tracked partition with
 * nothing buffered may still have older events to come: the caller knows
 * whether it is behind its end (merge_blocker), and the merge's next item
 * waits for it. -1 when out of memory. Untracking a partition (revoked)
 * leaves its items. */
__attribute__((warn_unused_result)) int merge_track(Merge *m, const char *topic, int32_t partition);
void merge_untrack(Merge *m, const char *topic, int32_t partition); /* topic NULL: all */
/* Items buffered from one partition. */
size_t merge_count_of(const Merge *m, const char *topic, int32_t partition);
/* The first tracked partition with nothing buffered for which behind()
 * says more is to come: the merge cannot tell what goes next until it is
 * fetched. NULL (and *partition untouched) when none holds it back. */
const char *merge_blocker(const Merge *m, int (*behind)(void *arg, const char *topic, int32_t partition), void *arg,
                          int32_t *partition);

#endif
