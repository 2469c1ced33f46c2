#!/usr/bin/env python3
"""A BI client against the metric views, as Metabase, Superset or Grafana use
them: it connects as a role granted with lead_process.grant_bi_reader(),
discovers the views and their columns through information_schema and
pg_catalog, runs parameterised queries, reads through a server-side cursor,
and checks that the base tables are out of reach (permission denied).

    python3 test/bi/bi_client.py "host=... port=... dbname=... user=..."

Prints TAP ("ok N - ...", "not ok N - ...", then "1..N"); exits non-zero
when a check fails.  test/t/005_bi_client.pl runs it.
"""
import sys

import psycopg2
import psycopg2.errors

METRIC_VIEWS = [
    "lead_scorecard", "metric_conversion_cohort", "metric_conversion_period",
    "metric_followup_time", "metric_funnel", "metric_lead_flow", "metric_recycles",
    "metric_revenue", "metric_sla_compliance", "metric_time_in_stage", "work_queue",
]

results = []


def check(ok, name, detail=""):
    results.append(bool(ok))
    print(("ok" if ok else "not ok") + " %d - %s" % (len(results), name))
    if not ok and detail:
        for line in str(detail).splitlines():
            print("# " + line)


def main(dsn):
    conn = psycopg2.connect(dsn, application_name="bi-client-test")
    conn.set_session(readonly=True, autocommit=False)
    cur = conn.cursor()

    # Discovery through information_schema: a role sees the relations it
    # may read, so the BI role sees the metric views and nothing else
    cur.execute("""
        SELECT table_name, table_type FROM information_schema.tables
         WHERE table_schema = %s ORDER BY table_name""", ("lead_process",))
    tables = cur.fetchall()
    check([t for t, _ in tables] == METRIC_VIEWS,
          "information_schema.tables lists exactly the metric views", tables)
    check(all(kind == "VIEW" for _, kind in tables), "all of them are views")

    cur.execute("""
        SELECT column_name, data_type FROM information_schema.columns
         WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
                ("lead_process", "metric_funnel"))
    cols = cur.fetchall()
    check(cols == [("grain", "text"), ("period_start", "date"), ("stage", "text"),
                   ("slice", "text"), ("slice_value", "text"), ("entries", "bigint"),
                   ("exits", "bigint"), ("stock_end", "bigint")],
          "information_schema.columns gives metric_funnel's columns and types", cols)

    # Discovery through pg_catalog, as psql \d+ and many drivers do,
    # comments included
    cur.execute("""
        SELECT c.relname, count(a.attnum),
               count(pg_catalog.col_description(c.oid, a.attnum)),
               pg_catalog.obj_description(c.oid, 'pg_class') IS NOT NULL
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
         WHERE n.nspname = %s AND c.relkind = 'v'
           AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
         GROUP BY c.oid, c.relname ORDER BY c.relname""", ("lead_process",))
    rels = cur.fetchall()
    check([r[0] for r in rels] == METRIC_VIEWS,
          "pg_catalog lists the same readable views", rels)
    check(all(r[1] == r[2] and r[3] for r in rels),
          "every view and every column carries a comment", rels)

    # Parameterised dashboard queries
    cur.execute("""
        SELECT stage, sum(entries)::bigint FROM lead_process.metric_funnel
         WHERE grain = %(grain)s AND slice = %(slice)s AND period_start >= %(since)s
         GROUP BY stage ORDER BY stage""",
                {"grain": "month", "slice": "all", "since": "2026-01-01"})
    funnel = dict(cur.fetchall())
    check(funnel.get("mql") == 3 and funnel.get("sal") == 3,
          "funnel by month: 3 mql entries, 3 sal entries", funnel)

    cur.execute("""
        SELECT qualified_leads, sales_accepted, acceptance_rate FROM lead_process.metric_lead_flow
         WHERE grain = %s AND slice = %s AND period_start = %s""",
                ("month", "all", "2026-01-01"))
    row = cur.fetchone()
    check(row is not None and row[0] == 3 and row[1] == 3 and float(row[2]) == 1.0,
          "MQL to SAL acceptance rate with date parameters", row)

    cur.execute("""
        SELECT slice_value, handoffs, followed_up, median_followup
          FROM lead_process.metric_followup_time
         WHERE grain = %s AND slice = %s ORDER BY slice_value""", ("month", "owner"))
    rows = cur.fetchall()
    check(len(rows) == 2 and rows[0][0] == "ann" and rows[0][2] == 1
          and rows[0][3].total_seconds() > 0,
          "follow-up time per rep, an interval the driver turns into timedelta", rows)

    # A server-side cursor, as tools that stream large results use
    with conn.cursor(name="bi_stream") as stream:
        stream.itersize = 2
        stream.execute("""
            SELECT grain, period_start, stage, slice, slice_value, entries
              FROM lead_process.metric_funnel WHERE slice = %s
             ORDER BY grain, period_start, stage""", ("all",))
        first = stream.fetchmany(3)
        rest = stream.fetchall()
    check(len(first) == 3 and len(rest) > 0 and
          all(r[0] in ("day", "week", "month", "quarter") for r in first + rest),
          "a server-side cursor reads the funnel in batches", len(first) + len(rest))
    conn.rollback()

    # The base tables are out of reach
    for rel in ("lead", "stage_history", "contact_attempt", "metric_rollup", "metric_cube"):
        try:
            cur.execute("SELECT * FROM lead_process.%s LIMIT 1" % rel)
            check(False, "permission denied for lead_process.%s" % rel, "the query ran")
        except psycopg2.errors.InsufficientPrivilege as e:
            check(e.pgcode == "42501", "permission denied for lead_process.%s" % rel, e)
        conn.rollback()
    try:
        cur.execute("SELECT lead_process.fold_metrics()")
        check(False, "permission denied for fold_metrics()", "it ran")
    except psycopg2.errors.InsufficientPrivilege as e:
        check(e.pgcode == "42501", "permission denied for fold_metrics()", e)
    conn.rollback()
    conn.close()

    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
