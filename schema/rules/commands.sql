-- rules/commands.sql: the command queue to the seals (docs/commands.md).
-- A command (set_interval, locate, seal, unseal, ...) is committed before it is sent and
-- moves queued -> sent -> acknowledged -> confirmed, or failed / expired / cancelled, with
-- awaiting_approval first for an unseal (four eyes). The worker holding the seal's
-- connection takes it (command_due), reports it sent (command_sent) or refused, and the
-- device's answer (command_answer); command_sweep expires, retries and confirms effects
-- seen in later fixes. trip_disarm decides whether a disarm must unseal the seal first.
-- Every transition is in command_audit, which cannot be edited.
-- Reads: seals, protocol_commands, trips, trip_state, latest, positions, geofences, rules.
-- Writes: commands, command_audit, trips, trip_state, trip_legs, events, incidents,
-- incident_audit.

-- The command as the API and /ws show it.
-- VOLATILE, not STABLE: it is called on the row command_move returns, in the same
-- expression (command_json(command_move(...))), and a STABLE function reads the snapshot
-- taken before command_move wrote its audit row: the trail it answered with (and pushed on
-- /ws) lacked the very move it reported.
CREATE OR REPLACE FUNCTION corridor.command_json(c corridor.commands) RETURNS json
LANGUAGE sql VOLATILE AS $$
    SELECT json_build_object('type', 'command', 'id', c.id, 'seal_id', c.seal_id,
        'trip_id', c.trip_id, 'command', c.command, 'params', c.params, 'state', c.state,
        'reason', c.reason, 'requested_by', c.requested_by, 'approved_by', c.approved_by,
        'incident_id', c.incident_id, 'created_at', corridor.iso(c.created_at),
        'updated_at', corridor.iso(c.updated_at), 'expires_at', corridor.iso(c.expires_at),
        'sent_at', corridor.iso(c.sent_at), 'acknowledged_at', corridor.iso(c.acknowledged_at),
        'confirmed_at', corridor.iso(c.confirmed_at), 'finished_at', corridor.iso(c.finished_at),
        'attempts', c.attempts, 'max_attempts', c.max_attempts, 'result', c.result,
        'detail', c.detail,
        'audit', (SELECT coalesce(json_agg(json_build_object('at', corridor.iso(a.at),
                      'actor', a.actor, 'action', a.action, 'from', a.from_state,
                      'to', a.to_state, 'note', a.note) ORDER BY a.id), '[]')
                  FROM corridor.command_audit a WHERE a.command_id = c.id))
$$;

-- Moves command c to state to (with the columns that state sets), audits it, notifies the
-- workers when it becomes queued. Returns the new row.
CREATE OR REPLACE FUNCTION corridor.command_move(c corridor.commands, p_to text, p_actor text,
                                      p_action text, p_note text DEFAULT NULL)
RETURNS corridor.commands LANGUAGE plpgsql AS $$
DECLARE
    n corridor.commands;
BEGIN
    UPDATE corridor.commands SET state = p_to, updated_at = now(),
        acknowledged_at = CASE WHEN p_to = 'acknowledged' THEN now() ELSE acknowledged_at END,
        confirmed_at = CASE WHEN p_to = 'confirmed' THEN now() ELSE confirmed_at END,
        finished_at = CASE WHEN p_to IN ('confirmed', 'failed', 'expired', 'cancelled')
                           THEN now() ELSE finished_at END,
        detail = coalesce(p_note, detail)
    WHERE id = c.id RETURNING * INTO n;
    INSERT INTO corridor.command_audit (command_id, actor, action, from_state, to_state, note)
    VALUES (c.id, p_actor, p_action, c.state, p_to, p_note);
    IF p_to = 'queued' THEN
        PERFORM pg_notify('corridor_commands', c.seal_id);
    END IF;
    RETURN n;
END $$;

