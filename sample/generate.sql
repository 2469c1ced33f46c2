/*
 * sample/generate.sql
 *	  Deterministic sample data for lead_process: leads with firmographics,
 *	  activities skewed over leads, and a walk of every lead through the
 *	  funnel made through the extension (so stage_history is written by it).
 *
 *	psql -v leads=100000 -v activities=1000000 [-v seed=0.42] -f sample/generate.sql
 *
 * Run it in a database where CREATE EXTENSION lead_process has been run and
 * lead_process.lead is still empty.  The same variables give the same data
 * (setseed(); every random() draw is taken in a fixed row order), apart from
 * stage_history.recorded_at and changed_by.  All dates lie in the 180 days
 * that start 2026-01-01 00:00 UTC; nothing depends on now().
 *
 * Steps (one transaction; sample/README.md gives the figures):
 *	1. companies (temporary): name, domain, industry, size band, revenue, country
 *	2. leads: contact, title, company firmographics, source, campaign, type
 *	3. activities: lead_id = 1 + perm(floor(N * u^2)), a quadratic skew (top
 *	   1% of leads get about 10% of the activities, top 10% about a third)
 *	   with the hot ranks scattered over the ids by a multiplicative
 *	   permutation; inserted in time order
 *	4. score: lead_process's own behaviour and fit rules score the sample
 *	   as it loads (rules configured before the activities)
 *	5. the funnel walk: a recursive query draws each lead's path (stage,
 *	   time, reason, status, owner per step); then one set-based UPDATE of
 *	   lead per step number moves every lead that has that step, so the
 *	   extension validates each change and writes its history row
 */
\set ON_ERROR_STOP on
\set QUIET on
\if :{?leads}
\else
\set leads 10000
\endif
\if :{?activities}
\else
\set activities 100000
\endif
\if :{?seed}
\else
\set seed 0.42
\endif

SET client_min_messages = warning;
SET TimeZone = 'UTC';
-- JIT-compiling the long CASE expressions below costs seconds per statement
-- and gains nothing here
SET jit = off;

-- the sample's events go to the outbox; nobody listens for them
SET lead_process.notify = off;
BEGIN;

-- Refuse to mix the sample with existing leads (ids start at 1).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM lead_process.lead) THEN
		RAISE EXCEPTION 'lead_process.lead is not empty'
			USING HINT = 'Load the sample into a fresh database with CREATE EXTENSION lead_process.';
	END IF;
END
$$;

SELECT setseed(:'seed') AS seeded \gset

/*
 * A lead's creation time, as a closed form of its id so that activities need
 * no join to find it: ids are in time order, with a golden-ratio jitter.
 */
CREATE FUNCTION pg_temp.created_secs(i bigint, n bigint) RETURNS bigint
	LANGUAGE sql IMMUTABLE
	AS $$ SELECT floor(((i - 1) + ((i * 0.6180339887498949) % 1)) * 15552000 / n)::bigint $$;

/* ------------------------------------------------------------------------
 * 1. Companies
 * ------------------------------------------------------------------------ */
CREATE TEMP TABLE sample_company_raw ON COMMIT DROP AS
SELECT k,
	   (ARRAY['Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware', 'Proseware',
			  'Wingtip', 'Woodgrove', 'Alpine', 'Coho', 'Lucerne', 'Trey', 'Humongous',
			  'Southridge', 'Blue Yonder', 'Margie', 'Adatum', 'Relecloud', 'Bellows',
			  'Graphic Ridge', 'Initech', 'Globex', 'Umbrella', 'Hooli', 'Vandelay',
			  'Cyberdyne', 'Tyrell', 'Soylent', 'Aperture', 'Oscorp', 'Wonka',
			  'Stark', 'Wayne', 'Gringotts', 'Dunmore', 'Pied Piper', 'Massive Dynamic',
			  'Monarch', 'Sterling', 'Vortex'])[1 + k % 40]
	   || ' ' || (ARRAY['Software', 'Capital', 'Manufacturing', 'Retail', 'Health',
						'Learning', 'Logistics', 'Media', 'Telecom', 'Public Services',
						'Consulting'])[ind]
	   || CASE WHEN k >= 40 THEN ' ' || (k / 40)::text ELSE '' END AS name,
	   'corp' || k || '.example' AS domain,
	   (ARRAY['software', 'finance', 'manufacturing', 'retail', 'health', 'education',
			  'logistics', 'media', 'telecom', 'government', 'consulting'])[ind] AS industry,
	   employees,
	   CASE WHEN r_rev < 0.12 THEN NULL
			ELSE round((employees::float8
					   * (ARRAY[250, 400, 300, 180, 150, 90, 200, 220, 350, 120, 200])[ind] * 1000
					   * exp((r_n1 + r_n2 + r_n3 - 1.5) * 0.8))::numeric, -4)
	   END AS annual_revenue,
	   country
