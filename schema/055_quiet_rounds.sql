-- 055_quiet_rounds: a batch's quiet fixes cost one statement, and a seal's fixes after its
-- first loud one get a second chance at being quiet.
--
-- Measured on the benchmark (pg_stat_statements, track = all, 30 s above capacity, batches
-- of ~4,000): 053's batch spent 41 % of its time sorting fixes into quiet and not (one
-- statement that unnested the batch, probed latest, and split it into 24 arrays), 22 %
-- storing the quiet ones (a second statement unnesting those arrays again), 25 % in the
-- evaluation. And of the evaluated fixes about half changed nothing: above capacity a
-- device's frames arrive in bursts (a seal has 3 to 7 fixes in a batch), and once one of
-- them was loud (a fence entered, say) every later one of that seal in the batch was
-- evaluated too, since the region it would be checked against was the old one.
--
--   corridor.ingest_quiet   classifies a set of fixes exactly as 053 did and, in the same
--                           statement (data-modifying CTEs over one materialised
--                           classification), stores the quiet ones (positions, latest);
--                           returns the position message indexes, the quiet count and the
--                           loud fixes as arrays.
--   corridor.ingest_loud    evaluates a set of fixes in full and gives their seals new
--                           regions (053's code, moved here unchanged).
--   corridor.ingest_batch   round 1: ingest_quiet over the batch; then only each seal's
--                           first loud fix is evaluated (ingest_loud), which leaves the seal
--                           a new region; round 2: ingest_quiet over the seal's later fixes
--                           against that region, and ingest_loud over what is still loud.
-- Splitting a seal's fixes at its first loud one is what would happen had the rest arrived
-- in the next batch: every rule already handles any split of a device's fixes into batches
-- (test_trips' safe_regions_change_no_outcome drives seals with 1 to 8 fixes a batch, with
-- safe regions and without, and requires identical outcomes). Same parameters and rows as
-- 053's ingest_batch; a seal may now get up to four position messages from one batch, in
-- device time order.

CREATE FUNCTION corridor.ingest_quiet(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[],
    p_i int[],
    OUT pos_i int[], OUT n_quiet int,
    OUT e_i int[], OUT e_seal text[], OUT e_ts float8[], OUT e_lat float8[], OUT e_lon float8[],
    OUT e_speed real[], OUT e_bearing real[], OUT e_alt real[], OUT e_acc real[],
    OUT e_batt real[], OUT e_lock text[], OUT e_alarm text[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- quiet or not, per fix (053): quiet when it and every earlier fix of its seal here are
    WITH c AS (
        SELECT r.seal_id, r.epoch, r.lat, r.lon, r.speed, r.bearing, r.alt, r.acc, r.batt,
               r.lock, r.alarm, r.i,
               bool_and(r.q) OVER (PARTITION BY r.seal_id COLLATE "C" ORDER BY r.epoch
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS quiet
        FROM (SELECT b.*,
                     coalesce(CASE WHEN
                         l.safe_gen = g.gen AND NOT b.dup AND to_timestamp(b.epoch) > l.ts
                         AND (l.safe_trip IS NULL
                              OR ((b.lat - l.safe_lat) ^ 2 + (b.lon - l.safe_lon) ^ 2 < l.safe_r ^ 2
                                  AND (b.lat - coalesce(b.prev_lat, l.lat)) ^ 2
                                      + (b.lon - coalesce(b.prev_lon, l.lon)) ^ 2 < 0.0089 ^ 2
                                  AND b.speed >= l.safe_min_speed
                                  AND coalesce(b.lock = 'open', l.safe_open) = l.safe_open
                                  AND coalesce(b.alarm = 'tampering', false) = l.safe_tamper
                                  AND coalesce(b.batt < l.safe_low_batt, l.safe_lowbatt)
                                      = l.safe_lowbatt))
                     -- inside the fence disc, or else the fence probe of 051 (grid, then the
                     -- few gridless fences), only for fixes that passed the rest
                     THEN (b.lat - l.safe_flat) ^ 2 + (b.lon - l.safe_flon) ^ 2 < l.safe_fr ^ 2
                          OR ARRAY(SELECT h.id FROM (
                              SELECT gc.fence_id AS id FROM corridor.geofence_cells gc
                              WHERE gc.cell = corridor.cell01(b.lat, b.lon)
                                AND (gc.is_full OR ST_Intersects(gc.geom,
                                         ST_SetSRID(ST_MakePoint(b.lon, b.lat), 4326)))
                              UNION ALL
                              SELECT f.id FROM corridor.geofences f
                              WHERE f.deleted_at IS NULL AND f.gridless
                                AND ST_Intersects(f.geom, ST_SetSRID(ST_MakePoint(b.lon, b.lat),
                                                                     4326))
                              ) h ORDER BY 1) = l.safe_fences
                     END, false) AS q
              -- the seal's previous fix here (else its latest), and two fixes of one seal at
              -- one time (evaluated: one is stored); sorted before the join, the narrow rows,
              -- by byte order (any order that groups a seal's fixes will do)
              FROM (SELECT u.*, lag(u.lat) OVER w AS prev_lat, lag(u.lon) OVER w AS prev_lon,
                           coalesce(u.epoch = lag(u.epoch) OVER w, false)
                               OR coalesce(u.epoch = lead(u.epoch) OVER w, false) AS dup
                    FROM unnest(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt, p_acc,
                                p_batt, p_lock, p_alarm, p_i)
                         AS u(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock,
                              alarm, i)
                    WINDOW w AS (PARTITION BY u.seal_id COLLATE "C" ORDER BY u.epoch)) b
              -- one index probe (OFFSET 0 keeps it lateral): a generic plan would hash the
              -- whole table, a cost that grows with the seals, not the batch
              LEFT JOIN LATERAL (SELECT l.ts, l.lat, l.lon, l.safe_gen, l.safe_trip, l.safe_lat,
                                        l.safe_lon, l.safe_r, l.safe_min_speed, l.safe_open,
                                        l.safe_tamper, l.safe_low_batt, l.safe_lowbatt,
                                        l.safe_flat, l.safe_flon, l.safe_fr, l.safe_fences
                                 FROM corridor.latest l
                                 WHERE l.seal_id = b.seal_id OFFSET 0) l ON true
              CROSS JOIN corridor.safe_gen g) r
    ),
    -- quiet fixes: newer than anything stored for their seal (so never a duplicate), stored
    -- as the evaluation would store them, with no rule work
    ins AS (
        INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                        accuracy, battery, lock, alarm, late)
        SELECT c.seal_id, to_timestamp(c.epoch), c.lat, c.lon, c.speed, c.bearing, c.alt,
               c.acc, c.batt, c.lock, c.alarm, false
        FROM c WHERE c.quiet
    ),
    -- the seal's position message names its newest quiet fix: the ingest worker writes it
    -- from the batch it holds (geo_position_json)
    up AS (
        UPDATE corridor.latest l
        SET ts = f.ts, lat = f.lat, lon = f.lon, speed_kmh = f.speed, bearing = f.bearing,
            battery = f.batt, lock = f.lock, alarm = f.alarm, updated_at = now()
        FROM (SELECT DISTINCT ON (c.seal_id) c.seal_id, to_timestamp(c.epoch) AS ts, c.lat,
                     c.lon, c.speed, c.bearing, c.batt, c.lock, c.alarm, c.i
              FROM c WHERE c.quiet ORDER BY c.seal_id, c.epoch DESC) f
        WHERE l.seal_id = f.seal_id
        RETURNING f.i
    )
    SELECT (SELECT array_agg(up.i) FROM up), count(*) FILTER (WHERE c.quiet),
           array_agg(c.i) FILTER (WHERE NOT c.quiet),
           array_agg(c.seal_id) FILTER (WHERE NOT c.quiet),
           array_agg(c.epoch) FILTER (WHERE NOT c.quiet),
           array_agg(c.lat) FILTER (WHERE NOT c.quiet), array_agg(c.lon) FILTER (WHERE NOT c.quiet),
           array_agg(c.speed) FILTER (WHERE NOT c.quiet),
           array_agg(c.bearing) FILTER (WHERE NOT c.quiet),
           array_agg(c.alt) FILTER (WHERE NOT c.quiet), array_agg(c.acc) FILTER (WHERE NOT c.quiet),
           array_agg(c.batt) FILTER (WHERE NOT c.quiet),
           array_agg(c.lock) FILTER (WHERE NOT c.quiet),
           array_agg(c.alarm) FILTER (WHERE NOT c.quiet)
    INTO pos_i, n_quiet, e_i, e_seal, e_ts, e_lat, e_lon, e_speed, e_bearing, e_alt, e_acc,
         e_batt, e_lock, e_alarm
    FROM c;
END $$;

-- Evaluates fixes in full (051) and gives their seals new regions (053); e_i names each
-- fix's index in the batch, which the rows returned use.
CREATE FUNCTION corridor.ingest_loud(
    e_i int[], e_seal text[], e_ts float8[], e_lat float8[], e_lon float8[], e_speed real[],
    e_bearing real[], e_alt real[], e_acc real[], e_batt real[], e_lock text[], e_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
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

CREATE OR REPLACE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    on_ boolean := coalesce(current_setting('corridor.safe_regions', true), '') <> 'off';
    r record;
    n_q int := 0;
    h_i int[]; h_seal text[]; h_ts float8[]; h_lat float8[]; h_lon float8[]; h_speed real[];
    h_bearing real[]; h_alt real[]; h_acc real[]; h_batt real[]; h_lock text[];
    h_alarm text[];
    t_i int[]; t_seal text[]; t_ts float8[]; t_lat float8[]; t_lon float8[]; t_speed real[];
    t_bearing real[]; t_alt real[]; t_acc real[]; t_batt real[]; t_lock text[];
    t_alarm text[];
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

    -- round 1: the whole batch
    SELECT * INTO r FROM corridor.ingest_quiet(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing,
        p_alt, p_acc, p_batt, p_lock, p_alarm,
        ARRAY(SELECT generate_series(1, cardinality(p_seal))));
    RETURN QUERY SELECT 'position'::text, u.i, NULL::text FROM unnest(r.pos_i) u(i);
    n_q := n_q + r.n_quiet;

    IF r.e_i IS NOT NULL THEN
        -- each seal's first loud fix (h) now; its later ones (t) after, against the region
        -- that evaluation leaves
        SELECT array_agg(x.i) FILTER (WHERE x.head), array_agg(x.seal_id) FILTER (WHERE x.head),
               array_agg(x.epoch) FILTER (WHERE x.head), array_agg(x.lat) FILTER (WHERE x.head),
               array_agg(x.lon) FILTER (WHERE x.head), array_agg(x.speed) FILTER (WHERE x.head),
               array_agg(x.bearing) FILTER (WHERE x.head), array_agg(x.alt) FILTER (WHERE x.head),
               array_agg(x.acc) FILTER (WHERE x.head), array_agg(x.batt) FILTER (WHERE x.head),
               array_agg(x.lock) FILTER (WHERE x.head), array_agg(x.alarm) FILTER (WHERE x.head),
               array_agg(x.i) FILTER (WHERE NOT x.head),
               array_agg(x.seal_id) FILTER (WHERE NOT x.head),
               array_agg(x.epoch) FILTER (WHERE NOT x.head),
               array_agg(x.lat) FILTER (WHERE NOT x.head),
               array_agg(x.lon) FILTER (WHERE NOT x.head),
               array_agg(x.speed) FILTER (WHERE NOT x.head),
               array_agg(x.bearing) FILTER (WHERE NOT x.head),
               array_agg(x.alt) FILTER (WHERE NOT x.head),
               array_agg(x.acc) FILTER (WHERE NOT x.head),
               array_agg(x.batt) FILTER (WHERE NOT x.head),
               array_agg(x.lock) FILTER (WHERE NOT x.head),
               array_agg(x.alarm) FILTER (WHERE NOT x.head)
        INTO h_i, h_seal, h_ts, h_lat, h_lon, h_speed, h_bearing, h_alt, h_acc, h_batt, h_lock,
             h_alarm, t_i, t_seal, t_ts, t_lat, t_lon, t_speed, t_bearing, t_alt, t_acc, t_batt,
             t_lock, t_alarm
        FROM (SELECT e.*, row_number() OVER (PARTITION BY e.seal_id ORDER BY e.epoch, e.i) = 1
                              AS head
              FROM unnest(r.e_i, r.e_seal, r.e_ts, r.e_lat, r.e_lon, r.e_speed, r.e_bearing,
                          r.e_alt, r.e_acc, r.e_batt, r.e_lock, r.e_alarm)
                   AS e(i, seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock,
                        alarm)) x;
        RETURN QUERY SELECT * FROM corridor.ingest_loud(h_i, h_seal, h_ts, h_lat, h_lon, h_speed,
            h_bearing, h_alt, h_acc, h_batt, h_lock, h_alarm);

        -- round 2: the seals' later fixes
        IF t_i IS NOT NULL THEN
            SELECT * INTO r FROM corridor.ingest_quiet(t_seal, t_ts, t_lat, t_lon, t_speed,
                t_bearing, t_alt, t_acc, t_batt, t_lock, t_alarm, t_i);
            RETURN QUERY SELECT 'position'::text, u.i, NULL::text FROM unnest(r.pos_i) u(i);
            n_q := n_q + r.n_quiet;
            IF r.e_i IS NOT NULL THEN
                RETURN QUERY SELECT * FROM corridor.ingest_loud(r.e_i, r.e_seal, r.e_ts,
                    r.e_lat, r.e_lon, r.e_speed, r.e_bearing, r.e_alt, r.e_acc, r.e_batt,
                    r.e_lock, r.e_alarm);
            END IF;
        END IF;
    END IF;
    IF n_q > 0 THEN
        RETURN QUERY SELECT 'quiet'::text, n_q, NULL::text;
    END IF;
END $$;
