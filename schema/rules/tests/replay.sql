-- pgTAP: rules/replay.sql, the replay of a trip and of a seal's window: the columns (in
-- time order, one value per fix, the trip's fixes only), events, incidents, the route with
-- its corridor and checkpoints, the window's refusals, and the plan (the positions primary
-- key).
BEGIN;
SELECT plan(33);
\ir setup/corridor.sql

SELECT pg_temp.seal('TAP-R');                      -- a fix at t0, before arming
SELECT pg_temp.arm('TAP-R', 30) AS trip \gset
-- eleven fixes a minute apart along the route, through CP1 (36.3 E), then the seal opened
SELECT count(*) FROM generate_series(1, 11) k,
    LATERAL pg_temp.fix('TAP-R', 60 * k, -1.0, 36.0 + 0.03 * k, (40 + k)::real, 90, 'locked');
SELECT count(*) FROM pg_temp.fix('TAP-R', 720, -1.0, 36.34, 12::real, 90, 'open');
CREATE TEMP TABLE r AS SELECT corridor.replay_trip(:'trip')::jsonb AS j;

SELECT throws_ok($$ SELECT corridor.replay_trip('00000000-0000-0000-0000-000000000000') $$,
                 'CT404', NULL, 'a trip that does not exist');
SELECT is((SELECT jsonb_array_length(j -> 't') FROM r), 12, 'the twelve fixes after arming');
SELECT is((SELECT (j -> 't' ->> 0)::float8 FROM r), current_setting('tap.t0')::float8 + 60,
          'the first fix is the first after arming (epoch seconds)');
SELECT ok((SELECT bool_and(a < b) FROM r, LATERAL (
              SELECT (x)::float8 a, lead(x::float8) OVER (ORDER BY k) b
              FROM jsonb_array_elements_text(j -> 't') WITH ORDINALITY e(x, k)) s
           WHERE b IS NOT NULL), 'in time order');
SELECT is((SELECT ARRAY[jsonb_array_length(j -> 'lon'), jsonb_array_length(j -> 'lat'),
                        jsonb_array_length(j -> 'speed')] FROM r), ARRAY[12, 12, 12],
          'one lon, lat and speed per fix');
SELECT is((SELECT (j -> 'lon' ->> 2)::float8 FROM r), 36.09::float8, 'lon of the third fix');
SELECT is((SELECT (j -> 'lat' ->> 2)::float8 FROM r), -1::float8, 'lat of the third fix');
SELECT is((SELECT (j -> 'speed' ->> 2)::float8 FROM r), 43::float8, 'speed of the third fix');
SELECT ok((SELECT NOT j ? 'fuel' FROM r), 'no fuel column without fuel data');
SELECT is((SELECT (j ->> 'count')::int FROM r), 12, 'count');
SELECT is((SELECT j ->> 'truncated' FROM r), 'false', 'not truncated');
SELECT is((SELECT j -> 'trip' ->> 'id' FROM r), :'trip', 'the trip it is');
SELECT is((SELECT (j ->> 'from')::float8 FROM r), current_setting('tap.t0')::float8 + 30,
          'from is the arming time');
SELECT is((SELECT j -> 'to' FROM r), 'null'::jsonb, 'an armed trip has no end yet');

-- events and incidents of the trip, where and when they happened
SELECT is((SELECT (e ->> 'ts')::float8 FROM r, jsonb_array_elements(j -> 'events') e
           WHERE e ->> 'kind' = 'trip_armed'), current_setting('tap.t0')::float8 + 30,
          'the arming event, at its time');
SELECT is((SELECT jsonb_array_length(j -> 'events') FROM r),
          (SELECT count(*)::int FROM corridor.events WHERE trip_id = :'trip'),
          'every event of the trip');
SELECT is((SELECT jsonb_array_length(j -> 'incidents') FROM r),
          (SELECT count(*)::int FROM corridor.incidents WHERE trip_id = :'trip'),
          'every incident of the trip');
SELECT is((SELECT (i ->> 'lon')::float8 FROM r, jsonb_array_elements(j -> 'incidents') i
           WHERE i ->> 'kind' = 'seal_opened'), 36.34::float8,
          'the seal opened, at its place');

