/*
 * test/pgtap/01_schema.sql
 *
 * The public contract of lead_process: the names, columns, types, keys,
 * functions, triggers and views that users and integrations rely on (SPEC.md
 * "Names users rely on" and the install script), plus catalog-wide rules
 * that every present and future object of schema lead_process must follow:
 * a COMMENT on every object, a fixed search_path, no EXECUTE for PUBLIC,
 * registration for pg_dump.
 *
 * Run as a superuser on a database where lead_process may or may not be
 * installed; everything happens in one transaction that rolls back.
 *   pg_prove -d DB test/pgtap/01_schema.sql
 */
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lead_process;

SELECT plan(137);

/* ------------------------------------------------------------------------
 * Schema and the set of objects in it
 * ------------------------------------------------------------------------ */

SELECT has_schema('lead_process');
SELECT is(
	(SELECT e.extname::text
	   FROM pg_catalog.pg_depend d
	   JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
	  WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
		AND d.objid = 'lead_process'::regnamespace
		AND d.refclassid = 'pg_catalog.pg_extension'::regclass
		AND d.deptype = 'e'),
	'lead_process',
	'schema lead_process is a member of extension lead_process (DROP EXTENSION drops it)');

SELECT tables_are('lead_process', ARRAY[
	'stage', 'stage_status', 'transition', 'reason',
	'lead', 'activity', 'contact_attempt', 'stage_history', 'fit_rule', 'behaviour_rule',
	'event', 'event_consumer',
	'team', 'rep', 'rep_capacity', 'queue', 'routing_rule', 'rep_state', 'assignment',
	'calendar', 'calendar_hours', 'calendar_holiday', 'sla_policy', 'sla_clock',
	'metric_delta', 'metric_rollup', 'metric_lead_reach', 'metric_followup', 'score_queue']);
SELECT views_are('lead_process', ARRAY['stage_graph', 'stage_counts', 'near_qualified',
	'metric_funnel', 'metric_conversion_period', 'metric_conversion_cohort', 'metric_lead_flow',
	'metric_revenue', 'metric_followup_time', 'metric_time_in_stage', 'metric_recycles',
	'work_queue', 'lead_scorecard', 'metric_sla_compliance',
	'metric_history_facts', 'metric_history_reach', 'metric_reach_facts', 'metric_handoff',
	'metric_followup_facts', 'metric_delta_cube', 'metric_cube']);
SELECT functions_are('lead_process', ARRAY[
	'move', 'recycle', 'disqualify', 'allowed_transitions',
	'condition_check', 'condition_matches',
	'fit_score_of', 'fit_rules_of', 'rescore_fit', 'fit_explain', 'fit_rule_validate_trigger',
	'read_events', 'ack_events', 'prune_events',
	'activity_score_trigger', 'lead_deleted_trigger', 'lead_truncated_trigger', 'score_queue_truncate_trigger',
	'activity_guard_trigger', 'rescore_behaviour', 'score_explain', 'decayed_points', 'current_score',
	'score_pending', 'enable_rep_security', 'rep_security_enabled',
	'grant_reader', 'grant_writer', 'grant_admin', 'revoke_all',
	'lead_stage_trigger', 'lead_history_trigger', 'history_guard_trigger',
	'config_changed_trigger',
	'route', 'route_preview', 'accept', 'reject', 'condition_validate_trigger', 'sweep',
	'lead_history_flush_trigger',
	'business_time_add', 'business_time_between', 'calendar_validate_trigger',
	'calendar_hours_validate_trigger', 'calendar_holiday_validate_trigger',
	'sla_policy_validate_trigger', 'sla_history_trigger', 'sla_attempt_trigger', 'sla_breach',
	'sla_record_action', 'sla_rebase', 'sla_recompute', 'sla_calendar_trigger',
	'metric_bucket', 'metric_bucket_value', 'metric_history_trigger', 'metric_contact_trigger',
	'metric_hist_add', 'metric_hist_add_array', 'metric_hist_final', 'metric_hist_agg',
	'metric_hist_sum', 'metric_hist_merge', 'metric_hist_percentile',
	'metric_slices_add', 'metric_slices_final', 'metric_slices',
	'fold_metrics', 'rebuild_metrics', 'grant_bi_reader']);

/* Every table, view and function of the schema belongs to the extension */
SELECT is_empty($$
	SELECT c.oid::regclass::text
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'lead_process'::regnamespace
	   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
					   WHERE d.classid = 'pg_catalog.pg_class'::regclass
						 AND d.objid = c.oid AND d.deptype = 'e'
						 AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension
										   WHERE extname = 'lead_process'))
	UNION ALL
	SELECT p.oid::regprocedure::text
	  FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
					   WHERE d.classid = 'pg_catalog.pg_proc'::regclass
						 AND d.objid = p.oid AND d.deptype = 'e'
						 AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension
										   WHERE extname = 'lead_process'))
$$, 'every table, view and function in schema lead_process is a member of the extension');

/* ------------------------------------------------------------------------
 * Tables: exact column names, then (name, type, NOT NULL) for each
 * ------------------------------------------------------------------------ */

