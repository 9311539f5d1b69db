# Vessels, the watchlist and /api/feeds through REST (web/rest_vessels.c) against the real
# corridord, fed by corridor-sim's AIS mode (sim/ais_feed.c); checked with REST and SQL.

corridor_test(test_vessels_rest INTEGRATION
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vessels_rest.c
  LIBS corridor_harness PkgConfig::JSONC)
# the test runs corridor-sim ais against the server
add_dependencies(test_vessels_rest corridor-sim corridord)
