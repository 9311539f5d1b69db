-- 056_sweep_due: the sweep reads only the trips that can fire.
--
-- corridor.sweep (005) joined every armed trip with its route, next checkpoint and latest
-- fix to find the few that are overdue, silent or stopped: 10,000 trips, 30,000 index
-- probes, 160-220 ms every 5 s on the benchmark (pg_stat_statements), a burst that sits in
-- the tail of the ping -> incident latency. It now first keeps, from trip_state alone, the
-- trips for which a condition can hold with the smallest limit of any route (and, for
-- signal loss, the last evaluated fix, never newer than the latest one): a superset of the
-- trips that fire, tested exactly as before. Same rows, same state changes. The smallest
-- limits are read from indexes; without hash or merge joins the few trips kept are
-- updated by their key, not by hashing or sorting the whole trip_state. Measured: 160-220 ms -> a few ms.
--
-- Its functions and triggers are in schema/rules/time.sql,
-- in their current form (docs/schema.md).

CREATE INDEX routes_reporting_limit ON corridor.routes (reporting_limit_minutes);
CREATE INDEX routes_stop_minutes ON corridor.routes (stop_minutes);
CREATE INDEX route_checkpoints_max_leg ON corridor.route_checkpoints (max_leg_minutes);
