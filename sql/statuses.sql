--
-- statuses: the validated status catalog inside each stage
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

-- each stage has exactly one default status
SELECT s.name, count(st.*) FILTER (WHERE st.is_default) AS defaults
  FROM lead_process.stage s LEFT JOIN lead_process.stage_status st ON st.stage = s.name
 GROUP BY s.name, s.position ORDER BY s.position;
-- a second default is refused
INSERT INTO lead_process.stage_status (stage, status, position, is_default, description)
VALUES ('lead', 'hot', 9, true, 'A second default');

-- entering a stage sets its default status, or the edge's status
INSERT INTO lead_process.lead (id, stage) VALUES (1, 'sql');
SELECT stage, status FROM lead_process.lead WHERE id = 1;
SELECT lead_process.move(1, 'opportunity');
SELECT stage, status FROM lead_process.lead WHERE id = 1;

-- moving inside a stage: the opportunity sub-statuses, each recorded
UPDATE lead_process.lead SET status = 'quote-in-development' WHERE id = 1;
UPDATE lead_process.lead SET status = 'quote-current' WHERE id = 1;
UPDATE lead_process.lead SET status = 'on-hold' WHERE id = 1;
UPDATE lead_process.lead SET status = 'on-hold' WHERE id = 1;		-- unchanged: nothing recorded
SELECT from_stage, to_stage, from_status, to_status, kind, cause
  FROM lead_process.stage_history WHERE lead_id = 1 ORDER BY id;

-- a status set in the same UPDATE as the stage is used and validated, even
-- when it equals the old one; a status the UPDATE does not set is replaced
-- by the new stage's default
INSERT INTO lead_process.lead (id, stage) VALUES (2, 'mql');
UPDATE lead_process.lead SET stage = 'sal', status = 'attempting-contact' WHERE id = 2;
SELECT stage, status FROM lead_process.lead WHERE id = 2;
UPDATE lead_process.lead SET stage = 'sql', status = 'attempting-contact' WHERE id = 2;
UPDATE lead_process.lead SET stage = 'sql' WHERE id = 2;
SELECT stage, status FROM lead_process.lead WHERE id = 2;
INSERT INTO lead_process.lead (id, stage, status) VALUES (5, 'lead', 'working');
UPDATE lead_process.lead SET stage = 'mql', status = 'working' WHERE id = 5;
SELECT stage, status FROM lead_process.lead WHERE id = 5;

-- a status of another stage, or an unknown one, is refused
UPDATE lead_process.lead SET status = 'quote-current' WHERE id = 2;
UPDATE lead_process.lead SET status = 'bogus' WHERE id = 2;
INSERT INTO lead_process.lead (id, stage, status) VALUES (3, 'lead', 'closed-won');
-- a NULL status is refused by the column's NOT NULL constraint
\set VERBOSITY terse
UPDATE lead_process.lead SET status = NULL WHERE id = 2;
\set VERBOSITY default

-- recycling lands in the edge's status (recycled)
INSERT INTO lead_process.lead (id, stage) VALUES (4, 'sal');
SELECT lead_process.recycle(4, 'returned-not-ready');
SELECT stage, status FROM lead_process.lead WHERE id = 4;
-- marketing can then work the recycled lead
UPDATE lead_process.lead SET status = 'nurturing' WHERE id = 4;
SELECT to_stage, from_status, to_status, kind FROM lead_process.stage_history WHERE lead_id = 4 ORDER BY id;

-- new statuses are usable at once
INSERT INTO lead_process.stage_status (stage, status, position, description)
VALUES ('opportunity', 'negotiation', 5, 'Terms under negotiation');
UPDATE lead_process.lead SET status = 'negotiation' WHERE id = 1;
SELECT stage, status FROM lead_process.lead WHERE id = 1;
-- a status in use cannot be deleted
DELETE FROM lead_process.stage_status WHERE stage = 'opportunity' AND status = 'negotiation';

-- the snapshot view
SELECT stage, status, leads FROM lead_process.stage_counts WHERE leads > 0;

DROP EXTENSION lead_process;
