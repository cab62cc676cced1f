/* Unit tests for lib/strmap: the ticket and waybill indexes. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "testutil.h"

static StrMap *new_map(void)
{
    StrMap *m = sm_new();
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Values are small integers disguised as pointers; 0 would read as "absent". */
#define V(i) ((void *)(uintptr_t)(i))

START_TEST(test_put_get_del_replace)
{
    StrMap *m = new_map();
    ck_assert_uint_eq(sm_count(m), 0);
    ck_assert_ptr_null(sm_get(m, "a"));
    ck_assert(!sm_has(m, "a"));
    ck_assert_ptr_null(sm_del(m, "a"));

    ck_assert_int_eq(sm_put(m, "a", V(1)), 0);
    ck_assert_int_eq(sm_put(m, "b", V(2)), 0);
    ck_assert_int_eq(sm_put(m, "", V(3)), 0); /* the empty key is a key */
    ck_assert_uint_eq(sm_count(m), 3);
    ck_assert_ptr_eq(sm_get(m, "a"), V(1));
    ck_assert_ptr_eq(sm_get(m, "b"), V(2));
    ck_assert_ptr_eq(sm_get(m, ""), V(3));
    ck_assert(sm_has(m, ""));
    ck_assert_ptr_null(sm_get(m, "c"));

    /* replace keeps the count */
    ck_assert_int_eq(sm_put(m, "a", V(10)), 0);
    ck_assert_uint_eq(sm_count(m), 3);
    ck_assert_ptr_eq(sm_get(m, "a"), V(10));

    /* a NULL value is stored and present */
    ck_assert_int_eq(sm_put(m, "n", NULL), 0);
    ck_assert(sm_has(m, "n"));
    ck_assert_ptr_null(sm_get(m, "n"));
    ck_assert_uint_eq(sm_count(m), 4);

    /* the map copies keys */
    char key[8] = "zz";
    ck_assert_int_eq(sm_put(m, key, V(7)), 0);
    key[0] = 'q';
    ck_assert_ptr_eq(sm_get(m, "zz"), V(7));
    ck_assert(!sm_has(m, "qz"));

    ck_assert_ptr_eq(sm_del(m, "a"), V(10));
    ck_assert(!sm_has(m, "a"));
    ck_assert_ptr_null(sm_del(m, "a"));
    ck_assert_uint_eq(sm_count(m), 4);
    ck_assert_ptr_eq(sm_get(m, "b"), V(2));
    sm_free(m);
    sm_free(NULL);
}
END_TEST

START_TEST(test_growth_100k)
{
    enum { N = 100000 };
    StrMap *m = new_map();
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "T-%d", i);
        REQUIRE(sm_put(m, key, V(i + 1)) == 0);
    }
    REQUIRE(sm_count(m) == (size_t)(N));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "T-%d", i);
        REQUIRE(sm_get(m, key) == V(i + 1));
    }
    REQUIRE(!sm_has(m, "T-100000"));
    /* delete the odd ones */
    for (int i = 1; i < N; i += 2) {
        snprintf(key, sizeof key, "T-%d", i);
        REQUIRE(sm_del(m, key) == V(i + 1));
    }
    REQUIRE(sm_count(m) == (size_t)(N / 2));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "T-%d", i);
        if (i % 2)
            REQUIRE(!sm_has(m, key));
        else
            REQUIRE(sm_get(m, key) == V(i + 1));
    }
    sm_free(m);
}
END_TEST

