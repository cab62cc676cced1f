/* Unit tests for lib/timeutil: RFC 3339, durations, civil dates. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "timeutil.h"
#include "testutil.h"

/* ---- RFC 3339 parsing --------------------------------------------------- */

static const struct {
    const char *in;
    int64_t want;
} rfc_ok[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"2026-11-23T01:15:00Z", 1795396500},
    {"2026-11-23T01:15:00z", 1795396500},
    {"2026-11-23t01:15:00Z", 1795396500},
    {"2026-11-23 01:15:00Z", 1795396500},
    {"2026-11-23T09:15:00+08:00", 1795396500},
    {"2026-11-22T19:45:00-05:30", 1795396500},
    {"2026-11-23T01:15:00+00:00", 1795396500},
    {"2026-11-23T01:15:00-00:00", 1795396500},
    /* Fractions are truncated toward the past. */
    {"2026-11-23T01:15:00.999Z", 1795396500},
    {"2026-11-23T09:15:00.5+08:00", 1795396500},
    {"2026-11-23T01:15:00.000000001Z", 1795396500},
    {"2026-11-23T01:15:00.999999999999999999999Z", 1795396500},
    {"2026-11-23T01:15:00.000Z", 1795396500}, /* a zero fraction is none */
    /* ...also before the epoch, where plain integer truncation would round up. */
    {"1969-12-31T23:59:59Z", -1},
    {"1969-12-31T23:59:59.5Z", -1},
    {"1969-12-31T23:59:59.999999999Z", -1},
    {"1970-01-01T07:59:59.9+08:00", -1},
    {"1969-07-20T20:17:40.9Z", -14182940},
    {"1900-03-01T00:00:00Z", -2203891200},
    {"2024-02-29T12:00:00Z", 1709208000},
    {"2000-02-29T00:00:00Z", 951782400},
    {"0000-01-01T00:00:00Z", -62167219200},
    {"0001-01-01T00:00:00Z", -62135596800},
    {"9999-12-31T23:59:59Z", 253402300799},
    {"2026-01-01T00:00:00+14:00", 1767175200},
    {"2025-12-31T23:59:59+23:59", 1767139259},
};

START_TEST(test_rfc3339_ok)
{
    int64_t t = 12345;
    int rc = tu_parse_rfc3339(rfc_ok[_i].in, &t);
    ck_assert_msg(rc == 0, "rejected %s", rfc_ok[_i].in);
    ck_assert_msg(t == rfc_ok[_i].want, "%s: got %lld, want %lld", rfc_ok[_i].in, (long long)t,
                  (long long)rfc_ok[_i].want);
    /* a fraction other than zero puts the instant after that second */
    const char *dot = strchr(rfc_ok[_i].in, '.');
    bool frac = dot && strspn(dot + 1, "0") < strspn(dot + 1, "0123456789");
    ck_assert_msg((tu_rfc3339_fraction_ns(rfc_ok[_i].in) != 0) == frac, "%s: fraction %d", rfc_ok[_i].in, !frac);
}
END_TEST

START_TEST(test_fraction_ns)
{
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00Z"), 0);
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00.000Z"), 0);
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00.5Z"), 500000000);
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00.3+08:00"), 300000000);
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00.123456789123Z"), 123456789);
    ck_assert_uint_eq(tu_rfc3339_fraction_ns("2026-11-23T09:15:00.0000000001Z"), 1); /* below 1 ns: still after */
    ck_assert_uint_eq(tu_rfc3339_fraction_ns(NULL), 0);
}
END_TEST

