#!/usr/bin/env bash
# Fuzz the condition language with libFuzzer (test/fuzz/fuzz_condition.c)
# against a throwaway server with lead_process and a few sample leads:
#
#   bash test/fuzz/conditions.sh [seconds]          default 60
#
# Needs clang with libFuzzer and libpq (Debian: clang, libclang-rt-14-dev,
# libpq-dev; scripts/setup.sh installs them).  Output: 'fuzz_condition
# executions N' and 'fuzz_condition crashes N' (must be 0: no backend
# crash, no abort of the harness).
set -euo pipefail

secs=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup conditions.sh lead_process_fuzz psql
lp_cluster_initdb "jit = off" "log_min_messages = warning"
# shellcheck disable=SC2119
lp_cluster_start
export PGDATABASE=lead_process_fuzz
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
p -d postgres -c "CREATE DATABASE lead_process_fuzz"
p <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION lead_process;
INSERT INTO lead_process.lead (email, company, job_title, country, industry, employees, annual_revenue, properties)
VALUES ('a@gmail.com', 'Acme', 'Chief Buyer', 'DE', 'software', 1200, 5e6, '{"plan": "enterprise", "seats": 40}'),
	   ('b@corp.example', NULL, NULL, 'US', NULL, NULL, NULL, '{}'),
	   ('c@x.org', 'Ünïcödé', 'Student', 'FR', 'education', 0, 0, '{"seats": "many", "nested": {"a": [1, 2]}}');
SQL

harness=$dir/fuzz_condition
clang -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$("$bindir/pg_config" --includedir 2>/dev/null || echo /usr/include/postgresql)" \
	-o "$harness" "$root/test/fuzz/fuzz_condition.c" -lpq
corpus=$dir/corpus
mkdir -p "$corpus"
cp "$root"/test/fuzz/condition-seeds/*.json "$corpus/"
chmod -R a+rwX "$dir"

lp_step "fuzzing conditions for $secs s"
log=$dir/fuzz.log
set +e
"$harness" -max_total_time="$secs" -max_len=1024 -print_final_stats=1 "$corpus" >"$log" 2>&1
rc=$?
set -e
execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
[ -n "$execs" ] || execs=$(grep -Eo '#[0-9]+' "$log" | tail -n 1 | tr -d '#')
crashes=$(grep -c "terminated by signal" "$dir/log" 2>/dev/null || true)
[ "$rc" -eq 0 ] || crashes=$((crashes + 1))
echo "fuzz_condition executions ${execs:-0}"
echo "fuzz_condition crashes $crashes"
if [ "$crashes" -ne 0 ]; then
	tail -n 30 "$log" >&2
	exit 1
fi
