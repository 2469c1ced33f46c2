/*-------------------------------------------------------------------------
 *
 * lp_stage.c
 *	  The stage machine: validation and recording of every stage change of a
 *	  lead, whether it comes from move(), recycle(), disqualify() or a plain
 *	  UPDATE of lead.stage by any client.
 *
 * All paths meet in one BEFORE ROW trigger on lead_process.lead
 * (lp_lead_stage_trigger).  The functions only prepare a "pending change"
 * (reason, actor, effective time, cause) for one lead and run an UPDATE; the
 * trigger finds the pending change and treats it exactly like a client's
 * UPDATE otherwise.  So there is one rule book and one history writer.
 *
 * Invariants:
 *	- A change of lead.stage follows a row of lead_process.transition, or the
 *	  statement fails; reject, recycle and disqualify edges need a reason
 *	  code of the matching kind.
 *	- Every real change of stage or status writes exactly one stage_history
 *	  row, in the same transaction, before the new lead version is stored;
 *	  an INSERT writes the lead's initial row (kind "create").
 *	- lead.stage_changed_at, recycle_count and last_recycled_at are written
 *	  only here.
 *
 * Concurrency: a BEFORE ROW UPDATE trigger runs after the executor has
 * locked the row and, under READ COMMITTED, re-read its newest version, so
 * the OLD stage we validate against is the one our change replaces.  Two
 * sessions moving the same lead serialise on that row lock; the second one
 * validates against the first one's result, and a move to the stage the lead
 * already has is a no-op that writes no history.  History rows are inserted
 * as the owner of stage_history, so writers need no privilege on it and
 * cannot forge or rewrite it.
 *
 * IDENTIFICATION
 *	  src/lp_stage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "lead_process.h"
#include "lp_cache.h"
#include "lp_route.h"
#include "lp_rowbuf.h"
#include "lp_score.h"

/*
 * A change requested through move(), recycle() or disqualify(), waiting for
 * the trigger to pick it up.  Lives on the requesting function's stack; the
 * pointer is restored in PG_FINALLY, so nested requests stack correctly.
 */
typedef struct LpPending
{
	int64		lead_id;
	const char *reason;
	const char *actor;
	bool		has_at;
	TimestampTz at;
	const char *cause;
	Jsonb	   *details;		/* frozen into the history row, or NULL */
	bool		changed;		/* set by the trigger */
} LpPending;

static LpPending *lp_pending = NULL;

/* Changes requested for many leads at once (lp_move_leads), by lead id */
static HTAB *lp_pending_batch = NULL;

/*
 * find_pending
 *		The pending change for a lead, from a single request or a batch.
 */
static LpPending *find_auto_pending(int64 lead_id);

static LpPending *
find_pending(int64 lead_id)
{
	if (lp_pending != NULL && lp_pending->lead_id == lead_id)
		return lp_pending;
	if (lp_pending_batch != NULL)
		return hash_search(lp_pending_batch, &lead_id, HASH_FIND, NULL);
	return find_auto_pending(lead_id);
}

/*
 * Promotions the lead trigger made itself (a profile or fit change that
 * completed a score promotion), waiting for the AFTER trigger of the same
 * row.  Entries belong to one top-level statement of one transaction and
 * are ignored otherwise, so nothing stale survives an error.
 */
typedef struct LpAutoPending
{
	int64		lead_id;		/* hash key */
	LocalTransactionId lxid;
	TimestampTz statement;
	LpPending	pending;
} LpAutoPending;

static HTAB *lp_auto_pending = NULL;

static LpPending *
find_auto_pending(int64 lead_id)
{
	LpAutoPending *a;

	if (lp_auto_pending == NULL)
		return NULL;
	a = hash_search(lp_auto_pending, &lead_id, HASH_FIND, NULL);
	if (a == NULL || a->lxid != LP_MY_LXID ||
		a->statement != GetCurrentStatementStartTimestamp())
		return NULL;
	return &a->pending;
}

static void
add_auto_pending(int64 lead_id, Jsonb *details)
{
	LpAutoPending *a;

	if (lp_auto_pending == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(LpAutoPending);
		lp_auto_pending = hash_create("lead_process automatic promotions", 16,
									  &ctl, HASH_ELEM | HASH_BLOBS);
	}
	a = hash_search(lp_auto_pending, &lead_id, HASH_ENTER, NULL);
	a->lxid = LP_MY_LXID;
	a->statement = GetCurrentStatementStartTimestamp();
	memset(&a->pending, 0, sizeof(LpPending));
	a->pending.lead_id = lead_id;
	a->pending.cause = "score";
	a->pending.details = details;
}

/* Kept SPI plans */
static SPIPlanPtr history_plan = NULL;
static SPIPlanPtr move_plan = NULL;
static SPIPlanPtr exists_plan = NULL;
static SPIPlanPtr lock_plan = NULL;

/* One stage change, as the trigger sees it */
typedef struct LpChange
{
	int64		lead_id;
	const char *from_stage;
	const char *to_stage;
	const char *from_status;
	const char *to_status;
	const char *kind;
	const char *cause;
	const char *reason;
	TimestampTz changed_at;
	const char *actor;
	const char *owner;
	int32		score;
	Jsonb	   *details;
} LpChange;

/*
 * Column access for the lead row triggers.  lead has text and nullable
 * columns early in the row, so heap_getattr() of a later column walks the
 * row from its start each time (nocachegetattr), and the triggers read some
 * twenty columns of the old and new rows: 7% of the time score_pending()
 * spent in a single-row stream went there.  While a trigger runs,
 * lead_getattr() deforms each row once and serves its columns from arrays.
 * The rows are known by their HeapTuple pointer: the tuples a trigger call
 * reads (the trigger's rows and those heap_modify_tuple_by_cols() makes)
 * are not freed before it returns.  A nested trigger call has its own
 * cache, and the caller's is restored after it, also on error.
 */
#define LEAD_ROWS_CACHED 6

typedef struct LeadRowCache
{
	MemoryContext cxt;			/* the trigger call's: outlives SPI calls */
	int			nrows;
	HeapTuple	tuples[LEAD_ROWS_CACHED];
	Datum	   *values[LEAD_ROWS_CACHED];
	bool	   *nulls[LEAD_ROWS_CACHED];
} LeadRowCache;

static LeadRowCache *lead_rows = NULL;

static Datum
lead_getattr(HeapTuple tuple, AttrNumber attnum, TupleDesc tupdesc, bool *isnull)
{
	LeadRowCache *c = lead_rows;
	int			i;

	if (c == NULL || attnum <= 0 || attnum > tupdesc->natts)
		return heap_getattr(tuple, attnum, tupdesc, isnull);
	for (i = 0; i < c->nrows; i++)
		if (c->tuples[i] == tuple)
			break;
	if (i == c->nrows)
	{
		if (c->nrows == LEAD_ROWS_CACHED)
			return heap_getattr(tuple, attnum, tupdesc, isnull);
		c->tuples[i] = tuple;
		c->values[i] = MemoryContextAlloc(c->cxt, sizeof(Datum) * tupdesc->natts);
		c->nulls[i] = MemoryContextAlloc(c->cxt, sizeof(bool) * tupdesc->natts);
		heap_deform_tuple(tuple, tupdesc, c->values[i], c->nulls[i]);
		c->nrows++;
	}
	*isnull = c->nulls[i][attnum - 1];
	return c->values[i][attnum - 1];
}

/*
 * get_text
 *		Text column of a tuple as a C string, or NULL.
 */