FROM (SELECT k, ind, r_rev, r_n1, r_n2, r_n3, country,
			 floor(lo * power(hi::float8 / lo, r_emp))::integer AS employees
	  FROM (SELECT k, r_rev, r_n1, r_n2, r_n3,
				   CASE WHEN r_ind < 0.22 THEN 1 WHEN r_ind < 0.34 THEN 2 WHEN r_ind < 0.48 THEN 3
						WHEN r_ind < 0.58 THEN 4 WHEN r_ind < 0.68 THEN 5 WHEN r_ind < 0.75 THEN 6
						WHEN r_ind < 0.81 THEN 7 WHEN r_ind < 0.87 THEN 8 WHEN r_ind < 0.92 THEN 9
						WHEN r_ind < 0.96 THEN 10 ELSE 11 END AS ind,
				   -- size bands: 1-10 30%, 11-50 28%, 51-200 20%, 201-1000 12%,
				   -- 1001-5000 6%, 5001-100000 4%; log-uniform inside the band
				   CASE WHEN r_band < 0.30 THEN 1 WHEN r_band < 0.58 THEN 11 WHEN r_band < 0.78 THEN 51
						WHEN r_band < 0.90 THEN 201 WHEN r_band < 0.96 THEN 1001 ELSE 5001 END AS lo,
				   CASE WHEN r_band < 0.30 THEN 11 WHEN r_band < 0.58 THEN 51 WHEN r_band < 0.78 THEN 201
						WHEN r_band < 0.90 THEN 1001 WHEN r_band < 0.96 THEN 5001 ELSE 100001 END AS hi,
				   r_emp,
				   CASE WHEN r_cty < 0.35 THEN 'US' WHEN r_cty < 0.45 THEN 'GB' WHEN r_cty < 0.55 THEN 'DE'
						WHEN r_cty < 0.62 THEN 'FR' WHEN r_cty < 0.72 THEN 'IN' WHEN r_cty < 0.77 THEN 'JP'
						WHEN r_cty < 0.81 THEN 'IT' WHEN r_cty < 0.86 THEN 'BR' WHEN r_cty < 0.91 THEN 'CA'
						WHEN r_cty < 0.94 THEN 'AU' WHEN r_cty < 0.97 THEN 'ES' ELSE 'NL' END AS country
			FROM (SELECT k, random() AS r_ind, random() AS r_band, random() AS r_emp,
						 random() AS r_rev, random() AS r_n1, random() AS r_n2, random() AS r_n3,
						 random() AS r_cty
				  FROM generate_series(1, greatest(20, :leads / 5)) AS k) g) h) c;
-- Number the companies by size, largest first: leads pick small numbers more
-- often (k = 1 + floor(C * r^1.5)), so big companies bring more leads.
CREATE TEMP TABLE sample_company ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY employees DESC, k) AS k,
	   name, domain, industry, employees, annual_revenue, country
  FROM sample_company_raw;
CREATE UNIQUE INDEX ON sample_company (k);
ANALYZE sample_company;

/* ------------------------------------------------------------------------
 * 2. Leads
 * ------------------------------------------------------------------------ */
INSERT INTO lead_process.lead
	(id, email, first_name, last_name, company, job_title, country, industry,
	 employees, annual_revenue, source, campaign, lead_type, created_at)
