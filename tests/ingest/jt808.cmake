# The JT/T 808 codec: hand-built vectors, bad input, and corridor-decode jt808 --hex.
corridor_test(test_jt808 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jt808.c LIBS corridor_codec)
if(TARGET corridor-decode)
  add_dependencies(test_jt808 corridor-decode)
endif()
