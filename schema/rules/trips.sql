-- rules/trips.sql: arming, disarming, a trip and its report.
-- trip_arm checks a seal, route, origin, destination and container (ISO 6346 check digit)
-- and starts the trip's rule state; trip_disarm_now ends it (outside the destination it
-- also raises disarm_outside_destination); commands.sql's trip_disarm decides whether a
-- disarm must first unseal the seal. trip_get / trip_json / trip_report are what the API
-- shows: the trip, its legs, checkpoints, events, incidents and the reconciliation report.
-- Reads: seals, routes, route_checkpoints, geofences, latest, positions, events, incidents,
-- checkpoint_passages, rules. Writes: trips, trip_state, trip_legs, events, incidents.

-- ISO 6346 container number: 3-letter owner code, category U, J or Z, 6-digit serial and
-- the check digit (sum of character values times 2^position, mod 11, mod 10). Spaces and
-- hyphens are ignored and letters may be lower case ("csqu 305438-3" is CSQU3054383).
CREATE OR REPLACE FUNCTION corridor.iso6346_normalise(c text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(regexp_replace(c, '[\s-]', '', 'g'))
$$;

CREATE OR REPLACE FUNCTION corridor.iso6346_valid(c text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    WITH n AS (SELECT corridor.iso6346_normalise(c) AS s)
    SELECT coalesce(n.s ~ '^[A-Z]{3}[UJZ][0-9]{7}$' AND (
        SELECT (sum(CASE WHEN ch BETWEEN '0' AND '9' THEN ascii(ch) - 48
                         -- A = 10, then skip multiples of 11: B = 12, ..., L = 23, V = 34
                         ELSE (ascii(ch) - 55) + (ascii(ch) - 56) / 10 END
                    * (1 << (k - 1)::int)) % 11) % 10
        FROM unnest(string_to_array(substr(n.s, 1, 10), NULL)) WITH ORDINALITY AS x(ch, k)
    ) = substr(n.s, 11, 1)::int, false)
    FROM n
$$;

-- POST /api/trips. Body (docs/api.md): {"seal_id", "route_id", "origin_id", "destination_id",
-- "conveyance": {"plate", "container"}, "declaration"} and optionally
-- "exit_border_post_id" (overrides the route's declared exit). p_at is the arming time.
-- Returns trip_json (201); every refusal raises one code of docs/rules.md.
CREATE OR REPLACE FUNCTION corridor.trip_arm(p json, p_at timestamptz DEFAULT now()) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    v_seal text;
    v_plate text;
    v_container text;
    v_decl text;
    r corridor.routes;
    o corridor.geofences;
    d corridor.geofences;
    l corridor.latest;
    other uuid;
    exit_id bigint;
    t corridor.trips;
    v_country text;
BEGIN
    IF p IS NULL OR json_typeof(p) <> 'object' THEN
        PERFORM corridor.fail(422, 'invalid_request', 'the body must be a JSON object');
    END IF;
    FOREACH v_seal IN ARRAY ARRAY['route_id', 'origin_id', 'destination_id'] LOOP
        IF json_typeof(p -> v_seal) IS DISTINCT FROM 'number' THEN
            PERFORM corridor.fail(422, v_seal || '_required', v_seal || ' (a number) is required',
                                  v_seal);
        END IF;
    END LOOP;
    IF p -> 'conveyance' IS NOT NULL AND json_typeof(p -> 'conveyance') <> 'object' THEN
        PERFORM corridor.fail(422, 'invalid_request', 'conveyance must be an object',
                              'conveyance');
    END IF;
    v_seal := trim(p ->> 'seal_id');
    v_plate := upper(trim(p -> 'conveyance' ->> 'plate'));
    v_container := trim(p -> 'conveyance' ->> 'container');
    v_decl := trim(p ->> 'declaration');

    IF coalesce(v_seal, '') = '' THEN
        PERFORM corridor.fail(422, 'seal_id_required', 'seal_id is required', 'seal_id');
    END IF;
    IF coalesce(v_plate, '') = '' THEN
        PERFORM corridor.fail(422, 'plate_required', 'the conveyance plate is required', 'plate');
    END IF;
    IF coalesce(v_container, '') = '' THEN
        PERFORM corridor.fail(422, 'container_required', 'the container number is required',
                              'container');
    END IF;
    IF NOT corridor.iso6346_normalise(v_container) ~ '^[A-Z]{3}[UJZ][0-9]{7}$' THEN
        PERFORM corridor.fail(422, 'container_invalid',
                              'container "' || v_container || '" is not an ISO 6346 number ' ||
                              '(owner code, U/J/Z, 6 digits, check digit)', 'container');
    END IF;
    IF NOT corridor.iso6346_valid(v_container) THEN
        PERFORM corridor.fail(422, 'container_check_digit',
                              'container "' || v_container || '" fails the ISO 6346 check digit',
                              'container');
    END IF;
    v_container := corridor.iso6346_normalise(v_container);
    IF coalesce(v_decl, '') = '' THEN
        PERFORM corridor.fail(422, 'declaration_required',
                              'the customs declaration reference is required', 'declaration');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM corridor.seals WHERE id = v_seal) THEN
        PERFORM corridor.fail(422, 'seal_not_registered',
                              'seal "' || v_seal || '" is not registered', 'seal_id');
    END IF;
    -- serialise arming per seal, and against the ingest batches of that seal
    PERFORM pg_advisory_xact_lock(1129270852, hashtext(v_seal) & 1023);
    SELECT id INTO other FROM corridor.trips WHERE seal_id = v_seal AND status = 'armed';
    IF FOUND THEN
        PERFORM corridor.fail(409, 'seal_on_active_trip',
                              'seal "' || v_seal || '" is already armed on trip ' || other,
                              'seal_id');
    END IF;

    SELECT * INTO r FROM corridor.routes WHERE id = (p ->> 'route_id')::bigint;
    IF NOT FOUND THEN
        PERFORM corridor.fail(422, 'route_not_found',
                              'route ' || (p ->> 'route_id') || ' does not exist', 'route_id');
    END IF;
    SELECT * INTO o FROM corridor.geofences
    WHERE id = (p ->> 'origin_id')::bigint AND deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM corridor.fail(422, 'origin_not_found',
                              'origin geofence ' || (p ->> 'origin_id') || ' does not exist',
                              'origin_id');
    END IF;
    IF o.kind NOT IN ('customs_office', 'port') THEN
        PERFORM corridor.fail(422, 'origin_not_release_point',
                              'origin "' || o.name || '" is a ' || o.kind ||
                              ', not a release point (customs_office or port)', 'origin_id');
    END IF;
    SELECT * INTO d FROM corridor.geofences
    WHERE id = (p ->> 'destination_id')::bigint AND deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM corridor.fail(422, 'destination_not_found',
                              'destination geofence ' || (p ->> 'destination_id') ||
                              ' does not exist', 'destination_id');
    END IF;
    IF d.id = o.id THEN
        PERFORM corridor.fail(422, 'destination_is_origin',
                              'destination and origin are the same geofence', 'destination_id');
    END IF;
    exit_id := coalesce((p ->> 'exit_border_post_id')::bigint, r.exit_border_post_id);
    IF (p ->> 'exit_border_post_id') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM corridor.geofences
        WHERE id = exit_id AND kind = 'border_post' AND deleted_at IS NULL) THEN
        PERFORM corridor.fail(422, 'exit_border_post_invalid',
                              'exit_border_post_id ' || exit_id || ' is not a border_post geofence',
                              'exit_border_post_id');
    END IF;

    SELECT * INTO l FROM corridor.latest WHERE seal_id = v_seal;
    IF NOT FOUND THEN
        PERFORM corridor.fail(409, 'seal_not_reporting',
                              'seal "' || v_seal || '" has never reported a position', 'seal_id');
    END IF;
    IF l.ts < p_at - make_interval(mins => r.reporting_limit_minutes) THEN
        PERFORM corridor.fail(409, 'seal_not_reporting',
                              'seal "' || v_seal || '" last reported at ' || corridor.iso(l.ts) ||
                              ', more than ' || r.reporting_limit_minutes || ' minutes ago',
                              'seal_id');
    END IF;
    IF l.lock IS DISTINCT FROM 'locked' THEN
        PERFORM corridor.fail(409, 'seal_not_locked',
                              'seal "' || v_seal || '" reports lock ' ||
                              coalesce('"' || l.lock || '"', 'unknown') ||
                              ' in its latest position, not "locked"', 'seal_id');
    END IF;

    v_country := coalesce(o.country,
                          (SELECT corridor.country_at(ST_Y(c), ST_X(c))
                           FROM ST_PointOnSurface(o.geom) c));
    BEGIN
        INSERT INTO corridor.trips AS x (seal_id, route_id, origin_id, destination_id, plate,
                                         container, declaration, armed_at, deadline,
                                         exit_border_post_id, origin_country)
        VALUES (v_seal, r.id, o.id, d.id, v_plate, v_container, v_decl, p_at,
                p_at + make_interval(mins => r.max_transit_minutes),
                (p ->> 'exit_border_post_id')::bigint, v_country)
        RETURNING x.* INTO t;
    EXCEPTION WHEN unique_violation THEN
        PERFORM corridor.fail(409, 'seal_on_active_trip',
                              'seal "' || v_seal || '" is already armed on another trip',
                              'seal_id');
    END;
    INSERT INTO corridor.trip_state (seal_id, trip_id, route_id, origin_id, destination_id,
                                     exit_post_id, origin_country, armed_at, deadline, last_ts,
                                     last_lat, last_lon, leg_started_at, country)
    VALUES (v_seal, t.id, r.id, o.id, d.id, exit_id, v_country, p_at, t.deadline, l.ts, l.lat,
            l.lon, p_at, coalesce(corridor.country_at(l.lat, l.lon), v_country));
    INSERT INTO corridor.trip_legs (trip_id, seal_id, country, entered_at, entry_lat, entry_lon)
    VALUES (t.id, v_seal, coalesce(corridor.country_at(l.lat, l.lon), v_country), p_at, l.lat,
            l.lon);
    INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
    VALUES (v_seal, t.id, 'trip_armed', o.id, p_at, l.lat, l.lon,
            jsonb_build_object('route_id', r.id, 'origin', o.name, 'destination', d.name,
                               'deadline', corridor.iso(t.deadline), 'plate', v_plate,
                               'container', v_container, 'declaration', v_decl));
    RETURN corridor.trip_json(t);
END $$;

-- POST /api/trips/{id}/disarm. Succeeds only when the seal's latest position is inside the
-- destination geofence: returns trip_json with "status": "disarmed" (200). Anywhere else it
-- does NOT raise (that would roll back the incident): it records a
-- 'disarm_outside_destination' event, opens or updates that incident and returns
--   {"refused": true, "error": "disarm_outside_destination", "detail": "...",
--    "distance_m": N, "incident": {incident_json}}
-- which the handler answers with 409. Raises CT404 trip_not_found and CT409
-- trip_not_armed.
CREATE OR REPLACE FUNCTION corridor.trip_disarm_now(p_trip uuid, p_at timestamptz DEFAULT now()) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    t corridor.trips;
    l corridor.latest;
    d corridor.geofences;
    inside boolean;
    dist float8;
    n corridor.incidents;
    why text;
BEGIN
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'trip_not_found', 'trip ' || coalesce(p_trip::text, 'NULL') ||
                              ' does not exist');
    END IF;
    PERFORM pg_advisory_xact_lock(1129270852, hashtext(t.seal_id) & 1023);
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip FOR UPDATE;
    IF t.status <> 'armed' THEN
        PERFORM corridor.fail(409, 'trip_not_armed', 'trip ' || p_trip || ' is ' || t.status ||
                              ' since ' || corridor.iso(t.disarmed_at));
    END IF;
    SELECT * INTO d FROM corridor.geofences WHERE id = t.destination_id;
    SELECT * INTO l FROM corridor.latest WHERE seal_id = t.seal_id;
    IF FOUND THEN
        inside := ST_Intersects(d.geom, ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326));
        dist := ST_Distance(d.geom::geography,
                            ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326)::geography);
    END IF;
    IF coalesce(inside, false) THEN
        UPDATE corridor.trips SET status = 'disarmed', disarmed_at = p_at WHERE id = p_trip
        RETURNING * INTO t;
        UPDATE corridor.trip_legs SET exited_at = p_at WHERE trip_id = p_trip AND exited_at IS NULL;
        DELETE FROM corridor.trip_state WHERE seal_id = t.seal_id AND trip_id = p_trip;
        INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
        VALUES (t.seal_id, t.id, 'trip_disarmed', d.id, p_at, l.lat, l.lon,
                jsonb_build_object('destination', d.name, 'position_time', corridor.iso(l.ts)));
        RETURN corridor.trip_json(t);
    END IF;
    why := CASE WHEN l.seal_id IS NULL THEN 'seal "' || t.seal_id || '" has no position'
                ELSE 'the latest position of seal "' || t.seal_id || '" (' || corridor.iso(l.ts) ||
                     ') is ' || round(dist::numeric) || ' m outside destination "' || d.name || '"'
           END;
    INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
    VALUES (t.seal_id, t.id, 'disarm_outside_destination', d.id, p_at, l.lat, l.lon,
            jsonb_build_object('destination', d.name, 'distance_m', round(dist::numeric, 1),
                               'position_time', corridor.iso(l.ts)));
    INSERT INTO corridor.incidents AS x (rule, severity, subject, seal_id, trip_id, fence_id,
                                         opened_at, lat, lon, details)
    SELECT 'disarm_outside_destination', ru.severity, t.id::text, t.seal_id, t.id, d.id, p_at,
           l.lat, l.lon,
           jsonb_build_object('event', 'disarm_outside_destination', 'destination', d.name,
                              'distance_m', round(dist::numeric, 1),
                              'position_time', corridor.iso(l.ts))
    FROM corridor.rules ru WHERE ru.code = 'disarm_outside_destination'
    ON CONFLICT (subject, rule) WHERE status <> 'resolved'
    DO UPDATE SET event_count = x.event_count + 1, updated_at = now()
    RETURNING x.* INTO n;
    RETURN json_build_object('refused', true, 'error', 'disarm_outside_destination',
                             'detail', why, 'distance_m', round(dist::numeric, 1),
                             'incident', corridor.incident_json(n)::json);