START_TEST(test_iteration)
{
    enum { N = 1000 };
    StrMap *m = new_map();
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        REQUIRE(sm_put(m, key, V(i + 1)) == 0);
    }
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    size_t it = 0, count = 0;
    const char *k;
    void *v;
    while (sm_next(m, &it, &k, &v)) {
        int i = (int)(uintptr_t)v - 1;
        REQUIRE(i >= 0 && i < N);
        REQUIRE(!seen[i]);
        seen[i] = true;
        snprintf(key, sizeof key, "k%d", i);
        REQUIRE(strcmp(k, key) == 0);
        count++;
    }
    REQUIRE(count == (size_t)(N));
    REQUIRE(!sm_next(m, &it, &k, &v)); /* stays at the end */
    /* NULL out-pointers are allowed */
    it = 0;
    count = 0;
    while (sm_next(m, &it, NULL, NULL))
        count++;
    REQUIRE(count == (size_t)(N));
    sm_free(m);

    m = new_map();
    it = 0;
    REQUIRE(!sm_next(m, &it, &k, &v));
    sm_free(m);
}
END_TEST

/* Random puts and deletes against a plain array model. The key space is small
 * so that probe runs collide, wrap around the table end and get shifted back. */
static uint64_t lcg_state;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

START_TEST(test_random_vs_model)
{
    lcg_state = 777 + (uint64_t)_i;
    /* a few hundred keys at most keep the table small and crowded */
    static const int nkeys[] = {10, 40, 300, 3000};
    int K = nkeys[_i % 4];
    uintptr_t *model = calloc((size_t)K, sizeof *model); /* 0 = absent */
    ck_assert_ptr_nonnull(model);
    StrMap *m = new_map();
    size_t n = 0;
    char key[32];
    for (int op = 0; op < 40000; op++) {
        int k = (int)(lcg() % (uint32_t)K);
        snprintf(key, sizeof key, "w%d", k);
        uint32_t r = lcg() % 10;
        if (r < 5) {
            uintptr_t val = 1 + lcg() % 1000;
            REQUIRE(sm_put(m, key, V(val)) == 0);
            if (!model[k])
                n++;
            model[k] = val;
        } else if (r < 9) {
            void *got = sm_del(m, key);
            REQUIRE(got == (model[k] ? V(model[k]) : NULL));
            if (model[k])
                n--;
            model[k] = 0;
        } else {
            REQUIRE(sm_get(m, key) == (model[k] ? V(model[k]) : NULL));
        }
        REQUIRE(sm_count(m) == (size_t)(n));
        if (op % 1000 == 999) {
            /* every key findable, every absent key absent, iteration complete */
            for (int i = 0; i < K; i++) {
                snprintf(key, sizeof key, "w%d", i);
                REQUIRE(sm_has(m, key) == (model[i] != 0));
                if (model[i])
                    REQUIRE(sm_get(m, key) == V(model[i]));
            }
            size_t it = 0, count = 0;
            const char *kk;
            void *vv;
            while (sm_next(m, &it, &kk, &vv)) {
                int i = atoi(kk + 1);
                REQUIRE(i >= 0 && i < K);
                REQUIRE(vv == V(model[i]));
                count++;
            }
            REQUIRE(count == (size_t)(n));
        }
    }
    sm_free(m);
    free(model);
}
END_TEST

/* Delete everything, then refill: no tombstones left behind. */
START_TEST(test_delete_all_refill)
{
    StrMap *m = new_map();
    char key[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(key, sizeof key, "r%d-%d", round, i);
            REQUIRE(sm_put(m, key, V(i + 1)) == 0);
        }
        for (int i = 4999; i >= 0; i--) {
            snprintf(key, sizeof key, "r%d-%d", round, i);
            REQUIRE(sm_del(m, key) == V(i + 1));
        }
        REQUIRE(sm_count(m) == (size_t)(0));
        size_t it = 0;
        REQUIRE(!sm_next(m, &it, NULL, NULL));
    }
    sm_free(m);
}
END_TEST

Suite *suite_strmap(void)
{
    Suite *s = suite_create("strmap");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_put_get_del_replace);
    tcase_add_test(tc, test_growth_100k);
    tcase_add_test(tc, test_iteration);
    tcase_add_loop_test(tc, test_random_vs_model, 0, 8);
    tcase_add_test(tc, test_delete_all_refill);
    suite_add_tcase(s, tc);
    return s;
}
