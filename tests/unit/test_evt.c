/* Tests for evt: every field rule of contract §2 and §3, and every
 * dead-letter reason the decoder gives (§10) with the field its detail names.
 *
 * Most cases start from a valid message and change one field, so a failure
 * can only come from that field. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evt.h"

#define MAX_BYTES 1048576

#define X16 "xxxxxxxxxxxxxxxx"
#define X64 X16 X16 X16 X16
#define X128 X64 X64
#define X1024 X128 X128 X128 X128 X128 X128 X128 X128
#define N16 "0123456789ABCDEF"
#define N64 N16 N16 N16 N16

/* 2026-11-23T09:15:00+08:00 */
#define T0 1795396500

#define COMMON(type)                                                                                                   \
    "\"schema\":\"complaint.v1\",\"event_id\":\"e-1\",\"ticket_id\":\"T-1\",\"type\":\"" type "\","                    \
    "\"occurred_at\":\"2026-11-23T09:15:00+08:00\""

static const char RECEIVED[] = "{" COMMON("received") ",\"channel\":\"hotline\",\"category\":\"delay\"}";
static const char CONTACTED[] = "{" COMMON("contacted") "}";
static const char FIRST_REPLY[] = "{" COMMON("first_reply") "}";
static const char RESOLVED[] = "{" COMMON("resolved") "}";
static const char REVISIT[] = "{" COMMON("revisit") ",\"satisfied\":true}";
static const char UPDATED[] = "{" COMMON("updated") "}";
static const char CLOSED[] = "{" COMMON("closed") ",\"reason\":\"duplicate of T-0\"}";
static const char PAUSED[] = "{" COMMON("paused") "}";
static const char RESUMED[] = "{" COMMON("resumed") "}";
static const char EXTENDED[] = "{" COMMON("extended") ",\"stage\":\"resolve\",\"hours\":24}";
static const char PROGRESS[] = "{" COMMON("progress") "}";

static const char SCAN[] =
    "{\"schema\":\"scan.v1\",\"event_id\":\"s-1\",\"waybill\":\"SF123\",\"scan_type\":\"arrive\","
    "\"site\":\"HUB-SH\",\"site_role\":\"hub\",\"occurred_at\":\"2026-11-23T09:15:00+08:00\"}";
static const char DEPART[] =
    "{\"schema\":\"scan.v1\",\"event_id\":\"s-2\",\"waybill\":\"SF123\",\"scan_type\":\"depart\","
    "\"site\":\"HUB-SH\",\"site_role\":\"hub\",\"next_site\":\"DLV-07\","
    "\"occurred_at\":\"2026-11-23T09:15:00+08:00\"}";

/* The base message with `field` set to the JSON text `value`, or removed
 * when value is NULL. */
