--
-- routing: handoff assigns an owner in the same transaction; rules in
-- priority order; round-robin, least-loaded and weighted teams; territories,
-- availability and capacity; queues; route(), route_preview(), accept(),
-- reject(); the assignment record; recycle limits and score actions
--
SET client_min_messages = warning;
SET timezone = 'UTC';
SET lead_process.notify = off;
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

INSERT INTO lead_process.team (name, method) VALUES
	('emea', 'round-robin'), ('na', 'least-loaded'), ('apac', 'weighted');
INSERT INTO lead_process.rep (name, team, weight, territory) VALUES
	('anna', 'emea', 1, NULL),
	('ben',  'emea', 1, NULL),
	('carl', 'emea', 1, '{"attribute": "country", "op": "=", "value": "DE"}'),
	('dana', 'na', 1, NULL),
	('eve',  'na', 1, NULL),
	('fay',  'apac', 2, NULL),
	('gus',  'apac', 1, NULL),
	('vip-desk', NULL, 1, NULL);
INSERT INTO lead_process.queue (name, description) VALUES ('latam-inbox', 'Shared inbox for Latin America');
INSERT INTO lead_process.routing_rule (name, priority, condition, team, rep, queue) VALUES
	('big accounts', 5, '{"attribute": "employees", "op": ">=", "value": 10000}', NULL, 'vip-desk', NULL),
	('emea', 10, '{"attribute": "country", "op": "in", "value": ["DE", "FR", "GB"]}', 'emea', NULL, NULL),
	('na',   20, '{"attribute": "country", "op": "in", "value": ["US", "CA"]}', 'na', NULL, NULL),
	('apac', 30, '{"attribute": "country", "op": "in", "value": ["AU", "JP"]}', 'apac', NULL, NULL),
	('latam', 40, '{"attribute": "country", "op": "in", "value": ["BR", "MX"]}', NULL, NULL, 'latam-inbox');

-- Entering mql (the handoff stage) assigns an owner in the same statement
INSERT INTO lead_process.lead (id, email, country, employees, stage, stage_changed_at)
SELECT g, 'p' || g || '@example.com', (ARRAY['FR', 'DE', 'US', 'AU', 'BR', 'ZA'])[1 + (g - 1) % 6],
	   CASE WHEN g = 13 THEN 50000 END, 'mql', '2026-03-02 09:00+00'
  FROM generate_series(1, 18) g;
SELECT id, country, owner FROM lead_process.lead ORDER BY id;
-- round-robin: anna and ben alternate on FR leads, carl takes DE leads in turn
-- with them; weighted: fay gets two leads for each of gus's; ZA matches no
-- rule and lands in the default queue
SELECT owner, count(*) FROM lead_process.lead GROUP BY owner ORDER BY owner;
SELECT rep, assigned, last_turn IS NOT NULL AS turned FROM lead_process.rep_state ORDER BY rep;
SELECT lead_id, owner, previous_owner, stage, cause, rule_id, method
  FROM lead_process.assignment WHERE lead_id <= 6 ORDER BY id;
SELECT type, payload->>'owner' AS owner, payload->>'method' AS method
  FROM lead_process.event WHERE type = 'lead_assigned' AND lead_id = 1;
-- the history row of the handoff names the new owner
SELECT lead_id, to_stage, owner FROM lead_process.stage_history WHERE lead_id IN (1, 2) ORDER BY lead_id;

-- least-loaded: dana and eve share US leads by their open mql count
SELECT owner, count(*) FROM lead_process.lead WHERE country = 'US' GROUP BY owner ORDER BY owner;

-- A lead that reaches mql by an UPDATE is routed too; one a rep owns keeps its owner
INSERT INTO lead_process.lead (id, email, country, stage, owner) VALUES
	(101, 'a@x.com', 'FR', 'lead', NULL),
	(102, 'b@x.com', 'FR', 'lead', 'zoe');
UPDATE lead_process.lead SET stage = 'mql' WHERE id IN (101, 102);
SELECT id, owner FROM lead_process.lead WHERE id IN (101, 102) ORDER BY id;
-- a lead held by a queue is routed again when it is handed off
INSERT INTO lead_process.lead (id, email, country, stage, owner) VALUES (103, 'c@x.com', 'DE', 'lead', 'unassigned');
SELECT lead_process.move(103, 'mql');
SELECT owner FROM lead_process.lead WHERE id = 103;

-- Availability: inactive and away reps are skipped; the away rep is back later
UPDATE lead_process.rep SET active = false WHERE name = 'anna';
UPDATE lead_process.rep SET away_until = '2026-03-10 00:00+00' WHERE name = 'ben';
INSERT INTO lead_process.lead (id, email, country, stage, stage_changed_at) VALUES (104, 'd@x.com', 'FR', 'lead', '2026-03-01 00:00+00');
SELECT lead_process.route_preview(104, '2026-03-05 00:00+00') -> 'steps' -> 1 -> 'candidates' AS candidates;
SELECT lead_process.route_preview(104, '2026-03-05 00:00+00') ->> 'owner' AS owner_while_away;
SELECT lead_process.route_preview(104, '2026-03-11 00:00+00') ->> 'owner' AS owner_when_back;
-- no rep of the team can take a FR lead now: the next matching rule, else the default queue
SELECT lead_process.move(104, 'mql', at => '2026-03-05 00:00+00');
SELECT owner FROM lead_process.lead WHERE id = 104;
UPDATE lead_process.rep SET active = true, away_until = NULL WHERE name IN ('anna', 'ben');

