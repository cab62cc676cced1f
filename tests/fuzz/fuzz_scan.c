/* libFuzzer target: evt_decode_scan (scan.v1, contract §3), and that its fast
 * path and the Jansson tree agree on every input.
 *
 * Input: the bytes of one message. Checks, besides "no crash, no leak, no
 * undefined behaviour":
 *  - the detail is always terminated, printable ASCII and non-empty exactly
 *    on failure; a message over max_bytes is too_large;
 *  - decoding twice gives the same status, detail and event, and so does
 *    the tree alone (evt_decode_scan_tree); what the fast path takes alone
 *    (evt_decode_scan_fast) is what the tree decodes to;
 *  - on EVT_OK every string ends inside its buffer and obeys its field's
 *    rule, the enums are in range, a depart scan names its next site, and
 *    occurred_at prints and parses back. */
#include <stdint.h>
#include <string.h>

#include "evt.h"
#include "fuzz_util.h"

#define MAX_BYTES 1048576 /* the daemon's default max_event_bytes */

static void check_string(const char *name, const char *s, size_t bufsize, size_t min, size_t max)
{
    FUZZ_CHECK(fz_terminated(s, bufsize), "%s is not terminated", name);
    size_t n = strlen(s);
    FUZZ_CHECK(n >= min && n <= max, "%s is %zu bytes", name, n);
}

static void check_ok(const ScanEvent *ev)
{
    check_string("event_id", ev->event_id, sizeof ev->event_id, 1, EVT_ID_MAX);
    FUZZ_CHECK(fz_text_ok(ev->event_id), "event_id breaks its rule");
    check_string("waybill", ev->waybill, sizeof ev->waybill, 1, EVT_WAYBILL_MAX);
    FUZZ_CHECK(fz_text_ok(ev->waybill), "waybill breaks its rule"); /* any text: contract 3 */
    FUZZ_CHECK(evt_scan_type_name(ev->scan_type) != NULL, "scan_type %d out of range", (int)ev->scan_type);
    check_string("site", ev->site, sizeof ev->site, 1, EVT_SITE_MAX);
    FUZZ_CHECK(fz_text_ok(ev->site), "site breaks its rule");
    FUZZ_CHECK(evt_role_name(ev->site_role) != NULL, "site_role %d out of range", (int)ev->site_role);
    check_string("next_site", ev->next_site, sizeof ev->next_site, ev->scan_type == SCAN_DEPART ? 1 : 0, EVT_SITE_MAX);
    FUZZ_CHECK(fz_text_ok(ev->next_site), "next_site breaks its rule");
    FUZZ_CHECK(ev->next_site_role == ROLE_NONE || evt_role_name(ev->next_site_role) != NULL,
               "next_site_role %d out of range", (int)ev->next_site_role);
    fz_check_time_round_trip(ev->occurred_at, 0);
    fz_check_time_round_trip(ev->occurred_at, -5 * 60 - 30);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    ScanEvent ev, again;
    char detail[EVT_DETAIL_MAX], detail2[EVT_DETAIL_MAX];

    memset(detail, 'x', sizeof detail);
    EvtStatus st = evt_decode_scan(buf, size, MAX_BYTES, &ev, detail, sizeof detail);
    FUZZ_CHECK(evt_status_name(st) != NULL, "status %d out of range", (int)st);
    FUZZ_CHECK(fz_terminated(detail, sizeof detail), "detail is not terminated");
    FUZZ_CHECK(fz_printable(detail), "detail has bytes other than printable ASCII: \"%s\"", detail);
    FUZZ_CHECK((st == EVT_OK) == (detail[0] == '\0'), "status %s with detail \"%s\"", evt_status_name(st), detail);
    FUZZ_CHECK(st != EVT_TOO_LARGE, "too_large under the limit");

    memset(detail2, 'y', sizeof detail2);
    EvtStatus st2 = evt_decode_scan(buf, size, MAX_BYTES, &again, detail2, sizeof detail2);
    FUZZ_CHECK(st2 == st && strcmp(detail, detail2) == 0, "second decode: %s \"%s\", first: %s \"%s\"",
               evt_status_name(st2), detail2, evt_status_name(st), detail);
    if (st == EVT_OK) {
        FUZZ_CHECK(memcmp(&ev, &again, sizeof ev) == 0, "second decode gave another event");
        check_ok(&ev);
    }

    /* the fast path and the tree agree: same status, detail and event */
    ScanEvent tree;
    memset(detail2, 'z', sizeof detail2);
    st2 = evt_decode_scan_tree(buf, size, MAX_BYTES, &tree, detail2, sizeof detail2);
    FUZZ_CHECK(st2 == st && strcmp(detail, detail2) == 0, "tree: %s \"%s\", evt_decode_scan: %s \"%s\"",
               evt_status_name(st2), detail2, evt_status_name(st), detail);
    if (st == EVT_OK)
        FUZZ_CHECK(memcmp(&ev, &tree, sizeof ev) == 0, "the tree gave another event");
    if (evt_decode_scan_fast(buf, size, &again))
        FUZZ_CHECK(st == EVT_OK && memcmp(&ev, &again, sizeof ev) == 0, "the fast path took what the tree gives as %s",
                   evt_status_name(st));

    if (size > 0) {
        st2 = evt_decode_scan(buf, size, size - 1, &again, detail2, sizeof detail2);
        FUZZ_CHECK(st2 == EVT_TOO_LARGE, "%zu bytes over a limit of %zu: %s", size, size - 1, evt_status_name(st2));
    }
    return 0;
}
