/* Tests for bulk: the sliding event-time window of one issue key (contract
 * §7). The policy default is 10 complaints in 60 minutes; most cases use it
 * so the numbers read like the contract. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "timeutil.h"

#define TH 10
#define W 3600
/* 2026-11-23T09:15:00+08:00 */
#define T0 1795396500

typedef struct Added {
    int rc;
    BulkOutcome out;
    BulkEpisode ep;
} Added;

static Added add(BulkWin *w, int64_t at, const char *id)
{
    Added r;
    memset(&r, 0, sizeof r);
    r.rc = bulk_add(w, at, id, TH, W, &r.out, &r.ep);
    ck_assert_int_eq(r.rc, 0);
    return r;
}

static Added addn(BulkWin *w, int64_t at, int n)
{
    char id[32];
    snprintf(id, sizeof id, "T-%d", n);
    return add(w, at, id);
}

static void assert_ids(const BulkEpisode *ep, const char *const *want, size_t n)
{
    ck_assert_uint_eq(ep->n_ids, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(ep->ids[i], want[i]);
}

/* ---- threshold ---------------------------------------------------------- */

START_TEST(test_nine_ten_eleven)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 9; i++) {
        Added r = addn(w, T0 + i * 60, i);
        ck_assert_int_eq(r.out, BULK_NONE);
    }
    ck_assert(!bulk_active(w));
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0), TU_NEVER);

    Added r = addn(w, T0 + 9 * 60, 9);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert(bulk_active(w));
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.window_end, T0 + W);
    ck_assert_int_eq(r.ep.condition_at, T0 + 9 * 60);
    ck_assert_int_eq(r.ep.count, 10);
    const char *want[] = {"T-0", "T-1", "T-2", "T-3", "T-4", "T-5", "T-6", "T-7", "T-8", "T-9", "T-10"};
    assert_ids(&r.ep, want, 10);

    r = addn(w, T0 + 10 * 60, 10);
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.window_end, T0 + W);
    ck_assert_int_eq(r.ep.condition_at, T0 + 9 * 60);
    ck_assert_int_eq(r.ep.count, 11);
    assert_ids(&r.ep, want, 11);
    ck_assert_uint_eq(bulk_size(w), 11);
    bulk_free(w);
}
END_TEST

/* The window is half-open: 59:59 after the first complaint is inside it,
 * 60:00 is not. Table: offset of the 10th complaint, whether it fires. */
static const struct {
    int64_t last;
    bool fires;
} edge[] = {
    {3599, true},
    {3600, false},
    {3601, false},
};

START_TEST(test_window_edge)
{
    BulkWin *w = bulk_new();
    addn(w, T0, 0);
    for (int i = 1; i < 9; i++)
        addn(w, T0 + i, i); /* T0+1 .. T0+8 */
    Added r = addn(w, T0 + edge[_i].last, 9);
    if (edge[_i].fires) {
        ck_assert_int_eq(r.out, BULK_STARTED);
        ck_assert_int_eq(r.ep.window_start, T0);
        ck_assert_int_eq(r.ep.condition_at, T0 + edge[_i].last);
        ck_assert_int_eq(r.ep.count, 10);
    } else {
        ck_assert_int_eq(r.out, BULK_NONE);
        ck_assert(!bulk_active(w));
    }
    bulk_free(w);
}
END_TEST

