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
 * The aggregate metric_slices() serves rebuild_metrics(): it takes the
 * facts of one rollup key and day and returns their counts, amounts and
 * histograms for every slice at once (see lp_metric_slices_add).
 *
 * IDENTIFICATION
 *	  src/lp_metrics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

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
 * check_bucket
 *		A bucket given to a function must be one a rollup can hold.
 */
static void
check_bucket(int bucket)
{
	if (bucket < -1 || bucket > LP_BUCKET_MAX)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("histogram bucket %d is out of range", bucket),
				errdetail("Buckets run from -1 to %d.", LP_BUCKET_MAX));
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

	check_bucket(bucket);
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

/*
 * Histograms as arrays
 *
 * A histogram is a one-dimensional bigint[] whose subscripts are bucket
 * numbers: '[86:88]={2,0,1}' counts two durations in bucket 86 and one in
 * bucket 88.  The array spans the buckets in use only, so a rollup row
 * holds a few dozen bytes whatever the spread of durations, and one rollup
 * row per key serves every percentile.  NULL is the empty histogram.
 *
 * Aggregates keep an LpHist in the aggregate context and grow its range as
 * buckets arrive; the final function builds the array.
 */
typedef struct LpHist
{
	int			lo;				/* first bucket held */
	int			hi;				/* last bucket held; hi < lo when empty */
	int64	   *counts;			/* counts[b - lo] */
} LpHist;

/*
 * hist_cover
 *		Make h hold buckets lo..hi (within -1..LP_BUCKET_MAX), keeping its
 *		counts; new slots are zero.  Allocates in the current context.
 */
static void
hist_cover(LpHist *h, int lo, int hi)
{
	int64	   *counts;
	int			nlo,
				nhi;

	if (h->hi >= h->lo && lo >= h->lo && hi <= h->hi)
		return;
	nlo = (h->hi >= h->lo) ? Min(lo, h->lo) : lo;
	nhi = (h->hi >= h->lo) ? Max(hi, h->hi) : hi;
	counts = (int64 *) palloc0(sizeof(int64) * (nhi - nlo + 1));
	if (h->hi >= h->lo)
	{
		memcpy(counts + (h->lo - nlo), h->counts, sizeof(int64) * (h->hi - h->lo + 1));
		pfree(h->counts);
	}
	h->counts = counts;
	h->lo = nlo;
	h->hi = nhi;
}

/*
 * hist_add_array
 *		Add the counts of a histogram array to h.  Refuses arrays that are
 *		not histograms (more than one dimension, NULL elements, buckets out
 *		of range): they can only come from a hand-edited rollup.
 */
static void
hist_add_array(LpHist *h, ArrayType *arr)
{
	int			lo,
				n;
	int64	   *data;

	if (ARR_NDIM(arr) == 0)
		return;
	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != INT8OID)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid duration histogram"),
				errdetail("A histogram is a one-dimensional bigint array without NULLs."));
	lo = ARR_LBOUND(arr)[0];
	n = ARR_DIMS(arr)[0];
	if (lo < -1 || lo + n - 1 > LP_BUCKET_MAX)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid duration histogram"),
				errdetail("Its buckets run from %d to %d; buckets run from -1 to %d.",
						  lo, lo + n - 1, LP_BUCKET_MAX));
	hist_cover(h, lo, lo + n - 1);
	data = (int64 *) ARR_DATA_PTR(arr);
	for (int i = 0; i < n; i++)
		h->counts[lo + i - h->lo] += data[i];
}

/*
 * hist_to_array
 *		The histogram array of h, trimmed to its non-zero buckets; NULL
 *		(returned as a null pointer) when h is empty.
 */
static ArrayType *
hist_to_array(LpHist *h)
{
	Datum	   *elems;
	int			lo = h->lo,
				hi = h->hi,
				dims[1],
				lbs[1];

	while (lo <= hi && h->counts[lo - h->lo] == 0)
		lo++;
	while (hi >= lo && h->counts[hi - h->lo] == 0)
		hi--;
	if (hi < lo)
		return NULL;
	elems = (Datum *) palloc(sizeof(Datum) * (hi - lo + 1));
	for (int b = lo; b <= hi; b++)
		elems[b - lo] = Int64GetDatum(h->counts[b - h->lo]);
	dims[0] = hi - lo + 1;
	lbs[0] = lo;
	return construct_md_array(elems, NULL, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE);
}

/*
 * hist_state
 *		The aggregate's LpHist, created in the aggregate context on the first
 *		call.
 */
static LpHist *
hist_state(FunctionCallInfo fcinfo, const char *funcname)
{
	MemoryContext aggcontext;
	LpHist	   *h;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", funcname);
	if (!PG_ARGISNULL(0))
		return (LpHist *) PG_GETARG_POINTER(0);
	h = (LpHist *) MemoryContextAllocZero(aggcontext, sizeof(LpHist));
	h->lo = 0;
	h->hi = -1;
	return h;
}

