-- pgTAP: rules/regions.sql, safe regions: when a fix can be known to raise nothing.
BEGIN;
SELECT plan(13);
\ir setup/corridor.sql
CREATE FUNCTION pg_temp.kinds(p_seal text, p_at float8, p_lat float8, p_lon float8,
                              p_lock text DEFAULT 'locked', p_speed real DEFAULT 60)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(kind, ',' ORDER BY kind), '')
    FROM pg_temp.fix(p_seal, p_at, p_lat, p_lon, p_speed, 90, p_lock, NULL)
$$;
CREATE FUNCTION pg_temp.gen() RETURNS bigint LANGUAGE sql AS $$ SELECT gen FROM corridor.safe_gen $$;

SELECT pg_temp.seal('TAP-1');
SELECT pg_temp.arm('TAP-1', 30) AS trip \gset
-- arming voids the region the seal had as an unarmed seal
SELECT is((SELECT safe_gen FROM corridor.latest WHERE seal_id = 'TAP-1'), NULL,
          'arming voids the seal''s region');
-- a full evaluation on the road leaves a region of the current generation, for the trip
SELECT pg_temp.kinds('TAP-1', 100, -1.0, 36.1);
SELECT is((SELECT safe_gen FROM corridor.latest WHERE seal_id = 'TAP-1'), pg_temp.gen(),
          'evaluated: a region of the current generation');
SELECT is((SELECT safe_trip FROM corridor.latest WHERE seal_id = 'TAP-1'), :'trip'::uuid,
          'made for the trip');
SELECT ok((SELECT safe_r > 0 AND safe_r < 0.05 FROM corridor.latest WHERE seal_id = 'TAP-1'),
          'a trip disc inside the corridor (under the 0.05-degree cap)');
-- the next fix close by, moving, locked: quiet (stored, not evaluated)
SELECT ok(pg_temp.kinds('TAP-1', 110, -1.0, 36.1005) LIKE '%quiet%', 'a fix inside it is quiet');
SELECT is((SELECT count(*)::int FROM corridor.positions WHERE seal_id = 'TAP-1'
           AND ts = to_timestamp(:t0 + 110)), 1, 'and stored');
-- what would change an outcome is never quiet: the seal opened, the truck stopped
SELECT ok(pg_temp.kinds('TAP-1', 120, -1.0, 36.101, 'open') NOT LIKE '%quiet%',
          'an opened seal is not quiet');
SELECT ok(pg_temp.kinds('TAP-1', 130, -1.0, 36.1015, 'open', 1) NOT LIKE '%quiet%',
          'a stopped truck is not quiet');
-- any change to the reference data makes every region stale
SELECT pg_temp.gen() AS g0 \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('New fence', 'parking',
    ST_Multi(ST_MakeEnvelope(10, 10, 10.01, 10.01, 4326)));
SELECT is(pg_temp.gen(), :g0 + 1::bigint, 'a new fence bumps the generation');
UPDATE corridor.routes SET stop_minutes = stop_minutes WHERE id = :route;
SELECT is(pg_temp.gen(), :g0 + 2::bigint, 'so does a route change');
SELECT pg_temp.kinds('TAP-1', 140, -1.0, 36.102, 'locked', 60);
SELECT ok(pg_temp.kinds('TAP-1', 150, -1.0, 36.1025, 'locked', 60) LIKE '%quiet%',
          'after an evaluation under the new generation, quiet again');
-- the region as the worker's copy reads it: 19 fields, the seal last
SELECT is((SELECT array_length(string_to_array(corridor.region_text(l), ' '), 1)
           FROM corridor.latest l WHERE seal_id = 'TAP-1'), 19, 'region_text has 19 fields');
SELECT is((SELECT split_part(corridor.region_text(l), ' ', 19) FROM corridor.latest l
           WHERE seal_id = 'TAP-1'), 'TAP-1', 'the seal id last');

SELECT * FROM finish();
ROLLBACK;
