# Trips through REST (web/rest_trips.c) against the real corridord, and corridor-sim's
# trips mode (sim/trips.c) checked with SQL.
#
# Until web/CMakeLists.txt lists rest_trips.c among corridor_web's sources and
# sim/CMakeLists.txt lists trips.c among corridor-sim's, they are added here (a source
# listed twice in one target is built once).
target_sources(corridor_web PRIVATE ${CMAKE_SOURCE_DIR}/web/rest_trips.c)
target_sources(corridor-sim PRIVATE ${CMAKE_SOURCE_DIR}/sim/trips.c)
corridor_test(test_trips_rest INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_trips_rest.c
             LIBS corridor_harness PkgConfig::JSONC)
