/* Tests for dlq: the dead-letter record of contract §10. Every output is
 * parsed back with Jansson, so "valid JSON whatever the payload" is checked
 * on each case, not assumed. */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"

/* Parses a record, checking what every record must have. */
static json_t *parse(const char *rec)
{
    ck_assert_ptr_nonnull(rec);
    json_error_t err;
    json_t *o = json_loads(rec, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(o != NULL, "record is not JSON: %s", err.text);
    ck_assert(json_is_object(o));
    ck_assert_str_eq(json_string_value(json_object_get(o, "schema")), "dlq.v1");
    ck_assert(json_is_string(json_object_get(o, "reason")));
    ck_assert(json_is_string(json_object_get(o, "detail")));
    ck_assert(json_is_string(json_object_get(o, "source_topic")));
    ck_assert(json_is_integer(json_object_get(o, "partition")));
    ck_assert(json_is_integer(json_object_get(o, "offset")));
    ck_assert(json_is_string(json_object_get(o, "payload")));
    return o;
}

static char *encode_payload(const void *p, size_t len)
{
    return dlq_encode("malformed_json", "invalid syntax at byte 0", "complaints.events", 0, 0, p, len);
}

START_TEST(test_exact_record)
{
    const char *payload = "{\"schema\":\"complaint.v9\"}";
    char *rec = dlq_encode("unknown_schema", "schema: \"complaint.v9\", expected complaint.v1", "complaints.events", 3,
                           42, payload, strlen(payload));
    /* Exact text: compact, keys in contract order. */
    ck_assert_str_eq(rec, "{\"schema\":\"dlq.v1\",\"reason\":\"unknown_schema\","
                          "\"detail\":\"schema: \\\"complaint.v9\\\", expected complaint.v1\","
                          "\"source_topic\":\"complaints.events\",\"partition\":3,\"offset\":42,"
                          "\"payload\":\"{\\\"schema\\\":\\\"complaint.v9\\\"}\"}");
    json_t *o = parse(rec);
    ck_assert_str_eq(json_string_value(json_object_get(o, "payload")), payload);
    ck_assert_ptr_null(json_object_get(o, "payload_truncated"));
    json_decref(o);
    free(rec);
}
END_TEST

START_TEST(test_fields_round_trip)
{
    const char payload[] = "key=SF1";
    char *rec = dlq_encode("invalid_transition", "type: revisit before resolved", "parcels.scans", INT32_MAX, INT64_MAX,
                           payload, sizeof(payload) - 1);
    json_t *o = parse(rec);
    ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "invalid_transition");
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "type: revisit before resolved");
    ck_assert_str_eq(json_string_value(json_object_get(o, "source_topic")), "parcels.scans");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "partition")), INT32_MAX);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "offset")), INT64_MAX);
    ck_assert_str_eq(json_string_value(json_object_get(o, "payload")), "key=SF1");
    json_decref(o);
    free(rec);

    /* No detail and no payload still make a complete record. */
    rec = dlq_encode("unknown_ticket", NULL, "complaints.events", -1, -1, NULL, 0);
    o = parse(rec);
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "");
    ck_assert_str_eq(json_string_value(json_object_get(o, "payload")), "");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "partition")), -1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "offset")), -1);
    json_decref(o);
    free(rec);
}
END_TEST

/* Payload bytes in, payload string out (as read back from the JSON). */
typedef struct {
    const char *in;
    size_t inlen;
    const char *out;
    size_t outlen;
} EscCase;

#define ESC(in, out) {in, sizeof(in) - 1, out, sizeof(out) - 1}

