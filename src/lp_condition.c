/*-------------------------------------------------------------------------
 *
 * lp_condition.c
 *	  The condition language: parse and validate a jsonb condition once,
 *	  evaluate the compiled tree against lead rows many times.
 *
 * A condition is a predicate object
 *		{"attribute": "employees", "op": ">=", "value": 500}
 * or a combination
 *		{"all": [c1, c2, ...]}, {"any": [c1, c2, ...]}, {"not": c}
 * Attributes are the profile columns of lead_process.lead (a fixed list, so
 * that validation does not depend on the catalog) and "properties.<key>" for
 * the custom jsonb attributes.  Operators: = <> < <= > >= in, not in, like,
 * ilike, email-domain, is null, is not null.
 *
 * Validation happens in lp_condition_compile(), which the SQL function
 * condition_check() exposes for CHECK constraints on rule tables: a bad
 * attribute, operator or value is refused when the rule is written, never
 * later on a CRM's insert.
 *
 * Semantics: a NULL (missing) attribute satisfies only "is null"; text
 * comparisons are exact and byte-wise (C collation), "ilike" and
 * "email-domain" ignore case; numbers compare as numeric.  A property
 * predicate with a number value compares numerically and does not match a
 * non-numeric property; with a string value it compares the property's text.
 *
 * IDENTIFICATION
 *	  src/lp_condition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "lead_process.h"
#include "lp_condition.h"

/* Lead attributes the language knows */
typedef struct LpAttrDef
{
	const char *name;
	LpAttrType	type;
} LpAttrDef;

static const LpAttrDef attr_defs[] = {
	{"email", LP_ATTR_TEXT},
	{"first_name", LP_ATTR_TEXT},
	{"last_name", LP_ATTR_TEXT},
	{"company", LP_ATTR_TEXT},
	{"job_title", LP_ATTR_TEXT},
	{"country", LP_ATTR_TEXT},
	{"industry", LP_ATTR_TEXT},
	{"employees", LP_ATTR_NUMBER},
	{"annual_revenue", LP_ATTR_NUMBER},
	{"source", LP_ATTR_TEXT},
	{"campaign", LP_ATTR_TEXT},
	{"lead_type", LP_ATTR_TEXT},
	{"stage", LP_ATTR_TEXT},
	{"status", LP_ATTR_TEXT},
	{"owner", LP_ATTR_TEXT},
	{"score", LP_ATTR_NUMBER},
	{"recycle_count", LP_ATTR_NUMBER}
};

typedef struct LpOpDef
{
	const char *name;
	LpCondOp	op;
} LpOpDef;

static const LpOpDef op_defs[] = {
	{"=", LP_OP_EQ},
	{"<>", LP_OP_NE},
	{"<", LP_OP_LT},
	{"<=", LP_OP_LE},
	{">", LP_OP_GT},
	{">=", LP_OP_GE},
	{"in", LP_OP_IN},
	{"not in", LP_OP_NOT_IN},
	{"like", LP_OP_LIKE},
	{"ilike", LP_OP_ILIKE},
	{"email-domain", LP_OP_EMAIL_DOMAIN},
	{"is null", LP_OP_IS_NULL},
	{"is not null", LP_OP_IS_NOT_NULL}
};

#define PROPERTY_PREFIX "properties."

static LpCondition *compile_node(JsonbContainer *jc, int depth);

/*
 * list_attributes / list_operators
 *		The DETAIL text naming what is allowed.
 */
static char *
list_attributes(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < (int) lengthof(attr_defs); i++)
		appendStringInfo(&buf, "%s, ", attr_defs[i].name);
	appendStringInfoString(&buf, "properties.<key>");
	return buf.data;
}

static char *
list_operators(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < (int) lengthof(op_defs); i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", op_defs[i].name);
	return buf.data;
}

/*
 * malformed
 *		Structural errors: the jsonb is not a condition at all.
 */
static void
malformed(const char *what)
{
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("malformed condition: %s", what),
			errhint("A condition is {\"attribute\": ..., \"op\": ..., \"value\": ...}, or {\"all\": [...]}, {\"any\": [...]} or {\"not\": {...}} of conditions."));
}

static JsonbValue *
get_key(JsonbContainer *jc, const char *key)
{
	return getKeyJsonValueFromContainer(jc, key, strlen(key), NULL);
}

