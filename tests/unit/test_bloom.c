/* Tests for bloom: no false negatives, a bounded false positive rate, growth
 * in layers. */
#include <check.h>
#include <stdio.h>

#include "bloom.h"

START_TEST(test_no_false_negatives_and_growth)
{
    Bloom *b = bloom_new(1000);
    ck_assert_ptr_nonnull(b);
    char key[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "T-%d", i);
        ck_assert_int_eq(bloom_add(b, key), 0);
    }
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "T-%d", i);
        ck_assert_msg(bloom_maybe(b, key), "lost %s", key);
    }
    /* a key added twice is counted once (or not at all, when it already looked present) */
    ck_assert_uint_le(bloom_count(b), 50000);
    ck_assert_uint_ge(bloom_count(b), 49000);
    /* 12 bits an item; doubling layers leave at most the last one part-filled */
    ck_assert_uint_lt(bloom_memory(b), (size_t)50000 * 12 / 8 * 3);
    int fp = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "X-%d", i);
        fp += bloom_maybe(b, key);
    }
    ck_assert_msg(fp < 3000, "false positives: %d in 100000", fp);
    bloom_free(b);
}
END_TEST

START_TEST(test_empty)
{
    Bloom *b = bloom_new(0);
    ck_assert(!bloom_maybe(b, "T-1"));
    ck_assert(!bloom_maybe(b, ""));
    ck_assert_int_eq(bloom_add(b, ""), 0);
    ck_assert(bloom_maybe(b, ""));
    ck_assert_uint_eq(bloom_count(b), 1);
    bloom_free(b);
    bloom_free(NULL);
}
END_TEST

Suite *suite_bloom(void)
{
    Suite *s = suite_create("bloom");
    TCase *tc = tcase_create("bloom");
    tcase_add_test(tc, test_no_false_negatives_and_growth);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    return s;
}
