/* theap: intrusive binary min-heap; see theap.h. */
#include "theap.h"

#include <stdlib.h>

void th_init(THeap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void th_free(THeap *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->v[i]->idx = TH_NONE;
    free(h->v);
    th_init(h);
}

static void place(THeap *h, uint32_t i, ThNode *n)
{
    h->v[i] = n;
    n->idx = i;
}

static void sift_up(THeap *h, uint32_t i)
{
    ThNode *n = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->v[p]->due <= n->due)
            break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, n);
}

static void sift_down(THeap *h, uint32_t i)
{
    ThNode *n = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->due < h->v[c]->due)
            c++;
        if (n->due <= h->v[c]->due)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, n);
}

int th_set(THeap *h, ThNode *n, int64_t due)
{
    if (th_queued(n)) {
        int64_t old = n->due;
        n->due = due;
        if (due < old)
            sift_up(h, n->idx);
        else if (due > old)
            sift_down(h, n->idx);
        return 0;
    }
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        ThNode **v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    n->due = due;
    place(h, h->n++, n);
    sift_up(h, n->idx);
    return 0;
}

void th_remove(THeap *h, ThNode *n)
{
    if (!th_queued(n))
        return;
    uint32_t i = n->idx;
    ThNode *last = h->v[--h->n];
    n->idx = TH_NONE;
    if (last == n)
        return;
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->due > last->due)
        sift_up(h, i);
    else
        sift_down(h, i);
}

ThNode *th_pop(THeap *h)
{
    ThNode *top = th_peek(h);
    if (top)
        th_remove(h, top);
    return top;
}
