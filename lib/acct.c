/* acct: site accountability by month and window; see acct.h.
 *
 * One record per site: its complaints in one array sorted by time (equal
 * times by ticket id, so ids come out the same way whatever the order they
 * arrived or were loaded in) and the episodes that fired, a few per month. A
 * site holds about a window's worth of complaints, tens to a few thousand
 * for a hub, so binary search and memmove do. The sites sit in a hash table
 * by name and in a plain array for pruning; each site with a firing episode
 * is queued once in a heap at its earliest month end, so the month-end scan
 * costs O(log sites) per episode. */
#include "acct.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "theap.h"
#include "timeutil.h"

typedef struct Complaint {
    int64_t at;
    char *id; /* owned */
} Complaint;

typedef struct Episode {
    int ym;     /* year * 12 + month - 1, local time */
    bool total; /* the total rule, else the month rule */
    bool ended; /* resolved; kept so that it never fires again */
    int64_t condition_at;
    int64_t start, end; /* the month, [start, end), at the offset it fired with */
    int64_t window;     /* total: the window it fired with */
} Episode;

typedef struct Site {
    ThNode node; /* queued at the earliest end of a firing episode, iff there is one */
    char *name;  /* owned */
    uint64_t hash;
    size_t slot; /* index in Acct.all */
    Complaint *v;
    size_t n, cap;
    Episode *ep;
    size_t nep, epcap;
} Site;

struct Acct {
    HTab by_name; /* of Site */
    Site **all;
    size_t n, cap;
    THeap due;       /* of Site.node */
    int64_t horizon; /* complaints before it are ignored (acct_prune) */
    size_t size;     /* complaints, all sites */
};

static Site *site_of(ThNode *n)
{
    return (Site *)((char *)n - offsetof(Site, node));
}

static uint64_t site_hash(const void *item)
{
    return ((const Site *)item)->hash;
}

static bool site_match(const void *item, const void *key)
{
    return strcmp(((const Site *)item)->name, key) == 0;
}

/* ---- alerts ------------------------------------------------------------- */

void acct_alert_clear(AcctAlert *a)
{
    for (int i = 0; i < a->n_ticket_ids; i++)
        free(a->ticket_ids[i]);
    free(a->ticket_ids);
    a->ticket_ids = NULL;
    a->n_ticket_ids = 0;
}

static int reserve(AcctAlertList *l)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 8;
    AcctAlert *v = realloc(l->v, cap * sizeof *v);
    if (!v)
        return -1;
    l->v = v;
    l->cap = cap;
    return 0;
}

AcctAlert *acct_alert_list_push(AcctAlertList *l, AcctAlert *a)
{
    if (reserve(l) < 0) {
        acct_alert_clear(a);
        l->failed = true;
        return NULL;
    }
    l->v[l->n] = *a;
    a->ticket_ids = NULL; /* ownership moved into the list */
    a->n_ticket_ids = 0;
    return &l->v[l->n++];
}

void acct_alert_list_reset(AcctAlertList *l)
{
    for (size_t i = 0; i < l->n; i++)
        acct_alert_clear(&l->v[i]);
    l->n = 0;
    l->failed = false;
}

void acct_alert_list_free(AcctAlertList *l)
{
    acct_alert_list_reset(l);
    free(l->v);
    l->v = NULL;
    l->cap = 0;
}

static void ym_split(int ym, int *y, int *m)
{
    int64_t yy = tu_floordiv(ym, 12);
    *y = (int)yy;
    *m = (int)(ym - yy * 12) + 1;
}

void acct_alert_id(const AcctAlert *a, char *buf, size_t len)
{
    if (len == 0)
        return;
    snprintf(buf, len, "site_accountability/%s/%04d-%02d%s", a->site, a->year, a->month, a->total ? "/total" : "");
}

/* ---- months ------------------------------------------------------------- */

static int64_t month_start(int y, int m, int off_min)
{
    return tu_days_from_civil(y, m, 1) * 86400 - (int64_t)off_min * 60;
}

/* Local times outside the years 0000..9999 count in the nearest month
 * within: producers' times are not trusted, and the year arithmetic below
 * must not overflow. */
#define LOCAL_MIN INT64_C(-62167219200) /* 0000-01-01T00:00:00 */
#define LOCAL_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59 */

/* The local month of t and its bounds [*start, *end). */
static int month_of(int64_t t, int off_min, int64_t *start, int64_t *end)
{
    int y, m, d;
    int64_t local = tu_add_sat(t, (int64_t)off_min * 60);
    if (local < LOCAL_MIN)
        local = LOCAL_MIN;
    if (local > LOCAL_MAX)
        local = LOCAL_MAX;
    tu_civil_from_days(tu_floordiv(local, 86400), &y, &m, &d);
    *start = month_start(y, m, off_min);
    *end = m == 12 ? month_start(y + 1, 1, off_min) : month_start(y, m + 1, off_min);
    return y * 12 + m - 1;
}

