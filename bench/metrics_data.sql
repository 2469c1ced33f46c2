-- bench/metrics_data.sql: the dataset of bench/metrics.sh, generated
-- set-based with triggers off (session_replication_role = replica, as the
-- restore procedure runs).  psql -v leads=N -f bench/metrics_data.sql on a
-- database with lead_process and no leads; then run
-- lead_process.rebuild_metrics().
--
-- Path by id % 100; step k of a lead happens k spacings after its creation,
-- so every lead's history runs forward in id order.  A lead has 3.0 history
-- rows on average (its creation and 2.0 stage changes): 10M leads give 30M
-- rows.
SET session_replication_role = replica;
CREATE TEMP TABLE path (lo int, hi int, final text, steps text[]);
-- steps: 'from>to>kind>reason'
INSERT INTO path VALUES
	(0, 30, 'lead', '{}'),
	(30, 45, 'lead', '{lead>mql>advance>,mql>lead>reject>rejected}'),
	(45, 53, 'mql', '{lead>mql>advance>,mql>lead>reject>rejected,lead>mql>advance>}'),
	(53, 55, 'mql', '{lead>mql>advance>}'),
	(55, 65, 'disqualified', '{lead>mql>advance>,mql>disqualified>disqualify>junk}'),
	(65, 75, 'sal', '{lead>mql>advance>,mql>sal>accept>}'),
	(75, 82, 'sql', '{lead>sal>fast-track>,sal>sql>advance>}'),
	(82, 90, 'lead', '{lead>mql>advance>,mql>sal>accept>,sal>sql>advance>,sql>opportunity>advance>,opportunity>lead>recycle>closed-lost}'),
	(90, 100, 'customer', '{lead>mql>advance>,mql>sal>accept>,sal>sql>advance>,sql>opportunity>advance>,opportunity>customer>win>}');
CREATE TEMP TABLE src AS
SELECT g AS id,
	   timestamptz '2024-01-01 00:00+00' + (g * 7919 % 730) * interval '1 day'
		   + (g % 24) * interval '1 hour' AS t0,
	   (1 + g % 13) * interval '1 day' + (g * 13 % 24) * interval '1 hour' AS spacing,
	   'rep-' || lpad((g * 31 % 50)::text, 2, '0') AS owner,
	   p.final, p.steps
  FROM generate_series(1::bigint, :leads) g
  JOIN path p ON g % 100 >= p.lo AND g % 100 < p.hi;
INSERT INTO lead_process.lead (id, email, company, source, campaign, lead_type, owner, stage, status,
							   score, fit_score, stage_changed_at, amount, created_at)
SELECT s.id, 'u' || s.id || '@corp.example', 'Corp ' || s.id % 5000,
	   (ARRAY['web', 'event', 'paid-search', 'social', 'referral', 'partner', 'email', 'webinar'])[1 + s.id % 8],
	   'campaign-' || s.id * 17 % 40,
	   CASE WHEN s.id % 5 = 0 THEN 'existing-customer' ELSE 'new-business' END,
	   s.owner, s.final, st.status, (s.id % 100)::int, 0,
	   s.t0 + cardinality(s.steps) * s.spacing,
	   CASE WHEN s.final = 'customer' THEN 1000 + s.id % 50000 END, s.t0
  FROM src s JOIN lead_process.stage_status st ON st.stage = s.final AND st.is_default;
INSERT INTO lead_process.stage_history (lead_id, from_stage, to_stage, from_status, to_status, kind,
										cause, changed_at, changed_by, owner, score)
SELECT s.id, NULL, 'lead', NULL, 'new', 'create', 'insert', s.t0, 'bench', s.owner, 0 FROM src s;
SELECT max(cardinality(steps)) AS max_steps FROM path \gset
SELECT format($q$
	INSERT INTO lead_process.stage_history (lead_id, from_stage, to_stage, from_status, to_status,
											kind, cause, changed_at, changed_by, reason, owner, score)
	SELECT s.id, x[1], x[2], fs.status, ts.status, x[3], 'update', s.t0 + %1$s * s.spacing, 'bench',
		   NULLIF(x[4], ''), s.owner, 0
	  FROM src s
	 CROSS JOIN LATERAL string_to_array(s.steps[%1$s], '>') x
	  JOIN lead_process.stage_status fs ON fs.stage = x[1] AND fs.is_default
	  JOIN lead_process.stage_status ts ON ts.stage = x[2] AND ts.is_default
	 WHERE cardinality(s.steps) >= %1$s$q$, k)
  FROM generate_series(1, :max_steps) k \gexec
-- the owner follows every handoff up after 1 to 47 hours
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
SELECT h.lead_id, h.changed_at + (1 + h.lead_id % 47) * interval '1 hour', 'call', 'connected', h.owner
  FROM lead_process.stage_history h
 WHERE h.to_stage = 'mql' OR h.kind = 'fast-track';
