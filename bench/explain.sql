-- bench/explain.sql: where a batch's time goes. One steady-state micro-batch (1,000 seals
-- on armed trips, one fix each, one second and ~15 m after their latest fix) through
-- corridor.ingest_batch under auto_explain (nested statements, analyze), rolled back.
-- A seal without a latest fix starts at a point of bench.points (run the warm-up first:
-- psql -v warm=1 does one committed batch of 1,000 first fixes per call).
--   psql -d bench -f bench/explain.sql            (explain one batch)
\set ON_ERROR_STOP on
\if :{?warm}
\else
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_timing = on;
SET client_min_messages = log;
SET auto_explain.log_level = log;
BEGIN;
\endif
WITH b AS (
    SELECT s.seal_id AS seal,
           extract(epoch FROM coalesce(l.ts + interval '1 second', now() - interval '1 hour')) AS ts,
           coalesce(l.lat + 0.0001, p.lat) AS lat, coalesce(l.lon + 0.0001, p.lon) AS lon
    FROM (SELECT seal_id FROM corridor.trip_state
          WHERE (:{?warm} OR true) ORDER BY random() LIMIT 1000) s
    JOIN bench.points p ON p.k = substr(s.seal_id, 9)::int
    LEFT JOIN corridor.latest l ON l.seal_id = s.seal_id
)
SELECT kind, count(*) FROM corridor.ingest_batch(
    (SELECT array_agg(seal) FROM b), (SELECT array_agg(ts) FROM b),
    (SELECT array_agg(lat) FROM b), (SELECT array_agg(lon) FROM b),
    (SELECT array_agg(60::real) FROM b), (SELECT array_agg(90::real) FROM b),
    (SELECT array_agg(NULL::real) FROM b), (SELECT array_agg(5::real) FROM b),
    (SELECT array_agg(80::real) FROM b), (SELECT array_agg('locked'::text) FROM b),
    (SELECT array_agg(NULL::text) FROM b)) GROUP BY 1;
\if :{?warm}
\else
ROLLBACK;
\endif
