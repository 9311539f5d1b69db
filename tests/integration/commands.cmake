corridor_test(test_commands INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_commands.c
  LIBS corridor_harness corridor_ingest PkgConfig::JSONC m)
