/*-------------------------------------------------------------------------
 *
 * lp_calcore.h
 *	  Business calendars and business-time arithmetic, independent of the
 *	  PostgreSQL backend.
 *
 * Times are int64 microseconds since 1970-01-01 00:00 UTC.  A calendar is a
 * set of weekly shifts in local wall-clock time plus holidays on local dates
 * (whole day, or closed between two local times).  Business time is the set
 * of real instants whose local wall-clock time falls in a shift and not in a
 * holiday.  The time zone is a callback (LpCalZone), so the backend plugs in
 * PostgreSQL's time zone library and the unit test and fuzzer plug in
 * synthetic zones.  Only stdint/stdbool/stddef are used: no allocation, no
 * libc calls, no PostgreSQL headers.
 *
 * IDENTIFICATION
 *	  src/lp_calcore.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_CALCORE_H
#define LP_CALCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_CAL_USECS_PER_SEC	INT64_C(1000000)
#define LP_CAL_USECS_PER_DAY	INT64_C(86400000000)
#define LP_CAL_USECS_PER_WEEK	(7 * LP_CAL_USECS_PER_DAY)

/* Instants the core accepts and returns: about 146,000 years either side */
#define LP_CAL_MAX_TIME			((INT64_C(1) << 62) - 1)
#define LP_CAL_MIN_TIME			(-LP_CAL_MAX_TIME)

/* Largest UTC offset a zone may report, in seconds */
#define LP_CAL_MAX_OFFSET		(7 * 86400)

/* Zone segments one call may walk (real zones: about 2 a year) */
#define LP_CAL_MAX_STEPS		(1 << 22)

/*
 * After the last holiday, a calendar with weekly hours is open within any
 * 7 days of constant offset; a search that finds no open time for longer
 * than this past the last holiday is in a zone that keeps skipping the
 * hours, and stops with LP_CAL_NEVER_OPEN.
 */
#define LP_CAL_IDLE_BOUND		(8 * LP_CAL_USECS_PER_DAY)

typedef enum LpCalStatus
{
	LP_CAL_OK = 0,
	LP_CAL_NO_HOURS,			/* no shifts at all */
	LP_CAL_BAD_SHIFT,			/* weekday not 1..7, or not 0 <= opens <
								 * closes <= 24:00 */
	LP_CAL_UNSORTED,			/* input not sorted as required */
	LP_CAL_OVERLAP,				/* two shifts of a weekday overlap */
	LP_CAL_BAD_HOLIDAY,			/* not 0 <= from < until <= 24:00, or date
								 * out of range */
	LP_CAL_NEGATIVE_AMOUNT,		/* lp_cal_add() with amount < 0 */
	LP_CAL_OUT_OF_RANGE,		/* an instant outside LP_CAL_MIN/MAX_TIME */
	LP_CAL_NEVER_OPEN,			/* the search found no open time */
	LP_CAL_BAD_ZONE,			/* the zone broke its contract */
	LP_CAL_TOO_MANY_STEPS		/* more than LP_CAL_MAX_STEPS segments */
} LpCalStatus;

/* One weekly shift: [opens, closes) local time on an ISO weekday */
typedef struct LpCalShift
{
	int32_t		weekday;		/* 1 = Monday .. 7 = Sunday */
	int64_t		opens;			/* microseconds after local midnight */
	int64_t		closes;			/* ditto, up to LP_CAL_USECS_PER_DAY */
} LpCalShift;

/* One holiday: closed during [from, until) local time on a local date */
typedef struct LpCalHoliday
{
	int64_t		day;			/* local date, days since 1970-01-01 */
	int64_t		from;			/* 0 for a whole day */
	int64_t		until;			/* LP_CAL_USECS_PER_DAY for a whole day */
} LpCalHoliday;

/*
 * A time zone.  lookup(ctx, t, &offset, &next) sets *offset to the UTC
 * offset in seconds (local = UTC + offset) in effect at instant t, and
 * returns true with *next set to the first instant after t at which the
 * offset may change, or false if it never changes after t.  One callback
 * answers both questions because zone libraries find both in one search.
 */
typedef bool (*LpCalZoneLookup) (void *ctx, int64_t t, int32_t *offset,
								 int64_t *next);

typedef struct LpCalZone
{
	LpCalZoneLookup lookup;
	void	   *ctx;
} LpCalZone;

/*
 * A compiled calendar: merged weekly intervals (microseconds after Monday
 * 00:00 local) with the open time before each, and merged holiday closures
 * (local microseconds since the epoch) with the weekly open time they take
 * away before each.  The arrays live in a buffer the caller provides.
 */
typedef struct LpCalendar
{
	int			nweek;
	int64_t	   *wk_start;
	int64_t	   *wk_end;
	int64_t	   *wk_before;		/* open time of intervals 0 .. i-1 */
	int64_t		week_total;		/* open time of a whole week */

	int			nhol;
	int64_t	   *hol_start;
	int64_t	   *hol_end;
	int64_t	   *hol_before;		/* weekly open time closed by 0 .. i-1;
								 * nhol + 1 entries */
	int64_t		hol_last_end;	/* end of the last closure, local */
} LpCalendar;

/* int64 elements of the buffer lp_cal_compile() needs */
extern size_t lp_cal_buffer_len(int nshifts, int nholidays);

/*
 * Compile shifts sorted by (weekday, opens) and holidays sorted by (day,
 * from) into *cal, using buf of lp_cal_buffer_len() elements.  On error,
 * *bad (if not NULL) is the index of the offending shift or holiday.
 * Holidays may overlap each other; shifts of a weekday may touch but not
 * overlap.
 */
extern LpCalStatus lp_cal_compile(LpCalendar *cal,
								  const LpCalShift *shifts, int nshifts,
								  const LpCalHoliday *holidays, int nholidays,
								  int64_t *buf, int *bad);

/*
 * The earliest instant r >= start with business time in [start, r) equal
 * to amount (amount >= 0).  amount 0 gives start itself; otherwise the
 * result is the end of open time, never the opening after a gap, so that
 * 09:00 + 8 hours is 17:00 of the same day, not 09:00 of the next.
 */
extern LpCalStatus lp_cal_add(const LpCalendar *cal, const LpCalZone *zone,
							  int64_t start, int64_t amount, int64_t *result);

/* Business time in [from, to); the negated [to, from) when to < from */
extern LpCalStatus lp_cal_between(const LpCalendar *cal, const LpCalZone *zone,
								  int64_t from, int64_t to, int64_t *result);

/* A short English description of a status, for messages */
extern const char *lp_cal_status_text(LpCalStatus status);

#endif							/* LP_CALCORE_H */
