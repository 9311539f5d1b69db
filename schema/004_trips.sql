-- 004_trips: trips under customs control (issue 3): mission routes with a metric corridor,
-- arming and disarming, and every trip rule, evaluated in PostGIS.
--
-- What lives here:
--   tables   routes, route_checkpoints, trips, trip_state (per-seal rule state, one row per
--            armed trip, keyed by seal_id), trip_legs, checkpoint_passages, country_parts
--   API      route_create, route_list, trip_arm, trip_disarm, trip_get, trip_list,
--            trip_report: each one call, returning json or raising a precise error
--   rules    corridor.ingest_batch (replaced: everything 002 did, plus the trip rules, still
--            one statement per micro-batch) and corridor.sweep(now) for the time rules.
--
-- Errors (docs/rules.md lists every code): RAISE with SQLSTATE 'CT404' (unknown id in the
-- path), 'CT409' (refused in the current state) or 'CT422' (invalid or unknown input in the
-- body); MESSAGE is 'code: human sentence' and COLUMN names the offending request field
-- when there is one. A REST handler maps CTnnn to HTTP nnn and splits the message at ': '.
--
-- Per-seal state is keyed by seal_id so it co-locates with positions under Citus; routes,
-- checkpoints and country_parts are small reference tables.

ALTER TABLE corridor.events ADD COLUMN trip_id uuid;
CREATE INDEX events_trip ON corridor.events (trip_id, ts) WHERE trip_id IS NOT NULL;
CREATE INDEX incidents_trip ON corridor.incidents (trip_id) WHERE trip_id IS NOT NULL;

