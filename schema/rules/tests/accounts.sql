-- pgTAP: rules/accounts.sql. Run by tests/schema/pgtap.sh (ctest -R schema_rules_accounts).
-- One transaction: now() does not move, so times are moved by hand.
BEGIN;
SELECT plan(27);

SELECT lives_ok($$ SELECT corridor.user_create('jane.wanjiru', 'Jane Wanjiru', 'officer',
                                               '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA', 'cli') $$,
                'an officer account is made');
SELECT throws_ok($$ SELECT corridor.user_create('jane.wanjiru', '', 'officer', '$argon2id$x', 'cli') $$,
                 'CT409', NULL, 'a name is unique');
SELECT throws_ok($$ SELECT corridor.user_create('Jane', '', 'officer', '$argon2id$x', 'cli') $$,
                 'CT422', NULL, 'a name is lower case');
SELECT throws_ok($$ SELECT corridor.user_create('bob', '', 'partner', '$argon2id$x', 'cli') $$,
                 'CT422', NULL, 'partner and rru stay token roles');
SELECT throws_ok($$ SELECT corridor.user_create('bob', '', 'officer', 'plaintext', 'cli') $$,
                 'CT500', NULL, 'only an Argon2id encoding is stored');
SELECT is((SELECT actor FROM corridor.user_audit WHERE action = 'create'), 'cli',
          'the creation is audited with who made it');

-- the backoff: nothing below 5 failures, then 30 s doubling, at most an hour
SELECT is(corridor.signin_backoff(4), interval '0', 'four failures: no lockout');
SELECT is(corridor.signin_backoff(5), interval '30 s', 'the fifth failure: 30 s');
SELECT is(corridor.signin_backoff(7), interval '120 s', 'the seventh: 2 minutes');
SELECT is(corridor.signin_backoff(40), interval '1 hour', 'at most an hour');

-- lockout of an account
SELECT is((SELECT array_agg(corridor.signin_failed('jane.wanjiru', '10.0.0.1')) FROM generate_series(1, 4)),
          ARRAY[0, 0, 0, 0], 'four wrong passwords do not lock');
SELECT is(corridor.signin_failed('jane.wanjiru'), 30, 'the fifth locks for 30 s');
SELECT is((SELECT retry_after FROM corridor.signin_lookup('jane.wanjiru')), 30,
          'the lookup tells the wait');
SELECT is(corridor.signin_failed('jane.wanjiru'), 60, 'a sixth (while locked) doubles it');
SELECT is((SELECT action FROM corridor.user_audit ORDER BY id DESC LIMIT 1), 'locked',
          'the lock is audited');

-- the same for a name that is no account, so that the answers tell nothing
SELECT is((SELECT array_agg(corridor.signin_failed('nobody')) FROM generate_series(1, 5)),
          ARRAY[0, 0, 0, 0, 30], 'an unknown name is locked after five failures too');
SELECT results_eq($$ SELECT user_id, retry_after FROM corridor.signin_lookup('nobody') $$,
                  $$ VALUES (NULL::bigint, 30) $$, 'and its lookup looks like a locked account''s');

-- a sign-in clears the failures and opens a session
SELECT ok(corridor.session_open((SELECT id FROM corridor.users WHERE name = 'jane.wanjiru'),
                                sha256('s1'), sha256('c1'), 'test agent', '10.0.0.1', 43200) > 0,
          'a session is opened');
SELECT results_eq($$ SELECT failed_count, locked_until FROM corridor.users WHERE name = 'jane.wanjiru' $$,
                  $$ VALUES (0, NULL::timestamptz) $$, 'its failures are cleared');
SELECT results_eq($$ SELECT name, role, csrf_hash FROM corridor.session_check(sha256('s1'), 1800) $$,
                  $$ VALUES ('jane.wanjiru', 'officer', sha256('c1')) $$,
                  'the cookie''s hash finds the user and the CSRF hash');
SELECT is_empty($$ SELECT * FROM corridor.session_check(sha256('other'), 1800) $$,
                'an unknown cookie is no one');

-- idle expiry: last seen 31 minutes ago with a 30-minute limit
UPDATE corridor.sessions SET last_seen = now() - interval '31 minutes' WHERE hash = sha256('s1');
SELECT is_empty($$ SELECT * FROM corridor.session_check(sha256('s1'), 1800) $$,
                'an idle session is refused');
SELECT is((SELECT count(*)::int FROM corridor.sessions WHERE hash = sha256('s1')), 0,
          'and deleted');

-- absolute expiry: active a second ago, but past its end
SELECT corridor.session_open((SELECT id FROM corridor.users WHERE name = 'jane.wanjiru'),
                             sha256('s2'), sha256('c2'), NULL, NULL, 43200);
UPDATE corridor.sessions SET expires_at = now() - interval '1 s' WHERE hash = sha256('s2');
SELECT is_empty($$ SELECT * FROM corridor.session_check(sha256('s2'), 1800) $$,
                'a session past its absolute end is refused, however active');

-- disabling ends every session at once
SELECT corridor.session_open((SELECT id FROM corridor.users WHERE name = 'jane.wanjiru'),
                             sha256('s3'), sha256('c3'), NULL, NULL, 43200);
SELECT corridor.session_open((SELECT id FROM corridor.users WHERE name = 'jane.wanjiru'),
                             sha256('s4'), sha256('c4'), NULL, NULL, 43200);
SELECT corridor.user_disable('jane.wanjiru', 'officer:admin');
SELECT is((SELECT count(*)::int FROM corridor.sessions), 0, 'disable kills the sessions');
SELECT throws_ok($$ SELECT corridor.session_open((SELECT id FROM corridor.users WHERE name = 'jane.wanjiru'),
                                                 sha256('s5'), sha256('c5'), NULL, NULL, 43200) $$,
                 'CT403', NULL, 'a disabled account opens no session');
SELECT throws_ok($$ UPDATE corridor.user_audit SET actor = 'x' $$, 'CT409', NULL,
                 'the users audit is append-only');

SELECT * FROM finish();
ROLLBACK;
