-- rules/evidence.sql: tamper-evident journeys (docs/evidence.md).
-- Decides each stored position's place in its seal's hash chain (its canonical bytes,
-- chain_content, and the genesis; chain_next for ingest_evaluate; ingest_quiet and
-- ingest_hinted in ingest.sql link their fixes the same way in their own statement, from the
-- head in latest they read), what a trip's evidence is (the
-- chain segment its positions lie in, trip_segment), whether it still verifies
-- (trip_verification: recomputed here, in SQL), what the centre signs (head_message,
-- chain_to_sign, chain_sign_store) and what a partner may fetch (partner_trip_evidence).
-- Reads: positions, latest (the chain heads, also as the view chain_heads), chain_signatures,
-- signing_keys, trips, trip_legs, countries. Writes: chain_signatures, signing_keys, trips
-- (chain_from, chain_to), partner_audit; the heads are written by ingest.sql's statements.

-- The canonical content of a position: the bytes its link hashes (docs/evidence.md gives
-- them byte by byte; verify/evidence.c builds the same). Every number is big-endian, a NULL
-- optional field is one 0x00 byte, a present one 0x01 and its value. STABLE, not IMMUTABLE
-- (though it is): convert_to and extract are STABLE, and PostgreSQL inlines an IMMUTABLE
-- SQL function only when its body is immutable; not inlined, a call cost ~20 us, inlined ~2.
CREATE OR REPLACE FUNCTION corridor.chain_content(
    seq bigint, seal_id text, ts timestamptz, lat float8, lon float8, speed real, bearing real,
    alt real, acc real, batt real, lock text, alarm text)
RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT '\x435031'::bytea || int8send(seq)
           || int4send(octet_length(seal_id)) || convert_to(seal_id, 'UTF8')
           || int8send((extract(epoch FROM ts) * 1000000)::bigint)
           || float8send(lat) || float8send(lon)
           || coalesce('\x01'::bytea || float4send(speed), '\x00'::bytea)
           || coalesce('\x01'::bytea || float4send(bearing), '\x00'::bytea)
           || coalesce('\x01'::bytea || float4send(alt), '\x00'::bytea)
           || coalesce('\x01'::bytea || float4send(acc), '\x00'::bytea)
           || coalesce('\x01'::bytea || float4send(batt), '\x00'::bytea)
           || coalesce('\x01'::bytea || int4send(octet_length(lock)) || convert_to(lock, 'UTF8'),
                       '\x00'::bytea)
           || coalesce('\x01'::bytea || int4send(octet_length(alarm)) || convert_to(alarm, 'UTF8'),
                       '\x00'::bytea)
$$;

-- The link before a seal's first: 32 zero bytes.
CREATE OR REPLACE FUNCTION corridor.chain_genesis() RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea $$;

