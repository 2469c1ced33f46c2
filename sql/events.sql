--
-- events: the durable outbox written with every stage or status change
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

-- one event per history row, in the same transaction, typed by the change
INSERT INTO lead_process.lead (id, stage, owner, score, stage_changed_at)
VALUES (1, 'lead', 'rep-01', 60, '2026-02-01 10:00+00');
SELECT lead_process.move(1, 'mql', at => '2026-02-02 09:00+00');
SELECT lead_process.move(1, 'sal', 'accepted', actor => 'crm:jane', at => '2026-02-02 11:00+00');
UPDATE lead_process.lead SET status = 'connected' WHERE id = 1;
SELECT lead_process.recycle(1, 'unreachable', at => '2026-02-10 00:00+00');
INSERT INTO lead_process.lead (id, stage_changed_at) VALUES (2, '2026-02-03 00:00+00');
SELECT lead_process.disqualify(2, 'junk', at => '2026-02-04 00:00+00');
SELECT e.id, e.lead_id, e.type,
	   e.payload->>'from_stage' AS from_stage, e.payload->>'to_stage' AS to_stage,
	   e.payload->>'kind' AS kind, e.payload->>'reason' AS reason,
	   e.payload->>'actor' AS actor, e.occurred_at = (e.payload->>'changed_at')::timestamptz AS dated
  FROM lead_process.event e ORDER BY e.id;
-- every history row has its event, and the reverse
SELECT count(*) AS unmatched
  FROM lead_process.stage_history h
  FULL JOIN (SELECT * FROM lead_process.event WHERE type <> 'lead_assigned') e
	    ON (e.payload->>'history_id')::bigint = h.id
 WHERE h.id IS NULL OR e.id IS NULL;
-- an error leaves no event behind
SELECT lead_process.move(1, 'customer');
SELECT count(*) AS events FROM lead_process.event;

-- consumers read in order, acknowledge, and see each event once
INSERT INTO lead_process.event_consumer (name) VALUES ('crm-sync'), ('warehouse');
SELECT id, type FROM lead_process.read_events('crm-sync', 3);
SELECT lead_process.ack_events('crm-sync', 3);
SELECT id, type FROM lead_process.read_events('crm-sync');
-- acknowledging an older event does not move the position back
SELECT lead_process.ack_events('crm-sync', 2);
SELECT name, acked_id FROM lead_process.event_consumer ORDER BY name;

-- pruning keeps what any consumer still needs
SELECT lead_process.prune_events();
SELECT lead_process.ack_events('warehouse', 2);
SELECT lead_process.prune_events();
SELECT min(id) AS oldest_kept, count(*) AS kept FROM lead_process.event;
SELECT lead_process.ack_events('crm-sync', 7), lead_process.ack_events('warehouse', 7);
SELECT lead_process.prune_events();
SELECT count(*) AS kept FROM lead_process.event;
-- new events keep coming after a prune
SELECT lead_process.move(1, 'mql', at => '2026-02-11 00:00+00');
SELECT id, type FROM lead_process.read_events('warehouse');
-- with no consumer registered, nothing is pruned
DELETE FROM lead_process.event_consumer;
SELECT lead_process.prune_events();

-- errors
SELECT * FROM lead_process.read_events('nobody');
INSERT INTO lead_process.event_consumer (name) VALUES ('warehouse');
SELECT * FROM lead_process.read_events('warehouse', 0);
SELECT lead_process.ack_events('warehouse', 999);
SELECT lead_process.ack_events('nobody', 8);
INSERT INTO lead_process.event_consumer (name, created_at) VALUES ('Bad Name', '2026-01-01');
-- event ids are always generated
INSERT INTO lead_process.event (id, lead_id, type, occurred_at, payload)
VALUES (1000, 1, 'forged', now(), '{}');

-- NOTIFY can be turned off for bulk loads; the outbox row is written anyway
SET lead_process.notify = off;
SELECT lead_process.move(1, 'sal', 'accepted', at => '2026-02-12 00:00+00');
RESET lead_process.notify;
SELECT type, payload->>'to_stage' AS to_stage FROM lead_process.event ORDER BY id DESC LIMIT 1;

-- A statement's history rows and events are written by its statement
-- trigger, once for all its rows; a statement that fails after some rows
-- (here a trigger of the application's, caught in a subtransaction) leaves
-- none of them behind, and the next statement writes only its own
INSERT INTO lead_process.lead (id, stage, stage_changed_at) VALUES
	(11, 'lead', '2026-03-01 00:00+00'), (12, 'lead', '2026-03-01 00:00+00'),
	(13, 'lead', '2026-03-01 00:00+00');
CREATE FUNCTION refuse_12() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id = 12 THEN RAISE EXCEPTION 'lead 12 is frozen'; END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER refuse_12 AFTER UPDATE ON lead_process.lead FOR EACH ROW EXECUTE FUNCTION refuse_12();
SELECT count(*) AS history_before FROM lead_process.stage_history \gset
SELECT count(*) AS events_before FROM lead_process.event \gset
DO $$
BEGIN
	BEGIN
		UPDATE lead_process.lead SET stage = 'mql' WHERE id IN (11, 12);
	EXCEPTION WHEN raise_exception THEN
		RAISE NOTICE 'caught: %', SQLERRM;
	END;
	UPDATE lead_process.lead SET stage = 'mql' WHERE id = 13;
END
$$;
SELECT id, stage FROM lead_process.lead WHERE id BETWEEN 11 AND 13 ORDER BY id;
SELECT count(*) - :history_before AS new_history,
	   (SELECT count(*) FROM lead_process.event) - :events_before AS new_events,
	   (SELECT string_agg(lead_id || ':' || to_stage, ' ') FROM lead_process.stage_history
		 WHERE lead_id BETWEEN 11 AND 13 AND from_stage IS NOT NULL) AS changes
  FROM lead_process.stage_history;
DROP TRIGGER refuse_12 ON lead_process.lead;
DROP FUNCTION refuse_12();
-- with the statement trigger that writes them disabled, a transaction
-- that changed stages cannot commit (nothing is lost silently)
ALTER TABLE lead_process.lead DISABLE TRIGGER lead_history_flush;
BEGIN;
UPDATE lead_process.lead SET stage = 'mql' WHERE id = 11;
COMMIT;
ALTER TABLE lead_process.lead ENABLE TRIGGER lead_history_flush;
SELECT stage FROM lead_process.lead WHERE id = 11;

DROP EXTENSION lead_process;