END $$;

-- GET /api/trips/{id}: the trip, its route with the corridor polygon, the track as a GeoJSON
-- LineString (null under two fixes), events, checkpoints with passage times, legs,
-- incidents and the latest position. Raises CT404 trip_not_found.
CREATE OR REPLACE FUNCTION corridor.trip_get(p_trip uuid) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
    j jsonb;
BEGIN
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'trip_not_found', 'trip ' || coalesce(p_trip::text, 'NULL') ||
                              ' does not exist');
    END IF;
    j := corridor.trip_json(t)::jsonb || jsonb_build_object(
        'route', (SELECT jsonb_build_object(
                      'id', r.id, 'name', r.name, 'geometry', ST_AsGeoJSON(r.geom)::jsonb,
                      'corridor_m', r.corridor_m,
                      'corridor', ST_AsGeoJSON(ST_Buffer(r.geog, r.corridor_m)::geometry, 6)::jsonb)
                  FROM corridor.routes r WHERE r.id = t.route_id),
        'track', (SELECT CASE WHEN count(*) >= 2 THEN
                            ST_AsGeoJSON(ST_MakeLine(ST_MakePoint(p.lon, p.lat) ORDER BY p.ts))::jsonb
                         END
                  FROM corridor.positions p
                  WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at
                    AND p.ts <= coalesce(t.disarmed_at, 'infinity')),
        'latest', (SELECT corridor.position_json(l.seal_id, l.ts, l.lat, l.lon, l.speed_kmh,
                                                 l.bearing, l.battery, l.lock, l.alarm)::jsonb
                   FROM corridor.latest l WHERE l.seal_id = t.seal_id),
        'checkpoints', corridor.trip_checkpoints_json(t)::jsonb,
        'legs', corridor.trip_legs_json(t.id)::jsonb,
        'events', corridor.trip_events_json(t)::jsonb,
        'incidents', corridor.trip_incidents_json(t.id)::jsonb);
    RETURN j::json;
