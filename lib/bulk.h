/* bulk: the sliding event-time window of one issue key (category, site) for
 * bulk complaints (批量投诉, contract §7).
 *
 * Windows are half-open: complaints at t0 and t0+59:59 share a 60-minute
 * window, t0 and t0+60:00 do not. An episode starts when some window
 * [s, s+window) that contains the new complaint holds `threshold` complaints
 * (s is a complaint's time; the earliest such s is the episode's window
 * start); it lasts while the trailing count — complaints in (now-window, now]
 * — stays at or above the threshold. While it lasts every new complaint of
 * the key that is in a window holding the threshold joins it (a late one
 * dated far from the burst is only counted). After it ends, a new episode
 * needs a window starting after the previous episode's window start, so one
 * window never fires twice, and its threshold-th complaint after the
 * previous episode's end, so a late complaint inside a burst already
 * reported does not report it again. Late complaints are inserted at their
 * time and count in the windows they belong to. */
#ifndef COMPLAINTD_BULK_H
#define COMPLAINTD_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct BulkWin BulkWin;

typedef enum {
    BULK_NONE,    /* counted; no episode */
    BULK_STARTED, /* this complaint started an episode */
    BULK_JOINED,  /* an episode was already running: the complaint joins it */
} BulkOutcome;

/* Where an episode stands. Arrays point into the BulkWin and stay valid until
 * its next call. */
typedef struct BulkEpisode {
    int64_t window_start;
    int64_t window_end;   /* window_start + window */
    int64_t condition_at; /* time of the threshold-th complaint of the window */
    int count;            /* complaints in the window (at start) / trailing count (at end) /
                             tickets of the episode so far (on a join) */
    size_t n_ids;
    const char *const *ids; /* every ticket of the episode, in time order */
} BulkEpisode;

BulkWin *bulk_new(void);
void bulk_free(BulkWin *w);

/* Adds one complaint. On BULK_STARTED / BULK_JOINED *ep describes the episode
 * (for STARTED: ids = the tickets of the firing window). Returns -1 when out
 * of memory (nothing changed). A ticket id already in the window is not added
 * twice: the second add changes nothing and reports BULK_JOINED when the
 * ticket is a member of the running episode, else BULK_NONE. A threshold
 * below 1 counts as 1. */
int bulk_add(BulkWin *w, int64_t at, const char *ticket_id, int threshold, int64_t window, BulkOutcome *outcome,
             BulkEpisode *ep);

/* Stops counting a complaint (an invalid one, §12.6); false when it was not
 * counted. The running episode keeps going until bulk_end_at says the
 * trailing count fell below the threshold; its ids no longer list it. */
bool bulk_remove(BulkWin *w, const char *ticket_id);
bool bulk_active(const BulkWin *w);
/* When the running episode ends if no complaint arrives: the earliest t >= now
 * whose trailing count is below the threshold; TU_NEVER without an episode.
 * Never before the episode's condition_at: complaints dated after `now` (a
 * producer clock running fast, in wall mode) keep the episode until they have
 * been counted and left the window again, so such a key does not fire anew
 * with every complaint. */
int64_t bulk_end_at(const BulkWin *w, int threshold, int64_t window, int64_t now);
/* Ends the running episode at `at`: *ep gets its window, the trailing count
 * at `at` and every ticket that was part of the episode. Without a running
 * episode nothing happens and *ep has no ids. */
void bulk_end(BulkWin *w, int64_t at, int64_t window, BulkEpisode *ep);

/* Restores a running episode after a restart (its complaints are re-added
 * with bulk_add first, which must not start one: pass a threshold of INT_MAX).
 * ids that were not re-added are ignored. Returns 0. */
int bulk_restore(BulkWin *w, int64_t window_start, int64_t condition_at, const char *const *ids, size_t n_ids);

/* The window start of the latest episode of the key, running or ended; false
 * when there was none. Persist it with an ended episode, and when it ended
 * (its resolved_at): after a restart, bulk_restore_last keeps the same
 * window from firing a second time (its alert id,
 * bulk_complaint/<category>/<site>/<window_start>, was already resolved), and
 * a late complaint inside that burst from reporting it again. ended_at 0:
 * not known. */
bool bulk_last_start(const BulkWin *w, int64_t *window_start);

/* After bulk_restore: also marks as members the complaints dated at or
 * after `since` (the episode's window start) for which joined(arg, id) is
 * true, the ones that joined the running episode after it fired (the
 * caller knows them by the reason bulk of their ticket). A complaint dated
 * there that is not a member now never had that reason from an earlier
 * episode: that one ended before this one's threshold-th complaint, so its
 * members dated there are in this one's window and were members when it
 * fired. */
void bulk_restore_joined(BulkWin *w, int64_t since, bool (*joined)(void *arg, const char *id), void *arg);
void bulk_restore_last(BulkWin *w, int64_t window_start, int64_t ended_at);

/* Forgets complaints before `before` (not those of a running episode). Keep
 * before <= now - window, or trailing counts (bulk_end_at) lose complaints
 * that still count; the further back, the later a late complaint may arrive
 * and still find its whole window. */
void bulk_prune(BulkWin *w, int64_t before);
size_t bulk_size(const BulkWin *w);

#endif
