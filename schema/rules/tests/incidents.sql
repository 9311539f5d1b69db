-- pgTAP: rules/incidents.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_incidents).
BEGIN;
SELECT plan(38);

-- the data: two units (one off duty) and incidents opened as a rule opens them: a seal
-- opened ten minutes ago (its rule wrote the wrong severity), a low battery two hours ago,
-- a deviation two hours ago and a tampering 61 minutes ago
DO $$ BEGIN
    PERFORM corridor.rru_upsert('{"id": "R1", "name": "Mariakani",
                                  "base": {"type": "Point", "coordinates": [39.47, -3.86]}}');
    PERFORM corridor.rru_upsert('{"id": "R-OFF", "status": "off_duty",
                                  "base": {"type": "Point", "coordinates": [39.6, -4.0]}}');
END $$;
INSERT INTO corridor.incidents (rule, severity, subject, seal_id, opened_at, lat, lon, details) VALUES
    ('seal_opened', 'low', 'S-1', 'S-1', now() - interval '10 minutes', -3.9, 39.5, '{"event": "seal_opened"}'),
    ('low_battery', 'low', 'S-2', 'S-2', now() - interval '2 hours', -1.0, 36.0, '{}'),
    ('route_deviation', 'high', 'S-3', 'S-3', now() - interval '2 hours', -1.0, 36.0, '{}'),
    ('seal_tampered', 'critical', 'S-4', 'S-4', now() - interval '61 minutes', -1.0, 36.0, '{}');
INSERT INTO corridor.events (seal_id, kind, ts, lat, lon, details)
VALUES ('S-1', 'seal_opened', now() - interval '10 minutes', -3.9, 39.5, '{"lock": "open"}');
CREATE FUNCTION pg_temp.inc(p_subject text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT id FROM corridor.incidents WHERE subject = p_subject $$;
-- the DETAIL of the error a statement raises
CREATE FUNCTION pg_temp.err_detail(p_sql text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d::jsonb;
END $$;

-- opening: the severity is corridor.rules', the trail starts with "open"
SELECT is((SELECT severity FROM corridor.incidents WHERE subject = 'S-1'), 'critical',
          'seal_opened is critical whatever its rule wrote');
SELECT results_eq(format($$ SELECT actor, action, from_status, to_status, version
                            FROM corridor.incident_audit WHERE incident_id = %s $$, pg_temp.inc('S-1')),
                  $$ VALUES ('system', 'open', NULL::text, 'open', 1) $$,
                  'the trail starts with the opening');

-- incident_get: 404, and the incident with its events, trail and dispatches
SELECT throws_ok($$ SELECT corridor.incident_get(999999999) $$, 'CT404',
                 'not_found: no incident with id 999999999', 'an unknown incident is 404');
SELECT is((SELECT array[j ->> 'type', j ->> 'status', j ->> 'version', j ->> 'target_at',
                        j ->> 'breached', (jsonb_array_length(j -> 'events'))::text,
                        j #>> '{events,0,kind}', (jsonb_array_length(j -> 'audit'))::text,
                        j ->> 'dispatches']
             FROM (SELECT corridor.incident_get(pg_temp.inc('S-1'))::jsonb AS j) x),
          array['incident', 'open', '1', corridor.iso(now() + interval '50 minutes'), 'false',
                '1', 'seal_opened', '1', '[]'],
          'incident_get: status, version, target 60 min after opening, its event, trail, no dispatch');

-- incident_action refuses bad input with CT422 before anything changes
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '[1]', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT422', 'invalid_action: the action must be a JSON object', 'the action is an object');
SELECT throws_ok($$ SELECT corridor.incident_action(999999999, '{"action": "ack"}', 'officer:jane', NULL) $$,
                 'CT404', 'not_found: no incident with id 999999999', 'an unknown incident is 404');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{}', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT422', 'invalid_action: "action" is required: ack, assign, en_route, on_scene, resolve or note',
                 '"action" is required');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "fly"}', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT422', 'invalid_action: unknown action "fly" (known: ack, assign, en_route, on_scene, resolve, note)',
                 'an unknown action');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, json_build_object('action', 'note', 'note', repeat('x', 2001)),
                                                          'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT422', 'invalid_field: "note" is at most 2000 characters', 'a note over 2000 characters');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "resolve", "outcome": "maybe"}', 'officer:jane', NULL) $$,
                        pg_temp.inc('S-1')),
                 'CT422', 'invalid_field: "outcome" must be confirmed, false_alarm, duplicate, handled_remotely, no_trace or other',
                 'resolve needs a known outcome');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "assign", "rru_id": "R-NONE"}', 'officer:jane', NULL) $$,
                        pg_temp.inc('S-1')),
                 'CT422', 'unknown_unit: no unit with id "R-NONE"', 'assign to an unknown unit');