CREATE TEMP TABLE lp_expected_columns (tab text, col text, typ text, not_null boolean);
INSERT INTO lp_expected_columns VALUES
	('calendar', 'name', 'text', true),
	('calendar', 'time_zone', 'text', true),
	('calendar', 'description', 'text', false),

	('calendar_hours', 'calendar', 'text', true),
	('calendar_hours', 'weekday', 'integer', true),
	('calendar_hours', 'opens', 'time without time zone', true),
	('calendar_hours', 'closes', 'time without time zone', true),

	('calendar_holiday', 'id', 'bigint', true),
	('calendar_holiday', 'calendar', 'text', true),
	('calendar_holiday', 'day', 'date', true),
	('calendar_holiday', 'closed_from', 'time without time zone', false),
	('calendar_holiday', 'closed_until', 'time without time zone', false),
	('calendar_holiday', 'description', 'text', false),

	('sla_policy', 'id', 'bigint', true),
	('sla_policy', 'name', 'text', true),
	('sla_policy', 'stage', 'text', true),
	('sla_policy', 'kind', 'text', true),
	('sla_policy', 'condition', 'jsonb', false),
	('sla_policy', 'target', 'interval', true),
	('sla_policy', 'attempts', 'integer', false),
	('sla_policy', 'calendar', 'text', true),
	('sla_policy', 'action', 'text', true),
	('sla_policy', 'priority', 'integer', true),
	('sla_policy', 'active', 'boolean', true),
	('sla_policy', 'description', 'text', false),

	('sla_clock', 'id', 'bigint', true),
	('sla_clock', 'lead_id', 'bigint', true),
	('sla_clock', 'policy_id', 'bigint', true),
	('sla_clock', 'kind', 'text', true),
	('sla_clock', 'stage', 'text', true),
	('sla_clock', 'calendar', 'text', true),
	('sla_clock', 'target', 'interval', true),
	('sla_clock', 'attempts_needed', 'integer', false),
	('sla_clock', 'owner', 'text', false),
	('sla_clock', 'state', 'text', true),
	('sla_clock', 'started_at', 'timestamp with time zone', true),
	('sla_clock', 'anchor_at', 'timestamp with time zone', true),
	('sla_clock', 'used', 'interval', true),
	('sla_clock', 'due_at', 'timestamp with time zone', true),
	('sla_clock', 'attempts', 'integer', true),
	('sla_clock', 'first_attempt_at', 'timestamp with time zone', false),
	('sla_clock', 'follow_up', 'interval', false),
	('sla_clock', 'follow_up_business', 'interval', false),
	('sla_clock', 'met_at', 'timestamp with time zone', false),
	('sla_clock', 'breached_at', 'timestamp with time zone', false),
	('sla_clock', 'cancelled_at', 'timestamp with time zone', false),
	('sla_clock', 'action', 'text', false),
	('sla_clock', 'handled_at', 'timestamp with time zone', false),
	('sla_clock', 'action_error', 'text', false),
	('sla_clock', 'next_clock_id', 'bigint', false),
	('sla_clock', 'on_time', 'boolean', false),

	('stage', 'name', 'text', true),
	('stage', 'position', 'integer', true),
	('stage', 'owner', 'text', true),
	('stage', 'definition', 'text', true),
	('stage', 'is_terminal', 'boolean', true),
	('stage', 'is_won', 'boolean', true),
	('stage', 'score_threshold', 'integer', false),
	('stage', 'required_fields', 'text[]', true),
	('stage', 'requalify_after', 'interval', false),
	('stage', 'handoff', 'boolean', true),
	('stage', 'max_recycles', 'integer', false),
	('stage', 'stale_after', 'interval', false),

	('stage_status', 'stage', 'text', true),
	('stage_status', 'status', 'text', true),
	('stage_status', 'position', 'integer', true),
	('stage_status', 'is_default', 'boolean', true),
	('stage_status', 'description', 'text', true),

	('transition', 'from_stage', 'text', true),
	('transition', 'to_stage', 'text', true),
	('transition', 'kind', 'text', true),
	('transition', 'to_status', 'text', false),
	('transition', 'description', 'text', false),

	('reason', 'code', 'text', true),
	('reason', 'kind', 'text', true),
	('reason', 'description', 'text', true),
	('reason', 'score_action', 'text', true),
	('reason', 'score_factor', 'numeric', false),

	('team', 'name', 'text', true),
	('team', 'method', 'text', true),
	('team', 'description', 'text', false),

	('rep', 'name', 'text', true),
	('rep', 'team', 'text', false),
	('rep', 'active', 'boolean', true),
	('rep', 'away_until', 'timestamp with time zone', false),
	('rep', 'weight', 'integer', true),
	('rep', 'territory', 'jsonb', false),
	('rep', 'email', 'text', false),
	('rep', 'login', 'name', false),

	('rep_capacity', 'rep', 'text', true),
	('rep_capacity', 'stage', 'text', true),
	('rep_capacity', 'max_leads', 'integer', true),

	('queue', 'name', 'text', true),
	('queue', 'is_default', 'boolean', true),
	('queue', 'description', 'text', false),

	('routing_rule', 'id', 'bigint', true),
	('routing_rule', 'name', 'text', true),
	('routing_rule', 'priority', 'integer', true),
	('routing_rule', 'condition', 'jsonb', false),
	('routing_rule', 'team', 'text', false),
	('routing_rule', 'rep', 'text', false),
	('routing_rule', 'queue', 'text', false),
	('routing_rule', 'active', 'boolean', true),
	('routing_rule', 'description', 'text', false),

	('rep_state', 'rep', 'text', true),
	('rep_state', 'assigned', 'bigint', true),
	('rep_state', 'last_assigned_at', 'timestamp with time zone', false),
	('rep_state', 'last_turn', 'bigint', false),

	('assignment', 'id', 'bigint', true),
	('assignment', 'lead_id', 'bigint', true),
	('assignment', 'owner', 'text', false),
	('assignment', 'previous_owner', 'text', false),
	('assignment', 'stage', 'text', true),
	('assignment', 'cause', 'text', true),
	('assignment', 'rule_id', 'bigint', false),
	('assignment', 'method', 'text', false),
	('assignment', 'assigned_at', 'timestamp with time zone', true),
	('assignment', 'changed_by', 'text', true),
	('assignment', 'actor', 'text', false),

	('fit_rule', 'id', 'bigint', true),
	('fit_rule', 'name', 'text', true),
	('fit_rule', 'condition', 'jsonb', true),
	('fit_rule', 'points', 'integer', true),
	('fit_rule', 'active', 'boolean', true),
	('fit_rule', 'description', 'text', false),

	('behaviour_rule', 'id', 'bigint', true),
	('behaviour_rule', 'name', 'text', true),
	('behaviour_rule', 'activity_type', 'text', true),
	('behaviour_rule', 'property', 'text', false),
	('behaviour_rule', 'pattern', 'text', false),
	('behaviour_rule', 'points', 'integer', true),
	('behaviour_rule', 'max_occurrences', 'integer', false),
	('behaviour_rule', 'max_points', 'integer', false),
	('behaviour_rule', 'priority', 'integer', true),
	('behaviour_rule', 'active', 'boolean', true),
	('behaviour_rule', 'fast_track_to', 'text', false),
	('behaviour_rule', 'min_interval', 'interval', false),
	('behaviour_rule', 'half_life', 'interval', false),
	('behaviour_rule', 'description', 'text', false),

	('event', 'id', 'bigint', true),
	('event', 'xid', 'xid8', true),
	('event', 'lead_id', 'bigint', true),
	('event', 'type', 'text', true),
	('event', 'occurred_at', 'timestamp with time zone', true),
	('event', 'recorded_at', 'timestamp with time zone', true),
	('event', 'payload', 'jsonb', true),

	('event_consumer', 'name', 'text', true),
	('event_consumer', 'acked_xid', 'xid8', true),
	('event_consumer', 'acked_id', 'bigint', true),
	('event_consumer', 'acked_at', 'timestamp with time zone', false),
	('event_consumer', 'created_at', 'timestamp with time zone', true),

	('lead', 'id', 'bigint', true),
	('lead', 'email', 'text', false),
	('lead', 'first_name', 'text', false),
	('lead', 'last_name', 'text', false),
	('lead', 'company', 'text', false),
	('lead', 'job_title', 'text', false),
	('lead', 'country', 'text', false),
	('lead', 'industry', 'text', false),
	('lead', 'employees', 'integer', false),
	('lead', 'annual_revenue', 'numeric', false),
	('lead', 'source', 'text', false),
	('lead', 'campaign', 'text', false),
	('lead', 'lead_type', 'text', true),
	('lead', 'properties', 'jsonb', true),
	('lead', 'stage', 'text', true),
	('lead', 'status', 'text', true),
	('lead', 'stage_reason', 'text', false),
	('lead', 'owner', 'text', false),
	('lead', 'score', 'integer', true),
	('lead', 'stage_changed_at', 'timestamp with time zone', true),
	('lead', 'recycle_count', 'integer', true),
	('lead', 'last_recycled_at', 'timestamp with time zone', false),
	('lead', 'amount', 'numeric', false),
	('lead', 'created_at', 'timestamp with time zone', true),
	('lead', 'fit_score', 'integer', true),
	('lead', 'behaviour_score', 'integer', true),
	('lead', 'score_tally', 'jsonb', true),

	('activity', 'id', 'bigint', true),
	('activity', 'lead_id', 'bigint', true),
	('activity', 'type', 'text', true),
	('activity', 'occurred_at', 'timestamp with time zone', true),
	('activity', 'properties', 'jsonb', false),

	('contact_attempt', 'id', 'bigint', true),
	('contact_attempt', 'lead_id', 'bigint', true),
	('contact_attempt', 'occurred_at', 'timestamp with time zone', true),
	('contact_attempt', 'channel', 'text', true),
	('contact_attempt', 'outcome', 'text', true),
	('contact_attempt', 'rep', 'text', false),
	('contact_attempt', 'notes', 'text', false),

	('stage_history', 'id', 'bigint', true),
	('stage_history', 'lead_id', 'bigint', true),
	('stage_history', 'from_stage', 'text', false),
	('stage_history', 'to_stage', 'text', true),
	('stage_history', 'from_status', 'text', false),
	('stage_history', 'to_status', 'text', true),
	('stage_history', 'kind', 'text', true),
	('stage_history', 'cause', 'text', true),
	('stage_history', 'reason', 'text', false),
	('stage_history', 'changed_at', 'timestamp with time zone', true),
	('stage_history', 'recorded_at', 'timestamp with time zone', true),
	('stage_history', 'changed_by', 'text', true),
	('stage_history', 'actor', 'text', false),
	('stage_history', 'owner', 'text', false),
	('stage_history', 'score', 'integer', true),
	('stage_history', 'details', 'jsonb', false),

	/* views: NOT NULL is never set on view columns */
	('stage_graph', 'position', 'integer', false),
	('stage_graph', 'stage', 'text', false),
	('stage_graph', 'owner', 'text', false),
	('stage_graph', 'is_terminal', 'boolean', false),
	('stage_graph', 'is_won', 'boolean', false),
	('stage_graph', 'definition', 'text', false),
	('stage_graph', 'allowed_targets', 'text[]', false),

	('stage_counts', 'position', 'integer', false),
	('stage_counts', 'stage', 'text', false),
	('stage_counts', 'owner', 'text', false),
	('stage_counts', 'status', 'text', false),
	('stage_counts', 'leads', 'bigint', false),

	('near_qualified', 'lead_id', 'bigint', false),
	('near_qualified', 'stage', 'text', false),
	('near_qualified', 'next_stage', 'text', false),
	('near_qualified', 'score', 'integer', false),
	('near_qualified', 'score_threshold', 'integer', false),
	('near_qualified', 'missing_field', 'text', false),
	('near_qualified', 'owner', 'text', false);

