# The schema's layout (schema/migrations, schema/rules): the upgrade from a database of the
# layout before it, with data, and the runner's refusals.
add_test(NAME schema_upgrade COMMAND ${CMAKE_CURRENT_LIST_DIR}/upgrade.sh)
set_tests_properties(schema_upgrade PROPERTIES LABELS integration
                     ENVIRONMENT "CORRIDOR_BUILD=${CMAKE_BINARY_DIR}")
