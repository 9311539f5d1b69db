-- rules/accounts.sql: officer accounts and their sign-in sessions (docs/security.md).
-- Decides: when a sign-in is refused for too many failures (lockout with exponential
-- backoff, the same for names that are no account), when a session is still valid (idle
-- and absolute limits, a disabled account), and what disabling, a password reset and a
-- revocation end. Passwords are hashed and checked by corridord (Argon2id, in C); this
-- file only stores the encoded hash, and sessions only by the SHA-256 of their secrets.
-- Reads and writes: users, sessions, signin_unknown, user_audit.

-- The lockout after n failed sign-ins in a row: none below 5, then 30 s doubling with
-- each further failure, at most an hour.
CREATE OR REPLACE FUNCTION corridor.signin_backoff(n int) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n < 5 THEN interval '0'
                ELSE make_interval(secs => least(30 * power(2, least(n - 5, 20)), 3600)) END
$$;

-- Seconds (rounded up) until t, 0 when t is NULL or past.
CREATE OR REPLACE FUNCTION corridor.seconds_until(t timestamptz) RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t IS NULL OR t <= now() THEN 0
                ELSE ceil(extract(epoch FROM t - now()))::int END
$$;

-- What a sign-in under p_name needs: the account (no row fields when there is none) and
-- the seconds it is still locked for (names that are no account are locked alike).
CREATE OR REPLACE FUNCTION corridor.signin_lookup(p_name text)
RETURNS TABLE (user_id bigint, password_hash text, role text, disabled boolean, retry_after int)
LANGUAGE sql STABLE AS $$
    SELECT u.id, u.password_hash, u.role, u.disabled, corridor.seconds_until(u.locked_until)
      FROM corridor.users u WHERE u.name = p_name
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, corridor.seconds_until(s.locked_until)
      FROM corridor.signin_unknown s
     WHERE s.name = p_name AND NOT EXISTS (SELECT 1 FROM corridor.users u WHERE u.name = p_name)
$$;

