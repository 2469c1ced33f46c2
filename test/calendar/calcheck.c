/*-------------------------------------------------------------------------
 *
 * calcheck.c
 *	  Property checks of the business-time core (src/lp_calcore.c) on a
 *	  calendar and a synthetic time zone decoded from arbitrary bytes.
 *	  Shared by the unit test (calcore_test.c) and the libFuzzer harness
 *	  (fuzz_calcore.c).
 *
 * Everything decoded lies on a grid of whole minutes: shift and holiday
 * times, zone transitions, offsets (multiples of 15 minutes, or of any
 * minute count up to the core's limit), start instants and amounts.  On
 * such a grid the open/closed state is constant within each minute, so a
 * brute-force oracle that looks at every minute of a short window knows
 * the exact answer.  The properties:
 *	- compile accepts exactly the valid inputs (overlaps are detected);
 *	- add(start, a) = r: r >= start, between(start, r) == a, and for a > 0
 *	  the microsecond before r is open (the result ends open time);
 *	- add is monotonic in the amount and in the start;
 *	- between is antisymmetric and additive over a split point;
 *	- on short windows between() equals the minute-by-minute oracle;
 *	- nothing hangs: every call returns (the fuzzer's -timeout checks it).
 * A failed property prints the case and aborts.
 *
 * IDENTIFICATION
 *	  test/calendar/calcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calcheck.h"

#define MINUTE	(60 * LP_CAL_USECS_PER_SEC)
#define DAY		LP_CAL_USECS_PER_DAY

#define MAX_SHIFTS	10
#define MAX_HOLS	8
#define MAX_TRANS	12

/* A synthetic zone: offsets[i] holds from trans[i - 1] to trans[i] */
typedef struct SynthZone
{
	int			ntrans;
	int64_t		trans[MAX_TRANS];
	int32_t		offsets[MAX_TRANS + 1];
} SynthZone;

/* The whole decoded case */
typedef struct Case
{
	LpCalShift	shifts[MAX_SHIFTS];
	int			nshifts;
	LpCalHoliday hols[MAX_HOLS];
	int			nhols;
	SynthZone	zone;
	int64_t		start;
	int64_t		start2;
	int64_t		amount;
	int64_t		amount2;
} Case;

/* Byte reader that yields zeros past the end */
typedef struct Reader
{
	const uint8_t *p;
	size_t		n;
} Reader;

