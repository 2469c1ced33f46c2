#!/usr/bin/env bash
# Speed of the business-time functions, in a throwaway cluster:
#
#   bash bench/sla.sh [calls]          default 1000000
#   make bench-sla
#
# Run it as root or as a normal user; lead_process must already be installed
# (scripts/setup.sh or make install; this script builds nothing).  Steps:
#   1. a throwaway cluster (scripts/cluster.sh) listening only on a Unix
#      socket in a fresh temporary directory, jit = off; stopped and removed
#      on exit unless KEEP=1
#   2. two calendars: the seeded `default` (Monday-Friday 09:00-17:00 UTC,
#      no holidays) and `berlin` (Europe/Berlin, two shifts a day, 20
#      holidays a year for 2020-2029, whole and partial)
#   3. for each calendar, one query over `calls` timestamps spread over 2024
#      (one every 31.4 seconds), timed on the server with EXPLAIN ANALYZE:
#        add_8h       count(business_time_add(cal, t, '8 hours'))
#        add_40h      count(business_time_add(cal, t, '40 hours'))
#        between_1w   count(business_time_between(cal, t, t + '7 days'))
#        baseline     count(t + '8 hours'), the cost of the query itself
#      each run twice, the faster run kept (the first also fills caches)
#
#   4. sweep(): CLOCKS open SLA clocks (default 1000000; leads and clocks
#      generated set-based, with triggers off), of which 0, 1000 and 100000
#      (at most CLOCKS) are due; each sweep is timed in its own transaction,
#      rolled back, best of 2.  Action flag: the time is finding the due
#      clocks, locking them and their leads, marking them breached and
#      writing one event each.  For comparison, naive_scan: the same
#      search without the partial index on due_at (a full scan of the open
#      clocks), which is what a sweep would cost without the index.
#   5. the clock triggers: moving 20000 leads into a stage with two
#      policies (first-contact and leave-stage), and one contact attempt for
#      each, against the same with no policy
#
# Output: 'calls_per_s CALENDAR TEST N' lines, then a table; then
# 'sweep_ms DUE N', 'sweep_ms_new_session 0 N', 'naive_scan_ms N',
# 'trigger_ms TEST N' lines and
# 'ratio NAME X' lines; progress goes to stderr, comments start with '#'.
# Calls per second are calls divided by the execution time of the whole
# query, baseline included.
#
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config),
# KEEP=1 (leave the cluster running), TMPDIR, CLOCKS (default 1000000).
set -euo pipefail

usage="usage: bash bench/sla.sh [calls]  (a positive integer)"
calls=${1:-1000000}
if ! [[ $calls =~ ^[0-9]+$ ]] || [ "$calls" -lt 1 ]; then
	echo "$usage" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup sla.sh lead_process_bench
lp_cluster_initdb "jit = off" "shared_buffers = 256MB"
# shellcheck disable=SC2119
lp_cluster_start

export PGDATABASE=lead_process_bench
export PGOPTIONS='-c client_min_messages=warning'
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

p -d postgres -c "CREATE DATABASE lead_process_bench"
if ! err=$(p -c "CREATE EXTENSION lead_process" 2>&1); then
	echo "sla.sh: CREATE EXTENSION lead_process failed:" >&2
	echo "$err" >&2
	echo "sla.sh: install lead_process first (scripts/setup.sh, or make && make install)" >&2
	exit 1
fi
version=$(p -At -c "SELECT current_setting('server_version') || ', lead_process ' || extversion FROM pg_extension WHERE extname = 'lead_process'")
echo "# bench/sla.sh: $calls calls per test"
echo "# PostgreSQL $version; jit = off"

lp_step "creating the berlin calendar"
p <<'SQL'
INSERT INTO lead_process.calendar (name, time_zone) VALUES ('berlin', 'Europe/Berlin');
INSERT INTO lead_process.calendar_hours (calendar, weekday, opens, closes)
SELECT 'berlin', d, s.opens, s.closes
  FROM generate_series(1, 5) d,
	   (VALUES ('08:00'::time, '12:00'::time), ('13:00', '17:00')) s(opens, closes);
-- 18 whole days and 2 afternoons a year, 2020-2029
INSERT INTO lead_process.calendar_holiday (calendar, day, closed_from, closed_until)
SELECT 'berlin', make_date(y, m, d), f, u
  FROM generate_series(2020, 2029) y,
	   (VALUES (1, 1, NULL::time, NULL::time), (1, 6, NULL, NULL), (3, 8, NULL, NULL),
			   (4, 18, NULL, NULL), (4, 21, NULL, NULL), (5, 1, NULL, NULL),
			   (5, 29, NULL, NULL), (6, 9, NULL, NULL), (6, 19, NULL, NULL),
			   (8, 15, NULL, NULL), (10, 3, NULL, NULL), (10, 31, NULL, NULL),
			   (11, 1, NULL, NULL), (11, 20, NULL, NULL), (12, 24, '12:00', '24:00'),
			   (12, 25, NULL, NULL), (12, 26, NULL, NULL), (12, 31, '12:00', '24:00'),
			   (7, 1, NULL, NULL), (9, 1, NULL, NULL)) h(m, d, f, u);
