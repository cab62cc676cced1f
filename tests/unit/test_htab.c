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

Suite *suite_htab(void)
{
    Suite *s = suite_create("htab");
    TCase *tc = tcase_create("htab");
    tcase_add_test(tc, test_add_find_remove);
    tcase_add_test(tc, test_one_cluster);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    return s;
}
