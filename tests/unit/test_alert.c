/* Unit tests for lib/alert: alert.v1 ids and encoding (contract §9). */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "evt.h"
#include "timeutil.h"
#include "testutil.h"

/* 2026-11-23T09:00:00+08:00 */
#define MON0900 1795395600LL

static json_t *encode(const Alert *a, int off)
{
    char *s = alert_encode(a, off);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(strncmp(s, "{\"schema\":\"alert.v1\",", 21) == 0, "schema comes first: %.40s", s);
    /* the direct writer and the Jansson tree give the same text */
    json_t *tree = alert_to_json(a, off);
    char *ref = json_dumps(tree, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_eq(s, ref);
    free(ref);
    json_decref(tree);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    ck_assert_msg(j != NULL, "bad JSON: %s", err.text);
    free(s);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "field %s is not a string", k);
    return json_string_value(v);
}

static void set_ticket_ids(Alert *a, int n)
{
    a->ticket_ids = calloc((size_t)n, sizeof *a->ticket_ids);
    ck_assert_ptr_nonnull(a->ticket_ids);
    for (int i = 0; i < n; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "B-%02d", i);
        a->ticket_ids[i] = strdup(buf);
        ck_assert_ptr_nonnull(a->ticket_ids[i]);
    }
    a->n_ticket_ids = n;
}

/* ---- ids ---------------------------------------------------------------- */

START_TEST(test_ids)
{
    Alert a;

    alert_init(&a, AL_SLA_WARNING, AS_FIRING);
    snprintf(a.ticket_id, sizeof a.ticket_id, "T-1");
    a.round = 2;
    a.stage = 1;
    alert_make_id(&a);
    ck_assert_str_eq(a.alert_id, "sla_warning/T-1/2/first_reply");

    alert_init(&a, AL_SLA_BREACH, AS_RETRACTED);
    snprintf(a.ticket_id, sizeof a.ticket_id, "T.2:x");
    a.round = 1;
    static const char *const stages[] = {"contact", "first_reply", "resolve", "revisit"};
    for (int s = 0; s < 4; s++) {
        a.stage = s;
        alert_make_id(&a);
        char want[ALERT_ID_MAX + 1];
        snprintf(want, sizeof want, "sla_breach/T.2:x/1/%s", stages[s]);
        ck_assert_str_eq(a.alert_id, want);
    }

    alert_init(&a, AL_BULK_COMPLAINT, AS_FIRING);
    a.category = CAT_DAMAGE;
    snprintf(a.site, sizeof a.site, "SH-01");
    a.window_start = MON0900;
    alert_make_id(&a);
    ck_assert_str_eq(a.alert_id, "bulk_complaint/damage/SH-01/1795395600");

    alert_init(&a, AL_REPEAT_COMPLAINT, AS_RESOLVED);
    snprintf(a.ticket_id, sizeof a.ticket_id, "T-9");
    snprintf(a.previous_ticket_id, sizeof a.previous_ticket_id, "T-3");
    alert_make_id(&a);
    ck_assert_str_eq(a.alert_id, "repeat_complaint/T-9");

    alert_init(&a, AL_PARCEL_STALLED, AS_FIRING);
    snprintf(a.waybill, sizeof a.waybill, "YT-0042");
    a.last_scan_at = MON0900 - 3600;
    alert_make_id(&a);
    ck_assert_str_eq(a.alert_id, "parcel_stalled/YT-0042/1795392000");

    alert_init(&a, AL_TICKET_ESCALATED, AS_FIRING);
    snprintf(a.ticket_id, sizeof a.ticket_id, "T-1");
    a.round = 3;
    alert_make_id(&a);
    ck_assert_str_eq(a.alert_id, "ticket_escalated/T-1/3");

    /* Same condition, same id: the status is not part of it. */
    Alert b;
    alert_init(&b, AL_TICKET_ESCALATED, AS_RESOLVED);
    snprintf(b.ticket_id, sizeof b.ticket_id, "T-1");
    b.round = 3;
    b.emitted_at = 12345;
    alert_make_id(&b);
    ck_assert_str_eq(a.alert_id, b.alert_id);
}
END_TEST

