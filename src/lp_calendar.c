/*-------------------------------------------------------------------------
 *
 * lp_calendar.c
 *	  SQL interface of business calendars: business_time_add() and
 *	  business_time_between(), on calendars compiled from the tables
 *	  lead_process.calendar, calendar_hours and calendar_holiday.
 *
 * The arithmetic lives in lp_calcore.c, which knows nothing of PostgreSQL;
 * this file loads a calendar with SPI, compiles it, plugs PostgreSQL's time
 * zone library into the core's zone interface and converts between
 * timestamptz (microseconds since 2000-01-01) and the core's microseconds
 * since 1970-01-01.
 *
 * Invariants and invalidation:
 *	- Compiled calendars are cached per backend in a hash table by name, in
 *	  a memory context under CacheMemoryContext.
 *	- Each calendar table has an AFTER STATEMENT trigger that calls
 *	  CacheInvalidateRelcache() on it (config_changed_trigger), so a change
 *	  reaches this backend at the next command and every other backend at
 *	  commit.  cal_relcache_callback() bumps inval_generation for our three
 *	  tables or for "all relations"; the cache is thrown away at the next
 *	  lookup when the generation it was built at is no longer current.
 *	- The callback is registered at the first call of one of our functions,
 *	  before anything is cached, so it never misses a change of a cached
 *	  calendar; this keeps the calendar code out of _PG_init.
 *	- A calendar is entered into the hash only if no invalidation arrived
 *	  while it was being loaded; otherwise it serves the current call only.
 *	- Each call site keeps the last calendar it used in fn_extra, with the
 *	  generation; a changed generation sends it back to the hash.
 *
 * Locking: the loads are plain SELECTs (AccessShareLock) as the calling
 * user, who therefore needs SELECT on the calendar tables; the cache holds
 * no lock between transactions.
 *
 * IDENTIFICATION
 *	  src/lp_calendar.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lead_process.h"
#include "lp_calcore.h"

/* timestamptz counts from 2000-01-01, the core from 1970-01-01 */
#define EPOCH_SHIFT_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)
#define EPOCH_SHIFT_DAYS	(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)

#define LP_CAL_NRELIDS 3

/* A compiled calendar */
typedef struct LpCalEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	uint64		generation;		/* inval_generation it was loaded at */
	pg_tz	   *tz;				/* owned by the time zone library */
	LpCalZone	zone;
	LpCalendar	cal;
	int64	   *buf;			/* the arrays of cal */
} LpCalEntry;

/* What a call site remembers between calls (fn_extra) */
typedef struct LpCalCallCache
{
	uint64		generation;
	LpCalEntry *entry;
	int			namelen;
	char		name[NAMEDATALEN];
} LpCalCallCache;

static HTAB *cal_hash = NULL;
static MemoryContext cal_context = NULL;
static uint64 inval_generation = 1;
static uint64 built_generation = 0;
static bool callback_registered = false;
static Oid	cal_relids[LP_CAL_NRELIDS];

static SPIPlanPtr plan_calendar = NULL;
static SPIPlanPtr plan_hours = NULL;
static SPIPlanPtr plan_holidays = NULL;

/*
 * cal_relcache_callback
 *		Note a change of one of the calendar tables, or of all relations.
 *
 * Runs during invalidation processing: compares OIDs and bumps a counter,
 * nothing else.  "All relations" also forgets the OIDs, which a dropped and
 * recreated extension would have changed.
 */
static void
cal_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid)
	{
		inval_generation++;
		memset(cal_relids, 0, sizeof(cal_relids));
		return;
	}
	for (int i = 0; i < LP_CAL_NRELIDS; i++)
	{
		if (cal_relids[i] == relid)
		{
			inval_generation++;
			return;
		}
	}
}

/*
 * cache_reset_if_stale
 *		Register the callback on first use, and start a new, empty cache
 *		when an invalidation arrived since the current one was built.
 */
