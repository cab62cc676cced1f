/* htab: an open-addressing hash table of pointers whose keys live in the
 * items themselves. A slot is one pointer: no key is copied and no hash is
 * stored; the table asks the item for its key's hash when it must (growing,
 * deleting) and the caller's match function compares keys through the item.
 * Several items may share a key (a multimap); an item is found again for
 * removal by identity. Linear probing, backward-shift deletion, load <= 0.7.
 *
 * At a million tickets this is what keeps an index at ~12 bytes an item
 * instead of a copied key, a list and a record per item. */
#ifndef COMPLAINTD_HTAB_H
#define COMPLAINTD_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*HtHash)(const void *item);
typedef bool (*HtMatch)(const void *item, const void *key);

typedef struct HTab {
    void **slots;
    size_t cap; /* power of two, 0 before the first add */
    size_t n;
    HtHash hash;
} HTab;

void ht_init(HTab *t, HtHash hash);
void ht_free(HTab *t); /* the items stay the caller's */
/* Adds item (whatever is already there under its key). -1 when out of memory. */
__attribute__((warn_unused_result)) int ht_add(HTab *t, void *item);
/* Whether this very item is in the table. */
bool ht_has(const HTab *t, const void *item);
/* Removes this very item; false when it is not in the table. */
bool ht_remove(HTab *t, const void *item);
/* The items whose key matches, one at a time: start with *pos = SIZE_MAX
 * and the key's hash h; NULL after the last. No adds or removes meanwhile. */
void *ht_next(const HTab *t, uint64_t h, HtMatch match, const void *key, size_t *pos);
/* The first matching item, or NULL. */
void *ht_get(const HTab *t, uint64_t h, HtMatch match, const void *key);
/* Every item: for (size_t i = 0; (x = ht_each(t, &i));) */
void *ht_each(const HTab *t, size_t *i);
size_t ht_memory(const HTab *t);

/* HIdx: the same probing for items that have many keys (a ticket and the
 * ids of its events), which an item cannot hash by itself. A slot keeps the
 * low 32 bits of its key's hash next to the item: 12 bytes. The caller
 * tells a real match from a shared hash through the item. A zeroed HIdx is
 * empty. */
typedef struct HIdx {
    uint32_t *tags;
    void **items;
    size_t cap, n;
} HIdx;

void hx_free(HIdx *x); /* the items stay the caller's */
/* Adds item under h. -1 when out of memory. */
__attribute__((warn_unused_result)) int hx_add(HIdx *x, uint64_t h, void *item);
/* Removes item from under h; false when it is not there. */
bool hx_remove(HIdx *x, uint64_t h, const void *item);
/* The items under h (and a few that share its low bits), one at a time:
 * start with *pos = SIZE_MAX; NULL after the last. No adds or removes
 * meanwhile. */
void *hx_next(const HIdx *x, uint64_t h, size_t *pos);
size_t hx_memory(const HIdx *x);

/* FNV-1a, 64-bit, of a string; seed with 0 or a previous result. */
uint64_t ht_hash_str(const char *s, uint64_t seed);

#endif
