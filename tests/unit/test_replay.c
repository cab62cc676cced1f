/* Unit tests for lib/replay: the original message back out of a dlq.v1
 * record, as lib/dlq wrote it. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "replay.h"
#include "testutil.h"

static RplStatus decode(const char *rec, RplMessage *m, char *err, size_t errlen)
{
    return rpl_decode(rec, strlen(rec), m, err, errlen);
}

START_TEST(test_plain_message)
{
    const char *orig = "{\"schema\":\"complaint.v1\",\"event_id\":\"e-1\",\"note\":\"a \\\"quote\\\" and \\\\x41\"}";
    char *rec = dlq_encode("unknown_ticket", "ticket_id", "complaints.events", 3, 17, orig, strlen(orig));
    ck_assert_ptr_nonnull(rec);
    RplMessage m;
    char err[256];
    ck_assert_int_eq(decode(rec, &m, err, sizeof err), RPL_OK);
    ck_assert_uint_eq(m.len, strlen(orig));
    ck_assert_mem_eq(m.payload, orig, m.len);
    ck_assert_uint_eq(m.escaped, 0); /* \\x41 is a JSON escape pair, not a byte */
    ck_assert_str_eq(m.source_topic, "complaints.events");
    ck_assert_int_eq(m.partition, 3);
    ck_assert_int_eq(m.offset, 17);
    ck_assert_str_eq(m.reason, "unknown_ticket");
    rpl_message_free(&m);
    rpl_message_free(&m); /* twice is harmless */
    free(rec);
}
END_TEST

/* Bytes that were not UTF-8, and NUL, come back as they were. */
START_TEST(test_escaped_bytes)
{
    const char orig[] = "{\"a\":\"\xff\xfe\"}\x00tail\xc3\xa9\x80";
    size_t n = sizeof orig - 1;
    char *rec = dlq_encode("malformed_json", "not JSON", "complaints.events", 0, 1, orig, n);
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_nonnull(strstr(rec, "\\\\xff\\\\xfe")); /* in the record: \xff as four characters */
    RplMessage m;
    char err[256];
    ck_assert_int_eq(decode(rec, &m, err, sizeof err), RPL_OK);
    ck_assert_uint_eq(m.len, n);
    ck_assert_mem_eq(m.payload, orig, n);
    ck_assert_uint_eq(m.escaped, 4);
    rpl_message_free(&m);
    free(rec);
}
END_TEST

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* Random bytes without backslashes, and random JSON-ish text with escape
 * pairs: dlq_encode then rpl_decode gives them back. */
START_TEST(test_round_trip)
{
    static const char *const pieces[] = {"\\\\", "\\\"", "\\n", "\\u00e9", "x41",     "\\\\x41", "中",
                                         "\xff", "\x00", "{",   "\"k\":",  "\\\\xzz", "\xe2\x82"};
    for (int it = 0; it < 3000; it++) {
        char buf[600];
        size_t n = 0;
        if (it % 2) {
            size_t len = rnd() % 300;
            for (size_t i = 0; i < len; i++) {
                char c = (char)(rnd() & 0xff);
                buf[n++] = c == '\\' ? 'b' : c;
            }
        } else {
            int parts = (int)(rnd() % 40);
            for (int i = 0; i < parts; i++) {
                const char *p = pieces[rnd() % NELEM(pieces)];
                size_t pl = p[0] ? strlen(p) : 1; /* "\x00" is one NUL byte */
                memcpy(buf + n, p, pl);
                n += pl;
            }
        }
        char *rec = dlq_encode("malformed_json", "x", "t", 0, it, buf, n);
        REQUIRE(rec != NULL);
        RplMessage m;
        char err[256];
        REQUIRE(decode(rec, &m, err, sizeof err) == RPL_OK);
        REQUIRE(m.len == n && memcmp(m.payload, buf, n) == 0);
        rpl_message_free(&m);
        free(rec);
    }
}
END_TEST