static void
cache_reset_if_stale(void)
{
	HASHCTL		ctl;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(cal_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (cal_hash != NULL && built_generation == inval_generation &&
		OidIsValid(cal_relids[0]))
		return;

	if (cal_context == NULL)
		cal_context = AllocSetContextCreate(CacheMemoryContext,
											"lead_process calendars",
											ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cal_context);
	cal_hash = NULL;

	/* the lookups may process invalidations: take the generation after */
	{
		Oid			nsp = get_namespace_oid("lead_process", true);

		cal_relids[0] = lp_relid_in(nsp, "calendar");
		cal_relids[1] = lp_relid_in(nsp, "calendar_hours");
		cal_relids[2] = lp_relid_in(nsp, "calendar_holiday");
	}
	built_generation = inval_generation;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(LpCalEntry);
	ctl.hcxt = cal_context;
	cal_hash = hash_create("lead_process calendars", 16, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/*
 * pg_zone_lookup
 *		The core's zone interface on a pg_tz: the offset in effect at t and
 *		the next transition, from one pg_next_dst_boundary() search.
 *		Transitions fall on whole seconds, so flooring t to seconds finds
 *		the same segment.
 */
static bool
pg_zone_lookup(void *ctx, int64_t t, int32_t *offset, int64_t *next)
{
	pg_tz	   *tz = (pg_tz *) ctx;
	pg_time_t	secs = t / USECS_PER_SEC;
	long int	before_gmtoff = 0,
				after_gmtoff = 0;
	int			before_isdst = 0,
				after_isdst = 0;
	pg_time_t	boundary = 0;
	int			r;

	if (t % USECS_PER_SEC != 0 && t < 0)
		secs--;
	r = pg_next_dst_boundary(&secs, &before_gmtoff, &before_isdst,
							 &boundary, &after_gmtoff, &after_isdst, tz);
	if (r < 0)
	{
		/* documented as impossible: make the core report a broken zone */
		*offset = INT32_MAX;
		return false;
	}
	*offset = (int32_t) before_gmtoff;
	if (r == 0 || boundary > LP_CAL_MAX_TIME / USECS_PER_SEC)
		return false;
	*next = (int64_t) boundary * USECS_PER_SEC;
	return true;
}

/* A time of day in microseconds, as the time type prints it */
static char *
time_text(int64 us)
{
	return DatumGetCString(DirectFunctionCall1(time_out, TimeADTGetDatum(us)));
}

/*
 * report_compile_error
 *		Rows that reach the tables without their triggers (a restore with
 *		session_replication_role = replica) can still be wrong; say which.
 */
static void
report_compile_error(const char *name, LpCalStatus st, int bad,
					 LpCalShift *shifts, LpCalHoliday *holidays)
{
	switch (st)
	{
		case LP_CAL_NO_HOURS:
			ereport(ERROR,
					errcode(ERRCODE_LP_NO_BUSINESS_HOURS),
					errmsg("calendar \"%s\" has no business hours", name),
					errdetail("Calendar \"%s\" has no rows in lead_process.calendar_hours.",
							  name),
					errhint("Add shifts with INSERT INTO lead_process.calendar_hours."));
			break;
		case LP_CAL_OVERLAP:
		case LP_CAL_BAD_SHIFT:
		case LP_CAL_UNSORTED:
			Assert(bad >= 0);
			ereport(ERROR,
					errcode(st == LP_CAL_OVERLAP ? ERRCODE_EXCLUSION_VIOLATION :
							ERRCODE_CHECK_VIOLATION),
					errmsg("calendar \"%s\" has an invalid shift", name),
					errdetail("Shift %s-%s on weekday %d: %s.",
							  time_text(shifts[bad].opens),
							  time_text(shifts[bad].closes),
							  shifts[bad].weekday, lp_cal_status_text(st)),
					errhint("Correct the rows of lead_process.calendar_hours."));
			break;
		case LP_CAL_BAD_HOLIDAY:
			ereport(ERROR,
					errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					errmsg("calendar \"%s\" has an invalid holiday", name),
					errdetail("Holiday on %s: %s.",
							  bad >= 0 ?
							  DatumGetCString(DirectFunctionCall1(date_out,
																  DateADTGetDatum((DateADT) (holidays[bad].day - EPOCH_SHIFT_DAYS)))) :
							  "?",
							  lp_cal_status_text(st)),
					errhint("Correct the rows of lead_process.calendar_holiday."));
			break;
		default:
			elog(ERROR, "could not compile calendar \"%s\": %s", name,
				 lp_cal_status_text(st));
	}
}

/*
 * time_col
 *		A TIME column of the current SPI row, in microseconds.
 */
static int64
time_col(uint64 row, int col, int64 if_null)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row],
								  SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? if_null : (int64) DatumGetTimeADT(d);
}

/*
 * run_for_calendar
 *		Run one of the kept read-only queries whose only parameter is the
 *		calendar name; the rows are in SPI_tuptable.
 */
static void
run_for_calendar(SPIPlanPtr *slot, const char *sql, Datum name_arg,
				 const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	args[0] = name_arg;
	lp_prepare_kept(slot, sql, 1, argtypes);
	if (SPI_execute_plan(*slot, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed for calendar \"%s\"", name);
}

/*
 * calendar_load
 *		Read a calendar's three parts with SPI and compile them into
 *		*entry, in the current memory context; returns the length of the
 *		entry's buffer.  Shifts and holidays come sorted as the core wants
 *		them; a whole-day holiday (both times NULL) is 00:00 to 24:00.
 */
static size_t
calendar_load(const char *name, LpCalEntry *entry)
{
	Datum		name_arg = CStringGetTextDatum(name);
	char	   *zone_name;
	LpCalShift *shifts;
	LpCalHoliday *holidays;
	int			nshifts,
				nholidays;
	int			bad;
	LpCalStatus st;
	pg_tz	   *tz;
	size_t		buflen;
	MemoryContext cxt = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	run_for_calendar(&plan_calendar,
					 "SELECT time_zone FROM lead_process.calendar"
					 " WHERE name OPERATOR(pg_catalog.=) $1",
					 name_arg, name);
	if (SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("calendar \"%s\" does not exist", name),
				errhint("Calendars are rows of lead_process.calendar; the extension creates \"default\"."));
	zone_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	tz = pg_tzset(zone_name);
	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("time zone \"%s\" of calendar \"%s\" is not recognized",
					   zone_name, name),
				errhint("Set lead_process.calendar.time_zone to a name listed in pg_timezone_names."));

	run_for_calendar(&plan_hours,
					 "SELECT weekday, opens, closes FROM lead_process.calendar_hours"
					 " WHERE calendar OPERATOR(pg_catalog.=) $1 ORDER BY weekday, opens",
					 name_arg, name);
	nshifts = (int) SPI_processed;
	shifts = palloc0(sizeof(LpCalShift) * Max(nshifts, 1));
	for (int i = 0; i < nshifts; i++)
	{
		bool		isnull;

		shifts[i].weekday = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc,
														1, &isnull));
		shifts[i].opens = time_col(i, 2, 0);
		shifts[i].closes = time_col(i, 3, 0);
	}

	run_for_calendar(&plan_holidays,
					 "SELECT day, closed_from, closed_until FROM lead_process.calendar_holiday"
					 " WHERE calendar OPERATOR(pg_catalog.=) $1"
					 " ORDER BY day, closed_from NULLS FIRST",
					 name_arg, name);
	nholidays = (int) SPI_processed;
	holidays = palloc0(sizeof(LpCalHoliday) * Max(nholidays, 1));
	for (int i = 0; i < nholidays; i++)
	{
		bool		isnull;
		DateADT		day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc,
														1, &isnull));

		/* infinite dates are refused by a CHECK; keep them harmless */
		holidays[i].day = DATE_NOT_FINITE(day) ? PG_INT64_MAX :
			(int64) day + EPOCH_SHIFT_DAYS;
		holidays[i].from = time_col(i, 2, 0);
		holidays[i].until = time_col(i, 3, USECS_PER_DAY);
	}

	entry->tz = tz;
	entry->zone.lookup = pg_zone_lookup;
	entry->zone.ctx = tz;
	buflen = lp_cal_buffer_len(nshifts, nholidays);
	entry->buf = MemoryContextAlloc(cxt, sizeof(int64) * buflen);
	st = lp_cal_compile(&entry->cal, shifts, nshifts, holidays, nholidays,
						entry->buf, &bad);
	if (st != LP_CAL_OK)
		report_compile_error(name, st, bad, shifts, holidays);

	SPI_finish();
	return buflen;
}

