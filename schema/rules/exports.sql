-- rules/exports.sql: a trip's track as a file (GET /api/trips/{id}/track, docs/exports.md):
-- GeoJSON, GPX 1.1, KML 2.2 and CSV are built here whole, as text; the PDF evidence
-- report is drawn by the server (web/pdf.c) from trip_report, trip_map and
-- trip_verification_or_null. Decides nothing: it only shows what is stored.
-- The track of a trip is its seal's fixes from arming to disarming, as trip_get shows it.
-- Reads: trips, positions, events, incidents, routes, route_checkpoints, geofences,
-- countries. Writes nothing.

-- The formats a track is exported in, with the file extension each gets.
CREATE OR REPLACE FUNCTION corridor.track_formats() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['geojson', 'gpx', 'kml', 'csv', 'pdf'] $$;

-- Text made safe for XML content and attribute values: the five special characters as
-- entities, and the control characters XML 1.0 forbids removed.
CREATE OR REPLACE FUNCTION corridor.xml_esc(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(replace(
               regexp_replace(coalesce(s, ''), '[\x01-\x08\x0b\x0c\x0e-\x1f]', '', 'g'),
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')
$$;

-- One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled;
-- NULL is the empty cell.
CREATE OR REPLACE FUNCTION corridor.csv_cell(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN s IS NULL THEN ''
                WHEN s ~ '[,"\r\n]' THEN '"' || replace(s, '"', '""') || '"'
                ELSE s END
$$;

-- The trip, or CT404 trip_not_found; a format not in track_formats() is CT400 bad_format.
CREATE OR REPLACE FUNCTION corridor.trip_for_export(p_trip uuid, p_format text)
RETURNS corridor.trips LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
BEGIN
    IF p_format IS NULL OR NOT p_format = ANY (corridor.track_formats()) THEN
        PERFORM corridor.fail(400, 'bad_format', 'format must be one of ' ||
                              array_to_string(corridor.track_formats(), ', ') || ', not "' ||
                              left(coalesce(p_format, ''), 40) || '"', 'format');
    END IF;
    SELECT * INTO t FROM corridor.trips WHERE id = p_trip;
    IF NOT FOUND THEN
        PERFORM corridor.fail(404, 'trip_not_found', 'trip ' || coalesce(p_trip::text, 'NULL') ||
                              ' does not exist');
    END IF;
    RETURN t;
END $$;

-- The file name of a trip's export: "trip-DECLARATION.EXT", the declaration reduced to
-- letters, digits, dot, hyphen and underscore (the trip id when nothing is left).
CREATE OR REPLACE FUNCTION corridor.trip_export_name(p_trip uuid, p_format text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'trip-' || coalesce(nullif(trim(BOTH '_' FROM
               regexp_replace(t.declaration, '[^A-Za-z0-9._-]+', '_', 'g')), ''), t.id::text) ||
           '.' || p_format
    FROM corridor.trip_for_export(p_trip, p_format) t
$$;

-- The fixes of a trip in time order, as trip_get's track.
CREATE OR REPLACE FUNCTION corridor.trip_fixes(t corridor.trips) RETURNS SETOF corridor.positions
LANGUAGE sql STABLE AS $$
    SELECT * FROM corridor.positions p
    WHERE p.seal_id = t.seal_id AND p.ts >= t.armed_at
      AND p.ts <= coalesce(t.disarmed_at, 'infinity')
    ORDER BY p.ts
$$;

-- The events and incidents of a trip as points: kind ('event' or 'incident'), what (the
-- event's kind or the incident's rule), time, lat, lon (NULL when not known), and the
-- details: an event's evidence, an incident's severity and status.
CREATE OR REPLACE FUNCTION corridor.trip_marks(t corridor.trips)
RETURNS TABLE (kind text, what text, ts timestamptz, lat float8, lon float8, details jsonb)
LANGUAGE sql STABLE AS $$
    SELECT * FROM (
        SELECT 'event', e.kind, e.ts, e.lat, e.lon, e.details || jsonb_build_object('id', e.id)
        FROM corridor.events e WHERE e.seal_id = t.seal_id AND e.trip_id = t.id
        UNION ALL
        SELECT 'incident', n.rule, n.opened_at, n.lat, n.lon,
               jsonb_build_object('id', n.id, 'severity', n.severity, 'status', n.status)
        FROM corridor.incidents n WHERE n.trip_id = t.id
    ) m ORDER BY 3, 1, 2
$$;

-- GET /api/trips/{id}/track?format=geojson|gpx|kml|csv: the whole file as text.
CREATE OR REPLACE FUNCTION corridor.trip_track_export(p_trip uuid, p_format text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
    title text;
    out text;
BEGIN
    t := corridor.trip_for_export(p_trip, p_format);
    title := 'Trip ' || t.declaration || ' (seal ' || t.seal_id || ', ' || t.plate || ')';
    IF p_format = 'geojson' THEN
        -- built as text: the track feature, then one feature per mark in time order
        out := (SELECT json_build_object(
                'type', 'Feature',
                'geometry', CASE WHEN count(*) >= 2 THEN json_build_object('type', 'LineString',
                                'coordinates', json_agg(json_build_array(f.lon, f.lat) ORDER BY f.ts))
                            WHEN count(*) = 1 THEN json_build_object('type', 'Point',
                                'coordinates', json_build_array(min(f.lon), min(f.lat))) END,
                'properties', json_build_object(
                    'kind', 'track', 'trip_id', t.id, 'seal_id', t.seal_id,
                    'declaration', t.declaration, 'plate', t.plate, 'container', t.container,
                    'route', (SELECT name FROM corridor.routes WHERE id = t.route_id),
                    'armed_at', corridor.iso(t.armed_at), 'disarmed_at', corridor.iso(t.disarmed_at),
                    'fixes', count(*),
                    'coordTimes', coalesce(json_agg(corridor.iso(f.ts) ORDER BY f.ts)
                                               FILTER (WHERE f.ts IS NOT NULL), '[]'),
                    'speeds_kmh', coalesce(json_agg(f.speed_kmh ORDER BY f.ts)
                                               FILTER (WHERE f.ts IS NOT NULL), '[]')))::text
                FROM corridor.trip_fixes(t) f)
            || coalesce((SELECT ',' || string_agg(json_build_object(
                   'type', 'Feature',
                   'geometry', CASE WHEN m.lat IS NOT NULL AND m.lon IS NOT NULL THEN
                                   json_build_object('type', 'Point',
                                                     'coordinates', json_build_array(m.lon, m.lat)) END,
                   'properties', json_build_object('kind', m.kind, m.kind, m.what,
                                                   'time', corridor.iso(m.ts),
                                                   'details', m.details))::text, ',' ORDER BY m.ts, m.kind, m.what)
                 FROM corridor.trip_marks(t) m), '');
        RETURN '{"type": "FeatureCollection", "features": [' || out || ']}';
    ELSIF p_format = 'gpx' THEN
        out := (SELECT '<?xml version="1.0" encoding="UTF-8"?>' || E'\n' ||
               '<gpx version="1.1" creator="Corridor monitoring centre"' ||
               ' xmlns="http://www.topografix.com/GPX/1/1"' ||
               ' xmlns:corridor="urn:corridor:gpx:1"' ||
               ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' ||
               ' xsi:schemaLocation="http://www.topografix.com/GPX/1/1' ||
               ' http://www.topografix.com/GPX/1/1/gpx.xsd">' || E'\n' ||
               '<metadata><name>' || corridor.xml_esc(title) || '</name><desc>' ||
               corridor.xml_esc('trip ' || t.id || ', container ' || t.container) ||
               '</desc><time>' || corridor.iso(now()) || '</time></metadata>' || E'\n' ||
               coalesce((SELECT string_agg(format(
                   '<wpt lat="%s" lon="%s"><time>%s</time><name>%s</name><desc>%s</desc>' ||
                   '<type>%s</type></wpt>', m.lat, m.lon, corridor.iso(m.ts),
                   corridor.xml_esc(m.what), corridor.xml_esc(m.details::text), m.kind),
                   E'\n' ORDER BY m.ts) || E'\n'
                   FROM corridor.trip_marks(t) m WHERE m.lat IS NOT NULL AND m.lon IS NOT NULL), '') ||
               '<trk><name>' || corridor.xml_esc(title) || '</name><trkseg>' || E'\n' ||
               coalesce(string_agg(format(
                   '<trkpt lat="%s" lon="%s">%s<time>%s</time>%s</trkpt>', f.lat, f.lon,
                   CASE WHEN f.altitude IS NOT NULL THEN '<ele>' || f.altitude || '</ele>' ELSE '' END,
                   corridor.iso(f.ts),
                   CASE WHEN f.speed_kmh IS NOT NULL OR f.bearing IS NOT NULL THEN
                       '<extensions>' ||
                       coalesce('<corridor:speed_kmh>' || f.speed_kmh || '</corridor:speed_kmh>', '') ||
                       coalesce('<corridor:bearing>' || f.bearing || '</corridor:bearing>', '') ||
                       '</extensions>' ELSE '' END), E'\n' ORDER BY f.ts) || E'\n', '') ||
               '</trkseg></trk>' || E'\n' || '</gpx>' || E'\n'
        FROM corridor.trip_fixes(t) f);
    ELSIF p_format = 'kml' THEN
        out := (SELECT '<?xml version="1.0" encoding="UTF-8"?>' || E'\n' ||
               '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">' || E'\n' ||
               '<Document><name>' || corridor.xml_esc(title) || '</name>' ||
               '<description>' || corridor.xml_esc('trip ' || t.id || ', container ' ||
                                                   t.container || ', ' || count(*) || ' fixes') ||
               '</description>' || E'\n' ||
               '<Style id="track"><LineStyle><color>ff1a1ad9</color><width>3</width></LineStyle></Style>' ||
               '<Style id="event"><IconStyle><color>ff009fe6</color></IconStyle></Style>' ||
               '<Style id="incident"><IconStyle><color>ff8e2d7b</color></IconStyle></Style>' || E'\n' ||
               '<Placemark><name>Track</name><styleUrl>#track</styleUrl>' ||
               coalesce('<TimeSpan><begin>' || corridor.iso(min(f.ts)) || '</begin><end>' ||
                        corridor.iso(max(f.ts)) || '</end></TimeSpan>', '') ||
               CASE WHEN count(*) >= 2 THEN
                   '<LineString><tessellate>1</tessellate><coordinates>' || E'\n' ||
                   string_agg(f.lon || ',' || f.lat, E'\n' ORDER BY f.ts) ||
                   E'\n' || '</coordinates></LineString>'
               WHEN count(*) = 1 THEN
                   '<Point><coordinates>' || min(f.lon) || ',' || min(f.lat) || '</coordinates></Point>'
               ELSE '' END || '</Placemark>' || E'\n' ||
               -- the same fixes with their times, for the viewers that play a track (gx:Track)
               CASE WHEN count(*) >= 2 THEN
                   '<Placemark><name>Track over time</name><styleUrl>#track</styleUrl><gx:Track>' || E'\n' ||
                   string_agg('<when>' || corridor.iso(f.ts) || '</when>', E'\n' ORDER BY f.ts) || E'\n' ||
                   string_agg('<gx:coord>' || f.lon || ' ' || f.lat || ' 0</gx:coord>', E'\n' ORDER BY f.ts) ||
                   E'\n' || '</gx:Track></Placemark>' || E'\n'
               ELSE '' END ||
               coalesce((SELECT string_agg(format(
                   '<Placemark><name>%s</name><description>%s</description><styleUrl>#%s</styleUrl>' ||
                   '<TimeStamp><when>%s</when></TimeStamp><Point><coordinates>%s,%s</coordinates>' ||
                   '</Point></Placemark>', corridor.xml_esc(m.what),
                   corridor.xml_esc(m.kind || ' ' || m.details::text), m.kind,
                   corridor.iso(m.ts), m.lon, m.lat), E'\n' ORDER BY m.ts) || E'\n'
                   FROM corridor.trip_marks(t) m WHERE m.lat IS NOT NULL AND m.lon IS NOT NULL), '') ||
               '</Document></kml>' || E'\n'
        FROM corridor.trip_fixes(t) f);
    ELSIF p_format = 'csv' THEN
        out := (SELECT 'time,lat,lon,speed_kmh,bearing,altitude,accuracy,battery,lock,alarm,late,received_at' ||
               E'\r\n' ||
               coalesce(string_agg(concat_ws(',', corridor.iso(f.ts), f.lat, f.lon,
                                             coalesce(f.speed_kmh::text, ''),
                                             coalesce(f.bearing::text, ''),
                                             coalesce(f.altitude::text, ''),
                                             coalesce(f.accuracy::text, ''),
                                             coalesce(f.battery::text, ''),
                                             corridor.csv_cell(f.lock), corridor.csv_cell(f.alarm),
                                             f.late, corridor.iso(f.received_at)) || E'\r\n', ''
                                   ORDER BY f.ts), '')
        FROM corridor.trip_fixes(t) f);
    ELSE
        -- pdf: drawn by the server, not here
        PERFORM corridor.fail(400, 'bad_format', 'format ' || p_format || ' is not built in SQL',
                              'format');
    END IF;
    RETURN out;
END $$;

-- What the PDF's map draws (web/pdf.c), in lon/lat: "bbox" [w, s, e, n] of the track and
-- the route; the track (simplified to about a thousandth of the extent: a drawing, not the
-- evidence, which the tables and the exports carry) with its fix count; the route, its
-- corridor polygon and checkpoints; origin and destination; the countries clipped around
-- the extent with a label point; the events and incidents with a place.
CREATE OR REPLACE FUNCTION corridor.trip_map(p_trip uuid) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t corridor.trips;
    r corridor.routes;
    track geometry;
    fixes bigint;
    ext box2d;
    clip geometry;
    tol float8;
BEGIN
    t := corridor.trip_for_export(p_trip, 'pdf');
    SELECT * INTO r FROM corridor.routes WHERE id = t.route_id;
    SELECT ST_MakeLine(ST_MakePoint(f.lon, f.lat) ORDER BY f.ts), count(*)
    INTO track, fixes FROM corridor.trip_fixes(t) f;
    ext := ST_Extent(g) FROM (VALUES (track), (r.geom)) v(g);
    IF ext IS NULL THEN
        ext := ST_MakeBox2D(ST_MakePoint(-1, -1), ST_MakePoint(1, 1));
    END IF;
    tol := greatest(ST_XMax(ext) - ST_XMin(ext), ST_YMax(ext) - ST_YMin(ext), 0.01);
    -- generous on every side: the page's map has its own aspect ratio
    clip := ST_Expand(ST_SetSRID(ext::geometry, 4326), tol * 0.8);
    tol := tol / 1000;
    RETURN json_build_object(
        'generated_at', corridor.iso(now()),
        'bbox', json_build_array(ST_XMin(ext), ST_YMin(ext), ST_XMax(ext), ST_YMax(ext)),
        'fixes', fixes,
        'track', CASE WHEN track IS NOT NULL THEN
                     ST_AsGeoJSON(ST_Simplify(track, tol, true), 6)::json END,
        'route', ST_AsGeoJSON(r.geom, 6)::json,
        'corridor_m', r.corridor_m,
        'corridor', ST_AsGeoJSON(ST_Simplify(ST_Buffer(r.geog, r.corridor_m)::geometry, tol / 4), 6)::json,
        'checkpoints', (SELECT coalesce(json_agg(json_build_object(
                            'seq', c.seq, 'name', g.name,
                            'lon', ST_X(ST_PointOnSurface(g.geom)), 'lat', ST_Y(ST_PointOnSurface(g.geom)))
                            ORDER BY c.seq), '[]')
                        FROM corridor.route_checkpoints c JOIN corridor.geofences g ON g.id = c.geofence_id
                        WHERE c.route_id = t.route_id),
        'places', (SELECT coalesce(json_agg(json_build_object(
                       'role', p.role, 'name', g.name,
                       'lon', ST_X(ST_PointOnSurface(g.geom)), 'lat', ST_Y(ST_PointOnSurface(g.geom)))), '[]')
                   FROM (VALUES ('origin', t.origin_id), ('destination', t.destination_id)) p(role, id)
                   JOIN corridor.geofences g ON g.id = p.id),
        'countries', (SELECT coalesce(json_agg(json_build_object(
                          'iso2', c.iso2, 'name', c.name,
                          'label', json_build_array(ST_X(c.label), ST_Y(c.label)),
                          'geometry', ST_AsGeoJSON(c.g, 5)::json)), '[]')
                      -- the label on the part inside the extent, which the page always shows
                      FROM (SELECT iso2, name, g,
                                   CASE WHEN NOT ST_IsEmpty(near) THEN ST_PointOnSurface(near) END AS label
                            FROM (SELECT iso2, name,
                                         ST_SimplifyPreserveTopology(ST_ClipByBox2D(geom, clip), tol) AS g,
                                         ST_ClipByBox2D(geom, ST_Expand(ST_SetSRID(ext::geometry, 4326), tol * 20)) AS near
                                  FROM corridor.countries WHERE geom && clip) x
                            WHERE NOT ST_IsEmpty(g)) c),
        'marks', (SELECT coalesce(json_agg(json_build_object(
                      'kind', m.kind, 'what', m.what, 'time', corridor.iso(m.ts),
                      'lon', m.lon, 'lat', m.lat) ORDER BY m.ts), '[]')
                  FROM corridor.trip_marks(t) m WHERE m.lat IS NOT NULL AND m.lon IS NOT NULL));
END $$;

-- The verification record of a trip's hash chain when this database has it
-- (corridor.trip_verification(uuid), docs/evidence.md), else NULL. Looked up when called,
-- so that this file does not depend on the evidence family being there.
CREATE OR REPLACE FUNCTION corridor.trip_verification_or_null(p_trip uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v jsonb;
BEGIN
    IF to_regprocedure('corridor.trip_verification(uuid)') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT to_jsonb(corridor.trip_verification($1))' INTO v USING p_trip;
    RETURN v;
EXCEPTION WHEN OTHERS THEN
    -- the report still goes out, saying that verification could not be done, and why
    RETURN jsonb_build_object('status', 'error', 'detail', SQLERRM);
END $$;
