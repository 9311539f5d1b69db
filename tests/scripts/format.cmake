# Every C file as .clang-format says: a newcomer's change shows only what it changes.
add_test(NAME format COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/format.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(format PROPERTIES LABELS unit TIMEOUT 300)
