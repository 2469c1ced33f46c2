# test/t/002_search_path.pl
#
# search_path attacks.  An unprivileged user creates, in a schema of their
# own, objects whose names shadow the ones lead_process uses: functions
# (now(), length(text), format(...), ...), operators for text, bigint,
# integer and timestamptz (=, <>, ~, ||, <, >, >=), relations named like
# ours, domains named like built-in types, and a collation named "C".  A
# superuser then puts that schema FIRST on the search_path (before
# pg_catalog) and installs and uses the extension: CREATE EXTENSION,
# INSERT/COPY/UPDATE of leads, move(), recycle(), disqualify(),
# allowed_transitions(), the views, configuration changes, the grant_*
# functions and error paths, in fresh sessions so that the process cache
# is loaded under the hostile path.
#
# Every trap records its call three ways: a row in hijack.calls, a tick of
# sequence hijack.call_count (not rolled back when the statement fails) and
# a WARNING on the client's stderr.  None may ever fire, and the results
# must be the correct ones.  A positive control at the end shows the traps
# are armed.
#
# Run by "make installcheck" (PGXS prove_installcheck), or by hand, as a
# non-root user, with pg_config on PATH:
#   prove -I <pgxs>/src/test/perl test/t/002_search_path.pl

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

my $node = PostgreSQL::Test::Cluster->new('search_path');
$node->init;
$node->start;

my $db = 'lp_search_path';
$node->safe_psql(
	'postgres', qq{
	CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C';
	CREATE ROLE lp_t_attacker LOGIN;
	GRANT CREATE ON DATABASE $db TO lp_t_attacker;
});

# ---------------------------------------------------------------------------
# The attacker's schema
# ---------------------------------------------------------------------------

my $trap_sql = q{
CREATE SCHEMA hijack;
GRANT USAGE ON SCHEMA hijack TO PUBLIC;
CREATE TABLE hijack.calls (n bigserial, what text, by_user text DEFAULT current_user);
GRANT SELECT, INSERT ON hijack.calls TO PUBLIC;
GRANT USAGE ON SEQUENCE hijack.calls_n_seq TO PUBLIC;
CREATE SEQUENCE hijack.call_count;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE hijack.call_count TO PUBLIC;

CREATE FUNCTION hijack.record(what text) RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_catalog.nextval('hijack.call_count');
	INSERT INTO hijack.calls (what) VALUES (what);
	RAISE WARNING 'hijack object called: %', what;
	RETURN true;
END
$$;
};

# Functions: name, SQL argument list, return type, the real call
my @functions = (
	[ 'now',                   '',                    'timestamptz', 'pg_catalog.now()' ],
	[ 'clock_timestamp',       '',                    'timestamptz', 'pg_catalog.clock_timestamp()' ],
	[ 'statement_timestamp',   '',                    'timestamptz', 'pg_catalog.statement_timestamp()' ],
	[ 'transaction_timestamp', '',                    'timestamptz', 'pg_catalog.transaction_timestamp()' ],
	[ 'length',                'a text',              'integer',     'pg_catalog.length(a)' ],
	[ 'lower',                 'a text',              'text',        'pg_catalog.lower(a)' ],
	[ 'upper',                 'a text',              'text',        'pg_catalog.upper(a)' ],
	[ 'btrim',                 'a text',              'text',        'pg_catalog.btrim(a)' ],
	[ 'format',                'a text',              'text',        'pg_catalog.format(a)' ],
	[ 'format',                'a text, b text',      'text',        'pg_catalog.format(a, b)' ],
	[ 'format',                'a text, b regrole',   'text',        'pg_catalog.format(a, b)' ],
	[ 'format',                'a text, b regclass',  'text',        'pg_catalog.format(a, b)' ],
	[ 'quote_ident',           'a text',              'text',        'pg_catalog.quote_ident(a)' ],
	[ 'quote_literal',         'a text',              'text',        'pg_catalog.quote_literal(a)' ],
	[ 'current_setting',       'a text',              'text',        'pg_catalog.current_setting(a)' ],
	[ 'nextval',               'a regclass',          'bigint',      'pg_catalog.nextval(a)' ],
	[ 'pg_notify',             'a text, b text',      'void',        'pg_catalog.pg_notify(a, b)' ],
	[ 'pg_get_serial_sequence', 'a text, b text',     'text',        'pg_catalog.pg_get_serial_sequence(a, b)' ],
	[ 'pg_extension_config_dump', 'a regclass, b text', 'void',      'pg_catalog.pg_extension_config_dump(a, b)' ],
	[ 'array_to_string',       'a anyarray, b text',  'text',        'pg_catalog.array_to_string(a, b)' ],
	[ 'jsonb_build_object',    'a text, b text',      'jsonb',       'pg_catalog.jsonb_build_object(a, b)' ],
);
for my $f (@functions)
{
	my ($name, $args, $ret, $call) = @$f;
	my $body =
	  $ret eq 'void'
	  ? "PERFORM $call; RETURN;"
	  : "RETURN $call;";
	$trap_sql .= qq{
CREATE FUNCTION hijack.$name($args) RETURNS $ret
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$
BEGIN
	PERFORM hijack.record('function $name($args)');
	$body
END
\$\$;
};
}

