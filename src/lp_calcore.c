/*-------------------------------------------------------------------------
 *
 * lp_calcore.c
 *	  Business-time arithmetic on compiled calendars, independent of the
 *	  PostgreSQL backend (see lp_calcore.h for the interface).
 *
 * Model.  Local time is UTC plus the zone's offset.  A calendar says which
 * local wall-clock times are open: the weekly shifts minus the holiday
 * closures.  Business time is the set of real (UTC) instants whose local
 * time is open, measured in real microseconds.  The walk goes through UTC
 * segments of constant offset: inside one, local = UTC + offset, so the
 * business time of the segment is the open measure of the shifted local
 * interval.  A DST gap therefore drops local times that never happen, and
 * an overlap counts the repeated hour twice, as the clock on the wall of a
 * real office would.
 *
 * Speed.  Open measure over a local interval is a difference of a prefix
 * function: whole weeks are a multiplication, the part of a week a binary
 * search, and the holiday closures in between a difference of prefix sums.
 * A call costs O(log n) per zone segment, whatever the span; finding the
 * end of an amount also walks the holidays inside the final segment.
 *
 * Termination.  Every loop is bounded: the segment walk by
 * LP_CAL_MAX_STEPS and by the range of instants, the holiday walk by the
 * number of holidays.  A calendar without shifts is refused when compiled;
 * a zone that keeps skipping every open hour is detected by
 * LP_CAL_IDLE_BOUND.
 *
 * Overflow.  Instants stay within +-2^62 microseconds and offsets within
 * +-7 days, so local times, week counts times week totals and sums of
 * measures all fit in int64.
 *
 * IDENTIFICATION
 *	  src/lp_calcore.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "lp_calcore.h"

/* 1970-01-05, local day 4, was a Monday: weeks are counted from it */
#define MONDAY0		(4 * LP_CAL_USECS_PER_DAY)

/* Holiday dates the core accepts: instants of the day stay in range */
#define MAX_HOLIDAY_DAY	(LP_CAL_MAX_TIME / LP_CAL_USECS_PER_DAY - 16)

static const char *const status_texts[] = {
	"ok",
	"calendar has no business hours",
	"invalid shift",
	"shifts or holidays are not sorted",
	"shifts overlap",
	"invalid holiday",
	"amount is negative",
	"time out of range",
	"calendar never opens",
	"time zone reported an invalid offset or transition",
	"too many time zone transitions"
};

const char *
lp_cal_status_text(LpCalStatus status)
{
	if ((int) status < 0 ||
		(size_t) status >= sizeof(status_texts) / sizeof(status_texts[0]))
		return "unknown status";
	return status_texts[status];
}

/* floor(a / b) for b > 0 */
static inline int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

static inline int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static inline int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

size_t
lp_cal_buffer_len(int nshifts, int nholidays)
{
	return 3 * (size_t) (nshifts > 0 ? nshifts : 0) +
		3 * (size_t) (nholidays > 0 ? nholidays : 0) + 1;
}

/*
 * first_above
 *		Index of the first element greater than x in a sorted array (n if
 *		none): the one binary search every lookup below is made of.
 */