SQL

# run_ms SQL: the server-side execution time of a query, in ms (best of 2)
run_ms() {
	local best="" ms
	for _ in 1 2; do
		ms=$(p -At -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $1" |
			sed -n 's/.*"Execution Time": \([0-9.]*\).*/\1/p')
		if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$ms
		fi
	done
	echo "$best"
}

series="generate_series(1, $calls) i, LATERAL (SELECT timestamptz '2024-01-01 00:00+00' + i * interval '31.4 seconds' AS t) s"
declare -A RATE
for cal in default berlin; do
	for test in baseline add_8h add_40h between_1w; do
		case $test in
		baseline) expr="t + interval '8 hours'" ;;
		add_8h) expr="lead_process.business_time_add('$cal', t, '8 hours')" ;;
		add_40h) expr="lead_process.business_time_add('$cal', t, '40 hours')" ;;
		between_1w) expr="lead_process.business_time_between('$cal', t, t + interval '7 days')" ;;
		esac
		lp_step "$cal $test"
		ms=$(run_ms "SELECT count($expr) FROM $series")
		RATE[$cal.$test]=$(awk -v n="$calls" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
		echo "calls_per_s $cal $test ${RATE[$cal.$test]}"
	done
done

echo
echo "# calls per second (one backend; baseline = the same query without the function)"
printf '# %-10s %12s %12s %12s %12s\n' calendar baseline add_8h add_40h between_1w
for cal in default berlin; do
	printf '# %-10s %12s %12s %12s %12s\n' "$cal" "${RATE[$cal.baseline]}" \
		"${RATE[$cal.add_8h]}" "${RATE[$cal.add_40h]}" "${RATE[$cal.between_1w]}"
done

# ---------------------------------------------------------------- sweep
clocks=${CLOCKS:-1000000}
if ! [[ $clocks =~ ^[0-9]+$ ]] || [ "$clocks" -lt 20000 ]; then
	echo "sla.sh: CLOCKS must be an integer of at least 20000" >&2
	exit 2
fi
echo
echo "# sweep(): $clocks open clocks"
lp_step "generating $clocks leads and open clocks"
p <<SQL
CREATE SCHEMA bench;
INSERT INTO lead_process.sla_policy (name, stage, kind, target, action)
VALUES ('bench', 'sal', 'leave-stage', '8 hours', 'flag');
SET session_replication_role = replica;
INSERT INTO lead_process.lead (id, email, stage, status, stage_changed_at)
SELECT g, 'b' || g || '@example.com', 'sal', 'new', '2024-06-03 09:00+00'
  FROM generate_series(1, $clocks) g;
INSERT INTO lead_process.sla_clock (lead_id, policy_id, kind, stage, calendar, target,
									owner, started_at, anchor_at, due_at)
SELECT g, (SELECT id FROM lead_process.sla_policy WHERE name = 'bench'), 'leave-stage', 'sal',
	   'default', '8 hours', 'rep' || g % 50, '2024-06-03 09:00+00', '2024-06-03 09:00+00',
	   timestamptz '2030-01-01 00:00+00' + g * interval '1 second'
  FROM generate_series(1, $clocks) g;
RESET session_replication_role;
VACUUM ANALYZE lead_process.lead, lead_process.sla_clock;
CREATE FUNCTION bench.sweep_ms() RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM * FROM lead_process.sweep('2024-06-03 12:00+00');
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
END \$\$;
SQL

# sweep_ms DUE [cold]: make DUE clocks (spread over the table) due, time a
# sweep that breaches them, roll back; best of 2.  The session first runs a
# sweep as of 2000 (nothing due) so that the timed one finds its plans
# cached, as in a long-lived session (the worker); "cold" skips that, as a
# new session per run does (pg_cron starts one per job).
sweep_ms() {
	local due=$1 every best="" ms warm="SELECT * FROM lead_process.sweep('2000-01-01 00:00+00');"
	every=$(( due > 0 ? clocks / due : 1 ))
	[ "${2:-}" = cold ] && warm=""
	for _ in 1 2; do
		ms=$(p -At <<SQL | tail -n 1
$warm
BEGIN;
UPDATE lead_process.sla_clock SET due_at = '2024-06-03 10:00+00'
 WHERE $due > 0 AND lead_id % $every = 0 AND lead_id <= $every * $due;
SELECT bench.sweep_ms();
ROLLBACK;
SQL
)
		if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$ms
		fi
	done
	echo "$best"
}
declare -A SWEEP
for due in 0 1000 100000; do
	[ "$due" -le "$clocks" ] || continue
	lp_step "sweep with $due due"
	SWEEP[$due]=$(sweep_ms "$due")
	echo "sweep_ms $due ${SWEEP[$due]}"
done
lp_step "sweep with 0 due, new session"
cold=$(sweep_ms 0 cold)
echo "sweep_ms_new_session 0 $cold"
lp_step "naive scan"
# the same search without the partial index on due_at
naive=""
for _ in 1 2; do
	ms=$(p -At <<SQL | sed -n 's/.*"Execution Time": \([0-9.]*\).*/\1/p'
SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;
EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT count(*) FROM lead_process.sla_clock
 WHERE state = 'running' AND due_at <= '2024-06-03 12:00+00';
SQL
)
	if [ -z "$naive" ] || awk -v a="$ms" -v b="$naive" 'BEGIN { exit !(a < b) }'; then
		naive=$ms
	fi
done
echo "naive_scan_ms $naive"
awk -v a="$naive" -v b="${SWEEP[0]}" 'BEGIN { if (b > 0) printf "ratio naive_scan_vs_sweep_0_due %.1f\n", a / b }'
for due in 1000 100000; do
	[ -n "${SWEEP[$due]:-}" ] &&
		awk -v a="${SWEEP[$due]}" -v n="$due" 'BEGIN { printf "# %d due: %.3f ms per due clock\n", n, a / n }'
done

# ---------------------------------------------------------------- triggers
echo
echo "# clock triggers: 20000 leads moved from sal to sql, then one contact attempt each"
# trigger_ms CASE: time the move and the attempts, in ms, rolled back.
# none: the SLA triggers disabled; idle: enabled, policies only on another
# stage; two: two active policies on sql (leave-stage, first-contact), an
# inactive one on sal
trigger_ms() {
	local setup
	case $1 in
	none) setup="ALTER TABLE lead_process.stage_history DISABLE TRIGGER sla_clocks;
		ALTER TABLE lead_process.contact_attempt DISABLE TRIGGER sla_clocks;
		UPDATE lead_process.sla_policy SET active = false;" ;;
	idle) setup="UPDATE lead_process.sla_policy SET stage = 'opportunity', active = false;" ;;
	two) setup="UPDATE lead_process.sla_policy SET active = (stage = 'sql');" ;;
	esac
	p -At <<SQL | tail -n 2