/* The longest parts still make a whole id. */
START_TEST(test_id_fits)
{
    Alert a;
    alert_init(&a, AL_SLA_BREACH, AS_FIRING);
    memset(a.ticket_id, 'x', EVT_TICKET_MAX);
    a.ticket_id[EVT_TICKET_MAX] = '\0';
    a.round = 2147483647;
    a.stage = 1;
    alert_make_id(&a);
    ck_assert_uint_eq(strlen(a.alert_id), strlen("sla_breach///first_reply") + EVT_TICKET_MAX + 10);

    alert_init(&a, AL_BULK_COMPLAINT, AS_FIRING);
    a.category = CAT_FALSE_SIGNATURE;
    memset(a.site, 's', EVT_SITE_MAX);
    a.site[EVT_SITE_MAX] = '\0';
    a.window_start = -1; /* signed */
    alert_make_id(&a);
    ck_assert_uint_eq(strlen(a.alert_id), strlen("bulk_complaint/false_signature//-1") + EVT_SITE_MAX);
}
END_TEST

START_TEST(test_names)
{
    static const char *const types[] = {"sla_warning",      "sla_breach",     "bulk_complaint",
                                        "repeat_complaint", "parcel_stalled", "ticket_escalated",
                                        "pause_overdue", "progress_due", "response_due",
                                        "category_review", "site_accountability"};
    for (int i = 0; i < AL__COUNT; i++)
        ck_assert_str_eq(alert_type_name((AlertType)i), types[i]);
    ck_assert_str_eq(alert_type_name(AL__COUNT), "unknown");
    ck_assert_str_eq(alert_status_name(AS_FIRING), "firing");
    ck_assert_str_eq(alert_status_name(AS_RESOLVED), "resolved");
    ck_assert_str_eq(alert_status_name(AS_RETRACTED), "retracted");
    ck_assert_str_eq(alert_reason_name(RSN_MAJOR), "major");
    ck_assert_str_eq(alert_reason_name(RSN_CHANNEL), "channel");
    ck_assert_str_eq(alert_reason_name(RSN_REPEAT), "repeat");
    ck_assert_str_eq(alert_reason_name(RSN_BULK), "bulk");
    ck_assert_str_eq(alert_reason_name(RSN_REOPENED), "reopened");
    ck_assert_str_eq(alert_reason_name(RSN_MAJOR | RSN_BULK), "unknown");
    ck_assert_str_eq(alert_reason_name(0), "unknown");
}
END_TEST

/* ---- encoding ----------------------------------------------------------- */

/* Only the fields every alert has: optional ones are absent, not null. */
START_TEST(test_minimal_encoding)
{
    Alert a;
    alert_init(&a, AL_TICKET_ESCALATED, AS_FIRING);
    snprintf(a.alert_id, sizeof a.alert_id, "x");
    a.condition_at = MON0900;
    a.emitted_at = MON0900 + 5;
    json_t *j = encode(&a, 480);
    ck_assert_uint_eq(json_object_size(j), 6);
    ck_assert_str_eq(jstr(j, "schema"), "alert.v1");
    ck_assert_str_eq(jstr(j, "alert_id"), "x");
    ck_assert_str_eq(jstr(j, "type"), "ticket_escalated");
    ck_assert_str_eq(jstr(j, "status"), "firing");
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-23T09:00:00+08:00");
    ck_assert_str_eq(jstr(j, "emitted_at"), "2026-11-23T09:00:05+08:00");
    static const char *const absent[] = {
        "ticket_id",          "round",           "stage",        "priority",   "reasons",
        "deadline",           "category",        "site",         "waybill",    "region",
        "responsible",        "count",           "window_start", "window_end", "ticket_ids",
        "previous_ticket_id", "late_by_seconds", "resolved_at",  "last_scan",
    };
    for (int i = 0; i < NELEM(absent); i++)
        ck_assert_msg(json_object_get(j, absent[i]) == NULL, "%s should be absent", absent[i]);
    json_decref(j);

    /* at UTC the offset is written Z */
    j = encode(&a, 0);
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-23T01:00:00Z");
    json_decref(j);
}
END_TEST

