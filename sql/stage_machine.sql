--
-- stage_machine: every transition of the default graph, the UPDATE path,
-- history contents, backdating, and configuration changes taking effect
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

-- a new lead starts in the first non-terminal stage with its default status
INSERT INTO lead_process.lead (id, email, created_at)
VALUES (1, 'ana@acme.example', '2026-03-01 09:00+00');
SELECT id, stage, status, stage_changed_at, recycle_count FROM lead_process.lead;
SELECT lead_id, from_stage, to_stage, to_status, kind, cause, changed_at
  FROM lead_process.stage_history ORDER BY id;

-- a lead may be created in any stage (imports)
INSERT INTO lead_process.lead (id, stage, stage_changed_at, stage_reason)
VALUES (2, 'opportunity', '2026-02-01 00:00+00', 'imported from old CRM');
SELECT id, stage, status, stage_changed_at, stage_reason FROM lead_process.lead WHERE id = 2;

--
-- every allowed edge works, through move() and through UPDATE, and writes
-- exactly one history row of the edge's kind
--
CREATE TEMP TABLE edge_result (from_stage text, to_stage text, kind text, via text,
							   moved boolean, history_kind text, stage_now text);
DO $$
DECLARE
	e record;
	lid bigint := 1000;
	via text;
	moved boolean;
BEGIN
	FOR e IN SELECT * FROM lead_process.transition ORDER BY from_stage, to_stage LOOP
		FOREACH via IN ARRAY ARRAY['move', 'update'] LOOP
			lid := lid + 1;
			INSERT INTO lead_process.lead (id, stage) VALUES (lid, e.from_stage);
			IF via = 'move' THEN
				moved := lead_process.move(lid, e.to_stage,
					CASE e.kind WHEN 'disqualify' THEN 'junk'
								WHEN 'recycle' THEN 'unreachable'
								WHEN 'reject' THEN 'rejected' END);
			ELSE
				UPDATE lead_process.lead
				   SET stage = e.to_stage,
					   stage_reason = CASE e.kind WHEN 'disqualify' THEN 'junk'
												 WHEN 'recycle' THEN 'unreachable'
												 WHEN 'reject' THEN 'rejected' END
				 WHERE id = lid;
				moved := FOUND;
			END IF;
			INSERT INTO edge_result
			SELECT e.from_stage, e.to_stage, e.kind, via, moved,
				   (SELECT string_agg(h.kind, ',') FROM lead_process.stage_history h
					 WHERE h.lead_id = lid AND h.from_stage IS NOT NULL),
				   (SELECT l.stage FROM lead_process.lead l WHERE l.id = lid);
		END LOOP;
	END LOOP;
END $$;
SELECT from_stage, to_stage, kind, bool_and(moved AND history_kind = kind AND stage_now = to_stage) AS ok,
	   count(*) AS runs
  FROM edge_result GROUP BY 1, 2, 3 ORDER BY 1, 2;

--
-- every pair of stages that is not an edge is refused with LP001, and leaves
-- neither a change nor a history row behind
--
CREATE TEMP TABLE refused (lead_id bigint, from_stage text, to_stage text, sqlstate text);
DO $$
DECLARE
	a text;
	b text;
	lid bigint := 5000;
	st text;
BEGIN
	FOR a IN SELECT name FROM lead_process.stage LOOP
		FOR b IN SELECT name FROM lead_process.stage WHERE name <> a LOOP
			CONTINUE WHEN EXISTS (SELECT 1 FROM lead_process.transition t
								   WHERE t.from_stage = a AND t.to_stage = b);
			lid := lid + 1;
			INSERT INTO lead_process.lead (id, stage) VALUES (lid, a);
			BEGIN
				PERFORM lead_process.move(lid, b, 'junk');
				st := 'accepted';
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
			END;
			INSERT INTO refused VALUES (lid, a, b, st);
		END LOOP;
	END LOOP;
END $$;
SELECT sqlstate, count(*) FROM refused GROUP BY 1 ORDER BY 1;
SELECT count(*) AS refused_leads_not_in_from_stage
  FROM lead_process.lead l JOIN refused r ON r.lead_id = l.id
 WHERE l.stage <> r.from_stage;
SELECT count(*) AS history_rows_of_refused_moves
  FROM lead_process.stage_history WHERE lead_id > 5000 AND from_stage IS NOT NULL;

