--
-- metrics: the metric views on a small history whose numbers are worked
-- out by hand in the comments, every grain, slicing, recycled and
-- fast-tracked leads, and proof that the rollups (folded or not) equal a
-- recomputation from stage_history
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

-- The history (all times UTC, 2026):
--  lead 1  web/spring, new-business; owner NULL in marketing, routed to ann
--          at the handoff: lead 01-05 09:00, mql 01-06 09:00, sal 01-06 13:00,
--          sql 01-20 09:00, opportunity 02-03 09:00, customer 03-02 09:00 (5000)
--  lead 2  web/spring, ann: lead 01-07 09:00, fast-track to sal 01-08 09:00,
--          recycled (unreachable) 01-15 09:00, mql again 02-16 09:00,
--          rejected 02-17 09:00
--  lead 3  event/fall, existing-customer, bob: lead 01-10 09:00,
--          mql 01-12 09:00, disqualified (junk) 01-13 09:00
--  lead 4  event/no campaign, bob: lead 02-01 09:00, mql 02-02 09:00,
--          sal 02-04 09:00
INSERT INTO lead_process.lead (id, source, campaign, lead_type, owner, stage, stage_changed_at)
VALUES (1, 'web', 'spring', 'new-business', NULL, 'lead', '2026-01-05 09:00+00'),
	   (2, 'web', 'spring', 'new-business', 'ann', 'lead', '2026-01-07 09:00+00'),
	   (3, 'event', 'fall', 'existing-customer', 'bob', 'lead', '2026-01-10 09:00+00'),
	   (4, 'event', NULL, 'new-business', 'bob', 'lead', '2026-02-01 09:00+00');
UPDATE lead_process.lead SET stage = 'mql', owner = 'ann', stage_changed_at = '2026-01-06 09:00+00'
 WHERE id = 1;
SELECT lead_process.move(1, 'sal', at => '2026-01-06 13:00+00');
SELECT lead_process.move(2, 'sal', at => '2026-01-08 09:00+00');
SELECT lead_process.move(3, 'mql', at => '2026-01-12 09:00+00');
SELECT lead_process.disqualify(3, 'junk', at => '2026-01-13 09:00+00');
SELECT lead_process.recycle(2, 'unreachable', at => '2026-01-15 09:00+00');
SELECT lead_process.move(1, 'sql', at => '2026-01-20 09:00+00');
SELECT lead_process.move(4, 'mql', at => '2026-02-02 09:00+00');
SELECT lead_process.move(1, 'opportunity', at => '2026-02-03 09:00+00');
SELECT lead_process.move(4, 'sal', at => '2026-02-04 09:00+00');
SELECT lead_process.move(2, 'mql', at => '2026-02-16 09:00+00');
SELECT lead_process.recycle(2, 'rejected', at => '2026-02-17 09:00+00');
UPDATE lead_process.lead SET stage = 'customer', amount = 5000, stage_changed_at = '2026-03-02 09:00+00'
 WHERE id = 1;
-- status changes are not stage changes: no facts
UPDATE lead_process.lead SET status = 'connected' WHERE id = 4;

-- Contact attempts: ann 2 h after lead 1's handoff and 30 min after lead
-- 2's fast-track; carl (not the owner) on lead 3; bob 24 h after lead 4's
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (1, '2026-01-06 11:00+00', 'call', 'no-answer', 'ann'),
	   (2, '2026-01-08 09:30+00', 'email', 'sent', 'ann'),
	   (3, '2026-01-12 10:00+00', 'call', 'connected', 'carl');
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (4, '2026-02-03 09:00+00', 'call', 'connected', 'bob');
-- a second attempt after the first does not change the follow-up time
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (1, '2026-01-06 12:00+00', 'call', 'connected', 'ann');

-- nothing folded yet: everything is in the deltas
SELECT count(*) AS rollup_rows FROM lead_process.metric_rollup;
SELECT measure, sum(n) AS facts FROM lead_process.metric_delta GROUP BY measure ORDER BY measure;

