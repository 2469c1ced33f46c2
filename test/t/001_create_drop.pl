# test/t/001_create_drop.pl
#
# CREATE EXTENSION lead_process, use it, DROP EXTENSION: the database's
# catalogs must come back exactly as they were (no leftover function, type,
# dependency, initial privilege or comment).  Also: a schema named
# lead_process created beforehand by somebody else makes CREATE EXTENSION
# fail instead of handing that schema our objects.
#
# Run by "make installcheck" (PGXS prove_installcheck), or by hand, as a
# non-root user, with pg_config on PATH:
#   prove -I <pgxs>/src/test/perl test/t/001_create_drop.pl

use strict;
use warnings;

# By hand, without the environment that PGXS's prove_installcheck sets,
# take the installation that pg_config names.
BEGIN
{
	if (!defined $ENV{PG_REGRESS})
	{
		my $pgxs = `pg_config --pgxs`;
		my $bindir = `pg_config --bindir`;
		chomp($pgxs, $bindir);
		$pgxs =~ s{/src/makefiles/pgxs\.mk$}{};
		$ENV{PG_REGRESS} = "$pgxs/src/test/regress/pg_regress";
		$ENV{PATH} = "$bindir:$ENV{PATH}";
	}
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The catalogs as sorted text, with names instead of OIDs.
# pg_describe_object() names an object from its catalog address; ACLs are
# already printed with role names.
my $snapshot_sql = <<'SQL';
SELECT line FROM (
	SELECT 'namespace ' || n.nspname || ' owner=' || n.nspowner::regrole
		   || ' acl=' || coalesce(n.nspacl::text, '-') AS line
	  FROM pg_catalog.pg_namespace n
	UNION ALL
	SELECT 'class ' || c.oid::regclass || ' kind=' || c.relkind::text
		   || ' owner=' || c.relowner::regrole || ' acl=' || coalesce(c.relacl::text, '-')
	  FROM pg_catalog.pg_class c
	UNION ALL
	SELECT 'attribute ' || a.attrelid::regclass || '.' || a.attname
		   || ' acl=' || coalesce(a.attacl::text, '-')
	  FROM pg_catalog.pg_attribute a WHERE a.attacl IS NOT NULL
	UNION ALL
	SELECT 'proc ' || p.oid::regprocedure || ' owner=' || p.proowner::regrole
		   || ' acl=' || coalesce(p.proacl::text, '-')
	  FROM pg_catalog.pg_proc p
	UNION ALL
	SELECT 'type ' || t.typnamespace::regnamespace || '.' || t.typname
		   || ' owner=' || t.typowner::regrole
	  FROM pg_catalog.pg_type t
	UNION ALL
	SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass
	  FROM pg_catalog.pg_trigger t
	UNION ALL
	SELECT 'constraint ' || c.conname || ' ns=' || c.connamespace::regnamespace
		   || ' rel=' || c.conrelid::regclass || ' type=' || c.contypid::regtype
	  FROM pg_catalog.pg_constraint c
	UNION ALL
	SELECT 'rewrite ' || r.rulename || ' on ' || r.ev_class::regclass
	  FROM pg_catalog.pg_rewrite r
	UNION ALL
	SELECT 'operator ' || o.oid::regoperator FROM pg_catalog.pg_operator o
	UNION ALL
	SELECT 'cast ' || pg_catalog.pg_describe_object(c.tableoid, c.oid, 0) FROM pg_catalog.pg_cast c
	UNION ALL
	SELECT 'event trigger ' || e.evtname FROM pg_catalog.pg_event_trigger e
	UNION ALL
	SELECT 'depend ' || coalesce(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), '?')
		   || ' -> ' || coalesce(pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), '?')
		   || ' ' || d.deptype::text
	  FROM pg_catalog.pg_depend d
	UNION ALL
	SELECT 'shdepend ' || coalesce(pg_catalog.pg_describe_object(s.classid, s.objid, s.objsubid), '?')
		   || ' -> ' || coalesce(pg_catalog.pg_describe_object(s.refclassid, s.refobjid, 0), '?')
		   || ' ' || s.deptype::text
	  FROM pg_catalog.pg_shdepend s
	 WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
	UNION ALL
	SELECT 'init_privs ' || coalesce(pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid), '?')
		   || ' ' || i.privtype::text || ' ' || i.initprivs::text
	  FROM pg_catalog.pg_init_privs i
	UNION ALL
	SELECT 'description ' || coalesce(pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid), '?')
		   || ' = ' || d.description
	  FROM pg_catalog.pg_description d
	UNION ALL
	SELECT 'extension ' || e.extname || ' ' || e.extversion || ' schema=' || e.extnamespace::regnamespace
	  FROM pg_catalog.pg_extension e
	UNION ALL
	SELECT 'role ' || r.rolname FROM pg_catalog.pg_roles r
) s
ORDER BY line COLLATE "C";
SQL

