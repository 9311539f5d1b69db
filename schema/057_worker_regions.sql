-- 057_worker_regions: the ingest worker sorts out the quiet fixes itself, from its copy of
-- each seal's safe region (053) and of the fence grid (050); the database only confirms
-- that the copy is current, and stores them.
--
-- Measured in place on the benchmark (fresh committed batches of ~4,000 fixes): sorting
-- the batch into quiet and not (055's ingest_quiet: the windows over the batch, a latest
-- probe a fix, the grid probe for ~85 % of fixes) cost about a third of the quiet fixes'
-- time; what remains is storing them (a positions row, a latest update per seal).
--
--   latest.safe_ver       bumped whenever an evaluation gives the seal a region, so that a
--                         worker's copy is known to be that region (a late fix evaluated
--                         by another worker renews the region without moving latest.ts)
--   corridor.ingest_rounds  055's ingest_batch after its locks, over fixes numbered p_i
--   corridor.ingest_batch   locks, then ingest_rounds (same contract as before)
--   corridor.ingest_hinted  one call per batch from the workers: the fixes the worker found
--                           quiet (f_*) and the rest (r_*). A seal's f fixes are stored
--                           as quiet iff its latest row still is what the worker's copy
--                           says (same newest fix, same region version, region and grid of
--                           the current generation); otherwise they join the rest, which
--                           goes through ingest_rounds exactly as before. Answers as
--                           ingest_batch, plus the regions of the rest's seals ('region'),
--                           the generation ('gen') and the count stored this way ('hinted').
-- Every fix of a seal in f is one the worker found quiet by 055's test, with margins (a
-- fix within 1e-7 degrees of a disc's edge, a cell's edge or a fence piece's boundary is
-- left to the database). A seal's f fixes are strictly newer than its latest row, in
-- device time order; the rest may hold later fixes of the same seal, which is what would
-- happen had they come in the next batch (test_trips drives seals through the worker's
-- code and in full and requires identical outcomes).

ALTER TABLE corridor.latest ADD COLUMN safe_ver bigint NOT NULL DEFAULT 0;

CREATE FUNCTION corridor.ingest_rounds(
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

-- The locks of ingest_evaluate (051) for every seal of a batch, taken before any region or
-- state is read: a batch of another worker touching the same seal waits.
CREATE FUNCTION corridor.ingest_lock(p_seal text[]) RETURNS void
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

-- A seal's region as the worker reads it: space-separated, 'n' for NULL, the seal id last
-- (geofence/geo_quiet.c parses it): version, generation, newest fix (microseconds, lat,
-- lon), on a trip (1/0), trip disc (lat, lon, r), stop speed, open, tampered, low battery
-- limit, low battery, fence disc (lat, lon, r), fences (comma list, '-' for none).
CREATE FUNCTION corridor.region_text(l corridor.latest) RETURNS text
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

CREATE FUNCTION corridor.ingest_hinted(
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
        WITH u AS (
            SELECT * FROM unnest(f_seal, f_ts, f_lat, f_lon, f_speed, f_bearing, f_alt, f_acc,
                                 f_batt, f_lock, f_alarm, f_i, f_last, f_prev, f_ver)
                AS u(seal_id, epoch, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i,
                     last, prev, ver)
        ), up AS (
            UPDATE corridor.latest l
            SET ts = to_timestamp(u.epoch), lat = u.lat, lon = u.lon, speed_kmh = u.speed,
                bearing = u.bearing, battery = u.batt, lock = u.lock, alarm = u.alarm,
                updated_at = now()
            FROM u, corridor.safe_gen g
            WHERE u.last AND l.seal_id = u.seal_id AND l.ts = to_timestamp(u.prev)
              AND l.safe_ver = u.ver AND l.safe_gen = g.gen AND g.gen = p_gen
            RETURNING u.seal_id, u.i
        ), ins AS (
            INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh, bearing, altitude,
                                            accuracy, battery, lock, alarm, late)
            SELECT u.seal_id, to_timestamp(u.epoch), u.lat, u.lon, u.speed, u.bearing, u.alt,
                   u.acc, u.batt, u.lock, u.alarm, false
            FROM u WHERE u.seal_id IN (SELECT up.seal_id FROM up)
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
