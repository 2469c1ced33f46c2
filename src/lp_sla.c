/*-------------------------------------------------------------------------
 *
 * lp_sla.c
 *	  SLA clocks on the ingest hot path: the triggers that start, meet and
 *	  cancel clocks when a stage_history row is written, and that advance
 *	  them when contact attempts are inserted.  The sweep, the actions and
 *	  the calendar edits are set-based SQL in the extension script.
 *
 * Every stage change writes its history row with a statement of its own
 * (lp_stage.c, record_change), so the history trigger is a ROW trigger:
 * a statement trigger would fire just as often and pay for a transition
 * table each time.  Most stage changes concern stages without any SLA
 * policy; a per-backend cache of the stages that have policies lets those
 * return without running a query.  Contact attempts arrive in batches
 * (COPY, multi-row INSERT): that trigger is a statement trigger with one
 * set-based UPDATE over the transition table.
 *
 * Invariants:
 *	- A lead has running clocks only in its current stage, and only in a
 *	  stage some policy (active or not) names: policies cannot be deleted
 *	  while clocks refer to them.  So a stage change out of a stage that no
 *	  policy names has no clock to close.
 *	- The cache is rebuilt after any change of sla_policy: its config_changed
 *	  trigger calls CacheInvalidateRelcache(), our callback clears the valid
 *	  flag (an InvalidOid "all relations" message also forgets the OID).
 *
 * Locking: the history trigger runs while the stage change holds the lead's
 * row lock; the attempt trigger locks the leads that have clocks, by id,
 * before it updates their clocks: the lead-then-clock order of every path
 * that writes clocks (see the extension script).  Clients need no
 * privilege on sla_clock: the history trigger runs as the owner of
 * stage_history (record_change inserts history rows as that owner), the
 * attempt trigger is SECURITY DEFINER.
 *
 * IDENTIFICATION
 *	  src/lp_sla.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "lead_process.h"

/* Stages named by SLA policies, per backend */
typedef struct LpSlaStages
{
	bool		valid;
	Oid			policy_relid;	/* lead_process.sla_policy */
	int			n;
	char	  **names;			/* stages named by any policy */
	bool	   *active;			/* ... by an active one */
} LpSlaStages;

static LpSlaStages sla_stages;
static MemoryContext sla_context = NULL;
static bool sla_callback_registered = false;

static SPIPlanPtr close_plan = NULL;
static SPIPlanPtr open_plan = NULL;

/*
 * sla_relcache_callback
 *		Forget the cached stages when sla_policy changes, or when every
 *		relation is invalidated (then the OID too: a recreated extension
 *		has new ones).
 */
static void
sla_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == sla_stages.policy_relid)
	{
		sla_stages.valid = false;
		if (relid == InvalidOid)
			sla_stages.policy_relid = InvalidOid;
	}
}

/*
 * sla_stages_get
 *		The stages named by SLA policies, loaded on first use and after an
 *		invalidation.  The load runs inside the caller's SPI connection.
 *		An invalidation arriving during the load leaves the cache invalid,
 *		so the next call loads again.
 */
static LpSlaStages *
sla_stages_get(void)
{
	Oid			nsp;
	uint64		i;

	if (!sla_callback_registered)
	{
		CacheRegisterRelcacheCallback(sla_relcache_callback, (Datum) 0);
		sla_callback_registered = true;
	}
	if (sla_stages.valid)
		return &sla_stages;

	if (sla_context == NULL)
		sla_context = AllocSetContextCreate(CacheMemoryContext,
											"lead_process SLA stages",
											ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(sla_context);
	sla_stages.n = 0;
	sla_stages.names = NULL;
	sla_stages.active = NULL;

	nsp = get_namespace_oid("lead_process", false);
	sla_stages.policy_relid = get_relname_relid("sla_policy", nsp);
	/* valid from here on, unless the query below sees an invalidation */
	sla_stages.valid = true;
	if (SPI_execute("SELECT stage, pg_catalog.bool_or(active) "
					"FROM lead_process.sla_policy GROUP BY stage",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read lead_process.sla_policy");
	sla_stages.names = MemoryContextAlloc(sla_context,
										  sizeof(char *) * (SPI_processed + 1));
	sla_stages.active = MemoryContextAlloc(sla_context,
										   sizeof(bool) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		active = SPI_getbinval(tup, desc, 2, &isnull);

		sla_stages.names[i] = MemoryContextStrdup(sla_context,
												  SPI_getvalue(tup, desc, 1));
		sla_stages.active[i] = !isnull && DatumGetBool(active);
	}
	sla_stages.n = (int) SPI_processed;
	return &sla_stages;
}

/*
 * stage_policies
 *		Whether a policy names the stage: 0 none, 1 only inactive ones,
 *		2 an active one.
 */
static int
stage_policies(const LpSlaStages *s, const char *stage)
{
	if (stage == NULL)
		return 0;
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], stage) == 0)
			return s->active[i] ? 2 : 1;
	return 0;
}

