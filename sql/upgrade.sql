--
-- upgrade: installing the first release and updating to the current version
-- gives the same objects as a fresh install of the current version
--
SET client_min_messages = warning;
SET timezone = 'UTC';
-- the helpers below name objects that exist only once the extension does
SET check_function_bodies = off;

-- a catalog fingerprint of everything the extension owns
CREATE FUNCTION pg_temp.fingerprint() RETURNS TABLE (kind text, object text, definition text)
LANGUAGE sql AS $$
	SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid), NULL
	  FROM pg_depend d
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_process')
	UNION ALL
	SELECT 'column', c.relname || '.' || a.attname,
		   format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		   || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
		   || coalesce(' identity ' || nullif(a.attidentity::text, ''), '')
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'constraint', conrelid::regclass::text || ' ' || conname, pg_get_constraintdef(oid)
	  FROM pg_constraint WHERE connamespace = 'lead_process'::regnamespace
	UNION ALL
	SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'lead_process'::regnamespace
	UNION ALL
	SELECT 'trigger', tgrelid::regclass::text || ' ' || tgname, pg_get_triggerdef(oid)
	  FROM pg_trigger WHERE NOT tgisinternal
	   AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'lead_process'::regnamespace)
	UNION ALL
	SELECT 'function', p.oid::regprocedure::text,
		   CASE WHEN p.prokind = 'a'	-- pg_get_functiondef() refuses aggregates
				THEN (SELECT g.aggtransfn || ' ' || g.aggfinalfn || ' ' || g.aggtranstype::regtype
						FROM pg_aggregate g WHERE g.aggfnoid = p.oid)
				ELSE md5(pg_get_functiondef(p.oid)) END
		   || ' ' || coalesce(array_to_string(p.proacl, ','), '')
	  FROM pg_proc p WHERE p.pronamespace = 'lead_process'::regnamespace
	UNION ALL
	SELECT 'view', c.oid::regclass::text, md5(pg_get_viewdef(c.oid))
	  FROM pg_class c WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind = 'v'
	UNION ALL
	SELECT 'comment', pg_describe_object(ds.classoid, ds.objoid, ds.objsubid), md5(ds.description)
	  FROM pg_description ds
	 WHERE (ds.classoid = 'pg_class'::regclass AND ds.objoid IN
			(SELECT oid FROM pg_class WHERE relnamespace = 'lead_process'::regnamespace))
		OR (ds.classoid = 'pg_proc'::regclass AND ds.objoid IN
			(SELECT oid FROM pg_proc WHERE pronamespace = 'lead_process'::regnamespace))
		OR (ds.classoid = 'pg_trigger'::regclass AND ds.objoid IN
			(SELECT oid FROM pg_trigger WHERE tgrelid IN
			 (SELECT oid FROM pg_class WHERE relnamespace = 'lead_process'::regnamespace)))
	UNION ALL
	SELECT 'config', c::regclass::text, NULL
	  FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'lead_process'
$$;
-- the oldest version we still update from
CREATE EXTENSION lead_process VERSION '1.0';
-- the seeded process
CREATE FUNCTION pg_temp.seeds() RETURNS TABLE (row_text text)
LANGUAGE sql AS $$
	SELECT 'stage ' || s::text FROM lead_process.stage s
	UNION ALL SELECT 'status ' || s::text FROM lead_process.stage_status s
	UNION ALL SELECT 'transition ' || t::text FROM lead_process.transition t
	UNION ALL SELECT 'reason ' || r::text FROM lead_process.reason r
$$;

-- data made at the old version must survive the update
INSERT INTO lead_process.lead (id, stage, stage_changed_at) VALUES (1, 'mql', '2026-01-01 00:00+00');
SELECT lead_process.move(1, 'sal', at => '2026-01-02 00:00+00');
ALTER EXTENSION lead_process UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'lead_process')
	   AS at_default_version
  FROM pg_extension WHERE extname = 'lead_process';
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.fingerprint();
CREATE TEMP TABLE updated_seeds AS SELECT * FROM pg_temp.seeds();
-- the data still behaves
SELECT lead_process.move(1, 'sql', at => '2026-01-03 00:00+00');
SELECT lead_id, from_stage, to_stage, kind, changed_at FROM lead_process.stage_history ORDER BY id;
DROP EXTENSION lead_process;

CREATE EXTENSION lead_process;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.fingerprint();
CREATE TEMP TABLE fresh_seeds AS SELECT * FROM pg_temp.seeds();
SELECT count(*) > 50 AS fingerprint_is_not_empty FROM fresh;

-- differences between the updated and the fresh install: none
(SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
UNION ALL
(SELECT 'only in fresh', * FROM fresh EXCEPT SELECT 'only in fresh', * FROM updated)
ORDER BY 1, 2, 3;
(SELECT 'only after update' AS side, * FROM updated_seeds EXCEPT SELECT 'only after update', * FROM fresh_seeds)
UNION ALL
(SELECT 'only in fresh', * FROM fresh_seeds EXCEPT SELECT 'only in fresh', * FROM updated_seeds)
ORDER BY 1, 2;

DROP EXTENSION lead_process;