SELECT g.i,
	   CASE WHEN g.r_noemail < 0.03 THEN NULL
			WHEN g.r_free < 0.30 THEN
				lower(g.first_name || '.' || g.last_name) || (g.i % 997)
				|| CASE WHEN g.r_fdom < 0.50 THEN '@gmail.com' WHEN g.r_fdom < 0.70 THEN '@yahoo.com'
						WHEN g.r_fdom < 0.90 THEN '@outlook.com' ELSE '@hotmail.com' END
			ELSE lower(left(g.first_name, 1) || g.last_name) || '@' || c.domain
	   END,
	   g.first_name, g.last_name,
	   CASE WHEN g.r_nocompany >= 0.08 THEN c.name END,
	   CASE WHEN g.r_notitle >= 0.15 THEN g.job_title END,
	   CASE WHEN g.r_nocompany >= 0.08 AND g.r_owncty < 0.80 THEN c.country ELSE g.country END,
	   CASE WHEN g.r_nocompany >= 0.08 THEN c.industry END,
	   CASE WHEN g.r_nocompany >= 0.08 THEN c.employees END,
	   CASE WHEN g.r_nocompany >= 0.08 THEN c.annual_revenue END,
	   g.source,
	   CASE g.source
			WHEN 'web' THEN CASE WHEN g.r_camp < 0.5 THEN NULL
								 WHEN g.r_camp < 0.8 THEN 'newsletter-2026'
								 ELSE 'ebook-pipeline-guide' END
			WHEN 'paid-search' THEN CASE WHEN g.r_camp < 0.5 THEN 'gads-brand-2026q'
										 WHEN g.r_camp < 0.8 THEN 'gads-generic-2026q'
										 ELSE 'linkedin-abm-2026q' END || g.quarter
			WHEN 'event' THEN CASE WHEN g.r_camp < 0.6 THEN
									   CASE g.quarter WHEN 1 THEN 'saas-summit-berlin-2026'
													  ELSE 'cloud-expo-london-2026' END
								   ELSE 'webinar-lead-scoring-2026q' || g.quarter END
			WHEN 'referral' THEN 'customer-referral-2026'
			WHEN 'partner' THEN 'partner-co-marketing-2026q' || g.quarter
			ELSE 'sdr-outbound-2026q' || g.quarter
	   END,
	   CASE WHEN g.r_type < 0.10 THEN 'existing-customer' ELSE 'new-business' END,
	   g.created_at
FROM (SELECT i, r_noemail, r_free, r_fdom, r_nocompany, r_notitle, r_owncty, r_camp, r_type,
			 1 + floor(power(r_company, 1.5) * (SELECT count(*) FROM sample_company))::bigint AS company_k,
			 (ARRAY['James', 'Mary', 'Wei', 'Priya', 'Lukas', 'Sofia', 'Hiroshi', 'Amelie',
					'Carlos', 'Fatima', 'Oliver', 'Emma', 'Rahul', 'Yuki', 'Marco', 'Ana',
					'David', 'Laura', 'Ahmed', 'Chloe', 'Noah', 'Isabella', 'Arjun', 'Mei',
					'Jonas', 'Lea', 'Mateo', 'Giulia', 'Ethan', 'Olivia', 'Kenji', 'Ines',
					'Samuel', 'Nora', 'Tomas', 'Elena', 'Felix', 'Zoe', 'Omar', 'Hannah']
			 )[1 + floor(r_first * 40)::int] AS first_name,
			 (ARRAY['Smith', 'Johnson', 'Mueller', 'Schmidt', 'Martin', 'Bernard', 'Rossi',
					'Russo', 'Sato', 'Suzuki', 'Sharma', 'Patel', 'Silva', 'Santos', 'Brown',
					'Garcia', 'Wilson', 'Taylor', 'Dubois', 'Moreau', 'Fischer', 'Weber',
					'Kumar', 'Singh', 'Tanaka', 'Watanabe', 'Costa', 'Oliveira', 'Lopez',
					'Clark', 'Lewis', 'Walker', 'Hall', 'Young', 'King', 'Wright', 'Green',
					'Baker', 'Adams', 'Nelson']
			 )[1 + floor(r_last * 40)::int] AS last_name,
			 CASE WHEN r_title < 0.04 THEN 'CEO' WHEN r_title < 0.08 THEN 'CTO'
				  WHEN r_title < 0.10 THEN 'CFO' WHEN r_title < 0.15 THEN 'VP Sales'
				  WHEN r_title < 0.19 THEN 'VP Marketing' WHEN r_title < 0.26 THEN 'Head of IT'
				  WHEN r_title < 0.31 THEN 'IT Director' WHEN r_title < 0.43 THEN 'Marketing Manager'
				  WHEN r_title < 0.51 THEN 'Sales Manager' WHEN r_title < 0.58 THEN 'Product Manager'
				  WHEN r_title < 0.74 THEN 'Engineer' WHEN r_title < 0.86 THEN 'Analyst'
				  WHEN r_title < 0.92 THEN 'Consultant' WHEN r_title < 0.97 THEN 'Student'
				  ELSE 'Intern' END AS job_title,
			 CASE WHEN r_cty < 0.35 THEN 'US' WHEN r_cty < 0.45 THEN 'GB' WHEN r_cty < 0.55 THEN 'DE'
				  WHEN r_cty < 0.62 THEN 'FR' WHEN r_cty < 0.72 THEN 'IN' WHEN r_cty < 0.77 THEN 'JP'
				  WHEN r_cty < 0.81 THEN 'IT' WHEN r_cty < 0.86 THEN 'BR' WHEN r_cty < 0.91 THEN 'CA'
				  WHEN r_cty < 0.94 THEN 'AU' WHEN r_cty < 0.97 THEN 'ES' ELSE 'NL' END AS country,
			 CASE WHEN r_src < 0.35 THEN 'web' WHEN r_src < 0.55 THEN 'paid-search'
				  WHEN r_src < 0.67 THEN 'event' WHEN r_src < 0.75 THEN 'referral'
				  WHEN r_src < 0.85 THEN 'partner' ELSE 'outbound' END AS source,
			 timestamptz '2026-01-01 00:00+00' + pg_temp.created_secs(i, :leads) * interval '1 second' AS created_at,
			 CASE WHEN pg_temp.created_secs(i, :leads) < 7776000 THEN 1 ELSE 2 END AS quarter
	  FROM (SELECT i, random() AS r_noemail, random() AS r_free, random() AS r_fdom,
				   random() AS r_nocompany, random() AS r_notitle, random() AS r_owncty,
				   random() AS r_camp, random() AS r_type, random() AS r_company,
				   random() AS r_first, random() AS r_last, random() AS r_title,
				   random() AS r_cty, random() AS r_src
			FROM generate_series(1, :leads) AS i) r) g
