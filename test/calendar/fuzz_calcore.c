/*-------------------------------------------------------------------------
 *
 * fuzz_calcore.c
 *	  libFuzzer entry point: every input is a calendar, a synthetic zone and
 *	  a few instants and amounts, checked by calcheck_run().
 *
 *	  make -C test/calendar fuzz FUZZ_SECONDS=60
 *
 * IDENTIFICATION
 *	  test/calendar/fuzz_calcore.c
 *
 *-------------------------------------------------------------------------
 */
#include "calcheck.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return calcheck_run(data, size);
}
