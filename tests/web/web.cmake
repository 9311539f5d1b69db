corridor_test(test_web SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_web.c LIBS corridor_web corridor_web_pure)
