-- rules/replay.sql: what a journey replay shows (docs/replay.md). Decides nothing about a
-- journey; it chooses the fixes of a trip or of a seal's time window and hands them to the
-- map page in columns, with the events, incidents, corridor and checkpoints to draw:
--   replay_trip(trip)             GET /api/trips/{id}/replay: the trip, armed to disarmed
--   replay_seal(seal, from, to)   GET /api/seals/{id}/replay: a window of at most 7 days
-- Both answer {"t": [epoch s], "lon", "lat", "speed": [km/h or null], "events",
-- "incidents", "route"} (a "fuel" column joins them once positions carry fuel). The
-- fixes are read from the positions primary key (seal_id, ts) of the daily partitions the
-- window touches, and the columns are built in one pass (array_agg over the time-ordered
-- rows, no sort per column): ~26,000 fixes in a few tens of milliseconds (docs/replay.md).
-- Reads: trips, seals, latest, positions, events, incidents, routes, route_checkpoints,
-- geofences, checkpoint_passages. Writes nothing.

-- The most fixes one replay carries (23 days at one fix every 8 s); past it the answer
-- says "truncated": true and ends at the last fix it carries.
CREATE OR REPLACE FUNCTION corridor.replay_max_fixes() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 250000 $$;

-- The longest window GET /api/seals/{id}/replay serves.
CREATE OR REPLACE FUNCTION corridor.replay_max_window() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '7 days' $$;

