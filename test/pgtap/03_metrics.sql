/*
 * test/pgtap/03_metrics.sql
 *
 * The contract of the metric views for BI tools: their names, columns and
 * column types (stable, so that saved dashboards keep working), the BI
 * privilege level of grant_bi_reader (SELECT on these views and nothing
 * else), and that writers still record metrics through the triggers
 * without any privilege on the metric tables.
 *
 * Run as a superuser; everything happens in one transaction that rolls back.
 *   pg_prove -d DB test/pgtap/03_metrics.sql
 */
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lead_process;

CREATE ROLE lp_t_bi NOLOGIN;
CREATE ROLE lp_t_writer NOLOGIN;

SELECT plan(51);

/* ------------------------------------------------------------------------
 * The views and their columns
 * ------------------------------------------------------------------------ */

CREATE TEMP TABLE lp_metric_views (n int, v name);
INSERT INTO lp_metric_views VALUES
	(1, 'metric_funnel'), (2, 'metric_conversion_period'), (3, 'metric_conversion_cohort'),
	(4, 'metric_lead_flow'), (5, 'metric_revenue'), (6, 'metric_followup_time'),
	(7, 'metric_time_in_stage'), (8, 'metric_recycles'), (9, 'work_queue'), (10, 'lead_scorecard'),
	(11, 'metric_sla_compliance');

