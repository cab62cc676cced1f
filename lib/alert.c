/* alert: alert.v1 encoding and ids; see alert.h. */
#include "alert.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evt.h"
#include "jw.h"
#include "timeutil.h"

static const char *const type_names[AL__COUNT] = {
    "sla_warning",    "sla_breach",     "bulk_complaint", "repeat_complaint",  "parcel_stalled",     "ticket_escalated",
    "pause_overdue",  "progress_due",   "response_due",   "category_review",   "site_accountability",
};
static const char *const status_names[] = {"firing", "resolved", "retracted"};
static const char *const reason_names[RSN__COUNT] = {"major", "channel", "repeat", "bulk", "reopened"};
static const char *const because_names[MB__COUNT] = {"flag", "claim_amount", "complainants", "injury",
                                                     "vip",  "executive",    "reopened"};
static const char *const stage_names[] = {"contact", "first_reply", "resolve", "revisit"};

const char *alert_type_name(AlertType t)
{
    return (unsigned)t < AL__COUNT ? type_names[t] : "unknown";
}

const char *alert_status_name(AlertStatus s)
{
    return (unsigned)s <= AS_RETRACTED ? status_names[s] : "unknown";
}

const char *alert_major_because_name(unsigned bit)
{
    for (int i = 0; i < MB__COUNT; i++)
        if (bit == (1u << i))
            return because_names[i];
    return "unknown";
}

const char *alert_reason_name(unsigned bit)
{
    for (int i = 0; i < RSN__COUNT; i++)
        if (bit == (1u << i))
            return reason_names[i];
    return "unknown";
}

void alert_init(Alert *a, AlertType type, AlertStatus status)
{
    memset(a, 0, sizeof *a);
    a->type = type;
    a->status = status;
    a->stage = -1;
    a->priority = -1;
    a->deadline = TU_NEVER;
    a->category = -1;
    a->responsible.role = -1;
    a->last_scan_type = -1;
    a->suggested_category = -1;
}

void alert_clear(Alert *a)
{
    for (int i = 0; i < a->n_ticket_ids; i++)
        free(a->ticket_ids[i]);
    free(a->ticket_ids);
    a->ticket_ids = NULL;
    a->n_ticket_ids = 0;
}

Alert *alert_list_push(AlertList *l, Alert *a)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        Alert *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            alert_clear(a);
            l->failed = true;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *a;
    a->ticket_ids = NULL; /* ownership moved into the list */
    a->n_ticket_ids = 0;
    return &l->v[l->n++];
}

void alert_list_reset(AlertList *l)
{
    for (size_t i = 0; i < l->n; i++)
        alert_clear(&l->v[i]);
    l->n = 0;
    l->failed = false;
}

void alert_list_free(AlertList *l)
{
    alert_list_reset(l);
    free(l->v);
    l->v = NULL;
    l->cap = 0;
}

void alert_make_id(Alert *a)
{
    const char *t = alert_type_name(a->type);
    const char *stage = (a->stage >= 0 && a->stage < 4) ? stage_names[a->stage] : "";
    switch (a->type) {
    case AL_SLA_WARNING:
    case AL_SLA_BREACH:
        if (a->instance >= 2)
            snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d/%s/%d", t, a->ticket_id, a->round, stage,
                     a->instance);
        else
            snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d/%s", t, a->ticket_id, a->round, stage);
        break;
    case AL_PAUSE_OVERDUE:
    case AL_PROGRESS_DUE:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d/%d", t, a->ticket_id, a->round, a->instance);
        break;
    case AL_RESPONSE_DUE:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d", t, a->ticket_id, a->instance);
        break;
    case AL_CATEGORY_REVIEW:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d", t, a->ticket_id, a->round);
        break;
    case AL_SITE_ACCOUNTABILITY:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%04d-%02d%s", t, a->site, a->year, a->month,
                 a->total ? "/total" : "");
        break;
    case AL_BULK_COMPLAINT:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%s/%lld", t,
                 a->category >= 0 ? evt_category_name((Category)a->category) : "", a->site, (long long)a->window_start);
        break;
    case AL_REPEAT_COMPLAINT: snprintf(a->alert_id, sizeof a->alert_id, "%s/%s", t, a->ticket_id); break;
    case AL_PARCEL_STALLED:
        snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%lld", t, a->waybill, (long long)a->last_scan_at);
        break;
    case AL_TICKET_ESCALATED: snprintf(a->alert_id, sizeof a->alert_id, "%s/%s/%d", t, a->ticket_id, a->round); break;
    default: a->alert_id[0] = '\0';
    }
}

static int set_time(json_t *o, const char *key, int64_t t, int off)
{
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(t, off, buf);
    return json_object_set_new(o, key, json_string(buf));
}

