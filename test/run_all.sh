#!/usr/bin/env bash
# shellcheck disable=SC2016  # bash -c scripts expand $0, $@ in the child shell
# Run every lead_process test suite and close with one line "N passed, N failed".
#
#   bash test/run_all.sh
#
# As root (CI, or a fresh Debian 12 machine): runs scripts/setup.sh (packages,
# build with -Werror -DUSE_ASSERT_CHECKING, make install), copies the working
# tree into a fresh temporary directory owned by the OS user $LP_TEST_USER and
# runs the suites there as that user, since PostgreSQL refuses to run as root.
# The user is `postgres` (created by Debian's postgresql package; created here
# if missing), so the bootstrap superuser of every test server is `postgres`,
# as in the expected outputs.
# As any other user: skips setup (lead_process must already be built and
# installed) and runs the suites in place.
#
# Suites, each counted once in the closing line:
#   regress    make installcheck, REGRESS only    (private server, tmp_check_regress/)
#   isolation  make installcheck, ISOLATION only  (private server, tmp_check_iso/)
#   tap        make installcheck, TAP_TESTS only  (PostgreSQL::Test::Cluster, tmp_check/)
#   pgtap      make pgtap, against a server this script starts
# The three parts of `make installcheck` run as three calls so that one failing
# suite does not hide the others.
#
# pgTAP: every run initdb's a new cluster, creates a fresh database and runs
# CREATE EXTENSION pgtap and CREATE EXTENSION lead_process in it before
# `make pgtap`.  Test files may rely on both; a file may still say
# CREATE EXTENSION IF NOT EXISTS ..., which is then a no-op.  All files share
# that database, so each one wraps itself in BEGIN ... ROLLBACK and leaves
# nothing behind.  The server listens on a Unix socket in its own temporary
# directory only (no TCP), so its port cannot clash with another server.
#
# On failure the script prints regression.diffs (regress, isolation), the TAP
# logs (tmp_check/log/*) and server logs, and exits non-zero.  No server is
# left running: an exit trap stops every server started under the work tree.
#
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config),
# LP_TEST_USER (default postgres), LP_KEEP_TMP=1 to keep the temporary directory
# (it is always kept when a suite fails).  The locale is C.UTF-8 whatever the
# caller's, so outputs do not depend on it.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LP_TEST_USER=${LP_TEST_USER:-postgres}
SUITES=(regress isolation tap pgtap)

export LANG=C.UTF-8 LC_ALL=C.UTF-8
# Connection settings of the caller must not reach the test servers.
for v in $(compgen -v PG); do
	[ "$v" = PG_CONFIG ] || unset "$v"
done

summary() {
	# summary PASSED FAILED
	echo
	echo "$1 passed, $2 failed"
}

log() { echo "run_all: $*"; }

# ---------------------------------------------------------------- setup
if [ "$(id -u)" -eq 0 ]; then
	AS_ROOT=1
	log "running scripts/setup.sh"
	if ! bash "$REPO/scripts/setup.sh"; then
		log "setup failed; no suite ran"
		summary 0 "${#SUITES[@]}"
		exit 1
	fi
else
	AS_ROOT=0
	log "not root: skipping scripts/setup.sh; lead_process must already be installed"
fi

if [ ! -x "$PG_CONFIG" ] && ! command -v "$PG_CONFIG" >/dev/null 2>&1; then
	log "pg_config not found: $PG_CONFIG"
	summary 0 "${#SUITES[@]}"
	exit 1
fi
PG_BINDIR=$("$PG_CONFIG" --bindir)
export PATH="$PG_BINDIR:$PATH"
export PG_CONFIG

# ---------------------------------------------------------------- work tree
# As root, under /tmp: the test user must be able to reach it.
if [ "$AS_ROOT" -eq 1 ]; then
	WORK=$(mktemp -d /tmp/lead_process_test.XXXXXX)
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/lead_process_test.XXXXXX")
fi
if [ -z "$WORK" ] || [ ! -d "$WORK" ]; then
	log "cannot create a temporary directory"
	summary 0 "${#SUITES[@]}"
	exit 1
fi
KEEP=${LP_KEEP_TMP:-0}

if [ "$AS_ROOT" -eq 1 ]; then
	if ! id -u "$LP_TEST_USER" >/dev/null 2>&1; then
		log "creating system user $LP_TEST_USER"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /bin/bash "$LP_TEST_USER"
	fi
	TREE="$WORK/src"
	mkdir "$TREE"
	# The working tree as it is (tracked or not, built objects included),
	# without VCS data and earlier test output.
	tar -C "$REPO" -cf - \
		--exclude=./.git --exclude='./tmp_check*' --exclude=./results \
		--exclude=./regression.diffs --exclude=./regression.out \
		--exclude=./test/output_iso --exclude=./log . |
		tar -C "$TREE" -xf -
	chown -R "$LP_TEST_USER:" "$WORK"
	log "testing a copy of the tree in $TREE as user $LP_TEST_USER"
else
	TREE="$REPO"
	log "testing in place in $TREE as user $(id -un)"
fi
mkdir -p "$WORK/tmp"
[ "$AS_ROOT" -eq 1 ] && chown "$LP_TEST_USER:" "$WORK/tmp"

