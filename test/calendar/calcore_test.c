/*-------------------------------------------------------------------------
 *
 * calcore_test.c
 *	  Unit test of the business-time core (src/lp_calcore.c): hand-computed
 *	  vectors, the error statuses, a zone that never lets the calendar
 *	  open, random cases through the property checks of calcheck.c, and a
 *	  speed measurement.
 *
 *	  make -C test/calendar check [RANDOM_CASES=n]
 *
 * IDENTIFICATION
 *	  test/calendar/calcore_test.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calcheck.h"

#define SEC		LP_CAL_USECS_PER_SEC
#define HOUR	(3600 * SEC)
#define MINUTE	(60 * SEC)
#define DAY		LP_CAL_USECS_PER_DAY

static int	failures = 0;

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

/* A UTC instant */
static int64_t
utc(int y, unsigned mo, unsigned d, int h, int mi)
{
	return days_from_civil(y, mo, d) * DAY + h * HOUR + mi * MINUTE;
}

/*
 * A weekly zone that hides the local hour 10:00-11:00 of every Monday:
 * offset +2 h during UTC Monday 09:30-11:30, 0 otherwise.
 */
static bool
hiding_lookup(void *ctx, int64_t t, int32_t *offset, int64_t *next)
{
	int64_t		week = 7 * DAY;
	int64_t		mon = 4 * DAY;	/* 1970-01-05 was a Monday */
	int64_t		k = (t - mon) >= 0 ? (t - mon) / week : ((t - mon) - week + 1) / week;
	int64_t		w0 = mon + k * week;
	int64_t		a = w0 + 9 * HOUR + 30 * MINUTE,
				b = w0 + 11 * HOUR + 30 * MINUTE;

	(void) ctx;
	if (t < a)
	{
		*offset = 0;
		*next = a;
	}
	else if (t < b)
	{
		*offset = 2 * 3600;
		*next = b;
	}
	else
	{
		*offset = 0;
		*next = a + week;
	}
	return true;
}

#define EXPECT_EQ(what, got, want) \
	do { \
		long long g_ = (long long) (got), w_ = (long long) (want); \
		if (g_ != w_) { \
			fprintf(stderr, "FAIL %s: got %lld, want %lld (line %d)\n", \
					(what), g_, w_, __LINE__); \
			failures++; \
		} \
	} while (0)

static LpCalendar
compile(const LpCalShift *s, int ns, const LpCalHoliday *h, int nh,
		int64_t *buf, LpCalStatus want)
{
	LpCalendar	cal;
	int			bad;

	EXPECT_EQ("compile", lp_cal_compile(&cal, s, ns, h, nh, buf, &bad), want);
	return cal;
}

static int64_t
add(const LpCalendar *cal, const LpCalZone *z, int64_t start, int64_t amount)
{
	int64_t		r = 0;

	EXPECT_EQ("add status", lp_cal_add(cal, z, start, amount, &r), LP_CAL_OK);
	return r;
}

static int64_t
between(const LpCalendar *cal, const LpCalZone *z, int64_t a, int64_t b)
{
	int64_t		r = 0;

	EXPECT_EQ("between status", lp_cal_between(cal, z, a, b, &r), LP_CAL_OK);
	return r;
}

