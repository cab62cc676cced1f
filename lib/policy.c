/* policy: the SLA table and the other policy values, with their `[policy]`
 * keys. pol_set never leaves a half-applied value behind: it parses into
 * locals (or a calendar copy) and only then stores, so a rejected line in a
 * reloaded file cannot disturb the policy in force. */
#include "policy.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "timeutil.h"

#define HOUR 3600
#define DAY 86400

/* No policy duration needs more than ten years; the cap keeps deadline
 * arithmetic (start + budget + extensions) far from overflow. */
#define MAX_DURATION (3650 * (int64_t)DAY)

static const char *const target_names[TGT__COUNT] = {"contact", "first_reply", "resolve", "resolve_claim",
                                                     "revisit"};
static const char *const variant_names[VAR__COUNT] = {"normal", "urgent", "reopened"};

/* Spelled out so that pol_key_name can hand out constant strings. */
static const char *const sla_keys[TGT__COUNT][VAR__COUNT] = {
    {"sla.contact.normal", "sla.contact.urgent", "sla.contact.reopened"},
    {"sla.first_reply.normal", "sla.first_reply.urgent", "sla.first_reply.reopened"},
    {"sla.resolve.normal", "sla.resolve.urgent", "sla.resolve.reopened"},
    {"sla.resolve_claim.normal", "sla.resolve_claim.urgent", "sla.resolve_claim.reopened"},
    {"sla.revisit.normal", "sla.revisit.urgent", "sla.revisit.reopened"},
};

/* Contract §6. Reopened rounds count business hours: 50 h is 5 working days. */
static const SlaRule sla_defaults[TGT__COUNT][VAR__COUNT] = {
    [TGT_CONTACT] = {{2 * HOUR, CLK_BUSINESS, -1}, {2 * HOUR, CLK_BUSINESS, -1}, {2 * HOUR, CLK_BUSINESS, -1}},
    [TGT_FIRST_REPLY] = {{48 * HOUR, CLK_CALENDAR, -1},
                         {24 * HOUR, CLK_CALENDAR, -1},
                         {24 * HOUR, CLK_CALENDAR, -1}},
    [TGT_RESOLVE] = {{48 * HOUR, CLK_CALENDAR, 24 * HOUR},
                     {24 * HOUR, CLK_CALENDAR, -1},
                     {50 * HOUR, CLK_BUSINESS, -1}},
    [TGT_RESOLVE_CLAIM] = {{120 * HOUR, CLK_CALENDAR, 96 * HOUR},
                           {72 * HOUR, CLK_CALENDAR, -1},
                           {50 * HOUR, CLK_BUSINESS, -1}},
    [TGT_REVISIT] = {{10 * HOUR, CLK_BUSINESS, -1}, {10 * HOUR, CLK_BUSINESS, -1}, {10 * HOUR, CLK_BUSINESS, -1}},
};

#define DEFAULT_BUSINESS_HOURS "08:00-12:00,14:00-20:00"
#define DEFAULT_WORKDAYS "mon,tue,wed,thu,fri,sat,sun"
#define DEFAULT_SHIFTED_REGIONS "65,54,xinjiang,tibet"

typedef enum {
    PK_DURATION, /* int64_t seconds */
    PK_INT,      /* int */
    PK_PERCENT,  /* int, "80%" or "80" */
    PK_REGIONS,
    PK_UTC_OFFSET,
    PK_CAL_TEXT, /* a calendar list forwarded to cal_set_* */
    PK_SLA,      /* an SlaRule: "<duration> <calendar|business> [warn <duration>]" */
    PK_SCHEDULE, /* comma-separated durations, increasing */
} PolKeyKind;

typedef enum { CAL_WINDOWS, CAL_WORKDAYS, CAL_HOLIDAYS, CAL_EXTRA_WORKDAYS } CalKey;

