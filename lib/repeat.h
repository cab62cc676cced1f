/* repeat: the indexes behind repeat complaints (重复投诉, contract §7).
 *
 * A new ticket is a repeat complaint when its waybill, or without a waybill
 * its customer_ref + category, matches a ticket resolved within the
 * look-back before the new ticket was received. The index lists tickets by
 * waybill and by customer_ref + category; it points at the caller's tickets
 * and never owns or changes them, and it reads their keys through them: so
 * call rpt_remove before changing a listed ticket's waybill, customer_ref or
 * category, and rpt_add after. */
#ifndef COMPLAINTD_REPEAT_H
#define COMPLAINTD_REPEAT_H

#include <stddef.h>
#include <stdint.h>

#include "tkt.h"

typedef struct RepeatIndex RepeatIndex;

RepeatIndex *rpt_new(void);
void rpt_free(RepeatIndex *x); /* the tickets stay the caller's */

/* Lists t under its waybill and under its customer_ref + category (each when
 * not empty); adding a ticket already listed changes nothing. -1 when out of
 * memory (t may then be listed under only one of its keys; adding it again
 * completes that). */
__attribute__((warn_unused_result)) int rpt_add(RepeatIndex *x, Ticket *t);

/* The ticket t repeats (contract §7), NULL when none: by t's waybill, or
 * when t has none by its customer_ref + category, a ticket other than t whose
 * last_resolved_at lies in [t->received_at - lookback, t->received_at]. The
 * most recently resolved wins; on a tie, the smaller ticket id. */
const Ticket *rpt_match(const RepeatIndex *x, const Ticket *t, int64_t lookback);

/* The tickets listed under a waybill, one at a time: start with
 * *pos = SIZE_MAX; NULL after the last. No adds or removes meanwhile. */
Ticket *rpt_next_by_waybill(const RepeatIndex *x, const char *waybill, size_t *pos);

/* Forgets t under every key it is listed under. */
void rpt_remove(RepeatIndex *x, const Ticket *t);

/* Bytes the indexes hold (their slots; the tickets are the caller's). */
size_t rpt_memory(const RepeatIndex *x);

#endif