/*
 * entry_copy
 *		Copy an entry and its arrays into cxt; the arrays keep their layout
 *		in the buffer, so the pointers move by the buffer's displacement.
 */
static LpCalEntry *
entry_copy(const LpCalEntry *src, size_t buflen, MemoryContext cxt)
{
	LpCalEntry *dst = MemoryContextAlloc(cxt, sizeof(LpCalEntry));
	LpCalendar *c = &dst->cal;

	memcpy(dst, src, sizeof(LpCalEntry));
	dst->buf = MemoryContextAlloc(cxt, sizeof(int64) * buflen);
	memcpy(dst->buf, src->buf, sizeof(int64) * buflen);
	c->wk_start = dst->buf + (src->cal.wk_start - src->buf);
	c->wk_end = dst->buf + (src->cal.wk_end - src->buf);
	c->wk_before = dst->buf + (src->cal.wk_before - src->buf);
	c->hol_start = dst->buf + (src->cal.hol_start - src->buf);
	c->hol_end = dst->buf + (src->cal.hol_end - src->buf);
	c->hol_before = dst->buf + (src->cal.hol_before - src->buf);
	return dst;
}

/*
 * calendar_get
 *		The compiled calendar of a name, from the cache or loaded now.
 *
 * The load runs in the caller's memory context, so a failing load leaves
 * nothing behind; only a complete calendar is copied into the cache
 * context.  If an invalidation arrived during the load, what it read may
 * be stale: the copy then serves this call only, and the next call starts
 * a new cache.
 */
