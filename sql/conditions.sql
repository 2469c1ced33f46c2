--
-- conditions: the condition language shared by rules (validation and evaluation)
--
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION lead_process;

-- lead rows built directly (score is maintained by lead_process on real leads)
CREATE TEMP TABLE sample (id int, doc jsonb);
INSERT INTO sample VALUES
	(1, '{"id": 1, "email": "ana@Acme.example", "company": "Acme", "job_title": "VP Sales", "country": "US",
		  "industry": "software", "employees": 600, "annual_revenue": 25000000, "source": "web",
		  "properties": {"plan": "enterprise", "seats": 40, "trial": true}, "score": 55, "stage": "subscriber"}'),
	(2, '{"id": 2, "email": "bo@gmail.com", "job_title": "Student", "country": "DE", "industry": "education",
		  "employees": 5, "source": "event", "properties": {}, "score": 3, "stage": "subscriber"}'),
	(3, '{"id": 3, "email": "cy@mail.corp.example", "company": "Corp", "job_title": "CTO", "country": "IN",
		  "industry": "finance", "employees": 20000, "annual_revenue": 900000000,
		  "properties": {"seats": "many"}, "score": 80, "stage": "subscriber"}');
CREATE TEMP VIEW leads AS
SELECT s.id, jsonb_populate_record(NULL::lead_process.lead, s.doc) AS l FROM sample s;

-- each operator, on text, number and property attributes
CREATE TEMP TABLE cases (n serial, condition jsonb);
INSERT INTO cases (condition) VALUES
	('{"attribute": "country", "op": "=", "value": "US"}'),
	('{"attribute": "country", "op": "<>", "value": "US"}'),
	('{"attribute": "employees", "op": ">=", "value": 500}'),
	('{"attribute": "employees", "op": "<", "value": 600}'),
	('{"attribute": "employees", "op": "<=", "value": 600}'),
	('{"attribute": "annual_revenue", "op": ">", "value": 1e7}'),
	('{"attribute": "country", "op": "in", "value": ["US", "DE"]}'),
	('{"attribute": "country", "op": "not in", "value": ["US", "DE"]}'),
	('{"attribute": "job_title", "op": "like", "value": "VP%"}'),
	('{"attribute": "job_title", "op": "ilike", "value": "%cto%"}'),
	('{"attribute": "email", "op": "email-domain", "value": ["gmail.com", "yahoo.com"]}'),
	('{"attribute": "email", "op": "email-domain", "value": "ACME.example"}'),
	('{"attribute": "email", "op": "email-domain", "value": "corp.example"}'),
	('{"attribute": "company", "op": "is null"}'),
	('{"attribute": "company", "op": "is not null"}'),
	('{"attribute": "company", "op": "<>", "value": "Acme"}'),
	('{"attribute": "source", "op": "not in", "value": ["web"]}'),
	('{"attribute": "properties.plan", "op": "=", "value": "enterprise"}'),
	('{"attribute": "properties.seats", "op": ">", "value": 10}'),
	('{"attribute": "properties.seats", "op": "not in", "value": [40]}'),
	('{"attribute": "properties.trial", "op": "=", "value": "true"}'),
	('{"attribute": "properties.plan", "op": "is null"}'),
	('{"attribute": "score", "op": ">=", "value": 50}'),
	('{"attribute": "stage", "op": "=", "value": "subscriber"}');
SELECT c.n, c.condition->>'attribute' AS attribute, c.condition->>'op' AS op,
	   c.condition->'value' AS value,
	   string_agg(x.id::text, ',' ORDER BY x.id) FILTER (WHERE lead_process.condition_matches(c.condition, x.l)) AS matching_leads
  FROM cases c CROSS JOIN leads x
 GROUP BY c.n, c.condition ORDER BY c.n;

