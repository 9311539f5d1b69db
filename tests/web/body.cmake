corridor_test(test_body SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_body.c LIBS corridor_web corridor_web_pure)
