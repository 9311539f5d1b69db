-- pgTAP: rules/time.sql, the rules that fire on time passing (corridor.sweep, sweep_all).
BEGIN;
SELECT plan(14);
\ir setup/corridor.sql
-- the rules the sweep raised for a trip, 'rule,rule' by rule
CREATE FUNCTION pg_temp.raised(p_trip uuid) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(rule, ',' ORDER BY rule), '') FROM corridor.incidents
    WHERE trip_id = p_trip
$$;
CREATE FUNCTION pg_temp.sweep_at(p_at float8) RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM corridor.sweep(to_timestamp(current_setting('tap.t0')::float8 + p_at))
    WHERE kind = 'incident'
$$;

SELECT pg_temp.seal('TAP-1');
SELECT pg_temp.arm('TAP-1', 30) AS trip \gset
SELECT count(*) FROM pg_temp.fix('TAP-1', 60, -1.0, 36.01, 50, 90, 'locked');

-- signal loss: the route's reporting limit (15 minutes) after the last fix
SELECT is(pg_temp.sweep_at(60 + 14 * 60), 0, '14 minutes silent: nothing');
SELECT is(pg_temp.sweep_at(60 + 16 * 60), 1, '16 minutes silent: one incident');
SELECT is(pg_temp.raised(:'trip'), 'signal_loss', 'signal_loss');
SELECT is(pg_temp.sweep_at(60 + 17 * 60), 0, 'raised once, not at every sweep');
SELECT is((SELECT region_void FROM (SELECT safe_gen IS NULL AS region_void FROM corridor.latest
                                    WHERE seal_id = 'TAP-1') x), true,
          'signal loss voids the seal''s safe region (the next fix must say it is back)');
SELECT count(*) FROM pg_temp.fix('TAP-1', 60 + 20 * 60, -1.0, 36.02, 50, 90, 'locked');
SELECT ok(pg_temp.events(:'trip') LIKE '%signal_restored%', 'the next fix: signal_restored');

-- the leg to CP1 may take 60 minutes from arming (the seal keeps reporting)
SELECT count(*) FROM pg_temp.fix('TAP-1', 58 * 60, -1.0, 36.1, 50, 90, 'locked');
SELECT is(pg_temp.sweep_at(30 + 59 * 60), 0, 'leg to CP1 at 59 minutes: nothing');
SELECT is(pg_temp.sweep_at(30 + 61 * 60) >= 1, true, 'at 61 minutes: raised');
SELECT ok(pg_temp.raised(:'trip') LIKE '%leg_overdue%', 'leg_overdue');

-- an unauthorised stop: still for the route's 30 minutes outside an authorised place,
-- raised by the sweep while the seal reports nothing new...
SELECT (SELECT count(*) FROM pg_temp.fix('TAP-1', 4000 + k * 60, -1.0, 36.2, 0, 90, 'locked'))
FROM generate_series(0, 5) k;
SELECT ok(pg_temp.sweep_at(4000 + 31 * 60) >= 1, 'the sweep raises a stop of 31 minutes');
SELECT ok(pg_temp.raised(:'trip') LIKE '%unauthorised_stop%', 'unauthorised_stop');
-- ...and the seal drives on: the batch ends the stop (ingest_evaluate writes stop_raised
-- false; 054's trigger did it before the rule files, a NULL there failed the whole batch)
SELECT lives_ok($$ SELECT count(*) FROM pg_temp.fix('TAP-1', 4000 + 32 * 60, -1.0, 36.21, 60, 90, 'locked') $$,
                'a stopped seal whose stop was raised can drive on');
SELECT is((SELECT stop_raised FROM corridor.trip_state WHERE trip_id = :'trip'), false,
          'and its stop is no longer raised');

-- sweep_all runs every family's *_sweep and the sweep itself
SELECT ok((SELECT count(*) FROM corridor.sweep_all(to_timestamp(:t0 + 700 * 60))) >= 1,
          'sweep_all finds the transit overdue after 600 minutes (and the families'' sweeps run)');

SELECT * FROM finish();
ROLLBACK;
