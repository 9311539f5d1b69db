# The AIS codec: unit tests and the comparison with gpsd's gpsdecode -j.
corridor_test(test_ais SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ais.c
  LIBS corridor_codec PkgConfig::JSONC)
