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
--
-- Its functions and triggers are in schema/rules/trips.sql, routes.sql and fences.sql,
-- in their current form (docs/schema.md).

ALTER TABLE corridor.events ADD COLUMN trip_id uuid;
CREATE INDEX events_trip ON corridor.events (trip_id, ts) WHERE trip_id IS NOT NULL;
CREATE INDEX incidents_trip ON corridor.incidents (trip_id) WHERE trip_id IS NOT NULL;

-- Countries cut into pieces of at most 64 vertices: a point-in-country probe is one GiST
-- lookup and a small polygon test instead of a test against a 5,000-vertex border.
-- Rebuilt whenever corridor.countries changes.
CREATE TABLE corridor.country_parts (
    iso2 text NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX country_parts_geom ON corridor.country_parts USING gist (geom);
INSERT INTO corridor.country_parts (iso2, geom)
SELECT iso2, ST_Subdivide(geom, 64) FROM corridor.countries;

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