-- incident_action refuses what the state does not allow with CT409 / CT403
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "ack"}', 'officer:jane', 5) $$, pg_temp.inc('S-1')),
                 'CT409', format('version_conflict: incident %s is at version 1, not 5: someone else changed it first',
                                 pg_temp.inc('S-1')), 'a stale version is a conflict');
SELECT is((SELECT array[d ->> 'id', d ->> 'version', d ->> 'status']
             FROM pg_temp.err_detail(format($$ SELECT corridor.incident_action(%s, '{"action": "ack"}', 'x', 5) $$,
                                            pg_temp.inc('S-1'))) d),
          array[pg_temp.inc('S-1')::text, '1', 'open'], 'the conflict''s DETAIL is the current incident');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "en_route"}', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT409', format('no_unit: incident %s has no unit assigned', pg_temp.inc('S-1')), 'en_route needs a unit');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "assign", "rru_id": "R-OFF"}', 'officer:jane', NULL) $$,
                        pg_temp.inc('S-1')),
                 'CT409', 'unit_unavailable: unit R-OFF is off duty', 'an off-duty unit is not assigned');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "ack", "as_unit": "R1"}', 'rru:R1', NULL) $$,
                        pg_temp.inc('S-1')),
                 'CT403', format('not_assigned: incident %s is not assigned to unit R1', pg_temp.inc('S-1')),
                 'a unit acts only on its own incidents');

-- ack: open -> acknowledged, version 2, audited with who did it
SELECT is((SELECT array[j ->> 'status', j ->> 'version', (j ->> 'acknowledged_at' IS NOT NULL)::text]
             FROM (SELECT corridor.incident_action(pg_temp.inc('S-1'), '{"action": "ack", "note": "seen"}',
                                                   'officer:jane', 1)::jsonb AS j) x),
          array['acknowledged', '2', 'true'], 'ack with the right version: acknowledged, version 2');
SELECT results_eq(format($$ SELECT actor, action, from_status, to_status, note, version
                            FROM corridor.incident_audit WHERE incident_id = %s ORDER BY id DESC LIMIT 1 $$,
                         pg_temp.inc('S-1')),
                  $$ VALUES ('officer:jane', 'ack', 'open', 'acknowledged', 'seen', 2) $$, 'the ack is in the trail');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "ack"}', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT409', format('invalid_transition: incident %s is acknowledged: only open or dispatched incidents are acknowledged',
                                 pg_temp.inc('S-1')), 'no second ack');

-- assign: -> dispatched to the unit, a pending dispatch, the unit busy; not twice, not by a unit
SELECT is((corridor.incident_action(pg_temp.inc('S-1'), '{"action": "assign", "rru_id": "R1"}',
                                    'officer:jane', NULL)::jsonb ->> 'status'), 'dispatched', 'assigned: dispatched');
SELECT results_eq(format($$ SELECT d.rru_id, d.status, r.status FROM corridor.dispatches d
                            JOIN corridor.rrus r ON r.id = d.rru_id WHERE d.incident_id = %s $$, pg_temp.inc('S-1')),
                  $$ VALUES ('R1', 'pending', 'busy') $$, 'a pending dispatch to R1, which is busy');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "assign", "rru_id": "R1"}', 'officer:jane', NULL) $$,
                        pg_temp.inc('S-1')),
                 'CT409', format('already_assigned: incident %s is already dispatched to unit R1', pg_temp.inc('S-1')),
                 'the same unit again');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "assign", "rru_id": "R1", "as_unit": "R1"}',
                                                          'rru:R1', NULL) $$, pg_temp.inc('S-1')),
                 'CT403', 'not_allowed: a unit cannot assign incidents', 'a unit cannot assign');

-- the same unit again after it acknowledged: 409 already_assigned (docs/incidents.md: "the
-- same unit again is 409"), not a second pending dispatch to a unit that has it
INSERT INTO corridor.incidents (rule, severity, subject, seal_id, opened_at, lat, lon)
VALUES ('seal_tampered', 'critical', 'S-5', 'S-5', now(), -3.9, 39.5);
DO $$ BEGIN
    PERFORM corridor.rru_upsert('{"id": "R2", "base": {"type": "Point", "coordinates": [39.5, -3.9]}}');
    PERFORM corridor.incident_action(pg_temp.inc('S-5'), '{"action": "assign", "rru_id": "R2"}', 'officer:jane', NULL);
    PERFORM corridor.incident_action(pg_temp.inc('S-5'), '{"action": "ack", "as_unit": "R2"}', 'rru:R2', NULL);
END $$;
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "assign", "rru_id": "R2"}', 'officer:jane', NULL) $$,
                        pg_temp.inc('S-5')),
                 'CT409', format('already_assigned: incident %s is already acknowledged by unit R2', pg_temp.inc('S-5')),
                 'the unit that acknowledged it is not assigned again');

