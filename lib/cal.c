/* cal: the business calendar (有效工作时限).
 *
 * The arithmetic works in a "schedule frame": u = t + utc_offset - shift.
 * In that frame date D runs over [D*86400, D*86400 + 86400) and every window
 * of D lies inside it, whatever the shift. So a window that a shift pushes
 * past local midnight (22:00-24:00 + 2 h = 00:00-02:00) still belongs to the
 * date whose schedule defines it, and holidays and extra working dates of
 * that date apply to it. That matches what a shift means in practice: the
 * office keeps the same hours in a time zone further west.
 *
 * Long spans are not walked second by second: a working date contributes
 * exactly day_secs seconds, so whole dates (and whole weeks away from listed
 * dates) are counted or skipped arithmetically. */
#include "cal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "timeutil.h"

#define SECS_PER_DAY 86400

/* cal_add gives up after this many days without any working time. */
#define CAL_HORIZON_DAYS 3660

/* Instants are kept within about ±270,000 years so that none of the sums
 * below can overflow; nothing real comes near it. */
#define CAL_DAY_LIMIT 100000000LL
#define CAL_T_LIMIT (CAL_DAY_LIMIT * SECS_PER_DAY)

/* A date range in a holiday list expands to at most this many dates, and a
 * list to at most CAL_MAX_DATES; both only guard against typos like
 * 2026-01-01..2926-01-01. */
#define CAL_MAX_RANGE_DAYS 366
#define CAL_MAX_DATES 100000

#define ALL_WEEKDAYS 0x7fu

/* Error messages quote at most this much of a bad item. */
#define QUOTE_LEN(len) ((int)((len) > 64 ? 64 : (len)))

struct Calendar {
    int nwin;
    int win_start[CAL_MAX_WINDOWS]; /* seconds after midnight of the schedule frame */
    int win_end[CAL_MAX_WINDOWS];
    int day_secs;                   /* working seconds of one working date */
    int offset_min;
    unsigned workdays;              /* bit 0 = Monday ... bit 6 = Sunday */
    int64_t *holidays;              /* sorted, unique; owned */
    size_t nholidays;
    int64_t *extras;                /* sorted, unique; owned */
    size_t nextras;
};


Calendar *cal_new(void)
{
    Calendar *cal = calloc(1, sizeof(*cal));
    if (cal == NULL)
        return NULL;
    cal->nwin = 2;
    cal->win_start[0] = 8 * 3600;
    cal->win_end[0] = 12 * 3600;
    cal->win_start[1] = 14 * 3600;
    cal->win_end[1] = 20 * 3600;
    cal->day_secs = 10 * 3600;
    cal->offset_min = 8 * 60;
    cal->workdays = ALL_WEEKDAYS;
    return cal;
}

static int64_t *dup_dates(const int64_t *src, size_t n)
{
    if (n == 0)
        return NULL;
    int64_t *dst = malloc(n * sizeof(*dst));
    if (dst != NULL)
        memcpy(dst, src, n * sizeof(*dst));
    return dst;
}

Calendar *cal_clone(const Calendar *cal)
{
    Calendar *c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    *c = *cal;
    c->holidays = dup_dates(cal->holidays, cal->nholidays);
    c->extras = dup_dates(cal->extras, cal->nextras);
    if ((cal->nholidays > 0 && c->holidays == NULL) || (cal->nextras > 0 && c->extras == NULL)) {
        free(c->holidays);
        free(c->extras);
        free(c);
        return NULL;
    }
    return c;
}

void cal_free(Calendar *cal)
{
    if (cal == NULL)
        return;
    free(cal->holidays);
    free(cal->extras);
    free(cal);
}

/* ---- Parsing ------------------------------------------------------------ */

/* Splits a comma-separated list: returns the next item with surrounding
 * white space trimmed, or false at the end. An empty item ("a,,b", "a,")
 * comes back with length 0 so the caller can reject it. */
static bool next_item(const char **pp, const char **item, size_t *len)
{
    const char *p = *pp;
    if (p == NULL)
        return false;
    while (isspace((unsigned char)*p))
        p++;
    const char *start = p;
    while (*p != '\0' && *p != ',')
        p++;
    const char *end = p;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    *item = start;
    *len = (size_t)(end - start);
    *pp = (*p == ',') ? p + 1 : NULL;
    return true;
}

/* True when the list holds nothing but white space. */
static bool blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* "HH:MM" with 00 <= HH <= 24 and 24 only as "24:00". */
static bool parse_hhmm(const char *s, int *secs)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return false;
    *secs = h * 3600 + m * 60;
    return true;
}

