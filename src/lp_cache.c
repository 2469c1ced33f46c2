/*-------------------------------------------------------------------------
 *
 * lp_cache.c
 *	  Per-backend cache of the process configuration.
 *
 * The stage machine consults stages, statuses, the transition graph and the
 * reason catalog on every stage change.  Reading four tables each time would
 * cost more than the change itself, so the whole configuration is loaded once
 * into a memory context under CacheMemoryContext and kept until one of the
 * configuration tables changes.
 *
 * Invariants and invalidation:
 *	- An AFTER STATEMENT trigger on each configuration table calls
 *	  CacheInvalidateRelcache() on it (lp_config_changed_trigger, lp_stage.c).
 *	  The invalidation is applied to our own backend at the next command
 *	  boundary and broadcast to every other backend at commit, so an edit
 *	  takes effect everywhere without reconnecting.
 *	- lp_relcache_callback() bumps inval_generation when it hears about one of
 *	  our relations, or about "all relations" (InvalidOid).  The cache is valid
 *	  only while the generation it was built at equals the current one; an
 *	  invalidation that arrives while a load is running therefore makes the
 *	  next lp_process_get() load again.
 *	- A new cache is built in a context parented to the current (transaction)
 *	  context and moved under CacheMemoryContext only when complete, so an
 *	  error during the load leaks nothing and leaves the old cache in place.
 *
 * Locking: the loads are plain SELECTs (AccessShareLock); the cache holds no
 * lock between transactions.
 *
 * IDENTIFICATION
 *	  src/lp_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "lead_process.h"
#include "lp_cache.h"
#include "lp_condition.h"
#include "lp_score.h"

/* Relations whose change invalidates the cache */
#define LP_NRELIDS 13

static LpProcess *lp_process = NULL;
static MemoryContext lp_process_context = NULL;
static uint64 inval_generation = 1;
static uint64 built_generation = 0;
static Oid	lp_relids[LP_NRELIDS];

static const char *const kind_names[] = {
	"advance", "fast-track", "accept", "reject",
	"recycle", "disqualify", "win", "reopen"
};

/*
 * lp_relcache_callback
 *		Forget the cache when one of our relations changes.
 *
 * Called from invalidation processing, so it must not touch the catalogs;
 * it only compares OIDs and bumps a counter.
 */
static void
lp_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid)
	{
		inval_generation++;
		return;
	}
	for (int i = 0; i < LP_NRELIDS; i++)
	{
		if (lp_relids[i] == relid)
		{
			inval_generation++;
			return;
		}
	}
}

/*
 * lp_cache_init
 *		Register the invalidation callback; called once from _PG_init.
 */
void
lp_cache_init(void)
{
	CacheRegisterRelcacheCallback(lp_relcache_callback, (Datum) 0);
}

/*
 * kind_from_text
 *		Map a transition kind name to LpKind.  The CHECK constraint on
 *		lead_process.transition.kind makes an unknown name impossible.
 */
static LpKind
kind_from_text(const char *kind)
{
	for (int i = 0; i < (int) lengthof(kind_names); i++)
	{
		if (strcmp(kind, kind_names[i]) == 0)
			return (LpKind) i;
	}
	elog(ERROR, "unrecognized transition kind \"%s\"", kind);
	return LP_KIND_ADVANCE;		/* keep compiler quiet */
}

const char *
lp_kind_name(LpKind kind)
{
	return kind_names[kind];
}

/*
 * lp_kind_needs_reason
 *		Edges that send a lead back or out of the funnel need a reason code.
 */
bool
lp_kind_needs_reason(LpKind kind)
{
	return kind == LP_KIND_REJECT || kind == LP_KIND_RECYCLE ||
		kind == LP_KIND_DISQUALIFY;
}

/*
 * lp_relid_in
 *		OID of lead_process.<relname>, nsp being the schema's OID (or
 *		InvalidOid); error if the extension's tables are missing (the
 *		library loaded without the extension installed).
 */
Oid
lp_relid_in(Oid nsp, const char *relname)
{
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("relation \"lead_process.%s\" does not exist", relname),
				errhint("Run CREATE EXTENSION lead_process in this database."));
	return relid;
}

