/*
 * test/pgtap/02_privileges.sql
 *
 * The three privilege levels of lead_process (grant_reader, grant_writer,
 * grant_admin) and revoke_all: first the exact privileges each level holds
 * on every table, view, sequence and function of the schema, then what
 * each level can and cannot do, tried under SET ROLE.
 *
 * Levels (see the install script):
 *	reader	USAGE on the schema, SELECT on every table and view,
 *			EXECUTE on allowed_transitions()
 *	writer	reader + INSERT/UPDATE on lead, activity, contact_attempt,
 *			EXECUTE on move(), recycle(), disqualify()
 *	admin	writer + INSERT/UPDATE/DELETE on the configuration tables,
 *			DELETE on lead, activity, contact_attempt, stage_history
 * Nobody ever gets UPDATE on stage_history, TRUNCATE, REFERENCES, TRIGGER,
 * sequence privileges, or EXECUTE on grant_*, revoke_all or the trigger
 * functions.
 *
 * Run as a superuser; the roles are created inside the transaction and
 * vanish with its ROLLBACK.
 *   pg_prove -d DB test/pgtap/02_privileges.sql
 */
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lead_process;

CREATE ROLE lp_t_admin NOLOGIN;
CREATE ROLE lp_t_writer NOLOGIN;
CREATE ROLE lp_t_reader NOLOGIN;
CREATE ROLE lp_t_nobody NOLOGIN;

SELECT plan(627);

SELECT lives_ok($$SELECT lead_process.grant_admin('lp_t_admin')$$, 'grant_admin(lp_t_admin)');
SELECT lives_ok($$SELECT lead_process.grant_writer('lp_t_writer')$$, 'grant_writer(lp_t_writer)');
SELECT lives_ok($$SELECT lead_process.grant_reader('lp_t_reader')$$, 'grant_reader(lp_t_reader)');

/* ------------------------------------------------------------------------
 * The expected privileges: one row per object, one column per level
 * ------------------------------------------------------------------------ */

CREATE TEMP TABLE lp_roles (level int, role name);
INSERT INTO lp_roles VALUES
	(0, 'lp_t_nobody'), (1, 'lp_t_reader'), (2, 'lp_t_writer'), (3, 'lp_t_admin');

