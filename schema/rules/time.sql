-- rules/time.sql: the rules that fire on time passing, not on a fix.
-- corridor.sweep: a leg overdue at its next checkpoint, the transit time exceeded, a seal
-- silent past its route's reporting limit (signal_lost, and signal_restored when it comes
-- back is ingest's), an unauthorised stop whose fixes stopped coming. It first keeps, from
-- trip_state alone, the trips for which a condition can hold with the smallest limit of any
-- route, then tests those exactly.
-- corridor.sweep_all(now) runs every corridor.*_sweep(timestamptz) function (vessels,
-- dispatch, response targets, commands) and sweep itself, and returns their rows (kind,
-- idx, body) as ingest_batch does; the sweeper thread calls it every --sweep-interval
-- seconds (geofence/geo_sweep.c). A family joins by defining its *_sweep function.
-- Reads: trip_state, routes, route_checkpoints, geofences, latest, rules. Writes: events,
-- incidents, trip_state.

-- The time rules, for every armed trip at once; the server calls it every few seconds with
-- its clock. Returns the same rows as ingest_batch ('incident', NULL, json).
--   transit_overdue   now > deadline and the destination not reached
--   leg_overdue       the leg to the next checkpoint is older than its max_leg_minutes
--   signal_loss       no fix for longer than the route's reporting_limit_minutes
--   unauthorised_stop the last fixes were stationary outside an authorised place for
--                     longer than stop_minutes (the device may report rarely while parked)
-- Each fires once per condition (flags in trip_state). The update is optimistic: it applies
-- only if no batch moved the seal's state since it was read, so a sweep racing a fresh fix
-- raises nothing rather than something stale; the next sweep looks again.
CREATE OR REPLACE FUNCTION corridor.sweep(p_now timestamptz DEFAULT now())
RETURNS TABLE (kind text, idx int, body text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    RETURN QUERY
    WITH cand AS (
        SELECT s.seal_id, s.trip_id, s.last_ts, s.next_seq, s.deadline, s.leg_started_at,
               s.stop_since, s.stop_lat, s.stop_lon, s.armed_at,
               NOT s.transit_overdue AND p_now > s.deadline AND s.arrived_at IS NULL AS f_transit,
               coalesce(s.leg_overdue_seq < s.next_seq
                        AND p_now > s.leg_started_at + make_interval(mins => c.max_leg_minutes),
                        false) AS f_leg,
               NOT s.signal_lost AND coalesce(l.ts, s.armed_at)
                   < p_now - make_interval(mins => r.reporting_limit_minutes) AS f_signal,
               coalesce(NOT s.stop_raised AND NOT s.stop_ok
                        AND p_now - s.stop_since >= make_interval(mins => r.stop_minutes),
                        false) AS f_stop,
               c.max_leg_minutes, c.geofence_id AS cp_fence, cg.name AS cp_name,
               r.reporting_limit_minutes, r.stop_minutes, s.destination_id,
               l.ts AS seen, l.lat, l.lon
        -- only the trips that can fire: each condition with the smallest limit of any
        -- route, and the last evaluated fix (trip_state.last_ts is never newer than the
        -- seal's latest) for the latest one; the exact test is the one above
        FROM (SELECT s0.* FROM corridor.trip_state s0
              CROSS JOIN (SELECT min(r0.reporting_limit_minutes) AS rep,
                                 min(r0.stop_minutes) AS stop,
                                 (SELECT min(c0.max_leg_minutes)
                                  FROM corridor.route_checkpoints c0) AS leg
                          FROM corridor.routes r0) m
              WHERE (NOT s0.transit_overdue AND p_now > s0.deadline AND s0.arrived_at IS NULL)
                 OR (s0.leg_overdue_seq < s0.next_seq
                     AND p_now > s0.leg_started_at + make_interval(mins => m.leg))
                 OR (NOT s0.signal_lost
                     AND (s0.last_ts IS NULL
                          OR s0.last_ts < p_now - make_interval(mins => m.rep)))
                 OR (NOT s0.stop_raised AND NOT s0.stop_ok
                     AND p_now - s0.stop_since >= make_interval(mins => m.stop))
              OFFSET 0) s
        JOIN corridor.routes r ON r.id = s.route_id
        LEFT JOIN corridor.route_checkpoints c ON c.route_id = s.route_id AND c.seq = s.next_seq
        LEFT JOIN corridor.geofences cg ON cg.id = c.geofence_id
        LEFT JOIN corridor.latest l ON l.seal_id = s.seal_id
    ),
    upd AS (
        UPDATE corridor.trip_state s
        SET transit_overdue = s.transit_overdue OR d.f_transit,
            leg_overdue_seq = CASE WHEN d.f_leg THEN greatest(s.leg_overdue_seq, d.next_seq)
                                   ELSE s.leg_overdue_seq END,
            signal_lost = s.signal_lost OR d.f_signal,
            stop_raised = s.stop_raised OR d.f_stop
        FROM (SELECT * FROM cand WHERE f_transit OR f_leg OR f_signal OR f_stop) d
        WHERE s.seal_id = d.seal_id AND s.trip_id = d.trip_id
          AND s.last_ts IS NOT DISTINCT FROM d.last_ts AND s.next_seq = d.next_seq
        RETURNING d.*
    ),
    ev AS (
        SELECT u.seal_id, u.trip_id, e.ts, e.lat, e.lon, e.kind, e.fence_id, e.details
        FROM upd u
        CROSS JOIN LATERAL (VALUES
            (u.f_transit, 'transit_overdue', p_now, u.lat, u.lon, u.destination_id,
             jsonb_build_object('deadline', corridor.iso(u.deadline),
                                'minutes_late',
                                round((extract(epoch FROM p_now - u.deadline) / 60)::numeric, 1),
                                'last_fix', corridor.iso(u.seen))),
            (u.f_leg, 'leg_overdue', p_now, u.lat, u.lon, u.cp_fence,
             jsonb_build_object('seq', u.next_seq, 'checkpoint', u.cp_name,
                                'leg_started_at', corridor.iso(u.leg_started_at),
                                'max_leg_minutes', u.max_leg_minutes,
                                'leg_minutes', round((extract(epoch FROM p_now - u.leg_started_at)
                                                      / 60)::numeric, 1),
                                'last_fix', corridor.iso(u.seen))),
            (u.f_signal, 'signal_loss', p_now, u.lat, u.lon, NULL::bigint,
             jsonb_build_object('last_fix', corridor.iso(u.seen),
                                'silent_minutes',
                                round((extract(epoch FROM p_now - coalesce(u.seen, u.armed_at))
                                       / 60)::numeric, 1),
                                'reporting_limit_minutes', u.reporting_limit_minutes)),
            (u.f_stop, 'unauthorised_stop', p_now, u.stop_lat, u.stop_lon, NULL,
             jsonb_build_object('stationary_since', corridor.iso(u.stop_since),
                                'minutes', round((extract(epoch FROM p_now - u.stop_since)
                                                  / 60)::numeric, 1),
                                'stop_minutes', u.stop_minutes, 'last_fix', corridor.iso(u.seen),
                                'by', 'sweep'))
        ) e(hit, kind, ts, lat, lon, fence_id, details)
        WHERE e.hit
    ),
    ev_ins AS (
        INSERT INTO corridor.events (seal_id, trip_id, kind, fence_id, ts, lat, lon, details)
        SELECT e.seal_id, e.trip_id, e.kind, e.fence_id, e.ts, e.lat, e.lon, e.details FROM ev e
    ),
    inc AS (
        INSERT INTO corridor.incidents AS n (rule, severity, subject, seal_id, trip_id, fence_id,
                                             opened_at, lat, lon, details)
        SELECT e.kind, ru.severity, e.trip_id::text, e.seal_id, e.trip_id, e.fence_id, e.ts,
               e.lat, e.lon, e.details || jsonb_build_object('event', e.kind)
        FROM ev e JOIN corridor.rules ru ON ru.code = e.kind
        ON CONFLICT (subject, rule) WHERE status <> 'resolved'
        DO UPDATE SET event_count = n.event_count + 1, updated_at = now()
        RETURNING n.*
    )
    SELECT 'incident'::text, NULL::int, corridor.incident_json(n) FROM inc n;
END $$;

CREATE OR REPLACE FUNCTION corridor.sweep_all(p_now timestamptz)
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