static char *
jsonb_value_text(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * compile_value
 *		Check one constant against the attribute's type and keep it.
 */
static void
compile_value(LpCondition *c, JsonbValue *v, LpCondValue *out)
{
	if (v->type == jbvNumeric)
	{
		if (c->type == LP_ATTR_TEXT)
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("attribute \"%s\" is text and cannot be compared with a number",
						   c->attribute),
					errhint("Write the value as a JSON string."));
		if (c->op == LP_OP_LIKE || c->op == LP_OP_ILIKE ||
			c->op == LP_OP_EMAIL_DOMAIN)
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("operator \"%s\" needs a string pattern, not a number",
						   op_defs[c->op].name));
		out->is_number = true;
		out->number = datumCopy(NumericGetDatum(v->val.numeric), false, -1);
		out->text = DatumGetCString(DirectFunctionCall1(numeric_out,
														out->number));
	}
	else if (v->type == jbvString)
	{
		if (c->type == LP_ATTR_NUMBER)
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("attribute \"%s\" is a number and cannot be compared with a string",
						   c->attribute),
					errdetail("The value is \"%s\".", jsonb_value_text(v)),
					errhint("Write the value as a JSON number."));
		out->is_number = false;
		out->text = jsonb_value_text(v);
		if (c->op == LP_OP_EMAIL_DOMAIN)
		{
			char	   *d = out->text;

			if (*d == '@')
				d++;
			if (*d == '\0' || strchr(d, '@') != NULL)
				ereport(ERROR,
						errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid email domain \"%s\" in condition",
							   out->text),
						errhint("Write a domain such as \"gmail.com\"."));
			out->text = asc_tolower(d, strlen(d));
		}
	}
	else
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("operator \"%s\" on attribute \"%s\" needs %s values",
					   op_defs[c->op].name,
					   c->property ? psprintf("properties.%s", c->property) : c->attribute,
					   c->type == LP_ATTR_NUMBER ? "number" :
					   c->type == LP_ATTR_TEXT ? "string" : "number or string"),
				errdetail("JSON null, booleans, arrays and objects are not values; use \"is null\" to test for a missing attribute."));
}

/*
 * compile_predicate
 *		{"attribute": ..., "op": ..., "value": ...}
 */
static LpCondition *
compile_predicate(JsonbContainer *jc)
{
	LpCondition *c = palloc0(sizeof(LpCondition));
	JsonbValue *attr = get_key(jc, "attribute");
	JsonbValue *op = get_key(jc, "op");
	JsonbValue *value = get_key(jc, "value");
	char	   *name;
	char	   *opname;
	int			i;

	c->kind = LP_COND_PRED;
	if (JsonContainerSize(jc) > 3 || (value == NULL && JsonContainerSize(jc) > 2))
		malformed("a predicate has only the keys \"attribute\", \"op\" and \"value\"");
	if (attr == NULL || attr->type != jbvString)
		malformed("\"attribute\" must be a string");
	if (op == NULL || op->type != jbvString)
		malformed("\"op\" must be a string");

	/* Attribute */
	name = jsonb_value_text(attr);
	if (strncmp(name, PROPERTY_PREFIX, strlen(PROPERTY_PREFIX)) == 0 &&
		name[strlen(PROPERTY_PREFIX)] != '\0')
	{
		c->attribute = "properties";
		c->property = pstrdup(name + strlen(PROPERTY_PREFIX));
		c->type = LP_ATTR_PROPERTY;
	}
	else
	{
		for (i = 0; i < (int) lengthof(attr_defs); i++)
		{
			if (strcmp(name, attr_defs[i].name) == 0)
				break;
		}
		if (i == (int) lengthof(attr_defs))
			ereport(ERROR,
					errcode(ERRCODE_UNDEFINED_COLUMN),
					errmsg("unknown attribute \"%s\" in condition", name),
					errdetail("Conditions can use: %s.", list_attributes()));
		c->attribute = pstrdup(attr_defs[i].name);
		c->type = attr_defs[i].type;
	}

	/* Operator */
	opname = jsonb_value_text(op);
	for (i = 0; i < (int) lengthof(op_defs); i++)
	{
		if (pg_strcasecmp(opname, op_defs[i].name) == 0)
			break;
	}
	if (i == (int) lengthof(op_defs))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_FUNCTION),
				errmsg("unknown operator \"%s\" in condition", opname),
				errdetail("Conditions can use: %s.", list_operators()));
	c->op = op_defs[i].op;

	if (c->op == LP_OP_EMAIL_DOMAIN && c->type == LP_ATTR_NUMBER)
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("operator \"email-domain\" cannot be used on number attribute \"%s\"",
					   c->attribute));
	if ((c->op == LP_OP_LIKE || c->op == LP_OP_ILIKE) && c->type == LP_ATTR_NUMBER)
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("operator \"%s\" cannot be used on number attribute \"%s\"",
					   op_defs[c->op].name, c->attribute));

	/* Value(s) */
	if (c->op == LP_OP_IS_NULL || c->op == LP_OP_IS_NOT_NULL)
	{
		if (value != NULL && value->type != jbvNull)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("operator \"%s\" takes no value", op_defs[c->op].name));
		return c;
	}
	if (value == NULL || value->type == jbvNull)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("operator \"%s\" needs a value", op_defs[c->op].name));

	if (value->type == jbvBinary && JsonContainerIsArray(value->val.binary.data))
	{
		JsonbContainer *arr = value->val.binary.data;
		int			n = JsonContainerSize(arr);

		if (c->op != LP_OP_IN && c->op != LP_OP_NOT_IN &&
			c->op != LP_OP_EMAIL_DOMAIN)
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("operator \"%s\" takes a single value, not a list",
						   op_defs[c->op].name),
					errhint("Use \"in\" to match any of several values."));
		if (n == 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("operator \"%s\" needs a non-empty list of values",
						   op_defs[c->op].name));
		c->nvalues = n;
		c->values = palloc0(sizeof(LpCondValue) * n);
		for (i = 0; i < n; i++)
		{
			JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

			compile_value(c, v, &c->values[i]);
			if (i > 0 && c->values[i].is_number != c->values[0].is_number)
				ereport(ERROR,
						errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("the values of a list must all be numbers or all be strings"));
		}
	}
	else
	{
		if (c->op == LP_OP_IN || c->op == LP_OP_NOT_IN)
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("operator \"%s\" needs a list of values",
						   op_defs[c->op].name),
					errhint("Write the values as a JSON array."));
		c->nvalues = 1;
		c->values = palloc0(sizeof(LpCondValue));
		compile_value(c, value, &c->values[0]);
	}
	return c;
}

