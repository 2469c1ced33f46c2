/*-------------------------------------------------------------------------
 *
 * lp_route.c
 *	  Routing: which owner a lead gets when it is handed off (it enters a
 *	  stage marked handoff) or when route() is called.
 *
 * The active routing rules are tried in (priority, id) order.  A rule whose
 * condition the lead matches names a queue (done), a rep or a team.  A rep
 * can take the lead when it is active, not away at the routing time and
 * below its capacity for the lead's stage; a team offers its reps whose
 * territory the lead matches, and its method picks one:
 *	- round-robin: the rep assigned least recently (never assigned first,
 *	  then by name);
 *	- least-loaded: the rep owning fewest leads in the stage (ties as for
 *	  round-robin);
 *	- weighted: the rep with the lowest (assigned + 1) / weight, so that
 *	  assignments follow the weights (ties as for round-robin).
 * A rule whose target cannot take the lead passes it to the next rule; when
 * no rule places it, the default queue takes it.
 *
 * Concurrency: an assignment takes an EXCLUSIVE lock on rep_state (readers
 * are not blocked) and holds it until the transaction ends, then reads the
 * reps' state and loads with a new snapshot, so concurrent handoffs see each
 * other's assignments: capacity is never exceeded and round-robin stays
 * fair.  It is one lock, always taken after the lead's row lock, so routing
 * adds no lock-order cycle.  Under REPEATABLE READ or SERIALIZABLE two
 * overlapping assignments to one rep fail with a serialization error when
 * the second updates the rep's state (retry the transaction).
 *
 * Every change of lead.owner (by routing or by a client) is appended to
 * lead_process.assignment and announced as an event (lead_assigned).
 *
 * IDENTIFICATION
 *	  src/lp_route.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "lead_process.h"
#include "lp_cache.h"
#include "lp_condition.h"
#include "lp_route.h"
#include "lp_rowbuf.h"

static SPIPlanPtr state_plan = NULL;
static SPIPlanPtr bump_plan = NULL;
static SPIPlanPtr lead_plan = NULL;
static SPIPlanPtr lead_lock_plan = NULL;
static SPIPlanPtr set_owner_plan = NULL;

/* The outbox row of each assignment row "a" of a statement */
#define ASSIGNMENT_EVENT_SELECT \
	"INSERT INTO lead_process.event (lead_id, type, occurred_at, payload) " \
	"SELECT a.lead_id, 'lead_assigned', a.assigned_at, pg_catalog.jsonb_build_object(" \
	"'assignment_id', a.id, 'lead_id', a.lead_id, 'owner', a.owner, " \
	"'previous_owner', a.previous_owner, 'stage', a.stage, 'cause', a.cause, " \
	"'rule_id', a.rule_id, 'method', a.method, 'assigned_at', a.assigned_at, " \
	"'changed_by', a.changed_by, 'actor', a.actor) FROM a"

static const char *const method_names[] = {
	"round-robin", "least-loaded", "weighted"
};

/* A rep offered by a rule, with its state */
typedef struct Candidate
{
	int			rep;			/* index into proc->reps */
	int64		assigned;
	bool		has_turn;
	int64		last_turn;
	int64		load;			/* leads it owns in the stage */
} Candidate;

/*
 * lp_route_needs_owner
 *		A lead needs routing when nobody owns it or a queue holds it; a lead
 *		a rep (or anybody the CRM names) owns keeps its owner.
 */
bool
lp_route_needs_owner(LpProcess *proc, const char *owner)
{
	return owner == NULL || lp_queue_exists(proc, owner);
}

