-- rules/fences.sql: which geofences and which country hold a point.
-- Geofences and countries are pre-cut into grid cells, so "which fences contain this point"
-- is one btree probe on the point's 0.01-degree cell and, only in cells a fence covers
-- partly, a point-in-polygon test against the small clipped piece (docs/performance.md: 10k fences,
-- GiST ~200 us a fix, the grid ~5 us). The answers are exactly ST_Intersects(fence, point):
-- the pieces of a fence are subsets of it and cover it. A fence whose box spans more than
-- 40,000 cells is not cut (gridless) and is probed through its GiST index.
--   geofence_cells  kept by a row trigger on geofences (insert, geometry, kind, deletion)
--   country_parts   countries subdivided (ST_Subdivide), rebuilt when countries change
--   country_cells   the same grid at 0.1 degree over country_parts
-- The ingest worker keeps a copy of the fence grid (geofence/geo_quiet.c) and tests fixes
-- against it the same way, with margins; the database confirms what the copy finds.
-- Reads: geofences, countries. Writes: geofence_cells, country_parts, country_cells,
-- geofences.gridless.

CREATE OR REPLACE FUNCTION corridor.cell01(lat float8, lon float8) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (floor(lon * 100)::bigint + 18000) * 100000 + (floor(lat * 100)::bigint + 9000)
$$;

CREATE OR REPLACE FUNCTION corridor.cell10(lat float8, lon float8) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (floor(lon * 10)::bigint + 1800) * 10000 + (floor(lat * 10)::bigint + 900)
$$;

-- Cuts geometry g into cells of size step degrees; rows (cell, is_full, piece).
CREATE OR REPLACE FUNCTION corridor.grid_cut(g geometry, step float8)
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

CREATE OR REPLACE FUNCTION corridor.geofence_cells_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ncells float8;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM corridor.geofence_cells WHERE fence_id = OLD.id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    ncells := (floor(ST_XMax(NEW.geom) * 100) - floor(ST_XMin(NEW.geom) * 100) + 1)
            * (floor(ST_YMax(NEW.geom) * 100) - floor(ST_YMin(NEW.geom) * 100) + 1);
    IF NEW.deleted_at IS NULL AND ncells <= 40000 THEN
        INSERT INTO corridor.geofence_cells (cell, fence_id, kind, is_full, geom)
        SELECT (c.x + 18000)::bigint * 100000 + (c.y + 9000), NEW.id, NEW.kind, c.is_full, c.piece
        FROM corridor.grid_cut(NEW.geom, 0.01) c;
    END IF;
    IF NEW.gridless IS DISTINCT FROM (ncells > 40000) THEN
        UPDATE corridor.geofences SET gridless = (ncells > 40000) WHERE id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

-- Live fences containing the point, as the rules need them: ids and kinds.
CREATE OR REPLACE FUNCTION corridor.fences_at(lat float8, lon float8, OUT ids bigint[], OUT kinds text[])
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(h.id), '{}'), coalesce(array_agg(h.kind), '{}')
    FROM (SELECT c.fence_id AS id, c.kind FROM corridor.geofence_cells c
          WHERE c.cell = corridor.cell01(lat, lon)
            AND (c.is_full OR ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(lon, lat), 4326)))
          UNION ALL
          SELECT g.id, g.kind FROM corridor.geofences g
          WHERE g.deleted_at IS NULL AND g.gridless
            AND ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(lon, lat), 4326))) h
$$;

CREATE OR REPLACE FUNCTION corridor.country_at(lat float8, lon float8) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.iso2 FROM corridor.country_cells c
    WHERE c.cell = corridor.cell10(lat, lon)
      AND (c.is_full OR ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(lon, lat), 4326)))
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION corridor.country_cells_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM corridor.country_cells;
    INSERT INTO corridor.country_cells (cell, iso2, is_full, geom)
    SELECT (c.x + 1800)::bigint * 10000 + (c.y + 900), p.iso2, c.is_full, c.piece
    FROM corridor.country_parts p CROSS JOIN LATERAL corridor.grid_cut(p.geom, 0.1) c;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION corridor.country_parts_rebuild() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM corridor.country_parts;
    INSERT INTO corridor.country_parts (iso2, geom)
    SELECT iso2, ST_Subdivide(geom, 64) FROM corridor.countries;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER countries_parts AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.countries FOR EACH STATEMENT EXECUTE FUNCTION corridor.country_parts_rebuild();

-- after country_parts is rebuilt (triggers fire in name order: countries_parts first)
CREATE OR REPLACE TRIGGER countries_zz_cells AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON corridor.countries FOR EACH STATEMENT EXECUTE FUNCTION corridor.country_cells_rebuild();

CREATE OR REPLACE TRIGGER geofences_cells AFTER INSERT OR DELETE OR UPDATE OF geom, kind, deleted_at
    ON corridor.geofences FOR EACH ROW EXECUTE FUNCTION corridor.geofence_cells_sync();
