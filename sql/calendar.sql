--
-- Business calendars: business_time_add() and business_time_between()
--
-- Expected values are computed by hand from the zones' 2024 rules (stated
-- with each calendar), then checked against an independent oracle: a
-- minute-by-minute count that converts each minute with AT TIME ZONE and
-- looks the local time up in the calendar tables (pg_temp.oracle below).
-- Results are shown in UTC; comments give local times.
--
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE EXTENSION lead_process;
SET search_path = lead_process, public;

-- Business time in [f, t), one minute at a time (all data on whole minutes)
CREATE FUNCTION pg_temp.oracle(cal text, f timestamptz, t timestamptz)
RETURNS interval LANGUAGE sql AS $$
	SELECT count(*) * interval '1 minute'
	  FROM lead_process.calendar c,
		   LATERAL generate_series(f, t - interval '1 minute', interval '1 minute') m,
		   LATERAL (SELECT m AT TIME ZONE c.time_zone AS l) loc
	 WHERE c.name = cal
	   AND EXISTS (SELECT FROM lead_process.calendar_hours h
				   WHERE h.calendar = cal
					 AND h.weekday = extract(isodow FROM loc.l)
					 AND loc.l::time >= h.opens AND loc.l::time < h.closes)
	   AND NOT EXISTS (SELECT FROM lead_process.calendar_holiday d
					   WHERE d.calendar = cal AND d.day = loc.l::date
						 AND (d.closed_from IS NULL
							  OR (loc.l::time >= d.closed_from AND loc.l::time < d.closed_until)))
$$;

-- the seeded calendar: Monday to Friday 09:00-17:00 UTC
SELECT name, time_zone FROM calendar ORDER BY name;
SELECT weekday, opens, closes FROM calendar_hours WHERE calendar = 'default' ORDER BY weekday;
-- 2024-01-05 is a Friday: 16:00 + 2 h = 1 h Friday + 1 h Monday 09:00-10:00
SELECT business_time_add('default', '2024-01-05 16:00+00', '2 hours');
-- a full day from the opening ends at the closing of the same day
SELECT business_time_add('default', '2024-01-08 09:00+00', '8 hours');
-- start outside hours (Saturday): counting starts Monday 09:00
SELECT business_time_add('default', '2024-01-06 12:00+00', '30 minutes');
-- half-open shifts: from 17:00 exactly (excluded) the hour is Tuesday 09:00-10:00
SELECT business_time_add('default', '2024-01-08 17:00+00', '1 hour');
-- at 09:00 exactly (included) the first minute counts
SELECT business_time_between('default', '2024-01-08 09:00+00', '2024-01-08 09:01+00');
SELECT business_time_between('default', '2024-01-08 16:59+00', '2024-01-08 17:00+00');
-- amount 0 returns the start unchanged, even outside hours
SELECT business_time_add('default', '2024-01-06 12:00+00', '0');
-- days count as 24 hours: 1 day = three 8-hour days, Mon 09:00 -> Wed 17:00
SELECT business_time_add('default', '2024-01-08 09:00+00', '1 day');
-- a week is 40 hours; zero on a weekend; negative when to < from
SELECT business_time_between('default', '2024-01-01 00:00+00', '2024-01-08 00:00+00');
SELECT business_time_between('default', '2024-01-06 00:00+00', '2024-01-08 00:00+00');
SELECT business_time_between('default', '2024-01-08 00:00+00', '2024-01-01 00:00+00');
SELECT business_time_between('default', '2024-01-08 12:00+00', '2024-01-08 12:00+00');
-- long spans cost no more than short ones: 10 years = 521 weeks + 5 weekdays
-- (2014-01-01 Wednesday .. 2024-01-01 Monday: 3652 days)
SELECT business_time_between('default', '2014-01-01 00:00+00', '2024-01-01 00:00+00');

--
-- America/New_York, Monday-Friday 09:00-17:00.  2024: EST (-5) until
-- Sunday 10 March 02:00 local (07:00 UTC), EDT (-4) after.
--
INSERT INTO calendar (name, time_zone) VALUES ('ny', 'America/New_York');
INSERT INTO calendar_hours (calendar, weekday, opens, closes)
SELECT 'ny', d, '09:00', '17:00' FROM generate_series(1, 5) d;
-- Friday 8 March 16:00 EST (21:00 UTC) + 2 h: 1 h Friday, then Monday
-- 11 March 09:00-10:00 EDT = 13:00-14:00 UTC
SELECT business_time_add('ny', '2024-03-08 21:00+00', '2 hours');
SELECT business_time_between('ny', '2024-03-08 21:00+00', '2024-03-11 14:00+00');
-- the week of the switch still has 40 hours
SELECT business_time_between('ny', '2024-03-04 05:00+00', '2024-03-11 04:00+00');