static void
explain_string(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/*
 * rep_unavailable
 *		Why a rep cannot take leads at time at, or NULL.
 */
static const char *
rep_unavailable(const LpRep *r, TimestampTz at)
{
	if (!r->active)
		return "inactive";
	if (r->has_away && at < r->away_until)
		return "away";
	return NULL;
}

/*
 * load_state
 *		Read the assignment state and the load in the stage of the
 *		candidates, with a new snapshot.
 */
static void
load_state(LpProcess *proc, Candidate *cands, int n, const char *stage,
		   int64 lead_id)
{
	Datum	   *names = palloc(sizeof(Datum) * n);
	Datum		values[3];
	Oid			argtypes[3] = {TEXTARRAYOID, TEXTOID, INT8OID};

	for (int i = 0; i < n; i++)
		names[i] = CStringGetTextDatum(proc->reps[cands[i].rep].name);
	values[0] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = CStringGetTextDatum(stage);
	values[2] = Int64GetDatum(lead_id);
	lp_prepare_kept(&state_plan,
					"SELECT coalesce(s.assigned, 0), s.last_turn, "
					"(SELECT pg_catalog.count(*) FROM lead_process.lead l "
					"  WHERE l.owner OPERATOR(pg_catalog.=) r.name "
					"    AND l.stage OPERATOR(pg_catalog.=) $2 "
					"    AND l.id OPERATOR(pg_catalog.<>) $3) "
					"FROM pg_catalog.unnest($1) WITH ORDINALITY AS r(name, i) "
					"LEFT JOIN lead_process.rep_state s ON s.rep OPERATOR(pg_catalog.=) r.name "
					"ORDER BY r.i",
					3, argtypes);
	if (SPI_execute_plan(state_plan, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "reading the routing state failed");
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		cands[i].assigned = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		cands[i].has_turn = !isnull;
		cands[i].last_turn = isnull ? 0 : DatumGetInt64(d);
		cands[i].load = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	}
}

/*
 * before_in_turn
 *		Round-robin order: never assigned first, then least recently, then
 *		by name (reps are sorted by name, so by index).
 */
static bool
before_in_turn(const Candidate *a, const Candidate *b)
{
	if (a->has_turn != b->has_turn)
		return !a->has_turn;
	if (a->has_turn && a->last_turn != b->last_turn)
		return a->last_turn < b->last_turn;
	return a->rep < b->rep;
}

static bool
better(LpProcess *proc, int method, const Candidate *a, const Candidate *b)
{
	if (method == LP_ROUTE_LEAST_LOADED && a->load != b->load)
		return a->load < b->load;
	if (method == LP_ROUTE_WEIGHTED)
	{
		/* (a.assigned + 1) / a.weight < (b.assigned + 1) / b.weight */
		int64		lhs = (a->assigned + 1) * (int64) proc->reps[b->rep].weight;
		int64		rhs = (b->assigned + 1) * (int64) proc->reps[a->rep].weight;

		if (lhs != rhs)
			return lhs < rhs;
	}
	return before_in_turn(a, b);
}

/*
 * lp_route_decide
 *		Pick the owner for a lead (its current row, with the stage it is
 *		entering).  With apply, take the routing lock and count the
 *		assignment in rep_state; without, change nothing (route_preview).
 *		explain, when given, receives a JSON array of the steps taken.
 *		exclude names a rep not to pick (reassignment).
 *
 * Runs its queries as the owner of the extension's tables, so writers need
 * no privilege on rep_state.
 */
void
lp_route_decide(LpProcess *proc, HeapTuple lead, TupleDesc tupdesc, int stage,
				int64 lead_id, TimestampTz at, const char *exclude, bool apply,
				LpRouteDecision *decision, StringInfo explain)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			save_userid = InvalidOid;
	int			save_sec = 0;
	const char *stage_name = proc->stages[stage].name;
	bool		first_step = true;
	Candidate  *cands = palloc(sizeof(Candidate) * Max(proc->nreps, 1));
	bool		connected = false;

	memset(decision, 0, sizeof(*decision));
	if (explain)
		appendStringInfoChar(explain, '[');

	for (int ri = 0; ri < proc->nroutingrules && decision->owner == NULL; ri++)
	{
		const LpRoutingRule *rule = &proc->routingrules[ri];
		bool		matched = rule->condition == NULL ||
			lp_condition_eval(rule->condition, lead, tupdesc);
		int			method = -1;
		int			n = 0;
		int			best = -1;

		if (explain)
		{
			appendStringInfo(explain, "%s{\"rule_id\": " INT64_FORMAT,
							 first_step ? "" : ", ", rule->id);
			explain_string(explain, "rule", rule->name);
			appendStringInfo(explain, ", \"matched\": %s", matched ? "true" : "false");
			first_step = false;
		}
		if (!matched)
		{
			if (explain)
				appendStringInfoChar(explain, '}');
			continue;
		}

		if (rule->queue != NULL)
		{
			if (explain)
			{
				explain_string(explain, "queue", rule->queue);
				appendStringInfoChar(explain, '}');
			}
			decision->owner = MemoryContextStrdup(caller, rule->queue);
			decision->rule_id = rule->id;
			decision->method = "queue";
			break;
		}

		/* The reps the rule offers, and why others are left out */
		if (explain)
		{
			if (rule->team >= 0)
			{
				explain_string(explain, "team", proc->teams[rule->team].name);
				explain_string(explain, "method",
							   method_names[proc->teams[rule->team].method]);
			}
			else
				explain_string(explain, "rep", proc->reps[rule->rep].name);
			appendStringInfoString(explain, ", \"candidates\": [");
		}
		for (int k = 0; k < proc->nreps; k++)
		{
			const LpRep *r = &proc->reps[k];
			const char *why;

			if (rule->team >= 0 ? r->team != rule->team : k != rule->rep)
				continue;
			why = rep_unavailable(r, at);
			if (why == NULL && exclude != NULL && strcmp(r->name, exclude) == 0)
				why = "current owner";
			if (why == NULL && rule->team >= 0 && r->territory != NULL &&
				!lp_condition_eval(r->territory, lead, tupdesc))
				why = "outside territory";
			if (why != NULL)
			{
				if (explain)
				{
					appendStringInfoString(explain, "{\"rep\": ");
					escape_json(explain, r->name);
					explain_string(explain, "skipped", why);
					appendStringInfoString(explain, "}, ");
				}
				continue;
			}
			cands[n].rep = k;
			n++;
		}
		if (n > 0)
		{
			/* reps to weigh: take the routing lock, then read their state */
			if (!connected)
			{
				GetUserIdAndSecContext(&save_userid, &save_sec);
				SetUserIdAndSecContext(proc->history_owner,
									   save_sec | SECURITY_LOCAL_USERID_CHANGE);
				if (SPI_connect() != SPI_OK_CONNECT)
					elog(ERROR, "SPI_connect failed");
				if (apply)
					LockRelationOid(proc->rep_state_relid, ExclusiveLock);
				connected = true;
			}
			load_state(proc, cands, n, stage_name, lead_id);
		}

		method = rule->team >= 0 ? (int) proc->teams[rule->team].method : -1;
		for (int i = 0; i < n; i++)
		{
			const LpRep *r = &proc->reps[cands[i].rep];
			int32		cap = r->capacity[stage];
			bool		full = cap >= 0 && cands[i].load >= cap;

			if (explain)
			{
				appendStringInfoString(explain, "{\"rep\": ");
				escape_json(explain, r->name);
				appendStringInfo(explain, ", \"load\": " INT64_FORMAT
								 ", \"assigned\": " INT64_FORMAT,
								 cands[i].load, cands[i].assigned);
				if (cands[i].has_turn)
					appendStringInfo(explain, ", \"last_turn\": " INT64_FORMAT,
									 cands[i].last_turn);
				if (cap >= 0)
					appendStringInfo(explain, ", \"capacity\": %d", cap);
				if (full)
					explain_string(explain, "skipped", "at capacity");
				appendStringInfoString(explain, "}, ");
			}
			if (full)
				continue;
			if (best < 0 || better(proc, method, &cands[i], &cands[best]))
				best = i;
		}
		if (explain)
		{
			/* drop the trailing ", " of the candidate list */
			if (explain->len >= 2 && explain->data[explain->len - 2] == ',')
			{
				explain->len -= 2;
				explain->data[explain->len] = '\0';
			}
			appendStringInfoChar(explain, ']');
		}
		if (best < 0)
		{
			if (explain)
				appendStringInfoString(explain, ", \"outcome\": \"no rep can take the lead\"}");
			continue;
		}

		decision->owner = MemoryContextStrdup(caller, proc->reps[cands[best].rep].name);
		decision->rule_id = rule->id;
		decision->method = method >= 0 ? method_names[method] : "rep";
		if (explain)
		{
			explain_string(explain, "chosen", decision->owner);
			appendStringInfoChar(explain, '}');
		}
		if (apply)
		{
			Datum		values[2];
			Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};

			values[0] = CStringGetTextDatum(decision->owner);
			values[1] = TimestampTzGetDatum(at);
			lp_prepare_kept(&bump_plan,
							"INSERT INTO lead_process.rep_state AS s "
							"(rep, assigned, last_assigned_at, last_turn) "
							"VALUES ($1, 1, $2, pg_catalog.nextval('lead_process.routing_turn_seq')) "
							"ON CONFLICT (rep) DO UPDATE SET "
							"assigned = s.assigned OPERATOR(pg_catalog.+) 1, "
							"last_assigned_at = $2, last_turn = excluded.last_turn",
							2, argtypes);
			if (SPI_execute_plan(bump_plan, values, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "updating the routing state failed");
		}
	}

	if (decision->owner == NULL && proc->default_queue != NULL)
	{
		decision->owner = MemoryContextStrdup(caller, proc->default_queue);
		decision->method = "default-queue";
	}
	if (connected)
	{
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	if (explain)
		appendStringInfoChar(explain, ']');
}

/*
 * Why the owner of a lead changes, noted by whoever changes it for the AFTER
 * trigger of the same row (same transaction and statement, as for the
 * automatic promotions of lp_stage.c).
 */
typedef struct LpRouteNote
{
	int64		lead_id;		/* hash key */
	LocalTransactionId lxid;
	TimestampTz statement;
	const char *cause;
	int64		rule_id;
	char		method[16];
	bool		has_at;			/* when the assignment takes effect */
	TimestampTz at;
} LpRouteNote;

static HTAB *route_notes = NULL;

void
lp_route_note(int64 lead_id, const char *cause, const LpRouteDecision *decision,
			  bool has_at, TimestampTz at)
{
	LpRouteNote *n;

	if (route_notes == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(LpRouteNote);
		route_notes = hash_create("lead_process routing notes", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS);
	}
	n = hash_search(route_notes, &lead_id, HASH_ENTER, NULL);
	n->lxid = LP_MY_LXID;
	n->statement = GetCurrentStatementStartTimestamp();
	n->cause = cause;			/* a string constant */
	n->rule_id = decision->rule_id;
	strlcpy(n->method, decision->method ? decision->method : "", sizeof(n->method));
	n->has_at = has_at;
	n->at = at;
}

static LpRouteNote *
find_note(int64 lead_id)
{
	LpRouteNote *n;

	if (route_notes == NULL)
		return NULL;
	n = hash_search(route_notes, &lead_id, HASH_FIND, NULL);
	if (n == NULL || n->lxid != LP_MY_LXID ||
		n->statement != GetCurrentStatementStartTimestamp())
		return NULL;
	return n;
}

/*
 * Assignments of a batch of stage changes (lp_move_leads), collected and
 * written by one statement after the batch, like its history rows.
 */
#define ASSIGN_COLS 10
static const Oid assign_types[ASSIGN_COLS] = {
	INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
	TIMESTAMPTZOID, TEXTOID, TEXTOID
};

static LpXactRowBuffer assignment_rows = {"assignment", ASSIGN_COLS, assign_types, NULL, false};

/*
 * lp_route_buffer_flush
 *		Write the collected assignments and their events with one statement.
 */
void
lp_route_buffer_flush(LpProcess *proc)
{
	static SPIPlanPtr flush_plan = NULL;
	LpRowBuffer *b = lp_rowbuf_take(&assignment_rows);
	Oid			argtypes[ASSIGN_COLS];
	Datum		args[ASSIGN_COLS];
	Oid			save_userid;
	int			save_sec;

	/* detached first: what the flush itself may cause collects anew */
	if (b == NULL || b->n == 0)
		return;
	lp_rowbuf_arrays(b, args, argtypes);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&flush_plan,
					"WITH a AS (INSERT INTO lead_process.assignment "
					"(lead_id, owner, previous_owner, stage, cause, rule_id, method, "
					" assigned_at, changed_by, actor) "
					"SELECT u.lead_id, u.owner, u.previous_owner, u.stage, u.cause, u.rule_id, "
					"u.method, u.assigned_at, u.changed_by, u.actor "
					"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
					"pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
					"pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					"pg_catalog.unnest($9), pg_catalog.unnest($10)) WITH ORDINALITY AS "
					"u(lead_id, owner, previous_owner, stage, cause, rule_id, method, "
					"assigned_at, changed_by, actor, ord) "
					"ORDER BY u.ord RETURNING *) "
					ASSIGNMENT_EVENT_SELECT " ORDER BY a.id RETURNING id, lead_id",
					ASSIGN_COLS, argtypes);
	if (SPI_execute_plan(flush_plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "assignment and event insert failed");
	if (lp_notify)
	{
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	t = SPI_tuptable->vals[r];

			Async_Notify("lead_process",
						 psprintf("{\"id\": " INT64_FORMAT ", \"type\": \"lead_assigned\", \"lead_id\": " INT64_FORMAT "}",
								  DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull)),
								  DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull))));
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * lp_record_assignment
 *		Collect the owner change for lead_process.assignment and the outbox;
 *		the statement's flush trigger writes them (lp_route_buffer_flush()).
 */