--
-- the history row: from, to, kind, cause, who, reason, score, owner
--
INSERT INTO lead_process.lead (id, stage, owner) VALUES (10, 'lead', 'rep-01');
SET lead_process.actor = 'crm:jane';
UPDATE lead_process.lead SET stage = 'mql', stage_reason = 'met the threshold' WHERE id = 10;
RESET lead_process.actor;
SELECT lead_process.move(10, 'sal', 'accepted by rep', actor => 'rep-01');
-- moving to the stage the lead is in is a no-op that records nothing
SELECT lead_process.move(10, 'sal');
UPDATE lead_process.lead SET stage = 'sal' WHERE id = 10;
SELECT from_stage, to_stage, kind, cause, reason, changed_by = current_user AS by_me, actor, owner, score
  FROM lead_process.stage_history WHERE lead_id = 10 ORDER BY id;
SELECT stage, status, stage_reason FROM lead_process.lead WHERE id = 10;

-- updates that leave stage and status alone record nothing
UPDATE lead_process.lead SET owner = 'rep-02' WHERE id = 10;
SELECT count(*) FROM lead_process.stage_history WHERE lead_id = 10;

-- a multi-row UPDATE records one row per lead
INSERT INTO lead_process.lead (id, stage) SELECT g, 'lead' FROM generate_series(20, 24) g;
UPDATE lead_process.lead SET stage = 'mql' WHERE id BETWEEN 20 AND 24;
SELECT lead_id, from_stage, to_stage FROM lead_process.stage_history
 WHERE lead_id BETWEEN 20 AND 24 AND from_stage IS NOT NULL ORDER BY lead_id;

--
-- backdating: a change may carry its own time, never before the previous one
--
INSERT INTO lead_process.lead (id, stage, stage_changed_at) VALUES (30, 'lead', '2026-01-10 10:00+00');
UPDATE lead_process.lead SET stage = 'mql', stage_changed_at = '2026-01-12 08:30+00' WHERE id = 30;
SELECT lead_process.move(30, 'sal', at => '2026-01-12 09:15+00');
SELECT from_stage, to_stage, changed_at FROM lead_process.stage_history WHERE lead_id = 30 ORDER BY id;
SELECT stage, stage_changed_at FROM lead_process.lead WHERE id = 30;
-- without a time, the change takes the transaction time
BEGIN;
SELECT lead_process.move(30, 'sql');
SELECT changed_at = now() AS at_transaction_time FROM lead_process.stage_history
 WHERE lead_id = 30 ORDER BY id DESC LIMIT 1;
ROLLBACK;

--
-- configuration changes take effect at once in this session
--
INSERT INTO lead_process.lead (id, stage) VALUES (40, 'lead');
SELECT lead_process.move(40, 'opportunity');		-- not an edge yet
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('lead', 'opportunity', 'fast-track');
SELECT lead_process.move(40, 'opportunity');
DELETE FROM lead_process.transition WHERE from_stage = 'lead' AND to_stage = 'opportunity';
INSERT INTO lead_process.lead (id, stage) VALUES (41, 'lead');
SELECT lead_process.move(41, 'opportunity');		-- gone again
-- a new stage is usable at once
INSERT INTO lead_process.stage (name, position, owner, definition) VALUES ('trial', 35, 'sales', 'Running a free trial');
INSERT INTO lead_process.stage_status (stage, status, position, is_default, description) VALUES ('trial', 'active', 1, true, 'Trial running');
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('lead', 'trial', 'fast-track'), ('trial', 'sal', 'accept');
SELECT lead_process.move(41, 'trial'), lead_process.move(41, 'sal');
SELECT from_stage, to_stage, kind FROM lead_process.stage_history WHERE lead_id = 41 ORDER BY id;
-- a stage without leads can be deleted (its statuses and edges go with it);
-- a stage in use can neither be deleted nor renamed
DELETE FROM lead_process.stage WHERE name = 'trial';
SELECT count(*) AS trial_edges FROM lead_process.transition WHERE 'trial' IN (from_stage, to_stage);
DELETE FROM lead_process.stage WHERE name = 'sal';
UPDATE lead_process.stage SET name = 'accepted' WHERE name = 'sal';

-- allowed_transitions() tells a client where a lead may go
SELECT * FROM lead_process.allowed_transitions(41);
SELECT * FROM lead_process.allowed_transitions(-1);

-- deleting a lead deletes its activities and history
INSERT INTO lead_process.activity (lead_id, type) VALUES (41, 'page_view');
DELETE FROM lead_process.lead WHERE id = 41;
SELECT (SELECT count(*) FROM lead_process.stage_history WHERE lead_id = 41) AS history,
	   (SELECT count(*) FROM lead_process.activity WHERE lead_id = 41) AS activities;

DROP EXTENSION lead_process;
