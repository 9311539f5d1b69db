# AIS feeds, vessel storage, watchlist and vessel rules against PostGIS and the real
# corridord. The test includes ingest/ais_conn.c to drive the handler on a loop of its own,
# so it links what that file links, and corridor_ingest for the AIS codec.
corridor_test(test_vessels INTEGRATION
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vessels.c
  LIBS corridor_harness corridor_ingest PkgConfig::LIBEVENT PostgreSQL::PostgreSQL nng::nng
       Threads::Threads)
