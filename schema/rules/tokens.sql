-- rules/tokens.sql: API tokens.
-- token_check answers who a token hash belongs to (role, country, unit), or nothing when it
-- is unknown or revoked. Tokens are made and revoked by `corridord token` (server/token.c).
-- Reads and writes: tokens.

-- The identity behind a token hash, or no row when it is unknown or revoked; marks it used.
-- last_used_at is written at most once a minute so a busy token is not a write per call.
CREATE OR REPLACE FUNCTION corridor.token_check(p_hash bytea)
RETURNS TABLE (id bigint, name text, role text, country text, unit_id text)
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE corridor.tokens t SET last_used_at = now()
     WHERE t.hash = p_hash AND t.revoked_at IS NULL
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute');
    RETURN QUERY SELECT t.id, t.name, t.role, t.country, t.unit_id
                   FROM corridor.tokens t WHERE t.hash = p_hash AND t.revoked_at IS NULL;
END $$;