-- Checks a command's params; raises 422 bad_params naming the field.
CREATE OR REPLACE FUNCTION corridor.command_check_params(p_command text, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text;
    allowed text[];
    v jsonb;
BEGIN
    IF jsonb_typeof(p) <> 'object' THEN
        PERFORM corridor.fail(422, 'bad_params', 'params must be a JSON object', 'params');
    END IF;
    allowed := CASE p_command
        WHEN 'set_interval' THEN ARRAY['seconds']
        WHEN 'set_params' THEN ARRAY['report_s', 'sleep_report_s', 'emergency_report_s',
                                     'heartbeat_s']
        WHEN 'text' THEN ARRAY['text']
        WHEN 'alarm_ack' THEN ARRAY['serial', 'alarm_mask']
        ELSE ARRAY[]::text[] END;
    FOR k IN SELECT jsonb_object_keys(p) LOOP
        IF NOT k = ANY (allowed) THEN
            PERFORM corridor.fail(422, 'bad_params', p_command || ' takes no parameter "' || k ||
                                  '"' || CASE WHEN cardinality(allowed) > 0 THEN ' (it takes ' ||
                                  array_to_string(allowed, ', ') || ')' ELSE '' END,
                                  'params.' || k);
        END IF;
        v := p -> k;
        IF k IN ('seconds', 'report_s', 'sleep_report_s', 'emergency_report_s', 'heartbeat_s') AND
           (jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$' OR v::text::numeric < 1 OR
            v::text::numeric > 86400) THEN
            PERFORM corridor.fail(422, 'bad_params', k || ' must be a whole number of seconds ' ||
                                  'from 1 to 86400, not ' || v::text, 'params.' || k);
        END IF;
        IF k = 'serial' AND (jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$' OR
                             v::text::numeric > 65535) THEN
            PERFORM corridor.fail(422, 'bad_params', 'serial must be a message serial 0..65535',
                                  'params.serial');
        END IF;
        IF k = 'alarm_mask' AND (jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$' OR
                                 v::text::numeric > 4294967295) THEN
            PERFORM corridor.fail(422, 'bad_params', 'alarm_mask must be a 32-bit alarm mask',
                                  'params.alarm_mask');
        END IF;
        IF k = 'text' AND (jsonb_typeof(v) <> 'string' OR length(p ->> k) NOT BETWEEN 1 AND 200)
        THEN
            PERFORM corridor.fail(422, 'bad_params', 'text must be a string of 1 to 200 characters',
                                  'params.text');
        END IF;
    END LOOP;
    IF p_command = 'set_interval' AND NOT p ? 'seconds' THEN
        PERFORM corridor.fail(422, 'bad_params', 'set_interval needs params.seconds',
                              'params.seconds');
    END IF;
    IF p_command = 'text' AND NOT p ? 'text' THEN
        PERFORM corridor.fail(422, 'bad_params', 'text needs params.text', 'params.text');
    END IF;
    IF p_command = 'set_params' AND p = '{}'::jsonb THEN
        PERFORM corridor.fail(422, 'bad_params', 'set_params needs at least one of ' ||
                              array_to_string(allowed, ', '), 'params');
    END IF;
END $$;

-- POST /api/seals/{id}/commands. p: {"command", "params", "reason", "expires_at"}; p_actor
-- names the caller ("officer:jane"). An unseal of a seal on an armed trip is queued at once
-- only when the seal's latest position is inside the trip's destination; elsewhere it waits
-- for a second account's approval and raises an unseal_requested incident naming who asked
-- (returned as "incident" beside the command). p_trip: the trip a disarm ends (internal).
CREATE OR REPLACE FUNCTION corridor.command_create(p_seal text, p json, p_actor text,
                                        p_trip uuid DEFAULT NULL)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    s corridor.seals;
    b jsonb := p::jsonb;
    v_cmd text;
    v_params jsonb;
    v_reason text;
    v_expires timestamptz := now() + interval '24 hours';
    v_state text := 'queued';
    t corridor.trips;
    l corridor.latest;
    d corridor.geofences;
    dist float8;
    n corridor.incidents;
    c corridor.commands;
    k text;
BEGIN
    IF jsonb_typeof(b) <> 'object' THEN
        PERFORM corridor.fail(400, 'invalid_json', 'the body must be a JSON object');
    END IF;
    FOR k IN SELECT jsonb_object_keys(b) LOOP
        IF k NOT IN ('command', 'params', 'reason', 'expires_at') THEN
            PERFORM corridor.fail(422, 'unknown_field', 'a command has no field "' || k || '"', k);
        END IF;
    END LOOP;
    IF jsonb_typeof(b -> 'command') IS DISTINCT FROM 'string' THEN
        PERFORM corridor.fail(422, 'missing_field', 'command is required, a string', 'command');
    END IF;
    v_cmd := b ->> 'command';
    IF v_cmd NOT IN ('set_interval', 'set_params', 'locate', 'seal', 'unseal', 'text', 'reboot',
                     'alarm_ack') THEN
        PERFORM corridor.fail(422, 'unknown_command', 'no command "' || left(v_cmd, 40) ||
                              '" (commands: set_interval, set_params, locate, seal, unseal, text, '
                              'reboot, alarm_ack)', 'command');
    END IF;
    SELECT * INTO s FROM corridor.seals WHERE id = p_seal;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'seal_not_found', 'seal "' || p_seal || '" is not registered');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM corridor.protocol_commands pc
                   WHERE pc.protocol = s.protocol AND pc.command = v_cmd) THEN
        PERFORM corridor.fail(409, 'not_commandable', 'seal "' || p_seal || '" speaks ' ||
                              s.protocol || ', which cannot take ' || v_cmd ||
                              coalesce(' (it takes ' || (SELECT string_agg(command, ', ' ORDER BY command)
                                         FROM corridor.protocol_commands WHERE protocol = s.protocol)
                                       || ')', ''), 'command');
    END IF;
    v_params := coalesce(b -> 'params', '{}'::jsonb);
    PERFORM corridor.command_check_params(v_cmd, v_params);
    IF b ? 'reason' AND jsonb_typeof(b -> 'reason') <> 'string' THEN
        PERFORM corridor.fail(422, 'bad_reason', 'reason must be a string', 'reason');
    END IF;
    v_reason := nullif(btrim(b ->> 'reason'), '');
    IF length(v_reason) > 500 THEN
        PERFORM corridor.fail(422, 'bad_reason', 'reason is longer than 500 characters', 'reason');
    END IF;
    IF v_cmd IN ('seal', 'unseal') AND v_reason IS NULL THEN
        PERFORM corridor.fail(422, 'reason_required', v_cmd || ' needs a reason (it is audited)',
                              'reason');
    END IF;
    IF b ? 'expires_at' THEN
        BEGIN
            v_expires := (b ->> 'expires_at')::timestamptz;
        EXCEPTION WHEN others THEN
            PERFORM corridor.fail(422, 'bad_expires_at', 'expires_at "' ||
                                  left(coalesce(b ->> 'expires_at', 'null'), 40) ||
                                  '" is not an ISO 8601 time', 'expires_at');
        END;
        IF v_expires IS NULL OR v_expires <= now() THEN
            PERFORM corridor.fail(422, 'bad_expires_at', 'expires_at must be in the future',
                                  'expires_at');
        END IF;
        IF v_expires > now() + interval '30 days' THEN
            PERFORM corridor.fail(422, 'bad_expires_at', 'expires_at is more than 30 days ahead',
                                  'expires_at');
        END IF;
    END IF;

    IF v_cmd = 'unseal' THEN
        SELECT * INTO t FROM corridor.trips WHERE seal_id = p_seal AND status = 'armed';
        IF FOUND THEN
            SELECT * INTO d FROM corridor.geofences WHERE id = t.destination_id;
            SELECT * INTO l FROM corridor.latest WHERE seal_id = p_seal;
            IF l.seal_id IS NOT NULL THEN
                dist := ST_Distance(d.geom::geography,
                                    ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326)::geography);
            END IF;
            IF dist IS NULL OR dist > 0 THEN
                v_state := 'awaiting_approval';
            END IF;
        END IF;
    END IF;

    INSERT INTO corridor.commands (seal_id, trip_id, command, params, state, reason,
                                   requested_by, expires_at)
    VALUES (p_seal, p_trip, v_cmd, v_params, v_state, v_reason, p_actor, v_expires)
    RETURNING * INTO c;
    INSERT INTO corridor.command_audit (command_id, actor, action, to_state, note)
    VALUES (c.id, p_actor, 'request', v_state, v_reason);
    IF v_state = 'queued' THEN
        PERFORM pg_notify('corridor_commands', p_seal);
    ELSE
        INSERT INTO corridor.incidents AS x (rule, severity, subject, seal_id, trip_id, fence_id,
                                             opened_at, lat, lon, details)
        SELECT 'unseal_requested', ru.severity, p_seal, p_seal, t.id, d.id, now(), l.lat, l.lon,
               jsonb_build_object('event', 'unseal_requested', 'command_id', c.id,
                                  'requested_by', p_actor, 'reason', v_reason,
                                  'destination', d.name,
                                  'distance_m', round(dist::numeric, 1),
                                  'position_time', corridor.iso(l.ts))
        FROM corridor.rules ru WHERE ru.code = 'unseal_requested'
        ON CONFLICT (subject, rule) WHERE status <> 'resolved'
        DO UPDATE SET event_count = x.event_count + 1, updated_at = now(),
                      details = EXCLUDED.details
        RETURNING x.* INTO n;
        INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status, to_status,
                                             note, version)
        VALUES (n.id, p_actor, 'note', n.status, n.status,
                'unseal requested outside the destination (command ' || c.id || '): ' ||
                v_reason, n.version);
        UPDATE corridor.commands SET incident_id = n.id WHERE id = c.id RETURNING * INTO c;
    END IF;
    RETURN (corridor.command_json(c)::jsonb ||
            CASE WHEN n.id IS NULL THEN '{}'::jsonb
                 ELSE jsonb_build_object('incident', corridor.incident_json(n)::jsonb) END)::json;
