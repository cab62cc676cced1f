/* Unit tests for lib/policy: the default SLA table of contract §6, the other
 * policy values (§7, §8) and every `[policy]` key, good and bad. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "policy.h"
#include "timeutil.h"
#include "testutil.h"

#define H 3600
#define DAY 86400

static Policy *new_pol(void)
{
    Policy *p = pol_new();
    ck_assert_ptr_nonnull(p);
    return p;
}

static int64_t D(const char *s)
{
    int64_t d = 0;
    ck_assert_msg(tu_parse_date(s, &d) == 0, "bad test date %s", s);
    return d;
}

static void set_ok(Policy *p, const char *key, const char *value)
{
    char err[256] = "";
    int rc = pol_set(p, key, value, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s = %s: rc %d: %s", key, value, rc, err);
}

/* ---- Defaults ------------------------------------------------------------ */

/* Contract §6, row by row and column by column. */
static const struct {
    PolTarget t;
    PolVariant v;
    int64_t budget;
    ClockKind clock;
    int64_t warn;
} sla_defaults[] = {
    {TGT_CONTACT, VAR_NORMAL, 2 * H, CLK_BUSINESS, -1},
    {TGT_CONTACT, VAR_URGENT, 2 * H, CLK_BUSINESS, -1},
    {TGT_CONTACT, VAR_REOPENED, 2 * H, CLK_BUSINESS, -1},
    {TGT_FIRST_REPLY, VAR_NORMAL, 48 * H, CLK_CALENDAR, -1},
    {TGT_FIRST_REPLY, VAR_URGENT, 24 * H, CLK_CALENDAR, -1},
    {TGT_FIRST_REPLY, VAR_REOPENED, 24 * H, CLK_CALENDAR, -1},
    {TGT_RESOLVE, VAR_NORMAL, 48 * H, CLK_CALENDAR, 24 * H},
    {TGT_RESOLVE, VAR_URGENT, 24 * H, CLK_CALENDAR, -1},
    {TGT_RESOLVE, VAR_REOPENED, 50 * H, CLK_BUSINESS, -1},
    {TGT_RESOLVE_CLAIM, VAR_NORMAL, 120 * H, CLK_CALENDAR, 96 * H},
    {TGT_RESOLVE_CLAIM, VAR_URGENT, 72 * H, CLK_CALENDAR, -1},
    {TGT_RESOLVE_CLAIM, VAR_REOPENED, 50 * H, CLK_BUSINESS, -1},
    {TGT_REVISIT, VAR_NORMAL, 10 * H, CLK_BUSINESS, -1},
    {TGT_REVISIT, VAR_URGENT, 10 * H, CLK_BUSINESS, -1},
    {TGT_REVISIT, VAR_REOPENED, 10 * H, CLK_BUSINESS, -1},
};

START_TEST(test_sla_default_row)
{
    Policy *p = new_pol();
    const SlaRule *r = &p->sla[sla_defaults[_i].t][sla_defaults[_i].v];
    const char *what = pol_target_name(sla_defaults[_i].t);
    const char *col = pol_variant_name(sla_defaults[_i].v);
    ck_assert_msg(r->budget == sla_defaults[_i].budget, "%s/%s budget %lld", what, col, (long long)r->budget);
    ck_assert_msg(r->clock == sla_defaults[_i].clock, "%s/%s clock", what, col);
    ck_assert_msg(r->warn == sla_defaults[_i].warn, "%s/%s warn %lld", what, col, (long long)r->warn);
    pol_free(p);
}
END_TEST

START_TEST(test_sla_defaults_cover_table)
{
    int seen[TGT__COUNT][VAR__COUNT] = {{0}};
    for (int i = 0; i < NELEM(sla_defaults); i++)
        seen[sla_defaults[i].t][sla_defaults[i].v]++;
    for (int t = 0; t < TGT__COUNT; t++)
        for (int v = 0; v < VAR__COUNT; v++)
            ck_assert_int_eq(seen[t][v], 1);
}
END_TEST

