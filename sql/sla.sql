--
-- sla: SLA policies and clocks; each policy kind, each breach action,
-- condition narrowing, deadlines across a weekend, a calendar edited while
-- clocks run, sweep() and its events, and every error
--
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET lead_process.notify = off;
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

INSERT INTO lead_process.team (name, method) VALUES ('emea', 'round-robin');
INSERT INTO lead_process.rep (name, team) VALUES ('anna', 'emea'), ('ben', 'emea');
INSERT INTO lead_process.routing_rule (name, team) VALUES ('everyone', 'emea');
-- German leads are hot: 80 fit points
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('germany', '{"attribute": "country", "op": "=", "value": "DE"}', 80);

-- Policies: hot mqls must be accepted or rejected within 1 business hour,
-- others within 8; first contact within 4 hours; three attempts within
-- 16 hours once accepted
INSERT INTO lead_process.sla_policy (name, stage, kind, condition, target, attempts, action, priority) VALUES
	('hot mql', 'mql', 'leave-stage', '{"attribute": "score", "op": ">=", "value": 80}', '1 hour', NULL, 'reassign', 10),
	('mql', 'mql', 'leave-stage', NULL, '8 hours', NULL, 'flag', 20),
	('mql first contact', 'mql', 'first-contact', NULL, '4 hours', NULL, 'notify', 100),
	('sal attempts', 'sal', 'attempts', NULL, '16 hours', 3, 'recycle', 100);
SELECT id, name, stage, kind, target, attempts, calendar, action, priority FROM lead_process.sla_policy ORDER BY id;

-- Friday 2026-03-06, 16:00 and 16:30 UTC: leads 1 (FR) and 2 (DE) reach mql;
-- the 8-hour and 4-hour deadlines run across the weekend (Friday 16-17,
-- then Monday from 09:00), the hot lead's 1 hour ends Monday 09:30
INSERT INTO lead_process.lead (id, email, country, stage, stage_changed_at) VALUES
	(1, 'a@example.fr', 'FR', 'mql', '2026-03-06 16:00+00'),
	(2, 'b@example.de', 'DE', 'mql', '2026-03-06 16:30+00'),
	(3, 'c@example.fr', 'FR', 'lead', '2026-03-06 16:00+00');
SELECT c.lead_id, p.name AS policy, c.kind, c.owner, c.state, c.started_at, c.due_at
  FROM lead_process.sla_clock c JOIN lead_process.sla_policy p ON p.id = c.policy_id
 ORDER BY c.lead_id, c.id;

-- A call that reaches nobody still meets first contact (lead 1);
-- follow-up time in wall clock and business time
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (1, '2026-03-09 09:15+00', 'call', 'no-answer', 'anna');
SELECT lead_id, kind, state, attempts, first_attempt_at, follow_up, follow_up_business, met_at, on_time
  FROM lead_process.sla_clock WHERE lead_id = 1 ORDER BY id;

-- Nothing is due before Monday 09:30
SELECT * FROM lead_process.sweep('2026-03-09 09:29+00');
-- At 09:30 the hot lead's clock breaches: reassigned to the other rep, a
-- new clock starts; its first-contact clock is not due yet
SELECT * FROM lead_process.sweep('2026-03-09 09:30+00');
SELECT c.id, c.lead_id, p.name AS policy, c.owner, c.state, c.started_at, c.due_at, c.breached_at,
	   c.handled_at, c.action, c.next_clock_id, c.on_time
  FROM lead_process.sla_clock c JOIN lead_process.sla_policy p ON p.id = c.policy_id
 WHERE c.lead_id = 2 ORDER BY c.id;
SELECT id, owner FROM lead_process.lead WHERE id = 2;
-- the same sweep again does nothing: idempotent
SELECT * FROM lead_process.sweep('2026-03-09 09:30+00');

