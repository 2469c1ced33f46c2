/* sql/lead_process--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lead_process" to load this file. \quit

/*
 * The control file names pg_catalog as the extension schema and this script
 * creates schema lead_process itself: if somebody created that schema before
 * us, CREATE SCHEMA fails and the install stops instead of handing them our
 * objects.  Every name below is schema-qualified and every operator that
 * could be hijacked is written OPERATOR(pg_catalog.x).
 */
CREATE SCHEMA lead_process;
REVOKE ALL ON SCHEMA lead_process FROM PUBLIC;
COMMENT ON SCHEMA lead_process IS
	'lead_process: lead stages, scoring, handoff, recycling and SLAs enforced in the database';

/* ------------------------------------------------------------------------
 * Process configuration
 * ------------------------------------------------------------------------ */

CREATE TABLE lead_process.stage (
	name        text PRIMARY KEY
		CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,62}$'),
	position    integer NOT NULL UNIQUE,
	owner       text NOT NULL CHECK (owner IN ('marketing', 'sales')),
	definition  text NOT NULL CHECK (pg_catalog.length(definition) OPERATOR(pg_catalog.>) 0),
	is_terminal boolean NOT NULL DEFAULT false,
	is_won      boolean NOT NULL DEFAULT false,
	CHECK (NOT is_won OR is_terminal)
);
COMMENT ON TABLE lead_process.stage IS
	'Stage catalog: the funnel stages a lead moves through, in funnel order, each with an owning team and a written definition';
COMMENT ON COLUMN lead_process.stage.name IS 'Stage name (lowercase identifier), e.g. mql';
COMMENT ON COLUMN lead_process.stage.position IS 'Funnel position; lower comes first. A lead inserted without a stage starts in the non-terminal stage with the lowest position';
COMMENT ON COLUMN lead_process.stage.owner IS 'Team that owns leads in this stage: marketing or sales';
COMMENT ON COLUMN lead_process.stage.definition IS 'The written definition both teams agreed on';
COMMENT ON COLUMN lead_process.stage.is_terminal IS 'True when no transition may leave this stage (customer, disqualified)';
COMMENT ON COLUMN lead_process.stage.is_won IS 'True for the closed-won stage (customer)';

CREATE TABLE lead_process.stage_status (
	stage       text NOT NULL REFERENCES lead_process.stage (name) ON DELETE CASCADE,
	status      text NOT NULL
		CHECK (status OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,62}$'),
	position    integer NOT NULL,
	is_default  boolean NOT NULL DEFAULT false,
	description text NOT NULL,
	PRIMARY KEY (stage, status),
	UNIQUE (stage, position)
);
CREATE UNIQUE INDEX stage_status_one_default
	ON lead_process.stage_status (stage) WHERE is_default;
COMMENT ON TABLE lead_process.stage_status IS
	'Statuses inside a stage (lead: new, working, nurturing, recycled; opportunity: meeting-booked, quote-in-development ...); exactly one default per stage';
COMMENT ON COLUMN lead_process.stage_status.stage IS 'Stage the status belongs to';
COMMENT ON COLUMN lead_process.stage_status.status IS 'Status name (lowercase identifier)';
COMMENT ON COLUMN lead_process.stage_status.position IS 'Display order inside the stage';
COMMENT ON COLUMN lead_process.stage_status.is_default IS 'Status a lead gets on entering the stage when none is given';
COMMENT ON COLUMN lead_process.stage_status.description IS 'What the status means';
COMMENT ON INDEX lead_process.stage_status_one_default IS 'At most one default status per stage';

CREATE TABLE lead_process.transition (
	from_stage  text NOT NULL REFERENCES lead_process.stage (name) ON DELETE CASCADE,
	to_stage    text NOT NULL REFERENCES lead_process.stage (name) ON DELETE CASCADE,
	kind        text NOT NULL CHECK (kind IN ('advance', 'fast-track', 'accept', 'reject',
										  'recycle', 'disqualify', 'win', 'reopen')),
	to_status   text,
	description text,
	PRIMARY KEY (from_stage, to_stage),
	CHECK (from_stage OPERATOR(pg_catalog.<>) to_stage),
	FOREIGN KEY (to_stage, to_status) REFERENCES lead_process.stage_status (stage, status)
);
COMMENT ON TABLE lead_process.transition IS
	'Allowed-transition graph: a lead may move from_stage -> to_stage only along a row of this table; kind says what the edge means';
