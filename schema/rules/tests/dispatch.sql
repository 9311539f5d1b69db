-- pgTAP: rules/dispatch.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_dispatch).
BEGIN;
SELECT plan(31);

-- the data: units at Mariakani (near Mombasa), Nairobi, one off duty, one in Kampala with a
-- tracker; incidents near Mombasa: a critical one, a low one, a high one without a position
CREATE TEMP TABLE made AS
SELECT corridor.rru_upsert('{"id": "U-NEAR", "base": {"type": "Point", "coordinates": [39.47, -3.86]}}')::jsonb AS j;
INSERT INTO made SELECT corridor.rru_upsert('{"id": "U-NEAR", "name": "Mariakani unit"}')::jsonb;
DO $$ BEGIN
    PERFORM corridor.rru_upsert('{"id": "U-FAR", "name": "Nairobi unit",
                                  "base": {"type": "Point", "coordinates": [36.82, -1.29]}}');
    PERFORM corridor.rru_upsert('{"id": "U-OFF", "status": "off_duty",
                                  "base": {"type": "Point", "coordinates": [39.6, -4.0]}}');
    PERFORM corridor.rru_upsert('{"id": "U-TRK", "tracker": "TRK-1",
                                  "base": {"type": "Point", "coordinates": [32.58, 0.31]}}');
    INSERT INTO corridor.seals (id, protocol, device_id) VALUES ('TRK-1', 'osmand', 'TRK-1');
    -- the tracker reports from Voi
    PERFORM corridor.ingest_batch(ARRAY['TRK-1'], ARRAY[extract(epoch FROM now()) - 30],
        ARRAY[-3.39], ARRAY[38.56], ARRAY[50]::real[], ARRAY[0]::real[], ARRAY[NULL]::real[],
        ARRAY[NULL]::real[], ARRAY[90]::real[], ARRAY[NULL]::text[], ARRAY[NULL]::text[]);
END $$;
INSERT INTO corridor.incidents (rule, severity, subject, seal_id, opened_at, lat, lon) VALUES
    ('seal_opened', 'critical', 'S-1', 'S-1', now() - interval '5 minutes', -4.0, 39.6),
    ('low_battery', 'low', 'S-2', 'S-2', now() - interval '5 minutes', -4.0, 39.6),
    ('signal_loss', 'high', 'S-3', 'S-3', now() - interval '5 minutes', NULL, NULL);
CREATE FUNCTION pg_temp.inc(p_subject text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT id FROM corridor.incidents WHERE subject = p_subject $$;

-- rru_upsert refuses a bad id, name, status or point with CT422
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "a b", "base": {"type": "Point", "coordinates": [1, 1]}}') $$,
                 'CT422', 'invalid_field: "id" must be 1 to 64 characters of A-Z, a-z, 0-9, ''.'', ''_'', '':'', ''-''',
                 'an id with a space');
SELECT throws_ok(format($$ SELECT corridor.rru_upsert('{"id": "U-X", "name": "%s"}') $$, repeat('n', 201)),
                 'CT422', 'invalid_field: "name" must be 1 to 200 characters', 'a name over 200 characters');
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "U-NEAR", "status": "asleep"}') $$,
                 'CT422', 'invalid_field: "status" must be "available", "busy" or "off_duty"', 'an unknown status');
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "U-X", "base": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}}') $$,
                 'CT422', 'invalid_geometry: "base" must be a GeoJSON Point {"type":"Point","coordinates":[lon, lat]}',
                 'a base that is not a Point');
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "U-X", "base": {"type": "Point", "coordinates": [200, 1]}}') $$,
                 'CT422', 'invalid_geometry: "base": longitude must be within ±180 and latitude within ±90',
                 'a longitude out of range');
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "U-X", "position": {"type": "Point", "coordinates": ["1", 1]}}') $$,
                 'CT422', 'invalid_geometry: "position" must be a GeoJSON Point {"type":"Point","coordinates":[lon, lat]}',
                 'a position with a string coordinate');
SELECT throws_ok($$ SELECT corridor.rru_upsert('{"id": "U-X", "name": "no base"}') $$,
                 'CT422', 'invalid_field: "base" (a GeoJSON Point) is required for a new unit', 'a new unit needs a base');

