#!/usr/bin/env bash
# Cost of the stage machine, measured in one run against a running server
# (connection from the usual PG* variables; lead_process must be installable):
#
#   bash bench/stage_machine.sh [leads]          default 100000
#
# Loads the same leads, each in one statement, into
#   bare     a copy of lead_process.lead with no trigger, FK or history
#   ours     lead_process.lead (stage and status filled in, initial history row)
# then moves every lead one stage (lead -> mql) with one UPDATE in each, and
# updates a column the stage machine and the scores do not depend on (owner)
# of every lead, which must stay cheap.
# Prints 'time NAME SECONDS' lines and 'ratio NAME X' lines (throughput of
# ours over bare; 1.0 means free).  Drops and recreates the extension.
set -euo pipefail
shopt -s inherit_errexit	# a failing statement fails the run, not a timing
export PGOPTIONS='-c client_min_messages=warning -c lead_process.notify=off'
leads=${1:-100000}
p() { psql -qX -v ON_ERROR_STOP=1 "$@"; }

p -c 'DROP EXTENSION IF EXISTS lead_process CASCADE' -c 'DROP TABLE IF EXISTS bench_bare'
p -c 'CREATE EXTENSION lead_process'
# same columns, defaults, constraints and indexes; no trigger, no foreign key
p -c 'CREATE TABLE bench_bare (LIKE lead_process.lead INCLUDING ALL)'

timed() { # NAME SQL
	local t0 t1
	t0=$(date +%s.%N)
	p -c "$2"
	t1=$(date +%s.%N)
	awk -v n="$1" -v a="$t0" -v b="$t1" 'BEGIN{printf "time %s %.3f\n", n, b-a}'
}

rows="SELECT g, 'user' || g || '@corp' || (g % 500) || '.example', 'Company ' || (g % 500), 'lead', 'new', now()
      FROM generate_series(1, $leads) g"
out=$({
	timed insert_bare "INSERT INTO bench_bare (id, email, company, stage, status, stage_changed_at) $rows"
	timed insert_ours "INSERT INTO lead_process.lead (id, email, company, stage, status, stage_changed_at) $rows"
	p -c 'CHECKPOINT' -c 'VACUUM ANALYZE bench_bare' -c 'VACUUM ANALYZE lead_process.lead'
	timed move_bare "UPDATE bench_bare SET stage = 'mql'"
	timed move_ours "UPDATE lead_process.lead SET stage = 'mql'"
	p -c 'CHECKPOINT' -c 'VACUUM ANALYZE bench_bare' -c 'VACUUM ANALYZE lead_process.lead'
	timed other_bare "UPDATE bench_bare SET owner = 'rep-' || (id % 12)"
	timed other_ours "UPDATE lead_process.lead SET owner = 'rep-' || (id % 12)"
})
echo "$out"
echo "$out" | awk '
	{ t[$2] = $3 }
	END {
		printf "ratio insert_vs_bare %.2f\n", t["insert_bare"] / t["insert_ours"]
		printf "ratio move_vs_bare %.2f\n", t["move_bare"] / t["move_ours"]
		printf "ratio other_update_vs_bare %.2f\n", t["other_bare"] / t["other_ours"]
	}'
p -At -c "SELECT 'check history ' || count(*) FROM lead_process.stage_history"
p -c 'DROP TABLE bench_bare' -c 'DROP EXTENSION lead_process'