-- The event: ids, policy, deadline and action
SELECT lead_id, type, occurred_at, payload - 'policy_id' - 'clock_id' AS payload
  FROM lead_process.event WHERE type = 'sla_breached' ORDER BY id;

-- Lead 2's new owner (anna) has until 10:30; lead 2 is accepted at 10:00:
-- the new clock is met, the first-contact clock cancelled (the lead left
-- mql without one), and three attempts meet the attempts clock of sal
SELECT lead_process.accept(2, NULL, '2026-03-09 10:00+00');
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep) VALUES
	(2, '2026-03-09 10:10+00', 'call', 'no-answer', 'anna'),
	(2, '2026-03-09 11:00+00', 'call', 'voicemail', 'anna'),
	(2, '2026-03-09 14:00+00', 'meeting', 'connected', 'anna');
SELECT id, kind, stage, owner, state, attempts, met_at, cancelled_at, follow_up, on_time
  FROM lead_process.sla_clock WHERE lead_id = 2 ORDER BY id;

-- Lead 1 is accepted at 12:00: its leave-stage clock is met, the
-- attempts clock of sal starts (16 business hours: Wednesday 12:00)
SELECT lead_process.accept(1, NULL, '2026-03-09 12:00+00');
SELECT lead_id, kind, stage, state, met_at, cancelled_at, due_at, on_time
  FROM lead_process.sla_clock WHERE lead_id = 1 ORDER BY id;
-- two attempts only; attempts before the clock started do not count
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep) VALUES
	(1, '2026-03-09 11:00+00', 'email', 'sent', 'anna'),
	(1, '2026-03-09 13:00+00', 'email', 'sent', 'anna'),
	(1, '2026-03-10 10:00+00', 'call', 'voicemail', 'anna');
SELECT lead_id, kind, state, attempts, first_attempt_at, due_at FROM lead_process.sla_clock
 WHERE lead_id = 1 AND state = 'running';

-- Lead 3 (FR, not hot) reaches mql on Tuesday 10:00: the 8-hour policy
-- and first contact apply
SELECT lead_process.move(3, 'mql', NULL, NULL, '2026-03-10 10:00+00');
SELECT c.lead_id, p.name AS policy, c.kind, c.owner, c.due_at
  FROM lead_process.sla_clock c JOIN lead_process.sla_policy p ON p.id = c.policy_id
 WHERE c.lead_id = 3 ORDER BY c.id;

-- Tuesday 15:00: lead 3's first contact breaches (notify)
SELECT * FROM lead_process.sweep('2026-03-10 15:00+00');
-- Wednesday 12:00: lead 1's attempts clock breaches and recycles the lead
-- (reason sla-breach); lead 3's leave-stage clock breaches (flag)
SELECT * FROM lead_process.sweep('2026-03-11 12:00+00');
SELECT id, stage, stage_reason FROM lead_process.lead WHERE id = 1;
SELECT lead_id, from_stage, to_stage, kind, reason, actor FROM lead_process.stage_history
 WHERE lead_id = 1 ORDER BY id DESC LIMIT 1;
-- a contact attempt after the deadline: the breached clocks keep their
-- state, and record the (late) follow-up time
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (3, '2026-03-12 11:00+00', 'email', 'sent', 'ben');
SELECT c.lead_id, p.name AS policy, c.kind, c.state, c.attempts, c.breached_at, c.handled_at, c.action,
	   c.follow_up, c.follow_up_business, c.on_time
  FROM lead_process.sla_clock c JOIN lead_process.sla_policy p ON p.id = c.policy_id
 ORDER BY c.lead_id, c.id;
SELECT lead_id, type, occurred_at, payload->>'policy' AS policy, payload->>'kind' AS kind,
	   payload->>'owner' AS owner, payload->>'action' AS action, payload->>'swept_at' AS swept_at
  FROM lead_process.event WHERE type = 'sla_breached' ORDER BY id;

