/*
 * evidence.h: the centre's side of tamper-evident journeys (evidence.c): the `key` and
 * `verify` subcommands and the signer stage. Runs on main(); the signer on its own thread.
 */
#ifndef CORRIDOR_SRV_EVIDENCE_H
#define CORRIDOR_SRV_EVIDENCE_H

#include "core.h"

#include <stddef.h>

/* `corridord key ARGS...` and `corridord verify ARGS...` (argv: the words after the
 * subcommand). Return the process exit status (see their --help). */
int srv_key_main(int argc, char **argv);
int srv_verify_main(int argc, char **argv);

/* The signer: signs the chain heads every cfg->sign_interval_s seconds and when a trip is
 * disarmed, with the key of cfg->signing_key. NULL with err set when the key cannot be
 * read. Stopped (and freed) by srv_signer_stop, which accepts NULL. */
typedef struct srv_signer srv_signer;
srv_signer *srv_signer_start(const core_config *cfg, char *err, size_t n);
void srv_signer_stop(srv_signer *s);

#endif
