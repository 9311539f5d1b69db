# Trip rules and the trip API in PostGIS (schema/rules/trips.sql, ingest.sql, time.sql), called
# directly through libpq; the schema is applied with the migration runner corridord uses.
corridor_test(test_trips INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_trips.c
              LIBS corridor_harness corridor_schema corridor_geofence)
