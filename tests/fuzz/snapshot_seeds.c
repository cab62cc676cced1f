/* Writes a few packed tickets (tkt_pack) into a directory, as seeds for
 * fuzz_snapshot: fresh, paused, extended, resolved and reopened, closed.
 * Made at run time by deploy/fuzz.sh so the seeds follow the snapshot format
 * of the code being fuzzed.
 *
 *   fuzz_snapshot_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "evt.h"
#include "policy.h"
#include "tkt.h"

static Policy *pol;
static AlertList al;

static ComplaintEvent decode(const char *json)
{
    ComplaintEvent ev;
    char detail[EVT_DETAIL_MAX];
    if (evt_decode_complaint(json, strlen(json), 1 << 20, &ev, detail, sizeof detail) != EVT_OK) {
        fprintf(stderr, "fuzz_snapshot_seeds: bad event (%s): %s\n", detail, json);
        exit(1);
    }
    return ev;
}

static void apply(Ticket *t, const char *json)
{
    ComplaintEvent ev = decode(json);
    char detail[EVT_DETAIL_MAX];
    if (tkt_apply(t, &ev, pol, ev.occurred_at, &al, detail, sizeof detail) == TKT_NOMEM) {
        fprintf(stderr, "fuzz_snapshot_seeds: out of memory\n");
        exit(1);
    }
    if (tkt_remember(t, ev.event_id) < 0)
        exit(1);
}

static void write_seed(const char *dir, const char *name, const Ticket *t)
{
    size_t n = 0;
    uint8_t *b = tkt_pack(t, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (b == NULL || f == NULL || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_snapshot_seeds: cannot write %s\n", path);
        exit(1);
    }
    free(b);
}

#define EV(id, type, at, extra)                                                                                        \
    "{\"schema\": \"complaint.v1\", \"event_id\": \"" id "\", \"ticket_id\": \"T-1\", \"type\": \"" type               \
    "\", \"occurred_at\": \"" at "\"" extra "}"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_snapshot_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    pol = pol_new();
    if (pol == NULL)
        return 1;

    ComplaintEvent rec = decode(EV("e1", "received", "2026-11-23T09:00:00+08:00",
                                   ", \"channel\": \"regulator\", \"category\": \"loss\", \"waybill\": \"SF1\", "
                                   "\"site\": \"SZ-1\", \"region\": \"south\", \"claim\": true, "
                                   "\"customer_ref\": \"c-1\""));
    Ticket *t = tkt_new(&rec, pol, &al);
    if (t == NULL || tkt_remember(t, rec.event_id) < 0)
        return 1;
    write_seed(dir, "seed-received", t);

    apply(t, EV("e2", "contacted", "2026-11-23T09:20:00+08:00", ""));
    apply(t, EV("e3", "paused", "2026-11-23T10:00:00+08:00", ", \"reason\": \"waiting\""));
    write_seed(dir, "seed-paused", t);

    apply(t, EV("e4", "resumed", "2026-11-23T12:00:00+08:00", ""));
    apply(t, EV("e5", "extended", "2026-11-23T12:10:00+08:00",
                ", \"stage\": \"resolve\", \"hours\": 24, \"approved_by\": \"lead\""));
    tkt_advance(t, 1795000000, &al);
    write_seed(dir, "seed-extended", t);

    apply(t, EV("e6", "first_reply", "2026-11-23T13:00:00+08:00", ""));
    apply(t, EV("e7", "resolved", "2026-11-24T09:00:00+08:00", ""));
    apply(t, EV("e8", "revisit", "2026-11-24T15:00:00+08:00", ", \"satisfied\": false"));
    write_seed(dir, "seed-reopened", t);

    apply(t, EV("e9", "closed", "2026-12-01T09:00:00+08:00", ""));
    write_seed(dir, "seed-closed", t);

    tkt_free(t);
    alert_list_free(&al);
    pol_free(pol);
    return 0;
}
