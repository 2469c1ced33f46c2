/*-------------------------------------------------------------------------
 *
 * lp_worker.h
 *	  The optional sweep worker (src/lp_worker.c).
 *
 * IDENTIFICATION
 *	  src/lp_worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LP_WORKER_H
#define LP_WORKER_H

extern int	lp_sweep_interval;
extern char *lp_sweep_database;

extern void lp_worker_init(void);

#endif							/* LP_WORKER_H */
