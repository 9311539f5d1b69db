# libFuzzer target over the PDF evidence report (web/pdf.c): text and shapes of any JSON.
pkg_check_modules(FUZZ_CAIRO REQUIRED IMPORTED_TARGET cairo cairo-pdf)
corridor_fuzz(pdf ${CMAKE_CURRENT_LIST_DIR}/pdf_fuzz.c corridor_core PkgConfig::JSONC PkgConfig::FUZZ_CAIRO m)
target_sources(fuzz_pdf PRIVATE ${CMAKE_SOURCE_DIR}/web/pdf.c)
target_include_directories(fuzz_pdf PRIVATE ${CMAKE_SOURCE_DIR}/web)
