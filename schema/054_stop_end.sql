-- 054_stop_end: a seal whose unauthorised stop had been raised could not drive on.
-- ingest_evaluate (051) writes back stop_raised = f.stop_raised OR (s.stop_raised AND
-- s.stop_since = f.stop_since): when the stop ends, the walk's stop_since is NULL, the
-- comparison NULL, and the whole batch failed on trip_state's NOT NULL (found by
-- test_trips' safe_regions_change_no_outcome, which drives on after such a stop). A stop
-- that is over is no longer raised: NULL there means false.
CREATE FUNCTION corridor.trip_state_stop_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.stop_raised := false;
    RETURN NEW;
END $$;

CREATE TRIGGER trip_state_stop_end BEFORE UPDATE ON corridor.trip_state
    FOR EACH ROW WHEN (NEW.stop_raised IS NULL) EXECUTE FUNCTION corridor.trip_state_stop_end();
