-- 030_incidents: the incident lifecycle, rapid response units and their dispatches, the
-- 60-minute response target (issue 6). docs/incidents.md describes it for users.
--
-- What lives here:
--   lifecycle  open -> dispatched -> acknowledged -> en_route -> on_scene -> resolved, as
--              columns on corridor.incidents (version for optimistic concurrency, rru_id,
--              one timestamp per step, outcome) and corridor.incident_action(), the one
--              function every change goes through (REST, the websocket, RRU clients).
--   audit      corridor.incident_audit: append-only (a trigger refuses UPDATE and DELETE).
--   units      corridor.rrus: base, current position (from a tracker seal), status.
--   dispatch   corridor.dispatches: stored before they are sent (the dispatch stage in
--              alerts/dispatch.c delivers them over nng), corridor.dispatch_tick() for
--              automatic dispatch and escalation.
--   target     corridor.response_sweep(now) flags incidents past the 60-minute target
--              (run by the sweeper), corridor.response_report() for GET /api/reports/response.
--
-- Errors, as in 004: SQLSTATE 'CT' || http, MESSAGE 'code: human sentence'. Errors about
-- an existing incident carry its current state (corridor.incident_json) in DETAIL, so a
-- 409 answers with what the loser of a race needs to retry.

-- ---- the lifecycle on the incidents table ----
ALTER TABLE corridor.incidents
    ADD COLUMN version         int NOT NULL DEFAULT 1,
    ADD COLUMN rru_id          text,
    ADD COLUMN dispatched_at   timestamptz,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN en_route_at     timestamptz,
    ADD COLUMN on_scene_at     timestamptz,
    ADD COLUMN resolved_at     timestamptz,
    ADD COLUMN outcome         text,
    ADD COLUMN breached_at     timestamptz,
    ADD CONSTRAINT incidents_status_check CHECK (status IN ('open', 'dispatched', 'acknowledged',
                                                            'en_route', 'on_scene', 'resolved')),
    ADD CONSTRAINT incidents_outcome_check CHECK (outcome IS NULL OR outcome IN
        ('confirmed', 'false_alarm', 'duplicate', 'handled_remotely', 'no_trace', 'other'));
-- what the dispatch stage scans every second: open incidents without a unit
CREATE INDEX incidents_undispatched ON corridor.incidents (opened_at)
    WHERE status = 'open' AND rru_id IS NULL;
-- what the response sweep scans: unanswered incidents not flagged yet
CREATE INDEX incidents_unanswered ON corridor.incidents (opened_at)
    WHERE status <> 'resolved' AND on_scene_at IS NULL AND breached_at IS NULL;
CREATE INDEX incidents_rru ON corridor.incidents (rru_id, opened_at) WHERE rru_id IS NOT NULL;

-- The response target: a unit on scene (or the incident resolved) within this long of
-- its opening.
CREATE FUNCTION corridor.response_target() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '60 minutes' $$;

-- The target applies to incidents that need a response: critical and high severity, and
-- any incident a unit was assigned to.
CREATE FUNCTION corridor.incident_target_at(n corridor.incidents) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n.severity IN ('critical', 'high') OR n.rru_id IS NOT NULL
                THEN n.opened_at + corridor.response_target() END
$$;

-- Severity comes from corridor.rules whatever the inserting rule wrote.
CREATE FUNCTION corridor.incident_severity_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.severity := coalesce((SELECT r.severity FROM corridor.rules r WHERE r.code = NEW.rule),
                             NEW.severity);
    RETURN NEW;
END $$;
CREATE TRIGGER incidents_severity BEFORE INSERT ON corridor.incidents
    FOR EACH ROW EXECUTE FUNCTION corridor.incident_severity_trg();

-- ---- the audit trail ----
CREATE TABLE corridor.incident_audit (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL,
    from_status text,
    to_status   text,
    note        text,
    rru_id      text,
    outcome     text,
    version     int
);
CREATE INDEX incident_audit_incident ON corridor.incident_audit (incident_id, id);

