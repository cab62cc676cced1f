/* Unit tests for lib/htab: pointer slots, keys read through the items. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "testutil.h"

typedef struct Item {
    char key[16];
    int n;
} Item;

static uint64_t item_hash(const void *x)
{
    return ht_hash_str(((const Item *)x)->key, 0);
}

/* A hash that puts everything in one cluster: the worst case for probing
 * and for backward-shift deletion. */
static uint64_t bad_hash(const void *x)
{
    return (uint64_t)(((const Item *)x)->key[0] & 1);
}

static bool item_match(const void *x, const void *key)
{
    return strcmp(((const Item *)x)->key, key) == 0;
}

static int count(const HTab *t, uint64_t h, const char *key)
{
    int n = 0;
    size_t pos = SIZE_MAX;
    while (ht_next(t, h, item_match, key, &pos))
        n++;
    return n;
}

static void run(HtHash hash, uint64_t (*hkey)(const char *))
{
    enum { N = 5000 };
    Item *items = calloc(N, sizeof *items);
    HTab t;
    ht_init(&t, hash);
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof items[i].key, "k%d", i % 700);
        items[i].n = i;
        REQUIRE(ht_add(&t, &items[i]) == 0);
    }
    REQUIRE(t.n == N);
    REQUIRE(t.n * 10 <= t.cap * 7);
    for (int k = 0; k < 700; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        REQUIRE(count(&t, hkey(key), key) == N / 700 + (k < N % 700));
    }
    /* remove a third, in a scattered order */
    for (int i = 0; i < N; i += 3)
        REQUIRE(ht_remove(&t, &items[i]));
    REQUIRE(!ht_remove(&t, &items[0]));
    for (int i = 0; i < N; i++)
        REQUIRE(ht_has(&t, &items[i]) == (i % 3 != 0));
    size_t seen = 0;
    for (size_t i = 0; ht_each(&t, &i);)
        seen++;
    REQUIRE(seen == t.n);
    ht_free(&t);
    free(items);
}

static uint64_t key_hash(const char *k)
{
    return ht_hash_str(k, 0);
}

static uint64_t bad_key_hash(const char *k)
{
    return (uint64_t)(k[0] & 1);
}

START_TEST(test_add_find_remove)
{
    run(item_hash, key_hash);
}
END_TEST

START_TEST(test_one_cluster)
{
    run(bad_hash, bad_key_hash);
}
END_TEST

START_TEST(test_empty)
{
    HTab t;
    ht_init(&t, item_hash);
    Item a = {"x", 0};
    ck_assert_ptr_null(ht_get(&t, ht_hash_str("x", 0), item_match, "x"));
    ck_assert(!ht_remove(&t, &a));
    ck_assert(!ht_has(&t, &a));
    size_t i = 0;
    ck_assert_ptr_null(ht_each(&t, &i));
    ck_assert_int_eq(ht_add(&t, &a), 0);
    ck_assert_ptr_eq(ht_get(&t, ht_hash_str("x", 0), item_match, "x"), &a);
    ht_free(&t);
}
END_TEST

/* HIdx: one item under many hashes, several items under one hash, and
 * hashes that share their low bits (one cluster) or only their low 32. */
static void run_idx(uint64_t (*hk)(int), bool exact)
{
    enum { ITEMS = 300, KEYS = 20 };
    Item *items = calloc(ITEMS, sizeof *items);
    HIdx x = {0};
    for (int i = 0; i < ITEMS; i++)
        for (int k = 0; k < KEYS; k++)
            REQUIRE(hx_add(&x, hk(i * KEYS + k), &items[i]) == 0);
    /* every key of item 7 is also under item 8 */
    for (int k = 0; k < KEYS; k++)
        REQUIRE(hx_add(&x, hk(7 * KEYS + k), &items[8]) == 0);
    REQUIRE(x.n == ITEMS * KEYS + KEYS);
    REQUIRE(x.n * 10 <= x.cap * 7);
    /* remove every key of the even items */
    for (int i = 0; i < ITEMS; i += 2)
        for (int k = 0; k < KEYS; k++)
            REQUIRE(hx_remove(&x, hk(i * KEYS + k), &items[i]));
    REQUIRE(!hx_remove(&x, hk(0), &items[0]));
    for (int i = 0; i < ITEMS; i++)
        for (int k = 0; k < KEYS; k++) {
            uint64_t h = hk(i * KEYS + k);
            bool mine = false, eight = false;
            size_t pos = SIZE_MAX;
            for (void *it; (it = hx_next(&x, h, &pos));) {
                mine |= it == &items[i];
                eight |= it == &items[8];
            }
            /* a shared tag lists more: the caller tells them apart */
            REQUIRE(exact ? mine == (i % 2 == 1) : mine || i % 2 == 0);
            if (i == 7)
                REQUIRE(eight);
        }
    ck_assert_uint_ge(hx_memory(&x), x.n * 12);
    hx_free(&x);
    REQUIRE(x.n == 0 && x.cap == 0);
    free(items);
}

static uint64_t idx_hash(int k)
{
    char s[16];
    snprintf(s, sizeof s, "k%d", k);
    return ht_hash_str(s, 0);
}

static uint64_t idx_cluster(int k)
{
    return (uint64_t)k << 40 | (uint64_t)(k & 1) << 20; /* two homes, tags differ above */
}

START_TEST(test_idx)
{
    run_idx(idx_hash, true);
    run_idx(idx_cluster, false);
}
END_TEST

Suite *suite_htab(void)
{
    Suite *s = suite_create("htab");
    TCase *tc = tcase_create("htab");
    tcase_add_test(tc, test_add_find_remove);
    tcase_add_test(tc, test_one_cluster);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_idx);
    suite_add_tcase(s, tc);
    return s;
}