static const char *const rfc_bad[] = {
    "",
    "2026-11-23T09:15:00",          /* no offset */
    "2026-11-23",                   /* date only */
    "2026-11-23T09:15Z",            /* no seconds */
    "2026-02-30T00:00:00Z",         /* Feb 30 */
    "2025-02-29T00:00:00Z",         /* not a leap year */
    "1900-02-29T00:00:00Z",         /* century, not a leap year */
    "2026-04-31T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "2026-11-23T24:00:00Z",         /* hour 24 */
    "2026-11-23T09:60:00Z",
    "2026-11-23T09:15:60Z",         /* leap second */
    "2026-11-23T09:15:00Zx",        /* trailing garbage */
    "2026-11-23T09:15:00+08:00 ",
    "2026-11-23T09:15:00+08:00Z",
    "2026-11-23T09:15:00+0800",
    "2026-11-23T09:15:00+8:00",
    "2026-11-23T09:15:00+08",
    "2026-11-23T09:15:00+24:00",
    "2026-11-23T09:15:00+08:60",
    "2026-11-23T09:15:00.Z",        /* dot without digits */
    "2026-11-23T09:15:00,5Z",
    "2026-11-23X09:15:00Z",
    "2026-11-23T9:15:00Z",
    "2026-1-23T09:15:00Z",
    " 2026-11-23T09:15:00Z",
    "20261123T091500Z",
    "+2026-11-23T09:15:00Z",
    "2026-11-23T09:15:00 Z",
};

START_TEST(test_rfc3339_bad)
{
    int64_t t = 777;
    ck_assert_msg(tu_parse_rfc3339(rfc_bad[_i], &t) == -1, "accepted \"%s\"", rfc_bad[_i]);
    ck_assert_int_eq(t, 777); /* output untouched on error */
}
END_TEST

START_TEST(test_rfc3339_null)
{
    int64_t t;
    ck_assert_int_eq(tu_parse_rfc3339(NULL, &t), -1);
}
END_TEST

/* ---- RFC 3339 formatting ------------------------------------------------ */

