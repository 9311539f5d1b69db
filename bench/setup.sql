-- bench/setup.sql: the benchmark's data, loaded in bulk with generate_series (seconds, not
-- the hours 20,000 REST calls would take; the REST and SQL API paths are exercised by the
-- integration tests, tests/integration/). Run by bench/run.sh on a freshly migrated database:
--   psql -v road="LINESTRING(...)" -v fences=10000 -v trips=10000 -v probes=20 -f setup.sql
--
-- What it makes (deterministic: setseed):
--   geofences  :fences polygons (16-gon circles, 300 m to 3 km) over the corridor's region;
--              a tenth of them centred on the road so trucks really enter and leave fences;
--              restricted ones are kept 5 km off the road (load seals do not raise
--              incidents by the thousand); plus the origin port, the destination, 20
--              checkpoints on the road and one restricted probe zone far from everything
--   routes     :trips routes of 200 vertices along the road (each vertex jittered by up to
--              ~50 m, so every route is its own geometry), corridor 2 km, two checkpoints
--   seals      LD-SEAL-000001.. (jt808, terminal 2 + 11 digits), armed on their route
--              (trips, trip_state, trip_legs exactly as corridor.trip_arm writes them)
--   probes     BENCH-PROBE-01.. (jt808, terminal 3 + 11 digits), on no trip: the latency
--              client drives them into the probe zone (restricted_zone_entry)
--   bench.points  100,000 points on the road for the naive client and the COPY baseline
\set ON_ERROR_STOP on
SELECT setseed(0.42);
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.road AS SELECT ST_SetSRID(ST_GeomFromText(:'road'), 4326) AS geom;

-- the fixed places
INSERT INTO corridor.geofences (name, kind, country, geom)
SELECT 'BENCH origin port', 'port', 'KE',
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(39.655, -4.06), 4326)::geography, 3000,
                          'quad_segs=4')::geometry)
UNION ALL
SELECT 'BENCH destination', 'customs_office', 'RW',
       ST_Multi(ST_Buffer(ST_EndPoint(geom)::geography, 3000, 'quad_segs=4')::geometry)
FROM bench.road
UNION ALL
SELECT 'BENCH probe zone', 'restricted', NULL,
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(35.0, 2.5), 4326)::geography, 5000,
                          'quad_segs=4')::geometry)
UNION ALL
SELECT 'BENCH checkpoint ' || k, 'checkpoint', NULL,
       ST_Multi(ST_Buffer(ST_LineInterpolatePoint(r.geom, k / 21.0)::geography, 1000,
                          'quad_segs=4')::geometry)
FROM bench.road r, generate_series(1, 20) k;

-- the many fences
WITH c AS (
    SELECT k,
           CASE WHEN k % 10 = 0
                THEN ST_LineInterpolatePoint(r.geom, random())
                ELSE ST_SetSRID(ST_MakePoint(29.5 + 10.5 * random(), -4.5 + 6 * random()), 4326)
           END AS centre,
           300 + 2700 * random() AS radius,
           (ARRAY['parking', 'parking', 'parking', 'checkpoint', 'customs_office', 'port',
                  'border_post', 'restricted', 'anchorage', 'parking'])[1 + (k * 7) % 10] AS kind
    FROM bench.road r, generate_series(1, :fences) k
)
INSERT INTO corridor.geofences (name, kind, country, geom)
SELECT 'BENCH fence ' || c.k,
       CASE WHEN c.kind = 'restricted' AND ST_DWithin(c.centre::geography, r.geom::geography, 5000)
            THEN 'parking' ELSE c.kind END,
       NULL,
       ST_Multi(ST_Buffer(c.centre::geography, c.radius, 'quad_segs=4')::geometry)
FROM c, bench.road r;

-- 200-vertex routes along the road
-- reporting limit 10 days: the load replays device time from the recent past, and the
-- sweep must not take that for signal loss
INSERT INTO corridor.routes (name, geom, corridor_m, max_transit_minutes, reporting_limit_minutes)
SELECT 'BENCH route ' || k,
       (SELECT ST_MakeLine(ST_Translate(p.geom, (random() - 0.5) * 0.001,
                                        (random() - 0.5) * 0.001) ORDER BY p.path)
        FROM ST_DumpPoints(ST_LineInterpolatePoints(r.geom, 1.0 / 200)) p
        WHERE k > 0),
       2000, 7 * 24 * 60, 14400
FROM bench.road r, generate_series(1, :trips) k;

INSERT INTO corridor.route_checkpoints (route_id, seq, geofence_id)
SELECT ro.id, s.seq, (SELECT g.id FROM corridor.geofences g
                      WHERE g.name = 'BENCH checkpoint ' || (1 + (ro.id * 3 + s.seq * 9) % 20))
FROM corridor.routes ro, generate_series(1, 2) s(seq)
WHERE ro.name LIKE 'BENCH route %';

INSERT INTO corridor.seals (id, protocol, device_id)
SELECT format('LD-SEAL-%s', lpad(k::text, 6, '0')), 'jt808', '2' || lpad(k::text, 11, '0')
FROM generate_series(1, :trips) k
UNION ALL
SELECT format('BENCH-PROBE-%s', lpad(k::text, 2, '0')), 'jt808', '3' || lpad(k::text, 11, '0')
FROM generate_series(1, :probes) k;

-- armed trips, as corridor.trip_arm writes them
INSERT INTO corridor.trips (seal_id, route_id, origin_id, destination_id, plate, container,
                            declaration, armed_at, deadline, origin_country)
SELECT format('LD-SEAL-%s', lpad(k::text, 6, '0')), ro.id,
       (SELECT id FROM corridor.geofences WHERE name = 'BENCH origin port'),
       (SELECT id FROM corridor.geofences WHERE name = 'BENCH destination'),
       'KBX ' || k, 'CSQU3054383', 'BENCH-' || k, now(), now() + interval '7 days', 'KE'
FROM generate_series(1, :trips) k
JOIN corridor.routes ro ON ro.name = 'BENCH route ' || k;

INSERT INTO corridor.trip_state (seal_id, trip_id, route_id, origin_id, destination_id,
                                 origin_country, armed_at, deadline, leg_started_at, country)
SELECT t.seal_id, t.id, t.route_id, t.origin_id, t.destination_id, 'KE', t.armed_at,
       t.deadline, t.armed_at, 'KE'
FROM corridor.trips t WHERE t.seal_id LIKE 'LD-SEAL-%';

INSERT INTO corridor.trip_legs (trip_id, seal_id, country, entered_at)
SELECT t.id, t.seal_id, 'KE', t.armed_at FROM corridor.trips t WHERE t.seal_id LIKE 'LD-SEAL-%';

-- points on the road for the naive client and COPY
CREATE TABLE bench.points AS
SELECT k, ST_Y(p) AS lat, ST_X(p) AS lon
FROM (SELECT k, ST_LineInterpolatePoint(r.geom, random()) AS p
      FROM bench.road r, generate_series(1, 100000) k) x;

ANALYZE;
SELECT (SELECT count(*) FROM corridor.geofences) AS geofences,
       (SELECT count(*) FROM corridor.routes) AS routes,
       (SELECT avg(ST_NPoints(geom))::int FROM corridor.routes) AS route_vertices,
       (SELECT count(*) FROM corridor.trip_state) AS armed_trips;
