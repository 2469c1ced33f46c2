/*-------------------------------------------------------------------------
 *
 * lp_route.h
 *	  Routing of leads to an owner: rules in priority order, teams with
 *	  round-robin, least-loaded and weighted methods, availability and
 *	  capacity of reps, queues; and the record of every assignment.
 *
 * IDENTIFICATION
 *	  src/lp_route.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_ROUTE_H
#define LP_ROUTE_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "lp_cache.h"

/* The outcome of routing one lead */
typedef struct LpRouteDecision
{
	char	   *owner;			/* NULL: nothing could take the lead */
	int64		rule_id;		/* 0: no rule (default queue) */
	const char *method;			/* round-robin, least-loaded, weighted, rep,
								 * queue, default-queue */
} LpRouteDecision;

extern bool lp_route_needs_owner(LpProcess *proc, const char *owner);
extern void lp_route_decide(LpProcess *proc, HeapTuple lead, TupleDesc tupdesc,
							int stage, int64 lead_id, TimestampTz at,
							const char *exclude, bool apply,
							LpRouteDecision *decision, StringInfo explain);

/* What caused an owner change, for the AFTER trigger that records it */
extern void lp_route_note(int64 lead_id, const char *cause,
						  const LpRouteDecision *decision, bool has_at,
						  TimestampTz at);
extern void lp_record_assignment(LpProcess *proc, int64 lead_id,
								 const char *previous_owner, const char *owner,
								 const char *stage, TimestampTz at,
								 const char *actor, bool created);

/* Write the assignments a statement on lead collected, at once */
extern void lp_route_buffer_flush(LpProcess *proc);

#endif							/* LP_ROUTE_H */