END $$;

-- The command p_id of seal p_seal, locked; 404 when there is none.
CREATE OR REPLACE FUNCTION corridor.command_lock(p_seal text, p_id bigint) RETURNS corridor.commands
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
BEGIN
    SELECT * INTO c FROM corridor.commands WHERE id = p_id AND seal_id = p_seal FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'command_not_found', 'seal "' || p_seal ||
                              '" has no command ' || coalesce(p_id::text, 'NULL'));
    END IF;
    RETURN c;
END $$;

-- GET /api/seals/{id}/commands: newest first (at most p_limit).
CREATE OR REPLACE FUNCTION corridor.command_list(p_seal text, p_limit int DEFAULT 100) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM corridor.seals WHERE id = p_seal) THEN
        PERFORM corridor.fail(404, 'seal_not_found', 'seal "' || p_seal || '" is not registered');
    END IF;
    RETURN (SELECT coalesce(json_agg(corridor.command_json(c) ORDER BY c.id DESC), '[]')
            FROM (SELECT * FROM corridor.commands WHERE seal_id = p_seal
                  ORDER BY id DESC LIMIT p_limit) c);
END $$;

-- DELETE /api/seals/{id}/commands/{cid}: cancels a command not yet sent.
CREATE OR REPLACE FUNCTION corridor.command_cancel(p_seal text, p_id bigint, p_actor text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands := corridor.command_lock(p_seal, p_id);
BEGIN
    IF c.state NOT IN ('queued', 'awaiting_approval') THEN
        PERFORM corridor.fail(409, 'not_cancellable', 'command ' || p_id || ' is ' || c.state ||
                              '; only a command not yet sent can be cancelled');
    END IF;
    RETURN corridor.command_json(corridor.command_move(c, 'cancelled', p_actor, 'cancel'));
END $$;

-- POST /api/seals/{id}/commands/{cid}/approve: the second account's approval (four eyes).
-- The requesting account's own approval is refused and audited: {"refused": true, "error":
-- "four_eyes", "detail"} (403).
CREATE OR REPLACE FUNCTION corridor.command_approve(p_seal text, p_id bigint, p_actor text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands := corridor.command_lock(p_seal, p_id);
BEGIN
    IF c.state <> 'awaiting_approval' THEN
        PERFORM corridor.fail(409, 'not_awaiting_approval', 'command ' || p_id || ' is ' ||
                              c.state || ', not awaiting approval');
    END IF;
    IF c.requested_by = p_actor THEN
        INSERT INTO corridor.command_audit (command_id, actor, action, from_state, to_state, note)
        VALUES (c.id, p_actor, 'approval_refused', c.state, c.state,
                'the requesting account cannot approve its own request');
        -- not an exception: the refusal's audit row must stay (the web answers 403)
        RETURN json_build_object('refused', true, 'error', 'four_eyes',
                                 'detail', 'command ' || p_id || ' was requested by ' || p_actor ||
                                           '; another account must approve it');
    END IF;
    UPDATE corridor.commands SET approved_by = p_actor WHERE id = c.id RETURNING * INTO c;
    IF c.incident_id IS NOT NULL THEN
        INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status, to_status,
                                             note, version)
        SELECT i.id, p_actor, 'note', i.status, i.status,
               'unseal (command ' || c.id || ') approved by ' || p_actor, i.version
        FROM corridor.incidents i WHERE i.id = c.incident_id;
    END IF;
    RETURN corridor.command_json(corridor.command_move(c, 'queued', p_actor, 'approve'));