/* ---- sites -------------------------------------------------------------- */

static Site *site_find(const Acct *a, const char *name)
{
    return ht_get(&a->by_name, ht_hash_str(name, 0), site_match, name);
}

static Site *site_new(Acct *a, const char *name)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        Site **all = realloc(a->all, cap * sizeof *all);
        if (!all)
            return NULL;
        a->all = all;
        a->cap = cap;
    }
    Site *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    th_node_init(&s->node);
    s->name = strdup(name);
    if (!s->name)
        goto fail;
    s->hash = ht_hash_str(name, 0);
    if (ht_add(&a->by_name, s) < 0)
        goto fail;
    s->slot = a->n;
    a->all[a->n++] = s;
    return s;
fail:
    free(s->name);
    free(s);
    return NULL;
}

static void site_free(Site *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].id);
    free(s->v);
    free(s->ep);
    free(s->name);
    free(s);
}

static void site_drop(Acct *a, Site *s)
{
    ht_remove(&a->by_name, s);
    th_remove(&a->due, &s->node);
    a->all[s->slot] = a->all[--a->n];
    a->all[s->slot]->slot = s->slot;
    a->size -= s->n;
    site_free(s);
}

/* First index whose time is > t (after every equal time). */
static size_t upper(const Site *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].at <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index whose time is >= t. */
static size_t lower(const Site *s, int64_t t)
{
    return t == INT64_MIN ? 0 : upper(s, t - 1);
}

/* Where a complaint of time t and ticket id goes: after every earlier
 * time and, among equal times, after every smaller id (byte order). */
static size_t place(const Site *s, int64_t t, const char *id)
{
    size_t k = lower(s, t);
    while (k < s->n && s->v[k].at == t && strcmp(s->v[k].id, id) < 0)
        k++;
    return k;
}

static Episode *ep_find(Site *s, int ym, bool total)
{
    for (size_t i = 0; i < s->nep; i++)
        if (s->ep[i].ym == ym && s->ep[i].total == total)
            return &s->ep[i];
    return NULL;
}

static int ep_push(Site *s, const Episode *e)
{
    if (s->nep == s->epcap) {
        size_t cap = s->epcap ? s->epcap * 2 : 4;
        Episode *v = realloc(s->ep, cap * sizeof *v);
        if (!v)
            return -1;
        s->ep = v;
        s->epcap = cap;
    }
    s->ep[s->nep++] = *e;
    return 0;
}

/* Queues the site at its earliest firing month end, or takes it off the
 * heap. Fails only when the site was not queued before. */
static int requeue(Acct *a, Site *s)
{
    int64_t due = TU_NEVER;
    bool any = false;
    for (size_t i = 0; i < s->nep; i++) {
        if (!s->ep[i].ended && (!any || s->ep[i].end < due)) {
            due = s->ep[i].end;
            any = true;
        }
    }
    if (!any) {
        th_remove(&a->due, &s->node);
        return 0;
    }
    return th_set(&a->due, &s->node, due);
}

/* Appends an alert listing complaints [lo, hi) of s. Nothing is appended
 * when out of memory (and out->failed is left alone: nothing was lost). */
static int emit(const Site *s, int ym, bool total, AlertStatus status, size_t lo, size_t hi, int64_t condition_at,
                int64_t resolved_at, AcctAlertList *out)
{
    size_t n = hi - lo;
    if (n > INT_MAX || reserve(out) < 0)
        return -1;
    AcctAlert al;
    memset(&al, 0, sizeof al);
    size_t len = strlen(s->name);
    if (len > ACCT_SITE_MAX)
        len = ACCT_SITE_MAX;
    memcpy(al.site, s->name, len);
    al.site[len] = '\0';
    ym_split(ym, &al.year, &al.month);
    al.total = total;
    al.status = status;
    al.condition_at = condition_at;
    al.resolved_at = resolved_at;
    if (n > 0) {
        al.ticket_ids = malloc(n * sizeof *al.ticket_ids);
        if (!al.ticket_ids)
            return -1;
        for (size_t i = 0; i < n; i++) {
            al.ticket_ids[i] = strdup(s->v[lo + i].id);
            if (!al.ticket_ids[i]) {
                acct_alert_clear(&al);
                return -1;
            }
            al.n_ticket_ids++;
        }
    }
    al.count = al.n_ticket_ids;
    acct_alert_list_push(out, &al); /* cannot fail: reserved */
    return 0;
}

