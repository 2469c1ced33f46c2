# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the project's scripts (demo, benchmarks).
# Source it, then:
#
#   lp_cluster_setup NAME DBNAME [program ...]
#       find the server binaries (PG_CONFIG, default Debian's 15), choose the
#       OS user that runs the server (PostgreSQL refuses root: "postgres",
#       else a system user created for it), make a private temporary
#       directory, pick a free port, and install an EXIT trap that stops the
#       server and removes the directory (KEEP=1 leaves it running and says
#       how to connect).  NAME prefixes messages; DBNAME is the database the
#       connect hint names; the programs are checked to exist in bindir.
#   lp_cluster_initdb [postgresql.conf lines ...]
#   lp_cluster_start [server options]
#       the server listens on a Unix socket in the directory only (no TCP);
#       PGHOST, PGPORT and PGUSER are exported for it.
#
# Sets: bindir, pguser, dir, port; as_pg runs a command as the server user.

lp_step() { printf '==> %s\n' "$*" >&2; }

lp_cluster_setup() {
	lp_name=$1
	lp_dbname=$2
	shift 2
	PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
	if [ ! -x "$PG_CONFIG" ]; then
		PG_CONFIG=$(command -v pg_config || true)
	fi
	if [ -z "$PG_CONFIG" ]; then
		echo "$lp_name: pg_config not found; set PG_CONFIG or run scripts/setup.sh" >&2
		exit 1
	fi
	bindir=$("$PG_CONFIG" --bindir)
	for b in initdb pg_ctl psql "$@"; do
		if [ ! -x "$bindir/$b" ]; then
			echo "$lp_name: $bindir/$b not found (is the PostgreSQL server package installed?)" >&2
			exit 1
		fi
	done

	if [ "$(id -u)" -eq 0 ]; then
		if id postgres >/dev/null 2>&1; then
			pguser=postgres
		else
			pguser=lead_process_demo
			if ! id "$pguser" >/dev/null 2>&1; then
				lp_step "creating OS user $pguser to run PostgreSQL"
				useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
			fi
		fi
		# shellcheck disable=SC2317  # called by the sourcing script
		as_pg() { runuser -u "$pguser" -- "$@"; }
	else
		pguser=$(id -un)
		# shellcheck disable=SC2317
		as_pg() { "$@"; }
	fi

	dir=$(mktemp -d "${TMPDIR:-/tmp}/lead_process_${lp_dbname#lead_process_}.XXXXXX")
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$pguser" "$dir"
	fi
	lp_started=0
	trap lp_cluster_cleanup EXIT
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
		echo "$lp_name: no free port in 54320-54420" >&2
		exit 1
	fi
}

lp_cluster_cleanup() {
	local rc=$?
	set +e
	trap '' PIPE INT TERM HUP	# finish the cleanup even if stdout is gone
	if [ "$rc" -gt 128 ]; then
		echo "$lp_name: interrupted (exit status $rc)" >&2
	elif [ "$rc" -ne 0 ]; then
		echo "$lp_name: failed (exit status $rc)" >&2
		if [ -f "$dir/log" ]; then
			echo "$lp_name: last lines of the server log:" >&2
			tail -n 20 "$dir/log" >&2
		fi
	fi
	if [ "${KEEP:-0}" = 1 ] && [ "$lp_started" = 1 ]; then
		lp_step "KEEP=1: the cluster keeps running in $dir"
		echo "    connect: $bindir/psql -h $dir -p $port -U $pguser -d $lp_dbname" >&2
		if [ "$(id -u)" -eq 0 ]; then
			echo "    stop:    runuser -u $pguser -- $bindir/pg_ctl -D $dir/data stop && rm -rf $dir" >&2
		else
			echo "    stop:    $bindir/pg_ctl -D $dir/data stop && rm -rf $dir" >&2
		fi
	else
		if [ "$lp_started" = 1 ]; then
			lp_step "stopping the cluster and removing $dir"
			(cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -s stop)
		fi
		rm -rf "$dir"
	fi
	exit "$rc"
}

lp_cluster_initdb() {
	lp_step "initdb in $dir (server user $pguser, port $port, Unix socket only)"
	(cd "$dir" && as_pg "$bindir/initdb" -D "$dir/data" -U "$pguser" -E UTF8 --no-locale \
		--auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1) || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	if [ "$#" -gt 0 ]; then
		printf '\n# %s\n' "$lp_name" >>"$dir/data/postgresql.conf"
		printf '%s\n' "$@" >>"$dir/data/postgresql.conf"
	fi
}

lp_cluster_start() {
	(cd "$dir" && as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -s \
		-o "-p $port -k $dir -c listen_addresses='' $*" start)
	lp_started=1
	export PGHOST=$dir PGPORT=$port PGUSER=$pguser
	unset PGSERVICE PGPASSWORD PGOPTIONS || true
}
