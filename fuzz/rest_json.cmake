# libFuzzer target over the JSON request bodies of the REST API (web/rest*.c handlers).
corridor_fuzz(rest_json ${CMAKE_CURRENT_LIST_DIR}/rest_json_fuzz.c corridor_web)
