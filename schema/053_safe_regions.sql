-- 053_safe_regions: most fixes cannot change anything; those are stored, not re-evaluated.
--
-- A truck on its road spends most fixes deep inside its route corridor, in one country,
-- moving, its seal closed, inside the same fences as at its previous fix: the full
-- evaluation of such a fix (051_ingest_fast.sql: fence probe, corridor test, country probe,
-- the trip walk, the state written back) ends with every rule state exactly as it was.
-- After each full evaluation the batch now leaves the seal a SAFE REGION (the moving-object
-- monitoring technique of that name) on its latest row:
--   safe_fences   the fences the latest fix is in: the seal's fence_state after the
--                 evaluation (sorted ids), which a fix's grid probe (050_grid.sql) must
--                 match exactly;
--   safe_flat/flon/fr  a disc around the latest fix that no live fence's boundary crosses
--                 (fr: the planar distance to the nearest boundary, at most 0.005): fence
--                 membership is the same everywhere inside it, so a fix there needs no
--                 fence probe (a median fix on the benchmark's roads is 230 m from one);
--   safe_lat/lon/r (armed seals) a disc around the latest fix, r in planar degrees, every
--                 point of which lies in the same country (r at most the distance to every
--                 country part's boundary, cut lines included: smaller, still safe) and
--                 passes the corridor's sure-inside bound (r at most inner_deg minus the
--                 fix's planar distance to the route in its scaled frame, 004_trips.sql:
--                 scaling longitude by cos(mid latitude) <= 1 never lengthens a step);
--   safe_trip, safe_gen, safe_min_speed, safe_low_batt, safe_open, safe_tamper,
--   safe_lowbatt  what the region was made for: the trip, the generation of the reference
--                 data, the route's stop speed and battery limit, the seal's flags.
-- A region is only made when the trip state is plain: not deviating or outside the
-- corridor, no stop pending, the signal not lost.
-- A fix is QUIET when its seal has a region of the current generation, the fix is newer
-- than the seal's latest, it is inside exactly the fences of safe_fences (inside the fence
-- disc, or by the probe), and, for a seal
-- on an armed trip: it lies strictly inside the disc, it is under 0.0089 degrees (under
-- 1,000 m on the ellipsoid) from the seal's previous fix (so the impossible-movement rule
-- cannot fire), its speed is known and at least the stop speed, and its lock, tamper
-- alarm and battery map to the region's flags. Then no fence is entered or left, no
-- checkpoint passed, the destination not reached, the authorised-place fact, country and
-- corridor test unchanged: every rule of docs/rules.md leaves its state as it was. A quiet
-- fix is stored (positions, latest) and published with no rule work; its position message
-- is written by the ingest worker from the batch it holds. From a seal's first fix in the
-- batch that is not quiet on, its fixes are evaluated in full, after the quiet ones, by
-- corridor.ingest_evaluate (the 051 function, renamed), and the seal gets a new region
-- from the state that leaves behind (the disc is kept while the seal is still inside it:
-- it is the dear part).
-- Time rules are unaffected: the sweep reads latest.ts for signal loss, and stops, legs and
-- transit deadlines hang off state that quiet fixes never change.
-- trip_state.last_* is now the last EVALUATED fix; before an evaluation it is moved up to
-- latest, so the walk's previous fix (implied speed) is what it always was.
-- Validity: geofences, routes, checkpoints and countries changing bump corridor.safe_gen in
-- the same transaction (statement triggers), so a region computed from an older snapshot
-- is never used once the change is committed. Arming, disarming and a lost signal void the
-- seal's region (row triggers on trip_state).
--   SET corridor.safe_regions = off   evaluates every fix in full (tests compare the two).

CREATE TABLE corridor.safe_gen (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    gen bigint NOT NULL DEFAULT 1
);
INSERT INTO corridor.safe_gen DEFAULT VALUES;

