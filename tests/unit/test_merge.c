/* Unit tests for lib/merge: the partition merge. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "testutil.h"

typedef struct Item {
    MergeItem m;
    int id;
} Item;

static Merge *mg;
static Item items[16];

static void setup(void)
{
    mg = merge_new();
    ck_assert_ptr_nonnull(mg);
}

static void teardown(void)
{
    merge_free(mg);
}

static void push_at(int i, const char *topic, int32_t part, int64_t at, uint32_t ns, uint8_t rank)
{
    items[i].id = i;
    items[i].m.at = at;
    items[i].m.ns = ns;
    items[i].m.rank = rank;
    ck_assert_int_eq(merge_push(mg, topic, part, &items[i].m), 0);
}

static void push(int i, const char *topic, int32_t part, int64_t at)
{
    push_at(i, topic, part, at, 0, 0);
}

static int pop(void)
{
    Item *it = (Item *)merge_pop(mg);
    return it ? it->id : -1;
}

START_TEST(test_earliest_head_first)
{
    push(0, "c", 0, 30);
    push(1, "c", 0, 40);
    push(2, "c", 1, 10);
    push(3, "c", 1, 35);
    push(4, "s", 0, 20);
    ck_assert_uint_eq(merge_count(mg), 5);
    int want[] = {2, 4, 0, 3, 1};
    for (int i = 0; i < NELEM(want); i++)
        ck_assert_int_eq(pop(), want[i]);
    ck_assert_int_eq(pop(), -1);
    ck_assert_uint_eq(merge_count(mg), 0);
}
END_TEST

START_TEST(test_partition_order_is_kept)
{
    /* a partition's own order holds even when its times go backwards */
    push(0, "c", 0, 50);
    push(1, "c", 0, 10);
    push(2, "c", 1, 20);
    int want[] = {2, 0, 1};
    for (int i = 0; i < NELEM(want); i++)
        ck_assert_int_eq(pop(), want[i]);
}
END_TEST

START_TEST(test_fraction_then_rank)
{
    /* 10.6 s, 10.3 s, 10 s (a received) and 10 s: by the fraction, then
     * at one instant the lower rank, whatever partition each came on */
    push_at(0, "c", 0, 10, 600000000, 0);
    push_at(1, "c", 1, 10, 300000000, 1);
    push_at(2, "c", 2, 10, 0, 1);
    push_at(3, "c", 3, 10, 0, 0);
    push_at(4, "c", 4, 9, 999999999, 1);
    int want[] = {4, 3, 2, 1, 0};
    for (int i = 0; i < NELEM(want); i++)
        ck_assert_int_eq(pop(), want[i]);
}
END_TEST

START_TEST(test_ties_and_dead_letters)
{
    push(0, "c", 3, 10);
    push(1, "c", 1, 10); /* same time: the lower partition goes first, whichever came first */
    push(2, "c", 2, INT64_MIN);
    push(3, "b", 7, 10); /* and the lower topic name before both */
    ck_assert_int_eq(((Item *)merge_peek(mg))->id, 2);
    int want[] = {2, 3, 1, 0};
    for (int i = 0; i < NELEM(want); i++)
        ck_assert_int_eq(pop(), want[i]);
}
END_TEST

START_TEST(test_take_a_partition)
{
    push(0, "c", 0, 10);
    push(1, "c", 1, 5);
    push(2, "c", 0, 20);
    push(3, "s", 0, 1);
    MergeItem *l = merge_take(mg, "c", 0);
    ck_assert_int_eq(((Item *)l)->id, 0);
    ck_assert_int_eq(((Item *)l->next)->id, 2);
    ck_assert_ptr_null(l->next->next);
    ck_assert_uint_eq(merge_count(mg), 2);
    ck_assert_ptr_null(merge_take(mg, "c", 7));
    /* the partition can be filled again */
    push(4, "c", 0, 2);
    l = merge_take(mg, NULL, 0);
    int n = 0;
    for (; l; l = l->next)
        n++;
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(merge_count(mg), 0);
    ck_assert_ptr_null(merge_peek(mg));
}
END_TEST

/* behind() of the tests: the partitions listed in `lagging` are behind. */
static const char *lagging[4];

static int behind(void *arg, const char *topic, int32_t partition)
{
    (void)arg;
    char k[32];
    snprintf(k, sizeof k, "%s/%d", topic, (int)partition);
    for (int i = 0; i < NELEM(lagging) && lagging[i]; i++)
        if (strcmp(lagging[i], k) == 0)
            return 1;
    return 0;
}