START_TEST(test_scalar_defaults)
{
    Policy *p = new_pol();
    ck_assert_int_eq(p->warn_ratio_pct, 80);
    ck_assert_int_eq(p->statutory_limit, 7 * DAY);
    ck_assert_int_eq(p->bulk_threshold, 10);
    ck_assert_int_eq(p->bulk_window, 60 * 60);
    ck_assert_int_eq(p->stall_after, 168 * H);
    ck_assert_int_eq(p->repeat_lookback, 90 * DAY);
    ck_assert_int_eq(p->hold_timeout, 1 * H);
    ck_assert_int_eq(p->hold_max, 100000);
    ck_assert_int_eq(p->region_shift, 2 * H);
    ck_assert_int_eq(p->n_shifted_regions, 4);
    ck_assert_str_eq(p->shifted_regions[0], "65");
    ck_assert_str_eq(p->shifted_regions[1], "54");
    ck_assert_str_eq(p->shifted_regions[2], "xinjiang");
    ck_assert_str_eq(p->shifted_regions[3], "tibet");
    ck_assert_ptr_nonnull(p->cal);
    ck_assert_int_eq(cal_utc_offset(p->cal), 480);
    ck_assert_str_eq(p->business_hours, "08:00-12:00,14:00-20:00");
    ck_assert_str_eq(p->workdays, "mon,tue,wed,thu,fri,sat,sun");
    ck_assert_str_eq(p->holidays, "");
    ck_assert_str_eq(p->extra_workdays, "");
    /* Every day works, Sundays too. */
    ck_assert(cal_is_workday(p->cal, D("2026-11-22")));
    pol_free(p);
}
END_TEST

START_TEST(test_region_shift)
{
    Policy *p = new_pol();
    ck_assert_int_eq(pol_region_shift(p, "65"), 2 * H);
    ck_assert_int_eq(pol_region_shift(p, "54"), 2 * H);
    ck_assert_int_eq(pol_region_shift(p, "Xinjiang"), 2 * H);
    ck_assert_int_eq(pol_region_shift(p, "TIBET"), 2 * H);
    ck_assert_int_eq(pol_region_shift(p, "11"), 0);
    ck_assert_int_eq(pol_region_shift(p, "6"), 0);
    ck_assert_int_eq(pol_region_shift(p, "655"), 0);
    ck_assert_int_eq(pol_region_shift(p, ""), 0);
    ck_assert_int_eq(pol_region_shift(p, NULL), 0);
    set_ok(p, "region_shift", "3h");
    set_ok(p, "shifted_regions", " 11 , Beijing ");
    ck_assert_int_eq(pol_region_shift(p, "beijing"), 3 * H);
    ck_assert_int_eq(pol_region_shift(p, "11"), 3 * H);
    ck_assert_int_eq(pol_region_shift(p, "65"), 0);
    set_ok(p, "shifted_regions", "");
    ck_assert_int_eq(p->n_shifted_regions, 0);
    ck_assert_int_eq(pol_region_shift(p, "beijing"), 0);
    pol_free(p);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(pol_target_name(TGT_CONTACT), "contact");
    ck_assert_str_eq(pol_target_name(TGT_FIRST_REPLY), "first_reply");
    ck_assert_str_eq(pol_target_name(TGT_RESOLVE), "resolve");
    ck_assert_str_eq(pol_target_name(TGT_RESOLVE_CLAIM), "resolve_claim");
    ck_assert_str_eq(pol_target_name(TGT_REVISIT), "revisit");
    ck_assert_str_eq(pol_variant_name(VAR_NORMAL), "normal");
    ck_assert_str_eq(pol_variant_name(VAR_URGENT), "urgent");
    ck_assert_str_eq(pol_variant_name(VAR_REOPENED), "reopened");
    ck_assert_str_eq(pol_target_name(TGT__COUNT), "unknown");
    ck_assert_str_eq(pol_variant_name(VAR__COUNT), "unknown");
}
END_TEST

