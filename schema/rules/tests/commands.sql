-- pgTAP: rules/commands.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_commands).
BEGIN;
SELECT plan(41);

-- the data: JT/T 808 e-locks EL-1 (no trip), EL-2 (armed Mombasa -> Malaba, now on the road
-- near Voi) and EL-3 (armed, now inside Malaba); OSM-1 speaks OsmAnd, which takes no command
DO $$
DECLARE
    t0 float8 := extract(epoch FROM now());
    s text;
BEGIN
    INSERT INTO corridor.seals (id, protocol, device_id) VALUES
        ('EL-1', 'jt808', '013800000011'), ('EL-2', 'jt808', '013800000012'),
        ('EL-3', 'jt808', '013800000013'), ('OSM-1', 'osmand', 'OSM-1');
    INSERT INTO corridor.geofences (name, kind, geom) VALUES
        ('Port', 'port', ST_Multi(ST_MakeEnvelope(39.63, -4.08, 39.68, -4.04, 4326))),
        ('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26, 0.62, 34.29, 0.65, 4326)));
    PERFORM corridor.route_create(json_build_object('name', 'M-M', 'corridor_m', 2000,
        'max_transit_minutes', 6000, 'max_speed_kmh', 1000000, 'geometry',
        '{"type": "LineString", "coordinates": [[39.655, -4.06], [34.275, 0.636]]}'::json));
    FOREACH s IN ARRAY ARRAY['EL-1', 'EL-2', 'EL-3'] LOOP
        PERFORM corridor.ingest_batch(ARRAY[s], ARRAY[t0 - 600], ARRAY[-4.06], ARRAY[39.655],
            ARRAY[0]::real[], ARRAY[0]::real[], ARRAY[NULL]::real[], ARRAY[NULL]::real[],
            ARRAY[80]::real[], ARRAY['locked'], ARRAY[NULL]::text[]);
    END LOOP;
    FOREACH s IN ARRAY ARRAY['EL-2', 'EL-3'] LOOP
        PERFORM corridor.trip_arm(json_build_object('seal_id', s,
            'route_id', (SELECT max(id) FROM corridor.routes),
            'origin_id', (SELECT id FROM corridor.geofences WHERE name = 'Port'),
            'destination_id', (SELECT id FROM corridor.geofences WHERE name = 'Malaba'),
            'conveyance', json_build_object('plate', 'KCA 123A', 'container', 'CSQU3054383'),
            'declaration', '2026MSA0001'), now() - interval '590 seconds');
    END LOOP;
    PERFORM corridor.ingest_batch(ARRAY['EL-2', 'EL-3'], ARRAY[t0 - 60, t0 - 60],
        ARRAY[-3.39, 0.635], ARRAY[38.56, 34.275], ARRAY[50, 0]::real[], ARRAY[0, 0]::real[],
        ARRAY[NULL, NULL]::real[], ARRAY[NULL, NULL]::real[], ARRAY[80, 80]::real[],
        ARRAY['locked', 'locked'], ARRAY[NULL, NULL]::text[]);
END $$;
CREATE TEMP TABLE made (name text PRIMARY KEY, j jsonb);
CREATE FUNCTION pg_temp.cmd(p_name text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT (j ->> 'id')::bigint FROM made WHERE name = p_name $$;
CREATE FUNCTION pg_temp.state(p_name text) RETURNS text LANGUAGE sql AS
    $$ SELECT state FROM corridor.commands WHERE id = pg_temp.cmd(p_name) $$;
CREATE FUNCTION pg_temp.trail(p_name text) RETURNS text LANGUAGE sql AS
    $$ SELECT string_agg(action || ':' || to_state, ',' ORDER BY id) FROM corridor.command_audit
       WHERE command_id = pg_temp.cmd(p_name) $$;
CREATE FUNCTION pg_temp.err_column(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE c text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS c = COLUMN_NAME;
    RETURN c;
END $$;

-- command_create refuses a body that is not a command: 400, 422, 404, 409
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '[1]', 'officer:jane') $$,
                 'CT400', 'invalid_json: the body must be a JSON object', 'a body that is not an object');
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "locate", "priority": 1}', 'officer:jane') $$,
                 'CT422', 'unknown_field: a command has no field "priority"', 'an unknown field');
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "selfdestruct"}', 'officer:jane') $$,
                 'CT422', 'unknown_command: no command "selfdestruct" (commands: set_interval, set_params, locate, seal, unseal, text, reboot, alarm_ack)',
                 'an unknown command');
SELECT throws_ok($$ SELECT corridor.command_create('NOPE', '{"command": "locate"}', 'officer:jane') $$,
                 'CT404', 'seal_not_found: seal "NOPE" is not registered', 'an unknown seal');