-- The links of positions about to be stored (one call per INSERT of ingest.sql, in its
-- statement): each seal's fixes follow its chain head (latest.chain_seq, chain_link) in
-- device time order (then batch index), so a late or backfilled fix appends like any other.
-- Returns (i, seq, link, ts) per fix and writes nothing: the caller stores the links with the
-- positions and the seal's new head (its highest seq) in latest, in the same statement (the
-- head is read before the caller's update, which depends on this result). The caller passes
-- only fixes that cannot be duplicates. corridor.chain = 'off' (a benchmark's baseline only)
-- returns nothing: the rows stay NULL. A seal's k-th fix of the batch is the recursion's
-- k-th step (a batch rarely holds more than a few fixes of a seal).
CREATE OR REPLACE FUNCTION corridor.chain_next(
    p_seal text[], p_ts timestamptz[], p_lat float8[], p_lon float8[], p_speed real[],
    p_bearing real[], p_alt real[], p_acc real[], p_batt real[], p_lock text[], p_alarm text[],
    p_i int[])
RETURNS TABLE (i int, seq bigint, link bytea, ts timestamptz)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_hashjoin = on
AS $$
BEGIN
    IF p_seal IS NULL OR coalesce(current_setting('corridor.chain', true), '') = 'off' THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH RECURSIVE o AS (
        SELECT u.*, row_number() OVER (PARTITION BY u.seal_id ORDER BY u.ts, u.i) AS rn
        FROM unnest(p_seal, p_ts, p_lat, p_lon, p_speed, p_bearing, p_alt, p_acc, p_batt,
                    p_lock, p_alarm, p_i)
             AS u(seal_id, ts, lat, lon, speed, bearing, alt, acc, batt, lock, alarm, i)
    ),
    k AS (
        SELECT o.seal_id, o.i, o.rn, o.ts, x.seq,
               sha256(corridor.chain_content(x.seq, o.seal_id, o.ts, o.lat, o.lon, o.speed,
                                             o.bearing, o.alt, o.acc, o.batt, o.lock, o.alarm)
                      || coalesce(h.chain_link, corridor.chain_genesis())) AS link
        FROM o
        -- one index probe per seal (OFFSET 0 keeps it lateral in the generic plan)
        LEFT JOIN LATERAL (SELECT l.chain_seq, l.chain_link FROM corridor.latest l
                           WHERE l.seal_id = o.seal_id OFFSET 0) h ON true
        CROSS JOIN LATERAL (SELECT coalesce(h.chain_seq, 0) + 1 AS seq) x
        WHERE o.rn = 1
      UNION ALL
        SELECT o.seal_id, o.i, o.rn, o.ts, k.seq + 1,
               sha256(corridor.chain_content(k.seq + 1, o.seal_id, o.ts, o.lat, o.lon, o.speed,
                                             o.bearing, o.alt, o.acc, o.batt, o.lock, o.alarm)
                      || k.link)
        FROM k JOIN o ON o.seal_id = k.seal_id AND o.rn = k.rn + 1
    )
    SELECT k.i::int, k.seq, k.link, k.ts FROM k;
END $$;

-- A trip's chain range: the seal's head when it was armed (positions after it are the
-- trip's) and when it was disarmed. Disarming also wakes the signer (channel
-- corridor_evidence), which signs the heads at once.
CREATE OR REPLACE FUNCTION corridor.trip_chain_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.chain_from := coalesce((SELECT h.seq FROM corridor.chain_heads h
                                    WHERE h.seal_id = NEW.seal_id), 0);
    ELSIF NEW.status = 'disarmed' AND OLD.status IS DISTINCT FROM 'disarmed' THEN
        NEW.chain_to := coalesce((SELECT h.seq FROM corridor.chain_heads h
                                  WHERE h.seal_id = NEW.seal_id), 0);
        PERFORM pg_notify('corridor_evidence', NEW.id::text);
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER trips_chain_mark BEFORE INSERT OR UPDATE OF status ON corridor.trips
    FOR EACH ROW EXECUTE FUNCTION corridor.trip_chain_mark();

-- The message an Ed25519 signature covers, as UTF-8 text ending in a newline (the signer
-- signs exactly these bytes; corridor-verify rebuilds them from the evidence file).
CREATE OR REPLACE FUNCTION corridor.head_message(seal_id text, seq bigint, link bytea,
                                                 signed_at timestamptz, fingerprint text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'corridor-chain-head-v1' || E'\n' || seal_id || E'\n' || seq::text || E'\n'
           || encode(link, 'hex') || E'\n'
           || to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || E'\n'
           || fingerprint || E'\n'
$$;

-- The heads the signer has not signed yet, with the message to sign (signed_at in whole
-- seconds: the message carries it so).
CREATE OR REPLACE FUNCTION corridor.chain_to_sign(p_fingerprint text, p_at timestamptz)
RETURNS TABLE (seal_id text, seq bigint, link bytea, signed_at timestamptz, message text)
LANGUAGE sql STABLE AS $$
    SELECT h.seal_id, h.seq, h.link, date_trunc('second', p_at),
           corridor.head_message(h.seal_id, h.seq, h.link, date_trunc('second', p_at),
                                 p_fingerprint)
    FROM corridor.chain_heads h
    WHERE NOT EXISTS (SELECT 1 FROM corridor.chain_signatures s
                      WHERE s.seal_id = h.seal_id AND s.seq = h.seq)
    ORDER BY h.seal_id
$$;

-- Stores one round of signatures (and the key, the first time it signs). Returns the count.
CREATE OR REPLACE FUNCTION corridor.chain_sign_store(
    p_fingerprint text, p_public_key text, p_at timestamptz, p_seal text[], p_seq bigint[],
    p_link bytea[], p_sig bytea[])
RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    INSERT INTO corridor.signing_keys (fingerprint, public_key) VALUES (p_fingerprint, p_public_key)
    ON CONFLICT (fingerprint) DO NOTHING;
    INSERT INTO corridor.chain_signatures (signed_at, key_fingerprint, seal_id, seq, link, signature)
    SELECT date_trunc('second', p_at), p_fingerprint, u.s, u.q, u.l, u.g
    FROM unnest(p_seal, p_seq, p_link, p_sig) AS u(s, q, l, g);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The chain segment of a trip: its seal's positions from chain_from + 1 to chain_to (the
-- current head while it is armed), widened to any chained position whose device time lies
-- in the trip and to the first signed head at or after its end (so a verifier can follow
-- the chain up to a signature). lo/hi bound the device times scanned (the positions'
-- key): a week either side of the trip, for late fixes.
CREATE OR REPLACE FUNCTION corridor.trip_segment(p_trip uuid)
RETURNS TABLE (seal_id text, first_seq bigint, last_seq bigint, t_from timestamptz,
               t_to timestamptz, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
    WITH t AS (
        SELECT t.seal_id, t.armed_at, coalesce(t.disarmed_at, now()) AS t_to,
               t.armed_at - interval '7 days' AS lo,
               coalesce(t.disarmed_at, now()) + interval '7 days' AS hi,
               t.chain_from,
               CASE WHEN t.status = 'disarmed' THEN t.chain_to
                    ELSE (SELECT h.seq FROM corridor.chain_heads h WHERE h.seal_id = t.seal_id)
               END AS chain_to
        FROM corridor.trips t WHERE t.id = p_trip
    ), w AS (
        SELECT t.*, (SELECT min(p.chain_seq) FROM corridor.positions p
                     WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at AND p.ts <= t.t_to) AS wmin,
                    (SELECT max(p.chain_seq) FROM corridor.positions p
                     WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at AND p.ts <= t.t_to) AS wmax
        FROM t
    ), s AS (
        SELECT w.*, CASE WHEN w.chain_from IS NOT NULL AND w.chain_to > w.chain_from
                         THEN least(w.chain_from + 1, coalesce(w.wmin, w.chain_from + 1))
                         ELSE w.wmin END AS f,
                    greatest(CASE WHEN w.chain_to > coalesce(w.chain_from, 0) THEN w.chain_to END,
                             w.wmax) AS l
        FROM w
    )
    SELECT s.seal_id, s.f,
           coalesce((SELECT min(c.seq) FROM corridor.chain_signatures c
                     WHERE c.seal_id = s.seal_id AND c.seq >= s.l), s.l),
           s.armed_at, s.t_to, s.lo, s.hi
    FROM s
$$;

-- Every row that belongs to a trip's segment, with what its check needs: its canonical
-- content (recomputed from the row as it is now), its stored link, and ok: its link is
-- SHA-256(content || the stored link of a position one seq before it) (or of the genesis
-- for seq 1); NULL when no position is one before it (removed: it cannot be checked).
-- anchor marks the position just before the segment (only its link is used).
CREATE OR REPLACE FUNCTION corridor.trip_chain_rows(p_trip uuid)
RETURNS TABLE (seq bigint, ts timestamptz, lat float8, lon float8, speed_kmh real,
               bearing real, altitude real, accuracy real, battery real, lock text,
               alarm text, content bytea, link bytea, anchor boolean, in_trip boolean,
               ok boolean)
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT * FROM corridor.trip_segment(p_trip)),
    r AS (
        SELECT p.chain_seq AS seq, p.ts, p.lat, p.lon, p.speed_kmh, p.bearing, p.altitude,
               p.accuracy, p.battery, p.lock, p.alarm,
               CASE WHEN p.chain_seq IS NOT NULL THEN
                   corridor.chain_content(p.chain_seq, p.seal_id, p.ts, p.lat, p.lon,
                                          p.speed_kmh, p.bearing, p.altitude, p.accuracy,
                                          p.battery, p.lock, p.alarm) END AS content,
               p.link, p.chain_seq = s.first_seq - 1 AS anchor,
               p.ts >= s.t_from AND p.ts <= s.t_to AS in_trip
        FROM s JOIN corridor.positions p
          ON p.seal_id = s.seal_id AND p.ts >= s.lo AND p.ts <= s.hi
        WHERE p.chain_seq BETWEEN s.first_seq - 1 AND s.last_seq
           OR (p.chain_seq IS NULL AND s.first_seq IS NOT NULL
               AND p.ts >= s.t_from AND p.ts <= s.t_to)
    )
    SELECT r.seq, r.ts, r.lat, r.lon, r.speed_kmh, r.bearing, r.altitude, r.accuracy,
           r.battery, r.lock, r.alarm, r.content, r.link, coalesce(r.anchor, false), r.in_trip,
           CASE WHEN r.seq IS NULL THEN false
                WHEN r.seq = 1 THEN sha256(r.content || corridor.chain_genesis()) = r.link
                WHEN EXISTS (SELECT 1 FROM r q WHERE q.seq = r.seq - 1)
                    THEN EXISTS (SELECT 1 FROM r q WHERE q.seq = r.seq - 1
                                 AND sha256(r.content || q.link) = r.link)
           END
    FROM r
$$;

-- What is wrong with a trip's chain: one row per position changed, removed or inserted.
-- changed: its content or link is not what its link says (or a signed head's link differs
-- from the stored one); removed: a seq of the segment has no row (ts NULL); inserted: a row
-- with no seq in the trip (seq: the chained position before it in time), or a second row
-- of a seq whose first verifies.
CREATE OR REPLACE FUNCTION corridor.trip_chain_problems(p_trip uuid)
RETURNS TABLE (seq bigint, kind text, ts timestamptz)
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT * FROM corridor.trip_segment(p_trip)),
    r AS (SELECT * FROM corridor.trip_chain_rows(p_trip) x WHERE NOT x.anchor),
    g AS (
        SELECT r.*, bool_or(coalesce(r.ok, true)) OVER (PARTITION BY r.seq) AS some_ok,
               row_number() OVER (PARTITION BY r.seq ORDER BY coalesce(r.ok, true) DESC, r.ts) AS n
        FROM r WHERE r.seq IS NOT NULL
    ),
    p AS (
        SELECT g.seq, CASE WHEN g.n > 1 THEN 'inserted' ELSE 'changed' END AS kind, g.ts
        FROM g WHERE g.ok = false AND (g.n > 1 OR NOT g.some_ok)
        UNION ALL
        SELECT q, 'removed', NULL::timestamptz
        FROM s CROSS JOIN generate_series(s.first_seq, s.last_seq) q
        WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.seq = q)
        UNION ALL
        SELECT coalesce((SELECT c.seq FROM r c WHERE c.seq IS NOT NULL AND c.ts < r.ts
                         ORDER BY c.ts DESC LIMIT 1),
                        (SELECT s.first_seq FROM s)), 'inserted', r.ts
        FROM r WHERE r.seq IS NULL
    )
    SELECT p.seq, p.kind, p.ts FROM p
    UNION ALL
    -- a signed head whose link is not the stored one: the chain was rewritten before it
    SELECT c.seq, 'changed', (SELECT g.ts FROM g WHERE g.seq = c.seq AND g.n = 1)
    FROM s JOIN corridor.chain_signatures c
      ON c.seal_id = s.seal_id AND c.seq BETWEEN s.first_seq AND s.last_seq
    WHERE NOT EXISTS (SELECT 1 FROM g WHERE g.seq = c.seq AND g.n = 1 AND g.link = c.link)
      AND NOT EXISTS (SELECT 1 FROM p WHERE p.seq = c.seq)
    GROUP BY c.seq
