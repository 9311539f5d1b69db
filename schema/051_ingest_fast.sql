-- 051_ingest_fast: corridor.ingest_batch, the one call per micro-batch of observations:
-- the contract of 002_ingest.sql and the trip rules described in 005_trip_rules.sql
-- (docs/rules.md), made fast (docs/performance.md):
--   - the batch's rows come from corridor.batch_rows, a function declared ROWS 1000: the
--     generic plan then knows a batch is large and joins its CTEs by hash, where it used
--     to nest loops over CTE scans (quadratic: 7 s for a batch of 1,000 fixes with 10,000
--     fences and trips);
--   - the fences containing each fix come from the 0.01 degree grid (050_grid.sql) once per
--     fix, as arrays carried on the fix (inside a fence = fence_id = ANY (fences); a fix in
--     an authorised place = kinds overlap), instead of a GiST probe and joins against hits;
--   - the country comes from the 0.1 degree country grid;
--   - batches lock their seals, not 1,024 shared buckets: two workers' batches run at once;
--   - the position messages are built in the statement (no function call per row);
--   - fence transitions come from each fix's entered and left fences (arrays: the fix's
--     fences against the previous fix's or the stored state), with no join of one CTE with
--     another: with no sizes known the planner nests such joins, and the (seal, fence) x
--     fixes join of 005 alone took 540 ms of a 640 ms batch.
-- Everything else: the locks, positions, latest, fence transitions, the trip walk (005's
-- header), evidence and incidents.