# Operators: name, left type, right type, result, the real function
my @operators = (
	[ '=',  'text',        'text',        'boolean',     'texteq' ],
	[ '<>', 'text',        'text',        'boolean',     'textne' ],
	[ '~',  'text',        'text',        'boolean',     'textregexeq' ],
	[ '||', 'text',        'text',        'text',        'textcat' ],
	[ '<',  'text',        'text',        'boolean',     'text_lt' ],
	[ '>',  'text',        'text',        'boolean',     'text_gt' ],
	[ '=',  'bigint',      'bigint',      'boolean',     'int8eq' ],
	[ '<>', 'bigint',      'bigint',      'boolean',     'int8ne' ],
	[ '<',  'bigint',      'bigint',      'boolean',     'int8lt' ],
	[ '=',  'integer',     'integer',     'boolean',     'int4eq' ],
	[ '>',  'integer',     'integer',     'boolean',     'int4gt' ],
	[ '>=', 'integer',     'integer',     'boolean',     'int4ge' ],
	[ '+',  'integer',     'integer',     'integer',     'int4pl' ],
	[ '<',  'timestamptz', 'timestamptz', 'boolean',     'timestamptz_lt' ],
	[ '>',  'timestamptz', 'timestamptz', 'boolean',     'timestamptz_gt' ],
	[ '-',  'timestamptz', 'timestamptz', 'interval',    'timestamptz_mi' ],
	[ '=',  'jsonb',       'jsonb',       'boolean',     'jsonb_eq' ],
);
my $i = 0;
for my $o (@operators)
{
	my ($op, $l, $r, $ret, $func) = @$o;
	$i++;
	$trap_sql .= qq{
CREATE FUNCTION hijack.op_$i(a $l, b $r) RETURNS $ret
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$\$
BEGIN
	PERFORM hijack.record('operator $op($l, $r)');
	RETURN pg_catalog.$func(a, b);
END
\$\$;
CREATE OPERATOR hijack.$op (LEFTARG = $l, RIGHTARG = $r, FUNCTION = hijack.op_$i);
};
}

# Relations named like ours: reading one records the call; writing one
# fails (not updatable), which the tests would see as well.
for my $rel (
	qw(stage stage_status transition reason lead activity contact_attempt
	stage_history stage_graph stage_counts))
{
	$trap_sql .= qq{
CREATE VIEW hijack.$rel AS SELECT 1 AS trap WHERE hijack.record('relation $rel');
GRANT SELECT ON hijack.$rel TO PUBLIC;
};
}

# A collation named "C" that sorts differently (punctuation ignored):
# lead_process must say pg_catalog."C".  Needs a build with ICU.
my $have_icu = $node->safe_psql('postgres',
	q{SELECT count(*) > 0 FROM pg_catalog.pg_collation WHERE collprovider = 'i'}) eq 't';