COMMENT ON COLUMN lead_process.transition.from_stage IS 'Stage the lead leaves';
COMMENT ON COLUMN lead_process.transition.to_stage IS 'Stage the lead enters';
COMMENT ON COLUMN lead_process.transition.kind IS
	'advance, fast-track, accept, reject, recycle, disqualify, win or reopen; reject, recycle and disqualify need a reason from lead_process.reason';
COMMENT ON COLUMN lead_process.transition.to_status IS 'Status set on entering to_stage along this edge (NULL: the stage''s default status)';
COMMENT ON COLUMN lead_process.transition.description IS 'Free-text note on the edge';

CREATE TABLE lead_process.reason (
	code        text PRIMARY KEY
		CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_-]{0,62}$'),
	kind        text NOT NULL CHECK (kind IN ('recycle', 'disqualify')),
	description text NOT NULL
);
COMMENT ON TABLE lead_process.reason IS
	'Reasons accepted for recycle/reject transitions (kind recycle) and disqualify transitions (kind disqualify); extend with INSERT';
COMMENT ON COLUMN lead_process.reason.code IS 'Reason code given to recycle(), disqualify(), move() or lead.stage_reason';
COMMENT ON COLUMN lead_process.reason.kind IS 'recycle (also used by reject edges) or disqualify';
COMMENT ON COLUMN lead_process.reason.description IS 'What the reason means';

/* ------------------------------------------------------------------------
 * Leads and what happens to them
 * ------------------------------------------------------------------------ */

CREATE TABLE lead_process.lead (
	id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	email            text,
	first_name       text,
	last_name        text,
	company          text,
	job_title        text,
	country          text,
	industry         text,
	employees        integer CHECK (employees OPERATOR(pg_catalog.>=) 0),
	annual_revenue   numeric CHECK (annual_revenue OPERATOR(pg_catalog.>=) 0),
	source           text,
	campaign         text,
	lead_type        text NOT NULL DEFAULT 'new-business',
	properties       jsonb NOT NULL DEFAULT '{}',
	stage            text NOT NULL REFERENCES lead_process.stage (name),
	status           text NOT NULL,
	stage_reason     text,
	owner            text,
	score            integer NOT NULL DEFAULT 0,
	stage_changed_at timestamptz NOT NULL,
	recycle_count    integer NOT NULL DEFAULT 0,
	last_recycled_at timestamptz,
	created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
	FOREIGN KEY (stage, status) REFERENCES lead_process.stage_status (stage, status)
);
CREATE INDEX lead_stage_idx ON lead_process.lead (stage, status);
CREATE INDEX lead_owner_idx ON lead_process.lead (owner) WHERE owner IS NOT NULL;
COMMENT ON TABLE lead_process.lead IS
	'Leads. INSERT and UPDATE freely; a change of stage (UPDATE or move()) is validated against lead_process.transition and recorded in lead_process.stage_history';
COMMENT ON COLUMN lead_process.lead.id IS 'Lead id; give your CRM''s id or let the identity assign one';
COMMENT ON COLUMN lead_process.lead.email IS 'Contact email';
COMMENT ON COLUMN lead_process.lead.first_name IS 'Contact first name';
COMMENT ON COLUMN lead_process.lead.last_name IS 'Contact last name';
COMMENT ON COLUMN lead_process.lead.company IS 'Company name';
COMMENT ON COLUMN lead_process.lead.job_title IS 'Job title';
COMMENT ON COLUMN lead_process.lead.country IS 'Country (ISO 3166-1 alpha-2 recommended)';
COMMENT ON COLUMN lead_process.lead.industry IS 'Industry';
COMMENT ON COLUMN lead_process.lead.employees IS 'Company size in employees';
COMMENT ON COLUMN lead_process.lead.annual_revenue IS 'Company annual revenue';
COMMENT ON COLUMN lead_process.lead.source IS 'Lead source (web, event, paid-search ...)';
COMMENT ON COLUMN lead_process.lead.campaign IS 'Campaign that produced the lead';
COMMENT ON COLUMN lead_process.lead.lead_type IS 'Lead type (new-business, existing-customer, a product line ...)';
COMMENT ON COLUMN lead_process.lead.properties IS 'Custom attributes';
COMMENT ON COLUMN lead_process.lead.stage IS 'Current stage; changing it is a validated, recorded transition';
COMMENT ON COLUMN lead_process.lead.status IS 'Status inside the stage (lead_process.stage_status); reset to the new stage''s default on a stage change unless given';
COMMENT ON COLUMN lead_process.lead.stage_reason IS 'Reason of the latest stage change; set it in the same UPDATE that changes stage (required for reject, recycle and disqualify)';
COMMENT ON COLUMN lead_process.lead.owner IS 'Owning rep or queue';
COMMENT ON COLUMN lead_process.lead.score IS 'Lead score';
COMMENT ON COLUMN lead_process.lead.stage_changed_at IS 'When the lead entered its current stage; maintained by lead_process (may be set explicitly in the UPDATE that changes stage, to backdate an import)';
COMMENT ON COLUMN lead_process.lead.recycle_count IS 'How many times the lead was recycled or rejected; maintained by lead_process';
COMMENT ON COLUMN lead_process.lead.last_recycled_at IS 'When the lead was last recycled or rejected; maintained by lead_process';
COMMENT ON COLUMN lead_process.lead.created_at IS 'When the lead was created';
COMMENT ON INDEX lead_process.lead_stage_idx IS 'Leads by stage and status';
COMMENT ON INDEX lead_process.lead_owner_idx IS 'Leads by owner';

