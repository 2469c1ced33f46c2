/*-------------------------------------------------------------------------
 *
 * lp_metrics.c
 *	  Duration histograms of the metrics rollups (version 1.1).
 *
 * The metrics views report medians and 90th percentiles of durations (time
 * in stage, time to convert, follow-up time) without keeping every duration:
 * the rollups count durations per bucket of a logarithmic histogram, and a
 * percentile is read from the cumulative bucket counts.  Counts per bucket
 * add up across days, leads and reps, so a histogram can be maintained
 * incrementally and merged for any slice; exact medians could not.
 *
 * Bucket b >= 0 holds durations d (in seconds) with
 *		2^(b/8) <= d < 2^((b+1)/8)
 * and bucket -1 holds durations under one second (a fast-track that passes
 * several stages at once takes zero seconds).  A bucket is reported as its
 * geometric middle, 2^((b+0.5)/8) seconds, so a reported percentile is
 * within 2^(1/16) - 1 = 4.4% of the duration it stands for.  Bucket 250
 * (about 80 years) is the last; longer durations share it.
 *
 * Both functions are IMMUTABLE and written in C because the rebuild of the
 * rollups calls the first once per stage change of every lead: an SQL
 * function would not be inlined (it carries SET search_path).
 *
 * IDENTIFICATION
 *	  src/lp_metrics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/timestamp.h"

#include "lead_process.h"

/* Buckets per doubling of the duration, and the last bucket */
#define LP_BUCKETS_PER_OCTAVE	8
#define LP_BUCKET_MAX			250

/*
 * lp_metric_bucket_internal
 *		The histogram bucket of a duration in seconds.  Negative durations
 *		(a clock corrected backwards) count as zero.
 */
static int16
lp_metric_bucket_internal(double seconds)
{
	double		b;

	if (!(seconds >= 1.0))		/* also NaN */
		return -1;
	b = floor(log2(seconds) * LP_BUCKETS_PER_OCTAVE);
	if (b > LP_BUCKET_MAX)
		return LP_BUCKET_MAX;
	return (int16) b;
}

/*
 * lp_metric_bucket
 *		SQL metric_bucket(interval) -> smallint.  The interval is taken at
 *		its exact length in seconds (a day is 86400 seconds, a month 30
 *		days): durations here are differences of timestamps, which carry
 *		no months.
 */
PG_FUNCTION_INFO_V1(lp_metric_bucket);
Datum
lp_metric_bucket(PG_FUNCTION_ARGS)
{
	Interval   *span = PG_GETARG_INTERVAL_P(0);
	double		seconds;

	seconds = span->time / (double) USECS_PER_SEC
		+ (double) span->day * SECS_PER_DAY
		+ (double) span->month * DAYS_PER_MONTH * SECS_PER_DAY;
	PG_RETURN_INT16(lp_metric_bucket_internal(seconds));
}

/*
 * lp_metric_bucket_value
 *		SQL metric_bucket_value(smallint) -> interval: the duration a bucket
 *		stands for (its geometric middle, to the second), zero for
 *		bucket -1.  Out-of-range buckets are an error, since no rollup can
 *		hold them.
 */
PG_FUNCTION_INFO_V1(lp_metric_bucket_value);
Datum
lp_metric_bucket_value(PG_FUNCTION_ARGS)
{
	int16		bucket = PG_GETARG_INT16(0);
	Interval   *result;
	double		seconds;

	if (bucket < -1 || bucket > LP_BUCKET_MAX)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("histogram bucket %d is out of range", bucket),
				errdetail("Buckets run from -1 to %d.", LP_BUCKET_MAX));

	result = (Interval *) palloc0(sizeof(Interval));
	if (bucket >= 0)
	{
		seconds = exp2((bucket + 0.5) / LP_BUCKETS_PER_OCTAVE);
		result->day = (int32) (seconds / SECS_PER_DAY);
		seconds -= (double) result->day * SECS_PER_DAY;
		result->time = (TimeOffset) rint(seconds) * USECS_PER_SEC;
	}
	PG_RETURN_INTERVAL_P(result);
}
