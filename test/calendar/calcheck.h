/*-------------------------------------------------------------------------
 *
 * calcheck.h
 *	  Property checks of the business-time core on a case decoded from
 *	  bytes; aborts on a failed property (calcheck.c).
 *
 * IDENTIFICATION
 *	  test/calendar/calcheck.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CALCHECK_H
#define CALCHECK_H

#include "lp_calcore.h"

/*
 * A zone given as a list: off[0] until at[0], off[i] from at[i - 1] to
 * at[i], off[n] after at[n - 1].  calcheck_list_lookup is its LpCalZone
 * lookup, with the CalListZone as ctx.
 */
typedef struct CalListZone
{
	int			n;
	const int64_t *at;
	const int32_t *off;
} CalListZone;

extern bool calcheck_list_lookup(void *ctx, int64_t t, int32_t *offset,
								 int64_t *next);
extern int	calcheck_run(const uint8_t *data, size_t size);

#endif							/* CALCHECK_H */
