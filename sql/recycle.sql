--
-- recycle: reject, recycle and disqualify with reasons from the catalog
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;

INSERT INTO lead_process.lead (id, stage, stage_changed_at)
SELECT g, s, '2026-01-01 00:00+00'
  FROM (VALUES (1, 'mql'), (2, 'sal'), (3, 'sql'), (4, 'opportunity'), (5, 'lead'),
			   (6, 'customer'), (7, 'subscriber')) v(g, s);

-- sales rejects an mql: the reject edge, counted as a recycle
SELECT lead_process.recycle(1, 'rejected', at => '2026-01-02 00:00+00');
-- sal, sql and opportunity go back to lead with a reason
SELECT lead_process.recycle(2, 'unreachable', at => '2026-01-03 00:00+00');
SELECT lead_process.recycle(3, 'returned-not-ready', at => '2026-01-04 00:00+00');
SELECT lead_process.recycle(4, 'closed-lost', at => '2026-01-05 00:00+00');
SELECT id, stage, status, stage_reason, recycle_count, last_recycled_at
  FROM lead_process.lead WHERE id <= 4 ORDER BY id;
SELECT lead_id, from_stage, to_stage, kind, cause, reason
  FROM lead_process.stage_history WHERE from_stage IS NOT NULL ORDER BY id;

-- the same through a plain UPDATE: the reason goes in stage_reason
SELECT lead_process.move(2, 'mql'), lead_process.move(2, 'sal');
UPDATE lead_process.lead SET stage = 'lead', stage_reason = 'stale' WHERE id = 2;
SELECT stage, status, stage_reason, recycle_count FROM lead_process.lead WHERE id = 2;

-- the reason is read from the UPDATE's SET list: repeating the previous
-- reason is a reason
SELECT lead_process.move(2, 'mql'), lead_process.move(2, 'sal');
UPDATE lead_process.lead SET stage = 'lead', stage_reason = 'stale' WHERE id = 2;
SELECT stage, stage_reason, recycle_count FROM lead_process.lead WHERE id = 2;

-- a recycle needs a reason, of the recycle kind
SELECT lead_process.move(2, 'mql'), lead_process.move(2, 'sal');
SELECT lead_process.recycle(2, NULL);
UPDATE lead_process.lead SET stage = 'lead' WHERE id = 2;
SELECT lead_process.recycle(2, 'no-budget');
SELECT lead_process.recycle(2, 'junk');
SELECT stage, recycle_count FROM lead_process.lead WHERE id = 2;

-- the catalog is extensible: a new reason works at once
INSERT INTO lead_process.reason (code, kind, description)
VALUES ('no-budget', 'recycle', 'No budget this fiscal year');
SELECT lead_process.recycle(2, 'no-budget');
SELECT stage, stage_reason, recycle_count FROM lead_process.lead WHERE id = 2;

-- stages without a recycle edge cannot be recycled
SELECT lead_process.recycle(5, 'stale');
SELECT lead_process.recycle(6, 'closed-lost');

-- disqualify: any non-terminal stage except opportunity, with a disqualify reason
SELECT lead_process.disqualify(5, 'duplicate');
SELECT lead_process.disqualify(7, 'stale');
SELECT lead_process.disqualify(7, NULL);
SELECT lead_process.disqualify(7, 'competitor');
SELECT lead_process.disqualify(4, 'junk');
INSERT INTO lead_process.lead (id, stage) VALUES (9, 'opportunity');
SELECT lead_process.disqualify(9, 'junk');
SELECT lead_process.disqualify(6, 'junk');
SELECT lead_id, from_stage, to_stage, to_status, kind, reason
  FROM lead_process.stage_history WHERE kind = 'disqualify' ORDER BY id;

-- with two recycle targets, recycle() asks the caller to choose
INSERT INTO lead_process.stage_status (stage, status, position, is_default, description)
VALUES ('subscriber', 'recycled', 3, false, 'Returned to the newsletter');
INSERT INTO lead_process.transition (from_stage, to_stage, kind, to_status)
VALUES ('sal', 'subscriber', 'recycle', 'recycled');
INSERT INTO lead_process.lead (id, stage) VALUES (8, 'sal');
SELECT lead_process.recycle(8, 'unreachable');
SELECT lead_process.move(8, 'subscriber', 'unreachable');
SELECT stage, status, recycle_count FROM lead_process.lead WHERE id = 8;

-- unknown leads
SELECT lead_process.recycle(999, 'stale');
SELECT lead_process.disqualify(999, 'junk');

DROP EXTENSION lead_process;
