-- 002_ingest: corridor.ingest_batch, the one call per micro-batch of observations.
--
-- In one statement it stores the positions (exact duplicates once), advances the latest
-- position of each seal, computes geofence enter/exit transitions against the fence
-- state, records them as events and opens incidents for restricted zones.
--
-- Ordering: only observations newer than the seal's latest one are evaluated, in device
-- time order, so a late or re-sent observation is stored but never makes a false
-- transition. Two connections may carry the same seal (OsmAnd is stateless HTTP), so the
-- seals of a batch are locked first (1,024 advisory lock buckets, taken in a fixed order so
-- batches cannot deadlock); the evaluation statement then starts with a fresh snapshot.
--
-- p_ts holds device times as Unix seconds (microsecond fractions): cheaper to send and
-- parse than timestamp text.
--
-- Returns one row per thing the caller must act on:
--   ('reject', i, reason)      observation i (1-based) was refused
--   ('position', NULL, json)   a seal's new latest position, for the live map
--   ('incident', NULL, json)   an incident opened or changed
CREATE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1129270852, b)
    FROM (SELECT DISTINCT (hashtext(s) & 1023) AS b FROM unnest(p_seal) s ORDER BY 1) x;

    RETURN QUERY
    WITH raw AS (
        SELECT r.seal_id, to_timestamp(r.epoch) AS ts, r.lat, r.lon, r.speed, r.bearing,
               r.alt, r.acc, r.batt, r.lock, r.alarm, r.i, s.id IS NOT NULL AS known
        FROM unnest(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt, p_acc, p_batt,
                    p_lock, p_alarm)
             WITH ORDINALITY AS r(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt,
                                  lock, alarm, i)
        LEFT JOIN corridor.seals s ON s.id = r.seal_id
    ),
    uniq AS (
        SELECT DISTINCT ON (seal_id, ts) * FROM raw WHERE known ORDER BY seal_id, ts, i
    ),
    prev AS (
        SELECT l.seal_id, l.ts FROM corridor.latest l
        WHERE l.seal_id IN (SELECT DISTINCT u.seal_id FROM uniq u)
    ),
    ins AS (
        INSERT INTO corridor.positions AS p (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                             accuracy, battery, lock, alarm, late)
        SELECT u.seal_id, u.ts, u.lat, u.lon, u.speed, u.bearing, u.alt, u.acc, u.batt, u.lock,
               u.alarm, pv.ts IS NOT NULL AND u.ts <= pv.ts
        FROM uniq u LEFT JOIN prev pv USING (seal_id)
        ON CONFLICT DO NOTHING
        RETURNING p.seal_id, p.ts, p.late
    ),
    -- stored just now (not a re-send) and newer than anything seen: evaluate these
    fresh AS (
        SELECT u.* FROM uniq u JOIN ins USING (seal_id, ts) WHERE NOT ins.late
    ),
    hits AS (
        SELECT f.i, g.id AS fence_id
        FROM fresh f
        JOIN corridor.geofences g
          ON g.deleted_at IS NULL
         AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326))
    ),
    pairs AS (
        SELECT DISTINCT f.seal_id, h.fence_id FROM hits h JOIN fresh f USING (i)
        UNION
        SELECT fs.seal_id, fs.fence_id FROM corridor.fence_state fs
        WHERE fs.seal_id IN (SELECT DISTINCT seal_id FROM fresh)
    ),
    seq AS (
        SELECT p.seal_id, p.fence_id, f.ts, f.lat, f.lon, h.i IS NOT NULL AS inside,
               lag(h.i IS NOT NULL) OVER w AS before
        FROM pairs p
        JOIN fresh f ON f.seal_id = p.seal_id
        LEFT JOIN hits h ON h.i = f.i AND h.fence_id = p.fence_id
        WINDOW w AS (PARTITION BY p.seal_id, p.fence_id ORDER BY f.ts)
    ),
    trans AS (
        SELECT s.seal_id, s.fence_id, s.ts, s.lat, s.lon, s.inside
        FROM seq s
        LEFT JOIN corridor.fence_state fs ON fs.seal_id = s.seal_id AND fs.fence_id = s.fence_id
        WHERE s.inside <> COALESCE(s.before, fs.seal_id IS NOT NULL)
    ),
    final AS (
        SELECT DISTINCT ON (seal_id, fence_id) seal_id, fence_id, inside
        FROM seq ORDER BY seal_id, fence_id, ts DESC
    ),
    fs_out AS (
        DELETE FROM corridor.fence_state fs USING final f
        WHERE fs.seal_id = f.seal_id AND fs.fence_id = f.fence_id AND NOT f.inside
    ),
    fs_in AS (
        INSERT INTO corridor.fence_state AS fs (seal_id, fence_id, entered_at)
        SELECT t.seal_id, t.fence_id, max(t.ts)
        FROM trans t JOIN final f USING (seal_id, fence_id)
        WHERE f.inside AND t.inside
        GROUP BY t.seal_id, t.fence_id
        ON CONFLICT (seal_id, fence_id) DO UPDATE SET entered_at = EXCLUDED.entered_at
    ),
    ev AS (
        INSERT INTO corridor.events (seal_id, kind, fence_id, ts, lat, lon, details)
        SELECT t.seal_id, CASE WHEN t.inside THEN 'fence_enter' ELSE 'fence_exit' END,
               t.fence_id, t.ts, t.lat, t.lon,
               jsonb_build_object('fence', g.name, 'fence_kind', g.kind)
        FROM trans t JOIN corridor.geofences g ON g.id = t.fence_id
    ),
    inc AS (
        INSERT INTO corridor.incidents AS n (rule, severity, subject, seal_id, fence_id,
                                             opened_at, lat, lon, details)
        SELECT DISTINCT ON (t.seal_id) 'restricted_zone_entry', 'critical', t.seal_id, t.seal_id,
               t.fence_id, t.ts, t.lat, t.lon,
               jsonb_build_object('fence', g.name, 'fence_id', g.id)
        FROM trans t JOIN corridor.geofences g ON g.id = t.fence_id
        WHERE t.inside AND g.kind = 'restricted'
        ORDER BY t.seal_id, t.ts
        ON CONFLICT (subject, rule) WHERE status <> 'resolved'
        DO UPDATE SET event_count = n.event_count + 1, updated_at = now()
        RETURNING n.*
    ),
    lat_up AS (
        INSERT INTO corridor.latest AS l (seal_id, ts, lat, lon, speed_kmh, bearing, battery,
                                          lock, alarm, updated_at)
        SELECT DISTINCT ON (seal_id) seal_id, ts, lat, lon, speed, bearing, batt, lock, alarm,
               now()
        FROM fresh ORDER BY seal_id, ts DESC
        ON CONFLICT (seal_id) DO UPDATE
            SET ts = EXCLUDED.ts, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
                speed_kmh = EXCLUDED.speed_kmh, bearing = EXCLUDED.bearing,
                battery = EXCLUDED.battery, lock = EXCLUDED.lock, alarm = EXCLUDED.alarm,
                updated_at = now()
            WHERE l.ts < EXCLUDED.ts
        RETURNING l.*
    )
    SELECT 'reject', r.i::int, 'unknown seal id "' || r.seal_id || '"' FROM raw r WHERE NOT r.known
    UNION ALL
    SELECT 'position', NULL, corridor.position_json(l.seal_id, l.ts, l.lat, l.lon, l.speed_kmh,
                                                    l.bearing, l.battery, l.lock, l.alarm)
    FROM lat_up l
    UNION ALL
    SELECT 'incident', NULL, corridor.incident_json(n) FROM inc n;
END $$;

CREATE FUNCTION corridor.position_json(seal_id text, ts timestamptz, lat float8, lon float8,
                                       speed real, bearing real, battery real, lock text,
                                       alarm text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('type', 'position', 'seal_id', seal_id,
                             'time', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'lat', lat, 'lon', lon, 'speed_kmh', speed, 'bearing', bearing,
                             'battery', battery, 'lock', lock, 'alarm', alarm)::text
$$;

-- An incident as the API and the websocket show it (SPEC.md).
CREATE FUNCTION corridor.incident_json(n corridor.incidents)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'incident', 'id', n.id, 'rule', n.rule,
                             'severity', n.severity, 'status', n.status, 'seal_id', n.seal_id,
                             'mmsi', n.mmsi, 'trip_id', n.trip_id, 'fence_id', n.fence_id,
                             'opened_at', to_char(n.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'updated_at', to_char(n.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'lat', n.lat, 'lon', n.lon, 'event_count', n.event_count,
                             'details', n.details)::text
$$;
