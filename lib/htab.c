/* htab: pointer slots, keys in the items; see htab.h. */
#include "htab.h"

#include <stdlib.h>
#include <string.h>

uint64_t ht_hash_str(const char *s, uint64_t seed)
{
    uint64_t h = seed ? seed : 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    /* mix the high bits down: slots are taken from the low ones */
    return h ^ (h >> 29);
}

void ht_init(HTab *t, HtHash hash)
{
    memset(t, 0, sizeof *t);
    t->hash = hash;
}

void ht_free(HTab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static void place(void **slots, size_t cap, void *item, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = item;
}

static int grow(HTab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    void **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            place(slots, cap, t->slots[i], t->hash(t->slots[i]));
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

int ht_add(HTab *t, void *item)
{
    if ((t->n + 1) * 10 > t->cap * 7 && grow(t) < 0)
        return -1;
    place(t->slots, t->cap, item, t->hash(item));
    t->n++;
    return 0;
}

bool ht_has(const HTab *t, const void *item)
{
    if (!t->cap)
        return false;
    size_t mask = t->cap - 1, i = (size_t)t->hash(item) & mask;
    while (t->slots[i] && t->slots[i] != item)
        i = (i + 1) & mask;
    return t->slots[i] != NULL;
}

/* Backward shift: whether the item in slot j, whose home slot is home, may
 * move into the hole (home not in (hole, j] cyclically). */
static bool may_fill(size_t hole, size_t j, size_t home)
{
    return hole <= j ? !(home > hole && home <= j) : !(home > hole || home <= j);
}

bool ht_remove(HTab *t, const void *item)
{
    if (!t->cap)
        return false;
    size_t mask = t->cap - 1, i = (size_t)t->hash(item) & mask;
    while (t->slots[i] && t->slots[i] != item)
        i = (i + 1) & mask;
    if (!t->slots[i])
        return false;
    /* Backward shift: pull later items of the cluster into the hole when
     * their home slot allows it. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        if (may_fill(hole, j, (size_t)t->hash(t->slots[j]) & mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole] = NULL;
    t->n--;
    return true;
}

void *ht_next(const HTab *t, uint64_t h, HtMatch match, const void *key, size_t *pos)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    size_t i = *pos == SIZE_MAX ? (size_t)h & mask : (*pos + 1) & mask;
    for (size_t steps = 0; steps < t->cap && t->slots[i]; steps++, i = (i + 1) & mask) {
        if (match(t->slots[i], key)) {
            *pos = i;
            return t->slots[i];
        }
    }
    *pos = i;
    return NULL;
}

void *ht_get(const HTab *t, uint64_t h, HtMatch match, const void *key)
{
    size_t pos = SIZE_MAX;
    return ht_next(t, h, match, key, &pos);
}

void *ht_each(const HTab *t, size_t *i)
{
    for (; *i < t->cap; (*i)++)
        if (t->slots[*i])
            return t->slots[(*i)++];
    return NULL;
}

size_t ht_memory(const HTab *t)
{
    return t->cap * sizeof *t->slots;
}

/* ---- HIdx --------------------------------------------------------------- */

void hx_free(HIdx *x)
{
    free(x->tags);
    free(x->items);
    memset(x, 0, sizeof *x);
}

static void hx_place(uint32_t *tags, void **items, size_t cap, uint32_t tag, void *item)
{
    size_t i = tag & (cap - 1);
    while (items[i])
        i = (i + 1) & (cap - 1);
    tags[i] = tag;
    items[i] = item;
}

int hx_add(HIdx *x, uint64_t h, void *item)
{
    if ((x->n + 1) * 10 > x->cap * 7) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        uint32_t *tags = malloc(cap * sizeof *tags);
        void **items = calloc(cap, sizeof *items);
        if (!tags || !items || cap > (size_t)UINT32_MAX + 1) {
            free(tags);
            free(items);
            return -1;
        }
        for (size_t i = 0; i < x->cap; i++)
            if (x->items[i])
                hx_place(tags, items, cap, x->tags[i], x->items[i]);
        free(x->tags);
        free(x->items);
        x->tags = tags;
        x->items = items;
        x->cap = cap;
    }
    hx_place(x->tags, x->items, x->cap, (uint32_t)h, item);
    x->n++;
    return 0;
}

bool hx_remove(HIdx *x, uint64_t h, const void *item)
{
    if (!x->cap)
        return false;
    size_t mask = x->cap - 1, i = (uint32_t)h & mask;
    while (x->items[i] && !(x->items[i] == item && x->tags[i] == (uint32_t)h))
        i = (i + 1) & mask;
    if (!x->items[i])
        return false;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; x->items[j]; j = (j + 1) & mask) {
        if (may_fill(hole, j, x->tags[j] & mask)) {
            x->tags[hole] = x->tags[j];
            x->items[hole] = x->items[j];
            hole = j;
        }
    }
    x->items[hole] = NULL;
    x->n--;
    return true;
}

void *hx_next(const HIdx *x, uint64_t h, size_t *pos)
{
    if (!x->cap)
        return NULL;
    size_t mask = x->cap - 1;
    size_t i = *pos == SIZE_MAX ? (uint32_t)h & mask : (*pos + 1) & mask;
    for (size_t steps = 0; steps < x->cap && x->items[i]; steps++, i = (i + 1) & mask) {
        if (x->tags[i] == (uint32_t)h) {
            *pos = i;
            return x->items[i];
        }
    }
    *pos = i;
    return NULL;
}

size_t hx_memory(const HIdx *x)
{
    return x->cap * (sizeof *x->tags + sizeof *x->items);
}
