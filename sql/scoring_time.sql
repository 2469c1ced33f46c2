--
-- scoring_time: behaviour rules with a minimum interval between counted
-- occurrences and with exponential decay; current_score() at chosen times;
-- out-of-order activities; bulk and single-row loads; rescore
--
SET client_min_messages = warning;
SET timezone = 'UTC';
SET lead_process.notify = off;
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;
UPDATE lead_process.stage SET score_threshold = NULL WHERE name = 'mql';

INSERT INTO lead_process.behaviour_rule
	(id, name, activity_type, points, max_occurrences, min_interval, half_life) VALUES
	(1, 'daily open', 'email_open', 2, NULL, '1 day', NULL),
	(2, 'webinar, once a week, 3 weeks', 'webinar', 10, 3, '7 days', NULL),
	(3, 'fading visit', 'page_view', 8, NULL, NULL, '7 days'),
	(4, 'fading daily click', 'email_click', 16, NULL, '1 day', '2 days'),
	(5, 'careers, fading', 'careers_view', -12, NULL, NULL, '1 day');
INSERT INTO lead_process.lead (id, email) VALUES (1, 'a@x.com'), (2, 'b@x.com'), (3, 'c@x.com');

-- Minimum interval: one counted occurrence per UTC day, whatever the order
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES
	(1, 'email_open', '2026-05-03 18:00+00'),
	(1, 'email_open', '2026-05-01 09:00+00'),
	(1, 'email_open', '2026-05-01 23:59+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES
	(1, 'email_open', '2026-05-01 00:00+00'),   -- same day as before: not counted
	(1, 'email_open', '2026-05-02 12:00+00');   -- a new day, arriving late: counted
SELECT behaviour_score, score_tally->'1' AS daily_open FROM lead_process.lead WHERE id = 1;

-- ... and max_occurrences caps the counted windows (3 weeks), then the
-- windows are no longer kept
INSERT INTO lead_process.activity (lead_id, type, occurred_at)
SELECT 2, 'webinar', timestamptz '2026-05-04 10:00+00' + g * interval '2 days' FROM generate_series(0, 9) g;
SELECT behaviour_score, score_tally->'2' AS webinar FROM lead_process.lead WHERE id = 2;

-- Decay: 8 points halve every 7 days; the stored score leaves them out and
-- current_score() adds them, decayed to the time asked
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (3, 'page_view', '2026-05-01 00:00+00');
SELECT l.score, l.score_tally->'3' AS tally,
	   lead_process.current_score(l, '2026-05-01 00:00+00') AS at_visit,
	   lead_process.current_score(l, '2026-05-08 00:00+00') AS one_half_life,
	   lead_process.current_score(l, '2026-05-15 00:00+00') AS two_half_lives,
	   lead_process.current_score(l, '2026-05-29 00:00+00') AS four_half_lives,
	   lead_process.current_score(l, '2026-08-01 00:00+00') AS much_later
  FROM lead_process.lead l WHERE id = 3;
-- a second visit a week later: 4 (the first, decayed) + 8 = 12 at that time
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (3, 'page_view', '2026-05-08 00:00+00');
SELECT lead_process.current_score(l, '2026-05-08 00:00+00') AS second_visit,
	   lead_process.current_score(l, '2026-05-15 00:00+00') AS week_after
  FROM lead_process.lead l WHERE id = 3;
-- an older visit arriving late adds its decayed value: 8 * 2^-2 = 2 at 2026-05-08
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (3, 'page_view', '2026-04-24 00:00+00');
SELECT lead_process.current_score(l, '2026-05-08 00:00+00') AS with_late_visit
  FROM lead_process.lead l WHERE id = 3;
-- negative decaying points fade too: -12 halving daily
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (3, 'careers_view', '2026-05-08 00:00+00');
SELECT lead_process.current_score(l, '2026-05-08 00:00+00') AS careers_now,
	   lead_process.current_score(l, '2026-05-10 00:00+00') AS two_days_later
  FROM lead_process.lead l WHERE id = 3;
-- decay with a minimum interval: one click a day counts, dated at the day's start
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES
	(2, 'email_click', '2026-06-01 08:00+00'), (2, 'email_click', '2026-06-01 17:00+00'),
	(2, 'email_click', '2026-06-03 09:00+00');
SELECT score_tally->'4' AS click,
	   lead_process.current_score(l, '2026-06-03 00:00+00') - l.score AS decayed_at_day_3
  FROM lead_process.lead l WHERE id = 2;
-- the explanation counts occurrences (points of fading rules are as of now)
SELECT source, rule_id, rule_name, occurrences FROM lead_process.score_explain(2) ORDER BY rule_id;

-- Bulk and single-row loads, in opposite orders, give the same scores and
-- tallies (decaying sums compared to 1e-9); a rescore finds the same
CREATE TABLE gen AS
SELECT 100 + (g % 40) AS lead_id,
	   (ARRAY['email_open', 'webinar', 'page_view', 'email_click', 'careers_view', 'other'])[1 + (g * 7) % 6] AS type,
	   timestamptz '2026-03-01 00:00+00' + ((g * 7919) % 2000000) * interval '17 seconds' AS occurred_at
  FROM generate_series(1, 3000) g;
INSERT INTO lead_process.lead (id, email) SELECT g, 'bulk' || g FROM generate_series(100, 139) g;
INSERT INTO lead_process.lead (id, email) SELECT g + 1000, 'single' || g FROM generate_series(100, 139) g;
INSERT INTO lead_process.activity (lead_id, type, occurred_at) SELECT lead_id, type, occurred_at FROM gen;
DO $$
DECLARE a record;
BEGIN
	FOR a IN SELECT * FROM gen ORDER BY occurred_at DESC LOOP
		INSERT INTO lead_process.activity (lead_id, type, occurred_at)
		VALUES (a.lead_id + 1000, a.type, a.occurred_at);
	END LOOP;
END
$$;
CREATE FUNCTION pg_temp.same_tally(a jsonb, b jsonb) RETURNS boolean LANGUAGE sql AS $$
	SELECT bool_and(x.value->0 = y.value->0 AND x.value->1 = y.value->1
					AND coalesce(x.value->3 = y.value->3, true) AND coalesce(x.value->4 = y.value->4, true)
					AND coalesce(abs((x.value->>2)::float8 - (y.value->>2)::float8) < 1e-9, true))
	   AND count(*) = (SELECT count(*) FROM jsonb_object_keys(b))
	  FROM jsonb_each(a) x LEFT JOIN jsonb_each(b) y ON x.key = y.key
$$;
SELECT count(*) AS leads,
	   count(*) FILTER (WHERE b.behaviour_score = s.behaviour_score
						  AND lead_process.current_score(b, '2026-12-01') = lead_process.current_score(s, '2026-12-01')
						  AND pg_temp.same_tally(b.score_tally, s.score_tally)) AS identical
  FROM lead_process.lead b JOIN lead_process.lead s ON s.id = b.id + 1000
 WHERE b.id BETWEEN 100 AND 139;
CREATE TEMP TABLE before AS SELECT id, behaviour_score, score_tally, lead_process.current_score(l, '2026-12-01') AS cs
  FROM lead_process.lead l;
SELECT lead_process.rescore_behaviour() >= 0 AS rescored;
SELECT count(*) AS leads,
	   count(*) FILTER (WHERE b.behaviour_score = l.behaviour_score
						  AND b.cs = lead_process.current_score(l, '2026-12-01')
						  AND pg_temp.same_tally(b.score_tally, l.score_tally)) AS unchanged_by_rescore
  FROM before b JOIN lead_process.lead l USING (id);

-- Promotion uses the decayed score at the activity's time; decay never demotes
UPDATE lead_process.stage SET score_threshold = 20 WHERE name = 'mql';
INSERT INTO lead_process.lead (id, email, company, job_title, stage, stage_changed_at)
VALUES (50, 'p@x.com', 'Acme', 'CTO', 'lead', '2026-06-01 00:00+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES
	(50, 'page_view', '2026-07-01 00:00+00'), (50, 'page_view', '2026-07-08 00:00+00');
SELECT stage, lead_process.current_score(l, '2026-07-08 00:00+00') AS score_then FROM lead_process.lead l WHERE id = 50;
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (50, 'page_view', '2026-07-08 01:00+00');
SELECT l.stage, h.cause, (h.details->>'score')::int AS score_at_promotion,
	   lead_process.current_score(l, '2026-12-01 00:00+00') AS score_much_later
  FROM lead_process.lead l JOIN lead_process.stage_history h ON h.lead_id = l.id AND h.to_stage = 'mql'
 WHERE l.id = 50;

-- near_qualified and a profile update count the decaying points as of now
INSERT INTO lead_process.lead (id, email, company, stage) VALUES (51, 'q@x.com', 'Acme', 'lead');
INSERT INTO lead_process.activity (lead_id, type) SELECT 51, 'page_view' FROM generate_series(1, 3);
SELECT lead_id, next_stage, score, missing_field FROM lead_process.near_qualified WHERE lead_id = 51;
UPDATE lead_process.lead SET job_title = 'CFO' WHERE id = 51;
SELECT l.stage, h.cause, (h.details->>'score')::int AS score_at_promotion
  FROM lead_process.lead l JOIN lead_process.stage_history h ON h.lead_id = l.id AND h.to_stage = 'mql'
 WHERE l.id = 51;

-- Bad rules
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, max_points, half_life)
VALUES ('capped fading', 'x', 1, 10, '1 day');
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, min_interval) VALUES ('monthly', 'x', 1, '1 month');
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, half_life) VALUES ('instant', 'x', 1, '0 seconds');
SELECT lead_process.decayed_points(8, 0, '-1 day', now());

DROP EXTENSION lead_process;