static void
test_vectors(void)
{
	/* Monday to Friday 09:00-17:00 */
	LpCalShift	office[5];
	int64_t		buf[64];
	int32_t		zero[1] = {0};
	CalListZone	utcz = {0, NULL, zero};
	LpCalZone	z = {calcheck_list_lookup, &utcz};
	LpCalendar	cal;

	for (int i = 0; i < 5; i++)
	{
		office[i].weekday = i + 1;
		office[i].opens = 9 * HOUR;
		office[i].closes = 17 * HOUR;
	}
	cal = compile(office, 5, NULL, 0, buf, LP_CAL_OK);

	/* 2024-01-05 is a Friday: 16:00 + 2 h = 1 h Friday + 1 h Monday */
	EXPECT_EQ("friday overflow", add(&cal, &z, utc(2024, 1, 5, 16, 0), 2 * HOUR),
			  utc(2024, 1, 8, 10, 0));
	/* a full day from the opening ends at the closing, same day */
	EXPECT_EQ("one day", add(&cal, &z, utc(2024, 1, 8, 9, 0), 8 * HOUR),
			  utc(2024, 1, 8, 17, 0));
	/* from the closing instant (excluded) counting starts next morning */
	EXPECT_EQ("at close", add(&cal, &z, utc(2024, 1, 8, 17, 0), 1 * HOUR),
			  utc(2024, 1, 9, 10, 0));
	EXPECT_EQ("amount 0", add(&cal, &z, utc(2024, 1, 6, 12, 0), 0),
			  utc(2024, 1, 6, 12, 0));
	EXPECT_EQ("weekend", between(&cal, &z, utc(2024, 1, 6, 0, 0), utc(2024, 1, 8, 0, 0)), 0);
	EXPECT_EQ("a week", between(&cal, &z, utc(2024, 1, 1, 0, 0), utc(2024, 1, 8, 0, 0)),
			  40 * HOUR);
	EXPECT_EQ("negative", between(&cal, &z, utc(2024, 1, 8, 0, 0), utc(2024, 1, 1, 0, 0)),
			  -40 * HOUR);
	/* 400 years: 20871 weeks of 40 hours */
	EXPECT_EQ("400 years", between(&cal, &z, utc(2000, 1, 3, 0, 0),
								   utc(2000, 1, 3, 0, 0) + 20871 * 7 * DAY),
			  (int64_t) 20871 * 40 * HOUR);

	/* whole and partial holidays */
	{
		LpCalHoliday hol[2] = {
			{days_from_civil(2024, 12, 24), 12 * HOUR, DAY},
			{days_from_civil(2024, 12, 25), 0, DAY},
		};
		LpCalendar	hc = compile(office, 5, hol, 2, buf, LP_CAL_OK);

		/* Tue 24th: 3 h in the morning; Wed 25th closed; Thu 26th */
		EXPECT_EQ("holidays", add(&hc, &z, utc(2024, 12, 24, 9, 0), 5 * HOUR),
				  utc(2024, 12, 26, 11, 0));
		EXPECT_EQ("holiday between", between(&hc, &z, utc(2024, 12, 23, 0, 0),
											 utc(2024, 12, 27, 0, 0)),
				  19 * HOUR);
	}

	/*
	 * Europe/Berlin 2024, by hand: CET (+1) until 2024-03-31 01:00 UTC,
	 * CEST (+2) until 2024-10-27 01:00 UTC, then CET.  A Sunday shift
	 * 01:00-04:00 local has 2 h on 31 March (02:00-03:00 never happens)
	 * and 4 h on 27 October (02:00-03:00 happens twice).
	 */
	{
		int64_t		at2[2];
		int32_t		off[3] = {3600, 7200, 3600};
		CalListZone	bz;
		LpCalZone	berlin = {calcheck_list_lookup, &bz};
		LpCalShift	sun = {7, 1 * HOUR, 4 * HOUR};
		LpCalendar	sc;

		at2[0] = utc(2024, 3, 31, 1, 0);
		at2[1] = utc(2024, 10, 27, 1, 0);
		bz.n = 2;
		bz.at = at2;
		bz.off = off;
		sc = compile(&sun, 1, NULL, 0, buf, LP_CAL_OK);
		EXPECT_EQ("gap day", between(&sc, &berlin, utc(2024, 3, 30, 12, 0),
									 utc(2024, 3, 31, 12, 0)), 2 * HOUR);
		EXPECT_EQ("overlap day", between(&sc, &berlin, utc(2024, 10, 26, 12, 0),
										 utc(2024, 10, 27, 12, 0)), 4 * HOUR);
		/* local 01:00 = 00:00 UTC; 1.5 h: 00:00-01:00 UTC, jump, 01:00-01:30 UTC */
		EXPECT_EQ("across gap", add(&sc, &berlin, utc(2024, 3, 31, 0, 0), 90 * MINUTE),
				  utc(2024, 3, 31, 1, 30));
	}

	/* errors */
	{
		LpCalShift	ov[2] = {{1, 9 * HOUR, 13 * HOUR}, {1, 12 * HOUR, 17 * HOUR}};
		LpCalShift	badday = {8, 9 * HOUR, 10 * HOUR};
		LpCalShift	inverted = {1, 10 * HOUR, 9 * HOUR};
		LpCalShift	unsorted[2] = {{2, 9 * HOUR, 10 * HOUR}, {1, 9 * HOUR, 10 * HOUR}};
		LpCalHoliday badhol = {0, 5 * HOUR, 5 * HOUR};
		int64_t		r;

		compile(NULL, 0, NULL, 0, buf, LP_CAL_NO_HOURS);
		compile(ov, 2, NULL, 0, buf, LP_CAL_OVERLAP);
		compile(&badday, 1, NULL, 0, buf, LP_CAL_BAD_SHIFT);
		compile(&inverted, 1, NULL, 0, buf, LP_CAL_BAD_SHIFT);
		compile(unsorted, 2, NULL, 0, buf, LP_CAL_UNSORTED);
		compile(office, 1, &badhol, 1, buf, LP_CAL_BAD_HOLIDAY);
		EXPECT_EQ("negative amount", lp_cal_add(&cal, &z, 0, -1, &r),
				  LP_CAL_NEGATIVE_AMOUNT);
		EXPECT_EQ("out of range", lp_cal_add(&cal, &z, LP_CAL_MAX_TIME - DAY, 100 * HOUR, &r),
				  LP_CAL_OUT_OF_RANGE);
		EXPECT_EQ("start out of range", lp_cal_between(&cal, &z, 0, LP_CAL_MAX_TIME + 1, &r),
				  LP_CAL_OUT_OF_RANGE);
	}

	/* a zone that hides the only shift: refused after a bounded search */
	{
		LpCalShift	mon = {1, 10 * HOUR, 11 * HOUR};
		LpCalZone	hz = {hiding_lookup, NULL};
		LpCalendar	mc = compile(&mon, 1, NULL, 0, buf, LP_CAL_OK);
		int64_t		r;

		EXPECT_EQ("never open", lp_cal_add(&mc, &hz, utc(2024, 1, 1, 0, 0), HOUR, &r),
				  LP_CAL_NEVER_OPEN);
		EXPECT_EQ("never open between", between(&mc, &hz, utc(2024, 1, 1, 0, 0),
												utc(2025, 1, 1, 0, 0)), 0);
	}
}