static int
first_above(const int64_t *a, int n, int64_t x)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (a[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * week_part
 *		Open time between the start of a week and r microseconds into it
 *		(0 <= r < one week): the last interval starting at or before r,
 *		clipped to r, plus the open time before it.
 */
static int64_t
week_part(const LpCalendar *cal, int64_t r)
{
	int			i = first_above(cal->wk_start, cal->nweek, r) - 1;

	if (i < 0)
		return 0;
	return cal->wk_before[i] + min64(r, cal->wk_end[i]) - cal->wk_start[i];
}

/*
 * week_cum
 *		Weekly open time (holidays ignored) from Monday 1970-01-05 00:00 to
 *		local time l; negative before it.  Non-decreasing and continuous, so
 *		the difference of two values is the open time between them.
 */
static int64_t
week_cum(const LpCalendar *cal, int64_t l)
{
	int64_t		rel = l - MONDAY0;
	int64_t		k = floor_div(rel, LP_CAL_USECS_PER_WEEK);

	return k * cal->week_total +
		week_part(cal, rel - k * LP_CAL_USECS_PER_WEEK);
}

/*
 * week_inverse
 *		The earliest local time l with week_cum(l) == target.  The earliest
 *		one is the end of open time, never the start of the next interval:
 *		writing target = k * week_total + r with 0 < r <= week_total puts it
 *		inside (or at the end of) an interval of week k.
 */
static int64_t
week_inverse(const LpCalendar *cal, int64_t target)
{
	int64_t		k = floor_div(target - 1, cal->week_total);
	int64_t		r = target - k * cal->week_total;
	int			lo = 0,
				hi = cal->nweek - 1;

	/* first interval whose cumulative end reaches r */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (cal->wk_before[mid] + cal->wk_end[mid] - cal->wk_start[mid] >= r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return MONDAY0 + k * LP_CAL_USECS_PER_WEEK + cal->wk_start[lo] +
		(r - cal->wk_before[lo]);
}

/* Index of the first holiday closure ending after local time l */
static inline int
first_hol_after(const LpCalendar *cal, int64_t l)
{
	return first_above(cal->hol_end, cal->nhol, l);
}

/* Index of the first holiday closure starting at or after local time l */
static inline int
first_hol_from(const LpCalendar *cal, int64_t l)
{
	return first_above(cal->hol_start, cal->nhol, l - 1);
}

/*
 * local_open
 *		Open time in the local interval [lx, ly), lx <= ly: weekly open time
 *		minus what the holiday closures inside take away.  Closures are
 *		disjoint, so their shares add up; the first and last may stick out
 *		of the interval and are clipped.
 */
static int64_t
local_open(const LpCalendar *cal, int64_t lx, int64_t ly)
{
	int64_t		open = week_cum(cal, ly) - week_cum(cal, lx);
	int			i0,
				i1;

	if (cal->nhol == 0 || lx >= ly)
		return open;
	i0 = first_hol_after(cal, lx);
	i1 = first_hol_from(cal, ly);
	if (i0 >= i1)
		return open;
	open -= cal->hol_before[i1] - cal->hol_before[i0];
	if (cal->hol_start[i0] < lx)
		open += week_cum(cal, lx) - week_cum(cal, cal->hol_start[i0]);
	if (cal->hol_end[i1 - 1] > ly)
		open += week_cum(cal, cal->hol_end[i1 - 1]) - week_cum(cal, ly);
	return open;
}

/*
 * local_find
 *		The earliest local time l >= lx with local_open(lx, l) == amount,
 *		amount > 0.  Walks the gaps between holiday closures from lx; the
 *		caller guarantees the amount is reached, so the walk ends at the
 *		latest after the last closure, where weekly hours alone decide.
 */
static int64_t
local_find(const LpCalendar *cal, int64_t lx, int64_t amount)
{
	int64_t		c = lx;

	for (int i = first_hol_after(cal, lx); i < cal->nhol; i++)
	{
		if (cal->hol_start[i] > c)
		{
			int64_t		avail = week_cum(cal, cal->hol_start[i]) -
				week_cum(cal, c);

			if (avail >= amount)
				break;
			amount -= avail;
		}
		c = max64(c, cal->hol_end[i]);
	}
	return week_inverse(cal, week_cum(cal, c) + amount);
}

/* (a1, a2) sorts before (b1, b2) */
static inline bool
pair_before(int64_t a1, int64_t a2, int64_t b1, int64_t b2)
{
	return a1 < b1 || (a1 == b1 && a2 < b2);
}

/*
 * lp_cal_compile
 *		Check and merge the shifts and holidays into the prefix tables.
 */
LpCalStatus
lp_cal_compile(LpCalendar *cal, const LpCalShift *shifts, int nshifts,
			   const LpCalHoliday *holidays, int nholidays, int64_t *buf,
			   int *bad)
{
	int64_t		total = 0;
	int			n = 0;
	int			ignored;

	if (bad == NULL)
		bad = &ignored;
	*bad = -1;
	memset(cal, 0, sizeof(*cal));
	if (nshifts <= 0)
		return LP_CAL_NO_HOURS;
	if (nholidays < 0)
		nholidays = 0;

	cal->wk_start = buf;
	cal->wk_end = buf + nshifts;
	cal->wk_before = buf + 2 * (size_t) nshifts;
	cal->hol_start = buf + 3 * (size_t) nshifts;
	cal->hol_end = cal->hol_start + nholidays;
	cal->hol_before = cal->hol_end + nholidays;

	for (int i = 0; i < nshifts; i++)
	{
		const LpCalShift *s = &shifts[i];
		int64_t		start,
					end;

		*bad = i;
		if (s->weekday < 1 || s->weekday > 7 || s->opens < 0 ||
			s->opens >= s->closes || s->closes > LP_CAL_USECS_PER_DAY)
			return LP_CAL_BAD_SHIFT;
		if (i > 0 && pair_before(s->weekday, s->opens,
								 shifts[i - 1].weekday, shifts[i - 1].opens))
			return LP_CAL_UNSORTED;
		if (i > 0 && s->weekday == shifts[i - 1].weekday &&
			s->opens < shifts[i - 1].closes)
			return LP_CAL_OVERLAP;
		start = (s->weekday - 1) * LP_CAL_USECS_PER_DAY + s->opens;
		end = (s->weekday - 1) * LP_CAL_USECS_PER_DAY + s->closes;
		/* shifts that touch (17:00-24:00, 00:00-06:00) become one */
		if (n > 0 && cal->wk_end[n - 1] == start)
			cal->wk_end[n - 1] = end;
		else
		{
			cal->wk_start[n] = start;
			cal->wk_end[n] = end;
			n++;
		}
	}
	for (int i = 0; i < n; i++)
	{
		cal->wk_before[i] = total;
		total += cal->wk_end[i] - cal->wk_start[i];
	}
	cal->nweek = n;
	cal->week_total = total;

	/* holiday closures, merged where they overlap or touch */
	n = 0;
	for (int i = 0; i < nholidays; i++)
	{
		const LpCalHoliday *h = &holidays[i];
		int64_t		start,
					end;

		*bad = i;
		if (h->day < -MAX_HOLIDAY_DAY || h->day > MAX_HOLIDAY_DAY ||
			h->from < 0 || h->from >= h->until ||
			h->until > LP_CAL_USECS_PER_DAY)
			return LP_CAL_BAD_HOLIDAY;
		if (i > 0 && pair_before(h->day, h->from,
								 holidays[i - 1].day, holidays[i - 1].from))
			return LP_CAL_UNSORTED;
		start = h->day * LP_CAL_USECS_PER_DAY + h->from;
		end = h->day * LP_CAL_USECS_PER_DAY + h->until;
		if (n > 0 && start <= cal->hol_end[n - 1])
			cal->hol_end[n - 1] = max64(cal->hol_end[n - 1], end);
		else
		{
			cal->hol_start[n] = start;
			cal->hol_end[n] = end;
			n++;
		}
	}
	*bad = -1;
	cal->nhol = n;
	cal->hol_last_end = LP_CAL_MIN_TIME;
	cal->hol_before[0] = 0;
	for (int i = 0; i < n; i++)
	{
		cal->hol_before[i + 1] = cal->hol_before[i] +
			week_cum(cal, cal->hol_end[i]) - week_cum(cal, cal->hol_start[i]);
		cal->hol_last_end = cal->hol_end[i];
	}
	if (total == 0)
		return LP_CAL_NO_HOURS;
	return LP_CAL_OK;
}

/*
 * zone_segment
 *		The offset in effect at t, in microseconds, and the end of the
 *		segment of constant offset that starts at t (LP_CAL_MAX_TIME if the
 *		offset never changes again), with the zone's contract checked: an
 *		offset within bounds and a next change strictly after t.
 */
static LpCalStatus
zone_segment(const LpCalZone *zone, int64_t t, int64_t *offset, int64_t *end)
{
	int32_t		off = 0;
	int64_t		next = LP_CAL_MAX_TIME;

	if (!zone->lookup(zone->ctx, t, &off, &next))
		next = LP_CAL_MAX_TIME;
	if (off < -LP_CAL_MAX_OFFSET || off > LP_CAL_MAX_OFFSET || next <= t)
		return LP_CAL_BAD_ZONE;
	*offset = off * LP_CAL_USECS_PER_SEC;
	*end = min64(next, LP_CAL_MAX_TIME);
	return LP_CAL_OK;
}

LpCalStatus
lp_cal_add(const LpCalendar *cal, const LpCalZone *zone, int64_t start,
		   int64_t amount, int64_t *result)
{
	int64_t		t = start;
	int64_t		idle_since = start;

	if (amount < 0)
		return LP_CAL_NEGATIVE_AMOUNT;
	if (start < LP_CAL_MIN_TIME || start > LP_CAL_MAX_TIME)
		return LP_CAL_OUT_OF_RANGE;
	if (amount == 0)
	{
		*result = start;
		return LP_CAL_OK;
	}
	if (cal->week_total <= 0)
		return LP_CAL_NO_HOURS;

	for (int steps = 0; steps < LP_CAL_MAX_STEPS; steps++)
	{
		int64_t		off,
					end,
					open;
		LpCalStatus st = zone_segment(zone, t, &off, &end);

		if (st != LP_CAL_OK)
			return st;
		open = local_open(cal, t + off, end + off);
		if (open >= amount)
		{
			*result = local_find(cal, t + off, amount) - off;
			return LP_CAL_OK;
		}
		amount -= open;
		if (end >= LP_CAL_MAX_TIME)
			return LP_CAL_OUT_OF_RANGE;
		if (open > 0)
			idle_since = end;
		else if (end - idle_since > LP_CAL_IDLE_BOUND &&
				 end + off > cal->hol_last_end)
			return LP_CAL_NEVER_OPEN;
		t = end;
	}
	return LP_CAL_TOO_MANY_STEPS;
}

LpCalStatus
lp_cal_between(const LpCalendar *cal, const LpCalZone *zone, int64_t from,
			   int64_t to, int64_t *result)
{
	int64_t		sum = 0;
	int64_t		t;
	bool		negate = false;

	if (from < LP_CAL_MIN_TIME || from > LP_CAL_MAX_TIME ||
		to < LP_CAL_MIN_TIME || to > LP_CAL_MAX_TIME)
		return LP_CAL_OUT_OF_RANGE;
	if (cal->week_total <= 0)
		return LP_CAL_NO_HOURS;
	if (to < from)
	{
		int64_t		swap = from;

		from = to;
		to = swap;
		negate = true;
	}
	t = from;
	for (int steps = 0; steps < LP_CAL_MAX_STEPS; steps++)
	{
		int64_t		off,
					end;
		LpCalStatus st;

		if (t >= to)
		{
			*result = negate ? -sum : sum;
			return LP_CAL_OK;
		}
		st = zone_segment(zone, t, &off, &end);
		if (st != LP_CAL_OK)
			return st;
		end = min64(end, to);
		sum += local_open(cal, t + off, end + off);
		t = end;
	}
	return LP_CAL_TOO_MANY_STEPS;
}
