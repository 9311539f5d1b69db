-- pgTAP: rules/common.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_common).
BEGIN;
SELECT plan(22);

-- fail: the API error the web gateway turns into an HTTP answer
SELECT throws_ok($$ SELECT corridor.fail(422, 'bad_thing', 'it is bad', 'thing') $$,
                 'CT422', 'bad_thing: it is bad', 'fail raises CT<http> with "code: detail"');
SELECT throws_ok($$ SELECT corridor.fail(404, 'gone', 'not here') $$,
                 'CT404', 'gone: not here', 'a field is optional');

-- iso: UTC, milliseconds, whatever the session's time zone
SET LOCAL TIME ZONE 'Africa/Nairobi';
SELECT is(corridor.iso('2026-03-04 05:06:07.891+03'), '2026-03-04T02:06:07.891Z',
          'iso writes UTC with milliseconds');
SELECT is(corridor.iso(NULL), NULL, 'iso of NULL is NULL');

-- json_pos: a positive number from a body member
SELECT is(corridor.json_pos('{"n": 5}', 'n'), 5::float8, 'a positive integer');
SELECT is(corridor.json_pos('{}', 'n'), NULL, 'absent: NULL');
SELECT is(corridor.json_pos('{"n": null}', 'n'), NULL, 'null: NULL');
SELECT is(corridor.json_pos('{"n": 2.5}', 'n', false), 2.5::float8, 'a fraction when allowed');
SELECT throws_ok($$ SELECT corridor.json_pos('{"n": 2.5}', 'n') $$, 'CT422',
                 'n_invalid: n must be a positive integer, got 2.5', 'a fraction when not');
SELECT throws_ok($$ SELECT corridor.json_pos('{"n": 0}', 'n') $$, 'CT422', NULL, 'zero');
SELECT throws_ok($$ SELECT corridor.json_pos('{"n": -3}', 'n') $$, 'CT422', NULL, 'negative');
SELECT throws_ok($$ SELECT corridor.json_pos('{"n": "7"}', 'n') $$, 'CT422',
                 'n_invalid: n must be a number', 'a string is not a number');
SELECT throws_ok($$ SELECT corridor.json_pos('{"n": 3000000000}', 'n') $$, 'CT422', NULL,
                 'above int4');

-- dist_m: great-circle metres
SELECT is(corridor.dist_m(0, 0, 0, 0), 0::float8, 'no distance to itself');
SELECT ok(abs(corridor.dist_m(0, 0, 1, 0) - 111195) < 1, 'one degree of latitude: 111.195 km');
SELECT ok(abs(corridor.dist_m(-1.29, 36.82, -4.04, 39.67) - 441000) < 2000,
          'Nairobi to Mombasa: about 441 km');

-- battery_low: strictly below the limit; unknown stays unknown
SELECT ok(corridor.battery_low(19.9, 20), 'below the limit is low');
SELECT ok(NOT corridor.battery_low(20, 20), 'at the limit is not low');
SELECT is(corridor.battery_low(NULL, 20), NULL, 'no reading: unknown, not low');

-- ensure_partitions: idempotent, one table a day
-- (the runner made them when the database was migrated, which may have been yesterday: the
-- first call makes what the day since needs, the second must find nothing to do)
SELECT cmp_ok(corridor.ensure_partitions(7, 7), '<=', 1, 'at most the day since the runner is new');
SELECT is(corridor.ensure_partitions(7, 7), 0, 'a second call makes nothing');
SELECT ok(to_regclass('corridor.positions_' || to_char(current_date + 7, 'YYYYMMDD')) IS NOT NULL,
          'a week ahead exists');

SELECT * FROM finish();
ROLLBACK;
