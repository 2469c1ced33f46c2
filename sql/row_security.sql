--
-- row_security: with rep security on, a rep's database role sees and writes
-- only the rep's own leads and what belongs to them; other roles see all
--
SET client_min_messages = warning;
SET timezone = 'UTC';
SET lead_process.notify = off;
\set SHOW_CONTEXT never
CREATE EXTENSION lead_process;
CREATE ROLE regress_lp_anna;
CREATE ROLE regress_lp_ben;
CREATE ROLE regress_lp_crm;
SELECT lead_process.grant_writer(r) FROM unnest(ARRAY['regress_lp_anna', 'regress_lp_ben', 'regress_lp_crm']::regrole[]) r;

INSERT INTO lead_process.team (name) VALUES ('emea');
INSERT INTO lead_process.rep (name, team, login) VALUES
	('anna', 'emea', 'regress_lp_anna'), ('ben', 'emea', 'regress_lp_ben');
INSERT INTO lead_process.routing_rule (name, team) VALUES ('all', 'emea');
INSERT INTO lead_process.lead (id, email, stage, owner) VALUES
	(1, 'one@x.com', 'mql', 'anna'), (2, 'two@x.com', 'mql', 'ben'), (3, 'three@x.com', 'lead', NULL);
INSERT INTO lead_process.activity (lead_id, type) VALUES (1, 'page_view'), (2, 'page_view');

-- Off by default: everybody sees every lead
SELECT lead_process.rep_security_enabled();
SET ROLE regress_lp_anna;
SELECT id, owner FROM lead_process.lead ORDER BY id;
RESET ROLE;

SELECT lead_process.enable_rep_security();
SELECT lead_process.rep_security_enabled();
SELECT polrelid::regclass AS table_with_policy FROM pg_policy
 WHERE polname = 'rep_own_leads' ORDER BY 1::text;

-- A rep sees the rep's own leads and their rows only
SET ROLE regress_lp_anna;
SELECT id, owner FROM lead_process.lead ORDER BY id;
SELECT lead_id, type FROM lead_process.activity ORDER BY lead_id;
SELECT lead_id, to_stage FROM lead_process.stage_history ORDER BY lead_id;
SELECT lead_id, owner FROM lead_process.assignment ORDER BY lead_id;
SELECT DISTINCT lead_id FROM lead_process.event ORDER BY lead_id;
-- ... cannot change somebody else's lead
UPDATE lead_process.lead SET email = 'stolen@x.com' WHERE id = 2;
SELECT lead_process.move(2, 'sal');
-- ... nor add activities or contact attempts to it
INSERT INTO lead_process.activity (lead_id, type) VALUES (2, 'page_view');
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (2, 'call', 'connected');
-- routing still counts every lead (it runs as the tables' owner): ben's
-- mql is in his load although anna cannot see it
SELECT c->>'rep' AS rep, c->>'load' AS load
  FROM jsonb_array_elements(lead_process.route_preview(1) -> 'steps' -> 0 -> 'candidates') c
 ORDER BY 1;
-- ... but works the own lead
SELECT lead_process.accept(1);
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (1, 'call', 'connected');
SELECT id, stage FROM lead_process.lead;
-- giving the lead to another rep would hide it from the rep: refused (a
-- role that is not a rep, e.g. the CRM, reassigns)
UPDATE lead_process.lead SET owner = 'ben' WHERE id = 1;
RESET ROLE;

-- A role that is no rep (the CRM integration) sees everything
SET ROLE regress_lp_crm;
SELECT id, owner FROM lead_process.lead ORDER BY id;
RESET ROLE;

-- Only the owner of the tables can switch it
SET ROLE regress_lp_crm;
SELECT lead_process.enable_rep_security(false);
RESET ROLE;
SELECT lead_process.enable_rep_security(false);
SELECT lead_process.rep_security_enabled();
SET ROLE regress_lp_anna;
SELECT count(*) AS leads_seen FROM lead_process.lead;
RESET ROLE;

DROP EXTENSION lead_process;
DROP ROLE regress_lp_anna;
DROP ROLE regress_lp_ben;
DROP ROLE regress_lp_crm;
