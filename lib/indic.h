/* indic: the desk's indicators (contract §12.9, 003 评估指标) as counts per
 * local day, category and site, gathered over one batch and added to the
 * stored counts when the batch commits.
 *
 * A count is attributed to the day (at the calendar's UTC offset) of the
 * event or condition it counts, and to the category and site the ticket has
 * then; a later reclassification does not move what was counted. */
#ifndef COMPLAINTD_INDIC_H
#define COMPLAINTD_INDIC_H

#include <stddef.h>
#include <stdint.h>

#include "evt.h"
#include "htab.h"

typedef enum {
    IND_RECEIVED,       /* received (valid or not; see IND_INVALID) */
    IND_INVALID,        /* received on this day, found invalid since */
    IND_RESOLVED,       /* round 1 resolved, valid */
    IND_ON_TIME,        /* ... within its resolve target */
    IND_REVISITS,       /* revisits, valid */
    IND_SATISFIED,      /* ... satisfied */
    IND_REPEATS,        /* repeat complaints received */
    IND_REOPENED,       /* unsatisfied revisits: a round reopened */
    IND_BREACH_CONTACT, /* sla_breach fired, by stage */
    IND_BREACH_FIRST_REPLY,
    IND_BREACH_RESOLVE,
    IND_BREACH_REVISIT,
    IND__COUNT
} IndField;

/* The column name of a count: received, invalid, resolved, resolved_on_time,
 * revisits, satisfied, repeats, reopened, breaches_contact, ... */
const char *indic_field_name(IndField f);

typedef struct IndicRow {
    int32_t day; /* local date, days since 1970-01-01 */
    Category category;
    char site[EVT_SITE_MAX + 1]; /* "" when the ticket has none */
    int32_t n[IND__COUNT];
} IndicRow;

/* The rows of one batch. A zeroed IndicSet is an empty one. */
typedef struct IndicSet {
    HTab idx;
    IndicRow **v;
    size_t n, cap;
} IndicSet;

void indic_init(IndicSet *s);
void indic_reset(IndicSet *s); /* forgets every row, keeps the buffers */
void indic_free(IndicSet *s);

/* Adds delta to field f of the row (day of `at` at utc_offset_min, category,
 * site). -1 when out of memory (nothing changed). */
__attribute__((warn_unused_result)) int indic_add(IndicSet *s, int64_t at, int utc_offset_min, Category category,
                                                  const char *site, IndField f, int delta);

/* The local date of `at` as YYYY-MM-DD (11 bytes). */
void indic_day_text(int32_t day, char out[11]);

#endif
