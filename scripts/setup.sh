#!/usr/bin/env bash
# Install what lead_process needs on Debian 12, then build and install it.
#
#   bash scripts/setup.sh            (as root, or as a user who may sudo)
#
# Idempotent: apt-get runs only when a package is missing.  PG_CONFIG
# (default /usr/lib/postgresql/15/bin/pg_config) picks the server to build
# against.  The build uses LP_CFLAGS="-Werror -DUSE_ASSERT_CHECKING", as CI does.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		echo "setup.sh: not root, re-running with sudo" >&2
		exec sudo --preserve-env=PG_CONFIG bash "$0" "$@"
	fi
	echo "setup.sh: must run as root (and sudo is not installed)" >&2
	exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

packages=(
	build-essential
	perl
	postgresql-15
	postgresql-server-dev-15
	postgresql-15-pgtap
	postgresql-15-cron
	libipc-run-perl
	libtap-parser-sourcehandler-pgtap-perl
	python3-psycopg2
	clang
	libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "setup.sh: all packages present"
fi

echo "setup.sh: building with $PG_CONFIG"
build=(PG_CONFIG="$PG_CONFIG" LP_CFLAGS="-Werror -DUSE_ASSERT_CHECKING")
make "${build[@]}"
make "${build[@]}" install