CREATE FUNCTION corridor.safe_gen_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corridor.safe_gen SET gen = gen + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER geofences_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.geofences FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();
CREATE TRIGGER routes_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.routes FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();
CREATE TRIGGER route_checkpoints_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.route_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();
CREATE TRIGGER country_parts_safe_gen AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.country_parts FOR EACH STATEMENT EXECUTE FUNCTION corridor.safe_gen_bump();

-- the region, on the seal's latest row (NULL safe_r: none)
ALTER TABLE corridor.latest
    ADD COLUMN safe_lat       float8,
    ADD COLUMN safe_lon       float8,
    ADD COLUMN safe_r         float8,
    ADD COLUMN safe_gen       bigint,
    ADD COLUMN safe_trip      uuid,
    ADD COLUMN safe_min_speed real,
    ADD COLUMN safe_low_batt  real,
    ADD COLUMN safe_fences    bigint[],
    ADD COLUMN safe_open      boolean,
    ADD COLUMN safe_tamper    boolean,
    ADD COLUMN safe_lowbatt   boolean,
    ADD COLUMN safe_flat      float8,
    ADD COLUMN safe_flon      float8,
    ADD COLUMN safe_fr        float8;

-- The trip state flags a quiet fix is checked against are copied into the region; the
-- few changes to trip_state made outside a batch's evaluation (which renews the region)
-- void it: arming and disarming, and the sweep finding the signal lost (the next fix must
-- tell that it is back).
CREATE FUNCTION corridor.safe_region_void() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corridor.latest SET safe_gen = NULL
    WHERE seal_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.seal_id ELSE NEW.seal_id END;
    RETURN NULL;
END $$;

CREATE TRIGGER trip_state_arm_void AFTER INSERT OR DELETE ON corridor.trip_state
    FOR EACH ROW EXECUTE FUNCTION corridor.safe_region_void();
CREATE TRIGGER trip_state_signal_void AFTER UPDATE OF signal_lost ON corridor.trip_state
    FOR EACH ROW WHEN (NEW.signal_lost AND NOT OLD.signal_lost)
    EXECUTE FUNCTION corridor.safe_region_void();
-- latest is rewritten for every fix: leave room on each page for HOT updates
ALTER TABLE corridor.latest SET (fillfactor = 50);

ALTER FUNCTION corridor.ingest_batch(text[], float8[], float8[], float8[], real[], real[],
                                     real[], real[], real[], text[], text[])
    RENAME TO ingest_evaluate;
-- It now sees only the fixes that are not quiet, a few dozen a batch, and hash joins made
-- its generic plan read whole tables (seals, trip state) for them; without them a batch of
-- 1,000 first fixes also runs in about half the time (360 -> 180 ms here).
ALTER FUNCTION corridor.ingest_evaluate(text[], float8[], float8[], float8[], real[], real[],
                                        real[], real[], real[], text[], text[])
    SET enable_hashjoin = off;

-- Same parameters and rows as before (002_ingest.sql), except that a quiet fix's position
-- row is ('position', i, NULL): the message of the batch's i-th fix, which the caller
-- writes (geo_position_json); plus one ('quiet', n, NULL) row when n fixes were quiet.
CREATE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    on_ boolean := coalesce(current_setting('corridor.safe_regions', true), '') <> 'off';
    q_i int[]; q_seal text[]; q_ts float8[]; q_lat float8[]; q_lon float8[]; q_speed real[];
    q_bearing real[]; q_alt real[]; q_acc real[]; q_batt real[]; q_lock text[];
    q_alarm text[];
    e_i int[]; e_seal text[]; e_ts float8[]; e_lat float8[]; e_lon float8[]; e_speed real[];
    e_bearing real[]; e_alt real[]; e_acc real[]; e_batt real[]; e_lock text[];
    e_alarm text[];
