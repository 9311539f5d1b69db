-- rules/partner.sql: what a partner state sees.
-- A partner administration sees the trips that cross its country or come within about
-- 50 km of it, and only those, with their positions; every page it reads is audited.
-- Reads: trips, trip_legs, routes, geofences, countries, positions. Writes: partner_audit.

-- About 50 km in degrees near the equator, where the corridor lies (0.45 deg of latitude is
-- 50 km; of longitude, 50 km at 0 deg and 49 km at 12 deg S).
CREATE OR REPLACE FUNCTION corridor.partner_buffer_deg() RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT 0.45::float8 $$;

-- GET /api/partner/trips. p_page from 1; 50 trips a page, oldest crossing first. A trip
-- qualifies when one of its legs is in p_country and another is not (it entered or left)
-- and its stay in p_country overlaps [p_since, p_until]. Raises CT422 for a bad country or
-- page. Writes the audit row.
CREATE OR REPLACE FUNCTION corridor.partner_trips(p_country text, p_since timestamptz, p_until timestamptz,
                                       p_page int, p_token bigint, p_query text)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    v_size  constant int := 50;
    v_since timestamptz := coalesce(p_since, now() - interval '30 days');
    v_until timestamptz := coalesce(p_until, now());
    v_zone  geometry;
    v_total int;
    v_trips json;
    v_n     int;
    v_ids   uuid[];
BEGIN
    IF p_page IS NULL OR p_page < 1 OR p_page > 100000 THEN
        PERFORM corridor.fail(422, 'invalid_page', 'page is a number from 1', 'page');
    END IF;
    IF v_since > v_until THEN
        PERFORM corridor.fail(422, 'invalid_range', 'since is after until', 'since');
    END IF;
    SELECT ST_Buffer(c.geom, corridor.partner_buffer_deg(), 'quad_segs=4') INTO v_zone
    FROM corridor.countries c WHERE c.iso2 = p_country;
    IF NOT FOUND THEN
        PERFORM corridor.fail(422, 'unknown_country', 'no country ' || coalesce(p_country, 'NULL'),
                              'country');
    END IF;

    SELECT coalesce(array_agg(h.trip_id ORDER BY h.first_at, h.trip_id), '{}') INTO v_ids
    FROM (SELECT l.trip_id, min(l.entered_at) AS first_at
          FROM corridor.trip_legs l
          WHERE l.country = p_country
            AND l.entered_at <= v_until AND coalesce(l.exited_at, 'infinity') >= v_since
            AND EXISTS (SELECT 1 FROM corridor.trip_legs o
                        WHERE o.trip_id = l.trip_id AND o.country IS DISTINCT FROM p_country)
          GROUP BY l.trip_id) h;
    v_total := cardinality(v_ids);
    v_ids := v_ids[(p_page - 1) * v_size + 1 : p_page * v_size];

    WITH page AS (
        SELECT u.trip_id, u.n FROM unnest(v_ids) WITH ORDINALITY AS u (trip_id, n)
    ),
    crossings AS (
        -- a crossing is the start of a leg after the first; it concerns the partner when
        -- it leads into or out of its country
        SELECT x.trip_id, json_agg(json_build_object(
                   'from', x.prev_country, 'to', x.country, 'at', corridor.iso(x.entered_at),
                   'border_post_id', x.entry_post_id, 'border_post', g.name,
                   'border_post_distance_m', round(x.entry_post_distance_m::numeric, 1),
                   'point', CASE WHEN x.entry_lat IS NOT NULL THEN
                                json_build_object('type', 'Point', 'coordinates',
                                                  json_build_array(x.entry_lon, x.entry_lat))
                            END) ORDER BY x.entered_at) AS list
        FROM (SELECT l.*, lag(l.country) OVER w AS prev_country, row_number() OVER w AS n
              FROM corridor.trip_legs l
              WHERE l.trip_id IN (SELECT trip_id FROM page)
              WINDOW w AS (PARTITION BY l.trip_id ORDER BY l.entered_at, l.id)) x
        LEFT JOIN corridor.geofences g ON g.id = x.entry_post_id
        WHERE x.n > 1 AND (x.country = p_country OR x.prev_country = p_country)
        GROUP BY x.trip_id
    )
    SELECT coalesce(json_agg(json_build_object(
               'id', t.id, 'status', t.status,
               'conveyance', json_build_object('plate', t.plate, 'container', t.container),
               'declaration', t.declaration,
               'route', json_build_object('id', r.id, 'name', r.name),
               'origin', (SELECT name FROM corridor.geofences WHERE id = t.origin_id),
               'destination', (SELECT name FROM corridor.geofences WHERE id = t.destination_id),
               'origin_country', t.origin_country,
               'armed_at', corridor.iso(t.armed_at), 'disarmed_at', corridor.iso(t.disarmed_at),
               'crossings', coalesce(c.list, '[]'),
               'track', (SELECT CASE WHEN count(*) >= 2 THEN
                                    ST_AsGeoJSON(ST_Intersection(
                                        ST_SetSRID(ST_MakeLine(ST_MakePoint(p.lon, p.lat)
                                                               ORDER BY p.ts), 4326),
                                        v_zone), 6)::json
                                END
                         FROM corridor.positions p
                         WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at
                           AND p.ts <= coalesce(t.disarmed_at, 'infinity')))
             ORDER BY pg.n), '[]'),
           count(*)
      INTO v_trips, v_n
    FROM page pg
    JOIN corridor.trips t ON t.id = pg.trip_id
    JOIN corridor.routes r ON r.id = t.route_id
    LEFT JOIN crossings c ON c.trip_id = t.id;

    INSERT INTO corridor.partner_audit (token_id, country, query, rows)
    VALUES (p_token, p_country, coalesce(p_query, ''), v_n);

    RETURN json_build_object(
        'country', p_country, 'since', corridor.iso(v_since), 'until', corridor.iso(v_until),
        'page', p_page, 'page_size', v_size, 'total', v_total,
        'next_page', CASE WHEN p_page * v_size < v_total THEN p_page + 1 END,
        'trips', v_trips);
END $$;
