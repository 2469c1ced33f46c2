/*-------------------------------------------------------------------------
 *
 * lead_process.c
 *	  Module entry point: GUC definitions, cache callback registration and
 *	  the trigger protocol check shared by every trigger function.
 *
 * The library works without shared_preload_libraries: it is loaded on the
 * first call of one of its functions, and _PG_init only defines
 * backend-local state.  Preloaded, it also registers the sweep worker
 * (src/lp_worker.c).
 *
 * IDENTIFICATION
 *	  src/lead_process.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/guc.h"

#include "lead_process.h"
#include "lp_worker.h"

PG_MODULE_MAGIC;

/* GUC variables */
char	   *lp_actor = NULL;
int			lp_max_future_skew = 3600;
bool		lp_notify = true;
bool		lp_defer_scoring = false;

void		_PG_init(void);

/*
 * _PG_init
 *		Define the GUCs and register the configuration cache's invalidation
 *		callback.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("lead_process.actor",
							   "Application user recorded in stage_history.actor for changes made by this session.",
							   "Integrations set it (SET LOCAL lead_process.actor = 'jane@crm') so that the history names the person behind a database role; "
							   "an actor passed to move(), recycle() or disqualify() takes precedence.",
							   &lp_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("lead_process.max_future_skew",
							"How far in the future a stage change may be dated.",
							"A change dated later than the transaction time plus this much is refused as a clock error.",
							&lp_max_future_skew,
							3600,
							0,
							7 * 24 * 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("lead_process.defer_scoring",
							 "Queues new activities for lead_process.score_pending() instead of scoring them at once.",
							 "On, an INSERT or COPY of activities only checks that their leads exist (a KEY SHARE lock, as a foreign key takes: "
							 "writers for one lead do not wait for each other) and queues them; scores and promotions follow when "
							 "score_pending() or sweep() runs.",
							 &lp_defer_scoring,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("lead_process.notify",
							 "Announces each event with NOTIFY on channel lead_process.",
							 "The event is written to lead_process.event either way; turn this off for bulk loads whose events consumers read from the outbox.",
							 &lp_notify,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/* the sweep worker's GUCs, and the worker itself when preloaded */
	lp_worker_init();

	MarkGUCPrefixReserved("lead_process");

	lp_cache_init();
}

/*
 * lp_check_trigger
 *		Make sure a trigger function is called the way its CREATE TRIGGER in
 *		the install script declares it; anything else is a misuse by a user
 *		who attached our function to a trigger of their own.
 */
void
lp_check_trigger(FunctionCallInfo fcinfo, const char *funcname,
				 bool before, bool row, int events)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" was not called by trigger manager",
					   funcname));
	ev = trigdata->tg_event;
	if ((before && !TRIGGER_FIRED_BEFORE(ev)) ||
		(!before && !TRIGGER_FIRED_AFTER(ev)))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired %s", funcname,
					   before ? "BEFORE" : "AFTER"));
	if ((row && !TRIGGER_FIRED_FOR_ROW(ev)) ||
		(!row && !TRIGGER_FIRED_FOR_STATEMENT(ev)))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired for each %s", funcname,
					   row ? "row" : "statement"));
	if ((TRIGGER_FIRED_BY_INSERT(ev) && !(events & LP_TRIG_INSERT)) ||
		(TRIGGER_FIRED_BY_UPDATE(ev) && !(events & LP_TRIG_UPDATE)) ||
		(TRIGGER_FIRED_BY_DELETE(ev) && !(events & LP_TRIG_DELETE)) ||
		(TRIGGER_FIRED_BY_TRUNCATE(ev) && !(events & LP_TRIG_TRUNCATE)))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" cannot be fired for this event",
					   funcname));
}

/*
 * lp_prepare_kept
 *		Prepare a statement once per backend and keep it, with a generic
 *		plan.  The triggers run for every INSERT or UPDATE: parsing or
 *		planning their queries each time (a custom plan per array argument)
 *		would cost more than running them.  A kept plan survives DDL: the
 *		plan cache replans it from its text when a table it uses changes.
 */
SPIPlanPtr
lp_prepare_kept(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		*slot = plan;
	}
	return *slot;
}