# Lines of $before missing from $after and lines of $after not in $before
# (as multisets); an empty result means identical snapshots.
sub snapshot_diff
{
	my ($before, $after) = @_;
	my %count;
	$count{$_}++ for split /\n/, $before;
	$count{$_}-- for split /\n/, $after;
	my @diff;
	for my $line (sort keys %count)
	{
		push @diff, "- $line" for 1 .. $count{$line};
		push @diff, "+ $line" for 1 .. -$count{$line};
	}
	return join("\n", @diff);
}

# Names derived from OIDs (pg_toast_NNNNN, RI_ConstraintTrigger_c_NNNNN)
# differ between two installations; compare them with the number masked.
sub mask_oids
{
	my ($snapshot) = @_;
	$snapshot =~ s/(pg_toast_|RI_ConstraintTrigger_[ac]_)\d+/${1}N/g;
	return $snapshot;
}

my $node = PostgreSQL::Test::Cluster->new('create_drop');
$node->init;
$node->start;

my $db = 'lp_create_drop';
$node->safe_psql('postgres', "CREATE DATABASE $db");

my $before = $node->safe_psql($db, $snapshot_sql);
ok($before =~ /^namespace public /m, 'snapshot lists the catalogs');

# ---------------------------------------------------------------------------
# Install, use, drop
# ---------------------------------------------------------------------------

$node->safe_psql($db, 'CREATE EXTENSION lead_process');
my $installed = $node->safe_psql($db, $snapshot_sql);
isnt(snapshot_diff($before, $installed), '', 'CREATE EXTENSION changed the catalogs');
like($installed, qr/^namespace lead_process owner=/m, 'schema lead_process exists');

$node->safe_psql(
	$db, q{
	CREATE ROLE lp_t_writer;
	INSERT INTO lead_process.lead (id, email, company) VALUES (1, 'a@example.com', 'Acme');
	SELECT lead_process.move(1, 'lead');
	SELECT lead_process.grant_writer('lp_t_writer');
	SET ROLE lp_t_writer;
	INSERT INTO lead_process.lead (id, email) VALUES (2, 'b@example.com');
	INSERT INTO lead_process.activity (lead_id, type) VALUES (2, 'page_view');
	INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (2, 'call', 'voicemail');
	SELECT lead_process.move(2, 'mql');
	SELECT lead_process.recycle(2, 'rejected');
	RESET ROLE;
	UPDATE lead_process.stage SET definition = definition || '.' WHERE name = 'sal';
	INSERT INTO lead_process.reason (code, kind, description) VALUES ('lp-test', 'recycle', 'test');
});
my $superuser = $node->safe_psql($db, 'SELECT current_user');
is( $node->safe_psql(
		$db,
		"SELECT string_agg(to_stage || ':' || changed_by, ',' ORDER BY lead_id, id) FROM lead_process.stage_history"
	),
	"subscriber:$superuser,lead:$superuser,"
	  . 'subscriber:lp_t_writer,mql:lp_t_writer,lead:lp_t_writer',
	'the extension works: leads moved and recorded');

# A user object that depends on the extension blocks a plain DROP
$node->safe_psql($db,
	'CREATE VIEW public.my_leads AS SELECT id, stage FROM lead_process.lead');
my ($ret, $stdout, $stderr) = $node->psql($db, 'DROP EXTENSION lead_process');
isnt($ret, 0, 'DROP EXTENSION refuses while a user view depends on it');
like($stderr, qr/depend/, '... and says that other objects depend on it');
$node->safe_psql($db, 'DROP VIEW public.my_leads');

