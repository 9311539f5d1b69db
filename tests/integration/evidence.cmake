# Tamper-evident journeys end to end (docs/evidence.md): the real corridord with a signing
# key, JT/T 808 fixes over a socket, corridor-verify and corridord verify on doctored rows.
corridor_test(test_evidence INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evidence.c
  LIBS corridor_harness corridor_ingest PkgConfig::JSONC m)
