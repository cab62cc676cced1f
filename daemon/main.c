/* complaintd: the complaint-desk SLA daemon. main owns the loop: it reads the
 * configuration, brings up the engine (PostgreSQL, then Kafka), runs libev,
 * and tears down in reverse order. */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "confload.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pipeline.h"
#include "store.h"

#define DEFAULT_CONFIG "/etc/complaintd/complaintd.conf"

enum { EXIT_CONFIG = 2 };

static const char usage[] =
    "Usage: complaintd [-c FILE] [--check-config] [migrate]\n"
    "       complaintd --version | --help\n"
    "\n"
    "Consumes complaint events and parcel scans from Kafka, runs each ticket's\n"
    "state machine and SLA clocks, and publishes alerts; state lives in PostgreSQL.\n"
    "\n"
    "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
    "      --check-config  validate the configuration (and its policy file), print\n"
    "                      the effective settings, and exit: 0 when valid, 2 when not\n"
    "  -h, --help          this text\n"
    "  -V, --version       print the version\n"
    "\n"
    "Commands:\n"
    "  migrate             bring the database schema up to date and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT drain, commit and exit 0 (a second one exits at once);\n"
    "SIGHUP re-reads the configuration and applies its [policy] and log level.\n"
    "With [daemon] metrics_listen = HOST:PORT, GET /metrics there returns counters\n"
    "in the Prometheus text format.\n"
    "A second complaintd of the same [kafka] group_id on the same database waits\n"
    "as a standby and takes over when the first stops or dies.\n"
    "See docs/configuration.md for every key.\n";

/* ---- the daemon --------------------------------------------------------- */

typedef struct Daemon {
    struct ev_loop *loop;
    const char *config_path;
    Config *cfg;
    Pipeline *pipeline;
    Metrics *metrics; /* NULL when metrics_listen is empty */
    ev_signal sigterm, sigint, sighup;
    ev_timer watchdog;
    ev_timer status;
    ev_timer metrics_timer;
    bool stopping;
} Daemon;

static void stopped(void *arg)
{
    Daemon *d = arg;
    ev_break(d->loop, EVBREAK_ALL);
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)revents;
    Daemon *d = w->data;
    if (d->stopping) {
        log_warn("second signal: exiting now");
        _exit(1);
    }
    d->stopping = true;
    log_info("signal %d: draining", w->signum);
    notify_stopping();
    pipeline_stop(d->pipeline, stopped, d);
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop, (void)revents;
    Daemon *d = w->data;
    char err[512];
    notify_reloading();
    Config *n = config_load(d->config_path, err, sizeof err);
    if (!n) {
        log_err("reload: %s; keeping the old configuration", err);
        notify_ready();
        return;
    }
    char changed[512];
    if (cfg_nonreloadable_changes(d->cfg, n, changed, sizeof changed) > 0)
        log_warn("reload: %s cannot change without a restart; keeping the old values", changed);
    Policy *p = pol_clone(n->policy);
    if (!p) {
        log_err("reload: out of memory; keeping the old configuration");
        cfg_free(n);
        notify_ready();
        return;
    }
    log_set_level((LogLevel)log_level_from_name(n->log_level));
    log_set_format(strcmp(n->log_format, "json") == 0 ? LOG_JSON : LOG_TEXT);
    free(d->cfg->log_level);
    d->cfg->log_level = n->log_level;
    n->log_level = NULL;
    pol_free(d->cfg->policy);
    d->cfg->policy = n->policy;
    n->policy = NULL;
    cfg_free(n);
    pipeline_set_policy(d->pipeline, p);
    log_info("reload: policy applied");
    notify_ready();
}

/* The status page at / (every 5 s: it walks the tickets in memory). */
static void render_status_page(Daemon *d)
{
    if (!d->metrics)
        return;
    PipelineStatusPage sp;
    pipeline_status_page(d->pipeline, &sp);
    metrics_update_status(d->metrics, &sp);
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Daemon *d = w->data;
    char s[512];
    pipeline_status(d->pipeline, s, sizeof s);
    notify_status(s);
    render_status_page(d);
}

static void metrics_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    Daemon *d = w->data;
    PipelineCounters c;
    pipeline_counters(d->pipeline, &c);
    metrics_update(d->metrics, &c);
}

static void on_standby(void *arg)
{
    Daemon *d = arg;
    metrics_standby(d->metrics, d->cfg->group_id);
}

/* A stop asked for while the daemon starts (loading its state, joining
 * Kafka), before the loop's signal watchers exist: kept, and acted on once
 * they do, so that it drains and exits 0 like any stop. Without it the
 * signal's default action killed the process. It also ends a standby's
 * wait (store_note_stop). */
static volatile sig_atomic_t early_signal;

static void on_early_signal(int sig)
{
    if (sig == SIGHUP) /* a reload while starting: the configuration was just read */
        return;
    early_signal = sig;
    store_note_stop(); /* a standby's wait ends, or does not begin */
}

