#!/usr/bin/env bash
# A mixed CRM soak: several minutes of concurrent lead, activity (a quarter
# of them with lead_process.defer_scoring on) and contact inserts, stage moves (accept, reject, recycle, advance), routing, sweeps and
# rule edits with pgbench, then every invariant lead_process maintains is
# checked against a recomputation.
#
#   bash bench/soak.sh [seconds] [clients] [leads]      defaults 180 8 5000
#
# The process: scoring with caps, a minimum interval, decay and fast-track;
# fit rules; routing to two teams with capacity; SLA policies (leave-stage
# with reassign and notify, first-contact with flag, attempts with recycle)
# on a round-the-clock calendar that is edited during the soak; stale
# recycling; a recycle limit.
#
# Run it as root or as a normal user; lead_process must already be installed.
# A throwaway cluster (scripts/cluster.sh) runs the soak; it is stopped and
# removed on exit unless KEEP=1.  pgbench runs with --max-tries=20, so
# serialization failures and deadlocks are retried and counted (lead_process
# is designed to produce neither).  Any other error aborts a client and fails
# the soak.
#
# Output: 'soak NAME VALUE' lines (transactions, tps, retries, failures,
# deadlocks, rows per table) and 'invariant NAME VIOLATIONS' lines, each of
# which must be 0; the script exits non-zero when one is not.
set -euo pipefail

secs=${1:-180}
clients=${2:-8}
leads=${3:-5000}
for v in "$secs" "$clients" "$leads"; do
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt 1 ]; then
		echo "usage: bash bench/soak.sh [seconds] [clients] [leads]  (positive integers)" >&2
		exit 2
	fi
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=scripts/cluster.sh
. "$root/scripts/cluster.sh"
lp_cluster_setup soak.sh lead_process_soak pgbench
lp_cluster_initdb "shared_buffers = 256MB" "max_wal_size = 4GB" "synchronous_commit = on" \
	"jit = off" "deadlock_timeout = 200ms" "log_lock_waits = on"
# shellcheck disable=SC2119
lp_cluster_start
export PGDATABASE=lead_process_soak
export PGOPTIONS='-c client_min_messages=warning -c lead_process.notify=off'
p() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

p -d postgres -c "CREATE DATABASE lead_process_soak"
p -v leads="$leads" <<'SQL'
CREATE EXTENSION lead_process;
-- the process: scoring with caps, an interval and decay, fit rules,
-- routing to two teams with capacity, stale recycling, a recycle limit
INSERT INTO lead_process.behaviour_rule (name, activity_type, property, pattern, points, max_occurrences, max_points, min_interval, half_life, fast_track_to) VALUES
	('pricing', 'page_view', 'url', '/pricing%', 5, NULL, 30, NULL, NULL, NULL),
	('page', 'page_view', NULL, NULL, 1, 50, NULL, NULL, NULL, NULL),
	('daily open', 'email_open', NULL, NULL, 2, NULL, NULL, '1 day', NULL, NULL),
	('webinar', 'webinar', NULL, NULL, 10, NULL, NULL, NULL, '14 days', NULL),
	('demo', 'demo_request', NULL, NULL, 30, 1, NULL, NULL, NULL, 'sal');
INSERT INTO lead_process.fit_rule (name, condition, points) VALUES
	('big', '{"attribute": "employees", "op": ">=", "value": 1000}', 15),
	('free mail', '{"attribute": "email", "op": "email-domain", "value": ["gmail.com"]}', -10);
INSERT INTO lead_process.team (name, method) VALUES ('emea', 'round-robin'), ('na', 'least-loaded');
INSERT INTO lead_process.rep (name, team, weight)
SELECT 'rep-' || g, CASE WHEN g <= 4 THEN 'emea' ELSE 'na' END, 1 FROM generate_series(1, 8) g;
INSERT INTO lead_process.rep_capacity (rep, stage, max_leads) SELECT name, 'mql', 40 FROM lead_process.rep;
INSERT INTO lead_process.routing_rule (name, priority, condition, team) VALUES
	('emea', 1, '{"attribute": "country", "op": "in", "value": ["DE", "FR"]}', 'emea'),
	('na', 2, '{"attribute": "country", "op": "in", "value": ["US", "CA"]}', 'na');