START_TEST(test_same_second)
{
    /* Ten at one second, arriving Z9 first: ties are listed by ticket id,
     * so a restart (which loads them in any order) lists them the same. */
    BulkWin *w = bulk_new();
    const char *want[10];
    char ids[10][8];
    Added r;
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "Z%d", 9 - i);
        want[9 - i] = ids[i];
        r = add(w, T0, ids[i]);
    }
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.condition_at, T0);
    assert_ids(&r.ep, want, 10);
    /* All ten leave together, one window later. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0), T0 + W);
    bulk_free(w);
}
END_TEST

START_TEST(test_threshold_one_and_below)
{
    BulkWin *w = bulk_new();
    BulkOutcome out;
    BulkEpisode ep;
    ck_assert_int_eq(bulk_add(w, T0, "A", 1, W, &out, &ep), 0);
    ck_assert_int_eq(out, BULK_STARTED);
    ck_assert_int_eq(ep.count, 1);
    ck_assert_int_eq(ep.condition_at, T0);
    bulk_free(w);

    /* A threshold below 1 counts as 1 (the policy never allows it). */
    w = bulk_new();
    ck_assert_int_eq(bulk_add(w, T0, "A", 0, W, &out, &ep), 0);
    ck_assert_int_eq(out, BULK_STARTED);
    ck_assert_int_eq(ep.condition_at, T0);
    ck_assert_int_eq(bulk_end_at(w, 0, W, T0), T0 + W);
    bulk_free(w);
}
END_TEST

/* ---- late complaints ---------------------------------------------------- */

START_TEST(test_late_completes_past_window)
{
    BulkWin *w = bulk_new();
    addn(w, T0, 0);
    for (int i = 1; i <= 8; i++)
        addn(w, T0 + 2000 + i, i);      /* 9 in [T0, T0+3600) */
    Added r = addn(w, T0 + 20000, 100); /* the stream has moved on */
    ck_assert_int_eq(r.out, BULK_NONE);
    /* A complaint dated T0+1000 arrives late: the window starting at the
     * first complaint, T0, now holds ten. The episode's window starts
     * there, before the late complaint itself. */
    r = addn(w, T0 + 1000, 99);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.window_end, T0 + W);
    ck_assert_int_eq(r.ep.count, 10);
    ck_assert_int_eq(r.ep.condition_at, T0 + 2008);
    const char *want[] = {"T-0", "T-99", "T-1", "T-2", "T-3", "T-4", "T-5", "T-6", "T-7", "T-8"};
    assert_ids(&r.ep, want, 10);
    /* In event time the condition is long over: it ends at once. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 20000), T0 + 20000);
    bulk_free(w);
}
END_TEST

START_TEST(test_late_starts_own_window)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 9; i++)
        addn(w, T0 + 1000 + i, i);
    /* An earlier complaint: the earliest window that holds ten starts at it. */
    Added r = addn(w, T0 + 500, 9);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0 + 500);
    ck_assert_int_eq(r.ep.condition_at, T0 + 1008);
    ck_assert_str_eq(r.ep.ids[0], "T-9");
    bulk_free(w);
}
END_TEST

START_TEST(test_window_must_hold_new_complaint)
{
    /* Windows that do not contain the new complaint are not looked at: 9
     * old complaints plus a new one more than a window later stay quiet. */
    BulkWin *w = bulk_new();
    for (int i = 0; i < 9; i++)
        addn(w, T0 + i, i);
    Added r = addn(w, T0 + 3600 + 8, 9);
    ck_assert_int_eq(r.out, BULK_NONE);
    bulk_free(w);
}
END_TEST

/* ---- two keys ----------------------------------------------------------- */

START_TEST(test_two_keys_interleaved)
{
    BulkWin *a = bulk_new(), *b = bulk_new();
    for (int i = 0; i < 9; i++) {
        ck_assert_int_eq(addn(a, T0 + i * 10, i).out, BULK_NONE);
        ck_assert_int_eq(addn(b, T0 + i * 10 + 5, 100 + i).out, BULK_NONE);
    }
    /* The tenth of key a fires a; b, with nine, stays quiet. */
    Added r = addn(a, T0 + 100, 9);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.n_ids, 10);
    for (size_t i = 0; i < r.ep.n_ids; i++) {
        char want[32];
        snprintf(want, sizeof want, "T-%d", (int)i);
        ck_assert_str_eq(r.ep.ids[i], want);
    }
    ck_assert(!bulk_active(b));
    ck_assert_int_eq(bulk_end_at(b, TH, W, T0), TU_NEVER);
    r = addn(b, T0 + 101, 109);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0 + 5);
    ck_assert_str_eq(r.ep.ids[0], "T-100");
    ck_assert_str_eq(r.ep.ids[9], "T-109");
    ck_assert_int_eq(bulk_end_at(a, TH, W, T0 + 101), T0 + W);
    ck_assert_int_eq(bulk_end_at(b, TH, W, T0 + 101), T0 + 5 + W);
    bulk_free(a);
    bulk_free(b);
}
END_TEST