END $$;

-- ------------------------------------------------------------------------------------------
-- Arming and disarming
-- ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION corridor.trip_json(t corridor.trips) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'status', t.status, 'seal_id', t.seal_id, 'route_id', t.route_id,
        'route', (SELECT name FROM corridor.routes WHERE id = t.route_id),
        'origin_id', t.origin_id,
        'origin', (SELECT name FROM corridor.geofences WHERE id = t.origin_id),
        'destination_id', t.destination_id,
        'destination', (SELECT name FROM corridor.geofences WHERE id = t.destination_id),
        'conveyance', json_build_object('plate', t.plate, 'container', t.container),
        'declaration', t.declaration, 'exit_border_post_id', t.exit_border_post_id,
        'origin_country', t.origin_country,
        'armed_at', corridor.iso(t.armed_at), 'deadline', corridor.iso(t.deadline),
        'disarmed_at', corridor.iso(t.disarmed_at))
$$;

-- GET /api/trips: armed trips, each with its latest position and count of open incidents.
CREATE OR REPLACE FUNCTION corridor.trip_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg((corridor.trip_json(t)::jsonb || jsonb_build_object(
        'latest', (SELECT corridor.position_json(l.seal_id, l.ts, l.lat, l.lon, l.speed_kmh,
                                                 l.bearing, l.battery, l.lock, l.alarm)::jsonb
                   FROM corridor.latest l WHERE l.seal_id = t.seal_id),
        'next_checkpoint', s.next_seq, 'country', s.country,
        'open_incidents', (SELECT count(*) FROM corridor.incidents n
                           WHERE n.trip_id = t.id AND n.status <> 'resolved')))::json
        ORDER BY t.armed_at), '[]')
    FROM corridor.trips t LEFT JOIN corridor.trip_state s ON s.trip_id = t.id
    WHERE t.status = 'armed'
