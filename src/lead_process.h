/*-------------------------------------------------------------------------
 *
 * lead_process.h
 *	  Declarations shared by the lead_process C modules: GUC variables,
 *	  SQLSTATEs of our own, the trigger protocol helper and the version
 *	  shims.  The PG_VERSION_NUM tests of the project live here, but for
 *	  the direct lead write in lp_score.c, which tests versions in place.
 *
 * IDENTIFICATION
 *	  src/lead_process.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEAD_PROCESS_H
#define LEAD_PROCESS_H

#include "fmgr.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * SQLSTATE class LP is ours.  Standard codes are used wherever one fits;
 * these cover the process rules that have no standard equivalent.
 */
#define ERRCODE_LP_INVALID_TRANSITION	MAKE_SQLSTATE('L','P','0','0','1')
#define ERRCODE_LP_INVALID_REASON		MAKE_SQLSTATE('L','P','0','0','2')
#define ERRCODE_LP_NO_BUSINESS_HOURS	MAKE_SQLSTATE('L','P','0','1','0')

/* Bits for lp_check_trigger()'s expected events */
#define LP_TRIG_INSERT	0x01
#define LP_TRIG_UPDATE	0x02
#define LP_TRIG_DELETE	0x04
#define LP_TRIG_TRUNCATE 0x08

/* GUC variables (lead_process.c) */
extern char *lp_actor;
extern int	lp_max_future_skew;
extern bool lp_notify;
extern bool lp_defer_scoring;

/* lead_process.c */
extern SPIPlanPtr lp_prepare_kept(SPIPlanPtr *slot, const char *sql, int nargs,
								  Oid *argtypes);
extern void lp_check_trigger(FunctionCallInfo fcinfo, const char *funcname,
							 bool before, bool row, int events);

/* lp_stage.c */
extern int64 lp_lead_id_arg(FunctionCallInfo fcinfo);
extern void lp_lead_not_found(int64 lead_id);

extern void lp_move_leads(int n, int64 *ids, const char **to_stages,
						  TimestampTz *ats, const char **causes, Jsonb **details);
struct LpProcess;
extern void lp_lead_flush_buffered(struct LpProcess *proc);

/* lp_cache.c */
extern void lp_cache_init(void);
extern Oid	lp_relid_in(Oid nsp, const char *relname);

/*
 * Version shims.  PostgreSQL 15 is the first target; 13-17 must build
 * (16.2 and 17.4 headers checked).
 */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* This backend's local transaction id (storage/proc.h): in vxid from 17 */
#if PG_VERSION_NUM >= 170000
#define LP_MY_LXID (MyProc->vxid.lxid)
#else
#define LP_MY_LXID (MyProc->lxid)
#endif

#endif							/* LEAD_PROCESS_H */