/* ---- the end of an episode ---------------------------------------------- */

START_TEST(test_end_and_next_episode)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i); /* T0 .. T0+540 */
    ck_assert(bulk_active(w));
    /* The trailing count is 10 until the first complaint leaves, at T0+60m. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 540), T0 + W);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + W - 1), T0 + W);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + W), T0 + W);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + W + 500), T0 + W + 500);

    BulkEpisode ep;
    bulk_end(w, T0 + W, W, &ep);
    ck_assert(!bulk_active(w));
    ck_assert_int_eq(ep.window_start, T0);
    ck_assert_int_eq(ep.window_end, T0 + W);
    ck_assert_int_eq(ep.condition_at, T0 + 540);
    ck_assert_int_eq(ep.count, 9);
    ck_assert_uint_eq(ep.n_ids, 10);
    ck_assert_str_eq(ep.ids[0], "T-0");
    ck_assert_str_eq(ep.ids[9], "T-9");
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + W), TU_NEVER);

    /* The old window never fires again: a complaint at T0 itself has no
     * window starting after T0 that contains it. */
    Added r = addn(w, T0, 50);
    ck_assert_int_eq(r.out, BULK_NONE);

    /* T0+60 .. T0+540 (9) and T0, T0 again: windows holding T0+3700 start
     * after T0+100, so they hold T0+120..T0+540 (8) and need two more. */
    r = addn(w, T0 + 3700, 10);
    ck_assert_int_eq(r.out, BULK_NONE);
    r = addn(w, T0 + 3710, 11);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0 + 120);
    ck_assert_int_eq(r.ep.window_end, T0 + 120 + W);
    ck_assert_int_eq(r.ep.condition_at, T0 + 3710);
    ck_assert_int_eq(r.ep.count, 10);
    ck_assert_str_eq(r.ep.ids[0], "T-2");
    ck_assert_str_eq(r.ep.ids[9], "T-11");
    int64_t last = 0;
    ck_assert(bulk_last_start(w, &last));
    ck_assert_int_eq(last, T0 + 120);
    /* Members of the first episode that are not in this window are not
     * members now. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 3710), T0 + 120 + W);
    bulk_end(w, T0 + 120 + W, W, &ep);
    ck_assert_uint_eq(ep.n_ids, 10);
    ck_assert_int_eq(ep.count, 9);
    bulk_free(w);
}
END_TEST

START_TEST(test_joins_extend_episode)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i);
    /* Joins keep the trailing count up: with T0+3000 and T0+3500 in, the
     * count first drops below ten when the third complaint leaves. */
    Added r = addn(w, T0 + 3000, 10);
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.count, 11);
    r = addn(w, T0 + 3500, 11);
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 3500), T0 + 120 + W);
    /* A late join, dated before the others, takes its place in time order. */
    r = addn(w, T0 + 30, 12);
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_uint_eq(r.ep.n_ids, 13);
    ck_assert_str_eq(r.ep.ids[0], "T-0");
    ck_assert_str_eq(r.ep.ids[1], "T-12");
    ck_assert_str_eq(r.ep.ids[12], "T-11");
    /* ...and leaves before the third: the end does not move. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 3500), T0 + 120 + W);
    /* A complaint in no window that holds ten (dated far from the burst)
     * is counted but does not join, though the episode runs (§7: "every
     * open ticket in the window"). */
    r = addn(w, T0 + 3 * W, 13);
    ck_assert_int_eq(r.out, BULK_NONE);
    r = addn(w, T0 - 2 * W, 14);
    ck_assert_int_eq(r.out, BULK_NONE);
    BulkEpisode ep;
    bulk_end(w, T0 + 120 + W, W, &ep);
    ck_assert_uint_eq(ep.n_ids, 13);
    ck_assert_int_eq(ep.count, 9);
    ck_assert_int_eq(ep.window_start, T0);
    bulk_free(w);
}
END_TEST

