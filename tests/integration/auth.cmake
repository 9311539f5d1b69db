corridor_test(test_auth INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c LIBS corridor_harness corridor_web)
