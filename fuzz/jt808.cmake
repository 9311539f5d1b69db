# libFuzzer target over the JT/T 808 codec (ingest/jt808.c): splitter, header, bodies.
corridor_fuzz(jt808 ${CMAKE_CURRENT_LIST_DIR}/jt808_fuzz.c corridor_codec)