$$;

-- The verification record of a trip (the PDF report and corridord verify show it). A
-- contract (docs/evidence.md): {"status": "verified" | "broken" | "unchained", "positions",
-- "first_seq", "last_seq", "signed_heads", "last_signed_at", "key_fingerprint",
-- "problems": [{"seq", "kind", "ts"}]}. NULL for an unknown trip.
CREATE OR REPLACE FUNCTION corridor.trip_verification(p_trip uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT * FROM corridor.trip_segment(p_trip)),
    r AS (SELECT * FROM corridor.trip_chain_rows(p_trip) x WHERE NOT x.anchor),
    pr AS (SELECT * FROM corridor.trip_chain_problems(p_trip)),
    sig AS (
        SELECT c.* FROM s JOIN corridor.chain_signatures c
          ON c.seal_id = s.seal_id AND c.seq BETWEEN s.first_seq AND s.last_seq
    )
    SELECT jsonb_build_object(
        'status', CASE WHEN s.first_seq IS NULL OR NOT EXISTS (SELECT 1 FROM r WHERE r.seq IS NOT NULL)
                            THEN 'unchained'
                       WHEN EXISTS (SELECT 1 FROM pr) THEN 'broken'
                       ELSE 'verified' END,
        'positions', (SELECT count(*) FROM r),
        'first_seq', s.first_seq, 'last_seq', s.last_seq,
        'signed_heads', (SELECT count(*) FROM sig),
        'last_signed_at', (SELECT corridor.iso(max(sig.signed_at)) FROM sig),
        'key_fingerprint', (SELECT sig.key_fingerprint FROM sig ORDER BY sig.seq DESC LIMIT 1),
        'problems', coalesce((SELECT jsonb_agg(jsonb_build_object('seq', pr.seq, 'kind', pr.kind,
                                                                  'ts', corridor.iso(pr.ts))
                                               ORDER BY pr.seq, pr.kind, pr.ts) FROM pr), '[]'))
    FROM s