typedef struct PolKey {
    const char *name;
    PolKeyKind kind;
    size_t off; /* of the stored value in Policy */
    int64_t min, max;
    CalKey cal; /* PK_CAL_TEXT only */
} PolKey;

/* Every key but the SLA ones, in documentation order. Zero is allowed only
 * where it means "off": statutory_limit, region_shift, max_future_skew,
 * pause_max and progress_interval. */
static const PolKey keys[] = {
    {"warn_ratio", PK_PERCENT, offsetof(Policy, warn_ratio_pct), 1, 99, 0},
    {"statutory_limit", PK_DURATION, offsetof(Policy, statutory_limit), 0, MAX_DURATION, 0},
    {"bulk_threshold", PK_INT, offsetof(Policy, bulk_threshold), 1, 100000, 0},
    {"bulk_window", PK_DURATION, offsetof(Policy, bulk_window), 1, MAX_DURATION, 0},
    {"stall_after", PK_DURATION, offsetof(Policy, stall_after), 1, MAX_DURATION, 0},
    {"repeat_lookback", PK_DURATION, offsetof(Policy, repeat_lookback), 1, MAX_DURATION, 0},
    {"hold_timeout", PK_DURATION, offsetof(Policy, hold_timeout), 1, MAX_DURATION, 0},
    {"hold_max", PK_INT, offsetof(Policy, hold_max), 1, 100000000, 0},
    /* A shift of a day or more would move windows onto another date. */
    {"region_shift", PK_DURATION, offsetof(Policy, region_shift), 0, DAY - 1, 0},
    {"shifted_regions", PK_REGIONS, 0, 0, 0, 0},
    {"business_hours", PK_CAL_TEXT, offsetof(Policy, business_hours), 0, 0, CAL_WINDOWS},
    {"utc_offset", PK_UTC_OFFSET, 0, 0, 0, 0},
    {"workdays", PK_CAL_TEXT, offsetof(Policy, workdays), 0, 0, CAL_WORKDAYS},
    {"holidays", PK_CAL_TEXT, offsetof(Policy, holidays), 0, 0, CAL_HOLIDAYS},
    {"extra_workdays", PK_CAL_TEXT, offsetof(Policy, extra_workdays), 0, 0, CAL_EXTRA_WORKDAYS},
    /* §12 */
    {"max_future_skew", PK_DURATION, offsetof(Policy, max_future_skew), 0, MAX_DURATION, 0},
    {"pause_max", PK_DURATION, offsetof(Policy, pause_max), 0, MAX_DURATION, 0},
    {"progress_interval", PK_DURATION, offsetof(Policy, progress_interval), 0, MAX_DURATION, 0},
    {"response_schedule", PK_SCHEDULE, 0, 0, 0, 0},
    {"major_claim_amount", PK_INT, offsetof(Policy, major_claim_amount), 0, 2000000000, 0},
    {"major_complainants", PK_INT, offsetof(Policy, major_complainants), 1, 1000000, 0},
    {"invalid_resolve", PK_SLA, offsetof(Policy, invalid_resolve), 0, 0, 0},
    {"loss_after", PK_DURATION, offsetof(Policy, loss_after), 1, MAX_DURATION, 0},
    {"accountability_month", PK_INT, offsetof(Policy, accountability_month), 1, 100000, 0},
    {"accountability_total", PK_INT, offsetof(Policy, accountability_total), 1, 100000, 0},
    {"accountability_window", PK_DURATION, offsetof(Policy, accountability_window), 1, MAX_DURATION, 0},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
#define N_SLA_KEYS ((size_t)TGT__COUNT * VAR__COUNT)


void pol_free(Policy *p)
{
    if (p == NULL)
        return;
    cal_free(p->cal);
    free(p->business_hours);
    free(p->workdays);
    free(p->holidays);
    free(p->extra_workdays);
    free(p);
}

static int set_regions(Policy *p, const char *value, char *err, size_t errlen);

Policy *pol_new(void)
{
    Policy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    memcpy(p->sla, sla_defaults, sizeof(p->sla));
    p->warn_ratio_pct = 80;
    p->statutory_limit = 7 * (int64_t)DAY;
    p->bulk_threshold = 10;
    p->bulk_window = 60 * 60;
    p->stall_after = 168 * (int64_t)HOUR;
    p->repeat_lookback = 90 * (int64_t)DAY;
    p->hold_timeout = 1 * HOUR;
    p->hold_max = 100000;
    p->region_shift = 2 * HOUR;
    p->max_future_skew = 5 * 60;
    p->pause_max = 72 * HOUR;
    p->progress_interval = 24 * HOUR;
    p->major_claim_amount = 50000;
    p->major_complainants = 5;
    p->invalid_resolve = (SlaRule){10 * HOUR, CLK_BUSINESS, -1};
    p->loss_after = 168 * HOUR;
    p->accountability_month = 3;
    p->accountability_total = 5;
    p->accountability_window = 365 * (int64_t)DAY;
    p->cal = cal_new();
    p->business_hours = strdup(DEFAULT_BUSINESS_HOURS);
    p->workdays = strdup(DEFAULT_WORKDAYS);
    p->holidays = strdup("");
    p->extra_workdays = strdup("");
    if (p->cal == NULL || p->business_hours == NULL || p->workdays == NULL || p->holidays == NULL ||
        p->extra_workdays == NULL || set_regions(p, DEFAULT_SHIFTED_REGIONS, NULL, 0) != 0) {
        pol_free(p);
        return NULL;
    }
    return p;
}

Policy *pol_clone(const Policy *src)
{
    Policy *p = malloc(sizeof(*p));
    if (p == NULL)
        return NULL;
    *p = *src;
    p->cal = cal_clone(src->cal);
    p->business_hours = strdup(src->business_hours);
    p->workdays = strdup(src->workdays);
    p->holidays = strdup(src->holidays);
    p->extra_workdays = strdup(src->extra_workdays);
    if (p->cal == NULL || p->business_hours == NULL || p->workdays == NULL || p->holidays == NULL ||
        p->extra_workdays == NULL) {
        pol_free(p);
        return NULL;
    }
    return p;
}

const char *pol_target_name(PolTarget t)
{
    return (unsigned)t < TGT__COUNT ? target_names[t] : "unknown";
}

const char *pol_variant_name(PolVariant v)
{
    return (unsigned)v < VAR__COUNT ? variant_names[v] : "unknown";
}

const char *pol_key_name(size_t i)
{
    if (i < N_SLA_KEYS)
        return sla_keys[i / VAR__COUNT][i % VAR__COUNT];
    i -= N_SLA_KEYS;
    return i < N_KEYS ? keys[i].name : NULL;
}

int64_t pol_region_shift(const Policy *p, const char *region)
{
    if (region == NULL || *region == '\0')
        return 0;
    for (int i = 0; i < p->n_shifted_regions; i++)
        if (strcasecmp(p->shifted_regions[i], region) == 0)
            return p->region_shift;
    return 0;
}

/* Copies the next whitespace-separated word of *s into buf; returns its
 * length, 0 at the end, or -1 when it does not fit (still skipped). */
static int next_word(const char **s, char *buf, size_t buflen)
{
    const char *p = *s;
    while (isspace((unsigned char)*p))
        p++;
    const char *start = p;
    while (*p != '\0' && !isspace((unsigned char)*p))
        p++;
    size_t n = (size_t)(p - start);
    *s = p;
    if (n >= buflen) {
        snprintf(buf, buflen, "%.*s", (int)(buflen - 1), start);
        return -1;
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    return (int)n;
}

/* tu_parse_duration reads a bare number as seconds. In a policy file
 * "statutory_limit = 7" is far more likely to mean days than seconds, so
 * every duration but 0 must carry a unit. */
static bool has_unit(const char *s, int64_t v)
{
    return v == 0 || strspn(s, "0123456789") != strlen(s);
}

static bool parse_duration(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    if (tu_parse_duration(s, &v) != 0 || !has_unit(s, v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* "<duration> <calendar|business> [warn <duration>]" into *out. */
static int parse_sla(SlaRule *out, const char *key, const char *value, char *err, size_t errlen)
{
    const char *s = value;
    char w[64];
    SlaRule r = {0, CLK_CALENDAR, -1};

    int n = next_word(&s, w, sizeof(w));
    if (n == 0) {
        err_set(err, errlen, "missing value for %s: expected '<duration> <calendar|business> [warn <duration>]'",
                key);
        return -1;
    }
    if (n < 0 || !parse_duration(w, 1, MAX_DURATION, &r.budget)) {
        err_set(err, errlen,
                "bad duration '%s' for %s: expected a number with a unit (d, h, m, s), more than 0 and at most 3650d",
                w, key);
        return -1;
    }

    n = next_word(&s, w, sizeof(w));
    if (n == 0) {
        err_set(err, errlen, "missing clock for %s: expected calendar or business after the budget", key);
        return -1;
    }
    if (strcasecmp(w, "calendar") == 0) {
        r.clock = CLK_CALENDAR;
    } else if (strcasecmp(w, "business") == 0) {
        r.clock = CLK_BUSINESS;
    } else {
        err_set(err, errlen, "bad clock '%s' for %s: expected calendar or business", w, key);
        return -1;
    }

    n = next_word(&s, w, sizeof(w));
    if (n != 0) {
        if (n < 0 || strcasecmp(w, "warn") != 0) {
            err_set(err, errlen, "unexpected '%s' for %s: only 'warn <duration>' may follow the clock", w, key);
            return -1;
        }
        n = next_word(&s, w, sizeof(w));
        if (n == 0) {
            err_set(err, errlen, "missing warn point for %s: expected 'warn <duration>'", key);
            return -1;
        }
        if (n < 0 || !parse_duration(w, 1, MAX_DURATION, &r.warn)) {
            err_set(err, errlen, "bad warn duration '%s' for %s", w, key);
            return -1;
        }
        if (r.warn >= r.budget) {
            err_set(err, errlen, "warn point '%s' for %s must be less than the budget", w, key);
            return -1;
        }
        n = next_word(&s, w, sizeof(w));
        if (n != 0) {
            err_set(err, errlen, "unexpected '%s' for %s after the warn point", w, key);
            return -1;
        }
    }
    *out = r;
    return 0;
}

static int set_sla(Policy *p, PolTarget t, PolVariant v, const char *value, char *err, size_t errlen)
{
    return parse_sla(&p->sla[t][v], sla_keys[t][v], value, err, errlen);
}

/* "2h,24h,48h,5d": up to POL_MAX_SCHEDULE increasing durations; "" is none. */
static int set_schedule(Policy *p, const PolKey *k, const char *value, char *err, size_t errlen)
{
    int64_t v[POL_MAX_SCHEDULE];
    int n = 0;
    const char *s = value;
    while (*s != '\0') {
        while (isspace((unsigned char)*s))
            s++;
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1]))
            len--;
        char w[32];
        if (len == 0 && !end && n == 0)
            break;
        if (len == 0 || len >= sizeof w || n == POL_MAX_SCHEDULE) {
            err_set(err, errlen, "bad value '%.64s' for %s: expected up to %d durations, comma-separated", value,
                    k->name, POL_MAX_SCHEDULE);
            return -1;
        }
        memcpy(w, s, len);
        w[len] = '\0';
        if (!parse_duration(w, 1, MAX_DURATION, &v[n]) || (n > 0 && v[n] <= v[n - 1])) {
            err_set(err, errlen, "bad duration '%s' for %s: expected increasing durations with units, e.g. 2h,24h,48h,5d",
                    w, k->name);
            return -1;
        }
        n++;
        s = end ? end + 1 : s + len;
        if (!end)
            break;
    }
    memcpy(p->response_schedule, v, (size_t)n * sizeof v[0]);
    p->n_response_schedule = n;
    return 0;
}

static int set_percent(int *out, const PolKey *k, const char *value, char *err, size_t errlen)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (end != value && *end == '%')
        end++;
    /* strtol accepts leading blanks and a sign; a config value should not. */
    if (!isdigit((unsigned char)*value) || *end != '\0' || v < k->min || v > k->max) {
        err_set(err, errlen, "bad value '%.64s' for %s: expected a percentage from %d%% to %d%%", value, k->name,
                (int)k->min, (int)k->max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_int(int *out, const PolKey *k, const char *value, char *err, size_t errlen)
{
    char *end;
    long long v = strtoll(value, &end, 10);
    if (!isdigit((unsigned char)*value) || *end != '\0' || v < k->min || v > k->max) {
        err_set(err, errlen, "bad value '%.64s' for %s: expected an integer from %lld to %lld", value, k->name,
                (long long)k->min, (long long)k->max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int fmt_duration(char *buf, size_t len, int64_t s, bool use_days);

static int set_duration(int64_t *out, const PolKey *k, const char *value, char *err, size_t errlen)
{
    int64_t v;
    if (tu_parse_duration(value, &v) != 0 || !has_unit(value, v)) {
        err_set(err, errlen,
                "bad duration '%.64s' for %s: expected a number with a unit (d, h, m, s), e.g. 90d, 168h or 1h30m",
                value, k->name);
        return -1;
    }
    if (v < k->min || v > k->max) {
        char max[32];
        fmt_duration(max, sizeof(max), k->max, true);
        err_set(err, errlen, "bad duration '%.64s' for %s: must be %sat most %s", value, k->name,
                k->min > 0 ? "more than 0 and " : "", max);
        return -1;
    }
    *out = v;
    return 0;
}

/* "65, 54,xinjiang": items are trimmed; "" clears the list. */
static int set_regions(Policy *p, const char *value, char *err, size_t errlen)
{
    char list[POL_MAX_REGIONS][POL_REGION_LEN + 1];
    int n = 0;
    const char *s = value;

    while (isspace((unsigned char)*s))
        s++;
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        if (end == NULL)
            end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        size_t len = (size_t)(b - a);
        if (len == 0) {
            err_set(err, errlen, "empty region in shifted_regions '%.64s'", value);
            return -1;
        }
        for (const char *c = a; c < b; c++) {
            if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c)) {
                err_set(err, errlen, "bad region '%.*s' in shifted_regions: no spaces inside a region",
                        (int)(len > 64 ? 64 : len), a);
                return -1;
            }
        }
        if (len > POL_REGION_LEN) {
            err_set(err, errlen, "region '%.*s...' in shifted_regions is longer than %d characters", 32, a,
                    POL_REGION_LEN);
            return -1;
        }
        if (n == POL_MAX_REGIONS) {
            err_set(err, errlen, "too many regions in shifted_regions (at most %d)", POL_MAX_REGIONS);
            return -1;
        }
        memcpy(list[n], a, len);
        list[n][len] = '\0';
        n++;
        s = *end == ',' ? end + 1 : end;
        /* "65," would otherwise end the loop without noticing the empty item. */
        if (*end == ',' && *s == '\0') {
            err_set(err, errlen, "empty region in shifted_regions '%.64s'", value);
            return -1;
        }
    }
    memcpy(p->shifted_regions, list, sizeof(list));
    p->n_shifted_regions = n;
    return 0;
}

/* "+08:00", "-05:30" or "Z". */
static int set_utc_offset(Policy *p, const char *value, char *err, size_t errlen)
{
    int minutes = 0;
    const char *s = value;
    bool ok;
    if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
        ok = true;
    } else {
        ok = (s[0] == '+' || s[0] == '-') && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
             s[3] == ':' && isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) && s[6] == '\0';
        if (ok) {
            int hh = (s[1] - '0') * 10 + (s[2] - '0');
            int mm = (s[4] - '0') * 10 + (s[5] - '0');
            minutes = hh * 60 + mm;
            ok = mm < 60 && minutes <= 14 * 60;
            if (s[0] == '-')
                minutes = -minutes;
        }
    }
    if (!ok) {
        err_set(err, errlen, "bad value '%.64s' for utc_offset: expected +hh:mm or -hh:mm within 14 hours of UTC",
                value);
        return -1;
    }
    Calendar *c = cal_clone(p->cal);
    if (c == NULL) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    if (cal_set_utc_offset(c, minutes) != 0) {
        cal_free(c);
        err_set(err, errlen, "bad value '%.64s' for utc_offset", value);
        return -1;
    }
    cal_free(p->cal);
    p->cal = c;
    return 0;
}

static int set_cal_text(Policy *p, const PolKey *k, const char *value, char *err, size_t errlen)
{
    char msg[200] = "";
    char *text = strdup(value);
    Calendar *c = cal_clone(p->cal);
    if (text == NULL || c == NULL) {
        free(text);
        cal_free(c);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    switch (k->cal) {
    case CAL_WINDOWS:
        rc = cal_set_windows(c, value, msg, sizeof(msg));
        break;
    case CAL_WORKDAYS:
        rc = cal_set_workdays(c, value, msg, sizeof(msg));
        break;
    case CAL_HOLIDAYS:
        rc = cal_set_holidays(c, value, msg, sizeof(msg));
        break;
    case CAL_EXTRA_WORKDAYS:
        rc = cal_set_extra_workdays(c, value, msg, sizeof(msg));
        break;
    }
    if (rc != 0) {
        free(text);
        cal_free(c);
        if (msg[0] != '\0')
            err_set(err, errlen, "bad value for %s: %s", k->name, msg);
        else
            err_set(err, errlen, "bad value '%.64s' for %s", value, k->name);
        return -1;
    }
    cal_free(p->cal);
    p->cal = c;
    char **slot = (char **)(void *)((char *)p + k->off);
    free(*slot);
    *slot = text;
    return 0;
}

static const PolKey *find_key(const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, key) == 0)
            return &keys[i];
    return NULL;
}

/* "sla.<target>.<variant>" -> indices; false for anything else. */
static bool find_sla_key(const char *key, PolTarget *t, PolVariant *v)
{
    for (int i = 0; i < TGT__COUNT; i++) {
        for (int j = 0; j < VAR__COUNT; j++) {
            if (strcmp(sla_keys[i][j], key) == 0) {
                *t = (PolTarget)i;
                *v = (PolVariant)j;
                return true;
            }
        }
    }
    return false;
}

int pol_set(Policy *p, const char *key, const char *value, char *err, size_t errlen)
{
    PolTarget t;
    PolVariant v;
    if (find_sla_key(key, &t, &v))
        return set_sla(p, t, v, value, err, errlen);

    const PolKey *k = find_key(key);
    if (k == NULL) {
        err_set(err, errlen, "unknown policy key '%.64s'", key);
        return 1;
    }
    char *field = (char *)p + k->off;
    switch (k->kind) {
    case PK_DURATION:
        return set_duration((int64_t *)(void *)field, k, value, err, errlen);
    case PK_INT:
        return set_int((int *)(void *)field, k, value, err, errlen);
    case PK_PERCENT:
        return set_percent((int *)(void *)field, k, value, err, errlen);
    case PK_REGIONS:
        return set_regions(p, value, err, errlen);
    case PK_UTC_OFFSET:
        return set_utc_offset(p, value, err, errlen);
    case PK_CAL_TEXT:
        return set_cal_text(p, k, value, err, errlen);
    case PK_SLA:
        return parse_sla((SlaRule *)(void *)field, k->name, value, err, errlen);
    case PK_SCHEDULE:
        return set_schedule(p, k, value, err, errlen);
    }
    return -1;
}

/* Largest units first, the inverse of tu_parse_duration. SLA budgets are
 * written in hours ("120h", as in the contract) rather than days. */
static int fmt_duration(char *buf, size_t len, int64_t s, bool use_days)
{
    if (s == 0)
        return snprintf(buf, len, "0");
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', DAY}, {'h', HOUR}, {'m', 60}, {'s', 1}};
    int total = 0;
    for (size_t i = use_days ? 0 : 1; i < sizeof(units) / sizeof(units[0]); i++) {
        if (s >= units[i].secs) {
            size_t used = (size_t)total < len ? (size_t)total : len;
            total += snprintf(buf + used, len - used, "%lld%c", (long long)(s / units[i].secs), units[i].unit);
            s %= units[i].secs;
        }
    }
    return total;
}

int pol_get(const Policy *p, const char *key, char *buf, size_t buflen)
{
    char tmp[2][32];
    PolTarget t;
    PolVariant v;
    const SlaRule *r = NULL;
    const PolKey *k = NULL;
    if (find_sla_key(key, &t, &v))
        r = &p->sla[t][v];
    else if ((k = find_key(key)) && k->kind == PK_SLA)
        r = (const SlaRule *)(const void *)((const char *)p + k->off);
    if (r) {
        const char *clock = r->clock == CLK_BUSINESS ? "business" : "calendar";
        fmt_duration(tmp[0], sizeof(tmp[0]), r->budget, false);
        if (r->warn < 0)
            return snprintf(buf, buflen, "%s %s", tmp[0], clock);
        fmt_duration(tmp[1], sizeof(tmp[1]), r->warn, false);
        return snprintf(buf, buflen, "%s %s warn %s", tmp[0], clock, tmp[1]);
    }

    if (k == NULL)
        return -1;
    const char *field = (const char *)p + k->off;
    switch (k->kind) {
    case PK_DURATION:
        return fmt_duration(buf, buflen, *(const int64_t *)(const void *)field, true);
    case PK_INT:
        return snprintf(buf, buflen, "%d", *(const int *)(const void *)field);
    case PK_PERCENT:
        return snprintf(buf, buflen, "%d%%", *(const int *)(const void *)field);
    case PK_REGIONS: {
        int total = 0;
        if (buflen > 0)
            buf[0] = '\0';
        for (int i = 0; i < p->n_shifted_regions; i++) {
            size_t used = (size_t)total < buflen ? (size_t)total : buflen;
            total += snprintf(buf + used, buflen - used, "%s%s", i > 0 ? "," : "", p->shifted_regions[i]);
        }
        return total;
    }
    case PK_UTC_OFFSET: {
        int m = cal_utc_offset(p->cal);
        int a = m < 0 ? -m : m;
        return snprintf(buf, buflen, "%c%02d:%02d", m < 0 ? '-' : '+', a / 60, a % 60);
    }
    case PK_CAL_TEXT:
        return snprintf(buf, buflen, "%s", *(char *const *)(const void *)field);
    case PK_SCHEDULE: {
        int total = 0;
        if (buflen > 0)
            buf[0] = '\0';
        for (int i = 0; i < p->n_response_schedule; i++) {
            char d[32];
            fmt_duration(d, sizeof d, p->response_schedule[i], true);
            size_t used = (size_t)total < buflen ? (size_t)total : buflen;
            total += snprintf(buf + used, buflen - used, "%s%s", i > 0 ? "," : "", d);
        }
        return total;
    }
    case PK_SLA:
        break; /* above */
    }
    return -1;
}
