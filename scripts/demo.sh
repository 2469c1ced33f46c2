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
keep=${KEEP:-0}

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

step() { printf '==> %s\n' "$*"; }
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

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [ ! -x "$PG_CONFIG" ]; then
	PG_CONFIG=$(command -v pg_config || true)
fi
if [ -z "$PG_CONFIG" ]; then
	echo "demo.sh: pg_config not found; set PG_CONFIG or run scripts/setup.sh" >&2
	exit 1
fi
bindir=$("$PG_CONFIG" --bindir)
for b in initdb pg_ctl psql; do
	if [ ! -x "$bindir/$b" ]; then
		echo "demo.sh: $bindir/$b not found (is the PostgreSQL server package installed?)" >&2
		exit 1
	fi
done

# 2. Who runs the server: PostgreSQL refuses to run as root
if [ "$(id -u)" -eq 0 ]; then
	if id postgres >/dev/null 2>&1; then
		pguser=postgres
	else
		pguser=lead_process_demo
		if ! id "$pguser" >/dev/null 2>&1; then
			step "creating OS user $pguser to run PostgreSQL"
			useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
		fi
	fi
	as_pg() { runuser -u "$pguser" -- "$@"; }
else
	pguser=$(id -un)
	as_pg() { "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/lead_process_demo.XXXXXX")
chmod 700 "$dir"
if [ "$(id -u)" -eq 0 ]; then
	chown "$pguser" "$dir"
fi
started=0

cleanup() {
	local rc=$?
	set +e
	trap '' PIPE INT TERM HUP	# finish the cleanup even if stdout is gone
	if [ "$rc" -gt 128 ]; then
		echo "demo.sh: interrupted (exit status $rc)" >&2
	elif [ "$rc" -ne 0 ]; then
		echo "demo.sh: failed (exit status $rc)" >&2
		if [ -f "$dir/log" ]; then
			echo "demo.sh: last lines of the server log:" >&2
			tail -n 20 "$dir/log" >&2
		fi
	fi
	if [ "$keep" = 1 ] && [ "$started" = 1 ]; then
		echo
		step "KEEP=1: the cluster keeps running in $dir"
		echo "    connect: $bindir/psql -h $dir -p $port -U $pguser -d lead_process_demo"
		if [ "$(id -u)" -eq 0 ]; then
			echo "    stop:    runuser -u $pguser -- $bindir/pg_ctl -D $dir/data stop && rm -rf $dir"
		else
			echo "    stop:    $bindir/pg_ctl -D $dir/data stop && rm -rf $dir"
		fi
	else
		if [ "$started" = 1 ]; then
			step "stopping the cluster and removing $dir"
			(cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -s stop)
		fi
		rm -rf "$dir"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port: nothing listening on it on localhost
port=
for p in $(seq 54320 54420); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
if [ -z "$port" ]; then
	echo "demo.sh: no free port in 54320-54420" >&2
	exit 1
fi

step "initdb in $dir (server user $pguser, port $port, Unix socket only)"
(cd "$dir" && as_pg "$bindir/initdb" -D "$dir/data" -U "$pguser" -E UTF8 --no-locale \
	--auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1) || {
	cat "$dir/initdb.log" >&2
	exit 1
}
(cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -s \
	-o "-p $port -k $dir -c listen_addresses='' -c max_wal_size=1GB" start)
started=1

export PGHOST=$dir PGPORT=$port PGUSER=$pguser PGDATABASE=lead_process_demo
unset PGSERVICE PGPASSWORD PGOPTIONS || true
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