static char *with_field(const char *base, const char *field, const char *value)
{
    json_error_t err;
    json_t *o = json_loads(base, 0, &err);
    ck_assert_msg(o != NULL, "bad test base: %s", err.text);
    if (value == NULL) {
        json_object_del(o, field);
    } else {
        json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        ck_assert_msg(v != NULL, "bad test value %s: %s", value, err.text);
        json_object_set_new(o, field, v);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static EvtStatus decode(const char *msg, ComplaintEvent *ev, char *detail)
{
    return evt_decode_complaint(msg, strlen(msg), MAX_BYTES, ev, detail, EVT_DETAIL_MAX);
}

static EvtStatus decode_scan(const char *msg, ScanEvent *ev, char *detail)
{
    return evt_decode_scan(msg, strlen(msg), MAX_BYTES, ev, detail, EVT_DETAIL_MAX);
}

/* A missing-field detail is exactly the name; an invalid one is the name,
 * optionally followed by ": why". */
static void assert_detail(EvtStatus st, const char *detail, const char *field)
{
    size_t n = strlen(field);
    if (st == EVT_OK) {
        ck_assert_str_eq(detail, "");
    } else if (st == EVT_MISSING_FIELD) {
        ck_assert_str_eq(detail, field);
    } else {
        ck_assert_msg(strncmp(detail, field, n) == 0 && (detail[n] == '\0' || detail[n] == ':'),
                      "detail \"%s\" does not start with the field \"%s\"", detail, field);
    }
}

typedef struct {
    const char *base;
    const char *field;
    const char *value; /* JSON text; NULL removes the field */
    EvtStatus want;
} FieldCase;

static const FieldCase complaint_cases[] = {
    /* schema */
    {RECEIVED, "schema", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "schema", "null", EVT_MISSING_FIELD},
    {RECEIVED, "schema", "1", EVT_INVALID_FIELD},
    {RECEIVED, "schema", "[\"complaint.v1\"]", EVT_INVALID_FIELD},
    {RECEIVED, "schema", "\"complaint.v2\"", EVT_UNKNOWN_SCHEMA},
    {RECEIVED, "schema", "\"scan.v1\"", EVT_UNKNOWN_SCHEMA},
    {RECEIVED, "schema", "\"Complaint.v1\"", EVT_UNKNOWN_SCHEMA},
    {RECEIVED, "schema", "\"\"", EVT_UNKNOWN_SCHEMA},
    {RECEIVED, "schema", "\"complaint.v1\\u0000x\"", EVT_UNKNOWN_SCHEMA},
    /* event_id: 1..128 bytes */
    {RECEIVED, "event_id", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "event_id", "null", EVT_MISSING_FIELD},
    {RECEIVED, "event_id", "17", EVT_INVALID_FIELD},
    {RECEIVED, "event_id", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "event_id", "\"" X128 "\"", EVT_OK},
    {RECEIVED, "event_id", "\"" X128 "x\"", EVT_INVALID_FIELD},
    {RECEIVED, "event_id", "\"a\\nb\"", EVT_INVALID_FIELD},
    {RECEIVED, "event_id", "\"a\\u0000b\"", EVT_INVALID_FIELD},
    {RECEIVED, "event_id", "\"9f1c7b2e-6a0d-4c55-b0e3-1d2f9a7c4e11\"", EVT_OK},
    {RECEIVED, "event_id", "\"事件-1\"", EVT_OK},
    /* ticket_id: 1..64 of [A-Za-z0-9._:-] */
    {RECEIVED, "ticket_id", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "ticket_id", "null", EVT_MISSING_FIELD},
    {RECEIVED, "ticket_id", "42", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"" N64 "\"", EVT_OK},
    {RECEIVED, "ticket_id", "\"" N64 "0\"", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"CS.2026_11:23-0001\"", EVT_OK},
    {RECEIVED, "ticket_id", "\"T 1\"", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"T/1\"", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"工单1\"", EVT_INVALID_FIELD},
    {RECEIVED, "ticket_id", "\"T1\\u0000\"", EVT_INVALID_FIELD},
    /* type */
    {RECEIVED, "type", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "type", "null", EVT_MISSING_FIELD},
    {RECEIVED, "type", "3", EVT_INVALID_FIELD},
    {RECEIVED, "type", "\"opened\"", EVT_INVALID_FIELD},
    {RECEIVED, "type", "\"RECEIVED\"", EVT_INVALID_FIELD},
    {RECEIVED, "type", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "type", "\"received\\u0000\"", EVT_INVALID_FIELD},
    /* occurred_at: RFC 3339 with an explicit offset */
    {RECEIVED, "occurred_at", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "occurred_at", "null", EVT_MISSING_FIELD},
    {RECEIVED, "occurred_at", "1795396500", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"2026-11-23T09:15:00\"", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"2026-11-23\"", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"yesterday\"", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"2026-13-01T00:00:00Z\"", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"2026-11-23T09:15:00Z\\u0000junk\"", EVT_INVALID_FIELD},
    {RECEIVED, "occurred_at", "\"2026-11-23T01:15:00Z\"", EVT_OK},
    {RECEIVED, "occurred_at", "\"2026-11-23T09:15:00.123456+08:00\"", EVT_OK},
    /* any number of fraction digits (contract §1: fractions are accepted) */
    {RECEIVED, "occurred_at", "\"2026-11-23T09:15:00." X128 "+08:00\"", EVT_INVALID_FIELD}, /* x: not digits */
    {RECEIVED, "occurred_at", "\"2026-11-23T09:15:00.12345678901234567890123456789012345678901234567890+08:00\"",
     EVT_OK},
    /* received: channel and category required */
    {RECEIVED, "channel", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "channel", "null", EVT_MISSING_FIELD},
    {RECEIVED, "channel", "\"fax\"", EVT_INVALID_FIELD},
    {RECEIVED, "channel", "1", EVT_INVALID_FIELD},
    {RECEIVED, "category", NULL, EVT_MISSING_FIELD},
    {RECEIVED, "category", "null", EVT_MISSING_FIELD},
    {RECEIVED, "category", "\"theft\"", EVT_INVALID_FIELD},
    {RECEIVED, "category", "true", EVT_INVALID_FIELD},
    /* waybill: optional, 1..64 of [A-Za-z0-9-] */
    {RECEIVED, "waybill", "null", EVT_OK},
    {RECEIVED, "waybill", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "waybill", "\"" N64 "\"", EVT_OK},
    {RECEIVED, "waybill", "\"" N64 "0\"", EVT_INVALID_FIELD},
    {RECEIVED, "waybill", "\"SF-1234567890\"", EVT_OK},
    {RECEIVED, "waybill", "\"SF_1\"", EVT_INVALID_FIELD},
    {RECEIVED, "waybill", "\"SF.1\"", EVT_INVALID_FIELD},
    {RECEIVED, "waybill", "1234567890", EVT_INVALID_FIELD},
    /* site: optional, 1..64 bytes, no control characters */
    {RECEIVED, "site", "null", EVT_OK},
    {RECEIVED, "site", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "site", "\"" X64 "\"", EVT_OK},
    {RECEIVED, "site", "\"" X64 "x\"", EVT_INVALID_FIELD},
    {RECEIVED, "site", "\"上海浦东-01\"", EVT_OK},
    {RECEIVED, "site", "\"a\\tb\"", EVT_INVALID_FIELD},
    {RECEIVED, "site", "\"a\\u007fb\"", EVT_INVALID_FIELD},
    {RECEIVED, "site", "\"a\\u0085b\"", EVT_INVALID_FIELD},
    {RECEIVED, "site", "7", EVT_INVALID_FIELD},
    /* region: optional, 1..32 of [A-Za-z0-9_-] */
    {RECEIVED, "region", "null", EVT_OK},
    {RECEIVED, "region", "\"65\"", EVT_OK},
    {RECEIVED, "region", "\"inner_mongolia\"", EVT_OK},
    {RECEIVED, "region", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "region", "\"" X16 X16 "\"", EVT_OK},
    {RECEIVED, "region", "\"" X16 X16 "x\"", EVT_INVALID_FIELD},
    {RECEIVED, "region", "\"xin jiang\"", EVT_INVALID_FIELD},
    {RECEIVED, "region", "\"新疆\"", EVT_INVALID_FIELD},
    {RECEIVED, "region", "65", EVT_INVALID_FIELD},
    /* claim, major: optional strict booleans */
    {RECEIVED, "claim", "true", EVT_OK},
    {RECEIVED, "claim", "false", EVT_OK},
    {RECEIVED, "claim", "null", EVT_OK},
    {RECEIVED, "claim", "1", EVT_INVALID_FIELD},
    {RECEIVED, "claim", "0", EVT_INVALID_FIELD},
    {RECEIVED, "claim", "\"true\"", EVT_INVALID_FIELD},
    {RECEIVED, "major", "true", EVT_OK},
    {RECEIVED, "major", "null", EVT_OK},
    {RECEIVED, "major", "1", EVT_INVALID_FIELD},
    {RECEIVED, "major", "\"yes\"", EVT_INVALID_FIELD},
    /* customer_ref: optional, 1..128 bytes */
    {RECEIVED, "customer_ref", "null", EVT_OK},
    {RECEIVED, "customer_ref", "\"\"", EVT_INVALID_FIELD},
    {RECEIVED, "customer_ref", "\"" X128 "\"", EVT_OK},
    {RECEIVED, "customer_ref", "\"" X128 "x\"", EVT_INVALID_FIELD},
    {RECEIVED, "customer_ref", "\"c\\u0001\"", EVT_INVALID_FIELD},
    {RECEIVED, "customer_ref", "12345", EVT_INVALID_FIELD},
    /* revisit: satisfied required */
    {REVISIT, "satisfied", NULL, EVT_MISSING_FIELD},
    {REVISIT, "satisfied", "null", EVT_MISSING_FIELD},
    {REVISIT, "satisfied", "false", EVT_OK},
    {REVISIT, "satisfied", "\"yes\"", EVT_INVALID_FIELD},
    {REVISIT, "satisfied", "1", EVT_INVALID_FIELD},
    /* updated: each reclassification field validated as in received */
    {UPDATED, "category", "\"loss\"", EVT_OK},
    {UPDATED, "category", "null", EVT_OK},
    {UPDATED, "category", "\"theft\"", EVT_INVALID_FIELD},
    {UPDATED, "claim", "\"x\"", EVT_INVALID_FIELD},
    {UPDATED, "major", "1", EVT_INVALID_FIELD},
    {UPDATED, "site", "\"\"", EVT_INVALID_FIELD},
    {UPDATED, "waybill", "\"SF 1\"", EVT_INVALID_FIELD},
    {UPDATED, "region", "\"\"", EVT_INVALID_FIELD},
    /* channel is not one of the fields updated may change: ignored */
    {UPDATED, "channel", "\"fax\"", EVT_OK},
    /* closed, paused: reason optional, a string of any length (not kept) */
    {CLOSED, "reason", NULL, EVT_OK},
    {CLOSED, "reason", "null", EVT_OK},
    {CLOSED, "reason", "\"\"", EVT_OK},
    {CLOSED, "reason", "\"" X1024 "\"", EVT_OK},
    {CLOSED, "reason", "\"" X1024 X1024 "x\"", EVT_OK},
    {CLOSED, "reason", "5", EVT_INVALID_FIELD},
    {PAUSED, "reason", "\"waiting for photos of the damage\"", EVT_OK},
    {PAUSED, "reason", "{}", EVT_INVALID_FIELD},
    {PAUSED, "reason", "\"" X1024 "x\"", EVT_OK},
    /* extended: stage, hours required; approved_by optional */
    {EXTENDED, "stage", NULL, EVT_MISSING_FIELD},
    {EXTENDED, "stage", "null", EVT_MISSING_FIELD},
    {EXTENDED, "stage", "\"first_reply\"", EVT_OK},
    {EXTENDED, "stage", "\"contact\"", EVT_INVALID_FIELD},
    {EXTENDED, "stage", "1", EVT_INVALID_FIELD},
    {EXTENDED, "hours", NULL, EVT_MISSING_FIELD},
    {EXTENDED, "hours", "null", EVT_MISSING_FIELD},
    {EXTENDED, "hours", "1", EVT_OK},
    {EXTENDED, "hours", "720", EVT_OK},
    {EXTENDED, "hours", "0", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "-1", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "721", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "4294967320", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "2.0", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "2.5", EVT_INVALID_FIELD},
    {EXTENDED, "hours", "\"24\"", EVT_INVALID_FIELD},
    {EXTENDED, "approved_by", "null", EVT_OK},
    {EXTENDED, "approved_by", "\"\"", EVT_INVALID_FIELD},
    {EXTENDED, "approved_by", "\"" X128 "\"", EVT_OK},
    {EXTENDED, "approved_by", "\"" X128 "x\"", EVT_INVALID_FIELD},
    {EXTENDED, "approved_by", "77", EVT_INVALID_FIELD},
    /* contract §12 */
    {PAUSED, "until", "\"2026-11-23T09:15:00+08:00\"", EVT_OK},
    {PAUSED, "until", "\"2026-11-24T09:15:00+08:00\"", EVT_OK},
    {PAUSED, "until", "\"2026-11-23T09:14:59+08:00\"", EVT_INVALID_FIELD},
    {PAUSED, "until", "\"tomorrow\"", EVT_INVALID_FIELD},
    {PAUSED, "until", "17", EVT_INVALID_FIELD},
    {PAUSED, "until", "null", EVT_OK},
    {RECEIVED, "claim_amount", "0", EVT_OK},
    {RECEIVED, "claim_amount", "50000.5", EVT_OK},
    {RECEIVED, "claim_amount", "-1", EVT_INVALID_FIELD},
    {RECEIVED, "claim_amount", "-0.01", EVT_INVALID_FIELD},
    {RECEIVED, "claim_amount", "\"50000\"", EVT_INVALID_FIELD},
    {UPDATED, "claim_amount", "1e300", EVT_OK},
    {RECEIVED, "complainants", "1", EVT_OK},
    {RECEIVED, "complainants", "0", EVT_INVALID_FIELD},
    {RECEIVED, "complainants", "2.5", EVT_INVALID_FIELD},
    {RECEIVED, "complainants", "-3", EVT_INVALID_FIELD},
    {UPDATED, "complainants", "\"5\"", EVT_INVALID_FIELD},
    {RECEIVED, "injury", "true", EVT_OK},
    {RECEIVED, "injury", "\"yes\"", EVT_INVALID_FIELD},
    {RECEIVED, "vip", "1", EVT_INVALID_FIELD},
    {UPDATED, "executive", "false", EVT_OK},
    {UPDATED, "executive", "\"no\"", EVT_INVALID_FIELD},
    {UPDATED, "validity", "\"valid\"", EVT_OK},
    {UPDATED, "validity", "\"invalid\"", EVT_OK},
    {UPDATED, "validity", "\"maybe\"", EVT_INVALID_FIELD},
    {UPDATED, "validity", "true", EVT_INVALID_FIELD},
    /* unknown extra fields are ignored, whatever they hold */
    {RECEIVED, "priority_hint", "\"vip\"", EVT_OK},
    {RECEIVED, "note", "\"a\\u0000b\"", EVT_OK},
    {CONTACTED, "agent", "{\"id\":7,\"tags\":[1,2,null]}", EVT_OK},
    {FIRST_REPLY, "satisfied", "\"not a bool\"", EVT_OK},
    {RESOLVED, "hours", "2.5", EVT_OK},
    {RESUMED, "reason", "42", EVT_OK},
    {REVISIT, "channel", "\"fax\"", EVT_OK},
};

START_TEST(test_complaint_fields)
{
    const FieldCase *c = &complaint_cases[_i];
    char *msg = with_field(c->base, c->field, c->value);
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    EvtStatus st = decode(msg, &ev, detail);
    ck_assert_msg(st == c->want, "%s=%s: got %s (%s), want %s", c->field, c->value ? c->value : "(removed)",
                  evt_status_name(st), detail, evt_status_name(c->want));
    assert_detail(st, detail, st == EVT_UNKNOWN_SCHEMA ? "schema" : c->field);
    free(msg);
}
END_TEST

static const FieldCase scan_cases[] = {
    {SCAN, "schema", NULL, EVT_MISSING_FIELD},
    {SCAN, "schema", "2", EVT_INVALID_FIELD},
    {SCAN, "schema", "\"complaint.v1\"", EVT_UNKNOWN_SCHEMA},
    {SCAN, "schema", "\"scan.v2\"", EVT_UNKNOWN_SCHEMA},
    {SCAN, "event_id", NULL, EVT_MISSING_FIELD},
    {SCAN, "event_id", "null", EVT_MISSING_FIELD},
    {SCAN, "event_id", "\"\"", EVT_INVALID_FIELD},
    {SCAN, "event_id", "\"" X128 "x\"", EVT_INVALID_FIELD},
    {SCAN, "event_id", "1", EVT_INVALID_FIELD},
    {SCAN, "waybill", NULL, EVT_MISSING_FIELD},
    {SCAN, "waybill", "null", EVT_MISSING_FIELD},
    {SCAN, "waybill", "\"\"", EVT_INVALID_FIELD},
    {SCAN, "waybill", "\"SF 1\"", EVT_OK}, /* §3: any string (a complaint's is narrower) */
    {SCAN, "waybill", "\"SF_1/\u5e7f\"", EVT_OK},
    {SCAN, "waybill", "\"SF\\u00011\"", EVT_INVALID_FIELD},
    {SCAN, "waybill", "\"" N64 "0\"", EVT_INVALID_FIELD},
    {SCAN, "waybill", "\"" N64 "\"", EVT_OK},
    {SCAN, "waybill", "123", EVT_INVALID_FIELD},
    {SCAN, "scan_type", NULL, EVT_MISSING_FIELD},
    {SCAN, "scan_type", "\"lost\"", EVT_INVALID_FIELD},
    {SCAN, "scan_type", "\"ARRIVE\"", EVT_INVALID_FIELD},
    {SCAN, "scan_type", "5", EVT_INVALID_FIELD},
    {SCAN, "site", NULL, EVT_MISSING_FIELD},
    {SCAN, "site", "null", EVT_MISSING_FIELD},
    {SCAN, "site", "\"\"", EVT_INVALID_FIELD},
    {SCAN, "site", "\"" X64 "x\"", EVT_INVALID_FIELD},
    {SCAN, "site", "\"a\\rb\"", EVT_INVALID_FIELD},
    {SCAN, "site_role", NULL, EVT_MISSING_FIELD},
    {SCAN, "site_role", "null", EVT_MISSING_FIELD},
    {SCAN, "site_role", "\"warehouse\"", EVT_INVALID_FIELD},
    {SCAN, "site_role", "\"origin\"", EVT_OK},
    {SCAN, "site_role", "\"delivery\"", EVT_OK},
    {SCAN, "site_role", "0", EVT_INVALID_FIELD},
    /* next_site: optional except for depart, validated when present */
    {SCAN, "next_site", "\"DLV-07\"", EVT_OK},
    {SCAN, "next_site", "null", EVT_OK},
    {SCAN, "next_site", "\"\"", EVT_INVALID_FIELD},
    {SCAN, "next_site", "9", EVT_INVALID_FIELD},
    {DEPART, "next_site", NULL, EVT_MISSING_FIELD},
    {DEPART, "next_site", "null", EVT_MISSING_FIELD},
    {DEPART, "next_site", "\"\"", EVT_INVALID_FIELD},
    {DEPART, "next_site", "\"" X64 "x\"", EVT_INVALID_FIELD},
    {DEPART, "next_site_role", "\"hub\"", EVT_OK},
    {DEPART, "next_site_role", "null", EVT_OK},
    {DEPART, "next_site_role", "\"depot\"", EVT_INVALID_FIELD},
    {DEPART, "next_site_role", "1", EVT_INVALID_FIELD},
    {SCAN, "occurred_at", NULL, EVT_MISSING_FIELD},
    {SCAN, "occurred_at", "null", EVT_MISSING_FIELD},
    {SCAN, "occurred_at", "\"2026-11-23 09:15:00\"", EVT_INVALID_FIELD},
    {SCAN, "occurred_at", "\"2026-11-23 09:15:00+08:00\"", EVT_OK},
    {SCAN, "occurred_at", "\"2026-11-23T09:15:00.12345678901234567890123456789012345678901234567890+08:00\"",
     EVT_OK},
    {SCAN, "occurred_at", "1795396500", EVT_INVALID_FIELD},
    {SCAN, "ticket_id", "\"not for scans\"", EVT_OK},
    {SCAN, "operator", "{\"badge\":12}", EVT_OK},
};

START_TEST(test_scan_fields)
{
    const FieldCase *c = &scan_cases[_i];
    char *msg = with_field(c->base, c->field, c->value);
    char detail[EVT_DETAIL_MAX];
    ScanEvent ev;
    EvtStatus st = decode_scan(msg, &ev, detail);
    ck_assert_msg(st == c->want, "%s=%s: got %s (%s), want %s", c->field, c->value ? c->value : "(removed)",
                  evt_status_name(st), detail, evt_status_name(c->want));
    assert_detail(st, detail, st == EVT_UNKNOWN_SCHEMA ? "schema" : c->field);
    free(msg);
}
END_TEST

/* Raw bytes, for inputs that cannot be built through Jansson. */
typedef struct {
    const char *buf;
    size_t len;
} RawCase;

#define RAW(s) {s, sizeof(s) - 1}

static const RawCase malformed_cases[] = {
    RAW(""),
    RAW(" "),
    RAW("{"),
    RAW("not json"),
    RAW("{\"schema\":\"complaint.v1\",}"),
    RAW("{'schema':'complaint.v1'}"),
    RAW("[{\"schema\":\"complaint.v1\"}]"),
    RAW("\"complaint.v1\""),
    RAW("42"),
    RAW("null"),
    RAW("{\"schema\":\"complaint.v1\"} {}"),
    RAW("{\"schema\":\"complaint.v1\",\"schema\":\"complaint.v1\"}"),
    RAW("{" COMMON("received") ",\"channel\":\"app\",\"category\":\"fee\",\"channel\":\"app\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"\xff\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"\xc0\xaf\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"\xed\xa0\x80\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"\xe4\xb8\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"x\":\"\xe4\xb8\xad\" \xff}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"a\0b\"}"),
    RAW("{\"schema\":\"complaint.v1\"}\0"),
    RAW("{\"schema\":\"complaint.v1\",\"a\\u0000b\":1}"),
    RAW("{\"schema\":\"complaint.v1\",\"site\":\"a\nb\"}"),
    RAW("{\"schema\":\"complaint.v1\",\"hours\":1e999}"),
    RAW("{\"schema\":\"complaint.v1\",\"hours\":99999999999999999999}"),
    RAW("{\"schema\":\"complaint.v1\",\"s\":\"\\ud800\"}"),
    RAW("\xef\xbb\xbf{\"schema\":\"complaint.v1\"}"),
};

START_TEST(test_malformed)
{
    const RawCase *c = &malformed_cases[_i];
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ScanEvent sev;
    EvtStatus st = evt_decode_complaint(c->buf, c->len, MAX_BYTES, &ev, detail, sizeof(detail));
    ck_assert_msg(st == EVT_MALFORMED_JSON, "case %d: got %s (%s)", _i, evt_status_name(st), detail);
    ck_assert(detail[0] != '\0');
    st = evt_decode_scan(c->buf, c->len, MAX_BYTES, &sev, detail, sizeof(detail));
    ck_assert_msg(st == EVT_MALFORMED_JSON, "scan case %d: got %s (%s)", _i, evt_status_name(st), detail);
}
END_TEST

START_TEST(test_nesting_limit)
{
    /* Deep nesting in an ignored field must fail cleanly, not overflow the stack. */
    size_t depth = 100000;
    size_t len = depth * 2 + 64;
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    size_t k = (size_t)sprintf(buf, "{\"schema\":\"complaint.v1\",\"x\":");
    for (size_t i = 0; i < depth; i++)
        buf[k++] = '[';
    for (size_t i = 0; i < depth; i++)
        buf[k++] = ']';
    buf[k++] = '}';
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(evt_decode_complaint(buf, k, MAX_BYTES, &ev, detail, sizeof(detail)), EVT_MALFORMED_JSON);
    free(buf);
}
END_TEST

START_TEST(test_too_large)
{
    size_t len = 2000000;
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    memset(buf, '{', len); /* not JSON: the size is checked before parsing */
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ScanEvent sev;
    ck_assert_int_eq(evt_decode_complaint(buf, len, MAX_BYTES, &ev, detail, sizeof(detail)), EVT_TOO_LARGE);
    ck_assert_str_eq(detail, "message is 2000000 bytes, limit 1048576");
    ck_assert_int_eq(evt_decode_scan(buf, len, MAX_BYTES, &sev, detail, sizeof(detail)), EVT_TOO_LARGE);
    ck_assert_str_eq(detail, "message is 2000000 bytes, limit 1048576");
    free(buf);

    /* The limit itself is allowed. */
    size_t n = strlen(RECEIVED);
    ck_assert_int_eq(evt_decode_complaint(RECEIVED, n, n, &ev, detail, sizeof(detail)), EVT_OK);
    ck_assert_int_eq(evt_decode_complaint(RECEIVED, n, n - 1, &ev, detail, sizeof(detail)), EVT_TOO_LARGE);
    char want[EVT_DETAIL_MAX];
    snprintf(want, sizeof(want), "message is %zu bytes, limit %zu", n, n - 1);
    ck_assert_str_eq(detail, want);
}
END_TEST

START_TEST(test_check_order)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    /* The first failing field in contract order wins. */
    static const struct {
        const char *msg;
        EvtStatus want;
        const char *field;
    } cases[] = {
        {"{}", EVT_MISSING_FIELD, "schema"},
        {"{\"schema\":\"complaint.v9\"}", EVT_UNKNOWN_SCHEMA, "schema"},
        {"{\"schema\":\"complaint.v1\"}", EVT_MISSING_FIELD, "event_id"},
        {"{\"schema\":\"complaint.v1\",\"event_id\":\"e\",\"type\":\"nope\"}", EVT_MISSING_FIELD, "ticket_id"},
        {"{\"schema\":\"complaint.v1\",\"event_id\":\"e\",\"ticket_id\":\"t\",\"type\":\"nope\"}", EVT_INVALID_FIELD,
         "type"},
        {"{\"schema\":\"complaint.v1\",\"event_id\":\"e\",\"ticket_id\":\"t\",\"type\":\"received\"}",
         EVT_MISSING_FIELD, "occurred_at"},
        {"{" COMMON("received") "}", EVT_MISSING_FIELD, "channel"},
        {"{" COMMON("received") ",\"channel\":\"app\"}", EVT_MISSING_FIELD, "category"},
        {"{" COMMON("extended") "}", EVT_MISSING_FIELD, "stage"},
        {"{" COMMON("extended") ",\"stage\":\"resolve\"}", EVT_MISSING_FIELD, "hours"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EvtStatus st = decode(cases[i].msg, &ev, detail);
        ck_assert_msg(st == cases[i].want, "case %zu: got %s (%s)", i, evt_status_name(st), detail);
        assert_detail(st, detail, cases[i].field);
    }
}
END_TEST

START_TEST(test_unknown_schema_detail)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode("{\"schema\":\"complaint.v2\"}", &ev, detail), EVT_UNKNOWN_SCHEMA);
    ck_assert_ptr_nonnull(strstr(detail, "complaint.v2"));

    /* Control characters, non-ASCII and length are tamed. */
    const char *evil = "{\"schema\":\"\\u001b[31m\\n新" X64 "\"}";
    ck_assert_int_eq(decode(evil, &ev, detail), EVT_UNKNOWN_SCHEMA);
    ck_assert_msg(strncmp(detail, "schema", 6) == 0, "%s", detail);
    ck_assert_uint_lt(strlen(detail), 100);
    for (const char *p = detail; *p != '\0'; p++)
        ck_assert_msg(*p >= 0x20 && *p < 0x7f, "byte 0x%02x in detail", (unsigned char)*p);
    ck_assert_ptr_null(strstr(detail, X64));
}
END_TEST