static const EscCase esc_cases[] = {
    ESC("plain ascii", "plain ascii"),
    ESC("a\377b", "a\\xffb"),
    ESC("\xfe\xff", "\\xfe\\xff"),
    ESC("a\0b", "a\\x00b"),
    ESC("\0", "\\x00"),
    /* control characters are valid UTF-8: kept (JSON escapes them) */
    ESC("a\x01\n\tb", "a\x01\n\tb"),
    ESC("quote \" backslash \\", "quote \" backslash \\"),
    /* well-formed multi-byte characters are kept */
    ESC("\xc3\xa9", "\xc3\xa9"),
    ESC("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87"),
    ESC("\xf0\x9f\x93\xa6", "\xf0\x9f\x93\xa6"),
    ESC("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
    ESC("\xef\xbb\xbf{}", "\xef\xbb\xbf{}"),
    /* ill-formed: each byte that is not part of a character is escaped */
    ESC("\x80", "\\x80"),
    ESC("\xc0\xaf", "\\xc0\\xaf"),                   /* overlong '/' */
    ESC("\xc1\xbf", "\\xc1\\xbf"),                   /* overlong */
    ESC("\xe0\x80\xaf", "\\xe0\\x80\\xaf"),          /* overlong */
    ESC("\xed\xa0\x80", "\\xed\\xa0\\x80"),          /* surrogate U+D800 */
    ESC("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"), /* above U+10FFFF */
    ESC("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"),
    ESC("\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80"),
    ESC("\xe4\xb8", "\\xe4\\xb8"), /* cut short at the end */
    ESC("\344\270A", "\\xe4\\xb8A"), /* cut short before ASCII */
    ESC("\xe4\xe4\xb8\xad", "\\xe4\xe4\xb8\xad"), /* resynchronises */
    ESC("\xc3\xa9\xa9", "\xc3\xa9\\xa9"),
    ESC("{\"site\":\"\xff\"}", "{\"site\":\"\\xff\"}"),
};

START_TEST(test_escaping)
{
    const EscCase *c = &esc_cases[_i];
    char *rec = encode_payload(c->in, c->inlen);
    json_t *o = parse(rec);
    json_t *p = json_object_get(o, "payload");
    ck_assert_uint_eq(json_string_length(p), c->outlen);
    ck_assert_msg(memcmp(json_string_value(p), c->out, c->outlen) == 0, "case %d: got \"%s\"", _i,
                  json_string_value(p));
    ck_assert_ptr_null(json_object_get(o, "payload_truncated"));
    json_decref(o);
    free(rec);
}
END_TEST

START_TEST(test_nul_not_raw)
{
    /* The NUL must not reach the JSON as \u0000, which many consumers
     * would cut the string at. */
    char *rec = encode_payload("a\0b", 3);
    ck_assert_ptr_null(strstr(rec, "\\u0000"));
    ck_assert_ptr_nonnull(strstr(rec, "\"a\\\\x00b\""));
    free(rec);
}
END_TEST

START_TEST(test_other_strings_escaped)
{
    char *rec = dlq_encode("bad\xff", "detail\xc0", "topic\x80", 0, 0, "x", 1);
    json_t *o = parse(rec);
    ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "bad\\xff");
    ck_assert_str_eq(json_string_value(json_object_get(o, "detail")), "detail\\xc0");
    ck_assert_str_eq(json_string_value(json_object_get(o, "source_topic")), "topic\\x80");
    json_decref(o);
    free(rec);
}
END_TEST

/* A payload of `len` bytes: 'a' everywhere, `tail` written at `at`. */
static unsigned char *filled(size_t len, size_t at, const char *tail, size_t taillen)
{
    unsigned char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    memset(p, 'a', len);
    if (tail != NULL)
        memcpy(p + at, tail, taillen);
    return p;
}

typedef struct {
    size_t len; /* payload length */
    size_t at;  /* where tail goes */
    const char *tail;
    size_t taillen;
    size_t want_bytes; /* original bytes kept */
    size_t want_len;   /* length of the payload string */
    bool truncated;
} CutCase;

#define M DLQ_PAYLOAD_MAX

static const CutCase cut_cases[] = {
    {M, 0, NULL, 0, M, M, false},
    {M + 1, 0, NULL, 0, M, M, true},
    {4 * M, 0, NULL, 0, M, M, true},
    /* a 3-byte character that ends exactly at the limit is kept */
    {M + 10, M - 3, "\xe4\xb8\xad", 3, M, M, true},
    /* ... one that straddles it is dropped whole */
    {M + 10, M - 2, "\xe4\xb8\xad", 3, M - 2, M - 2, true},
    {M + 10, M - 1, "\xe4\xb8\xad", 3, M - 1, M - 1, true},
    {M + 10, M - 1, "\xf0\x9f\x93\xa6", 4, M - 1, M - 1, true},
    {M + 10, M - 3, "\xf0\x9f\x93\xa6", 4, M - 3, M - 3, true},
    /* an invalid byte is one byte: the last one before the limit is kept, escaped */
    {M + 10, M - 1, "\xff", 1, M, M + 3, true},
    /* a sequence cut short by the data itself (not the limit) is escaped */
    {M, M - 2, "\xe4\xb8", 2, M, M + 6, false},
};