CREATE FUNCTION corridor.audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT409',
        MESSAGE = 'audit_append_only: the incident audit trail cannot be changed';
END $$;
CREATE TRIGGER incident_audit_append_only BEFORE UPDATE OR DELETE ON corridor.incident_audit
    FOR EACH ROW EXECUTE FUNCTION corridor.audit_append_only();
CREATE TRIGGER incident_audit_no_truncate BEFORE TRUNCATE ON corridor.incident_audit
    FOR EACH STATEMENT EXECUTE FUNCTION corridor.audit_append_only();

-- Every incident's trail starts with its opening, whichever rule opened it.
CREATE FUNCTION corridor.incident_opened_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO corridor.incident_audit (incident_id, at, actor, action, to_status, version)
    VALUES (NEW.id, now(), 'system', 'open', NEW.status, NEW.version);
    RETURN NULL;
END $$;
CREATE TRIGGER incidents_opened AFTER INSERT ON corridor.incidents
    FOR EACH ROW EXECUTE FUNCTION corridor.incident_opened_trg();

-- ---- rapid response units ----
CREATE TABLE corridor.rrus (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base       geography(Point, 4326) NOT NULL,
    status     text NOT NULL DEFAULT 'available'
               CHECK (status IN ('available', 'busy', 'off_duty')),
    tracker    text,                    -- a seal id whose positions are the unit's
    pos        geography(Point, 4326),  -- last reported position
    pos_at     timestamptz,
    loc        geography(Point, 4326) GENERATED ALWAYS AS (coalesce(pos, base)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rrus_loc ON corridor.rrus USING gist (loc);

CREATE FUNCTION corridor.rru_json(r corridor.rrus) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'name', r.name,
        'base', ST_AsGeoJSON(r.base::geometry, 6)::json, 'status', r.status,
        'tracker', r.tracker,
        'position', ST_AsGeoJSON(r.pos::geometry, 6)::json, 'position_at', corridor.iso(r.pos_at),
        'incidents', (SELECT coalesce(json_agg(n.id ORDER BY n.id), '[]') FROM corridor.incidents n
                      WHERE n.rru_id = r.id AND n.status <> 'resolved'),
        'updated_at', corridor.iso(r.updated_at))
$$;

CREATE FUNCTION corridor.rru_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.rru_json(r) ORDER BY r.id), '[]') FROM corridor.rrus r
$$;