-- The oracle: the views as a recomputation from stage_history and
-- contact_attempt sees them, for the rows compared (rebuild_metrics() uses
-- the same fact definitions; this query does not)
CREATE TEMP VIEW oracle_funnel AS
SELECT g.grain, date_trunc(g.grain, h.changed_at)::date AS period_start, s.stage,
	   count(*) FILTER (WHERE s.dir = 'in') AS entries,
	   count(*) FILTER (WHERE s.dir = 'out') AS exits
  FROM lead_process.stage_history h
 CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('quarter')) g(grain)
 CROSS JOIN LATERAL (VALUES ('in', h.to_stage), ('out', h.from_stage)) s(dir, stage)
 WHERE h.kind <> 'status' AND s.stage IS NOT NULL
 GROUP BY 1, 2, 3;
CREATE TEMP VIEW cube_now AS
SELECT measure, grain, period_start, stage, to_stage, edge_kind, reason, slice, slice_value,
	   sum(n) AS n, sum(amount) AS amount, lead_process.metric_hist_sum(hist) AS hist
  FROM lead_process.metric_cube GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

-- Funnel by month.  January: lead 4 entries (3 creations, lead 2 recycled
-- back), 3 exits, 1 left (lead 2); mql 2 in (1, 3) and 2 out; sal 2 in
-- (1 accepted, 2 fast-tracked) and 2 out; sql 1 in (lead 1); disqualified
-- 1.  February: lead 2 in (4 created, 2 rejected back), 2 out; mql 2 in
-- (2 requalified, 4), 2 out; sal 1 in (4); sql 1 out; opportunity 1 in.
-- March: opportunity 1 out, customer 1 in.
SELECT period_start, stage, entries, exits, stock_end
  FROM lead_process.metric_funnel
 WHERE grain = 'month' AND slice = 'all'
 ORDER BY period_start, stage;
-- the same entries and exits at every grain as counted from the history
SELECT f.grain, count(*) AS rows, count(*) FILTER (WHERE o.entries = f.entries AND o.exits = f.exits) AS equal
  FROM lead_process.metric_funnel f
  FULL JOIN oracle_funnel o USING (grain, period_start, stage)
 WHERE f.slice = 'all' OR f.slice IS NULL
 GROUP BY f.grain ORDER BY f.grain;
-- weeks start on Monday: mql entries in the weeks of 01-05 (lead 1), 01-12
-- (lead 3), 02-02 (lead 4) and 02-16 (lead 2)
SELECT period_start, entries, exits, stock_end
  FROM lead_process.metric_funnel
 WHERE grain = 'week' AND slice = 'all' AND stage = 'mql'
 ORDER BY period_start;
-- quarter: everything in Q1
SELECT period_start, stage, entries, exits, stock_end
  FROM lead_process.metric_funnel
 WHERE grain = 'quarter' AND slice = 'all'
 ORDER BY stage;

-- Slicing.  A stage visit belongs to the owner recorded on entering the
-- stage: lead 1 entered lead with no owner, so its lead visit is NULL's and
-- its mql visit ann's (routed in the same UPDATE)
SELECT slice_value AS owner, stage, entries, exits, stock_end
  FROM lead_process.metric_funnel
 WHERE grain = 'month' AND slice = 'owner' AND period_start = '2026-01-01'
 ORDER BY owner NULLS FIRST, stage;
-- by source, campaign and lead type: mql entries in January
SELECT slice, slice_value, entries
  FROM lead_process.metric_funnel
 WHERE grain = 'month' AND period_start = '2026-01-01' AND stage = 'mql'
 ORDER BY slice, slice_value NULLS FIRST;