# as_user DIR CMD...: run CMD in DIR as the test user, with this environment
as_user() {
	local dir=$1
	shift
	if [ "$AS_ROOT" -eq 1 ]; then
		runuser -u "$LP_TEST_USER" -- env HOME="$WORK" TMPDIR="$WORK/tmp" \
			bash -c 'cd "$0" && exec "$@"' "$dir" "$@"
	else
		TMPDIR="$WORK/tmp" bash -c 'cd "$0" && exec "$@"' "$dir" "$@"
	fi
}

# Stop every server whose data directory lies under the work tree or the
# tree tested (pg_regress and TAP servers are normally stopped already).
stop_servers() {
	local pidfile
	while IFS= read -r pidfile; do
		[ -n "$pidfile" ] || continue
		log "stopping server in $(dirname "$pidfile")"
		as_user / pg_ctl -D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 || true
	done < <(find "$WORK" "$TREE"/tmp_check* -name postmaster.pid 2>/dev/null | sort -u)
}

FAILED_ANY=0
cleanup() {
	stop_servers
	if [ "$KEEP" = 1 ] || [ "$FAILED_ANY" = 1 ]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# show FILE [LINES]: print a file under a header, its last LINES lines if long
show() {
	local f=$1 n=${2:-400}
	[ -s "$f" ] || return 0
	echo "======== ${f#"$TREE"/} ========"
	if [ "$(wc -l <"$f")" -gt "$n" ]; then
		echo "(last $n lines)"
		tail -n "$n" "$f"
	else
		cat "$f"
	fi
}

# ---------------------------------------------------------------- suites
MAKE_VARS=(PG_CONFIG="$PG_CONFIG")

suite_regress() {
	as_user "$TREE" make "${MAKE_VARS[@]}" installcheck ISOLATION= TAP_TESTS=
}
# new_results RESULTSDIR EXPECTEDDIR: show outputs that have no expected file
new_results() {
	local f
	for f in "$1"/*.out; do
		[ -f "$f" ] && [ ! -f "$2/$(basename "$f")" ] && show "$f" 1000
	done
	return 0
}

fail_regress() {
	show "$TREE/regression.diffs" 1000
	new_results "$TREE/results" "$TREE/expected"
	show "$TREE/tmp_check_regress/log/initdb.log" 100
	show "$TREE/tmp_check_regress/log/postmaster.log" 100
}

suite_isolation() {
	as_user "$TREE" make "${MAKE_VARS[@]}" installcheck REGRESS= TAP_TESTS=
}
fail_isolation() {
	show "$TREE/test/output_iso/regression.diffs" 1000
	new_results "$TREE/test/output_iso/results" "$TREE/test/expected"
	show "$TREE/tmp_check_iso/log/initdb.log" 100
	show "$TREE/tmp_check_iso/log/postmaster.log" 100
}

suite_tap() {
	as_user "$TREE" make "${MAKE_VARS[@]}" installcheck REGRESS= ISOLATION=
}
fail_tap() {
	local f
	for f in "$TREE"/tmp_check/log/*; do
		show "$f" 300
	done
}

PGTAP_DIR="$WORK/pgtap"
suite_pgtap() {
	local port=$((50000 + RANDOM % 10000)) db=lead_process_pgtap
	mkdir -p "$PGTAP_DIR"
	[ "$AS_ROOT" -eq 1 ] && chown "$LP_TEST_USER:" "$PGTAP_DIR"
	as_user "$PGTAP_DIR" initdb -D "$PGTAP_DIR/data" -A trust --no-sync -E UTF8 \
		--locale=C.UTF-8 >"$PGTAP_DIR/initdb.log" 2>&1 || {
		cat "$PGTAP_DIR/initdb.log"
		return 1
	}
	{
		cat "$TREE/test/lead_process.conf"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$PGTAP_DIR'"
		echo "port = $port"
	} >>"$PGTAP_DIR/data/postgresql.conf" || return 1
	as_user "$PGTAP_DIR" pg_ctl -D "$PGTAP_DIR/data" -l "$PGTAP_DIR/server.log" -w start \
		>/dev/null || return 1
	local rc=0
	as_user "$TREE" env PGHOST="$PGTAP_DIR" PGPORT="$port" PGDATABASE="$db" bash -c '
		createdb "$PGDATABASE" &&
		psql -X -q -v ON_ERROR_STOP=1 \
			-c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION lead_process" &&
		make "$@" pgtap' _ "${MAKE_VARS[@]}" || rc=1
	as_user "$PGTAP_DIR" pg_ctl -D "$PGTAP_DIR/data" -m fast -w stop >/dev/null || rc=1
	return $rc
}
fail_pgtap() {
	show "$PGTAP_DIR/server.log" 200
}

PASSED=0
FAILED=0
RESULTS=()
for s in "${SUITES[@]}"; do
	echo
	log "======== suite $s ========"
	start=$SECONDS
	if "suite_$s"; then
		PASSED=$((PASSED + 1))
		RESULTS+=("$s: ok ($((SECONDS - start))s)")
	else
		FAILED=$((FAILED + 1))
		FAILED_ANY=1
		RESULTS+=("$s: FAILED ($((SECONDS - start))s)")
		log "suite $s failed; output follows"
		"fail_$s"
	fi
done

trap - EXIT
cleanup
echo
log "summary"
for r in "${RESULTS[@]}"; do
	echo "  $r"
done
summary "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