UPDATE lead_process.stage SET stale_after = '20 seconds' WHERE name IN ('sal', 'sql');
UPDATE lead_process.stage SET max_recycles = 3 WHERE name = 'lead';
-- SLAs on a round-the-clock calendar, so that clocks run whenever the soak does
INSERT INTO lead_process.calendar (name, time_zone) VALUES ('always', 'UTC');
INSERT INTO lead_process.calendar_hours (calendar, weekday, opens, closes)
SELECT 'always', d, '00:00', '24:00' FROM generate_series(1, 7) d;
INSERT INTO lead_process.sla_policy (name, stage, kind, condition, target, attempts, calendar, action, priority) VALUES
	('hot mql answered', 'mql', 'leave-stage', '{"attribute": "score", "op": ">=", "value": 60}', '10 seconds', NULL, 'always', 'reassign', 1),
	('mql answered', 'mql', 'leave-stage', NULL, '30 seconds', NULL, 'always', 'notify', 2),
	('sal contacted', 'sal', 'first-contact', NULL, '20 seconds', NULL, 'always', 'flag', 1),
	('sql worked', 'sql', 'attempts', NULL, '40 seconds', 2, 'always', 'recycle', 1);
INSERT INTO lead_process.lead (id, email, company, job_title, country, employees, stage)
SELECT g, 'p' || g || CASE WHEN g % 7 = 0 THEN '@gmail.com' ELSE '@corp.example' END,
	   'Company ' || (g % 300), 'Buyer', (ARRAY['DE', 'FR', 'US', 'CA', 'BR'])[1 + g % 5],
	   (g * 37) % 5000, 'lead'
  FROM generate_series(1, :leads) g;
SELECT setval(pg_get_serial_sequence('lead_process.lead', 'id'), :leads);

-- what a CRM does to a lead it works on: the lead is locked first, so the
-- step it picks is still allowed when it moves
CREATE FUNCTION public.soak_step(l_id bigint, r float8) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	SELECT stage INTO s FROM lead_process.lead WHERE id = l_id FOR NO KEY UPDATE;
	IF s = 'mql' THEN
		IF r < 0.6 THEN PERFORM lead_process.accept(l_id);
		ELSE PERFORM lead_process.reject(l_id); END IF;
	ELSIF s = 'sal' THEN
		IF r < 0.5 THEN PERFORM lead_process.move(l_id, 'sql');
		ELSIF r < 0.8 THEN PERFORM lead_process.recycle(l_id, 'unreachable');
		ELSE PERFORM lead_process.route(l_id, reassign => true); END IF;
	ELSIF s = 'sql' THEN
		IF r < 0.5 THEN PERFORM lead_process.move(l_id, 'opportunity');
		ELSE PERFORM lead_process.recycle(l_id, 'returned-not-ready'); END IF;
	ELSIF s = 'opportunity' THEN
		IF r < 0.3 THEN PERFORM lead_process.move(l_id, 'customer');
		ELSE PERFORM lead_process.recycle(l_id, 'closed-lost'); END IF;
	ELSIF s = 'lead' AND r < 0.05 THEN
		PERFORM lead_process.disqualify(l_id, 'not-a-fit');
	END IF;
END
$$;
SQL

# The workload: one script per kind of client request, weighted
w=$dir/workload
mkdir -p "$w"
cat >"$w/activity.pgb" <<SQL
\\set u random(0, 999999)
\\set lead 1 + (:u * :u * $leads) / 1000000000000
\\set k random(1, 100)
INSERT INTO lead_process.activity (lead_id, type, properties)
VALUES (:lead, CASE WHEN :k <= 50 THEN 'page_view' WHEN :k <= 80 THEN 'email_open'
					WHEN :k <= 97 THEN 'webinar' ELSE 'demo_request' END,
		CASE WHEN :k <= 20 THEN '{"url": "/pricing"}'::jsonb ELSE '{"url": "/blog"}'::jsonb END);
SQL
cat >"$w/deferred.pgb" <<SQL
\\set u random(0, 999999)
\\set lead 1 + (:u * :u * $leads) / 1000000000000
\\set k random(1, 100)
BEGIN;
SET LOCAL lead_process.defer_scoring = on;
INSERT INTO lead_process.activity (lead_id, type, properties)
VALUES (:lead, CASE WHEN :k <= 50 THEN 'page_view' WHEN :k <= 80 THEN 'email_open'
					WHEN :k <= 97 THEN 'webinar' ELSE 'demo_request' END,
		CASE WHEN :k <= 20 THEN '{"url": "/pricing"}'::jsonb ELSE '{"url": "/blog"}'::jsonb END);
COMMIT;
SQL
cat >"$w/batch.pgb" <<SQL
\\set first random(1, $leads - 50)
INSERT INTO lead_process.activity (lead_id, type, properties)
SELECT :first + g % 50, CASE WHEN g % 3 = 0 THEN 'email_open' ELSE 'page_view' END, '{"url": "/pricing"}'
  FROM generate_series(1, 200) g;