-- the route: line, corridor, checkpoints with their passage
SELECT is((SELECT j -> 'route' -> 'corridor' ->> 'type' FROM r), 'Polygon', 'the corridor polygon');
SELECT is((SELECT j -> 'route' -> 'line' ->> 'type' FROM r), 'LineString', 'the route line');
SELECT is((SELECT string_agg(c ->> 'name', ',') FROM r,
           jsonb_array_elements(j -> 'route' -> 'checkpoints') c), 'CP1,CP2', 'the checkpoints');
SELECT ok((SELECT (j -> 'route' -> 'checkpoints' -> 0 ->> 'passed') IS NOT NULL
                  AND (j -> 'route' -> 'checkpoints' -> 1 ->> 'passed') IS NULL FROM r),
          'CP1 passed, CP2 not');

-- a seal's window
SELECT is(jsonb_array_length(corridor.replay_seal('TAP-R', to_char(to_timestamp(:t0 + 120) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                                  to_char(to_timestamp(:t0 + 300) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::jsonb -> 't'),
          4, 'a window holds its fixes, both ends included');
SELECT is((SELECT ARRAY[jsonb_array_length(x -> 't'), (x -> 'route' ->> 'id')::int,
                        jsonb_array_length(x -> 'trips')]
           FROM (SELECT corridor.replay_seal('TAP-R', NULL, NULL)::jsonb x) s),
          ARRAY[13, current_setting('tap.route')::int, 1],
          'without from and to: the day up to the latest fix, with the trip and its route');
SELECT throws_ok($$ SELECT corridor.replay_seal('NOPE', NULL, NULL) $$, 'CT404', NULL,
                 'a seal that is not registered');
SELECT throws_ok($$ SELECT corridor.replay_seal('TAP-R', 'now', NULL) $$, 'CT400',
                 'bad_time: from must be an ISO 8601 time with its zone, such as 2026-12-07T10:00:00Z (got "now")',
                 'from must be ISO 8601, not PostgreSQL''s words');
SELECT throws_ok($$ SELECT corridor.replay_seal('TAP-R', '2026-12-01T10:00:00', NULL) $$, 'CT400',
                 NULL, 'a time without its zone');
SELECT throws_ok($$ SELECT corridor.replay_seal('TAP-R', '2026-12-02T10:00:00Z', '2026-12-01T10:00:00Z') $$,
                 'CT400', NULL, 'to before from');
SELECT throws_ok($$ SELECT corridor.replay_seal('TAP-R', '2026-12-01T00:00:00Z', '2026-12-08T00:00:01Z') $$,
                 'CT400', NULL, 'more than 7 days');

-- past the most fixes a replay carries it says so, and ends at the last it carries
CREATE OR REPLACE FUNCTION corridor.replay_max_fixes() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 5 $$;
SELECT is((SELECT ARRAY[(j ->> 'count')::int, jsonb_array_length(j -> 't'), jsonb_array_length(j -> 'lat')]
           FROM (SELECT corridor.replay_trip(:'trip')::jsonb j) x), ARRAY[5, 5, 5],
          'truncated to the cap, every column alike');
SELECT is((SELECT j ->> 'truncated' FROM (SELECT corridor.replay_trip(:'trip')::jsonb j) x),
          'true', 'truncated: true');
CREATE OR REPLACE FUNCTION corridor.replay_max_fixes() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 12 $$;
SELECT is((SELECT j ->> 'truncated' FROM (SELECT corridor.replay_trip(:'trip')::jsonb j) x),
          'false', 'exactly the cap is not truncated');

-- the plan: the window is a range of the positions primary key in each partition (seq
-- scans off: these tables are tiny), not a filter over every fix
CREATE FUNCTION pg_temp.plan_of(p_seal text) RETURNS TABLE (line text) LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL enable_seqscan = off;
    RETURN QUERY EXECUTE format(
        'EXPLAIN SELECT count(*), array_agg(ts) FROM (SELECT ts FROM corridor.positions '
        'WHERE seal_id = %L AND ts >= now() - interval ''3 days'' AND ts <= now() '
        'ORDER BY ts LIMIT 250001) p', p_seal);
END $$;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of('TAP-R')
                  WHERE line ~ 'Index Cond: \(\(seal_id = .* AND \(ts >= .* AND \(ts <= '),
          'the window is a range of the positions key (seal_id, ts)');
SELECT * FROM finish();
ROLLBACK;
