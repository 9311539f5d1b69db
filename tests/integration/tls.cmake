corridor_test(test_tls INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tls.c LIBS corridor_harness)
