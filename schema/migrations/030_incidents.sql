-- 030_incidents: the incident lifecycle, rapid response units and their dispatches, the
-- 60-minute response target (issue 6). docs/incidents.md describes it for users.
--
-- What lives here:
--   lifecycle  open -> dispatched -> acknowledged -> en_route -> on_scene -> resolved, as
--              columns on corridor.incidents (version for optimistic concurrency, rru_id,
--              one timestamp per step, outcome) and corridor.incident_action(), the one
--              function every change goes through (REST, the websocket, RRU clients).
--   audit      corridor.incident_audit: append-only (a trigger refuses UPDATE and DELETE).
--   units      corridor.rrus: base, current position (from a tracker seal), status.
--   dispatch   corridor.dispatches: stored before they are sent (the dispatch stage in
--              alerts/dispatch.c delivers them over nng), corridor.dispatch_tick() for
--              automatic dispatch and escalation.
--   target     corridor.response_sweep(now) flags incidents past the 60-minute target
--              (run by the sweeper), corridor.response_report() for GET /api/reports/response.
--
-- Errors, as in 004: SQLSTATE 'CT' || http, MESSAGE 'code: human sentence'. Errors about
-- an existing incident carry its current state (corridor.incident_json) in DETAIL, so a
-- 409 answers with what the loser of a race needs to retry.
--
-- Its functions and triggers are in schema/rules/incidents.sql and dispatch.sql,
-- in their current form (docs/schema.md).

-- ---- the lifecycle on the incidents table ----
ALTER TABLE corridor.incidents
    ADD COLUMN version         int NOT NULL DEFAULT 1,
    ADD COLUMN rru_id          text,
    ADD COLUMN dispatched_at   timestamptz,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN en_route_at     timestamptz,
    ADD COLUMN on_scene_at     timestamptz,
    ADD COLUMN resolved_at     timestamptz,
    ADD COLUMN outcome         text,
    ADD COLUMN breached_at     timestamptz,
    ADD CONSTRAINT incidents_status_check CHECK (status IN ('open', 'dispatched', 'acknowledged',
                                                            'en_route', 'on_scene', 'resolved')),
    ADD CONSTRAINT incidents_outcome_check CHECK (outcome IS NULL OR outcome IN
        ('confirmed', 'false_alarm', 'duplicate', 'handled_remotely', 'no_trace', 'other'));
-- what the dispatch stage scans every second: open incidents without a unit
CREATE INDEX incidents_undispatched ON corridor.incidents (opened_at)
    WHERE status = 'open' AND rru_id IS NULL;
-- what the response sweep scans: unanswered incidents not flagged yet
CREATE INDEX incidents_unanswered ON corridor.incidents (opened_at)
    WHERE status <> 'resolved' AND on_scene_at IS NULL AND breached_at IS NULL;
CREATE INDEX incidents_rru ON corridor.incidents (rru_id, opened_at) WHERE rru_id IS NOT NULL;

-- ---- the audit trail ----
CREATE TABLE corridor.incident_audit (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL,
    from_status text,
    to_status   text,
    note        text,
    rru_id      text,
    outcome     text,
    version     int
);
CREATE INDEX incident_audit_incident ON corridor.incident_audit (incident_id, id);

-- ---- rapid response units ----
CREATE TABLE corridor.rrus (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base       geography(Point, 4326) NOT NULL,
    status     text NOT NULL DEFAULT 'available'
               CHECK (status IN ('available', 'busy', 'off_duty')),
    tracker    text,                    -- a seal id whose positions are the unit's
    pos        geography(Point, 4326),  -- last reported position
    pos_at     timestamptz,
    loc        geography(Point, 4326) GENERATED ALWAYS AS (coalesce(pos, base)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rrus_loc ON corridor.rrus USING gist (loc);

-- ---- dispatches: stored before they are sent ----
CREATE TABLE corridor.dispatches (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    rru_id      text NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'acknowledged', 'escalated', 'cancelled', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,           -- escalation clock restarted (no other unit was free)
    sent_at     timestamptz,           -- first delivery
    sends       int NOT NULL DEFAULT 0,
    acked_at    timestamptz,
    closed_at   timestamptz,
    actor       text NOT NULL
);
-- one live dispatch per incident; a unit's queue is one index read
CREATE UNIQUE INDEX dispatches_one_pending ON corridor.dispatches (incident_id)
    WHERE status = 'pending';
CREATE INDEX dispatches_unit ON corridor.dispatches (rru_id, id) WHERE status = 'pending';
CREATE INDEX dispatches_incident ON corridor.dispatches (incident_id, id);
