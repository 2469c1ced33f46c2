--
-- scoring: behaviour rules on activities, caps, explanations, rescoring,
-- promotion by score threshold and fast-track
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

-- the reference rule set (first match wins, by priority)
INSERT INTO lead_process.behaviour_rule
	(name, activity_type, property, pattern, points, max_occurrences, max_points, priority)
VALUES
	('pricing page', 'page_view',    'url', '%/pricing%',  10, NULL, NULL, 1),
	('careers page', 'page_view',    'url', '%/careers%', -10, NULL, 30,   2),
	('page view',    'page_view',    NULL,  NULL,           1, 20,   NULL, 3),
	('email open',   'email_open',   NULL,  NULL,           1, 10,   NULL, 4),
	('webinar',      'webinar_attended', NULL, NULL,       15, NULL, 25,   5),
	('unsubscribe',  'unsubscribe',  NULL,  NULL,         -20, NULL, NULL, 6);

INSERT INTO lead_process.lead (id, email, company, job_title, stage_changed_at)
SELECT g, 'u' || g || '@corp.example', NULL, NULL, '2026-01-01 00:00+00' FROM generate_series(1, 6) g;

-- one activity: the first matching rule counts
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
VALUES (1, 'page_view', '2026-02-01 10:00+00', '{"url": "/pricing/enterprise"}');
SELECT id, score, behaviour_score, score_tally FROM lead_process.lead WHERE id = 1;

-- caps: occurrences (page view: 20) and points (webinar: 25; careers: -30)
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
SELECT 2, 'page_view', '2026-02-01 10:00+00'::timestamptz + g * interval '1 minute',
	   jsonb_build_object('url', '/blog/' || g)
  FROM generate_series(1, 25) g;
INSERT INTO lead_process.activity (lead_id, type, occurred_at)
SELECT 2, 'webinar_attended', '2026-02-02 10:00+00'::timestamptz + g * interval '1 day'
  FROM generate_series(1, 3) g;
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
SELECT 3, 'page_view', '2026-02-03 10:00+00', '{"url": "/careers/engineer"}' FROM generate_series(1, 5) g;
-- a negative total
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (3, 'unsubscribe', '2026-02-04 00:00+00');
SELECT id, score, behaviour_score, score_tally FROM lead_process.lead WHERE id IN (2, 3) ORDER BY id;

-- activities of types without a rule count for nothing, but still need their lead
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (4, 'tweet', '2026-02-05 00:00+00');
SELECT id, score, score_tally FROM lead_process.lead WHERE id = 4;

-- the explanation adds up to the score
SELECT * FROM lead_process.score_explain(2);
SELECT l.id, l.score = (SELECT coalesce(sum(points), 0) FROM lead_process.score_explain(l.id)) AS explained
  FROM lead_process.lead l ORDER BY l.id;

-- an activity for an unknown lead is refused, and its statement leaves nothing
INSERT INTO lead_process.activity (lead_id, type) VALUES (1, 'page_view'), (999, 'page_view');
SELECT count(*) AS activities_of_lead_1 FROM lead_process.activity WHERE lead_id = 1;

-- an empty activity type is refused (23514, checked by the activity trigger
-- for INSERT and COPY, by activity_type_set for UPDATE); nothing stays
INSERT INTO lead_process.activity (lead_id, type) VALUES (1, 'page_view'), (1, '');
COPY lead_process.activity (lead_id, type) FROM stdin;
1	page_view
1	
\.
SELECT count(*) AS activities_of_lead_1 FROM lead_process.activity WHERE lead_id = 1;
DO $$
BEGIN
	INSERT INTO lead_process.activity (lead_id, type) VALUES (1, '');
EXCEPTION WHEN check_violation THEN
	RAISE WARNING 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
UPDATE lead_process.activity SET type = '' WHERE lead_id = 1 AND type = 'page_view';
UPDATE lead_process.activity SET type = 'page_view' WHERE lead_id = 1 AND type = 'page_view';

-- clients cannot write the maintained scores (428C9)
UPDATE lead_process.lead SET score = 100 WHERE id = 1;
UPDATE lead_process.lead SET behaviour_score = 100 WHERE id = 1;
UPDATE lead_process.lead SET score_tally = '{}' WHERE id = 1;
-- but the score follows the fit rules too
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('corporate address', '{"attribute": "email", "op": "email-domain", "value": "corp.example"}', 7);
UPDATE lead_process.lead SET email = 'new@corp.example' WHERE id = 1;
SELECT id, fit_score, behaviour_score, score FROM lead_process.lead WHERE id = 1;

