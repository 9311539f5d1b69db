-- 001_base: the tables every rule grows on.
-- Storage is SRID 4326; distances are computed as geography or in a metric projection.
-- Citus-compatible by design (docs/scaling.md): positions, latest and fence_state are keyed
-- by seal_id and never referenced by foreign keys; geofences and countries are small
-- reference tables.
--
-- Its functions and triggers are in schema/rules/common.sql,
-- in their current form (docs/schema.md).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE corridor.countries (
    iso2    text PRIMARY KEY,
    iso_num int NOT NULL,
    name    text NOT NULL,
    geom    geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX countries_geom ON corridor.countries USING gist (geom);

-- An e-seal or e-lock. device_id is the JT/T 808 terminal number (the OsmAnd id is id).
CREATE TABLE corridor.seals (
    id         text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    protocol   text NOT NULL CHECK (protocol IN ('osmand', 'jt808')),
    device_id  text NOT NULL UNIQUE CHECK (length(device_id) BETWEEN 1 AND 64),
    timezone   text NOT NULL DEFAULT '+08:00',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE corridor.geofences (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind       text NOT NULL CHECK (kind IN ('restricted', 'port', 'border_post', 'parking',
                                             'checkpoint', 'customs_office', 'anchorage')),
    country    text,
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
-- fillfactor 10 + buffering: 1.5x faster point-in-polygon probes (docs/performance.md)
CREATE INDEX geofences_geom ON corridor.geofences USING gist (geom)
    WITH (fillfactor = 10, buffering = on) WHERE deleted_at IS NULL;

-- Every observation, append-only, partitioned by device time (one partition a day).
-- (seal_id, ts) is unique: an exact duplicate is stored once.
CREATE TABLE corridor.positions (
    seal_id     text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    speed_kmh   real,
    bearing     real,
    altitude    real,
    accuracy    real,
    battery     real,
    lock        text,
    alarm       text,
    late        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (seal_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE corridor.positions_default PARTITION OF corridor.positions DEFAULT;

-- The newest observation of each seal: the map snapshot is one read of this table.
CREATE TABLE corridor.latest (
    seal_id    text PRIMARY KEY,
    ts         timestamptz NOT NULL,
    lat        double precision NOT NULL,
    lon        double precision NOT NULL,
    speed_kmh  real,
    bearing    real,
    battery    real,
    lock       text,
    alarm      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which fences a seal is inside now: a row exists while it is inside.
CREATE TABLE corridor.fence_state (
    seal_id    text NOT NULL,
    fence_id   bigint NOT NULL,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (seal_id, fence_id)
);

-- What the rules saw, with its evidence.
CREATE TABLE corridor.events (
    id         bigserial PRIMARY KEY,
    seal_id    text,
    mmsi       bigint,
    kind       text NOT NULL,
    fence_id   bigint,
    ts         timestamptz NOT NULL,
    lat        double precision,
    lon        double precision,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_seal_ts ON corridor.events (seal_id, ts);

-- One open incident per subject (seal or vessel) and rule; repeated events attach to it.
CREATE TABLE corridor.incidents (
    id          bigserial PRIMARY KEY,
    rule        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    status      text NOT NULL DEFAULT 'open',
    subject     text NOT NULL,
    seal_id     text,
    mmsi        bigint,
    trip_id     uuid,
    fence_id    bigint,
    opened_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    lat         double precision,
    lon         double precision,
    event_count int NOT NULL DEFAULT 1,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX incidents_one_open ON corridor.incidents (subject, rule)
    WHERE status <> 'resolved';
CREATE INDEX incidents_status ON corridor.incidents (status, opened_at);

-- Severity of each rule (the rule codes of docs/api.md and docs/rules.md).
CREATE TABLE corridor.rules (
    code     text PRIMARY KEY,
    severity text NOT NULL
);
INSERT INTO corridor.rules VALUES
    ('restricted_zone_entry', 'critical'), ('route_deviation', 'high'),
    ('checkpoint_skipped', 'high'), ('leg_overdue', 'medium'), ('transit_overdue', 'high'),
    ('unauthorised_stop', 'high'), ('signal_loss', 'high'), ('seal_opened', 'critical'),
    ('seal_tampered', 'critical'), ('low_battery', 'low'), ('impossible_movement', 'high'),
    ('undeclared_border_exit', 'critical'), ('disarm_outside_destination', 'critical'),
    ('vessel_zone_entry', 'medium'), ('ais_gap', 'high'), ('rendezvous', 'high'),
    ('destination_mismatch', 'medium'), ('dispatch_unacknowledged', 'high');
