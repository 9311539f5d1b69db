corridor_test(test_osmand SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_osmand.c LIBS corridor_ingest m)
