corridor_test(test_rest INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rest.c LIBS corridor_harness)
