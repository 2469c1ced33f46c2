# Crash in the middle of a load: kill -9 the server while clients insert
# activities (scored and promoting leads) and move leads; after recovery
# every invariant the triggers maintain still holds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "lead_process.notify = off\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lead_process;
	INSERT INTO lead_process.behaviour_rule (name, activity_type, points, max_occurrences, fast_track_to)
	VALUES ('visit', 'page_view', 3, 30, NULL), ('demo', 'demo_request', 30, NULL, 'sal');
	INSERT INTO lead_process.lead (id, email, company, job_title, stage)
	SELECT g, 'u' || g || '@corp.example', 'Corp', 'CTO', 'lead' FROM generate_series(1, 2000) g;
});

# Clients: single activities, small batches, and manual moves
my $script = $node->basedir . '/load.pgb';
open(my $fh, '>', $script) or die;
print $fh <<'EOS';
\set lead random(1, 2000)
\set other random(1, 2000)
BEGIN;
INSERT INTO lead_process.activity (lead_id, type) VALUES (:lead, 'page_view');
INSERT INTO lead_process.activity (lead_id, type)
SELECT :other, CASE WHEN random() < 0.05 THEN 'demo_request' ELSE 'page_view' END FROM generate_series(1, 5);
SELECT lead_process.move(:lead, 'sql') FROM lead_process.lead WHERE id = :lead AND stage = 'sal';
END;
EOS
close $fh;

my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '60', '-f', $script, $node->connstr('postgres') ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres', 'SELECT count(*) > 3000 FROM lead_process.activity')
  or die "the load did not start: $err";
my $postmaster = $node->{_pid};
$node->kill9;
IPC::Run::finish($bench);	# the clients fail with the server gone
# the killed postmaster disappears once it is reaped
for (1 .. 300)
{
	last unless kill(0, $postmaster);
	select(undef, undef, undef, 0.1);
}
ok(!kill(0, $postmaster), 'the killed postmaster is gone');
$node->start;

my $activities = $node->safe_psql('postgres', 'SELECT count(*) FROM lead_process.activity');
ok($activities > 3000, "activities committed before the crash survive ($activities)");

is($node->safe_psql('postgres', 'SELECT lead_process.rescore_behaviour()'), '0',
	'every behaviour score and tally equals a recomputation from the activities');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM lead_process.lead WHERE score <> fit_score + behaviour_score'), '0',
	'score = fit_score + behaviour_score for every lead');
is($node->safe_psql('postgres', q{
	WITH h AS (
		SELECT h.*, lag(h.to_stage) OVER (PARTITION BY h.lead_id ORDER BY h.id) AS prev_to,
			   row_number() OVER (PARTITION BY h.lead_id ORDER BY h.id DESC) AS rev
		  FROM lead_process.stage_history h WHERE h.kind <> 'status')
	SELECT count(*) FROM (
		SELECT h.lead_id FROM h WHERE h.from_stage IS DISTINCT FROM h.prev_to
		UNION ALL
		SELECT l.id FROM lead_process.lead l JOIN h ON h.lead_id = l.id AND h.rev = 1
		 WHERE l.stage <> h.to_stage) broken}), '0',
	'every lead\'s history is a chain ending in its current stage');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM lead_process.stage_history h
	  FULL JOIN (SELECT * FROM lead_process.event WHERE type <> 'lead_assigned') e
	    ON (e.payload->>'history_id')::bigint = h.id
	 WHERE h.id IS NULL OR e.id IS NULL}), '0',
	'every history row has its outbox event and the reverse');
ok($node->safe_psql('postgres',
	"SELECT count(*) FROM lead_process.stage_history WHERE cause IN ('score', 'fast-track')") > 0,
	'the load promoted leads before the crash');

# And the extension keeps working
$node->safe_psql('postgres', q{INSERT INTO lead_process.activity (lead_id, type) VALUES (1, 'page_view')});
is($node->safe_psql('postgres', 'SELECT lead_process.rescore_behaviour()'), '0', 'scoring works after recovery');

$node->stop;
done_testing();