CREATE TABLE lead_process.activity (
	id          bigint GENERATED BY DEFAULT AS IDENTITY,
	lead_id     bigint NOT NULL REFERENCES lead_process.lead (id) ON DELETE CASCADE,
	type        text NOT NULL CHECK (pg_catalog.length(type) OPERATOR(pg_catalog.>) 0),
	occurred_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	properties  jsonb,
	PRIMARY KEY (lead_id, id)
);
COMMENT ON TABLE lead_process.activity IS
	'Marketing activities of a lead (page_view, email_open, form_submit, demo_request ...)';
COMMENT ON COLUMN lead_process.activity.id IS 'Activity id';
COMMENT ON COLUMN lead_process.activity.lead_id IS 'Lead the activity belongs to';
COMMENT ON COLUMN lead_process.activity.type IS 'Activity type';
COMMENT ON COLUMN lead_process.activity.occurred_at IS 'When the activity happened';
COMMENT ON COLUMN lead_process.activity.properties IS 'Activity properties, e.g. {"url": "/pricing"}';

CREATE TABLE lead_process.contact_attempt (
	id          bigint GENERATED BY DEFAULT AS IDENTITY,
	lead_id     bigint NOT NULL REFERENCES lead_process.lead (id) ON DELETE CASCADE,
	occurred_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	channel     text NOT NULL CHECK (channel IN ('call', 'email', 'meeting', 'social', 'sms')),
	outcome     text NOT NULL CHECK (outcome IN ('connected', 'no-answer', 'voicemail',
											 'bounced', 'replied', 'sent')),
	rep         text,
	notes       text,
	PRIMARY KEY (lead_id, id)
);
COMMENT ON TABLE lead_process.contact_attempt IS
	'Sales contact attempts on a lead (call, email, meeting ...), inserted by the CRM';
COMMENT ON COLUMN lead_process.contact_attempt.id IS 'Contact attempt id';
COMMENT ON COLUMN lead_process.contact_attempt.lead_id IS 'Lead contacted';
COMMENT ON COLUMN lead_process.contact_attempt.occurred_at IS 'When the attempt happened';
COMMENT ON COLUMN lead_process.contact_attempt.channel IS 'call, email, meeting, social or sms';
COMMENT ON COLUMN lead_process.contact_attempt.outcome IS 'connected, no-answer, voicemail, bounced, replied or sent';
COMMENT ON COLUMN lead_process.contact_attempt.rep IS 'Rep who made the attempt';
COMMENT ON COLUMN lead_process.contact_attempt.notes IS 'Free-text notes';

CREATE TABLE lead_process.stage_history (
	id          bigint GENERATED ALWAYS AS IDENTITY,
	lead_id     bigint NOT NULL REFERENCES lead_process.lead (id) ON DELETE CASCADE,
	from_stage  text,
	to_stage    text NOT NULL,
	from_status text,
	to_status   text NOT NULL,
	kind        text NOT NULL,
	cause       text NOT NULL,
	reason      text,
	changed_at  timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	changed_by  text NOT NULL,
	actor       text,
	owner       text,
	score       integer NOT NULL,
	details     jsonb,
	PRIMARY KEY (lead_id, id)
);
CREATE INDEX stage_history_changed_at_idx ON lead_process.stage_history (changed_at);
COMMENT ON TABLE lead_process.stage_history IS
	'Append-only record of every stage change of every lead, written by lead_process in the same transaction as the change';