static LpCalEntry *
calendar_get(const char *name)
{
	LpCalEntry	loaded;
	LpCalEntry *entry;
	uint64		generation;
	size_t		buflen;

	cache_reset_if_stale();
	if (strlen(name) < NAMEDATALEN)
	{
		entry = hash_search(cal_hash, name, HASH_FIND, NULL);
		if (entry != NULL)
			return entry;
	}

	generation = built_generation;
	memset(&loaded, 0, sizeof(loaded));
	buflen = calendar_load(name, &loaded);
	loaded.generation = generation;
	strlcpy(loaded.name, name, NAMEDATALEN);
	entry = entry_copy(&loaded, buflen, cal_context);
	if (generation == inval_generation && strlen(name) < NAMEDATALEN)
	{
		bool		found;
		LpCalEntry *cached = hash_search(cal_hash, name, HASH_ENTER, &found);

		/* the hash owns the key; the rest is the copy */
		memcpy(cached, entry, sizeof(LpCalEntry));
		pfree(entry);
		entry = cached;
	}
	return entry;
}

/*
 * calendar_for_call
 *		The calendar named by a text argument, through the call site's
 *		fn_extra: the same name at the same generation needs no lookup.
 */
static LpCalEntry *
calendar_for_call(FunctionCallInfo fcinfo, text *name_t)
{
	LpCalCallCache *cc = (LpCalCallCache *) fcinfo->flinfo->fn_extra;
	int			len = VARSIZE_ANY_EXHDR(name_t);
	char	   *name;

	if (cc != NULL && cc->entry != NULL &&
		cc->generation == inval_generation &&
		built_generation == inval_generation &&
		cc->namelen == len && memcmp(cc->name, VARDATA_ANY(name_t), len) == 0)
		return cc->entry;

	if (cc == NULL)
	{
		cc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									sizeof(LpCalCallCache));
		fcinfo->flinfo->fn_extra = cc;
	}
	cc->entry = NULL;
	name = text_to_cstring(name_t);
	cc->entry = calendar_get(name);
	cc->generation = cc->entry->generation;
	if (len < NAMEDATALEN)
	{
		memcpy(cc->name, name, len);
		cc->namelen = len;
	}
	else
		cc->namelen = -1;		/* too long to remember: never matches */
	pfree(name);
	return cc->entry;
}

/*
 * to_core_time
 *		A finite timestamptz as microseconds since 1970, in the core's range.
 */
static int64
to_core_time(TimestampTz ts, const char *argname)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("timestamp out of range"),
				errdetail("Argument \"%s\" is %s; business time needs a finite timestamp.",
						  argname, timestamptz_to_str(ts)));
	if (ts < LP_CAL_MIN_TIME - EPOCH_SHIFT_US ||
		ts > LP_CAL_MAX_TIME - EPOCH_SHIFT_US)
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("timestamp out of range"),
				errdetail("Argument \"%s\" is %s; business time supports timestamps up to about the year 148000.",
						  argname, timestamptz_to_str(ts)));
	return ts + EPOCH_SHIFT_US;
}

