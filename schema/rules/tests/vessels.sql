-- pgTAP: rules/vessels.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_vessels).
BEGIN;
SELECT plan(41);

-- the data: the port of Kilindini (Mombasa), a firing range, a parking lot; times are minutes
-- after T0 = 1900000000 (Unix seconds), as tests/integration/test_vessels.c does.
-- A = 636012345 is watched by MMSI (declared port Mombasa), B = 477000001 by the IMO it
-- reports (9321483, declared port Mombasa), U = 538000001 is not watched.
INSERT INTO corridor.geofences (name, kind, geom) VALUES
    ('Kilindini', 'port', ST_Multi(ST_MakeEnvelope(39.60, -4.10, 39.70, -4.00, 4326))),
    ('Firing range', 'restricted', ST_Multi(ST_MakeEnvelope(40.00, -4.50, 40.10, -4.40, 4326))),
    ('Truck park', 'parking', ST_Multi(ST_MakeEnvelope(39.50, -4.00, 39.52, -3.98, 4326)));
-- position reports (message 1): the columns a position report carries
CREATE FUNCTION pg_temp.pos(p_mmsi bigint[], p_min float8, p_lat float8[], p_lon float8[], p_sog real[])
RETURNS TABLE (kind text, idx int, reason text, body jsonb) LANGUAGE sql AS $$
    SELECT kind, idx, CASE WHEN kind = 'reject' THEN body END,
           CASE WHEN kind <> 'reject' THEN body::jsonb END FROM corridor.ingest_vessels(p_mmsi,
        array_fill(1900000000 + p_min * 60, ARRAY[cardinality(p_mmsi)]), array_fill(1, ARRAY[cardinality(p_mmsi)]),
        p_lat, p_lon, p_sog, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')
$$;
-- static data (message 5): name, IMO, destination, ETA
CREATE FUNCTION pg_temp.static(p_mmsi bigint, p_min float8, p_imo int, p_dest text)
RETURNS TABLE (kind text, idx int, reason text, body jsonb) LANGUAGE sql AS $$
    SELECT kind, idx, CASE WHEN kind = 'reject' THEN body END,
           CASE WHEN kind <> 'reject' THEN body::jsonb END FROM corridor.ingest_vessels(ARRAY[p_mmsi], ARRAY[1900000000 + p_min * 60],
        '{5}', '{}', '{}', '{}', '{}', '{}', '{}', '{SHIP}', '{CALL}', ARRAY[p_imo], '{70}', ARRAY[p_dest],
        '{12-01T10:00Z}', '{9.5}')
$$;
CREATE FUNCTION pg_temp.t(p_min float8) RETURNS timestamptz LANGUAGE sql AS
    $$ SELECT to_timestamp(1900000000 + p_min * 60) $$;

-- watchlist_add refuses what is not a watch entry, with CT422 and the code
SELECT throws_ok($$ SELECT corridor.watchlist_add('[1]') $$, 'CT422',
                 'invalid_body: the body must be a JSON object', 'a body that is not an object');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"declaration": "KE-1", "reason": "r"}') $$, 'CT422',
                 'mmsi_or_imo_required: give the vessel''s mmsi or imo', 'neither mmsi nor imo');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": 1234567890, "declaration": "KE-1", "reason": "r"}') $$, 'CT422',
                 'invalid_mmsi: mmsi must be an integer from 1 to 999999999', 'an MMSI of ten digits');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": "636012345", "declaration": "KE-1", "reason": "r"}') $$, 'CT422',
                 'invalid_mmsi: mmsi must be an integer from 1 to 999999999', 'an MMSI as a string');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"imo": 9321484, "declaration": "KE-1", "reason": "r"}') $$, 'CT422',
                 'invalid_imo: imo must be a 7-digit IMO number with a valid check digit', 'an IMO with a wrong check digit');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": 636012345, "declaration": "   ", "reason": "r"}') $$, 'CT422',
                 'declaration_required: declaration must be a customs declaration reference of 1 to 200 characters',
                 'a blank declaration');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": 636012345, "declaration": "KE-1"}') $$, 'CT422',
                 'reason_required: reason must say why the vessel is watched (1 to 1000 characters)', 'no reason');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": 636012345, "declaration": "KE-1", "reason": "r", "port": 7}') $$, 'CT422',
                 'invalid_port: port must be the declared port''s name or UN/LOCODE (1 to 100 characters)', 'a port that is not a name');
