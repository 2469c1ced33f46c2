#!/usr/bin/env bash
# Cost of the metrics (docs/metrics.md), measured in one run in a throwaway
# cluster:
#
#   LEADS=10000000 bash bench/metrics.sh        (make bench-metrics)
#   bash bench/metrics.sh [leads] [moves] [runs]
#                          defaults LEADS or 10000000, 100000, 5
#
# Run it as root or as a normal user; lead_process must already be installed
# (scripts/setup.sh or make install; this script builds nothing).  Steps:
#   1. a throwaway cluster (scripts/cluster.sh) with benchmark settings
#   2. a dataset generated set-based with session_replication_role = replica
#      (no trigger fires, as in the documented restore procedure): leads
#      spread over 2024-2025 with 8 sources, 40 campaigns, 2 lead types and
#      50 owners, and 2.0 stage changes each (3.0 history rows with the
#      creation) along nine paths (staying, rejected, rejected and
#      requalified, left in mql, disqualified, accepted, fast-tracked,
#      recycled after an opportunity, won), one contact attempt per
#      handoff; then rebuild_metrics()
#   3. each dashboard query on the views (the best of [runs] runs) and the
#      same numbers computed directly from stage_history, contact_attempt
#      and lead (one run), every row and column read; where the two return
#      the same columns, their digests must be equal ('check')
#   4. ingest: [moves] stage moves (lead -> mql, one UPDATE) with the
#      metric triggers and with them disabled, and the fold of their deltas
#
# Output lines: 'time NAME SECONDS', 'ms NAME VIEW_MS RECOMPUTE_MS',
# 'ratio NAME X', 'check NAME same|DIFFERS'; a table; progress goes to
# stderr, comments start '#'.
#   ratio views_vs_recompute X               total recompute time / total view time
#   ratio ingest_with_rollups_vs_without X   time of the moves with the metric
#                                            triggers / without (1.0 = free)
#
# Environment: LEADS, PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config),
# KEEP=1 (leave the cluster running), TMPDIR.
set -euo pipefail

usage="usage: bash bench/metrics.sh [leads] [moves] [runs]  (positive integers)"
leads=${1:-${LEADS:-10000000}}
moves=${2:-100000}
runs=${3:-5}
for v in "$leads" "$moves" "$runs"; do
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt 1 ]; then
		echo "$usage" >&2
		exit 2
	fi
done
if [ "$moves" -gt $((leads * 3 / 10)) ]; then
	echo "metrics.sh: at most 30% of the leads ($((leads * 3 / 10))) stay in stage lead to be moved" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
step() { printf '==> %s\n' "$*" >&2; }
now() { date +%s.%N; }

# 1. A throwaway cluster
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup metrics.sh lead_process_bench
settings="shared_buffers = 1GB, work_mem = 64MB, maintenance_work_mem = 512MB, max_wal_size = 8GB, synchronous_commit = off, jit = off"
lp_cluster_initdb "shared_buffers = 1GB" "work_mem = 64MB" "maintenance_work_mem = 512MB" \
	"max_wal_size = 8GB" "checkpoint_timeout = 30min" "synchronous_commit = off" "jit = off"
# shellcheck disable=SC2119
lp_cluster_start

export PGDATABASE=lead_process_bench
export PGOPTIONS='-c client_min_messages=warning -c lead_process.notify=off'
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
timed() { # NAME SQL...: run in one psql, print 'time NAME S'
	local name=$1 t0 t1
	shift
	t0=$(now)
	p "$@"
	t1=$(now)
	printf 'time %s %.3f\n' "$name" "$(echo "$t1 - $t0" | bc -l)"
}

p -d postgres -c "CREATE DATABASE lead_process_bench"
if ! err=$(p -c "CREATE EXTENSION lead_process" 2>&1); then
	echo "metrics.sh: CREATE EXTENSION lead_process failed:" >&2
	echo "$err" >&2
	exit 1
fi
version=$(p -At -c "SELECT current_setting('server_version') || ', lead_process ' || extversion FROM pg_extension WHERE extname = 'lead_process'")
echo "# bench/metrics.sh: $leads leads, $moves moves, best of $runs runs"
echo "# PostgreSQL $version; $settings"

