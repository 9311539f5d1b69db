-- pgTAP: rules/evidence.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_evidence).
BEGIN;
SET search_path = public, tap;
SELECT plan(25);
\ir setup/corridor.sql

SELECT pg_temp.seal('S1');
SELECT pg_temp.arm('S1') AS trip \gset
SELECT count(*) FROM pg_temp.fix('S1', 60, -1.0, 36.01);
SELECT count(*) FROM pg_temp.fix('S1', 120, -1.0, 36.02);

-- the first fix (before arming) is seq 1 and hashes onto the genesis
SELECT is((SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 1),
          sha256(corridor.chain_content(1, 'S1', to_timestamp(:t0), -1.0, 36.0, 0, 90, NULL,
                                        NULL, 90, 'locked', NULL) || corridor.chain_genesis()),
          'seq 1 links content onto 32 zero bytes');
SELECT is((SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 2),
          sha256(corridor.chain_content(2, 'S1', to_timestamp(:t0 + 60), -1.0, 36.01, 60, 90,
                                        NULL, NULL, 90, NULL, NULL)
                 || (SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 1)),
          'seq 2 links onto seq 1');
SELECT is(octet_length(corridor.chain_content(1, 'S1', now(), 0, 0, NULL, NULL, NULL, NULL,
                                              NULL, NULL, NULL)),
          3 + 8 + 4 + 2 + 8 + 8 + 8 + 7, 'canonical content: all NULL optionals are one byte each');
SELECT is(encode(corridor.chain_content(7, 'A', '1970-01-01 00:00:01+00', 1.5, -2, 3, NULL,
                                        NULL, NULL, NULL, 'open', NULL), 'hex'),
          '435031' || '0000000000000007' || '00000001' || '41' || '00000000000f4240'
          || '3ff8000000000000' || 'c000000000000000' || '0140400000' || '00000000'
          || '01000000046f70656e' || '00', 'canonical content byte by byte');

-- two fixes of one seal in one batch, given out of order: chained in device time order
SELECT count(*) FROM corridor.ingest_batch(ARRAY['S1', 'S1'], ARRAY[:t0 + 200, :t0 + 180]::float8[],
    ARRAY[-1.0, -1.0], ARRAY[36.04, 36.03], ARRAY[60, 60]::real[], ARRAY[90, 90]::real[],
    ARRAY[NULL, NULL]::real[], ARRAY[NULL, NULL]::real[], ARRAY[90, 90]::real[],
    ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[]);
SELECT is((SELECT array_agg(chain_seq ORDER BY ts) FROM corridor.positions
           WHERE seal_id = 'S1' AND ts > to_timestamp(:t0 + 150)), ARRAY[4, 5]::bigint[],
          'one batch, two fixes: in device time order');
-- a late fix appends; a re-send is stored once and chained once
SELECT count(*) FROM pg_temp.fix('S1', 150, -1.0, 36.025);
SELECT count(*) FROM pg_temp.fix('S1', 150, -1.0, 36.025);
SELECT is((SELECT chain_seq FROM corridor.positions WHERE seal_id = 'S1' AND ts = to_timestamp(:t0 + 150)),
          6::bigint, 'a late fix appends to the chain');
SELECT is((SELECT seq FROM corridor.chain_heads WHERE seal_id = 'S1'), 6::bigint,
          'the re-send was not chained');
SELECT is((SELECT link FROM corridor.chain_heads WHERE seal_id = 'S1'),
          (SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 6),
          'the head is the last link');
-- the quiet path (a safe region) chains as well: many fixes along the corridor
SELECT count(f.*) FROM generate_series(1, 5) g, LATERAL pg_temp.fix('S1', 200 + g * 10, -1.0, 36.04 + g * 0.0001) f;
SELECT is((SELECT count(*) FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq IS NULL),
          0::bigint, 'every fix is chained, quiet or not');
SELECT is((SELECT array_agg(chain_seq ORDER BY chain_seq) FROM corridor.positions WHERE seal_id = 'S1'),
          ARRAY(SELECT generate_series(1, 11)::bigint), 'seq has no gap');

-- a trip's verification
SELECT is(corridor.trip_verification(:'trip') ->> 'status', 'verified', 'an untouched trip verifies');
SELECT is((corridor.trip_verification(:'trip') ->> 'first_seq')::int, 2, 'its first position is the first after arming');
SELECT is((corridor.trip_verification(:'trip') ->> 'positions')::int, 10, 'ten positions');
SELECT is(corridor.trip_verification(gen_random_uuid()), NULL, 'an unknown trip: NULL');