COMMENT ON COLUMN lead_process.stage_history.id IS 'History row id, increasing in recording order';
COMMENT ON COLUMN lead_process.stage_history.lead_id IS 'Lead that changed stage';
COMMENT ON COLUMN lead_process.stage_history.from_stage IS 'Stage left (NULL for the row that records the lead''s creation)';
COMMENT ON COLUMN lead_process.stage_history.to_stage IS 'Stage entered';
COMMENT ON COLUMN lead_process.stage_history.from_status IS 'Status before the change';
COMMENT ON COLUMN lead_process.stage_history.to_status IS 'Status after the change';
COMMENT ON COLUMN lead_process.stage_history.kind IS 'Kind of the transition edge taken, or create for the initial stage';
COMMENT ON COLUMN lead_process.stage_history.cause IS 'What caused it: insert, update (a direct UPDATE of lead.stage), manual (move, recycle, disqualify)';
COMMENT ON COLUMN lead_process.stage_history.reason IS 'Reason code (reject, recycle, disqualify) or free-text note';
COMMENT ON COLUMN lead_process.stage_history.changed_at IS 'When the change took effect (the transaction time unless backdated)';
COMMENT ON COLUMN lead_process.stage_history.recorded_at IS 'When the row was written (transaction time)';
COMMENT ON COLUMN lead_process.stage_history.changed_by IS 'Database role that made the change';
COMMENT ON COLUMN lead_process.stage_history.actor IS 'Application user named by the caller (move(actor => ...) or SET lead_process.actor)';
COMMENT ON COLUMN lead_process.stage_history.owner IS 'Lead owner after the change';
COMMENT ON COLUMN lead_process.stage_history.score IS 'Lead score at the change';
COMMENT ON COLUMN lead_process.stage_history.details IS 'Structured details of the change (reserved for score breakdowns and rule ids)';
COMMENT ON INDEX lead_process.stage_history_changed_at_idx IS 'History by time, for metrics';

COMMENT ON INDEX lead_process.stage_pkey IS 'Stages by name';
COMMENT ON INDEX lead_process.stage_position_key IS 'One stage per funnel position';
COMMENT ON INDEX lead_process.stage_status_pkey IS 'Statuses by stage and name';
COMMENT ON INDEX lead_process.stage_status_stage_position_key IS 'One status per display position inside a stage';
COMMENT ON INDEX lead_process.transition_pkey IS 'One edge per pair of stages';
COMMENT ON INDEX lead_process.reason_pkey IS 'Reasons by code';
COMMENT ON INDEX lead_process.lead_pkey IS 'Leads by id';
COMMENT ON INDEX lead_process.activity_pkey IS 'Activities by lead (lead_id first, for co-location on lead_id)';
COMMENT ON INDEX lead_process.contact_attempt_pkey IS 'Contact attempts by lead (lead_id first, for co-location on lead_id)';
COMMENT ON INDEX lead_process.stage_history_pkey IS 'History by lead in recording order (lead_id first, for co-location on lead_id)';

COMMENT ON SEQUENCE lead_process.lead_id_seq IS 'Identity of lead.id';
COMMENT ON SEQUENCE lead_process.activity_id_seq IS 'Identity of activity.id';
COMMENT ON SEQUENCE lead_process.contact_attempt_id_seq IS 'Identity of contact_attempt.id';
COMMENT ON SEQUENCE lead_process.stage_history_id_seq IS 'Identity of stage_history.id';

/* ------------------------------------------------------------------------
 * C functions and triggers
 * ------------------------------------------------------------------------ */

CREATE FUNCTION lead_process.lead_stage_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'lp_lead_stage_trigger';
COMMENT ON FUNCTION lead_process.lead_stage_trigger() IS
	'BEFORE ROW trigger on lead: validates stage and status changes against the process and stamps the maintained columns';

CREATE FUNCTION lead_process.lead_history_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'lp_lead_history_trigger';
COMMENT ON FUNCTION lead_process.lead_history_trigger() IS
	'AFTER ROW trigger on lead: records each stage or status change in stage_history';

CREATE FUNCTION lead_process.history_guard_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'lp_history_guard_trigger';
COMMENT ON FUNCTION lead_process.history_guard_trigger() IS
	'BEFORE UPDATE trigger on stage_history: history rows are never rewritten';