-- The batch's columns as rows with their 1-based index. A plpgsql function so that the
-- planner keeps its ROWS estimate (a SQL function would be inlined to an unnest of
-- parameters, estimated at a few rows).
CREATE FUNCTION corridor.batch_rows(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (seal_id text, epoch float8, lat float8, lon float8, speed real, bearing real,
               alt real, acc real, batt real, lock text, alarm text, i bigint)
LANGUAGE plpgsql IMMUTABLE ROWS 1000 AS $$
BEGIN
    RETURN QUERY SELECT * FROM unnest(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt,
                                      p_acc, p_batt, p_lock, p_alarm) WITH ORDINALITY;
END $$;

CREATE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- Two batches that share no seal must not wait for each other (PERF.md: about one
    -- connection per core, split by seal). 005 locked 1,024 buckets exclusively: two
    -- batches of 1,000 seals share most buckets, so the workers' batches ran one after
    -- the other. Now: the buckets in SHARE mode (they still exclude trip_arm and
    -- trip_disarm, which take their seal's bucket exclusively), then one exclusive lock per
    -- seal (its full hash), both in a fixed order so batches cannot deadlock. At most
    -- 1,024 + batch_max locks per batch: max_locks_per_transaction x max_connections must
    -- cover workers x (1,024 + batch_max).
    PERFORM pg_advisory_xact_lock_shared(1129270852, b)
    FROM (SELECT DISTINCT (hashtext(s) & 1023) AS b FROM unnest(p_seal) s ORDER BY 1) x;
    PERFORM pg_advisory_xact_lock(1129270856, h)
    FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_seal) s ORDER BY 1) x;

    RETURN QUERY
    WITH RECURSIVE raw AS (
        SELECT r.seal_id, to_timestamp(r.epoch) AS ts, r.lat, r.lon, r.speed, r.bearing,
               r.alt, r.acc, r.batt, r.lock, r.alarm, r.i, s.id IS NOT NULL AS known
        FROM corridor.batch_rows(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt,
                                 p_acc, p_batt, p_lock, p_alarm)
             AS r(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
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
    -- with the live fences that contain each fix (grid probe, 050_grid.sql)
    fresh AS (
        SELECT u.*, z.fences, z.fkinds
        FROM uniq u JOIN ins USING (seal_id, ts)
        CROSS JOIN LATERAL (
            SELECT coalesce(array_agg(h.id), '{}') AS fences,
                   coalesce(array_agg(h.kind), '{}') AS fkinds
            FROM (SELECT c.fence_id AS id, c.kind FROM corridor.geofence_cells c
                  WHERE c.cell = corridor.cell01(u.lat, u.lon)
                    AND (c.is_full OR ST_Intersects(c.geom,
                                                    ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)))
                  UNION ALL
                  SELECT g.id, g.kind FROM corridor.geofences g
                  WHERE g.deleted_at IS NULL AND g.gridless
                    AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326))) h
        ) z
        WHERE NOT ins.late
    ),
    -- Each fix against the one before it of the same seal (the first: against the stored
    -- fence state): the fences it entered and left. A transition of (seal, fence) happens
    -- exactly where the fence is in one set and not the other, which is what 005 computed
    -- by joining every (seal, fence) pair with every fix of the seal; arrays on the fix
    -- need no join of one CTE with another (the planner, knowing no sizes, nests those).
    steps AS (
        SELECT b.*,
               ARRAY(SELECT e FROM unnest(b.fences) e WHERE NOT e = ANY (b.before)) AS entered,
               ARRAY(SELECT e FROM unnest(b.before) e WHERE NOT e = ANY (b.fences)) AS exited
        FROM (SELECT f.*,
                     lag(f.fences, 1, ARRAY(SELECT fs.fence_id FROM corridor.fence_state fs
                                            WHERE fs.seal_id = f.seal_id))
                         OVER (PARTITION BY f.seal_id ORDER BY f.ts) AS before,
                     last_value(f.fences) OVER (PARTITION BY f.seal_id ORDER BY f.ts
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_fences,
                     row_number() OVER (PARTITION BY f.seal_id ORDER BY f.ts DESC) = 1 AS is_last
              FROM fresh f) b
    ),
    trans AS (
        SELECT s.seal_id, e.fence_id, s.ts, s.lat, s.lon, e.inside,
               e.fence_id = ANY (s.last_fences) AS final_inside
        FROM steps s
        CROSS JOIN LATERAL (SELECT x, true FROM unnest(s.entered) x
                            UNION ALL
                            SELECT x, false FROM unnest(s.exited) x) e(fence_id, inside)
        WHERE cardinality(s.entered) + cardinality(s.exited) > 0
    ),
    -- what the seal holds and is not inside at its last fix any more
    fs_out AS (
        DELETE FROM corridor.fence_state fs USING steps s
        WHERE s.is_last AND fs.seal_id = s.seal_id AND NOT fs.fence_id = ANY (s.fences)
    ),
    fs_in AS (
        INSERT INTO corridor.fence_state AS fs (seal_id, fence_id, entered_at)
        SELECT t.seal_id, t.fence_id, max(t.ts)
        FROM trans t
        WHERE t.final_inside AND t.inside
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
    ,
    -- ---- trip rules (004_trips.sql, docs/rules.md) ---------------------------------------
    -- fresh fixes of seals on an armed trip, with the per-fix spatial facts computed once
    tobs AS (
        SELECT f.i::int AS i, f.seal_id, f.ts, f.lat, f.lon, f.speed, f.batt, f.lock, f.alarm,
               (row_number() OVER (PARTITION BY f.seal_id ORDER BY f.ts))::int AS rn,
               corridor.in_corridor(r.geom_s, r.scale, r.inner_deg, r.outer_deg, r.geog,
                                    r.corridor_m, f.lat, f.lon) AS inside,
               (f.fkinds && r.stop_allowed_kinds OR s.destination_id = ANY (f.fences))
                   AS authorised,
               cp.seq AS cp_seq, cp.max_leg_minutes AS cp_max_leg,
               coalesce(s.destination_id = ANY (f.entered), false) AS dest_enter,
               (SELECT c.iso2 FROM corridor.country_cells c
                WHERE c.cell = corridor.cell10(f.lat, f.lon)
                  AND (c.is_full OR ST_Intersects(c.geom,
                                                  ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326)))
                LIMIT 1) AS country,
               r.deviation_grace_obs, r.deviation_grace_s, r.stop_minutes, r.stop_radius_m,
               r.stop_speed_kmh, r.max_speed_kmh, r.low_battery_pct,
               (SELECT count(*) FROM corridor.route_checkpoints c
                WHERE c.route_id = s.route_id)::int AS n_cps
        FROM steps f
        JOIN corridor.trip_state s ON s.seal_id = f.seal_id
        JOIN corridor.routes r ON r.id = s.route_id
        LEFT JOIN LATERAL (
            -- a checkpoint fence entered by this fix (the expected one first)
            SELECT c.seq, c.max_leg_minutes
            FROM corridor.route_checkpoints c
            WHERE c.route_id = s.route_id AND c.geofence_id = ANY (f.entered)
            ORDER BY c.seq < s.next_seq, c.seq LIMIT 1) cp ON true
    ),
    -- Each seal's fixes in device time order, carrying the rule state from fix to fix: the
    -- anchor row is the stored trip_state, step k handles the k-th fix of every seal at
    -- once (set-based; a micro-batch rarely holds more than one or two fixes per seal).
    walk AS (
        SELECT s.seal_id, s.trip_id, 0 AS rn, s.last_ts AS ts, s.last_lat AS lat,
               s.last_lon AS lon, s.out_since, s.out_count, s.deviating, s.stop_lat, s.stop_lon,
               s.stop_since, s.stop_ok, s.stop_raised, s.next_seq, s.leg_started_at,
               s.leg_overdue_seq, s.skipped, s.country, s.sealopen, s.tampered, s.lowbatt,
               s.signal_lost, s.arrived_at,
               false AS e_dev, false AS e_ret, NULL::timestamptz AS run_since,
               NULL::int AS run_count, false AS e_stop, NULL::int AS e_pass,
               false AS pass_in_order, NULL::int[] AS e_skip, false AS e_leg_late,
               false AS e_ooo, false AS e_open, false AS e_tamper, false AS e_low,
               NULL::float8 AS e_speed, NULL::float8 AS step_m, NULL::float8 AS step_s,
               NULL::text AS e_border, NULL::float8 AS prev_lat, NULL::float8 AS prev_lon,
               NULL::timestamptz AS prev_ts, false AS e_arrive, false AS e_restored,
               NULL::timestamptz AS leg_from, NULL::float8 AS anchor_m,
               NULL::real AS batt, NULL::text AS lock, NULL::text AS alarm
        FROM corridor.trip_state s WHERE s.seal_id IN (SELECT o.seal_id FROM tobs o)
      UNION ALL
        SELECT w.seal_id, w.trip_id, o.rn, o.ts, o.lat, o.lon,
               b.os, b.oc, CASE WHEN a.outside THEN w.deviating OR c.qual ELSE false END,
               CASE WHEN c.staying THEN w.stop_lat WHEN b.slow THEN o.lat END,
               CASE WHEN c.staying THEN w.stop_lon WHEN b.slow THEN o.lon END,
               CASE WHEN c.staying THEN w.stop_since WHEN b.slow THEN o.ts END,
               o.authorised,
               c.staying AND (w.stop_raised OR c.stop_due),
               CASE WHEN c.passing THEN o.cp_seq + 1
                    WHEN o.dest_enter THEN greatest(w.next_seq, o.n_cps + 1)
                    ELSE w.next_seq END,
               CASE WHEN c.passing THEN o.ts ELSE w.leg_started_at END,
               CASE WHEN c.leg_late THEN o.cp_seq ELSE w.leg_overdue_seq END,
               array_remove(w.skipped, CASE WHEN c.ooo THEN o.cp_seq END)
                   || coalesce(c.skip, '{}'),
               coalesce(o.country, w.country),
               coalesce(o.lock = 'open', w.sealopen),
               coalesce(o.alarm = 'tampering', false),
               coalesce(o.batt < o.low_battery_pct, w.lowbatt),
               false,
               coalesce(w.arrived_at, CASE WHEN o.dest_enter THEN o.ts END),
               c.qual AND NOT w.deviating,
               NOT a.outside AND w.deviating,
               CASE WHEN a.outside THEN b.os ELSE w.out_since END,
               CASE WHEN a.outside THEN b.oc ELSE w.out_count END,
               c.staying AND c.stop_due AND NOT w.stop_raised,
               CASE WHEN c.passing OR c.ooo THEN o.cp_seq END,
               c.passing AND o.cp_seq = w.next_seq,
               c.skip, c.leg_late, c.ooo,
               coalesce(o.lock = 'open' AND NOT w.sealopen, false),
               coalesce(o.alarm = 'tampering' AND NOT w.tampered, false),
               coalesce(o.batt < o.low_battery_pct AND NOT w.lowbatt, false),
               CASE WHEN a.step_m > 1000 AND a.kmh > o.max_speed_kmh THEN a.kmh END,
               a.step_m, a.step_s,
               CASE WHEN o.country <> w.country THEN w.country END,
               w.lat, w.lon, w.ts,
               o.dest_enter AND w.arrived_at IS NULL,
               w.signal_lost,
               w.leg_started_at,
               a.anchor_m,
               o.batt, o.lock, o.alarm
        FROM walk w
        JOIN tobs o ON o.seal_id = w.seal_id AND o.rn = w.rn + 1
        CROSS JOIN LATERAL (
            SELECT NOT o.inside AS outside, d.step_m, d.step_s,
                   d.step_m / nullif(d.step_s, 0) * 3.6 AS kmh,
                   corridor.dist_m(w.stop_lat, w.stop_lon, o.lat, o.lon) AS anchor_m
            FROM (SELECT corridor.dist_m(w.lat, w.lon, o.lat, o.lon) AS step_m,
                         extract(epoch FROM o.ts - w.ts)::float8 AS step_s) d) a
        CROSS JOIN LATERAL (
            SELECT coalesce(coalesce(o.speed::float8, a.kmh) < o.stop_speed_kmh, false) AS slow,
                   CASE WHEN a.outside THEN w.out_count + 1 ELSE 0 END AS oc,
                   CASE WHEN a.outside THEN
                       CASE WHEN w.out_count > 0 THEN w.out_since ELSE o.ts END END AS os) b
        CROSS JOIN LATERAL (
            SELECT b.slow AND w.stop_since IS NOT NULL
                       AND coalesce(a.anchor_m <= o.stop_radius_m, false) AS staying,
                   a.outside AND b.oc >= o.deviation_grace_obs
                       AND o.ts - b.os >= make_interval(secs => o.deviation_grace_s) AS qual,
                   coalesce(o.cp_seq >= w.next_seq, false) AS passing,
                   coalesce(o.cp_seq < w.next_seq AND o.cp_seq = ANY (w.skipped), false) AS ooo,
                   coalesce(NOT o.authorised
                            AND o.ts - w.stop_since >= make_interval(mins => o.stop_minutes),
                            false) AS stop_due,
                   CASE WHEN o.cp_seq > w.next_seq
                            THEN ARRAY(SELECT generate_series(w.next_seq, o.cp_seq - 1))
                        WHEN o.dest_enter AND w.next_seq <= o.n_cps
                            THEN ARRAY(SELECT generate_series(w.next_seq, o.n_cps)) END AS skip,
                   coalesce(o.cp_seq >= w.next_seq AND o.cp_max_leg IS NOT NULL
                            AND o.ts - w.leg_started_at > make_interval(mins => o.cp_max_leg)
                            AND w.leg_overdue_seq < o.cp_seq, false) AS leg_late) c
    ),
    -- the last state of each seal, written back once
    wfin AS (
        SELECT DISTINCT ON (w.seal_id) w.* FROM walk w WHERE w.rn > 0
        ORDER BY w.seal_id, w.rn DESC
    ),
    -- the few fixes that raised something, with what their evidence needs
    hot AS (
        SELECT w.*, s.route_id, s.origin_country, s.exit_post_id,
               s.destination_id, r.geog, r.corridor_m, r.stop_minutes, r.low_battery_pct,
               r.max_speed_kmh, r.border_post_radius_m, r.deviation_grace_s,
               r.deviation_grace_obs, r.stop_radius_m
        FROM walk w
        JOIN corridor.trip_state s ON s.seal_id = w.seal_id
        JOIN corridor.routes r ON r.id = s.route_id
        WHERE w.rn > 0 AND (w.e_dev OR w.e_ret OR w.e_stop OR w.e_pass IS NOT NULL
                            OR w.e_skip IS NOT NULL OR w.e_leg_late OR w.e_open OR w.e_tamper
                            OR w.e_low OR w.e_speed IS NOT NULL OR w.e_border IS NOT NULL
                            OR w.e_arrive OR w.e_restored)
    ),
    -- a country change: the crossing is the segment from the last fix to this one
    border AS (
        SELECT h.*, np.id AS post_id, np.name AS post_name, np.m AS post_m,
               dp.name AS declared_name, dp.m AS declared_m,
               h.e_border = h.origin_country AND h.exit_post_id IS NOT NULL
                   AND coalesce(dp.m > h.border_post_radius_m, true) AS undeclared
        FROM hot h
        CROSS JOIN LATERAL (
            SELECT ST_SetSRID(ST_MakeLine(ST_MakePoint(coalesce(h.prev_lon, h.lon),
                                                       coalesce(h.prev_lat, h.lat)),
                                          ST_MakePoint(h.lon, h.lat)), 4326) AS seg) x
        LEFT JOIN LATERAL (
            SELECT g.id, g.name, ST_Distance(g.geom::geography, x.seg::geography) AS m
            FROM corridor.geofences g
            WHERE g.kind = 'border_post' AND g.deleted_at IS NULL
            ORDER BY g.geom <-> x.seg LIMIT 1) np ON true
        LEFT JOIN LATERAL (
            SELECT g.name, ST_Distance(g.geom::geography, x.seg::geography) AS m
            FROM corridor.geofences g WHERE g.id = h.exit_post_id) dp ON true
        WHERE h.e_border IS NOT NULL
    ),
    -- one event per rule that fired; the evidence is built only for those
    tev AS (
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'route_deviation' AS kind,
               'route_deviation' AS rule, NULL::bigint AS fence_id, jsonb_build_object(
                'distance_m', round(ST_Distance(h.geog, ST_SetSRID(ST_MakePoint(h.lon, h.lat),
                                                                   4326)::geography)::numeric, 1),
                'corridor_m', h.corridor_m, 'outside_since', corridor.iso(h.run_since),
                'observations_outside', h.run_count,
                'seconds_outside', extract(epoch FROM h.ts - h.run_since),
                'grace_s', h.deviation_grace_s, 'grace_obs', h.deviation_grace_obs) AS details
        FROM hot h WHERE h.e_dev
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'route_return', NULL, NULL,
               jsonb_build_object(
                'distance_m', round(ST_Distance(h.geog, ST_SetSRID(ST_MakePoint(h.lon, h.lat),
                                                                   4326)::geography)::numeric, 1),
                'corridor_m', h.corridor_m, 'outside_since', corridor.iso(h.run_since),
                'seconds_outside', extract(epoch FROM h.ts - h.run_since))
        FROM hot h WHERE h.e_ret
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'unauthorised_stop',
               'unauthorised_stop', NULL, jsonb_build_object(
                'stationary_since', corridor.iso(h.stop_since),
                'minutes', round((extract(epoch FROM h.ts - h.stop_since) / 60)::numeric, 1),
                'anchor_lat', h.stop_lat, 'anchor_lon', h.stop_lon,
                'distance_from_anchor_m', round(h.anchor_m::numeric, 1),
                'radius_m', h.stop_radius_m, 'stop_minutes', h.stop_minutes)
        FROM hot h WHERE h.e_stop
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'checkpoint_skipped',
               'checkpoint_skipped', NULL, jsonb_build_object(
                'skipped', to_jsonb(h.e_skip),
                'skipped_names', (SELECT jsonb_agg(g.name ORDER BY c.seq)
                                  FROM corridor.route_checkpoints c
                                  JOIN corridor.geofences g ON g.id = c.geofence_id
                                  WHERE c.route_id = h.route_id AND c.seq = ANY (h.e_skip)),
                'reached', coalesce(h.e_pass::text, 'destination'))
        FROM hot h WHERE h.e_skip IS NOT NULL
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon,
               CASE WHEN h.e_ooo THEN 'checkpoint_out_of_order' ELSE 'checkpoint_passed' END,
               CASE WHEN h.e_ooo THEN 'checkpoint_skipped' END, c.geofence_id,
               CASE WHEN h.e_ooo THEN jsonb_build_object('seq', h.e_pass, 'expected', h.next_seq)
                    ELSE jsonb_build_object('seq', h.e_pass, 'in_order', h.pass_in_order,
                                            'leg_started_at', corridor.iso(h.leg_from),
                                            'leg_minutes',
                                            round((extract(epoch FROM h.ts - h.leg_from)
                                                   / 60)::numeric, 1)) END
        FROM hot h
        JOIN corridor.route_checkpoints c ON c.route_id = h.route_id AND c.seq = h.e_pass
        WHERE h.e_pass IS NOT NULL
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'leg_overdue', 'leg_overdue',
               c.geofence_id, jsonb_build_object(
                'seq', h.e_pass, 'checkpoint', g.name, 'leg_started_at', corridor.iso(h.leg_from),
                'max_leg_minutes', c.max_leg_minutes,
                'leg_minutes', round((extract(epoch FROM h.ts - h.leg_from) / 60)::numeric, 1),
                'passed_at', corridor.iso(h.ts))
        FROM hot h
        JOIN corridor.route_checkpoints c ON c.route_id = h.route_id AND c.seq = h.e_pass
        JOIN corridor.geofences g ON g.id = c.geofence_id
        WHERE h.e_leg_late
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'seal_opened', 'seal_opened', NULL,
               jsonb_build_object('lock', h.lock)
        FROM hot h WHERE h.e_open
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'seal_tampered', 'seal_tampered', NULL,
               jsonb_build_object('alarm', h.alarm)
        FROM hot h WHERE h.e_tamper
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'low_battery', 'low_battery', NULL,
               jsonb_build_object('battery', h.batt, 'threshold', h.low_battery_pct)
        FROM hot h WHERE h.e_low
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'impossible_movement',
               'impossible_movement', NULL,
               jsonb_build_object('implied_kmh', round(h.e_speed::numeric, 1),
                                  'distance_m', round(h.step_m::numeric, 1),
                                  'seconds', h.step_s, 'max_speed_kmh', h.max_speed_kmh,
                                  'from_lat', h.prev_lat, 'from_lon', h.prev_lon,
                                  'from_time', corridor.iso(h.prev_ts))
        FROM hot h WHERE h.e_speed IS NOT NULL
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'destination_arrival', NULL,
               h.destination_id, '{}'::jsonb
        FROM hot h WHERE h.e_arrive
        UNION ALL
        SELECT h.seal_id, h.trip_id, h.ts, h.lat, h.lon, 'signal_restored', NULL, NULL,
               jsonb_build_object('last_fix_before', corridor.iso(h.prev_ts))
        FROM hot h WHERE h.e_restored
        UNION ALL
        SELECT b.seal_id, b.trip_id, b.ts, b.lat, b.lon, e.kind, e.rule, b.post_id, e.details
        FROM border b
        CROSS JOIN LATERAL (VALUES
            (true, 'border_crossing', NULL::text),
            (b.undeclared, 'undeclared_border_exit', 'undeclared_border_exit')) e0(hit, kind, rule)
        CROSS JOIN LATERAL (SELECT e0.kind, e0.rule, jsonb_build_object(
            'from_country', b.e_border, 'to_country', b.country,
            'last_fix_before', corridor.iso(b.prev_ts),
            'last_lat_before', b.prev_lat, 'last_lon_before', b.prev_lon,
            'border_post_id', b.post_id, 'border_post', b.post_name,
            'border_post_distance_m', round(b.post_m::numeric, 1),
            'declared_border_post_id', b.exit_post_id, 'declared_border_post', b.declared_name,
            'declared_distance_m', round(b.declared_m::numeric, 1),
            'radius_m', b.border_post_radius_m) AS details) e
        WHERE e0.hit
    ),
    tev_ins AS (
        INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
        SELECT e.seal_id, e.trip_id, e.kind, e.fence_id, e.ts, e.lat, e.lon, e.details FROM tev e
    ),
    -- one open incident per (trip, rule): the first event of the batch opens it
    tinc AS (
        INSERT INTO corridor.incidents AS n (rule, severity, subject, seal_id, trip_id, fence_id,
                                             opened_at, lat, lon, event_count, details)
        SELECT DISTINCT ON (e.trip_id, e.rule) e.rule, ru.severity, e.trip_id::text, e.seal_id,
               e.trip_id, e.fence_id, e.ts, e.lat, e.lon,
               (count(*) OVER (PARTITION BY e.trip_id, e.rule))::int,
               e.details || jsonb_build_object('event', e.kind, 'time', corridor.iso(e.ts))
        FROM tev e JOIN corridor.rules ru ON ru.code = e.rule
        ORDER BY e.trip_id, e.rule, e.ts
        ON CONFLICT (subject, rule) WHERE status <> 'resolved'
        DO UPDATE SET event_count = n.event_count + EXCLUDED.event_count, updated_at = now()
        RETURNING n.*
    ),
    pass_ins AS (
        INSERT INTO corridor.checkpoint_passages (trip_id, seal_id, seq, geofence_id, passed_at,
                                                  lat, lon, in_order)
        SELECT h.trip_id, h.seal_id, h.e_pass, c.geofence_id, h.ts, h.lat, h.lon,
               h.pass_in_order
        FROM hot h
        JOIN corridor.route_checkpoints c ON c.route_id = h.route_id AND c.seq = h.e_pass
        WHERE h.e_pass IS NOT NULL
        ON CONFLICT DO NOTHING
    ),
    legs_close AS (
        UPDATE corridor.trip_legs l SET exited_at = b.ts
        FROM (SELECT DISTINCT ON (trip_id) trip_id, ts FROM border ORDER BY trip_id, ts) b
        WHERE l.trip_id = b.trip_id AND l.exited_at IS NULL
    ),
    legs_open AS (
        INSERT INTO corridor.trip_legs (trip_id, seal_id, country, entered_at, entry_post_id,
                                        entry_post_distance_m, entry_lat, entry_lon, exited_at)
        SELECT b.trip_id, b.seal_id, b.country, b.ts, b.post_id, b.post_m, b.lat, b.lon,
               lead(b.ts) OVER (PARTITION BY b.trip_id ORDER BY b.ts)
        FROM border b
    ),
    st_up AS (
        UPDATE corridor.trip_state s
        SET last_ts = f.ts, last_lat = f.lat, last_lon = f.lon, out_since = f.out_since,
            out_count = f.out_count, deviating = f.deviating, stop_lat = f.stop_lat,
            stop_lon = f.stop_lon, stop_since = f.stop_since, stop_ok = f.stop_ok,
            -- the sweep may have raised this stop meanwhile
            stop_raised = f.stop_raised OR (s.stop_raised AND s.stop_since = f.stop_since),
            next_seq = f.next_seq, leg_started_at = f.leg_started_at,
            leg_overdue_seq = greatest(s.leg_overdue_seq, f.leg_overdue_seq),
            skipped = f.skipped, country = f.country, sealopen = f.sealopen,
            tampered = f.tampered, lowbatt = f.lowbatt, signal_lost = false,
            arrived_at = f.arrived_at
        FROM wfin f
        WHERE s.seal_id = f.seal_id AND s.trip_id = f.trip_id
    )

    SELECT 'reject', r.i::int, 'unknown seal id "' || r.seal_id || '"' FROM raw r WHERE NOT r.known
    UNION ALL
    -- the position message written out rather than through corridor.position_json: a SQL
    -- function call per row cost ~250 us here (a third of a batch) when it was not inlined
    SELECT 'position', NULL,
           json_build_object('type', 'position', 'seal_id', l.seal_id,
                             'time', to_char(l.ts AT TIME ZONE 'UTC',
                                             'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'lat', l.lat, 'lon', l.lon, 'speed_kmh', l.speed_kmh,
                             'bearing', l.bearing, 'battery', l.battery, 'lock', l.lock,
                             'alarm', l.alarm)::text
    FROM lat_up l
    UNION ALL
    SELECT 'incident', NULL, corridor.incident_json(n) FROM inc n
    UNION ALL
    SELECT 'incident', NULL, corridor.incident_json(n) FROM tinc n;
END $$;