-- Counts a failed sign-in under p_name (a wrong password, a disabled account or no
-- account): the seconds the name is now locked for, 0 when not yet.
CREATE OR REPLACE FUNCTION corridor.signin_failed(p_name text, p_ip text DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users;
    n int;
BEGIN
    UPDATE corridor.users SET failed_count = failed_count + 1,
                              locked_until = CASE WHEN failed_count + 1 >= 5
                                                  THEN now() + corridor.signin_backoff(failed_count + 1)
                                             END
     WHERE name = p_name RETURNING * INTO u;
    IF FOUND THEN
        INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
        VALUES (u.id, u.name, 'anonymous', CASE WHEN u.locked_until IS NULL THEN 'sign_in_failed'
                                                ELSE 'locked' END,
                'failure ' || u.failed_count || coalesce(' from ' || p_ip, ''));
        RETURN corridor.seconds_until(u.locked_until);
    END IF;
    IF length(p_name) > 200 THEN
        RETURN 0;  -- not a name an account can have: not kept
    END IF;
    INSERT INTO corridor.signin_unknown AS s (name, failed_count) VALUES (p_name, 1)
    ON CONFLICT (name) DO UPDATE SET failed_count = s.failed_count + 1, updated_at = now()
    RETURNING s.failed_count INTO n;
    UPDATE corridor.signin_unknown SET locked_until = now() + corridor.signin_backoff(n)
     WHERE name = p_name AND n >= 5;
    -- names tried once and forgotten do not pile up
    DELETE FROM corridor.signin_unknown WHERE updated_at < now() - interval '1 day';
    RETURN corridor.seconds_until(CASE WHEN n >= 5 THEN now() + corridor.signin_backoff(n) END);
END $$;

-- A successful sign-in of user p_user: clears its failures and opens a session (hash and
-- csrf_hash are SHA-256 of the cookie and of the CSRF token) that ends p_max_s seconds
-- from now at the latest. Returns the session's id.
CREATE OR REPLACE FUNCTION corridor.session_open(p_user bigint, p_hash bytea, p_csrf bytea,
                                                 p_ua text, p_ip text, p_max_s int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users;
    sid bigint;
BEGIN
    UPDATE corridor.users SET failed_count = 0, locked_until = NULL
     WHERE id = p_user AND NOT disabled RETURNING * INTO u;
    IF NOT FOUND THEN
        PERFORM corridor.fail(403, 'disabled', 'this account is disabled');
    END IF;
    DELETE FROM corridor.sessions WHERE user_id = p_user AND expires_at <= now();
    INSERT INTO corridor.sessions (hash, csrf_hash, user_id, expires_at, user_agent, ip)
    VALUES (p_hash, p_csrf, p_user, now() + make_interval(secs => p_max_s),
            left(p_ua, 256), left(p_ip, 64))
    RETURNING id INTO sid;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    VALUES (u.id, u.name, 'officer:' || u.name, 'sign_in',
            'session ' || sid || coalesce(' from ' || p_ip, ''));
    RETURN sid;
END $$;

-- The session behind a cookie's hash, or no row when there is none, it has been idle
-- for p_idle_s seconds, passed its absolute end, or its account is disabled (an ended
-- session is deleted). last_seen is written at most every quarter of the idle limit (and
-- at most every 30 s) so a busy page is not a write per request.
CREATE OR REPLACE FUNCTION corridor.session_check(p_hash bytea, p_idle_s int)
RETURNS TABLE (session_id bigint, user_id bigint, name text, display_name text, role text,
               csrf_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    s corridor.sessions;
BEGIN
    SELECT * INTO s FROM corridor.sessions x WHERE x.hash = p_hash;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.expires_at <= now() OR s.last_seen <= now() - make_interval(secs => p_idle_s)
       OR EXISTS (SELECT 1 FROM corridor.users u WHERE u.id = s.user_id AND u.disabled) THEN
        DELETE FROM corridor.sessions x WHERE x.id = s.id;
        RETURN;
    END IF;
    UPDATE corridor.sessions x SET last_seen = now()
     WHERE x.id = s.id AND x.last_seen < now() - make_interval(secs => least(30, p_idle_s / 4.0));
    RETURN QUERY SELECT s.id, u.id, u.name, u.display_name, u.role, s.csrf_hash
                   FROM corridor.users u WHERE u.id = s.user_id;
END $$;

-- Sign-out: ends the session behind a cookie's hash. true when there was one.
CREATE OR REPLACE FUNCTION corridor.session_close(p_hash bytea) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    s corridor.sessions;
BEGIN
    DELETE FROM corridor.sessions x WHERE x.hash = p_hash RETURNING * INTO s;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    SELECT u.id, u.name, 'officer:' || u.name, 'sign_out', 'session ' || s.id
      FROM corridor.users u WHERE u.id = s.user_id;
    RETURN true;
END $$;

CREATE OR REPLACE FUNCTION corridor.user_json(u corridor.users) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('name', u.name, 'display_name', u.display_name, 'role', u.role,
        'actor', 'officer:' || u.name, 'disabled', u.disabled, 'failed_count', u.failed_count,
        'locked_until', corridor.iso(CASE WHEN u.locked_until > now() THEN u.locked_until END),
        'created_at', corridor.iso(u.created_at), 'updated_at', corridor.iso(u.updated_at),
        'sessions', (SELECT count(*) FROM corridor.sessions s
                      WHERE s.user_id = u.id AND s.expires_at > now()))
$$;

CREATE OR REPLACE FUNCTION corridor.users_json() RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(corridor.user_json(u) ORDER BY u.name), '[]') FROM corridor.users u
$$;

CREATE OR REPLACE FUNCTION corridor.user_find(p_name text) RETURNS corridor.users
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u corridor.users;
BEGIN
    SELECT * INTO u FROM corridor.users WHERE name = p_name;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'not_found', 'no user ' || coalesce(p_name, ''));
    END IF;
    RETURN u;
END $$;

-- A new account. p_hash is the Argon2id encoding corridord made of its password.
CREATE OR REPLACE FUNCTION corridor.user_create(p_name text, p_display text, p_role text,
                                                p_hash text, p_actor text)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users;
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z0-9][a-z0-9._-]{0,63}$' THEN
        PERFORM corridor.fail(422, 'invalid_field', 'name must be 1 to 64 characters of a-z, '
                              '0-9, ''.'', ''_'', ''-'', starting with a letter or digit', 'name');
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('admin', 'officer', 'arming') THEN
        PERFORM corridor.fail(422, 'invalid_field', 'role must be admin, officer or arming', 'role');
    END IF;
    IF length(coalesce(p_display, '')) > 200 THEN
        PERFORM corridor.fail(422, 'invalid_field', 'display_name: at most 200 characters',
                              'display_name');
    END IF;
    IF p_hash IS NULL OR p_hash NOT LIKE '$argon2id$%' THEN
        PERFORM corridor.fail(500, 'bad_hash', 'the password hash is not an Argon2id encoding');
    END IF;
    IF EXISTS (SELECT 1 FROM corridor.users WHERE name = p_name) THEN
        PERFORM corridor.fail(409, 'exists', 'a user ' || p_name || ' exists already', 'name');
    END IF;
    INSERT INTO corridor.users (name, display_name, role, password_hash)
    VALUES (p_name, coalesce(p_display, ''), p_role, p_hash) RETURNING * INTO u;
    DELETE FROM corridor.signin_unknown WHERE name = p_name;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    VALUES (u.id, u.name, p_actor, 'create', 'role ' || u.role);
    RETURN corridor.user_json(u);
