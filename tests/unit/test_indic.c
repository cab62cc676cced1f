/* Tests for indic: counts gathered per local day, category and site. */
#include <check.h>
#include <string.h>

#include "indic.h"
#include "timeutil.h"

static int64_t T(const char *s)
{
    int64_t t = 0;
    ck_assert_int_eq(tu_parse_rfc3339(s, &t), 0);
    return t;
}

static const IndicRow *row(const IndicSet *s, const char *day, Category c, const char *site)
{
    for (size_t i = 0; i < s->n; i++) {
        char d[11];
        indic_day_text(s->v[i]->day, d);
        if (strcmp(d, day) == 0 && s->v[i]->category == c && strcmp(s->v[i]->site, site) == 0)
            return s->v[i];
    }
    return NULL;
}

START_TEST(test_local_days_and_keys)
{
    IndicSet s;
    memset(&s, 0, sizeof s); /* a zeroed set works */
    /* 23:59 and 00:00 at +08:00 are two days; 16:00Z is the second */
    ck_assert_int_eq(indic_add(&s, T("2026-11-23T23:59:59+08:00"), 480, CAT_DELAY, "S1", IND_RECEIVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-24T00:00:00+08:00"), 480, CAT_DELAY, "S1", IND_RECEIVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-23T16:00:00Z"), 480, CAT_DELAY, "S1", IND_RESOLVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-23T16:00:00Z"), 0, CAT_DELAY, "S1", IND_RESOLVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-24T10:00:00+08:00"), 480, CAT_LOSS, "S1", IND_RECEIVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-24T10:00:00+08:00"), 480, CAT_DELAY, NULL, IND_RECEIVED, 1), 0);
    ck_assert_int_eq(indic_add(&s, T("2026-11-24T11:00:00+08:00"), 480, CAT_DELAY, "S1", IND_INVALID, -1), 0);
    ck_assert_uint_eq(s.n, 4); /* 23 delay S1, 24 delay S1, 24 loss S1, 24 delay "" */
    const IndicRow *r = row(&s, "2026-11-24", CAT_DELAY, "S1");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->n[IND_RECEIVED], 1);
    ck_assert_int_eq(r->n[IND_RESOLVED], 1);
    ck_assert_int_eq(r->n[IND_INVALID], -1);
    ck_assert_int_eq(row(&s, "2026-11-23", CAT_DELAY, "S1")->n[IND_RECEIVED], 1);
    ck_assert_int_eq(row(&s, "2026-11-23", CAT_DELAY, "S1")->n[IND_RESOLVED], 1); /* at UTC */
    ck_assert_ptr_nonnull(row(&s, "2026-11-24", CAT_LOSS, "S1"));
    ck_assert_ptr_nonnull(row(&s, "2026-11-24", CAT_DELAY, ""));
    indic_reset(&s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_int_eq(indic_add(&s, T("1969-12-31T23:00:00Z"), 0, CAT_FEE, "S", IND_REPEATS, 2), 0);
    char d[11];
    indic_day_text(s.v[0]->day, d);
    ck_assert_str_eq(d, "1969-12-31");
    indic_free(&s);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(indic_field_name(IND_RECEIVED), "received");
    ck_assert_str_eq(indic_field_name(IND_ON_TIME), "resolved_on_time");
    ck_assert_str_eq(indic_field_name(IND_BREACH_REVISIT), "breaches_revisit");
    ck_assert_str_eq(indic_field_name(IND__COUNT), "unknown");
}
END_TEST

Suite *suite_indic(void)
{
    Suite *s = suite_create("indic");
    TCase *tc = tcase_create("indic");
    tcase_add_test(tc, test_local_days_and_keys);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}