END $$;

-- For the ingest worker that holds seal p_seal's connection: its queued commands, oldest
-- first (one expired on the way is moved to expired, never sent).
CREATE OR REPLACE FUNCTION corridor.command_due(p_seal text)
RETURNS TABLE (id bigint, command text, params text, attempt int)
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
BEGIN
    FOR c IN SELECT * FROM corridor.commands x WHERE x.seal_id = p_seal AND x.state = 'queued'
             ORDER BY x.id FOR UPDATE SKIP LOCKED LOOP
        IF c.expires_at <= now() THEN
            PERFORM corridor.command_move(c, 'expired', 'system', 'expire',
                                          'deadline ' || corridor.iso(c.expires_at) ||
                                          ' passed before it was sent');
            CONTINUE;
        END IF;
        id := c.id;
        command := c.command;
        params := c.params::text;
        attempt := c.attempts + 1;
        RETURN NEXT;
    END LOOP;
END $$;

-- A frame carrying command p_id went out as message p_msg_id with serial p_serial.
CREATE OR REPLACE FUNCTION corridor.command_sent(p_id bigint, p_serial int, p_msg_id int) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
BEGIN
    SELECT * INTO c FROM corridor.commands WHERE id = p_id AND state = 'queued' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE corridor.commands SET attempts = attempts + 1, sent_at = now(),
        device_serial = p_serial, device_msg_id = p_msg_id
    WHERE id = p_id RETURNING * INTO c;
    RETURN corridor.command_json(corridor.command_move(c, 'sent', 'system', 'send',
                                 'attempt ' || c.attempts || ', serial ' || p_serial));