-- Capacity: a rep at capacity for the stage is skipped
INSERT INTO lead_process.rep_capacity VALUES ('dana', 'mql', 2), ('eve', 'mql', 2);
SELECT owner, count(*) FROM lead_process.lead WHERE owner IN ('dana', 'eve') AND stage = 'mql' GROUP BY owner ORDER BY owner;
INSERT INTO lead_process.lead (id, email, country, stage) VALUES (105, 'e@x.com', 'US', 'mql');
SELECT owner FROM lead_process.lead WHERE id = 105;
SELECT s->'candidates' FROM jsonb_array_elements(lead_process.route_preview(105) -> 'steps') s
 WHERE s->>'rule' = 'na';
DELETE FROM lead_process.rep_capacity;

-- route_preview changes nothing
SELECT count(*) AS assignments_before FROM lead_process.assignment \gset
SELECT jsonb_pretty(lead_process.route_preview(1, '2026-03-05 00:00+00'));
SELECT count(*) - :assignments_before AS new_assignments FROM lead_process.assignment;

-- route(): an owned lead keeps its owner; reassign picks another rep
SELECT lead_process.route(1);
SELECT lead_process.route(1, reassign => true, actor => 'sla-sweep');
SELECT owner, previous_owner, cause, method, actor FROM lead_process.assignment
 WHERE lead_id = 1 ORDER BY id DESC LIMIT 1;
-- a client changing the owner is recorded too
UPDATE lead_process.lead SET owner = 'dana' WHERE id = 1;
SELECT owner, previous_owner, cause, rule_id, method FROM lead_process.assignment
 WHERE lead_id = 1 ORDER BY id DESC LIMIT 1;

-- accept and reject
SELECT lead_process.accept(2);
SELECT stage FROM lead_process.lead WHERE id = 2;
SELECT lead_process.reject(3);
SELECT stage, stage_reason, recycle_count FROM lead_process.lead WHERE id = 3;
SELECT lead_process.reject(4, 'returned-not-ready');
SELECT stage, stage_reason FROM lead_process.lead WHERE id = 4;
-- only a stage with an accept edge can accept
SELECT lead_process.accept(4);
SELECT lead_process.accept(999);
-- route(at => ...) dates the assignment
SELECT lead_process.route(2, reassign => true, at => '2026-03-20 12:00+00');
SELECT owner, previous_owner, cause, assigned_at FROM lead_process.assignment
 WHERE lead_id = 2 ORDER BY id DESC LIMIT 1;

-- After K recycles into a stage with max_recycles the lead is disqualified instead
UPDATE lead_process.stage SET max_recycles = 1 WHERE name = 'lead';
SELECT lead_process.move(3, 'mql');
SELECT lead_process.reject(3);
SELECT stage, stage_reason, recycle_count FROM lead_process.lead WHERE id = 3;
SELECT from_stage, to_stage, kind, reason FROM lead_process.stage_history
 WHERE lead_id = 3 ORDER BY id DESC LIMIT 1;
UPDATE lead_process.stage SET max_recycles = NULL WHERE name = 'lead';

-- Score action of the recycle reason: reset or scale the behaviour score
INSERT INTO lead_process.behaviour_rule (name, activity_type, points) VALUES ('visit', 'page_view', 5);
UPDATE lead_process.stage SET score_threshold = NULL WHERE name = 'mql';
INSERT INTO lead_process.lead (id, email, stage) VALUES (201, 'r@x.com', 'mql'), (202, 's@x.com', 'mql');
INSERT INTO lead_process.activity (lead_id, type) SELECT l, 'page_view' FROM generate_series(1, 7), (VALUES (201), (202)) v(l);
UPDATE lead_process.reason SET score_action = 'reset' WHERE code = 'unreachable';
UPDATE lead_process.reason SET score_action = 'scale', score_factor = 0.5 WHERE code = 'returned-not-ready';
SELECT lead_process.reject(201, 'unreachable');
SELECT lead_process.reject(202, 'returned-not-ready');
SELECT id, behaviour_score, score, score_tally FROM lead_process.lead WHERE id IN (201, 202) ORDER BY id;
-- the tallies still add up (a rescore from the activities starts over)
SELECT id, behaviour_score = (SELECT coalesce(sum((v->>1)::int), 0) FROM jsonb_each(score_tally) t(k, v)) AS adds_up
  FROM lead_process.lead WHERE id IN (201, 202) ORDER BY id;

