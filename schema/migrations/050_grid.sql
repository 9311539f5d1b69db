-- 050_grid: geofences and countries pre-cut into grid cells, so "which fences contain this
-- point" is one btree probe on the point's cell plus, only in cells that a fence covers
-- partly, a point-in-polygon test against the small clipped piece (docs/performance.md: 10k fences,
-- GiST probe ~200 us a fix, the grid ~5 us).
--
-- geofence_cells  one row per (0.01 degree cell, live fence) that meet: is_full = the fence
--                 covers the whole cell (no geometry test needed), else geom is the fence
--                 clipped to the cell (a hair larger than the cell, so a point on a cell
--                 edge is never lost to rounding). kind is copied for the rules that need it.
--                 Maintained by a row trigger on geofences (insert, geometry, kind,
--                 deletion). A fence whose bounding box spans more than 40,000 cells is not
--                 cut: it is marked gridless and probed through the GiST index as before.
-- country_cells   the same at 0.1 degree for corridor.country_parts (rebuilt with them).
--
-- The answers are exactly those of ST_Intersects(fence, point): every clipped piece is a
-- subset of its fence and the pieces of a fence cover it.
--
-- Its functions and triggers are in schema/rules/fences.sql,
-- in their current form (docs/schema.md).

ALTER TABLE corridor.geofences ADD COLUMN gridless boolean NOT NULL DEFAULT false;
CREATE INDEX geofences_gridless ON corridor.geofences USING gist (geom)
    WHERE deleted_at IS NULL AND gridless;

CREATE TABLE corridor.geofence_cells (
    cell     bigint NOT NULL,
    fence_id bigint NOT NULL,
    kind     text NOT NULL,
    is_full     boolean NOT NULL,
    geom     geometry(Geometry, 4326)
);
CREATE INDEX geofence_cells_cell ON corridor.geofence_cells (cell);
CREATE INDEX geofence_cells_fence ON corridor.geofence_cells (fence_id);

-- The cut of a shape into grid cells, as 050 first backfilled the cells with it. A migration
-- carries the code its data move needs, frozen as it was: rules/fences.sql's grid_cut may
-- change later, this backfill must not.
CREATE FUNCTION pg_temp.grid_cut(g geometry, step float8)
RETURNS TABLE (x int, y int, is_full boolean, piece geometry)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.x, e.y, ST_Covers(g, e.env),
           CASE WHEN ST_Covers(g, e.env) THEN NULL ELSE ST_Intersection(g, e.env) END
    FROM (SELECT gx AS x, gy AS y,
                 ST_MakeEnvelope(gx * step - 1e-9, gy * step - 1e-9, (gx + 1) * step + 1e-9,
                                 (gy + 1) * step + 1e-9, 4326) AS env
          FROM generate_series(floor(ST_XMin(g) / step)::int, floor(ST_XMax(g) / step)::int) gx,
               generate_series(floor(ST_YMin(g) / step)::int, floor(ST_YMax(g) / step)::int) gy) e
    WHERE ST_Intersects(g, e.env)
$$;

-- fences that exist already
INSERT INTO corridor.geofence_cells (cell, fence_id, kind, is_full, geom)
SELECT (c.x + 18000)::bigint * 100000 + (c.y + 9000), g.id, g.kind, c.is_full, c.piece
FROM corridor.geofences g CROSS JOIN LATERAL pg_temp.grid_cut(g.geom, 0.01) c
WHERE g.deleted_at IS NULL
  AND (floor(ST_XMax(g.geom) * 100) - floor(ST_XMin(g.geom) * 100) + 1)
    * (floor(ST_YMax(g.geom) * 100) - floor(ST_YMin(g.geom) * 100) + 1) <= 40000;
UPDATE corridor.geofences g SET gridless = true
WHERE (floor(ST_XMax(g.geom) * 100) - floor(ST_XMin(g.geom) * 100) + 1)
    * (floor(ST_YMax(g.geom) * 100) - floor(ST_YMin(g.geom) * 100) + 1) > 40000;

-- ---- countries ----
CREATE TABLE corridor.country_cells (
    cell bigint NOT NULL,
    iso2 text NOT NULL,
    is_full boolean NOT NULL,
    geom geometry(Geometry, 4326)
);
CREATE INDEX country_cells_cell ON corridor.country_cells (cell);
INSERT INTO corridor.country_cells (cell, iso2, is_full, geom)
SELECT (c.x + 1800)::bigint * 10000 + (c.y + 900), p.iso2, c.is_full, c.piece
FROM corridor.country_parts p CROSS JOIN LATERAL pg_temp.grid_cut(p.geom, 0.1) c;
DROP FUNCTION pg_temp.grid_cut(geometry, float8);
