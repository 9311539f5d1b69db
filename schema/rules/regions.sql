-- rules/regions.sql: safe regions, or when a fix can be known to raise nothing.
-- Most fixes change nothing: a truck deep inside its corridor, in one country, moving, its
-- seal closed, in the same fences as before. After each full evaluation (ingest.sql,
-- ingest_loud) the seal is left a SAFE REGION on its latest row: the fences it is in, a
-- disc no fence boundary crosses, and for an armed seal a disc inside one country and
-- surely inside the corridor, with what the region was made for (trip, generation of the
-- reference data, stop speed, battery limit, the seal's flags). A later fix inside it that
-- keeps those flags is QUIET: stored, never evaluated (ingest_quiet, and the worker's copy
-- in geofence/geo_quiet.c, which is the same test in C with margins).
-- This file keeps regions honest: any change to fences, routes, checkpoints or countries
-- bumps the generation (safe_gen_bump), arming, disarming and signal loss void a seal's
-- region (safe_region_void); region_text is the region as the worker's copy reads it.
-- Reads: latest. Writes: safe_gen, latest.safe_*.

CREATE OR REPLACE FUNCTION corridor.safe_gen_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corridor.safe_gen SET gen = gen + 1;
    RETURN NULL;
END $$;

-- The trip state flags a quiet fix is checked against are copied into the region; the
-- few changes to trip_state made outside a batch's evaluation (which renews the region)
-- void it: arming and disarming, and the sweep finding the signal lost (the next fix must
-- tell that it is back).
CREATE OR REPLACE FUNCTION corridor.safe_region_void() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corridor.latest SET safe_gen = NULL
    WHERE seal_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.seal_id ELSE NEW.seal_id END;
    RETURN NULL;
END $$;

-- A seal's region as the worker reads it: space-separated, 'n' for NULL, the seal id last
-- (geofence/geo_quiet.c parses it): version, generation, newest fix (microseconds, lat,
-- lon), on a trip (1/0), trip disc (lat, lon, r), stop speed, open, tampered, low battery
-- limit, low battery, fence disc (lat, lon, r), fences (comma list, '-' for none).
CREATE OR REPLACE FUNCTION corridor.region_text(l corridor.latest) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws(' ', l.safe_ver, coalesce(l.safe_gen::text, 'n'),
                     (extract(epoch FROM l.ts) * 1000000)::bigint, l.lat, l.lon,
                     (l.safe_trip IS NOT NULL)::int,
                     coalesce(l.safe_lat::text, 'n'), coalesce(l.safe_lon::text, 'n'),
                     coalesce(l.safe_r::text, 'n'), coalesce(l.safe_min_speed::text, 'n'),
                     coalesce(l.safe_open::int::text, 'n'), coalesce(l.safe_tamper::int::text, 'n'),
                     coalesce(l.safe_low_batt::text, 'n'), coalesce(l.safe_lowbatt::int::text, 'n'),
                     coalesce(l.safe_flat::text, 'n'), coalesce(l.safe_flon::text, 'n'),
                     coalesce(l.safe_fr::text, 'n'),
                     CASE WHEN l.safe_fences IS NULL THEN 'n'
                          WHEN cardinality(l.safe_fences) = 0 THEN '-'
                          ELSE array_to_string(l.safe_fences, ',') END,
                     l.seal_id)
$$;

CREATE OR REPLACE TRIGGER geofences_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.geofences FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();

CREATE OR REPLACE TRIGGER routes_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.routes FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();

CREATE OR REPLACE TRIGGER route_checkpoints_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.route_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();

CREATE OR REPLACE TRIGGER country_parts_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.country_parts FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();

CREATE OR REPLACE TRIGGER trip_state_arm_void AFTER INSERT OR DELETE ON corridor.trip_state
    FOR EACH ROW EXECUTE FUNCTION corridor.safe_region_void();

CREATE OR REPLACE TRIGGER trip_state_signal_void AFTER UPDATE OF signal_lost ON corridor.trip_state
    FOR EACH ROW WHEN (NEW.signal_lost AND NOT OLD.signal_lost)
    EXECUTE FUNCTION corridor.safe_region_void();
