/*
 * decode.h: the subcommands of corridor-decode. Each reads stdin, writes one JSON object
 * per message on stdout and returns the process exit code. Single-threaded.
 */
#ifndef CORRIDOR_DECODE_H
#define CORRIDOR_DECODE_H

int decode_ais_main(int argc, char **argv);   /* decode/ais_cmd.c */
int decode_jt808_main(int argc, char **argv); /* decode/jt808_cmd.c */

#endif