/*
 * lp_metric_hist_add
 *		Transition function of metric_hist_agg(bucket smallint, n bigint):
 *		counts n durations in the bucket.  A NULL bucket (a fact without a
 *		duration) counts nothing.
 */
PG_FUNCTION_INFO_V1(lp_metric_hist_add);
Datum
lp_metric_hist_add(PG_FUNCTION_ARGS)
{
	LpHist	   *h;
	MemoryContext old;
	int			b;

	/*
	 * Most facts have no duration: their groups keep a NULL state and
	 * allocate nothing, which matters when a rebuild aggregates millions of
	 * groups.
	 */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	h = hist_state(fcinfo, "lp_metric_hist_add");
	b = PG_GETARG_INT16(1);
	check_bucket(b);
	old = MemoryContextSwitchTo(GetMemoryChunkContext(h));
	hist_cover(h, b, b);
	MemoryContextSwitchTo(old);
	h->counts[b - h->lo] += PG_GETARG_INT64(2);
	PG_RETURN_POINTER(h);
}

/*
 * lp_metric_hist_add_array
 *		Transition function of metric_hist_sum(bigint[]): adds histograms.
 */
PG_FUNCTION_INFO_V1(lp_metric_hist_add_array);
Datum
lp_metric_hist_add_array(PG_FUNCTION_ARGS)
{
	LpHist	   *h;
	MemoryContext old;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	h = hist_state(fcinfo, "lp_metric_hist_add_array");
	old = MemoryContextSwitchTo(GetMemoryChunkContext(h));
	hist_add_array(h, PG_GETARG_ARRAYTYPE_P(1));
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(h);
}

/*
 * lp_metric_hist_final
 *		Final function of both aggregates: the histogram array, NULL when
 *		nothing was counted.
 */
