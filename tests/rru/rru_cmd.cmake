corridor_test(test_rru_cmd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rru_cmd.c LIBS corridor_rru_pure)