/* the actual columns, same shape */
CREATE TEMP VIEW lp_actual_columns AS
SELECT c.relname::text AS tab, a.attname::text AS col,
	   pg_catalog.format_type(a.atttypid, a.atttypmod) AS typ, a.attnotnull AS not_null
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'lead_process'::regnamespace
   AND c.relkind IN ('r', 'p', 'v', 'm')
   AND a.attnum > 0 AND NOT a.attisdropped;

SELECT columns_are('lead_process', t.tab,
				   (SELECT array_agg(col::name) FROM lp_expected_columns e WHERE e.tab = t.tab),
				   format('%s %s has exactly the contract''s columns',
						  CASE WHEN t.tab IN ('stage_graph', 'stage_counts', 'near_qualified') THEN 'view' ELSE 'table' END,
						  t.tab))
  FROM (VALUES (1, 'stage'), (2, 'stage_status'), (3, 'transition'), (4, 'reason'),
			   (5, 'lead'), (6, 'activity'), (7, 'contact_attempt'), (8, 'stage_history'),
			   (9, 'stage_graph'), (10, 'stage_counts'), (15, 'near_qualified'), (11, 'fit_rule'),
			   (12, 'event'), (13, 'event_consumer'), (14, 'behaviour_rule'),
			   (16, 'team'), (17, 'rep'), (18, 'rep_capacity'), (19, 'queue'),
			   (20, 'routing_rule'), (21, 'rep_state'), (22, 'assignment'),
			   (23, 'calendar'), (24, 'calendar_hours'), (25, 'calendar_holiday'),
			   (26, 'sla_policy'), (27, 'sla_clock')) AS t(n, tab)
 ORDER BY t.n;

SELECT set_eq(
	format('SELECT col, typ, not_null FROM lp_actual_columns WHERE tab = %L', t.tab),
	format('SELECT col, typ, not_null FROM lp_expected_columns WHERE tab = %L', t.tab),
	format('%s: column types and NOT NULL as in the contract', t.tab))
  FROM (VALUES (1, 'stage'), (2, 'stage_status'), (3, 'transition'), (4, 'reason'),
			   (5, 'lead'), (6, 'activity'), (7, 'contact_attempt'), (8, 'stage_history'),
			   (9, 'stage_graph'), (10, 'stage_counts'), (15, 'near_qualified'), (11, 'fit_rule'),
			   (12, 'event'), (13, 'event_consumer'), (14, 'behaviour_rule'),
			   (16, 'team'), (17, 'rep'), (18, 'rep_capacity'), (19, 'queue'),
			   (20, 'routing_rule'), (21, 'rep_state'), (22, 'assignment'),
			   (23, 'calendar'), (24, 'calendar_hours'), (25, 'calendar_holiday'),
			   (26, 'sla_policy'), (27, 'sla_clock')) AS t(n, tab)
 ORDER BY t.n;

/* lead.id and the per-lead ids are identities (clients may give their own) */
SELECT set_eq($$
	SELECT c.relname::text, a.attname::text, a.attidentity::text
	  FROM pg_catalog.pg_attribute a
	  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND a.attidentity <> ''
$$, $$ VALUES ('lead', 'id', 'd'), ('activity', 'id', 'd'),
			  ('contact_attempt', 'id', 'd'), ('stage_history', 'id', 'a'),
			  ('fit_rule', 'id', 'd'), ('event', 'id', 'a'), ('behaviour_rule', 'id', 'd'),
			  ('routing_rule', 'id', 'd'), ('assignment', 'id', 'a'),
			  ('calendar_holiday', 'id', 'd'), ('sla_policy', 'id', 'd'), ('sla_clock', 'id', 'a'),
			  ('metric_delta', 'id', 'a'), ('metric_rollup', 'id', 'a') $$,
	'identity columns: lead/activity/contact_attempt by default, stage_history always');