$$;

-- GET /api/trips/{id}/evidence: the trip's chain segment as a file that corridor-verify
-- checks offline (docs/evidence.md: format corridor-evidence-v1). NULL for an unknown trip.
CREATE OR REPLACE FUNCTION corridor.trip_evidence(p_trip uuid) RETURNS json
LANGUAGE sql STABLE
SET extra_float_digits = 1
AS $$
    WITH s AS (SELECT * FROM corridor.trip_segment(p_trip)),
    r AS (SELECT * FROM corridor.trip_chain_rows(p_trip)),
    sig AS (
        SELECT c.* FROM s JOIN corridor.chain_signatures c
          ON c.seal_id = s.seal_id AND c.seq BETWEEN s.first_seq AND s.last_seq
    )
    SELECT json_build_object(
        'format', 'corridor-evidence-v1',
        'trip_id', p_trip, 'seal_id', s.seal_id,
        'trip_from', corridor.iso(s.t_from), 'trip_to', corridor.iso(s.t_to),
        'first_seq', s.first_seq, 'last_seq', s.last_seq,
        'prev_link', CASE WHEN s.first_seq = 1 THEN encode(corridor.chain_genesis(), 'hex')
                          ELSE (SELECT encode(r.link, 'hex') FROM r WHERE r.anchor LIMIT 1) END,
        'positions', coalesce((SELECT json_agg(json_build_object(
                'seq', r.seq,
                'ts', to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'lat', r.lat, 'lon', r.lon, 'speed_kmh', r.speed_kmh, 'bearing', r.bearing,
                'altitude', r.altitude, 'accuracy', r.accuracy, 'battery', r.battery,
                'lock', r.lock, 'alarm', r.alarm, 'in_trip', r.in_trip,
                'canonical', encode(r.content, 'hex'), 'link', encode(r.link, 'hex'))
                ORDER BY r.seq NULLS LAST, r.ts) FROM r WHERE NOT r.anchor), '[]'),
        'signed_heads', coalesce((SELECT json_agg(json_build_object(
                'seal_id', sig.seal_id, 'seq', sig.seq, 'link', encode(sig.link, 'hex'),
                'signed_at', to_char(sig.signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                'key_fingerprint', sig.key_fingerprint,
                'signature', encode(sig.signature, 'hex')) ORDER BY sig.seq, sig.id) FROM sig), '[]'),
        'keys', coalesce((SELECT json_agg(json_build_object('fingerprint', k.fingerprint,
                                                            'public_key', k.public_key)
                                          ORDER BY k.first_used)
                          FROM corridor.signing_keys k
                          WHERE k.fingerprint IN (SELECT sig.key_fingerprint FROM sig)), '[]'),
        'verification', corridor.trip_verification(p_trip))
    FROM s
$$;

-- GET /api/partner/trips/{id}/evidence: the evidence of a trip the partner sees in
-- partner_trips (a leg in its country and one outside it), audited as its other reads.
-- NULL (404) for a trip it does not see.
CREATE OR REPLACE FUNCTION corridor.partner_trip_evidence(p_country text, p_trip uuid,
                                                          p_token bigint, p_query text)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE v json;
BEGIN
    IF EXISTS (SELECT 1 FROM corridor.trip_legs l
               WHERE l.trip_id = p_trip AND l.country = p_country
                 AND EXISTS (SELECT 1 FROM corridor.trip_legs o
                             WHERE o.trip_id = l.trip_id
                               AND o.country IS DISTINCT FROM p_country)) THEN
        v := corridor.trip_evidence(p_trip);
    END IF;
    INSERT INTO corridor.partner_audit (token_id, country, query, rows)
    VALUES (p_token, p_country, coalesce(p_query, ''), CASE WHEN v IS NULL THEN 0 ELSE 1 END);
    RETURN v;
END $$;