-- UTC ISO 8601 with milliseconds, as incident_json writes times.
CREATE FUNCTION corridor.iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Great-circle distance in metres (mean Earth radius). Pure arithmetic: cheap enough for
-- every fix (implied speed, stop radius); the corridor itself uses the spheroid.
CREATE FUNCTION corridor.dist_m(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2 +
        cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

-- ISO 6346 container number: 3-letter owner code, category U, J or Z, 6-digit serial and
-- the check digit (sum of character values times 2^position, mod 11, mod 10). Spaces and
-- hyphens are ignored and letters may be lower case ("csqu 305438-3" is CSQU3054383).
CREATE FUNCTION corridor.iso6346_normalise(c text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(regexp_replace(c, '[\s-]', '', 'g'))
$$;

CREATE FUNCTION corridor.iso6346_valid(c text) RETURNS boolean
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

-- Countries cut into pieces of at most 64 vertices: a point-in-country probe is one GiST
-- lookup and a small polygon test instead of a test against a 5,000-vertex border.
-- Rebuilt whenever corridor.countries changes.
CREATE TABLE corridor.country_parts (
    iso2 text NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX country_parts_geom ON corridor.country_parts USING gist (geom);

CREATE FUNCTION corridor.country_parts_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM corridor.country_parts;
    INSERT INTO corridor.country_parts (iso2, geom)
    SELECT iso2, ST_Subdivide(geom, 64) FROM corridor.countries;
    RETURN NULL;
END $$;
CREATE TRIGGER countries_parts AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.countries FOR EACH STATEMENT EXECUTE FUNCTION corridor.country_parts_rebuild();
INSERT INTO corridor.country_parts (iso2, geom)
SELECT iso2, ST_Subdivide(geom, 64) FROM corridor.countries;

CREATE FUNCTION corridor.country_at(lat float8, lon float8) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT p.iso2 FROM corridor.country_parts p
    WHERE ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(lon, lat), 4326)) LIMIT 1
$$;

-- A mission path. The thresholds of every rule are per route, with the defaults of
-- docs/rules.md. The last five columns are derived by routes_derive() for the metric
-- corridor test (see corridor.in_corridor).
CREATE TABLE corridor.routes (
    id                      bigserial PRIMARY KEY,
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    geom                    geometry(LineString, 4326) NOT NULL,
    corridor_m              float8 NOT NULL CHECK (corridor_m > 0 AND corridor_m <= 100000),
    max_transit_minutes     int NOT NULL CHECK (max_transit_minutes > 0),
    reporting_limit_minutes int NOT NULL DEFAULT 15 CHECK (reporting_limit_minutes > 0),
    stop_minutes            int NOT NULL DEFAULT 30 CHECK (stop_minutes > 0),
    stop_radius_m           float8 NOT NULL DEFAULT 200 CHECK (stop_radius_m > 0),
    stop_speed_kmh          real NOT NULL DEFAULT 5 CHECK (stop_speed_kmh > 0),
    stop_allowed_kinds      text[] NOT NULL DEFAULT '{parking}',
    deviation_grace_s       int NOT NULL DEFAULT 60 CHECK (deviation_grace_s >= 0),
    deviation_grace_obs     int NOT NULL DEFAULT 2 CHECK (deviation_grace_obs >= 1),
    max_speed_kmh           real NOT NULL DEFAULT 200 CHECK (max_speed_kmh > 0),
    low_battery_pct         real NOT NULL DEFAULT 20 CHECK (low_battery_pct BETWEEN 0 AND 100),
    exit_border_post_id     bigint REFERENCES corridor.geofences (id),
    border_post_radius_m    float8 NOT NULL DEFAULT 5000 CHECK (border_post_radius_m > 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    geog                    geography(LineString, 4326) NOT NULL,
    geom_s                  geometry NOT NULL,
    scale                   float8 NOT NULL,
    inner_deg               float8 NOT NULL,
    outer_deg               float8 NOT NULL
);

-- The metric corridor, fast and correct at any latitude (PERF.md's bracketing trick).
-- The route is densified along the great circle (a vertex every 2 km, so a planar chord
-- stays within centimetres of the geodesic edge) and its longitudes are multiplied by
-- scale = cos(mid latitude): in that frame a degree is nearly the same number of metres
-- in x and y. Over the route's latitude span (plus the corridor), metres per scaled degree
-- lie within [kmin, kmax]; so a point whose planar distance is under inner_deg =
-- (w - slack) / kmax is surely inside, over outer_deg = (w + slack) / kmin surely outside,
-- and only the thin band between needs the exact spheroidal ST_DWithin.
CREATE FUNCTION corridor.routes_derive() RETURNS trigger
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
CREATE TRIGGER routes_derive BEFORE INSERT OR UPDATE ON corridor.routes
    FOR EACH ROW EXECUTE FUNCTION corridor.routes_derive();

-- Inside the route's metric corridor? Inlined into the batch statement.
CREATE FUNCTION corridor.in_corridor(geom_s geometry, scale float8, inner_deg float8,
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

-- Ordered logistic nodes of a route; max_leg_minutes bounds the leg that ends here.
CREATE TABLE corridor.route_checkpoints (
    route_id        bigint NOT NULL REFERENCES corridor.routes (id) ON DELETE CASCADE,
    seq             int NOT NULL CHECK (seq >= 1),
    geofence_id     bigint NOT NULL REFERENCES corridor.geofences (id),
    max_leg_minutes int CHECK (max_leg_minutes > 0),
    PRIMARY KEY (route_id, seq)
);
CREATE INDEX route_checkpoints_fence ON corridor.route_checkpoints (geofence_id);

CREATE TABLE corridor.trips (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seal_id             text NOT NULL,
    route_id            bigint NOT NULL REFERENCES corridor.routes (id),
    origin_id           bigint NOT NULL,
    destination_id      bigint NOT NULL,
    plate               text NOT NULL,
    container           text NOT NULL,
    declaration         text NOT NULL,
    status              text NOT NULL DEFAULT 'armed' CHECK (status IN ('armed', 'disarmed')),
    armed_at            timestamptz NOT NULL,
    deadline            timestamptz NOT NULL,
    disarmed_at         timestamptz,
    exit_border_post_id bigint,
    origin_country      text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- A seal carries at most one armed trip; concurrent arming loses on this index.
CREATE UNIQUE INDEX trips_one_armed ON corridor.trips (seal_id) WHERE status = 'armed';
CREATE INDEX trips_seal ON corridor.trips (seal_id, armed_at);

-- The state of the stateful rules, one row per armed trip, keyed by the seal. Written only
-- by ingest_batch (under the seal's advisory lock), the sweep (optimistically, see there),
-- trip_arm and trip_disarm.
CREATE TABLE corridor.trip_state (
    seal_id         text PRIMARY KEY,
    trip_id         uuid NOT NULL UNIQUE,
    route_id        bigint NOT NULL,
    origin_id       bigint NOT NULL,
    destination_id  bigint NOT NULL,
    exit_post_id    bigint,              -- declared exit border post (trip, else route)
    origin_country  text,
    armed_at        timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    last_ts         timestamptz,         -- last evaluated fix (implied speed)
    last_lat        float8,
    last_lon        float8,
    out_since       timestamptz,         -- start of the current run outside the corridor
    out_count       int NOT NULL DEFAULT 0,
    deviating       boolean NOT NULL DEFAULT false,
    stop_lat        float8,              -- stationary anchor
    stop_lon        float8,
    stop_since      timestamptz,
    stop_ok         boolean NOT NULL DEFAULT false,  -- last fix in an authorised place
    stop_raised     boolean NOT NULL DEFAULT false,
    next_seq        int NOT NULL DEFAULT 1,          -- next checkpoint expected
    leg_started_at  timestamptz NOT NULL,
    leg_overdue_seq int NOT NULL DEFAULT 0,          -- last leg reported overdue
    skipped         int[] NOT NULL DEFAULT '{}',     -- checkpoints skipped, not yet passed
    country         text,
    sealopen        boolean NOT NULL DEFAULT false,
    tampered        boolean NOT NULL DEFAULT false,
    lowbatt         boolean NOT NULL DEFAULT false,
    signal_lost     boolean NOT NULL DEFAULT false,
    transit_overdue boolean NOT NULL DEFAULT false,
    arrived_at      timestamptz
);

-- A trip's stay in one country. Border posts are the nearest border_post geofences to the
-- crossing (the segment between the last fix before and the first fix after).
CREATE TABLE corridor.trip_legs (
    id                   bigserial PRIMARY KEY,
    trip_id              uuid NOT NULL,
    seal_id              text NOT NULL,
    country              text,
    entered_at           timestamptz NOT NULL,
    entry_post_id        bigint,
    entry_post_distance_m float8,
    entry_lat            float8,
    entry_lon            float8,
    exited_at            timestamptz
);
CREATE INDEX trip_legs_trip ON corridor.trip_legs (trip_id, entered_at);

CREATE TABLE corridor.checkpoint_passages (
    trip_id     uuid NOT NULL,
    seal_id     text NOT NULL,
    seq         int NOT NULL,
    geofence_id bigint NOT NULL,
    passed_at   timestamptz NOT NULL,
    lat         float8,
    lon         float8,
    in_order    boolean NOT NULL,
    PRIMARY KEY (trip_id, seq)
);

-- Raises the API error: SQLSTATE 'CT' || http, MESSAGE 'code: detail', COLUMN field.
CREATE FUNCTION corridor.fail(http int, code text, detail text, field text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT' || http::text, MESSAGE = code || ': ' || detail,
                          COLUMN = coalesce(field, '');
END $$;

-- ------------------------------------------------------------------------------------------
-- Routes
-- ------------------------------------------------------------------------------------------

CREATE FUNCTION corridor.route_json(r corridor.routes) RETURNS json
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

-- A positive number from a json member, or NULL when absent; raises when not one.
CREATE FUNCTION corridor.json_pos(p json, key text, integral boolean DEFAULT true)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    v json := p -> key;
    x float8;
BEGIN
    IF v IS NULL OR json_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF json_typeof(v) <> 'number' THEN
        PERFORM corridor.fail(422, key || '_invalid', key || ' must be a number', key);
    END IF;
    x := v::text::float8;
    IF x <= 0 OR (integral AND x <> trunc(x)) OR x > 2147483647 THEN
        PERFORM corridor.fail(422, key || '_invalid',
                              key || ' must be a positive ' ||
                              CASE WHEN integral THEN 'integer' ELSE 'number' END ||
                              ', got ' || v::text, key);
    END IF;
    RETURN x;
END $$;

-- POST /api/routes. Body: {"name", "geometry": GeoJSON LineString, "corridor_m",
-- "max_transit_minutes", "checkpoints": [{"geofence_id", "max_leg_minutes"}], and the
-- optional thresholds of docs/rules.md}. Returns route_json of the new route.
CREATE FUNCTION corridor.route_create(p json) RETURNS json
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

-- GET /api/routes: every route, newest first.
CREATE FUNCTION corridor.route_list() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.route_json(r) ORDER BY r.id DESC), '[]')
    FROM corridor.routes r
$$;

-- ------------------------------------------------------------------------------------------
-- Arming and disarming
-- ------------------------------------------------------------------------------------------

CREATE FUNCTION corridor.trip_json(t corridor.trips) RETURNS json
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

-- An event with its evidence, for the API.
CREATE FUNCTION corridor.event_json(e corridor.events) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', e.id, 'kind', e.kind, 'time', corridor.iso(e.ts),
                             'lat', e.lat, 'lon', e.lon, 'fence_id', e.fence_id,
                             'details', e.details)
$$;

-- POST /api/trips. Body per SPEC.md: {"seal_id", "route_id", "origin_id", "destination_id",
-- "conveyance": {"plate", "container"}, "declaration"} and optionally
-- "exit_border_post_id" (overrides the route's declared exit). p_at is the arming time.
-- Returns trip_json (201); every refusal raises one code of docs/rules.md.
CREATE FUNCTION corridor.trip_arm(p json, p_at timestamptz DEFAULT now()) RETURNS json
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
CREATE FUNCTION corridor.trip_disarm(p_trip uuid, p_at timestamptz DEFAULT now()) RETURNS json
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

-- ------------------------------------------------------------------------------------------
-- Officer views and reconciliation
-- ------------------------------------------------------------------------------------------

CREATE FUNCTION corridor.trip_legs_json(p_trip uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
        'country', l.country, 'entered_at', corridor.iso(l.entered_at),
        'exited_at', corridor.iso(l.exited_at), 'border_post_id', l.entry_post_id,
        'border_post', g.name, 'border_post_distance_m', round(l.entry_post_distance_m::numeric, 1),
        'lat', l.entry_lat, 'lon', l.entry_lon) ORDER BY l.entered_at, l.id), '[]')
    FROM corridor.trip_legs l LEFT JOIN corridor.geofences g ON g.id = l.entry_post_id
    WHERE l.trip_id = p_trip
$$;

CREATE FUNCTION corridor.trip_checkpoints_json(t corridor.trips) RETURNS json
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

CREATE FUNCTION corridor.trip_events_json(t corridor.trips) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.event_json(e) ORDER BY e.ts, e.id), '[]')
    FROM corridor.events e
    WHERE e.seal_id = t.seal_id AND e.trip_id = t.id
$$;

CREATE FUNCTION corridor.trip_incidents_json(p_trip uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.incident_json(n)::json ORDER BY n.opened_at, n.id), '[]')
    FROM corridor.incidents n WHERE n.trip_id = p_trip
$$;

-- GET /api/trips/{id}: the trip, its route with the corridor polygon, the track as a GeoJSON
-- LineString (null under two fixes), events, checkpoints with passage times, legs,
-- incidents and the latest position. Raises CT404 trip_not_found.
CREATE FUNCTION corridor.trip_get(p_trip uuid) RETURNS json
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

-- GET /api/trips: armed trips, each with its latest position and count of open incidents.
CREATE FUNCTION corridor.trip_list() RETURNS json
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
CREATE FUNCTION corridor.trip_report(p_trip uuid, p_min_stop_minutes int DEFAULT 5) RETURNS json
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
