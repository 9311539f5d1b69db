corridor_test(test_sim_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_http.c LIBS corridor_simlib m)
target_compile_definitions(test_sim_http PRIVATE SIM_DATA="${CMAKE_SOURCE_DIR}/data/northern_corridor.csv")
