# The replay of a journey (web/rest_replay.c, schema/rules/replay.sql) against the real
# corridord, with fixes sent over its OsmAnd socket.
corridor_test(test_replay INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_replay.c
             LIBS corridor_harness PkgConfig::JSONC)
