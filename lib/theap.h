/* theap: an intrusive binary min-heap of due times.
 *
 * Owners embed a ThNode and find themselves back with container_of-style
 * arithmetic, so a pending timer costs the node (12 bytes) plus one pointer in
 * the heap array, and re-arming is O(log n). */
#ifndef COMPLAINTD_THEAP_H
#define COMPLAINTD_THEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TH_NONE UINT32_MAX

typedef struct ThNode {
    int64_t due;
    uint32_t idx; /* position in the heap, TH_NONE when not queued */
} ThNode;

typedef struct THeap {
    ThNode **v;
    uint32_t n, cap;
} THeap;

static inline void th_node_init(ThNode *n)
{
    n->due = 0;
    n->idx = TH_NONE;
}

static inline bool th_queued(const ThNode *n)
{
    return n->idx != TH_NONE;
}

void th_init(THeap *h);
void th_free(THeap *h); /* frees the array, not the nodes */
/* Queues n at `due`, or moves it there when already queued. -1 when out of memory. */
__attribute__((warn_unused_result)) int th_set(THeap *h, ThNode *n, int64_t due);
void th_remove(THeap *h, ThNode *n);
static inline ThNode *th_peek(const THeap *h)
{
    return h->n ? h->v[0] : NULL;
}
ThNode *th_pop(THeap *h);

#endif