--
-- Europe/Berlin with two shifts a day (08:00-12:00, 13:00-17:00, Monday to
-- Friday), a partial and two whole holidays.  CET (+1) in winter.
--
INSERT INTO calendar (name, time_zone, description) VALUES ('berlin', 'Europe/Berlin', 'Berlin office');
INSERT INTO calendar_hours (calendar, weekday, opens, closes)
SELECT 'berlin', d, s.opens, s.closes
  FROM generate_series(1, 5) d,
	   (VALUES ('08:00'::time, '12:00'::time), ('13:00', '17:00')) s(opens, closes);
INSERT INTO calendar_holiday (calendar, day, closed_from, closed_until, description) VALUES
	('berlin', '2024-12-24', '12:00', '24:00', 'Christmas Eve, afternoon'),
	('berlin', '2024-12-25', NULL, NULL, 'Christmas Day'),
	('berlin', '2024-12-26', NULL, NULL, 'Boxing Day');
-- Monday 8 January 11:00 CET (10:00 UTC) + 2 h: 11-12, lunch, 13-14 CET
SELECT business_time_add('berlin', '2024-01-08 10:00+00', '2 hours');
-- the lunch break is closed
SELECT business_time_between('berlin', '2024-01-08 11:00+00', '2024-01-08 12:00+00');
-- Monday 23 December 16:00 CET + 4 h: 16-17, then Tuesday 08:00-11:00 CET
SELECT business_time_add('berlin', '2024-12-23 15:00+00', '4 hours');
-- + 6 h: 1 h Monday, 4 h Tuesday morning (closed from 12:00), 25th and
-- 26th closed, Friday 27th 08:00-09:00 CET = 07:00-08:00 UTC
SELECT business_time_add('berlin', '2024-12-23 15:00+00', '6 hours');
-- the week: Mon 8 h + Tue 4 h + Fri 8 h = 20 h
SELECT business_time_between('berlin', '2024-12-23 00:00+01', '2024-12-30 00:00+01');

--
-- Europe/Berlin night shift split at midnight: Saturday 22:00-24:00 and
-- Sunday 00:00-06:00.  2024-03-31 02:00 CET -> 03:00 CEST (01:00 UTC):
-- the night has 7 hours.  2024-10-27 03:00 CEST -> 02:00 CET (01:00 UTC):
-- 02:00-03:00 happens twice and the night has 9 hours.
--
INSERT INTO calendar (name, time_zone) VALUES ('night', 'Europe/Berlin');
INSERT INTO calendar_hours (calendar, weekday, opens, closes) VALUES
	('night', 6, '22:00', '24:00'),
	('night', 7, '00:00', '06:00');
SELECT business_time_between('night', '2024-03-30 00:00+00', '2024-04-01 00:00+00');
SELECT business_time_between('night', '2024-10-26 00:00+00', '2024-10-28 00:00+00');
-- Saturday 22:00 CET (21:00 UTC) + 5 h: 22:00-02:00 CET is 4 h (until
-- 01:00 UTC), the clock jumps to 03:00 CEST, one more hour ends at 04:00
-- CEST = 02:00 UTC
SELECT business_time_add('night', '2024-03-30 21:00+00', '5 hours');
-- the same in October: from 22:00 CEST (20:00 UTC), 22:00-24:00 and
-- 00:00-03:00 CEST are 5 h, ending at 01:00 UTC, the instant the clock
-- falls back to 02:00 CET
SELECT business_time_add('night', '2024-10-26 20:00+00', '5 hours');
-- a shift that ends at 24:00 and one that starts at 00:00 make one span:
-- 8 hours from Saturday 22:00 CET end at Sunday 06:00 CET
SELECT business_time_add('night', '2024-01-06 21:00+00', '8 hours');

--
-- Australia/Sydney: Monday-Friday 09:00-17:00 plus Sunday 01:00-04:00.
-- 2024-04-07 03:00 AEDT (+11) -> 02:00 AEST (+10) at 16:00 UTC on the 6th;
-- 2024-10-06 02:00 AEST -> 03:00 AEDT at 16:00 UTC on the 5th.
--
INSERT INTO calendar (name, time_zone) VALUES ('sydney', 'Australia/Sydney');
INSERT INTO calendar_hours (calendar, weekday, opens, closes)
SELECT 'sydney', d, '09:00'::time, '17:00'::time FROM generate_series(1, 5) d
UNION ALL SELECT 'sydney', 7, '01:00', '04:00';
-- Sunday 7 April: 02:00-03:00 twice, 4 hours
SELECT business_time_between('sydney', '2024-04-06 12:00+00', '2024-04-07 12:00+00');
-- Sunday 6 October: 02:00-03:00 never happens, 2 hours
SELECT business_time_between('sydney', '2024-10-05 12:00+00', '2024-10-06 12:00+00');
-- Friday 5 April 16:00 AEDT (05:00 UTC) + 3 h: 1 h Friday; Sunday 01:00
-- AEDT is 14:00 UTC, 2 h later (16:00 UTC) the clock falls back: done
SELECT business_time_add('sydney', '2024-04-05 05:00+00', '3 hours');

