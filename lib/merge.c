/* merge: the partition merge; see merge.h. A drain touches a handful of
 * partitions, so a scan over their heads beats a heap. */
#include "merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct Queue {
    char *topic;
    int32_t partition;
    MergeItem *head, *tail;
    size_t count;
    bool tracked;
} Queue;

struct Merge {
    Queue *q;
    size_t n_q, count;
    uint64_t emptied;
};

Merge *merge_new(void)
{
    return calloc(1, sizeof(Merge));
}

void merge_free(Merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_q; i++)
        free(m->q[i].topic);
    free(m->q);
    free(m);
}

static Queue *queue_of(Merge *m, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < m->n_q; i++)
        if (m->q[i].partition == partition && strcmp(m->q[i].topic, topic) == 0)
            return &m->q[i];
    char *t = strdup(topic);
    Queue *v = t ? realloc(m->q, (m->n_q + 1) * sizeof *v) : NULL;
    if (!v) {
        free(t);
        return NULL;
    }
    m->q = v;
    Queue *q = &m->q[m->n_q++];
    memset(q, 0, sizeof *q);
    q->topic = t;
    q->partition = partition;
    return q;
}

int merge_push(Merge *m, const char *topic, int32_t partition, MergeItem *it)
{
    Queue *q = queue_of(m, topic, partition);
    if (!q)
        return -1;
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->count++;
    m->count++;
    return 0;
}

static bool before(const MergeItem *a, const MergeItem *b)
{
    if (a->at != b->at)
        return a->at < b->at;
    if (a->ns != b->ns)
        return a->ns < b->ns;
    return a->rank < b->rank;
}

/* Among equals, by topic name, then partition: the order a restart's
 * load finds too (the parcels' latest scans), whatever order the fetches
 * came in. */
static bool queue_before(const Queue *a, const Queue *b)
{
    int c = strcmp(a->topic, b->topic);
    return c ? c < 0 : a->partition < b->partition;
}

static Queue *best(const Merge *m)
{
    Queue *b = NULL;
    for (size_t i = 0; i < m->n_q; i++) {
        Queue *q = &m->q[i];
        if (q->head && (!b || before(q->head, b->head) || (!before(b->head, q->head) && queue_before(q, b))))
            b = q;
    }
    return b;
}

MergeItem *merge_peek(const Merge *m)
{
    Queue *q = best(m);
    return q ? q->head : NULL;
}

MergeItem *merge_pop(Merge *m)
{
    Queue *q = best(m);
    if (!q)
        return NULL;
    MergeItem *it = q->head;
    q->head = it->next;
    if (!q->head) {
        q->tail = NULL;
        m->emptied++;
    }
    it->next = NULL;
    q->count--;
    m->count--;
    return it;
}

uint64_t merge_emptied(const Merge *m)
{
    return m->emptied;
}

size_t merge_count(const Merge *m)
{
    return m->count;
}

MergeItem *merge_take(Merge *m, const char *topic, int32_t partition)
{
    MergeItem *head = NULL, *tail = NULL;
    for (size_t i = 0; i < m->n_q; i++) {
        Queue *q = &m->q[i];
        bool match = !topic || (q->partition == partition && strcmp(q->topic, topic) == 0);
        if (!match || !q->head)
            continue;
        m->count -= q->count;
        q->count = 0;
        if (tail)
            tail->next = q->head;
        else
            head = q->head;
        tail = q->tail;
        q->head = q->tail = NULL;
    }
    return head;
}

int merge_track(Merge *m, const char *topic, int32_t partition)
{
    Queue *q = queue_of(m, topic, partition);
    if (!q)
        return -1;
    q->tracked = true;
    return 0;
}

void merge_untrack(Merge *m, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < m->n_q; i++)
        if (!topic || (m->q[i].partition == partition && strcmp(m->q[i].topic, topic) == 0))
            m->q[i].tracked = false;
}

size_t merge_count_of(const Merge *m, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < m->n_q; i++)
        if (m->q[i].partition == partition && strcmp(m->q[i].topic, topic) == 0)
            return m->q[i].count;
    return 0;
}

const char *merge_blocker(const Merge *m, int (*behind)(void *arg, const char *topic, int32_t partition), void *arg,
                          int32_t *partition)
{
    for (size_t i = 0; i < m->n_q; i++) {
        const Queue *q = &m->q[i];
        if (q->tracked && !q->head && behind(arg, q->topic, q->partition)) {
            *partition = q->partition;
            return q->topic;
        }
    }
    return NULL;
}
