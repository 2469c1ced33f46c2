/*-------------------------------------------------------------------------
 *
 * lp_score.h
 *	  Lead scoring (version 1.1): fit scoring kept by the lead trigger,
 *	  behaviour scoring kept by the statement trigger on activity, and the
 *	  flag that lets lead_process write the maintained score columns.
 *
 * IDENTIFICATION
 *	  src/lp_score.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_SCORE_H
#define LP_SCORE_H

#include "executor/spi.h"
#include "lp_cache.h"

extern bool lp_scoring_update;

extern int32 lp_fit_score(LpProcess *proc, HeapTuple tuple, TupleDesc tupdesc);
struct LpCondition;
extern void lp_fit_condition_check(const struct LpCondition *cond);
extern uint64 lp_run_scoring_update(SPIPlanPtr plan, Datum *values,
									 const char *nulls);

extern Jsonb *lp_tally_scale(Jsonb *tally, double factor, int32 *total);

extern double lp_decayed_total(LpProcess *proc, Jsonb *tally, TimestampTz as_of);

#endif							/* LP_SCORE_H */
