-- 058_commands: the centre commands its seals (docs/commands.md).
--
-- A command is a row of corridor.commands, committed before anything is sent. Its states:
--   awaiting_approval -> queued -> sent -> acknowledged -> confirmed
--                                     \-> failed      (the device said no, or no answer
--                                                      after max_attempts sends)
--   any state before sent -> expired (expires_at passed) or cancelled (DELETE)
-- Who moves it:
--   the web gateway   command_create, command_approve, command_cancel (REST)
--   the ingest worker command_due (what to send to a seal it holds), command_sent (a frame
--                     went out with this serial), command_answer (the device's answer,
--                     matched by seal, serial and message id)
--   the sweeper       command_sweep: expiry, retries after answer_timeout_s, and the
--                     confirmation of an effect seen in later fixes (lock state, interval)
-- Every change of state appends a row to corridor.command_audit (append-only) naming who
-- moved it and why; every change is returned as a {"type": "command"} message for /ws.
-- A change to queued notifies channel corridor_commands with the seal id, so the worker
-- holding the seal's connection sends it at once.
--
-- Its functions and triggers are in schema/rules/commands.sql and trips.sql,
-- in their current form (docs/schema.md).

-- Which protocol takes which command. The C side (ingest/proto.c) says the same for each
-- protocol module; tests/ingest/test_proto.c checks that the two agree.
CREATE TABLE corridor.protocol_commands (
    protocol text NOT NULL,
    command  text NOT NULL,
    PRIMARY KEY (protocol, command)
);
INSERT INTO corridor.protocol_commands VALUES
    ('jt808', 'set_interval'), ('jt808', 'set_params'), ('jt808', 'locate'), ('jt808', 'seal'),
    ('jt808', 'unseal'), ('jt808', 'text'), ('jt808', 'reboot'), ('jt808', 'alarm_ack');

CREATE TABLE corridor.commands (
    id               bigserial PRIMARY KEY,
    seal_id          text NOT NULL,
    trip_id          uuid,   -- the trip a disarm's unseal ends when it is confirmed
    command          text NOT NULL,
    params           jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL CHECK (state IN ('awaiting_approval', 'queued', 'sent',
                         'acknowledged', 'confirmed', 'failed', 'expired', 'cancelled')),
    reason           text,
    requested_by     text NOT NULL,
    approved_by      text,
    incident_id      bigint, -- the incident an unseal outside the destination raised
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    acknowledged_at  timestamptz,
    confirmed_at     timestamptz,
    finished_at      timestamptz,
    attempts         int NOT NULL DEFAULT 0,
    max_attempts     int NOT NULL DEFAULT 3,
    answer_timeout_s int NOT NULL DEFAULT 30,
    device_serial    int,  -- serial of the frame last sent
    device_msg_id    int,  -- its message id
    result           int,  -- the device's answer code (JT/T 808: 0 ok, 1 failed, 2 bad, 3 unsupported)
    detail           text  -- why it failed, or what confirmed it
);
CREATE INDEX commands_seal ON corridor.commands (seal_id, id);
CREATE INDEX commands_open ON corridor.commands (state, seal_id)
    WHERE state IN ('awaiting_approval', 'queued', 'sent', 'acknowledged');

CREATE TABLE corridor.command_audit (
    id         bigserial PRIMARY KEY,
    command_id bigint NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    action     text NOT NULL,
    from_state text,
    to_state   text,
    note       text
);
CREATE INDEX command_audit_command ON corridor.command_audit (command_id, id);

INSERT INTO corridor.rules VALUES ('unseal_requested', 'critical');
