# pg_cron schedules lead_process.sweep(): a lead whose SLA clock is overdue
# is reassigned by the scheduled sweep, with its sla_breached event.
#
# The installed pg_cron (1.4 on Debian 12) has no seconds schedules, so the
# job runs every minute and the test polls for up to 90 seconds.  The jobs
# run in background workers (cron.use_background_workers), so no TCP
# connection is needed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
lead_process.notify = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION lead_process;
	INSERT INTO lead_process.calendar (name, time_zone) VALUES ('always', 'UTC');
	INSERT INTO lead_process.calendar_hours (calendar, weekday, opens, closes)
	SELECT 'always', d, '00:00', '24:00' FROM generate_series(1, 7) d;
	INSERT INTO lead_process.team (name) VALUES ('t');
	INSERT INTO lead_process.rep (name, team) VALUES ('r1', 't'), ('r2', 't');
	INSERT INTO lead_process.routing_rule (name, team) VALUES ('all', 't');
	INSERT INTO lead_process.sla_policy (name, stage, kind, target, calendar, action)
	VALUES ('accept within an hour', 'mql', 'leave-stage', '1 hour', 'always', 'reassign');
	-- handed off two hours ago: overdue by one hour
	INSERT INTO lead_process.lead (id, email, stage, stage_changed_at)
	VALUES (1, 'a@example.com', 'mql', now() - interval '2 hours');
});
my $owner = $node->safe_psql('postgres', 'SELECT owner FROM lead_process.lead WHERE id = 1');
is($node->safe_psql('postgres',
	"SELECT state FROM lead_process.sla_clock WHERE lead_id = 1"), 'running',
	'the overdue clock runs until a sweep sees it');

my $job = $node->safe_psql('postgres',
	q{SELECT cron.schedule('lead_process sweep', '* * * * *', 'SELECT lead_process.sweep()')});
ok($job > 0, "sweep scheduled as pg_cron job $job");

$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM lead_process.sla_clock WHERE lead_id = 1 AND state = 'breached'},
	't', 90)
  or die 'pg_cron did not run the sweep within 90 seconds';

is($node->safe_psql('postgres', q{
	SELECT action || ',' || (next_clock_id IS NOT NULL)
	  FROM lead_process.sla_clock WHERE lead_id = 1 AND state = 'breached'}),
	'reassign,true', 'the breach was acted upon: reassigned, with a new clock');
isnt($node->safe_psql('postgres', 'SELECT owner FROM lead_process.lead WHERE id = 1'),
	$owner, 'the lead has another owner');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM lead_process.event WHERE type = 'sla_breached' AND lead_id = 1}),
	'1', 'one sla_breached event');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM cron.job_run_details
	 WHERE jobid = } . $job . q{ AND status = 'succeeded'}) > 0 ? 1 : 0,
	1, 'pg_cron recorded a successful run');

$node->stop;
done_testing();