/* ---- the rules ---------------------------------------------------------- */

Acct *acct_new(void)
{
    Acct *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    ht_init(&a->by_name, site_hash);
    th_init(&a->due);
    a->horizon = INT64_MIN;
    return a;
}

void acct_free(Acct *a)
{
    if (!a)
        return;
    th_free(&a->due); /* touches the sites' nodes: first */
    ht_free(&a->by_name);
    for (size_t i = 0; i < a->n; i++)
        site_free(a->all[i]);
    free(a->all);
    free(a);
}

static int clamp_threshold(int threshold)
{
    return threshold < 1 ? 1 : threshold;
}

/* Fires what the complaint at index k completes: its month, and the total
 * at every complaint from k on whose window holds it (only k itself unless
 * the complaint is late), once per month. */
static int fire(Site *s, size_t k, int off, int mth, int tth, int64_t window, AcctAlertList *out)
{
    int64_t t = s->v[k].at, ms, me;
    int ym = month_of(t, off, &ms, &me);
    size_t lo = lower(s, ms), hi = lower(s, me);
    if (hi - lo >= (size_t)mth && !ep_find(s, ym, false)) {
        Episode e = {.ym = ym, .total = false, .condition_at = s->v[lo + (size_t)mth - 1].at, .start = ms, .end = me};
        if (emit(s, ym, false, AS_FIRING, lo, hi, e.condition_at, 0, out) < 0 || ep_push(s, &e) < 0)
            return -1;
    }

    int64_t lim = tu_add_sat(t, window);
    for (size_t i = k; i < s->n && s->v[i].at < lim; i++) {
        int64_t at = s->v[i].at;
        ym = month_of(at, off, &ms, &me);
        if (ep_find(s, ym, true)) {
            size_t next = lower(s, me); /* nothing more to fire in this month */
            if (next > i + 1)
                i = next - 1;
            continue;
        }
        /* The window ending at this complaint: (at - window, at], up to
         * and including index i. */
        size_t wlo = upper(s, tu_add_sat(at, -window));
        if (i + 1 - wlo < (size_t)tth)
            continue;
        Episode e = {.ym = ym, .total = true, .condition_at = at, .start = ms, .end = me, .window = window};
        if (emit(s, ym, true, AS_FIRING, wlo, i + 1, at, 0, out) < 0 || ep_push(s, &e) < 0)
            return -1;
    }
    return 0;
}

static int add(Acct *a, const char *site, const char *ticket_id, int64_t at, bool quiet, int off, int mth, int tth,
               int64_t window, AcctAlertList *out)
{
    if (at < a->horizon)
        return 0;
    Site *s = site_find(a, site);
    bool created = false;
    if (!s) {
        s = site_new(a, site);
        if (!s)
            return -1;
        created = true;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, ticket_id) == 0)
            return 0;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        Complaint *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            goto fail_site;
        s->v = v;
        s->cap = cap;
    }
    char *id = strdup(ticket_id);
    if (!id)
        goto fail_site;
    size_t k = place(s, at, id);
    memmove(&s->v[k + 1], &s->v[k], (s->n - k) * sizeof *s->v);
    s->v[k] = (Complaint){.at = at, .id = id};
    s->n++;
    a->size++;
    if (quiet)
        return 0;

    size_t out_n = out->n, nep = s->nep;
    if (fire(s, k, off, clamp_threshold(mth), clamp_threshold(tth), window < 1 ? 1 : window, out) < 0)
        goto fail;
    if (s->nep != nep && requeue(a, s) < 0)
        goto fail;
    return 0;

fail:
    while (out->n > out_n)
        acct_alert_clear(&out->v[--out->n]);
    s->nep = nep;
    free(s->v[k].id);
    memmove(&s->v[k], &s->v[k + 1], (s->n - k - 1) * sizeof *s->v);
    s->n--;
    a->size--;
fail_site:
    if (created)
        site_drop(a, s);
    return -1;
}

int acct_add(Acct *a, const char *site, const char *ticket_id, int64_t received_at, int utc_offset_min,
             int month_threshold, int total_threshold, int64_t window, AcctAlertList *out)
{
    return add(a, site, ticket_id, received_at, false, utc_offset_min, month_threshold, total_threshold, window, out);
}

int acct_add_quiet(Acct *a, const char *site, const char *ticket_id, int64_t received_at)
{
    return add(a, site, ticket_id, received_at, true, 0, INT_MAX, INT_MAX, 1, NULL);
}