SELECT throws_ok(format($$ SELECT corridor.watchlist_add('{"mmsi": 636012345, "declaration": "KE-1", "reason": "r", "port_fence_id": %s}') $$,
                        (SELECT id FROM corridor.geofences WHERE name = 'Truck park')), 'CT422',
                 'unknown_port_fence: port_fence_id must name a live geofence of kind port or anchorage',
                 'a port fence that is a parking lot');

-- watchlist_add: the entry, trimmed, active; the same vessel and declaration only once
CREATE TEMP TABLE w AS SELECT 'A' AS k, corridor.watchlist_add('{"mmsi": 636012345, "declaration": " KE-1 ",
    "reason": "risky declaration", "port": "Mombasa", "actor": "officer:jane"}')::jsonb AS j;
INSERT INTO w SELECT 'B', corridor.watchlist_add('{"imo": 9321483, "declaration": "KE-2", "reason": "r", "port": "Mombasa"}');
SELECT is((SELECT array[j ->> 'mmsi', j ->> 'declaration', j ->> 'port', j ->> 'actor', j ->> 'active', j ->> 'stopped_at']
             FROM w WHERE k = 'A'),
          array['636012345', 'KE-1', 'Mombasa', 'officer:jane', 'true', NULL], 'the entry, its declaration trimmed');
SELECT throws_ok($$ SELECT corridor.watchlist_add('{"mmsi": 636012345, "declaration": "KE-1", "reason": "again"}') $$, 'CT409',
                 'already_watched: this vessel is already watched for declaration KE-1', 'the same declaration twice');

-- ingest_vessels: a bad MMSI is rejected with its index; the others are stored
CREATE TEMP TABLE b0 AS SELECT * FROM pg_temp.pos('{636012345, 538000001, 0}', 0,
    '{-4.2, -4.05, -4.2}', '{39.9, 39.65, 39.9}', '{9, 3, 9}');
SELECT results_eq($$ SELECT idx, reason FROM b0 WHERE kind = 'reject' $$,
                  $$ VALUES (3, 'MMSI 0 outside 1..999999999') $$, 'MMSI 0 is rejected, third of the batch');
SELECT results_eq($$ SELECT body ->> 'mmsi', body ->> 'watched', body ->> 'in_harbour' FROM b0 WHERE kind = 'vessel' ORDER BY 1 $$,
                  $$ VALUES ('538000001', 'false', 'true'), ('636012345', 'true', 'false') $$,
                  'both vessels, as vessel messages: watched or not, in the harbour or not');

-- "position not available" (91, 181) is no position: the message counts, the position stays
SELECT is_empty($$ SELECT * FROM pg_temp.pos('{538000001}', 1, '{91}', '{181}', '{3}') WHERE kind = 'reject' $$,
                'a report without a position is not rejected');
SELECT is((SELECT array[lat::text, lon::text, corridor.iso(last_seen)] FROM corridor.vessels WHERE mmsi = 538000001),
          array['-4.05', '39.65', corridor.iso(pg_temp.t(1))], 'it moves last_seen, not the position');