/* (n, relation, level, privileges) -- written out per level, exactly */
CREATE TEMP TABLE lp_rel_privs (n int, rel name, level int, privs name[]);
INSERT INTO lp_rel_privs
SELECT r.n, r.rel, l.level,
	   CASE l.level WHEN 0 THEN '{}' WHEN 1 THEN r.reader
					WHEN 2 THEN r.writer ELSE r.admin END
  FROM (VALUES
	(1, 'stage',			'{SELECT}'::name[], '{SELECT}'::name[], '{SELECT,INSERT,UPDATE,DELETE}'::name[]),
	(2, 'stage_status',	    '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(3, 'transition',	    '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(4, 'reason',		    '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(5, 'lead',			    '{SELECT}', '{SELECT,INSERT,UPDATE}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(6, 'activity',		    '{SELECT}', '{SELECT,INSERT,UPDATE}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(7, 'contact_attempt',  '{SELECT}', '{SELECT,INSERT,UPDATE}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(8, 'stage_history',    '{SELECT}', '{SELECT}', '{SELECT,DELETE}'),
	(9, 'stage_graph',	    '{SELECT}', '{SELECT}', '{SELECT}'),
	(10, 'stage_counts',    '{SELECT}', '{SELECT}', '{SELECT}'),
	(15, 'near_qualified',  '{SELECT}', '{SELECT}', '{SELECT}'),
	(11, 'fit_rule',        '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(12, 'event',           '{SELECT}', '{SELECT}', '{SELECT,DELETE}'),
	(13, 'event_consumer',  '{SELECT}', '{SELECT,UPDATE}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(14, 'behaviour_rule',  '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(16, 'team',            '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(17, 'rep',             '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(18, 'rep_capacity',    '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(19, 'queue',           '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(20, 'routing_rule',    '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(21, 'rep_state',       '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(22, 'assignment',      '{SELECT}', '{SELECT}', '{SELECT,DELETE}'),
	(23, 'calendar',        '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(24, 'calendar_hours',  '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(25, 'calendar_holiday', '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(26, 'sla_policy',      '{SELECT}', '{SELECT}', '{SELECT,INSERT,UPDATE,DELETE}'),
	(27, 'sla_clock',       '{SELECT}', '{SELECT}', '{SELECT}'),
	-- metrics: the reader's SELECT on every table covers them; only the
	-- triggers and fold_metrics() / rebuild_metrics() write them
	(28, 'metric_delta', '{SELECT}', '{SELECT}', '{SELECT}'),
	(29, 'metric_rollup', '{SELECT}', '{SELECT}', '{SELECT}'),
	(30, 'metric_lead_reach', '{SELECT}', '{SELECT}', '{SELECT}'),
	(31, 'metric_followup', '{SELECT}', '{SELECT}', '{SELECT}'),
	(32, 'metric_funnel', '{SELECT}', '{SELECT}', '{SELECT}'),
	(33, 'metric_conversion_period', '{SELECT}', '{SELECT}', '{SELECT}'),
	(34, 'metric_conversion_cohort', '{SELECT}', '{SELECT}', '{SELECT}'),
	(35, 'metric_lead_flow', '{SELECT}', '{SELECT}', '{SELECT}'),
	(36, 'metric_revenue', '{SELECT}', '{SELECT}', '{SELECT}'),
	(37, 'metric_followup_time', '{SELECT}', '{SELECT}', '{SELECT}'),
	(38, 'metric_time_in_stage', '{SELECT}', '{SELECT}', '{SELECT}'),
	(39, 'metric_recycles', '{SELECT}', '{SELECT}', '{SELECT}'),
	(40, 'work_queue', '{SELECT}', '{SELECT}', '{SELECT}'),
	(41, 'lead_scorecard', '{SELECT}', '{SELECT}', '{SELECT}'),
	(42, 'metric_history_facts', '{SELECT}', '{SELECT}', '{SELECT}'),
	(43, 'metric_history_reach', '{SELECT}', '{SELECT}', '{SELECT}'),
	(44, 'metric_reach_facts', '{SELECT}', '{SELECT}', '{SELECT}'),
	(45, 'metric_handoff', '{SELECT}', '{SELECT}', '{SELECT}'),
	(46, 'metric_followup_facts', '{SELECT}', '{SELECT}', '{SELECT}'),
	(47, 'metric_delta_cube', '{SELECT}', '{SELECT}', '{SELECT}'),
	(48, 'metric_cube', '{SELECT}', '{SELECT}', '{SELECT}'),
	(49, 'metric_sla_compliance', '{SELECT}', '{SELECT}', '{SELECT}'),
	(50, 'score_queue', '{SELECT}', '{SELECT}', '{SELECT}')
  ) AS r(n, rel, reader, writer, admin),
	   lp_roles l;

CREATE TEMP TABLE lp_func_privs (n int, func name, args name[], level int, privs name[]);
INSERT INTO lp_func_privs
SELECT f.n, f.func, f.args, l.level,
	   CASE WHEN f.min_level IS NOT NULL AND l.level >= f.min_level
			THEN '{EXECUTE}'::name[] ELSE '{}'::name[] END
  FROM (VALUES
	(1, 'allowed_transitions', '{bigint}'::name[], 1),
	(2, 'move', '{bigint,text,text,text,timestamptz}'::name[], 2),
	(3, 'recycle', '{bigint,text,text,timestamptz}'::name[], 2),
	(4, 'disqualify', '{bigint,text,text,timestamptz}'::name[], 2),
	(5, 'grant_reader', '{regrole}'::name[], NULL),
	(6, 'grant_writer', '{regrole}'::name[], NULL),
	(7, 'grant_admin', '{regrole}'::name[], NULL),
	(8, 'revoke_all', '{regrole}'::name[], NULL),
	(9, 'lead_stage_trigger', '{}'::name[], NULL),
	(10, 'lead_history_trigger', '{}'::name[], NULL),
	(11, 'history_guard_trigger', '{}'::name[], NULL),
	(12, 'config_changed_trigger', '{}'::name[], NULL),
	(13, 'condition_check', '{jsonb}'::name[], 1),
	(14, 'condition_matches', '{jsonb,lead_process.lead}'::name[], 1),
	(15, 'fit_score_of', '{lead_process.lead}'::name[], 1),
	(16, 'fit_explain', '{bigint}'::name[], 1),
	(17, 'rescore_fit', '{bigint}'::name[], 3),
	(18, 'fit_rule_validate_trigger', '{}'::name[], NULL),
	(19, 'read_events', '{text,integer}'::name[], 2),
	(20, 'ack_events', '{text,bigint}'::name[], 2),
	(21, 'prune_events', '{}'::name[], 3),
	(22, 'rescore_behaviour', '{bigint}'::name[], 3),
	(23, 'score_explain', '{bigint}'::name[], 1),
	(24, 'activity_score_trigger', '{}'::name[], NULL),
	(25, 'lead_deleted_trigger', '{}'::name[], NULL),
	(26, 'fit_rules_of', '{lead_process.lead}'::name[], 1),
	(27, 'lead_truncated_trigger', '{}'::name[], NULL),
	(28, 'activity_guard_trigger', '{}'::name[], NULL),
	(29, 'route', '{bigint,boolean,text,timestamptz}'::name[], 2),
	(30, 'route_preview', '{bigint,timestamptz}'::name[], 1),
	(31, 'accept', '{bigint,text,timestamptz}'::name[], 2),
	(32, 'reject', '{bigint,text,text,timestamptz}'::name[], 2),
	(33, 'condition_validate_trigger', '{}'::name[], NULL),
	(34, 'sweep', '{timestamptz}'::name[], 3),
	(35, 'business_time_add', '{text,timestamptz,interval}'::name[], 1),
	(36, 'business_time_between', '{text,timestamptz,timestamptz}'::name[], 1),
	(37, 'calendar_validate_trigger', '{}'::name[], NULL),
	(38, 'calendar_hours_validate_trigger', '{}'::name[], NULL),
	(39, 'calendar_holiday_validate_trigger', '{}'::name[], NULL),
	(40, 'decayed_points', '{float8,bigint,interval,timestamptz}'::name[], 1),
	(41, 'current_score', '{lead_process.lead,timestamptz}'::name[], 1),
	(42, 'enable_rep_security', '{boolean}'::name[], NULL),
	(43, 'rep_security_enabled', '{}'::name[], 1),
	(44, 'sla_policy_validate_trigger', '{}'::name[], NULL),
	(45, 'sla_history_trigger', '{}'::name[], NULL),
	(46, 'sla_attempt_trigger', '{}'::name[], NULL),
	(47, 'sla_calendar_trigger', '{}'::name[], NULL),
	(48, 'sla_breach', '{timestamptz}'::name[], 3),
	(49, 'sla_record_action', '{bigint,bigint,timestamptz,text}'::name[], 3),
	(50, 'sla_rebase', '{text,timestamptz}'::name[], 3),
	(51, 'sla_recompute', '{text,timestamptz}'::name[], 3),
	(52, 'metric_bucket', '{interval}'::name[], NULL),
	(53, 'metric_bucket_value', '{smallint}'::name[], NULL),
	(54, 'metric_history_trigger', '{}'::name[], NULL),
	(55, 'metric_contact_trigger', '{}'::name[], NULL),
	(56, 'fold_metrics', '{}'::name[], 3),
	(57, 'rebuild_metrics', '{}'::name[], NULL),
	(58, 'grant_bi_reader', '{regrole}'::name[], NULL),
	(59, 'metric_hist_add', '{internal,smallint,bigint}'::name[], NULL),
	(60, 'metric_hist_add_array', '{internal,bigint[]}'::name[], NULL),
	(61, 'metric_hist_final', '{internal}'::name[], NULL),
	(62, 'metric_hist_agg', '{smallint,bigint}'::name[], NULL),
	(63, 'metric_hist_sum', '{bigint[]}'::name[], NULL),
	(64, 'metric_hist_merge', '{bigint[],bigint[]}'::name[], NULL),
	(65, 'metric_hist_percentile', '{bigint[],double precision}'::name[], NULL),
	(66, 'lead_history_flush_trigger', '{}'::name[], NULL),
	(67, 'score_pending', '{integer}'::name[], 2),
	(68, 'score_queue_truncate_trigger', '{}'::name[], NULL),
	(69, 'metric_slices_add', '{internal,text,text,text,text,smallint,numeric}'::name[], NULL),
	(70, 'metric_slices_final', '{internal}'::name[], NULL),
	(71, 'metric_slices', '{text,text,text,text,smallint,numeric}'::name[], NULL)
  ) AS f(n, func, args, min_level),
	   lp_roles l;

/* The matrices cover every relation and function of the schema, so an
 * object added later cannot escape these checks unnoticed. */
SELECT set_eq($$
	SELECT relname::text FROM pg_catalog.pg_class
	 WHERE relnamespace = 'lead_process'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f')
$$, 'SELECT DISTINCT rel::text FROM lp_rel_privs',
	'the table privilege matrix covers every table and view of lead_process');
SELECT set_eq($$
	SELECT oid::regprocedure::text FROM pg_catalog.pg_proc
	 WHERE pronamespace = 'lead_process'::regnamespace
$$, $$SELECT DISTINCT format('lead_process.%s(%s)', func, array_to_string(args, ','))::regprocedure::text
		FROM lp_func_privs$$,
	'the function privilege matrix covers every function of lead_process');

/* ------------------------------------------------------------------------
 * Exact privileges per level
 * ------------------------------------------------------------------------ */

SELECT schema_privs_are('lead_process', role,
						CASE WHEN level > 0 THEN '{USAGE}'::name[] ELSE '{}'::name[] END)
  FROM lp_roles ORDER BY level;

SELECT table_privs_are('lead_process', rel, r.role, p.privs)
  FROM lp_rel_privs p JOIN lp_roles r USING (level)
 ORDER BY p.n, p.level;

SELECT function_privs_are('lead_process', func, args, r.role, p.privs)
  FROM lp_func_privs p JOIN lp_roles r USING (level)
 ORDER BY p.n, p.level;

SELECT sequence_privs_are('lead_process', s.relname, r.role, '{}'::name[])
  FROM pg_catalog.pg_class s, lp_roles r
 WHERE s.relnamespace = 'lead_process'::regnamespace AND s.relkind = 'S'
 ORDER BY s.relname, r.level;

/* No column-level grants: column privileges would survive revoke_all's
 * table-level REVOKE in surprising ways */
SELECT is_empty($$
	SELECT c.relname || '.' || a.attname || ' -> ' || x.grantee::regrole::text
	  FROM pg_catalog.pg_attribute a
	  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid,
		   LATERAL aclexplode(a.attacl) x
	 WHERE c.relnamespace = 'lead_process'::regnamespace
$$, 'no column-level privileges on lead_process tables');

/* ------------------------------------------------------------------------
 * Behaviour.  Two leads exist before the roles try anything.
 * ------------------------------------------------------------------------ */

INSERT INTO lead_process.lead (id, email) VALUES (1001, 'one@example.com'), (1002, 'two@example.com');

/* reader: sees everything, changes nothing */
SET ROLE lp_t_reader;
SELECT results_eq('SELECT stage FROM lead_process.lead WHERE id = 1001',
				  $$VALUES ('subscriber'::text)$$, 'reader can SELECT leads');
SELECT lives_ok('SELECT * FROM lead_process.stage_history', 'reader can SELECT stage_history');
SELECT lives_ok('SELECT * FROM lead_process.stage_graph', 'reader can SELECT stage_graph');
SELECT lives_ok('SELECT * FROM lead_process.stage_counts', 'reader can SELECT stage_counts');
SELECT lives_ok('SELECT * FROM lead_process.activity, lead_process.contact_attempt',
				'reader can SELECT activities and contact attempts');
SELECT lives_ok('SELECT * FROM lead_process.stage, lead_process.stage_status, lead_process.transition, lead_process.reason',
				'reader can SELECT the configuration');
SELECT ok((SELECT count(*) FROM lead_process.allowed_transitions(1001)) > 0,
		  'reader can call allowed_transitions()');
SELECT throws_ok($$INSERT INTO lead_process.lead (id) VALUES (1100)$$, '42501', NULL,
				 'reader cannot INSERT a lead');
SELECT throws_ok($$UPDATE lead_process.lead SET email = 'x@example.com' WHERE id = 1001$$, '42501', NULL,
				 'reader cannot UPDATE a lead');
SELECT throws_ok($$UPDATE lead_process.lead SET stage = 'lead' WHERE id = 1001$$, '42501', NULL,
				 'reader cannot change a lead''s stage by UPDATE');
SELECT throws_ok($$SELECT lead_process.move(1001, 'lead')$$, '42501', NULL,
				 'reader cannot call move()');
SELECT throws_ok($$SELECT lead_process.disqualify(1001, 'junk')$$, '42501', NULL,
				 'reader cannot call disqualify()');
SELECT throws_ok($$INSERT INTO lead_process.activity (lead_id, type) VALUES (1001, 'page_view')$$, '42501', NULL,
				 'reader cannot INSERT an activity');
SELECT throws_ok($$SELECT lead_process.score_pending()$$, '42501', NULL,
				 'reader cannot call score_pending()');
SELECT throws_ok($$DELETE FROM lead_process.lead WHERE id = 1001$$, '42501', NULL,
				 'reader cannot DELETE a lead');
SELECT throws_ok($$UPDATE lead_process.stage SET definition = 'x' WHERE name = 'mql'$$, '42501', NULL,
				 'reader cannot UPDATE the configuration');
SELECT throws_ok($$SELECT lead_process.grant_writer('lp_t_reader')$$, '42501', NULL,
				 'reader cannot promote itself with grant_writer()');
RESET ROLE;

/* writer: the CRM integration */
SET ROLE lp_t_writer;
SELECT lives_ok($$INSERT INTO lead_process.lead (id, email, company) VALUES (2001, 'w@example.com', 'Acme')$$,
				'writer can INSERT a lead');
SELECT is(lead_process.move(2001, 'lead'), true, 'writer can move() a lead');
SELECT lives_ok($$UPDATE lead_process.lead SET stage = 'mql', owner = 'rep-1' WHERE id = 2001$$,
				'writer can change a stage by UPDATE');
SELECT lives_ok($$INSERT INTO lead_process.activity (lead_id, type, properties)
				  VALUES (2001, 'page_view', '{"url": "/pricing"}')$$,
				'writer can INSERT an activity');
SET lead_process.defer_scoring = on;
SELECT lives_ok($$INSERT INTO lead_process.activity (lead_id, type, properties)
				  VALUES (2001, 'page_view', '{"url": "/pricing"}')$$,
				'writer can INSERT an activity with deferred scoring (the queue row is written by lead_process)');
RESET lead_process.defer_scoring;
SELECT throws_ok($$DELETE FROM lead_process.score_queue$$, '42501', NULL,
				 'writer cannot DELETE from score_queue');
SELECT is(lead_process.score_pending(), 1::bigint, 'writer can score the queue with score_pending()');
SELECT lives_ok($$UPDATE lead_process.activity SET properties = '{}' WHERE lead_id = 2001$$,
				'writer can UPDATE an activity');
SELECT lives_ok($$INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome, rep)
				  VALUES (2001, 'call', 'connected', 'rep-1')$$,
				'writer can INSERT a contact attempt');
SELECT is(lead_process.recycle(2001, 'rejected'), 'lead', 'writer can recycle() (mql: reject edge)');
SELECT is(lead_process.disqualify(2001, 'junk'), 'disqualified', 'writer can disqualify()');
SELECT results_eq($$
	SELECT from_stage, to_stage, kind, cause, changed_by
	  FROM lead_process.stage_history WHERE lead_id = 2001 ORDER BY id
$$, $$ VALUES
	(NULL::text, 'subscriber'::text, 'create'::text, 'insert'::text, 'lp_t_writer'::text),
	('subscriber', 'lead', 'advance', 'manual', 'lp_t_writer'),
	('lead', 'mql', 'advance', 'update', 'lp_t_writer'),
	('mql', 'lead', 'reject', 'manual', 'lp_t_writer'),
	('lead', 'disqualified', 'disqualify', 'manual', 'lp_t_writer')
$$, 'writer sees the history it caused');
SELECT throws_ok($$UPDATE lead_process.stage_history SET reason = 'forged' WHERE lead_id = 2001$$, '42501', NULL,
				 'writer cannot UPDATE stage_history');
SELECT throws_ok($$DELETE FROM lead_process.stage_history WHERE lead_id = 2001$$, '42501', NULL,
				 'writer cannot DELETE stage_history');
SELECT throws_ok($$INSERT INTO lead_process.stage_history
					 (lead_id, to_stage, to_status, kind, cause, changed_at, changed_by, score)
				   VALUES (2001, 'customer', 'closed-won', 'win', 'manual', now(), 'someone-else', 0)$$,
				 '42501', NULL, 'writer cannot forge a stage_history row');
SELECT throws_ok($$INSERT INTO lead_process.stage (name, position, owner, definition)
				   VALUES ('lp-test', 99, 'sales', 'test')$$, '42501', NULL,
				 'writer cannot INSERT a stage');
SELECT throws_ok($$UPDATE lead_process.transition SET description = 'x'$$, '42501', NULL,
				 'writer cannot UPDATE transitions');
SELECT throws_ok($$INSERT INTO lead_process.transition (from_stage, to_stage, kind)
				   VALUES ('subscriber', 'customer', 'win')$$, '42501', NULL,
				 'writer cannot add a transition');
SELECT throws_ok($$DELETE FROM lead_process.reason WHERE code = 'junk'$$, '42501', NULL,
				 'writer cannot DELETE reasons');
SELECT throws_ok($$INSERT INTO lead_process.stage_status (stage, status, position, description)
				   VALUES ('sal', 'lp-test', 99, 'test')$$, '42501', NULL,
				 'writer cannot INSERT a stage status');
SELECT throws_ok($$DELETE FROM lead_process.lead WHERE id = 2001$$, '42501', NULL,
				 'writer cannot DELETE a lead');
SELECT throws_ok($$DELETE FROM lead_process.activity WHERE lead_id = 2001$$, '42501', NULL,
				 'writer cannot DELETE activities');
SELECT throws_ok($$TRUNCATE lead_process.lead CASCADE$$, '42501', NULL,
				 'writer cannot TRUNCATE leads');
SELECT throws_ok($$SELECT lead_process.grant_admin('lp_t_writer')$$, '42501', NULL,
				 'writer cannot promote itself with grant_admin()');
SELECT throws_ok($$SELECT lead_process.revoke_all('lp_t_reader')$$, '42501', NULL,
				 'writer cannot call revoke_all()');
RESET ROLE;

SELECT results_eq($$
	SELECT count(*), count(*) FILTER (WHERE changed_by = 'lp_t_writer')
	  FROM lead_process.stage_history WHERE lead_id = 2001
$$, $$ VALUES (5::bigint, 5::bigint) $$,
	'the history rows the writer caused exist and name the writer in changed_by');

/* admin: edits the process, deletes leads, still cannot rewrite history */
SET ROLE lp_t_admin;
SELECT lives_ok($$INSERT INTO lead_process.reason (code, kind, description)
				  VALUES ('lp-test', 'recycle', 'test reason')$$,
				'admin can INSERT a reason');
SELECT lives_ok($$UPDATE lead_process.stage SET definition = definition || ' (edited)' WHERE name = 'sal'$$,
				'admin can UPDATE a stage');
SELECT lives_ok($$INSERT INTO lead_process.stage_status (stage, status, position, description)
				  VALUES ('sal', 'lp-test', 99, 'test status')$$,
				'admin can INSERT a stage status');
SELECT lives_ok($$UPDATE lead_process.transition SET description = 'edited'
				   WHERE from_stage = 'sal' AND to_stage = 'sql'$$,
				'admin can UPDATE a transition');
SELECT lives_ok($$INSERT INTO lead_process.lead (id) VALUES (3001)$$, 'admin can INSERT a lead');
SELECT is(lead_process.move(3001, 'sal'), true, 'admin can move() (fast-track to sal)');
SELECT is(lead_process.recycle(3001, 'lp-test'), 'lead',
		  'a reason the admin just added is accepted by recycle()');
SELECT lives_ok($$DELETE FROM lead_process.stage_status WHERE status = 'lp-test'$$,
				'admin can DELETE a stage status');
SELECT lives_ok($$DELETE FROM lead_process.lead WHERE id = 2001$$, 'admin can DELETE a lead');
SELECT results_eq($$
	SELECT (SELECT count(*) FROM lead_process.stage_history WHERE lead_id = 2001),
		   (SELECT count(*) FROM lead_process.activity WHERE lead_id = 2001),
		   (SELECT count(*) FROM lead_process.contact_attempt WHERE lead_id = 2001)
$$, $$ VALUES (0::bigint, 0::bigint, 0::bigint) $$,
	'deleting a lead removed its history, activities and contact attempts');
/* The admin level has no UPDATE privilege on stage_history at all, so the
 * privilege check refuses the statement before the append-only trigger
 * runs; the trigger is tested below as the table owner. */
SELECT throws_ok($$UPDATE lead_process.stage_history SET reason = 'rewritten' WHERE lead_id = 3001$$, '42501', NULL,
				 'admin cannot UPDATE stage_history (no UPDATE privilege)');
SELECT throws_ok($$TRUNCATE lead_process.stage_history$$, '42501', NULL,
				 'admin cannot TRUNCATE stage_history');
SELECT throws_ok($$SELECT lead_process.grant_admin('lp_t_nobody')$$, '42501', NULL,
				 'admin cannot hand out privileges with grant_admin()');
SELECT lives_ok($$DELETE FROM lead_process.reason WHERE code = 'lp-test'$$,
				'admin can DELETE reasons');
RESET ROLE;

/* Append-only for everyone, the owner and superusers included */
SELECT throws_ok($$UPDATE lead_process.stage_history SET reason = 'rewritten' WHERE lead_id = 3001$$, '0A000', NULL,
				 'stage_history rows cannot be updated even by a superuser (append-only trigger)');

/* nobody: cannot even see the schema */
SET ROLE lp_t_nobody;
SELECT throws_ok('SELECT * FROM lead_process.lead', '42501', NULL,
				 'nobody cannot SELECT leads');
SELECT throws_ok('SELECT * FROM lead_process.stage_graph', '42501', NULL,
				 'nobody cannot SELECT stage_graph');
SELECT throws_ok('SELECT * FROM lead_process.stage', '42501', NULL,
				 'nobody cannot SELECT the configuration');
SELECT throws_ok($$SELECT lead_process.move(1001, 'lead')$$, '42501', NULL,
				 'nobody cannot call move()');
SELECT throws_ok('SELECT * FROM lead_process.allowed_transitions(1001)', '42501', NULL,
				 'nobody cannot call allowed_transitions()');
SELECT throws_ok($$INSERT INTO lead_process.lead (id) VALUES (1200)$$, '42501', NULL,
				 'nobody cannot INSERT a lead');
RESET ROLE;

/* ------------------------------------------------------------------------
 * revoke_all removes everything
 * ------------------------------------------------------------------------ */

SELECT lives_ok($$SELECT lead_process.revoke_all('lp_t_admin')$$, 'revoke_all(lp_t_admin)');
SELECT lives_ok($$SELECT lead_process.revoke_all('lp_t_writer')$$, 'revoke_all(lp_t_writer)');
SELECT lives_ok($$SELECT lead_process.revoke_all('lp_t_reader')$$, 'revoke_all(lp_t_reader)');

/* Generic: no ACL entry names a test role on anything of the schema */
SELECT is_empty($$
	SELECT 'schema: ' || x.privilege_type
	  FROM pg_catalog.pg_namespace n, LATERAL aclexplode(n.nspacl) x
	 WHERE n.oid = 'lead_process'::regnamespace
	   AND x.grantee::regrole::text LIKE 'lp\_t\_%'
	UNION ALL
	SELECT c.oid::regclass::text || ': ' || x.privilege_type
	  FROM pg_catalog.pg_class c, LATERAL aclexplode(c.relacl) x
	 WHERE c.relnamespace = 'lead_process'::regnamespace
	   AND x.grantee::regrole::text LIKE 'lp\_t\_%'
	UNION ALL
	SELECT c.oid::regclass::text || '.' || a.attname || ': ' || x.privilege_type
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid,
		   LATERAL aclexplode(a.attacl) x
	 WHERE c.relnamespace = 'lead_process'::regnamespace
	   AND x.grantee::regrole::text LIKE 'lp\_t\_%'
	UNION ALL
	SELECT p.oid::regprocedure::text || ': ' || x.privilege_type
	  FROM pg_catalog.pg_proc p, LATERAL aclexplode(p.proacl) x
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND x.grantee::regrole::text LIKE 'lp\_t\_%'
$$, 'after revoke_all no privilege of the schema names a test role');

/* Generic, by effective privilege (also catches grants through PUBLIC) */
SELECT is_empty($$
	SELECT r.role || ' schema ' || pr
	  FROM lp_roles r, unnest(ARRAY['USAGE', 'CREATE']) pr
	 WHERE has_schema_privilege(r.role, 'lead_process', pr)
	UNION ALL
	SELECT r.role || ' ' || c.oid::regclass::text || ' ' || pr
	  FROM lp_roles r, pg_catalog.pg_class c,
		   unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) pr
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	   AND has_table_privilege(r.role, c.oid, pr)
	UNION ALL
	SELECT r.role || ' ' || c.oid::regclass::text || ' ' || pr
	  FROM lp_roles r, pg_catalog.pg_class c, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) pr
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind = 'S'
	   AND has_sequence_privilege(r.role, c.oid, pr)
	UNION ALL
	SELECT r.role || ' ' || p.oid::regprocedure::text || ' EXECUTE'
	  FROM lp_roles r, pg_catalog.pg_proc p
	 WHERE p.pronamespace = 'lead_process'::regnamespace
	   AND has_function_privilege(r.role, p.oid, 'EXECUTE')
$$, 'after revoke_all the test roles hold no privilege on lead_process objects');

SET ROLE lp_t_writer;
SELECT throws_ok('SELECT * FROM lead_process.lead', '42501', NULL,
				 'after revoke_all the writer cannot SELECT leads');
SELECT throws_ok($$SELECT lead_process.move(1001, 'lead')$$, '42501', NULL,
				 'after revoke_all the writer cannot call move()');
RESET ROLE;
SET ROLE lp_t_admin;
SELECT throws_ok($$DELETE FROM lead_process.reason WHERE code = 'lp-test'$$, '42501', NULL,
				 'after revoke_all the admin cannot edit the configuration');
RESET ROLE;
SET ROLE lp_t_reader;
SELECT throws_ok('SELECT * FROM lead_process.stage_counts', '42501', NULL,
				 'after revoke_all the reader cannot SELECT stage_counts');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