static int set_str_or_null(json_t *o, const char *key, const char *s)
{
    return json_object_set_new(o, key, (s && *s) ? json_string(s) : json_null());
}

json_t *alert_to_json(const Alert *a, int off)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(o, "schema", json_string("alert.v1"));
    rc |= json_object_set_new(o, "alert_id", json_string(a->alert_id));
    rc |= json_object_set_new(o, "type", json_string(alert_type_name(a->type)));
    rc |= json_object_set_new(o, "status", json_string(alert_status_name(a->status)));
    if (a->ticket_id[0])
        rc |= json_object_set_new(o, "ticket_id", json_string(a->ticket_id));
    if (a->round > 0)
        rc |= json_object_set_new(o, "round", json_integer(a->round));
    if (a->stage >= 0 && a->stage < 4)
        rc |= json_object_set_new(o, "stage", json_string(stage_names[a->stage]));
    if (a->priority >= 0) {
        rc |= json_object_set_new(o, "priority", json_string(a->priority ? "urgent" : "normal"));
        json_t *r = json_array();
        for (int i = 0; i < RSN__COUNT; i++)
            if (a->reasons & (1u << i))
                rc |= json_array_append_new(r, json_string(reason_names[i]));
        rc |= json_object_set_new(o, "reasons", r);
    }
    if (a->deadline != TU_NEVER)
        rc |= set_time(o, "deadline", a->deadline, off);
    if (a->category >= 0)
        rc |= json_object_set_new(o, "category", json_string(evt_category_name((Category)a->category)));
    if (a->site[0])
        rc |= json_object_set_new(o, "site", json_string(a->site));
    if (a->waybill[0])
        rc |= json_object_set_new(o, "waybill", json_string(a->waybill));
    if (a->region[0])
        rc |= json_object_set_new(o, "region", json_string(a->region));
    if (a->responsible.known) {
        json_t *r = json_object();
        rc |= set_str_or_null(r, "site", a->responsible.site);
        rc |= json_object_set_new(r, "role",
                                  a->responsible.role >= 0 ? json_string(evt_role_name((SiteRole)a->responsible.role))
                                                           : json_null());
        rc |= json_object_set_new(r, "rule", json_string(a->responsible.rule));
        rc |= json_object_set_new(o, "responsible", r);
    }
    if (a->major_because) {
        json_t *r = json_array();
        for (int i = 0; i < MB__COUNT; i++)
            if (a->major_because & (1u << i))
                rc |= json_array_append_new(r, json_string(because_names[i]));
        rc |= json_object_set_new(o, "major_because", r);
    }
    if (a->suggested_category >= 0)
        rc |= json_object_set_new(o, "suggested_category",
                                  json_string(evt_category_name((Category)a->suggested_category)));
    if (a->type == AL_SITE_ACCOUNTABILITY) {
        char ym[16];
        snprintf(ym, sizeof ym, "%04d-%02d", a->year, a->month);
        rc |= json_object_set_new(o, "reason", json_string(a->total ? "total" : "month"));
        rc |= json_object_set_new(o, "month", json_string(ym));
    }
    if (a->type == AL_BULK_COMPLAINT || a->type == AL_SITE_ACCOUNTABILITY) {
        rc |= json_object_set_new(o, "count", json_integer(a->count));
        if (a->type == AL_BULK_COMPLAINT) {
            rc |= set_time(o, "window_start", a->window_start, off);
            rc |= set_time(o, "window_end", a->window_end, off);
        }
        json_t *ids = json_array();
        for (int i = 0; i < a->n_ticket_ids; i++)
            rc |= json_array_append_new(ids, json_string(a->ticket_ids[i]));
        rc |= json_object_set_new(o, "ticket_ids", ids);
    }
    if (a->previous_ticket_id[0])
        rc |= json_object_set_new(o, "previous_ticket_id", json_string(a->previous_ticket_id));
    if (a->last_scan_type >= 0) {
        json_t *s = json_object();
        rc |= json_object_set_new(s, "scan_type", json_string(evt_scan_type_name((ScanType)a->last_scan_type)));
        if (a->last_scan_site[0])
            rc |= json_object_set_new(s, "site", json_string(a->last_scan_site));
        rc |= set_time(s, "occurred_at", a->last_scan_at, off);
        rc |= json_object_set_new(o, "last_scan", s);
    }
    if (a->has_late_by)
        rc |= json_object_set_new(o, "late_by_seconds", json_integer(a->late_by_seconds));
    rc |= set_time(o, "condition_at", a->condition_at, off);
    if (a->resolved_at)
        rc |= set_time(o, "resolved_at", a->resolved_at, off);
    rc |= set_time(o, "emitted_at", a->emitted_at, off);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void jw_time(Jw *w, const char *key, int64_t t, int off)
{
    char buf[TU_RFC3339_LEN];
    tu_format_rfc3339(t, off, buf);
    jw_key(w, key);
    jw_str(w, buf);
}

