/* Tests for repeat: the repeat-complaint indexes (contract §7). The look-back
 * is the policy default, 90 days; a new ticket arrives at T0. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repeat.h"
#include "testutil.h"

#define LOOKBACK (90 * 86400)
/* 2026-11-23T09:15:00+08:00 */
#define T0 1795396500
#define DAY 86400

/* A ticket received at `received`, resolved at `resolved` (0 = never). */
static void set(Ticket *t, TktStr which, const char *value)
{
    ck_assert_int_eq(tkt_set_str(t, which, value), 0);
}

static Ticket *ticket(const char *id, const char *waybill, const char *customer, Category cat, int64_t received,
                      int64_t resolved)
{
    Ticket *t = tkt_blank(id);
    ck_assert_ptr_nonnull(t);
    set(t, TS_WAYBILL, waybill);
    set(t, TS_CUSTOMER_REF, customer);
    t->category = (uint8_t)cat;
    t->received_at = tu32_of(received);
    t->last_resolved_at = tu32_of(resolved);
    return t;
}

static RepeatIndex *index_of(Ticket *const *v, size_t n)
{
    RepeatIndex *x = rpt_new();
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(rpt_add(x, v[i]), 0);
    return x;
}

static void free_all(RepeatIndex *x, Ticket **v, size_t n)
{
    rpt_free(x);
    for (size_t i = 0; i < n; i++)
        tkt_free(v[i]);
}

/* The tickets listed under a waybill, how many, and whether want is among them. */
static size_t listed(const RepeatIndex *x, const char *waybill, const Ticket *want, bool *found)
{
    size_t n = 0, pos = SIZE_MAX;
    if (found)
        *found = false;
    for (const Ticket *t; (t = rpt_next_by_waybill(x, waybill, &pos));) {
        n++;
        if (found && t == want)
            *found = true;
    }
    return n;
}

/* ---- matching ----------------------------------------------------------- */

START_TEST(test_by_waybill)
{
    Ticket *old = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *other = ticket("T-2", "SF200", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 4 * DAY);
    Ticket *v[] = {old, other};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    /* the waybill decides, whatever the customer and category */
    Ticket *t = ticket("T-3", "SF100", "C-1", CAT_DAMAGE, T0, 0);
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), old);
    /* a waybill nobody complained about */
    set(t, TS_WAYBILL, "SF300");
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

START_TEST(test_by_customer_and_category)
{
    Ticket *old = ticket("T-1", "", "C-9", CAT_FEE, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *v[] = {old};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    Ticket *t = ticket("T-2", "", "C-9", CAT_FEE, T0, 0);
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), old);
    /* another category of the same customer */
    t->category = CAT_ATTITUDE;
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    /* another customer */
    t->category = CAT_FEE;
    set(t, TS_CUSTOMER_REF, "C-8");
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    /* neither waybill nor customer: nothing to match on */
    set(t, TS_CUSTOMER_REF, "");
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

/* An earlier ticket is listed by customer + category whether or not it has a
 * waybill: a new ticket without one matches it that way. */
START_TEST(test_earlier_waybill_ticket_matches_by_customer)
{
    Ticket *old = ticket("T-1", "SF100", "C-9", CAT_LOSS, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *v[] = {old};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    Ticket *t = ticket("T-2", "", "C-9", CAT_LOSS, T0, 0);
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), old);
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

/* A new ticket with a waybill is matched by its waybill only, never by its
 * customer + category. */