int cal_set_windows(Calendar *cal, const char *spec, char *err, size_t errlen)
{
    int starts[CAL_MAX_WINDOWS], ends[CAL_MAX_WINDOWS];
    int n = 0, total = 0;
    const char *p = spec, *item;
    size_t len;

    if (spec == NULL || blank(spec)) {
        err_set(err, errlen, "no working windows given (want HH:MM-HH:MM[,HH:MM-HH:MM...])");
        return -1;
    }
    while (next_item(&p, &item, &len)) {
        int s, e;
        if (len != 11 || item[5] != '-' || !parse_hhmm(item, &s) || !parse_hhmm(item + 6, &e)) {
            err_set(err, errlen, "bad window \"%.*s\" (want HH:MM-HH:MM)", QUOTE_LEN(len), item);
            return -1;
        }
        if (e <= s) {
            err_set(err, errlen, "window \"%.*s\" is empty or reversed", QUOTE_LEN(len), item);
            return -1;
        }
        if (n == CAL_MAX_WINDOWS) {
            err_set(err, errlen, "too many windows (at most %d)", CAL_MAX_WINDOWS);
            return -1;
        }
        if (n > 0 && s < ends[n - 1]) {
            err_set(err, errlen, "window \"%.*s\" overlaps or precedes the one before it (windows must be ascending)",
                    QUOTE_LEN(len), item);
            return -1;
        }
        starts[n] = s;
        ends[n] = e;
        total += e - s;
        n++;
    }

    cal->nwin = n;
    memcpy(cal->win_start, starts, (size_t)n * sizeof(starts[0]));
    memcpy(cal->win_end, ends, (size_t)n * sizeof(ends[0]));
    cal->day_secs = total;
    return 0;
}

int cal_set_utc_offset(Calendar *cal, int minutes)
{
    if (minutes < -14 * 60 || minutes > 14 * 60)
        return -1;
    cal->offset_min = minutes;
    return 0;
}

int cal_utc_offset(const Calendar *cal)
{
    return cal->offset_min;
}

int cal_set_workdays(Calendar *cal, const char *spec, char *err, size_t errlen)
{
    static const char names[7][4] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    unsigned mask = 0;
    const char *p = spec, *item;
    size_t len;

    if (spec == NULL)
        spec = "";
    if (blank(spec)) {
        cal->workdays = 0;
        return 0;
    }
    while (next_item(&p, &item, &len)) {
        int found = -1;
        for (int i = 0; i < 7 && len == 3; i++) {
            if (strncasecmp(item, names[i], 3) == 0)
                found = i;
        }
        if (found < 0) {
            err_set(err, errlen, "bad weekday \"%.*s\" (want mon, tue, wed, thu, fri, sat or sun)",
                    QUOTE_LEN(len), item);
            return -1;
        }
        mask |= 1u << found;
    }
    cal->workdays = mask;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool push_date(int64_t **v, size_t *n, size_t *cap, int64_t d)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        int64_t *nv = realloc(*v, ncap * sizeof(*nv));
        if (nv == NULL)
            return false;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = d;
    return true;
}

/* Parses "YYYY-MM-DD" items, or "YYYY-MM-DD..YYYY-MM-DD" inclusive ranges,
 * into a sorted list without duplicates. The caller owns *out. */
static int parse_date_list(const char *spec, int64_t **out, size_t *nout, char *err, size_t errlen)
{
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = spec, *item = "";
    size_t len = 0;

    if (spec == NULL || blank(spec)) {
        *out = NULL;
        *nout = 0;
        return 0;
    }
    while (next_item(&p, &item, &len)) {
        char buf[32];
        int64_t first, last;
        if (len == 0 || len >= sizeof(buf))
            goto bad;
        memcpy(buf, item, len);
        buf[len] = '\0';
        if (len == 10) {
            if (tu_parse_date(buf, &first) != 0)
                goto bad;
            last = first;
        } else if (len == 22 && buf[10] == '.' && buf[11] == '.') {
            buf[10] = '\0';
            if (tu_parse_date(buf, &first) != 0 || tu_parse_date(buf + 12, &last) != 0)
                goto bad;
            if (last < first) {
                err_set(err, errlen, "date range \"%s..%s\" ends before it starts", buf, buf + 12);
                goto fail;
            }
            if (last - first >= CAL_MAX_RANGE_DAYS) {
                err_set(err, errlen, "date range \"%s..%s\" is longer than %d days", buf, buf + 12,
                        CAL_MAX_RANGE_DAYS);
                goto fail;
            }
        } else {
            goto bad;
        }
        for (int64_t d = first; d <= last; d++) {
            if (n >= CAL_MAX_DATES) {
                err_set(err, errlen, "too many dates (at most %d)", CAL_MAX_DATES);
                goto fail;
            }
            if (!push_date(&v, &n, &cap, d)) {
                err_set(err, errlen, "out of memory");
                goto fail;
            }
        }
    }

    qsort(v, n, sizeof(*v), cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    }
    *out = v;
    *nout = k;
    return 0;

bad:
    err_set(err, errlen, "bad date \"%.*s\" (want YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)",
            QUOTE_LEN(len), item);
fail:
    free(v);
    return -1;
}

