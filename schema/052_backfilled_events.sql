-- 052_backfilled_events: an event raised by a stale fix says so.
-- A seal that lost coverage replays its stored fixes later (JT/T 808 0x0704 blind-area
-- batches); when those fixes are still newer than anything seen from the seal they are
-- evaluated and may raise events, whose evidence then carries "backfilled": true and the
-- delay, so an officer knows the event is history, not news. A fix counts as stale when its
-- batch ran more than 5 minutes after its device time. Only events raised by the batch
-- function are judged (it runs with corridor.in_batch on); the sweep's time rules date
-- their events by the last fix on purpose. Events are rare next to fixes: one comparison
-- each.
CREATE FUNCTION corridor.mark_backfilled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seal_id IS NOT NULL AND current_setting('corridor.in_batch', true) = 'on'
       AND now() - NEW.ts > interval '5 minutes' THEN
        NEW.details := NEW.details || jsonb_build_object(
            'backfilled', true, 'delay_s', round(extract(epoch FROM now() - NEW.ts)));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER events_backfilled BEFORE INSERT ON corridor.events
    FOR EACH ROW EXECUTE FUNCTION corridor.mark_backfilled();

ALTER FUNCTION corridor.ingest_batch(text[], float8[], float8[], float8[], real[], real[],
                                     real[], real[], real[], text[], text[])
    SET corridor.in_batch = 'on';
