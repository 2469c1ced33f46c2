/*
 * sample/report.sql
 *	  A terminal report of a database loaded with lead_process data (for
 *	  example by sample/generate.sql):
 *
 *	psql -X -f sample/report.sql
 *
 * Funnel (stage entries and the current stock per stage, from the view
 * metric_funnel), conversion rates, stage outcomes with median and
 * p90 time in stage, recycles and disqualifications by reason and stage, top
 * owners, and one invalid transition attempt caught with its SQLSTATE,
 * message, DETAIL and HINT (the attempt is rolled back).  Reads only, apart
 * from that refused UPDATE; plain psql and SQL, no extra tables.
 */
\set ON_ERROR_STOP on
\set QUIET on
\encoding UTF8
\pset footer off
\pset null ''
SET TimeZone = 'UTC';

SELECT (SELECT count(*) FROM lead_process.lead) AS r_leads,
	   (SELECT count(*) FROM lead_process.activity) AS r_activities,
	   (SELECT count(*) FROM lead_process.stage_history WHERE from_stage IS NOT NULL) AS r_changes,
	   (SELECT coalesce(to_char(min(changed_at), 'YYYY-MM-DD') || ' .. ' || to_char(max(changed_at), 'YYYY-MM-DD'), 'no history')
		  FROM lead_process.stage_history) AS r_period \gset
\echo
\echo 'lead_process report:' :r_leads 'leads,' :r_activities 'activities,' :r_changes 'stage changes,' :r_period
\echo

\echo '1. Funnel (view metric_funnel): stage entries over the whole period (bar), and leads in the stage now'
WITH q AS (
	-- quarters, no slicing: entries summed, the stock of the last quarter
	SELECT stage, sum(entries) AS entries,
		   (array_agg(stock_end ORDER BY period_start DESC))[1] AS now
	  FROM lead_process.metric_funnel
	 WHERE grain = 'quarter' AND slice = 'all'
	 GROUP BY stage
), f AS (
	SELECT s.position, s.name, coalesce(q.entries, 0) AS entries, coalesce(q.now, 0) AS now,
		   -- bar length in eighths of a cell, 40 cells for the widest
		   floor(320.0 * coalesce(q.entries, 0) / greatest(1, max(q.entries) OVER ()))::int AS e
	  FROM lead_process.stage s
	  LEFT JOIN q ON q.stage = s.name
)
SELECT name AS stage, entries,
	   rpad(repeat('█', e / 8) || CASE WHEN e % 8 > 0 THEN substr('▏▎▍▌▋▊▉', e % 8, 1) ELSE '' END, 40)
	   || to_char(100.0 * entries / greatest(1, max(entries) OVER ()), '990.0') || '%' AS "entries (share of the largest)",
	   now AS "in it now"
  FROM f
 ORDER BY position;

\echo '2. Conversion: of the leads that reached a stage, how many later reached the next'
WITH firsts AS (
	SELECT lead_id, to_stage, min(changed_at) AS at
	  FROM lead_process.stage_history
	 WHERE kind <> 'status'
	 GROUP BY lead_id, to_stage
), pairs (ord, from_stage, to_stage, typical) AS (
	VALUES (1, 'subscriber', 'lead', 'most'), (2, 'lead', 'mql', '25-35%'),
		   (3, 'mql', 'sal', '45-60%'), (4, 'sal', 'sql', '50-60%'),
		   (5, 'sql', 'opportunity', '50-65%'), (6, 'opportunity', 'customer', '20-30%'),
		   (7, 'mql', 'customer', '2-7%'), (8, 'lead', 'customer', '0.5-2.5%')
)
SELECT p.from_stage || ' → ' || p.to_stage AS step,
	   count(a.lead_id) AS "from",
	   count(b.lead_id) AS "to",
	   round(100.0 * count(b.lead_id) / nullif(count(a.lead_id), 0), 1) AS "rate %",
	   p.typical AS "target"
  FROM pairs p
  LEFT JOIN firsts a ON a.to_stage = p.from_stage
  LEFT JOIN firsts b ON b.lead_id = a.lead_id AND b.to_stage = p.to_stage AND b.at > a.at
 GROUP BY p.ord, p.from_stage, p.to_stage, p.typical
 ORDER BY p.ord;