START_TEST(test_waybill_ticket_never_matches_by_customer)
{
    Ticket *a = ticket("T-1", "SF100", "C-9", CAT_LOSS, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *b = ticket("T-2", "", "C-9", CAT_LOSS, T0 - 10 * DAY, T0 - 4 * DAY);
    Ticket *v[] = {a, b};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    Ticket *t = ticket("T-3", "SF200", "C-9", CAT_LOSS, T0, 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

/* Resolved `ago` seconds before the new ticket was received: matches? */
static const struct {
    int64_t ago;
    bool match;
} window[] = {
    {LOOKBACK + 1, false}, /* one second too long ago */
    {LOOKBACK, true},      /* exactly the look-back ago */
    {LOOKBACK - 1, true},  /* inside */
    {DAY, true},           /* inside */
    {1, true},             /* inside */
    {0, true},             /* resolved the second the new one arrived */
    {-1, false},           /* resolved after the new one was received */
    {-DAY, false},         /* well after */
};

START_TEST(test_lookback_window)
{
    for (int by = 0; by < 2; by++) {
        const char *wb = by == 0 ? "SF100" : "";
        Ticket *old = ticket("T-1", wb, "C-9", CAT_DELAY, T0 - 100 * DAY, T0 - window[_i].ago);
        Ticket *v[] = {old};
        RepeatIndex *x = index_of(v, (size_t)NELEM(v));
        Ticket *t = ticket("T-2", wb, "C-9", CAT_DELAY, T0, 0);
        const Ticket *m = rpt_match(x, t, LOOKBACK);
        if (window[_i].match)
            ck_assert_ptr_eq(m, old);
        else
            ck_assert_ptr_null(m);
        tkt_free(t);
        free_all(x, v, (size_t)NELEM(v));
    }
}
END_TEST

START_TEST(test_unresolved_does_not_match)
{
    Ticket *open = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0 - DAY, 0);
    Ticket *v[] = {open};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    Ticket *t = ticket("T-2", "SF100", "C-9", CAT_DELAY, T0, 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

START_TEST(test_not_itself)
{
    Ticket *t = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0, T0);
    Ticket *u = ticket("T-2", "", "C-9", CAT_DELAY, T0, T0);
    Ticket *v[] = {t, u};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    ck_assert_ptr_eq(rpt_match(x, u, LOOKBACK), t); /* by customer: t, not u itself */
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

START_TEST(test_most_recent_wins)
{
    for (int by = 0; by < 2; by++) {
        const char *wb = by == 0 ? "SF100" : "";
        Ticket *a = ticket("T-1", wb, "C-9", CAT_DELAY, T0 - 60 * DAY, T0 - 30 * DAY);
        Ticket *b = ticket("T-2", wb, "C-9", CAT_DELAY, T0 - 60 * DAY, T0 - 2 * DAY);
        Ticket *c = ticket("T-3", wb, "C-9", CAT_DELAY, T0 - 60 * DAY, T0 - 20 * DAY);
        Ticket *late = ticket("T-4", wb, "C-9", CAT_DELAY, T0 - 60 * DAY, T0 + DAY); /* after T0: not a match */
        Ticket *v[] = {a, b, c, late};
        RepeatIndex *x = index_of(v, (size_t)NELEM(v));
        Ticket *t = ticket("T-5", wb, "C-9", CAT_DELAY, T0, 0);
        ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), b);
        /* a tie: the smaller ticket id, whatever the order they were added in */
        c->last_resolved_at = b->last_resolved_at;
        ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), b);
        a->last_resolved_at = b->last_resolved_at;
        ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), a);
        tkt_free(t);
        free_all(x, v, (size_t)NELEM(v));
    }
}
END_TEST

/* ---- the index ---------------------------------------------------------- */

START_TEST(test_add_is_idempotent)
{
    Ticket *a = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0 - DAY, T0 - DAY);
    Ticket *b = ticket("T-2", "SF100", "", CAT_DELAY, T0 - DAY, 0);
    Ticket *v[] = {a, b};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    ck_assert_int_eq(rpt_add(x, a), 0);
    ck_assert_int_eq(rpt_add(x, b), 0);
    ck_assert_int_eq(rpt_add(x, a), 0);
    bool found;
    ck_assert_uint_eq(listed(x, "SF100", a, &found), 2);
    ck_assert(found);
    ck_assert_uint_eq(listed(x, "SF100", b, &found), 2);
    ck_assert(found);
    ck_assert_uint_eq(listed(x, "SF999", NULL, NULL), 0);
    /* neither key: nothing to list, not an error */
    Ticket *none = ticket("T-3", "", "", CAT_DELAY, T0, 0);
    ck_assert_int_eq(rpt_add(x, none), 0);
    rpt_remove(x, none);
    tkt_free(none);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

/* An `updated` that changes the keys: the caller takes the ticket out before
 * and lists it again after; then only the new keys match. */
