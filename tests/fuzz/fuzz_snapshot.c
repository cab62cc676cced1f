/* libFuzzer target: tkt_unpack, the ticket snapshot the daemon reads back
 * from PostgreSQL.
 *
 * Input: any bytes. They must be refused (NULL and an error) or give a
 * ticket; never a crash, a leak or undefined behaviour. Checks:
 *  - refused: NULL and a non-empty, terminated error;
 *  - a ticket: every string is there (never NULL) and the id is not empty,
 *    the event id list is a run of terminated ids that tkt_seen finds, and
 *    the read-only queries (tkt_status, tkt_next_due) answer;
 *  - a ticket packs again (tkt_pack), that packing unpacks, and packs to the
 *    same bytes: whatever was accepted can be stored and read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "tkt.h"

static void check_ticket(const Ticket *t)
{
    FUZZ_CHECK(t->strs != NULL && t->ids_at <= t->strs_len, "the string block is off");
    /* the strings, walked, end exactly where the event ids begin */
    uint32_t at = 0;
    for (int w = 0; w < TS__COUNT; w++) {
        FUZZ_CHECK(at < t->ids_at, "string %d of the ticket starts past the strings", w);
        FUZZ_CHECK(tkt_str(t, (TktStr)w) == t->strs + at, "string %d is not where the walk finds it", w);
        const char *end = memchr(t->strs + at, '\0', t->ids_at - at);
        FUZZ_CHECK(end != NULL, "string %d of the ticket runs into the event ids", w);
        at = (uint32_t)(end - t->strs) + 1;
    }
    FUZZ_CHECK(at == t->ids_at, "the strings end at %u, the event ids begin at %u", at, t->ids_at);
    FUZZ_CHECK(tkt_id(t)[0] != '\0', "a ticket without an id");
    FUZZ_CHECK(tkt_status(t) != NULL, "tkt_status is NULL");
    (void)tkt_next_due(t);
    (void)tkt_open(t);

    uint32_t il;
    const char *ids = tkt_event_ids(t, &il);
    FUZZ_CHECK(il == 0 || ids[il - 1] == '\0', "event ids not terminated");
    for (uint32_t i = 0; i < il;) {
        const char *id = ids + i;
        FUZZ_CHECK(tkt_seen(t, id), "event id at %u not seen", i);
        i += (uint32_t)strlen(id) + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    memset(err, 'x', sizeof err);
    Ticket *t = tkt_unpack(data, size, err, sizeof err);
    if (t == NULL) {
        FUZZ_CHECK(fz_terminated(err, sizeof err) && err[0] != '\0', "refused without an error");
        return 0;
    }
    check_ticket(t);

    size_t n1 = 0, n2 = 0;
    uint8_t *p1 = tkt_pack(t, &n1);
    FUZZ_CHECK(p1 != NULL, "tkt_pack failed");
    memset(err, 'x', sizeof err);
    Ticket *u = tkt_unpack(p1, n1, err, sizeof err);
    FUZZ_CHECK(u != NULL, "a packed ticket is refused: %.*s", (int)sizeof err, err);
    check_ticket(u);
    uint8_t *p2 = tkt_pack(u, &n2);
    FUZZ_CHECK(p2 != NULL, "tkt_pack failed");
    FUZZ_CHECK(n1 == n2 && memcmp(p1, p2, n1) == 0, "pack(unpack(pack(t))) differs from pack(t): %zu and %zu bytes", n1,
               n2);
    free(p1);
    free(p2);
    tkt_free(u);
    tkt_free(t);
    return 0;
}