int cal_set_holidays(Calendar *cal, const char *spec, char *err, size_t errlen)
{
    int64_t *v;
    size_t n;
    if (parse_date_list(spec, &v, &n, err, errlen) != 0)
        return -1;
    free(cal->holidays);
    cal->holidays = v;
    cal->nholidays = n;
    return 0;
}

int cal_set_extra_workdays(Calendar *cal, const char *spec, char *err, size_t errlen)
{
    int64_t *v;
    size_t n;
    if (parse_date_list(spec, &v, &n, err, errlen) != 0)
        return -1;
    free(cal->extras);
    cal->extras = v;
    cal->nextras = n;
    return 0;
}

/* ---- Dates -------------------------------------------------------------- */

/* 0 = Monday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
    return (int)(days + 3 - tu_floordiv(days + 3, 7) * 7);
}

static bool regular_workday(const Calendar *cal, int64_t days)
{
    return (cal->workdays >> weekday(days)) & 1u;
}

/* Index of the first element >= d. */
static size_t lower_bound(const int64_t *v, size_t n, int64_t d)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool listed(const int64_t *v, size_t n, int64_t d)
{
    size_t i = lower_bound(v, n, d);
    return i < n && v[i] == d;
}

bool cal_is_workday(const Calendar *cal, int64_t days)
{
    if (listed(cal->extras, cal->nextras, days))
        return true;
    return regular_workday(cal, days) && !listed(cal->holidays, cal->nholidays, days);
}

/* First listed date (holiday or extra) >= d, or INT64_MAX. */
static int64_t next_listed(const Calendar *cal, int64_t d)
{
    int64_t best = INT64_MAX;
    size_t i = lower_bound(cal->holidays, cal->nholidays, d);
    if (i < cal->nholidays)
        best = cal->holidays[i];
    i = lower_bound(cal->extras, cal->nextras, d);
    if (i < cal->nextras && cal->extras[i] < best)
        best = cal->extras[i];
    return best;
}

static int popcount7(unsigned mask)
{
    int c = 0;
    for (int i = 0; i < 7; i++)
        c += (mask >> i) & 1u;
    return c;
}

/* Working dates in [d1, d2): the weekday pattern counted by whole weeks,
 * then corrected for the listed dates inside the span. */
static int64_t count_workdays(const Calendar *cal, int64_t d1, int64_t d2)
{
    if (d2 <= d1)
        return 0;
    int64_t n = d2 - d1;
    int64_t count = (n / 7) * popcount7(cal->workdays);
    for (int64_t d = d1 + (n / 7) * 7; d < d2; d++)
        count += regular_workday(cal, d);

    for (size_t i = lower_bound(cal->holidays, cal->nholidays, d1); i < cal->nholidays; i++) {
        int64_t h = cal->holidays[i];
        if (h >= d2)
            break;
        if (regular_workday(cal, h) && !listed(cal->extras, cal->nextras, h))
            count--;
    }
    /* An extra date on a regular weekday is already counted: either it is
     * not a holiday, or the holiday loop above skipped it. */
    for (size_t i = lower_bound(cal->extras, cal->nextras, d1); i < cal->nextras; i++) {
        int64_t e = cal->extras[i];
        if (e >= d2)
            break;
        if (!regular_workday(cal, e))
            count++;
    }
    return count;
}

/* ---- Clock arithmetic --------------------------------------------------- */

/* Working seconds of one working date inside [from, to), both seconds of
 * the schedule frame's day. */
