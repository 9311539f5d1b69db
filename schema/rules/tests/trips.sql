-- pgTAP: rules/trips.sql, arming, disarming, the trip and its report.
BEGIN;
SELECT plan(23);
\ir setup/corridor.sql

-- ISO 6346: the owner code, category, serial and check digit; spacing does not matter
SELECT is(corridor.iso6346_normalise('csqu 305438-3'), 'CSQU3054383', 'normalised');
SELECT ok(corridor.iso6346_valid('CSQU3054383'), 'a valid container number');
SELECT ok(NOT corridor.iso6346_valid('CSQU3054384'), 'a wrong check digit');
SELECT ok(NOT corridor.iso6346_valid('CSQX3054383'), 'category X does not exist');

-- the body an arming team sends, with one field changed
CREATE FUNCTION pg_temp.arm_body(extra jsonb DEFAULT '{}') RETURNS json LANGUAGE sql AS $$
    SELECT (jsonb_build_object('seal_id', 'TAP-1', 'route_id', current_setting('tap.route')::bigint,
                'origin_id', current_setting('tap.origin')::bigint,
                'destination_id', current_setting('tap.dest')::bigint,
                'conveyance', jsonb_build_object('plate', 'KBX 123A', 'container', 'CSQU3054383'),
                'declaration', '2026MSA1234567') || extra)::json
$$;

-- arming refuses, naming the problem
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body()) $$, 'CT422', NULL,
                 'a seal that is not registered');
SELECT pg_temp.seal('TAP-1');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body('{"conveyance": {"plate": "KBX 123A", "container": "CSQU3054384"}}')) $$,
                 'CT422', NULL, 'a container whose check digit is wrong');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body(jsonb_build_object('destination_id', current_setting('tap.origin')::bigint))) $$,
                 'CT422', NULL, 'a destination that is the origin');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body('{"route_id": 987654}')) $$,
                 'CT422', NULL, 'a route that does not exist');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body('{"declaration": ""}')) $$,
                 'CT422', NULL, 'no declaration');
SELECT pg_temp.seal('TAP-OPEN');
SELECT count(*) FROM pg_temp.fix('TAP-OPEN', 10, -1.0, 36.0, 0, 90, 'open');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body('{"seal_id": "TAP-OPEN"}')) $$,
                 'CT409', NULL, 'a seal that reports itself open cannot be armed');

-- armed: one trip per seal, its state started
SELECT pg_temp.arm('TAP-1') AS trip \gset
SELECT is((SELECT status FROM corridor.trips WHERE id = :'trip'), 'armed', 'armed');
SELECT is((SELECT count(*)::int FROM corridor.trip_state WHERE trip_id = :'trip'), 1,
          'its rule state exists');
SELECT throws_ok($$ SELECT corridor.trip_arm(pg_temp.arm_body()) $$, 'CT409', NULL,
                 'a seal on an armed trip cannot be armed again');
SELECT is((corridor.trip_get(:'trip') ->> 'status'), 'armed', 'trip_get shows it');
SELECT is((corridor.trip_get(:'trip') -> 'conveyance' ->> 'container'), 'CSQU3054383',
          'with the container');
SELECT throws_ok($$ SELECT corridor.trip_get('00000000-0000-0000-0000-000000000000') $$,
                 'CT404', NULL, 'an unknown trip');

-- disarming outside the destination is refused and raised; inside it ends the trip
SELECT count(*) FROM pg_temp.fix('TAP-1', 600, -1.0, 36.5, 60, 90, 'locked');
SELECT corridor.trip_disarm_now(:'trip', to_timestamp(:t0 + 700)) AS refused \gset
SELECT is(:'refused'::json ->> 'error', 'disarm_outside_destination', 'refused on the road');
SELECT is((SELECT count(*)::int FROM corridor.incidents
           WHERE trip_id = :'trip' AND rule = 'disarm_outside_destination'), 1,
          'with an incident');
SELECT count(*) FROM pg_temp.fix('TAP-1', 3000, -1.0, 37.0, 0, 90, 'locked');
SELECT is(corridor.trip_disarm_now(:'trip', to_timestamp(:t0 + 3100)) ->> 'status', 'disarmed',
          'disarmed at the destination');
SELECT is((SELECT count(*)::int FROM corridor.trip_state WHERE trip_id = :'trip'), 0,
          'its rule state is gone');
SELECT throws_ok(format($$ SELECT corridor.trip_disarm_now(%L) $$, :'trip'), 'CT409', NULL,
                 'a disarmed trip cannot be disarmed again');

-- the reconciliation report of what happened
SELECT ok(json_typeof(corridor.trip_report(:'trip')) = 'object', 'trip_report is an object');
SELECT ok(position('destination_arrival' IN pg_temp.events(:'trip')) > 0,
          'the arrival is among its events');

SELECT * FROM finish();
ROLLBACK;