START_TEST(test_blocker_is_an_empty_tracked_partition_behind_its_end)
{
    int32_t part = -7;
    ck_assert_int_eq(merge_track(mg, "c", 0), 0);
    ck_assert_int_eq(merge_track(mg, "s", 0), 0);
    memset(lagging, 0, sizeof lagging);
    /* nothing buffered, nothing behind: nothing holds the merge back */
    ck_assert_ptr_null(merge_blocker(mg, behind, NULL, &part));
    ck_assert_int_eq(part, -7);
    /* s/0 is behind and empty: it holds back c/0's items */
    lagging[0] = "s/0";
    push(0, "c", 0, 10);
    ck_assert_str_eq(merge_blocker(mg, behind, NULL, &part), "s");
    ck_assert_int_eq(part, 0);
    /* once it has an item, it no longer blocks, and goes first */
    push(1, "s", 0, 5);
    ck_assert_ptr_null(merge_blocker(mg, behind, NULL, &part));
    ck_assert_uint_eq(merge_count_of(mg, "s", 0), 1);
    ck_assert_uint_eq(merge_count_of(mg, "c", 0), 1);
    ck_assert_int_eq(pop(), 1);
    ck_assert_uint_eq(merge_count_of(mg, "s", 0), 0);
    ck_assert_str_eq(merge_blocker(mg, behind, NULL, &part), "s");
    /* a partition that is not tracked (revoked, or never assigned) never blocks */
    merge_untrack(mg, "s", 0);
    ck_assert_ptr_null(merge_blocker(mg, behind, NULL, &part));
    lagging[1] = "x/3";
    ck_assert_ptr_null(merge_blocker(mg, behind, NULL, &part));
    ck_assert_int_eq(merge_track(mg, "x", 3), 0);
    ck_assert_str_eq(merge_blocker(mg, behind, NULL, &part), "x");
    ck_assert_int_eq(part, 3);
    merge_untrack(mg, NULL, 0);
    ck_assert_ptr_null(merge_blocker(mg, behind, NULL, &part));
    ck_assert_int_eq(pop(), 0);
    ck_assert_uint_eq(merge_count(mg), 0);
}
END_TEST

/* merge_emptied moves exactly when a pop leaves a partition with nothing
 * buffered: the pipeline looks for blockers again only then. */
START_TEST(test_emptied_counts_pops_that_empty_a_partition)
{
    ck_assert_uint_eq(merge_emptied(mg), 0);
    push(0, "t", 0, 10);
    push(1, "t", 0, 30);
    push(2, "t", 1, 20);
    ck_assert_int_eq(pop(), 0); /* t/0 still holds 1 */
    ck_assert_uint_eq(merge_emptied(mg), 0);
    ck_assert_int_eq(pop(), 2); /* t/1 is empty now */
    ck_assert_uint_eq(merge_emptied(mg), 1);
    push(3, "t", 1, 40);
    ck_assert_uint_eq(merge_emptied(mg), 1);
    ck_assert_int_eq(pop(), 1); /* t/0 */
    ck_assert_uint_eq(merge_emptied(mg), 2);
    ck_assert_int_eq(pop(), 3); /* t/1 again */
    ck_assert_uint_eq(merge_emptied(mg), 3);
    ck_assert_int_eq(pop(), -1); /* nothing to pop: nothing emptied */
    ck_assert_uint_eq(merge_emptied(mg), 3);
}
END_TEST

START_TEST(test_counts_per_partition_follow_take)
{
    push(0, "c", 0, 1);
    push(1, "c", 0, 2);
    push(2, "c", 1, 3);
    ck_assert_uint_eq(merge_count_of(mg, "c", 0), 2);
    ck_assert_uint_eq(merge_count_of(mg, "c", 1), 1);
    ck_assert_uint_eq(merge_count_of(mg, "nope", 0), 0);
    MergeItem *l = merge_take(mg, "c", 0);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(merge_count_of(mg, "c", 0), 0);
    ck_assert_uint_eq(merge_count(mg), 1);
    ck_assert_int_eq(pop(), 2);
}
END_TEST

Suite *suite_merge(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_earliest_head_first);
    tcase_add_test(tc, test_partition_order_is_kept);
    tcase_add_test(tc, test_fraction_then_rank);
    tcase_add_test(tc, test_ties_and_dead_letters);
    tcase_add_test(tc, test_take_a_partition);
    tcase_add_test(tc, test_blocker_is_an_empty_tracked_partition_behind_its_end);
    tcase_add_test(tc, test_counts_per_partition_follow_take);
    tcase_add_test(tc, test_emptied_counts_pops_that_empty_a_partition);
    suite_add_tcase(s, tc);
    return s;
}
