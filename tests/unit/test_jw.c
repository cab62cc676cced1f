/* Unit tests for lib/jw: compact JSON text, escaped as Jansson escapes it. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "testutil.h"

START_TEST(test_document)
{
    Jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "a"), jw_int(&w, -12);
    jw_key(&w, "b"), jw_arr(&w);
    jw_str(&w, "x"), jw_bool(&w, true), jw_null(&w), jw_obj(&w), jw_end_obj(&w), jw_arr(&w), jw_end_arr(&w);
    jw_end_arr(&w);
    jw_key(&w, "c"), jw_obj(&w), jw_key(&w, "d"), jw_bool(&w, false), jw_end_obj(&w);
    jw_end_obj(&w);
    size_t n;
    char *s = jw_take(&w, &n);
    ck_assert_str_eq(s, "{\"a\":-12,\"b\":[\"x\",true,null,{},[]],\"c\":{\"d\":false}}");
    ck_assert_uint_eq(n, strlen(s));
    free(s);
    /* the writer is empty again */
    jw_str(&w, "again");
    s = jw_take(&w, NULL);
    ck_assert_str_eq(s, "\"again\"");
    free(s);
}
END_TEST

/* Every byte 1..255 in a string (invalid UTF-8 aside): the same text as
 * Jansson's. */
START_TEST(test_escapes_like_jansson)
{
    const char *samples[] = {
        "plain", "quote\" and \\ backslash", "\b\f\n\r\t", "\x01\x1f\x7f", "/slash/", "中文 UTF-8 ✓", "", "\xe2\x80\xa8",
    };
    for (int i = 0; i < NELEM(samples); i++) {
        Jw w;
        jw_init(&w);
        jw_str(&w, samples[i]);
        char *mine = jw_take(&w, NULL);
        json_t *j = json_string(samples[i]);
        ck_assert_ptr_nonnull(j);
        char *ref = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        ck_assert_str_eq(mine, ref);
        free(mine);
        free(ref);
        json_decref(j);
    }
}
END_TEST

Suite *suite_jw(void)
{
    Suite *s = suite_create("jw");
    TCase *tc = tcase_create("jw");
    tcase_add_test(tc, test_document);
    tcase_add_test(tc, test_escapes_like_jansson);
    suite_add_tcase(s, tc);
    return s;
}
