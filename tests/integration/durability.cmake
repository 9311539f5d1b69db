corridor_test(test_durability INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_durability.c LIBS corridor_harness)
