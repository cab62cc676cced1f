/* Shared by the libFuzzer targets: invariant checks that stop the run.
 *
 * A broken invariant prints what failed and aborts, which libFuzzer reports
 * as a crash and saves the input that caused it (docs/fuzzing.md). */
#ifndef COMPLAINTD_FUZZ_UTIL_H
#define COMPLAINTD_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "\ninvariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* A C string that ends inside its buffer. */
static inline bool fz_terminated(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL;
}

/* The bytes the decoders accept for stored text (evt.c CS_TEXT): no C0
 * control, no DEL, no C1 control (UTF-8 C2 80..C2 9F). */
static inline bool fz_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i] != '\0'; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

/* Every byte is in `allowed` or alphanumeric ASCII. */
static inline bool fz_charset_ok(const char *s, const char *allowed)
{
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && strchr(allowed, c) == NULL)
            return false;
    }
    return true;
}

/* Printable ASCII only: what a dead-letter detail may hold, since values of
 * the message never go into it (except a sanitised schema name). */
static inline bool fz_printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

/* The span tu_format_rfc3339 prints without clamping: years 0000..9999. */
static inline bool fz_formattable(int64_t t)
{
    const int64_t lo = tu_days_from_civil(0, 1, 1) * 86400;
    const int64_t hi = tu_days_from_civil(9999, 12, 31) * 86400 + 86399;
    return t >= lo && t <= hi;
}

/* t printed at offset_min parses back to t (when printable at all). */
static inline void fz_check_time_round_trip(int64_t t, int offset_min)
{
    char buf[TU_RFC3339_LEN];
    memset(buf, 'x', sizeof buf);
    tu_format_rfc3339(t, offset_min, buf);
    FUZZ_CHECK(fz_terminated(buf, sizeof buf), "tu_format_rfc3339 left its buffer unterminated");
    size_t n = strlen(buf);
    FUZZ_CHECK(n == 20 || n == 25, "tu_format_rfc3339(%lld, %d) = \"%s\": not the fixed shape", (long long)t,
               offset_min, buf);
    int64_t back = 0;
    /* Clamped or not, the output is always a valid RFC 3339 time. */
    FUZZ_CHECK(tu_parse_rfc3339(buf, &back) == 0, "tu_format_rfc3339(%lld, %d) = \"%s\" does not parse", (long long)t,
               offset_min, buf);
    /* tu_format_rfc3339 limits offsets to +-23:59; the round trip holds
     * when the local time is within the printable span too. */
    int off = offset_min > 1439 ? 1439 : offset_min < -1439 ? -1439 : offset_min;
    if (fz_formattable(t) && fz_formattable(t + (int64_t)off * 60))
        FUZZ_CHECK(back == t, "%lld -> \"%s\" -> %lld", (long long)t, buf, (long long)back);
}

#endif
