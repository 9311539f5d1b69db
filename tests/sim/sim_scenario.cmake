corridor_test(test_sim_scenario INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_scenario.c LIBS corridor_harness)
