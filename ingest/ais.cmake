# AIS NMEA codec (decoder, gpsdecode-compatible JSON writer, encoder). The TCP/UDP
# listener that defines HAVE_INGEST_AIS is added separately.
target_sources(corridor_ingest PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ais.c)