-- POST /api/rrus: creates the unit or updates the fields given. Returns
-- {"created": bool, "unit": {...}}. Raises CT422 on invalid input.
CREATE FUNCTION corridor.rru_upsert(p json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := p->>'id';
    v_base geography;
    v_pos geography;
    r corridor.rrus;
    created boolean;
BEGIN
    IF v_id IS NULL OR v_id !~ '^[A-Za-z0-9._:-]{1,64}$' THEN
        PERFORM corridor.fail(422, 'invalid_field',
            '"id" must be 1 to 64 characters of A-Z, a-z, 0-9, ''.'', ''_'', '':'', ''-''', 'id');
    END IF;
    IF p->>'name' IS NOT NULL AND length(p->>'name') NOT BETWEEN 1 AND 200 THEN
        PERFORM corridor.fail(422, 'invalid_field', '"name" must be 1 to 200 characters', 'name');
    END IF;
    IF p->>'status' IS NOT NULL AND p->>'status' NOT IN ('available', 'busy', 'off_duty') THEN
        PERFORM corridor.fail(422, 'invalid_field',
            '"status" must be "available", "busy" or "off_duty"', 'status');
    END IF;
    IF p->'base' IS NOT NULL AND json_typeof(p->'base') <> 'null' THEN
        v_base := corridor.rru_point(p->'base', 'base');
    END IF;
    IF p->'position' IS NOT NULL AND json_typeof(p->'position') <> 'null' THEN
        v_pos := corridor.rru_point(p->'position', 'position');
    END IF;
    SELECT * INTO r FROM corridor.rrus WHERE id = v_id FOR UPDATE;
    created := NOT FOUND;
    IF created THEN
        IF v_base IS NULL THEN
            PERFORM corridor.fail(422, 'invalid_field',
                '"base" (a GeoJSON Point) is required for a new unit', 'base');
        END IF;
        INSERT INTO corridor.rrus (id, name, base, status, tracker, pos, pos_at)
        VALUES (v_id, coalesce(p->>'name', v_id), v_base, coalesce(p->>'status', 'available'),
                p->>'tracker', v_pos, CASE WHEN v_pos IS NOT NULL THEN now() END)
        RETURNING * INTO r;
    ELSE
        UPDATE corridor.rrus SET name = coalesce(p->>'name', name), base = coalesce(v_base, base),
            status = coalesce(p->>'status', status), tracker = coalesce(p->>'tracker', tracker),
            pos = coalesce(v_pos, pos),
            pos_at = CASE WHEN v_pos IS NOT NULL THEN now() ELSE pos_at END, updated_at = now()
        WHERE id = v_id RETURNING * INTO r;
    END IF;
    RETURN json_build_object('created', created, 'unit', corridor.rru_json(r));
END $$;

-- A GeoJSON Point with longitude and latitude in range, as geography. Raises CT422.
CREATE FUNCTION corridor.rru_point(g json, field text) RETURNS geography
LANGUAGE plpgsql AS $$
DECLARE
    lon float8;
    lat float8;
BEGIN
    IF json_typeof(g) <> 'object' OR g->>'type' IS DISTINCT FROM 'Point'
       OR json_typeof(g->'coordinates') IS DISTINCT FROM 'array'
       OR json_array_length(g->'coordinates') NOT IN (2, 3)
       OR json_typeof(g->'coordinates'->0) <> 'number'
       OR json_typeof(g->'coordinates'->1) <> 'number' THEN
        PERFORM corridor.fail(422, 'invalid_geometry',
            format('"%s" must be a GeoJSON Point {"type":"Point","coordinates":[lon, lat]}', field),
            field);
    END IF;
    lon := (g->'coordinates'->>0)::float8;
    lat := (g->'coordinates'->>1)::float8;
    IF lon NOT BETWEEN -180 AND 180 OR lat NOT BETWEEN -90 AND 90 THEN
        PERFORM corridor.fail(422, 'invalid_geometry',
            format('"%s": longitude must be within ±180 and latitude within ±90', field), field);
    END IF;
    RETURN ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
END $$;

-- A unit is busy while it holds an incident that is not resolved; released units go back
-- to available (off_duty stays off_duty).
CREATE FUNCTION corridor.rru_refresh(p_unit text) RETURNS void
LANGUAGE sql AS $$
    UPDATE corridor.rrus r
       SET status = CASE WHEN EXISTS (SELECT 1 FROM corridor.incidents n
                                       WHERE n.rru_id = r.id AND n.status <> 'resolved')
                         THEN 'busy' ELSE 'available' END,
           updated_at = now()
     WHERE r.id = p_unit AND r.status <> 'off_duty'
$$;

-- ---- dispatches: stored before they are sent ----
CREATE TABLE corridor.dispatches (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    rru_id      text NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'acknowledged', 'escalated', 'cancelled', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,           -- escalation clock restarted (no other unit was free)
    sent_at     timestamptz,           -- first delivery
    sends       int NOT NULL DEFAULT 0,
    acked_at    timestamptz,
    closed_at   timestamptz,
    actor       text NOT NULL
);
-- one live dispatch per incident; a unit's queue is one index read
CREATE UNIQUE INDEX dispatches_one_pending ON corridor.dispatches (incident_id)
    WHERE status = 'pending';
CREATE INDEX dispatches_unit ON corridor.dispatches (rru_id, id) WHERE status = 'pending';
CREATE INDEX dispatches_incident ON corridor.dispatches (incident_id, id);

-- What a unit receives (the dispatch stage adds "type":"dispatch").
CREATE FUNCTION corridor.dispatch_json(d corridor.dispatches) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'dispatch', 'dispatch_id', d.id, 'incident_id', d.incident_id,
        'rru_id', d.rru_id, 'status', d.status, 'created_at', corridor.iso(d.created_at),
        'sends', d.sends, 'acked_at', corridor.iso(d.acked_at),
        'incident', (SELECT corridor.incident_json(n)::json FROM corridor.incidents n
                     WHERE n.id = d.incident_id))
