/*-------------------------------------------------------------------------
 *
 * lp_rowbuf.h
 *	  Rows collected during a batch and written later by one statement,
 *	  passed to it as one array per column (unnest()).
 *
 * IDENTIFICATION
 *	  src/lp_rowbuf.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_ROWBUF_H
#define LP_ROWBUF_H

#include "postgres.h"

typedef struct LpRowBuffer
{
	MemoryContext cxt;			/* where the rows live */
	int			ncols;
	const Oid  *types;			/* element type of each column */
	int16	   *lens;			/* their typlen, typbyval, typalign */
	bool	   *byvals;
	char	   *aligns;
	int			n;				/* rows collected */
	int			cap;
	Datum	  **values;			/* [column][row] */
	bool	  **nulls;
	int		   *levels;			/* transaction nest level that added the row */
} LpRowBuffer;

/* A buffer that lives for one transaction, created on first use */
typedef struct LpXactRowBuffer
{
	const char *what;			/* "stage history", for the error message */
	int			ncols;
	const Oid  *types;
	LpRowBuffer *buf;			/* NULL: nothing collected in this transaction */
	bool		registered;
} LpXactRowBuffer;

extern LpRowBuffer *lp_rowbuf_get(LpXactRowBuffer *x);
extern LpRowBuffer *lp_rowbuf_take(LpXactRowBuffer *x);
extern void lp_rowbuf_add(LpRowBuffer *b, const Datum *values, const char *nulls);
extern void lp_rowbuf_arrays(LpRowBuffer *b, Datum *arrays, Oid *arraytypes);
extern void lp_rowbuf_subxact_end(LpRowBuffer *b, bool commit);

#endif							/* LP_ROWBUF_H */
