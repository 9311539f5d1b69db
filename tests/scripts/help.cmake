# Every script a user runs answers --help with its usage and starts nothing (a shell test,
# not a Check suite: what it tests is shell).
add_test(NAME test_scripts_help COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_help.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(test_scripts_help PROPERTIES LABELS unit TIMEOUT 180)
