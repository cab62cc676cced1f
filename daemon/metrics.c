/* metrics: GET /metrics in the Prometheus text exposition format (0.0.4).
 *
 * Two threads meet here. The loop thread renders a whole page from
 * PipelineCounters and swaps it in under `lock`; libmicrohttpd's internal
 * thread copies the current page under the same lock and sends the copy.
 * Nothing else is shared: the server thread never sees the engine, never
 * logs (MHD's messages only end up in `mhd_msg`, for start-up errors), and
 * runs with every signal blocked so libev keeps the signals. */
#include "metrics.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "timeutil.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A scraper needs one or two connections; slow clients must not pile up. */
#define MAX_CONNECTIONS 16u
#define CONNECTION_TIMEOUT_S 10u

struct Metrics {
    struct MHD_Daemon *mhd;
    pthread_mutex_t lock; /* guards page, page_len and mhd_msg */
    char *page;           /* NULL until the first metrics_update */
    size_t page_len;
    char *status;         /* the status page at /; NULL until the first metrics_update_status */
    size_t status_len;
    char mhd_msg[256]; /* MHD's last error message */
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    Metrics *m = cls;
    pthread_mutex_lock(&m->lock);
    vsnprintf(m->mhd_msg, sizeof m->mhd_msg, fmt, ap);
    size_t n = strlen(m->mhd_msg);
    while (n > 0 && (m->mhd_msg[n - 1] == '\n' || m->mhd_msg[n - 1] == '.'))
        m->mhd_msg[--n] = '\0';
    pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    Metrics *m = cls;
    bool status = strcmp(url, "/") == 0;
    if (!status && strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

    char *copy = NULL;
    size_t len = 0;
    pthread_mutex_lock(&m->lock);
    const char *page = status ? m->status : m->page;
    size_t page_len = status ? m->status_len : m->page_len;
    if (page) {
        copy = malloc(page_len);
        if (copy) {
            memcpy(copy, page, page_len);
            len = page_len;
        }
    }
    bool ready = page != NULL;
    pthread_mutex_unlock(&m->lock);
    if (!ready)
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
    if (!copy)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");

    /* MUST_FREE: MHD frees the copy with free() when the response is done. */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, status ? "text/html; charset=utf-8" : CONTENT_TYPE);
    if (status)
        MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* "host:port" or "[v6]:port" into host and port; cfg has checked the shape. */
static bool split_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return false;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (n < 2 || h[n - 1] != ']')
            return false;
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    strcpy(port, colon + 1);
    return true;
}

/* Starts MHD on one address with every signal blocked in its thread. */
static struct MHD_Daemon *start_on(Metrics *m, const struct addrinfo *ai, uint16_t port)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, port, NULL, NULL, serve, m, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
                         MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

