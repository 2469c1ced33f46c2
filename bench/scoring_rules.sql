-- The rule set of the PL/pgSQL reference (shared peer/schema.sql), as
-- lead_process behaviour rules: first matching rule wins, in peer id order;
-- a demo request fast-tracks to sal.  The promotion lead -> mql at score >= 50
-- with email, company and job_title is the default process's mql threshold.
-- Not configured (not in lead_process yet): the handoff SLA.
INSERT INTO lead_process.behaviour_rule
	(name, activity_type, property, pattern, points, max_occurrences, priority)
VALUES
	('pricing page',     'page_view',        'url', '%/pricing%',  10, NULL, 1),
	('careers page',     'page_view',        'url', '%/careers%', -10, NULL, 2),
	('page view',        'page_view',        NULL,  NULL,           1, 20,   3),
	('email open',       'email_open',       NULL,  NULL,           1, 10,   4),
	('email click',      'email_click',      NULL,  NULL,           3, NULL, 5),
	('form submit',      'form_submit',      NULL,  NULL,           5, NULL, 6),
	('content download', 'content_download', NULL,  NULL,           8, NULL, 7),
	('webinar attended', 'webinar_attended', NULL,  NULL,          15, NULL, 8),
	('demo request',     'demo_request',     NULL,  NULL,          30, NULL, 9),
	('unsubscribe',      'unsubscribe',      NULL,  NULL,         -20, NULL, 10);
UPDATE lead_process.behaviour_rule SET fast_track_to = 'sal' WHERE name = 'demo request';
