/*-------------------------------------------------------------------------
 *
 * lp_worker.c
 *	  The optional sweep worker: a background worker that calls
 *	  lead_process.sweep() every lead_process.sweep_interval seconds in the
 *	  database lead_process.sweep_database.
 *
 * The worker exists only when lead_process is in shared_preload_libraries;
 * without it the SQL API is unchanged and sweep() is scheduled by pg_cron
 * or any other scheduler.  Both may run at once: sweep() locks what it
 * acts on with SKIP LOCKED, so two sweeps never act on the same clock or
 * lead.
 *
 * Each pass is one transaction with its own snapshot, as in worker_spi.c.
 * A pass that fails ends the worker with the error in the server log; the
 * postmaster starts it again after LP_WORKER_RESTART seconds.  A database
 * without the extension is not an error: the worker logs that once and
 * checks again at every pass, so CREATE EXTENSION after the server start
 * works without a restart.
 *
 * IDENTIFICATION
 *	  src/lp_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "lead_process.h"
#include "lp_worker.h"

/* Seconds before the postmaster restarts a worker that failed */
#define LP_WORKER_RESTART 10

/* GUC variables */
int			lp_sweep_interval = 60;
char	   *lp_sweep_database = NULL;

PGDLLEXPORT void lp_worker_main(Datum main_arg);

/*
 * lp_worker_init
 *		Define the worker's GUCs, and register the worker when the library
 *		is being preloaded (a worker cannot be registered later from
 *		_PG_init).  Called from _PG_init before the GUC prefix is reserved.
 */
void
lp_worker_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("lead_process.sweep_interval",
							"Seconds between two calls of lead_process.sweep() by the sweep worker.",
							"Only used when lead_process is in shared_preload_libraries; 0 pauses the worker.",
							&lp_sweep_interval,
							60,
							0,
							24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("lead_process.sweep_database",
							   "Database in which the sweep worker calls lead_process.sweep().",
							   "Only used when lead_process is in shared_preload_libraries; after a change the worker restarts in the new database.",
							   &lp_sweep_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = LP_WORKER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "lead_process");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "lp_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "lead_process sweep");
	snprintf(worker.bgw_type, BGW_MAXLEN, "lead_process sweep");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * sweep_once
 *		One pass: in a transaction of its own, call sweep() if the extension
 *		exists in the database, and log what it did when it did something.
 *		Returns whether the extension was there.
 */
static bool
sweep_once(void)
{
	bool		found;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT lead_process.sweep()");

	found = OidIsValid(get_extension_oid("lead_process", true));
	if (found)
	{
		uint64		i;
		StringInfoData done;

		if (SPI_execute("SELECT action, leads FROM lead_process.sweep() WHERE leads > 0",
						false, 0) != SPI_OK_SELECT)
			elog(ERROR, "lead_process.sweep() failed");
		initStringInfo(&done);
		for (i = 0; i < SPI_processed; i++)
			appendStringInfo(&done, "%s%s %s", i > 0 ? ", " : "",
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		if (SPI_processed > 0)
			ereport(LOG,
					errmsg("lead_process sweep: %s", done.data));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return found;
}

/*
 * lp_worker_main
 *		Entry point of the sweep worker: connect to the database, then sweep
 *		and sleep until shutdown.  SIGHUP rereads the configuration (a new
 *		interval applies from the next sleep; a new database restarts the
 *		worker, through the postmaster); SIGTERM ends the worker.
 */
void
lp_worker_main(Datum main_arg pg_attribute_unused())
{
	bool		missing_logged = false;
	char	   *database;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	database = MemoryContextStrdup(TopMemoryContext, lp_sweep_database);
	BackgroundWorkerInitializeConnection(database, NULL, 0);
	ereport(LOG,
			errmsg("lead_process sweep worker started in database \"%s\", every %d s",
				   lp_sweep_database, lp_sweep_interval));

	for (;;)
	{
		long		timeout = lp_sweep_interval > 0 ?
			lp_sweep_interval * 1000L : 3600 * 1000L;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(database, lp_sweep_database) != 0)
			{
				/* a worker is bound to its database: restart in the new one */
				ereport(LOG,
						errmsg("lead_process sweep worker: lead_process.sweep_database changed to \"%s\", restarting",
							   lp_sweep_database));
				proc_exit(1);
			}
			continue;			/* sleep the new interval first */
		}
		if (lp_sweep_interval <= 0)
			continue;

		AcceptInvalidationMessages();
		if (sweep_once())
			missing_logged = false;
		else if (!missing_logged)
		{
			ereport(LOG,
					errmsg("lead_process sweep worker: extension \"lead_process\" is not installed in database \"%s\"",
						   lp_sweep_database),
					errhint("Run CREATE EXTENSION lead_process there, or set lead_process.sweep_database."));
			missing_logged = true;
		}
	}
}
