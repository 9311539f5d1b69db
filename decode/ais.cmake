# corridor-decode ais: NMEA lines on stdin -> gpsdecode -j compatible JSON on stdout.
target_sources(corridor-decode PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ais_cmd.c)
target_compile_definitions(corridor-decode PRIVATE HAVE_DECODE_AIS)