-- rru_upsert creates (name defaults to the id), then updates only the fields given
SELECT is((SELECT array[j ->> 'created', j #>> '{unit,name}', j #>> '{unit,status}', j #>> '{unit,base,coordinates}']
             FROM made LIMIT 1),
          array['true', 'U-NEAR', 'available', '[39.47, -3.86]'], 'created: named after its id, available, its base');
SELECT is((SELECT array[j ->> 'created', j #>> '{unit,name}', j #>> '{unit,base,coordinates}'] FROM made OFFSET 1),
          array['false', 'Mariakani unit', '[39.47, -3.86]'], 'updated: the new name, the base kept');

-- rru_suggest: 404, then available units nearest first (off duty left out)
SELECT throws_ok($$ SELECT corridor.rru_suggest(999999999) $$, 'CT404',
                 'not_found: no incident with id 999999999', 'suggest for an unknown incident');
SELECT is((SELECT array_agg(s #>> '{unit,id}' ORDER BY n)
             FROM json_array_elements(corridor.rru_suggest(pg_temp.inc('S-1'))) WITH ORDINALITY AS x(s, n)),
          array['U-NEAR', 'U-FAR', 'U-TRK'], 'nearest first, the off-duty unit left out');
SELECT ok((SELECT (s ->> 'distance_m')::float8 BETWEEN 15000 AND 25000
             FROM json_array_elements(corridor.rru_suggest(pg_temp.inc('S-1'))) s LIMIT 1),
          'Mariakani is about 20 km away');
SELECT is((SELECT array_agg(coalesce(s ->> 'distance_m', 'null') ORDER BY s #>> '{unit,id}')
             FROM json_array_elements(corridor.rru_suggest(pg_temp.inc('S-3'))) s),
          array['null', 'null', 'null'], 'an incident without a position: units without distances');

-- dispatch_tick 1: a unit with a tracker takes its latest position
CREATE TEMP TABLE tick1 AS SELECT t::jsonb AS j FROM corridor.dispatch_tick(now(), 300) t;
SELECT is((SELECT array[corridor.rru_json(r)::jsonb #>> '{position,coordinates}', corridor.iso(r.pos_at)]
             FROM corridor.rrus r WHERE id = 'U-TRK'),
          array['[38.56, -3.39]', (SELECT corridor.iso(ts) FROM corridor.latest WHERE seal_id = 'TRK-1')],
          'the tracker''s unit is where its seal last was');

-- dispatch_tick 2: the open critical incident goes to the nearest available unit, nothing else
SELECT results_eq($$ SELECT (j ->> 'id')::bigint, j ->> 'status', j ->> 'rru_id' FROM tick1 $$,
                  format($$ VALUES (%s::bigint, 'dispatched', 'U-NEAR') $$, pg_temp.inc('S-1')),
                  'only the critical incident is dispatched, to U-NEAR');
SELECT results_eq(format($$ SELECT actor, action, from_status, to_status, rru_id, note FROM corridor.incident_audit
                            WHERE incident_id = %s ORDER BY id DESC LIMIT 1 $$, pg_temp.inc('S-1')),
                  $$ VALUES ('system', 'dispatch', 'open', 'dispatched', 'U-NEAR', 'nearest available unit (critical severity)') $$,
                  'the dispatch is in the trail');
SELECT is((SELECT status FROM corridor.rrus WHERE id = 'U-NEAR'), 'busy', 'U-NEAR is busy');

-- dispatch_take: the unit's pending dispatches it does not hold, counted as sent
CREATE TEMP TABLE took AS SELECT corridor.dispatch_take('U-NEAR', '{}')::jsonb AS j;
SELECT is((SELECT array[jsonb_array_length(j)::text, j #>> '{0,type}', j #>> '{0,rru_id}', j #>> '{0,status}',
                        j #>> '{0,sends}', j #>> '{0,incident,id}'] FROM took),
          array['1', 'dispatch', 'U-NEAR', 'pending', '1', pg_temp.inc('S-1')::text],
          'one dispatch, with its incident, sent once');
SELECT is(corridor.dispatch_take('U-NEAR', ARRAY[(SELECT (j #>> '{0,dispatch_id}')::bigint FROM took)])::text, '[]',
          'a dispatch the client holds is not sent again');
SELECT is(corridor.dispatch_gone('U-NEAR', ARRAY[(SELECT (j #>> '{0,dispatch_id}')::bigint FROM took), 424242])::text,
          '[424242]', 'of the ids held, the ones no longer pending for it are gone');

-- escalation: unacknowledged after the timeout, to the next nearest unit not tried (U-TRK,
-- now at Voi), and a dispatch_unacknowledged incident for the control room
CREATE TEMP TABLE tick2 AS SELECT t::jsonb AS j FROM corridor.dispatch_tick(now() + interval '301 seconds', 300) t;
SELECT results_eq(format($$ SELECT rru_id, status FROM corridor.dispatches WHERE incident_id = %s ORDER BY id $$,
                         pg_temp.inc('S-1')),
                  $$ VALUES ('U-NEAR', 'escalated'), ('U-TRK', 'pending') $$, 'escalated from U-NEAR to U-TRK');
SELECT results_eq($$ SELECT id, status FROM corridor.rrus WHERE id IN ('U-NEAR', 'U-TRK') ORDER BY id $$,
                  $$ VALUES ('U-NEAR', 'available'), ('U-TRK', 'busy') $$, 'U-NEAR released, U-TRK busy');
SELECT results_eq(format($$ SELECT actor, action, note FROM corridor.incident_audit
                            WHERE incident_id = %s ORDER BY id DESC LIMIT 1 $$, pg_temp.inc('S-1')),
                  $$ VALUES ('system', 'escalate', 'unit U-NEAR did not acknowledge within 300 s') $$,
                  'the escalation is in the trail');
SELECT is((SELECT array[severity, status, details ->> 'incident_id', details ->> 'rru_id', details ->> 'escalated_to']
             FROM corridor.incidents WHERE rule = 'dispatch_unacknowledged'),
          array['high', 'open', pg_temp.inc('S-1')::text, 'U-NEAR', 'U-TRK'],
          'dispatch_unacknowledged names the incident, the silent unit and the next');
SELECT is((SELECT count(*)::int FROM tick2), 2, 'the tick returns the incident and the control room''s');

-- escalation with no other unit free: the clock restarts on the same unit, "still waiting"
UPDATE corridor.rrus SET status = 'off_duty' WHERE id = 'U-FAR';
CREATE TEMP TABLE tick3 AS SELECT t::jsonb AS j FROM corridor.dispatch_tick(now() + interval '301 seconds', 300) t;
SELECT results_eq(format($$ SELECT rru_id, status, expires_at FROM corridor.dispatches
                            WHERE incident_id = %s AND status = 'pending' $$, pg_temp.inc('S-1')),
                  $$ VALUES ('U-TRK', 'pending', now() + interval '601 seconds') $$,
                  'the dispatch stays with U-TRK, due again in 300 s');
SELECT is((SELECT note FROM corridor.incident_audit WHERE incident_id = pg_temp.inc('S-1') ORDER BY id DESC LIMIT 1),
          'unit U-TRK did not acknowledge within 300 s and no other unit is available: still waiting',
          'the trail says it is still waiting');
SELECT is((SELECT array[event_count::text, details ->> 'rru_id', coalesce(details ->> 'escalated_to', 'null')]
             FROM corridor.incidents WHERE rule = 'dispatch_unacknowledged'),
          array['2', 'U-TRK', 'null'], 'the control room''s incident counts the second miss');
SELECT is((SELECT array[status, coalesce(rru_id, 'none')] FROM corridor.incidents WHERE rule = 'dispatch_unacknowledged'),
          array['open', 'none'], 'dispatch_unacknowledged is never dispatched itself (U-NEAR was free)');
SELECT is_empty($$ SELECT * FROM corridor.dispatch_tick(now() + interval '301 seconds', 300) $$,
                'before the restarted clock runs out, nothing happens');

-- rru_list: every unit by id, with the incidents each holds
SELECT is((SELECT array_agg((u ->> 'id') || ':' || (u ->> 'incidents') ORDER BY u ->> 'id')
             FROM json_array_elements(corridor.rru_list()) u),
          array['U-FAR:[]', 'U-NEAR:[]', 'U-OFF:[]', 'U-TRK:[' || pg_temp.inc('S-1') || ']'],
          'rru_list: U-TRK holds the incident');

SELECT * FROM finish();
ROLLBACK;
