# A trip's track as GeoJSON, GPX, KML, CSV and the PDF evidence report (web/rest_export.c,
# web/pdf.c) against the real corridord; cairo reads page 1's picture back.
pkg_check_modules(TEST_CAIRO REQUIRED IMPORTED_TARGET cairo)
corridor_test(test_exports INTEGRATION SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_exports.c
             LIBS corridor_harness PkgConfig::JSONC PkgConfig::TEST_CAIRO)