JOIN sample_company c ON c.k = g.company_k
ORDER BY g.i;
SELECT setval(pg_get_serial_sequence('lead_process.lead', 'id'), :leads) AS seq \gset
ANALYZE lead_process.lead;

/* ------------------------------------------------------------------------
 * Sales organisation: three teams, twelve reps, routing by country (the
 * territories of the funnel walk below), capacity for open mqls, stale sal
 * and sql leads recycled by the sweep after 45 days, and (once the walk is
 * done) a limit of three recycles before a lead is disqualified.  The walk names the rep of each
 * handoff itself, so the sample's owners stay deterministic; routing takes
 * over for every lead handed off after the load.
 * ------------------------------------------------------------------------ */
INSERT INTO lead_process.team (name, method, description) VALUES
	('na', 'round-robin', 'North America'),
	('emea', 'least-loaded', 'Europe'),
	('apac-latam', 'weighted', 'Asia-Pacific and Latin America');
INSERT INTO lead_process.rep (name, team, weight)
SELECT 'rep-' || lpad(i::text, 2, '0'),
	   CASE WHEN i <= 5 THEN 'na' WHEN i <= 9 THEN 'emea' ELSE 'apac-latam' END,
	   CASE WHEN i = 10 THEN 2 ELSE 1 END
  FROM generate_series(1, 12) i;
INSERT INTO lead_process.rep_capacity (rep, stage, max_leads)
SELECT name, 'mql', 400 FROM lead_process.rep;
INSERT INTO lead_process.routing_rule (name, priority, condition, team) VALUES
	('north america', 10, '{"attribute": "country", "op": "in", "value": ["US", "CA"]}', 'na'),
	('europe', 20, '{"attribute": "country", "op": "in", "value": ["GB", "DE", "FR", "IT", "ES", "NL"]}', 'emea'),
	('rest of world', 30, NULL, 'apac-latam');
UPDATE lead_process.stage SET stale_after = '45 days' WHERE name IN ('sal', 'sql');
/* ------------------------------------------------------------------------
 * Scoring rules: the activities below are scored by lead_process itself as
 * they are inserted (behaviour rules, caps) and the leads by their profile
 * (fit rules).  Promotion by score is switched off while the sample loads:
 * the funnel walk decides every stage change, so that the funnel rates are
 * the ones sample/README.md states; it is switched back on at the end.
 * ------------------------------------------------------------------------ */
CREATE TEMP TABLE sample_mql_threshold ON COMMIT DROP AS
SELECT score_threshold FROM lead_process.stage WHERE name = 'mql';
UPDATE lead_process.stage SET score_threshold = NULL WHERE name = 'mql';
INSERT INTO lead_process.behaviour_rule
	(name, activity_type, property, pattern, points, max_occurrences, max_points, priority)