-- combinations
SELECT x.id,
	   lead_process.condition_matches('{"all": [{"attribute": "employees", "op": ">=", "value": 500},
												{"attribute": "country", "op": "in", "value": ["US", "IN"]}]}', x.l) AS big_us_or_in,
	   lead_process.condition_matches('{"any": [{"attribute": "job_title", "op": "ilike", "value": "%vp%"},
												{"attribute": "job_title", "op": "=", "value": "CTO"}]}', x.l) AS senior,
	   lead_process.condition_matches('{"not": {"attribute": "email", "op": "email-domain", "value": "gmail.com"}}', x.l) AS not_freemail,
	   lead_process.condition_matches('{"all": [{"any": [{"attribute": "score", "op": ">", "value": 50}]},
												{"not": {"attribute": "company", "op": "is null"}}]}', x.l) AS nested
  FROM leads x ORDER BY x.id;

-- rules are validated when written: a rule table with a CHECK constraint
CREATE TEMP TABLE fit_rule_demo (id int, condition jsonb CHECK (lead_process.condition_check(condition)), points int);
INSERT INTO fit_rule_demo VALUES (1, '{"attribute": "industry", "op": "in", "value": ["software", "finance"]}', 10);
-- unknown attribute (42703)
INSERT INTO fit_rule_demo VALUES (2, '{"attribute": "revenue", "op": ">", "value": 100}', 5);
-- unknown operator (42883)
INSERT INTO fit_rule_demo VALUES (3, '{"attribute": "country", "op": "==", "value": "US"}', 5);
-- ill-typed values (42804)
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "employees", "op": ">", "value": "500"}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "country", "op": "=", "value": 1}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "country", "op": "=", "value": ["US"]}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "country", "op": "in", "value": "US"}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "country", "op": "in", "value": ["US", 1]}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "country", "op": "=", "value": true}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "employees", "op": "like", "value": "5%"}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "employees", "op": "email-domain", "value": "x.com"}', 5);
INSERT INTO fit_rule_demo VALUES (4, '{"attribute": "properties.plan", "op": "like", "value": 5}', 5);
-- missing or superfluous values (22023)
INSERT INTO fit_rule_demo VALUES (5, '{"attribute": "country", "op": "="}', 5);
INSERT INTO fit_rule_demo VALUES (5, '{"attribute": "country", "op": "is null", "value": "US"}', 5);
INSERT INTO fit_rule_demo VALUES (5, '{"attribute": "country", "op": "in", "value": []}', 5);
INSERT INTO fit_rule_demo VALUES (5, '{"attribute": "email", "op": "email-domain", "value": "a@b@c"}', 5);
-- malformed structure (22023)
INSERT INTO fit_rule_demo VALUES (6, '"country = US"', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"attribute": "country", "op": "=", "value": "US", "points": 5}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"all": []}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"all": [1]}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"any": [{"attribute": "country", "op": "=", "value": "US"}], "x": 1}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"not": [{"attribute": "country", "op": "=", "value": "US"}]}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"attribute": 1, "op": "=", "value": "US"}', 5);
INSERT INTO fit_rule_demo VALUES (6, '{"attribute": "country", "op": null, "value": "US"}', 5);
-- nesting is bounded
INSERT INTO fit_rule_demo
SELECT 7, (repeat('{"not": ', 40) || '{"attribute": "country", "op": "is null"}' || repeat('}', 40))::jsonb, 5;
SELECT id, points FROM fit_rule_demo ORDER BY id;

-- operator names are case-insensitive; NULL is not a condition to check
SELECT lead_process.condition_check('{"attribute": "country", "op": "NOT IN", "value": ["US"]}');
SELECT lead_process.condition_check(NULL) IS NULL AS null_is_null;

-- the SQLSTATE of each kind of invalid condition
CREATE FUNCTION pg_temp.sqlstate_of(condition jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	PERFORM lead_process.condition_check(condition);
	RETURN 'valid';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
	RETURN st;
END $$;
SELECT c AS condition, pg_temp.sqlstate_of(c::jsonb) FROM (VALUES
	('{"attribute": "revenue", "op": ">", "value": 100}'),
	('{"attribute": "country", "op": "==", "value": "US"}'),
	('{"attribute": "employees", "op": ">", "value": "500"}'),
	('{"attribute": "country", "op": "="}'),
	('{"all": []}')) v(c);

DROP TABLE fit_rule_demo;
DROP VIEW leads;
DROP EXTENSION lead_process;
