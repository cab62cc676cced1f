/* alert: the alert.v1 record of contract §9 and its deterministic ids. */
#ifndef COMPLAINTD_ALERT_H
#define COMPLAINTD_ALERT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AL_SLA_WARNING, AL_SLA_BREACH, AL_BULK_COMPLAINT, AL_REPEAT_COMPLAINT, AL_PARCEL_STALLED,
    AL_TICKET_ESCALATED,
    /* §12 */
    AL_PAUSE_OVERDUE, AL_PROGRESS_DUE, AL_RESPONSE_DUE, AL_CATEGORY_REVIEW, AL_SITE_ACCOUNTABILITY,
    AL__COUNT
} AlertType;

typedef enum { AS_FIRING, AS_RESOLVED, AS_RETRACTED } AlertStatus;

/* Priority reasons (contract §5), in their output order. */
enum {
    RSN_MAJOR = 1u << 0,
    RSN_CHANNEL = 1u << 1,
    RSN_REPEAT = 1u << 2,
    RSN_BULK = 1u << 3,
    RSN_REOPENED = 1u << 4,
};
#define RSN__COUNT 5

/* The facts that made a ticket major (§12.5), in their output order. */
enum {
    MB_FLAG = 1u << 0,
    MB_CLAIM_AMOUNT = 1u << 1,
    MB_COMPLAINANTS = 1u << 2,
    MB_INJURY = 1u << 3,
    MB_VIP = 1u << 4,
    MB_EXECUTIVE = 1u << 5,
    MB_REOPENED = 1u << 6,
};
#define MB__COUNT 7

#define ALERT_ID_MAX 224
#define ALERT_STR_MAX 64

typedef struct Responsible {
    bool known;            /* false: no responsibility attached */
    char site[ALERT_STR_MAX + 1]; /* "" = null */
    int role;              /* SiteRole of evt.h; -1 = null */
    char rule[40];         /* "no_scan", "pickup_no_depart", ... */
} Responsible;

typedef struct Alert {
    AlertType type;
    AlertStatus status;
    char alert_id[ALERT_ID_MAX + 1];
    /* ticket alerts; ticket_id "" when not about a ticket */
    char ticket_id[ALERT_STR_MAX + 1];
    int round;             /* 0 = absent */
    int stage;             /* Stage of tkt.h, -1 = absent */
    int priority;          /* 0 normal, 1 urgent, -1 absent */
    unsigned reasons;      /* RSN_* */
    int64_t deadline;      /* TU_NEVER = absent */
    int category;          /* Category of evt.h, -1 = absent */
    char site[ALERT_STR_MAX + 1];
    char waybill[ALERT_STR_MAX + 1];
    char region[ALERT_STR_MAX + 1];
    Responsible responsible;
    /* bulk */
    int count;
    int64_t window_start, window_end;
    char **ticket_ids;     /* owned; freed by alert_clear */
    int n_ticket_ids;
    /* repeat */
    char previous_ticket_id[ALERT_STR_MAX + 1];
    /* parcel_stalled: the last scan */
    int last_scan_type;    /* ScanType, -1 = absent */
    int64_t last_scan_at;
    char last_scan_site[ALERT_STR_MAX + 1];
    /* sla_warning, sla_breach: the firing's number in the round (ids of the
     * second and later end in /2, /3, ...; §12.1); pause_overdue,
     * progress_due, response_due: their number n */
    int instance;
    /* ticket_escalated: MB_* (§12.5) */
    unsigned major_because;
    /* category_review: Category, -1 = absent */
    int suggested_category;
    /* site_accountability: the month (local) and which threshold */
    int year, month;
    bool total;
    /* sla_breach resolved */
    bool moved;            /* because its deadline moved past now (§12.1); not on the wire */
    bool has_late_by;
    int64_t late_by_seconds;
    int64_t condition_at;
    int64_t resolved_at;   /* event time the condition ended; 0 = absent */
    int64_t emitted_at;    /* processing time; set by the daemon */
} Alert;

/* A growable list of alerts, in emission order. */
typedef struct AlertList {
    Alert *v;
    size_t n, cap;
    bool failed; /* a push ran out of memory (and lost its alert) */
} AlertList;

void alert_init(Alert *a, AlertType type, AlertStatus status);
void alert_clear(Alert *a); /* frees owned members */
/* Appends a copy (taking ownership of a->ticket_ids). Returns the stored alert,
 * or NULL when out of memory: then a's members are freed and l->failed is set. */
Alert *alert_list_push(AlertList *l, Alert *a);
void alert_list_reset(AlertList *l); /* clears every alert and `failed`, keeps the buffer */
void alert_list_free(AlertList *l);

const char *alert_type_name(AlertType t);
const char *alert_status_name(AlertStatus s);
const char *alert_reason_name(unsigned one_reason_bit);
const char *alert_major_because_name(unsigned one_bit);

/* Builds the id of contract §9 into a->alert_id from the other fields. */
void alert_make_id(Alert *a);

/* The alert.v1 object, times written at utc_offset_min; NULL when out of memory. */
json_t *alert_to_json(const Alert *a, int utc_offset_min);
/* The same as compact JSON text (malloc'd). */
char *alert_encode(const Alert *a, int utc_offset_min);

#endif