/*
 * compile_list
 *		{"all": [...]} and {"any": [...]}
 */
static LpCondition *
compile_list(LpCondKind kind, JsonbValue *list, int depth)
{
	LpCondition *c = palloc0(sizeof(LpCondition));
	JsonbContainer *arr;

	c->kind = kind;
	if (list->type != jbvBinary || !JsonContainerIsArray(list->val.binary.data) ||
		JsonContainerSize(list->val.binary.data) == 0)
		malformed("\"all\" and \"any\" take a non-empty array of conditions");
	arr = list->val.binary.data;
	c->nchildren = JsonContainerSize(arr);
	c->children = palloc(sizeof(LpCondition *) * c->nchildren);
	for (int i = 0; i < c->nchildren; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

		if (v->type != jbvBinary)
			malformed("each element of \"all\" or \"any\" must be a condition object");
		c->children[i] = compile_node(v->val.binary.data, depth + 1);
	}
	return c;
}

static LpCondition *
compile_node(JsonbContainer *jc, int depth)
{
	JsonbValue *v;

	check_stack_depth();
	if (depth > 32)
		malformed("conditions nest at most 32 levels deep");
	if (!JsonContainerIsObject(jc))
		malformed("a condition must be a JSON object");

	if ((v = get_key(jc, "all")) != NULL)
	{
		if (JsonContainerSize(jc) != 1)
			malformed("\"all\" must be the only key of its object");
		return compile_list(LP_COND_ALL, v, depth);
	}
	if ((v = get_key(jc, "any")) != NULL)
	{
		if (JsonContainerSize(jc) != 1)
			malformed("\"any\" must be the only key of its object");
		return compile_list(LP_COND_ANY, v, depth);
	}
	if ((v = get_key(jc, "not")) != NULL)
	{
		LpCondition *c = palloc0(sizeof(LpCondition));

		if (JsonContainerSize(jc) != 1)
			malformed("\"not\" must be the only key of its object");
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			malformed("\"not\" takes one condition object");
		c->kind = LP_COND_NOT;
		c->nchildren = 1;
		c->children = palloc(sizeof(LpCondition *));
		c->children[0] = compile_node(v->val.binary.data, depth + 1);
		return c;
	}
	return compile_predicate(jc);
}

/*
 * lp_condition_compile
 *		Validate a condition and build its tree in CurrentMemoryContext.
 */
LpCondition *
lp_condition_compile(Jsonb *condition)
{
	if (JB_ROOT_IS_SCALAR(condition) || !JB_ROOT_IS_OBJECT(condition))
		malformed("a condition must be a JSON object");
	return compile_node(&condition->root, 0);
}

