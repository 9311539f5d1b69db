-- rules/routes.sql: routes, their corridors and checkpoints.
-- A route is a line with a corridor width in metres, ordered checkpoints (geofences with a
-- maximum time for the leg to each), its stop, speed, reporting and battery limits.
-- route_create validates and stores one; a trigger derives what the per-fix rules need
-- (routes_derive: the line in a scaled planar frame and the sure-inside and sure-outside
-- bounds in degrees, so that in_corridor decides most fixes without a geography distance).
-- Reads: geofences, routes, route_checkpoints. Writes: routes, route_checkpoints.

-- Inside the route's metric corridor? Inlined into the batch statement.
CREATE OR REPLACE FUNCTION corridor.in_corridor(geom_s geometry, scale float8, inner_deg float8,
                                     outer_deg float8, geog geography, corridor_m float8,
                                     lat float8, lon float8)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN ST_DWithin(geom_s, ST_SetSRID(ST_MakePoint(lon * scale, lat), 4326), inner_deg)
            THEN true
        WHEN NOT ST_DWithin(geom_s, ST_SetSRID(ST_MakePoint(lon * scale, lat), 4326), outer_deg)
            THEN false
        ELSE ST_DWithin(geog, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, corridor_m)
    END
$$;

-- The metric corridor, fast and correct at any latitude (docs/performance.md: the bracketing trick).
-- The route is densified along the great circle (a vertex every 2 km, so a planar chord
-- stays within centimetres of the geodesic edge) and its longitudes are multiplied by
-- scale = cos(mid latitude): in that frame a degree is nearly the same number of metres
-- in x and y. Over the route's latitude span (plus the corridor), metres per scaled degree
-- lie within [kmin, kmax]; so a point whose planar distance is under inner_deg =
-- (w - slack) / kmax is surely inside, over outer_deg = (w + slack) / kmin surely outside,
-- and only the thin band between needs the exact spheroidal ST_DWithin.
CREATE OR REPLACE FUNCTION corridor.routes_derive() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    a float8 := 6378137.0;
    e2 float8 := 0.00669437999014;
    span float8 := NEW.corridor_m / 110000.0 + 0.05;
    lo float8 := greatest(ST_YMin(NEW.geom) - span, -89.9);
    hi float8 := least(ST_YMax(NEW.geom) + span, 89.9);
    near float8 := CASE WHEN lo <= 0 AND hi >= 0 THEN 0 ELSE least(abs(lo), abs(hi)) END;
    far float8 := greatest(abs(lo), abs(hi));
    c0 float8 := cos(radians((ST_YMin(NEW.geom) + ST_YMax(NEW.geom)) / 2));
    kx_min float8;
    kx_max float8;
    ky_min float8;
    ky_max float8;
    kmin float8;
    kmax float8;
    slack float8;
BEGIN
    -- metres per degree of longitude on the ellipsoid at latitude p, over scale
    kx_min := pi() / 180 * a * cos(radians(far)) / sqrt(1 - e2 * sin(radians(far)) ^ 2) / c0;
    kx_max := pi() / 180 * a * cos(radians(near)) / sqrt(1 - e2 * sin(radians(near)) ^ 2) / c0;
    -- metres per degree of latitude (110,574 at the equator to 111,694 at the poles)
    ky_min := pi() / 180 * a * (1 - e2) / (1 - e2 * sin(radians(near)) ^ 2) ^ 1.5;
    ky_max := pi() / 180 * a * (1 - e2) / (1 - e2 * sin(radians(far)) ^ 2) ^ 1.5;
    -- 0.1% covers the local linearisation (second order in corridor / Earth radius)
    kmin := least(kx_min, ky_min) * 0.999;
    kmax := greatest(kx_max, ky_max) * 1.001;
    slack := 1.0 + 2000.0 ^ 2 / (8 * 6371000.0) * (1 + tan(radians(least(far, 89))));
    NEW.geog := NEW.geom::geography;
    NEW.scale := c0;
    NEW.geom_s := ST_Scale(ST_Segmentize(NEW.geom::geography, 2000)::geometry, c0, 1);
    NEW.inner_deg := greatest(NEW.corridor_m - slack, 0) / kmax;
    NEW.outer_deg := (NEW.corridor_m + slack) / kmin;
    RETURN NEW;