--
-- Asia/Kolkata (+05:30, no DST): Monday-Saturday 10:00-18:30.
--
INSERT INTO calendar (name, time_zone) VALUES ('kolkata', 'Asia/Kolkata');
INSERT INTO calendar_hours (calendar, weekday, opens, closes)
SELECT 'kolkata', d, '10:00', '18:30' FROM generate_series(1, 6) d;
-- Saturday 6 January 17:00 IST (11:30 UTC) + 2 h: 1.5 h Saturday, Sunday
-- closed, Monday 10:00-10:30 IST = 04:30-05:00 UTC
SELECT business_time_add('kolkata', '2024-01-06 11:30+00', '2 hours');
-- a week: 6 x 8.5 h = 51 h
SELECT business_time_between('kolkata', '2024-01-01 00:00+05:30', '2024-01-08 00:00+05:30');

--
-- Australia/Lord_Howe, whose DST is 30 minutes: Sunday 01:00-03:00.
-- 2024-04-07 02:00 (+11) -> 01:30 (+10:30) at 15:00 UTC on the 6th: 2.5 h;
-- 2024-10-06 02:00 (+10:30) -> 02:30 (+11) at 15:30 UTC on the 5th: 1.5 h.
--
INSERT INTO calendar (name, time_zone) VALUES ('lord_howe', 'Australia/Lord_Howe');
INSERT INTO calendar_hours (calendar, weekday, opens, closes) VALUES ('lord_howe', 7, '01:00', '03:00');
SELECT business_time_between('lord_howe', '2024-04-06 12:00+00', '2024-04-07 12:00+00');
SELECT business_time_between('lord_howe', '2024-10-05 12:00+00', '2024-10-06 12:00+00');
-- Sunday 6 October 01:00 (+10:30, 14:30 UTC) + 1 h: 01:00-02:00 is one
-- hour, ending at 15:30 UTC, the instant of the jump
SELECT business_time_add('lord_howe', '2024-10-05 14:30+00', '1 hour');
-- + 1 h 15 min: the last 15 minutes are 02:30-02:45 (+11) = 15:45 UTC
SELECT business_time_add('lord_howe', '2024-10-05 14:30+00', '1 hour 15 minutes');

--
-- Pacific/Chatham (+12:45, DST +13:45): Monday-Friday 09:00-17:00 and
-- Sunday 02:00-05:00.  2024-04-07 03:45 (+13:45) -> 02:45 (+12:45) at
-- 14:00 UTC on the 6th: 4 h; 2024-09-29 02:45 (+12:45) -> 03:45 (+13:45)
-- at 14:00 UTC on the 28th: 2 h.
--
INSERT INTO calendar (name, time_zone) VALUES ('chatham', 'Pacific/Chatham');
INSERT INTO calendar_hours (calendar, weekday, opens, closes)
SELECT 'chatham', d, '09:00'::time, '17:00'::time FROM generate_series(1, 5) d
UNION ALL SELECT 'chatham', 7, '02:00', '05:00';
SELECT business_time_between('chatham', '2024-04-06 06:00+00', '2024-04-06 20:00+00');
SELECT business_time_between('chatham', '2024-09-28 06:00+00', '2024-09-28 20:00+00');
-- Monday 8 January 09:00 (+13:45) is 19:15 UTC on the 7th; 8 h later it
-- is 17:00 local = 03:15 UTC
SELECT business_time_add('chatham', '2024-01-07 19:15+00', '8 hours');

-- every result above against the oracle
SELECT c.cal, c.f, c.t, business_time_between(c.cal, c.f, c.t) = pg_temp.oracle(c.cal, c.f, c.t) AS agrees
  FROM (VALUES
	('ny', '2024-03-08 00:00+00'::timestamptz, '2024-03-12 00:00+00'::timestamptz),
	('berlin', '2024-12-22 00:00+00', '2024-12-29 00:00+00'),
	('night', '2024-03-29 00:00+00', '2024-04-02 00:00+00'),
	('night', '2024-10-25 00:00+00', '2024-10-29 00:00+00'),
	('sydney', '2024-04-04 00:00+00', '2024-04-09 00:00+00'),
	('sydney', '2024-10-03 00:00+00', '2024-10-08 00:00+00'),
	('kolkata', '2024-01-05 00:00+00', '2024-01-09 00:00+00'),
	('lord_howe', '2024-04-05 00:00+00', '2024-04-08 00:00+00'),
	('lord_howe', '2024-10-04 00:00+00', '2024-10-07 00:00+00'),
	('chatham', '2024-04-05 00:00+00', '2024-04-09 00:00+00'),
	('chatham', '2024-09-27 00:00+00', '2024-10-01 00:00+00')) AS c(cal, f, t)
 ORDER BY 1, 2;
