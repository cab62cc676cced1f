/* evt: decoding and validation of complaint.v1 and scan.v1 events.
 *
 * Fields are checked in a fixed order (schema, the common fields, then the
 * fields of the type) and the first failure wins, so the same bad message
 * always gets the same dead-letter reason and detail. A detail starts with
 * the field name; values from the message are never copied into it, except
 * an unknown schema name, sanitised, because that is what an operator needs
 * to find the producer that sends it. */
#include "evt.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"

/* `reason` of closed/paused: free text, never stored or logged, so any
 * length is taken (max_event_bytes bounds the message): a close must not be
 * lost for a long explanation. */
#define REASON_MAX SIZE_MAX
/* Longest occurred_at handed to the parser: a date-time with nanoseconds
 * and an offset is 35 bytes; the rest is room for producers that write
 * more fraction digits (dropped after the second, contract §1). */
#define TIME_MAX 256
/* How much of an unknown schema name goes into the detail. */
#define SCHEMA_SHOWN_MAX 40

static const char *const status_names[] = {
    [EVT_OK] = "ok",
    [EVT_MALFORMED_JSON] = "malformed_json",
    [EVT_UNKNOWN_SCHEMA] = "unknown_schema",
    [EVT_MISSING_FIELD] = "missing_field",
    [EVT_INVALID_FIELD] = "invalid_field",
    [EVT_TOO_LARGE] = "too_large",
};

static const char *const type_names[CT__COUNT] = {
    [CT_RECEIVED] = "received", [CT_CONTACTED] = "contacted", [CT_FIRST_REPLY] = "first_reply",
    [CT_RESOLVED] = "resolved", [CT_REVISIT] = "revisit",     [CT_UPDATED] = "updated",
    [CT_CLOSED] = "closed",     [CT_PAUSED] = "paused",       [CT_RESUMED] = "resumed",
    [CT_EXTENDED] = "extended", [CT_PROGRESS] = "progress",
};

static const char *const channel_names[CH__COUNT] = {
    [CH_HOTLINE] = "hotline",
    [CH_ONLINE] = "online",
    [CH_APP] = "app",
    [CH_WECHAT] = "wechat",
    [CH_EMAIL] = "email",
    [CH_LETTER] = "letter",
    [CH_WALK_IN] = "walk_in",
    [CH_REGULATOR] = "regulator",
    [CH_CONSUMER_ASSOCIATION] = "consumer_association",
    [CH_MEDIA] = "media",
    [CH_SUPERVISOR_HOTLINE] = "supervisor_hotline",
};

static const char *const category_names[CAT__COUNT] = {
    [CAT_DELAY] = "delay",       [CAT_LOSS] = "loss",         [CAT_DAMAGE] = "damage",
    [CAT_SHORTAGE] = "shortage", [CAT_MISMATCH] = "mismatch", [CAT_FALSE_SIGNATURE] = "false_signature",
    [CAT_FEE] = "fee",           [CAT_ATTITUDE] = "attitude", [CAT_OUT_OF_AREA] = "out_of_area",
    [CAT_MISROUTE] = "misroute", [CAT_OTHER] = "other",
};

static const char *const scan_type_names[SCAN__COUNT] = {
    [SCAN_PICKUP] = "pickup", [SCAN_DEPART] = "depart",   [SCAN_ARRIVE] = "arrive", [SCAN_DELIVER] = "deliver",
    [SCAN_SIGNED] = "signed", [SCAN_PROBLEM] = "problem", [SCAN_RETURN] = "return",
};

static const char *const role_names[ROLE__COUNT] = {
    [ROLE_ORIGIN] = "origin",
    [ROLE_HUB] = "hub",
    [ROLE_DELIVERY] = "delivery",
};

static const char *const stage_names[] = {
    [EXT_FIRST_REPLY] = "first_reply",
    [EXT_RESOLVE] = "resolve",
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_at(const char *const *names, int n, int i)
{
    return (i >= 0 && i < n) ? names[i] : NULL;
}

static int index_of(const char *const *names, int n, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return i;
    }
    return -1;
}

const char *evt_status_name(EvtStatus s)
{
    return name_at(status_names, NELEM(status_names), (int)s);
}

const char *evt_type_name(ComplaintType t)
{
    return name_at(type_names, CT__COUNT, (int)t);
}

