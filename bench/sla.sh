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
# Output: 'calls_per_s CALENDAR TEST N' lines, then a table; progress goes
# to stderr, comments start with '#'.  Calls per second are calls divided
# by the execution time of the whole query, baseline included.
#
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config),
# KEEP=1 (leave the cluster running), TMPDIR.
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