/*
 * report_core_error
 *		Turn a status of lp_cal_add() or lp_cal_between() into an ERROR.
 */
static void
report_core_error(const char *name, LpCalStatus st, TimestampTz start)
{
	switch (st)
	{
		case LP_CAL_NO_HOURS:
			ereport(ERROR,
					errcode(ERRCODE_LP_NO_BUSINESS_HOURS),
					errmsg("calendar \"%s\" has no business hours", name),
					errhint("Add shifts with INSERT INTO lead_process.calendar_hours."));
			break;
		case LP_CAL_NEVER_OPEN:
			ereport(ERROR,
					errcode(ERRCODE_LP_NO_BUSINESS_HOURS),
					errmsg("calendar \"%s\" never opens after %s", name,
						   timestamptz_to_str(start)),
					errdetail("No business time was found for 8 days after the last holiday."));
			break;
		case LP_CAL_OUT_OF_RANGE:
			ereport(ERROR,
					errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					errmsg("timestamp out of range"),
					errdetail("The business time of calendar \"%s\" from %s ends beyond the supported range.",
							  name, timestamptz_to_str(start)));
			break;
		case LP_CAL_TOO_MANY_STEPS:
			ereport(ERROR,
					errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					errmsg("business time of calendar \"%s\" spans too many time zone transitions",
						   name));
			break;
		default:
			elog(ERROR, "business time of calendar \"%s\" failed: %s", name,
				 lp_cal_status_text(st));
	}
}

/*
 * lp_business_time_add
 *		business_time_add(calendar, start, amount): the instant at which
 *		amount of business time has elapsed after start.
 */
PG_FUNCTION_INFO_V1(lp_business_time_add);
Datum
lp_business_time_add(PG_FUNCTION_ARGS)
{
	text	   *name_t = PG_GETARG_TEXT_PP(0);
	TimestampTz start = PG_GETARG_TIMESTAMPTZ(1);
	Interval   *amount = PG_GETARG_INTERVAL_P(2);
	LpCalEntry *entry;
	int64		us,
				result;
	LpCalStatus st;

	if (amount->month != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("business time amount cannot contain months or years"),
				errdetail("The amount is %s.",
						  DatumGetCString(DirectFunctionCall1(interval_out,
															  IntervalPGetDatum(amount)))),
				errhint("Give the amount in days, hours and minutes; a day counts as 24 hours."));
	if (pg_mul_s64_overflow((int64) amount->day, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, amount->time, &us))
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("interval out of range"));
	if (us < 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("business time amount cannot be negative"),
				errdetail("The amount is %s.",
						  DatumGetCString(DirectFunctionCall1(interval_out,
															  IntervalPGetDatum(amount)))),
				errhint("Use business_time_between() to measure backwards."));

	entry = calendar_for_call(fcinfo, name_t);
	st = lp_cal_add(&entry->cal, &entry->zone, to_core_time(start, "start"),
					us, &result);
	if (st != LP_CAL_OK)
		report_core_error(text_to_cstring(name_t), st, start);
	result -= EPOCH_SHIFT_US;
	if (!IS_VALID_TIMESTAMP(result))
		report_core_error(text_to_cstring(name_t), LP_CAL_OUT_OF_RANGE, start);
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * lp_business_time_between
 *		business_time_between(calendar, from, to): business time in
 *		[from, to) as an interval of hours, negative when to < from.
 */
PG_FUNCTION_INFO_V1(lp_business_time_between);
Datum
lp_business_time_between(PG_FUNCTION_ARGS)
{
	text	   *name_t = PG_GETARG_TEXT_PP(0);
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(2);
	LpCalEntry *entry;
	int64		result;
	LpCalStatus st;
	Interval   *iv;

	entry = calendar_for_call(fcinfo, name_t);
	st = lp_cal_between(&entry->cal, &entry->zone, to_core_time(from, "from"),
						to_core_time(to, "to"), &result);
	if (st != LP_CAL_OK)
		report_core_error(text_to_cstring(name_t), st, from);
	iv = (Interval *) palloc(sizeof(Interval));
	iv->month = 0;
	iv->day = 0;
	iv->time = result;
	PG_RETURN_INTERVAL_P(iv);
}