void
lp_record_assignment(LpProcess *proc, int64 lead_id, const char *previous_owner,
					 const char *owner, const char *stage, TimestampTz at,
					 const char *actor, bool created)
{
	LpRouteNote *note = find_note(lead_id);
	Datum		values[ASSIGN_COLS];
	char		nulls[ASSIGN_COLS];
	char	   *changed_by = GetUserNameFromId(GetUserId(), false);

	if (!OidIsValid(proc->rep_state_relid))
		return;
	memset(nulls, ' ', sizeof(nulls));
#define TEXT_ARG(i, s) \
	do { \
		if ((s) != NULL) values[i] = CStringGetTextDatum(s); \
		else { values[i] = (Datum) 0; nulls[i] = 'n'; } \
	} while (0)
	values[0] = Int64GetDatum(lead_id);
	TEXT_ARG(1, owner);
	TEXT_ARG(2, previous_owner);
	TEXT_ARG(3, stage);
	TEXT_ARG(4, note ? note->cause : (created ? "insert" : "update"));
	values[5] = Int64GetDatum(note ? note->rule_id : 0);
	nulls[5] = (note && note->rule_id != 0) ? ' ' : 'n';
	TEXT_ARG(6, (note && note->method[0]) ? note->method : NULL);
	values[7] = TimestampTzGetDatum((note && note->has_at) ? note->at : at);
	TEXT_ARG(8, changed_by);
	TEXT_ARG(9, actor);
#undef TEXT_ARG
	if (note)
		hash_search(route_notes, &lead_id, HASH_REMOVE, NULL);
	lp_rowbuf_add(lp_rowbuf_get(&assignment_rows), values, nulls);
}

