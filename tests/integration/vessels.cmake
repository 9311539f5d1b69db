# AIS feeds, vessel storage, watchlist and vessel rules against PostGIS and the real
# corridord; links corridor_ingest for the AIS encoder (ingest/ais.h).
corridor_test(test_vessels INTEGRATION
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vessels.c
  LIBS corridor_harness corridor_ingest)
