-- pgTAP: rules/partner.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_partner).
BEGIN;
SELECT plan(24);

-- the data: two trips armed at the port of Mombasa two hours ago. S-UG drives through
-- Nakuru and crosses into Uganda at Malaba (the border rule of ingest writes its legs);
-- S-KE goes to Nairobi and never leaves Kenya.
DO $$
DECLARE
    t0 float8 := extract(epoch FROM now());
BEGIN
    INSERT INTO corridor.seals (id, protocol, device_id) VALUES
        ('S-UG', 'jt808', '013800000001'), ('S-KE', 'jt808', '013800000002');
    INSERT INTO corridor.geofences (name, kind, country, geom) VALUES
        ('Port of Mombasa', 'port', 'KE', ST_Multi(ST_MakeEnvelope(39.63, -4.08, 39.68, -4.04, 4326))),
        ('Malaba', 'border_post', 'KE', ST_Multi(ST_MakeEnvelope(34.26, 0.62, 34.29, 0.65, 4326))),
        ('Kampala ICD', 'customs_office', 'UG', ST_Multi(ST_MakeEnvelope(32.55, 0.30, 32.62, 0.36, 4326))),
        ('Nairobi ICD', 'customs_office', 'KE', ST_Multi(ST_MakeEnvelope(36.88, -1.34, 36.93, -1.30, 4326)));
    -- both seals report locked at the port (arming needs it)
    PERFORM corridor.ingest_batch(ARRAY['S-UG', 'S-KE'], ARRAY[t0 - 7200, t0 - 7200],
        ARRAY[-4.06, -4.06], ARRAY[39.655, 39.655], ARRAY[0, 0]::real[], ARRAY[0, 0]::real[],
        ARRAY[NULL, NULL]::real[], ARRAY[NULL, NULL]::real[], ARRAY[80, 80]::real[],
        ARRAY['locked', 'locked'], ARRAY[NULL, NULL]::text[]);
    PERFORM corridor.route_create(json_build_object('name', 'Mombasa-Kampala', 'corridor_m', 100000,
        'max_transit_minutes', 6000, 'max_speed_kmh', 1000000, 'geometry',
        '{"type": "LineString", "coordinates": [[39.655, -4.06], [36.07, -0.3], [34.275, 0.636], [32.58, 0.33]]}'::json));
    PERFORM corridor.trip_arm(json_build_object('seal_id', 'S-UG',
        'route_id', (SELECT max(id) FROM corridor.routes),
        'origin_id', (SELECT id FROM corridor.geofences WHERE name = 'Port of Mombasa'),
        'destination_id', (SELECT id FROM corridor.geofences WHERE name = 'Kampala ICD'),
        'conveyance', json_build_object('plate', 'KCA 123A', 'container', 'CSQU3054383'),
        'declaration', 'KE-2026-0001'), now() - interval '7190 seconds');
    PERFORM corridor.trip_arm(json_build_object('seal_id', 'S-KE',
        'route_id', (SELECT max(id) FROM corridor.routes),
        'origin_id', (SELECT id FROM corridor.geofences WHERE name = 'Port of Mombasa'),
        'destination_id', (SELECT id FROM corridor.geofences WHERE name = 'Nairobi ICD'),
        'conveyance', json_build_object('plate', 'KBX 900Z', 'container', 'MSCU1234566'),
        'declaration', 'KE-2026-0002'), now() - interval '7190 seconds');
    -- S-UG: Nakuru (Kenya, far from Uganda), the Kenyan side of Malaba, then Uganda
    PERFORM corridor.ingest_batch(ARRAY['S-UG', 'S-UG', 'S-UG', 'S-UG'],
        ARRAY[t0 - 5400, t0 - 3600, t0 - 3500, t0 - 3400],
        ARRAY[-0.3, 0.63, 0.64, 0.5], ARRAY[36.07, 34.25, 34.30, 33.5],
        ARRAY[60, 60, 60, 60]::real[], ARRAY[0, 0, 0, 0]::real[],
        ARRAY[NULL, NULL, NULL, NULL]::real[], ARRAY[NULL, NULL, NULL, NULL]::real[],
        ARRAY[80, 80, 80, 80]::real[], ARRAY['locked', 'locked', 'locked', 'locked'],
        ARRAY[NULL, NULL, NULL, NULL]::text[]);
    -- S-KE: on its way to Nairobi
    PERFORM corridor.ingest_batch(ARRAY['S-KE'], ARRAY[t0 - 3600], ARRAY[-3.4], ARRAY[38.56],
        ARRAY[60]::real[], ARRAY[0]::real[], ARRAY[NULL]::real[], ARRAY[NULL]::real[],
        ARRAY[80]::real[], ARRAY['locked'], ARRAY[NULL]::text[]);
