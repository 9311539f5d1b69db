corridor_test(test_cookie SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cookie.c LIBS corridor_web_pure)
