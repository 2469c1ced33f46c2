--
-- fit_score: fit rules on profile attributes, kept on every write,
-- explained, and rescored after rules change
--
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION lead_process;

INSERT INTO lead_process.fit_rule (name, condition, points, description) VALUES
	('senior title', '{"any": [{"attribute": "job_title", "op": "ilike", "value": "%vp%"},
							   {"attribute": "job_title", "op": "in", "value": ["CEO", "CTO", "Head of IT"]}]}', 15, 'Decision makers'),
	('mid-size or larger', '{"attribute": "employees", "op": ">=", "value": 200}', 10, NULL),
	('target industry', '{"attribute": "industry", "op": "in", "value": ["software", "finance"]}', 10, NULL),
	('free-mail address', '{"attribute": "email", "op": "email-domain", "value": ["gmail.com", "yahoo.com", "outlook.com"]}', -15, NULL),
	('student', '{"attribute": "job_title", "op": "=", "value": "Student"}', -25, NULL),
	('enterprise plan interest', '{"attribute": "properties.plan", "op": "=", "value": "enterprise"}', 5, NULL);

-- computed on INSERT, whatever the client writes
INSERT INTO lead_process.lead (id, email, job_title, employees, industry, properties, fit_score)
VALUES (1, 'ana@acme.example', 'VP Sales', 600, 'software', '{"plan": "enterprise"}', 999),
	   (2, 'bo@gmail.com', 'Student', 5, 'education', '{}', 0),
	   (3, 'cy@corp.example', 'Engineer', 50, 'retail', '{}', 0);
SELECT id, fit_score FROM lead_process.lead ORDER BY id;

-- the explanation: which rules gave how many points
SELECT * FROM lead_process.fit_explain(1);
SELECT * FROM lead_process.fit_explain(2);
SELECT sum(points) = (SELECT fit_score FROM lead_process.lead WHERE id = 1) AS explains_the_score
  FROM lead_process.fit_explain(1);

-- kept on every change of a profile attribute
UPDATE lead_process.lead SET job_title = 'CTO', employees = 250 WHERE id = 3;
UPDATE lead_process.lead SET email = 'bo@school.example' WHERE id = 2;
UPDATE lead_process.lead SET properties = properties || '{"plan": "enterprise"}' WHERE id = 3;
SELECT id, job_title, fit_score FROM lead_process.lead ORDER BY id;
-- a stage move keeps it too (nothing changes here)
SELECT lead_process.move(3, 'lead');
SELECT id, stage, fit_score FROM lead_process.lead WHERE id = 3;

-- clients cannot write it (428C9) unless they write what the rules give
UPDATE lead_process.lead SET fit_score = 100 WHERE id = 1;
UPDATE lead_process.lead SET fit_score = 40 WHERE id = 1;

-- rule changes apply to new writes at once; rescore_fit() updates the rest
UPDATE lead_process.fit_rule SET points = 20 WHERE name = 'target industry';
INSERT INTO lead_process.lead (id, email, industry) VALUES (4, 'di@fin.example', 'finance');
SELECT id, fit_score, lead_process.fit_score_of(l) AS by_rules_now FROM lead_process.lead l ORDER BY id;
SELECT lead_process.rescore_fit(1);
SELECT lead_process.rescore_fit();
SELECT lead_process.rescore_fit();
SELECT id, fit_score FROM lead_process.lead ORDER BY id;
-- rescoring writes only the leads whose score changes, and no history
SELECT count(*) AS history_rows FROM lead_process.stage_history WHERE kind <> 'create';

-- inactive rules do not count; deleted rules neither
UPDATE lead_process.fit_rule SET active = false WHERE name = 'free-mail address';
DELETE FROM lead_process.fit_rule WHERE name = 'enterprise plan interest';
SELECT lead_process.rescore_fit();
SELECT id, fit_score FROM lead_process.lead ORDER BY id;

-- rules are validated when written
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('bad attribute', '{"attribute": "revenue", "op": ">", "value": 1}', 5);
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('bad value', '{"attribute": "employees", "op": ">", "value": "many"}', 5);
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('hot', '{"attribute": "score", "op": ">=", "value": 50}', 5);
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('sales stage', '{"all": [{"attribute": "country", "op": "=", "value": "US"}, {"attribute": "stage", "op": "=", "value": "sal"}]}', 5);
UPDATE lead_process.fit_rule SET condition = '{"attribute": "owner", "op": "is null"}' WHERE name = 'student';
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('too many points', '{"attribute": "country", "op": "=", "value": "US"}', 5000);
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('senior title', '{"attribute": "country", "op": "=", "value": "US"}', 5);

-- a rule that arrived without its trigger (as a restore or a replica could
-- bring) is skipped with a warning instead of failing lead writes
SET client_min_messages = warning;
SET session_replication_role = replica;
INSERT INTO lead_process.fit_rule (name, condition, points)
VALUES ('smuggled', '{"attribute": "revenue", "op": ">", "value": 1}', 5);
RESET session_replication_role;
UPDATE lead_process.fit_rule SET points = points WHERE name = 'student';	-- invalidate the cache
UPDATE lead_process.lead SET country = 'US' WHERE id = 1;
SELECT id, fit_score FROM lead_process.lead WHERE id = 1;
DELETE FROM lead_process.fit_rule WHERE name = 'smuggled';

-- fit rule changes reach other sessions at commit (the cache is invalidated
-- like the stage configuration: see the config_cache isolation test)

DROP EXTENSION lead_process;