END $$;

-- Disables an account and ends all its sessions at once.
CREATE OR REPLACE FUNCTION corridor.user_disable(p_name text, p_actor text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users := corridor.user_find(p_name);
    n int;
BEGIN
    UPDATE corridor.users SET disabled = true, updated_at = now() WHERE id = u.id RETURNING * INTO u;
    DELETE FROM corridor.sessions WHERE user_id = u.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    VALUES (u.id, u.name, p_actor, 'disable', n || ' session(s) ended');
    RETURN corridor.user_json(u);
END $$;

-- A new password (p_hash, Argon2id): clears the lockout, ends all sessions. A disabled
-- account stays disabled.
CREATE OR REPLACE FUNCTION corridor.user_reset(p_name text, p_hash text, p_actor text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users := corridor.user_find(p_name);
    n int;
BEGIN
    IF p_hash IS NULL OR p_hash NOT LIKE '$argon2id$%' THEN
        PERFORM corridor.fail(500, 'bad_hash', 'the password hash is not an Argon2id encoding');
    END IF;
    UPDATE corridor.users SET password_hash = p_hash, failed_count = 0, locked_until = NULL,
                              updated_at = now()
     WHERE id = u.id RETURNING * INTO u;
    DELETE FROM corridor.sessions WHERE user_id = u.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    VALUES (u.id, u.name, p_actor, 'reset', n || ' session(s) ended');
    RETURN corridor.user_json(u);
END $$;

-- A user's open sessions (not past their absolute end nor idle p_idle_s seconds).
CREATE OR REPLACE FUNCTION corridor.user_sessions_json(p_name text, p_idle_s int) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    u corridor.users := corridor.user_find(p_name);
BEGIN
    RETURN (SELECT coalesce(json_agg(json_build_object('id', s.id,
                'created_at', corridor.iso(s.created_at), 'last_seen', corridor.iso(s.last_seen),
                'expires_at', corridor.iso(least(s.expires_at,
                                                 s.last_seen + make_interval(secs => p_idle_s))),
                'user_agent', s.user_agent, 'ip', s.ip) ORDER BY s.id), '[]')
              FROM corridor.sessions s
             WHERE s.user_id = u.id AND s.expires_at > now()
               AND s.last_seen > now() - make_interval(secs => p_idle_s));
END $$;

-- Ends one session of user p_name.
CREATE OR REPLACE FUNCTION corridor.session_revoke(p_name text, p_id bigint, p_actor text)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    u corridor.users := corridor.user_find(p_name);
BEGIN
    DELETE FROM corridor.sessions WHERE id = p_id AND user_id = u.id;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'not_found', 'user ' || p_name || ' has no session ' || p_id);
    END IF;
    INSERT INTO corridor.user_audit (user_id, name, actor, action, detail)
    VALUES (u.id, u.name, p_actor, 'revoke', 'session ' || p_id);
    RETURN json_build_object('revoked', p_id, 'user', u.name);
END $$;

CREATE OR REPLACE TRIGGER user_audit_append_only BEFORE UPDATE OR DELETE ON corridor.user_audit
    FOR EACH ROW EXECUTE FUNCTION corridor.audit_append_only();

CREATE OR REPLACE TRIGGER user_audit_no_truncate BEFORE TRUNCATE ON corridor.user_audit
    FOR EACH STATEMENT EXECUTE FUNCTION corridor.audit_append_only();