END $$;

-- The module could not express command p_id for its device (ingest/proto.h: send).
CREATE OR REPLACE FUNCTION corridor.command_refused(p_id bigint, p_why text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
BEGIN
    SELECT * INTO c FROM corridor.commands WHERE id = p_id AND state = 'queued' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN corridor.command_json(corridor.command_move(c, 'failed', 'system', 'refuse', p_why));
END $$;

-- The device's answer: the command of seal p_seal last sent as (p_serial, p_msg_id)
-- (p_msg_id NULL: any message id), with result p_result (0 ok, 4 alarm confirmed; 1 failed,
-- 2 bad message, 3 unsupported). p_lock: the lock state the answer itself reports ('open',
-- 'locked'; NULL when it carries none). A locate answered with a position, and a seal or
-- unseal answered with the wanted lock state, are confirmed at once; a confirmed unseal that
-- a disarm asked for ends its trip here, before the answer's fix is stored, so the opening
-- is not taken for a seal_opened. Returns the command (NULL when nothing matches).
CREATE OR REPLACE FUNCTION corridor.command_answer(p_seal text, p_serial int, p_msg_id int, p_result int,
                                        p_lock text DEFAULT NULL, p_position boolean DEFAULT false)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
BEGIN
    SELECT * INTO c FROM corridor.commands
    WHERE seal_id = p_seal AND state = 'sent' AND device_serial = p_serial
      AND (p_msg_id IS NULL OR device_msg_id = p_msg_id)
    ORDER BY sent_at DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE corridor.commands SET result = p_result WHERE id = c.id RETURNING * INTO c;
    IF p_result NOT IN (0, 4) THEN
        RETURN corridor.command_json(corridor.command_move(c, 'failed', 'device', 'answer',
            'the device answered ' || p_result || ' (' ||
            CASE p_result WHEN 1 THEN 'failed' WHEN 2 THEN 'bad message'
                          WHEN 3 THEN 'unsupported' ELSE 'unknown result' END || ')'));
    END IF;
    c := corridor.command_move(c, 'acknowledged', 'device', 'answer',
                               'the device answered ' || p_result);
    IF (c.command = 'locate' AND p_position) OR
       (c.command = 'unseal' AND p_lock = 'open') OR (c.command = 'seal' AND p_lock = 'locked') THEN
        c := corridor.command_confirm(c, CASE WHEN c.command = 'locate'
                                              THEN 'the device answered with its position'
                                              ELSE 'the answer reports the lock ' || p_lock END);
    END IF;
    RETURN corridor.command_json(c);
END $$;

-- Confirms c; an unseal that a disarm asked for ends its trip.
CREATE OR REPLACE FUNCTION corridor.command_confirm(c corridor.commands, p_why text)
RETURNS corridor.commands LANGUAGE plpgsql AS $$
DECLARE
    t corridor.trips;
    l corridor.latest;
BEGIN
    c := corridor.command_move(c, 'confirmed', 'device', 'confirm', p_why);
    IF c.command = 'unseal' AND c.trip_id IS NOT NULL THEN
        SELECT * INTO t FROM corridor.trips WHERE id = c.trip_id AND status = 'armed' FOR UPDATE;
        IF FOUND THEN
            SELECT * INTO l FROM corridor.latest WHERE seal_id = t.seal_id;
            UPDATE corridor.trips SET status = 'disarmed', disarmed_at = now() WHERE id = t.id;
            UPDATE corridor.trip_legs SET exited_at = now()
            WHERE trip_id = t.id AND exited_at IS NULL;
            DELETE FROM corridor.trip_state WHERE seal_id = t.seal_id AND trip_id = t.id;
            INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
            VALUES (t.seal_id, t.id, 'trip_disarmed', t.destination_id, now(), l.lat, l.lon,
                    jsonb_build_object('command_id', c.id, 'by', c.requested_by,
                                       'confirmed', p_why));
        END IF;
    END IF;
    RETURN c;
END $$;

-- The sweeper's part (corridor.sweep_all): deadlines, retries, and effects seen in fixes.
CREATE OR REPLACE FUNCTION corridor.command_sweep(p_now timestamptz)
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
DECLARE
    c corridor.commands;
    l corridor.latest;
    gap float8;
    want float8;
    want_lock text;
BEGIN
    kind := 'command';
    idx := NULL;
    FOR c IN SELECT * FROM corridor.commands x
             WHERE x.state IN ('awaiting_approval', 'queued', 'sent') AND x.expires_at <= p_now
             FOR UPDATE SKIP LOCKED LOOP
        body := corridor.command_json(corridor.command_move(c, 'expired', 'system', 'expire',
                    'deadline ' || corridor.iso(c.expires_at) || ' passed' ||
                    CASE WHEN c.state = 'sent' THEN ' without an answer'
                         ELSE ' before it was sent' END));
        RETURN NEXT;
    END LOOP;
    FOR c IN SELECT * FROM corridor.commands x
             WHERE x.state = 'sent' AND x.sent_at + make_interval(secs => x.answer_timeout_s) <= p_now
             FOR UPDATE SKIP LOCKED LOOP
        IF c.attempts >= c.max_attempts THEN
            body := corridor.command_json(corridor.command_move(c, 'failed', 'system', 'give_up',
                        'no answer after ' || c.attempts || ' attempts'));
        ELSE
            body := corridor.command_json(corridor.command_move(c, 'queued', 'system', 'retry',
                        'no answer within ' || c.answer_timeout_s || ' s'));
        END IF;
        RETURN NEXT;
    END LOOP;
    FOR c IN SELECT * FROM corridor.commands x
             WHERE x.state = 'acknowledged' AND x.command IN ('seal', 'unseal', 'set_interval',
                                                              'set_params')
             FOR UPDATE SKIP LOCKED LOOP
        SELECT * INTO l FROM corridor.latest WHERE seal_id = c.seal_id;
        IF c.command IN ('seal', 'unseal') THEN
            want_lock := CASE c.command WHEN 'unseal' THEN 'open' ELSE 'locked' END;
            IF l.ts >= c.acknowledged_at - interval '1 second' AND l.lock = want_lock THEN
                body := corridor.command_json(corridor.command_confirm(c,
                            'a fix of ' || corridor.iso(l.ts) || ' reports the lock ' || l.lock));
                RETURN NEXT;
            END IF;
            CONTINUE;
        END IF;
        want := coalesce(c.params ->> 'seconds', c.params ->> 'report_s')::float8;
        IF want IS NULL THEN
            -- other parameters have no effect a fix shows: the acknowledgement is the end
            body := corridor.command_json(corridor.command_move(c, 'confirmed', 'system',
                        'confirm', 'acknowledged; no effect to observe'));
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- the interval is kept: the last two fixes after the acknowledgement are want apart
        SELECT extract(epoch FROM max(ts) - min(ts)) INTO gap
        FROM (SELECT ts FROM corridor.positions
              WHERE seal_id = c.seal_id AND ts > c.acknowledged_at - interval '1 second'
              ORDER BY ts DESC LIMIT 2) z HAVING count(*) = 2;
        IF gap IS NOT NULL AND abs(gap - want) <= greatest(1, want * 0.2) THEN
            body := corridor.command_json(corridor.command_move(c, 'confirmed', 'system',
                        'confirm', 'fixes now ' || round(gap::numeric, 1) || ' s apart'));
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION corridor.trip_disarm(p_trip uuid, p_at timestamptz DEFAULT now(),
                                     p_actor text DEFAULT 'system')
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    t corridor.trips;
    s corridor.seals;
    d corridor.geofences;
    l corridor.latest;
    c corridor.commands;
    r json;
BEGIN
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    SELECT * INTO s FROM corridor.seals WHERE id = t.seal_id;
    IF t.id IS NULL OR t.status <> 'armed' OR NOT EXISTS (
           SELECT 1 FROM corridor.protocol_commands pc
           WHERE pc.protocol = s.protocol AND pc.command = 'unseal') THEN
        RETURN corridor.trip_disarm_now(p_trip, p_at);
    END IF;
    SELECT * INTO d FROM corridor.geofences WHERE id = t.destination_id;
    SELECT * INTO l FROM corridor.latest WHERE seal_id = t.seal_id;
    IF l.seal_id IS NULL OR
       NOT ST_Intersects(d.geom, ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326)) THEN
        RETURN corridor.trip_disarm_now(p_trip, p_at); -- refused, with its incident
    END IF;
    SELECT * INTO c FROM corridor.commands
    WHERE trip_id = p_trip AND command = 'unseal' AND state IN ('queued', 'sent', 'acknowledged');
    IF NOT FOUND THEN
        r := corridor.command_create(t.seal_id, json_build_object('command', 'unseal',
                 'reason', 'disarm at destination ' || d.name), p_actor, p_trip);
    ELSE
        r := corridor.command_json(c);
    END IF;
    RETURN (corridor.trip_json(t)::jsonb ||
            jsonb_build_object('disarm', 'awaiting_unseal', 'command', r::jsonb))::json;
END $$;

CREATE OR REPLACE TRIGGER command_audit_append_only BEFORE UPDATE OR DELETE ON corridor.command_audit
    FOR EACH ROW EXECUTE FUNCTION corridor.audit_append_only();

CREATE OR REPLACE TRIGGER command_audit_no_truncate BEFORE TRUNCATE ON corridor.command_audit
    FOR EACH STATEMENT EXECUTE FUNCTION corridor.audit_append_only();