$trap_sql .= q{
CREATE COLLATION hijack."C" (provider = icu, locale = 'und-u-ka-shifted');
} if $have_icu;

# Domains named like built-in types; coercing a value to one runs the
# CHECK.  Created last so that the definitions above use the real types.
for my $type (qw(text jsonb regclass regrole timestamptz int8 int4 bool name))
{
	$trap_sql .= qq{
CREATE DOMAIN hijack.$type AS pg_catalog.$type CHECK (hijack.record('type $type'));
};
}

$node->safe_psql($db, $trap_sql, extra_params => [ '-U', 'lp_t_attacker' ]);
is( $node->safe_psql(
		$db,
		q{SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = 'hijack'::regnamespace}
	),
	scalar(@functions) + scalar(@operators) + 1,
	'the attacker created the trap functions');

# ---------------------------------------------------------------------------
# The victim: a superuser with the attacker's schema first on its path
# ---------------------------------------------------------------------------

my $hostile_path = 'SET search_path = hijack, pg_catalog, public;';

# Run SQL in a fresh session with the hostile search_path; the session must
# succeed (unless $may_fail) and must not trip a trap.
sub hostile
{
	my ($sql, $name, %opts) = @_;
	my ($ret, $stdout, $stderr) = $node->psql(
		$db, "$hostile_path\n$sql",
		on_error_stop => $opts{may_fail} ? 0 : 1,
		extra_params => $opts{user} ? [ '-U', $opts{user} ] : []);
	is($ret, 0, "$name: ran") or diag($stderr) unless $opts{may_fail};
	unlike($stderr, qr/hijack object called/, "$name: no trap fired")
	  or diag($stderr);
	return ($stdout, $stderr);
}

hostile('CREATE EXTENSION lead_process;', 'CREATE EXTENSION');

# A new session: the process cache is loaded under the hostile path
hostile(
	q{
CREATE ROLE lp_t_writer LOGIN;
CREATE ROLE lp_t_reader;
CREATE ROLE lp_t_admin;
SELECT lead_process.grant_writer('lp_t_writer');
SELECT lead_process.grant_reader('lp_t_reader');
SELECT lead_process.grant_admin('lp_t_admin');

INSERT INTO lead_process.lead (id, email, company, job_title) VALUES
	(1, 'one@example.com', 'Acme', 'CTO'),
	(2, 'two@example.com', 'Acme', 'CFO'),
	(3, 'spam@example.com', NULL, NULL),
	(4, 'four@example.com', 'Initech', 'Engineer'),
	(6, 'six@example.com', 'Globex', 'Buyer');
COPY lead_process.lead (id, email, company) FROM stdin;
10	ten@example.com	Hooli
11	eleven@example.com	Hooli
\.
SELECT lead_process.move(1, 'lead');
SELECT lead_process.move(1, 'mql', actor => 'jane@crm');
UPDATE lead_process.lead SET stage = 'sal', owner = 'rep-1' WHERE id OPERATOR(pg_catalog.=) 1;
SELECT lead_process.move(1, 'sal');
SELECT lead_process.recycle(1, 'returned-not-ready', 'jane@crm');
SELECT lead_process.move(2, 'sal');
SELECT lead_process.disqualify(3, 'junk');
SELECT * FROM lead_process.allowed_transitions(2);
SELECT * FROM lead_process.stage_graph;
SELECT * FROM lead_process.stage_counts;
INSERT INTO lead_process.behaviour_rule (name, activity_type, property, pattern, points, max_occurrences, fast_track_to)
	VALUES ('pricing', 'page_view', 'url', '%/pricing%', 10, 3, NULL),
		   ('demo', 'demo_request', NULL, NULL, 30, NULL, 'sal');
INSERT INTO lead_process.fit_rule (name, condition, points)
	VALUES ('big', '{"attribute": "employees", "op": ">=", "value": 100}', 5);
INSERT INTO lead_process.activity (lead_id, type, properties)
	VALUES (2, 'page_view', '{"url": "/pricing"}');
INSERT INTO lead_process.activity (lead_id, type) VALUES (2, 'demo_request');
SELECT lead_process.rescore_behaviour();
SELECT lead_process.rescore_fit();
SELECT * FROM lead_process.score_explain(2);
INSERT INTO lead_process.contact_attempt (lead_id, channel, outcome) VALUES (2, 'call', 'connected');
UPDATE lead_process.lead SET status = 'unsubscribed' WHERE id OPERATOR(pg_catalog.=) 4;
UPDATE lead_process.lead SET owner = 'rep-05', properties = '{"a": 1}' WHERE id OPERATOR(pg_catalog.=) 4;
SELECT lead_process.move(6, 'mql');
},
	'grants, inserts, COPY, moves, recycle, disqualify, views');