/*
 * lp_condition_find_attribute
 *		The first predicate of the tree on one of the named attributes, or
 *		NULL: lets a kind of rule refuse attributes that make no sense for it.
 */
const LpCondition *
lp_condition_find_attribute(const LpCondition *cond, const char *const *names,
							int nnames)
{
	if (cond->kind != LP_COND_PRED)
	{
		for (int i = 0; i < cond->nchildren; i++)
		{
			const LpCondition *found;

			found = lp_condition_find_attribute(cond->children[i], names, nnames);
			if (found != NULL)
				return found;
		}
		return NULL;
	}
	for (int i = 0; i < nnames; i++)
	{
		if (strcmp(cond->attribute, names[i]) == 0)
			return cond;
	}
	return NULL;
}

/*
 * lp_condition_bind
 *		Resolve the attribute names of a tree to column numbers of a lead
 *		row type.
 */
void
lp_condition_bind(LpCondition *cond, TupleDesc tupdesc)
{
	if (cond->kind != LP_COND_PRED)
	{
		for (int i = 0; i < cond->nchildren; i++)
			lp_condition_bind(cond->children[i], tupdesc);
		return;
	}
	cond->attnum = InvalidAttrNumber;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), cond->attribute) == 0)
		{
			cond->attnum = att->attnum;
			break;
		}
	}
	if (cond->attnum == InvalidAttrNumber)
		elog(ERROR, "lead row has no column \"%s\"", cond->attribute);
}

/*
 * compare_numbers / compare_texts
 *		The ordering operators and (in)equality on one constant.
 */
static bool
apply_cmp(LpCondOp op, int cmp)
{
	switch (op)
	{
		case LP_OP_EQ:
		case LP_OP_IN:
			return cmp == 0;
		case LP_OP_NE:
			return cmp != 0;
		case LP_OP_LT:
			return cmp < 0;
		case LP_OP_LE:
			return cmp <= 0;
		case LP_OP_GT:
			return cmp > 0;
		case LP_OP_GE:
			return cmp >= 0;
		default:
			elog(ERROR, "unexpected condition operator %d", (int) op);
	}
	return false;				/* keep compiler quiet */
}

/*
 * email_domain_matches
 *		The part of an address after its last '@' equals the domain or is a
 *		subdomain of it, ignoring case.
 */
static bool
email_domain_matches(const char *email, const char *domain)
{
	const char *at = strrchr(email, '@');
	size_t		dlen = strlen(domain);
	size_t		elen;

	if (at == NULL)
		return false;
	at++;
	elen = strlen(at);
	if (elen < dlen || pg_strcasecmp(at + elen - dlen, domain) != 0)
		return false;
	return elen == dlen || at[elen - dlen - 1] == '.';
}

/*
 * match_one
 *		Does the attribute value (text and/or numeric) satisfy the predicate
 *		against one constant?
 */
static bool
match_one(const LpCondition *c, const LpCondValue *v, const char *str,
		  bool have_number, Datum number)
{
	switch (c->op)
	{
		case LP_OP_LIKE:
			return DatumGetBool(DirectFunctionCall2Coll(textlike, C_COLLATION_OID,
														CStringGetTextDatum(str),
														CStringGetTextDatum(v->text)));
		case LP_OP_ILIKE:
			return DatumGetBool(DirectFunctionCall2Coll(texticlike, C_COLLATION_OID,
														CStringGetTextDatum(str),
														CStringGetTextDatum(v->text)));
		case LP_OP_EMAIL_DOMAIN:
			return email_domain_matches(str, v->text);
		default:
			break;
	}
	if (v->is_number)
	{
		if (!have_number)
			return false;
		return apply_cmp(c->op == LP_OP_NOT_IN ? LP_OP_IN : c->op,
						 DatumGetInt32(DirectFunctionCall2(numeric_cmp, number,
														   v->number)));
	}
	return apply_cmp(c->op == LP_OP_NOT_IN ? LP_OP_IN : c->op,
					 strcmp(str, v->text));
}

/*
 * eval_predicate
 *		Fetch the attribute from the row and test it.
 */
