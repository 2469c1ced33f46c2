/*-------------------------------------------------------------------------
 *
 * lp_score.c
 *	  Fit scoring: the sum of the points of the active fit rules whose
 *	  condition the lead's profile matches.
 *
 * The rules are compiled once per backend into the process cache (lp_cache.c)
 * and evaluated in C on the row being written, inside the lead's BEFORE ROW
 * trigger (lp_stage.c): a fit score never needs a query or a second write of
 * the lead.  After rules change, rescore_fit() brings existing leads up to
 * date in one set-based UPDATE that writes only the leads whose score
 * changes.
 *
 * Fit rules may use profile attributes only: a rule on the stage, status,
 * owner or score would change the fit score as a side effect of process
 * steps, and a rule on score would feed on itself.
 *
 * IDENTIFICATION
 *	  src/lp_score.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "lead_process.h"
#include "lp_cache.h"
#include "lp_condition.h"
#include "lp_score.h"

/* Attributes a fit rule may not use */
static const char *const non_profile_attributes[] = {
	"stage", "status", "owner", "score", "recycle_count"
};

/*
 * lp_fit_score
 *		Fit score of a lead row: every matching active rule counts.  The sum
 *		is clamped to the int4 range (a thousand rules of 1000 points stay far
 *		inside it, so this only guards against absurd configurations).
 */
int32
lp_fit_score(LpProcess *proc, HeapTuple tuple, TupleDesc tupdesc)
{
	int64		sum = 0;

	for (int i = 0; i < proc->nfitrules; i++)
	{
		if (lp_condition_eval(proc->fitrules[i].condition, tuple, tupdesc))
			sum += proc->fitrules[i].points;
	}
	return (int32) Max(Min(sum, PG_INT32_MAX), PG_INT32_MIN);
}

/*
 * lp_fit_score_of
 *		fit_score_of(lead lead_process.lead) returns integer
 */
PG_FUNCTION_INFO_V1(lp_fit_score_of);
Datum
lp_fit_score_of(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	LpProcess  *proc = lp_process_get();
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	int32		score;

	tupdesc = lp_row_tuple(row, &tuple);
	score = lp_fit_score(proc, &tuple, tupdesc);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_INT32(score);
}

/*
 * lp_fit_rule_validate_trigger
 *		BEFORE INSERT OR UPDATE OF condition FOR EACH ROW on fit_rule: the
 *		condition must compile and use profile attributes only.
 */
PG_FUNCTION_INFO_V1(lp_fit_rule_validate_trigger);
Datum
lp_fit_rule_validate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	AttrNumber	attnum;
	bool		isnull;
	Datum		d;
	LpCondition *cond;
	const LpCondition *bad;

	lp_check_trigger(fcinfo, "fit_rule_validate_trigger", true, true,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "condition");
	if (attnum <= 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired for table \"lead_process.fit_rule\"",
					   "fit_rule_validate_trigger"));
	d = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);	/* NOT NULL will complain */

	cond = lp_condition_compile(DatumGetJsonbP(d));
	bad = lp_condition_find_attribute(cond, non_profile_attributes,
									  lengthof(non_profile_attributes));
	if (bad != NULL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("attribute \"%s\" cannot be used in a fit rule", bad->attribute),
				errdetail("Fit rules score the lead's profile; stage, status, owner, score and recycle_count are not profile attributes."),
				errhint("Use the profile columns of lead_process.lead or properties.<key>."));
	return PointerGetDatum(tuple);
}
