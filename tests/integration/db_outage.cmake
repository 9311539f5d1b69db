corridor_test(test_db_outage INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_db_outage.c
  LIBS corridor_harness corridor_ingest m)
target_compile_definitions(test_db_outage PRIVATE CORRIDOR_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