PG_FUNCTION_INFO_V1(lp_metric_hist_final);
Datum
lp_metric_hist_final(PG_FUNCTION_ARGS)
{
	ArrayType  *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	result = hist_to_array((LpHist *) PG_GETARG_POINTER(0));
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * lp_metric_hist_merge
 *		SQL metric_hist_merge(a bigint[], b bigint[]) -> bigint[]: the sum
 *		of two histograms (NULL is empty), for the fold's upsert.
 */
PG_FUNCTION_INFO_V1(lp_metric_hist_merge);
Datum
lp_metric_hist_merge(PG_FUNCTION_ARGS)
{
	LpHist		h = {0, -1, NULL};
	ArrayType  *result;

	if (!PG_ARGISNULL(0))
		hist_add_array(&h, PG_GETARG_ARRAYTYPE_P(0));
	if (!PG_ARGISNULL(1))
		hist_add_array(&h, PG_GETARG_ARRAYTYPE_P(1));
	result = hist_to_array(&h);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * lp_metric_hist_percentile
 *		SQL metric_hist_percentile(hist bigint[], fraction float8) ->
 *		interval: the duration of the first bucket at which the cumulative
 *		count reaches fraction of the total (0.5: the median).  NULL for an
 *		empty histogram.
 */
PG_FUNCTION_INFO_V1(lp_metric_hist_percentile);
Datum
lp_metric_hist_percentile(PG_FUNCTION_ARGS)
{
	LpHist		h = {0, -1, NULL};
	double		fraction = PG_GETARG_FLOAT8(1);
	double		total = 0,
				cum = 0;

	if (!(fraction >= 0.0 && fraction <= 1.0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("percentile fraction %g is not between 0 and 1", fraction));
	hist_add_array(&h, PG_GETARG_ARRAYTYPE_P(0));
	for (int b = h.lo; b <= h.hi; b++)
		total += h.counts[b - h.lo];
	if (total <= 0)
		PG_RETURN_NULL();
	for (int b = h.lo; b <= h.hi; b++)
	{
		cum += h.counts[b - h.lo];
		/* a relative tolerance, so that 0.9 of 10 is reached at 9 */
		if (h.counts[b - h.lo] > 0 && cum >= fraction * total * (1.0 - 1e-12))
			return DirectFunctionCall1(lp_metric_bucket_value, Int16GetDatum((int16) b));
	}
	elog(ERROR, "histogram percentile not found");
	PG_RETURN_NULL();			/* keep the compiler quiet */
}

/*
 * Facts per slice: metric_slices()
 *
 * rebuild_metrics() aggregates every metric fact of the history into the
 * rollup, for five slices (all, source, campaign, lead_type, owner).  Done
 * in SQL, with the slice value in the grouping key, that is one hash
 * table entry per key, day, slice and value: millions of entries that
 * spill to disk, each fact looked up five times.  This aggregate is
 * grouped by the key and day only (a few tens of thousands of groups); its
 * state keeps one entry per slice value, in a small hash table per slicing
 * attribute, so each fact is read once and counted in five entries.
 *
 *	metric_slices(source, campaign, lead_type, owner, bucket, amount)
 *		-> lead_process.metric_slice[]
 *
 * returns one element per slice and value, as metric_delta_cube would
 * give for that key and day: slice 'all' (slice_value NULL), then every
 * value of each attribute (NULL included, as GROUP BY groups it).  n counts
 * the facts, amount sums the non-NULL amounts (NULL when none), hist is the
 * histogram of the non-NULL buckets (as metric_hist_agg(bucket, 1)).
 * Values are compared byte for byte, as texteq does for the deterministic
 * collations the slicing columns have.
 */
#define LP_SLICE_ATTRS			4

static const char *const lp_slice_names[LP_SLICE_ATTRS] = {
	"source", "campaign", "lead_type", "owner"
};

typedef struct LpSliceEntry
{
	text	   *value;			/* the attribute's value; NULL for NULL */
	uint32		hash;
	bool		used;			/* slot in use (hash table slots) */
	bool		has_amount;
	int64		n;
	Datum		amount;			/* numeric, when has_amount */
	LpHist		hist;
} LpSliceEntry;

/* Open addressing with linear probing; the NULL value has its own entry */
typedef struct LpSliceMap
{
	int			used;
	int			size;			/* slots: 0 or a power of 2 */
	LpSliceEntry *slots;
	LpSliceEntry *null_entry;
} LpSliceMap;

typedef struct LpSlices
{
	LpSliceEntry all;
	LpSliceMap	maps[LP_SLICE_ATTRS];
} LpSlices;

static void
slice_entry_init(LpSliceEntry *e)
{
	memset(e, 0, sizeof(LpSliceEntry));
	e->hist.lo = 0;
	e->hist.hi = -1;
}

/*
 * slice_map_grow
 *		Double the slots (8 at first) and re-insert the entries.
 */
static void
slice_map_grow(LpSliceMap *m)
{
	int			size = (m->size == 0) ? 8 : m->size * 2;
	LpSliceEntry *slots = (LpSliceEntry *) palloc0(sizeof(LpSliceEntry) * size);

	for (int i = 0; i < m->size; i++)
	{
		LpSliceEntry *e = &m->slots[i];
		int			j;

		if (!e->used)
			continue;
		for (j = e->hash & (size - 1); slots[j].used; j = (j + 1) & (size - 1))
			;
		slots[j] = *e;
	}
	if (m->slots)
		pfree(m->slots);
	m->slots = slots;
	m->size = size;
}

/*
 * slice_map_entry
 *		The entry of a value (NULL for SQL NULL), created when new.
 *		Allocates in the current memory context.
 */
static LpSliceEntry *
slice_map_entry(LpSliceMap *m, text *value)
{
	const char *data;
	int			len;
	uint32		h;
	int			i;

	if (value == NULL)
	{
		if (m->null_entry == NULL)
		{
			m->null_entry = (LpSliceEntry *) palloc(sizeof(LpSliceEntry));
			slice_entry_init(m->null_entry);
		}
		return m->null_entry;
	}
	data = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);
	h = hash_bytes((const unsigned char *) data, len);
	/* at most half full */
	if ((m->used + 1) * 2 > m->size)
		slice_map_grow(m);
	for (i = h & (m->size - 1);; i = (i + 1) & (m->size - 1))
	{
		LpSliceEntry *e = &m->slots[i];

		if (!e->used)
		{
			slice_entry_init(e);
			e->used = true;
			e->hash = h;
			e->value = (text *) palloc(len + VARHDRSZ);
			SET_VARSIZE(e->value, len + VARHDRSZ);
			memcpy(VARDATA(e->value), data, len);
			m->used++;
			return e;
		}
		if (e->hash == h && (int) (VARSIZE(e->value) - VARHDRSZ) == len &&
			memcmp(VARDATA(e->value), data, len) == 0)
			return e;
	}
}

/*
 * slice_entry_add
 *		Count one fact in an entry: its bucket (bucket < -1: none) and its
 *		amount (amount NULL: none).  Allocates in the current memory
 *		context.
 */
static void
slice_entry_add(LpSliceEntry *e, int bucket, Numeric amount)
{
	e->n++;
	if (bucket >= -1)
	{
		hist_cover(&e->hist, bucket, bucket);
		e->hist.counts[bucket - e->hist.lo]++;
	}
	if (amount != NULL)
	{
		if (e->has_amount)
		{
			Datum		sum = DirectFunctionCall2(numeric_add, e->amount,
												  NumericGetDatum(amount));

			pfree(DatumGetPointer(e->amount));
			e->amount = sum;
		}
		else
		{
			Size		len = VARSIZE(amount);
			Numeric		copy = (Numeric) palloc(len);

			memcpy(copy, amount, len);
			e->amount = NumericGetDatum(copy);
			e->has_amount = true;
		}
	}
}

/*
 * lp_metric_slices_add
 *		Transition function of metric_slices(source text, campaign text,
 *		lead_type text, owner text, bucket smallint, amount numeric).
 */
PG_FUNCTION_INFO_V1(lp_metric_slices_add);
Datum
lp_metric_slices_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	MemoryContext old;
	LpSlices   *s;
	text	   *values[LP_SLICE_ATTRS];
	int			bucket = -2;
	Numeric		amount = NULL;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "lp_metric_slices_add called in non-aggregate context");
	if (!PG_ARGISNULL(5))
	{
		bucket = PG_GETARG_INT16(5);
		check_bucket(bucket);
	}
	/* detoasted in the per-call context: the state keeps copies only */
	if (!PG_ARGISNULL(6))
		amount = PG_GETARG_NUMERIC(6);
	for (int a = 0; a < LP_SLICE_ATTRS; a++)
		values[a] = PG_ARGISNULL(a + 1) ? NULL : PG_GETARG_TEXT_PP(a + 1);

	old = MemoryContextSwitchTo(aggcontext);
	if (PG_ARGISNULL(0))
	{
		s = (LpSlices *) palloc0(sizeof(LpSlices));
		slice_entry_init(&s->all);
	}
	else
		s = (LpSlices *) PG_GETARG_POINTER(0);

	slice_entry_add(&s->all, bucket, amount);
	for (int a = 0; a < LP_SLICE_ATTRS; a++)
		slice_entry_add(slice_map_entry(&s->maps[a], values[a]), bucket, amount);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/* The composite metric_slice being built by lp_metric_slices_final */
typedef struct LpSliceOut
{
	TupleDesc	desc;
	Datum	   *elems;
	int			n;
} LpSliceOut;

static void
slice_emit(LpSliceOut *out, const char *slice, LpSliceEntry *e)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	ArrayType  *hist = hist_to_array(&e->hist);

	values[0] = CStringGetTextDatum(slice);
	if (e->value)
		values[1] = PointerGetDatum(e->value);
	else
		nulls[1] = true;
	values[2] = Int64GetDatum(e->n);
	if (e->has_amount)
		values[3] = e->amount;
	else
		nulls[3] = true;
	if (hist)
		values[4] = PointerGetDatum(hist);
	else
		nulls[4] = true;
	out->elems[out->n++] = HeapTupleGetDatum(heap_form_tuple(out->desc, values, nulls));
}