--
-- bulk and single-row loads give identical scores: the same generated
-- activities, once as one statement for leads 101-150 and once row by row
-- for leads 201-250
--
INSERT INTO lead_process.lead (id) SELECT g FROM generate_series(101, 150) g;
INSERT INTO lead_process.lead (id) SELECT g FROM generate_series(201, 250) g;
SELECT setseed(0.5);
CREATE TEMP TABLE gen AS
SELECT row_number() OVER () AS n,
	   101 + floor(50 * random() ^ 2)::int AS lead_id,
	   (ARRAY['page_view', 'page_view', 'page_view', 'email_open', 'webinar_attended', 'unsubscribe', 'tweet'])[1 + floor(random() * 7)::int] AS type,
	   '2026-03-01'::timestamptz + random() * interval '30 days' AS occurred_at,
	   jsonb_build_object('url', (ARRAY['/pricing', '/careers/x', '/blog/1'])[1 + floor(random() * 3)::int]) AS properties
  FROM generate_series(1, 2000);
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
SELECT lead_id, type, occurred_at, properties FROM gen;
DO $$
DECLARE
	a record;
BEGIN
	FOR a IN SELECT * FROM gen ORDER BY n DESC LOOP		-- another order, too
		INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
		VALUES (a.lead_id + 100, a.type, a.occurred_at, a.properties);
	END LOOP;
END $$;
SELECT count(*) AS leads_compared,
	   count(*) FILTER (WHERE b.behaviour_score = s.behaviour_score AND b.score_tally = s.score_tally) AS identical,
	   sum(b.behaviour_score) AS total_points
  FROM lead_process.lead b JOIN lead_process.lead s ON s.id = b.id + 100
 WHERE b.id BETWEEN 101 AND 150;

-- rescoring from the activities gives what the triggers kept
SELECT lead_process.rescore_behaviour() AS changed_by_rescore;
-- after a rule change, rescore updates only the leads it affects
UPDATE lead_process.behaviour_rule SET max_occurrences = 5 WHERE name = 'page view';
SELECT lead_process.rescore_behaviour(2) AS changed_lead_2;
SELECT id, behaviour_score, score_tally->'3' AS page_views FROM lead_process.lead WHERE id = 2;
SELECT lead_process.rescore_behaviour() > 0 AS others_changed;
SELECT lead_process.rescore_behaviour() AS nothing_left;
-- a new rule applies to the next activity at once
INSERT INTO lead_process.behaviour_rule (name, activity_type, points) VALUES ('tweet', 'tweet', 2);
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (4, 'tweet', '2026-02-06 00:00+00');
SELECT id, behaviour_score, score_tally FROM lead_process.lead WHERE id = 4;

--
-- promotion: mql needs score >= 50 with email, company and job title
--
SELECT name, score_threshold, required_fields, requalify_after FROM lead_process.stage
 WHERE score_threshold IS NOT NULL;