START_TEST(test_full_encoding)
{
    Alert a;
    alert_init(&a, AL_SLA_BREACH, AS_RESOLVED);
    snprintf(a.ticket_id, sizeof a.ticket_id, "T-1");
    a.round = 2;
    a.stage = 2;
    a.priority = 1;
    a.reasons = RSN_REOPENED | RSN_BULK | RSN_MAJOR | RSN_REPEAT | RSN_CHANNEL;
    a.deadline = MON0900 + 86400;
    a.category = CAT_LOSS;
    snprintf(a.site, sizeof a.site, "SZ-1");
    snprintf(a.waybill, sizeof a.waybill, "SF123");
    snprintf(a.region, sizeof a.region, "65");
    a.responsible.known = true;
    snprintf(a.responsible.site, sizeof a.responsible.site, "HUB-2");
    a.responsible.role = ROLE_DELIVERY;
    snprintf(a.responsible.rule, sizeof a.responsible.rule, "delivery_arrive_no_deliver_scan");
    a.has_late_by = true;
    a.late_by_seconds = 5400;
    a.condition_at = a.deadline;
    a.resolved_at = a.deadline + 5400;
    a.emitted_at = a.deadline + 6000;
    alert_make_id(&a);
    json_t *j = encode(&a, 480);
    ck_assert_str_eq(jstr(j, "alert_id"), "sla_breach/T-1/2/resolve");
    ck_assert_str_eq(jstr(j, "status"), "resolved");
    ck_assert_str_eq(jstr(j, "ticket_id"), "T-1");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "round")), 2);
    ck_assert_str_eq(jstr(j, "stage"), "resolve");
    ck_assert_str_eq(jstr(j, "priority"), "urgent");
    const json_t *r = json_object_get(j, "reasons");
    static const char *const order[] = {"major", "channel", "repeat", "bulk", "reopened"};
    ck_assert_uint_eq(json_array_size(r), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(json_string_value(json_array_get(r, i)), order[i]);
    ck_assert_str_eq(jstr(j, "deadline"), "2026-11-24T09:00:00+08:00");
    ck_assert_str_eq(jstr(j, "category"), "loss");
    ck_assert_str_eq(jstr(j, "site"), "SZ-1");
    ck_assert_str_eq(jstr(j, "waybill"), "SF123");
    ck_assert_str_eq(jstr(j, "region"), "65");
    const json_t *resp = json_object_get(j, "responsible");
    ck_assert_uint_eq(json_object_size(resp), 3);
    ck_assert_str_eq(jstr(resp, "site"), "HUB-2");
    ck_assert_str_eq(jstr(resp, "role"), "delivery");
    ck_assert_str_eq(jstr(resp, "rule"), "delivery_arrive_no_deliver_scan");
    ck_assert(json_is_integer(json_object_get(j, "late_by_seconds")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "late_by_seconds")), 5400);
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-24T09:00:00+08:00");
    ck_assert_str_eq(jstr(j, "resolved_at"), "2026-11-24T10:30:00+08:00");
    ck_assert_str_eq(jstr(j, "emitted_at"), "2026-11-24T10:40:00+08:00");
    ck_assert_ptr_null(json_object_get(j, "ticket_ids"));
    json_decref(j);

    /* a normal ticket: "normal" with an empty reasons array (not absent) */
    a.priority = 0;
    a.reasons = 0;
    a.has_late_by = false;
    j = encode(&a, 480);
    ck_assert_str_eq(jstr(j, "priority"), "normal");
    ck_assert(json_is_array(json_object_get(j, "reasons")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "reasons")), 0);
    ck_assert_ptr_null(json_object_get(j, "late_by_seconds"));
    json_decref(j);

    /* a zero late_by is still written when present */
    a.has_late_by = true;
    a.late_by_seconds = 0;
    j = encode(&a, 480);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "late_by_seconds")), 0);
    json_decref(j);
}
END_TEST