START_TEST(test_refusals)
{
    RplMessage m;
    char err[256];
    /* cut at 64 KiB: refused */
    size_t big = DLQ_PAYLOAD_MAX + 100;
    char *msg = malloc(big);
    ck_assert_ptr_nonnull(msg);
    memset(msg, 'a', big);
    char *rec = dlq_encode("too_large", "message of 65636 bytes", "complaints.events", 0, 5, msg, big);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(decode(rec, &m, err, sizeof err), RPL_TRUNCATED);
    ck_assert_ptr_nonnull(strstr(err, "payload_truncated"));
    ck_assert_ptr_null(m.payload);
    rpl_message_free(&m);
    free(rec);
    free(msg);
    /* not dead letters */
    ck_assert_int_eq(decode("not json", &m, err, sizeof err), RPL_BAD);
    ck_assert_int_eq(decode("[1]", &m, err, sizeof err), RPL_BAD);
    ck_assert_int_eq(decode("{\"schema\":\"alert.v1\",\"payload\":\"x\"}", &m, err, sizeof err), RPL_BAD);
    ck_assert_ptr_nonnull(strstr(err, "dlq.v1"));
    ck_assert_int_eq(decode("{\"schema\":\"dlq.v1\",\"payload\":7}", &m, err, sizeof err), RPL_BAD);
    ck_assert_ptr_nonnull(strstr(err, "no payload"));
    /* the least a record needs */
    ck_assert_int_eq(decode("{\"schema\":\"dlq.v1\",\"payload\":\"\"}", &m, err, sizeof err), RPL_OK);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_str_eq(m.source_topic, "");
    ck_assert_int_eq(m.partition, -1);
    rpl_message_free(&m);
}
END_TEST

START_TEST(test_unescape_edges)
{
    char out[16];
    size_t esc;
    ck_assert_uint_eq(rpl_unescape("\\x4", 3, out, &esc), 3); /* too short: as it is */
    ck_assert_mem_eq(out, "\\x4", 3);
    ck_assert_uint_eq(esc, 0);
    ck_assert_uint_eq(rpl_unescape("\\", 1, out, &esc), 1);
    ck_assert_uint_eq(rpl_unescape("a\\x41\\X41", 9, out, &esc), 6);
    ck_assert_mem_eq(out, "aA\\X41", 6);
    ck_assert_uint_eq(esc, 1);
    ck_assert_uint_eq(rpl_unescape("\\\\\\x00", 6, out, NULL), 3);
    ck_assert_mem_eq(out, "\\\\\0", 3);
}
END_TEST

START_TEST(test_coordinates)
{
    char topic[RPL_TOPIC_MAX + 1], err[256];
    int32_t part;
    int64_t off;
    ck_assert_int_eq(rpl_parse_coord("complaints.events:3:1234567890123", topic, &part, &off, err, sizeof err), 0);
    ck_assert_str_eq(topic, "complaints.events");
    ck_assert_int_eq(part, 3);
    ck_assert_int_eq(off, 1234567890123LL);
    ck_assert_int_eq(rpl_parse_coord("a_b-C.9:0:0", topic, &part, &off, err, sizeof err), 0);
    ck_assert_str_eq(topic, "a_b-C.9");
    const char *bad[] = {"",         "topic",
                         "topic:1",  ":1:2",
                         "t:x:2",    "t:1:",
                         "t:1:-2",   "t::2",
                         "t/x:1:2",  "t:99999999999:1",
                         "t:1:2:3x", "t:1:99999999999999999999"};
    for (int i = 0; i < NELEM(bad); i++)
        ck_assert_msg(rpl_parse_coord(bad[i], topic, &part, &off, err, sizeof err) == -1, "accepted '%s'", bad[i]);
    ck_assert_ptr_nonnull(strstr(err, "offset"));
}
END_TEST

Suite *suite_replay(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_add_test(tc, test_plain_message);
    tcase_add_test(tc, test_escaped_bytes);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_unescape_edges);
    tcase_add_test(tc, test_coordinates);
    suite_add_tcase(s, tc);
    return s;
}