INSERT INTO lead_process.lead (id, email, company, job_title, stage, stage_changed_at)
VALUES (11, 'a@acme.example', 'Acme', 'CTO', 'lead', '2026-01-01 00:00+00'),
	   (12, 'b@acme.example', NULL, 'CTO', 'lead', '2026-01-01 00:00+00'),
	   (13, 'c@acme.example', 'Acme', 'CEO', 'subscriber', '2026-01-01 00:00+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
SELECT l, 'page_view', '2026-02-10 00:00+00'::timestamptz + g * interval '1 hour', '{"url": "/pricing"}'
  FROM generate_series(11, 13) l, generate_series(1, 5) g;
SELECT id, stage, score, stage_changed_at FROM lead_process.lead WHERE id BETWEEN 11 AND 13 ORDER BY id;
-- the breakdown that justified it is frozen in the history row
SELECT lead_id, from_stage, to_stage, kind, cause, changed_at, score, details
  FROM lead_process.stage_history WHERE lead_id BETWEEN 11 AND 13 AND from_stage IS NOT NULL ORDER BY id;
-- lead 12 is near-qualified: it only lacks its company
SELECT * FROM lead_process.near_qualified ORDER BY lead_id;
-- the missing field arrives: the update itself promotes
UPDATE lead_process.lead SET company = 'Acme' WHERE id = 12;
SELECT id, stage FROM lead_process.lead WHERE id = 12;
SELECT from_stage, to_stage, kind, cause, details FROM lead_process.stage_history
 WHERE lead_id = 12 AND from_stage IS NOT NULL;
-- a rescore recomputes scores but moves nobody
INSERT INTO lead_process.lead (id, email, company, job_title, stage)
VALUES (17, 'e@acme.example', 'Acme', 'CTO', 'lead');
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('acme', '{"attribute": "company", "op": "=", "value": "Acme"}', 60);
SELECT lead_process.rescore_fit(17);
SELECT id, stage, score FROM lead_process.lead WHERE id = 17;
DELETE FROM lead_process.fit_rule WHERE name = 'acme';
-- decay aside, a lower score never demotes
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (11, 'unsubscribe', '2026-02-12 00:00+00');
SELECT id, stage, score FROM lead_process.lead WHERE id = 11;

-- cool-down: a recycled lead requalifies only 30 days after the recycle
SELECT lead_process.move(11, 'sal', at => '2026-02-13 00:00+00');
SELECT lead_process.recycle(11, 'returned-not-ready', at => '2026-03-01 00:00+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
VALUES (11, 'page_view', '2026-03-10 00:00+00', '{"url": "/pricing"}');
SELECT id, stage, score FROM lead_process.lead WHERE id = 11;
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
VALUES (11, 'page_view', '2026-04-15 00:00+00', '{"url": "/pricing"}');
SELECT id, stage, score, stage_changed_at FROM lead_process.lead WHERE id = 11;

-- fast-track: a demo request goes straight to sal
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, fast_track_to, priority)
VALUES ('demo request', 'demo_request', 30, 'sal', 0);
INSERT INTO lead_process.lead (id, stage, stage_changed_at) VALUES (14, 'lead', '2026-01-01 00:00+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (14, 'demo_request', '2026-02-20 09:30+00');
SELECT lead_id, from_stage, to_stage, kind, cause, changed_at FROM lead_process.stage_history
 WHERE lead_id = 14 AND from_stage IS NOT NULL;
-- a lead already past sal is not moved back
INSERT INTO lead_process.lead (id, stage) VALUES (15, 'opportunity');
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (15, 'demo_request', now());
SELECT id, stage FROM lead_process.lead WHERE id = 15;

-- a promotion caused by a writer's activity names the writer in the history
CREATE ROLE regress_lp_crm;
SELECT lead_process.grant_writer('regress_lp_crm');
INSERT INTO lead_process.lead (id, email, company, job_title, stage) VALUES (16, 'd@acme.example', 'Acme', 'CTO', 'lead');
SET ROLE regress_lp_crm;
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (16, 'demo_request', now());
RESET ROLE;
SELECT lead_id, to_stage, cause, changed_by FROM lead_process.stage_history WHERE lead_id = 16 AND from_stage IS NOT NULL;
SELECT lead_process.revoke_all('regress_lp_crm');
DROP ROLE regress_lp_crm;

-- bad rules are refused when written
INSERT INTO lead_process.behaviour_rule (name, activity_type, property, points) VALUES ('half', 'page_view', 'url', 1);
INSERT INTO lead_process.behaviour_rule (name, activity_type, points) VALUES ('huge', 'page_view', 5000);
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, max_occurrences) VALUES ('zero cap', 'page_view', 1, 0);
INSERT INTO lead_process.behaviour_rule (name, activity_type, points, fast_track_to) VALUES ('nowhere', 'x', 1, 'heaven');
UPDATE lead_process.stage SET required_fields = '{favourite_colour}' WHERE name = 'mql';

-- an activity stays with its lead (0A000)
UPDATE lead_process.activity SET lead_id = 3 WHERE lead_id = 4;
-- a rule with a pattern matches numbers and booleans by their text, as ->> does
INSERT INTO lead_process.behaviour_rule (name, activity_type, property, pattern, points)
VALUES ('big team', 'signup', 'seats', '1%', 4);
INSERT INTO lead_process.activity (lead_id, type, properties)
VALUES (5, 'signup', '{"seats": 10}'), (5, 'signup', '{"seats": "12"}'), (5, 'signup', '{"seats": 20}');
SELECT id, behaviour_score FROM lead_process.lead WHERE id = 5;
-- an inactive rule's points stay explained until a rescore takes them away
UPDATE lead_process.behaviour_rule SET active = false WHERE name = 'big team';
INSERT INTO lead_process.activity (lead_id, type) VALUES (5, 'tweet');
SELECT l.id, l.behaviour_score, l.score_tally,
	   l.behaviour_score = (SELECT sum(points) FROM lead_process.score_explain(l.id)
							 WHERE source = 'behaviour') AS explained
  FROM lead_process.lead l WHERE l.id = 5;
SELECT lead_process.rescore_behaviour(5);
SELECT id, behaviour_score, score_tally FROM lead_process.lead WHERE id = 5;

-- deleting a lead deletes its activities
DELETE FROM lead_process.lead WHERE id = 2;
SELECT count(*) AS activities_of_lead_2 FROM lead_process.activity WHERE lead_id = 2;
-- truncating the leads truncates the activities
TRUNCATE lead_process.lead CASCADE;
SELECT count(*) AS activities_left FROM lead_process.activity;

-- the scoring trigger functions refuse to run anywhere else (39P01)
CREATE TABLE not_activity (lead_id bigint, type text, properties jsonb, occurred_at timestamptz);
CREATE TRIGGER t AFTER INSERT ON not_activity FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.activity_score_trigger();
INSERT INTO not_activity VALUES (1, 'page_view', NULL, now());
DROP TRIGGER t ON not_activity;
CREATE TABLE not_anything (a int);
CREATE TRIGGER t AFTER INSERT ON not_anything REFERENCING NEW TABLE AS n FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.activity_score_trigger();
INSERT INTO not_anything VALUES (1);
DROP TRIGGER t ON not_anything;
CREATE TRIGGER t BEFORE INSERT ON not_anything FOR EACH ROW
	EXECUTE FUNCTION lead_process.fit_rule_validate_trigger();
INSERT INTO not_anything VALUES (1);
DROP TABLE not_activity, not_anything;

DROP EXTENSION lead_process;
