/* bulk: sliding event-time windows of one issue key; see bulk.h.
 *
 * The complaints of a key sit in one array sorted by time; equal times keep
 * their arrival order, so the ids of a window come out the same way every
 * time. A key holds the complaints of about one window plus the members of a
 * running episode, tens to hundreds, so plain arrays with binary search and
 * memmove beat anything cleverer. Membership of the running episode is a
 * flag on the complaint, which keeps the episode's ids in time order for
 * free, late joiners included. */
#include "bulk.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

typedef struct Complaint {
    int64_t at;
    char *id;    /* owned */
    bool member; /* of the running episode */
} Complaint;

struct BulkWin {
    Complaint *v; /* sorted by at, ties in arrival order */
    size_t n, cap;
    /* Room for one pointer per complaint, so that bulk_end, which cannot
     * fail, never has to allocate to report the ids. */
    const char **ids;

    bool active;
    int64_t ep_start;     /* window start of the running episode */
    int64_t ep_condition; /* its condition_at */
    /* Window start of the latest episode, running or ended: a new episode
     * needs a later one, so one window never fires twice. And when that
     * episode ended: a new one needs its threshold-th complaint after it,
     * so a late complaint inside a burst already reported does not report
     * it again. */
    bool has_last;
    int64_t last_start;
    int64_t last_end; /* INT64_MIN: not known (running, or none) */
};

BulkWin *bulk_new(void)
{
    BulkWin *w = calloc(1, sizeof(BulkWin));
    if (w)
        w->last_end = INT64_MIN;
    return w;
}

void bulk_free(BulkWin *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].id);
    free(w->v);
    free(w->ids);
    free(w);
}

/* First index whose time is > t (after every equal time). */
static size_t upper(const BulkWin *w, int64_t t)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->v[mid].at <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Where a complaint at t goes: after the earlier ones, and among those of
 * its second in the order of their ticket ids, so that an episode lists
 * them the same way whatever order they arrived or were loaded in. */
static size_t slot(const BulkWin *w, int64_t t, const char *id)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->v[mid].at < t || (w->v[mid].at == t && strcmp(w->v[mid].id, id) < 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Complaints in (t - window, t]. */
static int trailing(const BulkWin *w, int64_t t, int64_t window)
{
    size_t n = upper(w, t) - upper(w, tu_add_sat(t, -window));
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* A threshold below one would make every key bulk and index before the
 * window; the policy never allows it, and this keeps the arithmetic sound. */
static int clamp_threshold(int threshold)
{
    return threshold < 1 ? 1 : threshold;
}

static const Complaint *find_id(const BulkWin *w, const char *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].id, id) == 0)
            return &w->v[i];
    return NULL;
}

/* Collects the members, in time order, into w->ids. */
static size_t collect_members(BulkWin *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].member)
            w->ids[k++] = w->v[i].id;
    return k;
}

/* count < 0: the number of members (a join). */
static void describe(BulkWin *w, int64_t window, int count, BulkEpisode *ep)
{
    ep->window_start = w->ep_start;
    ep->window_end = tu_add_sat(w->ep_start, window);
    ep->condition_at = w->ep_condition;
    ep->n_ids = collect_members(w);
    ep->ids = w->ids;
    ep->count = count >= 0 ? count : ep->n_ids > INT_MAX ? INT_MAX : (int)ep->n_ids;
}

/* The earliest window [s, s+window) with s a complaint time,
 * s <= at < s+window, holding threshold complaints; for a new episode
 * (`fresh`) also s after the last episode's start and its threshold-th
 * complaint after that episode's end. Returns the index of its first
 * complaint and sets *end past its last, or returns w->n when there is
 * none. */
static size_t find_window(const BulkWin *w, int64_t at, int threshold, int64_t window, bool fresh, size_t *end)
{
    size_t i = upper(w, tu_add_sat(at, -window));
    if (fresh && w->has_last) {
        size_t j = upper(w, w->last_start);
        if (j > i)
            i = j;
    }
    size_t j = i;
    for (; i < w->n && w->v[i].at <= at; i++) {
        if (i > 0 && w->v[i - 1].at == w->v[i].at)
            continue; /* a window starts before all complaints of its time */
        int64_t lim = tu_add_sat(w->v[i].at, window);
        while (j < w->n && w->v[j].at < lim)
            j++;
        if (j - i >= (size_t)threshold && (!fresh || w->v[i + (size_t)threshold - 1].at > w->last_end)) {
            *end = j;
            return i;
        }
    }
    return w->n;
}

