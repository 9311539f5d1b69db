corridor_test(test_geo_shape SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_geo_shape.c LIBS corridor_geofence)