-- A query argument that must be an ISO 8601 time with its zone (2026-12-07T10:00:00Z,
-- 2026-12-07T13:00:00+03:00, fractions of a second allowed); NULL stays NULL. Anything
-- else (PostgreSQL's 'now', 'epoch', a date alone, a time without zone) raises CT400
-- bad_time naming the field.
CREATE OR REPLACE FUNCTION corridor.replay_time(p text, field text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p IS NULL THEN
        RETURN NULL;
    END IF;
    IF p !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$' THEN
        PERFORM corridor.fail(400, 'bad_time',
                              field || ' must be an ISO 8601 time with its zone, such as ' ||
                              '2026-12-07T10:00:00Z (got "' || left(p, 40) || '"' ||
                              CASE WHEN p ~ ' ' THEN '; a + in a URL is written %2B' ELSE '' END ||
                              ')', field);
    END IF;
    BEGIN
        RETURN p::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        PERFORM corridor.fail(400, 'bad_time',
                              field || ' is not a valid time: "' || left(p, 40) || '"', field);
    END;
    RETURN NULL;
END $$;

-- The route part of a replay: the route line, its corridor polygon, the checkpoints (each
-- with its fence, a point to mark it and, for a trip, when it was passed), and the trip's
-- origin and destination fences. NULL for no route.
CREATE OR REPLACE FUNCTION corridor.replay_route(p_route bigint, p_trip uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', r.id, 'name', r.name, 'corridor_m', r.corridor_m,
        'line', ST_AsGeoJSON(r.geom, 6)::json,
        'corridor', ST_AsGeoJSON(ST_Buffer(r.geog, r.corridor_m)::geometry, 6)::json,
        'checkpoints', (
            SELECT coalesce(json_agg(json_build_object(
                       'seq', c.seq, 'geofence_id', c.geofence_id, 'name', g.name,
                       'max_leg_minutes', c.max_leg_minutes,
                       'lon', round(ST_X(pt)::numeric, 6), 'lat', round(ST_Y(pt)::numeric, 6),
                       'geometry', ST_AsGeoJSON(g.geom, 6)::json,
                       'passed', date_part('epoch', cp.passed_at), 'in_order', cp.in_order)
                       ORDER BY c.seq), '[]')
            FROM corridor.route_checkpoints c
            JOIN corridor.geofences g ON g.id = c.geofence_id
            CROSS JOIN LATERAL ST_PointOnSurface(g.geom) pt
            LEFT JOIN corridor.checkpoint_passages cp ON cp.trip_id = p_trip AND cp.seq = c.seq
            WHERE c.route_id = r.id),
        'origin', (SELECT json_build_object('id', g.id, 'name', g.name,
                                            'geometry', ST_AsGeoJSON(g.geom, 6)::json)
                   FROM corridor.trips t JOIN corridor.geofences g ON g.id = t.origin_id
                   WHERE t.id = p_trip),
        'destination', (SELECT json_build_object('id', g.id, 'name', g.name,
                                                 'geometry', ST_AsGeoJSON(g.geom, 6)::json)
                        FROM corridor.trips t JOIN corridor.geofences g ON g.id = t.destination_id
                        WHERE t.id = p_trip))
    FROM corridor.routes r WHERE r.id = p_route
$$;

-- The replay of seal p_seal from p_from to p_to (both included). With p_trip, the events
-- and incidents are that trip's; without, the seal's in the window. p_key: p_val says
-- what the replay is of ("trip": the trip, or "trips": the trips the window overlaps).
CREATE OR REPLACE FUNCTION corridor.replay_json(p_key text, p_val json, p_seal text,
                                                p_from timestamptz, p_to timestamptz,
                                                p_trip uuid, p_route bigint)
RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    cap int := corridor.replay_max_fixes();
    ev json;
    inc json;
BEGIN
    IF p_trip IS NOT NULL THEN
        SELECT coalesce(json_agg(json_build_object(
                   'id', e.id, 'ts', date_part('epoch', e.ts), 'kind', e.kind, 'lon', e.lon,
                   'lat', e.lat, 'fence_id', e.fence_id, 'details', e.details)
                   ORDER BY e.ts, e.id), '[]')
        INTO ev FROM corridor.events e WHERE e.trip_id = p_trip;
        SELECT coalesce(json_agg(json_build_object(
                   'id', i.id, 'ts', date_part('epoch', i.opened_at), 'kind', i.rule,
                   'severity', i.severity, 'status', i.status, 'lon', i.lon, 'lat', i.lat,
                   'events', i.event_count)
                   ORDER BY i.opened_at, i.id), '[]')
        INTO inc FROM corridor.incidents i WHERE i.trip_id = p_trip;
    ELSE
        SELECT coalesce(json_agg(json_build_object(
                   'id', e.id, 'ts', date_part('epoch', e.ts), 'kind', e.kind, 'lon', e.lon,
                   'lat', e.lat, 'fence_id', e.fence_id, 'trip_id', e.trip_id,
                   'details', e.details)
                   ORDER BY e.ts, e.id), '[]')
        INTO ev FROM corridor.events e
        WHERE e.seal_id = p_seal AND e.ts >= p_from AND e.ts <= p_to;
        SELECT coalesce(json_agg(json_build_object(
                   'id', i.id, 'ts', date_part('epoch', i.opened_at), 'kind', i.rule,
                   'severity', i.severity, 'status', i.status, 'lon', i.lon, 'lat', i.lat,
                   'events', i.event_count, 'trip_id', i.trip_id)
                   ORDER BY i.opened_at, i.id), '[]')
        INTO inc FROM corridor.incidents i
        WHERE i.seal_id = p_seal AND i.opened_at >= p_from AND i.opened_at <= p_to;
    END IF;

    -- The fixes: a range of the key in each partition of the window (the planner merges
    -- them, or sorts rows that come nearly in order: a few ms for 26,000). The subquery's
    -- order is the aggregates' input order, so the columns are built in one pass, and in
    -- the statement that writes the answer: the arrays are never copied into variables.
    -- json, not jsonb (which would turn every number into numeric and back): each float8
    -- is written once, by float8out. Past cap fixes, one more row after the last says so.
    RETURN (
        SELECT json_build_object(
            p_key, p_val, 'seal_id', p_seal, 'from', date_part('epoch', p_from),
            'to', CASE WHEN p_to < 'infinity' THEN date_part('epoch', p_to) END,
            'count', count(*),
            'truncated', count(*) = cap AND EXISTS (
                SELECT 1 FROM corridor.positions q
                WHERE q.seal_id = p_seal AND q.ts > max(f.ts) AND q.ts <= p_to),
            't', coalesce(array_agg(date_part('epoch', f.ts)), '{}'),
            'lon', coalesce(array_agg(round(f.lon * 1e6) / 1e6), '{}'),
            'lat', coalesce(array_agg(round(f.lat * 1e6) / 1e6), '{}'),
            'speed', coalesce(array_agg(f.speed_kmh), '{}'),
            'events', ev, 'incidents', inc, 'route', corridor.replay_route(p_route, p_trip))
        FROM (SELECT ts, lon, lat, speed_kmh FROM corridor.positions
              WHERE seal_id = p_seal AND ts >= p_from AND ts <= p_to
              ORDER BY ts LIMIT cap) f);
END $$;

-- GET /api/trips/{id}/replay: the trip from arming to disarming (to its latest fix while
-- armed). Raises CT404 trip_not_found.
CREATE OR REPLACE FUNCTION corridor.replay_trip(p_trip uuid) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
BEGIN
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'trip_not_found', 'trip ' || coalesce(p_trip::text, 'NULL') ||
                              ' does not exist');
    END IF;
    RETURN corridor.replay_json('trip', json_build_object(
        'id', t.id, 'status', t.status, 'seal_id', t.seal_id, 'route_id', t.route_id,
        'plate', t.plate, 'container', t.container, 'declaration', t.declaration,
        'armed_at', date_part('epoch', t.armed_at), 'deadline', date_part('epoch', t.deadline),
        'disarmed_at', date_part('epoch', t.disarmed_at)),
        t.seal_id, t.armed_at, coalesce(t.disarmed_at, 'infinity'), t.id, t.route_id);
END $$;

-- GET /api/seals/{id}/replay?from=&to=: the seal's fixes in a window of at most
-- replay_max_window(). Without to: from + 1 day, or without either the day up to the
-- seal's latest fix; without from: to - 1 day. The route drawn is that of the latest trip
-- armed before the window ends and not disarmed before it starts; "trips" lists every such
-- trip. Raises CT400 bad_time, bad_window, window_too_long and CT404 seal_not_found.
CREATE OR REPLACE FUNCTION corridor.replay_seal(p_seal text, p_from text, p_to text) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_from timestamptz := corridor.replay_time(p_from, 'from');
    v_to timestamptz := corridor.replay_time(p_to, 'to');
    v_route bigint;
    v_trips json;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM corridor.seals WHERE id = p_seal) THEN
        PERFORM corridor.fail(404, 'seal_not_found', 'seal "' || p_seal || '" is not registered');
    END IF;
    IF v_to IS NULL THEN
        v_to := CASE WHEN v_from IS NOT NULL THEN v_from + interval '1 day'
                     ELSE coalesce((SELECT ts FROM corridor.latest WHERE seal_id = p_seal), now())
                END;
    END IF;
    v_from := coalesce(v_from, v_to - interval '1 day');
    IF v_to <= v_from THEN
        PERFORM corridor.fail(400, 'bad_window', 'to (' || corridor.iso(v_to) ||
                              ') must be after from (' || corridor.iso(v_from) || ')', 'to');
    END IF;
    IF v_to - v_from > corridor.replay_max_window() THEN
        PERFORM corridor.fail(400, 'window_too_long',
                              'the window from ' || corridor.iso(v_from) || ' to ' ||
                              corridor.iso(v_to) || ' is ' ||
                              round((extract(epoch FROM v_to - v_from) / 3600)::numeric, 1) ||
                              ' hours; a replay covers at most 7 days (168 hours)', 'to');
    END IF;
    SELECT coalesce(json_agg(json_build_object(
               'id', t.id, 'status', t.status, 'route_id', t.route_id,
               'armed_at', date_part('epoch', t.armed_at),
               'disarmed_at', date_part('epoch', t.disarmed_at)) ORDER BY t.armed_at), '[]'),
           (array_agg(t.route_id ORDER BY t.armed_at DESC))[1]
    INTO v_trips, v_route
    FROM corridor.trips t
    WHERE t.seal_id = p_seal AND t.armed_at <= v_to
      AND coalesce(t.disarmed_at, 'infinity') >= v_from;
    RETURN corridor.replay_json('trips', v_trips, p_seal, v_from, v_to, NULL, v_route);
END $$;