const char *evt_channel_name(Channel c)
{
    return name_at(channel_names, CH__COUNT, (int)c);
}

const char *evt_category_name(Category c)
{
    return name_at(category_names, CAT__COUNT, (int)c);
}

const char *evt_scan_type_name(ScanType t)
{
    return name_at(scan_type_names, SCAN__COUNT, (int)t);
}

const char *evt_role_name(SiteRole r)
{
    return name_at(role_names, ROLE__COUNT, (int)r);
}

const char *evt_ext_stage_name(ExtStage s)
{
    return name_at(stage_names, NELEM(stage_names), (int)s);
}

int evt_type_from_name(const char *s)
{
    return index_of(type_names, CT__COUNT, s);
}

int evt_category_from_name(const char *s)
{
    return index_of(category_names, CAT__COUNT, s);
}

int evt_channel_from_name(const char *s)
{
    return index_of(channel_names, CH__COUNT, s);
}

int evt_scan_type_from_name(const char *s)
{
    return index_of(scan_type_names, SCAN__COUNT, s);
}

int evt_role_from_name(const char *s)
{
    return index_of(role_names, ROLE__COUNT, s);
}

/* ---- decoding --------------------------------------------------------- */

typedef struct {
    json_t *root;
    char *detail;
    size_t detaillen;
} Dec;

