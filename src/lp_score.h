/*-------------------------------------------------------------------------
 *
 * lp_score.h
 *	  Lead scoring.  Version 1.1 has fit scoring: rules on the lead's
 *	  profile attributes, kept in lead.fit_score by the lead trigger.
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
extern void lp_run_scoring_update(SPIPlanPtr plan, Datum *values);

#endif							/* LP_SCORE_H */