static int run(const char *path, Config *cfg)
{
    char err[1024];
    Daemon d = {.loop = EV_DEFAULT, .config_path = path, .cfg = cfg};
    signal(SIGTERM, on_early_signal);
    signal(SIGINT, on_early_signal);
    signal(SIGHUP, on_early_signal);
    /* First: an address in use must not cost a Kafka connection and a
     * group join that another instance would see, nor a standby's wait. A
     * standby serves complaintd_standby 1 there while it waits. */
    if (cfg->metrics_listen && cfg->metrics_listen[0]) {
        d.metrics = metrics_start(cfg->metrics_listen, err, sizeof err);
        if (!d.metrics) {
            log_err("%s", err);
            return 1;
        }
    }
    Store *store = store_open(d.loop, cfg, on_standby, &d, err, sizeof err);
    if (!store) {
        metrics_stop(d.metrics);
        if (!err[0])
            return 0; /* stopped as a standby */
        log_err("postgres: %s", err);
        return 1;
    }
    /* takes the store */
    d.pipeline = pipeline_new(d.loop, cfg, store, err, sizeof err);
    if (!d.pipeline) {
        log_err("%s", err);
        metrics_stop(d.metrics);
        return 1;
    }
    if (d.metrics) {
        ev_timer_init(&d.metrics_timer, metrics_cb, 1.0, 1.0);
        d.metrics_timer.data = &d;
        metrics_cb(d.loop, &d.metrics_timer, 0);
    }
    if (pipeline_start(d.pipeline, err, sizeof err) < 0) {
        log_err("%s", err);
        metrics_stop(d.metrics);
        pipeline_free(d.pipeline);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&d.sigterm, stop_cb, SIGTERM);
    ev_signal_init(&d.sigint, stop_cb, SIGINT);
    ev_signal_init(&d.sighup, hup_cb, SIGHUP);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);
    ev_signal_start(d.loop, &d.sighup);
    if (early_signal)
        ev_feed_signal_event(d.loop, early_signal);
    notify_watchdog_start(d.loop, &d.watchdog);
    ev_timer_init(&d.status, status_cb, 5.0, 5.0);
    d.status.data = &d;
    ev_timer_start(d.loop, &d.status);
    if (d.metrics) {
        metrics_cb(d.loop, &d.metrics_timer, 0);
        render_status_page(&d);
        ev_timer_start(d.loop, &d.metrics_timer);
        log_info("metrics on http://%s/metrics, status page on http://%s/", cfg->metrics_listen, cfg->metrics_listen);
    }

    log_info("complaintd %s running: brokers %s, group %s, clock %s, role %s", COMPLAINTD_VERSION, cfg->brokers,
             cfg->group_id, cfg->clock_mode == CLOCK_EVENT ? "event" : "wall", cfg_role_name(cfg->role));
    notify_ready();
    ev_run(d.loop, 0);

    char s[512];
    pipeline_status(d.pipeline, s, sizeof s);
    log_info("stopped: %s", s);
    ev_timer_stop(d.loop, &d.watchdog);
    ev_timer_stop(d.loop, &d.status);
    if (d.metrics)
        ev_timer_stop(d.loop, &d.metrics_timer);
    metrics_stop(d.metrics);
    pipeline_free(d.pipeline);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONFIG;
    bool check = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("complaintd %s\n", COMPLAINTD_VERSION); return 0;
        default: fputs(usage, stderr); return EXIT_CONFIG;
        }
    }
    const char *command = optind < argc ? argv[optind] : NULL;
    if (command && strcmp(command, "migrate") != 0) {
        fprintf(stderr, "complaintd: unknown command '%s'\n%s", command, usage);
        return EXIT_CONFIG;
    }
    if (command && optind + 1 < argc) {
        fprintf(stderr, "complaintd: unexpected argument '%s' after '%s'\n%s", argv[optind + 1], command, usage);
        return EXIT_CONFIG;
    }
    if (command && check) {
        fprintf(stderr, "complaintd: --check-config and '%s' do not go together\n%s", command, usage);
        return EXIT_CONFIG;
    }

    char err[1024];
    Config *cfg = config_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    if (check) {
        char *dump = cfg_dump(cfg);
        printf("%s: configuration is valid\n%s", path, dump ? dump : "");
        free(dump);
        cfg_free(cfg);
        return 0;
    }
    log_detect_journal();
    log_set_level((LogLevel)log_level_from_name(cfg->log_level));
    log_set_format(strcmp(cfg->log_format, "json") == 0 ? LOG_JSON : LOG_TEXT);

    int rc;
    if (command) {
        rc = store_migrate(cfg->conninfo, err, sizeof err) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "complaintd migrate: %s\n", err);
        else
            fprintf(stderr, "schema is up to date\n");
    } else {
        rc = run(path, cfg);
    }
    cfg_free(cfg);
    return rc;
}
