--
-- privileges: the admin, writer and reader levels granted by helper functions
--
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;
CREATE ROLE regress_lp_admin;
CREATE ROLE regress_lp_writer;
CREATE ROLE regress_lp_reader;
CREATE ROLE regress_lp_nobody;
SELECT lead_process.grant_admin('regress_lp_admin');
SELECT lead_process.grant_writer('regress_lp_writer');
SELECT lead_process.grant_reader('regress_lp_reader');
INSERT INTO lead_process.lead (id, stage) VALUES (1, 'mql');

-- what each level may do with each table
SELECT r.rolname, c.relname,
	   concat_ws(',', CASE WHEN has_table_privilege(r.oid, c.oid, 'SELECT') THEN 'select' END,
					  CASE WHEN has_table_privilege(r.oid, c.oid, 'INSERT') THEN 'insert' END,
					  CASE WHEN has_table_privilege(r.oid, c.oid, 'UPDATE') THEN 'update' END,
					  CASE WHEN has_table_privilege(r.oid, c.oid, 'DELETE') THEN 'delete' END,
					  CASE WHEN has_table_privilege(r.oid, c.oid, 'TRUNCATE') THEN 'truncate' END) AS privileges
  FROM pg_roles r, pg_class c
 WHERE r.rolname LIKE 'regress_lp_%' AND c.relnamespace = 'lead_process'::regnamespace
   AND c.relkind IN ('r', 'v')
 ORDER BY c.relname, r.rolname;
-- and with each function
SELECT p.oid::regprocedure AS function,
	   string_agg(r.rolname, ', ' ORDER BY r.rolname) FILTER (WHERE has_function_privilege(r.oid, p.oid, 'EXECUTE')) AS executable_by
  FROM pg_proc p, pg_roles r
 WHERE p.pronamespace = 'lead_process'::regnamespace AND r.rolname LIKE 'regress_lp_%'
 GROUP BY p.oid ORDER BY p.oid::regprocedure::text;

-- the reader reads and changes nothing
SET ROLE regress_lp_reader;
SELECT id, stage FROM lead_process.lead;
SELECT count(*) > 0 AS sees_history FROM lead_process.stage_history;
INSERT INTO lead_process.lead (id) VALUES (2);
UPDATE lead_process.lead SET stage = 'sal' WHERE id = 1;
SELECT lead_process.move(1, 'sal');
RESET ROLE;

-- the writer (a CRM integration) writes leads and moves them; the history
-- names it, although it cannot write the history itself
SET ROLE regress_lp_writer;
INSERT INTO lead_process.lead (id, email) VALUES (2, 'bo@example.com');
INSERT INTO lead_process.activity (lead_id, type) VALUES (2, 'page_view');
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (1, 'call', 'no-answer');
SELECT lead_process.move(1, 'sal');
UPDATE lead_process.lead SET stage = 'lead', stage_reason = 'unreachable' WHERE id = 1;
SELECT lead_process.disqualify(2, 'junk');
SELECT lead_id, from_stage, to_stage,
	   CASE WHEN changed_by = session_user THEN '(the superuser)' ELSE changed_by END AS changed_by
  FROM lead_process.stage_history ORDER BY id;
INSERT INTO lead_process.stage_history (lead_id, to_stage, to_status, kind, cause, changed_at, changed_by, score)
VALUES (1, 'customer', 'closed-won', 'win', 'manual', now(), 'forged', 0);
UPDATE lead_process.stage_history SET reason = 'x';
DELETE FROM lead_process.stage_history;
DELETE FROM lead_process.lead WHERE id = 1;
INSERT INTO lead_process.transition (from_stage, to_stage, kind) VALUES ('lead', 'customer', 'win');
UPDATE lead_process.stage SET definition = 'anything' WHERE name = 'mql';
RESET ROLE;

-- the admin configures the process and may delete leads (with their history),
-- but may not rewrite history (the append-only trigger stops even the owner)
SET ROLE regress_lp_admin;
INSERT INTO lead_process.reason (code, kind, description) VALUES ('no-budget', 'recycle', 'No budget');
UPDATE lead_process.stage SET definition = 'Qualified by marketing' WHERE name = 'mql';
UPDATE lead_process.stage_history SET reason = 'x';
DELETE FROM lead_process.lead WHERE id = 2;
SELECT count(*) AS history_of_lead_2 FROM lead_process.stage_history WHERE lead_id = 2;
SELECT lead_process.grant_reader('regress_lp_nobody');
RESET ROLE;

-- a role with no level cannot even see the schema
SET ROLE regress_lp_nobody;
SELECT count(*) FROM lead_process.lead;
SELECT lead_process.move(1, 'mql');
RESET ROLE;

-- revoke_all takes a level away again
SELECT lead_process.revoke_all('regress_lp_writer');
SET ROLE regress_lp_writer;
SELECT count(*) FROM lead_process.lead;
RESET ROLE;

-- the helpers refuse unknown roles
SELECT lead_process.grant_reader('regress_lp_missing');

SELECT lead_process.revoke_all('regress_lp_admin');
SELECT lead_process.revoke_all('regress_lp_reader');
DROP EXTENSION lead_process;
DROP ROLE regress_lp_admin, regress_lp_writer, regress_lp_reader, regress_lp_nobody;