-- Met late: a goal reached after the deadline, before any sweep saw it,
-- is met with on_time false, and no action runs
INSERT INTO lead_process.lead (id, email, country, stage, stage_changed_at)
VALUES (4, 'd@example.fr', 'FR', 'mql', '2026-03-02 09:00+00');
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
VALUES (4, '2026-03-02 15:00+00', 'call', 'connected', 'anna');
SELECT kind, state, due_at, met_at, on_time FROM lead_process.sla_clock WHERE lead_id = 4 ORDER BY id;

-- Inactive policies start no clocks: lead 5 (DE) gets the 8-hour policy
UPDATE lead_process.sla_policy SET active = false WHERE name = 'hot mql';
INSERT INTO lead_process.lead (id, email, country, stage, stage_changed_at)
VALUES (5, 'e@example.de', 'DE', 'mql', '2026-03-02 09:00+00');
SELECT c.lead_id, p.name AS policy FROM lead_process.sla_clock c
  JOIN lead_process.sla_policy p ON p.id = c.policy_id WHERE c.lead_id = 5 ORDER BY c.id;

-- A calendar edited while a clock runs: the clock keeps the business time
-- it used.  Lead 6 enters sql on Monday 2026-03-02 09:00 with 8 hours on
-- calendar "office" (Monday to Friday 09-17): due Monday 17:00.  At 13:00
-- it has used 4 hours; Monday's hours become 12:00-15:00.  Kept: 4 hours
-- used, 4 left from 13:00 (Monday 13-15, Tuesday 09-11): due Tuesday
-- 11:00.  Counting again from the start under the new hours would give
-- Tuesday 14:00.  sla_rebase() and sla_recompute() are what the calendar
-- triggers run with the transaction time; called here with an explicit one.
INSERT INTO lead_process.calendar (name, time_zone) VALUES ('office', 'UTC');
INSERT INTO lead_process.calendar_hours (calendar, weekday, opens, closes)
SELECT 'office', d, '09:00', '17:00' FROM generate_series(1, 5) d;
INSERT INTO lead_process.sla_policy (name, stage, kind, target, calendar)
VALUES ('sql decision', 'sql', 'leave-stage', '8 hours', 'office');
INSERT INTO lead_process.lead (id, email, stage, stage_changed_at)
VALUES (6, 'f@example.com', 'sql', '2026-03-02 09:00+00');
SELECT started_at, anchor_at, used, due_at FROM lead_process.sla_clock WHERE lead_id = 6;
BEGIN;
SELECT lead_process.sla_rebase('office', '2026-03-02 13:00+00');
UPDATE lead_process.calendar_hours SET opens = '12:00', closes = '15:00'
 WHERE calendar = 'office' AND weekday = 1;
SELECT lead_process.sla_recompute('office', '2026-03-02 13:00+00');
COMMIT;
SELECT started_at, anchor_at, used, due_at FROM lead_process.sla_clock WHERE lead_id = 6;
SELECT lead_process.business_time_add('office', '2026-03-02 09:00+00', '8 hours') AS from_the_start;
-- the calendar triggers leave clocks already due at the edit time alone
UPDATE lead_process.calendar_hours SET opens = '09:00', closes = '17:00'
 WHERE calendar = 'office' AND weekday = 1;
SELECT due_at FROM lead_process.sla_clock WHERE lead_id = 6;

