/* effects: the changes a desk call returns; see effects.h. */
#include "effects.h"

#include <stdlib.h>
#include <string.h>

#include "dlq.h"

/* Makes room for one more element of size `size` in *v. */
static int grow(void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *x = realloc(*v, c * size);
    if (!x)
        return -1;
    *v = x;
    *cap = c;
    return 0;
}

#define GROW(e, arr, n, cap) grow((void **)&(e)->arr, (e)->n, &(e)->cap, sizeof *(e)->arr)

static int set_source(EffSource *s, const char *topic, int32_t partition, int64_t offset)
{
    s->topic = strdup(topic ? topic : "");
    s->partition = partition;
    s->offset = offset;
    return s->topic ? 0 : -1;
}

void eff_init(Effects *e)
{
    memset(e, 0, sizeof *e);
}

void eff_reset(Effects *e)
{
    for (size_t i = 0; i < e->n_events; i++)
        free(e->events[i].src.topic);
    for (size_t i = 0; i < e->n_held; i++) {
        free(e->held[i].src.topic);
        free(e->held[i].payload);
    }
    for (size_t i = 0; i < e->n_released; i++)
        free(e->released[i].ticket_id);
    for (size_t i = 0; i < e->n_dead; i++) {
        EffDead *d = &e->dead[i];
        free(d->reason);
        free(d->detail);
        free(d->src.topic);
        free(d->key);
        free(d->record);
    }
    for (size_t i = 0; i < e->n_scans; i++)
        free(e->scans[i].src.topic);
    alert_list_reset(&e->alerts);
    indic_reset(&e->indic);
    e->gen = 0;
    e->n_tickets = e->n_events = e->n_held = e->n_released = e->n_dead = e->n_scans = 0;
    e->n_duplicates = e->n_off_partition = 0;
}

void eff_free(Effects *e)
{
    if (!e)
        return;
    eff_reset(e);
    alert_list_free(&e->alerts);
    indic_free(&e->indic);
    free(e->tickets);
    free(e->ticket_full);
    free(e->events);
    free(e->held);
    free(e->released);
    free(e->dead);
    free(e->scans);
    memset(e, 0, sizeof *e);
}

size_t eff_size(const Effects *e)
{
    return e->n_tickets + e->alerts.n + e->n_events + e->n_held + e->n_released + e->n_dead + e->n_scans +
           e->n_duplicates;
}

int eff_ticket(Effects *e, Ticket *t, bool full)
{
    if (e->n_tickets == e->cap_tickets) {
        size_t cap = e->cap_tickets;
        if (grow((void **)&e->tickets, e->n_tickets, &cap, sizeof *e->tickets) < 0)
            return -1;
        bool *f = realloc(e->ticket_full, cap * sizeof *f);
        if (!f)
            return -1;
        e->ticket_full = f;
        e->cap_tickets = cap;
    }
    e->ticket_full[e->n_tickets] = full;
    e->tickets[e->n_tickets++] = t;
    return 0;
}

int eff_event(Effects *e, const ComplaintEvent *ev, bool applied, const char *topic, int32_t partition, int64_t offset)
{
    if (GROW(e, events, n_events, cap_events) < 0)
        return -1;
    EffEvent *x = &e->events[e->n_events];
    x->ev = *ev;
    x->applied = applied;
    if (set_source(&x->src, topic, partition, offset) < 0)
        return -1;
    e->n_events++;
    return 0;
}

int eff_held(Effects *e, const ComplaintEvent *ev, int64_t held_since, const char *topic, int32_t partition,
             int64_t offset, const char *payload, size_t len)
{
    if (GROW(e, held, n_held, cap_held) < 0)
        return -1;
    EffHeld *x = &e->held[e->n_held];
    x->ev = *ev;
    x->held_since = held_since;
    x->len = len;
    if (!(x->payload = malloc(len + 1)))
        return -1;
    memcpy(x->payload, payload, len);
    x->payload[len] = '\0';
    if (set_source(&x->src, topic, partition, offset) < 0) {
        free(x->payload);
        return -1;
    }
    e->n_held++;
    return 0;
}

int eff_released(Effects *e, const char *ticket_id, const char *event_id)
{
    if (GROW(e, released, n_released, cap_released) < 0)
        return -1;
    size_t lt = strlen(ticket_id) + 1, le = strlen(event_id) + 1;
    char *b = malloc(lt + le);
    if (!b)
        return -1;
    memcpy(b, ticket_id, lt);
    memcpy(b + lt, event_id, le);
    e->released[e->n_released++] = (EffReleased){.ticket_id = b, .event_id = b + lt};
    return 0;
}

int eff_dead_letter(Effects *e, const char *reason, const char *detail, const char *topic, int32_t partition,
                    int64_t offset, const void *key, size_t key_len, const void *payload, size_t len)
{
    if (GROW(e, dead, n_dead, cap_dead) < 0)
        return -1;
    EffDead *d = &e->dead[e->n_dead];
    memset(d, 0, sizeof *d);
    d->reason = strdup(reason);
    d->detail = strdup(detail ? detail : "");
    /* as text: the column it goes to is text, and the outbox turns it back
     * into the bytes (dlq_key_bytes) */
    d->key = key ? dlq_key_text(key, key_len) : NULL;
    d->record = dlq_encode(reason, detail ? detail : "", topic, partition, offset, payload, len);
    if (set_source(&d->src, topic, partition, offset) < 0 || !d->reason || !d->detail || (key && !d->key) ||
        !d->record) {
        free(d->reason);
        free(d->detail);
        free(d->key);
        free(d->record);
        free(d->src.topic);
        return -1;
    }
    e->n_dead++;
    return 0;
}

int eff_scan(Effects *e, const ScanEvent *sc, const char *topic, int32_t partition, int64_t offset)
{
    if (GROW(e, scans, n_scans, cap_scans) < 0)
        return -1;
    EffScan *x = &e->scans[e->n_scans];
    x->sc = *sc;
    if (set_source(&x->src, topic, partition, offset) < 0)
        return -1;
    e->n_scans++;
    return 0;
}