START_TEST(test_changed_keys)
{
    Ticket *a = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *v[] = {a};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    rpt_remove(x, a);
    set(a, TS_WAYBILL, "SF200");
    a->category = CAT_LOSS;
    ck_assert_int_eq(rpt_add(x, a), 0);

    ck_assert_uint_eq(listed(x, "SF100", NULL, NULL), 0);
    ck_assert_uint_eq(listed(x, "SF200", NULL, NULL), 1);
    Ticket *t = ticket("T-2", "SF100", "C-9", CAT_DELAY, T0, 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    set(t, TS_WAYBILL, "SF200");
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), a);
    set(t, TS_WAYBILL, "");
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK)); /* C-9 + delay: the old key is gone */
    t->category = CAT_LOSS;
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), a);

    rpt_remove(x, a);
    ck_assert_uint_eq(listed(x, "SF200", NULL, NULL), 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

START_TEST(test_remove)
{
    Ticket *a = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 5 * DAY);
    Ticket *b = ticket("T-2", "SF100", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 3 * DAY);
    Ticket *c = ticket("T-3", "SF100", "C-9", CAT_DELAY, T0 - 10 * DAY, T0 - 4 * DAY);
    Ticket *v[] = {a, b, c};
    RepeatIndex *x = index_of(v, (size_t)NELEM(v));
    Ticket *t = ticket("T-4", "SF100", "C-9", CAT_DELAY, T0, 0);
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), b);

    rpt_remove(x, b);
    bool found;
    ck_assert_uint_eq(listed(x, "SF100", b, &found), 2);
    ck_assert(!found);
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), c);
    set(t, TS_WAYBILL, "");
    ck_assert_ptr_eq(rpt_match(x, t, LOOKBACK), c); /* gone from the customer list too */

    /* removing twice, or a ticket never added, changes nothing */
    rpt_remove(x, b);
    rpt_remove(x, t);
    ck_assert_uint_eq(listed(x, "SF100", NULL, NULL), 2);

    /* a removed ticket can be added again */
    ck_assert_int_eq(rpt_add(x, b), 0);
    ck_assert_uint_eq(listed(x, "SF100", b, &found), 3);
    ck_assert(found);

    rpt_remove(x, a);
    rpt_remove(x, b);
    rpt_remove(x, c);
    ck_assert_uint_eq(listed(x, "SF100", NULL, NULL), 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    free_all(x, v, (size_t)NELEM(v));
}
END_TEST

/* Many tickets under one key and many keys: removal in any order keeps every
 * other ticket findable (the table's backward-shift deletion). */
START_TEST(test_many)
{
    enum { N = 3000 };
    Ticket **v = calloc(N, sizeof *v);
    RepeatIndex *x = rpt_new();
    for (int i = 0; i < N; i++) {
        char id[16], wb[16];
        snprintf(id, sizeof id, "T-%d", i);
        snprintf(wb, sizeof wb, "SF%d", i % 50);
        v[i] = ticket(id, wb, i % 3 ? "C-1" : "", CAT_DELAY, T0, T0 - i);
        REQUIRE(rpt_add(x, v[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        if ((i / 50) % 2 == 0)
            rpt_remove(x, v[i]);
    for (int k = 0; k < 50; k++) {
        char wb[16];
        snprintf(wb, sizeof wb, "SF%d", k);
        REQUIRE(listed(x, wb, NULL, NULL) == N / 50 / 2);
    }
    for (int i = 0; i < N; i++) {
        bool found;
        listed(x, tkt_waybill(v[i]), v[i], &found);
        REQUIRE(found == ((i / 50) % 2 == 1));
    }
    rpt_free(x);
    for (int i = 0; i < N; i++)
        tkt_free(v[i]);
    free(v);
}
END_TEST

START_TEST(test_free_null)
{
    rpt_free(NULL);
    RepeatIndex *x = rpt_new();
    ck_assert_ptr_nonnull(x);
    Ticket *t = ticket("T-1", "SF100", "C-9", CAT_DELAY, T0, 0);
    ck_assert_ptr_null(rpt_match(x, t, LOOKBACK));
    tkt_free(t);
    rpt_free(x);
}
END_TEST

Suite *suite_repeat(void)
{
    Suite *s = suite_create("repeat");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, test_by_waybill);
    tcase_add_test(tc, test_by_customer_and_category);
    tcase_add_test(tc, test_earlier_waybill_ticket_matches_by_customer);
    tcase_add_test(tc, test_waybill_ticket_never_matches_by_customer);
    tcase_add_loop_test(tc, test_lookback_window, 0, (int)(size_t)NELEM(window));
    tcase_add_test(tc, test_unresolved_does_not_match);
    tcase_add_test(tc, test_not_itself);
    tcase_add_test(tc, test_most_recent_wins);
    suite_add_tcase(s, tc);

    tc = tcase_create("index");
    tcase_add_test(tc, test_add_is_idempotent);
    tcase_add_test(tc, test_changed_keys);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}