/* ---- SLA keys -------------------------------------------------------------- */

/* Every target and variant takes the key syntax; _i walks the 15 cells. */
START_TEST(test_sla_set_every_cell)
{
    PolTarget t = (PolTarget)(_i / VAR__COUNT);
    PolVariant v = (PolVariant)(_i % VAR__COUNT);
    char key[64];
    snprintf(key, sizeof(key), "sla.%s.%s", pol_target_name(t), pol_variant_name(v));

    Policy *p = new_pol();
    set_ok(p, key, "3h business warn 1h30m");
    ck_assert_int_eq(p->sla[t][v].budget, 3 * H);
    ck_assert_int_eq(p->sla[t][v].clock, CLK_BUSINESS);
    ck_assert_int_eq(p->sla[t][v].warn, 90 * 60);

    set_ok(p, key, "  5d   CALENDAR  ");
    ck_assert_int_eq(p->sla[t][v].budget, 5 * DAY);
    ck_assert_int_eq(p->sla[t][v].clock, CLK_CALENDAR);
    ck_assert_int_eq(p->sla[t][v].warn, -1);

    /* The other cells keep their defaults. */
    for (int i = 0; i < NELEM(sla_defaults); i++) {
        if (sla_defaults[i].t == t && sla_defaults[i].v == v)
            continue;
        ck_assert_int_eq(p->sla[sla_defaults[i].t][sla_defaults[i].v].budget, sla_defaults[i].budget);
    }
    pol_free(p);
}
END_TEST

static const struct {
    const char *value;
    const char *msg; /* a part of the expected message */
} sla_bad[] = {
    {"", "missing value for sla.contact.normal"},
    {"   ", "missing value for sla.contact.normal"},
    {"x calendar", "bad duration 'x' for sla.contact.normal"},
    {"-2h business", "bad duration '-2h' for sla.contact.normal"},
    {"0 business", "bad duration '0' for sla.contact.normal"},
    {"2h30 business", "bad duration '2h30' for sla.contact.normal"},
    {"3651d calendar", "bad duration '3651d'"},
    {"2h", "missing clock for sla.contact.normal"},
    {"2h weekly", "bad clock 'weekly' for sla.contact.normal"},
    {"2h business extra", "unexpected 'extra' for sla.contact.normal"},
    {"2h business warn", "missing warn point for sla.contact.normal"},
    {"2h business warn x", "bad warn duration 'x' for sla.contact.normal"},
    {"2h business warn 0", "bad warn duration '0'"},
    {"2h business warn 2h", "warn point '2h' for sla.contact.normal must be less than the budget"},
    {"2h business warn 3h", "must be less than the budget"},
    {"2h business warn 1h 1h", "unexpected '1h' for sla.contact.normal after the warn point"},
    {"2h business 1h", "unexpected '1h'"},
    {"7200 business", "bad duration '7200' for sla.contact.normal"},
};

START_TEST(test_sla_bad)
{
    Policy *p = new_pol();
    char err[256] = "";
    int rc = pol_set(p, "sla.contact.normal", sla_bad[_i].value, err, sizeof(err));
    ck_assert_msg(rc == -1, "'%s' accepted", sla_bad[_i].value);
    ck_assert_msg(strstr(err, sla_bad[_i].msg) != NULL, "'%s': got \"%s\", want \"%s\"", sla_bad[_i].value, err,
                  sla_bad[_i].msg);
    /* A rejected value leaves the rule as it was. */
    ck_assert_int_eq(p->sla[TGT_CONTACT][VAR_NORMAL].budget, 2 * H);
    ck_assert_int_eq(p->sla[TGT_CONTACT][VAR_NORMAL].clock, CLK_BUSINESS);
    ck_assert_int_eq(p->sla[TGT_CONTACT][VAR_NORMAL].warn, -1);
    pol_free(p);
}
END_TEST