/* Responsible with an unknown site and role: both null, the rule still given. */
START_TEST(test_responsible_nulls)
{
    Alert a;
    alert_init(&a, AL_PARCEL_STALLED, AS_FIRING);
    snprintf(a.waybill, sizeof a.waybill, "WB1");
    a.responsible.known = true;
    snprintf(a.responsible.rule, sizeof a.responsible.rule, "no_scan");
    a.last_scan_at = MON0900;
    alert_make_id(&a);
    json_t *j = encode(&a, 480);
    const json_t *resp = json_object_get(j, "responsible");
    ck_assert(json_is_object(resp));
    ck_assert(json_is_null(json_object_get(resp, "site")));
    ck_assert(json_is_null(json_object_get(resp, "role")));
    ck_assert_str_eq(jstr(resp, "rule"), "no_scan");
    json_decref(j);

    /* hub_depart_no_arrive without next_site_role: a site, a null role */
    snprintf(a.responsible.site, sizeof a.responsible.site, "N-9");
    snprintf(a.responsible.rule, sizeof a.responsible.rule, "hub_depart_no_arrive");
    j = encode(&a, 480);
    resp = json_object_get(j, "responsible");
    ck_assert_str_eq(jstr(resp, "site"), "N-9");
    ck_assert(json_is_null(json_object_get(resp, "role")));
    json_decref(j);

    /* every role by name */
    static const char *const roles[] = {"origin", "hub", "delivery"};
    for (int r = 0; r < 3; r++) {
        a.responsible.role = r;
        j = encode(&a, 480);
        ck_assert_str_eq(jstr(json_object_get(j, "responsible"), "role"), roles[r]);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_parcel_stalled_encoding)
{
    Alert a;
    alert_init(&a, AL_PARCEL_STALLED, AS_FIRING);
    snprintf(a.waybill, sizeof a.waybill, "YT9");
    a.last_scan_type = SCAN_ARRIVE;
    a.last_scan_at = MON0900;
    snprintf(a.last_scan_site, sizeof a.last_scan_site, "HUB-1");
    a.condition_at = MON0900 + 168 * 3600;
    alert_make_id(&a);
    json_t *j = encode(&a, 480);
    ck_assert_str_eq(jstr(j, "alert_id"), "parcel_stalled/YT9/1795395600");
    ck_assert_str_eq(jstr(j, "waybill"), "YT9");
    ck_assert_str_eq(jstr(j, "condition_at"), "2026-11-30T09:00:00+08:00");
    const json_t *ls = json_object_get(j, "last_scan");
    ck_assert_str_eq(jstr(ls, "scan_type"), "arrive");
    ck_assert_str_eq(jstr(ls, "site"), "HUB-1");
    ck_assert_str_eq(jstr(ls, "occurred_at"), "2026-11-23T09:00:00+08:00");
    ck_assert_ptr_null(json_object_get(j, "ticket_id"));
    ck_assert_ptr_null(json_object_get(j, "priority"));
    json_decref(j);
}
END_TEST

START_TEST(test_bulk_encoding)
{
    Alert a;
    alert_init(&a, AL_BULK_COMPLAINT, AS_FIRING);
    a.category = CAT_DELAY;
    snprintf(a.site, sizeof a.site, "GZ-7");
    a.count = 12;
    a.window_start = MON0900;
    a.window_end = MON0900 + 3600;
    a.condition_at = MON0900 + 1800;
    set_ticket_ids(&a, 12);
    alert_make_id(&a);
    json_t *j = encode(&a, 480);
    ck_assert_str_eq(jstr(j, "alert_id"), "bulk_complaint/delay/GZ-7/1795395600");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 12);
    ck_assert_str_eq(jstr(j, "window_start"), "2026-11-23T09:00:00+08:00");
    ck_assert_str_eq(jstr(j, "window_end"), "2026-11-23T10:00:00+08:00");
    const json_t *ids = json_object_get(j, "ticket_ids");
    ck_assert_uint_eq(json_array_size(ids), 12);
    for (size_t i = 0; i < 12; i++) {
        char want[16];
        snprintf(want, sizeof want, "B-%02zu", i);
        ck_assert_str_eq(json_string_value(json_array_get(ids, i)), want);
    }
    ck_assert_str_eq(jstr(j, "category"), "delay");
    ck_assert_str_eq(jstr(j, "site"), "GZ-7");
    json_decref(j);

    /* the list takes ownership; reset and free release it (ASan checks) */
    AlertList l = {0};
    ck_assert_ptr_nonnull(alert_list_push(&l, &a));
    ck_assert_ptr_null(a.ticket_ids);
    ck_assert_int_eq(a.n_ticket_ids, 0);
    alert_clear(&a); /* nothing left to free: harmless */
    ck_assert_int_eq(l.v[0].n_ticket_ids, 12);

    /* a bulk alert with no ids still has the array */
    Alert e;
    alert_init(&e, AL_BULK_COMPLAINT, AS_RESOLVED);
    e.category = CAT_DELAY;
    j = encode(&e, 480);
    ck_assert(json_is_array(json_object_get(j, "ticket_ids")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "ticket_ids")), 0);
    json_decref(j);
    alert_list_free(&l);
}
END_TEST