VALUES
	('pricing page',     'page_view',        'url', '/pricing',    5, NULL, 15, 1),
	('careers page',     'page_view',        'url', '/careers/%', -10, NULL, 10, 2),
	('page view',        'page_view',        NULL,  NULL,          1, 20, NULL, 3),
	('email open',       'email_open',       NULL,  NULL,          1, 10, NULL, 4),
	('email click',      'email_click',      NULL,  NULL,          3, NULL, 15, 5),
	('form submit',      'form_submit',      NULL,  NULL,         10, NULL, 20, 6),
	('content download', 'content_download', NULL,  NULL,          8, NULL, 24, 7),
	('webinar attended', 'webinar_attended', NULL,  NULL,         12, NULL, 24, 8),
	('demo request',     'demo_request',     NULL,  NULL,         40, NULL, 40, 9),
	('free trial start', 'free_trial_start', NULL,  NULL,         30, NULL, 30, 10),
	('unsubscribe',      'unsubscribe',      NULL,  NULL,        -15, NULL, 15, 11);
INSERT INTO lead_process.fit_rule (name, condition, points) VALUES
	('senior title', '{"attribute": "job_title", "op": "in", "value": ["CEO", "CTO", "CFO", "VP Sales", "VP Marketing", "Head of IT", "IT Director"]}', 15),
	('manager', '{"attribute": "job_title", "op": "like", "value": "%Manager"}', 8),
	('practitioner', '{"attribute": "job_title", "op": "in", "value": ["Engineer", "Analyst", "Consultant"]}', 3),
	('student or intern', '{"attribute": "job_title", "op": "in", "value": ["Student", "Intern"]}', -20),
	('200+ employees', '{"attribute": "employees", "op": ">=", "value": 200}', 10),
	('1000+ employees', '{"attribute": "employees", "op": ">=", "value": 1000}', 5),
	('free-mail address', '{"attribute": "email", "op": "email-domain", "value": ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com"]}', -10);
SELECT lead_process.rescore_fit() \g /dev/null

/* ------------------------------------------------------------------------
 * 3. Activities, in time order
 * ------------------------------------------------------------------------ */
INSERT INTO lead_process.activity (lead_id, type, occurred_at, properties)
SELECT lead_id, type, occurred_at,
	   CASE type
			WHEN 'page_view' THEN jsonb_build_object('url',
				CASE WHEN q < 0.10 THEN '/pricing'
					 WHEN q < 0.13 THEN '/careers/' || (ARRAY['software-engineer', 'account-executive',
														   'product-designer', 'support-engineer'])[1 + floor(q * 1000)::int % 4]
					 WHEN q < 0.30 THEN '/product/' || (ARRAY['scoring', 'routing', 'sla', 'analytics',
														   'integrations'])[1 + floor(q * 1000)::int % 5]
					 WHEN q < 0.36 THEN '/customers'
					 WHEN q < 0.42 THEN '/docs/' || (ARRAY['getting-started', 'api', 'security'])[1 + floor(q * 1000)::int % 3]
					 ELSE '/blog/post-' || (1 + floor(q * 1000)::int % 300) END)
			WHEN 'email_open' THEN jsonb_build_object('email', 'nurture-' || (1 + floor(q * 12)::int))
			WHEN 'email_click' THEN jsonb_build_object('email', 'nurture-' || (1 + floor(q * 12)::int),
													   'url', CASE WHEN q < 0.3 THEN '/pricing' ELSE '/blog/post-' || (1 + floor(q * 1000)::int % 300) END)
			WHEN 'form_submit' THEN jsonb_build_object('form', CASE WHEN q < 0.4 THEN 'newsletter'
																	WHEN q < 0.8 THEN 'ebook' ELSE 'contact' END)
			WHEN 'content_download' THEN jsonb_build_object('asset', (ARRAY['ebook-pipeline-guide', 'whitepaper-lead-scoring',
																		   'report-state-of-b2b-2026', 'checklist-sla'])[1 + floor(q * 4)::int])
			WHEN 'webinar_attended' THEN jsonb_build_object('webinar', 'webinar-lead-scoring-2026q'
																	   || CASE WHEN occurred_at < timestamptz '2026-04-01 00:00+00' THEN '1' ELSE '2' END)
			WHEN 'demo_request' THEN jsonb_build_object('product', CASE WHEN q < 0.7 THEN 'platform' ELSE 'analytics' END)
			WHEN 'free_trial_start' THEN jsonb_build_object('plan', CASE WHEN q < 0.8 THEN 'team' ELSE 'business' END)
	   END
