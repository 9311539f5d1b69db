-- pgTAP: rules/exports.sql, a trip's track as GeoJSON, GPX, KML and CSV, and the PDF's map data.
BEGIN;
SELECT plan(30);
\ir setup/corridor.sql

SELECT pg_temp.seal('TAP-X');
SELECT pg_temp.arm('TAP-X') AS trip \gset
-- along the route: five fixes, the third at the checkpoint; a fix before arming is not the trip's
SELECT count(*) FROM pg_temp.fix('TAP-X', 60, -1.0, 36.1);
SELECT count(*) FROM pg_temp.fix('TAP-X', 120, -1.0, 36.2);
SELECT count(*) FROM pg_temp.fix('TAP-X', 180, -1.0, 36.3, 55::real, 90::real, NULL, 'tamper, "forced"');
SELECT count(*) FROM pg_temp.fix('TAP-X', 240, -1.0, 36.4);
SELECT count(*) FROM pg_temp.fix('TAP-X', 300, -1.0, 36.5);
UPDATE corridor.trips SET declaration = '2026/MSA <1> & "x"' WHERE id = :'trip';

-- refusals
SELECT throws_ok($$ SELECT corridor.trip_track_export('00000000-0000-4000-8000-000000000000', 'gpx') $$,
                 'CT404', NULL, 'an unknown trip');
SELECT throws_ok(format($$ SELECT corridor.trip_track_export(%L, 'shp') $$, :'trip'),
                 'CT400', 'bad_format: format must be one of geojson, gpx, kml, csv, pdf, not "shp"',
                 'an unknown format names the known ones');
SELECT throws_ok(format($$ SELECT corridor.trip_track_export(%L, NULL) $$, :'trip'),
                 'CT400', NULL, 'no format');

-- the file name keeps the declaration's safe characters
SELECT is(corridor.trip_export_name(:'trip', 'gpx'), 'trip-2026_MSA_1_x.gpx', 'file name');
SELECT is(corridor.xml_esc(E'a<b>&"c''\x01'), 'a&lt;b&gt;&amp;&quot;c&apos;', 'XML escaping');
SELECT is(corridor.csv_cell('a,"b"'), '"a,""b"""', 'CSV quoting');

-- GeoJSON: the track with its times, then the events and incidents as points
SELECT corridor.trip_track_export(:'trip', 'geojson')::jsonb AS gj \gset
SELECT is(:'gj'::jsonb ->> 'type', 'FeatureCollection', 'a FeatureCollection');
SELECT is(:'gj'::jsonb #>> '{features,0,geometry,type}', 'LineString', 'the track first');
SELECT is(jsonb_array_length(:'gj'::jsonb #> '{features,0,geometry,coordinates}'), 5, 'five fixes');
SELECT is(jsonb_array_length(:'gj'::jsonb #> '{features,0,properties,coordTimes}'), 5, 'a time each');
SELECT is(:'gj'::jsonb #>> '{features,0,geometry,coordinates,2}', '[36.3, -1]', 'lon, lat order');
SELECT is(:'gj'::jsonb #>> '{features,0,properties,declaration}', '2026/MSA <1> & "x"', 'declaration');
SELECT ok((SELECT bool_and(f #>> '{geometry,type}' = 'Point' OR f -> 'geometry' = 'null')
           FROM jsonb_array_elements(:'gj'::jsonb -> 'features') WITH ORDINALITY x(f, i) WHERE i > 1),
          'marks are points');
SELECT ok((SELECT count(*) FROM jsonb_array_elements(:'gj'::jsonb -> 'features') f
           WHERE f #>> '{properties,event}' = 'trip_armed') = 1, 'the arming event is a mark');

-- GPX: one trkpt per fix, well-formed XML with the declaration escaped
SELECT corridor.trip_track_export(:'trip', 'gpx') AS gpx \gset
SELECT ok(xml_is_well_formed_document(:'gpx'), 'GPX is well-formed');
SELECT is((SELECT count(*)::int FROM unnest(xpath('//g:trkpt', :'gpx'::xml,
           ARRAY[ARRAY['g', 'http://www.topografix.com/GPX/1/1']]))), 5, 'five trkpt');
SELECT is((xpath('//g:trkpt[3]/g:extensions/c:speed_kmh/text()', :'gpx'::xml,
           ARRAY[ARRAY['g', 'http://www.topografix.com/GPX/1/1'], ARRAY['c', 'urn:corridor:gpx:1']]))[1]::text,
          '55', 'speed in the extension');
SELECT ok(:'gpx' LIKE '%2026/MSA &lt;1&gt; &amp; &quot;x&quot;%', 'declaration escaped');

-- KML: one coordinate pair per fix in the track's LineString
SELECT corridor.trip_track_export(:'trip', 'kml') AS kml \gset
SELECT ok(xml_is_well_formed_document(:'kml'), 'KML is well-formed');
SELECT is(array_length(regexp_split_to_array(btrim((xpath('//k:LineString/k:coordinates/text()', :'kml'::xml,
           ARRAY[ARRAY['k', 'http://www.opengis.net/kml/2.2']]))[1]::text, E' \n'), '\s+'), 1), 5,
          'five coordinates');
SELECT is((SELECT count(*)::int FROM unnest(xpath('//gx:Track/gx:coord', :'kml'::xml,
           ARRAY[ARRAY['gx', 'http://www.google.com/kml/ext/2.2']]))), 5, 'a gx:Track of five, with times');

-- CSV: a header and a row per fix, the alarm with its comma and quotes quoted
SELECT corridor.trip_track_export(:'trip', 'csv') AS csv \gset
SELECT is(array_length(regexp_split_to_array(rtrim(:'csv', E'\r\n'), E'\r\n'), 1), 6, 'header and five rows');
SELECT ok(:'csv' LIKE '%,"tamper, ""forced""",%', 'alarm quoted');

-- the map of the PDF: the extent, the track and the countries around it
SELECT corridor.trip_map(:'trip') AS map \gset
SELECT is((:'map'::json ->> 'fixes')::int, 5, 'map: fix count');
SELECT ok((:'map'::json #>> '{bbox,0}')::float8 <= 36.0 AND (:'map'::json #>> '{bbox,2}')::float8 >= 37.0,
          'map: the extent holds the route');

-- a trip without a fix yet: every format still well-formed, with nothing in it
SELECT pg_temp.seal('TAP-Y');
SELECT pg_temp.arm('TAP-Y') AS empty \gset
SELECT is(corridor.trip_track_export(:'empty', 'geojson')::jsonb #> '{features,0,geometry}', 'null'::jsonb,
          'no fix: no geometry');
SELECT ok(xml_is_well_formed_document(corridor.trip_track_export(:'empty', 'gpx')), 'no fix: GPX well-formed');
SELECT ok(xml_is_well_formed_document(corridor.trip_track_export(:'empty', 'kml')), 'no fix: KML well-formed');
SELECT is(corridor.trip_track_export(:'empty', 'csv'),
          E'time,lat,lon,speed_kmh,bearing,altitude,accuracy,battery,lock,alarm,late,received_at\r\n',
          'no fix: the CSV header alone');
SELECT ok((corridor.trip_map(:'empty')::json ->> 'track') IS NULL
          AND json_array_length(corridor.trip_map(:'empty')::json -> 'countries') > 0,
          'no fix: the map has no track and still its countries');

SELECT * FROM finish();
ROLLBACK;