SQL
cat >"$w/lead.pgb" <<'SQL'
\set e random(1, 1000000)
INSERT INTO lead_process.lead (email, company, job_title, country, employees)
VALUES ('new' || :e || '@corp.example', 'New Co', 'Buyer', 'DE', :e % 3000);
SQL
cat >"$w/contact.pgb" <<SQL
\\set lead random(1, $leads)
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome)
VALUES (:lead, 'call', 'no-answer');
SQL
cat >"$w/move.pgb" <<SQL
\\set lead random(1, $leads)
\\set r random(0, 999)
SELECT public.soak_step(:lead, :r / 1000.0);
SQL
cat >"$w/profile.pgb" <<SQL
\\set lead random(1, $leads)
UPDATE lead_process.lead SET employees = (employees + 500) % 6000 WHERE id = :lead;
SQL
cat >"$w/sweep.pgb" <<'SQL'
SELECT * FROM lead_process.sweep(now());
SQL
cat >"$w/calendar.pgb" <<'SQL'
\set h random(0, 1)
INSERT INTO lead_process.calendar_holiday (calendar, day, closed_from, closed_until)
VALUES ('always', DATE '2031-01-01' + :h, '10:00', '11:00');
DELETE FROM lead_process.calendar_holiday WHERE calendar = 'always';
SQL
cat >"$w/rule.pgb" <<'SQL'
\set d random(1, 1000000)
UPDATE lead_process.behaviour_rule SET description = 'edited ' || :d WHERE name = 'page';
UPDATE lead_process.fit_rule SET description = 'edited ' || :d WHERE name = 'big';
SQL

lp_step "soak: $clients clients, $secs s, $leads leads"
log=$dir/pgbench.log
if ! "$bindir/pgbench" -n -c "$clients" -j "$clients" -T "$secs" --max-tries=20 \
	-f "$w/activity.pgb@45" -f "$w/deferred.pgb@15" -f "$w/batch.pgb@2" -f "$w/lead.pgb@5" -f "$w/contact.pgb@10" \
	-f "$w/move.pgb@15" -f "$w/profile.pgb@6" -f "$w/sweep.pgb@1" -f "$w/rule.pgb@1" \
	-f "$w/calendar.pgb@1" \
	>"$log" 2>&1; then
	echo "soak.sh: pgbench failed (an undocumented error aborted a client):" >&2
	tail -n 30 "$log" >&2
	exit 1
fi
awk '
	/^number of transactions actually processed/ { split($0, a, ": "); split(a[2], b, "/"); print "soak transactions " b[1] }
	/^number of failed transactions/ { print "soak failed_transactions " $5 }
	/^number of transactions retried/ { print "soak retried_transactions " $5 }
	/^total number of retries/ { print "soak retries " $5 }
	/^tps/ { print "soak tps " $3 }' "$log"