/* ---- valid messages ------------------------------------------------------ */

START_TEST(test_received_full)
{
    const char *msg = "{\"schema\":\"complaint.v1\",\"event_id\":\"e-100\",\"ticket_id\":\"CS-2026-0001\","
                      "\"type\":\"received\",\"occurred_at\":\"2026-11-23T09:15:00.999+08:00\","
                      "\"channel\":\"regulator\",\"category\":\"false_signature\",\"waybill\":\"SF1234567890\","
                      "\"site\":\"SH-PD-01\",\"region\":\"65\",\"claim\":true,\"major\":false,"
                      "\"customer_ref\":\"c7f3a9\",\"future_field\":[1,2,3]}";
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_str_eq(detail, "");
    ck_assert_str_eq(ev.event_id, "e-100");
    ck_assert_str_eq(ev.ticket_id, "CS-2026-0001");
    ck_assert_int_eq(ev.type, CT_RECEIVED);
    ck_assert_int_eq(ev.occurred_at, T0); /* fraction truncated */
    ck_assert_int_eq(ev.channel, CH_REGULATOR);
    ck_assert_int_eq(ev.category, CAT_FALSE_SIGNATURE);
    ck_assert_str_eq(ev.waybill, "SF1234567890");
    ck_assert_str_eq(ev.site, "SH-PD-01");
    ck_assert_str_eq(ev.region, "65");
    ck_assert(ev.claim);
    ck_assert(!ev.major);
    ck_assert_str_eq(ev.customer_ref, "c7f3a9");
    ck_assert_uint_eq(ev.has, EVF_CHANNEL | EVF_CATEGORY | EVF_WAYBILL | EVF_SITE | EVF_REGION | EVF_CLAIM | EVF_MAJOR |
                                  EVF_CUSTOMER_REF);
}
END_TEST