/* xorshift64*: reproducible random bytes */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static void
test_random(long cases)
{
	uint8_t		bytes[160];

	for (long i = 0; i < cases; i++)
	{
		for (size_t j = 0; j < sizeof(bytes); j += 8)
		{
			uint64_t	v = next_rand();

			memcpy(bytes + j, &v, 8);
		}
		calcheck_run(bytes, sizeof(bytes));
	}
	printf("random cases: %ld passed\n", cases);
}

/* Adds of 8 hours per second on an office calendar with a DST zone */
static void
test_speed(void)
{
	LpCalShift	office[5];
	int64_t		buf[64];
	int64_t		at[2];
	int32_t		off[3] = {3600, 7200, 3600};
	CalListZone	bz = {2, at, off};
	LpCalZone	z = {calcheck_list_lookup, &bz};
	LpCalendar	cal;
	clock_t		c0;
	int64_t		sum = 0;
	long		n = 2000000;
	double		secs;

	at[0] = utc(2024, 3, 31, 1, 0);
	at[1] = utc(2024, 10, 27, 1, 0);
	for (int i = 0; i < 5; i++)
	{
		office[i].weekday = i + 1;
		office[i].opens = 9 * HOUR;
		office[i].closes = 17 * HOUR;
	}
	cal = compile(office, 5, NULL, 0, buf, LP_CAL_OK);
	c0 = clock();
	for (long i = 0; i < n; i++)
	{
		int64_t		r;

		lp_cal_add(&cal, &z, utc(2024, 1, 1, 0, 0) + i * 7 * MINUTE, 8 * HOUR, &r);
		sum += r & 1;
	}
	secs = (double) (clock() - c0) / CLOCKS_PER_SEC;
	printf("core speed: %.0f adds/s (%ld adds, checksum %lld)\n",
		   n / (secs > 0 ? secs : 1e-9), n, (long long) sum);
}

int
main(int argc, char **argv)
{
	long		cases = argc > 1 ? atol(argv[1]) : 20000;

	test_vectors();
	test_random(cases);
	test_speed();
	if (failures)
	{
		printf("%d failures\n", failures);
		return 1;
	}
	printf("all passed\n");
	return 0;
}
