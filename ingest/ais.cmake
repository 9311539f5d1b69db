# AIS: the NMEA codec (ais.c: decoder, gpsdecode-compatible JSON writer, encoder; pure, also
# used by corridor-decode, corridor-sim, the tests and the fuzzer) and the handler on the
# ingest workers (ais_conn.c: TCP and UDP listeners, --ais-feed clients, vessel storage).
target_sources(corridor_codec PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ais.c)
target_sources(corridor_ingest PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ais_conn.c)
target_compile_definitions(corridor_ingest PUBLIC HAVE_INGEST_AIS)
