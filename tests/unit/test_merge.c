/* Unit tests for lib/merge: the partition merge. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

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

static void push(int i, const char *topic, int32_t part, int64_t at)
{
    items[i].id = i;
    items[i].m.at = at;
    ck_assert_int_eq(merge_push(mg, topic, part, &items[i].m), 0);
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

START_TEST(test_ties_and_dead_letters)
{
    push(0, "c", 3, 10);
    push(1, "c", 1, 10); /* same time: the partition seen first goes first */
    push(2, "c", 2, INT64_MIN);
    ck_assert_int_eq(((Item *)merge_peek(mg))->id, 2);
    int want[] = {2, 0, 1};
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

Suite *suite_merge(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_earliest_head_first);
    tcase_add_test(tc, test_partition_order_is_kept);
    tcase_add_test(tc, test_ties_and_dead_letters);
    tcase_add_test(tc, test_take_a_partition);
    suite_add_tcase(s, tc);
    return s;
}
