-- 053_safe_regions: most fixes cannot change anything; those are stored, not re-evaluated.
--
-- A truck on its road spends most fixes deep inside its route corridor, in one country,
-- moving, its seal closed, inside the same fences as at its previous fix: the full
-- evaluation of such a fix (051_ingest_fast.sql: fence probe, corridor test, country probe,
-- the trip walk, the state written back) ends with every rule state exactly as it was.
-- After each full evaluation the batch now leaves the seal a SAFE REGION (the moving-object
-- monitoring technique of that name) on its latest row:
--   safe_fences   the live fences containing the latest fix (sorted ids, from the 0.01
--                 degree grid of 050_grid.sql, which answers exactly ST_Intersects);
--   safe_lat/lon/r (armed seals) a disc around the latest fix, r in planar degrees, every
--                 point of which lies in the same country (r at most the distance to every
--                 country part's boundary, cut lines included: smaller, still safe) and
--                 passes the corridor's sure-inside bound (r at most inner_deg minus the
--                 fix's planar distance to the route in its scaled frame, 004_trips.sql:
--                 scaling longitude by cos(mid latitude) <= 1 never lengthens a step);
--   safe_trip, safe_min_speed, safe_low_batt, safe_gen  what the region was made for.
-- A fix is QUIET when its seal has a region of the current generation, the fix is newer
-- than the seal's latest, it is inside exactly the fences of safe_fences, and, for a seal
-- on an armed trip: its trip is the region's, it lies strictly inside the disc, it is
-- under 0.0089 degrees (under 1,000 m on the ellipsoid) from the seal's previous fix (so
-- the impossible-movement rule cannot fire), the trip state is plain (not deviating or
-- outside, no stop pending, signal not lost), and the fix cannot flip a flag: speed known
-- and at least the route's stop speed, lock, tamper alarm and battery mapping to the
-- stored flags. Then no fence is entered or left, no checkpoint passed, the destination
-- not reached, the authorised-place fact, country and corridor test unchanged: every rule
-- of docs/rules.md leaves its state as it was. A quiet fix is stored (positions, latest)
-- and published with no rule work. From a seal's first fix in the batch that is not quiet
-- on, its fixes are evaluated in full, after the quiet ones, by corridor.ingest_evaluate
-- (the 051 function, renamed), and the seal gets a new region from the state that leaves
-- behind (the disc is kept while the seal is still inside it: it is the dear part).
-- Time rules are unaffected: the sweep reads latest.ts for signal loss, and stops, legs and
-- transit deadlines hang off state that quiet fixes never change.
-- trip_state.last_* is now the last EVALUATED fix; before an evaluation it is moved up to
-- latest, so the walk's previous fix (implied speed) is what it always was.
-- Validity: geofences, routes, checkpoints and countries changing bump corridor.safe_gen in
-- the same transaction (statement triggers), so a region computed from an older snapshot
-- is never used once the change is committed. Arming and disarming change the region's trip.
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
    ADD COLUMN safe_fences    bigint[];
-- latest is rewritten for every fix: leave room on each page for HOT updates
ALTER TABLE corridor.latest SET (fillfactor = 50);

ALTER FUNCTION corridor.ingest_batch(text[], float8[], float8[], float8[], real[], real[],
                                     real[], real[], real[], text[], text[])
    RENAME TO ingest_evaluate;