BEGIN;
SET LOCAL lead_process.notify = off;
$setup
UPDATE lead_process.sla_clock SET state = 'cancelled' WHERE lead_id <= 20000;
CREATE TEMP TABLE t0 ON COMMIT DROP AS SELECT clock_timestamp() AS t;
UPDATE lead_process.lead SET stage = 'sql' WHERE id <= 20000;
SELECT round(extract(epoch FROM clock_timestamp() - t) * 1000) FROM t0;
UPDATE t0 SET t = clock_timestamp();
INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome)
SELECT g, '2024-06-04 10:00+00', 'call', 'no-answer' FROM generate_series(1, 20000) g;
SELECT round(extract(epoch FROM clock_timestamp() - t) * 1000) FROM t0;
ROLLBACK;
SQL
}
p -c "INSERT INTO lead_process.sla_policy (name, stage, kind, target, action) VALUES
	  ('bench contact', 'sql', 'first-contact', '4 hours', 'flag'),
	  ('bench sql', 'sql', 'leave-stage', '8 hours', 'flag')"
declare -A MOVE ATTEMPT
for c in none idle two; do
	lp_step "triggers: $c"
	mapfile -t r < <(trigger_ms "$c")
	MOVE[$c]=${r[0]}
	ATTEMPT[$c]=${r[1]}
	echo "trigger_ms move_$c ${MOVE[$c]}"
	echo "trigger_ms attempt_$c ${ATTEMPT[$c]}"
done
for c in idle two; do
	awk -v a="${MOVE[$c]}" -v b="${MOVE[none]}" -v c="$c" 'BEGIN { if (b > 0) printf "ratio move_%s_vs_none %.2f\n", c, a / b }'
	awk -v a="${ATTEMPT[$c]}" -v b="${ATTEMPT[none]}" -v c="$c" 'BEGIN { if (b > 0) printf "ratio attempt_%s_vs_none %.2f\n", c, a / b }'
done