static int64_t overlap(const Calendar *cal, int64_t from, int64_t to)
{
    int64_t sum = 0;
    for (int i = 0; i < cal->nwin; i++) {
        int64_t s = cal->win_start[i] > from ? cal->win_start[i] : from;
        int64_t e = cal->win_end[i] < to ? cal->win_end[i] : to;
        if (e > s)
            sum += e - s;
    }
    return sum;
}

/* Spends *rem working seconds of one working date from second `from` on.
 * Returns the second of the day at which the budget runs out (a window end
 * when it runs out exactly there), or -1 with *rem reduced by what the rest
 * of the day held. */
static int64_t spend_day(const Calendar *cal, int64_t from, int64_t *rem)
{
    for (int i = 0; i < cal->nwin; i++) {
        if (from >= cal->win_end[i])
            continue;
        int64_t s = cal->win_start[i] > from ? cal->win_start[i] : from;
        int64_t avail = cal->win_end[i] - s;
        if (*rem <= avail)
            return s + *rem;
        *rem -= avail;
    }
    return -1;
}

static bool working(const Calendar *cal, int64_t days)
{
    return cal->day_secs > 0 && cal_is_workday(cal, days);
}

int64_t cal_add(const Calendar *cal, int shift_sec, int64_t start, int64_t seconds)
{
    if (start >= CAL_T_LIMIT || start <= -CAL_T_LIMIT)
        return TU_NEVER;
    if (seconds <= 0)
        return start;
    if (cal->day_secs == 0)
        return TU_NEVER;

    /* t = u - base converts back from the schedule frame. */
    const int64_t base = (int64_t)cal->offset_min * 60 - shift_sec;
    const int64_t u = start + base;
    const int64_t day = tu_floordiv(u, SECS_PER_DAY);
    int64_t rem = seconds;

    if (working(cal, day)) {
        int64_t sod = spend_day(cal, u - day * SECS_PER_DAY, &rem);
        if (sod >= 0)
            return day * SECS_PER_DAY + sod - base;
    }

    const int64_t week_secs = (int64_t)popcount7(cal->workdays) * cal->day_secs;
    int64_t last_work = day;
    int64_t d = day + 1;
    for (;;) {
        if (d > CAL_DAY_LIMIT || d - last_work > CAL_HORIZON_DAYS)
            return TU_NEVER;

        if (week_secs == 0) {
            /* No regular working weekday: only extra dates can work, so
             * jump straight to the next one. */
            size_t i = lower_bound(cal->extras, cal->nextras, d);
            if (i == cal->nextras || cal->extras[i] - last_work > CAL_HORIZON_DAYS)
                return TU_NEVER;
            d = cal->extras[i];
        } else {
            /* Away from listed dates every week holds exactly week_secs;
             * skip whole weeks, leaving a non-empty budget for the day
             * loop below to finish. */
            int64_t nl = next_listed(cal, d);
            int64_t weeks = nl == INT64_MAX ? INT64_MAX : (nl - d) / 7;
            int64_t need = (rem - 1) / week_secs;
            if (need < weeks)
                weeks = need;
            if (weeks > 0) {
                if (weeks > (CAL_DAY_LIMIT - d) / 7 + 1)
                    return TU_NEVER;
                d += weeks * 7;
                rem -= weeks * week_secs;
                last_work = d - 1;
                continue;
            }
        }

        if (working(cal, d)) {
            if (rem <= cal->day_secs) {
                int64_t sod = spend_day(cal, 0, &rem);
                return d * SECS_PER_DAY + sod - base;
            }
            rem -= cal->day_secs;
            last_work = d;
        }
        d++;
    }
}

int64_t cal_between(const Calendar *cal, int shift_sec, int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    if (a < -CAL_T_LIMIT)
        a = -CAL_T_LIMIT;
    if (b > CAL_T_LIMIT)
        b = CAL_T_LIMIT;
    if (b <= a)
        return 0;

    const int64_t base = (int64_t)cal->offset_min * 60 - shift_sec;
    const int64_t ua = a + base, ub = b + base;
    const int64_t da = tu_floordiv(ua, SECS_PER_DAY), db = tu_floordiv(ub, SECS_PER_DAY);
    const int64_t sa = ua - da * SECS_PER_DAY, sb = ub - db * SECS_PER_DAY;

    if (da == db)
        return working(cal, da) ? overlap(cal, sa, sb) : 0;

    int64_t sum = 0;
    if (working(cal, da))
        sum += overlap(cal, sa, SECS_PER_DAY);
    sum += count_workdays(cal, da + 1, db) * cal->day_secs;
    if (working(cal, db))
        sum += overlap(cal, 0, sb);
    return sum;
}