-- on_scene by the unit acknowledges its dispatch
SELECT is((corridor.incident_action(pg_temp.inc('S-1'), '{"action": "on_scene", "as_unit": "R1"}',
                                    'rru:R1', NULL)::jsonb ->> 'status'), 'on_scene', 'the unit is on scene');
SELECT results_eq(format($$ SELECT status, acked_at IS NOT NULL FROM corridor.dispatches WHERE incident_id = %s $$,
                         pg_temp.inc('S-1')),
                  $$ VALUES ('acknowledged', true) $$, 'on scene acknowledges the dispatch');

-- resolve ("resolved" too): the outcome, the unit released; then only notes
SELECT is((SELECT array[j ->> 'status', j ->> 'outcome', (j ->> 'resolved_at' IS NOT NULL)::text, j ->> 'breached']
             FROM (SELECT corridor.incident_action(pg_temp.inc('S-1'), '{"action": "resolved", "outcome": "confirmed"}',
                                                   'officer:jane', NULL)::jsonb AS j) x),
          array['resolved', 'confirmed', 'true', 'false'], '"resolved" resolves, in time');
SELECT is((SELECT status FROM corridor.rrus WHERE id = 'R1'), 'available', 'the unit is available again');
SELECT throws_ok(format($$ SELECT corridor.incident_action(%s, '{"action": "ack"}', 'officer:jane', NULL) $$, pg_temp.inc('S-1')),
                 'CT409', format('invalid_transition: incident %s is resolved: only notes can be added', pg_temp.inc('S-1')),
                 'a resolved incident only takes notes');
SELECT is((corridor.incident_action(pg_temp.inc('S-1'), '{"action": "note", "note": "report filed"}',
                                    'officer:jane', NULL)::jsonb ->> 'version'), '6', 'a note on a resolved incident: version 6');
SELECT is((SELECT string_agg(action || ':' || coalesce(to_status, ''), ',' ORDER BY id) FROM corridor.incident_audit
            WHERE incident_id = pg_temp.inc('S-1')),
          'open:open,ack:acknowledged,assign:dispatched,on_scene:on_scene,resolve:resolved,note:resolved',
          'the trail holds every step');

-- the 60-minute target: low severity has none; a late resolution and the sweep flag breaches
SELECT is((SELECT corridor.incident_json(n)::jsonb ->> 'target_at' FROM corridor.incidents n WHERE subject = 'S-2'),
          NULL, 'a low incident without a unit has no target');
SELECT is((corridor.incident_action(pg_temp.inc('S-3'), '{"action": "resolve", "outcome": "no_trace"}',
                                    'officer:jane', NULL)::jsonb ->> 'breached_at'),
          corridor.iso(now() - interval '1 hour'), 'resolved two hours after opening: breached at the target');
SELECT results_eq($$ SELECT (body::jsonb ->> 'id')::bigint, body::jsonb ->> 'breached_at'
                     FROM corridor.response_sweep(now()) $$,
                  format($$ VALUES (%s::bigint, %L) $$, pg_temp.inc('S-4'), corridor.iso(now() - interval '1 minute')),
                  'the sweep flags the unanswered critical incident, and only it');
SELECT results_eq(format($$ SELECT actor, action, note FROM corridor.incident_audit
                            WHERE incident_id = %s ORDER BY id DESC LIMIT 1 $$, pg_temp.inc('S-4')),
                  $$ VALUES ('system', 'target_breached', 'no unit on scene within 01:00:00') $$,
                  'the breach is in the trail');

-- the trail is append-only: UPDATE, DELETE and TRUNCATE raise CT409
SELECT throws_ok($$ UPDATE corridor.incident_audit SET actor = 'someone else' $$, 'CT409',
                 'audit_append_only: the incident audit trail cannot be changed', 'UPDATE is refused');
SELECT throws_ok($$ DELETE FROM corridor.incident_audit $$, 'CT409',
                 'audit_append_only: the incident audit trail cannot be changed', 'DELETE is refused');
SELECT throws_ok($$ TRUNCATE corridor.incident_audit $$, 'CT409',
                 'audit_append_only: the incident audit trail cannot be changed', 'TRUNCATE is refused');

SELECT * FROM finish();
ROLLBACK;
