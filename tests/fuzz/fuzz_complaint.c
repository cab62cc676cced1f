/* libFuzzer target: evt_decode_complaint (complaint.v1, contract §2).
 *
 * Input: the bytes of one message, as the daemon gets them from the broker.
 * Besides "no crash, no leak, no undefined behaviour" it checks:
 *  - the detail is always terminated, printable ASCII (message values never
 *    go into it) and non-empty on failure, empty on success;
 *  - a message over max_bytes is too_large before anything is parsed;
 *  - decoding is deterministic: a second decode gives the same status,
 *    detail and event;
 *  - on EVT_OK every string of the event ends inside its buffer and obeys
 *    its field's rule, the enums are in range, the EVF_* flags match the
 *    type and the fields present, and occurred_at prints and parses back. */
#include <stdint.h>
#include <string.h>

#include "evt.h"
#include "fuzz_util.h"

#define MAX_BYTES 1048576 /* the daemon's default max_event_bytes */

/* A field of the event: terminated in its buffer, and "" exactly when absent. */
#define CHECK_FIELD(ev, field, flag, len_max)                                                                          \
    do {                                                                                                               \
        FUZZ_CHECK(fz_terminated((ev)->field, sizeof((ev)->field)), #field " is not terminated");                      \
        size_t n_ = strlen((ev)->field);                                                                               \
        FUZZ_CHECK(n_ <= (len_max), #field " is %zu bytes", n_);                                                       \
        FUZZ_CHECK((n_ > 0) == (((ev)->has & (flag)) != 0), #field " is %zu bytes, has=%#x", n_, (ev)->has);           \
    } while (0)

static void check_ok(const ComplaintEvent *ev)
{
    FUZZ_CHECK(fz_terminated(ev->event_id, sizeof ev->event_id), "event_id is not terminated");
    size_t n = strlen(ev->event_id);
    FUZZ_CHECK(n >= 1 && n <= EVT_ID_MAX && fz_text_ok(ev->event_id), "event_id breaks its rule");
    FUZZ_CHECK(fz_terminated(ev->ticket_id, sizeof ev->ticket_id), "ticket_id is not terminated");
    n = strlen(ev->ticket_id);
    FUZZ_CHECK(n >= 1 && n <= EVT_TICKET_MAX && fz_charset_ok(ev->ticket_id, "._:-"), "ticket_id breaks its rule");
    FUZZ_CHECK(evt_type_name(ev->type) != NULL, "type %d out of range", (int)ev->type);

    /* What every version of the contract keeps: received has a channel
     * and a category, and only received has a channel or a customer_ref;
     * satisfied belongs to revisit, hours to extended. Flags of newer
     * optional fields are not checked here. */
    if (ev->type == CT_RECEIVED)
        FUZZ_CHECK((ev->has & (EVF_CHANNEL | EVF_CATEGORY)) == (EVF_CHANNEL | EVF_CATEGORY),
                   "received without channel or category: has=%#x", ev->has);
    else
        FUZZ_CHECK(!(ev->has & (EVF_CHANNEL | EVF_CUSTOMER_REF)), "%s with channel or customer_ref: has=%#x",
                   evt_type_name(ev->type), ev->has);
    FUZZ_CHECK(((ev->has & EVF_SATISFIED) != 0) == (ev->type == CT_REVISIT), "%s: has=%#x", evt_type_name(ev->type),
               ev->has);
    if (ev->type == CT_EXTENDED) {
        FUZZ_CHECK(evt_ext_stage_name(ev->ext_stage) != NULL, "stage %d out of range", (int)ev->ext_stage);
        FUZZ_CHECK(ev->ext_hours >= 1 && ev->ext_hours <= 720, "hours %d", ev->ext_hours);
    } else {
        FUZZ_CHECK(ev->ext_hours == 0 && ev->approved_by[0] == '\0', "extension fields outside extended");
    }
    if (ev->has & EVF_CHANNEL)
        FUZZ_CHECK(evt_channel_name(ev->channel) != NULL, "channel %d out of range", (int)ev->channel);
    if (ev->has & EVF_CATEGORY)
        FUZZ_CHECK(evt_category_name(ev->category) != NULL, "category %d out of range", (int)ev->category);

    CHECK_FIELD(ev, waybill, EVF_WAYBILL, EVT_WAYBILL_MAX);
    FUZZ_CHECK(fz_charset_ok(ev->waybill, "-"), "waybill breaks its rule");
    CHECK_FIELD(ev, site, EVF_SITE, EVT_SITE_MAX);
    FUZZ_CHECK(fz_text_ok(ev->site), "site breaks its rule");
    CHECK_FIELD(ev, region, EVF_REGION, EVT_REGION_MAX);
    FUZZ_CHECK(fz_charset_ok(ev->region, "_-"), "region breaks its rule");
    CHECK_FIELD(ev, customer_ref, EVF_CUSTOMER_REF, EVT_REF_MAX);
    FUZZ_CHECK(fz_text_ok(ev->customer_ref), "customer_ref breaks its rule");
    FUZZ_CHECK(fz_terminated(ev->approved_by, sizeof ev->approved_by), "approved_by is not terminated");
    FUZZ_CHECK(strlen(ev->approved_by) <= EVT_REF_MAX && fz_text_ok(ev->approved_by), "approved_by breaks its rule");
    if (!(ev->has & EVF_CLAIM))
        FUZZ_CHECK(!ev->claim, "claim set but not present");
    if (!(ev->has & EVF_MAJOR))
        FUZZ_CHECK(!ev->major, "major set but not present");

    fz_check_time_round_trip(ev->occurred_at, 0);
    fz_check_time_round_trip(ev->occurred_at, 8 * 60);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    ComplaintEvent ev, again;
    char detail[EVT_DETAIL_MAX], detail2[EVT_DETAIL_MAX];

    memset(detail, 'x', sizeof detail);
    EvtStatus st = evt_decode_complaint(buf, size, MAX_BYTES, &ev, detail, sizeof detail);
    FUZZ_CHECK(evt_status_name(st) != NULL, "status %d out of range", (int)st);
    FUZZ_CHECK(fz_terminated(detail, sizeof detail), "detail is not terminated");
    FUZZ_CHECK(fz_printable(detail), "detail has bytes other than printable ASCII: \"%s\"", detail);
    FUZZ_CHECK((st == EVT_OK) == (detail[0] == '\0'), "status %s with detail \"%s\"", evt_status_name(st), detail);
    FUZZ_CHECK(st != EVT_TOO_LARGE, "too_large under the limit");

    memset(detail2, 'y', sizeof detail2);
    EvtStatus st2 = evt_decode_complaint(buf, size, MAX_BYTES, &again, detail2, sizeof detail2);
    FUZZ_CHECK(st2 == st && strcmp(detail, detail2) == 0, "second decode: %s \"%s\", first: %s \"%s\"",
               evt_status_name(st2), detail2, evt_status_name(st), detail);
    if (st == EVT_OK) {
        FUZZ_CHECK(memcmp(&ev, &again, sizeof ev) == 0, "second decode gave another event");
        check_ok(&ev);
    }

    /* One byte over the limit: refused before parsing, whatever the bytes. */
    if (size > 0) {
        st2 = evt_decode_complaint(buf, size, size - 1, &again, detail2, sizeof detail2);
        FUZZ_CHECK(st2 == EVT_TOO_LARGE, "%zu bytes over a limit of %zu: %s", size, size - 1, evt_status_name(st2));
    }
    /* A detail buffer of one byte is only ever terminated. */
    char tiny[1] = {'x'};
    st2 = evt_decode_complaint(buf, size, MAX_BYTES, &again, tiny, sizeof tiny);
    FUZZ_CHECK(st2 == st && tiny[0] == '\0', "detail of one byte: %s", evt_status_name(st2));
    return 0;
}