int acct_remove(Acct *a, const char *site, const char *ticket_id)
{
    Site *s = site_find(a, site);
    if (!s)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].id, ticket_id) != 0)
            continue;
        free(s->v[i].id);
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
        s->n--;
        a->size--;
        if (s->n == 0 && s->nep == 0)
            site_drop(a, s);
        return 1;
    }
    return 0;
}

int acct_restore(Acct *a, const char *site, int year, int month, bool total, int64_t condition_at, bool ended,
                 int utc_offset_min, int64_t window)
{
    if (month < 1 || month > 12 || year < 0 || year > 9999)
        return -2;
    int ym = year * 12 + month - 1;
    Site *s = site_find(a, site);
    bool created = false;
    if (!s) {
        s = site_new(a, site);
        if (!s)
            return -1;
        created = true;
    }
    Episode *e = ep_find(s, ym, total);
    if (e) {
        if (ended && !e->ended) {
            e->ended = true;
            requeue(a, s); /* queued for e: only moves it or takes it off */
        }
        return 0;
    }
    Episode ne = {
        .ym = ym,
        .total = total,
        .ended = ended,
        .condition_at = condition_at,
        .start = month_start(year, month, utc_offset_min),
        .end = month == 12 ? month_start(year + 1, 1, utc_offset_min) : month_start(year, month + 1, utc_offset_min),
        .window = total ? (window < 1 ? 1 : window) : 0,
    };
    if (ep_push(s, &ne) < 0)
        goto fail;
    if (!ended && requeue(a, s) < 0) {
        s->nep--;
        goto fail;
    }
    return 0;
fail:
    if (created)
        site_drop(a, s);
    return -1;
}

int64_t acct_next_due(const Acct *a)
{
    const ThNode *n = th_peek(&a->due);
    return n ? n->due : TU_NEVER;
}

int acct_fire_due(Acct *a, int64_t upto, size_t max, AcctAlertList *out)
{
    int resolved = 0;
    ThNode *top;
    /* One month end at a time, so the output is in order of month end
     * across sites; a site goes back on the heap at its next one. A site
     * resolves at most its month and its total alert at one month end. */
    while ((top = th_peek(&a->due)) != NULL && top->due <= upto && (resolved == 0 || (size_t)resolved + 2 <= max)) {
        Site *s = site_of(top);
        int64_t end = top->due;
        for (int total = 0; total <= 1; total++) {
            for (size_t i = 0; i < s->nep; i++) {
                Episode *e = &s->ep[i];
                if (e->ended || e->end != end || e->total != (total == 1))
                    continue;
                size_t lo, hi;
                if (e->total) {
                    lo = upper(s, tu_add_sat(e->condition_at, -e->window));
                    hi = upper(s, e->condition_at);
                } else {
                    lo = lower(s, e->start);
                    hi = lower(s, e->end);
                }
                if (emit(s, e->ym, e->total, AS_RESOLVED, lo, hi, e->condition_at, e->end, out) < 0) {
                    requeue(a, s); /* still queued: only moves, cannot fail */
                    return -1;
                }
                e->ended = true;
                resolved++;
            }
        }
        requeue(a, s); /* still queued: only moves it or takes it off */
    }
    return resolved;
}

void acct_prune(Acct *a, int64_t before)
{
    if (before <= a->horizon)
        return;
    a->horizon = before;
    for (size_t i = 0; i < a->n;) {
        Site *s = a->all[i];
        int64_t cut = before;
        size_t k = 0;
        for (size_t j = 0; j < s->nep; j++) {
            Episode *e = &s->ep[j];
            /* An ended episode whose month is over by `before` can never be
             * fired again: every complaint of its month is now ignored. */
            if (e->ended && e->end <= before)
                continue;
            if (!e->ended) {
                int64_t keep = e->total ? tu_add_sat(tu_add_sat(e->condition_at, -e->window), 1) : e->start;
                if (keep < cut)
                    cut = keep;
            }
            s->ep[k++] = *e;
        }
        s->nep = k;
        size_t drop = lower(s, cut);
        for (size_t j = 0; j < drop; j++)
            free(s->v[j].id);
        memmove(&s->v[0], &s->v[drop], (s->n - drop) * sizeof *s->v);
        s->n -= drop;
        a->size -= drop;
        if (s->n == 0 && s->nep == 0)
            site_drop(a, s); /* moves the last site into slot i */
        else
            i++;
    }
}

size_t acct_site_count(const Acct *a, const char *site)
{
    const Site *s = site_find(a, site);
    return s ? s->n : 0;
}

size_t acct_size(const Acct *a)
{
    return a->size;
}

size_t acct_sites(const Acct *a)
{
    return a->n;
}

size_t acct_firing(const Acct *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < a->all[i]->nep; j++)
            n += !a->all[i]->ep[j].ended;
    return n;
}
