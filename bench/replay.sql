-- bench/replay.sql: the data of bench/replay.sh. psql variables: seals (background seals),
-- days (of history), every (seconds between their fixes). Loads seals x days x 86400/every
-- background positions straight into corridor.positions, one statement a day in key order,
-- plus one three-day trip "REPLAY-1" with a fix every 10 s (25,920) on a 200-vertex route
-- with 4 checkpoints, 40 events and 6 incidents. Prints the trip's id as "trip=<uuid>".
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SELECT corridor.ensure_partitions(:days + 1, 2) AS partitions_made;

INSERT INTO corridor.seals (id, protocol, device_id)
SELECT 'B' || lpad(s::text, 5, '0'), 'osmand', 'B' || lpad(s::text, 5, '0')
FROM generate_series(1, :seals) s;
INSERT INTO corridor.seals (id, protocol, device_id) VALUES ('REPLAY-1', 'osmand', 'REPLAY-1');

-- the background: every seal wanders around its own home, one day per statement
SELECT (extract(epoch FROM date_trunc('day', now())) - :days * 86400)::bigint AS day0 \gset
SELECT format($f$
    INSERT INTO corridor.positions (seal_id, ts, received_at, lat, lon, speed_kmh, bearing,
                                    battery, lock)
    SELECT 'B' || lpad(s::text, 5, '0'), to_timestamp(%1$s + k * %2$s), to_timestamp(%1$s + k * %2$s),
           -3 + (s %% 40) * 0.1 + 0.05 * sin(k / 50.0), 33 + (s / 40) * 0.1 + 0.05 * cos(k / 70.0),
           (30 + 30 * sin(k / 20.0))::real, (k %% 360)::real, 80::real, 'locked'
    FROM generate_series(1, %3$s) s, generate_series(0, 86400 / %2$s - 1) k
    ORDER BY 1, 2
$f$, :day0 + d * 86400, :every, :seals)
FROM generate_series(0, :days - 1) d \gexec

-- the trip: three days ending now, a fix every 10 s along a 200-vertex route
INSERT INTO corridor.geofences (name, kind, geom) VALUES
    ('Bench port', 'port', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(39.6, -4.0), 4326), 0.02))),
    ('Bench ICD', 'customs_office', ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(34.3, 0.6), 4326), 0.02)));
INSERT INTO corridor.geofences (name, kind, geom)
SELECT 'Bench checkpoint ' || c, 'checkpoint',
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(39.6 - 5.3 * f + 0.05 * sin(f * 200),
                                                  -4.0 + 4.6 * f + 0.05 * cos(f * 150)), 4326), 0.01))
FROM generate_series(1, 4) c, LATERAL (SELECT c / 5.0 AS f) x;
SELECT (corridor.route_create(json_build_object(
    'name', 'Bench route', 'corridor_m', 5000, 'max_transit_minutes', 5000,
    'geometry', json_build_object('type', 'LineString', 'coordinates',
        (SELECT json_agg(json_build_array(39.6 - 5.3 * f + 0.05 * sin(f * 200),
                                          -4.0 + 4.6 * f + 0.05 * cos(f * 150)) ORDER BY i)
         FROM generate_series(0, 199) i, LATERAL (SELECT i / 199.0 AS f) x)),
    'checkpoints', (SELECT json_agg(json_build_object('geofence_id', id) ORDER BY id)
                    FROM corridor.geofences WHERE name LIKE 'Bench checkpoint %'))) ->> 'id')::bigint
    AS route \gset
SELECT (extract(epoch FROM now()) - 3 * 86400)::bigint AS armed \gset
INSERT INTO corridor.positions (seal_id, ts, received_at, lat, lon, speed_kmh, bearing, battery, lock)
SELECT 'REPLAY-1', to_timestamp(:armed + 10 * k), to_timestamp(:armed + 10 * k),
       -4.0 + 4.6 * f + 0.05 * cos(f * 150) + 0.0003 * sin(k), 39.6 - 5.3 * f + 0.05 * sin(f * 200),
       CASE WHEN k % 2000 < 90 THEN 0 ELSE 45 + 25 * sin(k / 300.0) END::real,
       90::real, (95 - 60 * f)::real, 'locked'
FROM generate_series(0, 25919) k, LATERAL (SELECT k / 25919.0 AS f) x
ORDER BY 2;
INSERT INTO corridor.trips (seal_id, route_id, origin_id, destination_id, plate, container,
                            declaration, armed_at, deadline, disarmed_at, status, origin_country)
SELECT 'REPLAY-1', :route, (SELECT id FROM corridor.geofences WHERE name = 'Bench port'),
       (SELECT id FROM corridor.geofences WHERE name = 'Bench ICD'), 'KBX 001A', 'CSQU3054383',
       'BENCH-1', to_timestamp(:armed), to_timestamp(:armed) + interval '5000 minutes',
       to_timestamp(:armed + 259200), 'disarmed', 'KE'
RETURNING id AS trip \gset
INSERT INTO corridor.events (seal_id, trip_id, kind, ts, lat, lon, details)
SELECT 'REPLAY-1', :'trip', (ARRAY['stop_started', 'stop_ended', 'checkpoint_passed', 'border_crossed'])[1 + e % 4],
       p.ts, p.lat, p.lon, jsonb_build_object('bench', e)
FROM generate_series(1, 40) e
JOIN corridor.positions p ON p.seal_id = 'REPLAY-1' AND p.ts = to_timestamp(:armed + 10 * (e * 640));
INSERT INTO corridor.incidents (rule, severity, subject, seal_id, trip_id, opened_at, lat, lon)
SELECT (ARRAY['unauthorised_stop', 'corridor_deviation', 'low_battery'])[1 + i % 3],
       (ARRAY['high', 'critical', 'low'])[1 + i % 3], 'REPLAY-1#' || i, 'REPLAY-1', :'trip',
       p.ts, p.lat, p.lon
FROM generate_series(1, 6) i
JOIN corridor.positions p ON p.seal_id = 'REPLAY-1' AND p.ts = to_timestamp(:armed + 10 * (i * 3700));
VACUUM ANALYZE corridor.positions;
SELECT 'trip=' || :'trip' AS trip;
SELECT 'positions=' || count(*) AS positions FROM corridor.positions;
