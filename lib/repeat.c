/* repeat: the repeat-complaint indexes; see repeat.h.
 *
 * Each key maps to a plain array of tickets in the order they were added:
 * that order breaks ties between matches and is the order the engine visits
 * a parcel's tickets in. Each ticket also has a record of the lists it is
 * in, so that removing it finds the lists of keys an update has changed
 * since, and adding it again does not scan a long customer list. */
#include "repeat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evt.h"
#include "strmap.h"

/* The tickets sharing one key. */
typedef struct RptList {
    Ticket **v;
    size_t n;
    bool customer; /* listed in by_customer, else in by_waybill */
    char key[];    /* to take the list out of its map when it empties */
} RptList;

/* The lists one ticket is in. */
typedef struct RptRec {
    const Ticket *t;
    RptList **in;
    size_t n;
} RptRec;

struct RepeatIndex {
    StrMap *by_waybill;  /* waybill -> RptList */
    StrMap *by_customer; /* customer_ref \x1f category -> RptList */
    StrMap *by_ticket;   /* ticket id -> RptRec */
};

RepeatIndex *rpt_new(void)
{
    RepeatIndex *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->by_waybill = sm_new();
    x->by_customer = sm_new();
    x->by_ticket = sm_new();
    if (!x->by_waybill || !x->by_customer || !x->by_ticket) {
        rpt_free(x);
        return NULL;
    }
    return x;
}

void rpt_free(RepeatIndex *x)
{
    if (!x)
        return;
    const char *k;
    void *v;
    StrMap *lists[2] = {x->by_waybill, x->by_customer};
    for (int j = 0; j < 2; j++) {
        if (!lists[j])
            continue;
        for (size_t it = 0; sm_next(lists[j], &it, &k, &v);) {
            RptList *l = v;
            free(l->v);
            free(l);
        }
        sm_free(lists[j]);
    }
    if (x->by_ticket) {
        for (size_t it = 0; sm_next(x->by_ticket, &it, &k, &v);) {
            RptRec *r = v;
            free(r->in);
            free(r);
        }
        sm_free(x->by_ticket);
    }
    free(x);
}

static void customer_key(const Ticket *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s\x1f%s", t->customer_ref, evt_category_name(t->category));
}

/* Frees a list that holds no ticket (after a removal, or an add that ran out
 * of memory). */
static void drop_if_empty(RepeatIndex *x, RptList *l)
{
    if (l->n)
        return;
    sm_del(l->customer ? x->by_customer : x->by_waybill, l->key);
    free(l->v);
    free(l);
}

static int list_add(RepeatIndex *x, RptRec *r, bool customer, const char *key, Ticket *t)
{
    StrMap *m = customer ? x->by_customer : x->by_waybill;
    RptList *l = sm_get(m, key);
    for (size_t i = 0; l && i < r->n; i++)
        if (r->in[i] == l)
            return 0;
    if (!l) {
        size_t len = strlen(key);
        if (!(l = calloc(1, sizeof *l + len + 1)))
            return -1;
        l->customer = customer;
        memcpy(l->key, key, len + 1);
        if (sm_put(m, key, l) < 0) {
            free(l);
            return -1;
        }
    }
    Ticket **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v)
        l->v = v;
    RptList **in = v ? realloc(r->in, (r->n + 1) * sizeof *in) : NULL;
    if (in)
        r->in = in;
    if (!v || !in) {
        drop_if_empty(x, l);
        return -1;
    }
    l->v[l->n++] = t;
    r->in[r->n++] = l;
    return 0;
}

int rpt_add(RepeatIndex *x, Ticket *t)
{
    if (!t->waybill[0] && !t->customer_ref[0])
        return 0;
    RptRec *r = sm_get(x->by_ticket, t->id);
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return -1;
        r->t = t;
        if (sm_put(x->by_ticket, t->id, r) < 0) {
            free(r);
            return -1;
        }
    }
    int rc = 0;
    if (t->waybill[0])
        rc = list_add(x, r, false, t->waybill, t);
    if (rc == 0 && t->customer_ref[0]) {
        char k[EVT_REF_MAX + 32];
        customer_key(t, k, sizeof k);
        rc = list_add(x, r, true, k, t);
    }
    if (r->n == 0) {
        sm_del(x->by_ticket, t->id);
        free(r->in);
        free(r);
    }
    return rc;
}

const Ticket *rpt_match(const RepeatIndex *x, const Ticket *t, int64_t lookback)
{
    const RptList *l = NULL;
    if (t->waybill[0]) {
        l = sm_get(x->by_waybill, t->waybill);
    } else if (t->customer_ref[0]) {
        char k[EVT_REF_MAX + 32];
        customer_key(t, k, sizeof k);
        l = sm_get(x->by_customer, k);
    }
    const Ticket *prev = NULL;
    for (size_t i = 0; l && i < l->n; i++) {
        const Ticket *c = l->v[i];
        if (c == t || c->last_resolved_at == 0 || c->last_resolved_at > t->received_at ||
            c->last_resolved_at < t->received_at - lookback)
            continue;
        /* Listed under a waybill an update has changed since. */
        if (t->waybill[0] && strcmp(c->waybill, t->waybill) != 0)
            continue;
        if (!prev || c->last_resolved_at > prev->last_resolved_at)
            prev = c;
    }
    return prev;
}

size_t rpt_by_waybill(const RepeatIndex *x, const char *waybill, Ticket *const **out)
{
    const RptList *l = sm_get(x->by_waybill, waybill);
    *out = l ? l->v : NULL;
    return l ? l->n : 0;
}

void rpt_remove(RepeatIndex *x, const Ticket *t)
{
    RptRec *r = sm_get(x->by_ticket, t->id);
    if (!r || r->t != t)
        return;
    sm_del(x->by_ticket, t->id);
    for (size_t j = 0; j < r->n; j++) {
        RptList *l = r->in[j];
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i] == t) {
                memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
                l->n--;
                break;
            }
        }
        drop_if_empty(x, l);
    }
    free(r->in);
    free(r);
}
