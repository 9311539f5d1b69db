-- pgTAP: rules/routes.sql, routes, their corridors and checkpoints.
BEGIN;
SELECT plan(20);
\ir setup/corridor.sql

-- a line of two points with a 1,000 m corridor; the body the API takes
CREATE FUNCTION pg_temp.body(extra json DEFAULT '{}') RETURNS json LANGUAGE sql AS $$
    SELECT (jsonb_build_object('name', 'Test road', 'corridor_m', 1000, 'max_transit_minutes', 60,
                               'geometry', jsonb_build_object('type', 'LineString',
                                   'coordinates', '[[36, -1], [37, -1]]'::jsonb))
            || extra::jsonb)::json
$$;

-- route_create refuses what cannot be a route, naming the field
SELECT throws_ok($$ SELECT corridor.route_create('[]') $$, 'CT422',
                 'invalid_request: the body must be a JSON object', 'not an object');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"name": " "}')) $$, 'CT422',
                 'name_required: the route needs a name', 'a blank name');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"geometry": {"type": "Point", "coordinates": [36, -1]}}')) $$,
                 'CT422', 'geometry_invalid: geometry must be a GeoJSON LineString', 'a point');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"geometry": {"type": "LineString", "coordinates": [[36, -1], [36, -1]]}}')) $$,
                 'CT422', 'geometry_invalid: the LineString needs at least two distinct points',
                 'one distinct point');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"geometry": {"type": "LineString", "coordinates": [[170, 0], [-170, 0]]}}')) $$,
                 'CT422', 'geometry_invalid: routes across the antimeridian are not supported',
                 'across the antimeridian');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"corridor_m": 100001}')) $$,
                 'CT422', 'corridor_m_invalid: corridor_m must be at most 100000', 'too wide');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"corridor_m": -5}')) $$,
                 'CT422', NULL, 'a negative width');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"low_battery_pct": 101}')) $$,
                 'CT422', 'low_battery_pct_invalid: low_battery_pct must be between 0 and 100',
                 'a battery limit over 100 %');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"checkpoints": {}}')) $$,
                 'CT422', 'checkpoints_invalid: checkpoints must be an array', 'checkpoints');
SELECT throws_ok($$ SELECT corridor.route_create(pg_temp.body('{"checkpoints": [{"geofence_id": 999999999, "max_leg_minutes": 5}]}')) $$,
                 'CT422', NULL, 'a checkpoint that is no fence');

-- what it stores and shows: the defaults of docs/rules.md
SELECT corridor.route_create(pg_temp.body()) AS r \gset
SELECT is((:'r'::json ->> 'corridor_m')::float8, 1000::float8, 'the width as given');
SELECT is((:'r'::json ->> 'low_battery_pct')::real, 20::real, 'low battery below 20 % by default');
SELECT is((:'r'::json ->> 'max_speed_kmh')::real, 200::real, 'speed limit 200 km/h by default');
SELECT is(json_typeof(:'r'::json -> 'geometry'), 'object', 'the line as GeoJSON');
SELECT ok((SELECT count(*) FROM json_array_elements(corridor.route_list())) >= 2,
          'route_list holds both routes');

-- in_corridor: the bracket decides most points, the spheroid the thin band between
CREATE TEMP VIEW rt AS SELECT * FROM corridor.routes WHERE id = :route;
CREATE FUNCTION pg_temp.inside(m float8) RETURNS boolean LANGUAGE sql AS $$
    SELECT corridor.in_corridor(geom_s, scale, inner_deg, outer_deg, geog, corridor_m,
                                -1.0 + m / 110575.0, 36.2) FROM rt
$$;
SELECT ok(pg_temp.inside(0), 'on the road');
SELECT ok(pg_temp.inside(990), '990 m off: inside');
SELECT ok(NOT pg_temp.inside(1010), '1,010 m off: outside');
SELECT ok(NOT pg_temp.inside(-5000), '5 km the other side: outside');
-- the bounds really bracket the corridor (inner < width < outer, in metres per degree)
SELECT ok((SELECT inner_deg * 110575 < 1000 AND outer_deg * 110575 > 1000 FROM rt),
          'routes_derive: the sure-inside bound is under the width, the sure-outside over it');

SELECT * FROM finish();
ROLLBACK;