$$;

-- The available units nearest to a point, by KNN on geography, excluding some.
CREATE FUNCTION corridor.rru_nearest(p_lat float8, p_lon float8, p_exclude text[], p_limit int)
RETURNS TABLE (id text, distance_m float8)
LANGUAGE sql STABLE AS $$
    SELECT r.id, ST_Distance(r.loc, ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography)
      FROM corridor.rrus r
     WHERE r.status = 'available' AND NOT (r.id = ANY (coalesce(p_exclude, '{}')))
     ORDER BY r.loc <-> ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography, r.id
     LIMIT p_limit
$$;

-- ---- the incident as the API and the websocket show it (replaces 002's) ----
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

-- Raises an error about incident n: CT<http>, 'code: detail', its current state in DETAIL.
CREATE FUNCTION corridor.incident_fail(http int, code text, detail text, n corridor.incidents)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT' || http::text, MESSAGE = code || ': ' || detail,
                          DETAIL = coalesce(corridor.incident_json(n), '');
END $$;

-- One incident with its events, audit trail and dispatches. Raises CT404.
CREATE FUNCTION corridor.incident_get(p_id bigint) RETURNS json
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

-- Creates the dispatch of incident n to unit (cancelling a live one) and moves the
-- incident to dispatched. Returns the updated incident. Internal: callers hold the row lock.
CREATE FUNCTION corridor.incident_dispatch(n corridor.incidents, p_unit text, p_actor text,
                                           p_action text, p_note text)
RETURNS corridor.incidents LANGUAGE plpgsql AS $$
DECLARE
    old_unit text := n.rru_id;
    from_status text := n.status;
BEGIN
    UPDATE corridor.dispatches SET status = 'cancelled', closed_at = now()
     WHERE incident_id = n.id AND status = 'pending';
    INSERT INTO corridor.dispatches (incident_id, rru_id, actor) VALUES (n.id, p_unit, p_actor);
    UPDATE corridor.incidents SET status = 'dispatched', rru_id = p_unit,
           dispatched_at = coalesce(dispatched_at, now()), version = version + 1,
           updated_at = now()
     WHERE id = n.id RETURNING * INTO n;
    PERFORM corridor.rru_refresh(p_unit);
    IF old_unit IS NOT NULL AND old_unit <> p_unit THEN
        PERFORM corridor.rru_refresh(old_unit);
    END IF;
    INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status, to_status,
                                         note, rru_id, version)
    VALUES (n.id, p_actor, p_action, from_status, n.status, p_note, p_unit, n.version);
    RETURN n;
END $$;