static AttrNumber
lead_attnum(Oid relid, const char *attname)
{
	AttrNumber	attnum = get_attnum(relid, attname);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of lead_process.lead is missing", attname);
	return attnum;
}

/*
 * spi_text
 *		Column of the current SPI row as a palloc'd C string, or NULL.
 */
static char *
spi_text(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static bool
spi_bool(uint64 row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row],
								  SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static void
spi_run(const char *sql)
{
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql);
}

/*
 * compile_condition_or_warn
 *		Compile a condition column of the current SPI row (with fit, one of a
 *		fit rule: profile attributes only).  Conditions are validated when
 *		written, but rows that arrive without their triggers (a restore,
 *		logical replication) skip that check: a condition that no longer
 *		compiles is reported with a WARNING and NULL is returned with *ok =
 *		false, instead of failing every write of a lead.  Catching the error
 *		without a subtransaction is safe here: compiling only allocates
 *		memory and raises ereport(ERROR); it takes no lock, buffer or other
 *		resource that abort would release.
 */
static LpCondition *
compile_condition_or_warn(uint64 row, int col, TupleDesc lead_desc, bool fit,
						  const char *what, const char *hint, bool *ok)
{
	bool		isnull;
	Datum		d;
	LpCondition *cond = NULL;
	MemoryContext before = CurrentMemoryContext;

	*ok = true;
	d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
	if (isnull)
		return NULL;
	PG_TRY();
	{
		cond = lp_condition_compile(DatumGetJsonbPCopy(d));
		if (fit)
			lp_fit_condition_check(cond);
		lp_condition_bind(cond, lead_desc);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(before);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("%s is ignored: %s", what, edata->message),
				errhint("%s", hint));
		FreeErrorData(edata);
		cond = NULL;
		*ok = false;
	}
	PG_END_TRY();
	return cond;
}

/*
 * load_fit_rules
 *		Compile the active fit rules and bind them to the lead row type.
 *
 * A rule whose condition no longer compiles is skipped with a WARNING
 * (compile_condition_or_warn()).
 */