SELECT throws_ok($$ SELECT corridor.command_create('OSM-1', '{"command": "locate"}', 'officer:jane') $$,
                 'CT409', 'not_commandable: seal "OSM-1" speaks osmand, which cannot take locate',
                 'an OsmAnd seal takes no command');

-- command_create checks the params of each command and names the field
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "set_interval"}', 'officer:jane') $$,
                 'CT422', 'bad_params: set_interval needs params.seconds', 'set_interval needs seconds');
SELECT is(pg_temp.err_column($$ SELECT corridor.command_create('EL-1', '{"command": "set_interval", "params": {"seconds": 2.5}}', 'x') $$),
          'params.seconds', 'the refusal names params.seconds');
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "set_interval", "params": {"minutes": 1, "seconds": 60}}', 'officer:jane') $$,
                 'CT422', 'bad_params: set_interval takes no parameter "minutes" (it takes seconds)',
                 'a parameter the command does not take');

-- command_create: seal and unseal need a reason; expires_at is an ISO time within 30 days
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "seal", "reason": "  "}', 'officer:jane') $$,
                 'CT422', 'reason_required: seal needs a reason (it is audited)', 'a blank reason for a seal');
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "locate", "expires_at": "soon"}', 'officer:jane') $$,
                 'CT422', 'bad_expires_at: expires_at "soon" is not an ISO 8601 time', 'expires_at not a time');
SELECT throws_ok($$ SELECT corridor.command_create('EL-1', '{"command": "locate", "expires_at": "2020-01-01T00:00:00Z"}', 'officer:jane') $$,
                 'CT422', 'bad_expires_at: expires_at must be in the future', 'expires_at in the past');
SELECT throws_ok(format($$ SELECT corridor.command_create('EL-1', '{"command": "locate", "expires_at": "%s"}', 'officer:jane') $$,
                        corridor.iso(now() + interval '31 days')),
                 'CT422', 'bad_expires_at: expires_at is more than 30 days ahead', 'expires_at 31 days ahead');
SELECT is((SELECT count(*)::int FROM corridor.commands), 0, 'a refused command stores nothing');

-- set_interval: queued, audited, taken by the worker, sent, acknowledged, confirmed by fixes
INSERT INTO made SELECT 'interval', corridor.command_create('EL-1',
    '{"command": "set_interval", "params": {"seconds": 5}, "reason": "closer watch near the border"}',
    'officer:jane')::jsonb;
