corridor_test(test_ws_actions INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ws_actions.c LIBS corridor_harness)