static bool
eval_predicate(const LpCondition *c, HeapTuple tuple, TupleDesc tupdesc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, c->attnum, tupdesc, &isnull);
	char	   *str = NULL;
	bool		have_number = false;
	Datum		number = (Datum) 0;
	bool		any;

	if (!isnull && c->type == LP_ATTR_PROPERTY)
	{
		Jsonb	   *props = DatumGetJsonbP(d);
		JsonbValue *v = NULL;

		if (JB_ROOT_IS_OBJECT(props))
			v = getKeyJsonValueFromContainer(&props->root, c->property,
											 strlen(c->property), NULL);
		if (v == NULL || v->type == jbvNull)
			isnull = true;
		else if (v->type == jbvNumeric)
		{
			have_number = true;
			number = NumericGetDatum(v->val.numeric);
			str = DatumGetCString(DirectFunctionCall1(numeric_out, number));
		}
		else if (v->type == jbvString)
			str = pnstrdup(v->val.string.val, v->val.string.len);
		else if (v->type == jbvBool)
			str = v->val.boolean ? "true" : "false";
		else
			str = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	}
	else if (!isnull && c->type == LP_ATTR_NUMBER)
	{
		Oid			typid = TupleDescAttr(tupdesc, c->attnum - 1)->atttypid;

		have_number = true;
		if (typid == NUMERICOID)
			number = d;
		else if (typid == INT4OID)
			number = DirectFunctionCall1(int4_numeric, d);
		else if (typid == INT8OID)
			number = DirectFunctionCall1(int8_numeric, d);
		else
			elog(ERROR, "unexpected type %u of lead column \"%s\"", typid, c->attribute);
	}
	else if (!isnull)
		str = TextDatumGetCString(d);

	if (c->op == LP_OP_IS_NULL)
		return isnull;
	if (c->op == LP_OP_IS_NOT_NULL)
		return !isnull;
	if (isnull)
		return false;

	any = false;
	for (int i = 0; i < c->nvalues && !any; i++)
		any = match_one(c, &c->values[i], str, have_number, number);
	if (c->op == LP_OP_NOT_IN)
	{
		/* a property of the wrong kind is "unknown", not "not in" */
		if (c->values[0].is_number && !have_number)
			return false;
		return !any;
	}
	return any;
}

/*
 * lp_condition_eval
 *		Evaluate a bound tree against a lead row.
 */
bool
lp_condition_eval(const LpCondition *cond, HeapTuple tuple, TupleDesc tupdesc)
{
	switch (cond->kind)
	{
		case LP_COND_PRED:
			return eval_predicate(cond, tuple, tupdesc);
		case LP_COND_ALL:
			for (int i = 0; i < cond->nchildren; i++)
			{
				if (!lp_condition_eval(cond->children[i], tuple, tupdesc))
					return false;
			}
			return true;
		case LP_COND_ANY:
			for (int i = 0; i < cond->nchildren; i++)
			{
				if (lp_condition_eval(cond->children[i], tuple, tupdesc))
					return true;
			}
			return false;
		case LP_COND_NOT:
			return !lp_condition_eval(cond->children[0], tuple, tupdesc);
	}
	return false;				/* keep compiler quiet */
}

/*
 * lp_row_tuple
 *		Wrap a composite argument (a lead row) as a HeapTuple for the
 *		evaluators.  Returns its pinned tuple descriptor: the caller releases
 *		it with ReleaseTupleDesc().
 */
TupleDesc
lp_row_tuple(HeapTupleHeader row, HeapTupleData *tuple)
{
	tuple->t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple->t_self);
	tuple->t_tableOid = InvalidOid;
	tuple->t_data = row;
	return lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row),
								  HeapTupleHeaderGetTypMod(row));
}

/*
 * lp_condition_check
 *		condition_check(jsonb) returns boolean: true, or an ERROR that says
 *		what is wrong.  Meant for CHECK constraints of rule tables.
 */
PG_FUNCTION_INFO_V1(lp_condition_check);
Datum
lp_condition_check(PG_FUNCTION_ARGS)
{
	(void) lp_condition_compile(PG_GETARG_JSONB_P(0));
	PG_RETURN_BOOL(true);
}

/*
 * lp_condition_matches
 *		condition_matches(condition jsonb, lead lead_process.lead) returns
 *		boolean: evaluate a condition against one lead row.
 */
PG_FUNCTION_INFO_V1(lp_condition_matches);
Datum
lp_condition_matches(PG_FUNCTION_ARGS)
{
	Jsonb	   *condition = PG_GETARG_JSONB_P(0);
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
	TupleDesc	tupdesc;
	HeapTupleData tuple;
	LpCondition *cond;
	bool		result;

	tupdesc = lp_row_tuple(row, &tuple);
	cond = lp_condition_compile(condition);
	lp_condition_bind(cond, tupdesc);
	result = lp_condition_eval(cond, &tuple, tupdesc);
	ReleaseTupleDesc(tupdesc);
	PG_RETURN_BOOL(result);
}