# 2. The dataset (bench/metrics_data.sql)
step "generating $leads leads and their history (replica mode: no triggers)"
timed generate -v leads="$leads" -f "$root/bench/metrics_data.sql"
timed vacuum_analyze -c 'VACUUM ANALYZE'
history=$(p -At -c 'SELECT count(*) FROM lead_process.stage_history')
echo "# stage_history rows: $history"
step "rebuild_metrics()"
timed rebuild_metrics -At -o "$dir/facts" -c 'SELECT lead_process.rebuild_metrics()'
echo "# facts: $(cat "$dir/facts")"
p -c 'VACUUM ANALYZE lead_process.metric_rollup, lead_process.metric_lead_reach, lead_process.metric_followup'
rollup=$(p -At -c 'SELECT count(*) FROM lead_process.metric_rollup')
echo "# metric_rollup rows: $rollup"

# 3. Dashboards: view query and the same numbers from the history
step "timing dashboards, best of $runs runs"
t0=$(now)
p -v runs="$runs" <<'SQL'
-- best time of runs runs, and a digest of the rows (independent of their order)
CREATE FUNCTION pg_temp.best_ms(q text, runs int, OUT ms numeric, OUT digest numeric)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	t numeric;
BEGIN
	FOR i IN 1 .. runs LOOP
		t0 := clock_timestamp();
		-- every row and column is read
		EXECUTE format('SELECT coalesce(sum(hashtext(x::text)), 0) FROM (%s) x', q) INTO digest;
		t := extract(epoch FROM clock_timestamp() - t0) * 1000;
		ms := least(ms, t);
	END LOOP;
	ms := round(ms, 2);
END $$;
-- same: the recomputation returns the view's columns, so the two digests
-- must be equal; the others differ by design (histogram percentiles
-- against exact ones, or fewer columns)
CREATE TEMP TABLE pairs (n int, name text, same boolean, view_q text, recompute_q text);
INSERT INTO pairs VALUES
(1, 'funnel_month', true, $v$
	SELECT period_start, stage, entries, exits, stock_end FROM lead_process.metric_funnel
	 WHERE grain = 'month' AND slice = 'all'$v$, $r$
	SELECT period_start, stage, entries, exits,
		   sum(entries - exits) OVER (PARTITION BY stage ORDER BY period_start) AS stock_end
	  FROM (SELECT date_trunc('month', h.changed_at AT TIME ZONE 'UTC')::date AS period_start, s.stage,
				   count(*) FILTER (WHERE s.dir) AS entries, count(*) FILTER (WHERE NOT s.dir) AS exits
			  FROM lead_process.stage_history h
			 CROSS JOIN LATERAL (VALUES (true, h.to_stage), (false, h.from_stage)) s(dir, stage)
			 WHERE h.kind <> 'status' AND s.stage IS NOT NULL GROUP BY 1, 2) f$r$),
(2, 'funnel_week_by_owner', true, $v$
	SELECT period_start, stage, slice_value, entries, exits, stock_end FROM lead_process.metric_funnel
	 WHERE grain = 'week' AND slice = 'owner' AND slice_value = 'rep-07'$v$, $r$
	SELECT period_start, stage, 'rep-07', entries, exits,
		   sum(entries - exits) OVER (PARTITION BY stage ORDER BY period_start) AS stock_end
	  FROM (SELECT date_trunc('week', h.changed_at AT TIME ZONE 'UTC')::date AS period_start, s.stage,
				   count(*) FILTER (WHERE s.dir) AS entries, count(*) FILTER (WHERE NOT s.dir) AS exits
			  FROM (SELECT h.*, lag(h.owner) OVER (PARTITION BY h.lead_id ORDER BY h.id) AS prev_owner
					  FROM lead_process.stage_history h WHERE h.kind <> 'status') h
			 CROSS JOIN LATERAL (VALUES (true, h.to_stage, h.owner), (false, h.from_stage, h.prev_owner)) s(dir, stage, owner)
			 WHERE s.stage IS NOT NULL AND s.owner = 'rep-07' GROUP BY 1, 2) f$r$),
