/* evt: decoding and validation of complaint.v1 and scan.v1 events (contract §2, §3).
 *
 * Decoding never trusts the input: every rule failure gives one of the
 * dead-letter reasons of contract §10 and a detail that names the field.
 * Free text (`reason`) is not kept; personal data is only the pseudonymised
 * `customer_ref`, which the decoder copies but never prints in a detail. */
#ifndef COMPLAINTD_EVT_H
#define COMPLAINTD_EVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    EVT_OK = 0,
    EVT_MALFORMED_JSON,
    EVT_UNKNOWN_SCHEMA,
    EVT_MISSING_FIELD,
    EVT_INVALID_FIELD,
    EVT_TOO_LARGE,
} EvtStatus;

/* "malformed_json", "unknown_schema", ... (the dead-letter reason strings). */
const char *evt_status_name(EvtStatus s);

typedef enum {
    CT_RECEIVED, CT_CONTACTED, CT_FIRST_REPLY, CT_RESOLVED, CT_REVISIT,
    CT_UPDATED, CT_CLOSED, CT_PAUSED, CT_RESUMED, CT_EXTENDED,
    CT_PROGRESS, /* §12.4: a progress report given to the customer */
    CT__COUNT
} ComplaintType;

typedef enum {
    CH_HOTLINE, CH_ONLINE, CH_APP, CH_WECHAT, CH_EMAIL, CH_LETTER, CH_WALK_IN,
    CH_REGULATOR, CH_CONSUMER_ASSOCIATION, CH_MEDIA, CH_SUPERVISOR_HOTLINE,
    CH__COUNT
} Channel;

typedef enum {
    CAT_DELAY, CAT_LOSS, CAT_DAMAGE, CAT_SHORTAGE, CAT_MISMATCH,
    CAT_FALSE_SIGNATURE, CAT_FEE, CAT_ATTITUDE, CAT_OUT_OF_AREA, CAT_MISROUTE,
    CAT_OTHER,
    CAT__COUNT
} Category;

/* Stage of an `extended` event. */
typedef enum { EXT_FIRST_REPLY, EXT_RESOLVE } ExtStage;

typedef enum {
    SCAN_PICKUP, SCAN_DEPART, SCAN_ARRIVE, SCAN_DELIVER, SCAN_SIGNED,
    SCAN_PROBLEM, SCAN_RETURN,
    SCAN__COUNT
} ScanType;

typedef enum { ROLE_NONE = -1, ROLE_ORIGIN = 0, ROLE_HUB, ROLE_DELIVERY, ROLE__COUNT } SiteRole;

const char *evt_type_name(ComplaintType t);
const char *evt_channel_name(Channel c);
const char *evt_category_name(Category c);
const char *evt_scan_type_name(ScanType t);
const char *evt_role_name(SiteRole r); /* NULL for ROLE_NONE */
/* Reverse look-ups: -1 when the name is unknown. */
int evt_category_from_name(const char *s);
int evt_channel_from_name(const char *s);
int evt_type_from_name(const char *s);
int evt_scan_type_from_name(const char *s);
int evt_role_from_name(const char *s); /* -1 is also ROLE_NONE */
/* "first_reply" or "resolve"; NULL for a value out of range, as for the other
 * name functions. */
const char *evt_ext_stage_name(ExtStage s);

#define EVT_ID_MAX 128
#define EVT_TICKET_MAX 64
#define EVT_WAYBILL_MAX 64
#define EVT_SITE_MAX 64
#define EVT_REGION_MAX 32
#define EVT_REF_MAX 128
#define EVT_DETAIL_MAX 160

/* Which optional fields an event carried (received / updated). */
enum {
    EVF_CHANNEL = 1u << 0,
    EVF_CATEGORY = 1u << 1,
    EVF_WAYBILL = 1u << 2,
    EVF_SITE = 1u << 3,
    EVF_REGION = 1u << 4,
    EVF_CLAIM = 1u << 5,
    EVF_MAJOR = 1u << 6,
    EVF_CUSTOMER_REF = 1u << 7,
    EVF_SATISFIED = 1u << 8,
    /* §12 */
    EVF_UNTIL = 1u << 9,          /* paused */
    EVF_CLAIM_AMOUNT = 1u << 10,  /* received, updated */
    EVF_COMPLAINANTS = 1u << 11,
    EVF_INJURY = 1u << 12,
    EVF_VIP = 1u << 13,
    EVF_EXECUTIVE = 1u << 14,
    EVF_VALIDITY = 1u << 15,      /* updated */
};

typedef struct ComplaintEvent {
    char event_id[EVT_ID_MAX + 1];
    char ticket_id[EVT_TICKET_MAX + 1];
    ComplaintType type;
    int64_t occurred_at; /* Unix seconds, the fraction dropped */
    uint32_t occurred_ns; /* its fraction in ns, 0: none; with one the event is after occurred_at, in that second */
    unsigned has;        /* EVF_* */
    Channel channel;
    Category category;
    char waybill[EVT_WAYBILL_MAX + 1];
    char site[EVT_SITE_MAX + 1];
    char region[EVT_REGION_MAX + 1];
    bool claim;
    bool major;
    char customer_ref[EVT_REF_MAX + 1];
    bool satisfied;          /* revisit */
    ExtStage ext_stage;      /* extended */
    int ext_hours;           /* extended: 1..720 */
    char approved_by[EVT_REF_MAX + 1]; /* extended, optional */
    int64_t until;           /* paused: the agreed date (EVF_UNTIL) */
    double claim_amount;     /* CNY, >= 0 (EVF_CLAIM_AMOUNT) */
    int complainants;        /* >= 1 (EVF_COMPLAINANTS) */
    bool injury, vip, executive; /* EVF_INJURY, EVF_VIP, EVF_EXECUTIVE */
    bool invalid;            /* updated: validity "invalid" (EVF_VALIDITY) */
} ComplaintEvent;

typedef struct ScanEvent {
    char event_id[EVT_ID_MAX + 1];
    char waybill[EVT_WAYBILL_MAX + 1];
    ScanType scan_type;
    char site[EVT_SITE_MAX + 1];
    SiteRole site_role;
    char next_site[EVT_SITE_MAX + 1];  /* "" when absent */
    SiteRole next_site_role;           /* ROLE_NONE when absent */
    int64_t occurred_at;
    uint32_t occurred_ns; /* as ComplaintEvent's */
} ScanEvent;

/* Decode one message. len > max_bytes gives EVT_TOO_LARGE before parsing.
 * On failure, detail gets the field name (or what is wrong) and *ev is
 * unspecified. */
__attribute__((warn_unused_result)) EvtStatus evt_decode_complaint(const char *buf, size_t len, size_t max_bytes,
                                                                   ComplaintEvent *ev, char *detail, size_t detaillen);
__attribute__((warn_unused_result)) EvtStatus evt_decode_scan(const char *buf, size_t len, size_t max_bytes,
                                                              ScanEvent *ev, char *detail, size_t detaillen);
/* evt_decode_scan reads the usual scan (a flat object of plain ASCII
 * strings that passes every rule) with evt_decode_scan_fast, without a
 * Jansson tree, and hands anything else to evt_decode_scan_tree. When the
 * fast path accepts a message, the tree decodes it to the same event; the
 * two are public so that the tests can compare them. */
__attribute__((warn_unused_result)) bool evt_decode_scan_fast(const char *buf, size_t len, ScanEvent *ev);
__attribute__((warn_unused_result)) EvtStatus evt_decode_scan_tree(const char *buf, size_t len, size_t max_bytes,
                                                                   ScanEvent *ev, char *detail, size_t detaillen);


#endif