/* ------------------------------------------------------------------------
 * Primary keys: lead_id is part of the key of every per-lead table
 * (Citus co-location on lead_id)
 * ------------------------------------------------------------------------ */

SELECT col_is_pk('lead_process', 'stage', ARRAY['name']::name[], 'stage: PRIMARY KEY (name)');
SELECT col_is_pk('lead_process', 'stage_status', ARRAY['stage', 'status']::name[],
				 'stage_status: PRIMARY KEY (stage, status)');
SELECT col_is_pk('lead_process', 'transition', ARRAY['from_stage', 'to_stage']::name[],
				 'transition: PRIMARY KEY (from_stage, to_stage)');
SELECT col_is_pk('lead_process', 'reason', ARRAY['code']::name[], 'reason: PRIMARY KEY (code)');
SELECT col_is_pk('lead_process', 'lead', ARRAY['id']::name[], 'lead: PRIMARY KEY (id)');
SELECT col_is_pk('lead_process', 'activity', ARRAY['id', 'lead_id']::name[],
				 'activity: PRIMARY KEY (id, lead_id): appends on ingest, lead_id kept for distribution');
SELECT col_is_pk('lead_process', 'contact_attempt', ARRAY['lead_id', 'id']::name[],
				 'contact_attempt: PRIMARY KEY (lead_id, id)');
SELECT col_is_pk('lead_process', 'stage_history', ARRAY['lead_id', 'id']::name[],
				 'stage_history: PRIMARY KEY (lead_id, id)');

/* Generic, for future per-lead tables: a table with a lead_id column has a
 * primary key, and every unique constraint or unique index on it
 * includes lead_id (Citus requires the distribution column in them). */
SELECT is_empty($$
	SELECT c.relname::text || coalesce(': ' || i.indexrelid::regclass::text, ': no primary key')
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_attribute a
		ON a.attrelid = c.oid AND a.attname = 'lead_id' AND NOT a.attisdropped
	  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisunique
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('r', 'p')
	   AND (i.indexrelid IS NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index p
												 WHERE p.indrelid = c.oid AND p.indisprimary)
			OR i.indexrelid IS NOT NULL AND NOT a.attnum = ANY (i.indkey::int2[]))
$$, 'every table with a lead_id column has a primary key, and lead_id is in every unique index of it');

/* ------------------------------------------------------------------------
 * Foreign keys
 * ------------------------------------------------------------------------ */

SELECT fk_ok('lead_process', 'lead', ARRAY['stage']::name[],
			 'lead_process', 'stage', ARRAY['name']::name[]);
SELECT fk_ok('lead_process', 'lead', ARRAY['stage', 'status']::name[],
			 'lead_process', 'stage_status', ARRAY['stage', 'status']::name[]);
SELECT fk_ok('lead_process', 'stage_status', ARRAY['stage']::name[],
			 'lead_process', 'stage', ARRAY['name']::name[]);
SELECT fk_ok('lead_process', 'transition', ARRAY['from_stage']::name[],
			 'lead_process', 'stage', ARRAY['name']::name[]);
SELECT fk_ok('lead_process', 'transition', ARRAY['to_stage']::name[],
			 'lead_process', 'stage', ARRAY['name']::name[]);
SELECT fk_ok('lead_process', 'transition', ARRAY['to_stage', 'to_status']::name[],
			 'lead_process', 'stage_status', ARRAY['stage', 'status']::name[]);
SELECT has_trigger('lead_process', 'activity', 'activity_score',
				   'activity: the activity_score trigger checks (and locks) the lead instead of a per-row foreign key');
SELECT fk_ok('lead_process', 'contact_attempt', ARRAY['lead_id']::name[],
			 'lead_process', 'lead', ARRAY['id']::name[]);
SELECT fk_ok('lead_process', 'stage_history', ARRAY['lead_id']::name[],
			 'lead_process', 'lead', ARRAY['id']::name[]);

/* The exact set of foreign keys and their ON DELETE actions */
SELECT set_eq($$
	SELECT conrelid::regclass::text,
		   (SELECT string_agg(a.attname, ',' ORDER BY k.n)
			  FROM unnest(conkey) WITH ORDINALITY k(att, n)
			  JOIN pg_catalog.pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.att),
		   confrelid::regclass::text,
		   confdeltype::text
	  FROM pg_catalog.pg_constraint
	 WHERE contype = 'f' AND connamespace = 'lead_process'::regnamespace
$$, $$ VALUES
	('lead_process.lead', 'stage', 'lead_process.stage', 'a'),
	('lead_process.lead', 'stage,status', 'lead_process.stage_status', 'a'),
	('lead_process.stage_status', 'stage', 'lead_process.stage', 'c'),
	('lead_process.transition', 'from_stage', 'lead_process.stage', 'c'),
	('lead_process.transition', 'to_stage', 'lead_process.stage', 'c'),
	('lead_process.transition', 'to_stage,to_status', 'lead_process.stage_status', 'a'),
	('lead_process.contact_attempt', 'lead_id', 'lead_process.lead', 'c'),
	('lead_process.stage_history', 'lead_id', 'lead_process.lead', 'c'),
	('lead_process.behaviour_rule', 'fast_track_to', 'lead_process.stage', 'n'),
	('lead_process.rep', 'team', 'lead_process.team', 'a'),
	('lead_process.rep_capacity', 'rep', 'lead_process.rep', 'c'),
	('lead_process.rep_capacity', 'stage', 'lead_process.stage', 'c'),
	('lead_process.routing_rule', 'team', 'lead_process.team', 'a'),
	('lead_process.routing_rule', 'rep', 'lead_process.rep', 'a'),
	('lead_process.routing_rule', 'queue', 'lead_process.queue', 'a'),
	('lead_process.rep_state', 'rep', 'lead_process.rep', 'c'),
	('lead_process.assignment', 'lead_id', 'lead_process.lead', 'c'),
	('lead_process.calendar_hours', 'calendar', 'lead_process.calendar', 'c'),
	('lead_process.calendar_holiday', 'calendar', 'lead_process.calendar', 'c'),
	('lead_process.sla_policy', 'stage', 'lead_process.stage', 'a'),
	('lead_process.sla_policy', 'calendar', 'lead_process.calendar', 'a'),
	('lead_process.sla_clock', 'lead_id', 'lead_process.lead', 'c'),
	('lead_process.sla_clock', 'policy_id', 'lead_process.sla_policy', 'a')
$$, 'foreign keys: per-lead rows cascade with their lead; leads block deleting their stage');

/* ------------------------------------------------------------------------
 * Functions: signatures, argument names and defaults, return types
 * ------------------------------------------------------------------------ */