END $$;
CREATE TEMP TABLE answer AS
SELECT 'UG' AS k, corridor.partner_trips('UG', NULL, NULL, 1, 7, '/api/partner/trips')::jsonb AS j;

-- the border rule wrote the legs partner_trips reads (the premise of what follows)
SELECT results_eq($$ SELECT country FROM corridor.trip_legs l JOIN corridor.trips t ON t.id = l.trip_id
                     WHERE t.seal_id = 'S-UG' ORDER BY l.entered_at $$,
                  $$ VALUES ('KE'), ('UG') $$, 'S-UG stayed in Kenya, then in Uganda');

-- refusals: a bad page, range or country is CT422 and names it
SELECT throws_ok($$ SELECT corridor.partner_trips('UG', NULL, NULL, 0, 7, 'q') $$,
                 'CT422', 'invalid_page: page is a number from 1', 'page 0 is refused');
SELECT throws_ok($$ SELECT corridor.partner_trips('UG', NULL, NULL, NULL, 7, 'q') $$,
                 'CT422', 'invalid_page: page is a number from 1', 'no page is refused');
SELECT throws_ok($$ SELECT corridor.partner_trips('UG', NULL, NULL, 100001, 7, 'q') $$,
                 'CT422', 'invalid_page: page is a number from 1', 'a page past 100000 is refused');
SELECT throws_ok($$ SELECT corridor.partner_trips('UG', now(), now() - interval '1 day', 1, 7, 'q') $$,
                 'CT422', 'invalid_range: since is after until', 'since after until is refused');
SELECT throws_ok($$ SELECT corridor.partner_trips('XX', NULL, NULL, 1, 7, 'q') $$,
                 'CT422', 'unknown_country: no country XX', 'an unknown country is refused');
SELECT throws_ok($$ SELECT corridor.partner_trips(NULL, NULL, NULL, 1, 7, 'q') $$,
                 'CT422', 'unknown_country: no country NULL', 'no country is refused');

-- the answer's frame: country, page, 50 a page, total, no next page, the default 30 days
SELECT is((SELECT j - 'trips' FROM answer WHERE k = 'UG'),
          jsonb_build_object('country', 'UG', 'page', 1, 'page_size', 50, 'total', 1,
                             'next_page', NULL, 'since', corridor.iso(now() - interval '30 days'),
                             'until', corridor.iso(now())),
          'the frame of the answer');

