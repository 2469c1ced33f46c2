/*-------------------------------------------------------------------------
 *
 * lp_condition.h
 *	  The condition language shared by fit rules, routing rules and SLA
 *	  policies: predicates (attribute, operator, value) on a lead, combined
 *	  with all / any / not, written as jsonb and compiled once into a tree.
 *
 * IDENTIFICATION
 *	  src/lp_condition.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_CONDITION_H
#define LP_CONDITION_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

typedef enum LpCondOp
{
	LP_OP_EQ,
	LP_OP_NE,
	LP_OP_LT,
	LP_OP_LE,
	LP_OP_GT,
	LP_OP_GE,
	LP_OP_IN,
	LP_OP_NOT_IN,
	LP_OP_LIKE,
	LP_OP_ILIKE,
	LP_OP_EMAIL_DOMAIN,
	LP_OP_IS_NULL,
	LP_OP_IS_NOT_NULL
} LpCondOp;

typedef enum LpCondKind
{
	LP_COND_PRED,
	LP_COND_ALL,
	LP_COND_ANY,
	LP_COND_NOT
} LpCondKind;

/* Type of a lead attribute as the language sees it */
typedef enum LpAttrType
{
	LP_ATTR_TEXT,
	LP_ATTR_NUMBER,
	LP_ATTR_PROPERTY			/* a key of lead.properties: typed by value */
} LpAttrType;

/* One constant of a predicate */
typedef struct LpCondValue
{
	bool		is_number;
	char	   *text;			/* string form (lower case for email-domain) */
	Datum		number;			/* numeric, when is_number */
} LpCondValue;

typedef struct LpCondition
{
	LpCondKind	kind;

	/* LP_COND_PRED */
	char	   *attribute;		/* column name, or "properties" */
	char	   *property;		/* key, for properties.<key> */
	LpAttrType	type;
	LpCondOp	op;
	int			nvalues;
	LpCondValue *values;
	AttrNumber	attnum;			/* set by lp_condition_bind() */

	/* LP_COND_ALL, LP_COND_ANY, LP_COND_NOT */
	int			nchildren;
	struct LpCondition **children;
} LpCondition;

extern LpCondition *lp_condition_compile(Jsonb *condition);
extern const LpCondition *lp_condition_find_attribute(const LpCondition *cond,
													   const char *const *names,
													   int nnames);
extern void lp_condition_bind(LpCondition *cond, TupleDesc tupdesc);
extern TupleDesc lp_row_tuple(HeapTupleHeader row, HeapTupleData *tuple);
extern bool lp_condition_eval(const LpCondition *cond, HeapTuple tuple,
							  TupleDesc tupdesc);

#endif							/* LP_CONDITION_H */