$$;

-- GET /api/trips/{id}/report: what the reconciliation unit checks against the transit
-- documents: the trip, legs with border times, stops, checkpoint times, events, incidents.
-- A stop is a run of consecutive fixes under the route's stop speed lasting at least
-- p_min_stop_minutes (default 5), with where and how long. Raises CT404 trip_not_found.
CREATE OR REPLACE FUNCTION corridor.trip_report(p_trip uuid, p_min_stop_minutes int DEFAULT 5) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
    r corridor.routes;
    stops jsonb;
BEGIN
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'trip_not_found', 'trip ' || coalesce(p_trip::text, 'NULL') ||
                              ' does not exist');
    END IF;
    SELECT * INTO r FROM corridor.routes WHERE id = t.route_id;
    WITH fixes AS (
        SELECT p.ts, p.lat, p.lon,
               coalesce(p.speed_kmh,
                        corridor.dist_m(lag(p.lat) OVER w, lag(p.lon) OVER w, p.lat, p.lon)
                        / nullif(extract(epoch FROM p.ts - lag(p.ts) OVER w), 0) * 3.6, 0)
                   < r.stop_speed_kmh AS slow
        FROM corridor.positions p
        WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at
          AND p.ts <= coalesce(t.disarmed_at, 'infinity')
        WINDOW w AS (ORDER BY p.ts)
    ),
    runs AS (
        SELECT *, count(*) FILTER (WHERE NOT slow) OVER (ORDER BY ts) AS grp FROM fixes
    ),
    s AS (
        SELECT min(ts) AS since, max(ts) AS until, avg(lat) AS lat, avg(lon) AS lon
        FROM runs WHERE slow GROUP BY grp
        HAVING max(ts) - min(ts) >= make_interval(mins => p_min_stop_minutes)
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'from', corridor.iso(s.since), 'until', corridor.iso(s.until),
               'minutes', round((extract(epoch FROM s.until - s.since) / 60)::numeric, 1),
               'lat', s.lat, 'lon', s.lon,
               'place', (SELECT g.name FROM corridor.geofences g
                         WHERE g.deleted_at IS NULL
                           AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                         ORDER BY g.id LIMIT 1)) ORDER BY s.since), '[]')
    INTO stops FROM s;
    RETURN (corridor.trip_json(t)::jsonb || jsonb_build_object(
        'legs', corridor.trip_legs_json(t.id)::jsonb,
        'stops', stops,
        'checkpoints', corridor.trip_checkpoints_json(t)::jsonb,
        'events', corridor.trip_events_json(t)::jsonb,
        'incidents', corridor.trip_incidents_json(t.id)::jsonb))::json;
