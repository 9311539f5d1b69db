corridor_test(test_leader INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_leader.c LIBS corridor_harness)
