/* libFuzzer target: tu_parse_rfc3339 (and its neighbours in lib/timeutil).
 *
 * Input: a string (the parser takes C strings, so the bytes are copied and
 * terminated; an embedded NUL ends the string early, as it would in C).
 * Checks, besides "no crash, no undefined behaviour":
 *  - tu_parse_rfc3339 success: tu_format_rfc3339 of the value, at offset 0,
 *    at the input's own offset and at a few others, parses back to the same
 *    value (whenever the instant has a four-digit year), and the output
 *    always has the fixed shape;
 *  - parsing is a function: the same text twice gives the same value, and
 *    the fraction of a second never changes it;
 *  - tu_format_rfc3339 of any int64 and any offset (taken from the input's
 *    first 12 bytes) prints a time that parses;
 *  - tu_parse_date success: the days print back to the same YYYY-MM-DD;
 *  - tu_parse_duration success: the value is not negative. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "timeutil.h"

/* The offset of an RFC 3339 text that parsed: minutes east of UTC. */
static int offset_of(const char *s)
{
    size_t n = strlen(s);
    if (s[n - 1] == 'Z' || s[n - 1] == 'z')
        return 0;
    const char *p = s + n - 6; /* "+hh:mm" */
    int m = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
    return p[0] == '-' ? -m : m;
}

static void check_rfc3339(const char *s)
{
    int64_t t = 0;
    if (tu_parse_rfc3339(s, &t) != 0)
        return;
    int64_t t2 = -1;
    FUZZ_CHECK(tu_parse_rfc3339(s, &t2) == 0 && t2 == t, "\"%s\" parsed to %lld, then %lld", s, (long long)t,
               (long long)t2);

    int own = offset_of(s);
    FUZZ_CHECK(own >= -1439 && own <= 1439, "\"%s\": offset %d", s, own);
    static const int offsets[] = {0, 1, -1, 8 * 60, -(5 * 60 + 30), 23 * 60 + 59, -(23 * 60 + 59)};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++)
        fz_check_time_round_trip(t, offsets[i]);
    fz_check_time_round_trip(t, own);

    /* Without its fraction the text names the same second. */
    if (s[19] == '.') {
        char *cut = malloc(strlen(s) + 1);
        FUZZ_CHECK(cut != NULL, "out of memory");
        const char *end = s + 20;
        while (*end >= '0' && *end <= '9')
            end++;
        memcpy(cut, s, 19);
        strcpy(cut + 19, end);
        int64_t whole = -1;
        FUZZ_CHECK(tu_parse_rfc3339(cut, &whole) == 0 && whole == t, "\"%s\" is %lld but \"%s\" is %lld", s,
                   (long long)t, cut, (long long)whole);
        free(cut);
    }
}

static void check_date(const char *s)
{
    int64_t days = 0;
    if (tu_parse_date(s, &days) != 0)
        return;
    int y, m, d;
    tu_civil_from_days(days, &y, &m, &d);
    char back[32];
    snprintf(back, sizeof back, "%04d-%02d-%02d", y, m, d);
    FUZZ_CHECK(strcmp(back, s) == 0, "\"%s\" is day %lld, which prints as \"%s\"", s, (long long)days, back);
    FUZZ_CHECK(tu_days_from_civil(y, m, d) == days, "\"%s\": days_from_civil disagrees", s);
}

static void check_duration(const char *s)
{
    int64_t v = -1;
    if (tu_parse_duration(s, &v) != 0)
        return;
    FUZZ_CHECK(v >= 0, "duration \"%s\" is %lld", s, (long long)v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly size + 1 bytes, so a read past the terminator is caught. */
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';

    check_rfc3339(s);
    check_date(s);
    check_duration(s);

    if (size >= 12) {
        int64_t t;
        int32_t off;
        memcpy(&t, data, sizeof t);
        memcpy(&off, data + 8, sizeof off);
        fz_check_time_round_trip(t, off);
    }
    free(s);
    return 0;
}