/* The same text as json_dumps(alert_to_json(a), COMPACT | PRESERVE_ORDER),
 * written straight: alerts go out by the hundred thousand. */
char *alert_encode(const Alert *a, int off)
{
    Jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "schema"), jw_str(&w, "alert.v1");
    jw_key(&w, "alert_id"), jw_str(&w, a->alert_id);
    jw_key(&w, "type"), jw_str(&w, alert_type_name(a->type));
    jw_key(&w, "status"), jw_str(&w, alert_status_name(a->status));
    if (a->ticket_id[0])
        jw_key(&w, "ticket_id"), jw_str(&w, a->ticket_id);
    if (a->round > 0)
        jw_key(&w, "round"), jw_int(&w, a->round);
    if (a->stage >= 0 && a->stage < 4)
        jw_key(&w, "stage"), jw_str(&w, stage_names[a->stage]);
    if (a->priority >= 0) {
        jw_key(&w, "priority"), jw_str(&w, a->priority ? "urgent" : "normal");
        jw_key(&w, "reasons"), jw_arr(&w);
        for (int i = 0; i < RSN__COUNT; i++)
            if (a->reasons & (1u << i))
                jw_str(&w, reason_names[i]);
        jw_end_arr(&w);
    }
    if (a->deadline != TU_NEVER)
        jw_time(&w, "deadline", a->deadline, off);
    if (a->category >= 0)
        jw_key(&w, "category"), jw_str(&w, evt_category_name((Category)a->category));
    if (a->site[0])
        jw_key(&w, "site"), jw_str(&w, a->site);
    if (a->waybill[0])
        jw_key(&w, "waybill"), jw_str(&w, a->waybill);
    if (a->region[0])
        jw_key(&w, "region"), jw_str(&w, a->region);
    if (a->responsible.known) {
        jw_key(&w, "responsible"), jw_obj(&w);
        jw_key(&w, "site");
        if (a->responsible.site[0])
            jw_str(&w, a->responsible.site);
        else
            jw_null(&w);
        jw_key(&w, "role");
        if (a->responsible.role >= 0)
            jw_str(&w, evt_role_name((SiteRole)a->responsible.role));
        else
            jw_null(&w);
        jw_key(&w, "rule"), jw_str(&w, a->responsible.rule);
        jw_end_obj(&w);
    }
    if (a->major_because) {
        jw_key(&w, "major_because"), jw_arr(&w);
        for (int i = 0; i < MB__COUNT; i++)
            if (a->major_because & (1u << i))
                jw_str(&w, because_names[i]);
        jw_end_arr(&w);
    }
    if (a->suggested_category >= 0)
        jw_key(&w, "suggested_category"), jw_str(&w, evt_category_name((Category)a->suggested_category));
    if (a->type == AL_SITE_ACCOUNTABILITY) {
        char ym[16];
        snprintf(ym, sizeof ym, "%04d-%02d", a->year, a->month);
        jw_key(&w, "reason"), jw_str(&w, a->total ? "total" : "month");
        jw_key(&w, "month"), jw_str(&w, ym);
    }
    if (a->type == AL_BULK_COMPLAINT || a->type == AL_SITE_ACCOUNTABILITY) {
        jw_key(&w, "count"), jw_int(&w, a->count);
        if (a->type == AL_BULK_COMPLAINT) {
            jw_time(&w, "window_start", a->window_start, off);
            jw_time(&w, "window_end", a->window_end, off);
        }
        jw_key(&w, "ticket_ids"), jw_arr(&w);
        for (int i = 0; i < a->n_ticket_ids; i++)
            jw_str(&w, a->ticket_ids[i]);
        jw_end_arr(&w);
    }
    if (a->previous_ticket_id[0])
        jw_key(&w, "previous_ticket_id"), jw_str(&w, a->previous_ticket_id);
    if (a->last_scan_type >= 0) {
        jw_key(&w, "last_scan"), jw_obj(&w);
        jw_key(&w, "scan_type"), jw_str(&w, evt_scan_type_name((ScanType)a->last_scan_type));
        if (a->last_scan_site[0])
            jw_key(&w, "site"), jw_str(&w, a->last_scan_site);
        jw_time(&w, "occurred_at", a->last_scan_at, off);
        jw_end_obj(&w);
    }
    if (a->has_late_by)
        jw_key(&w, "late_by_seconds"), jw_int(&w, a->late_by_seconds);
    jw_time(&w, "condition_at", a->condition_at, off);
    if (a->resolved_at)
        jw_time(&w, "resolved_at", a->resolved_at, off);
    jw_time(&w, "emitted_at", a->emitted_at, off);
    jw_end_obj(&w);
    return jw_take(&w, NULL);
}
