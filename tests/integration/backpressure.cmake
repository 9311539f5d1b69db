corridor_test(test_backpressure INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_backpressure.c LIBS corridor_harness)
