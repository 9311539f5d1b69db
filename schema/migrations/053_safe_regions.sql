-- 053_safe_regions: most fixes cannot change anything; those are stored, not re-evaluated.
--
-- A truck on its road spends most fixes deep inside its route corridor, in one country,
-- moving, its seal closed, inside the same fences as at its previous fix: the full
-- evaluation of such a fix (051_ingest_fast.sql: fence probe, corridor test, country probe,
-- the trip walk, the state written back) ends with every rule state exactly as it was.
-- After each full evaluation the batch now leaves the seal a SAFE REGION (the moving-object
-- monitoring technique of that name) on its latest row:
--   safe_fences   the fences the latest fix is in: the seal's fence_state after the
--                 evaluation (sorted ids), which a fix's grid probe (050_grid.sql) must
--                 match exactly;
--   safe_flat/flon/fr  a disc around the latest fix that no live fence's boundary crosses
--                 (fr: the planar distance to the nearest boundary, at most 0.005): fence
--                 membership is the same everywhere inside it, so a fix there needs no
--                 fence probe (a median fix on the benchmark's roads is 230 m from one);
--   safe_lat/lon/r (armed seals) a disc around the latest fix, r in planar degrees, every
--                 point of which lies in the same country (r at most the distance to every
--                 country part's boundary, cut lines included: smaller, still safe) and
--                 passes the corridor's sure-inside bound (r at most inner_deg minus the
--                 fix's planar distance to the route in its scaled frame, 004_trips.sql:
--                 scaling longitude by cos(mid latitude) <= 1 never lengthens a step);
--   safe_trip, safe_gen, safe_min_speed, safe_low_batt, safe_open, safe_tamper,
--   safe_lowbatt  what the region was made for: the trip, the generation of the reference
--                 data, the route's stop speed and battery limit, the seal's flags.
-- A region is only made when the trip state is plain: not deviating or outside the
-- corridor, no stop pending, the signal not lost.
-- A fix is QUIET when its seal has a region of the current generation, the fix is newer
-- than the seal's latest, it is inside exactly the fences of safe_fences (inside the fence
-- disc, or by the probe), and, for a seal
-- on an armed trip: it lies strictly inside the disc, it is under 0.0089 degrees (under
-- 1,000 m on the ellipsoid) from the seal's previous fix (so the impossible-movement rule
-- cannot fire), its speed is known and at least the stop speed, and its lock, tamper
-- alarm and battery map to the region's flags. Then no fence is entered or left, no
-- checkpoint passed, the destination not reached, the authorised-place fact, country and
-- corridor test unchanged: every rule of docs/rules.md leaves its state as it was. A quiet
-- fix is stored (positions, latest) and published with no rule work; its position message
-- is written by the ingest worker from the batch it holds. From a seal's first fix in the
-- batch that is not quiet on, its fixes are evaluated in full, after the quiet ones, by
-- corridor.ingest_evaluate (the 051 function, renamed), and the seal gets a new region
-- from the state that leaves behind (the disc is kept while the seal is still inside it:
-- it is the dear part).
-- Time rules are unaffected: the sweep reads latest.ts for signal loss, and stops, legs and
-- transit deadlines hang off state that quiet fixes never change.
-- trip_state.last_* is now the last EVALUATED fix; before an evaluation it is moved up to
-- latest, so the walk's previous fix (implied speed) is what it always was.
-- Validity: geofences, routes, checkpoints and countries changing bump corridor.safe_gen in
-- the same transaction (statement triggers), so a region computed from an older snapshot
-- is never used once the change is committed. Arming, disarming and a lost signal void the
-- seal's region (row triggers on trip_state).
--   SET corridor.safe_regions = off   evaluates every fix in full (tests compare the two).
--
-- Its functions and triggers are in schema/rules/regions.sql and ingest.sql,
-- in their current form (docs/schema.md).

CREATE TABLE corridor.safe_gen (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    gen bigint NOT NULL DEFAULT 1
);
INSERT INTO corridor.safe_gen DEFAULT VALUES;

-- the region, on the seal's latest row (NULL safe_r: none)
ALTER TABLE corridor.latest
    ADD COLUMN safe_lat       float8,
    ADD COLUMN safe_lon       float8,
    ADD COLUMN safe_r         float8,
    ADD COLUMN safe_gen       bigint,
    ADD COLUMN safe_trip      uuid,
    ADD COLUMN safe_min_speed real,
    ADD COLUMN safe_low_batt  real,
    ADD COLUMN safe_fences    bigint[],
    ADD COLUMN safe_open      boolean,
    ADD COLUMN safe_tamper    boolean,
    ADD COLUMN safe_lowbatt   boolean,
    ADD COLUMN safe_flat      float8,
    ADD COLUMN safe_flon      float8,
    ADD COLUMN safe_fr        float8;
-- latest is rewritten for every fix: leave room on each page for HOT updates
ALTER TABLE corridor.latest SET (fillfactor = 50);
