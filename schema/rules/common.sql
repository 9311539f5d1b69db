-- rules/common.sql: what every rule family uses.
-- Decides nothing itself: the daily partitions of positions (ensure_partitions, called at
-- start-up and hourly), the API's error (fail: raises SQLSTATE CTnnn, which the web
-- gateway turns into that HTTP status with a JSON body), ISO 8601 times, great-circle
-- distance, the low-battery test every rule shares, and the guard that keeps an audit trail
-- append-only.
-- Reads and writes: positions (its partitions); nothing else.

-- Creates the daily partitions from days_back before today to days_ahead after it.
-- Idempotent; the server calls it at start-up and every hour.
CREATE OR REPLACE FUNCTION corridor.ensure_partitions(days_back int, days_ahead int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made int := 0;
    part text;
BEGIN
    FOR d IN SELECT current_date + k FROM generate_series(-days_back, days_ahead) k LOOP
        part := 'positions_' || to_char(d, 'YYYYMMDD');
        IF to_regclass('corridor.' || part) IS NULL THEN
            EXECUTE format('CREATE TABLE corridor.%I PARTITION OF corridor.positions '
                           'FOR VALUES FROM (%L) TO (%L)', part, d::timestamp AT TIME ZONE 'UTC',
                           (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

-- Raises the API error: SQLSTATE 'CT' || http, MESSAGE 'code: detail', COLUMN field.
CREATE OR REPLACE FUNCTION corridor.fail(http int, code text, detail text, field text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT' || http::text, MESSAGE = code || ': ' || detail,
                          COLUMN = coalesce(field, '');
END $$;

-- UTC ISO 8601 with milliseconds, as incident_json writes times.
CREATE OR REPLACE FUNCTION corridor.iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A positive number from a json member, or NULL when absent; raises when not one.
CREATE OR REPLACE FUNCTION corridor.json_pos(p json, key text, integral boolean DEFAULT true)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    v json := p -> key;
    x float8;
BEGIN
    IF v IS NULL OR json_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF json_typeof(v) <> 'number' THEN
        PERFORM corridor.fail(422, key || '_invalid', key || ' must be a number', key);
    END IF;
    x := v::text::float8;
    IF x <= 0 OR (integral AND x <> trunc(x)) OR x > 2147483647 THEN
        PERFORM corridor.fail(422, key || '_invalid',
                              key || ' must be a positive ' ||
                              CASE WHEN integral THEN 'integer' ELSE 'number' END ||
                              ', got ' || v::text, key);
    END IF;
    RETURN x;
END $$;

-- Great-circle distance in metres (mean Earth radius). Pure arithmetic: cheap enough for
-- every fix (implied speed, stop radius); the corridor itself uses the spheroid.
CREATE OR REPLACE FUNCTION corridor.dist_m(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2 +
        cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

-- A battery is low below its route's limit (routes.low_battery_pct, 20 % unless the route
-- says otherwise: route_create). The one definition of the test: the per-fix rule
-- (ingest_evaluate), the quiet test (ingest_quiet) and the worker's copy of it in C
-- (geofence/geo_quiet.c, fix_quiet) all ask it. Inlined by the planner.
CREATE OR REPLACE FUNCTION corridor.battery_low(batt real, low_battery_pct real) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT batt < low_battery_pct $$;

-- The guard of an append-only trail (incident_audit, command_audit), naming the trail
CREATE OR REPLACE FUNCTION corridor.audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'CT409',
        MESSAGE = 'audit_append_only: the ' || replace(TG_TABLE_NAME, '_', ' ') ||
                  ' trail cannot be changed';
END $$;