int bulk_add(BulkWin *w, int64_t at, const char *ticket_id, int threshold, int64_t window, BulkOutcome *outcome,
             BulkEpisode *ep)
{
    threshold = clamp_threshold(threshold);
    *outcome = BULK_NONE;
    const Complaint *dup = find_id(w, ticket_id);
    if (dup) {
        /* A redelivered or restored complaint: nothing to count again, but
         * when it is a member of the running episode that is reported, so
         * the caller's view of the ticket (urgent, reason bulk) comes out
         * the same the second time. */
        if (dup->member) {
            *outcome = BULK_JOINED;
            describe(w, window, -1, ep);
        }
        return 0;
    }

    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        Complaint *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return -1;
        w->v = v;
        const char **ids = realloc(w->ids, cap * sizeof *ids);
        if (!ids)
            return -1; /* v merely grew; the state is unchanged */
        w->ids = ids;
        w->cap = cap;
    }
    char *id = strdup(ticket_id);
    if (!id)
        return -1;

    size_t k = slot(w, at, ticket_id);
    memmove(&w->v[k + 1], &w->v[k], (w->n - k) * sizeof *w->v);
    w->v[k] = (Complaint){.at = at, .id = id, .member = false};
    w->n++;

    size_t end;
    if (w->active) {
        /* It joins the running episode when it is in a window that holds
         * the threshold (§7: "every open ticket in the window"); one dated
         * far from the burst (a late arrival) is only counted. */
        if (find_window(w, at, threshold, window, false, &end) == w->n)
            return 0;
        w->v[k].member = true;
        *outcome = BULK_JOINED;
        describe(w, window, -1, ep);
        return 0;
    }

    size_t first = find_window(w, at, threshold, window, true, &end);
    if (first == w->n)
        return 0;
    for (size_t i = first; i < end; i++)
        w->v[i].member = true;
    w->active = true;
    w->ep_start = w->v[first].at;
    w->ep_condition = w->v[first + (size_t)threshold - 1].at;
    w->has_last = true;
    w->last_start = w->ep_start;
    w->last_end = INT64_MIN;
    *outcome = BULK_STARTED;
    describe(w, window, (int)(end - first), ep);
    return 0;
}

bool bulk_remove(BulkWin *w, const char *ticket_id)
{
    const Complaint *c = find_id(w, ticket_id);
    if (!c)
        return false;
    size_t k = (size_t)(c - w->v);
    free(w->v[k].id);
    memmove(&w->v[k], &w->v[k + 1], (w->n - k - 1) * sizeof *w->v);
    w->n--;
    return true;
}

bool bulk_active(const BulkWin *w)
{
    return w->active;
}

int64_t bulk_end_at(const BulkWin *w, int threshold, int64_t window, int64_t now)
{
    if (!w->active)
        return TU_NEVER;
    threshold = clamp_threshold(threshold);
    /* Never before the condition became true: a complaint dated ahead of
     * `now` (a producer whose clock runs fast, in wall mode) is not in the
     * trailing count yet, and ending the episode before it is counted would
     * make the key fire again with every such complaint. */
    int64_t t = now > w->ep_condition ? now : w->ep_condition;
    if (trailing(w, t, window) < threshold)
        return t;
    /* The count only falls when a complaint leaves the window, at its time
     * + window; between those points it is flat or rises. So the answer is
     * the first such point after t whose count is below the threshold; the
     * last one (every complaint gone) always is. */
    for (size_t i = upper(w, tu_add_sat(t, -window)); i < w->n; i++) {
        if (i + 1 < w->n && w->v[i + 1].at == w->v[i].at)
            continue; /* equal times leave together */
        int64_t drop = tu_add_sat(w->v[i].at, window);
        if (trailing(w, drop, window) < threshold)
            return drop;
    }
    return TU_NEVER; /* only with times at the end of int64 */
}

void bulk_end(BulkWin *w, int64_t at, int64_t window, BulkEpisode *ep)
{
    if (!w->active) {
        *ep = (BulkEpisode){.window_start = 0, .window_end = 0, .n_ids = 0, .ids = w->ids};
        return;
    }
    describe(w, window, trailing(w, at, window), ep);
    for (size_t i = 0; i < w->n; i++)
        w->v[i].member = false;
    w->active = false;
    w->last_end = at;
}

int bulk_restore(BulkWin *w, int64_t window_start, int64_t condition_at, const char *const *ids, size_t n_ids)
{
    for (size_t i = 0; i < w->n; i++)
        w->v[i].member = false;
    for (size_t k = 0; k < n_ids; k++)
        for (size_t i = 0; i < w->n; i++)
            if (strcmp(w->v[i].id, ids[k]) == 0)
                w->v[i].member = true;
    w->active = true;
    w->ep_start = window_start;
    w->ep_condition = condition_at;
    if (!w->has_last || w->last_start < window_start) {
        w->has_last = true;
        w->last_start = window_start;
    }
    w->last_end = INT64_MIN;
    return 0;
}

void bulk_restore_joined(BulkWin *w, int64_t since, bool (*joined)(void *arg, const char *id), void *arg)
{
    if (!w->active)
        return;
    for (size_t i = upper(w, tu_add_sat(since, -1)); i < w->n; i++)
        if (!w->v[i].member && joined(arg, w->v[i].id))
            w->v[i].member = true;
}

bool bulk_last_start(const BulkWin *w, int64_t *window_start)
{
    if (w->has_last)
        *window_start = w->last_start;
    return w->has_last;
}

void bulk_restore_last(BulkWin *w, int64_t window_start, int64_t ended_at)
{
    if (!w->has_last || w->last_start < window_start) {
        w->has_last = true;
        w->last_start = window_start;
    }
    if (ended_at > w->last_end)
        w->last_end = ended_at;
}

void bulk_prune(BulkWin *w, int64_t before)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].at < before && !w->v[i].member)
            free(w->v[i].id);
        else
            w->v[k++] = w->v[i];
    }
    w->n = k;
}

size_t bulk_size(const BulkWin *w)
{
    return w->n;
}
