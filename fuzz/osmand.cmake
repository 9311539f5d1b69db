# libFuzzer target over the OsmAnd request parser (ingest/osmand.c): query, form and JSON.
corridor_fuzz(osmand ${CMAKE_CURRENT_LIST_DIR}/osmand_fuzz.c corridor_ingest)