static char *
get_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = lead_getattr(tuple, attnum, tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static bool
text_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * datum_changed
 *		Whether a fixed-width column differs between the old and new row.
 */
static bool
datum_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc tupdesc,
			  AttrNumber attnum)
{
	bool		oldnull,
				newnull;
	Datum		o = lead_getattr(oldtup, attnum, tupdesc, &oldnull);
	Datum		n = lead_getattr(newtup, attnum, tupdesc, &newnull);
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);

	if (oldnull || newnull)
		return oldnull != newnull;
	return !datumIsEqual(o, n, att->attbyval, att->attlen);
}

/*
 * datumIsEqualJsonb
 *		Whether a jsonb column is the same in both rows (byte-wise, which is
 *		what "unchanged" means for a value the client did not touch).
 */
static bool
datumIsEqualJsonb(HeapTuple oldtup, HeapTuple newtup, TupleDesc tupdesc,
				  AttrNumber attnum)
{
	bool		oldnull,
				newnull;
	Datum		o = lead_getattr(oldtup, attnum, tupdesc, &oldnull);
	Datum		n = lead_getattr(newtup, attnum, tupdesc, &newnull);
	struct varlena *ov,
			   *nv;

	if (oldnull || newnull)
		return oldnull == newnull;
	if (o == n)
		return true;
	ov = PG_DETOAST_DATUM_PACKED(o);
	nv = PG_DETOAST_DATUM_PACKED(n);
	return VARSIZE_ANY_EXHDR(ov) == VARSIZE_ANY_EXHDR(nv) &&
		memcmp(VARDATA_ANY(ov), VARDATA_ANY(nv), VARSIZE_ANY_EXHDR(ov)) == 0;
}

/*
 * column_set
 *		Whether the UPDATE's SET list names the column (tg_updatedcols), as
 *		opposed to the column keeping or happening to get its old value.
 */
static bool
column_set(const Bitmapset *updated, AttrNumber attnum)
{
	return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, updated);
}

/*
 * current_actor
 *		The application actor: the one passed to the function, else the
 *		session's lead_process.actor, else NULL.
 */
static const char *
current_actor(void)
{
	if (lp_pending != NULL && lp_pending->actor != NULL)
		return lp_pending->actor;
	if (lp_actor != NULL && lp_actor[0] != '\0')
		return lp_actor;
	return NULL;
}

/*
 * check_change_time
 *		Refuse change times that are not finite or lie too far in the future
 *		(a client clock error), and, for an UPDATE, times before the lead's
 *		previous stage change (history would run backwards).
 */
static void
check_change_time(int64 lead_id, TimestampTz at, bool has_previous,
				  TimestampTz previous, const char *previous_stage)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("stage change time of lead " INT64_FORMAT " must be finite",
					   lead_id),
				errdetail("The change is dated %s.", timestamptz_to_str(at)));
	if (at > now &&
		at - now > (int64) lp_max_future_skew * USECS_PER_SEC)
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("stage change of lead " INT64_FORMAT " is dated too far in the future",
					   lead_id),
				errdetail("The change is dated %s, more than %d seconds after the transaction time %s.",
						  pstrdup(timestamptz_to_str(at)), lp_max_future_skew,
						  pstrdup(timestamptz_to_str(now))),
				errhint("Check the client's clock, or raise lead_process.max_future_skew."));
	if (has_previous && at < previous)
		ereport(ERROR,
				errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				errmsg("stage change of lead " INT64_FORMAT " cannot be dated before its previous stage change",
					   lead_id),
				errdetail("The change is dated %s; the lead entered stage \"%s\" at %s.",
						  pstrdup(timestamptz_to_str(at)), previous_stage,
						  pstrdup(timestamptz_to_str(previous))));
}

#define HISTORY_INSERT \
	"INSERT INTO lead_process.stage_history " \
	"(lead_id, from_stage, to_stage, from_status, to_status, " \
	"kind, cause, reason, changed_at, changed_by, actor, owner, score, details) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"

/*
 * The history rows (and their events) of a statement on lead are collected
 * here by the AFTER ROW trigger and written by one INSERT from the AFTER
 * STATEMENT trigger lead_history_flush, instead of one INSERT per lead.
 * The buffer lives in the transaction (lp_rowbuf.c).
 */
#define HISTORY_COLS 14
static Oid	history_types[HISTORY_COLS] = {
	INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, JSONBOID
};

static LpXactRowBuffer history_rows = {"stage history", HISTORY_COLS, history_types, NULL, false};

/*
 * flush_history
 *		Write the collected history rows and their events with one statement,
 *		as the owner of those tables, and announce the events.  The event
 *		type follows from the history row's kind (the CASE below is the one
 *		place that says how).
 */