/* The text of column "name" of a tuple, or NULL */
static char *
column_text(HeapTuple tuple, TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" of stage_history is missing", name);
	return SPI_getvalue(tuple, desc, attnum);
}

/* The binary value of column "name" of a tuple */
static Datum
column_value(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" of stage_history is missing", name);
	return SPI_getbinval(tuple, desc, attnum, isnull);
}

/*
 * lp_sla_history_trigger
 *		AFTER INSERT FOR EACH ROW on stage_history.  A row that leaves a
 *		stage meets the lead's running leave-stage clocks and cancels its
 *		other running clocks, at changed_at; a row that enters a stage
 *		starts, per policy kind, the clock of the first active policy of
 *		the stage (by priority, id) whose condition the lead matches, with
 *		due_at = business_time_add(calendar, changed_at, target) and the
 *		row's owner (the owner after a handoff).  Status changes inside a
 *		stage leave clocks alone.
 */
PG_FUNCTION_INFO_V1(lp_sla_history_trigger);
Datum
lp_sla_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	TupleDesc	desc;
	char	   *from_stage;
	char	   *to_stage;
	LpSlaStages *stages;
	bool		close;
	bool		open;

	lp_check_trigger(fcinfo, "sla_history_trigger", false, true, LP_TRIG_INSERT);
	row = trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	from_stage = column_text(row, desc, "from_stage");
	to_stage = column_text(row, desc, "to_stage");
	if (from_stage != NULL && to_stage != NULL && strcmp(from_stage, to_stage) == 0)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stages = sla_stages_get();
	close = stage_policies(stages, from_stage) > 0;
	open = stage_policies(stages, to_stage) == 2;

	if (close || open)
	{
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};
		bool		isnull;
		char	   *owner = column_text(row, desc, "owner");

		values[0] = column_value(row, desc, "lead_id", &isnull);
		values[1] = column_value(row, desc, "changed_at", &isnull);
		if (close)
		{
			Oid			types[2] = {INT8OID, TIMESTAMPTZOID};

			lp_prepare_kept(&close_plan,
							"UPDATE lead_process.sla_clock c "
							"SET state = CASE WHEN c.kind OPERATOR(pg_catalog.=) 'leave-stage' "
							"THEN 'met' ELSE 'cancelled' END, "
							"met_at = CASE WHEN c.kind OPERATOR(pg_catalog.=) 'leave-stage' THEN $2 END, "
							"cancelled_at = CASE WHEN c.kind OPERATOR(pg_catalog.<>) 'leave-stage' THEN $2 END "
							"WHERE c.lead_id OPERATOR(pg_catalog.=) $1 "
							"AND c.state OPERATOR(pg_catalog.=) 'running'",
							2, types);
			if (SPI_execute_plan(close_plan, values, nulls, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not close the SLA clocks");
		}
		if (open)
		{
			Oid			types[4] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID};

			values[2] = CStringGetTextDatum(to_stage);
			values[3] = owner ? CStringGetTextDatum(owner) : (Datum) 0;
			nulls[3] = owner ? ' ' : 'n';
			lp_prepare_kept(&open_plan,
							"INSERT INTO lead_process.sla_clock (lead_id, policy_id, kind, stage, "
							"calendar, target, attempts_needed, owner, started_at, anchor_at, due_at) "
							"SELECT $1, p.id, p.kind, p.stage, p.calendar, p.target, p.attempts, $4, $2, $2, "
							"lead_process.business_time_add(p.calendar, $2, p.target) "
							"FROM (SELECT DISTINCT ON (p.kind) p.id "
							"FROM lead_process.sla_policy p, lead_process.lead l "
							"WHERE l.id OPERATOR(pg_catalog.=) $1 "
							"AND p.stage OPERATOR(pg_catalog.=) $3 AND p.active "
							"AND (p.condition IS NULL OR lead_process.condition_matches(p.condition, l)) "
							"ORDER BY p.kind, p.priority, p.id) s "
							"JOIN lead_process.sla_policy p ON p.id OPERATOR(pg_catalog.=) s.id "
							"ORDER BY p.kind",
							4, types);
			if (SPI_execute_plan(open_plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not start the SLA clocks");
		}
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * lp_sla_attempt_trigger
 *		AFTER INSERT FOR EACH STATEMENT on contact_attempt, with the new rows
 *		as transition table new_attempt.  Every attempt on the lead at or
 *		after a clock's start counts, whoever made it and whatever its
 *		outcome.  The first one meets a first-contact clock and sets the
 *		follow-up time (wall clock and business time) of the lead's running
 *		clocks, and of a breached clock of the lead's current stage that had
 *		none (late follow-ups count in the metrics); the attempts-th one
 *		meets an attempts clock.  Without any policy there is nothing to do.
 */
PG_FUNCTION_INFO_V1(lp_sla_attempt_trigger);
Datum
lp_sla_attempt_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	lp_check_trigger(fcinfo, "sla_attempt_trigger", false, false, LP_TRIG_INSERT);
	if (trigdata->tg_newtable == NULL)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" needs the transition table new_attempt",
					   "sla_attempt_trigger"));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (sla_stages_get()->n > 0)
	{
		if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
			elog(ERROR, "SPI_register_trigger_data failed");
		/* a kept plan cannot name a transition table: planned per statement */
		/* = ANY (ARRAY(...)): probe lead_pkey, never scan every lead */
		if (SPI_execute("SELECT FROM lead_process.lead l "
						"WHERE l.id OPERATOR(pg_catalog.=) ANY (ARRAY("
						"SELECT DISTINCT a.lead_id FROM new_attempt a)) "
						"AND EXISTS (SELECT FROM lead_process.sla_clock c "
						"WHERE c.lead_id OPERATOR(pg_catalog.=) l.id "
						"AND (c.state OPERATOR(pg_catalog.=) 'running' "
						"OR (c.state OPERATOR(pg_catalog.=) 'breached' "
						"AND c.first_attempt_at IS NULL "
						"AND c.stage OPERATOR(pg_catalog.=) l.stage))) "
						"ORDER BY l.id FOR NO KEY UPDATE OF l",
						false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock the leads of the contact attempts");
		if (SPI_processed > 0 &&
			SPI_execute("WITH a AS ("
						"SELECT c.lead_id, c.id, a.occurred_at, c.kind, c.attempts_needed, "
						"c.attempts OPERATOR(pg_catalog.+) pg_catalog.row_number() "
						"OVER (PARTITION BY c.lead_id, c.id ORDER BY a.occurred_at, a.id) AS n "
						"FROM lead_process.sla_clock c "
						"JOIN new_attempt a ON a.lead_id OPERATOR(pg_catalog.=) c.lead_id "
						"AND a.occurred_at OPERATOR(pg_catalog.>=) c.started_at "
						"JOIN lead_process.lead l ON l.id OPERATOR(pg_catalog.=) c.lead_id "
						"WHERE c.state OPERATOR(pg_catalog.=) 'running' "
						"OR (c.state OPERATOR(pg_catalog.=) 'breached' "
						"AND c.first_attempt_at IS NULL "
						"AND c.stage OPERATOR(pg_catalog.=) l.stage)"
						"), g AS ("
						"SELECT a.lead_id, a.id, pg_catalog.max(a.n) AS attempts, "
						"pg_catalog.min(a.occurred_at) AS first_at, "
						"pg_catalog.min(a.occurred_at) FILTER ("
						"WHERE a.kind OPERATOR(pg_catalog.=) 'first-contact' "
						"OR (a.kind OPERATOR(pg_catalog.=) 'attempts' "
						"AND a.n OPERATOR(pg_catalog.>=) a.attempts_needed)) AS goal_at "
						"FROM a GROUP BY a.lead_id, a.id) "
						"UPDATE lead_process.sla_clock c "
						"SET attempts = g.attempts::integer, "
						"first_attempt_at = COALESCE(c.first_attempt_at, g.first_at), "
						"follow_up = COALESCE(c.follow_up, g.first_at OPERATOR(pg_catalog.-) c.started_at), "
						"follow_up_business = COALESCE(c.follow_up_business, "
						"lead_process.business_time_between(c.calendar, c.started_at, g.first_at)), "
						"state = CASE WHEN g.goal_at IS NOT NULL "
						"AND c.state OPERATOR(pg_catalog.=) 'running' THEN 'met' ELSE c.state END, "
						"met_at = CASE WHEN c.state OPERATOR(pg_catalog.=) 'running' THEN g.goal_at END "
						"FROM g WHERE c.lead_id OPERATOR(pg_catalog.=) g.lead_id "
						"AND c.id OPERATOR(pg_catalog.=) g.id",
						false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not advance the SLA clocks");
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
