/*-------------------------------------------------------------------------
 *
 * lp_score.c
 *	  Lead scoring: fit scoring (rules on the lead's profile) and behaviour
 *	  scoring (rules on its activities, with caps), the promotions by score
 *	  threshold and fast-track they cause, explanations and rescoring.
 *
 * lead.score = fit_score + behaviour_score, both maintained here and in the
 * lead trigger (lp_stage.c keep_scores); clients cannot write them.  The
 * behaviour part is described at lp_activity_score_trigger below.
 *
 * Fit rules are compiled once per backend into the process cache (lp_cache.c)
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

#include <math.h>

#include "access/genam.h"
#include "access/sysattr.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_am.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/hsearch.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
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
 * lp_fit_rules_of
 *		fit_rules_of(lead lead_process.lead) returns bigint[]
 */
PG_FUNCTION_INFO_V1(lp_fit_rules_of);
Datum
lp_fit_rules_of(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	LpProcess  *proc = lp_process_get();
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	Datum	   *ids = palloc(sizeof(Datum) * Max(proc->nfitrules, 1));
	int			n = 0;

	tupdesc = lp_row_tuple(row, &tuple);
	for (int i = 0; i < proc->nfitrules; i++)
	{
		if (lp_condition_eval(proc->fitrules[i].condition, &tuple, tupdesc))
			ids[n++] = Int64GetDatum(proc->fitrules[i].id);
	}
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/*
 * lp_fit_condition_check
 *		Refuse a fit rule condition on attributes that are not the lead's
 *		profile.  Used when a rule is written and when it is loaded (rules
 *		restored or replicated without their trigger).
 */
void
lp_fit_condition_check(const LpCondition *cond)
{
	const LpCondition *bad;

	bad = lp_condition_find_attribute(cond, non_profile_attributes,
									  lengthof(non_profile_attributes));
	if (bad != NULL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("attribute \"%s\" cannot be used in a fit rule", bad->attribute),
				errdetail("Fit rules score the lead's profile; stage, status, owner, score and recycle_count are not profile attributes."),
				errhint("Use the profile columns of lead_process.lead or properties.<key>."));
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
	lp_fit_condition_check(cond);
	return PointerGetDatum(tuple);
}

/*
 * Behaviour scoring
 *
 * An AFTER INSERT FOR EACH STATEMENT trigger on activity reads the
 * statement's new rows from the transition table, so a COPY of a million
 * activities and a single-row INSERT take the same path:
 *
 *	1. match every activity to its first behaviour rule and count matches
 *	   per lead and rule, in a hash table keyed by lead;
 *	2. lock the batch's leads in ascending id order with one SELECT ... FOR
 *	   NO KEY UPDATE (a global order, so concurrent batches cannot deadlock
 *	   on leads), which also proves that every lead exists: this lock takes
 *	   the place of a foreign key check per row;
 *	3. apply the caps against the lead's tally (lead.score_tally: per rule,
 *	   occurrences matched and points given) and write each changed lead
 *	   once, in one set-based UPDATE.
 *
 * The lock is the one a foreign key check would take on the lead anyway
 * (stronger: NO KEY UPDATE instead of KEY SHARE), held until commit.  Caps
 * do not depend on the order of activities inside or across statements, so
 * bulk and single-row loads give the same scores.
 */
static SPIPlanPtr lock_plan = NULL;
static SPIPlanPtr update_plan = NULL;

/*
 * lp_scoring_update is true while lead_process itself writes the behaviour
 * columns; the lead trigger refuses such writes from anybody else.
 */
bool		lp_scoring_update = false;

/*
 * lp_run_scoring_update
 *		Run an UPDATE of the behaviour columns through SPI (connected by the
 *		caller), flagged as ours.
 */
uint64
lp_run_scoring_update(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	bool		save = lp_scoring_update;
	volatile uint64 processed = 0;

	PG_TRY();
	{
		lp_scoring_update = true;
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "scoring update failed");
		processed = SPI_processed;
	}
	PG_FINALLY();
	{
		lp_scoring_update = save;
	}
	PG_END_TRY();
	return processed;
}

/* Occurrence times of one timed rule (min_interval or half_life) in a batch */
typedef struct RuleTimes
{
	int			n;
	int			cap;
	TimestampTz *t;
} RuleTimes;

typedef struct LeadBatch
{
	int64		lead_id;		/* hash key */
	int32	   *matches;		/* per active rule, NULL until one matches */
	RuleTimes  *times;			/* per active rule, NULL until a timed one
								 * matches */
	TimestampTz last_at;		/* latest occurred_at of the lead's activities */
	int			fast_track;		/* stage index a fast-track rule asks for, or -1 */
	int			fast_rule;		/* that rule's index */
	int64	   *acts;			/* activity ids, kept by score_pending() only */
	int			nacts;
	int			capacts;
} LeadBatch;

/* A stage change the batch causes, made after the score update */
typedef struct Promotion
{
	int64		lead_id;
	int			to;				/* stage index */
	const char *cause;
	TimestampTz at;
	Jsonb	   *details;
} Promotion;

/*
 * required_filled
 *		Whether the lead row has every profile field the stage requires
 *		(not NULL, and not empty for text), in its locked row.
 */
static bool
required_filled(const LpStage *stage, HeapTuple row, TupleDesc tupdesc)
{
	for (int i = 0; i < stage->nrequired; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, stage->required[i] - 1);
		bool		isnull;
		Datum		v = heap_getattr(row, stage->required[i], tupdesc, &isnull);

		if (isnull)
			return false;
		if (att->atttypid == TEXTOID &&
			VARSIZE_ANY_EXHDR(DatumGetPointer(v)) == 0)
			return false;
	}
	return true;
}

/*
 * promotion_for
 *		The stage change a lead's new score or a fast-track rule asks for:
 *		a fast-track rule wins; otherwise the furthest stage reachable along
 *		an advance edge whose score threshold the score meets, whose required
 *		fields are filled in, and whose cool-down after a recycle has passed.
 *		Decay aside, scores only promote here; nothing demotes.
 */
static bool
promotion_for(LpProcess *proc, LeadBatch *lb, int from, int32 fit,
			  int32 behaviour, Jsonb *tally, TimestampTz at,
			  TimestampTz last_recycled, bool recycled, HeapTuple row,
			  TupleDesc rowdesc, Promotion *p)
{
	int			best = -1;
	int32		score = fit + behaviour;
	char	   *tally_text;

	p->lead_id = lb->lead_id;
	p->at = at;
	p->details = NULL;
	if (lb->fast_track >= 0 && lb->fast_track != from &&
		lp_transition_find(proc, from, lb->fast_track) != NULL &&
		proc->stages[lb->fast_track].position > proc->stages[from].position)
	{
		p->to = lb->fast_track;
		p->cause = "fast-track";
		tally_text = JsonbToCString(NULL, &tally->root, VARSIZE(tally));
		p->details = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														CStringGetDatum(psprintf("{\"rule_id\": %s, \"score\": %d, \"fit_score\": %d, \"behaviour_score\": %d, \"score_tally\": %s}",
																				 proc->behaviourrules[lb->fast_rule].key,
																				 score, fit, behaviour, tally_text))));
		return true;
	}
	for (int i = 0; i < proc->ntransitions; i++)
	{
		const LpTransition *t = &proc->transitions[i];
		const LpStage *st;

		if (t->from != from || t->kind != LP_KIND_ADVANCE)
			continue;
		st = &proc->stages[t->to];
		if (!st->has_threshold || score < st->threshold)
			continue;
		if (best >= 0 && proc->stages[best].position >= st->position)
			continue;
		if (recycled && st->requalify_after >= 0 &&
			at < last_recycled + st->requalify_after)
			continue;
		if (!required_filled(st, row, rowdesc))
			continue;
		best = t->to;
	}
	if (best < 0)
		return false;
	p->to = best;
	p->cause = "score";
	tally_text = JsonbToCString(NULL, &tally->root, VARSIZE(tally));
	p->details = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(psprintf("{\"score\": %d, \"threshold\": %d, \"fit_score\": %d, \"behaviour_score\": %d, \"score_tally\": %s}",
																			 score, proc->stages[best].threshold,
																			 fit, behaviour, tally_text))));
	return true;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * match_rule
 *		Index of the first active rule the activity matches, or -1.
 */
static int
match_rule(LpProcess *proc, text *type, Jsonb *props)
{
	const char *tdata = VARDATA_ANY(type);
	size_t		tlen = VARSIZE_ANY_EXHDR(type);

	for (int i = 0; i < proc->nbehaviourrules; i++)
	{
		LpBehaviourRule *r = &proc->behaviourrules[i];
		JsonbValue *v;
		text	   *ptext;

		if (strlen(r->activity_type) != tlen ||
			memcmp(r->activity_type, tdata, tlen) != 0)
			continue;
		if (r->property == NULL)
			return i;
		if (props == NULL || !JB_ROOT_IS_OBJECT(props))
			continue;
		v = getKeyJsonValueFromContainer(&props->root, r->property,
										 strlen(r->property), NULL);
		if (v == NULL)
			continue;
		/* the property's text, as ->> gives it (rescore_behaviour() uses ->>) */
		if (v->type == jbvString)
			ptext = cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		else if (v->type == jbvNumeric)
			ptext = cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(v->val.numeric))));
		else if (v->type == jbvBool)
			ptext = cstring_to_text(v->val.boolean ? "true" : "false");
		else if (v->type == jbvBinary)
			ptext = cstring_to_text(JsonbToCString(NULL, v->val.binary.data,
												   v->val.binary.len));
		else
			continue;			/* JSON null: ->> gives NULL, LIKE no match */
		if (DatumGetBool(DirectFunctionCall2Coll(textlike, C_COLLATION_OID,
												 PointerGetDatum(ptext),
												 PointerGetDatum(r->pattern))))
			return i;
	}
	return -1;
}

/*
 * A rule's entry in lead.score_tally:
 *	[matched, points]                        plain rules
 *	[matched, points, null, null, windows]   rules with min_interval
 *	[matched, 0, sum, ref]                   decaying rules
 *	[matched, 0, sum, ref, windows]          both
 * windows: the counted windows (ascending; NULL once max_occurrences is
 * reached); sum: the decaying points' value at ref (microseconds since
 * 2000-01-01 UTC, the latest counted occurrence).
 */
typedef struct TallyEntry
{
	int32		matched;
	int32		points;
	bool		has_decay;
	double		sum;
	int64		ref;
	int			nwindows;
	int64	   *windows;
} TallyEntry;

static int32
jsonb_int32(JsonbValue *v)
{
	return v->type == jbvNumeric ?
		DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric))) : 0;
}

static int64
jsonb_int64(JsonbValue *v)
{
	return v->type == jbvNumeric ?
		DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric))) : 0;
}

/*
 * tally_entry
 *		Read a rule's entry of a lead's score_tally (zeros when absent).
 */