static void
flush_history(LpProcess *proc, LpRowBuffer *b)
{
	static SPIPlanPtr flush_plan = NULL;
	Oid			argtypes[HISTORY_COLS];
	Datum		args[HISTORY_COLS];
	Oid			save_userid;
	int			save_sec;

	if (b->n == 0)
		return;
	lp_rowbuf_arrays(b, args, argtypes);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&flush_plan,
					"WITH h AS (INSERT INTO lead_process.stage_history "
					"(lead_id, from_stage, to_stage, from_status, to_status, "
					"kind, cause, reason, changed_at, changed_by, actor, owner, score, details) "
					"SELECT u.lead_id, u.from_stage, u.to_stage, u.from_status, u.to_status, u.kind, "
					"u.cause, u.reason, u.changed_at, u.changed_by, u.actor, u.owner, u.score, u.details "
					"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
					"pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
					"pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					"pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11), "
					"pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14)) "
					"WITH ORDINALITY AS u(lead_id, from_stage, to_stage, "
					"from_status, to_status, kind, cause, reason, changed_at, changed_by, actor, "
					"owner, score, details, ord) ORDER BY u.ord "
					"RETURNING *) "
					"INSERT INTO lead_process.event (lead_id, type, occurred_at, payload) "
					"SELECT h.lead_id, CASE WHEN h.kind OPERATOR(pg_catalog.=) 'create' THEN 'lead_created' "
					"WHEN h.kind OPERATOR(pg_catalog.=) 'status' THEN 'status_changed' "
					"WHEN h.kind OPERATOR(pg_catalog.=) 'recycle' THEN 'lead_recycled' "
					"WHEN h.kind OPERATOR(pg_catalog.=) 'reject' THEN 'lead_recycled' "
					"WHEN h.kind OPERATOR(pg_catalog.=) 'disqualify' THEN 'lead_disqualified' "
					"ELSE 'stage_changed' END, h.changed_at, pg_catalog.jsonb_build_object("
					"'history_id', h.id, 'lead_id', h.lead_id, "
					"'from_stage', h.from_stage, 'to_stage', h.to_stage, "
					"'from_status', h.from_status, 'to_status', h.to_status, "
					"'kind', h.kind, 'cause', h.cause, 'reason', h.reason, "
					"'owner', h.owner, 'score', h.score, 'changed_at', h.changed_at, "
					"'changed_by', h.changed_by, 'actor', h.actor, 'details', h.details) "
					"FROM h ORDER BY h.id "
					"RETURNING id, lead_id, type, payload OPERATOR(pg_catalog.->>) 'to_stage'",
					HISTORY_COLS, argtypes);
	if (SPI_execute_plan(flush_plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != (uint64) b->n)
		elog(ERROR, "stage_history and event insert failed");
	if (lp_notify)
	{
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	t = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			int64		event_id = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
			int64		lead_id = DatumGetInt64(SPI_getbinval(t, td, 2, &isnull));

			Async_Notify("lead_process",
						 psprintf("{\"id\": " INT64_FORMAT ", \"type\": \"%s\", \"lead_id\": " INT64_FORMAT ", \"stage\": \"%s\"}",
								  event_id, SPI_getvalue(t, td, 3), lead_id,
								  SPI_getvalue(t, td, 4)));
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * record_change
 *		From version 1.1, buffer the history row and its event for the
 *		statement's flush (flush_history writes both and sends the NOTIFY).
 *		Version 1.0 has no outbox: append the history row at once, as the
 *		owner of stage_history.
 */
static void
record_change(LpProcess *proc, const LpChange *c)
{
	Datum		values[HISTORY_COLS];
	char		nulls[HISTORY_COLS];
	Oid			save_userid;
	int			save_sec;
	char	   *changed_by = GetUserNameFromId(GetUserId(), false);
	bool		with_event = OidIsValid(proc->event_relid);

	memset(nulls, ' ', sizeof(nulls));
#define TEXT_ARG(i, s) \
	do { \
		if ((s) != NULL) values[i] = CStringGetTextDatum(s); \
		else { values[i] = (Datum) 0; nulls[i] = 'n'; } \
	} while (0)
	values[0] = Int64GetDatum(c->lead_id);
	TEXT_ARG(1, c->from_stage);
	TEXT_ARG(2, c->to_stage);
	TEXT_ARG(3, c->from_status);
	TEXT_ARG(4, c->to_status);
	TEXT_ARG(5, c->kind);
	TEXT_ARG(6, c->cause);
	TEXT_ARG(7, c->reason);
	values[8] = TimestampTzGetDatum(c->changed_at);
	TEXT_ARG(9, changed_by);
	TEXT_ARG(10, c->actor);
	TEXT_ARG(11, c->owner);
	values[12] = Int32GetDatum(c->score);
	values[13] = c->details ? JsonbPGetDatum(c->details) : (Datum) 0;
	nulls[13] = c->details ? ' ' : 'n';
#undef TEXT_ARG

	if (with_event)
	{
		lp_rowbuf_add(lp_rowbuf_get(&history_rows), values, nulls);
		return;
	}

	/* Version 1.0 (no outbox): the history row alone, at once */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&history_plan, HISTORY_INSERT, HISTORY_COLS, history_types);
	if (SPI_execute_plan(history_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "stage_history insert failed");
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * check_status
 *		The status must belong to the stage.
 */
static void
check_status(const LpStage *stage, const char *status, int64 lead_id)
{
	StringInfoData buf;

	if (lp_stage_has_status(stage, status))
		return;
	initStringInfo(&buf);
	lp_describe_statuses(stage, &buf);
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_OBJECT),
			errmsg("status \"%s\" does not exist in stage \"%s\"",
				   status, stage->name),
			errdetail("Lead " INT64_FORMAT ": stage \"%s\" has statuses: %s.",
					  lead_id, stage->name, buf.len > 0 ? buf.data : "(none)"),
			errhint("Add the status to lead_process.stage_status first."));
}

/*
 * find_stage_or_error
 *		Index of a stage named by a client, with a clear error if unknown.
 */
static int
find_stage_or_error(LpProcess *proc, const char *name, int64 lead_id)
{
	int			si = lp_stage_find(proc, name);
	StringInfoData buf;

	if (si >= 0)
		return si;
	initStringInfo(&buf);
	for (int i = 0; i < proc->nstages; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", proc->stages[i].name);
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_OBJECT),
			errmsg("stage \"%s\" does not exist", name),
			errdetail("Lead " INT64_FORMAT ": the stages are %s.", lead_id,
					  buf.len > 0 ? buf.data : "(none)"),
			errhint("Stages are configured in lead_process.stage."));
	return -1;					/* keep compiler quiet */
}

/*
 * check_reason
 *		Reject, recycle and disqualify edges need a reason code of the
 *		matching kind; other edges take an optional free-text note.
 */
static void
check_reason(LpProcess *proc, const LpTransition *t, const char *reason,
			 int64 lead_id)
{
	bool		disq = (t->kind == LP_KIND_DISQUALIFY);
	const LpReason *r;
	StringInfoData buf;

	if (!lp_kind_needs_reason(t->kind))
		return;
	r = reason ? lp_reason_find(proc, reason) : NULL;
	if (r != NULL && r->disqualify == disq)
		return;

	initStringInfo(&buf);
	lp_describe_reasons(proc, disq, &buf);
	if (reason == NULL)
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_REASON),
				errmsg("moving lead " INT64_FORMAT " from \"%s\" to \"%s\" requires a reason",
					   lead_id, proc->stages[t->from].name,
					   proc->stages[t->to].name),
				errdetail("Transitions of kind \"%s\" take a reason code: %s.",
						  lp_kind_name(t->kind), buf.data),
				errhint("Pass the reason to lead_process.%s(), or set lead.stage_reason in the same UPDATE.",
						disq ? "disqualify" : "recycle"));
	ereport(ERROR,
			errcode(ERRCODE_LP_INVALID_REASON),
			errmsg("invalid %s reason \"%s\"", disq ? "disqualify" : "recycle",
				   reason),
			errdetail("Transitions of kind \"%s\" take a reason code: %s.",
					  lp_kind_name(t->kind), buf.data),
			errhint("Add the reason to lead_process.reason with kind \"%s\" first.",
					disq ? "disqualify" : "recycle"));
}

/*
 * refuse_transition
 *		The ERROR for a transition that the graph does not allow.
 */
static void
refuse_transition(LpProcess *proc, int from, int to, int64 lead_id,
				  Relation rel)
{
	const LpStage *f = &proc->stages[from];
	const LpStage *t = &proc->stages[to];
	StringInfoData allowed;
	bool		can_recycle = false;

	initStringInfo(&allowed);
	lp_describe_targets(proc, from, &allowed);
	for (int i = 0; i < proc->ntransitions; i++)
	{
		if (proc->transitions[i].from == from &&
			(proc->transitions[i].kind == LP_KIND_RECYCLE ||
			 proc->transitions[i].kind == LP_KIND_REJECT))
			can_recycle = true;
	}

	if (allowed.len == 0)
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_TRANSITION),
				errmsg("invalid stage transition from \"%s\" to \"%s\"",
					   f->name, t->name),
				errdetail("Lead " INT64_FORMAT " is in stage \"%s\", which allows no transitions%s.",
						  lead_id, f->name, f->is_terminal ? " (it is terminal)" : ""),
				errhint("An administrator can add an edge from \"%s\" to lead_process.transition.",
						f->name),
				errtable(rel));
	else if (t->position < f->position && can_recycle)
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_TRANSITION),
				errmsg("invalid stage transition from \"%s\" to \"%s\"",
					   f->name, t->name),
				errdetail("Lead " INT64_FORMAT ": stage \"%s\" allows transitions to: %s.",
						  lead_id, f->name, allowed.data),
				errhint("To send the lead back to marketing, recycle it with lead_process.recycle()."),
				errtable(rel));
	else
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_TRANSITION),
				errmsg("invalid stage transition from \"%s\" to \"%s\"",
					   f->name, t->name),
				errdetail("Lead " INT64_FORMAT ": stage \"%s\" allows transitions to: %s.",
						  lead_id, f->name, allowed.data),
				errhint("Move the lead one allowed step at a time; lead_process.allowed_transitions(lead_id) lists them."),
				errtable(rel));
}

/*
 * refuse_maintained
 *		A client tried to write a column that only the stage machine writes.
 */