FROM (SELECT g, lead_id, q,
			 CASE WHEN p < 0.535 THEN 'page_view' WHEN p < 0.735 THEN 'email_open'
				  WHEN p < 0.825 THEN 'email_click' WHEN p < 0.875 THEN 'form_submit'
				  WHEN p < 0.925 THEN 'content_download' WHEN p < 0.955 THEN 'webinar_attended'
				  WHEN p < 0.975 THEN 'demo_request' WHEN p < 0.990 THEN 'free_trial_start'
				  ELSE 'unsubscribe' END AS type,
			 -- at or after the lead's creation, front-loaded (u^2), inside the window
			 timestamptz '2026-01-01 00:00+00'
			 + (cs + floor(u * u * (15552000 - cs))::bigint) * interval '1 second' AS occurred_at
	  FROM (SELECT g, lead_id, p, q, u, pg_temp.created_secs(lead_id, :leads) AS cs
			FROM (SELECT g,
						 -- rank floor(N * r^2), scattered over the ids by r -> r * P mod N
						 -- (P = 2654435761 is prime, so this is a permutation of 0..N-1)
						 1 + (least(:leads - 1, floor(:leads * r * r))::bigint * 2654435761) % :leads AS lead_id,
						 p, q, u
				  FROM (SELECT g, random() AS r, random() AS p, random() AS q, random() AS u
						FROM generate_series(1, :activities) AS g) a) b) c) d
ORDER BY occurred_at, g;
ANALYZE lead_process.activity;

/* ------------------------------------------------------------------------
 * 5. The funnel walk
 * ------------------------------------------------------------------------ */

-- What the walk needs to know about each lead, in id order.
CREATE TEMP TABLE sample_fact ON COMMIT DROP AS
SELECT id, created_at,
	   percent_rank() OVER (ORDER BY score) AS q,
	   (email IS NOT NULL AND company IS NOT NULL AND job_title IS NOT NULL) AS complete,
	   coalesce(job_title IN ('Student', 'Intern'), false) AS student,
	   -- sales territories: NA rep-01..05, EMEA rep-06..09, APAC+LATAM rep-10..12
	   CASE WHEN country IN ('US', 'CA') THEN 0
			WHEN country IN ('GB', 'DE', 'FR', 'IT', 'ES', 'NL') THEN 1
			ELSE 2 END AS team
  FROM lead_process.lead;

/*
 * The path of every lead.  Each recursive step draws four numbers (u: where
 * to go, v: reason or status, w: rep, d: delay) and moves on, or stops when
 * the lead stays in its stage or the next change would fall after the
 * window.  Rates per step (before the window cuts late leads short):
 *	subscriber: lead 86%, disqualified 1% (junk), else stays
 *	lead (first pass): students disqualified 15% (not-a-fit); others
 *		disqualified 2%, fast-track to sal 4% (demo request / free
 *		trial), mql 10% + 66% x score percentile if email, company and title
 *		are present; else nurtured
 *	lead (after a recycle): requalify to mql 22% (second pass), 10% (third),
 *		disqualified 2%; cool-down 30 days
 *	mql: accepted 55% +/- rep bias (up to 6 points), rejected 28%,
 *		disqualified 3%, else waiting
 *	sal: sql 56%, recycled 30%, disqualified 4%, else working
 *	sql: opportunity 62%, recycled 25%, disqualified 3%, else working
 *	opportunity: customer 30%, recycled 50% (closed-lost, stale), else open
 */