# The role must be droppable after revoke_all: nothing else refers to it
$node->safe_psql($db, q{SELECT lead_process.revoke_all('lp_t_writer')});
($ret, $stdout, $stderr) = $node->psql($db, 'DROP ROLE lp_t_writer');
is($ret, 0, 'after revoke_all the role can be dropped (no privilege left behind)')
  or diag($stderr);

$node->safe_psql($db, 'DROP EXTENSION lead_process');
my $after = $node->safe_psql($db, $snapshot_sql);
is(snapshot_diff($before, $after), '',
	'after DROP EXTENSION the catalogs are exactly as before CREATE EXTENSION');

# ---------------------------------------------------------------------------
# Install again in the same database, and drop again
# ---------------------------------------------------------------------------

$node->safe_psql($db, 'CREATE EXTENSION lead_process');
is( snapshot_diff(
		mask_oids($installed), mask_oids($node->safe_psql($db, $snapshot_sql))),
	'',
	'a second CREATE EXTENSION gives the same catalogs as the first');
$node->safe_psql($db, 'DROP EXTENSION lead_process');
is(snapshot_diff($before, $node->safe_psql($db, $snapshot_sql)), '',
	'a second DROP EXTENSION leaves the catalogs as before');

# ---------------------------------------------------------------------------
# The extension schema is not relocatable
# ---------------------------------------------------------------------------

$node->safe_psql($db, 'CREATE SCHEMA elsewhere');
($ret, $stdout, $stderr) =
  $node->psql($db, 'CREATE EXTENSION lead_process SCHEMA elsewhere');
isnt($ret, 0, 'CREATE EXTENSION ... SCHEMA elsewhere fails');
$node->safe_psql($db, 'DROP SCHEMA elsewhere');

# ---------------------------------------------------------------------------
# A pre-existing schema lead_process (e.g. created by an unprivileged user
# who hopes to own the objects) makes CREATE EXTENSION fail
# ---------------------------------------------------------------------------

$node->safe_psql(
	$db, qq{
	CREATE ROLE lp_t_squatter LOGIN;
	GRANT CREATE ON DATABASE $db TO lp_t_squatter;
});
$node->safe_psql($db, 'CREATE SCHEMA lead_process',
	extra_params => [ '-U', 'lp_t_squatter' ]);
my $squatted = $node->safe_psql($db, $snapshot_sql);

($ret, $stdout, $stderr) = $node->psql($db, 'CREATE EXTENSION lead_process');
isnt($ret, 0, 'CREATE EXTENSION fails when schema lead_process already exists');
like(
	$stderr,
	qr/schema "lead_process" already exists/,
	'... with an error that names schema lead_process');
is($node->safe_psql($db, "SELECT count(*) FROM pg_extension WHERE extname = 'lead_process'"),
	'0', '... and the extension is not installed');
is(snapshot_diff($squatted, $node->safe_psql($db, $snapshot_sql)), '',
	'... and the failed attempt left nothing behind');
is( $node->safe_psql(
		$db,
		"SELECT count(*) FROM pg_class WHERE relnamespace = 'lead_process'::regnamespace"),
	'0',
	'... and the squatter\'s schema holds none of our objects');

$node->safe_psql(
	$db, qq{
	DROP SCHEMA lead_process;
	REVOKE CREATE ON DATABASE $db FROM lp_t_squatter;
	DROP ROLE lp_t_squatter;
});
($ret, $stdout, $stderr) = $node->psql($db, 'CREATE EXTENSION lead_process');
is($ret, 0, 'CREATE EXTENSION works again once that schema is dropped')
  or diag($stderr);
is( $node->safe_psql(
		$db,
		"SELECT pg_get_userbyid(nspowner) = current_user FROM pg_namespace WHERE nspname = 'lead_process'"),
	't',
	'... and the installing user owns schema lead_process');
$node->safe_psql($db, 'DROP EXTENSION lead_process');
is(snapshot_diff($before, $node->safe_psql($db, $snapshot_sql)), '',
	'after the last DROP EXTENSION the catalogs are exactly as at the start');

$node->stop;
done_testing();