BEGIN
    IF NOT on_ THEN
        RETURN QUERY SELECT * FROM corridor.ingest_evaluate(p_seal, p_ts, p_lat, p_lon, p_speed,
            p_bearing, p_alt, p_acc, p_batt, p_lock, p_alarm);
        RETURN;
    END IF;
    -- the locks of ingest_evaluate (051), for every seal of the batch, before the regions
    -- and states are read: a batch of another worker touching the same seal waits
    PERFORM pg_advisory_xact_lock_shared(1129270852, b)
    FROM (SELECT DISTINCT (hashtext(s) & 1023) AS b FROM unnest(p_seal) s ORDER BY 1) x;
    PERFORM pg_advisory_xact_lock(1129270856, h)
    FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_seal) s ORDER BY 1) x;

    -- quiet or not, per fix
    SELECT array_agg(x.i::int) FILTER (WHERE x.quiet),
           array_agg(x.seal_id) FILTER (WHERE x.quiet), array_agg(x.epoch) FILTER (WHERE x.quiet),
           array_agg(x.lat) FILTER (WHERE x.quiet), array_agg(x.lon) FILTER (WHERE x.quiet),
           array_agg(x.speed) FILTER (WHERE x.quiet), array_agg(x.bearing) FILTER (WHERE x.quiet),
           array_agg(x.alt) FILTER (WHERE x.quiet), array_agg(x.acc) FILTER (WHERE x.quiet),
           array_agg(x.batt) FILTER (WHERE x.quiet), array_agg(x.lock) FILTER (WHERE x.quiet),
           array_agg(x.alarm) FILTER (WHERE x.quiet),
           array_agg(x.i::int) FILTER (WHERE NOT x.quiet),
           array_agg(x.seal_id) FILTER (WHERE NOT x.quiet),
           array_agg(x.epoch) FILTER (WHERE NOT x.quiet),
           array_agg(x.lat) FILTER (WHERE NOT x.quiet), array_agg(x.lon) FILTER (WHERE NOT x.quiet),
           array_agg(x.speed) FILTER (WHERE NOT x.quiet),
           array_agg(x.bearing) FILTER (WHERE NOT x.quiet),
           array_agg(x.alt) FILTER (WHERE NOT x.quiet), array_agg(x.acc) FILTER (WHERE NOT x.quiet),
           array_agg(x.batt) FILTER (WHERE NOT x.quiet),
           array_agg(x.lock) FILTER (WHERE NOT x.quiet),
           array_agg(x.alarm) FILTER (WHERE NOT x.quiet)
    INTO q_i, q_seal, q_ts, q_lat, q_lon, q_speed, q_bearing, q_alt, q_acc, q_batt, q_lock, q_alarm,
         e_i, e_seal, e_ts, e_lat, e_lon, e_speed, e_bearing, e_alt, e_acc, e_batt, e_lock,
         e_alarm
    -- a fix is quiet when it and every earlier fix of its seal in the batch are: the quiet
    -- ones are stored first, the rest evaluated after them, in device time order either way
    FROM (SELECT c.*,
                 bool_and(c.q) OVER (PARTITION BY c.seal_id ORDER BY c.epoch
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS quiet
          FROM (SELECT r.*,
                       coalesce(CASE WHEN
                           r.l_gen = g.gen AND NOT r.dup AND to_timestamp(r.epoch) > r.l_ts
                           AND (r.l_trip IS NULL
                                OR ((r.lat - r.l_lat0) ^ 2 + (r.lon - r.l_lon0) ^ 2 < r.l_r ^ 2
                                    AND (r.lat - r.prev_lat) ^ 2 + (r.lon - r.prev_lon) ^ 2
                                        < 0.0089 ^ 2
                                    AND r.speed >= r.l_min_speed
                                    AND coalesce(r.lock = 'open', r.l_open) = r.l_open
                                    AND coalesce(r.alarm = 'tampering', false) = r.l_tamper
                                    AND coalesce(r.batt < r.l_low_batt, r.l_lowbatt) = r.l_lowbatt))
                       -- inside the fence disc, or else the fence probe of 051 (grid, then
                       -- the few gridless fences), only for fixes that passed the rest
                       THEN (r.lat - r.l_flat) ^ 2 + (r.lon - r.l_flon) ^ 2 < r.l_fr ^ 2
                            OR ARRAY(SELECT h.id FROM (
                                SELECT gc.fence_id AS id FROM corridor.geofence_cells gc
                                WHERE gc.cell = corridor.cell01(r.lat, r.lon)
                                  AND (gc.is_full OR ST_Intersects(gc.geom,
                                           ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)))
                                UNION ALL
                                SELECT f.id FROM corridor.geofences f
                                WHERE f.deleted_at IS NULL AND f.gridless
                                  AND ST_Intersects(f.geom,
                                                    ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326))
                                ) h ORDER BY 1) = r.l_fences
                       END, false) AS q
                FROM (SELECT b.*, l.ts AS l_ts, l.safe_gen AS l_gen, l.safe_trip AS l_trip,
                             l.safe_lat AS l_lat0, l.safe_lon AS l_lon0, l.safe_r AS l_r,
                             l.safe_min_speed AS l_min_speed, l.safe_low_batt AS l_low_batt,
                             l.safe_fences AS l_fences, l.safe_open AS l_open,
                             l.safe_tamper AS l_tamper, l.safe_lowbatt AS l_lowbatt,
                             l.safe_flat AS l_flat, l.safe_flon AS l_flon, l.safe_fr AS l_fr,
                             -- the seal's previous fix: the one before in the batch, else latest
                             coalesce(lag(b.lat) OVER w, l.lat) AS prev_lat,
                             coalesce(lag(b.lon) OVER w, l.lon) AS prev_lon,
                             -- two fixes of one seal at one time: evaluated (one is stored)
                             coalesce(b.epoch = lag(b.epoch) OVER w, false)
                                 OR coalesce(b.epoch = lead(b.epoch) OVER w, false) AS dup
                      FROM corridor.batch_rows(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing,
                                               p_alt, p_acc, p_batt, p_lock, p_alarm)
                           AS b(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock,
                                alarm, i)
                      -- one index probe (OFFSET 0 keeps it lateral): a generic plan would
                      -- hash the whole table, a cost that grows with the seals, not the batch
                      LEFT JOIN LATERAL (SELECT * FROM corridor.latest l
                                         WHERE l.seal_id = b.seal_id OFFSET 0) l ON true
                      WINDOW w AS (PARTITION BY b.seal_id ORDER BY b.epoch)) r
                CROSS JOIN corridor.safe_gen g) c) x;

    -- quiet fixes: newer than anything stored for their seal (so never a duplicate), stored
    -- and published as the evaluation would, with no rule work
    IF q_seal IS NOT NULL THEN
        RETURN QUERY
        WITH q AS (
            SELECT * FROM corridor.batch_rows(q_seal, q_ts, q_lat, q_lon, q_speed, q_bearing,
                                              q_alt, q_acc, q_batt, q_lock, q_alarm)
                AS r(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
        ),
        ins AS (
            INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                            accuracy, battery, lock, alarm, late)
            SELECT q.seal_id, to_timestamp(q.epoch), q.lat, q.lon, q.speed, q.bearing, q.alt,
                   q.acc, q.batt, q.lock, q.alarm, false
            FROM q
        ),
        lat_up AS (
            UPDATE corridor.latest l
            SET ts = f.ts, lat = f.lat, lon = f.lon, speed_kmh = f.speed, bearing = f.bearing,
                battery = f.batt, lock = f.lock, alarm = f.alarm, updated_at = now()
            FROM (SELECT DISTINCT ON (q.seal_id) q.seal_id, to_timestamp(q.epoch) AS ts, q.lat,
                         q.lon, q.speed, q.bearing, q.batt, q.lock, q.alarm, q_i[q.i] AS i
                  FROM q ORDER BY q.seal_id, q.epoch DESC) f
            WHERE l.seal_id = f.seal_id
            RETURNING f.i
        )
        -- the seal's position message names its fix (the newest quiet one): the ingest
        -- worker writes it from the batch it holds (geo_position_json), as 051 would
        SELECT 'position', l.i, NULL FROM lat_up l
        UNION ALL
        SELECT 'quiet', cardinality(q_seal), NULL;
    END IF;

    IF e_seal IS NULL THEN
        RETURN;
    END IF;
    -- the walk's previous fix is the seal's newest, quiet or not
    UPDATE corridor.trip_state t SET last_ts = l.ts, last_lat = l.lat, last_lon = l.lon
    FROM corridor.latest l
    WHERE t.seal_id = ANY (e_seal) AND l.seal_id = t.seal_id AND t.last_ts < l.ts;

    RETURN QUERY
    SELECT v.kind, e_i[v.idx], v.body
    FROM corridor.ingest_evaluate(e_seal, e_ts, e_lat, e_lon, e_speed, e_bearing, e_alt, e_acc,
                                  e_batt, e_lock, e_alarm) v;

    -- a new region for each evaluated seal, from the state the evaluation left; its fences
    -- are the seal's fence_state, the set the evaluation compares the next fix with
    UPDATE corridor.latest l
    SET safe_gen = x.gen, safe_trip = x.trip_id, safe_min_speed = x.stop_speed_kmh,
        safe_low_batt = x.low_battery_pct, safe_open = x.sealopen, safe_tamper = x.tampered,
        safe_lowbatt = x.lowbatt,
        safe_fences = CASE WHEN x.ok THEN ARRAY(SELECT fs.fence_id FROM corridor.fence_state fs
                                                WHERE fs.seal_id = x.seal_id ORDER BY 1) END,
        safe_flat = x.lat, safe_flon = x.lon,
        safe_fr = CASE WHEN x.ok THEN nullif(greatest(least(0.005,
                      (SELECT min(ST_Distance(ST_Boundary(f.geom), x.p))
                       FROM corridor.geofences f
                       WHERE f.deleted_at IS NULL AND f.geom && ST_Expand(x.p, 0.005)))
                      - 1e-9, 0), 0) END,
        safe_lat = CASE WHEN x.keep THEN l.safe_lat ELSE x.lat END,
        safe_lon = CASE WHEN x.keep THEN l.safe_lon ELSE x.lon END,
        safe_r = CASE WHEN NOT x.ok OR x.trip_id IS NULL THEN NULL
                      WHEN x.keep THEN l.safe_r
                      ELSE nullif(greatest(least(
                          0.05,
                          x.inner_deg - ST_Distance(x.geom_s, ST_SetSRID(
                              ST_MakePoint(x.lon * x.scale, x.lat), 4326)),
                          (SELECT min(ST_Distance(ST_Boundary(c.geom), x.p))
                           FROM corridor.country_parts c
                           WHERE c.geom && ST_Expand(x.p, 0.05))) - 1e-9, 0), 0) END
    FROM (SELECT l2.seal_id, l2.lat, l2.lon, g.gen, s.trip_id, s.sealopen, s.tampered,
                 s.lowbatt, r.stop_speed_kmh, r.low_battery_pct, r.geom_s, r.scale, r.inner_deg,
                 ST_SetSRID(ST_MakePoint(l2.lon, l2.lat), 4326) AS p,
                 (s.seal_id IS NULL
                  OR (s.last_ts = l2.ts AND NOT s.deviating AND s.out_count = 0
                      AND s.stop_since IS NULL AND NOT s.signal_lost)) AS ok,
                 -- the trip disc still holds the seal: kept (the corridor distance is dear)
                 s.trip_id IS NOT NULL AND l2.safe_gen = g.gen AND l2.safe_trip = s.trip_id
                 AND (l2.lat - l2.safe_lat) ^ 2 + (l2.lon - l2.safe_lon) ^ 2 < l2.safe_r ^ 2
                     AS keep
          FROM corridor.latest l2
          CROSS JOIN corridor.safe_gen g
          LEFT JOIN corridor.trip_state s ON s.seal_id = l2.seal_id
          LEFT JOIN corridor.routes r ON r.id = s.route_id
          WHERE l2.seal_id = ANY (e_seal)) x
    WHERE l.seal_id = x.seal_id;
END $$;