CREATE TEMP TABLE sample_path ON COMMIT DROP AS
WITH RECURSIVE walk (lead_id, step, stage, at, reason, status, owner, cycle, q, complete, student, team) AS (
	SELECT id, 0, 'subscriber'::text, created_at, NULL::text, NULL::text, NULL::text, 0,
		   q, complete, student, team
	  FROM (SELECT * FROM sample_fact ORDER BY id) f
	UNION ALL
	SELECT lead_id, step + 1, next, at + (delay_min + floor(-ln(1 - d) * delay_mean)) * interval '1 second',
		   CASE WHEN next = 'disqualified' THEN
					CASE WHEN stage = 'subscriber' THEN 'junk'
						 WHEN student THEN 'not-a-fit'
						 WHEN cycle >= 2 AND stage = 'lead' THEN 'too-many-recycles'
						 WHEN stage = 'lead' THEN CASE WHEN v < 0.30 THEN 'junk' WHEN v < 0.65 THEN 'duplicate'
													   WHEN v < 0.75 THEN 'competitor' ELSE 'not-a-fit' END
						 WHEN stage = 'mql' THEN CASE WHEN v < 0.40 THEN 'duplicate' WHEN v < 0.75 THEN 'not-a-fit'
													  WHEN v < 0.90 THEN 'competitor' ELSE 'junk' END
						 ELSE CASE WHEN v < 0.60 THEN 'not-a-fit' WHEN v < 0.80 THEN 'competitor' ELSE 'duplicate' END
					END
				WHEN next = 'lead' AND stage = 'mql' THEN 'rejected'
				WHEN next = 'lead' AND stage = 'sal' THEN
					CASE WHEN v < 0.45 THEN 'unreachable' WHEN v < 0.85 THEN 'returned-not-ready' ELSE 'stale' END
				WHEN next = 'lead' AND stage = 'sql' THEN
					CASE WHEN v < 0.50 THEN 'returned-not-ready' WHEN v < 0.80 THEN 'stale' ELSE 'unreachable' END
				WHEN next = 'lead' AND stage = 'opportunity' THEN
					CASE WHEN v < 0.80 THEN 'closed-lost' ELSE 'stale' END
				WHEN next = 'sal' AND stage = 'lead' THEN
					CASE WHEN v < 0.70 THEN 'demo-request' ELSE 'free-trial-start' END
		   END,
		   -- status on entering the stage (NULL: the edge's or the stage's default)
		   CASE WHEN next = 'lead' AND stage = 'subscriber' THEN
					CASE WHEN v < 0.45 THEN 'new' WHEN v < 0.80 THEN 'working' ELSE 'nurturing' END
				WHEN next = 'mql' THEN CASE WHEN v < 0.6 THEN 'new' ELSE 'working' END
				WHEN next = 'sal' THEN
					CASE WHEN v < 0.25 THEN 'new' WHEN v < 0.65 THEN 'attempting-contact' ELSE 'connected' END
				WHEN next = 'sql' THEN CASE WHEN v < 0.5 THEN 'new' ELSE 'meeting-booked' END
				WHEN next = 'opportunity' THEN
					CASE WHEN v < 0.40 THEN 'meeting-booked' WHEN v < 0.70 THEN 'quote-in-development'
						 WHEN v < 0.90 THEN 'quote-current' ELSE 'on-hold' END
		   END,
		   -- the rep: assigned on the handoff (mql, or sal by fast-track),
		   -- cleared when marketing takes the lead back
		   CASE WHEN next = 'mql' OR (next = 'sal' AND stage = 'lead') THEN
					'rep-' || lpad((CASE team WHEN 0 THEN 1 + floor(w * 5) WHEN 1 THEN 6 + floor(w * 4)
											  ELSE 10 + floor(w * 3) END)::text, 2, '0')
				WHEN next = 'lead' THEN NULL
				ELSE owner
		   END,
		   cycle + CASE WHEN next = 'lead' AND stage <> 'subscriber' THEN 1 ELSE 0 END,
		   q, complete, student, team
	  FROM (SELECT x.*,
				   -- minimum and mean (exponential) delay in seconds
				   CASE stage || '>' || next
						WHEN 'subscriber>lead' THEN 60 WHEN 'subscriber>disqualified' THEN 600
						WHEN 'lead>mql' THEN CASE WHEN cycle = 0 THEN 3600 ELSE 30 * 86400 END
						WHEN 'lead>sal' THEN 3600 WHEN 'lead>disqualified' THEN 3600
						WHEN 'mql>sal' THEN 600 WHEN 'mql>lead' THEN 3600 WHEN 'mql>disqualified' THEN 3600
						WHEN 'sal>sql' THEN 86400 WHEN 'sal>lead' THEN 3 * 86400 WHEN 'sal>disqualified' THEN 86400
						WHEN 'sql>opportunity' THEN 86400 WHEN 'sql>lead' THEN 7 * 86400 WHEN 'sql>disqualified' THEN 86400
						ELSE 7 * 86400 END AS delay_min,
				   CASE stage || '>' || next
						WHEN 'subscriber>lead' THEN 1.5 * 86400 WHEN 'subscriber>disqualified' THEN 86400
						WHEN 'lead>mql' THEN CASE WHEN cycle = 0 THEN 12 * 86400 ELSE 20 * 86400 END
						WHEN 'lead>sal' THEN 10 * 86400 WHEN 'lead>disqualified' THEN 4 * 86400
						WHEN 'mql>sal' THEN 18 * 3600 WHEN 'mql>lead' THEN 2 * 86400 WHEN 'mql>disqualified' THEN 86400
						WHEN 'sal>sql' THEN 6 * 86400 WHEN 'sal>lead' THEN 14 * 86400 WHEN 'sal>disqualified' THEN 5 * 86400
						WHEN 'sql>opportunity' THEN 8 * 86400 WHEN 'sql>lead' THEN 20 * 86400 WHEN 'sql>disqualified' THEN 7 * 86400
						WHEN 'opportunity>customer' THEN 25 * 86400 ELSE 30 * 86400 END AS delay_mean
			  FROM (SELECT r.*,
						   CASE stage
								WHEN 'subscriber' THEN
									CASE WHEN u < 0.01 THEN 'disqualified' WHEN u < 0.87 THEN 'lead' END
								WHEN 'lead' THEN
									CASE WHEN cycle = 0 THEN
											 CASE WHEN student AND u < 0.15 THEN 'disqualified'
												  WHEN u < 0.02 THEN 'disqualified'
												  WHEN student THEN NULL
												  WHEN u < 0.06 THEN 'sal'
												  WHEN complete AND u < 0.06 + 0.10 + 0.66 * q THEN 'mql'
											 END
										 ELSE
											 CASE WHEN u < 0.02 THEN 'disqualified'
												  WHEN cycle = 1 AND u < 0.22 THEN 'mql'
												  WHEN cycle = 2 AND u < 0.10 THEN 'mql'
											 END
									END
								WHEN 'mql' THEN
									CASE WHEN u < 0.55 + ((right(owner, 2)::int * 7) % 5 - 2) * 0.03 THEN 'sal'
										 WHEN u < 0.83 THEN 'lead'
										 WHEN u < 0.86 THEN 'disqualified' END
								WHEN 'sal' THEN
									CASE WHEN u < 0.56 THEN 'sql' WHEN u < 0.86 THEN 'lead'
										 WHEN u < 0.90 THEN 'disqualified' END
								WHEN 'sql' THEN
									CASE WHEN u < 0.62 THEN 'opportunity' WHEN u < 0.87 THEN 'lead'
										 WHEN u < 0.90 THEN 'disqualified' END
								WHEN 'opportunity' THEN
									CASE WHEN u < 0.30 THEN 'customer' WHEN u < 0.80 THEN 'lead' END
						   END AS next
					  FROM (SELECT wk.*, random() AS u, random() AS v, random() AS w, random() AS d
							  FROM walk wk) r) x
			 WHERE next IS NOT NULL) y
	 WHERE at + (delay_min + floor(-ln(1 - d) * delay_mean)) * interval '1 second'
		   < timestamptz '2026-01-01 00:00+00' + interval '180 days'
)
SELECT lead_id, step, stage, at, reason, status, owner
  FROM walk
 WHERE step > 0;