static void
refuse_maintained(const char *column, int64 lead_id, const char *hint)
{
	ereport(ERROR,
			errcode(ERRCODE_GENERATED_ALWAYS),
			errmsg("column \"%s\" of lead " INT64_FORMAT " is maintained by lead_process",
				   column, lead_id),
			hint ? errhint("%s", hint) : 0);
}

/*
 * on_insert
 *		A new lead: fill in stage, status and the time it entered the stage,
 *		and check them.  Returns the tuple to store; the AFTER trigger
 *		records it.
 */
/*
 * handoff
 *		A lead entering a handoff stage gets an owner from routing, in the
 *		same transaction, unless a rep (or anybody the client named) already
 *		owns it.  Returns the tuple to continue with.
 */
static HeapTuple
handoff(LpProcess *proc, TupleDesc tupdesc, HeapTuple newtup, int64 lead_id,
		int stage, TimestampTz at)
{
	LpRouteDecision decision;
	char	   *owner;
	int			attnum = proc->lead.owner;
	Datum		value;
	bool		null = false;

	if (!proc->stages[stage].handoff || !OidIsValid(proc->rep_state_relid))
		return newtup;
	owner = get_text(newtup, tupdesc, proc->lead.owner);
	if (!lp_route_needs_owner(proc, owner))
		return newtup;
	lp_route_decide(proc, newtup, tupdesc, stage, lead_id, at, NULL, true,
					&decision, NULL);
	if (decision.owner == NULL || text_equal(owner, decision.owner))
		return newtup;
	lp_route_note(lead_id, "handoff", &decision, false, 0);
	value = CStringGetTextDatum(decision.owner);
	return heap_modify_tuple_by_cols(newtup, tupdesc, 1, &attnum, &value, &null);
}

/*
 * too_many_recycles
 *		A recycle into a stage with max_recycles, beyond the limit: the
 *		disqualify edge of the stage the lead leaves, or NULL to recycle as
 *		asked (no limit, within it, or no such edge).
 */
static const LpTransition *
too_many_recycles(LpProcess *proc, const LpTransition *t, int32 recycles)
{
	int32		max = proc->stages[t->to].max_recycles;

	if (max < 0 || recycles < max)
		return NULL;
	if (lp_reason_find(proc, "too-many-recycles") == NULL)
		return NULL;
	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *d = &proc->transitions[i];

		if (d->from == t->from && d->kind == LP_KIND_DISQUALIFY)
			return d;
	}
	return NULL;
}

/*
 * recycle_scores
 *		Apply the recycle reason's score action to the behaviour score:
 *		keep, reset to zero, or scale every rule's points in the tally.
 *		Sets up to three columns in cols/values; returns how many.
 */
static int
recycle_scores(LpProcess *proc, TupleDesc tupdesc, HeapTuple newtup,
			   const LpReason *r, int *cols, Datum *values)
{
	LpLeadColumns *col = &proc->lead;
	bool		isnull;
	int32		fit;
	int32		behaviour = 0;
	Jsonb	   *tally;

	if (r == NULL || r->score_action == 'k' ||
		col->behaviour_score == InvalidAttrNumber)
		return 0;
	fit = DatumGetInt32(lead_getattr(newtup, col->fit_score, tupdesc, &isnull));
	if (r->score_action == 'r')
		tally = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	else
		tally = lp_tally_scale(DatumGetJsonbP(lead_getattr(newtup, col->score_tally,
														   tupdesc, &isnull)),
							   r->score_factor, &behaviour);
	cols[0] = col->behaviour_score;
	values[0] = Int32GetDatum(behaviour);
	cols[1] = col->score_tally;
	values[1] = JsonbPGetDatum(tally);
	cols[2] = col->score;
	values[2] = Int32GetDatum(fit + behaviour);
	return 3;
}

static HeapTuple
on_insert(LpProcess *proc, Relation rel, HeapTuple newtup)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	LpLeadColumns *col = &proc->lead;
	bool		isnull;
	Datum		d;
	int64		lead_id;
	char	   *stage_name;
	char	   *status;
	int			si;
	TimestampTz changed_at;
	int			cols[7];
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	int			ncols = 0;

	d = lead_getattr(newtup, col->id, tupdesc, &isnull);
	if (isnull)
		return newtup;			/* the NOT NULL constraint will complain */
	lead_id = DatumGetInt64(d);

	stage_name = get_text(newtup, tupdesc, col->stage);
	if (stage_name == NULL)
	{
		/* The first non-terminal stage of the funnel */
		si = -1;
		for (int i = 0; i < proc->nstages && si < 0; i++)
		{
			if (!proc->stages[i].is_terminal)
				si = i;
		}
		if (si < 0)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("no initial stage is configured"),
					errdetail("Lead " INT64_FORMAT " has no stage and lead_process.stage has no non-terminal stage.",
							  lead_id),
					errhint("Give the lead a stage, or add stages to lead_process.stage."));
		stage_name = proc->stages[si].name;
		cols[ncols] = col->stage;
		values[ncols++] = CStringGetTextDatum(stage_name);
	}
	else
		si = find_stage_or_error(proc, stage_name, lead_id);

	status = get_text(newtup, tupdesc, col->status);
	if (status == NULL)
	{
		status = proc->stages[si].default_status;
		if (status == NULL)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("stage \"%s\" has no default status", stage_name),
					errdetail("Lead " INT64_FORMAT " was given no status.", lead_id),
					errhint("Give the lead a status, or mark one status of the stage as default in lead_process.stage_status."));
		cols[ncols] = col->status;
		values[ncols++] = CStringGetTextDatum(status);
	}
	else
		check_status(&proc->stages[si], status, lead_id);

	d = lead_getattr(newtup, col->stage_changed_at, tupdesc, &isnull);
	if (isnull)
	{
		d = lead_getattr(newtup, col->created_at, tupdesc, &isnull);
		changed_at = isnull ? GetCurrentTransactionStartTimestamp() :
			DatumGetTimestampTz(d);
		cols[ncols] = col->stage_changed_at;
		values[ncols++] = TimestampTzGetDatum(changed_at);
	}
	else
		changed_at = DatumGetTimestampTz(d);
	check_change_time(lead_id, changed_at, false, 0, NULL);

	/*
	 * The scores, whatever the client wrote there: the fit rules' points; no
	 * behaviour yet (activities come after the lead); the total.
	 */
	if (col->fit_score != InvalidAttrNumber)
	{
		int32		fit = lp_fit_score(proc, newtup, tupdesc);

		cols[ncols] = col->fit_score;
		values[ncols++] = Int32GetDatum(fit);
		if (col->behaviour_score != InvalidAttrNumber)
		{
			cols[ncols] = col->behaviour_score;
			values[ncols++] = Int32GetDatum(0);
			cols[ncols] = col->score_tally;
			values[ncols++] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
			cols[ncols] = col->score;
			values[ncols++] = Int32GetDatum(fit);
		}
	}

	if (ncols > 0)
		newtup = heap_modify_tuple_by_cols(newtup, tupdesc, ncols, cols,
										   values, nulls);
	return handoff(proc, tupdesc, newtup, lead_id, si, changed_at);
}

/*
 * keep_scores
 *		On an update, keep the maintained score columns right:
 *		- fit_score is recomputed when a profile attribute changed (or a
 *		  client wrote fit_score: it may write only what the rules give,
 *		  which is what rescore_fit() does);
 *		- behaviour_score and score_tally are written only by lead_process;
 *		- score is fit_score + behaviour_score.
 *		Returns the tuple to continue with.
 */