-- An action that fails is rolled back alone and recorded on its clock;
-- the breach stays.  The sweep runs here as a role of the admin level.
INSERT INTO lead_process.sla_policy (name, stage, kind, target, action)
VALUES ('opportunity', 'opportunity', 'leave-stage', '2 hours', 'recycle');
INSERT INTO lead_process.lead (id, email, stage, stage_changed_at)
VALUES (7, 'g@example.com', 'opportunity', '2026-03-02 09:00+00');
DELETE FROM lead_process.transition WHERE from_stage = 'opportunity' AND kind = 'recycle';
CREATE ROLE regress_sla_admin;
SELECT lead_process.grant_admin('regress_sla_admin');
SET ROLE regress_sla_admin;
SELECT * FROM lead_process.sweep('2026-03-02 12:00+00');
RESET ROLE;
SELECT lead_id, state, breached_at, action, action_error FROM lead_process.sla_clock WHERE lead_id = 7;
SELECT stage FROM lead_process.lead WHERE id = 7;
SELECT count(*) AS events FROM lead_process.event WHERE type = 'sla_breached' AND lead_id = 7;
SELECT lead_process.revoke_all('regress_sla_admin');
DROP ROLE regress_sla_admin;

-- Leads are erased with their clocks
DELETE FROM lead_process.lead WHERE id = 6;
SELECT count(*) FROM lead_process.sla_clock WHERE lead_id = 6;

-- Errors
-- malformed condition
INSERT INTO lead_process.sla_policy (name, stage, kind, condition, target)
VALUES ('bad', 'mql', 'leave-stage', '{"attribute": "shoe_size", "op": "=", "value": 1}', '1 hour');
-- target not positive
INSERT INTO lead_process.sla_policy (name, stage, kind, target) VALUES ('bad', 'mql', 'leave-stage', '0');
-- target in months
INSERT INTO lead_process.sla_policy (name, stage, kind, target) VALUES ('bad', 'mql', 'leave-stage', '1 month');
-- recycle where the stage has no recycle edge
INSERT INTO lead_process.sla_policy (name, stage, kind, target, action)
VALUES ('bad', 'subscriber', 'leave-stage', '1 hour', 'recycle');
-- calendar without business hours
INSERT INTO lead_process.calendar (name, time_zone) VALUES ('closed', 'UTC');
INSERT INTO lead_process.sla_policy (name, stage, kind, target, calendar)
VALUES ('bad', 'mql', 'leave-stage', '1 hour', 'closed');
-- unknown calendar
INSERT INTO lead_process.sla_policy (name, stage, kind, target, calendar)
VALUES ('bad', 'mql', 'leave-stage', '1 hour', 'nowhere');
-- unknown stage
INSERT INTO lead_process.sla_policy (name, stage, kind, target) VALUES ('bad', 'limbo', 'leave-stage', '1 hour');
-- unknown kind
INSERT INTO lead_process.sla_policy (name, stage, kind, target) VALUES ('bad', 'mql', 'reply', '1 hour');
-- unknown action
INSERT INTO lead_process.sla_policy (name, stage, kind, target, action)
VALUES ('bad', 'mql', 'leave-stage', '1 hour', 'escalate');
-- attempts without a count, and a count on another kind
INSERT INTO lead_process.sla_policy (name, stage, kind, target) VALUES ('bad', 'sal', 'attempts', '1 hour');
INSERT INTO lead_process.sla_policy (name, stage, kind, target, attempts) VALUES ('bad', 'sal', 'first-contact', '1 hour', 2);
-- a policy with clocks cannot be deleted (deactivate it)
DELETE FROM lead_process.sla_policy WHERE name = 'mql';
-- clocks are maintained by lead_process: as_of must be given
SELECT * FROM lead_process.sweep(NULL);

-- SLA compliance for BI: closed clocks per policy and period, per owner
SELECT policy, stage, kind, slice, slice_value, clocks, on_time, met_late, breached, compliance
  FROM lead_process.metric_sla_compliance
 WHERE grain = 'quarter' AND slice IN ('all', 'owner')
 ORDER BY policy, slice, slice_value NULLS FIRST;
-- it agrees with the clocks
SELECT (SELECT sum(clocks) FROM lead_process.metric_sla_compliance WHERE grain = 'day' AND slice = 'all')
	 = (SELECT count(*) FROM lead_process.sla_clock WHERE state IN ('met', 'breached')) AS consistent;
DROP EXTENSION lead_process;