START_TEST(test_received_minimal)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    const char *msg = "{" COMMON("received") ",\"channel\":\"app\",\"category\":\"loss\",\"site\":null,"
                                             "\"claim\":null,\"customer_ref\":null}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_uint_eq(ev.has, EVF_CHANNEL | EVF_CATEGORY);
    ck_assert(!ev.claim && !ev.major);
    ck_assert_str_eq(ev.site, "");
    ck_assert_str_eq(ev.waybill, "");
    ck_assert_str_eq(ev.customer_ref, "");
}
END_TEST

START_TEST(test_every_channel)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    const char *name = evt_channel_name((Channel)_i);
    ck_assert_ptr_nonnull(name);
    char value[64];
    snprintf(value, sizeof(value), "\"%s\"", name);
    char *msg = with_field(RECEIVED, "channel", value);
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.channel, _i);
    free(msg);
}
END_TEST

START_TEST(test_every_category)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    const char *name = evt_category_name((Category)_i);
    ck_assert_ptr_nonnull(name);
    char value[64];
    snprintf(value, sizeof(value), "\"%s\"", name);
    char *msg = with_field(RECEIVED, "category", value);
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.category, _i);
    ck_assert(ev.has & EVF_CATEGORY);
    free(msg);

    /* updated accepts the same names */
    msg = with_field(UPDATED, "category", value);
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.category, _i);
    ck_assert_uint_eq(ev.has, EVF_CATEGORY);
    free(msg);
}
END_TEST

