/* repeat: the repeat-complaint indexes; see repeat.h. Two multimaps of
 * ticket pointers (lib/htab) whose keys are read through the tickets: no key
 * is copied and nothing is allocated per ticket. */
#include "repeat.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

struct RepeatIndex {
    HTab by_waybill;  /* waybill */
    HTab by_customer; /* customer_ref + category */
};

typedef struct CustomerKey {
    const char *ref;
    int category;
} CustomerKey;

static uint64_t hash_customer(const char *ref, int category)
{
    return ht_hash_str(ref, 1469598103934665603ull + (uint64_t)category * 1099511628211ull);
}

static uint64_t waybill_hash(const void *item)
{
    return ht_hash_str(tkt_waybill((const Ticket *)item), 0);
}

static uint64_t customer_hash(const void *item)
{
    const Ticket *t = item;
    return hash_customer(tkt_customer_ref(t), t->category);
}

static bool waybill_match(const void *item, const void *key)
{
    return strcmp(tkt_waybill((const Ticket *)item), key) == 0;
}

static bool customer_match(const void *item, const void *key)
{
    const Ticket *t = item;
    const CustomerKey *k = key;
    return t->category == k->category && strcmp(tkt_customer_ref(t), k->ref) == 0;
}

RepeatIndex *rpt_new(void)
{
    RepeatIndex *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    ht_init(&x->by_waybill, waybill_hash);
    ht_init(&x->by_customer, customer_hash);
    return x;
}

void rpt_free(RepeatIndex *x)
{
    if (!x)
        return;
    ht_free(&x->by_waybill);
    ht_free(&x->by_customer);
    free(x);
}

int rpt_add(RepeatIndex *x, Ticket *t)
{
    if (tkt_waybill(t)[0] && !ht_has(&x->by_waybill, t) && ht_add(&x->by_waybill, t) < 0)
        return -1;
    if (tkt_customer_ref(t)[0] && !ht_has(&x->by_customer, t) && ht_add(&x->by_customer, t) < 0)
        return -1;
    return 0;
}

const Ticket *rpt_match(const RepeatIndex *x, const Ticket *t, int64_t lookback)
{
    const HTab *tab;
    uint64_t h;
    HtMatch match;
    CustomerKey ck = {tkt_customer_ref(t), t->category};
    const void *key;
    if (tkt_waybill(t)[0]) {
        tab = &x->by_waybill, h = ht_hash_str(tkt_waybill(t), 0), match = waybill_match, key = tkt_waybill(t);
    } else if (tkt_customer_ref(t)[0]) {
        tab = &x->by_customer, h = hash_customer(tkt_customer_ref(t), t->category), match = customer_match, key = &ck;
    } else {
        return NULL;
    }
    const Ticket *prev = NULL;
    size_t pos = SIZE_MAX;
    for (const Ticket *c; (c = ht_next(tab, h, match, key, &pos));) {
        if (c == t || tu32_get(c->last_resolved_at) == 0 || tu32_get(c->last_resolved_at) > tu32_get(t->received_at) ||
            tu32_get(c->last_resolved_at) < tu32_get(t->received_at) - lookback)
            continue;
        if (!prev || tu32_get(c->last_resolved_at) > tu32_get(prev->last_resolved_at) ||
            (tu32_get(c->last_resolved_at) == tu32_get(prev->last_resolved_at) && strcmp(tkt_id(c), tkt_id(prev)) < 0))
            prev = c;
    }
    return prev;
}

Ticket *rpt_next_by_waybill(const RepeatIndex *x, const char *waybill, size_t *pos)
{
    return ht_next(&x->by_waybill, ht_hash_str(waybill, 0), waybill_match, waybill, pos);
}

void rpt_remove(RepeatIndex *x, const Ticket *t)
{
    if (tkt_waybill(t)[0])
        ht_remove(&x->by_waybill, t);
    if (tkt_customer_ref(t)[0])
        ht_remove(&x->by_customer, t);
}

size_t rpt_memory(const RepeatIndex *x)
{
    return sizeof *x + ht_memory(&x->by_waybill) + ht_memory(&x->by_customer);
}