# Invariants, each a count of violations
out=$(p -At <<'SQL'
SELECT 'soak deadlocks ' || deadlocks FROM pg_stat_database WHERE datname = current_database();
SELECT 'soak rows_' || t || ' ' || n FROM (VALUES
	('lead', (SELECT count(*) FROM lead_process.lead)),
	('activity', (SELECT count(*) FROM lead_process.activity)),
	('stage_history', (SELECT count(*) FROM lead_process.stage_history)),
	('assignment', (SELECT count(*) FROM lead_process.assignment)),
	('event', (SELECT count(*) FROM lead_process.event))) v(t, n);
-- every lead's history is a chain from its creation to its current stage
WITH h AS (
	SELECT lead_id, from_stage, to_stage,
		   lag(to_stage) OVER (PARTITION BY lead_id ORDER BY id) AS prev_to,
		   row_number() OVER (PARTITION BY lead_id ORDER BY id DESC) AS rev
	  FROM lead_process.stage_history)
SELECT 'invariant history_chain ' || count(*) FROM (
	SELECT lead_id FROM h WHERE from_stage IS DISTINCT FROM prev_to
	UNION ALL
	SELECT l.id FROM lead_process.lead l JOIN h ON h.lead_id = l.id AND h.rev = 1 WHERE l.stage <> h.to_stage
	UNION ALL
	SELECT l.id FROM lead_process.lead l WHERE NOT EXISTS (SELECT 1 FROM h WHERE h.lead_id = l.id)) x;
-- every history row and every assignment has its event, and the reverse
SELECT 'invariant history_events ' || count(*)
  FROM lead_process.stage_history h
  FULL JOIN (SELECT * FROM lead_process.event WHERE type NOT IN ('lead_assigned', 'sla_breached')) e
	ON (e.payload->>'history_id')::bigint = h.id
 WHERE h.id IS NULL OR e.id IS NULL;
SELECT 'invariant assignment_events ' || count(*)
  FROM lead_process.assignment a
  FULL JOIN (SELECT * FROM lead_process.event WHERE type = 'lead_assigned') e
	ON (e.payload->>'assignment_id')::bigint = a.id
 WHERE a.id IS NULL OR e.id IS NULL;
-- the owner of every lead is its last assignment's
SELECT 'invariant owner_is_last_assignment ' || count(*)
  FROM lead_process.lead l
  LEFT JOIN LATERAL (SELECT a.owner FROM lead_process.assignment a WHERE a.lead_id = l.id
					  ORDER BY a.id DESC LIMIT 1) a ON true
 WHERE l.owner IS DISTINCT FROM a.owner;
-- no rep owns more mqls than its capacity
SELECT 'invariant capacity ' || count(*)
  FROM lead_process.rep_capacity c
 WHERE (SELECT count(*) FROM lead_process.lead l WHERE l.owner = c.rep AND l.stage = c.stage) > c.max_leads;
-- the routing state is the count of routing's assignments
SELECT 'invariant routing_state ' || count(*)
  FROM lead_process.rep r LEFT JOIN lead_process.rep_state s ON s.rep = r.name
 WHERE coalesce(s.assigned, 0) <> (SELECT count(*) FROM lead_process.assignment a
									 WHERE a.owner = r.name AND a.cause IN ('handoff', 'route'));
-- SLA clocks: a running clock belongs to the lead's current stage, at most
-- one runs per lead, policy and stage entry, and every breach was handled
SELECT 'invariant sla_running_in_stage ' || count(*)
  FROM lead_process.sla_clock c JOIN lead_process.lead l ON l.id = c.lead_id
 WHERE c.state = 'running' AND c.stage <> l.stage;
SELECT 'invariant sla_one_running ' || count(*) FROM (
	SELECT lead_id, kind FROM lead_process.sla_clock WHERE state = 'running'
	 GROUP BY lead_id, kind HAVING count(*) > 1) x;
SELECT 'invariant sla_breach_events ' || count(*)
  FROM lead_process.sla_clock c
 WHERE c.state = 'breached'
   AND NOT EXISTS (SELECT 1 FROM lead_process.event e
					WHERE e.type = 'sla_breached' AND e.lead_id = c.lead_id);
SELECT 'soak sla_clocks ' || string_agg(state || ':' || n, ' ' ORDER BY state)
  FROM (SELECT state, count(*) AS n FROM lead_process.sla_clock GROUP BY state) x;
-- deferred activities: what the sweeps left is scored now, nothing stays queued
SELECT 'soak deferred_scored_at_end ' || lead_process.score_pending();
SELECT 'invariant queue_empty ' || count(*) FROM lead_process.score_queue;
-- no activity without its lead
SELECT 'invariant orphan_activities ' || count(*) FROM lead_process.activity a
 WHERE NOT EXISTS (SELECT 1 FROM lead_process.lead l WHERE l.id = a.lead_id);
-- the kept scores equal a recomputation from the profiles and activities
-- (the rule edits changed descriptions only)
SELECT 'invariant fit_scores ' || lead_process.rescore_fit();
CREATE TEMP TABLE kept AS
	SELECT id, behaviour_score, lead_process.current_score(l, now() + interval '1 hour') AS cs
	  FROM lead_process.lead l;
SELECT 'soak rescore_rewrote ' || lead_process.rescore_behaviour();
SELECT 'invariant behaviour_scores ' || count(*)
  FROM kept k JOIN lead_process.lead l USING (id)
 WHERE k.behaviour_score <> l.behaviour_score
	OR abs(k.cs - lead_process.current_score(l, now() + interval '1 hour')) > 1;
SELECT 'invariant score_sum ' || count(*) FROM lead_process.lead
 WHERE score <> fit_score + behaviour_score;
-- the metric rollups (folded by the sweeps and not) equal a rebuild from the
-- history: funnel and lead flow, every grain and slice
CREATE TEMP TABLE metrics_kept AS
	SELECT 'funnel' AS v, x::text AS r FROM lead_process.metric_funnel x
	UNION ALL SELECT 'flow', x::text FROM lead_process.metric_lead_flow x;
SELECT 'soak metric_rows ' || count(*) FROM metrics_kept;
SELECT 'soak metrics_rebuilt ' || lead_process.rebuild_metrics();
CREATE TEMP TABLE metrics_rebuilt AS
	SELECT 'funnel' AS v, x::text AS r FROM lead_process.metric_funnel x
	UNION ALL SELECT 'flow', x::text FROM lead_process.metric_lead_flow x;
SELECT 'invariant metrics_vs_rebuild ' || count(*) FROM (
	(SELECT v, r FROM metrics_kept EXCEPT ALL SELECT v, r FROM metrics_rebuilt)
	UNION ALL
	(SELECT v, r FROM metrics_rebuilt EXCEPT ALL SELECT v, r FROM metrics_kept)) d;
SQL
)
echo "$out"
if echo "$out" | awk '$1 == "invariant" && $3 != 0 { bad = 1 } $1 == "soak" && $2 == "deadlocks" && $3 != 0 { bad = 1 } END { exit !bad }'; then
	echo "soak.sh: invariant violations or deadlocks" >&2
	exit 1
fi