static const struct {
    const char *msg;
    ComplaintType type;
} every_type[] = {
    {RECEIVED, CT_RECEIVED}, {CONTACTED, CT_CONTACTED}, {FIRST_REPLY, CT_FIRST_REPLY}, {RESOLVED, CT_RESOLVED},
    {REVISIT, CT_REVISIT},   {UPDATED, CT_UPDATED},     {CLOSED, CT_CLOSED},           {PAUSED, CT_PAUSED},
    {RESUMED, CT_RESUMED},   {EXTENDED, CT_EXTENDED},   {PROGRESS, CT_PROGRESS},
};

START_TEST(test_every_type)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode(every_type[_i].msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.type, every_type[_i].type);
    ck_assert_str_eq(ev.event_id, "e-1");
    ck_assert_str_eq(ev.ticket_id, "T-1");
    ck_assert_int_eq(ev.occurred_at, T0);
    ck_assert_int_eq(evt_type_from_name(evt_type_name(ev.type)), (int)ev.type);
}
END_TEST

START_TEST(test_revisit)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode(REVISIT, &ev, detail), EVT_OK);
    ck_assert(ev.satisfied);
    ck_assert_uint_eq(ev.has, EVF_SATISFIED);
    char *msg = with_field(REVISIT, "satisfied", "false");
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert(!ev.satisfied);
    ck_assert_uint_eq(ev.has, EVF_SATISFIED);
    free(msg);
}
END_TEST