-- and add() against between(): the business time up to the result is the amount
SELECT c.cal, a.amount,
	   business_time_between(c.cal, c.f, business_time_add(c.cal, c.f, a.amount)) = a.amount AS round_trip
  FROM (VALUES ('night', '2024-03-30 20:30+00'::timestamptz), ('night', '2024-10-26 20:30+00'),
			   ('lord_howe', '2024-10-05 14:00+00'), ('chatham', '2024-09-28 12:00+00'),
			   ('sydney', '2024-04-06 13:00+00')) AS c(cal, f),
	   (VALUES (interval '30 minutes'), ('2 hours'), ('3 hours 15 minutes'), ('7 hours')) AS a(amount)
 ORDER BY 1, 2;

--
-- The cache follows changes of the tables at once
--
SELECT business_time_add('default', '2024-01-08 16:00+00', '2 hours');
INSERT INTO calendar_holiday (calendar, day) VALUES ('default', '2024-01-09');
-- Tuesday is now a holiday: the second hour is Wednesday 09:00-10:00
SELECT business_time_add('default', '2024-01-08 16:00+00', '2 hours');
DELETE FROM calendar_holiday WHERE calendar = 'default';
SELECT business_time_add('default', '2024-01-08 16:00+00', '2 hours');
-- the holidays' search is bounded by the holidays: Mondays only, every
-- Monday of 2024 closed -> the first hour is Monday 6 January 2025
INSERT INTO calendar (name, time_zone) VALUES ('mondays', 'UTC');
INSERT INTO calendar_hours VALUES ('mondays', 1, '09:00', '10:00');
INSERT INTO calendar_holiday (calendar, day)
SELECT 'mondays', d FROM generate_series('2024-01-01'::date, '2024-12-31', '7 days') d;
SELECT business_time_add('mondays', '2024-01-01 00:00+00', '1 hour');
-- shifts can be moved in one statement without tripping the overlap check
UPDATE calendar_hours SET opens = opens + interval '1 hour', closes = closes + interval '1 hour'
 WHERE calendar = 'berlin' AND weekday = 1;
SELECT weekday, opens, closes FROM calendar_hours WHERE calendar = 'berlin' AND weekday = 1 ORDER BY opens;

--
-- Errors
--
\set VERBOSITY default
-- unknown calendar
SELECT business_time_add('nowhere', '2024-01-08 09:00+00', '1 hour');
-- calendar without business hours
INSERT INTO calendar (name, time_zone) VALUES ('empty', 'UTC');
SELECT business_time_add('empty', '2024-01-08 09:00+00', '1 hour');
SELECT business_time_between('empty', '2024-01-08 09:00+00', '2024-01-09 09:00+00');
-- unknown time zone (names are case-sensitive)
INSERT INTO calendar (name, time_zone) VALUES ('mars', 'Mars/Olympus_Mons');
UPDATE calendar SET time_zone = 'europe/berlin' WHERE name = 'berlin';
-- overlapping shifts
INSERT INTO calendar_hours (calendar, weekday, opens, closes) VALUES ('ny', 1, '16:00', '18:00');
-- inverted shift (a night shift must be split at midnight)
INSERT INTO calendar_hours (calendar, weekday, opens, closes) VALUES ('ny', 6, '22:00', '06:00');
-- weekday out of range
INSERT INTO calendar_hours (calendar, weekday, opens, closes) VALUES ('ny', 8, '09:00', '10:00');
-- partial holiday with one time only, and one that ends before it starts
INSERT INTO calendar_holiday (calendar, day, closed_from) VALUES ('ny', '2024-07-04', '12:00');
INSERT INTO calendar_holiday (calendar, day, closed_from, closed_until) VALUES ('ny', '2024-07-04', '15:00', '12:00');
-- months have no fixed length
SELECT business_time_add('default', '2024-01-08 09:00+00', '1 month');
-- negative amounts are refused
SELECT business_time_add('default', '2024-01-08 09:00+00', '-1 hour');
-- infinite and far-away timestamps
SELECT business_time_add('default', 'infinity', '1 hour');
SELECT business_time_between('default', '2024-01-08 09:00+00', '200000-01-01 00:00+00');
-- a result beyond the supported range (about 146,000 years after 1970)
SELECT business_time_add('default', '148100-01-01 00:00+00', '5000 days');
-- STRICT: NULL in, NULL out
SELECT business_time_add('default', NULL, '1 hour') IS NULL AS is_null;

DROP EXTENSION lead_process;