START_TEST(test_truncation)
{
    const CutCase *c = &cut_cases[_i];
    unsigned char *in = filled(c->len, c->at, c->tail, c->taillen);
    char *rec = encode_payload(in, c->len);
    json_t *o = parse(rec);
    json_t *p = json_object_get(o, "payload");
    ck_assert_uint_eq(json_string_length(p), c->want_len);
    json_t *t = json_object_get(o, "payload_truncated");
    if (c->truncated) {
        ck_assert(json_is_true(t));
    } else {
        ck_assert_ptr_null(t);
    }
    /* What is kept is the start of the original, byte for byte where valid. */
    size_t plain = c->want_bytes < c->at || c->tail == NULL ? c->want_bytes : c->at;
    ck_assert(memcmp(json_string_value(p), in, plain) == 0);
    json_decref(o);
    free(rec);
    free(in);
}
END_TEST

START_TEST(test_truncated_key_last)
{
    unsigned char *in = filled(M + 1, 0, NULL, 0);
    char *rec = encode_payload(in, M + 1);
    size_t n = strlen(rec);
    const char *end = ",\"payload_truncated\":true}";
    ck_assert_uint_gt(n, strlen(end));
    ck_assert_str_eq(rec + n - strlen(end), end);
    free(rec);
    free(in);
}
END_TEST

START_TEST(test_worst_case_size)
{
    /* Every byte invalid: four characters each, and still one record. */
    unsigned char *in = malloc(2 * M);
    ck_assert_ptr_nonnull(in);
    memset(in, 0xff, 2 * M);
    char *rec = encode_payload(in, 2 * M);
    json_t *o = parse(rec);
    ck_assert_uint_eq(json_string_length(json_object_get(o, "payload")), 4 * (size_t)M);
    ck_assert(json_is_true(json_object_get(o, "payload_truncated")));
    json_decref(o);
    free(rec);
    free(in);
}
END_TEST

/* Message keys as text: plain UTF-8 as it is, anything else in hex, and
 * back to the same bytes. */
static const struct {
    const char *key;
    size_t len;
    const char *text;
} key_cases[] = {
    {"T-1", 3, "T-1"},
    {"", 0, ""},
    {"\xe5\xb9\xbf\xe5\xb7\x9e", 6, "\xe5\xb9\xbf\xe5\xb7\x9e"}, /* 广州: UTF-8, as it is */
    {"\xff", 1, "\\xff"},
    {"k\0z", 3, "\\x6b007a"},
    {"a\\b", 3, "\\x615c62"},    /* a backslash: always hex, so never read as hex */
    {"\\xff", 4, "\\x5c786666"}, /* the text of another key, as a key */
    {"\xe5\xb9", 2, "\\xe5b9"},  /* a character cut short */
};

START_TEST(test_key_text)
{
    const char *key = key_cases[_i].key, *want = key_cases[_i].text;
    size_t len = key_cases[_i].len;
    char *text = dlq_key_text(key, len);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, want);
    ck_assert_uint_eq(dlq_key_bytes(text), len);
    ck_assert_mem_eq(text, key, len);
    free(text);
}
END_TEST

START_TEST(test_key_long)
{
    /* a 300-byte key is kept whole */
    char key[300];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (char)('a' + i % 26);
    char *text = dlq_key_text(key, sizeof key);
    ck_assert_uint_eq(strlen(text), sizeof key);
    ck_assert_uint_eq(dlq_key_bytes(text), sizeof key);
    ck_assert_mem_eq(text, key, sizeof key);
    free(text);
    key[150] = '\0';
    text = dlq_key_text(key, sizeof key);
    ck_assert_uint_eq(strlen(text), 2 + 2 * sizeof key);
    ck_assert_uint_eq(dlq_key_bytes(text), sizeof key);
    ck_assert_mem_eq(text, key, sizeof key);
    free(text);
    /* text that is not hex is its own key */
    char odd[] = "\\xabc", nothex[] = "\\xzz";
    ck_assert_uint_eq(dlq_key_bytes(odd), 5);
    ck_assert_uint_eq(dlq_key_bytes(nothex), 4);
}
END_TEST

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_dlq(void)
{
    Suite *s = suite_create("dlq");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_exact_record);
    tcase_add_test(tc, test_fields_round_trip);
    tcase_add_loop_test(tc, test_escaping, 0, NCASES(esc_cases));
    tcase_add_test(tc, test_nul_not_raw);
    tcase_add_test(tc, test_other_strings_escaped);
    tcase_add_loop_test(tc, test_truncation, 0, NCASES(cut_cases));
    tcase_add_test(tc, test_truncated_key_last);
    tcase_add_test(tc, test_worst_case_size);
    tcase_add_loop_test(tc, test_key_text, 0, NCASES(key_cases));
    tcase_add_test(tc, test_key_long);
    suite_add_tcase(s, tc);
    return s;
}
