--
-- install: CREATE EXTENSION, the seeded default process, a safe install
--
SET client_min_messages = warning;
SET timezone = 'UTC';

CREATE EXTENSION lead_process;

-- the default process of SPEC.md, in funnel order
SELECT position, stage, owner, is_terminal, is_won, allowed_targets
  FROM lead_process.stage_graph;

SELECT st.stage, string_agg(st.status || CASE WHEN st.is_default THEN '*' ELSE '' END, ', '
							ORDER BY st.position) AS statuses
  FROM lead_process.stage_status st
  JOIN lead_process.stage s ON s.name = st.stage
 GROUP BY st.stage, s.position ORDER BY s.position;

SELECT kind, string_agg(code, ', ' ORDER BY code) FROM lead_process.reason GROUP BY kind ORDER BY kind;

-- the extension owns its schema; every object lives in it
SELECT e.extname, n.nspname AS control_schema, e.extversion, e.extrelocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'lead_process';
SELECT count(*) AS objects_outside_schema
  FROM pg_depend d
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_process')
   AND c.relnamespace <> 'lead_process'::regnamespace;

-- configuration tables are dumped by pg_dump
SELECT c::regclass AS dumped FROM pg_extension e, unnest(e.extconfig) c
 WHERE e.extname = 'lead_process' ORDER BY 1;

-- nothing is granted to PUBLIC
SELECT count(*) AS public_table_grants
  FROM information_schema.role_table_grants
 WHERE table_schema = 'lead_process' AND grantee = 'PUBLIC';
SELECT count(*) AS public_functions
  FROM pg_proc p
 WHERE p.pronamespace = 'lead_process'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE');

DROP EXTENSION lead_process;
SELECT count(*) AS schema_left FROM pg_namespace WHERE nspname = 'lead_process';

-- a schema somebody created before us makes the install fail
CREATE SCHEMA lead_process;
CREATE EXTENSION lead_process;
DROP SCHEMA lead_process;

-- the extension schema is fixed
CREATE EXTENSION lead_process SCHEMA public;

-- restoring a dump (session_replication_role = replica, docs/install.md):
-- the default process is not seeded, the dump brings the configuration
SET session_replication_role = replica;
CREATE EXTENSION lead_process;
SELECT (SELECT count(*) FROM lead_process.stage) AS stages,
	   (SELECT count(*) FROM lead_process.transition) AS transitions;
DROP EXTENSION lead_process;
RESET session_replication_role;

-- installing after the failures works, and reinstalling is refused
CREATE EXTENSION lead_process;
CREATE EXTENSION lead_process;
DROP EXTENSION lead_process;
