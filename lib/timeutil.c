/* timeutil: RFC 3339 instants, durations and civil dates.
 *
 * Everything is plain integer arithmetic on Unix seconds. The libc time
 * functions are avoided on purpose: mktime/localtime depend on the process
 * time zone, timegm is not standard C, and all of them are slower than the
 * few lines below. */
#include "timeutil.h"

#include <stdbool.h>
#include <string.h>

#define SECS_PER_DAY 86400

/* The span tu_format_rfc3339 can print with a four-digit year. */
#define FORMAT_MIN_DAYS (-719528)       /* 0000-01-01 */
#define FORMAT_MAX_DAYS 2932896         /* 9999-12-31 */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return mdays[m - 1];
}

/* Howard Hinnant's days_from_civil: counts in 400-year eras that start on
 * March 1st, so the leap day is the last day of its era-year and needs no
 * special case. */
int64_t tu_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = tu_floordiv(yy, 400);
    int64_t yoe = yy - era * 400;                                   /* [0, 399] */
    int64_t mp = (m + 9) % 12;                                      /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;                       /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void tu_civil_from_days(int64_t days, int *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = tu_floordiv(z, 146097);
    int64_t doe = z - era * 146097;                                 /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                               /* [0, 11] */
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = mm;
    *d = dd;
}

/* Reads exactly n decimal digits. */
static bool read_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD" at s; checks the day against the month, leap years included. */
static bool read_date(const char *s, int64_t *days)
{
    int y, m, d;
    if (!read_digits(s, 4, &y) || s[4] != '-' || !read_digits(s + 5, 2, &m) || s[7] != '-' ||
        !read_digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = tu_days_from_civil(y, m, d);
    return true;
}

int tu_parse_date(const char *s, int64_t *days)
{
    int64_t v;
    if (s == NULL || !read_date(s, &v) || s[10] != '\0')
        return -1;
    *days = v;
    return 0;
}

uint32_t tu_rfc3339_fraction_ns(const char *s)
{
    /* "YYYY-MM-DDThh:mm:ss" is 19 bytes; the fraction, if any, follows */
    if (s == NULL || strnlen(s, 20) < 20 || s[19] != '.')
        return 0;
    uint32_t ns = 0;
    bool beyond = false; /* a digit other than 0 after the ninth */
    int i = 0;
    for (const char *p = s + 20; *p >= '0' && *p <= '9'; p++, i++) {
        if (i < 9)
            ns = ns * 10 + (uint32_t)(*p - '0');
        else
            beyond |= *p != '0';
    }
    for (; i < 9; i++)
        ns *= 10;
    return ns == 0 && beyond ? 1 : ns;
}

int tu_parse_rfc3339(const char *s, int64_t *out)
{
    int64_t days;
    int hh, mi, ss;

    if (s == NULL || !read_date(s, &days))
        return -1;
    const char *p = s + 10;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (!read_digits(p, 2, &hh) || p[2] != ':' || !read_digits(p + 3, 2, &mi) || p[5] != ':' ||
        !read_digits(p + 6, 2, &ss))
        return -1;
    /* A leap second (:60) has no Unix time of its own; producers do not send
     * them, so it is rejected rather than silently folded into :59. */
    if (hh > 23 || mi > 59 || ss > 59)
        return -1;
    p += 8;

    /* The fraction is dropped. The fields already name the start of their
     * second, so dropping it is a floor, i.e. truncation toward the past, for
     * instants before the epoch as well. */
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }

    int offset_sec;
    if (*p == 'Z' || *p == 'z') {
        offset_sec = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!read_digits(p + 1, 2, &oh) || p[3] != ':' || !read_digits(p + 4, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_sec = (oh * 60 + om) * 60;
        if (*p == '-')
            offset_sec = -offset_sec;
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;

    *out = days * SECS_PER_DAY + hh * 3600 + mi * 60 + ss - offset_sec;
    return 0;
}

static char *put_num(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Instants outside years 0000..9999 (TU_NEVER among them) are clamped to
 * that span so the output always has the fixed RFC 3339 shape. */
void tu_format_rfc3339(int64_t t, int offset_min, char *buf)
{
    const int64_t lo = (int64_t)FORMAT_MIN_DAYS * SECS_PER_DAY;
    const int64_t hi = (int64_t)FORMAT_MAX_DAYS * SECS_PER_DAY + SECS_PER_DAY - 1;

    /* RFC 3339 offsets have two-digit hours. */
    if (offset_min > 23 * 60 + 59)
        offset_min = 23 * 60 + 59;
    if (offset_min < -(23 * 60 + 59))
        offset_min = -(23 * 60 + 59);

    /* Clamp before adding the offset so that t near INT64_MAX cannot overflow. */
    int64_t off = (int64_t)offset_min * 60;
    int64_t local;
    if (t > hi - off)
        local = hi;
    else if (t < lo - off)
        local = lo;
    else
        local = t + off;

    int64_t days = tu_floordiv(local, SECS_PER_DAY);
    int sod = (int)(local - days * SECS_PER_DAY);
    int y, m, d;
    tu_civil_from_days(days, &y, &m, &d);

    char *p = buf;
    p = put_num(p, y, 4);
    *p++ = '-';
    p = put_num(p, m, 2);
    *p++ = '-';
    p = put_num(p, d, 2);
    *p++ = 'T';
    p = put_num(p, sod / 3600, 2);
    *p++ = ':';
    p = put_num(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_num(p, sod % 60, 2);
    if (offset_min == 0) {
        *p++ = 'Z';
    } else {
        int a = offset_min < 0 ? -offset_min : offset_min;
        *p++ = offset_min < 0 ? '-' : '+';
        p = put_num(p, a / 60, 2);
        *p++ = ':';
        p = put_num(p, a % 60, 2);
    }
    *p = '\0';
}

/* Units must come largest first and at most once ("1h30m", not "30m1h"):
 * anything else is more likely a typo in a configuration file than intent. */
int tu_parse_duration(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', SECS_PER_DAY}, {'h', 3600}, {'m', 60}, {'s', 1}};
    const int nunits = (int)(sizeof(units) / sizeof(units[0]));

    if (s == NULL || *s == '\0')
        return -1;

    int64_t total = 0;
    int next_unit = 0; /* index of the smallest unit still allowed */
    const char *p = s;
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            return -1;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            int digit = *p - '0';
            if (v > (INT64_MAX - digit) / 10)
                return -1;
            v = v * 10 + digit;
            p++;
        }

        int64_t mult;
        if (*p == '\0') {
            /* A bare number means seconds, but only on its own: "1h30" is
             * ambiguous and rejected. */
            if (next_unit != 0)
                return -1;
            mult = 1;
        } else {
            int u = next_unit;
            while (u < nunits && units[u].unit != *p)
                u++;
            if (u == nunits)
                return -1;
            mult = units[u].secs;
            next_unit = u + 1;
            p++;
        }

        if (v > INT64_MAX / mult)
            return -1;
        v *= mult;
        if (total > INT64_MAX - v)
            return -1;
        total += v;
    }
    *out = total;
    return 0;
}