static void
load_fit_rules(LpProcess *proc, MemoryContext cxt)
{
	Relation	rel;
	TupleDesc	tupdesc;
	MemoryContext oldcxt;

	spi_run("SELECT id, condition, points, name FROM lead_process.fit_rule "
			"WHERE active ORDER BY id");
	oldcxt = MemoryContextSwitchTo(cxt);
	rel = table_open(proc->lead_relid, AccessShareLock);
	tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	proc->fitrules = palloc0(sizeof(LpFitRule) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		ok;
		LpFitRule  *r = &proc->fitrules[proc->nfitrules];

		r->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		r->points = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		r->condition = compile_condition_or_warn(i, 2, tupdesc, true,
												 psprintf("fit rule %s (\"%s\")",
														  spi_text(i, 1), spi_text(i, 4)),
												 "Correct the rule's condition in lead_process.fit_rule.",
												 &ok);
		if (ok && r->condition != NULL)
			proc->nfitrules++;
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * load_behaviour_rules
 *		The active behaviour rules in matching order: an activity counts for
 *		the first rule (lowest priority, then id) whose type and property
 *		pattern it matches.
 */
static void
load_behaviour_rules(LpProcess *proc, MemoryContext cxt)
{
	MemoryContext oldcxt;

	bool		timed = get_attnum(lp_relids[7], "half_life") != InvalidAttrNumber;

	spi_run(timed ?
			"SELECT id, activity_type, property, pattern, points, "
			"coalesce(max_occurrences, 0), coalesce(max_points, 0), fast_track_to, "
			"coalesce((EXTRACT(epoch FROM min_interval) "
			"  OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8, 0), "
			"coalesce(EXTRACT(epoch FROM half_life)::pg_catalog.float8 OPERATOR(pg_catalog.*) 1000000, 0) "
			"FROM lead_process.behaviour_rule WHERE active ORDER BY priority, id" :
			"SELECT id, activity_type, property, pattern, points, "
			"coalesce(max_occurrences, 0), coalesce(max_points, 0), fast_track_to, 0, 0 "
			"FROM lead_process.behaviour_rule WHERE active ORDER BY priority, id");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nbehaviourrules = (int) SPI_processed;
	proc->behaviourrules = palloc0(sizeof(LpBehaviourRule) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LpBehaviourRule *r = &proc->behaviourrules[i];
		char	   *pattern;

		r->id = pg_strtoint64(spi_text(i, 1));
		r->activity_type = spi_text(i, 2);
		r->property = spi_text(i, 3);
		pattern = spi_text(i, 4);
		r->pattern = pattern ? cstring_to_text(pattern) : NULL;
		r->points = pg_strtoint32(spi_text(i, 5));
		r->max_occurrences = pg_strtoint32(spi_text(i, 6));
		r->max_points = pg_strtoint32(spi_text(i, 7));
		r->fast_track_to = spi_text(i, 8) ? lp_stage_find(proc, spi_text(i, 8)) : -1;
		r->min_interval = pg_strtoint64(spi_text(i, 9));
		r->half_life = strtod(spi_text(i, 10), NULL);
		snprintf(r->key, sizeof(r->key), INT64_FORMAT, r->id);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * load_process
 *		Read the configuration tables into a new LpProcess allocated in cxt.
 *		Runs as the owner of the configuration, so that a session that may
 *		only write leads still gets the process it must obey.
 */
/*
 * load_routing
 *		Teams, reps with their territories and capacities, queues and the
 *		active routing rules (version 1.1).
 */
static void
load_routing(LpProcess *proc, MemoryContext cxt)
{
	MemoryContext oldcxt;
	Relation	rel;
	TupleDesc	lead_desc;

	oldcxt = MemoryContextSwitchTo(cxt);
	rel = table_open(proc->lead_relid, AccessShareLock);
	lead_desc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	MemoryContextSwitchTo(oldcxt);

	spi_run("SELECT name, method FROM lead_process.team "
			"ORDER BY name COLLATE pg_catalog.\"C\"");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nteams = (int) SPI_processed;
	proc->teams = palloc0(sizeof(LpTeam) * Max(proc->nteams, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *method = spi_text(i, 2);

		proc->teams[i].name = spi_text(i, 1);
		proc->teams[i].method = strcmp(method, "least-loaded") == 0 ? LP_ROUTE_LEAST_LOADED :
			strcmp(method, "weighted") == 0 ? LP_ROUTE_WEIGHTED : LP_ROUTE_ROUND_ROBIN;
	}
	MemoryContextSwitchTo(oldcxt);

	spi_run("SELECT name, team, active, away_until, weight, territory "
			"FROM lead_process.rep ORDER BY name COLLATE pg_catalog.\"C\"");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nreps = (int) SPI_processed;
	proc->reps = palloc0(sizeof(LpRep) * Max(proc->nreps, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LpRep	   *r = &proc->reps[i];
		char	   *team = spi_text(i, 2);
		bool		isnull;
		Datum		d;
		bool		ok;

		r->name = spi_text(i, 1);
		r->team = -1;
		for (int k = 0; team != NULL && k < proc->nteams; k++)
			if (strcmp(proc->teams[k].name, team) == 0)
				r->team = k;
		r->active = spi_bool(i, 3);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull);
		r->has_away = !isnull;
		r->away_until = isnull ? 0 : DatumGetTimestampTz(d);
		r->weight = pg_strtoint32(spi_text(i, 5));
		r->territory = compile_condition_or_warn(i, 6, lead_desc, false,
												 psprintf("territory of rep \"%s\"", r->name),
												 "Correct the territory in lead_process.rep.", &ok);
		if (!ok)
			r->active = false;	/* never route by a condition we cannot read */
		r->capacity = palloc(sizeof(int32) * Max(proc->nstages, 1));
		for (int k = 0; k < proc->nstages; k++)
			r->capacity[k] = -1;
	}
	MemoryContextSwitchTo(oldcxt);

	spi_run("SELECT rep, stage, max_leads FROM lead_process.rep_capacity");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int			ri = lp_rep_find(proc, spi_text(i, 1));
		int			si = lp_stage_find(proc, spi_text(i, 2));

		if (ri >= 0 && si >= 0)
			proc->reps[ri].capacity[si] = pg_strtoint32(spi_text(i, 3));
	}

	spi_run("SELECT name, is_default FROM lead_process.queue "
			"ORDER BY name COLLATE pg_catalog.\"C\"");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nqueues = (int) SPI_processed;
	proc->queues = palloc0(sizeof(char *) * Max(proc->nqueues, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		proc->queues[i] = spi_text(i, 1);
		if (spi_bool(i, 2))
			proc->default_queue = proc->queues[i];
	}
	MemoryContextSwitchTo(oldcxt);

	spi_run("SELECT id, name, condition, team, rep, queue FROM lead_process.routing_rule "
			"WHERE active ORDER BY priority, id");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->routingrules = palloc0(sizeof(LpRoutingRule) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LpRoutingRule *r = &proc->routingrules[proc->nroutingrules];
		char	   *team = spi_text(i, 4);
		char	   *rep = spi_text(i, 5);
		bool		ok;

		r->id = pg_strtoint64(spi_text(i, 1));
		r->name = spi_text(i, 2);
		r->condition = compile_condition_or_warn(i, 3, lead_desc, false,
												 psprintf("routing rule %s (\"%s\")",
														  spi_text(i, 1), r->name),
												 "Correct the rule's condition in lead_process.routing_rule.",
												 &ok);
		if (!ok)
			continue;
		r->team = -1;
		for (int k = 0; team != NULL && k < proc->nteams; k++)
			if (strcmp(proc->teams[k].name, team) == 0)
				r->team = k;
		r->rep = rep ? lp_rep_find(proc, rep) : -1;
		r->queue = spi_text(i, 6);
		if (r->team < 0 && r->rep < 0 && r->queue == NULL)
			continue;			/* target vanished (a restore in progress) */
		proc->nroutingrules++;
	}
	MemoryContextSwitchTo(oldcxt);
}

static LpProcess *
load_process(MemoryContext cxt)
{
	LpProcess  *proc;
	Oid			nsp;
	Oid			save_userid;
	int			save_sec;
	HeapTuple	tup;
	MemoryContext oldcxt;

	nsp = get_namespace_oid("lead_process", true);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("schema \"lead_process\" does not exist"),
				errhint("Run CREATE EXTENSION lead_process in this database."));

	proc = MemoryContextAllocZero(cxt, sizeof(LpProcess));
	lp_relids[0] = lp_relid_in(nsp, "stage");
	lp_relids[1] = lp_relid_in(nsp, "stage_status");
	lp_relids[2] = lp_relid_in(nsp, "transition");
	lp_relids[3] = lp_relid_in(nsp, "reason");
	lp_relids[4] = proc->lead_relid = lp_relid_in(nsp, "lead");
	lp_relids[5] = proc->history_relid = lp_relid_in(nsp, "stage_history");

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(proc->history_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", proc->history_relid);
	proc->history_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	proc->lead.id = lead_attnum(proc->lead_relid, "id");
	proc->lead.stage = lead_attnum(proc->lead_relid, "stage");
	proc->lead.status = lead_attnum(proc->lead_relid, "status");
	proc->lead.stage_reason = lead_attnum(proc->lead_relid, "stage_reason");
	proc->lead.owner = lead_attnum(proc->lead_relid, "owner");
	proc->lead.score = lead_attnum(proc->lead_relid, "score");
	proc->lead.stage_changed_at = lead_attnum(proc->lead_relid, "stage_changed_at");
	proc->lead.recycle_count = lead_attnum(proc->lead_relid, "recycle_count");
	proc->lead.last_recycled_at = lead_attnum(proc->lead_relid, "last_recycled_at");
	proc->lead.created_at = lead_attnum(proc->lead_relid, "created_at");
	/* Objects of version 1.1: absent while the extension is still at 1.0 */
	proc->lead.fit_score = get_attnum(proc->lead_relid, "fit_score");
	proc->lead.behaviour_score = get_attnum(proc->lead_relid, "behaviour_score");
	proc->lead.score_tally = get_attnum(proc->lead_relid, "score_tally");
	if (proc->lead.score_tally == InvalidAttrNumber)
		proc->lead.behaviour_score = InvalidAttrNumber;
	{
		static const char *const profile[] = {
			"email", "first_name", "last_name", "company", "job_title",
			"country", "industry", "employees", "annual_revenue", "source",
			"campaign", "lead_type", "properties"
		};

		for (int i = 0; i < (int) lengthof(profile); i++)
			proc->lead.profile[proc->lead.nprofile++] =
				lead_attnum(proc->lead_relid, profile[i]);
	}
	lp_relids[6] = get_relname_relid("fit_rule", nsp);
	proc->event_relid = get_relname_relid("event", nsp);
	lp_relids[7] = get_relname_relid("behaviour_rule", nsp);
	lp_relids[8] = get_relname_relid("team", nsp);
	lp_relids[9] = get_relname_relid("rep", nsp);
	lp_relids[10] = get_relname_relid("rep_capacity", nsp);
	lp_relids[11] = get_relname_relid("queue", nsp);
	lp_relids[12] = get_relname_relid("routing_rule", nsp);
	proc->rep_state_relid = get_relname_relid("rep_state", nsp);
	/*
	 * Not among the relations that invalidate the cache: the queue churns,
	 * and every VACUUM of it would make each session load the process
	 * again.  It goes only with the extension (and lead), as the outbox.
	 */
	proc->score_queue_relid = get_relname_relid("score_queue", nsp);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Stages, in funnel order */
	spi_run("SELECT name, position, is_terminal, is_won "
			"FROM lead_process.stage ORDER BY position");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nstages = (int) SPI_processed;
	proc->stages = palloc0(sizeof(LpStage) * Max(proc->nstages, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LpStage    *s = &proc->stages[i];

		s->name = spi_text(i, 1);
		s->position = pg_strtoint32(spi_text(i, 2));
		s->is_terminal = spi_bool(i, 3);
		s->is_won = spi_bool(i, 4);
	}
	MemoryContextSwitchTo(oldcxt);

	/* Score promotion settings of the stages (version 1.1) */
	if (get_attnum(lp_relids[0], "score_threshold") != InvalidAttrNumber)
	{
		spi_run("SELECT name, score_threshold, required_fields, "
				"(extract(epoch FROM requalify_after) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 "
				"FROM lead_process.stage");
		oldcxt = MemoryContextSwitchTo(cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			int			si = lp_stage_find(proc, spi_text(i, 1));
			LpStage    *st;
			char	   *threshold = spi_text(i, 2);
			char	   *after = spi_text(i, 4);
			bool		isnull;
			Datum		req;

			if (si < 0)
				continue;
			st = &proc->stages[si];
			st->requalify_after = after ? pg_strtoint64(after) : -1;
			if (threshold == NULL)
				continue;
			st->has_threshold = true;
			st->threshold = pg_strtoint32(threshold);
			req = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
			if (!isnull)
			{
				Datum	   *elems;
				int			n;

				deconstruct_array(DatumGetArrayTypeP(req), TEXTOID, -1, false,
								  TYPALIGN_INT, &elems, NULL, &n);
				st->required = palloc(sizeof(AttrNumber) * Max(n, 1));
				for (int k = 0; k < n; k++)
				{
					AttrNumber	a = get_attnum(proc->lead_relid,
											   TextDatumGetCString(elems[k]));

					if (a != InvalidAttrNumber)
						st->required[st->nrequired++] = a;
				}
			}
		}
		MemoryContextSwitchTo(oldcxt);
	}
	else
	{
		for (int i = 0; i < proc->nstages; i++)
			proc->stages[i].requalify_after = -1;
	}

	/* Statuses, attached to their stage in display order */
	spi_run("SELECT stage, status, is_default "
			"FROM lead_process.stage_status ORDER BY stage, position");
	oldcxt = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *stage = SPI_getvalue(SPI_tuptable->vals[i],
										 SPI_tuptable->tupdesc, 1);
		int			si = lp_stage_find(proc, stage);
		LpStage    *s;

		if (si < 0)
			continue;			/* FK makes this impossible */
		s = &proc->stages[si];
		if (s->statuses == NULL)
			s->statuses = palloc(sizeof(char *) * SPI_processed);
		s->statuses[s->nstatuses] = spi_text(i, 2);
		if (spi_bool(i, 3))
			s->default_status = s->statuses[s->nstatuses];
		s->nstatuses++;
	}
	MemoryContextSwitchTo(oldcxt);

	/* Transitions, grouped by source, targets in funnel order */
	spi_run("SELECT t.from_stage, t.to_stage, t.kind, t.to_status "
			"FROM lead_process.transition t "
			"JOIN lead_process.stage f ON f.name OPERATOR(pg_catalog.=) t.from_stage "
			"JOIN lead_process.stage s ON s.name OPERATOR(pg_catalog.=) t.to_stage "
			"ORDER BY f.position, s.position");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->ntransitions = (int) SPI_processed;
	proc->transitions = palloc0(sizeof(LpTransition) * Max(proc->ntransitions, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LpTransition *t = &proc->transitions[i];

		t->from = lp_stage_find(proc, spi_text(i, 1));
		t->to = lp_stage_find(proc, spi_text(i, 2));
		t->kind = kind_from_text(spi_text(i, 3));
		t->to_status = spi_text(i, 4);
	}
	MemoryContextSwitchTo(oldcxt);

	/* Reasons */
	spi_run("SELECT code, kind FROM lead_process.reason "
			"ORDER BY code COLLATE pg_catalog.\"C\"");
	oldcxt = MemoryContextSwitchTo(cxt);
	proc->nreasons = (int) SPI_processed;
	proc->reasons = palloc0(sizeof(LpReason) * Max(proc->nreasons, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *kind = SPI_getvalue(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2);

		proc->reasons[i].code = spi_text(i, 1);
		proc->reasons[i].disqualify = strcmp(kind, "disqualify") == 0;
	}
	MemoryContextSwitchTo(oldcxt);

	for (int i = 0; i < proc->nstages; i++)
		proc->stages[i].max_recycles = -1;
	for (int i = 0; i < proc->nreasons; i++)
		proc->reasons[i].score_action = 'k';
	if (get_attnum(lp_relids[0], "handoff") != InvalidAttrNumber)
	{
		spi_run("SELECT name, handoff, max_recycles FROM lead_process.stage");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			int			si = lp_stage_find(proc, spi_text(i, 1));
			char	   *max = spi_text(i, 3);

			if (si < 0)
				continue;
			proc->stages[si].handoff = spi_bool(i, 2);
			proc->stages[si].max_recycles = max ? pg_strtoint32(max) : -1;
		}
		spi_run("SELECT code, score_action, score_factor::pg_catalog.float8 "
				"FROM lead_process.reason");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			LpReason   *r = (LpReason *) lp_reason_find(proc, spi_text(i, 1));
			char	   *factor = spi_text(i, 3);

			if (r == NULL)
				continue;
			r->score_action = spi_text(i, 2)[0];
			r->score_factor = factor ? strtod(factor, NULL) : 1.0;
		}
	}
	if (OidIsValid(lp_relids[6]) && proc->lead.fit_score != InvalidAttrNumber)
		load_fit_rules(proc, cxt);
	if (OidIsValid(lp_relids[7]))
		load_behaviour_rules(proc, cxt);
	if (OidIsValid(lp_relids[12]) && OidIsValid(proc->rep_state_relid))
		load_routing(proc, cxt);

	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);

	return proc;
}

/*
 * lp_process_get
 *		The current process configuration, loading it if needed.
 *
 * The returned pointer stays valid until the end of the transaction, even
 * if a later call loads a newer configuration: the old one is freed with
 * the transaction.  A caller that runs queries may therefore keep using it;
 * it sees the configuration as of its own start.
 */
LpProcess *
lp_process_get(void)
{
	while (lp_process == NULL || built_generation != inval_generation)
	{
		uint64		gen = inval_generation;
		MemoryContext cxt;
		LpProcess  *proc;

		cxt = AllocSetContextCreate(CurrentMemoryContext,
									"lead_process cache",
									ALLOCSET_SMALL_SIZES);
		proc = load_process(cxt);

		/*
		 * Complete: make it permanent.  The old one may still be in use by a
		 * caller up the stack (a trigger whose own queries caused this
		 * reload), so it is not freed now but handed to the transaction,
		 * which frees it when it ends.
		 */
		MemoryContextSetParent(cxt, CacheMemoryContext);
		if (lp_process_context != NULL)
			MemoryContextSetParent(lp_process_context, TopTransactionContext);
		lp_process_context = cxt;
		lp_process = proc;
		built_generation = gen;
	}
	return lp_process;
}

/*
 * lp_stage_find
 *		Index of the named stage, or -1.  A process has a handful of stages,
 *		so a linear scan beats hashing.
 */
int
lp_stage_find(LpProcess *proc, const char *name)
{
	for (int i = 0; i < proc->nstages; i++)
	{
		if (strcmp(proc->stages[i].name, name) == 0)
			return i;
	}
	return -1;
}

/*
 * lp_rep_find
 *		Index of the named rep, or -1 (binary search: reps are sorted by name
 *		in C collation).
 */
int
lp_rep_find(LpProcess *proc, const char *name)
{
	int			lo = 0,
				hi = proc->nreps - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(proc->reps[mid].name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

bool
lp_queue_exists(LpProcess *proc, const char *name)
{
	for (int i = 0; i < proc->nqueues; i++)
		if (strcmp(proc->queues[i], name) == 0)
			return true;
	return false;
}

const LpTransition *
lp_transition_find(LpProcess *proc, int from, int to)
{
	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *t = &proc->transitions[i];

		if (t->from == from && t->to == to)
			return t;
	}
	return NULL;
}

bool
lp_stage_has_status(const LpStage *stage, const char *status)
{
	for (int i = 0; i < stage->nstatuses; i++)
	{
		if (strcmp(stage->statuses[i], status) == 0)
			return true;
	}
	return false;
}

const LpReason *
lp_reason_find(LpProcess *proc, const char *code)
{
	for (int i = 0; i < proc->nreasons; i++)
	{
		if (strcmp(proc->reasons[i].code, code) == 0)
			return &proc->reasons[i];
	}
	return NULL;
}

/*
 * lp_describe_targets
 *		"sal (accept), lead (reject)" for the DETAIL of a refused transition.
 */
void
lp_describe_targets(LpProcess *proc, int from, StringInfo buf)
{
	bool		first = true;

	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *t = &proc->transitions[i];

		if (t->from != from)
			continue;
		appendStringInfo(buf, "%s%s (%s)", first ? "" : ", ",
						 proc->stages[t->to].name, lp_kind_name(t->kind));
		first = false;
	}
}

void
lp_describe_statuses(const LpStage *stage, StringInfo buf)
{
	for (int i = 0; i < stage->nstatuses; i++)
		appendStringInfo(buf, "%s%s", i > 0 ? ", " : "", stage->statuses[i]);
}

void
lp_describe_reasons(LpProcess *proc, bool disqualify, StringInfo buf)
{
	bool		first = true;

	for (int i = 0; i < proc->nreasons; i++)
	{
		if (proc->reasons[i].disqualify != disqualify)
			continue;
		appendStringInfo(buf, "%s%s", first ? "" : ", ", proc->reasons[i].code);
		first = false;
	}
}

/*
 * lp_config_changed_trigger
 *		AFTER STATEMENT trigger on the configuration tables: invalidate the
 *		process cache of every backend once this transaction commits (and of
 *		this backend at the next command boundary).
 */
PG_FUNCTION_INFO_V1(lp_config_changed_trigger);
Datum
lp_config_changed_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	lp_check_trigger(fcinfo, "config_changed_trigger", false, false,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE | LP_TRIG_DELETE |
					 LP_TRIG_TRUNCATE);
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