START_TEST(test_end_at_future_complaints)
{
    /* Wall clock behind the complaints' times (a producer running fast):
     * the episode is not over before its condition became true, even though
     * nothing is in the trailing window at `now` yet. */
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 - 1000), T0 + W);
    /* Complaints further in the future keep it going; they are counted
     * from their own time on. */
    addn(w, T0 + W + 100, 10); /* trailing at T0+W: 9 ... */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 - 1000), T0 + W);
    bulk_free(w);

    w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i);
    addn(w, T0 + 3000, 10);
    /* Now 11 in the window; the count falls below ten when the second
     * leaves at T0+60+W. A complaint dated T0+60+W itself comes in at that
     * instant and keeps it at ten; the third leaving (T0+120+W) ends it. */
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 - 1000), T0 + 60 + W);
    addn(w, T0 + 60 + W, 11);
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 - 1000), T0 + 120 + W);
    bulk_free(w);
}
END_TEST

START_TEST(test_end_without_episode)
{
    BulkWin *w = bulk_new();
    addn(w, T0, 0);
    BulkEpisode ep;
    bulk_end(w, T0, W, &ep);
    ck_assert_uint_eq(ep.n_ids, 0);
    ck_assert(!bulk_active(w));
    int64_t last = 42;
    ck_assert(!bulk_last_start(w, &last));
    ck_assert_int_eq(last, 42);
    bulk_free(w);
    bulk_free(NULL);
}
END_TEST

/* ---- duplicates, prune, restore ----------------------------------------- */

START_TEST(test_duplicate_ticket)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 9; i++)
        addn(w, T0 + i, i);
    Added r = addn(w, T0 + 5, 3); /* T-3 again: not counted twice */
    ck_assert_int_eq(r.out, BULK_NONE);
    ck_assert_uint_eq(bulk_size(w), 9);
    r = addn(w, T0 + 9, 9);
    ck_assert_int_eq(r.out, BULK_STARTED);
    r = addn(w, T0 + 9, 9); /* a member again: still reported */
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_uint_eq(r.ep.n_ids, 10);
    ck_assert_uint_eq(bulk_size(w), 10);
    bulk_free(w);

    /* Held but not a member of the running episode: nothing to report. */
    w = bulk_new();
    addn(w, T0 - 2 * W, 100);
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i, i);
    ck_assert(bulk_active(w));
    r = addn(w, T0 - 2 * W, 100);
    ck_assert_int_eq(r.out, BULK_NONE);
    bulk_free(w);
}
END_TEST

/* §12.6: an invalid complaint stops counting; a count that falls below the
 * threshold ends the episode now. */
START_TEST(test_remove)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i);
    ck_assert(bulk_active(w));
    int64_t now = T0 + 20 * 60;
    ck_assert_int_eq(bulk_end_at(w, TH, W, now), T0 + W); /* T-0 leaves the window */
    ck_assert(!bulk_remove(w, "T-99"));
    ck_assert(bulk_remove(w, "T-4"));
    ck_assert(!bulk_remove(w, "T-4"));
    ck_assert_uint_eq(bulk_size(w), 9);
    ck_assert_int_eq(bulk_end_at(w, TH, W, now), now); /* nine left: over now */
    BulkEpisode ep;
    bulk_end(w, now, W, &ep);
    ck_assert_int_eq(ep.count, 9);
    const char *want[] = {"T-0", "T-1", "T-2", "T-3", "T-5", "T-6", "T-7", "T-8", "T-9"};
    assert_ids(&ep, want, 9);
    /* the same window does not fire again when a tenth arrives */
    Added r = addn(w, T0 + 21 * 60, 10);
    ck_assert_int_eq(r.out, BULK_NONE);
    bulk_free(w);
}
END_TEST

