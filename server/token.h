/*
 * token.h: the `corridord token` subcommand (token.c). Runs on main().
 */
#ifndef CORRIDOR_SRV_TOKEN_H
#define CORRIDOR_SRV_TOKEN_H

/* Runs `corridord token ARGS...` with argv the words after "token". Returns the process
 * exit status: 0, 1 (database or system failure), 2 (bad arguments, one-line reason). */
int srv_token_main(int argc, char **argv);

#endif
