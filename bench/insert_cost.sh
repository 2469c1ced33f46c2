#!/usr/bin/env bash
# Server-side CPU cost of one single-row activity INSERT transaction, and of
# scoring it later with score_pending(), measured in one run in a throwaway
# cluster:
#
#   bash bench/insert_cost.sh [transactions] [rounds]    defaults 50000 3
#
# Why: the pgbench figures of bench/scoring.sh include a client round trip
# and a WAL flush per transaction, and vary with the load of a shared
# machine; this loop runs the INSERTs inside the server (a procedure that
# commits after each one, synchronous_commit = off, the same skewed lead
# draw as pgbench), so what it times is the work of the INSERT and its
# commit.  Tables, as in bench/scoring.sh: bare (no index, no trigger), fk
# (only the foreign key), ours_deferred (lead_process.activity with
# lead_process.defer_scoring on), ours (lead_process.activity, scored in
# the statement).  The tables are visited in turn, [rounds] times; each
# line is one visit.  After each ours_deferred visit the activities it
# queued are scored by one score_pending() call, timed per activity
# (score_pending_per_activity: a fold of a single-row stream, about one
# activity per lead).
#
# Output: 'us_per_tx NAME ROUND X', 'us_per_activity score_pending ROUND X',
# then medians ('median NAME X') and 'extra_over_bare NAME X' (median minus
# bare's median, in us).  Progress goes to stderr.
#
# lead_process must be installed; PEER_DIR, PG_CONFIG, KEEP=1 as for
# bench/scoring.sh.
set -euo pipefail

usage="usage: bash bench/insert_cost.sh [transactions] [rounds]  (positive integers)"
n=${1:-50000}
rounds=${2:-3}
for v in "$n" "$rounds"; do
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt 1 ]; then
		echo "$usage" >&2
		exit 2
	fi
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peer=${PEER_DIR:-$root/../shared/peer}
rules=$root/bench/scoring_rules.sql
for f in schema.sql generate.sql; do
	if [ ! -f "$peer/$f" ]; then
		echo "insert_cost.sh: the PL/pgSQL reference is missing: $peer/$f not found (set PEER_DIR)" >&2
		exit 1
	fi
done

# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup insert_cost.sh lead_process_bench
lp_cluster_initdb "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "jit = off"
# shellcheck disable=SC2119
lp_cluster_start

export PGDATABASE=lead_process_bench
export PGOPTIONS='-c client_min_messages=warning -c lead_process.notify=off -c synchronous_commit=off'
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s%N; }

p -d postgres -c "CREATE DATABASE lead_process_bench"
p -c "CREATE EXTENSION lead_process"
lp_step "100,000 leads (the peer's generator), the rules of bench/scoring_rules.sql"
p -f "$peer/schema.sql"
p -v leads=100000 -v activities=1000 -f "$peer/generate.sql"
p -c 'CREATE TABLE peer.activity_fk (LIKE peer.activity_bare INCLUDING DEFAULTS, FOREIGN KEY (lead_id) REFERENCES peer.lead (id))'
p -c "
INSERT INTO lead_process.lead (id, email, company, job_title, country, industry, employees,
                               stage, stage_changed_at, created_at)
SELECT id, email, company, job_title, country, industry, employees,
       'lead', timestamptz '2026-01-01 00:00+00', timestamptz '2026-01-01 00:00+00'
  FROM peer.lead ORDER BY id"
p -f "$rules"
p -c 'VACUUM ANALYZE'

# One procedure per table: static INSERTs (a plan cached as pgbench -M
# prepared would), lead = 1 + 100000 * u^2 as in bench/scoring.sh.
for t in bare:peer.activity_bare fk:peer.activity_fk ours:lead_process.activity; do
	p -c "CREATE PROCEDURE public.ins_${t%%:*}(n integer) LANGUAGE plpgsql AS \$\$
DECLARE
	u float8;
BEGIN
	FOR i IN 1..n LOOP
		u := random();
		INSERT INTO ${t#*:} (lead_id, type, occurred_at, properties)
		VALUES (1 + floor(u * u * 100000)::bigint, 'page_view', now(), '{\"url\": \"/pricing\"}');
		COMMIT;
	END LOOP;
END \$\$"
done

declare -A R
run() { # NAME PROCEDURE ROUND [extra PGOPTIONS]
	local t0 t1
	t0=$(now)
	PGOPTIONS="$PGOPTIONS ${4:-}" p -c "CALL public.ins_$2($n)"
	t1=$(now)
	R[$1,$3]=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / 1000 / n }')
	echo "us_per_tx $1 $3 ${R[$1,$3]}"
}

echo "# bench/insert_cost.sh: $n transactions per visit, $rounds rounds, synchronous_commit = off"
for r in $(seq 1 "$rounds"); do
	lp_step "round $r"
	run bare bare "$r"
	run fk fk "$r"
	run ours_deferred ours "$r" "-c lead_process.defer_scoring=on"
	t0=$(now)
	scored=$(p -At -c 'SELECT lead_process.score_pending()')
	t1=$(now)
	R[score_pending,$r]=$(awk -v a="$t0" -v b="$t1" -v n="$scored" 'BEGIN { printf "%.2f", (b - a) / 1000 / n }')
	echo "us_per_activity score_pending $r ${R[score_pending,$r]}"
	run ours ours "$r"
done

median() { # NAME
	local r
	for r in $(seq 1 "$rounds"); do echo "${R[$1,$r]}"; done | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mb=$(median bare)
for k in bare fk ours_deferred score_pending ours; do
	m=$(median "$k")
	echo "median $k $m"
	[ "$k" = bare ] || [ "$k" = score_pending ] ||
		awk -v k="$k" -v m="$m" -v b="$mb" 'BEGIN { printf "extra_over_bare %s %.2f\n", k, m - b }'
done
