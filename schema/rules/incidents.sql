-- rules/incidents.sql: incidents, their trail and their response targets.
-- An incident is opened by a rule (one open incident per subject and rule, counting its
-- events); its severity comes from corridor.rules. incident_action moves it (acknowledge,
-- assign, resolve, note, ...) with optimistic versions; every change is in incident_audit,
-- which cannot be edited. A critical incident must be answered within its target
-- (response_target); response_sweep raises the ones that are late, response_report is the
-- yearly response table.
-- Reads: incidents, events, rules, dispatches, rrus. Writes: incidents, incident_audit,
-- dispatches.

-- ---- the incident as the API and the websocket show it ----
CREATE OR REPLACE FUNCTION corridor.incident_json(n corridor.incidents)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'incident', 'id', n.id, 'rule', n.rule,
        'severity', n.severity, 'status', n.status, 'seal_id', n.seal_id,
        'mmsi', n.mmsi, 'trip_id', n.trip_id, 'fence_id', n.fence_id,
        'opened_at', to_char(n.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'updated_at', to_char(n.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'lat', n.lat, 'lon', n.lon, 'event_count', n.event_count,
        'details', n.details, 'version', n.version, 'rru_id', n.rru_id,
        'dispatched_at', corridor.iso(n.dispatched_at),
        'acknowledged_at', corridor.iso(n.acknowledged_at),
        'en_route_at', corridor.iso(n.en_route_at), 'on_scene_at', corridor.iso(n.on_scene_at),
        'resolved_at', corridor.iso(n.resolved_at), 'outcome', n.outcome,
        'target_at', corridor.iso(corridor.incident_target_at(n)),
        'breached', n.breached_at IS NOT NULL, 'breached_at', corridor.iso(n.breached_at))::text
$$;

-- The response target: a unit on scene (or the incident resolved) within this long of
-- its opening.
CREATE OR REPLACE FUNCTION corridor.response_target() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '60 minutes' $$;

-- The target applies to incidents that need a response: critical and high severity, and
-- any incident a unit was assigned to.
CREATE OR REPLACE FUNCTION corridor.incident_target_at(n corridor.incidents) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n.severity IN ('critical', 'high') OR n.rru_id IS NOT NULL
                THEN n.opened_at + corridor.response_target() END
$$;

-- Raises an error about incident n: CT<http>, 'code: detail', its current state in DETAIL.
CREATE OR REPLACE FUNCTION corridor.incident_fail(http int, code text, detail text, n corridor.incidents)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT' || http::text, MESSAGE = code || ': ' || detail,
                          DETAIL = coalesce(corridor.incident_json(n), '');
END $$;

-- Severity comes from corridor.rules whatever the inserting rule wrote.
CREATE OR REPLACE FUNCTION corridor.incident_severity_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.severity := coalesce((SELECT r.severity FROM corridor.rules r WHERE r.code = NEW.rule),
                             NEW.severity);
    RETURN NEW;
END $$;

-- Every incident's trail starts with its opening, whichever rule opened it.
CREATE OR REPLACE FUNCTION corridor.incident_opened_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO corridor.incident_audit (incident_id, at, actor, action, to_status, version)
    VALUES (NEW.id, now(), 'system', 'open', NEW.status, NEW.version);
    RETURN NULL;
END $$;

-- One incident with its events, audit trail and dispatches. Raises CT404.
CREATE OR REPLACE FUNCTION corridor.incident_get(p_id bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n corridor.incidents;
    j jsonb;
BEGIN
    SELECT * INTO n FROM corridor.incidents WHERE id = p_id;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'not_found', format('no incident with id %s', p_id));
    END IF;
    j := corridor.incident_json(n)::jsonb;
    j := j || jsonb_build_object(
        'events', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'kind', e.kind,
                          'ts', corridor.iso(e.ts), 'lat', e.lat, 'lon', e.lon,
                          'fence_id', e.fence_id, 'details', e.details) ORDER BY e.ts, e.id), '[]')
                     FROM (SELECT * FROM corridor.events e
                            WHERE ((n.seal_id IS NOT NULL AND e.seal_id = n.seal_id)
                                   OR (n.mmsi IS NOT NULL AND e.mmsi = n.mmsi))
                              AND e.ts >= n.opened_at
                              AND e.ts <= coalesce(n.resolved_at, 'infinity')
                            ORDER BY e.ts, e.id LIMIT 500) e),
        'audit', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', corridor.iso(a.at),
                         'actor', a.actor, 'action', a.action, 'from_status', a.from_status,
                         'to_status', a.to_status, 'note', a.note, 'rru_id', a.rru_id,
                         'outcome', a.outcome, 'version', a.version) ORDER BY a.id), '[]')
                    FROM corridor.incident_audit a WHERE a.incident_id = n.id),
        'dispatches', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id,
                              'rru_id', d.rru_id, 'status', d.status,
                              'created_at', corridor.iso(d.created_at),
                              'sent_at', corridor.iso(d.sent_at), 'sends', d.sends,
                              'acked_at', corridor.iso(d.acked_at),
                              'closed_at', corridor.iso(d.closed_at)) ORDER BY d.id), '[]')
                         FROM corridor.dispatches d WHERE d.incident_id = n.id));
    RETURN j::json;
