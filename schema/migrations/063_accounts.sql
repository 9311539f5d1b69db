-- 063_accounts: officer accounts that sign in with a password, and their sessions
-- (docs/security.md). API tokens (corridor.tokens) stay for machines and devices.
--
-- A user's password is hashed with Argon2id by corridord (web/session.c), never in SQL:
-- password_hash holds the encoded "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.
-- A session is known to the database only by the SHA-256 of its secret (the cookie) and
-- of its CSRF token; a copy of the database lets nobody sign in or act as a session.
-- Its functions are in schema/rules/accounts.sql.

CREATE TABLE corridor.users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    role          text NOT NULL CHECK (role IN ('admin', 'officer', 'arming')),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled      boolean NOT NULL DEFAULT false,
    failed_count  int NOT NULL DEFAULT 0,   -- failed sign-ins since the last success
    locked_until  timestamptz,              -- sign-in refused (429) until then
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins under names that are no account, throttled as an account's are, so
-- that the answers do not tell which names exist.
CREATE TABLE corridor.signin_unknown (
    name         text PRIMARY KEY,
    failed_count int NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE corridor.sessions (
    id         bigserial PRIMARY KEY,  -- what lists and logs name: not the secret
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),      -- SHA-256 of the cookie
    csrf_hash  bytea NOT NULL CHECK (length(csrf_hash) = 32),        -- SHA-256 of its CSRF token
    user_id    bigint NOT NULL REFERENCES corridor.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,   -- the absolute limit: created_at + session-max
    user_agent text CHECK (length(user_agent) <= 256),
    ip         text CHECK (length(ip) <= 64)
);
CREATE INDEX sessions_user ON corridor.sessions (user_id);

-- Who did what to an account (append-only): create, disable, enable, reset, revoke,
-- sign_in, sign_out, sign_in_failed, locked.
CREATE TABLE corridor.user_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    user_id bigint REFERENCES corridor.users (id),
    name    text NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    detail  text
);
CREATE INDEX user_audit_user ON corridor.user_audit (user_id, at);
