corridor_test(test_ingest INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ingest.c LIBS corridor_harness)