END $$;

-- POST /api/routes. Body: {"name", "geometry": GeoJSON LineString, "corridor_m",
-- "max_transit_minutes", "checkpoints": [{"geofence_id", "max_leg_minutes"}], and the
-- optional thresholds of docs/rules.md}. Returns route_json of the new route.
CREATE OR REPLACE FUNCTION corridor.route_create(p json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    g geometry;
    r corridor.routes;
    cp json;
    n int := 0;
    fid bigint;
    kinds text[];
BEGIN
    IF p IS NULL OR json_typeof(p) <> 'object' THEN
        PERFORM corridor.fail(422, 'invalid_request', 'the body must be a JSON object');
    END IF;
    IF coalesce(length(trim(p ->> 'name')), 0) = 0 THEN
        PERFORM corridor.fail(422, 'name_required', 'the route needs a name', 'name');
    END IF;
    IF p -> 'geometry' IS NULL OR json_typeof(p -> 'geometry') <> 'object'
       OR p -> 'geometry' ->> 'type' IS DISTINCT FROM 'LineString' THEN
        PERFORM corridor.fail(422, 'geometry_invalid',
                              'geometry must be a GeoJSON LineString', 'geometry');
    END IF;
    BEGIN
        g := ST_SetSRID(ST_GeomFromGeoJSON((p -> 'geometry')::text), 4326);
    EXCEPTION WHEN OTHERS THEN
        PERFORM corridor.fail(422, 'geometry_invalid',
                              'geometry is not a readable LineString: ' || SQLERRM, 'geometry');
    END;
    IF ST_NPoints(g) < 2 OR ST_Length(g) = 0 THEN
        PERFORM corridor.fail(422, 'geometry_invalid',
                              'the LineString needs at least two distinct points', 'geometry');
    END IF;
    IF ST_XMin(g) < -180 OR ST_XMax(g) > 180 OR ST_YMin(g) < -90 OR ST_YMax(g) > 90 THEN
        PERFORM corridor.fail(422, 'geometry_invalid',
                              'coordinates must be longitude, latitude within ±180, ±90',
                              'geometry');
    END IF;
    IF ST_XMax(g) - ST_XMin(g) > 180 THEN
        PERFORM corridor.fail(422, 'geometry_invalid',
                              'routes across the antimeridian are not supported', 'geometry');
    END IF;
    IF p -> 'corridor_m' IS NULL THEN
        PERFORM corridor.fail(422, 'corridor_m_invalid', 'corridor_m (metres) is required',
                              'corridor_m');
    END IF;
    IF corridor.json_pos(p, 'corridor_m', false) > 100000 THEN
        PERFORM corridor.fail(422, 'corridor_m_invalid', 'corridor_m must be at most 100000',
                              'corridor_m');
    END IF;
    IF p -> 'max_transit_minutes' IS NULL THEN
        PERFORM corridor.fail(422, 'max_transit_minutes_invalid',
                              'max_transit_minutes is required', 'max_transit_minutes');
    END IF;
    PERFORM corridor.json_pos(p, 'max_transit_minutes'),
            corridor.json_pos(p, 'reporting_limit_minutes'),
            corridor.json_pos(p, 'stop_minutes'), corridor.json_pos(p, 'stop_radius_m', false),
            corridor.json_pos(p, 'stop_speed_kmh', false),
            corridor.json_pos(p, 'deviation_grace_obs'),
            corridor.json_pos(p, 'max_speed_kmh', false),
            corridor.json_pos(p, 'border_post_radius_m', false);
    IF p -> 'deviation_grace_s' IS NOT NULL AND (json_typeof(p -> 'deviation_grace_s') <> 'number'
       OR (p ->> 'deviation_grace_s')::float8 < 0
       OR (p ->> 'deviation_grace_s')::float8 <> trunc((p ->> 'deviation_grace_s')::float8)) THEN
        PERFORM corridor.fail(422, 'deviation_grace_s_invalid',
                              'deviation_grace_s must be a whole number of seconds >= 0',
                              'deviation_grace_s');
    END IF;
    IF p -> 'low_battery_pct' IS NOT NULL AND (json_typeof(p -> 'low_battery_pct') <> 'number'
       OR (p ->> 'low_battery_pct')::float8 NOT BETWEEN 0 AND 100) THEN
        PERFORM corridor.fail(422, 'low_battery_pct_invalid',
                              'low_battery_pct must be between 0 and 100', 'low_battery_pct');
    END IF;
    IF p -> 'stop_allowed_kinds' IS NOT NULL THEN
        IF json_typeof(p -> 'stop_allowed_kinds') <> 'array' THEN
            PERFORM corridor.fail(422, 'stop_allowed_kinds_invalid',
                                  'stop_allowed_kinds must be an array of geofence kinds',
                                  'stop_allowed_kinds');
        END IF;
        SELECT array_agg(k) INTO kinds FROM json_array_elements_text(p -> 'stop_allowed_kinds') k;
        IF EXISTS (SELECT 1 FROM unnest(kinds) k
                   WHERE k NOT IN ('restricted', 'port', 'border_post', 'parking', 'checkpoint',
                                   'customs_office', 'anchorage')) THEN
            PERFORM corridor.fail(422, 'stop_allowed_kinds_invalid',
                                  'stop_allowed_kinds holds an unknown geofence kind',
                                  'stop_allowed_kinds');
        END IF;
    END IF;
    IF p -> 'exit_border_post_id' IS NOT NULL AND json_typeof(p -> 'exit_border_post_id') <> 'null'
       AND NOT EXISTS (SELECT 1 FROM corridor.geofences
                       WHERE id = corridor.json_pos(p, 'exit_border_post_id')::bigint
                         AND kind = 'border_post' AND deleted_at IS NULL) THEN
        PERFORM corridor.fail(422, 'exit_border_post_invalid',
                              'exit_border_post_id ' || (p ->> 'exit_border_post_id') ||
                              ' is not a border_post geofence', 'exit_border_post_id');
    END IF;
    IF p -> 'checkpoints' IS NOT NULL AND json_typeof(p -> 'checkpoints') NOT IN ('array', 'null') THEN
        PERFORM corridor.fail(422, 'checkpoints_invalid', 'checkpoints must be an array',
                              'checkpoints');
    END IF;

    INSERT INTO corridor.routes AS x (name, geom, corridor_m, max_transit_minutes,
        reporting_limit_minutes, stop_minutes, stop_radius_m, stop_speed_kmh, stop_allowed_kinds,
        deviation_grace_s, deviation_grace_obs, max_speed_kmh, low_battery_pct,
        exit_border_post_id, border_post_radius_m)
    VALUES (trim(p ->> 'name'), g, (p ->> 'corridor_m')::float8,
            (p ->> 'max_transit_minutes')::int,
            coalesce((p ->> 'reporting_limit_minutes')::int, 15),
            coalesce((p ->> 'stop_minutes')::int, 30),
            coalesce((p ->> 'stop_radius_m')::float8, 200),
            coalesce((p ->> 'stop_speed_kmh')::real, 5),
            coalesce(kinds, '{parking}'),
            coalesce((p ->> 'deviation_grace_s')::int, 60),
            coalesce((p ->> 'deviation_grace_obs')::int, 2),
            coalesce((p ->> 'max_speed_kmh')::real, 200),
            coalesce((p ->> 'low_battery_pct')::real, 20),
            (p ->> 'exit_border_post_id')::bigint,
            coalesce((p ->> 'border_post_radius_m')::float8, 5000))
    RETURNING x.* INTO r;

    FOR cp IN SELECT e FROM json_array_elements(coalesce(p -> 'checkpoints', '[]')) e LOOP
        n := n + 1;
        IF json_typeof(cp) <> 'object' OR json_typeof(cp -> 'geofence_id') IS DISTINCT FROM 'number' THEN
            PERFORM corridor.fail(422, 'checkpoint_invalid',
                                  'checkpoint ' || n || ' needs a numeric geofence_id',
                                  'checkpoints');
        END IF;
        fid := (cp ->> 'geofence_id')::bigint;
        IF NOT EXISTS (SELECT 1 FROM corridor.geofences WHERE id = fid AND deleted_at IS NULL) THEN
            PERFORM corridor.fail(422, 'checkpoint_not_found',
                                  'checkpoint ' || n || ': geofence ' || fid || ' does not exist',
                                  'checkpoints');
        END IF;
        IF cp -> 'max_leg_minutes' IS NOT NULL AND json_typeof(cp -> 'max_leg_minutes') <> 'null'
           AND (json_typeof(cp -> 'max_leg_minutes') <> 'number'
                OR (cp ->> 'max_leg_minutes')::float8 <= 0
                OR (cp ->> 'max_leg_minutes')::float8 <> trunc((cp ->> 'max_leg_minutes')::float8)) THEN
            PERFORM corridor.fail(422, 'max_leg_minutes_invalid',
                                  'checkpoint ' || n || ': max_leg_minutes must be a positive integer',
                                  'checkpoints');
        END IF;
        INSERT INTO corridor.route_checkpoints (route_id, seq, geofence_id, max_leg_minutes)
        VALUES (r.id, n, fid, (cp ->> 'max_leg_minutes')::int);
    END LOOP;
    RETURN corridor.route_json(r);
END $$;

-- ------------------------------------------------------------------------------------------
-- Routes
-- ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION corridor.route_json(r corridor.routes) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', r.id, 'name', r.name, 'geometry', ST_AsGeoJSON(r.geom)::json,
        'corridor_m', r.corridor_m, 'max_transit_minutes', r.max_transit_minutes,
        'checkpoints', coalesce((
            SELECT json_agg(json_build_object('seq', c.seq, 'geofence_id', c.geofence_id,
                                              'name', g.name, 'kind', g.kind,
                                              'max_leg_minutes', c.max_leg_minutes)
                            ORDER BY c.seq)
            FROM corridor.route_checkpoints c JOIN corridor.geofences g ON g.id = c.geofence_id
            WHERE c.route_id = r.id), '[]'),
        'reporting_limit_minutes', r.reporting_limit_minutes,
        'stop_minutes', r.stop_minutes, 'stop_radius_m', r.stop_radius_m,
        'stop_speed_kmh', r.stop_speed_kmh, 'stop_allowed_kinds', r.stop_allowed_kinds,
        'deviation_grace_s', r.deviation_grace_s, 'deviation_grace_obs', r.deviation_grace_obs,
        'max_speed_kmh', r.max_speed_kmh, 'low_battery_pct', r.low_battery_pct,
        'exit_border_post_id', r.exit_border_post_id,
        'border_post_radius_m', r.border_post_radius_m,
        'created_at', corridor.iso(r.created_at))
$$;

-- GET /api/routes: every route, newest first.
CREATE OR REPLACE FUNCTION corridor.route_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.route_json(r) ORDER BY r.id DESC), '[]')
    FROM corridor.routes r
$$;

CREATE OR REPLACE TRIGGER routes_derive BEFORE INSERT OR UPDATE ON corridor.routes
    FOR EACH ROW EXECUTE FUNCTION corridor.routes_derive();
