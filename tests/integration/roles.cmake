corridor_test(test_roles INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_roles.c LIBS corridor_harness)
