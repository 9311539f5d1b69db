/*
 * main.c: corridor-decode, a command-line window on Corridor's own protocol decoders.
 * Dispatches to the protocol's subcommand. Single-threaded.
 */
#include "decode.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: corridor-decode PROTOCOL [options] < input\n"
                 "  ais            NMEA 0183 AIVDM/AIVDO lines -> one JSON object per AIS message\n"
                 "                 (field names and scaling as gpsd's gpsdecode -j)\n"
                 "  jt808 [--hex]  JT/T 808 byte stream, or one hex frame per line with --hex,\n"
                 "                 -> one JSON object per frame\n"
                 "  PROTOCOL --help  the protocol's own options\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
#ifdef HAVE_DECODE_AIS
    if (strcmp(argv[1], "ais") == 0)
        return decode_ais_main(argc - 1, argv + 1);
#endif
#ifdef HAVE_DECODE_JT808
    if (strcmp(argv[1], "jt808") == 0)
        return decode_jt808_main(argc - 1, argv + 1);
#endif
    fprintf(stderr, "corridor-decode: unknown protocol \"%s\" (ais or jt808)\n", argv[1]);
    return 2;
}