__attribute__((format(printf, 3, 4))) static EvtStatus fail(Dec *d, EvtStatus st, const char *fmt, ...)
{
    if (d->detail != NULL && d->detaillen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->detail, d->detaillen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static EvtStatus invalid(Dec *d, const char *field, const char *why)
{
    return fail(d, EVT_INVALID_FIELD, "%s: %s", field, why);
}

/* *v is NULL when the field is absent or null: a producer that writes
 * `"site": null` means "no site", and a required field set to null is as
 * missing as one left out. */
static EvtStatus lookup(Dec *d, const char *field, bool required, json_t **v)
{
    *v = json_object_get(d->root, field);
    if (json_is_null(*v))
        *v = NULL;
    if (*v == NULL && required)
        return fail(d, EVT_MISSING_FIELD, "%s", field);
    return EVT_OK;
}

typedef enum {
    CS_ANY,     /* not stored: anything valid in JSON */
    CS_TEXT,    /* stored: no control characters (C0, DEL, C1) */
    CS_TICKET,  /* [A-Za-z0-9._:-] */
    CS_WAYBILL, /* [A-Za-z0-9-] */
    CS_REGION,  /* [A-Za-z0-9_-] */
} Charset;

typedef struct {
    const char *name;
    size_t min, max;
    Charset cs;
    const char *rule; /* the detail's reason when the value breaks the rule */
} StrRule;

static const StrRule R_EVENT_ID = {"event_id", 1, EVT_ID_MAX, CS_TEXT,
                                   "must be 1..128 bytes without control characters"};
static const StrRule R_TICKET_ID = {"ticket_id", 1, EVT_TICKET_MAX, CS_TICKET, "must be 1..64 of [A-Za-z0-9._:-]"};
static const StrRule R_WAYBILL = {"waybill", 1, EVT_WAYBILL_MAX, CS_WAYBILL, "must be 1..64 of [A-Za-z0-9-]"};
/* A scan's waybill: contract §3 gives only "string", and a scan refused is a
 * parcel's history lost, so any text of the length the parcel set keeps. */
static const StrRule R_SCAN_WAYBILL = {"waybill", 1, EVT_WAYBILL_MAX, CS_TEXT,
                                       "must be 1..64 bytes without control characters"};
static const StrRule R_SITE = {"site", 1, EVT_SITE_MAX, CS_TEXT, "must be 1..64 bytes without control characters"};
static const StrRule R_NEXT_SITE = {"next_site", 1, EVT_SITE_MAX, CS_TEXT,
                                    "must be 1..64 bytes without control characters"};
static const StrRule R_REGION = {"region", 1, EVT_REGION_MAX, CS_REGION, "must be 1..32 of [A-Za-z0-9_-]"};
static const StrRule R_CUSTOMER_REF = {"customer_ref", 1, EVT_REF_MAX, CS_TEXT,
                                       "must be 1..128 bytes without control characters"};
static const StrRule R_APPROVED_BY = {"approved_by", 1, EVT_REF_MAX, CS_TEXT,
                                      "must be 1..128 bytes without control characters"};
static const StrRule R_REASON = {"reason", 0, REASON_MAX, CS_ANY, "must be a string"};

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Jansson hands out valid UTF-8 only, so C1 controls (U+0080..U+009F) are
 * exactly the two-byte sequences C2 80..C2 9F. An embedded NUL (\u0000) is a
 * C0 control and fails every class but CS_ANY. */
static bool charset_ok(Charset cs, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        switch (cs) {
        case CS_ANY:
            return true;
        case CS_TEXT:
            if (c < 0x20 || c == 0x7f)
                return false;
            if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
                return false;
            break;
        case CS_TICKET:
            if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
                return false;
            break;
        case CS_WAYBILL:
            if (!is_alnum(c) && c != '-')
                return false;
            break;
        case CS_REGION:
            if (!is_alnum(c) && c != '_' && c != '-')
                return false;
            break;
        }
    }
    return true;
}

/* Copies a valid value into out (which holds r->max + 1 bytes), or just
 * checks it when out is NULL. *present says whether the field was there. */
/* Whether the n bytes at s (the decoded string) obey the rule. */
static bool rule_ok(const StrRule *r, const char *s, size_t n)
{
    return n >= r->min && n <= r->max && charset_ok(r->cs, s, n);
}

/* The index of the name that is exactly the n bytes at s, or -1. A value
 * with an embedded NUL ("hub\u0000x") matches none. */
static int name_index(const char *const *names, int count, const char *s, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return i;
    return -1;
}

static EvtStatus get_string(Dec *d, const StrRule *r, bool required, char *out, bool *present)
{
    json_t *v;
    EvtStatus st = lookup(d, r->name, required, &v);
    *present = false;
    if (st != EVT_OK || v == NULL)
        return st;
    if (!json_is_string(v))
        return invalid(d, r->name, "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!rule_ok(r, s, n))
        return invalid(d, r->name, r->rule);
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    *present = true;
    return EVT_OK;
}

/* *out is the index in names, or -1 when the field is absent. */
static EvtStatus get_enum(Dec *d, const char *field, bool required, const char *const *names, int n, const char *rule,
                          int *out)
{
    json_t *v;
    EvtStatus st = lookup(d, field, required, &v);
    *out = -1;
    if (st != EVT_OK || v == NULL)
        return st;
    if (!json_is_string(v))
        return invalid(d, field, "must be a string");
    int i = name_index(names, n, json_string_value(v), json_string_length(v));
    if (i < 0)
        return invalid(d, field, rule);
    *out = i;
    return EVT_OK;
}

/* Only JSON true and false: 0, 1, "true" and "yes" are producer bugs that
 * should surface, not be guessed at. */
static EvtStatus get_bool(Dec *d, const char *field, bool required, bool *out, bool *present)
{
    json_t *v;
    EvtStatus st = lookup(d, field, required, &v);
    *present = false;
    if (st != EVT_OK || v == NULL)
        return st;
    if (!json_is_boolean(v))
        return invalid(d, field, "must be true or false");
    *out = json_is_true(v);
    *present = true;
    return EVT_OK;
}

static EvtStatus time_of(Dec *d, const char *field, json_t *v, int64_t *out)
{
    static const char rule[] = "must be an RFC 3339 time with an offset";
    if (!json_is_string(v))
        return invalid(d, field, rule);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > TIME_MAX || strlen(s) != n || tu_parse_rfc3339(s, out) != 0)
        return invalid(d, field, rule);
    return EVT_OK;
}

/* An optional time: *present says whether it was there. */
static EvtStatus get_opt_time(Dec *d, const char *field, int64_t *out, bool *present)
{
    json_t *v;
    EvtStatus st = lookup(d, field, false, &v);
    *present = v != NULL;
    if (st != EVT_OK || !v)
        return st;
    return time_of(d, field, v, out);
}

/* occurred_at, and its fraction of a second in nanoseconds. */
static EvtStatus get_occurred(Dec *d, int64_t *out, uint32_t *ns)
{
    json_t *v;
    EvtStatus st = lookup(d, "occurred_at", true, &v);
    if (st == EVT_OK && (st = time_of(d, "occurred_at", v, out)) == EVT_OK)
        *ns = tu_rfc3339_fraction_ns(json_string_value(v));
    return st;
}

/* Writes the schema name seen, printable ASCII only and cut short: it comes
 * from an unknown producer and ends up in logs and on the DLQ topic. */
static EvtStatus unknown_schema(Dec *d, json_t *v, const char *expected)
{
    char shown[SCHEMA_SHOWN_MAX + 4];
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v);
    size_t k = 0;
    for (size_t i = 0; i < n && k < SCHEMA_SHOWN_MAX; i++) {
        /* One '?' per UTF-8 character rather than per byte. */
        if ((s[i] & 0xc0) == 0x80)
            continue;
        shown[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    }
    shown[k] = '\0';
    if (k == SCHEMA_SHOWN_MAX && n > SCHEMA_SHOWN_MAX)
        strcpy(shown + k, "...");
    return fail(d, EVT_UNKNOWN_SCHEMA, "schema: \"%s\", expected %s", shown, expected);
}

static const char *json_error_reason(const json_error_t *err)
{
    switch (json_error_code(err)) {
    case json_error_out_of_memory:
        return "out of memory while parsing";
    case json_error_stack_overflow:
        return "nested too deeply";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "unexpected end of input";
    case json_error_end_of_input_expected:
        return "data after the JSON value";
    case json_error_null_byte_in_key:
        return "NUL in an object key";
    case json_error_duplicate_key:
        return "duplicate object key";
    case json_error_numeric_overflow:
        return "number out of range";
    default:
        return "invalid syntax";
    }
}

/* Size check, parse and schema check, shared by both decoders. On success
 * d->root holds a reference the caller must release. */
static EvtStatus open_message(Dec *d, const char *buf, size_t len, size_t max_bytes, const char *schema)
{
    d->root = NULL;
    if (d->detail != NULL && d->detaillen > 0)
        d->detail[0] = '\0';
    if (len > max_bytes)
        return fail(d, EVT_TOO_LARGE, "message is %zu bytes, limit %zu", len, max_bytes);
    if (buf == NULL || len == 0)
        return fail(d, EVT_MALFORMED_JSON, "empty message");

    /* Jansson's own error text quotes the bytes near the error, which may
     * be personal data (a customer_ref cut by a syntax error): only its code
     * and position are reported. JSON_ALLOW_NUL keeps a "\u0000" in a field
     * we ignore from rejecting the whole message; fields we keep refuse it. */
    json_error_t err;
    d->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (d->root == NULL)
        return fail(d, EVT_MALFORMED_JSON, "%s at byte %d", json_error_reason(&err), err.position);
    if (!json_is_object(d->root))
        return fail(d, EVT_MALFORMED_JSON, "top level is not a JSON object");

    json_t *v;
    EvtStatus st = lookup(d, "schema", true, &v);
    if (st != EVT_OK)
        return st;
    if (!json_is_string(v))
        return invalid(d, "schema", "must be a string");
    if (strcmp(json_string_value(v), schema) != 0 || json_string_length(v) != strlen(schema))
        return unknown_schema(d, v, schema);
    return EVT_OK;
}

/* The facts that make a complaint major (§12.5), on received and updated. */
static EvtStatus decode_facts(Dec *d, ComplaintEvent *ev)
{
    EvtStatus st;
    bool present;
    json_t *v;
    if ((st = lookup(d, "claim_amount", false, &v)) != EVT_OK)
        return st;
    if (v) {
        /* a number of yuan, fractions allowed; NaN and infinities cannot be JSON */
        if (!json_is_number(v) || json_number_value(v) < 0)
            return invalid(d, "claim_amount", "must be a number >= 0");
        ev->claim_amount = json_number_value(v);
        ev->has |= EVF_CLAIM_AMOUNT;
    }
    if ((st = lookup(d, "complainants", false, &v)) != EVT_OK)
        return st;
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000)
            return invalid(d, "complainants", "must be an integer >= 1");
        ev->complainants = (int)json_integer_value(v);
        ev->has |= EVF_COMPLAINANTS;
    }
    if ((st = get_bool(d, "injury", false, &ev->injury, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_INJURY : 0u;
    if ((st = get_bool(d, "vip", false, &ev->vip, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_VIP : 0u;
    if ((st = get_bool(d, "executive", false, &ev->executive, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_EXECUTIVE : 0u;
    return EVT_OK;
}

static const char *const validity_names[] = {"valid", "invalid"};

/* The classification fields shared by received and updated. In received,
 * category is required; in updated every one of them is optional. */
static EvtStatus decode_attrs(Dec *d, ComplaintEvent *ev, bool is_received)
{
    static const char category_rule[] = "must be one of delay, loss, damage, shortage, mismatch, "
                                        "false_signature, fee, attitude, out_of_area, misroute, other";
    EvtStatus st;
    bool present;
    int i;

    st = get_enum(d, "category", is_received, category_names, CAT__COUNT, category_rule, &i);
    if (st != EVT_OK)
        return st;
    if (i >= 0) {
        ev->category = (Category)i;
        ev->has |= EVF_CATEGORY;
    }
    if ((st = get_string(d, &R_WAYBILL, false, ev->waybill, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_WAYBILL : 0u;
    if ((st = get_string(d, &R_SITE, false, ev->site, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_SITE : 0u;
    if ((st = get_string(d, &R_REGION, false, ev->region, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_REGION : 0u;
    if ((st = get_bool(d, "claim", false, &ev->claim, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_CLAIM : 0u;
    if ((st = get_bool(d, "major", false, &ev->major, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_MAJOR : 0u;
    return decode_facts(d, ev);
}

static EvtStatus decode_received(Dec *d, ComplaintEvent *ev)
{
    static const char channel_rule[] = "must be one of hotline, online, app, wechat, email, letter, walk_in, "
                                       "regulator, consumer_association, media, supervisor_hotline";
    EvtStatus st;
    bool present;
    int i;

    if ((st = get_enum(d, "channel", true, channel_names, CH__COUNT, channel_rule, &i)) != EVT_OK)
        return st;
    ev->channel = (Channel)i;
    ev->has |= EVF_CHANNEL;
    if ((st = decode_attrs(d, ev, true)) != EVT_OK)
        return st;
    if ((st = get_string(d, &R_CUSTOMER_REF, false, ev->customer_ref, &present)) != EVT_OK)
        return st;
    ev->has |= present ? EVF_CUSTOMER_REF : 0u;
    return EVT_OK;
}

static EvtStatus decode_extended(Dec *d, ComplaintEvent *ev)
{
    EvtStatus st;
    bool present;
    json_t *v;
    int i;

    st = get_enum(d, "stage", true, stage_names, NELEM(stage_names), "must be first_reply or resolve", &i);
    if (st != EVT_OK)
        return st;
    ev->ext_stage = (ExtStage)i;

    /* json_is_integer is false for 2.0: an extension is granted in whole
     * hours, and a producer sending reals has a bug worth seeing. */
    if ((st = lookup(d, "hours", true, &v)) != EVT_OK)
        return st;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 720)
        return invalid(d, "hours", "must be an integer 1..720");
    ev->ext_hours = (int)json_integer_value(v);

    return get_string(d, &R_APPROVED_BY, false, ev->approved_by, &present);
}

EvtStatus evt_decode_complaint(const char *buf, size_t len, size_t max_bytes, ComplaintEvent *ev, char *detail,
                               size_t detaillen)
{
    static const char type_rule[] = "must be one of received, contacted, first_reply, resolved, revisit, "
                                    "updated, closed, paused, resumed, extended, progress";
    Dec d = {.root = NULL, .detail = detail, .detaillen = detaillen};
    EvtStatus st;
    bool present;
    int i;

    memset(ev, 0, sizeof(*ev));
    if ((st = open_message(&d, buf, len, max_bytes, "complaint.v1")) != EVT_OK)
        goto done;
    if ((st = get_string(&d, &R_EVENT_ID, true, ev->event_id, &present)) != EVT_OK)
        goto done;
    if ((st = get_string(&d, &R_TICKET_ID, true, ev->ticket_id, &present)) != EVT_OK)
        goto done;
    if ((st = get_enum(&d, "type", true, type_names, CT__COUNT, type_rule, &i)) != EVT_OK)
        goto done;
    ev->type = (ComplaintType)i;
    if ((st = get_occurred(&d, &ev->occurred_at, &ev->occurred_ns)) != EVT_OK)
        goto done;

    switch (ev->type) {
    case CT_RECEIVED:
        st = decode_received(&d, ev);
        break;
    case CT_REVISIT:
        st = get_bool(&d, "satisfied", true, &ev->satisfied, &present);
        if (st == EVT_OK)
            ev->has |= EVF_SATISFIED;
        break;
    case CT_UPDATED:
        st = decode_attrs(&d, ev, false);
        if (st == EVT_OK)
            st = get_enum(&d, "validity", false, validity_names, 2, "must be valid or invalid", &i);
        if (st == EVT_OK && i >= 0) {
            ev->invalid = i == 1;
            ev->has |= EVF_VALIDITY;
        }
        break;
    case CT_CLOSED:
        st = get_string(&d, &R_REASON, false, NULL, &present);
        break;
    case CT_PAUSED:
        st = get_string(&d, &R_REASON, false, NULL, &present);
        if (st == EVT_OK)
            st = get_opt_time(&d, "until", &ev->until, &present);
        if (st == EVT_OK && present) {
            if (ev->until < ev->occurred_at)
                st = invalid(&d, "until", "must not be before occurred_at");
            else
                ev->has |= EVF_UNTIL;
        }
        break;
    case CT_EXTENDED:
        st = decode_extended(&d, ev);
        break;
    case CT_CONTACTED:
    case CT_FIRST_REPLY:
    case CT_RESOLVED:
    case CT_RESUMED:
    case CT_PROGRESS:
    case CT__COUNT:
        break;
    }

done:
    json_decref(d.root);
    return st;
}

/* ---- the usual scan, without a Jansson tree ------------------------------
 *
 * Most scans are a flat object of short ASCII strings, and building a
 * Jansson tree for each was most of what a scan cost to decode. For those,
 * the fields are read straight from the bytes. This path accepts only what
 * it can judge exactly: an object whose keys and values are all strings of
 * printable ASCII without escapes (so the bytes are the decoded string), no
 * key twice, at most FAST_KEYS keys, and fields that pass every rule.
 * Anything else, valid or not, goes to the tree, which alone reports what
 * is wrong: every message decodes to the same event or the same error
 * either way (test_evt and the fuzz target compare the two). */

#define FAST_KEYS 16

typedef struct {
    const char *k, *v;
    size_t kn, vn;
} FastKv;

static const char *fast_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A string at p of printable ASCII without a backslash; returns the byte
 * after its closing quote, or NULL. */
static const char *fast_str(const char *p, const char *end, const char **s, size_t *n)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *q = ++p;
    while (q < end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return NULL;
        q++;
    }
    if (q >= end)
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

/* The object's members, or -1 when the fast path cannot judge it. */
static int fast_members(const char *buf, size_t len, FastKv *kv)
{
    const char *p = fast_ws(buf, buf + len), *end = buf + len;
    if (p >= end || *p != '{')
        return -1;
    p = fast_ws(p + 1, end);
    int n = 0;
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (n == FAST_KEYS || !(p = fast_str(p, end, &kv[n].k, &kv[n].kn)))
                return -1;
            p = fast_ws(p, end);
            if (p >= end || *p != ':')
                return -1;
            if (!(p = fast_str(fast_ws(p + 1, end), end, &kv[n].v, &kv[n].vn)))
                return -1;
            for (int i = 0; i < n; i++)
                if (kv[i].kn == kv[n].kn && memcmp(kv[i].k, kv[n].k, kv[n].kn) == 0)
                    return -1;
            n++;
            p = fast_ws(p, end);
            if (p < end && *p == ',') {
                p = fast_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    return fast_ws(p, end) == end ? n : -1;
}

static const FastKv *fast_get(const FastKv *kv, int n, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < n; i++)
        if (kv[i].kn == len && memcmp(kv[i].k, name, len) == 0)
            return &kv[i];
    return NULL;
}

static bool fast_string(const FastKv *kv, int n, const StrRule *r, bool required, char *out)
{
    const FastKv *f = fast_get(kv, n, r->name);
    if (!f)
        return !required;
    if (!rule_ok(r, f->v, f->vn))
        return false;
    memcpy(out, f->v, f->vn);
    out[f->vn] = '\0';
    return true;
}

/* *out as get_enum gives it: the index, or -1 when absent. */
static bool fast_enum(const FastKv *kv, int n, const char *field, bool required, const char *const *names,
                      int count, int *out)
{
    const FastKv *f = fast_get(kv, n, field);
    *out = -1;
    if (!f)
        return !required;
    *out = name_index(names, count, f->v, f->vn);
    return *out >= 0;
}

bool evt_decode_scan_fast(const char *buf, size_t len, ScanEvent *ev)
{
    FastKv kv[FAST_KEYS];
    int n = fast_members(buf, len, kv), i;
    if (n < 0)
        return false;
    const FastKv *schema = fast_get(kv, n, "schema");
    if (!schema || schema->vn != 7 || memcmp(schema->v, "scan.v1", 7) != 0)
        return false;
    memset(ev, 0, sizeof(*ev));
    if (!fast_string(kv, n, &R_EVENT_ID, true, ev->event_id) || !fast_string(kv, n, &R_SCAN_WAYBILL, true, ev->waybill))
        return false;
    if (!fast_enum(kv, n, "scan_type", true, scan_type_names, SCAN__COUNT, &i))
        return false;
    ev->scan_type = (ScanType)i;
    if (!fast_string(kv, n, &R_SITE, true, ev->site) ||
        !fast_enum(kv, n, "site_role", true, role_names, ROLE__COUNT, &i))
        return false;
    ev->site_role = (SiteRole)i;
    if (!fast_string(kv, n, &R_NEXT_SITE, ev->scan_type == SCAN_DEPART, ev->next_site) ||
        !fast_enum(kv, n, "next_site_role", false, role_names, ROLE__COUNT, &i))
        return false;
    ev->next_site_role = (SiteRole)i;
    const FastKv *t = fast_get(kv, n, "occurred_at");
    char ts[TIME_MAX + 1];
    if (!t || t->vn > TIME_MAX)
        return false;
    memcpy(ts, t->v, t->vn);
    ts[t->vn] = '\0';
    if (tu_parse_rfc3339(ts, &ev->occurred_at) != 0)
        return false;
    ev->occurred_ns = tu_rfc3339_fraction_ns(ts);
    return true;
}

EvtStatus evt_decode_scan(const char *buf, size_t len, size_t max_bytes, ScanEvent *ev, char *detail, size_t detaillen)
{
    if (len <= max_bytes && buf != NULL && evt_decode_scan_fast(buf, len, ev)) {
        if (detail != NULL && detaillen > 0)
            detail[0] = '\0';
        return EVT_OK;
    }
    return evt_decode_scan_tree(buf, len, max_bytes, ev, detail, detaillen);
}

EvtStatus evt_decode_scan_tree(const char *buf, size_t len, size_t max_bytes, ScanEvent *ev, char *detail,
                               size_t detaillen)
{
    static const char scan_rule[] = "must be one of pickup, depart, arrive, deliver, signed, problem, return";
    static const char role_rule[] = "must be one of origin, hub, delivery";
    Dec d = {.root = NULL, .detail = detail, .detaillen = detaillen};
    EvtStatus st;
    bool present;
    int i;

    memset(ev, 0, sizeof(*ev));
    ev->site_role = ROLE_NONE;
    ev->next_site_role = ROLE_NONE;
    if ((st = open_message(&d, buf, len, max_bytes, "scan.v1")) != EVT_OK)
        goto done;
    if ((st = get_string(&d, &R_EVENT_ID, true, ev->event_id, &present)) != EVT_OK)
        goto done;
    if ((st = get_string(&d, &R_SCAN_WAYBILL, true, ev->waybill, &present)) != EVT_OK)
        goto done;
    if ((st = get_enum(&d, "scan_type", true, scan_type_names, SCAN__COUNT, scan_rule, &i)) != EVT_OK)
        goto done;
    ev->scan_type = (ScanType)i;
    if ((st = get_string(&d, &R_SITE, true, ev->site, &present)) != EVT_OK)
        goto done;
    if ((st = get_enum(&d, "site_role", true, role_names, ROLE__COUNT, role_rule, &i)) != EVT_OK)
        goto done;
    ev->site_role = (SiteRole)i;
    /* Responsibility for a parcel lost after a depart scan depends on where
     * it was sent, so a depart without next_site cannot be judged. */
    if ((st = get_string(&d, &R_NEXT_SITE, ev->scan_type == SCAN_DEPART, ev->next_site, &present)) != EVT_OK)
        goto done;
    if ((st = get_enum(&d, "next_site_role", false, role_names, ROLE__COUNT, role_rule, &i)) != EVT_OK)
        goto done;
    ev->next_site_role = (SiteRole)i;
    st = get_occurred(&d, &ev->occurred_at, &ev->occurred_ns);

done:
    json_decref(d.root);
    return st;
}