-- The one way an incident changes. p_action: {"action", "rru_id", "note", "outcome"} as
-- the REST body (and "as_unit" when an RRU client acts: the incident must be its own).
-- p_version NULL skips the optimistic check. Returns the new incident_json.
-- Raises: CT404 not_found; CT409 version_conflict, invalid_transition, unit_unavailable,
-- already_assigned, no_unit (each with the current state in DETAIL); CT403 not_assigned;
-- CT422 invalid_action, invalid_field, unknown_unit.
CREATE FUNCTION corridor.incident_action(p_id bigint, p_action json, p_actor text,
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
        IF n.rru_id = v_unit AND n.status = 'dispatched' THEN
            PERFORM corridor.incident_fail(409, 'already_assigned',
                format('incident %s is already dispatched to unit %s', n.id, v_unit), n);
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

-- Available units for an incident, nearest first (its position, else unordered by id).
CREATE FUNCTION corridor.rru_suggest(p_incident bigint) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n corridor.incidents;
BEGIN
    SELECT * INTO n FROM corridor.incidents WHERE id = p_incident;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'not_found', format('no incident with id %s', p_incident));
    END IF;
    IF n.lat IS NULL OR n.lon IS NULL THEN
        RETURN (SELECT coalesce(json_agg(json_build_object('unit', corridor.rru_json(r),
                                                           'distance_m', NULL) ORDER BY r.id), '[]')
                  FROM corridor.rrus r WHERE r.status = 'available');
    END IF;
    RETURN (SELECT coalesce(json_agg(json_build_object('unit', corridor.rru_json(r),
                                                       'distance_m', round(k.distance_m))
                                     ORDER BY k.ord), '[]')
              FROM (SELECT x.id, x.distance_m, row_number() OVER () AS ord
                      FROM corridor.rru_nearest(n.lat, n.lon, '{}', 50) x) k
              JOIN corridor.rrus r ON r.id = k.id);
END $$;

-- ---- the dispatch stage's tick (alerts/dispatch.c calls it every second) ----
-- 1. units with a tracker take its latest position;
-- 2. open critical and high incidents with a position and no dispatch yet go to the
--    nearest available unit (dispatch_unacknowledged incidents are the control room's);
-- 3. pending dispatches older than p_timeout_s escalate to the next nearest available
--    unit not yet tried for the incident; with none free the clock restarts on the same
--    unit. Either way the audit trail records it and a dispatch_unacknowledged incident
--    tells the control room.
-- Returns the incident_json of every incident it changed or opened.
CREATE FUNCTION corridor.dispatch_tick(p_now timestamptz, p_timeout_s int)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    n corridor.incidents;
    x corridor.incidents;
    d corridor.dispatches;
    v_unit text;
    tried text[];
BEGIN
    UPDATE corridor.rrus r SET pos = ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326)::geography,
                               pos_at = l.ts, updated_at = now()
      FROM corridor.latest l
     WHERE r.tracker IS NOT NULL AND l.seal_id = r.tracker AND l.ts > coalesce(r.pos_at, '-infinity');

    IF EXISTS (SELECT 1 FROM corridor.rrus WHERE status = 'available') THEN
        FOR n IN SELECT * FROM corridor.incidents i
                  WHERE i.status = 'open' AND i.rru_id IS NULL
                    AND i.severity IN ('critical', 'high') AND i.rule <> 'dispatch_unacknowledged'
                    AND i.lat IS NOT NULL AND i.lon IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM corridor.dispatches dd WHERE dd.incident_id = i.id)
                  ORDER BY i.severity = 'critical' DESC, i.opened_at, i.id
                  LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
            SELECT k.id INTO v_unit FROM corridor.rru_nearest(n.lat, n.lon, '{}', 1) k;
            EXIT WHEN v_unit IS NULL;
            n := corridor.incident_dispatch(n, v_unit, 'system', 'dispatch',
                     format('nearest available unit (%s severity)', n.severity));
            RETURN NEXT corridor.incident_json(n);
        END LOOP;
    END IF;

    -- locks in the order incident_action takes them (incident, then dispatch): no deadlock
    FOR d IN SELECT * FROM corridor.dispatches dd
              WHERE dd.status = 'pending'
                AND coalesce(dd.expires_at, dd.created_at + make_interval(secs => p_timeout_s)) <= p_now
              ORDER BY dd.id LOOP
        SELECT * INTO n FROM corridor.incidents WHERE id = d.incident_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        SELECT * INTO d FROM corridor.dispatches dd
         WHERE dd.id = d.id AND dd.status = 'pending'
           AND coalesce(dd.expires_at, dd.created_at + make_interval(secs => p_timeout_s)) <= p_now
           FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        SELECT array_agg(DISTINCT dd.rru_id) INTO tried FROM corridor.dispatches dd
         WHERE dd.incident_id = n.id;
        v_unit := NULL;
        IF n.lat IS NOT NULL THEN
            SELECT k.id INTO v_unit FROM corridor.rru_nearest(n.lat, n.lon, tried, 1) k;
        ELSE
            SELECT r.id INTO v_unit FROM corridor.rrus r
             WHERE r.status = 'available' AND NOT (r.id = ANY (tried)) ORDER BY r.id LIMIT 1;
        END IF;
        IF v_unit IS NOT NULL THEN
            UPDATE corridor.dispatches SET status = 'escalated', closed_at = p_now WHERE id = d.id;
            n := corridor.incident_dispatch(n, v_unit, 'system', 'escalate',
                     format('unit %s did not acknowledge within %s s', d.rru_id, p_timeout_s));
        ELSE
            UPDATE corridor.dispatches
               SET expires_at = p_now + make_interval(secs => p_timeout_s) WHERE id = d.id;
            UPDATE corridor.incidents SET version = version + 1, updated_at = now()
             WHERE id = n.id RETURNING * INTO n;
            INSERT INTO corridor.incident_audit (incident_id, actor, action, from_status,
                                                 to_status, note, rru_id, version)
            VALUES (n.id, 'system', 'escalate', n.status, n.status,
                    format('unit %s did not acknowledge within %s s and no other unit is available: still waiting',
                           d.rru_id, p_timeout_s), d.rru_id, n.version);
        END IF;
        RETURN NEXT corridor.incident_json(n);
        INSERT INTO corridor.incidents AS i (rule, severity, subject, seal_id, mmsi, trip_id,
                                             opened_at, lat, lon, details)
        VALUES ('dispatch_unacknowledged', 'high', 'incident:' || n.id, n.seal_id, n.mmsi,
                n.trip_id, p_now, n.lat, n.lon,
                jsonb_build_object('incident_id', n.id, 'rru_id', d.rru_id, 'dispatch_id', d.id,
                                   'escalated_to', v_unit, 'timeout_s', p_timeout_s))
        ON CONFLICT (subject, rule) WHERE status <> 'resolved'
        DO UPDATE SET event_count = i.event_count + 1, updated_at = now(),
                      details = EXCLUDED.details
        RETURNING * INTO x;
        RETURN NEXT corridor.incident_json(x);
    END LOOP;