-- by team: the owner's current team (rep.team), read when queried; owners
-- that are not reps (here the NULL owner of lead 1's lead visit) have none.
-- The rows equal the owner rows of ann (east) and bob (west)
INSERT INTO lead_process.team (name) VALUES ('east'), ('west');
INSERT INTO lead_process.rep (name, team) VALUES ('ann', 'east'), ('bob', 'west');
SELECT slice_value AS team, stage, entries, exits, stock_end
  FROM lead_process.metric_funnel
 WHERE grain = 'month' AND slice = 'team' AND period_start = '2026-01-01'
 ORDER BY team NULLS FIRST, stage;
SELECT slice_value AS team, handoffs, followed_up, median_followup
  FROM lead_process.metric_followup_time
 WHERE grain = 'quarter' AND slice = 'team'
 ORDER BY team NULLS FIRST;

-- Lead flow.  January: 2 qualified (1, 3), 1 accepted (1) of 2 mql exits
-- (3 disqualified), 1 fast-tracked (2), 2 sal entries.  February: 2
-- qualified (4, and 2 again: recycled leads count at each entry), 1
-- accepted (4), 1 rejected (2), 1 opportunity.  March: 1 customer.
SELECT period_start, qualified_leads, sales_accepted, sales_rejected, mql_exits, acceptance_rate,
	   fast_tracked, sal_entries, opportunities, customers
  FROM lead_process.metric_lead_flow
 WHERE grain = 'month' AND slice = 'all'
 ORDER BY period_start;
-- by day: the days with an mql entry or an accept
SELECT period_start, qualified_leads, sales_accepted
  FROM lead_process.metric_lead_flow
 WHERE grain = 'day' AND slice = 'all' AND (qualified_leads > 0 OR sales_accepted > 0)
 ORDER BY period_start;

-- Cohort conversion from mql.  January cohort: leads 1, 3 and 2 (lead 2
-- reached mql by its fast-track on 01-08: it passed the stage it skipped);
-- 2 reached sal (lead 2 at once: 0 s; lead 1 after 4 h), so the median is
-- 0 and p90 is 4 h (the bucket of 14400 s stands for 14387 s, 03:59:47);
-- lead 1 reached sql after 14 days, opportunity after 28, customer after
-- 55.  Lead 2's second mql entry in February does not count again: each
-- lead counts once, in the cohort of its first reach.  February cohort:
-- lead 4, sal after 2 days.
SELECT cohort_start, to_stage, cohort_leads, converted_leads, conversion_rate, median_time, p90_time
  FROM lead_process.metric_conversion_cohort
 WHERE grain = 'month' AND slice = 'all' AND from_stage = 'mql'
 ORDER BY cohort_start, to_stage;
-- the cohort counts as counted from the history, for every grain and pair
-- of stages: first reach of a stage = first entry into it or a later
-- funnel stage
CREATE TEMP VIEW oracle_reach AS
SELECT h.lead_id, s.name AS stage, min(h.changed_at) AS reached_at
  FROM lead_process.stage_history h
  JOIN lead_process.stage t ON t.name = h.to_stage AND NOT (t.is_terminal AND NOT t.is_won)
  JOIN lead_process.stage s ON s.position <= t.position AND NOT (s.is_terminal AND NOT s.is_won)
 GROUP BY 1, 2;
CREATE TEMP VIEW oracle_cohort AS
WITH r AS (
	SELECT g.grain, x.lead_id, x.stage, date_trunc(g.grain, x.reached_at)::date AS cohort_start
	  FROM oracle_reach x CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('quarter')) g(grain))
SELECT r.grain, r.cohort_start, r.stage AS from_stage, y.stage AS to_stage,
	   (SELECT count(*) FROM r z
		 WHERE z.grain = r.grain AND z.stage = r.stage AND z.cohort_start = r.cohort_start) AS cohort_leads,
	   count(*) AS converted_leads
  FROM r
  JOIN oracle_reach y ON y.lead_id = r.lead_id
  JOIN lead_process.stage xs ON xs.name = r.stage
  JOIN lead_process.stage ys ON ys.name = y.stage AND ys.position > xs.position
 GROUP BY 1, 2, 3, 4;
SELECT count(*) AS cohort_rows,
	   count(*) FILTER (WHERE o.cohort_leads = c.cohort_leads
						  AND o.converted_leads = c.converted_leads) AS equal
  FROM (SELECT * FROM lead_process.metric_conversion_cohort WHERE slice = 'all') c
  FULL JOIN oracle_cohort o USING (grain, cohort_start, from_stage, to_stage);
-- period-based conversion: in January 2 leads left lead (1 to mql, 1
-- fast-tracked to sal), lead 2 left sal by a recycle, lead 1 by an advance
SELECT period_start, from_stage, to_stage, kind, moves, from_stage_exits, share
  FROM lead_process.metric_conversion_period
 WHERE grain = 'month' AND slice = 'all'
 ORDER BY period_start, from_stage, to_stage;

-- Revenue from qualified leads, by cohort of qualification: the January
-- cohort (3 leads) gave 1 opportunity and 1 customer worth 5000, 55 days
-- after qualification (the bucket of 55 days stands for 55 d 06:47:06)
SELECT cohort_start, qualified_leads, opportunities, customers, revenue, median_time_to_win
  FROM lead_process.metric_revenue
 WHERE grain = 'month' AND slice = 'all'
 ORDER BY cohort_start;