-- Same parameters and rows as before (002_ingest.sql), plus one ('quiet', n, NULL) row
-- when n fixes of the batch were quiet.
CREATE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    on_ boolean := coalesce(current_setting('corridor.safe_regions', true), '') <> 'off';
    q_seal text[]; q_ts float8[]; q_lat float8[]; q_lon float8[]; q_speed real[];
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
    SELECT array_agg(c.seal_id) FILTER (WHERE c.quiet), array_agg(c.epoch) FILTER (WHERE c.quiet),
           array_agg(c.lat) FILTER (WHERE c.quiet), array_agg(c.lon) FILTER (WHERE c.quiet),
           array_agg(c.speed) FILTER (WHERE c.quiet), array_agg(c.bearing) FILTER (WHERE c.quiet),
           array_agg(c.alt) FILTER (WHERE c.quiet), array_agg(c.acc) FILTER (WHERE c.quiet),
           array_agg(c.batt) FILTER (WHERE c.quiet), array_agg(c.lock) FILTER (WHERE c.quiet),
           array_agg(c.alarm) FILTER (WHERE c.quiet),
           array_agg(c.i::int) FILTER (WHERE NOT c.quiet),
           array_agg(c.seal_id) FILTER (WHERE NOT c.quiet),
           array_agg(c.epoch) FILTER (WHERE NOT c.quiet),
           array_agg(c.lat) FILTER (WHERE NOT c.quiet), array_agg(c.lon) FILTER (WHERE NOT c.quiet),
           array_agg(c.speed) FILTER (WHERE NOT c.quiet),
           array_agg(c.bearing) FILTER (WHERE NOT c.quiet),
           array_agg(c.alt) FILTER (WHERE NOT c.quiet), array_agg(c.acc) FILTER (WHERE NOT c.quiet),
           array_agg(c.batt) FILTER (WHERE NOT c.quiet),
           array_agg(c.lock) FILTER (WHERE NOT c.quiet),
           array_agg(c.alarm) FILTER (WHERE NOT c.quiet)
    INTO q_seal, q_ts, q_lat, q_lon, q_speed, q_bearing, q_alt, q_acc, q_batt, q_lock, q_alarm,
         e_i, e_seal, e_ts, e_lat, e_lon, e_speed, e_bearing, e_alt, e_acc, e_batt, e_lock,
         e_alarm
    -- a fix is quiet when it and every earlier fix of its seal in the batch are: the quiet
    -- ones are stored first, the rest evaluated after them, in device time order either way
    FROM (SELECT q0.*,
                 bool_and(q0.q AND q0.n_same = 1) OVER (PARTITION BY q0.seal_id ORDER BY q0.epoch
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS quiet
    FROM (SELECT r.*,
                 coalesce(CASE WHEN
                     l.safe_gen = g.gen
                     AND to_timestamp(r.epoch) > l.ts
                     AND l.safe_trip IS NOT DISTINCT FROM s.trip_id
                     AND (s.seal_id IS NULL
                          OR ((r.lat - l.safe_lat) ^ 2 + (r.lon - l.safe_lon) ^ 2 < l.safe_r ^ 2
                              AND (r.lat - r.prev_lat) ^ 2 + (r.lon - r.prev_lon) ^ 2 < 0.0089 ^ 2
                              AND r.speed >= l.safe_min_speed
                              AND NOT s.deviating AND s.out_count = 0
                              AND s.stop_since IS NULL AND NOT s.signal_lost
                              AND coalesce(r.lock = 'open', s.sealopen) = s.sealopen
                              AND coalesce(r.alarm = 'tampering', false) = s.tampered
                              AND coalesce(r.batt < l.safe_low_batt, s.lowbatt) = s.lowbatt))
                 -- the fence probe of 051 (grid, then the few gridless fences), only for
                 -- fixes that passed the rest
                 THEN ARRAY(SELECT h.id FROM (
                          SELECT c.fence_id AS id FROM corridor.geofence_cells c
                          WHERE c.cell = corridor.cell01(r.lat, r.lon)
                            AND (c.is_full OR ST_Intersects(c.geom,
                                     ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)))
                          UNION ALL
                          SELECT f.id FROM corridor.geofences f
                          WHERE f.deleted_at IS NULL AND f.gridless
                            AND ST_Intersects(f.geom, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326))
                          ) h ORDER BY 1) = l.safe_fences
                 END, false) AS q,
                 -- two fixes of one seal at one time: the evaluation stores one of them
                 count(*) OVER (PARTITION BY r.seal_id, r.epoch) AS n_same
          FROM (SELECT b.*,
                       -- the seal's previous fix: the one before in the batch, else latest
                       coalesce(lag(b.lat) OVER w, lt.lat) AS prev_lat,
                       coalesce(lag(b.lon) OVER w, lt.lon) AS prev_lon
                FROM corridor.batch_rows(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt,
                                         p_acc, p_batt, p_lock, p_alarm)
                     AS b(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
                LEFT JOIN LATERAL (SELECT lt.lat, lt.lon FROM corridor.latest lt
                                   WHERE lt.seal_id = b.seal_id OFFSET 0) lt ON true
                WINDOW w AS (PARTITION BY b.seal_id ORDER BY b.epoch)) r
          CROSS JOIN corridor.safe_gen g
          -- one index probe each (OFFSET 0 keeps them lateral): a generic plan would hash
          -- the whole tables, a cost that grows with the number of seals, not the batch
          LEFT JOIN LATERAL (SELECT * FROM corridor.latest l WHERE l.seal_id = r.seal_id
                             OFFSET 0) l ON true
          LEFT JOIN LATERAL (SELECT * FROM corridor.trip_state s WHERE s.seal_id = r.seal_id
                             OFFSET 0) s ON true) q0) c;

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
                         q.lon, q.speed, q.bearing, q.batt, q.lock, q.alarm
                  FROM q ORDER BY q.seal_id, q.epoch DESC) f
            WHERE l.seal_id = f.seal_id
            RETURNING l.*
        )
        -- the position message as 051 writes it
        SELECT 'position', NULL::int,
               json_build_object('type', 'position', 'seal_id', l.seal_id,
                                 'time', to_char(l.ts AT TIME ZONE 'UTC',
                                                 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                 'lat', l.lat, 'lon', l.lon, 'speed_kmh', l.speed_kmh,
                                 'bearing', l.bearing, 'battery', l.battery, 'lock', l.lock,
                                 'alarm', l.alarm)::text
        FROM lat_up l
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

    -- a new region for each evaluated seal, from the state the evaluation left
    UPDATE corridor.latest l
    SET safe_gen = g.gen, safe_trip = x.trip_id, safe_min_speed = x.stop_speed_kmh,
        safe_low_batt = x.low_battery_pct,
        safe_fences = CASE WHEN x.ok THEN ARRAY(SELECT h.id FROM (
                          SELECT c.fence_id AS id FROM corridor.geofence_cells c
                          WHERE c.cell = corridor.cell01(x.lat, x.lon)
                            AND (c.is_full OR ST_Intersects(c.geom, x.p))
                          UNION ALL
                          SELECT f.id FROM corridor.geofences f
                          WHERE f.deleted_at IS NULL AND f.gridless
                            AND ST_Intersects(f.geom, x.p)) h ORDER BY 1) END,
        safe_lat = CASE WHEN x.keep THEN x.safe_lat ELSE x.lat END,
        safe_lon = CASE WHEN x.keep THEN x.safe_lon ELSE x.lon END,
        safe_r = CASE WHEN NOT x.ok OR x.trip_id IS NULL THEN NULL
                      WHEN x.keep THEN x.safe_r
                      ELSE nullif(greatest(least(
                          0.05,
                          x.inner_deg - ST_Distance(x.geom_s, ST_SetSRID(
                              ST_MakePoint(x.lon * x.scale, x.lat), 4326)),
                          (SELECT min(ST_Distance(ST_Boundary(c.geom), x.p))
                           FROM corridor.country_parts c
                           WHERE c.geom && ST_Expand(x.p, 0.05))) - 1e-9, 0), 0) END
    FROM (SELECT y.*,
                 y.ok AND y.trip_id IS NOT NULL AND y.safe_gen = g2.gen
                 AND y.safe_trip = y.trip_id AND y.safe_r IS NOT NULL
                 AND (y.lat - y.safe_lat) ^ 2 + (y.lon - y.safe_lon) ^ 2 < y.safe_r ^ 2 AS keep
          FROM (SELECT l2.seal_id, l2.lat, l2.lon, l2.safe_lat, l2.safe_lon, l2.safe_r,
                       l2.safe_gen, l2.safe_trip, s.trip_id, r.stop_speed_kmh,
                       r.low_battery_pct, r.geom_s, r.scale, r.inner_deg,
                       ST_SetSRID(ST_MakePoint(l2.lon, l2.lat), 4326) AS p,
                       (s.seal_id IS NULL
                        OR (s.last_ts = l2.ts AND NOT s.deviating AND s.out_count = 0
                            AND s.stop_since IS NULL AND NOT s.signal_lost)) AS ok
                FROM corridor.latest l2
                LEFT JOIN corridor.trip_state s ON s.seal_id = l2.seal_id
                LEFT JOIN corridor.routes r ON r.id = s.route_id
                WHERE l2.seal_id = ANY (e_seal)) y
          CROSS JOIN corridor.safe_gen g2) x
    CROSS JOIN corridor.safe_gen g
    WHERE l.seal_id = x.seal_id;
END $$;
