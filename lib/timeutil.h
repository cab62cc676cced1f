/* timeutil: RFC 3339 instants, durations and civil dates, all as Unix seconds. */
#ifndef COMPLAINTD_TIMEUTIL_H
#define COMPLAINTD_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "never": a deadline that cannot be reached (a paused clock, an empty calendar). */
#define TU_NEVER INT64_MAX

/* A time kept in 32 bits, for the many times of a ticket: Unix seconds up
 * to 2106, with 0 ("never happened") and TU_NEVER ("never due") kept as
 * themselves. Contract §12.10 keeps every event time in [2000-01-01, now + 5
 * minutes], and a deadline is such a time plus a budget of days; anything
 * outside is clamped (before 1970 to 0, after 2106 to its last second,
 * which is as good as never). A struct, so that no field is read or set
 * without tu32_get/tu32_of. */
typedef struct Tu32 {
    uint32_t v;
} Tu32;

static inline Tu32 tu32_of(int64_t t)
{
    if (t == TU_NEVER)
        return (Tu32){UINT32_MAX};
    if (t <= 0)
        return (Tu32){0};
    return (Tu32){t >= (int64_t)UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)t};
}

static inline int64_t tu32_get(Tu32 t)
{
    return t.v == UINT32_MAX ? TU_NEVER : (int64_t)t.v;
}

/* Parses an RFC 3339 date-time with an explicit offset ("Z", "z" or "+hh:mm"),
 * separator 'T', 't' or ' ', optional fractional seconds (truncated toward the
 * past). Returns 0 and stores Unix seconds, or -1 on anything else. */
__attribute__((warn_unused_result)) int tu_parse_rfc3339(const char *s, int64_t *out);
/* The fraction of a second of a time tu_parse_rfc3339 accepted, in
 * nanoseconds (its first nine digits); 0 when it has none other than zero,
 * and 1 for one smaller than a nanosecond. Not 0: the instant is after the
 * second it was truncated to. */
uint32_t tu_rfc3339_fraction_ns(const char *s);

/* Formats t as "YYYY-MM-DDThh:mm:ss+hh:mm" at the given UTC offset in minutes
 * ("Z" when the offset is 0). buf must hold TU_RFC3339_LEN bytes. */
#define TU_RFC3339_LEN 32
void tu_format_rfc3339(int64_t t, int offset_min, char *buf);

/* Parses a duration: one or more <number><unit> groups, units d, h, m, s
 * ("90d", "168h", "60m", "1h30m"); a bare number is seconds. Returns 0 or -1. */
__attribute__((warn_unused_result)) int tu_parse_duration(const char *s, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t tu_days_from_civil(int y, int m, int d);
void tu_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Parses "YYYY-MM-DD" into days since the epoch. Returns 0 or -1. */
__attribute__((warn_unused_result)) int tu_parse_date(const char *s, int64_t *days);

/* a + b, saturated: event times come from producers, so sums of absurd
 * input must not wrap. */
static inline int64_t tu_add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Floor division, for times before the epoch. */
static inline int64_t tu_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif
