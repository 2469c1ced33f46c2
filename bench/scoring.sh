#!/usr/bin/env bash
# Cost of activity scoring, against the hand-written PL/pgSQL reference
# ("peer"), measured in one run in a throwaway cluster:
#
#   bash bench/scoring.sh [leads] [activities] [clients] [seconds]
#                                        defaults 100000 1000000 8 30
#
# Run it as root or as a normal user; lead_process must already be installed
# (scripts/setup.sh or make install; this script builds nothing).  Steps:
#   1. a throwaway cluster in a fresh temporary directory, run by the
#      "postgres" OS user when started as root (created as
#      "lead_process_demo" if missing), listening only on a Unix socket in
#      that directory, with benchmark settings (shared_buffers = 1GB,
#      max_wal_size = 8GB, checkpoint_timeout = 30min, synchronous_commit =
#      on, jit = off); stopped and removed on exit unless KEEP=1
#   2. the peer's schema.sql and generate.sql in one database, the generated
#      activities exported once to a CSV file, which is then loaded with one
#      COPY each (CHECKPOINT before each) into
#        bare     peer.activity_bare: no FK, no trigger (the physical limit)
#        fk       a copy of it with only the FK to peer.lead
#        plpgsql  peer.activity with the peer's row trigger (trigger.sql)
#        ours     lead_process.activity, after the peer's leads were copied
#                 into lead_process.lead and bench/scoring_rules.sql (the
#                 same rules and thresholds as the peer) was run; scored
#                 in the COPY (lead_process.defer_scoring off, the default)
#        ours_deferred  the same, in a copy of that database made before
#                 the load, with lead_process.defer_scoring = on: the COPY
#                 checks and locks the leads and queues the activities;
#                 then lead_process.score_pending() scores them (timed as
#                 score_pending); ours_scored = the two together
#   3. correctness checks on the loaded data ('check NAME VALUE'), for both
#   4. single-row inserts with pgbench, one activity per transaction, lead
#      drawn with the generator's skew, into each table; for ours_deferred a
#      second session runs score_pending() every second during the run
#      (its work shares the machine with pgbench), and the backlog left at
#      the end is scored and timed (score_pending_backlog)
#   5. ratios (throughput of ours over theirs) and a summary table
# Every lead_process session runs with lead_process.notify = off (the peer
# sends no notifications either; the outbox rows are still written).
#
# Output lines: 'time NAME SECONDS', 'rows_per_s NAME N', 'check NAME VALUE',
# 'tps NAME N', 'ratio NAME X'; progress goes to stderr, comments start '#'.
#
# Environment: PEER_DIR (default ../shared/peer next to the repository),
# PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config, as setup.sh),
# KEEP=1 (leave the cluster running), TMPDIR.
set -euo pipefail

usage="usage: bash bench/scoring.sh [leads] [activities] [clients] [seconds]  (positive integers)"
leads=${1:-100000}
acts=${2:-1000000}
clients=${3:-8}
secs=${4:-30}
for v in "$leads" "$acts" "$clients" "$secs"; do
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt 1 ]; then
		echo "$usage" >&2
		exit 2
	fi
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peer=${PEER_DIR:-$root/../shared/peer}
rules=$root/bench/scoring_rules.sql

for f in schema.sql trigger.sql generate.sql; do
	if [ ! -f "$peer/$f" ]; then
		echo "scoring.sh: the PL/pgSQL reference is missing: $peer/$f not found" >&2
		echo "scoring.sh: set PEER_DIR to the directory holding schema.sql, trigger.sql and generate.sql" >&2
		exit 1
	fi
done
peer=$(cd "$peer" && pwd)

step() { printf '==> %s\n' "$*" >&2; }
now() { date +%s.%N; }

# 1. A throwaway cluster (scripts/cluster.sh), with benchmark settings
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup scoring.sh lead_process_bench pgbench
settings="shared_buffers = 1GB, max_wal_size = 8GB, checkpoint_timeout = 30min, synchronous_commit = on, jit = off"
lp_cluster_initdb "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"synchronous_commit = on" "jit = off"
# shellcheck disable=SC2119
lp_cluster_start

export PGDATABASE=lead_process_bench
export PGOPTIONS='-c client_min_messages=warning'
ours_options="$PGOPTIONS -c lead_process.notify=off"
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
csv=$dir/activity.csv

p -d postgres -c "CREATE DATABASE lead_process_bench"
if ! err=$(p -c "CREATE EXTENSION lead_process" 2>&1); then
	echo "scoring.sh: CREATE EXTENSION lead_process failed:" >&2
	echo "$err" >&2
	echo "scoring.sh: install lead_process first (scripts/setup.sh, or make && make install)" >&2
	exit 1
fi
version=$(p -At -c "SELECT current_setting('server_version') || ', lead_process ' || extversion FROM pg_extension WHERE extname = 'lead_process'")

echo "# bench/scoring.sh: $leads leads, $acts activities, $clients clients, $secs s per pgbench run"
echo "# PostgreSQL $version; $settings"

# 2. The reference and the data
step "loading the peer schema and generating $leads leads, $acts activities"
p -f "$peer/schema.sql"
p -v leads="$leads" -v activities="$acts" -f "$peer/generate.sql"
p -c "\\copy peer.activity_src TO '$csv' WITH (FORMAT csv)"
rows=$(p -At -c 'SELECT count(*) FROM peer.activity_src')
p -c 'CREATE TABLE peer.activity_fk (LIKE peer.activity_bare INCLUDING DEFAULTS, FOREIGN KEY (lead_id) REFERENCES peer.lead (id))'
p -f "$peer/trigger.sql"
p -c 'VACUUM ANALYZE peer.lead'

declare -A T TPS

load() { # NAME TABLE [PGOPTIONS]: one COPY of the CSV, timed around psql
	local t0 t1
	p -c 'CHECKPOINT'
	step "COPY $rows activities into $2"
	t0=$(now)
	PGOPTIONS=${3:-$PGOPTIONS} p -c "\\copy $2 (lead_id, type, occurred_at, properties) FROM '$csv' WITH (FORMAT csv)"
	t1=$(now)
	T[$1]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
	awk -v n="$1" -v t="${T[$1]}" -v r="$rows" \
		'BEGIN { printf "time %s %.3f\nrows_per_s %s %.0f\n", n, t, n, r / t }'
}

load bare peer.activity_bare
load fk peer.activity_fk
load plpgsql peer.activity

# ours: the same leads, the same rules, the same file
step "copying the peer's leads into lead_process.lead"
PGOPTIONS=$ours_options p -c "
INSERT INTO lead_process.lead (id, email, company, job_title, country, industry, employees,
                               stage, stage_changed_at, created_at)
SELECT id, email, company, job_title, country, industry, employees,
       'lead', timestamptz '2026-01-01 00:00+00', timestamptz '2026-01-01 00:00+00'
  FROM peer.lead ORDER BY id"
if [ -f "$rules" ]; then
	step "running bench/scoring_rules.sql"
	p -f "$rules"
else
	echo "note: bench/scoring_rules.sql not found, ours runs without scoring rules"
fi
p -c 'VACUUM ANALYZE lead_process.lead'
# the deferred run gets the same starting point: a copy of this database
deferred_db=${PGDATABASE}_deferred
p -d postgres -c "CREATE DATABASE $deferred_db TEMPLATE $PGDATABASE"
load ours lead_process.activity "$ours_options"
PGDATABASE=$deferred_db load ours_deferred lead_process.activity "$ours_options -c lead_process.defer_scoring=on"
step "score_pending() of the deferred COPY"
t0=$(now)
PGDATABASE=$deferred_db PGOPTIONS=$ours_options p -c 'SELECT lead_process.score_pending()' >/dev/null
t1=$(now)
T[score_pending]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
T[ours_scored]=$(awk -v a="${T[ours_deferred]}" -v b="${T[score_pending]}" 'BEGIN { printf "%.6f", a + b }')
printf 'time score_pending %.3f\ntime ours_scored %.3f\n' "${T[score_pending]}" "${T[ours_scored]}"

# 3. Correctness on the loaded data (before pgbench adds rows)
step "checks"
p -At -v rows="$rows" <<'SQL'
WITH n AS (
	SELECT (SELECT count(*) FROM peer.activity_bare) AS bare,
	       (SELECT count(*) FROM peer.activity_fk) AS fk,
	       (SELECT count(*) FROM peer.activity) AS plpgsql,
	       (SELECT count(*) FROM lead_process.activity) AS ours
)
SELECT 'check rows_csv ' || :rows
UNION ALL SELECT 'check rows_bare ' || bare FROM n
UNION ALL SELECT 'check rows_fk ' || fk FROM n
UNION ALL SELECT 'check rows_plpgsql ' || plpgsql FROM n
UNION ALL SELECT 'check rows_ours ' || ours FROM n
UNION ALL SELECT 'check rows_match '
	|| CASE WHEN bare = :rows AND fk = :rows AND plpgsql = :rows AND ours = :rows
	        THEN 'yes' ELSE 'NO' END FROM n
UNION ALL SELECT 'check promoted_plpgsql ' || count(*) FROM peer.lead WHERE stage <> 'lead'
UNION ALL SELECT 'check promoted_ours ' || count(*) FROM lead_process.lead WHERE stage <> 'lead'
UNION ALL SELECT 'check stages_plpgsql ' || coalesce(string_agg(stage || ':' || n, ',' ORDER BY stage), '-')
	FROM (SELECT stage, count(*) AS n FROM peer.lead WHERE stage <> 'lead' GROUP BY stage) s
UNION ALL SELECT 'check stages_ours ' || coalesce(string_agg(stage || ':' || n, ',' ORDER BY stage), '-')
	FROM (SELECT stage, count(*) AS n FROM lead_process.lead WHERE stage <> 'lead' GROUP BY stage) s
UNION ALL SELECT 'check history_plpgsql ' || count(*) FROM peer.stage_history
UNION ALL SELECT 'check history_ours ' || count(*) FROM lead_process.stage_history
	WHERE from_stage IS NOT NULL
UNION ALL SELECT 'check score_sum_plpgsql ' || coalesce(sum(score), 0) FROM peer.lead
UNION ALL SELECT 'check score_sum_ours ' || coalesce(sum(score), 0) FROM lead_process.lead
UNION ALL SELECT 'check leads_score_differs ' || count(*)
	FROM peer.lead t JOIN lead_process.lead o USING (id) WHERE o.score <> t.score
UNION ALL SELECT 'check leads_stage_differs ' || count(*)
	FROM peer.lead t JOIN lead_process.lead o USING (id) WHERE o.stage <> t.stage;
SQL
step "checks (deferred)"
PGDATABASE=$deferred_db p -At <<'SQL'
SELECT 'check rows_ours_deferred ' || count(*) FROM lead_process.activity
UNION ALL SELECT 'check queued_after_score_pending ' || count(*) FROM lead_process.score_queue
UNION ALL SELECT 'check promoted_ours_deferred ' || count(*) FROM lead_process.lead WHERE stage <> 'lead'
UNION ALL SELECT 'check score_sum_ours_deferred ' || coalesce(sum(score), 0) FROM lead_process.lead
UNION ALL SELECT 'check leads_score_differs_deferred ' || count(*)
	FROM peer.lead t JOIN lead_process.lead o USING (id) WHERE o.score <> t.score
UNION ALL SELECT 'check leads_stage_differs_deferred ' || count(*)
	FROM peer.lead t JOIN lead_process.lead o USING (id) WHERE o.stage <> t.stage;
SQL

# 4. Single-row inserts: one activity per transaction, lead = 1 + leads * u^2
single() { # NAME TABLE [PGOPTIONS]
	local script=$dir/$1.pgb log=$dir/$1.pgbench.log
	cat >"$script" <<SQL
\\set u random(0, 999999)
\\set lead 1 + (:u * :u * $leads) / 1000000000000
INSERT INTO $2 (lead_id, type, occurred_at, properties) VALUES (:lead, 'page_view', now(), '{"url": "/pricing"}');
SQL
	p -c 'CHECKPOINT'
	step "pgbench into $2 ($clients clients, $secs s)"
	if ! PGOPTIONS=${3:-$PGOPTIONS} "$bindir/pgbench" -n -M prepared -c "$clients" -j "$clients" \
		-T "$secs" -f "$script" >"$log" 2>&1; then
		echo "scoring.sh: pgbench into $2 failed:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	TPS[$1]=$(awk '/^tps/ { print $3; exit }' "$log")
	if [ -z "${TPS[$1]}" ]; then
		echo "scoring.sh: no tps in the pgbench output:" >&2
		cat "$log" >&2
		exit 1
	fi
	awk -v n="$1" -v t="${TPS[$1]}" 'BEGIN { printf "tps %s %.0f\n", n, t }'
}
single bare peer.activity_bare
single fk peer.activity_fk
single plpgsql peer.activity
single ours lead_process.activity "$ours_options"
# deferred: score_pending() every second while pgbench runs: a call, its
# result, a second's sleep, from one session (as the background worker
# calls it; a new connection per call would add its start-up and first
# planning to every call)
step "score_pending() every second during the deferred pgbench run"
rm -f "$dir/folds.stop"
(
	coproc FOLD { PGDATABASE=$deferred_db PGOPTIONS=$ours_options p -At; }
	# the server process of the session, whose CPU time (user + system, in
	# clock ticks, from /proc: the server is local) is read at the end
	echo 'SELECT pg_backend_pid();' >&"${FOLD[1]}"
	read -r fold_pid <&"${FOLD[0]}" || exit 1
	end=$(( $(date +%s) + secs + 5 ))
	while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$dir/folds.stop" ]; do
		echo 'SELECT lead_process.score_pending();' >&"${FOLD[1]}"
		read -r n <&"${FOLD[0]}" || break
		echo "$n" >>"$dir/folds.log"
		sleep 1
	done
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.6f\n", ($14 + $15) / hz }' \
		"/proc/$fold_pid/stat" >"$dir/fold_cpu" 2>/dev/null || true
	eval "exec ${FOLD[1]}>&-"
	wait "$FOLD_PID" 2>/dev/null || true
) &
folder=$!
PGDATABASE=$deferred_db single ours_deferred lead_process.activity "$ours_options -c lead_process.defer_scoring=on"
# let the call under way finish (a kill would leave its psql running into
# the backlog call and the shutdown)
touch "$dir/folds.stop"
wait "$folder" 2>/dev/null || true
awk '{ n++; s += $1 } END { printf "check score_pending_calls_during_run %d\ncheck activities_scored_during_run %d\n", n, s }' "$dir/folds.log"
# CPU time of the session's server process over the run, per activity scored
if [ -s "$dir/fold_cpu" ]; then
	awk -v cpu="$(cat "$dir/fold_cpu")" '{ s += $1 } END { if (s > 0) printf "time score_pending_cpu_during_run %.3f\ncheck score_pending_cpu_us_per_activity %.1f\n", cpu, cpu * 1e6 / s }' "$dir/folds.log"
fi
t0=$(now)
backlog=$(PGDATABASE=$deferred_db PGOPTIONS=$ours_options p -At -c 'SELECT lead_process.score_pending()')
t1=$(now)
awk -v a="$t0" -v b="$t1" -v n="$backlog" \
	'BEGIN { printf "check backlog_after_run %d\ntime score_pending_backlog %.3f\n", n, b - a }'

# 5. Ratios: throughput of ours (or fk, plpgsql) over the other, one run.
# The first three are the issue's: "ours" is the ingest with deferred
# scoring (the COPY, or the single-row inserts with score_pending() running
# beside them); the _scored and _immediate lines follow.
awk -v tb="${T[bare]}" -v tf="${T[fk]}" -v tp="${T[plpgsql]}" -v to="${T[ours]}" \
	-v td="${T[ours_deferred]}" -v ts="${T[ours_scored]}" \
	-v sb="${TPS[bare]}" -v sf="${TPS[fk]}" -v sp="${TPS[plpgsql]}" -v so="${TPS[ours]}" \
	-v sd="${TPS[ours_deferred]}" -v rows="$rows" '
	function r(a, b) { return b > 0 ? a / b : 0 }
	BEGIN {
		printf "ratio bulk_vs_bare %.2f\n", r(tb, td)
		printf "ratio bulk_vs_plpgsql %.2f\n", r(tp, td)
		printf "ratio single_vs_bare %.2f\n", r(sd, sb)
		printf "ratio bulk_scored_vs_bare %.2f\n", r(tb, ts)
		printf "ratio bulk_scored_vs_plpgsql %.2f\n", r(tp, ts)
		printf "ratio bulk_immediate_vs_bare %.2f\n", r(tb, to)
		printf "ratio bulk_immediate_vs_plpgsql %.2f\n", r(tp, to)
		printf "ratio single_immediate_vs_bare %.2f\n", r(so, sb)
		printf "ratio fk_vs_bare %.2f\n", r(tb, tf)
		printf "ratio plpgsql_vs_bare %.2f\n", r(tb, tp)
		printf "ratio single_fk_vs_bare %.2f\n", r(sf, sb)
		printf "ratio single_plpgsql_vs_bare %.2f\n", r(sp, sb)
		printf "\n"
		printf "%-15s %10s %10s %8s  %8s %8s\n", "", "COPY s", "rows/s", "x bare", "tps", "x bare"
		n = split("bare fk plpgsql ours ours_deferred ours_scored", name, " ")
		t["bare"] = tb; t["fk"] = tf; t["plpgsql"] = tp; t["ours"] = to
		t["ours_deferred"] = td; t["ours_scored"] = ts
		s["bare"] = sb; s["fk"] = sf; s["plpgsql"] = sp; s["ours"] = so
		s["ours_deferred"] = sd; s["ours_scored"] = 0
		for (i = 1; i <= n; i++) {
			k = name[i]
			printf "%-15s %10.2f %10.0f %8.2f  %8.0f %8.2f\n", k, t[k], r(rows, t[k]),
				r(tb, t[k]), s[k], r(s[k], sb)
		}
		printf "\nours = scored in the statement; ours_deferred = lead_process.defer_scoring on;\n"
		printf "ours_scored = the deferred COPY plus score_pending() (every score and promotion written)\n"
		printf "targets: bulk_vs_bare >= 0.5, bulk_vs_plpgsql >= 20, single_vs_bare >= 0.85\n"
	}'