-- a DBA changes, removes and forges positions
UPDATE corridor.positions SET lat = -1.001 WHERE seal_id = 'S1' AND chain_seq = 3;
DELETE FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 4;
INSERT INTO corridor.positions (seal_id, ts, lat, lon) VALUES ('S1', to_timestamp(:t0 + 190), -1, 36.035);
SELECT is(corridor.trip_verification(:'trip') ->> 'status', 'broken', 'a doctored trip is broken');
SELECT is((SELECT jsonb_agg(p - 'ts' ORDER BY (p ->> 'seq')::int, p ->> 'kind')
           FROM jsonb_array_elements(corridor.trip_verification(:'trip') -> 'problems') p),
          '[{"seq": 3, "kind": "changed"}, {"seq": 4, "kind": "removed"}, {"seq": 6, "kind": "inserted"}]'::jsonb,
          'each change is named');
-- a forged row that copies a seq
INSERT INTO corridor.positions (seal_id, ts, lat, lon, chain_seq, link)
SELECT seal_id, ts + interval '1 second', lat, lon, chain_seq, link FROM corridor.positions
WHERE seal_id = 'S1' AND chain_seq = 8;
SELECT ok(corridor.trip_verification(:'trip') -> 'problems' @> '[{"seq": 8, "kind": "inserted"}]',
          'a second row of a seq is inserted');

-- signing: what is to sign, the message, a stored signature
SELECT is((SELECT count(*) FROM corridor.chain_to_sign('ab', now()) WHERE seal_id = 'S1'), 1::bigint,
          'the head is to sign');
SELECT is(corridor.head_message('S1', 6, '\x00ff', '2026-12-07 10:00:00.7+00', 'ab'),
          E'corridor-chain-head-v1\nS1\n6\n00ff\n2026-12-07T10:00:00Z\nab\n', 'the signed message');
SELECT is(corridor.chain_sign_store('ab', 'PEM', now(), ARRAY['S1'], ARRAY[11::bigint],
          ARRAY[(SELECT link FROM corridor.chain_heads WHERE seal_id = 'S1')],
          ARRAY[decode(repeat('00', 64), 'hex')]), 1, 'one signature stored');
SELECT is((SELECT count(*) FROM corridor.chain_to_sign('ab', now()) WHERE seal_id = 'S1'), 0::bigint,
          'a signed head is not signed again');
SELECT is((corridor.trip_verification(:'trip') ->> 'signed_heads')::int, 1, 'the signed head counts');

-- the workers' hinted path (their copy of the safe region is current) chains as well, two
-- fixes of the seal in one call, the head in latest following
SELECT is((SELECT count(*) FROM corridor.ingest_hinted((SELECT gen FROM corridor.safe_gen),
    ARRAY['S1', 'S1'], ARRAY[:t0 + 400, :t0 + 410]::float8[], ARRAY[-1.0, -1.0],
    ARRAY[36.0406, 36.0407], ARRAY[60, 60]::real[], ARRAY[90, 90]::real[], ARRAY[NULL, NULL]::real[],
    ARRAY[NULL, NULL]::real[], ARRAY[90, 90]::real[], ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[],
    ARRAY[1, 2], ARRAY[false, true],
    ARRAY[0, (SELECT extract(epoch FROM ts) FROM corridor.latest WHERE seal_id = 'S1')]::float8[],
    ARRAY[0, (SELECT safe_ver FROM corridor.latest WHERE seal_id = 'S1')]::bigint[],
    '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}') WHERE kind = 'hinted'),
    1::bigint, 'a hinted call stores the fixes');
SELECT is((SELECT array_agg(chain_seq ORDER BY ts) FROM corridor.positions
           WHERE seal_id = 'S1' AND ts >= to_timestamp(:t0 + 400)), ARRAY[12, 13]::bigint[],
          'hinted fixes follow the head');
SELECT is((SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 13)
          = sha256(corridor.chain_content(13, 'S1', to_timestamp(:t0 + 410), -1.0, 36.0407, 60,
                                          90, NULL, NULL, 90, NULL, NULL)
                   || (SELECT link FROM corridor.positions WHERE seal_id = 'S1' AND chain_seq = 12))
          AND (SELECT seq FROM corridor.chain_heads WHERE seal_id = 'S1') = 13,
          true, 'and link onto each other; the head is the newest');

SELECT * FROM finish();
ROLLBACK;