START_TEST(test_updated)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode(UPDATED, &ev, detail), EVT_OK);
    ck_assert_uint_eq(ev.has, 0);

    const char *msg = "{" COMMON("updated") ",\"category\":\"damage\",\"claim\":false,\"major\":true,"
                                            "\"site\":\"BJ-03\",\"waybill\":\"YT-99\",\"region\":\"tibet\","
                                            "\"customer_ref\":\"ignored-here\"}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_uint_eq(ev.has, EVF_CATEGORY | EVF_CLAIM | EVF_MAJOR | EVF_SITE | EVF_WAYBILL | EVF_REGION);
    ck_assert_int_eq(ev.category, CAT_DAMAGE);
    ck_assert(!ev.claim);
    ck_assert(ev.major);
    ck_assert_str_eq(ev.site, "BJ-03");
    ck_assert_str_eq(ev.waybill, "YT-99");
    ck_assert_str_eq(ev.region, "tibet");
    ck_assert_str_eq(ev.customer_ref, "");
}
END_TEST

/* §12.5, §12.6, §12.3: the new fields land in the event. */
START_TEST(test_second_wave_fields)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    const char *msg = "{" COMMON("received") ",\"channel\":\"hotline\",\"category\":\"damage\","
                                             "\"claim_amount\":60000.25,\"complainants\":6,\"injury\":true,"
                                             "\"vip\":false,\"executive\":true}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert(ev.has & EVF_CLAIM_AMOUNT);
    ck_assert(ev.claim_amount > 60000.2 && ev.claim_amount < 60000.3);
    ck_assert(ev.has & EVF_COMPLAINANTS);
    ck_assert_int_eq(ev.complainants, 6);
    ck_assert(ev.has & EVF_INJURY && ev.injury);
    ck_assert(ev.has & EVF_VIP && !ev.vip);
    ck_assert(ev.has & EVF_EXECUTIVE && ev.executive);
    msg = "{" COMMON("updated") ",\"validity\":\"invalid\"}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_uint_eq(ev.has, EVF_VALIDITY);
    ck_assert(ev.invalid);
    msg = "{" COMMON("paused") ",\"until\":\"2026-11-24T09:15:00+08:00\"}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_uint_eq(ev.has, EVF_UNTIL);
    ck_assert_int_eq(ev.until, T0 + 86400);
    ck_assert_int_eq(decode(PAUSED, &ev, detail), EVT_OK);
    ck_assert(!(ev.has & EVF_UNTIL));
}
END_TEST

START_TEST(test_extended)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ck_assert_int_eq(decode(EXTENDED, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.ext_stage, EXT_RESOLVE);
    ck_assert_int_eq(ev.ext_hours, 24);
    ck_assert_str_eq(ev.approved_by, "");

    const char *msg = "{" COMMON("extended") ",\"stage\":\"first_reply\",\"hours\":720,\"approved_by\":\"staff-0042\"}";
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.ext_stage, EXT_FIRST_REPLY);
    ck_assert_int_eq(ev.ext_hours, 720);
    ck_assert_str_eq(ev.approved_by, "staff-0042");
    ck_assert_str_eq(evt_ext_stage_name(EXT_FIRST_REPLY), "first_reply");
    ck_assert_str_eq(evt_ext_stage_name(EXT_RESOLVE), "resolve");
}
END_TEST

static const struct {
    const char *value;
    int64_t want;
} times[] = {
    {"\"2026-11-23T09:15:00+08:00\"", T0},
    {"\"2026-11-23T01:15:00Z\"", T0},
    {"\"2026-11-23t01:15:00z\"", T0},
    {"\"2026-11-23T01:15:00.5Z\"", T0},
    {"\"2026-11-23T09:15:00.999999999+08:00\"", T0},
    {"\"2026-11-22T20:15:00-05:00\"", T0},
    {"\"2026-11-24T16:00:00+08:00\"", 1795507200},
    {"\"1969-12-31T23:59:59.5Z\"", -1},
};

START_TEST(test_times)
{
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    ScanEvent sev;
    char *msg = with_field(CONTACTED, "occurred_at", times[_i].value);
    ck_assert_msg(decode(msg, &ev, detail) == EVT_OK, "%s: %s", times[_i].value, detail);
    ck_assert_int_eq(ev.occurred_at, times[_i].want);
    bool frac = strchr(times[_i].value, '.') != NULL; /* every fraction here is not zero */
    ck_assert_int_eq(ev.occurred_ns != 0, frac);
    free(msg);
    msg = with_field(SCAN, "occurred_at", times[_i].value);
    ck_assert_int_eq(decode_scan(msg, &sev, detail), EVT_OK);
    ck_assert_int_eq(sev.occurred_at, times[_i].want);
    ck_assert_int_eq(sev.occurred_ns != 0, frac);
    free(msg);
}
END_TEST

START_TEST(test_every_scan_type)
{
    char detail[EVT_DETAIL_MAX];
    ScanEvent ev;
    const char *name = evt_scan_type_name((ScanType)_i);
    ck_assert_ptr_nonnull(name);
    ck_assert_int_eq(evt_scan_type_from_name(name), _i);
    char value[64];
    snprintf(value, sizeof(value), "\"%s\"", name);
    /* DEPART carries next_site, so every type is valid with it. */
    char *msg = with_field(DEPART, "scan_type", value);
    ck_assert_msg(decode_scan(msg, &ev, detail) == EVT_OK, "%s: %s", name, detail);
    ck_assert_int_eq(ev.scan_type, _i);
    ck_assert_str_eq(ev.next_site, "DLV-07");
    free(msg);
    /* Only depart needs next_site. */
    msg = with_field(SCAN, "scan_type", value);
    EvtStatus st = decode_scan(msg, &ev, detail);
    if (_i == SCAN_DEPART) {
        ck_assert_int_eq(st, EVT_MISSING_FIELD);
        ck_assert_str_eq(detail, "next_site");
    } else {
        ck_assert_int_eq(st, EVT_OK);
        ck_assert_str_eq(ev.next_site, "");
    }
    free(msg);
}
END_TEST

START_TEST(test_scan_full)
{
    char detail[EVT_DETAIL_MAX];
    ScanEvent ev;
    ck_assert_int_eq(decode_scan(SCAN, &ev, detail), EVT_OK);
    ck_assert_str_eq(detail, "");
    ck_assert_str_eq(ev.event_id, "s-1");
    ck_assert_str_eq(ev.waybill, "SF123");
    ck_assert_int_eq(ev.scan_type, SCAN_ARRIVE);
    ck_assert_str_eq(ev.site, "HUB-SH");
    ck_assert_int_eq(ev.site_role, ROLE_HUB);
    ck_assert_str_eq(ev.next_site, "");
    ck_assert_int_eq(ev.next_site_role, ROLE_NONE);
    ck_assert_int_eq(ev.occurred_at, T0);

    char *msg = with_field(DEPART, "next_site_role", "\"delivery\"");
    ck_assert_int_eq(decode_scan(msg, &ev, detail), EVT_OK);
    ck_assert_int_eq(ev.scan_type, SCAN_DEPART);
    ck_assert_str_eq(ev.next_site, "DLV-07");
    ck_assert_int_eq(ev.next_site_role, ROLE_DELIVERY);
    free(msg);

    /* A scan is not a complaint, and the other way round. */
    ComplaintEvent cev;
    ck_assert_int_eq(decode(SCAN, &cev, detail), EVT_UNKNOWN_SCHEMA);
    ck_assert_int_eq(decode_scan(RECEIVED, &ev, detail), EVT_UNKNOWN_SCHEMA);
}
END_TEST