(3, 'lead_flow_month_by_source', true, $v$
	SELECT * FROM lead_process.metric_lead_flow WHERE grain = 'month' AND slice = 'source'$v$, $r$
	SELECT 'month', date_trunc('month', h.changed_at AT TIME ZONE 'UTC')::date, 'source', l.source,
		   count(*) FILTER (WHERE h.to_stage = 'mql'), count(*) FILTER (WHERE h.kind = 'accept'),
		   count(*) FILTER (WHERE h.kind = 'reject'), count(*) FILTER (WHERE h.from_stage = 'mql'),
		   round(count(*) FILTER (WHERE h.kind = 'accept')::numeric
				 / nullif(count(*) FILTER (WHERE h.from_stage = 'mql'), 0), 4),
		   count(*) FILTER (WHERE h.kind = 'fast-track'), count(*) FILTER (WHERE h.to_stage = 'sal'),
		   count(*) FILTER (WHERE h.to_stage = 'opportunity'), count(*) FILTER (WHERE h.to_stage = 'customer')
	  FROM lead_process.stage_history h JOIN lead_process.lead l ON l.id = h.lead_id
	 WHERE h.kind <> 'status' GROUP BY 2, 4$r$),
(4, 'cohort_mql_month', false, $v$
	SELECT * FROM lead_process.metric_conversion_cohort
	 WHERE grain = 'month' AND slice = 'all' AND from_stage = 'mql'$v$, $r$
	WITH reach AS (
		SELECT h.lead_id, s.name AS stage, s.position, min(h.changed_at) AS at
		  FROM lead_process.stage_history h
		  JOIN lead_process.stage t ON t.name = h.to_stage AND NOT (t.is_terminal AND NOT t.is_won)
		  JOIN lead_process.stage s ON s.position <= t.position AND NOT (s.is_terminal AND NOT s.is_won)
		 WHERE h.kind <> 'status' AND s.position >= 30 GROUP BY 1, 2, 3)
	SELECT date_trunc('month', x.at AT TIME ZONE 'UTC')::date, y.stage,
		   count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY y.at - x.at),
		   percentile_disc(0.9) WITHIN GROUP (ORDER BY y.at - x.at)
	  FROM reach x JOIN reach y ON y.lead_id = x.lead_id AND y.position > x.position
	 WHERE x.stage = 'mql' GROUP BY 1, 2$r$),
(5, 'revenue_quarter_by_campaign', false, $v$
	SELECT * FROM lead_process.metric_revenue WHERE grain = 'quarter' AND slice = 'campaign'$v$, $r$
	WITH q AS (
		SELECT h.lead_id, min(h.changed_at) AS at FROM lead_process.stage_history h
		 WHERE h.to_stage IN ('mql', 'sal', 'sql', 'opportunity', 'customer') GROUP BY 1)
	SELECT date_trunc('quarter', q.at AT TIME ZONE 'UTC')::date, l.campaign, count(*),
		   count(*) FILTER (WHERE l.stage = 'customer'), sum(l.amount) FILTER (WHERE l.stage = 'customer')
	  FROM q JOIN lead_process.lead l ON l.id = q.lead_id GROUP BY 1, 2$r$),
(6, 'followup_month_by_rep', false, $v$
	SELECT * FROM lead_process.metric_followup_time WHERE grain = 'month' AND slice = 'owner'$v$, $r$
	SELECT date_trunc('month', h.changed_at AT TIME ZONE 'UTC')::date, h.owner, count(*), count(a.first),
		   percentile_disc(0.5) WITHIN GROUP (ORDER BY a.first - h.changed_at),
		   percentile_disc(0.9) WITHIN GROUP (ORDER BY a.first - h.changed_at)
	  FROM (SELECT h.*, lead(h.changed_at) OVER (PARTITION BY h.lead_id ORDER BY h.id) AS next_at
			  FROM lead_process.stage_history h
			 WHERE h.kind <> 'status' AND (h.to_stage = 'mql' OR h.kind = 'fast-track')) h
	  LEFT JOIN LATERAL (SELECT min(c.occurred_at) AS first FROM lead_process.contact_attempt c
						  WHERE c.lead_id = h.lead_id AND c.rep = h.owner
							AND c.occurred_at >= h.changed_at
							AND (h.next_at IS NULL OR c.occurred_at < h.next_at)) a ON true
	 GROUP BY 1, 2$r$),
(7, 'time_in_stage_quarter', false, $v$
	SELECT * FROM lead_process.metric_time_in_stage WHERE grain = 'quarter' AND slice = 'all'$v$, $r$
	SELECT date_trunc('quarter', h.changed_at AT TIME ZONE 'UTC')::date, h.from_stage, count(*),
		   percentile_disc(0.5) WITHIN GROUP (ORDER BY h.changed_at - h.prev_at),
		   percentile_disc(0.9) WITHIN GROUP (ORDER BY h.changed_at - h.prev_at)
	  FROM (SELECT h.*, lag(h.changed_at) OVER (PARTITION BY h.lead_id ORDER BY h.id) AS prev_at
			  FROM lead_process.stage_history h WHERE h.kind <> 'status') h
	 WHERE h.from_stage IS NOT NULL GROUP BY 1, 2$r$),
