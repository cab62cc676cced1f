/* Unit tests for lib/effects: what a desk call hands back. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "effects.h"
#include "testutil.h"

START_TEST(test_size_counts_every_kind)
{
    Effects e;
    eff_init(&e);
    ck_assert(eff_empty(&e));
    ComplaintEvent ev;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.event_id, "e1");
    strcpy(ev.ticket_id, "T1");
    Ticket t;
    memset(&t, 0, sizeof t);
    ScanEvent sc;
    memset(&sc, 0, sizeof sc);
    ck_assert_int_eq(eff_ticket(&e, &t, true), 0);
    ck_assert(e.ticket_full[0]);
    ck_assert_int_eq(eff_event(&e, &ev, true, "complaints.events", 1, 7), 0);
    ck_assert_int_eq(eff_held(&e, &ev, 100, "complaints.events", 1, 8, "{\"a\":1}", 7), 0);
    ck_assert_int_eq(eff_released(&e, "T-1", "e0"), 0);
    ck_assert_int_eq(eff_dead_letter(&e, "malformed_json", "at 1", "complaints.events", 2, 9, "k", 1, "{x", 2), 0);
    ck_assert_int_eq(eff_scan(&e, &sc, "parcels.scans", 0, 3), 0);
    Alert a;
    alert_init(&a, AL_SLA_BREACH, AS_FIRING);
    ck_assert_ptr_nonnull(alert_list_push(&e.alerts, &a));
    e.n_duplicates = 2;
    ck_assert_uint_eq(eff_size(&e), 9);
    /* copies, not references */
    ck_assert_str_eq(e.held[0].payload, "{\"a\":1}");
    ck_assert_str_eq(e.released[0].ticket_id, "T-1");
    ck_assert_str_eq(e.released[0].event_id, "e0");
    ck_assert_str_eq(e.events[0].src.topic, "complaints.events");
    ck_assert_int_eq(e.events[0].src.offset, 7);
    ck_assert_ptr_nonnull(strstr(e.dead[0].record, "\"reason\":\"malformed_json\""));
    ck_assert_ptr_nonnull(strstr(e.dead[0].record, "\"payload\":\"{x\""));
    ck_assert_str_eq(e.dead[0].key, "k");
    e.gen = 5;
    eff_reset(&e);
    ck_assert(eff_empty(&e));
    ck_assert_uint_eq(e.gen, 0);
    /* reusable after a reset */
    ck_assert_int_eq(eff_dead_letter(&e, "too_large", NULL, "t", 0, 1, NULL, 0, "", 0), 0);
    ck_assert_ptr_null(e.dead[0].key);
    ck_assert_str_eq(e.dead[0].detail, "");
    ck_assert_uint_eq(eff_size(&e), 1);
    /* a key that is not UTF-8 is kept as its text (the table's column) */
    ck_assert_int_eq(eff_dead_letter(&e, "malformed_json", "x", "t", 0, 2, "\xffk\0", 3, "", 0), 0);
    ck_assert_str_eq(e.dead[1].key, "\\xff6b00");
    eff_free(&e);
}
END_TEST

START_TEST(test_many_grow)
{
    Effects e;
    eff_init(&e);
    for (int i = 0; i < 1000; i++)
        REQUIRE(eff_released(&e, "T-1", "some-event-id") == 0);
    ck_assert_uint_eq(e.n_released, 1000);
    eff_free(&e);
}
END_TEST

Suite *suite_effects(void)
{
    Suite *s = suite_create("effects");
    TCase *tc = tcase_create("effects");
    tcase_add_test(tc, test_size_counts_every_kind);
    tcase_add_test(tc, test_many_grow);
    suite_add_tcase(s, tc);
    return s;
}