-- a watched vessel entering the port: an event and a vessel_zone_entry incident;
-- an unwatched one in the port raises nothing (zone_scope 'watched')
CREATE TEMP TABLE b10 AS SELECT * FROM pg_temp.pos('{636012345}', 10, '{-4.05}', '{39.65}', '{5}');
SELECT is((SELECT array[body ->> 'rule', body ->> 'severity', body #>> '{details,fence}', body ->> 'event_count']
             FROM b10 WHERE kind = 'incident'),
          array['vessel_zone_entry', 'medium', 'Kilindini', '1'], 'A enters Kilindini: vessel_zone_entry');
SELECT results_eq($$ SELECT subject, count(*)::int FROM corridor.incidents GROUP BY subject $$,
                  $$ VALUES ('mmsi:636012345', 1) $$, 'only A has an incident');
SELECT is((SELECT details ->> 'fence_kind' FROM corridor.events WHERE kind = 'vessel_zone_entry' AND mmsi = 636012345),
          'port', 'the entry event has the fence''s kind');

-- a late report never moves the vessel back nor makes a zone transition; it is history
CREATE TEMP TABLE b5 AS SELECT * FROM pg_temp.pos('{636012345}', 5, '{-4.3}', '{39.95}', '{9}');
SELECT is((SELECT array[lat, lon] FROM corridor.vessels WHERE mmsi = 636012345), array[-4.05, 39.65]::float8[],
          'the late report does not move A back');
SELECT is((SELECT count(*)::int FROM corridor.events WHERE kind = 'vessel_zone_exit'), 0, 'nor takes it out of the port');

-- leaving, then entering again: an exit event, and the open incident counts the second entry
SELECT is((SELECT count(*)::int FROM pg_temp.pos('{636012345}', 20, '{-4.2}', '{39.9}', '{9}') WHERE kind = 'incident'),
          0, 'leaving the port raises nothing');
SELECT is((SELECT count(*)::int FROM corridor.events WHERE kind = 'vessel_zone_exit' AND mmsi = 636012345), 1,
          'but records the exit');
SELECT is((SELECT body ->> 'event_count' FROM pg_temp.pos('{636012345}', 25, '{-4.05}', '{39.65}', '{5}') WHERE kind = 'incident'),
          '2', 'entering again counts on the open incident');
SELECT is((SELECT count(*)::int FROM corridor.vessel_positions GROUP BY mmsi), 5,
          'only A''s reports are kept as history, the late one too');

-- destination_mismatch: B, watched by the IMO its message 5 carries, declares a destination
-- that is not its declared port; compared once per destination
SELECT is((SELECT array[body ->> 'rule', body ->> 'mmsi', body #>> '{details,declared_port}', body #>> '{details,ais_destination}']
             FROM pg_temp.static(477000001, 26, 9321483, 'DAR ES SALAAM') WHERE kind = 'incident'),
          array['destination_mismatch', '477000001', 'Mombasa', 'DAR ES SALAAM'], 'Dar es Salaam is not Mombasa');
SELECT is((SELECT count(*)::int FROM pg_temp.static(477000001, 27, 9321483, 'DAR ES SALAAM') WHERE kind = 'incident'),
          0, 'the same destination again is not compared again');
SELECT is((SELECT count(*)::int FROM pg_temp.static(636012345, 28, NULL, 'MOMBASA KENYA') WHERE kind = 'incident'),
          0, '"MOMBASA KENYA" names Mombasa');

-- vessel_port_matches: upper-cased, letters and digits, after the last '>', containment
SELECT ok(corridor.vessel_port_matches('SGSIN>KE MBA', ARRAY['KEMBA', NULL]), 'a route ending in "KE MBA" is KEMBA');
SELECT ok(NOT corridor.vessel_port_matches('KE', ARRAY['Mombasa Kenya']), 'under 3 characters matches nothing');

-- ais_gap: a watched vessel silent over 30 minutes, once per silence; the next message re-arms it
SELECT results_eq($$ SELECT body::jsonb ->> 'rule', body::jsonb ->> 'mmsi' FROM corridor.vessel_sweep(pg_temp.t(60)) $$,
                  $$ VALUES ('ais_gap', '477000001'), ('ais_gap', '636012345') $$,
                  'at T0+60 A (last heard at T0+28) and B (T0+27) are silent; U is not watched');
SELECT is_empty($$ SELECT * FROM corridor.vessel_sweep(pg_temp.t(90)) $$, 'the same silence is raised once');
CREATE TEMP TABLE b95 AS SELECT * FROM pg_temp.pos('{636012345}', 95, '{-4.6}', '{40.6}', '{9}');
SELECT is((SELECT array_agg(mmsi || ':' || gap_raised ORDER BY mmsi) FROM corridor.vessels WHERE mmsi IN (477000001, 636012345)),
          array['477000001:true', '636012345:false'], 'A''s next message re-arms the rule, B stays raised');

-- rendezvous: A and U slow, 55 m apart offshore for 30 minutes; raised for the watched one
SELECT is_empty($$ SELECT * FROM pg_temp.pos('{636012345, 538000001}', 100, '{-4.5, -4.5005}', '{40.5, 40.5}', '{0.5, 0.5}')
                   WHERE kind = 'incident' $$, 'together, not yet for long');
SELECT is((SELECT array_agg(array[body ->> 'rule', body ->> 'mmsi', body #>> '{details,other_mmsi}'])
             FROM pg_temp.pos('{636012345, 538000001}', 130, '{-4.5, -4.5005}', '{40.5, 40.5}', '{0.5, 0.5}')
            WHERE kind = 'incident'),
          array[array['rendezvous', '636012345', '538000001']], 'after 30 minutes: rendezvous, for A only');

-- vessel_list: a bbox in range, watched vessels first
SELECT throws_ok($$ SELECT corridor.vessel_list(ARRAY[40.6, -4.6, 40.4, -4.4]) $$, 'CT422',
                 'invalid_bbox: bbox must be min_lon,min_lat,max_lon,max_lat within -180..180 and -90..90',
                 'a bbox with west east of east');
SELECT is((SELECT array_agg(v ->> 'mmsi' ORDER BY n) FROM json_array_elements(corridor.vessel_list(ARRAY[40.4, -4.6, 40.6, -4.4]))
             WITH ORDINALITY AS x(v, n)),
          array['636012345', '538000001'], 'the two offshore, the watched one first');

-- vessel_get: 404, then the vessel with its track, watch entries and open incidents
SELECT throws_ok($$ SELECT corridor.vessel_get(1) $$, 'CT404', 'vessel_not_found: no vessel with MMSI 1 has been heard',
                 'an MMSI never heard');
SELECT is((SELECT array[j ->> 'watched', j #>> '{track,type}', jsonb_array_length(j -> 'watch')::text,
                        (SELECT string_agg(i ->> 'rule', ',' ORDER BY i ->> 'rule') FROM jsonb_array_elements(j -> 'incidents') i)]
             FROM (SELECT corridor.vessel_get(636012345, pg_temp.t(-1))::jsonb AS j) x),
          array['true', 'LineString', '1', 'ais_gap,rendezvous,vessel_zone_entry'], 'A with its track, entry and incidents');

-- watchlist_remove: 404, stopped (kept), not twice
SELECT throws_ok($$ SELECT corridor.watchlist_remove(999999999, 'officer:jane') $$, 'CT404',
                 'watch_not_found: no watch entry 999999999', 'an unknown entry');
SELECT is((SELECT array[j ->> 'active', j ->> 'stopped_by'] FROM (SELECT corridor.watchlist_remove(
              (SELECT (j ->> 'id')::bigint FROM w WHERE k = 'A'), 'officer:otieno')::jsonb AS j) x),
          array['false', 'officer:otieno'], 'the entry is stopped, by whom');
SELECT throws_ok(format($$ SELECT corridor.watchlist_remove(%s, 'officer:jane') $$, (SELECT j ->> 'id' FROM w WHERE k = 'A')),
                 'CT409', format('watch_stopped: watch entry %s was stopped at %s', (SELECT j ->> 'id' FROM w WHERE k = 'A'),
                                 corridor.iso(now())), 'an entry is stopped once');

SELECT * FROM finish();
ROLLBACK;