CREATE INDEX ON sample_path (step, lead_id);
ANALYZE sample_path;

/*
 * Apply the paths through the extension: one UPDATE per step number, each
 * moving every lead that has that step, backdated to the drawn time.
 */
DO $$
DECLARE
	k integer;
	last_step integer;
BEGIN
	SELECT max(step) INTO last_step FROM pg_temp.sample_path;
	FOR k IN 1 .. coalesce(last_step, 0) LOOP
		-- a status named in the SET list is the lead's new status; without
		-- one, the stage machine applies the edge's or the stage's default
		UPDATE lead_process.lead l
		   SET stage = p.stage,
			   status = p.status,
			   stage_changed_at = p.at,
			   stage_reason = p.reason,
			   owner = p.owner
		  FROM pg_temp.sample_path p
		 WHERE p.step = k AND p.lead_id = l.id AND p.status IS NOT NULL;
		UPDATE lead_process.lead l
		   SET stage = p.stage,
			   stage_changed_at = p.at,
			   stage_reason = p.reason,
			   owner = p.owner
		  FROM pg_temp.sample_path p
		 WHERE p.step = k AND p.lead_id = l.id AND p.status IS NULL;
	END LOOP;
END
$$;

-- promotion by score back on
UPDATE lead_process.stage SET score_threshold = (SELECT score_threshold FROM sample_mql_threshold)
 WHERE name = 'mql';
UPDATE lead_process.stage SET max_recycles = 3 WHERE name = 'lead';

COMMIT;

-- (a role that does not own the tables gets no VACUUM warnings)
SET client_min_messages = error;

VACUUM ANALYZE lead_process.lead;
VACUUM ANALYZE lead_process.activity;
VACUUM ANALYZE lead_process.stage_history;

SELECT (SELECT count(*) FROM lead_process.lead) AS n_leads,
	   (SELECT count(*) FROM lead_process.activity) AS n_activities,
	   (SELECT count(*) FROM lead_process.stage_history) AS n_history \gset
\echo sample: :n_leads leads, :n_activities activities, :n_history stage_history rows (seed :seed)
