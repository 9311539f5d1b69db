-- 002_ingest: the JSON shapes of positions and incidents. The batch function itself,
-- corridor.ingest_batch, is defined once, in its final form, in 051_ingest_fast.sql (it
-- needs the trip tables of 004 and the grids of 050); what it does:
--
-- In one statement it stores the positions (exact duplicates once), advances the latest
-- position of each seal, computes geofence enter/exit transitions against the fence
-- state, records them as events and opens incidents for restricted zones.
--
-- Ordering: only observations newer than the seal's latest one are evaluated, in device
-- time order, so a late or re-sent observation is stored but never makes a false
-- transition. Two connections may carry the same seal (OsmAnd is stateless HTTP), so the
-- seals of a batch are locked first (advisory locks taken in a fixed order, so batches
-- cannot deadlock); the evaluation statement then starts with a fresh snapshot.
--
-- p_ts holds device times as Unix seconds (microsecond fractions): cheaper to send and
-- parse than timestamp text.
--
-- Returns one row per thing the caller must act on:
--   ('reject', i, reason)      observation i (1-based) was refused
--   ('position', NULL, json)   a seal's new latest position, for the live map
--   ('incident', NULL, json)   an incident opened or changed

CREATE FUNCTION corridor.position_json(seal_id text, ts timestamptz, lat float8, lon float8,
                                       speed real, bearing real, battery real, lock text,
                                       alarm text)
RETURNS text LANGUAGE sql STABLE AS $$
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