/*
 * lp_metric_slices_final
 *		Final function of metric_slices(): the metric_slice[] of every
 *		slice and value.
 */
PG_FUNCTION_INFO_V1(lp_metric_slices_final);
Datum
lp_metric_slices_final(PG_FUNCTION_ARGS)
{
	LpSlices   *s;
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	LpSliceOut	out;
	int			total = 1;
	ArrayType  *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (LpSlices *) PG_GETARG_POINTER(0);
	elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	if (!OidIsValid(elemtype))
		elog(ERROR, "lp_metric_slices_final must return an array of a composite type");
	out.desc = lookup_rowtype_tupdesc(elemtype, -1);
	if (out.desc->natts != 5 ||
		TupleDescAttr(out.desc, 0)->atttypid != TEXTOID ||
		TupleDescAttr(out.desc, 1)->atttypid != TEXTOID ||
		TupleDescAttr(out.desc, 2)->atttypid != INT8OID ||
		TupleDescAttr(out.desc, 3)->atttypid != NUMERICOID ||
		TupleDescAttr(out.desc, 4)->atttypid != INT8ARRAYOID)
		elog(ERROR, "lp_metric_slices_final: unexpected result type %s",
			 format_type_be(elemtype));

	for (int a = 0; a < LP_SLICE_ATTRS; a++)
		total += s->maps[a].used + (s->maps[a].null_entry ? 1 : 0);
	out.elems = (Datum *) palloc(sizeof(Datum) * total);
	out.n = 0;

	slice_emit(&out, "all", &s->all);
	for (int a = 0; a < LP_SLICE_ATTRS; a++)
	{
		LpSliceMap *m = &s->maps[a];

		for (int i = 0; i < m->size; i++)
			if (m->slots[i].used)
				slice_emit(&out, lp_slice_names[a], &m->slots[i]);
		if (m->null_entry)
			slice_emit(&out, lp_slice_names[a], m->null_entry);
	}
	Assert(out.n == total);
	ReleaseTupleDesc(out.desc);

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	result = construct_array(out.elems, out.n, elemtype, typlen, typbyval, typalign);
	PG_RETURN_ARRAYTYPE_P(result);
}
