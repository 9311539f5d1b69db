-- 040_tokens: API tokens (docs/security.md). A token is shown once by
-- `corridord token create`; only its SHA-256 is stored, so a copy of the database does
-- not let anyone call the API. role partner carries its country, role rru its unit.
--
-- Its functions and triggers are in schema/rules/tokens.sql,
-- in their current form (docs/schema.md).
CREATE TABLE corridor.tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         text NOT NULL CHECK (role IN ('admin', 'officer', 'arming', 'rru', 'partner')),
    country      text REFERENCES corridor.countries (iso2),
    unit_id      text REFERENCES corridor.rrus (id),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK ((role = 'partner') = (country IS NOT NULL)),
    CHECK ((role = 'rru') = (unit_id IS NOT NULL))
);