END $$;

-- A unit's live dispatches that its client does not hold yet (p_have: the ids it holds),
-- marking them sent. Returns a JSON array of dispatch_json.
CREATE FUNCTION corridor.dispatch_take(p_unit text, p_have bigint[]) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    out json;
BEGIN
    WITH s AS (
        UPDATE corridor.dispatches d SET sends = d.sends + 1, sent_at = coalesce(d.sent_at, now())
         WHERE d.rru_id = p_unit AND d.status = 'pending'
           AND NOT (d.id = ANY (coalesce(p_have, '{}')))
        RETURNING d.*)
    SELECT coalesce(json_agg(corridor.dispatch_json(s::corridor.dispatches) ORDER BY s.id), '[]')
      INTO out FROM s;
    RETURN out;
END $$;

-- Of the dispatch ids a unit's client holds, those no longer pending for it (acknowledged
-- elsewhere, escalated, cancelled, closed): the client drops them.
CREATE FUNCTION corridor.dispatch_gone(p_unit text, p_have bigint[]) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(h ORDER BY h), '[]')
      FROM unnest(coalesce(p_have, '{}')) h
     WHERE NOT EXISTS (SELECT 1 FROM corridor.dispatches d
                        WHERE d.id = h AND d.rru_id = p_unit AND d.status = 'pending')
$$;

-- ---- the response target, live: run by the sweeper (corridor.sweep_all) ----
CREATE FUNCTION corridor.response_sweep(p_now timestamptz)
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
CREATE FUNCTION corridor.response_report(p_since timestamptz, p_until timestamptz)
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
