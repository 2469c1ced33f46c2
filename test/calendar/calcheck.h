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

extern int	calcheck_run(const uint8_t *data, size_t size);

#endif							/* CALCHECK_H */