START_TEST(test_sla_long_word)
{
    Policy *p = new_pol();
    char value[300], err[256] = "";
    memset(value, '1', 200);
    strcpy(value + 200, "h calendar");
    ck_assert_int_eq(pol_set(p, "sla.revisit.urgent", value, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad duration"));
    pol_free(p);
}
END_TEST

START_TEST(test_unknown_keys)
{
    static const char *const keys[] = {"sla.contact",   "sla.contact.vip", "sla.answer.normal", "sla..normal",
                                       "nope",          "Warn_Ratio",      "sla.contact.normal.x",
                                       "bulk_threshold ", ""};
    Policy *p = new_pol();
    for (int i = 0; i < NELEM(keys); i++) {
        char err[256] = "";
        ck_assert_msg(pol_set(p, keys[i], "1h calendar", err, sizeof(err)) == 1, "'%s' not unknown", keys[i]);
        ck_assert_msg(strstr(err, "unknown") != NULL, "'%s': %s", keys[i], err);
    }
    pol_free(p);
}
END_TEST

/* ---- Other keys ------------------------------------------------------------ */

/* One good value with what it must store (as pol_get reads it back), and bad
 * values, for every key that is not an SLA key. */
static const struct {
    const char *key;
    const char *good;
    const char *want; /* pol_get after setting `good` */
    const char *bad[6];
} scalar_keys[] = {
    {"warn_ratio", "75%", "75%", {"0", "100", "x", "80%%", "", "-5"}},
    {"warn_ratio", "99", "99%", {"80 %", "1.5", "+80", " 80", NULL}},
    {"warn_ratio", "1", "1%", {NULL}},
    {"statutory_limit", "0", "0", {"7", "-1d", "x", "", "3651d", "7days"}},
    {"statutory_limit", "10d", "10d", {NULL}},
    {"bulk_threshold", "1", "1", {"0", "100001", "x", "", "-1", "10.5"}},
    {"bulk_threshold", "100000", "100000", {" 5", "5 ", "99999999999999999999", NULL}},
    {"bulk_window", "30m", "30m", {"0", "x", "", "30", "1h30", NULL}},
    {"bulk_window", "1h30m", "1h30m", {NULL}},
    {"stall_after", "72h", "3d", {"0", "x", "", NULL}},
    {"repeat_lookback", "30d", "30d", {"0", "x", "", NULL}},
    {"hold_timeout", "90s", "1m30s", {"0", "x", "", NULL}},
    {"hold_max", "1", "1", {"0", "100000001", "x", "", "-1", NULL}},
    {"hold_max", "100000000", "100000000", {NULL}},
    {"region_shift", "0", "0", {"24h", "1d", "x", "", NULL}},
    {"region_shift", "23h59m", "23h59m", {NULL}},
    {"shifted_regions", "65, Xinjiang", "65,Xinjiang", {"65,,54", "65,", ",65", "xin jiang", NULL}},
    {"shifted_regions", "", "", {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "123456789012345678901234567890123", NULL}},
    {"business_hours", "09:00-18:00", "09:00-18:00", {"", "25:00-26:00", "18:00-09:00", "9-18", NULL}},
    {"utc_offset", "-05:30", "-05:30", {"+8", "08:00", "+15:00", "+08:60", "", "+08:00x"}},
    {"utc_offset", "Z", "+00:00", {"+14:01", NULL}},
    {"utc_offset", "+14:00", "+14:00", {NULL}},
    {"workdays", "mon,tue,wed,thu,fri", "mon,tue,wed,thu,fri", {"monday", "mon,,tue", "x", NULL}},
    {"workdays", "", "", {NULL}},
    {"holidays", "2026-10-01..2026-10-07,2027-01-01", "2026-10-01..2026-10-07,2027-01-01",
     {"2026-13-01", "2026-02-30", "tomorrow", "2026-10-07..2026-10-01", NULL}},
    {"extra_workdays", "2026-09-27", "2026-09-27", {"2026/09/27", "27-09-2026", NULL}},
};

START_TEST(test_scalar_key)
{
    Policy *p = new_pol();
    const char *key = scalar_keys[_i].key;
    char got[256], before[256], err[256];

    set_ok(p, key, scalar_keys[_i].good);
    ck_assert_int_ge(pol_get(p, key, got, sizeof(got)), 0);
    ck_assert_msg(strcmp(got, scalar_keys[_i].want) == 0, "%s = %s reads back as '%s', want '%s'", key,
                  scalar_keys[_i].good, got, scalar_keys[_i].want);

    for (int b = 0; b < NELEM(scalar_keys[_i].bad) && scalar_keys[_i].bad[b] != NULL; b++) {
        const char *bad = scalar_keys[_i].bad[b];
        err[0] = '\0';
        ck_assert_int_ge(pol_get(p, key, before, sizeof(before)), 0);
        int rc = pol_set(p, key, bad, err, sizeof(err));
        ck_assert_msg(rc == -1, "%s = '%s' accepted (rc %d)", key, bad, rc);
        ck_assert_msg(strstr(err, key) != NULL, "%s = '%s': message does not name the key: %s", key, bad, err);
        ck_assert_int_ge(pol_get(p, key, got, sizeof(got)), 0);
        ck_assert_msg(strcmp(got, before) == 0, "%s = '%s' changed the value to '%s'", key, bad, got);
    }
    pol_free(p);
}
END_TEST

START_TEST(test_values_stored)
{
    Policy *p = new_pol();
    set_ok(p, "warn_ratio", "75%");
    ck_assert_int_eq(p->warn_ratio_pct, 75);
    set_ok(p, "warn_ratio", "60");
    ck_assert_int_eq(p->warn_ratio_pct, 60);
    set_ok(p, "statutory_limit", "0");
    ck_assert_int_eq(p->statutory_limit, 0);
    set_ok(p, "bulk_threshold", "3");
    ck_assert_int_eq(p->bulk_threshold, 3);
    set_ok(p, "bulk_window", "30m");
    ck_assert_int_eq(p->bulk_window, 1800);
    set_ok(p, "stall_after", "72h");
    ck_assert_int_eq(p->stall_after, 72 * H);
    set_ok(p, "repeat_lookback", "30d");
    ck_assert_int_eq(p->repeat_lookback, 30 * DAY);
    set_ok(p, "hold_timeout", "90s");
    ck_assert_int_eq(p->hold_timeout, 90);
    set_ok(p, "region_shift", "0");
    ck_assert_int_eq(p->region_shift, 0);
    ck_assert_int_eq(pol_region_shift(p, "xinjiang"), 0);
    set_ok(p, "utc_offset", "-05:30");
    ck_assert_int_eq(cal_utc_offset(p->cal), -330);
    pol_free(p);
}
END_TEST

/* The calendar keys reach the calendar, not just the stored text. */
START_TEST(test_calendar_keys)
{
    Policy *p = new_pol();
    int64_t mon = D("2026-11-23"), sat = D("2026-11-28"), oct1 = D("2026-10-01"), oct7 = D("2026-10-07");
    ck_assert(cal_is_workday(p->cal, sat));
    set_ok(p, "workdays", "MON,tue,wed,thu,fri");
    ck_assert(cal_is_workday(p->cal, mon));
    ck_assert(!cal_is_workday(p->cal, sat));

    set_ok(p, "holidays", "2026-10-01..2026-10-07");
    ck_assert(!cal_is_workday(p->cal, oct1));
    ck_assert(!cal_is_workday(p->cal, oct7));
    set_ok(p, "extra_workdays", "2026-11-28");
    ck_assert(cal_is_workday(p->cal, sat));

    /* A bad list keeps the calendar as it was. */
    char err[256];
    ck_assert_int_eq(pol_set(p, "holidays", "2026-10-01,nope", err, sizeof(err)), -1);
    ck_assert(!cal_is_workday(p->cal, oct1));
    ck_assert_str_eq(p->holidays, "2026-10-01..2026-10-07");

    /* Each setting replaces the list before it. */
    set_ok(p, "holidays", "");
    ck_assert(cal_is_workday(p->cal, oct1));

    set_ok(p, "business_hours", "09:00-17:00");
    int64_t start = 0;
    ck_assert_int_eq(tu_parse_rfc3339("2026-11-23T16:00:00+08:00", &start), 0);
    ck_assert_int_eq(cal_between(p->cal, 0, start, start + 3 * H), H);
    pol_free(p);
}
END_TEST

/* ---- pol_get / pol_key_name ---------------------------------------------- */

START_TEST(test_key_names)
{
    size_t n = 0;
    while (pol_key_name(n) != NULL)
        n++;
    ck_assert_int_eq(n, 15 + 26);
    ck_assert_str_eq(pol_key_name(0), "sla.contact.normal");
    ck_assert_str_eq(pol_key_name(14), "sla.revisit.reopened");
    ck_assert_str_eq(pol_key_name(15), "warn_ratio");
    ck_assert_str_eq(pol_key_name(29), "extra_workdays");
    ck_assert_str_eq(pol_key_name(n - 1), "accountability_window");
    char buf[8];
    ck_assert_int_eq(pol_get(NULL, "nope", buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_get_defaults)
{
    static const struct {
        const char *key, *want;
    } want[] = {
        {"sla.contact.normal", "2h business"},
        {"sla.first_reply.normal", "48h calendar"},
        {"sla.resolve.normal", "48h calendar warn 24h"},
        {"sla.resolve.reopened", "50h business"},
        {"sla.resolve_claim.normal", "120h calendar warn 96h"},
        {"sla.resolve_claim.urgent", "72h calendar"},
        {"sla.revisit.urgent", "10h business"},
        {"warn_ratio", "80%"},
        {"statutory_limit", "7d"},
        {"bulk_threshold", "10"},
        {"bulk_window", "1h"},
        {"stall_after", "7d"},
        {"repeat_lookback", "90d"},
        {"hold_timeout", "1h"},
        {"hold_max", "100000"},
        {"region_shift", "2h"},
        {"shifted_regions", "65,54,xinjiang,tibet"},
        {"business_hours", "08:00-12:00,14:00-20:00"},
        {"utc_offset", "+08:00"},
        {"workdays", "mon,tue,wed,thu,fri,sat,sun"},
        {"holidays", ""},
        {"extra_workdays", ""},
    };
    Policy *p = new_pol();
    for (int i = 0; i < NELEM(want); i++) {
        char buf[128];
        int n = pol_get(p, want[i].key, buf, sizeof(buf));
        ck_assert_int_eq(n, (int)strlen(want[i].want));
        ck_assert_msg(strcmp(buf, want[i].want) == 0, "%s: '%s'", want[i].key, buf);
    }
    /* Cut to the buffer, full length returned. */
    char small[4];
    ck_assert_int_eq(pol_get(p, "sla.resolve.normal", small, sizeof(small)), 21);
    ck_assert_str_eq(small, "48h");
    pol_free(p);
}
END_TEST

/* Whatever pol_get writes, pol_set takes back unchanged: cfg_dump output is
 * valid policy. */
START_TEST(test_get_set_roundtrip)
{
    Policy *p = new_pol();
    set_ok(p, "sla.contact.urgent", "1h30m45s business warn 1h");
    set_ok(p, "holidays", "2026-01-01");
    set_ok(p, "stall_after", "1d2h3m4s");
    Policy *q = new_pol();
    const char *key;
    for (size_t i = 0; (key = pol_key_name(i)) != NULL; i++) {
        char a[256], b[256];
        ck_assert_int_ge(pol_get(p, key, a, sizeof(a)), 0);
        set_ok(q, key, a);
        ck_assert_int_ge(pol_get(q, key, b, sizeof(b)), 0);
        ck_assert_msg(strcmp(a, b) == 0, "%s: '%s' became '%s'", key, a, b);
    }
    ck_assert_int_eq(q->sla[TGT_CONTACT][VAR_URGENT].budget, 5445);
    ck_assert_int_eq(q->stall_after, DAY + 2 * H + 3 * 60 + 4);
    pol_free(p);
    pol_free(q);
}
END_TEST

/* ---- Clone and free --------------------------------------------------------- */

START_TEST(test_clone_is_deep)
{
    Policy *p = new_pol();
    set_ok(p, "holidays", "2026-10-01");
    Policy *c = pol_clone(p);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c->cal, p->cal);
    ck_assert_ptr_ne(c->holidays, p->holidays);
    ck_assert_str_eq(c->holidays, "2026-10-01");
    ck_assert(!cal_is_workday(c->cal, D("2026-10-01")));

    set_ok(c, "holidays", "");
    set_ok(c, "sla.contact.normal", "4h calendar");
    set_ok(c, "shifted_regions", "11");
    set_ok(c, "utc_offset", "+00:00");
    ck_assert(!cal_is_workday(p->cal, D("2026-10-01")));
    ck_assert_str_eq(p->holidays, "2026-10-01");
    ck_assert_int_eq(p->sla[TGT_CONTACT][VAR_NORMAL].budget, 2 * H);
    ck_assert_int_eq(pol_region_shift(p, "65"), 2 * H);
    ck_assert_int_eq(cal_utc_offset(p->cal), 480);
    pol_free(p);
    /* The clone outlives its source. */
    ck_assert(cal_is_workday(c->cal, D("2026-10-01")));
    pol_free(c);
}
END_TEST

START_TEST(test_free_null)
{
    pol_free(NULL);
}
END_TEST

START_TEST(test_null_err_buffer)
{
    Policy *p = new_pol();
    ck_assert_int_eq(pol_set(p, "bulk_threshold", "x", NULL, 0), -1);
    ck_assert_int_eq(pol_set(p, "nope", "x", NULL, 0), 1);
    char tiny[4];
    ck_assert_int_eq(pol_set(p, "sla.contact.normal", "x", tiny, sizeof(tiny)), -1);
    ck_assert_str_eq(tiny, "bad");
    pol_free(p);
}
END_TEST

Suite *suite_policy(void)
{
    Suite *s = suite_create("policy");

    TCase *tc = tcase_create("defaults");
    tcase_add_loop_test(tc, test_sla_default_row, 0, NELEM(sla_defaults));
    tcase_add_test(tc, test_sla_defaults_cover_table);
    tcase_add_test(tc, test_scalar_defaults);
    tcase_add_test(tc, test_region_shift);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("sla_keys");
    tcase_add_loop_test(tc, test_sla_set_every_cell, 0, TGT__COUNT * VAR__COUNT);
    tcase_add_loop_test(tc, test_sla_bad, 0, NELEM(sla_bad));
    tcase_add_test(tc, test_sla_long_word);
    tcase_add_test(tc, test_unknown_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_loop_test(tc, test_scalar_key, 0, NELEM(scalar_keys));
    tcase_add_test(tc, test_values_stored);
    tcase_add_test(tc, test_calendar_keys);
    tcase_add_test(tc, test_key_names);
    tcase_add_test(tc, test_get_defaults);
    tcase_add_test(tc, test_get_set_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetime");
    tcase_add_test(tc, test_clone_is_deep);
    tcase_add_test(tc, test_free_null);
    tcase_add_test(tc, test_null_err_buffer);
    suite_add_tcase(s, tc);

    return s;
}