START_TEST(test_prune)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 5; i++)
        addn(w, T0 + i * 600, i); /* T0 .. T0+2400 */
    bulk_prune(w, T0 + 1200);
    ck_assert_uint_eq(bulk_size(w), 3);
    bulk_prune(w, T0);
    ck_assert_uint_eq(bulk_size(w), 3);
    /* A forgotten ticket can be added again. */
    ck_assert_int_eq(addn(w, T0, 0).out, BULK_NONE);
    ck_assert_uint_eq(bulk_size(w), 4);
    bulk_free(w);

    /* Members of a running episode stay, whatever their age. */
    w = bulk_new();
    addn(w, T0 - 2 * W, 99);
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i, i);
    ck_assert(bulk_active(w));
    ck_assert_uint_eq(bulk_size(w), 11);
    bulk_prune(w, T0 + 100 * W);
    ck_assert_uint_eq(bulk_size(w), 10);
    BulkEpisode ep;
    bulk_end(w, T0 + W, W, &ep);
    ck_assert_uint_eq(ep.n_ids, 10);
    ck_assert_str_eq(ep.ids[0], "T-0");
    bulk_prune(w, T0 + 100 * W);
    ck_assert_uint_eq(bulk_size(w), 0);
    bulk_free(w);
}
END_TEST

START_TEST(test_restore)
{
    /* Before the restart: an episode with 11 tickets. */
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 60, i);
    addn(w, T0 + 1000, 10);
    int64_t want_end = bulk_end_at(w, TH, W, T0 + 1000);
    bulk_free(w);

    /* After: the complaints are re-added without starting anything, then
     * the episode is put back. */
    w = bulk_new();
    BulkOutcome out;
    BulkEpisode ep;
    const char *members[11];
    char ids[11][8];
    for (int i = 10; i >= 0; i--) {
        snprintf(ids[i], sizeof ids[i], "T-%d", i);
        members[i] = ids[i];
        ck_assert_int_eq(bulk_add(w, i == 10 ? T0 + 1000 : T0 + i * 60, ids[i], INT_MAX, W, &out, &ep), 0);
        ck_assert_int_eq(out, BULK_NONE);
    }
    ck_assert(!bulk_active(w));
    const char *with_unknown[12];
    memcpy(with_unknown, members, sizeof members);
    with_unknown[11] = "T-gone"; /* never re-added: ignored */
    ck_assert_int_eq(bulk_restore(w, T0, T0 + 540, with_unknown, 12), 0);
    ck_assert(bulk_active(w));
    ck_assert_int_eq(bulk_end_at(w, TH, W, T0 + 1000), want_end);

    Added r = addn(w, T0 + 1100, 11);
    ck_assert_int_eq(r.out, BULK_JOINED);
    ck_assert_int_eq(r.ep.window_start, T0);
    ck_assert_int_eq(r.ep.window_end, T0 + W);
    ck_assert_int_eq(r.ep.condition_at, T0 + 540);
    ck_assert_uint_eq(r.ep.n_ids, 12);

    bulk_end(w, want_end, W, &ep);
    ck_assert_int_eq(ep.window_start, T0);
    ck_assert_uint_eq(ep.n_ids, 12);
    /* The restored window does not fire again. */
    r = addn(w, T0, 77);
    ck_assert_int_eq(r.out, BULK_NONE);
    bulk_free(w);
}
END_TEST

/* Ten complaints from T0 on, a second apart, re-added as a start does
 * (a threshold that never starts an episode). */
static BulkWin *reloaded_ten(void)
{
    BulkWin *w = bulk_new();
    BulkOutcome out;
    BulkEpisode ep;
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "T-%d", i);
        ck_assert_int_eq(bulk_add(w, T0 + i, id, INT_MAX, W, &out, &ep), 0);
    }
    return w;
}