\echo '3. Stage outcomes per entry, and time in stage until the lead left it'
WITH h AS (
	SELECT to_stage AS stage, changed_at,
		   lead(kind) OVER w AS next_kind,
		   lead(changed_at) OVER w - changed_at AS stay
	  FROM lead_process.stage_history
	 WHERE kind <> 'status'
	WINDOW w AS (PARTITION BY lead_id ORDER BY changed_at, id)
), o AS (
	SELECT stage, count(*) AS entries,
		   count(*) FILTER (WHERE next_kind IN ('advance', 'accept', 'fast-track', 'win')) AS fwd,
		   count(*) FILTER (WHERE next_kind IN ('reject', 'recycle')) AS back,
		   count(*) FILTER (WHERE next_kind = 'disqualify') AS disq,
		   count(*) FILTER (WHERE next_kind IS NULL) AS stay_n,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stay)) AS p50,
		   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM stay)) AS p90
	  FROM h
	 GROUP BY stage
)
SELECT s.name AS stage, o.entries,
	   round(100.0 * o.fwd / o.entries, 1) AS "forward %",
	   round(100.0 * o.back / o.entries, 1) AS "back to lead %",
	   round(100.0 * o.disq / o.entries, 1) AS "disqualified %",
	   round(100.0 * o.stay_n / o.entries, 1) AS "still there %",
	   CASE WHEN o.p50 IS NULL THEN '' WHEN o.p50 < 172800 THEN to_char(o.p50 / 3600, '990.0') || ' h'
			ELSE to_char(o.p50 / 86400, '990.0') || ' d' END AS "median stay",
	   CASE WHEN o.p90 IS NULL THEN '' WHEN o.p90 < 172800 THEN to_char(o.p90 / 3600, '990.0') || ' h'
			ELSE to_char(o.p90 / 86400, '990.0') || ' d' END AS "p90 stay"
  FROM lead_process.stage s
  JOIN o ON o.stage = s.name
 WHERE NOT s.is_terminal
 ORDER BY s.position;

\echo '4. Recycles, rejections and disqualifications by reason and from-stage'
SELECT h.kind, h.reason,
	   count(*) FILTER (WHERE h.from_stage = 'subscriber') AS subscriber,
	   count(*) FILTER (WHERE h.from_stage = 'lead') AS lead,
	   count(*) FILTER (WHERE h.from_stage = 'mql') AS mql,
	   count(*) FILTER (WHERE h.from_stage = 'sal') AS sal,
	   count(*) FILTER (WHERE h.from_stage = 'sql') AS sql,
	   count(*) FILTER (WHERE h.from_stage = 'opportunity') AS opportunity,
	   count(*) AS total
  FROM lead_process.stage_history h
 WHERE h.kind IN ('reject', 'recycle', 'disqualify')
 GROUP BY h.kind, h.reason
 ORDER BY h.kind DESC, total DESC, h.reason;

\echo '5. Top owners by sales-accepted leads (rejections count for the owner who rejected)'
WITH h AS (
	SELECT kind, to_stage, owner, lag(owner) OVER w AS prev_owner
	  FROM lead_process.stage_history
	 WHERE kind <> 'status'
	WINDOW w AS (PARTITION BY lead_id ORDER BY changed_at, id)
), r AS (
	SELECT coalesce(CASE WHEN kind IN ('reject', 'recycle') THEN prev_owner ELSE owner END, '') AS rep,
		   count(*) FILTER (WHERE to_stage = 'mql') AS handoffs,
		   count(*) FILTER (WHERE kind = 'accept') AS accepted,
		   count(*) FILTER (WHERE kind = 'fast-track') AS fast_tracked,
		   count(*) FILTER (WHERE kind = 'reject') AS rejected,
		   count(*) FILTER (WHERE to_stage = 'opportunity') AS opportunities,
		   count(*) FILTER (WHERE kind = 'win') AS won
	  FROM h
	 GROUP BY 1
)
SELECT rep AS owner, handoffs AS "mql handoffs", accepted + fast_tracked AS "sales-accepted",
	   fast_tracked AS "of which fast-track", rejected,
	   round(100.0 * accepted / nullif(accepted + rejected, 0), 1) AS "accept %",
	   opportunities, won
  FROM r
 WHERE rep <> ''
 ORDER BY accepted + fast_tracked DESC, rep
 LIMIT 8;

\echo '6. An invalid transition, refused by lead_process (and rolled back)'
DO $$
DECLARE
	v_id bigint;
	v_stage text;
	v_state text;
	v_msg text;
	v_detail text;
	v_hint text;
BEGIN
	SELECT id, stage INTO v_id, v_stage
	  FROM lead_process.lead
	 WHERE stage = 'lead'
	 ORDER BY id
	 LIMIT 1;
	IF v_id IS NULL THEN
		SELECT id, stage INTO v_id, v_stage FROM lead_process.lead ORDER BY id LIMIT 1;
	END IF;
	BEGIN
		UPDATE lead_process.lead SET stage = 'customer' WHERE id = v_id;
		RAISE EXCEPTION 'the invalid transition was accepted';	-- undo it
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
								v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
	END;
	PERFORM set_config('lp_report.attempt',
					   format('UPDATE lead_process.lead SET stage = ''customer'' WHERE id = %s;  -- now in %s',
							  coalesce(v_id::text, 'NULL'), coalesce(v_stage, 'no lead')), false);
	PERFORM set_config('lp_report.sqlstate', coalesce(v_state, ''), false);
	PERFORM set_config('lp_report.message', coalesce(v_msg, ''), false);
	PERFORM set_config('lp_report.detail', coalesce(v_detail, ''), false);
	PERFORM set_config('lp_report.hint', coalesce(v_hint, ''), false);
END
$$;
\x on
SELECT current_setting('lp_report.attempt') AS attempt,
	   current_setting('lp_report.sqlstate') AS "SQLSTATE",
	   current_setting('lp_report.message') AS "ERROR",
	   current_setting('lp_report.detail') AS "DETAIL",
	   current_setting('lp_report.hint') AS "HINT";
\x off