/* ---- the fast path for scans --------------------------------------------- */

#define S_HEAD "{\"schema\":\"scan.v1\",\"event_id\":\"s-1\",\"waybill\":\"SF123\","
#define S_ARRIVE S_HEAD "\"scan_type\":\"arrive\",\"site\":\"HUB-SH\",\"site_role\":\"hub\","
#define S_TIME "\"occurred_at\":\"2026-11-23T09:00:00+08:00\"}"

/* What the fast path must take itself (fast = 1), and what it must leave to
 * the tree (fast = 0), valid or not. */
static const struct {
    const char *msg;
    int fast;
} fast_cases[] = {
    {S_ARRIVE S_TIME, 1},
    {" \n\t{ \"schema\" : \"scan.v1\" , \"event_id\":\"s-1\",\"waybill\":\"SF123\",\"scan_type\":\"arrive\","
     "\"site\":\"HUB-SH\",\"site_role\":\"hub\",\"occurred_at\":\"2026-11-23T01:00:00Z\" }\r\n",
     1},
    {S_HEAD "\"scan_type\":\"depart\",\"site\":\"HUB-SH\",\"site_role\":\"hub\",\"next_site\":\"DLV-07\","
            "\"next_site_role\":\"delivery\"," S_TIME,
     1},
    {S_ARRIVE "\"note\":\"an unknown field\",\"\":\"\"," S_TIME, 1},
    {S_ARRIVE "\"next_site\":\"HUB-BJ\"," S_TIME, 1},
    /* valid, but not plain: escapes, UTF-8, other types, null */
    {S_ARRIVE "\"note\":\"a \\\"quote\\\"\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"arrive\",\"site\":\"\xe4\xb8\x8a\xe6\xb5\xb7\",\"site_role\":\"hub\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"arrive\",\"site\":\"HUB\\u002dSH\",\"site_role\":\"hub\"," S_TIME, 0},
    {S_ARRIVE "\"weight\":1.5," S_TIME, 0},
    {S_ARRIVE "\"tags\":[\"a\"],\"x\":{}," S_TIME, 0},
    {S_ARRIVE "\"next_site\":null," S_TIME, 0},
    /* 18 keys: more than the fast path reads */
    {S_ARRIVE "\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\",\"f\":\"1\","
              "\"g\":\"1\",\"h\":\"1\",\"i\":\"1\",\"j\":\"1\",\"k\":\"1\"," S_TIME,
     0},
    /* not valid */
    {S_ARRIVE "\"site\":\"HUB-SH\"," S_TIME, 0},
    {S_ARRIVE S_TIME " x", 0},
    {S_ARRIVE S_TIME "{}", 0},
    {S_ARRIVE "\"occurred_at\":\"2026-11-23T09:00:00\"}", 0},
    {S_ARRIVE "\"occurred_at\":\"2026-11-23T09:00:00+08:00\",}", 0},
    {S_ARRIVE "\"occurred_at\":\"2026-11-23T09:00:00+08:00\"", 0},
    {S_ARRIVE "\"occurred_at\" \"2026-11-23T09:00:00+08:00\"}", 0},
    {S_ARRIVE "\"occurred_at\":\"2026-11-23T09:00:00+08:00}", 0},
    {S_HEAD "\"scan_type\":\"arrive\",\"site\":\"HUB-SH\",\"site_role\":\"depot\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"arrived\",\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"depart\",\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"arrive\",\"site\":\"\",\"site_role\":\"hub\"," S_TIME, 0},
    {S_HEAD "\"scan_type\":\"arrive\",\"site\":\"HUB-SH\",\"site_role\":\"hub\",\"next_site_role\":\"x\"," S_TIME, 0},
    {"{\"schema\":\"scan.v2\",\"event_id\":\"s-1\",\"waybill\":\"SF123\",\"scan_type\":\"arrive\","
     "\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 0},
    {"{\"schema\":\"scan.v1\",\"event_id\":\"s-1\",\"waybill\":\"SF 123\",\"scan_type\":\"arrive\","
     "\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 1},
    {"{\"schema\":\"scan.v1\",\"event_id\":\"s-1\",\"waybill\":\"SF\\u0001\",\"scan_type\":\"arrive\","
     "\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 0},
    {"{\"schema\":\"scan.v1\",\"waybill\":\"SF123\",\"scan_type\":\"arrive\","
     "\"site\":\"HUB-SH\",\"site_role\":\"hub\"," S_TIME, 0},
    {"{}", 0},
    {"[]", 0},
    {"", 0},
    {"{\"schema\":\"scan.v1\"", 0},
};

/* Every case decodes to the same status, detail and event through
 * evt_decode_scan as through the tree alone, and the fast path takes
 * exactly the cases marked fast, with the tree's event. */
START_TEST(test_scan_fast_path)
{
    const char *msg = fast_cases[_i].msg;
    size_t len = strlen(msg);
    ScanEvent a, b, f;
    char da[EVT_DETAIL_MAX], db[EVT_DETAIL_MAX];
    memset(&a, 0x5a, sizeof a);
    memset(&b, 0xa5, sizeof b);
    EvtStatus sa = evt_decode_scan(msg, len, MAX_BYTES, &a, da, sizeof da);
    EvtStatus sb = evt_decode_scan_tree(msg, len, MAX_BYTES, &b, db, sizeof db);
    ck_assert_msg(sa == sb, "case %d: %s, tree %s", _i, evt_status_name(sa), evt_status_name(sb));
    ck_assert_str_eq(da, db);
    if (sa == EVT_OK)
        ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "case %d: another event than the tree's", _i);
    bool fast = evt_decode_scan_fast(msg, len, &f);
    ck_assert_msg(fast == (fast_cases[_i].fast != 0), "case %d: the fast path %s it", _i, fast ? "took" : "left");
    if (fast) {
        ck_assert_int_eq(sb, EVT_OK);
        ck_assert_msg(memcmp(&f, &b, sizeof f) == 0, "case %d: the fast path's event differs", _i);
    }
    /* over the size limit, the fast path is not tried */
    ck_assert_int_eq(evt_decode_scan(msg, len, len ? len - 1 : 0, &a, da, sizeof da),
                     len ? EVT_TOO_LARGE : EVT_MALFORMED_JSON);
}
END_TEST

/* ---- personal data and detail buffers ------------------------------------ */

#define SECRET "PII-4f9a2c"

START_TEST(test_customer_ref_never_in_detail)
{
    static const char *const msgs[] = {
        /* a bad customer_ref */
        "{" COMMON("received") ",\"channel\":\"app\",\"category\":\"fee\",\"customer_ref\":\"" SECRET "\\u0001\"}",
        "{" COMMON("received") ",\"channel\":\"app\",\"category\":\"fee\",\"customer_ref\":\"" SECRET X128 "\"}",
        /* another field failing beside a good one */
        "{" COMMON("received") ",\"channel\":\"app\",\"category\":\"fee\",\"claim\":1,\"customer_ref\":\"" SECRET "\"}",
        "{" COMMON("received") ",\"customer_ref\":\"" SECRET "\"}",
        /* syntax errors right next to it: Jansson quotes nearby bytes in its own messages */
        "{\"schema\":\"complaint.v1\",\"customer_ref\":\"" SECRET "\" \"x\"}",
        "{\"schema\":\"complaint.v1\",\"customer_ref\":\"" SECRET "",
        "{\"schema\":\"complaint.v1\",\"customer_ref\":\"" SECRET "\xff\"}",
        "{\"schema\":\"complaint.v1\",\"customer_ref\":" SECRET "}",
        "{\"customer_ref\":\"" SECRET "\",\"customer_ref\":\"" SECRET "\"}",
    };
    char detail[EVT_DETAIL_MAX];
    ComplaintEvent ev;
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        EvtStatus st = decode(msgs[i], &ev, detail);
        ck_assert_msg(st != EVT_OK, "case %zu decoded", i);
        ck_assert_msg(strstr(detail, SECRET) == NULL && strstr(detail, "PII") == NULL, "case %zu: %s", i, detail);
    }
}
END_TEST

START_TEST(test_detail_buffers)
{
    ComplaintEvent ev;
    char small[8];
    memset(small, 'z', sizeof(small));
    char *msg = with_field(RECEIVED, "ticket_id", "\"bad id\"");
    ck_assert_int_eq(evt_decode_complaint(msg, strlen(msg), MAX_BYTES, &ev, small, sizeof(small)), EVT_INVALID_FIELD);
    ck_assert_str_eq(small, "ticket_");
    ck_assert_int_eq(evt_decode_complaint(msg, strlen(msg), MAX_BYTES, &ev, NULL, 0), EVT_INVALID_FIELD);
    ck_assert_int_eq(evt_decode_complaint(RECEIVED, strlen(RECEIVED), MAX_BYTES, &ev, NULL, 0), EVT_OK);
    ck_assert_int_eq(evt_decode_complaint(NULL, 0, MAX_BYTES, &ev, small, sizeof(small)), EVT_MALFORMED_JSON);
    free(msg);

    /* A longest detail fits an EVT_DETAIL_MAX buffer whole. */
    char detail[EVT_DETAIL_MAX];
    msg = with_field(RECEIVED, "channel", "\"fax\"");
    ck_assert_int_eq(decode(msg, &ev, detail), EVT_INVALID_FIELD);
    ck_assert_uint_lt(strlen(detail), EVT_DETAIL_MAX - 1);
    ck_assert_ptr_nonnull(strstr(detail, "supervisor_hotline"));
    free(msg);

    /* A message that is not NUL-terminated is read only up to len. */
    size_t n = strlen(CONTACTED);
    char *copy = malloc(n);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, CONTACTED, n);
    ck_assert_int_eq(evt_decode_complaint(copy, n, MAX_BYTES, &ev, detail, sizeof(detail)), EVT_OK);
    free(copy);
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST(test_names)
{
    ck_assert_str_eq(evt_status_name(EVT_OK), "ok");
    ck_assert_str_eq(evt_status_name(EVT_MALFORMED_JSON), "malformed_json");
    ck_assert_str_eq(evt_status_name(EVT_UNKNOWN_SCHEMA), "unknown_schema");
    ck_assert_str_eq(evt_status_name(EVT_MISSING_FIELD), "missing_field");
    ck_assert_str_eq(evt_status_name(EVT_INVALID_FIELD), "invalid_field");
    ck_assert_str_eq(evt_status_name(EVT_TOO_LARGE), "too_large");

    ck_assert_str_eq(evt_type_name(CT_FIRST_REPLY), "first_reply");
    ck_assert_str_eq(evt_type_name(CT_EXTENDED), "extended");
    ck_assert_str_eq(evt_channel_name(CH_WALK_IN), "walk_in");
    ck_assert_str_eq(evt_channel_name(CH_CONSUMER_ASSOCIATION), "consumer_association");
    ck_assert_str_eq(evt_category_name(CAT_OUT_OF_AREA), "out_of_area");
    ck_assert_str_eq(evt_scan_type_name(SCAN_RETURN), "return");
    ck_assert_str_eq(evt_role_name(ROLE_ORIGIN), "origin");
    ck_assert_str_eq(evt_role_name(ROLE_DELIVERY), "delivery");
    ck_assert_ptr_null(evt_role_name(ROLE_NONE));
    ck_assert_ptr_null(evt_type_name(CT__COUNT));
    ck_assert_ptr_null(evt_channel_name(CH__COUNT));
    ck_assert_ptr_null(evt_category_name(CAT__COUNT));
    ck_assert_ptr_null(evt_scan_type_name(SCAN__COUNT));

    for (int i = 0; i < CT__COUNT; i++)
        ck_assert_int_eq(evt_type_from_name(evt_type_name((ComplaintType)i)), i);
    for (int i = 0; i < CH__COUNT; i++)
        ck_assert_int_eq(evt_channel_from_name(evt_channel_name((Channel)i)), i);
    for (int i = 0; i < CAT__COUNT; i++)
        ck_assert_int_eq(evt_category_from_name(evt_category_name((Category)i)), i);
    for (int i = 0; i < ROLE__COUNT; i++)
        ck_assert_int_eq(evt_role_from_name(evt_role_name((SiteRole)i)), i);
    ck_assert_int_eq(evt_category_from_name("Delay"), -1);
    ck_assert_int_eq(evt_category_from_name(""), -1);
    ck_assert_int_eq(evt_category_from_name(NULL), -1);
    ck_assert_int_eq(evt_channel_from_name("fax"), -1);
    ck_assert_int_eq(evt_type_from_name("open"), -1);
    ck_assert_int_eq(evt_scan_type_from_name("lost"), -1);
    ck_assert_int_eq(evt_role_from_name("depot"), ROLE_NONE);
}
END_TEST

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_evt(void)
{
    Suite *s = suite_create("evt");
    TCase *tc;

    tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_complaint_fields, 0, NCASES(complaint_cases));
    tcase_add_loop_test(tc, test_scan_fields, 0, NCASES(scan_cases));
    tcase_add_loop_test(tc, test_malformed, 0, NCASES(malformed_cases));
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_check_order);
    tcase_add_test(tc, test_unknown_schema_detail);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_test(tc, test_received_full);
    tcase_add_test(tc, test_received_minimal);
    tcase_add_loop_test(tc, test_every_channel, 0, CH__COUNT);
    tcase_add_loop_test(tc, test_every_category, 0, CAT__COUNT);
    tcase_add_loop_test(tc, test_every_type, 0, NCASES(every_type));
    tcase_add_test(tc, test_revisit);
    tcase_add_test(tc, test_updated);
    tcase_add_test(tc, test_second_wave_fields);
    tcase_add_test(tc, test_extended);
    tcase_add_loop_test(tc, test_times, 0, NCASES(times));
    tcase_add_loop_test(tc, test_every_scan_type, 0, SCAN__COUNT);
    tcase_add_test(tc, test_scan_full);
    tcase_add_loop_test(tc, test_scan_fast_path, 0, NCASES(fast_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("safety");
    tcase_add_test(tc, test_customer_ref_never_in_detail);
    tcase_add_test(tc, test_detail_buffers);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    return s;
}
