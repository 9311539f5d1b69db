corridor_test(test_dispatch INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dispatch.c LIBS corridor_harness)