START_TEST(test_format)
{
    char buf[TU_RFC3339_LEN];

    tu_format_rfc3339(0, 0, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    tu_format_rfc3339(1795396500, 480, buf);
    ck_assert_str_eq(buf, "2026-11-23T09:15:00+08:00");
    tu_format_rfc3339(1795396500, -330, buf);
    ck_assert_str_eq(buf, "2026-11-22T19:45:00-05:30");
    tu_format_rfc3339(1795396500, 0, buf);
    ck_assert_str_eq(buf, "2026-11-23T01:15:00Z");
    tu_format_rfc3339(-1, 0, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    tu_format_rfc3339(-14182940, 0, buf);
    ck_assert_str_eq(buf, "1969-07-20T20:17:40Z");
    tu_format_rfc3339(951782400, 0, buf);
    ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
    tu_format_rfc3339(-62167219200, 0, buf);
    ck_assert_str_eq(buf, "0000-01-01T00:00:00Z");
}
END_TEST

START_TEST(test_format_clamps)
{
    char buf[TU_RFC3339_LEN];

    tu_format_rfc3339(TU_NEVER, 480, buf);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59+08:00");
    tu_format_rfc3339(INT64_MIN, 0, buf);
    ck_assert_str_eq(buf, "0000-01-01T00:00:00Z");
    tu_format_rfc3339(INT64_MIN, -840, buf);
    ck_assert_str_eq(buf, "0000-01-01T00:00:00-14:00");
    /* Offsets are kept to two-digit hours. */
    tu_format_rfc3339(0, 100 * 60, buf);
    ck_assert_str_eq(buf, "1970-01-01T23:59:00+23:59");
    ck_assert_uint_lt(strlen(buf), TU_RFC3339_LEN);
}
END_TEST

/* parse(format(t)) == t over a spread of instants and offsets. */
START_TEST(test_format_roundtrip)
{
    static const int offsets[] = {0, 480, -330, 345, -600, 840, -840};
    uint64_t x = 0x2545F4914F6CDD1DULL;
    char buf[TU_RFC3339_LEN];

    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        /* years ~1600..2400 */
        int64_t t = (int64_t)(x >> 11) % 25246080000LL - 11676096000LL;
        int off = offsets[i % (int)(sizeof(offsets) / sizeof(offsets[0]))];
        tu_format_rfc3339(t, off, buf);
        int64_t back = 0;
        /* plain ifs: every ck_assert records a checkpoint, too slow in a loop */
        if (tu_parse_rfc3339(buf, &back) != 0 || back != t)
            ck_abort_msg("%s: %lld != %lld", buf, (long long)back, (long long)t);
    }
}
END_TEST

/* ---- Civil dates -------------------------------------------------------- */

START_TEST(test_civil_known)
{
    ck_assert_int_eq(tu_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(tu_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(tu_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(tu_days_from_civil(1600, 1, 1), -135140);
    ck_assert_int_eq(tu_days_from_civil(2026, 11, 23), 1795396500 / 86400);

    int y, m, d;
    tu_civil_from_days(-1, &y, &m, &d);
    ck_assert(y == 1969 && m == 12 && d == 31);
    tu_civil_from_days(11016, &y, &m, &d);
    ck_assert(y == 2000 && m == 2 && d == 29);
    tu_civil_from_days(-719528, &y, &m, &d);
    ck_assert(y == 0 && m == 1 && d == 1);
    tu_civil_from_days(-719529, &y, &m, &d);
    ck_assert(y == -1 && m == 12 && d == 31);
}
END_TEST

/* Walks day by day through 1600..2400 and checks every date follows the
 * previous one as a calendar would, and converts back to the same number. */
START_TEST(test_civil_walk)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int py = 1599, pm = 12, pd = 31;
    int64_t first = tu_days_from_civil(1600, 1, 1), last = tu_days_from_civil(2400, 12, 31);

    for (int64_t n = first; n <= last; n++) {
        int y, m, d;
        tu_civil_from_days(n, &y, &m, &d);
        if (tu_days_from_civil(y, m, d) != n)
            ck_abort_msg("%04d-%02d-%02d does not map back to %lld", y, m, d, (long long)n);

        bool leap = (py % 4 == 0 && py % 100 != 0) || py % 400 == 0;
        int dim = (pm == 2 && leap) ? 29 : mdays[pm - 1];
        bool next;
        if (pd < dim)
            next = y == py && m == pm && d == pd + 1;
        else if (pm < 12)
            next = y == py && m == pm + 1 && d == 1;
        else
            next = y == py + 1 && m == 1 && d == 1;
        if (!next)
            ck_abort_msg("%04d-%02d-%02d does not follow %04d-%02d-%02d", y, m, d, py, pm, pd);
        py = y;
        pm = m;
        pd = d;
    }
}
END_TEST

START_TEST(test_parse_date)
{
    int64_t days = 99;
    ck_assert_int_eq(tu_parse_date("1970-01-01", &days), 0);
    ck_assert_int_eq(days, 0);
    ck_assert_int_eq(tu_parse_date("2024-02-29", &days), 0);
    ck_assert_int_eq(days, tu_days_from_civil(2024, 2, 29));

    days = 99;
    ck_assert_int_eq(tu_parse_date("", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026-10-1", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026-10-01x", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026-10-01 ", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026-02-29", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026-02-30", &days), -1);
    ck_assert_int_eq(tu_parse_date("2026/10/01", &days), -1);
    ck_assert_int_eq(tu_parse_date(NULL, &days), -1);
    ck_assert_int_eq(days, 99);
}
END_TEST

/* ---- Durations ---------------------------------------------------------- */

static const struct {
    const char *in;
    int64_t want;
} dur_ok[] = {
    {"90d", 90 * 86400},
    {"168h", 168 * 3600},
    {"60m", 3600},
    {"30s", 30},
    {"1h30m", 5400},
    {"3600", 3600},
    {"0", 0},
    {"0h", 0},
    {"1d2h3m4s", 86400 + 2 * 3600 + 3 * 60 + 4},
    {"2d12h", 60 * 3600},
    {"1h0m30s", 3630},
    {"007m", 420},
    {"9223372036854775807", INT64_MAX},
    {"9223372036854775807s", INT64_MAX},
    {"106751991167300d", 106751991167300LL * 86400},
};

START_TEST(test_duration_ok)
{
    int64_t v = -5;
    ck_assert_msg(tu_parse_duration(dur_ok[_i].in, &v) == 0, "rejected %s", dur_ok[_i].in);
    ck_assert_msg(v == dur_ok[_i].want, "%s: got %lld", dur_ok[_i].in, (long long)v);
}
END_TEST

static const char *const dur_bad[] = {
    "", "h", "-1h", "+1h", "1x", "1H", "1.5h", "1h ", " 1h", "1 h", "1h30",
    "30m1h",                    /* units largest first */
    "1h1h",                     /* each unit once */
    "1hh",
    "d1",
    "9223372036854775808",      /* overflow, bare */
    "99999999999999999999s",    /* overflow while reading digits */
    "106751991167301d",         /* overflow when scaling */
    "106751991167300d100000s",  /* overflow when summing */
    "1s1s",
};

START_TEST(test_duration_bad)
{
    int64_t v = -5;
    ck_assert_msg(tu_parse_duration(dur_bad[_i], &v) == -1, "accepted \"%s\"", dur_bad[_i]);
    ck_assert_int_eq(v, -5);
}
END_TEST

START_TEST(test_duration_null)
{
    int64_t v;
    ck_assert_int_eq(tu_parse_duration(NULL, &v), -1);
}
END_TEST

START_TEST(test_floordiv)
{
    ck_assert_int_eq(tu_floordiv(7, 2), 3);
    ck_assert_int_eq(tu_floordiv(-7, 2), -4);
    ck_assert_int_eq(tu_floordiv(-8, 2), -4);
    ck_assert_int_eq(tu_floordiv(-1, 86400), -1);
    ck_assert_int_eq(tu_floordiv(0, 86400), 0);
    ck_assert_int_eq(tu_floordiv(7, -2), -4);
}
END_TEST

/* The ticket's 32-bit times: every time from 1970 to 2106 and the two
 * markers (0, TU_NEVER) come back as they went in; the rest is clamped. */
START_TEST(test_tu32)
{
    const int64_t same[] = {0, 1, 946684800 /* 2000-01-01 */, 1795400000, 2147483648LL /* past 2038 */,
                            (int64_t)UINT32_MAX - 1, TU_NEVER};
    for (size_t i = 0; i < NELEM(same); i++)
        ck_assert_int_eq(tu32_get(tu32_of(same[i])), same[i]);
    ck_assert_int_eq(tu32_get(tu32_of(-5)), 0);
    ck_assert_int_eq(tu32_get(tu32_of((int64_t)UINT32_MAX)), (int64_t)UINT32_MAX - 1);
    ck_assert_int_eq(tu32_get(tu32_of(INT64_MAX - 1)), (int64_t)UINT32_MAX - 1);
    ck_assert_int_eq(tu32_get(tu32_of(INT64_MIN)), 0);
    /* clamping is stable: what comes out goes in again unchanged */
    for (int64_t t = -3; t <= 3; t++)
        ck_assert_int_eq(tu32_get(tu32_of(tu32_get(tu32_of(t)))), tu32_get(tu32_of(t)));
    ck_assert_uint_eq(sizeof(Tu32), 4);
}
END_TEST

Suite *suite_timeutil(void)
{
    Suite *s = suite_create("timeutil");

    TCase *tc = tcase_create("rfc3339");
    tcase_add_loop_test(tc, test_rfc3339_ok, 0, NELEM(rfc_ok));
    tcase_add_loop_test(tc, test_rfc3339_bad, 0, NELEM(rfc_bad));
    tcase_add_test(tc, test_rfc3339_null);
    tcase_add_test(tc, test_fraction_ns);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_format_clamps);
    tcase_add_test(tc, test_format_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("civil");
    tcase_add_test(tc, test_civil_known);
    tcase_add_test(tc, test_civil_walk);
    tcase_add_test(tc, test_parse_date);
    tcase_add_test(tc, test_floordiv);
    tcase_add_test(tc, test_tu32);
    suite_add_tcase(s, tc);

    tc = tcase_create("duration");
    tcase_add_loop_test(tc, test_duration_ok, 0, NELEM(dur_ok));
    tcase_add_loop_test(tc, test_duration_bad, 0, NELEM(dur_bad));
    tcase_add_test(tc, test_duration_null);
    suite_add_tcase(s, tc);

    return s;
}
