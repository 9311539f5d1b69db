# libFuzzer target over the Cookie request header (web/cookie.c).
corridor_fuzz(cookie ${CMAKE_CURRENT_LIST_DIR}/cookie_fuzz.c corridor_web_pure)
