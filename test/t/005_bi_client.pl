# A BI client (test/bi/bi_client.py, Python with psycopg2) reads the metric
# views as a role granted with lead_process.grant_bi_reader(): discovery
# through information_schema and pg_catalog, parameterised queries, a
# server-side cursor, and permission denied on the base tables.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IPC::Run;

# Debian's python3-psycopg2 serves the system interpreter
my ($python) = grep { -x $_ } ('/usr/bin/python3', '/bin/python3');
$python //= 'python3';
if (system($python, '-c', 'import psycopg2') != 0)
{
	plan skip_all => 'python3 with psycopg2 is not installed (scripts/setup.sh installs it)';
}

my $node = PostgreSQL::Test::Cluster->new('bi');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$node->start;

# Leads 1-3 reach mql in January 2026 and are accepted (lead 3 after the
# fold, so the views read rollup and deltas); ann follows lead 1 up after
# 30 minutes
$node->safe_psql('postgres', q{
	CREATE EXTENSION lead_process;
	INSERT INTO lead_process.lead (id, owner, source, stage, stage_changed_at)
	VALUES (1, 'ann', 'web', 'lead', '2026-01-02 09:00+00'),
		   (2, 'bob', 'event', 'lead', '2026-01-03 09:00+00'),
		   (3, 'bob', 'web', 'lead', '2026-01-04 09:00+00');
	SELECT lead_process.move(1, 'mql', at => '2026-01-05 09:00+00');
	SELECT lead_process.move(2, 'mql', at => '2026-01-05 10:00+00');
	SELECT lead_process.move(1, 'sal', at => '2026-01-06 09:00+00');
	SELECT lead_process.move(2, 'sal', at => '2026-01-07 09:00+00');
	SELECT lead_process.move(3, 'mql', at => '2026-01-08 09:00+00');
	INSERT INTO lead_process.contact_attempt (lead_id, occurred_at, channel, outcome, rep)
	VALUES (1, '2026-01-05 09:30+00', 'call', 'connected', 'ann');
	SELECT lead_process.fold_metrics();
	SELECT lead_process.move(3, 'sal', at => '2026-01-09 09:00+00');
	CREATE ROLE bi_tool LOGIN;
	SELECT lead_process.grant_bi_reader('bi_tool');
});

my $dsn = sprintf('host=%s port=%d dbname=postgres user=bi_tool', $node->host, $node->port);
my $script = abs_path(dirname(__FILE__) . '/../bi/bi_client.py');
my ($stdout, $stderr);
my $ok = IPC::Run::run([ $python, $script, $dsn ], '>', \$stdout, '2>', \$stderr);
note($stdout);
diag($stderr) if $stderr;
ok($ok, 'the BI client passes all its checks');
like($stdout, qr/^1\.\.\d+$/m, 'the BI client ran to the end');
unlike($stdout, qr/^not ok/m, 'no BI check failed');

$node->stop;
done_testing();
