# corridor-decode jt808: the JT/T 808 codec of ingest/ behind a JSON printer.
target_sources(corridor-decode PRIVATE ${CMAKE_CURRENT_LIST_DIR}/jt808_cmd.c)
target_compile_definitions(corridor-decode PRIVATE HAVE_DECODE_JT808)
target_link_libraries(corridor-decode PRIVATE PkgConfig::JSONC)
