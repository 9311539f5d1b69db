corridor_test(test_accounts INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_accounts.c LIBS corridor_harness)
