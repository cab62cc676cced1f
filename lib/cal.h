/* cal: the business calendar (有效工作时限).
 *
 * Working windows are minutes after local midnight, e.g. 08:00-12:00 and
 * 14:00-20:00 at UTC+08:00. A region shift (Xinjiang, Tibet: +2 h) moves every
 * window later; a window keeps belonging to the local date it starts on, so
 * holidays and extra working dates apply to shifted windows of that date.
 * That date is the one of the unshifted schedule, also when the shift pushes
 * a window past midnight: with 14:00-24:00 and +2 h, date D works from D 16:00
 * to D+1 02:00, and a holiday on D+1 does not touch D+1 00:00-02:00.
 * A date counts when it is an extra working date, or when its weekday is a
 * working weekday and it is not a holiday. */
#ifndef COMPLAINTD_CAL_H
#define COMPLAINTD_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Calendar Calendar;

#define CAL_MAX_WINDOWS 8

/* Default calendar: 08:00-12:00, 14:00-20:00, UTC+08:00, every weekday works,
 * no holidays. */
Calendar *cal_new(void);
Calendar *cal_clone(const Calendar *cal);
void cal_free(Calendar *cal);

/* "08:00-12:00,14:00-20:00": ascending, non-overlapping, each inside 00:00-24:00.
 * At least one window; white space around items is ignored; windows may touch. */
__attribute__((warn_unused_result)) int cal_set_windows(Calendar *cal, const char *spec, char *err, size_t errlen);
/* Minutes east of UTC, -14*60..14*60. */
__attribute__((warn_unused_result)) int cal_set_utc_offset(Calendar *cal, int minutes);
int cal_utc_offset(const Calendar *cal);
/* "mon,tue,wed,thu,fri" (any order, case-insensitive; "" = none). */
__attribute__((warn_unused_result)) int cal_set_workdays(Calendar *cal, const char *spec, char *err, size_t errlen);
/* Comma-separated "YYYY-MM-DD" lists; each call replaces the previous list.
 * An item may also be an inclusive range "YYYY-MM-DD..YYYY-MM-DD" of at most
 * 366 days (a holiday week in one item); "" clears the list. A date that is
 * both a holiday and an extra working date works. */
__attribute__((warn_unused_result)) int cal_set_holidays(Calendar *cal, const char *spec, char *err, size_t errlen);
__attribute__((warn_unused_result)) int cal_set_extra_workdays(Calendar *cal, const char *spec, char *err, size_t errlen);

/* Whether the local date (days since epoch) is a working date. */
bool cal_is_workday(const Calendar *cal, int64_t days);

/* The earliest instant t >= start such that the business seconds in [start, t)
 * equal `seconds` (so a budget that runs out at 20:00 is due at 20:00, not at
 * 08:00 the next day). shift_sec is the region shift (0 or 7200; any value
 * works). Returns start when seconds <= 0, and TU_NEVER when the calendar has
 * no working time within ~10 years (3660 days) or start is TU_NEVER. */
int64_t cal_add(const Calendar *cal, int shift_sec, int64_t start, int64_t seconds);

/* Business seconds in [a, b); 0 when b <= a. */
int64_t cal_between(const Calendar *cal, int shift_sec, int64_t a, int64_t b);

#endif
