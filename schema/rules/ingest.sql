-- rules/ingest.sql: the batch of fixes, from the worker's call to every rule's outcome.
--
-- One fix from the socket to the websocket (the C side: ingest/worker.c, web/web.c):
--   1. A protocol module decodes a frame (ingest/jt808_conn.c, osmand.c) into a geo_obs and
--      hands it to its worker (ingest_submit, ingest/worker.c), which adds it to the
--      open batch (geo_batch_add, geofence/geo_batch.c).
--   2. When the batch is full or --batch-ms passed (flush), the worker sorts out the fixes
--      its copy of the safe regions finds quiet (geofence/geo_quiet.c) and sends the batch
--      as one pipelined call (geo_batch_send): corridor.ingest_hinted below.
--   3. ingest_hinted stores the worker's quiet fixes if the seal's latest row is still what
--      the copy says; the rest goes through ingest_rounds: ingest_quiet (the database's own
--      quiet test: store, do not evaluate) then ingest_loud (full evaluation,
--      ingest_evaluate, and a new safe region, regions.sql).
--   4. ingest_evaluate runs every per-fix rule in one statement: fences (fences.sql),
--      route corridor and deviation (routes.sql's in_corridor), unauthorised stops,
--      checkpoints and leg times, country crossings, speed and impossible movement, seal
--      opened or tampered, low battery, destination arrival; it writes events, incidents,
--      fence_state, trip_state, trip_legs, checkpoint_passages and latest.
--   5. The rows returned ('position', 'incident', 'region', 'reject', ...) come back to
--      the worker (geo_batch_result), which acknowledges the device only now, after the
--      commit, and publishes positions and incidents over nng (ingest_worker_publish).
--   6. The web gateway pulls them (web/web.c) and sends them on /ws to the map.
-- Rules that fire on time passing rather than on a fix (overdue, silent) are time.sql's.
--
-- Ordering: only fixes newer than a seal's latest are evaluated, in device time order, so a
-- late or re-sent fix is stored but never makes a false transition. Two connections may
-- carry the same seal, so a batch locks its seals first (ingest_lock, advisory locks in a
-- fixed order). p_ts holds device times as Unix seconds.
-- Reads: seals, latest, fence_state, trip_state, routes, route_checkpoints, geofences,
-- geofence_cells, country_parts, country_cells, rules, safe_gen. Writes: positions, latest,
-- events, incidents, fence_state, trip_state, trip_legs, checkpoint_passages, and each
-- position's link in its seal's hash chain with the chain's head in latest (evidence.sql's
-- chain_next, in the statement that stores the positions).

CREATE OR REPLACE FUNCTION corridor.position_json(seal_id text, ts timestamptz, lat float8, lon float8,
                                       speed real, bearing real, battery real, lock text,
                                       alarm text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'position', 'seal_id', seal_id,
                             'time', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                             'lat', lat, 'lon', lon, 'speed_kmh', speed, 'bearing', bearing,
                             'battery', battery, 'lock', lock, 'alarm', alarm)::text
$$;

CREATE OR REPLACE FUNCTION corridor.batch_rows(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (seal_id text, epoch float8, lat float8, lon float8, speed real, bearing real,
               alt real, acc real, batt real, lock text, alarm text, i bigint)
LANGUAGE plpgsql IMMUTABLE ROWS 1000 AS $$
BEGIN
    RETURN QUERY SELECT * FROM unnest(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt,
                                      p_acc, p_batt, p_lock, p_alarm) WITH ORDINALITY;
END $$;

CREATE OR REPLACE FUNCTION corridor.mark_backfilled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seal_id IS NOT NULL AND current_setting('corridor.in_batch', true) = 'on'
       AND now() - NEW.ts > interval '5 minutes' THEN
        NEW.details := NEW.details || jsonb_build_object(
            'backfilled', true, 'delay_s', round(extract(epoch FROM now() - NEW.ts)));
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER events_backfilled BEFORE INSERT ON corridor.events
    FOR EACH ROW EXECUTE FUNCTION corridor.mark_backfilled();

-- The locks of ingest_evaluate for every seal of a batch, taken before any region or
-- state is read: a batch of another worker touching the same seal waits.
CREATE OR REPLACE FUNCTION corridor.ingest_lock(p_seal text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1129270852, b)
    FROM (SELECT DISTINCT (hashtext(s) & 1023) AS b FROM unnest(p_seal) s ORDER BY 1) x;
    PERFORM pg_advisory_xact_lock(1129270856, h)
    FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_seal) s ORDER BY 1) x;
