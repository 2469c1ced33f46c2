--
-- errors: every error a user can hit in the stage machine, with its message
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;
-- SQLSTATE and message only, for errors whose DETAIL shows the current time
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
INSERT INTO lead_process.lead (id, stage, stage_changed_at, created_at)
VALUES (1, 'mql', '2026-03-02 10:00+00', '2026-03-01 00:00+00'),
	   (2, 'customer', '2026-03-02 10:00+00', '2026-03-01 00:00+00');

-- an edge the graph does not have (LP001): DETAIL lists the allowed targets
SELECT lead_process.move(1, 'customer');
-- going back without recycling: the HINT says how
UPDATE lead_process.lead SET stage = 'subscriber' WHERE id = 1;
-- a terminal stage allows nothing
SELECT lead_process.move(2, 'lead');

-- unknown stage (42704), through move(), UPDATE and INSERT
SELECT lead_process.move(1, 'won');
UPDATE lead_process.lead SET stage = 'won' WHERE id = 1;
INSERT INTO lead_process.lead (id, stage) VALUES (3, 'won');
-- unknown status (42704)
UPDATE lead_process.lead SET status = 'won' WHERE id = 1;

-- reasons (LP002): missing, unknown, of the wrong kind
SELECT lead_process.move(1, 'lead');
SELECT lead_process.move(1, 'lead', 'bored');
SELECT lead_process.move(1, 'disqualified', 'unreachable');
-- an UPDATE that sets the reason to NULL gives no reason
UPDATE lead_process.lead SET stage = 'lead', stage_reason = NULL WHERE id = 1;

-- unknown lead (P0002) and null arguments (22004)
SELECT lead_process.move(42, 'sal');
SELECT lead_process.move(NULL, 'sal');
SELECT lead_process.move(1, NULL);
SELECT lead_process.recycle(NULL, 'stale');

-- change times (22008): in the future, before the previous change, infinite
SELECT pg_temp.try($$SELECT lead_process.move(1, 'sal', at => now() + interval '2 hours')$$);
SELECT lead_process.move(1, 'sal', at => '2026-03-02 09:59+00');
UPDATE lead_process.lead SET stage = 'sal', stage_changed_at = '2026-01-01 00:00+00' WHERE id = 1;
SELECT lead_process.move(1, 'sal', at => 'infinity');
INSERT INTO lead_process.lead (id, stage_changed_at) VALUES (4, '-infinity');
SELECT pg_temp.try($$INSERT INTO lead_process.lead (id, stage_changed_at) VALUES (4, now() + interval '1 day')$$);
-- the allowed skew is a setting
SET lead_process.max_future_skew = '1d';
SELECT lead_process.move(1, 'sal', at => now() + interval '2 hours');
RESET lead_process.max_future_skew;

-- columns maintained by lead_process (428C9); writing the same value is harmless
UPDATE lead_process.lead SET recycle_count = 0 WHERE id = 2;
UPDATE lead_process.lead SET recycle_count = 7 WHERE id = 2;
UPDATE lead_process.lead SET last_recycled_at = now() WHERE id = 2;
UPDATE lead_process.lead SET stage_changed_at = '2026-03-05 00:00+00' WHERE id = 2;
-- the id of a lead is fixed (0A000)
UPDATE lead_process.lead SET id = 99 WHERE id = 2;

-- the history is append-only (0A000)
UPDATE lead_process.stage_history SET reason = 'edited' WHERE lead_id = 1;
-- and only lead_process writes it
SELECT count(*) FROM lead_process.stage_history WHERE reason = 'edited';

