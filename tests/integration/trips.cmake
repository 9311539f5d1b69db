# Trip rules and the trip API in PostGIS (schema/004_trips.sql, 005_trip_rules.sql), called
# directly through libpq; the schema is applied with the migration runner corridord uses.
corridor_test(test_trips INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_trips.c
              LIBS corridor_harness corridor_schema corridor_geofence)