END $$;

-- The one way an incident changes. p_action: {"action", "rru_id", "note", "outcome"} as
-- the REST body (and "as_unit" when an RRU client acts: the incident must be its own).
-- p_version NULL skips the optimistic check. Returns the new incident_json.
-- Raises: CT404 not_found; CT409 version_conflict, invalid_transition, unit_unavailable,
-- already_assigned, no_unit (each with the current state in DETAIL); CT403 not_assigned;
-- CT422 invalid_action, invalid_field, unknown_unit.
CREATE OR REPLACE FUNCTION corridor.incident_action(p_id bigint, p_action json, p_actor text,
                                         p_version int)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    n corridor.incidents;
    act text := p_action->>'action';
    v_note text := nullif(p_action->>'note', '');
    v_unit text := p_action->>'rru_id';
    v_outcome text := p_action->>'outcome';
    as_unit text := p_action->>'as_unit';
    from_status text;
    to_status text;
    u corridor.rrus;
    late boolean;
BEGIN
    IF json_typeof(p_action) IS DISTINCT FROM 'object' THEN
        PERFORM corridor.fail(422, 'invalid_action', 'the action must be a JSON object');
    END IF;
    SELECT * INTO n FROM corridor.incidents WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'not_found', format('no incident with id %s', p_id));
    END IF;
    IF act IS NULL THEN
        PERFORM corridor.fail(422, 'invalid_action',
            '"action" is required: ack, assign, en_route, on_scene, resolve or note', 'action');
    END IF;
    IF act = 'resolved' THEN
        act := 'resolve';
    END IF;
    IF act NOT IN ('ack', 'assign', 'en_route', 'on_scene', 'resolve', 'note') THEN
        PERFORM corridor.fail(422, 'invalid_action',
            format('unknown action "%s" (known: ack, assign, en_route, on_scene, resolve, note)',
                   left(act, 40)), 'action');
    END IF;
    IF v_note IS NOT NULL AND length(v_note) > 2000 THEN
        PERFORM corridor.fail(422, 'invalid_field', '"note" is at most 2000 characters', 'note');
    END IF;
    IF p_version IS NOT NULL AND p_version <> n.version THEN
        PERFORM corridor.incident_fail(409, 'version_conflict',
            format('incident %s is at version %s, not %s: someone else changed it first',
                   n.id, n.version, p_version), n);
    END IF;
    IF as_unit IS NOT NULL AND n.rru_id IS DISTINCT FROM as_unit THEN
        PERFORM corridor.incident_fail(403, 'not_assigned',
            format('incident %s is not assigned to unit %s', n.id, as_unit), n);
    END IF;
    IF as_unit IS NOT NULL AND act = 'assign' THEN
        PERFORM corridor.incident_fail(403, 'not_allowed', 'a unit cannot assign incidents', n);
    END IF;

    from_status := n.status;
    to_status := n.status;
    IF act = 'note' THEN
        IF v_note IS NULL THEN
            PERFORM corridor.fail(422, 'invalid_field', 'a note needs a non-empty "note"', 'note');
        END IF;
    ELSIF n.status = 'resolved' THEN
        PERFORM corridor.incident_fail(409, 'invalid_transition',
            format('incident %s is resolved: only notes can be added', n.id), n);
    ELSIF act = 'ack' THEN
        IF n.status NOT IN ('open', 'dispatched') THEN
            PERFORM corridor.incident_fail(409, 'invalid_transition',
                format('incident %s is %s: only open or dispatched incidents are acknowledged',
                       n.id, n.status), n);
        END IF;
        to_status := 'acknowledged';
    ELSIF act = 'assign' THEN
        IF v_unit IS NULL THEN
            PERFORM corridor.fail(422, 'invalid_field', 'assign needs "rru_id"', 'rru_id');
        END IF;
        SELECT * INTO u FROM corridor.rrus WHERE id = v_unit;
        IF NOT FOUND THEN
            PERFORM corridor.fail(422, 'unknown_unit', format('no unit with id "%s"', left(v_unit, 64)),
                                  'rru_id');
        END IF;
        IF n.status NOT IN ('open', 'dispatched', 'acknowledged') THEN
            PERFORM corridor.incident_fail(409, 'invalid_transition',
                format('incident %s is %s: units are assigned to open, dispatched or acknowledged incidents',
                       n.id, n.status), n);
        END IF;
        IF u.status = 'off_duty' THEN
            PERFORM corridor.incident_fail(409, 'unit_unavailable',
                format('unit %s is off duty', u.id), n);
        END IF;
        -- the unit that has it (sent, or acknowledged) is not sent it again
        IF n.rru_id = v_unit AND n.status IN ('dispatched', 'acknowledged') THEN
            PERFORM corridor.incident_fail(409, 'already_assigned',
                format('incident %s is already %s unit %s', n.id,
                       CASE n.status WHEN 'dispatched' THEN 'dispatched to'
                                     ELSE 'acknowledged by' END, v_unit), n);
        END IF;
        n := corridor.incident_dispatch(n, v_unit, p_actor, 'assign', v_note);
        RETURN corridor.incident_json(n)::json;
    ELSIF act IN ('en_route', 'on_scene') THEN
        IF n.rru_id IS NULL THEN
            PERFORM corridor.incident_fail(409, 'no_unit',
                format('incident %s has no unit assigned', n.id), n);
        END IF;
        IF (act = 'en_route' AND n.status NOT IN ('dispatched', 'acknowledged'))
           OR (act = 'on_scene' AND n.status NOT IN ('dispatched', 'acknowledged', 'en_route')) THEN
            PERFORM corridor.incident_fail(409, 'invalid_transition',
                format('incident %s is %s: cannot go %s', n.id, n.status, act), n);
        END IF;
        to_status := act;
    ELSIF act = 'resolve' THEN
        IF v_outcome IS NULL OR v_outcome NOT IN ('confirmed', 'false_alarm', 'duplicate',
                                                  'handled_remotely', 'no_trace', 'other') THEN
            PERFORM corridor.fail(422, 'invalid_field',
                '"outcome" must be confirmed, false_alarm, duplicate, handled_remotely, no_trace or other',
                'outcome');
        END IF;
        to_status := 'resolved';
    END IF;

    -- a step past dispatched acknowledges the dispatch, whoever reports it
    IF to_status IN ('acknowledged', 'en_route', 'on_scene') AND n.status IN ('open', 'dispatched') THEN
        UPDATE corridor.dispatches SET status = 'acknowledged', acked_at = now()
         WHERE incident_id = n.id AND status = 'pending';
    END IF;
    IF to_status = 'resolved' THEN
        UPDATE corridor.dispatches SET status = 'closed', closed_at = now()
         WHERE incident_id = n.id AND status = 'pending';
    END IF;
    late := to_status IN ('on_scene', 'resolved') AND n.breached_at IS NULL
            AND now() > corridor.incident_target_at(n);
    UPDATE corridor.incidents SET
        status = to_status,
        acknowledged_at = CASE WHEN to_status IN ('acknowledged', 'en_route', 'on_scene')
                               THEN coalesce(acknowledged_at, now()) ELSE acknowledged_at END,
        en_route_at = CASE WHEN to_status = 'en_route' THEN coalesce(en_route_at, now())
                           ELSE en_route_at END,
        on_scene_at = CASE WHEN to_status = 'on_scene' THEN coalesce(on_scene_at, now())
                           ELSE on_scene_at END,
        resolved_at = CASE WHEN to_status = 'resolved' THEN now() ELSE resolved_at END,
        outcome = CASE WHEN to_status = 'resolved' THEN v_outcome ELSE outcome END,
        breached_at = CASE WHEN late THEN corridor.incident_target_at(n) ELSE breached_at END,
        version = version + 1, updated_at = now()
    WHERE id = n.id RETURNING * INTO n;
    IF n.rru_id IS NOT NULL AND to_status IN ('acknowledged', 'en_route', 'on_scene', 'resolved') THEN
        PERFORM corridor.rru_refresh(n.rru_id);
    END IF;
    INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status, to_status, note,
                                         rru_id, outcome, version)
    VALUES (n.id, p_actor, act, from_status, to_status, v_note, n.rru_id,
            CASE WHEN act = 'resolve' THEN v_outcome END, n.version);
    RETURN corridor.incident_json(n)::json;
