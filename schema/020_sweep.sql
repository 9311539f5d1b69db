-- 020_sweep: one entry point for the periodic rules.
-- corridor.sweep_all(now) runs every function corridor.*_sweep(timestamptz) and
-- corridor.sweep(timestamptz) that the migrations define (time rules of trips, vessels,
-- dispatch, ...) and returns their rows, each (kind, idx, body) as ingest_batch does.
-- The sweeper thread of corridord calls it every --sweep-interval seconds; a rule module
-- joins by defining its function, with no change here.
CREATE FUNCTION corridor.sweep_all(p_now timestamptz)
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql AS $$
DECLARE
    fn text;
BEGIN
    FOR fn IN
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'corridor' AND (p.proname = 'sweep' OR p.proname LIKE '%\_sweep')
          AND p.pronargs = 1 AND p.proargtypes[0] = 'timestamptz'::regtype
        ORDER BY p.proname
    LOOP
        RETURN QUERY EXECUTE format('SELECT s.kind::text, s.idx::int, s.body::text FROM corridor.%I($1) s', fn)
            USING p_now;
    END LOOP;
END $$;