END $$;

CREATE OR REPLACE FUNCTION corridor.ingest_batch(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF coalesce(current_setting('corridor.safe_regions', true), '') = 'off' THEN
        RETURN QUERY SELECT * FROM corridor.ingest_evaluate(p_seal, p_ts, p_lat, p_lon, p_speed,
            p_bearing, p_alt, p_acc, p_batt, p_lock, p_alarm);
        RETURN;
    END IF;
    PERFORM corridor.ingest_lock(p_seal);
    RETURN QUERY SELECT * FROM corridor.ingest_rounds(p_seal, p_ts, p_lat, p_lon, p_speed,
        p_bearing, p_alt, p_acc, p_batt, p_lock, p_alarm,
        ARRAY(SELECT generate_series(1, cardinality(p_seal))));
END $$;

CREATE OR REPLACE FUNCTION corridor.ingest_rounds(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[],
    p_i int[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    r record;
    n_q int := 0;
    h_i int[]; h_seal text[]; h_ts float8[]; h_lat float8[]; h_lon float8[]; h_speed real[];
    h_bearing real[]; h_alt real[]; h_acc real[]; h_batt real[]; h_lock text[];
    h_alarm text[];
    t_i int[]; t_seal text[]; t_ts float8[]; t_lat float8[]; t_lon float8[]; t_speed real[];
    t_bearing real[]; t_alt real[]; t_acc real[]; t_batt real[]; t_lock text[];
    t_alarm text[];
BEGIN
    -- round 1: every fix
    SELECT * INTO r FROM corridor.ingest_quiet(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing,
        p_alt, p_acc, p_batt, p_lock, p_alarm, p_i);
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
        UPDATE corridor.latest SET safe_ver = safe_ver + 1 WHERE seal_id = ANY (h_seal);

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
                UPDATE corridor.latest SET safe_ver = safe_ver + 1 WHERE seal_id = ANY (r.e_seal);
            END IF;
        END IF;
    END IF;
    IF n_q > 0 THEN
        RETURN QUERY SELECT 'quiet'::text, n_q, NULL::text;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION corridor.ingest_hinted(
    p_gen bigint,
    f_seal text[], f_ts float8[], f_lat float8[], f_lon float8[], f_speed real[],
    f_bearing real[], f_alt real[], f_acc real[], f_batt real[], f_lock text[], f_alarm text[],
    f_i int[], f_last boolean[], f_prev float8[], f_ver bigint[],
    r_seal text[], r_ts float8[], r_lat float8[], r_lon float8[], r_speed real[],
    r_bearing real[], r_alt real[], r_acc real[], r_batt real[], r_lock text[], r_alarm text[],
    r_i int[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    ok text[];
    ok_i int[];
    n_f int := 0;
BEGIN
    IF coalesce(current_setting('corridor.safe_regions', true), '') = 'off' THEN
        RETURN QUERY SELECT v.kind, (f_i || r_i)[v.idx], v.body
        FROM corridor.ingest_evaluate(f_seal || r_seal, f_ts || r_ts, f_lat || r_lat,
            f_lon || r_lon, f_speed || r_speed, f_bearing || r_bearing, f_alt || r_alt,
            f_acc || r_acc, f_batt || r_batt, f_lock || r_lock, f_alarm || r_alarm) v;
        RETURN QUERY SELECT 'gen'::text, 0, g.gen::text FROM corridor.safe_gen g;
        RETURN;
    END IF;
    PERFORM corridor.ingest_lock(f_seal || r_seal);

    IF cardinality(f_seal) > 0 THEN
        -- the worker's copy is current: same newest fix, same region, current generation;
        -- then the seal's newest fix becomes its latest, and every one of its fixes is stored
        WITH RECURSIVE u AS (
            SELECT u.*, row_number() OVER (PARTITION BY u.seal_id ORDER BY u.epoch, u.i) AS rn
            FROM unnest(f_seal, f_ts, f_lat, f_lon, f_speed, f_bearing, f_alt, f_acc,
                        f_batt, f_lock, f_alarm, f_i, f_last, f_prev, f_ver)
                AS u(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i,
                     last, prev, ver)
        ), lk AS (
            -- every fix with its link in its seal's hash chain (evidence.sql, chain_content):
            -- the first onto the seal's head in latest (read before up below writes it: up
            -- reads these rows), the k-th onto the (k-1)-th; seq and link NULL when
            -- corridor.chain is off. The rows carry the fixes, so that nothing joins them
            -- back by index (a generic plan nested that join: n x n). A seal whose copy is
            -- out of date is chained again with the rest.
            SELECT u.seal_id, u.epoch, u.lat, u.lon, u.speed, u.bearing, u.alt, u.acc, u.batt,
                   u.lock, u.alarm, u.i, u.last, u.prev, u.ver, u.rn, x.seq,
                   CASE WHEN x.seq IS NOT NULL THEN
                       sha256(corridor.chain_content(x.seq, u.seal_id, to_timestamp(u.epoch),
                                                     u.lat, u.lon, u.speed, u.bearing, u.alt,
                                                     u.acc, u.batt, u.lock, u.alarm)
                              || coalesce(h.chain_link, corridor.chain_genesis())) END AS link
            FROM u
            LEFT JOIN LATERAL (SELECT l.chain_seq, l.chain_link FROM corridor.latest l
                               WHERE l.seal_id = u.seal_id OFFSET 0) h ON true
            CROSS JOIN LATERAL (
                SELECT CASE WHEN coalesce(current_setting('corridor.chain', true), '') <> 'off'
                            THEN coalesce(h.chain_seq, 0) + 1 END AS seq) x
            WHERE u.rn = 1
          UNION ALL
            SELECT u.seal_id, u.epoch, u.lat, u.lon, u.speed, u.bearing, u.alt, u.acc, u.batt,
                   u.lock, u.alarm, u.i, u.last, u.prev, u.ver, u.rn, lk.seq + 1,
                   sha256(corridor.chain_content(lk.seq + 1, u.seal_id, to_timestamp(u.epoch),
                                                 u.lat, u.lon, u.speed, u.bearing, u.alt, u.acc,
                                                 u.batt, u.lock, u.alarm) || lk.link)
            FROM lk JOIN u ON u.seal_id = lk.seal_id AND u.rn = lk.rn + 1
        ), up AS (
            -- the newest fix is also the seal's chain head
            UPDATE corridor.latest l
            SET ts = to_timestamp(u.epoch), lat = u.lat, lon = u.lon, speed_kmh = u.speed,
                bearing = u.bearing, battery = u.batt, lock = u.lock, alarm = u.alarm,
                updated_at = now(), chain_seq = coalesce(u.seq, l.chain_seq),
                chain_link = coalesce(u.link, l.chain_link),
                chain_ts = CASE WHEN u.seq IS NULL THEN l.chain_ts ELSE to_timestamp(u.epoch) END
            FROM lk u, corridor.safe_gen g
            WHERE u.last AND l.seal_id = u.seal_id AND l.ts = to_timestamp(u.prev)
              AND l.safe_ver = u.ver AND l.safe_gen = g.gen AND g.gen = p_gen
            RETURNING u.seal_id, u.i
        ), ins AS (
            INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                            accuracy, battery, lock, alarm, late, chain_seq, link)
            SELECT u.seal_id, to_timestamp(u.epoch), u.lat, u.lon, u.speed, u.bearing, u.alt,
                   u.acc, u.batt, u.lock, u.alarm, false, u.seq, u.link
            FROM lk u
            WHERE u.seal_id IN (SELECT up.seal_id FROM up)
            RETURNING 1
        )
        SELECT (SELECT array_agg(up.seal_id) FROM up), (SELECT array_agg(up.i) FROM up),
               (SELECT count(*) FROM ins)
        INTO ok, ok_i, n_f;
        -- the newest fix of each: its position message (the worker writes it)
        RETURN QUERY SELECT 'position'::text, x.i, NULL::text FROM unnest(ok_i) x(i);

        -- a seal whose copy was out of date: its fixes join the rest
        IF coalesce(cardinality(ok), 0) < (SELECT count(*) FROM unnest(f_last) x WHERE x) THEN
            SELECT r_seal || array_agg(u.seal_id), r_ts || array_agg(u.epoch),
                   r_lat || array_agg(u.lat), r_lon || array_agg(u.lon),
                   r_speed || array_agg(u.speed), r_bearing || array_agg(u.bearing),
                   r_alt || array_agg(u.alt), r_acc || array_agg(u.acc),
                   r_batt || array_agg(u.batt), r_lock || array_agg(u.lock),
                   r_alarm || array_agg(u.alarm), r_i || array_agg(u.i)
            INTO r_seal, r_ts, r_lat, r_lon, r_speed, r_bearing, r_alt, r_acc, r_batt, r_lock,
                 r_alarm, r_i
            FROM unnest(f_seal, f_ts, f_lat, f_lon, f_speed, f_bearing, f_alt, f_acc, f_batt,
                        f_lock, f_alarm, f_i)
                AS u(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
            WHERE u.seal_id NOT IN (SELECT unnest(coalesce(ok, '{}'))); -- hashed
        END IF;
    END IF;

    IF cardinality(r_seal) > 0 THEN
        RETURN QUERY SELECT * FROM corridor.ingest_rounds(r_seal, r_ts, r_lat, r_lon, r_speed,
            r_bearing, r_alt, r_acc, r_batt, r_lock, r_alarm, r_i);
        -- the rest's seals: their regions now, for the worker's copy
        RETURN QUERY SELECT 'region'::text, 0, corridor.region_text(l)
        FROM corridor.latest l WHERE l.seal_id = ANY (r_seal);
    END IF;
    IF n_f > 0 THEN
        RETURN QUERY SELECT 'quiet'::text, n_f, NULL::text;
        RETURN QUERY SELECT 'hinted'::text, n_f, NULL::text;
    END IF;
    RETURN QUERY SELECT 'gen'::text, 0, g.gen::text FROM corridor.safe_gen g;
END $$;

-- The quiet test (regions.sql): sorts fixes into quiet and loud and, in the same statement,
-- stores the quiet ones (positions, latest); returns the position message indexes, the
-- quiet count and the loud fixes as arrays. The same test exists in C, in the ingest
-- worker (geofence/geo_quiet.c, fix_quiet), with margins so that it never calls quiet a
-- fix this one would not: a change to one is a change to both.
CREATE OR REPLACE FUNCTION corridor.ingest_quiet(
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
    -- quiet or not, per fix (regions.sql): quiet when it and every earlier fix of its seal here are
    WITH RECURSIVE c AS (
        SELECT r.seal_id, r.epoch, r.lat, r.lon, r.speed, r.bearing, r.alt, r.acc, r.batt,
               r.lock, r.alarm, r.i, r.h_seq, r.h_link,
               bool_and(r.q) OVER w AS quiet,
               -- the k-th of the seal here (its quiet fixes are its first ones)
               row_number() OVER w AS rn
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
                                  AND coalesce(corridor.battery_low(b.batt, l.safe_low_batt),
                                               l.safe_lowbatt) = l.safe_lowbatt))
                     -- inside the fence disc, or else ingest_evaluate's fence probe (grid, then the
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
                     END, false) AS q,
                     l.chain_seq AS h_seq, l.chain_link AS h_link
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
                                        l.safe_flat, l.safe_flon, l.safe_fr, l.safe_fences,
                                        l.chain_seq, l.chain_link
                                 FROM corridor.latest l
                                 WHERE l.seal_id = b.seal_id OFFSET 0) l ON true
              CROSS JOIN corridor.safe_gen g) r
        WINDOW w AS (PARTITION BY r.seal_id COLLATE "C" ORDER BY r.epoch
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    -- the quiet fixes with their links in their seals' hash chains (evidence.sql,
    -- chain_content): the first onto the head the latest probe above read, the k-th onto the
    -- (k-1)-th; seq and link NULL when corridor.chain is off. The rows carry the fixes, so
    -- that nothing joins them back by index (a generic plan may nest that join: n x n).
    lk AS (
        SELECT c.seal_id, c.epoch, c.lat, c.lon, c.speed, c.bearing, c.alt, c.acc, c.batt,
               c.lock, c.alarm, c.i, c.rn, x.seq,
               CASE WHEN x.seq IS NOT NULL THEN
                   sha256(corridor.chain_content(x.seq, c.seal_id, to_timestamp(c.epoch), c.lat,
                                                 c.lon, c.speed, c.bearing, c.alt, c.acc, c.batt,
                                                 c.lock, c.alarm)
                          || coalesce(c.h_link, corridor.chain_genesis())) END AS link
        FROM c CROSS JOIN LATERAL (
            SELECT CASE WHEN coalesce(current_setting('corridor.chain', true), '') <> 'off'
                        THEN coalesce(c.h_seq, 0) + 1 END AS seq) x
        WHERE c.quiet AND c.rn = 1
      UNION ALL
        SELECT c.seal_id, c.epoch, c.lat, c.lon, c.speed, c.bearing, c.alt, c.acc, c.batt,
               c.lock, c.alarm, c.i, c.rn, lk.seq + 1,
               sha256(corridor.chain_content(lk.seq + 1, c.seal_id, to_timestamp(c.epoch),
                                             c.lat, c.lon, c.speed, c.bearing, c.alt, c.acc,
                                             c.batt, c.lock, c.alarm) || lk.link)
        FROM lk JOIN c ON c.seal_id = lk.seal_id AND c.rn = lk.rn + 1
        WHERE c.quiet
    ),
    -- quiet fixes: newer than anything stored for their seal (so never a duplicate), stored
    -- as the evaluation would store them, with no rule work
    ins AS (
        INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                        accuracy, battery, lock, alarm, late, chain_seq, link)
        SELECT q.seal_id, to_timestamp(q.epoch), q.lat, q.lon, q.speed, q.bearing, q.alt,
               q.acc, q.batt, q.lock, q.alarm, false, q.seq, q.link
        FROM lk q
    ),
    -- the seal's position message names its newest quiet fix: the ingest worker writes it
    -- from the batch it holds (geo_position_json); it is also the seal's chain head
    up AS (
        UPDATE corridor.latest l
        SET ts = f.ts, lat = f.lat, lon = f.lon, speed_kmh = f.speed, bearing = f.bearing,
            battery = f.batt, lock = f.lock, alarm = f.alarm, updated_at = now(),
            chain_seq = coalesce(f.seq, l.chain_seq), chain_link = coalesce(f.link, l.chain_link),
            chain_ts = CASE WHEN f.seq IS NULL THEN l.chain_ts ELSE f.ts END
        FROM (SELECT DISTINCT ON (q.seal_id) q.seal_id, to_timestamp(q.epoch) AS ts, q.lat,
                     q.lon, q.speed, q.bearing, q.batt, q.lock, q.alarm, q.i, q.seq, q.link
              FROM lk q ORDER BY q.seal_id, q.rn DESC) f
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

-- Evaluates fixes in full (ingest_evaluate) and gives their seals new regions; e_i names each
-- fix's index in the batch, which the rows returned use.
CREATE OR REPLACE FUNCTION corridor.ingest_loud(
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

-- Every per-fix rule, in one statement, for fixes that are not quiet (the batch's seals
-- are locked by ingest_lock first; in_batch marks the events it raises for
-- mark_backfilled). Stores the positions (exact duplicates once), advances latest, finds
-- fence transitions against fence_state, walks each armed seal's fixes in device time
-- order through its trip state (corridor, stops, checkpoints and legs, country, speed,
-- seal, battery, arrival), writes the state back and records events and incidents.
-- Returns ('reject', i, reason), ('position', NULL, json), ('incident', NULL, json) rows.
-- Generic plans without hash joins: it sees a few dozen fixes a batch, and hash joins made
-- its generic plan read whole tables (seals, trip state) for them.
CREATE OR REPLACE FUNCTION corridor.ingest_evaluate(
    p_seal text[], p_ts float8[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[])
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET corridor.in_batch = 'on'
SET enable_hashjoin = off
AS $$
DECLARE
    c_i int[]; c_seq bigint[]; c_link bytea[]; c_ts timestamptz[]; c_seal text[];
BEGIN
    -- Two batches that share no seal must not wait for each other (docs/performance.md: about one
    -- connection per core, split by seal). Locking 1,024 buckets exclusively, as a first
    -- version did, two batches of 1,000 seals share most buckets and the workers' batches
    -- run one after the other. So: the buckets in SHARE mode (they still exclude trip_arm
    -- and trip_disarm, which take their seal's bucket exclusively), then one exclusive lock
    -- per seal (its full hash), both in a fixed order so batches cannot deadlock. At most
    -- 1,024 + batch_max locks per batch: max_locks_per_transaction x max_connections must
    -- cover workers x (1,024 + batch_max).
    PERFORM pg_advisory_xact_lock_shared(1129270852, b)
    FROM (SELECT DISTINCT (hashtext(s) & 1023) AS b FROM unnest(p_seal) s ORDER BY 1) x;
    PERFORM pg_advisory_xact_lock(1129270856, h)
    FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_seal) s ORDER BY 1) x;

    -- the links of the fixes not stored yet (a re-send is not chained twice), in the seals'
    -- hash chains (evidence.sql); the seals are locked, so none is stored meanwhile. The
    -- heads are written after the statement, which may create a seal's latest row.
    SELECT array_agg(k.i), array_agg(k.seq), array_agg(k.link), array_agg(k.ts),
           array_agg(p_seal[k.i])
    INTO c_i, c_seq, c_link, c_ts, c_seal
    FROM (SELECT array_agg(u.seal_id) AS s, array_agg(u.ts) AS t, array_agg(u.lat) AS la,
                 array_agg(u.lon) AS lo, array_agg(u.speed) AS sp, array_agg(u.bearing) AS be,
                 array_agg(u.alt) AS al, array_agg(u.acc) AS ac, array_agg(u.batt) AS ba,
                 array_agg(u.lock) AS lc, array_agg(u.alarm) AS am, array_agg(u.n) AS ix
          FROM (SELECT DISTINCT ON (r.seal_id, to_timestamp(r.epoch)) r.seal_id,
                       to_timestamp(r.epoch) AS ts, r.lat, r.lon, r.speed, r.bearing, r.alt,
                       r.acc, r.batt, r.lock, r.alarm, r.i::int AS n
                FROM corridor.batch_rows(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt,
                                         p_acc, p_batt, p_lock, p_alarm)
                     AS r(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
                WHERE EXISTS (SELECT 1 FROM corridor.seals s WHERE s.id = r.seal_id)
                  AND NOT EXISTS (SELECT 1 FROM corridor.positions p
                                  WHERE p.seal_id = r.seal_id AND p.ts = to_timestamp(r.epoch))
                ORDER BY r.seal_id, to_timestamp(r.epoch), r.i) u) a
    CROSS JOIN LATERAL corridor.chain_next(a.s, a.t, a.la, a.lo, a.sp, a.be, a.al, a.ac, a.ba,
                                           a.lc, a.am, a.ix) k;

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
    -- the fixes not stored yet (a re-send is stored once) and their links (above)
    novel AS (
        SELECT u.* FROM uniq u
        WHERE NOT EXISTS (SELECT 1 FROM corridor.positions p
                          WHERE p.seal_id = u.seal_id AND p.ts = u.ts)
    ),
    lk AS (
        SELECT * FROM unnest(c_i, c_seq, c_link) AS k(i, seq, link)
    ),
    ins AS (
        INSERT INTO corridor.positions AS p (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                             accuracy, battery, lock, alarm, late, chain_seq,
                                             link)
        SELECT u.seal_id, u.ts, u.lat, u.lon, u.speed, u.bearing, u.alt, u.acc, u.batt, u.lock,
               u.alarm, pv.ts IS NOT NULL AND u.ts <= pv.ts, lk.seq, lk.link
        FROM novel u LEFT JOIN prev pv USING (seal_id) LEFT JOIN lk ON lk.i = u.i
        ON CONFLICT DO NOTHING
        RETURNING p.seal_id, p.ts, p.late
    ),
    -- stored just now (not a re-send) and newer than anything seen: evaluate these
    -- with the live fences that contain each fix (grid probe, fences.sql)
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
    -- exactly where the fence is in one set and not the other, which a first version computed
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
    -- ---- trip rules (trips.sql, routes.sql, docs/rules.md) -------------------------------
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
               coalesce(corridor.battery_low(o.batt, o.low_battery_pct), w.lowbatt),
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
               coalesce(corridor.battery_low(o.batt, o.low_battery_pct) AND NOT w.lowbatt, false),
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
            -- the sweep may have raised this stop meanwhile; a stop that is over (the walk's
            -- stop_since NULL, so the comparison NULL) is no longer raised
            stop_raised = coalesce(f.stop_raised OR (s.stop_raised AND s.stop_since = f.stop_since),
                                  false),
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

    -- each chained seal's new head: its highest seq of the batch
    UPDATE corridor.latest l SET chain_seq = h.seq, chain_link = h.link, chain_ts = h.ts
    FROM (SELECT DISTINCT ON (x.s) x.s, x.seq, x.link, x.ts
          FROM unnest(c_seal, c_seq, c_link, c_ts) AS x(s, seq, link, ts)
          ORDER BY x.s, x.seq DESC) h
    WHERE l.seal_id = h.s;
END $$;