SELECT has_function('lead_process', 'move',
					ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']);
SELECT has_function('lead_process', 'recycle',
					ARRAY['bigint', 'text', 'text', 'timestamp with time zone']);
SELECT has_function('lead_process', 'disqualify',
					ARRAY['bigint', 'text', 'text', 'timestamp with time zone']);
SELECT has_function('lead_process', 'allowed_transitions', ARRAY['bigint']);
SELECT has_function('lead_process', 'grant_reader', ARRAY['regrole']);
SELECT has_function('lead_process', 'grant_writer', ARRAY['regrole']);
SELECT has_function('lead_process', 'grant_admin', ARRAY['regrole']);
SELECT has_function('lead_process', 'revoke_all', ARRAY['regrole']);

SELECT function_returns('lead_process', 'move',
						ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone'], 'boolean');
SELECT function_returns('lead_process', 'recycle',
						ARRAY['bigint', 'text', 'text', 'timestamp with time zone'], 'text');
SELECT function_returns('lead_process', 'disqualify',
						ARRAY['bigint', 'text', 'text', 'timestamp with time zone'], 'text');
SELECT function_returns('lead_process', 'allowed_transitions', ARRAY['bigint'], 'setof record');
SELECT function_returns('lead_process', 'grant_reader', ARRAY['regrole'], 'void');
SELECT function_returns('lead_process', 'grant_writer', ARRAY['regrole'], 'void');
SELECT function_returns('lead_process', 'grant_admin', ARRAY['regrole'], 'void');
SELECT function_returns('lead_process', 'revoke_all', ARRAY['regrole'], 'void');

/* Argument names and defaults matter: callers use named notation (at => ...) */
SELECT set_eq($$
	SELECT p.oid::regprocedure::text,
		   pg_catalog.pg_get_function_arguments(p.oid),
		   pg_catalog.pg_get_function_result(p.oid)
	  FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND p.prorettype <> 'pg_catalog.trigger'::regtype
$$, $$ VALUES
	('lead_process.move(bigint,text,text,text,timestamp with time zone)',
	 'lead_id bigint, to_stage text, reason text DEFAULT NULL::text, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'boolean'),
	('lead_process.recycle(bigint,text,text,timestamp with time zone)',
	 'lead_id bigint, reason text, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'text'),
	('lead_process.disqualify(bigint,text,text,timestamp with time zone)',
	 'lead_id bigint, reason text, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'text'),
	('lead_process.allowed_transitions(bigint)', 'lead_id bigint',
	 'TABLE(to_stage text, kind text, needs_reason boolean)'),
	('lead_process.condition_check(jsonb)', 'condition jsonb', 'boolean'),
	('lead_process.condition_matches(jsonb,lead_process.lead)',
	 'condition jsonb, lead lead_process.lead', 'boolean'),
	('lead_process.fit_score_of(lead_process.lead)', 'lead lead_process.lead', 'integer'),
	('lead_process.fit_rules_of(lead_process.lead)', 'lead lead_process.lead', 'bigint[]'),
	('lead_process.rescore_fit(bigint)', 'lead_id bigint DEFAULT NULL::bigint', 'bigint'),
	('lead_process.fit_explain(bigint)', 'lead_id bigint',
	 'TABLE(rule_id bigint, rule_name text, points integer)'),
	('lead_process.read_events(text,integer)', 'consumer text, max_events integer DEFAULT 100',
	 'SETOF lead_process.event'),
	('lead_process.ack_events(text,bigint)', 'consumer text, upto_event_id bigint', 'bigint'),
	('lead_process.prune_events()', '', 'bigint'),
	('lead_process.rescore_behaviour(bigint)', 'lead_id bigint DEFAULT NULL::bigint', 'bigint'),
	('lead_process.score_pending(integer)', 'max_statements integer DEFAULT NULL::integer', 'bigint'),
	('lead_process.decayed_points(double precision,bigint,interval,timestamp with time zone)',
	 'sum_at_ref double precision, ref_us bigint, half_life interval, as_of timestamp with time zone',
	 'double precision'),
	('lead_process.current_score(lead_process.lead,timestamp with time zone)',
	 'lead lead_process.lead, as_of timestamp with time zone DEFAULT now()', 'integer'),
	('lead_process.enable_rep_security(boolean)', 'enable boolean DEFAULT true', 'void'),
	('lead_process.rep_security_enabled()', '', 'boolean'),
	('lead_process.score_explain(bigint)', 'lead_id bigint',
	 'TABLE(source text, rule_id bigint, rule_name text, occurrences integer, points integer)'),
	('lead_process.grant_reader(regrole)', 'role regrole', 'void'),
	('lead_process.grant_writer(regrole)', 'role regrole', 'void'),
	('lead_process.grant_admin(regrole)', 'role regrole', 'void'),
	('lead_process.revoke_all(regrole)', 'role regrole', 'void'),
	('lead_process.route(bigint,boolean,text,timestamp with time zone)',
	 'lead_id bigint, reassign boolean DEFAULT false, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'text'),
	('lead_process.route_preview(bigint,timestamp with time zone)',
	 'lead_id bigint, at timestamp with time zone DEFAULT NULL::timestamp with time zone', 'jsonb'),
	('lead_process.accept(bigint,text,timestamp with time zone)',
	 'lead_id bigint, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'boolean'),
	('lead_process.reject(bigint,text,text,timestamp with time zone)',
	 'lead_id bigint, reason text DEFAULT ''rejected''::text, actor text DEFAULT NULL::text, at timestamp with time zone DEFAULT NULL::timestamp with time zone',
	 'text'),
	('lead_process.sweep(timestamp with time zone)', 'as_of timestamp with time zone DEFAULT now()',
	 'TABLE(action text, leads bigint)'),
	('lead_process.business_time_add(text,timestamp with time zone,interval)',
	 'calendar text, start timestamp with time zone, amount interval', 'timestamp with time zone'),
	('lead_process.business_time_between(text,timestamp with time zone,timestamp with time zone)',
	 'calendar text, "from" timestamp with time zone, "to" timestamp with time zone', 'interval'),
	('lead_process.sla_breach(timestamp with time zone)', 'as_of timestamp with time zone',
	 'TABLE(clock_lead_id bigint, clock_id bigint, clock_action text)'),
	('lead_process.sla_record_action(bigint,bigint,timestamp with time zone,text)',
	 'lead_id bigint, clock_id bigint, as_of timestamp with time zone, error text DEFAULT NULL::text', 'bigint'),
	('lead_process.sla_rebase(text,timestamp with time zone)',
	 'calendar text, as_of timestamp with time zone', 'bigint'),
	('lead_process.sla_recompute(text,timestamp with time zone)',
	 'calendar text, as_of timestamp with time zone', 'bigint'),
	('lead_process.metric_bucket(interval)', 'duration interval', 'smallint'),
	('lead_process.metric_bucket_value(smallint)', 'bucket smallint', 'interval'),
	('lead_process.fold_metrics()', '', 'bigint'),
	('lead_process.rebuild_metrics()', '', 'bigint'),
	('lead_process.grant_bi_reader(regrole)', 'role regrole', 'void'),
	('lead_process.metric_hist_add(internal,smallint,bigint)', 'state internal, bucket smallint, n bigint', 'internal'),
	('lead_process.metric_hist_add_array(internal,bigint[])', 'state internal, hist bigint[]', 'internal'),
	('lead_process.metric_hist_final(internal)', 'state internal', 'bigint[]'),
	('lead_process.metric_hist_agg(smallint,bigint)', 'bucket smallint, n bigint', 'bigint[]'),
	('lead_process.metric_hist_sum(bigint[])', 'hist bigint[]', 'bigint[]'),
	('lead_process.metric_hist_merge(bigint[],bigint[])', 'a bigint[], b bigint[]', 'bigint[]'),
	('lead_process.metric_hist_percentile(bigint[],double precision)', 'hist bigint[], fraction double precision', 'interval'),
	('lead_process.metric_slices_add(internal,text,text,text,text,smallint,numeric)',
	 'state internal, source text, campaign text, lead_type text, owner text, bucket smallint, amount numeric',
	 'internal'),
	('lead_process.metric_slices_final(internal)', 'state internal', 'lead_process.metric_slice[]'),
	('lead_process.metric_slices(text,text,text,text,smallint,numeric)',
	 'source text, campaign text, lead_type text, owner text, bucket smallint, amount numeric',
	 'lead_process.metric_slice[]')
$$, 'callable functions: exact signatures, argument names, defaults and results');

/* Trigger functions take no arguments and return trigger */
SELECT set_eq($$
	SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND p.prorettype = 'pg_catalog.trigger'::regtype
$$, $$ VALUES ('lead_process.lead_stage_trigger()'), ('lead_process.lead_history_trigger()'),
			  ('lead_process.history_guard_trigger()'), ('lead_process.config_changed_trigger()'),
			  ('lead_process.fit_rule_validate_trigger()'), ('lead_process.activity_score_trigger()'),
			  ('lead_process.lead_deleted_trigger()'), ('lead_process.lead_truncated_trigger()'),
			  ('lead_process.score_queue_truncate_trigger()'),
			  ('lead_process.activity_guard_trigger()'),
			  ('lead_process.condition_validate_trigger()'), ('lead_process.calendar_validate_trigger()'),
			  ('lead_process.lead_history_flush_trigger()'),
			  ('lead_process.calendar_hours_validate_trigger()'),
			  ('lead_process.calendar_holiday_validate_trigger()'),
			  ('lead_process.sla_policy_validate_trigger()'), ('lead_process.sla_history_trigger()'),
			  ('lead_process.sla_attempt_trigger()'), ('lead_process.sla_calendar_trigger()'),
			  ('lead_process.metric_history_trigger()'), ('lead_process.metric_contact_trigger()') $$,
	'trigger functions');

/* move(), recycle(), disqualify() write: they must not be STABLE/IMMUTABLE */
SELECT set_eq($$
	SELECT p.proname::text, p.provolatile::text FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND p.proname IN ('move', 'recycle', 'disqualify', 'allowed_transitions')
$$, $$ VALUES ('move', 'v'), ('recycle', 'v'), ('disqualify', 'v'), ('allowed_transitions', 's') $$,
	'volatility: move/recycle/disqualify VOLATILE, allowed_transitions STABLE');

/* ------------------------------------------------------------------------
 * Triggers
 * ------------------------------------------------------------------------ */

SELECT triggers_are('lead_process', 'lead',
					ARRAY['lead_stage_insert', 'lead_stage_update',
						  'lead_history_insert', 'lead_history_update', 'lead_history_flush', 'lead_deleted',
						  'lead_truncated']);
SELECT triggers_are('lead_process', 'stage_history', ARRAY['history_append_only', 'sla_clocks', 'metric_facts']);
SELECT triggers_are('lead_process', 'stage', ARRAY['config_changed']);
SELECT triggers_are('lead_process', 'stage_status', ARRAY['config_changed']);
SELECT triggers_are('lead_process', 'transition', ARRAY['config_changed']);
SELECT triggers_are('lead_process', 'reason', ARRAY['config_changed']);
SELECT triggers_are('lead_process', 'fit_rule', ARRAY['config_changed', 'fit_rule_validate']);
SELECT triggers_are('lead_process', 'behaviour_rule', ARRAY['config_changed']);
SELECT triggers_are('lead_process', 'activity', ARRAY['activity_score', 'activity_lead_fixed', 'activity_type_set', 'activity_truncated']);
SELECT triggers_are('lead_process', 'calendar', ARRAY['config_changed', 'calendar_validate',
	'sla_rebase', 'sla_recompute_update', 'sla_edit_lock']);
SELECT triggers_are('lead_process', 'calendar_hours', ARRAY['config_changed', 'calendar_hours_validate',
	'sla_rebase', 'sla_recompute_insert', 'sla_recompute_update', 'sla_recompute_delete', 'sla_edit_lock']);
SELECT triggers_are('lead_process', 'calendar_holiday', ARRAY['config_changed', 'calendar_holiday_validate',
	'sla_rebase', 'sla_recompute_insert', 'sla_recompute_update', 'sla_recompute_delete', 'sla_edit_lock']);
SELECT triggers_are('lead_process', 'contact_attempt', ARRAY['sla_clocks', 'metric_facts']);
SELECT triggers_are('lead_process', 'sla_policy', ARRAY['config_changed', 'sla_policy_condition', 'sla_policy_validate']);

/* Timing, level, events and function of every trigger in the schema */
SELECT set_eq($$
	SELECT c.relname::text, t.tgname::text, t.tgfoid::regproc::text,
		   CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE'
				WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END AS timing,
		   CASE WHEN t.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END AS level,
		   concat_ws(' OR ',
					 CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,
					 CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END,
					 CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
					 CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END) AS events,
		   t.tgenabled::text
	  FROM pg_catalog.pg_trigger t
	  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND NOT t.tgisinternal
$$, $$ VALUES
	('lead', 'lead_stage_insert', 'lead_process.lead_stage_trigger', 'BEFORE', 'ROW', 'INSERT', 'O'),
	('lead', 'lead_stage_update', 'lead_process.lead_stage_trigger', 'BEFORE', 'ROW', 'UPDATE', 'O'),
	('lead', 'lead_history_insert', 'lead_process.lead_history_trigger', 'AFTER', 'ROW', 'INSERT', 'O'),
	('lead', 'lead_history_update', 'lead_process.lead_history_trigger', 'AFTER', 'ROW', 'UPDATE', 'O'),
	('lead', 'lead_history_flush', 'lead_process.lead_history_flush_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE', 'O'),
	('stage_history', 'history_append_only', 'lead_process.history_guard_trigger', 'BEFORE', 'ROW', 'UPDATE', 'O'),
	('stage', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('stage_status', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('transition', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('reason', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('fit_rule', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('fit_rule', 'fit_rule_validate', 'lead_process.fit_rule_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('behaviour_rule', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('activity', 'activity_score', 'lead_process.activity_score_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O'),
	('lead', 'lead_deleted', 'lead_process.lead_deleted_trigger', 'AFTER', 'STATEMENT', 'DELETE', 'O'),
	('lead', 'lead_truncated', 'lead_process.lead_truncated_trigger', 'AFTER', 'STATEMENT', 'TRUNCATE', 'O'),
	('activity', 'activity_lead_fixed', 'lead_process.activity_guard_trigger', 'BEFORE', 'ROW', 'UPDATE', 'O'),
	('activity', 'activity_type_set', 'lead_process.activity_guard_trigger', 'BEFORE', 'ROW', 'UPDATE', 'O'),
	('activity', 'activity_truncated', 'lead_process.score_queue_truncate_trigger', 'AFTER', 'STATEMENT', 'TRUNCATE', 'O'),
	('team', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('rep', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('rep_capacity', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('queue', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('routing_rule', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('rep', 'rep_validate', 'lead_process.condition_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('routing_rule', 'routing_rule_validate', 'lead_process.condition_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('calendar', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('calendar_hours', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('calendar_holiday', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('calendar', 'calendar_validate', 'lead_process.calendar_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('calendar_hours', 'calendar_hours_validate', 'lead_process.calendar_hours_validate_trigger', 'AFTER', 'ROW', 'INSERT OR UPDATE', 'O'),
	('calendar_holiday', 'calendar_holiday_validate', 'lead_process.calendar_holiday_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('sla_policy', 'sla_policy_condition', 'lead_process.condition_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('sla_policy', 'sla_policy_validate', 'lead_process.sla_policy_validate_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE', 'O'),
	('stage_history', 'sla_clocks', 'lead_process.sla_history_trigger', 'AFTER', 'ROW', 'INSERT', 'O'),
	('sla_policy', 'config_changed', 'lead_process.config_changed_trigger', 'AFTER', 'STATEMENT', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', 'O'),
	('contact_attempt', 'sla_clocks', 'lead_process.sla_attempt_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O'),
	('calendar', 'sla_rebase', 'lead_process.sla_calendar_trigger', 'BEFORE', 'ROW', 'UPDATE', 'O'),
	('calendar_hours', 'sla_rebase', 'lead_process.sla_calendar_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE OR DELETE', 'O'),
	('calendar_holiday', 'sla_rebase', 'lead_process.sla_calendar_trigger', 'BEFORE', 'ROW', 'INSERT OR UPDATE OR DELETE', 'O'),
	('calendar', 'sla_recompute_update', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'UPDATE', 'O'),
	('calendar_hours', 'sla_recompute_insert', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O'),
	('calendar_hours', 'sla_recompute_update', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'UPDATE', 'O'),
	('calendar_hours', 'sla_recompute_delete', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'DELETE', 'O'),
	('calendar_holiday', 'sla_recompute_insert', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O'),
	('calendar_holiday', 'sla_recompute_update', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'UPDATE', 'O'),
	('calendar_holiday', 'sla_recompute_delete', 'lead_process.sla_calendar_trigger', 'AFTER', 'STATEMENT', 'DELETE', 'O'),
	('calendar_hours', 'sla_edit_lock', 'lead_process.sla_calendar_trigger', 'BEFORE', 'STATEMENT', 'INSERT OR UPDATE OR DELETE', 'O'),
	('calendar_holiday', 'sla_edit_lock', 'lead_process.sla_calendar_trigger', 'BEFORE', 'STATEMENT', 'INSERT OR UPDATE OR DELETE', 'O'),
	('calendar', 'sla_edit_lock', 'lead_process.sla_calendar_trigger', 'BEFORE', 'STATEMENT', 'UPDATE', 'O'),
	('stage_history', 'metric_facts', 'lead_process.metric_history_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O'),
	('contact_attempt', 'metric_facts', 'lead_process.metric_contact_trigger', 'AFTER', 'STATEMENT', 'INSERT', 'O')
$$, 'triggers: function, timing, level, events, enabled');

/* ------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------ */

SELECT is(
	(SELECT array_agg(c.relname::text ORDER BY c.relname)
	   FROM pg_catalog.pg_class c
	  WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind = 'v'
		AND 'security_invoker=true' = ANY (c.reloptions)),
	ARRAY['near_qualified', 'stage_counts', 'stage_graph'],
	'views are security_invoker (the caller''s privileges apply to the tables behind them), but for the metric views (test/pgtap/03_metrics.sql)');

/* ------------------------------------------------------------------------
 * The seeded default process
 * ------------------------------------------------------------------------ */

SELECT results_eq($$
	SELECT name, owner, is_terminal, is_won FROM lead_process.stage ORDER BY position
$$, $$ VALUES
	('subscriber'::text, 'marketing'::text, false, false),
	('lead', 'marketing', false, false),
	('mql', 'marketing', false, false),
	('sal', 'sales', false, false),
	('sql', 'sales', false, false),
	('opportunity', 'sales', false, false),
	('customer', 'sales', true, true),
	('disqualified', 'marketing', true, false)
$$, 'default stages in funnel order with their owners');

SELECT results_eq($$
	SELECT stage, owner FROM lead_process.stage_graph
$$, $$ VALUES
	('subscriber'::text, 'marketing'::text), ('lead', 'marketing'), ('mql', 'marketing'),
	('sal', 'sales'), ('sql', 'sales'), ('opportunity', 'sales'), ('customer', 'sales'),
	('disqualified', 'marketing')
$$, 'stage_graph lists the stages in funnel order');

SELECT is_empty($$
	SELECT s.name FROM lead_process.stage s
	 WHERE pg_catalog.length(s.definition) = 0
		OR (SELECT count(*) FROM lead_process.stage_status st
			 WHERE st.stage = s.name AND st.is_default) <> 1
$$, 'every default stage has a written definition and exactly one default status');

SELECT set_eq($$
	SELECT code FROM lead_process.reason WHERE kind = 'recycle'
$$, $$ VALUES ('returned-not-ready'), ('unreachable'), ('closed-lost'), ('sla-breach'),
			  ('stale'), ('rejected') $$,
	'the SPEC''s recycle reasons are seeded');

SELECT set_eq($$
	SELECT from_stage, to_stage, kind FROM lead_process.transition
	 WHERE kind IN ('recycle', 'reject')
$$, $$ VALUES ('mql', 'lead', 'reject'), ('sal', 'lead', 'recycle'),
			  ('sql', 'lead', 'recycle'), ('opportunity', 'lead', 'recycle') $$,
	'recycling goes from mql (reject), sal, sql and opportunity back to lead');

SELECT is_empty($$
	SELECT from_stage FROM lead_process.transition t
	  JOIN lead_process.stage s ON s.name = t.from_stage
	 WHERE s.is_terminal
$$, 'no default transition leaves a terminal stage');

/* ------------------------------------------------------------------------
 * COMMENT on every object of the schema (generic: future objects too).
 * Each test lists the objects that lack a comment and expects none.
 * ------------------------------------------------------------------------ */

SELECT isnt(obj_description('lead_process'::regnamespace, 'pg_namespace'), NULL,
			'schema lead_process has a comment');

SELECT is_empty($$
	SELECT c.oid::regclass::text
	  FROM pg_catalog.pg_class c
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('r', 'p', 'f')
	   AND d.description IS NULL
$$, 'every table in lead_process has a comment');

SELECT is_empty($$
	SELECT c.oid::regclass::text || '.' || a.attname
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = c.oid
	   AND d.objsubid = a.attnum
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('r', 'p', 'f')
	   AND d.description IS NULL
$$, 'every table column in lead_process has a comment');

SELECT is_empty($$
	SELECT c.oid::regclass::text
	  FROM pg_catalog.pg_class c
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('v', 'm')
	   AND d.description IS NULL
$$, 'every view in lead_process has a comment');

SELECT is_empty($$
	SELECT c.oid::regclass::text || '.' || a.attname
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = c.oid
	   AND d.objsubid = a.attnum
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('v', 'm')
	   AND d.description IS NULL
$$, 'every view column in lead_process has a comment');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	  FROM pg_catalog.pg_proc p
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objoid = p.oid AND d.objsubid = 0
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND d.description IS NULL
$$, 'every function in lead_process has a comment');

SELECT is_empty($$
	SELECT t.tgname || ' ON ' || t.tgrelid::regclass::text
	  FROM pg_catalog.pg_trigger t
	  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_trigger'::regclass AND d.objoid = t.oid AND d.objsubid = 0
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND NOT t.tgisinternal
	   AND d.description IS NULL
$$, 'every trigger in lead_process has a comment');

/* All indexes, including those behind PRIMARY KEY and UNIQUE constraints */
SELECT is_empty($$
	SELECT c.oid::regclass::text
	  FROM pg_catalog.pg_class c
	  LEFT JOIN pg_catalog.pg_description d
		ON d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('i', 'I')
	   AND d.description IS NULL
$$, 'every index in lead_process has a comment');

/* ------------------------------------------------------------------------
 * search_path safety of function bodies.
 *
 * What is checked, precisely: every function in schema lead_process whose
 * language is not C (SQL, PL/pgSQL, ... including trigger functions written
 * in those languages) has exactly one search_path entry in pg_proc.proconfig
 * (a SET search_path clause), and that path is "pg_catalog, ..., pg_temp":
 * (aggregates cannot have one; their support functions are checked)
 * pg_catalog first, pg_temp last, so that no schema a user can create
 * objects in is searched before the system catalog and temporary objects
 * can never take precedence.  C functions (proconfig is not needed there;
 * their SQL is schema-qualified, which test/t/002_search_path.pl checks by
 * behaviour) are exempt.
 * ------------------------------------------------------------------------ */

SELECT is_empty($$
	SELECT p.oid::regprocedure::text || ' (' || l.lanname || ', proconfig '
		   || coalesce(p.proconfig::text, 'NULL') || ')'
	  FROM pg_catalog.pg_proc p
	  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND l.lanname <> 'c'
	   AND p.prokind <> 'a'	-- an aggregate runs its support functions, which are checked
	   AND ((SELECT count(*) FROM unnest(p.proconfig) AS cfg
			  WHERE cfg LIKE 'search_path=%') <> 1
			OR NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS cfg
							WHERE cfg ~ '^search_path=pg_catalog(, .*)?, pg_temp$'))
$$, 'every non-C function in lead_process has SET search_path = pg_catalog, ..., pg_temp');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	  FROM pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace AND p.prosecdef
	   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) cfg WHERE cfg LIKE 'search_path=%')
$$, 'no SECURITY DEFINER function in lead_process lacks a fixed search_path');

/* ------------------------------------------------------------------------
 * Privileges of the installed objects (before any grant_*)
 * ------------------------------------------------------------------------ */

/* A NULL proacl means the default, which grants EXECUTE to PUBLIC */
SELECT is_empty($$
	SELECT p.oid::regprocedure::text
	  FROM pg_catalog.pg_proc p,
		   LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
$$, 'no function in lead_process is executable by PUBLIC');

SELECT is_empty($$
	SELECT c.oid::regclass::text || ': ' || a.privilege_type
	  FROM pg_catalog.pg_class c,
		   LATERAL aclexplode(coalesce(c.relacl,
									   acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
												  c.relowner))) a
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND a.grantee = 0
	UNION ALL
	SELECT 'schema lead_process: ' || a.privilege_type
	  FROM pg_catalog.pg_namespace n,
		   LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
	 WHERE n.oid = 'lead_process'::regnamespace AND a.grantee = 0
$$, 'PUBLIC has no privilege on schema lead_process or any relation in it');

/* ------------------------------------------------------------------------
 * pg_dump: configuration (and customer data) tables are registered with
 * pg_extension_config_dump, so a dump keeps them
 * ------------------------------------------------------------------------ */

CREATE TEMP VIEW lp_extconfig AS
SELECT cfg::regclass::text AS rel
  FROM pg_catalog.pg_extension e, unnest(e.extconfig) AS cfg
 WHERE e.extname = 'lead_process';

SELECT set_has('SELECT rel FROM lp_extconfig',
			   $$ VALUES ('lead_process.stage'), ('lead_process.stage_status'),
						 ('lead_process.transition'), ('lead_process.reason'),
						 ('lead_process.fit_rule'), ('lead_process.behaviour_rule'), ('lead_process.event'),
						 ('lead_process.event_consumer') $$,
			   'the configuration tables are registered with pg_extension_config_dump');

/* Generic: every table and every identity sequence of the schema is dumped
 * (leads and history are customer data, and restored rows need their
 * sequences past the restored ids). */
SELECT is_empty($$
	SELECT c.oid::regclass::text
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('r', 'p', 'S')
	   AND c.oid::regclass::text NOT IN (SELECT rel FROM lp_extconfig)
$$, 'every table and sequence in lead_process is registered with pg_extension_config_dump');

/* Rep security: one policy per lead table, off until enable_rep_security() */
SELECT set_eq($$
	SELECT polrelid::regclass::text, polname::text, polcmd::text FROM pg_catalog.pg_policy p
	  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
	 WHERE c.relnamespace = 'lead_process'::regnamespace
$$, $$ VALUES ('lead_process.lead', 'rep_own_leads', '*'), ('lead_process.activity', 'rep_own_leads', '*'),
			  ('lead_process.contact_attempt', 'rep_own_leads', '*'),
			  ('lead_process.stage_history', 'rep_own_leads', '*'),
			  ('lead_process.assignment', 'rep_own_leads', '*'), ('lead_process.event', 'rep_own_leads', '*') $$,
	'policies: rep_own_leads on every table of per-lead rows');
SELECT is_empty($$
	SELECT relname FROM pg_catalog.pg_class
	 WHERE relnamespace = 'lead_process'::regnamespace AND relrowsecurity
$$, 'row-level security is off after CREATE EXTENSION');

SELECT * FROM finish();
ROLLBACK;