static unsigned
rd8(Reader *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static unsigned
rd16(Reader *r)
{
	unsigned	a = rd8(r);

	return a | (rd8(r) << 8);
}

static uint32_t
rd32(Reader *r)
{
	uint32_t	a = rd16(r);

	return a | ((uint32_t) rd16(r) << 16);
}

bool
calcheck_list_lookup(void *ctx, int64_t t, int32_t *offset, int64_t *next)
{
	const CalListZone *z = ctx;
	int			i = 0;

	while (i < z->n && z->at[i] <= t)
		i++;
	*offset = z->off[i];
	if (i == z->n)
		return false;
	*next = z->at[i];
	return true;
}

static CalListZone
synth_list(const SynthZone *z)
{
	CalListZone l = {z->ntrans, z->trans, z->offsets};

	return l;
}

static int32_t
synth_offset(const SynthZone *z, int64_t t)
{
	CalListZone l = synth_list(z);
	int32_t		off;
	int64_t		next;

	calcheck_list_lookup(&l, t, &off, &next);
	return off;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* Is local time l open, by the raw shifts and holidays? */
static bool
oracle_open_local(const Case *c, int64_t l)
{
	int64_t		day = floor_div(l, DAY);
	int64_t		tod = l - day * DAY;
	int			wd = (int) (((day - 4) % 7 + 7) % 7) + 1;
	bool		open = false;

	for (int i = 0; i < c->nshifts; i++)
		if (c->shifts[i].weekday == wd && c->shifts[i].opens <= tod &&
			tod < c->shifts[i].closes)
			open = true;
	for (int i = 0; i < c->nhols; i++)
		if (c->hols[i].day == day && c->hols[i].from <= tod &&
			tod < c->hols[i].until)
			open = false;
	return open;
}

/* Business time in [a, b), minute by minute (a, b on the grid, a <= b) */
static int64_t
oracle_between(const Case *c, int64_t a, int64_t b)
{
	int64_t		sum = 0;

	for (int64_t m = a; m < b; m += MINUTE)
		if (oracle_open_local(c, m + (int64_t) synth_offset(&c->zone, m) *
							  LP_CAL_USECS_PER_SEC))
			sum += MINUTE;
	return sum;
}

static void
fail(const Case *c, const char *what, int64_t x, int64_t y)
{
	fprintf(stderr, "calcheck: %s (%lld vs %lld)\n", what, (long long) x,
			(long long) y);
	fprintf(stderr, "  start %lld start2 %lld amount %lld amount2 %lld\n",
			(long long) c->start, (long long) c->start2,
			(long long) c->amount, (long long) c->amount2);
	for (int i = 0; i < c->nshifts; i++)
		fprintf(stderr, "  shift %d: %lld-%lld\n", c->shifts[i].weekday,
				(long long) (c->shifts[i].opens / MINUTE),
				(long long) (c->shifts[i].closes / MINUTE));
	for (int i = 0; i < c->nhols; i++)
		fprintf(stderr, "  holiday day %lld: %lld-%lld\n",
				(long long) c->hols[i].day,
				(long long) (c->hols[i].from / MINUTE),
				(long long) (c->hols[i].until / MINUTE));
	fprintf(stderr, "  zone offset0 %d\n", c->zone.offsets[0]);
	for (int i = 0; i < c->zone.ntrans; i++)
		fprintf(stderr, "  transition at %lld to %d\n",
				(long long) c->zone.trans[i], c->zone.offsets[i + 1]);
	abort();
}

#define CHECK(cond, c, what, x, y) \
	do { if (!(cond)) fail((c), (what), (x), (y)); } while (0)

/*
 * decode
 *		Build a case from bytes.  Shifts are sorted but not de-overlapped:
 *		overlapping input must be refused by compile.
 */
static void
decode(Reader *r, Case *c, int64_t *base)
{
	unsigned	flags;
	int64_t		t;

	memset(c, 0, sizeof(*c));
	flags = rd8(r);

	/* base day: mostly around 2024, sometimes anywhere in the range */
	if (flags & 0x80)
		*base = ((int64_t) (int32_t) rd32(r) * (INT64_C(1) << 20)) / DAY * DAY;
	else
		*base = (19723 + (int64_t) (rd16(r) % 2000)) * DAY;
	if (*base > LP_CAL_MAX_TIME - 400 * DAY)
		*base = LP_CAL_MAX_TIME / DAY * DAY - 400 * DAY;
	if (*base < LP_CAL_MIN_TIME + 400 * DAY)
		*base = LP_CAL_MIN_TIME / DAY * DAY + 400 * DAY;

	c->nshifts = rd8(r) % (MAX_SHIFTS + 1);
	for (int i = 0; i < c->nshifts; i++)
	{
		int64_t		opens = (rd8(r) % 96) * 15;		/* minutes */
		int64_t		len = 1 + rd16(r) % 1440;

		/* weekday 0 or 8 now and then: compile must refuse it */
		c->shifts[i].weekday = (flags & 0x40) ? rd8(r) % 9 : 1 + rd8(r) % 7;
		c->shifts[i].opens = opens * MINUTE;
		c->shifts[i].closes = (opens + len > 1440 ? 1440 : opens + len) * MINUTE;
	}
	/* insertion sort by (weekday, opens) */
	for (int i = 1; i < c->nshifts; i++)
		for (int j = i; j > 0 &&
			 (c->shifts[j].weekday < c->shifts[j - 1].weekday ||
			  (c->shifts[j].weekday == c->shifts[j - 1].weekday &&
			   c->shifts[j].opens < c->shifts[j - 1].opens)); j--)
		{
			LpCalShift	s = c->shifts[j];

			c->shifts[j] = c->shifts[j - 1];
			c->shifts[j - 1] = s;
		}

	c->nhols = rd8(r) % (MAX_HOLS + 1);
	for (int i = 0; i < c->nhols; i++)
	{
		unsigned	k = rd8(r);
		int64_t		from = (rd8(r) % 96) * 15;
		int64_t		len = 1 + rd16(r) % 1440;

		c->hols[i].day = *base / DAY + (int64_t) (rd8(r) % 40) - 5;
		if (k & 1)
		{
			c->hols[i].from = 0;
			c->hols[i].until = DAY;
		}
		else
		{
			c->hols[i].from = from * MINUTE;
			c->hols[i].until = (from + len > 1440 ? 1440 : from + len) * MINUTE;
		}
	}
	for (int i = 1; i < c->nhols; i++)
		for (int j = i; j > 0 &&
			 (c->hols[j].day < c->hols[j - 1].day ||
			  (c->hols[j].day == c->hols[j - 1].day &&
			   c->hols[j].from < c->hols[j - 1].from)); j--)
		{
			LpCalHoliday h = c->hols[j];

			c->hols[j] = c->hols[j - 1];
			c->hols[j - 1] = h;
		}

	/* zone: offsets in quarter hours (+-16 h) or, rarely, wild minutes */
	c->zone.ntrans = rd8(r) % (MAX_TRANS + 1);
	t = *base + (int64_t) (rd16(r) % (14 * 96)) * 15 * MINUTE - 7 * DAY;
	for (int i = 0; i <= c->zone.ntrans; i++)
	{
		unsigned	k = rd8(r);

		if (flags & 0x20)
			c->zone.offsets[i] = ((int32_t) (int16_t) rd16(r) % 10080) * 60;
		else
			c->zone.offsets[i] = ((int32_t) (k % 129) - 64) * 15 * 60;
		if (i < c->zone.ntrans)
		{
			c->zone.trans[i] = t;
			/* gaps from 15 minutes to about 20 days */
			t += (int64_t) (1 + rd16(r) % 1920) * 15 * MINUTE;
		}
	}

	c->start = *base + (int64_t) (rd16(r) % (30 * 96)) * 15 * MINUTE - 5 * DAY;
	c->start2 = c->start + (int64_t) (rd16(r) % (3 * 96)) * 15 * MINUTE;
	c->amount = (int64_t) (rd16(r) % 4000) * MINUTE;
	if (flags & 0x10)
		c->amount *= 97;		/* weeks of business time */
	c->amount2 = c->amount + (int64_t) (rd8(r) % 200) * MINUTE;
}

/* Does the raw input have a valid, non-overlapping shift list? */
static bool
shifts_valid(const Case *c)
{
	for (int i = 0; i < c->nshifts; i++)
	{
		if (c->shifts[i].weekday < 1 || c->shifts[i].weekday > 7)
			return false;
		if (i > 0 && c->shifts[i].weekday == c->shifts[i - 1].weekday &&
			c->shifts[i].opens < c->shifts[i - 1].closes)
			return false;
	}
	return c->nshifts > 0;
}

int
calcheck_run(const uint8_t *data, size_t size)
{
	Reader		r = {data, size};
	Case		c;
	int64_t		base;
	LpCalendar	cal;
	int64_t		buf[3 * MAX_SHIFTS + 3 * MAX_HOLS + 1];
	CalListZone list;
	LpCalZone	zone;
	LpCalStatus st;
	int64_t		res,
				res2,
				x,
				y;
	int			bad;

	decode(&r, &c, &base);
	list = synth_list(&c.zone);
	zone.lookup = calcheck_list_lookup;
	zone.ctx = &list;

	st = lp_cal_compile(&cal, c.shifts, c.nshifts, c.hols, c.nhols, buf, &bad);
	CHECK((st == LP_CAL_OK) == shifts_valid(&c), &c, "compile verdict",
		  st, shifts_valid(&c));
	if (st != LP_CAL_OK)
		return 0;

	/* between: antisymmetric, additive, equal to the oracle */
	st = lp_cal_between(&cal, &zone, c.start, c.start2, &x);
	CHECK(st == LP_CAL_OK, &c, "between status", st, 0);
	st = lp_cal_between(&cal, &zone, c.start2, c.start, &y);
	CHECK(st == LP_CAL_OK && x == -y, &c, "between antisymmetric", x, y);
	{
		int64_t		mid = c.start + (c.start2 - c.start) / 2 / MINUTE * MINUTE;
		int64_t		a,
					b;

		lp_cal_between(&cal, &zone, c.start, mid, &a);
		lp_cal_between(&cal, &zone, mid, c.start2, &b);
		CHECK(a + b == x, &c, "between additive", a + b, x);
	}
	CHECK(x == oracle_between(&c, c.start, c.start2), &c, "between oracle",
		  x, oracle_between(&c, c.start, c.start2));

	/* add: round trip, ends in open time, earliest, monotonic */
	st = lp_cal_add(&cal, &zone, c.start, c.amount, &res);
	if (st == LP_CAL_NEVER_OPEN || st == LP_CAL_OUT_OF_RANGE ||
		st == LP_CAL_TOO_MANY_STEPS)
		return 0;				/* legitimate for wild zones or far bases */
	CHECK(st == LP_CAL_OK, &c, "add status", st, 0);
	CHECK(res >= c.start, &c, "add goes forward", res, c.start);
	st = lp_cal_between(&cal, &zone, c.start, res, &x);
	CHECK(st == LP_CAL_OK && x == c.amount, &c, "add round trip", x, c.amount);
	if (c.amount > 0)
	{
		lp_cal_between(&cal, &zone, res - 1, res, &y);
		CHECK(y == 1, &c, "add ends in open time", y, 1);
		if (res - c.start <= 10 * DAY)
		{
			CHECK(oracle_between(&c, c.start, res) == c.amount, &c,
				  "add oracle", oracle_between(&c, c.start, res), c.amount);
		}
	}
	else
		CHECK(res == c.start, &c, "add of zero", res, c.start);

	st = lp_cal_add(&cal, &zone, c.start, c.amount2, &res2);
	if (st == LP_CAL_OK)
		CHECK(res2 >= res, &c, "add monotonic in amount", res2, res);
	st = lp_cal_add(&cal, &zone, c.start2, c.amount, &res2);
	if (st == LP_CAL_OK)
		CHECK(res2 >= res, &c, "add monotonic in start", res2, res);

	/* negative amounts are refused */
	CHECK(lp_cal_add(&cal, &zone, c.start, -1, &res2) == LP_CAL_NEGATIVE_AMOUNT,
		  &c, "negative amount", 0, 0);
	return 0;
}
