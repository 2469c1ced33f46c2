#!/usr/bin/env bash
# Random SQL against lead_process with sqlsmith (Debian package sqlsmith):
# a throwaway cluster with the sample loaded, and sqlsmith connected as a
# role with the reader level (grant_reader), so that every generated query
# can reach the extension's views and read-only functions (condition_check,
# condition_matches, fit_score_of, score_explain, current_score,
# route_preview, business_time_add/between, ...) but cannot write or call
# superuser functions.  The server must survive every query: the script
# fails when it crashed (a backend "terminated by signal" in the log, or
# the server not answering afterwards).
#
#   bash test/fuzz/sqlsmith.sh [queries] [seed]     defaults 20000 1
#
# As root it installs sqlsmith with apt-get when missing.  Output:
# 'sqlsmith queries N', 'sqlsmith error_rate X' (ordinary SQL errors are
# expected: random SQL is often wrong), the most frequent errors of
# lead_process's own functions, 'sqlsmith crashes N' (must be 0).
set -euo pipefail

queries=${1:-20000}
seed=${2:-1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if ! command -v sqlsmith >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q sqlsmith >/dev/null
	else
		echo "sqlsmith.sh: sqlsmith is not installed (apt-get install sqlsmith)" >&2
		exit 1
	fi
fi

# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup sqlsmith.sh lead_process_fuzz psql
lp_cluster_initdb "statement_timeout = 2s" "log_min_messages = warning" "jit = off"
# shellcheck disable=SC2119
lp_cluster_start
export PGDATABASE=lead_process_fuzz
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

p -d postgres -c "CREATE DATABASE lead_process_fuzz"
p -c "SET client_min_messages = warning" -c "CREATE EXTENSION lead_process"
p -v leads=2000 -v activities=20000 -v seed=0.42 -f "$root/sample/generate.sql" >/dev/null
p -c "CREATE ROLE lp_fuzz LOGIN" -c "SELECT lead_process.grant_reader('lp_fuzz')"

log=$dir/sqlsmith.log
lp_step "sqlsmith: $queries queries, seed $seed, as a reader"
set +e
sqlsmith --target="host=$dir port=$port dbname=$PGDATABASE user=lp_fuzz" \
	--seed="$seed" --max-queries="$queries" --exclude-catalog --verbose >"$log" 2>&1
rc=$?
set -e
crashes=$(grep -c "terminated by signal" "$dir/log" 2>/dev/null || true)
alive=0
p -At -c 'SELECT 1' >/dev/null 2>&1 || alive=1
rate=$(awk '/^error rate:/ { r = $3 } END { print (r == "" ? "?" : r) }' "$log")
echo "sqlsmith queries $queries"
echo "sqlsmith exit_status $rc"
echo "sqlsmith error_rate $rate"
# the errors raised by lead_process's own code, by message
grep -E '^[0-9]+	ERROR: ' "$log" | grep -Ei 'lead|condition|calendar|stage|rule|business|score|route' |
	sort -rn | head -n 20 | sed 's/^/sqlsmith lead_process_error /' || true
echo "sqlsmith crashes $((crashes + alive))"
if [ "$((crashes + alive))" -ne 0 ]; then
	echo "sqlsmith.sh: the server crashed; see the server log:" >&2
	grep -B5 "terminated by signal" "$dir/log" >&2 || true
	exit 1
fi
