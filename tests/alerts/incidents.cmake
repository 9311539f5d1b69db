corridor_test(test_incidents SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_incidents.c LIBS corridor_alerts)
