/*-------------------------------------------------------------------------
 *
 * lp_cache.h
 *	  The per-backend cache of the process configuration: stages, their
 *	  statuses, the allowed-transition graph and the reason catalog.
 *
 * IDENTIFICATION
 *	  src/lp_cache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_CACHE_H
#define LP_CACHE_H

#include "access/attnum.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* Edge kinds of lead_process.transition */
typedef enum LpKind
{
	LP_KIND_ADVANCE,
	LP_KIND_FAST_TRACK,
	LP_KIND_ACCEPT,
	LP_KIND_REJECT,
	LP_KIND_RECYCLE,
	LP_KIND_DISQUALIFY,
	LP_KIND_WIN,
	LP_KIND_REOPEN
} LpKind;

typedef struct LpStage
{
	char	   *name;
	int			position;
	bool		is_terminal;
	bool		is_won;
	char	   *default_status; /* NULL when the stage has no status yet */
	int			nstatuses;
	char	  **statuses;		/* in display order */
	/* Score promotion into this stage (version 1.1) */
	bool		has_threshold;
	int32		threshold;
	int			nrequired;
	AttrNumber *required;		/* lead columns that must be filled in */
	int64		requalify_after;	/* microseconds after a recycle; -1: none */
	/* Handoff and recycling (version 1.1) */
	bool		handoff;		/* entering it routes the lead */
	int32		max_recycles;	/* -1: no limit */
} LpStage;

typedef struct LpTransition
{
	int			from;			/* index into LpProcess.stages */
	int			to;
	LpKind		kind;
	char	   *to_status;		/* NULL: the target's default status */
} LpTransition;

typedef struct LpReason
{
	char	   *code;
	bool		disqualify;		/* kind disqualify, else recycle */
	char		score_action;	/* 'k'eep, 'r'eset or 's'cale (version 1.1) */
	double		score_factor;	/* for 's' */
} LpReason;

/* Routing (version 1.1) */
typedef enum LpRouteMethod
{
	LP_ROUTE_ROUND_ROBIN,
	LP_ROUTE_LEAST_LOADED,
	LP_ROUTE_WEIGHTED
} LpRouteMethod;

typedef struct LpTeam
{
	char	   *name;
	LpRouteMethod method;
} LpTeam;

typedef struct LpRep
{
	char	   *name;
	int			team;			/* index into LpProcess.teams, -1: none */
	bool		active;
	bool		has_away;
	TimestampTz away_until;
	int32		weight;
	struct LpCondition *territory;	/* NULL: any lead */
	int32	   *capacity;		/* per stage index, -1: no limit */
} LpRep;

typedef struct LpRoutingRule
{
	int64		id;
	char	   *name;
	struct LpCondition *condition;	/* NULL: every lead */
	int			team;			/* exactly one of team, rep, queue */
	int			rep;
	char	   *queue;
} LpRoutingRule;

/* An active fit rule, compiled and bound to the lead row type */
struct LpCondition;
typedef struct LpFitRule
{
	int64		id;
	int32		points;
	struct LpCondition *condition;
} LpFitRule;

/* An active behaviour rule (activity type, optional property pattern) */
typedef struct LpBehaviourRule
{
	int64		id;
	char	   *activity_type;
	char	   *property;		/* NULL: any activity of the type */
	text	   *pattern;		/* LIKE pattern on properties->>property */
	int32		points;
	int32		max_occurrences;	/* 0: no cap */
	int32		max_points;		/* 0: no cap */
	int			fast_track_to;	/* stage index, -1: none */
	int64		min_interval;	/* microseconds; 0: every occurrence counts */
	double		half_life;		/* microseconds; 0: no decay */
	char		key[24];		/* the rule id as text, the key in score_tally */
} LpBehaviourRule;

/* Column numbers of lead_process.lead used by the stage trigger */
typedef struct LpLeadColumns
{
	AttrNumber	id;
	AttrNumber	stage;
	AttrNumber	status;
	AttrNumber	stage_reason;
	AttrNumber	owner;
	AttrNumber	score;
	AttrNumber	stage_changed_at;
	AttrNumber	recycle_count;
	AttrNumber	last_recycled_at;
	AttrNumber	created_at;
	AttrNumber	fit_score;		/* InvalidAttrNumber before version 1.1 */
	AttrNumber	behaviour_score;	/* likewise */
	AttrNumber	score_tally;	/* likewise */
	int			nprofile;		/* profile attributes (fit rules may use) */
	AttrNumber	profile[16];
} LpLeadColumns;

typedef struct LpProcess
{
	int			nstages;
	LpStage    *stages;			/* sorted by position */
	int			ntransitions;
	LpTransition *transitions;	/* sorted by from, then target position */
	int			nreasons;
	LpReason   *reasons;		/* sorted by code */
	int			nfitrules;
	LpFitRule  *fitrules;		/* active rules, by id */
	int			nbehaviourrules;
	LpBehaviourRule *behaviourrules;	/* active rules, first match first */
	int			nteams;
	LpTeam	   *teams;
	int			nreps;
	LpRep	   *reps;			/* sorted by name */
	int			nroutingrules;
	LpRoutingRule *routingrules;	/* active rules, (priority, id) order */
	int			nqueues;
	char	  **queues;
	char	   *default_queue;	/* NULL: none */
	Oid			rep_state_relid;	/* InvalidOid before version 1.1 routing */
	Oid			lead_relid;
	Oid			history_relid;
	Oid			history_owner;	/* history rows are written as this role */
	Oid			event_relid;	/* the outbox; InvalidOid before version 1.1 */
	Oid			score_queue_relid;	/* deferred scoring's queue; InvalidOid before 1.1 */
	int			lead_direct;	/* 1: scoring may write lead rows directly,
								 * -1: through UPDATE, 0: not known yet */
	LpLeadColumns lead;
} LpProcess;

extern LpProcess *lp_process_get(void);
extern int	lp_stage_find(LpProcess *proc, const char *name);
extern const LpTransition *lp_transition_find(LpProcess *proc, int from, int to);
extern bool lp_stage_has_status(const LpStage *stage, const char *status);
extern const LpReason *lp_reason_find(LpProcess *proc, const char *code);
extern int	lp_rep_find(LpProcess *proc, const char *name);
extern bool lp_queue_exists(LpProcess *proc, const char *name);
extern const char *lp_kind_name(LpKind kind);
extern bool lp_kind_needs_reason(LpKind kind);
extern void lp_describe_targets(LpProcess *proc, int from, StringInfo buf);
extern void lp_describe_statuses(const LpStage *stage, StringInfo buf);
extern void lp_describe_reasons(LpProcess *proc, bool disqualify, StringInfo buf);

#endif							/* LP_CACHE_H */