-- configuration that cannot work
BEGIN;
UPDATE lead_process.stage SET is_terminal = true;
INSERT INTO lead_process.lead (id) VALUES (5);
ROLLBACK;
BEGIN;
UPDATE lead_process.stage_status SET is_default = false WHERE stage IN ('lead', 'subscriber');
INSERT INTO lead_process.lead (id, stage) VALUES (5, 'lead');
ROLLBACK;
INSERT INTO lead_process.lead (id, stage) VALUES (6, 'mql');
BEGIN;
UPDATE lead_process.stage_status SET is_default = false WHERE stage = 'sal';
SELECT lead_process.move(6, 'sal');
ROLLBACK;
-- bad configuration rows are refused by constraints
INSERT INTO lead_process.stage (name, position, owner, definition) VALUES ('Bad Name', 90, 'sales', 'x');
INSERT INTO lead_process.stage (name, position, owner, definition) VALUES ('partner', 90, 'partners', 'x');
INSERT INTO lead_process.stage (name, position, owner, definition) VALUES ('partner', 10, 'sales', 'x');
INSERT INTO lead_process.stage (name, position, owner, definition) VALUES ('partner', 90, 'sales', '');
INSERT INTO lead_process.stage (name, position, owner, definition, is_won) VALUES ('partner', 90, 'sales', 'x', true);
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('lead', 'lead', 'advance');
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('lead', 'nowhere', 'advance');
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('sql', 'mql', 'demote');
INSERT INTO lead_process.transition (from_stage, to_stage, kind, to_status) VALUES ('sql', 'mql', 'advance', 'recycled');
INSERT INTO lead_process.reason (code, kind, description) VALUES ('lost', 'archive', 'x');

-- our trigger functions refuse to run anywhere else
CREATE TABLE not_lead (id bigint, stage text);
CREATE TRIGGER t AFTER INSERT ON not_lead FOR EACH ROW EXECUTE FUNCTION lead_process.lead_stage_trigger();
INSERT INTO not_lead VALUES (1, 'lead');
DROP TRIGGER t ON not_lead;
CREATE TRIGGER t BEFORE INSERT ON not_lead FOR EACH STATEMENT EXECUTE FUNCTION lead_process.lead_stage_trigger();
INSERT INTO not_lead VALUES (1, 'lead');
DROP TRIGGER t ON not_lead;
CREATE TRIGGER t BEFORE DELETE ON not_lead FOR EACH ROW EXECUTE FUNCTION lead_process.lead_stage_trigger();
DELETE FROM not_lead;
INSERT INTO not_lead VALUES (1, 'lead');
DELETE FROM not_lead;
DROP TRIGGER t ON not_lead;
CREATE TRIGGER t BEFORE INSERT ON not_lead FOR EACH ROW EXECUTE FUNCTION lead_process.lead_stage_trigger();
INSERT INTO not_lead VALUES (1, 'lead');
DROP TABLE not_lead;
SELECT lead_process.lead_stage_trigger();

-- the SQLSTATE of each kind of error
INSERT INTO lead_process.lead (id, stage) VALUES (7, 'mql');
SELECT pg_temp.try(sql) AS sqlstate_and_message FROM (VALUES
	($$SELECT lead_process.move(7, 'customer')$$),
	($$SELECT lead_process.move(7, 'won')$$),
	($$UPDATE lead_process.lead SET status = 'won' WHERE id = 7$$),
	($$SELECT lead_process.move(7, 'lead')$$),
	($$SELECT lead_process.move(7, 'lead', 'bored')$$),
	($$SELECT lead_process.move(42, 'sal')$$),
	($$SELECT lead_process.move(NULL, 'sal')$$),
	($$SELECT lead_process.move(7, 'sal', at => 'infinity')$$),
	($$UPDATE lead_process.lead SET recycle_count = 3 WHERE id = 7$$),
	($$UPDATE lead_process.lead SET id = 8 WHERE id = 7$$),
	($$UPDATE lead_process.stage_history SET reason = 'x'$$),
	($$SELECT lead_process.lead_stage_trigger()$$)) v(sql);
DELETE FROM lead_process.lead WHERE id IN (6, 7);

-- after all these errors, nothing was half-done
SELECT id, stage, status, recycle_count FROM lead_process.lead ORDER BY id;
SELECT lead_id, from_stage, to_stage, kind FROM lead_process.stage_history ORDER BY id;

DROP EXTENSION lead_process;
