# Trips through REST (web/rest_trips.c) against the real corridord, and corridor-sim's
# trips mode (sim/trips.c) checked with SQL.
corridor_test(test_trips_rest INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_trips_rest.c
             LIBS corridor_harness PkgConfig::JSONC)
