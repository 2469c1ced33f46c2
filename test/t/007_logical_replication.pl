# Logical replication, the documented mode (docs/install.md, "Logical
# replication"): a publisher running lead_process publishes every table of
# schema lead_process; a subscriber (a reporting copy) installs the
# extension with session_replication_role = replica, so nothing is seeded,
# and subscribes.  Apply workers run as replica too, so lead_process's
# triggers do not fire on the subscriber: history, scores, routing state
# and events arrive as the publisher wrote them, never computed twice.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;

my $digest_fn = q{
	CREATE FUNCTION public.lp_digest() RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		t regclass;
		d text;
		r text := '';
	BEGIN
		FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
				  WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind = 'r'
				  ORDER BY c.relname LOOP
			EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(x::text, '','' ORDER BY x::text)), ''-'') FROM %s x', t)
			   INTO d;
			r := r || t::text || ' ' || d || E'\n';
		END LOOP;
		RETURN r;
	END $$;
};

$pub->safe_psql('postgres', q{
	SET lead_process.notify = off;
	CREATE EXTENSION lead_process;
	INSERT INTO lead_process.behaviour_rule (name, activity_type, points) VALUES ('visit', 'page_view', 5);
	INSERT INTO lead_process.team (name) VALUES ('emea');
	INSERT INTO lead_process.rep (name, team) VALUES ('anna', 'emea'), ('ben', 'emea');
	INSERT INTO lead_process.routing_rule (name, team) VALUES ('all', 'emea');
	INSERT INTO lead_process.lead (id, email, company, job_title, stage)
	SELECT g, 'p' || g || '@x.com', 'Acme', 'CTO', 'lead' FROM generate_series(1, 50) g;
	INSERT INTO lead_process.activity (lead_id, type)
	SELECT 1 + g % 50, 'page_view' FROM generate_series(1, 500) g;
	CREATE PUBLICATION lp FOR TABLES IN SCHEMA lead_process;
});
$pub->safe_psql('postgres', $digest_fn);
$sub->safe_psql('postgres', $digest_fn);

# Every table of the schema can be published for updates and deletes
is($pub->safe_psql('postgres', q{
	SELECT count(*) FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'lead_process'::regnamespace AND c.relkind = 'r'
	   AND c.relreplident = 'd'
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)}),
	'0', 'every table has a replica identity (a primary key)');

# The subscriber: the extension without its seeds, then the subscription
$sub->safe_psql('postgres', q{
	SET session_replication_role = replica;
	CREATE EXTENSION lead_process;
});
is($sub->safe_psql('postgres', 'SELECT count(*) FROM lead_process.stage'), '0',
	'installed as replica, the subscriber seeds nothing');
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION lp_sub CONNECTION '$connstr' PUBLICATION lp");
$sub->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_catalog.pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')")
  or die 'initial table synchronisation did not finish';
$pub->wait_for_catchup('lp_sub');
is($sub->safe_psql('postgres', 'SELECT public.lp_digest()'),
	$pub->safe_psql('postgres', 'SELECT public.lp_digest()'),
	'after the initial copy every table equals the publisher\'s');

# Changes after the copy: scoring promotes and routes, moves, recycles,
# contact attempts, rule edits, deletions
$pub->safe_psql('postgres', q{
	SET lead_process.notify = off;
	INSERT INTO lead_process.activity (lead_id, type)
	SELECT 1 + g % 50, 'page_view' FROM generate_series(1, 500) g;
	SELECT lead_process.accept(id) FROM lead_process.lead WHERE stage = 'mql' AND id <= 10;
	SELECT lead_process.recycle(id, 'returned-not-ready') FROM lead_process.lead WHERE stage = 'sal' AND id <= 5;
	INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (7, 'call', 'connected');
	UPDATE lead_process.behaviour_rule SET points = 3;
	SELECT lead_process.rescore_behaviour();
	DELETE FROM lead_process.lead WHERE id = 50;
});
$pub->wait_for_catchup('lp_sub');
is($sub->safe_psql('postgres', 'SELECT public.lp_digest()'),
	$pub->safe_psql('postgres', 'SELECT public.lp_digest()'),
	'after scoring, promotions, routing, moves and deletions every table equals the publisher\'s');
is($sub->safe_psql('postgres', q{
	SELECT count(*) FROM lead_process.stage_history h
	 GROUP BY lead_id, to_stage, changed_at HAVING count(*) > 1 LIMIT 1}), '',
	'no history row was written twice on the subscriber');
ok($sub->safe_psql('postgres',
	"SELECT count(*) FROM lead_process.stage_history WHERE cause = 'score'") > 0,
	'the promotions made on the publisher arrived as history');

# The subscriber answers the read-only API from the replicated data
is($sub->safe_psql('postgres', q{
	SELECT string_agg(stage || ':' || leads, ' ' ORDER BY position)
	  FROM (SELECT stage, position, sum(leads) AS leads FROM lead_process.stage_counts GROUP BY stage, position) s}),
	$pub->safe_psql('postgres', q{
	SELECT string_agg(stage || ':' || leads, ' ' ORDER BY position)
	  FROM (SELECT stage, position, sum(leads) AS leads FROM lead_process.stage_counts GROUP BY stage, position) s}),
	'stage_counts are the same on both sides');
is($sub->safe_psql('postgres', 'SELECT lead_process.route_preview(1) ->> \'owner\''),
	$pub->safe_psql('postgres', 'SELECT lead_process.route_preview(1) ->> \'owner\''),
	'route_preview() decides the same on the subscriber');

$sub->stop;
$pub->stop;
done_testing();
