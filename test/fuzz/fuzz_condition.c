/*-------------------------------------------------------------------------
 *
 * fuzz_condition.c
 *	  libFuzzer harness for the condition language (src/lp_condition.c).
 *
 * The compiler and evaluator of conditions run inside the server (they read
 * jsonb with the backend's API), so this harness drives a running server
 * over libpq: each input is sent as text to
 *
 *	SELECT lead_process.condition_check($1::jsonb)
 *	SELECT lead_process.condition_matches($1::jsonb, l) FROM lead_process.lead l
 *
 * (the first compiles and validates, the second compiles, binds and
 * evaluates against sample leads).  Ordinary errors (invalid JSON, an
 * unknown attribute, a type mismatch) are expected; a lost connection means
 * the backend crashed, and aborts the fuzzer so that libFuzzer saves the
 * input.  The server's code is not instrumented, so libFuzzer's coverage
 * guidance does not see it: this is mutation fuzzing from a seed corpus of
 * valid conditions (test/fuzz/condition-seeds/), not coverage-guided.
 *
 * Connection: the usual PG* environment variables (test/fuzz/conditions.sh
 * starts a throwaway server and sets them).
 *
 * IDENTIFICATION
 *	  test/fuzz/fuzz_condition.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static PGconn *conn = NULL;
static long executions = 0;

static void
connect_once(void)
{
	if (conn != NULL)
		return;
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "fuzz_condition: cannot connect: %s", PQerrorMessage(conn));
		exit(2);
	}
	PQclear(PQexec(conn, "SET statement_timeout = '2s'"));
}

static void
run(const char *sql, const char *param)
{
	PGresult   *res = PQexecParams(conn, sql, 1, NULL, &param, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	PQclear(res);
	if (st == PGRES_FATAL_ERROR && PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "fuzz_condition: the server connection was lost (backend crash?) on input: %s\n",
				param);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text;

	connect_once();
	/* libpq parameters are C strings: no NUL inside, valid length */
	if (memchr(data, 0, size) != NULL || size > 4096)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	run("SELECT lead_process.condition_check($1::jsonb)", text);
	run("SELECT lead_process.condition_matches($1::jsonb, l) FROM lead_process.lead l", text);
	free(text);
	if (++executions % 10000 == 0)
		fprintf(stderr, "fuzz_condition: %ld inputs\n", executions);
	return 0;
}