CREATE TEMP TABLE lp_metric_columns (v name, col name, typ text);
INSERT INTO lp_metric_columns VALUES
	('metric_sla_compliance', 'grain', 'text'), ('metric_sla_compliance', 'period_start', 'date'),
	('metric_sla_compliance', 'policy_id', 'bigint'), ('metric_sla_compliance', 'policy', 'text'),
	('metric_sla_compliance', 'stage', 'text'), ('metric_sla_compliance', 'kind', 'text'),
	('metric_sla_compliance', 'slice', 'text'), ('metric_sla_compliance', 'slice_value', 'text'),
	('metric_sla_compliance', 'clocks', 'bigint'), ('metric_sla_compliance', 'on_time', 'bigint'),
	('metric_sla_compliance', 'met_late', 'bigint'), ('metric_sla_compliance', 'breached', 'bigint'),
	('metric_sla_compliance', 'compliance', 'numeric'),

	('metric_funnel', 'grain', 'text'), ('metric_funnel', 'period_start', 'date'),
	('metric_funnel', 'stage', 'text'), ('metric_funnel', 'slice', 'text'),
	('metric_funnel', 'slice_value', 'text'), ('metric_funnel', 'entries', 'bigint'),
	('metric_funnel', 'exits', 'bigint'), ('metric_funnel', 'stock_end', 'bigint'),

	('metric_conversion_period', 'grain', 'text'), ('metric_conversion_period', 'period_start', 'date'),
	('metric_conversion_period', 'from_stage', 'text'), ('metric_conversion_period', 'to_stage', 'text'),
	('metric_conversion_period', 'kind', 'text'), ('metric_conversion_period', 'slice', 'text'),
	('metric_conversion_period', 'slice_value', 'text'), ('metric_conversion_period', 'moves', 'bigint'),
	('metric_conversion_period', 'from_stage_exits', 'bigint'), ('metric_conversion_period', 'share', 'numeric'),

	('metric_conversion_cohort', 'grain', 'text'), ('metric_conversion_cohort', 'cohort_start', 'date'),
	('metric_conversion_cohort', 'from_stage', 'text'), ('metric_conversion_cohort', 'to_stage', 'text'),
	('metric_conversion_cohort', 'slice', 'text'), ('metric_conversion_cohort', 'slice_value', 'text'),
	('metric_conversion_cohort', 'cohort_leads', 'bigint'), ('metric_conversion_cohort', 'converted_leads', 'bigint'),
	('metric_conversion_cohort', 'conversion_rate', 'numeric'),
	('metric_conversion_cohort', 'median_time', 'interval'), ('metric_conversion_cohort', 'p90_time', 'interval'),

	('metric_lead_flow', 'grain', 'text'), ('metric_lead_flow', 'period_start', 'date'),
	('metric_lead_flow', 'slice', 'text'), ('metric_lead_flow', 'slice_value', 'text'),
	('metric_lead_flow', 'qualified_leads', 'bigint'), ('metric_lead_flow', 'sales_accepted', 'bigint'),
	('metric_lead_flow', 'sales_rejected', 'bigint'), ('metric_lead_flow', 'mql_exits', 'bigint'),
	('metric_lead_flow', 'acceptance_rate', 'numeric'), ('metric_lead_flow', 'fast_tracked', 'bigint'),
	('metric_lead_flow', 'sal_entries', 'bigint'), ('metric_lead_flow', 'opportunities', 'bigint'),
	('metric_lead_flow', 'customers', 'bigint'),

	('metric_revenue', 'grain', 'text'), ('metric_revenue', 'cohort_start', 'date'),
	('metric_revenue', 'slice', 'text'), ('metric_revenue', 'slice_value', 'text'),
	('metric_revenue', 'qualified_leads', 'bigint'), ('metric_revenue', 'opportunities', 'bigint'),
	('metric_revenue', 'customers', 'bigint'), ('metric_revenue', 'revenue', 'numeric'),
	('metric_revenue', 'median_time_to_win', 'interval'),

	('metric_followup_time', 'grain', 'text'), ('metric_followup_time', 'period_start', 'date'),
	('metric_followup_time', 'slice', 'text'), ('metric_followup_time', 'slice_value', 'text'),
	('metric_followup_time', 'handoffs', 'bigint'), ('metric_followup_time', 'followed_up', 'bigint'),
	('metric_followup_time', 'median_followup', 'interval'), ('metric_followup_time', 'p90_followup', 'interval'),

	('metric_time_in_stage', 'grain', 'text'), ('metric_time_in_stage', 'period_start', 'date'),
	('metric_time_in_stage', 'stage', 'text'), ('metric_time_in_stage', 'slice', 'text'),
	('metric_time_in_stage', 'slice_value', 'text'), ('metric_time_in_stage', 'completed_visits', 'bigint'),
	('metric_time_in_stage', 'median_time', 'interval'), ('metric_time_in_stage', 'p90_time', 'interval'),

	('metric_recycles', 'grain', 'text'), ('metric_recycles', 'period_start', 'date'),
	('metric_recycles', 'from_stage', 'text'), ('metric_recycles', 'to_stage', 'text'),
	('metric_recycles', 'kind', 'text'), ('metric_recycles', 'reason', 'text'),
	('metric_recycles', 'slice', 'text'), ('metric_recycles', 'slice_value', 'text'),
	('metric_recycles', 'leads', 'bigint'),

	('work_queue', 'owner', 'text'), ('work_queue', 'queue_position', 'bigint'),
	('work_queue', 'lead_id', 'bigint'), ('work_queue', 'stage', 'text'), ('work_queue', 'status', 'text'),
	('work_queue', 'score', 'integer'), ('work_queue', 'fit_score', 'integer'),
	('work_queue', 'behaviour_score', 'integer'),
	('work_queue', 'stage_changed_at', 'timestamp with time zone'), ('work_queue', 'waiting', 'interval'),
	('work_queue', 'company', 'text'), ('work_queue', 'source', 'text'), ('work_queue', 'campaign', 'text'),
	('work_queue', 'lead_type', 'text'),

	('lead_scorecard', 'lead_id', 'bigint'), ('lead_scorecard', 'company', 'text'),
	('lead_scorecard', 'source', 'text'), ('lead_scorecard', 'campaign', 'text'),
	('lead_scorecard', 'lead_type', 'text'), ('lead_scorecard', 'owner', 'text'),
	('lead_scorecard', 'stage', 'text'), ('lead_scorecard', 'status', 'text'),
	('lead_scorecard', 'score', 'integer'), ('lead_scorecard', 'fit_score', 'integer'),
	('lead_scorecard', 'behaviour_score', 'integer'),
	('lead_scorecard', 'stage_changed_at', 'timestamp with time zone'),
	('lead_scorecard', 'time_in_stage', 'interval'), ('lead_scorecard', 'recycle_count', 'integer'),
	('lead_scorecard', 'last_recycled_at', 'timestamp with time zone'), ('lead_scorecard', 'amount', 'numeric'),
	('lead_scorecard', 'last_contact_at', 'timestamp with time zone'),
	('lead_scorecard', 'last_activity_at', 'timestamp with time zone'),
	('lead_scorecard', 'created_at', 'timestamp with time zone');

-- 10 tests: the exact column list of each view, in order
SELECT is(
	(SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
	  WHERE a.attrelid = format('lead_process.%I', m.v)::regclass AND a.attnum > 0),
	(SELECT array_agg(c.col::text) FROM lp_metric_columns c WHERE c.v = m.v),
	format('view %s has exactly the contract''s columns, in order', m.v))
  FROM lp_metric_views m ORDER BY m.n;

SELECT set_eq($$
	SELECT c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)
	  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND a.attnum > 0
	   AND c.relname IN (SELECT v FROM lp_metric_views)
$$, 'SELECT v::text, col::text, typ FROM lp_metric_columns',
	'metric view column types as in the contract');

SELECT is_empty($$
	SELECT c.relname || '.' || a.attname
	  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	 WHERE c.relname IN (SELECT v FROM lp_metric_views)
	   AND c.relnamespace = 'lead_process'::regnamespace AND a.attnum > 0
	   AND pg_catalog.col_description(c.oid, a.attnum) IS NULL
$$, 'every column of the metric views has a comment');

SELECT is(
	(SELECT count(*)::int FROM pg_catalog.pg_class c
	  WHERE c.relnamespace = 'lead_process'::regnamespace
		AND c.relname IN (SELECT v FROM lp_metric_views)
		AND c.reloptions IS NULL),
	11, 'the metric views run with their owner''s privileges (not security_invoker)');