CREATE FUNCTION lead_process.config_changed_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'lp_config_changed_trigger';
COMMENT ON FUNCTION lead_process.config_changed_trigger() IS
	'AFTER STATEMENT trigger on configuration tables: invalidates the process cache of every session at commit';

CREATE TRIGGER lead_stage_insert
	BEFORE INSERT ON lead_process.lead
	FOR EACH ROW EXECUTE FUNCTION lead_process.lead_stage_trigger();
CREATE TRIGGER lead_stage_update
	BEFORE UPDATE ON lead_process.lead
	FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage
		  OR OLD.status IS DISTINCT FROM NEW.status
		  OR OLD.stage_changed_at IS DISTINCT FROM NEW.stage_changed_at
		  OR OLD.recycle_count IS DISTINCT FROM NEW.recycle_count
		  OR OLD.last_recycled_at IS DISTINCT FROM NEW.last_recycled_at
		  OR OLD.id IS DISTINCT FROM NEW.id)
	EXECUTE FUNCTION lead_process.lead_stage_trigger();
CREATE TRIGGER lead_history_insert
	AFTER INSERT ON lead_process.lead
	FOR EACH ROW EXECUTE FUNCTION lead_process.lead_history_trigger();
CREATE TRIGGER lead_history_update
	AFTER UPDATE ON lead_process.lead
	FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage
		  OR OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION lead_process.lead_history_trigger();
COMMENT ON TRIGGER lead_stage_insert ON lead_process.lead IS
	'Fills in and validates the initial stage and status';
COMMENT ON TRIGGER lead_stage_update ON lead_process.lead IS
	'Validates stage and status changes; skipped by updates that leave them alone';
COMMENT ON TRIGGER lead_history_insert ON lead_process.lead IS
	'Records the initial stage in stage_history';
COMMENT ON TRIGGER lead_history_update ON lead_process.lead IS
	'Records stage and status changes in stage_history';

CREATE TRIGGER history_append_only
	BEFORE UPDATE ON lead_process.stage_history
	FOR EACH ROW EXECUTE FUNCTION lead_process.history_guard_trigger();
COMMENT ON TRIGGER history_append_only ON lead_process.stage_history IS
	'Refuses updates of history rows';

CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON lead_process.stage FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.config_changed_trigger();
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON lead_process.stage_status FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.config_changed_trigger();
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON lead_process.transition FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.config_changed_trigger();
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON lead_process.reason FOR EACH STATEMENT
	EXECUTE FUNCTION lead_process.config_changed_trigger();
COMMENT ON TRIGGER config_changed ON lead_process.stage IS 'Invalidates the process cache';
COMMENT ON TRIGGER config_changed ON lead_process.stage_status IS 'Invalidates the process cache';
COMMENT ON TRIGGER config_changed ON lead_process.transition IS 'Invalidates the process cache';
COMMENT ON TRIGGER config_changed ON lead_process.reason IS 'Invalidates the process cache';

CREATE FUNCTION lead_process.move(lead_id bigint, to_stage text, reason text DEFAULT NULL,
								  actor text DEFAULT NULL, at timestamptz DEFAULT NULL)
	RETURNS boolean
	LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'lp_move';
COMMENT ON FUNCTION lead_process.move(bigint, text, text, text, timestamptz) IS
	'Moves a lead to a stage along the transition graph and records it; returns false when the lead is already there. reason is required for reject, recycle and disqualify edges; at backdates the change (default: transaction time)';

CREATE FUNCTION lead_process.recycle(lead_id bigint, reason text,
									 actor text DEFAULT NULL, at timestamptz DEFAULT NULL)
	RETURNS text
	LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'lp_recycle';
COMMENT ON FUNCTION lead_process.recycle(bigint, text, text, timestamptz) IS
	'Recycles a lead back to marketing along its stage''s recycle (or reject) edge with a reason from lead_process.reason; returns the stage entered';

CREATE FUNCTION lead_process.disqualify(lead_id bigint, reason text,
										actor text DEFAULT NULL, at timestamptz DEFAULT NULL)
	RETURNS text
	LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'lp_disqualify';
COMMENT ON FUNCTION lead_process.disqualify(bigint, text, text, timestamptz) IS
	'Disqualifies a lead along its stage''s disqualify edge with a reason from lead_process.reason; returns the stage entered';

