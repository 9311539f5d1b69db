-- pgTAP: rules/ingest.sql, the batch of fixes and every per-fix rule (ingest_evaluate).
-- The per-rule integration cases (test_trips.c) drive whole journeys; these read each
-- rule's edge where it is decided.
BEGIN;
SELECT plan(22);
\ir setup/corridor.sql
-- metres north of 1 deg S, in degrees
CREATE FUNCTION pg_temp.north(m float8) RETURNS float8 LANGUAGE sql AS $$ SELECT -1.0 + m / 110575.0 $$;
CREATE FUNCTION pg_temp.rows(p_seal text, p_at float8, p_lat float8, p_lon float8,
                             p_lock text DEFAULT 'locked', p_batt real DEFAULT 90,
                             p_alarm text DEFAULT NULL, p_speed real DEFAULT 60)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(kind, ',' ORDER BY kind), '')
    FROM pg_temp.fix(p_seal, p_at, p_lat, p_lon, p_speed, p_batt, p_lock, p_alarm)
$$;

-- unknown seals are refused, with the reason, and nothing is stored
SELECT is((SELECT body FROM pg_temp.fix('NOBODY', 10, -1.0, 36.1) WHERE kind = 'reject'),
          'unknown seal id "NOBODY"', 'an unknown seal is refused by name');
SELECT is((SELECT count(*)::int FROM corridor.positions WHERE seal_id = 'NOBODY'), 0,
          'and nothing of it is stored');

-- a fix is stored, latest advances; a re-sent fix is stored once; a late one never moves latest
SELECT pg_temp.seal('TAP-1');
SELECT is(pg_temp.rows('TAP-1', 100, -1.0, 36.05), 'position', 'a new fix: its position message');
SELECT pg_temp.rows('TAP-1', 100, -1.0, 36.05);
SELECT is((SELECT count(*)::int FROM corridor.positions WHERE seal_id = 'TAP-1'
           AND ts = to_timestamp(:t0 + 100)), 1, 'a re-sent fix is stored once');
SELECT pg_temp.rows('TAP-1', 50, -1.0, 36.02);
SELECT is((SELECT extract(epoch FROM ts)::bigint - :t0 FROM corridor.latest WHERE seal_id = 'TAP-1'),
          100::bigint, 'a late fix is stored but latest keeps the newest');
SELECT is((SELECT count(*)::int FROM corridor.positions WHERE seal_id = 'TAP-1'), 3,
          'the late fix is stored');

-- restricted zones: entering one is critical at once, for any seal
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Military', 'restricted',
    ST_Multi(ST_MakeEnvelope(35.0, -2.01, 35.02, -1.99, 4326))) RETURNING id AS mil \gset
SELECT pg_temp.seal('TAP-2');
SELECT ok(pg_temp.rows('TAP-2', 100, -2.0, 35.01) LIKE '%incident%', 'entering: an incident');
SELECT is((SELECT severity FROM corridor.incidents WHERE seal_id = 'TAP-2'
           AND rule = 'restricted_zone_entry'), 'critical', 'restricted_zone_entry, critical');
SELECT is((SELECT string_agg(kind, ',' ORDER BY ts) FROM corridor.events WHERE seal_id = 'TAP-2'
           AND fence_id = :mil), 'fence_enter', 'a fence_enter event');
SELECT pg_temp.rows('TAP-2', 200, -2.0, 35.01);
SELECT is((SELECT event_count FROM corridor.incidents WHERE seal_id = 'TAP-2'), 1,
          'staying inside raises nothing more');
SELECT pg_temp.rows('TAP-2', 300, -2.0, 35.1);
SELECT is((SELECT string_agg(kind, ',' ORDER BY ts) FROM corridor.events WHERE seal_id = 'TAP-2'
           AND fence_id = :mil), 'fence_enter,fence_exit', 'leaving: fence_exit');
-- an event raised long after its fix says it is history (mark_backfilled: over 5 minutes)
SELECT is((SELECT details ->> 'backfilled' FROM corridor.events WHERE seal_id = 'TAP-2'
           AND kind = 'fence_enter' AND fence_id = :mil), 'true', 'a day-old fix raises a backfilled event');

-- an armed seal on route 1
SELECT pg_temp.arm('TAP-1', 150) AS trip \gset
SELECT pg_temp.rows('TAP-1', 160, -1.0, 36.055);
-- route deviation: 2 fixes and 60 s of grace (the route's defaults)
SELECT pg_temp.rows('TAP-1', 200, pg_temp.north(2000), 36.06);
SELECT is(pg_temp.events(:'trip'), '', 'one fix 2 km off: within grace');
SELECT pg_temp.rows('TAP-1', 230, pg_temp.north(2100), 36.065);
SELECT is(pg_temp.events(:'trip'), '', 'two fixes but 30 s: within grace');
SELECT pg_temp.rows('TAP-1', 290, pg_temp.north(2100), 36.07);
SELECT is(pg_temp.events(:'trip'), 'route_deviation', 'three fixes over 60 s: route_deviation');
SELECT pg_temp.rows('TAP-1', 350, -1.0, 36.075);
SELECT is(pg_temp.events(:'trip'), 'route_deviation,route_return', 'back on the road: route_return');

-- the seal: opened, tampered, low battery, each once
SELECT pg_temp.rows('TAP-1', 400, -1.0, 36.08, 'open');
SELECT pg_temp.rows('TAP-1', 410, -1.0, 36.085, 'open');
SELECT is((SELECT count(*)::int FROM corridor.events WHERE trip_id = :'trip' AND kind = 'seal_opened'),
          1, 'seal_opened once while it stays open');
SELECT is((SELECT severity FROM corridor.incidents WHERE trip_id = :'trip' AND rule = 'seal_opened'),
          'critical', 'seal_opened is critical');
SELECT pg_temp.rows('TAP-1', 420, -1.0, 36.09, 'locked', 20);
SELECT is((SELECT count(*)::int FROM corridor.events WHERE trip_id = :'trip' AND kind = 'low_battery'),
          0, 'at the 20 % limit the battery is not low (corridor.battery_low)');
SELECT pg_temp.rows('TAP-1', 430, -1.0, 36.095, 'locked', 19.5);
SELECT is((SELECT count(*)::int FROM corridor.events WHERE trip_id = :'trip' AND kind = 'low_battery'),
          1, 'below it: low_battery');
SELECT pg_temp.rows('TAP-1', 440, -1.0, 36.1, 'locked', 90, 'tampering');
SELECT is((SELECT count(*)::int FROM corridor.events WHERE trip_id = :'trip' AND kind = 'seal_tampered'),
          1, 'a tampering alarm: seal_tampered');

-- impossible movement: 50 km in a minute
SELECT pg_temp.rows('TAP-1', 500, -1.0, 36.6);
SELECT ok(pg_temp.events(:'trip') LIKE '%impossible_movement%', '50 km in 60 s: impossible_movement');

SELECT * FROM finish();
ROLLBACK;