# Configuration change, then use of the new configuration (cache reload)
hostile(
	q{
INSERT INTO lead_process.reason (code, kind, description) VALUES
	('a-z', 'recycle', 'sorts first in C order'),
	('aa', 'recycle', 'sorts second in C order');
UPDATE lead_process.stage SET definition = 'Edited definition.' WHERE name OPERATOR(pg_catalog.=) 'sal';
SELECT lead_process.move(4, 'mql');
SELECT lead_process.recycle(4, 'aa');
},
	'configuration change and a reason added by it');

# A writer session with the hostile path
hostile(
	q{
INSERT INTO lead_process.lead (id, email) VALUES (5, 'five@example.com');
SELECT lead_process.move(5, 'sal');
SELECT lead_process.recycle(5, 'stale');
UPDATE lead_process.lead SET stage = 'mql' WHERE id OPERATOR(pg_catalog.=) 5;
},
	'writer session',
	user => 'lp_t_writer');

hostile(q{SELECT lead_process.revoke_all('lp_t_reader');}, 'revoke_all');

# Error paths build their messages from the cache; each statement fails
my (undef, $errors) = hostile(
	q{
UPDATE lead_process.lead SET stage = 'lead' WHERE id OPERATOR(pg_catalog.=) 6;
SELECT lead_process.move(6, 'customer');
SELECT lead_process.move(6, 'no-such-stage');
SELECT lead_process.recycle(6, 'no-such-reason');
SELECT lead_process.disqualify(3, 'junk');
SELECT lead_process.move(999, 'lead');
UPDATE lead_process.stage_history SET reason = 'x' WHERE lead_id OPERATOR(pg_catalog.=) 1;
},
	'error paths',
	may_fail => 1);
SKIP:
{
	skip 'no ICU collations in this build', 1 unless $have_icu;
	like(
		$errors,
		qr/requires a reason.*\n.*take a reason code: a-z, aa, closed-lost, rejected, returned-not-ready, sla-breach, stale, unreachable\./,
		'missing reason: the DETAIL lists the reasons in C order (collation "C" not hijacked)');
}
# The same error in a session with the default search_path, for contrast
my ($ret, $stdout, $clean_errors) = $node->psql($db,
	q{UPDATE lead_process.lead SET stage = 'lead' WHERE id = 6;});
like(
	$clean_errors,
	qr/take a reason code: a-z, aa, closed-lost,/,
	'missing reason, default search_path: the DETAIL lists the reasons in C order');
like($errors, qr/invalid stage transition from "mql" to "customer"/,
	'invalid transition refused');
like($errors, qr/stage "no-such-stage" does not exist/, 'unknown stage refused');
like($errors, qr/invalid recycle reason "no-such-reason"/, 'unknown reason refused');
like($errors, qr/lead 3 in stage "disqualified" cannot be disqualified/,
	'terminal stage refused');
like($errors, qr/lead 999 does not exist/, 'unknown lead refused');
like($errors, qr/rows of table "stage_history" cannot be updated/,
	'history stays append-only');

# ---------------------------------------------------------------------------
# Results, checked in a clean session
# ---------------------------------------------------------------------------

is($node->safe_psql($db, 'SELECT count(*) FROM hijack.calls'),
	'0', 'no trap recorded a call');