END $$;

CREATE OR REPLACE FUNCTION corridor.trip_incidents_json(p_trip uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.incident_json(n)::json ORDER BY n.opened_at, n.id), '[]')
    FROM corridor.incidents n WHERE n.trip_id = p_trip
$$;

CREATE OR REPLACE FUNCTION corridor.trip_events_json(t corridor.trips) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.event_json(e) ORDER BY e.ts, e.id), '[]')
    FROM corridor.events e
    WHERE e.seal_id = t.seal_id AND e.trip_id = t.id
$$;

-- ------------------------------------------------------------------------------------------
-- Officer views and reconciliation
-- ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION corridor.trip_legs_json(p_trip uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
        'country', l.country, 'entered_at', corridor.iso(l.entered_at),
        'exited_at', corridor.iso(l.exited_at), 'border_post_id', l.entry_post_id,
        'border_post', g.name, 'border_post_distance_m', round(l.entry_post_distance_m::numeric, 1),
        'lat', l.entry_lat, 'lon', l.entry_lon) ORDER BY l.entered_at, l.id), '[]')
    FROM corridor.trip_legs l LEFT JOIN corridor.geofences g ON g.id = l.entry_post_id
    WHERE l.trip_id = p_trip
$$;

CREATE OR REPLACE FUNCTION corridor.trip_checkpoints_json(t corridor.trips) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
        'seq', c.seq, 'geofence_id', c.geofence_id, 'name', g.name,
        'max_leg_minutes', c.max_leg_minutes, 'passed_at', corridor.iso(p.passed_at),
        'in_order', p.in_order) ORDER BY c.seq), '[]')
    FROM corridor.route_checkpoints c
    JOIN corridor.geofences g ON g.id = c.geofence_id
    LEFT JOIN corridor.checkpoint_passages p ON p.trip_id = t.id AND p.seq = c.seq
    WHERE c.route_id = t.route_id
$$;

-- An event with its evidence, for the API.
CREATE OR REPLACE FUNCTION corridor.event_json(e corridor.events) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', e.id, 'kind', e.kind, 'time', corridor.iso(e.ts),
                             'lat', e.lat, 'lon', e.lon, 'fence_id', e.fence_id,
                             'details', e.details)
$$;