-- Uganda sees the trip that entered it, with its conveyance, declaration, route, places
SELECT is((SELECT j #>> '{trips,0,id}' FROM answer WHERE k = 'UG'),
          (SELECT id::text FROM corridor.trips WHERE seal_id = 'S-UG'), 'the trip into Uganda');
SELECT is((SELECT j -> 'trips' -> 0 -> 'conveyance' FROM answer WHERE k = 'UG'),
          '{"plate": "KCA 123A", "container": "CSQU3054383"}'::jsonb, 'its conveyance');
SELECT is((SELECT array[j #>> '{trips,0,declaration}', j #>> '{trips,0,route,name}',
                        j #>> '{trips,0,origin}', j #>> '{trips,0,destination}',
                        j #>> '{trips,0,origin_country}', j #>> '{trips,0,status}']
             FROM answer WHERE k = 'UG'),
          array['KE-2026-0001', 'Mombasa-Kampala', 'Port of Mombasa', 'Kampala ICD', 'KE', 'armed'],
          'its declaration, route, origin, destination, origin country and status');

-- its crossing into Uganda, at the nearest border post
SELECT is((SELECT jsonb_array_length(j #> '{trips,0,crossings}') FROM answer WHERE k = 'UG'), 1,
          'one crossing');
SELECT is((SELECT array[c ->> 'from', c ->> 'to', c ->> 'border_post', c #>> '{point,type}']
             FROM answer, jsonb_array_elements(j #> '{trips,0,crossings}') c WHERE k = 'UG'),
          array['KE', 'UG', 'Malaba', 'Point'], 'from Kenya to Uganda at Malaba');

-- the track is clipped to Uganda and about 50 km around it: Nakuru is not in it
SELECT is((SELECT j #>> '{trips,0,track,type}' FROM answer WHERE k = 'UG'), 'LineString',
          'the track is a LineString');
SELECT ok((SELECT ST_XMax(ST_GeomFromGeoJSON(j #>> '{trips,0,track}')) < 35
             FROM answer WHERE k = 'UG'), 'no point of the track east of 35 E (Nakuru is at 36.07 E)');
SELECT ok((SELECT ST_XMin(ST_GeomFromGeoJSON(j #>> '{trips,0,track}')) <= 33.5
             FROM answer WHERE k = 'UG'), 'the Ugandan part is in it');

-- Kenya sees the trip that left it, not the one that stayed; the crossing leads out of it
INSERT INTO answer SELECT 'KE', corridor.partner_trips('KE', NULL, NULL, 1, 8, '/api/partner/trips?country=KE');
SELECT results_eq($$ SELECT t ->> 'id' FROM answer, jsonb_array_elements(j -> 'trips') t WHERE k = 'KE' $$,
                  $$ SELECT id::text FROM corridor.trips WHERE seal_id = 'S-UG' $$,
                  'Kenya: only the trip that left it');
SELECT is((SELECT j #>> '{trips,0,crossings,0,from}' FROM answer WHERE k = 'KE'), 'KE',
          'Kenya: the crossing out of Kenya');

-- a country no trip entered or left sees nothing
INSERT INTO answer SELECT 'TZ', corridor.partner_trips('TZ', NULL, NULL, 1, 9, 'q');
SELECT is((SELECT array[j ->> 'total', j ->> 'trips'] FROM answer WHERE k = 'TZ'), array['0', '[]'],
          'Tanzania: no trips');

-- the stay must overlap [since, until]: an hour after arming S-UG was still in Kenya
SELECT is((corridor.partner_trips('UG', now() - interval '3 hours', now() - interval '90 minutes',
                                  1, 7, 'q') ->> 'total')::int, 0,
          'Uganda, before the trip entered it: nothing');
SELECT is((corridor.partner_trips('KE', now() - interval '3 hours', now() - interval '90 minutes',
                                  1, 8, 'q') ->> 'total')::int, 1,
          'Kenya, in the same hours: the trip');

-- a page past the end is empty, with the total
SELECT is((SELECT array[a ->> 'total', a ->> 'trips', a ->> 'next_page']
             FROM corridor.partner_trips('UG', NULL, NULL, 2, 7, 'q') a),
          array['1', '[]', NULL], 'page 2 of one trip: empty, total 1, no next page');

-- every answered query is audited in the same transaction: token, country, query, rows
SELECT results_eq($$ SELECT token_id, country, query, rows, status FROM corridor.partner_audit
                     WHERE country IN ('UG', 'KE', 'TZ') ORDER BY id LIMIT 3 $$,
                  $$ VALUES (7::bigint, 'UG', '/api/partner/trips', 1, 200),
                            (8::bigint, 'KE', '/api/partner/trips?country=KE', 1, 200),
                            (9::bigint, 'TZ', 'q', 0, 200) $$,
                  'each query is audited with the rows it returned');
SELECT is((SELECT count(*)::int FROM corridor.partner_audit), 6,
          'six answers, six audit rows (refusals are audited by the gateway)');

SELECT * FROM finish();
ROLLBACK;
