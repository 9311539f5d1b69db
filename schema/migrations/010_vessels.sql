-- 010_vessels: vessels heard on AIS, the watchlist and the vessel rules (issue 5).
--
-- What lives here:
--   tables   vessel_settings (one row: the rule thresholds), vessels (latest state of every
--            MMSI heard), vessel_positions (history, watched vessels only), watchlist,
--            vessel_fence_state (which port/anchorage/restricted fences a vessel is in),
--            vessel_pairs (two slow vessels close together: rendezvous candidates)
--   ingest   corridor.ingest_vessels(...): one call per micro-batch of AIS messages
--            (ingest/ais_conn.c), arrays per column like corridor.ingest_batch
--   time     corridor.vessel_sweep(now): AIS gaps and destinations of new watch entries
--   API      vessel_list(bbox), vessel_get(mmsi), watchlist_add(json), watchlist_remove(id),
--            watchlist_list(): each one call, returning json or raising a precise error
--
-- Errors follow schema/004's convention: SQLSTATE 'CT404' / 'CT409' / 'CT422', MESSAGE
-- 'code: human sentence', COLUMN the offending request field (docs/vessels.md lists them).
--
-- Storage policy: a national feed hears thousands of vessels every few seconds, so only the
-- latest state of each MMSI is kept (one row, updated in place); the full position history is
-- kept only while a vessel is on the watchlist. Per-vessel tables are keyed by mmsi so they
-- co-locate under Citus; the watchlist and settings are small reference tables.
--
-- Every rule writes an event in corridor.events (mmsi set, evidence in details) and opens or
-- updates the one open incident of (subject 'mmsi:<n>', rule); severities from corridor.rules.
--
-- Its functions and triggers are in schema/rules/vessels.sql,
-- in their current form (docs/schema.md).

-- ------------------------------------------------------------------------------------------
-- Tables
-- ------------------------------------------------------------------------------------------

-- The thresholds of the vessel rules: exactly one row (docs/vessels.md, "Rules").
CREATE TABLE corridor.vessel_settings (
    id                          boolean PRIMARY KEY DEFAULT true CHECK (id),
    ais_gap_minutes             int NOT NULL DEFAULT 30 CHECK (ais_gap_minutes > 0),
    rendezvous_distance_m       float8 NOT NULL DEFAULT 500 CHECK (rendezvous_distance_m > 0),
    rendezvous_speed_kn         real NOT NULL DEFAULT 2 CHECK (rendezvous_speed_kn > 0),
    rendezvous_minutes          int NOT NULL DEFAULT 30 CHECK (rendezvous_minutes > 0),
    -- two reports at most this far apart in time count as "together"
    rendezvous_max_skew_minutes int NOT NULL DEFAULT 10 CHECK (rendezvous_max_skew_minutes > 0),
    -- 'watched': fence entries are evaluated for watched vessels only; 'all': for every vessel
    zone_scope                  text NOT NULL DEFAULT 'watched'
                                CHECK (zone_scope IN ('watched', 'all')),
    zone_kinds                  text[] NOT NULL DEFAULT '{port,anchorage,restricted}',
    -- inside these a slow pair is normal (berths, anchorages): no rendezvous
    harbour_kinds               text[] NOT NULL DEFAULT '{port,anchorage}'
);
INSERT INTO corridor.vessel_settings DEFAULT VALUES;

-- Latest state of every MMSI heard. Position fields come from the newest position report,
-- static fields (name, call sign, IMO, type, destination, ETA) from the newest message that
-- carried them. ts is the time of the position, last_seen of any message.
CREATE TABLE corridor.vessels (
    mmsi        bigint PRIMARY KEY CHECK (mmsi BETWEEN 1 AND 999999999),
    ts          timestamptz,
    lat         float8,
    lon         float8,
    geom        geometry(Point, 4326),
    sog_kn      real,
    cog         real,
    heading     int,
    nav_status  int,
    name        text,
    callsign    text,
    imo         int,
    ship_type   int,
    destination text,
    eta         timestamptz,
    draught_m   real,
    last_type   int,
    in_harbour  boolean NOT NULL DEFAULT false,
    gap_raised  boolean NOT NULL DEFAULT false,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vessels_geom ON corridor.vessels USING gist (geom);
CREATE INDEX vessels_imo ON corridor.vessels (imo) WHERE imo IS NOT NULL;

-- Position history, written only for vessels watched when the report arrived.
CREATE TABLE corridor.vessel_positions (
    mmsi        bigint NOT NULL,
    ts          timestamptz NOT NULL,
    lat         float8 NOT NULL,
    lon         float8 NOT NULL,
    sog_kn      real,
    cog         real,
    heading     int,
    nav_status  int,
    msg_type    int NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mmsi, ts)
);

-- Officers' watch entries. A vessel is watched while an entry naming its MMSI, or its IMO
-- (as the vessel reports it in message 5), has no stopped_at.
CREATE TABLE corridor.watchlist (
    id            bigserial PRIMARY KEY,
    mmsi          bigint CHECK (mmsi BETWEEN 1 AND 999999999),
    imo           int CHECK (imo BETWEEN 1000000 AND 9999999),
    declaration   text NOT NULL CHECK (length(declaration) BETWEEN 1 AND 200),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    port          text CHECK (length(port) BETWEEN 1 AND 100),
    port_fence_id bigint REFERENCES corridor.geofences (id),
    actor         text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    stopped_by    text,
    dest_checked  text, -- the AIS destination last compared with the declared port
    CHECK (mmsi IS NOT NULL OR imo IS NOT NULL)
);
CREATE INDEX watchlist_mmsi ON corridor.watchlist (mmsi) WHERE stopped_at IS NULL;
CREATE INDEX watchlist_imo ON corridor.watchlist (imo) WHERE stopped_at IS NULL;

-- Which zone fences (settings.zone_kinds) a vessel is inside: a row while it is inside.
CREATE TABLE corridor.vessel_fence_state (
    mmsi       bigint NOT NULL,
    fence_id   bigint NOT NULL,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (mmsi, fence_id)
);

-- Two slow vessels within the rendezvous distance outside harbours, a < b: since when,
-- and the newest report that still had them together.
CREATE TABLE corridor.vessel_pairs (
    a       bigint NOT NULL,
    b       bigint NOT NULL,
    since   timestamptz NOT NULL,
    last_ts timestamptz NOT NULL,
    lat     float8,
    lon     float8,
    dist_m  float8,
    raised  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (a, b)
);
CREATE INDEX vessel_pairs_b ON corridor.vessel_pairs (b);
