-- pgTAP: rules/tokens.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_tokens).
BEGIN;
SELECT plan(20);

-- the data: a unit (an rru token is tied to one), and one token of each kind; only the
-- SHA-256 of a token is stored
DO $$ BEGIN
    PERFORM corridor.rru_upsert('{"id": "RRU-MLB", "name": "Malaba unit",
                                  "base": {"type": "Point", "coordinates": [34.27, 0.63]}}');
END $$;
INSERT INTO corridor.tokens (name, role, country, unit_id, hash, revoked_at) VALUES
    ('ops', 'admin', NULL, NULL, sha256('cor_admin'), NULL),
    ('partner-UG', 'partner', 'UG', NULL, sha256('cor_partner'), NULL),
    ('rru-mlb', 'rru', NULL, 'RRU-MLB', sha256('cor_rru'), NULL),
    ('old', 'officer', NULL, NULL, sha256('cor_revoked'), now() - interval '1 day');

-- token_check: an unknown hash is no one
SELECT is_empty($$ SELECT * FROM corridor.token_check(sha256('cor_nobody')) $$,
                'an unknown token has no identity');
SELECT is_empty($$ SELECT * FROM corridor.token_check(NULL) $$, 'no hash: no identity');

-- token_check: the identity behind a live token, with its country or unit
SELECT results_eq($$ SELECT name, role, country, unit_id FROM corridor.token_check(sha256('cor_admin')) $$,
                  $$ VALUES ('ops', 'admin', NULL::text, NULL::text) $$,
                  'an admin token: its name and role');
SELECT results_eq($$ SELECT role, country FROM corridor.token_check(sha256('cor_partner')) $$,
                  $$ VALUES ('partner', 'UG') $$, 'a partner token carries its country');
SELECT results_eq($$ SELECT role, unit_id FROM corridor.token_check(sha256('cor_rru')) $$,
                  $$ VALUES ('rru', 'RRU-MLB') $$, 'an rru token carries its unit');
SELECT is((SELECT id FROM corridor.token_check(sha256('cor_admin'))),
          (SELECT id FROM corridor.tokens WHERE name = 'ops'), 'and the id of its row');

-- token_check: a revoked token is refused and is not marked used
SELECT is_empty($$ SELECT * FROM corridor.token_check(sha256('cor_revoked')) $$,
                'a revoked token has no identity');
SELECT is((SELECT last_used_at FROM corridor.tokens WHERE name = 'old'), NULL,
          'a revoked token is not marked used');

-- last_used_at: written on use, at most once a minute
SELECT is((SELECT last_used_at FROM corridor.tokens WHERE name = 'ops'), now(),
          'a checked token is marked used now');
UPDATE corridor.tokens SET last_used_at = now() - interval '30 seconds' WHERE name = 'partner-UG';
SELECT ok(EXISTS (SELECT 1 FROM corridor.token_check(sha256('cor_partner'))), 'checked again');
SELECT is((SELECT last_used_at FROM corridor.tokens WHERE name = 'partner-UG'),
          now() - interval '30 seconds', 'used 30 s ago: last_used_at is not rewritten');
UPDATE corridor.tokens SET last_used_at = now() - interval '61 seconds' WHERE name = 'partner-UG';
SELECT ok(EXISTS (SELECT 1 FROM corridor.token_check(sha256('cor_partner'))), 'checked once more');
SELECT is((SELECT last_used_at FROM corridor.tokens WHERE name = 'partner-UG'), now(),
          'used over a minute ago: last_used_at moves to now');

-- the table: a partner needs its country, an rru its unit, and only they have one
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, hash) VALUES ('p', 'partner', sha256('x1')) $$,
                 '23514', NULL, 'a partner token without a country is refused');
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, hash) VALUES ('r', 'rru', sha256('x2')) $$,
                 '23514', NULL, 'an rru token without a unit is refused');
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, country, hash)
                    VALUES ('o', 'officer', 'KE', sha256('x3')) $$,
                 '23514', NULL, 'an officer token with a country is refused');
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, country, hash)
                    VALUES ('p', 'partner', 'XX', sha256('x4')) $$,
                 '23503', NULL, 'a partner token of an unknown country is refused');
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, hash) VALUES ('g', 'god', sha256('x5')) $$,
                 '23514', NULL, 'an unknown role is refused');

-- the table: the hash is a 32-byte SHA-256, and each is unique
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, hash) VALUES ('a', 'admin', '\x0102'::bytea) $$,
                 '23514', NULL, 'a hash that is not 32 bytes is refused');
SELECT throws_ok($$ INSERT INTO corridor.tokens (name, role, hash) VALUES ('a2', 'admin', sha256('cor_admin')) $$,
                 '23505', NULL, 'a second token with the same hash is refused');

SELECT * FROM finish();
ROLLBACK;