static HeapTuple
keep_scores(LpProcess *proc, TupleDesc tupdesc, HeapTuple oldtup,
			HeapTuple newtup, int64 lead_id)
{
	LpLeadColumns *col = &proc->lead;
	int			cols[2];
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			ncols = 0;
	bool		isnull;
	int32		fit;
	bool		profile_changed = false;

	if (col->fit_score == InvalidAttrNumber)
		return newtup;			/* version 1.0 */

	for (int i = 0; i < col->nprofile; i++)
	{
		if (datum_changed(oldtup, newtup, tupdesc, col->profile[i]))
		{
			profile_changed = true;
			break;
		}
	}
	fit = DatumGetInt32(lead_getattr(newtup, col->fit_score, tupdesc, &isnull));
	if (profile_changed || datum_changed(oldtup, newtup, tupdesc, col->fit_score))
	{
		int32		computed = lp_fit_score(proc, newtup, tupdesc);

		if (isnull || fit != computed)
		{
			if (datum_changed(oldtup, newtup, tupdesc, col->fit_score))
				refuse_maintained("fit_score", lead_id,
								  "It is the sum of the points of the matching fit rules; after changing rules, run lead_process.rescore_fit().");
			cols[ncols] = col->fit_score;
			values[ncols++] = Int32GetDatum(computed);
		}
		fit = computed;
	}

	if (col->behaviour_score != InvalidAttrNumber)
	{
		int32		behaviour;
		int32		score;

		if (!lp_scoring_update &&
			datum_changed(oldtup, newtup, tupdesc, col->behaviour_score))
			refuse_maintained("behaviour_score", lead_id,
							  "Behaviour points come from activities; after changing rules, run lead_process.rescore_behaviour().");
		if (!lp_scoring_update &&
			!datumIsEqualJsonb(oldtup, newtup, tupdesc, col->score_tally))
			refuse_maintained("score_tally", lead_id,
							  "It is the state of the behaviour rules' caps; run lead_process.rescore_behaviour() to rebuild it.");
		behaviour = DatumGetInt32(lead_getattr(newtup, col->behaviour_score, tupdesc, &isnull));
		score = DatumGetInt32(lead_getattr(newtup, col->score, tupdesc, &isnull));
		if (isnull || score != fit + behaviour)
		{
			if (datum_changed(oldtup, newtup, tupdesc, col->score) && !lp_scoring_update)
				refuse_maintained("score", lead_id,
								  "The score is fit_score + behaviour_score.");
			cols[ncols] = col->score;
			values[ncols++] = Int32GetDatum(fit + behaviour);
		}
	}
	if (ncols == 0)
		return newtup;
	return heap_modify_tuple_by_cols(newtup, tupdesc, ncols, cols, values, nulls);
}

/*
 * promote_on_profile
 *		An UPDATE that leaves the stage alone but changes a profile field
 *		can complete a promotion by score (the missing job title arrives; a
 *		fit rule now matches the new title).  Apply the same rule as the
 *		activity trigger: the furthest stage along an advance edge whose
 *		threshold the score meets, whose required fields are filled in, and
 *		whose cool-down has passed.  Returns the row with the new stage; the
 *		rest of on_update validates and stamps it like any stage change.
 */
static HeapTuple
promote_on_profile(LpProcess *proc, TupleDesc tupdesc, HeapTuple oldtup,
				   HeapTuple newtup, int64 lead_id)
{
	LpLeadColumns *col = &proc->lead;
	char	   *stage;
	int			from;
	int			best = -1;
	bool		isnull;
	bool		changed = false;
	int32		score;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Datum		last_recycled;
	bool		recycled_null;
	int			attnum;
	Datum		value;
	bool		null = false;

	if (col->behaviour_score == InvalidAttrNumber)
		return newtup;			/* version 1.0: no promotion by score */
	stage = get_text(newtup, tupdesc, col->stage);
	if (stage == NULL || !text_equal(stage, get_text(oldtup, tupdesc, col->stage)))
		return newtup;			/* the client moves the lead itself */
	/* a profile change; rescores (which change only scores) never promote */
	for (int i = 0; i < col->nprofile && !changed; i++)
		changed = datum_changed(oldtup, newtup, tupdesc, col->profile[i]);
	if (!changed)
		return newtup;

	from = lp_stage_find(proc, stage);
	if (from < 0 || proc->stages[from].is_terminal)
		return newtup;
	score = DatumGetInt32(lead_getattr(newtup, col->score, tupdesc, &isnull));
	{
		/* with the decaying rules' points as of now */
		Datum		tally = lead_getattr(newtup, col->score_tally, tupdesc, &isnull);

		if (!isnull)
			score += (int32) rint(lp_decayed_total(proc, DatumGetJsonbP(tally), now));
	}
	last_recycled = lead_getattr(oldtup, col->last_recycled_at, tupdesc, &recycled_null);
	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *t = &proc->transitions[i];
		const LpStage *st;
		bool		filled = true;

		if (t->from != from || t->kind != LP_KIND_ADVANCE)
			continue;
		st = &proc->stages[t->to];
		if (!st->has_threshold || score < st->threshold)
			continue;
		if (best >= 0 && proc->stages[best].position >= st->position)
			continue;
		if (!recycled_null && st->requalify_after >= 0 &&
			now < DatumGetTimestampTz(last_recycled) + st->requalify_after)
			continue;
		for (int k = 0; k < st->nrequired && filled; k++)
		{
			Datum		v = lead_getattr(newtup, st->required[k], tupdesc, &isnull);

			filled = !isnull &&
				!(TupleDescAttr(tupdesc, st->required[k] - 1)->atttypid == TEXTOID &&
				  VARSIZE_ANY_EXHDR(DatumGetPointer(v)) == 0);
		}
		if (filled)
			best = t->to;
	}
	if (best < 0)
		return newtup;

	/* the details outlive this row: the AFTER trigger writes them */
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);
		int32		fit = DatumGetInt32(lead_getattr(newtup, col->fit_score, tupdesc, &isnull));
		int32		behaviour = DatumGetInt32(lead_getattr(newtup, col->behaviour_score, tupdesc, &isnull));
		Jsonb	   *details;

		details = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(psprintf("{\"score\": %d, \"threshold\": %d, \"fit_score\": %d, \"behaviour_score\": %d, \"on\": \"update\"}",
																			  score, proc->stages[best].threshold,
																			  fit, behaviour))));
		add_auto_pending(lead_id, details);
		MemoryContextSwitchTo(oldcxt);
	}
	attnum = col->stage;
	value = CStringGetTextDatum(proc->stages[best].name);
	return heap_modify_tuple_by_cols(newtup, tupdesc, 1, &attnum, &value, &null);
}

/*
 * on_update
 *		A lead changes: validate a change of stage or status, stamp the
 *		maintained columns (status, stage_changed_at, stage_reason,
 *		recycle_count, last_recycled_at).  Returns the tuple to store; the
 *		AFTER trigger records it from the stamped columns.
 */
