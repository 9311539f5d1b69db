-- rules/vessels.sql: AIS vessels, the watchlist and its rules.
-- ingest_vessels stores a batch of decoded AIS reports (positions, static data) and runs
-- the vessel rules: a watched vessel entering or leaving a port or anchorage fence, a
-- rendezvous of two vessels at sea, an AIS gap (vessel_sweep), a destination that does not
-- match the declared port (vessel_dest_rule). The watchlist ties a vessel (MMSI or IMO) to
-- a declaration.
-- Reads: vessels, vessel_settings, watchlist, geofences, rules. Writes: vessels,
-- vessel_positions, vessel_fence_state, vessel_pairs, watchlist, events, incidents.

-- ------------------------------------------------------------------------------------------
-- Helpers
-- ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION corridor.vessel_iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- GET /api/watchlist: the active entries (p_all: the stopped ones too), newest first.
CREATE OR REPLACE FUNCTION corridor.watchlist_list(p_all boolean DEFAULT false) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.watchlist_json(w) ORDER BY w.id DESC), '[]')
    FROM corridor.watchlist w WHERE p_all OR w.stopped_at IS NULL
$$;

-- Raises the API error: SQLSTATE 'CT' || http, MESSAGE 'code: detail', COLUMN field.
CREATE OR REPLACE FUNCTION corridor.vessel_fail(http int, code text, detail text, field text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT' || http::text, MESSAGE = code || ': ' || detail,
                          COLUMN = coalesce(field, '');
END $$;

-- Great-circle distance in metres (mean Earth radius).
CREATE OR REPLACE FUNCTION corridor.vessel_dist_m(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2 +
        cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

CREATE OR REPLACE FUNCTION corridor.vessel_watched(p_mmsi bigint, p_imo int) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM corridor.watchlist w
                   WHERE w.stopped_at IS NULL
                     AND (w.mmsi = p_mmsi OR (p_imo IS NOT NULL AND w.imo = p_imo)))
$$;

-- IMO ship identification number: 7 digits, the last is the sum of the first six weighted
-- 7..2, mod 10.
CREATE OR REPLACE FUNCTION corridor.imo_valid(n bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT n BETWEEN 1000000 AND 9999999 AND
           ((n / 1000000) * 7 + (n / 100000 % 10) * 6 + (n / 10000 % 10) * 5 +
            (n / 1000 % 10) * 4 + (n / 100 % 10) * 3 + (n / 10 % 10) * 2) % 10 = n % 10
$$;

CREATE OR REPLACE FUNCTION corridor.vessel_event(p_kind text, p_mmsi bigint, p_ts timestamptz,
                                      p_lat float8, p_lon float8, p_fence bigint,
                                      p_details jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO corridor.events (mmsi, kind, fence_id, ts, lat, lon, details)
    VALUES (p_mmsi, p_kind, p_fence, p_ts, p_lat, p_lon, p_details)
$$;

CREATE OR REPLACE FUNCTION corridor.watchlist_json(w corridor.watchlist) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', w.id, 'mmsi', w.mmsi, 'imo', w.imo, 'declaration', w.declaration,
        'reason', w.reason, 'port', w.port, 'port_fence_id', w.port_fence_id,
        'actor', w.actor, 'started_at', corridor.vessel_iso(w.started_at),
        'stopped_at', corridor.vessel_iso(w.stopped_at), 'stopped_by', w.stopped_by,
        'active', w.stopped_at IS NULL)
$$;

-- Does an AIS destination name the declared port? Both are upper-cased and stripped to
-- letters and digits; of a route "SGSIN>KEMBA" only the part after the last '>' counts. They
-- match when one contains the other (destinations of at least 3 characters), so "MOMBASA",
-- "MOMBASA KENYA" and "KE MBA" (UN/LOCODE with a space) match "Mombasa" or "KEMBA".
CREATE OR REPLACE FUNCTION corridor.vessel_port_matches(dest text, names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    WITH d AS (SELECT regexp_replace(upper(regexp_replace(dest, '^.*>', '')), '[^A-Z0-9]', '',
                                     'g') AS v)
    SELECT EXISTS (
        SELECT 1 FROM d, unnest(names) n0,
             LATERAL (SELECT regexp_replace(upper(n0), '[^A-Z0-9]', '', 'g') AS v) n
        WHERE n.v <> '' AND length(d.v) >= 3
          AND (position(n.v IN d.v) > 0 OR position(d.v IN n.v) > 0))
$$;

-- A vessel as the API, the websocket ("type":"vessel") and the map show it.
CREATE OR REPLACE FUNCTION corridor.vessel_json(v corridor.vessels) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'type', 'vessel', 'mmsi', v.mmsi, 'name', v.name, 'callsign', v.callsign,
        'imo', v.imo, 'ship_type', v.ship_type, 'destination', v.destination,
        'eta', corridor.vessel_iso(v.eta), 'draught_m', v.draught_m,
        'time', corridor.vessel_iso(v.ts), 'lat', v.lat, 'lon', v.lon,
        'sog_kn', v.sog_kn, 'cog', v.cog, 'heading', v.heading, 'nav_status', v.nav_status,
        'last_seen', corridor.vessel_iso(v.last_seen), 'in_harbour', v.in_harbour,
        'watched', corridor.vessel_watched(v.mmsi, v.imo))::text
$$;

-- Opens the incident of (mmsi, rule), or counts one more event on the open one.
CREATE OR REPLACE FUNCTION corridor.vessel_incident(p_rule text, p_mmsi bigint, p_ts timestamptz,
                                         p_lat float8, p_lon float8, p_fence bigint,
                                         p_details jsonb)
RETURNS corridor.incidents LANGUAGE sql AS $$
    INSERT INTO corridor.incidents AS n (rule, severity, subject, mmsi, fence_id, opened_at,
                                         lat, lon, details)
    SELECT p_rule, coalesce(r.severity, 'medium'), 'mmsi:' || p_mmsi, p_mmsi, p_fence, p_ts,
           p_lat, p_lon, p_details
    FROM (SELECT 1) one LEFT JOIN corridor.rules r ON r.code = p_rule
    ON CONFLICT (subject, rule) WHERE status <> 'resolved'
    DO UPDATE SET event_count = n.event_count + 1, updated_at = now()
    RETURNING n.*
$$;

-- DELETE /api/watchlist/{id}: stops the entry (kept, with stopped_at, for the audit trail).
-- Raises CT404 watch_not_found, CT409 watch_stopped.
CREATE OR REPLACE FUNCTION corridor.watchlist_remove(p_id bigint, p_actor text DEFAULT NULL) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    w corridor.watchlist;
BEGIN
    SELECT * INTO w FROM corridor.watchlist WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM corridor.vessel_fail(404, 'watch_not_found', 'no watch entry ' || p_id, 'id');
    END IF;
    IF w.stopped_at IS NOT NULL THEN
        PERFORM corridor.vessel_fail(409, 'watch_stopped',
            'watch entry ' || p_id || ' was stopped at ' || corridor.vessel_iso(w.stopped_at));
    END IF;
    UPDATE corridor.watchlist SET stopped_at = now(), stopped_by = p_actor WHERE id = p_id
    RETURNING * INTO w;
    RETURN corridor.watchlist_json(w);
END $$;

-- ------------------------------------------------------------------------------------------
-- API
-- ------------------------------------------------------------------------------------------

-- GET /api/vessels[?bbox=min_lon,min_lat,max_lon,max_lat][&since=ISO8601]: array of vessel
-- objects (as the websocket's "vessel" messages), watched first, then by MMSI. p_bbox NULL:
-- every vessel (those without a position too); p_since: only vessels heard since then (the
-- websocket snapshot passes now() - 1 hour so a national feed's history stays out).
CREATE OR REPLACE FUNCTION corridor.vessel_list(p_bbox float8[] DEFAULT NULL,
                                     p_since timestamptz DEFAULT NULL) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_bbox IS NOT NULL AND (array_length(p_bbox, 1) IS DISTINCT FROM 4
        OR p_bbox[1] > p_bbox[3] OR p_bbox[2] > p_bbox[4]
        OR p_bbox[2] < -90 OR p_bbox[4] > 90 OR p_bbox[1] < -180 OR p_bbox[3] > 180) THEN
        PERFORM corridor.vessel_fail(422, 'invalid_bbox',
            'bbox must be min_lon,min_lat,max_lon,max_lat within -180..180 and -90..90', 'bbox');
    END IF;
    RETURN (
        SELECT coalesce(json_agg(x.j::json ORDER BY x.w DESC, x.mmsi), '[]')
        FROM (SELECT v.mmsi, corridor.vessel_json(v) AS j,
                     corridor.vessel_watched(v.mmsi, v.imo) AS w
              FROM corridor.vessels v
              WHERE (p_bbox IS NULL
                     OR v.geom && ST_MakeEnvelope(p_bbox[1], p_bbox[2], p_bbox[3], p_bbox[4], 4326))
                AND (p_since IS NULL OR v.last_seen >= p_since)) x);
END $$;

-- GET /api/vessels/{mmsi}: the vessel, its track since p_since (GeoJSON LineString of the
-- stored history, null under two fixes), its watch entries and its open incidents.
-- Raises CT404 vessel_not_found.
CREATE OR REPLACE FUNCTION corridor.vessel_get(p_mmsi bigint, p_since timestamptz DEFAULT now() - interval '24 hours')
RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
    v corridor.vessels;
BEGIN
    SELECT * INTO v FROM corridor.vessels WHERE mmsi = p_mmsi;
    IF NOT FOUND THEN
        PERFORM corridor.vessel_fail(404, 'vessel_not_found', 'no vessel with MMSI ' || p_mmsi
                                     || ' has been heard', 'mmsi');
    END IF;
    RETURN (corridor.vessel_json(v)::jsonb || jsonb_build_object(
        'track', (SELECT CASE WHEN count(*) >= 2 THEN
                      ST_AsGeoJSON(ST_MakeLine(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)
                                               ORDER BY p.ts))::jsonb END
                  FROM corridor.vessel_positions p WHERE p.mmsi = v.mmsi AND p.ts >= p_since),
        'watch', (SELECT coalesce(jsonb_agg(corridor.watchlist_json(w)::jsonb ORDER BY w.id), '[]')
                  FROM corridor.watchlist w
                  WHERE w.mmsi = v.mmsi OR (v.imo IS NOT NULL AND w.imo = v.imo)),
        'incidents', (SELECT coalesce(jsonb_agg(corridor.incident_json(n)::jsonb ORDER BY n.id), '[]')
                      FROM corridor.incidents n
                      WHERE n.subject = 'mmsi:' || v.mmsi AND n.status <> 'resolved')))::json;
END $$;

-- AIS ETA "MM-DDTHH:MMZ" (UTC, no year) as the first such time not more than 180 days before
-- ts; NULL when any part is "not available" (month 0, day 0, hour 24, minute 60).
CREATE OR REPLACE FUNCTION corridor.vessel_eta(eta text, ts timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    mo int; d int; h int; mi int; y int; t timestamptz;
BEGIN
    IF eta IS NULL OR eta !~ '^\d\d-\d\dT\d\d:\d\dZ$' THEN
        RETURN NULL;
    END IF;
    mo := substr(eta, 1, 2)::int; d := substr(eta, 4, 2)::int;
    h := substr(eta, 7, 2)::int; mi := substr(eta, 10, 2)::int;
    IF mo NOT BETWEEN 1 AND 12 OR d NOT BETWEEN 1 AND 31 OR h > 23 OR mi > 59 THEN
        RETURN NULL;
    END IF;
    y := extract(year FROM ts AT TIME ZONE 'UTC')::int;
    BEGIN
        t := make_timestamptz(y, mo, d, h, mi, 0, 'UTC');
        IF t < ts - interval '180 days' THEN
            t := make_timestamptz(y + 1, mo, d, h, mi, 0, 'UTC');
        END IF;
    EXCEPTION WHEN datetime_field_overflow THEN
        RETURN NULL; -- 02-30 and the like
    END;
    RETURN t;
END $$;

-- Time rules, called by the sweeper with the time to judge by (tests pass future times):
--   ais_gap: a watched vessel heard before, silent longer than ais_gap_minutes (once per
--            silence: the next message re-arms it),
--   destination_mismatch for entries added since the vessel's last message,
--   forgets rendezvous pairs not seen together for rendezvous_minutes.
-- Returns rows as corridor.ingest_vessels does.
CREATE OR REPLACE FUNCTION corridor.vessel_sweep(p_now timestamptz)
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s corridor.vessel_settings;
    v record;
    n corridor.incidents;
BEGIN
    SELECT * INTO s FROM corridor.vessel_settings;
    FOR v IN
        SELECT x.* FROM corridor.vessels x
        WHERE NOT x.gap_raised
          AND x.last_seen < p_now - make_interval(mins => s.ais_gap_minutes)
          AND corridor.vessel_watched(x.mmsi, x.imo)
        ORDER BY x.mmsi
        FOR UPDATE
    LOOP
        UPDATE corridor.vessels SET gap_raised = true WHERE mmsi = v.mmsi;
        PERFORM corridor.vessel_event('ais_gap', v.mmsi, p_now, v.lat, v.lon, NULL,
            jsonb_build_object('last_seen', corridor.vessel_iso(v.last_seen),
                'last_position_at', corridor.vessel_iso(v.ts),
                'silent_minutes', floor(extract(epoch FROM p_now - v.last_seen) / 60),
                'threshold_minutes', s.ais_gap_minutes, 'sog_kn', v.sog_kn, 'cog', v.cog));
        n := corridor.vessel_incident('ais_gap', v.mmsi, p_now, v.lat, v.lon, NULL,
            jsonb_build_object('last_seen', corridor.vessel_iso(v.last_seen),
                               'threshold_minutes', s.ais_gap_minutes));
        kind := 'incident'; idx := NULL; body := corridor.incident_json(n);
        RETURN NEXT;
    END LOOP;
    RETURN QUERY SELECT * FROM corridor.vessel_dest_rule(NULL);
    DELETE FROM corridor.vessel_pairs
    WHERE last_ts < p_now - make_interval(mins => s.rendezvous_minutes);
END $$;

-- ------------------------------------------------------------------------------------------
-- Rules
-- ------------------------------------------------------------------------------------------

-- destination_mismatch: for active watch entries with a declared port (port name or UN/LOCODE,
-- and/or a port geofence whose name counts too) whose vessel reports a destination not yet
-- compared (a new entry, or a changed destination), compares once. p_mmsi NULL: every vessel.
CREATE OR REPLACE FUNCTION corridor.vessel_dest_rule(p_mmsi bigint[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    x record;
    n corridor.incidents;
BEGIN
    FOR x IN
        SELECT w.id AS wid, w.port, w.declaration, g.name AS fence_name, v.mmsi, v.destination,
               v.ts, v.lat, v.lon, v.last_seen
        FROM corridor.watchlist w
        JOIN corridor.vessels v ON v.mmsi = w.mmsi OR (w.imo IS NOT NULL AND v.imo = w.imo)
        LEFT JOIN corridor.geofences g ON g.id = w.port_fence_id
        WHERE w.stopped_at IS NULL AND (w.port IS NOT NULL OR w.port_fence_id IS NOT NULL)
          AND coalesce(v.destination, '') <> ''
          AND v.destination IS DISTINCT FROM w.dest_checked
          AND (p_mmsi IS NULL OR v.mmsi = ANY (p_mmsi))
        ORDER BY w.id
        FOR UPDATE OF w
    LOOP
        UPDATE corridor.watchlist SET dest_checked = x.destination WHERE id = x.wid;
        IF NOT corridor.vessel_port_matches(x.destination, ARRAY[x.port, x.fence_name]) THEN
            PERFORM corridor.vessel_event('destination_mismatch', x.mmsi, x.last_seen, x.lat,
                x.lon, NULL, jsonb_build_object('watch_id', x.wid, 'declaration', x.declaration,
                    'declared_port', x.port, 'port_fence', x.fence_name,
                    'ais_destination', x.destination));
            n := corridor.vessel_incident('destination_mismatch', x.mmsi, x.last_seen, x.lat,
                x.lon, NULL, jsonb_build_object('watch_id', x.wid, 'declared_port',
                    coalesce(x.port, x.fence_name), 'ais_destination', x.destination));
            kind := 'incident'; idx := NULL; body := corridor.incident_json(n);
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- POST /api/watchlist: {"mmsi": N} or {"imo": N}, "declaration", "reason", optional "port"
-- (declared port of discharge, a name or UN/LOCODE), "port_fence_id" (a port geofence) and
-- "actor". Returns the entry (answer 201). Errors (CT422 unless said):
--   invalid_body, mmsi_or_imo_required, invalid_mmsi, invalid_imo, declaration_required,
--   reason_required, invalid_port, unknown_port_fence, CT409 already_watched.
CREATE OR REPLACE FUNCTION corridor.watchlist_add(p jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    m bigint;
    o bigint;
    w corridor.watchlist;
BEGIN
    IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
        PERFORM corridor.vessel_fail(422, 'invalid_body', 'the body must be a JSON object');
    END IF;
    IF p->'mmsi' IS NOT NULL AND jsonb_typeof(p->'mmsi') <> 'null' THEN
        IF jsonb_typeof(p->'mmsi') <> 'number' OR (p->>'mmsi') !~ '^\d{1,9}$'
           OR (p->>'mmsi')::bigint < 1 THEN
            PERFORM corridor.vessel_fail(422, 'invalid_mmsi',
                'mmsi must be an integer from 1 to 999999999', 'mmsi');
        END IF;
        m := (p->>'mmsi')::bigint;
    END IF;
    IF p->'imo' IS NOT NULL AND jsonb_typeof(p->'imo') <> 'null' THEN
        IF jsonb_typeof(p->'imo') <> 'number' OR (p->>'imo') !~ '^\d{7}$'
           OR NOT corridor.imo_valid((p->>'imo')::bigint) THEN
            PERFORM corridor.vessel_fail(422, 'invalid_imo',
                'imo must be a 7-digit IMO number with a valid check digit', 'imo');
        END IF;
        o := (p->>'imo')::bigint;
    END IF;
    IF m IS NULL AND o IS NULL THEN
        PERFORM corridor.vessel_fail(422, 'mmsi_or_imo_required',
            'give the vessel''s mmsi or imo', 'mmsi');
    END IF;
    IF jsonb_typeof(p->'declaration') IS DISTINCT FROM 'string'
       OR length(btrim(p->>'declaration')) NOT BETWEEN 1 AND 200 THEN
        PERFORM corridor.vessel_fail(422, 'declaration_required',
            'declaration must be a customs declaration reference of 1 to 200 characters',
            'declaration');
    END IF;
    IF jsonb_typeof(p->'reason') IS DISTINCT FROM 'string'
       OR length(btrim(p->>'reason')) NOT BETWEEN 1 AND 1000 THEN
        PERFORM corridor.vessel_fail(422, 'reason_required',
            'reason must say why the vessel is watched (1 to 1000 characters)', 'reason');
    END IF;
    IF p ? 'port' AND jsonb_typeof(p->'port') <> 'null' AND (jsonb_typeof(p->'port') <> 'string'
       OR length(btrim(p->>'port')) NOT BETWEEN 1 AND 100) THEN
        PERFORM corridor.vessel_fail(422, 'invalid_port',
            'port must be the declared port''s name or UN/LOCODE (1 to 100 characters)', 'port');
    END IF;
    IF p ? 'port_fence_id' AND jsonb_typeof(p->'port_fence_id') <> 'null' AND (
           jsonb_typeof(p->'port_fence_id') <> 'number' OR (p->>'port_fence_id') !~ '^\d{1,18}$'
           OR NOT EXISTS (SELECT 1 FROM corridor.geofences g
                          WHERE g.id = (p->>'port_fence_id')::bigint AND g.deleted_at IS NULL
                            AND g.kind IN ('port', 'anchorage'))) THEN
        PERFORM corridor.vessel_fail(422, 'unknown_port_fence',
            'port_fence_id must name a live geofence of kind port or anchorage',
            'port_fence_id');
    END IF;
    PERFORM pg_advisory_xact_lock(1129270855, 0);
    IF EXISTS (SELECT 1 FROM corridor.watchlist x
               WHERE x.stopped_at IS NULL AND x.declaration = btrim(p->>'declaration')
                 AND (x.mmsi = m OR x.imo = o)) THEN
        PERFORM corridor.vessel_fail(409, 'already_watched',
            'this vessel is already watched for declaration ' || btrim(p->>'declaration'));
    END IF;
    INSERT INTO corridor.watchlist (mmsi, imo, declaration, reason, port, port_fence_id, actor)
    VALUES (m, o, btrim(p->>'declaration'), btrim(p->>'reason'), nullif(btrim(p->>'port'), ''),
            (p->>'port_fence_id')::bigint, p->>'actor')
    RETURNING * INTO w;
    RETURN corridor.watchlist_json(w);
END $$;

-- One call per micro-batch of AIS messages. p_ts: receive times as Unix seconds. Fields a
-- message does not carry are NULL (position, speed, course, heading not available too);
-- p_eta is "MM-DDTHH:MMZ" as AIS gives it. In one transaction it
--   - keeps the history of watched vessels (reports at an exact duplicate time once),
--   - evaluates zone entries (vessel_zone_entry) in time order, skipping late reports,
--   - advances each vessel's latest state,
--   - updates rendezvous pairs and raises 'rendezvous' for pairs together long enough,
--   - compares new destinations of watched vessels with their declared ports.
-- Returns ('vessel', NULL, json) per vessel of the batch (its new state) and ('incident', NULL, json) per
-- incident opened or updated; ('reject', i, reason) for a row refused (a bad MMSI; a position
-- that is not available, 91/181, drops the position and keeps the message).
CREATE OR REPLACE FUNCTION corridor.ingest_vessels(
    p_mmsi bigint[], p_ts float8[], p_type int[], p_lat float8[], p_lon float8[],
    p_sog real[], p_cog real[], p_heading int[], p_status int[], p_name text[],
    p_callsign text[], p_imo int[], p_shiptype int[], p_dest text[], p_eta text[],
    p_draught real[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s corridor.vessel_settings;
    watched bigint[];
    moved bigint[];
    r record;
    f record;
    n corridor.incidents;
    pt geometry;
BEGIN
    SELECT * INTO s FROM corridor.vessel_settings;
    -- two workers may carry the same vessel (UDP, several feeds): lock its bucket first,
    -- in a fixed order so that batches cannot deadlock
    PERFORM pg_advisory_xact_lock(1129270854, b)
    FROM (SELECT DISTINCT (m % 1024)::int AS b FROM unnest(p_mmsi) m WHERE m > 0 ORDER BY 1) x;

    -- the batch as a table of its own: read by several statements below (one per session,
    -- emptied at commit)
    IF to_regclass('pg_temp.vessel_batch') IS NULL THEN
        CREATE TEMP TABLE vessel_batch (
            i int, mmsi bigint, ts timestamptz, type int, lat float8, lon float8, sog real,
            cog real, heading int, status int, name text, callsign text, imo int,
            shiptype int, dest text, eta text, draught real) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM vessel_batch;
    INSERT INTO vessel_batch
    SELECT x.i, x.mmsi, to_timestamp(x.epoch), x.type,
           CASE WHEN x.lat BETWEEN -90 AND 90 AND x.lon BETWEEN -180 AND 180 THEN x.lat END,
           CASE WHEN x.lat BETWEEN -90 AND 90 AND x.lon BETWEEN -180 AND 180 THEN x.lon END,
           x.sog, x.cog, x.heading, x.status, nullif(x.name, ''), nullif(x.callsign, ''),
           nullif(x.imo, 0), nullif(x.shiptype, 0), x.dest, x.eta, x.draught
    FROM unnest(p_mmsi, p_ts, p_type, p_lat, p_lon, p_sog, p_cog, p_heading, p_status, p_name,
                p_callsign, p_imo, p_shiptype, p_dest, p_eta, p_draught)
         WITH ORDINALITY AS x(mmsi, epoch, type, lat, lon, sog, cog, heading, status, name,
                              callsign, imo, shiptype, dest, eta, draught, i)
    WHERE x.mmsi BETWEEN 1 AND 999999999 AND x.epoch IS NOT NULL;

    RETURN QUERY
    SELECT 'reject', x.i::int, 'MMSI ' || coalesce(x.m::text, 'null') || ' outside 1..999999999'
    FROM unnest(p_mmsi) WITH ORDINALITY AS x(m, i)
    WHERE x.m IS NULL OR x.m NOT BETWEEN 1 AND 999999999;

    -- watched now: by MMSI, or by IMO as this batch or the stored state reports it
    SELECT array_agg(DISTINCT b.mmsi) INTO watched
    FROM vessel_batch b LEFT JOIN corridor.vessels v USING (mmsi)
    WHERE corridor.vessel_watched(b.mmsi, coalesce(b.imo, v.imo));
    watched := coalesce(watched, '{}');

    -- history of watched vessels only
    INSERT INTO corridor.vessel_positions (mmsi, ts, lat, lon, sog_kn, cog, heading,
                                           nav_status, msg_type)
    SELECT DISTINCT ON (b.mmsi, b.ts) b.mmsi, b.ts, b.lat, b.lon, b.sog, b.cog, b.heading,
           b.status, b.type
    FROM vessel_batch b
    WHERE b.lat IS NOT NULL AND b.mmsi = ANY (watched)
    ORDER BY b.mmsi, b.ts, b.i
    ON CONFLICT DO NOTHING;

    -- zone entries and exits, in time order, for reports newer than the stored position
    FOR r IN
        SELECT b.* FROM vessel_batch b LEFT JOIN corridor.vessels v USING (mmsi)
        WHERE b.lat IS NOT NULL AND (s.zone_scope = 'all' OR b.mmsi = ANY (watched))
          AND (v.ts IS NULL OR b.ts > v.ts)
        ORDER BY b.mmsi, b.ts, b.i
    LOOP
        pt := ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326);
        FOR f IN
            DELETE FROM corridor.vessel_fence_state fs
            WHERE fs.mmsi = r.mmsi AND NOT EXISTS (
                SELECT 1 FROM corridor.geofences g
                WHERE g.id = fs.fence_id AND g.deleted_at IS NULL AND ST_Intersects(g.geom, pt))
            RETURNING fs.fence_id
        LOOP
            PERFORM corridor.vessel_event('vessel_zone_exit', r.mmsi, r.ts, r.lat, r.lon,
                f.fence_id, jsonb_build_object('sog_kn', r.sog));
        END LOOP;
        FOR f IN
            WITH ins AS (
                INSERT INTO corridor.vessel_fence_state AS fs (mmsi, fence_id, entered_at)
                SELECT r.mmsi, g.id, r.ts FROM corridor.geofences g
                WHERE g.deleted_at IS NULL AND g.kind = ANY (s.zone_kinds)
                  AND ST_Intersects(g.geom, pt)
                ON CONFLICT DO NOTHING
                RETURNING fs.fence_id)
            SELECT g.id, g.name, g.kind FROM ins JOIN corridor.geofences g ON g.id = ins.fence_id
            ORDER BY g.id
        LOOP
            PERFORM corridor.vessel_event('vessel_zone_entry', r.mmsi, r.ts, r.lat, r.lon, f.id,
                jsonb_build_object('fence', f.name, 'fence_kind', f.kind, 'sog_kn', r.sog,
                                   'cog', r.cog, 'watched', r.mmsi = ANY (watched)));
            n := corridor.vessel_incident('vessel_zone_entry', r.mmsi, r.ts, r.lat, r.lon, f.id,
                jsonb_build_object('fence', f.name, 'fence_kind', f.kind, 'fence_id', f.id));
            kind := 'incident'; idx := NULL; body := corridor.incident_json(n);
            RETURN NEXT;
        END LOOP;
    END LOOP;

    -- latest state: position from the newest position report, static fields from the newest
    -- message carrying each
    WITH agg AS (
        SELECT b.mmsi, min(b.ts) AS first_seen, max(b.ts) AS last_seen,
               (array_agg(b.type ORDER BY b.ts DESC, b.i DESC))[1] AS last_type,
               (array_agg(b.ts ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS ts,
               (array_agg(b.lat ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS lat,
               (array_agg(b.lon ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS lon,
               (array_agg(b.sog ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS sog,
               (array_agg(b.cog ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS cog,
               (array_agg(b.heading ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS heading,
               (array_agg(b.status ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.lat IS NOT NULL))[1] AS status,
               (array_agg(b.name ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.name IS NOT NULL))[1] AS name,
               (array_agg(b.callsign ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.callsign IS NOT NULL))[1] AS callsign,
               (array_agg(b.imo ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.imo IS NOT NULL))[1] AS imo,
               (array_agg(b.shiptype ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.shiptype IS NOT NULL))[1] AS shiptype,
               (array_agg(b.dest ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.dest IS NOT NULL))[1] AS dest,
               (array_agg(b.eta ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.dest IS NOT NULL))[1] AS eta,
               (array_agg(b.draught ORDER BY b.ts DESC, b.i DESC) FILTER (WHERE b.dest IS NOT NULL))[1] AS draught
        FROM vessel_batch b GROUP BY b.mmsi
    ),
    up AS (
        INSERT INTO corridor.vessels AS v (mmsi, ts, lat, lon, geom, sog_kn, cog, heading,
            nav_status, name, callsign, imo, ship_type, destination, eta, draught_m, last_type,
            in_harbour, first_seen, last_seen)
        SELECT a.mmsi, a.ts, a.lat, a.lon, ST_SetSRID(ST_MakePoint(a.lon, a.lat), 4326), a.sog,
               a.cog, a.heading, a.status, a.name, a.callsign, a.imo, a.shiptype, a.dest,
               corridor.vessel_eta(a.eta, a.last_seen), a.draught, a.last_type,
               a.lat IS NOT NULL AND EXISTS (
                   SELECT 1 FROM corridor.geofences g
                   WHERE g.deleted_at IS NULL AND g.kind = ANY (s.harbour_kinds)
                     AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(a.lon, a.lat), 4326))),
               a.first_seen, a.last_seen
        FROM agg a
        ON CONFLICT (mmsi) DO UPDATE SET
            ts = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.ts ELSE v.ts END,
            lat = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.lat ELSE v.lat END,
            lon = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.lon ELSE v.lon END,
            geom = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.geom ELSE v.geom END,
            sog_kn = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.sog_kn ELSE v.sog_kn END,
            cog = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.cog ELSE v.cog END,
            heading = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.heading ELSE v.heading END,
            nav_status = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.nav_status ELSE v.nav_status END,
            in_harbour = CASE WHEN EXCLUDED.ts > v.ts OR v.ts IS NULL THEN EXCLUDED.in_harbour ELSE v.in_harbour END,
            name = coalesce(EXCLUDED.name, v.name),
            callsign = coalesce(EXCLUDED.callsign, v.callsign),
            imo = coalesce(EXCLUDED.imo, v.imo),
            ship_type = coalesce(EXCLUDED.ship_type, v.ship_type),
            destination = CASE WHEN EXCLUDED.destination IS NOT NULL AND EXCLUDED.last_seen >= v.last_seen
                               THEN EXCLUDED.destination ELSE v.destination END,
            eta = CASE WHEN EXCLUDED.destination IS NOT NULL AND EXCLUDED.last_seen >= v.last_seen
                       THEN EXCLUDED.eta ELSE v.eta END,
            draught_m = CASE WHEN EXCLUDED.destination IS NOT NULL AND EXCLUDED.last_seen >= v.last_seen
                             THEN EXCLUDED.draught_m ELSE v.draught_m END,
            last_type = CASE WHEN EXCLUDED.last_seen >= v.last_seen THEN EXCLUDED.last_type ELSE v.last_type END,
            last_seen = greatest(v.last_seen, EXCLUDED.last_seen),
            gap_raised = v.gap_raised AND EXCLUDED.last_seen <= v.last_seen,
            updated_at = now()
        RETURNING v.mmsi, v.ts
    )
    SELECT array_agg(up.mmsi) INTO moved FROM up JOIN agg a ON a.mmsi = up.mmsi AND a.ts = up.ts;
    moved := coalesce(moved, '{}');

    -- rendezvous: vessels whose position just advanced, against every vessel near them
    FOR r IN
        WITH cur AS (SELECT v.* FROM corridor.vessels v WHERE v.mmsi = ANY (moved)),
        cand AS (
            SELECT DISTINCT ON (least(c.mmsi, o.mmsi), greatest(c.mmsi, o.mmsi))
                   least(c.mmsi, o.mmsi) AS a, greatest(c.mmsi, o.mmsi) AS b,
                   greatest(c.ts, o.ts) AS ts, (c.lat + o.lat) / 2 AS lat,
                   (c.lon + o.lon) / 2 AS lon,
                   corridor.vessel_dist_m(c.lat, c.lon, o.lat, o.lon) AS dist_m
            FROM cur c
            JOIN corridor.vessels o
              ON o.mmsi <> c.mmsi
             AND o.geom && ST_Expand(c.geom, s.rendezvous_distance_m / 110000.0 /
                                     greatest(cos(radians(c.lat)), 0.05))
            WHERE c.sog_kn < s.rendezvous_speed_kn AND o.sog_kn < s.rendezvous_speed_kn
              AND NOT c.in_harbour AND NOT o.in_harbour
              AND abs(extract(epoch FROM c.ts - o.ts)) <= s.rendezvous_max_skew_minutes * 60
              AND corridor.vessel_dist_m(c.lat, c.lon, o.lat, o.lon) <= s.rendezvous_distance_m
              AND (corridor.vessel_watched(c.mmsi, c.imo) OR corridor.vessel_watched(o.mmsi, o.imo))
            ORDER BY least(c.mmsi, o.mmsi), greatest(c.mmsi, o.mmsi), greatest(c.ts, o.ts) DESC
        ),
        gone AS (
            DELETE FROM corridor.vessel_pairs p
            WHERE (p.a = ANY (moved) OR p.b = ANY (moved))
              AND NOT EXISTS (SELECT 1 FROM cand WHERE cand.a = p.a AND cand.b = p.b)
        ),
        up AS (
            INSERT INTO corridor.vessel_pairs AS p (a, b, since, last_ts, lat, lon, dist_m)
            SELECT a, b, ts, ts, lat, lon, dist_m FROM cand
            ON CONFLICT (a, b) DO UPDATE SET last_ts = greatest(p.last_ts, EXCLUDED.last_ts),
                lat = EXCLUDED.lat, lon = EXCLUDED.lon, dist_m = EXCLUDED.dist_m
            RETURNING p.*
        )
        SELECT up.* FROM up
        WHERE NOT up.raised AND up.last_ts - up.since >= make_interval(mins => s.rendezvous_minutes)
    LOOP
        UPDATE corridor.vessel_pairs SET raised = true WHERE a = r.a AND b = r.b;
        FOR f IN
            SELECT x.me, x.other, vo.name AS other_name
            FROM (VALUES (r.a, r.b), (r.b, r.a)) AS x(me, other)
            JOIN corridor.vessels vm ON vm.mmsi = x.me
            LEFT JOIN corridor.vessels vo ON vo.mmsi = x.other
            WHERE corridor.vessel_watched(vm.mmsi, vm.imo)
        LOOP
            PERFORM corridor.vessel_event('rendezvous', f.me, r.last_ts, r.lat, r.lon, NULL,
                jsonb_build_object('other_mmsi', f.other, 'other_name', f.other_name,
                    'since', corridor.vessel_iso(r.since), 'until', corridor.vessel_iso(r.last_ts),
                    'minutes', round(extract(epoch FROM r.last_ts - r.since) / 60),
                    'distance_m', round(r.dist_m)));
            n := corridor.vessel_incident('rendezvous', f.me, r.last_ts, r.lat, r.lon, NULL,
                jsonb_build_object('other_mmsi', f.other, 'since', corridor.vessel_iso(r.since)));
            kind := 'incident'; idx := NULL; body := corridor.incident_json(n);
            RETURN NEXT;
        END LOOP;
    END LOOP;

    RETURN QUERY SELECT * FROM corridor.vessel_dest_rule(watched);

    RETURN QUERY
    SELECT 'vessel', NULL::int, corridor.vessel_json(v)
    FROM corridor.vessels v WHERE v.mmsi IN (SELECT DISTINCT b.mmsi FROM vessel_batch b)
    ORDER BY v.mmsi;
END $$;