START_TEST(test_restore_last_start)
{
    /* An episode with window T0 ended before the restart: after it, the same
     * complaints must not fire bulk_complaint/.../T0 a second time. */
    BulkWin *w = reloaded_ten();
    bulk_restore_last(w, T0, 0);
    bulk_restore_last(w, T0 - 5, 0); /* an older one changes nothing */
    int64_t last;
    ck_assert(bulk_last_start(w, &last));
    ck_assert_int_eq(last, T0);
    Added r = addn(w, T0 + 5, 10);
    /* Windows after T0: T0+1.. holds 9 + this one = 10: fires at T0+1. */
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0 + 1);
    bulk_free(w);

    /* Knowing when it ended (its resolved_at), the same late complaint is
     * inside the burst already reported: nothing fires. */
    w = reloaded_ten();
    bulk_restore_last(w, T0, T0 + W);
    r = addn(w, T0 + 5, 10);
    ck_assert_int_eq(r.out, BULK_NONE);
    bulk_free(w);
}
END_TEST

/* A late complaint dated inside a burst whose episode already ended makes a
 * window of ten that starts after the episode's; it is the same burst, not
 * a new one: no second alert. A burst after the end is a new one. */
START_TEST(test_late_complaint_in_ended_burst)
{
    BulkWin *w = bulk_new();
    for (int i = 0; i < 10; i++)
        addn(w, T0 + i * 120, i); /* 10th at T0+1080 */
    ck_assert(bulk_active(w));
    int64_t end = bulk_end_at(w, TH, W, T0 + 1080);
    ck_assert_int_eq(end, T0 + W); /* the first leaves */
    BulkEpisode ep;
    bulk_end(w, end, W, &ep);
    /* 20 minutes later a complaint dated T0+300 arrives: [T0+120, T0+W+120)
     * now holds ten, its 10th at T0+1080, before the end */
    Added r = addn(w, T0 + 300, 10);
    ck_assert_int_eq(r.out, BULK_NONE);
    ck_assert(!bulk_active(w));
    /* ten more from T0+2W on: a new burst, after the end */
    for (int i = 0; i < 10; i++)
        r = addn(w, T0 + 2 * W + i * 60, 20 + i);
    ck_assert_int_eq(r.out, BULK_STARTED);
    ck_assert_int_eq(r.ep.window_start, T0 + 2 * W);
    bulk_free(w);
}
END_TEST

/* ---- against a brute-force model ---------------------------------------- */

/* Small windows and times so that every second can be looked at. */
#define MW 10
#define MTH 3
#define MN 40

typedef struct Model {
    int64_t at[MN];
    bool member[MN];
    int n;
    bool active, has_last;
    int64_t start, cond, last, last_end;
} Model;

/* The time of the MTH-th complaint of [s, s + MW). */
static int64_t model_cond(const Model *m, int64_t s);

static int model_count(const Model *m, int64_t lo, int64_t hi) /* [lo, hi) */
{
    int c = 0;
    for (int i = 0; i < m->n; i++)
        c += m->at[i] >= lo && m->at[i] < hi;
    return c;
}

static int64_t model_cond(const Model *m, int64_t s)
{
    int c = 0;
    for (int64_t t = s;; t++) {
        c += model_count(m, t, t + 1);
        if (c >= MTH)
            return t;
    }
}

/* Whether some window [s, s + MW) with s a complaint's time holds `at` and
 * MTH complaints. */