END $$;

-- ---- the response target, live: run by the sweeper (corridor.sweep_all) ----
CREATE OR REPLACE FUNCTION corridor.response_sweep(p_now timestamptz)
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
DECLARE
    n corridor.incidents;
BEGIN
    FOR n IN UPDATE corridor.incidents i SET breached_at = corridor.incident_target_at(i),
                                            updated_at = now()
              WHERE i.status <> 'resolved' AND i.on_scene_at IS NULL AND i.breached_at IS NULL
                AND i.opened_at <= p_now - corridor.response_target()
                AND corridor.incident_target_at(i) <= p_now
              RETURNING i.* LOOP
        INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status, to_status,
                                             note, rru_id, version)
        VALUES (n.id, 'system', 'target_breached', n.status, n.status,
                'no unit on scene within ' || corridor.response_target(), n.rru_id, n.version);
        kind := 'incident';
        idx := NULL;
        body := corridor.incident_json(n);
        RETURN NEXT;
    END LOOP;
END $$;

-- GET /api/reports/response: per unit, rule and day (UTC, of opening), the median and
-- 90th percentile of seconds from opening to acknowledgement, to on scene and to
-- resolution, and the breaches of the target. Incidents opened in [p_since, p_until).
CREATE OR REPLACE FUNCTION corridor.response_report(p_since timestamptz, p_until timestamptz)
RETURNS json LANGUAGE sql STABLE AS $$
    WITH t AS (
        SELECT n.rru_id, n.rule, (n.opened_at AT TIME ZONE 'UTC')::date AS day,
               extract(epoch FROM n.acknowledged_at - n.opened_at) AS ack_s,
               extract(epoch FROM n.on_scene_at - n.opened_at) AS scene_s,
               extract(epoch FROM n.resolved_at - n.opened_at) AS resolve_s,
               n.breached_at IS NOT NULL
                 OR coalesce(n.on_scene_at, n.resolved_at, now()) > corridor.incident_target_at(n)
                 AS breached,
               corridor.incident_target_at(n) IS NOT NULL AS targeted
          FROM corridor.incidents n
         WHERE n.opened_at >= coalesce(p_since, '-infinity')
           AND n.opened_at < coalesce(p_until, 'infinity')),
    g AS (
        SELECT rru_id, rule, day, count(*) AS incidents, count(*) FILTER (WHERE targeted) AS targeted,
               count(*) FILTER (WHERE targeted AND breached) AS breaches,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_s) AS ack_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_s) AS ack_p90,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY scene_s) AS scene_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY scene_s) AS scene_p90,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_s) AS resolve_p90,
               count(ack_s) AS acked, count(scene_s) AS on_scene, count(resolve_s) AS resolved
          FROM t GROUP BY rru_id, rule, day)
    SELECT json_build_object('target_minutes', extract(epoch FROM corridor.response_target()) / 60,
        'rows', coalesce(json_agg(json_build_object('rru_id', rru_id, 'rule', rule,
            'day', to_char(day, 'YYYY-MM-DD'), 'incidents', incidents, 'targeted', targeted,
            'breaches', breaches,
            'to_acknowledge', json_build_object('count', acked, 'median_s', round(ack_p50::numeric, 1),
                                                'p90_s', round(ack_p90::numeric, 1)),
            'to_scene', json_build_object('count', on_scene, 'median_s', round(scene_p50::numeric, 1),
                                          'p90_s', round(scene_p90::numeric, 1)),
            'to_resolve', json_build_object('count', resolved, 'median_s', round(resolve_p50::numeric, 1),
                                            'p90_s', round(resolve_p90::numeric, 1)))
            ORDER BY day, rru_id NULLS LAST, rule), '[]'))
      FROM g
$$;

CREATE OR REPLACE TRIGGER incidents_severity BEFORE INSERT ON corridor.incidents
    FOR EACH ROW EXECUTE FUNCTION corridor.incident_severity_trg();

CREATE OR REPLACE TRIGGER incidents_opened AFTER INSERT ON corridor.incidents
    FOR EACH ROW EXECUTE FUNCTION corridor.incident_opened_trg();

CREATE OR REPLACE TRIGGER incident_audit_append_only BEFORE UPDATE OR DELETE ON corridor.incident_audit
    FOR EACH ROW EXECUTE FUNCTION corridor.audit_append_only();

CREATE OR REPLACE TRIGGER incident_audit_no_truncate BEFORE TRUNCATE ON corridor.incident_audit
    FOR EACH STATEMENT EXECUTE FUNCTION corridor.audit_append_only();