/*
 * fetch_lead
 *		The lead's row (locked for update when lock), as a tuple of the lead
 *		table's row type, copied into the caller's context.  Errors with
 *		P0002 when there is no such lead.
 */
static HeapTuple
fetch_lead(int64 lead_id, bool lock, TupleDesc *tupdesc)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[1];
	Oid			argtypes[1] = {INT8OID};
	bool		isnull;
	Datum		row;
	HeapTupleData tmp;
	HeapTuple	result;
	TupleDesc	desc;
	MemoryContext old;

	values[0] = Int64GetDatum(lead_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (lock)
		lp_prepare_kept(&lead_lock_plan,
						"SELECT l FROM lead_process.lead l "
						"WHERE l.id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
						1, argtypes);
	else
		lp_prepare_kept(&lead_plan,
						"SELECT l FROM lead_process.lead l "
						"WHERE l.id OPERATOR(pg_catalog.=) $1",
						1, argtypes);
	if (SPI_execute_plan(lock ? lead_lock_plan : lead_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading lead " INT64_FORMAT " failed", lead_id);
	if (SPI_processed == 0)
		lp_lead_not_found(lead_id);
	row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	desc = lp_row_tuple(DatumGetHeapTupleHeader(row), &tmp);
	old = MemoryContextSwitchTo(caller);
	result = heap_copytuple(&tmp);
	*tupdesc = CreateTupleDescCopy(desc);
	MemoryContextSwitchTo(old);
	ReleaseTupleDesc(desc);
	SPI_finish();
	return result;
}

static char *
tuple_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static int
lead_stage(LpProcess *proc, HeapTuple tuple, TupleDesc tupdesc)
{
	char	   *stage = tuple_text(tuple, tupdesc, proc->lead.stage);
	int			si = stage ? lp_stage_find(proc, stage) : -1;

	if (si < 0)
		elog(ERROR, "lead has an unknown stage \"%s\"", stage ? stage : "");
	return si;
}

static void
require_routing(LpProcess *proc)
{
	if (!OidIsValid(proc->rep_state_relid))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("routing needs lead_process 1.1"),
				errhint("Run ALTER EXTENSION lead_process UPDATE."));
}

/*
 * lead_id_arg
 *		The lead_id argument of route() and route_preview(), not null.
 */
static int64
lead_id_arg(FunctionCallInfo fcinfo, LpProcess *proc)
{
	require_routing(proc);
	return lp_lead_id_arg(fcinfo);
}

/*
 * lp_route
 *		route(lead_id, reassign, actor, at): give the lead the owner routing
 *		picks now and return it.
 */
PG_FUNCTION_INFO_V1(lp_route);
Datum
lp_route(PG_FUNCTION_ARGS)
{
	LpProcess  *proc = lp_process_get();
	int64		lead_id;
	bool		reassign = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	TimestampTz at = PG_ARGISNULL(3) ? GetCurrentTransactionStartTimestamp() :
		PG_GETARG_TIMESTAMPTZ(3);
	TupleDesc	tupdesc;
	HeapTuple	lead;
	char	   *owner;
	LpRouteDecision decision;
	const char *save_actor = lp_actor;

	lead_id = lead_id_arg(fcinfo, proc);

	lead = fetch_lead(lead_id, true, &tupdesc);
	owner = tuple_text(lead, tupdesc, proc->lead.owner);
	if (!reassign && !lp_route_needs_owner(proc, owner))
		PG_RETURN_TEXT_P(cstring_to_text(owner));

	lp_route_decide(proc, lead, tupdesc, lead_stage(proc, lead, tupdesc),
					lead_id, at, reassign ? owner : NULL, true, &decision, NULL);
	if (decision.owner == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("no owner for lead " INT64_FORMAT, lead_id),
				errdetail("No routing rule placed the lead and there is no default queue."),
				errhint("Mark a queue as default in lead_process.queue."));
	if (owner != NULL && strcmp(owner, decision.owner) == 0)
		PG_RETURN_TEXT_P(cstring_to_text(owner));

	lp_route_note(lead_id, "route", &decision, !PG_ARGISNULL(3), at);
	PG_TRY();
	{
		Datum		values[2];
		Oid			argtypes[2] = {INT8OID, TEXTOID};

		if (!PG_ARGISNULL(2))
			lp_actor = text_to_cstring(PG_GETARG_TEXT_PP(2));
		values[0] = Int64GetDatum(lead_id);
		values[1] = CStringGetTextDatum(decision.owner);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		lp_prepare_kept(&set_owner_plan,
						"UPDATE lead_process.lead SET owner = $2 "
						"WHERE id OPERATOR(pg_catalog.=) $1",
						2, argtypes);
		if (SPI_execute_plan(set_owner_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "updating the owner of lead " INT64_FORMAT " failed", lead_id);
		SPI_finish();
	}
	PG_FINALLY();
	{
		lp_actor = (char *) save_actor;
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(cstring_to_text(decision.owner));
}

/*
 * lp_route_preview
 *		route_preview(lead_id, at): the decision routing would take now and
 *		every step of it, as jsonb; changes nothing.
 */
PG_FUNCTION_INFO_V1(lp_route_preview);
Datum
lp_route_preview(PG_FUNCTION_ARGS)
{
	LpProcess  *proc = lp_process_get();
	int64		lead_id;
	TimestampTz at = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp() :
		PG_GETARG_TIMESTAMPTZ(1);
	TupleDesc	tupdesc;
	HeapTuple	lead;
	char	   *owner;
	int			stage;
	LpRouteDecision decision;
	StringInfoData steps;
	StringInfoData buf;

	lead_id = lead_id_arg(fcinfo, proc);
	lead = fetch_lead(lead_id, false, &tupdesc);
	owner = tuple_text(lead, tupdesc, proc->lead.owner);
	stage = lead_stage(proc, lead, tupdesc);

	initStringInfo(&steps);
	lp_route_decide(proc, lead, tupdesc, stage, lead_id, at, NULL, false,
					&decision, &steps);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lead_id\": " INT64_FORMAT, lead_id);
	explain_string(&buf, "stage", proc->stages[stage].name);
	explain_string(&buf, "current_owner", owner);
	appendStringInfo(&buf, ", \"keeps_owner\": %s",
					 lp_route_needs_owner(proc, owner) ? "false" : "true");
	explain_string(&buf, "owner", decision.owner);
	if (decision.rule_id != 0)
		appendStringInfo(&buf, ", \"rule_id\": " INT64_FORMAT, decision.rule_id);
	explain_string(&buf, "method", decision.method);
	appendStringInfo(&buf, ", \"steps\": %s}", steps.data);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * lp_condition_validate_trigger
 *		BEFORE INSERT OR UPDATE FOR EACH ROW: the condition in the column
 *		named by the trigger's argument must compile (any lead attribute).
 */
PG_FUNCTION_INFO_V1(lp_condition_validate_trigger);
Datum
lp_condition_validate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	int			attnum;
	bool		isnull;
	Datum		d;

	lp_check_trigger(fcinfo, "condition_validate_trigger", true, true,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE);
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	if (trigdata->tg_trigger->tgnargs != 1 ||
		(attnum = SPI_fnumber(tupdesc, trigdata->tg_trigger->tgargs[0])) <= 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be given the name of a jsonb column",
					   "condition_validate_trigger"));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	d = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (!isnull)
		(void) lp_condition_compile(DatumGetJsonbP(d));
	return PointerGetDatum(tuple);
}