is($node->safe_psql($db, 'SELECT is_called FROM hijack.call_count'),
	'f', 'no trap was called, not even in a failed statement');

is( $node->safe_psql(
		$db, q{
	SELECT string_agg(format('%s:%s>%s:%s:%s:%s', lead_id, coalesce(from_stage, '-'), to_stage,
							 kind, coalesce(reason, '-'), coalesce(actor, '-')),
					  ' ' ORDER BY lead_id, id)
	  FROM lead_process.stage_history WHERE lead_id IN (1, 3, 4, 5)
}),
	join(' ',
		'1:->subscriber:create:-:-',
		'1:subscriber>lead:advance:-:-',
		'1:lead>mql:advance:-:jane@crm',
		'1:mql>sal:accept:-:-',
		'1:sal>lead:recycle:returned-not-ready:jane@crm',
		'3:->subscriber:create:-:-',
		'3:subscriber>disqualified:disqualify:junk:-',
		'4:->subscriber:create:-:-',
		'4:subscriber>subscriber:status:-:-',
		'4:subscriber>mql:advance:-:-',
		'4:mql>lead:reject:aa:-',
		'5:->subscriber:create:-:-',
		'5:subscriber>sal:fast-track:-:-',
		'5:sal>lead:recycle:stale:-',
		'5:lead>mql:advance:-:-'),
	'stage history is exactly right');

is( $node->safe_psql(
		$db, q{
	SELECT string_agg(format('%s:%s:%s:%s', id, stage, status, recycle_count), ' ' ORDER BY id)
	  FROM lead_process.lead
}),
	'1:lead:recycled:1 2:sal:new:0 3:disqualified:closed:0 4:lead:recycled:1 '
	  . '5:mql:new:1 6:mql:new:0 10:subscriber:active:0 11:subscriber:active:0',
	'leads are in the right stages and statuses');

is( $node->safe_psql(
		$db,
		q{SELECT string_agg(DISTINCT changed_by, ',') FROM lead_process.stage_history WHERE lead_id = 5}),
	'lp_t_writer',
	'the writer\'s changes name the writer');

is( $node->safe_psql(
		$db, q{
	SELECT string_agg(to_stage || '/' || kind, ',' ORDER BY to_stage)
	  FROM lead_process.allowed_transitions(2)
}),
	'disqualified/disqualify,lead/recycle,sql/advance',
	'allowed_transitions is right');

is( $node->safe_psql(
		$db, q{
	SELECT concat_ws(',',
		has_table_privilege('lp_t_writer', 'lead_process.lead', 'INSERT'),
		has_table_privilege('lp_t_writer', 'lead_process.lead', 'DELETE'),
		has_function_privilege('lp_t_writer', 'lead_process.move(bigint,text,text,text,timestamptz)', 'EXECUTE'),
		has_table_privilege('lp_t_admin', 'lead_process.stage', 'DELETE'),
		has_schema_privilege('lp_t_reader', 'lead_process', 'USAGE'),
		has_table_privilege('lp_t_reader', 'lead_process.lead', 'SELECT'))
}),
	't,f,t,t,f,f',
	'grant_writer, grant_admin and revoke_all gave and took the right privileges');

# ---------------------------------------------------------------------------
# Positive control: with this search_path the traps do fire
# ---------------------------------------------------------------------------

$node->psql(
	$db, qq{$hostile_path
SELECT now(), length('abc'), format('%s', 'x'::pg_catalog.text),
	   'a'::pg_catalog.text = 'b'::pg_catalog.text,
	   'a'::pg_catalog.text || 'b'::pg_catalog.text,
	   'a'::text;
SELECT count(*) FROM lead;
});
is( $node->safe_psql(
		$db, q{SELECT string_agg(DISTINCT what COLLATE "C", ', ' ORDER BY what COLLATE "C") FROM hijack.calls}),
	'function format(a text, b text), function length(a text), function now(), '
	  . 'operator =(text, text), operator ||(text, text), relation lead, type text',
	'positive control: the traps fire for unqualified names on this search_path');

$node->stop;
done_testing();