SELECT is((SELECT j - 'id' - 'created_at' - 'updated_at' FROM made WHERE name = 'interval'),
          jsonb_build_object('type', 'command', 'seal_id', 'EL-1', 'trip_id', NULL, 'command', 'set_interval',
              'params', '{"seconds": 5}'::jsonb, 'state', 'queued', 'reason', 'closer watch near the border',
              'requested_by', 'officer:jane', 'approved_by', NULL, 'incident_id', NULL,
              'expires_at', corridor.iso(now() + interval '24 hours'), 'sent_at', NULL, 'acknowledged_at', NULL,
              'confirmed_at', NULL, 'finished_at', NULL, 'attempts', 0, 'max_attempts', 3, 'result', NULL,
              'detail', NULL, 'audit', jsonb_build_array(jsonb_build_object('at', (SELECT j #>> '{audit,0,at}' FROM made WHERE name = 'interval'),
                  'actor', 'officer:jane', 'action', 'request', 'from', NULL, 'to', 'queued',
                  'note', 'closer watch near the border'))),
          'queued at once, its request in the trail, expiring in 24 h');
SELECT results_eq($$ SELECT id, command, params, attempt FROM corridor.command_due('EL-1') $$,
                  format($$ VALUES (%s::bigint, 'set_interval', '{"seconds": 5}', 1) $$, pg_temp.cmd('interval')),
                  'command_due hands it to the worker, first attempt');
SELECT is((SELECT array[j ->> 'state', j ->> 'attempts', (j ->> 'sent_at' IS NOT NULL)::text]
             FROM (SELECT corridor.command_sent(pg_temp.cmd('interval'), 17, 33027)::jsonb AS j) x),
          array['sent', '1', 'true'], 'command_sent: sent, attempt 1');
SELECT is(corridor.command_answer('EL-1', 99, 33027, 0)::text, NULL, 'an answer to another serial matches nothing');
SELECT is(corridor.command_answer('EL-1', 17, 33027, 0)::jsonb ->> 'state', 'acknowledged',
          'the device says yes: acknowledged');
DO $$ BEGIN
    PERFORM corridor.ingest_batch(ARRAY['EL-1', 'EL-1'],
        ARRAY[extract(epoch FROM now()) + 1, extract(epoch FROM now()) + 6],
        ARRAY[-4.06, -4.0601], ARRAY[39.655, 39.6551], ARRAY[0, 0]::real[], ARRAY[0, 0]::real[],
        ARRAY[NULL, NULL]::real[], ARRAY[NULL, NULL]::real[], ARRAY[80, 80]::real[],
        ARRAY['locked', 'locked'], ARRAY[NULL, NULL]::text[]);
END $$;
SELECT results_eq($$ SELECT body::jsonb ->> 'state', body::jsonb ->> 'detail' FROM corridor.command_sweep(now()) $$,
                  $$ VALUES ('confirmed', 'fixes now 5.0 s apart') $$, 'two fixes 5 s apart confirm it');
SELECT is(pg_temp.trail('interval'), 'request:queued,send:sent,answer:acknowledged,confirm:confirmed',
          'every step is in the trail');

-- a device that says no: failed, with the reason
INSERT INTO made SELECT 'text', corridor.command_create('EL-1', '{"command": "text", "params": {"text": "stop at Mariakani"}}',
                                                        'officer:jane')::jsonb;
DO $$ BEGIN PERFORM corridor.command_sent(pg_temp.cmd('text'), 20, 33536); END $$;
SELECT is((SELECT array[j ->> 'state', j ->> 'result', j ->> 'detail', (j ->> 'finished_at' IS NOT NULL)::text]
             FROM (SELECT corridor.command_answer('EL-1', 20, NULL, 3)::jsonb AS j) x),
          array['failed', '3', 'the device answered 3 (unsupported)', 'true'], 'answer 3: failed, unsupported');

-- no answer: retried after answer_timeout_s, given up after max_attempts
INSERT INTO made SELECT 'reboot', corridor.command_create('EL-1', '{"command": "reboot"}', 'officer:jane')::jsonb;
DO $$ BEGIN PERFORM corridor.command_sent(pg_temp.cmd('reboot'), 21, 33029); END $$;
SELECT results_eq($$ SELECT body::jsonb ->> 'state', body::jsonb ->> 'detail' FROM corridor.command_sweep(now() + interval '31 seconds') $$,
                  $$ VALUES ('queued', 'no answer within 30 s') $$, 'no answer in 30 s: queued again');
DO $$ BEGIN
    PERFORM corridor.command_sent(pg_temp.cmd('reboot'), 22, 33029);
    PERFORM corridor.command_sweep(now() + interval '31 seconds');
    PERFORM corridor.command_sent(pg_temp.cmd('reboot'), 23, 33029);
    PERFORM corridor.command_sweep(now() + interval '31 seconds');
END $$;
SELECT is((SELECT array[state, attempts::text, detail] FROM corridor.commands WHERE id = pg_temp.cmd('reboot')),
          array['failed', '3', 'no answer after 3 attempts'], 'three sends without an answer: failed');

-- expiry: a queued command past its deadline is never sent
INSERT INTO made SELECT 'late', corridor.command_create('EL-1', '{"command": "locate"}', 'officer:jane')::jsonb;
UPDATE corridor.commands SET expires_at = now() - interval '1 second' WHERE id = pg_temp.cmd('late');
SELECT is_empty($$ SELECT * FROM corridor.command_due('EL-1') $$, 'command_due does not hand out an expired command');
SELECT is(pg_temp.state('late'), 'expired', 'it is expired instead');

-- cancel: only before it is sent, only on its own seal
INSERT INTO made SELECT 'cancel', corridor.command_create('EL-1', '{"command": "locate"}', 'officer:jane')::jsonb;
SELECT is(corridor.command_cancel('EL-1', pg_temp.cmd('cancel'), 'officer:jane')::jsonb ->> 'state', 'cancelled',
          'a queued command is cancelled');
SELECT throws_ok(format($$ SELECT corridor.command_cancel('EL-1', %s, 'officer:jane') $$, pg_temp.cmd('cancel')),
                 'CT409', format('not_cancellable: command %s is cancelled; only a command not yet sent can be cancelled',
                                 pg_temp.cmd('cancel')), 'not twice');
SELECT throws_ok(format($$ SELECT corridor.command_cancel('EL-2', %s, 'officer:jane') $$, pg_temp.cmd('interval')),
                 'CT404', format('command_not_found: seal "EL-2" has no command %s', pg_temp.cmd('interval')),
                 'another seal''s command is not found');

-- four eyes: an unseal on an armed trip away from its destination waits for another account
INSERT INTO made SELECT 'unseal', corridor.command_create('EL-2', '{"command": "unseal", "reason": "driver reports a jammed lock"}',
                                                          'officer:jane')::jsonb;
SELECT is((SELECT array[j ->> 'state', j #>> '{incident,rule}', j #>> '{incident,severity}',
                        j #>> '{incident,details,requested_by}', ((j #>> '{incident,details,distance_m}')::float8 > 400000)::text,
                        (j ->> 'incident_id' = j #>> '{incident,id}')::text]
             FROM made WHERE name = 'unseal'),
          array['awaiting_approval', 'unseal_requested', 'critical', 'officer:jane', 'true', 'true'],
          'awaiting approval, with a critical unseal_requested incident naming who asked and how far');
SELECT is((SELECT j ->> 'error' FROM (SELECT corridor.command_approve('EL-2', pg_temp.cmd('unseal'), 'officer:jane')::jsonb AS j) x),
          'four_eyes', 'the requester cannot approve it');
SELECT is(pg_temp.trail('unseal'), 'request:awaiting_approval,approval_refused:awaiting_approval',
          'the refused approval is in the trail, the command still waits');
SELECT is((SELECT array[j ->> 'state', j ->> 'approved_by']
             FROM (SELECT corridor.command_approve('EL-2', pg_temp.cmd('unseal'), 'officer:otieno')::jsonb AS j) x),
          array['queued', 'officer:otieno'], 'a second account approves it: queued');
SELECT is((SELECT string_agg(action || ':' || coalesce(note, ''), ' | ' ORDER BY id) FROM corridor.incident_audit
            WHERE incident_id = (SELECT incident_id FROM corridor.commands WHERE id = pg_temp.cmd('unseal'))),
          format('open: | note:unseal requested outside the destination (command %s): driver reports a jammed lock | note:unseal (command %s) approved by officer:otieno',
                 pg_temp.cmd('unseal'), pg_temp.cmd('unseal')),
          'the incident''s trail has the request and the approval');
SELECT throws_ok(format($$ SELECT corridor.command_approve('EL-2', %s, 'officer:otieno') $$, pg_temp.cmd('unseal')),
                 'CT409', format('not_awaiting_approval: command %s is queued, not awaiting approval', pg_temp.cmd('unseal')),
                 'no second approval');

-- a disarm at the destination of a seal that takes commands unseals it first; the
-- confirmed unseal ends the trip
CREATE TEMP TABLE disarm AS
SELECT corridor.trip_disarm((SELECT id FROM corridor.trips WHERE seal_id = 'EL-3'), now(), 'arming:gate')::jsonb AS j;
SELECT is((SELECT array[j ->> 'status', j ->> 'disarm', j #>> '{command,command}', j #>> '{command,state}',
                        j #>> '{command,trip_id}'] FROM disarm),
          array['armed', 'awaiting_unseal', 'unseal', 'queued', (SELECT id::text FROM corridor.trips WHERE seal_id = 'EL-3')],
          'awaiting the unseal, queued at once inside the destination');
DO $$ BEGIN
    PERFORM corridor.command_sent((SELECT (j #>> '{command,id}')::bigint FROM disarm), 30, 34048);
END $$;
SELECT is(corridor.command_answer('EL-3', 30, 34048, 0, 'open')::jsonb ->> 'state', 'confirmed',
          'the answer reports the lock open: confirmed at once');
SELECT is((SELECT array[t.status, e.details ->> 'command_id']
             FROM corridor.trips t JOIN corridor.events e ON e.trip_id = t.id AND e.kind = 'trip_disarmed'
            WHERE t.seal_id = 'EL-3'),
          array['disarmed', (SELECT j #>> '{command,id}' FROM disarm)],
          'the confirmed unseal disarms the trip, its event naming the command');

-- the trail is append-only: UPDATE, DELETE and TRUNCATE raise CT409
SELECT throws_ok($$ UPDATE corridor.command_audit SET actor = 'someone else' $$, 'CT409',
                 'audit_append_only: the command audit trail cannot be changed', 'UPDATE is refused');
SELECT throws_ok($$ DELETE FROM corridor.command_audit $$, 'CT409',
                 'audit_append_only: the command audit trail cannot be changed', 'DELETE is refused');
SELECT throws_ok($$ TRUNCATE corridor.command_audit $$, 'CT409',
                 'audit_append_only: the command audit trail cannot be changed', 'TRUNCATE is refused');

-- the JSON a move answers with (and pushes on /ws) carries the move itself in its trail
SELECT is((corridor.command_cancel('EL-1', (corridor.command_create('EL-1',
               '{"command": "locate", "reason": "trail check"}', 'officer:jane')::jsonb ->> 'id')::bigint,
               'officer:jane')::jsonb -> 'audit' -> -1 ->> 'to'), 'cancelled',
          'the answer''s trail ends with the move it reports');

SELECT * FROM finish();
ROLLBACK;
