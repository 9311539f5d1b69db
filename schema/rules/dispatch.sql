-- rules/dispatch.sql: rapid response units and dispatches.
-- rru_upsert registers a unit with its base; rru_point records where it is; rru_suggest
-- and rru_nearest pick the nearest available unit to an incident; incident_dispatch sends
-- one (a pending dispatch, at most one per incident); dispatch_take hands a unit its
-- pending dispatches over nng (alerts/dispatch.c); dispatch_tick escalates a dispatch not
-- acknowledged in time.
-- Reads: rrus, dispatches, incidents, latest. Writes: rrus, dispatches, incidents,
-- incident_audit.

CREATE OR REPLACE FUNCTION corridor.rru_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.rru_json(r) ORDER BY r.id), '[]') FROM corridor.rrus r
$$;

-- Of the dispatch ids a unit's client holds, those no longer pending for it (acknowledged
-- elsewhere, escalated, cancelled, closed): the client drops them.
CREATE OR REPLACE FUNCTION corridor.dispatch_gone(p_unit text, p_have bigint[]) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(h ORDER BY h), '[]')
      FROM unnest(coalesce(p_have, '{}')) h
     WHERE NOT EXISTS (SELECT 1 FROM corridor.dispatches d
                        WHERE d.id = h AND d.rru_id = p_unit AND d.status = 'pending')
$$;

-- What a unit receives (the dispatch stage adds "type":"dispatch").
CREATE OR REPLACE FUNCTION corridor.dispatch_json(d corridor.dispatches) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'dispatch', 'dispatch_id', d.id, 'incident_id', d.incident_id,
        'rru_id', d.rru_id, 'status', d.status, 'created_at', corridor.iso(d.created_at),
        'sends', d.sends, 'acked_at', corridor.iso(d.acked_at),
        'incident', (SELECT corridor.incident_json(n)::json FROM corridor.incidents n
                     WHERE n.id = d.incident_id))
$$;

-- A unit is busy while it holds an incident that is not resolved; released units go back
-- to available (off_duty stays off_duty).
CREATE OR REPLACE FUNCTION corridor.rru_refresh(p_unit text) RETURNS void
LANGUAGE sql AS $$
    UPDATE corridor.rrus r
       SET status = CASE WHEN EXISTS (SELECT 1 FROM corridor.incidents n
                                       WHERE n.rru_id = r.id AND n.status <> 'resolved')
                         THEN 'busy' ELSE 'available' END,
           updated_at = now()
     WHERE r.id = p_unit AND r.status <> 'off_duty'
$$;

-- The available units nearest to a point, by KNN on geography, excluding some.
CREATE OR REPLACE FUNCTION corridor.rru_nearest(p_lat float8, p_lon float8, p_exclude text[], p_limit int)
RETURNS TABLE (id text, distance_m float8)
LANGUAGE sql STABLE AS $$
    SELECT r.id, ST_Distance(r.loc, ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography)
      FROM corridor.rrus r
     WHERE r.status = 'available' AND NOT (r.id = ANY (coalesce(p_exclude, '{}')))
     ORDER BY r.loc <-> ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography, r.id
     LIMIT p_limit
$$;

CREATE OR REPLACE FUNCTION corridor.rru_json(r corridor.rrus) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'name', r.name,
        'base', ST_AsGeoJSON(r.base::geometry, 6)::json, 'status', r.status,
        'tracker', r.tracker,
        'position', ST_AsGeoJSON(r.pos::geometry, 6)::json, 'position_at', corridor.iso(r.pos_at),
        'incidents', (SELECT coalesce(json_agg(n.id ORDER BY n.id), '[]') FROM corridor.incidents n
                      WHERE n.rru_id = r.id AND n.status <> 'resolved'),
        'updated_at', corridor.iso(r.updated_at))
$$;

-- A unit's live dispatches that its client does not hold yet (p_have: the ids it holds),
-- marking them sent. Returns a JSON array of dispatch_json.
CREATE OR REPLACE FUNCTION corridor.dispatch_take(p_unit text, p_have bigint[]) RETURNS json
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

-- Available units for an incident, nearest first (its position, else unordered by id).
CREATE OR REPLACE FUNCTION corridor.rru_suggest(p_incident bigint) RETURNS json
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

-- A GeoJSON Point with longitude and latitude in range, as geography. Raises CT422.
CREATE OR REPLACE FUNCTION corridor.rru_point(g json, field text) RETURNS geography
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

-- Creates the dispatch of incident n to unit (cancelling a live one) and moves the
-- incident to dispatched. Returns the updated incident. Internal: callers hold the row lock.
CREATE OR REPLACE FUNCTION corridor.incident_dispatch(n corridor.incidents, p_unit text, p_actor text,
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

-- POST /api/rrus: creates the unit or updates the fields given. Returns
-- {"created": bool, "unit": {...}}. Raises CT422 on invalid input.
CREATE OR REPLACE FUNCTION corridor.rru_upsert(p json) RETURNS json
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

-- ---- the dispatch stage's tick (alerts/dispatch.c calls it every second) ----
-- 1. units with a tracker take its latest position;
-- 2. open critical and high incidents with a position and no dispatch yet go to the
--    nearest available unit (dispatch_unacknowledged incidents are the control room's);
-- 3. pending dispatches older than p_timeout_s escalate to the next nearest available
--    unit not yet tried for the incident; with none free the clock restarts on the same
--    unit. Either way the audit trail records it and a dispatch_unacknowledged incident
--    tells the control room.
-- Returns the incident_json of every incident it changed or opened.
CREATE OR REPLACE FUNCTION corridor.dispatch_tick(p_now timestamptz, p_timeout_s int)
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
