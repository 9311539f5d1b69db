-- The small world the pgTAP suites share, included with \ir inside each suite's transaction
-- (so it is rolled back with it): route 1 along 1 deg S from 36 E to 37 E (about 111 km)
-- with a 1,000 m corridor, checkpoints at 36.3 E and 36.6 E (60 and 120 minutes), a truck
-- park at 36.45 E, the destination at 37 E. psql variables name them: :origin :cp1 :cp2
-- :dest :park :route. pg_temp.seal(id) registers an OsmAnd seal with a first fix at the
-- origin; pg_temp.fix(seal, at, lat, lon, ...) sends one fix through corridor.ingest_batch as
-- the ingest workers do (at: seconds after :'t0', a day ago) and returns its rows;
-- pg_temp.arm(seal) arms it on route 1.
SELECT extract(epoch FROM date_trunc('hour', now()) - interval '1 day')::bigint AS t0 \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Origin office', 'customs_office',
    ST_Multi(ST_MakeEnvelope(35.99, -1.01, 36.01, -0.99, 4326))) RETURNING id AS origin \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('CP1', 'checkpoint',
    ST_Multi(ST_MakeEnvelope(36.29, -1.01, 36.31, -0.99, 4326))) RETURNING id AS cp1 \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('CP2', 'checkpoint',
    ST_Multi(ST_MakeEnvelope(36.59, -1.01, 36.61, -0.99, 4326))) RETURNING id AS cp2 \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Dest ICD', 'port',
    ST_Multi(ST_MakeEnvelope(36.99, -1.01, 37.01, -0.99, 4326))) RETURNING id AS dest \gset
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Truck park', 'parking',
    ST_Multi(ST_MakeEnvelope(36.445, -1.005, 36.455, -0.995, 4326))) RETURNING id AS park \gset
SELECT (corridor.route_create(json_build_object(
    'name', 'Nairobi east', 'corridor_m', 1000, 'max_transit_minutes', 600,
    'geometry', json_build_object('type', 'LineString',
                                  'coordinates', json_build_array(json_build_array(36, -1),
                                      json_build_array(36.5, -1), json_build_array(37, -1))),
    'checkpoints', json_build_array(
        json_build_object('geofence_id', :cp1, 'max_leg_minutes', 60),
        json_build_object('geofence_id', :cp2, 'max_leg_minutes', 120))))->>'id')::bigint
    AS route \gset

CREATE FUNCTION pg_temp.fix(p_seal text, p_at float8, p_lat float8, p_lon float8,
                            p_speed real DEFAULT 60, p_batt real DEFAULT 90,
                            p_lock text DEFAULT NULL, p_alarm text DEFAULT NULL)
RETURNS TABLE (kind text, idx int, body text) LANGUAGE sql AS $$
    SELECT * FROM corridor.ingest_batch(ARRAY[p_seal],
        ARRAY[current_setting('tap.t0')::float8 + p_at], ARRAY[p_lat], ARRAY[p_lon],
        ARRAY[p_speed], ARRAY[90::real], ARRAY[NULL::real], ARRAY[NULL::real], ARRAY[p_batt],
        ARRAY[p_lock], ARRAY[p_alarm])
$$;
SELECT set_config('tap.t0', :'t0', true);
SELECT set_config('tap.route', :'route', true);
SELECT set_config('tap.origin', :'origin', true);
SELECT set_config('tap.dest', :'dest', true);

CREATE FUNCTION pg_temp.seal(p_seal text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO corridor.seals(id, protocol, device_id) VALUES (p_seal, 'osmand', p_seal);
    SELECT count(*) FROM pg_temp.fix(p_seal, 0, -1.0, 36.0, 0::real, 90::real, 'locked');
$$;

CREATE FUNCTION pg_temp.arm(p_seal text, p_at float8 DEFAULT 30) RETURNS uuid LANGUAGE sql AS $$
    SELECT (corridor.trip_arm(json_build_object(
        'seal_id', p_seal, 'route_id', current_setting('tap.route')::bigint,
        'origin_id', current_setting('tap.origin')::bigint,
        'destination_id', current_setting('tap.dest')::bigint,
        'conveyance', json_build_object('plate', 'KBX 123A', 'container', 'CSQU3054383'),
        'declaration', '2026MSA1234567'),
        to_timestamp(current_setting('tap.t0')::float8 + p_at))->>'id')::uuid
$$;

-- the events of a trip as 'kind,kind,...' in time order
CREATE FUNCTION pg_temp.events(p_trip uuid) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(kind, ',' ORDER BY ts, id), '') FROM corridor.events
    WHERE trip_id = p_trip AND kind <> 'trip_armed'
$$;
