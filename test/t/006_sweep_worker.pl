# The sweep worker: with lead_process in shared_preload_libraries it calls
# lead_process.sweep() every lead_process.sweep_interval seconds in
# lead_process.sweep_database; an overdue SLA clock is breached and acted
# upon without any scheduler.  Also: it waits for CREATE EXTENSION, a
# reload changes the interval, and 0 pauses it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'lead_process'
lead_process.sweep_interval = 1
lead_process.sweep_database = 'postgres'
lead_process.notify = off
});
$node->start;

# the worker runs before the extension exists, and says so once
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lead_process sweep'})
  or die 'the sweep worker did not start';
ok(1, 'the sweep worker runs');
ok($node->wait_for_log(qr/extension "lead_process" is not installed in database "postgres"/),
	'it reports the missing extension');

$node->safe_psql('postgres', q{
	CREATE EXTENSION lead_process;
	INSERT INTO lead_process.sla_policy (name, stage, kind, target, attempts, action)
	VALUES ('mql contact', 'mql', 'first-contact', '1 hour', NULL, 'notify'),
	       ('sal attempts', 'sal', 'attempts', '1 hour', 2, 'recycle');
});
# Overdue clocks, in the past of any calendar: handed off a month ago
$node->safe_psql('postgres', q{
	INSERT INTO lead_process.lead (id, email, stage, stage_changed_at) VALUES
		(1, 'a@example.com', 'mql', now() - interval '30 days'),
		(2, 'b@example.com', 'sal', now() - interval '30 days');
});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM lead_process.sla_clock WHERE state = 'breached'})
  or die 'the worker did not breach the overdue clocks';
is($node->safe_psql('postgres', q{
	SELECT string_agg(lead_id || ':' || action, ',' ORDER BY lead_id)
	  FROM lead_process.sla_clock WHERE state = 'breached'}),
	'1:notify,2:recycle', 'both clocks breached with their actions');
is($node->safe_psql('postgres', q{SELECT stage || ',' || stage_reason FROM lead_process.lead WHERE id = 2}),
	'lead,sla-breach', 'the recycle action recycled lead 2');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM lead_process.event WHERE type = 'sla_breached'}),
	'2', 'one sla_breached event per clock');
ok($node->wait_for_log(qr/lead_process sweep: sla-breached 2, sla-recycled 1/),
	'the worker logs what it did');

# activities queued with deferred scoring are scored by the worker's sweep
$node->safe_psql('postgres', q{
	INSERT INTO lead_process.behaviour_rule (name, activity_type, points) VALUES ('visit', 'page_view', 3);
	SET lead_process.defer_scoring = on;
	INSERT INTO lead_process.activity (lead_id, type) VALUES (1, 'page_view'), (1, 'page_view');
});
$node->poll_query_until('postgres',
	q{SELECT behaviour_score = 6 FROM lead_process.lead WHERE id = 1})
  or die 'the worker did not score the queued activities';
is($node->safe_psql('postgres', 'SELECT count(*) FROM lead_process.score_queue'),
	'0', 'the worker scored the queued activities and emptied the queue');
ok($node->wait_for_log(qr/lead_process sweep: .*activities-scored 2/),
	'the worker logs the activities it scored');

# interval 0 pauses the worker: a new overdue clock stays running
$node->append_conf('postgresql.conf', "lead_process.sweep_interval = 0\n");
$node->reload;
sleep 3;
$node->safe_psql('postgres', q{
	INSERT INTO lead_process.lead (id, email, stage, stage_changed_at)
	VALUES (3, 'c@example.com', 'mql', now() - interval '30 days');
});
sleep 3;
is($node->safe_psql('postgres', 'SELECT state FROM lead_process.sla_clock WHERE lead_id = 3'),
	'running', 'sweep_interval = 0 pauses the worker');
$node->append_conf('postgresql.conf', "lead_process.sweep_interval = 1\n");
$node->reload;
$node->poll_query_until('postgres',
	q{SELECT state = 'breached' FROM lead_process.sla_clock WHERE lead_id = 3})
  or die 'the worker did not resume';
ok(1, 'a reload with a new interval resumes it');

$node->stop;
done_testing();