CREATE FUNCTION lead_process.allowed_transitions(lead_id bigint)
	RETURNS TABLE (to_stage text, kind text, needs_reason boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT t.to_stage, t.kind, t.kind IN ('reject', 'recycle', 'disqualify')
		  FROM lead_process.lead l
		  JOIN lead_process.transition t ON t.from_stage OPERATOR(pg_catalog.=) l.stage
		  JOIN lead_process.stage s ON s.name OPERATOR(pg_catalog.=) t.to_stage
		 WHERE l.id OPERATOR(pg_catalog.=) allowed_transitions.lead_id
		 ORDER BY s.position;
	END;
COMMENT ON FUNCTION lead_process.allowed_transitions(bigint) IS
	'Stages the lead may move to from its current stage, with the edge kind and whether a reason is required';

/* ------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------ */

CREATE VIEW lead_process.stage_graph WITH (security_invoker = true) AS
SELECT s.position, s.name AS stage, s.owner, s.is_terminal, s.is_won, s.definition,
	   pg_catalog.array_agg(t.to_stage || ' (' || t.kind || ')' ORDER BY ts.position)
		   FILTER (WHERE t.to_stage IS NOT NULL) AS allowed_targets
  FROM lead_process.stage s
  LEFT JOIN lead_process.transition t ON t.from_stage OPERATOR(pg_catalog.=) s.name
  LEFT JOIN lead_process.stage ts ON ts.name OPERATOR(pg_catalog.=) t.to_stage
 GROUP BY s.position, s.name, s.owner, s.is_terminal, s.is_won, s.definition
 ORDER BY s.position;
COMMENT ON VIEW lead_process.stage_graph IS 'The configured process: stages in funnel order with their allowed targets';
COMMENT ON COLUMN lead_process.stage_graph.position IS 'Funnel position';
COMMENT ON COLUMN lead_process.stage_graph.stage IS 'Stage name';
COMMENT ON COLUMN lead_process.stage_graph.owner IS 'Owning team';
COMMENT ON COLUMN lead_process.stage_graph.is_terminal IS 'No transition leaves it';
COMMENT ON COLUMN lead_process.stage_graph.is_won IS 'Closed-won stage';
COMMENT ON COLUMN lead_process.stage_graph.definition IS 'Written definition';
COMMENT ON COLUMN lead_process.stage_graph.allowed_targets IS 'Allowed target stages with the edge kind';

CREATE VIEW lead_process.stage_counts WITH (security_invoker = true) AS
SELECT s.position, s.name AS stage, s.owner, st.status,
	   pg_catalog.count(l.id) AS leads
  FROM lead_process.stage s
  JOIN lead_process.stage_status st ON st.stage OPERATOR(pg_catalog.=) s.name
  LEFT JOIN lead_process.lead l
	ON l.stage OPERATOR(pg_catalog.=) st.stage AND l.status OPERATOR(pg_catalog.=) st.status
 GROUP BY s.position, s.name, s.owner, st.status, st.position
 ORDER BY s.position, st.position;
COMMENT ON VIEW lead_process.stage_counts IS 'Current number of leads per stage and status (a snapshot; it scans lead)';
COMMENT ON COLUMN lead_process.stage_counts.position IS 'Funnel position of the stage';
COMMENT ON COLUMN lead_process.stage_counts.stage IS 'Stage name';
COMMENT ON COLUMN lead_process.stage_counts.owner IS 'Owning team';
COMMENT ON COLUMN lead_process.stage_counts.status IS 'Status inside the stage';
COMMENT ON COLUMN lead_process.stage_counts.leads IS 'Leads currently in that stage and status';

/* ------------------------------------------------------------------------
 * Privileges: admin, writer, reader
 * ------------------------------------------------------------------------ */

CREATE FUNCTION lead_process.grant_reader(role regrole) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('GRANT USAGE ON SCHEMA lead_process TO %s', role);
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA lead_process TO %s', role);
	EXECUTE format('GRANT EXECUTE ON FUNCTION lead_process.allowed_transitions(bigint) TO %s', role);
END
$$;
COMMENT ON FUNCTION lead_process.grant_reader(regrole) IS
	'Grants the reader level (BI tools): read the schema''s tables and views, change nothing';

CREATE FUNCTION lead_process.grant_writer(role regrole) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM lead_process.grant_reader(role);
	EXECUTE format('GRANT INSERT, UPDATE ON lead_process.lead, lead_process.activity, '
				   'lead_process.contact_attempt TO %s', role);
	EXECUTE format('GRANT EXECUTE ON FUNCTION lead_process.move(bigint, text, text, text, timestamptz), '
				   'lead_process.recycle(bigint, text, text, timestamptz), '
				   'lead_process.disqualify(bigint, text, text, timestamptz) TO %s', role);
END
$$;
COMMENT ON FUNCTION lead_process.grant_writer(regrole) IS
	'Grants the writer level (CRM integrations): reader plus INSERT/UPDATE of leads, activities and contact attempts, and move/recycle/disqualify';

CREATE FUNCTION lead_process.grant_admin(role regrole) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM lead_process.grant_writer(role);
	EXECUTE format('GRANT INSERT, UPDATE, DELETE ON lead_process.stage, lead_process.stage_status, '
				   'lead_process.transition, lead_process.reason TO %s', role);
	EXECUTE format('GRANT DELETE ON lead_process.lead, lead_process.activity, '
				   'lead_process.contact_attempt, lead_process.stage_history TO %s', role);
END
$$;
COMMENT ON FUNCTION lead_process.grant_admin(regrole) IS
	'Grants the admin level (DBA, process owner): writer plus editing the process configuration and deleting leads and their history';

CREATE FUNCTION lead_process.revoke_all(role regrole) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA lead_process FROM %s', role);
	EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lead_process FROM %s', role);
	EXECUTE format('REVOKE ALL ON SCHEMA lead_process FROM %s', role);
END
$$;
COMMENT ON FUNCTION lead_process.revoke_all(regrole) IS
	'Removes every lead_process privilege granted to the role';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lead_process FROM PUBLIC;

/* ------------------------------------------------------------------------
 * The default process (SPEC: one plan shared by sales and marketing)
 *
 * Not seeded when the session runs with session_replication_role = replica:
 * that is how a dump is restored (docs/install.md), and the dump carries the
 * configuration as it was, including changes and deletions of these rows.
 * ------------------------------------------------------------------------ */

INSERT INTO lead_process.stage (name, position, owner, definition, is_terminal, is_won)
SELECT * FROM (VALUES
	('subscriber',   10, 'marketing', 'Opted in to content (newsletter, blog) but has not shown buying interest yet.', false, false),
	('lead',         20, 'marketing', 'Known contact who engaged with marketing beyond subscribing; nurtured by marketing.', false, false),
	('mql',          30, 'marketing', 'Marketing-qualified lead: meets the score threshold and has the required profile fields (email, company, job title); handed to sales.', false, false),
	('sal',          40, 'sales',     'Sales-accepted lead: a rep accepted the lead and owns the follow-up.', false, false),
	('sql',          50, 'sales',     'Sales-qualified lead: the rep confirmed need, budget, authority or timing in a conversation.', false, false),
	('opportunity',  60, 'sales',     'A deal is open: meeting booked or a quote in progress.', false, false),
	('customer',     70, 'sales',     'Closed won.', true, true),
	('disqualified', 80, 'marketing', 'Junk: not a real or reachable buyer (spam, competitor, student, duplicate).', true, false)
) AS seed (name, position, owner, definition, is_terminal, is_won)
WHERE pg_catalog.current_setting('session_replication_role') OPERATOR(pg_catalog.<>) 'replica';

INSERT INTO lead_process.stage_status (stage, status, position, is_default, description)
SELECT * FROM (VALUES
	('subscriber',   'active',               1, true,  'Receives content'),
	('subscriber',   'unsubscribed',         2, false, 'Opted out of content'),
	('lead',         'new',                  1, true,  'Not yet worked by marketing'),
	('lead',         'working',              2, false, 'In an active marketing program'),
	('lead',         'nurturing',            3, false, 'In a long-term nurture track'),
	('lead',         'recycled',             4, false, 'Returned by sales; nurtured until it requalifies'),
	('mql',          'new',                  1, true,  'Handed to sales, awaiting acceptance'),
	('mql',          'working',              2, false, 'A rep is reviewing the lead'),
	('sal',          'new',                  1, true,  'Accepted, not yet contacted'),
	('sal',          'attempting-contact',   2, false, 'The rep is trying to reach the lead'),
	('sal',          'connected',            3, false, 'The rep reached the lead'),
	('sql',          'new',                  1, true,  'Qualified, next step not yet booked'),
	('sql',          'meeting-booked',       2, false, 'A discovery or demo meeting is booked'),
	('opportunity',  'meeting-booked',       1, true,  'Deal opened, meeting booked'),
	('opportunity',  'quote-in-development', 2, false, 'Quote being prepared'),
	('opportunity',  'quote-current',        3, false, 'Quote sent and valid'),
	('opportunity',  'on-hold',              4, false, 'Deal paused by the buyer'),
	('customer',     'closed-won',           1, true,  'Deal won'),
	('disqualified', 'closed',               1, true,  'Removed from the funnel')
) AS seed (stage, status, position, is_default, description)
WHERE pg_catalog.current_setting('session_replication_role') OPERATOR(pg_catalog.<>) 'replica';

INSERT INTO lead_process.transition (from_stage, to_stage, kind, to_status, description)
SELECT * FROM (VALUES
	('subscriber',  'lead',         'advance',    NULL,       'Shows interest beyond subscribing'),
	('subscriber',  'mql',          'advance',    NULL,       'Qualifies directly on score and profile'),
	('subscriber',  'sal',          'fast-track', NULL,       'Demo request or free-trial start'),
	('lead',        'mql',          'advance',    NULL,       'Meets the mql definition: handoff to sales'),
	('lead',        'sal',          'fast-track', NULL,       'Demo request or free-trial start'),
	('mql',         'sal',          'accept',     NULL,       'Sales accepts the handoff'),
	('mql',         'lead',         'reject',     'recycled', 'Sales rejects the handoff; back to marketing with a reason'),
	('sal',         'sql',          'advance',    NULL,       'Qualified in conversation'),
	('sal',         'lead',         'recycle',    'recycled', 'Back to marketing for nurturing'),
	('sql',         'opportunity',  'advance',    NULL,       'Deal opened'),
	('sql',         'lead',         'recycle',    'recycled', 'Back to marketing for nurturing'),
	('opportunity', 'customer',     'win',        NULL,       'Closed won'),
	('opportunity', 'lead',         'recycle',    'recycled', 'Closed lost or stalled: back to marketing'),
	('subscriber',  'disqualified', 'disqualify', NULL,       'Junk'),
	('lead',        'disqualified', 'disqualify', NULL,       'Junk'),
	('mql',         'disqualified', 'disqualify', NULL,       'Junk'),
	('sal',         'disqualified', 'disqualify', NULL,       'Junk'),
	('sql',         'disqualified', 'disqualify', NULL,       'Junk')
) AS seed (from_stage, to_stage, kind, to_status, description)
WHERE pg_catalog.current_setting('session_replication_role') OPERATOR(pg_catalog.<>) 'replica';

INSERT INTO lead_process.reason (code, kind, description)
SELECT * FROM (VALUES
	('returned-not-ready', 'recycle',    'Real interest but no buying intent yet; nurture'),
	('unreachable',        'recycle',    'Could not be reached after the required attempts'),
	('closed-lost',        'recycle',    'Opportunity lost; nurture for a later cycle'),
	('sla-breach',         'recycle',    'Not followed up within the SLA'),
	('stale',              'recycle',    'No activity or contact for too long in the stage'),
	('rejected',           'recycle',    'Sales rejected the handoff'),
	('junk',               'disqualify', 'Spam, fake or test data'),
	('duplicate',          'disqualify', 'Duplicate of another lead'),
	('competitor',         'disqualify', 'Works for a competitor'),
	('not-a-fit',          'disqualify', 'Outside the target market for good (student, job seeker, wrong country)'),
	('too-many-recycles',  'disqualify', 'Recycled too often without converting')
) AS seed (code, kind, description)
WHERE pg_catalog.current_setting('session_replication_role') OPERATOR(pg_catalog.<>) 'replica';

/*
 * Configuration and data are customer data: pg_dump dumps all of it, with
 * the identity sequences.  Restore with session_replication_role = replica,
 * so that CREATE EXTENSION does not seed a second default process and no
 * trigger fires on the restored rows (docs/install.md).
 */
SELECT pg_catalog.pg_extension_config_dump('lead_process.stage', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.stage_status', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.transition', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.reason', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.lead', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.activity', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.contact_attempt', '');
SELECT pg_catalog.pg_extension_config_dump('lead_process.stage_history', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('lead_process.lead', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('lead_process.activity', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('lead_process.contact_attempt', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('lead_process.stage_history', 'id')::pg_catalog.regclass, '');