/* Every period view has grain, a period start, slice and slice_value */
SELECT is_empty($$
	SELECT m.v FROM lp_metric_views m
	 WHERE m.v NOT IN ('work_queue', 'lead_scorecard')
	   AND (SELECT count(*) FROM lp_metric_columns c
			 WHERE c.v = m.v AND c.col IN ('grain', 'period_start', 'cohort_start', 'slice', 'slice_value')) <> 4
$$, 'every period view is sliced by grain, period and slice');

/* ------------------------------------------------------------------------
 * The BI level
 * ------------------------------------------------------------------------ */

SELECT lives_ok($$SELECT lead_process.grant_bi_reader('lp_t_bi')$$, 'grant_bi_reader(lp_t_bi)');
SELECT lives_ok($$SELECT lead_process.grant_writer('lp_t_writer')$$, 'grant_writer(lp_t_writer)');
SELECT schema_privs_are('lead_process'::name, 'lp_t_bi'::name, '{USAGE}'::name[]);

-- 11 tests: SELECT on each metric view
SELECT table_privs_are('lead_process'::name, m.v, 'lp_t_bi'::name, '{SELECT}'::name[])
  FROM lp_metric_views m ORDER BY m.n;

SELECT is_empty($$
	SELECT c.relname::text FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'lead_process'::regnamespace
	   AND c.relkind IN ('r', 'v', 'm', 'S')
	   AND c.relname NOT IN (SELECT v FROM lp_metric_views)
	   AND (pg_catalog.has_table_privilege('lp_t_bi', c.oid, 'SELECT')
			OR pg_catalog.has_table_privilege('lp_t_bi', c.oid, 'INSERT'))
$$, 'the BI role has no privilege on any other table, view or sequence');

SELECT is(
	(SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'lead_process'::regnamespace
		AND pg_catalog.has_function_privilege('lp_t_bi', p.oid, 'EXECUTE')),
	ARRAY['lead_process.metric_hist_agg(smallint,bigint)',
		  'lead_process.metric_hist_percentile(bigint[],double precision)',
		  'lead_process.metric_hist_sum(bigint[])'],
	'the BI role executes only the functions the views call');

GRANT SELECT ON lp_metric_views TO lp_t_bi;	-- the test's own list of views
SET ROLE lp_t_bi;
-- 11 tests: the BI role reads every metric view
SELECT lives_ok(format('SELECT * FROM lead_process.%I LIMIT 1', m.v),
				format('the BI role reads %s', m.v))
  FROM lp_metric_views m ORDER BY m.n;
SELECT throws_ok('SELECT * FROM lead_process.lead', '42501', NULL,
				 'the BI role cannot read lead');
SELECT throws_ok('SELECT * FROM lead_process.stage_history', '42501', NULL,
				 'the BI role cannot read stage_history');
SELECT throws_ok('SELECT * FROM lead_process.metric_rollup', '42501', NULL,
				 'the BI role cannot read metric_rollup');
SELECT throws_ok('SELECT * FROM lead_process.metric_cube', '42501', NULL,
				 'the BI role cannot read the internal metric_cube');
SELECT throws_ok('SELECT lead_process.fold_metrics()', '42501', NULL,
				 'the BI role cannot fold');
RESET ROLE;

/* ------------------------------------------------------------------------
 * Writers record metrics through the triggers
 * ------------------------------------------------------------------------ */

SET ROLE lp_t_writer;
SELECT lives_ok($$
	INSERT INTO lead_process.lead (id, owner, stage, stage_changed_at)
	VALUES (9001, 'rep-1', 'mql', '2026-03-01 10:00+00');
	SELECT lead_process.move(9001, 'sal', at => '2026-03-01 11:00+00');
	INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
	VALUES (9001, '2026-03-01 10:30+00', 'call', 'connected', 'rep-1');
$$, 'a writer moves a lead and logs a contact attempt');
SELECT throws_ok('INSERT INTO lead_process.metric_delta (measure, day) VALUES (''entry'', ''2026-03-01'')',
				 '42501', NULL, 'a writer cannot write metric deltas directly');
RESET ROLE;
SELECT is(
	(SELECT (entries, exits) FROM lead_process.metric_funnel
	  WHERE grain = 'day' AND slice = 'owner' AND slice_value = 'rep-1'
		AND period_start = '2026-03-01' AND stage = 'mql'),
	ROW(1::bigint, 1::bigint),
	'the writer''s changes are in the funnel');
SELECT is(
	(SELECT (handoffs, followed_up, median_followup) FROM lead_process.metric_followup_time
	  WHERE grain = 'month' AND slice = 'owner' AND slice_value = 'rep-1' AND period_start = '2026-03-01'),
	ROW(1::bigint, 1::bigint, interval '00:29:58'),
	'the writer''s contact attempt is the follow-up');

SELECT * FROM finish();
ROLLBACK;