static HeapTuple
on_update(LpProcess *proc, Relation rel, HeapTuple oldtup, HeapTuple newtup,
		  const Bitmapset *updated)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	LpLeadColumns *col = &proc->lead;
	bool		isnull;
	int64		lead_id;
	LpPending  *pending = NULL;
	char	   *old_stage,
			   *new_stage,
			   *old_status,
			   *new_status;
	bool		stage_changed;
	bool		status_changed;
	int			from,
				to;
	const LpTransition *t;
	const char *reason;
	TimestampTz changed_at;
	TimestampTz old_changed_at;
	int			cols[10];
	Datum		values[10];
	bool		nulls[10] = {false};
	int			ncols = 0;
	Datum		d;
	int32		recycles;
	const LpTransition *dq;
	bool		redirected = false;

	lead_id = DatumGetInt64(lead_getattr(oldtup, col->id, tupdesc, &isnull));
	if (datum_changed(oldtup, newtup, tupdesc, col->id))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot change the id of lead " INT64_FORMAT, lead_id),
				errdetail("Stage history, activities and contact attempts refer to the lead by id."));
	if (datum_changed(oldtup, newtup, tupdesc, col->recycle_count))
		refuse_maintained("recycle_count", lead_id,
						  "It counts recycle and reject transitions.");
	if (datum_changed(oldtup, newtup, tupdesc, col->last_recycled_at))
		refuse_maintained("last_recycled_at", lead_id,
						  "It is set by recycle and reject transitions.");

	newtup = keep_scores(proc, tupdesc, oldtup, newtup, lead_id);
	if (find_pending(lead_id) == NULL && !lp_scoring_update)
		newtup = promote_on_profile(proc, tupdesc, oldtup, newtup, lead_id);

	old_stage = get_text(oldtup, tupdesc, col->stage);
	new_stage = get_text(newtup, tupdesc, col->stage);
	old_status = get_text(oldtup, tupdesc, col->status);
	new_status = get_text(newtup, tupdesc, col->status);
	stage_changed = !text_equal(old_stage, new_stage);
	status_changed = !text_equal(old_status, new_status);

	pending = find_pending(lead_id);

	if (!stage_changed)
	{
		if (datum_changed(oldtup, newtup, tupdesc, col->stage_changed_at))
			refuse_maintained("stage_changed_at", lead_id,
							  "It may only be set in the UPDATE that changes the stage, to backdate that change.");
		if (!status_changed)
			return newtup;
		if (new_status == NULL)
			return newtup;		/* the NOT NULL constraint will complain */

		/* A change of status inside the stage */
		check_status(&proc->stages[find_stage_or_error(proc, new_stage, lead_id)],
					 new_status, lead_id);
		return newtup;
	}

	if (new_stage == NULL)
		return newtup;			/* the NOT NULL constraint will complain */

	from = find_stage_or_error(proc, old_stage, lead_id);
	to = find_stage_or_error(proc, new_stage, lead_id);
	t = lp_transition_find(proc, from, to);
	if (t == NULL)
		refuse_transition(proc, from, to, lead_id, rel);

	/*
	 * Reason: the function's, else the one this UPDATE sets.  Whether the
	 * UPDATE sets a column is read from its SET list, not guessed from a
	 * changed value, so repeating the previous reason is a reason.
	 */
	if (pending != NULL)
		reason = pending->reason;
	else if (column_set(updated, col->stage_reason))
		reason = get_text(newtup, tupdesc, col->stage_reason);
	else
		reason = NULL;
	check_reason(proc, t, reason, lead_id);

	/* Recycled once too often: disqualified instead */
	d = lead_getattr(oldtup, col->recycle_count, tupdesc, &isnull);
	recycles = isnull ? 0 : DatumGetInt32(d);
	if ((t->kind == LP_KIND_RECYCLE || t->kind == LP_KIND_REJECT) &&
		(dq = too_many_recycles(proc, t, recycles)) != NULL)
	{
		t = dq;
		to = t->to;
		new_stage = proc->stages[to].name;
		reason = "too-many-recycles";
		cols[ncols] = col->stage;
		values[ncols++] = CStringGetTextDatum(new_stage);
		redirected = true;		/* the edge's or the default status */
	}

	/* Status: the one this UPDATE sets, else the edge's, else the default */
	if (!redirected && column_set(updated, col->status) && new_status != NULL)
		check_status(&proc->stages[to], new_status, lead_id);
	else
	{
		new_status = t->to_status ? t->to_status :
			proc->stages[to].default_status;
		if (new_status == NULL)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("stage \"%s\" has no default status", new_stage),
					errdetail("Lead " INT64_FORMAT " moves to it without a status.", lead_id),
					errhint("Mark one status of the stage as default in lead_process.stage_status."));
	}

	/* Effective time: the function's, else one set in this UPDATE, else now */
	old_changed_at = DatumGetTimestampTz(lead_getattr(oldtup, col->stage_changed_at,
													  tupdesc, &isnull));
	if (pending != NULL && pending->has_at)
		changed_at = pending->at;
	else if (column_set(updated, col->stage_changed_at))
	{
		d = lead_getattr(newtup, col->stage_changed_at, tupdesc, &isnull);
		changed_at = isnull ? GetCurrentTransactionStartTimestamp() :
			DatumGetTimestampTz(d);
	}
	else
		changed_at = GetCurrentTransactionStartTimestamp();
	check_change_time(lead_id, changed_at, true, old_changed_at, old_stage);

	cols[ncols] = col->status;
	values[ncols++] = CStringGetTextDatum(new_status);
	cols[ncols] = col->stage_changed_at;
	values[ncols++] = TimestampTzGetDatum(changed_at);
	cols[ncols] = col->stage_reason;
	if (reason != NULL)
		values[ncols++] = CStringGetTextDatum(reason);
	else
	{
		values[ncols] = (Datum) 0;
		nulls[ncols++] = true;
	}
	if (t->kind == LP_KIND_RECYCLE || t->kind == LP_KIND_REJECT)
	{
		cols[ncols] = col->recycle_count;
		values[ncols++] = Int32GetDatum(recycles + 1);
		cols[ncols] = col->last_recycled_at;
		values[ncols++] = TimestampTzGetDatum(changed_at);
		ncols += recycle_scores(proc, tupdesc, newtup,
								reason ? lp_reason_find(proc, reason) : NULL,
								cols + ncols, values + ncols);
	}
	newtup = heap_modify_tuple_by_cols(newtup, tupdesc, ncols, cols, values,
									   nulls);
	return handoff(proc, tupdesc, newtup, lead_id, to, changed_at);
}

/*
 * with_lead_rows
 *		Run fn(fcinfo), a lead row trigger, with a row cache of its own for
 *		lead_getattr(); the caller's cache (a trigger that fired this one)
 *		is restored after it, also on error.
 */
static Datum
with_lead_rows(Datum (*fn) (FunctionCallInfo), FunctionCallInfo fcinfo)
{
	LeadRowCache cache;
	LeadRowCache *outer = lead_rows;
	Datum		result;

	cache.cxt = CurrentMemoryContext;
	cache.nrows = 0;
	lead_rows = &cache;
	PG_TRY();
	{
		result = fn(fcinfo);
	}
	PG_FINALLY();
	{
		lead_rows = outer;
	}
	PG_END_TRY();
	return result;
}

/*
 * lp_lead_stage_trigger
 *		BEFORE INSERT OR UPDATE FOR EACH ROW on lead_process.lead.
 */
static Datum
lead_stage(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LpProcess  *proc;

	lp_check_trigger(fcinfo, "lead_stage_trigger", true, true,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE);
	proc = lp_process_get();
	if (RelationGetRelid(trigdata->tg_relation) != proc->lead_relid)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired for table \"lead_process.lead\"",
					   "lead_stage_trigger"));
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(on_insert(proc, trigdata->tg_relation,
										 trigdata->tg_trigtuple));
	return PointerGetDatum(on_update(proc, trigdata->tg_relation,
									 trigdata->tg_trigtuple, trigdata->tg_newtuple,
									 trigdata->tg_updatedcols));
}

