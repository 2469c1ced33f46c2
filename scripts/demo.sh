#!/usr/bin/env bash
# The main job: install lead_process, load a sample funnel into a throwaway
# PostgreSQL cluster and print the report.
#
#   bash scripts/demo.sh [leads] [activities]      (defaults 20000 200000)
#
# Run it as root (or as a user who may sudo) on Debian 12.  Steps:
#   1. scripts/setup.sh (packages, build, make install), when it exists;
#      SKIP_SETUP=1 skips it (the extension must then be installed already)
#   2. a throwaway cluster in a fresh temporary directory, run by the
#      "postgres" OS user (created as "lead_process_demo" if missing), on a
#      free port, listening only on a Unix socket in that directory
#   3. CREATE EXTENSION lead_process; sample/generate.sql; sample/report.sql
#   4. on exit the cluster is stopped and the directory removed, unless
#      KEEP=1, which leaves it running and prints how to connect
#
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config, as
# setup.sh), SEED (default 0.42), KEEP, SKIP_SETUP, TMPDIR.
set -euo pipefail

leads=${1:-20000}
activities=${2:-200000}
seed=${SEED:-0.42}

case "$leads$activities" in
	*[!0-9]* | '') echo "usage: bash scripts/demo.sh [leads] [activities]  (positive integers)" >&2; exit 2 ;;
esac
if [ "$leads" -lt 1 ]; then
	echo "usage: bash scripts/demo.sh [leads] [activities]  (leads >= 1)" >&2
	exit 2
fi
if ! [[ $seed =~ ^-?(0|1)?(\.[0-9]+)?$ ]] || [ -z "${seed//[-.]/}" ]; then
	echo "demo.sh: SEED must be a number between -1 and 1 (setseed)" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

step() { printf '==> %s\n' "$*"; }	# progress on stdout, with the report
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# 1. Install
if [ "${SKIP_SETUP:-0}" = 1 ]; then
	step "skipping scripts/setup.sh (SKIP_SETUP=1)"
elif [ -f "$root/scripts/setup.sh" ]; then
	step "running scripts/setup.sh"
	bash "$root/scripts/setup.sh"
else
	step "scripts/setup.sh not found; assuming lead_process is installed"
fi

# 2. A throwaway cluster (scripts/cluster.sh)
# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup demo.sh lead_process_demo
# shellcheck disable=SC2119
lp_cluster_initdb
lp_cluster_start "-c max_wal_size=1GB"
export PGDATABASE=lead_process_demo
psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1)

"${psql[@]}" -d postgres -c "CREATE DATABASE lead_process_demo"
"${psql[@]}" -c "CREATE EXTENSION lead_process"
version=$("${psql[@]}" -At -c "SELECT current_setting('server_version') || ', lead_process ' || extversion FROM pg_extension WHERE extname = 'lead_process'")
step "PostgreSQL $version"

# 3. Sample and report
step "loading the sample: $leads leads, $activities activities (seed $seed)"
t=$(now)
"${psql[@]}" -v leads="$leads" -v activities="$activities" -v seed="$seed" -f "$root/sample/generate.sql"
step "loaded in $(since "$t")"

step "report"
"${psql[@]}" -f "$root/sample/report.sql"
