/*-------------------------------------------------------------------------
 *
 * lp_rowbuf.c
 *	  Rows collected during a batch and written later by one statement.
 *
 * The batch moves of lp_move_leads() record one history row, one event and
 * perhaps one assignment per lead.  Instead of one INSERT each, the rows
 * are copied here (values in SPI's 'n'-for-null convention) and handed to
 * one INSERT ... SELECT FROM unnest(...) as one array per column.
 *
 * IDENTIFICATION
 *	  src/lp_rowbuf.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "lp_rowbuf.h"

/*
 * rowbuf_init
 *		An empty buffer for rows of the given column types, in the current
 *		memory context; the types' storage properties are looked up once.
 */
static void
rowbuf_init(LpRowBuffer *b, int ncols, const Oid *types)
{
	memset(b, 0, sizeof(*b));
	b->cxt = CurrentMemoryContext;
	b->ncols = ncols;
	b->types = types;
	b->lens = palloc(sizeof(int16) * ncols);
	b->byvals = palloc(sizeof(bool) * ncols);
	b->aligns = palloc(sizeof(char) * ncols);
	for (int c = 0; c < ncols; c++)
		get_typlenbyvalalign(types[c], &b->lens[c], &b->byvals[c], &b->aligns[c]);
	b->values = palloc0(sizeof(Datum *) * ncols);
	b->nulls = palloc0(sizeof(bool *) * ncols);
}

/*
 * lp_rowbuf_add
 *		Copy one row into the buffer.
 */
void
lp_rowbuf_add(LpRowBuffer *b, const Datum *values, const char *nulls)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);

	if (b->n == b->cap)
	{
		b->cap = Max(64, b->cap * 2);
		b->levels = b->levels ? repalloc(b->levels, sizeof(int) * b->cap) :
			palloc(sizeof(int) * b->cap);
		for (int c = 0; c < b->ncols; c++)
		{
			b->values[c] = b->values[c] ? repalloc(b->values[c], sizeof(Datum) * b->cap) :
				palloc(sizeof(Datum) * b->cap);
			b->nulls[c] = b->nulls[c] ? repalloc(b->nulls[c], sizeof(bool) * b->cap) :
				palloc(sizeof(bool) * b->cap);
		}
	}
	for (int c = 0; c < b->ncols; c++)
	{
		b->nulls[c][b->n] = nulls[c] == 'n';
		b->values[c][b->n] = b->nulls[c][b->n] ? (Datum) 0 :
			datumCopy(values[c], b->byvals[c], b->lens[c]);
	}
	b->levels[b->n] = GetCurrentTransactionNestLevel();
	b->n++;
	MemoryContextSwitchTo(old);
}

/*
 * lp_rowbuf_subxact_end
 *		A subtransaction ends (called while it is still the current one):
 *		rows it added are dropped when it aborts and become its parent's
 *		when it commits.  Rows are added in time order, so the rows of the
 *		ending subtransaction (and of any deeper one) come last.
 */
void
lp_rowbuf_subxact_end(LpRowBuffer *b, bool commit)
{
	int			level = GetCurrentTransactionNestLevel();

	for (int i = b->n - 1; i >= 0 && b->levels[i] >= level; i--)
	{
		if (commit)
			b->levels[i] = level - 1;
		else
			b->n = i;
	}
}

/*
 * lp_rowbuf_arrays
 *		One array per column of the rows collected, and its array type.
 */
void
lp_rowbuf_arrays(LpRowBuffer *b, Datum *arrays, Oid *arraytypes)
{
	for (int c = 0; c < b->ncols; c++)
	{
		int			dims[1] = {b->n};
		int			lbs[1] = {1};

		arrays[c] = PointerGetDatum(construct_md_array(b->values[c], b->nulls[c], 1,
													   dims, lbs, b->types[c], b->lens[c],
													   b->byvals[c], b->aligns[c]));
		arraytypes[c] = get_array_type(b->types[c]);
	}
}

/*
 * The transaction's buffer: freed with TopTransactionContext; rows of a
 * subtransaction that aborts are dropped; a commit with rows still
 * unwritten fails rather than lose them (the statement trigger that writes
 * them was disabled).
 */
static void
xact_callback(XactEvent event, void *arg)
{
	LpXactRowBuffer *x = (LpXactRowBuffer *) arg;

	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE) &&
		x->buf != NULL && x->buf->n > 0)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("%d %s rows of this transaction were not written", x->buf->n, x->what),
				errhint("The trigger lead_history_flush on lead_process.lead writes them; do not disable it."));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		x->buf = NULL;
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	LpXactRowBuffer *x = (LpXactRowBuffer *) arg;

	(void) mySubid;
	(void) parentSubid;
	if (x->buf == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		lp_rowbuf_subxact_end(x->buf, false);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		lp_rowbuf_subxact_end(x->buf, true);
}

/*
 * lp_rowbuf_get
 *		The transaction's buffer of x, created on first use.
 */
LpRowBuffer *
lp_rowbuf_get(LpXactRowBuffer *x)
{
	if (!x->registered)
	{
		RegisterXactCallback(xact_callback, x);
		RegisterSubXactCallback(subxact_callback, x);
		x->registered = true;
	}
	if (x->buf == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		x->buf = palloc(sizeof(LpRowBuffer));
		rowbuf_init(x->buf, x->ncols, x->types);
		MemoryContextSwitchTo(old);
	}
	return x->buf;
}

/*
 * lp_rowbuf_take
 *		Detach the transaction's buffer of x (NULL when there is none), so
 *		that rows the caller's writing causes collect in a new one.
 */
LpRowBuffer *
lp_rowbuf_take(LpXactRowBuffer *x)
{
	LpRowBuffer *b = x->buf;

	x->buf = NULL;
	return b;
}