(8, 'recycles_month', true, $v$
	SELECT * FROM lead_process.metric_recycles WHERE grain = 'month' AND slice = 'all'$v$, $r$
	SELECT 'month', date_trunc('month', h.changed_at AT TIME ZONE 'UTC')::date, h.from_stage, h.to_stage,
		   h.kind, h.reason, 'all', NULL::text, count(*)
	  FROM lead_process.stage_history h WHERE h.kind IN ('reject', 'recycle', 'disqualify')
	 GROUP BY 2, 3, 4, 5, 6$r$),
(9, 'conversion_period_month', true, $v$
	SELECT * FROM lead_process.metric_conversion_period WHERE grain = 'month' AND slice = 'all'$v$, $r$
	SELECT 'month', m, f, t, k, 'all', NULL::text, n, sum(n) OVER (PARTITION BY m, f),
		   round(n / sum(n) OVER (PARTITION BY m, f), 4)
	  FROM (SELECT date_trunc('month', h.changed_at AT TIME ZONE 'UTC')::date m, h.from_stage f,
				   h.to_stage t, h.kind k, count(*) n
			  FROM lead_process.stage_history h
			 WHERE h.kind <> 'status' AND h.from_stage IS NOT NULL GROUP BY 1, 2, 3, 4) x$r$);
CREATE TEMP TABLE result AS
SELECT n, name, same, (v).ms AS view_ms, (r).ms AS recompute_ms, (v).digest = (r).digest AS equal
  FROM (SELECT n, name, same, pg_temp.best_ms(view_q, :runs) AS v, pg_temp.best_ms(recompute_q, 1) AS r
		  FROM pairs OFFSET 0) x
 ORDER BY n;
\pset format unaligned
\pset tuples_only on
SELECT format('ms %s %s %s', name, view_ms, recompute_ms) FROM result ORDER BY n;
SELECT format('ratio views_vs_recompute %s', round(sum(recompute_ms) / sum(view_ms), 1)) FROM result;
SELECT format('time slowest_view_ms %s', max(view_ms)) FROM result;
SELECT format('check %s %s', name, CASE WHEN equal THEN 'same' ELSE 'DIFFERS' END)
  FROM result WHERE same ORDER BY n;
SELECT format('check views_equal_recompute %s/%s', count(*) FILTER (WHERE equal), count(*))
  FROM result WHERE same;
\pset format aligned
\pset tuples_only off
SELECT name AS dashboard, view_ms, recompute_ms, round(recompute_ms / view_ms, 1) AS ratio
  FROM result ORDER BY n;
SQL
printf 'time dashboards %.3f\n' "$(echo "$(now) - $t0" | bc -l)"

# 4. Ingest: the same moves with and without the metric triggers
step "ingest: $moves moves with the metric triggers, $moves without"
p -c 'CHECKPOINT'
timed moves_with_rollups -c "UPDATE lead_process.lead SET stage = 'mql', stage_changed_at = '2026-01-01 00:00+00'
	WHERE id IN (SELECT id FROM lead_process.lead WHERE stage = 'lead' AND id % 100 < 30 ORDER BY id LIMIT $moves)" | tee "$dir/with"
timed fold_moves -c 'SELECT lead_process.fold_metrics()'
p -c 'ALTER TABLE lead_process.stage_history DISABLE TRIGGER metric_facts' -c 'CHECKPOINT'
timed moves_without_rollups -c "UPDATE lead_process.lead SET stage = 'mql', stage_changed_at = '2026-01-01 00:00+00'
	WHERE id IN (SELECT id FROM lead_process.lead WHERE stage = 'lead' AND id % 100 < 30 ORDER BY id LIMIT $moves)" | tee "$dir/without"
p -c 'ALTER TABLE lead_process.stage_history ENABLE TRIGGER metric_facts'
with=$(awk '{print $3}' "$dir/with")
without=$(awk '{print $3}' "$dir/without")
printf 'ratio ingest_with_rollups_vs_without %.2f\n' "$(echo "$with / $without" | bc -l)"