-- Stale leads: the sweep recycles a lead that stayed in a stage with
-- stale_after without any activity or contact attempt (reason stale)
UPDATE lead_process.stage SET stale_after = '14 days' WHERE name = 'sal';
INSERT INTO lead_process.lead (id, email, stage, stage_changed_at) VALUES
	(401, 'quiet@x.com', 'sal', '2026-04-01 00:00+00'),
	(402, 'clicks@x.com', 'sal', '2026-04-01 00:00+00'),
	(403, 'called@x.com', 'sal', '2026-04-01 00:00+00'),
	(404, 'fresh@x.com', 'sal', '2026-04-10 00:00+00');
INSERT INTO lead_process.activity (lead_id, type, occurred_at) VALUES (402, 'page_view', '2026-04-08 00:00+00');
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome, occurred_at)
VALUES (403, 'call', 'no-answer', '2026-04-12 00:00+00');
SELECT * FROM lead_process.sweep('2026-04-20 00:00+00');
SELECT id, stage, stage_reason, stage_changed_at FROM lead_process.lead WHERE id BETWEEN 401 AND 404 ORDER BY id;
SELECT from_stage, to_stage, kind, cause, reason, actor FROM lead_process.stage_history
 WHERE lead_id = 401 ORDER BY id DESC LIMIT 1;
-- idempotent: a second sweep at the same time finds nothing
SELECT * FROM lead_process.sweep('2026-04-20 00:00+00');
-- later, the activity of lead 402 is too old as well
SELECT * FROM lead_process.sweep('2026-04-23 00:00+00');
SELECT * FROM lead_process.sweep(NULL);
UPDATE lead_process.stage SET stale_after = NULL WHERE name = 'sal';

-- Errors
-- a routing rule names exactly one target
INSERT INTO lead_process.routing_rule (name, team, rep) VALUES ('two targets', 'emea', 'anna');
INSERT INTO lead_process.routing_rule (name) VALUES ('no target');
-- conditions are validated when written
INSERT INTO lead_process.routing_rule (name, condition, team)
VALUES ('bad', '{"attribute": "shoe_size", "op": "=", "value": 42}', 'emea');
UPDATE lead_process.rep SET territory = '{"attribute": "country", "op": "near", "value": "DE"}' WHERE name = 'carl';
INSERT INTO lead_process.team (name, method) VALUES ('x', 'random');
INSERT INTO lead_process.rep (name, weight) VALUES ('heavy', 0);
INSERT INTO lead_process.rep_capacity VALUES ('anna', 'mql', -1);
INSERT INTO lead_process.queue (name, is_default) VALUES ('second-default', true);
INSERT INTO lead_process.routing_rule (name, team) VALUES ('ghost team', 'nobody');
SELECT lead_process.route(999);
SELECT lead_process.route_preview(999);
SELECT lead_process.route(NULL);
-- no rule places the lead and there is no default queue
UPDATE lead_process.queue SET is_default = false;
INSERT INTO lead_process.lead (id, email, country, stage) VALUES (301, 'z@x.com', 'ZA', 'lead');
SELECT lead_process.route(301);
-- a handoff without any owner keeps the lead unowned
SELECT lead_process.move(301, 'mql');
SELECT owner FROM lead_process.lead WHERE id = 301;
UPDATE lead_process.queue SET is_default = true WHERE name = 'unassigned';
-- a rule or territory that arrives without its validation (a restore or
-- replication applies rows with triggers off) is ignored with a WARNING:
-- the rule is not tried, the rep gets no leads
SET client_min_messages = warning;
SET session_replication_role = replica;
INSERT INTO lead_process.routing_rule (name, priority, condition, team)
VALUES ('smuggled', 1, '{"attribute": "shoe_size", "op": "=", "value": 42}', 'emea');
UPDATE lead_process.rep SET territory = '{"attribute": "country", "op": "near", "value": "DE"}' WHERE name = 'carl';
RESET session_replication_role;
UPDATE lead_process.team SET description = 'Europe' WHERE name = 'emea';	-- a config change: reload
SELECT s->>'rule' AS rule, s->'candidates' AS candidates
  FROM jsonb_array_elements(lead_process.route_preview(2) -> 'steps') s;
DELETE FROM lead_process.routing_rule WHERE name = 'smuggled';
UPDATE lead_process.rep SET territory = NULL WHERE name = 'carl';
-- an error leaves no assignment and no routing state behind
SELECT count(*) AS assignments_before FROM lead_process.assignment \gset
SELECT sum(assigned) AS assigned_before FROM lead_process.rep_state \gset
BEGIN;
INSERT INTO lead_process.lead (id, email, country, stage) VALUES (302, 'y@x.com', 'FR', 'mql');
SELECT lead_process.move(302, 'customer');
ROLLBACK;
SELECT count(*) - :assignments_before AS new_assignments,
	   (SELECT sum(assigned) FROM lead_process.rep_state) - :assigned_before AS new_turns
  FROM lead_process.assignment;
DROP EXTENSION lead_process;
