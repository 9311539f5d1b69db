# libFuzzer target over the AIS line decoder and JSON writer (ingest/ais.c).
corridor_fuzz(ais ${CMAKE_CURRENT_LIST_DIR}/ais_fuzz.c corridor_codec)
