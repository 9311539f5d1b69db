corridor_test(test_hostile INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hostile.c LIBS corridor_harness)
