/* repeat: the indexes behind repeat complaints (重复投诉, contract §7).
 *
 * A new ticket is a repeat complaint when its waybill, or without a waybill
 * its customer_ref + category, matches a ticket resolved within the
 * look-back before the new ticket was received. The index lists tickets by
 * waybill and by customer_ref + category; it points at the caller's tickets
 * and never owns or changes them.
 *
 * A ticket stays listed under the keys it had when it was added, also after
 * an `updated` changed them and it was added again under the new ones (as
 * the engine always did). A match by waybill compares the current waybill;
 * a match by customer_ref + category does not. */
#ifndef COMPLAINTD_REPEAT_H
#define COMPLAINTD_REPEAT_H

#include <stddef.h>
#include <stdint.h>

#include "tkt.h"

typedef struct RepeatIndex RepeatIndex;

RepeatIndex *rpt_new(void);
void rpt_free(RepeatIndex *x); /* the tickets stay the caller's */

/* Lists t under its waybill and under its customer_ref + category (each when
 * not empty). Adding again adds only keys t is not listed under yet; call it
 * after t's keys change. Tickets are told apart by id: one Ticket per id.
 * -1 when out of memory (t may then be listed under only some of its keys;
 * adding it again completes that). */
__attribute__((warn_unused_result)) int rpt_add(RepeatIndex *x, Ticket *t);

/* The ticket t repeats (contract §7), NULL when none: by t's waybill, or
 * when t has none by its customer_ref + category, a ticket other than t whose
 * last_resolved_at lies in [t->received_at - lookback, t->received_at]. The
 * most recently resolved wins; on a tie, the one added first. */
const Ticket *rpt_match(const RepeatIndex *x, const Ticket *t, int64_t lookback);

/* The tickets listed under a waybill, in the order they were added; *out
 * stays valid until the next rpt_add or rpt_remove. It may hold tickets whose
 * waybill has changed since. */
size_t rpt_by_waybill(const RepeatIndex *x, const char *waybill, Ticket *const **out);

/* Forgets t under every key it was listed under. */
void rpt_remove(RepeatIndex *x, const Ticket *t);

#endif