Metrics *metrics_start(const char *listen, char *err, size_t errlen)
{
    char host[256], port[8];
    if (!split_listen(listen, host, sizeof host, port, sizeof port)) {
        snprintf(err, errlen, "metrics_listen %s: expected host:port or [ipv6]:port", listen);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "metrics_listen %s: %s", listen, gai_strerror(gai));
        return NULL;
    }
    Metrics *m = calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(res);
        snprintf(err, errlen, "metrics_listen %s: out of memory", listen);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    /* A name may resolve to several addresses: the first that binds wins. */
    for (const struct addrinfo *ai = res; ai && !m->mhd; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            m->mhd = start_on(m, ai, (uint16_t)strtoul(port, NULL, 10));
    freeaddrinfo(res);
    if (!m->mhd) {
        /* No server thread exists now: mhd_msg is ours alone. */
        snprintf(err, errlen, "metrics_listen %s: %s", listen,
                 m->mhd_msg[0] ? m->mhd_msg : "cannot listen on this address");
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    family(f, name, "counter", help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void gauge(FILE *f, const char *name, const char *help, int64_t v)
{
    family(f, name, "gauge", help);
    fprintf(f, "%s %" PRId64 "\n", name, v);
}

static void histogram(FILE *f, const char *name, const char *help, const Hist *h)
{
    family(f, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        cum += h->counts[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[i], cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->count, name, h->sum,
            name, h->count);
}

/* Renders a page with `render` and swaps it in as *slot (under the lock);
 * on any failure the previous page stays. */
static void swap_in(Metrics *m, char **slot, size_t *slot_len, void (*render)(FILE *, const void *), const void *arg)
{
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f)
        return;
    render(f, arg);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(page);
        return;
    }
    pthread_mutex_lock(&m->lock);
    char *old = *slot;
    *slot = page;
    *slot_len = len;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

static const char STANDBY_HELP[] =
    "1 while this instance waits as a standby: another complaintd holds the desk of its group in its database.";

static void render_metrics(FILE *f, const void *arg)
{
    const PipelineCounters *c = arg;
    gauge(f, "complaintd_standby", STANDBY_HELP, 0);
    counter(f, "complaintd_events_applied_total", "Complaint events applied to ticket state.", c->applied);
    counter(f, "complaintd_events_history_total", "Events recorded as history: valid but without effect on the ticket.",
            c->history);
    counter(f, "complaintd_events_held_total", "Events held because their ticket was not known yet.", c->held_total);
    counter(f, "complaintd_events_duplicate_total", "Events skipped as already applied.", c->duplicates);
    counter(f, "complaintd_events_off_partition_total",
            "Complaint events that came on another partition than their ticket's received (applied as usual).",
            c->off_partition);
    counter(f, "complaintd_dead_letters_total", "Messages sent to the dead-letter topic.", c->dead_letters);
    counter(f, "complaintd_alerts_total", "Alert transitions (firing and resolved) produced.", c->alerts);
    counter(f, "complaintd_scans_total", "Parcel scans consumed.", c->scans);
    counter(f, "complaintd_batches_committed_total", "Batches committed to PostgreSQL.", c->batches);
    counter(f, "complaintd_commit_failures_total", "Statements to PostgreSQL that failed (a batch commit, or reading the unsent outbox); each was retried.", c->commit_failures);
    counter(f, "complaintd_publish_retries_total", "Deliveries that failed and were retried.", c->publish_retries);
    counter(f, "complaintd_publish_refusals_total",
            "Times the producer refused a message (full local queue or otherwise); it was retried.",
            c->publish_refusals);
    counter(f, "complaintd_merge_waits_total",
            "Event mode: times the merge waited for a partition with nothing fetched that is behind its end.",
            c->merge_waits);
    counter(f, "complaintd_merge_waits_expired_total",
            "Event mode: merge waits that ran out (1 s; 5 s for a partition's first messages) and went on without the partition.",
            c->merge_waits_expired);
    gauge(f, "complaintd_tickets", "Tickets in memory.", (int64_t)c->tickets);
    gauge(f, "complaintd_held_events", "Events held now, waiting for their ticket's received event.", (int64_t)c->held);
    gauge(f, "complaintd_pending_deadlines", "Deadlines waiting to fire (SLA targets and bulk windows).",
          (int64_t)c->pending_deadlines);
    gauge(f, "complaintd_parcels", "Parcels tracked by the scan chain.", (int64_t)c->parcels);
    gauge(f, "complaintd_bulk_keys", "Open bulk-complaint windows.", (int64_t)c->bulk_keys);
    gauge(f, "complaintd_event_clock_seconds",
          "Event clock (clock.mode = event): largest occurred_at seen, as a Unix time.", c->event_clock);
    gauge(f, "complaintd_publish_queue", "Committed messages not yet acknowledged by the Kafka broker (the outbox).",
          (int64_t)c->outbox);
    gauge(f, "complaintd_fetched_messages", "Consumed messages not yet applied.", (int64_t)c->fetched);
    gauge(f, "complaintd_batch_in_flight", "1 while a batch is being committed.", c->batch_in_flight ? 1 : 0);
    gauge(f, "complaintd_batch_effects_max", "The most effects one committed batch has held since start.",
          (int64_t)c->batch_effects_max);
    gauge(f, "complaintd_fold_waiting_rows",
          "Ticket snapshots and indicator counts appended and not yet folded into their rows.",
          (int64_t)c->fold_waiting);
    gauge(f, "complaintd_consumer_paused", "1 while consumption is paused by back-pressure.",
          c->consumer_paused ? 1 : 0);
    gauge(f, "complaintd_postgres_up", "1 while the PostgreSQL connection is up.", c->postgres_up ? 1 : 0);
    gauge(f, "complaintd_group_shared",
          "1 while the consumer group gives this instance's member only part of a topic's partitions: another member shares it.",
          c->group_shared ? 1 : 0);
    gauge(f, "complaintd_catching_up",
          "clock.mode = wall: 1 after a start until the backlog is read; deadlines fire on its event time meanwhile.",
          c->catching_up ? 1 : 0);
    gauge(f, "complaintd_up", "1 while the daemon runs.", 1);
    gauge(f, "complaintd_kafka_up",
          "1 while both the consumer and the producer have a broker connection (librdkafka statistics, every 5 s).",
          c->consumer_brokers_up > 0 && c->producer_brokers_up > 0 ? 1 : 0);
    family(f, "complaintd_kafka_brokers_up", "gauge",
           "Brokers connected at the last librdkafka statistics, by client; -1 before the first.");
    fprintf(f, "complaintd_kafka_brokers_up{client=\"consumer\"} %d\n", c->consumer_brokers_up);
    fprintf(f, "complaintd_kafka_brokers_up{client=\"producer\"} %d\n", c->producer_brokers_up);
    family(f, "complaintd_consumer_lag", "gauge",
           "Messages between what the daemon has applied and the end of each partition it reads, as of its last fetch.");
    for (size_t i = 0; i < c->n_lag; i++)
        fprintf(f, "complaintd_consumer_lag{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", c->lag[i].topic,
                (int)c->lag[i].partition, c->lag[i].lag);
    gauge(f, "complaintd_event_clock_lag_seconds",
          "clock.mode = event: how far the event clock is behind the wall clock; 0 in wall mode.", c->event_clock_lag);
    family(f, "complaintd_alert_transitions_total", "counter", "Alert transitions produced, by type and status.");
    for (int t = 0; t < AL__COUNT; t++)
        for (int st = 0; st <= AS_RETRACTED; st++)
            fprintf(f, "complaintd_alert_transitions_total{type=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                    alert_type_name((AlertType)t), alert_status_name((AlertStatus)st), c->alerts_by[t][st]);
    family(f, "complaintd_dead_letters_by_reason_total", "counter", "Messages sent to the dead-letter topic, by reason.");
    for (size_t r = 0; r < PIPELINE_DLQ_REASONS; r++)
        fprintf(f, "complaintd_dead_letters_by_reason_total{reason=\"%s\"} %" PRIu64 "\n", pipeline_dlq_reason(r),
                c->dead_by[r]);
    histogram(f, "complaintd_batch_commit_seconds", "Time to commit one batch, from its first statement to COMMIT.",
              &c->commit_seconds);
    histogram(f, "complaintd_batch_effects", "Effects (rows and messages) per committed batch.", &c->batch_effects);
    histogram(f, "complaintd_alert_ack_seconds",
              "Firing alerts: from the deadline (clock.mode = wall; in event mode from when the daemon raised the "
              "alert) to the broker's acknowledgement.",
              &c->ack_delay);
    family(f, "complaintd_indicator", "gauge",
           "Indicator counts by category since migration 004 (contract 12.9; table indicators has them by day and "
           "site): received, invalid, resolved, resolved_on_time, revisits, satisfied, repeats, reopened, "
           "breaches_<stage>.");
    for (int cat = 0; cat < CAT__COUNT; cat++)
        for (int k = 0; k < IND__COUNT; k++)
            fprintf(f, "complaintd_indicator{category=\"%s\",indicator=\"%s\"} %" PRId64 "\n",
                    evt_category_name((Category)cat), indic_field_name((IndField)k), c->indicators[cat][k]);
}

static void render_standby_metrics(FILE *f, const void *arg)
{
    (void)arg;
    gauge(f, "complaintd_up", "1 while the daemon runs.", 1);
    gauge(f, "complaintd_standby", STANDBY_HELP, 1);
}

/* Text into HTML: the group id comes from the configuration. */
static void html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void render_standby_status(FILE *f, const void *arg)
{
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>complaintd: standby</title></head>\n<body>\n"
          "<h1>complaintd</h1>\n<p>Standby: another complaintd holds the desk of group <code>",
          f);
    html(f, arg);
    fputs("</code> in this database. This instance takes it over when that one's session ends.</p>\n</body></html>\n",
          f);
}

void metrics_standby(Metrics *m, const char *group)
{
    if (!m)
        return;
    swap_in(m, &m->page, &m->page_len, render_standby_metrics, NULL);
    swap_in(m, &m->status, &m->status_len, render_standby_status, group);
}

void metrics_update(Metrics *m, const PipelineCounters *c)
{
    if (m)
        swap_in(m, &m->page, &m->page_len, render_metrics, c);
}

/* ---- the status page ------------------------------------------------------ */

static void fmt_local(int64_t t, int off_min, char *buf, size_t len)
{
    int64_t l = t + (int64_t)off_min * 60;
    int64_t days = l / 86400 - (l % 86400 < 0);
    int64_t secs = l - days * 86400;
    int y, mo, d;
    tu_civil_from_days(days, &y, &mo, &d);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", y, mo, d, (int)(secs / 3600), (int)(secs / 60 % 60));
}

static void rate(FILE *f, int64_t num, int64_t den)
{
    if (den > 0)
        fprintf(f, "<td>%.1f%%</td>", 100.0 * (double)num / (double)den);
    else
        fputs("<td>–</td>", f);
}

static void render_status(FILE *f, const void *arg)
{
    const PipelineStatusPage *s = arg;
    static const char *const stage_names[6] = {"received", "contacted", "first_reply", "resolved", "revisit",
                                               "reopened"};
    char now[32], day[11];
    fmt_local(s->now, s->utc_offset_min, now, sizeof now);
    indic_day_text(s->today, day);
    int oh = s->utc_offset_min / 60, om = abs(s->utc_offset_min % 60);
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>complaintd status</title>\n"
            "<style>body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.4em 0 "
            "1.2em}th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}th:first-child,td:first-child{"
            "text-align:left}th{background:#f2f2f2}.down{color:#b00;font-weight:bold}.up{color:#070}"
            "svg text{font:10px sans-serif;fill:#555}</style></head>\n<body>\n<h1>complaintd</h1>\n");
    fprintf(f, "<p id=\"clock\">%s clock: %s (UTC%+03d:%02d). PostgreSQL <span class=\"%s\">%s</span>, Kafka "
               "<span class=\"%s\">%s</span>.</p>\n",
            s->event_mode ? "Event" : "Wall", now, oh, om, s->postgres_up ? "up" : "down",
            s->postgres_up ? "up" : "down", s->kafka_up == 0 ? "down" : "up",
            s->kafka_up < 0 ? "connecting" : s->kafka_up ? "up" : "down");

    unsigned total = 0;
    fputs("<h2>Firing alerts</h2>\n<table id=\"firing\"><tr><th>type</th><th>firing</th></tr>\n", f);
    for (int t = 0; t < AL__COUNT; t++) {
        fprintf(f, "<tr><td>%s</td><td>%u</td></tr>\n", alert_type_name((AlertType)t), s->desk.firing[t]);
        total += s->desk.firing[t];
    }
    fprintf(f, "<tr><th>all</th><th>%u</th></tr></table>\n", total);

    unsigned open[2] = {0, 0};
    fputs("<h2>Open tickets</h2>\n<table id=\"open\"><tr><th>stage</th><th>normal</th><th>urgent</th></tr>\n", f);
    for (int st = 0; st < 6; st++) {
        if (st == 4 && s->desk.open[4][0] + s->desk.open[4][1] == 0)
            continue;
        fprintf(f, "<tr><td>%s</td><td>%u</td><td>%u</td></tr>\n", stage_names[st], s->desk.open[st][0],
                s->desk.open[st][1]);
        open[0] += s->desk.open[st][0];
        open[1] += s->desk.open[st][1];
    }
    fprintf(f, "<tr><th>all</th><th>%u</th><th>%u</th></tr></table>\n", open[0], open[1]);

    fprintf(f,
            "<h2>Today's indicators (%s)</h2>\n<table id=\"indicators\"><tr><th>category</th><th>received</th>"
            "<th>invalid</th><th>resolved</th><th>on time</th><th>on-time rate</th><th>revisits</th>"
            "<th>satisfaction</th><th>repeats</th><th>repeat rate</th><th>breaches</th></tr>\n",
            day);
    int64_t sum[IND__COUNT] = {0};
    for (int c = 0; c <= CAT__COUNT; c++) {
        const int64_t *n = c < CAT__COUNT ? s->today_indicators[c] : sum;
        int64_t breaches = n[IND_BREACH_CONTACT] + n[IND_BREACH_FIRST_REPLY] + n[IND_BREACH_RESOLVE] +
                           n[IND_BREACH_REVISIT];
        bool any = false;
        for (int k = 0; k < IND__COUNT; k++)
            any |= n[k] != 0;
        if (c < CAT__COUNT && !any)
            continue;
        if (c < CAT__COUNT)
            for (int k = 0; k < IND__COUNT; k++)
                sum[k] += n[k];
        fprintf(f, c < CAT__COUNT ? "<tr><td>%s</td>" : "<tr><th>%s</th>",
                c < CAT__COUNT ? evt_category_name((Category)c) : "all");
        fprintf(f, "<td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64 "</td>", n[IND_RECEIVED],
                n[IND_INVALID], n[IND_RESOLVED], n[IND_ON_TIME]);
        rate(f, n[IND_ON_TIME], n[IND_RESOLVED]);
        fprintf(f, "<td>%" PRId64 "</td>", n[IND_REVISITS]);
        rate(f, n[IND_SATISFIED], n[IND_REVISITS]);
        fprintf(f, "<td>%" PRId64 "</td>", n[IND_REPEATS]);
        rate(f, n[IND_REPEATS], n[IND_RECEIVED] - n[IND_INVALID]);
        fprintf(f, "<td>%" PRId64 "</td></tr>\n", breaches);
    }
    fputs("</table>\n", f);

    /* 24 bars, the current hour last */
    uint32_t max = 1, all = 0;
    for (int i = 0; i < 24; i++) {
        max = s->breaches[i] > max ? s->breaches[i] : max;
        all += s->breaches[i];
    }
    fprintf(f,
            "<h2>Breaches per hour, last 24 h</h2>\n<p id=\"breaches-total\">%u breaches in the 24 hours up to "
            "%s.</p>\n<svg id=\"breaches\" width=\"520\" height=\"150\" viewBox=\"0 0 520 150\" role=\"img\" "
            "aria-label=\"breaches per hour\">\n<line x1=\"30\" y1=\"120\" x2=\"510\" y2=\"120\" stroke=\"#999\"/>\n"
            "<text x=\"2\" y=\"14\">%u</text><text x=\"2\" y=\"120\">0</text>\n",
            all, now, max);
    for (int i = 0; i < 24; i++) {
        double h = 100.0 * s->breaches[i] / max;
        int64_t hour = s->hour - 23 + i;
        char label[32];
        fmt_local(hour * 3600, s->utc_offset_min, label, sizeof label);
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"#c33\"><title>%s: %u</title></rect>\n",
                32 + i * 20, 120 - h, h, label, s->breaches[i]);
        if (i % 6 == 0)
            fprintf(f, "<text x=\"%d\" y=\"135\">%.5s</text>\n", 30 + i * 20, label + 11);
    }
    fputs("</svg>\n</body></html>\n", f);
}

void metrics_update_status(Metrics *m, const PipelineStatusPage *s)
{
    if (m)
        swap_in(m, &m->status, &m->status_len, render_status, s);
}

void metrics_stop(Metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->mhd); /* joins the server thread */
    pthread_mutex_destroy(&m->lock);
    free(m->page);
    free(m->status);
    free(m);
}