static void
tally_entry(Jsonb *tally, const char *key, TallyEntry *e)
{
	JsonbValue *v;
	JsonbContainer *arr;
	uint32		size;

	memset(e, 0, sizeof(*e));
	if (tally == NULL || !JB_ROOT_IS_OBJECT(tally))
		return;
	v = getKeyJsonValueFromContainer(&tally->root, key, strlen(key), NULL);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return;
	arr = v->val.binary.data;
	size = JsonContainerSize(arr);
	if (size < 2)
		return;
	e->matched = jsonb_int32(getIthJsonbValueFromContainer(arr, 0));
	e->points = jsonb_int32(getIthJsonbValueFromContainer(arr, 1));
	if (size >= 4)
	{
		JsonbValue *sum = getIthJsonbValueFromContainer(arr, 2);

		if (sum->type == jbvNumeric)
		{
			e->has_decay = true;
			e->sum = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														NumericGetDatum(sum->val.numeric)));
			e->ref = jsonb_int64(getIthJsonbValueFromContainer(arr, 3));
		}
	}
	if (size >= 5)
	{
		JsonbValue *w = getIthJsonbValueFromContainer(arr, 4);

		if (w->type == jbvBinary && JsonContainerIsArray(w->val.binary.data))
		{
			uint32		n = JsonContainerSize(w->val.binary.data);

			e->windows = palloc(sizeof(int64) * Max(n, 1));
			for (uint32 k = 0; k < n; k++)
				e->windows[e->nwindows++] =
					jsonb_int64(getIthJsonbValueFromContainer(w->val.binary.data, k));
		}
	}
}

/*
 * decay_factor
 *		2^((from - to) / half_life): what a point at time `from` is worth at
 *		time `to` (all in microseconds).
 */
static double
decay_factor(int64 from, int64 to, double half_life)
{
	return pow(2.0, (double) (from - to) / half_life);
}

static int	int64_cmp(const void *a, const void *b);
static int32 apply_caps(const LpBehaviourRule *r, int32 matched, int32 given, int32 n);

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/*
 * add_timed
 *		Count a batch's occurrences of a rule with min_interval or
 *		half_life into its tally entry; returns the (non-decaying) points
 *		gained.
 *
 * With min_interval, an occurrence counts when no occurrence of the same
 * window (time divided into min_interval slices from 2000-01-01 UTC) has
 * counted yet, and max_occurrences caps the counted windows, earliest
 * first; the occurrence of a window is dated at the window's start.  Which
 * windows count therefore does not depend on the order activities arrive
 * in.  With half_life, each counted occurrence adds its points to a sum
 * kept at a reference time (the latest occurrence), rescaled when the
 * reference moves: sum(ref) = sum of points * 2^((t - ref) / half_life).
 */
static int32
add_timed(const LpBehaviourRule *r, TallyEntry *e, RuleTimes *rt)
{
	int64	   *counted = palloc(sizeof(int64) * Max(rt->n, 1));
	int			nc = 0;
	int32		gained = 0;

	if (r->min_interval > 0)
	{
		int64	   *w = palloc(sizeof(int64) * Max(rt->n, 1));
		int			nw = 0;
		int64		allowed = PG_INT32_MAX;

		for (int k = 0; k < rt->n; k++)
			w[nw++] = floor_div(rt->t[k], r->min_interval);
		qsort(w, nw, sizeof(int64), int64_cmp);
		if (r->max_occurrences > 0)
			allowed = Max(0, (int64) r->max_occurrences - e->matched);
		for (int k = 0; k < nw && nc < allowed; k++)
		{
			if (k > 0 && w[k] == w[k - 1])
				continue;
			if (e->nwindows > 0 &&
				bsearch(&w[k], e->windows, e->nwindows, sizeof(int64), int64_cmp) != NULL)
				continue;
			counted[nc++] = w[k];
		}
		/* the counted windows join the entry's, kept sorted */
		if (nc > 0)
		{
			int64	   *merged = palloc(sizeof(int64) * (e->nwindows + nc));

			memcpy(merged, e->windows, sizeof(int64) * e->nwindows);
			memcpy(merged + e->nwindows, counted, sizeof(int64) * nc);
			qsort(merged, e->nwindows + nc, sizeof(int64), int64_cmp);
			e->windows = merged;
			e->nwindows += nc;
		}
		for (int k = 0; k < nc; k++)
			counted[k] *= r->min_interval;	/* dated at the window start */
	}
	else
	{
		memcpy(counted, rt->t, sizeof(int64) * rt->n);
		nc = rt->n;
	}

	if (r->half_life > 0)
	{
		for (int k = 0; k < nc; k++)
		{
			if (!e->has_decay || counted[k] > e->ref)
			{
				e->sum = (e->has_decay ? e->sum * decay_factor(e->ref, counted[k], r->half_life) : 0) +
					r->points;
				e->ref = counted[k];
				e->has_decay = true;
			}
			else
				e->sum += r->points * decay_factor(counted[k], e->ref, r->half_life);
		}
		e->matched += nc;
	}
	else
	{
		gained = apply_caps(r, e->matched, e->points, nc);
		e->matched += nc;
		e->points += gained;
	}
	return gained;
}

/*
 * push_entry
 *		Append a rule's tally entry to the jsonb being built.
 */
static void
push_entry(JsonbParseState **ps, const LpBehaviourRule *r, const TallyEntry *e)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) r->key;
	k.val.string.len = strlen(r->key);
	pushJsonbValue(ps, WJB_KEY, &k);
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(e->matched)));
	pushJsonbValue(ps, WJB_ELEM, &v);
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(e->points)));
	pushJsonbValue(ps, WJB_ELEM, &v);
	if (r->half_life > 0 || r->min_interval > 0)
	{
		JsonbValue	null;

		null.type = jbvNull;
		if (r->half_life > 0)
		{
			v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(e->sum)));
			pushJsonbValue(ps, WJB_ELEM, &v);
			v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(e->ref)));
			pushJsonbValue(ps, WJB_ELEM, &v);
		}
		else
		{
			pushJsonbValue(ps, WJB_ELEM, &null);
			pushJsonbValue(ps, WJB_ELEM, &null);
		}
		if (r->min_interval > 0)
		{
			if (r->max_occurrences > 0 && e->matched >= r->max_occurrences)
				pushJsonbValue(ps, WJB_ELEM, &null);
			else
			{
				pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < e->nwindows; i++)
				{
					v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric,
																		Int64GetDatum(e->windows[i])));
					pushJsonbValue(ps, WJB_ELEM, &v);
				}
				pushJsonbValue(ps, WJB_END_ARRAY, NULL);
			}
		}
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

/*
 * lp_decayed_total
 *		The decaying rules' points of a tally at as_of (microseconds), not
 *		rounded.  A reference later than as_of counts at its own value.
 */
double
lp_decayed_total(LpProcess *proc, Jsonb *tally, TimestampTz as_of)
{
	double		total = 0;

	for (int i = 0; i < proc->nbehaviourrules; i++)
	{
		const LpBehaviourRule *r = &proc->behaviourrules[i];
		TallyEntry	e;

		if (r->half_life <= 0)
			continue;
		tally_entry(tally, r->key, &e);
		if (e.has_decay)
			total += e.sum * decay_factor(e.ref, Max(e.ref, as_of), r->half_life);
	}
	return total;
}

/*
 * active_rule_key
 *		Whether a score_tally key belongs to an active behaviour rule.
 */
static bool
active_rule_key(LpProcess *proc, const char *key, int len)
{
	for (int i = 0; i < proc->nbehaviourrules; i++)
	{
		const char *k = proc->behaviourrules[i].key;

		if ((int) strlen(k) == len && memcmp(k, key, len) == 0)
			return true;
	}
	return false;
}

/*
 * apply_caps
 *		Points that n more matches of a rule give a lead that already had
 *		`matched` matches and `given` points from it.
 */
static int32
apply_caps(const LpBehaviourRule *r, int32 matched, int32 given, int32 n)
{
	int64		counted = n;
	int64		points;

	if (r->max_occurrences > 0)
		counted = Max(0, Min((int64) n, (int64) r->max_occurrences - matched));
	points = counted * r->points;
	if (r->max_points > 0)
	{
		/* the rule's total, in absolute value, stays within max_points */
		int64		total = given + points;

		if (total > r->max_points)
			points = r->max_points - given;
		else if (total < -r->max_points)
			points = -r->max_points - given;
	}
	return (int32) points;
}

static void activity_lead_missing(int64 lead_id, Relation rel) pg_attribute_noreturn();
/* An activity id and its lead */
typedef struct IdLead
{
	int64		id;
	int64		lead;
} IdLead;

static int
id_lead_cmp(const void *a, const void *b)
{
	const IdLead *x = (const IdLead *) a;
	const IdLead *y = (const IdLead *) b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->lead > y->lead) - (x->lead < y->lead);
}

static void queue_runs(IdLead *acts, int64 n, Datum *first_ids, Datum *last_ids,
					   Datum *lead_ids);

/*
 * A batch of activities being scored: the matches per lead and rule.  The
 * statement trigger fills it from the transition table, score_pending()
 * from the queue of deferred activities; score_batch_apply() then does
 * steps 2 and 3 described above, the same way for both.
 */
typedef struct ScoreBatch
{
	LpProcess  *proc;
	HTAB	   *leads;
	MemoryContext cxt;			/* where the batch's data lives */
	MemoryContext rowcxt;		/* reset after every row */
	int64		nrows;
	bool		keep_ids;		/* keep activity ids per lead (to requeue) */
	int64		requeued;		/* activities requeued by score_batch_apply */
	int64		dropped;		/* activities of leads deleted meanwhile */
} ScoreBatch;

