# JT/T 808 over TCP: the codec (jt808.c, pure, also used by corridor-decode, corridor-sim
# and the fuzzer) and the connection handler on the ingest workers (jt808_conn.c).
target_sources(corridor_codec PRIVATE ${CMAKE_CURRENT_LIST_DIR}/jt808.c)
target_sources(corridor_ingest PRIVATE ${CMAKE_CURRENT_LIST_DIR}/jt808_conn.c)
target_compile_definitions(corridor_ingest PUBLIC HAVE_INGEST_JT808)