PG_FUNCTION_INFO_V1(lp_lead_stage_trigger);
Datum
lp_lead_stage_trigger(PG_FUNCTION_ARGS)
{
	return with_lead_rows(lead_stage, fcinfo);
}

/*
 * lp_lead_history_trigger
 *		AFTER INSERT OR UPDATE FOR EACH ROW on lead_process.lead, with a WHEN
 *		clause that skips updates leaving stage and status alone.  Writes the
 *		stage_history row of the change that the BEFORE trigger validated and
 *		stamped into the row.  Recording after the row is stored means that a
 *		row another BEFORE trigger suppressed leaves no history, and that the
 *		history row's foreign key finds its lead.
 */
static Datum lead_history(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(lp_lead_history_trigger);
Datum
lp_lead_history_trigger(PG_FUNCTION_ARGS)
{
	return with_lead_rows(lead_history, fcinfo);
}

static Datum
lead_history(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LpProcess  *proc;
	TupleDesc	tupdesc;
	LpLeadColumns *col;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	LpPending  *pending = NULL;
	LpChange	c;
	bool		isnull;
	Datum		d;
	char	   *previous_owner = NULL;

	lp_check_trigger(fcinfo, "lead_history_trigger", false, true,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE);
	proc = lp_process_get();
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	col = &proc->lead;
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		oldtup = trigdata->tg_trigtuple;
		newtup = trigdata->tg_newtuple;
	}
	else
		newtup = trigdata->tg_trigtuple;

	memset(&c, 0, sizeof(c));
	c.lead_id = DatumGetInt64(lead_getattr(newtup, col->id, tupdesc, &isnull));
	pending = find_pending(c.lead_id);
	c.to_stage = get_text(newtup, tupdesc, col->stage);
	c.to_status = get_text(newtup, tupdesc, col->status);
	c.actor = current_actor();
	c.owner = get_text(newtup, tupdesc, col->owner);
	d = lead_getattr(newtup, col->score, tupdesc, &isnull);
	c.score = isnull ? 0 : DatumGetInt32(d);
	c.reason = get_text(newtup, tupdesc, col->stage_reason);
	c.changed_at = DatumGetTimestampTz(lead_getattr(newtup, col->stage_changed_at,
													tupdesc, &isnull));

	if (oldtup == NULL)
	{
		c.kind = "create";
		c.cause = "insert";
		record_change(proc, &c);
		if (c.owner != NULL)
			lp_record_assignment(proc, c.lead_id, NULL, c.owner, c.to_stage,
								 c.changed_at, c.actor, true);
		return PointerGetDatum(NULL);
	}
	else
	{
		c.from_stage = get_text(oldtup, tupdesc, col->stage);
		c.from_status = get_text(oldtup, tupdesc, col->status);
		c.cause = pending ? pending->cause : "update";
		previous_owner = get_text(oldtup, tupdesc, col->owner);
		if (text_equal(c.from_stage, c.to_stage))
		{
			if (text_equal(c.from_status, c.to_status))
			{
				if (!text_equal(previous_owner, c.owner))
					lp_record_assignment(proc, c.lead_id, previous_owner, c.owner,
										 c.to_stage, GetCurrentTransactionStartTimestamp(),
										 c.actor, false);
				return PointerGetDatum(NULL);
			}
			c.kind = "status";
			c.reason = NULL;
			c.changed_at = GetCurrentTransactionStartTimestamp();
		}
		else
		{
			int			from = lp_stage_find(proc, c.from_stage);
			int			to = lp_stage_find(proc, c.to_stage);
			const LpTransition *t = (from >= 0 && to >= 0) ?
				lp_transition_find(proc, from, to) : NULL;

			if (t == NULL)
				elog(ERROR, "transition from \"%s\" to \"%s\" of lead " INT64_FORMAT " vanished",
					 c.from_stage, c.to_stage, c.lead_id);
			c.kind = lp_kind_name(t->kind);
			if (pending != NULL)
			{
				pending->changed = true;
				c.details = pending->details;
			}
		}
	}
	record_change(proc, &c);
	if (!text_equal(previous_owner, c.owner))
		lp_record_assignment(proc, c.lead_id, previous_owner, c.owner,
							 c.to_stage, c.changed_at, c.actor, false);
	return PointerGetDatum(NULL);
}

/*
 * lp_lead_history_flush_trigger
 *		AFTER INSERT OR UPDATE FOR EACH STATEMENT on lead_process.lead: write
 *		the history rows, events and assignments the statement's rows
 *		collected, one statement each.
 */
PG_FUNCTION_INFO_V1(lp_lead_history_flush_trigger);
Datum
lp_lead_history_flush_trigger(PG_FUNCTION_ARGS)
{
	lp_check_trigger(fcinfo, "lead_history_flush_trigger", false, false,
					 LP_TRIG_INSERT | LP_TRIG_UPDATE);
	lp_lead_flush_buffered(lp_process_get());
	return PointerGetDatum(NULL);
}

/*
 * lp_lead_flush_buffered
 *		Write the history rows, events and assignments that lead rows changed
 *		so far collected: the end of a statement that changed leads.
 */
void
lp_lead_flush_buffered(LpProcess *proc)
{
	/* detached first: what the flush itself may cause collects anew */
	LpRowBuffer *b = lp_rowbuf_take(&history_rows);

	if (b != NULL && b->n > 0)
		flush_history(proc, b);
	lp_route_buffer_flush(proc);
}

/*
 * lp_history_guard_trigger
 *		BEFORE UPDATE FOR EACH ROW on stage_history: the history is
 *		append-only, for every role.  (Deleting rows, e.g. to erase a lead,
 *		needs the admin level's DELETE privilege.)
 */
PG_FUNCTION_INFO_V1(lp_history_guard_trigger);
Datum
lp_history_guard_trigger(PG_FUNCTION_ARGS)
{
	lp_check_trigger(fcinfo, "history_guard_trigger", true, true,
					 LP_TRIG_UPDATE);
	ereport(ERROR,
			errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			errmsg("rows of table \"stage_history\" cannot be updated"),
			errdetail("The stage history is append-only."),
			errhint("Record a correction as a new stage change instead."));
	PG_RETURN_NULL();			/* keep compiler quiet */
}

void
lp_lead_not_found(int64 lead_id)
{
	ereport(ERROR,
			errcode(ERRCODE_NO_DATA_FOUND),
			errmsg("lead " INT64_FORMAT " does not exist", lead_id));
}

/*
 * move_internal
 *		Move a lead to a stage with a reason, actor, time and cause, through
 *		the same UPDATE path a client would use.  Returns whether the stage
 *		changed (false: the lead was already there).  Runs with the caller's
 *		privileges: it needs UPDATE on lead_process.lead.
 */
static bool
move_internal(int64 lead_id, const char *to_stage, const char *reason,
			  const char *actor, bool has_at, TimestampTz at,
			  const char *cause, Jsonb *details)
{
	LpPending	p;
	LpPending  *save = lp_pending;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int			rc;

	memset(&p, 0, sizeof(p));
	p.lead_id = lead_id;
	p.reason = reason;
	p.actor = actor;
	p.has_at = has_at;
	p.at = at;
	p.cause = cause;
	p.details = details;

	values[0] = Int64GetDatum(lead_id);
	values[1] = CStringGetTextDatum(to_stage);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&move_plan,
				 "UPDATE lead_process.lead SET stage = $2 "
				 "WHERE id OPERATOR(pg_catalog.=) $1 "
				 "AND stage OPERATOR(pg_catalog.<>) $2",
				 2, argtypes);
	PG_TRY();
	{
		lp_pending = &p;
		rc = SPI_execute_plan(move_plan, values, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "lead update failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
		{
			/* Already there, or no such lead? */
			lp_prepare_kept(&exists_plan,
						 "SELECT 1 FROM lead_process.lead "
						 "WHERE id OPERATOR(pg_catalog.=) $1",
						 1, argtypes);
			rc = SPI_execute_plan(exists_plan, values, NULL, true, 1);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "lead lookup failed: %s", SPI_result_code_string(rc));
			if (SPI_processed == 0)
				lp_lead_not_found(lead_id);
		}
	}
	PG_FINALLY();
	{
		lp_pending = save;
	}
	PG_END_TRY();
	SPI_finish();
	return p.changed;
}

