/* complaintctl: the operator's view of complaintd's state. It reads the
 * daemon's configuration, queries PostgreSQL (tickets, alerts, indicators,
 * dead letters, offsets) and talks to Kafka for a dead letter's replay and
 * the topics' end offsets. docs/complaintctl.md describes every command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#ifndef COMPLAINTD_VERSION
#define COMPLAINTD_VERSION "dev"
#endif

static const char usage[] = "Usage: " CTL_NAME " [-c FILE] [--json] COMMAND [ARGS...]\n"
                            "       " CTL_NAME " --version | --help | help COMMAND\n"
                            "\n"
                            "Shows what complaintd keeps in PostgreSQL and Kafka, for the people who\n"
                            "run the complaint desk. Reads the daemon's configuration file.\n"
                            "\n"
                            "Commands:\n"
                            "  ticket show ID      a ticket: timeline, deadlines and the calendar arithmetic\n"
                            "                      behind them, priority, pauses, extensions, responsibility,\n"
                            "                      alerts\n"
                            "  alerts              alert transitions, or only those still firing\n"
                            "  report              on-time rate, satisfaction, repeat rate and breaches\n"
                            "                      over a range of days\n"
                            "  dlq list            dead letters\n"
                            "  dlq replay          put dead-lettered messages back on their source topic,\n"
                            "                      once each\n"
                            "  offsets             stored consumer offsets against the topics' end: the lag\n"
                            "\n"
                            "Options (also accepted after the command):\n"
                            "  -c, --config FILE   the daemon's configuration (default " CTL_DEFAULT_CONFIG ")\n"
                            "      --json          machine-readable JSON on stdout\n"
                            "  -h, --help          this text; '" CTL_NAME " COMMAND --help' for a command\n"
                            "  -V, --version       print the version\n"
                            "\n"
                            "Times are shown at the calendar's UTC offset ([policy] utc_offset, +08:00\n"
                            "by default), as in alerts.\n"
                            "Exit status: 0 done, 1 error (the message is on stderr), 2 bad usage.\n";

typedef struct Command {
    const char *name;
    int (*run)(Ctl *c, int argc, char **argv);
} Command;

static const Command commands[] = {
    {"ticket", cmd_ticket}, {"alerts", cmd_alerts}, {"report", cmd_report}, {"dlq", cmd_dlq}, {"offsets", cmd_offsets},
};

static const Command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        CTL_COMMON_LONGOPTS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    Ctl c = {0};
    int o;
    /* "+": options up to the command; the command parses the rest */
    opterr = 0;
    while ((o = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
        if (ctl_common_opt(&c, o, optarg))
            continue;
        switch (o) {
        case 'h': fputs(usage, stdout); return CTL_OK;
        case 'V': printf(CTL_NAME " %s\n", COMPLAINTD_VERSION); return CTL_OK;
        default: return ctl_bad_option(NULL, o, argv);
        }
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return CTL_USAGE;
    }
    char **cargv = argv + optind;
    int cargc = argc - optind;
    if (strcmp(cargv[0], "help") == 0) {
        if (cargc < 2) {
            fputs(usage, stdout);
            return CTL_OK;
        }
        const Command *cmd = find(cargv[1]);
        if (!cmd)
            return ctl_usage(NULL, "unknown command '%s'", cargv[1]);
        /* "help dlq replay" is "dlq replay --help" */
        char *hargv[4] = {cargv[1], cargc > 2 ? cargv[2] : "--help", "--help", NULL};
        return cmd->run(&c, cargc > 2 ? 3 : 2, hargv);
    }
    const Command *cmd = find(cargv[0]);
    if (!cmd)
        return ctl_usage(NULL, "unknown command '%s'", cargv[0]);
    optind = 0; /* glibc: start afresh on the command's arguments */
    int rc = cmd->run(&c, cargc, cargv);
    ctl_close(&c);
    fflush(stdout);
    if (ferror(stdout))
        return ctl_error("writing the output failed");
    return rc;
}