-- by campaign
SELECT slice_value AS campaign, qualified_leads, customers, revenue
  FROM lead_process.metric_revenue
 WHERE grain = 'quarter' AND slice = 'campaign'
 ORDER BY campaign NULLS FIRST;

-- Follow-up time per rep and month.  January: ann had 2 handoffs (lead 1's
-- mql entry, lead 2's fast-track), both followed up, after 2 h and 30 min:
-- median 30 min (bucket value 00:29:58), p90 2 h (01:59:54); bob had lead
-- 3's handoff, contacted only by carl, so not followed up.  February: ann
-- had lead 2's second handoff, not followed up; bob lead 4's, after 24 h
-- (the bucket of a day stands for 1 day 00:39:12).
SELECT period_start, slice_value AS rep, handoffs, followed_up, median_followup, p90_followup
  FROM lead_process.metric_followup_time
 WHERE grain = 'month' AND slice = 'owner'
 ORDER BY period_start, rep;
SELECT period_start, handoffs, followed_up, median_followup, p90_followup
  FROM lead_process.metric_followup_time
 WHERE grain = 'quarter' AND slice = 'all';

-- Time in stage over Q1.  lead: 5 visits ended (24 h for leads 1, 2 and 4,
-- 48 h for lead 3, 32 days for lead 2's second), median 24 h, p90 32
-- days; mql: 4 h, 24 h (lead 3), 24 h (lead 2), 48 h (lead 4): median 24
-- h, p90 48 h; sal: 7 days (lead 2), 13 d 20 h (lead 1); sql 14 days;
-- opportunity 27 days.
SELECT stage, completed_visits, median_time, p90_time
  FROM lead_process.metric_time_in_stage
 WHERE grain = 'quarter' AND slice = 'all'
 ORDER BY stage;

-- Recycles and disqualifications by reason and stage: January lead 2
-- recycled from sal (unreachable), lead 3 disqualified from mql (junk);
-- February lead 2 rejected from mql
SELECT period_start, from_stage, to_stage, kind, reason, leads
  FROM lead_process.metric_recycles
 WHERE grain = 'month' AND slice = 'all'
 ORDER BY period_start, from_stage;
SELECT slice_value AS owner, kind, reason, leads
  FROM lead_process.metric_recycles
 WHERE grain = 'quarter' AND slice = 'owner'
 ORDER BY owner, kind;

-- The work queue: open leads in sales stages (lead 4 in sal), by score
INSERT INTO lead_process.lead (id, owner, stage, stage_changed_at)
VALUES (5, 'bob', 'sql', '2026-02-10 00:00+00'), (6, 'bob', 'sal', '2026-02-11 00:00+00');
SELECT owner, queue_position, lead_id, stage, status
  FROM lead_process.work_queue ORDER BY owner, queue_position;
-- the scorecard: one row per lead
SELECT lead_id, stage, status, owner, recycle_count, amount, last_contact_at, last_activity_at
  FROM lead_process.lead_scorecard ORDER BY lead_id;

-- With rep security on, a rep's role sees only the rep's leads in the
-- lead-level views too (they read lead with their owner's privileges)
CREATE ROLE regress_metric_bob;
UPDATE lead_process.rep SET login = 'regress_metric_bob' WHERE name = 'bob';
SELECT lead_process.grant_bi_reader('regress_metric_bob');
SELECT lead_process.enable_rep_security();
SET ROLE regress_metric_bob;
SELECT lead_id, owner FROM lead_process.lead_scorecard ORDER BY lead_id;
SELECT lead_id, owner FROM lead_process.work_queue ORDER BY lead_id;
RESET ROLE;
SELECT lead_process.enable_rep_security(false);
SELECT count(*) AS all_leads FROM lead_process.lead_scorecard;
UPDATE lead_process.rep SET login = NULL WHERE name = 'bob';
SELECT lead_process.revoke_all('regress_metric_bob');
DROP ROLE regress_metric_bob;

-- Folded equals unfolded: fold, and every view reads the same
CREATE TEMP TABLE unfolded AS SELECT * FROM cube_now;
SELECT lead_process.fold_metrics() > 0 AS folded;
SELECT count(*) AS deltas_left FROM lead_process.metric_delta;
SELECT count(*) AS differences
  FROM ((TABLE unfolded EXCEPT TABLE cube_now) UNION ALL (TABLE cube_now EXCEPT TABLE unfolded)) d;
-- a second fold has nothing to do
SELECT lead_process.fold_metrics() AS folded_again;

-- Partly folded (rollup + new deltas) equals a rebuild from stage_history
SELECT lead_process.move(4, 'sql', at => '2026-03-05 09:00+00');
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (2, '2026-02-16 10:00+00', 'call', 'connected', 'ann');
SELECT count(*) > 0 AS some_unfolded FROM lead_process.metric_delta;
CREATE TEMP TABLE incremental AS SELECT * FROM cube_now;
SELECT lead_process.rebuild_metrics() AS facts;
SELECT count(*) AS deltas_after_rebuild FROM lead_process.metric_delta;
SELECT count(*) AS differences
  FROM ((TABLE incremental EXCEPT TABLE cube_now) UNION ALL (TABLE cube_now EXCEPT TABLE incremental)) d;

-- A bulk load without triggers (the restore procedure) leaves the metrics
-- behind until rebuild_metrics()
SET session_replication_role = replica;
INSERT INTO lead_process.lead (id, stage, status, stage_changed_at)
VALUES (7, 'sql', 'new', '2026-02-12 00:00+00');
INSERT INTO lead_process.stage_history (lead_id, from_stage, to_stage, from_status, to_status, kind,
										cause, changed_at, changed_by, score)
VALUES (7, NULL, 'sql', NULL, 'new', 'create', 'insert', '2026-02-12 00:00+00', 'import', 0);
RESET session_replication_role;
SELECT entries FROM lead_process.metric_funnel
 WHERE grain = 'month' AND slice = 'all' AND stage = 'sql' AND period_start = '2026-02-01';
SELECT lead_process.rebuild_metrics() > 0 AS rebuilt;
SELECT entries FROM lead_process.metric_funnel
 WHERE grain = 'month' AND slice = 'all' AND stage = 'sql' AND period_start = '2026-02-01';

-- histogram buckets
SELECT d, lead_process.metric_bucket(d) AS bucket,
	   lead_process.metric_bucket_value(lead_process.metric_bucket(d)) AS stands_for
  FROM (VALUES (interval '0'), ('0.5 s'), ('1 s'), ('1 min'), ('1 hour'), ('1 day'), ('30 days'),
			   ('-5 min')) v(d);
-- a bucket no rollup can hold (22003)
SELECT lead_process.metric_bucket_value(251::smallint);
-- nor can the aggregates take one (22003): the duration histogram and
-- rebuild_metrics()' per-slice counts
SELECT lead_process.metric_hist_agg(-2::smallint, 1);
SELECT lead_process.metric_slices(NULL, NULL, NULL, NULL, 251::smallint, NULL);
-- histograms: bigint[] subscripted by bucket, summed, merged, read
SELECT lead_process.metric_hist_agg(b, n) AS hist
  FROM (VALUES (86::smallint, 2::bigint), (88::smallint, 1::bigint), (NULL, 5)) v(b, n);
SELECT lead_process.metric_hist_sum(h) AS summed
  FROM (VALUES ('[86:88]={2,0,1}'::bigint[]), ('[84:85]={1,1}'), (NULL)) v(h);
SELECT lead_process.metric_hist_merge('[86:88]={2,0,1}', NULL) AS merged,
	   lead_process.metric_hist_merge(NULL, NULL) AS empty;
SELECT lead_process.metric_hist_percentile('[86:88]={2,0,1}', 0.5) AS median,
	   lead_process.metric_hist_percentile('[86:88]={2,0,1}', 0.9) AS p90,
	   lead_process.metric_hist_percentile('[-1:-1]={3}', 0.5) AS zero;
-- not a histogram (22023)
SELECT lead_process.metric_hist_percentile('{{1,2},{3,4}}', 0.5);
-- a bucket past the last (22023)
SELECT lead_process.metric_hist_merge('[250:251]={1,1}', NULL);
-- a fraction out of range (22023)
SELECT lead_process.metric_hist_percentile('{1}', 1.5);

DROP VIEW oracle_cohort, oracle_reach, oracle_funnel, cube_now;
DROP EXTENSION lead_process;
