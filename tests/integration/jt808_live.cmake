corridor_test(test_jt808_live INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jt808_live.c
  LIBS corridor_harness corridor_ingest m)