START_TEST(test_alert_list)
{
    AlertList l = {0};
    for (int i = 0; i < 100; i++) {
        Alert a;
        alert_init(&a, AL_BULK_COMPLAINT, AS_FIRING);
        a.count = i;
        if (i % 3 == 0)
            set_ticket_ids(&a, 1 + i % 5);
        Alert *p = alert_list_push(&l, &a);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(p->count, i);
    }
    ck_assert_uint_eq(l.n, 100);
    for (size_t i = 0; i < l.n; i++)
        ck_assert_int_eq(l.v[i].count, (int)i);
    alert_list_reset(&l);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_uint_ge(l.cap, 100);
    Alert a;
    alert_init(&a, AL_SLA_BREACH, AS_FIRING);
    set_ticket_ids(&a, 2);
    ck_assert_ptr_nonnull(alert_list_push(&l, &a));
    alert_list_free(&l);
    ck_assert_ptr_null(l.v);
    ck_assert_uint_eq(l.n, 0);
    alert_list_free(&l); /* twice is harmless */
}
END_TEST

START_TEST(test_init_defaults)
{
    Alert a;
    memset(&a, 0x5a, sizeof a);
    alert_init(&a, AL_SLA_WARNING, AS_RETRACTED);
    ck_assert_int_eq(a.type, AL_SLA_WARNING);
    ck_assert_int_eq(a.status, AS_RETRACTED);
    ck_assert_int_eq(a.stage, -1);
    ck_assert_int_eq(a.priority, -1);
    ck_assert_int_eq(a.category, -1);
    ck_assert_int_eq(a.deadline, TU_NEVER);
    ck_assert_int_eq(a.responsible.role, -1);
    ck_assert(!a.responsible.known);
    ck_assert_int_eq(a.last_scan_type, -1);
    ck_assert_ptr_null(a.ticket_ids);
    ck_assert(!a.has_late_by);
    ck_assert_int_eq(a.resolved_at, 0);
}
END_TEST

Suite *suite_alert(void)
{
    Suite *s = suite_create("alert");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_id_fits);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_minimal_encoding);
    tcase_add_test(tc, test_full_encoding);
    tcase_add_test(tc, test_responsible_nulls);
    tcase_add_test(tc, test_parcel_stalled_encoding);
    tcase_add_test(tc, test_bulk_encoding);
    tcase_add_test(tc, test_alert_list);
    tcase_add_test(tc, test_init_defaults);
    suite_add_tcase(s, tc);
    return s;
}