/*
 * lp_move_leads
 *		Automatic stage changes for many leads in one UPDATE (the activity
 *		trigger's promotions and fast-tracks).  Each lead gets its target,
 *		its date, its cause and the details frozen into its history row.
 *		Runs as the caller, which is the owner of the tables here.
 */
void
lp_move_leads(int n, int64 *ids, const char **to_stages, TimestampTz *ats,
			  const char **causes, Jsonb **details)
{
	static SPIPlanPtr batch_plan = NULL;
	HASHCTL		ctl;
	HTAB	   *map;
	Datum	   *d_ids = palloc(sizeof(Datum) * n);
	Datum	   *d_stages = palloc(sizeof(Datum) * n);
	Datum	   *d_ats = palloc(sizeof(Datum) * n);
	Datum		values[3];
	Oid			argtypes[3] = {INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	if (n == 0)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(LpPending);
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("lead_process pending moves", n, &ctl,
					  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < n; i++)
	{
		LpPending  *p = hash_search(map, &ids[i], HASH_ENTER, NULL);

		memset(((char *) p) + sizeof(int64), 0, sizeof(LpPending) - sizeof(int64));
		p->has_at = true;
		p->at = ats[i];
		p->cause = causes[i];
		p->details = details[i];
		d_ids[i] = Int64GetDatum(ids[i]);
		d_stages[i] = CStringGetTextDatum(to_stages[i]);
		d_ats[i] = TimestampTzGetDatum(ats[i]);
	}
	values[0] = PointerGetDatum(construct_array(d_ids, n, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(d_stages, n, TEXTOID, -1,
												false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(d_ats, n, TIMESTAMPTZOID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&batch_plan,
				 "UPDATE lead_process.lead l SET stage = u.s, stage_changed_at = u.a "
				 "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
				 "pg_catalog.unnest($3)) AS u(id, s, a) "
				 "WHERE l.id OPERATOR(pg_catalog.=) u.id",
				 3, argtypes);
	PG_TRY();
	{
		lp_pending_batch = map;
		if (SPI_execute_plan(batch_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "automatic stage changes failed");
	}
	PG_FINALLY();
	{
		lp_pending_batch = NULL;
	}
	PG_END_TRY();
	SPI_finish();
	hash_destroy(map);
}

/*
 * locked_stage
 *		Lock the lead against concurrent changes and return its stage.
 */
static char *
locked_stage(int64 lead_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *stage;
	int			rc;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = Int64GetDatum(lead_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lp_prepare_kept(&lock_plan,
				 "SELECT stage FROM lead_process.lead "
				 "WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
				 1, argtypes);
	rc = SPI_execute_plan(lock_plan, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "lead lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		lp_lead_not_found(lead_id);
	stage = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	stage = MemoryContextStrdup(caller, stage);
	SPI_finish();
	return stage;
}

static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

int64
lp_lead_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("lead_id must not be null"));
	return PG_GETARG_INT64(0);
}

/*
 * lp_move
 *		move(lead_id, to_stage, reason, actor, at) returns boolean
 */
PG_FUNCTION_INFO_V1(lp_move);
Datum
lp_move(PG_FUNCTION_ARGS)
{
	int64		lead_id = lp_lead_id_arg(fcinfo);
	char	   *to_stage = text_arg(fcinfo, 1);

	if (to_stage == NULL)
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("to_stage must not be null"));
	PG_RETURN_BOOL(move_internal(lead_id, to_stage, text_arg(fcinfo, 2),
								 text_arg(fcinfo, 3), !PG_ARGISNULL(4),
								 PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4),
								 "manual", NULL));
}

/*
 * move_along
 *		recycle() and disqualify(): find the single edge of the wanted kinds
 *		leaving the lead's stage and move along it.  Returns the stage
 *		entered.
 */
static Datum
move_along(FunctionCallInfo fcinfo, bool disqualify)
{
	int64		lead_id = lp_lead_id_arg(fcinfo);
	char	   *reason = text_arg(fcinfo, 1);
	const char *verb = disqualify ? "disqualified" : "recycled";
	char	   *stage;
	LpProcess  *proc;
	int			from;
	char	   *target = NULL;
	int			found = 0;
	StringInfoData targets;

	initStringInfo(&targets);
	stage = locked_stage(lead_id);
	proc = lp_process_get();
	from = find_stage_or_error(proc, stage, lead_id);
	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *t = &proc->transitions[i];
		bool		wanted;

		if (t->from != from)
			continue;
		wanted = disqualify ? t->kind == LP_KIND_DISQUALIFY :
			(t->kind == LP_KIND_RECYCLE || t->kind == LP_KIND_REJECT);
		if (!wanted)
			continue;
		if (found++ == 0)
			target = pstrdup(proc->stages[t->to].name);
		appendStringInfo(&targets, "%s%s", found > 1 ? ", " : "",
						 proc->stages[t->to].name);
	}
	if (found == 0)
	{
		StringInfoData allowed;

		initStringInfo(&allowed);
		lp_describe_targets(proc, from, &allowed);
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_TRANSITION),
				errmsg("lead " INT64_FORMAT " in stage \"%s\" cannot be %s",
					   lead_id, stage, verb),
				errdetail("Stage \"%s\" has no %s transition; it allows transitions to: %s.",
						  stage, disqualify ? "disqualify" : "recycle or reject",
						  allowed.len > 0 ? allowed.data : "none"),
				errhint("An administrator can add the edge to lead_process.transition."));
	}
	if (found > 1)
		ereport(ERROR,
				errcode(ERRCODE_LP_INVALID_TRANSITION),
				errmsg("lead " INT64_FORMAT " in stage \"%s\" has more than one %s target",
					   lead_id, stage, disqualify ? "disqualify" : "recycle"),
				errdetail("Stage \"%s\" has %s transitions to: %s.", stage,
						  disqualify ? "disqualify" : "recycle or reject",
						  targets.data),
				errhint("Choose the target with lead_process.move(lead_id, to_stage, reason)."));

	move_internal(lead_id, target, reason, text_arg(fcinfo, 2),
				  !PG_ARGISNULL(3),
				  PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3), "manual", NULL);
	/* a recycle beyond the stage's max_recycles ends in a disqualification */
	PG_RETURN_TEXT_P(cstring_to_text(disqualify ? target : locked_stage(lead_id)));
}

/*
 * lp_recycle
 *		recycle(lead_id, reason, actor, at) returns text
 */
PG_FUNCTION_INFO_V1(lp_recycle);
Datum
lp_recycle(PG_FUNCTION_ARGS)
{
	return move_along(fcinfo, false);
}

/*
 * lp_disqualify
 *		disqualify(lead_id, reason, actor, at) returns text
 */
PG_FUNCTION_INFO_V1(lp_disqualify);
Datum
lp_disqualify(PG_FUNCTION_ARGS)
{
	return move_along(fcinfo, true);
}