static void
score_batch_init(ScoreBatch *b, LpProcess *proc)
{
	HASHCTL		ctl;

	b->proc = proc;
	b->cxt = CurrentMemoryContext;
	b->nrows = 0;
	b->keep_ids = false;
	b->requeued = 0;
	b->dropped = 0;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(LeadBatch);
	ctl.hcxt = b->cxt;
	b->leads = hash_create("lead_process activity batch", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	b->rowcxt = AllocSetContextCreate(b->cxt,
									  "lead_process activity row",
									  ALLOCSET_DEFAULT_SIZES);
}

/*
 * score_batch_add
 *		Match one activity to its first behaviour rule and count it for its
 *		lead.  type and props are the activity's columns (props may be NULL).
 */
static void
score_batch_add(ScoreBatch *b, int64 lead_id, int64 activity_id, TimestampTz at,
				Datum type, Datum props, bool props_null)
{
	LpProcess  *proc = b->proc;
	int			nrules = proc->nbehaviourrules;
	LeadBatch  *lb;
	bool		found;
	int			rule = -1;
	MemoryContext oldcxt = MemoryContextSwitchTo(b->cxt);

	b->nrows++;
	lb = hash_search(b->leads, &lead_id, HASH_ENTER, &found);
	if (!found)
	{
		lb->matches = NULL;
		lb->times = NULL;
		lb->last_at = at;
		lb->fast_track = -1;
		lb->fast_rule = -1;
		lb->acts = NULL;
		lb->nacts = 0;
		lb->capacts = 0;
	}
	else if (at > lb->last_at)
		lb->last_at = at;
	if (b->keep_ids)
	{
		if (lb->nacts == lb->capacts)
		{
			lb->capacts = Max(4, lb->capacts * 2);
			lb->acts = lb->acts ? repalloc(lb->acts, sizeof(int64) * lb->capacts) :
				palloc(sizeof(int64) * lb->capacts);
		}
		lb->acts[lb->nacts++] = activity_id;
	}
	if (nrules > 0)
	{
		/* matching allocates (detoasting, jsonb lookups): per row */
		MemoryContextSwitchTo(b->rowcxt);
		rule = match_rule(proc, DatumGetTextPP(type),
						  props_null ? NULL : DatumGetJsonbP(props));
		MemoryContextSwitchTo(b->cxt);
		MemoryContextReset(b->rowcxt);
	}
	if (rule >= 0)
	{
		int			ft = proc->behaviourrules[rule].fast_track_to;

		const LpBehaviourRule *r = &proc->behaviourrules[rule];

		if (lb->matches == NULL)
			lb->matches = palloc0(sizeof(int32) * nrules);
		lb->matches[rule]++;
		if (r->min_interval > 0 || r->half_life > 0)
		{
			RuleTimes  *rt;

			if (lb->times == NULL)
				lb->times = palloc0(sizeof(RuleTimes) * nrules);
			rt = &lb->times[rule];
			if (rt->n == rt->cap)
			{
				rt->cap = Max(4, rt->cap * 2);
				rt->t = rt->t ? repalloc(rt->t, sizeof(TimestampTz) * rt->cap) :
					palloc(sizeof(TimestampTz) * rt->cap);
			}
			rt->t[rt->n++] = at;
		}
		if (ft >= 0 && (lb->fast_track < 0 ||
						proc->stages[ft].position > proc->stages[lb->fast_track].position))
		{
			lb->fast_track = ft;
			lb->fast_rule = rule;
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

static SPIPlanPtr skip_lock_plan = NULL;
static SPIPlanPtr queue_plan = NULL;
static SPIPlanPtr exists_plan = NULL;

/*
 * queue_row_spi
 *		Insert one score_queue row through SPI (connected, as the owner).
 */
static void
queue_row_spi(Datum *values)
{
	Oid			argtypes[3] = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};

	lp_prepare_kept(&queue_plan,
					"INSERT INTO lead_process.score_queue (first_ids, last_ids, lead_ids) "
					"VALUES ($1, $2, $3)", 3, argtypes);
	if (SPI_execute_plan(queue_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "queueing activities failed");
}

/*
 * queue_runs
 *		The activities acts[0..n) (sorted here by id, then lead) as runs of
 *		consecutive ids of one lead: the three arrays of a score_queue row.
 *		activity.id alone need not be unique (clients may give ids), so a
 *		run names its lead.
 */
static void
queue_runs(IdLead *acts, int64 n, Datum *first_ids, Datum *last_ids,
		   Datum *lead_ids)
{
	Datum	   *firsts = palloc(sizeof(Datum) * n);
	Datum	   *lasts = palloc(sizeof(Datum) * n);
	Datum	   *leads = palloc(sizeof(Datum) * n);
	int			nruns = 0;

	qsort(acts, n, sizeof(IdLead), id_lead_cmp);
	for (int64 i = 0; i < n; i++)
	{
		if (nruns > 0 && DatumGetInt64(leads[nruns - 1]) == acts[i].lead &&
			DatumGetInt64(lasts[nruns - 1]) == acts[i].id - 1)
			lasts[nruns - 1] = Int64GetDatum(acts[i].id);
		else
		{
			firsts[nruns] = Int64GetDatum(acts[i].id);
			lasts[nruns] = Int64GetDatum(acts[i].id);
			leads[nruns] = Int64GetDatum(acts[i].lead);
			nruns++;
		}
	}
	*first_ids = PointerGetDatum(construct_array(firsts, nruns, INT8OID, 8,
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	*last_ids = PointerGetDatum(construct_array(lasts, nruns, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	*lead_ids = PointerGetDatum(construct_array(leads, nruns, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * requeue_locked
 *		Of the leads score_pending() could not lock, those that still exist
 *		are held by another transaction: queue their activities again, in
 *		one score_queue row.  The activities of those that do not exist any
 *		more went with their lead; they are counted in b->dropped.
 *		Connected to SPI, as the owner.  Returns how many activities it
 *		queued again.
 */
static int64
requeue_locked(ScoreBatch *b, int64 *gaps, int ngaps)
{
	Oid			argtypes[3] = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[3];
	Datum	   *elems = palloc(sizeof(Datum) * ngaps);
	IdLead	   *acts;
	int64		nacts = 0;
	int64		cap = 0;
	int64		gap_acts = 0;

	for (int i = 0; i < ngaps; i++)
	{
		LeadBatch  *lb = hash_search(b->leads, &gaps[i], HASH_FIND, NULL);

		elems[i] = Int64GetDatum(gaps[i]);
		if (lb != NULL)
			gap_acts += lb->nacts;
	}
	values[0] = PointerGetDatum(construct_array(elems, ngaps, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	lp_prepare_kept(&exists_plan,
					"SELECT l.id FROM lead_process.lead l "
					"WHERE l.id OPERATOR(pg_catalog.=) ANY ($1)", 1, argtypes);
	if (SPI_execute_plan(exists_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "looking up the skipped leads failed");
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row],
													 SPI_tuptable->tupdesc, 1, &isnull));
		LeadBatch  *lb = hash_search(b->leads, &id, HASH_FIND, NULL);

		if (lb != NULL)
			cap += lb->nacts;
	}
	b->dropped += gap_acts - cap;
	if (cap == 0)
		return 0;
	acts = palloc(sizeof(IdLead) * cap);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row],
													 SPI_tuptable->tupdesc, 1, &isnull));
		LeadBatch  *lb = hash_search(b->leads, &id, HASH_FIND, NULL);

		if (lb == NULL)
			continue;
		for (int i = 0; i < lb->nacts; i++)
		{
			acts[nacts].id = lb->acts[i];
			acts[nacts].lead = id;
			nacts++;
		}
	}
	queue_runs(acts, nacts, &values[0], &values[1], &values[2]);
	queue_row_spi(values);
	return nacts;
}

/*
 * lock_lead
 *		Find lead id through the primary key (scan: an index scan of it with
 *		the snapshot to read with, rescanned here) and lock it in mode, as a
 *		query locking rows would (ExecLockRows' rules): under READ COMMITTED
 *		the latest version, if it is still lead id; under REPEATABLE READ a
 *		concurrent change is a serialization failure.  Returns 1 when locked
 *		(the row in slot), 0 when the lead is not there, -1 when another
 *		transaction holds it (LockWaitSkip only).
 */
static int
lock_lead(Relation rel, IndexScanDesc scan, TupleTableSlot *slot,
		  AttrNumber att_id, int64 id, LockTupleMode mode, LockWaitPolicy wait,
		  int flags)
{
	ScanKeyData key;
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	r;
	bool		isnull;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	index_rescan(scan, &key, 1, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		return 0;
	tid = slot->tts_tid;
	if (!IsolationUsesXactSnapshot())
		flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
	r = table_tuple_lock(rel, &tid, scan->xs_snapshot, slot,
						 GetCurrentCommandId(false), mode, wait, flags, &tmfd);
	switch (r)
	{
		case TM_Ok:
			if (tmfd.traversed &&
				DatumGetInt64(slot_getattr(slot, att_id, &isnull)) != id)
				return 0;		/* its id changed meanwhile */
			return 1;
		case TM_WouldBlock:
			return -1;
		case TM_SelfModified:
			/* changed by this command or a later one: a query skips it */
			return 0;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						errmsg("could not serialize access due to concurrent update"),
						errdetail("Lead " INT64_FORMAT " was changed by another transaction.", id));
			/* READ COMMITTED follows the update chain: not reached */
			elog(ERROR, "unexpected concurrent update of lead " INT64_FORMAT, id);
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						errmsg("could not serialize access due to concurrent delete"),
						errdetail("Lead " INT64_FORMAT " was deleted by another transaction.", id));
			return 0;
		case TM_Invisible:
			elog(ERROR, "attempted to lock invisible tuple");
			break;
		default:
			elog(ERROR, "unexpected table_tuple_lock status: %u", r);
	}
	return 0;
}

/* The work of score_batch_apply shared by its two ways of writing leads */
typedef struct ApplyState
{
	ScoreBatch *b;
	bool		queued;
	Relation	errrel;
	int64	   *ids;			/* the batch's leads, in id order */
	int			nleads;
	MemoryContext leadcxt;		/* one lead's scoring; reset for the next */
	Promotion  *promotions;
	int			npromotions;
	int64	   *gaps;			/* queued: leads missing or held elsewhere */
	int			ngaps;
} ApplyState;

/*
 * keep_jsonb
 *		Copy a jsonb value one lead's scoring produced out of the lead's
 *		memory context (cleared for the next lead) into cxt.
 */
static Jsonb *
keep_jsonb(MemoryContext cxt, Jsonb *jb)
{
	Jsonb	   *copy = MemoryContextAlloc(cxt, VARSIZE(jb));

	memcpy(copy, jb, VARSIZE(jb));
	return copy;
}

/*
 * score_lead
 *		Score one locked lead, its row in slot (a row of lead): its new
 *		behaviour score and tally once the batch's matches are added within
 *		the caps, and the promotion or fast-track they ask for, which is
 *		added to st->promotions.  What this allocates lives in st->leadcxt,
 *		reset here first, except the promotion's details, which are copied
 *		into the caller's memory context; so is *newtally, until the next
 *		lead.  Returns the lead's fit_score.
 */
static int32
score_lead(ApplyState *st, LeadBatch *lb, TupleTableSlot *slot,
		   int32 *behaviour, Jsonb **newtally)
{
	LpProcess  *proc = st->b->proc;
	LpLeadColumns *col = &proc->lead;
	int			nrules = proc->nbehaviourrules;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	MemoryContext outcxt;
	bool		isnull;
	Datum		d;
	int32		score;
	Jsonb	   *tally;
	int32		fit;
	char	   *stage;
	TimestampTz changed_at;
	TimestampTz last_recycled;
	bool		recycled;
	JsonbParseState *ps = NULL;
	Jsonb	   *jb;
	int			from;
	TimestampTz at;
	Promotion  *p = &st->promotions[st->npromotions];

	MemoryContextReset(st->leadcxt);
	outcxt = MemoryContextSwitchTo(st->leadcxt);
	score = DatumGetInt32(slot_getattr(slot, col->behaviour_score, &isnull));
	d = slot_getattr(slot, col->score_tally, &isnull);
	tally = isnull ? NULL : DatumGetJsonbP(d);
	fit = DatumGetInt32(slot_getattr(slot, col->fit_score, &isnull));
	stage = TextDatumGetCString(slot_getattr(slot, col->stage, &isnull));
	changed_at = DatumGetTimestampTz(slot_getattr(slot, col->stage_changed_at, &isnull));
	d = slot_getattr(slot, col->last_recycled_at, &isnull);
	recycled = !isnull;
	last_recycled = isnull ? 0 : DatumGetTimestampTz(d);

	/* Build the new tally directly as jsonb: {"rule id": [matched, points]} */
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < nrules; i++)
	{
		const LpBehaviourRule *r = &proc->behaviourrules[i];
		TallyEntry	e;

		tally_entry(tally, r->key, &e);
		if (lb->matches[i] > 0)
		{
			if (lb->times != NULL && lb->times[i].n > 0)
				score += add_timed(r, &e, &lb->times[i]);
			else
			{
				int32		gained = apply_caps(r, e.matched, e.points, lb->matches[i]);

				e.matched += lb->matches[i];
				e.points += gained;
				score += gained;
			}
		}
		if (e.matched == 0)
			continue;
		push_entry(&ps, r, &e);
	}

	/*
	 * Entries of rules that are no longer active keep their points in
	 * behaviour_score until a rescore: keep them, so that the explanation
	 * still adds up.
	 */
	if (tally != NULL && JB_ROOT_IS_OBJECT(tally))
	{
		JsonbIterator *it = JsonbIteratorInit(&tally->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		bool		keep = false;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				keep = !active_rule_key(proc, v.val.string.val,
										v.val.string.len);
				if (keep)
					pushJsonbValue(&ps, WJB_KEY, &v);
			}
			else if (tok == WJB_VALUE && keep)
				pushJsonbValue(&ps, WJB_VALUE, &v);
		}
	}
	jb = JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
	*behaviour = score;
	*newtally = jb;

	/* A promotion or fast-track, dated at the lead's latest activity */
	from = lp_stage_find(proc, stage);
	at = Max(Min(lb->last_at, now), changed_at);
	if (from >= 0 && !proc->stages[from].is_terminal &&
		promotion_for(proc, lb, from, fit,
					  score + (int32) rint(lp_decayed_total(proc, jb, at)),
					  jb, at, last_recycled, recycled,
					  ExecFetchSlotHeapTuple(slot, false, NULL),
					  slot->tts_tupleDescriptor, p))
	{
		p->details = keep_jsonb(outcxt, p->details);
		st->npromotions++;
	}
	MemoryContextSwitchTo(outcxt);
	return fit;
}


/*
 * apply_by_query
 *		Lock the leads with SELECT ... FOR NO KEY UPDATE [SKIP LOCKED] and
 *		write the scores with one UPDATE: for a lead table that carries
 *		rules, forced row security or triggers of its own (whatever they do
 *		then happens as for any UPDATE).  Connected to SPI, as the owner.
 */
static void
apply_by_query(ApplyState *st, Relation rel)
{
	MemoryContext outcxt = CurrentMemoryContext;
	TupleTableSlot *rowslot = MakeSingleTupleTableSlot(RelationGetDescr(rel),
													   &TTSOpsHeapTuple);
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	Datum	   *elems = palloc(sizeof(Datum) * st->nleads);
	Datum	   *u_ids = palloc(sizeof(Datum) * st->nleads);
	Datum	   *u_scores = palloc(sizeof(Datum) * st->nleads);
	Datum	   *u_tallies = palloc(sizeof(Datum) * st->nleads);
	int			nupdates = 0;
	int			found = 0;
	SPITupleTable *locked;
	uint64		nlocked;

	for (int i = 0; i < st->nleads; i++)
		elems[i] = Int64GetDatum(st->ids[i]);
	values[0] = PointerGetDatum(construct_array(elems, st->nleads, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
#define LOCK_BATCH_LEADS \
	"SELECT l.id, l " \
	"FROM lead_process.lead l " \
	"WHERE l.id OPERATOR(pg_catalog.=) ANY ($1) " \
	"ORDER BY l.id FOR NO KEY UPDATE"
	if (!st->queued)
		lp_prepare_kept(&lock_plan, LOCK_BATCH_LEADS, 1, argtypes);
	else
		lp_prepare_kept(&skip_lock_plan, LOCK_BATCH_LEADS " SKIP LOCKED", 1, argtypes);
#undef LOCK_BATCH_LEADS
	if (SPI_execute_plan(st->queued ? skip_lock_plan : lock_plan, values, NULL,
						 false, 0) != SPI_OK_SELECT)
		elog(ERROR, "locking the leads of an activity batch failed");

	/* Keep the locked rows: checking a promotion runs queries of its own */
	locked = SPI_tuptable;
	nlocked = SPI_processed;
	for (uint64 row = 0; row < nlocked; row++)
	{
		HeapTuple	t = locked->vals[row];
		TupleDesc	td = locked->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
		LeadBatch  *lb;
		HeapTupleData whole;
		TupleDesc	wholedesc;
		int32		behaviour;
		Jsonb	   *tally;

		/* The rows come in id order: a gap is a missing (or skipped) lead */
		while (st->queued && found < st->nleads && st->ids[found] < id)
			st->gaps[st->ngaps++] = st->ids[found++];
		if (found >= st->nleads || st->ids[found] != id)
			break;				/* reported below */
		found++;

		lb = hash_search(st->b->leads, &id, HASH_FIND, NULL);
		if (lb == NULL || lb->matches == NULL)
			continue;
		/* the whole-row column has the table's row type */
		wholedesc = lp_row_tuple(DatumGetHeapTupleHeader(SPI_getbinval(t, td, 2, &isnull)),
								 &whole);
		ReleaseTupleDesc(wholedesc);
		ExecStoreHeapTuple(&whole, rowslot, false);
		(void) score_lead(st, lb, rowslot, &behaviour, &tally);
		ExecClearTuple(rowslot);
		u_ids[nupdates] = Int64GetDatum(id);
		u_scores[nupdates] = Int32GetDatum(behaviour);
		u_tallies[nupdates] = JsonbPGetDatum(keep_jsonb(outcxt, tally));
		nupdates++;
	}
	if (found < st->nleads && !st->queued)
		activity_lead_missing(st->ids[found], st->errrel);
	while (found < st->nleads)
		st->gaps[st->ngaps++] = st->ids[found++];

	/* One UPDATE for every lead whose score or tally changed */
	if (nupdates > 0)
	{
		Oid			uargtypes[3] = {INT8ARRAYOID, INT4ARRAYOID, JSONBARRAYOID};
		Datum		uvalues[3];
		uint64		updated;

		uvalues[0] = PointerGetDatum(construct_array(u_ids, nupdates, INT8OID, 8,
													 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		uvalues[1] = PointerGetDatum(construct_array(u_scores, nupdates, INT4OID, 4,
													 true, TYPALIGN_INT));
		uvalues[2] = PointerGetDatum(construct_array(u_tallies, nupdates, JSONBOID, -1,
													 false, TYPALIGN_INT));
		lp_prepare_kept(&update_plan,
						"UPDATE lead_process.lead l "
						"SET behaviour_score = u.b, "
						"score = l.fit_score OPERATOR(pg_catalog.+) u.b, "
						"score_tally = u.t "
						"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(id, b, t) "
						"WHERE l.id OPERATOR(pg_catalog.=) u.id", 3, uargtypes);
		updated = lp_run_scoring_update(update_plan, uvalues, NULL);
		if (updated != (uint64) nupdates)
			elog(ERROR, "scoring update wrote " UINT64_FORMAT " of %d leads", updated, nupdates);
	}
	ExecDropSingleTupleTableSlot(rowslot);
}

/*
 * lead_direct_ok
 *		Whether scored leads may be written directly (apply_direct): lead is
 *		a plain heap table, owned by the role scoring writes as, without
 *		rules or forced row security, whose only triggers are the
 *		extension's and its foreign keys'.  Cached with the process, which
 *		any change of lead's definition (a new trigger, say) resets.
 */
static bool
lead_direct_ok(LpProcess *proc, Relation rel)
{
#if PG_VERSION_NUM >= 140000
	if (proc->lead_direct == 0)
	{
		bool		ok = rel->rd_rel->relkind == RELKIND_RELATION &&
			rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
			rel->rd_rules == NULL &&
			!rel->rd_rel->relforcerowsecurity &&
			rel->rd_rel->relowner == proc->history_owner &&
			proc->lead.behaviour_score != InvalidAttrNumber;
		Oid			ext = get_extension_oid("lead_process", true);

		for (int i = 0; ok && rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
		{
			const Trigger *trig = &rel->trigdesc->triggers[i];

			ok = (trig->tgisinternal && OidIsValid(trig->tgconstraint)) ||
				getExtensionOfObject(ProcedureRelationId, trig->tgfoid) == ext;
		}
		proc->lead_direct = ok ? 1 : -1;
	}
	return proc->lead_direct > 0;
#else
	return false;
#endif
}

#if PG_VERSION_NUM >= 140000
/*
 * apply_direct
 *		Lock each lead and write its new score right away, through the
 *		executor's single-row update (ExecSimpleRelationUpdate, as logical
 *		replication applies a change): the lead's BEFORE trigger, CHECK
 *		constraints, index entries and queued AFTER triggers as for an
 *		UPDATE, without planning and running an UPDATE ... FROM over the
 *		batch (two index descents and two row visits per lead instead of
 *		one: the lock query and the join).  Connected to SPI, as the owner.
 */
static void
apply_direct(ApplyState *st, Relation rel)
{
	LpProcess  *proc = st->b->proc;
	LpLeadColumns *col = &proc->lead;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext outcxt = CurrentMemoryContext;
	int			cols[3] = {col->behaviour_score, col->score, col->score_tally};
	Bitmapset  *updated = NULL;
	bool		save = lp_scoring_update;
	RangeTblEntry *rte;
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epq;
	TupleTableSlot *locked;
	TupleTableSlot *newslot;
	Relation	pkey;
	IndexScanDesc scan;

	/* what a query at this point would see (as SPI would) */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();

	for (int i = 0; i < 3; i++)
		updated = bms_add_member(updated, cols[i] - FirstLowInvalidHeapAttributeNumber);
	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *perm = makeNode(RTEPermissionInfo);

		perm->relid = RelationGetRelid(rel);
		perm->requiredPerms = ACL_UPDATE;
		perm->updatedCols = updated;
		rte->perminfoindex = 1;
		ExecInitRangeTable(estate, list_make1(rte), list_make1(perm));
	}
#else
	rte->requiredPerms = ACL_UPDATE;
	rte->updatedCols = updated;
	ExecInitRangeTable(estate, list_make1(rte));
#endif
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	estate->es_opened_result_relations = lappend(estate->es_opened_result_relations, rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = GetActiveSnapshot();
	ExecOpenIndices(rri, false);
	/* resultRelations: from 16 (checked against 16.2 and 17.4 headers) */
#if PG_VERSION_NUM >= 160000
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1, NIL);
#else
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
#endif
	locked = ExecInitExtraTupleSlot(estate, desc, table_slot_callbacks(rel));
	newslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsHeapTuple);
	pkey = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	scan = index_beginscan(rel, pkey, estate->es_snapshot, 1, 0);
	AfterTriggerBeginQuery();

	PG_TRY();
	{
		lp_scoring_update = true;
		for (int i = 0; i < st->nleads; i++)
		{
			int64		id = st->ids[i];
			LeadBatch  *lb = hash_search(st->b->leads, &id, HASH_FIND, NULL);
			int32		fit;
			int32		behaviour;
			Jsonb	   *tally;
			Datum		values[3];
			bool		nulls[3] = {false, false, false};
			int			r;

			CHECK_FOR_INTERRUPTS();
			/* queued: the insert proved the lead; nothing matched, nothing to do */
			if (st->queued && (lb == NULL || lb->matches == NULL))
				continue;
			r = lock_lead(rel, scan, locked, col->id, id, LockTupleNoKeyExclusive,
						  st->queued ? LockWaitSkip : LockWaitBlock, 0);
			if (r == 0 && !st->queued)
				activity_lead_missing(id, st->errrel);
			if (r <= 0)
			{
				st->gaps[st->ngaps++] = id;
				continue;
			}
			if (lb == NULL || lb->matches == NULL)
				continue;

			fit = score_lead(st, lb, locked, &behaviour, &tally);

			/* score = fit_score + behaviour_score, as the UPDATE writes it */
			MemoryContextSwitchTo(st->leadcxt);
			values[0] = Int32GetDatum(behaviour);
			values[1] = Int32GetDatum(fit + behaviour);
			values[2] = JsonbPGetDatum(tally);
			ExecStoreHeapTuple(heap_modify_tuple_by_cols(ExecFetchSlotHeapTuple(locked, false, NULL),
														 desc, 3, cols, values, nulls),
							   newslot, false);
			EvalPlanQualSetSlot(&epq, newslot);
			ExecSimpleRelationUpdate(rri, estate, &epq, locked, newslot);
			ExecClearTuple(newslot);
			ResetPerTupleExprContext(estate);
			MemoryContextSwitchTo(outcxt);
		}
	}
	PG_FINALLY();
	{
		lp_scoring_update = save;
	}
	PG_END_TRY();

	index_endscan(scan);
	index_close(pkey, AccessShareLock);
	EvalPlanQualEnd(&epq);
	ExecCloseIndices(rri);
	AfterTriggerEndQuery(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	PopActiveSnapshot();
	/* what lead_history_flush does at the end of an UPDATE statement */
	lp_lead_flush_buffered(proc);
}
#endif

/*
 * score_batch_apply
 *		Lock the batch's leads in id order, add the points within the caps,
 *		write each changed lead once and make the promotions that the new
 *		scores and fast-track rules ask for.  A lead that does not exist is
 *		an error (errrel names the table in it).
 *
 *		For score_pending() (queued): a lead that does not exist is skipped
 *		(the activities of a lead deleted since they were queued went with
 *		it), and a lead that another transaction holds is not waited for
 *		(SKIP LOCKED): its activities are queued again for the next call, so
 *		that the fold, like the rest of sweep(), never waits for a CRM
 *		transaction and cannot deadlock on leads.
 *
 *		Not connected to SPI on entry.
 */
static void
score_batch_apply(ScoreBatch *b, bool queued, Relation errrel)
{
	LpProcess  *proc = b->proc;
	HTAB	   *leads = b->leads;
	ApplyState	st;
	HASH_SEQ_STATUS seq;
	LeadBatch  *lb;
	Oid			save_userid;
	int			save_sec;
	Relation	rel;

	st.nleads = (int) hash_get_num_entries(leads);
	if (st.nleads == 0)
		return;
	st.b = b;
	st.queued = queued;
	st.errrel = errrel;
	st.ids = palloc(sizeof(int64) * st.nleads);
	st.nleads = 0;
	hash_seq_init(&seq, leads);
	while ((lb = hash_seq_search(&seq)) != NULL)
		st.ids[st.nleads++] = lb->lead_id;
	qsort(st.ids, st.nleads, sizeof(int64), int64_cmp);

	/* 2. and 3. Lock the leads in id order and score them, as the owner */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	st.promotions = palloc(sizeof(Promotion) * st.nleads);
	st.npromotions = 0;
	st.gaps = palloc(sizeof(int64) * st.nleads);
	st.ngaps = 0;

	/*
	 * What one lead's scoring allocates (the tally's jsonb values, detoasted
	 * copies) lives until the next lead: a batch of 20,000 leads otherwise
	 * grew by tens of megabytes, and first touching fresh memory took a
	 * fifth of score_pending().  The new tally and a promotion's details are
	 * copied out.
	 */
	st.leadcxt = AllocSetContextCreate(CurrentMemoryContext,
									   "lead_process lead scoring",
									   ALLOCSET_DEFAULT_SIZES);
	rel = table_open(proc->lead_relid, RowExclusiveLock);
#if PG_VERSION_NUM >= 140000
	if (lead_direct_ok(proc, rel))
		apply_direct(&st, rel);
	else
#endif
		apply_by_query(&st, rel);
	table_close(rel, NoLock);
	MemoryContextDelete(st.leadcxt);
	if (st.ngaps > 0)
		b->requeued = requeue_locked(b, st.gaps, st.ngaps);

	/* Stage changes, all in one UPDATE */
	if (st.npromotions > 0)
	{
		int			n = st.npromotions;
		int64	   *m_ids = palloc(sizeof(int64) * n);
		const char **m_stages = palloc(sizeof(char *) * n);
		TimestampTz *m_ats = palloc(sizeof(TimestampTz) * n);
		const char **m_causes = palloc(sizeof(char *) * n);
		Jsonb	  **m_details = palloc(sizeof(Jsonb *) * n);

		for (int i = 0; i < n; i++)
		{
			m_ids[i] = st.promotions[i].lead_id;
			m_stages[i] = proc->stages[st.promotions[i].to].name;
			m_ats[i] = st.promotions[i].at;
			m_causes[i] = st.promotions[i].cause;
			m_details[i] = st.promotions[i].details;
		}

		/*
		 * In the trigger, as the role that inserted the activities: the
		 * history names it.  In score_pending(), as the owner: the inserting
		 * roles are not known any more, and the caller (a sweep, or a rep
		 * under row-level security) may not see every lead it scores.
		 */
		if (!queued)
			SetUserIdAndSecContext(save_userid, save_sec);
		lp_move_leads(n, m_ids, m_stages, m_ats, m_causes, m_details);
		SetUserIdAndSecContext(proc->history_owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * activity_lead_missing
 *		The error for an activity whose lead does not exist.
 */
static void
activity_lead_missing(int64 lead_id, Relation rel)
{
	ereport(ERROR,
			errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			errmsg("lead " INT64_FORMAT " does not exist", lead_id),
			errdetail("An activity was inserted for lead " INT64_FORMAT ", which is not in lead_process.lead.",
					  lead_id),
			errhint("Insert the lead first, in the same transaction if need be."),
			rel ? errtable(rel) : 0);
}

/*
 * check_activity_type
 *		An activity's type must not be empty.  From 1.1 this is checked here
 *		rather than by a CHECK constraint: PostgreSQL prepares a table's
 *		CHECK expressions again for every statement, which cost a single-row
 *		INSERT about 3 us (a sixth of the deferred insert); the trigger reads
 *		the rows anyway.  UPDATEs are checked by activity_type_set.
 */
static inline void
check_activity_type(Datum type, TupleTableSlot *slot, AttrNumber att_id,
					AttrNumber att_lead, AttrNumber att_type, Relation rel)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(type);
	bool		isnull;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return;					/* compressed or toasted: not empty */
	if (VARSIZE_ANY_EXHDR(v) > 0)
		return;
	ereport(ERROR,
			errcode(ERRCODE_CHECK_VIOLATION),
			errmsg("activity type must not be empty"),
			errdetail("Activity " INT64_FORMAT " of lead " INT64_FORMAT " has type ''.",
					  DatumGetInt64(slot_getattr(slot, att_id, &isnull)),
					  DatumGetInt64(slot_getattr(slot, att_lead, &isnull))),
			errhint("Give the activity a type such as page_view or form_submit."),
			errtablecol(rel, att_type));
}

/*
 * queue_is_plain
 *		Whether score_queue is as the extension creates it (a heap, these
 *		columns, no index, trigger, rule or row security): then its rows are
 *		written and taken directly; if somebody changed that, through SPI,
 *		which honours whatever they added.
 */
static bool
queue_is_plain(Relation queue)
{
	TupleDesc	qdesc = RelationGetDescr(queue);

	return queue->rd_rel->relam == HEAP_TABLE_AM_OID &&
		!queue->rd_rel->relhasindex &&
		queue->trigdesc == NULL &&
		queue->rd_rules == NULL &&
		!queue->rd_rel->relrowsecurity &&
		qdesc->natts == 4 &&
		strcmp(NameStr(TupleDescAttr(qdesc, 0)->attname), "first_ids") == 0 &&
		strcmp(NameStr(TupleDescAttr(qdesc, 1)->attname), "last_ids") == 0 &&
		strcmp(NameStr(TupleDescAttr(qdesc, 2)->attname), "lead_ids") == 0 &&
		strcmp(NameStr(TupleDescAttr(qdesc, 3)->attname), "queued_at") == 0;
}

/*
 * queue_activities
 *		The deferred path of the activity trigger: lock the statement's leads
 *		FOR KEY SHARE in id order (proving they exist; deleting a lead waits
 *		for the writer's commit, then takes its activities with it), and
 *		queue the activities in one score_queue row.  With the process cache
 *		warm and score_queue as the extension made it, no SPI: this is the
 *		whole cost of a deferred single-row insert.
 */
static void
queue_activities(LpProcess *proc, TriggerData *trigdata, TupleTableSlot *slot,
				 AttrNumber att_id, AttrNumber att_lead, AttrNumber att_type)
{
	int64		nacts = 0;
	int64		cap = 64;
	IdLead	   *acts = palloc(sizeof(IdLead) * cap);
	int64	   *leads = palloc(sizeof(int64) * cap);
	int			nleads = 0;
	Relation	lead;
	Relation	pkey;
	Relation	queue;
	TupleTableSlot *leadslot;
	IndexScanDesc scan;

	/* the trigger comes with 1.1, as score_queue does */
	if (!OidIsValid(proc->score_queue_relid))
		elog(ERROR, "lead_process.score_queue not found");

	while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, slot))
	{
		bool		isnull;

		if (nacts == cap)
		{
			if (cap >= (int64) (MaxAllocSize / sizeof(IdLead)) / 2)
				ereport(ERROR,
						errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("too many activities in one statement to queue"),
						errdetail("At most " INT64_FORMAT " activities can be queued by one statement.", cap),
						errhint("Split the load into several statements, or load it with lead_process.defer_scoring off."));
			cap *= 2;
			acts = repalloc(acts, sizeof(IdLead) * cap);
			leads = repalloc(leads, sizeof(int64) * cap);
		}
		check_activity_type(slot_getattr(slot, att_type, &isnull), slot, att_id,
							att_lead, att_type, trigdata->tg_relation);
		acts[nacts].id = DatumGetInt64(slot_getattr(slot, att_id, &isnull));
		acts[nacts].lead = DatumGetInt64(slot_getattr(slot, att_lead, &isnull));
		leads[nacts] = acts[nacts].lead;
		nacts++;
	}
	if (nacts == 0)
		return;
	qsort(leads, nacts, sizeof(int64), int64_cmp);
	for (int64 i = 0; i < nacts; i++)
		if (nleads == 0 || leads[nleads - 1] != leads[i])
			leads[nleads++] = leads[i];

	/*
	 * The leads, in id order, read as a query of this point of the
	 * statement would read them (what SPI would do: own changes visible, the
	 * transaction snapshot under REPEATABLE READ, a new one otherwise).
	 */
	lead = table_open(proc->lead_relid, RowShareLock);
	pkey = index_open(RelationGetPrimaryKeyIndex(lead), AccessShareLock);
	leadslot = table_slot_create(lead, NULL);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	scan = index_beginscan(lead, pkey, GetActiveSnapshot(), 1, 0);
	for (int i = 0; i < nleads; i++)
	{
		CHECK_FOR_INTERRUPTS();
		/* the foreign key check's lock, waiting for an update in progress */
		if (lock_lead(lead, scan, leadslot, proc->lead.id, leads[i], LockTupleKeyShare,
					  LockWaitBlock, TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS) != 1)
			activity_lead_missing(leads[i], trigdata->tg_relation);
	}
	index_endscan(scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(leadslot);
	index_close(pkey, AccessShareLock);
	table_close(lead, NoLock);

	/*
	 * The queue row: the activities as runs of consecutive ids of one lead
	 * (a COPY of one lead's activities without concurrent writers is one
	 * run), written directly or through SPI (queue_is_plain).
	 */
	queue = table_open(proc->score_queue_relid, RowExclusiveLock);
	{
		Datum		values[3];
		TupleDesc	qdesc = RelationGetDescr(queue);

		queue_runs(acts, nacts, &values[0], &values[1], &values[2]);
		if (queue_is_plain(queue))
		{
			Datum		row[4];
			bool		nulls[4] = {false, false, false, false};
			HeapTuple	tup;

			row[0] = values[0];
			row[1] = values[1];
			row[2] = values[2];
			row[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			tup = heap_form_tuple(qdesc, row, nulls);
			simple_heap_insert(queue, tup);
			heap_freetuple(tup);
		}
		else
		{
			Oid			save_userid;
			int			save_sec;

			GetUserIdAndSecContext(&save_userid, &save_sec);
			SetUserIdAndSecContext(proc->history_owner,
								   save_sec | SECURITY_LOCAL_USERID_CHANGE);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			queue_row_spi(values);
			SPI_finish();
			SetUserIdAndSecContext(save_userid, save_sec);
		}
	}
	table_close(queue, NoLock);
}

/*
 * lp_activity_score_trigger
 *		AFTER INSERT FOR EACH STATEMENT on activity, REFERENCING NEW TABLE.
 *
 * With lead_process.defer_scoring off (the default) the statement's
 * activities are scored at once (score_batch_apply).  With it on, the
 * trigger only proves that the leads exist, holding a KEY SHARE lock on
 * each until commit (the lock a foreign key check takes: concurrent
 * writers for one lead do not wait for each other), and queues the
 * activities in score_queue; score_pending() scores them later.
 */
PG_FUNCTION_INFO_V1(lp_activity_score_trigger);
Datum
lp_activity_score_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	LpProcess  *proc;
	TupleDesc	tupdesc;
	TupleTableSlot *slot;
	AttrNumber	att_id,
				att_lead,
				att_type,
				att_props,
				att_at;
	ScoreBatch	b;

	lp_check_trigger(fcinfo, "activity_score_trigger", false, false,
					 LP_TRIG_INSERT);
	if (trigdata->tg_newtable == NULL)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired with REFERENCING NEW TABLE",
					   "activity_score_trigger"));
	proc = lp_process_get();
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	att_id = SPI_fnumber(tupdesc, "id");
	att_lead = SPI_fnumber(tupdesc, "lead_id");
	att_type = SPI_fnumber(tupdesc, "type");
	att_props = SPI_fnumber(tupdesc, "properties");
	att_at = SPI_fnumber(tupdesc, "occurred_at");
	if (att_id <= 0 || att_lead <= 0 || att_type <= 0 || att_props <= 0 || att_at <= 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired for table \"lead_process.activity\"",
					   "activity_score_trigger"));

	slot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsMinimalTuple);
	tuplestore_rescan(trigdata->tg_newtable);
	if (lp_defer_scoring)
	{
		queue_activities(proc, trigdata, slot, att_id, att_lead, att_type);
		ExecDropSingleTupleTableSlot(slot);
		return PointerGetDatum(NULL);
	}

	/* 1. Count matches per lead and rule */
	score_batch_init(&b, proc);
	while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, slot))
	{
		bool		isnull;
		bool		props_null;
		int64		lead_id = DatumGetInt64(slot_getattr(slot, att_lead, &isnull));
		TimestampTz at = DatumGetTimestampTz(slot_getattr(slot, att_at, &isnull));
		Datum		type = slot_getattr(slot, att_type, &isnull);
		Datum		props = slot_getattr(slot, att_props, &props_null);

		check_activity_type(type, slot, att_id, att_lead, att_type,
							trigdata->tg_relation);
		score_batch_add(&b, lead_id, 0, at, type, props, props_null);
	}
	ExecDropSingleTupleTableSlot(slot);

	/* 2. and 3. */
	score_batch_apply(&b, false, trigdata->tg_relation);
	hash_destroy(b.leads);
	MemoryContextDelete(b.rowcxt);
	return PointerGetDatum(NULL);
}

static SPIPlanPtr dequeue_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static SPIPlanPtr span_plan = NULL;

/* A run of consecutive queued activity ids */
typedef struct IdRun
{
	int64		first;
	int64		last;
	int64		lead;
} IdRun;

static int
id_run_cmp(const void *a, const void *b)
{
	int64		x = ((const IdRun *) a)->first;
	int64		y = ((const IdRun *) b)->first;

	return (x > y) - (x < y);
}

/* The runs of activity ids taken from score_queue */
typedef struct QueueRuns
{
	IdRun	   *runs;
	int64		n;
	int64		cap;
	MemoryContext cxt;			/* where runs lives */
} QueueRuns;

/*
 * add_queue_row
 *		Append the runs of one score_queue row (its three arrays).
 */
static void
add_queue_row(QueueRuns *q, Datum *cols, bool *colnulls)
{
	Datum	   *elems[3];
	bool	   *enulls[3];
	int			n[3];

	for (int col = 0; col < 3; col++)
	{
		if (colnulls[col])
			elog(ERROR, "score_queue row with NULL ids");
		deconstruct_array(DatumGetArrayTypeP(cols[col]), INT8OID, 8, FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &elems[col], &enulls[col], &n[col]);
	}
	if (n[0] != n[1] || n[0] != n[2])
		elog(ERROR, "score_queue row with arrays of different lengths");
	for (int i = 0; i < n[0]; i++)
	{
		if (enulls[0][i] || enulls[1][i] || enulls[2][i])
			elog(ERROR, "score_queue row with NULL ids");
		if (q->n == q->cap)
		{
			if (q->cap >= (int64) (MaxAllocSize / sizeof(IdRun)) / 2)
				ereport(ERROR,
						errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("too many queued runs of activities to score at once"),
						errhint("Pass max_statements to score the queue in parts."));
			q->cap = Max(64, q->cap * 2);
			q->runs = q->runs ? repalloc(q->runs, sizeof(IdRun) * q->cap) :
				MemoryContextAlloc(q->cxt, sizeof(IdRun) * q->cap);
		}
		q->runs[q->n].first = DatumGetInt64(elems[0][i]);
		q->runs[q->n].last = DatumGetInt64(elems[1][i]);
		q->runs[q->n].lead = DatumGetInt64(elems[2][i]);
		if (q->runs[q->n].last < q->runs[q->n].first)
			elog(ERROR, "score_queue row with a run that ends before it starts");
		q->n++;
	}
	for (int col = 0; col < 3; col++)
	{
		pfree(elems[col]);
		pfree(enulls[col]);
	}
}

/*
 * take_queue_direct
 *		Take up to limit (all if -1) score_queue rows that no other
 *		transaction holds: read the table, lock each row FOR UPDATE SKIP
 *		LOCKED, keep its runs and delete it.  A row another score_pending()
 *		holds, or took since the snapshot, is skipped.  One pass over the
 *		table whatever its size: the query this replaces (DELETE ... WHERE
 *		ctid = ANY (ARRAY(SELECT ... FOR UPDATE SKIP LOCKED))) was planned
 *		as a scan comparing every row with every taken ctid once autovacuum
 *		had found the queue nearly empty, quadratic in the backlog: under
 *		load a call that fell behind took ever longer.
 */
static void
take_queue_direct(Relation queue, int64 limit, QueueRuns *q)
{
	TableScanDesc scan;
	TupleTableSlot *slot = table_slot_create(queue, NULL);
	TupleTableSlot *locked = table_slot_create(queue, NULL);
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "lead_process queue row",
												 ALLOCSET_DEFAULT_SIZES);
	int64		taken = 0;

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	scan = table_beginscan(queue, GetActiveSnapshot(), 0, NULL);
	while ((limit < 0 || taken < limit) &&
		   table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		Datum		cols[3];
		bool		colnulls[3];
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		if (table_tuple_lock(queue, &tid, GetActiveSnapshot(), locked,
							 GetCurrentCommandId(false), LockTupleExclusive,
							 LockWaitSkip, 0, &tmfd) != TM_Ok)
			continue;			/* held or taken by another call */
		oldcxt = MemoryContextSwitchTo(rowcxt);
		for (int col = 0; col < 3; col++)
			cols[col] = slot_getattr(locked, col + 1, &colnulls[col]);
		MemoryContextSwitchTo(oldcxt);
		add_queue_row(q, cols, colnulls);
		MemoryContextReset(rowcxt);
		simple_heap_delete(queue, &tid);
		taken++;
	}
	table_endscan(scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(locked);
	MemoryContextDelete(rowcxt);
}

/*
 * take_queue_spi
 *		As take_queue_direct, through a query, for a score_queue that is not
 *		as the extension made it (its triggers fire, its index is used).
 *		Connected to SPI, as the owner.
 */
static void
take_queue_spi(int64 limit, QueueRuns *q)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char		nulls[1];

	values[0] = Int64GetDatum(limit);
	nulls[0] = limit < 0 ? 'n' : ' ';
	lp_prepare_kept(&dequeue_plan,
					"DELETE FROM lead_process.score_queue q "
					"WHERE q.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					"SELECT s.ctid FROM lead_process.score_queue s "
					"LIMIT $1 FOR UPDATE SKIP LOCKED)) "
					"RETURNING q.first_ids, q.last_ids, q.lead_ids", 1, argtypes);
	if (SPI_execute_plan(dequeue_plan, values, nulls, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "taking queued activities failed");
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		Datum		cols[3];
		bool		colnulls[3];

		for (int col = 0; col < 3; col++)
			cols[col] = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
									  col + 1, &colnulls[col]);
		add_queue_row(q, cols, colnulls);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * lp_score_pending
 *		score_pending(max_statements integer DEFAULT NULL) returns bigint
 *
 * Scores the activities that statements with lead_process.defer_scoring on
 * queued: takes (and deletes) up to max_statements queue rows, all when
 * NULL, skipping rows another score_pending() holds, reads their
 * activities and scores them exactly as the trigger would have
 * (score_batch_apply: leads locked in id order, caps, promotions dated at
 * the lead's latest activity).  Activities of leads deleted meanwhile are
 * gone with their leads and are skipped.  Returns how many activities it
 * scored.
 */
PG_FUNCTION_INFO_V1(lp_score_pending);
Datum
lp_score_pending(PG_FUNCTION_ARGS)
{
	LpProcess  *proc = lp_process_get();
	ScoreBatch	b;
	Oid			save_userid;
	int			save_sec;
	int64		limit = PG_ARGISNULL(0) ? -1 : (int64) PG_GETARG_INT32(0);
	IdRun	   *runs = NULL;
	int64		nruns = 0;

	if (!PG_ARGISNULL(0) && PG_GETARG_INT32(0) < 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("max_statements must be at least 1"),
				errhint("Pass NULL to score every queued statement."));
	score_batch_init(&b, proc);
	b.keep_ids = true;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(proc->history_owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		QueueRuns	q;
		Relation	queue;

		q.runs = NULL;
		q.n = 0;
		q.cap = 0;
		q.cxt = b.cxt;
		/* score_pending() comes with 1.1, as score_queue does */
		if (!OidIsValid(proc->score_queue_relid))
			elog(ERROR, "lead_process.score_queue not found");
		queue = table_open(proc->score_queue_relid, RowExclusiveLock);
		if (queue_is_plain(queue))
			take_queue_direct(queue, limit, &q);
		else
			take_queue_spi(limit, &q);
		table_close(queue, NoLock);
		runs = q.runs;
		nruns = q.n;

		if (nruns > 0)
		{
			Portal		portal;
			double		total = 0;
			bool		dense;
			int64		k = 0;

			for (int64 i = 0; i < nruns; i++)
				total += (double) runs[i].last - (double) runs[i].first + 1;
			qsort(runs, nruns, sizeof(IdRun), id_run_cmp);

			/*
			 * Many short runs close together (single-row inserts queue one id
			 * each): read the span in id order and keep the queued
			 * activities, one index range scan instead of one per run.
			 * Otherwise one range scan per run.
			 */
			dense = nruns > 16 &&
				((double) runs[nruns - 1].last - (double) runs[0].first) / 4 < total;
			if (dense)
			{
				Oid			argtypes2[2] = {INT8OID, INT8OID};
				Datum		values2[2];
				int64		hi = runs[0].last;

				for (int64 i = 1; i < nruns; i++)
					hi = Max(hi, runs[i].last);
				values2[0] = Int64GetDatum(runs[0].first);
				values2[1] = Int64GetDatum(hi);
				lp_prepare_kept(&span_plan,
								"SELECT a.lead_id, a.occurred_at, a.type, a.properties, a.id "
								"FROM lead_process.activity a "
								"WHERE a.id OPERATOR(pg_catalog.>=) $1 "
								"AND a.id OPERATOR(pg_catalog.<=) $2 "
								"ORDER BY a.id", 2, argtypes2);
				portal = SPI_cursor_open(NULL, span_plan, values2, NULL, false);
			}
			else
			{
				Oid			argtypes2[3] = {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
				Datum		values2[3];
				Datum	   *f = palloc(sizeof(Datum) * nruns);
				Datum	   *l = palloc(sizeof(Datum) * nruns);
				Datum	   *d = palloc(sizeof(Datum) * nruns);

				for (int64 i = 0; i < nruns; i++)
				{
					f[i] = Int64GetDatum(runs[i].first);
					l[i] = Int64GetDatum(runs[i].last);
					d[i] = Int64GetDatum(runs[i].lead);
				}
				values2[0] = PointerGetDatum(construct_array(f, nruns, INT8OID, 8,
															 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
				values2[1] = PointerGetDatum(construct_array(l, nruns, INT8OID, 8,
															 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
				values2[2] = PointerGetDatum(construct_array(d, nruns, INT8OID, 8,
															 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
				lp_prepare_kept(&pending_plan,
								"SELECT a.lead_id, a.occurred_at, a.type, a.properties, a.id "
								"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
								"pg_catalog.unnest($3)) AS r(first_id, last_id, lead_id) "
								"JOIN lead_process.activity a "
								"ON a.id OPERATOR(pg_catalog.>=) r.first_id "
								"AND a.id OPERATOR(pg_catalog.<=) r.last_id "
								"AND a.lead_id OPERATOR(pg_catalog.=) r.lead_id", 3, argtypes2);
				portal = SPI_cursor_open(NULL, pending_plan, values2, NULL, false);
			}
			for (;;)
			{
				SPI_cursor_fetch(portal, true, 10000);
				if (SPI_processed == 0)
					break;
				for (uint64 row = 0; row < SPI_processed; row++)
				{
					HeapTuple	t = SPI_tuptable->vals[row];
					TupleDesc	td = SPI_tuptable->tupdesc;
					bool		isnull;
					bool		props_null;
					int64		id = DatumGetInt64(SPI_getbinval(t, td, 5, &isnull));
					int64		lead_id = DatumGetInt64(SPI_getbinval(t, td, 1, &isnull));
					TimestampTz at;
					Datum		type;
					Datum		props;

					if (dense)
					{
						bool		queued = false;

						/*
						 * Rows come in id order; runs are sorted by their first
						 * id.  Runs are disjoint unless clients gave the same
						 * id to activities of different leads, so the scan
						 * below is one step in practice.
						 */
						while (k < nruns && runs[k].last < id)
							k++;
						for (int64 j = k; j < nruns && runs[j].first <= id; j++)
						{
							if (runs[j].last >= id && runs[j].lead == lead_id)
							{
								queued = true;
								break;
							}
						}
						if (!queued)
							continue;	/* another statement's */
					}
					at = DatumGetTimestampTz(SPI_getbinval(t, td, 2, &isnull));
					type = SPI_getbinval(t, td, 3, &isnull);
					props = SPI_getbinval(t, td, 4, &props_null);
					score_batch_add(&b, lead_id, id, at, type, props, props_null);
				}
				SPI_freetuptable(SPI_tuptable);
			}
			SPI_cursor_close(portal);
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);

	if (b.nrows > 0)
		score_batch_apply(&b, true, NULL);
	PG_RETURN_INT64(b.nrows - b.requeued - b.dropped);
}

/*
 * lp_rescore_behaviour
 *		rescore_behaviour(lead_id bigint DEFAULT NULL) returns bigint
 *
 * Recompute behaviour_score and score_tally from the activities, for one
 * lead or all, after behaviour rules changed.  Caps do not depend on the
 * order of activities, so one set-based aggregate gives exactly what the
 * trigger gave incrementally.  The leads are locked in id order first (the
 * order the activity trigger uses), then only leads whose values change are
 * written.  Activities still in score_queue are left out: score_pending()
 * adds them later, and counting them here too would count them twice.
 * Returns how many changed.
 */
PG_FUNCTION_INFO_V1(lp_rescore_behaviour);
Datum
lp_rescore_behaviour(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char		nulls[1];
	uint64		changed;
	SPIPlanPtr	plan;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	(void) lp_process_get();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * Not kept: planned for the argument at hand, so that one lead's rescore
	 * reads one lead.
	 */
	if (SPI_execute_with_args("SELECT 1 FROM lead_process.lead "
							  "WHERE $1 IS NULL OR id OPERATOR(pg_catalog.=) $1 "
							  "ORDER BY id FOR NO KEY UPDATE",
							  1, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "locking leads for rescoring failed");
	plan = SPI_prepare(
					   "WITH queued AS ("
					   " SELECT r.f, r.l, r.lead"
					   "   FROM lead_process.score_queue s,"
					   "        ROWS FROM (pg_catalog.unnest(s.first_ids), pg_catalog.unnest(s.last_ids),"
					   "                   pg_catalog.unnest(s.lead_ids)) AS r(f, l, lead)),"
					   " matched AS ("
					   " SELECT a.lead_id, m.id AS rule_id, m.points, m.max_occurrences AS mo, m.max_points AS mp,"
					   "        (EXTRACT(epoch FROM m.min_interval) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 AS iv,"
					   "        EXTRACT(epoch FROM m.half_life)::pg_catalog.float8 OPERATOR(pg_catalog.*) 1000000 AS h,"
					   "        (EXTRACT(epoch FROM a.occurred_at) OPERATOR(pg_catalog.*) 1000000"
					   "         OPERATOR(pg_catalog.-) 946684800000000)::pg_catalog.int8 AS t"
					   "   FROM lead_process.activity a"
					   "   CROSS JOIN LATERAL ("
					   "     SELECT r.id, r.points, r.max_occurrences, r.max_points, r.min_interval, r.half_life"
					   "       FROM lead_process.behaviour_rule r"
					   "      WHERE r.active AND r.activity_type OPERATOR(pg_catalog.=) a.type"
					   "        AND (r.property IS NULL OR"
					   "             (a.properties OPERATOR(pg_catalog.->>) r.property) COLLATE pg_catalog.\"C\""
					   "               OPERATOR(pg_catalog.~~) r.pattern)"
					   "      ORDER BY r.priority, r.id LIMIT 1) m"
					   "  WHERE ($1 IS NULL OR a.lead_id OPERATOR(pg_catalog.=) $1)"
					   "    AND NOT EXISTS (SELECT FROM queued q WHERE q.lead OPERATOR(pg_catalog.=) a.lead_id"
					   "                    AND a.id OPERATOR(pg_catalog.>=) q.f AND a.id OPERATOR(pg_catalog.<=) q.l)),"
					   /* plain rules: count, then the caps */
					   " plain AS ("
					   " SELECT lead_id, rule_id, pg_catalog.count(*)::pg_catalog.int4 AS n,"
					   "        (CASE WHEN mo IS NULL THEN pg_catalog.count(*)::pg_catalog.int4"
					   "              ELSE pg_catalog.int4smaller(pg_catalog.count(*)::pg_catalog.int4, mo) END"
					   "         OPERATOR(pg_catalog.*) points) AS raw, mp"
					   "   FROM matched WHERE iv IS NULL AND h IS NULL"
					   "  GROUP BY lead_id, rule_id, mo, mp, points),"
					   /* windowed rules: distinct windows, the earliest max_occurrences of them */
					   " windows AS ("
					   " SELECT lead_id, rule_id, points, mo, mp, iv, h, w,"
					   "        pg_catalog.row_number() OVER (PARTITION BY lead_id, rule_id ORDER BY w) AS k"
					   "   FROM (SELECT DISTINCT lead_id, rule_id, points, mo, mp, iv, h,"
					   "                pg_catalog.floor(t::pg_catalog.numeric OPERATOR(pg_catalog./) iv)::pg_catalog.int8 AS w"
					   "           FROM matched WHERE iv IS NOT NULL) d),"
					   " timed AS ("
					   " SELECT lead_id, rule_id, points, mo, mp, iv, h, w,"
					   "        CASE WHEN w IS NULL THEN t ELSE w OPERATOR(pg_catalog.*) iv END AS ot"
					   "   FROM (SELECT lead_id, rule_id, points, mo, mp, iv, h, NULL::pg_catalog.int8 AS w, t"
					   "           FROM matched WHERE iv IS NULL AND h IS NOT NULL"
					   "         UNION ALL"
					   "         SELECT lead_id, rule_id, points, mo, mp, iv, h, w, NULL"
					   "           FROM windows WHERE mo IS NULL OR k OPERATOR(pg_catalog.<=) mo) x),"
					   " timed_ref AS ("
					   " SELECT timed.*, pg_catalog.max(ot) OVER (PARTITION BY lead_id, rule_id) AS r"
					   "   FROM timed),"
					   " entries AS ("
					   " SELECT lead_id, rule_id, n,"
					   "        CASE WHEN mp IS NULL THEN raw"
					   "             ELSE pg_catalog.int4larger(OPERATOR(pg_catalog.-) mp, pg_catalog.int4smaller(mp, raw)) END AS pts,"
					   "        NULL::pg_catalog.jsonb AS extra"
					   "   FROM plain"
					   " UNION ALL"
					   " SELECT lead_id, rule_id, n, pts, extra FROM ("
					   "  SELECT lead_id, rule_id, pg_catalog.count(*)::pg_catalog.int4 AS n,"
					   "         CASE WHEN h IS NOT NULL THEN 0"
					   "              WHEN mp IS NULL THEN pg_catalog.count(*)::pg_catalog.int4 OPERATOR(pg_catalog.*) points"
					   "              ELSE pg_catalog.int4larger(OPERATOR(pg_catalog.-) mp,"
					   "                   pg_catalog.int4smaller(mp, pg_catalog.count(*)::pg_catalog.int4 OPERATOR(pg_catalog.*) points)) END AS pts,"
					   "         CASE WHEN h IS NULL THEN"
					   "              pg_catalog.jsonb_build_array(NULL, NULL,"
					   "                CASE WHEN mo IS NOT NULL AND pg_catalog.count(*) OPERATOR(pg_catalog.>=) mo THEN NULL"
					   "                     ELSE pg_catalog.to_jsonb(pg_catalog.array_agg(w ORDER BY w)) END)"
					   "              ELSE pg_catalog.jsonb_build_array("
					   "                pg_catalog.sum(points OPERATOR(pg_catalog.*) pg_catalog.power(2::pg_catalog.float8,"
					   "                  (ot OPERATOR(pg_catalog.-) r)::pg_catalog.float8 OPERATOR(pg_catalog./) h))::pg_catalog.numeric,"
					   "                r) OPERATOR(pg_catalog.||)"
					   "                CASE WHEN iv IS NULL THEN '[]'::pg_catalog.jsonb"
					   "                     ELSE pg_catalog.jsonb_build_array(pg_catalog.array_agg(w ORDER BY w)) END END AS extra"
					   "    FROM timed_ref GROUP BY lead_id, rule_id, points, mo, mp, iv, h, r) y),"
					   " per_lead AS ("
					   " SELECT lead_id, pg_catalog.sum(pts)::pg_catalog.int4 AS b,"
					   "        pg_catalog.jsonb_object_agg(rule_id::pg_catalog.text,"
					   "          pg_catalog.jsonb_build_array(n, pts) OPERATOR(pg_catalog.||) COALESCE(extra, '[]')) AS t"
					   "   FROM entries GROUP BY lead_id),"
					   " target AS ("
					   " SELECT x.id, COALESCE(p.b, 0) AS b, COALESCE(p.t, '{}'::pg_catalog.jsonb) AS t"
					   "   FROM lead_process.lead x LEFT JOIN per_lead p ON p.lead_id OPERATOR(pg_catalog.=) x.id"
					   "  WHERE $1 IS NULL OR x.id OPERATOR(pg_catalog.=) $1)"
					   "UPDATE lead_process.lead l"
					   "   SET behaviour_score = target.b,"
					   "       score = l.fit_score OPERATOR(pg_catalog.+) target.b,"
					   "       score_tally = target.t"
					   "  FROM target"
					   " WHERE l.id OPERATOR(pg_catalog.=) target.id"
					   "   AND (l.behaviour_score OPERATOR(pg_catalog.<>) target.b"
					   "        OR l.score_tally OPERATOR(pg_catalog.<>) target.t)",
					1, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the rescore: %s",
			 SPI_result_code_string(SPI_result));
	changed = lp_run_scoring_update(plan, values, nulls);
	SPI_finish();
	PG_RETURN_INT64((int64) changed);
}

/*
 * lp_tally_scale
 *		A copy of a score tally ({"rule id": [matched, points, ...], ...})
 *		with every rule's points (and decaying sum) multiplied by factor,
 *		points rounded; *total gets
 *		the new behaviour score.  Occurrence counts are kept, so the caps
 *		still count what was matched.
 */
Jsonb *
lp_tally_scale(Jsonb *tally, double factor, int32 *total)
{
	JsonbIterator *it = JsonbIteratorInit(&tally->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;
	int			elem = 0;
	int64		sum = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY)
			elem = 0;
		else if (tok == WJB_ELEM)
		{
			if (elem == 2 && v.type == jbvNumeric)
			{
				double		sum = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	 NumericGetDatum(v.val.numeric)));

				v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
																	Float8GetDatum(sum * factor)));
			}
			else if (elem == 1 && v.type == jbvNumeric)
			{
				int32		points = DatumGetInt32(DirectFunctionCall1(numeric_int4,
																	   NumericGetDatum(v.val.numeric)));
				int32		scaled = (int32) rint(points * factor);

				sum += scaled;
				v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric,
																	Int32GetDatum(scaled)));
			}
			elem++;
		}
		res = pushJsonbValue(&state, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	*total = (int32) Max(Min(sum, PG_INT32_MAX), PG_INT32_MIN);
	return JsonbValueToJsonb(res);
}

/*
 * lp_decayed_points
 *		decayed_points(sum_at_ref float8, ref_us int8, half_life interval,
 *		as_of timestamptz) returns float8
 */
PG_FUNCTION_INFO_V1(lp_decayed_points);
Datum
lp_decayed_points(PG_FUNCTION_ARGS)
{
	double		sum;
	int64		ref;
	Interval   *h;
	TimestampTz as_of;
	double		half_life;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	sum = PG_GETARG_FLOAT8(0);
	ref = PG_GETARG_INT64(1);
	h = PG_GETARG_INTERVAL_P(2);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	half_life = (double) h->time + (double) h->day * USECS_PER_DAY +
		(double) h->month * DAYS_PER_MONTH * USECS_PER_DAY;
	if (half_life <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("half_life must be positive"));
	PG_RETURN_FLOAT8(sum * decay_factor(ref, Max(ref, as_of), half_life));
}

/*
 * lp_current_score
 *		current_score(lead lead_process.lead, as_of timestamptz) returns
 *		integer: fit + behaviour + the decaying rules' points at as_of.
 */
PG_FUNCTION_INFO_V1(lp_current_score);
Datum
lp_current_score(PG_FUNCTION_ARGS)
{
	LpProcess  *proc = lp_process_get();
	HeapTupleHeader row;
	HeapTupleData tuple;
	TupleDesc	tupdesc;
	TimestampTz as_of;
	bool		isnull;
	Datum		d;
	int64		score;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	row = PG_GETARG_HEAPTUPLEHEADER(0);
	as_of = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp() :
		PG_GETARG_TIMESTAMPTZ(1);
	if (proc->lead.score_tally == InvalidAttrNumber)
		elog(ERROR, "current_score() needs lead_process 1.1");
	tupdesc = lp_row_tuple(row, &tuple);
	d = heap_getattr(&tuple, proc->lead.fit_score, tupdesc, &isnull);
	score = isnull ? 0 : DatumGetInt32(d);
	d = heap_getattr(&tuple, proc->lead.behaviour_score, tupdesc, &isnull);
	score += isnull ? 0 : DatumGetInt32(d);
	d = heap_getattr(&tuple, proc->lead.score_tally, tupdesc, &isnull);
	if (!isnull)
		score += (int64) rint(lp_decayed_total(proc, DatumGetJsonbP(d), as_of));
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_INT32((int32) Max(Min(score, PG_INT32_MAX), PG_INT32_MIN));
}

/*
 * lp_lead_deleted_trigger
 *		AFTER DELETE FOR EACH STATEMENT on lead, REFERENCING OLD TABLE:
 *		deletes the activities of the deleted leads, as ON DELETE CASCADE
 *		would.
 *
 * A writer with lead_process.defer_scoring on holds only a KEY SHARE lock
 * on its lead: the DELETE of the lead waits for the writer's commit and then
 * goes ahead.  Its activities must go too, although a REPEATABLE READ or
 * SERIALIZABLE snapshot does not see them: like the foreign key triggers,
 * the DELETE of the activities reads with the latest snapshot and checks
 * every row against the transaction's snapshot, so such a transaction fails
 * with a serialization error instead of leaving orphans.
 */
PG_FUNCTION_INFO_V1(lp_lead_deleted_trigger);
Datum
lp_lead_deleted_trigger(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr cascade_plan = NULL;
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Snapshot	test_snapshot = InvalidSnapshot;
	Snapshot	crosscheck_snapshot = InvalidSnapshot;

	lp_check_trigger(fcinfo, "lead_deleted_trigger", false, false,
					 LP_TRIG_DELETE);
	if (trigdata->tg_oldtable == NULL)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("function \"%s\" must be fired with REFERENCING OLD TABLE",
					   "lead_deleted_trigger"));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	/* the transition table's name is the trigger's: prepared once registered */
	lp_prepare_kept(&cascade_plan,
					"DELETE FROM lead_process.activity a "
					"WHERE a.lead_id OPERATOR(pg_catalog.=) ANY (SELECT o.id FROM old_lead o)",
					0, NULL);
	if (IsolationUsesXactSnapshot())
	{
		CommandCounterIncrement();
		test_snapshot = GetLatestSnapshot();
		crosscheck_snapshot = GetTransactionSnapshot();
	}
	if (SPI_execute_snapshot(cascade_plan, NULL, NULL, test_snapshot,
							 crosscheck_snapshot, false, true, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting the activities of deleted leads failed");
	SPI_finish();
	return PointerGetDatum(NULL);
}
