# The schema's layout (schema/migrations, schema/rules): the upgrade from a database of the
# layout before it, with data, and the runner's refusals.
add_test(NAME schema_upgrade COMMAND ${CMAKE_CURRENT_LIST_DIR}/upgrade.sh)
set_tests_properties(schema_upgrade PROPERTIES LABELS integration
                     ENVIRONMENT "CORRIDOR_BUILD=${CMAKE_BINARY_DIR}")
# Each rule family's pgTAP suite (schema/rules/tests/FAMILY.sql), one ctest each so a family
# runs alone: ctest -R schema_rules_fences.
file(GLOB SCHEMA_TAP_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/schema/rules/tests/*.sql)
foreach(f IN LISTS SCHEMA_TAP_FILES)
  get_filename_component(family ${f} NAME_WE)
  add_test(NAME schema_rules_${family} COMMAND ${CMAKE_CURRENT_LIST_DIR}/pgtap.sh ${family})
  set_tests_properties(schema_rules_${family} PROPERTIES LABELS integration
                       ENVIRONMENT "CORRIDOR_BUILD=${CMAKE_BINARY_DIR}")
endforeach()