static bool model_in_full_window(const Model *m, int64_t at)
{
    for (int64_t s = at - MW + 1; s <= at; s++)
        if (model_count(m, s, s + 1) > 0 && model_count(m, s, s + MW) >= MTH)
            return true;
    return false;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

START_TEST(test_model)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 400; round++) {
        BulkWin *w = bulk_new();
        Model m;
        memset(&m, 0, sizeof m);
        m.last_end = INT64_MIN;
        int64_t now = 0;
        for (int k = 0; k < MN; k++) {
            int64_t at = (int64_t)(lcg(&seed) % 60);
            char id[16];
            snprintf(id, sizeof id, "r%d", k);
            BulkOutcome out;
            BulkEpisode ep;
            ck_assert_int_eq(bulk_add(w, at, id, MTH, MW, &out, &ep), 0);
            m.at[m.n] = at;
            m.member[m.n] = false;
            m.n++;

            BulkOutcome want = BULK_NONE;
            if (m.active) {
                if (model_in_full_window(&m, at)) {
                    want = BULK_JOINED;
                    m.member[m.n - 1] = true;
                }
            } else {
                /* every second s that is a complaint's time, earliest first */
                for (int64_t s = at - MW + 1; s <= at; s++) {
                    if (m.has_last && s <= m.last)
                        continue;
                    if (model_count(&m, s, s + 1) == 0 || model_count(&m, s, s + MW) < MTH)
                        continue;
                    if (model_cond(&m, s) <= m.last_end)
                        continue; /* inside the burst the last episode reported */
                    want = BULK_STARTED;
                    m.active = m.has_last = true;
                    m.start = m.last = s;
                    m.cond = model_cond(&m, s);
                    for (int i = 0; i < m.n; i++)
                        m.member[i] = m.at[i] >= s && m.at[i] < s + MW;
                    ck_assert_int_eq(ep.count, model_count(&m, s, s + MW));
                    break;
                }
            }
            ck_assert_msg(out == want, "round %d step %d: got %d want %d", round, k, out, want);
            if (out == BULK_STARTED) {
                ck_assert_int_eq(ep.window_start, m.start);
                ck_assert_int_eq(ep.condition_at, m.cond);
            }
            if (m.active) {
                int members = 0;
                for (int i = 0; i < m.n; i++)
                    members += m.member[i];
                ck_assert_uint_eq(ep.n_ids, (size_t)members);
            }

            /* The clock moves on at random; end the episode when due. */
            now += (int64_t)(lcg(&seed) % 4);
            int64_t end = bulk_end_at(w, MTH, MW, now);
            if (!m.active) {
                ck_assert_int_eq(end, TU_NEVER);
                continue;
            }
            int64_t t = now > m.cond ? now : m.cond;
            while (model_count(&m, t - MW + 1, t + 1) >= MTH)
                t++;
            ck_assert_int_eq(end, t);
            if (end <= now + 2) {
                bulk_end(w, end, MW, &ep);
                ck_assert_int_eq(ep.count, model_count(&m, end - MW + 1, end + 1));
                ck_assert_int_eq(ep.window_start, m.start);
                m.active = false;
                m.last_end = end;
                memset(m.member, 0, sizeof m.member);
            }
        }
        bulk_free(w);
    }
}
END_TEST

Suite *suite_bulk(void)
{
    Suite *s = suite_create("bulk");
    TCase *tc = tcase_create("window");
    tcase_add_test(tc, test_nine_ten_eleven);
    tcase_add_loop_test(tc, test_window_edge, 0, (int)(sizeof edge / sizeof edge[0]));
    tcase_add_test(tc, test_same_second);
    tcase_add_test(tc, test_threshold_one_and_below);
    tcase_add_test(tc, test_late_completes_past_window);
    tcase_add_test(tc, test_late_starts_own_window);
    tcase_add_test(tc, test_window_must_hold_new_complaint);
    tcase_add_test(tc, test_two_keys_interleaved);
    suite_add_tcase(s, tc);

    tc = tcase_create("episode");
    tcase_add_test(tc, test_end_and_next_episode);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_joins_extend_episode);
    tcase_add_test(tc, test_end_at_future_complaints);
    tcase_add_test(tc, test_end_without_episode);
    tcase_add_test(tc, test_duplicate_ticket);
    tcase_add_test(tc, test_prune);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_restore_last_start);
    tcase_add_test(tc, test_late_complaint_in_ended_burst);
    tcase_add_test(tc, test_model);
    suite_add_tcase(s, tc);
    return s;
}
