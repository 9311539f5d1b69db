-- pgTAP: rules/fences.sql, the grid that answers "which fences and country hold a point".
BEGIN;
SELECT plan(14);
\ir setup/corridor.sql

-- cells: 0.01 deg for fences, 0.1 deg for countries, keyed so neighbours differ
SELECT is(corridor.cell01(-1.0, 36.0), (3600 + 18000)::bigint * 100000 + (-100 + 9000),
          'cell01 keys the 0.01-degree cell');
SELECT isnt(corridor.cell01(-1.0, 36.0), corridor.cell01(-1.0, 35.999), 'a cell edge splits');
SELECT is(corridor.cell10(-1.0, 36.04), corridor.cell10(-1.0, 36.0), 'same 0.1-degree cell');

-- grid_cut: full cells need no test, edge cells carry the clipped piece
SELECT is((SELECT count(*)::int FROM corridor.grid_cut(ST_MakeEnvelope(-0.001, -0.001, 0.021, 0.021, 4326), 0.01)
           WHERE is_full), 4, 'a square a hair over 2x2 cells: four full cells (a cell is cut a hair larger)...');
SELECT ok((SELECT bool_and(piece IS NOT NULL) FROM corridor.grid_cut(
               ST_MakeEnvelope(0.005, 0.005, 0.015, 0.015, 4326), 0.01) WHERE NOT is_full),
          '...a square across cells: clipped pieces');

-- fences_at: exactly ST_Intersects, through the cells the trigger keeps
SELECT ok(:cp1 = ANY ((corridor.fences_at(-1.0, 36.3)).ids), 'inside CP1');
SELECT ok(NOT :cp1 = ANY ((corridor.fences_at(-1.0, 36.32)).ids), 'beside CP1');
SELECT is((corridor.fences_at(-1.0, 36.3)).kinds, ARRAY['checkpoint'], 'with its kind');
SELECT ok(:park = ANY ((corridor.fences_at(-1.0, 36.45)).ids), 'on a cell edge of the park');

-- the cells follow the fence: moved, re-kinded, deleted
UPDATE corridor.geofences SET geom = ST_Multi(ST_MakeEnvelope(36.39, -1.01, 36.41, -0.99, 4326))
WHERE id = :cp1;
SELECT ok(NOT :cp1 = ANY ((corridor.fences_at(-1.0, 36.3)).ids), 'moved: no longer at 36.3...');
SELECT ok(:cp1 = ANY ((corridor.fences_at(-1.0, 36.4)).ids), '...but at 36.4');
UPDATE corridor.geofences SET deleted_at = now() WHERE id = :cp1;
SELECT ok(NOT :cp1 = ANY ((corridor.fences_at(-1.0, 36.4)).ids), 'a deleted fence holds nothing');

-- a huge fence is not cut: gridless, probed through GiST, same answer
INSERT INTO corridor.geofences(name, kind, geom) VALUES ('Huge', 'restricted',
    ST_Multi(ST_MakeEnvelope(10, 10, 15, 15, 4326))) RETURNING id AS huge \gset
SELECT ok((SELECT gridless FROM corridor.geofences WHERE id = :huge) AND
          :huge = ANY ((corridor.fences_at(12, 12)).ids), 'a huge fence is gridless and found');

-- country_at: the seeded countries through their 0.1-degree cells
SELECT is(corridor.country_at(-1.29, 36.82) || corridor.country_at(0.35, 32.58), 'KEUG',
          'Nairobi is in Kenya, Kampala in Uganda');

SELECT * FROM finish();
ROLLBACK;
