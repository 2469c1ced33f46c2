# Dump and restore a populated database with the documented procedure
# (docs/install.md): the restored database has the same configuration, leads
# and history, no history row is written twice, the identity sequences go on
# where they were, and the stage machine works on the restored data.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('src', q{
	CREATE EXTENSION lead_process;
	-- configuration changed in every way: edited, added and deleted rows
	UPDATE lead_process.stage SET definition = 'Qualified by marketing (edited)' WHERE name = 'mql';
	INSERT INTO lead_process.reason (code, kind, description) VALUES ('no-budget', 'recycle', 'No budget');
	DELETE FROM lead_process.reason WHERE code = 'stale';
	DELETE FROM lead_process.transition WHERE from_stage = 'subscriber' AND to_stage = 'mql';
	-- leads with history
	INSERT INTO lead_process.lead (id, stage, stage_changed_at, owner)
	SELECT g, 'lead', '2026-01-01 00:00+00', 'rep-' || g % 3 FROM generate_series(1, 200) g;
	UPDATE lead_process.lead SET stage = 'mql', stage_changed_at = '2026-01-05 00:00+00' WHERE id % 2 = 0;
	UPDATE lead_process.lead SET stage = 'sal', stage_changed_at = '2026-01-06 00:00+00' WHERE id % 4 = 0;
	-- the metrics: part folded into the rollup, part still in deltas
	SELECT lead_process.fold_metrics();
	UPDATE lead_process.lead SET stage = 'lead', stage_reason = 'no-budget' WHERE id % 8 = 0;
	INSERT INTO lead_process.activity (lead_id, type, occurred_at)
	SELECT 1 + g % 200, 'page_view', '2026-01-02 00:00+00' FROM generate_series(1, 900) g;
	-- activities queued by deferred scoring and not scored yet
	SET lead_process.defer_scoring = on;
	INSERT INTO lead_process.activity (lead_id, type, occurred_at)
	SELECT 1 + g % 200, 'page_view', '2026-01-02 00:00+00' FROM generate_series(901, 1000) g;
	RESET lead_process.defer_scoring;
	INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
	SELECT g, '2026-01-05 02:00+00', 'call', 'connected', 'rep-' || g % 3 FROM generate_series(2, 200, 2) g;
});

# Everything the extension keeps, as one digest per table
my $digest = q{
	SELECT string_agg(t || ' ' || n || ' ' || d, E'\n' ORDER BY t) FROM (
		SELECT 'stage' t, count(*) n, md5(string_agg(x::text, ',' ORDER BY x::text)) d FROM lead_process.stage x
		UNION ALL SELECT 'stage_status', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.stage_status x
		UNION ALL SELECT 'transition', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.transition x
		UNION ALL SELECT 'reason', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.reason x
		UNION ALL SELECT 'lead', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.lead x
		UNION ALL SELECT 'activity', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.activity x
		UNION ALL SELECT 'stage_history', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.stage_history x
		UNION ALL SELECT 'score_queue', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.score_queue x
	) q
};
# What BI tools see: every metric view (but the columns that depend on now())
my $metrics = q{
	SELECT string_agg(v || ' ' || n || ' ' || d, E'\n' ORDER BY v) FROM (
		SELECT 'funnel' v, count(*) n, md5(string_agg(x::text, ',' ORDER BY x::text)) d FROM lead_process.metric_funnel x
		UNION ALL SELECT 'conversion_period', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_conversion_period x
		UNION ALL SELECT 'conversion_cohort', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_conversion_cohort x
		UNION ALL SELECT 'lead_flow', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_lead_flow x
		UNION ALL SELECT 'revenue', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_revenue x
		UNION ALL SELECT 'followup_time', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_followup_time x
		UNION ALL SELECT 'time_in_stage', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_time_in_stage x
		UNION ALL SELECT 'recycles', count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM lead_process.metric_recycles x
		UNION ALL SELECT 'work_queue', count(*), md5(string_agg((x.lead_id, x.queue_position)::text, ',' ORDER BY x.lead_id)) FROM lead_process.work_queue x
		UNION ALL SELECT 'scorecard', count(*), md5(string_agg((x.lead_id, x.stage, x.last_activity_at)::text, ',' ORDER BY x.lead_id)) FROM lead_process.lead_scorecard x
		UNION ALL SELECT 'unfolded deltas', count(*), '' FROM lead_process.metric_delta
	) q
};
my $metrics_before = $node->safe_psql('src', $metrics);
like($metrics_before, qr/unfolded deltas [1-9]/, 'source has unfolded metric deltas');
my $before = $node->safe_psql('src', $digest);
like($before, qr/stage_history 375 /, 'source has 200 creates and 175 changes in its history');
like($before, qr/score_queue 1 /, 'source has a statement of activities queued for scoring');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
		'pg_restore with session_replication_role = replica');
}
my $after = $node->safe_psql('dst', $digest);
is($after, $before, 'configuration, leads, activities and history restored identically');
is($node->safe_psql('dst', $metrics), $metrics_before, 'every metric view reads the same after the restore');
$node->safe_psql('dst', 'SELECT lead_process.rebuild_metrics()');
my $rebuilt = $node->safe_psql('dst', $metrics);
$metrics_before =~ s/unfolded deltas \d+/unfolded deltas 0/;
is($rebuilt, $metrics_before, 'and the same after rebuild_metrics() on the restored database');

# The queued activities survive the restore and are scored there
is($node->safe_psql('dst', 'SELECT lead_process.score_pending()'), '100',
	'the activities queued before the dump are scored after the restore');

# The restored database works: new ids follow the old ones, no id is reused,
# the edited configuration applies
$node->safe_psql('dst', q{
	INSERT INTO lead_process.lead (id, stage) VALUES (201, 'lead');
	INSERT INTO lead_process.activity (lead_id, type) VALUES (201, 'page_view');
	SELECT lead_process.recycle(4, 'no-budget');
});
is($node->safe_psql('dst', 'SELECT min(id) FROM lead_process.stage_history WHERE lead_id = 201'), '376',
	'the history identity continues after the restored ids');
is($node->safe_psql('dst', 'SELECT id FROM lead_process.activity WHERE lead_id = 201'), '1001',
	'the activity identity continues after the restored ids');
is($node->safe_psql('dst', q{SELECT count(*) FROM lead_process.stage_history GROUP BY id HAVING count(*) > 1}),
	'', 'no history id is reused');
my ($ret, $out, $err) = $node->psql('dst', q{SELECT lead_process.move(5, 'sal')});
is($ret, 0, 'moves work after the restore');
($ret, $out, $err) = $node->psql('dst', q{SELECT lead_process.recycle(5, 'stale')});
like($err, qr/invalid recycle reason "stale"/, 'a reason deleted before the dump stays deleted');

# Without the procedure, the restore does not silently double the history:
# it fails on the seeded configuration
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->command_fails([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('plain'), $dump ],
	'a plain pg_restore fails');
$node->stop;
done_testing();
